//! The signals recommendations are computed from: who holds which course
//! (active enrollments, i.e. purchases) and who completed it.

use crate::db::DbError;
use sqlx::{Any, Executor};

/// Courses held together with `course_id` and by how many learners:
/// `(other course, learners holding both)`, most first.
pub async fn co_enrolled<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    course_id: &str,
    limit: i64,
) -> Result<Vec<(String, i64)>, DbError> {
    Ok(sqlx::query_as(
        "SELECT b.course_id, CAST(COUNT(*) AS BIGINT) AS n FROM enrollments a \
         JOIN enrollments b ON b.customer_id = a.customer_id AND b.course_id <> a.course_id AND b.status = 'active' \
         WHERE a.course_id = $1 AND a.status = 'active' \
         GROUP BY b.course_id ORDER BY n DESC, b.course_id LIMIT $2",
    )
    .bind(course_id)
    .bind(limit)
    .fetch_all(ex)
    .await?)
}

/// How many learners hold each of `ids`.
pub async fn holders<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    ids: &[String],
) -> Result<Vec<(String, i64)>, DbError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let marks: Vec<String> = (0..ids.len()).map(|i| format!("${}", i + 1)).collect();
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT course_id, CAST(COUNT(*) AS BIGINT) FROM enrollments WHERE status = 'active' AND course_id IN ({}) \
         GROUP BY course_id",
        marks.join(",")
    ));
    let mut q = sqlx::query_as(sql);
    for id in ids {
        q = q.bind(id.clone());
    }
    Ok(q.fetch_all(ex).await?)
}

/// A learner's courses: `(course, completed)`.
pub async fn held_by<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    customer_id: &str,
) -> Result<Vec<(String, bool)>, DbError> {
    let rows: Vec<(String, Option<i64>)> = sqlx::query_as(
        "SELECT course_id, completed_at FROM enrollments WHERE customer_id = $1 AND status = 'active' ORDER BY course_id",
    )
    .bind(customer_id)
    .fetch_all(ex)
    .await?;
    Ok(rows.into_iter().map(|(c, done)| (c, done.is_some())).collect())
}

/// Published courses by sales, the fallback when there is no signal.
pub async fn best_selling<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    livemode: bool,
    limit: i64,
) -> Result<Vec<String>, DbError> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM courses WHERE livemode = $1 AND status = 'published' ORDER BY sales_count DESC, id LIMIT $2",
    )
    .bind(i64::from(livemode))
    .bind(limit)
    .fetch_all(ex)
    .await?)
}
