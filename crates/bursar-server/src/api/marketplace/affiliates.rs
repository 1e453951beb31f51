//! Affiliates, clicks and commissions over HTTP.

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
use bursar_core::marketplace::affiliates::{
    self, Affiliate, AffiliateApply, AffiliateStatus, Click, ClickCreate, Commission,
};
use serde::Deserialize;
use utoipa::IntoParams;

/// A whole list in one page.
fn all<T>(data: Vec<T>, url: &str) -> ListResponse<T> {
    ListResponse { object: "list", data, has_more: false, url: url.into() }
}

#[utoipa::path(post, path = "/v1/affiliates", tag = "payouts", request_body = AffiliateApply,
    responses((status = 201, body = Affiliate), (status = 400, body = crate::error::ErrorEnvelope),
              (status = 409, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
pub(super) async fn create_affiliate(
    State(state): State<AppState>,
    caller: Caller,
    idem: Idem,
    ApiJson(b): ApiJson<AffiliateApply>,
) -> ApiResult<Response> {
    let out = affiliates::apply(&state, &actor(&caller), b, &idem.reply(StatusCode::CREATED)).await?;
    idem.respond(StatusCode::CREATED, &out)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AffiliateListParams {
    pub status: Option<String>,
}

#[utoipa::path(get, path = "/v1/affiliates", tag = "payouts", params(AffiliateListParams),
    responses((status = 200, body = ListResponse<Affiliate>)), security(("api_key" = [])))]
pub(super) async fn list_affiliates(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<AffiliateListParams>,
) -> ApiResult<Json<ListResponse<Affiliate>>> {
    let data = affiliates::list(&state, &actor(&caller), q.status.as_deref()).await?;
    Ok(Json(all(data, "/v1/affiliates")))
}

#[utoipa::path(get, path = "/v1/affiliates/{id}", tag = "payouts",
    params(("id" = String, Path, description = "Affiliate id, the platform's user id, or the code")),
    responses((status = 200, body = Affiliate), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
pub(super) async fn get_affiliate(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Affiliate>> {
    Ok(Json(affiliates::get(&state, &actor(&caller), &id).await?))
}

#[utoipa::path(post, path = "/v1/affiliates/{id}/status", tag = "payouts", request_body = AffiliateStatus,
    params(("id" = String, Path, description = "Affiliate id")),
    responses((status = 200, body = Affiliate), (status = 400, body = crate::error::ErrorEnvelope),
              (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
pub(super) async fn set_affiliate_status(
    State(state): State<AppState>,
    caller: Caller,
    idem: Idem,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<AffiliateStatus>,
) -> ApiResult<Response> {
    let out = affiliates::set_status(&state, &actor(&caller), &id, b, &idem.reply(StatusCode::OK)).await?;
    idem.respond(StatusCode::OK, &out)
}

#[utoipa::path(post, path = "/v1/affiliate_clicks", tag = "payouts", request_body = ClickCreate,
    responses((status = 201, body = Click), (status = 400, body = crate::error::ErrorEnvelope),
              (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
pub(super) async fn create_click(
    State(state): State<AppState>,
    caller: Caller,
    idem: Idem,
    ApiJson(b): ApiJson<ClickCreate>,
) -> ApiResult<Response> {
    let out = affiliates::click(&state, &actor(&caller), b, &idem.reply(StatusCode::CREATED)).await?;
    idem.respond(StatusCode::CREATED, &out)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CommissionListParams {
    pub affiliate: Option<String>,
    pub status: Option<String>,
}

#[utoipa::path(get, path = "/v1/commissions", tag = "payouts", params(CommissionListParams),
    responses((status = 200, body = ListResponse<Commission>)), security(("api_key" = [])))]
pub(super) async fn list_commissions(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<CommissionListParams>,
) -> ApiResult<Json<ListResponse<Commission>>> {
    let data = affiliates::commissions(&state, &actor(&caller), q.affiliate.as_deref(), q.status.as_deref()).await?;
    Ok(Json(all(data, "/v1/commissions")))
}
