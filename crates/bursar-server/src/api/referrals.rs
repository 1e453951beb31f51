//! The learner referral program over HTTP: "give X, get Y". A learner
//! shares their code; a new learner who signs up with it gets X as credit
//! at once, and the referrer gets Y as credit when the new learner's first
//! order is paid. Amounts are per currency; each side is credited in their
//! own billing currency (no credit when the program has no amount in it).
//! Each handler calls one operation of `bursar_core::referrals`.

use super::courses::platform;
use crate::error::ApiResult;
use crate::extract::{ApiJson, Caller};
use crate::middleware::Idem;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use bursar_core::referrals;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use bursar_core::referrals::{Program, Referral, ReferralCreate, ReferralInfo};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(set_program, get_program))
        .routes(routes!(create_code, get_referral))
        .routes(routes!(create_referral))
}

#[utoipa::path(post, path = "/v1/referral_program", tag = "marketplace", request_body = Program,
    responses((status = 200, body = Program), (status = 400, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn set_program(
    State(state): State<AppState>,
    caller: Caller,
    idem: Idem,
    ApiJson(b): ApiJson<Program>,
) -> ApiResult<Response> {
    let out = referrals::set_program(&state, &platform(&caller), b, &idem.reply(StatusCode::OK)).await?;
    idem.respond(StatusCode::OK, &out)
}

#[utoipa::path(get, path = "/v1/referral_program", tag = "marketplace",
    responses((status = 200, body = Program)), security(("api_key" = [])))]
async fn get_program(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Program>> {
    Ok(Json(referrals::program(&state, &platform(&caller)).await?))
}

#[utoipa::path(post, path = "/v1/customers/{id}/referral_code", tag = "marketplace",
    params(("id" = String, Path, description = "Customer id")),
    responses((status = 200, body = ReferralInfo), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn create_code(
    State(state): State<AppState>,
    caller: Caller,
    idem: Idem,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let out = referrals::create_code(&state, &platform(&caller), &id, &idem.reply(StatusCode::OK)).await?;
    idem.respond(StatusCode::OK, &out)
}

#[utoipa::path(get, path = "/v1/customers/{id}/referral_code", tag = "marketplace",
    params(("id" = String, Path, description = "Customer id")),
    responses((status = 200, body = ReferralInfo), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn get_referral(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ReferralInfo>> {
    Ok(Json(referrals::summary_of(&state, &platform(&caller), &id).await?))
}

#[utoipa::path(post, path = "/v1/referrals", tag = "marketplace", request_body = ReferralCreate,
    responses((status = 201, body = Referral), (status = 400, body = crate::error::ErrorEnvelope),
              (status = 404, body = crate::error::ErrorEnvelope), (status = 409, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn create_referral(
    State(state): State<AppState>,
    caller: Caller,
    idem: Idem,
    ApiJson(b): ApiJson<ReferralCreate>,
) -> ApiResult<Response> {
    let out = referrals::create_referral(&state, &platform(&caller), b, &idem.reply(StatusCode::CREATED)).await?;
    idem.respond(StatusCode::CREATED, &out)
}
