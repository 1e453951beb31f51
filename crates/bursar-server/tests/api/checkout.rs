use crate::common::*;
use bursar_providers::testkit::stripe::{FakeStripe, Fault, SECRET_KEY};
use serde_json::{json, Value};

async fn catalog(app: &TestApp) {
    let doc: Value = serde_json::from_str(bursar_core::demo::DEMO_CATALOG).unwrap();
    let (s, _) = app.post("/v1/catalog/import", doc).await;
    assert_eq!(s, 200);
}

async fn customer(app: &TestApp) -> String {
    let (s, c) = app.post("/v1/customers", json!({"country": "US", "email": "sam@example.com"})).await;
    assert_eq!(s, 200, "{c}");
    c["id"].as_str().unwrap().to_string()
}

/// A page of the hosted checkout (no API key: the buyer's browser).
async fn page(app: &TestApp, path: &str) -> (u16, String) {
    let r = app.client.get(app.url(path)).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// Submits a form; returns the status and the Location it redirects to.
async fn submit(app: &TestApp, path: &str, form: &[(&str, &str)]) -> (u16, String, String) {
    let r = app.client.post(app.url(path)).form(form).send().await.unwrap();
    let loc = r.headers().get("location").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    (r.status().as_u16(), loc, r.text().await.unwrap())
}

async fn session(app: &TestApp, body: Value) -> Value {
    let (s, cs) = app.post("/v1/checkout/sessions", body).await;
    assert_eq!(s, 201, "{cs}");
    cs
}

#[tokio::test]
async fn buy_a_plan_with_a_coupon_through_the_sandbox_page() {
    let app = TestApp::spawn_with(|c| c.background_jobs = false).await;
    catalog(&app).await;
    let (s, _) = app
        .post(
            "/v1/coupons",
            json!({"code": "SAVE20", "percent_off_bps": 2000, "duration": "repeating", "duration_in_months": 3}),
        )
        .await;
    assert_eq!(s, 200);
    let cus = customer(&app).await;
    let cs = session(
        &app,
        json!({"customer": cus, "mode": "subscription", "plan": "grow",
               "success_url": "https://platform.example/welcome", "cancel_url": "https://platform.example/pricing"}),
    )
    .await;
    let id = cs["id"].as_str().unwrap();
    assert_eq!(
        (cs["status"].as_str(), cs["amount_total"].as_i64(), cs["currency"].as_str()),
        (Some("open"), Some(1900), Some("USD"))
    );
    assert!(cs["url"].as_str().unwrap().ends_with(&format!("/checkout/{id}")));
    let (s, html) = page(&app, &format!("/checkout/{id}")).await;
    assert_eq!(s, 200);
    assert!(html.contains("Test mode") && html.contains("$19.00") && html.contains("Grow"), "{html}");
    let token = form_token(&html);
    // A coupon typed by the buyer.
    let (s, loc, _) =
        submit(&app, &format!("/checkout/{id}/coupon"), &[("form_token", &token), ("code", "SAVE20")]).await;
    assert_eq!((s, loc.as_str()), (303, format!("/checkout/{id}").as_str()));
    let (_, html) = page(&app, &format!("/checkout/{id}")).await;
    assert!(html.contains("-$3.80") && html.contains("$15.20"), "{html}");
    // A wrong coupon is explained on the page, nothing changes.
    let (s, _, html) =
        submit(&app, &format!("/checkout/{id}/coupon"), &[("form_token", &token), ("code", "NOPE")]).await;
    assert_eq!(s, 200);
    assert!(html.contains("no coupon"), "{html}");
    // A forged form is refused.
    let (s, _, _) = submit(&app, &format!("/checkout/{id}/pay"), &[("form_token", "x")]).await;
    assert_eq!(s, 403);

    // Pay: the sandbox's test card page; the first card is declined.
    let (s, loc, _) = submit(&app, &format!("/checkout/{id}/pay"), &[("form_token", &token)]).await;
    assert_eq!((s, loc.as_str()), (303, format!("/checkout/{id}/sandbox").as_str()));
    let (_, html) = page(&app, &format!("/checkout/{id}/sandbox")).await;
    assert!(html.contains("Sandbox") && html.contains("$15.20"), "{html}");
    let (s, loc, _) =
        submit(&app, &format!("/checkout/{id}/sandbox"), &[("form_token", &token), ("card", "pm_card_chargeDeclined")])
            .await;
    assert_eq!((s, loc.as_str()), (303, format!("/checkout/{id}").as_str()));
    let (_, html) = page(&app, &format!("/checkout/{id}")).await;
    assert!(html.contains("declined"), "{html}");
    let (_, sub) = app.get(&format!("/v1/subscriptions?customer={cus}")).await;
    assert_eq!(sub["data"][0]["status"], "incomplete");
    // Another card: paid, the subscription starts, the buyer goes back.
    let (s, loc, _) = submit(&app, &format!("/checkout/{id}/pay"), &[("form_token", &token)]).await;
    assert_eq!((s, loc.as_str()), (303, format!("/checkout/{id}/sandbox").as_str()));
    let (s, loc, _) =
        submit(&app, &format!("/checkout/{id}/sandbox"), &[("form_token", &token), ("card", "pm_card_visa")]).await;
    assert_eq!((s, loc), (303, format!("https://platform.example/welcome?session_id={id}")));
    let (_, cs) = app.get(&format!("/v1/checkout/sessions/{id}")).await;
    assert_eq!(cs["status"], "complete");
    let (_, sub) = app.get(&format!("/v1/subscriptions/{}", cs["subscription"].as_str().unwrap())).await;
    assert_eq!(sub["status"], "active");
    let (_, inv) = app.get(&format!("/v1/invoices/{}", cs["invoice"].as_str().unwrap())).await;
    assert_eq!(
        (inv["status"].as_str(), inv["total"].as_i64(), inv["amount_paid"].as_i64()),
        (Some("paid"), Some(1520), Some(1520))
    );
    let (_, pays) = app.get(&format!("/v1/payments?customer={cus}")).await;
    let statuses: Vec<&str> = pays["data"].as_array().unwrap().iter().map(|p| p["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, vec!["completed", "failed"]);
    // The card paid with is the default for renewals.
    let (_, methods) = app.get(&format!("/v1/customers/{cus}/payment_methods")).await;
    assert_eq!((methods[0]["last4"].as_str(), methods[0]["default"].as_bool()), (Some("4242"), Some(true)));
    // The page of a complete session pays nothing more.
    let (_, html) = page(&app, &format!("/checkout/{id}")).await;
    assert!(html.contains("Payment received") && !html.contains("/pay\""), "{html}");
    let (_, evs) = app.get("/v1/events?type=checkout.session.completed").await;
    assert_eq!(evs["data"][0]["data"]["id"], id);
    app.verify_ledger().await;
}

#[tokio::test]
async fn a_card_that_asks_for_3d_secure_is_confirmed_on_the_page() {
    let app = TestApp::spawn_with(|c| c.background_jobs = false).await;
    let cus = customer(&app).await;
    let cs = session(
        &app,
        json!({"customer": cus, "mode": "payment", "items": [{"description": "AI credits: 1,000", "unit_amount": 900}],
               "success_url": "https://platform.example/ok", "cancel_url": "https://platform.example/no"}),
    )
    .await;
    let id = cs["id"].as_str().unwrap();
    let (_, html) = page(&app, &format!("/checkout/{id}")).await;
    let token = form_token(&html);
    submit(&app, &format!("/checkout/{id}/pay"), &[("form_token", &token)]).await;
    let (s, _, html) = submit(
        &app,
        &format!("/checkout/{id}/sandbox"),
        &[("form_token", &token), ("card", "pm_card_authenticationRequired")],
    )
    .await;
    assert_eq!(s, 200);
    assert!(html.contains("Confirm the payment"), "{html}");
    let (s, loc, _) =
        submit(&app, &format!("/checkout/{id}/authenticate"), &[("form_token", &token), ("decision", "approve")]).await;
    assert_eq!((s, loc), (303, format!("https://platform.example/ok?session_id={id}")));
    let (_, cs) = app.get(&format!("/v1/checkout/sessions/{id}")).await;
    let (_, inv) = app.get(&format!("/v1/invoices/{}", cs["invoice"].as_str().unwrap())).await;
    assert_eq!((inv["status"].as_str(), inv["total"].as_i64()), (Some("paid"), Some(900)));
    app.verify_ledger().await;
}

#[tokio::test]
async fn stripe_checkout_round_trip_and_fallback_when_stripe_is_down() {
    let fake = FakeStripe::start().await;
    let base = fake.base_url().to_string();
    let app = TestApp::spawn_with(move |c| {
        c.stripe_secret_key = Some(SECRET_KEY.into());
        c.stripe_api_base = base;
        c.background_jobs = false;
    })
    .await;
    catalog(&app).await;
    let cus = customer(&app).await;
    let body = json!({"customer": cus, "mode": "subscription", "plan": "scale",
                      "success_url": "https://platform.example/welcome", "cancel_url": "https://platform.example/pricing"});
    let cs = session(&app, body.clone()).await;
    let id = cs["id"].as_str().unwrap();
    let (_, html) = page(&app, &format!("/checkout/{id}")).await;
    let token = form_token(&html);
    let (s, loc, _) = submit(&app, &format!("/checkout/{id}/pay"), &[("form_token", &token)]).await;
    assert_eq!(s, 303);
    let stripe_session = fake.objects("checkout.session").pop().expect("a Stripe Checkout Session");
    assert_eq!(loc, stripe_session["url"].as_str().unwrap(), "the buyer goes to Stripe's page");
    assert_eq!(stripe_session["amount_total"], 4900);
    // Back without paying (the tab was switched): nothing fails.
    let (s, _, html) = submit_get(&app, &format!("/checkout/{id}/return")).await;
    assert_eq!(s, 200);
    assert!(html.contains("not complete yet"), "{html}");
    let (_, p) = app.get(&format!("/v1/payments?customer={cus}")).await;
    assert_eq!(p["data"][0]["status"], "pending");
    // Pay again: the same Stripe session, not a second one.
    let (s, again, _) = submit(&app, &format!("/checkout/{id}/pay"), &[("form_token", &token)]).await;
    assert_eq!((s, again.as_str()), (303, loc.as_str()));
    assert_eq!(fake.objects("checkout.session").len(), 1);
    // The buyer pays on Stripe's page and comes back.
    fake.pay_checkout(stripe_session["id"].as_str().unwrap(), "pm_card_visa").unwrap();
    let (s, loc, _) = submit_get(&app, &format!("/checkout/{id}/return")).await;
    assert_eq!((s, loc), (303, format!("https://platform.example/welcome?session_id={id}")));
    let (_, cs) = app.get(&format!("/v1/checkout/sessions/{id}")).await;
    assert_eq!((cs["status"].as_str(), cs["provider"].as_str()), (Some("complete"), Some("stripe")));
    let (_, methods) = app.get(&format!("/v1/customers/{cus}/payment_methods")).await;
    assert_eq!(methods[0]["provider"], "stripe");
    assert_eq!(methods[0]["last4"], "4242");
    // Renewals will charge it off-session: the method knows its Stripe customer.
    let provider_customer: Option<String> = sqlx::query_scalar("SELECT provider_customer FROM payment_methods")
        .fetch_one(app.tdb.db.reader())
        .await
        .unwrap();
    assert!(provider_customer.is_some_and(|c| c.starts_with("cus_")));
    assert_eq!(
        app.get(&format!("/v1/subscriptions/{}", cs["subscription"].as_str().unwrap())).await.1["status"],
        "active"
    );

    // Stripe is down for the next buyer: the route falls back to the sandbox (test mode).
    let cus2 = customer(&app).await;
    let mut body2 = body.clone();
    body2["customer"] = json!(cus2);
    let cs2 = session(&app, body2).await;
    let id2 = cs2["id"].as_str().unwrap();
    let (_, html) = page(&app, &format!("/checkout/{id2}")).await;
    let token2 = form_token(&html);
    fake.fail_next(1, Fault::ServiceUnavailable);
    let (s, loc, _) = submit(&app, &format!("/checkout/{id2}/pay"), &[("form_token", &token2)]).await;
    assert_eq!((s, loc.as_str()), (303, format!("/checkout/{id2}/sandbox").as_str()));
    let (_, cs2) = app.get(&format!("/v1/checkout/sessions/{id2}")).await;
    assert_eq!(cs2["provider"], "sandbox");
    assert!(fake.validation_failures().is_empty(), "{:?}", fake.validation_failures());
    app.verify_ledger().await;
}

async fn submit_get(app: &TestApp, path: &str) -> (u16, String, String) {
    let r = app.client.get(app.url(path)).send().await.unwrap();
    let loc = r.headers().get("location").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    (r.status().as_u16(), loc, r.text().await.unwrap())
}

#[tokio::test]
async fn an_unpaid_checkout_expires_and_leaves_nothing_owed() {
    let app = TestApp::spawn_with(|c| c.background_jobs = false).await;
    catalog(&app).await;
    let cus = customer(&app).await;
    let cs = session(
        &app,
        json!({"customer": cus, "mode": "subscription", "plan": "grow",
               "success_url": "https://p.example/ok", "cancel_url": "https://p.example/no"}),
    )
    .await;
    let id = cs["id"].as_str().unwrap();
    let (_, html) = page(&app, &format!("/checkout/{id}")).await;
    let token = form_token(&html);
    submit(&app, &format!("/checkout/{id}/pay"), &[("form_token", &token)]).await;
    // The buyer never pays; a day later the session expires.
    sqlx::query("UPDATE checkout_sessions SET expires_at = 0").execute(app.tdb.db.writer()).await.unwrap();
    assert_eq!(bursar_core::checkout::expire_due(&app.state).await.unwrap(), 1);
    let (_, cs) = app.get(&format!("/v1/checkout/sessions/{id}")).await;
    assert_eq!(cs["status"], "expired");
    assert_eq!(
        app.get(&format!("/v1/subscriptions/{}", cs["subscription"].as_str().unwrap())).await.1["status"],
        "incomplete_expired"
    );
    assert_eq!(app.get(&format!("/v1/invoices/{}", cs["invoice"].as_str().unwrap())).await.1["status"], "void");
    assert_eq!(app.get(&format!("/v1/payments/{}", cs["payment"].as_str().unwrap())).await.1["status"], "cancelled");
    let (_, b) = app.get("/v1/ledger/balances?currency=USD").await;
    let receivables =
        b["data"].as_array().unwrap().iter().find(|r| r["account"] == "receivables").map(|r| r["balance"].clone());
    assert_eq!(receivables, Some(json!(0)));
    // An expired page takes no payment.
    let (s, _, html) = submit(&app, &format!("/checkout/{id}/pay"), &[("form_token", &token)]).await;
    assert_eq!(s, 200);
    assert!(html.contains("expired"), "{html}");
    app.verify_ledger().await;
}

#[tokio::test]
async fn bad_checkout_requests_are_refused() {
    let app = TestApp::spawn().await;
    catalog(&app).await;
    let cus = customer(&app).await;
    let urls = json!({"success_url": "https://p.example/ok", "cancel_url": "https://p.example/no"});
    let with = |extra: Value| {
        let mut b = urls.clone();
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    let cases = [
        (
            with(json!({"customer": "cus_nope", "mode": "payment", "items": [{"description": "x", "unit_amount": 1}]})),
            404,
            "customer",
        ),
        (with(json!({"customer": cus, "mode": "rent"})), 400, "mode"),
        (with(json!({"customer": cus, "mode": "subscription"})), 400, "plan"),
        (with(json!({"customer": cus, "mode": "subscription", "plan": "nope"})), 404, "plan"),
        (with(json!({"customer": cus, "mode": "subscription", "plan": "starter"})), 400, "plan"),
        (with(json!({"customer": cus, "mode": "subscription", "plan": "grow", "currency": "JPY"})), 400, "currency"),
        (with(json!({"customer": cus, "mode": "subscription", "plan": "grow", "quantity": 0})), 400, "quantity"),
        (with(json!({"customer": cus, "mode": "subscription", "plan": "grow", "coupon": "NOPE"})), 400, "coupon"),
        (with(json!({"customer": cus, "mode": "payment"})), 400, "items"),
        (with(json!({"customer": cus, "mode": "payment", "items": []})), 400, "items"),
        (
            with(json!({"customer": cus, "mode": "payment", "items": [{"description": "x", "unit_amount": 0}]})),
            400,
            "items[0].unit_amount",
        ),
        (
            // Each line is allowed, the sum is not (it would overflow).
            with(json!({"customer": cus, "mode": "payment", "items": [
                {"description": "x", "unit_amount": 100_000_000_000i64, "quantity": 1_000_000},
                {"description": "y", "unit_amount": 100_000_000_000i64, "quantity": 1_000_000}]})),
            400,
            "items",
        ),
        (
            json!({"customer": cus, "mode": "payment", "items": [{"description": "x", "unit_amount": 1}], "success_url": "javascript:alert(1)", "cancel_url": "https://p.example"}),
            400,
            "success_url",
        ),
    ];
    for (body, status, param) in cases {
        let (s, e) = app.post("/v1/checkout/sessions", body).await;
        assert_error(s, &e, status, Some(param));
    }
    assert_eq!(app.count("checkout_sessions").await, 0);
    let (s, _) = page(&app, "/checkout/cs_nothere").await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn paypal_and_razorpay_checkouts_are_routed_by_country_and_currency() {
    use bursar_providers::testkit::{paypal::FakePaypal, razorpay, razorpay::FakeRazorpay};
    let pp = FakePaypal::start().await;
    let rz = FakeRazorpay::start().await;
    let (ppc, rzc) = (pp.config(), rz.config());
    let app = TestApp::spawn_with(move |c| {
        c.paypal_client_id = Some(ppc.client_id);
        c.paypal_client_secret = Some(ppc.client_secret);
        c.paypal_webhook_id = Some(ppc.webhook_id);
        c.paypal_api_base = ppc.api_base;
        c.razorpay_key_id = Some(rzc.key_id);
        c.razorpay_key_secret = Some(rzc.key_secret);
        c.razorpay_webhook_secret = Some(rzc.webhook_secret);
        c.razorpay_api_base = rzc.api_base;
        c.background_jobs = false;
    })
    .await;
    let urls = json!({"success_url": "https://p.example/ok", "cancel_url": "https://p.example/no"});
    let body = |cus: &str, currency: &str, amount: i64| {
        let mut b = urls.clone();
        b["customer"] = json!(cus);
        b["mode"] = json!("payment");
        b["currency"] = json!(currency);
        b["items"] = json!([{"description": "Mock test pack", "unit_amount": amount}]);
        b
    };

    // A learner in the US paying USD: PayPal (Stripe is not configured here).
    let us = customer(&app).await;
    let cs = session(&app, body(&us, "USD", 2500)).await;
    let id = cs["id"].as_str().unwrap();
    let (_, html) = page(&app, &format!("/checkout/{id}")).await;
    let token = form_token(&html);
    let (s, loc, _) = submit(&app, &format!("/checkout/{id}/pay"), &[("form_token", &token)]).await;
    assert_eq!(s, 303);
    let (_, cs) = app.get(&format!("/v1/checkout/sessions/{id}")).await;
    assert_eq!(cs["provider"], "paypal");
    let (_, p) = app.get(&format!("/v1/payments/{}", cs["payment"].as_str().unwrap())).await;
    let order = p["provider_payment_id"].as_str().unwrap().to_string();
    assert!(loc.contains(&order), "the buyer goes to PayPal's approval page: {loc}");
    assert_eq!(pp.order(&order).unwrap()["purchase_units"][0]["amount"]["value"], "25.00");
    assert!(pp.approve(&order, false));
    let qs: Vec<String> =
        bursar_providers::testkit::paypal::return_params(&order).iter().map(|(k, v)| format!("{k}={v}")).collect();
    let (s, loc, _) = submit_get(&app, &format!("/checkout/{id}/return?{}", qs.join("&"))).await;
    assert_eq!((s, loc), (303, format!("https://p.example/ok?session_id={id}")));
    assert_eq!(app.get(&format!("/v1/invoices/{}", cs["invoice"].as_str().unwrap())).await.1["status"], "paid");
    // PayPal's webhook for the same capture arrives afterwards: verified
    // through PayPal's API, stored, and changes nothing.
    let capture = pp.capture_of(&order).expect("captured at PayPal");
    let hook = pp.webhook("PAYMENT.CAPTURE.COMPLETED", capture, jiff::Timestamp::now());
    let send = |headers: &bursar_providers::Headers, body: &[u8]| {
        let mut req = app.client.post(app.url("/webhooks/paypal")).body(body.to_vec());
        for (k, v) in headers {
            req = req.header(k.as_str(), v.as_str());
        }
        req.send()
    };
    assert_eq!(send(&hook.headers, &hook.body).await.unwrap().status().as_u16(), 200);
    let (status, pid): (String, Option<String>) =
        sqlx::query_as("SELECT status, payment_id FROM provider_events WHERE provider = 'paypal'")
            .fetch_one(app.tdb.db.reader())
            .await
            .unwrap();
    assert_eq!((status.as_str(), pid.as_deref()), ("ignored", cs["payment"].as_str()));
    // The same body with another transmission's signature: PayPal says no.
    let mut forged = hook.headers.clone();
    forged.insert("paypal-transmission-sig".into(), "Zm9yZ2Vk".into());
    assert_eq!(send(&forged, &hook.body).await.unwrap().status().as_u16(), 400);

    // Another buyer approves at PayPal and closes the tab: PayPal's approval
    // webhook has Bursar capture the order.
    let us2 = customer(&app).await;
    let cs2 = session(&app, body(&us2, "USD", 1500)).await;
    let id2 = cs2["id"].as_str().unwrap();
    let (_, html2) = page(&app, &format!("/checkout/{id2}")).await;
    submit(&app, &format!("/checkout/{id2}/pay"), &[("form_token", &form_token(&html2))]).await;
    let (_, cs2) = app.get(&format!("/v1/checkout/sessions/{id2}")).await;
    let (_, p2) = app.get(&format!("/v1/payments/{}", cs2["payment"].as_str().unwrap())).await;
    let order2 = p2["provider_payment_id"].as_str().unwrap().to_string();
    assert!(pp.approve(&order2, false));
    let approved = pp.webhook("CHECKOUT.ORDER.APPROVED", pp.order(&order2).unwrap(), jiff::Timestamp::now());
    assert_eq!(send(&approved.headers, &approved.body).await.unwrap().status().as_u16(), 200);
    let (_, cs2) = app.get(&format!("/v1/checkout/sessions/{id2}")).await;
    assert_eq!(cs2["status"], "complete");
    assert_eq!(app.get(&format!("/v1/payments/{}", cs2["payment"].as_str().unwrap())).await.1["status"], "completed");

    // A learner in India paying INR: Razorpay, through its hosted page.
    let (s, c) = app.post("/v1/customers", json!({"country": "IN", "email": "asha@example.in"})).await;
    assert_eq!(s, 200, "{c}");
    let inr = c["id"].as_str().unwrap();
    let cs = session(&app, body(inr, "INR", 49_900)).await;
    let id = cs["id"].as_str().unwrap();
    let (_, html) = page(&app, &format!("/checkout/{id}")).await;
    let token = form_token(&html);
    let (s, _, html) = submit(&app, &format!("/checkout/{id}/pay"), &[("form_token", &token)]).await;
    assert_eq!(s, 200);
    assert!(html.contains("/v1/checkout/embedded") && html.contains(razorpay::KEY_ID), "{html}");
    let (_, cs) = app.get(&format!("/v1/checkout/sessions/{id}")).await;
    assert_eq!(cs["provider"], "razorpay");
    let (_, p) = app.get(&format!("/v1/payments/{}", cs["payment"].as_str().unwrap())).await;
    let order = p["provider_payment_id"].as_str().unwrap().to_string();
    assert!(html.contains(&order));
    // Razorpay posts the payment back with its signature; a forged one is refused first.
    let mut back = rz.pay_order(&order, razorpay::TestCard::VISA);
    let good = back.clone();
    back.insert("razorpay_signature".into(), "0".repeat(64));
    let r = app.client.post(app.url(&format!("/checkout/{id}/return"))).form(&back).send().await.unwrap();
    assert_ne!(
        r.headers().get("location").map(|l| l.to_str().unwrap().to_string()),
        Some(format!("https://p.example/ok?session_id={id}"))
    );
    assert_eq!(app.get(&format!("/v1/checkout/sessions/{id}")).await.1["status"], "open");
    let r = app.client.post(app.url(&format!("/checkout/{id}/return"))).form(&good).send().await.unwrap();
    assert_eq!(r.headers().get("location").unwrap().to_str().unwrap(), format!("https://p.example/ok?session_id={id}"));
    let (_, inv) = app.get(&format!("/v1/invoices/{}", cs["invoice"].as_str().unwrap())).await;
    assert_eq!((inv["status"].as_str(), inv["currency"].as_str()), (Some("paid"), Some("INR")));
    app.verify_ledger().await;
}

#[tokio::test]
async fn a_razorpay_webhook_completes_a_checkout_whose_buyer_never_came_back() {
    use bursar_providers::testkit::{razorpay, razorpay::FakeRazorpay};
    let rz = FakeRazorpay::start().await;
    let rzc = rz.config();
    let app = TestApp::spawn_with(move |c| {
        c.razorpay_key_id = Some(rzc.key_id);
        c.razorpay_key_secret = Some(rzc.key_secret);
        c.razorpay_webhook_secret = Some(rzc.webhook_secret);
        c.razorpay_api_base = rzc.api_base;
        c.background_jobs = false;
    })
    .await;
    let (_, c) = app.post("/v1/customers", json!({"country": "IN"})).await;
    let cus = c["id"].as_str().unwrap();
    let cs = session(
        &app,
        json!({"customer": cus, "mode": "payment", "currency": "INR", "items": [{"description": "Doubt-clearing session", "unit_amount": 29_900}],
               "success_url": "https://p.example/ok", "cancel_url": "https://p.example/no"}),
    )
    .await;
    let id = cs["id"].as_str().unwrap();
    let (_, html) = page(&app, &format!("/checkout/{id}")).await;
    submit(&app, &format!("/checkout/{id}/pay"), &[("form_token", &form_token(&html))]).await;
    let (_, cs) = app.get(&format!("/v1/checkout/sessions/{id}")).await;
    let (_, p) = app.get(&format!("/v1/payments/{}", cs["payment"].as_str().unwrap())).await;
    let order = p["provider_payment_id"].as_str().unwrap().to_string();
    // The buyer pays at Razorpay and closes the tab. Razorpay's webhook
    // could not be delivered during an outage; it redelivers the original
    // event (body and event id) an hour later.
    let back = rz.pay_order(&order, razorpay::TestCard::VISA);
    let rp = rz.payment(&back["razorpay_payment_id"]).unwrap();
    let sent = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(1);
    let hook = rz.webhook("payment.captured", razorpay::payment_payload(rp), sent);
    let deliver = || {
        let mut req = app.client.post(app.url("/webhooks/razorpay")).body(hook.body.clone());
        for (k, v) in &hook.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        req.send()
    };
    let (s, r) = json(deliver().await.unwrap()).await;
    assert_eq!((s, r["duplicate"].as_bool()), (200, None), "{r}");
    let (_, cs) = app.get(&format!("/v1/checkout/sessions/{id}")).await;
    assert_eq!(cs["status"], "complete");
    assert_eq!(app.get(&format!("/v1/invoices/{}", cs["invoice"].as_str().unwrap())).await.1["status"], "paid");
    // The same event delivered again is recognised by its id and changes nothing.
    let (s, r) = json(deliver().await.unwrap()).await;
    assert_eq!((s, r["duplicate"].as_bool()), (200, Some(true)), "{r}");
    assert_eq!(app.count("provider_events").await, 1);
    // A forged delivery is refused.
    let mut req = app.client.post(app.url("/webhooks/razorpay")).body(hook.body.clone());
    for (k, v) in &hook.headers {
        let v = if k == "x-razorpay-signature" { "00".repeat(32) } else { v.clone() };
        req = req.header(k.as_str(), v);
    }
    assert_eq!(req.send().await.unwrap().status().as_u16(), 400);
    app.verify_ledger().await;
}

#[tokio::test]
async fn a_cart_takes_a_coupon_for_everything_and_counts_its_redemption() {
    let app = TestApp::spawn_with(|c| c.background_jobs = false).await;
    let (s, _) = app
        .post(
            "/v1/coupons",
            json!({"code": "TEN", "amount_off": {"USD": 1000}, "duration": "once", "max_redemptions": 1}),
        )
        .await;
    assert_eq!(s, 200);
    let (s, _) = app
        .post("/v1/coupons", json!({"code": "PLANSONLY", "percent_off_bps": 1000, "duration": "once", "applies_to": "plans", "applies_to_ids": ["grow"]}))
        .await;
    assert_eq!(s, 200);
    let cus = customer(&app).await;
    let body = json!({"customer": cus, "mode": "payment",
        "items": [{"description": "Essay review", "unit_amount": 2500}, {"description": "Mock test", "quantity": 2, "unit_amount": 900}],
        "success_url": "https://p.example/ok", "cancel_url": "https://p.example/no"});
    // A coupon for plans does not apply to a cart.
    let mut b = body.clone();
    b["coupon"] = json!("PLANSONLY");
    let (s, e) = app.post("/v1/checkout/sessions", b).await;
    assert_error(s, &e, 400, Some("coupon"));
    let cs = session(&app, body.clone()).await;
    let id = cs["id"].as_str().unwrap();
    assert_eq!(cs["amount_total"], 4300);
    let (_, html) = page(&app, &format!("/checkout/{id}")).await;
    let token = form_token(&html);
    submit(&app, &format!("/checkout/{id}/coupon"), &[("form_token", &token), ("code", "TEN")]).await;
    let (_, html) = page(&app, &format!("/checkout/{id}")).await;
    assert!(html.contains("-$10.00") && html.contains("$33.00"), "{html}");
    let (_, cs) = app.get(&format!("/v1/checkout/sessions/{id}")).await;
    assert_eq!(cs["amount_total"], 3300);
    submit(&app, &format!("/checkout/{id}/pay"), &[("form_token", &token)]).await;
    let (s, loc, _) =
        submit(&app, &format!("/checkout/{id}/sandbox"), &[("form_token", &token), ("card", "pm_card_visa")]).await;
    assert_eq!((s, loc), (303, format!("https://p.example/ok?session_id={id}")));
    let (_, cs) = app.get(&format!("/v1/checkout/sessions/{id}")).await;
    let (_, inv) = app.get(&format!("/v1/invoices/{}", cs["invoice"].as_str().unwrap())).await;
    assert_eq!((inv["total"].as_i64(), inv["amount_paid"].as_i64()), (Some(3300), Some(3300)));
    let kinds: Vec<&str> = inv["lines"].as_array().unwrap().iter().map(|l| l["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, vec!["one_off", "one_off", "discount"]);
    // The coupon's only redemption is taken: a second cart cannot use it.
    let mut b = body;
    b["coupon"] = json!("TEN");
    let (s, e) = app.post("/v1/checkout/sessions", b).await;
    assert_error(s, &e, 400, Some("coupon"));
    app.verify_ledger().await;
}

#[tokio::test]
async fn pay_is_refused_while_an_earlier_attempt_is_being_confirmed() {
    let app = TestApp::spawn_with(|c| c.background_jobs = false).await;
    let cus = customer(&app).await;
    let cs = session(
        &app,
        json!({"customer": cus, "mode": "payment", "items": [{"description": "Essay review", "unit_amount": 2500}],
               "success_url": "https://p.example/ok", "cancel_url": "https://p.example/no"}),
    )
    .await;
    let id = cs["id"].as_str().unwrap();
    let (_, html) = page(&app, &format!("/checkout/{id}")).await;
    let token = form_token(&html);
    submit(&app, &format!("/checkout/{id}/pay"), &[("form_token", &token)]).await;
    // A card that is accepted as processing.
    submit(&app, &format!("/checkout/{id}/sandbox"), &[("form_token", &token), ("card", "pm_card_processing")]).await;
    let (s, _, html) = submit(&app, &format!("/checkout/{id}/pay"), &[("form_token", &token)]).await;
    assert_eq!(s, 200);
    assert!(html.contains("being confirmed"), "{html}");
    let (_, pays) = app.get(&format!("/v1/payments?customer={cus}")).await;
    assert_eq!(pays["data"].as_array().unwrap().len(), 1, "no second attempt");
    // The check, once due (processing payments are asked again after five minutes), settles it
    // and completes the checkout.
    let settings = app.state.billing_settings();
    bursar_core::settlement::run_checks(&app.state.db, &settings, app.state.now_ms() + 400_000).await.unwrap();
    assert_eq!(app.get(&format!("/v1/checkout/sessions/{id}")).await.1["status"], "complete");
    app.verify_ledger().await;
}

#[tokio::test]
async fn a_buyer_who_never_returns_still_leaves_a_method_for_renewals() {
    let fake = FakeStripe::start().await;
    let base = fake.base_url().to_string();
    let app = TestApp::spawn_with(move |c| {
        c.stripe_secret_key = Some(SECRET_KEY.into());
        c.stripe_api_base = base;
        c.stripe_webhook_secrets = vec![bursar_providers::testkit::stripe::WEBHOOK_SECRET.into()];
        c.background_jobs = false;
    })
    .await;
    catalog(&app).await;
    let cus = customer(&app).await;
    let cs = session(
        &app,
        json!({"customer": cus, "mode": "subscription", "plan": "scale",
               "success_url": "https://platform.example/welcome", "cancel_url": "https://platform.example/pricing"}),
    )
    .await;
    let id = cs["id"].as_str().unwrap();
    let (_, html) = page(&app, &format!("/checkout/{id}")).await;
    let token = form_token(&html);
    submit(&app, &format!("/checkout/{id}/pay"), &[("form_token", &token)]).await;
    let stripe_session = fake.objects("checkout.session").pop().unwrap();
    let cs_id = stripe_session["id"].as_str().unwrap().to_string();
    let pi = fake.pay_checkout(&cs_id, "pm_card_visa").unwrap();
    // The tab is closed: only Stripe's webhooks arrive, the session's first
    // (its payment intent is an id, no method details), then the intent's.
    let url = app.url("/webhooks/stripe");
    assert_eq!(fake.deliver(&url, &fake.session_event("checkout.session.completed", &cs_id)).await, Ok(200));
    let (_, cs) = app.get(&format!("/v1/checkout/sessions/{id}")).await;
    assert_eq!(cs["status"], "complete");
    assert_eq!(
        app.get(&format!("/v1/subscriptions/{}", cs["subscription"].as_str().unwrap())).await.1["status"],
        "active"
    );
    assert_eq!(fake.deliver(&url, &fake.intent_event("payment_intent.succeeded", &pi)).await, Ok(200));
    let pm = fake.object(&pi).unwrap()["payment_method"].as_str().unwrap().to_string();
    let rows: Vec<(String, Option<String>, i64)> =
        sqlx::query_as("SELECT token, provider_customer, CAST(is_default AS BIGINT) FROM payment_methods")
            .fetch_all(app.tdb.db.reader())
            .await
            .unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].0, pm);
    assert!(rows[0].1.as_deref().is_some_and(|c| c.starts_with("cus_")));
    assert_eq!(rows[0].2, 1);
    let (_, pays) = app.get(&format!("/v1/payments?customer={cus}")).await;
    assert!(pays["data"][0]["payment_method"]["id"].as_str().is_some_and(|m| m.starts_with("pm_")), "{pays}");
    // The event again, and the buyer's late return: still one method.
    assert_eq!(fake.deliver(&url, &fake.intent_event("payment_intent.succeeded", &pi)).await, Ok(200));
    let (s, loc, _) = submit_get(&app, &format!("/checkout/{id}/return")).await;
    assert_eq!((s, loc), (303, format!("https://platform.example/welcome?session_id={id}")));
    assert_eq!(app.count("payment_methods").await, 1);
    app.verify_ledger().await;
}

#[tokio::test]
async fn without_return_urls_the_buyer_ends_on_bursars_receipt_or_left_page() {
    let app = TestApp::spawn_with(|c| c.background_jobs = false).await;
    catalog(&app).await;
    let cus = customer(&app).await;
    let (s, b) = app
        .post(
            "/v1/checkout/sessions",
            json!({"customer": cus, "mode": "subscription", "plan": "grow", "success_url": "ftp://x"}),
        )
        .await;
    assert_error(s, &b, 400, Some("success_url"));
    let cs = session(&app, json!({"customer": cus, "mode": "subscription", "plan": "grow"})).await;
    let id = cs["id"].as_str().unwrap();
    assert_eq!(cs["success_url"], app.url(&format!("/checkout/{id}/thanks")));
    assert_eq!(cs["cancel_url"], app.url(&format!("/checkout/{id}/left")));

    // Leaving: nothing charged, and the way back.
    let r = app.client.get(app.url(&format!("/checkout/{id}/cancel"))).send().await.unwrap();
    assert_eq!(r.headers()["location"].to_str().unwrap(), cs["cancel_url"].as_str().unwrap());
    let (s, html) = page(&app, &format!("/checkout/{id}/left")).await;
    assert_eq!(s, 200);
    assert!(html.contains("Nothing was charged") && html.contains(&format!("href=\"/checkout/{id}\"")), "{html}");
    // No receipt before paying: the checkout itself.
    let r = app.client.get(app.url(&format!("/checkout/{id}/thanks"))).send().await.unwrap();
    assert_eq!(
        (r.status().as_u16(), r.headers()["location"].to_str().unwrap()),
        (303, format!("/checkout/{id}").as_str())
    );

    let token = app.checkout_token(id).await;
    submit(&app, &format!("/checkout/{id}/pay"), &[("form_token", &token)]).await;
    let (s, loc, _) =
        submit(&app, &format!("/checkout/{id}/sandbox"), &[("form_token", &token), ("card", "pm_card_visa")]).await;
    assert_eq!((s, loc), (303, format!("{}?session_id={id}", cs["success_url"].as_str().unwrap())));
    let (_, done) = app.get(&format!("/v1/checkout/sessions/{id}")).await;
    let (_, inv) = app.get(&format!("/v1/invoices/{}", done["invoice"].as_str().unwrap())).await;
    let (s, html) = page(&app, &format!("/checkout/{id}/thanks?session_id={id}")).await;
    assert_eq!(s, 200);
    assert!(html.contains("<h1>You&#39;re subscribed</h1>"), "{html}");
    assert!(
        html.contains("Paid") && html.contains("$19.00") && html.contains(inv["number"].as_str().unwrap()),
        "{html}"
    );
    assert!(!html.contains("/pay\""), "nothing more to pay");
    let (_, html) = page(&app, &format!("/checkout/{id}/left")).await;
    assert!(html.contains("Already paid") && !html.contains("Nothing was charged"), "{html}");
    let (s, _) = page(&app, "/checkout/cs_nope/thanks").await;
    assert_eq!(s, 404);
}
