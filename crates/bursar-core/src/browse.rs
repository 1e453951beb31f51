//! Stored records as the staff console lists them: subscriptions (and one
//! with its invoices), payments, coupons and the plan catalog, newest first
//! with the console's cursor. Reads only; the console's actions go through
//! each area's operations.

use crate::ctx::Ctx;
use crate::error::{Error, Result};
use bursar_domain::id::{is_valid, IdKind};
use bursar_store::{billing, catalog, payments};

pub use bursar_store::billing::{CouponRow, InvoiceRow, SubscriptionRow};
pub use bursar_store::catalog::{PlanRow, PriceRow};
pub use bursar_store::payments::PaymentRow;

/// Up to `limit` subscriptions after the cursor, optionally of one status.
pub async fn subscriptions(
    ctx: &Ctx,
    livemode: bool,
    status: Option<&str>,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<SubscriptionRow>> {
    Ok(billing::list_subscriptions(ctx.db.reader(), livemode, None, status, after, limit).await?)
}

/// One subscription with its price and up to 100 of its invoices (404 on `id`).
pub async fn subscription(
    ctx: &Ctx,
    livemode: bool,
    id: &str,
) -> Result<(SubscriptionRow, Option<PriceRow>, Vec<InvoiceRow>)> {
    let sub = subscription_row(ctx, livemode, id).await?.ok_or_else(|| Error::not_found("id", "subscription", id))?;
    let r = ctx.db.reader();
    let price = catalog::price_by_id(r, livemode, &sub.price_id).await?;
    let invoices = billing::list_invoices(r, livemode, None, Some(&sub.id), None, 100).await?;
    Ok((sub, price, invoices))
}

/// A subscription of a mode as stored; `None` for an id that is not one.
pub async fn subscription_row(ctx: &Ctx, livemode: bool, id: &str) -> Result<Option<SubscriptionRow>> {
    if !is_valid(IdKind::Subscription, id) {
        return Ok(None);
    }
    let mut conn = ctx.db.reader().acquire().await.map_err(bursar_store::DbError::from)?;
    Ok(billing::subscription(&mut conn, livemode, id, "").await?)
}

/// Up to `limit` payments after the cursor, optionally of one status.
pub async fn payments(
    ctx: &Ctx,
    livemode: bool,
    status: Option<&str>,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<PaymentRow>> {
    Ok(payments::list(ctx.db.reader(), livemode, None, None, status, after, limit).await?)
}

/// Every coupon of a mode.
pub async fn coupons(ctx: &Ctx, livemode: bool) -> Result<Vec<CouponRow>> {
    Ok(billing::list_coupons(ctx.db.reader(), livemode).await?)
}

/// Every plan of a mode, retired ones included, and the prices on sale.
pub async fn catalog(ctx: &Ctx, livemode: bool) -> Result<(Vec<PlanRow>, Vec<PriceRow>)> {
    let r = ctx.db.reader();
    Ok((catalog::plans(r, livemode, None, true).await?, catalog::prices_of(r, livemode, None, false).await?))
}
