//! What ties a paid checkout back to its cart, and what each refund took
//! back from an order (so a refused refund is undone exactly).

use crate::db::{DbError, Tx};
use crate::marketplace::CartRow;
use sqlx::{Any, Executor};

/// Records that a cart opened a checkout session.
pub async fn link_session(tx: &mut Tx, session_id: &str, cart_id: &str) -> Result<(), DbError> {
    sqlx::query("INSERT INTO cart_sessions (session_id, cart_id) VALUES ($1, $2) ON CONFLICT (session_id) DO NOTHING")
        .bind(session_id)
        .bind(cart_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The cart that opened a session, whichever of its sessions it was.
pub async fn cart_of_session<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    session_id: &str,
) -> Result<Option<CartRow>, DbError> {
    Ok(sqlx::query_as(
        "SELECT c.id, c.customer_id, c.currency, c.coupon, c.click_id, c.status, c.checkout_session_id, \
         c.created_at, c.updated_at, c.plan_id, c.billing_interval, c.quantity \
         FROM cart_sessions s JOIN carts c ON c.id = s.cart_id WHERE s.session_id = $1",
    )
    .bind(session_id)
    .fetch_optional(ex)
    .await?)
}

/// One credit note's take from one order item.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RefundPart {
    pub credit_note_id: String,
    pub order_item_id: String,
    pub refunded_net: i64,
    pub clawed_back: i64,
    pub commission_cancelled: i64,
}

pub async fn insert_part(tx: &mut Tx, p: &RefundPart) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO order_refunds (credit_note_id, order_item_id, refunded_net, clawed_back, commission_cancelled) \
         VALUES ($1,$2,$3,$4,$5)",
    )
    .bind(p.credit_note_id.clone())
    .bind(p.order_item_id.clone())
    .bind(p.refunded_net)
    .bind(p.clawed_back)
    .bind(p.commission_cancelled)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A credit note's parts, removed (they are being undone).
pub async fn take_parts(tx: &mut Tx, credit_note_id: &str) -> Result<Vec<RefundPart>, DbError> {
    let parts: Vec<RefundPart> = sqlx::query_as(
        "SELECT credit_note_id, order_item_id, refunded_net, clawed_back, commission_cancelled FROM order_refunds \
         WHERE credit_note_id = $1 ORDER BY order_item_id",
    )
    .bind(credit_note_id)
    .fetch_all(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM order_refunds WHERE credit_note_id = $1").bind(credit_note_id).execute(&mut **tx).await?;
    Ok(parts)
}

/// The sale earning of an order item.
pub async fn sale_earning(tx: &mut Tx, order_item_id: &str) -> Result<Option<(i64, Option<String>)>, DbError> {
    Ok(sqlx::query_as(
        "SELECT available_at, payout_id FROM earnings WHERE order_item_id = $1 AND kind = 'sale' ORDER BY id LIMIT 1",
    )
    .bind(order_item_id)
    .fetch_optional(&mut **tx)
    .await?)
}

/// Cancels `amount` of an order's commission if it is still unpaid, in one
/// conditional update (a payout run paying it concurrently wins or loses as
/// a whole). Returns whether it did; the commission becomes `cancelled`
/// when nothing is left.
pub async fn cancel_commission(tx: &mut Tx, order_id: &str, amount: i64, now: i64) -> Result<bool, DbError> {
    let n = sqlx::query(
        "UPDATE commissions SET amount = amount - $2, \
         status = CASE WHEN amount - $2 <= 0 THEN 'cancelled' ELSE status END, updated_at = $3 \
         WHERE order_id = $1 AND status IN ('pending', 'approved') AND payout_id IS NULL AND amount >= $2",
    )
    .bind(order_id)
    .bind(amount)
    .bind(now)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Gives back a cancelled part of an order's commission (its refund was
/// refused): pending again, or approved when its window has closed.
pub async fn restore_commission(tx: &mut Tx, order_id: &str, amount: i64, now: i64) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE commissions SET amount = amount + $2, \
         status = CASE WHEN status = 'cancelled' THEN (CASE WHEN approve_at <= $3 THEN 'approved' ELSE 'pending' END) \
         ELSE status END, updated_at = $3 WHERE order_id = $1 AND payout_id IS NULL",
    )
    .bind(order_id)
    .bind(amount)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Another order of the customer, not refunded, that also grants the
/// course (directly or through a bundle).
pub async fn other_grant(
    tx: &mut Tx,
    customer_id: &str,
    course_id: &str,
    except: &str,
) -> Result<Option<String>, DbError> {
    Ok(sqlx::query_scalar(
        "SELECT o.id FROM orders o JOIN order_items i ON i.order_id = o.id \
         WHERE o.customer_id = $1 AND o.id <> $3 AND o.status <> 'refunded' \
         AND (i.course_id = $2 OR i.course_id IN (SELECT bundle_id FROM bundle_items WHERE course_id = $2)) \
         ORDER BY o.created_at, o.id LIMIT 1",
    )
    .bind(customer_id)
    .bind(course_id)
    .bind(except)
    .fetch_optional(&mut **tx)
    .await?)
}

/// Moves an enrollment to the order that now grants it.
pub async fn regrant(tx: &mut Tx, enrollment_id: &str, order_id: &str) -> Result<(), DbError> {
    sqlx::query("UPDATE enrollments SET order_id = $2, status = 'active' WHERE id = $1")
        .bind(enrollment_id)
        .bind(order_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// One enrollment.
pub async fn enrollment_by_id(
    tx: &mut Tx,
    livemode: bool,
    id: &str,
) -> Result<Option<crate::marketplace::EnrollmentRow>, DbError> {
    Ok(sqlx::query_as(
        "SELECT id, customer_id, course_id, order_id, status, completed_at, created_at FROM enrollments \
         WHERE livemode = $1 AND id = $2",
    )
    .bind(i64::from(livemode))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?)
}

/// Enrollments an order granted that a refund revoked.
pub async fn revoked_of(tx: &mut Tx, order_id: &str) -> Result<Vec<(String, String, String)>, DbError> {
    Ok(sqlx::query_as(
        "SELECT id, customer_id, course_id FROM enrollments WHERE order_id = $1 AND status = 'revoked' ORDER BY id",
    )
    .bind(order_id)
    .fetch_all(&mut **tx)
    .await?)
}

/// Removes a payout a run had started but found too small once it took its
/// rows (another run took some first); its rows must be released first.
pub async fn delete_payout(tx: &mut Tx, payout_id: &str) -> Result<(), DbError> {
    sqlx::query("DELETE FROM payouts WHERE id = $1").bind(payout_id).execute(&mut **tx).await?;
    Ok(())
}

/// Ends every session of an instructor (signed out everywhere).
pub async fn revoke_instructor_sessions(tx: &mut Tx, instructor_id: &str) -> Result<u64, DbError> {
    Ok(sqlx::query("DELETE FROM instructor_sessions WHERE instructor_id = $1")
        .bind(instructor_id)
        .execute(&mut **tx)
        .await?
        .rows_affected())
}

/// A course, locked (PostgreSQL) for the rest of the transaction, so an
/// edit never overwrites a concurrent one with stale fields.
pub async fn course_locked(
    tx: &mut Tx,
    livemode: bool,
    id: &str,
    for_update: &str,
) -> Result<Option<crate::marketplace::CourseRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT id, instructor_id, kind, title, subtitle, description, topics, level, language, duration_minutes, \
         thumbnail_key, materials, status, published_at, rating_sum, rating_count, sales_count, created_at, updated_at \
         FROM courses WHERE livemode = $1 AND id = $2 {for_update}"
    ));
    Ok(sqlx::query_as(sql).bind(i64::from(livemode)).bind(id).fetch_optional(&mut **tx).await?)
}
