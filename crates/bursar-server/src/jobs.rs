//! The background jobs: a scheduler that runs service operations on fixed
//! intervals. Each job is one call into `bursar_core`; the scheduler only
//! decides when, logs what each run did and counts runs by outcome
//! (`bursar_job_runs_total{job, outcome}`). Every job is safe to run on
//! several nodes at once: the operations claim their work in the database.
//!
//! Jobs run in tasks of their own, so a long one (a calibration of a large
//! form) never delays a short one (webhook delivery).

use crate::state::AppState;
use bursar_core::Ctx;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// What one run of a job did: how many things it processed, or why it failed.
type Outcome = Result<u64, String>;
type RunFn = for<'a> fn(&'a Ctx) -> Pin<Box<dyn Future<Output = Outcome> + Send + 'a>>;

/// A job: its name (in logs and metrics), how often it runs, what it does.
pub struct Job {
    pub name: &'static str,
    pub every: Duration,
    run: RunFn,
}

/// Every job, in the order they first run.
pub fn all() -> Vec<Job> {
    vec![
        Job { name: "checkout_expiry", every: Duration::from_secs(60), run: |c| Box::pin(checkout_expiry(c)) },
        Job { name: "billing_run", every: Duration::from_secs(60), run: |c| Box::pin(billing_run(c)) },
        Job { name: "payout_checks", every: Duration::from_secs(60), run: |c| Box::pin(payout_checks(c)) },
        Job { name: "emails", every: Duration::from_secs(5), run: |c| Box::pin(emails(c)) },
        Job { name: "webhooks", every: Duration::from_secs(2), run: |c| Box::pin(webhooks(c)) },
        Job { name: "fx_rates", every: Duration::from_secs(3600), run: |c| Box::pin(fx_rates(c)) },
        Job { name: "idempotency_prune", every: Duration::from_secs(600), run: |c| Box::pin(idempotency_prune(c)) },
        Job { name: "calibrations", every: Duration::from_secs(5), run: |c| Box::pin(calibrations(c)) },
    ]
}

/// Runs one job once, logging and counting the outcome.
pub async fn run_once(job: &Job, ctx: &Ctx) -> Outcome {
    let out = (job.run)(ctx).await;
    match &out {
        Ok(0) => {}
        Ok(n) => tracing::info!(job = job.name, processed = n, "job ran"),
        Err(e) => tracing::warn!(job = job.name, error = %e, "job failed"),
    }
    let outcome = if out.is_ok() { "ok" } else { "error" };
    metrics::counter!("bursar_job_runs_total", "job" => job.name, "outcome" => outcome).increment(1);
    out
}

/// Starts every job, each on its interval, until `stop` turns true.
pub fn spawn(state: AppState, stop: watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut set = JoinSet::new();
        for job in all() {
            let (ctx, mut stop) = (state.clone(), stop.clone());
            set.spawn(async move {
                let mut tick = tokio::time::interval(job.every);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tokio::select! {
                        _ = tick.tick() => { let _ = run_once(&job, &ctx).await; }
                        r = stop.changed() => if r.is_err() || *stop.borrow() { break },
                    }
                }
            });
        }
        // Dropping the set (when this task is aborted) aborts the jobs.
        while set.join_next().await.is_some() {}
    })
}

async fn checkout_expiry(ctx: &Ctx) -> Outcome {
    bursar_core::checkout::expire_due(ctx).await.map(u64::from).map_err(|e| e.to_string())
}

/// Renewals, trial ends, scheduled cancellations, pause ends and payment
/// retries that are due.
async fn billing_run(ctx: &Ctx) -> Outcome {
    let settings = ctx.billing_settings();
    bursar_core::billing_run::run_due(&ctx.db, &settings, ctx.now_ms(), None, 500)
        .await
        .map(|n| n as u64)
        .map_err(|e| format!("{e:?}"))
}

/// Provider payouts waiting for their outcome.
async fn payout_checks(ctx: &Ctx) -> Outcome {
    let settings = ctx.billing_settings();
    bursar_core::payouts::run_checks(&ctx.db, &settings, ctx.now_ms())
        .await
        .map(u64::from)
        .map_err(|e| format!("{e:?}"))
}

async fn emails(ctx: &Ctx) -> Outcome {
    bursar_core::emails::run(ctx).await.map(|(queued, sent)| u64::from(queued + sent)).map_err(|e| e.to_string())
}

async fn webhooks(ctx: &Ctx) -> Outcome {
    bursar_core::webhooks_out::run(ctx).await.map(u64::from).map_err(|e| e.to_string())
}

/// Daily reference rates, fetched when today's are not stored yet.
async fn fx_rates(ctx: &Ctx) -> Outcome {
    match bursar_core::fx::refresh_if_stale(ctx).await {
        Ok(Some(set)) => {
            tracing::info!(date = %set.date, currencies = set.per_eur_micro.len(), "FX rates refreshed");
            Ok(1)
        }
        Ok(None) => Ok(0),
        Err(e) => Err(e.to_string()),
    }
}

async fn idempotency_prune(ctx: &Ctx) -> Outcome {
    bursar_core::idempotency::prune(ctx).await.map_err(|e| e.to_string())
}

/// Item calibrations requested through the API or the console.
async fn calibrations(ctx: &Ctx) -> Outcome {
    bursar_core::learning::calibration::run_pending(ctx).await.map(u64::from).map_err(|e| e.to_string())
}
