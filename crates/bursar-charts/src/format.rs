//! Number formatting for tick labels and for values the caller did not label.

/// How numbers are written on the value axis and, where a series carries no labels of its own, next to
/// the data. Locale details (separators, affixes) are the caller's choice.
#[derive(Debug, Clone, PartialEq)]
pub struct NumberFormat {
    /// Digits after the decimal separator of values. `None`: up to two, trailing zeros dropped. (Tick
    /// labels always get as many as their step needs.)
    pub decimals: Option<u8>,
    /// Written after the sign, e.g. "€" gives "−€400".
    pub prefix: String,
    /// E.g. " %" or " ₽".
    pub suffix: String,
    /// Thousands separator, e.g. `Some(',')` or `Some('\u{202F}')`.
    pub group: Option<char>,
    /// Decimal separator.
    pub decimal: char,
    /// Factor applied before formatting, e.g. 100 to show fractions 0..1 as percentages.
    pub scale: f64,
}

impl Default for NumberFormat {
    fn default() -> Self {
        NumberFormat {
            decimals: None,
            prefix: String::new(),
            suffix: String::new(),
            group: None,
            decimal: '.',
            scale: 1.0,
        }
    }
}

impl NumberFormat {
    /// Plain numbers: "1234.5".
    pub fn plain() -> Self {
        NumberFormat::default()
    }

    /// Values already in percent (0–100): "42 %".
    pub fn percent(decimals: u8) -> Self {
        NumberFormat { decimals: Some(decimals), suffix: " %".into(), ..NumberFormat::default() }
    }

    /// Fractions (0–1) shown as percent: 0.42 → "42 %".
    pub fn fraction_as_percent(decimals: u8) -> Self {
        NumberFormat { scale: 100.0, ..NumberFormat::percent(decimals) }
    }

    /// Amounts with a currency sign before or after and a thousands separator, e.g.
    /// `NumberFormat::amount("€", "", ',', '.', 0)` gives "€12,500".
    pub fn amount(prefix: &str, suffix: &str, group: char, decimal: char, decimals: u8) -> Self {
        NumberFormat {
            decimals: Some(decimals),
            prefix: prefix.into(),
            suffix: suffix.into(),
            group: Some(group),
            decimal,
            scale: 1.0,
        }
    }

    /// Formats a value. Non-finite values give an empty string.
    pub fn format(&self, value: f64) -> String {
        match self.decimals {
            Some(d) => self.format_fixed(value, usize::from(d)),
            None => {
                let text = self.number(value, 2);
                let text = if text.contains(self.decimal) {
                    text.trim_end_matches('0').trim_end_matches(self.decimal).to_owned()
                } else {
                    text
                };
                self.affix(text)
            }
        }
    }

    /// Formats a value with exactly `decimals` digits after the separator.
    pub fn format_fixed(&self, value: f64, decimals: usize) -> String {
        self.affix(self.number(value, decimals))
    }

    fn affix(&self, number: String) -> String {
        if number.is_empty() {
            return number;
        }
        match number.strip_prefix('\u{2212}') {
            Some(rest) => format!("\u{2212}{}{rest}{}", self.prefix, self.suffix),
            None => format!("{}{number}{}", self.prefix, self.suffix),
        }
    }

    /// The signed number without affixes; a true minus sign (U+2212) for negatives, never "−0".
    fn number(&self, value: f64, decimals: usize) -> String {
        let scaled = value * if self.scale.is_finite() { self.scale } else { 1.0 };
        if !scaled.is_finite() {
            return String::new();
        }
        let decimals = decimals.min(12);
        let digits = format!("{:.*}", decimals, scaled.abs());
        let (int, frac) = digits.split_once('.').unwrap_or((&digits, ""));
        let negative = scaled < 0.0 && digits.bytes().any(|b| (b'1'..=b'9').contains(&b));
        let mut out = String::with_capacity(digits.len() + 8);
        if negative {
            out.push('\u{2212}');
        }
        let len = int.len();
        for (i, c) in int.chars().enumerate() {
            if i > 0 && (len - i) % 3 == 0 {
                if let Some(g) = self.group {
                    out.push(g);
                }
            }
            out.push(c);
        }
        if !frac.is_empty() {
            out.push(self.decimal);
            out.push_str(frac);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_numbers_drop_trailing_zeros() {
        let f = NumberFormat::plain();
        assert_eq!(f.format(1234.5), "1234.5");
        assert_eq!(f.format(3.0), "3");
        assert_eq!(f.format(0.126), "0.13");
        assert_eq!(f.format(-2.5), "\u{2212}2.5");
        assert_eq!(f.format(f64::NAN), "");
        assert_eq!(f.format(f64::INFINITY), "");
    }

    #[test]
    fn negative_zero_has_no_sign() {
        let f = NumberFormat::amount("€", "", ',', '.', 0);
        assert_eq!(f.format(-0.0), "€0");
        assert_eq!(f.format(-0.4), "€0");
        assert_eq!(f.format(-0.6), "\u{2212}€1");
    }

    #[test]
    fn grouping_and_separators() {
        let en = NumberFormat::amount("€", "", ',', '.', 2);
        assert_eq!(en.format(1_234_567.891), "€1,234,567.89");
        assert_eq!(en.format(-400.0), "\u{2212}€400.00");
        assert_eq!(en.format(999.0), "€999.00");
        let ru = NumberFormat::amount("", " ₽", '\u{202F}', ',', 0);
        assert_eq!(ru.format(12_500.0), "12\u{202F}500 ₽");
        assert_eq!(ru.format(100_000.0), "100\u{202F}000 ₽");
    }

    #[test]
    fn percentages() {
        assert_eq!(NumberFormat::percent(0).format(42.0), "42 %");
        assert_eq!(NumberFormat::fraction_as_percent(0).format(0.42), "42 %");
        assert_eq!(NumberFormat::fraction_as_percent(1).format(0.4567), "45.7 %");
        assert_eq!(NumberFormat::fraction_as_percent(0).format(1.0), "100 %");
    }
}
