use crate::common::*;
use serde_json::{json, Value};

const JAN_1: i64 = 1_767_225_600;
const JAN_15: i64 = JAN_1 + 14 * 86_400;
const FEB_5: i64 = JAN_1 + 35 * 86_400;
const FEB_15: i64 = JAN_15 + 31 * 86_400;
const FEB_20: i64 = FEB_15 + 5 * 86_400;
const MAR_15: i64 = FEB_15 + 28 * 86_400;
const APR_20: i64 = FEB_20 + 59 * 86_400;
const MAY_20: i64 = APR_20 + 30 * 86_400;

async fn setup(app: &TestApp, country: &str) -> (String, String) {
    let doc: Value = serde_json::from_str(bursar_core::demo::DEMO_CATALOG).unwrap();
    let (s, _) = app.post("/v1/catalog/import", doc).await;
    assert_eq!(s, 200);
    let (_, clock) = app.post("/v1/test_clocks", json!({"frozen_time": JAN_1})).await;
    let clock = clock["id"].as_str().unwrap().to_string();
    let (s, c) =
        app.post("/v1/customers", json!({"email": "l@example.com", "country": country, "test_clock": clock})).await;
    assert_eq!(s, 200, "{c}");
    (clock, c["id"].as_str().unwrap().to_string())
}

async fn advance(app: &TestApp, clock: &str, to: i64) {
    let (s, b) = app.post(&format!("/v1/test_clocks/{clock}/advance"), json!({"frozen_time": to})).await;
    assert_eq!(s, 200, "{b}");
}

async fn invoices(app: &TestApp, customer: &str) -> Vec<Value> {
    let (_, l) = app.get(&format!("/v1/invoices?customer={customer}&limit=100")).await;
    let mut v = l["data"].as_array().unwrap().clone();
    v.reverse();
    v
}

#[tokio::test]
async fn trial_convert_upgrade_downgrade_pause_resume_cancel() {
    let app = TestApp::spawn().await;
    let (clock, cus) = setup(&app, "US").await;
    let (s, c) = app
        .post(
            "/v1/coupons",
            json!({"code": "SAVE20", "percent_off_bps": 2000, "duration": "repeating", "duration_in_months": 3}),
        )
        .await;
    assert_eq!(s, 200, "{c}");

    // Trial of Grow: 14 days, nothing invoiced.
    let (s, sub) = app.post("/v1/subscriptions", json!({"customer": cus, "plan": "grow"})).await;
    assert_eq!(s, 200, "{sub}");
    let id = sub["id"].as_str().unwrap().to_string();
    assert_eq!(sub["status"], "trialing");
    assert_eq!(sub["trial_end"], JAN_15);
    assert_eq!(sub["currency"], "USD");
    assert!(invoices(&app, &cus).await.is_empty());

    // The trial converts: 1,900 for 15 Jan to 15 Feb.
    advance(&app, &clock, JAN_15).await;
    let (_, sub) = app.get(&format!("/v1/subscriptions/{id}")).await;
    assert_eq!(sub["status"], "active");
    assert_eq!(
        (sub["current_period_start"].as_i64(), sub["current_period_end"].as_i64()),
        (Some(JAN_15), Some(FEB_15))
    );
    let inv = invoices(&app, &cus).await;
    assert_eq!(inv.len(), 1);
    assert_eq!(inv[0]["number"], "INV-2026-000001");
    assert_eq!((inv[0]["total"].as_i64(), inv[0]["amount_paid"].as_i64()), (Some(1900), Some(1900)));
    assert_eq!(inv[0]["billing_reason"], "subscription_cycle");

    // Upgrade to Scale with 10 of 31 days left, with a repeating 20 % coupon:
    // credit 1,900 × 10/31 = 612.9 → 613, charge 4,900 × 10/31 = 1,580.6 → 1,581,
    // 20 % off the net 968 = 193.6 → 194. The preview equals the charge.
    advance(&app, &clock, FEB_5).await;
    let change = json!({"plan": "scale", "coupon": "SAVE20"});
    let (s, preview) = app.post(&format!("/v1/subscriptions/{id}/preview_change"), change.clone()).await;
    assert_eq!(s, 200, "{preview}");
    let amounts: Vec<i64> =
        preview["lines"].as_array().unwrap().iter().map(|l| l["amount"].as_i64().unwrap()).collect();
    assert_eq!(amounts, vec![-613, 1581, -194]);
    assert_eq!(preview["amount_due"], 774);
    // Period times in Unix seconds, like the rest of the API.
    for l in &preview["lines"].as_array().unwrap()[..2] {
        assert_eq!((l["period_start"].as_i64(), l["period_end"].as_i64()), (Some(FEB_5), Some(FEB_15)), "{l}");
    }
    assert_eq!(preview["proration_date"], FEB_5);
    let (s, changed) = app.post(&format!("/v1/subscriptions/{id}/change"), change).await;
    assert_eq!(s, 200, "{changed}");
    assert_eq!(changed["invoice"]["total"], 774);
    assert_eq!(changed["invoice"]["amount_paid"], preview["amount_due"]);
    assert_eq!(changed["invoice"]["number"], "INV-2026-000002");

    // Downgrade back to Grow at the period end: renews on Grow.
    let (s, d) =
        app.post(&format!("/v1/subscriptions/{id}/change"), json!({"plan": "grow", "at_period_end": true})).await;
    assert_eq!(s, 200, "{d}");
    assert!(d["invoice"].is_null());
    assert!(d["subscription"]["pending_plan"].is_string());
    advance(&app, &clock, FEB_15).await;
    let inv = invoices(&app, &cus).await;
    assert_eq!(inv.len(), 3);
    // 1,900 less the coupon's 20 % (380): the first of its three months.
    assert_eq!(inv[2]["total"], 1520);
    assert_eq!(inv[2]["period_end"], MAR_15);

    // Cancel because of price: a pause is offered instead, and nothing changes yet.
    advance(&app, &clock, FEB_20).await;
    let (s, offer) = app
        .post(
            &format!("/v1/subscriptions/{id}/cancel"),
            json!({"reason": "too_expensive", "comments": "exam is later", "would_return": true}),
        )
        .await;
    assert_eq!(s, 200, "{offer}");
    assert_eq!(offer["outcome"], "offer");
    assert_eq!(offer["offer"]["type"], "pause");
    assert_eq!(offer["subscription"]["status"], "active");
    // Accept: pause two months; the 23 unused days of 28 come back as credit,
    // at what was paid: 1,900 × 23/28 = 1,560.7 → 1,561 less the coupon's share
    // (1,561 − 1,520 × 23/28 = 1,561 − 1,249 = 312).
    let (s, paused) = app.post(&format!("/v1/subscriptions/{id}/pause"), json!({"months": 2})).await;
    assert_eq!(s, 200, "{paused}");
    assert_eq!(paused["status"], "paused");
    assert_eq!(paused["pause_resumes_at"], APR_20);
    let inv = invoices(&app, &cus).await;
    let lines: Vec<i64> = inv[3]["lines"].as_array().unwrap().iter().map(|l| l["amount"].as_i64().unwrap()).collect();
    assert_eq!(lines, vec![-1561, 312]);
    assert_eq!(inv[3]["total"], -1249);
    assert_eq!(inv[3]["amount_due"], 0);
    let (_, c) = app.get(&format!("/v1/customers/{cus}")).await;
    assert_eq!(c["credit_balances"], json!([{"currency": "USD", "amount": 1249}]));

    // Resumes on its own; the credit is used before charging.
    advance(&app, &clock, APR_20).await;
    let (_, sub) = app.get(&format!("/v1/subscriptions/{id}")).await;
    assert_eq!(sub["status"], "active");
    assert_eq!(sub["current_period_end"], MAY_20);
    let inv = invoices(&app, &cus).await;
    assert_eq!(inv.len(), 5);
    // The coupon's second month: 1,520, of which the credit pays 1,249.
    assert_eq!(
        (inv[4]["total"].as_i64(), inv[4]["credit_applied"].as_i64(), inv[4]["amount_due"].as_i64()),
        (Some(1520), Some(1249), Some(271))
    );

    // Cancel at period end for another reason: scheduled, then canceled at 20 May.
    let (s, c) =
        app.post(&format!("/v1/subscriptions/{id}/cancel"), json!({"reason": "unused", "at_period_end": true})).await;
    assert_eq!(s, 200, "{c}");
    assert_eq!(c["outcome"], "scheduled");
    advance(&app, &clock, MAY_20 + 60).await;
    let (_, sub) = app.get(&format!("/v1/subscriptions/{id}")).await;
    assert_eq!(sub["status"], "canceled");
    assert_eq!(sub["canceled_at"], MAY_20);
    assert_eq!(invoices(&app, &cus).await.len(), 5, "no invoice after cancellation");

    // Numbers are gapless; revenue equals what was collected plus credit used.
    let numbers: Vec<String> =
        invoices(&app, &cus).await.iter().map(|i| i["number"].as_str().unwrap().to_string()).collect();
    assert_eq!(numbers, (1..=5).map(|n| format!("INV-2026-{n:06}")).collect::<Vec<_>>());
    let (_, b) = app.get("/v1/ledger/balances?currency=USD").await;
    let bal = |acct: &str| {
        b["data"].as_array().unwrap().iter().find(|r| r["account"] == acct).map(|r| r["balance"].as_i64().unwrap())
    };
    assert_eq!(bal("revenue:subscriptions"), Some(1900 + 774 + 1520 - 1249 + 1520));
    assert_eq!(bal("provider_clearing:sandbox"), Some(1900 + 774 + 1520 + 271));
    assert_eq!(bal("receivables"), Some(0));
    app.verify_ledger().await;
}

#[tokio::test]
async fn renewals_catch_up_and_never_double_invoice() {
    let app = TestApp::spawn().await;
    let (clock, cus) = setup(&app, "IN").await;
    let (s, sub) = app.post("/v1/subscriptions", json!({"customer": cus, "plan": "scale", "trial": false})).await;
    assert_eq!(s, 200, "{sub}");
    assert_eq!(sub["currency"], "INR");
    assert_eq!(sub["status"], "active");
    // Six months in one jump: every period is invoiced once.
    advance(&app, &clock, JAN_1 + 182 * 86_400).await;
    let inv = invoices(&app, &cus).await;
    assert_eq!(inv.len(), 7);
    assert!(inv.iter().all(|i| i["total"] == 399_900 && i["currency"] == "INR"));
    let ends: Vec<i64> = inv.iter().map(|i| i["period_end"].as_i64().unwrap()).collect();
    let mut sorted = ends.clone();
    sorted.dedup();
    assert_eq!(sorted.len(), 7);
    // Rerunning the billing run changes nothing.
    let (s, run) = app.post("/v1/billing/run", json!({})).await;
    assert_eq!(s, 200);
    assert_eq!(run["processed"], 0);
    assert_eq!(invoices(&app, &cus).await.len(), 7);
    app.verify_ledger().await;
}

#[tokio::test]
async fn invalid_subscription_requests_change_nothing() {
    let app = TestApp::spawn().await;
    let (_clock, cus) = setup(&app, "US").await;
    let cases = [
        (json!({"customer": cus, "plan": "grow", "currency": "JPY"}), 400, "plan"),
        (json!({"customer": cus, "plan": "grow", "currency": "QQQ"}), 400, "currency"),
        (json!({"customer": cus, "plan": "grow", "interval": "week"}), 400, "interval"),
        (json!({"customer": cus, "plan": "grow", "quantity": 0}), 400, "quantity"),
        (json!({"customer": cus, "plan": "platinum"}), 404, "plan"),
        (json!({"customer": "cus_0192f0c1e4b87c3a9d1f2b3c4d5e6f70", "plan": "grow"}), 404, "customer"),
        (json!({"plan": "grow"}), 400, "customer"),
    ];
    for (body, status, param) in cases {
        let (s, b) = app.post("/v1/subscriptions", body).await;
        assert_error(s, &b, status, Some(param));
    }
    assert_eq!(app.count("subscriptions").await, 0);
    let (s, sub) = app.post("/v1/subscriptions", json!({"customer": cus, "plan": "grow"})).await;
    assert_eq!(s, 200);
    let id = sub["id"].as_str().unwrap();
    let (s, b) = app.post("/v1/subscriptions", json!({"customer": cus, "plan": "scale"})).await;
    assert_error(s, &b, 409, Some("customer"));
    // A trial cannot be paused; pauses are 1 to 3 months.
    let (s, b) = app.post(&format!("/v1/subscriptions/{id}/pause"), json!({"months": 1})).await;
    assert_error(s, &b, 400, Some("id"));
    let (s, b) = app.post(&format!("/v1/subscriptions/{id}/change"), json!({"plan": "grow"})).await;
    assert_error(s, &b, 400, Some("plan"));
    let (s, b) = app.post(&format!("/v1/subscriptions/{id}/cancel"), json!({"reason": "bored"})).await;
    assert_error(s, &b, 400, Some("reason"));
    let (s, b) = app.post(&format!("/v1/subscriptions/{id}/resume"), json!({})).await;
    assert_error(s, &b, 400, Some("id"));
    let (_, after) = app.get(&format!("/v1/subscriptions/{id}")).await;
    assert_eq!(after["status"], "trialing");
    assert_eq!(app.count("invoices").await, 0);
    app.verify_ledger().await;
}

#[tokio::test]
async fn pause_length_is_bounded_and_cancel_now_works() {
    let app = TestApp::spawn().await;
    let (_clock, cus) = setup(&app, "DE").await;
    let (_, sub) = app.post("/v1/subscriptions", json!({"customer": cus, "plan": "grow", "trial": false})).await;
    let id = sub["id"].as_str().unwrap();
    assert_eq!(sub["currency"], "EUR");
    for m in [0, 4] {
        let (s, b) = app.post(&format!("/v1/subscriptions/{id}/pause"), json!({"months": m})).await;
        assert_error(s, &b, 400, Some("months"));
    }
    let (s, c) = app
        .post(
            &format!("/v1/subscriptions/{id}/cancel"),
            json!({"at_period_end": false, "reason": "too_expensive", "decline_offer": true}),
        )
        .await;
    assert_eq!(s, 200, "{c}");
    assert_eq!(c["outcome"], "canceled");
    assert_eq!(c["subscription"]["status"], "canceled");
    let fb: i64 =
        sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM cancellation_feedback WHERE outcome = 'canceled'")
            .fetch_one(app.tdb.db.reader())
            .await
            .unwrap();
    assert_eq!(fb, 1);
    // Reactivation starts a new paid period.
    let (s, r) = app.post(&format!("/v1/subscriptions/{id}/reactivate"), json!({})).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["status"], "active");
    assert_eq!(app.count("invoices").await, 2);
    app.verify_ledger().await;
}

/// Plain renewals of many subscriptions run as one batch; the invoices must
/// be what the one-by-one path produces: numbers, tax, credit.
#[tokio::test]
async fn batched_renewals_match_single_renewals() {
    let app = TestApp::spawn_with(|c| c.tax_origin_country = Some("DE".into())).await;
    let doc: Value = serde_json::from_str(bursar_core::demo::DEMO_CATALOG).unwrap();
    app.post("/v1/catalog/import", doc).await;
    let (_, clock) = app.post("/v1/test_clocks", json!({"frozen_time": JAN_1})).await;
    let clock = clock["id"].as_str().unwrap().to_string();
    let mut customers = Vec::new();
    for (country, credit) in [("US", 500), ("FR", 0), ("IN", 0), ("US", 0)] {
        let (_, c) = app.post("/v1/customers", json!({"country": country, "test_clock": clock})).await;
        let id = c["id"].as_str().unwrap().to_string();
        if credit > 0 {
            let (s, _) = app
                .post(&format!("/v1/customers/{id}/balance_transactions"), json!({"amount": credit, "currency": "USD"}))
                .await;
            assert_eq!(s, 200);
        }
        let (s, sub) = app.post("/v1/subscriptions", json!({"customer": id, "plan": "grow", "trial": false})).await;
        assert_eq!(s, 200, "{sub}");
        customers.push(id);
    }
    // First invoices came one by one; the US customer's credit paid part of the first.
    let first = invoices(&app, &customers[0]).await;
    assert_eq!((first[0]["credit_applied"].as_i64(), first[0]["amount_due"].as_i64()), (Some(500), Some(1400)));
    // One month on: four plain renewals in one batch.
    advance(&app, &clock, JAN_1 + 31 * 86_400).await;
    let mut numbers = Vec::new();
    for (i, c) in customers.iter().enumerate() {
        let inv = invoices(&app, c).await;
        assert_eq!(inv.len(), 2, "customer {i}");
        assert_eq!(inv[1]["billing_reason"], "subscription_cycle");
        assert_eq!(inv[1]["period_start"], JAN_1 + 31 * 86_400);
        numbers.push(inv[0]["number"].as_str().unwrap().to_string());
        numbers.push(inv[1]["number"].as_str().unwrap().to_string());
        match i {
            0 | 3 => assert_eq!((inv[1]["total"].as_i64(), inv[1]["credit_applied"].as_i64()), (Some(1900), Some(0))),
            1 => assert_eq!(
                (inv[1]["subtotal"].as_i64(), inv[1]["tax"].as_i64(), inv[1]["total"].as_i64()),
                (Some(1583), Some(317), Some(1900))
            ),
            _ => assert_eq!((inv[1]["currency"].as_str(), inv[1]["tax"].as_i64()), (Some("INR"), Some(22_866))),
        }
    }
    numbers.sort();
    assert_eq!(numbers, (1..=8).map(|n| format!("INV-2026-{n:06}")).collect::<Vec<_>>(), "gapless and unique");
    let (_, evs) = app.get("/v1/events?type=subscription.renewed&limit=100").await;
    assert_eq!(evs["data"].as_array().unwrap().len(), 4);
    app.verify_ledger().await;
}

/// A yearly plan upgraded on day 200 of 365: credit and charge for the 165
/// days left, to the second.
#[tokio::test]
async fn yearly_plan_upgraded_on_day_200() {
    let app = TestApp::spawn().await;
    let (clock, cus) = setup(&app, "US").await;
    let (s, sub) = app
        .post("/v1/subscriptions", json!({"customer": cus, "plan": "grow", "interval": "year", "trial": false}))
        .await;
    assert_eq!(s, 200, "{sub}");
    let id = sub["id"].as_str().unwrap().to_string();
    assert_eq!(sub["current_period_end"], JAN_1 + 365 * 86_400);
    advance(&app, &clock, JAN_1 + 200 * 86_400).await;
    let (s, ch) = app.post(&format!("/v1/subscriptions/{id}/change"), json!({"plan": "scale"})).await;
    assert_eq!(s, 200, "{ch}");
    let amounts: Vec<i64> =
        ch["invoice"]["lines"].as_array().unwrap().iter().map(|l| l["amount"].as_i64().unwrap()).collect();
    // 19,000 × 165 ÷ 365 = 8,589.04; 49,000 × 165 ÷ 365 = 22,150.68.
    assert_eq!(amounts, vec![-8_589, 22_151]);
    assert_eq!(ch["invoice"]["total"], 13_562);
    let inv = invoices(&app, &cus).await;
    assert_eq!(inv.iter().map(|i| i["total"].as_i64().unwrap()).collect::<Vec<_>>(), vec![19_000, 13_562]);
    // The next renewal is a year after the start, at the Scale price.
    advance(&app, &clock, JAN_1 + 365 * 86_400).await;
    let inv = invoices(&app, &cus).await;
    assert_eq!(inv.last().unwrap()["total"], 49_000);
    app.verify_ledger().await;
}
