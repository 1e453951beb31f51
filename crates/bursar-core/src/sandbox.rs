//! The built-in `sandbox` payment provider (test mode only): deterministic
//! test payment methods for demos and tests, settled inside Bursar. The
//! tokens and decline codes follow Stripe's test cards, so tests written
//! against the sandbox read the same as tests against Stripe.

use crate::providers::Answer;
use bursar_store::payments::PaymentRow;

/// (token, brand, last4, behaviour)
pub const TEST_METHODS: &[(&str, &str, &str, Behaviour)] = &[
    ("pm_card_visa", "visa", "4242", Behaviour::Succeeds),
    ("pm_card_mastercard", "mastercard", "4444", Behaviour::Succeeds),
    ("pm_card_chargeDeclined", "visa", "0002", Behaviour::Declines("card_declined")),
    ("pm_card_chargeDeclinedInsufficientFunds", "visa", "9995", Behaviour::Declines("insufficient_funds")),
    ("pm_card_chargeDeclinedExpiredCard", "visa", "0069", Behaviour::Declines("expired_card")),
    // Off-session charges of a card that asks for 3-D Secure are declined
    // with `authentication_required`, as Stripe does.
    ("pm_card_authenticationRequired", "visa", "3184", Behaviour::Declines("authentication_required")),
    // Accepted as processing; settles successfully when next checked.
    ("pm_card_processing", "visa", "1881", Behaviour::Processing),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    Succeeds,
    Declines(&'static str),
    Processing,
}

/// The outcome of a sandbox charge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    Processing,
    Declined(String),
}

pub fn method(token: &str) -> Option<(&'static str, &'static str, &'static str, Behaviour)> {
    TEST_METHODS.iter().find(|m| m.0 == token).copied()
}

/// Charges a test method (`None`: the implicit test card, which succeeds).
pub fn charge(token: Option<&str>) -> Outcome {
    match token.and_then(method).map(|m| m.3) {
        Some(Behaviour::Declines(code)) => Outcome::Declined(code.to_string()),
        Some(Behaviour::Processing) => Outcome::Processing,
        _ => Outcome::Succeeded,
    }
}

/// A person-readable message for a decline code.
pub fn message(code: &str) -> &'static str {
    match code {
        "insufficient_funds" => "the card has insufficient funds",
        "expired_card" => "the card has expired",
        "authentication_required" => "the bank asks the cardholder to authenticate this payment",
        "payment_method_missing" => "the customer has no payment method",
        _ => "the card was declined",
    }
}

/// Asking the sandbox about a payment again: a processing payment has
/// settled. (The sandbox answers every other charge at once, so it has
/// nothing else to say.)
pub fn check(p: &PaymentRow) -> Answer {
    let pid = p.provider_payment_id.clone().unwrap_or_else(|| format!("sbx_{}", &p.id[4..]));
    match p.status.as_str() {
        "processing" => Answer::Succeeded { provider_payment_id: pid, fee: None },
        other => Answer::Unknown { detail: format!("the sandbox has no news of a {other} payment") },
    }
}
