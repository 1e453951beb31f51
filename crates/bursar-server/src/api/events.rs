//! The event outbox, readable by the platform.

use super::ListResponse;
use crate::error::ApiResult;
use crate::extract::{ApiQuery, Caller, ListParams};
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use bursar_store::events;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_events)).routes(routes!(list_emails))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Event {
    pub id: String,
    /// Always `event`.
    pub object: &'static str,
    #[serde(rename = "type")]
    pub event_type: String,
    pub livemode: bool,
    pub object_id: Option<String>,
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    pub created: i64,
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
    let page = ListParams { limit: q.limit, starting_after: q.starting_after };
    let limit = page.limit()?;
    let rows = events::list(
        state.db.reader(),
        caller.livemode,
        q.event_type.as_deref(),
        page.starting_after.as_deref(),
        limit + 1,
    )
    .await?;
    let data = rows
        .into_iter()
        .map(|e| Event {
            id: e.id,
            object: "event",
            event_type: e.event_type,
            livemode: e.livemode,
            object_id: e.object_id,
            data: e.data,
            created: super::secs(e.created_at),
        })
        .collect();
    Ok(Json(ListResponse::from_rows(data, limit, "/v1/events")))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Email {
    pub id: String,
    /// Always `email`.
    pub object: &'static str,
    /// welcome, receipt, payment_failed, trial_ending, cancellation_survey.
    pub kind: String,
    pub customer: Option<String>,
    pub to: String,
    pub subject: String,
    pub body: String,
    /// pending, sending, sent or failed.
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created: i64,
    pub sent_at: Option<i64>,
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
    let limit = ListParams { limit: q.limit, starting_after: None }.limit()?;
    let rows = bursar_store::emails::list(state.db.reader(), caller.livemode, q.customer.as_deref(), limit + 1).await?;
    let data = rows
        .into_iter()
        .map(|e| Email {
            id: e.id,
            object: "email",
            kind: e.kind,
            customer: e.customer_id,
            to: e.to_address,
            subject: e.subject,
            body: e.body,
            status: e.status,
            attempts: e.attempts,
            last_error: e.last_error,
            created: super::secs(e.created_at),
            sent_at: e.sent_at.map(super::secs),
        })
        .collect();
    Ok(Json(ListResponse::from_rows(data, limit, "/v1/emails")))
}
