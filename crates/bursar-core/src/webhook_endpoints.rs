//! Webhook endpoints: where the platform wants events sent, the delivery
//! log, and manual retries and resends. The signing secret is shown when an
//! endpoint is created and when it is rolled, never otherwise. Deliveries
//! themselves are made by `webhooks_out`.

use crate::actor::Actor;
use crate::common::{check_len, secs, List, Page};
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::idempotency::Reply;
use crate::webhooks_out;
use bursar_store::webhooks::{self, AttemptRow, DeliveryRow, EndpointRow};
use bursar_store::{events, Tx};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

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

pub fn render(e: EndpointRow, secret: Option<String>, now: i64) -> WebhookEndpoint {
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

pub fn render_delivery(d: DeliveryRow, history: Option<Vec<AttemptRow>>) -> WebhookDelivery {
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

async fn checked_url(ctx: &Ctx, url: &str) -> Result<String> {
    webhooks_out::check_url(url, ctx.config.webhook_allow_private_urls)
        .await
        .map(|u| u.to_string())
        .map_err(|m| Error::invalid("url", m))
}

fn checked_events(list: &[String]) -> Result<String> {
    let v = webhooks_out::check_event_patterns(list).map_err(|m| Error::invalid("enabled_events", m))?;
    serde_json::to_string(&v).map_err(|_| Error::internal())
}

fn clean_description(d: Option<String>) -> Result<Option<String>> {
    let d = d.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    check_len("description", &d, 500)?;
    Ok(d)
}

async fn load(ctx: &Ctx, livemode: bool, id: &str) -> Result<EndpointRow> {
    if !webhooks_out::is_id("we", id) {
        return Err(Error::not_found("id", "webhook endpoint", id));
    }
    webhooks::endpoint_by_id(ctx.db.reader(), livemode, id, "")
        .await?
        .ok_or_else(|| Error::not_found("id", "webhook endpoint", id))
}

async fn lock(ctx: &Ctx, tx: &mut Tx, livemode: bool, id: &str) -> Result<EndpointRow> {
    if !webhooks_out::is_id("we", id) {
        return Err(Error::not_found("id", "webhook endpoint", id));
    }
    webhooks::endpoint_by_id(&mut **tx, livemode, id, ctx.db.for_update())
        .await?
        .ok_or_else(|| Error::not_found("id", "webhook endpoint", id))
}

/// Creates an endpoint in the actor's mode; the answer holds its secret.
pub async fn create(ctx: &Ctx, actor: &Actor, b: EndpointCreate, reply: &Reply) -> Result<WebhookEndpoint> {
    let url = checked_url(ctx, &b.url).await?;
    let enabled_events = checked_events(&b.enabled_events)?;
    let description = clean_description(b.description)?;
    let now = ctx.now_ms();
    let secret = webhooks_out::new_secret();
    let row = EndpointRow {
        id: webhooks_out::new_endpoint_id(),
        livemode: actor.livemode,
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
    let mut tx = ctx.db.begin().await?;
    webhooks::insert_endpoint(&mut tx, &row).await?;
    events::audit(
        &mut tx,
        actor.kind,
        &actor.id,
        "webhook_endpoint.create",
        Some(&row.id),
        &serde_json::json!({"url": row.url, "enabled_events": row.events()}),
        now,
    )
    .await?;
    let out = render(row, Some(secret), now);
    reply.commit(tx, &out).await?;
    Ok(out)
}

pub async fn list(ctx: &Ctx, actor: &Actor, page: &Page) -> Result<List<WebhookEndpoint>> {
    let rows =
        webhooks::list_endpoints(ctx.db.reader(), actor.livemode, page.starting_after.as_deref(), page.limit + 1)
            .await?;
    let now = ctx.now_ms();
    Ok(List::from_rows(rows, page.limit).map(|r| render(r, None, now)))
}

pub async fn get(ctx: &Ctx, actor: &Actor, id: &str) -> Result<WebhookEndpoint> {
    Ok(render(load(ctx, actor.livemode, id).await?, None, ctx.now_ms()))
}

/// Changes an endpoint's URL, events, description or status.
pub async fn update(ctx: &Ctx, actor: &Actor, id: &str, b: EndpointUpdate, reply: &Reply) -> Result<WebhookEndpoint> {
    load(ctx, actor.livemode, id).await?;
    // Validate everything (including the DNS lookup) before the transaction.
    let url = match &b.url {
        Some(u) => Some(checked_url(ctx, u).await?),
        None => None,
    };
    let enabled_events = b.enabled_events.as_deref().map(checked_events).transpose()?;
    let description = b.description.map(clean_description).transpose()?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let mut row = lock(ctx, &mut tx, actor.livemode, id).await?;
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
        actor.kind,
        &actor.id,
        "webhook_endpoint.update",
        Some(&row.id),
        &serde_json::json!({"url": row.url, "enabled_events": row.events(), "status": row.status}),
        now,
    )
    .await?;
    let out = render(row, None, now);
    reply.commit(tx, &out).await?;
    Ok(out)
}

pub async fn delete(ctx: &Ctx, actor: &Actor, id: &str, reply: &Reply) -> Result<DeletedWebhookEndpoint> {
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let row = lock(ctx, &mut tx, actor.livemode, id).await?;
    webhooks::delete_endpoint(&mut tx, &row.id).await?;
    events::audit(
        &mut tx,
        actor.kind,
        &actor.id,
        "webhook_endpoint.delete",
        Some(&row.id),
        &serde_json::json!({"url": row.url}),
        now,
    )
    .await?;
    let out = DeletedWebhookEndpoint { id: row.id, object: "webhook_endpoint", deleted: true };
    reply.commit(tx, &out).await?;
    Ok(out)
}

/// Replaces the signing secret; the previous one keeps signing for a grace
/// period.
pub async fn roll_secret(ctx: &Ctx, actor: &Actor, id: &str, reply: &Reply) -> Result<WebhookEndpoint> {
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let mut row = lock(ctx, &mut tx, actor.livemode, id).await?;
    let secret = webhooks_out::new_secret();
    row.previous_secret = Some(std::mem::replace(&mut row.secret, secret.clone()));
    row.previous_secret_expires_at = Some(now + webhooks_out::PREVIOUS_SECRET_GRACE_MS);
    row.updated_at = now;
    webhooks::update_endpoint(&mut tx, &row).await?;
    events::audit(
        &mut tx,
        actor.kind,
        &actor.id,
        "webhook_endpoint.roll_secret",
        Some(&row.id),
        &serde_json::json!({}),
        now,
    )
    .await?;
    let out = render(row, Some(secret), now);
    reply.commit(tx, &out).await?;
    Ok(out)
}

/// An endpoint's deliveries, newest first, optionally of one status
/// (`pending`, `succeeded` or `failed`). Returns the endpoint's id too.
pub async fn deliveries(
    ctx: &Ctx,
    actor: &Actor,
    id: &str,
    status: Option<&str>,
    page: &Page,
) -> Result<(String, List<WebhookDelivery>)> {
    if let Some(s) = status {
        if !["pending", "succeeded", "failed"].contains(&s) {
            return Err(Error::invalid("status", "status is pending, succeeded or failed"));
        }
    }
    let ep = load(ctx, actor.livemode, id).await?;
    let rows =
        webhooks::list_deliveries(ctx.db.reader(), &ep.id, status, page.starting_after.as_deref(), page.limit + 1)
            .await?;
    Ok((ep.id, List::from_rows(rows, page.limit).map(|d| render_delivery(d, None))))
}

async fn load_delivery(ctx: &Ctx, livemode: bool, id: &str) -> Result<DeliveryRow> {
    if !webhooks_out::is_id("whd", id) {
        return Err(Error::not_found("id", "webhook delivery", id));
    }
    webhooks::delivery_by_id(ctx.db.reader(), livemode, id)
        .await?
        .ok_or_else(|| Error::not_found("id", "webhook delivery", id))
}

async fn with_history(ctx: &Ctx, d: DeliveryRow) -> Result<WebhookDelivery> {
    let history = webhooks::attempts(ctx.db.reader(), &d.id).await?;
    Ok(render_delivery(d, Some(history)))
}

/// A delivery with every attempt.
pub async fn delivery(ctx: &Ctx, actor: &Actor, id: &str) -> Result<WebhookDelivery> {
    let d = load_delivery(ctx, actor.livemode, id).await?;
    with_history(ctx, d).await
}

/// Sends a delivery now and answers with it (and its attempts), whatever
/// the receiver said. The answer is stored for the key before the request
/// goes out (the delivery as it stood), then replaced by the one after, so
/// a retried key never sends twice.
async fn send_and_render(ctx: &Ctx, d: DeliveryRow, reply: &Reply) -> Result<WebhookDelivery> {
    let before = with_history(ctx, d.clone()).await?;
    reply.commit(ctx.db.begin().await?, &before).await?;
    let sent =
        webhooks_out::send_now(ctx, &d.id).await?.ok_or_else(|| Error::not_found("id", "webhook delivery", &d.id))?;
    let out = with_history(ctx, sent).await?;
    reply.refresh(ctx, &out).await;
    Ok(out)
}

/// Sends a delivery again now.
pub async fn retry(ctx: &Ctx, actor: &Actor, id: &str, reply: &Reply) -> Result<WebhookDelivery> {
    let d = load_delivery(ctx, actor.livemode, id).await?;
    send_and_render(ctx, d, reply).await
}

/// Sends an event to one endpoint now (queued if it was not).
pub async fn resend(
    ctx: &Ctx,
    actor: &Actor,
    event_id: &str,
    endpoint: Option<String>,
    reply: &Reply,
) -> Result<WebhookDelivery> {
    let endpoint = endpoint.ok_or_else(|| Error::missing("endpoint"))?;
    let event = webhooks::event_by_id(ctx.db.reader(), actor.livemode, event_id)
        .await?
        .ok_or_else(|| Error::not_found("id", "event", event_id))?;
    let ep = load(ctx, actor.livemode, &endpoint).await.map_err(|e| e.with_param("endpoint"))?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
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
    let d = webhooks::delivery_for(&mut *tx, &ep.id, &event.id).await?.ok_or_else(Error::internal)?;
    tx.commit().await?;
    send_and_render(ctx, d, reply).await
}

/// Up to 200 endpoints of one mode, as stored (for the staff console).
pub async fn endpoint_rows(ctx: &Ctx, livemode: bool) -> Result<Vec<EndpointRow>> {
    Ok(webhooks::list_endpoints(ctx.db.reader(), livemode, None, 200).await?)
}

/// An endpoint and its newest `limit` deliveries, optionally of one status,
/// as stored (for the staff console).
pub async fn endpoint_with_deliveries(
    ctx: &Ctx,
    livemode: bool,
    id: &str,
    status: Option<&str>,
    limit: i64,
) -> Result<(EndpointRow, Vec<DeliveryRow>)> {
    let r = ctx.db.reader();
    let ep = webhooks::endpoint_by_id(r, livemode, id, "")
        .await?
        .ok_or_else(|| Error::not_found("id", "webhook endpoint", id))?;
    let rows = webhooks::list_deliveries(r, &ep.id, status, None, limit).await?;
    Ok((ep, rows))
}

/// Sends a delivery again for a staff member and writes it to the audit
/// log; the endpoint's id.
pub async fn replay(ctx: &Ctx, actor: &Actor, id: &str) -> Result<String> {
    let d = webhooks::delivery_by_id(ctx.db.reader(), actor.livemode, id)
        .await?
        .ok_or_else(|| Error::not_found("id", "webhook delivery", id))?;
    let sent = webhooks_out::send_now(ctx, &d.id).await?.ok_or_else(Error::internal)?;
    let mut tx = ctx.db.begin().await?;
    events::audit(
        &mut tx,
        actor.kind,
        &actor.id,
        "webhook.replayed",
        Some(&d.id),
        &serde_json::json!({"event": d.event_id, "endpoint": d.endpoint_id, "status": sent.status,
            "status_code": sent.last_status_code}),
        ctx.now_ms(),
    )
    .await?;
    tx.commit().await?;
    Ok(d.endpoint_id)
}
