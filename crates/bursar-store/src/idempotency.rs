//! Idempotency keys.
//!
//! A request with an `Idempotency-Key` first *claims* the key in its own
//! short transaction. The business transaction then *completes* the key
//! (stores the response) and commits together with the change itself, so a
//! crash can never leave a committed change without its stored response.
//! A claim whose request died before committing is taken over after its
//! lease expires: nothing of it was committed, so running it again is safe.

use crate::db::{Db, DbError, Tx};
use sqlx::Row;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The caller owns the key and must run the request.
    Acquired,
    /// The key was used before for this same request: here is its response.
    Replay { status: u16, body: String },
    /// The key was used with a different request.
    Mismatch,
    /// Another request with this key is still running.
    InProgress,
}

pub struct ClaimRequest<'a> {
    pub livemode: bool,
    pub key: &'a str,
    pub fingerprint: &'a str,
    pub method: &'a str,
    pub path: &'a str,
    pub now: i64,
    /// How long a claim holds before another request may take it over.
    pub lease_ms: i64,
}

pub async fn claim(db: &Db, r: &ClaimRequest<'_>) -> Result<Claim, DbError> {
    let mut tx = db.begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO idempotency_keys (livemode, idem_key, fingerprint, method, path, state, locked_at, created_at) \
         VALUES ($1,$2,$3,$4,$5,'in_progress',$6,$6) ON CONFLICT (livemode, idem_key) DO NOTHING",
    )
    .bind(i64::from(r.livemode))
    .bind(r.key)
    .bind(r.fingerprint)
    .bind(r.method)
    .bind(r.path)
    .bind(r.now)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 1 {
        tx.commit().await?;
        return Ok(Claim::Acquired);
    }
    let row = sqlx::query(
        "SELECT fingerprint, state, response_status, response_body, locked_at FROM idempotency_keys \
         WHERE livemode = $1 AND idem_key = $2",
    )
    .bind(i64::from(r.livemode))
    .bind(r.key)
    .fetch_one(&mut *tx)
    .await?;
    let fingerprint: String = row.get(0);
    let state: String = row.get(1);
    let outcome = if fingerprint != r.fingerprint {
        Claim::Mismatch
    } else if state == "completed" {
        Claim::Replay {
            status: row.get::<Option<i64>, _>(2).unwrap_or(200) as u16,
            body: row.get::<Option<String>, _>(3).unwrap_or_default(),
        }
    } else {
        let locked_at: i64 = row.get(4);
        if locked_at < r.now - r.lease_ms {
            let taken = sqlx::query(
                "UPDATE idempotency_keys SET locked_at = $3 WHERE livemode = $1 AND idem_key = $2 \
                 AND state = 'in_progress' AND locked_at = $4",
            )
            .bind(i64::from(r.livemode))
            .bind(r.key)
            .bind(r.now)
            .bind(locked_at)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if taken == 1 {
                Claim::Acquired
            } else {
                Claim::InProgress
            }
        } else {
            Claim::InProgress
        }
    };
    tx.commit().await?;
    Ok(outcome)
}

/// Stores the response inside the business transaction.
pub async fn complete(tx: &mut Tx, livemode: bool, key: &str, status: u16, body: &str) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE idempotency_keys SET state = 'completed', response_status = $3, response_body = $4 \
         WHERE livemode = $1 AND idem_key = $2",
    )
    .bind(i64::from(livemode))
    .bind(key)
    .bind(i64::from(status))
    .bind(body)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Gives a claim back when its request failed without changing anything,
/// so the client may retry with the same key.
pub async fn release(db: &Db, livemode: bool, key: &str) -> Result<(), DbError> {
    sqlx::query("DELETE FROM idempotency_keys WHERE livemode = $1 AND idem_key = $2 AND state = 'in_progress'")
        .bind(i64::from(livemode))
        .bind(key)
        .execute(db.writer())
        .await?;
    Ok(())
}

/// Forgets a key whatever its state (an answer stored before a step after
/// the commit failed): a retry with it runs again.
pub async fn forget(db: &Db, livemode: bool, key: &str) -> Result<(), DbError> {
    sqlx::query("DELETE FROM idempotency_keys WHERE livemode = $1 AND idem_key = $2")
        .bind(i64::from(livemode))
        .bind(key)
        .execute(db.writer())
        .await?;
    Ok(())
}

/// Deletes keys older than the retention window (24 hours by default).
pub async fn prune(db: &Db, older_than: i64) -> Result<u64, DbError> {
    Ok(sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
        .bind(older_than)
        .execute(db.writer())
        .await?
        .rows_affected())
}
