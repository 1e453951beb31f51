//! Payment methods and the dunning schedule.

use crate::db::{DbError, Tx};
use sqlx::{Any, Executor, Row};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentMethodRow {
    pub id: String,
    pub livemode: bool,
    pub customer_id: String,
    pub provider: String,
    pub token: String,
    pub brand: String,
    pub last4: String,
    pub is_default: bool,
    pub created_at: i64,
    /// The provider's customer the method belongs to (needed to charge it).
    pub provider_customer: Option<String>,
    pub exp_month: Option<i64>,
    pub exp_year: Option<i64>,
}

const PM_COLS: &str =
    "id, livemode, customer_id, provider, token, brand, last4, is_default, created_at, provider_customer, exp_month, exp_year";

fn pm(r: &sqlx::any::AnyRow) -> PaymentMethodRow {
    PaymentMethodRow {
        id: r.get(0),
        livemode: r.get::<i64, _>(1) != 0,
        customer_id: r.get(2),
        provider: r.get(3),
        token: r.get(4),
        brand: r.get(5),
        last4: r.get(6),
        is_default: r.get::<i64, _>(7) != 0,
        created_at: r.get(8),
        provider_customer: r.get(9),
        exp_month: r.get(10),
        exp_year: r.get(11),
    }
}

/// Adds a method and makes it the customer's default.
pub async fn add_default_method(tx: &mut Tx, m: &PaymentMethodRow) -> Result<(), DbError> {
    sqlx::query("UPDATE payment_methods SET is_default = 0 WHERE customer_id = $1")
        .bind(m.customer_id.clone())
        .execute(&mut **tx)
        .await?;
    let sql = sqlx::AssertSqlSafe(format!(
        "INSERT INTO payment_methods ({PM_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7,1,$8,$9,$10,$11)"
    ));
    sqlx::query(sql)
        .bind(m.id.clone())
        .bind(i64::from(m.livemode))
        .bind(m.customer_id.clone())
        .bind(m.provider.clone())
        .bind(m.token.clone())
        .bind(m.brand.clone())
        .bind(m.last4.clone())
        .bind(m.created_at)
        .bind(m.provider_customer.clone())
        .bind(m.exp_month)
        .bind(m.exp_year)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Makes a method the customer's default. Returns whether it exists.
pub async fn set_default_method(tx: &mut Tx, customer_id: &str, id: &str) -> Result<bool, DbError> {
    let exists: Option<String> =
        sqlx::query_scalar("SELECT id FROM payment_methods WHERE id = $1 AND customer_id = $2 AND deleted_at IS NULL")
            .bind(id)
            .bind(customer_id)
            .fetch_optional(&mut **tx)
            .await?;
    if exists.is_none() {
        return Ok(false);
    }
    sqlx::query("UPDATE payment_methods SET is_default = CASE WHEN id = $2 THEN 1 ELSE 0 END WHERE customer_id = $1")
        .bind(customer_id)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(true)
}

/// Detaches a method: it is kept for the payments that used it but never
/// charged again. When it was the default, the newest remaining method
/// becomes the default. Returns whether it existed.
pub async fn delete_method(tx: &mut Tx, customer_id: &str, id: &str, now: i64) -> Result<bool, DbError> {
    let n = sqlx::query(
        "UPDATE payment_methods SET deleted_at = $3, is_default = 0 WHERE id = $1 AND customer_id = $2 \
         AND deleted_at IS NULL",
    )
    .bind(id)
    .bind(customer_id)
    .bind(now)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if n == 0 {
        return Ok(false);
    }
    let has_default: Option<String> = sqlx::query_scalar(
        "SELECT id FROM payment_methods WHERE customer_id = $1 AND is_default = 1 AND deleted_at IS NULL",
    )
    .bind(customer_id)
    .fetch_optional(&mut **tx)
    .await?;
    if has_default.is_none() {
        let newest: Option<String> = sqlx::query_scalar(
            "SELECT id FROM payment_methods WHERE customer_id = $1 AND deleted_at IS NULL ORDER BY id DESC LIMIT 1",
        )
        .bind(customer_id)
        .fetch_optional(&mut **tx)
        .await?;
        if let Some(m) = newest {
            set_default_method(tx, customer_id, &m).await?;
        }
    }
    Ok(true)
}

/// One method by id (deleted ones included: payments refer to them).
pub async fn method<'e, E: Executor<'e, Database = Any>>(ex: E, id: &str) -> Result<Option<PaymentMethodRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {PM_COLS} FROM payment_methods WHERE id = $1"));
    Ok(sqlx::query(sql).bind(id).fetch_optional(ex).await?.as_ref().map(pm))
}

/// The default methods of several customers.
pub async fn default_methods(tx: &mut Tx, customer_ids: &[String]) -> Result<Vec<PaymentMethodRow>, DbError> {
    let mut out = Vec::new();
    for chunk in customer_ids.chunks(200) {
        let list: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {PM_COLS} FROM payment_methods WHERE is_default = 1 AND deleted_at IS NULL AND customer_id IN ({})",
            list.join(",")
        ));
        let mut q = sqlx::query(sql);
        for id in chunk {
            q = q.bind(id.clone());
        }
        let rows = q.fetch_all(&mut **tx).await?;
        for r in &rows {
            out.push(pm(r));
        }
    }
    Ok(out)
}

pub async fn methods_of<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    customer_id: &str,
) -> Result<Vec<PaymentMethodRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {PM_COLS} FROM payment_methods WHERE customer_id = $1 AND deleted_at IS NULL ORDER BY id DESC"
    ));
    Ok(sqlx::query(sql).bind(customer_id).fetch_all(ex).await?.iter().map(pm).collect())
}

/// Default payment-method tokens of several customers.
pub async fn default_tokens(tx: &mut Tx, customer_ids: &[String]) -> Result<Vec<(String, String)>, DbError> {
    let mut out = Vec::new();
    for chunk in customer_ids.chunks(200) {
        let list: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT customer_id, token FROM payment_methods WHERE is_default = 1 AND deleted_at IS NULL \
             AND customer_id IN ({})",
            list.join(",")
        ));
        let mut q = sqlx::query(sql);
        for id in chunk {
            q = q.bind(id.clone());
        }
        for r in q.fetch_all(&mut **tx).await? {
            out.push((r.get(0), r.get(1)));
        }
    }
    Ok(out)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DunningRow {
    pub invoice_id: String,
    pub livemode: bool,
    pub customer_id: String,
    pub subscription_id: Option<String>,
    /// `retrying`, `recovered` or `exhausted`.
    pub state: String,
    pub attempt_count: i64,
    pub first_failed_at: i64,
    pub next_attempt_at: Option<i64>,
    pub last_error: String,
    pub updated_at: i64,
}

const COLS: &str = "invoice_id, livemode, customer_id, subscription_id, state, attempt_count, first_failed_at, \
                    next_attempt_at, last_error, updated_at";

pub async fn save(tx: &mut Tx, d: &DunningRow) -> Result<(), DbError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "INSERT INTO dunning ({COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) ON CONFLICT (invoice_id) DO UPDATE SET \
         state = excluded.state, attempt_count = excluded.attempt_count, next_attempt_at = excluded.next_attempt_at, \
         last_error = excluded.last_error, updated_at = excluded.updated_at"
    ));
    sqlx::query(sql)
        .bind(d.invoice_id.clone())
        .bind(i64::from(d.livemode))
        .bind(d.customer_id.clone())
        .bind(d.subscription_id.clone())
        .bind(d.state.clone())
        .bind(d.attempt_count)
        .bind(d.first_failed_at)
        .bind(d.next_attempt_at)
        .bind(d.last_error.clone())
        .bind(d.updated_at)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn get(
    ex: &mut sqlx::AnyConnection,
    invoice_id: &str,
    for_update: &str,
) -> Result<Option<DunningRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {COLS} FROM dunning WHERE invoice_id = $1{for_update}"));
    let r = sqlx::query(sql).bind(invoice_id).fetch_optional(ex).await?;
    Ok(r.map(|r| DunningRow {
        invoice_id: r.get(0),
        livemode: r.get::<i64, _>(1) != 0,
        customer_id: r.get(2),
        subscription_id: r.get(3),
        state: r.get(4),
        attempt_count: r.get(5),
        first_failed_at: r.get(6),
        next_attempt_at: r.get(7),
        last_error: r.get(8),
        updated_at: r.get(9),
    }))
}

/// Invoices whose next retry is due by their customer's clock.
pub async fn due<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    now: i64,
    test_clock: Option<&str>,
    limit: i64,
) -> Result<Vec<String>, DbError> {
    Ok(sqlx::query_scalar(
        "SELECT d.invoice_id FROM dunning d JOIN customers c ON c.id = d.customer_id \
         LEFT JOIN test_clocks t ON t.id = c.test_clock_id \
         WHERE d.state = 'retrying' AND d.next_attempt_at <= COALESCE(t.frozen_time, $1) \
         AND ($2 = '' OR c.test_clock_id = $2) ORDER BY d.next_attempt_at LIMIT $3",
    )
    .bind(now)
    .bind(test_clock.unwrap_or("").to_string())
    .bind(limit)
    .fetch_all(ex)
    .await?)
}

/// Marks an open invoice paid after a successful retry.
pub async fn mark_invoice_paid(tx: &mut Tx, invoice_id: &str, amount: i64, now: i64) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE invoices SET status = 'paid', amount_paid = $2, paid_at = $3 WHERE id = $1 AND status = 'open'",
    )
    .bind(invoice_id)
    .bind(amount)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn set_invoice_status(tx: &mut Tx, invoice_id: &str, status: &str) -> Result<(), DbError> {
    sqlx::query("UPDATE invoices SET status = $2 WHERE id = $1")
        .bind(invoice_id)
        .bind(status)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
