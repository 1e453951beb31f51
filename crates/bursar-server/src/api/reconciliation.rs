//! The reconciliation report: for each of Bursar's payments through a
//! provider in a window, what the provider says about it (asked with
//! `retrieve`), and the ledger entry it should have; plus the provider
//! events that named a payment Bursar does not know or were flagged.
//! Every difference is listed; an empty list means the three agree. Each
//! handler parses, calls one operation of `bursar_core::reconciliation`
//! and renders.

use crate::error::ApiResult;
use crate::extract::{page_of, ApiQuery, Caller};
use crate::middleware::Idem;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use bursar_core::reconciliation::{self, ProviderEvent, Reconciliation};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use bursar_core::reconciliation::Difference;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(reconciliation))
        .routes(routes!(list_provider_events))
        .routes(routes!(replay_provider_event))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReconciliationParams {
    /// `stripe`, `paypal`, `razorpay` or `sandbox`.
    pub provider: String,
    /// Unix seconds; payments created from then (default: 7 days ago).
    pub from: Option<String>,
    /// Unix seconds; payments created before then (default: now).
    pub to: Option<String>,
}

#[utoipa::path(get, path = "/v1/reports/reconciliation", tag = "payments", params(ReconciliationParams),
    responses((status = 200, body = Reconciliation), (status = 400, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn reconciliation(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ReconciliationParams>,
) -> ApiResult<Json<Reconciliation>> {
    Ok(Json(reconciliation::report(&state, &caller.actor(), q.provider, q.from, q.to).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ProviderEventParams {
    pub limit: Option<String>,
    pub starting_after: Option<String>,
    pub provider: Option<String>,
}

#[utoipa::path(get, path = "/v1/provider_events", tag = "payments", params(ProviderEventParams),
    responses((status = 200, body = super::ListResponse<ProviderEvent>), (status = 400, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn list_provider_events(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ProviderEventParams>,
) -> ApiResult<Json<super::ListResponse<ProviderEvent>>> {
    let page = page_of(q.limit, q.starting_after)?;
    let list = reconciliation::events(&state, &caller.actor(), q.provider.as_deref(), &page).await?;
    let url = "/v1/provider_events".to_string();
    Ok(Json(super::ListResponse { object: "list", data: list.data, has_more: list.has_more, url }))
}

#[utoipa::path(post, path = "/v1/provider_events/{id}/replay", tag = "payments",
    params(("id" = String, Path, description = "Stored provider event id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = ProviderEvent), (status = 400, body = crate::error::ErrorEnvelope),
              (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn replay_provider_event(
    State(state): State<AppState>,
    caller: Caller,
    idem: Idem,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> ApiResult<Response> {
    let out = reconciliation::replay_event(&state, &caller.actor(), &id, &idem.reply(StatusCode::OK)).await?;
    idem.respond(StatusCode::OK, &out)
}
