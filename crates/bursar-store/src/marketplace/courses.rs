//! Courses and bundles: the course rows, their prices per currency and a
//! bundle's items.

use crate::db::{DbError, Tx};
use sqlx::{Any, Executor, FromRow};

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct CourseRow {
    pub id: String,
    pub instructor_id: String,
    /// `course` or `bundle`.
    pub kind: String,
    pub title: String,
    pub subtitle: String,
    pub description: String,
    /// JSON array of strings.
    pub topics: String,
    pub level: String,
    pub language: String,
    pub duration_minutes: i64,
    pub thumbnail_key: Option<String>,
    /// JSON array of `{title, key}`.
    pub materials: String,
    pub status: String,
    pub published_at: Option<i64>,
    pub rating_sum: i64,
    pub rating_count: i64,
    pub sales_count: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

const COURSE_COLS: &str = "id, instructor_id, kind, title, subtitle, description, topics, level, language, \
    duration_minutes, thumbnail_key, materials, status, published_at, rating_sum, rating_count, sales_count, \
    created_at, updated_at";

pub async fn insert_course(tx: &mut Tx, livemode: bool, c: &CourseRow) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO courses (id, livemode, instructor_id, kind, title, subtitle, description, topics, level, \
         language, duration_minutes, thumbnail_key, materials, status, published_at, rating_sum, rating_count, \
         sales_count, created_at, updated_at) \
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,0,0,0,$16,$17)",
    )
    .bind(c.id.clone())
    .bind(i64::from(livemode))
    .bind(c.instructor_id.clone())
    .bind(c.kind.clone())
    .bind(c.title.clone())
    .bind(c.subtitle.clone())
    .bind(c.description.clone())
    .bind(c.topics.clone())
    .bind(c.level.clone())
    .bind(c.language.clone())
    .bind(c.duration_minutes)
    .bind(c.thumbnail_key.clone())
    .bind(c.materials.clone())
    .bind(c.status.clone())
    .bind(c.published_at)
    .bind(c.created_at)
    .bind(c.updated_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Writes back the fields an instructor edits (never the counters).
pub async fn save_course(tx: &mut Tx, c: &CourseRow) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE courses SET title = $2, subtitle = $3, description = $4, topics = $5, level = $6, language = $7, \
         duration_minutes = $8, thumbnail_key = $9, materials = $10, status = $11, published_at = $12, \
         updated_at = $13 WHERE id = $1",
    )
    .bind(c.id.clone())
    .bind(c.title.clone())
    .bind(c.subtitle.clone())
    .bind(c.description.clone())
    .bind(c.topics.clone())
    .bind(c.level.clone())
    .bind(c.language.clone())
    .bind(c.duration_minutes)
    .bind(c.thumbnail_key.clone())
    .bind(c.materials.clone())
    .bind(c.status.clone())
    .bind(c.published_at)
    .bind(c.updated_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn course<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    livemode: bool,
    id: &str,
) -> Result<Option<CourseRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {COURSE_COLS} FROM courses WHERE livemode = $1 AND id = $2"));
    Ok(sqlx::query_as(sql).bind(i64::from(livemode)).bind(id).fetch_optional(ex).await?)
}

pub async fn courses_by_ids<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    livemode: bool,
    ids: &[String],
) -> Result<Vec<CourseRow>, DbError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let marks: Vec<String> = (0..ids.len()).map(|i| format!("${}", i + 2)).collect();
    // `+livemode`: the primary key finds the rows; without statistics,
    // SQLite would otherwise walk an index that starts with `livemode`
    // (that is, every course of the mode).
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COURSE_COLS} FROM courses WHERE id IN ({}) AND +livemode = $1 ORDER BY id",
        marks.join(",")
    ));
    let mut q = sqlx::query_as(sql).bind(i64::from(livemode));
    for id in ids {
        q = q.bind(id.clone());
    }
    Ok(q.fetch_all(ex).await?)
}

/// A page of courses, newest last by id, optionally one instructor's or
/// only those in a status.
pub async fn courses<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    livemode: bool,
    instructor: Option<&str>,
    status: Option<&str>,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<CourseRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COURSE_COLS} FROM courses WHERE livemode = $1 AND ($2 = '' OR instructor_id = $2) \
         AND ($3 = '' OR status = $3) AND id > $4 ORDER BY id LIMIT $5"
    ));
    Ok(sqlx::query_as(sql)
        .bind(i64::from(livemode))
        .bind(instructor.unwrap_or(""))
        .bind(status.unwrap_or(""))
        .bind(after.unwrap_or(""))
        .bind(limit)
        .fetch_all(ex)
        .await?)
}

/// Replaces a course's prices.
pub async fn set_prices(tx: &mut Tx, course_id: &str, prices: &[(String, i64)]) -> Result<(), DbError> {
    sqlx::query("DELETE FROM course_prices WHERE course_id = $1").bind(course_id).execute(&mut **tx).await?;
    for (currency, amount) in prices {
        sqlx::query("INSERT INTO course_prices (course_id, currency, amount) VALUES ($1,$2,$3)")
            .bind(course_id)
            .bind(currency.clone())
            .bind(*amount)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// (currency, amount) of each course, ordered by currency.
pub async fn prices_of<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    course_ids: &[String],
) -> Result<Vec<(String, String, i64)>, DbError> {
    if course_ids.is_empty() {
        return Ok(Vec::new());
    }
    let marks: Vec<String> = (0..course_ids.len()).map(|i| format!("${}", i + 1)).collect();
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT course_id, currency, amount FROM course_prices WHERE course_id IN ({}) ORDER BY course_id, currency",
        marks.join(",")
    ));
    let mut q = sqlx::query_as(sql);
    for id in course_ids {
        q = q.bind(id.clone());
    }
    Ok(q.fetch_all(ex).await?)
}

pub async fn set_bundle_items(tx: &mut Tx, bundle_id: &str, courses: &[String]) -> Result<(), DbError> {
    sqlx::query("DELETE FROM bundle_items WHERE bundle_id = $1").bind(bundle_id).execute(&mut **tx).await?;
    for c in courses {
        sqlx::query("INSERT INTO bundle_items (bundle_id, course_id) VALUES ($1,$2)")
            .bind(bundle_id)
            .bind(c.clone())
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

pub async fn bundle_items<'e, E: Executor<'e, Database = Any>>(ex: E, bundle_id: &str) -> Result<Vec<String>, DbError> {
    Ok(sqlx::query_scalar("SELECT course_id FROM bundle_items WHERE bundle_id = $1 ORDER BY course_id")
        .bind(bundle_id)
        .fetch_all(ex)
        .await?)
}

/// Published courses of a mode as (id, updated at), by id, at most `limit`.
pub async fn published_courses<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    livemode: bool,
    limit: i64,
) -> Result<Vec<(String, i64)>, DbError> {
    Ok(sqlx::query_as(
        "SELECT id, updated_at FROM courses WHERE livemode = $1 AND status = 'published' ORDER BY id LIMIT $2",
    )
    .bind(i64::from(livemode))
    .bind(limit)
    .fetch_all(ex)
    .await?)
}
