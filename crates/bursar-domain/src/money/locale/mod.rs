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

mod data;
mod format;
#[cfg(test)]
mod tests;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use self::data::*;
pub use self::format::{format_date, format_decimal, format_integer, format_money, format_money_in};
use super::{Currency, MoneyError};

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
