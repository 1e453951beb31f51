//! Decimal amounts: `Money::parse` in any currency, the decimal round trip,
//! locale formatting of what parsed, and ECB rate parsing.
#![no_main]

use bursar_domain::fx::parse_rate;
use bursar_domain::money::{format_money, Currency, Locale, Money, MAX_AMOUNT_MINOR};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let currencies: Vec<Currency> = Currency::all().collect();
    let currency = currencies[usize::from(pick) % currencies.len()];
    if let Ok(m) = Money::parse(text, currency) {
        assert!(m.amount_minor.unsigned_abs() <= MAX_AMOUNT_MINOR.unsigned_abs());
        let back = Money::parse(&m.to_decimal_string(), currency).expect("a formatted amount parses again");
        assert_eq!(back, m);
        for locale in Locale::all() {
            assert!(!format_money(m, *locale).is_empty());
        }
    }
    if let Ok(rate) = parse_rate(text) {
        assert!(rate > 0);
    }
});
