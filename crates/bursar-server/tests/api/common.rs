use bursar_domain::clock::SystemClock;
use bursar_server::{AppState, Config, ServerHandle};
use bursar_store::{Backend, Db, DbConfig};
use reqwest::{Client, Method, RequestBuilder, Response};
use serde_json::Value;
use std::sync::Arc;

/// Which database the suite runs on.
pub fn backend() -> Backend {
    match std::env::var("BURSAR_TEST_DB").as_deref() {
        Ok("postgres") => Backend::Postgres,
        Ok("sqlite") | Err(_) => Backend::Sqlite,
        Ok(other) => panic!("BURSAR_TEST_DB must be sqlite or postgres, not {other}"),
    }
}

pub fn postgres_url() -> String {
    std::env::var("BURSAR_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A database of its own for one test: a temporary SQLite file or a fresh
/// PostgreSQL schema.
pub struct TestDb {
    pub db: Db,
    pub dir: tempfile::TempDir,
}

pub async fn test_db() -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let config = match backend() {
        Backend::Sqlite => DbConfig::Sqlite { path: dir.path().join("bursar.db"), synchronous_full: false },
        Backend::Postgres => DbConfig::Postgres {
            url: postgres_url(),
            max_connections: 10,
            schema: Some(format!("t_{}", uuid::Uuid::now_v7().simple())),
        },
    };
    let db = Db::connect(&config).await.expect("connect test database");
    db.migrate().await.expect("migrate test database");
    TestDb { db, dir }
}

pub struct TestApp {
    pub base: String,
    pub client: Client,
    pub test_key: String,
    pub live_key: String,
    pub state: AppState,
    pub tdb: TestDb,
    pub server: Option<ServerHandle>,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(f: impl FnOnce(&mut Config)) -> TestApp {
        if let Ok(level) = std::env::var("BURSAR_TEST_LOG") {
            bursar_server::telemetry::init_logging("pretty", &level);
        }
        let tdb = test_db().await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        // The address pages and sessions name is the one tests reach.
        let listen = listener.local_addr().unwrap();
        let mut config = Config { data_dir: tdb.dir.path().to_path_buf(), listen, ..Config::default() };
        f(&mut config);
        let state = AppState::new(tdb.db.clone(), Arc::new(SystemClock), config).unwrap();
        let mut tx = tdb.db.begin().await.unwrap();
        let now = state.now_ms();
        let (_, test_key) = bursar_server::api::api_keys::issue_key(&mut tx, false, "tests", now).await.unwrap();
        let (_, live_key) = bursar_server::api::api_keys::issue_key(&mut tx, true, "tests live", now).await.unwrap();
        tx.commit().await.unwrap();
        let server = bursar_server::serve(state.clone(), listener, false).await.unwrap();
        TestApp {
            base: format!("http://{}", server.addr),
            client: Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap(),
            test_key,
            live_key,
            state,
            tdb,
            server: Some(server),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn req(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path)).bearer_auth(&self.test_key)
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        json(self.req(Method::GET, path).send().await.unwrap()).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        json(self.req(Method::POST, path).json(&body).send().await.unwrap()).await
    }

    pub async fn delete(&self, path: &str) -> (u16, Value) {
        json(self.req(Method::DELETE, path).send().await.unwrap()).await
    }

    pub async fn count(&self, table: &str) -> i64 {
        let sql = format!("SELECT CAST(COUNT(*) AS BIGINT) FROM {table}");
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_one(self.tdb.db.reader()).await.unwrap()
    }

    /// The form token of a checkout session's page, as a buyer's browser
    /// gets it.
    pub async fn checkout_token(&self, session: &str) -> String {
        let r = self.client.get(self.url(&format!("/checkout/{session}"))).send().await.unwrap();
        form_token(&r.text().await.unwrap())
    }

    /// Imports the demo catalog (Starter, Grow, Scale) in test mode.
    pub async fn import_demo_catalog(&self) {
        let doc: Value = serde_json::from_str(bursar_core::demo::DEMO_CATALOG).unwrap();
        let (s, b) = self.post("/v1/catalog/import", doc).await;
        assert_eq!(s, 200, "{b}");
    }

    /// A staff member, `stf_1` (ops@example.com, "correct horse battery").
    pub async fn add_staff(&self) {
        let mut tx = self.tdb.db.begin().await.unwrap();
        let staff = bursar_store::auth::StaffRow {
            id: "stf_1".into(),
            email: "ops@example.com".into(),
            name: "Ops Person".into(),
            password_hash: bursar_core::auth::hash_password("correct horse battery").unwrap(),
            created_at: 0,
        };
        bursar_store::auth::upsert_staff(&mut tx, &staff).await.unwrap();
        tx.commit().await.unwrap();
    }

    /// The billing-portal cookie a customer's browser gets by following the
    /// link of a portal session the platform opened.
    pub async fn portal_cookie(&self, customer: &str) -> String {
        let (s, ps) = self.post("/v1/portal_sessions", serde_json::json!({"customer": customer})).await;
        assert_eq!(s, 201, "{ps}");
        let path = ps["url"].as_str().unwrap().split_once("/portal/").map(|(_, t)| format!("/portal/{t}")).unwrap();
        let r = self.client.get(self.url(&path)).send().await.unwrap();
        r.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string()
    }

    pub async fn verify_ledger(&self) {
        let r = bursar_store::ledger::verify(&self.tdb.db).await.unwrap();
        assert!(r.ok(), "ledger verify failed: {:?}", r.problems);
    }
}

/// The form token of a hosted page's form.
pub fn form_token(html: &str) -> String {
    let token = hidden_value(html, "form_token");
    assert_eq!(token.len(), 32, "{token}");
    token
}

/// The value of a page's first hidden input named `name` (a form's token).
pub fn hidden_value(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).unwrap_or_else(|| panic!("no {name} on the page")) + marker.len();
    html[start..].split('"').next().unwrap().to_string()
}

pub async fn json(resp: Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    let v = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
    (status, v)
}

/// Asserts the error envelope: status, type, and the named parameter.
pub fn assert_error(status: u16, body: &Value, want_status: u16, want_param: Option<&str>) {
    assert_eq!(status, want_status, "unexpected status, body: {body}");
    let e = &body["error"];
    assert!(e["type"].is_string(), "no error type in {body}");
    assert!(e["code"].is_string(), "no error code in {body}");
    assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "no message in {body}");
    if let Some(p) = want_param {
        assert_eq!(e["param"].as_str(), Some(p), "wrong param in {body}");
    }
}
