//! ECB reference-rate documents: parsing never panics; what parses converts
//! between any two of its currencies without panicking, and every parsed
//! rate is positive.
#![no_main]

use bursar_domain::fx::{convert, parse_ecb};
use bursar_domain::money::Currency;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(set) = parse_ecb(text) else { return };
    assert!(set.per_eur_micro.values().all(|r| *r > 0));
    let currencies: Vec<Currency> = set.per_eur_micro.keys().filter_map(|c| Currency::from_code(c).ok()).collect();
    for from in currencies.iter().take(4) {
        for to in currencies.iter().take(4) {
            for amount in [0, 1, -1, 123_456_789, i64::MAX, i64::MIN] {
                let _ = convert(amount, *from, *to, &set.per_eur_micro);
            }
        }
    }
});
