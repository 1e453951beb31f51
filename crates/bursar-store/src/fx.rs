//! Stored FX reference rates.

use crate::db::{DbError, Tx};
use sqlx::{Any, Executor, Row};
use std::collections::BTreeMap;

/// Writes (or rewrites) one day's rates.
pub async fn save_rates(
    tx: &mut Tx,
    date: &str,
    rates: &BTreeMap<String, i64>,
    source: &str,
    now: i64,
) -> Result<(), DbError> {
    for (currency, rate) in rates {
        sqlx::query(
            "INSERT INTO fx_rates (rate_date, currency, per_eur_micro, source, fetched_at) VALUES ($1,$2,$3,$4,$5) \
             ON CONFLICT (rate_date, currency) DO UPDATE SET per_eur_micro = excluded.per_eur_micro, \
             source = excluded.source, fetched_at = excluded.fetched_at",
        )
        .bind(date)
        .bind(currency.clone())
        .bind(*rate)
        .bind(source)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// The latest day's rates on or before `date` (any date when `None`).
pub async fn rates_as_of<'e, E: Executor<'e, Database = Any> + Copy>(
    ex: E,
    date: Option<&str>,
) -> Result<Option<(String, BTreeMap<String, i64>)>, DbError> {
    let day: Option<String> =
        sqlx::query_scalar("SELECT MAX(rate_date) FROM fx_rates WHERE ($1 = '' OR rate_date <= $1)")
            .bind(date.unwrap_or("").to_string())
            .fetch_one(ex)
            .await?;
    let Some(day) = day else { return Ok(None) };
    let rows = sqlx::query("SELECT currency, per_eur_micro FROM fx_rates WHERE rate_date = $1")
        .bind(day.clone())
        .fetch_all(ex)
        .await?;
    Ok(Some((day, rows.iter().map(|r| (r.get(0), r.get(1))).collect())))
}
