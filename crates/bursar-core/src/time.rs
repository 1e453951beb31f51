//! Rules shared by the handlers that are not pure domain rules because they
//! read the database: which instant a customer lives at.

use crate::ctx::Ctx;
use crate::error::Result;
use bursar_store::customers::CustomerRow;
use bursar_store::{clocks, Tx};
use sqlx::{Any, Executor};

/// The current instant for a customer: their test clock's frozen time when
/// they have one, the server clock otherwise. Epoch milliseconds.
pub async fn customer_now(state: &Ctx, tx: &mut Tx, c: &CustomerRow) -> Result<i64> {
    instant_of(&mut **tx, c, state.now_ms()).await
}

/// The instant a customer lives at, read through `ex`: their test clock's
/// frozen time, or `server_now`. Every other form of "the customer's now"
/// comes down to this one.
pub async fn instant_of<'e, E: Executor<'e, Database = Any>>(ex: E, c: &CustomerRow, server_now: i64) -> Result<i64> {
    if let Some(clock_id) = &c.test_clock_id {
        if let Some(clock) = clocks::get(ex, clock_id).await? {
            return Ok(clock.frozen_time);
        }
    }
    Ok(server_now)
}
