//! Metrics, usage events and entitlement checks over HTTP.

use crate::error::{ApiError, ApiResult};
use crate::extract::{page_of, ApiJson, ApiQuery, Caller};
use crate::middleware::Idem;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use bursar_core::usage::consume::{self, Consume, Consumed};
use bursar_core::usage::entitlements::{self, Question};
use bursar_core::usage::grants::{self, CreditGrant, GrantCreate};
use bursar_core::usage::ingest::{self, UsageBatch, UsageEvent, UsageReceipt, UsageRecord};
use bursar_core::usage::metrics::{self, Metric, MetricCreate};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use bursar_core::usage::entitlements::{Entitlement, UpgradeTier};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(put_metric, list_metrics))
        .routes(routes!(ingest, list_usage))
        .routes(routes!(check))
        .routes(routes!(consume))
        .routes(routes!(create_grant, list_grants))
}

#[utoipa::path(post, path = "/v1/metrics", tag = "usage", request_body = MetricCreate,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = Metric, description = "Created, or updated when the code exists"),
              (status = 400, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn put_metric(
    State(state): State<AppState>,
    caller: Caller,
    idem: Idem,
    ApiJson(body): ApiJson<MetricCreate>,
) -> ApiResult<Response> {
    let out = metrics::define(&state, &caller.actor(), body, &idem.reply(StatusCode::OK)).await?;
    idem.respond(StatusCode::OK, &out)
}

#[utoipa::path(get, path = "/v1/metrics", tag = "usage",
    responses((status = 200, body = Vec<Metric>)), security(("api_key" = [])))]
async fn list_metrics(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<Metric>>> {
    Ok(Json(metrics::list(&state, &caller.actor()).await?))
}

/// A body error, named by its path inside the body.
fn parse_err(e: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let path = e.path().to_string();
    let field = if path == "." { String::new() } else { path };
    ApiError::invalid(&field, crate::extract::plain_words(&e.into_inner().to_string()))
}

#[utoipa::path(post, path = "/v1/usage", tag = "usage", request_body = UsageBatch,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = UsageReceipt), (status = 400, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn ingest(
    State(state): State<AppState>,
    caller: Caller,
    idem: Idem,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> ApiResult<Response> {
    // One event, or `{"events": [...]}`.
    let events: Vec<UsageEvent> = if body.get("events").is_some() {
        serde_path_to_error::deserialize::<_, UsageBatch>(body).map_err(parse_err)?.events
    } else {
        vec![serde_path_to_error::deserialize::<_, UsageEvent>(body).map_err(parse_err)?]
    };
    let out = ingest::ingest(&state, &caller.actor(), events, &idem.reply(StatusCode::OK)).await?;
    idem.respond(StatusCode::OK, &out)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CheckParams {
    pub customer: String,
    /// A metric code (how much is left), or
    pub metric: Option<String>,
    /// a plan flag (`api_access`, `sso`, …), or
    pub feature: Option<String>,
    /// a course or bundle (is the learner enrolled?).
    pub course: Option<String>,
    /// Units the customer wants to use (default 1).
    pub quantity: Option<String>,
}

#[utoipa::path(get, path = "/v1/entitlements/check", tag = "usage", params(CheckParams),
    responses((status = 200, body = Entitlement), (status = 400, body = crate::error::ErrorEnvelope),
              (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn check(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<CheckParams>,
) -> ApiResult<Json<Entitlement>> {
    let question =
        Question { customer: q.customer, metric: q.metric, feature: q.feature, course: q.course, quantity: q.quantity };
    Ok(Json(entitlements::check(&state, &caller.actor(), question).await?))
}

#[utoipa::path(post, path = "/v1/entitlements/consume", tag = "usage", request_body = Consume,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = Consumed, description = "`consumed` says whether the units were taken"),
              (status = 400, body = crate::error::ErrorEnvelope), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn consume(
    State(state): State<AppState>,
    caller: Caller,
    idem: Idem,
    ApiJson(body): ApiJson<Consume>,
) -> ApiResult<Response> {
    let out = consume::consume(&state, &caller.actor(), body, &idem.reply(StatusCode::OK)).await?;
    idem.respond(StatusCode::OK, &out)
}

#[utoipa::path(post, path = "/v1/credit_grants", tag = "usage", request_body = GrantCreate,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = CreditGrant), (status = 400, body = crate::error::ErrorEnvelope),
              (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn create_grant(
    State(state): State<AppState>,
    caller: Caller,
    idem: Idem,
    ApiJson(body): ApiJson<GrantCreate>,
) -> ApiResult<Response> {
    let out = grants::grant(&state, &caller.actor(), body, &idem.reply(StatusCode::OK)).await?;
    idem.respond(StatusCode::OK, &out)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct GrantListParams {
    pub customer: String,
    pub metric: Option<String>,
}

#[utoipa::path(get, path = "/v1/credit_grants", tag = "usage", params(GrantListParams),
    responses((status = 200, body = Vec<CreditGrant>, description = "Newest first: the credit balance history"),
              (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn list_grants(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<GrantListParams>,
) -> ApiResult<Json<Vec<CreditGrant>>> {
    Ok(Json(grants::list(&state, &caller.actor(), &q.customer, q.metric.as_deref()).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UsageListParams {
    pub customer: String,
    pub metric: Option<String>,
    pub limit: Option<String>,
    pub starting_after: Option<String>,
}

#[utoipa::path(get, path = "/v1/usage", tag = "usage", params(UsageListParams),
    responses((status = 200, body = super::ListResponse<UsageRecord>, description = "Newest first: usage and consumption history"),
              (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn list_usage(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<UsageListParams>,
) -> ApiResult<Json<super::ListResponse<UsageRecord>>> {
    let page = page_of(q.limit, q.starting_after)?;
    let list = ingest::history(&state, &caller.actor(), &q.customer, q.metric.as_deref(), &page).await?;
    Ok(Json(super::ListResponse { object: "list", data: list.data, has_more: list.has_more, url: "/v1/usage".into() }))
}
