//! VAT ids: parsing never panics, and an id that parsed parses again from
//! its compact form to the same id.
#![no_main]

use bursar_domain::vat_id::VatId;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(v) = VatId::parse(text) {
        assert_eq!(VatId::parse(&v.as_string()).as_ref(), Ok(&v));
        assert!(!v.iso_country().is_empty());
        let _ = v.is_eu();
    }
});
