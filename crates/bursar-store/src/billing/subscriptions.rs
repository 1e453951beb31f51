//! Subscription rows.

use crate::db::{DbError, Tx};
use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionRow {
    pub id: String,
    pub livemode: bool,
    pub customer_id: String,
    pub plan_id: String,
    pub price_id: String,
    pub currency: String,
    pub interval: String,
    pub quantity: i64,
    pub status: String,
    pub anchor_at: i64,
    pub current_period_start: i64,
    pub current_period_end: i64,
    pub trial_end: Option<i64>,
    pub cancel_at_period_end: bool,
    pub canceled_at: Option<i64>,
    pub pending_price_id: Option<String>,
    pub pending_plan_id: Option<String>,
    pub pause_resumes_at: Option<i64>,
    pub coupon_id: Option<String>,
    /// Regular invoices the coupon still covers; `None` with a coupon is for ever.
    pub discount_invoices_left: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

const SUB_COLS: &str = "id, livemode, customer_id, plan_id, price_id, currency, billing_interval, quantity, status, \
    anchor_at, current_period_start, current_period_end, trial_end, cancel_at_period_end, canceled_at, \
    pending_price_id, pending_plan_id, pause_resumes_at, coupon_id, discount_invoices_left, created_at, updated_at";

fn sub(r: &AnyRow) -> SubscriptionRow {
    SubscriptionRow {
        id: r.get(0),
        livemode: r.get::<i64, _>(1) != 0,
        customer_id: r.get(2),
        plan_id: r.get(3),
        price_id: r.get(4),
        currency: r.get(5),
        interval: r.get(6),
        quantity: r.get(7),
        status: r.get(8),
        anchor_at: r.get(9),
        current_period_start: r.get(10),
        current_period_end: r.get(11),
        trial_end: r.get(12),
        cancel_at_period_end: r.get::<i64, _>(13) != 0,
        canceled_at: r.get(14),
        pending_price_id: r.get(15),
        pending_plan_id: r.get(16),
        pause_resumes_at: r.get(17),
        coupon_id: r.get(18),
        discount_invoices_left: r.get(19),
        created_at: r.get(20),
        updated_at: r.get(21),
    }
}

/// Inserts or rewrites many subscriptions with multi-row statements.
pub async fn save_subscriptions(tx: &mut Tx, rows: &[SubscriptionRow]) -> Result<(), DbError> {
    let backend = crate::db::tx_backend(tx);
    for chunk in rows.chunks(400) {
        let sql = sqlx::AssertSqlSafe(format!(
            "INSERT INTO subscriptions ({SUB_COLS}) VALUES {} {SUB_UPSERT}",
            crate::db::placeholders(backend, chunk.len(), 22)
        ));
        let mut q = sqlx::query(sql);
        for s in chunk {
            q = q
                .bind(s.id.clone())
                .bind(i64::from(s.livemode))
                .bind(s.customer_id.clone())
                .bind(s.plan_id.clone())
                .bind(s.price_id.clone())
                .bind(s.currency.clone())
                .bind(s.interval.clone())
                .bind(s.quantity)
                .bind(s.status.clone())
                .bind(s.anchor_at)
                .bind(s.current_period_start)
                .bind(s.current_period_end)
                .bind(s.trial_end)
                .bind(i64::from(s.cancel_at_period_end))
                .bind(s.canceled_at)
                .bind(s.pending_price_id.clone())
                .bind(s.pending_plan_id.clone())
                .bind(s.pause_resumes_at)
                .bind(s.coupon_id.clone())
                .bind(s.discount_invoices_left)
                .bind(s.created_at)
                .bind(s.updated_at);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

const SUB_UPSERT: &str = "ON CONFLICT (id) DO UPDATE SET plan_id = excluded.plan_id, price_id = excluded.price_id, \
    currency = excluded.currency, billing_interval = excluded.billing_interval, quantity = excluded.quantity, \
    status = excluded.status, anchor_at = excluded.anchor_at, current_period_start = excluded.current_period_start, \
    current_period_end = excluded.current_period_end, trial_end = excluded.trial_end, \
    cancel_at_period_end = excluded.cancel_at_period_end, canceled_at = excluded.canceled_at, \
    pending_price_id = excluded.pending_price_id, pending_plan_id = excluded.pending_plan_id, \
        pause_resumes_at = excluded.pause_resumes_at, coupon_id = excluded.coupon_id, \
    discount_invoices_left = excluded.discount_invoices_left, updated_at = excluded.updated_at";

/// Inserts or rewrites a subscription.
pub async fn save_subscription(tx: &mut Tx, s: &SubscriptionRow) -> Result<(), DbError> {
    save_subscriptions(tx, std::slice::from_ref(s)).await
}

/// One subscription; inside a transaction on PostgreSQL pass
/// `for_update = Db::for_update()` to lock it.
pub async fn subscription(
    ex: &mut sqlx::AnyConnection,
    livemode: bool,
    id: &str,
    for_update: &str,
) -> Result<Option<SubscriptionRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {SUB_COLS} FROM subscriptions WHERE id = $1 AND livemode = $2{for_update}"
    ));
    Ok(sqlx::query(sql).bind(id).bind(i64::from(livemode)).fetch_optional(ex).await?.as_ref().map(sub))
}

/// Several subscriptions at once, locked on PostgreSQL with `for_update`
/// (rows locked by another node are skipped with `SKIP LOCKED`).
pub async fn subscriptions_by_ids(
    ex: &mut sqlx::AnyConnection,
    ids: &[String],
    for_update: &str,
) -> Result<Vec<SubscriptionRow>, DbError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {SUB_COLS} FROM subscriptions WHERE id IN ({}){for_update}",
        list.join(",")
    ));
    let mut q = sqlx::query(sql);
    for id in ids {
        q = q.bind(id.clone());
    }
    Ok(q.fetch_all(ex).await?.iter().map(sub).collect())
}

pub async fn subscriptions_of<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    livemode: bool,
    customer_id: &str,
) -> Result<Vec<SubscriptionRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {SUB_COLS} FROM subscriptions WHERE livemode = $1 AND customer_id = $2 ORDER BY id DESC"
    ));
    Ok(sqlx::query(sql).bind(i64::from(livemode)).bind(customer_id).fetch_all(ex).await?.iter().map(sub).collect())
}

/// The subscriptions of many customers, in statements of up to 500 ids.
pub async fn subscriptions_of_many(
    db: &crate::Db,
    livemode: bool,
    customer_ids: &[String],
) -> Result<Vec<SubscriptionRow>, DbError> {
    let mut out = Vec::new();
    for chunk in customer_ids.chunks(500) {
        let list: Vec<String> = (2..chunk.len() + 2).map(|i| format!("${i}")).collect();
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {SUB_COLS} FROM subscriptions WHERE livemode = $1 AND customer_id IN ({}) ORDER BY id DESC",
            list.join(",")
        ));
        let mut q = sqlx::query(sql).bind(i64::from(livemode));
        for id in chunk {
            q = q.bind(id.clone());
        }
        out.extend(q.fetch_all(db.reader()).await?.iter().map(sub));
    }
    Ok(out)
}

pub async fn list_subscriptions<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    livemode: bool,
    customer_id: Option<&str>,
    status: Option<&str>,
    starting_after: Option<&str>,
    limit: i64,
) -> Result<Vec<SubscriptionRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {SUB_COLS} FROM subscriptions WHERE livemode = $1 AND ($2 = '' OR customer_id = $2) \
         AND ($3 = '' OR status = $3) AND ($4 = '' OR id < $4) ORDER BY id DESC LIMIT $5"
    ));
    Ok(sqlx::query(sql)
        .bind(i64::from(livemode))
        .bind(customer_id.unwrap_or("").to_string())
        .bind(status.unwrap_or("").to_string())
        .bind(starting_after.unwrap_or("").to_string())
        .bind(limit)
        .fetch_all(ex)
        .await?
        .iter()
        .map(sub)
        .collect())
}

/// Subscriptions whose period has ended by their customer's clock (a test
/// clock's frozen time, else `now`). Optionally only those of one test
/// clock.
pub async fn due_subscription_ids<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    now: i64,
    test_clock: Option<&str>,
    limit: i64,
) -> Result<Vec<(String, bool)>, DbError> {
    let rows = sqlx::query(
        "SELECT s.id, s.livemode FROM subscriptions s JOIN customers c ON c.id = s.customer_id \
         LEFT JOIN test_clocks t ON t.id = c.test_clock_id \
         WHERE s.status IN ('trialing', 'active', 'paused') \
         AND (CASE WHEN s.status = 'paused' THEN s.pause_resumes_at ELSE s.current_period_end END) \
             <= COALESCE(t.frozen_time, $1) \
         AND ($2 = '' OR c.test_clock_id = $2) ORDER BY s.id LIMIT $3",
    )
    .bind(now)
    .bind(test_clock.unwrap_or("").to_string())
    .bind(limit)
    .fetch_all(ex)
    .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get::<i64, _>(1) != 0)).collect())
}

/// Trials whose end is within `notice_ms` of their customer's clock (a test
/// clock's frozen time, else `now`), at most 500: (subscription, livemode,
/// customer, trial end).
pub async fn trials_ending(tx: &mut Tx, now: i64, notice_ms: i64) -> Result<Vec<(String, bool, String, i64)>, DbError> {
    let rows = sqlx::query(
        "SELECT s.id, s.livemode, s.customer_id, s.trial_end FROM subscriptions s JOIN customers c ON c.id = s.customer_id \
         LEFT JOIN test_clocks t ON t.id = c.test_clock_id WHERE s.status = 'trialing' \
         AND s.trial_end - $2 <= COALESCE(t.frozen_time, $1) LIMIT 500",
    )
    .bind(now)
    .bind(notice_ms)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get::<i64, _>(1) != 0, r.get(2), r.get(3))).collect())
}
