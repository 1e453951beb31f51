//! PayPal webhook bodies as mapped once PayPal has confirmed the signature
//! (the confirmation itself is an online call and is not fuzzed): never a
//! panic on any body.
#![no_main]

use bursar_providers::paypal::{parse_paypal_amount, PaypalConfig, PaypalConnector};
use bursar_providers::{Connector, HttpSettings};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use std::time::Duration;

fn connector() -> &'static PaypalConnector {
    static C: OnceLock<PaypalConnector> = OnceLock::new();
    C.get_or_init(|| {
        PaypalConnector::new(PaypalConfig {
            client_id: "fuzz".into(),
            client_secret: "fuzz".into(),
            webhook_id: "WH-FUZZ".into(),
            api_base: "http://127.0.0.1:9".into(),
            http: HttpSettings::default(),
            webhook_tolerance: Duration::from_secs(300),
        })
        .expect("a connector")
    })
}

fuzz_target!(|data: &[u8]| {
    let _ = futures::executor::block_on(connector().parse_webhook(data));
    if let Ok(text) = std::str::from_utf8(data) {
        for currency in ["USD", "JPY", "BHD", "XYZ"] {
            let _ = parse_paypal_amount(text, currency);
        }
    }
});
