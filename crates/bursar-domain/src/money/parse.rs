//! Plain decimal text <-> `Money`.

use super::{Currency, Money, MoneyError, MAX_AMOUNT_MINOR};

impl Money {
    /// Parses a plain decimal amount in `currency`: an optional `-`, one or
    /// more ASCII digits, and optionally `.` followed by one to
    /// `currency.exponent()` digits (`"1234.56"`, `"-0.5"`, `"12"`, `"007"`).
    ///
    /// Never rounds: more fraction digits than the exponent (even zeros, e.g.
    /// `"1.0"` for JPY) is an error. Signs other than a leading `-`, grouping
    /// separators, exponents, whitespace, and a missing integer or fraction
    /// part (`".5"`, `"5."`) are [`MoneyError::Parse`]. A well-formed amount
    /// whose absolute value exceeds [`MAX_AMOUNT_MINOR`] minor units is
    /// [`MoneyError::OutOfRange`].
    pub fn parse(s: &str, currency: Currency) -> Result<Money, MoneyError> {
        let exponent = usize::from(currency.exponent());
        let (negative, unsigned) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let (int_part, frac_part) = match unsigned.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (unsigned, None),
        };
        let all_digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(int_part) {
            return Err(MoneyError::Parse(format!(
                "`{s}` is not a plain decimal number (expected digits with an optional leading `-` and `.`)"
            )));
        }
        let frac = match frac_part {
            None => "",
            Some(f) if all_digits(f) => f,
            Some(_) => {
                return Err(MoneyError::Parse(format!(
                    "`{s}` is not a plain decimal number (expected digits after the decimal point)"
                )))
            }
        };
        if frac.len() > exponent {
            return Err(MoneyError::Parse(format!(
                "`{s}` has {} decimal places but {} allows at most {exponent}",
                frac.len(),
                currency.code()
            )));
        }
        // Accumulate the minor units digit by digit (integer part, fraction
        // part, then zero padding), stopping as soon as the range is exceeded
        // so that arbitrarily long input cannot overflow.
        let padding = std::iter::repeat_n(b'0', exponent - frac.len());
        let mut value: i64 = 0;
        for digit in int_part.bytes().chain(frac.bytes()).chain(padding) {
            value = value
                .checked_mul(10)
                .and_then(|v| v.checked_add(i64::from(digit - b'0')))
                .filter(|v| *v <= MAX_AMOUNT_MINOR)
                .ok_or(MoneyError::OutOfRange)?;
        }
        Ok(Money::new(if negative { -value } else { value }, currency))
    }

    /// The amount as a plain decimal with exactly `exponent` fraction digits:
    /// `"1234.56"`, `"-0.05"`, JPY `"1234"`, BHD `"1.234"`. No grouping, no
    /// symbol; [`Money::parse`] reads it back.
    pub fn to_decimal_string(self) -> String {
        let (int_part, frac_part) = split_digits(self.amount_minor.unsigned_abs(), self.currency.exponent());
        let mut out = String::with_capacity(int_part.len() + frac_part.len() + 2);
        if self.amount_minor < 0 {
            out.push('-');
        }
        out.push_str(&int_part);
        if !frac_part.is_empty() {
            out.push('.');
            out.push_str(&frac_part);
        }
        out
    }
}

/// Splits a magnitude in minor units into its integer digits (at least one)
/// and exactly `exponent` fraction digits, as ASCII strings.
pub(super) fn split_digits(magnitude: u64, exponent: u8) -> (String, String) {
    let exponent = usize::from(exponent);
    let digits = magnitude.to_string();
    let padded = if digits.len() <= exponent { format!("{digits:0>width$}", width = exponent + 1) } else { digits };
    let (int_part, frac_part) = padded.split_at(padded.len() - exponent);
    (int_part.to_string(), frac_part.to_string())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn cur(code: &str) -> Currency {
        Currency::from_code(code).unwrap()
    }

    fn parse(s: &str, code: &str) -> Result<i64, MoneyError> {
        Money::parse(s, cur(code)).map(|m| m.amount_minor)
    }

    fn is_parse_error(r: Result<i64, MoneyError>) -> bool {
        matches!(r, Err(MoneyError::Parse(_)))
    }

    #[test]
    fn parses_plain_decimals() {
        assert_eq!(parse("1234.56", "USD"), Ok(123_456));
        assert_eq!(parse("-0.5", "USD"), Ok(-50));
        assert_eq!(parse("12", "USD"), Ok(1200));
        assert_eq!(parse("0.05", "USD"), Ok(5));
        assert_eq!(parse("-0.05", "USD"), Ok(-5));
        assert_eq!(parse("0", "USD"), Ok(0));
        assert_eq!(parse("-0", "USD"), Ok(0));
        assert_eq!(parse("-0.00", "USD"), Ok(0));
        assert_eq!(parse("007.10", "USD"), Ok(710));
        assert_eq!(parse("1234", "JPY"), Ok(1234));
        assert_eq!(parse("1.234", "BHD"), Ok(1234));
        assert_eq!(parse("1.2", "BHD"), Ok(1200));
        assert_eq!(parse("0.0001", "CLF"), Ok(1));
        assert_eq!(parse("9999999999999.99", "USD"), Ok(MAX_AMOUNT_MINOR));
        assert_eq!(parse("-9999999999999.99", "USD"), Ok(-MAX_AMOUNT_MINOR));
        assert_eq!(parse("999999999999999", "JPY"), Ok(MAX_AMOUNT_MINOR));
        assert_eq!(parse("00000000000000000000000000000001", "USD"), Ok(100));
    }

    #[test]
    fn too_many_decimals_is_an_error_never_rounding() {
        assert!(is_parse_error(parse("1.234", "USD")));
        assert!(is_parse_error(parse("1.0", "JPY")));
        assert!(is_parse_error(parse("1.2345", "BHD")));
        assert!(is_parse_error(parse("0.001", "USD")));
        let msg = Money::parse("1.234", Currency::USD).unwrap_err().to_string();
        assert_eq!(msg, "invalid amount: `1.234` has 3 decimal places but USD allows at most 2");
    }

    #[test]
    fn rejects_malformed_input() {
        for bad in [
            "", "-", "+", "+1", "--1", "1,000", "1 000", "1_000", "1e5", "1E5", " 1", "1 ", "\t1", "1\n", ".5", "5.",
            "-.5", ".", "1.2.3", "1..2", "0x10", "NaN", "inf", "١٢", "1.-5", "1-", "$1", "1.5 USD", "１",
        ] {
            assert!(is_parse_error(parse(bad, "USD")), "{bad:?} -> {:?}", parse(bad, "USD"));
        }
        assert!(is_parse_error(parse("", "JPY")));
        assert!(is_parse_error(parse("1.", "JPY")));
    }

    #[test]
    fn out_of_range() {
        assert_eq!(parse("10000000000000", "USD"), Err(MoneyError::OutOfRange));
        assert_eq!(parse("-10000000000000.00", "USD"), Err(MoneyError::OutOfRange));
        assert_eq!(parse("1000000000000000", "JPY"), Err(MoneyError::OutOfRange));
        assert_eq!(parse("9223372036854775807", "JPY"), Err(MoneyError::OutOfRange));
        assert_eq!(parse("9223372036854775808", "JPY"), Err(MoneyError::OutOfRange));
        assert_eq!(parse("-9223372036854775808", "JPY"), Err(MoneyError::OutOfRange));
        assert_eq!(parse(&"9".repeat(400), "USD"), Err(MoneyError::OutOfRange));
        assert_eq!(parse("100000000000", "CLF"), Err(MoneyError::OutOfRange));
    }

    #[test]
    fn to_decimal_string_examples() {
        let usd = |n| Money::new(n, Currency::USD).to_decimal_string();
        assert_eq!(usd(123_456), "1234.56");
        assert_eq!(usd(-5), "-0.05");
        assert_eq!(usd(5), "0.05");
        assert_eq!(usd(0), "0.00");
        assert_eq!(usd(100), "1.00");
        assert_eq!(usd(i64::MIN), "-92233720368547758.08");
        assert_eq!(usd(i64::MAX), "92233720368547758.07");
        assert_eq!(Money::new(1234, Currency::JPY).to_decimal_string(), "1234");
        assert_eq!(Money::new(-1234, Currency::JPY).to_decimal_string(), "-1234");
        assert_eq!(Money::new(1234, Currency::BHD).to_decimal_string(), "1.234");
        assert_eq!(Money::new(7, Currency::BHD).to_decimal_string(), "0.007");
        assert_eq!(Money::new(-12_345, cur("CLF")).to_decimal_string(), "-1.2345");
    }

    #[test]
    fn split_digits_examples() {
        assert_eq!(split_digits(5, 2), ("0".into(), "05".into()));
        assert_eq!(split_digits(0, 0), ("0".into(), String::new()));
        assert_eq!(split_digits(123_456, 3), ("123".into(), "456".into()));
        assert_eq!(split_digits(u64::MAX, 0), (u64::MAX.to_string(), String::new()));
    }

    fn any_currency() -> impl Strategy<Value = Currency> {
        prop::sample::select(Currency::all().collect::<Vec<_>>())
    }

    proptest! {
        #[test]
        fn parse_round_trips_decimal_string(amount in -MAX_AMOUNT_MINOR..=MAX_AMOUNT_MINOR, currency in any_currency()) {
            let m = Money::new(amount, currency);
            prop_assert_eq!(Money::parse(&m.to_decimal_string(), currency), Ok(m));
        }

        #[test]
        fn every_currency_round_trips_small_amounts(amount in -100_000_i64..100_000) {
            for currency in Currency::all() {
                let m = Money::new(amount, currency);
                prop_assert_eq!(Money::parse(&m.to_decimal_string(), currency), Ok(m));
            }
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,30}", currency in any_currency()) {
            let _ = Money::parse(&s, currency);
        }

        #[test]
        fn parse_never_panics_on_numberish(s in "[-+0-9.,e ]{0,40}", currency in any_currency()) {
            if let Ok(m) = Money::parse(&s, currency) {
                prop_assert!(m.amount_minor.unsigned_abs() <= MAX_AMOUNT_MINOR.unsigned_abs());
            }
        }
    }
}
