//! The hosted pages in a real browser: Debian's headless Chromium, driven
//! through chromedriver (WebDriver). `scripts/test` installs both when they
//! are missing. Screenshots go to `target/browser-artifacts/`.

use crate::common::*;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

/// One chromedriver for the whole test binary; each test opens its own
/// browser session.
struct Driver {
    url: String,
    _child: Child,
}

static DRIVER: OnceLock<Driver> = OnceLock::new();

fn driver() -> &'static str {
    &DRIVER
        .get_or_init(|| {
            let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
            let bin = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
            let child = Command::new(&bin)
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| {
                    panic!(
                        "cannot start `{bin}` ({e}): install Debian's chromium and chromium-driver (scripts/test does)"
                    )
                });
            let url = format!("http://127.0.0.1:{port}");
            for _ in 0..100 {
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Driver { url, _child: child }
        })
        .url
}

/// A desktop browser window of this size.
async fn browser(width: u32, height: u32) -> Client {
    let c = session().await;
    c.set_window_size(width, height).await.unwrap();
    c
}

async fn session() -> Client {
    let mut caps = serde_json::Map::new();
    let chrome = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let opts = json!({"binary": chrome, "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
        "--disable-dev-shm-usage", "--lang=en-US"]});
    caps.insert("goog:chromeOptions".into(), opts);
    let mut last = None;
    // chromedriver may still be starting for the first test.
    for _ in 0..20 {
        match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps.clone())
            .connect(driver())
            .await
        {
            Ok(c) => return c,
            Err(e) => last = Some(e.to_string()),
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    panic!("no browser session: {last:?}");
}

/// Saves what the browser shows, as a test artifact.
async fn screenshot(c: &Client, name: &str) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/browser-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    let png = c.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
    std::fs::write(dir.join(format!("{name}-{}.png", backend_name())), png).unwrap();
}

fn backend_name() -> &'static str {
    match backend() {
        bursar_store::Backend::Sqlite => "sqlite",
        bursar_store::Backend::Postgres => "postgres",
    }
}

/// Clicks what navigates (a link, a form's button) and waits for the next
/// page to load.
async fn click_to_next_page(c: &Client, css: &str) {
    let before = c.current_url().await.unwrap();
    c.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}")).click().await.unwrap();
    for _ in 0..200 {
        let now = c.current_url().await.unwrap();
        let ready = c.execute("return document.readyState", vec![]).await.unwrap();
        if now != before && ready == "complete" {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("clicking {css} on {before} led nowhere");
}

async fn text(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}")).text().await.unwrap()
}

#[tokio::test]
async fn the_pricing_page_switches_interval_currency_and_fits_a_phone() {
    let app = TestApp::spawn_with(|c| {
        c.background_jobs = false;
        c.pricing_signup_url = Some("https://learn.example/signup".into());
        c.pricing_testimonials = vec![bursar_core::config::Testimonial {
            quote: "I gained 90 points.".into(),
            name: "Priya".into(),
            role: "GMAT 710".into(),
        }];
    })
    .await;
    app.import_demo_catalog().await;
    let c = browser(1280, 900).await;
    c.goto(&app.url("/pricing?mode=test&variant=a&locale=en-US")).await.unwrap();
    assert_eq!(text(&c, "h1").await, "Choose your plan");
    // Monthly in dollars: Grow at $19.00, with its trial as the call to action.
    let grow = "article[data-plan='grow']";
    assert_eq!(text(&c, &format!("{grow} [data-price]")).await, "$19.00 per month");
    let cta = c.find(Locator::Css(&format!("{grow} [data-cta]"))).await.unwrap();
    assert!(cta.text().await.unwrap().starts_with("Start 14-day free trial"));
    assert_eq!(
        cta.attr("href").await.unwrap().as_deref(),
        Some("/pricing/start?plan=grow&interval=month&currency=USD&mode=test")
    );
    assert!(text(&c, "table").await.contains("Unlimited"), "the comparison table");
    assert!(text(&c, "blockquote").await.contains("Priya"));
    screenshot(&c, "pricing-monthly-usd").await;
    // Yearly: the year's price and what it saves.
    click_to_next_page(&c, "a[data-interval-link]:nth-child(2)").await;
    assert_eq!(text(&c, &format!("{grow} [data-price]")).await, "$190.00 per year");
    assert!(text(&c, &format!("{grow} .note")).await.contains("save 16 %"));
    // The currency and language switcher: euros, written the German way.
    c.find(Locator::Css("#currency")).await.unwrap().select_by_value("EUR").await.unwrap();
    c.find(Locator::Css("#locale")).await.unwrap().select_by_value("de-DE").await.unwrap();
    click_to_next_page(&c, "form.switch button").await;
    assert_eq!(text(&c, &format!("{grow} [data-price]")).await, "190,00 € per year");
    assert_eq!(text(&c, &format!("{grow} .tax")).await, "Tax included");
    assert_eq!(text(&c, "h1").await, "Choose your plan", "the previewed variant stays");
    let lang = c.find(Locator::Css("html")).await.unwrap().attr("lang").await.unwrap();
    assert_eq!(lang.as_deref(), Some("de-DE"));
    screenshot(&c, "pricing-yearly-eur").await;
    // Variant b defaults to yearly and changes the copy.
    c.goto(&app.url("/pricing?mode=test&variant=b&locale=en-US")).await.unwrap();
    assert_eq!(text(&c, "h1").await, "Invest in your score");
    assert_eq!(text(&c, &format!("{grow} [data-price]")).await, "$190.00 per year");
    c.close().await.unwrap();

    // A phone's width (headless Chromium opens no window narrower than
    // 500 px): one column, nothing wider than the screen.
    let phone = browser(390, 844).await;
    phone.goto(&app.url("/pricing?mode=test&variant=a")).await.unwrap();
    let widths = phone
        .execute(
            "return [document.documentElement.scrollWidth, window.innerWidth, \
             document.querySelectorAll('article.plan')[1].getBoundingClientRect().top \
             > document.querySelectorAll('article.plan')[0].getBoundingClientRect().bottom];",
            vec![],
        )
        .await
        .unwrap();
    assert!(widths[1].as_i64().unwrap() <= 500, "a phone's width: {widths}");
    let wide = phone
        .execute(
            "return Array.from(document.querySelectorAll('body *')).filter(e => !e.closest('.table-wrap table') && e.getBoundingClientRect().right > \
             window.innerWidth + 0.5).map(e => e.tagName + '.' + e.className).slice(0, 5);",
            vec![],
        )
        .await
        .unwrap();
    assert!(widths[0].as_i64() <= widths[1].as_i64(), "no sideways scrolling: {widths}; too wide: {wide}");
    assert_eq!(widths[2], true, "plans stack in one column: {widths}");
    screenshot(&phone, "pricing-phone").await;
    phone.close().await.unwrap();
}

#[tokio::test]
async fn a_learner_buys_grow_with_the_sandbox_card_after_a_declined_one() {
    let app = TestApp::spawn_with(|c| c.background_jobs = false).await;
    app.import_demo_catalog().await;
    let (_, cus) = app.post("/v1/customers", json!({"country": "US", "email": "sam@example.com"})).await;
    let cus = cus["id"].as_str().unwrap().to_string();
    // The platform opens the checkout, with Bursar's own receipt and
    // "left" pages, and sends the learner to it.
    let (s, cs) =
        app.post("/v1/checkout/sessions", json!({"customer": cus, "mode": "subscription", "plan": "grow"})).await;
    assert_eq!(s, 201, "{cs}");
    let c = browser(1280, 900).await;
    c.goto(cs["url"].as_str().unwrap()).await.unwrap();
    assert!(text(&c, "main").await.contains("$19.00"));
    screenshot(&c, "checkout-grow").await;
    click_to_next_page(&c, "form[action$='/pay'] button").await;
    // The sandbox's card page: a declined card first.
    c.find(Locator::Css("input[value=pm_card_chargeDeclined]")).await.unwrap().click().await.unwrap();
    click_to_next_page(&c, "form button[type=submit]").await;
    let alert = text(&c, "[role=alert]").await;
    assert!(alert.contains("declined"), "a clear error: {alert}");
    screenshot(&c, "checkout-declined").await;
    // Pay again with a good card: the receipt page, with the invoice.
    click_to_next_page(&c, "form[action$='/pay'] button").await;
    c.find(Locator::Css("input[value=pm_card_visa]")).await.unwrap().click().await.unwrap();
    click_to_next_page(&c, "form button[type=submit]").await;
    let url = c.current_url().await.unwrap();
    let id = cs["id"].as_str().unwrap();
    assert!(url.as_str().contains(&format!("/checkout/{id}/thanks?session_id={id}")), "{url}");
    let (_, cs) = app.get(&format!("/v1/checkout/sessions/{id}")).await;
    assert_eq!(cs["status"], "complete");
    let inv = cs["invoice"].as_str().unwrap();
    let (_, i) = app.get(&format!("/v1/invoices/{inv}")).await;
    assert_eq!((i["status"].as_str(), i["total"].as_i64()), (Some("paid"), Some(1_900)));
    assert_eq!(text(&c, "h1").await, "You're subscribed");
    let receipt = text(&c, "main").await;
    assert!(receipt.contains("Paid") && receipt.contains("$19.00"), "{receipt}");
    assert!(receipt.contains(i["number"].as_str().unwrap()), "the invoice number: {receipt}");
    screenshot(&c, "checkout-receipt").await;
    c.close().await.unwrap();
    // The invoice's PDF is there for the platform to show.
    let pdf = app.req(reqwest::Method::GET, &format!("/v1/invoices/{inv}/pdf")).send().await.unwrap();
    assert_eq!(pdf.headers()["content-type"], "application/pdf");
}

/// "$12.34" for minor units of USD, as the pages write it in en-US.
fn usd(minor: i64) -> String {
    format!("${}.{:02}", minor / 100, minor % 100)
}

#[tokio::test]
async fn in_the_billing_portal_a_learner_upgrades_at_the_previewed_price_then_takes_the_pause_offer() {
    let app = TestApp::spawn_with(|c| c.background_jobs = false).await;
    app.import_demo_catalog().await;
    const JAN_1: i64 = 1_767_225_600;
    let (_, clock) = app.post("/v1/test_clocks", json!({"frozen_time": JAN_1})).await;
    let clock = clock["id"].as_str().unwrap().to_string();
    let (_, cus) = app
        .post("/v1/customers", json!({"email": "sam@example.com", "name": "Sam", "country": "US", "test_clock": clock}))
        .await;
    let cus = cus["id"].as_str().unwrap().to_string();
    let (s, sub) = app.post("/v1/subscriptions", json!({"customer": cus, "plan": "grow", "trial": false})).await;
    assert_eq!(s, 200, "{sub}");
    let sub = sub["id"].as_str().unwrap().to_string();
    let (s, _) =
        app.post(&format!("/v1/test_clocks/{clock}/advance"), json!({"frozen_time": JAN_1 + 10 * 86_400})).await;
    assert_eq!(s, 200);
    // The platform signs Sam in to the portal.
    let (s, ps) =
        app.post("/v1/portal_sessions", json!({"customer": cus, "return_url": "https://learn.example/account"})).await;
    assert_eq!(s, 201, "{ps}");
    let path = ps["url"].as_str().unwrap().split_once("/portal/").map(|(_, t)| format!("/portal/{t}")).unwrap();
    let c = browser(1280, 900).await;
    c.goto(&app.url(&path)).await.unwrap();
    assert!(c.current_url().await.unwrap().as_str().ends_with("/portal"), "the token leaves the address bar");
    assert_eq!(text(&c, "[data-plan-name]").await, "Grow");
    assert_eq!(c.find_all(Locator::Css("tr[data-invoice]")).await.unwrap().len(), 1, "the first invoice");
    assert!(text(&c, "main").await.contains("Renews on"));
    screenshot(&c, "portal-home").await;

    // Upgrade to Scale: the page shows what is due now; that is what is charged.
    click_to_next_page(&c, "a[data-change='scale']").await;
    let due = text(&c, "[data-amount-due]").await;
    screenshot(&c, "portal-upgrade-preview").await;
    click_to_next_page(&c, "form[action='/portal/change'] button[type=submit]").await;
    assert!(text(&c, "[role=status]").await.contains("Your plan has changed"));
    assert_eq!(text(&c, "[data-plan-name]").await, "Scale");
    let (_, invs) = app.get(&format!("/v1/invoices?subscription={sub}")).await;
    let proration = invs["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["billing_reason"] == "subscription_update")
        .cloned()
        .expect("a proration invoice");
    assert_eq!(proration["status"], "paid", "{proration}");
    assert_eq!(due, usd(proration["amount_paid"].as_i64().unwrap()), "charged what the preview showed");
    assert!(proration["amount_paid"].as_i64().unwrap() > 0);
    assert_eq!(c.find_all(Locator::Css("tr[data-invoice]")).await.unwrap().len(), 2);

    // Cancel because of the price: the pause offer comes first, and Sam takes it.
    click_to_next_page(&c, "a[data-cancel]").await;
    c.find(Locator::Css("input[value=too_expensive]")).await.unwrap().click().await.unwrap();
    c.find(Locator::Css("#comments")).await.unwrap().send_keys("Exams are over for now.").await.unwrap();
    click_to_next_page(&c, "form[action='/portal/cancel'] button[type=submit]").await;
    assert!(text(&c, "[data-offer]").await.contains("pause"));
    screenshot(&c, "portal-pause-offer").await;
    c.find(Locator::Css("input[name=months][value='1']")).await.unwrap().click().await.unwrap();
    click_to_next_page(&c, "form[action='/portal/pause'] button[type=submit]").await;
    assert!(text(&c, "[role=status]").await.contains("paused"));
    assert!(text(&c, "[data-renews]").await.starts_with("Paused until"));
    screenshot(&c, "portal-paused").await;
    c.close().await.unwrap();
    let (_, s) = app.get(&format!("/v1/subscriptions/{sub}")).await;
    assert_eq!((s["status"].as_str(), s["cancel_at_period_end"].as_bool()), (Some("paused"), Some(false)), "{s}");
    let feedback: (String, Option<String>, String) =
        sqlx::query_as("SELECT reason, comments, outcome FROM cancellation_feedback")
            .fetch_one(app.tdb.db.reader())
            .await
            .unwrap();
    assert_eq!(feedback, ("too_expensive".into(), Some("Exams are over for now.".into()), "offer".into()));

    // Without the session cookie, or with a forged form, nothing happens.
    let r = app.client.get(app.url("/portal")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let r = app.client.get(app.url("/portal/enter/bps_nope")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    app.verify_ledger().await;
}

#[tokio::test]
async fn bad_portal_session_requests_are_refused() {
    let app = TestApp::spawn().await;
    let (s, e) = app.post("/v1/portal_sessions", json!({"customer": "cus_nothere"})).await;
    assert_error(s, &e, 404, Some("customer"));
    let (_, cus) = app.post("/v1/customers", json!({"country": "US"})).await;
    let (s, e) =
        app.post("/v1/portal_sessions", json!({"customer": cus["id"], "return_url": "javascript:alert(1)"})).await;
    assert_error(s, &e, 400, Some("return_url"));
    let (s, e) = app.post("/v1/portal_sessions", json!({"customer": cus["id"], "theme": "dark"})).await;
    assert_error(s, &e, 400, None);
    assert_eq!(app.count("portal_sessions").await, 0);
    // A session's link works for its customer only, and only in its mode.
    let (s, ps) = app.post("/v1/portal_sessions", json!({"customer": cus["id"]})).await;
    assert_eq!(s, 201, "{ps}");
    assert!(ps["url"].as_str().unwrap().contains("/portal/enter/bps_"));
    let live = app
        .client
        .post(app.url("/v1/portal_sessions"))
        .bearer_auth(&app.live_key)
        .json(&json!({"customer": cus["id"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status().as_u16(), 404, "a test customer is not a live one");
}

/// A staff member (`stf_1`), signed in to the console through its sign-in
/// page in a new browser.
async fn staff_browser(app: &TestApp) -> Client {
    app.add_staff().await;
    let c = browser(1280, 900).await;
    c.goto(&app.url("/staff")).await.unwrap();
    assert!(c.current_url().await.unwrap().as_str().ends_with("/staff/login"));
    c.find(Locator::Css("input[name=email]")).await.unwrap().send_keys("ops@example.com").await.unwrap();
    c.find(Locator::Css("input[name=password]")).await.unwrap().send_keys("correct horse battery").await.unwrap();
    click_to_next_page(&c, "form button[type=submit]").await;
    c
}

#[tokio::test]
async fn staff_find_a_customer_and_refund_part_of_an_invoice_which_the_audit_log_records() {
    let app = TestApp::spawn_with(|c| c.background_jobs = false).await;
    app.import_demo_catalog().await;
    let (_, cus) = app.post("/v1/customers", json!({"email": "sam@example.com", "name": "Sam", "country": "US"})).await;
    let cus = cus["id"].as_str().unwrap().to_string();
    let (s, _) = app.post("/v1/subscriptions", json!({"customer": cus, "plan": "scale", "trial": false})).await;
    assert_eq!(s, 200);
    let (_, invs) = app.get(&format!("/v1/invoices?customer={cus}")).await;
    let inv = invs["data"][0]["id"].as_str().unwrap().to_string();

    let c = staff_browser(&app).await;
    click_to_next_page(&c, "nav a[href^='/staff/customers']").await;
    c.find(Locator::Css("#q")).await.unwrap().send_keys("sam@example.com").await.unwrap();
    click_to_next_page(&c, "form.search button").await;
    click_to_next_page(&c, &format!("a[href^='/staff/customers/{cus}']")).await;
    click_to_next_page(&c, &format!("a[href^='/staff/invoices/{inv}']")).await;
    assert_eq!(text(&c, "[data-status]").await, "paid");
    // A bad amount is explained and refunds nothing.
    c.find(Locator::Css("#amount")).await.unwrap().send_keys("12,50").await.unwrap();
    click_to_next_page(&c, "form[action$='/refund'] button").await;
    assert!(text(&c, "[role=alert]").await.contains("like 12.50"));
    assert_eq!(c.find_all(Locator::Css("tr[data-credit-note]")).await.unwrap().len(), 0);
    // $12.50 back to the card.
    c.find(Locator::Css("#amount")).await.unwrap().send_keys("12.50").await.unwrap();
    c.find(Locator::Css("#reason")).await.unwrap().send_keys("Billing mistake").await.unwrap();
    click_to_next_page(&c, "form[action$='/refund'] button").await;
    assert!(text(&c, "[role=status]").await.contains("Refunded"));
    assert_eq!(text(&c, "[data-credited]").await, "$12.50");
    assert_eq!(c.find_all(Locator::Css("tr[data-credit-note]")).await.unwrap().len(), 1);
    screenshot(&c, "staff-refund").await;
    click_to_next_page(&c, "nav a[href^='/staff/audit']").await;
    let audit = text(&c, "tr[data-audit='invoice.refunded']").await;
    assert!(audit.contains("stf_1") && audit.contains(&inv), "{audit}");
    c.close().await.unwrap();
    let (_, i) = app.get(&format!("/v1/invoices/{inv}")).await;
    assert_eq!(i["amount_credited"].as_i64(), Some(1_250));
    assert_eq!(i["credit_notes"][0]["reason"], "Billing mistake");
    app.verify_ledger().await;
}

#[tokio::test]
async fn an_upgrade_prompt_names_the_limit_and_the_plan_and_opens_the_portal_on_its_preview() {
    let app = TestApp::spawn_with(|c| {
        c.background_jobs = false;
        c.embed_frame_ancestors = vec!["https://learn.example".into()];
    })
    .await;
    app.import_demo_catalog().await;
    let (s, m) = app
        .post("/v1/metrics", json!({"code": "tests", "name": "Practice tests", "limit_key": "tests_per_month"}))
        .await;
    assert_eq!(s, 200, "{m}");
    let (_, cus) = app.post("/v1/customers", json!({"country": "US"})).await;
    let cus = cus["id"].as_str().unwrap().to_string();
    let (s, sub) = app.post("/v1/subscriptions", json!({"customer": cus, "plan": "starter"})).await;
    assert_eq!(s, 200, "{sub}");
    for _ in 0..3 {
        let (s, c) = app.post("/v1/entitlements/consume", json!({"customer": cus, "metric": "tests"})).await;
        assert_eq!((s, c["consumed"].as_bool()), (200, Some(true)), "{c}");
    }
    let (s, e) = app.post("/v1/upgrade_prompts", json!({"customer": cus, "metric": "nope"})).await;
    assert_error(s, &e, 400, Some("metric"));
    let (s, e) = app.post("/v1/upgrade_prompts", json!({"customer": cus})).await;
    assert_error(s, &e, 400, Some("metric"));
    let (s, p) = app.post("/v1/upgrade_prompts", json!({"customer": cus, "metric": "tests"})).await;
    assert_eq!(s, 201, "{p}");
    assert!(p["snippet"].as_str().unwrap().starts_with("<iframe src=\""), "{p}");
    // The framed page: only the platform's site may frame it.
    let url = p["url"].as_str().unwrap();
    let path = &url[url.find("/embed/").unwrap()..];
    let no_redirects = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let r = no_redirects.get(app.url(path)).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["content-security-policy"], "frame-ancestors https://learn.example");
    assert!(r.headers().get("x-frame-options").is_none());
    let html = r.text().await.unwrap();
    assert!(html.contains("reached your plan"), "{html}");
    assert!(html.contains("Practice tests: 3 of 3 used. Grow gives you unlimited."), "{html}");
    // Its button signs the learner in to the portal, on the change to Grow.
    let href = html.split("href=\"").nth(1).unwrap().split('"').next().unwrap().replace("&amp;", "&");
    assert!(href.contains("next=/portal/change"), "{href}");
    let r = no_redirects.get(app.url(&href)).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 303);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    let to = r.headers()["location"].to_str().unwrap().to_string();
    assert!(to.starts_with("/portal/change?subscription="), "{to}");
    let r = no_redirects.get(app.url(&to)).header("cookie", cookie).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let page = r.text().await.unwrap();
    assert!(page.contains("Switch from Starter to Grow") && page.contains("Due now"), "{page}");
    // A landing outside the portal is refused, never followed, and signs
    // no one in; a portal page is written out in one canonical form.
    let token = path.split('/').nth(3).unwrap().split('?').next().unwrap();
    let enter = |next: &str| no_redirects.get(app.url(&format!("/portal/enter/{token}?next={next}"))).send();
    for next in [
        "//evil.example/",
        "https://evil.example/portal",
        "/portalx",
        "/portal/../x",
        "/portal/%2e%2e/x",
        "/portal/%252e%252e/x",
        "/portal/.%252E/x",
        "/portal//evil.example",
        "/portal%5Cevil",
        "/portal/%255c%255cevil",
        "/portal%0D%0ASet-Cookie:%20a=b",
        "/portal/change%09",
        "/portal/change%23top",
        "/portal/%25zz",
    ] {
        let r = enter(next).await.unwrap();
        assert_eq!(r.status().as_u16(), 400, "{next}");
        assert!(r.headers().get("location").is_none() && r.headers().get("set-cookie").is_none(), "{next}");
    }
    for (next, want) in [("", "/portal"), ("/portal/", "/portal"), ("/portal/caf%C3%A9", "/portal/caf%C3%A9")] {
        let r = enter(next).await.unwrap();
        assert_eq!((r.status().as_u16(), r.headers()["location"].to_str().unwrap()), (303, want), "{next}");
    }
}

#[tokio::test]
async fn course_pages_list_search_and_describe_courses_for_people_and_search_engines() {
    use crate::marketplace::{buy, course, instructor, learner, T0};
    let app = TestApp::spawn_with(|c| c.background_jobs = false).await;
    let ana = instructor(&app, "u-ana", "standard").await;
    let rust = course(&app, &ana, "Rust for Data", 4_999).await;
    let sql = course(&app, &ana, "SQL Mastery", 2_999).await;
    let (_, draft) =
        app.post("/v1/courses", json!({"instructor": ana, "title": "Unfinished", "prices": {"EUR": 100}})).await;
    let draft = draft["id"].as_str().unwrap().to_string();
    let (_, clock) = app.post("/v1/test_clocks", json!({"frozen_time": T0})).await;
    let lea = learner(&app, clock["id"].as_str().unwrap(), "lea@example.fr").await;
    let (_, cart) = app.post("/v1/carts", json!({"customer": lea, "items": [rust]})).await;
    buy(&app, &cart).await;
    let (s, r) = app
        .post(
            &format!("/v1/courses/{rust}/reviews"),
            json!({"customer": lea, "rating": 4, "title": "Clear", "body": "Good </script> examples"}),
        )
        .await;
    assert_eq!(s, 201, "{r}");

    let get = |path: String| {
        let c = app.client.clone();
        let url = app.url(&path);
        async move {
            let r = c.get(url).header("accept-language", "fr-FR").send().await.unwrap();
            (r.status().as_u16(), r.headers().clone(), r.text().await.unwrap())
        }
    };
    // The listing: published courses only, searchable, prices in the visitor's currency.
    let (s, _, html) = get("/courses?mode=test".into()).await;
    assert_eq!(s, 200);
    assert!(html.contains("Rust for Data") && html.contains("SQL Mastery") && !html.contains("Unfinished"));
    assert!(html.contains("49,99\u{a0}€"), "euros, written the French way");
    let (_, _, html) = get("/courses?mode=test&q=sql".into()).await;
    assert!(html.contains("SQL Mastery") && !html.contains("Rust for Data"), "{html}");
    let (s, _, html) = get("/courses?mode=test&sort=sideways".into()).await;
    assert_eq!(s, 400);
    assert!(html.contains("role=\"alert\""));
    // A course: meta tags, Open Graph, and schema.org Course data.
    let (s, _, html) = get(format!("/courses/{rust}?mode=test")).await;
    assert_eq!(s, 200);
    assert!(html.contains("<meta property=\"og:title\" content=\"Rust for Data\">"), "{html}");
    assert!(html.contains(&format!("/courses/{rust}\">")), "canonical URL");
    let review = html.split("data-review>").nth(1).unwrap_or_default();
    assert!(review.contains("examples") && !review.contains("</script>"), "the review, escaped: {review}");
    let ld = html.split("<script type=\"application/ld+json\">").nth(1).unwrap().split("</script>").next().unwrap();
    let ld: Value = serde_json::from_str(ld).expect("JSON-LD that parses, closed only by its own tag");
    assert_eq!((ld["@type"].as_str(), ld["name"].as_str()), (Some("Course"), Some("Rust for Data")));
    assert_eq!(ld["offers"]["price"], "49.99");
    assert_eq!(ld["offers"]["priceCurrency"], "EUR");
    assert_eq!(ld["aggregateRating"]["ratingCount"], 1);
    let (s, _, _) = get(format!("/courses/{draft}?mode=test")).await;
    assert_eq!(s, 404, "an unpublished course has no page");
    let (s, _, _) = get("/courses/crs_nothere?mode=test".into()).await;
    assert_eq!(s, 404);
    // The sitemap lists the catalog, the pricing page and each published course.
    let (s, headers, xml) = get("/sitemap.xml?mode=test".into()).await;
    assert_eq!(s, 200);
    assert!(headers["content-type"].to_str().unwrap().starts_with("application/xml"));
    assert!(
        xml.contains(&format!("/courses/{rust}?mode=test</loc>")) && xml.contains(&format!("/courses/{sql}?mode=test"))
    );
    assert!(!xml.contains(&draft));
    assert_eq!(xml.matches("<url>").count(), 4);
    // And in a browser, at a phone's width.
    let c = browser(390, 844).await;
    c.goto(&app.url("/courses?mode=test")).await.unwrap();
    click_to_next_page(&c, &format!("article[data-course='{sql}'] a")).await;
    assert_eq!(text(&c, "h1").await, "SQL Mastery");
    screenshot(&c, "course-page-phone").await;
    c.close().await.unwrap();
}

#[tokio::test]
async fn staff_see_a_failed_webhook_delivery_and_replay_it() {
    use std::sync::atomic::{AtomicU16, Ordering};
    use std::sync::Arc;
    let app = TestApp::spawn_with(|c| {
        c.background_jobs = false;
        c.webhook_allow_private_urls = true;
    })
    .await;
    // The platform's receiver is down at first.
    let answer = Arc::new(AtomicU16::new(500));
    let a = answer.clone();
    let receiver = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            let a = a.clone();
            async move { axum::http::StatusCode::from_u16(a.load(Ordering::SeqCst)).unwrap() }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, receiver).await.unwrap() });
    let (s, ep) = app
        .post(
            "/v1/webhook_endpoints",
            json!({"url": format!("http://127.0.0.1:{port}/hook"), "enabled_events": ["customer.created"]}),
        )
        .await;
    assert_eq!(s, 200, "{ep}");
    let ep = ep["id"].as_str().unwrap().to_string();
    app.post("/v1/customers", json!({"email": "sam@example.com"})).await;
    bursar_core::webhooks_out::run(&app.state).await.unwrap();
    let (_, ds) = app.get(&format!("/v1/webhook_endpoints/{ep}/deliveries")).await;
    assert_eq!(
        (ds["data"][0]["status"].as_str(), ds["data"][0]["last_status_code"].as_i64()),
        (Some("pending"), Some(500))
    );

    // Back up: staff find the failed delivery and replay it.
    answer.store(200, Ordering::SeqCst);
    let c = staff_browser(&app).await;
    click_to_next_page(&c, "nav a[href^='/staff/webhooks']").await;
    click_to_next_page(&c, &format!("a[href^='/staff/webhooks/{ep}']")).await;
    assert!(text(&c, "tr[data-delivery]").await.contains("HTTP 500"));
    click_to_next_page(&c, "tr[data-delivery] form button").await;
    assert!(text(&c, "[role=status]").await.contains("Sent again"));
    assert_eq!(text(&c, "[data-delivery-status]").await, "succeeded");
    screenshot(&c, "staff-webhook-replayed").await;
    click_to_next_page(&c, "nav a[href^='/staff/audit']").await;
    assert!(text(&c, "tr[data-audit='webhook.replayed']").await.contains("stf_1"));
    c.close().await.unwrap();
    let (_, ds) = app.get(&format!("/v1/webhook_endpoints/{ep}/deliveries")).await;
    assert_eq!((ds["data"][0]["status"].as_str(), ds["data"][0]["attempts"].as_i64()), (Some("succeeded"), Some(2)));
}

#[tokio::test]
async fn staff_cancel_a_subscription_at_period_end_and_create_a_coupon_after_a_mistake() {
    let app = TestApp::spawn_with(|c| c.background_jobs = false).await;
    app.import_demo_catalog().await;
    let (_, cus) = app.post("/v1/customers", json!({"email": "sam@example.com", "country": "US"})).await;
    let (s, sub) = app.post("/v1/subscriptions", json!({"customer": cus["id"], "plan": "grow", "trial": false})).await;
    assert_eq!(s, 200, "{sub}");
    let id = sub["id"].as_str().unwrap().to_string();

    let c = staff_browser(&app).await;
    click_to_next_page(&c, "nav a[href^='/staff/subscriptions']").await;
    click_to_next_page(&c, &format!("tr[data-subscription='{id}'] a[href^='/staff/subscriptions/']")).await;
    assert_eq!(text(&c, "[data-status]").await, "active");
    // Keyboard only: the default choice is the end of the period.
    c.find(Locator::Css("form[action$='/cancel'] button")).await.unwrap().send_keys("\u{e007}").await.unwrap();
    for _ in 0..200 {
        if c.current_url().await.unwrap().as_str().contains("done=scheduled") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(text(&c, "[role=status]").await.contains("cancels at the end of the period"));
    assert!(text(&c, "[data-status]").await.contains("cancels at period end"));
    screenshot(&c, "staff-subscription-cancel-scheduled").await;

    click_to_next_page(&c, "nav a[href^='/staff/coupons']").await;
    c.find(Locator::Css("#code")).await.unwrap().send_keys("WELCOME10").await.unwrap();
    c.find(Locator::Css("#value")).await.unwrap().send_keys("10 percent").await.unwrap();
    click_to_next_page(&c, "form[action='/staff/coupons#new'] button[type=submit]").await;
    assert!(text(&c, "[role=alert]").await.contains("like 20 or 12.5"));
    let invalid = c.find(Locator::Css("#value")).await.unwrap().attr("aria-invalid").await.unwrap();
    assert_eq!(invalid.as_deref(), Some("true"));
    // What was typed is still there; fix the value only.
    let value = c.find(Locator::Css("#value")).await.unwrap();
    assert_eq!(value.prop("value").await.unwrap().as_deref(), Some("10 percent"));
    value.clear().await.unwrap();
    value.send_keys("10").await.unwrap();
    click_to_next_page(&c, "form[action='/staff/coupons#new'] button[type=submit]").await;
    assert!(text(&c, "[role=status]").await.contains("created"));
    assert!(text(&c, "tr[data-coupon='WELCOME10']").await.contains("10 % off"));
    screenshot(&c, "staff-coupon-created").await;
    c.close().await.unwrap();
    let (_, api) = app.get(&format!("/v1/subscriptions/{id}")).await;
    assert_eq!((api["status"].as_str(), api["cancel_at_period_end"].as_bool()), (Some("active"), Some(true)));
    assert_eq!(app.get("/v1/coupons/WELCOME10").await.1["rules"]["discount"]["bps"], 1000);
}

#[tokio::test]
async fn a_signed_in_learner_puts_a_course_in_the_cart_and_buys_it() {
    use crate::marketplace::{course, instructor};
    let app = TestApp::spawn_with(|c| c.background_jobs = false).await;
    let ana = instructor(&app, "u-ana", "standard").await;
    let rust = course(&app, &ana, "Rust for Data", 4_999).await;
    course(&app, &ana, "SQL Mastery", 2_999).await;
    let (_, lea) = app.post("/v1/customers", json!({"country": "US", "email": "lea@example.com"})).await;
    let lea = lea["id"].as_str().unwrap().to_string();
    let (s, ps) = app.post("/v1/portal_sessions", json!({"customer": lea})).await;
    assert_eq!(s, 201, "{ps}");

    // The platform's link signs the learner in; then they browse.
    let c = browser(1280, 900).await;
    c.goto(ps["url"].as_str().unwrap()).await.unwrap();
    c.goto(&app.url("/courses?mode=test")).await.unwrap();
    click_to_next_page(&c, &format!("article[data-course='{rust}'] a")).await;
    click_to_next_page(&c, "form[action='/cart/items'] button").await;
    assert!(text(&c, "[role=status]").await.contains("Added"));
    assert!(text(&c, "[data-cart-total]").await.contains("$54.99"));
    assert!(text(&c, "main").await.contains("Buying as lea@example.com"));
    screenshot(&c, "cart").await;
    click_to_next_page(&c, "form[action='/cart/checkout'] button").await;
    assert!(text(&c, "main").await.contains("Rust for Data"));
    click_to_next_page(&c, "form[action$='/pay'] button").await;
    c.find(Locator::Css("input[value=pm_card_visa]")).await.unwrap().click().await.unwrap();
    click_to_next_page(&c, "form button[type=submit]").await;
    assert_eq!(text(&c, "h1").await, "Thank you");
    assert!(text(&c, "main").await.contains("Paid"));
    // Back in the cart: what was bought has left it.
    c.goto(&app.url("/cart")).await.unwrap();
    assert!(text(&c, "main").await.contains("Your cart is empty"));
    c.close().await.unwrap();
    let (_, en) = app.get(&format!("/v1/enrollments?customer={lea}")).await;
    assert_eq!(en["data"][0]["course"].as_str(), Some(rust.as_str()), "{en}");
}

#[tokio::test]
async fn a_learner_reads_their_dashboard_on_a_phone() {
    let app = TestApp::spawn_with(|c| c.background_jobs = false).await;
    let (s, b) = app
        .post(
            "/v1/learning/content",
            json!({"items": [{"id": "Q1", "topic": "Algebra", "difficulty": 1}, {"id": "Q2", "topic": "Geometry", "difficulty": 3},
                             {"id": "Q3", "topic": "Data analysis and probability", "difficulty": 5}],
                   "assessments": [{"id": "f", "exam": "sat", "title": "SAT practice", "target_seconds_per_item": 60, "items": ["Q1", "Q2", "Q3"]}]}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let now = app.state.now_ms() / 1000;
    let attempts: Vec<serde_json::Value> = (0..4)
        .map(|i| {
            json!({"id": format!("a{i}"), "learner": "maya", "assessment": "f", "started_at": now - 86_400 * (4 - i),
                   "ended_at": now - 86_400 * (4 - i) + 600, "country": "US",
                   "responses": [{"item": "Q1", "correct": true, "time_ms": 20_000},
                                 {"item": "Q2", "correct": i % 2 == 0, "time_ms": 80_000},
                                 {"item": "Q3", "correct": i == 3, "time_ms": 100_000}]})
        })
        .collect();
    let (s, b) = app.post("/v1/attempts/batch", json!({ "attempts": attempts })).await;
    assert_eq!(s, 200, "{b}");
    let (_, ds) = app.post("/v1/dashboard_sessions", json!({"learner": "maya"})).await;
    let phone = browser(390, 844).await;
    phone.goto(ds["url"].as_str().unwrap()).await.unwrap();
    assert_eq!(text(&phone, "h1").await, "Your progress in sat");
    let figures = text(&phone, ".figures").await;
    assert!(figures.contains("4") && figures.contains("Tests completed"), "{figures}");
    // Charts are images with a text alternative, and fit the screen.
    let svg = phone.find(Locator::Css(".chart svg")).await.unwrap();
    assert_eq!(svg.attr("role").await.unwrap().as_deref(), Some("img"));
    let widths = phone
        .execute("return [document.documentElement.scrollWidth, window.innerWidth, document.querySelector('.chart svg').getBoundingClientRect().width];", vec![])
        .await
        .unwrap();
    assert!(widths[0].as_f64() <= widths[1].as_f64(), "no sideways scrolling: {widths}");
    assert!(widths[2].as_f64().unwrap() <= widths[1].as_f64().unwrap(), "the chart fits: {widths}");
    // The sessions table becomes stacked rows with their labels.
    let label = phone
        .execute("return getComputedStyle(document.querySelector('table.stack td'), '::before').content;", vec![])
        .await
        .unwrap();
    assert_eq!(label, "\"Test\"");
    screenshot(&phone, "learner-dashboard-phone").await;
    phone.close().await.unwrap();
}

#[tokio::test]
async fn an_instructor_reads_their_dashboard_and_a_forms_item_analysis_on_a_phone() {
    let app = TestApp::spawn_with(|c| c.background_jobs = false).await;
    let ana = crate::marketplace::instructor(&app, "u-ana", "standard").await;
    let logic = crate::marketplace::course(&app, &ana, "Logical reasoning for the LSAT", 4_000).await;
    crate::learning_staff::lsat7_form(&app, "lsat7", "LSAT section 7", Some(&logic)).await;
    let (s, c) = app.post("/v1/assessments/lsat7/calibrations", json!({})).await;
    assert_eq!(s, 201, "{c}");
    bursar_core::learning::calibration::run_pending(&app.state).await.unwrap();
    let (_, ds) = app.post("/v1/dashboard_sessions", json!({"instructor": ana})).await;
    let phone = browser(390, 844).await;
    phone.goto(ds["url"].as_str().unwrap()).await.unwrap();
    assert_eq!(text(&phone, "h1").await, "Your courses");
    let svg = phone.find(Locator::Css(".chart svg")).await.unwrap();
    assert_eq!(svg.attr("role").await.unwrap().as_deref(), Some("img"));
    let fits = "return [document.documentElement.scrollWidth, window.innerWidth, \
                document.querySelector('.chart svg').getBoundingClientRect().width];";
    let widths = phone.execute(fits, vec![]).await.unwrap();
    assert!(widths[0].as_f64() <= widths[1].as_f64(), "no sideways scrolling: {widths}");
    assert!(widths[2].as_f64().unwrap() <= widths[1].as_f64().unwrap(), "the chart fits: {widths}");
    let label = phone
        .execute("return getComputedStyle(document.querySelector('table.stack td'), '::before').content;", vec![])
        .await
        .unwrap();
    assert_eq!(label, "\"Course\"", "the courses table becomes labelled rows");
    screenshot(&phone, "instructor-dashboard-phone").await;
    click_to_next_page(&phone, "a[href^='/dashboard/forms/']").await;
    assert_eq!(text(&phone, "h1").await, "Item analysis of LSAT section 7");
    let widths = phone.execute(fits, vec![]).await.unwrap();
    assert!(widths[0].as_f64() <= widths[1].as_f64(), "no sideways scrolling: {widths}");
    let rows = phone.execute("return document.querySelectorAll('table.stack tbody tr').length;", vec![]).await.unwrap();
    assert_eq!(rows, 5, "one row per item");
    screenshot(&phone, "instructor-form-phone").await;
    phone.close().await.unwrap();
}
