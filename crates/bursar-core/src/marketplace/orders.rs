//! Orders as the platform reads them.

use crate::actor::Actor;
use crate::common::{secs, List, Page};
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use bursar_store::marketplace::{self as store, OrderRow};
use serde::Serialize;
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

pub(crate) async fn render(ctx: &Ctx, o: OrderRow) -> Result<Order> {
    let mut conn = ctx.db.reader().acquire().await?;
    render_in(&mut conn, o).await
}

/// An order as the platform sees it, read through `conn` (a transaction's
/// own connection when answering inside one).
pub(crate) async fn render_in(conn: &mut sqlx::AnyConnection, o: OrderRow) -> Result<Order> {
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
