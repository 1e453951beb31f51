//! Secret API keys. The secret is shown once, at creation; only its SHA-256
//! is stored. Each handler parses, calls one operation of
//! `bursar_core::api_keys` and renders.

use super::ListResponse;
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiQuery, Caller, ListParams};
use crate::middleware::Idem;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use bursar_core::api_keys::{self, ApiKey, ApiKeyCreate};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use bursar_core::api_keys::issue_key;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_api_key, list_api_keys)).routes(routes!(get_api_key, revoke_api_key))
}

#[utoipa::path(post, path = "/v1/api_keys", tag = "api_keys", request_body = ApiKeyCreate,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = ApiKey), (status = 400, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn create_api_key(
    State(state): State<AppState>,
    caller: Caller,
    idem: Idem,
    ApiJson(body): ApiJson<ApiKeyCreate>,
) -> ApiResult<Response> {
    let out = api_keys::create(&state, &caller.actor(), body, &idem.reply(StatusCode::OK)).await?;
    idem.respond(StatusCode::OK, &out)
}

#[utoipa::path(get, path = "/v1/api_keys", tag = "api_keys", params(ListParams),
    responses((status = 200, body = ListResponse<ApiKey>)), security(("api_key" = [])))]
async fn list_api_keys(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListParams>,
) -> ApiResult<Json<ListResponse<ApiKey>>> {
    let list = api_keys::list(&state, &caller.actor(), &q.page()?).await?;
    Ok(Json(ListResponse { object: "list", data: list.data, has_more: list.has_more, url: "/v1/api_keys".into() }))
}

#[utoipa::path(get, path = "/v1/api_keys/{id}", tag = "api_keys",
    params(("id" = String, Path, description = "API key id")),
    responses((status = 200, body = ApiKey), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn get_api_key(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Json<ApiKey>> {
    Ok(Json(api_keys::get(&state, &caller.actor(), &id).await?))
}

#[utoipa::path(delete, path = "/v1/api_keys/{id}", tag = "api_keys",
    params(("id" = String, Path, description = "API key id")),
    responses((status = 200, body = ApiKey), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn revoke_api_key(
    State(state): State<AppState>,
    caller: Caller,
    idem: Idem,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let out = api_keys::revoke(&state, &caller.actor(), &id, &idem.reply(StatusCode::OK)).await?;
    idem.respond(StatusCode::OK, &out)
}
