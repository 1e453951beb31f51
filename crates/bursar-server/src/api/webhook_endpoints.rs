//! Webhook endpoints over HTTP: where the platform wants events sent, the
//! delivery log, and manual replay. The signing secret is shown when an
//! endpoint is created and when it is rolled, never otherwise.

use super::{check_len, commit_json, secs, ListResponse};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery, Caller, ListParams};
use crate::middleware::Idem;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use bursar_core::webhooks_out;
use bursar_store::events;
use bursar_store::webhooks::{self, AttemptRow, DeliveryRow, EndpointRow};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_endpoint, list_endpoints))
        .routes(routes!(get_endpoint, update_endpoint, delete_endpoint))
        .routes(routes!(roll_secret))
        .routes(routes!(list_deliveries))
        .routes(routes!(get_delivery))
        .routes(routes!(retry_delivery))
        .routes(routes!(resend_event))
}

/// `null` clears a field, absence leaves it alone.
fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointCreate {
    /// Where events are POSTed: an `https://` URL of at most 2048 characters,
    /// without credentials, not pointing at a loopback, private or reserved
    /// address.
    pub url: String,
    /// Event types (`invoice.paid`), families (`invoice.*`) or `*` for all.
    pub enabled_events: Vec<String>,
    pub description: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointUpdate {
    pub url: Option<String>,
    pub enabled_events: Option<Vec<String>>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    /// `true` stops deliveries (pending ones wait); `false` resumes them.
    pub disabled: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookEndpoint {
    pub id: String,
    /// Always `webhook_endpoint`.
    pub object: &'static str,
    pub livemode: bool,
    pub url: String,
    pub description: Option<String>,
    pub enabled_events: Vec<String>,
    /// `enabled` or `disabled`.
    pub status: String,
    /// The signing secret (`whsec_…`); only in the responses that create the
    /// endpoint or roll its secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// Until then the previous secret also signs requests (a second `v1`).
    pub previous_secret_expires_at: Option<i64>,
    pub created: i64,
}

fn render(e: EndpointRow, secret: Option<String>, now: i64) -> WebhookEndpoint {
    WebhookEndpoint {
        enabled_events: e.events(),
        id: e.id,
        object: "webhook_endpoint",
        livemode: e.livemode,
        url: e.url,
        description: e.description,
        status: e.status,
        secret,
        previous_secret_expires_at: e.previous_secret_expires_at.filter(|t| *t > now).map(secs),
        created: secs(e.created_at),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeletedWebhookEndpoint {
    pub id: String,
    /// Always `webhook_endpoint`.
    pub object: &'static str,
    pub deleted: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookAttempt {
    pub attempt: i64,
    /// Made through the API (retry or resend) rather than by the schedule.
    pub manual: bool,
    pub attempted_at: i64,
    /// The receiver's HTTP status; absent when no response came.
    pub status_code: Option<i64>,
    pub error: Option<String>,
    /// The first kilobyte of the response body.
    pub response_snippet: Option<String>,
    pub duration_ms: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookDelivery {
    pub id: String,
    /// Always `webhook_delivery`.
    pub object: &'static str,
    pub livemode: bool,
    pub endpoint: String,
    pub event: String,
    pub event_type: String,
    /// `pending` (retries scheduled), `succeeded`, or `failed` (gave up
    /// three days after the first attempt).
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: Option<i64>,
    pub first_attempt_at: Option<i64>,
    pub last_attempt_at: Option<i64>,
    pub last_status_code: Option<i64>,
    pub last_error: Option<String>,
    pub last_response_snippet: Option<String>,
    pub last_duration_ms: Option<i64>,
    pub created: i64,
    pub delivered_at: Option<i64>,
    /// Every attempt, oldest first; only when a single delivery is returned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempt_history: Option<Vec<WebhookAttempt>>,
}

fn render_delivery(d: DeliveryRow, history: Option<Vec<AttemptRow>>) -> WebhookDelivery {
    WebhookDelivery {
        id: d.id,
        object: "webhook_delivery",
        livemode: d.livemode,
        endpoint: d.endpoint_id,
        event: d.event_id,
        event_type: d.event_type,
        next_attempt_at: d.next_attempt_at.filter(|_| d.status == "pending").map(secs),
        status: d.status,
        attempts: d.attempts,
        first_attempt_at: d.first_attempt_at.map(secs),
        last_attempt_at: d.last_attempt_at.map(secs),
        last_status_code: d.last_status_code,
        last_error: d.last_error,
        last_response_snippet: d.last_response_snippet,
        last_duration_ms: d.last_duration_ms,
        created: secs(d.created_at),
        delivered_at: d.delivered_at.map(secs),
        attempt_history: history.map(|h| {
            h.into_iter()
                .map(|a| WebhookAttempt {
                    attempt: a.attempt,
                    manual: a.manual,
                    attempted_at: secs(a.attempted_at),
                    status_code: a.status_code,
                    error: a.error,
                    response_snippet: a.response_snippet,
                    duration_ms: a.duration_ms,
                })
                .collect()
        }),
    }
}

async fn checked_url(state: &AppState, url: &str) -> ApiResult<String> {
    webhooks_out::check_url(url, state.config.webhook_allow_private_urls)
        .await
        .map(|u| u.to_string())
        .map_err(|m| ApiError::invalid("url", m))
}

fn checked_events(list: &[String]) -> ApiResult<String> {
    let v = webhooks_out::check_event_patterns(list).map_err(|m| ApiError::invalid("enabled_events", m))?;
    serde_json::to_string(&v).map_err(|_| ApiError::internal())
}

fn clean_description(d: Option<String>) -> ApiResult<Option<String>> {
    let d = d.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    check_len("description", &d, 500)?;
    Ok(d)
}

async fn load(state: &AppState, caller: &Caller, id: &str) -> ApiResult<EndpointRow> {
    if !webhooks_out::is_id("we", id) {
        return Err(ApiError::not_found("id", "webhook endpoint", id));
    }
    webhooks::endpoint_by_id(state.db.reader(), caller.livemode, id, "")
        .await?
        .ok_or_else(|| ApiError::not_found("id", "webhook endpoint", id))
}

async fn lock(state: &AppState, tx: &mut bursar_store::Tx, caller: &Caller, id: &str) -> ApiResult<EndpointRow> {
    if !webhooks_out::is_id("we", id) {
        return Err(ApiError::not_found("id", "webhook endpoint", id));
    }
    webhooks::endpoint_by_id(&mut **tx, caller.livemode, id, state.db.for_update())
        .await?
        .ok_or_else(|| ApiError::not_found("id", "webhook endpoint", id))
}

#[utoipa::path(post, path = "/v1/webhook_endpoints", tag = "webhook_endpoints", request_body = EndpointCreate,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = WebhookEndpoint), (status = 400, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn create_endpoint(
    State(state): State<AppState>,
    caller: Caller,
    Idem(idem): Idem,
    ApiJson(b): ApiJson<EndpointCreate>,
) -> ApiResult<Response> {
    let url = checked_url(&state, &b.url).await?;
    let enabled_events = checked_events(&b.enabled_events)?;
    let description = clean_description(b.description)?;
    let now = state.now_ms();
    let secret = webhooks_out::new_secret();
    let row = EndpointRow {
        id: webhooks_out::new_endpoint_id(),
        livemode: caller.livemode,
        url,
        description,
        secret: secret.clone(),
        previous_secret: None,
        previous_secret_expires_at: None,
        enabled_events,
        status: "enabled".into(),
        created_at: now,
        updated_at: now,
    };
    let mut tx = state.db.begin().await?;
    webhooks::insert_endpoint(&mut tx, &row).await?;
    events::audit(
        &mut tx,
        "api_key",
        &caller.key_id,
        "webhook_endpoint.create",
        Some(&row.id),
        &serde_json::json!({"url": row.url, "enabled_events": row.events()}),
        now,
    )
    .await?;
    commit_json(tx, idem.as_ref(), StatusCode::OK, &render(row, Some(secret), now)).await
}

#[utoipa::path(get, path = "/v1/webhook_endpoints", tag = "webhook_endpoints", params(ListParams),
    responses((status = 200, body = ListResponse<WebhookEndpoint>), (status = 400, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn list_endpoints(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(page): ApiQuery<ListParams>,
) -> ApiResult<Json<ListResponse<WebhookEndpoint>>> {
    let limit = page.limit()?;
    let rows =
        webhooks::list_endpoints(state.db.reader(), caller.livemode, page.starting_after.as_deref(), limit + 1).await?;
    let now = state.now_ms();
    let data = rows.into_iter().map(|r| render(r, None, now)).collect();
    Ok(Json(ListResponse::from_rows(data, limit, "/v1/webhook_endpoints")))
}

#[utoipa::path(get, path = "/v1/webhook_endpoints/{id}", tag = "webhook_endpoints",
    params(("id" = String, Path, description = "Webhook endpoint id")),
    responses((status = 200, body = WebhookEndpoint), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn get_endpoint(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<WebhookEndpoint>> {
    Ok(Json(render(load(&state, &caller, &id).await?, None, state.now_ms())))
}

#[utoipa::path(post, path = "/v1/webhook_endpoints/{id}", tag = "webhook_endpoints", request_body = EndpointUpdate,
    params(("id" = String, Path, description = "Webhook endpoint id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = WebhookEndpoint), (status = 400, body = crate::error::ErrorEnvelope),
        (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn update_endpoint(
    State(state): State<AppState>,
    caller: Caller,
    Idem(idem): Idem,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<EndpointUpdate>,
) -> ApiResult<Response> {
    load(&state, &caller, &id).await?;
    // Validate everything (including the DNS lookup) before the transaction.
    let url = match &b.url {
        Some(u) => Some(checked_url(&state, u).await?),
        None => None,
    };
    let enabled_events = b.enabled_events.as_deref().map(checked_events).transpose()?;
    let description = b.description.map(clean_description).transpose()?;
    let now = state.now_ms();
    let mut tx = state.db.begin().await?;
    let mut row = lock(&state, &mut tx, &caller, &id).await?;
    if let Some(u) = url {
        row.url = u;
    }
    if let Some(e) = enabled_events {
        row.enabled_events = e;
    }
    if let Some(d) = description {
        row.description = d;
    }
    if let Some(disabled) = b.disabled {
        row.status = if disabled { "disabled" } else { "enabled" }.into();
    }
    row.updated_at = now;
    webhooks::update_endpoint(&mut tx, &row).await?;
    events::audit(
        &mut tx,
        "api_key",
        &caller.key_id,
        "webhook_endpoint.update",
        Some(&row.id),
        &serde_json::json!({"url": row.url, "enabled_events": row.events(), "status": row.status}),
        now,
    )
    .await?;
    commit_json(tx, idem.as_ref(), StatusCode::OK, &render(row, None, now)).await
}

#[utoipa::path(delete, path = "/v1/webhook_endpoints/{id}", tag = "webhook_endpoints",
    params(("id" = String, Path, description = "Webhook endpoint id")),
    responses((status = 200, body = DeletedWebhookEndpoint), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn delete_endpoint(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Response> {
    let now = state.now_ms();
    let mut tx = state.db.begin().await?;
    let row = lock(&state, &mut tx, &caller, &id).await?;
    webhooks::delete_endpoint(&mut tx, &row.id).await?;
    events::audit(
        &mut tx,
        "api_key",
        &caller.key_id,
        "webhook_endpoint.delete",
        Some(&row.id),
        &serde_json::json!({"url": row.url}),
        now,
    )
    .await?;
    commit_json(
        tx,
        None,
        StatusCode::OK,
        &DeletedWebhookEndpoint { id: row.id, object: "webhook_endpoint", deleted: true },
    )
    .await
}

#[utoipa::path(post, path = "/v1/webhook_endpoints/{id}/roll_secret", tag = "webhook_endpoints",
    params(("id" = String, Path, description = "Webhook endpoint id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = WebhookEndpoint), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn roll_secret(
    State(state): State<AppState>,
    caller: Caller,
    Idem(idem): Idem,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let now = state.now_ms();
    let mut tx = state.db.begin().await?;
    let mut row = lock(&state, &mut tx, &caller, &id).await?;
    let secret = webhooks_out::new_secret();
    row.previous_secret = Some(std::mem::replace(&mut row.secret, secret.clone()));
    row.previous_secret_expires_at = Some(now + webhooks_out::PREVIOUS_SECRET_GRACE_MS);
    row.updated_at = now;
    webhooks::update_endpoint(&mut tx, &row).await?;
    events::audit(
        &mut tx,
        "api_key",
        &caller.key_id,
        "webhook_endpoint.roll_secret",
        Some(&row.id),
        &serde_json::json!({}),
        now,
    )
    .await?;
    commit_json(tx, idem.as_ref(), StatusCode::OK, &render(row, Some(secret), now)).await
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeliveryListParams {
    pub limit: Option<String>,
    pub starting_after: Option<String>,
    /// Only deliveries of this status: `pending`, `succeeded` or `failed`.
    pub status: Option<String>,
}

#[utoipa::path(get, path = "/v1/webhook_endpoints/{id}/deliveries", tag = "webhook_endpoints",
    params(("id" = String, Path, description = "Webhook endpoint id"), DeliveryListParams),
    responses((status = 200, body = ListResponse<WebhookDelivery>), (status = 400, body = crate::error::ErrorEnvelope),
        (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn list_deliveries(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<DeliveryListParams>,
) -> ApiResult<Json<ListResponse<WebhookDelivery>>> {
    let page = ListParams { limit: q.limit, starting_after: q.starting_after };
    let limit = page.limit()?;
    if let Some(s) = q.status.as_deref() {
        if !["pending", "succeeded", "failed"].contains(&s) {
            return Err(ApiError::invalid("status", "status is pending, succeeded or failed"));
        }
    }
    let ep = load(&state, &caller, &id).await?;
    let rows = webhooks::list_deliveries(
        state.db.reader(),
        &ep.id,
        q.status.as_deref(),
        page.starting_after.as_deref(),
        limit + 1,
    )
    .await?;
    let data = rows.into_iter().map(|d| render_delivery(d, None)).collect();
    Ok(Json(ListResponse::from_rows(data, limit, &format!("/v1/webhook_endpoints/{}/deliveries", ep.id))))
}

async fn load_delivery(state: &AppState, caller: &Caller, id: &str) -> ApiResult<DeliveryRow> {
    if !webhooks_out::is_id("whd", id) {
        return Err(ApiError::not_found("id", "webhook delivery", id));
    }
    webhooks::delivery_by_id(state.db.reader(), caller.livemode, id)
        .await?
        .ok_or_else(|| ApiError::not_found("id", "webhook delivery", id))
}

async fn with_history(state: &AppState, d: DeliveryRow) -> ApiResult<WebhookDelivery> {
    let history = webhooks::attempts(state.db.reader(), &d.id).await?;
    Ok(render_delivery(d, Some(history)))
}

#[utoipa::path(get, path = "/v1/webhook_deliveries/{id}", tag = "webhook_endpoints",
    params(("id" = String, Path, description = "Webhook delivery id")),
    responses((status = 200, body = WebhookDelivery), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn get_delivery(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<WebhookDelivery>> {
    let d = load_delivery(&state, &caller, &id).await?;
    Ok(Json(with_history(&state, d).await?))
}

/// Sends a delivery now and answers with it (and its attempts), whatever
/// the receiver said.
async fn send_and_render(state: &AppState, idem: Option<&crate::middleware::IdemCtx>, id: &str) -> ApiResult<Response> {
    let d =
        webhooks_out::send_now(state, id).await?.ok_or_else(|| ApiError::not_found("id", "webhook delivery", id))?;
    let out = with_history(state, d).await?;
    match idem {
        // The attempt is already recorded; this transaction only stores the
        // response for the idempotency key.
        Some(ctx) => commit_json(state.db.begin().await?, Some(ctx), StatusCode::OK, &out).await,
        None => Ok(Json(out).into_response()),
    }
}

#[utoipa::path(post, path = "/v1/webhook_deliveries/{id}/retry", tag = "webhook_endpoints",
    params(("id" = String, Path, description = "Webhook delivery id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = WebhookDelivery), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn retry_delivery(
    State(state): State<AppState>,
    caller: Caller,
    Idem(idem): Idem,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let d = load_delivery(&state, &caller, &id).await?;
    send_and_render(&state, idem.as_ref(), &d.id).await
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ResendParams {
    /// The endpoint to send the event to (`we_…`).
    pub endpoint: Option<String>,
}

#[utoipa::path(post, path = "/v1/events/{id}/resend", tag = "webhook_endpoints",
    params(("id" = String, Path, description = "Event id"), ResendParams,
        ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = WebhookDelivery), (status = 400, body = crate::error::ErrorEnvelope),
        (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn resend_event(
    State(state): State<AppState>,
    caller: Caller,
    Idem(idem): Idem,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<ResendParams>,
) -> ApiResult<Response> {
    let endpoint = q.endpoint.ok_or_else(|| ApiError::missing("endpoint"))?;
    let event = webhooks::event_by_id(state.db.reader(), caller.livemode, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("id", "event", &id))?;
    let ep = load(&state, &caller, &endpoint).await.map_err(|e| e.with_param("endpoint"))?;
    let now = state.now_ms();
    let mut tx = state.db.begin().await?;
    // Queued (or found) with its next attempt pushed out, so the job leaves
    // it to this request.
    webhooks::insert_deliveries(
        &mut tx,
        &[DeliveryRow {
            id: webhooks_out::new_delivery_id(),
            endpoint_id: ep.id.clone(),
            event_id: event.id.clone(),
            event_type: event.event_type.clone(),
            livemode: event.livemode,
            status: "pending".into(),
            attempts: 0,
            next_attempt_at: Some(now + 60_000),
            first_attempt_at: None,
            last_attempt_at: None,
            last_status_code: None,
            last_error: None,
            last_response_snippet: None,
            last_duration_ms: None,
            created_at: now,
            delivered_at: None,
        }],
    )
    .await?;
    let d = webhooks::delivery_for(&mut *tx, &ep.id, &event.id).await?.ok_or_else(ApiError::internal)?;
    tx.commit().await?;
    send_and_render(&state, idem.as_ref(), &d.id).await
}
