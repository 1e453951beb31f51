//! Test clocks over HTTP. Each handler parses, calls one operation of
//! `bursar_core::subscriptions::test_clocks` and renders.

use crate::error::ApiResult;
use crate::extract::{ApiJson, Caller};
use crate::middleware::Idem;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use bursar_core::subscriptions::test_clocks::{self, TestClock, TestClockAdvance, TestClockCreate};
use bursar_core::Actor;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_test_clock))
        .routes(routes!(get_test_clock, delete_test_clock))
        .routes(routes!(advance_test_clock))
}

fn actor(c: &Caller) -> Actor {
    Actor::api_key(c.livemode, &c.key_id)
}

#[utoipa::path(post, path = "/v1/test_clocks", tag = "test_clocks", request_body = TestClockCreate,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = TestClock), (status = 400, body = crate::error::ErrorEnvelope), (status = 403, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn create_test_clock(
    State(state): State<AppState>,
    caller: Caller,
    idem: Idem,
    ApiJson(body): ApiJson<TestClockCreate>,
) -> ApiResult<Response> {
    let out = test_clocks::create(&state, &actor(&caller), body, &idem.reply(StatusCode::OK)).await?;
    idem.respond(StatusCode::OK, &out)
}

#[utoipa::path(get, path = "/v1/test_clocks/{id}", tag = "test_clocks",
    params(("id" = String, Path, description = "Test clock id")),
    responses((status = 200, body = TestClock), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn get_test_clock(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<TestClock>> {
    Ok(Json(test_clocks::get(&state, &actor(&caller), &id).await?))
}

#[utoipa::path(post, path = "/v1/test_clocks/{id}/advance", tag = "test_clocks", request_body = TestClockAdvance,
    params(("id" = String, Path, description = "Test clock id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = TestClock), (status = 400, body = crate::error::ErrorEnvelope), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn advance_test_clock(
    State(state): State<AppState>,
    caller: Caller,
    idem: Idem,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<TestClockAdvance>,
) -> ApiResult<Response> {
    let out = test_clocks::advance(&state, &actor(&caller), &id, body, &idem.reply(StatusCode::OK)).await?;
    idem.respond(StatusCode::OK, &out)
}

#[utoipa::path(delete, path = "/v1/test_clocks/{id}", tag = "test_clocks",
    params(("id" = String, Path, description = "Test clock id")),
    responses((status = 200, body = TestClock), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn delete_test_clock(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let out = test_clocks::delete(&state, &actor(&caller), &id).await?;
    Ok(Json(out).into_response())
}
