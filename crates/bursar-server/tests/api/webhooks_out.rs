use crate::common::*;
use axum::http::HeaderMap;
use bursar_core::webhooks_out::{self, GIVE_UP_AFTER_MS, RETRY_DELAYS_MS};
use bursar_domain::clock::{from_millis, FixedClock};
use bursar_server::AppState;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Hit {
    headers: HeaderMap,
    body: String,
}

impl Hit {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

/// A local webhook receiver that records what it gets and answers with a
/// settable status.
#[derive(Clone)]
struct Receiver {
    url: String,
    port: u16,
    hits: Arc<Mutex<Vec<Hit>>>,
    status: Arc<AtomicU16>,
}

impl Receiver {
    async fn start() -> Receiver {
        let hits = Arc::new(Mutex::new(Vec::new()));
        let status = Arc::new(AtomicU16::new(200));
        let (h, s) = (hits.clone(), status.clone());
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: String| {
                let (h, s) = (h.clone(), s.clone());
                async move {
                    h.lock().unwrap().push(Hit { headers, body });
                    let code = s.load(Ordering::SeqCst);
                    let text = if code < 300 { "thanks".to_string() } else { format!("boom {}", "x".repeat(3000)) };
                    (axum::http::StatusCode::from_u16(code).unwrap(), text)
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { url: format!("http://127.0.0.1:{port}/hook"), port, hits, status }
    }

    fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }

    fn answer(&self, code: u16) {
        self.status.store(code, Ordering::SeqCst);
    }
}

/// Verifies a `Bursar-Signature` header the way Stripe's libraries verify
/// `Stripe-Signature`: any `v1` equal to HMAC-SHA256(secret, "{t}.{body}").
fn verify(header: &str, body: &str, secret: &str) -> bool {
    let mut t = None;
    let mut sigs = Vec::new();
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", v)) => t = Some(v),
            Some(("v1", v)) => sigs.push(v),
            _ => {}
        }
    }
    let Some(t) = t else { return false };
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    let expected = hex::encode(mac.finalize().into_bytes());
    sigs.contains(&expected.as_str())
}

fn v1_count(header: &str) -> usize {
    header.split(',').filter(|p| p.starts_with("v1=")).count()
}

async fn open_app() -> TestApp {
    TestApp::spawn_with(|c| {
        c.webhook_allow_private_urls = true;
        c.background_jobs = false;
    })
    .await
}

/// The app's state with a clock the test moves.
fn with_clock(app: &TestApp, ms: i64) -> (AppState, Arc<FixedClock>) {
    let clock = Arc::new(FixedClock::new(from_millis(ms)));
    let mut st = app.state.clone();
    st.clock = clock.clone();
    (st, clock)
}

async fn endpoint(app: &TestApp, url: &str, events: Value) -> (String, String) {
    let (s, e) = app.post("/v1/webhook_endpoints", json!({"url": url, "enabled_events": events})).await;
    assert_eq!(s, 200, "{e}");
    (e["id"].as_str().unwrap().to_string(), e["secret"].as_str().unwrap().to_string())
}

async fn customer(app: &TestApp, email: &str) -> String {
    let (s, c) = app.post("/v1/customers", json!({"email": email})).await;
    assert_eq!(s, 200, "{c}");
    c["id"].as_str().unwrap().to_string()
}

async fn deliveries(app: &TestApp, endpoint: &str, query: &str) -> Vec<Value> {
    let (s, l) = app.get(&format!("/v1/webhook_endpoints/{endpoint}/deliveries{query}")).await;
    assert_eq!(s, 200, "{l}");
    l["data"].as_array().unwrap().clone()
}

async fn next_attempt_ms(app: &TestApp, delivery: &str) -> Option<i64> {
    sqlx::query_scalar("SELECT next_attempt_at FROM webhook_deliveries WHERE id = $1")
        .bind(delivery)
        .fetch_one(app.tdb.db.reader())
        .await
        .unwrap()
}

#[tokio::test]
async fn signed_events_reach_the_endpoints_that_want_them() {
    let app = open_app().await;
    let (a, b, live) = (Receiver::start().await, Receiver::start().await, Receiver::start().await);
    let (s, created) = app
        .post(
            "/v1/webhook_endpoints",
            json!({"url": a.url, "enabled_events": ["customer.created"], "description": "CRM sync"}),
        )
        .await;
    assert_eq!(s, 200, "{created}");
    let (ep_a, secret) = (created["id"].as_str().unwrap().to_string(), created["secret"].as_str().unwrap().to_string());
    assert!(ep_a.starts_with("we_"), "{ep_a}");
    assert!(secret.starts_with("whsec_") && secret.len() == 6 + 64, "{secret}");
    assert_eq!(created["enabled_events"], json!(["customer.created"]));
    assert_eq!(created["status"], "enabled");
    assert_eq!(created["livemode"], false);
    // The secret is shown once.
    let (_, got) = app.get(&format!("/v1/webhook_endpoints/{ep_a}")).await;
    assert!(got.get("secret").is_none(), "{got}");
    assert_eq!(got["description"], "CRM sync");
    let (ep_b, _) = endpoint(&app, &b.url, json!(["invoice.*"])).await;
    // A live endpoint never hears test-mode events.
    let (s, l) = json(
        app.client
            .post(app.url("/v1/webhook_endpoints"))
            .bearer_auth(&app.live_key)
            .json(&json!({"url": live.url, "enabled_events": ["*"]}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{l}");
    assert_eq!(l["livemode"], true);
    let (_, list) = app.get("/v1/webhook_endpoints").await;
    assert_eq!(list["data"].as_array().unwrap().len(), 2, "{list}");

    let cus = customer(&app, "ana@example.com").await;
    let before = app.state.now_ms() / 1000;
    let attempted = webhooks_out::run(&app.state).await.unwrap();
    assert_eq!(attempted, 1);
    let hits = a.hits();
    assert_eq!(hits.len(), 1);
    assert!(b.hits().is_empty(), "invoice.* must not get customer.created");
    assert!(live.hits().is_empty(), "a live endpoint got a test event");
    let hit = &hits[0];
    let sig = hit.header("bursar-signature");
    assert!(verify(sig, &hit.body, &secret), "signature {sig} does not verify");
    assert!(!verify(sig, &format!("{} ", hit.body), &secret), "a changed body must not verify");
    assert!(!verify(sig, &hit.body, "whsec_other"), "another secret must not verify");
    assert_eq!(v1_count(sig), 1);
    let t: i64 = sig.split(',').next().unwrap().strip_prefix("t=").unwrap().parse().unwrap();
    assert!((t - before).abs() <= 5, "t={t}, now={before}");
    assert_eq!(hit.header("content-type"), "application/json");
    assert!(hit.header("user-agent").starts_with("Bursar/"), "{}", hit.header("user-agent"));
    let body = hit.json();
    assert_eq!(body["object"], "event");
    assert_eq!(body["type"], "customer.created");
    assert_eq!(body["livemode"], false);
    assert_eq!(body["data"]["object"]["id"], cus.as_str());
    assert!(body["created"].as_i64().is_some_and(|c| (c - before).abs() <= 5), "{body}");
    let evt = body["id"].as_str().unwrap();
    assert!(evt.starts_with("evt_"));
    assert_eq!(hit.header("bursar-event-id"), evt);

    // The delivery log.
    let log = deliveries(&app, &ep_a, "").await;
    assert_eq!(log.len(), 1);
    let d = &log[0];
    assert_eq!(d["object"], "webhook_delivery");
    assert_eq!((d["status"].as_str(), d["attempts"].as_i64()), (Some("succeeded"), Some(1)));
    assert_eq!(d["event"], evt);
    assert_eq!(d["event_type"], "customer.created");
    assert_eq!(d["last_status_code"], 200);
    assert_eq!(d["last_response_snippet"], "thanks");
    assert!(d["delivered_at"].is_i64() && d["next_attempt_at"].is_null(), "{d}");
    assert!(deliveries(&app, &ep_b, "").await.is_empty());
    let (s, one) = app.get(&format!("/v1/webhook_deliveries/{}", d["id"].as_str().unwrap())).await;
    assert_eq!(s, 200);
    let history = one["attempt_history"].as_array().unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!((history[0]["manual"].as_bool(), history[0]["status_code"].as_i64()), (Some(false), Some(200)));

    // Nothing is sent twice.
    assert_eq!(webhooks_out::run(&app.state).await.unwrap(), 0);
    assert_eq!(a.hits().len(), 1);
}

#[tokio::test]
async fn a_failing_receiver_gets_retries_with_growing_delays_until_three_days_then_a_manual_retry_works() {
    let app = open_app().await;
    let rx = Receiver::start().await;
    rx.answer(500);
    let (ep, _) = endpoint(&app, &rx.url, json!(["customer.created"])).await;
    customer(&app, "bo@example.com").await;
    let t0 = app.state.now_ms() + 60_000;
    let (st, clock) = with_clock(&app, t0);
    assert_eq!(webhooks_out::run(&st).await.unwrap(), 1);
    assert_eq!(rx.hits().len(), 1);
    let log = deliveries(&app, &ep, "").await;
    let d = &log[0];
    let id = d["id"].as_str().unwrap().to_string();
    assert_eq!((d["status"].as_str(), d["attempts"].as_i64()), (Some("pending"), Some(1)));
    assert_eq!(d["last_status_code"], 500);
    assert_eq!(d["last_error"], "HTTP 500");
    let snippet = d["last_response_snippet"].as_str().unwrap();
    assert!(snippet.starts_with("boom ") && snippet.len() == 1024, "{} bytes", snippet.len());
    let next = d["next_attempt_at"].as_i64().unwrap();
    assert!((t0 / 1000 + 60..=t0 / 1000 + 66).contains(&next), "next {next}, t0 {t0}");

    // Not before it is due.
    let mut due = next_attempt_ms(&app, &id).await.unwrap();
    clock.set(from_millis(due - 1));
    assert_eq!(webhooks_out::run(&st).await.unwrap(), 0);
    assert_eq!(rx.hits().len(), 1);

    // Each retry at its time; the delays grow, with at most 10 % jitter.
    let mut now = t0;
    let mut gaps = vec![due - now];
    let mut attempts = 1;
    loop {
        now = due;
        clock.set(from_millis(now));
        assert_eq!(webhooks_out::run(&st).await.unwrap(), 1);
        attempts += 1;
        assert_eq!(rx.hits().len(), attempts);
        match next_attempt_ms(&app, &id).await {
            Some(n) => {
                gaps.push(n - now);
                due = n;
            }
            None => break,
        }
        assert!(attempts < 40, "never gave up");
    }
    for (i, base) in RETRY_DELAYS_MS.iter().enumerate() {
        assert!((*base..=base + base / 10).contains(&gaps[i]), "gap {i} is {} ms, base {base}", gaps[i]);
    }
    assert!(gaps[..RETRY_DELAYS_MS.len()].windows(2).all(|w| w[0] < w[1]), "{gaps:?}");
    // The last attempt was at the three-day mark, and then it gave up.
    assert_eq!(now, t0 + GIVE_UP_AFTER_MS);
    let failed = deliveries(&app, &ep, "?status=failed").await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["attempts"].as_i64(), Some(attempts as i64));
    assert!(failed[0]["next_attempt_at"].is_null());
    assert!(deliveries(&app, &ep, "?status=succeeded").await.is_empty());
    clock.set(from_millis(now + 30 * 86_400_000));
    assert_eq!(webhooks_out::run(&st).await.unwrap(), 0);
    assert_eq!(rx.hits().len(), attempts);

    // The receiver recovers; a manual retry sends now and succeeds.
    rx.answer(204);
    let (s, d) = app.post(&format!("/v1/webhook_deliveries/{id}/retry"), json!({})).await;
    assert_eq!(s, 200, "{d}");
    assert_eq!(d["status"], "succeeded");
    assert_eq!(d["last_status_code"], 204);
    assert_eq!(d["attempts"].as_i64(), Some(attempts as i64 + 1));
    let history = d["attempt_history"].as_array().unwrap();
    assert_eq!(history.len(), attempts + 1);
    assert!(history[..attempts].iter().all(|a| a["status_code"] == 500 && a["manual"] == false));
    assert_eq!(history[attempts]["manual"], true);
    assert_eq!(rx.hits().len(), attempts + 1);
    assert!(rx.hits().windows(2).all(|w| w[0].body == w[1].body), "every attempt sends the same event");
}

#[tokio::test]
async fn rolling_the_secret_changes_the_signature() {
    let app = open_app().await;
    let rx = Receiver::start().await;
    let (ep, old) = endpoint(&app, &rx.url, json!(["customer.*"])).await;
    customer(&app, "c1@example.com").await;
    webhooks_out::run(&app.state).await.unwrap();
    let (s, rolled) = app.post(&format!("/v1/webhook_endpoints/{ep}/roll_secret"), json!({})).await;
    assert_eq!(s, 200, "{rolled}");
    let new = rolled["secret"].as_str().unwrap().to_string();
    assert!(new.starts_with("whsec_") && new != old);
    let grace = rolled["previous_secret_expires_at"].as_i64().unwrap();
    assert!((grace - app.state.now_ms() / 1000 - 86_400).abs() <= 5, "{rolled}");
    let (_, got) = app.get(&format!("/v1/webhook_endpoints/{ep}")).await;
    assert!(got.get("secret").is_none());
    customer(&app, "c2@example.com").await;
    webhooks_out::run(&app.state).await.unwrap();
    // A day later the old secret no longer signs.
    customer(&app, "c3@example.com").await;
    let (st, _) = with_clock(&app, app.state.now_ms() + 25 * 3_600_000);
    webhooks_out::run(&st).await.unwrap();
    let hits = rx.hits();
    assert_eq!(hits.len(), 3);
    let (first, second, third) = (&hits[0], &hits[1], &hits[2]);
    let sig = |h: &Hit| h.header("bursar-signature").to_string();
    assert!(verify(&sig(first), &first.body, &old) && !verify(&sig(first), &first.body, &new));
    // During the grace period: the new secret first, the old one as a second v1.
    assert_eq!(v1_count(&sig(second)), 2);
    assert!(verify(&sig(second), &second.body, &new));
    assert!(verify(&sig(second), &second.body, &old));
    let first_v1 = sig(second).split(',').take(2).collect::<Vec<_>>().join(",");
    assert!(verify(&first_v1, &second.body, &new));
    assert_eq!(v1_count(&sig(third)), 1);
    assert!(verify(&sig(third), &third.body, &new));
    assert!(!verify(&sig(third), &third.body, &old));
}

#[tokio::test]
async fn a_disabled_endpoint_receives_nothing() {
    let app = open_app().await;
    let rx = Receiver::start().await;
    rx.answer(503);
    let (ep, _) = endpoint(&app, &rx.url, json!(["*"])).await;
    // Another endpoint keeps listening meanwhile.
    let other = Receiver::start().await;
    endpoint(&app, &other.url, json!(["invoice.paid"])).await;
    customer(&app, "d1@example.com").await;
    let t0 = app.state.now_ms() + 60_000;
    let (st, clock) = with_clock(&app, t0);
    assert_eq!(webhooks_out::run(&st).await.unwrap(), 1);
    assert_eq!(rx.hits().len(), 1);
    let (s, e) = app.post(&format!("/v1/webhook_endpoints/{ep}"), json!({"disabled": true})).await;
    assert_eq!((s, e["status"].as_str()), (200, Some("disabled")), "{e}");
    // Neither the pending retry nor new events go out while disabled.
    customer(&app, "d2@example.com").await;
    clock.set(from_millis(t0 + 3_600_000));
    assert_eq!(webhooks_out::run(&st).await.unwrap(), 0);
    assert_eq!(rx.hits().len(), 1);
    assert_eq!(deliveries(&app, &ep, "").await.len(), 1, "an event was queued for a disabled endpoint");
    // Enabled again: the pending retry resumes, and new events flow.
    rx.answer(200);
    let (s, e) = app.post(&format!("/v1/webhook_endpoints/{ep}"), json!({"disabled": false})).await;
    assert_eq!((s, e["status"].as_str()), (200, Some("enabled")), "{e}");
    let c3 = customer(&app, "d3@example.com").await;
    assert_eq!(webhooks_out::run(&st).await.unwrap(), 2);
    let hits = rx.hits();
    assert_eq!(hits.len(), 3);
    assert!(hits[1..].iter().any(|h| h.json()["data"]["object"]["id"] == c3.as_str()));
    assert_eq!(deliveries(&app, &ep, "?status=succeeded").await.len(), 2);
}

#[tokio::test]
async fn private_and_loopback_urls_are_refused_unless_allowed() {
    let app = TestApp::spawn_with(|c| c.background_jobs = false).await;
    for url in [
        "http://127.0.0.1/hook",
        "https://127.0.0.1/hook",
        "https://10.0.0.1/hook",
        "https://172.16.5.4/hook",
        "https://192.168.0.10/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://100.64.0.1/hook",
        "https://0.0.0.0/hook",
        "https://[::1]/hook",
        "https://[fd12:3456::1]/hook",
        "https://[fe80::1]/hook",
        "https://[::ffff:10.0.0.1]/hook",
        "https://2130706433/hook",
        "https://localhost/hook",
        "https://api.localhost/hook",
        "http://example.com/hook",
        "ftp://example.com/hook",
        "https://user:pass@93.184.215.14/hook",
        "not a url",
    ] {
        let (s, e) = app.post("/v1/webhook_endpoints", json!({"url": url, "enabled_events": ["*"]})).await;
        assert_error(s, &e, 400, Some("url"));
        assert_eq!(e["error"]["code"], "parameter_invalid", "{url}: {e}");
    }
    let long = format!("https://93.184.215.14/{}", "a".repeat(2048));
    let (s, e) = app.post("/v1/webhook_endpoints", json!({"url": long, "enabled_events": ["*"]})).await;
    assert_error(s, &e, 400, Some("url"));
    assert_eq!(app.count("webhook_endpoints").await, 0);
    // A public address is fine; changing it to a private one is refused.
    let (ep, _) = endpoint(&app, "https://93.184.215.14/hook", json!(["*"])).await;
    let (s, e) = app.post(&format!("/v1/webhook_endpoints/{ep}"), json!({"url": "https://10.1.1.1/x"})).await;
    assert_error(s, &e, 400, Some("url"));
    let (_, got) = app.get(&format!("/v1/webhook_endpoints/{ep}")).await;
    assert_eq!(got["url"], "https://93.184.215.14/hook");

    // Checked again at delivery: endpoints saved while private addresses
    // were allowed are not sent to once they are not.
    let open = open_app().await;
    let rx = Receiver::start().await;
    let (ep_ip, _) = endpoint(&open, &format!("https://127.0.0.1:{}/hook", rx.port), json!(["*"])).await;
    let (ep_name, _) = endpoint(&open, &format!("https://localhost:{}/hook", rx.port), json!(["*"])).await;
    customer(&open, "e@example.com").await;
    let mut strict = open.state.clone();
    let mut config = (*strict.config).clone();
    config.webhook_allow_private_urls = false;
    strict.config = Arc::new(config);
    assert_eq!(webhooks_out::run(&strict).await.unwrap(), 2);
    assert!(rx.hits().is_empty(), "a private address was sent to");
    for ep in [ep_ip, ep_name] {
        let d = deliveries(&open, &ep, "").await;
        assert_eq!(d[0]["status"], "pending");
        assert!(d[0]["last_status_code"].is_null());
        let err = d[0]["last_error"].as_str().unwrap();
        assert!(err.contains("refused"), "{err}");
    }
}

#[tokio::test]
async fn bad_requests_are_refused_and_unknown_ids_are_404() {
    let app = open_app().await;
    let rx = Receiver::start().await;
    for events in [json!([]), json!(["invoice.exploded"]), json!(["nothing.*"]), json!(["invoice*"]), json!("*")] {
        let (s, e) = app.post("/v1/webhook_endpoints", json!({"url": rx.url, "enabled_events": events})).await;
        assert_error(s, &e, 400, Some("enabled_events"));
    }
    let (s, e) = app.post("/v1/webhook_endpoints", json!({"url": rx.url})).await;
    assert_error(s, &e, 400, Some("enabled_events"));
    let (s, e) = app
        .post("/v1/webhook_endpoints", json!({"url": rx.url, "enabled_events": ["*"], "description": "x".repeat(501)}))
        .await;
    assert_error(s, &e, 400, Some("description"));
    let (s, e) =
        app.post("/v1/webhook_endpoints", json!({"url": rx.url, "enabled_events": ["*"], "secret": "x"})).await;
    assert_error(s, &e, 400, Some("secret"));
    assert_eq!(app.count("webhook_endpoints").await, 0);

    let (s, e) = app
        .post("/v1/webhook_endpoints", json!({"url": rx.url, "enabled_events": ["payment.*", "invoice.paid", "*"]}))
        .await;
    assert_eq!(s, 200, "{e}");
    let ep = e["id"].as_str().unwrap().to_string();
    let (s, e) = app.post(&format!("/v1/webhook_endpoints/{ep}"), json!({"enabled_events": ["bogus"]})).await;
    assert_error(s, &e, 400, Some("enabled_events"));
    let (s, e) = app
        .post(&format!("/v1/webhook_endpoints/{ep}"), json!({"enabled_events": ["invoice.paid"], "description": "x"}))
        .await;
    assert_eq!(s, 200, "{e}");
    assert_eq!((e["enabled_events"].clone(), e["description"].clone()), (json!(["invoice.paid"]), json!("x")));
    let (_, e) = app.post(&format!("/v1/webhook_endpoints/{ep}"), json!({"description": null})).await;
    assert!(e["description"].is_null(), "{e}");
    let (s, e) = app.get(&format!("/v1/webhook_endpoints/{ep}/deliveries?status=lost")).await;
    assert_error(s, &e, 400, Some("status"));

    let missing = "we_0192f0c1e4b87c3a9d1f2b3c4d5e6f70";
    let whd = "whd_0192f0c1e4b87c3a9d1f2b3c4d5e6f70";
    for (status, body) in [
        app.get(&format!("/v1/webhook_endpoints/{missing}")).await,
        app.get("/v1/webhook_endpoints/we_nope").await,
        app.post(&format!("/v1/webhook_endpoints/{missing}"), json!({"disabled": true})).await,
        app.delete(&format!("/v1/webhook_endpoints/{missing}")).await,
        app.post(&format!("/v1/webhook_endpoints/{missing}/roll_secret"), json!({})).await,
        app.get(&format!("/v1/webhook_endpoints/{missing}/deliveries")).await,
        app.get(&format!("/v1/webhook_deliveries/{whd}")).await,
        app.post(&format!("/v1/webhook_deliveries/{whd}/retry"), json!({})).await,
    ] {
        assert_error(status, &body, 404, Some("id"));
        assert_eq!(body["error"]["code"], "resource_missing");
    }
    // The other mode's key sees nothing.
    let (s, e) = json(
        app.client
            .get(app.url(&format!("/v1/webhook_endpoints/{ep}")))
            .bearer_auth(&app.live_key)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(s, &e, 404, Some("id"));
    // Delete: gone, with its log.
    let (s, e) = app.delete(&format!("/v1/webhook_endpoints/{ep}")).await;
    assert_eq!((s, e["deleted"].as_bool()), (200, Some(true)), "{e}");
    let (s, e) = app.get(&format!("/v1/webhook_endpoints/{ep}")).await;
    assert_error(s, &e, 404, Some("id"));
    assert_eq!(app.count("webhook_endpoints").await, 0);
}

#[tokio::test]
async fn an_event_is_delivered_once_when_runs_overlap() {
    let app = open_app().await;
    let rx = Receiver::start().await;
    let (ep, _) = endpoint(&app, &rx.url, json!(["customer.created"])).await;
    let mut ids = Vec::new();
    for i in 0..6 {
        ids.push(customer(&app, &format!("p{i}@example.com")).await);
    }
    let (a, b) = tokio::join!(webhooks_out::run(&app.state), webhooks_out::run(&app.state));
    assert_eq!(a.unwrap() + b.unwrap(), 6);
    let (c, d) = tokio::join!(webhooks_out::run(&app.state), webhooks_out::run(&app.state));
    assert_eq!(c.unwrap() + d.unwrap(), 0);
    let hits = rx.hits();
    assert_eq!(hits.len(), 6);
    let mut got: Vec<String> =
        hits.iter().map(|h| h.json()["data"]["object"]["id"].as_str().unwrap().to_string()).collect();
    got.sort();
    ids.sort();
    assert_eq!(got, ids);
    let log = deliveries(&app, &ep, "?limit=100").await;
    assert_eq!(log.len(), 6);
    assert!(log.iter().all(|d| d["attempts"] == 1 && d["status"] == "succeeded"));
    // Pagination of the log, newest first.
    let (_, page) = app.get(&format!("/v1/webhook_endpoints/{ep}/deliveries?limit=4")).await;
    assert_eq!((page["data"].as_array().unwrap().len(), page["has_more"].as_bool()), (4, Some(true)));
    let last = page["data"][3]["id"].as_str().unwrap();
    let (_, rest) = app.get(&format!("/v1/webhook_endpoints/{ep}/deliveries?limit=4&starting_after={last}")).await;
    assert_eq!((rest["data"].as_array().unwrap().len(), rest["has_more"].as_bool()), (2, Some(false)));
}

#[tokio::test]
async fn an_event_can_be_resent_to_an_endpoint() {
    let app = open_app().await;
    let rx = Receiver::start().await;
    // Subscribed to something else: the event is not queued by itself.
    let (ep, secret) = endpoint(&app, &rx.url, json!(["invoice.paid"])).await;
    let cus = customer(&app, "r@example.com").await;
    webhooks_out::run(&app.state).await.unwrap();
    assert!(rx.hits().is_empty());
    let (_, evs) = app.get("/v1/events?type=customer.created").await;
    let evt = evs["data"][0]["id"].as_str().unwrap().to_string();
    let (s, e) = app.post(&format!("/v1/events/{evt}/resend"), json!({})).await;
    assert_error(s, &e, 400, Some("endpoint"));
    let (s, d) = app.post(&format!("/v1/events/{evt}/resend?endpoint={ep}"), json!({})).await;
    assert_eq!(s, 200, "{d}");
    assert_eq!((d["status"].as_str(), d["event"].as_str()), (Some("succeeded"), Some(evt.as_str())));
    assert_eq!(d["attempt_history"][0]["manual"], true);
    let (s, again) = app.post(&format!("/v1/events/{evt}/resend?endpoint={ep}"), json!({})).await;
    assert_eq!(s, 200);
    assert_eq!((again["id"].clone(), again["attempts"].as_i64()), (d["id"].clone(), Some(2)));
    let hits = rx.hits();
    assert_eq!(hits.len(), 2);
    assert!(verify(hits[1].header("bursar-signature"), &hits[1].body, &secret));
    assert_eq!(hits[1].json()["data"]["object"]["id"], cus.as_str());
    let (s, e) =
        app.post(&format!("/v1/events/evt_0192f0c1e4b87c3a9d1f2b3c4d5e6f70/resend?endpoint={ep}"), json!({})).await;
    assert_error(s, &e, 404, Some("id"));
}
