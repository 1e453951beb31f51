//! Catalog documents as uploaded: JSON into `CatalogDoc`, then validation.
//! A document that validates round-trips through JSON unchanged.
#![no_main]

use bursar_domain::catalog::CatalogDoc;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(doc) = serde_json::from_slice::<CatalogDoc>(data) else { return };
    if doc.validate().is_ok() {
        let json = serde_json::to_vec(&doc).expect("a catalog serializes");
        let back: CatalogDoc = serde_json::from_slice(&json).expect("and reads back");
        assert_eq!(back, doc);
        assert!(back.validate().is_ok());
        for plan in doc.products.iter().flat_map(|p| &p.plans) {
            for m in &plan.metered {
                for q in [0, 1, 99, 1_000_000, u64::MAX] {
                    let _ = m.pricing.amount(q);
                }
            }
        }
    }
});
