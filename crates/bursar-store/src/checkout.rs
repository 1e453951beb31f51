//! Hosted checkout sessions.

use crate::db::{DbError, Tx};
use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub id: String,
    pub livemode: bool,
    pub customer_id: String,
    /// `subscription` or `payment`.
    pub mode: String,
    pub plan_id: Option<String>,
    pub price_id: Option<String>,
    pub quantity: i64,
    /// JSON array of `{description, quantity, unit_amount}`.
    pub items: String,
    pub currency: String,
    pub coupon: Option<String>,
    pub success_url: String,
    pub cancel_url: String,
    /// `open`, `complete`, `expired`.
    pub status: String,
    pub form_token: String,
    pub provider: Option<String>,
    pub subscription_id: Option<String>,
    pub invoice_id: Option<String>,
    pub payment_id: Option<String>,
    pub last_error: Option<String>,
    pub expires_at: i64,
    pub created_at: i64,
    pub completed_at: Option<i64>,
    /// JSON `{metric, amount, expires_in_days}` when the checkout sells credits.
    pub credit_grant: Option<String>,
}

const COLS: &str = "id, livemode, customer_id, mode, plan_id, price_id, quantity, items, currency, coupon, \
    success_url, cancel_url, status, form_token, provider, subscription_id, invoice_id, payment_id, last_error, \
    expires_at, created_at, completed_at, credit_grant";

fn row(r: &AnyRow) -> SessionRow {
    SessionRow {
        id: r.get(0),
        livemode: r.get::<i64, _>(1) != 0,
        customer_id: r.get(2),
        mode: r.get(3),
        plan_id: r.get(4),
        price_id: r.get(5),
        quantity: r.get(6),
        items: r.get(7),
        currency: r.get(8),
        coupon: r.get(9),
        success_url: r.get(10),
        cancel_url: r.get(11),
        status: r.get(12),
        form_token: r.get(13),
        provider: r.get(14),
        subscription_id: r.get(15),
        invoice_id: r.get(16),
        payment_id: r.get(17),
        last_error: r.get(18),
        expires_at: r.get(19),
        created_at: r.get(20),
        completed_at: r.get(21),
        credit_grant: r.get(22),
    }
}

pub async fn insert(tx: &mut Tx, s: &SessionRow) -> Result<(), DbError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "INSERT INTO checkout_sessions ({COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,\
         $18,$19,$20,$21,$22,$23)"
    ));
    sqlx::query(sql)
        .bind(s.id.clone())
        .bind(i64::from(s.livemode))
        .bind(s.customer_id.clone())
        .bind(s.mode.clone())
        .bind(s.plan_id.clone())
        .bind(s.price_id.clone())
        .bind(s.quantity)
        .bind(s.items.clone())
        .bind(s.currency.clone())
        .bind(s.coupon.clone())
        .bind(s.success_url.clone())
        .bind(s.cancel_url.clone())
        .bind(s.status.clone())
        .bind(s.form_token.clone())
        .bind(s.provider.clone())
        .bind(s.subscription_id.clone())
        .bind(s.invoice_id.clone())
        .bind(s.payment_id.clone())
        .bind(s.last_error.clone())
        .bind(s.expires_at)
        .bind(s.created_at)
        .bind(s.completed_at)
        .bind(s.credit_grant.clone())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Writes back the fields a session's life changes.
pub async fn save(tx: &mut Tx, s: &SessionRow) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE checkout_sessions SET coupon = $2, status = $3, provider = $4, subscription_id = $5, invoice_id = $6, \
         payment_id = $7, last_error = $8, completed_at = $9 WHERE id = $1",
    )
    .bind(s.id.clone())
    .bind(s.coupon.clone())
    .bind(s.status.clone())
    .bind(s.provider.clone())
    .bind(s.subscription_id.clone())
    .bind(s.invoice_id.clone())
    .bind(s.payment_id.clone())
    .bind(s.last_error.clone())
    .bind(s.completed_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn get<'e, E: Executor<'e, Database = Any>>(ex: E, id: &str) -> Result<Option<SessionRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {COLS} FROM checkout_sessions WHERE id = $1"));
    Ok(sqlx::query(sql).bind(id).fetch_optional(ex).await?.as_ref().map(row))
}

pub async fn get_locked(tx: &mut Tx, for_update: &str, id: &str) -> Result<Option<SessionRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {COLS} FROM checkout_sessions WHERE id = $1 {for_update}"));
    Ok(sqlx::query(sql).bind(id).fetch_optional(&mut **tx).await?.as_ref().map(row))
}

/// Open sessions past their expiry.
pub async fn expired<'e, E: Executor<'e, Database = Any>>(ex: E, now: i64, limit: i64) -> Result<Vec<String>, DbError> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM checkout_sessions WHERE status = 'open' AND expires_at <= $1 ORDER BY expires_at LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(ex)
    .await?)
}
