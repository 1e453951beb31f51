use crate::common::*;
use serde_json::{json, Value};

pub(crate) const DAY: i64 = 86_400;
/// 2026-12-01 00:00 UTC.
pub(crate) const T0: i64 = 1_796_083_200;

pub(crate) async fn instructor(app: &TestApp, external: &str, tier: &str) -> String {
    let (s, i) = app
        .post(
            "/v1/instructors",
            json!({"external_id": external, "name": format!("Instructor {external}"), "tier": tier}),
        )
        .await;
    assert_eq!(s, 201, "{i}");
    i["id"].as_str().unwrap().to_string()
}

pub(crate) async fn course(app: &TestApp, owner: &str, title: &str, eur: i64) -> String {
    let (s, c) = app
        .post(
            "/v1/courses",
            json!({"instructor": owner, "title": title, "description": format!("All about {title}."),
                   "topics": ["data"], "level": "beginner", "language": "en", "duration_minutes": 300,
                   "prices": {"EUR": eur, "USD": eur + 500}}),
        )
        .await;
    assert_eq!(s, 201, "{c}");
    let id = c["id"].as_str().unwrap().to_string();
    let (s, p) = app.post(&format!("/v1/courses/{id}/publish"), json!({})).await;
    assert_eq!((s, p["status"].as_str()), (200, Some("published")), "{p}");
    id
}

pub(crate) async fn learner(app: &TestApp, clock: &str, email: &str) -> String {
    let (s, c) = app.post("/v1/customers", json!({"country": "FR", "email": email, "test_clock": clock})).await;
    assert_eq!(s, 200, "{c}");
    c["id"].as_str().unwrap().to_string()
}

/// Pays a checkout session with the sandbox's test card, as a buyer would.
pub(crate) async fn pay(app: &TestApp, session: &str) {
    let token = app.checkout_token(session).await;
    let r = app.client.post(app.url(&format!("/checkout/{session}/pay"))).form(&[("form_token", &token)]).send().await;
    let r = r.unwrap();
    let status = r.status().as_u16();
    let body = r.text().await.unwrap();
    let msg = body.find("role=\"alert\"").map(|i| &body[i..(i + 300).min(body.len())]).unwrap_or("");
    assert_eq!(status, 303, "{msg}");
    let r = app
        .client
        .post(app.url(&format!("/checkout/{session}/sandbox")))
        .form(&[("form_token", token.as_str()), ("card", "pm_card_visa")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303, "{}", r.text().await.unwrap());
}

/// Buys a cart's courses; returns the order.
pub(crate) async fn buy(app: &TestApp, cart: &Value) -> Value {
    let id = cart["id"].as_str().unwrap();
    let (s, cs) = app
        .post(
            &format!("/v1/carts/{id}/checkout"),
            json!({"success_url": "https://learn.example/thanks", "cancel_url": "https://learn.example/cart"}),
        )
        .await;
    assert_eq!(s, 201, "{cs}");
    pay(app, cs["id"].as_str().unwrap()).await;
    let (_, cs) = app.get(&format!("/v1/checkout/sessions/{}", cs["id"].as_str().unwrap())).await;
    assert_eq!(cs["status"], "complete", "{cs}");
    let (_, orders) = app.get(&format!("/v1/orders?customer={}", cart["customer"].as_str().unwrap())).await;
    orders["data"].as_array().unwrap().last().cloned().expect("an order")
}

/// A customer's credit balance in a currency.
pub(crate) async fn credit_of(app: &TestApp, customer: &str, currency: &str) -> i64 {
    let (_, c) = app.get(&format!("/v1/customers/{customer}")).await;
    c["credit_balances"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["currency"] == currency)
        .map(|b| b["amount"].as_i64().unwrap())
        .sum()
}

pub(crate) async fn balances(app: &TestApp) -> Value {
    let (_, b) = app.get("/v1/ledger/balances?currency=EUR").await;
    b
}

pub(crate) fn bal(b: &Value, account: &str) -> i64 {
    b["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["account"] == account)
        .map(|r| r["balance"].as_i64().unwrap())
        .sum()
}

pub(crate) fn bal_prefix(b: &Value, prefix: &str) -> i64 {
    b["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["account"].as_str().unwrap().starts_with(prefix))
        .map(|r| r["balance"].as_i64().unwrap())
        .sum()
}

#[tokio::test]
async fn an_affiliate_sale_in_eur_is_split_clawed_back_and_paid_out_to_the_cent() {
    let app = TestApp::spawn_with(|c| {
        c.background_jobs = false;
        c.tax_origin_country = Some("DE".into());
        c.payout_minimum = 10;
    })
    .await;
    let ana = instructor(&app, "u-ana", "standard").await;
    let ben = instructor(&app, "u-ben", "enterprise").await;
    let rust = course(&app, &ana, "Rust for Data", 4_999).await;
    let sql = course(&app, &ben, "SQL Mastery", 2_999).await;
    let (s, _) = app
        .post(
            "/v1/coupons",
            json!({"code": "COURSES10", "percent_off_bps": 1000, "duration": "once", "applies_to": "courses"}),
        )
        .await;
    assert_eq!(s, 200);
    // The affiliate applies, is approved at 10 %, and a visitor clicks the link.
    let (s, aff) = app.post("/v1/affiliates", json!({"external_id": "u-cara", "name": "Cara", "code": "CARA-1"})).await;
    assert_eq!((s, aff["status"].as_str()), (201, Some("pending")), "{aff}");
    let aff_id = aff["id"].as_str().unwrap().to_string();
    let (s, e) = app.post("/v1/affiliate_clicks", json!({"code": "CARA-1", "ip": "203.0.113.9"})).await;
    assert_error(s, &e, 404, Some("code"));
    let (s, aff) = app
        .post(&format!("/v1/affiliates/{aff_id}/status"), json!({"status": "approved", "commission_bps": 1000}))
        .await;
    assert_eq!((s, aff["status"].as_str()), (200, Some("approved")), "{aff}");
    let (_, clock) = app.post("/v1/test_clocks", json!({"frozen_time": T0})).await;
    let clock = clock["id"].as_str().unwrap().to_string();
    let lea = learner(&app, &clock, "lea@example.fr").await;
    let (s, click) = app
        .post(
            "/v1/affiliate_clicks",
            json!({"code": "cara-1", "ip": "203.0.113.9", "user_agent": "Mozilla/5.0", "referer": "https://blog.example/"}),
        )
        .await;
    assert_eq!(s, 201, "{click}");
    let stored: String =
        sqlx::query_scalar("SELECT ip_hash FROM affiliate_clicks").fetch_one(app.tdb.db.reader()).await.unwrap();
    assert!(!stored.contains("203.0.113.9") && stored.len() == 64, "the IP is kept only as a hash");

    // Lea buys both courses with the coupon, in EUR, with French VAT.
    let (s, cart) = app
        .post(
            "/v1/carts",
            json!({"customer": lea, "currency": "EUR", "items": [rust, sql], "coupon": "COURSES10",
                   "affiliate_click": click["id"]}),
        )
        .await;
    assert_eq!(s, 201, "{cart}");
    // 4999 + 2999 = 7998; 10 % = 800 off; 7198 net; 20 % VAT = 1440.
    assert_eq!(
        (cart["subtotal"].as_i64(), cart["discount"].as_i64(), cart["tax"].as_i64(), cart["total"].as_i64()),
        (Some(7_998), Some(800), Some(1_440), Some(8_638)),
        "{cart}"
    );
    let order = buy(&app, &cart).await;
    assert!(order["number"].as_str().unwrap().starts_with("ORD-2026-"), "{order}");
    assert_eq!(order["number"].as_str().unwrap().len(), "ORD-2026-000001".len());
    assert_eq!((order["total"].as_i64(), order["tax"].as_i64()), (Some(8_638), Some(1_440)));
    assert_eq!(order["affiliate"], aff_id.as_str());
    let items = order["items"].as_array().unwrap();
    let item = |course: &str| items.iter().find(|i| i["course"] == course).unwrap().clone();
    // The 800 discount is spread by price: 500 on 4999, 300 on 2999.
    let r = item(&rust);
    assert_eq!(
        [
            r["discount"].as_i64(),
            r["net"].as_i64(),
            r["instructor_share"].as_i64(),
            r["affiliate_commission"].as_i64(),
            r["platform_share"].as_i64()
        ],
        [Some(500), Some(4_499), Some(3_149), Some(450), Some(900)]
    );
    let q = item(&sql);
    assert_eq!(
        [
            q["discount"].as_i64(),
            q["net"].as_i64(),
            q["instructor_share"].as_i64(),
            q["affiliate_commission"].as_i64(),
            q["platform_share"].as_i64()
        ],
        [Some(300), Some(2_699), Some(2_024), Some(270), Some(405)]
    );
    // The ledger holds the same split to the cent.
    let b = balances(&app).await;
    assert_eq!(bal(&b, &format!("instructor_payable:{ana}")), 3_149);
    assert_eq!(bal(&b, &format!("instructor_payable:{ben}")), 2_024);
    assert_eq!(bal(&b, &format!("affiliate_payable:{aff_id}")), 720);
    assert_eq!(bal_prefix(&b, "tax_payable"), 1_440);
    // What the platform keeps: revenue less discounts and commissions.
    assert_eq!(bal_prefix(&b, "revenue") - bal(&b, "discounts") - bal(&b, "affiliate_commissions"), 900 + 405);
    app.verify_ledger().await;
    // Enrolled in both, notified; the cart is done.
    let (_, en) = app.get(&format!("/v1/enrollments?customer={lea}")).await;
    assert_eq!(en["data"].as_array().unwrap().len(), 2);
    let (_, evs) = app.get("/v1/events?type=enrollment.created").await;
    assert_eq!(evs["data"].as_array().unwrap().len(), 2);
    let (_, evs) = app.get("/v1/events?type=order.paid").await;
    assert_eq!(evs["data"][0]["data"]["number"], order["number"]);
    let (s, e) = app.post(&format!("/v1/carts/{}/items", cart["id"].as_str().unwrap()), json!({"course": rust})).await;
    assert_error(s, &e, 409, None);
    // Already enrolled: a new cart refuses the course.
    let (s, e) = app.post("/v1/carts", json!({"customer": lea, "items": [rust]})).await;
    assert_error(s, &e, 400, Some("items[0]"));

    // Max buys Rust for Data on day 0 (no affiliate) and keeps it; Noe buys
    // it on day 20 (still in its refund window on day 31).
    let max = learner(&app, &clock, "max@example.fr").await;
    let (_, cart2) = app.post("/v1/carts", json!({"customer": max, "items": [rust]})).await;
    let order2 = buy(&app, &cart2).await;
    assert_eq!(order2["affiliate"], Value::Null);
    assert_eq!(order2["items"][0]["instructor_share"], 3_499); // 4999 × 70 % = 3499.3

    // Day 10: Lea's order is refunded in full.
    app.post(&format!("/v1/test_clocks/{clock}/advance"), json!({"frozen_time": T0 + 10 * DAY})).await;
    let (s, r) = app.post(&format!("/v1/invoices/{}/refund", order["invoice"].as_str().unwrap()), json!({})).await;
    assert_eq!(s, 200, "{r}");
    let (_, o) = app.get(&format!("/v1/orders/{}", order["number"].as_str().unwrap())).await;
    assert_eq!(o["status"], "refunded");
    assert_eq!(o["items"][0]["clawed_back"], o["items"][0]["instructor_share"]);
    let (_, comms) = app.get(&format!("/v1/commissions?affiliate={aff_id}")).await;
    assert_eq!(
        (comms["data"][0]["status"].as_str(), comms["data"][0]["amount"].as_i64()),
        (Some("cancelled"), Some(0))
    );
    let b = balances(&app).await;
    assert_eq!(bal(&b, &format!("instructor_payable:{ana}")), 3_499, "only Max's sale is owed to Ana");
    assert_eq!(bal(&b, &format!("instructor_payable:{ben}")), 0);
    assert_eq!(bal(&b, &format!("affiliate_payable:{aff_id}")), 0);
    let (_, en) = app.get(&format!("/v1/enrollments?customer={lea}")).await;
    assert!(en["data"].as_array().unwrap().iter().all(|e| e["status"] == "revoked"));
    let (_, ch) = app.get(&format!("/v1/entitlements/check?customer={lea}&course={rust}")).await;
    assert_eq!(ch["allowed"], false, "a refunded course is no longer open to Lea");
    app.verify_ledger().await;

    app.post(&format!("/v1/test_clocks/{clock}/advance"), json!({"frozen_time": T0 + 20 * DAY})).await;
    let noe = learner(&app, &clock, "noe@example.fr").await;
    let (_, cart3) = app.post("/v1/carts", json!({"customer": noe, "items": [rust]})).await;
    buy(&app, &cart3).await;

    // Day 31: the payout run pays Ana Max's share only (Lea's was clawed
    // back, Noe's is still held); Ben and Cara have nothing due.
    app.post(&format!("/v1/test_clocks/{clock}/advance"), json!({"frozen_time": T0 + 31 * DAY})).await;
    let (_, earn) = app.get(&format!("/v1/instructors/{ana}/earnings?as_of={}", T0 + 31 * DAY)).await;
    assert_eq!(earn["totals"]["EUR"], json!({"held": 3_499, "available": 3_499, "in_transit": 0, "paid": 0}), "{earn}");
    let (s, run) = app.post("/v1/payout_runs", json!({"as_of": T0 + 31 * DAY})).await;
    assert_eq!(s, 200, "{run}");
    assert_eq!(run["period"], "2027-01");
    assert_eq!(run["payouts"].as_array().unwrap().len(), 1, "{run}");
    let (_, payouts) = app.get("/v1/payouts?period=2027-01").await;
    assert_eq!(
        (
            payouts["data"][0]["payee"].as_str(),
            payouts["data"][0]["amount"].as_i64(),
            payouts["data"][0]["status"].as_str()
        ),
        (Some(ana.as_str()), Some(3_499), Some("paid"))
    );
    // Run again: nothing is paid twice.
    let (_, again) = app.post("/v1/payout_runs", json!({"as_of": T0 + 31 * DAY})).await;
    assert_eq!(again["payouts"], json!([]));
    let b = balances(&app).await;
    assert_eq!(bal(&b, &format!("instructor_payable:{ana}")), 3_499, "Noe's share, still held");
    let (_, earn) = app.get(&format!("/v1/instructors/{ana}/earnings?as_of={}", T0 + 31 * DAY)).await;
    assert_eq!(earn["totals"]["EUR"], json!({"held": 3_499, "available": 0, "in_transit": 0, "paid": 3_499}));
    // The statement of December lists the sales and the claw-back.
    let r =
        app.req(reqwest::Method::GET, &format!("/v1/instructors/{ana}/statement?period=2026-12")).send().await.unwrap();
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = r.text().await.unwrap();
    assert_eq!(csv.lines().filter(|l| l.contains(",sale,")).count(), 3, "{csv}");
    assert!(csv.contains(",clawback,") && csv.contains("-31.49"), "{csv}");
    // The same month as a PDF statement.
    let r = app
        .req(reqwest::Method::GET, &format!("/v1/instructors/{ana}/statement?period=2026-12&format=pdf"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "application/pdf");
    let pdf = r.bytes().await.unwrap();
    let text = pdf_extract::extract_text_from_mem(&pdf).unwrap();
    for want in ["Earnings statement", "Rust for Data", "Refund claw-back", "Sales (EUR)", "Instructor u-ana"] {
        assert!(text.contains(want), "{want} missing from {text}");
    }
    let (s, e) = app.get(&format!("/v1/instructors/{ana}/statement?period=2026-12&format=xml")).await;
    assert_error(s, &e, 400, Some("format"));
    // Analytics: Rust for Data has Max and Noe as students.
    let (_, an) = app.get(&format!("/v1/instructors/{ana}/analytics")).await;
    let rs = an["courses"].as_array().unwrap().iter().find(|c| c["course"] == rust.as_str()).unwrap().clone();
    assert_eq!((rs["students"].as_i64(), rs["revenue"]["EUR"].as_i64()), (Some(2), Some(4_999 * 2)));
    app.verify_ledger().await;
}

#[tokio::test]
async fn an_instructor_reaches_only_their_own_courses_earnings_and_payouts() {
    let app = TestApp::spawn().await;
    let ana = instructor(&app, "u-ana", "standard").await;
    let ben = instructor(&app, "u-ben", "standard").await;
    let bens = course(&app, &ben, "Ben's course", 1_000).await;
    let (s, sess) = app.post(&format!("/v1/instructors/{ana}/sessions"), json!({"ttl_seconds": 600})).await;
    assert_eq!(s, 201, "{sess}");
    let token = sess["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("bis_"));
    let as_ana = |m: reqwest::Method, p: &str| app.client.request(m, app.url(p)).bearer_auth(&token);
    // Ana creates and edits her own course.
    let r = as_ana(reqwest::Method::POST, "/v1/courses")
        .json(&json!({"title": "Ana's course", "description": "Mine.", "prices": {"EUR": 900}}))
        .send()
        .await
        .unwrap();
    let (s, mine) = json(r).await;
    assert_eq!((s, mine["instructor"].as_str()), (201, Some(ana.as_str())), "{mine}");
    let mine = mine["id"].as_str().unwrap().to_string();
    let r = as_ana(reqwest::Method::POST, &format!("/v1/courses/{mine}")).json(&json!({"title": "Ana's best"})).send();
    assert_eq!(r.await.unwrap().status(), 200);
    // Ben's course does not exist for her: not readable, not editable, not publishable.
    let (s, e) = json(as_ana(reqwest::Method::GET, &format!("/v1/courses/{bens}")).send().await.unwrap()).await;
    assert_error(s, &e, 404, Some("id"));
    let r = as_ana(reqwest::Method::POST, &format!("/v1/courses/{bens}")).json(&json!({"title": "Mine now"})).send();
    let (s, e) = json(r.await.unwrap()).await;
    assert_error(s, &e, 404, Some("id"));
    let (s, _) =
        json(as_ana(reqwest::Method::POST, &format!("/v1/courses/{bens}/unpublish")).send().await.unwrap()).await;
    assert_eq!(s, 404);
    let (_, c) = app.get(&format!("/v1/courses/{bens}")).await;
    assert_eq!((c["title"].as_str(), c["status"].as_str()), (Some("Ben's course"), Some("published")));
    // Nor can she create one in his name.
    let r = as_ana(reqwest::Method::POST, "/v1/courses")
        .json(&json!({"instructor": ben, "title": "Sneaky", "prices": {"EUR": 1}}))
        .send();
    let (s, e) = json(r.await.unwrap()).await;
    assert_error(s, &e, 400, Some("instructor"));
    // Listing shows hers only, even when asking for Ben's.
    let (_, l) = json(as_ana(reqwest::Method::GET, "/v1/courses").send().await.unwrap()).await;
    assert_eq!(l["data"].as_array().unwrap().len(), 1);
    let (_, l) =
        json(as_ana(reqwest::Method::GET, &format!("/v1/courses?instructor={ben}")).send().await.unwrap()).await;
    assert_eq!(l["data"], json!([]));
    // Earnings, statements, analytics and payouts: hers only.
    for path in [
        format!("/v1/instructors/{ben}/earnings"),
        format!("/v1/instructors/{ben}/statement?period=2026-12"),
        format!("/v1/instructors/{ben}/analytics"),
        format!("/v1/instructors/{ben}"),
    ] {
        let (s, e) = json(as_ana(reqwest::Method::GET, &path).send().await.unwrap()).await;
        assert_error(s, &e, 404, Some("id"));
    }
    let (s, _) =
        json(as_ana(reqwest::Method::GET, &format!("/v1/instructors/{ana}/earnings")).send().await.unwrap()).await;
    assert_eq!(s, 200);
    let (_, p) = json(as_ana(reqwest::Method::GET, &format!("/v1/payouts?payee={ben}")).send().await.unwrap()).await;
    assert_eq!(p["data"], json!([]));
    // Platform operations are closed to her session.
    for (m, path) in [
        (reqwest::Method::GET, "/v1/customers"),
        (reqwest::Method::POST, "/v1/payout_runs"),
        (reqwest::Method::GET, "/v1/orders"),
    ] {
        let (s, e) = json(as_ana(m, path).json(&json!({})).send().await.unwrap()).await;
        assert_eq!((s, e["error"]["code"].as_str()), (403, Some("instructor_session_not_allowed")), "{path}");
    }
    // Signed out everywhere by the platform: the token stops working.
    let (_, other) = app.post(&format!("/v1/instructors/{ana}/sessions"), json!({})).await;
    let other = other["token"].as_str().unwrap().to_string();
    let (s, out) = app.delete(&format!("/v1/instructors/{ana}/sessions")).await;
    assert_eq!((s, out["revoked"].as_i64()), (200, Some(2)), "{out}");
    let r = app.client.get(app.url("/v1/courses")).bearer_auth(&other).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let (_, again) = app.post(&format!("/v1/instructors/{ana}/sessions"), json!({})).await;
    let token = again["token"].as_str().unwrap().to_string();
    let as_ana = |m: reqwest::Method, p: &str| app.client.request(m, app.url(p)).bearer_auth(&token);
    // A made-up or expired token is refused.
    let r = app.client.get(app.url("/v1/courses")).bearer_auth("bis_forged").send().await.unwrap();
    assert_eq!(r.status(), 401);
    let hash: String =
        sqlx::query_scalar("SELECT token_hash FROM instructor_sessions").fetch_one(app.tdb.db.reader()).await.unwrap();
    sqlx::query("UPDATE instructor_sessions SET expires_at = 0 WHERE token_hash = $1")
        .bind(hash)
        .execute(app.tdb.db.writer())
        .await
        .unwrap();
    let r = as_ana(reqwest::Method::GET, "/v1/courses").send().await.unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn reviews_come_from_buyers_once_each_and_the_rating_stays_exact() {
    let app = TestApp::spawn_with(|c| c.background_jobs = false).await;
    let ana = instructor(&app, "u-ana", "standard").await;
    let rust = course(&app, &ana, "Rust for Data", 4_999).await;
    let (_, clock) = app.post("/v1/test_clocks", json!({"frozen_time": T0})).await;
    let clock = clock["id"].as_str().unwrap().to_string();
    let buyers = [
        learner(&app, &clock, "a@x.fr").await,
        learner(&app, &clock, "b@x.fr").await,
        learner(&app, &clock, "c@x.fr").await,
    ];
    let stranger = learner(&app, &clock, "d@x.fr").await;
    for b in &buyers {
        let (_, cart) = app.post("/v1/carts", json!({"customer": b, "items": [rust]})).await;
        buy(&app, &cart).await;
    }
    let path = format!("/v1/courses/{rust}/reviews");
    // Not bought: refused.
    let (s, e) = app.post(&path, json!({"customer": stranger, "rating": 5})).await;
    assert_eq!((s, e["error"]["code"].as_str()), (403, Some("not_a_purchaser")));
    let (s, e) = app.post(&path, json!({"customer": buyers[0], "rating": 6})).await;
    assert_error(s, &e, 400, Some("rating"));
    let mut ids = vec![];
    for (b, r) in buyers.iter().zip([5, 4, 5]) {
        let (s, rv) = app.post(&path, json!({"customer": b, "rating": r, "title": "Good"})).await;
        assert_eq!(s, 201, "{rv}");
        ids.push(rv["id"].as_str().unwrap().to_string());
    }
    // One review per learner and course.
    let (s, e) = app.post(&path, json!({"customer": buyers[0], "rating": 1})).await;
    assert_eq!((s, e["error"]["code"].as_str()), (409, Some("review_exists")));
    let (_, c) = app.get(&format!("/v1/courses/{rust}")).await;
    assert_eq!(
        (c["rating_sum"].as_i64(), c["rating_count"].as_i64(), c["rating"].as_str()),
        (Some(14), Some(3), Some("4.67"))
    );
    // Edited 4 → 2; one hidden by moderation; the totals follow exactly.
    let (s, _) = app.post(&format!("/v1/reviews/{}", ids[1]), json!({"rating": 2})).await;
    assert_eq!(s, 200);
    let (s, _) = app.post(&format!("/v1/reviews/{}/moderate", ids[0]), json!({"status": "hidden"})).await;
    assert_eq!(s, 200);
    let (_, c) = app.get(&format!("/v1/courses/{rust}")).await;
    assert_eq!(
        (c["rating_sum"].as_i64(), c["rating_count"].as_i64(), c["rating"].as_str()),
        (Some(7), Some(2), Some("3.50"))
    );
    let (_, list) = app.get(&path).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 2);
    // The instructor answers through her session.
    let (_, sess) = app.post(&format!("/v1/instructors/{ana}/sessions"), json!({})).await;
    let r = app
        .client
        .post(app.url(&format!("/v1/reviews/{}/reply", ids[2])))
        .bearer_auth(sess["token"].as_str().unwrap())
        .json(&json!({"reply": "Thank you!"}))
        .send()
        .await
        .unwrap();
    let (s, rv) = json(r).await;
    assert_eq!((s, rv["reply"].as_str()), (200, Some("Thank you!")));
}

#[tokio::test]
async fn bad_marketplace_input_is_refused_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let ana = instructor(&app, "u-ana", "standard").await;
    let rust = course(&app, &ana, "Rust for Data", 4_999).await;
    let (_, draft) =
        app.post("/v1/courses", json!({"instructor": ana, "title": "Draft", "prices": {"EUR": 100}})).await;
    let draft = draft["id"].as_str().unwrap().to_string();
    let (_, cus) = app.post("/v1/customers", json!({"country": "FR"})).await;
    let cus = cus["id"].as_str().unwrap().to_string();
    let carts_before = app.count("carts").await;
    // An unpublished course, a currency it has no price in, an unknown course.
    let (s, e) = app.post("/v1/carts", json!({"customer": cus, "currency": "EUR", "items": [draft]})).await;
    assert_error(s, &e, 400, Some("items[0]"));
    let (s, e) = app.post("/v1/carts", json!({"customer": cus, "currency": "INR", "items": [rust]})).await;
    assert_error(s, &e, 400, Some("items[0]"));
    let (s, e) = app.post("/v1/carts", json!({"customer": cus, "items": ["crs_nothere"]})).await;
    assert_error(s, &e, 404, Some("items[0]"));
    assert_eq!(app.count("carts").await, carts_before, "a refused cart writes nothing");
    let (s, cart) = app.post("/v1/carts", json!({"customer": cus, "currency": "EUR"})).await;
    assert_eq!(s, 201);
    let cid = cart["id"].as_str().unwrap();
    let (s, e) = app
        .post(
            &format!("/v1/carts/{cid}/checkout"),
            json!({"success_url": "https://a.example/", "cancel_url": "https://a.example/"}),
        )
        .await;
    assert_error(s, &e, 400, Some("items"));
    let (s, e) = app.post(&format!("/v1/carts/{cid}/coupon"), json!({"coupon": "NOPE"})).await;
    assert_error(s, &e, 400, Some("coupon"));
    // A coupon for plans only does not apply to a course.
    app.post("/v1/coupons", json!({"code": "PLANS", "percent_off_bps": 1000, "duration": "once", "applies_to": "plans", "applies_to_ids": ["grow"]})).await;
    app.post(&format!("/v1/carts/{cid}/items"), json!({"course": rust})).await;
    let (s, e) = app.post(&format!("/v1/carts/{cid}/coupon"), json!({"coupon": "PLANS"})).await;
    assert_error(s, &e, 400, Some("coupon"));
    // Course fields.
    let (s, e) = app.post("/v1/courses", json!({"instructor": ana, "title": "X", "prices": {"XXQ": 100}})).await;
    assert_error(s, &e, 400, Some("prices.XXQ"));
    let (s, e) =
        app.post("/v1/courses", json!({"instructor": ana, "title": "X", "prices": {"eur": 1, "EUR": 2}})).await;
    assert_error(s, &e, 400, Some("prices.eur"));
    let (s, e) = app.post("/v1/payout_runs", json!({"as_of": 99_999_999_999_999i64})).await;
    assert_error(s, &e, 400, Some("as_of"));
    let (s, e) = app.post("/v1/courses", json!({"instructor": ana, "title": "X", "prices": {"EUR": -1}})).await;
    assert_error(s, &e, 400, Some("prices.EUR"));
    let (s, e) =
        app.post("/v1/courses", json!({"instructor": ana, "title": "X", "level": "guru", "prices": {"EUR": 1}})).await;
    assert_error(s, &e, 400, Some("level"));
    let (s, e) = app.post("/v1/courses", json!({"title": "X", "prices": {"EUR": 1}})).await;
    assert_error(s, &e, 400, Some("instructor"));
    let (s, e) = app
        .post(
            "/v1/courses",
            json!({"instructor": ana, "kind": "bundle", "title": "B", "prices": {"EUR": 1}, "courses": [rust]}),
        )
        .await;
    assert_error(s, &e, 400, Some("courses"));
    let (s, e) = app.post(&format!("/v1/courses/{draft}/publish"), json!({})).await;
    assert_error(s, &e, 400, Some("description"));
    // Items of a plain checkout session cannot smuggle a course in.
    let (s, e) = app
        .post(
            "/v1/checkout/sessions",
            json!({"customer": cus, "mode": "payment", "items": [{"description": "x", "unit_amount": 1, "course": rust}],
                   "success_url": "https://a.example/", "cancel_url": "https://a.example/"}),
        )
        .await;
    assert_error(s, &e, 400, Some("items[0].course"));
    // Instructors and affiliates.
    let (s, e) = app.post("/v1/instructors", json!({"external_id": "u-ana", "name": "Again"})).await;
    assert_eq!((s, e["error"]["code"].as_str()), (409, Some("instructor_exists")));
    let (s, e) = app.post("/v1/instructors", json!({"external_id": "u-x", "name": "X", "share_bps": 10_001})).await;
    assert_error(s, &e, 400, Some("share_bps"));
    let (s, e) = app.post("/v1/instructors", json!({"external_id": "u-y", "name": "Y", "payout_method": "bank_transfer", "payout_details": {"iban": "nope"}})).await;
    assert_error(s, &e, 400, Some("payout_details.iban"));
    let (s, e) = app.post("/v1/affiliates", json!({"external_id": "u-z", "name": "Z", "code": "a b"})).await;
    assert_error(s, &e, 400, Some("code"));
    let (_, aff) = app.post("/v1/affiliates", json!({"external_id": "u-z", "name": "Z"})).await;
    let (s, e) = app
        .post(&format!("/v1/affiliates/{}/status", aff["id"].as_str().unwrap()), json!({"status": "suspended"}))
        .await;
    assert_error(s, &e, 400, Some("status"));
    let (s, e) = app.post("/v1/affiliate_clicks", json!({"code": aff["code"], "ip": "not-an-ip"})).await;
    assert_error(s, &e, 400, Some("ip"));
    let (s, e) = app.get(&format!("/v1/instructors/{ana}/statement?period=2026-13")).await;
    assert_error(s, &e, 400, Some("period"));
    // A course unpublished while in a cart: the cart still shows, without
    // it in the totals, and cannot be checked out until it is removed.
    app.post(&format!("/v1/carts/{cid}/coupon"), json!({"coupon": null})).await;
    let (s, _) = app.post(&format!("/v1/courses/{rust}/unpublish"), json!({})).await;
    assert_eq!(s, 200);
    let (s, c) = app.get(&format!("/v1/carts/{cid}")).await;
    assert_eq!((s, c["items"][0]["available"].as_bool(), c["total"].as_i64()), (200, Some(false), Some(0)), "{c}");
    let (s, e) = app
        .post(
            &format!("/v1/carts/{cid}/checkout"),
            json!({"success_url": "https://a.example/", "cancel_url": "https://a.example/"}),
        )
        .await;
    assert_error(s, &e, 400, Some("items[0]"));
}

#[tokio::test]
async fn a_bundle_enrolls_its_courses_and_a_bank_transfer_payout_is_exported() {
    let app = TestApp::spawn_with(|c| {
        c.background_jobs = false;
        c.refund_window_days = 0;
        c.payout_minimum = 1;
    })
    .await;
    let (s, ana) = app
        .post(
            "/v1/instructors",
            json!({"external_id": "u-ana", "name": "Ana", "payout_method": "bank_transfer",
                   "payout_details": {"iban": "DE89370400440532013000", "account_name": "Ana Lopes"}}),
        )
        .await;
    assert_eq!(s, 201, "{ana}");
    let ana = ana["id"].as_str().unwrap().to_string();
    let a = course(&app, &ana, "Part one", 2_000).await;
    let b = course(&app, &ana, "Part two", 2_000).await;
    let (s, bundle) = app
        .post(
            "/v1/courses",
            json!({"instructor": ana, "kind": "bundle", "title": "The series", "description": "Both parts.",
                   "prices": {"EUR": 3_000}, "courses": [a, b]}),
        )
        .await;
    assert_eq!((s, bundle["object"].as_str()), (201, Some("bundle")), "{bundle}");
    let bundle = bundle["id"].as_str().unwrap().to_string();
    assert!(bundle.starts_with("bnd_"));
    let (s, _) = app.post(&format!("/v1/courses/{bundle}/publish"), json!({})).await;
    assert_eq!(s, 200);
    let (_, cus) = app.post("/v1/customers", json!({"country": "US"})).await;
    let cus = cus["id"].as_str().unwrap().to_string();
    let (_, cart) = app.post("/v1/carts", json!({"customer": cus, "currency": "EUR", "items": [bundle]})).await;
    let order = buy(&app, &cart).await;
    assert_eq!(order["items"][0]["instructor_share"], 2_100);
    // The entitlement check answers for the bundle and each course.
    for id in [&bundle, &a, &b] {
        let (s, ch) = app.get(&format!("/v1/entitlements/check?customer={cus}&course={id}")).await;
        assert_eq!((s, ch["allowed"].as_bool()), (200, Some(true)), "{ch}");
    }
    let (_, other) = app.post("/v1/customers", json!({"country": "US"})).await;
    let (_, ch) =
        app.get(&format!("/v1/entitlements/check?customer={}&course={a}", other["id"].as_str().unwrap())).await;
    assert_eq!(ch["allowed"], false);
    let (s, e) = app.get(&format!("/v1/entitlements/check?customer={cus}&course=crs_nothere")).await;
    assert_error(s, &e, 404, Some("course"));
    let (_, en) = app.get(&format!("/v1/enrollments?customer={cus}")).await;
    let mut got: Vec<String> =
        en["data"].as_array().unwrap().iter().map(|e| e["course"].as_str().unwrap().to_string()).collect();
    got.sort();
    let mut want = vec![a.clone(), b.clone()];
    want.sort();
    assert_eq!(got, want);
    // Owning both parts, the buyer cannot buy the bundle again.
    let (s, e) = app.post("/v1/carts", json!({"customer": cus, "currency": "EUR", "items": [bundle]})).await;
    assert_error(s, &e, 400, Some("items[0]"));
    let (s, run) = app.post("/v1/payout_runs", json!({})).await;
    assert_eq!(s, 200, "{run}");
    let period = run["period"].as_str().unwrap().to_string();
    let (_, payouts) = app.get(&format!("/v1/payouts?period={period}")).await;
    assert_eq!(
        (payouts["data"][0]["status"].as_str(), payouts["data"][0]["amount"].as_i64()),
        (Some("in_transit"), Some(2_100))
    );
    let r = app.req(reqwest::Method::GET, &format!("/v1/payouts/export?period={period}")).send().await.unwrap();
    let csv = r.text().await.unwrap();
    let line = csv.lines().nth(1).expect("one transfer");
    assert!(line.contains("\"Ana Lopes\",DE89370400440532013000,EUR,21.00,BURSAR-"), "{csv}");
    assert_eq!(bal(&balances(&app).await, "payouts_in_transit"), 2_100);
    let (_, earn) = app.get(&format!("/v1/instructors/{ana}/earnings")).await;
    assert_eq!(earn["totals"]["EUR"]["in_transit"], 2_100);
    // The bank returns the transfer: the money is owed to Ana again and the
    // next run pays it; that transfer the bank confirms.
    let po = payouts["data"][0]["id"].as_str().unwrap().to_string();
    let (s, e) = app.post(&format!("/v1/payouts/{po}/fail"), json!({"reason": ""})).await;
    assert_error(s, &e, 400, Some("reason"));
    let (s, f) = app.post(&format!("/v1/payouts/{po}/fail"), json!({"reason": "account closed"})).await;
    assert_eq!((s, f["status"].as_str()), (200, Some("failed")), "{f}");
    let (s, e) = app.post(&format!("/v1/payouts/{po}/confirm"), json!({})).await;
    assert_eq!((s, e["error"]["code"].as_str()), (409, Some("payout_not_in_transit")));
    let b = balances(&app).await;
    assert_eq!((bal(&b, "payouts_in_transit"), bal(&b, &format!("instructor_payable:{ana}"))), (0, 2_100));
    let (_, run) = app.post("/v1/payout_runs", json!({})).await;
    let again = run["payouts"][0].as_str().expect("paid again").to_string();
    let (s, ok) = app.post(&format!("/v1/payouts/{again}/confirm"), json!({})).await;
    assert_eq!((s, ok["status"].as_str()), (200, Some("paid")), "{ok}");
    let b = balances(&app).await;
    assert_eq!((bal(&b, "payouts_in_transit"), bal(&b, &format!("instructor_payable:{ana}"))), (0, 0));
    let (_, earn) = app.get(&format!("/v1/instructors/{ana}/earnings")).await;
    assert_eq!(earn["totals"]["EUR"]["paid"], 2_100);
    app.verify_ledger().await;
}

#[tokio::test]
async fn learners_who_bought_this_also_bought_and_personal_suggestions() {
    let app = TestApp::spawn_with(|c| c.background_jobs = false).await;
    let ana = instructor(&app, "u-ana", "standard").await;
    let [a, b, c, d] = [
        course(&app, &ana, "Algebra", 1_000).await,
        course(&app, &ana, "Biology", 1_000).await,
        course(&app, &ana, "Chemistry", 1_000).await,
        course(&app, &ana, "Drawing", 1_000).await,
    ];
    let (_, clock) = app.post("/v1/test_clocks", json!({"frozen_time": T0})).await;
    let clock = clock["id"].as_str().unwrap().to_string();
    // A and B bought together twice, A and C once, D alone (twice: a best seller).
    for (i, basket) in [vec![&a, &b], vec![&a, &b], vec![&a, &c], vec![&d], vec![&d]].into_iter().enumerate() {
        let who = learner(&app, &clock, &format!("l{i}@x.fr")).await;
        let (s, cart) = app.post("/v1/carts", json!({"customer": who, "currency": "EUR", "items": basket})).await;
        assert_eq!(s, 201, "{cart}");
        buy(&app, &cart).await;
    }
    let (s, r) = app.get(&format!("/v1/courses/{a}/also_bought")).await;
    assert_eq!(s, 200, "{r}");
    let got: Vec<&str> = r["data"].as_array().unwrap().iter().map(|x| x["course"]["id"].as_str().unwrap()).collect();
    assert_eq!(got, vec![b.as_str(), c.as_str()], "B (2 of A's 3 buyers) before C (1 of 3); D never");
    // 2 / sqrt(3 × 2) and 1 / sqrt(3 × 1).
    assert!((r["data"][0]["score"].as_f64().unwrap() - 2.0 / 6f64.sqrt()).abs() < 1e-9);
    assert!((r["data"][1]["score"].as_f64().unwrap() - 1.0 / 3f64.sqrt()).abs() < 1e-9);
    // A learner holding A (completed): B then C, then the best seller D; never A.
    let me = learner(&app, &clock, "me@x.fr").await;
    let (_, cart) = app.post("/v1/carts", json!({"customer": me, "currency": "EUR", "items": [a]})).await;
    buy(&app, &cart).await;
    let (_, en) = app.get(&format!("/v1/enrollments?customer={me}")).await;
    let (s, _) =
        app.post(&format!("/v1/enrollments/{}/complete", en["data"][0]["id"].as_str().unwrap()), json!({})).await;
    assert_eq!(s, 200);
    let (s, r) = app.get(&format!("/v1/customers/{me}/recommendations?limit=3")).await;
    assert_eq!(s, 200, "{r}");
    let got: Vec<&str> = r["data"].as_array().unwrap().iter().map(|x| x["course"]["id"].as_str().unwrap()).collect();
    assert_eq!(got, vec![b.as_str(), c.as_str(), d.as_str()]);
    assert_eq!(r["data"][2]["score"], 0.0, "D comes from the best-seller fallback");
    // Unpublished courses are never suggested.
    app.post(&format!("/v1/courses/{b}/unpublish"), json!({})).await;
    let (_, r) = app.get(&format!("/v1/customers/{me}/recommendations?limit=3")).await;
    assert!(r["data"].as_array().unwrap().iter().all(|x| x["course"]["id"] != b.as_str()));
    let (s, e) = app.get(&format!("/v1/customers/{me}/recommendations?limit=0")).await;
    assert_error(s, &e, 400, Some("limit"));
}
