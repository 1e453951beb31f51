//! `GET /v1/courses/search`: the marketplace's listing and full-text search
//! over published courses, with filters, sorts and cursor pages.
//!
//! The platform's key and instructor sessions may both search; either sees
//! the published courses of its own mode only. The cursor is opaque to
//! callers: it carries the sort keys of the last course of a page, and a
//! fingerprint of the search it belongs to, so a cursor is refused when
//! the query, filters or sort change under it.

use super::courses::actor_of;
use crate::error::ApiResult;
use crate::extract::{Actor, ApiQuery};
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use bursar_core::courses::search;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use bursar_core::courses::search::{SearchPage, SearchParams};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(search_courses))
}

#[utoipa::path(get, path = "/v1/courses/search", tag = "marketplace", params(SearchParams),
    responses((status = 200, body = SearchPage), (status = 400, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn search_courses(
    State(state): State<AppState>,
    actor: Actor,
    ApiQuery(p): ApiQuery<SearchParams>,
) -> ApiResult<Json<SearchPage>> {
    Ok(Json(search::search(&state, &actor_of(&actor), &p).await?))
}
