//! The Stripe connector against the local Stripe double.

use std::collections::BTreeMap;
use std::time::Duration;

use bursar_providers::stripe::{from_stripe_amount, sign_webhook, to_stripe_amount, StripeConfig, StripeConnector};
use bursar_providers::testkit::stripe::{FakeStripe, Fault, SignedWebhook, SPEC_ENV, TEST_CARD_EXP};
use bursar_providers::{
    ChargeOutcome, ChargeRequest, CheckoutRequest, CheckoutSession, Connector, CustomerInfo, Headers, HttpSettings,
    Money, PaymentStatus, ProviderError, RefundOutcome, RefundRequest, WebhookError, WebhookEvent, WebhookKind,
};
use serde_json::{json, Value};

const SPEC_SUBSET: &str = include_str!("data/stripe-spec-subset.json");

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

// ---------------------------------------------------------------------------
// Customers and Checkout
// ---------------------------------------------------------------------------

#[tokio::test]
async fn customer_is_created_once_and_found_again() {
    let (fake, conn) = setup().await;
    let first = conn.ensure_customer(&customer("cus_01ada")).await.expect("created");
    let second = conn.ensure_customer(&customer("cus_01ada")).await.expect("found");
    assert!(first.starts_with("cus_"), "{first}");
    assert_eq!(first, second);
    assert_eq!(fake.request_count("POST", "/v1/customers"), 1, "the second call finds the first customer");
    let stored = fake.object(&first).expect("stored");
    assert_eq!(stored["metadata"]["customer_id"], "cus_01ada");
    assert_eq!(stored["email"], "cus_01ada@example.edu");
    assert_eq!(stored["address"]["country"], "GB");
    assert_eq!(stored["phone"], "+44 20 7946 0000");
    let other = conn.ensure_customer(&customer("cus_02grace")).await.expect("created");
    assert_ne!(other, first);
    assert_clean(&fake);
}

#[tokio::test]
async fn checkout_session_is_created_and_completed_with_a_saved_card() {
    let (fake, conn) = setup().await;
    let cus = conn.ensure_customer(&customer("cus_01ada")).await.unwrap();
    let session = conn.create_checkout(&checkout("pay_checkout1", eur(4900), true, Some(cus.clone()))).await.unwrap();
    assert!(session.provider_ref.starts_with("cs_test_"), "{}", session.provider_ref);
    assert!(session.redirect_url.ends_with(&session.provider_ref), "{}", session.redirect_url);
    assert_eq!(session.client_params.get("session_id"), Some(&session.provider_ref));

    let cs = fake.object(&session.provider_ref).unwrap();
    assert_eq!(cs["object"], "checkout.session");
    assert_eq!(cs["mode"], "payment");
    assert_eq!(cs["amount_total"], 4900);
    assert_eq!(cs["currency"], "eur");
    assert_eq!(cs["customer"], cus.as_str());
    assert_eq!(cs["client_reference_id"], "pay_checkout1");
    assert_eq!(cs["metadata"]["payment_id"], "pay_checkout1");
    assert_eq!(cs["metadata"]["course"], "analytical-engines-101");
    assert_eq!(cs["livemode"], false);

    let sent = fake.requests().into_iter().find(|r| r.path == "/v1/checkout/sessions").unwrap();
    let has = |k: &str, v: &str| sent.params.iter().any(|(a, b)| a == k && b == v);
    assert!(has("line_items[0][price_data][currency]", "eur"));
    assert!(has("line_items[0][price_data][unit_amount]", "4900"));
    assert!(has("payment_intent_data[metadata][payment_id]", "pay_checkout1"));
    assert!(has("payment_intent_data[setup_future_usage]", "off_session"));
    assert!(has("payment_method_types[]", "card"));
    assert_eq!(sent.idempotency_key.as_deref(), Some("bursar-pay_checkout1-checkout"));

    let pi_id = fake.pay_checkout(&session.provider_ref, "pm_card_visa").unwrap();
    let mut params = BTreeMap::new();
    params.insert("session_id".to_string(), session.provider_ref.clone());
    let (outcome, method) = conn.complete_checkout(&session, &params).await.unwrap();
    assert_eq!(outcome, ChargeOutcome::Succeeded { provider_payment_id: pi_id.clone(), fee_minor: None });
    let method = method.expect("the card was saved");
    assert!(method.token.starts_with("pm_"), "{}", method.token);
    assert_eq!(method.brand.as_deref(), Some("visa"));
    assert_eq!(method.last4.as_deref(), Some("4242"));
    assert_eq!(method.exp_month, Some(TEST_CARD_EXP.0));
    assert_eq!(method.exp_year, Some(TEST_CARD_EXP.1));
    assert_eq!(fake.object(&method.token).unwrap()["customer"], cus.as_str(), "attached to the customer");
    assert_eq!(method.provider_customer.as_deref(), Some(cus.as_str()));
    let pi = fake.object(&pi_id).unwrap();
    assert_eq!(pi["metadata"]["payment_id"], "pay_checkout1");
    assert_eq!(pi["setup_future_usage"], "off_session");
    assert_clean(&fake);
}

#[tokio::test]
async fn checkout_without_saving_open_declined_and_mismatched_sessions() {
    let (fake, conn) = setup().await;
    // Not saved: no method details.
    let s1 = conn.create_checkout(&checkout("pay_nosave", eur(1500), false, None)).await.unwrap();
    let cs = fake.object(&s1.provider_ref).unwrap();
    assert_eq!(cs["customer_email"], "cus_01ada@example.edu");
    fake.pay_checkout(&s1.provider_ref, "pm_card_mastercard").unwrap();
    let (outcome, method) = conn.complete_checkout(&s1, &BTreeMap::new()).await.unwrap();
    assert!(matches!(outcome, ChargeOutcome::Succeeded { .. }), "{outcome:?}");
    assert_eq!(method, None);

    // Still open: the buyer must go back to the hosted page.
    let s2 = conn.create_checkout(&checkout("pay_open", eur(1500), false, None)).await.unwrap();
    let (outcome, _) = conn.complete_checkout(&s2, &BTreeMap::new()).await.unwrap();
    assert_eq!(
        outcome,
        ChargeOutcome::RequiresAction {
            provider_payment_id: s2.provider_ref.clone(),
            redirect_url: Some(s2.redirect_url.clone())
        }
    );

    // Declined on the hosted page.
    fake.pay_checkout(&s2.provider_ref, "pm_card_chargeDeclinedInsufficientFunds").unwrap();
    let (outcome, method) = conn.complete_checkout(&s2, &BTreeMap::new()).await.unwrap();
    match outcome {
        ChargeOutcome::Declined { code, provider_payment_id, .. } => {
            assert_eq!(code, "insufficient_funds");
            assert!(provider_payment_id.unwrap().starts_with("pi_"));
        }
        other => panic!("expected a decline, got {other:?}"),
    }
    assert_eq!(method, None);

    // Expired.
    let s3 = conn.create_checkout(&checkout("pay_expired", eur(1500), false, None)).await.unwrap();
    assert!(fake.expire_checkout(&s3.provider_ref));
    let (outcome, _) = conn.complete_checkout(&s3, &BTreeMap::new()).await.unwrap();
    assert!(matches!(&outcome, ChargeOutcome::Declined { code, .. } if code == "expired"), "{outcome:?}");

    // Processing (delayed method): complete, unpaid.
    let s4 = conn.create_checkout(&checkout("pay_slow", eur(1500), true, None)).await.unwrap();
    fake.pay_checkout(&s4.provider_ref, "pm_card_processing").unwrap();
    let (outcome, _) = conn.complete_checkout(&s4, &BTreeMap::new()).await.unwrap();
    assert!(matches!(outcome, ChargeOutcome::Processing { .. }), "{outcome:?}");
    let cs4 = fake.object(&s4.provider_ref).unwrap();
    assert!(cs4["customer"].as_str().unwrap().starts_with("cus_"), "Checkout created a customer for the saved card");

    // A return from another session is refused.
    let mut params = BTreeMap::new();
    params.insert("session_id".to_string(), "cs_test_someoneelse".to_string());
    let err = conn.complete_checkout(&s1, &params).await.unwrap_err();
    assert!(matches!(err, ProviderError::InvalidRequest { .. }), "{err:?}");
    assert_clean(&fake);
}

#[tokio::test]
async fn a_card_saved_without_a_prior_customer_names_the_customer_checkout_created() {
    let (fake, conn) = setup().await;
    let session = conn.create_checkout(&checkout("pay_newcus", eur(4900), true, None)).await.unwrap();
    let sent = fake.requests().into_iter().find(|r| r.path == "/v1/checkout/sessions").unwrap();
    assert!(sent.params.iter().any(|(k, v)| k == "customer_creation" && v == "always"));
    assert!(fake.objects("customer").is_empty(), "Checkout creates the customer when the buyer pays");

    fake.pay_checkout(&session.provider_ref, "pm_card_visa").unwrap();
    let (outcome, method) = conn.complete_checkout(&session, &BTreeMap::new()).await.unwrap();
    assert!(matches!(outcome, ChargeOutcome::Succeeded { .. }), "{outcome:?}");
    let method = method.expect("the card was saved");
    let created = fake.objects("customer");
    assert_eq!(created.len(), 1);
    let cus = created[0]["id"].as_str().unwrap().to_string();
    assert_eq!(method.provider_customer.as_deref(), Some(cus.as_str()));
    assert_eq!(fake.object(&session.provider_ref).unwrap()["customer"], cus.as_str());
    assert_eq!(fake.object(&method.token).unwrap()["customer"], cus.as_str());

    // The returned ids are what an off-session charge needs.
    let renewal =
        conn.charge(&charge("pay_newcus_renewal", eur(4900), &method.token, method.provider_customer.clone())).await;
    let ChargeOutcome::Succeeded { provider_payment_id, .. } = renewal.unwrap() else { panic!("not charged") };
    let pi = fake.object(&provider_payment_id).unwrap();
    assert_eq!(pi["customer"], cus.as_str());
    assert_eq!(pi["payment_method"], method.token.as_str());

    // Without the customer, Stripe refuses a method attached to one.
    let err = conn.charge(&charge("pay_newcus_nocus", eur(4900), &method.token, None)).await.unwrap_err();
    assert!(matches!(&err, ProviderError::Rejected { status: 400, .. }), "{err:?}");
    assert_clean(&fake);
}

// ---------------------------------------------------------------------------
// Off-session charges
// ---------------------------------------------------------------------------

#[tokio::test]
async fn off_session_charge_succeeds() {
    let (fake, conn) = setup().await;
    let (cus, pm) = saved_card(&fake, &conn).await;
    let outcome = conn.charge(&charge("pay_renew1", eur(4900), &pm, Some(cus.clone()))).await.unwrap();
    let ChargeOutcome::Succeeded { provider_payment_id, .. } = outcome else { panic!("{outcome:?}") };
    let pi = fake.object(&provider_payment_id).unwrap();
    assert_eq!(pi["object"], "payment_intent");
    assert_eq!(pi["status"], "succeeded");
    assert_eq!(pi["amount"], 4900);
    assert_eq!(pi["currency"], "eur");
    assert_eq!(pi["customer"], cus.as_str());
    assert_eq!(pi["payment_method"], pm.as_str());
    assert_eq!(pi["metadata"]["payment_id"], "pay_renew1");
    let sent = fake.requests().into_iter().rfind(|r| r.path == "/v1/payment_intents").unwrap();
    let has = |k: &str, v: &str| sent.params.iter().any(|(a, b)| a == k && b == v);
    assert!(has("off_session", "true") && has("confirm", "true"));
    assert_eq!(sent.idempotency_key.as_deref(), Some("bursar-pay_renew1-charge"));
    assert_eq!(
        conn.retrieve("pay_renew1", Some(&provider_payment_id)).await.unwrap(),
        PaymentStatus::Succeeded { provider_payment_id, amount: eur(4900) }
    );
    assert_clean(&fake);
}

#[tokio::test]
async fn declines_map_to_stripe_codes() {
    let (fake, conn) = setup().await;
    let cases = [
        ("pm_card_chargeDeclined", "card_declined"),
        ("pm_card_chargeDeclinedInsufficientFunds", "insufficient_funds"),
        ("pm_card_chargeDeclinedExpiredCard", "expired_card"),
        ("pm_card_authenticationRequired", "authentication_required"),
    ];
    for (i, (token, expected)) in cases.iter().enumerate() {
        let pid = format!("pay_decline{i}");
        let outcome = conn.charge(&charge(&pid, eur(2500), token, None)).await.unwrap();
        let ChargeOutcome::Declined { provider_payment_id, code, message } = outcome else {
            panic!("{token}: {outcome:?}")
        };
        assert_eq!(code, *expected, "{token}");
        assert!(!message.is_empty());
        let pi = fake.object(provider_payment_id.as_deref().expect("the intent is named")).unwrap();
        assert_eq!(pi["status"], "requires_payment_method", "{token}");
        assert_eq!(
            conn.retrieve(&pid, None).await.unwrap(),
            PaymentStatus::Failed { provider_payment_id: provider_payment_id.unwrap(), code: expected.to_string() }
        );
    }
    assert_clean(&fake);
}

#[tokio::test]
async fn requires_action_carries_the_redirect() {
    let (fake, conn) = setup().await;
    fake.set_off_session_requires_action(true);
    let outcome = conn.charge(&charge("pay_3ds", eur(2500), "pm_card_authenticationRequired", None)).await.unwrap();
    let ChargeOutcome::RequiresAction { provider_payment_id, redirect_url } = outcome else { panic!("{outcome:?}") };
    let url = redirect_url.expect("a redirect");
    assert!(url.starts_with(fake.base_url()) && url.ends_with(&provider_payment_id), "{url}");
    assert_eq!(
        conn.retrieve("pay_3ds", Some(&provider_payment_id)).await.unwrap(),
        PaymentStatus::Pending { provider_payment_id }
    );
    assert_clean(&fake);
}

#[tokio::test]
async fn processing_payment_succeeds_later() {
    let (fake, conn) = setup().await;
    let outcome = conn.charge(&charge("pay_slow", eur(1200), "pm_card_processing", None)).await.unwrap();
    let ChargeOutcome::Processing { provider_payment_id } = outcome else { panic!("{outcome:?}") };
    assert_eq!(
        conn.retrieve("pay_slow", Some(&provider_payment_id)).await.unwrap(),
        PaymentStatus::Pending { provider_payment_id: provider_payment_id.clone() }
    );
    assert_eq!(fake.settle_processing(), vec![provider_payment_id.clone()]);
    assert_eq!(
        conn.retrieve("pay_slow", Some(&provider_payment_id)).await.unwrap(),
        PaymentStatus::Succeeded { provider_payment_id: provider_payment_id.clone(), amount: eur(1200) }
    );
    assert_eq!(
        conn.retrieve("pay_slow", None).await.unwrap(),
        PaymentStatus::Succeeded { provider_payment_id, amount: eur(1200) },
        "found by metadata search too"
    );
    assert_clean(&fake);
}

#[tokio::test]
async fn retry_with_the_same_payment_id_does_not_charge_twice() {
    let (fake, conn) = setup().await;
    let req = charge("pay_retry", eur(3000), "pm_card_visa", None);
    let first = conn.charge(&req).await.unwrap();
    let second = conn.charge(&req).await.unwrap();
    assert_eq!(first, second);
    assert_eq!(fake.objects("payment_intent").len(), 1, "one PaymentIntent");
    assert_eq!(fake.request_count("POST", "/v1/payment_intents"), 2);
    assert!(fake.requests().last().unwrap().replayed, "the second answer is a replay");

    // A decline replays as a decline, without a second attempt.
    let declined = charge("pay_retry_declined", eur(3000), "pm_card_chargeDeclined", None);
    let a = conn.charge(&declined).await.unwrap();
    let b = conn.charge(&declined).await.unwrap();
    assert_eq!(a, b);
    assert_eq!(fake.objects("payment_intent").len(), 2);

    // Reusing the payment id for a different charge is a bug: refused.
    let err = conn.charge(&charge("pay_retry", eur(3100), "pm_card_visa", None)).await.unwrap_err();
    match err {
        ProviderError::Rejected { status, message, .. } => {
            assert_eq!(status, 400);
            assert!(message.contains("same parameters"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(fake.objects("payment_intent").len(), 2);
    assert_clean(&fake);
}

// ---------------------------------------------------------------------------
// Refunds
// ---------------------------------------------------------------------------

#[tokio::test]
async fn refunds_partial_then_full_remainder() {
    let (fake, conn) = setup().await;
    let ChargeOutcome::Succeeded { provider_payment_id: pi, .. } =
        conn.charge(&charge("pay_refundme", eur(1000), "pm_card_visa", None)).await.unwrap()
    else {
        panic!()
    };
    let refund = |id: &str, minor: i64, reason: Option<&str>| RefundRequest {
        refund_id: id.to_string(),
        provider_payment_id: pi.clone(),
        amount: eur(minor),
        reason: reason.map(str::to_string),
    };
    let RefundOutcome::Succeeded { provider_refund_id: r1 } =
        conn.refund(&refund("rf_1", 300, Some("requested_by_customer"))).await.unwrap()
    else {
        panic!()
    };
    let re = fake.object(&r1).unwrap();
    assert_eq!(re["object"], "refund");
    assert_eq!(re["amount"], 300);
    assert_eq!(re["metadata"]["refund_id"], "rf_1");
    assert_eq!(re["reason"], "requested_by_customer");
    assert_eq!(re["payment_intent"], pi.as_str());

    // The same refund id again: the same refund.
    let again = conn.refund(&refund("rf_1", 300, Some("requested_by_customer"))).await.unwrap();
    assert_eq!(again, RefundOutcome::Succeeded { provider_refund_id: r1.clone() });
    assert_eq!(fake.objects("refund").len(), 1);

    let RefundOutcome::Succeeded { provider_refund_id: r2 } =
        conn.refund(&refund("rf_2", 700, Some("course withdrawn"))).await.unwrap()
    else {
        panic!()
    };
    assert_ne!(r1, r2);
    let re2 = fake.object(&r2).unwrap();
    assert_eq!(re2["reason"], Value::Null);
    assert_eq!(re2["metadata"]["reason"], "course withdrawn");
    let charge = fake.object(re2["charge"].as_str().unwrap()).unwrap();
    assert_eq!(charge["amount_refunded"], 1000);
    assert_eq!(charge["refunded"], true);

    let err = conn.refund(&refund("rf_3", 100, None)).await.unwrap_err();
    assert!(
        matches!(&err, ProviderError::Rejected { status: 400, message, .. } if message.contains("charge_already_refunded")),
        "{err:?}"
    );
    assert_clean(&fake);
}

// ---------------------------------------------------------------------------
// Failures
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_server_error_on_a_charge_is_indeterminate_and_recovered_by_retrieve() {
    let (fake, conn) = setup().await;

    // 500 before Stripe acted: retrieve finds nothing, a retry charges once.
    fake.fail_next(1, Fault::ServerError);
    let err = conn.charge(&charge("pay_500", eur(1000), "pm_card_visa", None)).await.unwrap_err();
    assert!(matches!(err, ProviderError::Indeterminate { .. }), "{err:?}");
    assert!(err.outcome_unknown() && !err.may_fall_back());
    assert!(fake.objects("payment_intent").is_empty(), "nothing was charged");
    assert_eq!(conn.retrieve("pay_500", None).await.unwrap(), PaymentStatus::NotFound);
    let ok = conn.charge(&charge("pay_500", eur(1000), "pm_card_visa", None)).await.unwrap();
    assert!(matches!(ok, ChargeOutcome::Succeeded { .. }), "{ok:?}");
    assert_eq!(fake.objects("payment_intent").len(), 1);

    // 500 after Stripe acted: retrieve finds the payment, a retry replays it.
    fake.fail_next(1, Fault::ServerErrorAfterExecuting);
    let err = conn.charge(&charge("pay_500_done", eur(2500), "pm_card_visa", None)).await.unwrap_err();
    assert!(matches!(err, ProviderError::Indeterminate { .. }), "{err:?}");
    let intents = fake.objects("payment_intent");
    assert_eq!(intents.len(), 2, "Stripe did charge");
    let pi = intents.iter().find(|pi| pi["metadata"]["payment_id"] == "pay_500_done").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        conn.retrieve("pay_500_done", None).await.unwrap(),
        PaymentStatus::Succeeded { provider_payment_id: pi.clone(), amount: eur(2500) }
    );
    let retried = conn.charge(&charge("pay_500_done", eur(2500), "pm_card_visa", None)).await.unwrap();
    assert_eq!(retried, ChargeOutcome::Succeeded { provider_payment_id: pi, fee_minor: None });
    assert_eq!(fake.objects("payment_intent").len(), 2);

    // A refund is a POST as well.
    let (cus, token) = saved_card(&fake, &conn).await;
    let paid = conn.charge(&charge("pay_refund500", eur(3000), &token, Some(cus))).await.unwrap();
    let ChargeOutcome::Succeeded { provider_payment_id, .. } = paid else { panic!("{paid:?}") };
    fake.fail_next(1, Fault::ServerErrorAfterExecuting);
    let request =
        RefundRequest { refund_id: "rf_500".to_string(), provider_payment_id, amount: eur(1000), reason: None };
    let err = conn.refund(&request).await.unwrap_err();
    assert!(matches!(err, ProviderError::Indeterminate { .. }), "{err:?}");
    let again = conn.refund(&request).await.unwrap();
    assert!(matches!(again, RefundOutcome::Succeeded { .. }), "{again:?}");
    assert_eq!(fake.objects("refund").len(), 1, "the retry replayed the refund");
    assert_clean(&fake);
}

#[tokio::test]
async fn unavailable_rate_limited_and_unreachable_may_fall_back() {
    let (fake, conn) = setup().await;
    fake.fail_next(1, Fault::ServiceUnavailable);
    let err = conn.charge(&charge("pay_503", eur(1000), "pm_card_visa", None)).await.unwrap_err();
    assert!(matches!(err, ProviderError::Unavailable { .. }), "{err:?}");
    assert!(err.may_fall_back() && !err.outcome_unknown());
    assert!(fake.objects("payment_intent").is_empty(), "nothing was charged");

    fake.fail_next(1, Fault::RateLimited);
    let err = conn.ensure_customer(&customer("cus_429")).await.unwrap_err();
    assert!(matches!(err, ProviderError::Unavailable { .. }), "{err:?}");
    assert!(err.may_fall_back());

    // A 500 to a read changed nothing.
    fake.fail_next(1, Fault::ServerError);
    let err = conn.retrieve("pay_503", None).await.unwrap_err();
    assert!(matches!(err, ProviderError::Unavailable { .. }), "{err:?}");

    // After the outage the same call goes through.
    let ok = conn.charge(&charge("pay_503", eur(1000), "pm_card_visa", None)).await.unwrap();
    assert!(matches!(ok, ChargeOutcome::Succeeded { .. }));

    // Nobody listening: the request was never sent.
    let mut cfg = config(&fake, Duration::from_secs(2));
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    cfg.api_base = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let offline = StripeConnector::new(cfg).unwrap();
    let err = offline.charge(&charge("pay_offline", eur(1000), "pm_card_visa", None)).await.unwrap_err();
    assert!(matches!(err, ProviderError::Unavailable { .. }), "{err:?}");
    assert!(err.may_fall_back());
    assert_clean(&fake);
}

/// A server that reads each request and closes the connection without an
/// answer: the request may have been carried out.
async fn hang_up_server() -> String {
    use tokio::io::AsyncReadExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buf = vec![0_u8; 16 * 1024];
            let _ = socket.read(&mut buf).await;
            drop(socket);
        }
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn a_connection_lost_after_sending_is_indeterminate_for_posts_only() {
    let fake = FakeStripe::start().await;
    let mut cfg = config(&fake, Duration::from_secs(5));
    cfg.api_base = hang_up_server().await;
    let conn = StripeConnector::new(cfg).unwrap();
    let err = conn.charge(&charge("pay_hangup", eur(1000), "pm_card_visa", None)).await.unwrap_err();
    assert!(matches!(err, ProviderError::Indeterminate { .. }), "{err:?}");
    assert!(err.outcome_unknown() && !err.may_fall_back());
    let err = conn.retrieve("pay_hangup", Some("pi_123")).await.unwrap_err();
    assert!(matches!(err, ProviderError::Unavailable { .. }), "{err:?}");
}

#[tokio::test]
async fn timeout_is_unknown_and_recovered_by_search() {
    let fake = FakeStripe::start().await;
    let conn = StripeConnector::new(config(&fake, Duration::from_millis(400))).unwrap();
    fake.fail_next(1, Fault::Stall(Duration::from_secs(3)));
    let err = conn.charge(&charge("pay_timeout", eur(2200), "pm_card_visa", None)).await.unwrap_err();
    assert!(matches!(err, ProviderError::Timeout { .. }), "{err:?}");
    assert!(err.outcome_unknown() && !err.may_fall_back());

    let created = fake.objects("payment_intent");
    assert_eq!(created.len(), 1, "Stripe did charge");
    let pi = created[0]["id"].as_str().unwrap().to_string();
    assert_eq!(
        conn.retrieve("pay_timeout", None).await.unwrap(),
        PaymentStatus::Succeeded { provider_payment_id: pi.clone(), amount: eur(2200) }
    );
    // Retrying the charge replays, it does not charge again.
    let retried = conn.charge(&charge("pay_timeout", eur(2200), "pm_card_visa", None)).await.unwrap();
    assert_eq!(retried, ChargeOutcome::Succeeded { provider_payment_id: pi, fee_minor: None });
    assert_eq!(fake.objects("payment_intent").len(), 1);

    assert_eq!(conn.retrieve("pay_never_sent", None).await.unwrap(), PaymentStatus::NotFound);
    assert_eq!(conn.retrieve("pay_x", Some("pi_doesnotexist")).await.unwrap(), PaymentStatus::NotFound);
    assert_clean(&fake);
}

#[tokio::test]
async fn a_wrong_key_is_an_auth_error() {
    let fake = FakeStripe::start().await;
    let mut cfg = config(&fake, Duration::from_secs(5));
    cfg.secret_key = "sk_test_wrong".to_string();
    let conn = StripeConnector::new(cfg).unwrap();
    let err = conn.ensure_customer(&customer("cus_01ada")).await.unwrap_err();
    assert!(matches!(err, ProviderError::Auth { .. }), "{err:?}");
    let err = conn.charge(&charge("pay_auth", eur(1000), "pm_card_visa", None)).await.unwrap_err();
    assert!(matches!(err, ProviderError::Auth { .. }), "{err:?}");
    assert!(!err.may_fall_back());
    assert!(fake.requests().iter().all(|r| r.status == 401));
    assert!(fake.objects("payment_intent").is_empty());
}

// ---------------------------------------------------------------------------
// Amounts
// ---------------------------------------------------------------------------

#[test]
fn stripe_amounts_follow_the_currency_rules() {
    let amount = |minor: i64, c: &str| to_stripe_amount(Money::new(minor, c));
    assert_eq!(amount(1050, "USD").unwrap(), 1050);
    assert_eq!(amount(500, "JPY").unwrap(), 500, "zero-decimal: whole yen");
    assert_eq!(amount(3000, "KRW").unwrap(), 3000);
    assert_eq!(amount(5120, "KWD").unwrap(), 5120, "three-decimal");
    assert!(matches!(amount(5125, "KWD"), Err(ProviderError::InvalidRequest { .. })), "last digit must be 0");
    assert!(matches!(amount(1001, "BHD"), Err(ProviderError::InvalidRequest { .. })));
    assert_eq!(amount(5, "ISK").unwrap(), 500, "ISK written with two decimals");
    assert_eq!(amount(60_000, "UGX").unwrap(), 6_000_000, "UGX written with two decimals");
    assert_eq!(amount(12_300, "MGA").unwrap(), 123, "MGA: ISO two decimals, Stripe zero-decimal");
    assert!(matches!(amount(12_345, "MGA"), Err(ProviderError::InvalidRequest { .. })));
    assert_eq!(amount(12_345, "HUF").unwrap(), 12_345, "HUF charges keep two decimals");
    assert_eq!(amount(12_345, "TWD").unwrap(), 12_345);
    assert!(matches!(amount(0, "EUR"), Err(ProviderError::InvalidRequest { .. })));
    assert!(matches!(amount(-5, "EUR"), Err(ProviderError::InvalidRequest { .. })));
    assert!(matches!(amount(100, "XYZ"), Err(ProviderError::InvalidRequest { .. })));

    assert_eq!(from_stripe_amount(500, "isk"), Some(Money::new(5, "ISK")));
    assert_eq!(from_stripe_amount(550, "isk"), None, "not representable in ISO units");
    assert_eq!(from_stripe_amount(123, "mga"), Some(Money::new(12_300, "MGA")));
    assert_eq!(from_stripe_amount(5120, "kwd"), Some(Money::new(5120, "KWD")));
    assert_eq!(from_stripe_amount(500, "jpy"), Some(Money::new(500, "JPY")));
    assert_eq!(from_stripe_amount(1050, "usd"), Some(Money::new(1050, "USD")));
}

#[tokio::test]
async fn amounts_reach_stripe_in_its_unit_and_bad_ones_are_not_sent() {
    let (fake, conn) = setup().await;
    let err = conn.charge(&charge("pay_kwd", Money::new(5125, "KWD"), "pm_card_visa", None)).await.unwrap_err();
    assert!(matches!(err, ProviderError::InvalidRequest { .. }), "{err:?}");
    assert!(!err.may_fall_back() && !err.outcome_unknown());
    let err = conn.create_checkout(&checkout("pay_kwd", Money::new(5125, "KWD"), false, None)).await.unwrap_err();
    assert!(matches!(err, ProviderError::InvalidRequest { .. }), "{err:?}");
    assert!(fake.requests().is_empty(), "refused before sending");

    let ChargeOutcome::Succeeded { provider_payment_id: isk, .. } =
        conn.charge(&charge("pay_isk", Money::new(5, "ISK"), "pm_card_visa", None)).await.unwrap()
    else {
        panic!()
    };
    let pi = fake.object(&isk).unwrap();
    assert_eq!((pi["amount"].as_i64(), pi["currency"].as_str()), (Some(500), Some("isk")));
    assert_eq!(
        conn.retrieve("pay_isk", Some(&isk)).await.unwrap(),
        PaymentStatus::Succeeded { provider_payment_id: isk, amount: Money::new(5, "ISK") }
    );

    let ChargeOutcome::Succeeded { provider_payment_id: jpy, .. } =
        conn.charge(&charge("pay_jpy", Money::new(500, "JPY"), "pm_card_visa", None)).await.unwrap()
    else {
        panic!()
    };
    assert_eq!(fake.object(&jpy).unwrap()["amount"], 500);

    let ChargeOutcome::Succeeded { provider_payment_id: kwd, .. } =
        conn.charge(&charge("pay_kwd_ok", Money::new(5120, "KWD"), "pm_card_visa", None)).await.unwrap()
    else {
        panic!()
    };
    assert_eq!(fake.object(&kwd).unwrap()["amount"], 5120);
    assert_clean(&fake);
}

// ---------------------------------------------------------------------------
// Webhooks
// ---------------------------------------------------------------------------

fn now() -> jiff::Timestamp {
    jiff::Timestamp::now()
}

fn hook_headers(sig: &str) -> Headers {
    let mut h = Headers::new();
    h.insert("stripe-signature".to_string(), sig.to_string());
    h
}

#[tokio::test]
async fn webhook_signatures_are_verified() {
    let (fake, conn) = setup().await;
    let hook = fake.event("customer.created", json!({"id": "cus_x", "object": "customer"}));
    let event = conn.verify_webhook(&hook.headers, &hook.body, now()).await.expect("valid");
    assert_eq!(event.event_id, hook.event_id);
    assert_eq!(event.event_type, "customer.created");
    assert_eq!(event.kind, WebhookKind::Other);
    assert_eq!(event.created.as_second(), hook.timestamp);

    let t = now().as_second();
    let body = hook.body.clone();
    let good = sign_webhook(fake.webhook_secret(), t, &body);
    let good_v1 = good.split_once(",v1=").unwrap().1.to_string();
    let verify = |sig: String, body: Vec<u8>| {
        let conn = &conn;
        async move { conn.verify_webhook(&hook_headers(&sig), &body, now()).await.map(|e| e.event_id) }
    };

    // Several v1 entries and a v0: one match is enough.
    let forged = "a".repeat(64);
    let several = format!("t={t},v1={forged},v1={good_v1},v0={forged}");
    assert_eq!(verify(several, body.clone()).await, Ok(hook.event_id.clone()));

    // Forged, wrong secret, tampered body.
    assert_eq!(verify(format!("t={t},v1={forged}"), body.clone()).await, Err(WebhookError::BadSignature));
    let other_secret = sign_webhook("whsec_someone_else", t, &body);
    assert_eq!(verify(other_secret, body.clone()).await, Err(WebhookError::BadSignature));
    let mut tampered = body.clone();
    let pos = tampered.iter().position(|b| *b == b'x').unwrap();
    tampered[pos] = b'y';
    assert_eq!(verify(good.clone(), tampered).await, Err(WebhookError::BadSignature));
    // Only a v0 signature: not our scheme.
    assert_eq!(verify(format!("t={t},v0={good_v1}"), body.clone()).await, Err(WebhookError::BadSignature));

    // Time: 300 s tolerance both ways.
    let at = |secs: i64| sign_webhook(fake.webhook_secret(), t + secs, &body);
    assert_eq!(verify(at(-290), body.clone()).await, Ok(hook.event_id.clone()));
    assert_eq!(verify(at(290), body.clone()).await, Ok(hook.event_id.clone()));
    assert_eq!(verify(at(-310), body.clone()).await, Err(WebhookError::Stale));
    assert_eq!(verify(at(310), body.clone()).await, Err(WebhookError::Stale));
    // A forged stale header is a bad signature first.
    assert_eq!(verify(format!("t={},v1={forged}", t - 1000), body.clone()).await, Err(WebhookError::BadSignature));

    // Missing and malformed headers.
    let err = conn.verify_webhook(&Headers::new(), &body, now()).await.unwrap_err();
    assert_eq!(err, WebhookError::MissingSignature);
    for bad in [
        "garbage",
        &format!("v1={good_v1}"),
        &format!("t=soon,v1={good_v1}"),
        "",
        &format!("t={t},t={},v1={good_v1}", t + 1),
    ] {
        assert_eq!(verify(bad.to_string(), body.clone()).await, Err(WebhookError::MalformedSignature), "{bad:?}");
    }

    // Signed but not an event.
    let junk = b"{\"hello\": 1}".to_vec();
    let sig = sign_webhook(fake.webhook_secret(), t, &junk);
    assert!(matches!(verify(sig, junk).await, Err(WebhookError::BadPayload(_))));
}

#[tokio::test]
async fn webhook_secrets_rotate() {
    let fake = FakeStripe::start().await;
    let mut cfg = config(&fake, Duration::from_secs(5));
    cfg.webhook_secrets = vec!["whsec_new_secret".to_string(), fake.webhook_secret().to_string()];
    let conn = StripeConnector::new(cfg).unwrap();
    let t = now().as_second();
    let old = fake.event_signed("customer.updated", json!({"id": "cus_x"}), t, fake.webhook_secret());
    let new = fake.event_signed("customer.updated", json!({"id": "cus_x"}), t, "whsec_new_secret");
    let retired = fake.event_signed("customer.updated", json!({"id": "cus_x"}), t, "whsec_retired");
    assert!(conn.verify_webhook(&old.headers, &old.body, now()).await.is_ok());
    assert!(conn.verify_webhook(&new.headers, &new.body, now()).await.is_ok());
    assert_eq!(
        conn.verify_webhook(&retired.headers, &retired.body, now()).await.unwrap_err(),
        WebhookError::BadSignature
    );
    // During rotation Stripe signs with both: one header, two v1 entries.
    let both = format!(
        "{},v1={}",
        sign_webhook("whsec_retired", t, &old.body),
        sign_webhook("whsec_new_secret", t, &old.body).split_once(",v1=").unwrap().1
    );
    assert!(conn.verify_webhook(&hook_headers(&both), &old.body, now()).await.is_ok());
    // No secret configured: nothing verifies.
    let mut cfg = config(&fake, Duration::from_secs(5));
    cfg.webhook_secrets.clear();
    let none = StripeConnector::new(cfg).unwrap();
    assert_eq!(none.verify_webhook(&old.headers, &old.body, now()).await.unwrap_err(), WebhookError::BadSignature);
}

#[tokio::test]
async fn webhook_events_map_onto_bursar_events() {
    let (fake, conn) = setup().await;
    let verify = |hook: bursar_providers::testkit::stripe::SignedWebhook| {
        let conn = &conn;
        async move { conn.verify_webhook(&hook.headers, &hook.body, now()).await.expect("verified").kind }
    };
    let (cus, pm) = saved_card(&fake, &conn).await;

    // payment_intent.succeeded, unexpanded as Stripe sends it.
    let ChargeOutcome::Succeeded { provider_payment_id: pi, .. } =
        conn.charge(&charge("pay_hook", eur(4900), &pm, Some(cus.clone()))).await.unwrap()
    else {
        panic!()
    };
    let kind = verify(fake.intent_event("payment_intent.succeeded", &pi)).await;
    assert_eq!(
        kind,
        WebhookKind::PaymentSucceeded {
            payment_id: Some("pay_hook".to_string()),
            provider_payment_id: pi.clone(),
            amount: eur(4900),
            method: None,
            provider_customer: Some(cus.clone()),
        }
    );

    // With the payment method expanded: its card details.
    let mut obj = fake.object(&pi).unwrap();
    obj["payment_method"] = fake.object(&pm).unwrap();
    let WebhookKind::PaymentSucceeded { method, .. } = verify(fake.event("payment_intent.succeeded", obj)).await else {
        panic!()
    };
    let method = method.expect("details");
    assert_eq!(
        (method.token.as_str(), method.brand.as_deref(), method.last4.as_deref()),
        (pm.as_str(), Some("visa"), Some("4242"))
    );

    // With the latest charge expanded: the charge's card details.
    let mut obj = fake.object(&pi).unwrap();
    obj["setup_future_usage"] = json!("off_session");
    obj["latest_charge"] = fake.object(obj["latest_charge"].as_str().unwrap()).unwrap();
    let WebhookKind::PaymentSucceeded { method, .. } = verify(fake.event("payment_intent.succeeded", obj)).await else {
        panic!()
    };
    assert_eq!(method.unwrap().exp_year, Some(TEST_CARD_EXP.1));

    // checkout.session.completed: paid → success, payment id from the reference.
    let session = conn.create_checkout(&checkout("pay_cs_hook", eur(1900), false, None)).await.unwrap();
    let unpaid = verify(fake.session_event("checkout.session.completed", &session.provider_ref)).await;
    assert_eq!(unpaid, WebhookKind::Other, "not paid yet");
    let cs_pi = fake.pay_checkout(&session.provider_ref, "pm_card_visa").unwrap();
    let kind = verify(fake.session_event("checkout.session.completed", &session.provider_ref)).await;
    let WebhookKind::PaymentSucceeded { payment_id, provider_payment_id, amount, .. } = kind else {
        panic!("{kind:?}")
    };
    assert_eq!(payment_id.as_deref(), Some("pay_cs_hook"));
    assert_eq!(provider_payment_id, cs_pi);
    assert_eq!(amount, eur(1900));

    // payment_intent.payment_failed.
    let ChargeOutcome::Declined { provider_payment_id: Some(failed), .. } =
        conn.charge(&charge("pay_hook_fail", eur(900), "pm_card_chargeDeclinedInsufficientFunds", None)).await.unwrap()
    else {
        panic!()
    };
    let kind = verify(fake.intent_event("payment_intent.payment_failed", &failed)).await;
    let WebhookKind::PaymentFailed { payment_id, provider_payment_id, code, message } = kind else {
        panic!("{kind:?}")
    };
    assert_eq!(payment_id.as_deref(), Some("pay_hook_fail"));
    assert_eq!(provider_payment_id, failed);
    assert_eq!(code, "insufficient_funds");
    assert_eq!(message, "Your card has insufficient funds.");

    // Refunds: refund.created / refund.updated / charge.refunded.
    let RefundOutcome::Succeeded { provider_refund_id: re } = conn
        .refund(&RefundRequest {
            refund_id: "rf_hook".to_string(),
            provider_payment_id: pi.clone(),
            amount: eur(900),
            reason: None,
        })
        .await
        .unwrap()
    else {
        panic!()
    };
    let expected = WebhookKind::RefundSucceeded {
        refund_id: Some("rf_hook".to_string()),
        provider_payment_id: pi.clone(),
        provider_refund_id: re.clone(),
        amount: eur(900),
    };
    for t in ["refund.created", "refund.updated", "charge.refunded"] {
        assert_eq!(verify(fake.refund_event(t, &re)).await, expected, "{t}");
    }
    let mut pending = fake.object(&re).unwrap();
    pending["status"] = json!("pending");
    assert_eq!(verify(fake.event("refund.updated", pending)).await, WebhookKind::Other);

    // charge.dispute.created.
    let kind = verify(fake.dispute_event(&pi, "fraudulent")).await;
    assert_eq!(
        kind,
        WebhookKind::DisputeOpened {
            provider_payment_id: pi.clone(),
            amount: eur(4900),
            reason: "fraudulent".to_string()
        }
    );

    // Anything else.
    assert_eq!(verify(fake.intent_event("payment_intent.created", &pi)).await, WebhookKind::Other);
    assert_eq!(
        verify(fake.event("invoice.paid", json!({"id": "in_1", "object": "invoice"}))).await,
        WebhookKind::Other
    );
    assert_clean(&fake);
}

#[tokio::test]
async fn webhooks_can_be_delivered_over_http() {
    use std::sync::{Arc, Mutex};
    let fake = FakeStripe::start().await;
    type Seen = Arc<Mutex<Vec<(String, Vec<u8>)>>>;
    let seen: Seen = Arc::default();
    let sink = seen.clone();
    let router = axum::Router::new().route(
        "/hooks/stripe",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
            let sink = sink.clone();
            async move {
                let sig = headers.get("stripe-signature").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
                sink.lock().unwrap().push((sig, body.to_vec()));
                "ok"
            }
        }),
    );
    let base = bursar_providers::testkit::serve(router).await;
    let conn = StripeConnector::new(config(&fake, Duration::from_secs(5))).unwrap();
    let hook = fake.event("payment_intent.created", json!({"id": "pi_x", "object": "payment_intent"}));
    assert_eq!(fake.deliver(&format!("{base}/hooks/stripe"), &hook).await, Ok(200));
    let (sig, body) = seen.lock().unwrap().pop().expect("delivered");
    let event = conn.verify_webhook(&hook_headers(&sig), &body, now()).await.expect("verifies");
    assert_eq!(event.event_id, hook.event_id);
}

// ---------------------------------------------------------------------------
// Replay of stored webhooks
// ---------------------------------------------------------------------------

/// Verifies a delivery, then replays its body alone: both give the same event.
async fn verified_then_replayed(conn: &StripeConnector, hook: &SignedWebhook) -> WebhookEvent {
    let verified = conn.verify_webhook(&hook.headers, &hook.body, now()).await.expect("verified");
    let replayed = conn.parse_webhook(&hook.body).await.expect("replayed");
    assert_eq!(replayed, verified, "{}", verified.event_type);
    verified
}

#[tokio::test]
async fn a_stored_webhook_replays_as_the_event_it_was_verified_as() {
    let (fake, conn) = setup().await;
    let (cus, pm) = saved_card(&fake, &conn).await;

    let ChargeOutcome::Succeeded { provider_payment_id: pi, .. } =
        conn.charge(&charge("pay_replay", eur(4900), &pm, Some(cus.clone()))).await.unwrap()
    else {
        panic!()
    };
    let event = verified_then_replayed(&conn, &fake.intent_event("payment_intent.succeeded", &pi)).await;
    assert_eq!(event.event_type, "payment_intent.succeeded");
    assert_eq!(
        event.kind,
        WebhookKind::PaymentSucceeded {
            payment_id: Some("pay_replay".to_string()),
            provider_payment_id: pi.clone(),
            amount: eur(4900),
            method: None,
            provider_customer: Some(cus.clone()),
        }
    );

    // With the payment method expanded: the method is replayed too.
    let mut obj = fake.object(&pi).unwrap();
    obj["payment_method"] = fake.object(&pm).unwrap();
    let event = verified_then_replayed(&conn, &fake.event("payment_intent.succeeded", obj)).await;
    let WebhookKind::PaymentSucceeded { method: Some(method), .. } = event.kind else { panic!("{event:?}") };
    assert_eq!(method.token, pm);

    let session = conn.create_checkout(&checkout("pay_cs_replay", eur(1900), false, None)).await.unwrap();
    let cs_pi = fake.pay_checkout(&session.provider_ref, "pm_card_visa").unwrap();
    let hook = fake.session_event("checkout.session.completed", &session.provider_ref);
    let event = verified_then_replayed(&conn, &hook).await;
    let WebhookKind::PaymentSucceeded { payment_id, provider_payment_id, .. } = event.kind else { panic!("{event:?}") };
    assert_eq!((payment_id.as_deref(), provider_payment_id), (Some("pay_cs_replay"), cs_pi));

    let ChargeOutcome::Declined { provider_payment_id: Some(failed), .. } = conn
        .charge(&charge("pay_replay_fail", eur(900), "pm_card_chargeDeclinedInsufficientFunds", None))
        .await
        .unwrap()
    else {
        panic!()
    };
    let event = verified_then_replayed(&conn, &fake.intent_event("payment_intent.payment_failed", &failed)).await;
    assert!(
        matches!(&event.kind, WebhookKind::PaymentFailed { code, .. } if code == "insufficient_funds"),
        "{event:?}"
    );

    let RefundOutcome::Succeeded { provider_refund_id: re } = conn
        .refund(&RefundRequest {
            refund_id: "rf_replay".to_string(),
            provider_payment_id: pi.clone(),
            amount: eur(900),
            reason: None,
        })
        .await
        .unwrap()
    else {
        panic!()
    };
    for t in ["refund.created", "refund.updated", "charge.refunded"] {
        let event = verified_then_replayed(&conn, &fake.refund_event(t, &re)).await;
        assert_eq!(
            event.kind,
            WebhookKind::RefundSucceeded {
                refund_id: Some("rf_replay".to_string()),
                provider_payment_id: pi.clone(),
                provider_refund_id: re.clone(),
                amount: eur(900),
            },
            "{t}"
        );
    }

    let event = verified_then_replayed(&conn, &fake.dispute_event(&pi, "fraudulent")).await;
    assert!(matches!(event.kind, WebhookKind::DisputeOpened { .. }), "{event:?}");

    let event =
        verified_then_replayed(&conn, &fake.event("invoice.paid", json!({"id": "in_1", "object": "invoice"}))).await;
    assert_eq!(event.kind, WebhookKind::Other);
    assert_clean(&fake);
}

#[tokio::test]
async fn replaying_a_body_that_is_no_event_is_a_bad_payload() {
    let (_fake, conn) = setup().await;
    let bodies: [&[u8]; 7] = [
        b"",
        b"not json",
        b"\xff\xfe\x00",
        b"[1, 2]",
        b"{\"hello\": 1}",
        // An event without its creation time.
        br#"{"id": "evt_1", "type": "invoice.paid", "data": {"object": {}}}"#,
        // A payment event whose object names no payment.
        br#"{"id": "evt_1", "type": "payment_intent.succeeded", "created": 1700000000, "data": {"object": {}}}"#,
    ];
    for body in bodies {
        let err = conn.parse_webhook(body).await.unwrap_err();
        assert!(matches!(err, WebhookError::BadPayload(_)), "{:?}: {err:?}", String::from_utf8_lossy(body));
    }
}

#[tokio::test]
async fn a_stale_delivery_that_once_verified_still_replays() {
    let (fake, conn) = setup().await;
    let sent = now() - jiff::SignedDuration::from_hours(24 * 40);
    let intent = json!({
        "id": "pi_old", "object": "payment_intent", "amount": 4900, "amount_received": 4900, "currency": "eur",
        "status": "succeeded", "customer": "cus_old", "metadata": {"payment_id": "pay_old"},
    });
    let hook = fake.event_signed("payment_intent.succeeded", intent, sent.as_second(), fake.webhook_secret());
    let on_receipt = conn.verify_webhook(&hook.headers, &hook.body, sent).await.expect("valid when it arrived");
    assert_eq!(conn.verify_webhook(&hook.headers, &hook.body, now()).await.unwrap_err(), WebhookError::Stale);

    let replayed = conn.parse_webhook(&hook.body).await.expect("replays");
    assert_eq!(replayed, on_receipt);
    assert_eq!((replayed.event_id.as_str(), replayed.created.as_second()), (hook.event_id.as_str(), sent.as_second()));
    assert_eq!(
        replayed.kind,
        WebhookKind::PaymentSucceeded {
            payment_id: Some("pay_old".to_string()),
            provider_payment_id: "pi_old".to_string(),
            amount: eur(4900),
            method: None,
            provider_customer: Some("cus_old".to_string()),
        }
    );
    // Nor does the secret matter any more: a connector whose secret has
    // since been rotated away replays it all the same.
    let mut cfg = config(&fake, Duration::from_secs(5));
    cfg.webhook_secrets = vec!["whsec_rotated".to_string()];
    let rotated = StripeConnector::new(cfg).unwrap();
    assert_eq!(rotated.parse_webhook(&hook.body).await, Ok(on_receipt));
}

// ---------------------------------------------------------------------------
// The double itself
// ---------------------------------------------------------------------------

async fn raw_post(fake: &FakeStripe, path: &str, body: &str, key: &str) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(format!("{}{path}", fake.base_url()))
        .bearer_auth(fake.secret_key())
        .header("Stripe-Version", "2023-08-16")
        .header("Idempotency-Key", key)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

#[tokio::test]
async fn the_double_refuses_requests_stripe_would_refuse() {
    let fake = FakeStripe::start().await;
    let cases = [
        ("amount=100&currency=eur&bogus=1", "Received unknown parameter: bogus"),
        ("amount=100&currency=eur&metadata[a][b]=1", "metadata[a]"),
        ("amount=100", "Missing required param: currency."),
        ("amount=ten&currency=eur", "Invalid integer: ten"),
        ("amount=100&currency=eur&confirm=maybe", "Invalid boolean: maybe"),
        ("amount=100&currency=eur&capture_method=later", "Invalid capture_method"),
        (
            "amount=100&currency=eur&automatic_payment_methods[allow_redirects]=never",
            "automatic_payment_methods[enabled]",
        ),
    ];
    for (i, (body, expected)) in cases.iter().enumerate() {
        let (status, json) = raw_post(&fake, "/v1/payment_intents", body, &format!("k{i}")).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(json["error"]["type"], "invalid_request_error", "{body}");
        let message = json["error"]["message"].as_str().unwrap();
        assert!(message.contains(expected), "{body}: {message}");
    }
    let specs = if fake.full_spec_loaded() { 2 } else { 1 };
    assert_eq!(fake.validation_failures().len(), cases.len() * specs, "{:#?}", fake.validation_failures());
    assert!(fake.objects("payment_intent").is_empty());

    // Nested checkout parameters and enums.
    let (status, json) = raw_post(
        &fake,
        "/v1/checkout/sessions",
        "mode=payment&success_url=https://x&payment_intent_data[setup_future_usage]=sometimes",
        "k-cs",
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(json["error"]["param"], "payment_intent_data[setup_future_usage]");

    // JSON bodies are not Stripe's format.
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/customers", fake.base_url()))
        .bearer_auth(fake.secret_key())
        .header("Stripe-Version", "2023-08-16")
        .json(&json!({"email": "a@b.c"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    assert!(fake.objects("customer").is_empty());

    // Authentication.
    let resp = reqwest::Client::new().get(format!("{}/v1/payment_intents/pi_1", fake.base_url())).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert!(body["error"]["message"].as_str().unwrap().contains("API key"));

    // Unknown URL.
    let resp = reqwest::Client::new()
        .get(format!("{}/v1/nothing_here", fake.base_url()))
        .bearer_auth(fake.secret_key())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404);
}

#[tokio::test]
async fn every_request_of_a_full_run_matches_the_spec() {
    let (fake, conn) = setup().await;
    let (cus, pm) = saved_card(&fake, &conn).await;
    conn.charge(&charge("pay_run1", eur(4900), &pm, Some(cus.clone()))).await.unwrap();
    conn.charge(&charge("pay_run2", eur(4900), "pm_card_chargeDeclined", Some(cus.clone()))).await.unwrap();
    let ChargeOutcome::Succeeded { provider_payment_id, .. } =
        conn.charge(&charge("pay_run3", eur(2000), "pm_card_visa", None)).await.unwrap()
    else {
        panic!()
    };
    conn.retrieve("pay_run3", None).await.unwrap();
    conn.retrieve("pay_run3", Some(&provider_payment_id)).await.unwrap();
    let session = CheckoutSession {
        provider_ref: fake.objects("checkout.session")[0]["id"].as_str().unwrap().to_string(),
        redirect_url: String::new(),
        client_params: BTreeMap::new(),
    };
    conn.retrieve("pay_first", Some(&session.provider_ref)).await.unwrap();
    conn.refund(&RefundRequest {
        refund_id: "rf_run".to_string(),
        provider_payment_id,
        amount: eur(500),
        reason: Some("duplicate".to_string()),
    })
    .await
    .unwrap();

    let requests = fake.requests();
    assert!(requests.len() >= 10, "{}", requests.len());
    let operations: std::collections::BTreeSet<(String, String)> = requests
        .iter()
        .map(|r| {
            (
                r.method.clone(),
                if r.path.starts_with("/v1/payment_intents/pi_") {
                    "/v1/payment_intents/{id}".into()
                } else if r.path.starts_with("/v1/checkout/sessions/cs_") {
                    "/v1/checkout/sessions/{id}".into()
                } else {
                    r.path.clone()
                },
            )
        })
        .collect();
    for op in [
        ("POST", "/v1/customers"),
        ("GET", "/v1/customers/search"),
        ("POST", "/v1/checkout/sessions"),
        ("GET", "/v1/checkout/sessions/{id}"),
        ("POST", "/v1/payment_intents"),
        ("GET", "/v1/payment_intents/{id}"),
        ("GET", "/v1/payment_intents/search"),
        ("POST", "/v1/refunds"),
    ] {
        assert!(operations.contains(&(op.0.to_string(), op.1.to_string())), "{op:?} not exercised");
    }
    for r in &requests {
        assert_eq!(r.stripe_version.as_deref(), Some("2023-08-16"), "{} {}", r.method, r.path);
        assert!(r.status < 500, "{} {} → {}", r.method, r.path, r.status);
        if r.method == "POST" {
            assert!(r.idempotency_key.as_deref().is_some_and(|k| k.starts_with("bursar-")), "{} {}", r.method, r.path);
        }
    }
    assert_clean(&fake);
    if fake.full_spec_loaded() {
        eprintln!("validated against the full spec from {SPEC_ENV} as well");
    }
}

#[test]
fn the_spec_extract_matches_the_official_spec() {
    let subset: Value = serde_json::from_str(SPEC_SUBSET).unwrap();
    assert_eq!(subset["info"]["version"], "2023-08-16");
    let paths = subset["paths"].as_object().unwrap();
    for (path, method) in [
        ("/v1/customers", "post"),
        ("/v1/customers/search", "get"),
        ("/v1/checkout/sessions", "post"),
        ("/v1/checkout/sessions/{session}", "get"),
        ("/v1/payment_intents", "post"),
        ("/v1/payment_intents/{intent}", "get"),
        ("/v1/payment_intents/search", "get"),
        ("/v1/refunds", "post"),
        ("/v1/transfers", "post"),
        ("/v1/transfers", "get"),
        ("/v1/transfers/{transfer}", "get"),
    ] {
        assert!(paths.get(path).and_then(|p| p.get(method)).is_some(), "{method} {path} missing from the extract");
    }
    let Some(full_path) = std::env::var_os(SPEC_ENV) else {
        eprintln!("{SPEC_ENV} not set: the extract is not compared with the full spec");
        return;
    };
    let full: Value = serde_json::from_str(&std::fs::read_to_string(full_path).unwrap()).unwrap();
    assert_eq!(full["info"]["version"], subset["info"]["version"]);
    for (path, ops) in paths {
        for (method, op) in ops.as_object().unwrap() {
            assert_eq!(&full["paths"][path][method], op, "{method} {path} differs from the full spec");
        }
    }
    for (name, schema) in subset["components"]["schemas"].as_object().unwrap() {
        assert_eq!(&full["components"]["schemas"][name], schema, "schema {name} differs from the full spec");
    }
}
