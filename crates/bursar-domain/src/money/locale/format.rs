//! Formatting of amounts, plain numbers and dates from a locale's CLDR
//! patterns.

use super::super::parse::split_digits;
use super::super::{Currency, Money};
use super::data::LocaleData;
use super::Locale;

const NBSP: char = '\u{a0}';

/// A CLDR number pattern split into what formatting needs.
pub(super) struct Pattern<'a> {
    pub(super) prefix: &'a str,
    pub(super) suffix: &'a str,
    pub(super) primary_group: usize,
    pub(super) secondary_group: usize,
}

impl<'a> Pattern<'a> {
    /// Splits a positive pattern such as `¤#,##,##0.00` or `#,##0.00 ¤`: the
    /// number part runs from the first to the last of `#0,.`.
    pub(super) fn parse(pattern: &'a str) -> Pattern<'a> {
        let is_number_char = |c: char| matches!(c, '#' | '0' | ',' | '.');
        let start = pattern.find(is_number_char).unwrap_or(0);
        let end = pattern.rfind(is_number_char).map_or(pattern.len(), |i| i + 1);
        let number = &pattern[start..end];
        let integer = number.split('.').next().unwrap_or(number);
        let commas: Vec<usize> = integer.match_indices(',').map(|(i, _)| i).collect();
        let (primary_group, secondary_group) = match commas.as_slice() {
            [] => (0, 0),
            [.., last] => {
                let primary = integer.len() - last - 1;
                let secondary = match commas.len() {
                    1 => primary,
                    n => last - commas[n - 2] - 1,
                };
                (primary, secondary)
            }
        };
        Pattern { prefix: &pattern[..start], suffix: &pattern[end..], primary_group, secondary_group }
    }
}

/// Writes `magnitude` minor units with `exponent` fraction digits, grouped per
/// `pattern` and the locale.
fn push_number(out: &mut String, magnitude: u64, exponent: u8, pattern: &Pattern<'_>, data: &LocaleData) {
    let (integer, fraction) = split_digits(magnitude, exponent);
    let digits = integer.len();
    let primary = pattern.primary_group;
    if primary == 0 || digits < primary + data.minimum_grouping_digits {
        out.push_str(&integer);
    } else {
        // The leftmost group holds what is left after the primary group and
        // as many whole secondary groups as fit.
        let secondary = pattern.secondary_group.max(1);
        let rest = digits - primary;
        let first = match rest % secondary {
            0 => secondary,
            r => r,
        };
        out.push_str(&integer[..first]);
        let mut at = first;
        while at < rest {
            out.push_str(data.group);
            out.push_str(&integer[at..at + secondary]);
            at += secondary;
        }
        out.push_str(data.group);
        out.push_str(&integer[rest..]);
    }
    if !fraction.is_empty() {
        out.push_str(data.decimal);
        out.push_str(&fraction);
    }
}

/// Whether `c` is in a Unicode general category S (symbol) or Z (separator),
/// for CLDR `currencySpacing` (`currencyMatch` is `[[:^S:]&[:^Z:]]`). Covers
/// every currency sign (Sc) and the ASCII symbols; letters, digits and
/// punctuation (`.` in `Cg.`) are not.
pub(super) fn is_symbol_or_separator(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '$' | '+'
                | '<'
                | '='
                | '>'
                | '^'
                | '`'
                | '|'
                | '~'
                | '\u{a2}'..='\u{a6}'
                | '\u{58f}'
                | '\u{60b}'
                | '\u{7fe}'..='\u{7ff}'
                | '\u{9f2}'..='\u{9f3}'
                | '\u{9fb}'
                | '\u{af1}'
                | '\u{bf9}'
                | '\u{e3f}'
                | '\u{17db}'
                | '\u{20a0}'..='\u{20c0}'
                | '\u{a838}'
                | '\u{fdfc}'
                | '\u{fe69}'
                | '\u{ff04}'
                | '\u{ffe0}'..='\u{ffe1}'
                | '\u{ffe5}'..='\u{ffe6}'
        )
}

/// Formats an amount in the locale's standard currency format (CLDR
/// `currencyFormats/standard`): `$1,234.56` (en-US), `1.234,56 €` (de-DE),
/// `1 234,56 €` (fr-FR, U+202F group and U+00A0 before the symbol),
/// `R$ 1.234,56` (pt-BR), `₹1,23,45,678.90` (en-IN), `BHD 1,234.567` (en-US,
/// U+00A0). Negative amounts get the minus sign in front: `-$1,234.56`.
pub fn format_money(m: Money, locale: Locale) -> String {
    let data = locale.data();
    let pattern = Pattern::parse(data.currency_pattern);
    let symbol = locale.currency_symbol(m.currency);
    let mut out = String::with_capacity(32);
    if m.amount_minor < 0 {
        out.push_str(data.minus);
    }
    push_affix(&mut out, pattern.prefix, symbol);
    if pattern.prefix.ends_with('¤') && symbol.chars().next_back().is_some_and(|c| !is_symbol_or_separator(c)) {
        out.push(NBSP);
    }
    push_number(&mut out, m.amount_minor.unsigned_abs(), m.currency.exponent(), &pattern, data);
    if pattern.suffix.starts_with('¤') && symbol.chars().next().is_some_and(|c| !is_symbol_or_separator(c)) {
        out.push(NBSP);
    }
    push_affix(&mut out, pattern.suffix, symbol);
    out
}

fn push_affix(out: &mut String, affix: &str, symbol: &str) {
    for c in affix.chars() {
        if c == '¤' {
            out.push_str(symbol);
        } else {
            out.push(c);
        }
    }
}

/// Formats `minor` units with `exponent` fraction digits as a plain localized
/// number (no symbol): grouping and separators per the locale's CLDR decimal
/// pattern, all `exponent` fraction digits shown. `format_decimal(123456, 2,
/// DeDe)` is `1.234,56`; `format_decimal(-5, 2, EnUs)` is `-0.05`.
pub fn format_decimal(minor: i64, exponent: u8, locale: Locale) -> String {
    let data = locale.data();
    let pattern = Pattern::parse(data.decimal_pattern);
    let mut out = String::with_capacity(32);
    if minor < 0 {
        out.push_str(data.minus);
    }
    push_number(&mut out, minor.unsigned_abs(), exponent, &pattern, data);
    out
}

/// A localized integer: `format_decimal(n, 0, locale)`.
pub fn format_integer(n: i64, locale: Locale) -> String {
    format_decimal(n, 0, locale)
}

/// Formats a date with the locale's CLDR short date pattern
/// ([`Locale::short_date_pattern`]): en-US `M/d/yy` → `1/31/26`, en-GB and
/// fr-FR and pt-BR `dd/MM/y` → `31/01/2026`, de-DE `dd.MM.yy` → `31.01.26`,
/// es-ES and hi-IN `d/M/yy` → `31/1/26`, en-IN `dd/MM/yy` → `31/01/26`,
/// ru-RU `dd.MM.y` → `31.01.2026`.
///
/// `y` is the era year (year 0 is 1 BC, written `1`), `yy` its last two
/// digits.
pub fn format_date(date: jiff::civil::Date, locale: Locale) -> String {
    let pattern = locale.data().short_date_pattern;
    let year = i32::from(date.year());
    let era_year = if year <= 0 { 1 - year } else { year };
    let mut out = String::with_capacity(10);
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        let mut width = 1;
        while chars.peek() == Some(&c) && c.is_ascii_alphabetic() {
            chars.next();
            width += 1;
        }
        match (c, width) {
            ('d', 1) => out.push_str(&date.day().to_string()),
            ('d', _) => out.push_str(&format!("{:02}", date.day())),
            ('M', 1) => out.push_str(&date.month().to_string()),
            ('M', _) => out.push_str(&format!("{:02}", date.month())),
            ('y', 2) => out.push_str(&format!("{:02}", era_year % 100)),
            ('y', _) => out.push_str(&era_year.to_string()),
            _ => {
                for _ in 0..width {
                    out.push(c);
                }
            }
        }
    }
    out
}

/// `format_money` for an amount whose currency is a stored ISO code; `None`
/// when the code is not a known currency.
pub fn format_money_in(minor: i64, currency: &str, locale: Locale) -> Option<String> {
    Currency::from_code(currency).ok().map(|c| format_money(Money::new(minor, c), locale))
}
