use crate::common::*;
use serde_json::{json, Value};

const ECB: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01" xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">
  <gesmes:subject>Reference rates</gesmes:subject>
  <Cube><Cube time='2026-11-20'>
    <Cube currency='USD' rate='1.0812'/><Cube currency='GBP' rate='0.8573'/><Cube currency='INR' rate='90.2345'/>
  </Cube></Cube>
</gesmes:Envelope>"#;

#[tokio::test]
async fn rates_from_an_ecb_file_and_revenue_in_a_base_currency() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("eurofxref-daily.xml");
    std::fs::write(&file, ECB).unwrap();
    let path = file.to_str().unwrap().to_string();
    let app = TestApp::spawn_with(move |c| c.fx_source = Some(path)).await;
    // The daily job fetches the rates on its own when today's are missing.
    let mut fetched = false;
    for _ in 0..100 {
        if app.get("/v1/fx_rates").await.0 == 200 {
            fetched = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(fetched, "the FX job did not fetch the configured source");
    let (s, r) = app.post("/v1/fx_rates/refresh", json!({})).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["date"], "2026-11-20");
    assert_eq!(r["per_eur_micro"]["USD"], 1_081_200);
    let (s, r) = app.get("/v1/fx_rates?date=2026-11-21").await;
    assert_eq!(s, 200);
    assert_eq!(r["per_eur_micro"]["GBP"], 857_300);
    let (s, b) = app.get("/v1/fx_rates?date=2026-11-19").await;
    assert_error(s, &b, 404, Some("date"));

    // Revenue in USD and EUR (no tax configured), reported in EUR.
    let doc: Value = serde_json::from_str(bursar_core::demo::DEMO_CATALOG).unwrap();
    app.post("/v1/catalog/import", doc).await;
    for country in ["US", "DE"] {
        let (_, c) = app.post("/v1/customers", json!({"country": country})).await;
        let (s, _) = app.post("/v1/subscriptions", json!({"customer": c["id"], "plan": "grow", "trial": false})).await;
        assert_eq!(s, 200);
    }
    let (s, rep) = app.get("/v1/reports/revenue?base=EUR").await;
    assert_eq!(s, 200, "{rep}");
    // DE pays 19.00 EUR incl. 19 % VAT: 15.97 EUR of revenue; 19.00 USD = 17.57 EUR.
    let lines: Vec<(String, i64, i64)> = rep["by_currency"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["currency"].as_str().unwrap().into(),
                l["amount"].as_i64().unwrap(),
                l["amount_in_base"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(lines, vec![("EUR".into(), 1597, 1597), ("USD".into(), 1900, 1757)]);
    assert_eq!(rep["total_in_base"], 1597 + 1757);
    let (s, b) = app.get("/v1/reports/revenue?base=RUB").await;
    assert_error(s, &b, 400, Some("base"));
}

#[tokio::test]
async fn missing_or_broken_sources_are_clear_errors() {
    let app = TestApp::spawn().await;
    let (s, b) = app.post("/v1/fx_rates/refresh", json!({})).await;
    assert_error(s, &b, 400, Some("fx_source"));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.xml");
    std::fs::write(&file, "<html>maintenance</html>").unwrap();
    let path = file.to_str().unwrap().to_string();
    let app = TestApp::spawn_with(move |c| c.fx_source = Some(path)).await;
    let (s, b) = app.post("/v1/fx_rates/refresh", json!({})).await;
    assert_error(s, &b, 502, None);
    assert_eq!(app.count("fx_rates").await, 0);
}
