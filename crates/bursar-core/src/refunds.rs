//! Refunds: the credit note, the money back through the provider that took
//! it (or as credit), and a marketplace order's claw-back, in one
//! transaction; the provider is asked after the commit (`settlement`).

use crate::billing::{credited_so_far, tax_share, RefundTo};
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::idempotency::Reply;
use bursar_domain::clock::from_millis;
use bursar_domain::id::{new_id, IdKind};
use bursar_domain::ledger::EntryDraft;
use bursar_domain::money::Currency;
use bursar_domain::tax::{self};
use bursar_store::billing::{self, InvoiceRow};
use bursar_store::{events, ledger, Tx};

fn err(e: impl std::fmt::Display) -> Error {
    Error::internal_from("refund failure", e)
}

/// Issues a credit note for `amount` of a paid invoice: the tax share is
/// credited in proportion (largest remainder across components), the
/// ledger reverses revenue through `refunds` and tax through
/// `tax_payable`, and the money goes back to the payment method or to the
/// customer's credit balance. Never more than what is left to credit.
/// `items`: for a marketplace order, the order items the refund is for;
/// none spreads it over all the order's items.
#[allow(clippy::too_many_arguments)]
pub async fn refund(
    tx: &mut Tx,
    invoice: &InvoiceRow,
    amount: i64,
    to: RefundTo,
    reason: &str,
    items: Option<&[String]>,
    now: i64,
) -> Result<billing::CreditNoteRow> {
    if invoice.status != "paid" || invoice.total <= 0 {
        return Err(Error::invalid("id", "only a paid invoice with a positive total can be refunded"));
    }
    let (credited, tax_credited) = credited_so_far(tx, invoice).await?;
    let left = invoice.total - credited;
    if amount <= 0 || amount > left {
        return Err(Error::invalid(
            "amount",
            format!("amount must be 1 to {left} (what is left to credit on this invoice)"),
        ));
    }
    if to == RefundTo::PaymentMethod && amount > invoice.amount_paid - credited.min(invoice.amount_paid) {
        return Err(Error::invalid(
            "refund_to",
            "more than was paid by payment method; refund the rest to the credit balance",
        ));
    }
    let currency = Currency::from_code(&invoice.currency).map_err(err)?;
    let details: serde_json::Value = serde_json::from_str(&invoice.tax_details).unwrap_or_default();
    let taxes: Vec<tax::TaxAmount> = serde_json::from_value(details["taxes"].clone()).unwrap_or_default();
    // Tax share, cumulative so that rounding never drifts: the tax of
    // everything credited so far (credited × tax ÷ total) less the tax
    // already credited; the last credit takes exactly what is left. Split
    // across components the same way.
    let tax_after = tax_share(invoice, credited + amount)?;
    let tax_part = tax_after - tax_credited;
    let ratios: Vec<u64> = taxes.iter().map(|t| t.amount_minor.unsigned_abs()).collect();
    let split = |t: i64| -> Result<Vec<i64>> {
        if t != 0 && ratios.iter().any(|r| *r > 0) {
            Ok(bursar_domain::money::Money::new(t, currency)
                .allocate(&ratios)
                .map_err(err)?
                .iter()
                .map(|m| m.amount_minor)
                .collect())
        } else {
            Ok(vec![0; taxes.len()])
        }
    };
    let (after, before) = (split(tax_after)?, split(tax_credited)?);
    let parts: Vec<i64> = after.iter().zip(&before).map(|(a, b)| a - b).collect();
    let net = amount - tax_part;
    let series = format!("CN-{}", from_millis(now).to_zoned(jiff::tz::TimeZone::UTC).year());
    let n = billing::reserve_invoice_numbers(tx, invoice.livemode, &series, 1).await?;
    let number = format!("{series}-{n:06}");
    let id = new_id(IdKind::CreditNote);
    // Money back to the method goes through the provider that took it: the
    // latest payment of the invoice with enough left to refund.
    let payment = match to {
        RefundTo::PaymentMethod => {
            let pays = bursar_store::payments::of_invoice(&mut **tx, &invoice.id).await?;
            let p = pays
                .into_iter()
                .rev()
                .find(|p| {
                    matches!(p.status.as_str(), "completed" | "refunded") && p.amount - p.amount_refunded >= amount
                })
                .ok_or_else(|| Error::invalid("amount", "no payment of this invoice has that much left to refund"))?;
            Some(p)
        }
        RefundTo::CreditBalance => None,
    };
    let (dest, to_str) = match &payment {
        Some(p) => (format!("provider_clearing:{}", p.provider), "payment_method"),
        None => (format!("customer_credit:{}", invoice.customer_id), "credit_balance"),
    };
    let mut e =
        EntryDraft::new(currency, format!("Credit note {number} for {}", invoice.number.clone().unwrap_or_default()));
    if net != 0 {
        e = e.debit("refunds", net);
    }
    let mut credited_taxes = Vec::new();
    for (t, p) in taxes.iter().zip(&parts) {
        if *p != 0 {
            e = e.debit(format!("tax_payable:{}", t.jurisdiction), *p);
        }
        credited_taxes.push(serde_json::json!({"name": t.name, "jurisdiction": t.jurisdiction, "rate_bps": t.rate_bps,
            "taxable_minor": net, "amount_minor": p}));
    }
    let entry = e.credit(dest, amount).validate().map_err(err)?;
    ledger::post(tx, ledger::NewEntry::at(invoice.livemode, &entry, now).source("credit_note", &id)).await?;
    let row = billing::CreditNoteRow {
        id,
        livemode: invoice.livemode,
        number,
        invoice_id: invoice.id.clone(),
        customer_id: invoice.customer_id.clone(),
        currency: invoice.currency.clone(),
        subtotal: net,
        tax: tax_part,
        total: amount,
        refund_to: to_str.to_string(),
        reason: reason.to_string(),
        tax_details: serde_json::json!({ "taxes": credited_taxes }).to_string(),
        created_at: now,
        status: "issued".into(),
    };
    billing::insert_credit_note(tx, &row).await?;
    if let Some(p) = payment {
        let sandbox = p.provider == "sandbox";
        let r = bursar_store::payments::RefundRow {
            id: new_id(IdKind::Refund),
            livemode: p.livemode,
            credit_note_id: row.id.clone(),
            payment_id: p.id.clone(),
            provider: p.provider.clone(),
            amount,
            currency: p.currency.clone(),
            // The sandbox refunds at once; a provider is asked after the commit.
            status: if sandbox { "succeeded" } else { "pending" }.into(),
            provider_refund_id: sandbox.then(|| format!("sbx_re_{}", &row.id[3..])),
            failure_message: None,
            next_check_at: (!sandbox).then_some(0),
            created_at: now,
            updated_at: now,
        };
        bursar_store::payments::insert_refund(tx, &r).await?;
        bursar_store::payments::adjust_refunded(tx, &p.id, amount, now).await?;
    }
    // A marketplace order claws its split back.
    crate::marketplace::on_refund(tx, invoice, &row, items, now).await?;
    let data = serde_json::json!({"id": row.id, "number": row.number, "invoice": invoice.id, "total": amount,
        "currency": invoice.currency, "refund_to": to_str});
    events::emit(tx, invoice.livemode, "credit_note.issued", &row.id, &data, now).await?;
    events::emit(tx, invoice.livemode, "invoice.refunded", &invoice.id, &data, now).await?;
    Ok(row)
}

/// The refunds of a credit note that a provider still has to make: they
/// are sent after the transaction that created them commits
/// ([`send_after_commit`]).
pub async fn pending_of(tx: &mut Tx, credit_note_id: &str) -> Result<Vec<String>> {
    Ok(bursar_store::payments::pending_refunds_of_credit_note(&mut **tx, credit_note_id).await?)
}

/// Sends refunds to their providers once the transaction that created them
/// has committed, under idempotency keys derived from the refund ids, and
/// records the answers (a refund the provider refuses is reversed). A
/// refund that could not be sent stays pending and is sent again by the
/// recovery checks, never twice. Returns how many were settled.
pub async fn send_after_commit(ctx: &Ctx, refund_ids: &[String]) -> u32 {
    if refund_ids.is_empty() {
        return 0;
    }
    crate::settlement::settle_refunds(&ctx.db, &ctx.billing_settings(), refund_ids, ctx.now_ms()).await
}

/// Stores `out` (the state as committed, refunds still pending) for the
/// request's key in the business transaction and commits it, then sends the
/// credit note's provider refunds. Returns whether any was sent: the caller
/// then reads the state again and refreshes the stored answer
/// ([`Reply::refresh`]). A retry after a crash in between replays the stored
/// answer and never refunds twice.
pub async fn commit_and_send<T: serde::Serialize>(
    ctx: &Ctx,
    mut tx: Tx,
    reply: &Reply,
    out: &T,
    credit_note_id: &str,
) -> Result<bool> {
    let pending = pending_of(&mut tx, credit_note_id).await?;
    reply.commit(tx, out).await?;
    send_after_commit(ctx, &pending).await;
    Ok(!pending.is_empty())
}
