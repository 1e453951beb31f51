//! FX rates and revenue reported in a base currency.

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiQuery, Caller};
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use bursar_domain::fx::convert;
use bursar_domain::ledger::{natural_balance, AccountKind};
use bursar_domain::money::Currency;
use bursar_store::{fx as store, ledger};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_rates)).routes(routes!(refresh_rates)).routes(routes!(revenue_report))
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

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RatesParams {
    /// YYYY-MM-DD: the latest rates on or before this date.
    pub date: Option<String>,
}

#[utoipa::path(get, path = "/v1/fx_rates", tag = "fx", params(RatesParams),
    responses((status = 200, body = Rates), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn get_rates(
    State(state): State<AppState>,
    _caller: Caller,
    ApiQuery(q): ApiQuery<RatesParams>,
) -> ApiResult<Json<Rates>> {
    if let Some(d) = &q.date {
        d.parse::<jiff::civil::Date>().map_err(|_| ApiError::invalid("date", "date must be YYYY-MM-DD"))?;
    }
    let (date, per_eur_micro) = store::rates_as_of(state.db.reader(), q.date.as_deref())
        .await?
        .ok_or_else(|| ApiError::not_found("date", "rates", q.date.as_deref().unwrap_or("latest")))?;
    Ok(Json(Rates { object: "fx_rates", date, base: "EUR", per_eur_micro }))
}

#[utoipa::path(post, path = "/v1/fx_rates/refresh", tag = "fx",
    responses((status = 200, body = Rates), (status = 400, body = crate::error::ErrorEnvelope), (status = 502, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn refresh_rates(State(state): State<AppState>, _caller: Caller) -> ApiResult<Json<Rates>> {
    let set =
        bursar_core::fx::refresh(&state.db, state.config.fx_source.as_deref(), state.now_ms()).await.map_err(|e| {
            match e {
                bursar_core::fx::FxRefreshError::NoSource => ApiError::invalid("fx_source", e.to_string()),
                bursar_core::fx::FxRefreshError::Db(d) => d.into(),
                other => ApiError::new(
                    axum::http::StatusCode::BAD_GATEWAY,
                    crate::error::ErrorType::ApiError,
                    "fx_source_failed",
                    other.to_string(),
                ),
            }
        })?;
    Ok(Json(Rates { object: "fx_rates", date: set.date.to_string(), base: "EUR", per_eur_micro: set.per_eur_micro }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RevenueParams {
    /// ISO 4217 currency to report in (default EUR).
    pub base: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RevenueLine {
    pub currency: String,
    /// Revenue net of refunds and discounts, minor units of `currency`.
    pub amount: i64,
    /// The same in the base currency, minor units.
    pub amount_in_base: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RevenueReport {
    /// Always `revenue_report`.
    pub object: &'static str,
    pub base: String,
    /// The date of the rates used.
    pub rates_date: String,
    pub by_currency: Vec<RevenueLine>,
    pub total_in_base: i64,
}

#[utoipa::path(get, path = "/v1/reports/revenue", tag = "fx", params(RevenueParams),
    responses((status = 200, body = RevenueReport), (status = 400, body = crate::error::ErrorEnvelope), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn revenue_report(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<RevenueParams>,
) -> ApiResult<Json<RevenueReport>> {
    let base_s = q.base.unwrap_or_else(|| "EUR".into());
    let base =
        Currency::from_code(&base_s).map_err(|_| ApiError::invalid("base", format!("unknown currency `{base_s}`")))?;
    let (date, rates) = store::rates_as_of(state.db.reader(), None)
        .await?
        .ok_or_else(|| ApiError::not_found("base", "FX rates", "latest"))?;
    let mut per: BTreeMap<String, i64> = BTreeMap::new();
    for root in ["revenue", "refunds", "discounts"] {
        for b in ledger::balances(&state.db, caller.livemode, Some(root), None, None).await? {
            // Revenue is credit-normal; refunds and discounts reduce it.
            *per.entry(b.currency).or_default() += natural_balance(AccountKind::Revenue, b.balance_minor);
        }
    }
    let mut lines = Vec::new();
    let mut total: i64 = 0;
    for (cur, amount) in per {
        let c = Currency::from_code(&cur).map_err(|_| ApiError::internal())?;
        let in_base = convert(amount, c, base, &rates)
            .map_err(|e| ApiError::invalid("base", format!("cannot convert {cur}: {e}")))?;
        total = total.checked_add(in_base).ok_or_else(ApiError::internal)?;
        lines.push(RevenueLine { currency: cur, amount, amount_in_base: in_base });
    }
    Ok(Json(RevenueReport {
        object: "revenue_report",
        base: base.code().to_string(),
        rates_date: date,
        by_currency: lines,
        total_in_base: total,
    }))
}
