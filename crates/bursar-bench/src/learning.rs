//! `bursar bench learning`: learning analytics over HTTP on loopback. A form
//! of `--items` items, then `--learners` learners each sitting it once
//! (`learners × items` responses), sent through `POST /v1/attempts/batch` in
//! batches of `--batch` attempts by `--senders` at once, beside the raw
//! insert rate of the same database for the same rows; then
//! `--requests` learner dashboards (`GET /v1/learners/{id}/dashboard`) at
//! `--clients` concurrent clients over the full data set, with p50/p95/p99.
//!
//! The responses are drawn from a 2PL model with a fixed seed (abilities
//! N(0, 1), discriminations in [0.6, 2.0], difficulties in [−2, 2]), so
//! every run sends the same data.

use super::{bench_server, drop_bench_schema, load, percentile_ms, report};
use anyhow::Result;
use bursar_server::Config;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Instant;

/// 2026-12-01 00:00 UTC, in seconds.
const T0: i64 = 1_796_083_200;

pub struct LearningBench {
    pub learners: usize,
    pub items: usize,
    pub batch: usize,
    pub senders: usize,
    pub requests: usize,
    pub clients: usize,
}

/// One learner's attempt: every item of the form, right or wrong by the
/// model, with a response time.
fn attempt(rng: &mut rand::rngs::StdRng, learner: usize, params: &[(f64, f64)]) -> Value {
    let theta: f64 = {
        // Box–Muller.
        let (u1, u2): (f64, f64) = (rng.random_range(f64::EPSILON..1.0), rng.random());
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    };
    let start = T0 + (learner as i64 % 60) * 86_400 + (learner as i64 % 86_400);
    let responses: Vec<Value> = params
        .iter()
        .enumerate()
        .map(|(j, (a, b))| {
            let p = 1.0 / (1.0 + (-a * (theta - b)).exp());
            let right = rng.random::<f64>() < p;
            json!({"item": format!("B{j:03}"), "correct": right, "time_ms": rng.random_range(15_000..120_000)})
        })
        .collect();
    let country = ["IN", "US", "BR", "DE", "NG"][learner % 5];
    json!({"id": format!("bench-{learner}"), "learner": format!("learner-{learner:06}"), "assessment": "bench-form",
           "started_at": start, "ended_at": start + 3_600, "status": "completed",
           "country": country, "responses": responses})
}

pub async fn learning_bench(config: &Config, o: &LearningBench) -> Result<()> {
    let b = bench_server(config, o.clients.max(o.senders)).await?;
    let n_responses = o.learners * o.items;
    println!(
        "database: {}  {} learners × {} items = {n_responses} responses, batches of {} attempts from {} senders; \
         dashboards: {} at {} clients",
        b.db.backend().name(),
        o.learners,
        o.items,
        o.batch,
        o.senders,
        o.requests,
        o.clients
    );

    // Raw insert rate of the same database: one row per response, the same
    // rows per transaction as one batch request.
    sqlx::query(
        "CREATE TABLE bench_raw_responses (attempt TEXT NOT NULL, item TEXT NOT NULL, score BIGINT NOT NULL, \
         time_ms BIGINT NOT NULL, PRIMARY KEY (attempt, item))",
    )
    .execute(b.db.writer())
    .await?;
    let rows_per_tx = (o.batch * o.items).max(1);
    let t = Instant::now();
    let mut next = 0;
    while next < n_responses {
        let mut tx = b.db.begin().await?;
        let end = (next + rows_per_tx).min(n_responses);
        // At most 8,000 rows a statement (PostgreSQL binds at most 65,535 values).
        for s in (next..end).step_by(8_000) {
            let rows = 8_000.min(end - s);
            let sql = sqlx::AssertSqlSafe(format!(
                "INSERT INTO bench_raw_responses (attempt, item, score, time_ms) VALUES {}",
                bursar_store::db::placeholders(b.db.backend(), rows, 4)
            ));
            let mut q = sqlx::query(sql);
            for i in s..s + rows {
                q = q
                    .bind(format!("att_{:08}", i / o.items))
                    .bind(format!("B{:03}", i % o.items))
                    .bind(1i64)
                    .bind(1i64);
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        next = end;
    }
    let raw = n_responses as f64 / t.elapsed().as_secs_f64();

    // The form.
    let mut rng = rand::rngs::StdRng::seed_from_u64(20_261_208);
    let params: Vec<(f64, f64)> =
        (0..o.items).map(|_| (rng.random_range(0.6..2.0), rng.random_range(-2.0..2.0))).collect();
    let items: Vec<Value> = (0..o.items)
        .map(|j| json!({"id": format!("B{j:03}"), "topic": format!("Topic {}", j % 8), "difficulty": 1 + j % 5}))
        .collect();
    let codes: Vec<String> = (0..o.items).map(|j| format!("B{j:03}")).collect();
    let content = json!({"items": items, "assessments": [{"id": "bench-form", "exam": "bench", "title": "Bench form",
        "target_seconds_per_item": 60, "items": codes}]});
    let r = b.client.post(format!("{}/v1/learning/content", b.base)).bearer_auth(&b.key).json(&content).send().await?;
    anyhow::ensure!(r.status().is_success(), "content import answered {}", r.status());

    // Ingestion: pre-built batch bodies sent by `senders` at once.
    let bodies: Vec<String> = (0..o.learners)
        .collect::<Vec<_>>()
        .chunks(o.batch)
        .map(|chunk| {
            let attempts: Vec<Value> = chunk.iter().map(|&l| attempt(&mut rng, l, &params)).collect();
            json!({ "attempts": attempts }).to_string()
        })
        .collect();
    let bodies = Arc::new(bodies);
    let (c, base, key, bs) = (b.client.clone(), b.base.clone(), b.key.clone(), bodies.clone());
    let (secs, lat) = load(bodies.len(), o.senders, move |i| {
        let (c, base, key, bs) = (c.clone(), base.clone(), key.clone(), bs.clone());
        async move {
            let r = c
                .post(format!("{base}/v1/attempts/batch"))
                .bearer_auth(&key)
                .header("content-type", "application/json")
                .body(bs[i].clone())
                .send()
                .await?;
            anyhow::ensure!(r.status().is_success(), "attempt batch answered {}", r.status());
            Ok(())
        }
    })
    .await?;
    let rate = n_responses as f64 / secs;
    let stored: i64 =
        sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM responses").fetch_one(b.db.reader()).await?;
    anyhow::ensure!(stored as usize == n_responses, "{stored} of {n_responses} responses stored");
    println!("raw inserts:            {n_responses} rows, {rows_per_tx} a transaction: {raw:.0} rows/s");
    println!(
        "ingestion (HTTP):       {n_responses} responses in {secs:.2}s = {rate:.0} responses/s ({:.2} of raw); \
         per batch request p50 {:.0} ms p99 {:.0} ms",
        rate / raw,
        percentile_ms(&lat, 0.50),
        percentile_ms(&lat, 0.99),
    );

    // Dashboards of random learners over the whole data set.
    let (c, base, key, learners) = (b.client.clone(), b.base.clone(), b.key.clone(), o.learners);
    let (secs, lat) = load(o.requests, o.clients, move |i| {
        let (c, base, key) = (c.clone(), base.clone(), key.clone());
        async move {
            let l = (i * 7_919 + 17) % learners;
            let r = c
                .get(format!("{base}/v1/learners/learner-{l:06}/dashboard?exam=bench"))
                .bearer_auth(&key)
                .send()
                .await?;
            anyhow::ensure!(r.status().is_success(), "dashboard answered {}", r.status());
            let d: Value = r.json().await?;
            anyhow::ensure!(d["summary"]["tests_completed"] == 1, "dashboard without the attempt: {d}");
            Ok(())
        }
    })
    .await?;
    report("learner dashboard", o.requests, secs, &lat);
    println!(
        "dashboard latency:      p50 {:.1} ms  p95 {:.1} ms  p99 {:.1} ms",
        percentile_ms(&lat, 0.50),
        percentile_ms(&lat, 0.95),
        percentile_ms(&lat, 0.99)
    );
    b.server.shutdown().await?;
    b.db.close().await;
    drop_bench_schema(config).await?;
    Ok(())
}
