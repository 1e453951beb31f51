//! The Stripe connector against the local Stripe double.

mod amounts;
mod charges;
mod checkout;
mod double;
mod failures;
mod refunds;
mod replay;
mod webhooks;

use std::collections::BTreeMap;
use std::time::Duration;

use bursar_providers::stripe::{from_stripe_amount, sign_webhook, to_stripe_amount, StripeConfig, StripeConnector};
use bursar_providers::testkit::stripe::{FakeStripe, Fault, SignedWebhook, SPEC_ENV, TEST_CARD_EXP};
use bursar_providers::{
    ChargeOutcome, ChargeRequest, CheckoutRequest, CheckoutSession, Connector, CustomerInfo, Headers, HttpSettings,
    Money, PaymentStatus, ProviderError, RefundOutcome, RefundRequest, WebhookError, WebhookEvent, WebhookKind,
};
use serde_json::{json, Value};

const SPEC_SUBSET: &str = include_str!("../data/stripe-spec-subset.json");

fn config(fake: &FakeStripe, timeout: Duration) -> StripeConfig {
    let mut c = StripeConfig::new(fake.secret_key(), vec![fake.webhook_secret().to_string()]);
    c.api_base = fake.base_url().to_string();
    c.http = HttpSettings { timeout, connect_timeout: Duration::from_secs(2) };
    c
}

async fn setup() -> (FakeStripe, StripeConnector) {
    let fake = FakeStripe::start().await;
    let conn = StripeConnector::new(config(&fake, Duration::from_secs(5))).expect("client");
    (fake, conn)
}

/// Every request the connector made matched the spec and the integration
/// rules.
fn assert_clean(fake: &FakeStripe) {
    let failures = fake.validation_failures();
    assert!(failures.is_empty(), "spec validation failures: {failures:#?}");
}

fn customer(id: &str) -> CustomerInfo {
    CustomerInfo {
        customer_id: id.to_string(),
        email: Some(format!("{id}@example.edu")),
        name: Some("Ada Lovelace".to_string()),
        country: Some("GB".to_string()),
        phone: Some("+44 20 7946 0000".to_string()),
    }
}

fn checkout(pid: &str, amount: Money, save: bool, provider_customer: Option<String>) -> CheckoutRequest {
    let mut metadata = BTreeMap::new();
    metadata.insert("course".to_string(), "analytical-engines-101".to_string());
    CheckoutRequest {
        payment_id: pid.to_string(),
        amount,
        description: "Analytical Engines 101".to_string(),
        customer: customer("cus_01ada"),
        provider_customer,
        save_method: save,
        success_url: "https://school.example/paid?session_id={CHECKOUT_SESSION_ID}".to_string(),
        cancel_url: "https://school.example/cancelled".to_string(),
        metadata,
    }
}

fn charge(pid: &str, amount: Money, token: &str, provider_customer: Option<String>) -> ChargeRequest {
    ChargeRequest {
        payment_id: pid.to_string(),
        amount,
        description: "Renewal".to_string(),
        customer: customer("cus_01ada"),
        provider_customer,
        method_token: token.to_string(),
        metadata: BTreeMap::new(),
    }
}

fn eur(minor: i64) -> Money {
    Money::new(minor, "EUR")
}

/// A customer and a saved card, through Checkout.
async fn saved_card(fake: &FakeStripe, conn: &StripeConnector) -> (String, String) {
    let cus = conn.ensure_customer(&customer("cus_01ada")).await.expect("customer");
    let session =
        conn.create_checkout(&checkout("pay_first", eur(4900), true, Some(cus.clone()))).await.expect("session");
    fake.pay_checkout(&session.provider_ref, "pm_card_visa").expect("paid");
    let (_, method) = conn.complete_checkout(&session, &BTreeMap::new()).await.expect("completed");
    let method = method.expect("saved");
    assert_eq!(method.provider_customer.as_deref(), Some(cus.as_str()));
    (cus, method.token)
}

fn now() -> jiff::Timestamp {
    jiff::Timestamp::now()
}
