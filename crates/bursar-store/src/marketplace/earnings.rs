//! Instructor earnings and the payouts that settle them.

use crate::db::{DbError, Tx};
use sqlx::{Any, Executor, FromRow};

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct EarningRow {
    pub id: String,
    pub instructor_id: String,
    pub order_item_id: String,
    pub currency: String,
    pub amount: i64,
    pub kind: String,
    pub available_at: i64,
    pub payout_id: Option<String>,
    pub created_at: i64,
}

const EARNING_COLS: &str =
    "id, instructor_id, order_item_id, currency, amount, kind, available_at, payout_id, created_at";

pub async fn insert_earning(tx: &mut Tx, livemode: bool, e: &EarningRow) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO earnings (id, livemode, instructor_id, order_item_id, currency, amount, kind, available_at, \
         payout_id, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)",
    )
    .bind(e.id.clone())
    .bind(i64::from(livemode))
    .bind(e.instructor_id.clone())
    .bind(e.order_item_id.clone())
    .bind(e.currency.clone())
    .bind(e.amount)
    .bind(e.kind.clone())
    .bind(e.available_at)
    .bind(e.payout_id.clone())
    .bind(e.created_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn earnings_of<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    livemode: bool,
    instructor_id: &str,
) -> Result<Vec<EarningRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {EARNING_COLS} FROM earnings WHERE livemode = $1 AND instructor_id = $2 ORDER BY created_at, id"
    ));
    Ok(sqlx::query_as(sql).bind(i64::from(livemode)).bind(instructor_id).fetch_all(ex).await?)
}

/// Unpaid earnings due by `at`, per (instructor, currency): their sum.
pub async fn due_earnings(tx: &mut Tx, livemode: bool, at: i64) -> Result<Vec<(String, String, i64)>, DbError> {
    Ok(sqlx::query_as(
        "SELECT instructor_id, currency, CAST(SUM(amount) AS BIGINT) FROM earnings WHERE livemode = $1 AND payout_id IS NULL \
         AND available_at <= $2 GROUP BY instructor_id, currency ORDER BY instructor_id, currency",
    )
    .bind(i64::from(livemode))
    .bind(at)
    .fetch_all(&mut **tx)
    .await?)
}

/// Marks an instructor's due earnings as paid by a payout; returns the sum
/// marked, which is what the payout must be.
pub async fn take_earnings(
    tx: &mut Tx,
    instructor_id: &str,
    currency: &str,
    at: i64,
    payout_id: &str,
) -> Result<i64, DbError> {
    sqlx::query(
        "UPDATE earnings SET payout_id = $4 WHERE instructor_id = $1 AND currency = $2 AND payout_id IS NULL \
         AND available_at <= $3",
    )
    .bind(instructor_id)
    .bind(currency)
    .bind(at)
    .bind(payout_id)
    .execute(&mut **tx)
    .await?;
    let sum: Option<i64> = sqlx::query_scalar("SELECT CAST(SUM(amount) AS BIGINT) FROM earnings WHERE payout_id = $1")
        .bind(payout_id)
        .fetch_one(&mut **tx)
        .await?;
    Ok(sum.unwrap_or(0))
}

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct PayoutRow {
    pub id: String,
    pub payee_kind: String,
    pub payee_id: String,
    pub currency: String,
    pub amount: i64,
    pub method: String,
    pub status: String,
    pub reference: Option<String>,
    pub period: String,
    pub created_at: i64,
    pub paid_at: Option<i64>,
}

const PAYOUT_COLS: &str =
    "id, payee_kind, payee_id, currency, amount, method, status, reference, period, created_at, paid_at";

/// Inserts a payout unless the payee already has one for that period and
/// currency that did not fail (a second run of the same month); returns
/// whether it did.
pub async fn insert_payout(tx: &mut Tx, livemode: bool, p: &PayoutRow) -> Result<bool, DbError> {
    let r = sqlx::query(
        "INSERT INTO payouts (id, livemode, payee_kind, payee_id, currency, amount, method, status, reference, \
         period, created_at, paid_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12) \
         ON CONFLICT (livemode, payee_kind, payee_id, currency, period) WHERE status <> 'failed' DO NOTHING",
    )
    .bind(p.id.clone())
    .bind(i64::from(livemode))
    .bind(p.payee_kind.clone())
    .bind(p.payee_id.clone())
    .bind(p.currency.clone())
    .bind(p.amount)
    .bind(p.method.clone())
    .bind(p.status.clone())
    .bind(p.reference.clone())
    .bind(p.period.clone())
    .bind(p.created_at)
    .bind(p.paid_at)
    .execute(&mut **tx)
    .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn set_payout_amount(tx: &mut Tx, id: &str, amount: i64) -> Result<(), DbError> {
    sqlx::query("UPDATE payouts SET amount = $2 WHERE id = $1").bind(id).bind(amount).execute(&mut **tx).await?;
    Ok(())
}

pub async fn payouts<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    livemode: bool,
    payee: Option<&str>,
    period: Option<&str>,
) -> Result<Vec<PayoutRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {PAYOUT_COLS} FROM payouts WHERE livemode = $1 AND ($2 = '' OR payee_id = $2) \
         AND ($3 = '' OR period = $3) ORDER BY id"
    ));
    Ok(sqlx::query_as(sql)
        .bind(i64::from(livemode))
        .bind(payee.unwrap_or(""))
        .bind(period.unwrap_or(""))
        .fetch_all(ex)
        .await?)
}

/// The title an order item was sold under.
pub async fn item_title<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    order_item_id: &str,
) -> Result<Option<String>, DbError> {
    Ok(sqlx::query_scalar("SELECT title FROM order_items WHERE id = $1").bind(order_item_id).fetch_optional(ex).await?)
}

/// Per course of an instructor: (course, active enrollments, completed ones).
pub async fn enrollment_counts<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    instructor_id: &str,
) -> Result<Vec<(String, i64, i64)>, DbError> {
    Ok(sqlx::query_as(
        "SELECT e.course_id, CAST(COUNT(*) AS BIGINT), CAST(COUNT(e.completed_at) AS BIGINT) FROM enrollments e \
         JOIN courses c ON c.id = e.course_id WHERE c.instructor_id = $1 AND e.status = 'active' \
         GROUP BY e.course_id",
    )
    .bind(instructor_id)
    .fetch_all(ex)
    .await?)
}

/// Per course and currency of an instructor: (course, currency, revenue net
/// of refunds, the instructor's share net of claw-backs).
pub async fn sales_by_course<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    instructor_id: &str,
) -> Result<Vec<(String, String, i64, i64)>, DbError> {
    Ok(sqlx::query_as(
        "SELECT i.course_id, o.currency, CAST(SUM(i.net - i.refunded_net) AS BIGINT), \
         CAST(SUM(i.instructor_share - i.clawed_back) AS BIGINT) FROM order_items i JOIN orders o ON o.id = i.order_id \
         WHERE i.instructor_id = $1 GROUP BY i.course_id, o.currency",
    )
    .bind(instructor_id)
    .fetch_all(ex)
    .await?)
}
