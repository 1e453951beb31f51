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
    /// `exclusive` or `inclusive`: whether the lines include the tax.
    pub tax_behavior: String,
    /// JSON: the tax decision and the amounts per component.
    pub tax_details: String,
    pub credit_applied: i64,
    pub amount_due: i64,
    pub amount_paid: i64,
    pub period_start: Option<i64>,
    pub period_end: Option<i64>,
    pub customer_snapshot: String,
    pub created_at: i64,
    pub finalized_at: Option<i64>,
    pub paid_at: Option<i64>,
    /// Free text shown on the invoice (manual invoices).
    pub description: Option<String>,
    /// `charge_automatically` (the default method is charged at
    /// finalization) or `send_invoice` (the customer pays by `due_at`).
    pub collection_method: String,
    pub due_at: Option<i64>,
    pub voided_at: Option<i64>,
}

const INV_COLS: &str =
    "id, livemode, number, customer_id, subscription_id, status, billing_reason, currency, subtotal, \
    tax, total, tax_behavior, tax_details, credit_applied, amount_due, amount_paid, period_start, period_end, customer_snapshot, created_at, \
    finalized_at, paid_at, description, collection_method, due_at, voided_at";

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
        tax_behavior: r.get(11),
        tax_details: r.get(12),
        credit_applied: r.get(13),
        amount_due: r.get(14),
        amount_paid: r.get(15),
        period_start: r.get(16),
        period_end: r.get(17),
        customer_snapshot: r.get(18),
        created_at: r.get(19),
        finalized_at: r.get(20),
        paid_at: r.get(21),
        description: r.get(22),
        collection_method: r.get(23),
        due_at: r.get(24),
        voided_at: r.get(25),
    }
}

/// Inserts many invoices with multi-row statements.
pub async fn insert_invoices(tx: &mut Tx, rows: &[InvoiceRow]) -> Result<(), DbError> {
    let backend = crate::db::tx_backend(tx);
    for chunk in rows.chunks(400) {
        let sql = sqlx::AssertSqlSafe(format!(
            "INSERT INTO invoices ({INV_COLS}) VALUES {}",
            crate::db::placeholders(backend, chunk.len(), 26)
        ));
        let mut q = sqlx::query(sql);
        for i in chunk {
            q = q
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
                .bind(i.tax_behavior.clone())
                .bind(i.tax_details.clone())
                .bind(i.credit_applied)
                .bind(i.amount_due)
                .bind(i.amount_paid)
                .bind(i.period_start)
                .bind(i.period_end)
                .bind(i.customer_snapshot.clone())
                .bind(i.created_at)
                .bind(i.finalized_at)
                .bind(i.paid_at)
                .bind(i.description.clone())
                .bind(i.collection_method.clone())
                .bind(i.due_at)
                .bind(i.voided_at);
        }
        q.execute(&mut **tx).await?;
    }
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

/// Stores a draft's editable fields and provisional totals.
pub async fn update_draft(tx: &mut Tx, i: &InvoiceRow) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE invoices SET subtotal = $2, tax = $3, total = $4, amount_due = $5, tax_details = $6, \
         description = $7, collection_method = $8, due_at = $9, period_start = $10, period_end = $11 \
         WHERE id = $1 AND status = 'draft'",
    )
    .bind(i.id.clone())
    .bind(i.subtotal)
    .bind(i.tax)
    .bind(i.total)
    .bind(i.amount_due)
    .bind(i.tax_details.clone())
    .bind(i.description.clone())
    .bind(i.collection_method.clone())
    .bind(i.due_at)
    .bind(i.period_start)
    .bind(i.period_end)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Deletes a draft invoice and its lines (drafts have no number and no
/// ledger entries, so nothing else refers to them). Returns whether a draft
/// was deleted.
pub async fn delete_draft(tx: &mut Tx, id: &str) -> Result<bool, DbError> {
    let draft: Option<String> = sqlx::query_scalar("SELECT id FROM invoices WHERE id = $1 AND status = 'draft'")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    if draft.is_none() {
        return Ok(false);
    }
    sqlx::query("DELETE FROM invoice_lines WHERE invoice_id = $1").bind(id).execute(&mut **tx).await?;
    sqlx::query("DELETE FROM invoices WHERE id = $1").bind(id).execute(&mut **tx).await?;
    Ok(true)
}

/// Removes one line of an invoice. Returns whether it existed.
pub async fn delete_line(tx: &mut Tx, invoice_id: &str, line_id: &str) -> Result<bool, DbError> {
    let n = sqlx::query("DELETE FROM invoice_lines WHERE invoice_id = $1 AND id = $2")
        .bind(invoice_id)
        .bind(line_id)
        .execute(&mut **tx)
        .await?;
    Ok(n.rows_affected() == 1)
}

/// Marks an open invoice void. Returns whether it was open.
pub async fn void_invoice(tx: &mut Tx, id: &str, now: i64) -> Result<bool, DbError> {
    let n = sqlx::query("UPDATE invoices SET status = 'void', voided_at = $2 WHERE id = $1 AND status = 'open'")
        .bind(id)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(n.rows_affected() == 1)
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
    let backend = crate::db::tx_backend(tx);
    for chunk in lines.chunks(500) {
        let sql = sqlx::AssertSqlSafe(format!(
            "INSERT INTO invoice_lines (id, invoice_id, position, kind, description, quantity, unit_amount, amount, \
             price_id, period_start, period_end) VALUES {}",
            crate::db::placeholders(backend, chunk.len(), 11)
        ));
        let mut q = sqlx::query(sql);
        for l in chunk {
            q = q
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
                .bind(l.period_end);
        }
        q.execute(&mut **tx).await?;
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

/// Reserves the next `count` numbers of a series and returns the first.
/// Gapless: taken inside the transaction that issues the invoices, so a
/// rolled-back transaction gives them back. (`next_number` holds the last
/// number used.)
pub async fn reserve_invoice_numbers(tx: &mut Tx, livemode: bool, series: &str, count: i64) -> Result<i64, DbError> {
    let last: i64 = sqlx::query_scalar(
        "INSERT INTO invoice_series (livemode, series, next_number) VALUES ($1, $2, $3) \
         ON CONFLICT (livemode, series) DO UPDATE SET next_number = invoice_series.next_number + excluded.next_number \
         RETURNING next_number",
    )
    .bind(i64::from(livemode))
    .bind(series)
    .bind(count)
    .fetch_one(&mut **tx)
    .await?;
    Ok(last - count + 1)
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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreditNoteRow {
    pub id: String,
    pub livemode: bool,
    pub number: String,
    pub invoice_id: String,
    pub customer_id: String,
    pub currency: String,
    pub subtotal: i64,
    pub tax: i64,
    pub total: i64,
    /// `payment_method` or `credit_balance`.
    pub refund_to: String,
    pub reason: String,
    pub tax_details: String,
    pub created_at: i64,
    /// `issued`, or `void` when the refund it records was refused.
    pub status: String,
}

impl CreditNoteRow {
    /// What the note credits: nothing once void.
    pub fn credited(&self) -> i64 {
        if self.status == "void" {
            0
        } else {
            self.total
        }
    }
}

const CN_COLS: &str =
    "id, livemode, number, invoice_id, customer_id, currency, subtotal, tax, total, refund_to, reason, \
    tax_details, created_at, status";

fn credit_note(r: &AnyRow) -> CreditNoteRow {
    CreditNoteRow {
        id: r.get(0),
        livemode: r.get::<i64, _>(1) != 0,
        number: r.get(2),
        invoice_id: r.get(3),
        customer_id: r.get(4),
        currency: r.get(5),
        subtotal: r.get(6),
        tax: r.get(7),
        total: r.get(8),
        refund_to: r.get(9),
        reason: r.get(10),
        tax_details: r.get(11),
        created_at: r.get(12),
        status: r.get(13),
    }
}

pub async fn insert_credit_note(tx: &mut Tx, c: &CreditNoteRow) -> Result<(), DbError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "INSERT INTO credit_notes ({CN_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14)"
    ));
    sqlx::query(sql)
        .bind(c.id.clone())
        .bind(i64::from(c.livemode))
        .bind(c.number.clone())
        .bind(c.invoice_id.clone())
        .bind(c.customer_id.clone())
        .bind(c.currency.clone())
        .bind(c.subtotal)
        .bind(c.tax)
        .bind(c.total)
        .bind(c.refund_to.clone())
        .bind(c.reason.clone())
        .bind(c.tax_details.clone())
        .bind(c.created_at)
        .bind(c.status.clone())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Marks a credit note void (its refund was refused).
pub async fn void_credit_note(tx: &mut Tx, id: &str) -> Result<(), DbError> {
    sqlx::query("UPDATE credit_notes SET status = 'void' WHERE id = $1").bind(id).execute(&mut **tx).await?;
    Ok(())
}

pub async fn credit_note_by_id<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    livemode: bool,
    id: &str,
) -> Result<Option<CreditNoteRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {CN_COLS} FROM credit_notes WHERE livemode = $1 AND id = $2"));
    Ok(sqlx::query(sql).bind(i64::from(livemode)).bind(id).fetch_optional(ex).await?.as_ref().map(credit_note))
}

pub async fn credit_notes_of<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    livemode: bool,
    invoice_id: &str,
) -> Result<Vec<CreditNoteRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {CN_COLS} FROM credit_notes WHERE livemode = $1 AND invoice_id = $2 ORDER BY id"
    ));
    Ok(sqlx::query(sql)
        .bind(i64::from(livemode))
        .bind(invoice_id)
        .fetch_all(ex)
        .await?
        .iter()
        .map(credit_note)
        .collect())
}

/// Locks an invoice row for the rest of the transaction (PostgreSQL).
pub async fn lock_invoice(tx: &mut Tx, for_update: &'static str, id: &str) -> Result<(), DbError> {
    if for_update.is_empty() {
        return Ok(());
    }
    let sql = sqlx::AssertSqlSafe(format!("SELECT id FROM invoices WHERE id = $1{for_update}"));
    sqlx::query(sql).bind(id).fetch_optional(&mut **tx).await?;
    Ok(())
}
