//! The `Stripe-Signature` header parser and the event mapper: any header and
//! body give an answer, never a panic; a header we sign ourselves verifies.
#![no_main]

use bursar_providers::stripe::{parse_event, sign_webhook, verify_signature};
use libfuzzer_sys::fuzz_target;
use std::time::Duration;

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    let (header, body) = data.split_at(split);
    let body = body.get(1..).unwrap_or_default();
    let Ok(header) = std::str::from_utf8(header) else { return };
    let secrets = vec!["whsec_test".to_string(), String::new()];
    let now = jiff::Timestamp::from_second(1_800_000_000).expect("a valid instant");
    let _ = verify_signature(header, body, &secrets, Duration::from_secs(300), now);
    let _ = verify_signature(header, body, &secrets, Duration::MAX, jiff::Timestamp::MAX);
    let own = sign_webhook("whsec_test", now.as_second(), body);
    assert!(verify_signature(&own, body, &secrets, Duration::from_secs(300), now).is_ok());
    let _ = parse_event(body);
});
