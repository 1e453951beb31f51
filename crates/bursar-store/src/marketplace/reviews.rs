//! Reviews, course ratings and wishlists.

use crate::db::{DbError, Tx};
use sqlx::{Any, Executor, FromRow};

use super::course_set::CourseSet;

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct ReviewRow {
    pub id: String,
    pub course_id: String,
    pub customer_id: String,
    pub rating: i64,
    pub title: String,
    pub body: String,
    pub status: String,
    pub reply: Option<String>,
    pub replied_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

const REVIEW_COLS: &str =
    "id, course_id, customer_id, rating, title, body, status, reply, replied_at, created_at, updated_at";

/// Inserts a review; false when the customer already reviewed the course.
pub async fn insert_review(tx: &mut Tx, livemode: bool, r: &ReviewRow) -> Result<bool, DbError> {
    let res = sqlx::query(
        "INSERT INTO reviews (id, livemode, course_id, customer_id, rating, title, body, status, reply, replied_at, \
         created_at, updated_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12) \
         ON CONFLICT (course_id, customer_id) DO NOTHING",
    )
    .bind(r.id.clone())
    .bind(i64::from(livemode))
    .bind(r.course_id.clone())
    .bind(r.customer_id.clone())
    .bind(r.rating)
    .bind(r.title.clone())
    .bind(r.body.clone())
    .bind(r.status.clone())
    .bind(r.reply.clone())
    .bind(r.replied_at)
    .bind(r.created_at)
    .bind(r.updated_at)
    .execute(&mut **tx)
    .await?;
    Ok(res.rows_affected() == 1)
}

pub async fn save_review(tx: &mut Tx, r: &ReviewRow) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE reviews SET rating = $2, title = $3, body = $4, status = $5, reply = $6, replied_at = $7, \
         updated_at = $8 WHERE id = $1",
    )
    .bind(r.id.clone())
    .bind(r.rating)
    .bind(r.title.clone())
    .bind(r.body.clone())
    .bind(r.status.clone())
    .bind(r.reply.clone())
    .bind(r.replied_at)
    .bind(r.updated_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A review, locked for the rest of the transaction when asked.
pub async fn review(tx: &mut Tx, livemode: bool, id: &str, for_update: &str) -> Result<Option<ReviewRow>, DbError> {
    let sql =
        sqlx::AssertSqlSafe(format!("SELECT {REVIEW_COLS} FROM reviews WHERE livemode = $1 AND id = $2 {for_update}"));
    Ok(sqlx::query_as(sql).bind(i64::from(livemode)).bind(id).fetch_optional(&mut **tx).await?)
}

pub async fn reviews<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    livemode: bool,
    course_id: &str,
    include_hidden: bool,
) -> Result<Vec<ReviewRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {REVIEW_COLS} FROM reviews WHERE livemode = $1 AND course_id = $2 AND ($3 = 1 OR status = 'visible') \
         ORDER BY id"
    ));
    Ok(sqlx::query_as(sql)
        .bind(i64::from(livemode))
        .bind(course_id)
        .bind(i64::from(include_hidden))
        .fetch_all(ex)
        .await?)
}

/// Moves a course's rating totals by a relative amount, so concurrent
/// reviews never lose one another's counts.
pub async fn adjust_rating(tx: &mut Tx, course_id: &str, sum: i64, count: i64) -> Result<(), DbError> {
    sqlx::query("UPDATE courses SET rating_sum = rating_sum + $2, rating_count = rating_count + $3 WHERE id = $1")
        .bind(course_id)
        .bind(sum)
        .bind(count)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Adds to a wishlist; false when it was already there.
pub async fn wish(tx: &mut Tx, customer_id: &str, course_id: &str, now: i64) -> Result<bool, DbError> {
    CourseSet::Wishlist.add(tx, customer_id, course_id, now).await
}

pub async fn unwish(tx: &mut Tx, customer_id: &str, course_id: &str) -> Result<bool, DbError> {
    CourseSet::Wishlist.remove(tx, customer_id, course_id).await
}

pub async fn wishlist<'e, E: Executor<'e, Database = Any>>(ex: E, customer_id: &str) -> Result<Vec<String>, DbError> {
    CourseSet::Wishlist.list(ex, customer_id).await
}
