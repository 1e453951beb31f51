//! Hosted dashboard sessions (a learner's or an instructor's), opened by
//! the platform with a one-time link that is exchanged for a cookie.

use super::flag;
use crate::{DbError, Tx};
use sqlx::{Any, Executor, Row};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DashboardSessionRow {
    pub token_hash: String,
    pub livemode: bool,
    pub link: bool,
    pub used_at: Option<i64>,
    /// learner, instructor
    pub kind: String,
    /// The learner's id or the instructor's id.
    pub subject: String,
    pub exam: Option<String>,
    pub return_url: Option<String>,
    pub expires_at: i64,
    pub created_at: i64,
}

pub async fn insert<'e, E: Executor<'e, Database = Any>>(e: E, s: &DashboardSessionRow) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO dashboard_sessions (token_hash, livemode, link, used_at, kind, subject, exam, return_url, \
         expires_at, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)",
    )
    .bind(&s.token_hash)
    .bind(flag(s.livemode))
    .bind(flag(s.link))
    .bind(s.used_at)
    .bind(&s.kind)
    .bind(&s.subject)
    .bind(&s.exam)
    .bind(&s.return_url)
    .bind(s.expires_at)
    .bind(s.created_at)
    .execute(e)
    .await?;
    Ok(())
}

/// An unexpired session by its token's hash.
pub async fn get<'e, E: Executor<'e, Database = Any>>(
    e: E,
    token_hash: &str,
    now: i64,
) -> Result<Option<DashboardSessionRow>, DbError> {
    let r = sqlx::query(
        "SELECT token_hash, livemode, link, used_at, kind, subject, exam, return_url, expires_at, created_at \
         FROM dashboard_sessions WHERE token_hash = $1 AND expires_at > $2",
    )
    .bind(token_hash)
    .bind(now)
    .fetch_optional(e)
    .await?;
    Ok(r.map(|r| DashboardSessionRow {
        token_hash: r.get(0),
        livemode: r.get::<i64, _>(1) != 0,
        link: r.get::<i64, _>(2) != 0,
        used_at: r.get(3),
        kind: r.get(4),
        subject: r.get(5),
        exam: r.get(6),
        return_url: r.get(7),
        expires_at: r.get(8),
        created_at: r.get(9),
    }))
}

/// Marks a one-time link used; `false` when it was used already (another
/// request won).
pub async fn use_link(tx: &mut Tx, token_hash: &str, now: i64) -> Result<bool, DbError> {
    let n = sqlx::query(
        "UPDATE dashboard_sessions SET used_at = $2 WHERE token_hash = $1 AND link = 1 AND used_at IS NULL",
    )
    .bind(token_hash)
    .bind(now)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(n == 1)
}
