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
}

pub async fn run(cmd: BenchCommand, config: &Config) -> Result<()> {
    match cmd {
        BenchCommand::Ledger { entries, batch } => ledger_bench(config, entries, batch.max(1)).await,
        BenchCommand::Billing { subscriptions } => billing_bench(config, subscriptions.max(1)).await,
    }
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
async fn drop_bench_schema(config: &Config) -> Result<()> {
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
    let doc: bursar_domain::catalog::CatalogDoc = serde_json::from_str(bursar_server::demo::DEMO_CATALOG)?;
    let mut tx = db.begin().await?;
    bursar_server::catalog::import(&mut tx, false, &doc, now).await?;
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
    let tax = config.billing_settings();
    let start = Instant::now();
    let processed = bursar_server::billing::run_due(db, &tax, now, None, 1_000)
        .await
        .map_err(|e| anyhow::anyhow!("billing run failed: {:?}", e.body))?;
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
