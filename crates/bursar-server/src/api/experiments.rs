//! Experiments: conversions the platform reports, and results per variant
//! with 95 % intervals, a z-test against the control and the
//! sample-ratio-mismatch check. The pricing page (`pricing_page`) assigns
//! visitors and logs exposures itself. Each handler parses, calls one
//! operation of `bursar_core::experiments` and renders.

use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiQuery, Caller};
use crate::middleware::Idem;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use bursar_core::experiments::{self, ConversionCreate, ConversionRecorded, ExperimentResults};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use bursar_core::experiments::{Experiment, SampleRatio, VariantResult, CTA_CLICK, PRICING_PAGE};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(record_conversion)).routes(routes!(experiment_results))
}

#[utoipa::path(post, path = "/v1/experiments/{key}/conversions", tag = "experiments", request_body = ConversionCreate,
    params(("key" = String, Path, description = "Experiment key (`pricing_page`)")),
    responses((status = 200, body = ConversionRecorded), (status = 400, body = crate::error::ErrorEnvelope),
              (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn record_conversion(
    State(state): State<AppState>,
    caller: Caller,
    idem: Idem,
    Path(key): Path<String>,
    ApiJson(b): ApiJson<ConversionCreate>,
) -> ApiResult<Response> {
    let out: ConversionRecorded =
        experiments::record_conversion(&state, &caller.actor(), &key, b, &idem.reply(StatusCode::OK)).await?;
    idem.respond(StatusCode::OK, &out)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ResultsParams {
    /// Default `cta_click` (a click on a pricing-page plan's button).
    pub goal: Option<String>,
}

#[utoipa::path(get, path = "/v1/experiments/{key}/results", tag = "experiments", params(
        ("key" = String, Path, description = "Experiment key (`pricing_page`)"), ResultsParams),
    responses((status = 200, body = ExperimentResults), (status = 400, body = crate::error::ErrorEnvelope),
              (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn experiment_results(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
    ApiQuery(q): ApiQuery<ResultsParams>,
) -> ApiResult<Json<ExperimentResults>> {
    Ok(Json(experiments::results_for(&state, caller.livemode, &key, q.goal.as_deref()).await?))
}
