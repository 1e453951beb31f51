use crate::common::*;
use serde_json::json;

#[tokio::test]
async fn clocks_advance_forward_and_customers_live_by_them() {
    let app = TestApp::spawn().await;
    let (s, c) = app.post("/v1/test_clocks", json!({"frozen_time": 1_767_225_600, "name": "Jan"})).await;
    assert_eq!(s, 200, "{c}");
    let clock = c["id"].as_str().unwrap().to_string();
    assert!(clock.starts_with("clock_"));
    let (s, cus) = app.post("/v1/customers", json!({"email": "t@example.com", "test_clock": clock})).await;
    assert_eq!(s, 200, "{cus}");
    assert_eq!(cus["created"], 1_767_225_600);
    assert_eq!(cus["test_clock"], clock.as_str());

    let (s, adv) = app.post(&format!("/v1/test_clocks/{clock}/advance"), json!({"frozen_time": 1_769_904_000})).await;
    assert_eq!(s, 200, "{adv}");
    assert_eq!(adv["frozen_time"], 1_769_904_000);
    // Changes to the customer happen at the clock's time.
    let id = cus["id"].as_str().unwrap();
    let (_, up) = app.post(&format!("/v1/customers/{id}"), json!({"name": "Later"})).await;
    assert_eq!(up["updated"], 1_769_904_000);
    let (_, t) =
        app.post(&format!("/v1/customers/{id}/balance_transactions"), json!({"amount": 100, "currency": "USD"})).await;
    assert_eq!(t["created"], 1_769_904_000);

    let (s, b) = app.post(&format!("/v1/test_clocks/{clock}/advance"), json!({"frozen_time": 1_767_225_600})).await;
    assert_error(s, &b, 400, Some("frozen_time"));
    let (s, b) = app.post("/v1/test_clocks", json!({"frozen_time": -1})).await;
    assert_error(s, &b, 400, Some("frozen_time"));
    let (s, b) = app.post("/v1/test_clocks", json!({})).await;
    assert_error(s, &b, 400, Some("frozen_time"));

    let (s, _) = app.delete(&format!("/v1/test_clocks/{clock}")).await;
    assert_eq!(s, 200);
    let (s, b) = app.get(&format!("/v1/test_clocks/{clock}")).await;
    assert_error(s, &b, 404, Some("id"));
}

#[tokio::test]
async fn test_clocks_are_test_mode_only() {
    let app = TestApp::spawn().await;
    let (s, b) = json(
        app.client
            .post(app.url("/v1/test_clocks"))
            .bearer_auth(&app.live_key)
            .json(&json!({"frozen_time": 1_767_225_600}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(s, &b, 403, None);
    assert_eq!(b["error"]["type"], "permission_error");
    let (_, c) = app.post("/v1/test_clocks", json!({"frozen_time": 1_767_225_600})).await;
    let (s, b) = json(
        app.client
            .post(app.url("/v1/customers"))
            .bearer_auth(&app.live_key)
            .json(&json!({"test_clock": c["id"]}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(s, &b, 400, Some("test_clock"));
    assert_eq!(app.count("customers").await, 0);
}

#[tokio::test]
async fn an_advance_whose_due_billing_failed_stands_and_a_retry_replays_its_answer() {
    const JAN_1: i64 = 1_767_225_600;
    const FEB_1: i64 = JAN_1 + 31 * 86_400;
    let app = TestApp::spawn_with(|c| c.background_jobs = false).await;
    app.import_demo_catalog().await;
    let (_, clock) = app.post("/v1/test_clocks", json!({"frozen_time": JAN_1})).await;
    let clock = clock["id"].as_str().unwrap().to_string();
    let (_, c) = app.post("/v1/customers", json!({"country": "US", "test_clock": clock})).await;
    let cus = c["id"].as_str().unwrap().to_string();
    let (s, sub) = app.post("/v1/subscriptions", json!({"customer": cus, "plan": "grow", "trial": false})).await;
    assert_eq!(s, 200, "{sub}");
    let (s, _) =
        app.post(&format!("/v1/customers/{cus}/payment_methods"), json!({"token": "pm_card_chargeDeclined"})).await;
    assert_eq!(s, 200);
    let (s, _) = app.post(&format!("/v1/test_clocks/{clock}/advance"), json!({"frozen_time": FEB_1})).await;
    assert_eq!(s, 200);
    // The renewal failed and its first retry is due an hour later; the retry
    // is made to fail (its dunning row names the other mode), so the billing
    // that falls due with the next advance fails after the clock moved.
    sqlx::query("UPDATE dunning SET livemode = $1").bind(1i64).execute(app.tdb.db.writer()).await.unwrap();
    let path = format!("/v1/test_clocks/{clock}/advance");
    let advance = || {
        app.req(reqwest::Method::POST, &path)
            .header("Idempotency-Key", "advance-past-the-retry")
            .json(&json!({"frozen_time": FEB_1 + 7_200}))
            .send()
    };
    let (s, first) = json(advance().await.unwrap()).await;
    assert_eq!(s, 500, "{first}");
    let (_, now) = app.get(&format!("/v1/test_clocks/{clock}")).await;
    assert_eq!(now["frozen_time"], FEB_1 + 7_200, "the advance itself committed");
    // The retry is told what happened, not that the clock cannot move back.
    let r = advance().await.unwrap();
    assert_eq!(r.headers().get("idempotent-replayed").map(|v| v.to_str().unwrap()), Some("true"));
    let (s, again) = json(r).await;
    assert_eq!((s, again["frozen_time"].as_i64()), (200, Some(FEB_1 + 7_200)), "{again}");
    // Once the row is repaired, the next billing run makes the retry that fell due.
    sqlx::query("UPDATE dunning SET livemode = $1").bind(0i64).execute(app.tdb.db.writer()).await.unwrap();
    let (s, run) = app.post("/v1/billing/run", json!({})).await;
    assert_eq!(s, 200, "{run}");
    let (_, fails) = app.get("/v1/events?type=invoice.payment_failed&limit=100").await;
    assert_eq!(fails["data"][0]["data"]["attempt"], 2, "{fails}");
}
