//! Instructors and their sessions.

use crate::db::{DbError, Tx};
use sqlx::{Any, Executor, FromRow};

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct InstructorRow {
    pub id: String,
    pub external_id: String,
    pub name: String,
    pub email: Option<String>,
    pub tier: String,
    pub share_bps: Option<i64>,
    pub payout_method: String,
    pub payout_details: String,
    pub created_at: i64,
    pub updated_at: i64,
}

const INSTRUCTOR_COLS: &str =
    "id, external_id, name, email, tier, share_bps, payout_method, payout_details, created_at, updated_at";

pub async fn insert_instructor(tx: &mut Tx, livemode: bool, r: &InstructorRow) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO instructors (id, livemode, external_id, name, email, tier, share_bps, payout_method, \
         payout_details, created_at, updated_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)",
    )
    .bind(r.id.clone())
    .bind(i64::from(livemode))
    .bind(r.external_id.clone())
    .bind(r.name.clone())
    .bind(r.email.clone())
    .bind(r.tier.clone())
    .bind(r.share_bps)
    .bind(r.payout_method.clone())
    .bind(r.payout_details.clone())
    .bind(r.created_at)
    .bind(r.updated_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn save_instructor(tx: &mut Tx, r: &InstructorRow) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE instructors SET name = $2, email = $3, tier = $4, share_bps = $5, payout_method = $6, \
         payout_details = $7, updated_at = $8 WHERE id = $1",
    )
    .bind(r.id.clone())
    .bind(r.name.clone())
    .bind(r.email.clone())
    .bind(r.tier.clone())
    .bind(r.share_bps)
    .bind(r.payout_method.clone())
    .bind(r.payout_details.clone())
    .bind(r.updated_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// By Bursar's id or the platform's user id.
pub async fn instructor<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    livemode: bool,
    key: &str,
) -> Result<Option<InstructorRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {INSTRUCTOR_COLS} FROM instructors WHERE livemode = $1 AND (id = $2 OR external_id = $2)"
    ));
    Ok(sqlx::query_as(sql).bind(i64::from(livemode)).bind(key).fetch_optional(ex).await?)
}

pub async fn instructors<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    livemode: bool,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<InstructorRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {INSTRUCTOR_COLS} FROM instructors WHERE livemode = $1 AND id > $2 ORDER BY id LIMIT $3"
    ));
    Ok(sqlx::query_as(sql).bind(i64::from(livemode)).bind(after.unwrap_or("")).bind(limit).fetch_all(ex).await?)
}

pub async fn insert_instructor_session(
    tx: &mut Tx,
    livemode: bool,
    token_hash: &str,
    instructor_id: &str,
    expires_at: i64,
    now: i64,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO instructor_sessions (token_hash, livemode, instructor_id, expires_at, created_at) \
         VALUES ($1,$2,$3,$4,$5)",
    )
    .bind(token_hash)
    .bind(i64::from(livemode))
    .bind(instructor_id)
    .bind(expires_at)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The instructor and mode of an unexpired session token.
pub async fn instructor_session<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    token_hash: &str,
    now: i64,
) -> Result<Option<(String, bool)>, DbError> {
    let row: Option<(String, i64)> = sqlx::query_as(
        "SELECT instructor_id, livemode FROM instructor_sessions WHERE token_hash = $1 AND expires_at > $2",
    )
    .bind(token_hash)
    .bind(now)
    .fetch_optional(ex)
    .await?;
    Ok(row.map(|(i, l)| (i, l != 0)))
}
