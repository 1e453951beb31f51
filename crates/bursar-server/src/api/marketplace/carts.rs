//! Carts over HTTP: each handler parses, calls one operation of
//! `bursar_core::marketplace::carts` and renders.

use super::shared::actor;
use crate::error::ApiResult;
use crate::extract::{ApiJson, Caller};
use crate::middleware::Idem;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use bursar_core::marketplace::carts::{self, Cart, CartCoupon, CartCreate, CartItemAdd, CartSubscriptionSet};
use bursar_core::purchases::cart_checkout::{self, CartCheckout};

#[utoipa::path(post, path = "/v1/carts", tag = "marketplace", request_body = CartCreate,
    responses((status = 201, body = Cart), (status = 400, body = crate::error::ErrorEnvelope),
              (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
pub(super) async fn create_cart(
    State(state): State<AppState>,
    caller: Caller,
    idem: Idem,
    ApiJson(b): ApiJson<CartCreate>,
) -> ApiResult<Response> {
    let out = carts::create(&state, &actor(&caller), b, &idem.reply(StatusCode::CREATED)).await?;
    idem.respond(StatusCode::CREATED, &out)
}

#[utoipa::path(get, path = "/v1/carts/{id}", tag = "marketplace",
    params(("id" = String, Path, description = "Cart id")),
    responses((status = 200, body = Cart), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
pub(super) async fn get_cart(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Cart>> {
    Ok(Json(carts::get(&state, &actor(&caller), &id).await?))
}

#[utoipa::path(post, path = "/v1/carts/{id}/items", tag = "marketplace", request_body = CartItemAdd,
    params(("id" = String, Path, description = "Cart id")),
    responses((status = 200, body = Cart), (status = 400, body = crate::error::ErrorEnvelope),
              (status = 404, body = crate::error::ErrorEnvelope), (status = 409, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
pub(super) async fn add_cart_item(
    State(state): State<AppState>,
    caller: Caller,
    idem: Idem,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<CartItemAdd>,
) -> ApiResult<Response> {
    let out = carts::add(&state, &actor(&caller), &id, b, &idem.reply(StatusCode::OK)).await?;
    idem.respond(StatusCode::OK, &out)
}

#[utoipa::path(delete, path = "/v1/carts/{id}/items/{course}", tag = "marketplace",
    params(("id" = String, Path, description = "Cart id"), ("course" = String, Path, description = "Course id")),
    responses((status = 200, body = Cart), (status = 404, body = crate::error::ErrorEnvelope),
              (status = 409, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
pub(super) async fn remove_cart_item(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, course)): Path<(String, String)>,
) -> ApiResult<Json<Cart>> {
    Ok(Json(carts::remove(&state, &actor(&caller), &id, &course).await?))
}

#[utoipa::path(post, path = "/v1/carts/{id}/coupon", tag = "marketplace", request_body = CartCoupon,
    params(("id" = String, Path, description = "Cart id")),
    responses((status = 200, body = Cart), (status = 400, body = crate::error::ErrorEnvelope),
              (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
pub(super) async fn set_cart_coupon(
    State(state): State<AppState>,
    caller: Caller,
    idem: Idem,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<CartCoupon>,
) -> ApiResult<Response> {
    let out = carts::set_coupon(&state, &actor(&caller), &id, b, &idem.reply(StatusCode::OK)).await?;
    idem.respond(StatusCode::OK, &out)
}

/// Sets the subscription a cart starts: the plan's first period is billed
/// with the courses, and renewals bill the plan alone. A coupon that covers
/// the plan becomes the subscription's (see `docs/marketplace.md`).
#[utoipa::path(post, path = "/v1/carts/{id}/subscription", tag = "marketplace", request_body = CartSubscriptionSet,
    params(("id" = String, Path, description = "Cart id")),
    responses((status = 200, body = Cart), (status = 400, body = crate::error::ErrorEnvelope),
              (status = 404, body = crate::error::ErrorEnvelope), (status = 409, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
pub(super) async fn set_cart_subscription(
    State(state): State<AppState>,
    caller: Caller,
    idem: Idem,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<CartSubscriptionSet>,
) -> ApiResult<Response> {
    let out = carts::set_subscription(&state, &actor(&caller), &id, b, &idem.reply(StatusCode::OK)).await?;
    idem.respond(StatusCode::OK, &out)
}

#[utoipa::path(delete, path = "/v1/carts/{id}/subscription", tag = "marketplace",
    params(("id" = String, Path, description = "Cart id")),
    responses((status = 200, body = Cart), (status = 404, body = crate::error::ErrorEnvelope),
              (status = 409, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
pub(super) async fn remove_cart_subscription(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Cart>> {
    Ok(Json(carts::remove_subscription(&state, &actor(&caller), &id).await?))
}

#[utoipa::path(post, path = "/v1/carts/{id}/checkout", tag = "marketplace", request_body = CartCheckout,
    params(("id" = String, Path, description = "Cart id")),
    responses((status = 201, body = bursar_core::sessions::Session), (status = 400, body = crate::error::ErrorEnvelope),
              (status = 404, body = crate::error::ErrorEnvelope), (status = 409, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
pub(super) async fn checkout_cart(
    State(state): State<AppState>,
    caller: Caller,
    idem: Idem,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<CartCheckout>,
) -> ApiResult<Response> {
    let out = cart_checkout::checkout(&state, &actor(&caller), &id, b, &idem.reply(StatusCode::CREATED)).await?;
    idem.respond(StatusCode::CREATED, &out)
}
