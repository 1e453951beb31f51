//! `bursar bench …`: measurements recorded in BENCHMARKS.md. Each runs on a
//! fresh database (a temporary SQLite file, or a fresh schema when
//! `DATABASE_URL` points at PostgreSQL) and compares Bursar's rate with the
//! raw insert rate of the same database on the same machine.

use anyhow::Result;
use bursar_domain::ledger::EntryDraft;
use bursar_domain::money::Currency;
use bursar_server::Config;
use bursar_store::{ledger, Db, DbConfig};
use clap::Subcommand;
use std::time::Instant;

mod learning;
mod orders;
mod pages;
mod search;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Ledger entries (2 postings each) posted per second, in transactions
    /// of `--batch` entries, against raw single-table inserts.
    Ledger {
        #[arg(long, default_value_t = 100_000)]
        entries: usize,
        #[arg(long, default_value_t = 1_000)]
        batch: usize,
    },
    /// Subscriptions renewed per second by the billing run: each renewal is
    /// an invoice with its number, lines, ledger entries, a sandbox charge
    /// and events.
    Billing {
        #[arg(long, default_value_t = 100_000)]
        subscriptions: usize,
    },
    /// Checkout over HTTP on loopback: sessions created, then paid with a
    /// sandbox test card (Pay, then the card form), by `--clients`
    /// concurrent clients; requests per second and p50/p99 latency.
    Checkout {
        #[arg(long, default_value_t = 4_000)]
        sessions: usize,
        #[arg(long, default_value_t = 200)]
        clients: usize,
    },
    /// Course orders over HTTP on loopback, end to end: a cart of two
    /// courses with a coupon and its checkout, Pay, and the sandbox
    /// confirmation that records the order with its revenue split.
    Orders {
        #[arg(long, default_value_t = 2_000)]
        orders: usize,
        #[arg(long, default_value_t = 200)]
        clients: usize,
    },
    /// Usage over HTTP on loopback: events ingested through the batch API
    /// (`--batch` per request, `--senders` at once) against the raw insert
    /// rate; then entitlement checks and consumes at `--clients` concurrent
    /// clients.
    Usage {
        #[arg(long, default_value_t = 200_000)]
        events: usize,
        #[arg(long, default_value_t = 1_000)]
        batch: usize,
        #[arg(long, default_value_t = 4)]
        senders: usize,
        #[arg(long, default_value_t = 20_000)]
        requests: usize,
        #[arg(long, default_value_t = 200)]
        clients: usize,
    },
    /// Course search over HTTP on loopback: `--courses` published courses
    /// seeded, then each class of search (text, prefix, filters, sorts,
    /// later pages) by `--clients` concurrent clients, then all mixed;
    /// requests per second and p50/p99 latency.
    Search {
        #[arg(long, default_value_t = 100_000)]
        courses: usize,
        /// Requests per class (the mixed run sends twice as many).
        #[arg(long, default_value_t = 2_000)]
        requests: usize,
        #[arg(long, default_value_t = 32)]
        clients: usize,
    },
    /// The hosted pages over HTTP on loopback, with `--customers`
    /// customers in the database: the pricing page, a learner's billing
    /// portal, the staff customer list and a customer search, each by
    /// `--clients` concurrent clients; requests per second and p50/p99.
    Pages {
        #[arg(long, default_value_t = 100_000)]
        customers: usize,
        /// Requests per page.
        #[arg(long, default_value_t = 2_000)]
        requests: usize,
        #[arg(long, default_value_t = 16)]
        clients: usize,
    },
    /// Learning analytics over HTTP on loopback: attempts of `--learners`
    /// learners on a form of `--items` items ingested through the batch API
    /// (`--batch` attempts a request, `--senders` at once) against the raw
    /// insert rate; then learner dashboards at `--clients` concurrent
    /// clients over the whole data set (p50/p95/p99).
    Learning {
        #[arg(long, default_value_t = 10_000)]
        learners: usize,
        #[arg(long, default_value_t = 100)]
        items: usize,
        #[arg(long, default_value_t = 100)]
        batch: usize,
        #[arg(long, default_value_t = 4)]
        senders: usize,
        #[arg(long, default_value_t = 20_000)]
        requests: usize,
        #[arg(long, default_value_t = 50)]
        clients: usize,
    },
}

pub async fn run(cmd: BenchCommand, config: &Config) -> Result<()> {
    // The benchmarks measure what the server can do, not its abuse limits.
    let config = &Config {
        rate_limit_api_per_sec: 0,
        rate_limit_public_per_min: 0,
        rate_limit_webhooks_per_min: 0,
        ..config.clone()
    };
    match cmd {
        BenchCommand::Ledger { entries, batch } => ledger_bench(config, entries, batch.max(1)).await,
        BenchCommand::Billing { subscriptions } => billing_bench(config, subscriptions.max(1)).await,
        BenchCommand::Checkout { sessions, clients } => checkout_bench(config, sessions.max(1), clients.max(1)).await,
        BenchCommand::Orders { orders, clients } => orders::orders_bench(config, orders.max(1), clients.max(1)).await,
        BenchCommand::Usage { events, batch, senders, requests, clients } => {
            usage_bench(config, events.max(1), batch.clamp(1, 1_000), senders.max(1), requests.max(1), clients.max(1))
                .await
        }
        BenchCommand::Pages { customers, requests, clients } => {
            pages::pages_bench(config, customers, requests.max(1), clients.max(1)).await
        }
        BenchCommand::Search { courses, requests, clients } => {
            search::search_bench(config, courses.max(1), requests.max(1), clients.max(1)).await
        }
        BenchCommand::Learning { learners, items, batch, senders, requests, clients } => {
            let items = items.clamp(1, 10_000);
            let o = learning::LearningBench {
                learners: learners.max(1),
                items,
                // A batch request holds at most 10,000 responses.
                batch: batch.clamp(1, 10_000 / items),
                senders: senders.max(1),
                requests: requests.max(1),
                clients: clients.max(1),
            };
            learning::learning_bench(config, &o).await
        }
    }
}

/// Runs `n` requests from `clients` concurrent workers; `make(i)` sends
/// request `i`. Returns (elapsed seconds, sorted latencies in µs).
pub(crate) async fn load<F, Fut>(n: usize, clients: usize, make: F) -> Result<(f64, Vec<u64>)>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<()>> + Send,
{
    let make = std::sync::Arc::new(make);
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (make, next) = (make.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let t = Instant::now();
                make(i).await?;
                lat.push(t.elapsed().as_micros() as u64);
            }
            anyhow::Ok(lat)
        }));
    }
    let mut all = Vec::with_capacity(n);
    for t in tasks {
        all.extend(t.await??);
    }
    let secs = start.elapsed().as_secs_f64();
    all.sort_unstable();
    Ok((secs, all))
}

/// The percentile `p` (a fraction: 0.95) of latencies sorted in µs, by
/// nearest rank, in ms.
pub(crate) fn percentile_ms(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (sorted.len() as f64 * p).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as f64 / 1000.0
}

pub(crate) fn report(what: &str, n: usize, secs: f64, lat: &[u64]) {
    let pct = |p: f64| percentile_ms(lat, p);
    println!(
        "{what:<26} {n} in {secs:.2}s = {:>7.0} req/s   p50 {:>6.2} ms   p99 {:>6.2} ms",
        n as f64 / secs,
        pct(0.50),
        pct(0.99)
    );
}

async fn checkout_bench(config: &Config, n: usize, clients: usize) -> Result<()> {
    use std::sync::Arc;
    let b = bench_server(config, clients).await?;
    println!("database: {}  sessions: {n}  concurrent clients: {clients}", b.db.backend().name());
    // One customer per session (a checkout is one buyer's).
    let customers = Arc::new(b.customers(n).await?);
    let sessions = Arc::new(std::sync::Mutex::new(vec![String::new(); n]));
    let (c, base, k, cus, ss) = (b.client.clone(), b.base.clone(), b.key.clone(), customers.clone(), sessions.clone());
    let (secs, lat) = load(n, clients, move |i| {
        let (c, base, k, cus, ss) = (c.clone(), base.clone(), k.clone(), cus.clone(), ss.clone());
        async move {
            let r = c
                .post(format!("{base}/v1/checkout/sessions"))
                .bearer_auth(&k)
                .json(&serde_json::json!({"customer": cus[i], "mode": "payment",
                    "items": [{"description": "Course: Exam strategy", "unit_amount": 4900}],
                    "success_url": "https://platform.example/ok", "cancel_url": "https://platform.example/no"}))
                .send()
                .await?;
            anyhow::ensure!(r.status().as_u16() == 201, "create answered {}", r.status());
            let v: serde_json::Value = r.json().await?;
            ss.lock().expect("not poisoned")[i] = v["id"].as_str().unwrap_or_default().to_string();
            Ok(())
        }
    })
    .await?;
    report("create checkout session", n, secs, &lat);
    let ids: Vec<String> = sessions.lock().expect("not poisoned").clone();
    b.pay_and_confirm(ids, clients, "confirm sandbox payment").await?;
    let complete: i64 =
        sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM checkout_sessions WHERE status = 'complete'")
            .fetch_one(b.db.reader())
            .await?;
    anyhow::ensure!(complete as usize == n, "{complete} of {n} sessions complete");
    let report_v = ledger::verify(&b.db).await?;
    anyhow::ensure!(report_v.ok(), "ledger verification failed: {:?}", report_v.problems);
    println!("all {n} sessions complete; ledger verify: {} entries OK", report_v.entries);
    b.server.shutdown().await?;
    b.db.close().await;
    drop_bench_schema(config).await?;
    Ok(())
}

async fn fresh_db(config: &Config) -> Result<(Db, Option<tempfile_dir::Dir>)> {
    let tag = format!("bench_{}_{}", std::process::id(), jiff::Timestamp::now().as_second());
    match config.db_config() {
        DbConfig::Postgres { url, max_connections, .. } => {
            let db = Db::connect(&DbConfig::Postgres { url, max_connections, schema: Some(tag) }).await?;
            db.migrate().await?;
            Ok((db, None))
        }
        DbConfig::Sqlite { synchronous_full, .. } => {
            let dir = tempfile_dir::Dir::new(&tag)?;
            let db = Db::connect(&DbConfig::Sqlite { path: dir.0.join("bench.db"), synchronous_full }).await?;
            db.migrate().await?;
            Ok((db, Some(dir)))
        }
    }
}

/// Drops the benchmark's PostgreSQL schemas (nothing on SQLite, whose
/// temporary directory is removed on drop).
pub(crate) async fn drop_bench_schema(config: &Config) -> Result<()> {
    if let DbConfig::Postgres { url, .. } = config.db_config() {
        let db = Db::connect(&DbConfig::Postgres { url, max_connections: 1, schema: None }).await?;
        bursar_store::db::drop_scratch_schemas(&db, &["bench_"]).await?;
        db.close().await;
    }
    Ok(())
}

/// A temporary directory removed on drop.
mod tempfile_dir {
    pub struct Dir(pub std::path::PathBuf);
    impl Dir {
        pub fn new(tag: &str) -> std::io::Result<Dir> {
            let p = std::env::temp_dir().join(tag);
            std::fs::create_dir_all(&p)?;
            Ok(Dir(p))
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

async fn ledger_bench(config: &Config, entries: usize, batch: usize) -> Result<()> {
    let (db, _dir) = fresh_db(config).await?;
    let usd = Currency::from_code("USD")?;
    println!("database: {}  entries: {entries}  batch: {batch}", db.backend().name());

    // Raw rate: rows of the same width as a posting, multi-row inserts, one
    // transaction per batch.
    sqlx::query(
        "CREATE TABLE bench_raw (id BIGINT PRIMARY KEY, entry_id TEXT NOT NULL, account TEXT NOT NULL, \
         currency TEXT NOT NULL, amount_minor BIGINT NOT NULL, effective_at BIGINT NOT NULL)",
    )
    .execute(db.writer())
    .await?;
    let raw_rows = entries * 3;
    let start = Instant::now();
    let mut next = 0usize;
    while next < raw_rows {
        let n = batch.min(raw_rows - next) * 3;
        let n = n.min(raw_rows - next);
        let mut tx = db.begin().await?;
        for chunk_start in (0..n).step_by(500) {
            let m = 500.min(n - chunk_start);
            let sql = format!(
                "INSERT INTO bench_raw (id, entry_id, account, currency, amount_minor, effective_at) VALUES {}",
                bursar_store::db::placeholders(db.backend(), m, 6)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for r in 0..m {
                let id = (next + chunk_start + r) as i64;
                q = q
                    .bind(id)
                    .bind(format!("je_{id:032x}"))
                    .bind("revenue:subscriptions")
                    .bind("USD")
                    .bind(id % 9_973 + 1)
                    .bind(id);
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        next += n;
    }
    let raw_secs = start.elapsed().as_secs_f64();
    let raw_rate = raw_rows as f64 / raw_secs;

    let drafts: Vec<_> = (0..batch)
        .map(|i| {
            let amount = (i as i64 * 7_919) % 100_000 + 1;
            EntryDraft::new(usd, "bench")
                .debit(format!("receivables:cus_{:03}", i % 100), amount)
                .credit("revenue:subscriptions", amount)
                .validate()
        })
        .collect::<Result<_, _>>()?;
    let start = Instant::now();
    let mut done = 0usize;
    while done < entries {
        let n = batch.min(entries - done);
        let now = bursar_domain::clock::to_millis(jiff::Timestamp::now());
        let batch_entries: Vec<ledger::NewEntry> = drafts[..n]
            .iter()
            .map(|e| ledger::NewEntry {
                livemode: false,
                entry: e,
                source_type: Some("bench"),
                source_id: None,
                effective_at: now,
                created_at: now,
                reverses: None,
            })
            .collect();
        let mut tx = db.begin().await?;
        ledger::post_batch(&mut tx, &batch_entries).await?;
        tx.commit().await?;
        done += n;
    }
    let ledger_secs = start.elapsed().as_secs_f64();
    let entry_rate = entries as f64 / ledger_secs;

    let start = Instant::now();
    let report = ledger::verify(&db).await?;
    let verify_secs = start.elapsed().as_secs_f64();
    anyhow::ensure!(report.ok(), "ledger verification failed: {:?}", report.problems);

    println!("raw inserts:     {raw_rows} rows in {raw_secs:.2}s = {raw_rate:.0} rows/s");
    println!(
        "ledger:          {entries} entries ({} rows incl. 2 postings each) in {ledger_secs:.2}s = {entry_rate:.0} entries/s",
        entries * 3
    );
    println!(
        "ratio:           entries/s ÷ raw rows/s = {:.3}; ledger rows/s ÷ raw rows/s = {:.3}",
        entry_rate / raw_rate,
        entry_rate * 3.0 / raw_rate
    );
    println!("ledger verify:   {} entries, {} postings in {verify_secs:.2}s: OK", report.entries, report.postings);
    db.close().await;
    drop_bench_schema(config).await?;
    Ok(())
}

async fn billing_bench(config: &Config, n: usize) -> Result<()> {
    let (db, _dir) = fresh_db(config).await?;
    println!("database: {}  due subscriptions: {n}", db.backend().name());
    let now = bursar_domain::clock::to_millis(jiff::Timestamp::now());
    let seed = Instant::now();
    seed_due(&db, n, now).await?;
    println!("seeded in {:.1}s", seed.elapsed().as_secs_f64());
    billing_run_timed(&db, config, n, now).await
}

/// Seeds `n` customers, each with an active monthly Grow subscription whose
/// period ended a second before `now`: all due for renewal.
pub async fn seed_due(db: &Db, n: usize, now: i64) -> Result<()> {
    use bursar_store::billing::SubscriptionRow;
    use bursar_store::customers::CustomerRow;
    let anchor = bursar_domain::clock::to_millis(bursar_domain::subscription::add_months(
        bursar_domain::clock::from_millis(now - 1000),
        -1,
    )?);
    let doc: bursar_domain::catalog::CatalogDoc = serde_json::from_str(bursar_core::demo::DEMO_CATALOG)?;
    let mut tx = db.begin().await?;
    bursar_core::catalog::import(&mut tx, false, &doc, now).await?;
    let grow = bursar_store::catalog::plan_by_code(&mut *tx, false, "grow").await?.expect("grow plan");
    let price = bursar_store::catalog::prices_of(&mut *tx, false, Some(&grow.id), false)
        .await?
        .into_iter()
        .find(|p| p.currency == "USD" && p.interval == "month")
        .expect("USD monthly price");
    tx.commit().await?;
    for chunk_start in (0..n).step_by(5_000) {
        let mut tx = db.begin().await?;
        for i in chunk_start..n.min(chunk_start + 5_000) {
            let cid = bursar_domain::id::new_id(bursar_domain::id::IdKind::Customer);
            bursar_store::customers::insert(
                &mut tx,
                &CustomerRow {
                    id: cid.clone(),
                    livemode: false,
                    external_id: Some(format!("bench_{i}")),
                    email: None,
                    name: None,
                    phone: None,
                    country: Some("US".into()),
                    locale: None,
                    preferred_currency: None,
                    address: None,
                    tax_ids: "[]".into(),
                    metadata: "{}".into(),
                    test_clock_id: None,
                    created_at: anchor,
                    updated_at: anchor,
                    deleted_at: None,
                },
            )
            .await?;
            bursar_store::billing::save_subscription(
                &mut tx,
                &SubscriptionRow {
                    id: bursar_domain::id::new_id(bursar_domain::id::IdKind::Subscription),
                    livemode: false,
                    customer_id: cid,
                    plan_id: grow.id.clone(),
                    price_id: price.id.clone(),
                    currency: "USD".into(),
                    interval: "month".into(),
                    quantity: 1,
                    status: "active".into(),
                    anchor_at: anchor,
                    current_period_start: anchor,
                    current_period_end: now - 1000,
                    trial_end: None,
                    cancel_at_period_end: false,
                    canceled_at: None,
                    pending_price_id: None,
                    pending_plan_id: None,
                    pause_resumes_at: None,
                    coupon_id: None,
                    discount_invoices_left: None,
                    created_at: anchor,
                    updated_at: anchor,
                },
            )
            .await?;
        }
        tx.commit().await?;
    }
    Ok(())
}

async fn billing_run_timed(db: &Db, config: &Config, n: usize, now: i64) -> Result<()> {
    let tax = bursar_core::settings::Settings::from_config(config);
    let start = Instant::now();
    let processed = bursar_core::billing_run::run_due(db, &tax, now, None, 1_000)
        .await
        .map_err(|e| anyhow::anyhow!("billing run failed: {e}"))?;
    let secs = start.elapsed().as_secs_f64();
    let invoices: i64 =
        sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM invoices").fetch_one(db.reader()).await?;
    anyhow::ensure!(
        processed as usize == n && invoices as usize == n,
        "renewed {processed}, invoices {invoices}, expected {n}"
    );
    let report = ledger::verify(db).await?;
    anyhow::ensure!(report.ok(), "ledger verification failed: {:?}", report.problems);
    println!("billing run:     {n} renewals in {secs:.2}s = {:.0} renewals/s", n as f64 / secs);
    println!("ledger verify:   {} entries, {} postings: OK", report.entries, report.postings);
    db.close().await;
    drop_bench_schema(config).await?;
    Ok(())
}

/// A server on a loopback port over a fresh database, with a test key.
pub(crate) struct Bench {
    pub(crate) db: Db,
    _dir: Option<tempfile_dir::Dir>,
    pub(crate) server: bursar_server::app::ServerHandle,
    pub(crate) base: String,
    pub(crate) key: String,
    pub(crate) client: reqwest::Client,
}

impl Bench {
    /// Creates `n` customers in the US through the API; their ids.
    pub(crate) async fn customers(&self, n: usize) -> Result<Vec<String>> {
        let mut customers = Vec::with_capacity(n);
        for _ in 0..n {
            let r: serde_json::Value = self
                .client
                .post(format!("{}/v1/customers", self.base))
                .bearer_auth(&self.key)
                .json(&serde_json::json!({"country": "US"}))
                .send()
                .await?
                .json()
                .await?;
            customers.push(r["id"].as_str().unwrap_or_default().to_string());
        }
        Ok(customers)
    }

    /// Pays open checkout sessions as their buyers would, at `clients`
    /// concurrent clients: every session's Pay (invoice + payment), then
    /// every sandbox confirmation with the test card. Reports both phases
    /// and returns the seconds they took together.
    pub(crate) async fn pay_and_confirm(&self, ids: Vec<String>, clients: usize, confirm: &str) -> Result<f64> {
        use std::sync::Arc;
        let n = ids.len();
        // The buyer's form token, as the page would render it.
        let mut tokens = Vec::with_capacity(n);
        for id in &ids {
            let s = bursar_store::checkout::get(self.db.reader(), id)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no session {id}"))?;
            tokens.push(s.form_token);
        }
        let (ids, tokens) = (Arc::new(ids), Arc::new(tokens));
        let (c, base, i2, t2) = (self.client.clone(), self.base.clone(), ids.clone(), tokens.clone());
        let (pay_secs, lat) = load(n, clients, move |i| {
            let (c, base, ids, tokens) = (c.clone(), base.clone(), i2.clone(), t2.clone());
            async move {
                let r = c
                    .post(format!("{base}/checkout/{}/pay", ids[i]))
                    .form(&[("form_token", tokens[i].as_str())])
                    .send()
                    .await?;
                anyhow::ensure!(r.status().as_u16() == 303, "pay answered {}", r.status());
                Ok(())
            }
        })
        .await?;
        report("pay (invoice + payment)", n, pay_secs, &lat);
        let (c, base) = (self.client.clone(), self.base.clone());
        let (secs, lat) = load(n, clients, move |i| {
            let (c, base, ids, tokens) = (c.clone(), base.clone(), ids.clone(), tokens.clone());
            async move {
                let r = c
                    .post(format!("{base}/checkout/{}/sandbox", ids[i]))
                    .form(&[("form_token", tokens[i].as_str()), ("card", "pm_card_visa")])
                    .send()
                    .await?;
                let loc = r.headers().get("location").and_then(|l| l.to_str().ok()).unwrap_or_default().to_string();
                anyhow::ensure!(
                    loc.starts_with("https://platform.example/ok"),
                    "confirm answered {} {loc}",
                    r.status()
                );
                Ok(())
            }
        })
        .await?;
        report(confirm, n, secs, &lat);
        Ok(pay_secs + secs)
    }
}

pub(crate) async fn bench_server(config: &Config, clients: usize) -> Result<Bench> {
    use std::sync::Arc;
    let (db, dir) = fresh_db(config).await?;
    let mut cfg = config.clone();
    cfg.background_jobs = false;
    cfg.log_level = "error".into();
    let state = bursar_server::AppState::new(db.clone(), Arc::new(bursar_domain::clock::SystemClock), cfg)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut tx = db.begin().await?;
    let (_, key) = bursar_server::api::api_keys::issue_key(&mut tx, false, "bench", state.now_ms()).await?;
    tx.commit().await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let server = bursar_server::serve(state, listener, false).await?;
    let base = format!("http://{}", server.addr);
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(clients)
        .build()?;
    Ok(Bench { db, _dir: dir, server, base, key, client })
}

async fn usage_bench(
    config: &Config,
    n: usize,
    batch: usize,
    senders: usize,
    requests: usize,
    clients: usize,
) -> Result<()> {
    use std::sync::Arc;
    let b = bench_server(config, clients.max(senders)).await?;
    println!(
        "database: {}  events: {n} in batches of {batch} from {senders} senders; checks/consumes: {requests} at {clients} clients",
        b.db.backend().name()
    );
    // Raw insert rate of the same database: one row per event, same batch size.
    sqlx::query("CREATE TABLE bench_raw_events (id TEXT PRIMARY KEY, customer TEXT NOT NULL, n BIGINT NOT NULL)")
        .execute(b.db.writer())
        .await?;
    let t = Instant::now();
    for chunk_start in (0..n).step_by(batch) {
        let rows = batch.min(n - chunk_start);
        let mut tx = b.db.begin().await?;
        let sql = sqlx::AssertSqlSafe(format!(
            "INSERT INTO bench_raw_events (id, customer, n) VALUES {}",
            bursar_store::db::placeholders(b.db.backend(), rows, 3)
        ));
        let mut q = sqlx::query(sql);
        for i in chunk_start..chunk_start + rows {
            q = q.bind(format!("raw_{i:012}")).bind("cus").bind(i as i64);
        }
        q.execute(&mut *tx).await?;
        tx.commit().await?;
    }
    let raw = n as f64 / t.elapsed().as_secs_f64();
    // The catalog, metrics and 200 learners on Grow.
    let doc: serde_json::Value = serde_json::from_str(bursar_core::demo::DEMO_CATALOG)?;
    let api = |path: &str| b.client.post(format!("{}{path}", b.base)).bearer_auth(&b.key);
    anyhow::ensure!(api("/v1/catalog/import").json(&doc).send().await?.status().is_success(), "catalog import");
    for m in [
        serde_json::json!({"code": "questions", "limit_key": "questions_per_month"}),
        serde_json::json!({"code": "ai_credits", "aggregation": "sum", "limit_key": "ai_queries_per_month"}),
    ] {
        anyhow::ensure!(api("/v1/metrics").json(&m).send().await?.status().is_success(), "metric");
    }
    let mut customers = Vec::new();
    for _ in 0..200 {
        let c: serde_json::Value =
            api("/v1/customers").json(&serde_json::json!({"country": "US"})).send().await?.json().await?;
        let id = c["id"].as_str().unwrap_or_default().to_string();
        let s = api("/v1/subscriptions")
            .json(&serde_json::json!({"customer": id, "plan": "scale", "trial": false}))
            .send()
            .await?;
        anyhow::ensure!(s.status().is_success(), "subscription");
        customers.push(id);
    }
    let customers = Arc::new(customers);
    // Ingestion: pre-built batches sent by `senders` at once.
    let bodies: Vec<Vec<u8>> = (0..n.div_ceil(batch))
        .map(|k| {
            let events: Vec<serde_json::Value> = (k * batch..((k + 1) * batch).min(n))
                .map(|i| {
                    serde_json::json!({"id": format!("ev_{i}"), "customer": customers[i % customers.len()],
                    "metric": if i % 2 == 0 { "questions" } else { "ai_credits" }, "quantity": 1 + (i % 3)})
                })
                .collect();
            serde_json::to_vec(&serde_json::json!({"events": events})).unwrap_or_default()
        })
        .collect();
    let bodies = Arc::new(bodies);
    let batches = bodies.len();
    let (c, base, key, bb) = (b.client.clone(), b.base.clone(), b.key.clone(), bodies.clone());
    let (secs, lat) = load(batches, senders, move |k| {
        let (c, base, key, bb) = (c.clone(), base.clone(), key.clone(), bb.clone());
        async move {
            let r = c
                .post(format!("{base}/v1/usage"))
                .bearer_auth(&key)
                .header("content-type", "application/json")
                .body(bb[k].clone())
                .send()
                .await?;
            anyhow::ensure!(r.status().is_success(), "usage answered {}", r.status());
            Ok(())
        }
    })
    .await?;
    let stored: i64 =
        sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM usage_events").fetch_one(b.db.reader()).await?;
    anyhow::ensure!(stored as usize == n, "{stored} of {n} events stored");
    let rate = n as f64 / secs;
    println!("raw inserts:               {n} rows, batches of {batch}: {raw:.0} rows/s");
    println!(
        "usage ingestion (HTTP):    {n} events in {secs:.2}s = {rate:.0} events/s ({:.2} of raw); per batch request p50 {:.1} ms p99 {:.1} ms",
        rate / raw,
        lat[lat.len() / 2] as f64 / 1000.0,
        lat[(lat.len() * 99 / 100).min(lat.len() - 1)] as f64 / 1000.0
    );
    // Checks and consumes at `clients` concurrent clients.
    let (c, base, key, cus) = (b.client.clone(), b.base.clone(), b.key.clone(), customers.clone());
    let (secs, lat) = load(requests, clients, move |i| {
        let (c, base, key, cus) = (c.clone(), base.clone(), key.clone(), cus.clone());
        async move {
            let r = c
                .get(format!("{base}/v1/entitlements/check?customer={}&metric=questions", cus[i % cus.len()]))
                .bearer_auth(&key)
                .send()
                .await?;
            anyhow::ensure!(r.status().is_success(), "check answered {}", r.status());
            Ok(())
        }
    })
    .await?;
    report("entitlement check", requests, secs, &lat);
    // The same checks at a steady rate well below saturation: 200 clients,
    // each sending every `200 ÷ rate` seconds, so latency is service time,
    // not queueing.
    for rate in [1_000u64, 2_500] {
        let (c, base, key, cus) = (b.client.clone(), b.base.clone(), b.key.clone(), customers.clone());
        let per_client = requests / clients;
        let gap = std::time::Duration::from_micros(1_000_000 * clients as u64 / rate);
        let start = Instant::now();
        let mut tasks = Vec::new();
        for w in 0..clients {
            let (c, base, key, cus) = (c.clone(), base.clone(), key.clone(), cus.clone());
            tasks.push(tokio::spawn(async move {
                // Spread the clients' first requests over one gap.
                tokio::time::sleep(gap * w as u32 / clients as u32).await;
                let mut tick = tokio::time::interval(gap);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                let mut lat = Vec::with_capacity(per_client);
                for i in 0..per_client {
                    tick.tick().await;
                    let t = Instant::now();
                    let r = c
                        .get(format!(
                            "{base}/v1/entitlements/check?customer={}&metric=questions",
                            cus[(w + i) % cus.len()]
                        ))
                        .bearer_auth(&key)
                        .send()
                        .await?;
                    anyhow::ensure!(r.status().is_success(), "check answered {}", r.status());
                    r.bytes().await?;
                    lat.push(t.elapsed().as_micros() as u64);
                }
                anyhow::Ok(lat)
            }));
        }
        let mut lat = Vec::new();
        for t in tasks {
            lat.extend(t.await??);
        }
        lat.sort_unstable();
        report(&format!("check at {rate} req/s"), lat.len(), start.elapsed().as_secs_f64(), &lat);
    }
    let (c, base, key, cus) = (b.client.clone(), b.base.clone(), b.key.clone(), customers.clone());
    let (secs, lat) = load(requests, clients, move |i| {
        let (c, base, key, cus) = (c.clone(), base.clone(), key.clone(), cus.clone());
        async move {
            let r = c
                .post(format!("{base}/v1/entitlements/consume"))
                .bearer_auth(&key)
                .json(&serde_json::json!({"customer": cus[i % cus.len()], "metric": "ai_credits"}))
                .send()
                .await?;
            anyhow::ensure!(r.status().is_success(), "consume answered {}", r.status());
            Ok(())
        }
    })
    .await?;
    report("entitlement consume", requests, secs, &lat);
    b.server.shutdown().await?;
    b.db.close().await;
    drop_bench_schema(config).await?;
    Ok(())
}
