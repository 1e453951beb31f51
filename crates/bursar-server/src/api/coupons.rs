//! Coupons and promotion codes over HTTP. Each handler parses, calls one
//! operation of `bursar_core::subscriptions::coupons` and renders.

use super::ListResponse;
use crate::error::ApiResult;
use crate::extract::{ApiJson, Caller};
use crate::middleware::Idem;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use bursar_core::subscriptions::coupons::{self, Coupon};
use bursar_core::Actor;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use bursar_core::subscriptions::coupons::CouponCreate;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_coupon, list_coupons))
        .routes(routes!(get_coupon))
        .routes(routes!(deactivate_coupon))
}

fn actor(c: &Caller) -> Actor {
    Actor::api_key(c.livemode, &c.key_id)
}

#[utoipa::path(post, path = "/v1/coupons", tag = "coupons", request_body = CouponCreate,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = Coupon), (status = 400, body = crate::error::ErrorEnvelope), (status = 409, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn create_coupon(
    State(state): State<AppState>,
    caller: Caller,
    idem: Idem,
    ApiJson(b): ApiJson<CouponCreate>,
) -> ApiResult<Response> {
    let out = coupons::create(&state, &actor(&caller), b, &idem.reply(StatusCode::OK)).await?;
    idem.respond(StatusCode::OK, &out)
}

#[utoipa::path(get, path = "/v1/coupons", tag = "coupons",
    responses((status = 200, body = ListResponse<Coupon>)), security(("api_key" = [])))]
async fn list_coupons(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<ListResponse<Coupon>>> {
    let data = coupons::list(&state, &actor(&caller)).await?;
    let n = data.len() as i64;
    Ok(Json(ListResponse::from_rows(data, n.max(1), "/v1/coupons")))
}

#[utoipa::path(get, path = "/v1/coupons/{code}", tag = "coupons",
    params(("code" = String, Path, description = "Coupon code or id")),
    responses((status = 200, body = Coupon), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn get_coupon(
    State(state): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
) -> ApiResult<Json<Coupon>> {
    Ok(Json(coupons::get(&state, &actor(&caller), &code).await?))
}

#[utoipa::path(post, path = "/v1/coupons/{code}/deactivate", tag = "coupons",
    params(("code" = String, Path, description = "Coupon code or id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = Coupon), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn deactivate_coupon(
    State(state): State<AppState>,
    caller: Caller,
    idem: Idem,
    Path(code): Path<String>,
) -> ApiResult<Response> {
    let out = coupons::deactivate(&state, &actor(&caller), &code, &idem.reply(StatusCode::OK)).await?;
    idem.respond(StatusCode::OK, &out)
}
