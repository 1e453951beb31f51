//! Experiment exposures and conversions, and their counts per variant.

use crate::db::DbError;
use sqlx::{Any, Executor, Row};

/// Records the variant a visitor was shown, the first time only; true when
/// this was their first exposure.
pub async fn expose<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    livemode: bool,
    experiment: &str,
    visitor: &str,
    variant: &str,
    now: i64,
) -> Result<bool, DbError> {
    let n = sqlx::query(
        "INSERT INTO experiment_exposures (livemode, experiment, visitor, variant, created_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    )
    .bind(i64::from(livemode))
    .bind(experiment)
    .bind(visitor)
    .bind(variant)
    .bind(now)
    .execute(ex)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Records that an exposed visitor reached a goal, once per goal; false
/// when they were never exposed or had already reached it.
pub async fn convert<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    livemode: bool,
    experiment: &str,
    visitor: &str,
    goal: &str,
    now: i64,
) -> Result<bool, DbError> {
    let n = sqlx::query(
        "INSERT INTO experiment_conversions (livemode, experiment, visitor, goal, created_at) \
         SELECT livemode, experiment, visitor, $4, $5 FROM experiment_exposures \
         WHERE livemode = $1 AND experiment = $2 AND visitor = $3 ON CONFLICT DO NOTHING",
    )
    .bind(i64::from(livemode))
    .bind(experiment)
    .bind(visitor)
    .bind(goal)
    .bind(now)
    .execute(ex)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Per variant: visitors exposed and, of them, those who reached `goal`.
pub async fn counts<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    livemode: bool,
    experiment: &str,
    goal: &str,
) -> Result<Vec<(String, i64, i64)>, DbError> {
    let rows = sqlx::query(
        "SELECT e.variant, CAST(COUNT(*) AS BIGINT), CAST(COUNT(c.visitor) AS BIGINT) \
         FROM experiment_exposures e LEFT JOIN experiment_conversions c \
         ON c.livemode = e.livemode AND c.experiment = e.experiment AND c.visitor = e.visitor AND c.goal = $3 \
         WHERE e.livemode = $1 AND e.experiment = $2 GROUP BY e.variant ORDER BY e.variant",
    )
    .bind(i64::from(livemode))
    .bind(experiment)
    .bind(goal)
    .fetch_all(ex)
    .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect())
}

/// The goals reached in an experiment so far.
pub async fn goals<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    livemode: bool,
    experiment: &str,
) -> Result<Vec<String>, DbError> {
    let rows = sqlx::query(
        "SELECT DISTINCT goal FROM experiment_conversions WHERE livemode = $1 AND experiment = $2 ORDER BY goal",
    )
    .bind(i64::from(livemode))
    .bind(experiment)
    .fetch_all(ex)
    .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}
