//! Colours, WCAG 2 contrast and the default palette.

/// An sRGB colour with 8-bit components.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rgb(pub u8, pub u8, pub u8);

impl Rgb {
    pub const WHITE: Rgb = Rgb(0xFF, 0xFF, 0xFF);
    pub const BLACK: Rgb = Rgb(0, 0, 0);

    /// Builds a colour from a `0xRRGGBB` value.
    pub const fn hex(value: u32) -> Rgb {
        Rgb((value >> 16) as u8, (value >> 8) as u8, value as u8)
    }

    /// `#rrggbb`, lower case.
    pub fn to_hex(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }

    /// Components scaled to `0.0..=1.0`, as PDF colour operators take them.
    pub fn to_unit(self) -> (f32, f32, f32) {
        (f32::from(self.0) / 255.0, f32::from(self.1) / 255.0, f32::from(self.2) / 255.0)
    }

    /// Relative luminance as defined by WCAG 2 (sRGB linearised, weighted 0.2126 / 0.7152 / 0.0722).
    pub fn relative_luminance(self) -> f64 {
        fn linear(c: u8) -> f64 {
            let c = f64::from(c) / 255.0;
            if c <= 0.04045 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        }
        0.2126 * linear(self.0) + 0.7152 * linear(self.1) + 0.0722 * linear(self.2)
    }

    /// Straight interpolation in sRGB: `t = 0` gives `self`, `t = 1` gives `other`.
    pub fn mix(self, other: Rgb, t: f64) -> Rgb {
        let t = if t.is_finite() { t.clamp(0.0, 1.0) } else { 0.0 };
        let lerp = |a: u8, b: u8| (f64::from(a) + (f64::from(b) - f64::from(a)) * t).round() as u8;
        Rgb(lerp(self.0, other.0), lerp(self.1, other.1), lerp(self.2, other.2))
    }
}

/// WCAG 2 contrast ratio between two colours, from 1 (none) to 21 (black on white).
pub fn contrast_ratio(a: Rgb, b: Rgb) -> f64 {
    let (la, lb) = (a.relative_luminance(), b.relative_luminance());
    let (hi, lo) = if la >= lb { (la, lb) } else { (lb, la) };
    (hi + 0.05) / (lo + 0.05)
}

/// Black or white, whichever contrasts more with `background`. The worse of the two choices over all
/// backgrounds is about 4.58:1, so text drawn this way always meets WCAG AA for normal text.
pub fn text_on(background: Rgb) -> Rgb {
    if contrast_ratio(Rgb::BLACK, background) >= contrast_ratio(Rgb::WHITE, background) {
        Rgb::BLACK
    } else {
        Rgb::WHITE
    }
}

/// Colours a chart is drawn with.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Palette {
    /// Series colours, used in turn (a series may name its own colour instead).
    pub series: Vec<Rgb>,
    /// Title, value labels.
    pub text: Rgb,
    /// Subtitle, tick labels, axis titles, legend.
    pub muted_text: Rgb,
    /// Axis lines and the zero line.
    pub axis: Rgb,
    /// Grid lines.
    pub grid: Rgb,
    /// Filled behind the whole chart; `None` leaves it transparent.
    pub background: Option<Rgb>,
    /// Heat-map colour of the lowest value.
    pub heat_low: Rgb,
    /// Heat-map colour of the highest value.
    pub heat_high: Rgb,
}

impl Default for Palette {
    /// Text colours reach at least 4.5:1 against white (WCAG AA); every series colour reaches at least
    /// 3:1 (WCAG 2.1 non-text contrast), and the hues stay apart for the common colour-vision deficiencies.
    fn default() -> Self {
        Palette {
            series: vec![
                Rgb::hex(0x1F4E8C), // blue
                Rgb::hex(0xC65102), // orange
                Rgb::hex(0x00796B), // teal
                Rgb::hex(0x8E3B8F), // purple
                Rgb::hex(0xB0263A), // crimson
                Rgb::hex(0x5F6B7A), // slate
                Rgb::hex(0x2E7D32), // green
                Rgb::hex(0x8A6100), // ochre
            ],
            text: Rgb::hex(0x1C2230),
            muted_text: Rgb::hex(0x545B68),
            axis: Rgb::hex(0x6E7582),
            grid: Rgb::hex(0xE2E5EA),
            background: Some(Rgb::WHITE),
            heat_low: Rgb::hex(0xEEF3FA),
            heat_high: Rgb::hex(0x123A6B),
        }
    }
}

impl Palette {
    /// Colour of series number `index` when the series names none.
    pub fn series_colour(&self, index: usize) -> Rgb {
        if self.series.is_empty() {
            Rgb::hex(0x1F4E8C)
        } else {
            self.series[index % self.series.len()]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contrast_matches_published_reference_values() {
        // WCAG: black on white is the maximum, 21:1.
        assert!((contrast_ratio(Rgb::BLACK, Rgb::WHITE) - 21.0).abs() < 1e-9);
        // #767676 is the well-known lightest grey that passes AA on white, at 4.54:1.
        let grey = contrast_ratio(Rgb::hex(0x767676), Rgb::WHITE);
        assert!((grey - 4.54).abs() < 0.01, "{grey}");
        // #777777 just fails (4.48:1).
        let lighter = contrast_ratio(Rgb::hex(0x777777), Rgb::WHITE);
        assert!((lighter - 4.48).abs() < 0.01, "{lighter}");
        assert_eq!(contrast_ratio(Rgb::hex(0x336699), Rgb::hex(0x336699)), 1.0);
    }

    #[test]
    fn default_palette_meets_wcag_against_white() {
        let p = Palette::default();
        for (name, colour) in [("text", p.text), ("muted_text", p.muted_text)] {
            let ratio = contrast_ratio(colour, Rgb::WHITE);
            assert!(ratio >= 4.5, "{name} {} only {ratio:.2}:1", colour.to_hex());
        }
        for colour in &p.series {
            let ratio = contrast_ratio(*colour, Rgb::WHITE);
            assert!(ratio >= 3.0, "series {} only {ratio:.2}:1", colour.to_hex());
        }
        assert!(contrast_ratio(p.axis, Rgb::WHITE) >= 3.0);
        let mut seen = p.series.clone();
        seen.dedup();
        assert_eq!(seen.len(), p.series.len());
    }

    #[test]
    fn text_on_any_background_reaches_aa() {
        let p = Palette::default();
        let mut worst = f64::MAX;
        for step in 0..=100 {
            let fill = p.heat_low.mix(p.heat_high, f64::from(step) / 100.0);
            worst = worst.min(contrast_ratio(text_on(fill), fill));
        }
        for grey in 0..=255u8 {
            let fill = Rgb(grey, grey, grey);
            worst = worst.min(contrast_ratio(text_on(fill), fill));
        }
        assert!(worst >= 4.5, "worst {worst}");
    }

    #[test]
    fn mix_and_hex() {
        assert_eq!(Rgb::hex(0x1F4E8C), Rgb(0x1F, 0x4E, 0x8C));
        assert_eq!(Rgb(0x1F, 0x4E, 0x8C).to_hex(), "#1f4e8c");
        assert_eq!(Rgb::BLACK.mix(Rgb::WHITE, 0.5), Rgb(128, 128, 128));
        assert_eq!(Rgb::BLACK.mix(Rgb::WHITE, f64::NAN), Rgb::BLACK);
        assert_eq!(Rgb::BLACK.mix(Rgb::WHITE, 7.0), Rgb::WHITE);
    }
}
