//! Payouts through a payment provider: destination, provider id and the
//! schedule of status checks.

use crate::db::{DbError, Tx};
use sqlx::{Any, Executor, FromRow};

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
