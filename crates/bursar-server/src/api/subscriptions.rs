//! Subscriptions and invoices over HTTP. Each handler parses, calls one
//! operation of `bursar_core::subscriptions` and renders.

use super::ListResponse;
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiQuery, Caller};
use crate::middleware::Idem;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use bursar_core::subscriptions::invoices::{self, Invoice, InvoiceFilter};
use bursar_core::subscriptions::{
    self as subs, BillingRun, CancelResult, ChangePreview, ChangeResult, Subscription, SubscriptionFilter,
};
use bursar_core::{Actor, Page};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use bursar_core::subscriptions::invoices::InvoiceRefund;
pub use bursar_core::subscriptions::{SubscriptionCancel, SubscriptionChange, SubscriptionCreate, SubscriptionPause};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_subscription, list_subscriptions))
        .routes(routes!(get_subscription))
        .routes(routes!(preview_change))
        .routes(routes!(change_subscription))
        .routes(routes!(cancel_subscription))
        .routes(routes!(pause_subscription))
        .routes(routes!(resume_subscription))
        .routes(routes!(reactivate_subscription))
        .routes(routes!(list_invoices))
        .routes(routes!(get_invoice))
        .routes(routes!(refund_invoice))
        .routes(routes!(pay_invoice))
        .routes(routes!(run_billing))
}

fn actor(c: &Caller) -> Actor {
    Actor::api_key(c.livemode, &c.key_id)
}

#[utoipa::path(post, path = "/v1/subscriptions", tag = "subscriptions", request_body = SubscriptionCreate,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = Subscription), (status = 400, body = crate::error::ErrorEnvelope),
              (status = 404, body = crate::error::ErrorEnvelope), (status = 409, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn create_subscription(
    State(state): State<AppState>,
    caller: Caller,
    idem: Idem,
    ApiJson(body): ApiJson<SubscriptionCreate>,
) -> ApiResult<Response> {
    let out = subs::create(&state, &actor(&caller), body, &idem.reply(StatusCode::OK)).await?;
    idem.respond(StatusCode::OK, &out)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SubscriptionListParams {
    pub limit: Option<String>,
    pub starting_after: Option<String>,
    pub customer: Option<String>,
    pub status: Option<String>,
}

#[utoipa::path(get, path = "/v1/subscriptions", tag = "subscriptions", params(SubscriptionListParams),
    responses((status = 200, body = ListResponse<Subscription>), (status = 400, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn list_subscriptions(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<SubscriptionListParams>,
) -> ApiResult<Json<ListResponse<Subscription>>> {
    let page = Page::parse(q.limit.as_deref(), q.starting_after)?;
    let filter = SubscriptionFilter { customer: q.customer, status: q.status };
    let list = subs::list(&state, &actor(&caller), &filter, &page).await?;
    Ok(Json(ListResponse { object: "list", data: list.data, has_more: list.has_more, url: "/v1/subscriptions".into() }))
}

#[utoipa::path(get, path = "/v1/subscriptions/{id}", tag = "subscriptions",
    params(("id" = String, Path, description = "Subscription id")),
    responses((status = 200, body = Subscription), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn get_subscription(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Subscription>> {
    Ok(Json(subs::get(&state, &actor(&caller), &id).await?))
}

#[utoipa::path(post, path = "/v1/subscriptions/{id}/preview_change", tag = "subscriptions", request_body = SubscriptionChange,
    params(("id" = String, Path, description = "Subscription id")),
    responses((status = 200, body = ChangePreview), (status = 400, body = crate::error::ErrorEnvelope), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn preview_change(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<SubscriptionChange>,
) -> ApiResult<Json<ChangePreview>> {
    Ok(Json(subs::preview_change(&state, &actor(&caller), &id, &body).await?))
}

#[utoipa::path(post, path = "/v1/subscriptions/{id}/change", tag = "subscriptions", request_body = SubscriptionChange,
    params(("id" = String, Path, description = "Subscription id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = ChangeResult), (status = 400, body = crate::error::ErrorEnvelope), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn change_subscription(
    State(state): State<AppState>,
    caller: Caller,
    idem: Idem,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<SubscriptionChange>,
) -> ApiResult<Response> {
    let out = subs::change(&state, &actor(&caller), &id, &body, &idem.reply(StatusCode::OK)).await?;
    idem.respond(StatusCode::OK, &out)
}

#[utoipa::path(post, path = "/v1/subscriptions/{id}/cancel", tag = "subscriptions", request_body = SubscriptionCancel,
    params(("id" = String, Path, description = "Subscription id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = CancelResult), (status = 400, body = crate::error::ErrorEnvelope), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn cancel_subscription(
    State(state): State<AppState>,
    caller: Caller,
    idem: Idem,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<SubscriptionCancel>,
) -> ApiResult<Response> {
    let out = subs::cancel(&state, &actor(&caller), &id, &body, &idem.reply(StatusCode::OK)).await?;
    idem.respond(StatusCode::OK, &out)
}

#[utoipa::path(post, path = "/v1/subscriptions/{id}/pause", tag = "subscriptions", request_body = SubscriptionPause,
    params(("id" = String, Path, description = "Subscription id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = Subscription), (status = 400, body = crate::error::ErrorEnvelope), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn pause_subscription(
    State(state): State<AppState>,
    caller: Caller,
    idem: Idem,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<SubscriptionPause>,
) -> ApiResult<Response> {
    let out = subs::pause(&state, &actor(&caller), &id, body.months, &idem.reply(StatusCode::OK)).await?;
    idem.respond(StatusCode::OK, &out)
}

#[utoipa::path(post, path = "/v1/subscriptions/{id}/resume", tag = "subscriptions",
    params(("id" = String, Path, description = "Subscription id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = Subscription), (status = 400, body = crate::error::ErrorEnvelope), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn resume_subscription(
    State(state): State<AppState>,
    caller: Caller,
    idem: Idem,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let out = subs::resume(&state, &actor(&caller), &id, &idem.reply(StatusCode::OK)).await?;
    idem.respond(StatusCode::OK, &out)
}

#[utoipa::path(post, path = "/v1/subscriptions/{id}/reactivate", tag = "subscriptions",
    params(("id" = String, Path, description = "Subscription id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = Subscription), (status = 400, body = crate::error::ErrorEnvelope), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn reactivate_subscription(
    State(state): State<AppState>,
    caller: Caller,
    idem: Idem,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let out = subs::reactivate(&state, &actor(&caller), &id, &idem.reply(StatusCode::OK)).await?;
    idem.respond(StatusCode::OK, &out)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct InvoiceListParams {
    pub limit: Option<String>,
    pub starting_after: Option<String>,
    pub customer: Option<String>,
    pub subscription: Option<String>,
}

#[utoipa::path(get, path = "/v1/invoices", tag = "invoices", params(InvoiceListParams),
    responses((status = 200, body = ListResponse<Invoice>), (status = 400, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn list_invoices(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<InvoiceListParams>,
) -> ApiResult<Json<ListResponse<Invoice>>> {
    let page = Page::parse(q.limit.as_deref(), q.starting_after)?;
    let filter = InvoiceFilter { customer: q.customer, subscription: q.subscription };
    let list = invoices::list(&state, &actor(&caller), &filter, &page).await?;
    Ok(Json(ListResponse { object: "list", data: list.data, has_more: list.has_more, url: "/v1/invoices".into() }))
}

#[utoipa::path(get, path = "/v1/invoices/{id}", tag = "invoices",
    params(("id" = String, Path, description = "Invoice id")),
    responses((status = 200, body = Invoice), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn get_invoice(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Invoice>> {
    Ok(Json(invoices::get(&state, &actor(&caller), &id).await?))
}

#[utoipa::path(post, path = "/v1/invoices/{id}/refund", tag = "invoices", request_body = InvoiceRefund,
    params(("id" = String, Path, description = "Invoice id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = Invoice), (status = 400, body = crate::error::ErrorEnvelope), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn refund_invoice(
    State(state): State<AppState>,
    caller: Caller,
    idem: Idem,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<InvoiceRefund>,
) -> ApiResult<Response> {
    let out = invoices::refund(&state, &actor(&caller), &id, &body, &idem.reply(StatusCode::OK)).await?;
    idem.respond(StatusCode::OK, &out)
}

#[utoipa::path(post, path = "/v1/billing/run", tag = "subscriptions",
    responses((status = 200, body = BillingRun)), security(("api_key" = [])))]
async fn run_billing(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<BillingRun>> {
    Ok(Json(subs::run_billing(&state, &actor(&caller)).await?))
}

#[utoipa::path(post, path = "/v1/invoices/{id}/pay", tag = "invoices",
    params(("id" = String, Path, description = "Invoice id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = Invoice), (status = 400, body = crate::error::ErrorEnvelope),
              (status = 402, body = crate::error::ErrorEnvelope), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn pay_invoice(
    State(state): State<AppState>,
    caller: Caller,
    idem: Idem,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let out = invoices::pay(&state, &actor(&caller), &id, &idem.reply(StatusCode::OK)).await?;
    idem.respond(StatusCode::OK, &out)
}
