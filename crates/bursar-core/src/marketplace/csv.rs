//! What statements and bank transfer files share: months as ranges, CSV
//! money, fields and dates.

use crate::error::{Error, Result};
use bursar_domain::money::Currency;

/// `YYYY-MM` → [start, end) in epoch milliseconds (UTC).
pub fn month_bounds(period: &str) -> Result<(i64, i64)> {
    let bad = || Error::invalid("period", "period is a month: YYYY-MM");
    let (y, m) = period.split_once('-').ok_or_else(bad)?;
    let (y, m): (i16, i8) = (y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if y < 2000 || !(1..=12).contains(&m) {
        return Err(bad());
    }
    let start = jiff::civil::date(y, m, 1);
    let end = start.checked_add(jiff::Span::new().months(1)).map_err(|_| bad())?;
    let ms = |d: jiff::civil::Date| -> Result<i64> {
        Ok(d.to_zoned(jiff::tz::TimeZone::UTC).map_err(|_| bad())?.timestamp().as_millisecond())
    };
    Ok((ms(start)?, ms(end)?))
}

/// CSV money: minor units as a plain decimal in the currency's exponent.
pub fn decimal(minor: i64, currency: &str) -> String {
    let exp = Currency::from_code(currency).map(|c| c.exponent()).unwrap_or(2);
    if exp == 0 {
        return minor.to_string();
    }
    let p = 10_i64.pow(u32::from(exp));
    let sign = if minor < 0 { "-" } else { "" };
    format!("{sign}{}.{:0w$}", minor.abs() / p, minor.abs() % p, w = usize::from(exp))
}

pub fn field(s: &str) -> String {
    // Quoted, and a leading formula character neutralised for spreadsheets.
    let s = if s.starts_with(['=', '+', '-', '@']) { format!("'{s}") } else { s.to_string() };
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// The UTC day of an instant, `YYYY-MM-DD`.
pub fn date(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map(|t| t.strftime("%Y-%m-%d").to_string()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::{decimal, month_bounds};

    #[test]
    fn csv_money_uses_the_currency_exponent() {
        assert_eq!(decimal(123_456, "EUR"), "1234.56");
        assert_eq!(decimal(-5, "USD"), "-0.05");
        assert_eq!(decimal(1_500, "JPY"), "1500");
        assert_eq!(decimal(1_234, "BHD"), "1.234");
    }

    #[test]
    fn months_are_half_open_utc_ranges() {
        let (a, b) = month_bounds("2026-12").unwrap();
        assert_eq!(a, 1_796_083_200_000);
        assert_eq!(b - a, 31 * 86_400_000);
        assert!(month_bounds("2026-13").is_err());
        assert!(month_bounds("26-1x").is_err());
    }
}
