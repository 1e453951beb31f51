use crate::common::*;
use bursar_store::idempotency::{claim, Claim, ClaimRequest};
use reqwest::Method;
use serde_json::json;

async fn post_with_key(
    app: &TestApp,
    path: &str,
    key: &str,
    body: serde_json::Value,
) -> (u16, serde_json::Value, bool) {
    let resp = app.req(Method::POST, path).header("Idempotency-Key", key).json(&body).send().await.unwrap();
    let replayed = resp.headers().get("idempotent-replayed").is_some();
    let (s, b) = json(resp).await;
    (s, b, replayed)
}

#[tokio::test]
async fn same_key_same_body_replays_the_stored_response() {
    let app = TestApp::spawn().await;
    let body = json!({"email": "once@example.com"});
    let (s1, b1, r1) = post_with_key(&app, "/v1/customers", "key-1", body.clone()).await;
    let (s2, b2, r2) = post_with_key(&app, "/v1/customers", "key-1", body.clone()).await;
    assert_eq!((s1, s2), (200, 200));
    assert!(!r1 && r2, "only the second response is a replay");
    assert_eq!(b1, b2);
    assert_eq!(app.count("customers").await, 1);
    // The stored response was written in the same transaction as the customer.
    let stored: String = sqlx::query_scalar("SELECT state FROM idempotency_keys WHERE idem_key = 'key-1'")
        .fetch_one(app.tdb.db.reader())
        .await
        .unwrap();
    assert_eq!(stored, "completed");
}

#[tokio::test]
async fn the_same_json_with_other_spacing_and_key_order_is_the_same_request() {
    let app = TestApp::spawn().await;
    let send = |text: &'static str| {
        app.req(Method::POST, "/v1/customers")
            .header("Idempotency-Key", "key-canonical")
            .header("content-type", "application/json")
            .body(text)
            .send()
    };
    let first = send(r#"{"email":"same@example.com","name":"Same"}"#).await.unwrap();
    assert_eq!(first.status().as_u16(), 200);
    let again = send("{\n  \"name\" : \"Same\",\n  \"email\": \"same@example.com\"\n}\n").await.unwrap();
    assert_eq!(again.status().as_u16(), 200);
    assert!(again.headers().get("idempotent-replayed").is_some());
    assert_eq!(app.count("customers").await, 1);
    let other = send(r#"{"email":"other@example.com","name":"Same"}"#).await.unwrap();
    assert_eq!(other.status().as_u16(), 422, "another body under the same key is refused");
}

#[tokio::test]
async fn same_key_different_body_is_422_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let (s, _, _) = post_with_key(&app, "/v1/customers", "key-2", json!({"email": "a@example.com"})).await;
    assert_eq!(s, 200);
    let (s, b, _) = post_with_key(&app, "/v1/customers", "key-2", json!({"email": "b@example.com"})).await;
    assert_error(s, &b, 422, Some("Idempotency-Key"));
    assert_eq!(b["error"]["type"], "idempotency_error");
    // The same key on another endpoint is another request too.
    let (s, b, _) = post_with_key(&app, "/v1/api_keys", "key-2", json!({"email": "a@example.com"})).await;
    assert_error(s, &b, 422, Some("Idempotency-Key"));
    assert_eq!(app.count("customers").await, 1);
}

#[tokio::test]
async fn a_key_in_flight_is_409_and_a_dead_claim_is_taken_over() {
    let app = TestApp::spawn().await;
    let body = json!({"email": "race@example.com"});
    let bytes = serde_json::to_vec(&body).unwrap();
    // Simulate a request that holds the key right now: compute its
    // fingerprint by making the claim through the same code path.
    let fp = {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(b"POST\n/v1/customers\n\n");
        h.update(&bytes);
        hex::encode(h.finalize())
    };
    let now = app.state.now_ms();
    let c = claim(
        &app.tdb.db,
        &ClaimRequest {
            livemode: false,
            key: "key-3",
            fingerprint: &fp,
            method: "POST",
            path: "/v1/customers",
            now,
            lease_ms: 60_000,
        },
    )
    .await
    .unwrap();
    assert_eq!(c, Claim::Acquired);
    let (s, b, _) = post_with_key(&app, "/v1/customers", "key-3", body.clone()).await;
    assert_error(s, &b, 409, Some("Idempotency-Key"));
    assert_eq!(app.count("customers").await, 0);

    // A claim whose request died (its lease ran out, nothing committed) is
    // taken over by the retry, which then runs once.
    let c = claim(
        &app.tdb.db,
        &ClaimRequest {
            livemode: false,
            key: "key-4",
            fingerprint: &fp,
            method: "POST",
            path: "/v1/customers",
            now: now - 120_000,
            lease_ms: 60_000,
        },
    )
    .await
    .unwrap();
    assert_eq!(c, Claim::Acquired);
    let (s, b1, _) = post_with_key(&app, "/v1/customers", "key-4", body.clone()).await;
    assert_eq!(s, 200, "{b1}");
    let (s, b2, replayed) = post_with_key(&app, "/v1/customers", "key-4", body).await;
    assert_eq!(s, 200);
    assert!(replayed);
    assert_eq!(b1["id"], b2["id"]);
    assert_eq!(app.count("customers").await, 1);
}

#[tokio::test]
async fn concurrent_requests_with_one_key_create_one_customer() {
    let app = TestApp::spawn().await;
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let req = app
            .req(Method::POST, "/v1/customers")
            .header("Idempotency-Key", "key-5")
            .json(&json!({"email": "c@example.com"}));
        tasks.push(tokio::spawn(async move { json(req.send().await.unwrap()).await }));
    }
    let mut ids = std::collections::BTreeSet::new();
    for t in tasks {
        let (s, b) = t.await.unwrap();
        match s {
            200 => {
                ids.insert(b["id"].as_str().unwrap().to_string());
            }
            409 => assert_eq!(b["error"]["code"], "idempotency_key_in_use"),
            other => panic!("unexpected {other}: {b}"),
        }
    }
    assert_eq!(ids.len(), 1, "every success is the same customer");
    assert_eq!(app.count("customers").await, 1);
}

#[tokio::test]
async fn failed_requests_release_the_key_and_bad_keys_are_refused() {
    let app = TestApp::spawn().await;
    let (s, _, _) = post_with_key(&app, "/v1/customers", "key-6", json!({"email": "bad"})).await;
    assert_eq!(s, 400);
    assert_eq!(app.count("idempotency_keys").await, 0, "a failed request leaves no claim behind");
    let resp = app
        .req(Method::POST, "/v1/customers")
        .header("Idempotency-Key", "has space")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let (s, b) = json(resp).await;
    assert_error(s, &b, 400, Some("Idempotency-Key"));
    let long = "k".repeat(256);
    let resp =
        app.req(Method::POST, "/v1/customers").header("Idempotency-Key", long).json(&json!({})).send().await.unwrap();
    let (s, _) = json(resp).await;
    assert_eq!(s, 400);
    assert_eq!(app.count("customers").await, 0);
}
