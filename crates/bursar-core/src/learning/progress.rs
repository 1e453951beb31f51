//! A running calibration's progress, on its row: the analysis runs on a
//! blocking thread and writes its phase and cycle into a shared
//! `bursar_psychometrics::Progress`; meanwhile this reads it every few
//! seconds, stores it (so the API and the console show it, whichever node
//! asks) and extends the run's lease.

use crate::ctx::Ctx;
use crate::error::{Error, Result};
use bursar_psychometrics as psy;
use bursar_store::learning::calibrations::{self as store, ProgressReport};
use std::time::Duration;

/// How long a node holds a calibration before another may take it over.
pub(super) const LEASE_MS: i64 = 10 * 60_000;

/// How often a running calibration's progress is stored.
const EVERY: Duration = Duration::from_secs(2);

/// Stores a calibration's progress and extends its lease.
pub(super) async fn report_progress(
    ctx: &Ctx,
    id: &str,
    progress: i64,
    phase: &str,
    iteration: Option<i64>,
) -> Result<()> {
    let now = ctx.now_ms();
    let report = ProgressReport { progress, phase, iteration, at: now, lease_until: now + LEASE_MS };
    store::progress(ctx.db.writer(), id, &report).await?;
    Ok(())
}

/// The percentage and phase shown for what the analysis reports: loading
/// takes the run to 20 %, classical statistics to 25 %, the fit from 30 %
/// to 85 % as its parameter changes shrink towards the tolerance, then
/// scoring and the report.
pub fn percent(s: &psy::Snapshot) -> (i64, &'static str) {
    match s.phase {
        psy::Phase::Waiting => (20, "loading"),
        psy::Phase::Classical => (25, "classical"),
        psy::Phase::Em | psy::Phase::Newton => (30 + (55.0 * s.convergence()).round() as i64, s.phase.key()),
        psy::Phase::Scoring => (88, "scoring"),
        psy::Phase::Finishing => (92, "finishing"),
    }
}

/// Waits for the analysis, storing its progress every few seconds (never
/// going backwards) until it ends.
pub(super) async fn watch<T>(
    ctx: &Ctx,
    id: &str,
    task: tokio::task::JoinHandle<T>,
    progress: &psy::Progress,
) -> Result<T> {
    tokio::pin!(task);
    let mut shown = 0;
    loop {
        tokio::select! {
            done = &mut task => return done.map_err(|e| Error::internal_from("calibration task", e)),
            _ = tokio::time::sleep(EVERY) => {
                let s = progress.read();
                let (p, phase) = percent(&s);
                shown = shown.max(p);
                let cycle = matches!(s.phase, psy::Phase::Em | psy::Phase::Newton | psy::Phase::Scoring)
                    .then_some(s.cycle as i64);
                report_progress(ctx, id, shown, phase, cycle).await?;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(phase: psy::Phase, change: f64) -> psy::Snapshot {
        psy::Snapshot { phase, cycle: 7, change, tolerance: 1e-8 }
    }

    #[test]
    fn the_fit_moves_the_bar_as_its_changes_shrink() {
        assert_eq!(percent(&at(psy::Phase::Classical, f64::INFINITY)), (25, "classical"));
        assert_eq!(percent(&at(psy::Phase::Em, f64::INFINITY)), (30, "em"));
        assert_eq!(percent(&at(psy::Phase::Em, 1e-4)), (58, "em"));
        assert_eq!(percent(&at(psy::Phase::Newton, 1e-9)), (85, "newton"));
        assert_eq!(percent(&at(psy::Phase::Scoring, 1e-9)), (88, "scoring"));
        assert_eq!(percent(&at(psy::Phase::Finishing, 1e-9)), (92, "finishing"));
    }
}
