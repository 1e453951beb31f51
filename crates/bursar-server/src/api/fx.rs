//! FX rates and revenue reported in a base currency. Each handler parses,
//! calls one operation of `bursar_core::fx` or `bursar_core::reports` and
//! renders.

use crate::error::ApiResult;
use crate::extract::{ApiQuery, Caller};
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use bursar_core::fx::{self, Rates};
use bursar_core::reports::{self, RevenueReport};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use bursar_core::reports::RevenueLine;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_rates)).routes(routes!(refresh_rates)).routes(routes!(revenue_report))
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
    Ok(Json(fx::rates(&state, q.date.as_deref()).await?))
}

#[utoipa::path(post, path = "/v1/fx_rates/refresh", tag = "fx",
    responses((status = 200, body = Rates), (status = 400, body = crate::error::ErrorEnvelope), (status = 502, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn refresh_rates(State(state): State<AppState>, _caller: Caller) -> ApiResult<Json<Rates>> {
    Ok(Json(fx::refresh_rates(&state).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RevenueParams {
    /// ISO 4217 currency to report in (default EUR).
    pub base: Option<String>,
}

#[utoipa::path(get, path = "/v1/reports/revenue", tag = "fx", params(RevenueParams),
    responses((status = 200, body = RevenueReport), (status = 400, body = crate::error::ErrorEnvelope), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn revenue_report(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<RevenueParams>,
) -> ApiResult<Json<RevenueReport>> {
    Ok(Json(reports::revenue(&state, &caller.actor(), q.base).await?))
}
