//! Choosing a plan to subscribe to (by code or id, interval, seats, in a
//! currency), shared by checkout sessions and carts.

use crate::error::{Error, Result};
use bursar_domain::id::{is_valid, IdKind};
use bursar_store::catalog;

/// The fields a plan choice's errors name.
pub struct PlanFields {
    pub plan: &'static str,
    pub interval: &'static str,
    pub quantity: &'static str,
    /// Where "no price in this currency" points.
    pub currency: &'static str,
}

impl PlanFields {
    pub const CHECKOUT: PlanFields =
        PlanFields { plan: "plan", interval: "interval", quantity: "quantity", currency: "currency" };
}

/// A plan chosen to subscribe to, by code or id: offered, with a price for
/// the interval (`month` by default) in the currency, not free, and 1 to
/// 10,000 seats (1 by default).
pub async fn choose_plan(
    conn: &mut sqlx::AnyConnection,
    livemode: bool,
    key: &str,
    interval: Option<&str>,
    quantity: Option<i64>,
    currency: &str,
    f: &PlanFields,
) -> Result<(catalog::PlanRow, catalog::PriceRow, i64)> {
    let plan = if is_valid(IdKind::Plan, key) {
        catalog::plan_by_id(&mut *conn, livemode, key).await?
    } else {
        catalog::plan_by_code(&mut *conn, livemode, key).await?
    }
    .ok_or_else(|| Error::not_found(f.plan, "plan", key))?;
    if !plan.active {
        return Err(Error::invalid(f.plan, format!("plan `{}` is no longer offered", plan.code)));
    }
    let interval = interval.unwrap_or("month");
    if !matches!(interval, "month" | "year") {
        return Err(Error::invalid(f.interval, "interval must be `month` or `year`"));
    }
    let quantity = quantity.unwrap_or(1);
    if !(1..=10_000).contains(&quantity) {
        return Err(Error::invalid(f.quantity, "quantity is 1 to 10000"));
    }
    let price = catalog::prices_of(&mut *conn, livemode, Some(&plan.id), false)
        .await?
        .into_iter()
        .find(|p| p.currency == currency && p.interval == interval)
        .ok_or_else(|| {
            Error::invalid(f.currency, format!("plan `{}` has no {interval}ly price in {currency}", plan.code))
        })?;
    if price.amount == 0 {
        return Err(Error::invalid(f.plan, "a free plan needs no checkout; create the subscription directly"));
    }
    Ok((plan, price, quantity))
}
