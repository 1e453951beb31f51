//! Webhook endpoints over HTTP: where the platform wants events sent, the
//! delivery log, and manual replay. The signing secret is shown when an
//! endpoint is created and when it is rolled, never otherwise. Each handler
//! parses, calls one operation of `bursar_core::webhook_endpoints` and
//! renders.

use super::ListResponse;
use crate::error::ApiResult;
use crate::extract::{page_of, ApiJson, ApiQuery, Caller, ListParams};
use crate::middleware::Idem;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use bursar_core::webhook_endpoints::{
    self as endpoints, DeletedWebhookEndpoint, EndpointCreate, EndpointUpdate, WebhookDelivery, WebhookEndpoint,
};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use bursar_core::webhook_endpoints::WebhookAttempt;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_endpoint, list_endpoints))
        .routes(routes!(get_endpoint, update_endpoint, delete_endpoint))
        .routes(routes!(roll_secret))
        .routes(routes!(list_deliveries))
        .routes(routes!(get_delivery))
        .routes(routes!(retry_delivery))
        .routes(routes!(resend_event))
}

#[utoipa::path(post, path = "/v1/webhook_endpoints", tag = "webhook_endpoints", request_body = EndpointCreate,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = WebhookEndpoint), (status = 400, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn create_endpoint(
    State(state): State<AppState>,
    caller: Caller,
    idem: Idem,
    ApiJson(b): ApiJson<EndpointCreate>,
) -> ApiResult<Response> {
    let out = endpoints::create(&state, &caller.actor(), b, &idem.reply(StatusCode::OK)).await?;
    idem.respond(StatusCode::OK, &out)
}

#[utoipa::path(get, path = "/v1/webhook_endpoints", tag = "webhook_endpoints", params(ListParams),
    responses((status = 200, body = ListResponse<WebhookEndpoint>), (status = 400, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn list_endpoints(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListParams>,
) -> ApiResult<Json<ListResponse<WebhookEndpoint>>> {
    let list = endpoints::list(&state, &caller.actor(), &q.page()?).await?;
    let url = "/v1/webhook_endpoints".to_string();
    Ok(Json(ListResponse { object: "list", data: list.data, has_more: list.has_more, url }))
}

#[utoipa::path(get, path = "/v1/webhook_endpoints/{id}", tag = "webhook_endpoints",
    params(("id" = String, Path, description = "Webhook endpoint id")),
    responses((status = 200, body = WebhookEndpoint), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn get_endpoint(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<WebhookEndpoint>> {
    Ok(Json(endpoints::get(&state, &caller.actor(), &id).await?))
}

#[utoipa::path(post, path = "/v1/webhook_endpoints/{id}", tag = "webhook_endpoints", request_body = EndpointUpdate,
    params(("id" = String, Path, description = "Webhook endpoint id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = WebhookEndpoint), (status = 400, body = crate::error::ErrorEnvelope),
        (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn update_endpoint(
    State(state): State<AppState>,
    caller: Caller,
    idem: Idem,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<EndpointUpdate>,
) -> ApiResult<Response> {
    let out = endpoints::update(&state, &caller.actor(), &id, b, &idem.reply(StatusCode::OK)).await?;
    idem.respond(StatusCode::OK, &out)
}

#[utoipa::path(delete, path = "/v1/webhook_endpoints/{id}", tag = "webhook_endpoints",
    params(("id" = String, Path, description = "Webhook endpoint id")),
    responses((status = 200, body = DeletedWebhookEndpoint), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn delete_endpoint(
    State(state): State<AppState>,
    caller: Caller,
    idem: Idem,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let out: DeletedWebhookEndpoint =
        endpoints::delete(&state, &caller.actor(), &id, &idem.reply(StatusCode::OK)).await?;
    idem.respond(StatusCode::OK, &out)
}

#[utoipa::path(post, path = "/v1/webhook_endpoints/{id}/roll_secret", tag = "webhook_endpoints",
    params(("id" = String, Path, description = "Webhook endpoint id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = WebhookEndpoint), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn roll_secret(
    State(state): State<AppState>,
    caller: Caller,
    idem: Idem,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let out = endpoints::roll_secret(&state, &caller.actor(), &id, &idem.reply(StatusCode::OK)).await?;
    idem.respond(StatusCode::OK, &out)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeliveryListParams {
    pub limit: Option<String>,
    pub starting_after: Option<String>,
    /// Only deliveries of this status: `pending`, `succeeded` or `failed`.
    pub status: Option<String>,
}

#[utoipa::path(get, path = "/v1/webhook_endpoints/{id}/deliveries", tag = "webhook_endpoints",
    params(("id" = String, Path, description = "Webhook endpoint id"), DeliveryListParams),
    responses((status = 200, body = ListResponse<WebhookDelivery>), (status = 400, body = crate::error::ErrorEnvelope),
        (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn list_deliveries(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<DeliveryListParams>,
) -> ApiResult<Json<ListResponse<WebhookDelivery>>> {
    let page = page_of(q.limit, q.starting_after)?;
    let (ep, list) = endpoints::deliveries(&state, &caller.actor(), &id, q.status.as_deref(), &page).await?;
    let url = format!("/v1/webhook_endpoints/{ep}/deliveries");
    Ok(Json(ListResponse { object: "list", data: list.data, has_more: list.has_more, url }))
}

#[utoipa::path(get, path = "/v1/webhook_deliveries/{id}", tag = "webhook_endpoints",
    params(("id" = String, Path, description = "Webhook delivery id")),
    responses((status = 200, body = WebhookDelivery), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn get_delivery(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<WebhookDelivery>> {
    Ok(Json(endpoints::delivery(&state, &caller.actor(), &id).await?))
}

#[utoipa::path(post, path = "/v1/webhook_deliveries/{id}/retry", tag = "webhook_endpoints",
    params(("id" = String, Path, description = "Webhook delivery id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = WebhookDelivery), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn retry_delivery(
    State(state): State<AppState>,
    caller: Caller,
    idem: Idem,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let out = endpoints::retry(&state, &caller.actor(), &id, &idem.reply(StatusCode::OK)).await?;
    idem.respond(StatusCode::OK, &out)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ResendParams {
    /// The endpoint to send the event to (`we_…`).
    pub endpoint: Option<String>,
}

#[utoipa::path(post, path = "/v1/events/{id}/resend", tag = "webhook_endpoints",
    params(("id" = String, Path, description = "Event id"), ResendParams,
        ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = WebhookDelivery), (status = 400, body = crate::error::ErrorEnvelope),
        (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn resend_event(
    State(state): State<AppState>,
    caller: Caller,
    idem: Idem,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<ResendParams>,
) -> ApiResult<Response> {
    let out = endpoints::resend(&state, &caller.actor(), &id, q.endpoint, &idem.reply(StatusCode::OK)).await?;
    idem.respond(StatusCode::OK, &out)
}
