//! Payouts through providers: Stripe Connect transfers and PayPal Payouts,
//! against the local doubles. Sales are bought through the sandbox checkout;
//! the refund window is zero, so earnings are due at once.

use crate::common::*;
use bursar_providers::testkit::paypal::{FakePaypal, CLIENT_ID, CLIENT_SECRET};
use bursar_providers::testkit::stripe::{FakeStripe, Fault, SECRET_KEY};
use serde_json::{json, Value};

const MIN: i64 = 60_000;

async fn app(stripe: Option<&FakeStripe>, paypal: Option<&FakePaypal>) -> TestApp {
    let stripe = stripe.map(|f| f.base_url().to_string());
    let paypal = paypal.map(|f| f.base_url().to_string());
    TestApp::spawn_with(move |c| {
        c.background_jobs = false;
        c.refund_window_days = 0;
        c.payout_minimum = 1;
        c.payment_default_providers = vec!["sandbox".into()];
        if let Some(base) = stripe {
            c.stripe_secret_key = Some(SECRET_KEY.into());
            c.stripe_api_base = base;
        }
        if let Some(base) = paypal {
            c.paypal_client_id = Some(CLIENT_ID.into());
            c.paypal_client_secret = Some(CLIENT_SECRET.into());
            c.paypal_api_base = base;
        }
    })
    .await
}

async fn instructor(app: &TestApp, external: &str, method: &str, details: Value) -> String {
    let (s, i) = app
        .post(
            "/v1/instructors",
            json!({"external_id": external, "name": format!("Instructor {external}"), "payout_method": method,
                   "payout_details": details}),
        )
        .await;
    assert_eq!(s, 201, "{i}");
    i["id"].as_str().unwrap().to_string()
}

/// A published course at `eur` minor units (the instructor's share: 70 %).
async fn course(app: &TestApp, owner: &str, eur: i64) -> String {
    let (s, c) = app
        .post(
            "/v1/courses",
            json!({"instructor": owner, "title": format!("Course of {owner}"), "description": "A course.",
                   "prices": {"EUR": eur}}),
        )
        .await;
    assert_eq!(s, 201, "{c}");
    let id = c["id"].as_str().unwrap().to_string();
    let (s, p) = app.post(&format!("/v1/courses/{id}/publish"), json!({})).await;
    assert_eq!(s, 200, "{p}");
    id
}

/// Pays a checkout session with the sandbox's test card, as a buyer would.
async fn pay(app: &TestApp, session: &str) {
    let token = app.checkout_token(session).await;
    let r = app.client.post(app.url(&format!("/checkout/{session}/pay"))).form(&[("form_token", &token)]).send();
    assert_eq!(r.await.unwrap().status().as_u16(), 303);
    let r = app
        .client
        .post(app.url(&format!("/checkout/{session}/sandbox")))
        .form(&[("form_token", token.as_str()), ("card", "pm_card_visa")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
}

/// A learner buys the courses in EUR (with the affiliate's click, if any).
async fn buy(app: &TestApp, courses: &[&str], click: Option<&str>) {
    let (_, cus) = app.post("/v1/customers", json!({"country": "US"})).await;
    let mut cart = json!({"customer": cus["id"], "currency": "EUR", "items": courses});
    if let Some(click) = click {
        cart["affiliate_click"] = json!(click);
    }
    let (s, cart) = app.post("/v1/carts", cart).await;
    assert_eq!(s, 201, "{cart}");
    let (s, cs) = app
        .post(
            &format!("/v1/carts/{}/checkout", cart["id"].as_str().unwrap()),
            json!({"success_url": "https://learn.example/thanks", "cancel_url": "https://learn.example/cart"}),
        )
        .await;
    assert_eq!(s, 201, "{cs}");
    pay(app, cs["id"].as_str().unwrap()).await;
}

async fn run(app: &TestApp) -> Value {
    let (s, run) = app.post("/v1/payout_runs", json!({})).await;
    assert_eq!(s, 200, "{run}");
    run
}

async fn payouts_of(app: &TestApp, payee: &str) -> Vec<Value> {
    let (s, l) = app.get(&format!("/v1/payouts?payee={payee}")).await;
    assert_eq!(s, 200, "{l}");
    l["data"].as_array().unwrap().clone()
}

async fn balance(app: &TestApp, account: &str) -> i64 {
    let (_, b) = app.get("/v1/ledger/balances?currency=EUR").await;
    b["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["account"] == account)
        .map(|r| r["balance"].as_i64().unwrap())
        .sum()
}

async fn events_of(app: &TestApp, kind: &str) -> Vec<Value> {
    let (_, e) = app.get(&format!("/v1/events?type={kind}")).await;
    e["data"].as_array().unwrap().clone()
}

/// The recovery job, as the background jobs run it, at `now` on the
/// server's clock.
async fn check(app: &TestApp, now: i64) -> u32 {
    bursar_core::payouts::run_checks(&app.state.db, &app.state.billing_settings(), now).await.unwrap()
}

#[tokio::test]
async fn a_stripe_connect_payout_is_paid_by_a_transfer() {
    let fake = FakeStripe::start().await;
    let app = app(Some(&fake), None).await;
    let acct = fake.connected_account();
    let ana = instructor(&app, "u-ana", "stripe_connect", json!({"account": acct})).await;
    let c = course(&app, &ana, 2_000).await;
    buy(&app, &[&c], None).await;
    assert_eq!(balance(&app, &format!("instructor_payable:{ana}")).await, 1_400);

    let r = run(&app).await;
    assert_eq!(r["payouts"].as_array().unwrap().len(), 1, "{r}");
    let p = &payouts_of(&app, &ana).await[0];
    assert_eq!(
        (p["method"].as_str(), p["status"].as_str(), p["amount"].as_i64(), p["destination"].as_str()),
        (Some("stripe_connect"), Some("paid"), Some(1_400), Some(acct.as_str())),
        "{p}"
    );
    let transfers = fake.objects("transfer");
    assert_eq!(transfers.len(), 1);
    let t = &transfers[0];
    assert_eq!(p["provider_reference"], t["id"]);
    assert_eq!((t["amount"].as_i64(), t["currency"].as_str()), (Some(1_400), Some("eur")));
    assert_eq!((t["destination"].as_str(), t["transfer_group"].as_str()), (Some(acct.as_str()), p["id"].as_str()));
    assert_eq!(t["metadata"]["payout_id"], p["id"]);
    assert!(fake.validation_failures().is_empty(), "{:?}", fake.validation_failures());

    // The money left: nothing owed, nothing in transit.
    assert_eq!(balance(&app, &format!("instructor_payable:{ana}")).await, 0);
    assert_eq!(balance(&app, "payouts_in_transit").await, 0);
    assert_eq!(balance(&app, "cash").await, -1_400);
    assert_eq!(events_of(&app, "payout.created").await.len(), 1);
    let paid = events_of(&app, "payout.paid").await;
    assert_eq!(paid[0]["data"]["provider_reference"], t["id"]);
    // Run again: nothing is paid twice, the bank file has no such payout.
    assert_eq!(run(&app).await["payouts"], json!([]));
    assert_eq!(fake.objects("transfer").len(), 1);
    let period = p["period"].as_str().unwrap();
    let csv = app.req(reqwest::Method::GET, &format!("/v1/payouts/export?period={period}")).send().await.unwrap();
    assert_eq!(csv.text().await.unwrap().lines().count(), 1, "only the header");
    app.verify_ledger().await;
}

#[tokio::test]
async fn a_paypal_payout_is_pending_until_paypal_pays_it() {
    let fake = FakePaypal::start().await;
    let app = app(None, Some(&fake)).await;
    let ana = instructor(&app, "u-ana", "paypal", json!({"email": "ana@example.com"})).await;
    let c = course(&app, &ana, 3_000).await;
    buy(&app, &[&c], None).await;

    let now = app.state.now_ms();
    run(&app).await;
    let p = payouts_of(&app, &ana).await[0].clone();
    assert_eq!((p["status"].as_str(), p["amount"].as_i64()), (Some("pending"), Some(2_100)), "{p}");
    let batch = p["provider_reference"].as_str().expect("the batch id").to_string();
    let sent = fake.last_payout_request().unwrap();
    assert_eq!(sent["sender_batch_header"]["sender_batch_id"], p["id"]);
    assert_eq!(sent["items"][0]["amount"], json!({"value": "21.00", "currency": "EUR"}));
    assert_eq!(sent["items"][0]["receiver"], "ana@example.com");
    assert_eq!(balance(&app, "payouts_in_transit").await, 2_100);
    assert_eq!(balance(&app, &format!("instructor_payable:{ana}")).await, 0);
    app.verify_ledger().await;

    // Not due yet; then PayPal is processing; then it has paid.
    assert_eq!(check(&app, now).await, 0);
    assert_eq!(check(&app, now + 2 * MIN).await, 1);
    assert_eq!(payouts_of(&app, &ana).await[0]["status"], "pending");
    assert_eq!(fake.payout_batch(&batch).unwrap()["batch_header"]["batch_status"], "PROCESSING");
    assert_eq!(check(&app, now + 10 * MIN).await, 1);
    let p = payouts_of(&app, &ana).await[0].clone();
    assert_eq!((p["status"].as_str(), p["provider_reference"].as_str()), (Some("paid"), Some(batch.as_str())), "{p}");
    assert!(p["paid_at"].is_i64());
    assert_eq!(balance(&app, "payouts_in_transit").await, 0);
    assert_eq!(balance(&app, "cash").await, -2_100);
    assert_eq!(events_of(&app, "payout.paid").await.len(), 1);
    assert_eq!(check(&app, now + 600 * MIN).await, 0, "nothing left to check");
    assert_eq!(fake.payouts_created(), 1);
    app.verify_ledger().await;
}

#[tokio::test]
async fn a_refused_transfer_gives_the_earnings_back_and_the_next_run_pays_them() {
    let fake = FakeStripe::start().await;
    let app = app(Some(&fake), None).await;
    let acct = fake.connected_account();
    let ana = instructor(&app, "u-ana", "stripe_connect", json!({"account": acct})).await;
    let c = course(&app, &ana, 2_000).await;
    buy(&app, &[&c], None).await;
    fake.set_available_balance("EUR", Some(1_000));

    run(&app).await;
    let p = payouts_of(&app, &ana).await[0].clone();
    assert_eq!(p["status"], "failed", "{p}");
    assert!(p["failure_message"].as_str().unwrap().starts_with("balance_insufficient"), "{p}");
    assert!(fake.objects("transfer").is_empty());
    // The ledger entry is reversed and the earnings are due again.
    assert_eq!(balance(&app, &format!("instructor_payable:{ana}")).await, 1_400);
    assert_eq!(balance(&app, "payouts_in_transit").await, 0);
    let (_, earnings) = app.get(&format!("/v1/instructors/{ana}/earnings")).await;
    assert_eq!(
        earnings["totals"]["EUR"],
        json!({"held": 0, "available": 1_400, "in_transit": 0, "paid": 0}),
        "{earnings}"
    );
    assert_eq!(earnings["entries"][0]["payout"], Value::Null);
    assert_eq!(events_of(&app, "payout.failed").await[0]["data"]["id"], p["id"]);
    app.verify_ledger().await;

    // Topped up, the next run (the same month) pays them.
    fake.set_available_balance("EUR", None);
    let r = run(&app).await;
    assert_eq!(r["payouts"].as_array().unwrap().len(), 1, "{r}");
    let list = payouts_of(&app, &ana).await;
    let statuses: Vec<&str> = list.iter().map(|p| p["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["failed", "paid"]);
    assert_eq!(list[1]["amount"], 1_400);
    assert_eq!(fake.objects("transfer").len(), 1);
    let (_, earnings) = app.get(&format!("/v1/instructors/{ana}/earnings")).await;
    assert_eq!(earnings["totals"]["EUR"], json!({"held": 0, "available": 0, "in_transit": 0, "paid": 1_400}));
    assert_eq!(balance(&app, &format!("instructor_payable:{ana}")).await, 0);
    // The month's statement shows the payout that paid, once.
    let period = list[1]["period"].as_str().unwrap();
    let r = app.req(reqwest::Method::GET, &format!("/v1/instructors/{ana}/statement?period={period}")).send();
    let csv = r.await.unwrap().text().await.unwrap();
    assert_eq!(csv.lines().filter(|l| l.contains(",payout,")).count(), 1, "{csv}");
    app.verify_ledger().await;
}

#[tokio::test]
async fn a_refused_paypal_payout_gives_the_commissions_back() {
    let fake = FakePaypal::start().await;
    let app = app(None, Some(&fake)).await;
    let ana = instructor(&app, "u-ana", "sandbox", json!({})).await;
    let c = course(&app, &ana, 5_000).await;
    let (s, aff) = app
        .post(
            "/v1/affiliates",
            json!({"external_id": "u-cara", "name": "Cara", "code": "CARA-1", "payout_method": "paypal",
                   "payout_details": {"email": "cara@example.com"}}),
        )
        .await;
    assert_eq!(s, 201, "{aff}");
    let cara = aff["id"].as_str().unwrap().to_string();
    let (s, _) =
        app.post(&format!("/v1/affiliates/{cara}/status"), json!({"status": "approved", "commission_bps": 1000})).await;
    assert_eq!(s, 200);
    let (s, click) = app.post("/v1/affiliate_clicks", json!({"code": "CARA-1", "ip": "203.0.113.9"})).await;
    assert_eq!(s, 201, "{click}");
    buy(&app, &[&c], click["id"].as_str()).await;
    let commission = 500;
    assert_eq!(balance(&app, &format!("affiliate_payable:{cara}")).await, commission);

    fake.refuse_payouts_for_funds(1);
    run(&app).await;
    let p = payouts_of(&app, &cara).await[0].clone();
    assert_eq!(p["status"], "failed", "{p}");
    assert!(p["failure_message"].as_str().unwrap().starts_with("INSUFFICIENT_FUNDS"), "{p}");
    let (_, comms) = app.get(&format!("/v1/commissions?affiliate={cara}")).await;
    assert_eq!((comms["data"][0]["status"].as_str(), &comms["data"][0]["payout"]), (Some("approved"), &Value::Null));
    assert_eq!(balance(&app, &format!("affiliate_payable:{cara}")).await, commission);
    assert_eq!(payouts_of(&app, &ana).await[0]["status"], "paid", "the sandbox pays at once");
    app.verify_ledger().await;

    // The next run pays the commission; PayPal settles the batch.
    let now = app.state.now_ms();
    run(&app).await;
    let list = payouts_of(&app, &cara).await;
    assert_eq!(list.len(), 2);
    assert_eq!((list[1]["status"].as_str(), list[1]["amount"].as_i64()), (Some("pending"), Some(commission)));
    fake.complete_payouts();
    assert_eq!(check(&app, now + 2 * MIN).await, 1);
    assert_eq!(payouts_of(&app, &cara).await[1]["status"], "paid");
    let (_, comms) = app.get(&format!("/v1/commissions?affiliate={cara}")).await;
    assert_eq!((comms["data"][0]["status"].as_str(), &comms["data"][0]["payout"]), (Some("paid"), &list[1]["id"]));
    assert_eq!(balance(&app, &format!("affiliate_payable:{cara}")).await, 0);
    assert_eq!(balance(&app, "payouts_in_transit").await, 0);
    assert_eq!(fake.payouts_created(), 1);
    app.verify_ledger().await;
}

#[tokio::test]
async fn an_unknown_outcome_stays_pending_and_recovery_never_transfers_twice() {
    let fake = FakeStripe::start().await;
    let app = app(Some(&fake), None).await;
    let acct = fake.connected_account();
    let ana = instructor(&app, "u-ana", "stripe_connect", json!({"account": acct})).await;
    let c = course(&app, &ana, 2_000).await;
    buy(&app, &[&c], None).await;

    // Stripe transfers, then answers 500: the outcome is unknown.
    fake.fail_next(1, Fault::ServerErrorAfterExecuting);
    let now = app.state.now_ms();
    run(&app).await;
    let p = payouts_of(&app, &ana).await[0].clone();
    assert_eq!(p["status"], "pending", "{p}");
    assert!(p["failure_message"].as_str().unwrap().contains("outcome unknown"), "{p}");
    assert_eq!(fake.objects("transfer").len(), 1, "Stripe did transfer");
    assert_eq!(balance(&app, "payouts_in_transit").await, 1_400);
    app.verify_ledger().await;

    // The check finds the transfer by the payout id; nothing is sent again.
    assert_eq!(check(&app, now + 2 * MIN).await, 1);
    let p = payouts_of(&app, &ana).await[0].clone();
    assert_eq!(p["status"], "paid", "{p}");
    assert_eq!(p["provider_reference"], fake.objects("transfer")[0]["id"]);
    assert_eq!(fake.request_count("POST", "/v1/transfers"), 1);
    assert_eq!(fake.objects("transfer").len(), 1);
    assert_eq!(balance(&app, "payouts_in_transit").await, 0);
    app.verify_ledger().await;

    // A 500 before Stripe acted: still unknown to Bursar. The next run
    // starts by settling it: the lookup finds nothing, so it is sent again
    // under the same key and makes the one transfer.
    let ben = instructor(&app, "u-ben", "stripe_connect", json!({"account": acct})).await;
    let c = course(&app, &ben, 1_000).await;
    buy(&app, &[&c], None).await;
    fake.fail_next(1, Fault::ServerError);
    run(&app).await;
    let p = payouts_of(&app, &ben).await[0].clone();
    assert_eq!((p["status"].as_str(), p["amount"].as_i64()), (Some("pending"), Some(700)), "{p}");
    assert_eq!(fake.objects("transfer").len(), 1);
    let r = run(&app).await;
    assert_eq!(r["payouts"], json!([]), "nothing new: the pending payout is settled");
    let p = payouts_of(&app, &ben).await[0].clone();
    assert_eq!(p["status"], "paid", "{p}");
    let bens: Vec<Value> = fake.objects("transfer").into_iter().filter(|t| t["transfer_group"] == p["id"]).collect();
    assert_eq!(bens.len(), 1);
    assert_eq!(fake.request_count("POST", "/v1/transfers"), 3);
    // Looked up before it was sent again, and sent under the same key.
    let calls: Vec<(String, Option<String>)> = fake
        .requests()
        .into_iter()
        .filter(|r| r.path == "/v1/transfers")
        .map(|r| (r.method, r.idempotency_key))
        .collect();
    let n = calls.len();
    let methods: Vec<&str> = calls[n - 3..].iter().map(|(m, _)| m.as_str()).collect();
    assert_eq!(methods, ["POST", "GET", "POST"]);
    assert_eq!(calls[n - 3].1, calls[n - 1].1, "sent again under the same key");
    assert_eq!(balance(&app, "payouts_in_transit").await, 0);
    assert_eq!(balance(&app, &format!("instructor_payable:{ben}")).await, 0);
    app.verify_ledger().await;
}

#[tokio::test]
async fn provider_payout_details_are_checked_field_by_field() {
    let fake = FakeStripe::start().await;
    let app = app(Some(&fake), None).await;
    let post = |body: Value| app.post("/v1/instructors", body);
    let (s, e) = post(json!({"external_id": "u-1", "name": "A", "payout_method": "stripe_connect"})).await;
    assert_error(s, &e, 400, Some("payout_details.account"));
    let (s, e) = post(json!({"external_id": "u-1", "name": "A", "payout_method": "stripe_connect",
                              "payout_details": {"account": "acct 1"}}))
    .await;
    assert_error(s, &e, 400, Some("payout_details.account"));
    let (s, e) = post(json!({"external_id": "u-1", "name": "A", "payout_method": "paypal",
                              "payout_details": {"email": "not-an-email"}}))
    .await;
    assert_error(s, &e, 400, Some("payout_details.email"));
    // PayPal is not configured here.
    let (s, e) = post(json!({"external_id": "u-1", "name": "A", "payout_method": "paypal",
                              "payout_details": {"email": "a@example.com"}}))
    .await;
    assert_error(s, &e, 400, Some("payout_method"));
    let (s, e) = post(json!({"external_id": "u-1", "name": "A", "payout_method": "wire"})).await;
    assert_error(s, &e, 400, Some("payout_method"));
    let id = instructor(&app, "u-1", "stripe_connect", json!({"account": "acct_1Abc"})).await;
    // An update is checked the same way.
    let (s, e) = app.post(&format!("/v1/instructors/{id}"), json!({"payout_details": {"account": "ba_1"}})).await;
    assert_error(s, &e, 400, Some("payout_details.account"));
    // Affiliates too.
    let aff = |method: &str, details: Value| {
        app.post(
            "/v1/affiliates",
            json!({"external_id": "u-2", "name": "B", "payout_method": method,
                                           "payout_details": details}),
        )
    };
    let (s, e) = aff("stripe_connect", json!({"account": ""})).await;
    assert_error(s, &e, 400, Some("payout_details.account"));
    let (s, e) = aff("paypal", json!({"email": "b@example.com"})).await;
    assert_error(s, &e, 400, Some("payout_method"));
    let (s, a) = aff("stripe_connect", json!({"account": "acct_1Xyz"})).await;
    assert_eq!((s, a["payout_method"].as_str()), (201, Some("stripe_connect")), "{a}");
    // Live mode needs live credentials.
    let r = app
        .client
        .post(app.url("/v1/instructors"))
        .bearer_auth(&app.live_key)
        .json(&json!({"external_id": "u-3", "name": "C", "payout_method": "stripe_connect",
                      "payout_details": {"account": "acct_1Abc"}}))
        .send()
        .await
        .unwrap();
    let (s, e) = json(r).await;
    assert_error(s, &e, 400, Some("payout_method"));
}
