use crate::common::*;
use serde_json::{json, Value};

#[tokio::test]
async fn create_read_update_delete() {
    let app = TestApp::spawn().await;
    let (s, c) = app
        .post(
            "/v1/customers",
            json!({
                "external_id": "user_42",
                "email": "lena@example.com",
                "name": "Lena Müller",
                "country": "de",
                "locale": "de-DE",
                "address": {"line1": "Hauptstr. 1", "city": "Berlin", "postal_code": "10115", "country": "DE"},
                "tax_ids": [{"type": "eu_vat", "value": "DE136695976"}],
                "metadata": {"plan_hint": "grow"}
            }),
        )
        .await;
    assert_eq!(s, 200, "{c}");
    let id = c["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("cus_"));
    assert_eq!(c["object"], "customer");
    assert_eq!(c["country"], "DE");
    assert_eq!(c["currency"], "EUR");
    assert_eq!(c["locale"], "de-DE");
    assert_eq!(c["livemode"], false);
    assert_eq!(c["tax_ids"][0]["value"], "DE136695976");

    let (s, got) = app.get(&format!("/v1/customers/{id}")).await;
    assert_eq!(s, 200);
    assert_eq!(got["email"], "lena@example.com");
    assert_eq!(got["address"]["city"], "Berlin");

    // Update: a currency override wins, null clears, metadata merges and "" removes.
    let (s, up) = app
        .post(
            &format!("/v1/customers/{id}"),
            json!({"preferred_currency": "gbp", "name": null, "metadata": {"plan_hint": "", "team": "b"}}),
        )
        .await;
    assert_eq!(s, 200, "{up}");
    assert_eq!(up["currency"], "GBP");
    assert_eq!(up["name"], Value::Null);
    assert_eq!(up["metadata"], json!({"team": "b"}));
    assert_eq!(up["email"], "lena@example.com");

    // external_id is unique among live customers.
    let (s, b) = app.post("/v1/customers", json!({"external_id": "user_42"})).await;
    assert_error(s, &b, 409, Some("external_id"));

    let (s, d) = app.delete(&format!("/v1/customers/{id}")).await;
    assert_eq!(s, 200);
    assert_eq!(d["deleted"], true);
    let (s, b) = app.get(&format!("/v1/customers/{id}")).await;
    assert_error(s, &b, 404, Some("id"));
    let (s, b) = app.delete(&format!("/v1/customers/{id}")).await;
    assert_error(s, &b, 404, Some("id"));
    // The id is free again once its customer is deleted.
    let (s, _) = app.post("/v1/customers", json!({"external_id": "user_42"})).await;
    assert_eq!(s, 200);

    let (_, ev) = app.get("/v1/events?limit=100").await;
    let types: Vec<&str> = ev["data"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types, vec!["customer.created", "customer.deleted", "customer.updated", "customer.created"]);
}

#[tokio::test]
async fn currency_comes_from_country_then_locale() {
    let app = TestApp::spawn().await;
    for (body, want) in [
        (json!({"country": "IN"}), "INR"),
        (json!({"country": "BR", "locale": "en-US"}), "BRL"),
        (json!({"locale": "ru-RU"}), "RUB"),
        (json!({"address": {"country": "JP"}}), "JPY"),
        (json!({}), "USD"),
        (json!({"country": "FR", "preferred_currency": "BHD"}), "BHD"),
    ] {
        let (s, c) = app.post("/v1/customers", body.clone()).await;
        assert_eq!(s, 200, "{c}");
        assert_eq!(c["currency"], want, "for {body}");
    }
}

#[tokio::test]
async fn cursor_pagination_walks_every_customer_once() {
    let app = TestApp::spawn().await;
    let mut created = Vec::new();
    for i in 0..23 {
        let (s, c) = app.post("/v1/customers", json!({"email": format!("u{i}@example.com")})).await;
        assert_eq!(s, 200);
        created.push(c["id"].as_str().unwrap().to_string());
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            None => "/v1/customers?limit=10".to_string(),
            Some(c) => format!("/v1/customers?limit=10&starting_after={c}"),
        };
        let (s, page) = app.get(&path).await;
        assert_eq!(s, 200, "{page}");
        assert_eq!(page["object"], "list");
        let data = page["data"].as_array().unwrap();
        seen.extend(data.iter().map(|c| c["id"].as_str().unwrap().to_string()));
        pages += 1;
        if !page["has_more"].as_bool().unwrap() {
            break;
        }
        cursor = Some(data.last().unwrap()["id"].as_str().unwrap().to_string());
    }
    assert_eq!(pages, 3);
    created.reverse();
    assert_eq!(seen, created, "newest first, each exactly once");
    let (_, filtered) = app.get("/v1/customers?email=u7%40example.com").await;
    assert_eq!(filtered["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn bad_input_is_a_4xx_naming_the_field_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let before = (app.count("customers").await, app.count("events").await);
    let cases: Vec<(Value, &str)> = vec![
        (json!({"email": "not-an-email"}), "email"),
        (json!({"country": "XX"}), "country"),
        (json!({"locale": "tlh-KL"}), "locale"),
        (json!({"preferred_currency": "ABC"}), "preferred_currency"),
        (json!({"bogus": 1}), "bogus"),
        (json!({"address": {"town": "x"}}), "address.town"),
        (json!({"address": {"country": "ZZ"}}), "address.country"),
        (json!({"email": 5}), "email"),
        (json!({"tax_ids": [{"type": "xx_vat", "value": "1"}]}), "tax_ids[0].type"),
        (json!({"metadata": {"k": "v".repeat(501)}}), "metadata.k"),
        (json!({"name": "n".repeat(201)}), "name"),
        (json!({"test_clock": "clock_0192f0c1e4b87c3a9d1f2b3c4d5e6f70"}), "test_clock"),
    ];
    for (body, param) in cases {
        let (s, b) = app.post("/v1/customers", body.clone()).await;
        let want = if param == "test_clock" { 404 } else { 400 };
        assert_error(s, &b, want, Some(param));
    }
    // Malformed JSON.
    let resp = app
        .req(reqwest::Method::POST, "/v1/customers")
        .header("content-type", "application/json")
        .body("{\"email\": ")
        .send()
        .await
        .unwrap();
    let (s, b) = json(resp).await;
    assert_error(s, &b, 400, Some("body"));
    assert_eq!(b["error"]["code"], "json_invalid");
    // Not JSON at all.
    let resp = app
        .req(reqwest::Method::POST, "/v1/customers")
        .header("content-type", "text/plain")
        .body("email=a")
        .send()
        .await
        .unwrap();
    let (s, b) = json(resp).await;
    assert_error(s, &b, 415, None);
    // Oversized body.
    let big = json!({"name": "x".repeat(2 * 1024 * 1024)});
    let (s, b) = app.post("/v1/customers", big).await;
    assert_error(s, &b, 413, Some("body"));
    // Bad list parameters.
    for q in ["limit=0", "limit=101", "limit=ten", "starting_after=nope", "colour=red"] {
        let (s, b) = app.get(&format!("/v1/customers?{q}")).await;
        assert_eq!(s, 400, "{q}: {b}");
        assert!(b["error"]["param"].is_string(), "{q}: {b}");
    }
    // Unknown ids.
    let (s, b) = app.get("/v1/customers/cus_nothing").await;
    assert_error(s, &b, 404, Some("id"));
    let (s, b) = app.post("/v1/customers/cus_0192f0c1e4b87c3a9d1f2b3c4d5e6f70", json!({"name": "x"})).await;
    assert_error(s, &b, 404, Some("id"));
    // Unknown route and wrong method.
    let (s, b) = app.get("/v1/nothing-here").await;
    assert_error(s, &b, 404, None);
    let resp = app.req(reqwest::Method::PUT, "/v1/customers").send().await.unwrap();
    let (s, b) = json(resp).await;
    assert_error(s, &b, 405, None);
    assert_eq!((app.count("customers").await, app.count("events").await), before, "nothing may be written");
}

#[tokio::test]
async fn credit_balance_moves_through_the_ledger() {
    let app = TestApp::spawn().await;
    let (_, c) = app.post("/v1/customers", json!({"country": "GB"})).await;
    let id = c["id"].as_str().unwrap();
    let path = format!("/v1/customers/{id}/balance_transactions");
    let (s, t) = app.post(&path, json!({"amount": 1500, "currency": "GBP", "description": "Apology"})).await;
    assert_eq!(s, 200, "{t}");
    assert_eq!(t["ending_balance"], 1500);
    let (s, t) = app.post(&path, json!({"amount": -400, "currency": "gbp"})).await;
    assert_eq!(s, 200, "{t}");
    assert_eq!(t["ending_balance"], 1100);
    let (s, b) = app.post(&path, json!({"amount": -1101, "currency": "GBP"})).await;
    assert_error(s, &b, 400, Some("amount"));
    let (s, b) = app.post(&path, json!({"amount": 10, "currency": "XYZ"})).await;
    assert_error(s, &b, 400, Some("currency"));
    let (s, b) = app.post(&path, json!({"amount": 1_000_000_000_000_000i64, "currency": "GBP"})).await;
    assert_error(s, &b, 400, Some("amount"));
    let (s, b) = app.post(&path, json!({"amount": 0, "currency": "GBP"})).await;
    assert_error(s, &b, 400, Some("amount"));
    let (s, b) = app.post(&path, json!({"amount": 1.5, "currency": "GBP"})).await;
    assert_error(s, &b, 400, Some("amount"));
    let (s, b) = app.post(&path, json!({"currency": "GBP"})).await;
    assert_error(s, &b, 400, Some("amount"));

    let (_, got) = app.get(&format!("/v1/customers/{id}")).await;
    assert_eq!(got["credit_balances"], json!([{"currency": "GBP", "amount": 1100}]));
    let (_, list) = app.get(&path).await;
    let amounts: Vec<i64> = list["data"].as_array().unwrap().iter().map(|t| t["amount"].as_i64().unwrap()).collect();
    assert_eq!(amounts, vec![-400, 1500]);
    let (_, bal) = app.get(&format!("/v1/ledger/balances?account=customer_credit:{id}")).await;
    assert_eq!(bal["data"][0]["balance"], 1100);
    assert_eq!(bal["data"][0]["kind"], "liability");
    app.verify_ledger().await;
}

#[tokio::test]
async fn concurrent_debits_never_overdraw_credit() {
    let app = TestApp::spawn().await;
    let (_, c) = app.post("/v1/customers", json!({"country": "US"})).await;
    let id = c["id"].as_str().unwrap().to_string();
    let path = format!("/v1/customers/{id}/balance_transactions");
    let (s, _) = app.post(&path, json!({"amount": 1000, "currency": "USD"})).await;
    assert_eq!(s, 200);
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let req = app.req(reqwest::Method::POST, &path).json(&json!({"amount": -100, "currency": "USD"}));
        tasks.push(tokio::spawn(async move { req.send().await.unwrap().status().as_u16() }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            200 => ok += 1,
            400 => {}
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!(ok, 10, "exactly the credit available may be taken");
    let (_, got) = app.get(&format!("/v1/customers/{id}")).await;
    assert_eq!(got["credit_balances"], json!([]));
    app.verify_ledger().await;
}
