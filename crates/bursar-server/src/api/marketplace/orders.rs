//! Orders and enrollments over HTTP.

use super::shared::actor;
use crate::api::ListResponse;
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiQuery, Caller};
use crate::middleware::Idem;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use bursar_core::marketplace::enrollments::{self, Enrollment};
use bursar_core::marketplace::orders::{self, Order};
use bursar_core::purchases::order_refunds::{self, OrderRefund};
use bursar_core::Page;
use serde::Deserialize;
use utoipa::IntoParams;

/// A page as the list parameters ask for it.
fn page(limit: Option<&str>, starting_after: Option<String>) -> ApiResult<Page> {
    Ok(Page { limit: Page::parse(limit, None)?.limit, starting_after })
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct OrderListParams {
    pub limit: Option<String>,
    pub starting_after: Option<String>,
    pub customer: Option<String>,
}

#[utoipa::path(get, path = "/v1/orders", tag = "marketplace", params(OrderListParams),
    responses((status = 200, body = ListResponse<Order>), (status = 400, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
pub(super) async fn list_orders(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<OrderListParams>,
) -> ApiResult<Json<ListResponse<Order>>> {
    let page = page(q.limit.as_deref(), q.starting_after)?;
    let list = orders::list(&state, &actor(&caller), q.customer.as_deref(), &page).await?;
    Ok(Json(ListResponse { object: "list", data: list.data, has_more: list.has_more, url: "/v1/orders".into() }))
}

#[utoipa::path(get, path = "/v1/orders/{id}", tag = "marketplace",
    params(("id" = String, Path, description = "Order id or number (ORD-YYYY-NNNNNN)")),
    responses((status = 200, body = Order), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
pub(super) async fn get_order(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Order>> {
    Ok(Json(orders::get(&state, &actor(&caller), &id).await?))
}

/// Refunds some items of an order: the credit note is for those items' net
/// and its tax, and only their instructors' earnings and their share of the
/// commission are taken back; the courses they sold are no longer granted.
#[utoipa::path(post, path = "/v1/orders/{id}/refund", tag = "marketplace", request_body = OrderRefund,
    params(("id" = String, Path, description = "Order id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = Order), (status = 400, body = crate::error::ErrorEnvelope),
              (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
pub(super) async fn refund_order(
    State(state): State<AppState>,
    caller: Caller,
    idem: Idem,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<OrderRefund>,
) -> ApiResult<Response> {
    let out = order_refunds::refund(&state, &actor(&caller), &id, b, &idem.reply(StatusCode::OK)).await?;
    idem.respond(StatusCode::OK, &out)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct EnrollmentListParams {
    pub limit: Option<String>,
    pub starting_after: Option<String>,
    pub customer: Option<String>,
    pub course: Option<String>,
}

#[utoipa::path(get, path = "/v1/enrollments", tag = "marketplace", params(EnrollmentListParams),
    responses((status = 200, body = ListResponse<Enrollment>), (status = 400, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
pub(super) async fn list_enrollments(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<EnrollmentListParams>,
) -> ApiResult<Json<ListResponse<Enrollment>>> {
    let page = page(q.limit.as_deref(), q.starting_after)?;
    let list = enrollments::list(&state, &actor(&caller), q.customer.as_deref(), q.course.as_deref(), &page).await?;
    Ok(Json(ListResponse { object: "list", data: list.data, has_more: list.has_more, url: "/v1/enrollments".into() }))
}

#[utoipa::path(post, path = "/v1/enrollments/{id}/complete", tag = "marketplace",
    params(("id" = String, Path, description = "Enrollment id")),
    responses((status = 200, body = Enrollment), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
pub(super) async fn complete_enrollment(
    State(state): State<AppState>,
    caller: Caller,
    idem: Idem,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let out = enrollments::complete(&state, &actor(&caller), &id, &idem.reply(StatusCode::OK)).await?;
    idem.respond(StatusCode::OK, &out)
}
