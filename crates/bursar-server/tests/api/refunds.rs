use crate::common::*;
use serde_json::{json, Value};

const JAN_1: i64 = 1_767_225_600;

async fn setup(app: &TestApp, country: &str) -> (String, String, Value) {
    let doc: Value = serde_json::from_str(bursar_core::demo::DEMO_CATALOG).unwrap();
    app.post("/v1/catalog/import", doc).await;
    let (_, clock) = app.post("/v1/test_clocks", json!({"frozen_time": JAN_1})).await;
    let clock = clock["id"].as_str().unwrap().to_string();
    let (_, c) = app.post("/v1/customers", json!({"country": country, "test_clock": clock})).await;
    let cus = c["id"].as_str().unwrap().to_string();
    let (s, _) = app.post("/v1/subscriptions", json!({"customer": cus, "plan": "grow", "trial": false})).await;
    assert_eq!(s, 200);
    let (_, l) = app.get(&format!("/v1/invoices?customer={cus}")).await;
    (clock, cus, l["data"][0].clone())
}

fn balance(b: &Value, acct: &str) -> Option<i64> {
    b["data"].as_array().unwrap().iter().find(|r| r["account"] == acct).map(|r| r["balance"].as_i64().unwrap())
}

#[tokio::test]
async fn partial_refund_to_credit_balance_is_used_by_the_next_invoice() {
    let app = TestApp::spawn().await;
    let (clock, cus, inv) = setup(&app, "US").await;
    let id = inv["id"].as_str().unwrap();
    let (s, r) = app
        .post(
            &format!("/v1/invoices/{id}/refund"),
            json!({"amount": 500, "refund_to": "credit_balance", "reason": "outage"}),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["amount_credited"], 500);
    assert_eq!(r["credit_notes"][0]["number"], "CN-2026-000001");
    assert_eq!(r["credit_notes"][0]["refund_to"], "credit_balance");
    let (_, c) = app.get(&format!("/v1/customers/{cus}")).await;
    assert_eq!(c["credit_balances"], json!([{"currency": "USD", "amount": 500}]));
    // Too much, or nothing, is refused.
    let (s, b) = app.post(&format!("/v1/invoices/{id}/refund"), json!({"amount": 1401})).await;
    assert_error(s, &b, 400, Some("amount"));
    let (s, b) = app.post(&format!("/v1/invoices/{id}/refund"), json!({"amount": 0})).await;
    assert_error(s, &b, 400, Some("amount"));
    let (s, b) = app.post(&format!("/v1/invoices/{id}/refund"), json!({"refund_to": "cash"})).await;
    assert_error(s, &b, 400, Some("refund_to"));
    // The next invoice uses the credit first.
    let (s, _) =
        app.post(&format!("/v1/test_clocks/{clock}/advance"), json!({"frozen_time": JAN_1 + 31 * 86_400})).await;
    assert_eq!(s, 200);
    let (_, l) = app.get(&format!("/v1/invoices?customer={cus}")).await;
    let next = &l["data"][0];
    assert_eq!(
        (next["total"].as_i64(), next["credit_applied"].as_i64(), next["amount_due"].as_i64()),
        (Some(1900), Some(500), Some(1400))
    );
    let (_, b) = app.get("/v1/ledger/balances?currency=USD").await;
    assert_eq!(balance(&b, "refunds"), Some(500));
    assert_eq!(balance(&b, "provider_clearing:sandbox"), Some(1900 + 1400));
    assert_eq!(balance(&b, &format!("customer_credit:{cus}")), Some(0));
    app.verify_ledger().await;
}

#[tokio::test]
async fn full_refund_gives_back_the_vat() {
    let app = TestApp::spawn_with(|c| c.tax_origin_country = Some("DE".into())).await;
    let (_clock, _cus, inv) = setup(&app, "FR").await;
    assert_eq!(inv["tax"], 317);
    let id = inv["id"].as_str().unwrap();
    let (s, r) = app.post(&format!("/v1/invoices/{id}/refund"), json!({})).await;
    assert_eq!(s, 200, "{r}");
    let cn = &r["credit_notes"][0];
    assert_eq!(
        (cn["total"].as_i64(), cn["subtotal"].as_i64(), cn["tax"].as_i64()),
        (Some(1900), Some(1583), Some(317))
    );
    assert_eq!(cn["refund_to"], "payment_method");
    let (_, b) = app.get("/v1/ledger/balances?currency=EUR").await;
    assert_eq!(balance(&b, "tax_payable:FR"), Some(0));
    assert_eq!(balance(&b, "refunds"), Some(1583));
    assert_eq!(balance(&b, "provider_clearing:sandbox"), Some(0));
    let (s, b) = app.post(&format!("/v1/invoices/{id}/refund"), json!({})).await;
    assert_error(s, &b, 400, Some("amount"));
    let (_, sum) = app.get("/v1/events?type=credit_note.issued").await;
    assert_eq!(sum["data"].as_array().unwrap().len(), 1);
    app.verify_ledger().await;
}
