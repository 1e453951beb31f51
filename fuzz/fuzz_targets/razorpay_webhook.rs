//! Razorpay webhook verification (signature header, body) through the
//! connector, which does no I/O on this path: never a panic.
#![no_main]

use bursar_providers::razorpay::{verify_checkout_signature, RazorpayConfig, RazorpayConnector};
use bursar_providers::{Connector, Headers, HttpSettings};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn connector() -> &'static RazorpayConnector {
    static C: OnceLock<RazorpayConnector> = OnceLock::new();
    C.get_or_init(|| {
        RazorpayConnector::new(RazorpayConfig {
            key_id: "rzp_test_fuzz".into(),
            key_secret: "secret".into(),
            webhook_secret: "whsec".into(),
            // Never contacted: webhook verification is local.
            api_base: "http://127.0.0.1:9".into(),
            http: HttpSettings::default(),
        })
        .expect("a connector")
    })
}

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    let (signature, body) = data.split_at(split);
    let body = body.get(1..).unwrap_or_default();
    let Ok(signature) = std::str::from_utf8(signature) else { return };
    let mut headers = Headers::new();
    headers.insert("x-razorpay-signature".into(), signature.into());
    headers.insert("x-razorpay-event-id".into(), "evt_fuzz".into());
    let now = jiff::Timestamp::from_second(1_800_000_000).expect("a valid instant");
    let _ = futures::executor::block_on(connector().verify_webhook(&headers, body, now));
    let _ = futures::executor::block_on(connector().parse_webhook(body));
    let _ = verify_checkout_signature("secret", "order_1", "pay_1", signature);
});
