//! Payments (one row per attempt to move money through a provider) and the
//! raw provider webhook events.

use crate::db::{DbError, Tx};
use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentRow {
    pub id: String,
    pub livemode: bool,
    pub customer_id: String,
    pub invoice_id: Option<String>,
    pub checkout_session_id: Option<String>,
    /// `sandbox`, `stripe`, `paypal`, `razorpay`.
    pub provider: String,
    pub provider_payment_id: Option<String>,
    pub method_id: Option<String>,
    pub method_brand: Option<String>,
    pub method_last4: Option<String>,
    pub method_exp_month: Option<i64>,
    pub method_exp_year: Option<i64>,
    pub amount: i64,
    pub currency: String,
    pub amount_refunded: i64,
    pub fee: Option<i64>,
    /// `pending`, `processing`, `requires_action`, `completed`, `failed`,
    /// `refunded`, `cancelled`.
    pub status: String,
    pub failure_code: Option<String>,
    pub failure_message: Option<String>,
    pub description: String,
    pub next_check_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub completed_at: Option<i64>,
}

impl PaymentRow {
    /// Whether the outcome is still open (the provider may act on it).
    pub fn unsettled(&self) -> bool {
        matches!(self.status.as_str(), "pending" | "processing" | "requires_action")
    }
}

const COLS: &str = "id, livemode, customer_id, invoice_id, checkout_session_id, provider, provider_payment_id, \
    method_id, method_brand, method_last4, method_exp_month, method_exp_year, amount, currency, amount_refunded, fee, \
    status, failure_code, failure_message, description, next_check_at, created_at, updated_at, completed_at";
const NCOLS: usize = 24;

fn row(r: &AnyRow) -> PaymentRow {
    PaymentRow {
        id: r.get(0),
        livemode: r.get::<i64, _>(1) != 0,
        customer_id: r.get(2),
        invoice_id: r.get(3),
        checkout_session_id: r.get(4),
        provider: r.get(5),
        provider_payment_id: r.get(6),
        method_id: r.get(7),
        method_brand: r.get(8),
        method_last4: r.get(9),
        method_exp_month: r.get(10),
        method_exp_year: r.get(11),
        amount: r.get(12),
        currency: r.get(13),
        amount_refunded: r.get(14),
        fee: r.get(15),
        status: r.get(16),
        failure_code: r.get(17),
        failure_message: r.get(18),
        description: r.get(19),
        next_check_at: r.get(20),
        created_at: r.get(21),
        updated_at: r.get(22),
        completed_at: r.get(23),
    }
}

/// Inserts many payments with multi-row statements.
pub async fn insert_payments(tx: &mut Tx, rows: &[PaymentRow]) -> Result<(), DbError> {
    let backend = crate::db::tx_backend(tx);
    for chunk in rows.chunks(400) {
        let sql = sqlx::AssertSqlSafe(format!(
            "INSERT INTO payments ({COLS}) VALUES {}",
            crate::db::placeholders(backend, chunk.len(), NCOLS)
        ));
        let mut q = sqlx::query(sql);
        for p in chunk {
            q = q
                .bind(p.id.clone())
                .bind(i64::from(p.livemode))
                .bind(p.customer_id.clone())
                .bind(p.invoice_id.clone())
                .bind(p.checkout_session_id.clone())
                .bind(p.provider.clone())
                .bind(p.provider_payment_id.clone())
                .bind(p.method_id.clone())
                .bind(p.method_brand.clone())
                .bind(p.method_last4.clone())
                .bind(p.method_exp_month)
                .bind(p.method_exp_year)
                .bind(p.amount)
                .bind(p.currency.clone())
                .bind(p.amount_refunded)
                .bind(p.fee)
                .bind(p.status.clone())
                .bind(p.failure_code.clone())
                .bind(p.failure_message.clone())
                .bind(p.description.clone())
                .bind(p.next_check_at)
                .bind(p.created_at)
                .bind(p.updated_at)
                .bind(p.completed_at);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Moves a payment's refunded amount by `delta` (negative when a refund is
/// refused) relative to what is stored, so concurrent refunds never
/// overwrite each other; the status follows (`refunded` when nothing is
/// left).
pub async fn adjust_refunded(tx: &mut Tx, id: &str, delta: i64, now: i64) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE payments SET amount_refunded = amount_refunded + $2, \
         status = CASE WHEN amount_refunded + $2 >= amount THEN 'refunded' \
                       WHEN status = 'refunded' THEN 'completed' ELSE status END, \
         updated_at = $3 WHERE id = $1",
    )
    .bind(id)
    .bind(delta)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Writes back a payment's changing fields.
/// The customer's payments created at or after `since` that wait for
/// collection.
pub async fn pending_since<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
    e: E,
    customer_id: &str,
    since: i64,
) -> Result<Vec<String>, DbError> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM payments WHERE customer_id = $1 AND status = 'pending' AND created_at >= $2 ORDER BY id",
    )
    .bind(customer_id)
    .bind(since)
    .fetch_all(e)
    .await?)
}

/// Moves an unsettled payment to another provider (checkout fell back along
/// its route before anything was taken).
pub async fn set_provider(tx: &mut Tx, id: &str, provider: &str) -> Result<(), DbError> {
    sqlx::query("UPDATE payments SET provider = $2 WHERE id = $1").bind(id).bind(provider).execute(&mut **tx).await?;
    Ok(())
}

pub async fn save(tx: &mut Tx, p: &PaymentRow) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE payments SET provider_payment_id = $2, method_brand = $3, method_last4 = $4, method_exp_month = $5, \
         method_exp_year = $6, amount_refunded = $7, fee = $8, status = $9, failure_code = $10, failure_message = $11, \
         next_check_at = $12, updated_at = $13, completed_at = $14, method_id = $15 WHERE id = $1",
    )
    .bind(p.id.clone())
    .bind(p.provider_payment_id.clone())
    .bind(p.method_brand.clone())
    .bind(p.method_last4.clone())
    .bind(p.method_exp_month)
    .bind(p.method_exp_year)
    .bind(p.amount_refunded)
    .bind(p.fee)
    .bind(p.status.clone())
    .bind(p.failure_code.clone())
    .bind(p.failure_message.clone())
    .bind(p.next_check_at)
    .bind(p.updated_at)
    .bind(p.completed_at)
    .bind(p.method_id.clone())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn get<'e, E: Executor<'e, Database = Any>>(ex: E, id: &str) -> Result<Option<PaymentRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {COLS} FROM payments WHERE id = $1"));
    Ok(sqlx::query(sql).bind(id).fetch_optional(ex).await?.as_ref().map(row))
}

/// Loads a payment under a row lock (`for_update` from `Db::for_update`).
pub async fn get_locked(tx: &mut Tx, for_update: &str, id: &str) -> Result<Option<PaymentRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {COLS} FROM payments WHERE id = $1 {for_update}"));
    Ok(sqlx::query(sql).bind(id).fetch_optional(&mut **tx).await?.as_ref().map(row))
}

pub async fn by_provider_id<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    provider: &str,
    provider_payment_id: &str,
) -> Result<Option<PaymentRow>, DbError> {
    let sql =
        sqlx::AssertSqlSafe(format!("SELECT {COLS} FROM payments WHERE provider = $1 AND provider_payment_id = $2"));
    Ok(sqlx::query(sql).bind(provider).bind(provider_payment_id).fetch_optional(ex).await?.as_ref().map(row))
}

pub async fn of_invoice<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    invoice_id: &str,
) -> Result<Vec<PaymentRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {COLS} FROM payments WHERE invoice_id = $1 ORDER BY id"));
    Ok(sqlx::query(sql).bind(invoice_id).fetch_all(ex).await?.iter().map(row).collect())
}

pub async fn list<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    livemode: bool,
    customer_id: Option<&str>,
    invoice_id: Option<&str>,
    status: Option<&str>,
    starting_after: Option<&str>,
    limit: i64,
) -> Result<Vec<PaymentRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} FROM payments WHERE livemode = $1 AND ($2 = '' OR customer_id = $2) \
         AND ($3 = '' OR invoice_id = $3) AND ($4 = '' OR status = $4) AND ($5 = '' OR id < $5) \
         ORDER BY id DESC LIMIT $6"
    ));
    Ok(sqlx::query(sql)
        .bind(i64::from(livemode))
        .bind(customer_id.unwrap_or("").to_string())
        .bind(invoice_id.unwrap_or("").to_string())
        .bind(status.unwrap_or("").to_string())
        .bind(starting_after.unwrap_or("").to_string())
        .bind(limit)
        .fetch_all(ex)
        .await?
        .iter()
        .map(row)
        .collect())
}

/// Unsettled payments whose next check is due.
pub async fn due_for_check<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    now: i64,
    limit: i64,
) -> Result<Vec<String>, DbError> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM payments WHERE status IN ('pending', 'processing') AND next_check_at IS NOT NULL \
         AND next_check_at <= $1 ORDER BY next_check_at LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(ex)
    .await?)
}

/// Every payment of a provider created in a window (reconciliation).
pub async fn of_provider_between<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    livemode: bool,
    provider: &str,
    from: i64,
    to: i64,
) -> Result<Vec<PaymentRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} FROM payments WHERE livemode = $1 AND provider = $2 AND created_at >= $3 AND created_at < $4 \
         ORDER BY id"
    ));
    Ok(sqlx::query(sql)
        .bind(i64::from(livemode))
        .bind(provider)
        .bind(from)
        .bind(to)
        .fetch_all(ex)
        .await?
        .iter()
        .map(row)
        .collect())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderEventRow {
    pub id: String,
    pub provider: String,
    pub event_id: String,
    pub event_type: String,
    pub payload: String,
    /// `received`, `applied`, `ignored`, `flagged`.
    pub status: String,
    pub note: Option<String>,
    pub payment_id: Option<String>,
    pub received_at: i64,
    pub processed_at: Option<i64>,
    /// Test or live, when known (from the payment it concerns, or the
    /// provider's own flag in the event).
    pub livemode: Option<bool>,
}

/// Stores a verified provider event unless it was stored before. Returns
/// `false` for a duplicate delivery (it must not be applied again).
pub async fn insert_event(tx: &mut Tx, e: &ProviderEventRow) -> Result<bool, DbError> {
    let n = sqlx::query(
        "INSERT INTO provider_events (id, provider, event_id, event_type, payload, status, note, payment_id, \
         received_at, processed_at, livemode) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11) \
         ON CONFLICT (provider, event_id) DO NOTHING",
    )
    .bind(e.id.clone())
    .bind(e.provider.clone())
    .bind(e.event_id.clone())
    .bind(e.event_type.clone())
    .bind(e.payload.clone())
    .bind(e.status.clone())
    .bind(e.note.clone())
    .bind(e.payment_id.clone())
    .bind(e.received_at)
    .bind(e.processed_at)
    .bind(e.livemode.map(i64::from))
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Records what applying an event came to.
pub async fn set_event_outcome(
    tx: &mut Tx,
    id: &str,
    status: &str,
    note: Option<&str>,
    payment_id: Option<&str>,
    now: i64,
) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE provider_events SET status = $2, note = $3, payment_id = $4, processed_at = $5, \
         livemode = COALESCE((SELECT livemode FROM payments WHERE id = $4), livemode) WHERE id = $1",
    )
    .bind(id)
    .bind(status)
    .bind(note.map(str::to_string))
    .bind(payment_id.map(str::to_string))
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// One stored event, if a key of the given mode may see it (see
/// [`list_events`]).
pub async fn event<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    livemode: bool,
    id: &str,
) -> Result<Option<ProviderEventRow>, DbError> {
    let row = sqlx::query(
        "SELECT id, provider, event_id, event_type, payload, status, note, payment_id, received_at, processed_at \
         FROM provider_events WHERE id = $1 AND (livemode = $2 OR (livemode IS NULL AND $2 = 1))",
    )
    .bind(id)
    .bind(i64::from(livemode))
    .fetch_optional(ex)
    .await?;
    Ok(row.map(|r| ProviderEventRow {
        id: r.get(0),
        provider: r.get(1),
        event_id: r.get(2),
        event_type: r.get(3),
        payload: r.get(4),
        status: r.get(5),
        note: r.get(6),
        payment_id: r.get(7),
        received_at: r.get(8),
        processed_at: r.get(9),
        livemode: None,
    }))
}

/// Events a key of the given mode may see: those of its mode (the mode of
/// the payment they concerned), and for live keys also those that named no
/// payment of Bursar's (their mode is unknown).
pub async fn list_events<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    livemode: bool,
    provider: Option<&str>,
    starting_after: Option<&str>,
    limit: i64,
) -> Result<Vec<ProviderEventRow>, DbError> {
    let rows = sqlx::query(
        "SELECT id, provider, event_id, event_type, payload, status, note, payment_id, received_at, processed_at \
         FROM provider_events WHERE ($1 = '' OR provider = $1) AND ($2 = '' OR id < $2) \
         AND (livemode = $4 OR (livemode IS NULL AND $4 = 1)) ORDER BY id DESC LIMIT $3",
    )
    .bind(provider.unwrap_or("").to_string())
    .bind(starting_after.unwrap_or("").to_string())
    .bind(limit)
    .bind(i64::from(livemode))
    .fetch_all(ex)
    .await?;
    Ok(rows
        .iter()
        .map(|r| ProviderEventRow {
            id: r.get(0),
            provider: r.get(1),
            event_id: r.get(2),
            event_type: r.get(3),
            payload: r.get(4),
            status: r.get(5),
            note: r.get(6),
            payment_id: r.get(7),
            received_at: r.get(8),
            processed_at: r.get(9),
            livemode: None,
        })
        .collect())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRow {
    pub id: String,
    pub livemode: bool,
    pub credit_note_id: String,
    pub payment_id: String,
    pub provider: String,
    pub amount: i64,
    pub currency: String,
    /// `pending`, `succeeded`, `failed`.
    pub status: String,
    pub provider_refund_id: Option<String>,
    pub failure_message: Option<String>,
    pub next_check_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

const REFUND_COLS: &str = "id, livemode, credit_note_id, payment_id, provider, amount, currency, status, \
    provider_refund_id, failure_message, next_check_at, created_at, updated_at";

fn refund_row(r: &AnyRow) -> RefundRow {
    RefundRow {
        id: r.get(0),
        livemode: r.get::<i64, _>(1) != 0,
        credit_note_id: r.get(2),
        payment_id: r.get(3),
        provider: r.get(4),
        amount: r.get(5),
        currency: r.get(6),
        status: r.get(7),
        provider_refund_id: r.get(8),
        failure_message: r.get(9),
        next_check_at: r.get(10),
        created_at: r.get(11),
        updated_at: r.get(12),
    }
}

pub async fn insert_refund(tx: &mut Tx, r: &RefundRow) -> Result<(), DbError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "INSERT INTO refunds ({REFUND_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)"
    ));
    sqlx::query(sql)
        .bind(r.id.clone())
        .bind(i64::from(r.livemode))
        .bind(r.credit_note_id.clone())
        .bind(r.payment_id.clone())
        .bind(r.provider.clone())
        .bind(r.amount)
        .bind(r.currency.clone())
        .bind(r.status.clone())
        .bind(r.provider_refund_id.clone())
        .bind(r.failure_message.clone())
        .bind(r.next_check_at)
        .bind(r.created_at)
        .bind(r.updated_at)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn save_refund(tx: &mut Tx, r: &RefundRow) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE refunds SET status = $2, provider_refund_id = $3, failure_message = $4, next_check_at = $5, \
         updated_at = $6 WHERE id = $1",
    )
    .bind(r.id.clone())
    .bind(r.status.clone())
    .bind(r.provider_refund_id.clone())
    .bind(r.failure_message.clone())
    .bind(r.next_check_at)
    .bind(r.updated_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn refund<'e, E: Executor<'e, Database = Any>>(ex: E, id: &str) -> Result<Option<RefundRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {REFUND_COLS} FROM refunds WHERE id = $1"));
    Ok(sqlx::query(sql).bind(id).fetch_optional(ex).await?.as_ref().map(refund_row))
}

pub async fn refund_locked(tx: &mut Tx, for_update: &str, id: &str) -> Result<Option<RefundRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {REFUND_COLS} FROM refunds WHERE id = $1 {for_update}"));
    Ok(sqlx::query(sql).bind(id).fetch_optional(&mut **tx).await?.as_ref().map(refund_row))
}

pub async fn refunds_of_payment<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    payment_id: &str,
) -> Result<Vec<RefundRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {REFUND_COLS} FROM refunds WHERE payment_id = $1 ORDER BY id"));
    Ok(sqlx::query(sql).bind(payment_id).fetch_all(ex).await?.iter().map(refund_row).collect())
}

/// The pending refunds of a credit note (to be sent to their providers).
pub async fn pending_refunds_of_credit_note<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    credit_note_id: &str,
) -> Result<Vec<String>, DbError> {
    Ok(sqlx::query_scalar("SELECT id FROM refunds WHERE credit_note_id = $1 AND status = 'pending' ORDER BY id")
        .bind(credit_note_id)
        .fetch_all(ex)
        .await?)
}

/// Pending refunds whose provider call is due.
pub async fn refunds_due<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    now: i64,
    limit: i64,
) -> Result<Vec<String>, DbError> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM refunds WHERE status = 'pending' AND next_check_at IS NOT NULL AND next_check_at <= $1 \
         ORDER BY next_check_at LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(ex)
    .await?)
}
