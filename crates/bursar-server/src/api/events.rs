//! The event outbox and the emails sent, readable by the platform. Each
//! handler parses, calls one operation of `bursar_core::events` and renders.

use super::ListResponse;
use crate::error::ApiResult;
use crate::extract::{page_of, ApiQuery, Caller};
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use bursar_core::events::{self, Email, Event};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_events)).routes(routes!(list_emails))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventListParams {
    pub limit: Option<String>,
    pub starting_after: Option<String>,
    /// Only events of this type, e.g. `customer.created`.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub event_type: Option<String>,
}

#[utoipa::path(get, path = "/v1/events", tag = "events", params(EventListParams),
    responses((status = 200, body = ListResponse<Event>)), security(("api_key" = [])))]
async fn list_events(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<EventListParams>,
) -> ApiResult<Json<ListResponse<Event>>> {
    let page = page_of(q.limit, q.starting_after)?;
    let list = events::list(&state, &caller.actor(), q.event_type.as_deref(), &page).await?;
    Ok(Json(ListResponse { object: "list", data: list.data, has_more: list.has_more, url: "/v1/events".into() }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EmailListParams {
    pub customer: Option<String>,
    pub limit: Option<String>,
}

#[utoipa::path(get, path = "/v1/emails", tag = "events", params(EmailListParams),
    responses((status = 200, body = ListResponse<Email>)), security(("api_key" = [])))]
async fn list_emails(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<EmailListParams>,
) -> ApiResult<Json<ListResponse<Email>>> {
    let limit = page_of(q.limit, None)?.limit;
    let list = events::emails(&state, &caller.actor(), q.customer.as_deref(), limit).await?;
    Ok(Json(ListResponse { object: "list", data: list.data, has_more: list.has_more, url: "/v1/emails".into() }))
}
