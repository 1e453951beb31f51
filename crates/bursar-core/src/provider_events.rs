//! Incoming provider events (the webhooks `POST /webhooks/{provider}`).
//!
//! The raw body is verified exactly as the provider documents (through its
//! connector: Stripe's `t=`/`v1=` HMAC with a timestamp tolerance and
//! several secrets during rotation, Razorpay's HMAC-SHA256 hex, PayPal's
//! verification API), with constant-time comparison and replay rejection.
//! Anything that fails verification answers 400 and nothing is stored.
//! A verified event is stored raw (for audit and replay) under a unique
//! (provider, event id), so a redelivery is acknowledged and never applied
//! twice, and it is applied in the same transaction. Applying is
//! idempotent and order-independent: an answer for a payment that already
//! settled changes nothing, except a success for a payment recorded as
//! failed (money moved, so it is recorded). An event whose amount or
//! currency differs from the payment is flagged, not applied. Unknown event
//! types are stored and acknowledged with 200.

use crate::ctx::Ctx;
use crate::error::{Error, Kind, Result};
use crate::providers::Answer;
use crate::settlement;
use bursar_domain::id::{new_id, IdKind};
use bursar_providers::{Headers, WebhookKind};
use bursar_store::payments::{self as store, PaymentRow, ProviderEventRow};
use bursar_store::{customers, events, Tx};

pub use bursar_store::payments::ProviderEventRow as ProviderEvent;

/// What became of a delivered event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The same event was delivered before (and applied then).
    pub duplicate: bool,
    /// `applied`, `ignored` or `flagged`.
    pub status: &'static str,
}

/// Receives one delivery from `provider`: verified, stored once, applied.
/// `headers` are lower-cased names.
pub async fn receive(ctx: &Ctx, provider: &str, headers: &Headers, body: &[u8]) -> Result<Received> {
    let state = ctx;
    let Some(conn) =
        matches!(provider, "stripe" | "paypal" | "razorpay").then(|| state.providers.get(provider)).flatten()
    else {
        return Err(Error::not_found("provider", "configured payment provider", provider));
    };
    let now = state.clock.now();
    let event = match conn.verify_webhook(headers, body, now).await {
        Ok(e) => e,
        Err(e) => {
            metrics::counter!("bursar_webhooks_refused_total", "provider" => provider.to_string()).increment(1);
            tracing::warn!(provider = %provider, error = %e, "webhook refused");
            return Err(Error::new(Kind::Invalid, "webhook_unverified", format!("the webhook was refused: {e}")));
        }
    };
    // An approval Bursar must complete (capture) is completed before the
    // event is recorded, outside any transaction: a provider call.
    if let WebhookKind::CheckoutApproved { payment_id, provider_ref } = &event.kind {
        let p = match payment_id {
            Some(id) => store::get(state.db.reader(), id).await?.filter(|p| p.provider == provider),
            None => None,
        };
        let p = match p {
            Some(p) => Some(p),
            None => store::by_provider_id(state.db.reader(), provider, provider_ref).await?,
        };
        if let Some(p) = p.filter(|p| p.status == "pending" && p.checkout_session_id.is_some()) {
            if let Err(e) = crate::checkout::complete_approved(state, &p).await {
                tracing::warn!(payment = %p.id, error = %e, "completing an approved checkout failed");
            }
        }
    }
    let server_now = state.now_ms();
    let row = ProviderEventRow {
        id: new_id(IdKind::ProviderEvent),
        provider: provider.to_string(),
        event_id: event.event_id.clone(),
        event_type: event.event_type.clone(),
        payload: String::from_utf8_lossy(body).into_owned(),
        status: "received".into(),
        note: None,
        payment_id: None,
        received_at: server_now,
        processed_at: None,
        // Stripe says which mode an event belongs to; for the others the
        // payment it concerns decides.
        livemode: serde_json::from_slice::<serde_json::Value>(body).ok().and_then(|v| v["livemode"].as_bool()),
    };
    let mut tx = state.db.begin().await?;
    if !store::insert_event(&mut tx, &row).await? {
        tx.commit().await?;
        metrics::counter!("bursar_webhooks_total", "provider" => provider.to_string(), "result" => "duplicate")
            .increment(1);
        return Ok(Received { duplicate: true, status: "ignored" });
    }
    let settings = state.billing_settings();
    let (status, note, payment) = apply(&mut tx, state, &settings, provider, event.kind, server_now).await?;
    store::set_event_outcome(&mut tx, &row.id, status, note.as_deref(), payment.as_deref(), server_now).await?;
    tx.commit().await?;
    metrics::counter!("bursar_webhooks_total", "provider" => provider.to_string(), "result" => status).increment(1);
    Ok(Received { duplicate: false, status })
}

/// Applies a stored event again (staff replay): the body is mapped again by
/// its connector without re-checking the signature, which was checked on
/// receipt. Applying is idempotent, so a replay of an applied event
/// changes nothing. Returns the outcome.
pub async fn replay(state: &Ctx, livemode: bool, id: &str) -> Result<(Tx, store::ProviderEventRow)> {
    let not_found = || Error::not_found("id", "provider event", id);
    let row = store::event(state.db.reader(), livemode, id).await?.ok_or_else(not_found)?;
    let conn = state
        .providers
        .get(&row.provider)
        .ok_or_else(|| Error::invalid("id", format!("{} is not configured", row.provider)))?;
    let event = conn
        .parse_webhook(row.payload.as_bytes())
        .await
        .map_err(|e| Error::invalid("id", format!("the stored event cannot be read: {e}")))?;
    let server_now = state.now_ms();
    let settings = state.billing_settings();
    let mut tx = state.db.begin().await?;
    let (status, note, payment) = apply(&mut tx, state, &settings, &row.provider, event.kind, server_now).await?;
    let note = Some(format!("replayed: {}", note.unwrap_or_else(|| status.to_string())));
    store::set_event_outcome(&mut tx, &row.id, status, note.as_deref(), payment.as_deref(), server_now).await?;
    let after = store::event(&mut *tx, livemode, id).await?.ok_or_else(not_found)?;
    Ok((tx, after))
}

/// The payment an event is about: by Bursar's id when the provider echoed
/// it, else by the provider's id. Locked for the update.
async fn find_payment(
    tx: &mut Tx,
    state: &Ctx,
    provider: &str,
    payment_id: Option<&str>,
    provider_payment_id: &str,
) -> Result<Option<PaymentRow>> {
    let for_update = state.db.for_update();
    if let Some(id) = payment_id {
        if let Some(p) = store::get_locked(tx, for_update, id).await?.filter(|p| p.provider == provider) {
            return Ok(Some(p));
        }
    }
    match store::by_provider_id(&mut **tx, provider, provider_payment_id).await? {
        Some(p) => store::get_locked(tx, for_update, &p.id).await.map_err(Into::into),
        None => Ok(None),
    }
}

/// Applies one verified event. Returns its outcome (`applied`, `ignored`,
/// `flagged`), a note, and the payment it concerned.
async fn apply(
    tx: &mut Tx,
    state: &Ctx,
    settings: &crate::settings::Settings,
    provider: &str,
    kind: WebhookKind,
    server_now: i64,
) -> Result<(&'static str, Option<String>, Option<String>)> {
    match kind {
        WebhookKind::PaymentSucceeded { payment_id, provider_payment_id, amount, method, provider_customer } => {
            let Some(mut p) = find_payment(tx, state, provider, payment_id.as_deref(), &provider_payment_id).await?
            else {
                return Ok(("ignored", Some("no payment of Bursar's matches".into()), None));
            };
            if amount.minor != p.amount || !amount.currency().eq_ignore_ascii_case(&p.currency) {
                let note = format!(
                    "the provider reports {} {} for a payment of {} {}; not applied",
                    amount.minor,
                    amount.currency(),
                    p.amount,
                    p.currency
                );
                tracing::error!(payment = %p.id, %note, "webhook amount mismatch");
                return Ok(("flagged", Some(note), Some(p.id)));
            }
            let now = customer_now(tx, &p, server_now).await?;
            let was = p.status.clone();
            if let Some(mut m) = method {
                // A buyer who never came back: the method is kept from the
                // event (whichever of the provider's events carries it), so
                // the subscription's renewals can charge it.
                m.provider_customer = m.provider_customer.or(provider_customer);
                crate::sessions::keep_method(tx, &mut p, &m, now).await?;
            }
            settlement::apply(
                tx,
                settings,
                &mut p,
                Answer::Succeeded { provider_payment_id, fee: None },
                now,
                server_now,
            )
            .await?;
            if matches!(was.as_str(), "failed" | "cancelled") {
                // Money moved for an attempt Bursar had written off: recorded,
                // and flagged for staff (the invoice may be settled otherwise).
                let note = format!("succeeded after being recorded as {was}; recorded, check its invoice");
                return Ok(("flagged", Some(note), Some(p.id)));
            }
            let status = if was != p.status { "applied" } else { "ignored" };
            Ok((status, (status == "ignored").then(|| format!("the payment was already {was}")), Some(p.id)))
        }
        WebhookKind::PaymentFailed { payment_id, provider_payment_id, code, message } => {
            let Some(mut p) = find_payment(tx, state, provider, payment_id.as_deref(), &provider_payment_id).await?
            else {
                return Ok(("ignored", Some("no payment of Bursar's matches".into()), None));
            };
            let now = customer_now(tx, &p, server_now).await?;
            let was = p.status.clone();
            let answer = Answer::Failed { provider_payment_id: Some(provider_payment_id), code, message };
            settlement::apply(tx, settings, &mut p, answer, now, server_now).await?;
            let status = if was != p.status { "applied" } else { "ignored" };
            Ok((status, (status == "ignored").then(|| format!("the payment was already {was}")), Some(p.id)))
        }
        WebhookKind::RefundSucceeded { provider_payment_id, provider_refund_id, amount, .. } => {
            let p = store::by_provider_id(&mut **tx, provider, &provider_payment_id).await?;
            let note = format!("refund {provider_refund_id} of {} {} at the provider", amount.minor, amount.currency());
            Ok(("flagged", Some(note), p.map(|p| p.id)))
        }
        WebhookKind::DisputeOpened { provider_payment_id, amount, reason } => {
            let p = store::by_provider_id(&mut **tx, provider, &provider_payment_id).await?;
            if let Some(p) = &p {
                events::emit(
                    tx,
                    p.livemode,
                    "payment.dispute_opened",
                    &p.id,
                    &serde_json::json!({"payment": p.id, "amount": amount.minor, "currency": amount.currency(),
                        "reason": reason, "customer": p.customer_id, "invoice": p.invoice_id}),
                    server_now,
                )
                .await?;
            }
            Ok(("flagged", Some(format!("dispute opened: {reason}")), p.map(|p| p.id)))
        }
        WebhookKind::CheckoutApproved { payment_id, provider_ref } => {
            let p = match payment_id.as_deref() {
                Some(id) => store::get(&mut **tx, id).await?.filter(|p| p.provider == provider),
                None => None,
            };
            let p = match p {
                Some(p) => Some(p),
                None => store::by_provider_id(&mut **tx, provider, &provider_ref).await?,
            };
            match p {
                Some(p) if p.status == "completed" => Ok(("applied", Some("completed on approval".into()), Some(p.id))),
                Some(p) => Ok(("ignored", Some(format!("the payment is {}", p.status)), Some(p.id))),
                None => Ok(("ignored", Some("no payment of Bursar's matches".into()), None)),
            }
        }
        WebhookKind::Other => Ok(("ignored", None, None)),
    }
}

async fn customer_now(tx: &mut Tx, p: &PaymentRow, server_now: i64) -> Result<i64> {
    let customer = customers::get(&mut **tx, p.livemode, &p.customer_id).await?.ok_or_else(Error::internal)?;
    crate::billing::now_for(tx, &customer, server_now).await
}
