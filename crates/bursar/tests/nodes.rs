//! Several `bursar serve` processes on one database. On PostgreSQL two
//! nodes share it, and consumes racing through both never admit more than
//! the limit. On SQLite a second server on the same file refuses to start
//! (the database lock), so the same race runs through the one node.

use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Node(Child);

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn command(root: &std::path::Path, db: &Option<(String, String)>, port: u16, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_bursar"));
    c.args(args)
        .current_dir(root)
        .env_remove("DATABASE_URL")
        .env("BURSAR_DATA_DIR", root.join("data"))
        .env("BURSAR_LISTEN", format!("127.0.0.1:{port}"))
        .env("BURSAR_LOG_LEVEL", "error")
        .env("BURSAR_BACKGROUND_JOBS", "false");
    if let Some((url, schema)) = db {
        c.env("DATABASE_URL", url).env("BURSAR_DATABASE_SCHEMA", schema);
    }
    c
}

async fn ready(port: u16) -> bool {
    let client = reqwest::Client::new();
    for _ in 0..200 {
        if client.get(format!("http://127.0.0.1:{port}/readyz")).send().await.is_ok_and(|r| r.status().is_success()) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn consumes_racing_through_two_nodes_admit_exactly_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let db = (std::env::var("BURSAR_TEST_DB").as_deref() == Ok("postgres")).then(|| {
        (
            std::env::var("BURSAR_TEST_DATABASE_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into()),
            format!("t_{}", uuid::Uuid::now_v7().simple()),
        )
    });
    let out = command(root, &db, 0, &["api-key", "create", "--name", "nodes"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let key = String::from_utf8(out.stdout).unwrap().split_whitespace().nth(1).unwrap().to_string();
    let (pa, pb) = (free_port(), free_port());
    let _a = Node(command(root, &db, pa, &["serve"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap());
    assert!(ready(pa).await, "node A did not start");
    let b_proc = command(root, &db, pb, &["serve"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let mut _b = None;
    let ports = if db.is_some() {
        _b = Some(Node(b_proc));
        assert!(ready(pb).await, "node B did not start");
        vec![pa, pb]
    } else {
        // SQLite: one server per database file.
        let mut b_proc = b_proc;
        let status = tokio::task::spawn_blocking(move || b_proc.wait()).await.unwrap().unwrap();
        assert!(!status.success(), "a second server on the same SQLite file must refuse to start");
        vec![pa]
    };
    let client = reqwest::Client::new();
    let post = |port: u16, path: &str, body: Value| {
        client.post(format!("http://127.0.0.1:{port}{path}")).bearer_auth(&key).json(&body).send()
    };
    let doc: Value = serde_json::from_str(bursar_core::demo::DEMO_CATALOG).unwrap();
    assert!(post(pa, "/v1/catalog/import", doc).await.unwrap().status().is_success());
    assert!(post(pa, "/v1/metrics", json!({"code": "questions", "limit_key": "questions_per_month"}))
        .await
        .unwrap()
        .status()
        .is_success());
    let c: Value = post(pa, "/v1/customers", json!({"country": "US"})).await.unwrap().json().await.unwrap();
    let cus = c["id"].as_str().unwrap().to_string();
    let s = post(pa, "/v1/subscriptions", json!({"customer": cus, "plan": "starter", "trial": false})).await.unwrap();
    assert!(s.status().is_success());
    // Each node admits one first (so both are shown to admit, whatever the
    // timing of the race), then 400 more race against the 48 left of
    // Starter's 50 questions, alternating between the nodes.
    let mut admitted = std::collections::BTreeMap::<u16, usize>::new();
    for port in &ports {
        let r = client
            .post(format!("http://127.0.0.1:{port}/v1/entitlements/consume"))
            .bearer_auth(&key)
            .json(&json!({"customer": cus, "metric": "questions"}))
            .send()
            .await
            .unwrap();
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["consumed"], true, "node {port}: {v}");
        *admitted.entry(*port).or_default() += 1;
    }
    let tasks: Vec<_> = (0..400)
        .map(|i| {
            let (client, key, cus, port) = (client.clone(), key.clone(), cus.clone(), ports[i % ports.len()]);
            tokio::spawn(async move {
                let r = client
                    .post(format!("http://127.0.0.1:{port}/v1/entitlements/consume"))
                    .bearer_auth(key)
                    .json(&json!({"customer": cus, "metric": "questions"}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status().as_u16(), 200);
                (port, r.json::<Value>().await.unwrap()["consumed"].as_bool().unwrap())
            })
        })
        .collect();
    for t in tasks {
        let (port, ok) = t.await.unwrap();
        *admitted.entry(port).or_default() += usize::from(ok);
    }
    assert_eq!(admitted.values().sum::<usize>(), 50, "exactly the limit, across nodes: {admitted:?}");
    for port in &ports {
        let ch: Value = client
            .get(format!("http://127.0.0.1:{port}/v1/entitlements/check?customer={cus}&metric=questions"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!((ch["used"].as_i64(), ch["allowed"].as_bool()), (Some(50), Some(false)));
    }
}
