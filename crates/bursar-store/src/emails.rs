//! The email outbox and event-consumer cursors.

use crate::db::{Db, DbError, Tx};
use sqlx::{Any, Executor, Row};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailRow {
    pub id: String,
    pub livemode: bool,
    /// One email per key (`receipt:inv_…`), so replays never send twice.
    pub dedupe_key: String,
    pub customer_id: Option<String>,
    pub kind: String,
    pub to_address: String,
    pub subject: String,
    pub body: String,
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub sent_at: Option<i64>,
}

const COLS: &str = "id, livemode, dedupe_key, customer_id, kind, to_address, subject, body, status, attempts, \
                    last_error, created_at, sent_at";

fn email(r: &sqlx::any::AnyRow) -> EmailRow {
    EmailRow {
        id: r.get(0),
        livemode: r.get::<i64, _>(1) != 0,
        dedupe_key: r.get(2),
        customer_id: r.get(3),
        kind: r.get(4),
        to_address: r.get(5),
        subject: r.get(6),
        body: r.get(7),
        status: r.get(8),
        attempts: r.get(9),
        last_error: r.get(10),
        created_at: r.get(11),
        sent_at: r.get(12),
    }
}

/// Queues an email unless one with the same key exists.
pub async fn enqueue(tx: &mut Tx, e: &EmailRow) -> Result<bool, DbError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "INSERT INTO emails ({COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13) ON CONFLICT (dedupe_key) DO NOTHING"
    ));
    let n = sqlx::query(sql)
        .bind(e.id.clone())
        .bind(i64::from(e.livemode))
        .bind(e.dedupe_key.clone())
        .bind(e.customer_id.clone())
        .bind(e.kind.clone())
        .bind(e.to_address.clone())
        .bind(e.subject.clone())
        .bind(e.body.clone())
        .bind(e.status.clone())
        .bind(e.attempts)
        .bind(e.last_error.clone())
        .bind(e.created_at)
        .bind(e.sent_at)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    Ok(n == 1)
}

pub async fn pending<'e, E: Executor<'e, Database = Any>>(ex: E, limit: i64) -> Result<Vec<EmailRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} FROM emails WHERE status = 'pending' ORDER BY created_at, id LIMIT $1"
    ));
    Ok(sqlx::query(sql).bind(limit).fetch_all(ex).await?.iter().map(email).collect())
}

pub async fn list<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    livemode: bool,
    customer_id: Option<&str>,
    limit: i64,
) -> Result<Vec<EmailRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} FROM emails WHERE livemode = $1 AND ($2 = '' OR customer_id = $2) ORDER BY id DESC LIMIT $3"
    ));
    Ok(sqlx::query(sql)
        .bind(i64::from(livemode))
        .bind(customer_id.unwrap_or("").to_string())
        .bind(limit)
        .fetch_all(ex)
        .await?
        .iter()
        .map(email)
        .collect())
}

/// Takes a pending email for delivery; `false` when another worker has it.
pub async fn claim(db: &Db, id: &str) -> Result<bool, DbError> {
    Ok(sqlx::query("UPDATE emails SET status = 'sending' WHERE id = $1 AND status = 'pending'")
        .bind(id)
        .execute(db.writer())
        .await?
        .rows_affected()
        == 1)
}

/// Records a delivery attempt.
pub async fn mark(db: &Db, id: &str, status: &str, error: Option<&str>, now: i64) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE emails SET status = $2, attempts = attempts + 1, last_error = $3, \
         sent_at = CASE WHEN $2 = 'sent' THEN $4 ELSE sent_at END WHERE id = $1",
    )
    .bind(id)
    .bind(status)
    .bind(error.map(str::to_string))
    .bind(now)
    .execute(db.writer())
    .await?;
    Ok(())
}

pub async fn cursor(tx: &mut Tx, consumer: &str) -> Result<String, DbError> {
    let v: Option<String> = sqlx::query_scalar("SELECT last_event_id FROM outbox_cursors WHERE consumer = $1")
        .bind(consumer)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(v.unwrap_or_default())
}

pub async fn set_cursor(tx: &mut Tx, consumer: &str, last: &str) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO outbox_cursors (consumer, last_event_id) VALUES ($1, $2) \
         ON CONFLICT (consumer) DO UPDATE SET last_event_id = excluded.last_event_id",
    )
    .bind(consumer)
    .bind(last)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Events after a cursor, oldest first, in both modes.
pub async fn events_after(tx: &mut Tx, after: &str, limit: i64) -> Result<Vec<crate::events::EventRow>, DbError> {
    let rows = sqlx::query(
        "SELECT id, livemode, type, object_id, data, created_at FROM events WHERE id > $1 ORDER BY id LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows
        .iter()
        .map(|r| crate::events::EventRow {
            id: r.get(0),
            livemode: r.get::<i64, _>(1) != 0,
            event_type: r.get(2),
            object_id: r.get(3),
            data: serde_json::from_str(&r.get::<String, _>(4)).unwrap_or(serde_json::Value::Null),
            created_at: r.get(5),
        })
        .collect())
}
