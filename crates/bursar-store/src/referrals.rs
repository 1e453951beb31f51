//! The learner referral program: its amounts, each learner's code, and
//! who referred whom.

use crate::db::{DbError, Tx};
use sqlx::{Any, Executor, FromRow};

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct ProgramRow {
    /// JSON `{"EUR": 500}`: credit for the new learner.
    pub give: String,
    /// JSON: credit for the referrer once the new learner buys.
    pub reward: String,
    pub active: i64,
    pub updated_at: i64,
}

pub async fn program<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    livemode: bool,
) -> Result<Option<ProgramRow>, DbError> {
    Ok(sqlx::query_as("SELECT give, reward, active, updated_at FROM referral_programs WHERE livemode = $1")
        .bind(i64::from(livemode))
        .fetch_optional(ex)
        .await?)
}

pub async fn set_program(tx: &mut Tx, livemode: bool, p: &ProgramRow) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO referral_programs (livemode, give, reward, active, updated_at) VALUES ($1,$2,$3,$4,$5) \
         ON CONFLICT (livemode) DO UPDATE SET give = excluded.give, reward = excluded.reward, \
         active = excluded.active, updated_at = excluded.updated_at",
    )
    .bind(i64::from(livemode))
    .bind(p.give.clone())
    .bind(p.reward.clone())
    .bind(p.active)
    .bind(p.updated_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The customer's code, if they have one.
pub async fn code_of<'e, E: Executor<'e, Database = Any>>(ex: E, customer_id: &str) -> Result<Option<String>, DbError> {
    Ok(sqlx::query_scalar("SELECT code FROM referral_codes WHERE customer_id = $1")
        .bind(customer_id)
        .fetch_optional(ex)
        .await?)
}

/// Gives a customer a code; false when the code is taken (or they have one).
pub async fn insert_code(
    tx: &mut Tx,
    livemode: bool,
    customer_id: &str,
    code: &str,
    now: i64,
) -> Result<bool, DbError> {
    let r = sqlx::query(
        "INSERT INTO referral_codes (customer_id, livemode, code, created_at) VALUES ($1,$2,$3,$4) ON CONFLICT DO NOTHING",
    )
    .bind(customer_id)
    .bind(i64::from(livemode))
    .bind(code)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// The customer a code belongs to.
pub async fn owner_of<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    livemode: bool,
    code: &str,
) -> Result<Option<String>, DbError> {
    Ok(sqlx::query_scalar("SELECT customer_id FROM referral_codes WHERE livemode = $1 AND code = $2")
        .bind(i64::from(livemode))
        .bind(code)
        .fetch_optional(ex)
        .await?)
}

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct ReferralRow {
    pub id: String,
    pub referrer_id: String,
    pub referee_id: String,
    pub code: String,
    pub status: String,
    pub give_currency: Option<String>,
    pub give_amount: i64,
    pub reward_currency: Option<String>,
    pub reward_amount: i64,
    pub created_at: i64,
    pub rewarded_at: Option<i64>,
}

const COLS: &str = "id, referrer_id, referee_id, code, status, give_currency, give_amount, reward_currency, \
    reward_amount, created_at, rewarded_at";

/// Records a referral; false when the new learner was already referred.
pub async fn insert(tx: &mut Tx, livemode: bool, r: &ReferralRow) -> Result<bool, DbError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "INSERT INTO referrals (livemode, {COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12) \
         ON CONFLICT (referee_id) DO NOTHING"
    ));
    let res = sqlx::query(sql)
        .bind(i64::from(livemode))
        .bind(r.id.clone())
        .bind(r.referrer_id.clone())
        .bind(r.referee_id.clone())
        .bind(r.code.clone())
        .bind(r.status.clone())
        .bind(r.give_currency.clone())
        .bind(r.give_amount)
        .bind(r.reward_currency.clone())
        .bind(r.reward_amount)
        .bind(r.created_at)
        .bind(r.rewarded_at)
        .execute(&mut **tx)
        .await?;
    Ok(res.rows_affected() == 1)
}

/// Marks the pending referral of a referee rewarded, atomically: returns
/// it only to the one caller that moved it.
pub async fn reward_pending(
    tx: &mut Tx,
    referee_id: &str,
    order_id: &str,
    now: i64,
) -> Result<Option<ReferralRow>, DbError> {
    let n = sqlx::query(
        "UPDATE referrals SET status = 'rewarded', rewarded_at = $2, order_id = $3 \
         WHERE referee_id = $1 AND status = 'pending'",
    )
    .bind(referee_id)
    .bind(now)
    .bind(order_id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if n == 0 {
        return Ok(None);
    }
    let sql = sqlx::AssertSqlSafe(format!("SELECT {COLS} FROM referrals WHERE referee_id = $1"));
    Ok(sqlx::query_as(sql).bind(referee_id).fetch_optional(&mut **tx).await?)
}

pub async fn referred_by<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    livemode: bool,
    referrer_id: &str,
) -> Result<Vec<ReferralRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} FROM referrals WHERE livemode = $1 AND referrer_id = $2 ORDER BY created_at, id"
    ));
    Ok(sqlx::query_as(sql).bind(i64::from(livemode)).bind(referrer_id).fetch_all(ex).await?)
}

pub async fn of_referee<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    referee_id: &str,
) -> Result<Option<ReferralRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {COLS} FROM referrals WHERE referee_id = $1"));
    Ok(sqlx::query_as(sql).bind(referee_id).fetch_optional(ex).await?)
}

/// A referral whose reward an order earned, moved from `from` to `to`
/// atomically: returned only to the one caller that moved it, with the
/// amount taken back so far.
pub async fn move_by_order(
    tx: &mut Tx,
    order_id: &str,
    from: &str,
    to: &str,
) -> Result<Option<(ReferralRow, i64)>, DbError> {
    let n = sqlx::query("UPDATE referrals SET status = $3 WHERE order_id = $1 AND status = $2")
        .bind(order_id)
        .bind(from)
        .bind(to)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    if n == 0 {
        return Ok(None);
    }
    #[derive(FromRow)]
    struct Moved {
        #[sqlx(flatten)]
        row: ReferralRow,
        reversed_amount: i64,
    }
    let sql = sqlx::AssertSqlSafe(format!("SELECT {COLS}, reversed_amount FROM referrals WHERE order_id = $1"));
    let moved: Option<Moved> = sqlx::query_as(sql).bind(order_id).fetch_optional(&mut **tx).await?;
    Ok(moved.map(|m| (m.row, m.reversed_amount)))
}

pub async fn set_reversed_amount(tx: &mut Tx, id: &str, amount: i64) -> Result<(), DbError> {
    sqlx::query("UPDATE referrals SET reversed_amount = $2 WHERE id = $1")
        .bind(id)
        .bind(amount)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
