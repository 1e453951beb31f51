//! Payout runs and payouts over HTTP.

use super::shared::{actor, download, market_actor};
use crate::api::ListResponse;
use crate::error::ApiResult;
use crate::extract::{Actor, ApiJson, ApiQuery, Caller};
use crate::middleware::Idem;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use bursar_core::marketplace::payouts::{self, Payout, PayoutFailure, PayoutRunCreate, PayoutSettled};
use serde::Deserialize;
use utoipa::IntoParams;

#[utoipa::path(post, path = "/v1/payout_runs", tag = "payouts", request_body = PayoutRunCreate,
    responses((status = 200, body = bursar_core::marketplace::PayoutRun), (status = 400, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
pub(super) async fn run_payouts(
    State(state): State<AppState>,
    caller: Caller,
    idem: Idem,
    ApiJson(b): ApiJson<PayoutRunCreate>,
) -> ApiResult<Response> {
    let out = payouts::run(&state, &actor(&caller), b, &idem.reply(StatusCode::OK)).await?;
    idem.respond(StatusCode::OK, &out)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PayoutListParams {
    /// Instructor or affiliate id (an instructor session sees its own).
    pub payee: Option<String>,
    pub period: Option<String>,
}

#[utoipa::path(get, path = "/v1/payouts", tag = "payouts", params(PayoutListParams),
    responses((status = 200, body = ListResponse<Payout>)), security(("api_key" = [])))]
pub(super) async fn list_payouts(
    State(state): State<AppState>,
    actor: Actor,
    ApiQuery(q): ApiQuery<PayoutListParams>,
) -> ApiResult<Json<ListResponse<Payout>>> {
    let data = payouts::list(&state, &market_actor(&actor), q.payee, q.period.as_deref()).await?;
    Ok(Json(ListResponse { object: "list", data, has_more: false, url: "/v1/payouts".into() }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PeriodParams {
    /// `YYYY-MM`.
    pub period: String,
}

#[utoipa::path(get, path = "/v1/payouts/export", tag = "payouts", params(PeriodParams),
    responses((status = 200, description = "CSV bank transfer file: the month's bank_transfer payouts",
               content_type = "text/csv"), (status = 400, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
pub(super) async fn export_payouts(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<PeriodParams>,
) -> ApiResult<Response> {
    Ok(download(payouts::export(&state, &actor(&caller), &q.period).await?))
}

#[utoipa::path(post, path = "/v1/payouts/{id}/confirm", tag = "payouts",
    params(("id" = String, Path, description = "Payout id")),
    responses((status = 200, body = PayoutSettled), (status = 404, body = crate::error::ErrorEnvelope),
              (status = 409, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
pub(super) async fn confirm_payout(
    State(state): State<AppState>,
    caller: Caller,
    idem: Idem,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let out = payouts::confirm(&state, &actor(&caller), &id, &idem.reply(StatusCode::OK)).await?;
    idem.respond(StatusCode::OK, &out)
}

#[utoipa::path(post, path = "/v1/payouts/{id}/fail", tag = "payouts", request_body = PayoutFailure,
    params(("id" = String, Path, description = "Payout id")),
    responses((status = 200, body = PayoutSettled), (status = 400, body = crate::error::ErrorEnvelope),
              (status = 404, body = crate::error::ErrorEnvelope), (status = 409, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
pub(super) async fn fail_payout(
    State(state): State<AppState>,
    caller: Caller,
    idem: Idem,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<PayoutFailure>,
) -> ApiResult<Response> {
    let out = payouts::fail(&state, &actor(&caller), &id, b, &idem.reply(StatusCode::OK)).await?;
    idem.respond(StatusCode::OK, &out)
}
