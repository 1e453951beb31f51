//! Carts that start a subscription beside their courses: one checkout, one
//! first invoice; the courses are an order split with instructors, the
//! plan is the subscription's, and renewals bill the plan alone.

use crate::common::*;
use crate::marketplace::{bal, bal_prefix, balances, buy, course, instructor, learner, pay, DAY, T0};
use serde_json::{json, Value};

async fn clock(app: &TestApp) -> String {
    let (_, c) = app.post("/v1/test_clocks", json!({"frozen_time": T0})).await;
    c["id"].as_str().unwrap().to_string()
}

async fn advance(app: &TestApp, clock: &str, to: i64) {
    let (s, b) = app.post(&format!("/v1/test_clocks/{clock}/advance"), json!({"frozen_time": to})).await;
    assert_eq!(s, 200, "{b}");
}

fn checkout_body() -> Value {
    json!({"success_url": "https://learn.example/thanks", "cancel_url": "https://learn.example/cart"})
}

#[tokio::test]
async fn a_plan_and_two_courses_are_one_invoice_whose_courses_are_split_and_whose_plan_renews_alone() {
    let app = TestApp::spawn_with(|c| {
        c.background_jobs = false;
        c.tax_origin_country = Some("DE".into());
    })
    .await;
    app.import_demo_catalog().await;
    let ana = instructor(&app, "u-ana", "standard").await;
    let ben = instructor(&app, "u-ben", "enterprise").await;
    let rust = course(&app, &ana, "Rust for Data", 4_999).await;
    let sql = course(&app, &ben, "SQL Mastery", 2_999).await;
    let (s, _) = app
        .post(
            "/v1/coupons",
            json!({"code": "WELCOME20", "percent_off_bps": 2000, "duration": "once", "applies_to": "all"}),
        )
        .await;
    assert_eq!(s, 200);
    let clock = clock(&app).await;
    let lea = learner(&app, &clock, "lea@example.fr").await;

    // Grow at €19.00 a month, VAT included, with two courses priced before
    // VAT, and a 20 % coupon on everything.
    let (s, cart) = app
        .post(
            "/v1/carts",
            json!({"customer": lea, "currency": "EUR", "items": [rust, sql], "subscription": {"plan": "grow"},
                   "coupon": "WELCOME20"}),
        )
        .await;
    assert_eq!(s, 201, "{cart}");
    let sub = &cart["subscription"];
    assert_eq!(
        (sub["plan"].as_str(), sub["interval"].as_str(), sub["unit_amount"].as_i64(), sub["tax_behavior"].as_str()),
        (Some("grow"), Some("month"), Some(1_900), Some("inclusive")),
        "{cart}"
    );
    // Plan: 1900 − 380 = 1520 with 253 VAT inside. Courses: 7998 − 1600 =
    // 6398, + 1280 VAT. Due: 1520 + 7678 = 9198.
    assert_eq!(
        [
            cart["subtotal"].as_i64(),
            cart["discount"].as_i64(),
            cart["tax"].as_i64(),
            cart["tax_included"].as_i64(),
            cart["total"].as_i64()
        ],
        [Some(9_898), Some(1_980), Some(1_533), Some(253), Some(9_198)],
        "{cart}"
    );

    // The buyer sees both on one checkout page and pays once.
    let cid = cart["id"].as_str().unwrap();
    let (s, cs) = app.post(&format!("/v1/carts/{cid}/checkout"), checkout_body()).await;
    assert_eq!(s, 201, "{cs}");
    assert_eq!((cs["mode"].as_str(), cs["amount_total"].as_i64()), (Some("subscription"), Some(9_198)), "{cs}");
    let page = app.client.get(app.url(&format!("/checkout/{}", cs["id"].as_str().unwrap()))).send().await.unwrap();
    let html = page.text().await.unwrap();
    for want in ["Grow (per month)", "Rust for Data", "SQL Mastery", "VAT 20.00 %", "91.98"] {
        assert!(html.contains(want), "{want} missing from the checkout page");
    }
    let order = buy(&app, &cart).await;
    let (_, cs) = app.get(&format!("/v1/checkout/sessions/{}", cs["id"].as_str().unwrap())).await;
    let sub_id = cs["subscription"].as_str().expect("a subscription").to_string();
    assert_eq!(order["subscription"], sub_id.as_str());
    // The order is the courses alone.
    assert_eq!(
        [order["subtotal"].as_i64(), order["discount"].as_i64(), order["tax"].as_i64(), order["total"].as_i64()],
        [Some(7_998), Some(1_600), Some(1_280), Some(7_678)],
        "{order}"
    );
    let items = order["items"].as_array().unwrap();
    assert_eq!(items.iter().map(|i| i["net"].as_i64().unwrap()).sum::<i64>(), 6_398);
    let share =
        |course: &str| items.iter().find(|i| i["course"] == course).unwrap()["instructor_share"].as_i64().unwrap();
    // One invoice, the plan's lines then the courses'.
    let (_, inv) = app.get(&format!("/v1/invoices/{}", order["invoice"].as_str().unwrap())).await;
    assert_eq!(
        (inv["status"].as_str(), inv["total"].as_i64(), inv["tax"].as_i64(), inv["tax_behavior"].as_str()),
        (Some("paid"), Some(9_198), Some(1_533), Some("mixed")),
        "{inv}"
    );
    assert_eq!(inv["subscription"], sub_id.as_str());
    let lines: Vec<(String, i64)> = inv["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["kind"].as_str().unwrap().to_string(), l["amount"].as_i64().unwrap()))
        .collect();
    let want: Vec<(String, i64)> =
        [("plan", 1_900), ("discount", -380), ("one_off", 4_999), ("one_off", 2_999), ("discount", -1_600)]
            .iter()
            .map(|(k, a)| (k.to_string(), *a))
            .collect();
    assert_eq!(lines, want);
    // The subscription is active, its coupon spent on the first invoice.
    let (_, s) = app.get(&format!("/v1/subscriptions/{sub_id}")).await;
    assert_eq!((s["status"].as_str(), s["coupon"].as_str()), (Some("active"), None), "{s}");
    // The ledger: the plan's net is subscription revenue; the courses' net
    // is one-off revenue, less the instructors' shares.
    let b = balances(&app).await;
    assert_eq!(bal(&b, "revenue:subscriptions"), 1_267);
    assert_eq!(bal(&b, &format!("instructor_payable:{ana}")), share(&rust));
    assert_eq!(bal(&b, &format!("instructor_payable:{ben}")), share(&sql));
    assert_eq!(bal(&b, "revenue:one_off") + share(&rust) + share(&sql), 6_398);
    assert_eq!(bal_prefix(&b, "tax_payable"), 1_533);
    app.verify_ledger().await;
    // Both courses are open to Lea, and the plan's features too.
    let (_, ch) = app.get(&format!("/v1/entitlements/check?customer={lea}&course={sql}")).await;
    assert_eq!(ch["allowed"], true, "{ch}");
    let (_, en) = app.get(&format!("/v1/enrollments?customer={lea}")).await;
    assert_eq!(en["data"].as_array().unwrap().len(), 2);

    // Day 10: the courses are refunded; the plan's part of the invoice is
    // not touched and the subscription goes on.
    advance(&app, &clock, T0 + 10 * DAY).await;
    let ids: Vec<Value> = items.iter().map(|i| i["id"].clone()).collect();
    let (s, o) = app.post(&format!("/v1/orders/{}/refund", order["id"].as_str().unwrap()), json!({"items": ids})).await;
    assert_eq!((s, o["status"].as_str()), (200, Some("refunded")), "{o}");
    let (_, inv) = app.get(&format!("/v1/invoices/{}", order["invoice"].as_str().unwrap())).await;
    assert_eq!(inv["amount_credited"].as_i64(), Some(7_678), "the courses' net and their VAT: {inv}");
    let b = balances(&app).await;
    assert_eq!(bal(&b, &format!("instructor_payable:{ana}")), 0);
    assert_eq!(bal(&b, &format!("instructor_payable:{ben}")), 0);
    assert_eq!(bal(&b, "revenue:subscriptions"), 1_267, "the plan's revenue stays");
    let (_, ch) = app.get(&format!("/v1/entitlements/check?customer={lea}&course={sql}")).await;
    assert_eq!(ch["allowed"], false);
    let (_, s) = app.get(&format!("/v1/subscriptions/{sub_id}")).await;
    assert_eq!(s["status"], "active");
    // The rest of the invoice (the plan) refunded through the invoice: the
    // order has nothing left to give back.
    let (s, r) = app.post(&format!("/v1/invoices/{}/refund", order["invoice"].as_str().unwrap()), json!({})).await;
    assert_eq!((s, r["amount_credited"].as_i64()), (200, Some(9_198)), "{r}");
    let (_, o) = app.get(&format!("/v1/orders/{}", order["id"].as_str().unwrap())).await;
    assert_eq!(o["items"].as_array().unwrap().iter().map(|i| i["refunded_net"].as_i64().unwrap()).sum::<i64>(), 6_398);
    app.verify_ledger().await;

    // January: the renewal bills the plan alone, at its full price.
    advance(&app, &clock, T0 + 32 * DAY).await;
    let (_, invs) = app.get(&format!("/v1/invoices?subscription={sub_id}")).await;
    let renewal = invs["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["billing_reason"] != "subscription_create")
        .cloned()
        .expect("a renewal invoice");
    assert_eq!(
        (renewal["total"].as_i64(), renewal["status"].as_str(), renewal["tax_behavior"].as_str()),
        (Some(1_900), Some("paid"), Some("inclusive")),
        "{renewal}"
    );
    assert_eq!(renewal["lines"].as_array().unwrap().len(), 1, "{renewal}");
    app.verify_ledger().await;
}

#[tokio::test]
async fn an_amount_off_goes_to_the_plan_and_an_invoice_refund_is_shared_with_the_order_in_proportion() {
    let app = TestApp::spawn_with(|c| {
        c.background_jobs = false;
        c.tax_origin_country = Some("DE".into());
    })
    .await;
    app.import_demo_catalog().await;
    let ana = instructor(&app, "u-ana", "standard").await;
    let rust = course(&app, &ana, "Rust for Data", 4_999).await;
    let (s, _) = app
        .post(
            "/v1/coupons",
            json!({"code": "TENOFF", "amount_off": {"EUR": 1_000}, "duration": "forever", "applies_to": "all"}),
        )
        .await;
    assert_eq!(s, 200);
    let clock = clock(&app).await;
    let lea = learner(&app, &clock, "lea@example.fr").await;
    let (s, cart) = app
        .post(
            "/v1/carts",
            json!({"customer": lea, "currency": "EUR", "items": [rust], "subscription": {"plan": "grow"},
                   "coupon": "TENOFF"}),
        )
        .await;
    assert_eq!(s, 201, "{cart}");
    // €10 comes off once, from the plan (900 with 150 VAT inside); the
    // course is 4999 + 1000 VAT.
    assert_eq!(
        [cart["discount"].as_i64(), cart["tax"].as_i64(), cart["tax_included"].as_i64(), cart["total"].as_i64()],
        [Some(1_000), Some(1_150), Some(150), Some(6_899)],
        "{cart}"
    );
    let order = buy(&app, &cart).await;
    assert_eq!(
        [order["subtotal"].as_i64(), order["discount"].as_i64(), order["tax"].as_i64(), order["total"].as_i64()],
        [Some(4_999), Some(0), Some(1_000), Some(5_999)],
        "{order}"
    );
    // The coupon is the subscription's for ever.
    let (_, s) = app.get(&format!("/v1/subscriptions/{}", order["subscription"].as_str().unwrap())).await;
    assert_eq!((s["coupon"].is_string(), s["discount_invoices_left"].as_i64()), (true, None), "{s}");

    // Half the invoice refunded by amount: 3449, of it 575 VAT, net 2874.
    // What was left of the invoice net of tax is 750 (plan) + 4999
    // (course); the order takes 2874 × 4999 ÷ 5749, rounded down: 2499.
    let inv = order["invoice"].as_str().unwrap();
    let (s, r) = app.post(&format!("/v1/invoices/{inv}/refund"), json!({"amount": 3_449})).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["credit_notes"][0]["subtotal"].as_i64(), Some(2_874), "{r}");
    let (_, o) = app.get(&format!("/v1/orders/{}", order["id"].as_str().unwrap())).await;
    assert_eq!(
        (o["status"].as_str(), o["items"][0]["refunded_net"].as_i64()),
        (Some("partially_refunded"), Some(2_499))
    );
    let share = o["items"][0]["instructor_share"].as_i64().unwrap();
    let clawed = o["items"][0]["clawed_back"].as_i64().unwrap();
    assert!(clawed > 0 && clawed < share, "a part of the share is clawed back: {o}");
    let b = balances(&app).await;
    assert_eq!(bal(&b, &format!("instructor_payable:{ana}")), share - clawed);
    // Still enrolled: the course is not refunded in full.
    let (_, ch) = app.get(&format!("/v1/entitlements/check?customer={lea}&course={rust}")).await;
    assert_eq!(ch["allowed"], true);
    // The rest of the invoice: everything left goes back, the order too.
    let (s, _) = app.post(&format!("/v1/invoices/{inv}/refund"), json!({})).await;
    assert_eq!(s, 200);
    let (_, o) = app.get(&format!("/v1/orders/{}", order["id"].as_str().unwrap())).await;
    assert_eq!((o["status"].as_str(), o["items"][0]["refunded_net"].as_i64()), (Some("refunded"), Some(4_999)));
    let b = balances(&app).await;
    assert_eq!(bal(&b, &format!("instructor_payable:{ana}")), 0);
    app.verify_ledger().await;
}

#[tokio::test]
async fn a_cart_of_a_plan_alone_starts_the_subscription_without_an_order() {
    let app = TestApp::spawn_with(|c| c.background_jobs = false).await;
    app.import_demo_catalog().await;
    let (_, cus) = app.post("/v1/customers", json!({"country": "US", "email": "sam@example.com"})).await;
    let cus = cus["id"].as_str().unwrap().to_string();
    let (s, cart) =
        app.post("/v1/carts", json!({"customer": cus, "subscription": {"plan": "scale", "interval": "year"}})).await;
    assert_eq!(s, 201, "{cart}");
    assert_eq!((cart["currency"].as_str(), cart["total"].as_i64()), (Some("USD"), Some(49_000)), "{cart}");
    let cid = cart["id"].as_str().unwrap();
    let (s, cs) = app.post(&format!("/v1/carts/{cid}/checkout"), checkout_body()).await;
    assert_eq!(s, 201, "{cs}");
    let sid = cs["id"].as_str().unwrap();
    pay(&app, sid).await;
    let (_, cs) = app.get(&format!("/v1/checkout/sessions/{sid}")).await;
    assert_eq!(cs["status"], "complete", "{cs}");
    let (_, sub) = app.get(&format!("/v1/subscriptions/{}", cs["subscription"].as_str().unwrap())).await;
    assert_eq!((sub["status"].as_str(), sub["interval"].as_str()), (Some("active"), Some("year")), "{sub}");
    let (_, orders) = app.get(&format!("/v1/orders?customer={cus}")).await;
    assert_eq!(orders["data"], json!([]), "no courses, no order");
    let (_, cart) = app.get(&format!("/v1/carts/{cid}")).await;
    assert_eq!(cart["status"], "ordered");
    let (s, e) = app.post(&format!("/v1/carts/{cid}/checkout"), checkout_body()).await;
    assert_eq!((s, e["error"]["code"].as_str()), (409, Some("cart_ordered")));
    app.verify_ledger().await;
}

#[tokio::test]
async fn a_carts_subscription_is_checked_replaced_repriced_and_removed() {
    let app = TestApp::spawn_with(|c| c.background_jobs = false).await;
    app.import_demo_catalog().await;
    let ana = instructor(&app, "u-ana", "standard").await;
    let rust = course(&app, &ana, "Rust for Data", 4_999).await;
    let (_, cus) = app.post("/v1/customers", json!({"country": "US"})).await;
    let cus = cus["id"].as_str().unwrap().to_string();
    let carts_before = app.count("carts").await;
    // Bad plans: each names its field and writes nothing.
    for (sub, status, field) in [
        (json!({"plan": "nope"}), 404, "subscription.plan"),
        (json!({"plan": "grow", "interval": "week"}), 400, "subscription.interval"),
        (json!({"plan": "grow", "quantity": 0}), 400, "subscription.quantity"),
        (json!({"plan": "starter"}), 400, "subscription.plan"),
    ] {
        let (s, e) = app.post("/v1/carts", json!({"customer": cus, "items": [rust], "subscription": sub})).await;
        assert_error(s, &e, status, Some(field));
    }
    // No price in the cart's currency.
    let (s, e) =
        app.post("/v1/carts", json!({"customer": cus, "currency": "CHF", "subscription": {"plan": "grow"}})).await;
    assert_error(s, &e, 400, Some("subscription.plan"));
    let (s, e) = app.post("/v1/carts", json!({"customer": cus, "subscription": {"plan": "grow", "seats": 2}})).await;
    assert_error(s, &e, 400, None);
    assert_eq!(app.count("carts").await, carts_before);

    let (s, cart) = app.post("/v1/carts", json!({"customer": cus, "items": [rust]})).await;
    assert_eq!(s, 201);
    let cid = cart["id"].as_str().unwrap().to_string();
    let (s, e) = app.delete(&format!("/v1/carts/{cid}/subscription")).await;
    assert_error(s, &e, 404, Some("subscription"));
    let (s, e) = app.post(&format!("/v1/carts/{cid}/subscription"), json!({"plan": "grow", "interval": "day"})).await;
    assert_error(s, &e, 400, Some("interval"));
    // Grow with 3 seats, then replaced by Scale yearly: one subscription.
    let (s, c) = app.post(&format!("/v1/carts/{cid}/subscription"), json!({"plan": "grow", "quantity": 3})).await;
    assert_eq!((s, c["subtotal"].as_i64()), (200, Some(5_499 + 3 * 1_900)), "{c}");
    let (s, c) = app.post(&format!("/v1/carts/{cid}/subscription"), json!({"plan": "scale", "interval": "year"})).await;
    assert_eq!(
        (s, c["subscription"]["plan"].as_str(), c["subscription"]["quantity"].as_i64()),
        (200, Some("scale"), Some(1))
    );
    assert_eq!(c["total"].as_i64(), Some(5_499 + 49_000), "{c}");
    // The cart follows the plan's current price.
    let (s, p) =
        app.post("/v1/plans/scale/prices", json!({"currency": "USD", "interval": "year", "amount": 45_000})).await;
    assert_eq!(s, 200, "{p}");
    let (_, c) = app.get(&format!("/v1/carts/{cid}")).await;
    assert_eq!((c["subscription"]["unit_amount"].as_i64(), c["total"].as_i64()), (Some(45_000), Some(5_499 + 45_000)));
    // A coupon for Grow only does not apply once Scale replaced it.
    app.post(
        "/v1/coupons",
        json!({"code": "GROWONLY", "percent_off_bps": 1000, "duration": "once", "applies_to": "plans", "applies_to_ids": ["grow"]}),
    )
    .await;
    let (s, e) = app.post(&format!("/v1/carts/{cid}/coupon"), json!({"coupon": "GROWONLY"})).await;
    assert_error(s, &e, 400, Some("coupon"));
    // While a checkout is open, the subscription cannot change.
    let (s, _) = app.post(&format!("/v1/carts/{cid}/checkout"), checkout_body()).await;
    assert_eq!(s, 201);
    let (s, e) = app.delete(&format!("/v1/carts/{cid}/subscription")).await;
    assert_eq!((s, e["error"]["code"].as_str()), (409, Some("cart_checked_out")));
    let (s, e) = app.post(&format!("/v1/carts/{cid}/subscription"), json!({"plan": "grow"})).await;
    assert_eq!((s, e["error"]["code"].as_str()), (409, Some("cart_checked_out")));
    // Removed from a fresh cart, the courses alone remain.
    let (_, cart) = app.post("/v1/carts", json!({"customer": cus, "subscription": {"plan": "grow"}})).await;
    let cid = cart["id"].as_str().unwrap();
    let (s, c) = app.delete(&format!("/v1/carts/{cid}/subscription")).await;
    assert_eq!((s, c["subscription"].is_null(), c["total"].as_i64()), (200, true, Some(0)), "{c}");
    let (s, e) = app.post(&format!("/v1/carts/{cid}/checkout"), checkout_body()).await;
    assert_error(s, &e, 400, Some("items"));
}
