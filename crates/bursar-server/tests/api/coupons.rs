use crate::common::*;
use serde_json::{json, Value};

const JAN_1: i64 = 1_767_225_600;
const DAY: i64 = 86_400;

async fn catalog(app: &TestApp) {
    let doc: Value = serde_json::from_str(bursar_core::demo::DEMO_CATALOG).unwrap();
    let (s, _) = app.post("/v1/catalog/import", doc).await;
    assert_eq!(s, 200);
}

async fn invoices(app: &TestApp, customer: &str) -> Vec<Value> {
    let (_, l) = app.get(&format!("/v1/invoices?customer={customer}&limit=100")).await;
    let mut v = l["data"].as_array().unwrap().clone();
    v.reverse();
    v
}

#[tokio::test]
async fn exactly_max_redemptions_succeed_under_a_race() {
    let app = TestApp::spawn().await;
    catalog(&app).await;
    let (s, c) = app
        .post(
            "/v1/coupons",
            json!({"code": "launch", "percent_off_bps": 5000, "duration": "once", "max_redemptions": 5}),
        )
        .await;
    assert_eq!(s, 200, "{c}");
    assert_eq!(c["code"], "LAUNCH");
    let mut ids = Vec::new();
    for i in 0..30 {
        let (_, cus) = app.post("/v1/customers", json!({"email": format!("r{i}@example.com"), "country": "US"})).await;
        ids.push(cus["id"].as_str().unwrap().to_string());
    }
    let mut tasks = Vec::new();
    for id in ids {
        let req = app
            .req(reqwest::Method::POST, "/v1/subscriptions")
            .json(&json!({"customer": id, "plan": "grow", "trial": false, "coupon": "LAUNCH"}));
        tasks.push(tokio::spawn(async move { json(req.send().await.unwrap()).await }));
    }
    let (mut ok, mut refused) = (0, 0);
    for t in tasks {
        let (s, b) = t.await.unwrap();
        match s {
            200 => ok += 1,
            400 => {
                assert_eq!(b["error"]["param"], "coupon", "{b}");
                refused += 1;
            }
            other => panic!("unexpected {other}: {b}"),
        }
    }
    assert_eq!((ok, refused), (5, 25));
    let (_, c) = app.get("/v1/coupons/launch").await;
    assert_eq!(c["times_redeemed"], 5);
    assert_eq!(app.count("coupon_redemptions").await, 5);
    assert_eq!(app.count("subscriptions").await, 5, "refused requests leave nothing behind");
    let paid: Vec<i64> = sqlx::query_scalar("SELECT total FROM invoices").fetch_all(app.tdb.db.reader()).await.unwrap();
    assert_eq!(paid, vec![950; 5]);
    app.verify_ledger().await;
}

#[tokio::test]
async fn mid_cycle_upgrade_with_a_repeating_20_percent_coupon() {
    let app = TestApp::spawn().await;
    catalog(&app).await;
    let (s, _) = app
        .post("/v1/coupons", json!({"code": "SAVE20", "percent_off_bps": 2000, "duration": "repeating", "duration_in_months": 3, "applies_to": "plans", "applies_to_ids": ["scale"]}))
        .await;
    assert_eq!(s, 200);
    let (_, clock) = app.post("/v1/test_clocks", json!({"frozen_time": JAN_1})).await;
    let clock = clock["id"].as_str().unwrap().to_string();
    let (_, cus) = app.post("/v1/customers", json!({"country": "US", "test_clock": clock})).await;
    let cus = cus["id"].as_str().unwrap().to_string();
    let (_, sub) = app.post("/v1/subscriptions", json!({"customer": cus, "plan": "grow", "trial": false})).await;
    let id = sub["id"].as_str().unwrap().to_string();
    // The coupon is for Scale only.
    let (s, b) = app
        .post(&format!("/v1/subscriptions/{id}/change"), json!({"plan": "grow", "quantity": 2, "coupon": "SAVE20"}))
        .await;
    assert_error(s, &b, 400, Some("coupon"));
    // Day 21 of 31: upgrade to Scale with the coupon.
    let adv = |t: i64| {
        let (app, clock) = (&app, clock.clone());
        async move {
            let (s, b) = app.post(&format!("/v1/test_clocks/{clock}/advance"), json!({"frozen_time": t})).await;
            assert_eq!(s, 200, "{b}");
        }
    };
    adv(JAN_1 + 21 * DAY).await;
    let (s, ch) =
        app.post(&format!("/v1/subscriptions/{id}/change"), json!({"plan": "scale", "coupon": "SAVE20"})).await;
    assert_eq!(s, 200, "{ch}");
    let lines: Vec<(String, i64)> = ch["invoice"]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["kind"].as_str().unwrap().to_string(), l["amount"].as_i64().unwrap()))
        .collect();
    assert_eq!(lines, vec![("proration".into(), -613), ("proration".into(), 1581), ("discount".into(), -194)]);
    assert_eq!(ch["invoice"]["total"], 774);
    assert_eq!(ch["subscription"]["discount_invoices_left"], 3);
    // Three discounted months, then full price.
    for month in 1..=4 {
        let at = [0, 31, 59, 90, 120][month];
        adv(JAN_1 + at * DAY).await;
    }
    let totals: Vec<i64> = invoices(&app, &cus).await.iter().map(|i| i["total"].as_i64().unwrap()).collect();
    assert_eq!(totals, vec![1900, 774, 3920, 3920, 3920, 4900]);
    let (_, sub) = app.get(&format!("/v1/subscriptions/{id}")).await;
    assert!(sub["coupon"].is_null());
    app.verify_ledger().await;
}

#[tokio::test]
async fn coupon_rules_refuse_with_the_reason() {
    let app = TestApp::spawn().await;
    catalog(&app).await;
    let now = app.state.now_ms() / 1000;
    for body in [
        json!({"code": "OLD", "percent_off_bps": 1000, "duration": "once", "valid_until": now - 10}),
        json!({"code": "BIG", "percent_off_bps": 1000, "duration": "once", "min_purchase": {"USD": 5000}}),
        json!({"code": "FIRST", "percent_off_bps": 1000, "duration": "forever", "first_purchase_only": true}),
        json!({"code": "ONCEEACH", "amount_off": {"USD": 300}, "duration": "once", "max_redemptions_per_customer": 1}),
        json!({"code": "EURONLY", "amount_off": {"EUR": 300}, "duration": "once"}),
    ] {
        let (s, b) = app.post("/v1/coupons", body).await;
        assert_eq!(s, 200, "{b}");
    }
    let (_, cus) = app.post("/v1/customers", json!({"country": "US"})).await;
    let cus = cus["id"].as_str().unwrap().to_string();
    let try_sub = |coupon: &'static str| {
        let (app, cus) = (&app, cus.clone());
        async move {
            app.post("/v1/subscriptions", json!({"customer": cus, "plan": "grow", "trial": false, "coupon": coupon}))
                .await
        }
    };
    for (code, words) in [("OLD", "expired"), ("BIG", "at least 5000"), ("EURONLY", "no amount in USD")] {
        let (s, b) = try_sub(code).await;
        assert_error(s, &b, 400, Some("coupon"));
        assert!(b["error"]["message"].as_str().unwrap().contains(words), "{b}");
    }
    let (s, b) = try_sub("NOPE").await;
    assert_error(s, &b, 404, Some("coupon"));
    // A fixed 300 off: the first purchase works, then FIRST refuses this customer.
    let (s, sub) = try_sub("ONCEEACH").await;
    assert_eq!(s, 200, "{sub}");
    let (_, inv) = app.get(&format!("/v1/invoices?customer={cus}")).await;
    assert_eq!(inv["data"][0]["total"], 1600);
    let id = sub["id"].as_str().unwrap();
    app.post(&format!("/v1/subscriptions/{id}/cancel"), json!({"at_period_end": false})).await;
    let (s, b) = try_sub("FIRST").await;
    assert_error(s, &b, 400, Some("coupon"));
    assert!(b["error"]["message"].as_str().unwrap().contains("first purchases"));
    let (s, b) = try_sub("ONCEEACH").await;
    assert_error(s, &b, 400, Some("coupon"));
    // Bad coupon definitions.
    for (body, param) in [
        (json!({"code": "X1", "percent_off_bps": 10, "amount_off": {"USD": 1}, "duration": "once"}), "amount_off"),
        (json!({"code": "X2", "amount_off": {"XYZ": 1}, "duration": "once"}), "amount_off.XYZ"),
        (json!({"code": "X3", "percent_off_bps": 10001, "duration": "once"}), "percent_off_bps"),
        (json!({"code": "X4", "percent_off_bps": 10, "duration": "repeating"}), "duration_in_months"),
        (json!({"code": "bad code", "percent_off_bps": 10, "duration": "once"}), "code"),
        (json!({"code": "OLD", "percent_off_bps": 10, "duration": "once"}), "code"),
    ] {
        let (s, b) = app.post("/v1/coupons", body).await;
        assert!(s == 400 || s == 409, "{b}");
        assert_eq!(b["error"]["param"], param, "{b}");
    }
    app.verify_ledger().await;
}
