//! The marketplace's money after the sale: referral rewards, refunds in
//! steps and refused by Stripe, a course never sold twice, late payments of
//! expired checkouts, concurrent cart checkouts, and affiliate links.

use crate::common::*;
use crate::marketplace::*;
use serde_json::{json, Value};

#[tokio::test]
async fn a_referral_gives_the_new_learner_credit_and_rewards_the_referrer_on_the_first_order() {
    let app = TestApp::spawn_with(|c| c.background_jobs = false).await;
    let ana_ins = instructor(&app, "u-ana", "standard").await;
    let rust = course(&app, &ana_ins, "Rust for Data", 1_000).await;
    let (_, clock) = app.post("/v1/test_clocks", json!({"frozen_time": T0})).await;
    let clock = clock["id"].as_str().unwrap().to_string();
    let referrer = learner(&app, &clock, "ref@x.fr").await;
    let newbie = learner(&app, &clock, "new@x.fr").await;
    // No program yet.
    let (_, info) = app.post(&format!("/v1/customers/{referrer}/referral_code"), json!({})).await;
    let code = info["code"].as_str().unwrap().to_string();
    let (s, e) = app.post("/v1/referrals", json!({"customer": newbie, "code": code})).await;
    assert_error(s, &e, 400, Some("code"));
    let (s, p) =
        app.post("/v1/referral_program", json!({"give": {"EUR": 300}, "reward": {"EUR": 1000}, "active": true})).await;
    assert_eq!(s, 200, "{p}");
    // The same code again for the same learner.
    let (_, again) = app.post(&format!("/v1/customers/{referrer}/referral_code"), json!({})).await;
    assert_eq!(again["code"], code.as_str());
    let (s, e) = app.post("/v1/referrals", json!({"customer": referrer, "code": code})).await;
    assert_error(s, &e, 400, Some("code"));
    let (s, e) = app.post("/v1/referrals", json!({"customer": newbie, "code": "NOSUCHCODE"})).await;
    assert_error(s, &e, 404, Some("code"));
    let (s, r) = app.post("/v1/referrals", json!({"customer": newbie, "code": code.to_lowercase()})).await;
    assert_eq!((s, r["status"].as_str(), r["give_amount"].as_i64()), (201, Some("pending"), Some(300)), "{r}");
    let (s, e) = app.post("/v1/referrals", json!({"customer": newbie, "code": code})).await;
    assert_eq!((s, e["error"]["code"].as_str()), (409, Some("already_referred")));
    assert_eq!(credit_of(&app, &newbie, "EUR").await, 300);
    assert_eq!(credit_of(&app, &referrer, "EUR").await, 0);
    // The first order uses the welcome credit and rewards the referrer, once.
    let (_, cart) = app.post("/v1/carts", json!({"customer": newbie, "currency": "EUR", "items": [rust]})).await;
    let order = buy(&app, &cart).await;
    let (_, inv) = app.get(&format!("/v1/invoices/{}", order["invoice"].as_str().unwrap())).await;
    assert_eq!(inv["credit_applied"], 300, "{inv}");
    assert_eq!(credit_of(&app, &newbie, "EUR").await, 0);
    assert_eq!(credit_of(&app, &referrer, "EUR").await, 1_000);
    let (_, info) = app.get(&format!("/v1/customers/{referrer}/referral_code")).await;
    assert_eq!(info["referrals"][0]["status"], "rewarded");
    assert_eq!(info["rewarded"]["EUR"], 1_000);
    let cs = ana_ins; // a second course for a second order
    let other = course(&app, &cs, "SQL Mastery", 800).await;
    let (_, cart) = app.post("/v1/carts", json!({"customer": newbie, "currency": "EUR", "items": [other]})).await;
    buy(&app, &cart).await;
    assert_eq!(credit_of(&app, &referrer, "EUR").await, 1_000, "rewarded once");
    // A learner who already bought cannot be referred.
    let (s, e) = app.post("/v1/referrals", json!({"customer": newbie, "code": code})).await;
    assert!(s == 400 || s == 409, "{e}");
    app.verify_ledger().await;
    // The order that earned the reward is refunded: part of it takes nothing
    // back, all of it takes the reward back from the referrer's credit.
    let oid = order["id"].as_str().unwrap();
    let first_item = order["items"][0]["id"].as_str().unwrap().to_string();
    let inv_path = format!("/v1/invoices/{}/refund", order["invoice"].as_str().unwrap());
    let (s, r) = app.post(&inv_path, json!({"amount": 120, "refund_to": "credit_balance"})).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(credit_of(&app, &referrer, "EUR").await, 1_000);
    let (s, o) = app
        .post(&format!("/v1/orders/{oid}/refund"), json!({"items": [first_item], "refund_to": "credit_balance"}))
        .await;
    assert_eq!((s, o["status"].as_str()), (200, Some("refunded")), "{o}");
    assert_eq!(credit_of(&app, &referrer, "EUR").await, 0, "the reward is taken back");
    let (_, info) = app.get(&format!("/v1/customers/{referrer}/referral_code")).await;
    assert_eq!(info["referrals"][0]["status"], "reversed");
    assert_eq!(info["rewarded"]["EUR"].as_i64().unwrap_or(0), 0, "{info}");
    let (_, evs) = app.get("/v1/events?type=referral.reversed").await;
    assert_eq!(evs["data"][0]["data"]["taken_back"], 1_000, "{evs}");
    app.verify_ledger().await;
}

/// A referrer who already spent part of their reward keeps what they spent:
/// a refund of the rewarding order takes back only the credit left.
#[tokio::test]
async fn a_refund_takes_back_only_the_referral_reward_not_yet_spent() {
    let app = TestApp::spawn_with(|c| c.background_jobs = false).await;
    let ana = instructor(&app, "u-ana", "standard").await;
    let rust = course(&app, &ana, "Rust for Data", 1_000).await;
    let sql = course(&app, &ana, "SQL Mastery", 500).await;
    let (_, clock) = app.post("/v1/test_clocks", json!({"frozen_time": T0})).await;
    let clock = clock["id"].as_str().unwrap().to_string();
    let referrer = learner(&app, &clock, "ref@x.fr").await;
    let newbie = learner(&app, &clock, "new@x.fr").await;
    app.post("/v1/referral_program", json!({"give": {"EUR": 0}, "reward": {"EUR": 1000}, "active": true})).await;
    let (_, info) = app.post(&format!("/v1/customers/{referrer}/referral_code"), json!({})).await;
    let (s, r) = app.post("/v1/referrals", json!({"customer": newbie, "code": info["code"]})).await;
    assert_eq!(s, 201, "{r}");
    let (_, cart) = app.post("/v1/carts", json!({"customer": newbie, "currency": "EUR", "items": [rust]})).await;
    let order = buy(&app, &cart).await;
    // The referrer spends 600 of the 1,000 (500 + 20 % VAT) on a course:
    // the credit covers it, so Pay completes the checkout at once.
    let (_, cart) = app.post("/v1/carts", json!({"customer": referrer, "currency": "EUR", "items": [sql]})).await;
    let (s, cs) = app
        .post(
            &format!("/v1/carts/{}/checkout", cart["id"].as_str().unwrap()),
            json!({"success_url": "https://learn.example/thanks", "cancel_url": "https://learn.example/cart"}),
        )
        .await;
    assert_eq!(s, 201, "{cs}");
    let session = cs["id"].as_str().unwrap();
    let token = app.checkout_token(session).await;
    let r = app.client.post(app.url(&format!("/checkout/{session}/pay"))).form(&[("form_token", &token)]).send().await;
    let r = r.unwrap();
    assert!(r.headers()["location"].to_str().unwrap().starts_with("https://learn.example/thanks"));
    assert_eq!(credit_of(&app, &referrer, "EUR").await, 400);
    let (s, r) = app.post(&format!("/v1/invoices/{}/refund", order["invoice"].as_str().unwrap()), json!({})).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(credit_of(&app, &referrer, "EUR").await, 0, "never below zero");
    let (_, evs) = app.get("/v1/events?type=referral.reversed").await;
    assert_eq!(
        (evs["data"][0]["data"]["reward"].as_i64(), evs["data"][0]["data"]["taken_back"].as_i64()),
        (Some(1_000), Some(400))
    );
    app.verify_ledger().await;
}

#[tokio::test]
async fn refunds_in_odd_steps_still_refund_the_whole_order_and_all_its_tax() {
    let app = TestApp::spawn_with(|c| {
        c.background_jobs = false;
        c.tax_origin_country = Some("DE".into());
    })
    .await;
    let ana = instructor(&app, "u-ana", "standard").await;
    let rust = course(&app, &ana, "Rust for Data", 1_000).await;
    let (_, clock) = app.post("/v1/test_clocks", json!({"frozen_time": T0})).await;
    let clock = clock["id"].as_str().unwrap().to_string();
    let (_, c) = app.post("/v1/customers", json!({"country": "DE", "test_clock": clock})).await;
    let cus = c["id"].as_str().unwrap().to_string();
    let (_, cart) = app.post("/v1/carts", json!({"customer": cus, "currency": "EUR", "items": [rust]})).await;
    let order = buy(&app, &cart).await;
    assert_eq!((order["total"].as_i64(), order["tax"].as_i64()), (Some(1_190), Some(190)));
    let inv = order["invoice"].as_str().unwrap().to_string();
    // Rounded one by one, the tax shares of 4, 10 and 1176 would be 1 + 2 + 188 = 191.
    for amount in [4, 10, 1_176] {
        let (s, r) = app
            .post(&format!("/v1/invoices/{inv}/refund"), json!({"amount": amount, "refund_to": "credit_balance"}))
            .await;
        assert_eq!(s, 200, "{r}");
    }
    let (_, invoice) = app.get(&format!("/v1/invoices/{inv}")).await;
    let tax: i64 = invoice["credit_notes"].as_array().unwrap().iter().map(|n| n["tax"].as_i64().unwrap()).sum();
    assert_eq!(tax, 190, "exactly the invoice's tax is credited back");
    let b = balances(&app).await;
    assert_eq!(bal_prefix(&b, "tax_payable"), 0);
    let (_, o) = app.get(&format!("/v1/orders/{}", order["id"].as_str().unwrap())).await;
    assert_eq!(o["status"], "refunded", "{o}");
    assert_eq!(o["items"][0]["clawed_back"], 700);
    assert_eq!(bal(&b, &format!("instructor_payable:{ana}")), 0);
    app.verify_ledger().await;
}

#[tokio::test]
async fn a_course_is_never_sold_twice_and_a_refund_keeps_what_another_order_grants() {
    let app = TestApp::spawn_with(|c| c.background_jobs = false).await;
    let ana = instructor(&app, "u-ana", "standard").await;
    let a = course(&app, &ana, "Part one", 1_000).await;
    let b = course(&app, &ana, "Part two", 1_000).await;
    let (_, bundle) = app
        .post(
            "/v1/courses",
            json!({"instructor": ana, "kind": "bundle", "title": "Series", "description": "Both.", "prices": {"EUR": 1_500}, "courses": [a, b]}),
        )
        .await;
    let bundle = bundle["id"].as_str().unwrap().to_string();
    app.post(&format!("/v1/courses/{bundle}/publish"), json!({})).await;
    let (_, clock) = app.post("/v1/test_clocks", json!({"frozen_time": T0})).await;
    let clock = clock["id"].as_str().unwrap().to_string();
    let cus = learner(&app, &clock, "x@x.fr").await;
    // A course and a bundle holding it do not go in one cart.
    let (s, e) = app.post("/v1/carts", json!({"customer": cus, "currency": "EUR", "items": [a, bundle]})).await;
    assert_error(s, &e, 400, Some("items[1]"));
    // Two carts with the same course: once one is paid, the other cannot check out.
    let (_, c1) = app.post("/v1/carts", json!({"customer": cus, "currency": "EUR", "items": [a]})).await;
    let (_, c2) = app.post("/v1/carts", json!({"customer": cus, "currency": "EUR", "items": [a]})).await;
    let first = buy(&app, &c1).await;
    let (s, e) = app
        .post(
            &format!("/v1/carts/{}/checkout", c2["id"].as_str().unwrap()),
            json!({"success_url": "https://l.example/", "cancel_url": "https://l.example/"}),
        )
        .await;
    assert_error(s, &e, 400, Some("items[0]"));
    // Then the bundle (part one is already owned, part two is not); when
    // the first order is refunded, part one stays open: the bundle grants it.
    let (s, c3) = app.post("/v1/carts", json!({"customer": cus, "currency": "EUR", "items": [bundle]})).await;
    assert_eq!(s, 201, "{c3}");
    buy(&app, &c3).await;
    let (s, _) = app.post(&format!("/v1/invoices/{}/refund", first["invoice"].as_str().unwrap()), json!({})).await;
    assert_eq!(s, 200);
    let held = |course: String| {
        let app = &app;
        let cus = cus.clone();
        async move {
            app.get(&format!("/v1/entitlements/check?customer={cus}&course={course}")).await.1["allowed"]
                .as_bool()
                .unwrap()
        }
    };
    assert!(held(a.clone()).await, "still granted by the bundle");
    assert!(held(b.clone()).await);
    let (_, en) = app.get(&format!("/v1/enrollments?customer={cus}&course={a}")).await;
    assert_eq!(en["data"][0]["status"], "active");
    assert_ne!(en["data"][0]["order"], first["id"], "now under the bundle's order");
    app.verify_ledger().await;
}

/// An app that pays through the fake Stripe and takes its webhooks.
async fn stripe_app(fake: &bursar_providers::testkit::stripe::FakeStripe) -> TestApp {
    use bursar_providers::testkit::stripe::{SECRET_KEY, WEBHOOK_SECRET};
    let base = fake.base_url().to_string();
    TestApp::spawn_with(move |c| {
        c.stripe_secret_key = Some(SECRET_KEY.into());
        c.stripe_api_base = base;
        c.stripe_webhook_secrets = vec![WEBHOOK_SECRET.into()];
        c.background_jobs = false;
    })
    .await
}

/// Buys a cart of courses in USD on the fake Stripe's hosted page; returns
/// the order and Stripe's payment intent.
async fn stripe_paid_cart(
    app: &TestApp,
    fake: &bursar_providers::testkit::stripe::FakeStripe,
    cus: &str,
    items: &[&str],
) -> (Value, String) {
    let (_, cart) = app.post("/v1/carts", json!({"customer": cus, "currency": "USD", "items": items})).await;
    let (s, cs) = app
        .post(
            &format!("/v1/carts/{}/checkout", cart["id"].as_str().unwrap()),
            json!({"success_url": "https://l.example/ok", "cancel_url": "https://l.example/no"}),
        )
        .await;
    assert_eq!(s, 201, "{cs}");
    let id = cs["id"].as_str().unwrap().to_string();
    let token = app.checkout_token(&id).await;
    let r =
        app.client.post(app.url(&format!("/checkout/{id}/pay"))).form(&[("form_token", &token)]).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 303);
    let stripe_session = fake.objects("checkout.session").pop().expect("a Stripe Checkout Session");
    let pi = fake.pay_checkout(stripe_session["id"].as_str().unwrap(), "pm_card_visa").unwrap();
    let r = app.client.get(app.url(&format!("/checkout/{id}/return"))).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 303);
    let (_, orders) = app.get(&format!("/v1/orders?customer={cus}")).await;
    (orders["data"].as_array().unwrap().last().cloned().expect("an order"), pi)
}

/// A refund made outside Bursar, in Stripe's dashboard.
async fn refund_in_stripe_dashboard(fake: &bursar_providers::testkit::stripe::FakeStripe, pi: String, amount: i64) {
    use bursar_providers::Connector;
    let mut cfg = bursar_providers::stripe::StripeConfig::new(bursar_providers::testkit::stripe::SECRET_KEY, vec![]);
    cfg.api_base = fake.base_url().to_string();
    let stripe = bursar_providers::stripe::StripeConnector::new(cfg).unwrap();
    stripe
        .refund(&bursar_providers::RefundRequest {
            refund_id: "dashboard_1".into(),
            provider_payment_id: pi,
            amount: bursar_providers::Money::new(amount, "USD"),
            reason: None,
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn a_refund_stripe_refuses_gives_the_claw_back_commission_and_enrollments_back() {
    let fake = bursar_providers::testkit::stripe::FakeStripe::start().await;
    let app = stripe_app(&fake).await;
    let ana = instructor(&app, "u-ana", "standard").await;
    let rust = course(&app, &ana, "Rust for Data", 5_000).await;
    let (_, aff) = app.post("/v1/affiliates", json!({"external_id": "u-cara", "name": "Cara", "code": "CARA"})).await;
    let aff = aff["id"].as_str().unwrap().to_string();
    app.post(&format!("/v1/affiliates/{aff}/status"), json!({"status": "approved", "commission_bps": 1000})).await;
    let (_, cus) = app.post("/v1/customers", json!({"country": "US", "email": "sam@example.com"})).await;
    let cus = cus["id"].as_str().unwrap().to_string();
    let (_, click) =
        app.post("/v1/affiliate_clicks", json!({"code": "CARA", "ip": "198.51.100.7", "customer": cus})).await;
    assert_eq!(click["object"], "affiliate_click");
    // Sam was referred: his first order rewards the referrer.
    app.post("/v1/referral_program", json!({"give": {"USD": 0}, "reward": {"USD": 700}, "active": true})).await;
    let (_, referrer) = app.post("/v1/customers", json!({"country": "US", "email": "ref@example.com"})).await;
    let referrer = referrer["id"].as_str().unwrap().to_string();
    let (_, info) = app.post(&format!("/v1/customers/{referrer}/referral_code"), json!({})).await;
    let (s, r) = app.post("/v1/referrals", json!({"customer": cus, "code": info["code"]})).await;
    assert_eq!(s, 201, "{r}");
    // USD 55.00 (the helper prices USD 5.00 above EUR). Paid on Stripe's page, then back.
    let (order, pi) = stripe_paid_cart(&app, &fake, &cus, &[&rust]).await;
    assert_eq!(order["items"][0]["instructor_share"], 3_850);
    assert_eq!(order["items"][0]["affiliate_commission"], 550);
    // Someone refunded the whole charge in Stripe's dashboard: Bursar's refund is refused.
    refund_in_stripe_dashboard(&fake, pi, 5_500).await;
    assert_eq!(credit_of(&app, &referrer, "USD").await, 700);
    let (s, r) = app.post(&format!("/v1/invoices/{}/refund", order["invoice"].as_str().unwrap()), json!({})).await;
    assert_eq!(s, 200, "{r}");
    let (status,): (String,) =
        sqlx::query_as("SELECT status FROM refunds").fetch_one(app.tdb.db.reader()).await.unwrap();
    assert_eq!(status, "failed");
    // The referral reward the refund took back is the referrer's again.
    assert_eq!(credit_of(&app, &referrer, "USD").await, 700);
    let (_, info) = app.get(&format!("/v1/customers/{referrer}/referral_code")).await;
    assert_eq!(info["referrals"][0]["status"], "rewarded");
    let (_, evs) = app.get("/v1/events?type=referral.reversed").await;
    assert_eq!(evs["data"][0]["data"]["taken_back"], 700, "taken back first: {evs}");
    // Everything the refund took back is given back.
    let (_, o) = app.get(&format!("/v1/orders/{}", order["id"].as_str().unwrap())).await;
    assert_eq!((o["status"].as_str(), o["items"][0]["clawed_back"].as_i64()), (Some("paid"), Some(0)), "{o}");
    let (_, comms) = app.get(&format!("/v1/commissions?affiliate={aff}")).await;
    assert_eq!(
        (comms["data"][0]["status"].as_str(), comms["data"][0]["amount"].as_i64()),
        (Some("pending"), Some(550))
    );
    let (_, earn) = app.get(&format!("/v1/instructors/{ana}/earnings")).await;
    let t = &earn["totals"]["USD"];
    assert_eq!(t["held"].as_i64().unwrap() + t["available"].as_i64().unwrap(), 3_850, "{earn}");
    let (_, ch) = app.get(&format!("/v1/entitlements/check?customer={cus}&course={rust}")).await;
    assert_eq!(ch["allowed"], true);
    let (_, b) = app.get("/v1/ledger/balances?currency=USD").await;
    assert_eq!(bal(&b, &format!("instructor_payable:{ana}")), 3_850);
    assert_eq!(bal(&b, &format!("affiliate_payable:{aff}")), 550);
    app.verify_ledger().await;
}

#[tokio::test]
async fn an_item_refund_stripe_refuses_gives_back_only_that_items_course_and_share() {
    let fake = bursar_providers::testkit::stripe::FakeStripe::start().await;
    let app = stripe_app(&fake).await;
    let ana = instructor(&app, "u-ana", "standard").await;
    let ben = instructor(&app, "u-ben", "standard").await;
    let rust = course(&app, &ana, "Rust for Data", 5_000).await;
    let sql = course(&app, &ben, "SQL Mastery", 2_000).await;
    let (_, cus) = app.post("/v1/customers", json!({"country": "US", "email": "sam@example.com"})).await;
    let cus = cus["id"].as_str().unwrap().to_string();
    // USD 55.00 + 25.00.
    let (order, pi) = stripe_paid_cart(&app, &fake, &cus, &[&rust, &sql]).await;
    let item =
        |course: &str| order["items"].as_array().unwrap().iter().find(|i| i["course"] == course).unwrap().clone();
    let (rust_item, sql_item) = (item(&rust), item(&sql));
    // 60.00 refunded in Stripe's dashboard leaves 20.00, too little for
    // Rust for Data (55.00): Bursar's refund of that item is refused.
    refund_in_stripe_dashboard(&fake, pi, 6_000).await;
    let (s, o) = app
        .post(&format!("/v1/orders/{}/refund", order["id"].as_str().unwrap()), json!({"items": [rust_item["id"]]}))
        .await;
    assert_eq!(s, 200, "{o}");
    let (status,): (String,) =
        sqlx::query_as("SELECT status FROM refunds").fetch_one(app.tdb.db.reader()).await.unwrap();
    assert_eq!(status, "failed");
    // Rust for Data is Sam's again, with Ana's share; SQL Mastery was never touched.
    let (_, o) = app.get(&format!("/v1/orders/{}", order["id"].as_str().unwrap())).await;
    assert_eq!(o["status"], "paid", "{o}");
    for i in o["items"].as_array().unwrap() {
        assert_eq!((i["refunded_net"].as_i64(), i["clawed_back"].as_i64()), (Some(0), Some(0)), "{o}");
    }
    for c in [&rust, &sql] {
        let (_, ch) = app.get(&format!("/v1/entitlements/check?customer={cus}&course={c}")).await;
        assert_eq!(ch["allowed"], true, "{c}");
    }
    let (_, evs) = app.get("/v1/events?type=enrollment.restored").await;
    let restored: Vec<&str> =
        evs["data"].as_array().unwrap().iter().map(|e| e["data"]["course"].as_str().unwrap()).collect();
    assert_eq!(restored, vec![rust.as_str()], "only the refunded item's course comes back");
    let (_, b) = app.get("/v1/ledger/balances?currency=USD").await;
    assert_eq!(bal(&b, &format!("instructor_payable:{ana}")), rust_item["instructor_share"].as_i64().unwrap());
    assert_eq!(bal(&b, &format!("instructor_payable:{ben}")), sql_item["instructor_share"].as_i64().unwrap());
    app.verify_ledger().await;
}

#[tokio::test]
async fn a_cart_paid_at_stripe_after_its_checkout_expired_orders_nothing_and_is_reported() {
    let fake = bursar_providers::testkit::stripe::FakeStripe::start().await;
    let app = stripe_app(&fake).await;
    let ana = instructor(&app, "u-ana", "standard").await;
    let rust = course(&app, &ana, "Rust for Data", 5_000).await;
    let (_, cus) = app.post("/v1/customers", json!({"country": "US", "email": "sam@example.com"})).await;
    let cus = cus["id"].as_str().unwrap().to_string();
    let (_, cart) = app.post("/v1/carts", json!({"customer": cus, "currency": "USD", "items": [rust]})).await;
    let cart_id = cart["id"].as_str().unwrap();
    let (_, cs) = app
        .post(
            &format!("/v1/carts/{cart_id}/checkout"),
            json!({"success_url": "https://l.example/ok", "cancel_url": "https://l.example/no"}),
        )
        .await;
    let id = cs["id"].as_str().unwrap().to_string();
    let token = app.checkout_token(&id).await;
    let r =
        app.client.post(app.url(&format!("/checkout/{id}/pay"))).form(&[("form_token", &token)]).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 303);
    // A day later Sam has not paid: the expiry job asks Stripe, then closes it.
    sqlx::query("UPDATE checkout_sessions SET expires_at = 0").execute(app.tdb.db.writer()).await.unwrap();
    assert_eq!(bursar_core::checkout::expire_due(&app.state).await.unwrap(), 1);
    // Then Sam pays on Stripe's page, still open in a tab; Stripe reports it.
    let stripe_session = fake.objects("checkout.session").pop().expect("a Stripe Checkout Session");
    let stripe_session = stripe_session["id"].as_str().unwrap();
    fake.pay_checkout(stripe_session, "pm_card_visa").unwrap();
    let hook = fake.session_event("checkout.session.completed", stripe_session);
    assert_eq!(fake.deliver(&app.url("/webhooks/stripe"), &hook).await, Ok(200));
    // The money is recorded; nothing is sold for a checkout that was closed.
    let (_, cs) = app.get(&format!("/v1/checkout/sessions/{id}")).await;
    let payment = cs["payment"].as_str().unwrap().to_string();
    assert_eq!(app.get(&format!("/v1/payments/{payment}")).await.1["status"], "completed");
    assert_eq!(app.get(&format!("/v1/invoices/{}", cs["invoice"].as_str().unwrap())).await.1["status"], "void");
    let (_, orders) = app.get(&format!("/v1/orders?customer={cus}")).await;
    assert_eq!(orders["data"], json!([]));
    let (_, ch) = app.get(&format!("/v1/entitlements/check?customer={cus}&course={rust}")).await;
    assert_eq!(ch["allowed"], false);
    assert_eq!(app.get(&format!("/v1/carts/{cart_id}")).await.1["status"], "open");
    // Staff see it in the reconciliation report, to give the money back.
    let (s, rep) = app.get("/v1/reports/reconciliation?provider=stripe").await;
    assert_eq!(s, 200, "{rep}");
    let found: Vec<&Value> = rep["differences"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["kind"] == "paid_closed_invoice" && d["payment"] == payment.as_str())
        .collect();
    assert_eq!(found.len(), 1, "{rep}");
    app.verify_ledger().await;
}

/// Many cart checkouts at once: each reads its cart inside its own
/// transaction, so none holds a connection while it waits for another (on
/// PostgreSQL, where both come from one pool of ten, waiting like that let
/// every connection be held and the requests fail with 503 under load).
#[tokio::test]
async fn many_cart_checkouts_at_once_all_succeed() {
    let app = TestApp::spawn_with(|c| c.background_jobs = false).await;
    let ana = instructor(&app, "u-ana", "standard").await;
    let a = course(&app, &ana, "Concurrency", 1_000).await;
    let mut carts = Vec::new();
    for i in 0..40 {
        let (s, c) = app.post("/v1/customers", json!({"country": "FR", "email": format!("l{i}@x.fr")})).await;
        assert_eq!(s, 200, "{c}");
        let (s, cart) = app.post("/v1/carts", json!({"customer": c["id"], "currency": "EUR", "items": [a]})).await;
        assert_eq!(s, 201, "{cart}");
        carts.push(cart["id"].as_str().unwrap().to_string());
    }
    let paths: Vec<String> = carts.iter().map(|id| format!("/v1/carts/{id}/checkout")).collect();
    let body = json!({"success_url": "https://learn.example/thanks", "cancel_url": "https://learn.example/cart"});
    let results = futures::future::join_all(paths.iter().map(|p| app.post(p, body.clone()))).await;
    for (s, body) in &results {
        assert_eq!(*s, 201, "{body}");
        assert_eq!(body["amount_total"], 1_200, "1,000 + 20 % French VAT: {body}");
    }
    assert_eq!(app.count("checkout_sessions").await, 40);
}

/// An affiliate link: the visit is recorded (hashed IP, user agent,
/// referer) and the visitor lands on the platform's site with the click
/// id, which the cart then carries to the commission.
#[tokio::test]
async fn an_affiliate_link_records_the_click_and_lands_on_the_platform_with_it() {
    let app = TestApp::spawn_with(|c| {
        c.background_jobs = false;
        c.affiliate_landing_url = Some("https://learn.example".into());
        c.client_ip_header = Some("X-Forwarded-For".into());
    })
    .await;
    let ana = instructor(&app, "u-ana", "standard").await;
    let a = course(&app, &ana, "Linked", 1_000).await;
    let (_, aff) = app.post("/v1/affiliates", json!({"external_id": "u-cara", "name": "Cara", "code": "CARA-1"})).await;
    let aff_id = aff["id"].as_str().unwrap().to_string();
    let visit = |path: &str| {
        app.client
            .get(app.url(path))
            .header("User-Agent", "Mozilla/5.0 (test)")
            .header("Referer", "https://blog.example/post")
            .header("X-Forwarded-For", "198.51.100.1, 203.0.113.9")
            .send()
    };
    // Not approved yet: the visitor still lands, without a click.
    let r = visit("/a/test/cara-1?to=/courses/linked").await.unwrap();
    assert_eq!(r.status().as_u16(), 302);
    assert_eq!(r.headers()["location"], "https://learn.example/courses/linked");
    assert_eq!(app.count("affiliate_clicks").await, 0);
    let (s, _) = app.post(&format!("/v1/affiliates/{aff_id}/status"), json!({"status": "approved"})).await;
    assert_eq!(s, 200);
    // A live-mode link does not find a test-mode affiliate.
    let r = visit("/a/CARA-1").await.unwrap();
    assert_eq!(r.headers()["location"], "https://learn.example/");
    assert_eq!(app.count("affiliate_clicks").await, 0);
    let r = visit("/a/test/cara-1?to=/courses/linked%3Fref%3Dx%23reviews").await.unwrap();
    assert_eq!(r.status().as_u16(), 302);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let prefix = "https://learn.example/courses/linked?ref=x&bursar_click=";
    assert!(location.starts_with(prefix) && location.ends_with("#reviews"), "{location}");
    let click = location[prefix.len()..location.len() - "#reviews".len()].to_string();
    let (ip_hash, ua, referer, landing): (String, String, String, String) =
        sqlx::query_as("SELECT ip_hash, user_agent, referer, landing_url FROM affiliate_clicks WHERE id = $1")
            .bind(&click)
            .fetch_one(app.tdb.db.reader())
            .await
            .unwrap();
    assert_eq!(ip_hash.len(), 64, "a hash, never the address");
    assert!(!ip_hash.contains("203.0.113.9"));
    assert_eq!((ua.as_str(), referer.as_str()), ("Mozilla/5.0 (test)", "https://blog.example/post"));
    assert_eq!(landing, "https://learn.example/courses/linked?ref=x#reviews");
    // The nearest proxy's address is the visitor's: the same hash as a
    // click reported by API for that address.
    let (s, api_click) = app.post("/v1/affiliate_clicks", json!({"code": "CARA-1", "ip": "203.0.113.9"})).await;
    assert_eq!(s, 201, "{api_click}");
    let hashes: Vec<String> = sqlx::query_scalar("SELECT DISTINCT ip_hash FROM affiliate_clicks")
        .fetch_all(app.tdb.db.reader())
        .await
        .unwrap();
    assert_eq!(hashes, [ip_hash]);
    // The click goes on the cart and earns the commission.
    let (_, clock) = app.post("/v1/test_clocks", json!({"frozen_time": T0})).await;
    let cus = learner(&app, clock["id"].as_str().unwrap(), "l@x.fr").await;
    let (s, cart) = app
        .post("/v1/carts", json!({"customer": cus, "currency": "EUR", "items": [a], "affiliate_click": click}))
        .await;
    assert_eq!(s, 201, "{cart}");
    let order = buy(&app, &cart).await;
    assert_eq!(order["affiliate"], aff_id, "{order}");
    // Links only reach the platform's own site.
    for bad in ["//evil.example", "https://evil.example", "/%5Cevil", "x"] {
        let r = app.client.get(app.url(&format!("/a/test/CARA-1?to={bad}"))).send().await.unwrap();
        let status = r.status().as_u16();
        let body: Value = r.json().await.unwrap();
        assert_error(status, &body, 400, Some("to"));
    }
    assert_eq!(app.count("affiliate_clicks").await, 2, "refused links record nothing");
}

/// Instructor sessions retry safely with an Idempotency-Key, and their
/// keys are their own: the same key from another instructor (or the
/// platform) is a different request, never a replay of this one.
#[tokio::test]
async fn instructor_requests_are_idempotent_and_their_keys_are_their_own() {
    let app = TestApp::spawn().await;
    let ana = instructor(&app, "u-ana", "standard").await;
    let ben = instructor(&app, "u-ben", "standard").await;
    let mut tokens = Vec::new();
    for who in [&ana, &ben] {
        let (s, sess) = app.post(&format!("/v1/instructors/{who}/sessions"), json!({})).await;
        assert_eq!(s, 201, "{sess}");
        tokens.push(sess["token"].as_str().unwrap().to_string());
    }
    let create = |token: &str, title: &str| {
        app.client
            .post(app.url("/v1/courses"))
            .bearer_auth(token)
            .header("Idempotency-Key", "new-course-1")
            .json(&json!({"title": title, "description": "A course.", "prices": {"EUR": 900}}))
            .send()
    };
    let (s, first) = json(create(&tokens[0], "Ana's course").await.unwrap()).await;
    assert_eq!(s, 201, "{first}");
    let r = create(&tokens[0], "Ana's course").await.unwrap();
    assert_eq!(r.headers().get("idempotent-replayed").map(|v| v.to_str().unwrap()), Some("true"));
    let (s, again) = json(r).await;
    assert_eq!((s, &again["id"]), (201, &first["id"]), "the retry answers the first response");
    let (s, e) = json(create(&tokens[0], "Another title").await.unwrap()).await;
    assert_error(s, &e, 422, Some("Idempotency-Key"));
    // Ben's request with the same key is his own.
    let (s, bens) = json(create(&tokens[1], "Ben's course").await.unwrap()).await;
    assert_eq!((s, bens["instructor"].as_str()), (201, Some(ben.as_str())), "{bens}");
    assert_ne!(bens["id"], first["id"]);
    // And so is the platform's.
    let r = app
        .req(reqwest::Method::POST, "/v1/courses")
        .header("Idempotency-Key", "new-course-1")
        .json(&json!({"instructor": ana, "title": "Platform's", "description": "A course.", "prices": {"EUR": 900}}))
        .send()
        .await
        .unwrap();
    let (s, platform) = json(r).await;
    assert_eq!(s, 201, "{platform}");
    assert_ne!(platform["id"], first["id"]);
    assert_eq!(app.count("courses").await, 3);
}

/// Refunding one course of an order: the credit note is that course's net
/// and its VAT, only its instructor gives earnings back, only its
/// enrollment goes; the last item's refund credits exactly what is left.
#[tokio::test]
async fn refunding_one_item_takes_back_only_that_course_and_its_instructors_share() {
    let app = TestApp::spawn_with(|c| c.background_jobs = false).await;
    let ana = instructor(&app, "u-ana", "standard").await;
    let ben = instructor(&app, "u-ben", "standard").await;
    let a = course(&app, &ana, "Ana's course", 1_000).await;
    let b = course(&app, &ben, "Ben's course", 2_000).await;
    let (_, clock) = app.post("/v1/test_clocks", json!({"frozen_time": T0})).await;
    let cus = learner(&app, clock["id"].as_str().unwrap(), "l@x.fr").await;
    let (_, cart) = app.post("/v1/carts", json!({"customer": cus, "currency": "EUR", "items": [a, b]})).await;
    let order = buy(&app, &cart).await;
    // 3,000 net + 20 % French VAT.
    assert_eq!((order["total"].as_i64(), order["tax"].as_i64()), (Some(3_600), Some(600)), "{order}");
    let oid = order["id"].as_str().unwrap().to_string();
    let item_of = |o: &Value, course: &str| -> Value {
        o["items"].as_array().unwrap().iter().find(|i| i["course"] == course).unwrap().clone()
    };
    let (ia, ib) = (
        item_of(&order, &a)["id"].as_str().unwrap().to_string(),
        item_of(&order, &b)["id"].as_str().unwrap().to_string(),
    );
    let before = balances(&app).await;
    assert_eq!(bal(&before, &format!("instructor_payable:{ana}")), 700);
    assert_eq!(bal(&before, &format!("instructor_payable:{ben}")), 1_400);

    // Bad input changes nothing.
    let path = format!("/v1/orders/{oid}/refund");
    let (s, e) = app.post(&path, json!({"items": []})).await;
    assert_error(s, &e, 400, Some("items"));
    let (s, e) = app.post(&path, json!({"items": ["oi_nope"]})).await;
    assert_error(s, &e, 400, Some("items[0]"));
    let (s, e) = app.post(&path, json!({"items": [ib, ib]})).await;
    assert_error(s, &e, 400, Some("items[1]"));
    let (s, e) = app.post(&path, json!({"items": [ib], "refund_to": "cash"})).await;
    assert_error(s, &e, 400, Some("refund_to"));
    assert_eq!(app.count("credit_notes").await, 0);

    // Ben's course: 2,000 net and its 400 VAT.
    let (s, o) = app.post(&path, json!({"items": [ib]})).await;
    assert_eq!(s, 200, "{o}");
    assert_eq!(o["status"], "partially_refunded");
    assert_eq!(item_of(&o, &b)["refunded_net"], 2_000);
    assert_eq!(item_of(&o, &a)["refunded_net"], 0);
    let (_, inv) = app.get(&format!("/v1/invoices/{}", o["invoice"].as_str().unwrap())).await;
    let notes = inv["credit_notes"].as_array().unwrap();
    assert_eq!((notes[0]["total"].as_i64(), notes[0]["tax"].as_i64()), (Some(2_400), Some(400)), "{inv}");
    let after = balances(&app).await;
    assert_eq!(bal(&after, &format!("instructor_payable:{ana}")), 700, "Ana keeps her share");
    assert_eq!(bal(&after, &format!("instructor_payable:{ben}")), 0);
    let (_, en) = app.get(&format!("/v1/enrollments?customer={cus}")).await;
    let status_of = |en: &Value, course: &str| {
        en["data"].as_array().unwrap().iter().find(|e| e["course"] == course).unwrap()["status"].clone()
    };
    assert_eq!((status_of(&en, &a), status_of(&en, &b)), (json!("active"), json!("revoked")), "{en}");
    let (_, check) = app.get(&format!("/v1/entitlements/check?customer={cus}&course={b}")).await;
    assert_eq!(check["allowed"], false, "{check}");
    app.verify_ledger().await;
    // Twice is refused; then Ana's: all that is left (1,000 + 200 VAT).
    let (s, e) = app.post(&path, json!({"items": [ib]})).await;
    assert_error(s, &e, 400, Some("items[0]"));
    let (s, o) = app.post(&path, json!({"items": [ia], "refund_to": "credit_balance"})).await;
    assert_eq!(s, 200, "{o}");
    assert_eq!(o["status"], "refunded");
    let (_, inv) = app.get(&format!("/v1/invoices/{}", o["invoice"].as_str().unwrap())).await;
    let notes = inv["credit_notes"].as_array().unwrap();
    assert_eq!((notes[1]["total"].as_i64(), notes[1]["tax"].as_i64()), (Some(1_200), Some(200)), "{inv}");
    let end = balances(&app).await;
    assert_eq!(bal(&end, &format!("instructor_payable:{ana}")), 0);
    assert_eq!(bal_prefix(&end, "tax_payable"), 0, "all VAT credited back");
    let (_, en) = app.get(&format!("/v1/enrollments?customer={cus}")).await;
    assert_eq!(status_of(&en, &a), json!("revoked"));
    app.verify_ledger().await;
}
