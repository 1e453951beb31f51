use crate::common::*;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const JAN_1: i64 = 1_767_225_600;
const DAY: i64 = 86_400;

async fn kinds(app: &TestApp, cus: &str) -> Vec<String> {
    let (_, l) = app.get(&format!("/v1/emails?customer={cus}&limit=100")).await;
    let mut v: Vec<String> =
        l["data"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap().to_string()).collect();
    v.sort();
    v
}

#[tokio::test]
async fn welcome_trial_receipt_dunning_and_survey_emails_go_to_the_outbox() {
    // The test drives the email job itself.
    let app = TestApp::spawn_with(|c| c.background_jobs = false).await;
    let doc: Value = serde_json::from_str(bursar_core::demo::DEMO_CATALOG).unwrap();
    app.post("/v1/catalog/import", doc).await;
    let (_, clock) = app.post("/v1/test_clocks", json!({"frozen_time": JAN_1})).await;
    let clock = clock["id"].as_str().unwrap().to_string();
    let (_, c) = app
        .post("/v1/customers", json!({"email": "lena@example.com", "name": "Lena", "country": "DE", "locale": "de-DE", "test_clock": clock}))
        .await;
    let cus = c["id"].as_str().unwrap().to_string();
    let (s, sub) = app.post("/v1/subscriptions", json!({"customer": cus, "plan": "grow"})).await;
    assert_eq!(s, 200);
    bursar_core::emails::run(&app.state).await.unwrap();
    assert_eq!(kinds(&app, &cus).await, vec!["welcome"]);
    // Without `public_url`, links start at the address the server listens on.
    let (_, l) = app.get(&format!("/v1/emails?customer={cus}")).await;
    let welcome = l["data"][0]["body"].as_str().unwrap();
    assert!(welcome.contains(&format!("http://{}/billing\n", app.state.config.listen)), "{welcome}");
    let advance = |t: i64| {
        let (app, clock) = (&app, clock.clone());
        async move {
            assert_eq!(app.post(&format!("/v1/test_clocks/{clock}/advance"), json!({"frozen_time": t})).await.0, 200)
        }
    };
    // Three days before the trial ends: a reminder, once.
    advance(JAN_1 + 11 * DAY).await;
    bursar_core::emails::run(&app.state).await.unwrap();
    bursar_core::emails::run(&app.state).await.unwrap();
    assert_eq!(kinds(&app, &cus).await, vec!["trial_ending", "welcome"]);
    // Conversion: a receipt with the amount in the customer's locale.
    advance(JAN_1 + 14 * DAY).await;
    bursar_core::emails::run(&app.state).await.unwrap();
    let (_, l) = app.get(&format!("/v1/emails?customer={cus}")).await;
    let receipt = l["data"].as_array().unwrap().iter().find(|e| e["kind"] == "receipt").unwrap().clone();
    assert!(receipt["body"].as_str().unwrap().contains("19,00\u{a0}€"), "{receipt}");
    assert_eq!(receipt["status"], "sent");
    // A declined renewal: the dunning email; then cancellation: the survey.
    app.post(&format!("/v1/customers/{cus}/payment_methods"), json!({"token": "pm_card_chargeDeclined"})).await;
    advance(JAN_1 + 46 * DAY).await;
    let id = sub["id"].as_str().unwrap();
    let (s, _) = app.post(&format!("/v1/subscriptions/{id}/cancel"), json!({"at_period_end": false})).await;
    assert_eq!(s, 200);
    bursar_core::emails::run(&app.state).await.unwrap();
    let k = kinds(&app, &cus).await;
    assert!(k.contains(&"payment_failed".to_string()) && k.contains(&"cancellation_survey".to_string()), "{k:?}");
    // Every email was written to the outbox directory exactly once.
    let dir = app.state.config.data_dir.join("outbox");
    let files: Vec<String> =
        std::fs::read_dir(&dir).unwrap().map(|f| std::fs::read_to_string(f.unwrap().path()).unwrap()).collect();
    let (_, all) = app.get(&format!("/v1/emails?customer={cus}&limit=100")).await;
    assert_eq!(files.len(), all["data"].as_array().unwrap().len());
    assert!(files.iter().all(|f| f.contains("To: lena@example.com\r\n")));
    assert!(files.iter().any(|f| f.contains("Subject: Your trial ends soon")));
}

/// A minimal SMTP server: enough of RFC 5321 for one client, recording
/// every message it accepts.
async fn smtp_sink() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let got = Arc::new(Mutex::new(Vec::new()));
    let store = got.clone();
    tokio::spawn(async move {
        loop {
            let Ok((sock, _)) = listener.accept().await else { return };
            let store = store.clone();
            tokio::spawn(async move {
                let (r, mut w) = sock.into_split();
                let mut lines = BufReader::new(r).lines();
                w.write_all(b"220 sink ESMTP\r\n").await.unwrap();
                let mut data: Option<String> = None;
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Some(buf) = data.as_mut() {
                        if line == "." {
                            store.lock().unwrap().push(data.take().unwrap());
                            w.write_all(b"250 queued\r\n").await.unwrap();
                        } else {
                            buf.push_str(&line);
                            buf.push('\n');
                        }
                        continue;
                    }
                    let cmd = line.to_ascii_uppercase();
                    let reply: &[u8] = if cmd.starts_with("EHLO") {
                        b"250-sink\r\n250 8BITMIME\r\n"
                    } else if cmd.starts_with("DATA") {
                        data = Some(String::new());
                        b"354 go ahead\r\n"
                    } else if cmd.starts_with("QUIT") {
                        w.write_all(b"221 bye\r\n").await.unwrap();
                        return;
                    } else {
                        b"250 ok\r\n"
                    };
                    w.write_all(reply).await.unwrap();
                }
            });
        }
    });
    (port, got)
}

#[tokio::test]
async fn smtp_transport_delivers_to_a_relay() {
    let (port, got) = smtp_sink().await;
    let app = TestApp::spawn_with(move |c| {
        c.email_transport = "smtp".into();
        c.smtp_url = Some(format!("smtp://127.0.0.1:{port}"));
        c.email_from = "Billing <billing@example.org>".into();
        c.background_jobs = false;
    })
    .await;
    let (_, c) = app.post("/v1/customers", json!({"email": "ava@example.com", "name": "Ava"})).await;
    let (queued, sent) = bursar_core::emails::run(&app.state).await.unwrap();
    assert_eq!((queued, sent), (1, 1));
    let msgs = got.lock().unwrap().clone();
    assert_eq!(msgs.len(), 1);
    assert!(msgs[0].contains("Subject: Welcome!"), "{}", msgs[0]);
    assert!(msgs[0].contains("To: ava@example.com"));
    assert!(msgs[0].contains("Hi Ava,"));
    let (_, l) = app.get(&format!("/v1/emails?customer={}", c["id"].as_str().unwrap())).await;
    assert_eq!(l["data"][0]["status"], "sent");
}

#[tokio::test]
async fn an_unreachable_relay_keeps_the_email_pending() {
    let app = TestApp::spawn_with(|c| {
        c.email_transport = "smtp".into();
        c.smtp_url = Some("smtp://127.0.0.1:9".into());
        c.background_jobs = false;
    })
    .await;
    app.post("/v1/customers", json!({"email": "x@example.com"})).await;
    let (_, sent) = bursar_core::emails::run(&app.state).await.unwrap();
    assert_eq!(sent, 0);
    let (_, l) = app.get("/v1/emails").await;
    assert_eq!(l["data"][0]["status"], "pending");
    assert_eq!(l["data"][0]["attempts"], 1);
    assert!(l["data"][0]["last_error"].is_string());
}
