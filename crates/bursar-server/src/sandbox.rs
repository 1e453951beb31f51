//! The built-in `sandbox` payment provider: deterministic test payment
//! methods for demos and tests. It settles at once; the declining tokens
//! fail every charge with the decline code a real provider would give.
//! (The payments capability replaces this with provider connectors.)

/// (token, brand, last4, decline code — `None` when charges succeed)
pub const TEST_METHODS: &[(&str, &str, &str, Option<&str>)] = &[
    ("pm_card_visa", "visa", "4242", None),
    ("pm_card_mastercard", "mastercard", "4444", None),
    ("pm_card_chargeDeclined", "visa", "0002", Some("card_declined")),
    ("pm_card_chargeDeclinedInsufficientFunds", "visa", "9995", Some("insufficient_funds")),
    ("pm_card_chargeDeclinedExpiredCard", "visa", "0069", Some("expired_card")),
];

pub fn method(token: &str) -> Option<(&'static str, &'static str, &'static str, Option<&'static str>)> {
    TEST_METHODS.iter().find(|m| m.0 == token).copied()
}

/// Charges the customer's default method (a customer without one uses the
/// sandbox's implicit test card, which succeeds). `Err` carries the decline
/// code.
pub fn charge(token: Option<&str>) -> Result<(), String> {
    match token.and_then(method) {
        Some((_, _, _, Some(code))) => Err(code.to_string()),
        _ => Ok(()),
    }
}
