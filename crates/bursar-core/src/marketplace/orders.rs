//! Orders as the platform reads them, and refunds of some of their items.

use crate::actor::Actor;
use crate::billing::RefundTo;
use crate::common::{check_len, secs, List, Page};
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::idempotency::Reply;
use bursar_domain::id::{is_valid, IdKind};
use bursar_store::marketplace::{self as store, OrderRow};
use bursar_store::Tx;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderItem {
    /// `oi_…`: what `POST /v1/orders/{id}/refund` names.
    pub id: String,
    pub course: String,
    pub title: String,
    pub instructor: String,
    /// The price.
    pub amount: i64,
    /// Its part of the order's discount.
    pub discount: i64,
    /// Price less discount, tax excluded: what is split.
    pub net: i64,
    pub share_bps: i64,
    pub instructor_share: i64,
    pub affiliate_commission: i64,
    pub platform_share: i64,
    pub refunded_net: i64,
    pub clawed_back: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Order {
    pub id: String,
    /// Always `order`.
    pub object: &'static str,
    /// `ORD-YYYY-NNNNNN`.
    pub number: String,
    pub customer: String,
    pub currency: String,
    pub subtotal: i64,
    pub discount: i64,
    pub tax: i64,
    pub total: i64,
    /// `paid`, `partially_refunded`, `refunded`.
    pub status: String,
    pub invoice: String,
    pub checkout_session: Option<String>,
    /// The subscription the cart started with the order: its first period
    /// is on the same invoice, outside the order's totals.
    pub subscription: Option<String>,
    pub coupon: Option<String>,
    pub affiliate: Option<String>,
    /// The buyer's billing details as on the invoice.
    #[schema(value_type = Object)]
    pub billing_address: serde_json::Value,
    pub items: Vec<OrderItem>,
    pub created: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderRefund {
    /// The order items to refund (`oi_…`), each for all that is left of it.
    pub items: Vec<String>,
    /// `payment_method` (default) or `credit_balance`.
    pub refund_to: Option<String>,
    pub reason: Option<String>,
}

async fn render(ctx: &Ctx, o: OrderRow) -> Result<Order> {
    let mut conn = ctx.db.reader().acquire().await?;
    render_in(&mut conn, o).await
}

/// An order as the platform sees it, read through `conn` (a transaction's
/// own connection when answering inside one).
async fn render_in(conn: &mut sqlx::AnyConnection, o: OrderRow) -> Result<Order> {
    let items = store::order_items(&mut *conn, &o.id)
        .await?
        .into_iter()
        .map(|i| OrderItem {
            id: i.id,
            course: i.course_id,
            title: i.title,
            instructor: i.instructor_id,
            amount: i.amount,
            discount: i.discount,
            net: i.net,
            share_bps: i.share_bps,
            instructor_share: i.instructor_share,
            affiliate_commission: i.commission,
            platform_share: i.platform_share,
            refunded_net: i.refunded_net,
            clawed_back: i.clawed_back,
        })
        .collect();
    Ok(Order {
        id: o.id,
        object: "order",
        number: o.number,
        customer: o.customer_id,
        currency: o.currency,
        subtotal: o.subtotal,
        discount: o.discount,
        tax: o.tax,
        total: o.total,
        status: o.status,
        invoice: o.invoice_id,
        checkout_session: o.checkout_session_id,
        subscription: o.subscription_id,
        coupon: o.coupon,
        affiliate: o.affiliate_id,
        billing_address: serde_json::from_str(&o.billing_address).unwrap_or_default(),
        items,
        created: secs(o.created_at),
    })
}

/// A page of orders, newest last, of one customer or all.
pub async fn list(ctx: &Ctx, actor: &Actor, customer: Option<&str>, page: &Page) -> Result<List<Order>> {
    let rows = store::orders(ctx.db.reader(), actor.livemode, customer, page.starting_after.as_deref(), page.limit + 1)
        .await?;
    let mut data = Vec::new();
    for r in rows {
        data.push(render(ctx, r).await?);
    }
    Ok(List::from_rows(data, page.limit))
}

/// An order by id or number.
pub async fn get(ctx: &Ctx, actor: &Actor, id: &str) -> Result<Order> {
    let o =
        store::order(ctx.db.reader(), actor.livemode, id).await?.ok_or_else(|| Error::not_found("id", "order", id))?;
    render(ctx, o).await
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
    let out = render_in(&mut tx, order).await?;
    reply.record(&mut tx, &out).await?;
    let pending = pending_refunds(&mut tx, &cn.id).await?;
    tx.commit().await?;
    if pending.is_empty() {
        return Ok(out);
    }
    crate::settlement::settle_refunds(&ctx.db, &ctx.billing_settings(), &pending, ctx.now_ms()).await;
    let order = store::order(ctx.db.reader(), livemode, id).await?.ok_or_else(Error::internal)?;
    let out = render(ctx, order).await?;
    reply.refresh(ctx, &out).await;
    Ok(out)
}

/// The refunds of a credit note still to be sent to the provider.
async fn pending_refunds(tx: &mut Tx, credit_note: &str) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar("SELECT id FROM refunds WHERE credit_note_id = $1 AND status = 'pending'")
        .bind(credit_note)
        .fetch_all(&mut **tx)
        .await
        .map_err(bursar_store::DbError::from)?)
}
