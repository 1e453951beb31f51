use crate::common::*;
use base64::Engine as _;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn requests_without_a_valid_key_are_refused() {
    let app = TestApp::spawn().await;
    let (s, b) = json(app.client.get(app.url("/v1/customers")).send().await.unwrap()).await;
    assert_error(s, &b, 401, None);
    assert_eq!(b["error"]["type"], "authentication_error");
    let (s, b) =
        json(app.client.get(app.url("/v1/customers")).bearer_auth("bsk_test_nope").send().await.unwrap()).await;
    assert_error(s, &b, 401, None);
    let (s, b) = json(app.client.get(app.url("/v1/customers")).bearer_auth("sk_other").send().await.unwrap()).await;
    assert_error(s, &b, 401, None);
    let (s, b) =
        json(app.client.get(app.url("/v1/customers")).header("authorization", "Token abc").send().await.unwrap()).await;
    assert_error(s, &b, 401, None);
    // A write without a key writes nothing.
    let before = app.count("customers").await;
    let (s, _) =
        json(app.client.post(app.url("/v1/customers")).json(&json!({"email": "a@b.co"})).send().await.unwrap()).await;
    assert_eq!(s, 401);
    assert_eq!(app.count("customers").await, before);
}

#[tokio::test]
async fn basic_auth_with_the_key_as_user_name_works() {
    let app = TestApp::spawn().await;
    let resp = app.client.get(app.url("/v1/customers")).basic_auth(&app.test_key, Some("")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
}

#[tokio::test]
async fn the_authorization_scheme_is_case_insensitive() {
    let app = TestApp::spawn().await;
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let r = app
            .client
            .get(app.url("/v1/customers"))
            .header("authorization", format!("{scheme} {}", app.test_key))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "{scheme}");
    }
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{}:", app.test_key));
    let r = app.client.get(app.url("/v1/customers")).header("authorization", format!("basic {basic}")).send().await;
    assert_eq!(r.unwrap().status().as_u16(), 200);
    let r = app.client.get(app.url("/v1/customers")).header("authorization", "bearer").send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401, "a scheme without a key");
}

#[tokio::test]
async fn keys_are_hashed_at_rest_and_shown_once() {
    let app = TestApp::spawn().await;
    let (s, k) = app.post("/v1/api_keys", json!({"name": "backend"})).await;
    assert_eq!(s, 200, "{k}");
    let secret = k["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("bsk_test_"));
    assert_eq!(k["livemode"], false);
    let stored: Vec<String> =
        sqlx::query_scalar("SELECT key_hash FROM api_keys").fetch_all(app.tdb.db.reader()).await.unwrap();
    assert!(stored.iter().all(|h| h.len() == 64 && !h.contains(&secret[9..])));
    let (s, got) = app.get(&format!("/v1/api_keys/{}", k["id"].as_str().unwrap())).await;
    assert_eq!(s, 200);
    assert!(got.get("secret").is_none(), "secret must not be shown again: {got}");
    assert!(got["redacted"].as_str().unwrap().starts_with("bsk_test_"));

    // The new key works, and stops working once revoked.
    let resp = app.client.get(app.url("/v1/customers")).bearer_auth(&secret).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let (s, revoked) = app.delete(&format!("/v1/api_keys/{}", k["id"].as_str().unwrap())).await;
    assert_eq!(s, 200);
    assert!(revoked["revoked"].is_i64());
    let (s, b) = json(app.client.get(app.url("/v1/customers")).bearer_auth(&secret).send().await.unwrap()).await;
    assert_error(s, &b, 401, None);
}

#[tokio::test]
async fn live_and_test_data_are_separate() {
    let app = TestApp::spawn().await;
    let (s, c) = app.post("/v1/customers", json!({"email": "t@example.com"})).await;
    assert_eq!(s, 200);
    let id = c["id"].as_str().unwrap();
    let (s, b) =
        json(app.client.get(app.url(&format!("/v1/customers/{id}"))).bearer_auth(&app.live_key).send().await.unwrap())
            .await;
    assert_error(s, &b, 404, Some("id"));
    let (s, l) = json(app.client.get(app.url("/v1/customers")).bearer_auth(&app.live_key).send().await.unwrap()).await;
    assert_eq!(s, 200);
    assert_eq!(l["data"].as_array().unwrap().len(), 0);
    let (s, live) = json(
        app.client
            .post(app.url("/v1/customers"))
            .bearer_auth(&app.live_key)
            .json(&json!({"email": "l@example.com"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(live["livemode"], true);
    let (_, t) = app.get("/v1/customers").await;
    assert_eq!(t["data"].as_array().unwrap().len(), 1);
    let _ = app.req(Method::GET, "/v1/customers");
}
