//! Webhook endpoints registered by the platform, and their deliveries.
//!
//! A delivery is one event queued for one endpoint (unique per pair, so an
//! event read twice from the outbox is still queued once); every attempt to
//! send it is kept in `webhook_attempts`. Deliveries are claimed for sending
//! by moving `next_attempt_at` past a lease in a short transaction, with
//! `FOR UPDATE SKIP LOCKED` on PostgreSQL, so several workers never send the
//! same delivery at once and a worker that dies only delays it.

use crate::db::{Db, DbError, Tx};
use sqlx::{Any, Executor, Row};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointRow {
    pub id: String,
    pub livemode: bool,
    pub url: String,
    pub description: Option<String>,
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_secret_expires_at: Option<i64>,
    /// JSON array of event types, `prefix.*` families or `*`.
    pub enabled_events: String,
    /// `enabled` or `disabled`.
    pub status: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl EndpointRow {
    /// The enabled event patterns.
    pub fn events(&self) -> Vec<String> {
        serde_json::from_str(&self.enabled_events).unwrap_or_default()
    }
}

const ENDPOINT_COLS: &str = "id, livemode, url, description, secret, previous_secret, previous_secret_expires_at, \
                             enabled_events, status, created_at, updated_at";

fn endpoint(r: &sqlx::any::AnyRow) -> EndpointRow {
    EndpointRow {
        id: r.get(0),
        livemode: r.get::<i64, _>(1) != 0,
        url: r.get(2),
        description: r.get(3),
        secret: r.get(4),
        previous_secret: r.get(5),
        previous_secret_expires_at: r.get(6),
        enabled_events: r.get(7),
        status: r.get(8),
        created_at: r.get(9),
        updated_at: r.get(10),
    }
}

pub async fn insert_endpoint(tx: &mut Tx, e: &EndpointRow) -> Result<(), DbError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "INSERT INTO webhook_endpoints ({ENDPOINT_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)"
    ));
    sqlx::query(sql)
        .bind(e.id.clone())
        .bind(i64::from(e.livemode))
        .bind(e.url.clone())
        .bind(e.description.clone())
        .bind(e.secret.clone())
        .bind(e.previous_secret.clone())
        .bind(e.previous_secret_expires_at)
        .bind(e.enabled_events.clone())
        .bind(e.status.clone())
        .bind(e.created_at)
        .bind(e.updated_at)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Writes every mutable column of an endpoint.
pub async fn update_endpoint(tx: &mut Tx, e: &EndpointRow) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE webhook_endpoints SET url = $2, description = $3, secret = $4, previous_secret = $5, \
         previous_secret_expires_at = $6, enabled_events = $7, status = $8, updated_at = $9 WHERE id = $1",
    )
    .bind(e.id.clone())
    .bind(e.url.clone())
    .bind(e.description.clone())
    .bind(e.secret.clone())
    .bind(e.previous_secret.clone())
    .bind(e.previous_secret_expires_at)
    .bind(e.enabled_events.clone())
    .bind(e.status.clone())
    .bind(e.updated_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Deletes an endpoint with its deliveries and their attempts.
pub async fn delete_endpoint(tx: &mut Tx, id: &str) -> Result<(), DbError> {
    sqlx::query(
        "DELETE FROM webhook_attempts WHERE delivery_id IN (SELECT id FROM webhook_deliveries WHERE endpoint_id = $1)",
    )
    .bind(id)
    .execute(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM webhook_deliveries WHERE endpoint_id = $1").bind(id).execute(&mut **tx).await?;
    sqlx::query("DELETE FROM webhook_endpoints WHERE id = $1").bind(id).execute(&mut **tx).await?;
    Ok(())
}

/// One endpoint of a mode; `lock` is appended (`Db::for_update()`).
pub async fn endpoint_by_id<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    livemode: bool,
    id: &str,
    lock: &str,
) -> Result<Option<EndpointRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {ENDPOINT_COLS} FROM webhook_endpoints WHERE id = $1 AND livemode = $2{lock}"
    ));
    Ok(sqlx::query(sql).bind(id).bind(i64::from(livemode)).fetch_optional(ex).await?.as_ref().map(endpoint))
}

/// A mode's endpoints, newest first.
pub async fn list_endpoints<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    livemode: bool,
    starting_after: Option<&str>,
    limit: i64,
) -> Result<Vec<EndpointRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {ENDPOINT_COLS} FROM webhook_endpoints WHERE livemode = $1 AND ($2 = '' OR id < $2) \
         ORDER BY id DESC LIMIT $3"
    ));
    Ok(sqlx::query(sql)
        .bind(i64::from(livemode))
        .bind(starting_after.unwrap_or("").to_string())
        .bind(limit)
        .fetch_all(ex)
        .await?
        .iter()
        .map(endpoint)
        .collect())
}

/// Every enabled endpoint, in both modes, oldest first.
pub async fn enabled_endpoints<'e, E: Executor<'e, Database = Any>>(ex: E) -> Result<Vec<EndpointRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {ENDPOINT_COLS} FROM webhook_endpoints WHERE status = 'enabled' ORDER BY id"
    ));
    Ok(sqlx::query(sql).fetch_all(ex).await?.iter().map(endpoint).collect())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRow {
    pub id: String,
    pub endpoint_id: String,
    pub event_id: String,
    pub event_type: String,
    pub livemode: bool,
    /// `pending`, `succeeded`, or `failed` (gave up).
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: Option<i64>,
    pub first_attempt_at: Option<i64>,
    pub last_attempt_at: Option<i64>,
    pub last_status_code: Option<i64>,
    pub last_error: Option<String>,
    pub last_response_snippet: Option<String>,
    pub last_duration_ms: Option<i64>,
    pub created_at: i64,
    pub delivered_at: Option<i64>,
}

const DELIVERY_COLS: &str = "id, endpoint_id, event_id, event_type, livemode, status, attempts, next_attempt_at, \
                             first_attempt_at, last_attempt_at, last_status_code, last_error, last_response_snippet, \
                             last_duration_ms, created_at, delivered_at";

fn delivery(r: &sqlx::any::AnyRow) -> DeliveryRow {
    DeliveryRow {
        id: r.get(0),
        endpoint_id: r.get(1),
        event_id: r.get(2),
        event_type: r.get(3),
        livemode: r.get::<i64, _>(4) != 0,
        status: r.get(5),
        attempts: r.get(6),
        next_attempt_at: r.get(7),
        first_attempt_at: r.get(8),
        last_attempt_at: r.get(9),
        last_status_code: r.get(10),
        last_error: r.get(11),
        last_response_snippet: r.get(12),
        last_duration_ms: r.get(13),
        created_at: r.get(14),
        delivered_at: r.get(15),
    }
}

/// Queues pending deliveries, skipping (endpoint, event) pairs already
/// queued. Returns how many were new.
pub async fn insert_deliveries(tx: &mut Tx, rows: &[DeliveryRow]) -> Result<u64, DbError> {
    let backend = crate::db::tx_backend(tx);
    let mut n = 0;
    for chunk in rows.chunks(200) {
        let sql = sqlx::AssertSqlSafe(format!(
            "INSERT INTO webhook_deliveries ({DELIVERY_COLS}) VALUES {} ON CONFLICT (endpoint_id, event_id) DO NOTHING",
            crate::db::placeholders(backend, chunk.len(), 16)
        ));
        let mut q = sqlx::query(sql);
        for d in chunk {
            q = q
                .bind(d.id.clone())
                .bind(d.endpoint_id.clone())
                .bind(d.event_id.clone())
                .bind(d.event_type.clone())
                .bind(i64::from(d.livemode))
                .bind(d.status.clone())
                .bind(d.attempts)
                .bind(d.next_attempt_at)
                .bind(d.first_attempt_at)
                .bind(d.last_attempt_at)
                .bind(d.last_status_code)
                .bind(d.last_error.clone())
                .bind(d.last_response_snippet.clone())
                .bind(d.last_duration_ms)
                .bind(d.created_at)
                .bind(d.delivered_at);
        }
        n += q.execute(&mut **tx).await?.rows_affected();
    }
    Ok(n)
}

/// One delivery of a mode.
pub async fn delivery_by_id<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    livemode: bool,
    id: &str,
) -> Result<Option<DeliveryRow>, DbError> {
    let sql =
        sqlx::AssertSqlSafe(format!("SELECT {DELIVERY_COLS} FROM webhook_deliveries WHERE id = $1 AND livemode = $2"));
    Ok(sqlx::query(sql).bind(id).bind(i64::from(livemode)).fetch_optional(ex).await?.as_ref().map(delivery))
}

/// The delivery of one event to one endpoint, if queued.
pub async fn delivery_for<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    endpoint_id: &str,
    event_id: &str,
) -> Result<Option<DeliveryRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {DELIVERY_COLS} FROM webhook_deliveries WHERE endpoint_id = $1 AND event_id = $2"
    ));
    Ok(sqlx::query(sql).bind(endpoint_id).bind(event_id).fetch_optional(ex).await?.as_ref().map(delivery))
}

/// An endpoint's deliveries, newest first, optionally of one status.
pub async fn list_deliveries<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    endpoint_id: &str,
    status: Option<&str>,
    starting_after: Option<&str>,
    limit: i64,
) -> Result<Vec<DeliveryRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {DELIVERY_COLS} FROM webhook_deliveries WHERE endpoint_id = $1 AND ($2 = '' OR status = $2) \
         AND ($3 = '' OR id < $3) ORDER BY id DESC LIMIT $4"
    ));
    Ok(sqlx::query(sql)
        .bind(endpoint_id)
        .bind(status.unwrap_or("").to_string())
        .bind(starting_after.unwrap_or("").to_string())
        .bind(limit)
        .fetch_all(ex)
        .await?
        .iter()
        .map(delivery)
        .collect())
}

/// Claims up to `limit` pending deliveries due at `now` whose endpoint is
/// enabled, by moving their `next_attempt_at` to `lease_until`, in its own
/// transaction. Another worker sees them as not due until the lease ends,
/// which is also when a delivery whose worker died is tried again.
pub async fn claim_due(db: &Db, now: i64, lease_until: i64, limit: i64) -> Result<Vec<String>, DbError> {
    let mut tx = db.begin().await?;
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= $1 \
         AND endpoint_id IN (SELECT id FROM webhook_endpoints WHERE status = 'enabled') \
         ORDER BY next_attempt_at, id LIMIT $2{}",
        db.for_update_skip_locked()
    ));
    let ids: Vec<String> = sqlx::query_scalar(sql).bind(now).bind(limit).fetch_all(&mut *tx).await?;
    for id in &ids {
        sqlx::query("UPDATE webhook_deliveries SET next_attempt_at = $2 WHERE id = $1")
            .bind(id.clone())
            .bind(lease_until)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(ids)
}

/// Moves a pending delivery's next attempt (a manual send takes a lease so
/// the job does not send it at the same time).
pub async fn set_next_attempt(db: &Db, id: &str, at: i64) -> Result<(), DbError> {
    sqlx::query("UPDATE webhook_deliveries SET next_attempt_at = $2 WHERE id = $1 AND status = 'pending'")
        .bind(id)
        .bind(at)
        .execute(db.writer())
        .await?;
    Ok(())
}

/// Everything needed to send one delivery.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub delivery_id: String,
    pub endpoint_id: String,
    pub url: String,
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_secret_expires_at: Option<i64>,
    pub event: crate::events::EventRow,
}

/// Loads deliveries with their endpoint and event, for sending.
pub async fn outgoing<'e, E: Executor<'e, Database = Any>>(ex: E, ids: &[String]) -> Result<Vec<Outgoing>, DbError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list = (1..=ids.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(",");
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT d.id, d.endpoint_id, w.url, w.secret, w.previous_secret, w.previous_secret_expires_at, \
         v.id, v.livemode, v.type, v.object_id, v.data, v.created_at \
         FROM webhook_deliveries d JOIN webhook_endpoints w ON w.id = d.endpoint_id JOIN events v ON v.id = d.event_id \
         WHERE d.id IN ({list}) ORDER BY d.id"
    ));
    let mut q = sqlx::query(sql);
    for id in ids {
        q = q.bind(id.clone());
    }
    Ok(q.fetch_all(ex)
        .await?
        .iter()
        .map(|r| Outgoing {
            delivery_id: r.get(0),
            endpoint_id: r.get(1),
            url: r.get(2),
            secret: r.get(3),
            previous_secret: r.get(4),
            previous_secret_expires_at: r.get(5),
            event: crate::events::EventRow {
                id: r.get(6),
                livemode: r.get::<i64, _>(7) != 0,
                event_type: r.get(8),
                object_id: r.get(9),
                data: serde_json::from_str(&r.get::<String, _>(10)).unwrap_or(serde_json::Value::Null),
                created_at: r.get(11),
            },
        })
        .collect())
}

/// One attempt to send a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRow {
    pub delivery_id: String,
    pub attempt: i64,
    /// Made through the API (retry or resend) rather than by the job.
    pub manual: bool,
    pub attempted_at: i64,
    pub status_code: Option<i64>,
    pub error: Option<String>,
    pub response_snippet: Option<String>,
    pub duration_ms: i64,
}

/// A delivery's attempts, in order.
pub async fn attempts<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    delivery_id: &str,
) -> Result<Vec<AttemptRow>, DbError> {
    let rows = sqlx::query(
        "SELECT delivery_id, attempt, manual, attempted_at, status_code, error, response_snippet, duration_ms \
         FROM webhook_attempts WHERE delivery_id = $1 ORDER BY attempt",
    )
    .bind(delivery_id)
    .fetch_all(ex)
    .await?;
    Ok(rows
        .iter()
        .map(|r| AttemptRow {
            delivery_id: r.get(0),
            attempt: r.get(1),
            manual: r.get::<i64, _>(2) != 0,
            attempted_at: r.get(3),
            status_code: r.get(4),
            error: r.get(5),
            response_snippet: r.get(6),
            duration_ms: r.get(7),
        })
        .collect())
}

/// Locks a delivery for recording an attempt (`lock` from `Db::for_update()`).
pub async fn delivery_locked(tx: &mut Tx, id: &str, lock: &str) -> Result<Option<DeliveryRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {DELIVERY_COLS} FROM webhook_deliveries WHERE id = $1{lock}"));
    Ok(sqlx::query(sql).bind(id).fetch_optional(&mut **tx).await?.as_ref().map(delivery))
}

/// Writes a delivery's state after an attempt and the attempt itself; the
/// attempt's number is `d.attempts`.
pub async fn record_attempt(tx: &mut Tx, d: &DeliveryRow, a: &AttemptRow) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE webhook_deliveries SET status = $2, attempts = $3, next_attempt_at = $4, first_attempt_at = $5, \
         last_attempt_at = $6, last_status_code = $7, last_error = $8, last_response_snippet = $9, \
         last_duration_ms = $10, delivered_at = $11 WHERE id = $1",
    )
    .bind(d.id.clone())
    .bind(d.status.clone())
    .bind(d.attempts)
    .bind(d.next_attempt_at)
    .bind(d.first_attempt_at)
    .bind(d.last_attempt_at)
    .bind(d.last_status_code)
    .bind(d.last_error.clone())
    .bind(d.last_response_snippet.clone())
    .bind(d.last_duration_ms)
    .bind(d.delivered_at)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO webhook_attempts (delivery_id, attempt, manual, attempted_at, status_code, error, \
         response_snippet, duration_ms) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)",
    )
    .bind(a.delivery_id.clone())
    .bind(a.attempt)
    .bind(i64::from(a.manual))
    .bind(a.attempted_at)
    .bind(a.status_code)
    .bind(a.error.clone())
    .bind(a.response_snippet.clone())
    .bind(a.duration_ms)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The consumer's cursor in the event outbox, created at `initial` when it
/// does not exist yet, and locked (`lock` from `Db::for_update()`) so
/// concurrent readers take turns.
pub async fn lock_cursor(tx: &mut Tx, consumer: &str, initial: &str, lock: &str) -> Result<String, DbError> {
    sqlx::query(
        "INSERT INTO outbox_cursors (consumer, last_event_id) VALUES ($1, $2) ON CONFLICT (consumer) DO NOTHING",
    )
    .bind(consumer)
    .bind(initial)
    .execute(&mut **tx)
    .await?;
    let sql = sqlx::AssertSqlSafe(format!("SELECT last_event_id FROM outbox_cursors WHERE consumer = $1{lock}"));
    Ok(sqlx::query_scalar(sql).bind(consumer).fetch_one(&mut **tx).await?)
}

/// One event of a mode.
pub async fn event_by_id<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    livemode: bool,
    id: &str,
) -> Result<Option<crate::events::EventRow>, DbError> {
    let r = sqlx::query(
        "SELECT id, livemode, type, object_id, data, created_at FROM events WHERE id = $1 AND livemode = $2",
    )
    .bind(id)
    .bind(i64::from(livemode))
    .fetch_optional(ex)
    .await?;
    Ok(r.map(|r| crate::events::EventRow {
        id: r.get(0),
        livemode: r.get::<i64, _>(1) != 0,
        event_type: r.get(2),
        object_id: r.get(3),
        data: serde_json::from_str(&r.get::<String, _>(4)).unwrap_or(serde_json::Value::Null),
        created_at: r.get(5),
    }))
}
