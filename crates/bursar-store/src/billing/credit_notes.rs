//! Credit notes.

use crate::db::{DbError, Tx};
use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

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
