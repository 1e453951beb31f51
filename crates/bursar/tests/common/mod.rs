//! A real `bursar` process for the crash tests: its own data directory (or
//! PostgreSQL schema when `BURSAR_TEST_DB=postgres`), a loopback port,
//! Stripe's double, and a handle on the database it writes.

// Each test binary uses a different part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

#[derive(Clone)]
pub struct Env {
    pub root: PathBuf,
    pub database_url: Option<String>,
    pub schema: Option<String>,
    pub port: u16,
    pub stripe: String,
    /// `request_timeout_secs` and `idempotency_lease_secs` of the process.
    pub request_timeout_secs: u64,
    pub lease_secs: u64,
}

impl Env {
    /// A fresh environment under `root`, on the database the suite runs on.
    pub fn new(root: &Path, stripe: &str, request_timeout_secs: u64, lease_secs: u64) -> Env {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let postgres = std::env::var("BURSAR_TEST_DB").as_deref() == Ok("postgres");
        Env {
            root: root.to_path_buf(),
            database_url: postgres.then(|| {
                std::env::var("BURSAR_TEST_DATABASE_URL")
                    .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
            }),
            schema: postgres.then(|| format!("t_{}", uuid::Uuid::now_v7().simple())),
            port,
            stripe: stripe.to_string(),
            request_timeout_secs,
            lease_secs,
        }
    }

    /// `bursar ARGS` in this environment, with extra settings.
    pub fn command(&self, args: &[&str], settings: &[(&str, &str)]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_bursar"));
        c.args(args)
            .current_dir(&self.root)
            .env_remove("DATABASE_URL")
            .env("BURSAR_DATA_DIR", self.root.join("data"))
            .env("BURSAR_LISTEN", format!("127.0.0.1:{}", self.port))
            .env("BURSAR_LOG_LEVEL", "error")
            .env("BURSAR_BACKGROUND_JOBS", "false")
            .env("BURSAR_REQUEST_TIMEOUT_SECS", self.request_timeout_secs.to_string())
            .env("BURSAR_IDEMPOTENCY_LEASE_SECS", self.lease_secs.to_string())
            // These tests crash servers, they do not test abuse limits.
            .env("BURSAR_RATE_LIMIT_API_PER_SEC", "0")
            .env("BURSAR_RATE_LIMIT_PUBLIC_PER_MIN", "0")
            .env("BURSAR_STRIPE_SECRET_KEY", bursar_providers::testkit::stripe::SECRET_KEY)
            .env("BURSAR_STRIPE_API_BASE", &self.stripe);
        for (k, v) in settings {
            c.env(k, v);
        }
        if let (Some(url), Some(schema)) = (&self.database_url, &self.schema) {
            c.env("DATABASE_URL", url).env("BURSAR_DATABASE_SCHEMA", schema);
        }
        c
    }

    /// Runs a command to its end and returns what it printed.
    pub fn run(&self, args: &[&str]) -> String {
        let out = self.command(args, &[]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    /// A new test-mode API key's secret.
    pub fn api_key(&self, name: &str) -> String {
        self.run(&["api-key", "create", "--name", name]).split_whitespace().nth(1).unwrap().to_string()
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Starts `bursar serve` without waiting for it.
    pub fn spawn(&self, settings: &[(&str, &str)]) -> Child {
        self.command(&["serve"], settings).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap()
    }

    /// Starts `bursar serve` and waits until it is ready.
    pub async fn serve(&self, settings: &[(&str, &str)]) -> Process {
        let process = Process(Some(self.spawn(settings)));
        let client = reqwest::Client::new();
        for _ in 0..400 {
            if client.get(format!("{}/readyz", self.base())).send().await.is_ok_and(|r| r.status().is_success()) {
                return process;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the server did not become ready");
    }

    /// The database the processes write.
    pub async fn db(&self) -> bursar_store::Db {
        let cfg = match (&self.database_url, &self.schema) {
            (Some(url), Some(schema)) => {
                bursar_store::DbConfig::Postgres { url: url.clone(), max_connections: 2, schema: Some(schema.clone()) }
            }
            _ => bursar_store::DbConfig::Sqlite { path: self.root.join("data/bursar.db"), synchronous_full: false },
        };
        bursar_store::Db::connect(&cfg).await.unwrap()
    }

    /// Rows in a table.
    pub async fn count(&self, table: &str) -> i64 {
        let db = self.db().await;
        let sql = format!("SELECT CAST(COUNT(*) AS BIGINT) FROM {table}");
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_one(db.reader()).await.unwrap();
        db.close().await;
        n
    }
}

/// A server process, killed when dropped.
pub struct Process(pub Option<Child>);

impl Process {
    /// SIGKILL, and wait for the end.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Waits until the process has ended on its own.
    pub fn wait_ended(mut self) {
        let Some(c) = self.0.as_mut() else { return };
        for _ in 0..400 {
            if c.try_wait().unwrap().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("the server did not end on its own");
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}
