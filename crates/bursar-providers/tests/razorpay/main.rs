//! The Razorpay connector against the local Razorpay double.

mod charges;
mod checkout;
mod failures;
mod refunds;
mod webhooks;

use std::collections::BTreeMap;
use std::time::Duration;

use bursar_providers::razorpay::{
    checkout_signature, razorpay_amount, verify_checkout_signature, RazorpayConfig, RazorpayConnector,
};
use bursar_providers::testkit::razorpay::{
    payment_payload, sign, FakeRazorpay, SignedWebhook, TestCard, KEY_ID, KEY_SECRET,
};
use bursar_providers::{
    ChargeOutcome, ChargeRequest, CheckoutRequest, Connector, CustomerInfo, MethodDetails, Money, PaymentStatus,
    ProviderError, RefundOutcome, RefundRequest, WebhookError, WebhookEvent, WebhookKind,
};
use serde_json::{json, Value};

fn customer() -> CustomerInfo {
    CustomerInfo {
        customer_id: "cus_01".into(),
        email: Some("learner@example.com".into()),
        name: Some("Ada Learner".into()),
        country: Some("IN".into()),
        phone: Some("+919876543210".into()),
    }
}

fn inr(minor: i64) -> Money {
    Money::new(minor, "INR")
}

fn checkout(payment_id: &str, amount: Money) -> CheckoutRequest {
    CheckoutRequest {
        payment_id: payment_id.into(),
        amount,
        description: "Course: Rust for educators".into(),
        customer: customer(),
        provider_customer: None,
        save_method: false,
        success_url: "https://school.example/pay/done".into(),
        cancel_url: "https://school.example/pay/cancel".into(),
        metadata: BTreeMap::from([("plan".to_owned(), "annual".to_owned())]),
    }
}

fn charge(payment_id: &str, amount: Money, customer_id: &str, token: &str) -> ChargeRequest {
    ChargeRequest {
        payment_id: payment_id.into(),
        amount,
        description: "Renewal".into(),
        customer: customer(),
        provider_customer: Some(customer_id.into()),
        method_token: token.into(),
        metadata: BTreeMap::new(),
    }
}

fn refund(refund_id: &str, payment_id: &str, amount: Money) -> RefundRequest {
    RefundRequest { refund_id: refund_id.into(), provider_payment_id: payment_id.into(), amount, reason: None }
}

async fn setup() -> (FakeRazorpay, RazorpayConnector) {
    let fake = FakeRazorpay::start().await;
    let connector = RazorpayConnector::new(fake.config()).expect("connector");
    (fake, connector)
}

/// A checkout paid and completed: the Razorpay payment id.
async fn paid(fake: &FakeRazorpay, razorpay: &RazorpayConnector, payment_id: &str, amount: Money) -> String {
    let session = razorpay.create_checkout(&checkout(payment_id, amount)).await.unwrap();
    let params = fake.pay_order(&session.provider_ref, TestCard::VISA);
    let (outcome, _) = razorpay.complete_checkout(&session, &params).await.unwrap();
    let ChargeOutcome::Succeeded { provider_payment_id, .. } = outcome else { panic!("{outcome:?}") };
    provider_payment_id
}

fn now() -> jiff::Timestamp {
    jiff::Timestamp::now()
}
