//! A NUL character (U+0000) in any string a request carries is refused with
//! a 400 naming the field, on both databases (PostgreSQL cannot store one in
//! text), before anything is written.

use crate::common::*;
use serde_json::json;

#[tokio::test]
async fn a_nul_character_in_a_json_body_is_refused_naming_the_field() {
    let app = TestApp::spawn().await;
    for (body, param) in [
        (json!({"name": "Ada\u{0}"}), "name"),
        (json!({"email": "ada@example.com\u{0}"}), "email"),
        (json!({"external_id": "\u{0}u-1"}), "external_id"),
        (json!({"name": "Ada", "metadata": {"plan": "pro\u{0}"}}), "metadata.plan"),
        (json!({"name": "Ada", "metadata": {"k\u{0}": "v"}}), "metadata.k\\u0000"),
        (json!({"address": {"line1": "1 Main St", "city": "Ri\u{0}ga"}}), "address.city"),
        (json!({"tax_ids": [{"type": "eu_vat", "value": "FR40303265045\u{0}"}]}), "tax_ids[0].value"),
    ] {
        let (s, e) = app.post("/v1/customers", body.clone()).await;
        assert_error(s, &e, 400, Some(param));
        assert!(e["error"]["message"].as_str().unwrap().contains("NUL"), "{e}");
    }
    assert_eq!(app.count("customers").await, 0);

    let (s, e) = app.post("/v1/api_keys", json!({"name": "ci\u{0}"})).await;
    assert_error(s, &e, 400, Some("name"));
    let entry = |description: &str, account: &str| {
        json!({"currency": "USD", "description": description,
               "postings": [{"account": "cash", "amount": 100}, {"account": account, "amount": -100}]})
    };
    let (s, e) = app.post("/v1/ledger/entries", entry("Opening\u{0}balance", "revenue")).await;
    assert_error(s, &e, 400, Some("description"));
    let (s, e) = app.post("/v1/ledger/entries", entry("Opening balance", "reve\u{0}nue")).await;
    assert_error(s, &e, 400, Some("postings[1].account"));

    // The same requests without the NUL character pass; other control
    // characters are the fields' own business.
    let (s, c) = app
        .post("/v1/customers", json!({"name": "Ada\tLovelace", "email": "ada@example.com", "external_id": "u-1"}))
        .await;
    assert_eq!(s, 200, "{c}");
    let (s, k) = app.post("/v1/api_keys", json!({"name": "ci"})).await;
    assert_eq!(s, 200, "{k}");
    let (s, l) = app.post("/v1/ledger/entries", entry("Opening balance", "revenue")).await;
    assert_eq!(s, 200, "{l}");
    // An escaped backslash before `u0000` is text, not a NUL character.
    let (s, c2) = app.post("/v1/customers", json!({"name": "C:\\u0000"})).await;
    assert_eq!((s, c2["name"].as_str()), (200, Some("C:\\u0000")), "{c2}");
    app.verify_ledger().await;
}

#[tokio::test]
async fn a_nul_character_in_a_query_path_or_form_is_refused_naming_the_field() {
    let app = TestApp::spawn().await;
    let (s, c) = app.post("/v1/customers", json!({"email": "ada@example.com", "external_id": "u-1"})).await;
    assert_eq!(s, 200, "{c}");
    for (path, param) in [
        ("/v1/customers?email=ada%40example.com%00", "email"),
        ("/v1/customers?external_id=%00", "external_id"),
        ("/v1/customers?limit=10&starting_after=cus_%00", "starting_after"),
        ("/v1/invoices?customer=cus_%00x", "customer"),
        ("/v1/customers/cus_%00x", "id"),
    ] {
        let (s, e) = app.get(path).await;
        assert_error(s, &e, 400, Some(param));
    }
    let (s, l) = app.get("/v1/customers?email=ada%40example.com").await;
    assert_eq!((s, l["data"].as_array().map(Vec::len)), (200, Some(1)), "{l}");

    // Hosted pages' forms: the staff sign-in and the checkout page's coupon.
    let r = app
        .client
        .post(app.url("/staff/login"))
        .form(&[("csrf", "x"), ("email", "ops@example.com\u{0}"), ("password", "a long passphrase")])
        .send()
        .await
        .unwrap();
    let (s, e) = json(r).await;
    assert_error(s, &e, 400, Some("email"));
    let (s, cs) = app
        .post(
            "/v1/checkout/sessions",
            json!({"customer": c["id"], "mode": "payment", "items": [{"description": "Essay review", "unit_amount": 2500}],
                   "success_url": "https://p.example/ok", "cancel_url": "https://p.example/no"}),
        )
        .await;
    assert_eq!(s, 201, "{cs}");
    let id = cs["id"].as_str().unwrap();
    let token = app.checkout_token(id).await;
    let r = app
        .client
        .post(app.url(&format!("/checkout/{id}/coupon")))
        .form(&[("form_token", token.as_str()), ("code", "TEN\u{0}")])
        .send()
        .await
        .unwrap();
    let (s, e) = json(r).await;
    assert_error(s, &e, 400, Some("code"));
    let r = app.client.get(app.url(&format!("/checkout/{id}?lang=%00"))).send().await.unwrap();
    let (s, e) = json(r).await;
    assert_error(s, &e, 400, Some("lang"));
}
