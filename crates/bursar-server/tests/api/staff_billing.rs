//! The staff console's billing pages over HTTP: what they list, and their
//! actions with CSRF, refusals and the audit log. (The browser tests click
//! through the same pages.)

use crate::common::*;
use serde_json::json;

/// A signed-in staff member's cookie header and CSRF token, through the
/// sign-in page.
pub(crate) async fn sign_in(app: &TestApp) -> (String, String) {
    app.add_staff().await;
    let login = app.client.get(app.url("/staff/login")).send().await.unwrap();
    let cookie = |r: &reqwest::Response, name: &str| {
        r.headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| {
                v.to_str().ok()?.split(';').next()?.split_once('=').map(|(k, v)| (k.to_string(), v.to_string()))
            })
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
            .unwrap()
    };
    let login_csrf = cookie(&login, "bursar_login_csrf");
    let r = app
        .client
        .post(app.url("/staff/login"))
        .header("cookie", format!("bursar_login_csrf={login_csrf}"))
        .form(&[("csrf", login_csrf.as_str()), ("email", "ops@example.com"), ("password", "correct horse battery")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    let session = format!("bursar_staff={}", cookie(&r, "bursar_staff"));
    let (_, html) = page(app, &session, "/staff/plans?mode=test").await;
    let csrf = hidden_value(&html, "csrf");
    (session, csrf)
}

pub(crate) async fn page(app: &TestApp, session: &str, path: &str) -> (u16, String) {
    let r = app.client.get(app.url(path)).header("cookie", session).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// Posts a console form; the status and where it leads (or the page).
pub(crate) async fn submit(app: &TestApp, session: &str, path: &str, form: &[(&str, &str)]) -> (u16, String) {
    let r = app.client.post(app.url(path)).header("cookie", session).form(form).send().await.unwrap();
    let status = r.status().as_u16();
    match r.headers().get("location") {
        Some(l) => (status, l.to_str().unwrap().to_string()),
        None => (status, r.text().await.unwrap()),
    }
}

pub(crate) async fn audited(app: &TestApp, action: &str) -> i64 {
    sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM audit_log WHERE action = $1 AND actor_id = 'stf_1'")
        .bind(action)
        .fetch_one(app.tdb.db.reader())
        .await
        .unwrap()
}

#[tokio::test]
async fn staff_cancel_a_subscription_at_period_end_take_it_back_then_cancel_it_now() {
    let app = TestApp::spawn_with(|c| c.background_jobs = false).await;
    app.import_demo_catalog().await;
    let (_, cus) = app.post("/v1/customers", json!({"email": "sam@example.com", "country": "US"})).await;
    let (s, sub) = app.post("/v1/subscriptions", json!({"customer": cus["id"], "plan": "grow", "trial": false})).await;
    assert_eq!(s, 200, "{sub}");
    let id = sub["id"].as_str().unwrap().to_string();
    let (session, csrf) = sign_in(&app).await;

    let (s, html) = page(&app, &session, "/staff/subscriptions?mode=test").await;
    assert_eq!(s, 200);
    assert!(html.contains(&format!("data-subscription=\"{id}\"")) && html.contains("Grow"), "{html}");
    let (_, html) = page(&app, &session, "/staff/subscriptions?mode=test&q=canceled").await;
    assert!(!html.contains(&id) && html.contains("No subscriptions canceled."));
    let (_, html) = page(&app, &session, &format!("/staff/subscriptions/{id}?mode=test")).await;
    assert!(html.contains("$19.00 a month") && html.contains("INV-"), "{html}");

    // A forged token changes nothing.
    let cancel = format!("/staff/subscriptions/{id}/cancel");
    let (s, _) = submit(&app, &session, &cancel, &[("csrf", "forged"), ("mode", "test")]).await;
    assert_eq!(s, 403);
    assert_eq!(app.get(&format!("/v1/subscriptions/{id}")).await.1["cancel_at_period_end"], false);

    let (s, to) = submit(&app, &session, &cancel, &[("csrf", &csrf), ("mode", "test"), ("when", "period_end")]).await;
    assert_eq!((s, to.as_str()), (303, format!("/staff/subscriptions/{id}?mode=test&done=scheduled").as_str()));
    let (_, api) = app.get(&format!("/v1/subscriptions/{id}")).await;
    assert_eq!((api["status"].as_str(), api["cancel_at_period_end"].as_bool()), (Some("active"), Some(true)));
    let (_, html) = page(&app, &session, &to).await;
    assert!(html.contains("data-cancels") && html.contains("take back the cancellation"));

    let react = format!("/staff/subscriptions/{id}/reactivate");
    let (s, _) = submit(&app, &session, &react, &[("csrf", &csrf), ("mode", "test")]).await;
    assert_eq!(s, 303);
    assert_eq!(app.get(&format!("/v1/subscriptions/{id}")).await.1["cancel_at_period_end"], false);
    // Nothing left to take back: the reason, on the page.
    let (s, html) = submit(&app, &session, &react, &[("csrf", &csrf), ("mode", "test")]).await;
    assert_eq!(s, 400);
    assert!(html.contains("role=\"alert\"") && html.contains("nothing to reactivate"), "{html}");

    let (s, _) = submit(&app, &session, &cancel, &[("csrf", &csrf), ("mode", "test"), ("when", "now")]).await;
    assert_eq!(s, 303);
    assert_eq!(app.get(&format!("/v1/subscriptions/{id}")).await.1["status"], "canceled");
    let (_, html) = page(&app, &session, "/staff/subscriptions?mode=test&q=canceled").await;
    assert!(html.contains(&id));
    // A test subscription is not found in live mode.
    let (s, _) = submit(&app, &session, &cancel, &[("csrf", &csrf), ("mode", "live"), ("when", "now")]).await;
    assert_eq!(s, 404);
    for action in ["subscription.cancel_scheduled", "subscription.reactivated", "subscription.canceled"] {
        assert_eq!(audited(&app, action).await, 1, "{action}");
    }
    app.verify_ledger().await;
}

#[tokio::test]
async fn staff_create_coupons_with_clear_errors_and_deactivate_them() {
    let app = TestApp::spawn_with(|c| c.background_jobs = false).await;
    app.import_demo_catalog().await;
    let (session, csrf) = sign_in(&app).await;
    let base = [("csrf", csrf.as_str()), ("mode", "test"), ("duration", "once"), ("applies_to", "all")];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut f: Vec<(&str, &str)> = base.to_vec();
        f.extend_from_slice(extra);
        f
    };

    // Bad input: the form comes back with the error beside its field, and
    // nothing is created.
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
    let cases: [Case; 4] = [
        (&[("code", "SPRING20"), ("kind", "percent"), ("value", "twenty")], "value", "like 20 or 12.5"),
        (&[("code", "SPRING20"), ("kind", "percent"), ("value", "120")], "value", "1 to 10000"),
        (&[("code", "no spaces"), ("kind", "percent"), ("value", "20")], "code", "letters, digits"),
        (&[("code", "EUR5"), ("kind", "amount"), ("value", "5,00"), ("currency", "EUR")], "value", "like 5.00"),
    ];
    for (extra, field, says) in cases {
        let (s, html) = submit(&app, &session, "/staff/coupons", &with(extra)).await;
        assert_eq!(s, 400, "{extra:?}");
        assert!(html.contains(says), "{says}: {html}");
        assert!(html.contains(&format!("id=\"{field}\" name=\"{field}\"")), "{field}");
        let marked = html.split(&format!("id=\"{field}\"")).nth(1).unwrap().split('>').next().unwrap();
        assert!(marked.contains("aria-invalid=\"true\""), "{field} is marked: {marked}");
    }
    assert_eq!(app.count("coupons").await, 0);

    let (s, to) = submit(
        &app,
        &session,
        "/staff/coupons",
        &with(&[
            ("code", "spring20"),
            ("name", "Spring sale"),
            ("kind", "percent"),
            ("value", "12.5"),
            ("max_redemptions", "100"),
            ("valid_until", "2099-01-31"),
        ]),
    )
    .await;
    assert_eq!((s, to.as_str()), (303, "/staff/coupons?mode=test&done=created"));
    let (_, c) = app.get("/v1/coupons/SPRING20").await;
    assert_eq!(c["rules"]["discount"]["bps"], 1250, "{c}");
    assert_eq!(c["max_redemptions"], 100);
    assert_eq!(c["rules"]["valid_until"].as_i64(), Some(4_073_587_200_000), "the end of the last day, UTC");
    // The same code again is refused, naming the code.
    let (s, html) =
        submit(&app, &session, "/staff/coupons", &with(&[("code", "SPRING20"), ("kind", "percent"), ("value", "5")]))
            .await;
    assert_eq!(s, 400);
    assert!(html.contains("a coupon with this code exists"));
    let (_, html) = page(&app, &session, "/staff/coupons?mode=test").await;
    assert!(html.contains("12.5 % off") && html.contains("0 of 100") && html.contains("2099-02-01 00:00"), "{html}");

    // It works until staff deactivate it.
    let (_, cus) = app.post("/v1/customers", json!({"email": "ana@example.com", "country": "US"})).await;
    let sub = json!({"customer": cus["id"], "plan": "grow", "trial": false, "coupon": "SPRING20"});
    let (s, b) = app.post("/v1/subscriptions", sub.clone()).await;
    assert_eq!(s, 200, "{b}");
    let id = c["id"].as_str().unwrap();
    let (s, _) = submit(&app, &session, &format!("/staff/coupons/{id}/deactivate"), &[("csrf", "forged")]).await;
    assert_eq!(s, 403);
    let (s, to) =
        submit(&app, &session, &format!("/staff/coupons/{id}/deactivate"), &[("csrf", &csrf), ("mode", "test")]).await;
    assert_eq!((s, to.as_str()), (303, "/staff/coupons?mode=test&done=deactivated"));
    let (_, c) = app.get("/v1/coupons/SPRING20").await;
    assert_eq!((c["active"].as_bool(), c["times_redeemed"].as_i64()), (Some(false), Some(1)));
    let (_, other) = app.post("/v1/customers", json!({"email": "bo@example.com", "country": "US"})).await;
    let (s, b) = app
        .post(
            "/v1/subscriptions",
            json!({"customer": other["id"], "plan": "grow", "trial": false, "coupon": "SPRING20"}),
        )
        .await;
    assert_error(s, &b, 400, Some("coupon"));
    assert_eq!(audited(&app, "coupon.created").await, 1);
    assert_eq!(audited(&app, "coupon.deactivated").await, 1);
}

#[tokio::test]
async fn the_api_deactivates_coupons_and_filters_payments_by_status() {
    let app = TestApp::spawn_with(|c| c.background_jobs = false).await;
    let (s, c) = app.post("/v1/coupons", json!({"code": "TEN", "percent_off_bps": 1000, "duration": "once"})).await;
    assert_eq!(s, 200, "{c}");
    let (s, d) = app.post("/v1/coupons/ten/deactivate", json!({})).await;
    assert_eq!((s, d["active"].as_bool()), (200, Some(false)), "{d}");
    let (s, again) = app.post(&format!("/v1/coupons/{}/deactivate", c["id"].as_str().unwrap()), json!({})).await;
    assert_eq!((s, again["active"].as_bool()), (200, Some(false)), "deactivating twice is harmless");
    let (s, b) = app.post("/v1/coupons/NOPE/deactivate", json!({})).await;
    assert_error(s, &b, 404, Some("code"));
    let (s, b) = app.get("/v1/payments?status=settled").await;
    assert_error(s, &b, 400, Some("status"));
    let (s, b) = app.get("/v1/payments?status=failed").await;
    assert_eq!((s, b["data"].as_array().map(Vec::len)), (200, Some(0)));
}

#[tokio::test]
async fn staff_see_payments_by_status_and_the_plan_catalog() {
    let app = TestApp::spawn_with(|c| c.background_jobs = false).await;
    app.import_demo_catalog().await;
    let (_, cus) = app.post("/v1/customers", json!({"email": "sam@example.com", "country": "US"})).await;
    let (s, _) = app.post("/v1/subscriptions", json!({"customer": cus["id"], "plan": "scale", "trial": false})).await;
    assert_eq!(s, 200);
    let (_, pays) = app.get("/v1/payments").await;
    let pay = pays["data"][0]["id"].as_str().expect("the first invoice's payment").to_string();
    let (session, _) = sign_in(&app).await;
    let (s, html) = page(&app, &session, "/staff/payments?mode=test").await;
    assert_eq!(s, 200);
    let row = html.split(&format!("data-payment=\"{pay}\"")).nth(1).expect("the payment is listed");
    let row = row.split("</tr>").next().unwrap();
    assert!(row.contains("$49.00") && row.contains("sandbox") && row.contains("completed"), "{row}");
    let (_, html) = page(&app, &session, "/staff/payments?mode=test&q=completed").await;
    assert!(html.contains(&pay));
    let (_, html) = page(&app, &session, "/staff/payments?mode=test&q=failed").await;
    assert!(!html.contains(&pay) && html.contains("No payments failed."));
    let (_, html) = page(&app, &session, "/staff/payments?mode=live").await;
    assert!(!html.contains(&pay), "test payments are not shown in live mode");

    let (s, html) = page(&app, &session, "/staff/plans?mode=test").await;
    assert_eq!(s, 200);
    let scale = html.split("data-plan=\"scale\"").nth(1).unwrap().split("</section>").next().unwrap();
    assert!(scale.contains("$49.00") && scale.contains("€49.00") && scale.contains("£42.00"), "{scale}");
    assert!(scale.contains("ai_queries_per_month unlimited"), "{scale}");
    // Without a session, the sign-in page.
    let r = app.client.get(app.url("/staff/plans")).send().await.unwrap();
    assert_eq!((r.status().as_u16(), r.headers()["location"].to_str().unwrap()), (303, "/staff/login"));
}

#[tokio::test]
async fn staff_see_the_pricing_experiment_and_a_sample_ratio_warning() {
    let app = TestApp::spawn_with(|c| c.background_jobs = false).await;
    let (session, _) = sign_in(&app).await;
    let expose = |n: usize, variant: &'static str, offset: usize| {
        let db = app.tdb.db.clone();
        async move {
            for i in 0..n {
                let v = format!("visitor{:05}", i + offset);
                bursar_store::experiments::expose(db.writer(), false, "pricing_page", &v, variant, 0).await.unwrap();
                if i % 10 == 0 {
                    bursar_store::experiments::convert(db.writer(), false, "pricing_page", &v, "cta_click", 0)
                        .await
                        .unwrap();
                }
            }
        }
    };
    // An even split: no warning.
    expose(100, "a", 0).await;
    expose(100, "b", 1_000).await;
    let (s, html) = page(&app, &session, "/staff/experiments?mode=test").await;
    assert_eq!(s, 200);
    let b = html.split("data-variant=\"b\"").nth(1).unwrap().split("</tr>").next().unwrap();
    assert!(b.contains(">100<") && b.contains(">10<") && b.contains("10.00 %"), "{b}");
    assert!(!html.contains("data-srm>"), "no mismatch on an even split");
    // 400 against 100 for an even split: the results are flagged.
    expose(300, "a", 2_000).await;
    let (_, html) = page(&app, &session, "/staff/experiments?mode=test").await;
    assert!(html.contains("data-srm>") && html.contains("Sample ratio mismatch"), "{html}");
    let (s, _) = page(&app, &session, "/staff/experiments?mode=test&q=Bad%20Goal").await;
    assert_eq!(s, 400);
}
