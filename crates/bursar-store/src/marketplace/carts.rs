//! Carts and their items.

use crate::db::{DbError, Tx};
use sqlx::{Any, Executor, FromRow};

use super::course_set::CourseSet;

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct CartRow {
    pub id: String,
    pub customer_id: String,
    pub currency: String,
    pub coupon: Option<String>,
    pub click_id: Option<String>,
    pub status: String,
    pub checkout_session_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    /// The plan of the subscription the cart starts, if any.
    pub plan_id: Option<String>,
    /// Its billing interval: `month` or `year`.
    pub billing_interval: Option<String>,
    /// Its seats.
    pub quantity: i64,
}

const CART_COLS: &str =
    "id, customer_id, currency, coupon, click_id, status, checkout_session_id, created_at, updated_at, plan_id, \
     billing_interval, quantity";

pub async fn insert_cart(tx: &mut Tx, livemode: bool, c: &CartRow) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO carts (id, livemode, customer_id, currency, coupon, click_id, status, checkout_session_id, \
         created_at, updated_at, plan_id, billing_interval, quantity) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)",
    )
    .bind(c.id.clone())
    .bind(i64::from(livemode))
    .bind(c.customer_id.clone())
    .bind(c.currency.clone())
    .bind(c.coupon.clone())
    .bind(c.click_id.clone())
    .bind(c.status.clone())
    .bind(c.checkout_session_id.clone())
    .bind(c.created_at)
    .bind(c.updated_at)
    .bind(c.plan_id.clone())
    .bind(c.billing_interval.clone())
    .bind(c.quantity)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn save_cart(tx: &mut Tx, c: &CartRow) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE carts SET currency = $2, coupon = $3, click_id = $4, status = $5, checkout_session_id = $6, \
         updated_at = $7, plan_id = $8, billing_interval = $9, quantity = $10 WHERE id = $1",
    )
    .bind(c.id.clone())
    .bind(c.currency.clone())
    .bind(c.coupon.clone())
    .bind(c.click_id.clone())
    .bind(c.status.clone())
    .bind(c.checkout_session_id.clone())
    .bind(c.updated_at)
    .bind(c.plan_id.clone())
    .bind(c.billing_interval.clone())
    .bind(c.quantity)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A cart, locked for the rest of the transaction when `for_update` says so.
pub async fn cart(tx: &mut Tx, livemode: bool, id: &str, for_update: &str) -> Result<Option<CartRow>, DbError> {
    let sql =
        sqlx::AssertSqlSafe(format!("SELECT {CART_COLS} FROM carts WHERE livemode = $1 AND id = $2 {for_update}"));
    Ok(sqlx::query_as(sql).bind(i64::from(livemode)).bind(id).fetch_optional(&mut **tx).await?)
}

pub async fn cart_by_session<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    session_id: &str,
) -> Result<Option<CartRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {CART_COLS} FROM carts WHERE checkout_session_id = $1"));
    Ok(sqlx::query_as(sql).bind(session_id).fetch_optional(ex).await?)
}

pub async fn cart_read<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    livemode: bool,
    id: &str,
) -> Result<Option<CartRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {CART_COLS} FROM carts WHERE livemode = $1 AND id = $2"));
    Ok(sqlx::query_as(sql).bind(i64::from(livemode)).bind(id).fetch_optional(ex).await?)
}

/// Adds a course to a cart; false when it was already there.
pub async fn add_cart_item(tx: &mut Tx, cart_id: &str, course_id: &str, now: i64) -> Result<bool, DbError> {
    CourseSet::Cart.add(tx, cart_id, course_id, now).await
}

pub async fn remove_cart_item(tx: &mut Tx, cart_id: &str, course_id: &str) -> Result<bool, DbError> {
    CourseSet::Cart.remove(tx, cart_id, course_id).await
}

/// The cart's course ids in the order they were added.
pub async fn cart_items<'e, E: Executor<'e, Database = Any>>(ex: E, cart_id: &str) -> Result<Vec<String>, DbError> {
    CourseSet::Cart.list(ex, cart_id).await
}
