//! Public hosted pages over HTTP: what decides the currency they show, and
//! how shared caches may keep them.

use crate::common::*;
use crate::marketplace::{course, instructor};
use serde_json::Value;

#[tokio::test]
async fn prices_follow_the_visitors_country_when_a_cdn_names_it() {
    let app = TestApp::spawn_with(|c| {
        c.background_jobs = false;
        c.country_header = Some("CF-IPCountry".into());
    })
    .await;
    let doc: Value = serde_json::from_str(bursar_server::demo::DEMO_CATALOG).unwrap();
    assert_eq!(app.post("/v1/catalog/import", doc).await.0, 200);
    let ana = instructor(&app, "u-ana", "standard").await;
    let rust = course(&app, &ana, "Rust for Data", 4_999).await;
    let get = |path: String, country: &'static str| {
        let req = app.client.get(app.url(&path)).header("accept-language", "en-US");
        let req = if country.is_empty() { req } else { req.header("cf-ipcountry", country) };
        async move {
            let r = req.send().await.unwrap();
            let vary = r.headers().get("vary").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
            (vary, r.text().await.unwrap())
        }
    };
    // An English browser in India sees rupees; in Germany, euros; with no
    // country (or an unknown one), the language's dollars.
    let (_, html) = get("/pricing?mode=test&interval=month".into(), "IN").await;
    assert!(html.contains('₹') && !html.contains("$19.00"), "{html}");
    let (_, html) = get("/pricing?mode=test&interval=month".into(), "").await;
    assert!(html.contains("$19.00"));
    let (_, html) = get("/pricing?mode=test&interval=month".into(), "XX").await;
    assert!(html.contains("$19.00"), "XX is no country");
    // An explicit choice wins.
    let (_, html) = get("/pricing?mode=test&interval=month&currency=USD".into(), "IN").await;
    assert!(html.contains("$19.00"));
    let (vary, html) = get(format!("/courses/{rust}?mode=test"), "DE").await;
    assert!(html.contains("€49.99") && html.contains("name=\"currency\" value=\"EUR\""), "{html}");
    assert_eq!(vary, "Accept-Language, CF-IPCountry", "shared caches keep a copy per language and country");
    let (_, html) = get(format!("/courses/{rust}?mode=test"), "US").await;
    assert!(html.contains("$54.99"));
    // A country whose currency the course is not sold in: the language's.
    let (_, html) = get("/courses?mode=test".into(), "JP").await;
    assert!(html.contains("$54.99"), "{html}");
}
