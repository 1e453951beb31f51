//! Row counts for the staff console's home page.

use crate::db::DbError;
use sqlx::{Any, Executor, Row};

/// What is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counted {
    /// API keys not revoked.
    ApiKeys,
    LedgerEntries,
    Events,
    /// Test clocks not deleted (test mode only: none in live mode).
    TestClocks,
}

/// How many rows of a kind a mode holds.
pub async fn count<'e, E: Executor<'e, Database = Any>>(ex: E, what: Counted, livemode: bool) -> Result<i64, DbError> {
    let sql = match what {
        Counted::ApiKeys => "SELECT CAST(COUNT(*) AS BIGINT) FROM api_keys WHERE livemode = $1 AND revoked_at IS NULL",
        Counted::LedgerEntries => "SELECT CAST(COUNT(*) AS BIGINT) FROM ledger_entries WHERE livemode = $1",
        Counted::Events => "SELECT CAST(COUNT(*) AS BIGINT) FROM events WHERE livemode = $1",
        Counted::TestClocks => "SELECT CAST(COUNT(*) AS BIGINT) FROM test_clocks WHERE deleted_at IS NULL AND $1 = 0",
    };
    Ok(sqlx::query(sql).bind(i64::from(livemode)).fetch_one(ex).await?.get(0))
}
