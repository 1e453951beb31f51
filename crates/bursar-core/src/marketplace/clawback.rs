//! Refunds of orders: the proportional claw-back of a refunded part, and
//! its exact undoing when the provider refuses the refund.

use super::shared::internal;
use crate::error::Result;
use bursar_domain::id::{new_id, IdKind};
use bursar_domain::ledger::EntryDraft;
use bursar_domain::marketplace as rule;
use bursar_domain::money::Currency;
use bursar_store::billing::{CreditNoteRow, InvoiceRow};
use bursar_store::marketplace::{self as store, EarningRow};
use bursar_store::{events, ledger, order_refunds, Tx};
use serde_json::json;

/// Undoes a refunded part of an order (inside the refund's transaction):
/// the credit note's net is spread over the items by what each has left
/// (all of it once the invoice is fully credited), instructors' shares and
/// the affiliate's unpaid commission are clawed back in proportion, and a
/// fully refunded order revokes the enrollments no other order grants.
/// What this credit note took is recorded, and its ledger entry is the
/// credit note's, so a refund the provider refuses is undone exactly
/// ([`on_refund_failed`]).
pub async fn on_refund(
    tx: &mut Tx,
    invoice: &InvoiceRow,
    cn: &CreditNoteRow,
    targets: Option<&[String]>,
    now: i64,
) -> Result<()> {
    let Some(mut order) = store::order_of_invoice(&mut **tx, &invoice.id).await? else { return Ok(()) };
    let livemode = invoice.livemode;
    let currency = Currency::from_code(&order.currency).map_err(internal)?;
    let mut items = store::order_items(&mut **tx, &order.id).await?;
    // Tax is credited step by step with its own rounding: once the invoice
    // is credited in full, everything left of the net is refunded.
    let (credited, tax_credited) = crate::billing::credited_so_far(tx, invoice).await?;
    let last = credited >= invoice.total;
    // A refund of some items takes from those alone (the platform keeps
    // any unit of rounding beyond them).
    let remaining: Vec<i64> = items
        .iter()
        .map(|i| match targets {
            Some(t) if !last && !t.contains(&i.id) => 0,
            _ => i.net - i.refunded_net,
        })
        .collect();
    let left: i64 = remaining.iter().sum();
    let refund_net = if last {
        left
    } else if targets.is_none() && order.subscription_id.is_some() {
        // A refund of an invoice that also started a subscription, not of
        // named items: the order takes its part of the credit in proportion
        // to what was left of it against what was left of the invoice
        // (net of tax), rounded down; the subscription's part is the rest.
        let invoice_left = invoice.subtotal - (credited - tax_credited) + cn.subtotal;
        if invoice_left <= 0 {
            left
        } else {
            let share = i128::from(cn.subtotal) * i128::from(left) / i128::from(invoice_left);
            i64::try_from(share).map_err(internal)?.min(left)
        }
    } else {
        cn.subtotal.min(left)
    };
    if refund_net <= 0 {
        return Ok(());
    }
    let parts = rule::allocate_refund(currency, &remaining, refund_net).map_err(internal)?;
    let mut entry = EntryDraft::new(currency, format!("Claw-back of order {} ({})", order.number, cn.number));
    let mut posted = false;
    // Commission to cancel per item, tentatively: it is cancelled only if
    // still unpaid when the conditional update runs.
    let mut cancel = Vec::with_capacity(items.len());
    for (item, part) in items.iter_mut().zip(&parts) {
        let refunded = item.refunded_net + part;
        let c = rule::clawed_back(item.commission, item.net, refunded).map_err(internal)?;
        cancel.push(c - item.commission_cancelled);
    }
    let commission_back: i64 = cancel.iter().sum();
    let commission =
        if commission_back > 0 && order_refunds::cancel_commission(tx, &order.id, commission_back, now).await? {
            store::commission_of_order(tx, &order.id).await?
        } else {
            None
        };
    for ((item, part), cancelled) in items.iter_mut().zip(parts).zip(cancel) {
        if part == 0 {
            continue;
        }
        item.refunded_net += part;
        let clawed = rule::clawed_back(item.instructor_share, item.net, item.refunded_net).map_err(internal)?;
        let delta = clawed - item.clawed_back;
        item.clawed_back = clawed;
        let cancelled = if commission.is_some() { cancelled } else { 0 };
        item.commission_cancelled += cancelled;
        if delta > 0 {
            entry = entry
                .debit(format!("instructor_payable:{}", item.instructor_id), delta)
                .credit("revenue:one_off", delta);
            posted = true;
            // Due with the sale it cancels: at once if that was paid out,
            // else when the sale would have been.
            let due = match order_refunds::sale_earning(tx, &item.id).await? {
                Some((at, None)) => at,
                _ => now,
            };
            store::insert_earning(
                tx,
                livemode,
                &EarningRow {
                    id: new_id(IdKind::Earning),
                    instructor_id: item.instructor_id.clone(),
                    order_item_id: item.id.clone(),
                    currency: order.currency.clone(),
                    amount: -delta,
                    kind: "clawback".into(),
                    available_at: due,
                    payout_id: None,
                    created_at: now,
                },
            )
            .await?;
        }
        store::save_order_item_refund(tx, item).await?;
        order_refunds::insert_part(
            tx,
            &order_refunds::RefundPart {
                credit_note_id: cn.id.clone(),
                order_item_id: item.id.clone(),
                refunded_net: part,
                clawed_back: delta,
                commission_cancelled: cancelled,
            },
        )
        .await?;
    }
    if let Some(c) = &commission {
        entry = entry
            .debit(format!("affiliate_payable:{}", c.affiliate_id), commission_back)
            .credit("affiliate_commissions", commission_back);
        posted = true;
        events::emit(
            tx,
            livemode,
            if c.status == "cancelled" { "commission.cancelled" } else { "commission.reduced" },
            &c.id,
            &json!({"id": c.id, "affiliate": c.affiliate_id, "order": order.id, "amount": c.amount}),
            now,
        )
        .await?;
    }
    if posted {
        let e = entry.validate().map_err(internal)?;
        ledger::post(tx, ledger::NewEntry::at(livemode, &e, now).source("credit_note", &cn.id)).await?;
    }
    order.refunded_net += refund_net;
    let fully = order.refunded_net >= items.iter().map(|i| i.net).sum::<i64>();
    order.status = if fully { "refunded" } else { "partially_refunded" }.into();
    store::save_order_refund(tx, &order).await?;
    if fully {
        crate::referrals::on_order_refunded(tx, livemode, &order.id, now).await?;
    }
    // Access goes with the money: a whole order refunded takes every
    // enrollment it granted, an item refunded in full the courses it sold.
    let revoke = if fully {
        None
    } else {
        let mut courses = Vec::new();
        for i in items.iter().filter(|i| i.net > 0 && i.refunded_net >= i.net) {
            courses.extend(courses_of_item(tx, &i.course_id).await?);
        }
        Some(courses)
    };
    if revoke.as_ref().is_none_or(|c| !c.is_empty()) {
        for e in store::revoke_enrollments(tx, &order.id, revoke.as_deref()).await? {
            // Still granted by another order (bought twice, or in a bundle):
            // it stays, under that order.
            if let Some(other) = order_refunds::other_grant(tx, &e.customer_id, &e.course_id, &order.id).await? {
                order_refunds::regrant(tx, &e.id, &other).await?;
                continue;
            }
            events::emit(
                tx,
                livemode,
                "enrollment.revoked",
                &e.id,
                &json!({"id": e.id, "customer": e.customer_id, "course": e.course_id, "order": order.id}),
                now,
            )
            .await?;
        }
    }
    events::emit(
        tx,
        livemode,
        "order.refunded",
        &order.id,
        &json!({"id": order.id, "number": order.number, "status": order.status, "refunded_net": order.refunded_net,
            "credit_note": cn.id}),
        now,
    )
    .await?;
    Ok(())
}

/// Undoes [`on_refund`] for a credit note whose refund the provider refused
/// (inside the transaction that records the refusal, which also reverses
/// the credit note's ledger entries, the claw-back's among them): the
/// items' refunded amounts, the claw-backs (as earnings given back), the
/// commission and the order's status return to what they were, and
/// enrollments a full refund revoked are restored.
pub async fn on_refund_failed(tx: &mut Tx, livemode: bool, credit_note_id: &str, now: i64) -> Result<()> {
    let parts = order_refunds::take_parts(tx, credit_note_id).await?;
    let Some(first) = parts.first() else { return Ok(()) };
    let order_id = store::order_of_item(tx, &first.order_item_id).await?;
    let Some(mut order) = store::order(&mut **tx, livemode, &order_id).await? else { return Ok(()) };
    let mut items = store::order_items(&mut **tx, &order.id).await?;
    let mut commission_back = 0;
    for p in &parts {
        let Some(item) = items.iter_mut().find(|i| i.id == p.order_item_id) else { continue };
        item.refunded_net -= p.refunded_net;
        item.clawed_back -= p.clawed_back;
        item.commission_cancelled -= p.commission_cancelled;
        commission_back += p.commission_cancelled;
        order.refunded_net -= p.refunded_net;
        store::save_order_item_refund(tx, item).await?;
        if p.clawed_back > 0 {
            let due = match order_refunds::sale_earning(tx, &item.id).await? {
                Some((at, None)) => at,
                _ => now,
            };
            store::insert_earning(
                tx,
                livemode,
                &EarningRow {
                    id: new_id(IdKind::Earning),
                    instructor_id: item.instructor_id.clone(),
                    order_item_id: item.id.clone(),
                    currency: order.currency.clone(),
                    amount: p.clawed_back,
                    kind: "clawback_reversal".into(),
                    available_at: due,
                    payout_id: None,
                    created_at: now,
                },
            )
            .await?;
        }
    }
    if commission_back > 0 {
        order_refunds::restore_commission(tx, &order.id, commission_back, now).await?;
    }
    order.status = if order.refunded_net <= 0 { "paid" } else { "partially_refunded" }.into();
    store::save_order_refund(tx, &order).await?;
    // Enrollments come back for every item no longer refunded in full
    // (unless the order still is, through another credit note), and a
    // referral reward the refund took back is given back.
    let fully = order.refunded_net >= items.iter().map(|i| i.net).sum::<i64>();
    if !fully {
        crate::referrals::on_order_refund_undone(tx, livemode, &order.id, now).await?;
    }
    let mut restore = Vec::new();
    for i in items.iter().filter(|i| !fully && (i.net == 0 || i.refunded_net < i.net)) {
        restore.extend(courses_of_item(tx, &i.course_id).await?);
    }
    if !restore.is_empty() {
        for (id, customer, course) in order_refunds::revoked_of(tx, &order.id).await? {
            if !restore.contains(&course) {
                continue;
            }
            order_refunds::regrant(tx, &id, &order.id).await?;
            events::emit(
                tx,
                livemode,
                "enrollment.restored",
                &id,
                &json!({"id": id, "customer": customer, "course": course, "order": order.id}),
                now,
            )
            .await?;
        }
    }
    events::emit(
        tx,
        livemode,
        "order.refund_reversed",
        &order.id,
        &json!({"id": order.id, "number": order.number, "status": order.status, "credit_note": credit_note_id}),
        now,
    )
    .await?;
    Ok(())
}

/// The courses an order item sold: the course, or a bundle's courses.
async fn courses_of_item(tx: &mut Tx, course_id: &str) -> Result<Vec<String>> {
    if course_id.starts_with("bnd_") {
        Ok(store::bundle_items(&mut **tx, course_id).await?)
    } else {
        Ok(vec![course_id.to_string()])
    }
}
