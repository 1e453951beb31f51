//! Instructor earnings, statements and analytics over HTTP.

use super::shared::{download, market_actor};
use crate::error::ApiResult;
use crate::extract::{Actor, ApiQuery};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::Json;
use bursar_core::marketplace::earnings::{self, Earnings, InstructorAnalytics};
use serde::Deserialize;
use utoipa::IntoParams;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AsOfParams {
    /// Unix seconds; default now.
    pub as_of: Option<String>,
}

#[utoipa::path(get, path = "/v1/instructors/{id}/earnings", tag = "payouts",
    params(("id" = String, Path, description = "Instructor id or the platform's user id"), AsOfParams),
    responses((status = 200, body = Earnings), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
pub(super) async fn instructor_earnings(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<AsOfParams>,
) -> ApiResult<Json<Earnings>> {
    Ok(Json(earnings::earnings(&state, &market_actor(&actor), &id, q.as_of.as_deref()).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct StatementParams {
    /// `YYYY-MM`.
    pub period: String,
    /// `csv` (default) or `pdf`.
    pub format: Option<String>,
}

#[utoipa::path(get, path = "/v1/instructors/{id}/statement", tag = "payouts",
    params(("id" = String, Path, description = "Instructor id or the platform's user id"), StatementParams),
    responses((status = 200, description = "The month's sales, claw-backs and payouts as CSV or PDF",
               content_type = "text/csv"),
              (status = 400, body = crate::error::ErrorEnvelope), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
pub(super) async fn instructor_statement(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<StatementParams>,
) -> ApiResult<Response> {
    let d = earnings::statement(&state, &market_actor(&actor), &id, &q.period, q.format.as_deref()).await?;
    Ok(download(d))
}

#[utoipa::path(get, path = "/v1/instructors/{id}/analytics", tag = "payouts",
    params(("id" = String, Path, description = "Instructor id or the platform's user id")),
    responses((status = 200, body = InstructorAnalytics), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
pub(super) async fn instructor_analytics(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
) -> ApiResult<Json<InstructorAnalytics>> {
    Ok(Json(earnings::analytics(&state, &market_actor(&actor), &id).await?))
}
