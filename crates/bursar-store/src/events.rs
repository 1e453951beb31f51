//! The outbox (`events`) and the staff audit log. Both are written in the
//! transaction of the change they describe.

use crate::db::{DbError, Tx};
use bursar_domain::id::{new_id, IdKind};
use sqlx::{Any, Executor, Row};

pub async fn emit(
    tx: &mut Tx,
    livemode: bool,
    event_type: &str,
    object_id: &str,
    data: &serde_json::Value,
    now: i64,
) -> Result<(), DbError> {
    emit_many(tx, &[(livemode, event_type.to_string(), object_id.to_string(), data.clone(), now)]).await
}

/// Writes many events with multi-row statements: (livemode, type, object
/// id, data, created_at).
pub async fn emit_many(tx: &mut Tx, events: &[(bool, String, String, serde_json::Value, i64)]) -> Result<(), DbError> {
    let backend = crate::db::tx_backend(tx);
    for chunk in events.chunks(500) {
        let sql = sqlx::AssertSqlSafe(format!(
            "INSERT INTO events (id, livemode, type, object_id, data, created_at) VALUES {}",
            crate::db::placeholders(backend, chunk.len(), 6)
        ));
        let mut q = sqlx::query(sql);
        for (live, kind, object, data, at) in chunk {
            q = q
                .bind(new_id(IdKind::Event))
                .bind(i64::from(*live))
                .bind(kind.clone())
                .bind(object.clone())
                .bind(data.to_string())
                .bind(*at);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct EventRow {
    pub id: String,
    pub livemode: bool,
    #[serde(rename = "type")]
    pub event_type: String,
    pub object_id: Option<String>,
    pub data: serde_json::Value,
    pub created_at: i64,
}

pub async fn list<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    livemode: bool,
    event_type: Option<&str>,
    starting_after: Option<&str>,
    limit: i64,
) -> Result<Vec<EventRow>, DbError> {
    let rows = sqlx::query(
        "SELECT id, livemode, type, object_id, data, created_at FROM events WHERE livemode = $1 \
         AND ($2 = '' OR type = $2) AND ($3 = '' OR id < $3) ORDER BY id DESC LIMIT $4",
    )
    .bind(i64::from(livemode))
    .bind(event_type.unwrap_or("").to_string())
    .bind(starting_after.unwrap_or("").to_string())
    .bind(limit)
    .fetch_all(ex)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| EventRow {
            id: r.get(0),
            livemode: r.get::<i64, _>(1) != 0,
            event_type: r.get(2),
            object_id: r.get(3),
            data: serde_json::from_str(&r.get::<String, _>(4)).unwrap_or(serde_json::Value::Null),
            created_at: r.get(5),
        })
        .collect())
}

pub async fn audit(
    tx: &mut Tx,
    actor_type: &str,
    actor_id: &str,
    action: &str,
    object_id: Option<&str>,
    details: &serde_json::Value,
    now: i64,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO audit_log (id, actor_type, actor_id, action, object_id, details, created_at) \
         VALUES ($1,$2,$3,$4,$5,$6,$7)",
    )
    .bind(new_id(IdKind::AuditRecord))
    .bind(actor_type)
    .bind(actor_id)
    .bind(action)
    .bind(object_id.map(str::to_string))
    .bind(details.to_string())
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// One audited action.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AuditRow {
    pub id: String,
    pub actor_type: String,
    pub actor_id: String,
    pub action: String,
    pub object_id: Option<String>,
    pub details: String,
    pub created_at: i64,
}

/// The audit log, newest first, before the cursor.
pub async fn audit_page<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    before: Option<&str>,
    limit: i64,
) -> Result<Vec<AuditRow>, DbError> {
    Ok(sqlx::query_as(
        "SELECT id, actor_type, actor_id, action, object_id, details, created_at FROM audit_log \
         WHERE ($1 = '' OR id < $1) ORDER BY id DESC LIMIT $2",
    )
    .bind(before.unwrap_or(""))
    .bind(limit)
    .fetch_all(ex)
    .await?)
}
