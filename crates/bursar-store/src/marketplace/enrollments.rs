//! Enrollments: who may take which course.

use crate::db::{DbError, Tx};
use sqlx::{Any, Executor, FromRow};

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

/// Marks an active enrollment completed, once: the number of rows changed
/// (0 when it was already completed, revoked or is not there).
pub async fn complete_enrollment(tx: &mut Tx, livemode: bool, id: &str, at: i64) -> Result<u64, DbError> {
    Ok(sqlx::query(
        "UPDATE enrollments SET completed_at = $3 WHERE livemode = $1 AND id = $2 AND completed_at IS NULL \
         AND status = 'active'",
    )
    .bind(i64::from(livemode))
    .bind(id)
    .bind(at)
    .execute(&mut **tx)
    .await?
    .rows_affected())
}

/// Sets when a learner completed a course (demo data).
pub async fn set_enrollment_completed_at(
    tx: &mut Tx,
    customer_id: &str,
    course_id: &str,
    at: i64,
) -> Result<(), DbError> {
    sqlx::query("UPDATE enrollments SET completed_at = $3 WHERE customer_id = $1 AND course_id = $2")
        .bind(customer_id)
        .bind(course_id)
        .bind(at)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
