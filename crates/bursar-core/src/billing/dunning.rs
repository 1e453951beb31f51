//! Failed charges: the retry schedule, retries of open invoices, and what
//! happens when every retry failed.

use super::rules::{emit_sub, err, now_for, transition, BuiltInvoice};
use crate::error::{Error, Result};
use bursar_domain::ledger::EntryDraft;
use bursar_domain::money::Currency;
use bursar_domain::subscription::{Event, Status};

use crate::payments::{self, Collect};
use crate::settings::Settings;
use bursar_store::billing::{self, InvoiceRow};
use bursar_store::{customers, dunning, events, ledger, Tx};

/// Puts an invoice whose charge failed on the retry schedule (a
/// subscription's invoice; any other is paid by hand), then emits its first
/// `invoice.payment_failed`.
pub(crate) async fn start_dunning(tx: &mut Tx, settings: &Settings, b: &BuiltInvoice) -> Result<()> {
    let at = b.row.created_at;
    let code = b.failure.clone().unwrap_or_default();
    let mut next = None;
    if b.row.subscription_id.is_some() {
        let mut d = dunning::DunningRow {
            invoice_id: b.row.id.clone(),
            livemode: b.row.livemode,
            customer_id: b.row.customer_id.clone(),
            subscription_id: b.row.subscription_id.clone(),
            state: "retrying".into(),
            attempt_count: 1,
            first_failed_at: at,
            next_attempt_at: settings.retry_hours.first().map(|h| at + i64::from(*h) * 3_600_000),
            last_error: code.clone(),
            updated_at: at,
        };
        dunning::save(tx, &d).await?;
        if settings.retry_hours.is_empty() {
            // No retries configured: the first failure is the last.
            exhaust(tx, settings, &mut d, at).await?;
        }
        next = d.next_attempt_at;
    }
    let at = b.row.finalized_at.unwrap_or(at);
    emit_payment_failed(tx, &b.row, &code, 1, next, at).await
}

/// Emits `invoice.payment_failed` for a failed attempt: the decline code,
/// the attempt number, when the next automatic attempt is (`null` when none
/// follows), the prompt to update the payment method, and the status the
/// invoice's subscription is left in (so the email can say what happens).
async fn emit_payment_failed(
    tx: &mut Tx,
    inv: &InvoiceRow,
    code: &str,
    attempt: i64,
    next: Option<i64>,
    now: i64,
) -> Result<()> {
    let status = match &inv.subscription_id {
        Some(id) => billing::subscription(tx, inv.livemode, id, "").await?.map(|s| s.status),
        None => None,
    };
    let data = serde_json::json!({"id": inv.id, "number": inv.number, "customer": inv.customer_id,
        "subscription": inv.subscription_id, "subscription_status": status, "total": inv.total,
        "amount_due": inv.amount_due, "currency": inv.currency, "failure_code": code, "attempt": attempt,
        "next_attempt_at": next.map(|t| t / 1000), "update_payment_method": true});
    events::emit(tx, inv.livemode, "invoice.payment_failed", &inv.id, &data, now).await?;
    Ok(())
}

/// Every retry failed: the subscription is canceled (the invoice written off
/// as uncollectible) or marked unpaid (the invoice stays open).
pub(crate) async fn exhaust(tx: &mut Tx, settings: &Settings, d: &mut dunning::DunningRow, now: i64) -> Result<()> {
    d.state = "exhausted".into();
    d.next_attempt_at = None;
    d.updated_at = now;
    dunning::save(tx, d).await?;
    if let Some(sub_id) = &d.subscription_id {
        if let Some(mut sub) = billing::subscription(tx, d.livemode, sub_id, "").await? {
            if sub.status == Status::PastDue.as_str() {
                sub.status =
                    transition(&sub, Event::RetriesExhausted { mark_unpaid: settings.final_unpaid })?.as_str().into();
                if sub.status == Status::Canceled.as_str() {
                    sub.canceled_at = Some(now);
                }
                sub.updated_at = now;
                billing::save_subscription(tx, &sub).await?;
                emit_sub(
                    tx,
                    &sub,
                    if settings.final_unpaid { "subscription.unpaid" } else { "subscription.canceled" },
                    now,
                )
                .await?;
            }
        }
    }
    if !settings.final_unpaid {
        let inv = billing::invoice(&mut **tx, d.livemode, &d.invoice_id).await?.ok_or_else(Error::internal)?;
        let currency = Currency::from_code(&inv.currency).map_err(err)?;
        let e = EntryDraft::new(currency, format!("Write-off of {}", inv.number.clone().unwrap_or_default()))
            .debit("bad_debt", inv.amount_due)
            .credit("receivables", inv.amount_due)
            .validate()
            .map_err(err)?;
        ledger::post(tx, ledger::NewEntry::at(d.livemode, &e, now).source("invoice", &inv.id)).await?;
        dunning::set_invoice_status(tx, &inv.id, "uncollectible").await?;
        events::emit(tx, d.livemode, "invoice.marked_uncollectible", &inv.id, &serde_json::json!({"id": inv.id}), now)
            .await?;
    }
    Ok(())
}

/// What a payment attempt on an open invoice came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Retry {
    Paid,
    Failed,
    /// A provider charge to make after the commit.
    Pending(String),
    /// Nothing to do (settled, voided).
    Skipped,
}

/// Records a failed payment of an open invoice: the first failure of a
/// subscription invoice starts its retry schedule; a failed retry
/// schedules the next one or, when none is left, ends dunning. Emits
/// `invoice.payment_failed` (with the update-payment-method prompt).
pub(crate) async fn invoice_payment_failed(
    tx: &mut Tx,
    settings: &Settings,
    inv: &InvoiceRow,
    code: &str,
    now: i64,
) -> Result<()> {
    let (attempt, next) = match dunning::get(tx, &inv.id, "").await? {
        None if inv.subscription_id.is_some() => {
            let mut d = dunning::DunningRow {
                invoice_id: inv.id.clone(),
                livemode: inv.livemode,
                customer_id: inv.customer_id.clone(),
                subscription_id: inv.subscription_id.clone(),
                state: "retrying".into(),
                attempt_count: 1,
                first_failed_at: now,
                next_attempt_at: settings.retry_hours.first().map(|h| now + i64::from(*h) * 3_600_000),
                last_error: code.to_string(),
                updated_at: now,
            };
            dunning::save(tx, &d).await?;
            if settings.retry_hours.is_empty() {
                exhaust(tx, settings, &mut d, now).await?;
            }
            (1, d.next_attempt_at)
        }
        None => (1, None),
        Some(mut d) => {
            d.last_error = code.to_string();
            d.updated_at = now;
            let step = usize::try_from(d.attempt_count - 1).unwrap_or(usize::MAX);
            match settings.retry_hours.get(step) {
                _ if d.state != "retrying" => dunning::save(tx, &d).await?,
                Some(h) => {
                    d.next_attempt_at = Some(d.first_failed_at + i64::from(*h) * 3_600_000);
                    dunning::save(tx, &d).await?;
                }
                None => exhaust(tx, settings, &mut d, now).await?,
            }
            (d.attempt_count, d.next_attempt_at)
        }
    };
    emit_payment_failed(tx, inv, code, attempt, next, now).await
}

/// Tries an open invoice's charge again with the customer's default
/// method: a new payment attempt. The sandbox answers at once; a provider
/// is asked after the commit (`Retry::Pending`).
pub async fn retry_payment(
    tx: &mut Tx,
    settings: &Settings,
    invoice_id: &str,
    livemode: bool,
    now: i64,
) -> Result<Retry> {
    let inv = billing::invoice(&mut **tx, livemode, invoice_id).await?.ok_or_else(Error::internal)?;
    // An open invoice outside dunning (a sent or manual invoice) is paid by
    // hand: one attempt, nothing scheduled.
    let mut d = match dunning::get(tx, invoice_id, "").await? {
        Some(d) => d,
        None if inv.status == "open" => dunning::DunningRow {
            invoice_id: inv.id.clone(),
            livemode,
            customer_id: inv.customer_id.clone(),
            subscription_id: inv.subscription_id.clone(),
            state: "manual".into(),
            attempt_count: 0,
            first_failed_at: now,
            next_attempt_at: None,
            last_error: String::new(),
            updated_at: now,
        },
        None => return Ok(Retry::Skipped),
    };
    // Scheduled retries run while `retrying`; after the schedule ran out an
    // invoice left open (the `unpaid` setting) can still be paid by hand.
    if d.state == "recovered" || d.state == "voided" || inv.status != "open" {
        return Ok(Retry::Skipped);
    }
    // An attempt whose answer is still out is asked about again, never
    // doubled by a new one.
    if let Some(p) = bursar_store::payments::of_invoice(&mut **tx, &inv.id).await?.into_iter().find(|p| p.unsettled()) {
        return Ok(Retry::Pending(p.id));
    }
    let method = dunning::default_methods(tx, std::slice::from_ref(&inv.customer_id)).await?.pop();
    let collect = Collect::for_method(method, livemode);
    d.attempt_count += 1;
    d.updated_at = now;
    let number = inv.number.clone().unwrap_or_default();
    let payment = payments::payment_for(
        &collect,
        livemode,
        &inv.customer_id,
        &inv.id,
        &number,
        inv.amount_due,
        &inv.currency,
        now,
    );
    if let Some(p) = &payment {
        bursar_store::payments::insert_payments(tx, std::slice::from_ref(p)).await?;
    }
    match payment.as_ref().map(|p| p.status.as_str()) {
        Some("pending" | "processing") => {
            // The answer comes after the commit; no retry is scheduled while
            // this one is in flight.
            if d.state != "manual" {
                d.next_attempt_at = None;
                dunning::save(tx, &d).await?;
            }
            Ok(Retry::Pending(payment.map(|p| p.id).unwrap_or_default()))
        }
        Some("completed") => {
            let p = payment.as_ref().ok_or_else(Error::internal)?;
            let e = payments::payment_entry(p, &number)?;
            ledger::post(tx, ledger::NewEntry::at(livemode, &e, now).source("payment", &p.id)).await?;
            dunning::mark_invoice_paid(tx, &inv.id, inv.amount_due, now).await?;
            if d.state != "manual" {
                d.state = "recovered".into();
                d.next_attempt_at = None;
                dunning::save(tx, &d).await?;
            }
            events::emit(tx, livemode, "invoice.paid", &inv.id, &serde_json::json!({"id": inv.id, "number": inv.number, "amount_due": inv.amount_due, "total": inv.total, "currency": inv.currency, "customer": inv.customer_id, "retry": d.attempt_count}), now).await?;
            if let Some(sub_id) = &d.subscription_id {
                if let Some(mut sub) = billing::subscription(tx, livemode, sub_id, "").await? {
                    if matches!(Status::parse(&sub.status), Some(Status::PastDue | Status::Unpaid)) {
                        sub.status = transition(&sub, Event::PaymentRecovered)?.as_str().into();
                        sub.updated_at = now;
                        billing::save_subscription(tx, &sub).await?;
                        emit_sub(tx, &sub, "subscription.recovered", now).await?;
                    }
                }
            }
            Ok(Retry::Paid)
        }
        _ => {
            let code = payment.and_then(|p| p.failure_code).unwrap_or_else(|| "payment_method_missing".to_string());
            if d.state != "manual" {
                dunning::save(tx, &d).await?;
            }
            invoice_payment_failed(tx, settings, &inv, &code, now).await?;
            Ok(Retry::Failed)
        }
    }
}

/// Runs every retry that is due, each in its own transaction.
pub async fn run_dunning(
    db: &bursar_store::Db,
    settings: &Settings,
    server_now: i64,
    test_clock: Option<&str>,
) -> Result<u32> {
    let mut n = 0;
    loop {
        let due = dunning::due(db.reader(), server_now, test_clock, 200).await?;
        if due.is_empty() {
            break;
        }
        let mut progressed = 0;
        for id in due {
            let mut tx = db.begin().await?;
            // The invoice first, as a payment by hand (`/pay`) takes it: the
            // same lock order everywhere, and an invoice another node (or a
            // `/pay`) is working on is skipped.
            if !bursar_store::billing::try_lock(&mut tx, &id, db.for_update_skip_locked()).await? {
                continue;
            }
            let Some(d) = dunning::get(&mut tx, &id, db.for_update()).await? else { continue };
            let customer = customers::get(&mut *tx, d.livemode, &d.customer_id).await?.ok_or_else(Error::internal)?;
            let now = now_for(&mut tx, &customer, server_now).await?;
            if d.next_attempt_at.is_none_or(|t| t > now) {
                continue;
            }
            // Run the attempt at its scheduled time, so a clock that jumped
            // several days runs each retry in turn.
            let at = d.next_attempt_at.unwrap_or(now);
            retry_payment(&mut tx, settings, &id, d.livemode, at).await?;
            tx.commit().await?;
            progressed += 1;
        }
        n += progressed;
        if progressed == 0 {
            break;
        }
    }
    Ok(n)
}
