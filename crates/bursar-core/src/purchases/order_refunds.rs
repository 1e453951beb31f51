//! Refunds of some items of an order: the credit note and the claw-back of
//! the split in one transaction, then the refund sent to the provider.

use crate::actor::Actor;
use crate::billing::RefundTo;
use crate::common::check_len;
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::idempotency::Reply;
use crate::marketplace::orders::{self, Order};
use bursar_domain::id::{is_valid, IdKind};
use bursar_store::marketplace as store;
use serde::Deserialize;
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderRefund {
    /// The order items to refund (`oi_…`), each for all that is left of it.
    pub items: Vec<String>,
    /// `payment_method` (default) or `credit_balance`.
    pub refund_to: Option<String>,
    pub reason: Option<String>,
}

/// Refunds some items of an order. The answer (the order with its refund
/// still pending at the provider) is stored for the idempotency key in the
/// refund's transaction; the provider is asked after the commit, and the
/// stored answer is then refreshed with the outcome.
pub async fn refund(ctx: &Ctx, actor: &Actor, id: &str, b: OrderRefund, reply: &Reply) -> Result<Order> {
    let livemode = actor.livemode;
    let not_found = || Error::not_found("id", "order", id);
    if !is_valid(IdKind::Order, id) {
        return Err(not_found());
    }
    let to = RefundTo::parse(b.refund_to.as_deref())?;
    let reason = b.reason.unwrap_or_else(|| "requested_by_customer".into());
    check_len("reason", &Some(reason.clone()), 500)?;
    if b.items.is_empty() || b.items.len() > 100 {
        return Err(Error::invalid("items", "items lists 1 to 100 order items"));
    }
    let order = store::order(ctx.db.reader(), livemode, id).await?.ok_or_else(not_found)?;
    let mut tx = ctx.db.begin().await?;
    bursar_store::billing::lock_invoice(&mut tx, ctx.db.for_update(), &order.invoice_id).await?;
    let order = store::order(&mut *tx, livemode, id).await?.ok_or_else(not_found)?;
    let inv =
        bursar_store::billing::invoice(&mut *tx, livemode, &order.invoice_id).await?.ok_or_else(Error::internal)?;
    let items = store::order_items(&mut *tx, &order.id).await?;
    let mut net = 0i64;
    for (i, t) in b.items.iter().enumerate() {
        let param = format!("items[{i}]");
        if b.items[..i].contains(t) {
            return Err(Error::invalid(&param, "an item is listed twice"));
        }
        let item = items
            .iter()
            .find(|it| &it.id == t)
            .ok_or_else(|| Error::invalid(&param, format!("`{t}` is not an item of this order")))?;
        let left = item.net - item.refunded_net;
        if left <= 0 {
            return Err(Error::invalid(&param, format!("`{}` is already refunded", item.title)));
        }
        net += left;
    }
    let customer =
        bursar_store::customers::get(&mut *tx, livemode, &inv.customer_id).await?.ok_or_else(Error::internal)?;
    let now = crate::billing::now_for(&mut tx, &customer, ctx.now_ms()).await?;
    let (credited, tax_credited) = crate::billing::credited_so_far(&mut tx, &inv).await?;
    // All that is left of the invoice (the order, and no subscription
    // beside it): everything left, so its tax is credited to the last unit.
    let invoice_net_left = inv.subtotal - (credited - tax_credited);
    let amount = if net >= invoice_net_left {
        inv.total - credited
    } else {
        crate::billing::gross_for_net(&inv, credited, tax_credited, net)?
    };
    let cn = crate::refunds::refund(&mut tx, &inv, amount, to, &reason, Some(&b.items), now).await?;
    let order = store::order(&mut *tx, livemode, id).await?.ok_or_else(Error::internal)?;
    let out = orders::render_in(&mut tx, order).await?;
    reply.record(&mut tx, &out).await?;
    let pending = crate::refunds::pending_of(&mut tx, &cn.id).await?;
    tx.commit().await?;
    if pending.is_empty() {
        return Ok(out);
    }
    crate::settlement::settle_refunds(&ctx.db, &ctx.billing_settings(), &pending, ctx.now_ms()).await;
    let order = store::order(ctx.db.reader(), livemode, id).await?.ok_or_else(Error::internal)?;
    let out = orders::render(ctx, order).await?;
    reply.refresh(ctx, &out).await;
    Ok(out)
}
