//! Exact non-negative decimals (exchange rates, percentages) and the two
//! roundings the metrics need, both half away from zero on `i128`.

use std::fmt;
use std::str::FromStr;

use bursar_domain::money::{round_div, Currency, Rounding};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::MetricsError;

/// The most fraction digits a decimal may have.
pub const MAX_SCALE: u32 = 18;

/// A non-negative decimal `mantissa / 10^scale`, parsed exactly from its
/// text (`"1.08"` is 108 / 10^2); never a float.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Decimal {
    mantissa: i128,
    scale: u32,
}

impl Decimal {
    pub const ONE: Decimal = Decimal { mantissa: 1, scale: 0 };

    /// `mantissa / 10^scale`; a negative mantissa or a scale above
    /// [`MAX_SCALE`] is an error.
    pub fn new(mantissa: i128, scale: u32) -> Result<Decimal, MetricsError> {
        if mantissa < 0 || scale > MAX_SCALE {
            return Err(MetricsError::Invalid(format!("bad decimal {mantissa}e-{scale}")));
        }
        Ok(Decimal { mantissa, scale })
    }

    /// A whole number.
    pub fn from_int(n: i64) -> Result<Decimal, MetricsError> {
        Decimal::new(i128::from(n), 0)
    }

    pub fn mantissa(self) -> i128 {
        self.mantissa
    }

    pub fn scale(self) -> u32 {
        self.scale
    }

    pub fn is_zero(self) -> bool {
        self.mantissa == 0
    }

    fn denominator(self) -> i128 {
        10_i128.pow(self.scale)
    }

    /// `round(amount × self ÷ divisor)`, half away from zero.
    pub fn mul_div_round(self, amount: i64, divisor: i64) -> Result<i64, MetricsError> {
        let num = i128::from(amount).checked_mul(self.mantissa).ok_or(MetricsError::Overflow)?;
        let den = self.denominator().checked_mul(i128::from(divisor)).ok_or(MetricsError::Overflow)?;
        Ok(round_div(num, den, Rounding::HalfUp)?)
    }

    /// Converts minor units of `from` into minor units of `to` at this rate
    /// (units of `to` per unit of `from`), with the exponent difference of
    /// the two currencies, rounded half away from zero once:
    /// `round(amount × rate × 10^exp(to) ÷ 10^exp(from))`.
    pub fn convert(self, amount: i64, from: Currency, to: Currency) -> Result<i64, MetricsError> {
        let up = 10_i128.pow(u32::from(to.exponent()));
        let down = 10_i128.pow(u32::from(from.exponent()));
        let num = i128::from(amount)
            .checked_mul(self.mantissa)
            .and_then(|x| x.checked_mul(up))
            .ok_or(MetricsError::Overflow)?;
        let den = self.denominator().checked_mul(down).ok_or(MetricsError::Overflow)?;
        Ok(round_div(num, den, Rounding::HalfUp)?)
    }
}

impl FromStr for Decimal {
    type Err = MetricsError;

    /// Reads `123`, `1.08`, `0.000125`: ASCII digits with at most one point
    /// and at most [`MAX_SCALE`] fraction digits. No sign, no exponent.
    fn from_str(s: &str) -> Result<Decimal, MetricsError> {
        let bad = |why: &str| MetricsError::Invalid(format!("`{s}` is not a decimal: {why}"));
        let (int, frac) = s.split_once('.').unwrap_or((s, ""));
        if int.is_empty() || (s.contains('.') && frac.is_empty()) {
            return Err(bad("digits are needed on both sides of the point"));
        }
        if !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
            return Err(bad("only digits and one point are allowed"));
        }
        let scale = u32::try_from(frac.len()).map_err(|_| bad("too many fraction digits"))?;
        if scale > MAX_SCALE {
            return Err(bad("too many fraction digits"));
        }
        let mut mantissa: i128 = 0;
        for b in int.bytes().chain(frac.bytes()) {
            mantissa = mantissa
                .checked_mul(10)
                .and_then(|m| m.checked_add(i128::from(b - b'0')))
                .ok_or_else(|| bad("too many digits"))?;
        }
        Decimal::new(mantissa, scale)
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let den = self.denominator();
        let (int, frac) = (self.mantissa / den, self.mantissa % den);
        if self.scale == 0 {
            write!(f, "{int}")
        } else {
            write!(f, "{int}.{frac:0width$}", width = self.scale as usize)
        }
    }
}

impl Serialize for Decimal {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Decimal {
    /// From a decimal string, or from a JSON number through its shortest
    /// decimal text (`12.5` reads as 125 / 10).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Decimal;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a non-negative decimal such as \"1.08\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Decimal, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Decimal, E> {
                Decimal::new(i128::from(v), 0).map_err(E::custom)
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Decimal, E> {
                Decimal::new(i128::from(v), 0).map_err(E::custom)
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Decimal, E> {
                if !v.is_finite() {
                    return Err(E::custom("not a finite number"));
                }
                let text = format!("{v}");
                text.parse().map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn parses_exactly() {
        assert_eq!(d("1.08"), Decimal::new(108, 2).unwrap());
        assert_eq!(d("25"), Decimal::new(25, 0).unwrap());
        assert_eq!(d("0.000125"), Decimal::new(125, 6).unwrap());
        assert_eq!(d("1.080").to_string(), "1.080");
        for bad in ["", ".5", "5.", "-1", "1e3", "1,5", "1.2.3", " 1", "0.0000000000000000001"] {
            assert!(bad.parse::<Decimal>().is_err(), "{bad}");
        }
        let n: Decimal = serde_json::from_str("12.5").unwrap();
        assert_eq!(n, Decimal::new(125, 1).unwrap());
        let n: Decimal = serde_json::from_str("33.33").unwrap();
        assert_eq!(n, Decimal::new(3333, 2).unwrap());
        let n: Decimal = serde_json::from_str("\"1.08\"").unwrap();
        assert_eq!(n, d("1.08"));
    }

    #[test]
    fn rounds_half_away_from_zero() {
        // 11994 / 12 = 999.5 → 1000; 9990 / 12 = 832.5 → 833.
        assert_eq!(Decimal::ONE.mul_div_round(11_994, 12).unwrap(), 1000);
        assert_eq!(Decimal::ONE.mul_div_round(9_990, 12).unwrap(), 833);
        assert_eq!(Decimal::ONE.mul_div_round(-9_990, 12).unwrap(), -833);
        // 15 % of 1990 = 298.5 → 299.
        assert_eq!(d("15").mul_div_round(1990, 100).unwrap(), 299);
        assert_eq!(d("12.5").mul_div_round(1000, 100).unwrap(), 125);
    }

    #[test]
    fn converts_with_exponents() {
        // 9.99 EUR × 1.08 = 10.7892 USD → 1079 cents.
        assert_eq!(d("1.08").convert(999, Currency::EUR, Currency::USD).unwrap(), 1079);
        // 12.50 EUR × 1.1 = 13.75 exactly.
        assert_eq!(d("1.1").convert(1250, Currency::EUR, Currency::USD).unwrap(), 1375);
        // ¥1,500 × 0.0067 = 10.05 USD = 1005 cents.
        assert_eq!(d("0.0067").convert(1500, Currency::JPY, Currency::USD).unwrap(), 1005);
        // 10.00 USD × 150 = ¥1,500.
        assert_eq!(d("150").convert(1000, Currency::USD, Currency::JPY).unwrap(), 1500);
        // 0.125 × 4 cents = 0.5 → 1 (half away), and −0.5 → −1.
        assert_eq!(d("0.125").convert(4, Currency::EUR, Currency::USD).unwrap(), 1);
        assert_eq!(d("0.125").convert(-4, Currency::EUR, Currency::USD).unwrap(), -1);
        assert!(d("99999999999999999999").convert(i64::MAX, Currency::EUR, Currency::BHD).is_err());
    }
}
