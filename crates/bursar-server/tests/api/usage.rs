use crate::common::*;
use serde_json::{json, Value};

async fn setup(app: &TestApp) {
    let doc: Value = serde_json::from_str(bursar_core::demo::DEMO_CATALOG).unwrap();
    let (s, _) = app.post("/v1/catalog/import", doc).await;
    assert_eq!(s, 200);
    for m in [
        json!({"code": "tests", "name": "Tests taken", "limit_key": "tests_per_month"}),
        json!({"code": "questions", "limit_key": "questions_per_month"}),
        json!({"code": "ai_credits", "aggregation": "sum", "limit_key": "ai_queries_per_month"}),
        json!({"code": "active_days", "aggregation": "unique_count", "property": "day", "window": "calendar_month"}),
        json!({"code": "seats_peak", "aggregation": "max", "window": "calendar_month"}),
        json!({"code": "storage_gb", "aggregation": "latest", "window": "calendar_month"}),
    ] {
        let (s, b) = app.post("/v1/metrics", m).await;
        assert_eq!(s, 200, "{b}");
    }
}

async fn learner(app: &TestApp, plan: &str) -> String {
    let (_, c) = app.post("/v1/customers", json!({"country": "US"})).await;
    let cus = c["id"].as_str().unwrap().to_string();
    let (s, sub) = app.post("/v1/subscriptions", json!({"customer": cus, "plan": plan, "trial": false})).await;
    assert_eq!(s, 200, "{sub}");
    cus
}

async fn consume(app: &TestApp, cus: &str, metric: &str, quantity: i64) -> Value {
    let (s, b) =
        app.post("/v1/entitlements/consume", json!({"customer": cus, "metric": metric, "quantity": quantity})).await;
    assert_eq!(s, 200, "{b}");
    b
}

#[tokio::test]
async fn a_starter_learner_is_stopped_at_three_tests_and_an_upgrade_lifts_it() {
    let app = TestApp::spawn().await;
    setup(&app).await;
    let cus = learner(&app, "starter").await;
    for n in 1..=3 {
        let c = consume(&app, &cus, "tests", 1).await;
        assert_eq!(c["consumed"], true);
        assert_eq!((c["entitlement"]["used"].as_i64(), c["entitlement"]["remaining"].as_i64()), (Some(n), Some(3 - n)));
    }
    let c = consume(&app, &cus, "tests", 1).await;
    assert_eq!(c["consumed"], false, "the fourth test is refused");
    assert_eq!(c["entitlement"]["used"], 3);
    let (s, ch) = app.get(&format!("/v1/entitlements/check?customer={cus}&metric=tests")).await;
    assert_eq!(s, 200, "{ch}");
    assert_eq!(
        (ch["allowed"].as_bool(), ch["plan"].as_str(), ch["limit"].as_i64()),
        (Some(false), Some("starter"), Some(3))
    );
    assert_eq!((ch["upgrade"]["plan"].as_str(), ch["upgrade"]["limit"].as_str()), (Some("grow"), Some("unlimited")));
    // Mid-period upgrade to Grow: the limit lifts at once, the count carries on.
    let (_, subs) = app.get(&format!("/v1/subscriptions?customer={cus}")).await;
    let sub = subs["data"][0]["id"].as_str().unwrap();
    let (s, b) = app.post(&format!("/v1/subscriptions/{sub}/change"), json!({"plan": "grow"})).await;
    assert_eq!(s, 200, "{b}");
    let c = consume(&app, &cus, "tests", 1).await;
    assert_eq!(c["consumed"], true);
    assert_eq!((c["entitlement"]["used"].as_i64(), c["entitlement"]["limit"].as_str()), (Some(4), Some("unlimited")));
    assert_eq!(c["entitlement"]["remaining"], Value::Null);
    // AI credits by weight: Grow has 100 a month; a query may cost several.
    assert_eq!(consume(&app, &cus, "ai_credits", 60).await["consumed"], true);
    assert_eq!(consume(&app, &cus, "ai_credits", 41).await["consumed"], false);
    let last = consume(&app, &cus, "ai_credits", 40).await;
    assert_eq!((last["consumed"].as_bool(), last["entitlement"]["remaining"].as_i64()), (Some(true), Some(0)));
    let (_, ch) = app.get(&format!("/v1/entitlements/check?customer={cus}&metric=ai_credits&quantity=5")).await;
    assert_eq!((ch["allowed"].as_bool(), ch["upgrade"]["plan"].as_str()), (Some(false), Some("scale")));
    // Thresholds: 80 % and 100 %, once each per period and metric.
    let (_, evs) = app.get("/v1/events?type=usage.threshold_reached&limit=100").await;
    let mut seen: Vec<(String, i64)> = evs["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["data"]["metric"].as_str().unwrap().to_string(), e["data"]["threshold"].as_i64().unwrap()))
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        vec![("ai_credits".into(), 80), ("ai_credits".into(), 100), ("tests".into(), 80), ("tests".into(), 100)]
    );
    let tests_100 = evs["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["data"]["metric"] == "tests" && e["data"]["threshold"] == 100)
        .unwrap();
    assert_eq!(tests_100["data"]["upgrade_plan"], "grow");
}

#[tokio::test]
async fn concurrent_consumes_never_overshoot_the_limit() {
    let app = TestApp::spawn().await;
    setup(&app).await;
    // Starter allows 50 questions a month; 400 requests race for them.
    let cus = learner(&app, "starter").await;
    let tasks: Vec<_> = (0..400)
        .map(|_| {
            let (client, url, key, cus) =
                (app.client.clone(), app.url("/v1/entitlements/consume"), app.test_key.clone(), cus.clone());
            tokio::spawn(async move {
                let r = client
                    .post(url)
                    .bearer_auth(key)
                    .json(&json!({"customer": cus, "metric": "questions"}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status().as_u16(), 200);
                r.json::<Value>().await.unwrap()["consumed"].as_bool().unwrap()
            })
        })
        .collect();
    let mut admitted = 0;
    for t in tasks {
        admitted += usize::from(t.await.unwrap());
    }
    assert_eq!(admitted, 50, "exactly the limit is admitted");
    let (_, ch) = app.get(&format!("/v1/entitlements/check?customer={cus}&metric=questions")).await;
    assert_eq!((ch["used"].as_i64(), ch["remaining"].as_i64()), (Some(50), Some(0)));
}

#[tokio::test]
async fn usage_events_are_idempotent_and_land_in_their_period() {
    let app = TestApp::spawn().await;
    setup(&app).await;
    let cus = learner(&app, "grow").await;
    let now = app.state.now_ms() / 1000;
    let batch = json!({"events": [
        {"id": "e1", "customer": cus, "metric": "tests"},
        {"id": "e2", "customer": cus, "metric": "tests"},
        {"id": "e3", "customer": cus, "metric": "ai_credits", "quantity": 7},
        {"id": "d1", "customer": cus, "metric": "active_days", "properties": {"day": "2026-11-02"}},
        {"id": "d2", "customer": cus, "metric": "active_days", "properties": {"day": "2026-11-02"}},
        {"id": "d3", "customer": cus, "metric": "active_days", "properties": {"day": "2026-11-03"}},
        {"id": "s1", "customer": cus, "metric": "seats_peak", "quantity": 12},
        {"id": "s2", "customer": cus, "metric": "seats_peak", "quantity": 30},
        {"id": "s3", "customer": cus, "metric": "seats_peak", "quantity": 18},
        {"id": "g1", "customer": cus, "metric": "storage_gb", "quantity": 5, "timestamp": now - 60},
        {"id": "g2", "customer": cus, "metric": "storage_gb", "quantity": 3, "timestamp": now - 30},
        // Two months ago: counted in that month, not this one.
        {"id": "old", "customer": cus, "metric": "seats_peak", "quantity": 99, "timestamp": now - 62 * 86_400}
    ]});
    let (s, r) = app.post("/v1/usage", batch.clone()).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!((r["recorded"].as_i64(), r["duplicates"].as_i64()), (Some(12), Some(0)));
    // Sent again (a retry): nothing more is counted.
    let (_, r) = app.post("/v1/usage", batch).await;
    assert_eq!((r["recorded"].as_i64(), r["duplicates"].as_i64()), (Some(0), Some(12)));
    // A single event, without the batch wrapper.
    let (s, _) = app.post("/v1/usage", json!({"id": "e4", "customer": cus, "metric": "tests"})).await;
    assert_eq!(s, 200);
    let used = |m: &'static str| {
        let (app, cus) = (&app, cus.clone());
        async move {
            app.get(&format!("/v1/entitlements/check?customer={cus}&metric={m}")).await.1["used"].as_i64().unwrap()
        }
    };
    assert_eq!(used("tests").await, 3);
    assert_eq!(used("ai_credits").await, 7);
    assert_eq!(used("active_days").await, 2);
    assert_eq!(used("seats_peak").await, 30);
    assert_eq!(used("storage_gb").await, 3);
}

#[tokio::test]
async fn bad_usage_is_refused_and_a_refused_batch_writes_nothing() {
    let app = TestApp::spawn().await;
    setup(&app).await;
    let cus = learner(&app, "starter").await;
    let ok = json!({"id": "fine", "customer": cus, "metric": "tests"});
    let too_many: Vec<Value> =
        (0..1001).map(|i| json!({"id": format!("x{i}"), "customer": cus, "metric": "tests"})).collect();
    let cases = [
        (json!({"events": [ok, {"id": "a", "customer": cus, "metric": "nope"}]}), "events[1].metric"),
        (
            json!({"events": [ok, {"id": "a", "customer": "cus_0192f0c1e4b87c3a9d1f2b3c4d5e6f70", "metric": "tests"}]}),
            "events[1].customer",
        ),
        (
            json!({"events": [ok, {"id": "a", "customer": cus, "metric": "tests", "quantity": -2}]}),
            "events[1].quantity",
        ),
        (json!({"events": [ok, {"id": "fine", "customer": cus, "metric": "tests"}]}), "events[1].id"),
        (json!({"events": [ok, {"id": "a", "customer": cus, "metric": "active_days"}]}), "events[1].properties"),
        (
            json!({"events": [ok, {"id": "a", "customer": cus, "metric": "tests", "timestamp": 99_999_999_999i64}]}),
            "events[1].timestamp",
        ),
        (json!({"events": too_many}), "events"),
        (json!({"events": []}), "events"),
        (json!({"events": [{"id": "a", "customer": cus, "metric": "tests", "colour": 1}]}), "events[0]"),
    ];
    for (body, param) in cases {
        let (s, e) = app.post("/v1/usage", body).await;
        assert_eq!(s, 400, "{e}");
        assert!(e["error"]["param"].as_str().unwrap_or_default().starts_with(param), "{param}: {e}");
    }
    assert_eq!(app.count("usage_events").await, 0, "a refused batch writes nothing");
    assert_eq!(app.count("usage_counters").await, 0);
    let bad = [
        (app.get(&format!("/v1/entitlements/check?customer={cus}&metric=nope")).await, 400, "metric"),
        (app.get("/v1/entitlements/check?customer=cus_nope&metric=tests").await, 404, "customer"),
        (app.get(&format!("/v1/entitlements/check?customer={cus}&metric=tests&quantity=-1")).await, 400, "quantity"),
        (
            app.post("/v1/entitlements/consume", json!({"customer": cus, "metric": "tests", "quantity": 0})).await,
            400,
            "quantity",
        ),
        (app.post("/v1/entitlements/consume", json!({"customer": cus, "metric": "seats_peak"})).await, 400, "metric"),
        (app.post("/v1/metrics", json!({"code": "Bad Code"})).await, 400, "code"),
        (app.post("/v1/metrics", json!({"code": "u", "aggregation": "unique_count"})).await, 400, "property"),
        (app.post("/v1/metrics", json!({"code": "w", "window": "fortnight"})).await, 400, "window"),
    ];
    for ((s, e), status, param) in bad {
        assert_error(s, &e, status, Some(param));
    }
}

#[tokio::test]
async fn plan_flags_gate_features_and_name_the_plan_that_has_them() {
    let app = TestApp::spawn().await;
    setup(&app).await;
    let starter = learner(&app, "starter").await;
    let (_, ch) = app.get(&format!("/v1/entitlements/check?customer={starter}&feature=api_access")).await;
    assert_eq!((ch["allowed"].as_bool(), ch["upgrade"]["plan"].as_str()), (Some(false), Some("scale")));
    let scale = learner(&app, "scale").await;
    let (_, ch) = app.get(&format!("/v1/entitlements/check?customer={scale}&feature=api_access")).await;
    assert_eq!((ch["allowed"].as_bool(), ch["upgrade"].clone()), (Some(true), Value::Null));
    // Without any subscription nothing is included; the lowest plan that has it is named.
    let (_, c) = app.post("/v1/customers", json!({"country": "US"})).await;
    let none = c["id"].as_str().unwrap();
    let (_, ch) = app.get(&format!("/v1/entitlements/check?customer={none}&metric=tests")).await;
    assert_eq!(
        (ch["allowed"].as_bool(), ch["limit"].as_i64(), ch["upgrade"]["plan"].as_str()),
        (Some(false), Some(0), Some("starter"))
    );
}

#[tokio::test]
async fn ai_credits_run_out_and_a_top_up_bought_at_checkout_restores_them() {
    let app = TestApp::spawn_with(|c| c.background_jobs = false).await;
    setup(&app).await;
    let cus = learner(&app, "grow").await;
    assert_eq!(consume(&app, &cus, "ai_credits", 100).await["consumed"], true);
    let out = consume(&app, &cus, "ai_credits", 3).await;
    assert_eq!((out["consumed"].as_bool(), out["entitlement"]["credits"].as_i64()), (Some(false), Some(0)));
    // A top-up of 500 credits, bought through the hosted checkout.
    let (s, cs) = app
        .post(
            "/v1/checkout/sessions",
            json!({"customer": cus, "mode": "payment", "items": [{"description": "500 AI credits", "unit_amount": 900}],
                   "credit_grant": {"metric": "ai_credits", "amount": 500, "expires_in_days": 90},
                   "success_url": "https://p.example/ok", "cancel_url": "https://p.example/no"}),
        )
        .await;
    assert_eq!(s, 201, "{cs}");
    let id = cs["id"].as_str().unwrap();
    let token = app.checkout_token(id).await;
    app.client
        .post(app.url(&format!("/checkout/{id}/pay")))
        .form(&[("form_token", token.as_str())])
        .send()
        .await
        .unwrap();
    let r = app
        .client
        .post(app.url(&format!("/checkout/{id}/sandbox")))
        .form(&[("form_token", token.as_str()), ("card", "pm_card_visa")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    // The credits carry the learner past the plan's allowance.
    let out = consume(&app, &cus, "ai_credits", 3).await;
    assert_eq!((out["consumed"].as_bool(), out["entitlement"]["credits"].as_i64()), (Some(true), Some(497)));
    let (_, grants) = app.get(&format!("/v1/credit_grants?customer={cus}")).await;
    assert_eq!((grants[0]["remaining"].as_i64(), grants[0]["source"].as_str()), (Some(497), Some("checkout")));
    // The history says where each use came from.
    let (_, hist) = app.get(&format!("/v1/usage?customer={cus}&metric=ai_credits")).await;
    let from: Vec<(i64, String)> = hist["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["quantity"].as_i64().unwrap(), e["properties"]["from"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(from, vec![(3, "credits".into()), (100, "allowance".into())]);
    let (_, ch) = app.get(&format!("/v1/entitlements/check?customer={cus}&metric=ai_credits&quantity=400")).await;
    assert_eq!(
        (ch["allowed"].as_bool(), ch["remaining"].as_i64(), ch["credits"].as_i64()),
        (Some(true), Some(0), Some(497))
    );
    app.verify_ledger().await;
}

#[tokio::test]
async fn credits_expire_and_are_used_soonest_expiring_first() {
    let app = TestApp::spawn().await;
    setup(&app).await;
    let (_, clock) = app.post("/v1/test_clocks", json!({"frozen_time": 1_767_225_600})).await;
    let clock = clock["id"].as_str().unwrap().to_string();
    let (_, c) = app.post("/v1/customers", json!({"country": "US", "test_clock": clock})).await;
    let cus = c["id"].as_str().unwrap().to_string();
    let (s, _) = app.post("/v1/subscriptions", json!({"customer": cus, "plan": "starter", "trial": false})).await;
    assert_eq!(s, 200);
    // Starter includes no AI queries; two grants.
    let grant = |amount: i64, days: Option<i64>| {
        let (app, cus) = (&app, cus.clone());
        async move {
            let (s, g) = app
                .post(
                    "/v1/credit_grants",
                    json!({"customer": cus, "metric": "ai_credits", "amount": amount, "expires_in_days": days}),
                )
                .await;
            assert_eq!(s, 200, "{g}");
            g
        }
    };
    let forever = grant(20, None).await;
    let soon = grant(10, Some(1)).await;
    let out = consume(&app, &cus, "ai_credits", 4).await;
    assert_eq!((out["consumed"].as_bool(), out["entitlement"]["credits"].as_i64()), (Some(true), Some(26)));
    let (_, grants) = app.get(&format!("/v1/credit_grants?customer={cus}&metric=ai_credits")).await;
    let left = |id: &Value| grants.as_array().unwrap().iter().find(|g| g["id"] == *id).unwrap()["remaining"].as_i64();
    assert_eq!(
        (left(&soon["id"]), left(&forever["id"])),
        (Some(6), Some(20)),
        "the grant expiring first is used first"
    );
    // Two days later the 6 left of the short grant have expired.
    app.post(&format!("/v1/test_clocks/{clock}/advance"), json!({"frozen_time": 1_767_225_600 + 2 * 86_400})).await;
    let (_, ch) = app.get(&format!("/v1/entitlements/check?customer={cus}&metric=ai_credits")).await;
    assert_eq!(ch["credits"], 20);
    assert_eq!(consume(&app, &cus, "ai_credits", 21).await["consumed"], false, "not more than what is left");
    assert_eq!(consume(&app, &cus, "ai_credits", 20).await["consumed"], true);
    let (s, e) = app.post("/v1/credit_grants", json!({"customer": cus, "metric": "seats_peak", "amount": 5})).await;
    assert_error(s, &e, 400, Some("metric"));
    let (s, e) = app.post("/v1/credit_grants", json!({"customer": cus, "metric": "ai_credits", "amount": 0})).await;
    assert_error(s, &e, 400, Some("amount"));
}

#[tokio::test]
async fn metered_usage_is_billed_in_arrears_by_unit_package_and_tiers() {
    let app = TestApp::spawn().await;
    let doc = json!({"products": [{"code": "api", "name": "Question bank API", "plans": [{
    "code": "payg", "name": "Pay as you go", "rank": 0,
    "prices": [{"currency": "USD", "interval": "month", "amount": 1000}],
    "metered": [
        {"metric": "api_calls", "currency": "USD", "pricing": {"model": "graduated", "tiers": [
            {"up_to": 100, "unit_amount": 0},
            {"up_to": 1000, "unit_amount": 5},
            {"unit_amount": 2, "flat_amount": 1000}]}},
        {"metric": "sms", "currency": "USD", "pricing": {"model": "package", "size": 100, "amount": 300}},
        {"metric": "storage", "currency": "USD", "pricing": {"model": "per_unit", "unit_amount": 7}},
        {"metric": "storage", "currency": "EUR", "pricing": {"model": "per_unit", "unit_amount": 6}}
    ]}]}]});
    let mut bad = doc.clone();
    bad["products"][0]["plans"][0]["metered"][1]["pricing"]["size"] = json!(0);
    let (s, e) = app.post("/v1/catalog/import", bad).await;
    assert_error(s, &e, 400, Some("products[0].plans[0].metered[1].pricing"));
    let (s, b) = app.post("/v1/catalog/import", doc).await;
    assert_eq!(s, 200, "{b}");
    for m in ["api_calls", "sms", "storage"] {
        let (s, b) = app.post("/v1/metrics", json!({"code": m, "aggregation": "sum"})).await;
        assert_eq!(s, 200, "{b}");
    }
    let jan_1 = 1_767_225_600;
    let (_, clock) = app.post("/v1/test_clocks", json!({"frozen_time": jan_1})).await;
    let clock = clock["id"].as_str().unwrap().to_string();
    let (_, c) = app.post("/v1/customers", json!({"country": "US", "test_clock": clock})).await;
    let cus = c["id"].as_str().unwrap().to_string();
    let (s, _) = app.post("/v1/subscriptions", json!({"customer": cus, "plan": "payg", "trial": false})).await;
    assert_eq!(s, 200);
    // Events are reported after they happen, in the customer's (clock's) past.
    app.post(&format!("/v1/test_clocks/{clock}/advance"), json!({"frozen_time": jan_1 + 5 * 86_400})).await;
    let (s, r) = app
        .post(
            "/v1/usage",
            json!({"events": [
                {"id": "a1", "customer": cus, "metric": "api_calls", "quantity": 1200, "timestamp": jan_1 + 86_400},
                {"id": "a2", "customer": cus, "metric": "api_calls", "quantity": 300, "timestamp": jan_1 + 2 * 86_400},
                {"id": "m1", "customer": cus, "metric": "sms", "quantity": 250, "timestamp": jan_1 + 3 * 86_400},
                {"id": "g1", "customer": cus, "metric": "storage", "quantity": 12, "timestamp": jan_1 + 4 * 86_400}
            ]}),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    app.post(&format!("/v1/test_clocks/{clock}/advance"), json!({"frozen_time": jan_1 + 31 * 86_400})).await;
    let (_, invs) = app.get(&format!("/v1/invoices?customer={cus}")).await;
    let renewal = &invs["data"][0];
    let usage: Vec<(String, i64, i64)> = renewal["lines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["kind"] == "usage")
        .map(|l| {
            (
                l["description"].as_str().unwrap().to_string(),
                l["quantity"].as_i64().unwrap(),
                l["amount"].as_i64().unwrap(),
            )
        })
        .collect();
    // 1,500 calls: 100 free, 900 × 5, 500 × 2 + the last tier's 1,000 flat = 6,500.
    // 250 SMS: 3 started packages of 100 × 300 = 900. 12 GB × 7 = 84.
    assert_eq!(
        usage,
        vec![
            ("api_calls (usage)".into(), 1500, 6500),
            ("sms (usage)".into(), 250, 900),
            ("storage (usage)".into(), 12, 84)
        ]
    );
    assert_eq!(renewal["period_start"], jan_1 + 31 * 86_400);
    assert_eq!(renewal["total"], 1000 + 6500 + 900 + 84);
    assert_eq!(renewal["status"], "paid");
    // A month without usage bills the plan alone.
    app.post(&format!("/v1/test_clocks/{clock}/advance"), json!({"frozen_time": jan_1 + 59 * 86_400})).await;
    let (_, invs) = app.get(&format!("/v1/invoices?customer={cus}")).await;
    assert_eq!(invs["data"][0]["total"], 1000);
    app.verify_ledger().await;
}

#[tokio::test]
async fn with_redis_hot_counters_concurrent_consumes_still_admit_exactly_the_limit() {
    let app = TestApp::spawn_with(|c| c.redis_url = Some("redis://127.0.0.1:6379".into())).await;
    setup(&app).await;
    let cus = learner(&app, "starter").await;
    // Some use counted before: the Redis counter starts from the database's.
    for _ in 0..5 {
        assert_eq!(consume(&app, &cus, "questions", 1).await["consumed"], true);
    }
    // Redis loses its keys (a restart: it keeps nothing on disk); the next
    // consume seeds the counter again from the database.
    let client = redis::Client::open("redis://127.0.0.1:6379").unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS").arg(format!("bursar:0:{cus}:*")).query_async(&mut conn).await.unwrap();
    assert_eq!(keys.len(), 1, "{keys:?}");
    let _: () = redis::cmd("DEL").arg(&keys).query_async(&mut conn).await.unwrap();
    let tasks: Vec<_> = (0..300)
        .map(|_| {
            let (client, url, key, cus) =
                (app.client.clone(), app.url("/v1/entitlements/consume"), app.test_key.clone(), cus.clone());
            tokio::spawn(async move {
                let r = client
                    .post(url)
                    .bearer_auth(key)
                    .json(&json!({"customer": cus, "metric": "questions"}))
                    .send()
                    .await
                    .unwrap();
                r.json::<Value>().await.unwrap()["consumed"].as_bool().unwrap()
            })
        })
        .collect();
    let mut admitted = 0;
    for t in tasks {
        admitted += usize::from(t.await.unwrap());
    }
    assert_eq!(admitted, 45, "50 in all, 5 of them before");
    // Written through: the database agrees.
    let (_, ch) = app.get(&format!("/v1/entitlements/check?customer={cus}&metric=questions")).await;
    assert_eq!((ch["used"].as_i64(), ch["allowed"].as_bool()), (Some(50), Some(false)));
    let (_, evs) = app.get("/v1/events?type=usage.threshold_reached").await;
    assert_eq!(evs["data"].as_array().unwrap().len(), 2, "80 % and 100 %, once each");
}

#[tokio::test]
async fn when_redis_is_unreachable_the_database_counts() {
    let app = TestApp::spawn_with(|c| c.redis_url = Some("redis://127.0.0.1:1".into())).await;
    setup(&app).await;
    let cus = learner(&app, "starter").await;
    for _ in 0..3 {
        assert_eq!(consume(&app, &cus, "tests", 1).await["consumed"], true);
    }
    assert_eq!(consume(&app, &cus, "tests", 1).await["consumed"], false);
}

#[tokio::test]
async fn redis_never_admits_past_what_the_database_counted() {
    let app = TestApp::spawn_with(|c| c.redis_url = Some("redis://127.0.0.1:6379".into())).await;
    setup(&app).await;
    let cus = learner(&app, "starter").await;
    for _ in 0..5 {
        assert_eq!(consume(&app, &cus, "questions", 1).await["consumed"], true);
    }
    // 45 questions reported as usage events: the database counts them, Redis does not.
    let events: Vec<Value> =
        (0..45).map(|i| json!({"id": format!("q{i}"), "customer": cus, "metric": "questions"})).collect();
    let (s, r) = app.post("/v1/usage", json!({"events": events})).await;
    assert_eq!(s, 200, "{r}");
    // Redis (at 5) would admit; the database (at 50) refuses, and Redis is set again.
    assert_eq!(consume(&app, &cus, "questions", 1).await["consumed"], false);
    let client = redis::Client::open("redis://127.0.0.1:6379").unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS").arg(format!("bursar:0:{cus}:*")).query_async(&mut conn).await.unwrap();
    let v: i64 = redis::cmd("GET").arg(&keys[0]).query_async(&mut conn).await.unwrap();
    assert_eq!(v, 50);
    let (_, ch) = app.get(&format!("/v1/entitlements/check?customer={cus}&metric=questions")).await;
    assert_eq!(ch["used"], 50);
}

#[tokio::test]
async fn a_trials_usage_is_not_counted_in_the_first_paid_period() {
    let app = TestApp::spawn().await;
    let doc = json!({"products": [{"code": "api", "name": "API", "plans": [{
        "code": "payg", "name": "Pay as you go", "rank": 0, "trial_days": 14,
        "prices": [{"currency": "USD", "interval": "month", "amount": 1000}],
        "metered": [{"metric": "api_calls", "currency": "USD", "pricing": {"model": "per_unit", "unit_amount": 1}}]}]}]});
    let (s, b) = app.post("/v1/catalog/import", doc).await;
    assert_eq!(s, 200, "{b}");
    app.post("/v1/metrics", json!({"code": "api_calls", "aggregation": "sum"})).await;
    let jan_1 = 1_767_225_600;
    let (_, clock) = app.post("/v1/test_clocks", json!({"frozen_time": jan_1})).await;
    let clock = clock["id"].as_str().unwrap().to_string();
    let (_, c) = app.post("/v1/customers", json!({"country": "US", "test_clock": clock})).await;
    let cus = c["id"].as_str().unwrap().to_string();
    let (s, sub) = app.post("/v1/subscriptions", json!({"customer": cus, "plan": "payg"})).await;
    assert_eq!((s, sub["status"].as_str()), (200, Some("trialing")));
    // 500 calls during the trial, 7 in the first paid month.
    // The customer's present is the clock's: an event after it is refused as in the future.
    let (s, b) = app
        .post(
            "/v1/usage",
            json!({"id": "t0", "customer": cus, "metric": "api_calls", "quantity": 1, "timestamp": jan_1 + 86_400}),
        )
        .await;
    assert_error(s, &b, 400, Some("events[0].timestamp"));
    // Without a timestamp, the event happens at the clock's time: in the trial.
    let (s, b) =
        app.post("/v1/usage", json!({"id": "t1", "customer": cus, "metric": "api_calls", "quantity": 500})).await;
    assert_eq!(s, 200, "{b}");
    let trial_end = jan_1 + 14 * 86_400;
    app.post(&format!("/v1/test_clocks/{clock}/advance"), json!({"frozen_time": trial_end + 86_400})).await;
    let (_, ch) = app.get(&format!("/v1/entitlements/check?customer={cus}&metric=api_calls")).await;
    assert_eq!(ch["used"], 0, "a new period after the trial");
    app.post("/v1/usage", json!({"id": "p1", "customer": cus, "metric": "api_calls", "quantity": 7})).await;
    // The first paid period ends: only its 7 calls are charged.
    app.post(&format!("/v1/test_clocks/{clock}/advance"), json!({"frozen_time": trial_end + 31 * 86_400})).await;
    let (_, invs) = app.get(&format!("/v1/invoices?customer={cus}")).await;
    let usage: Vec<i64> = invs["data"][0]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["kind"] == "usage")
        .map(|l| l["amount"].as_i64().unwrap())
        .collect();
    assert_eq!(usage, vec![7]);
}
