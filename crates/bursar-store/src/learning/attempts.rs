//! Learners, their attempts at forms and the responses in them.

use super::flag;
use crate::{DbError, Tx};
use futures::TryStreamExt;
use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LearnerRow {
    pub livemode: bool,
    pub learner: String,
    pub country: Option<String>,
    pub organization: Option<String>,
    pub time_zone: String,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRow {
    pub id: String,
    pub livemode: bool,
    pub external_id: String,
    pub learner: String,
    pub assessment_id: String,
    pub exam: String,
    pub status: String,
    pub started_at: i64,
    pub ended_at: Option<i64>,
    pub responses: i64,
    pub score_milli: i64,
    pub max_score_milli: i64,
    pub time_ms: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseRow {
    pub attempt_id: String,
    pub external_id: String,
    pub item_id: String,
    pub item_code: String,
    pub score_milli: i64,
    pub time_ms: Option<i64>,
    pub answered_at: i64,
    pub flags: i64,
}

const ATTEMPT_COLS: &str = "id, livemode, external_id, learner, assessment_id, exam, status, started_at, ended_at, \
     responses, score_milli, max_score_milli, time_ms, created_at, updated_at";

fn attempt_from(r: AnyRow) -> AttemptRow {
    AttemptRow {
        id: r.get(0),
        livemode: r.get::<i64, _>(1) != 0,
        external_id: r.get(2),
        learner: r.get(3),
        assessment_id: r.get(4),
        exam: r.get(5),
        status: r.get(6),
        started_at: r.get(7),
        ended_at: r.get(8),
        responses: r.get(9),
        score_milli: r.get(10),
        max_score_milli: r.get(11),
        time_ms: r.get(12),
        created_at: r.get(13),
        updated_at: r.get(14),
    }
}

fn in_list(first: usize, n: usize) -> String {
    (0..n).map(|i| format!("${}", first + i)).collect::<Vec<_>>().join(",")
}

/// The learners among `ids` that exist, locked for the transaction on
/// PostgreSQL (concurrent batches for one learner take turns).
pub async fn learners_locked(
    tx: &mut Tx,
    for_update: &str,
    livemode: bool,
    ids: &[String],
) -> Result<Vec<LearnerRow>, DbError> {
    let mut out = Vec::new();
    for chunk in ids.chunks(500) {
        let sql = format!(
            "SELECT livemode, learner, country, organization, time_zone, created_at, updated_at FROM learners \
             WHERE livemode = $1 AND learner IN ({}) ORDER BY learner {for_update}",
            in_list(2, chunk.len())
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(i64::from(livemode));
        for id in chunk {
            q = q.bind(id.clone());
        }
        out.extend(q.fetch_all(&mut **tx).await?.into_iter().map(|r| LearnerRow {
            livemode: r.get::<i64, _>(0) != 0,
            learner: r.get(1),
            country: r.get(2),
            organization: r.get(3),
            time_zone: r.get(4),
            created_at: r.get(5),
            updated_at: r.get(6),
        }));
    }
    Ok(out)
}

/// One learner, if known.
pub async fn learner<'e, E: Executor<'e, Database = Any>>(
    e: E,
    livemode: bool,
    learner: &str,
) -> Result<Option<LearnerRow>, DbError> {
    let r = sqlx::query(
        "SELECT livemode, learner, country, organization, time_zone, created_at, updated_at FROM learners \
         WHERE livemode = $1 AND learner = $2",
    )
    .bind(i64::from(livemode))
    .bind(learner)
    .fetch_optional(e)
    .await?;
    Ok(r.map(|r| LearnerRow {
        livemode: r.get::<i64, _>(0) != 0,
        learner: r.get(1),
        country: r.get(2),
        organization: r.get(3),
        time_zone: r.get(4),
        created_at: r.get(5),
        updated_at: r.get(6),
    }))
}

/// Writes learners (new ones, and the profile fields of known ones).
pub async fn upsert_learners(tx: &mut Tx, rows: &[LearnerRow]) -> Result<(), DbError> {
    let backend = crate::db::tx_backend(tx);
    for chunk in rows.chunks(500) {
        let sql = sqlx::AssertSqlSafe(format!(
            "INSERT INTO learners (livemode, learner, country, organization, time_zone, created_at, updated_at) \
             VALUES {} ON CONFLICT (livemode, learner) DO UPDATE SET country = excluded.country, \
             organization = excluded.organization, time_zone = excluded.time_zone, updated_at = excluded.updated_at",
            crate::db::placeholders(backend, chunk.len(), 7)
        ));
        let mut q = sqlx::query(sql);
        for l in chunk {
            q = q
                .bind(flag(l.livemode))
                .bind(l.learner.clone())
                .bind(l.country.clone())
                .bind(l.organization.clone())
                .bind(l.time_zone.clone())
                .bind(l.created_at)
                .bind(l.updated_at);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Attempts by the platform's ids.
pub async fn attempts_by_external(
    tx: &mut Tx,
    livemode: bool,
    external_ids: &[String],
) -> Result<Vec<AttemptRow>, DbError> {
    let mut out = Vec::new();
    for chunk in external_ids.chunks(500) {
        let sql = format!(
            "SELECT {ATTEMPT_COLS} FROM attempts WHERE livemode = $1 AND external_id IN ({})",
            in_list(2, chunk.len())
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(i64::from(livemode));
        for id in chunk {
            q = q.bind(id.clone());
        }
        out.extend(q.fetch_all(&mut **tx).await?.into_iter().map(attempt_from));
    }
    Ok(out)
}

/// Writes attempts: new ones inserted, known ones (same id) updated.
pub async fn upsert_attempts(tx: &mut Tx, rows: &[AttemptRow]) -> Result<(), DbError> {
    let backend = crate::db::tx_backend(tx);
    for chunk in rows.chunks(400) {
        let sql = sqlx::AssertSqlSafe(format!(
            "INSERT INTO attempts ({ATTEMPT_COLS}) VALUES {} ON CONFLICT (id) DO UPDATE SET status = excluded.status, \
             ended_at = excluded.ended_at, responses = excluded.responses, score_milli = excluded.score_milli, \
             max_score_milli = excluded.max_score_milli, time_ms = excluded.time_ms, updated_at = excluded.updated_at",
            crate::db::placeholders(backend, chunk.len(), 15)
        ));
        let mut q = sqlx::query(sql);
        for a in chunk {
            q = q
                .bind(a.id.clone())
                .bind(flag(a.livemode))
                .bind(a.external_id.clone())
                .bind(a.learner.clone())
                .bind(a.assessment_id.clone())
                .bind(a.exam.clone())
                .bind(a.status.clone())
                .bind(a.started_at)
                .bind(a.ended_at)
                .bind(a.responses)
                .bind(a.score_milli)
                .bind(a.max_score_milli)
                .bind(a.time_ms)
                .bind(a.created_at)
                .bind(a.updated_at);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Inserts responses; those already recorded (same attempt and platform
/// id) are left alone. Returns the (attempt id, platform id) of the new ones.
pub async fn insert_responses(tx: &mut Tx, rows: &[ResponseRow]) -> Result<Vec<(String, String)>, DbError> {
    let backend = crate::db::tx_backend(tx);
    let mut inserted = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(1000) {
        let sql = sqlx::AssertSqlSafe(format!(
            "INSERT INTO responses (attempt_id, external_id, item_id, item_code, score_milli, time_ms, answered_at, \
             flags) VALUES {} ON CONFLICT (attempt_id, external_id) DO NOTHING RETURNING attempt_id, external_id",
            crate::db::placeholders(backend, chunk.len(), 8)
        ));
        let mut q = sqlx::query_as::<_, (String, String)>(sql);
        for r in chunk {
            q = q
                .bind(r.attempt_id.clone())
                .bind(r.external_id.clone())
                .bind(r.item_id.clone())
                .bind(r.item_code.clone())
                .bind(r.score_milli)
                .bind(r.time_ms)
                .bind(r.answered_at)
                .bind(r.flags);
        }
        inserted.extend(q.fetch_all(&mut **tx).await?);
    }
    Ok(inserted)
}

pub async fn attempt<'e, E: Executor<'e, Database = Any>>(
    e: E,
    livemode: bool,
    id: &str,
) -> Result<Option<AttemptRow>, DbError> {
    let sql = format!("SELECT {ATTEMPT_COLS} FROM attempts WHERE livemode = $1 AND (id = $2 OR external_id = $2)");
    Ok(sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(i64::from(livemode))
        .bind(id)
        .fetch_optional(e)
        .await?
        .map(attempt_from))
}

/// A learner's attempts, newest first (one exam's, or all).
pub async fn learner_attempts<'e, E: Executor<'e, Database = Any>>(
    e: E,
    livemode: bool,
    learner: &str,
    exam: Option<&str>,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<AttemptRow>, DbError> {
    let exam_filter = if exam.is_some() { "AND exam = $4" } else { "" };
    let sql = format!(
        "SELECT {ATTEMPT_COLS} FROM attempts WHERE livemode = $1 AND learner = $2 AND started_at < $3 {exam_filter} \
         ORDER BY started_at DESC, id DESC LIMIT {}",
        limit.clamp(1, 10_000)
    );
    let mut q =
        sqlx::query(sqlx::AssertSqlSafe(sql)).bind(i64::from(livemode)).bind(learner).bind(before.unwrap_or(i64::MAX));
    if let Some(x) = exam {
        q = q.bind(x.to_string());
    }
    Ok(q.fetch_all(e).await?.into_iter().map(attempt_from).collect())
}

/// A form's attempts, oldest first after `after_id` (for exports).
pub async fn assessment_attempts<'e, E: Executor<'e, Database = Any>>(
    e: E,
    assessment_id: &str,
    after_id: Option<&str>,
    limit: i64,
) -> Result<Vec<AttemptRow>, DbError> {
    let sql = format!(
        "SELECT {ATTEMPT_COLS} FROM attempts WHERE assessment_id = $1 AND id > $2 ORDER BY id LIMIT {}",
        limit.clamp(1, 10_000)
    );
    Ok(sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(assessment_id)
        .bind(after_id.unwrap_or(""))
        .fetch_all(e)
        .await?
        .into_iter()
        .map(attempt_from)
        .collect())
}

/// An attempt's responses in the order they were answered.
pub async fn attempt_responses<'e, E: Executor<'e, Database = Any>>(
    e: E,
    attempt_id: &str,
) -> Result<Vec<ResponseRow>, DbError> {
    let rows = sqlx::query(
        "SELECT attempt_id, external_id, item_id, item_code, score_milli, time_ms, answered_at, flags FROM responses \
         WHERE attempt_id = $1 ORDER BY answered_at, id",
    )
    .bind(attempt_id)
    .fetch_all(e)
    .await?;
    Ok(rows.into_iter().map(response_from).collect())
}

fn response_from(r: AnyRow) -> ResponseRow {
    ResponseRow {
        attempt_id: r.get(0),
        external_id: r.get(1),
        item_id: r.get(2),
        item_code: r.get(3),
        score_milli: r.get(4),
        time_ms: r.get(5),
        answered_at: r.get(6),
        flags: r.get(7),
    }
}

/// A learner's latest answer to each item of a form (over all their
/// attempts at it): item code → score.
pub async fn latest_answers<'e, E: Executor<'e, Database = Any>>(
    e: E,
    livemode: bool,
    learner: &str,
    assessment_id: &str,
) -> Result<Vec<(String, i64)>, DbError> {
    let rows: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT r.item_code, r.score_milli, r.answered_at FROM attempts a JOIN responses r ON r.attempt_id = a.id \
         WHERE a.livemode = $1 AND a.learner = $2 AND a.assessment_id = $3 ORDER BY r.answered_at, r.id",
    )
    .bind(i64::from(livemode))
    .bind(learner)
    .bind(assessment_id)
    .fetch_all(e)
    .await?;
    let mut latest: std::collections::BTreeMap<String, i64> = std::collections::BTreeMap::new();
    for (code, score, _) in rows {
        latest.insert(code, score);
    }
    Ok(latest.into_iter().collect())
}

/// One response of a calibration's source: the person (a learner's first
/// completed attempt at the form), the item code, the score and the time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceResponse {
    pub attempt_id: String,
    pub learner: String,
    pub item_code: String,
    pub score_milli: i64,
    pub time_ms: Option<i64>,
}

/// Streams the responses of a form's completed attempts, grouped by
/// learner and, within a learner, by attempt in the order they started,
/// to `f`. Memory stays that of one row.
pub async fn for_each_source_response(
    conn: &mut sqlx::AnyConnection,
    assessment_id: &str,
    mut f: impl FnMut(SourceResponse),
) -> Result<u64, DbError> {
    let mut rows = sqlx::query(
        "SELECT a.id, a.learner, r.item_code, r.score_milli, r.time_ms FROM attempts a \
         JOIN responses r ON r.attempt_id = a.id WHERE a.assessment_id = $1 AND a.status = 'completed' \
         ORDER BY a.learner, a.started_at, a.id",
    )
    .bind(assessment_id)
    .fetch(&mut *conn);
    let mut n = 0;
    while let Some(r) = rows.try_next().await? {
        n += 1;
        f(SourceResponse {
            attempt_id: r.get(0),
            learner: r.get(1),
            item_code: r.get(2),
            score_milli: r.get(3),
            time_ms: r.get(4),
        });
    }
    Ok(n)
}

/// Every response of a form's attempts with its attempt (for the CSV export),
/// in attempt order after `after_attempt`, at most `limit` attempts.
pub async fn export_rows<'e, E: Executor<'e, Database = Any>>(
    e: E,
    assessment_id: &str,
    after_attempt: &str,
    limit: i64,
) -> Result<Vec<(AttemptRow, ResponseRow)>, DbError> {
    let sql = format!(
        "SELECT a.id, a.livemode, a.external_id, a.learner, a.assessment_id, a.exam, a.status, a.started_at, \
         a.ended_at, a.responses, a.score_milli, a.max_score_milli, a.time_ms, a.created_at, a.updated_at, \
         r.attempt_id, r.external_id, r.item_id, r.item_code, r.score_milli, r.time_ms, r.answered_at, r.flags \
         FROM attempts a JOIN responses r ON r.attempt_id = a.id WHERE a.id IN (SELECT id FROM attempts \
         WHERE assessment_id = $1 AND id > $2 ORDER BY id LIMIT {}) ORDER BY a.id, r.answered_at, r.id",
        limit.clamp(1, 10_000)
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(assessment_id).bind(after_attempt).fetch_all(e).await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let a = AttemptRow {
                id: r.get(0),
                livemode: r.get::<i64, _>(1) != 0,
                external_id: r.get(2),
                learner: r.get(3),
                assessment_id: r.get(4),
                exam: r.get(5),
                status: r.get(6),
                started_at: r.get(7),
                ended_at: r.get(8),
                responses: r.get(9),
                score_milli: r.get(10),
                max_score_milli: r.get(11),
                time_ms: r.get(12),
                created_at: r.get(13),
                updated_at: r.get(14),
            };
            let x = ResponseRow {
                attempt_id: r.get(15),
                external_id: r.get(16),
                item_id: r.get(17),
                item_code: r.get(18),
                score_milli: r.get(19),
                time_ms: r.get(20),
                answered_at: r.get(21),
                flags: r.get(22),
            };
            (a, x)
        })
        .collect())
}

/// Completed attempts of the forms of some courses, per course.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CourseScoreRow {
    pub course_id: String,
    pub attempts_completed: i64,
    /// Distinct learners with a completed attempt.
    pub learners: i64,
    pub score_milli: i64,
    pub max_score_milli: i64,
}

/// Per course: the completed attempts of its forms, their learners and
/// their summed scores and maxima (from the attempts' own totals).
pub async fn course_scores<'e, E: Executor<'e, Database = Any>>(
    e: E,
    livemode: bool,
    course_ids: &[String],
) -> Result<Vec<CourseScoreRow>, DbError> {
    if course_ids.is_empty() {
        return Ok(Vec::new());
    }
    let list: Vec<String> = (0..course_ids.len()).map(|i| format!("${}", i + 2)).collect();
    let sql = format!(
        "SELECT a.course_id, CAST(COUNT(*) AS BIGINT), CAST(COUNT(DISTINCT t.learner) AS BIGINT), \
         CAST(COALESCE(SUM(t.score_milli), 0) AS BIGINT), CAST(COALESCE(SUM(t.max_score_milli), 0) AS BIGINT) \
         FROM assessments a JOIN attempts t ON t.assessment_id = a.id AND t.status = 'completed' \
         WHERE a.livemode = $1 AND a.course_id IN ({}) GROUP BY a.course_id",
        list.join(",")
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(i64::from(livemode));
    for id in course_ids {
        q = q.bind(id.clone());
    }
    Ok(q.fetch_all(e)
        .await?
        .into_iter()
        .map(|r| CourseScoreRow {
            course_id: r.get(0),
            attempts_completed: r.get(1),
            learners: r.get(2),
            score_milli: r.get(3),
            max_score_milli: r.get(4),
        })
        .collect())
}
