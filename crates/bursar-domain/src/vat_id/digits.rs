//! Digit helpers shared by the country rules. Every function gets ASCII
//! bytes; they index only after the format checks have established the length
//! and which bytes are digits.

use super::{Invalid, Outcome, VatCheck};

/// A format rule: on its own (as a rule's last step) it is a format-only
/// match.
pub(super) fn format(ok: bool) -> Outcome {
    if ok {
        Ok(VatCheck::FormatOnly)
    } else {
        Err(Invalid::Format)
    }
}

/// A check-digit rule.
pub(super) fn check(ok: bool) -> Outcome {
    if ok {
        Ok(VatCheck::CheckDigits)
    } else {
        Err(Invalid::Check)
    }
}

pub(super) fn is_digits(s: &[u8]) -> bool {
    s.iter().all(u8::is_ascii_digit)
}

pub(super) fn digits(s: &[u8], len: usize) -> bool {
    s.len() == len && is_digits(s)
}

pub(super) fn val(b: u8) -> u32 {
    u32::from(b - b'0')
}

/// The value of a run of at most 19 digits.
pub(super) fn num(s: &[u8]) -> u64 {
    s.iter().fold(0, |n, &b| n * 10 + u64::from(val(b)))
}

pub(super) fn weighted(s: &[u8], weights: &[u32]) -> u32 {
    s.iter().zip(weights).map(|(&b, &w)| val(b) * w).sum()
}

/// Luhn sum, counted from the right; `double_first` doubles the rightmost
/// digit (used to compute the check digit for a payload without it).
pub(super) fn luhn_sum(s: &[u8], double_first: bool) -> u32 {
    s.iter()
        .rev()
        .enumerate()
        .map(|(i, &b)| {
            let x = val(b);
            if (i % 2 == 0) == double_first {
                let y = 2 * x;
                if y > 9 {
                    y - 9
                } else {
                    y
                }
            } else {
                x
            }
        })
        .sum()
}

pub(super) fn luhn_ok(s: &[u8]) -> bool {
    luhn_sum(s, false).is_multiple_of(10)
}

pub(super) fn luhn_check_digit(payload: &[u8]) -> u32 {
    (10 - luhn_sum(payload, true) % 10) % 10
}

/// ISO 7064 MOD 11,10 over the whole number, the last digit being the check.
pub(super) fn mod_11_10_ok(s: &[u8]) -> bool {
    let Some((&last, payload)) = s.split_last() else { return false };
    let mut p = 10;
    for &b in payload {
        let mut t = (p + val(b)) % 10;
        if t == 0 {
            t = 10;
        }
        p = (2 * t) % 11;
    }
    (11 - p) % 10 == val(last)
}

pub(super) fn is_date(year: u32, month: u32, day: u32) -> bool {
    let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&day)
}

/// Czech and Slovak birth number (rodné číslo), 9 or 10 digits: YYMMDD with
/// 50 added to the month for women and 20 more for overflow serials since
/// 2004; 9-digit numbers predate 1954 and have no check digit; 10-digit ones
/// have the first nine mod 11 (mod 10) as the last digit.
pub(super) fn birth_number_ok(s: &[u8]) -> bool {
    let mut year = 1900 + num(&s[0..2]) as u32;
    let month = num(&s[2..4]) as u32 % 50 % 20;
    let day = num(&s[4..6]) as u32;
    if s.len() == 9 {
        if year >= 1980 {
            year -= 100;
        }
        if year > 1953 {
            return false;
        }
    } else if year < 1954 {
        year += 100;
    }
    is_date(year, month, day) && (s.len() == 9 || num(&s[..9]) % 11 % 10 == u64::from(val(s[9])))
}
