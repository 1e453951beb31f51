//! Forms (assessments) and their items, by the platform's codes.

use crate::{DbError, Tx};
use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssessmentRow {
    pub id: String,
    pub livemode: bool,
    pub code: String,
    pub exam: String,
    pub title: String,
    pub course_id: Option<String>,
    pub target_ms_per_item: Option<i64>,
    pub status: String,
    pub metadata: String,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemRow {
    pub id: String,
    pub livemode: bool,
    pub code: String,
    pub version: i64,
    pub exam: String,
    pub topic: String,
    pub skill: Option<String>,
    pub difficulty: i64,
    pub content_hash: Option<String>,
    pub current: bool,
    pub created_at: i64,
}

fn assessment_from(r: AnyRow) -> AssessmentRow {
    AssessmentRow {
        id: r.get(0),
        livemode: r.get::<i64, _>(1) != 0,
        code: r.get(2),
        exam: r.get(3),
        title: r.get(4),
        course_id: r.get(5),
        target_ms_per_item: r.get(6),
        status: r.get(7),
        metadata: r.get(8),
        created_at: r.get(9),
        updated_at: r.get(10),
    }
}

fn item_from(r: AnyRow) -> ItemRow {
    ItemRow {
        id: r.get(0),
        livemode: r.get::<i64, _>(1) != 0,
        code: r.get(2),
        version: r.get(3),
        exam: r.get(4),
        topic: r.get(5),
        skill: r.get(6),
        difficulty: r.get(7),
        content_hash: r.get(8),
        current: r.get::<i64, _>(9) != 0,
        created_at: r.get(10),
    }
}

const ASSESSMENT_COLS: &str =
    "id, livemode, code, exam, title, course_id, target_ms_per_item, status, metadata, created_at, updated_at";
const ITEM_COLS: &str =
    "id, livemode, code, version, exam, topic, skill, difficulty, content_hash, current, created_at";

pub async fn insert_assessment(tx: &mut Tx, a: &AssessmentRow) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO assessments (id, livemode, code, exam, title, course_id, target_ms_per_item, status, metadata, \
         created_at, updated_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)",
    )
    .bind(&a.id)
    .bind(i64::from(a.livemode))
    .bind(&a.code)
    .bind(&a.exam)
    .bind(&a.title)
    .bind(&a.course_id)
    .bind(a.target_ms_per_item)
    .bind(&a.status)
    .bind(&a.metadata)
    .bind(a.created_at)
    .bind(a.updated_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn update_assessment(tx: &mut Tx, a: &AssessmentRow) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE assessments SET exam = $2, title = $3, course_id = $4, target_ms_per_item = $5, status = $6, \
         metadata = $7, updated_at = $8 WHERE id = $1",
    )
    .bind(&a.id)
    .bind(&a.exam)
    .bind(&a.title)
    .bind(&a.course_id)
    .bind(a.target_ms_per_item)
    .bind(&a.status)
    .bind(&a.metadata)
    .bind(a.updated_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn assessment_by_code<'e, E: Executor<'e, Database = Any>>(
    e: E,
    livemode: bool,
    code: &str,
) -> Result<Option<AssessmentRow>, DbError> {
    let sql = format!("SELECT {ASSESSMENT_COLS} FROM assessments WHERE livemode = $1 AND code = $2");
    Ok(sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(i64::from(livemode))
        .bind(code)
        .fetch_optional(e)
        .await?
        .map(assessment_from))
}

pub async fn assessment<'e, E: Executor<'e, Database = Any>>(
    e: E,
    livemode: bool,
    id: &str,
) -> Result<Option<AssessmentRow>, DbError> {
    let sql = format!("SELECT {ASSESSMENT_COLS} FROM assessments WHERE livemode = $1 AND id = $2");
    Ok(sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(i64::from(livemode))
        .bind(id)
        .fetch_optional(e)
        .await?
        .map(assessment_from))
}

/// A page of forms, newest first after `starting_after`; optionally one exam's.
pub async fn list_assessments<'e, E: Executor<'e, Database = Any>>(
    e: E,
    livemode: bool,
    exam: Option<&str>,
    course_ids: Option<&[String]>,
    starting_after: Option<&str>,
    limit: i64,
) -> Result<Vec<AssessmentRow>, DbError> {
    let mut sql = format!("SELECT {ASSESSMENT_COLS} FROM assessments WHERE livemode = $1");
    let mut n = 1;
    if exam.is_some() {
        n += 1;
        sql.push_str(&format!(" AND exam = ${n}"));
    }
    if starting_after.is_some() {
        n += 1;
        sql.push_str(&format!(" AND id < ${n}"));
    }
    if let Some(ids) = course_ids {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let list: Vec<String> = (0..ids.len()).map(|i| format!("${}", n + 1 + i)).collect();
        sql.push_str(&format!(" AND course_id IN ({})", list.join(",")));
    }
    sql.push_str(&format!(" ORDER BY id DESC LIMIT {}", limit.clamp(1, 1000)));
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(i64::from(livemode));
    if let Some(x) = exam {
        q = q.bind(x.to_string());
    }
    if let Some(x) = starting_after {
        q = q.bind(x.to_string());
    }
    if let Some(ids) = course_ids {
        for id in ids {
            q = q.bind(id.clone());
        }
    }
    Ok(q.fetch_all(e).await?.into_iter().map(assessment_from).collect())
}

/// Replaces a form's item list.
pub async fn set_assessment_items(tx: &mut Tx, assessment_id: &str, codes: &[String]) -> Result<(), DbError> {
    sqlx::query("DELETE FROM assessment_items WHERE assessment_id = $1").bind(assessment_id).execute(&mut **tx).await?;
    let backend = crate::db::tx_backend(tx);
    let rows: Vec<(usize, &String)> = codes.iter().enumerate().collect();
    for chunk in rows.chunks(500) {
        let sql = sqlx::AssertSqlSafe(format!(
            "INSERT INTO assessment_items (assessment_id, position, item_code) VALUES {}",
            crate::db::placeholders(backend, chunk.len(), 3)
        ));
        let mut q = sqlx::query(sql);
        for (pos, code) in chunk {
            q = q.bind(assessment_id.to_string()).bind(*pos as i64).bind((*code).clone());
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// A form's item codes in order.
pub async fn assessment_item_codes<'e, E: Executor<'e, Database = Any>>(
    e: E,
    assessment_id: &str,
) -> Result<Vec<String>, DbError> {
    Ok(sqlx::query_scalar("SELECT item_code FROM assessment_items WHERE assessment_id = $1 ORDER BY position")
        .bind(assessment_id)
        .fetch_all(e)
        .await?)
}

/// The current versions of these item codes.
pub async fn current_items(
    tx: &mut sqlx::AnyConnection,
    livemode: bool,
    codes: &[String],
) -> Result<Vec<ItemRow>, DbError> {
    let mut out = Vec::new();
    for chunk in codes.chunks(500) {
        let list: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
        let sql = format!(
            "SELECT {ITEM_COLS} FROM items WHERE livemode = $1 AND current = 1 AND code IN ({})",
            list.join(",")
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(i64::from(livemode));
        for c in chunk {
            q = q.bind(c.clone());
        }
        out.extend(q.fetch_all(&mut *tx).await?.into_iter().map(item_from));
    }
    Ok(out)
}

/// Every version of one item code, oldest first.
pub async fn item_versions<'e, E: Executor<'e, Database = Any>>(
    e: E,
    livemode: bool,
    code: &str,
) -> Result<Vec<ItemRow>, DbError> {
    let sql = format!("SELECT {ITEM_COLS} FROM items WHERE livemode = $1 AND code = $2 ORDER BY version");
    Ok(sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(i64::from(livemode))
        .bind(code)
        .fetch_all(e)
        .await?
        .into_iter()
        .map(item_from)
        .collect())
}

/// Adds an item version and makes it the current one.
pub async fn insert_item_version(tx: &mut Tx, i: &ItemRow) -> Result<(), DbError> {
    sqlx::query("UPDATE items SET current = 0 WHERE livemode = $1 AND code = $2 AND current = 1")
        .bind(i64::from(i.livemode))
        .bind(&i.code)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT INTO items (id, livemode, code, version, exam, topic, skill, difficulty, content_hash, current, \
         created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,1,$10)",
    )
    .bind(&i.id)
    .bind(i64::from(i.livemode))
    .bind(&i.code)
    .bind(i.version)
    .bind(&i.exam)
    .bind(&i.topic)
    .bind(&i.skill)
    .bind(i.difficulty)
    .bind(&i.content_hash)
    .bind(i.created_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Items by row id (any version).
pub async fn items_by_id(conn: &mut sqlx::AnyConnection, ids: &[String]) -> Result<Vec<ItemRow>, DbError> {
    let mut out = Vec::new();
    for chunk in ids.chunks(500) {
        let list: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 1)).collect();
        let sql = format!("SELECT {ITEM_COLS} FROM items WHERE id IN ({})", list.join(","));
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for c in chunk {
            q = q.bind(c.clone());
        }
        out.extend(q.fetch_all(&mut *conn).await?.into_iter().map(item_from));
    }
    Ok(out)
}
