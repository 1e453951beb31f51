//! Billing portal sessions: a learner signed in by the platform.

use crate::{DbError, Tx};
use sqlx::{Any, Executor};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortalSessionRow {
    pub token_hash: String,
    pub livemode: bool,
    pub customer_id: String,
    pub return_url: Option<String>,
    pub csrf: String,
    pub expires_at: i64,
    pub created_at: i64,
}

pub async fn insert_session(tx: &mut Tx, s: &PortalSessionRow) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO portal_sessions (token_hash, livemode, customer_id, return_url, csrf, expires_at, created_at) \
         VALUES ($1,$2,$3,$4,$5,$6,$7)",
    )
    .bind(&s.token_hash)
    .bind(i64::from(s.livemode))
    .bind(&s.customer_id)
    .bind(&s.return_url)
    .bind(&s.csrf)
    .bind(s.expires_at)
    .bind(s.created_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// An unexpired session by its token's hash.
pub async fn session<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    token_hash: &str,
    now: i64,
) -> Result<Option<PortalSessionRow>, DbError> {
    #[derive(sqlx::FromRow)]
    struct Raw {
        token_hash: String,
        livemode: i64,
        customer_id: String,
        return_url: Option<String>,
        csrf: String,
        expires_at: i64,
        created_at: i64,
    }
    let row: Option<Raw> = sqlx::query_as(
        "SELECT token_hash, livemode, customer_id, return_url, csrf, expires_at, created_at FROM portal_sessions \
         WHERE token_hash = $1 AND expires_at > $2",
    )
    .bind(token_hash)
    .bind(now)
    .fetch_optional(ex)
    .await?;
    Ok(row.map(|r| PortalSessionRow {
        token_hash: r.token_hash,
        livemode: r.livemode != 0,
        customer_id: r.customer_id,
        return_url: r.return_url,
        csrf: r.csrf,
        expires_at: r.expires_at,
        created_at: r.created_at,
    }))
}
