//! The crash test: a real `bursar serve` process is killed (SIGKILL) at
//! random moments while 200 subscriptions are bought (each charged
//! off-session through a local Stripe) and then renewed, and restarted each
//! time. Afterwards every payment Stripe took is recorded exactly once,
//! nothing was charged twice, no payment is left open, and the ledger
//! verifies.

mod common;

use bursar_providers::testkit::stripe::{FakeStripe, SECRET_KEY};
use bursar_providers::Connector;
use common::{Env, Process};
use rand::Rng;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const CUSTOMERS: usize = 200;
/// Of those, how many also buy a one-off item through the hosted checkout
/// (Stripe's hosted page) while the server is being killed.
const CHECKOUTS: usize = 60;
const JAN_1: i64 = 1_767_225_600;

/// One buyer through the hosted checkout, retrying every step the way a
/// browser (and a patient buyer) would until the platform's success page.
async fn checkout(client: &reqwest::Client, key: &str, base: &str, fake: &FakeStripe, customer: &str, i: usize) {
    let (s, cs) = until_answered(|| {
        client
            .post(format!("{base}/v1/checkout/sessions"))
            .bearer_auth(key)
            .header("Idempotency-Key", format!("cs-{i}"))
            .json(&json!({"customer": customer, "mode": "payment",
                "items": [{"description": "Mock test pack", "unit_amount": 900}],
                "success_url": "https://platform.example/ok", "cancel_url": "https://platform.example/no"}))
    })
    .await;
    assert_eq!(s, 201, "{cs}");
    let id = cs["id"].as_str().unwrap().to_string();
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    for _ in 0..2_000 {
        let Ok(r) = browser.get(format!("{base}/checkout/{id}")).send().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let html = r.text().await.unwrap_or_default();
        if html.contains("Payment received") {
            return;
        }
        let Some(at) = html.find("name=\"form_token\" value=\"") else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let token = html[at + 25..at + 57].to_string();
        let Ok(r) =
            browser.post(format!("{base}/checkout/{id}/pay")).form(&[("form_token", token.as_str())]).send().await
        else {
            continue;
        };
        let to = r.headers().get("location").and_then(|l| l.to_str().ok()).unwrap_or_default().to_string();
        if !to.starts_with(&fake.base_url().to_string()) {
            continue;
        }
        // On Stripe's page: pay (once; a repeated visit finds it paid).
        if let Some(sess) = fake.objects("checkout.session").into_iter().find(|s| s["url"] == to.as_str()) {
            let _ = fake.pay_checkout(sess["id"].as_str().unwrap(), "pm_card_visa");
        }
        // Back to Bursar.
        if let Ok(r) = browser.get(format!("{base}/checkout/{id}/return")).send().await {
            let back = r.headers().get("location").and_then(|l| l.to_str().ok()).unwrap_or_default().to_string();
            if back.starts_with("https://platform.example/ok") {
                return;
            }
        }
    }
    panic!("checkout {id} never completed");
}

/// Sends a request until the server answers it with something other than a
/// crash symptom (no connection, 5xx, an idempotency claim still held).
async fn until_answered(req: impl Fn() -> reqwest::RequestBuilder) -> (u16, Value) {
    for _ in 0..2_000 {
        if let Ok(r) = req().send().await {
            let s = r.status().as_u16();
            let body: Value = r.json().await.unwrap_or(Value::Null);
            let in_flight = s == 409 && body["error"]["code"] == "idempotency_key_in_use";
            if s < 500 && !in_flight {
                return (s, body);
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("never answered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_the_server_never_loses_or_doubles_a_payment() {
    let fake = FakeStripe::start().await;
    let dir = tempfile::tempdir().unwrap();
    let env = Env::new(dir.path(), fake.base_url(), 5, 6);
    let key = env.api_key("kill-test");
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let server: Arc<Mutex<Process>> = Arc::new(Mutex::new(env.serve(&[]).await));
    let api =
        |method: reqwest::Method, path: &str| client.request(method, format!("{}{path}", env.base())).bearer_auth(&key);

    // The catalog, a test clock, and 200 learners with a saved Stripe card each.
    let doc: Value = serde_json::from_str(bursar_core::demo::DEMO_CATALOG).unwrap();
    let (s, _) = until_answered(|| api(reqwest::Method::POST, "/v1/catalog/import").json(&doc)).await;
    assert_eq!(s, 200);
    let (_, clock) =
        until_answered(|| api(reqwest::Method::POST, "/v1/test_clocks").json(&json!({"frozen_time": JAN_1}))).await;
    let clock = clock["id"].as_str().unwrap().to_string();
    let mut cfg = bursar_providers::stripe::StripeConfig::new(SECRET_KEY, vec![]);
    cfg.api_base = fake.base_url().to_string();
    let stripe = bursar_providers::stripe::StripeConnector::new(cfg).unwrap();
    let mut customers = Vec::new();
    for i in 0..CUSTOMERS {
        let (s, c) = until_answered(|| {
            api(reqwest::Method::POST, "/v1/customers")
                .header("Idempotency-Key", format!("cus-{i}"))
                .json(&json!({"country": "US", "test_clock": clock, "external_id": format!("learner-{i}")}))
        })
        .await;
        assert_eq!(s, 200, "{c}");
        let cus = c["id"].as_str().unwrap().to_string();
        let sc = stripe
            .ensure_customer(&bursar_providers::CustomerInfo { customer_id: cus.clone(), ..Default::default() })
            .await
            .unwrap();
        let (s, m) = until_answered(|| {
            api(reqwest::Method::POST, &format!("/v1/customers/{cus}/payment_methods"))
                .header("Idempotency-Key", format!("pm-{i}"))
                .json(&json!({"provider": "stripe", "token": "pm_card_visa", "provider_customer": sc}))
        })
        .await;
        assert_eq!(s, 200, "{m}");
        customers.push(cus);
    }

    // The killer: SIGKILL at random moments, then a restart.
    let stop = Arc::new(AtomicBool::new(false));
    let kills = Arc::new(AtomicUsize::new(0));
    let killer = {
        let (stop, kills, server, env) = (stop.clone(), kills.clone(), server.clone(), env.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                let wait = rand::rng().random_range(150..700);
                tokio::time::sleep(Duration::from_millis(wait)).await;
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                server.lock().unwrap().kill();
                kills.fetch_add(1, Ordering::SeqCst);
                let child = env.spawn(&[]);
                server.lock().unwrap().0 = Some(child);
            }
        })
    };

    // 200 purchases from 20 clients at once, each retried until answered.
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..20 {
        let (next, customers, client, key, base) =
            (next.clone(), customers.clone(), client.clone(), key.clone(), env.base());
        workers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= customers.len() {
                    break;
                }
                let (s, b) = until_answered(|| {
                    client
                        .post(format!("{base}/v1/subscriptions"))
                        .bearer_auth(&key)
                        .header("Idempotency-Key", format!("sub-{i}"))
                        .json(&json!({"customer": customers[i], "plan": "grow", "trial": false}))
                })
                .await;
                // A retry after a crash that came after the subscription was
                // written finds it there.
                assert!(s == 200 || (s == 409 && b["error"]["code"] == "subscription_exists"), "{s} {b}");
            }
        }));
    }
    // Hosted checkouts at the same time: the buyer's browser retries each
    // step, Stripe's page is paid once per session.
    let fake = Arc::new(fake);
    for w in 0..10 {
        let (customers, client, key, base, fake) =
            (customers.clone(), client.clone(), key.clone(), env.base(), fake.clone());
        workers.push(tokio::spawn(async move {
            for i in (w..CHECKOUTS).step_by(10) {
                checkout(&client, &key, &base, &fake, &customers[i], i).await;
            }
        }));
    }
    for w in workers {
        w.await.unwrap();
    }
    // Renewals: the clock moves a month; the billing run is retried until it
    // has nothing left.
    let (s, b) = until_answered(|| {
        api(reqwest::Method::POST, &format!("/v1/test_clocks/{clock}/advance"))
            .json(&json!({"frozen_time": JAN_1 + 31 * 86_400}))
    })
    .await;
    assert!(s == 200 || (s == 400 && b["error"]["param"] == "frozen_time"), "{s} {b}");
    stop.store(true, Ordering::SeqCst);
    killer.await.unwrap();
    let killed = kills.load(Ordering::SeqCst);
    assert!(killed >= 3, "the server was killed only {killed} times");
    server.lock().unwrap().kill();

    // After the last restart: the recovery (billing run, payment checks).
    let out = env.run(&["billing", "run"]);
    assert!(out.contains("billing run processed"), "{out}");
    env.run(&["billing", "run"]);
    assert!(env.run(&["ledger", "verify"]).contains("ledger OK"));

    // What Stripe took, against what Bursar recorded.
    let intents = fake.objects("payment_intent");
    let mut by_payment: std::collections::BTreeMap<String, Vec<Value>> = Default::default();
    for pi in &intents {
        let pay = pi["metadata"]["payment_id"].as_str().unwrap_or_default().to_string();
        by_payment.entry(pay).or_default().push(pi.clone());
    }
    for (pay, pis) in &by_payment {
        assert_eq!(pis.len(), 1, "payment {pay} was charged {} times", pis.len());
    }
    let taken: i64 =
        intents.iter().filter(|pi| pi["status"] == "succeeded").map(|pi| pi["amount"].as_i64().unwrap()).sum();
    let db = env.db().await;
    let rows: Vec<(String, String, i64)> =
        sqlx::query_as("SELECT id, status, amount FROM payments ORDER BY id").fetch_all(db.reader()).await.unwrap();
    let completed: Vec<&(String, String, i64)> = rows.iter().filter(|r| r.1 == "completed").collect();
    assert!(
        rows.iter().all(|r| r.1 == "completed"),
        "payments left unsettled: {:?}",
        rows.iter().filter(|r| r.1 != "completed").collect::<Vec<_>>()
    );
    for (id, _, _) in &completed {
        assert!(by_payment.contains_key(id), "payment {id} is recorded but Stripe never took it");
    }
    for pay in by_payment.keys() {
        assert!(completed.iter().any(|r| &r.0 == pay), "Stripe took {pay} but Bursar lost it");
    }
    let recorded: i64 = completed.iter().map(|r| r.2).sum();
    assert_eq!(recorded, taken, "money Stripe took equals money Bursar recorded");
    let (subs, invoices, paid): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT CAST(COUNT(*) AS BIGINT) FROM subscriptions), (SELECT CAST(COUNT(*) AS BIGINT) FROM invoices), \
         (SELECT CAST(COUNT(*) AS BIGINT) FROM invoices WHERE status = 'paid')",
    )
    .fetch_one(db.reader())
    .await
    .unwrap();
    assert_eq!(subs, CUSTOMERS as i64, "one subscription per learner");
    let subs_invoices = 2 * CUSTOMERS as i64;
    assert_eq!(
        (invoices, paid),
        (subs_invoices + CHECKOUTS as i64, subs_invoices + CHECKOUTS as i64),
        "first invoices, renewals and checkouts, all paid"
    );
    assert_eq!(taken, subs_invoices * 1900 + CHECKOUTS as i64 * 900);
    let complete: i64 =
        sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM checkout_sessions WHERE status = 'complete'")
            .fetch_one(db.reader())
            .await
            .unwrap();
    assert_eq!(complete, CHECKOUTS as i64);
    eprintln!("killed {killed} times; {} payments, all settled once", completed.len());
    db.close().await;
}
