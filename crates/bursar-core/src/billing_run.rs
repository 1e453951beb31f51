//! The billing run: renewals, payment retries and the checks of unsettled
//! payments, alternated until none has work (a recovered payment can make
//! more periods due). Safe on several nodes and after a crash.

use crate::billing::{run_dunning, run_renewals};
use crate::error::Result;
use crate::settings::Settings;
use crate::settlement;

/// Runs every due subscription, `CHUNK` to a transaction (a failing chunk
/// is retried one subscription at a time, so one bad subscription never
/// holds up the others). On PostgreSQL rows another node is working on are
/// skipped (`FOR UPDATE SKIP LOCKED`), so several nodes can run at once.
/// Returns how many period boundaries were processed.
pub async fn run_due(
    db: &bursar_store::Db,
    settings: &Settings,
    server_now: i64,
    test_clock: Option<&str>,
    batch: i64,
) -> Result<u32> {
    // Renewals stop while a payment is retried; a recovery can make more
    // periods due, so alternate until neither has work.
    let mut total = 0;
    loop {
        total += run_renewals(db, settings, server_now, test_clock, batch).await?;
        let retried = run_dunning(db, settings, server_now, test_clock).await?;
        total += retried;
        // Provider charges the renewals and retries created, and any
        // payment whose outcome is still open.
        let asked = settlement::run_checks(db, settings, server_now).await?;
        if retried == 0 && asked == 0 {
            return Ok(total);
        }
    }
}
