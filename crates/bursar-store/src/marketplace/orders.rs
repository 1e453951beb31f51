//! Orders and order items, and course sales counts.

use crate::db::{DbError, Tx};
use sqlx::{Any, Executor, FromRow};

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct OrderRow {
    pub id: String,
    pub number: String,
    pub customer_id: String,
    pub currency: String,
    pub subtotal: i64,
    pub discount: i64,
    pub tax: i64,
    pub total: i64,
    pub status: String,
    pub invoice_id: String,
    pub checkout_session_id: Option<String>,
    pub cart_id: Option<String>,
    pub coupon: Option<String>,
    pub affiliate_id: Option<String>,
    pub billing_address: String,
    pub refunded_net: i64,
    pub created_at: i64,
    /// The subscription the order's checkout started with it, if any.
    pub subscription_id: Option<String>,
}

const ORDER_COLS: &str = "id, number, customer_id, currency, subtotal, discount, tax, total, status, invoice_id, \
    checkout_session_id, cart_id, coupon, affiliate_id, billing_address, refunded_net, created_at, subscription_id";

pub async fn insert_order(tx: &mut Tx, livemode: bool, o: &OrderRow) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO orders (id, livemode, number, customer_id, currency, subtotal, discount, tax, total, status, \
         invoice_id, checkout_session_id, cart_id, coupon, affiliate_id, billing_address, refunded_net, created_at, \
         subscription_id) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19)",
    )
    .bind(o.id.clone())
    .bind(i64::from(livemode))
    .bind(o.number.clone())
    .bind(o.customer_id.clone())
    .bind(o.currency.clone())
    .bind(o.subtotal)
    .bind(o.discount)
    .bind(o.tax)
    .bind(o.total)
    .bind(o.status.clone())
    .bind(o.invoice_id.clone())
    .bind(o.checkout_session_id.clone())
    .bind(o.cart_id.clone())
    .bind(o.coupon.clone())
    .bind(o.affiliate_id.clone())
    .bind(o.billing_address.clone())
    .bind(o.refunded_net)
    .bind(o.created_at)
    .bind(o.subscription_id.clone())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn save_order_refund(tx: &mut Tx, o: &OrderRow) -> Result<(), DbError> {
    sqlx::query("UPDATE orders SET status = $2, refunded_net = $3 WHERE id = $1")
        .bind(o.id.clone())
        .bind(o.status.clone())
        .bind(o.refunded_net)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn order<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    livemode: bool,
    key: &str,
) -> Result<Option<OrderRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {ORDER_COLS} FROM orders WHERE livemode = $1 AND (id = $2 OR number = $2)"
    ));
    Ok(sqlx::query_as(sql).bind(i64::from(livemode)).bind(key).fetch_optional(ex).await?)
}

pub async fn order_of_invoice<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    invoice_id: &str,
) -> Result<Option<OrderRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {ORDER_COLS} FROM orders WHERE invoice_id = $1"));
    Ok(sqlx::query_as(sql).bind(invoice_id).fetch_optional(ex).await?)
}

pub async fn orders<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    livemode: bool,
    customer: Option<&str>,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<OrderRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {ORDER_COLS} FROM orders WHERE livemode = $1 AND ($2 = '' OR customer_id = $2) AND id > $3 \
         ORDER BY id LIMIT $4"
    ));
    Ok(sqlx::query_as(sql)
        .bind(i64::from(livemode))
        .bind(customer.unwrap_or(""))
        .bind(after.unwrap_or(""))
        .bind(limit)
        .fetch_all(ex)
        .await?)
}

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct OrderItemRow {
    pub id: String,
    pub order_id: String,
    pub course_id: String,
    pub instructor_id: String,
    pub title: String,
    pub amount: i64,
    pub discount: i64,
    pub net: i64,
    pub share_bps: i64,
    pub instructor_share: i64,
    pub commission: i64,
    pub platform_share: i64,
    pub refunded_net: i64,
    pub clawed_back: i64,
    pub commission_cancelled: i64,
}

const ITEM_COLS: &str = "id, order_id, course_id, instructor_id, title, amount, discount, net, share_bps, \
    instructor_share, commission, platform_share, refunded_net, clawed_back, commission_cancelled";

pub async fn insert_order_item(tx: &mut Tx, i: &OrderItemRow) -> Result<(), DbError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "INSERT INTO order_items ({ITEM_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15)"
    ));
    sqlx::query(sql)
        .bind(i.id.clone())
        .bind(i.order_id.clone())
        .bind(i.course_id.clone())
        .bind(i.instructor_id.clone())
        .bind(i.title.clone())
        .bind(i.amount)
        .bind(i.discount)
        .bind(i.net)
        .bind(i.share_bps)
        .bind(i.instructor_share)
        .bind(i.commission)
        .bind(i.platform_share)
        .bind(i.refunded_net)
        .bind(i.clawed_back)
        .bind(i.commission_cancelled)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn save_order_item_refund(tx: &mut Tx, i: &OrderItemRow) -> Result<(), DbError> {
    sqlx::query("UPDATE order_items SET refunded_net = $2, clawed_back = $3, commission_cancelled = $4 WHERE id = $1")
        .bind(i.id.clone())
        .bind(i.refunded_net)
        .bind(i.clawed_back)
        .bind(i.commission_cancelled)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn order_items<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    order_id: &str,
) -> Result<Vec<OrderItemRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {ITEM_COLS} FROM order_items WHERE order_id = $1 ORDER BY id"));
    Ok(sqlx::query_as(sql).bind(order_id).fetch_all(ex).await?)
}

pub async fn bump_sales(tx: &mut Tx, course_id: &str) -> Result<(), DbError> {
    sqlx::query("UPDATE courses SET sales_count = sales_count + 1 WHERE id = $1")
        .bind(course_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The order an order item belongs to.
pub async fn order_of_item(tx: &mut Tx, order_item_id: &str) -> Result<String, DbError> {
    Ok(sqlx::query_scalar("SELECT order_id FROM order_items WHERE id = $1")
        .bind(order_item_id)
        .fetch_one(&mut **tx)
        .await?)
}
