//! The FX service: fetch the day's reference rates from the configured
//! source (the ECB daily XML, from a URL or a file), store them, and answer
//! conversions for reporting; the stored rates as the platform reads them.

use crate::ctx::Ctx;
use crate::error::{Error, Kind, Result as OpResult};
use bursar_domain::fx::{self, RateSet};
use bursar_store::{fx as store, Db, DbError};
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

#[derive(Debug, thiserror::Error)]
pub enum FxRefreshError {
    #[error("no FX source configured (set fx_source)")]
    NoSource,
    #[error("fetching {0}: {1}")]
    Fetch(String, String),
    #[error(transparent)]
    Parse(#[from] fx::FxError),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Reads the source document: `http(s)://…` through HTTP, anything else as
/// a file path.
pub async fn read_source(source: &str) -> Result<String, FxRefreshError> {
    if source.starts_with("https://") || source.starts_with("http://") {
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(|e| FxRefreshError::Fetch(source.into(), e.to_string()))?;
        let resp = client.get(source).send().await.map_err(|e| FxRefreshError::Fetch(source.into(), e.to_string()))?;
        if !resp.status().is_success() {
            return Err(FxRefreshError::Fetch(source.into(), format!("HTTP {}", resp.status())));
        }
        resp.text().await.map_err(|e| FxRefreshError::Fetch(source.into(), e.to_string()))
    } else {
        tokio::fs::read_to_string(source).await.map_err(|e| FxRefreshError::Fetch(source.into(), e.to_string()))
    }
}

/// Fetches, parses and stores one day's rates.
pub async fn refresh(db: &Db, source: Option<&str>, now: i64) -> Result<RateSet, FxRefreshError> {
    let source = source.ok_or(FxRefreshError::NoSource)?;
    let set = fx::parse_ecb(&read_source(source).await?)?;
    let mut tx = db.begin().await?;
    store::save_rates(&mut tx, &set.date.to_string(), &set.per_eur_micro, source, now).await?;
    tx.commit().await.map_err(DbError::from)?;
    Ok(set)
}

/// The daily refresh: fetches the configured source's rates unless the
/// rates of today (UTC) are stored already. `None`: no source is set, or
/// nothing was due.
pub async fn refresh_if_stale(ctx: &crate::Ctx) -> Result<Option<RateSet>, FxRefreshError> {
    let Some(source) = ctx.config.fx_source.as_deref() else { return Ok(None) };
    let now = ctx.now_ms();
    let today = jiff::Timestamp::from_millisecond(now)
        .map_err(|e| FxRefreshError::Fetch(source.into(), e.to_string()))?
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
        .to_string();
    let have = store::rates_as_of(ctx.db.reader(), None).await?.map(|r| r.0);
    if have.as_deref() == Some(today.as_str()) {
        return Ok(None);
    }
    refresh(&ctx.db, Some(source), now).await.map(Some)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Rates {
    /// Always `fx_rates`.
    pub object: &'static str,
    /// The reference date, YYYY-MM-DD.
    pub date: String,
    /// Always `EUR`: rates are units of each currency per euro.
    pub base: &'static str,
    /// Per-EUR rates times 1,000,000 (exact integers).
    pub per_eur_micro: BTreeMap<String, i64>,
}

/// The latest rates on or before a date (YYYY-MM-DD), or the latest.
pub async fn rates(ctx: &Ctx, date: Option<&str>) -> OpResult<Rates> {
    if let Some(d) = date {
        d.parse::<jiff::civil::Date>().map_err(|_| Error::invalid("date", "date must be YYYY-MM-DD"))?;
    }
    let (date_found, per_eur_micro) = store::rates_as_of(ctx.db.reader(), date)
        .await?
        .ok_or_else(|| Error::not_found("date", "rates", date.unwrap_or("latest")))?;
    Ok(Rates { object: "fx_rates", date: date_found, base: "EUR", per_eur_micro })
}

/// Fetches and stores today's rates from the configured source.
pub async fn refresh_rates(ctx: &Ctx) -> OpResult<Rates> {
    let set = refresh(&ctx.db, ctx.config.fx_source.as_deref(), ctx.now_ms()).await.map_err(|e| match e {
        FxRefreshError::NoSource => Error::invalid("fx_source", e.to_string()),
        FxRefreshError::Db(d) => d.into(),
        other => Error::new(Kind::Upstream, "fx_source_failed", other.to_string()),
    })?;
    Ok(Rates { object: "fx_rates", date: set.date.to_string(), base: "EUR", per_eur_micro: set.per_eur_micro })
}
