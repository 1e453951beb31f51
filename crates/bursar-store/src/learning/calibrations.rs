//! IRT calibrations of forms: versioned, run as background jobs, one of
//! them active (learners are scored against it).

use super::flag;
use crate::{DbError, Tx};
use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalibrationRow {
    pub id: String,
    pub livemode: bool,
    pub assessment_id: String,
    pub version: i64,
    pub model: String,
    pub status: String,
    pub progress: i64,
    pub active: bool,
    /// Whether it becomes the form's active calibration when it succeeds.
    pub activate: bool,
    pub persons: Option<i64>,
    pub items: Option<i64>,
    pub params: Option<String>,
    pub report: Option<String>,
    pub flags: Option<String>,
    pub error: Option<String>,
    pub requested_by: String,
    pub lease_until: Option<i64>,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    /// While it runs: what it is doing (`loading`, `classical`, `em`,
    /// `newton`, `scoring`, `finishing`, `saving`), the fit's cycle, and
    /// when the runner last reported.
    pub phase: Option<String>,
    pub iteration: Option<i64>,
    pub progress_at: Option<i64>,
}

const COLS: &str = "id, livemode, assessment_id, version, model, status, progress, active, activate, persons, items, \
     params, report, flags, error, requested_by, lease_until, created_at, started_at, finished_at, phase, iteration, \
     progress_at";
/// Everything but the large documents (lists).
const SHORT_COLS: &str = "id, livemode, assessment_id, version, model, status, progress, active, activate, persons, \
     items, NULL, NULL, NULL, error, requested_by, lease_until, created_at, started_at, finished_at, phase, iteration, \
     progress_at";

fn from_row(r: AnyRow) -> CalibrationRow {
    CalibrationRow {
        id: r.get(0),
        livemode: r.get::<i64, _>(1) != 0,
        assessment_id: r.get(2),
        version: r.get(3),
        model: r.get(4),
        status: r.get(5),
        progress: r.get(6),
        active: r.get::<i64, _>(7) != 0,
        activate: r.get::<i64, _>(8) != 0,
        persons: r.get(9),
        items: r.get(10),
        params: r.get(11),
        report: r.get(12),
        flags: r.get(13),
        error: r.get(14),
        requested_by: r.get(15),
        lease_until: r.get(16),
        created_at: r.get(17),
        started_at: r.get(18),
        finished_at: r.get(19),
        phase: r.get(20),
        iteration: r.get(21),
        progress_at: r.get(22),
    }
}

/// The next version number of a form's calibrations.
pub async fn next_version(tx: &mut Tx, assessment_id: &str) -> Result<i64, DbError> {
    let v: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM calibrations WHERE assessment_id = $1")
        .bind(assessment_id)
        .fetch_one(&mut **tx)
        .await?;
    Ok(v.unwrap_or(0) + 1)
}

pub async fn insert(tx: &mut Tx, c: &CalibrationRow) -> Result<(), DbError> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO calibrations ({COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,$23)"
    )))
    .bind(&c.id)
    .bind(flag(c.livemode))
    .bind(&c.assessment_id)
    .bind(c.version)
    .bind(&c.model)
    .bind(&c.status)
    .bind(c.progress)
    .bind(flag(c.active))
    .bind(flag(c.activate))
    .bind(c.persons)
    .bind(c.items)
    .bind(&c.params)
    .bind(&c.report)
    .bind(&c.flags)
    .bind(&c.error)
    .bind(&c.requested_by)
    .bind(c.lease_until)
    .bind(c.created_at)
    .bind(c.started_at)
    .bind(c.finished_at)
    .bind(&c.phase)
    .bind(c.iteration)
    .bind(c.progress_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn get<'e, E: Executor<'e, Database = Any>>(
    e: E,
    livemode: bool,
    id: &str,
) -> Result<Option<CalibrationRow>, DbError> {
    Ok(sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLS} FROM calibrations WHERE livemode = $1 AND id = $2")))
        .bind(flag(livemode))
        .bind(id)
        .fetch_optional(e)
        .await?
        .map(from_row))
}

/// A form's calibrations, newest first, without their documents.
pub async fn list<'e, E: Executor<'e, Database = Any>>(
    e: E,
    assessment_id: &str,
    limit: i64,
) -> Result<Vec<CalibrationRow>, DbError> {
    Ok(sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {SHORT_COLS} FROM calibrations WHERE assessment_id = $1 ORDER BY version DESC LIMIT {}",
        limit.clamp(1, 1000)
    )))
    .bind(assessment_id)
    .fetch_all(e)
    .await?
    .into_iter()
    .map(from_row)
    .collect())
}

/// The calibration learners of a form are scored against.
pub async fn active<'e, E: Executor<'e, Database = Any>>(
    e: E,
    assessment_id: &str,
) -> Result<Option<CalibrationRow>, DbError> {
    Ok(sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} FROM calibrations WHERE assessment_id = $1 AND active = 1"
    )))
    .bind(assessment_id)
    .fetch_optional(e)
    .await?
    .map(from_row))
}

/// The newest succeeded calibration of a form (its item statistics).
pub async fn latest_succeeded<'e, E: Executor<'e, Database = Any>>(
    e: E,
    assessment_id: &str,
) -> Result<Option<CalibrationRow>, DbError> {
    Ok(sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} FROM calibrations WHERE assessment_id = $1 AND status = 'succeeded' ORDER BY version DESC LIMIT 1"
    )))
    .bind(assessment_id)
    .fetch_optional(e)
    .await?
    .map(from_row))
}

/// Claims the oldest queued calibration, or a running one whose lease ran
/// out (its node died), for `lease_ms`. Another node skips rows being claimed.
pub async fn claim(tx: &mut Tx, skip_locked: &str, now: i64, lease_ms: i64) -> Result<Option<CalibrationRow>, DbError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} FROM calibrations WHERE status = 'queued' OR (status = 'running' AND lease_until < $1) \
         ORDER BY created_at LIMIT 1 {skip_locked}"
    )))
    .bind(now)
    .fetch_optional(&mut **tx)
    .await?
    .map(from_row);
    let Some(mut c) = row else { return Ok(None) };
    c.status = "running".into();
    c.lease_until = Some(now + lease_ms);
    c.started_at = c.started_at.or(Some(now));
    sqlx::query("UPDATE calibrations SET status = 'running', lease_until = $2, started_at = $3 WHERE id = $1")
        .bind(&c.id)
        .bind(c.lease_until)
        .bind(c.started_at)
        .execute(&mut **tx)
        .await?;
    Ok(Some(c))
}

/// What a running calibration reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgressReport<'a> {
    /// 0 to 100.
    pub progress: i64,
    pub phase: &'a str,
    pub iteration: Option<i64>,
    pub at: i64,
    /// The lease is extended to this.
    pub lease_until: i64,
}

/// Records progress (and extends the lease) while a calibration runs.
pub async fn progress<'e, E: Executor<'e, Database = Any>>(
    e: E,
    id: &str,
    p: &ProgressReport<'_>,
) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE calibrations SET progress = $2, lease_until = $3, phase = $4, iteration = $5, progress_at = $6 \
         WHERE id = $1 AND status = 'running'",
    )
    .bind(id)
    .bind(p.progress)
    .bind(p.lease_until)
    .bind(p.phase)
    .bind(p.iteration)
    .bind(p.at)
    .execute(e)
    .await?;
    Ok(())
}

/// Writes a finished calibration (succeeded or failed) and, when it
/// succeeded and was asked to, makes it the form's active one.
pub async fn finish(tx: &mut Tx, c: &CalibrationRow) -> Result<(), DbError> {
    if c.active {
        sqlx::query("UPDATE calibrations SET active = 0 WHERE assessment_id = $1 AND active = 1")
            .bind(&c.assessment_id)
            .execute(&mut **tx)
            .await?;
    }
    sqlx::query(
        "UPDATE calibrations SET status = $2, progress = $3, active = $4, persons = $5, items = $6, params = $7, \
         report = $8, flags = $9, error = $10, lease_until = NULL, finished_at = $11, phase = $12, iteration = $13, \
         progress_at = $14 WHERE id = $1",
    )
    .bind(&c.id)
    .bind(&c.status)
    .bind(c.progress)
    .bind(flag(c.active))
    .bind(c.persons)
    .bind(c.items)
    .bind(&c.params)
    .bind(&c.report)
    .bind(&c.flags)
    .bind(&c.error)
    .bind(c.finished_at)
    .bind(&c.phase)
    .bind(c.iteration)
    .bind(c.progress_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Makes a succeeded calibration the form's active one.
pub async fn set_active(tx: &mut Tx, assessment_id: &str, id: &str) -> Result<(), DbError> {
    sqlx::query("UPDATE calibrations SET active = 0 WHERE assessment_id = $1 AND active = 1")
        .bind(assessment_id)
        .execute(&mut **tx)
        .await?;
    sqlx::query("UPDATE calibrations SET active = 1 WHERE id = $1 AND status = 'succeeded'")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The newest succeeded calibration of each of some forms, with its flags
/// but without its report and parameters (lists of forms).
pub async fn latest_succeeded_flags<'e, E: Executor<'e, Database = Any>>(
    e: E,
    assessment_ids: &[String],
) -> Result<Vec<CalibrationRow>, DbError> {
    if assessment_ids.is_empty() {
        return Ok(Vec::new());
    }
    let list: Vec<String> = (0..assessment_ids.len()).map(|i| format!("${}", i + 1)).collect();
    let cols = SHORT_COLS.replace("NULL, NULL, NULL", "NULL, NULL, flags");
    let sql = format!(
        "SELECT {cols} FROM calibrations c WHERE status = 'succeeded' AND assessment_id IN ({}) \
         AND version = (SELECT MAX(version) FROM calibrations x WHERE x.assessment_id = c.assessment_id \
         AND x.status = 'succeeded')",
        list.join(",")
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for id in assessment_ids {
        q = q.bind(id.clone());
    }
    Ok(q.fetch_all(e).await?.into_iter().map(from_row).collect())
}
