//! "Learners who bought this also bought" and personal suggestions
//! (`bursar_core::courses::recommendations`: item-based collaborative
//! filtering over purchases and completions).

use super::courses::platform;
use super::ListResponse;
use crate::error::ApiResult;
use crate::extract::{ApiQuery, Caller};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::Json;
use bursar_core::courses::recommendations::{self as rec, Suggestion};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(also_bought)).routes(routes!(for_customer))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RecParams {
    /// 1 to 50 (default 10).
    pub limit: Option<String>,
}

fn list(data: Vec<Suggestion>, url: String) -> ListResponse<Suggestion> {
    ListResponse { object: "list", data, has_more: false, url }
}

#[utoipa::path(get, path = "/v1/courses/{id}/also_bought", tag = "marketplace",
    params(("id" = String, Path, description = "Course or bundle id"), RecParams),
    responses((status = 200, body = ListResponse<Suggestion>), (status = 400, body = crate::error::ErrorEnvelope),
              (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn also_bought(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(p): ApiQuery<RecParams>,
) -> ApiResult<Json<ListResponse<Suggestion>>> {
    let limit = rec::limit_of(p.limit.as_deref())?;
    // Co-purchases are the platform's data: its key only.
    let data = rec::also_bought(&state, &platform(&caller), &id, limit).await?;
    Ok(Json(list(data, format!("/v1/courses/{id}/also_bought"))))
}

#[utoipa::path(get, path = "/v1/customers/{id}/recommendations", tag = "marketplace",
    params(("id" = String, Path, description = "Customer id"), RecParams),
    responses((status = 200, body = ListResponse<Suggestion>), (status = 400, body = crate::error::ErrorEnvelope),
              (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn for_customer(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(p): ApiQuery<RecParams>,
) -> ApiResult<Json<ListResponse<Suggestion>>> {
    let limit = rec::limit_of(p.limit.as_deref())?;
    let (customer, data) = rec::for_customer(&state, &platform(&caller), &id, limit).await?;
    Ok(Json(list(data, format!("/v1/customers/{customer}/recommendations"))))
}
