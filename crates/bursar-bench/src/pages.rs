//! `bursar bench pages`: the hosted pages over HTTP on loopback — the
//! pricing page, a learner's billing portal, and the staff console's
//! customer list and search — with `--customers` customers in the database.
//!
//! The customers are bulk-inserted; one of them subscribes to Grow and has
//! invoices (through the API), and opens a portal session; a staff member
//! signs in. Each page is then requested by `--clients` concurrent clients
//! and checked for its content.

use super::{bench_server, drop_bench_schema, load, report};
use anyhow::Result;
use bursar_domain::id::{new_id, IdKind};
use bursar_server::Config;
use bursar_store::db::placeholders;
use bursar_store::Db;
use std::sync::Arc;

async fn seed_customers(db: &Db, n: usize, now: i64) -> Result<()> {
    let backend = db.backend();
    const COUNTRIES: [&str; 6] = ["US", "GB", "DE", "FR", "IN", "BR"];
    for start in (0..n).step_by(5_000) {
        let mut tx = db.begin().await?;
        for chunk_start in (start..n.min(start + 5_000)).step_by(500) {
            let rows = (n - chunk_start).min(500);
            let sql = format!(
                "INSERT INTO customers (id, livemode, external_id, email, name, country, tax_ids, metadata, \
                 created_at, updated_at) VALUES {}",
                placeholders(backend, rows, 10)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for i in chunk_start..chunk_start + rows {
                q = q
                    .bind(new_id(IdKind::Customer))
                    .bind(0i64)
                    .bind(format!("bench-user-{i}"))
                    .bind(format!("learner{i}@example.com"))
                    .bind(format!("Learner {i}"))
                    .bind(COUNTRIES[i % COUNTRIES.len()])
                    .bind("[]")
                    .bind("{}")
                    .bind(now - (n - i) as i64 * 1_000)
                    .bind(now);
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
    }
    Ok(())
}

pub(crate) async fn pages_bench(config: &Config, customers: usize, requests: usize, clients: usize) -> Result<()> {
    let b = bench_server(config, clients).await?;
    let now = jiff::Timestamp::now().as_millisecond();
    println!(
        "database: {}  customers: {customers}  requests per page: {requests} at {clients} clients",
        if config.database_url.is_some() { "postgres" } else { "sqlite" }
    );
    let t = std::time::Instant::now();
    seed_customers(&b.db, customers, now).await?;
    if b.db.backend() == bursar_store::Backend::Postgres {
        // What autovacuum does within a minute of a bulk load: without
        // statistics PostgreSQL sorts the whole table for the first page.
        sqlx::query("ANALYZE customers").execute(b.db.writer()).await?;
    }
    println!("seeded {customers} customers in {:.1}s", t.elapsed().as_secs_f64());
    let doc: serde_json::Value = serde_json::from_str(bursar_core::demo::DEMO_CATALOG)?;
    let r = b.client.post(format!("{}/v1/catalog/import", b.base)).bearer_auth(&b.key).json(&doc).send().await?;
    anyhow::ensure!(r.status().is_success(), "catalog import answered {}", r.status());
    // One learner with a subscription, its invoice, and a portal session.
    let post = |path: &str, body: serde_json::Value| {
        b.client.post(format!("{}{path}", b.base)).bearer_auth(&b.key).json(&body).send()
    };
    let cus: serde_json::Value =
        post("/v1/customers", serde_json::json!({"email": "sam@example.com", "name": "Sam", "country": "US"}))
            .await?
            .json()
            .await?;
    let cus = cus["id"].as_str().unwrap_or_default().to_string();
    let r = post("/v1/subscriptions", serde_json::json!({"customer": cus, "plan": "grow", "trial": false})).await?;
    anyhow::ensure!(r.status().is_success(), "subscription answered {}", r.status());
    let ps: serde_json::Value = post("/v1/portal_sessions", serde_json::json!({"customer": cus})).await?.json().await?;
    let token = ps["url"].as_str().unwrap_or_default().rsplit('/').next().unwrap_or_default().to_string();
    // A staff member, signed in.
    let staff_token = "bench-staff-session-token-0123456789abcdef";
    let mut tx = b.db.begin().await?;
    bursar_store::auth::upsert_staff(
        &mut tx,
        &bursar_store::auth::StaffRow {
            id: "stf_bench".into(),
            email: "ops@example.com".into(),
            name: "Ops".into(),
            password_hash: "unused".into(),
            created_at: now,
        },
    )
    .await?;
    let hash = bursar_server::middleware::sha256_hex(staff_token.as_bytes());
    bursar_store::auth::insert_session(&mut tx, &hash, "stf_bench", "csrf", now, now + 3_600_000).await?;
    tx.commit().await?;

    let pages: [(&str, String, Option<String>, &str); 4] = [
        ("pricing page", "/pricing?mode=test".into(), None, "Grow"),
        ("billing portal", "/portal".into(), Some(format!("bursar_portal={token}")), "Billing history"),
        (
            "staff customer list",
            "/staff/customers?mode=test".into(),
            Some(format!("bursar_staff={staff_token}")),
            "Learner",
        ),
        (
            "staff customer search",
            format!("/staff/customers?mode=test&q=learner{}%40example.com", customers / 2),
            Some(format!("bursar_staff={staff_token}")),
            "Learner",
        ),
    ];
    for (name, path, cookie, expect) in pages {
        let (c, url, cookie) = (b.client.clone(), Arc::new(format!("{}{path}", b.base)), Arc::new(cookie));
        let (secs, lat) = load(requests, clients, move |_| {
            let (c, url, cookie) = (c.clone(), url.clone(), cookie.clone());
            async move {
                // A browser: on the pricing page each request is a first
                // visit, whose experiment exposure is written.
                let mut req = c.get(url.as_str()).header("user-agent", "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0");
                if let Some(k) = cookie.as_ref() {
                    req = req.header("cookie", k.as_str());
                }
                let r = req.send().await?;
                anyhow::ensure!(r.status().as_u16() == 200, "{} answered {}", url, r.status());
                let body = r.text().await?;
                anyhow::ensure!(body.contains(expect), "{} lacks {expect}", url);
                Ok(())
            }
        })
        .await?;
        report(name, requests, secs, &lat);
    }
    b.server.shutdown().await?;
    b.db.close().await;
    drop_bench_schema(config).await?;
    Ok(())
}
