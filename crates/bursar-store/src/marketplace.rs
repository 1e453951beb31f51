//! The course marketplace: instructors, courses and bundles, carts, orders
//! and enrollments, earnings and payouts, affiliates, reviews, wishlists.
//!
//! Every query is scoped by `livemode`; rows leave it out because their
//! callers already know it.

use crate::db::{DbError, Tx};
use sqlx::{Any, Executor, FromRow};

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct InstructorRow {
    pub id: String,
    pub external_id: String,
    pub name: String,
    pub email: Option<String>,
    pub tier: String,
    pub share_bps: Option<i64>,
    pub payout_method: String,
    pub payout_details: String,
    pub created_at: i64,
    pub updated_at: i64,
}

const INSTRUCTOR_COLS: &str =
    "id, external_id, name, email, tier, share_bps, payout_method, payout_details, created_at, updated_at";

pub async fn insert_instructor(tx: &mut Tx, livemode: bool, r: &InstructorRow) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO instructors (id, livemode, external_id, name, email, tier, share_bps, payout_method, \
         payout_details, created_at, updated_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)",
    )
    .bind(r.id.clone())
    .bind(i64::from(livemode))
    .bind(r.external_id.clone())
    .bind(r.name.clone())
    .bind(r.email.clone())
    .bind(r.tier.clone())
    .bind(r.share_bps)
    .bind(r.payout_method.clone())
    .bind(r.payout_details.clone())
    .bind(r.created_at)
    .bind(r.updated_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn save_instructor(tx: &mut Tx, r: &InstructorRow) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE instructors SET name = $2, email = $3, tier = $4, share_bps = $5, payout_method = $6, \
         payout_details = $7, updated_at = $8 WHERE id = $1",
    )
    .bind(r.id.clone())
    .bind(r.name.clone())
    .bind(r.email.clone())
    .bind(r.tier.clone())
    .bind(r.share_bps)
    .bind(r.payout_method.clone())
    .bind(r.payout_details.clone())
    .bind(r.updated_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// By Bursar's id or the platform's user id.
pub async fn instructor<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    livemode: bool,
    key: &str,
) -> Result<Option<InstructorRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {INSTRUCTOR_COLS} FROM instructors WHERE livemode = $1 AND (id = $2 OR external_id = $2)"
    ));
    Ok(sqlx::query_as(sql).bind(i64::from(livemode)).bind(key).fetch_optional(ex).await?)
}

pub async fn instructors<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    livemode: bool,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<InstructorRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {INSTRUCTOR_COLS} FROM instructors WHERE livemode = $1 AND id > $2 ORDER BY id LIMIT $3"
    ));
    Ok(sqlx::query_as(sql).bind(i64::from(livemode)).bind(after.unwrap_or("")).bind(limit).fetch_all(ex).await?)
}

pub async fn insert_instructor_session(
    tx: &mut Tx,
    livemode: bool,
    token_hash: &str,
    instructor_id: &str,
    expires_at: i64,
    now: i64,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO instructor_sessions (token_hash, livemode, instructor_id, expires_at, created_at) \
         VALUES ($1,$2,$3,$4,$5)",
    )
    .bind(token_hash)
    .bind(i64::from(livemode))
    .bind(instructor_id)
    .bind(expires_at)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The instructor and mode of an unexpired session token.
pub async fn instructor_session<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    token_hash: &str,
    now: i64,
) -> Result<Option<(String, bool)>, DbError> {
    let row: Option<(String, i64)> = sqlx::query_as(
        "SELECT instructor_id, livemode FROM instructor_sessions WHERE token_hash = $1 AND expires_at > $2",
    )
    .bind(token_hash)
    .bind(now)
    .fetch_optional(ex)
    .await?;
    Ok(row.map(|(i, l)| (i, l != 0)))
}

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct CourseRow {
    pub id: String,
    pub instructor_id: String,
    /// `course` or `bundle`.
    pub kind: String,
    pub title: String,
    pub subtitle: String,
    pub description: String,
    /// JSON array of strings.
    pub topics: String,
    pub level: String,
    pub language: String,
    pub duration_minutes: i64,
    pub thumbnail_key: Option<String>,
    /// JSON array of `{title, key}`.
    pub materials: String,
    pub status: String,
    pub published_at: Option<i64>,
    pub rating_sum: i64,
    pub rating_count: i64,
    pub sales_count: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

const COURSE_COLS: &str = "id, instructor_id, kind, title, subtitle, description, topics, level, language, \
    duration_minutes, thumbnail_key, materials, status, published_at, rating_sum, rating_count, sales_count, \
    created_at, updated_at";

pub async fn insert_course(tx: &mut Tx, livemode: bool, c: &CourseRow) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO courses (id, livemode, instructor_id, kind, title, subtitle, description, topics, level, \
         language, duration_minutes, thumbnail_key, materials, status, published_at, rating_sum, rating_count, \
         sales_count, created_at, updated_at) \
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,0,0,0,$16,$17)",
    )
    .bind(c.id.clone())
    .bind(i64::from(livemode))
    .bind(c.instructor_id.clone())
    .bind(c.kind.clone())
    .bind(c.title.clone())
    .bind(c.subtitle.clone())
    .bind(c.description.clone())
    .bind(c.topics.clone())
    .bind(c.level.clone())
    .bind(c.language.clone())
    .bind(c.duration_minutes)
    .bind(c.thumbnail_key.clone())
    .bind(c.materials.clone())
    .bind(c.status.clone())
    .bind(c.published_at)
    .bind(c.created_at)
    .bind(c.updated_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Writes back the fields an instructor edits (never the counters).
pub async fn save_course(tx: &mut Tx, c: &CourseRow) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE courses SET title = $2, subtitle = $3, description = $4, topics = $5, level = $6, language = $7, \
         duration_minutes = $8, thumbnail_key = $9, materials = $10, status = $11, published_at = $12, \
         updated_at = $13 WHERE id = $1",
    )
    .bind(c.id.clone())
    .bind(c.title.clone())
    .bind(c.subtitle.clone())
    .bind(c.description.clone())
    .bind(c.topics.clone())
    .bind(c.level.clone())
    .bind(c.language.clone())
    .bind(c.duration_minutes)
    .bind(c.thumbnail_key.clone())
    .bind(c.materials.clone())
    .bind(c.status.clone())
    .bind(c.published_at)
    .bind(c.updated_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn course<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    livemode: bool,
    id: &str,
) -> Result<Option<CourseRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {COURSE_COLS} FROM courses WHERE livemode = $1 AND id = $2"));
    Ok(sqlx::query_as(sql).bind(i64::from(livemode)).bind(id).fetch_optional(ex).await?)
}

pub async fn courses_by_ids<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    livemode: bool,
    ids: &[String],
) -> Result<Vec<CourseRow>, DbError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let marks: Vec<String> = (0..ids.len()).map(|i| format!("${}", i + 2)).collect();
    // `+livemode`: the primary key finds the rows; without statistics,
    // SQLite would otherwise walk an index that starts with `livemode`
    // (that is, every course of the mode).
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COURSE_COLS} FROM courses WHERE id IN ({}) AND +livemode = $1 ORDER BY id",
        marks.join(",")
    ));
    let mut q = sqlx::query_as(sql).bind(i64::from(livemode));
    for id in ids {
        q = q.bind(id.clone());
    }
    Ok(q.fetch_all(ex).await?)
}

/// A page of courses, newest last by id, optionally one instructor's or
/// only those in a status.
pub async fn courses<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    livemode: bool,
    instructor: Option<&str>,
    status: Option<&str>,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<CourseRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COURSE_COLS} FROM courses WHERE livemode = $1 AND ($2 = '' OR instructor_id = $2) \
         AND ($3 = '' OR status = $3) AND id > $4 ORDER BY id LIMIT $5"
    ));
    Ok(sqlx::query_as(sql)
        .bind(i64::from(livemode))
        .bind(instructor.unwrap_or(""))
        .bind(status.unwrap_or(""))
        .bind(after.unwrap_or(""))
        .bind(limit)
        .fetch_all(ex)
        .await?)
}

/// Replaces a course's prices.
pub async fn set_prices(tx: &mut Tx, course_id: &str, prices: &[(String, i64)]) -> Result<(), DbError> {
    sqlx::query("DELETE FROM course_prices WHERE course_id = $1").bind(course_id).execute(&mut **tx).await?;
    for (currency, amount) in prices {
        sqlx::query("INSERT INTO course_prices (course_id, currency, amount) VALUES ($1,$2,$3)")
            .bind(course_id)
            .bind(currency.clone())
            .bind(*amount)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// (currency, amount) of each course, ordered by currency.
pub async fn prices_of<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    course_ids: &[String],
) -> Result<Vec<(String, String, i64)>, DbError> {
    if course_ids.is_empty() {
        return Ok(Vec::new());
    }
    let marks: Vec<String> = (0..course_ids.len()).map(|i| format!("${}", i + 1)).collect();
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT course_id, currency, amount FROM course_prices WHERE course_id IN ({}) ORDER BY course_id, currency",
        marks.join(",")
    ));
    let mut q = sqlx::query_as(sql);
    for id in course_ids {
        q = q.bind(id.clone());
    }
    Ok(q.fetch_all(ex).await?)
}

pub async fn set_bundle_items(tx: &mut Tx, bundle_id: &str, courses: &[String]) -> Result<(), DbError> {
    sqlx::query("DELETE FROM bundle_items WHERE bundle_id = $1").bind(bundle_id).execute(&mut **tx).await?;
    for c in courses {
        sqlx::query("INSERT INTO bundle_items (bundle_id, course_id) VALUES ($1,$2)")
            .bind(bundle_id)
            .bind(c.clone())
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

pub async fn bundle_items<'e, E: Executor<'e, Database = Any>>(ex: E, bundle_id: &str) -> Result<Vec<String>, DbError> {
    Ok(sqlx::query_scalar("SELECT course_id FROM bundle_items WHERE bundle_id = $1 ORDER BY course_id")
        .bind(bundle_id)
        .fetch_all(ex)
        .await?)
}

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

/// A set of courses someone keeps: a cart's items, a learner's wishlist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CourseSet {
    Cart,
    Wishlist,
}

impl CourseSet {
    /// (table, owner column, time column)
    fn names(self) -> (&'static str, &'static str, &'static str) {
        match self {
            CourseSet::Cart => ("cart_items", "cart_id", "added_at"),
            CourseSet::Wishlist => ("wishlist_items", "customer_id", "created_at"),
        }
    }

    /// Adds a course; false when it was already there.
    async fn add(self, tx: &mut Tx, owner: &str, course_id: &str, now: i64) -> Result<bool, DbError> {
        let (table, col, at) = self.names();
        let sql = sqlx::AssertSqlSafe(format!(
            "INSERT INTO {table} ({col}, course_id, {at}) VALUES ($1,$2,$3) ON CONFLICT ({col}, course_id) DO NOTHING"
        ));
        let r = sqlx::query(sql).bind(owner).bind(course_id).bind(now).execute(&mut **tx).await?;
        Ok(r.rows_affected() == 1)
    }

    /// Removes a course; false when it was not there.
    async fn remove(self, tx: &mut Tx, owner: &str, course_id: &str) -> Result<bool, DbError> {
        let (table, col, _) = self.names();
        let sql = sqlx::AssertSqlSafe(format!("DELETE FROM {table} WHERE {col} = $1 AND course_id = $2"));
        let r = sqlx::query(sql).bind(owner).bind(course_id).execute(&mut **tx).await?;
        Ok(r.rows_affected() == 1)
    }

    /// The course ids, oldest first.
    async fn list<'e, E: Executor<'e, Database = Any>>(self, ex: E, owner: &str) -> Result<Vec<String>, DbError> {
        let (table, col, at) = self.names();
        let sql =
            sqlx::AssertSqlSafe(format!("SELECT course_id FROM {table} WHERE {col} = $1 ORDER BY {at}, course_id"));
        Ok(sqlx::query_scalar(sql).bind(owner).fetch_all(ex).await?)
    }
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

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct EnrollmentRow {
    pub id: String,
    pub customer_id: String,
    pub course_id: String,
    pub order_id: Option<String>,
    pub status: String,
    pub completed_at: Option<i64>,
    pub created_at: i64,
}

const ENROLLMENT_COLS: &str = "id, customer_id, course_id, order_id, status, completed_at, created_at";

/// Enrolls a customer; an earlier revoked enrollment becomes active again.
/// Returns the enrollment id, or `None` when it was already active.
pub async fn enroll(
    tx: &mut Tx,
    livemode: bool,
    id: &str,
    customer_id: &str,
    course_id: &str,
    order_id: &str,
    now: i64,
) -> Result<Option<String>, DbError> {
    // Insert-or-nothing first, so two orders enrolling at once never
    // collide on the unique index.
    let inserted = sqlx::query(
        "INSERT INTO enrollments (id, livemode, customer_id, course_id, order_id, status, created_at) \
         VALUES ($1,$2,$3,$4,$5,'active',$6) ON CONFLICT (customer_id, course_id) DO NOTHING",
    )
    .bind(id)
    .bind(i64::from(livemode))
    .bind(customer_id)
    .bind(course_id)
    .bind(order_id)
    .bind(now)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if inserted == 1 {
        return Ok(Some(id.to_string()));
    }
    let revoked: Option<String> = sqlx::query_scalar(
        "SELECT id FROM enrollments WHERE customer_id = $1 AND course_id = $2 AND status = 'revoked'",
    )
    .bind(customer_id)
    .bind(course_id)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(eid) = revoked else { return Ok(None) };
    sqlx::query("UPDATE enrollments SET status = 'active', order_id = $2 WHERE id = $1")
        .bind(eid.clone())
        .bind(order_id)
        .execute(&mut **tx)
        .await?;
    Ok(Some(eid))
}

/// Revokes the enrollments an order granted; returns them.
/// Revokes the active enrollments an order granted: all of them, or those
/// of `courses`; returns them.
pub async fn revoke_enrollments(
    tx: &mut Tx,
    order_id: &str,
    courses: Option<&[String]>,
) -> Result<Vec<EnrollmentRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {ENROLLMENT_COLS} FROM enrollments WHERE order_id = $1 AND status = 'active' ORDER BY id"
    ));
    let rows: Vec<EnrollmentRow> = sqlx::query_as(sql).bind(order_id).fetch_all(&mut **tx).await?;
    let rows: Vec<EnrollmentRow> =
        rows.into_iter().filter(|e| courses.is_none_or(|c| c.contains(&e.course_id))).collect();
    for e in &rows {
        sqlx::query("UPDATE enrollments SET status = 'revoked' WHERE id = $1").bind(&e.id).execute(&mut **tx).await?;
    }
    Ok(rows)
}

pub async fn enrollments<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    livemode: bool,
    customer: Option<&str>,
    course: Option<&str>,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<EnrollmentRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {ENROLLMENT_COLS} FROM enrollments WHERE livemode = $1 AND ($2 = '' OR customer_id = $2) \
         AND ($3 = '' OR course_id = $3) AND id > $4 ORDER BY id LIMIT $5"
    ));
    Ok(sqlx::query_as(sql)
        .bind(i64::from(livemode))
        .bind(customer.unwrap_or(""))
        .bind(course.unwrap_or(""))
        .bind(after.unwrap_or(""))
        .bind(limit)
        .fetch_all(ex)
        .await?)
}

/// Whether the customer holds an active enrollment in the course.
pub async fn is_enrolled<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    customer_id: &str,
    course_id: &str,
) -> Result<bool, DbError> {
    let n: i64 = sqlx::query_scalar(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM enrollments WHERE customer_id = $1 AND course_id = $2 AND status = 'active'",
    )
    .bind(customer_id)
    .bind(course_id)
    .fetch_one(ex)
    .await?;
    Ok(n > 0)
}

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

pub async fn click<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    livemode: bool,
    id: &str,
) -> Result<Option<ClickRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {CLICK_COLS} FROM affiliate_clicks WHERE livemode = $1 AND id = $2"));
    Ok(sqlx::query_as(sql).bind(i64::from(livemode)).bind(id).fetch_optional(ex).await?)
}

/// The customer's latest click since `since` (last click wins).
pub async fn last_click<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    livemode: bool,
    customer_id: &str,
    since: i64,
) -> Result<Option<ClickRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {CLICK_COLS} FROM affiliate_clicks WHERE livemode = $1 AND customer_id = $2 AND created_at >= $3 \
         ORDER BY created_at DESC, id DESC LIMIT 1"
    ));
    Ok(sqlx::query_as(sql).bind(i64::from(livemode)).bind(customer_id).bind(since).fetch_optional(ex).await?)
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

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct ReviewRow {
    pub id: String,
    pub course_id: String,
    pub customer_id: String,
    pub rating: i64,
    pub title: String,
    pub body: String,
    pub status: String,
    pub reply: Option<String>,
    pub replied_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

const REVIEW_COLS: &str =
    "id, course_id, customer_id, rating, title, body, status, reply, replied_at, created_at, updated_at";

/// Inserts a review; false when the customer already reviewed the course.
pub async fn insert_review(tx: &mut Tx, livemode: bool, r: &ReviewRow) -> Result<bool, DbError> {
    let res = sqlx::query(
        "INSERT INTO reviews (id, livemode, course_id, customer_id, rating, title, body, status, reply, replied_at, \
         created_at, updated_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12) \
         ON CONFLICT (course_id, customer_id) DO NOTHING",
    )
    .bind(r.id.clone())
    .bind(i64::from(livemode))
    .bind(r.course_id.clone())
    .bind(r.customer_id.clone())
    .bind(r.rating)
    .bind(r.title.clone())
    .bind(r.body.clone())
    .bind(r.status.clone())
    .bind(r.reply.clone())
    .bind(r.replied_at)
    .bind(r.created_at)
    .bind(r.updated_at)
    .execute(&mut **tx)
    .await?;
    Ok(res.rows_affected() == 1)
}

pub async fn save_review(tx: &mut Tx, r: &ReviewRow) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE reviews SET rating = $2, title = $3, body = $4, status = $5, reply = $6, replied_at = $7, \
         updated_at = $8 WHERE id = $1",
    )
    .bind(r.id.clone())
    .bind(r.rating)
    .bind(r.title.clone())
    .bind(r.body.clone())
    .bind(r.status.clone())
    .bind(r.reply.clone())
    .bind(r.replied_at)
    .bind(r.updated_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A review, locked for the rest of the transaction when asked.
pub async fn review(tx: &mut Tx, livemode: bool, id: &str, for_update: &str) -> Result<Option<ReviewRow>, DbError> {
    let sql =
        sqlx::AssertSqlSafe(format!("SELECT {REVIEW_COLS} FROM reviews WHERE livemode = $1 AND id = $2 {for_update}"));
    Ok(sqlx::query_as(sql).bind(i64::from(livemode)).bind(id).fetch_optional(&mut **tx).await?)
}

pub async fn reviews<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    livemode: bool,
    course_id: &str,
    include_hidden: bool,
) -> Result<Vec<ReviewRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {REVIEW_COLS} FROM reviews WHERE livemode = $1 AND course_id = $2 AND ($3 = 1 OR status = 'visible') \
         ORDER BY id"
    ));
    Ok(sqlx::query_as(sql)
        .bind(i64::from(livemode))
        .bind(course_id)
        .bind(i64::from(include_hidden))
        .fetch_all(ex)
        .await?)
}

/// Moves a course's rating totals by a relative amount, so concurrent
/// reviews never lose one another's counts.
pub async fn adjust_rating(tx: &mut Tx, course_id: &str, sum: i64, count: i64) -> Result<(), DbError> {
    sqlx::query("UPDATE courses SET rating_sum = rating_sum + $2, rating_count = rating_count + $3 WHERE id = $1")
        .bind(course_id)
        .bind(sum)
        .bind(count)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Adds to a wishlist; false when it was already there.
pub async fn wish(tx: &mut Tx, customer_id: &str, course_id: &str, now: i64) -> Result<bool, DbError> {
    CourseSet::Wishlist.add(tx, customer_id, course_id, now).await
}

pub async fn unwish(tx: &mut Tx, customer_id: &str, course_id: &str) -> Result<bool, DbError> {
    CourseSet::Wishlist.remove(tx, customer_id, course_id).await
}

pub async fn wishlist<'e, E: Executor<'e, Database = Any>>(ex: E, customer_id: &str) -> Result<Vec<String>, DbError> {
    CourseSet::Wishlist.list(ex, customer_id).await
}

/// A payout with the columns of the provider flow: where it goes, the
/// provider's id, and when to ask about it.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct ProviderPayoutRow {
    pub id: String,
    pub livemode: i64,
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
    pub provider_ref: Option<String>,
    pub destination: Option<String>,
    pub failure_message: Option<String>,
    pub next_check_at: Option<i64>,
    pub attempts: i64,
}

const PROVIDER_PAYOUT_COLS: &str = "id, livemode, payee_kind, payee_id, currency, amount, method, status, reference, \
    period, created_at, paid_at, provider_ref, destination, failure_message, next_check_at, attempts";

/// Makes a payout just inserted one that a provider pays: where the money
/// goes, due to be sent at `due_at`.
pub async fn prepare_provider_payout(
    tx: &mut Tx,
    id: &str,
    destination: Option<&str>,
    due_at: i64,
) -> Result<(), DbError> {
    sqlx::query("UPDATE payouts SET destination = $2, next_check_at = $3 WHERE id = $1")
        .bind(id)
        .bind(destination)
        .bind(due_at)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn provider_payout<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
) -> Result<Option<ProviderPayoutRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {PROVIDER_PAYOUT_COLS} FROM payouts WHERE id = $1"));
    Ok(sqlx::query_as(sql).bind(id).fetch_optional(ex).await?)
}

/// The payout, locked (PostgreSQL) for the rest of the transaction.
pub async fn provider_payout_locked(
    tx: &mut Tx,
    for_update: &str,
    id: &str,
) -> Result<Option<ProviderPayoutRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {PROVIDER_PAYOUT_COLS} FROM payouts WHERE id = $1 {for_update}"));
    Ok(sqlx::query_as(sql).bind(id).fetch_optional(&mut **tx).await?)
}

/// Counts one more attempt at a pending payout and when to look again;
/// false when it is no longer pending.
pub async fn claim_payout_attempt(tx: &mut Tx, id: &str, next_check_at: i64) -> Result<bool, DbError> {
    let r = sqlx::query(
        "UPDATE payouts SET attempts = attempts + 1, next_check_at = $2 WHERE id = $1 AND status = 'pending'",
    )
    .bind(id)
    .bind(next_check_at)
    .execute(&mut **tx)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Pending payouts whose check is due by `now`, the most overdue first.
pub async fn payouts_due_for_check<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    now: i64,
    limit: i64,
) -> Result<Vec<String>, DbError> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM payouts WHERE status = 'pending' AND next_check_at IS NOT NULL AND next_check_at <= $1 \
         ORDER BY next_check_at, id LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(ex)
    .await?)
}

/// Every pending payout of a mode, oldest first.
pub async fn pending_payouts<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    livemode: bool,
) -> Result<Vec<String>, DbError> {
    Ok(sqlx::query_scalar("SELECT id FROM payouts WHERE livemode = $1 AND status = 'pending' ORDER BY id")
        .bind(i64::from(livemode))
        .fetch_all(ex)
        .await?)
}

/// Writes what became of a provider payout.
pub async fn save_provider_payout(tx: &mut Tx, p: &ProviderPayoutRow) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE payouts SET status = $2, paid_at = $3, provider_ref = $4, failure_message = $5, next_check_at = $6 \
         WHERE id = $1",
    )
    .bind(p.id.clone())
    .bind(p.status.clone())
    .bind(p.paid_at)
    .bind(p.provider_ref.clone())
    .bind(p.failure_message.clone())
    .bind(p.next_check_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Gives a failed payout's earnings and commissions back to the payee's
/// due balance (the commissions approved again); returns how many of each.
pub async fn release_payout(tx: &mut Tx, payout_id: &str, now: i64) -> Result<(u64, u64), DbError> {
    let earnings = sqlx::query("UPDATE earnings SET payout_id = NULL WHERE payout_id = $1")
        .bind(payout_id)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    let commissions = sqlx::query(
        "UPDATE commissions SET payout_id = NULL, status = 'approved', updated_at = $2 \
         WHERE payout_id = $1 AND status = 'paid'",
    )
    .bind(payout_id)
    .bind(now)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok((earnings, commissions))
}

/// The provider columns of a payout.
#[derive(Debug, Clone, Default, PartialEq, Eq, FromRow)]
pub struct PayoutProviderFields {
    pub id: String,
    pub provider_ref: Option<String>,
    pub destination: Option<String>,
    pub failure_message: Option<String>,
}

/// The provider columns of the payouts [`payouts`] lists with the same
/// filters.
pub async fn payout_provider_fields<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    livemode: bool,
    payee: Option<&str>,
    period: Option<&str>,
) -> Result<Vec<PayoutProviderFields>, DbError> {
    Ok(sqlx::query_as(
        "SELECT id, provider_ref, destination, failure_message FROM payouts WHERE livemode = $1 \
         AND ($2 = '' OR payee_id = $2) AND ($3 = '' OR period = $3) ORDER BY id",
    )
    .bind(i64::from(livemode))
    .bind(payee.unwrap_or(""))
    .bind(period.unwrap_or(""))
    .fetch_all(ex)
    .await?)
}
