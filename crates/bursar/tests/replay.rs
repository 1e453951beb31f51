//! A retry after a crash between the commit and the answer: a real
//! `bursar serve` process aborts right after a keyed write has committed
//! (the `fault_abort_after_commit` setting), before it answers; a new process
//! is started and the client sends the same request with the same
//! `Idempotency-Key`. The retry must get the stored answer (marked
//! `Idempotent-Replayed`) and the write must exist once: one cart, one
//! checkout session, one subscription, one charge at the provider, one
//! refund, one move of a test clock.

mod common;

use bursar_providers::testkit::stripe::{FakeStripe, SECRET_KEY};
use bursar_providers::Connector;
use common::Env;
use serde_json::{json, Value};
use std::time::Duration;

/// The first invoice of a subscription.
async fn invoice_of(env: &Env, subscription: &str) -> String {
    let db = env.db().await;
    let id = sqlx::query_scalar("SELECT id FROM invoices WHERE subscription_id = $1")
        .bind(subscription)
        .fetch_one(db.reader())
        .await
        .unwrap();
    db.close().await;
    id
}

struct Case<'a> {
    name: &'a str,
    path: String,
    body: Value,
    /// Tables where the write adds exactly one row (none for an update:
    /// the replay marker shows it did not run again).
    tables: &'a [&'a str],
    /// The answer's status.
    status: u16,
}

/// Runs one case: the request, cut off by the crash just before it answers;
/// a new process; the retry. Returns the retried answer.
async fn crash_then_retry(env: &Env, client: &reqwest::Client, key: &str, case: &Case<'_>) -> Value {
    crash_at_then_retry(env, client, key, case, &case.path).await
}

/// The same, with the crash at `fault` (a path, or `provider_call`: after
/// the business commit, before the provider is called).
async fn crash_at_then_retry(env: &Env, client: &reqwest::Client, key: &str, case: &Case<'_>, fault: &str) -> Value {
    let mut before = Vec::new();
    for t in case.tables {
        before.push(env.count(t).await);
    }
    let idem = format!("replay-{}", case.name);
    let send = || {
        client
            .post(format!("{}{}", env.base(), case.path))
            .bearer_auth(key)
            .header("Idempotency-Key", &idem)
            .json(&case.body)
            .send()
    };
    let server = env.serve(&[("BURSAR_FAULT_ABORT_AFTER_COMMIT", fault)]).await;
    let first = send().await;
    assert!(first.is_err(), "{}: the first request was answered: {:?}", case.name, first.map(|r| r.status()));
    server.wait_ended();

    let _server = env.serve(&[]).await;
    let mut answer = None;
    for _ in 0..200 {
        let r = send().await.unwrap();
        let status = r.status().as_u16();
        let replayed = r.headers().get("idempotent-replayed").is_some();
        let body: Value = r.json().await.unwrap();
        if status == 409 && body["error"]["code"] == "idempotency_key_in_use" {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        assert_eq!(status, case.status, "{}: {body}", case.name);
        assert!(replayed, "{}: the retry ran the operation again instead of replaying its answer: {body}", case.name);
        answer = Some(body);
        break;
    }
    let answer = answer.unwrap_or_else(|| panic!("{}: the key stayed in use", case.name));
    for (t, n) in case.tables.iter().zip(before) {
        assert_eq!(env.count(t).await, n + 1, "{}: one new row in {t}", case.name);
    }
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_a_crash_between_commit_and_answer_replays_the_answer() {
    let fake = FakeStripe::start().await;
    let dir = tempfile::tempdir().unwrap();
    let env = Env::new(dir.path(), fake.base_url(), 1, 2);
    let key = env.api_key("replay-test");
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();

    // What the cases need, set up without faults.
    let (customer, customer2, course, clock) = {
        let _server = env.serve(&[]).await;
        let post = |path: &str, body: Value| {
            let req = client.post(format!("{}{path}", env.base())).bearer_auth(&key).json(&body);
            let path = path.to_string();
            async move {
                let r = req.send().await.unwrap();
                let s = r.status().as_u16();
                let v: Value = r.json().await.unwrap();
                assert!(s == 200 || s == 201, "{path}: {s} {v}");
                v
            }
        };
        let doc: Value = serde_json::from_str(bursar_core::demo::DEMO_CATALOG).unwrap();
        post("/v1/catalog/import", doc).await;
        let mut cfg = bursar_providers::stripe::StripeConfig::new(SECRET_KEY, vec![]);
        cfg.api_base = fake.base_url().to_string();
        let stripe = bursar_providers::stripe::StripeConnector::new(cfg).unwrap();
        let mut learners = Vec::new();
        for email in ["lea@example.com", "max@example.com"] {
            let cus = post("/v1/customers", json!({"country": "US", "email": email})).await;
            let cus = cus["id"].as_str().unwrap().to_string();
            let sc = stripe
                .ensure_customer(&bursar_providers::CustomerInfo { customer_id: cus.clone(), ..Default::default() })
                .await
                .unwrap();
            post(
                &format!("/v1/customers/{cus}/payment_methods"),
                json!({"provider": "stripe", "token": "pm_card_visa", "provider_customer": sc}),
            )
            .await;
            learners.push(cus);
        }
        let cus = learners[0].clone();
        let ins = post("/v1/instructors", json!({"external_id": "u-ana", "name": "Ana", "tier": "standard"})).await;
        let course = post(
            "/v1/courses",
            json!({"instructor": ins["id"], "title": "Rust for Data", "description": "Data work in Rust.",
                   "topics": ["data"], "level": "beginner", "language": "en", "duration_minutes": 300,
                   "prices": {"USD": 4_900}}),
        )
        .await;
        let course = course["id"].as_str().unwrap().to_string();
        post(&format!("/v1/courses/{course}/publish"), json!({})).await;
        let clock = post("/v1/test_clocks", json!({"frozen_time": 1_767_225_600})).await;
        (cus, learners[1].clone(), course, clock["id"].as_str().unwrap().to_string())
    };
    let ins: String = {
        let db = env.db().await;
        let id = sqlx::query_scalar("SELECT id FROM instructors").fetch_one(db.reader()).await.unwrap();
        db.close().await;
        id
    };
    let urls = json!({"success_url": "https://learn.example/ok", "cancel_url": "https://learn.example/no"});

    let session = Case {
        name: "checkout-session",
        path: "/v1/checkout/sessions".into(),
        body: json!({"customer": customer, "mode": "payment",
                     "items": [{"description": "Mock test pack", "unit_amount": 900}],
                     "success_url": urls["success_url"], "cancel_url": urls["cancel_url"]}),
        tables: &["checkout_sessions"],
        status: 201,
    };
    crash_then_retry(&env, &client, &key, &session).await;

    let cart = Case {
        name: "cart",
        path: "/v1/carts".into(),
        body: json!({"customer": customer, "items": [course]}),
        tables: &["carts"],
        status: 201,
    };
    let cart = crash_then_retry(&env, &client, &key, &cart).await;
    let cart_checkout = Case {
        name: "cart-checkout",
        path: format!("/v1/carts/{}/checkout", cart["id"].as_str().unwrap()),
        body: urls.clone(),
        tables: &["checkout_sessions"],
        status: 201,
    };
    crash_then_retry(&env, &client, &key, &cart_checkout).await;

    let affiliate = Case {
        name: "affiliate",
        path: "/v1/affiliates".into(),
        body: json!({"external_id": "u-cara", "name": "Cara", "code": "CARA-1"}),
        tables: &["affiliates"],
        status: 201,
    };
    crash_then_retry(&env, &client, &key, &affiliate).await;

    // A test clock's move: the retry gets the moved clock, not a refusal to
    // move it to where it already is.
    let advance = Case {
        name: "test-clock-advance",
        path: format!("/v1/test_clocks/{clock}/advance"),
        body: json!({"frozen_time": 1_767_225_600 + 86_400}),
        tables: &[],
        status: 200,
    };
    let moved = crash_then_retry(&env, &client, &key, &advance).await;
    assert_eq!(moved["frozen_time"], 1_767_225_600 + 86_400);

    let course_create = Case {
        name: "course",
        path: "/v1/courses".into(),
        body: json!({"instructor": ins, "title": "SQL Mastery", "prices": {"USD": 2_900}}),
        tables: &["courses"],
        status: 201,
    };
    let second = crash_then_retry(&env, &client, &key, &course_create).await;
    let course_update = Case {
        name: "course-update",
        path: format!("/v1/courses/{}", second["id"].as_str().unwrap()),
        body: json!({"title": "SQL Mastery, second edition"}),
        tables: &[],
        status: 200,
    };
    let updated = crash_then_retry(&env, &client, &key, &course_update).await;
    assert_eq!(updated["title"], "SQL Mastery, second edition");

    // Charged off-session through Stripe after the commit: one
    // subscription, one payment, one charge at Stripe.
    let subscription = Case {
        name: "subscription",
        path: "/v1/subscriptions".into(),
        body: json!({"customer": customer, "plan": "grow", "trial": false}),
        tables: &["subscriptions", "payments"],
        status: 200,
    };
    let sub = crash_then_retry(&env, &client, &key, &subscription).await;
    assert_eq!(fake.objects("payment_intent").len(), 1, "one charge at Stripe");
    let invoice = invoice_of(&env, sub["id"].as_str().unwrap()).await;

    // A refund sent to Stripe after the commit: one credit note, one
    // refund at Stripe.
    let refund = Case {
        name: "invoice-refund",
        path: format!("/v1/invoices/{invoice}/refund"),
        body: json!({"amount": 500}),
        tables: &["credit_notes", "refunds"],
        status: 200,
    };
    crash_then_retry(&env, &client, &key, &refund).await;
    assert_eq!(fake.objects("refund").len(), 1, "one refund at Stripe");

    // The crash comes after the business commit and before Stripe is
    // called: the retry replays the answer stored with the commit (the
    // payment still pending), and the recovery charges once.
    let (subs, refunds) = (fake.objects("payment_intent").len(), fake.objects("refund").len());
    let subscription = Case {
        name: "subscription-before-charge",
        path: "/v1/subscriptions".into(),
        body: json!({"customer": customer2, "plan": "grow", "trial": false}),
        tables: &["subscriptions", "payments"],
        status: 200,
    };
    let sub = crash_at_then_retry(&env, &client, &key, &subscription, "provider_call").await;
    let invoice = invoice_of(&env, sub["id"].as_str().unwrap()).await;
    let recover = || {
        let out = env.command(&["billing", "run"], &[]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    recover();
    assert_eq!(fake.objects("payment_intent").len(), subs + 1, "one charge at Stripe after the recovery");
    let refund = Case {
        name: "invoice-refund-before-provider",
        path: format!("/v1/invoices/{invoice}/refund"),
        body: json!({"amount": 500}),
        tables: &["credit_notes", "refunds"],
        status: 200,
    };
    crash_at_then_retry(&env, &client, &key, &refund, "provider_call").await;
    recover();
    assert_eq!(fake.objects("refund").len(), refunds + 1, "one refund at Stripe after the recovery");
    let db = env.db().await;
    let open: i64 = sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM payments WHERE status <> 'completed'")
        .fetch_one(db.reader())
        .await
        .unwrap();
    assert_eq!(open, 0, "no payment left open");
    db.close().await;
}
