//! Payment methods and payments over HTTP. Each handler parses, calls one
//! operation of `bursar_core::payments::methods` and renders.

use super::ListResponse;
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiQuery, Caller};
use crate::middleware::Idem;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use bursar_core::payments::methods::{self, Payment, PaymentFilter, PaymentMethod, PaymentMethodCreate};
use bursar_core::{Actor, Page};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use bursar_core::payments::methods::PAYMENT_STATUSES;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(add_payment_method, list_payment_methods))
        .routes(routes!(delete_payment_method))
        .routes(routes!(default_payment_method))
        .routes(routes!(list_payments))
        .routes(routes!(get_payment))
}

fn actor(c: &Caller) -> Actor {
    Actor::api_key(c.livemode, &c.key_id)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PaymentListParams {
    pub limit: Option<String>,
    pub starting_after: Option<String>,
    pub customer: Option<String>,
    pub invoice: Option<String>,
    /// `pending`, `processing`, `requires_action`, `completed`, `failed`,
    /// `refunded` or `cancelled`.
    pub status: Option<String>,
}

#[utoipa::path(post, path = "/v1/customers/{id}/payment_methods", tag = "payments", request_body = PaymentMethodCreate,
    params(("id" = String, Path, description = "Customer id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = PaymentMethod, description = "Saved, and now the default"),
              (status = 400, body = crate::error::ErrorEnvelope), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn add_payment_method(
    State(state): State<AppState>,
    caller: Caller,
    idem: Idem,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PaymentMethodCreate>,
) -> ApiResult<Response> {
    let out = methods::add_method(&state, &actor(&caller), &id, body, &idem.reply(StatusCode::OK)).await?;
    idem.respond(StatusCode::OK, &out)
}

#[utoipa::path(get, path = "/v1/customers/{id}/payment_methods", tag = "payments",
    params(("id" = String, Path, description = "Customer id")),
    responses((status = 200, body = Vec<PaymentMethod>), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn list_payment_methods(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<PaymentMethod>>> {
    Ok(Json(methods::list_methods(&state, &actor(&caller), &id).await?))
}

#[utoipa::path(delete, path = "/v1/customers/{id}/payment_methods/{method}", tag = "payments",
    params(("id" = String, Path, description = "Customer id"), ("method" = String, Path, description = "Payment method id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = Vec<PaymentMethod>, description = "The methods left (the newest becomes the default when the default was removed)"),
              (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn delete_payment_method(
    State(state): State<AppState>,
    caller: Caller,
    idem: Idem,
    Path((id, method)): Path<(String, String)>,
) -> ApiResult<Response> {
    let left = methods::detach(&state, &actor(&caller), &id, &method, &idem.reply(StatusCode::OK)).await?;
    idem.respond(StatusCode::OK, &left)
}

#[utoipa::path(post, path = "/v1/customers/{id}/payment_methods/{method}/default", tag = "payments",
    params(("id" = String, Path, description = "Customer id"), ("method" = String, Path, description = "Payment method id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = Vec<PaymentMethod>), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn default_payment_method(
    State(state): State<AppState>,
    caller: Caller,
    idem: Idem,
    Path((id, method)): Path<(String, String)>,
) -> ApiResult<Response> {
    let all = methods::make_default(&state, &actor(&caller), &id, &method, &idem.reply(StatusCode::OK)).await?;
    idem.respond(StatusCode::OK, &all)
}

#[utoipa::path(get, path = "/v1/payments", tag = "payments", params(PaymentListParams),
    responses((status = 200, body = ListResponse<Payment>), (status = 400, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn list_payments(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<PaymentListParams>,
) -> ApiResult<Json<ListResponse<Payment>>> {
    let page = Page::parse(q.limit.as_deref(), q.starting_after)?;
    let filter = PaymentFilter { customer: q.customer, invoice: q.invoice, status: q.status };
    let list = methods::list(&state, &actor(&caller), &filter, &page).await?;
    Ok(Json(ListResponse { object: "list", data: list.data, has_more: list.has_more, url: "/v1/payments".into() }))
}

#[utoipa::path(get, path = "/v1/payments/{id}", tag = "payments",
    params(("id" = String, Path, description = "Payment id")),
    responses((status = 200, body = Payment), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn get_payment(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Payment>> {
    Ok(Json(methods::get(&state, &actor(&caller), &id).await?))
}
