//! Public hosted pages over HTTP: what decides the currency they show, and
//! how shared caches may keep them.

use crate::common::*;
use crate::marketplace::{course, instructor};
use serde_json::json;

#[tokio::test]
async fn prices_follow_the_visitors_country_when_a_cdn_names_it() {
    let app = TestApp::spawn_with(|c| {
        c.background_jobs = false;
        c.country_header = Some("CF-IPCountry".into());
    })
    .await;
    app.import_demo_catalog().await;
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

/// A first visit to the pricing page: the visitor id it set, and whether
/// it set the exposure cookie.
async fn visit(app: &TestApp, path: &str, ua: &str, cookie: &str) -> (Option<String>, bool, String) {
    let r = app.client.get(app.url(path)).header("user-agent", ua).header("cookie", cookie).send().await.unwrap();
    let set: Vec<String> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string())
        .collect();
    let vid = set.iter().find_map(|c| c.strip_prefix("bursar_vid=").map(str::to_string));
    let seen = set.iter().any(|c| c.starts_with("bursar_xp="));
    (vid, seen, r.text().await.unwrap())
}

#[tokio::test]
async fn the_pricing_experiment_counts_visitors_once_and_reports_clicks_and_goals() {
    const UA: &str = "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0";
    let app = TestApp::spawn_with(|c| {
        c.background_jobs = false;
        c.pricing_signup_url = Some("https://learn.example/signup".into());
    })
    .await;
    app.import_demo_catalog().await;

    let mut visitors = Vec::new();
    for _ in 0..30 {
        let (vid, seen, html) = visit(&app, "/pricing?mode=test", UA, "").await;
        let vid = vid.expect("a visitor id");
        assert!(seen, "the exposure is logged once, and remembered");
        let variant = bursar_server::pages::pricing::variant_for(&vid).key;
        let headline = if variant == "a" { "Choose your plan" } else { "Invest in your score" };
        assert!(html.contains(headline), "the page shows the visitor's variant");
        visitors.push((vid, variant));
    }
    assert_eq!(app.count("experiment_exposures").await, 30);
    // Returning, previewing and crawling visitors are not counted again.
    let (vid, _) = &visitors[0];
    let (again, seen, _) = visit(&app, "/pricing?mode=test", UA, &format!("bursar_vid={vid}; bursar_xp=t")).await;
    assert_eq!((again, seen), (None, false));
    visit(&app, "/pricing?mode=test&variant=b", UA, "").await;
    visit(&app, "/pricing?mode=test", "Googlebot/2.1 (+http://www.google.com/bot.html)", "").await;
    assert_eq!(app.count("experiment_exposures").await, 30);

    // The first ten click a plan's button (one of them twice): counted, and
    // handed on to the platform's sign-up with their id.
    for (vid, _) in &visitors[..10] {
        let r = app
            .client
            .get(app.url("/pricing/start?plan=grow&interval=month&currency=USD&mode=test"))
            .header("cookie", format!("bursar_vid={vid}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 303);
        assert_eq!(
            r.headers()["location"].to_str().unwrap(),
            format!("https://learn.example/signup?plan=grow&interval=month&currency=USD&visitor={vid}")
        );
    }
    let again = app
        .client
        .get(app.url("/pricing/start?plan=grow&interval=month&currency=USD&mode=test"))
        .header("cookie", format!("bursar_vid={}", visitors[0].0))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status().as_u16(), 303);
    let r = app.client.get(app.url("/pricing/start?plan=grow&interval=week&currency=USD")).send().await.unwrap();
    assert_eq!(r.headers()["location"], "/pricing", "a bad link goes back to the page");
    // The platform reports who subscribed; an unknown visitor is not counted.
    for (vid, _) in &visitors[..3] {
        let (s, b) =
            app.post("/v1/experiments/pricing_page/conversions", json!({"visitor": vid, "goal": "subscribed"})).await;
        assert_eq!((s, b["recorded"].as_bool()), (200, Some(true)), "{b}");
    }
    let (s, b) =
        app.post("/v1/experiments/pricing_page/conversions", json!({"visitor": "nobody", "goal": "subscribed"})).await;
    assert_eq!((s, b["recorded"].as_bool()), (200, Some(false)));
    let (s, b) =
        app.post("/v1/experiments/pricing_page/conversions", json!({"visitor": "x", "goal": "Sub scribed"})).await;
    assert_error(s, &b, 400, Some("goal"));
    let (s, b) = app.post("/v1/experiments/checkout_copy/conversions", json!({"visitor": "x", "goal": "paid"})).await;
    assert_error(s, &b, 404, Some("experiment"));

    // The results, per variant, as tallied here.
    let tally = |n: usize, v: &str| visitors[..n].iter().filter(|(_, x)| *x == v).count() as i64;
    let (s, r) = app.get("/v1/experiments/pricing_page/results").await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["goal"], "cta_click");
    for (i, v) in ["a", "b"].iter().enumerate() {
        let row = &r["variants"][i];
        assert_eq!(row["variant"], *v);
        assert_eq!(row["exposures"].as_i64(), Some(tally(30, v)), "{row}");
        assert_eq!(row["conversions"].as_i64(), Some(tally(10, v)), "{row}");
        let (lo, rate, hi) =
            (row["rate_low"].as_f64().unwrap(), row["rate"].as_f64().unwrap(), row["rate_high"].as_f64().unwrap());
        assert!(lo <= rate && rate <= hi, "{row}");
    }
    assert!(r["variants"][0]["p_value"].is_null() && r["variants"][1]["p_value"].is_number());
    assert!(r["sample_ratio"]["p_value"].as_f64().unwrap() > 0.0);
    assert_eq!(r["goals"], json!(["cta_click", "subscribed"]));
    let (_, r) = app.get("/v1/experiments/pricing_page/results?goal=subscribed").await;
    let subscribed: i64 = r["variants"].as_array().unwrap().iter().map(|v| v["conversions"].as_i64().unwrap()).sum();
    assert_eq!(subscribed, 3);
    // Live mode has its own experiment: nobody yet.
    let live = app.client.get(app.url("/v1/experiments/pricing_page/results")).bearer_auth(&app.live_key).send().await;
    let (_, live) = json(live.unwrap()).await;
    assert_eq!(live["variants"][0]["exposures"], 0);
}
