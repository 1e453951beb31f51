//! What the platform reads of Bursar's own records: the event outbox, the
//! emails Bursar sent or is sending, and the audit log of what staff and
//! keys did.

use crate::actor::Actor;
use crate::common::{secs, List, Page};
use crate::ctx::Ctx;
use crate::error::Result;
use bursar_store::{emails, events};
use serde::Serialize;
use utoipa::ToSchema;

pub use bursar_store::events::AuditRow;

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

/// Events of the actor's mode, newest first, optionally of one type.
pub async fn list(ctx: &Ctx, actor: &Actor, event_type: Option<&str>, page: &Page) -> Result<List<Event>> {
    let rows =
        events::list(ctx.db.reader(), actor.livemode, event_type, page.starting_after.as_deref(), page.limit + 1)
            .await?;
    Ok(List::from_rows(rows, page.limit).map(|e| Event {
        id: e.id,
        object: "event",
        event_type: e.event_type,
        livemode: e.livemode,
        object_id: e.object_id,
        data: e.data,
        created: secs(e.created_at),
    }))
}

/// The newest `limit` emails of the actor's mode, optionally to one customer.
pub async fn emails(ctx: &Ctx, actor: &Actor, customer: Option<&str>, limit: i64) -> Result<List<Email>> {
    let rows = emails::list(ctx.db.reader(), actor.livemode, customer, limit + 1).await?;
    Ok(List::from_rows(rows, limit).map(|e| Email {
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
        created: secs(e.created_at),
        sent_at: e.sent_at.map(secs),
    }))
}

/// The audit log, newest first, up to `limit` entries before the cursor.
pub async fn audit_log(ctx: &Ctx, before: Option<&str>, limit: i64) -> Result<Vec<AuditRow>> {
    Ok(events::audit_page(ctx.db.reader(), before, limit).await?)
}

/// Writes what an actor did to the audit log, inside the caller's
/// transaction.
pub async fn audit_in(
    tx: &mut bursar_store::Tx,
    actor: &Actor,
    action: &str,
    object: Option<&str>,
    details: &serde_json::Value,
    now: i64,
) -> Result<()> {
    Ok(events::audit(tx, actor.kind, &actor.id, action, object, details, now).await?)
}
