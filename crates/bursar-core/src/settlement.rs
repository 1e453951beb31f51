//! A provider's answer and everything that follows from it: the payment
//! recorded, the invoice paid (with its ledger entry) or the failure and
//! dunning, a checkout session fulfilled. Also the recovery of unknown
//! outcomes (asking again under the same idempotency key) and the
//! settlement of refunds with their providers.

use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::idempotency::Reply;
use crate::payments::{ask, payment_entry};
use crate::providers::Answer;
use crate::settings::Settings;
use bursar_domain::subscription::{Event, Status};
use bursar_providers::Money;
use bursar_store::payments::{self as store, PaymentRow};
use bursar_store::{billing as billing_store, customers, dunning, events, ledger, Db, Tx};

/// How long to wait before asking about a payment again, by how many times
/// it was asked: 1 min, 5 min, 30 min, then hourly.
fn next_check_delay(checks: i64) -> i64 {
    match checks {
        0 => 60_000,
        1 => 300_000,
        2 => 1_800_000,
        _ => 3_600_000,
    }
}

/// Records an answer on a pending or processing payment and everything
/// that follows from it: the ledger entry and the paid invoice, or the
/// failure and dunning. Answers for settled payments change nothing (a
/// late or repeated answer is harmless).
/// `now` is the customer's clock; `server_now` schedules the next check.
pub async fn apply(
    tx: &mut Tx,
    settings: &Settings,
    p: &mut PaymentRow,
    answer: Answer,
    now: i64,
    server_now: i64,
) -> Result<()> {
    // Settled payments stay settled, with one exception: the provider says
    // money was taken for a payment recorded as failed (a late or
    // out-of-order answer). Money moved, so it is recorded.
    let late_success =
        matches!(p.status.as_str(), "failed" | "cancelled") && matches!(answer, Answer::Succeeded { .. });
    if !p.unsettled() && !late_success {
        return Ok(());
    }
    p.updated_at = now;
    match answer {
        Answer::Unknown { detail } => {
            let asked = p.failure_message.as_deref().map_or(0, |m| m.matches('\n').count() as i64 + 1);
            p.next_check_at = Some(server_now + next_check_delay(asked));
            let mut log = p.failure_message.take().unwrap_or_default();
            if !log.is_empty() {
                log.push('\n');
            }
            log.push_str(&detail.chars().take(200).collect::<String>());
            p.failure_message = Some(log.chars().rev().take(2000).collect::<Vec<_>>().into_iter().rev().collect());
            store::save(tx, p).await?;
            metrics::counter!("bursar_payment_outcome_unknown_total", "provider" => p.provider.clone()).increment(1);
        }
        Answer::Processing { provider_payment_id } => {
            p.provider_payment_id = Some(provider_payment_id);
            p.status = "processing".into();
            p.next_check_at = Some(server_now + 300_000);
            store::save(tx, p).await?;
        }
        Answer::Succeeded { provider_payment_id, fee } => {
            p.provider_payment_id = Some(provider_payment_id);
            p.fee = fee;
            p.status = "completed".into();
            p.completed_at = Some(now);
            p.next_check_at = None;
            p.failure_code = None;
            p.failure_message = None;
            store::save(tx, p).await?;
            succeeded(tx, p, now).await?;
            crate::sessions::payment_settled(tx, settings, p, now).await?;
            metrics::counter!("bursar_payments_total", "provider" => p.provider.clone(), "outcome" => "completed")
                .increment(1);
        }
        Answer::Failed { provider_payment_id, code, message } => {
            p.provider_payment_id = provider_payment_id.or(p.provider_payment_id.take());
            p.status = "failed".into();
            p.failure_code = Some(code.clone());
            p.failure_message = Some(message);
            p.next_check_at = None;
            store::save(tx, p).await?;
            if p.checkout_session_id.is_some() {
                // The buyer is on the page and can try another card: no
                // dunning for a payment that was never accepted.
                crate::sessions::payment_settled(tx, settings, p, now).await?;
            } else {
                failed(tx, settings, p, &code, now).await?;
            }
            metrics::counter!("bursar_payments_total", "provider" => p.provider.clone(), "outcome" => "failed")
                .increment(1);
        }
    }
    Ok(())
}

async fn succeeded(tx: &mut Tx, p: &PaymentRow, now: i64) -> Result<()> {
    events::emit(
        tx,
        p.livemode,
        "payment.succeeded",
        &p.id,
        &serde_json::json!({"id": p.id, "amount": p.amount, "currency": p.currency, "customer": p.customer_id,
            "invoice": p.invoice_id, "provider": p.provider}),
        now,
    )
    .await?;
    let Some(inv_id) = &p.invoice_id else { return Ok(()) };
    let inv = billing_store::invoice(&mut **tx, p.livemode, inv_id).await?.ok_or_else(Error::internal)?;
    let number = inv.number.clone().unwrap_or_default();
    let e = payment_entry(p, &number)?;
    ledger::post(tx, ledger::NewEntry::at(p.livemode, &e, now).source("payment", &p.id)).await?;
    if inv.status != "open" {
        // Paid after the invoice was voided or written off: the money sits
        // in the provider's clearing account and receivables until staff
        // refund it; flagged for reconciliation.
        tracing::warn!(payment = %p.id, invoice = %inv.id, status = %inv.status, "payment for a closed invoice");
        return Ok(());
    }
    dunning::mark_invoice_paid(tx, &inv.id, p.amount, now).await?;
    events::emit(
        tx,
        p.livemode,
        "invoice.paid",
        &inv.id,
        &serde_json::json!({"id": inv.id, "number": inv.number, "total": inv.total, "amount_due": inv.amount_due,
            "currency": inv.currency, "customer": inv.customer_id, "subscription": inv.subscription_id, "payment": p.id}),
        now,
    )
    .await?;
    if let Some(mut d) = dunning::get(tx, &inv.id, "").await? {
        d.state = "recovered".into();
        d.next_attempt_at = None;
        d.updated_at = now;
        dunning::save(tx, &d).await?;
    }
    if let Some(sub_id) = &inv.subscription_id {
        if let Some(mut sub) = billing_store::subscription(tx, p.livemode, sub_id, "").await? {
            if matches!(Status::parse(&sub.status), Some(Status::PastDue | Status::Unpaid)) {
                sub.status = Status::Active.as_str().into();
                sub.updated_at = now;
                billing_store::save_subscription(tx, &sub).await?;
                crate::billing::emit_sub(tx, &sub, "subscription.recovered", now).await?;
            }
        }
    }
    Ok(())
}

async fn failed(tx: &mut Tx, settings: &Settings, p: &PaymentRow, code: &str, now: i64) -> Result<()> {
    events::emit(
        tx,
        p.livemode,
        "payment.failed",
        &p.id,
        &serde_json::json!({"id": p.id, "amount": p.amount, "currency": p.currency, "customer": p.customer_id,
            "invoice": p.invoice_id, "provider": p.provider, "failure_code": code}),
        now,
    )
    .await?;
    let Some(inv_id) = &p.invoice_id else { return Ok(()) };
    let inv = billing_store::invoice(&mut **tx, p.livemode, inv_id).await?.ok_or_else(Error::internal)?;
    if inv.status != "open" {
        return Ok(());
    }
    crate::billing::invoice_payment_failed(tx, settings, &inv, code, now).await?;
    if let Some(sub_id) = &inv.subscription_id {
        if let Some(mut sub) = billing_store::subscription(tx, p.livemode, sub_id, "").await? {
            let status = Status::parse(&sub.status).ok_or_else(Error::internal)?;
            let event = if status == Status::Trialing { Event::TrialPaymentFailed } else { Event::RenewalFailed };
            if let Ok(next) = bursar_domain::subscription::transition(status, event) {
                sub.status = next.as_str().into();
                sub.updated_at = now;
                billing_store::save_subscription(tx, &sub).await?;
                crate::billing::emit_sub(tx, &sub, "subscription.past_due", now).await?;
            }
        }
    }
    Ok(())
}

/// Asks the provider about one pending or processing payment (charging it
/// the first time, or again under the same idempotency key) and applies
/// the answer. `now` is the clock the payment's customer lives by.
async fn check_one(db: &Db, settings: &Settings, id: &str, server_now: i64) -> Result<()> {
    let Some(p) = store::get(db.reader(), id).await? else { return Ok(()) };
    if !p.unsettled() {
        return Ok(());
    }
    let answer = ask(db, settings, &p).await?;
    let mut tx = db.begin().await?;
    let Some(mut p) = store::get_locked(&mut tx, db.for_update(), id).await? else { return Ok(()) };
    let customer = customers::get(&mut *tx, p.livemode, &p.customer_id).await?.ok_or_else(Error::internal)?;
    let now = crate::billing::now_for(&mut tx, &customer, server_now).await?;
    apply(&mut tx, settings, &mut p, answer, now, server_now).await?;
    tx.commit().await?;
    Ok(())
}

/// Collects the given pending payments now (after the transaction that
/// created them committed). Failures to reach the provider leave them for
/// [`run_checks`].
pub async fn collect(db: &Db, settings: &Settings, ids: &[String], server_now: i64) -> u32 {
    if !ids.is_empty() {
        crate::fault::before_provider_call(settings);
    }
    let mut n = 0;
    for id in ids {
        match check_one(db, settings, id, server_now).await {
            Ok(()) => n += 1,
            Err(e) => {
                tracing::warn!(payment = %id, error = %e, "collecting a payment failed; it will be checked again")
            }
        }
    }
    n
}

/// The customer's payments created at or after `since` that wait for
/// collection (what a request just issued).
pub async fn pending_of(db: &Db, customer_id: &str, since: i64) -> Result<Vec<String>> {
    Ok(store::pending_since(db.reader(), customer_id, since).await?)
}

/// The customer's payments created at or after `since` that wait for
/// collection, as the transaction sees them (what the request issued).
pub async fn pending_in(tx: &mut Tx, customer_id: &str, since: i64) -> Result<Vec<String>> {
    Ok(store::pending_since(&mut **tx, customer_id, since).await?)
}

/// Stores `out` (the state as committed, with the pending payments) for the
/// request's key in the business transaction and commits it, then charges
/// the pending payments at their providers (a provider is charged only
/// outside a transaction). Returns whether any was charged: the caller then
/// reads the state again and refreshes the stored answer
/// ([`Reply::refresh`]). A retry after a crash in between replays the stored
/// answer; a charge that was not made is made by the recovery checks, under
/// the same provider idempotency key, never twice.
pub async fn commit_and_collect<T: serde::Serialize>(
    ctx: &Ctx,
    tx: Tx,
    reply: &Reply,
    out: &T,
    pending: &[String],
) -> Result<bool> {
    reply.commit(tx, out).await?;
    if pending.is_empty() {
        return Ok(false);
    }
    collect(&ctx.db, &ctx.billing_settings(), pending, ctx.now_ms()).await;
    Ok(true)
}

/// Asks about every unsettled payment and refund whose check is due (the
/// recovery of outcomes that are unknown). Returns how many were asked
/// about.
pub async fn run_checks(db: &Db, settings: &Settings, server_now: i64) -> Result<u32> {
    let ids = store::due_for_check(db.reader(), server_now, 200).await?;
    let refunds = store::refunds_due(db.reader(), server_now, 200).await?;
    Ok(collect(db, settings, &ids, server_now).await + settle_refunds(db, settings, &refunds, server_now).await)
}

/// Sends pending refunds to their providers (after the commit that created
/// them), under idempotency keys derived from the refund ids, and records
/// the answers. A refund the provider refuses is reversed in the ledger.
pub async fn settle_refunds(db: &Db, settings: &Settings, ids: &[String], server_now: i64) -> u32 {
    if !ids.is_empty() {
        crate::fault::before_provider_call(settings);
    }
    let mut n = 0;
    for id in ids {
        match settle_refund(db, settings, id, server_now).await {
            Ok(()) => n += 1,
            Err(e) => tracing::warn!(refund = %id, error = %e, "refund not settled; it will be retried"),
        }
    }
    n
}

async fn settle_refund(db: &Db, settings: &Settings, id: &str, server_now: i64) -> Result<()> {
    let Some(r) = store::refund(db.reader(), id).await? else { return Ok(()) };
    if r.status != "pending" {
        return Ok(());
    }
    let p = store::get(db.reader(), &r.payment_id).await?.ok_or_else(Error::internal)?;
    let answer = match (settings.providers.get(&r.provider), &p.provider_payment_id) {
        (Some(conn), Some(pid)) => {
            let req = bursar_providers::RefundRequest {
                refund_id: r.id.clone(),
                provider_payment_id: pid.clone(),
                amount: Money::new(r.amount, &r.currency),
                reason: None,
            };
            Some(conn.refund(&req).await)
        }
        _ => None,
    };
    let mut tx = db.begin().await?;
    let Some(mut r) = store::refund_locked(&mut tx, db.for_update(), id).await? else { return Ok(()) };
    if r.status != "pending" {
        return Ok(());
    }
    r.updated_at = server_now;
    match answer {
        Some(Ok(bursar_providers::RefundOutcome::Succeeded { provider_refund_id })) => {
            r.status = "succeeded".into();
            r.provider_refund_id = Some(provider_refund_id);
            r.next_check_at = None;
            events::emit(
                &mut tx,
                r.livemode,
                "refund.succeeded",
                &r.id,
                &serde_json::json!({"id": r.id, "payment": r.payment_id,
                "amount": r.amount, "currency": r.currency, "credit_note": r.credit_note_id}),
                server_now,
            )
            .await?;
        }
        Some(Ok(bursar_providers::RefundOutcome::Pending { provider_refund_id })) => {
            r.provider_refund_id = Some(provider_refund_id);
            r.next_check_at = Some(server_now + 300_000);
        }
        Some(Ok(bursar_providers::RefundOutcome::Failed { provider_refund_id, message })) => {
            r.status = "failed".into();
            r.provider_refund_id = provider_refund_id;
            r.failure_message = Some(message);
            r.next_check_at = None;
            refund_failed(&mut tx, &r, server_now).await?;
        }
        Some(Err(e)) if e.outcome_unknown() || e.may_fall_back() => {
            r.failure_message = Some(e.to_string());
            r.next_check_at = Some(server_now + 300_000);
        }
        Some(Err(e)) => {
            r.status = "failed".into();
            r.failure_message = Some(e.to_string());
            r.next_check_at = None;
            refund_failed(&mut tx, &r, server_now).await?;
        }
        None => {
            r.failure_message = Some(format!("provider {} is not configured", r.provider));
            r.next_check_at = Some(server_now + 3_600_000);
        }
    }
    store::save_refund(&mut tx, &r).await?;
    tx.commit().await?;
    Ok(())
}

/// A refund the provider refused: the credit note's ledger entry is
/// reversed (the money never left) and the payment's refunded amount
/// restored.
async fn refund_failed(tx: &mut Tx, r: &store::RefundRow, now: i64) -> Result<()> {
    for entry in ledger::open_entries_of(tx, "credit_note", &r.credit_note_id).await? {
        ledger::reverse(tx, r.livemode, &entry, "Refund refused by the provider", now).await.map_err(|e| {
            tracing::error!(error = %e, "reversing a failed refund");
            Error::internal()
        })?;
    }
    store::adjust_refunded(tx, &r.payment_id, -r.amount, now).await?;
    bursar_store::billing::void_credit_note(tx, &r.credit_note_id).await?;
    // A course order's claw-back is undone with it.
    crate::marketplace::on_refund_failed(tx, r.livemode, &r.credit_note_id, now).await?;
    events::emit(
        tx,
        r.livemode,
        "refund.failed",
        &r.id,
        &serde_json::json!({"id": r.id, "payment": r.payment_id,
        "amount": r.amount, "currency": r.currency, "credit_note": r.credit_note_id, "reason": r.failure_message}),
        now,
    )
    .await?;
    Ok(())
}
