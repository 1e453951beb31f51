use crate::common::*;
use serde_json::{json, Value};

async fn app_in(origin: &str, state: Option<&str>) -> TestApp {
    let (o, st) = (origin.to_string(), state.map(str::to_string));
    let app = TestApp::spawn_with(move |c| {
        c.tax_origin_country = Some(o);
        c.tax_origin_state = st;
    })
    .await;
    let doc: Value = serde_json::from_str(bursar_core::demo::DEMO_CATALOG).unwrap();
    let (s, _) = app.post("/v1/catalog/import", doc).await;
    assert_eq!(s, 200);
    app
}

async fn first_invoice(app: &TestApp, customer: Value, plan: &str) -> Value {
    let (s, c) = app.post("/v1/customers", customer).await;
    assert_eq!(s, 200, "{c}");
    let (s, sub) = app.post("/v1/subscriptions", json!({"customer": c["id"], "plan": plan, "trial": false})).await;
    assert_eq!(s, 200, "{sub}");
    let (_, l) = app.get(&format!("/v1/invoices?customer={}", c["id"].as_str().unwrap())).await;
    l["data"][0].clone()
}

#[tokio::test]
async fn eu_b2c_vat_against_b2b_reverse_charge() {
    let app = app_in("DE", None).await;
    // A French consumer pays French VAT, included in the EUR price.
    let b2c = first_invoice(&app, json!({"country": "FR", "email": "c@example.fr"}), "grow").await;
    assert_eq!(b2c["currency"], "EUR");
    assert_eq!(
        (b2c["subtotal"].as_i64(), b2c["tax"].as_i64(), b2c["total"].as_i64()),
        (Some(1583), Some(317), Some(1900))
    );
    assert_eq!(b2c["tax_details"]["taxes"][0]["jurisdiction"], "FR");
    assert_eq!(b2c["tax_details"]["taxes"][0]["rate_bps"], 2000);
    // A French business with a valid VAT id: reverse charge, no VAT.
    let b2b = first_invoice(
        &app,
        json!({"country": "FR", "tax_ids": [{"type": "eu_vat", "value": "FR 40 303 265 045"}]}),
        "grow",
    )
    .await;
    assert_eq!(
        (b2b["subtotal"].as_i64(), b2b["tax"].as_i64(), b2b["total"].as_i64()),
        (Some(1900), Some(0), Some(1900))
    );
    assert_eq!(b2b["tax_details"]["reverse_charge"], true);
    assert!(b2b["tax_details"]["note"].as_str().unwrap().contains("FR40303265045"));
    assert_eq!(b2b["customer_details"]["tax_ids"][0]["value"], "FR 40 303 265 045");
    // A German business buying from a German seller pays German VAT.
    let domestic =
        first_invoice(&app, json!({"country": "DE", "tax_ids": [{"type": "eu_vat", "value": "DE136695976"}]}), "grow")
            .await;
    assert_eq!((domestic["subtotal"].as_i64(), domestic["tax"].as_i64()), (Some(1597), Some(303)));
    // UK consumers pay UK VAT on GBP prices.
    let uk = first_invoice(&app, json!({"country": "GB"}), "grow").await;
    assert_eq!(
        (uk["currency"].as_str(), uk["subtotal"].as_i64(), uk["tax"].as_i64()),
        (Some("GBP"), Some(1333), Some(267))
    );

    let (_, b) = app.get("/v1/ledger/balances?account=tax_payable").await;
    let got: Vec<(String, String, i64)> = b["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["account"].as_str().unwrap().into(),
                r["currency"].as_str().unwrap().into(),
                r["balance"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("tax_payable:DE".into(), "EUR".into(), 303),
            ("tax_payable:FR".into(), "EUR".into(), 317),
            ("tax_payable:GB".into(), "GBP".into(), 267)
        ]
    );
    app.verify_ledger().await;

    // The summary per jurisdiction, as JSON and as CSV.
    let (s, sum) = app.get("/v1/tax/summary?from=0&to=4102444800").await;
    assert_eq!(s, 200, "{sum}");
    let rows = sum["data"].as_array().unwrap();
    let fr = rows.iter().find(|r| r["jurisdiction"] == "FR" && r["tax"] == "VAT").unwrap();
    assert_eq!((fr["taxable"].as_i64(), fr["tax_amount"].as_i64()), (Some(1583), Some(317)));
    let rc = rows.iter().find(|r| r["tax"] == "reverse_charge").unwrap();
    assert_eq!((rc["jurisdiction"].as_str(), rc["taxable"].as_i64()), (Some("FR"), Some(1900)));
    let csv = app.req(reqwest::Method::GET, "/v1/tax/summary?from=0&to=4102444800&format=csv").send().await.unwrap();
    assert!(csv.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let text = csv.text().await.unwrap();
    assert!(text.starts_with("jurisdiction,tax,rate_bps,currency,invoices,taxable_minor,tax_minor\n"));
    assert!(text.contains("\"FR\",\"VAT\",2000,\"EUR\",1,1583,317"), "{text}");
    let (s, b) = app.get("/v1/tax/summary?from=10&to=5").await;
    assert_error(s, &b, 400, Some("to"));
}

#[tokio::test]
async fn india_gst_in_inr() {
    let app = app_in("IN", Some("KA")).await;
    // Another state: IGST 18 % included in ₹3,999.
    let igst =
        first_invoice(&app, json!({"country": "IN", "address": {"state": "MH", "country": "IN"}}), "scale").await;
    assert_eq!(igst["currency"], "INR");
    assert_eq!(
        (igst["subtotal"].as_i64(), igst["tax"].as_i64(), igst["total"].as_i64()),
        (Some(338_898), Some(61_002), Some(399_900))
    );
    assert_eq!(igst["tax_details"]["taxes"][0]["name"], "IGST");
    // Same state: CGST 9 % + SGST 9 %.
    let local =
        first_invoice(&app, json!({"country": "IN", "address": {"state": "KA", "country": "IN"}}), "scale").await;
    let taxes: Vec<(String, i64)> = local["tax_details"]["taxes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["name"].as_str().unwrap().into(), t["amount_minor"].as_i64().unwrap()))
        .collect();
    assert_eq!(taxes, vec![("CGST".into(), 30_501), ("SGST".into(), 30_501)]);
    app.verify_ledger().await;
}

#[tokio::test]
async fn invalid_vat_ids_are_refused() {
    let app = app_in("DE", None).await;
    for (t, v) in [("eu_vat", "FR40303265046"), ("eu_vat", "DE12345"), ("gb_vat", "GB123"), ("eu_vat", "GB980780684")] {
        let (s, b) = app.post("/v1/customers", json!({"country": "FR", "tax_ids": [{"type": t, "value": v}]})).await;
        assert_error(s, &b, 400, Some("tax_ids[0].value"));
    }
    assert_eq!(app.count("customers").await, 0);
}

/// Reverse charge needs a VAT id that is verified: its check digits match,
/// or the registry confirmed it. One that only matches its country's format
/// (a Latvian personal code starting with 32, whose check digit is not
/// published; a UK government department's number) is taxed as a consumer.
#[tokio::test]
async fn a_vat_id_that_only_matches_its_format_is_not_reverse_charged() {
    let app = app_in("DE", None).await;
    let format_only = first_invoice(
        &app,
        json!({"country": "LV", "tax_ids": [{"type": "eu_vat", "value": "LV32000000008"}]}),
        "grow",
    )
    .await;
    assert_eq!(format_only["tax_details"]["reverse_charge"], false, "{format_only}");
    assert_eq!(format_only["tax_details"]["taxes"][0]["jurisdiction"], "LV");
    assert!(format_only["tax"].as_i64().unwrap() > 0, "{format_only}");
    let checked = first_invoice(
        &app,
        json!({"country": "LV", "tax_ids": [{"type": "eu_vat", "value": "LV40003521600"}]}),
        "grow",
    )
    .await;
    assert_eq!((checked["tax_details"]["reverse_charge"].as_bool(), checked["tax"].as_i64()), (Some(true), Some(0)));
    let department =
        first_invoice(&app, json!({"country": "GB", "tax_ids": [{"type": "gb_vat", "value": "GBGD100"}]}), "grow")
            .await;
    assert_eq!(department["tax_details"]["reverse_charge"], false, "{department}");
    assert_eq!(department["tax_details"]["taxes"][0]["rate_bps"], 2000);
    app.verify_ledger().await;

    // Confirmed by the registry, the same Latvian id is reverse-charged.
    let asked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let url = fake_vies(asked.clone()).await;
    let app = TestApp::spawn_with(move |c| {
        c.vat_check = "vies".into();
        c.vies_url = url;
        c.tax_origin_country = Some("DE".into());
    })
    .await;
    let doc: Value = serde_json::from_str(bursar_core::demo::DEMO_CATALOG).unwrap();
    app.post("/v1/catalog/import", doc).await;
    let registered = first_invoice(
        &app,
        json!({"country": "LV", "tax_ids": [{"type": "eu_vat", "value": "LV32000000008"}]}),
        "grow",
    )
    .await;
    assert_eq!(
        (registered["tax_details"]["reverse_charge"].as_bool(), registered["tax"].as_i64()),
        (Some(true), Some(0))
    );
}

/// A local VIES: answers `check-vat-number` as the Commission's REST
/// service does, and records what it was asked.
async fn fake_vies(asked: std::sync::Arc<std::sync::Mutex<Vec<Value>>>) -> String {
    use axum::routing::post;
    let app = axum::Router::new().route(
        "/check-vat-number",
        post(move |axum::Json(q): axum::Json<Value>| {
            let asked = asked.clone();
            async move {
                asked.lock().unwrap().push(q.clone());
                let number = q["vatNumber"].as_str().unwrap_or("");
                let base = json!({"countryCode": q["countryCode"], "vatNumber": number, "requestDate": "2026-11-30T10:00:00.000Z"});
                let mut a = base.clone();
                match (q["countryCode"].as_str(), number) {
                    (Some("DE"), "123456788") => {
                        a["valid"] = json!(true);
                        a["name"] = json!("Lernwerk GmbH");
                        a["address"] = json!("Hauptstr. 1\n10115 Berlin");
                        a["requestIdentifier"] = json!("WAPIAAAAY2qS");
                    }
                    (Some("LV"), "32000000008") => a["valid"] = json!(true),
                    (Some("EL"), _) => {
                        a["valid"] = json!(true);
                        a["name"] = json!("---");
                        a["address"] = json!("---");
                    }
                    (Some("AT"), _) => {
                        a = json!({"actionSucceed": false, "errorWrappers": [{"error": "MS_UNAVAILABLE"}]});
                    }
                    _ => a["valid"] = json!(false),
                }
                axum::Json(a)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

#[tokio::test]
async fn vat_ids_are_checked_online_when_configured() {
    let asked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let url = fake_vies(asked.clone()).await;
    let app = TestApp::spawn_with(move |c| {
        c.vat_check = "vies".into();
        c.vies_url = url;
        c.tax_origin_country = Some("FR".into());
    })
    .await;
    let (s, c) = app
        .post("/v1/customers", json!({"country": "DE", "tax_ids": [{"type": "eu_vat", "value": "DE 123 456 788"}]}))
        .await;
    assert_eq!(s, 200, "{c}");
    let v = &c["tax_ids"][0]["verification"];
    assert_eq!((v["status"].as_str(), v["source"].as_str()), (Some("verified"), Some("vies")));
    assert_eq!(v["name"], "Lernwerk GmbH");
    assert_eq!(v["request_id"], "WAPIAAAAY2qS");
    assert_eq!(asked.lock().unwrap()[0], json!({"countryCode": "DE", "vatNumber": "123456788"}));
    // A verified business pays no VAT: reverse charge.
    let doc: Value = serde_json::from_str(bursar_core::demo::DEMO_CATALOG).unwrap();
    app.post("/v1/catalog/import", doc).await;
    let (s, sub) = app.post("/v1/subscriptions", json!({"customer": c["id"], "plan": "grow", "trial": false})).await;
    assert_eq!(s, 200, "{sub}");
    let (_, l) = app.get(&format!("/v1/invoices?customer={}", c["id"].as_str().unwrap())).await;
    assert_eq!(l["data"][0]["tax"], 0);
    assert_eq!(l["data"][0]["tax_details"]["reverse_charge"], true);

    // Well-formed but not registered: refused, nothing written.
    let before = app.count("customers").await;
    let (s, e) = app.post("/v1/customers", json!({"tax_ids": [{"type": "eu_vat", "value": "FR40303265045"}]})).await;
    assert_error(s, &e, 400, Some("tax_ids[0].value"));
    assert!(e["error"]["message"].as_str().unwrap().contains("not a registered VAT id"));
    assert_eq!(app.count("customers").await, before);
    // The same on update.
    let (s, e) = app
        .post(
            &format!("/v1/customers/{}", c["id"].as_str().unwrap()),
            json!({"tax_ids": [{"type": "eu_vat", "value": "FR40303265045"}]}),
        )
        .await;
    assert_error(s, &e, 400, Some("tax_ids[0].value"));
    // A registry that is down does not block: recorded as unavailable.
    let (s, c2) = app.post("/v1/customers", json!({"tax_ids": [{"type": "eu_vat", "value": "ATU13585627"}]})).await;
    assert_eq!(s, 200, "{c2}");
    assert_eq!(c2["tax_ids"][0]["verification"]["status"], "unavailable");
    // Greek ids go to VIES with the EL prefix; withheld details are dropped.
    let (s, c3) = app.post("/v1/customers", json!({"tax_ids": [{"type": "eu_vat", "value": "EL094259216"}]})).await;
    assert_eq!(s, 200, "{c3}");
    assert_eq!(c3["tax_ids"][0]["verification"]["status"], "verified");
    assert_eq!(c3["tax_ids"][0]["verification"].get("name"), None);
    assert_eq!(asked.lock().unwrap().last().unwrap()["countryCode"], "EL");
    // UK ids are not VIES's: unchecked, and VIES is not asked.
    let n = asked.lock().unwrap().len();
    let (s, c4) = app.post("/v1/customers", json!({"tax_ids": [{"type": "gb_vat", "value": "GB980780684"}]})).await;
    assert_eq!(s, 200, "{c4}");
    assert_eq!(c4["tax_ids"][0].get("verification"), None);
    assert_eq!(asked.lock().unwrap().len(), n);
    // A client cannot claim a verification itself.
    let (s, c5) = app
        .post(
            "/v1/customers",
            json!({"tax_ids": [{"type": "eu_vat", "value": "DE123456788",
            "verification": {"status": "verified", "source": "me", "checked_at": 1}}]}),
        )
        .await;
    assert_eq!(s, 200, "{c5}");
    assert_eq!(c5["tax_ids"][0]["verification"]["source"], "vies");
}

#[tokio::test]
async fn a_change_preview_shows_the_tax_that_is_charged() {
    let app = app_in("DE", None).await;
    let (_, clock) = app.post("/v1/test_clocks", json!({"frozen_time": 1_767_225_600})).await;
    // An Indian consumer in Karnataka: GST is added to the INR price.
    let (s, c) = app
        .post(
            "/v1/customers",
            json!({"country": "IN", "address": {"state": "KA", "country": "IN"}, "test_clock": clock["id"]}),
        )
        .await;
    assert_eq!(s, 200, "{c}");
    let (s, sub) = app.post("/v1/subscriptions", json!({"customer": c["id"], "plan": "grow", "trial": false})).await;
    assert_eq!(s, 200, "{sub}");
    let id = sub["id"].as_str().unwrap();
    app.post(
        &format!("/v1/test_clocks/{}/advance", clock["id"].as_str().unwrap()),
        json!({"frozen_time": 1_767_225_600 + 10 * 86_400}),
    )
    .await;
    let (s, p) = app.post(&format!("/v1/subscriptions/{id}/preview_change"), json!({"plan": "scale"})).await;
    assert_eq!(s, 200, "{p}");
    assert!(p["tax"].as_i64().unwrap() > 0, "{p}");
    let (s, ch) = app.post(&format!("/v1/subscriptions/{id}/change"), json!({"plan": "scale"})).await;
    assert_eq!(s, 200, "{ch}");
    let inv = &ch["invoice"];
    assert_eq!(
        (p["subtotal"].clone(), p["tax"].clone(), p["total"].clone(), p["amount_due"].clone()),
        (inv["subtotal"].clone(), inv["tax"].clone(), inv["total"].clone(), inv["amount_paid"].clone())
    );
    app.verify_ledger().await;
}
