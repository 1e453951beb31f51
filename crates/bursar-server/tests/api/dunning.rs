use crate::common::*;
use serde_json::{json, Value};

const JAN_1: i64 = 1_767_225_600;
const FEB_1: i64 = JAN_1 + 31 * 86_400;
const HOUR: i64 = 3_600;

async fn setup(app: &TestApp) -> (String, String, String) {
    let doc: Value = serde_json::from_str(bursar_core::demo::DEMO_CATALOG).unwrap();
    app.post("/v1/catalog/import", doc).await;
    let (_, clock) = app.post("/v1/test_clocks", json!({"frozen_time": JAN_1})).await;
    let clock = clock["id"].as_str().unwrap().to_string();
    let (_, c) =
        app.post("/v1/customers", json!({"country": "US", "email": "lea@example.com", "test_clock": clock})).await;
    let cus = c["id"].as_str().unwrap().to_string();
    let (s, _) = app.post(&format!("/v1/customers/{cus}/payment_methods"), json!({"token": "pm_card_visa"})).await;
    assert_eq!(s, 200);
    let (s, sub) = app.post("/v1/subscriptions", json!({"customer": cus, "plan": "grow", "trial": false})).await;
    assert_eq!(s, 200, "{sub}");
    (clock, cus, sub["id"].as_str().unwrap().to_string())
}

async fn card(app: &TestApp, cus: &str, token: &str) {
    let (s, b) = app.post(&format!("/v1/customers/{cus}/payment_methods"), json!({"token": token})).await;
    assert_eq!(s, 200, "{b}");
}

async fn advance(app: &TestApp, clock: &str, to: i64) {
    let (s, b) = app.post(&format!("/v1/test_clocks/{clock}/advance"), json!({"frozen_time": to})).await;
    assert_eq!(s, 200, "{b}");
}

async fn status(app: &TestApp, sub: &str) -> String {
    app.get(&format!("/v1/subscriptions/{sub}")).await.1["status"].as_str().unwrap().to_string()
}

async fn renewal(app: &TestApp, cus: &str) -> Value {
    let (_, l) = app.get(&format!("/v1/invoices?customer={cus}")).await;
    l["data"][0].clone()
}

#[tokio::test]
async fn dunning_recovers_at_the_three_day_retry() {
    let app = TestApp::spawn().await;
    let (clock, cus, sub) = setup(&app).await;
    card(&app, &cus, "pm_card_chargeDeclinedInsufficientFunds").await;
    advance(&app, &clock, FEB_1).await;
    assert_eq!(status(&app, &sub).await, "past_due");
    let inv = renewal(&app, &cus).await;
    assert_eq!((inv["status"].as_str(), inv["amount_paid"].as_i64()), (Some("open"), Some(0)));
    // Retries at 1 h and 24 h fail too.
    advance(&app, &clock, FEB_1 + 24 * HOUR).await;
    assert_eq!(status(&app, &sub).await, "past_due");
    let (_, fails) = app.get("/v1/events?type=invoice.payment_failed&limit=100").await;
    let attempts: Vec<i64> =
        fails["data"].as_array().unwrap().iter().filter_map(|e| e["data"]["attempt"].as_i64()).collect();
    assert_eq!(attempts, vec![3, 2, 1], "the first failure and two scheduled retries so far");
    // Every failure, the first one too, carries the prompt and the schedule.
    let first = &fails["data"][2]["data"];
    assert_eq!(first["update_payment_method"], true, "{first}");
    assert_eq!(first["next_attempt_at"], FEB_1 + HOUR, "{first}");
    assert_eq!(first["subscription_status"], "past_due", "{first}");
    assert!(fails["data"].as_array().unwrap().iter().all(|e| e["data"]["update_payment_method"] == true));
    assert_eq!(fails["data"][0]["data"]["next_attempt_at"], FEB_1 + 72 * HOUR);
    // The learner updates the card; the 3-day retry succeeds.
    card(&app, &cus, "pm_card_visa").await;
    advance(&app, &clock, FEB_1 + 72 * HOUR).await;
    assert_eq!(status(&app, &sub).await, "active");
    let inv = renewal(&app, &cus).await;
    assert_eq!((inv["status"].as_str(), inv["amount_paid"].as_i64()), (Some("paid"), Some(1900)));
    // Renewals continue as before.
    advance(&app, &clock, FEB_1 + 28 * 86_400).await;
    assert_eq!(renewal(&app, &cus).await["period_start"], FEB_1 + 28 * 86_400);
    let (_, b) = app.get("/v1/ledger/balances?currency=USD").await;
    let bal = |a: &str| {
        b["data"].as_array().unwrap().iter().find(|r| r["account"] == a).map(|r| r["balance"].as_i64().unwrap())
    };
    assert_eq!(bal("receivables"), Some(0));
    assert_eq!(bal("provider_clearing:sandbox"), Some(3 * 1900));
    app.verify_ledger().await;
}

#[tokio::test]
async fn dunning_that_never_recovers_cancels_and_writes_off() {
    let app = TestApp::spawn().await;
    let (clock, cus, sub) = setup(&app).await;
    card(&app, &cus, "pm_card_chargeDeclined").await;
    advance(&app, &clock, FEB_1 + 8 * 24 * HOUR).await;
    assert_eq!(status(&app, &sub).await, "canceled");
    let inv = renewal(&app, &cus).await;
    assert_eq!(inv["status"], "uncollectible");
    let (_, b) = app.get("/v1/ledger/balances?account=bad_debt").await;
    assert_eq!(b["data"][0]["balance"], 1900);
    let (_, ev) = app.get("/v1/events?type=invoice.payment_failed&limit=100").await;
    let ev = ev["data"].as_array().unwrap();
    assert_eq!(ev.len(), 5, "the first failure and four retries");
    let attempts: Vec<i64> = ev.iter().map(|e| e["data"]["attempt"].as_i64().unwrap()).collect();
    assert_eq!(attempts, vec![5, 4, 3, 2, 1]);
    assert!(ev.iter().all(|e| e["data"]["update_payment_method"] == true));
    assert!(ev[0]["data"]["next_attempt_at"].is_null(), "no attempt after the last: {}", ev[0]);
    assert_eq!(ev[0]["data"]["subscription_status"], "canceled");
    // The emails: four promise another attempt; the last says the
    // subscription ended and how to come back, and promises nothing.
    let bodies = failure_emails(&app, &cus).await;
    assert_eq!(bodies.len(), 5, "{bodies:?}");
    let (retrying, last): (Vec<&String>, Vec<&String>) =
        bodies.iter().partition(|b| b.contains("We will try again automatically."));
    assert_eq!(retrying.len(), 4, "{bodies:?}");
    assert!(last[0].contains("subscription has been canceled") && last[0].contains("/billing\n"), "{}", last[0]);
    assert!(!last[0].contains("try again automatically"), "{}", last[0]);
    app.verify_ledger().await;
}

/// The bodies of the payment-failed emails sent to a customer.
async fn failure_emails(app: &TestApp, cus: &str) -> Vec<String> {
    bursar_core::emails::run(&app.state).await.unwrap();
    let (_, l) = app.get(&format!("/v1/emails?customer={cus}&limit=100")).await;
    l["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "payment_failed")
        .map(|e| e["body"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn unpaid_setting_keeps_the_invoice_open_until_paid() {
    let app = TestApp::spawn_with(|c| c.dunning_final_action = "unpaid".into()).await;
    let (clock, cus, sub) = setup(&app).await;
    card(&app, &cus, "pm_card_chargeDeclinedExpiredCard").await;
    advance(&app, &clock, FEB_1 + 8 * 24 * HOUR).await;
    assert_eq!(status(&app, &sub).await, "unpaid");
    let inv = renewal(&app, &cus).await;
    assert_eq!(inv["status"], "open");
    let id = inv["id"].as_str().unwrap();
    let bodies = failure_emails(&app, &cus).await;
    let last: Vec<&String> = bodies.iter().filter(|b| !b.contains("We will try again automatically.")).collect();
    assert_eq!((bodies.len(), last.len()), (5, 1), "{bodies:?}");
    assert!(last[0].contains("subscription is unpaid") && last[0].contains(&format!("/billing/invoices/{id}")));
    // Paying by hand with the old card is declined; with a new one it works.
    let (s, b) = app.post(&format!("/v1/invoices/{id}/pay"), json!({})).await;
    assert_error(s, &b, 402, Some("payment_method"));
    card(&app, &cus, "pm_card_visa").await;
    let (s, paid) = app.post(&format!("/v1/invoices/{id}/pay"), json!({})).await;
    assert_eq!(s, 200, "{paid}");
    assert_eq!((paid["status"].as_str(), paid["amount_paid"].as_i64()), (Some("paid"), Some(1900)));
    assert_eq!(status(&app, &sub).await, "active");
    let (s, b) = app.post(&format!("/v1/invoices/{id}/pay"), json!({})).await;
    assert_error(s, &b, 400, Some("id"));
    app.verify_ledger().await;
}

#[tokio::test]
async fn declined_first_charges_create_nothing() {
    let app = TestApp::spawn().await;
    let doc: Value = serde_json::from_str(bursar_core::demo::DEMO_CATALOG).unwrap();
    app.post("/v1/catalog/import", doc).await;
    let (_, c) = app.post("/v1/customers", json!({"country": "US"})).await;
    let cus = c["id"].as_str().unwrap();
    let (s, b) = app.post(&format!("/v1/customers/{cus}/payment_methods"), json!({"token": "tok_nope"})).await;
    assert_error(s, &b, 400, Some("token"));
    card(&app, cus, "pm_card_chargeDeclined").await;
    let (s, b) = app.post("/v1/subscriptions", json!({"customer": cus, "plan": "grow", "trial": false})).await;
    assert_error(s, &b, 402, Some("payment_method"));
    assert_eq!(b["error"]["type"], "card_error");
    assert_eq!((app.count("subscriptions").await, app.count("invoices").await), (0, 0));
    app.verify_ledger().await;
}
