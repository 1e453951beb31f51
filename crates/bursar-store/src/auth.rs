//! API keys, staff accounts and staff sessions. Secrets are stored only as
//! hashes: API keys (high-entropy random strings) as SHA-256, staff
//! passwords as Argon2id (hashed by the caller), session tokens as SHA-256.

use crate::db::{DbError, Tx};
use sqlx::{Any, Executor, Row};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRow {
    pub id: String,
    pub livemode: bool,
    pub name: String,
    pub key_hash: String,
    pub redacted: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

const KEY_COLS: &str = "id, livemode, name, key_hash, redacted, created_at, last_used_at, revoked_at";

fn key_from_row(r: &sqlx::any::AnyRow) -> ApiKeyRow {
    ApiKeyRow {
        id: r.get(0),
        livemode: r.get::<i64, _>(1) != 0,
        name: r.get(2),
        key_hash: r.get(3),
        redacted: r.get(4),
        created_at: r.get(5),
        last_used_at: r.get(6),
        revoked_at: r.get(7),
    }
}

pub async fn insert_api_key(tx: &mut Tx, k: &ApiKeyRow) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO api_keys (id, livemode, name, key_hash, redacted, created_at, last_used_at, revoked_at) \
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8)",
    )
    .bind(k.id.clone())
    .bind(i64::from(k.livemode))
    .bind(k.name.clone())
    .bind(k.key_hash.clone())
    .bind(k.redacted.clone())
    .bind(k.created_at)
    .bind(k.last_used_at)
    .bind(k.revoked_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn api_key_by_hash<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    key_hash: &str,
) -> Result<Option<ApiKeyRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {KEY_COLS} FROM api_keys WHERE key_hash = $1"));
    Ok(sqlx::query(sql).bind(key_hash).fetch_optional(ex).await?.as_ref().map(key_from_row))
}

pub async fn api_key<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    livemode: bool,
    id: &str,
) -> Result<Option<ApiKeyRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {KEY_COLS} FROM api_keys WHERE id = $1 AND livemode = $2"));
    Ok(sqlx::query(sql).bind(id).bind(i64::from(livemode)).fetch_optional(ex).await?.as_ref().map(key_from_row))
}

pub async fn list_api_keys<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    livemode: bool,
    starting_after: Option<&str>,
    limit: i64,
) -> Result<Vec<ApiKeyRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {KEY_COLS} FROM api_keys WHERE livemode = $1 AND ($2 = '' OR id < $2) ORDER BY id DESC LIMIT $3"
    ));
    Ok(sqlx::query(sql)
        .bind(i64::from(livemode))
        .bind(starting_after.unwrap_or("").to_string())
        .bind(limit)
        .fetch_all(ex)
        .await?
        .iter()
        .map(key_from_row)
        .collect())
}

pub async fn revoke_api_key(tx: &mut Tx, id: &str, now: i64) -> Result<(), DbError> {
    sqlx::query("UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
        .bind(id)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Records use at most once a minute per key, to keep authentication off
/// the write path.
pub async fn touch_api_key<'e, E: Executor<'e, Database = Any>>(ex: E, id: &str, now: i64) -> Result<(), DbError> {
    sqlx::query("UPDATE api_keys SET last_used_at = $2 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $3)")
        .bind(id)
        .bind(now)
        .bind(now - 60_000)
        .execute(ex)
        .await?;
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffRow {
    pub id: String,
    pub email: String,
    pub name: String,
    pub password_hash: String,
    pub created_at: i64,
}

pub async fn upsert_staff(tx: &mut Tx, s: &StaffRow) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO staff_users (id, email, name, password_hash, created_at) VALUES ($1,$2,$3,$4,$5) \
         ON CONFLICT (email) DO UPDATE SET name = excluded.name, password_hash = excluded.password_hash",
    )
    .bind(s.id.clone())
    .bind(s.email.clone())
    .bind(s.name.clone())
    .bind(s.password_hash.clone())
    .bind(s.created_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn staff_by_email<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    email: &str,
) -> Result<Option<StaffRow>, DbError> {
    let r = sqlx::query("SELECT id, email, name, password_hash, created_at FROM staff_users WHERE email = $1")
        .bind(email)
        .fetch_optional(ex)
        .await?;
    Ok(r.map(|r| StaffRow {
        id: r.get(0),
        email: r.get(1),
        name: r.get(2),
        password_hash: r.get(3),
        created_at: r.get(4),
    }))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffSession {
    pub staff_id: String,
    pub staff_email: String,
    pub staff_name: String,
    pub csrf_token: String,
    pub expires_at: i64,
}

pub async fn insert_session(
    tx: &mut Tx,
    token_hash: &str,
    staff_id: &str,
    csrf_token: &str,
    now: i64,
    expires_at: i64,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO staff_sessions (token_hash, staff_id, csrf_token, created_at, expires_at) VALUES ($1,$2,$3,$4,$5)",
    )
    .bind(token_hash)
    .bind(staff_id)
    .bind(csrf_token)
    .bind(now)
    .bind(expires_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn session<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    token_hash: &str,
    now: i64,
) -> Result<Option<StaffSession>, DbError> {
    let r = sqlx::query(
        "SELECT s.staff_id, u.email, u.name, s.csrf_token, s.expires_at FROM staff_sessions s \
         JOIN staff_users u ON u.id = s.staff_id WHERE s.token_hash = $1 AND s.expires_at > $2",
    )
    .bind(token_hash)
    .bind(now)
    .fetch_optional(ex)
    .await?;
    Ok(r.map(|r| StaffSession {
        staff_id: r.get(0),
        staff_email: r.get(1),
        staff_name: r.get(2),
        csrf_token: r.get(3),
        expires_at: r.get(4),
    }))
}

pub async fn delete_session(tx: &mut Tx, token_hash: &str) -> Result<(), DbError> {
    sqlx::query("DELETE FROM staff_sessions WHERE token_hash = $1").bind(token_hash).execute(&mut **tx).await?;
    Ok(())
}

/// A subject's failed sign-ins: (failures, window start, locked until),
/// locked for update (`for_update` is the database's ` FOR UPDATE`, or empty).
pub async fn throttle(tx: &mut Tx, subject: &str, for_update: &str) -> Result<Option<(i64, i64, i64)>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT failures, window_start, locked_until FROM sign_in_throttle WHERE subject = $1{for_update}"
    ));
    Ok(sqlx::query_as(sql).bind(subject).fetch_optional(&mut **tx).await?)
}

/// Records a subject's failed sign-ins.
pub async fn set_throttle(
    tx: &mut Tx,
    subject: &str,
    failures: i64,
    window_start: i64,
    locked_until: i64,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO sign_in_throttle (subject, failures, window_start, locked_until) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (subject) DO UPDATE SET failures = excluded.failures, window_start = excluded.window_start, \
         locked_until = excluded.locked_until",
    )
    .bind(subject)
    .bind(failures)
    .bind(window_start)
    .bind(locked_until)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Forgets a subject's failed sign-ins (after a success).
pub async fn clear_throttle(tx: &mut Tx, subject: &str) -> Result<(), DbError> {
    sqlx::query("DELETE FROM sign_in_throttle WHERE subject = $1").bind(subject).execute(&mut **tx).await?;
    Ok(())
}
