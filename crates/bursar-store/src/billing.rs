//! Subscriptions, invoices and their lines, invoice numbering, feedback.

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
    pub created_at: i64,
    pub updated_at: i64,
}

const SUB_COLS: &str = "id, livemode, customer_id, plan_id, price_id, currency, billing_interval, quantity, status, \
    anchor_at, current_period_start, current_period_end, trial_end, cancel_at_period_end, canceled_at, \
    pending_price_id, pending_plan_id, pause_resumes_at, created_at, updated_at";

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
        created_at: r.get(18),
        updated_at: r.get(19),
    }
}

/// Inserts or rewrites a subscription.
pub async fn save_subscription(tx: &mut Tx, s: &SubscriptionRow) -> Result<(), DbError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "INSERT INTO subscriptions ({SUB_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20) \
         ON CONFLICT (id) DO UPDATE SET plan_id = excluded.plan_id, price_id = excluded.price_id, \
         currency = excluded.currency, billing_interval = excluded.billing_interval, quantity = excluded.quantity, \
         status = excluded.status, anchor_at = excluded.anchor_at, current_period_start = excluded.current_period_start, \
         current_period_end = excluded.current_period_end, trial_end = excluded.trial_end, \
         cancel_at_period_end = excluded.cancel_at_period_end, canceled_at = excluded.canceled_at, \
         pending_price_id = excluded.pending_price_id, pending_plan_id = excluded.pending_plan_id, \
         pause_resumes_at = excluded.pause_resumes_at, \
         updated_at = excluded.updated_at"
    ));
    sqlx::query(sql)
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
        .bind(s.created_at)
        .bind(s.updated_at)
        .execute(&mut **tx)
        .await?;
    Ok(())
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
         WHERE s.status IN ('trialing', 'active', 'past_due', 'paused') \
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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceRow {
    pub id: String,
    pub livemode: bool,
    pub number: Option<String>,
    pub customer_id: String,
    pub subscription_id: Option<String>,
    pub status: String,
    pub billing_reason: String,
    pub currency: String,
    pub subtotal: i64,
    pub tax: i64,
    pub total: i64,
    pub credit_applied: i64,
    pub amount_due: i64,
    pub amount_paid: i64,
    pub period_start: Option<i64>,
    pub period_end: Option<i64>,
    pub customer_snapshot: String,
    pub created_at: i64,
    pub finalized_at: Option<i64>,
    pub paid_at: Option<i64>,
}

const INV_COLS: &str =
    "id, livemode, number, customer_id, subscription_id, status, billing_reason, currency, subtotal, \
    tax, total, credit_applied, amount_due, amount_paid, period_start, period_end, customer_snapshot, created_at, \
    finalized_at, paid_at";

fn inv(r: &AnyRow) -> InvoiceRow {
    InvoiceRow {
        id: r.get(0),
        livemode: r.get::<i64, _>(1) != 0,
        number: r.get(2),
        customer_id: r.get(3),
        subscription_id: r.get(4),
        status: r.get(5),
        billing_reason: r.get(6),
        currency: r.get(7),
        subtotal: r.get(8),
        tax: r.get(9),
        total: r.get(10),
        credit_applied: r.get(11),
        amount_due: r.get(12),
        amount_paid: r.get(13),
        period_start: r.get(14),
        period_end: r.get(15),
        customer_snapshot: r.get(16),
        created_at: r.get(17),
        finalized_at: r.get(18),
        paid_at: r.get(19),
    }
}

pub async fn insert_invoice(tx: &mut Tx, i: &InvoiceRow) -> Result<(), DbError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "INSERT INTO invoices ({INV_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20)"
    ));
    sqlx::query(sql)
        .bind(i.id.clone())
        .bind(i64::from(i.livemode))
        .bind(i.number.clone())
        .bind(i.customer_id.clone())
        .bind(i.subscription_id.clone())
        .bind(i.status.clone())
        .bind(i.billing_reason.clone())
        .bind(i.currency.clone())
        .bind(i.subtotal)
        .bind(i.tax)
        .bind(i.total)
        .bind(i.credit_applied)
        .bind(i.amount_due)
        .bind(i.amount_paid)
        .bind(i.period_start)
        .bind(i.period_end)
        .bind(i.customer_snapshot.clone())
        .bind(i.created_at)
        .bind(i.finalized_at)
        .bind(i.paid_at)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn invoice<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    livemode: bool,
    id: &str,
) -> Result<Option<InvoiceRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {INV_COLS} FROM invoices WHERE id = $1 AND livemode = $2"));
    Ok(sqlx::query(sql).bind(id).bind(i64::from(livemode)).fetch_optional(ex).await?.as_ref().map(inv))
}

pub async fn list_invoices<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    livemode: bool,
    customer_id: Option<&str>,
    subscription_id: Option<&str>,
    starting_after: Option<&str>,
    limit: i64,
) -> Result<Vec<InvoiceRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {INV_COLS} FROM invoices WHERE livemode = $1 AND ($2 = '' OR customer_id = $2) \
         AND ($3 = '' OR subscription_id = $3) AND ($4 = '' OR id < $4) ORDER BY id DESC LIMIT $5"
    ));
    Ok(sqlx::query(sql)
        .bind(i64::from(livemode))
        .bind(customer_id.unwrap_or("").to_string())
        .bind(subscription_id.unwrap_or("").to_string())
        .bind(starting_after.unwrap_or("").to_string())
        .bind(limit)
        .fetch_all(ex)
        .await?
        .iter()
        .map(inv)
        .collect())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineRow {
    pub id: String,
    pub invoice_id: String,
    pub position: i64,
    pub kind: String,
    pub description: String,
    pub quantity: i64,
    pub unit_amount: i64,
    pub amount: i64,
    pub price_id: Option<String>,
    pub period_start: Option<i64>,
    pub period_end: Option<i64>,
}

pub async fn insert_lines(tx: &mut Tx, lines: &[LineRow]) -> Result<(), DbError> {
    for l in lines {
        sqlx::query(
            "INSERT INTO invoice_lines (id, invoice_id, position, kind, description, quantity, unit_amount, amount, \
             price_id, period_start, period_end) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)",
        )
        .bind(l.id.clone())
        .bind(l.invoice_id.clone())
        .bind(l.position)
        .bind(l.kind.clone())
        .bind(l.description.clone())
        .bind(l.quantity)
        .bind(l.unit_amount)
        .bind(l.amount)
        .bind(l.price_id.clone())
        .bind(l.period_start)
        .bind(l.period_end)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

pub async fn lines_of<'e, E: Executor<'e, Database = Any>>(ex: E, invoice_id: &str) -> Result<Vec<LineRow>, DbError> {
    let rows = sqlx::query(
        "SELECT id, invoice_id, position, kind, description, quantity, unit_amount, amount, price_id, period_start, \
         period_end FROM invoice_lines WHERE invoice_id = $1 ORDER BY position",
    )
    .bind(invoice_id)
    .fetch_all(ex)
    .await?;
    Ok(rows
        .iter()
        .map(|r| LineRow {
            id: r.get(0),
            invoice_id: r.get(1),
            position: r.get(2),
            kind: r.get(3),
            description: r.get(4),
            quantity: r.get(5),
            unit_amount: r.get(6),
            amount: r.get(7),
            price_id: r.get(8),
            period_start: r.get(9),
            period_end: r.get(10),
        })
        .collect())
}

/// The next number of a series, gapless: taken inside the transaction that
/// finalizes the invoice, so a rolled-back finalization gives it back.
pub async fn next_invoice_number(tx: &mut Tx, livemode: bool, series: &str) -> Result<i64, DbError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO invoice_series (livemode, series, next_number) VALUES ($1, $2, 1) \
         ON CONFLICT (livemode, series) DO UPDATE SET next_number = invoice_series.next_number + 1 \
         RETURNING next_number",
    )
    .bind(i64::from(livemode))
    .bind(series)
    .fetch_one(&mut **tx)
    .await?)
}

#[allow(clippy::too_many_arguments)]
pub async fn insert_feedback(
    tx: &mut Tx,
    id: &str,
    livemode: bool,
    subscription_id: &str,
    reason: &str,
    comments: Option<&str>,
    would_return: Option<bool>,
    offer: Option<&str>,
    outcome: &str,
    now: i64,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO cancellation_feedback (id, livemode, subscription_id, reason, comments, would_return, offer, \
         outcome, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)",
    )
    .bind(id)
    .bind(i64::from(livemode))
    .bind(subscription_id)
    .bind(reason)
    .bind(comments.map(str::to_string))
    .bind(would_return.map(i64::from))
    .bind(offer.map(str::to_string))
    .bind(outcome)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
