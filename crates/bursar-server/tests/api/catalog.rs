use crate::common::*;
use serde_json::{json, Value};

fn catalog_file(name: &str) -> Value {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../catalogs").join(name);
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn plan<'a>(plans: &'a Value, code: &str) -> &'a Value {
    plans["data"].as_array().unwrap().iter().find(|p| p["code"] == code).unwrap()
}

fn price<'a>(plan: &'a Value, currency: &str, interval: &str) -> &'a Value {
    plan["prices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["currency"] == currency && p["interval"] == interval && p["active"] == true)
        .unwrap()
}

#[tokio::test]
async fn demo_catalog_has_three_tiers_in_six_currencies() {
    let app = TestApp::spawn().await;
    let (s, sum) = app.post("/v1/catalog/import", catalog_file("demo.json")).await;
    assert_eq!(s, 200, "{sum}");
    assert_eq!(sum["products_created"], 1);
    assert_eq!(sum["plans_created"], 3);
    assert_eq!(sum["prices_created"], 36);
    let (_, plans) = app.get("/v1/plans").await;
    let codes: Vec<&str> = plans["data"].as_array().unwrap().iter().map(|p| p["code"].as_str().unwrap()).collect();
    assert_eq!(codes, vec!["starter", "grow", "scale"], "ordered by rank");

    let starter = plan(&plans, "starter");
    assert_eq!(
        starter["limits"],
        json!({"tests_per_month": 3, "questions_per_month": 50, "ai_queries_per_month": 0, "question_generations_per_month": 0})
    );
    assert_eq!(price(starter, "INR", "month")["amount"], 0);
    let grow = plan(&plans, "grow");
    assert_eq!(grow["limits"]["tests_per_month"], "unlimited");
    assert_eq!(grow["limits"]["ai_queries_per_month"], 100);
    assert_eq!(grow["limits"]["question_generations_per_month"], 50);
    assert_eq!(grow["trial"], json!({"days": 14, "card_required": false}));
    let scale = plan(&plans, "scale");
    assert_eq!(scale["limits"]["ai_queries_per_month"], "unlimited");
    assert_eq!(scale["limits"]["question_generations_per_month"], 500);
    assert_eq!(scale["trial"], json!({"days": 7, "card_required": true}));
    assert_eq!(scale["flags"]["api_access"], true);
    for cur in ["USD", "EUR", "GBP", "INR", "BRL", "RUB"] {
        for interval in ["month", "year"] {
            let p = price(grow, cur, interval);
            assert!(p["amount"].as_i64().unwrap() > 0, "{cur} {interval}");
            assert_eq!(p["version"], 1);
        }
    }
    assert_eq!(price(grow, "USD", "month")["tax_behavior"], "exclusive");
    assert_eq!(price(grow, "EUR", "month")["tax_behavior"], "inclusive");
    // Plans can be fetched by id or by code.
    let (s, by_code) = app.get("/v1/plans/grow").await;
    assert_eq!(s, 200);
    assert_eq!(by_code["id"], grow["id"]);
}

#[tokio::test]
async fn reimport_is_idempotent_and_price_changes_make_versions() {
    let app = TestApp::spawn().await;
    let doc = catalog_file("demo.json");
    let (s, _) = app.post("/v1/catalog/import", doc.clone()).await;
    assert_eq!(s, 200);
    let (s, again) = app.post("/v1/catalog/import", doc.clone()).await;
    assert_eq!(s, 200);
    assert_eq!(again["plans_created"], 0);
    assert_eq!(again["plans_updated"], 0);
    assert_eq!(again["prices_created"], 0);
    assert_eq!(again["prices_unchanged"], 36);

    let (_, plans) = app.get("/v1/plans").await;
    let old = price(plan(&plans, "grow"), "USD", "month").clone();
    // A price change through the catalog.
    let mut changed = doc.clone();
    for p in changed["products"][0]["plans"][1]["prices"].as_array_mut().unwrap() {
        if p["currency"] == "USD" && p["interval"] == "month" {
            p["amount"] = json!(2400);
        }
    }
    let (_, sum) = app.post("/v1/catalog/import", changed).await;
    assert_eq!(sum["prices_created"], 1);
    assert_eq!(sum["prices_superseded"], 1);
    let (_, plans) = app.get("/v1/plans").await;
    let new = price(plan(&plans, "grow"), "USD", "month");
    assert_eq!(new["amount"], 2400);
    assert_eq!(new["version"], 2);
    assert_ne!(new["id"], old["id"]);
    // The old version still exists for its subscribers, retired.
    let (s, kept) = app.get(&format!("/v1/prices/{}", old["id"].as_str().unwrap())).await;
    assert_eq!(s, 200);
    assert_eq!(kept["amount"], 1900);
    assert_eq!(kept["active"], false);
    assert!(kept["superseded"].is_i64());
    // And through the price endpoint.
    let (s, v3) =
        app.post("/v1/plans/grow/prices", json!({"currency": "usd", "interval": "month", "amount": 2900})).await;
    assert_eq!(s, 200, "{v3}");
    assert_eq!(v3["version"], 3);
    let (_, all) = app.get("/v1/plans/grow").await;
    let usd_month: Vec<i64> = all["prices"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["currency"] == "USD" && p["interval"] == "month")
        .map(|p| p["amount"].as_i64().unwrap())
        .collect();
    assert_eq!(usd_month, vec![1900, 2400, 2900]);
}

#[tokio::test]
async fn other_drafts_tiers_are_expressible_as_data() {
    let app = TestApp::spawn().await;
    let (s, sum) = app.post("/v1/catalog/import", catalog_file("course-platform.json")).await;
    assert_eq!(s, 200, "{sum}");
    assert_eq!(sum["plans_created"], 5);
    let (s, sum) = app.post("/v1/catalog/import", catalog_file("student.json")).await;
    assert_eq!(s, 200, "{sum}");
    let (_, plans) = app.get("/v1/plans").await;
    let business = plan(&plans, "business");
    assert_eq!(business["flags"]["white_label"], true);
    assert_eq!(business["flags"]["sso"], false);
    assert_eq!(business["limits"]["max_courses"], "unlimited");
    assert_eq!(plan(&plans, "enterprise")["flags"]["sso"], true);
    let student = plan(&plans, "student");
    assert_eq!(price(student, "USD", "month")["amount"], 999);
    assert_eq!(price(plan(&plans, "pro"), "USD", "month")["amount"], 1999);
    let (_, products) = app.get("/v1/products").await;
    assert_eq!(products["data"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn bad_catalogs_are_refused_whole() {
    let app = TestApp::spawn().await;
    let mut doc = catalog_file("demo.json");
    doc["products"][0]["plans"][2]["prices"][0]["amount"] = json!(-5);
    let (s, b) = app.post("/v1/catalog/import", doc).await;
    assert_error(s, &b, 400, Some("products[0].plans[2].prices[0].amount"));
    let mut doc = catalog_file("demo.json");
    doc["products"][0]["plans"][1]["limits"]["ai_queries_per_month"] = json!(-1);
    let (s, b) = app.post("/v1/catalog/import", doc).await;
    assert_error(s, &b, 400, Some("products[0].plans[1].limits.ai_queries_per_month"));
    let mut doc = catalog_file("demo.json");
    doc["products"][0]["plans"][0]["prices"][0]["currency"] = json!("XYZ");
    let (s, b) = app.post("/v1/catalog/import", doc).await;
    assert_error(s, &b, 400, Some("products[0].plans[0].prices[0].currency"));
    let mut doc = catalog_file("demo.json");
    doc["products"][0]["plans"][0]["colour"] = json!("red");
    let (s, b) = app.post("/v1/catalog/import", doc).await;
    assert_error(s, &b, 400, Some("products[0].plans[0].colour"));
    assert_eq!(app.count("plans").await, 0);
    assert_eq!(app.count("prices").await, 0);

    let (s, _) = app.post("/v1/catalog/import", catalog_file("demo.json")).await;
    assert_eq!(s, 200);
    for (body, param) in [
        (json!({"currency": "usd", "interval": "week", "amount": 100}), "interval"),
        (json!({"currency": "usd", "interval": "month", "amount": -1}), "amount"),
        (json!({"currency": "zzz", "interval": "month", "amount": 1}), "currency"),
        (json!({"currency": "usd", "interval": "month", "amount": 1, "tax_behavior": "maybe"}), "tax_behavior"),
    ] {
        let (s, b) = app.post("/v1/plans/grow/prices", body).await;
        assert_error(s, &b, 400, Some(param));
    }
    let (s, b) = app.post("/v1/plans/nope/prices", json!({"currency": "usd", "interval": "month", "amount": 1})).await;
    assert_error(s, &b, 404, Some("id"));
    assert_eq!(app.count("prices").await, 36);
}

#[tokio::test]
async fn catalogs_are_per_mode() {
    let app = TestApp::spawn().await;
    let (s, _) = app.post("/v1/catalog/import", catalog_file("student.json")).await;
    assert_eq!(s, 200);
    let (s, live) = json(app.client.get(app.url("/v1/plans")).bearer_auth(&app.live_key).send().await.unwrap()).await;
    assert_eq!(s, 200);
    assert_eq!(live["data"].as_array().unwrap().len(), 0);
}

/// Currencies withdrawn from ISO 4217 (BGN since Bulgaria's euro, CUC) are
/// refused for anything new, naming the field, while what was stored in
/// them still reads.
#[tokio::test]
async fn withdrawn_currencies_are_refused_for_new_money_and_still_read() {
    let app = TestApp::spawn().await;
    let (s, _) = app.post("/v1/catalog/import", catalog_file("demo.json")).await;
    assert_eq!(s, 200);
    let (s, c) = app.post("/v1/customers", json!({"country": "BG", "email": "b@example.bg"})).await;
    assert_eq!(s, 200, "{c}");
    let cus = c["id"].as_str().unwrap().to_string();
    let urls = json!({"success_url": "https://p.example/ok", "cancel_url": "https://p.example/no"});
    let mut session = json!({"customer": cus, "mode": "payment", "currency": "BGN",
        "items": [{"description": "Essay review", "unit_amount": 2500}]});
    session.as_object_mut().unwrap().extend(urls.as_object().unwrap().clone());
    for code in ["BGN", "cuc"] {
        let withdrawn: [(&str, Value, String); 7] = [
            (
                "/v1/plans/grow/prices",
                json!({"currency": code, "interval": "month", "amount": 1900}),
                "currency".into(),
            ),
            (
                "/v1/coupons",
                json!({"code": "OFF", "amount_off": {code: 500}, "duration": "once"}),
                format!("amount_off.{code}"),
            ),
            ("/v1/customers", json!({"preferred_currency": code}), "preferred_currency".into()),
            (&format!("/v1/customers/{cus}"), json!({"preferred_currency": code}), "preferred_currency".into()),
            ("/v1/subscriptions", json!({"customer": cus, "plan": "grow", "currency": code}), "currency".into()),
            ("/v1/invoices", json!({"customer": cus, "currency": code}), "currency".into()),
            (
                "/v1/ledger/entries",
                json!({"currency": code, "description": "x",
                "postings": [{"account": "cash", "amount": 100}, {"account": "revenue", "amount": -100}]}),
                "currency".into(),
            ),
        ];
        for (path, body, param) in withdrawn {
            let (s, e) = app.post(path, body).await;
            assert_error(s, &e, 400, Some(&param));
            assert!(e["error"]["message"].as_str().unwrap().contains("withdrawn"), "{path}: {e}");
        }
        let mut body = session.clone();
        body["currency"] = json!(code);
        let (s, e) = app.post("/v1/checkout/sessions", body).await;
        assert_error(s, &e, 400, Some("currency"));
        let (s, e) = app.get(&format!("/v1/reports/revenue?base={code}")).await;
        assert_error(s, &e, 400, Some("base"));
    }
    // XAD, added to ISO 4217 in 2025, is a currency like any other.
    let (s, p) =
        app.post("/v1/plans/grow/prices", json!({"currency": "XAD", "interval": "month", "amount": 900})).await;
    assert_eq!((s, p["currency"].as_str()), (200, Some("XAD")), "{p}");
    assert_eq!(app.count("prices").await, 37);

    // A customer who chose BGN before it was withdrawn still reads as
    // stored, and is billed in the currency of their country.
    sqlx::query("UPDATE customers SET preferred_currency = 'BGN' WHERE id = $1")
        .bind(&cus)
        .execute(app.tdb.db.writer())
        .await
        .unwrap();
    let (s, c) = app.get(&format!("/v1/customers/{cus}")).await;
    assert_eq!((s, c["preferred_currency"].as_str()), (200, Some("BGN")), "{c}");
    let (s, sub) = app.post("/v1/subscriptions", json!({"customer": cus, "plan": "grow", "trial": false})).await;
    assert_eq!((s, sub["currency"].as_str()), (200, Some("EUR")), "{sub}");
    let (s, b) = app.get("/v1/ledger/balances?currency=BGN").await;
    assert_eq!(s, 200, "{b}");
}
