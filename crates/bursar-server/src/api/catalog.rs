//! The catalog over HTTP: import a catalog document, read plans with their
//! prices, add a price version.

use super::{commit_json, secs, ListResponse};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery, Caller};
use crate::middleware::Idem;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use bursar_core::catalog::{self as service, ImportSummary};
use bursar_domain::catalog::{CatalogDoc, Interval, Limit, PriceSpec, TaxBehavior};
use bursar_domain::id::{is_valid, IdKind};
use bursar_domain::money::{Currency, MAX_AMOUNT_MINOR};
use bursar_store::catalog::{self, PlanRow, PriceRow};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(import_catalog))
        .routes(routes!(list_products))
        .routes(routes!(list_plans))
        .routes(routes!(get_plan))
        .routes(routes!(create_price))
        .routes(routes!(get_price))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Price {
    pub id: String,
    /// Always `price`.
    pub object: &'static str,
    pub livemode: bool,
    pub plan: String,
    pub currency: String,
    /// `month` or `year`.
    pub interval: String,
    /// Minor units per interval.
    pub amount: i64,
    /// `exclusive` or `inclusive`.
    pub tax_behavior: String,
    /// 1 for the first price of this plan, currency and interval; each change adds one.
    pub version: i64,
    /// Offered to new subscriptions.
    pub active: bool,
    pub created: i64,
    pub superseded: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Trial {
    pub days: i64,
    pub card_required: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Plan {
    pub id: String,
    /// Always `plan`.
    pub object: &'static str,
    pub livemode: bool,
    pub product: String,
    pub code: String,
    pub name: String,
    pub description: String,
    pub rank: i64,
    pub trial: Trial,
    pub features: Vec<String>,
    /// Each a non-negative integer or `"unlimited"`.
    #[schema(value_type = Object)]
    pub limits: BTreeMap<String, Limit>,
    pub flags: BTreeMap<String, bool>,
    pub active: bool,
    pub prices: Vec<Price>,
    pub created: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Product {
    pub id: String,
    /// Always `product`.
    pub object: &'static str,
    pub livemode: bool,
    pub code: String,
    pub name: String,
    pub description: String,
    pub active: bool,
    pub created: i64,
}

pub fn render_price(p: PriceRow) -> Price {
    Price {
        id: p.id,
        object: "price",
        livemode: p.livemode,
        plan: p.plan_id,
        currency: p.currency,
        interval: p.interval,
        amount: p.amount,
        tax_behavior: p.tax_behavior,
        version: p.version,
        active: p.active,
        created: secs(p.created_at),
        superseded: p.superseded_at.map(secs),
    }
}

pub fn render_plan(p: PlanRow, prices: Vec<Price>) -> Plan {
    Plan {
        object: "plan",
        livemode: p.livemode,
        product: p.product_id,
        code: p.code,
        name: p.name,
        description: p.description,
        rank: p.rank,
        trial: Trial { days: p.trial_days, card_required: p.trial_card_required },
        features: serde_json::from_str(&p.features).unwrap_or_default(),
        limits: serde_json::from_str(&p.limits).unwrap_or_default(),
        flags: serde_json::from_str(&p.flags).unwrap_or_default(),
        active: p.active,
        prices,
        created: secs(p.created_at),
        id: p.id,
    }
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
    Idem(idem): Idem,
    ApiJson(doc): ApiJson<CatalogDoc>,
) -> ApiResult<Response> {
    doc.validate().map_err(|e| ApiError::invalid(&e.path, e.message))?;
    let now = state.now_ms();
    let mut tx = state.db.begin().await?;
    let summary = service::import(&mut tx, caller.livemode, &doc, now).await?;
    commit_json(tx, idem.as_ref(), StatusCode::OK, &summary).await
}

#[utoipa::path(get, path = "/v1/products", tag = "catalog",
    responses((status = 200, body = ListResponse<Product>)), security(("api_key" = [])))]
async fn list_products(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<ListResponse<Product>>> {
    let rows = catalog::products(state.db.reader(), caller.livemode).await?;
    let data: Vec<Product> = rows
        .into_iter()
        .map(|p| Product {
            id: p.id,
            object: "product",
            livemode: p.livemode,
            code: p.code,
            name: p.name,
            description: p.description,
            active: p.active,
            created: secs(p.created_at),
        })
        .collect();
    let n = data.len() as i64;
    Ok(Json(ListResponse::from_rows(data, n.max(1), "/v1/products")))
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

fn flag(param: &str, v: &Option<String>) -> ApiResult<bool> {
    match v.as_deref() {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(ApiError::invalid(param, format!("`{param}` must be true or false"))),
    }
}

#[utoipa::path(get, path = "/v1/plans", tag = "catalog", params(PlanListParams),
    responses((status = 200, body = ListResponse<Plan>), (status = 400, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn list_plans(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<PlanListParams>,
) -> ApiResult<Json<ListResponse<Plan>>> {
    let inactive = flag("include_inactive", &q.include_inactive)?;
    let plans = catalog::plans(state.db.reader(), caller.livemode, q.product.as_deref(), inactive).await?;
    let prices = catalog::prices_of(state.db.reader(), caller.livemode, None, inactive).await?;
    let mut by_plan: BTreeMap<String, Vec<Price>> = BTreeMap::new();
    for p in prices {
        by_plan.entry(p.plan_id.clone()).or_default().push(render_price(p));
    }
    let data: Vec<Plan> = plans
        .into_iter()
        .map(|p| {
            let prices = by_plan.remove(&p.id).unwrap_or_default();
            render_plan(p, prices)
        })
        .collect();
    let n = data.len() as i64;
    Ok(Json(ListResponse::from_rows(data, n.max(1), "/v1/plans")))
}

async fn load_plan(state: &AppState, caller: &Caller, id: &str) -> ApiResult<PlanRow> {
    let row = if is_valid(IdKind::Plan, id) {
        catalog::plan_by_id(state.db.reader(), caller.livemode, id).await?
    } else {
        catalog::plan_by_code(state.db.reader(), caller.livemode, id).await?
    };
    row.ok_or_else(|| ApiError::not_found("id", "plan", id))
}

#[utoipa::path(get, path = "/v1/plans/{id}", tag = "catalog",
    params(("id" = String, Path, description = "Plan id or code")),
    responses((status = 200, body = Plan), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn get_plan(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Json<Plan>> {
    let plan = load_plan(&state, &caller, &id).await?;
    let prices = catalog::prices_of(state.db.reader(), caller.livemode, Some(&plan.id), true).await?;
    Ok(Json(render_plan(plan, prices.into_iter().map(render_price).collect())))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceCreate {
    /// ISO 4217 code.
    pub currency: String,
    /// `month` or `year`.
    pub interval: String,
    /// Minor units per interval.
    pub amount: i64,
    /// `exclusive` (default) or `inclusive`.
    pub tax_behavior: Option<String>,
}

#[utoipa::path(post, path = "/v1/plans/{id}/prices", tag = "catalog", request_body = PriceCreate,
    params(("id" = String, Path, description = "Plan id or code"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = Price), (status = 400, body = crate::error::ErrorEnvelope), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn create_price(
    State(state): State<AppState>,
    caller: Caller,
    Idem(idem): Idem,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PriceCreate>,
) -> ApiResult<Response> {
    let currency = Currency::from_code(&body.currency)
        .map_err(|_| ApiError::invalid("currency", format!("unknown currency `{}`", body.currency)))?;
    let interval = Interval::parse(&body.interval)
        .ok_or_else(|| ApiError::invalid("interval", "interval must be `month` or `year`"))?;
    if !(0..=MAX_AMOUNT_MINOR).contains(&body.amount) {
        return Err(ApiError::invalid("amount", format!("amount must be 0 to {MAX_AMOUNT_MINOR} minor units")));
    }
    let tax_behavior = match body.tax_behavior.as_deref() {
        None => TaxBehavior::Exclusive,
        Some(t) => TaxBehavior::parse(t)
            .ok_or_else(|| ApiError::invalid("tax_behavior", "tax_behavior must be `exclusive` or `inclusive`"))?,
    };
    let plan = load_plan(&state, &caller, &id).await?;
    let now = state.now_ms();
    let mut tx = state.db.begin().await?;
    let current = catalog::prices_of(&mut *tx, caller.livemode, Some(&plan.id), false).await?;
    let spec = PriceSpec { currency, interval, amount: body.amount, tax_behavior };
    service::set_price(&mut tx, caller.livemode, &plan.id, &spec, &current, now).await?;
    let after = catalog::prices_of(&mut *tx, caller.livemode, Some(&plan.id), false).await?;
    let price = after
        .into_iter()
        .find(|p| p.currency == currency.code() && p.interval == interval.as_str())
        .ok_or_else(ApiError::internal)?;
    let out = render_price(price);
    bursar_store::events::emit(
        &mut tx,
        caller.livemode,
        "price.created",
        &out.id,
        &serde_json::to_value(&out).unwrap_or_default(),
        now,
    )
    .await?;
    commit_json(tx, idem.as_ref(), StatusCode::OK, &out).await
}

#[utoipa::path(get, path = "/v1/prices/{id}", tag = "catalog",
    params(("id" = String, Path, description = "Price id")),
    responses((status = 200, body = Price), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn get_price(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Json<Price>> {
    if !is_valid(IdKind::Price, &id) {
        return Err(ApiError::not_found("id", "price", &id));
    }
    let p = catalog::price_by_id(state.db.reader(), caller.livemode, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("id", "price", &id))?;
    Ok(Json(render_price(p)))
}
