//! Affiliates, their clicks and their commissions.

use crate::db::{DbError, Tx};
use sqlx::{Any, Executor, FromRow};

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct AffiliateRow {
    pub id: String,
    pub external_id: String,
    pub name: String,
    pub email: Option<String>,
    pub status: String,
    pub code: String,
    pub commission_bps: i64,
    pub payout_method: String,
    pub payout_details: String,
    pub created_at: i64,
    pub updated_at: i64,
}

const AFFILIATE_COLS: &str = "id, external_id, name, email, status, code, commission_bps, payout_method, \
    payout_details, created_at, updated_at";

pub async fn insert_affiliate(tx: &mut Tx, livemode: bool, a: &AffiliateRow) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO affiliates (id, livemode, external_id, name, email, status, code, commission_bps, \
         payout_method, payout_details, created_at, updated_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)",
    )
    .bind(a.id.clone())
    .bind(i64::from(livemode))
    .bind(a.external_id.clone())
    .bind(a.name.clone())
    .bind(a.email.clone())
    .bind(a.status.clone())
    .bind(a.code.clone())
    .bind(a.commission_bps)
    .bind(a.payout_method.clone())
    .bind(a.payout_details.clone())
    .bind(a.created_at)
    .bind(a.updated_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn save_affiliate(tx: &mut Tx, a: &AffiliateRow) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE affiliates SET name = $2, email = $3, status = $4, commission_bps = $5, payout_method = $6, \
         payout_details = $7, updated_at = $8 WHERE id = $1",
    )
    .bind(a.id.clone())
    .bind(a.name.clone())
    .bind(a.email.clone())
    .bind(a.status.clone())
    .bind(a.commission_bps)
    .bind(a.payout_method.clone())
    .bind(a.payout_details.clone())
    .bind(a.updated_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// By id, the platform's user id, or code.
pub async fn affiliate<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    livemode: bool,
    key: &str,
) -> Result<Option<AffiliateRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {AFFILIATE_COLS} FROM affiliates WHERE livemode = $1 AND (id = $2 OR external_id = $2 OR code = $2)"
    ));
    Ok(sqlx::query_as(sql).bind(i64::from(livemode)).bind(key).fetch_optional(ex).await?)
}

pub async fn affiliates<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    livemode: bool,
    status: Option<&str>,
) -> Result<Vec<AffiliateRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {AFFILIATE_COLS} FROM affiliates WHERE livemode = $1 AND ($2 = '' OR status = $2) ORDER BY id"
    ));
    Ok(sqlx::query_as(sql).bind(i64::from(livemode)).bind(status.unwrap_or("")).fetch_all(ex).await?)
}

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct ClickRow {
    pub id: String,
    pub affiliate_id: String,
    pub ip_hash: String,
    pub user_agent: String,
    pub referer: String,
    pub landing_url: String,
    pub customer_id: Option<String>,
    pub created_at: i64,
}

const CLICK_COLS: &str = "id, affiliate_id, ip_hash, user_agent, referer, landing_url, customer_id, created_at";

pub async fn insert_click(tx: &mut Tx, livemode: bool, c: &ClickRow) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO affiliate_clicks (id, livemode, affiliate_id, ip_hash, user_agent, referer, landing_url, \
         customer_id, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)",
    )
    .bind(c.id.clone())
    .bind(i64::from(livemode))
    .bind(c.affiliate_id.clone())
    .bind(c.ip_hash.clone())
    .bind(c.user_agent.clone())
    .bind(c.referer.clone())
    .bind(c.landing_url.clone())
    .bind(c.customer_id.clone())
    .bind(c.created_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Links a click that names no customer yet to one, at `created_at` (the
/// instant of a customer on a test clock).
pub async fn stamp_click(tx: &mut Tx, id: &str, customer_id: &str, created_at: i64) -> Result<(), DbError> {
    sqlx::query("UPDATE affiliate_clicks SET customer_id = $2, created_at = $3 WHERE id = $1 AND customer_id IS NULL")
        .bind(id)
        .bind(customer_id)
        .bind(created_at)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn click<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    livemode: bool,
    id: &str,
) -> Result<Option<ClickRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {CLICK_COLS} FROM affiliate_clicks WHERE livemode = $1 AND id = $2"));
    Ok(sqlx::query_as(sql).bind(i64::from(livemode)).bind(id).fetch_optional(ex).await?)
}

/// The customer's latest click from `since` to `until` (last click wins).
pub async fn last_click<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    livemode: bool,
    customer_id: &str,
    since: i64,
    until: i64,
) -> Result<Option<ClickRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {CLICK_COLS} FROM affiliate_clicks WHERE livemode = $1 AND customer_id = $2 AND created_at >= $3 \
         AND created_at <= $4 ORDER BY created_at DESC, id DESC LIMIT 1"
    ));
    Ok(sqlx::query_as(sql)
        .bind(i64::from(livemode))
        .bind(customer_id)
        .bind(since)
        .bind(until)
        .fetch_optional(ex)
        .await?)
}

pub async fn click_count<'e, E: Executor<'e, Database = Any>>(ex: E, affiliate_id: &str) -> Result<i64, DbError> {
    Ok(sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM affiliate_clicks WHERE affiliate_id = $1")
        .bind(affiliate_id)
        .fetch_one(ex)
        .await?)
}

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct CommissionRow {
    pub id: String,
    pub affiliate_id: String,
    pub order_id: String,
    pub click_id: String,
    pub currency: String,
    pub amount: i64,
    pub status: String,
    pub approve_at: i64,
    pub payout_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

const COMMISSION_COLS: &str =
    "id, affiliate_id, order_id, click_id, currency, amount, status, approve_at, payout_id, created_at, updated_at";

pub async fn insert_commission(tx: &mut Tx, livemode: bool, c: &CommissionRow) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO commissions (id, livemode, affiliate_id, order_id, click_id, currency, amount, status, \
         approve_at, payout_id, created_at, updated_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)",
    )
    .bind(c.id.clone())
    .bind(i64::from(livemode))
    .bind(c.affiliate_id.clone())
    .bind(c.order_id.clone())
    .bind(c.click_id.clone())
    .bind(c.currency.clone())
    .bind(c.amount)
    .bind(c.status.clone())
    .bind(c.approve_at)
    .bind(c.payout_id.clone())
    .bind(c.created_at)
    .bind(c.updated_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn save_commission(tx: &mut Tx, c: &CommissionRow) -> Result<(), DbError> {
    sqlx::query("UPDATE commissions SET amount = $2, status = $3, payout_id = $4, updated_at = $5 WHERE id = $1")
        .bind(c.id.clone())
        .bind(c.amount)
        .bind(c.status.clone())
        .bind(c.payout_id.clone())
        .bind(c.updated_at)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn commission_of_order(tx: &mut Tx, order_id: &str) -> Result<Option<CommissionRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {COMMISSION_COLS} FROM commissions WHERE order_id = $1"));
    Ok(sqlx::query_as(sql).bind(order_id).fetch_optional(&mut **tx).await?)
}

pub async fn commissions<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    livemode: bool,
    affiliate_id: Option<&str>,
    status: Option<&str>,
) -> Result<Vec<CommissionRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COMMISSION_COLS} FROM commissions WHERE livemode = $1 AND ($2 = '' OR affiliate_id = $2) \
         AND ($3 = '' OR status = $3) ORDER BY id"
    ));
    Ok(sqlx::query_as(sql)
        .bind(i64::from(livemode))
        .bind(affiliate_id.unwrap_or(""))
        .bind(status.unwrap_or(""))
        .fetch_all(ex)
        .await?)
}

/// Approves pending commissions whose refund window closed by `at`.
pub async fn approve_commissions(tx: &mut Tx, livemode: bool, at: i64) -> Result<u64, DbError> {
    let r = sqlx::query(
        "UPDATE commissions SET status = 'approved', updated_at = $2 WHERE livemode = $1 AND status = 'pending' \
         AND approve_at <= $2",
    )
    .bind(i64::from(livemode))
    .bind(at)
    .execute(&mut **tx)
    .await?;
    Ok(r.rows_affected())
}

/// Approved, unpaid commissions per (affiliate, currency): their sum.
pub async fn due_commissions(tx: &mut Tx, livemode: bool) -> Result<Vec<(String, String, i64)>, DbError> {
    Ok(sqlx::query_as(
        "SELECT affiliate_id, currency, CAST(SUM(amount) AS BIGINT) FROM commissions WHERE livemode = $1 AND status = 'approved' \
         AND payout_id IS NULL GROUP BY affiliate_id, currency ORDER BY affiliate_id, currency",
    )
    .bind(i64::from(livemode))
    .fetch_all(&mut **tx)
    .await?)
}

pub async fn take_commissions(
    tx: &mut Tx,
    affiliate_id: &str,
    currency: &str,
    payout_id: &str,
    now: i64,
) -> Result<i64, DbError> {
    sqlx::query(
        "UPDATE commissions SET payout_id = $3, status = 'paid', updated_at = $4 WHERE affiliate_id = $1 \
         AND currency = $2 AND status = 'approved' AND payout_id IS NULL",
    )
    .bind(affiliate_id)
    .bind(currency)
    .bind(payout_id)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    let sum: Option<i64> =
        sqlx::query_scalar("SELECT CAST(SUM(amount) AS BIGINT) FROM commissions WHERE payout_id = $1")
            .bind(payout_id)
            .fetch_one(&mut **tx)
            .await?;
    Ok(sum.unwrap_or(0))
}
