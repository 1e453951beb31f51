//! Invoices and their lines, invoice numbering, feedback, and the invoice
//! row lock.

use crate::db::{DbError, Tx};
use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

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

/// Locks an invoice row for the rest of the transaction (PostgreSQL).
pub async fn lock_invoice(tx: &mut Tx, for_update: &'static str, id: &str) -> Result<(), DbError> {
    if for_update.is_empty() {
        return Ok(());
    }
    let sql = sqlx::AssertSqlSafe(format!("SELECT id FROM invoices WHERE id = $1{for_update}"));
    sqlx::query(sql).bind(id).fetch_optional(&mut **tx).await?;
    Ok(())
}

/// (currency, subtotal, tax details) of the open and paid invoices
/// finalized in `[from_ms, to_ms)`: what a tax summary adds up.
pub async fn taxed_between<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    livemode: bool,
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<(String, i64, String)>, DbError> {
    Ok(sqlx::query_as(
        "SELECT currency, subtotal, tax_details FROM invoices WHERE livemode = $1 AND finalized_at >= $2 \
         AND finalized_at < $3 AND status IN ('open', 'paid')",
    )
    .bind(i64::from(livemode))
    .bind(from_ms)
    .bind(to_ms)
    .fetch_all(ex)
    .await?)
}

/// Locks an invoice for this transaction unless another holds it
/// (`skip_locked` is the database's ` FOR UPDATE SKIP LOCKED`, or empty):
/// whether this transaction got it.
pub async fn try_lock(tx: &mut Tx, id: &str, skip_locked: &str) -> Result<bool, DbError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT id FROM invoices WHERE id = $1{skip_locked}"));
    let locked: Option<String> = sqlx::query_scalar(sql).bind(id).fetch_optional(&mut **tx).await?;
    Ok(locked.is_some())
}
