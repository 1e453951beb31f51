//! Coupons and their redemptions.

use crate::db::{DbError, Tx};
use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CouponRow {
    pub id: String,
    pub livemode: bool,
    pub code: String,
    pub name: String,
    /// JSON of `bursar_domain::coupon::Rules`.
    pub rules: String,
    pub active: bool,
    pub redemptions: i64,
    pub max_redemptions: Option<i64>,
    pub created_at: i64,
}

const COUPON_COLS: &str = "id, livemode, code, name, rules, active, redemptions, max_redemptions, created_at";

fn coupon(r: &AnyRow) -> CouponRow {
    CouponRow {
        id: r.get(0),
        livemode: r.get::<i64, _>(1) != 0,
        code: r.get(2),
        name: r.get(3),
        rules: r.get(4),
        active: r.get::<i64, _>(5) != 0,
        redemptions: r.get(6),
        max_redemptions: r.get(7),
        created_at: r.get(8),
    }
}

pub async fn insert_coupon(tx: &mut Tx, c: &CouponRow) -> Result<(), DbError> {
    let sql = sqlx::AssertSqlSafe(format!("INSERT INTO coupons ({COUPON_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)"));
    sqlx::query(sql)
        .bind(c.id.clone())
        .bind(i64::from(c.livemode))
        .bind(c.code.clone())
        .bind(c.name.clone())
        .bind(c.rules.clone())
        .bind(i64::from(c.active))
        .bind(c.redemptions)
        .bind(c.max_redemptions)
        .bind(c.created_at)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// A coupon by code or id.
pub async fn coupon_by_key<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    livemode: bool,
    key: &str,
) -> Result<Option<CouponRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COUPON_COLS} FROM coupons WHERE livemode = $1 AND (code = $2 OR id = $2)"
    ));
    Ok(sqlx::query(sql).bind(i64::from(livemode)).bind(key).fetch_optional(ex).await?.as_ref().map(coupon))
}

pub async fn list_coupons<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    livemode: bool,
) -> Result<Vec<CouponRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {COUPON_COLS} FROM coupons WHERE livemode = $1 ORDER BY id DESC"));
    Ok(sqlx::query(sql).bind(i64::from(livemode)).fetch_all(ex).await?.iter().map(coupon).collect())
}

/// Turns a coupon off (or on again); false when there is no such coupon.
pub async fn set_coupon_active(tx: &mut Tx, id: &str, active: bool) -> Result<bool, DbError> {
    let n = sqlx::query("UPDATE coupons SET active = $1 WHERE id = $2")
        .bind(i64::from(active))
        .bind(id)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    Ok(n == 1)
}

/// Takes one redemption if any is left: a single conditional UPDATE, so
/// racing requests can never take more than `max_redemptions`.
pub async fn try_redeem(tx: &mut Tx, coupon_id: &str) -> Result<bool, DbError> {
    let n = sqlx::query(
        "UPDATE coupons SET redemptions = redemptions + 1 WHERE id = $1 AND active = 1 \
         AND (max_redemptions IS NULL OR redemptions < max_redemptions)",
    )
    .bind(coupon_id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(n == 1)
}

pub async fn insert_redemption(
    tx: &mut Tx,
    id: &str,
    livemode: bool,
    coupon_id: &str,
    customer_id: &str,
    subscription_id: Option<&str>,
    now: i64,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO coupon_redemptions (id, livemode, coupon_id, customer_id, subscription_id, created_at) \
         VALUES ($1,$2,$3,$4,$5,$6)",
    )
    .bind(id)
    .bind(i64::from(livemode))
    .bind(coupon_id)
    .bind(customer_id)
    .bind(subscription_id.map(str::to_string))
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn customer_redemptions(tx: &mut Tx, coupon_id: &str, customer_id: &str) -> Result<i64, DbError> {
    Ok(sqlx::query_scalar(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM coupon_redemptions WHERE coupon_id = $1 AND customer_id = $2",
    )
    .bind(coupon_id)
    .bind(customer_id)
    .fetch_one(&mut **tx)
    .await?)
}

/// Whether the customer has ever paid an invoice with a positive total.
pub async fn has_purchased(tx: &mut Tx, customer_id: &str) -> Result<bool, DbError> {
    let n: i64 =
        sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM invoices WHERE customer_id = $1 AND total > 0")
            .bind(customer_id)
            .fetch_one(&mut **tx)
            .await?;
    Ok(n > 0)
}
