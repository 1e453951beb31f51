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
