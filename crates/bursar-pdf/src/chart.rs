//! Charts drawn from the same scene as their SVG: the geometry comes from `bursar_charts::layout`, scaled
//! to the page; only text is measured again, with the embedded font, to place centred and right-aligned
//! labels exactly.

use bursar_charts::{Anchor, Item, Scene};

use crate::canvas::{Canvas, Rgb, Style};
use crate::fonts::Weight;

fn rgb(colour: bursar_charts::Rgb) -> Rgb {
    let (r, g, b) = colour.to_unit();
    Rgb(r, g, b)
}

/// Draws `scene` with its top-left corner at (`x`, `y`), one scene unit being `scale` points.
pub(crate) fn draw(canvas: &mut Canvas, scene: &Scene, x: f32, y: f32, scale: f32) {
    let px = |v: f64| x + v as f32 * scale;
    let py = |v: f64| y + v as f32 * scale;
    for item in &scene.items {
        match item {
            Item::Rect { x: rx, y: ry, w, h, fill, .. } => {
                canvas.fill_rect(px(*rx), py(*ry), *w as f32 * scale, *h as f32 * scale, rgb(*fill));
            }
            Item::Polyline { points, stroke, width, dash, .. } => {
                let points: Vec<(f32, f32)> = points.iter().map(|(a, b)| (px(*a), py(*b))).collect();
                let dash: Vec<f32> = dash.iter().map(|d| *d as f32 * scale).collect();
                canvas.polyline(&points, *width as f32 * scale, rgb(*stroke), &dash);
            }
            Item::Circle { cx, cy, r, fill, .. } => {
                let outline = Some((Rgb(1.0, 1.0, 1.0), 1.5 * scale));
                canvas.circle(px(*cx), py(*cy), *r as f32 * scale, rgb(*fill), outline);
            }
            Item::Text { x: tx, y: ty, text, size, bold, fill, anchor, angle, .. } => {
                let weight = if *bold { Weight::Bold } else { Weight::Regular };
                let style = Style::new(weight, *size as f32 * scale, rgb(*fill));
                let width = canvas.width(style, text);
                let offset = match anchor {
                    Anchor::Start => 0.0,
                    Anchor::Middle => -width / 2.0,
                    Anchor::End => -width,
                };
                if *angle == 0.0 {
                    canvas.text(px(*tx) + offset, py(*ty), style, text);
                } else {
                    // The scene turns clockwise on screen for positive angles; PDF turns counter-clockwise.
                    canvas.text_turned(px(*tx), py(*ty), style, text, -*angle as f32, offset);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fonts::Fonts;

    /// The chart layout measures text without the font; its estimate must agree with the embedded face so
    /// that labels placed in the SVG geometry neither overlap nor leave the chart in the PDF.
    #[test]
    fn chart_text_estimate_matches_the_embedded_font() {
        let canvas = Canvas::new(Fonts::new().unwrap());
        for (bold, weight) in [(false, Weight::Regular), (true, Weight::Bold)] {
            let style = Style::new(weight, 11.0, Rgb(0.0, 0.0, 0.0));
            for text in ["Probability and statistics", "€1,234 −€400", "100 %", "Week 17 of the programme", "WMQ@#~"]
            {
                let real = canvas.width(style, text);
                let estimate = bursar_charts::text_width(text, 11.0, bold) as f32;
                assert!((real - estimate).abs() <= real * 0.005 + 0.01, "{text:?}: {estimate} vs {real}");
            }
            // Other scripts are estimated by letter class; stay within a fifth of the real width.
            for text in ["Вероятность и статистика", "Γεωμετρία", "Zurück über Straße"]
            {
                let real = canvas.width(style, text);
                let estimate = bursar_charts::text_width(text, 11.0, bold) as f32;
                assert!((real - estimate).abs() <= real * 0.2, "{text:?}: {estimate} vs {real}");
            }
        }
    }
}
