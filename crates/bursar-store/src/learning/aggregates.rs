//! The aggregates new responses update: per learner and exam, per topic,
//! per difficulty band and fortnight, study days, and score histograms per
//! cohort. Written by the ingesting transaction; read by dashboards.

use super::flag;
use crate::{DbError, Tx};
use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExamStatsRow {
    pub livemode: bool,
    pub learner: String,
    pub exam: String,
    pub attempts_completed: i64,
    pub completed_score_milli: i64,
    pub completed_max_milli: i64,
    pub responses: i64,
    pub score_milli: i64,
    pub time_ms: i64,
    pub timed: i64,
    pub rushed: i64,
    pub overtime: i64,
    pub timed_ms: i64,
    pub target_ms: i64,
    /// The learner's histogram bucket (average score in thousandths), -1 before a completed attempt.
    pub bucket: i64,
    pub last_activity_at: i64,
}

const EXAM_COLS: &str = "livemode, learner, exam, attempts_completed, completed_score_milli, completed_max_milli, \
     responses, score_milli, time_ms, timed, rushed, overtime, timed_ms, target_ms, bucket, last_activity_at";

fn exam_from(r: AnyRow) -> ExamStatsRow {
    ExamStatsRow {
        livemode: r.get::<i64, _>(0) != 0,
        learner: r.get(1),
        exam: r.get(2),
        attempts_completed: r.get(3),
        completed_score_milli: r.get(4),
        completed_max_milli: r.get(5),
        responses: r.get(6),
        score_milli: r.get(7),
        time_ms: r.get(8),
        timed: r.get(9),
        rushed: r.get(10),
        overtime: r.get(11),
        timed_ms: r.get(12),
        target_ms: r.get(13),
        bucket: r.get(14),
        last_activity_at: r.get(15),
    }
}

/// The stats of these learners (in `exams`), as they stand in the transaction.
pub async fn exam_stats_of(tx: &mut Tx, livemode: bool, learners: &[String]) -> Result<Vec<ExamStatsRow>, DbError> {
    let mut out = Vec::new();
    for chunk in learners.chunks(500) {
        let list: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
        let sql = format!(
            "SELECT {EXAM_COLS} FROM learner_exam_stats WHERE livemode = $1 AND learner IN ({})",
            list.join(",")
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(i64::from(livemode));
        for l in chunk {
            q = q.bind(l.clone());
        }
        out.extend(q.fetch_all(&mut **tx).await?.into_iter().map(exam_from));
    }
    Ok(out)
}

pub async fn exam_stats<'e, E: Executor<'e, Database = Any>>(
    e: E,
    livemode: bool,
    learner: &str,
    exam: &str,
) -> Result<Option<ExamStatsRow>, DbError> {
    let sql = format!("SELECT {EXAM_COLS} FROM learner_exam_stats WHERE livemode = $1 AND learner = $2 AND exam = $3");
    Ok(sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(i64::from(livemode))
        .bind(learner)
        .bind(exam)
        .fetch_optional(e)
        .await?
        .map(exam_from))
}

/// Writes learner-exam stats (whole rows).
pub async fn put_exam_stats(tx: &mut Tx, rows: &[ExamStatsRow]) -> Result<(), DbError> {
    let backend = crate::db::tx_backend(tx);
    for chunk in rows.chunks(400) {
        let sql = sqlx::AssertSqlSafe(format!(
            "INSERT INTO learner_exam_stats ({EXAM_COLS}) VALUES {} ON CONFLICT (livemode, learner, exam) DO UPDATE SET \
             attempts_completed = excluded.attempts_completed, completed_score_milli = excluded.completed_score_milli, \
             completed_max_milli = excluded.completed_max_milli, responses = excluded.responses, \
             score_milli = excluded.score_milli, time_ms = excluded.time_ms, timed = excluded.timed, \
             rushed = excluded.rushed, overtime = excluded.overtime, timed_ms = excluded.timed_ms, \
             target_ms = excluded.target_ms, \
             bucket = excluded.bucket, last_activity_at = excluded.last_activity_at",
            crate::db::placeholders(backend, chunk.len(), 16)
        ));
        let mut q = sqlx::query(sql);
        for s in chunk {
            q = q
                .bind(flag(s.livemode))
                .bind(s.learner.clone())
                .bind(s.exam.clone())
                .bind(s.attempts_completed)
                .bind(s.completed_score_milli)
                .bind(s.completed_max_milli)
                .bind(s.responses)
                .bind(s.score_milli)
                .bind(s.time_ms)
                .bind(s.timed)
                .bind(s.rushed)
                .bind(s.overtime)
                .bind(s.timed_ms)
                .bind(s.target_ms)
                .bind(s.bucket)
                .bind(s.last_activity_at);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// What responses add to a learner's topic.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TopicDelta {
    pub learner: String,
    pub exam: String,
    pub topic: String,
    pub responses: i64,
    pub score_milli: i64,
    pub timed: i64,
    pub time_ms: i64,
}

pub async fn add_topic_stats(tx: &mut Tx, livemode: bool, rows: &[TopicDelta]) -> Result<(), DbError> {
    let backend = crate::db::tx_backend(tx);
    for chunk in rows.chunks(500) {
        let sql = sqlx::AssertSqlSafe(format!(
            "INSERT INTO learner_topic_stats (livemode, learner, exam, topic, responses, score_milli, timed, time_ms) \
             VALUES {} ON CONFLICT (livemode, learner, exam, topic) DO UPDATE SET \
             responses = learner_topic_stats.responses + excluded.responses, \
             score_milli = learner_topic_stats.score_milli + excluded.score_milli, \
             timed = learner_topic_stats.timed + excluded.timed, \
             time_ms = learner_topic_stats.time_ms + excluded.time_ms",
            crate::db::placeholders(backend, chunk.len(), 8)
        ));
        let mut q = sqlx::query(sql);
        for d in chunk {
            q = q
                .bind(flag(livemode))
                .bind(d.learner.clone())
                .bind(d.exam.clone())
                .bind(d.topic.clone())
                .bind(d.responses)
                .bind(d.score_milli)
                .bind(d.timed)
                .bind(d.time_ms);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// A learner's topics in an exam: (topic, responses, score, timed, time).
pub async fn topic_stats<'e, E: Executor<'e, Database = Any>>(
    e: E,
    livemode: bool,
    learner: &str,
    exam: &str,
) -> Result<Vec<TopicDelta>, DbError> {
    let rows = sqlx::query(
        "SELECT topic, responses, score_milli, timed, time_ms FROM learner_topic_stats \
         WHERE livemode = $1 AND learner = $2 AND exam = $3 ORDER BY topic",
    )
    .bind(i64::from(livemode))
    .bind(learner)
    .bind(exam)
    .fetch_all(e)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| TopicDelta {
            learner: learner.to_string(),
            exam: exam.to_string(),
            topic: r.get(0),
            responses: r.get(1),
            score_milli: r.get(2),
            timed: r.get(3),
            time_ms: r.get(4),
        })
        .collect())
}

/// What responses add to a difficulty band in a fortnight.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BandDelta {
    pub learner: String,
    pub exam: String,
    /// The fortnight's first day (days since 1970-01-01).
    pub period: i64,
    /// easy, medium, hard
    pub band: &'static str,
    pub responses: i64,
    pub score_milli: i64,
}

pub async fn add_difficulty_stats(tx: &mut Tx, livemode: bool, rows: &[BandDelta]) -> Result<(), DbError> {
    let backend = crate::db::tx_backend(tx);
    for chunk in rows.chunks(500) {
        let sql = sqlx::AssertSqlSafe(format!(
            "INSERT INTO learner_difficulty_stats (livemode, learner, exam, period, band, responses, score_milli) \
             VALUES {} ON CONFLICT (livemode, learner, exam, period, band) DO UPDATE SET \
             responses = learner_difficulty_stats.responses + excluded.responses, \
             score_milli = learner_difficulty_stats.score_milli + excluded.score_milli",
            crate::db::placeholders(backend, chunk.len(), 7)
        ));
        let mut q = sqlx::query(sql);
        for d in chunk {
            q = q
                .bind(flag(livemode))
                .bind(d.learner.clone())
                .bind(d.exam.clone())
                .bind(d.period)
                .bind(d.band.to_string())
                .bind(d.responses)
                .bind(d.score_milli);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// A learner's bands by fortnight, oldest first: (period, band, responses, score).
pub async fn difficulty_stats<'e, E: Executor<'e, Database = Any>>(
    e: E,
    livemode: bool,
    learner: &str,
    exam: &str,
) -> Result<Vec<(i64, String, i64, i64)>, DbError> {
    Ok(sqlx::query_as(
        "SELECT period, band, responses, score_milli FROM learner_difficulty_stats \
         WHERE livemode = $1 AND learner = $2 AND exam = $3 ORDER BY period, band",
    )
    .bind(i64::from(livemode))
    .bind(learner)
    .bind(exam)
    .fetch_all(e)
    .await?)
}

/// Records study days (learner, day since 1970-01-01 in their time zone).
pub async fn add_days(tx: &mut Tx, livemode: bool, rows: &[(String, i64)]) -> Result<(), DbError> {
    let backend = crate::db::tx_backend(tx);
    for chunk in rows.chunks(500) {
        let sql = sqlx::AssertSqlSafe(format!(
            "INSERT INTO learner_days (livemode, learner, day) VALUES {} ON CONFLICT (livemode, learner, day) DO NOTHING",
            crate::db::placeholders(backend, chunk.len(), 3)
        ));
        let mut q = sqlx::query(sql);
        for (l, d) in chunk {
            q = q.bind(flag(livemode)).bind(l.clone()).bind(*d);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// A learner's latest study days, newest first.
pub async fn recent_days<'e, E: Executor<'e, Database = Any>>(
    e: E,
    livemode: bool,
    learner: &str,
    limit: i64,
) -> Result<Vec<i64>, DbError> {
    Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT day FROM learner_days WHERE livemode = $1 AND learner = $2 ORDER BY day DESC LIMIT {}",
        limit.clamp(1, 10_000)
    )))
    .bind(i64::from(livemode))
    .bind(learner)
    .fetch_all(e)
    .await?)
}

/// A change of learners in a histogram bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistogramDelta {
    pub exam: String,
    /// global, country, organization
    pub cohort_kind: &'static str,
    pub cohort: String,
    pub bucket: i64,
    pub learners: i64,
}

pub async fn add_histogram(tx: &mut Tx, livemode: bool, rows: &[HistogramDelta]) -> Result<(), DbError> {
    let backend = crate::db::tx_backend(tx);
    for chunk in rows.chunks(500) {
        let sql = sqlx::AssertSqlSafe(format!(
            "INSERT INTO score_histograms (livemode, exam, cohort_kind, cohort, bucket, learners) VALUES {} \
             ON CONFLICT (livemode, exam, cohort_kind, cohort, bucket) DO UPDATE SET \
             learners = score_histograms.learners + excluded.learners",
            crate::db::placeholders(backend, chunk.len(), 6)
        ));
        let mut q = sqlx::query(sql);
        for d in chunk {
            q = q
                .bind(flag(livemode))
                .bind(d.exam.clone())
                .bind(d.cohort_kind.to_string())
                .bind(d.cohort.clone())
                .bind(d.bucket)
                .bind(d.learners);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Learners of a cohort below, at, and in all buckets, for a percentile rank.
pub async fn rank_counts<'e, E: Executor<'e, Database = Any>>(
    e: E,
    livemode: bool,
    exam: &str,
    cohort_kind: &str,
    cohort: &str,
    bucket: i64,
) -> Result<(i64, i64, i64), DbError> {
    let r = sqlx::query(
        "SELECT CAST(COALESCE(SUM(CASE WHEN bucket < $5 THEN learners ELSE 0 END), 0) AS BIGINT), \
         CAST(COALESCE(SUM(CASE WHEN bucket = $5 THEN learners ELSE 0 END), 0) AS BIGINT), \
         CAST(COALESCE(SUM(learners), 0) AS BIGINT) \
         FROM score_histograms WHERE livemode = $1 AND exam = $2 AND cohort_kind = $3 AND cohort = $4",
    )
    .bind(i64::from(livemode))
    .bind(exam)
    .bind(cohort_kind)
    .bind(cohort)
    .bind(bucket)
    .fetch_one(e)
    .await?;
    Ok((r.get::<i64, _>(0), r.get::<i64, _>(1), r.get::<i64, _>(2)))
}

/// A cohort's whole histogram: (bucket, learners), buckets with learners only.
pub async fn histogram<'e, E: Executor<'e, Database = Any>>(
    e: E,
    livemode: bool,
    exam: &str,
    cohort_kind: &str,
    cohort: &str,
) -> Result<Vec<(i64, i64)>, DbError> {
    Ok(sqlx::query_as(
        "SELECT bucket, learners FROM score_histograms WHERE livemode = $1 AND exam = $2 AND cohort_kind = $3 \
         AND cohort = $4 AND learners > 0 ORDER BY bucket",
    )
    .bind(i64::from(livemode))
    .bind(exam)
    .bind(cohort_kind)
    .bind(cohort)
    .fetch_all(e)
    .await?)
}

/// The cohorts of a kind with learners in an exam: (cohort, learners).
pub async fn cohorts<'e, E: Executor<'e, Database = Any>>(
    e: E,
    livemode: bool,
    exam: &str,
    cohort_kind: &str,
) -> Result<Vec<(String, i64)>, DbError> {
    Ok(sqlx::query_as(
        "SELECT cohort, CAST(SUM(learners) AS BIGINT) FROM score_histograms WHERE livemode = $1 AND exam = $2 AND cohort_kind = $3 \
         GROUP BY cohort HAVING SUM(learners) > 0 ORDER BY cohort",
    )
    .bind(i64::from(livemode))
    .bind(exam)
    .bind(cohort_kind)
    .fetch_all(e)
    .await?)
}
