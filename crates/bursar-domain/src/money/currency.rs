//! ISO 4217 currencies backed by a static table.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::MoneyError;

/// One row of the ISO 4217 table.
#[derive(Debug)]
struct CurrencyInfo {
    code: &'static str,
    numeric: u16,
    exponent: u8,
    name: &'static str,
    /// In ISO 4217 list one today; `false` for a withdrawn code kept so that
    /// stored amounts in it can still be read.
    current: bool,
}

const fn entry(code: &'static str, numeric: u16, exponent: u8, name: &'static str) -> CurrencyInfo {
    CurrencyInfo { code, numeric, exponent, name, current: true }
}

/// A code that has left ISO 4217 list one (moved to list three) but that
/// stored data may still hold.
const fn withdrawn(code: &'static str, numeric: u16, exponent: u8, name: &'static str) -> CurrencyInfo {
    CurrencyInfo { code, numeric, exponent, name, current: false }
}

/// The currency table, sorted by code (lookups binary-search it).
///
/// Source: ISO 4217 list one (published 2024-06-25) with its English names,
/// numeric codes and minor units, updated through December 2026:
///
/// * amendment 176: the Caribbean guilder XCG replaced the Netherlands
///   Antillean guilder ANG, which was withdrawn on 2025-06-30 (ANG is not in
///   the table);
/// * amendment 179 (May 2025): XAD, the Arab Accounting Dinar of the Arab
///   Monetary Fund, numeric 396, two minor-unit digits;
/// * Bulgaria adopted the euro on 2026-01-01: BGN (975) is withdrawn;
/// * the Cuban convertible peso CUC (931) left circulation with Cuba's
///   monetary unification of 2021 and has moved to the historic list.
///
/// Withdrawn codes that stored data may hold (BGN, CUC) stay in the table,
/// marked not current: [`Currency::from_code`] still reads them, and
/// [`Currency::from_code_current`] refuses them for anything new. Entries
/// whose minor unit is "N.A." in ISO 4217 (precious metals, bond-market units,
/// XDR, XSU, XUA, the testing code XTS and XXX) are left out: they have no
/// exponent and cannot be billed in.
static CURRENCIES: [CurrencyInfo; 167] = [
    entry("AED", 784, 2, "UAE Dirham"),
    entry("AFN", 971, 2, "Afghani"),
    entry("ALL", 8, 2, "Lek"),
    entry("AMD", 51, 2, "Armenian Dram"),
    entry("AOA", 973, 2, "Kwanza"),
    entry("ARS", 32, 2, "Argentine Peso"),
    entry("AUD", 36, 2, "Australian Dollar"),
    entry("AWG", 533, 2, "Aruban Florin"),
    entry("AZN", 944, 2, "Azerbaijan Manat"),
    entry("BAM", 977, 2, "Convertible Mark"),
    entry("BBD", 52, 2, "Barbados Dollar"),
    entry("BDT", 50, 2, "Taka"),
    withdrawn("BGN", 975, 2, "Bulgarian Lev"),
    entry("BHD", 48, 3, "Bahraini Dinar"),
    entry("BIF", 108, 0, "Burundi Franc"),
    entry("BMD", 60, 2, "Bermudian Dollar"),
    entry("BND", 96, 2, "Brunei Dollar"),
    entry("BOB", 68, 2, "Boliviano"),
    entry("BOV", 984, 2, "Mvdol"),
    entry("BRL", 986, 2, "Brazilian Real"),
    entry("BSD", 44, 2, "Bahamian Dollar"),
    entry("BTN", 64, 2, "Ngultrum"),
    entry("BWP", 72, 2, "Pula"),
    entry("BYN", 933, 2, "Belarusian Ruble"),
    entry("BZD", 84, 2, "Belize Dollar"),
    entry("CAD", 124, 2, "Canadian Dollar"),
    entry("CDF", 976, 2, "Congolese Franc"),
    entry("CHE", 947, 2, "WIR Euro"),
    entry("CHF", 756, 2, "Swiss Franc"),
    entry("CHW", 948, 2, "WIR Franc"),
    entry("CLF", 990, 4, "Unidad de Fomento"),
    entry("CLP", 152, 0, "Chilean Peso"),
    entry("CNY", 156, 2, "Yuan Renminbi"),
    entry("COP", 170, 2, "Colombian Peso"),
    entry("COU", 970, 2, "Unidad de Valor Real"),
    entry("CRC", 188, 2, "Costa Rican Colon"),
    withdrawn("CUC", 931, 2, "Peso Convertible"),
    entry("CUP", 192, 2, "Cuban Peso"),
    entry("CVE", 132, 2, "Cabo Verde Escudo"),
    entry("CZK", 203, 2, "Czech Koruna"),
    entry("DJF", 262, 0, "Djibouti Franc"),
    entry("DKK", 208, 2, "Danish Krone"),
    entry("DOP", 214, 2, "Dominican Peso"),
    entry("DZD", 12, 2, "Algerian Dinar"),
    entry("EGP", 818, 2, "Egyptian Pound"),
    entry("ERN", 232, 2, "Nakfa"),
    entry("ETB", 230, 2, "Ethiopian Birr"),
    entry("EUR", 978, 2, "Euro"),
    entry("FJD", 242, 2, "Fiji Dollar"),
    entry("FKP", 238, 2, "Falkland Islands Pound"),
    entry("GBP", 826, 2, "Pound Sterling"),
    entry("GEL", 981, 2, "Lari"),
    entry("GHS", 936, 2, "Ghana Cedi"),
    entry("GIP", 292, 2, "Gibraltar Pound"),
    entry("GMD", 270, 2, "Dalasi"),
    entry("GNF", 324, 0, "Guinean Franc"),
    entry("GTQ", 320, 2, "Quetzal"),
    entry("GYD", 328, 2, "Guyana Dollar"),
    entry("HKD", 344, 2, "Hong Kong Dollar"),
    entry("HNL", 340, 2, "Lempira"),
    entry("HTG", 332, 2, "Gourde"),
    entry("HUF", 348, 2, "Forint"),
    entry("IDR", 360, 2, "Rupiah"),
    entry("ILS", 376, 2, "New Israeli Sheqel"),
    entry("INR", 356, 2, "Indian Rupee"),
    entry("IQD", 368, 3, "Iraqi Dinar"),
    entry("IRR", 364, 2, "Iranian Rial"),
    entry("ISK", 352, 0, "Iceland Krona"),
    entry("JMD", 388, 2, "Jamaican Dollar"),
    entry("JOD", 400, 3, "Jordanian Dinar"),
    entry("JPY", 392, 0, "Yen"),
    entry("KES", 404, 2, "Kenyan Shilling"),
    entry("KGS", 417, 2, "Som"),
    entry("KHR", 116, 2, "Riel"),
    entry("KMF", 174, 0, "Comorian Franc"),
    entry("KPW", 408, 2, "North Korean Won"),
    entry("KRW", 410, 0, "Won"),
    entry("KWD", 414, 3, "Kuwaiti Dinar"),
    entry("KYD", 136, 2, "Cayman Islands Dollar"),
    entry("KZT", 398, 2, "Tenge"),
    entry("LAK", 418, 2, "Lao Kip"),
    entry("LBP", 422, 2, "Lebanese Pound"),
    entry("LKR", 144, 2, "Sri Lanka Rupee"),
    entry("LRD", 430, 2, "Liberian Dollar"),
    entry("LSL", 426, 2, "Loti"),
    entry("LYD", 434, 3, "Libyan Dinar"),
    entry("MAD", 504, 2, "Moroccan Dirham"),
    entry("MDL", 498, 2, "Moldovan Leu"),
    entry("MGA", 969, 2, "Malagasy Ariary"),
    entry("MKD", 807, 2, "Denar"),
    entry("MMK", 104, 2, "Kyat"),
    entry("MNT", 496, 2, "Tugrik"),
    entry("MOP", 446, 2, "Pataca"),
    entry("MRU", 929, 2, "Ouguiya"),
    entry("MUR", 480, 2, "Mauritius Rupee"),
    entry("MVR", 462, 2, "Rufiyaa"),
    entry("MWK", 454, 2, "Malawi Kwacha"),
    entry("MXN", 484, 2, "Mexican Peso"),
    entry("MXV", 979, 2, "Mexican Unidad de Inversion (UDI)"),
    entry("MYR", 458, 2, "Malaysian Ringgit"),
    entry("MZN", 943, 2, "Mozambique Metical"),
    entry("NAD", 516, 2, "Namibia Dollar"),
    entry("NGN", 566, 2, "Naira"),
    entry("NIO", 558, 2, "Cordoba Oro"),
    entry("NOK", 578, 2, "Norwegian Krone"),
    entry("NPR", 524, 2, "Nepalese Rupee"),
    entry("NZD", 554, 2, "New Zealand Dollar"),
    entry("OMR", 512, 3, "Rial Omani"),
    entry("PAB", 590, 2, "Balboa"),
    entry("PEN", 604, 2, "Sol"),
    entry("PGK", 598, 2, "Kina"),
    entry("PHP", 608, 2, "Philippine Peso"),
    entry("PKR", 586, 2, "Pakistan Rupee"),
    entry("PLN", 985, 2, "Zloty"),
    entry("PYG", 600, 0, "Guarani"),
    entry("QAR", 634, 2, "Qatari Rial"),
    entry("RON", 946, 2, "Romanian Leu"),
    entry("RSD", 941, 2, "Serbian Dinar"),
    entry("RUB", 643, 2, "Russian Ruble"),
    entry("RWF", 646, 0, "Rwanda Franc"),
    entry("SAR", 682, 2, "Saudi Riyal"),
    entry("SBD", 90, 2, "Solomon Islands Dollar"),
    entry("SCR", 690, 2, "Seychelles Rupee"),
    entry("SDG", 938, 2, "Sudanese Pound"),
    entry("SEK", 752, 2, "Swedish Krona"),
    entry("SGD", 702, 2, "Singapore Dollar"),
    entry("SHP", 654, 2, "Saint Helena Pound"),
    entry("SLE", 925, 2, "Leone"),
    entry("SOS", 706, 2, "Somali Shilling"),
    entry("SRD", 968, 2, "Surinam Dollar"),
    entry("SSP", 728, 2, "South Sudanese Pound"),
    entry("STN", 930, 2, "Dobra"),
    entry("SVC", 222, 2, "El Salvador Colon"),
    entry("SYP", 760, 2, "Syrian Pound"),
    entry("SZL", 748, 2, "Lilangeni"),
    entry("THB", 764, 2, "Baht"),
    entry("TJS", 972, 2, "Somoni"),
    entry("TMT", 934, 2, "Turkmenistan New Manat"),
    entry("TND", 788, 3, "Tunisian Dinar"),
    entry("TOP", 776, 2, "Pa’anga"),
    entry("TRY", 949, 2, "Turkish Lira"),
    entry("TTD", 780, 2, "Trinidad and Tobago Dollar"),
    entry("TWD", 901, 2, "New Taiwan Dollar"),
    entry("TZS", 834, 2, "Tanzanian Shilling"),
    entry("UAH", 980, 2, "Hryvnia"),
    entry("UGX", 800, 0, "Uganda Shilling"),
    entry("USD", 840, 2, "US Dollar"),
    entry("USN", 997, 2, "US Dollar (Next day)"),
    entry("UYI", 940, 0, "Uruguay Peso en Unidades Indexadas (UI)"),
    entry("UYU", 858, 2, "Peso Uruguayo"),
    entry("UYW", 927, 4, "Unidad Previsional"),
    entry("UZS", 860, 2, "Uzbekistan Sum"),
    entry("VED", 926, 2, "Bolívar Soberano"),
    entry("VES", 928, 2, "Bolívar Soberano"),
    entry("VND", 704, 0, "Dong"),
    entry("VUV", 548, 0, "Vatu"),
    entry("WST", 882, 2, "Tala"),
    entry("XAD", 396, 2, "Arab Accounting Dinar"),
    entry("XAF", 950, 0, "CFA Franc BEAC"),
    entry("XCD", 951, 2, "East Caribbean Dollar"),
    entry("XCG", 532, 2, "Caribbean Guilder"),
    entry("XOF", 952, 0, "CFA Franc BCEAO"),
    entry("XPF", 953, 0, "CFP Franc"),
    entry("YER", 886, 2, "Yemeni Rial"),
    entry("ZAR", 710, 2, "Rand"),
    entry("ZMW", 967, 2, "Zambian Kwacha"),
    entry("ZWG", 924, 2, "Zimbabwe Gold"),
];

/// An ISO 4217 currency: a cheap `Copy` handle to a row of a static table.
///
/// Equality, hashing and ordering follow the alphabetic code. Serializes as the
/// uppercase code (`"USD"`); deserializes from a code in any case.
#[derive(Clone, Copy)]
pub struct Currency(&'static CurrencyInfo);

/// Looks a code up at compile time; fails the build if it is not in the table.
const fn known(code: &str) -> Currency {
    let mut i = 0;
    while i < CURRENCIES.len() {
        if ascii_eq(CURRENCIES[i].code.as_bytes(), code.as_bytes()) {
            return Currency(&CURRENCIES[i]);
        }
        i += 1;
    }
    panic!("currency code missing from the ISO 4217 table");
}

const fn ascii_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

impl Currency {
    /// US Dollar.
    pub const USD: Currency = known("USD");
    /// Euro.
    pub const EUR: Currency = known("EUR");
    /// Pound Sterling.
    pub const GBP: Currency = known("GBP");
    /// Yen (exponent 0).
    pub const JPY: Currency = known("JPY");
    /// Indian Rupee.
    pub const INR: Currency = known("INR");
    /// Brazilian Real.
    pub const BRL: Currency = known("BRL");
    /// Russian Ruble.
    pub const RUB: Currency = known("RUB");
    /// Bahraini Dinar (exponent 3).
    pub const BHD: Currency = known("BHD");

    /// Looks up an ISO 4217 alphabetic code, ignoring ASCII case (`"usd"` and
    /// `"USD"` both work). Nothing is trimmed: `" USD"` is unknown.
    ///
    /// Withdrawn codes still in the table (BGN, CUC) are found, so that
    /// stored amounts stay readable; input that sets a currency for
    /// something new (a price, a customer, a cart) goes through
    /// [`Currency::from_code_current`] instead.
    pub fn from_code(code: &str) -> Result<Currency, MoneyError> {
        let bytes = code.as_bytes();
        if bytes.len() == 3 && bytes.iter().all(u8::is_ascii_alphabetic) {
            let upper = [bytes[0].to_ascii_uppercase(), bytes[1].to_ascii_uppercase(), bytes[2].to_ascii_uppercase()];
            if let Ok(i) = CURRENCIES.binary_search_by(|c| c.code.as_bytes().cmp(&upper[..])) {
                return Ok(Currency(&CURRENCIES[i]));
            }
        }
        Err(MoneyError::UnknownCurrency(code.to_string()))
    }

    /// Like [`Currency::from_code`], but a withdrawn currency is
    /// [`MoneyError::Withdrawn`]: for new prices, customers and purchases.
    pub fn from_code_current(code: &str) -> Result<Currency, MoneyError> {
        let c = Currency::from_code(code)?;
        if !c.is_current() {
            return Err(MoneyError::Withdrawn(c.code().to_string()));
        }
        Ok(c)
    }

    /// Whether the currency is in ISO 4217 list one today (not withdrawn).
    pub fn is_current(self) -> bool {
        self.0.current
    }

    /// Looks up an ISO 4217 numeric code (`840` is USD).
    pub fn from_numeric(numeric: u16) -> Result<Currency, MoneyError> {
        CURRENCIES
            .iter()
            .find(|c| c.numeric == numeric)
            .map(Currency)
            .ok_or_else(|| MoneyError::UnknownCurrency(format!("{numeric:03}")))
    }

    /// The uppercase alphabetic code, e.g. `"USD"`.
    pub fn code(self) -> &'static str {
        self.0.code
    }

    /// The number of minor-unit digits: USD 2, JPY 0, BHD 3, CLF 4.
    pub fn exponent(self) -> u8 {
        self.0.exponent
    }

    /// The ISO 4217 numeric code, e.g. `840` for USD.
    pub fn numeric(self) -> u16 {
        self.0.numeric
    }

    /// The ISO 4217 English name, e.g. `"US Dollar"`.
    pub fn name(self) -> &'static str {
        self.0.name
    }

    /// How many minor units make one major unit: `10^exponent`.
    pub fn minor_per_major(self) -> i64 {
        10_i64.pow(u32::from(self.0.exponent))
    }

    /// Every currency in the table, withdrawn ones included, in alphabetic
    /// order of code.
    pub fn all() -> impl Iterator<Item = Currency> {
        CURRENCIES.iter().map(Currency)
    }

    /// The currencies that can be billed in today (not withdrawn), in
    /// alphabetic order of code.
    pub fn current() -> impl Iterator<Item = Currency> {
        Currency::all().filter(|c| c.is_current())
    }
}

impl PartialEq for Currency {
    fn eq(&self, other: &Self) -> bool {
        self.0.code == other.0.code
    }
}

impl Eq for Currency {}

impl Hash for Currency {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.code.hash(state);
    }
}

impl PartialOrd for Currency {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Currency {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.code.cmp(other.0.code)
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Currency").field(&self.0.code).finish()
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.code)
    }
}

impl FromStr for Currency {
    type Err = MoneyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Currency::from_code(s)
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0.code)
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CodeVisitor;

        impl serde::de::Visitor<'_> for CodeVisitor {
            type Value = Currency;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an ISO 4217 currency code such as \"USD\"")
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Currency, E> {
                Currency::from_code(v).map_err(E::custom)
            }
        }

        deserializer.deserialize_str(CodeVisitor)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn c(code: &str) -> Currency {
        Currency::from_code(code).unwrap()
    }

    #[test]
    fn table_is_sorted_unique_and_well_formed() {
        for pair in CURRENCIES.windows(2) {
            assert!(pair[0].code < pair[1].code, "{} before {}", pair[0].code, pair[1].code);
        }
        let numerics: HashSet<u16> = CURRENCIES.iter().map(|c| c.numeric).collect();
        assert_eq!(numerics.len(), CURRENCIES.len(), "numeric codes are unique");
        for info in &CURRENCIES {
            assert!(info.code.len() == 3 && info.code.bytes().all(|b| b.is_ascii_uppercase()), "{}", info.code);
            assert!(info.exponent <= 4, "{}", info.code);
            assert!((1..=999).contains(&info.numeric), "{}", info.code);
            assert!(!info.name.is_empty() && info.name.trim() == info.name, "{}", info.code);
        }
        assert_eq!(Currency::all().count(), CURRENCIES.len());
    }

    #[test]
    fn required_exponents() {
        let expected: &[(&str, u8)] = &[
            ("USD", 2),
            ("EUR", 2),
            ("GBP", 2),
            ("INR", 2),
            ("BRL", 2),
            ("RUB", 2),
            ("JPY", 0),
            ("BHD", 3),
            ("KWD", 3),
            ("OMR", 3),
            ("JOD", 3),
            ("TND", 3),
            ("LYD", 3),
            ("IQD", 3),
            ("KRW", 0),
            ("VND", 0),
            ("CLP", 0),
            ("ISK", 0),
            ("UGX", 0),
            ("PYG", 0),
            ("XOF", 0),
            ("XAF", 0),
            ("CAD", 2),
            ("AUD", 2),
            ("CHF", 2),
            ("CNY", 2),
            ("SEK", 2),
            ("NOK", 2),
            ("DKK", 2),
            ("PLN", 2),
            ("CZK", 2),
            ("HUF", 2),
            ("MXN", 2),
            ("ARS", 2),
            ("COP", 2),
            ("ZAR", 2),
            ("SGD", 2),
            ("HKD", 2),
            ("NZD", 2),
            ("AED", 2),
            ("SAR", 2),
            ("TRY", 2),
            ("IDR", 2),
            ("MYR", 2),
            ("THB", 2),
            ("PHP", 2),
            ("EGP", 2),
            ("NGN", 2),
            ("KES", 2),
            ("UAH", 2),
            ("ILS", 2),
            ("CLF", 4),
            ("UYW", 4),
            ("XCG", 2),
            ("ZWG", 2),
        ];
        for &(code, exp) in expected {
            assert_eq!(c(code).exponent(), exp, "{code}");
            assert_eq!(c(code).minor_per_major(), 10_i64.pow(u32::from(exp)), "{code}");
        }
    }

    #[test]
    fn metadata() {
        let usd = c("USD");
        assert_eq!((usd.code(), usd.numeric(), usd.name()), ("USD", 840, "US Dollar"));
        assert_eq!((c("EUR").numeric(), c("EUR").name()), (978, "Euro"));
        assert_eq!((c("JPY").numeric(), c("JPY").name()), (392, "Yen"));
        assert_eq!((c("BHD").numeric(), c("BHD").name()), (48, "Bahraini Dinar"));
        assert_eq!((c("GBP").numeric(), c("GBP").name()), (826, "Pound Sterling"));
        assert_eq!(c("INR").numeric(), 356);
        assert_eq!(c("CLF").numeric(), 990);
        assert_eq!(Currency::from_numeric(840).unwrap(), usd);
        assert_eq!(Currency::from_numeric(1), Err(MoneyError::UnknownCurrency("001".into())));
        assert_eq!(Currency::USD, usd);
        assert_eq!(Currency::BHD.exponent(), 3);
        assert_eq!(Currency::JPY.code(), "JPY");
    }

    #[test]
    fn withdrawn_and_fundless_codes_are_unknown() {
        for code in ["ANG", "HRK", "SLL", "ZWL", "XXX", "XAU", "XTS", "XDR", "DEM"] {
            assert_eq!(Currency::from_code(code), Err(MoneyError::UnknownCurrency(code.into())), "{code}");
        }
    }

    #[test]
    fn the_table_is_current_as_of_december_2026() {
        // Amendment 179: the Arab Accounting Dinar.
        let xad = c("XAD");
        assert_eq!((xad.numeric(), xad.exponent(), xad.name()), (396, 2, "Arab Accounting Dinar"));
        assert!(xad.is_current());
        assert_eq!(Currency::from_numeric(396), Ok(xad));
        assert_eq!(Currency::from_code_current("xad"), Ok(xad));
        // Withdrawn, but still readable from stored rows.
        for (code, numeric) in [("BGN", 975), ("CUC", 931)] {
            let w = c(code);
            assert_eq!(w.numeric(), numeric);
            assert!(!w.is_current(), "{code}");
            assert_eq!(Currency::from_code_current(code), Err(MoneyError::Withdrawn(code.into())));
            assert_eq!(Currency::from_code_current(&code.to_lowercase()), Err(MoneyError::Withdrawn(code.into())));
            assert_eq!(Currency::from_numeric(numeric), Ok(w));
            assert!(!Currency::current().any(|x| x == w));
            assert!(Currency::all().any(|x| x == w));
            let stored: Currency = serde_json::from_str(&format!("\"{code}\"")).unwrap();
            assert_eq!(stored, w);
        }
        assert_eq!(Currency::current().count(), Currency::all().count() - 2);
        assert!(Currency::current().all(|x| Currency::from_code_current(x.code()) == Ok(x)));
        assert_eq!(Currency::from_code_current("ABC"), Err(MoneyError::UnknownCurrency("ABC".into())));
        for code in ["USD", "EUR", "XCG", "ZWG", "SLE", "VED"] {
            assert!(c(code).is_current(), "{code}");
        }
    }

    #[test]
    fn from_code_is_case_insensitive_and_trims_nothing() {
        assert_eq!(c("usd"), c("USD"));
        assert_eq!(c("uSd").code(), "USD");
        for bad in ["US", "USDX", "XXX-unknown", " USD", "USD ", "", "U$D", "ÜSD", "123"] {
            assert_eq!(Currency::from_code(bad), Err(MoneyError::UnknownCurrency(bad.into())), "{bad:?}");
        }
        assert_eq!("eur".parse::<Currency>().unwrap(), Currency::EUR);
    }

    #[test]
    fn display_debug_order_hash() {
        assert_eq!(c("usd").to_string(), "USD");
        assert_eq!(format!("{:?}", c("JPY")), "Currency(\"JPY\")");
        assert!(c("EUR") < c("USD"));
        let set: HashSet<Currency> = [c("USD"), c("usd"), c("EUR")].into_iter().collect();
        assert_eq!(set.len(), 2);
    }

    #[test]
    fn serde_round_trip() {
        assert_eq!(serde_json::to_string(&c("usd")).unwrap(), "\"USD\"");
        let back: Currency = serde_json::from_str("\"bhd\"").unwrap();
        assert_eq!(back, c("BHD"));
        let err = serde_json::from_str::<Currency>("\"ABC\"").unwrap_err().to_string();
        assert!(err.contains("ABC"), "{err}");
        assert!(serde_json::from_str::<Currency>("840").is_err());
        for cur in Currency::all() {
            let json = serde_json::to_string(&cur).unwrap();
            assert_eq!(serde_json::from_str::<Currency>(&json).unwrap(), cur);
        }
    }
}
