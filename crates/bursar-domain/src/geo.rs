//! Countries (ISO 3166-1 alpha-2) and the currency a customer in each is
//! billed in by default.

use crate::money::{Currency, Locale};

/// Every officially assigned ISO 3166-1 alpha-2 code.
const COUNTRIES: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ \
BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET \
FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR \
IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN \
MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY \
QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR \
TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

/// Euro area members and the territories and microstates that use the euro.
pub const EUROZONE: &[&str] = &[
    "AT", "BE", "BG", "CY", "DE", "EE", "ES", "FI", "FR", "GR", "HR", "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PT",
    "SI", "SK", "AD", "MC", "SM", "VA", "ME", "XK", "GF", "GP", "MQ", "YT", "RE", "BL", "MF", "PM", "AX",
];

/// Country codes other than the euro area whose own currency Bursar bills in
/// by default.
const NATIONAL: &[(&str, &str)] = &[
    ("US", "USD"),
    ("GB", "GBP"),
    ("IN", "INR"),
    ("BR", "BRL"),
    ("RU", "RUB"),
    ("JP", "JPY"),
    ("BH", "BHD"),
    ("CA", "CAD"),
    ("AU", "AUD"),
    ("NZ", "NZD"),
    ("CH", "CHF"),
    ("LI", "CHF"),
    ("SE", "SEK"),
    ("NO", "NOK"),
    ("DK", "DKK"),
    ("PL", "PLN"),
    ("CZ", "CZK"),
    ("HU", "HUF"),
    ("MX", "MXN"),
    ("AR", "ARS"),
    ("CO", "COP"),
    ("CL", "CLP"),
    ("ZA", "ZAR"),
    ("SG", "SGD"),
    ("HK", "HKD"),
    ("AE", "AED"),
    ("SA", "SAR"),
    ("TR", "TRY"),
    ("ID", "IDR"),
    ("MY", "MYR"),
    ("TH", "THB"),
    ("PH", "PHP"),
    ("EG", "EGP"),
    ("NG", "NGN"),
    ("KE", "KES"),
    ("UA", "UAH"),
    ("IL", "ILS"),
    ("KR", "KRW"),
    ("VN", "VND"),
    ("CN", "CNY"),
    ("KW", "KWD"),
    ("OM", "OMR"),
    ("JO", "JOD"),
    ("IS", "ISK"),
    ("UY", "UYU"),
    ("PE", "PEN"),
    ("PK", "PKR"),
    ("BD", "BDT"),
    ("QA", "QAR"),
];

/// Normalises and checks a country code: `"de"` → `"DE"`.
pub fn parse_country(code: &str) -> Option<String> {
    let up = code.to_ascii_uppercase();
    (up.len() == 2 && COUNTRIES.split(' ').any(|c| c == up)).then_some(up)
}

/// The currency a customer in `country` is billed in unless they choose one.
/// Countries without a configured currency are billed in USD.
pub fn currency_for_country(country: &str) -> Currency {
    let code = if EUROZONE.contains(&country) {
        "EUR"
    } else {
        NATIONAL.iter().find(|(c, _)| *c == country).map(|(_, cur)| *cur).unwrap_or("USD")
    };
    Currency::from_code(code).unwrap_or(Currency::USD)
}

/// The billing currency: an explicit choice wins, then the country, then the
/// locale, then USD.
pub fn billing_currency(preferred: Option<Currency>, country: Option<&str>, locale: Option<Locale>) -> Currency {
    if let Some(c) = preferred {
        return c;
    }
    if let Some(c) = country {
        return currency_for_country(c);
    }
    if let Some(l) = locale {
        return l.default_currency();
    }
    Currency::USD
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulgaria_bills_in_euro() {
        // Bulgaria adopted the euro on 2026-01-01.
        assert!(EUROZONE.contains(&"BG"));
        assert_eq!(currency_for_country("BG"), Currency::EUR);
        for c in EUROZONE {
            assert_eq!(currency_for_country(c), Currency::EUR, "{c}");
        }
        for c in COUNTRIES.split(' ') {
            assert!(currency_for_country(c).is_current(), "{c} bills in a withdrawn currency");
        }
    }

    #[test]
    fn countries_parse_and_map_to_currencies() {
        assert_eq!(parse_country("de").as_deref(), Some("DE"));
        assert_eq!(parse_country("XX"), None);
        assert_eq!(parse_country("DEU"), None);
        assert_eq!(COUNTRIES.split(' ').count(), 249);
        assert_eq!(currency_for_country("DE").code(), "EUR");
        assert_eq!(currency_for_country("IN").code(), "INR");
        assert_eq!(currency_for_country("BH").code(), "BHD");
        assert_eq!(currency_for_country("KZ").code(), "USD");
        for (c, cur) in NATIONAL {
            assert!(parse_country(c).is_some(), "{c}");
            assert_eq!(currency_for_country(c).code(), *cur);
        }
    }

    #[test]
    fn explicit_choice_beats_country_beats_locale() {
        let eur = Currency::from_code("EUR").unwrap();
        let ru = Locale::from_tag("ru-RU").unwrap();
        assert_eq!(billing_currency(Some(eur), Some("US"), Some(ru)).code(), "EUR");
        assert_eq!(billing_currency(None, Some("US"), Some(ru)).code(), "USD");
        assert_eq!(billing_currency(None, None, Some(ru)).code(), "RUB");
        assert_eq!(billing_currency(None, None, None).code(), "USD");
    }
}
