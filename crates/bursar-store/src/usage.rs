//! Usage metering: metrics, usage events and per-period counters.

use crate::db::{DbError, Tx};
use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricRow {
    pub id: String,
    pub livemode: bool,
    pub code: String,
    pub name: String,
    /// `count`, `sum`, `max`, `unique_count`, `latest`.
    pub aggregation: String,
    pub property: Option<String>,
    /// `billing_period` or `calendar_month`.
    pub window: String,
    pub limit_key: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

const METRIC_COLS: &str =
    "id, livemode, code, name, aggregation, property, time_window, limit_key, created_at, updated_at";

fn metric_row(r: &AnyRow) -> MetricRow {
    MetricRow {
        id: r.get(0),
        livemode: r.get::<i64, _>(1) != 0,
        code: r.get(2),
        name: r.get(3),
        aggregation: r.get(4),
        property: r.get(5),
        window: r.get(6),
        limit_key: r.get(7),
        created_at: r.get(8),
        updated_at: r.get(9),
    }
}

/// Creates a metric, or updates the one with the same code.
pub async fn upsert_metric(tx: &mut Tx, m: &MetricRow) -> Result<(), DbError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "INSERT INTO metrics ({METRIC_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) \
         ON CONFLICT (livemode, code) DO UPDATE SET name = excluded.name, aggregation = excluded.aggregation, \
         property = excluded.property, time_window = excluded.time_window, limit_key = excluded.limit_key, \
         updated_at = excluded.updated_at"
    ));
    sqlx::query(sql)
        .bind(m.id.clone())
        .bind(i64::from(m.livemode))
        .bind(m.code.clone())
        .bind(m.name.clone())
        .bind(m.aggregation.clone())
        .bind(m.property.clone())
        .bind(m.window.clone())
        .bind(m.limit_key.clone())
        .bind(m.created_at)
        .bind(m.updated_at)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn metrics<'e, E: Executor<'e, Database = Any>>(ex: E, livemode: bool) -> Result<Vec<MetricRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {METRIC_COLS} FROM metrics WHERE livemode = $1 ORDER BY code"));
    Ok(sqlx::query(sql).bind(i64::from(livemode)).fetch_all(ex).await?.iter().map(metric_row).collect())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageEventRow {
    pub id: String,
    pub livemode: bool,
    /// The platform's id for the event: the idempotency key.
    pub event_id: String,
    pub customer_id: String,
    pub metric: String,
    pub quantity: i64,
    /// The value a `unique_count` metric counts.
    pub unique_value: Option<String>,
    /// JSON object.
    pub properties: String,
    pub occurred_at: i64,
    /// The start of the period (billing period or calendar month) the
    /// event belongs to.
    pub period_start: i64,
    pub received_at: i64,
}

/// Inserts events, skipping any whose `event_id` was seen before. Returns
/// the `event_id`s actually inserted.
pub async fn insert_events(tx: &mut Tx, rows: &[UsageEventRow]) -> Result<Vec<String>, DbError> {
    let backend = crate::db::tx_backend(tx);
    let mut inserted = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(500) {
        let sql = sqlx::AssertSqlSafe(format!(
            "INSERT INTO usage_events (id, livemode, event_id, customer_id, metric, quantity, unique_value, \
             properties, occurred_at, period_start, received_at) VALUES {} \
             ON CONFLICT (livemode, event_id) DO NOTHING RETURNING event_id",
            crate::db::placeholders(backend, chunk.len(), 11)
        ));
        let mut q = sqlx::query_scalar::<_, String>(sql);
        for e in chunk {
            q = q
                .bind(e.id.clone())
                .bind(i64::from(e.livemode))
                .bind(e.event_id.clone())
                .bind(e.customer_id.clone())
                .bind(e.metric.clone())
                .bind(e.quantity)
                .bind(e.unique_value.clone())
                .bind(e.properties.clone())
                .bind(e.occurred_at)
                .bind(e.period_start)
                .bind(e.received_at);
        }
        inserted.extend(q.fetch_all(&mut **tx).await?);
    }
    Ok(inserted)
}

/// A customer's usage events, newest first.
pub async fn events_of<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    livemode: bool,
    customer_id: &str,
    metric: Option<&str>,
    starting_after: Option<&str>,
    limit: i64,
) -> Result<Vec<UsageEventRow>, DbError> {
    let rows = sqlx::query(
        "SELECT id, livemode, event_id, customer_id, metric, quantity, unique_value, properties, occurred_at, \
         period_start, received_at FROM usage_events WHERE livemode = $1 AND customer_id = $2 \
         AND ($3 = '' OR metric = $3) AND ($4 = '' OR id < $4) ORDER BY id DESC LIMIT $5",
    )
    .bind(i64::from(livemode))
    .bind(customer_id)
    .bind(metric.unwrap_or("").to_string())
    .bind(starting_after.unwrap_or("").to_string())
    .bind(limit)
    .fetch_all(ex)
    .await?;
    Ok(rows
        .iter()
        .map(|r| UsageEventRow {
            id: r.get(0),
            livemode: r.get::<i64, _>(1) != 0,
            event_id: r.get(2),
            customer_id: r.get(3),
            metric: r.get(4),
            quantity: r.get(5),
            unique_value: r.get(6),
            properties: r.get(7),
            occurred_at: r.get(8),
            period_start: r.get(9),
            received_at: r.get(10),
        })
        .collect())
}

/// One counter key and the amount to add to it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct CounterDelta {
    pub livemode: bool,
    pub customer_id: String,
    pub metric: String,
    pub period_start: i64,
    pub delta: i64,
}

/// Adds to many counters with multi-row upserts. Returns each counter's
/// new value as (customer, metric, period start, used).
pub async fn add_to_counters(tx: &mut Tx, deltas: &[CounterDelta]) -> Result<Vec<(String, String, i64, i64)>, DbError> {
    let backend = crate::db::tx_backend(tx);
    let mut totals = Vec::with_capacity(deltas.len());
    for chunk in deltas.chunks(500) {
        let sql = sqlx::AssertSqlSafe(format!(
            "INSERT INTO usage_counters (livemode, customer_id, metric, period_start, used) VALUES {} \
             ON CONFLICT (livemode, customer_id, metric, period_start) DO UPDATE SET used = usage_counters.used + excluded.used \
             RETURNING customer_id, metric, period_start, used",
            crate::db::placeholders(backend, chunk.len(), 5)
        ));
        let mut q = sqlx::query_as::<_, (String, String, i64, i64)>(sql);
        for d in chunk {
            q = q
                .bind(i64::from(d.livemode))
                .bind(d.customer_id.clone())
                .bind(d.metric.clone())
                .bind(d.period_start)
                .bind(d.delta);
        }
        totals.extend(q.fetch_all(&mut **tx).await?);
    }
    Ok(totals)
}

/// Adds `quantity` to a counter only if the result stays within `limit`
/// (`None`: no limit). One conditional UPDATE: concurrent consumers can
/// never take the counter past the limit. Returns the counter's new value
/// when it was taken, `None` when the limit refused it.
pub async fn consume(
    tx: &mut Tx,
    livemode: bool,
    customer_id: &str,
    metric: &str,
    period_start: i64,
    quantity: i64,
    limit: Option<i64>,
) -> Result<Option<i64>, DbError> {
    sqlx::query(
        "INSERT INTO usage_counters (livemode, customer_id, metric, period_start, used) VALUES ($1, $2, $3, $4, 0) \
         ON CONFLICT (livemode, customer_id, metric, period_start) DO NOTHING",
    )
    .bind(i64::from(livemode))
    .bind(customer_id)
    .bind(metric)
    .bind(period_start)
    .execute(&mut **tx)
    .await?;
    let q = match limit {
        Some(l) => sqlx::query(
            "UPDATE usage_counters SET used = used + $5 WHERE livemode = $1 AND customer_id = $2 AND metric = $3 \
             AND period_start = $4 AND used + $5 <= $6 RETURNING used",
        )
        .bind(i64::from(livemode))
        .bind(customer_id)
        .bind(metric)
        .bind(period_start)
        .bind(quantity)
        .bind(l),
        None => sqlx::query(
            "UPDATE usage_counters SET used = used + $5 WHERE livemode = $1 AND customer_id = $2 AND metric = $3 \
             AND period_start = $4 RETURNING used",
        )
        .bind(i64::from(livemode))
        .bind(customer_id)
        .bind(metric)
        .bind(period_start)
        .bind(quantity),
    };
    Ok(q.fetch_optional(&mut **tx).await?.map(|r| r.get::<i64, _>(0)))
}

/// A counter's value (0 when nothing was counted).
pub async fn counter<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    livemode: bool,
    customer_id: &str,
    metric: &str,
    period_start: i64,
) -> Result<i64, DbError> {
    let v: Option<i64> = sqlx::query_scalar(
        "SELECT used FROM usage_counters WHERE livemode = $1 AND customer_id = $2 AND metric = $3 AND period_start = $4",
    )
    .bind(i64::from(livemode))
    .bind(customer_id)
    .bind(metric)
    .bind(period_start)
    .fetch_optional(ex)
    .await?;
    Ok(v.unwrap_or(0))
}

/// The value of a non-additive aggregation over a period's events:
/// `max` (largest quantity), `unique_count` (distinct values), `latest`
/// (the quantity of the newest event).
pub async fn aggregate<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    livemode: bool,
    customer_id: &str,
    metric: &str,
    period_start: i64,
    aggregation: &str,
) -> Result<i64, DbError> {
    let sql = match aggregation {
        "max" => {
            "SELECT CAST(COALESCE(MAX(quantity), 0) AS BIGINT) FROM usage_events WHERE livemode = $1 \
                  AND customer_id = $2 AND metric = $3 AND period_start = $4"
        }
        "unique_count" => {
            "SELECT CAST(COUNT(DISTINCT unique_value) AS BIGINT) FROM usage_events WHERE livemode = $1 \
                           AND customer_id = $2 AND metric = $3 AND period_start = $4"
        }
        "latest" => {
            "SELECT CAST(COALESCE((SELECT quantity FROM usage_events WHERE livemode = $1 AND customer_id = $2 \
                     AND metric = $3 AND period_start = $4 ORDER BY occurred_at DESC, id DESC LIMIT 1), 0) AS BIGINT)"
        }
        _ => return Err(DbError::Other(format!("`{aggregation}` is not computed from events"))),
    };
    Ok(sqlx::query_scalar(sql)
        .bind(i64::from(livemode))
        .bind(customer_id)
        .bind(metric)
        .bind(period_start)
        .fetch_one(ex)
        .await?)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRow {
    pub id: String,
    pub livemode: bool,
    pub customer_id: String,
    pub metric: String,
    pub amount: i64,
    pub remaining: i64,
    pub expires_at: Option<i64>,
    /// `api` or `checkout`.
    pub source: String,
    pub source_id: Option<String>,
    pub created_at: i64,
}

const GRANT_COLS: &str =
    "id, livemode, customer_id, metric, amount, remaining, expires_at, source, source_id, created_at";

fn grant_row(r: &AnyRow) -> GrantRow {
    GrantRow {
        id: r.get(0),
        livemode: r.get::<i64, _>(1) != 0,
        customer_id: r.get(2),
        metric: r.get(3),
        amount: r.get(4),
        remaining: r.get(5),
        expires_at: r.get(6),
        source: r.get(7),
        source_id: r.get(8),
        created_at: r.get(9),
    }
}

pub async fn insert_grant(tx: &mut Tx, g: &GrantRow) -> Result<(), DbError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "INSERT INTO credit_grants ({GRANT_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)"
    ));
    sqlx::query(sql)
        .bind(g.id.clone())
        .bind(i64::from(g.livemode))
        .bind(g.customer_id.clone())
        .bind(g.metric.clone())
        .bind(g.amount)
        .bind(g.remaining)
        .bind(g.expires_at)
        .bind(g.source.clone())
        .bind(g.source_id.clone())
        .bind(g.created_at)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// A customer's grants of a metric, newest first (the balance history).
pub async fn grants<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    livemode: bool,
    customer_id: &str,
    metric: Option<&str>,
) -> Result<Vec<GrantRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {GRANT_COLS} FROM credit_grants WHERE livemode = $1 AND customer_id = $2 AND ($3 = '' OR metric = $3) \
         ORDER BY id DESC"
    ));
    Ok(sqlx::query(sql)
        .bind(i64::from(livemode))
        .bind(customer_id)
        .bind(metric.unwrap_or("").to_string())
        .fetch_all(ex)
        .await?
        .iter()
        .map(grant_row)
        .collect())
}

/// What is left of a customer's unexpired grants of a metric at `now`.
pub async fn grant_balance<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    livemode: bool,
    customer_id: &str,
    metric: &str,
    now: i64,
) -> Result<i64, DbError> {
    Ok(sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(remaining), 0) AS BIGINT) FROM credit_grants WHERE livemode = $1 AND customer_id = $2 \
         AND metric = $3 AND (expires_at IS NULL OR expires_at > $4)",
    )
    .bind(i64::from(livemode))
    .bind(customer_id)
    .bind(metric)
    .bind(now)
    .fetch_one(ex)
    .await?)
}

/// Takes `quantity` from a customer's unexpired grants, the one expiring
/// first first, in the caller's transaction (rows locked with
/// `for_update`). Returns whether the grants held enough; when they did
/// not, nothing was taken only if the caller rolls the transaction back,
/// so callers drop it.
pub async fn take_from_grants(
    tx: &mut Tx,
    for_update: &str,
    livemode: bool,
    customer_id: &str,
    metric: &str,
    quantity: i64,
    now: i64,
) -> Result<bool, DbError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT id, remaining FROM credit_grants WHERE livemode = $1 AND customer_id = $2 AND metric = $3 \
         AND remaining > 0 AND (expires_at IS NULL OR expires_at > $4) \
         ORDER BY CASE WHEN expires_at IS NULL THEN 1 ELSE 0 END, expires_at, id {for_update}"
    ));
    let rows: Vec<(String, i64)> = sqlx::query_as(sql)
        .bind(i64::from(livemode))
        .bind(customer_id)
        .bind(metric)
        .bind(now)
        .fetch_all(&mut **tx)
        .await?;
    let mut need = quantity;
    for (id, remaining) in rows {
        if need == 0 {
            break;
        }
        let take = need.min(remaining);
        let n = sqlx::query("UPDATE credit_grants SET remaining = remaining - $2 WHERE id = $1 AND remaining >= $2")
            .bind(&id)
            .bind(take)
            .execute(&mut **tx)
            .await?
            .rows_affected();
        if n == 1 {
            need -= take;
        }
    }
    Ok(need == 0)
}
