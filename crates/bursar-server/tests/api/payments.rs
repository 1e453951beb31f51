use crate::common::*;
use bursar_providers::testkit::stripe::{FakeStripe, Fault, SECRET_KEY};
use bursar_providers::Connector;
use serde_json::{json, Value};

const JAN_1: i64 = 1_767_225_600;
const FEB_1: i64 = JAN_1 + 31 * 86_400;

async fn stripe_app(fake: &FakeStripe) -> TestApp {
    let base = fake.base_url().to_string();
    TestApp::spawn_with(move |c| {
        c.stripe_secret_key = Some(SECRET_KEY.into());
        c.stripe_api_base = base;
        c.background_jobs = false;
    })
    .await
}

/// A customer on a test clock with a saved Stripe card, on Grow.
async fn subscribed(app: &TestApp, fake: &FakeStripe, card: &str) -> (String, String, String) {
    let doc: Value = serde_json::from_str(bursar_core::demo::DEMO_CATALOG).unwrap();
    app.post("/v1/catalog/import", doc).await;
    let (_, clock) = app.post("/v1/test_clocks", json!({"frozen_time": JAN_1})).await;
    let clock = clock["id"].as_str().unwrap().to_string();
    let (_, c) =
        app.post("/v1/customers", json!({"country": "US", "email": "ana@example.com", "test_clock": clock})).await;
    let cus = c["id"].as_str().unwrap().to_string();
    // The platform's Stripe customer for this learner.
    let mut cfg = bursar_providers::stripe::StripeConfig::new(SECRET_KEY, vec![]);
    cfg.api_base = fake.base_url().to_string();
    let stripe = bursar_providers::stripe::StripeConnector::new(cfg).unwrap();
    let stripe_cus = stripe
        .ensure_customer(&bursar_providers::CustomerInfo { customer_id: cus.clone(), ..Default::default() })
        .await
        .unwrap();
    add_card(app, &cus, &stripe_cus, card).await;
    let (s, sub) = app.post("/v1/subscriptions", json!({"customer": cus, "plan": "grow", "trial": false})).await;
    assert_eq!(s, 200, "{sub}");
    (clock, cus, stripe_cus)
}

async fn add_card(app: &TestApp, cus: &str, stripe_cus: &str, card: &str) -> Value {
    let (s, m) = app
        .post(
            &format!("/v1/customers/{cus}/payment_methods"),
            json!({"provider": "stripe", "token": card, "provider_customer": stripe_cus,
                   "brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2034}),
        )
        .await;
    assert_eq!(s, 200, "{m}");
    m
}

async fn payments_of(app: &TestApp, cus: &str) -> Vec<Value> {
    let (_, l) = app.get(&format!("/v1/payments?customer={cus}&limit=100")).await;
    let mut v = l["data"].as_array().unwrap().clone();
    v.reverse();
    v
}

async fn balance(app: &TestApp, account: &str) -> Option<i64> {
    let (_, b) = app.get("/v1/ledger/balances?currency=USD").await;
    b["data"].as_array().unwrap().iter().find(|r| r["account"] == account).map(|r| r["balance"].as_i64().unwrap())
}

async fn advance(app: &TestApp, clock: &str, to: i64) {
    let (s, b) = app.post(&format!("/v1/test_clocks/{clock}/advance"), json!({"frozen_time": to})).await;
    assert_eq!(s, 200, "{b}");
}

#[tokio::test]
async fn renewals_charge_the_saved_stripe_card_off_session() {
    let fake = FakeStripe::start().await;
    let app = stripe_app(&fake).await;
    let (clock, cus, _) = subscribed(&app, &fake, "pm_card_visa").await;
    // The first invoice was charged through Stripe before the response.
    let p = payments_of(&app, &cus).await;
    assert_eq!(p.len(), 1);
    assert_eq!((p[0]["provider"].as_str(), p[0]["status"].as_str()), (Some("stripe"), Some("completed")));
    assert_eq!((p[0]["amount"].as_i64(), p[0]["currency"].as_str()), (Some(1900), Some("USD")));
    assert!(p[0]["provider_payment_id"].as_str().unwrap().starts_with("pi_"));
    assert_eq!(p[0]["payment_method"]["last4"], "4242");
    // Stripe was asked with an idempotency key derived from the payment id.
    let charges: Vec<_> =
        fake.requests().into_iter().filter(|r| r.method == "POST" && r.path == "/v1/payment_intents").collect();
    assert_eq!(charges.len(), 1);
    assert_eq!(
        charges[0].idempotency_key.as_deref(),
        Some(format!("bursar-{}-charge", p[0]["id"].as_str().unwrap()).as_str())
    );
    let param = |k: &str| charges[0].params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert_eq!(param("off_session").as_deref(), Some("true"));
    assert_eq!(param("amount").as_deref(), Some("1900"));
    assert_eq!(param("currency").as_deref(), Some("usd"));

    advance(&app, &clock, FEB_1).await;
    let (_, invs) = app.get(&format!("/v1/invoices?customer={cus}")).await;
    assert_eq!(
        (invs["data"][0]["status"].as_str(), invs["data"][0]["amount_paid"].as_i64()),
        (Some("paid"), Some(1900))
    );
    assert_eq!(fake.objects("payment_intent").len(), 2);
    assert_eq!(balance(&app, "provider_clearing:stripe").await, Some(3800));
    assert_eq!(balance(&app, "receivables").await, Some(0));
    assert!(fake.validation_failures().is_empty(), "{:?}", fake.validation_failures());
    app.verify_ledger().await;
}

#[tokio::test]
async fn a_stripe_decline_goes_to_dunning_and_a_new_card_recovers() {
    let fake = FakeStripe::start().await;
    let app = stripe_app(&fake).await;
    let (clock, cus, stripe_cus) = subscribed(&app, &fake, "pm_card_visa").await;
    add_card(&app, &cus, &stripe_cus, "pm_card_chargeDeclinedInsufficientFunds").await;
    advance(&app, &clock, FEB_1).await;
    let (_, subs) = app.get(&format!("/v1/subscriptions?customer={cus}")).await;
    assert_eq!(subs["data"][0]["status"], "past_due");
    let p = payments_of(&app, &cus).await;
    assert_eq!((p[1]["status"].as_str(), p[1]["failure_code"].as_str()), (Some("failed"), Some("insufficient_funds")));
    let (_, fails) = app.get("/v1/events?type=invoice.payment_failed").await;
    assert_eq!(fails["data"][0]["data"]["failure_code"], "insufficient_funds");
    assert_eq!(fails["data"][0]["data"]["next_attempt_at"], FEB_1 + 3_600);
    // A working card, then the 1-hour retry charges it.
    add_card(&app, &cus, &stripe_cus, "pm_card_visa").await;
    advance(&app, &clock, FEB_1 + 3_600).await;
    let (_, subs) = app.get(&format!("/v1/subscriptions?customer={cus}")).await;
    assert_eq!(subs["data"][0]["status"], "active");
    let p = payments_of(&app, &cus).await;
    assert_eq!(p.len(), 3);
    assert_eq!(p[2]["status"], "completed");
    assert_eq!(balance(&app, "provider_clearing:stripe").await, Some(3800));
    assert_eq!(balance(&app, "receivables").await, Some(0));
    app.verify_ledger().await;
}

#[tokio::test]
async fn an_unknown_outcome_is_recovered_without_charging_twice() {
    let fake = FakeStripe::start().await;
    let app = stripe_app(&fake).await;
    let (clock, cus, _) = subscribed(&app, &fake, "pm_card_visa").await;
    // Stripe takes the renewal's charge but the answer is lost (a 500 after executing).
    fake.fail_next(1, Fault::ServerErrorAfterExecuting);
    advance(&app, &clock, FEB_1).await;
    let p = payments_of(&app, &cus).await;
    assert_eq!(p[1]["status"], "pending", "{}", p[1]);
    let (_, invs) = app.get(&format!("/v1/invoices?customer={cus}")).await;
    assert_eq!(invs["data"][0]["status"], "open");
    assert_eq!(fake.objects("payment_intent").len(), 2, "Stripe did take the charge");
    assert_eq!(balance(&app, "provider_clearing:stripe").await, Some(1900), "nothing recorded yet");
    // The recovery check asks again under the same idempotency key: Stripe
    // answers with the stored result and charges nothing more.
    let settings = app.state.billing_settings();
    let later = app.state.now_ms() + 120_000;
    let asked = bursar_core::settlement::run_checks(&app.state.db, &settings, later).await.unwrap();
    assert_eq!(asked, 1);
    let p = payments_of(&app, &cus).await;
    assert_eq!(p[1]["status"], "completed");
    assert_eq!(fake.objects("payment_intent").len(), 2, "no second charge");
    let (_, invs) = app.get(&format!("/v1/invoices?customer={cus}")).await;
    assert_eq!(invs["data"][0]["status"], "paid");
    assert_eq!(balance(&app, "provider_clearing:stripe").await, Some(3800));
    // Asking again changes nothing.
    bursar_core::settlement::run_checks(&app.state.db, &settings, later + 3_600_000).await.unwrap();
    assert_eq!(balance(&app, "provider_clearing:stripe").await, Some(3800));
    app.verify_ledger().await;
}

#[tokio::test]
async fn a_provider_outage_leaves_the_payment_to_be_collected_later() {
    let fake = FakeStripe::start().await;
    let app = stripe_app(&fake).await;
    let (clock, cus, _) = subscribed(&app, &fake, "pm_card_visa").await;
    fake.fail_next(1, Fault::ServiceUnavailable);
    advance(&app, &clock, FEB_1).await;
    let p = payments_of(&app, &cus).await;
    assert_eq!(p[1]["status"], "pending");
    assert_eq!(fake.objects("payment_intent").len(), 1, "the outage took nothing");
    let (_, subs) = app.get(&format!("/v1/subscriptions?customer={cus}")).await;
    assert_eq!(subs["data"][0]["status"], "active", "an outage is not a decline");
    let (_, m) = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.map(|t| (0, t)).unwrap();
    assert!(m.contains("bursar_provider_errors_total"), "outages are visible in metrics");
    let settings = app.state.billing_settings();
    bursar_core::settlement::run_checks(&app.state.db, &settings, app.state.now_ms() + 120_000).await.unwrap();
    let p = payments_of(&app, &cus).await;
    assert_eq!(p[1]["status"], "completed");
    assert_eq!(fake.objects("payment_intent").len(), 2);
    app.verify_ledger().await;
}

#[tokio::test]
async fn sandbox_processing_payments_settle_when_checked() {
    let app = TestApp::spawn_with(|c| c.background_jobs = false).await;
    let (_, c) = app.post("/v1/customers", json!({"country": "US"})).await;
    let cus = c["id"].as_str().unwrap();
    let (s, m) =
        app.post(&format!("/v1/customers/{cus}/payment_methods"), json!({"token": "pm_card_processing"})).await;
    assert_eq!(s, 200, "{m}");
    let (_, inv) = app
        .post("/v1/invoices", json!({"customer": cus, "lines": [{"description": "Course", "unit_amount": 4900}]}))
        .await;
    let id = inv["id"].as_str().unwrap();
    let (s, fin) = app.post(&format!("/v1/invoices/{id}/finalize"), json!({})).await;
    assert_eq!(s, 200, "{fin}");
    assert_eq!(fin["status"], "open");
    let (_, p) = app.get(&format!("/v1/payments?invoice={id}")).await;
    assert_eq!(p["data"][0]["status"], "processing");
    let settings = app.state.billing_settings();
    bursar_core::settlement::run_checks(&app.state.db, &settings, app.state.now_ms()).await.unwrap();
    let (_, p) = app.get(&format!("/v1/payments/{}", p["data"][0]["id"].as_str().unwrap())).await;
    assert_eq!(p["status"], "completed");
    assert_eq!(app.get(&format!("/v1/invoices/{id}")).await.1["status"], "paid");
    app.verify_ledger().await;
}

#[tokio::test]
async fn payment_methods_are_managed_and_never_hold_card_numbers() {
    let fake = FakeStripe::start().await;
    let app = stripe_app(&fake).await;
    let (_, c) = app.post("/v1/customers", json!({"country": "US"})).await;
    let cus = c["id"].as_str().unwrap();
    let path = format!("/v1/customers/{cus}/payment_methods");
    let bad = [
        (json!({"provider": "stripe", "token": "4242424242424242", "provider_customer": "cus_1"}), "token"),
        (json!({"provider": "stripe", "token": "pm_card_visa"}), "provider_customer"),
        (json!({"provider": "paypal", "token": "vault_1"}), "provider"),
        (json!({"provider": "cash", "token": "x"}), "provider"),
        (json!({"provider": "stripe", "token": "pm_1", "provider_customer": "cus_1", "exp_month": 13}), "exp_month"),
        (json!({"provider": "stripe", "token": "pm_1", "provider_customer": "cus_1", "last4": "42"}), "last4"),
        (json!({"token": "pm_card_nope"}), "token"),
    ];
    for (body, param) in bad {
        let (s, e) = app.post(&path, body).await;
        assert_error(s, &e, 400, Some(param));
    }
    assert_eq!(app.count("payment_methods").await, 0);
    let (_, a) = app.post(&path, json!({"token": "pm_card_visa"})).await;
    let (_, b) = app
        .post(&path, json!({"provider": "stripe", "token": "pm_1", "provider_customer": "cus_1", "last4": "1111"}))
        .await;
    let (_, l) = app.get(&path).await;
    let defaults: Vec<bool> = l.as_array().unwrap().iter().map(|m| m["default"].as_bool().unwrap()).collect();
    assert_eq!(defaults, vec![true, false], "the newest is the default");
    let (s, l) = app.post(&format!("{path}/{}/default", a["id"].as_str().unwrap()), json!({})).await;
    assert_eq!(s, 200, "{l}");
    assert_eq!(l[1]["default"], true);
    let (s, l) = app.delete(&format!("{path}/{}", a["id"].as_str().unwrap())).await;
    assert_eq!(s, 200, "{l}");
    assert_eq!(l.as_array().unwrap().len(), 1);
    assert_eq!(
        (l[0]["id"].clone(), l[0]["default"].as_bool()),
        (b["id"].clone(), Some(true)),
        "the remaining one is the default"
    );
    let (s, e) = app.delete(&format!("{path}/{}", a["id"].as_str().unwrap())).await;
    assert_error(s, &e, 404, Some("method"));
    let (s, e) = app.get("/v1/payments/pay_nothere").await;
    assert_error(s, &e, 404, Some("id"));
}

async fn stripe_app_with_webhooks(fake: &FakeStripe) -> TestApp {
    let base = fake.base_url().to_string();
    TestApp::spawn_with(move |c| {
        c.stripe_secret_key = Some(SECRET_KEY.into());
        c.stripe_api_base = base;
        c.stripe_webhook_secrets =
            vec!["whsec_old_secret".into(), bursar_providers::testkit::stripe::WEBHOOK_SECRET.into()];
        c.background_jobs = false;
    })
    .await
}

/// The renewal's charge whose answer was lost: pending on Bursar's side,
/// taken at Stripe. Returns (customer, our payment id, Stripe's id).
async fn lost_answer(app: &TestApp, fake: &FakeStripe) -> (String, String, String) {
    let (clock, cus, _) = subscribed(app, fake, "pm_card_visa").await;
    fake.fail_next(1, Fault::ServerErrorAfterExecuting);
    advance(app, &clock, FEB_1).await;
    let p = payments_of(app, &cus).await;
    assert_eq!(p[1]["status"], "pending");
    let intent = fake
        .objects("payment_intent")
        .into_iter()
        .find(|pi| pi["metadata"]["payment_id"] == p[1]["id"])
        .expect("Stripe holds the renewal's PaymentIntent");
    (cus, p[1]["id"].as_str().unwrap().to_string(), intent["id"].as_str().unwrap().to_string())
}

#[tokio::test]
async fn a_stripe_webhook_settles_a_payment_once() {
    let fake = FakeStripe::start().await;
    let app = stripe_app_with_webhooks(&fake).await;
    let (cus, pay, pi) = lost_answer(&app, &fake).await;
    let url = app.url("/webhooks/stripe");
    let hook = fake.intent_event("payment_intent.succeeded", &pi);
    assert_eq!(fake.deliver(&url, &hook).await, Ok(200));
    let (_, p) = app.get(&format!("/v1/payments/{pay}")).await;
    assert_eq!((p["status"].as_str(), p["provider_payment_id"].as_str()), (Some("completed"), Some(pi.as_str())));
    let (_, invs) = app.get(&format!("/v1/invoices?customer={cus}")).await;
    assert_eq!(invs["data"][0]["status"], "paid");
    assert_eq!(balance(&app, "provider_clearing:stripe").await, Some(3800));
    // Delivered again (Stripe retries): acknowledged, not applied twice.
    assert_eq!(fake.deliver(&url, &hook).await, Ok(200));
    assert_eq!(balance(&app, "provider_clearing:stripe").await, Some(3800));
    assert_eq!(app.count("provider_events").await, 1);
    // Staff replay the stored event: applied again, nothing changes.
    let (_, evs) = app.get("/v1/provider_events?provider=stripe").await;
    assert_eq!(evs["data"][0]["status"], "applied");
    assert!(evs["data"][0]["payload"].as_str().unwrap().contains(&pi));
    let (s, rep) =
        app.post(&format!("/v1/provider_events/{}/replay", evs["data"][0]["id"].as_str().unwrap()), json!({})).await;
    assert_eq!(s, 200, "{rep}");
    assert_eq!(rep["status"], "ignored");
    assert!(rep["note"].as_str().unwrap().starts_with("replayed"));
    assert_eq!(balance(&app, "provider_clearing:stripe").await, Some(3800));
    // With a key, the replay's answer is stored with its outcome and sent
    // again for a retry, which applies nothing more.
    let path = format!("/v1/provider_events/{}/replay", evs["data"][0]["id"].as_str().unwrap());
    let keyed = || app.req(reqwest::Method::POST, &path).header("Idempotency-Key", "replay-1").json(&json!({})).send();
    let first = keyed().await.unwrap();
    assert!(first.headers().get("idempotent-replayed").is_none());
    let (s1, b1) = json(first).await;
    let again = keyed().await.unwrap();
    assert!(again.headers().get("idempotent-replayed").is_some(), "the retry gets the stored answer");
    let (s2, b2) = json(again).await;
    assert_eq!((s1, s2), (200, 200));
    assert_eq!(b1, b2);
    assert_eq!(balance(&app, "provider_clearing:stripe").await, Some(3800));
    let (s, e) = app.post("/v1/provider_events/pevt_nothere/replay", json!({})).await;
    assert_error(s, &e, 404, Some("id"));
    // A live key does not see test-mode events.
    let live = app.client.get(app.url("/v1/provider_events")).bearer_auth(&app.live_key).send().await.unwrap();
    let live: Value = live.json().await.unwrap();
    assert_eq!(live["data"], json!([]));
    // A failure reported after the success (out of order) changes nothing.
    let late = fake.intent_event("payment_intent.payment_failed", &pi);
    assert_eq!(fake.deliver(&url, &late).await, Ok(200));
    assert_eq!(app.get(&format!("/v1/payments/{pay}")).await.1["status"], "completed");
    // The recovery check finds it settled and asks nothing.
    let before = fake.requests().len();
    let settings = app.state.billing_settings();
    bursar_core::settlement::run_checks(&app.state.db, &settings, app.state.now_ms() + 600_000).await.unwrap();
    assert_eq!(fake.requests().len(), before);
    app.verify_ledger().await;
}

#[tokio::test]
async fn forged_stale_and_mismatched_webhooks_apply_nothing() {
    let fake = FakeStripe::start().await;
    let app = stripe_app_with_webhooks(&fake).await;
    let (_, pay, pi) = lost_answer(&app, &fake).await;
    let url = app.url("/webhooks/stripe");
    let intent = fake.object(&pi).unwrap();
    let now = jiff::Timestamp::now().as_second();
    // Signed with a secret Bursar does not know.
    let forged = fake.event_signed("payment_intent.succeeded", intent.clone(), now, "whsec_attacker");
    assert_eq!(fake.deliver(&url, &forged).await, Ok(400));
    // Signed correctly but ten minutes old (a replay).
    let stale = fake.event_signed(
        "payment_intent.succeeded",
        intent.clone(),
        now - 600,
        bursar_providers::testkit::stripe::WEBHOOK_SECRET,
    );
    assert_eq!(fake.deliver(&url, &stale).await, Ok(400));
    // The body changed after signing.
    let mut tampered = fake.intent_event("payment_intent.succeeded", &pi);
    let original = tampered.body.clone();
    tampered.body =
        String::from_utf8(tampered.body).unwrap().replacen("\"amount\":1900", "\"amount\":1901", 1).into_bytes();
    assert_ne!(tampered.body, original, "the test really changes the body");
    assert_eq!(fake.deliver(&url, &tampered).await, Ok(400));
    // No signature at all.
    let resp = app.client.post(&url).body("{}").send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    assert_eq!(app.count("provider_events").await, 0, "refused webhooks are not stored");
    assert_eq!(app.get(&format!("/v1/payments/{pay}")).await.1["status"], "pending");
    // Signed with the older of two secrets (rotation): accepted. The amount
    // differs from Bursar's payment: stored and flagged, not applied.
    let mut other = intent.clone();
    other["amount"] = json!(100);
    other["amount_received"] = json!(100);
    let mismatch = fake.event_signed("payment_intent.succeeded", other, now, "whsec_old_secret");
    assert_eq!(fake.deliver(&url, &mismatch).await, Ok(200));
    assert_eq!(app.get(&format!("/v1/payments/{pay}")).await.1["status"], "pending");
    let flagged: String =
        sqlx::query_scalar("SELECT status FROM provider_events").fetch_one(app.tdb.db.reader()).await.unwrap();
    assert_eq!(flagged, "flagged");
    // An event type Bursar does not act on: stored and acknowledged.
    let other_type = fake.event("customer.updated", json!({"id": "cus_x", "object": "customer"}));
    assert_eq!(fake.deliver(&url, &other_type).await, Ok(200));
    assert_eq!(app.count("provider_events").await, 2);
    // A provider that is not configured has no endpoint.
    let resp = app.client.post(app.url("/webhooks/paypal")).body("{}").send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    app.verify_ledger().await;
}

#[tokio::test]
async fn refunds_to_the_card_go_back_through_stripe() {
    let fake = FakeStripe::start().await;
    let app = stripe_app(&fake).await;
    let (_, cus, _) = subscribed(&app, &fake, "pm_card_visa").await;
    let (_, invs) = app.get(&format!("/v1/invoices?customer={cus}")).await;
    let inv = invs["data"][0]["id"].as_str().unwrap().to_string();
    let (s, r) = app.post(&format!("/v1/invoices/{inv}/refund"), json!({"amount": 700})).await;
    assert_eq!(s, 200, "{r}");
    let refunds = fake.objects("refund");
    assert_eq!(refunds.len(), 1);
    assert_eq!(refunds[0]["amount"], 700);
    let p = payments_of(&app, &cus).await;
    assert_eq!((p[0]["amount_refunded"].as_i64(), p[0]["status"].as_str()), (Some(700), Some("completed")));
    let (status, provider_refund): (String, Option<String>) =
        sqlx::query_as("SELECT status, provider_refund_id FROM refunds").fetch_one(app.tdb.db.reader()).await.unwrap();
    assert_eq!(status, "succeeded");
    assert_eq!(provider_refund.as_deref(), refunds[0]["id"].as_str());
    // Stripe's refund carries Bursar's id as its idempotency key.
    let req = fake.requests().into_iter().find(|r| r.path == "/v1/refunds").unwrap();
    assert!(req.idempotency_key.unwrap().starts_with("bursar-re_"));
    assert_eq!(balance(&app, "provider_clearing:stripe").await, Some(1200));
    // The rest, refunded in full: the payment is refunded.
    let (s, _) = app.post(&format!("/v1/invoices/{inv}/refund"), json!({})).await;
    assert_eq!(s, 200);
    let p = payments_of(&app, &cus).await;
    assert_eq!((p[0]["amount_refunded"].as_i64(), p[0]["status"].as_str()), (Some(1900), Some("refunded")));
    assert_eq!(balance(&app, "provider_clearing:stripe").await, Some(0));
    app.verify_ledger().await;
}

#[tokio::test]
async fn a_refund_the_provider_refuses_is_reversed() {
    let fake = FakeStripe::start().await;
    let app = stripe_app(&fake).await;
    let (_, cus, _) = subscribed(&app, &fake, "pm_card_visa").await;
    let p = payments_of(&app, &cus).await;
    let pi = p[0]["provider_payment_id"].as_str().unwrap().to_string();
    // Someone refunded the whole charge in Stripe's dashboard already.
    let mut cfg = bursar_providers::stripe::StripeConfig::new(SECRET_KEY, vec![]);
    cfg.api_base = fake.base_url().to_string();
    let stripe = bursar_providers::stripe::StripeConnector::new(cfg).unwrap();
    stripe
        .refund(&bursar_providers::RefundRequest {
            refund_id: "dashboard_1".into(),
            provider_payment_id: pi,
            amount: bursar_providers::Money::new(1900, "USD"),
            reason: None,
        })
        .await
        .unwrap();
    let (_, invs) = app.get(&format!("/v1/invoices?customer={cus}")).await;
    let inv = invs["data"][0]["id"].as_str().unwrap().to_string();
    let (s, r) = app.post(&format!("/v1/invoices/{inv}/refund"), json!({"amount": 500})).await;
    assert_eq!(s, 200, "{r}");
    let (status, msg): (String, Option<String>) =
        sqlx::query_as("SELECT status, failure_message FROM refunds").fetch_one(app.tdb.db.reader()).await.unwrap();
    assert_eq!(status, "failed", "{msg:?}");
    // The money never left: the credit note's entry is reversed.
    assert_eq!(balance(&app, "provider_clearing:stripe").await, Some(1900));
    assert_eq!(payments_of(&app, &cus).await[0]["amount_refunded"], 0);
    let (_, evs) = app.get("/v1/events?type=refund.failed").await;
    assert_eq!(evs["data"].as_array().unwrap().len(), 1);
    // Its credit note is void and credits nothing: the invoice still has
    // all 1900 to credit (here to the customer's balance).
    let (_, invoice) = app.get(&format!("/v1/invoices/{inv}")).await;
    assert_eq!(invoice["credit_notes"][0]["status"], "void");
    assert_eq!(invoice["amount_credited"], 0);
    let (s, e) =
        app.post(&format!("/v1/invoices/{inv}/refund"), json!({"amount": 1901, "refund_to": "credit_balance"})).await;
    assert_error(s, &e, 400, Some("amount"));
    let (s, r) =
        app.post(&format!("/v1/invoices/{inv}/refund"), json!({"amount": 1900, "refund_to": "credit_balance"})).await;
    assert_eq!(s, 200, "{r}");
    let (_, invoice) = app.get(&format!("/v1/invoices/{inv}")).await;
    assert_eq!(invoice["amount_credited"], 1900);
    app.verify_ledger().await;
}

#[tokio::test]
async fn reconciliation_lists_every_difference_between_stripe_bursar_and_the_ledger() {
    let fake = FakeStripe::start().await;
    let app = stripe_app_with_webhooks(&fake).await;
    let (_, cus, _) = subscribed(&app, &fake, "pm_card_visa").await;
    let (s, r) = app.get("/v1/reports/reconciliation?provider=stripe&from=1").await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["payments_checked"], 1);
    assert_eq!(r["recorded"]["USD"], 1900);
    assert_eq!(r["differences"], json!([]), "all agree");
    // A renewal whose answer was lost: Stripe took it, Bursar has it pending.
    let (_, pay, _) = {
        let (clock, _) = {
            let (_, subs) = app.get(&format!("/v1/customers/{cus}")).await;
            (subs["test_clock"].as_str().unwrap().to_string(), ())
        };
        fake.fail_next(1, Fault::ServerErrorAfterExecuting);
        advance(&app, &clock, FEB_1).await;
        let p = payments_of(&app, &cus).await;
        (cus.clone(), p[1]["id"].as_str().unwrap().to_string(), ())
    };
    // And a webhook about a payment Bursar never made.
    let stranger = fake.event(
        "payment_intent.succeeded",
        json!({"id": "pi_stranger", "object": "payment_intent", "amount": 500, "amount_received": 500, "currency": "usd",
               "status": "succeeded", "metadata": {}, "created": 1, "livemode": false}),
    );
    assert_eq!(fake.deliver(&app.url("/webhooks/stripe"), &stranger).await, Ok(200));
    let (_, r) = app.get("/v1/reports/reconciliation?provider=stripe&from=1").await;
    let kinds: Vec<(String, Option<String>)> = r["differences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["kind"].as_str().unwrap().to_string(), d["payment"].as_str().map(str::to_string)))
        .collect();
    assert!(kinds.contains(&("unsettled_payment".into(), Some(pay.clone()))), "{kinds:?}");
    assert!(kinds.contains(&("status_mismatch".into(), Some(pay.clone()))), "{kinds:?}");
    let (_, evs) = app.get("/v1/provider_events").await;
    assert!(kinds.iter().any(|k| k.0 == "unknown_provider_payment"), "{kinds:?} {evs}");
    // Once recovered, the payment's differences are gone.
    let settings = app.state.billing_settings();
    bursar_core::settlement::run_checks(&app.state.db, &settings, app.state.now_ms() + 120_000).await.unwrap();
    let (_, r) = app.get("/v1/reports/reconciliation?provider=stripe&from=1").await;
    assert!(r["differences"].as_array().unwrap().iter().all(|d| d["payment"] != json!(pay)), "{r}");
    let (s, e) = app.get("/v1/reports/reconciliation?provider=cash").await;
    assert_error(s, &e, 400, Some("provider"));
}

#[tokio::test]
async fn an_invoice_with_an_unsettled_payment_cannot_be_voided_nor_paid_twice() {
    let fake = FakeStripe::start().await;
    let app = stripe_app(&fake).await;
    let (clock, cus, _) = subscribed(&app, &fake, "pm_card_visa").await;
    fake.fail_next(1, Fault::ServerErrorAfterExecuting);
    advance(&app, &clock, FEB_1).await;
    let (_, invs) = app.get(&format!("/v1/invoices?customer={cus}")).await;
    let inv = invs["data"][0]["id"].as_str().unwrap().to_string();
    let (s, e) = app.post(&format!("/v1/invoices/{inv}/void"), json!({})).await;
    assert_error(s, &e, 409, None);
    assert_eq!(e["error"]["code"], "invoice_payment_in_progress");
    // Paying by hand asks about the attempt in flight instead of charging again.
    let (s, paid) = app.post(&format!("/v1/invoices/{inv}/pay"), json!({})).await;
    assert_eq!(s, 200, "{paid}");
    assert_eq!(paid["status"], "paid");
    assert_eq!(payments_of(&app, &cus).await.len(), 2, "the same attempt, settled");
    assert_eq!(fake.objects("payment_intent").len(), 2, "one charge per invoice");
    app.verify_ledger().await;
}

#[tokio::test]
async fn test_mode_credentials_take_test_payments_only() {
    let fake = FakeStripe::start().await;
    let app = stripe_app(&fake).await;
    let (_, c) = app
        .client
        .post(app.url("/v1/customers"))
        .bearer_auth(&app.live_key)
        .json(&json!({"country": "US"}))
        .send()
        .await
        .map(|r| (0, r))
        .unwrap();
    let c: Value = c.json().await.unwrap();
    let r = app
        .client
        .post(app.url(&format!("/v1/customers/{}/payment_methods", c["id"].as_str().unwrap())))
        .bearer_auth(&app.live_key)
        .json(&json!({"provider": "stripe", "token": "pm_1", "provider_customer": "cus_1"}))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let e: Value = r.json().await.unwrap();
    assert_error(status, &e, 400, Some("provider"));
}

/// A checkout's payment is the buyer's to make on a page: the recovery job
/// never charges it off-session nor fails it for want of a saved method, even
/// when it is due a check (an answer was lost, a crash left it half-recorded).
#[tokio::test]
async fn the_recovery_job_never_charges_or_fails_a_checkout_payment() {
    let fake = FakeStripe::start().await;
    let app = stripe_app_with_webhooks(&fake).await;
    let (_, cus) = app.post("/v1/customers", json!({"country": "US", "email": "sam@example.com"})).await;
    let cus = cus["id"].as_str().unwrap().to_string();
    let (s, cs) = app
        .post(
            "/v1/checkout/sessions",
            json!({"customer": cus, "mode": "payment", "items": [{"description": "Mock test pack", "unit_amount": 900}],
                   "success_url": "https://p.example/ok", "cancel_url": "https://p.example/no"}),
        )
        .await;
    assert_eq!(s, 201, "{cs}");
    let id = cs["id"].as_str().unwrap();
    let token = app.checkout_token(id).await;
    let r = app.client.post(app.url(&format!("/checkout/{id}/pay"))).form(&[("form_token", &token)]).send().await;
    assert_eq!(r.unwrap().status().as_u16(), 303);
    // Stripe's page is open; the payment is due a check, once with Stripe's
    // session recorded and once without (a crash before it was saved).
    for provider_ref in [true, false] {
        let sql = if provider_ref {
            "UPDATE payments SET next_check_at = 0"
        } else {
            "UPDATE payments SET next_check_at = 0, provider_payment_id = NULL"
        };
        sqlx::query(sql).execute(app.tdb.db.writer()).await.unwrap();
        let before = fake.objects("payment_intent").len();
        let settings = app.state.billing_settings();
        bursar_core::settlement::run_checks(&app.state.db, &settings, app.state.now_ms() + 1).await.unwrap();
        let p = payments_of(&app, &cus).await;
        assert_eq!(p.len(), 1);
        assert_eq!(p[0]["status"], "pending", "still the buyer's to pay: {p:?}");
        assert_eq!(fake.objects("payment_intent").len(), before, "nothing charged off-session");
    }
}
