//! The catalog over HTTP: import a catalog document, read plans with their
//! prices, add a price version. Each handler parses, calls one operation of
//! `bursar_core::catalog` and renders.

use super::ListResponse;
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiQuery, Caller};
use crate::middleware::Idem;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use bursar_core::catalog::{self, ImportSummary, Plan, Price, PriceCreate, Product};
use bursar_domain::catalog::CatalogDoc;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use bursar_core::catalog::{render_plan, render_price, Trial};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(import_catalog))
        .routes(routes!(list_products))
        .routes(routes!(list_plans))
        .routes(routes!(get_plan))
        .routes(routes!(create_price))
        .routes(routes!(get_price))
}

/// A whole list in one page.
fn all<T>(data: Vec<T>, url: &str) -> ListResponse<T> {
    ListResponse { object: "list", data, has_more: false, url: url.to_string() }
}

#[utoipa::path(post, path = "/v1/catalog/import", tag = "catalog",
    request_body(content = Object, description = "A catalog document: products with plans (code, name, rank, trial_days, \
        trial_card_required, features, limits, flags) and prices (currency, interval, amount, tax_behavior). \
        Products and plans are matched by code; a changed price becomes a new version."),
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = ImportSummary), (status = 400, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn import_catalog(
    State(state): State<AppState>,
    caller: Caller,
    idem: Idem,
    ApiJson(doc): ApiJson<CatalogDoc>,
) -> ApiResult<Response> {
    let out = catalog::import_doc(&state, &caller.actor(), &doc, &idem.reply(StatusCode::OK)).await?;
    idem.respond(StatusCode::OK, &out)
}

#[utoipa::path(get, path = "/v1/products", tag = "catalog",
    responses((status = 200, body = ListResponse<Product>)), security(("api_key" = [])))]
async fn list_products(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<ListResponse<Product>>> {
    Ok(Json(all(catalog::products(&state, &caller.actor()).await?, "/v1/products")))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PlanListParams {
    /// Only plans of this product id.
    pub product: Option<String>,
    /// `true` to include retired plans and prices.
    pub include_inactive: Option<String>,
}

#[utoipa::path(get, path = "/v1/plans", tag = "catalog", params(PlanListParams),
    responses((status = 200, body = ListResponse<Plan>), (status = 400, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn list_plans(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<PlanListParams>,
) -> ApiResult<Json<ListResponse<Plan>>> {
    let plans = catalog::plans(&state, &caller.actor(), q.product.as_deref(), q.include_inactive.as_deref()).await?;
    Ok(Json(all(plans, "/v1/plans")))
}

#[utoipa::path(get, path = "/v1/plans/{id}", tag = "catalog",
    params(("id" = String, Path, description = "Plan id or code")),
    responses((status = 200, body = Plan), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn get_plan(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Json<Plan>> {
    Ok(Json(catalog::plan(&state, &caller.actor(), &id).await?))
}

#[utoipa::path(post, path = "/v1/plans/{id}/prices", tag = "catalog", request_body = PriceCreate,
    params(("id" = String, Path, description = "Plan id or code"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = Price), (status = 400, body = crate::error::ErrorEnvelope), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn create_price(
    State(state): State<AppState>,
    caller: Caller,
    idem: Idem,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PriceCreate>,
) -> ApiResult<Response> {
    let out = catalog::create_price(&state, &caller.actor(), &id, body, &idem.reply(StatusCode::OK)).await?;
    idem.respond(StatusCode::OK, &out)
}

#[utoipa::path(get, path = "/v1/prices/{id}", tag = "catalog",
    params(("id" = String, Path, description = "Price id")),
    responses((status = 200, body = Price), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn get_price(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Json<Price>> {
    Ok(Json(catalog::price(&state, &caller.actor(), &id).await?))
}
