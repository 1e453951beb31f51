//! The reconciliation report: for each of Bursar's payments through a
//! provider in a window, what the provider says about it (asked with
//! `retrieve`), and the ledger entry it should have; plus the provider
//! events that named a payment Bursar does not know or were flagged.
//! Every difference is listed; an empty list means the three agree. Also
//! the stored provider events, and replaying one.

use crate::actor::Actor;
use crate::common::{secs, List, Page};
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::idempotency::Reply;
use bursar_providers::PaymentStatus;
use bursar_store::payments::{self as store};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct Difference {
    /// missing_at_provider, status_mismatch, amount_mismatch, missing_ledger_entry, ledger_amount_mismatch,
    /// unsettled_payment, paid_closed_invoice, provider_unreachable, unknown_provider_payment,
    /// flagged_provider_event.
    pub kind: &'static str,
    pub payment: Option<String>,
    pub provider_payment_id: Option<String>,
    pub detail: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Reconciliation {
    /// Always `reconciliation_report`.
    pub object: &'static str,
    pub provider: String,
    pub from: i64,
    pub to: i64,
    /// Payments compared.
    pub payments_checked: usize,
    /// Completed payments' total per currency, as Bursar recorded it.
    pub recorded: std::collections::BTreeMap<String, i64>,
    pub differences: Vec<Difference>,
}

/// Compares one provider's payments created from `from_s` to `to_s` (Unix
/// seconds as given; default the last 7 days) with the provider and the
/// ledger.
pub async fn report(
    ctx: &Ctx,
    actor: &Actor,
    provider: String,
    from_s: Option<String>,
    to_s: Option<String>,
) -> Result<Reconciliation> {
    if !matches!(provider.as_str(), "stripe" | "paypal" | "razorpay" | "sandbox") {
        return Err(Error::invalid("provider", "provider is stripe, paypal, razorpay or sandbox"));
    }
    let secs_param = |name: &str, v: &Option<String>| -> Result<Option<i64>> {
        v.as_deref()
            .map(|s| s.parse::<i64>().map_err(|_| Error::invalid(name, format!("`{name}` is unix seconds"))))
            .transpose()
    };
    let now = ctx.now_ms();
    // The default end includes everything up to this instant.
    let to = secs_param("to", &to_s)?.map_or(now + 1, |t| t.saturating_mul(1000));
    let from = secs_param("from", &from_s)?.map_or(to - 7 * 86_400_000, |f| f.saturating_mul(1000));
    if from >= to {
        return Err(Error::invalid("from", "from must be before to"));
    }
    let conn = ctx.providers.get(&provider);
    if conn.is_none() && provider != "sandbox" {
        return Err(Error::invalid("provider", format!("{} is not configured", provider)));
    }
    let payments = store::of_provider_between(ctx.db.reader(), actor.livemode, &provider, from, to).await?;
    let mut differences = Vec::new();
    let mut recorded = std::collections::BTreeMap::new();
    let mut diff = |kind, p: &store::PaymentRow, detail: String| {
        differences.push(Difference {
            kind,
            payment: Some(p.id.clone()),
            provider_payment_id: p.provider_payment_id.clone(),
            detail,
        })
    };
    for p in &payments {
        let settled_ok = matches!(p.status.as_str(), "completed" | "refunded");
        if settled_ok {
            *recorded.entry(p.currency.clone()).or_insert(0) += p.amount;
        }
        if p.unsettled() {
            diff("unsettled_payment", p, format!("{} since {}", p.status, secs(p.created_at)));
        }
        // The ledger: a completed payment has exactly its amount in the
        // provider's clearing account.
        let account = format!("provider_clearing:{}", p.provider);
        let entries = bursar_store::ledger::payment_entries_on(ctx.db.reader(), &p.id, &account).await?;
        let in_ledger: i64 = entries.iter().map(|e| e.1).sum();
        match (settled_ok, entries.is_empty()) {
            (true, true) => {
                diff("missing_ledger_entry", p, format!("{} {} completed without an entry", p.amount, p.currency))
            }
            (false, false) => diff("ledger_amount_mismatch", p, format!("a {} payment has ledger entries", p.status)),
            (true, false) if in_ledger != p.amount => diff(
                "ledger_amount_mismatch",
                p,
                format!("ledger has {in_ledger}, payment is {} {}", p.amount, p.currency),
            ),
            _ => {}
        }
        // Money taken for an invoice already voided or written off (a buyer
        // who paid on the provider's page after the checkout expired): it
        // waits in receivables for staff to give it back.
        if settled_ok && p.amount_refunded < p.amount {
            if let Some(inv_id) = &p.invoice_id {
                let inv = bursar_store::billing::invoice(ctx.db.reader(), actor.livemode, inv_id).await?;
                if let Some(inv) = inv.filter(|i| matches!(i.status.as_str(), "void" | "uncollectible")) {
                    diff(
                        "paid_closed_invoice",
                        p,
                        format!(
                            "{} {} taken for invoice {} after it was {}; refund it at the provider",
                            p.amount - p.amount_refunded,
                            p.currency,
                            inv.number.unwrap_or(inv.id),
                            inv.status
                        ),
                    );
                }
            }
        }
        // The provider's view (the sandbox is Bursar itself).
        let Some(conn) = &conn else { continue };
        if p.checkout_session_id.is_some() && p.status == "cancelled" {
            continue;
        }
        match conn.retrieve(&p.id, p.provider_payment_id.as_deref()).await {
            Ok(PaymentStatus::NotFound) if settled_ok => {
                diff("missing_at_provider", p, "the provider has no such payment".into())
            }
            Ok(PaymentStatus::Succeeded { amount, .. }) => {
                if !settled_ok {
                    diff("status_mismatch", p, format!("the provider took it; Bursar has it {}", p.status));
                } else if amount.minor != p.amount || !amount.currency().eq_ignore_ascii_case(&p.currency) {
                    diff(
                        "amount_mismatch",
                        p,
                        format!("provider {} {}, Bursar {} {}", amount.minor, amount.currency(), p.amount, p.currency),
                    );
                }
            }
            Ok(PaymentStatus::Failed { code, .. }) if settled_ok => {
                diff("status_mismatch", p, format!("the provider says failed ({code}); Bursar has it {}", p.status))
            }
            Ok(PaymentStatus::Canceled { .. }) if settled_ok => {
                diff("status_mismatch", p, format!("the provider says canceled; Bursar has it {}", p.status))
            }
            Ok(PaymentStatus::Pending { .. }) if settled_ok => {
                diff("status_mismatch", p, format!("the provider says pending; Bursar has it {}", p.status))
            }
            Ok(_) => {}
            Err(e) => diff("provider_unreachable", p, e.to_string()),
        }
    }
    // Events from the provider that Bursar could not match or flagged.
    let events = store::list_events(ctx.db.reader(), actor.livemode, Some(&provider), None, 1000).await?;
    for e in events.iter().filter(|e| e.received_at >= from && e.received_at < to) {
        let kind = match (e.status.as_str(), e.payment_id.is_some()) {
            ("flagged", _) => "flagged_provider_event",
            ("ignored", false) if e.note.as_deref().is_some_and(|n| n.contains("no payment")) => {
                "unknown_provider_payment"
            }
            _ => continue,
        };
        differences.push(Difference {
            kind,
            payment: e.payment_id.clone(),
            provider_payment_id: None,
            detail: format!("{} {}: {}", e.event_type, e.event_id, e.note.clone().unwrap_or_default()),
        });
    }
    Ok(Reconciliation {
        object: "reconciliation_report",
        provider,
        from: secs(from),
        to: secs(to),
        payments_checked: payments.len(),
        recorded,
        differences,
    })
}

/// A webhook a provider sent, as stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderEvent {
    pub id: String,
    /// Always `provider_event`.
    pub object: &'static str,
    pub provider: String,
    /// The provider's event id.
    pub event_id: String,
    pub event_type: String,
    /// `applied`, `ignored` or `flagged`.
    pub status: String,
    pub note: Option<String>,
    pub payment: Option<String>,
    /// The raw body as received.
    pub payload: String,
    pub received: i64,
    pub processed_at: Option<i64>,
}

pub fn render_event(e: store::ProviderEventRow) -> ProviderEvent {
    ProviderEvent {
        id: e.id,
        object: "provider_event",
        provider: e.provider,
        event_id: e.event_id,
        event_type: e.event_type,
        status: e.status,
        note: e.note,
        payment: e.payment_id,
        payload: e.payload,
        received: secs(e.received_at),
        processed_at: e.processed_at.map(secs),
    }
}

/// Stored provider events of the actor's mode, newest first, optionally of
/// one provider.
pub async fn events(ctx: &Ctx, actor: &Actor, provider: Option<&str>, page: &Page) -> Result<List<ProviderEvent>> {
    let rows =
        store::list_events(ctx.db.reader(), actor.livemode, provider, page.starting_after.as_deref(), page.limit + 1)
            .await?;
    Ok(List::from_rows(rows, page.limit).map(render_event))
}

/// Applies a stored provider event again.
pub async fn replay_event(ctx: &Ctx, actor: &Actor, id: &str, reply: &Reply) -> Result<ProviderEvent> {
    if !bursar_domain::id::is_valid(bursar_domain::id::IdKind::ProviderEvent, id) {
        return Err(Error::not_found("id", "provider event", id));
    }
    let (tx, row) = crate::provider_events::replay(ctx, actor.livemode, id).await?;
    let out = render_event(row);
    reply.commit(tx, &out).await?;
    Ok(out)
}
