//! The `bursar` command end to end, on the database the suite runs on.

use std::path::Path;
use std::process::{Command, Output};

struct Env {
    dir: tempfile::TempDir,
    database_url: Option<String>,
    schema: Option<String>,
}

fn env() -> Env {
    let postgres = std::env::var("BURSAR_TEST_DB").as_deref() == Ok("postgres");
    Env {
        dir: tempfile::tempdir().unwrap(),
        database_url: postgres.then(|| {
            std::env::var("BURSAR_TEST_DATABASE_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
        }),
        schema: postgres.then(|| format!("t_{}", uuid::Uuid::now_v7().simple())),
    }
}

fn bursar(env: &Env, args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_bursar"));
    c.args(args)
        .current_dir(env.dir.path())
        .env_remove("DATABASE_URL")
        .env("BURSAR_DATA_DIR", env.dir.path().join("data"))
        .env("BURSAR_LOG_LEVEL", "warn");
    if let (Some(url), Some(schema)) = (&env.database_url, &env.schema) {
        c.env("DATABASE_URL", url).env("BURSAR_DATABASE_SCHEMA", schema);
    }
    c.output().unwrap()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[test]
fn version_and_openapi() {
    let e = env();
    assert!(ok(&bursar(&e, &["version"])).starts_with("bursar "));
    let doc: serde_json::Value = serde_json::from_str(&ok(&bursar(&e, &["openapi"]))).unwrap();
    assert!(doc["paths"]["/v1/customers"]["post"].is_object());
}

#[test]
fn migrate_create_key_verify() {
    let e = env();
    assert!(ok(&bursar(&e, &["migrate"])).contains("migrations applied"));
    let out = ok(&bursar(&e, &["api-key", "create", "--name", "ci"]));
    let mut parts = out.split_whitespace();
    assert!(parts.next().unwrap().starts_with("key_"));
    assert!(parts.next().unwrap().starts_with("bsk_test_"));
    let out = ok(&bursar(&e, &["ledger", "verify"]));
    assert!(out.contains("ledger OK"), "{out}");
}

/// The documented form: `BURSAR_STAFF_PASSWORD=… bursar staff create`. The
/// password variable is no setting; a misspelt setting beside it still is
/// refused.
#[test]
fn staff_create_takes_the_password_from_the_environment() {
    let e = env();
    ok(&bursar(&e, &["migrate"]));
    let staff = |vars: &[(&str, &str)]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_bursar"));
        c.args(["staff", "create", "--email", "ops@example.com", "--name", "Ops"])
            .current_dir(e.dir.path())
            .env_remove("DATABASE_URL")
            .env("BURSAR_DATA_DIR", e.dir.path().join("data"))
            .env("BURSAR_LOG_LEVEL", "warn")
            .stdin(std::process::Stdio::null());
        if let (Some(url), Some(schema)) = (&e.database_url, &e.schema) {
            c.env("DATABASE_URL", url).env("BURSAR_DATABASE_SCHEMA", schema);
        }
        c.envs(vars.iter().copied()).output().unwrap()
    };
    let out = ok(&staff(&[("BURSAR_STAFF_PASSWORD", "a long passphrase")]));
    assert!(out.contains("staff account ops@example.com saved"), "{out}");
    let short = staff(&[("BURSAR_STAFF_PASSWORD", "short")]);
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 12 characters"));
    let misspelt = staff(&[("BURSAR_STAFF_PASSWORD", "a long passphrase"), ("BURSAR_LOG_LEVL", "debug")]);
    assert!(!misspelt.status.success());
    assert!(String::from_utf8_lossy(&misspelt.stderr).contains("log_levl"), "{:?}", misspelt);
}

#[test]
fn bad_configuration_is_refused() {
    let e = env();
    let out = Command::new(env!("CARGO_BIN_EXE_bursar"))
        .args(["migrate"])
        .current_dir(e.dir.path())
        .env("BURSAR_LOG_FORMAT", "xml")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("log_format"));
}

#[test]
fn backup_then_restore_on_sqlite() {
    let e = env();
    ok(&bursar(&e, &["migrate"]));
    ok(&bursar(&e, &["api-key", "create", "--name", "before-backup"]));
    let backup = e.dir.path().join("b.db");
    let out = bursar(&e, &["backup", backup.to_str().unwrap()]);
    if e.database_url.is_some() {
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("pg_dump"));
        return;
    }
    assert!(ok(&out).contains("backup written"));
    ok(&bursar(&e, &["api-key", "create", "--name", "after-backup"]));
    assert!(ok(&bursar(&e, &["restore", backup.to_str().unwrap()])).contains("restored"));
    ok(&bursar(&e, &["ledger", "verify"]));
    let db = e.dir.path().join("data/bursar.db");
    assert!(Path::new(&db).exists());
    let names =
        String::from_utf8(std::fs::read(&db).unwrap_or_default().into_iter().filter(|b| b.is_ascii()).collect())
            .unwrap();
    assert!(names.contains("before-backup"));
    assert!(!names.contains("after-backup"), "restore must bring back the state at backup time");
}

fn spawn(env: &Env, args: &[&str]) -> std::process::Child {
    let mut c = Command::new(env!("CARGO_BIN_EXE_bursar"));
    c.args(args)
        .current_dir(env.dir.path())
        .env_remove("DATABASE_URL")
        .env("BURSAR_DATA_DIR", env.dir.path().join("data"))
        .env("BURSAR_LOG_LEVEL", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    if let (Some(url), Some(schema)) = (&env.database_url, &env.schema) {
        c.env("DATABASE_URL", url).env("BURSAR_DATABASE_SCHEMA", schema);
    }
    c.spawn().unwrap()
}

fn processed(out: &Output) -> u64 {
    let s = ok(out);
    s.split_whitespace().find_map(|w| w.parse().ok()).unwrap_or_else(|| panic!("no count in `{s}`"))
}

/// Two billing runs started at once on the same database (two nodes): every
/// due subscription is renewed exactly once, invoice numbers stay gapless,
/// and the ledger verifies.
#[test]
fn two_billing_runs_at_once_renew_each_subscription_once() {
    const N: u64 = 3_000;
    let e = env();
    ok(&bursar(&e, &["dev", "seed-due", "--subscriptions", &N.to_string()]));
    let a = spawn(&e, &["billing", "run"]);
    let b = spawn(&e, &["billing", "run"]);
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let (na, nb) = (processed(&a), processed(&b));
    eprintln!("the two runs renewed {na} and {nb}");
    assert_eq!(na + nb, N, "the two runs renewed {na} and {nb}");
    // A third run finds nothing left to do.
    assert_eq!(processed(&bursar(&e, &["billing", "run"])), 0);
    assert!(ok(&bursar(&e, &["ledger", "verify"])).contains("OK"));
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let cfg = match (&e.database_url, &e.schema) {
            (Some(url), Some(schema)) => {
                bursar_store::DbConfig::Postgres { url: url.clone(), max_connections: 1, schema: Some(schema.clone()) }
            }
            _ => bursar_store::DbConfig::Sqlite { path: e.dir.path().join("data/bursar.db"), synchronous_full: false },
        };
        let db = bursar_store::Db::connect(&cfg).await.unwrap();
        let (count, distinct_subs): (i64, i64) = sqlx::query_as(
            "SELECT CAST(COUNT(*) AS BIGINT), CAST(COUNT(DISTINCT subscription_id) AS BIGINT) FROM invoices",
        )
        .fetch_one(db.reader())
        .await
        .unwrap();
        assert_eq!((count, distinct_subs), (N as i64, N as i64));
        let mut numbers: Vec<i64> = sqlx::query_scalar::<_, String>("SELECT number FROM invoices")
            .fetch_all(db.reader())
            .await
            .unwrap()
            .iter()
            .map(|n| n.rsplit('-').next().unwrap().parse().unwrap())
            .collect();
        numbers.sort_unstable();
        assert_eq!(numbers, (1..=N as i64).collect::<Vec<_>>(), "numbers are gapless");
        db.close().await;
    });
}

/// The marketplace and checkout benchmarks, small: each drives the real
/// server over loopback and checks its own results (every session complete,
/// every order's split adding up, the ledger verified, no search failing),
/// so a change that breaks what they measure fails here first. One test
/// runs them in turn: on PostgreSQL each clears the `bench_` schemas when
/// it ends.
#[test]
fn benchmarks_run_and_verify_their_results() {
    let e = env();
    let out = ok(&bursar(&e, &["bench", "checkout", "--sessions", "12", "--clients", "4"]));
    assert!(out.contains("all 12 sessions complete; ledger verify"), "{out}");
    let out = ok(&bursar(&e, &["bench", "orders", "--orders", "12", "--clients", "4"]));
    assert!(out.contains("all 12 orders recorded, every split adds up"), "{out}");
    let out = ok(&bursar(&e, &["bench", "search", "--courses", "400", "--requests", "16", "--clients", "4"]));
    assert!(out.contains("seeded 400 courses"), "{out}");
    assert!(out.contains("pages 2-6 by cursor"), "{out}");
    assert!(out.contains("requests with no results:"), "{out}");
    // Each page is checked for its content on every request.
    let out = ok(&bursar(&e, &["bench", "pages", "--customers", "300", "--requests", "12", "--clients", "4"]));
    for page in ["pricing page", "billing portal", "staff customer list", "staff customer search"] {
        assert!(out.contains(&format!("{page:<26} 12 in")), "{page}: {out}");
    }
}

fn refused(out: &Output) -> String {
    assert!(!out.status.success(), "stdout: {}", String::from_utf8_lossy(&out.stdout));
    String::from_utf8_lossy(&out.stderr).to_string()
}

#[test]
fn learning_content_is_imported_from_csv_and_json_files_and_bad_lines_are_named() {
    let e = env();
    let write = |name: &str, text: &str| std::fs::write(e.dir.path().join(name), text).unwrap();
    write("bad.csv", "id,topic,difficulty\nQ1,Algebra,1\nQ2,Algebra,9\n");
    let err = refused(&bursar(&e, &["learning", "import", "--file", "bad.csv"]));
    assert!(err.contains("bad.csv") && err.contains("line 3") && err.contains("difficulty"), "{err}");
    write(
        "items.csv",
        "id,topic,skill,difficulty\nQ1,Algebra,linear,1\nQ2,Algebra,,2\n\"Q3\",\"Geometry, plane\",,4\n",
    );
    let out: serde_json::Value =
        serde_json::from_str(&ok(&bursar(&e, &["learning", "import", "--file", "items.csv"]))).unwrap();
    assert_eq!(
        (out["items_created"].as_i64(), out["items_unchanged"].as_i64()),
        (Some(3), Some(0)),
        "nothing of bad.csv was written"
    );
    let out: serde_json::Value =
        serde_json::from_str(&ok(&bursar(&e, &["learning", "import", "--file", "items.csv"]))).unwrap();
    assert_eq!((out["items_created"].as_i64(), out["items_unchanged"].as_i64()), (Some(0), Some(3)));

    let form = |items: &str| {
        format!(
            "{{\"assessments\": [{{\"id\": \"form-a\", \"exam\": \"gmat\", \"title\": \"Practice A\",\n  \"items\": [{items}]}}]}}\n"
        )
    };
    write("unknown.json", &form("\"Q1\", \"Q2\", \"Q3\", \"Q9\""));
    let err = refused(&bursar(&e, &["learning", "import", "--file", "unknown.json"]));
    assert!(err.contains("assessments[0].items[3]") && err.contains("Q9"), "{err}");
    write("syntax.json", "{\"items\": [\n  {\"id\": \"Q4\", \"topic\": \"Data\", \"difficulty\": 3,}\n]}\n");
    let err = refused(&bursar(&e, &["learning", "import", "--file", "syntax.json"]));
    assert!(err.contains("syntax.json:2:"), "the line of the error: {err}");
    write("field.json", "{\"items\": [{\"id\": \"Q4\", \"topik\": \"Data\", \"difficulty\": 3}]}");
    let err = refused(&bursar(&e, &["learning", "import", "--file", "field.json"]));
    assert!(err.contains("unknown field `topik`"), "{err}");
    write("notes.txt", "Q1");
    let err = refused(&bursar(&e, &["learning", "import", "--file", "notes.txt"]));
    assert!(err.contains(".json or .csv"), "{err}");

    write("form.json", &form("\"Q1\", \"Q2\", \"Q3\""));
    let out: serde_json::Value =
        serde_json::from_str(&ok(&bursar(&e, &["learning", "import", "--file", "form.json"]))).unwrap();
    assert_eq!(out["assessments_created"], 1, "{out}");
    let out: serde_json::Value =
        serde_json::from_str(&ok(&bursar(&e, &["learning", "import", "--file", "form.json"]))).unwrap();
    assert_eq!(out["assessments_updated"], 1, "the form was stored: {out}");
    // Live mode is another set of content.
    let out: serde_json::Value =
        serde_json::from_str(&ok(&bursar(&e, &["learning", "import", "--file", "items.csv", "--live"]))).unwrap();
    assert_eq!(out["items_created"], 3, "{out}");
}
