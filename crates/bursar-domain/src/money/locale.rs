//! Locales and CLDR-based formatting of amounts, plain numbers and dates.
//!
//! The data below is copied from CLDR 48 (`cldr-numbers-full` and
//! `cldr-dates-full`, the resolved JSON of the parent locale where the tag has
//! no own file: en-US is `en`, de-DE `de`, fr-FR `fr`, es-ES `es`, pt-BR `pt`,
//! hi-IN `hi`, ru-RU `ru`). All nine locales use Latin digits
//! (`defaultNumberingSystem` is `latn`, also for hi) and `-` (U+002D) as the
//! minus sign.
//!
//! Formatting rules implemented, as CLDR/ICU apply them:
//!
//! * The standard currency pattern of the locale; its negative form is the
//!   implicit one: the minus sign in front of the whole positive pattern
//!   (`-$1,234.56`, `-1.234,56 €`, `-R$ 1.234,56`).
//! * Fraction digits are always the currency's ISO 4217 exponent (JPY none,
//!   BHD three); amounts are exact minor units, nothing is rounded.
//! * Grouping sizes come from the pattern (`#,##0` groups by three,
//!   `#,##,##0` is Indian lakh/crore grouping) and `minimumGroupingDigits`
//!   (2 for es: `1234,56 €` but `12.345,67 €`).
//! * Currency symbols are the locale's `symbol` for the currency, or the ISO
//!   code when CLDR has none. `currencySpacing`: when the symbol's character
//!   next to the digits is neither a symbol (S) nor a separator (Z), as in
//!   `BHD` or `CHF`, a no-break space U+00A0 is inserted (`BHD 1,234.567`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::parse::split_digits;
use super::{Currency, Money, MoneyError};

/// A supported formatting locale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Locale {
    /// English (United States), `en-US`.
    EnUs,
    /// English (United Kingdom), `en-GB`.
    EnGb,
    /// German (Germany), `de-DE`.
    DeDe,
    /// French (France), `fr-FR`.
    FrFr,
    /// Spanish (Spain), `es-ES`.
    EsEs,
    /// Portuguese (Brazil), `pt-BR`.
    PtBr,
    /// English (India), `en-IN`.
    EnIn,
    /// Hindi (India), `hi-IN`.
    HiIn,
    /// Russian (Russia), `ru-RU`.
    RuRu,
}

/// The CLDR facts one locale needs.
struct LocaleData {
    tag: &'static str,
    default_currency: Currency,
    decimal: &'static str,
    group: &'static str,
    minus: &'static str,
    minimum_grouping_digits: usize,
    /// `decimalFormats-numberSystem-latn/standard`.
    decimal_pattern: &'static str,
    /// `currencyFormats-numberSystem-latn/standard`.
    currency_pattern: &'static str,
    /// `dateFormats/short` of the Gregorian calendar.
    short_date_pattern: &'static str,
    /// Currency symbols that differ from the ISO code, sorted by code.
    symbols: &'static [(&'static str, &'static str)],
}

const NBSP: char = '\u{a0}';

static EN_US: LocaleData = LocaleData {
    tag: "en-US",
    default_currency: Currency::USD,
    decimal: ".",
    group: ",",
    minus: "-",
    minimum_grouping_digits: 1,
    decimal_pattern: "#,##0.###",
    currency_pattern: "¤#,##0.00",
    short_date_pattern: "M/d/yy",
    symbols: SYMBOLS_EN_US,
};

static EN_GB: LocaleData = LocaleData {
    tag: "en-GB",
    default_currency: Currency::GBP,
    decimal: ".",
    group: ",",
    minus: "-",
    minimum_grouping_digits: 1,
    decimal_pattern: "#,##0.###",
    currency_pattern: "¤#,##0.00",
    short_date_pattern: "dd/MM/y",
    symbols: SYMBOLS_EN_GB,
};

static DE_DE: LocaleData = LocaleData {
    tag: "de-DE",
    default_currency: Currency::EUR,
    decimal: ",",
    group: ".",
    minus: "-",
    minimum_grouping_digits: 1,
    decimal_pattern: "#,##0.###",
    currency_pattern: "#,##0.00\u{a0}¤",
    short_date_pattern: "dd.MM.yy",
    symbols: SYMBOLS_DE_DE,
};

static FR_FR: LocaleData = LocaleData {
    tag: "fr-FR",
    default_currency: Currency::EUR,
    decimal: ",",
    group: "\u{202f}",
    minus: "-",
    minimum_grouping_digits: 1,
    decimal_pattern: "#,##0.###",
    currency_pattern: "#,##0.00\u{a0}¤",
    short_date_pattern: "dd/MM/y",
    symbols: SYMBOLS_FR_FR,
};

static ES_ES: LocaleData = LocaleData {
    tag: "es-ES",
    default_currency: Currency::EUR,
    decimal: ",",
    group: ".",
    minus: "-",
    minimum_grouping_digits: 2,
    decimal_pattern: "#,##0.###",
    currency_pattern: "#,##0.00\u{a0}¤",
    short_date_pattern: "d/M/yy",
    symbols: SYMBOLS_ES_ES,
};

static PT_BR: LocaleData = LocaleData {
    tag: "pt-BR",
    default_currency: Currency::BRL,
    decimal: ",",
    group: ".",
    minus: "-",
    minimum_grouping_digits: 1,
    decimal_pattern: "#,##0.###",
    currency_pattern: "¤\u{a0}#,##0.00",
    short_date_pattern: "dd/MM/y",
    symbols: SYMBOLS_PT_BR,
};

static EN_IN: LocaleData = LocaleData {
    tag: "en-IN",
    default_currency: Currency::INR,
    decimal: ".",
    group: ",",
    minus: "-",
    minimum_grouping_digits: 1,
    decimal_pattern: "#,##,##0.###",
    currency_pattern: "¤#,##,##0.00",
    short_date_pattern: "dd/MM/yy",
    symbols: SYMBOLS_EN_IN,
};

static HI_IN: LocaleData = LocaleData {
    tag: "hi-IN",
    default_currency: Currency::INR,
    decimal: ".",
    group: ",",
    minus: "-",
    minimum_grouping_digits: 1,
    decimal_pattern: "#,##,##0.###",
    currency_pattern: "¤#,##,##0.00",
    short_date_pattern: "d/M/yy",
    symbols: SYMBOLS_HI_IN,
};

static RU_RU: LocaleData = LocaleData {
    tag: "ru-RU",
    default_currency: Currency::RUB,
    decimal: ",",
    group: "\u{a0}",
    minus: "-",
    minimum_grouping_digits: 1,
    decimal_pattern: "#,##0.###",
    currency_pattern: "#,##0.00\u{a0}¤",
    short_date_pattern: "dd.MM.y",
    symbols: SYMBOLS_RU_RU,
};

/// CLDR 48 `en` (en-US) currency symbols that differ from the ISO code.
const SYMBOLS_EN_US: &[(&str, &str)] = &[
    ("AUD", "A$"),
    ("BRL", "R$"),
    ("CAD", "CA$"),
    ("CNY", "CN¥"),
    ("EUR", "€"),
    ("GBP", "£"),
    ("HKD", "HK$"),
    ("ILS", "₪"),
    ("INR", "₹"),
    ("JPY", "¥"),
    ("KRW", "₩"),
    ("MXN", "MX$"),
    ("NZD", "NZ$"),
    ("PHP", "₱"),
    ("TWD", "NT$"),
    ("USD", "$"),
    ("VND", "₫"),
    ("XAF", "FCFA"),
    ("XCD", "EC$"),
    ("XCG", "Cg."),
    ("XOF", "F\u{202f}CFA"),
    ("XPF", "CFPF"),
];
/// CLDR 48 `en-GB` currency symbols that differ from the ISO code.
const SYMBOLS_EN_GB: &[(&str, &str)] = &[
    ("AUD", "A$"),
    ("BRL", "R$"),
    ("CAD", "CA$"),
    ("CNY", "CN¥"),
    ("EUR", "€"),
    ("GBP", "£"),
    ("HKD", "HK$"),
    ("ILS", "₪"),
    ("INR", "₹"),
    ("JPY", "JP¥"),
    ("KRW", "₩"),
    ("MXN", "MX$"),
    ("NZD", "NZ$"),
    ("PHP", "₱"),
    ("TWD", "NT$"),
    ("USD", "US$"),
    ("VND", "₫"),
    ("XAF", "FCFA"),
    ("XCD", "EC$"),
    ("XCG", "Cg."),
    ("XOF", "F\u{202f}CFA"),
    ("XPF", "CFPF"),
];
/// CLDR 48 `de` currency symbols that differ from the ISO code.
const SYMBOLS_DE_DE: &[(&str, &str)] = &[
    ("AUD", "AU$"),
    ("BRL", "R$"),
    ("CAD", "CA$"),
    ("CNY", "CN¥"),
    ("EUR", "€"),
    ("GBP", "£"),
    ("HKD", "HK$"),
    ("ILS", "₪"),
    ("INR", "₹"),
    ("JPY", "¥"),
    ("KRW", "₩"),
    ("MXN", "MX$"),
    ("NZD", "NZ$"),
    ("THB", "฿"),
    ("TWD", "NT$"),
    ("USD", "$"),
    ("VND", "₫"),
    ("XAF", "FCFA"),
    ("XCD", "EC$"),
    ("XCG", "Cg."),
    ("XOF", "F\u{202f}CFA"),
    ("XPF", "CFPF"),
];
/// CLDR 48 `fr` currency symbols that differ from the ISO code.
const SYMBOLS_FR_FR: &[(&str, &str)] = &[
    ("ARS", "$AR"),
    ("AUD", "$AU"),
    ("BMD", "$BM"),
    ("BND", "$BN"),
    ("BRL", "R$"),
    ("BZD", "$BZ"),
    ("CAD", "$CA"),
    ("CLP", "$CL"),
    ("COP", "$CO"),
    ("EUR", "€"),
    ("FJD", "$FJ"),
    ("FKP", "£FK"),
    ("GBP", "£GB"),
    ("GIP", "£GI"),
    ("ILS", "₪"),
    ("INR", "₹"),
    ("KRW", "₩"),
    ("LBP", "£LB"),
    ("MXN", "$MX"),
    ("NAD", "$NA"),
    ("NZD", "$NZ"),
    ("SBD", "$SB"),
    ("SGD", "$SG"),
    ("SRD", "$SR"),
    ("TTD", "$TT"),
    ("USD", "$US"),
    ("UYU", "$UY"),
    ("VND", "₫"),
    ("WST", "$WS"),
    ("XAF", "FCFA"),
    ("XCG", "Cg."),
    ("XOF", "F\u{202f}CFA"),
    ("XPF", "FCFP"),
];
/// CLDR 48 `es` currency symbols that differ from the ISO code.
const SYMBOLS_ES_ES: &[(&str, &str)] =
    &[("EUR", "€"), ("THB", "฿"), ("USD", "US$"), ("VND", "₫"), ("XCG", "Cg."), ("XPF", "CFPF")];
/// CLDR 48 `pt` (pt-BR) currency symbols that differ from the ISO code.
const SYMBOLS_PT_BR: &[(&str, &str)] = &[
    ("AUD", "AU$"),
    ("BRL", "R$"),
    ("CAD", "CA$"),
    ("CNY", "CN¥"),
    ("EUR", "€"),
    ("GBP", "£"),
    ("HKD", "HK$"),
    ("ILS", "₪"),
    ("INR", "₹"),
    ("JPY", "JP¥"),
    ("KRW", "₩"),
    ("MXN", "MX$"),
    ("NZD", "NZ$"),
    ("THB", "฿"),
    ("TWD", "NT$"),
    ("USD", "US$"),
    ("VND", "₫"),
    ("XAF", "FCFA"),
    ("XCD", "EC$"),
    ("XCG", "Cg."),
    ("XOF", "F\u{202f}CFA"),
    ("XPF", "CFPF"),
];
/// CLDR 48 `en-IN` currency symbols that differ from the ISO code.
const SYMBOLS_EN_IN: &[(&str, &str)] = &[
    ("AUD", "A$"),
    ("BRL", "R$"),
    ("CAD", "CA$"),
    ("CNY", "CN¥"),
    ("EUR", "€"),
    ("GBP", "£"),
    ("HKD", "HK$"),
    ("ILS", "₪"),
    ("INR", "₹"),
    ("JPY", "JP¥"),
    ("KRW", "₩"),
    ("MXN", "MX$"),
    ("NZD", "NZ$"),
    ("PHP", "₱"),
    ("TWD", "NT$"),
    ("USD", "$"),
    ("VND", "₫"),
    ("XAF", "FCFA"),
    ("XCD", "EC$"),
    ("XCG", "Cg."),
    ("XOF", "F\u{202f}CFA"),
    ("XPF", "CFPF"),
];
/// CLDR 48 `hi` currency symbols that differ from the ISO code.
const SYMBOLS_HI_IN: &[(&str, &str)] = &[
    ("AUD", "A$"),
    ("BRL", "R$"),
    ("CAD", "CA$"),
    ("CNY", "CN¥"),
    ("EUR", "€"),
    ("GBP", "£"),
    ("HKD", "HK$"),
    ("ILS", "₪"),
    ("INR", "₹"),
    ("JPY", "JP¥"),
    ("KRW", "₩"),
    ("MXN", "MX$"),
    ("NZD", "NZ$"),
    ("THB", "฿"),
    ("TWD", "NT$"),
    ("USD", "$"),
    ("VND", "₫"),
    ("XAF", "FCFA"),
    ("XCD", "EC$"),
    ("XCG", "Cg."),
    ("XOF", "F\u{202f}CFA"),
    ("XPF", "CFPF"),
];
/// CLDR 48 `ru` currency symbols that differ from the ISO code.
const SYMBOLS_RU_RU: &[(&str, &str)] = &[
    ("AUD", "A$"),
    ("BRL", "R$"),
    ("CAD", "CA$"),
    ("CNY", "CN¥"),
    ("EUR", "€"),
    ("GBP", "£"),
    ("HKD", "HK$"),
    ("ILS", "₪"),
    ("INR", "₹"),
    ("JPY", "¥"),
    ("KRW", "₩"),
    ("MXN", "MX$"),
    ("NZD", "NZ$"),
    ("RUB", "₽"),
    ("THB", "฿"),
    ("TMT", "\u{422}\u{41c}\u{422}"),
    ("TWD", "NT$"),
    ("UAH", "₴"),
    ("USD", "$"),
    ("VND", "₫"),
    ("XAF", "FCFA"),
    ("XCD", "EC$"),
    ("XCG", "Cg"),
    ("XOF", "F\u{202f}CFA"),
    ("XPF", "CFPF"),
];

const ALL_LOCALES: [Locale; 9] = [
    Locale::EnUs,
    Locale::EnGb,
    Locale::DeDe,
    Locale::FrFr,
    Locale::EsEs,
    Locale::PtBr,
    Locale::EnIn,
    Locale::HiIn,
    Locale::RuRu,
];

impl Locale {
    fn data(self) -> &'static LocaleData {
        match self {
            Locale::EnUs => &EN_US,
            Locale::EnGb => &EN_GB,
            Locale::DeDe => &DE_DE,
            Locale::FrFr => &FR_FR,
            Locale::EsEs => &ES_ES,
            Locale::PtBr => &PT_BR,
            Locale::EnIn => &EN_IN,
            Locale::HiIn => &HI_IN,
            Locale::RuRu => &RU_RU,
        }
    }

    /// Parses a BCP 47 tag of a supported locale, ignoring ASCII case and
    /// accepting `_` for `-`: `"en-US"`, `"en_us"`, `"PT-br"`. Language-only
    /// tags (`"en"`) and other regions are [`MoneyError::UnknownLocale`].
    pub fn from_tag(tag: &str) -> Result<Locale, MoneyError> {
        let normalized: String = tag.chars().map(|c| if c == '_' { '-' } else { c.to_ascii_lowercase() }).collect();
        ALL_LOCALES
            .iter()
            .copied()
            .find(|l| l.data().tag.eq_ignore_ascii_case(&normalized))
            .ok_or_else(|| MoneyError::UnknownLocale(tag.to_string()))
    }

    /// The canonical BCP 47 tag, e.g. `"en-US"`.
    pub fn tag(self) -> &'static str {
        self.data().tag
    }

    /// Every supported locale.
    pub fn all() -> &'static [Locale] {
        &ALL_LOCALES
    }

    /// The currency of the locale's region: en-US USD, en-GB GBP, de-DE /
    /// fr-FR / es-ES EUR, pt-BR BRL, en-IN / hi-IN INR, ru-RU RUB.
    pub fn default_currency(self) -> Currency {
        self.data().default_currency
    }

    /// The symbol this locale writes for `currency`: its CLDR `symbol`, or the
    /// ISO code where CLDR has none (`$` for USD in en-US, `US$` in en-GB,
    /// `BHD` everywhere).
    pub fn currency_symbol(self, currency: Currency) -> &'static str {
        let symbols = self.data().symbols;
        match symbols.binary_search_by(|(code, _)| (*code).cmp(currency.code())) {
            Ok(i) => symbols[i].1,
            Err(_) => currency.code(),
        }
    }

    /// The decimal separator, e.g. `"."` or `","`.
    pub fn decimal_separator(self) -> &'static str {
        self.data().decimal
    }

    /// The grouping separator, e.g. `","`, `"."`, U+202F (fr) or U+00A0 (ru).
    pub fn group_separator(self) -> &'static str {
        self.data().group
    }

    /// The CLDR short date pattern used by [`format_date`], e.g. `"M/d/yy"`.
    pub fn short_date_pattern(self) -> &'static str {
        self.data().short_date_pattern
    }
}

impl fmt::Display for Locale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.tag())
    }
}

impl FromStr for Locale {
    type Err = MoneyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Locale::from_tag(s)
    }
}

impl Serialize for Locale {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.tag())
    }
}

impl<'de> Deserialize<'de> for Locale {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TagVisitor;

        impl serde::de::Visitor<'_> for TagVisitor {
            type Value = Locale;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a locale tag such as \"en-US\"")
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Locale, E> {
                Locale::from_tag(v).map_err(E::custom)
            }
        }

        deserializer.deserialize_str(TagVisitor)
    }
}

/// A CLDR number pattern split into what formatting needs.
struct Pattern<'a> {
    prefix: &'a str,
    suffix: &'a str,
    primary_group: usize,
    secondary_group: usize,
}

impl<'a> Pattern<'a> {
    /// Splits a positive pattern such as `¤#,##,##0.00` or `#,##0.00 ¤`: the
    /// number part runs from the first to the last of `#0,.`.
    fn parse(pattern: &'a str) -> Pattern<'a> {
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
fn is_symbol_or_separator(c: char) -> bool {
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

#[cfg(test)]
mod tests {
    use jiff::civil::date;
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn a_stored_currency_code_formats_or_is_refused() {
        assert_eq!(format_money_in(123_456, "EUR", Locale::DeDe).as_deref(), Some("1.234,56\u{a0}€"));
        assert_eq!(format_money_in(1_500, "JPY", Locale::EnUs).as_deref(), Some("¥1,500"));
        assert_eq!(format_money_in(100, "XYZ", Locale::EnUs), None);
    }
    use Locale::*;

    fn cur(code: &str) -> Currency {
        Currency::from_code(code).unwrap()
    }

    /// Formats and makes the invisible spaces visible: `_` for U+00A0 and
    /// `^` for U+202F, so expectations are readable.
    fn fmt(amount: i64, code: &str, locale: Locale) -> String {
        visible(&format_money(Money::new(amount, cur(code)), locale))
    }

    fn visible(s: &str) -> String {
        assert!(!s.contains(['_', '^']), "{s}");
        s.replace('\u{a0}', "_").replace('\u{202f}', "^")
    }

    #[test]
    fn tags() {
        assert_eq!(Locale::from_tag("en-US"), Ok(EnUs));
        assert_eq!(Locale::from_tag("en_us"), Ok(EnUs));
        assert_eq!(Locale::from_tag("EN-us"), Ok(EnUs));
        assert_eq!(Locale::from_tag("pt_BR"), Ok(PtBr));
        assert_eq!(Locale::from_tag("hi-in"), Ok(HiIn));
        for bad in ["en", "en-AU", "", "en-US ", " en-US", "enUS", "de-AT", "x"] {
            assert_eq!(Locale::from_tag(bad), Err(MoneyError::UnknownLocale(bad.into())), "{bad:?}");
        }
        let tags: Vec<&str> = Locale::all().iter().map(|l| l.tag()).collect();
        assert_eq!(tags, ["en-US", "en-GB", "de-DE", "fr-FR", "es-ES", "pt-BR", "en-IN", "hi-IN", "ru-RU"]);
        for &l in Locale::all() {
            assert_eq!(Locale::from_tag(l.tag()), Ok(l));
            assert_eq!(l.tag().parse::<Locale>(), Ok(l));
            assert_eq!(l.to_string(), l.tag());
            let json = serde_json::to_string(&l).unwrap();
            assert_eq!(json, format!("\"{}\"", l.tag()));
            assert_eq!(serde_json::from_str::<Locale>(&json).unwrap(), l);
        }
        assert_eq!(serde_json::from_str::<Locale>("\"ru_ru\"").unwrap(), RuRu);
        assert!(serde_json::from_str::<Locale>("\"xx-YY\"").unwrap_err().to_string().contains("xx-YY"));
    }

    #[test]
    fn default_currencies() {
        let got: Vec<&str> = Locale::all().iter().map(|l| l.default_currency().code()).collect();
        assert_eq!(got, ["USD", "GBP", "EUR", "EUR", "EUR", "BRL", "INR", "INR", "RUB"]);
    }

    #[test]
    fn symbol_tables_are_sorted_known_and_distinct_from_codes() {
        for &l in Locale::all() {
            let symbols = l.data().symbols;
            for pair in symbols.windows(2) {
                assert!(pair[0].0 < pair[1].0, "{l}: {} before {}", pair[0].0, pair[1].0);
            }
            for &(code, symbol) in symbols {
                assert_eq!(cur(code).code(), code);
                assert_ne!(code, symbol);
                assert!(!symbol.is_empty() && !symbol.chars().any(|c| c.is_ascii_digit()), "{l} {code}");
                assert_eq!(l.currency_symbol(cur(code)), symbol);
            }
        }
    }

    #[test]
    fn symbols_per_locale() {
        let table: &[(Locale, [&str; 8])] = &[
            // USD, EUR, GBP, JPY, INR, BRL, RUB, BHD
            (EnUs, ["$", "€", "£", "¥", "₹", "R$", "RUB", "BHD"]),
            (EnGb, ["US$", "€", "£", "JP¥", "₹", "R$", "RUB", "BHD"]),
            (DeDe, ["$", "€", "£", "¥", "₹", "R$", "RUB", "BHD"]),
            (FrFr, ["$US", "€", "£GB", "JPY", "₹", "R$", "RUB", "BHD"]),
            (EsEs, ["US$", "€", "GBP", "JPY", "INR", "BRL", "RUB", "BHD"]),
            (PtBr, ["US$", "€", "£", "JP¥", "₹", "R$", "RUB", "BHD"]),
            (EnIn, ["$", "€", "£", "JP¥", "₹", "R$", "RUB", "BHD"]),
            (HiIn, ["$", "€", "£", "JP¥", "₹", "R$", "RUB", "BHD"]),
            (RuRu, ["$", "€", "£", "¥", "₹", "R$", "₽", "BHD"]),
        ];
        let codes = ["USD", "EUR", "GBP", "JPY", "INR", "BRL", "RUB", "BHD"];
        for (locale, symbols) in table {
            for (code, symbol) in codes.iter().zip(symbols) {
                assert_eq!(locale.currency_symbol(cur(code)), *symbol, "{locale} {code}");
            }
        }
    }

    #[test]
    fn en_us() {
        assert_eq!(fmt(123_456, "USD", EnUs), "$1,234.56");
        assert_eq!(fmt(-123_456, "USD", EnUs), "-$1,234.56");
        assert_eq!(fmt(0, "USD", EnUs), "$0.00");
        assert_eq!(fmt(5, "USD", EnUs), "$0.05");
        assert_eq!(fmt(-5, "USD", EnUs), "-$0.05");
        assert_eq!(fmt(99_999, "USD", EnUs), "$999.99");
        assert_eq!(fmt(123_456_789_012, "USD", EnUs), "$1,234,567,890.12");
        assert_eq!(fmt(1_234_567, "EUR", EnUs), "€12,345.67");
        assert_eq!(fmt(100, "GBP", EnUs), "£1.00");
        assert_eq!(fmt(1_234_567_890, "INR", EnUs), "₹12,345,678.90");
        assert_eq!(fmt(123_456, "BRL", EnUs), "R$1,234.56");
        assert_eq!(fmt(123_456, "RUB", EnUs), "RUB_1,234.56");
        assert_eq!(fmt(1234, "JPY", EnUs), "¥1,234");
        assert_eq!(fmt(-1234, "JPY", EnUs), "-¥1,234");
        assert_eq!(fmt(0, "JPY", EnUs), "¥0");
        assert_eq!(fmt(1_234_567, "BHD", EnUs), "BHD_1,234.567");
        assert_eq!(fmt(-5, "BHD", EnUs), "-BHD_0.005");
        assert_eq!(fmt(100, "CHF", EnUs), "CHF_1.00");
        assert_eq!(fmt(12_345, "CLF", EnUs), "CLF_1.2345");
        assert_eq!(fmt(500, "CAD", EnUs), "CA$5.00");
        assert_eq!(fmt(5, "XOF", EnUs), "F^CFA_5");
        assert_eq!(fmt(1000, "KRW", EnUs), "₩1,000");
    }

    #[test]
    fn en_gb() {
        assert_eq!(fmt(123_456, "GBP", EnGb), "£1,234.56");
        assert_eq!(fmt(-123_456, "GBP", EnGb), "-£1,234.56");
        assert_eq!(fmt(123_456, "USD", EnGb), "US$1,234.56");
        assert_eq!(fmt(-123_456, "USD", EnGb), "-US$1,234.56");
        assert_eq!(fmt(123_456, "EUR", EnGb), "€1,234.56");
        assert_eq!(fmt(1234, "JPY", EnGb), "JP¥1,234");
        assert_eq!(fmt(1_234_567_890, "INR", EnGb), "₹12,345,678.90");
        assert_eq!(fmt(123_456, "BRL", EnGb), "R$1,234.56");
        assert_eq!(fmt(123_456, "RUB", EnGb), "RUB_1,234.56");
        assert_eq!(fmt(1_234_567, "BHD", EnGb), "BHD_1,234.567");
        assert_eq!(fmt(0, "GBP", EnGb), "£0.00");
        assert_eq!(fmt(5, "GBP", EnGb), "£0.05");
    }

    #[test]
    fn de_de() {
        assert_eq!(fmt(123_456, "EUR", DeDe), "1.234,56_€");
        assert_eq!(fmt(-123_456, "EUR", DeDe), "-1.234,56_€");
        assert_eq!(fmt(0, "EUR", DeDe), "0,00_€");
        assert_eq!(fmt(5, "EUR", DeDe), "0,05_€");
        assert_eq!(fmt(99_999, "EUR", DeDe), "999,99_€");
        assert_eq!(fmt(123_456_789_012, "EUR", DeDe), "1.234.567.890,12_€");
        assert_eq!(fmt(123_456, "USD", DeDe), "1.234,56_$");
        assert_eq!(fmt(123_456, "GBP", DeDe), "1.234,56_£");
        assert_eq!(fmt(1234, "JPY", DeDe), "1.234_¥");
        assert_eq!(fmt(1_234_567_890, "INR", DeDe), "12.345.678,90_₹");
        assert_eq!(fmt(123_456, "BRL", DeDe), "1.234,56_R$");
        assert_eq!(fmt(123_456, "RUB", DeDe), "1.234,56_RUB");
        assert_eq!(fmt(1_234_567, "BHD", DeDe), "1.234,567_BHD");
        assert_eq!(fmt(500, "AUD", DeDe), "5,00_AU$");
    }

    #[test]
    fn fr_fr() {
        assert_eq!(fmt(123_456, "EUR", FrFr), "1^234,56_€");
        assert_eq!(fmt(-123_456, "EUR", FrFr), "-1^234,56_€");
        assert_eq!(fmt(0, "EUR", FrFr), "0,00_€");
        assert_eq!(fmt(5, "EUR", FrFr), "0,05_€");
        assert_eq!(fmt(123_456_789_012, "EUR", FrFr), "1^234^567^890,12_€");
        assert_eq!(fmt(123_456, "USD", FrFr), "1^234,56_$US");
        assert_eq!(fmt(123_456, "GBP", FrFr), "1^234,56_£GB");
        assert_eq!(fmt(1234, "JPY", FrFr), "1^234_JPY");
        assert_eq!(fmt(1_234_567_890, "INR", FrFr), "12^345^678,90_₹");
        assert_eq!(fmt(123_456, "BRL", FrFr), "1^234,56_R$");
        assert_eq!(fmt(123_456, "RUB", FrFr), "1^234,56_RUB");
        assert_eq!(fmt(1_234_567, "BHD", FrFr), "1^234,567_BHD");
        assert_eq!(fmt(500, "CAD", FrFr), "5,00_$CA");
    }

    #[test]
    fn es_es_minimum_grouping_digits() {
        assert_eq!(fmt(123_456, "EUR", EsEs), "1234,56_€");
        assert_eq!(fmt(-123_456, "EUR", EsEs), "-1234,56_€");
        assert_eq!(fmt(1_234_567, "EUR", EsEs), "12.345,67_€");
        assert_eq!(fmt(123_456_789, "EUR", EsEs), "1.234.567,89_€");
        assert_eq!(fmt(0, "EUR", EsEs), "0,00_€");
        assert_eq!(fmt(5, "EUR", EsEs), "0,05_€");
        assert_eq!(fmt(123_456, "USD", EsEs), "1234,56_US$");
        assert_eq!(fmt(123_456, "GBP", EsEs), "1234,56_GBP");
        assert_eq!(fmt(1234, "JPY", EsEs), "1234_JPY");
        assert_eq!(fmt(12_345, "JPY", EsEs), "12.345_JPY");
        assert_eq!(fmt(1_234_567_890, "INR", EsEs), "12.345.678,90_INR");
        assert_eq!(fmt(123_456, "BRL", EsEs), "1234,56_BRL");
        assert_eq!(fmt(123_456, "RUB", EsEs), "1234,56_RUB");
        assert_eq!(fmt(1_234_567, "BHD", EsEs), "1234,567_BHD");
    }

    #[test]
    fn pt_br() {
        assert_eq!(fmt(123_456, "BRL", PtBr), "R$_1.234,56");
        assert_eq!(fmt(-123_456, "BRL", PtBr), "-R$_1.234,56");
        assert_eq!(fmt(0, "BRL", PtBr), "R$_0,00");
        assert_eq!(fmt(5, "BRL", PtBr), "R$_0,05");
        assert_eq!(fmt(123_456_789_012, "BRL", PtBr), "R$_1.234.567.890,12");
        assert_eq!(fmt(123_456, "USD", PtBr), "US$_1.234,56");
        assert_eq!(fmt(123_456, "EUR", PtBr), "€_1.234,56");
        assert_eq!(fmt(123_456, "GBP", PtBr), "£_1.234,56");
        assert_eq!(fmt(1234, "JPY", PtBr), "JP¥_1.234");
        assert_eq!(fmt(1_234_567_890, "INR", PtBr), "₹_12.345.678,90");
        assert_eq!(fmt(123_456, "RUB", PtBr), "RUB_1.234,56");
        assert_eq!(fmt(1_234_567, "BHD", PtBr), "BHD_1.234,567");
    }

    #[test]
    fn en_in_and_hi_in_lakh_crore() {
        for locale in [EnIn, HiIn] {
            assert_eq!(fmt(1_234_567_890, "INR", locale), "₹1,23,45,678.90");
            assert_eq!(fmt(-1_234_567_890, "INR", locale), "-₹1,23,45,678.90");
            assert_eq!(fmt(123_456, "INR", locale), "₹1,234.56");
            assert_eq!(fmt(12_345_678, "INR", locale), "₹1,23,456.78");
            assert_eq!(fmt(100_000_000_000, "INR", locale), "₹1,00,00,00,000.00");
            assert_eq!(fmt(0, "INR", locale), "₹0.00");
            assert_eq!(fmt(5, "INR", locale), "₹0.05");
            assert_eq!(fmt(99_999, "INR", locale), "₹999.99");
            assert_eq!(fmt(123_456, "USD", locale), "$1,234.56");
            assert_eq!(fmt(123_456, "EUR", locale), "€1,234.56");
            assert_eq!(fmt(123_456, "GBP", locale), "£1,234.56");
            assert_eq!(fmt(1_234_567, "JPY", locale), "JP¥12,34,567");
            assert_eq!(fmt(123_456, "BRL", locale), "R$1,234.56");
            assert_eq!(fmt(123_456, "RUB", locale), "RUB_1,234.56");
            assert_eq!(fmt(123_456_789, "BHD", locale), "BHD_1,23,456.789");
        }
    }

    #[test]
    fn ru_ru() {
        assert_eq!(fmt(123_456, "RUB", RuRu), "1_234,56_₽");
        assert_eq!(fmt(-123_456, "RUB", RuRu), "-1_234,56_₽");
        assert_eq!(fmt(0, "RUB", RuRu), "0,00_₽");
        assert_eq!(fmt(5, "RUB", RuRu), "0,05_₽");
        assert_eq!(fmt(123_456_789_012, "RUB", RuRu), "1_234_567_890,12_₽");
        assert_eq!(fmt(123_456, "USD", RuRu), "1_234,56_$");
        assert_eq!(fmt(123_456, "EUR", RuRu), "1_234,56_€");
        assert_eq!(fmt(123_456, "GBP", RuRu), "1_234,56_£");
        assert_eq!(fmt(1234, "JPY", RuRu), "1_234_¥");
        assert_eq!(fmt(1_234_567_890, "INR", RuRu), "12_345_678,90_₹");
        assert_eq!(fmt(123_456, "BRL", RuRu), "1_234,56_R$");
        assert_eq!(fmt(1_234_567, "BHD", RuRu), "1_234,567_BHD");
        assert_eq!(fmt(100, "UAH", RuRu), "1,00_₴");
    }

    #[test]
    fn extreme_amounts() {
        assert_eq!(fmt(i64::MIN, "USD", EnUs), "-$92,233,720,368,547,758.08");
        assert_eq!(fmt(i64::MAX, "JPY", EnIn), "JP¥92,23,37,20,36,85,47,75,807");
        assert_eq!(fmt(i64::MIN, "CLF", DeDe), "-922.337.203.685.477,5808_CLF");
    }

    #[test]
    fn decimals_without_symbol() {
        assert_eq!(visible(&format_decimal(123_456, 2, EnUs)), "1,234.56");
        assert_eq!(visible(&format_decimal(-5, 2, EnUs)), "-0.05");
        assert_eq!(visible(&format_decimal(123_456, 2, DeDe)), "1.234,56");
        assert_eq!(visible(&format_decimal(123_456, 2, FrFr)), "1^234,56");
        assert_eq!(visible(&format_decimal(123_456, 2, EsEs)), "1234,56");
        assert_eq!(visible(&format_decimal(1_234_567, 2, EsEs)), "12.345,67");
        assert_eq!(visible(&format_decimal(1_234_567_890, 2, EnIn)), "1,23,45,678.90");
        assert_eq!(visible(&format_decimal(1_234_567_890, 2, HiIn)), "1,23,45,678.90");
        assert_eq!(visible(&format_decimal(123_456, 2, RuRu)), "1_234,56");
        assert_eq!(visible(&format_decimal(123_456, 3, PtBr)), "123,456");
        assert_eq!(visible(&format_decimal(0, 0, EnGb)), "0");
        assert_eq!(visible(&format_decimal(7, 4, EnUs)), "0.0007");
        assert_eq!(visible(&format_integer(-1_234_567, EnUs)), "-1,234,567");
        assert_eq!(visible(&format_integer(1_234_567, EnIn)), "12,34,567");
        assert_eq!(visible(&format_integer(1000, EsEs)), "1000");
        assert_eq!(visible(&format_integer(10_000, EsEs)), "10.000");
        assert_eq!(visible(&format_integer(999, DeDe)), "999");
    }

    #[test]
    fn dates() {
        let d = date(2026, 1, 31);
        let expected = [
            (EnUs, "1/31/26"),
            (EnGb, "31/01/2026"),
            (DeDe, "31.01.26"),
            (FrFr, "31/01/2026"),
            (EsEs, "31/1/26"),
            (PtBr, "31/01/2026"),
            (EnIn, "31/01/26"),
            (HiIn, "31/1/26"),
            (RuRu, "31.01.2026"),
        ];
        for (locale, want) in expected {
            assert_eq!(format_date(d, locale), want, "{locale}");
        }
        assert_eq!(format_date(date(2005, 12, 3), EnUs), "12/3/05");
        assert_eq!(format_date(date(2005, 12, 3), DeDe), "03.12.05");
        assert_eq!(format_date(date(2005, 12, 3), EsEs), "3/12/05");
        assert_eq!(format_date(date(999, 7, 4), EnGb), "04/07/999");
        assert_eq!(format_date(date(0, 1, 1), RuRu), "01.01.1");
        assert_eq!(format_date(date(-9, 1, 1), EnUs), "1/1/10");
        for &l in Locale::all() {
            assert!(l.short_date_pattern().chars().all(|c| "dMy./".contains(c)), "{l}");
        }
    }

    #[test]
    fn patterns() {
        let p = Pattern::parse("¤#,##,##0.00");
        assert_eq!((p.prefix, p.suffix, p.primary_group, p.secondary_group), ("¤", "", 3, 2));
        let p = Pattern::parse("#,##0.00\u{a0}¤");
        assert_eq!((p.prefix, p.suffix, p.primary_group, p.secondary_group), ("", "\u{a0}¤", 3, 3));
        let p = Pattern::parse("¤\u{a0}#,##0.00");
        assert_eq!((p.prefix, p.suffix), ("¤\u{a0}", ""));
        let p = Pattern::parse("0.00");
        assert_eq!((p.primary_group, p.secondary_group), (0, 0));
    }

    #[test]
    fn currency_spacing_classification() {
        for c in ['$', '€', '£', '¥', '₹', '₽', '₩', '₪', '₫', '₱', '₴', '฿', '\u{a0}', '\u{202f}', ' ']
        {
            assert!(is_symbol_or_separator(c), "{c:?}");
        }
        for c in ['A', 'D', 'z', '.', '7', 'Т'] {
            assert!(!is_symbol_or_separator(c), "{c:?}");
        }
        assert_eq!(fmt(100, "XCG", EnUs), "Cg._1.00");
    }

    fn any_currency() -> impl Strategy<Value = Currency> {
        prop::sample::select(Currency::all().collect::<Vec<_>>())
    }

    fn any_locale() -> impl Strategy<Value = Locale> {
        prop::sample::select(Locale::all().to_vec())
    }

    proptest! {
        #[test]
        fn format_money_contains_the_digits(amount in any::<i64>(), currency in any_currency(), locale in any_locale()) {
            let m = Money::new(amount, currency);
            let formatted = format_money(m, locale);
            let digits: String = formatted.chars().filter(char::is_ascii_digit).collect();
            let (int_part, frac_part) = split_digits(amount.unsigned_abs(), currency.exponent());
            prop_assert_eq!(digits, format!("{int_part}{frac_part}"));
            prop_assert_eq!(formatted.starts_with('-'), amount < 0);
            prop_assert!(formatted.contains(locale.currency_symbol(currency)));
            let plain = format_decimal(amount, currency.exponent(), locale);
            prop_assert!(formatted.contains(plain.trim_start_matches('-')));
        }

        #[test]
        fn grouping_round_trips(n in any::<i64>(), locale in any_locale()) {
            let s = format_integer(n, locale);
            let stripped: String = s.replace(locale.group_separator(), "");
            prop_assert_eq!(stripped, n.to_string());
        }

        #[test]
        fn dates_never_panic(days in -3_652_059_i64..=2_932_896, locale in any_locale()) {
            let d = jiff::civil::Date::new(1970, 1, 1).unwrap().checked_add(jiff::Span::new().days(days));
            if let Ok(d) = d {
                let s = format_date(d, locale);
                prop_assert!(s.contains(&d.day().to_string()));
            }
        }
    }
}
