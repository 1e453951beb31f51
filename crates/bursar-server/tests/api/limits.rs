//! Abuse limits: per API key on `/v1`, per address on what strangers reach.

use crate::common::*;
use reqwest::Method;

async fn status_and_retry(resp: reqwest::Response) -> (u16, Option<u64>, serde_json::Value) {
    let retry = resp.headers().get("retry-after").map(|v| v.to_str().unwrap().parse().unwrap());
    let (s, body) = json(resp).await;
    (s, retry, body)
}

#[tokio::test]
async fn a_key_past_its_rate_is_answered_429_with_retry_after_and_others_are_not() {
    let app = TestApp::spawn_with(|c| {
        c.rate_limit_api_per_sec = 1;
        c.rate_limit_api_burst = 3;
    })
    .await;
    for _ in 0..3 {
        assert_eq!(app.get("/v1/customers").await.0, 200);
    }
    let (s, retry, body) = status_and_retry(app.req(Method::GET, "/v1/customers").send().await.unwrap()).await;
    assert_eq!(s, 429);
    assert!(retry.is_some_and(|r| r >= 1), "{retry:?}");
    assert_eq!(body["error"]["type"], "rate_limit_error", "{body}");
    // A write refused by the limit changes nothing.
    let (s, _) = app.post("/v1/customers", serde_json::json!({"email": "late@example.com"})).await;
    assert_eq!(s, 429);
    assert_eq!(app.count("customers").await, 0);
    // Another key has its own allowance; the hosted pages are not counted here.
    let live = app.client.get(app.url("/v1/customers")).bearer_auth(&app.live_key).send().await.unwrap();
    assert_eq!(live.status().as_u16(), 200);
    assert_eq!(app.client.get(app.url("/healthz")).send().await.unwrap().status().as_u16(), 200);
}

#[tokio::test]
async fn an_address_past_its_rate_on_public_pages_and_webhooks_is_answered_429() {
    let app = TestApp::spawn_with(|c| {
        c.rate_limit_public_per_min = 1;
        c.rate_limit_public_burst = 2;
        c.rate_limit_webhooks_per_min = 5;
    })
    .await;
    for _ in 0..2 {
        let s = app.client.get(app.url("/staff/login")).send().await.unwrap().status().as_u16();
        assert_eq!(s, 200);
    }
    let (s, retry, body) = status_and_retry(app.client.get(app.url("/pricing")).send().await.unwrap()).await;
    assert_eq!(s, 429, "{body}");
    assert!(retry.is_some_and(|r| r >= 1));
    // The API is limited per key, not by these.
    assert_eq!(app.get("/v1/customers").await.0, 200);
    // Webhooks have their own budget: a fifth of a minute's, here one.
    let hook = || app.client.post(app.url("/webhooks/stripe")).body("{}").send();
    assert_ne!(hook().await.unwrap().status().as_u16(), 429);
    let (s, retry, _) = status_and_retry(hook().await.unwrap()).await;
    assert_eq!(s, 429);
    assert!(retry.is_some());
}
