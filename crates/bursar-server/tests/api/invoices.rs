use crate::common::*;
use serde_json::{json, Value};

const JAN_1: i64 = 1_767_225_600;

async fn app_de() -> TestApp {
    TestApp::spawn_with(|c| c.tax_origin_country = Some("DE".into())).await
}

async fn customer(app: &TestApp, body: Value) -> String {
    let (s, c) = app.post("/v1/customers", body).await;
    assert_eq!(s, 200, "{c}");
    c["id"].as_str().unwrap().to_string()
}

async fn balance(app: &TestApp, currency: &str, account: &str) -> Option<i64> {
    let (_, b) = app.get(&format!("/v1/ledger/balances?currency={currency}")).await;
    b["data"].as_array().unwrap().iter().find(|r| r["account"] == account).map(|r| r["balance"].as_i64().unwrap())
}

#[tokio::test]
async fn draft_is_edited_then_finalized_with_vat_and_charged() {
    let app = app_de().await;
    let cus = customer(&app, json!({"country": "DE", "name": "Jana Schulz"})).await;
    let (s, b) = app.post(&format!("/v1/customers/{cus}/payment_methods"), json!({"token": "pm_card_visa"})).await;
    assert_eq!(s, 200, "{b}");
    let (s, inv) = app
        .post(
            "/v1/invoices",
            json!({"customer": cus, "description": "Exam coaching, November",
                   "lines": [{"description": "Coaching session", "quantity": 3, "unit_amount": 4000},
                             {"description": "Printed workbook", "unit_amount": 1550}]}),
        )
        .await;
    assert_eq!(s, 201, "{inv}");
    let id = inv["id"].as_str().unwrap().to_string();
    assert_eq!(inv["status"], "draft");
    assert_eq!(inv["number"], Value::Null);
    assert_eq!(inv["currency"], "EUR");
    // 3 × 40.00 + 15.50 = 135.50; German VAT 19 % on top: 25.745, rounded half up to 25.75.
    assert_eq!(inv["subtotal"], 13550);
    assert_eq!(inv["tax"], 2575);
    assert_eq!(inv["total"], 16125);
    // No ledger entry for a draft.
    assert_eq!(balance(&app, "EUR", "receivables").await, None);

    // Edit: add a line, remove the workbook.
    let (s, inv) =
        app.post(&format!("/v1/invoices/{id}/lines"), json!({"description": "Mock exam", "unit_amount": 2500})).await;
    assert_eq!(s, 200, "{inv}");
    assert_eq!(inv["lines"].as_array().unwrap().len(), 3);
    let workbook = inv["lines"][1]["id"].as_str().unwrap().to_string();
    let (s, inv) = app.delete(&format!("/v1/invoices/{id}/lines/{workbook}")).await;
    assert_eq!(s, 200, "{inv}");
    // 120.00 + 25.00 = 145.00; VAT 27.55.
    assert_eq!(
        (inv["subtotal"].as_i64(), inv["tax"].as_i64(), inv["total"].as_i64()),
        (Some(14500), Some(2755), Some(17255))
    );
    let line_ids: Vec<Value> = inv["lines"].as_array().unwrap().iter().map(|l| l["id"].clone()).collect();

    let (s, fin) = app.post(&format!("/v1/invoices/{id}/finalize"), json!({})).await;
    assert_eq!(s, 200, "{fin}");
    assert_eq!(fin["id"], id.as_str());
    assert_eq!(fin["status"], "paid");
    assert!(fin["number"].as_str().unwrap().starts_with("INV-"), "{fin}");
    assert_eq!((fin["total"].as_i64(), fin["amount_paid"].as_i64()), (Some(17255), Some(17255)));
    assert_eq!(fin["billing_reason"], "manual");
    assert_eq!(fin["customer_details"]["name"], "Jana Schulz");
    assert_eq!(fin["description"], "Exam coaching, November");
    let fin_ids: Vec<Value> = fin["lines"].as_array().unwrap().iter().map(|l| l["id"].clone()).collect();
    assert_eq!(fin_ids, line_ids, "lines keep their ids through finalization");
    assert_eq!(balance(&app, "EUR", "revenue:one_off").await, Some(14500));
    assert_eq!(balance(&app, "EUR", "tax_payable:DE").await, Some(2755));
    assert_eq!(balance(&app, "EUR", "provider_clearing:sandbox").await, Some(17255));
    assert_eq!(balance(&app, "EUR", "receivables").await, Some(0));

    // A finalized invoice is no longer editable or deletable.
    let (s, e) = app.post(&format!("/v1/invoices/{id}/lines"), json!({"description": "x", "unit_amount": 1})).await;
    assert_error(s, &e, 409, None);
    assert_eq!(e["error"]["code"], "invoice_not_draft");
    let (s, e) = app.delete(&format!("/v1/invoices/{id}")).await;
    assert_error(s, &e, 409, None);
    let (s, e) = app.post(&format!("/v1/invoices/{id}/finalize"), json!({})).await;
    assert_error(s, &e, 409, None);
    // Paid invoices are refunded, not voided.
    let (s, e) = app.post(&format!("/v1/invoices/{id}/void"), json!({})).await;
    assert_error(s, &e, 409, None);
    assert_eq!(e["error"]["code"], "invoice_not_voidable");
    let (_, evs) = app.get("/v1/events?type=invoice.paid").await;
    assert_eq!(evs["data"][0]["data"]["id"], id.as_str());
    app.verify_ledger().await;
}

#[tokio::test]
async fn sent_invoice_stays_open_until_paid_and_numbers_stay_gapless() {
    let app = app_de().await;
    let cus = customer(&app, json!({"country": "US"})).await;
    let (_, clock) = app.post("/v1/test_clocks", json!({"frozen_time": JAN_1})).await;
    let clocked = customer(&app, json!({"country": "US", "test_clock": clock["id"]})).await;
    // A draft that is deleted never takes a number.
    let (s, d) = app
        .post("/v1/invoices", json!({"customer": cus, "lines": [{"description": "Old quote", "unit_amount": 100}]}))
        .await;
    assert_eq!(s, 201, "{d}");
    let (s, del) = app.delete(&format!("/v1/invoices/{}", d["id"].as_str().unwrap())).await;
    assert_eq!((s, del["deleted"].as_bool()), (200, Some(true)));
    let (s, e) = app.get(&format!("/v1/invoices/{}", d["id"].as_str().unwrap())).await;
    assert_error(s, &e, 404, Some("id"));

    let (s, inv) = app
        .post(
            "/v1/invoices",
            json!({"customer": clocked, "collection_method": "send_invoice", "days_until_due": 14, "currency": "usd",
                   "lines": [{"description": "Corporate workshop", "unit_amount": 250000}]}),
        )
        .await;
    assert_eq!(s, 201, "{inv}");
    assert_eq!(inv["due_date"], JAN_1 + 14 * 86_400);
    let id = inv["id"].as_str().unwrap();
    let (s, fin) = app.post(&format!("/v1/invoices/{id}/finalize"), json!({})).await;
    assert_eq!(s, 200, "{fin}");
    assert_eq!((fin["status"].as_str(), fin["amount_due"].as_i64()), (Some("open"), Some(250000)));
    assert_eq!(fin["finalized_at"], JAN_1);
    assert_eq!(balance(&app, "USD", "receivables").await, Some(250000));
    // The customer pays it later (a card is added first).
    let (s, e) = app.post(&format!("/v1/invoices/{id}/pay"), json!({})).await;
    // Without a saved method the sandbox's implicit test card pays.
    assert_eq!(s, 200, "{e}");
    assert_eq!(e["status"], "paid");
    assert_eq!(balance(&app, "USD", "receivables").await, Some(0));

    // Numbering: the deleted draft took none, so this one is the first of its series.
    let n = fin["number"].as_str().unwrap();
    assert!(n.ends_with("-000001"), "{n}");
    app.verify_ledger().await;
}

#[tokio::test]
async fn voiding_reverses_the_entries_and_returns_applied_credit() {
    let app = app_de().await;
    let cus = customer(&app, json!({"country": "US"})).await;
    // The customer holds 10.00 of credit.
    let (s, b) = app
        .post(
            &format!("/v1/customers/{cus}/balance_transactions"),
            json!({"amount": 1000, "currency": "USD", "description": "Goodwill"}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let (_, inv) = app
        .post(
            "/v1/invoices",
            json!({"customer": cus, "collection_method": "send_invoice",
                   "lines": [{"description": "Tutoring", "quantity": 2, "unit_amount": 3000}]}),
        )
        .await;
    let id = inv["id"].as_str().unwrap();
    let (s, fin) = app.post(&format!("/v1/invoices/{id}/finalize"), json!({})).await;
    assert_eq!(s, 200, "{fin}");
    assert_eq!((fin["credit_applied"].as_i64(), fin["amount_due"].as_i64()), (Some(1000), Some(5000)));
    assert_eq!(balance(&app, "USD", "receivables").await, Some(5000));
    let (s, v) = app.post(&format!("/v1/invoices/{id}/void"), json!({})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["status"], "void");
    assert!(v["voided_at"].as_i64().is_some());
    assert_eq!(balance(&app, "USD", "receivables").await, Some(0));
    assert_eq!(balance(&app, "USD", "revenue:one_off").await, Some(0));
    assert_eq!(balance(&app, "USD", &format!("customer_credit:{cus}")).await, Some(1000), "the credit is back");
    // Void is final: not payable, not voidable again.
    let (s, e) = app.post(&format!("/v1/invoices/{id}/pay"), json!({})).await;
    assert_error(s, &e, 400, Some("id"));
    let (s, e) = app.post(&format!("/v1/invoices/{id}/void"), json!({})).await;
    assert_error(s, &e, 409, None);
    let (_, evs) = app.get("/v1/events?type=invoice.voided").await;
    assert_eq!(evs["data"][0]["data"]["id"], id);
    app.verify_ledger().await;
}

#[tokio::test]
async fn voiding_a_renewal_in_dunning_stops_the_retries() {
    let app = TestApp::spawn().await;
    let doc: Value = serde_json::from_str(bursar_core::demo::DEMO_CATALOG).unwrap();
    app.post("/v1/catalog/import", doc).await;
    let (_, clock) = app.post("/v1/test_clocks", json!({"frozen_time": JAN_1})).await;
    let clock = clock["id"].as_str().unwrap().to_string();
    let cus = customer(&app, json!({"country": "US", "test_clock": clock})).await;
    app.post(&format!("/v1/customers/{cus}/payment_methods"), json!({"token": "pm_card_visa"})).await;
    let (s, sub) = app.post("/v1/subscriptions", json!({"customer": cus, "plan": "grow", "trial": false})).await;
    assert_eq!(s, 200, "{sub}");
    app.post(&format!("/v1/customers/{cus}/payment_methods"), json!({"token": "pm_card_chargeDeclined"})).await;
    let feb_1 = JAN_1 + 31 * 86_400;
    app.post(&format!("/v1/test_clocks/{clock}/advance"), json!({"frozen_time": feb_1})).await;
    let (_, l) = app.get(&format!("/v1/invoices?customer={cus}")).await;
    let renewal = l["data"][0]["id"].as_str().unwrap().to_string();
    let sub_id = sub["id"].as_str().unwrap();
    assert_eq!(app.get(&format!("/v1/subscriptions/{sub_id}")).await.1["status"], "past_due");
    let (s, v) = app.post(&format!("/v1/invoices/{renewal}/void"), json!({})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(app.get(&format!("/v1/subscriptions/{sub_id}")).await.1["status"], "active");
    // No retry runs afterwards.
    let (_, before) = app.get("/v1/events?type=invoice.payment_failed&limit=100").await;
    app.post(&format!("/v1/test_clocks/{clock}/advance"), json!({"frozen_time": feb_1 + 3 * 86_400})).await;
    let (_, after) = app.get("/v1/events?type=invoice.payment_failed&limit=100").await;
    assert_eq!(before["data"].as_array().unwrap().len(), after["data"].as_array().unwrap().len());
    assert_eq!(balance(&app, "USD", "receivables").await, Some(0));
    app.verify_ledger().await;
}

#[tokio::test]
async fn declined_automatic_collection_leaves_the_invoice_open() {
    let app = TestApp::spawn().await;
    let cus = customer(&app, json!({"country": "US"})).await;
    app.post(&format!("/v1/customers/{cus}/payment_methods"), json!({"token": "pm_card_chargeDeclined"})).await;
    let (_, inv) = app
        .post("/v1/invoices", json!({"customer": cus, "lines": [{"description": "Course", "unit_amount": 9900}]}))
        .await;
    let id = inv["id"].as_str().unwrap();
    let (s, e) = app.post(&format!("/v1/invoices/{id}/finalize"), json!({})).await;
    assert_error(s, &e, 402, Some("payment_method"));
    let (_, got) = app.get(&format!("/v1/invoices/{id}")).await;
    assert_eq!((got["status"].as_str(), got["amount_paid"].as_i64()), (Some("open"), Some(0)));
    assert_eq!(balance(&app, "USD", "receivables").await, Some(9900));
    app.post(&format!("/v1/customers/{cus}/payment_methods"), json!({"token": "pm_card_visa"})).await;
    let (s, paid) = app.post(&format!("/v1/invoices/{id}/pay"), json!({})).await;
    assert_eq!((s, paid["status"].as_str()), (200, Some("paid")), "{paid}");
    assert_eq!(balance(&app, "USD", "receivables").await, Some(0));
    app.verify_ledger().await;
}

#[tokio::test]
async fn bad_invoice_input_is_refused_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let cus = customer(&app, json!({"country": "US"})).await;
    let line = json!({"description": "x", "unit_amount": 100});
    let cases = [
        (json!({"customer": "cus_nope", "lines": [line]}), 404, "customer"),
        (json!({"customer": cus, "currency": "XYZ", "lines": [line]}), 400, "currency"),
        (json!({"customer": cus, "tax_behavior": "sometimes", "lines": [line]}), 400, "tax_behavior"),
        (json!({"customer": cus, "collection_method": "barter", "lines": [line]}), 400, "collection_method"),
        (json!({"customer": cus, "days_until_due": 5, "lines": [line]}), 400, "days_until_due"),
        (json!({"customer": cus, "collection_method": "send_invoice", "days_until_due": 0}), 400, "days_until_due"),
        (json!({"customer": cus, "lines": [line, {"description": "", "unit_amount": 1}]}), 400, "lines[1].description"),
        (
            json!({"customer": cus, "lines": [{"description": "a", "quantity": 0, "unit_amount": 1}]}),
            400,
            "lines[0].quantity",
        ),
        (json!({"customer": cus, "lines": [{"description": "a", "unit_amount": -5}]}), 400, "lines[0].unit_amount"),
        (json!({"customer": cus, "lines": [{"description": "a", "unit_amount": 1.5}]}), 400, "lines[0].unit_amount"),
        (
            json!({"customer": cus, "lines": [{"description": "a", "quantity": 1000000, "unit_amount": 100000000000i64}]}),
            400,
            "lines[0].quantity",
        ),
        (json!({"customer": cus, "colour": "red"}), 400, "colour"),
    ];
    for (body, status, param) in cases {
        let (s, e) = app.post("/v1/invoices", body.clone()).await;
        assert_error(s, &e, status, Some(param));
    }
    assert_eq!(app.count("invoices").await, 0);
    assert_eq!(app.count("invoice_lines").await, 0);
    // An empty draft cannot be finalized.
    let (_, d) = app.post("/v1/invoices", json!({"customer": cus})).await;
    let id = d["id"].as_str().unwrap();
    let (s, e) = app.post(&format!("/v1/invoices/{id}/finalize"), json!({})).await;
    assert_error(s, &e, 400, Some("lines"));
    let (s, e) = app.delete(&format!("/v1/invoices/{id}/lines/il_nothere")).await;
    assert_error(s, &e, 404, Some("line_id"));
    let (s, e) = app.post("/v1/invoices/inv_missing/finalize", json!({})).await;
    assert_error(s, &e, 404, Some("id"));
    let (_, still) = app.get(&format!("/v1/invoices/{id}")).await;
    assert_eq!((still["status"].as_str(), still["number"].clone()), (Some("draft"), Value::Null));
    app.verify_ledger().await;
}
