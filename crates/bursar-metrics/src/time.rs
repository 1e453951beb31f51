//! Time: UTC epoch seconds and calendar months.
//!
//! Every timestamp in this crate is an `i64` count of seconds since
//! 1970-01-01T00:00:00Z. Month `m` is the half-open interval
//! `[first day 00:00:00, first day of the next month)`, so the month of a
//! timestamp and the start of a month are pure integer arithmetic (the
//! proleptic Gregorian calendar, no leap seconds).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::MetricsError;

/// Seconds in a day.
pub const DAY_S: i64 = 86_400;

/// The earliest timestamp the engine accepts: 0001-01-01T00:00:00Z.
pub const MIN_TS: i64 = -62_135_596_800;
/// The latest timestamp the engine accepts: 9999-12-31T23:59:59Z.
pub const MAX_TS: i64 = 253_402_300_799;

/// Checks that a timestamp lies in years 1..=9999.
pub fn check_ts(ts: i64) -> Result<i64, MetricsError> {
    if (MIN_TS..=MAX_TS).contains(&ts) {
        Ok(ts)
    } else {
        Err(MetricsError::Invalid(format!("timestamp {ts} is outside years 1..=9999")))
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (month 1..=12).
pub(crate) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date (year, month 1..=12, day 1..=31) of a day count since 1970-01-01.
pub(crate) fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    days_from_civil(if m == 12 { y + 1 } else { y }, if m == 12 { 1 } else { m + 1 }, 1) - days_from_civil(y, m, 1)
}

/// `ts` plus `n` calendar months, the day clamped to the target month's
/// length (31 January + 1 month = 29 February in a leap year), the time of
/// day kept. `ts` must be in the range [`check_ts`] accepts.
pub fn add_months(ts: i64, n: u32) -> i64 {
    let (y, m, d) = civil_from_days(ts.div_euclid(DAY_S));
    let idx = y * 12 + (m - 1) + i64::from(n);
    let (ty, tm) = (idx.div_euclid(12), idx.rem_euclid(12) + 1);
    days_from_civil(ty, tm, d.min(days_in_month(ty, tm))) * DAY_S + ts.rem_euclid(DAY_S)
}

/// A UTC calendar month, ordered in time. Serializes as `"YYYY-MM"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month(i64);

impl Month {
    /// The month of a year (1..=9999) and month number (1..=12).
    pub fn new(year: i64, month: u32) -> Result<Month, MetricsError> {
        if !(1..=9999).contains(&year) || !(1..=12).contains(&month) {
            return Err(MetricsError::Invalid(format!("no month {year:04}-{month:02}")));
        }
        Ok(Month(year * 12 + i64::from(month) - 1))
    }

    /// A month from parts known to be valid (year 1..=9999, month 1..=12);
    /// out-of-range parts are clamped into range rather than rejected.
    pub(crate) const fn from_parts(year: i64, month: i64) -> Month {
        let y = if year < 1 {
            1
        } else if year > 9999 {
            9999
        } else {
            year
        };
        let m = if month < 1 {
            1
        } else if month > 12 {
            12
        } else {
            month
        };
        Month(y * 12 + m - 1)
    }

    /// The month containing a timestamp (which must be in years 1..=9999).
    pub fn of(ts: i64) -> Result<Month, MetricsError> {
        let (y, m, _) = civil_from_days(check_ts(ts)?.div_euclid(DAY_S));
        Ok(Month(y * 12 + m - 1))
    }

    pub fn year(self) -> i64 {
        self.0.div_euclid(12)
    }

    /// 1..=12.
    pub fn number(self) -> u32 {
        // rem_euclid(12) is in 0..12, so the cast is lossless.
        self.0.rem_euclid(12) as u32 + 1
    }

    /// The first second of the month.
    pub fn start(self) -> i64 {
        days_from_civil(self.year(), i64::from(self.number()), 1) * DAY_S
    }

    /// The first second of the next month (the exclusive end of this one).
    pub fn end(self) -> i64 {
        self.offset(1).start()
    }

    /// The month `k` months later (earlier for negative `k`), kept within
    /// years 1..=9999.
    pub fn offset(self, k: i64) -> Month {
        Month(self.0.saturating_add(k).clamp(12, 9999 * 12 + 11))
    }

    pub fn next(self) -> Month {
        self.offset(1)
    }

    pub fn prev(self) -> Month {
        self.offset(-1)
    }

    /// How many months `self` is after `earlier` (negative when before).
    pub fn since(self, earlier: Month) -> i64 {
        self.0 - earlier.0
    }

    /// Months from `from` to `to`, both included (empty when `to < from`).
    pub fn range(from: Month, to: Month) -> impl Iterator<Item = Month> {
        (from.0..=to.0).map(Month)
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year(), self.number())
    }
}

impl FromStr for Month {
    type Err = MetricsError;

    /// Parses `YYYY-MM`.
    fn from_str(s: &str) -> Result<Month, MetricsError> {
        let bad = || MetricsError::Invalid(format!("`{s}` is not a month (YYYY-MM)"));
        let b = s.as_bytes();
        if b.len() != 7 || b[4] != b'-' || !b[..4].iter().chain(&b[5..]).all(u8::is_ascii_digit) {
            return Err(bad());
        }
        let y: i64 = s[..4].parse().map_err(|_| bad())?;
        let m: u32 = s[5..].parse().map_err(|_| bad())?;
        Month::new(y, m).map_err(|_| bad())
    }
}

impl Serialize for Month {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Month {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Month, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Formats a timestamp as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn format_ts(ts: i64) -> String {
    let (y, m, d) = civil_from_days(ts.div_euclid(DAY_S));
    let s = ts.rem_euclid(DAY_S);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", s / 3600, s / 60 % 60, s % 60)
}

/// Parses a UTC timestamp. The import format's `YYYY-MM-DDTHH:MM:SSZ` is
/// read directly; any other RFC 3339 form (an offset, fractional seconds of
/// zero) is accepted through jiff. Fractions of a second are refused rather
/// than truncated, so two facts never silently collapse onto one second.
pub fn parse_ts(s: &str) -> Result<i64, String> {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| -> Option<i64> {
        b.get(r.clone())?.iter().all(u8::is_ascii_digit).then(|| s[r].parse().ok())?
    };
    if b.len() == 20 && b[4] == b'-' && b[7] == b'-' && b[10] == b'T' && b[13] == b':' && b[16] == b':' && b[19] == b'Z'
    {
        if let (Some(y), Some(mo), Some(d), Some(h), Some(mi), Some(se)) =
            (digits(0..4), digits(5..7), digits(8..10), digits(11..13), digits(14..16), digits(17..19))
        {
            if y >= 1 && (1..=12).contains(&mo) && d >= 1 && d <= days_in_month(y, mo) && h < 24 && mi < 60 && se < 60 {
                return Ok(days_from_civil(y, mo, d) * DAY_S + h * 3600 + mi * 60 + se);
            }
            return Err(format!("`{s}` is not a valid date and time"));
        }
    }
    let t: jiff::Timestamp = s.parse().map_err(|_| format!("`{s}` is not a UTC timestamp (YYYY-MM-DDTHH:MM:SSZ)"))?;
    if t.subsec_nanosecond() != 0 {
        return Err(format!("`{s}` has a fraction of a second; whole seconds are required"));
    }
    check_ts(t.as_second()).map_err(|e| e.to_string())
}

/// Parses an instant given as a timestamp, a date (`YYYY-MM-DD`, its
/// midnight) or a month (`YYYY-MM`, its first second).
pub fn parse_instant(s: &str) -> Result<i64, String> {
    if let Ok(m) = s.parse::<Month>() {
        return Ok(m.start());
    }
    if let Ok(d) = s.parse::<jiff::civil::Date>() {
        if s.len() == 10 {
            return Ok(days_from_civil(i64::from(d.year()), i64::from(d.month()), i64::from(d.day())) * DAY_S);
        }
    }
    parse_ts(s)
}

/// serde adapters: a timestamp as `YYYY-MM-DDTHH:MM:SSZ`.
pub mod serde_ts {
    use super::*;

    pub fn serialize<S: Serializer>(ts: &i64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_ts(*ts))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = i64;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a UTC timestamp \"YYYY-MM-DDTHH:MM:SSZ\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<i64, E> {
                parse_ts(v).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

/// serde adapters: an optional timestamp (`null` or absent is `None`); use
/// with `#[serde(default)]`.
pub mod serde_ts_opt {
    use super::*;

    pub fn serialize<S: Serializer>(ts: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
        match ts {
            Some(t) => s.serialize_str(&format_ts(*t)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Option<i64>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a UTC timestamp \"YYYY-MM-DDTHH:MM:SSZ\" or null")
            }
            fn visit_none<E: serde::de::Error>(self) -> Result<Option<i64>, E> {
                Ok(None)
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<Option<i64>, E> {
                Ok(None)
            }
            fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Option<i64>, D2::Error> {
                serde_ts::deserialize(d).map(Some)
            }
        }
        d.deserialize_option(V)
    }
}

/// serde adapters: an optional instant in any form [`parse_instant`] reads.
pub(crate) mod serde_instant_opt {
    use super::*;

    pub fn serialize<S: Serializer>(ts: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
        serde_ts_opt::serialize(ts, s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        let s: Option<String> = Option::deserialize(d)?;
        s.map(|s| parse_instant(&s).map_err(serde::de::Error::custom)).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jiff_ts(s: &str) -> i64 {
        s.parse::<jiff::Timestamp>().unwrap().as_second()
    }

    #[test]
    fn civil_arithmetic_agrees_with_jiff() {
        for s in [
            "1970-01-01T00:00:00Z",
            "2024-02-29T23:59:59Z",
            "2023-12-31T12:00:00Z",
            "1969-12-31T23:59:59Z",
            "2000-03-01T00:00:00Z",
            "2100-02-28T05:06:07Z",
            "0001-01-01T00:00:00Z",
            "9999-12-30T00:00:00Z",
        ] {
            let t = jiff_ts(s);
            assert_eq!(parse_ts(s).unwrap(), t, "{s}");
            assert_eq!(format_ts(t), s);
        }
        assert_eq!(parse_ts("0001-01-01T00:00:00Z").unwrap(), MIN_TS);
        // Beyond jiff's range (it keeps room for offsets): the well-known value.
        assert_eq!(parse_ts("9999-12-31T23:59:59Z").unwrap(), MAX_TS);
        assert_eq!(MAX_TS, 253_402_300_799);
    }

    #[test]
    fn every_day_over_five_centuries_round_trips() {
        let mut z = days_from_civil(1800, 1, 1);
        let end = days_from_civil(2300, 1, 1);
        let mut expect = jiff::civil::date(1800, 1, 1);
        while z < end {
            let (y, m, d) = civil_from_days(z);
            assert_eq!((y, m, d), (i64::from(expect.year()), i64::from(expect.month()), i64::from(expect.day())));
            assert_eq!(days_from_civil(y, m, d), z);
            z += 1;
            expect = expect.tomorrow().unwrap();
        }
    }

    #[test]
    fn months() {
        let m: Month = "2024-02".parse().unwrap();
        assert_eq!(m.start(), jiff_ts("2024-02-01T00:00:00Z"));
        assert_eq!(m.end(), jiff_ts("2024-03-01T00:00:00Z"));
        assert_eq!(Month::of(jiff_ts("2024-02-29T23:59:59Z")).unwrap(), m);
        assert_eq!(Month::of(jiff_ts("2024-03-01T00:00:00Z")).unwrap(), m.next());
        assert_eq!("2023-12".parse::<Month>().unwrap().next().to_string(), "2024-01");
        assert_eq!(m.since("2023-11".parse().unwrap()), 3);
        assert_eq!(
            Month::range(m, m.offset(2)).map(|m| m.to_string()).collect::<Vec<_>>(),
            ["2024-02", "2024-03", "2024-04"]
        );
        for bad in ["2024-13", "2024-00", "24-01", "2024/01", "2024-1", "0000-01"] {
            assert!(bad.parse::<Month>().is_err(), "{bad}");
        }
        assert!(Month::of(MAX_TS + 1).is_err());
    }

    #[test]
    fn calendar_months_clamp_the_day() {
        let ts = |s: &str| parse_ts(s).unwrap();
        assert_eq!(add_months(ts("2024-01-31T10:00:00Z"), 1), ts("2024-02-29T10:00:00Z"));
        assert_eq!(add_months(ts("2023-01-31T10:00:00Z"), 1), ts("2023-02-28T10:00:00Z"));
        assert_eq!(add_months(ts("2024-01-15T00:00:00Z"), 3), ts("2024-04-15T00:00:00Z"));
        assert_eq!(add_months(ts("2024-11-30T00:00:00Z"), 3), ts("2025-02-28T00:00:00Z"));
        assert_eq!(add_months(ts("2024-05-31T23:59:59Z"), 12), ts("2025-05-31T23:59:59Z"));
        assert_eq!(add_months(ts("2024-05-31T23:59:59Z"), 0), ts("2024-05-31T23:59:59Z"));
        // The largest shift from the latest accepted instant stays finite.
        assert!(add_months(MAX_TS, u32::MAX) > MAX_TS);
        let m: Month = "2024-05".parse().unwrap();
        assert_eq!(m.offset(i64::MAX).to_string(), "9999-12");
        assert_eq!(m.offset(i64::MIN).to_string(), "0001-01");
        assert!(m.offset(i64::MAX).end() > m.start());
    }

    #[test]
    fn timestamp_forms() {
        assert_eq!(parse_ts("2024-01-01T01:00:00+01:00").unwrap(), jiff_ts("2024-01-01T00:00:00Z"));
        assert!(parse_ts("2024-01-01T00:00:00.5Z").is_err());
        assert!(parse_ts("2024-02-30T00:00:00Z").is_err());
        assert!(parse_ts("2024-01-01T24:00:00Z").is_err());
        assert!(parse_ts("2024-01-01").is_err());
        assert!(parse_ts("yesterday").is_err());
        assert_eq!(parse_instant("2024-03").unwrap(), jiff_ts("2024-03-01T00:00:00Z"));
        assert_eq!(parse_instant("2024-03-05").unwrap(), jiff_ts("2024-03-05T00:00:00Z"));
        assert_eq!(parse_instant("2024-03-05T10:00:00Z").unwrap(), jiff_ts("2024-03-05T10:00:00Z"));
    }
}
