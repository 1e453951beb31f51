//! Metrics: what usage is counted, and which plan limit caps it.

use super::valid_code;
use crate::actor::Actor;
use crate::common::check_len;
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::idempotency::Reply;
use bursar_domain::id::{new_id, IdKind};
use bursar_store::usage::{self as store, MetricRow};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MetricCreate {
    /// `a-z`, `0-9`, `_`; 1 to 64 characters: `tests`, `ai_queries`.
    pub code: String,
    pub name: Option<String>,
    /// `count` (default), `sum`, `max`, `unique_count`, `latest`.
    pub aggregation: Option<String>,
    /// For `unique_count`: the event property whose distinct values are counted.
    pub property: Option<String>,
    /// `billing_period` (default) or `calendar_month`.
    pub window: Option<String>,
    /// The plan limit that caps it (`tests_per_month`); none: metered, never capped.
    pub limit_key: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Metric {
    pub code: String,
    /// Always `metric`.
    pub object: &'static str,
    pub name: String,
    pub aggregation: String,
    pub property: Option<String>,
    pub window: String,
    pub limit_key: Option<String>,
}

impl From<MetricRow> for Metric {
    fn from(m: MetricRow) -> Metric {
        Metric {
            code: m.code,
            object: "metric",
            name: m.name,
            aggregation: m.aggregation,
            property: m.property,
            window: m.window,
            limit_key: m.limit_key,
        }
    }
}

/// Creates a metric, or updates the one with the same code.
pub async fn define(ctx: &Ctx, actor: &Actor, body: MetricCreate, reply: &Reply) -> Result<Metric> {
    if !valid_code(&body.code) {
        return Err(Error::invalid("code", "code is 1 to 64 of a-z, 0-9 and _"));
    }
    let aggregation = body.aggregation.unwrap_or_else(|| "count".into());
    if !matches!(aggregation.as_str(), "count" | "sum" | "max" | "unique_count" | "latest") {
        return Err(Error::invalid("aggregation", "aggregation is count, sum, max, unique_count or latest"));
    }
    if aggregation == "unique_count" && body.property.as_deref().is_none_or(str::is_empty) {
        return Err(Error::missing("property"));
    }
    let window = body.window.unwrap_or_else(|| "billing_period".into());
    if !matches!(window.as_str(), "billing_period" | "calendar_month") {
        return Err(Error::invalid("window", "window is billing_period or calendar_month"));
    }
    if let Some(k) = &body.limit_key {
        if !valid_code(k) {
            return Err(Error::invalid("limit_key", "limit_key is 1 to 64 of a-z, 0-9 and _"));
        }
    }
    check_len("name", &body.name, 200)?;
    check_len("property", &body.property, 64)?;
    let now = ctx.now_ms();
    let m = MetricRow {
        id: new_id(IdKind::Metric),
        livemode: actor.livemode,
        name: body.name.unwrap_or_else(|| body.code.clone()),
        code: body.code,
        aggregation,
        property: body.property,
        window,
        limit_key: body.limit_key,
        created_at: now,
        updated_at: now,
    };
    let mut tx = ctx.db.begin().await?;
    store::upsert_metric(&mut tx, &m).await?;
    let out = Metric::from(m);
    reply.commit(tx, &out).await?;
    Ok(out)
}

/// Every metric of the caller's mode.
pub async fn list(ctx: &Ctx, actor: &Actor) -> Result<Vec<Metric>> {
    Ok(store::metrics(ctx.db.reader(), actor.livemode).await?.into_iter().map(Metric::from).collect())
}

/// Every metric of a mode, as stored (for the services that count usage).
pub async fn rows(ctx: &Ctx, livemode: bool) -> Result<Vec<MetricRow>> {
    Ok(store::metrics(ctx.db.reader(), livemode).await?)
}
