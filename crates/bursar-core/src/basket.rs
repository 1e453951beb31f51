//! What a checkout session sells: its items, what its coupon discounts, and
//! what paying now would charge. One rule for the page's summary, the
//! invoice issued at Pay and the order's revenue split.

use crate::billing::{self, Settings};
use crate::error::{Error, Result};
use bursar_domain::catalog::TaxBehavior;
use bursar_domain::money::Currency;
use bursar_store::billing as billing_store;
use bursar_store::checkout::SessionRow;
use bursar_store::{catalog, customers, Tx};
use serde::Deserialize;

/// How long a session can be paid.
pub const SESSION_HOURS: i64 = 24;

/// A one-off item of a `payment` session.
#[derive(Debug, Clone, serde::Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Item {
    pub description: String,
    /// Default 1.
    #[serde(default = "one")]
    pub quantity: i64,
    /// Minor units of the session currency.
    pub unit_amount: i64,
    /// The course or bundle sold: set on sessions opened from a cart
    /// (`POST /v1/carts/{id}/checkout`); refused on items sent here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub course: Option<String>,
}

impl Item {
    /// What a coupon sees this item as.
    pub fn coupon_item(&self) -> bursar_domain::coupon::Item<'_> {
        match self.course.as_deref() {
            Some(id) if id.starts_with("bnd_") => bursar_domain::coupon::Item::Bundle { id },
            Some(id) => bursar_domain::coupon::Item::Course { id },
            None => bursar_domain::coupon::Item::Other,
        }
    }
}

/// What a session's coupon discounts. A coupon that covers the plan is
/// the subscription's: it discounts the plan on the first invoice and on
/// renewals for as long as its duration says. One-off items it covers are
/// discounted once, on the first invoice; beside a plan it covers, only a
/// percentage reaches them (an amount off is taken once, from the plan).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CouponTargets {
    pub plan: bool,
    /// Per item of the session.
    pub items: Vec<bool>,
}

pub fn coupon_targets(
    rules: &bursar_domain::coupon::Rules,
    plan: Option<bursar_domain::coupon::Item<'_>>,
    items: &[Item],
) -> CouponTargets {
    let plan = plan.is_some_and(|p| rules.applies_to.covers(p));
    let items_too = !plan || matches!(rules.discount, bursar_domain::coupon::Discount::Percent { .. });
    CouponTargets { plan, items: items.iter().map(|i| items_too && rules.applies_to.covers(i.coupon_item())).collect() }
}

/// A session's coupon, its rules and what it discounts.
pub struct SessionCoupon {
    pub row: billing_store::CouponRow,
    pub rules: bursar_domain::coupon::Rules,
    pub targets: CouponTargets,
}

impl SessionCoupon {
    /// The one-off items' discount: (line description, amount off).
    pub fn items_discount(&self, items: &[Item], currency: Currency) -> Result<Option<(String, i64)>> {
        let covered: i64 = items
            .iter()
            .zip(&self.targets.items)
            .filter(|(_, c)| **c)
            .map(|(i, _)| i.unit_amount.saturating_mul(i.quantity))
            .sum();
        if covered == 0 {
            return Ok(None);
        }
        let off = bursar_domain::coupon::discount_of(&self.rules.discount, currency.code(), covered)
            .map_err(|_| Error::internal())?;
        Ok((off != 0).then(|| (format!("{} ({})", self.row.name, self.row.code), off)))
    }
}

/// Loads the session's coupon (none when it has none or it is gone).
pub async fn session_coupon(conn: &mut sqlx::AnyConnection, s: &SessionRow) -> Result<Option<SessionCoupon>> {
    let Some(code) = &s.coupon else { return Ok(None) };
    let Some(row) = billing_store::coupon_by_key(&mut *conn, s.livemode, code).await? else { return Ok(None) };
    let rules: bursar_domain::coupon::Rules = serde_json::from_str(&row.rules).map_err(|_| Error::internal())?;
    let plan = match &s.plan_id {
        Some(id) => catalog::plan_by_id(&mut *conn, s.livemode, id).await?,
        None => None,
    };
    let plan_item = plan.as_ref().map(|p| bursar_domain::coupon::Item::Plan { id: &p.id, code: &p.code });
    let targets = coupon_targets(&rules, plan_item, &items_of(s));
    Ok(Some(SessionCoupon { row, rules, targets }))
}

fn one() -> i64 {
    1
}

pub fn items_of(s: &SessionRow) -> Vec<Item> {
    serde_json::from_str(&s.items).unwrap_or_default()
}
/// What a session would charge now.
pub struct Summary {
    pub currency: Currency,
    /// (description, amount in minor units)
    pub lines: Vec<(String, i64)>,
    /// All the tax, including what is inside tax-inclusive prices.
    pub tax: i64,
    /// The part of `tax` inside tax-inclusive prices (not a line).
    pub tax_included: i64,
    pub total: i64,
}

/// Prices a session as its invoice would be issued now, without writing.
/// A plan is taxed as its price says; one-off items are priced before tax.
pub async fn summarize(db: &bursar_store::Db, settings: &Settings, s: &SessionRow) -> Result<Summary> {
    let mut conn = db.reader().acquire().await?;
    summarize_in(&mut conn, settings, s).await
}

/// [`summarize`] on a connection (inside a transaction, it sees what the
/// transaction wrote).
pub async fn summarize_in(conn: &mut sqlx::AnyConnection, settings: &Settings, s: &SessionRow) -> Result<Summary> {
    let customer = customers::get(&mut *conn, s.livemode, &s.customer_id).await?.ok_or_else(Error::internal)?;
    let currency = Currency::from_code(&s.currency).map_err(|_| Error::internal())?;
    let coupon = session_coupon(conn, s).await?;
    let mut drafts = Vec::new();
    let mut parts = Vec::new();
    if let (Some(plan_id), Some(price_id)) = (&s.plan_id, &s.price_id) {
        let plan = catalog::plan_by_id(&mut *conn, s.livemode, plan_id).await?.ok_or_else(Error::internal)?;
        let price = catalog::price_by_id(&mut *conn, s.livemode, price_id).await?.ok_or_else(Error::internal)?;
        let behavior = TaxBehavior::parse(&price.tax_behavior).unwrap_or(TaxBehavior::Exclusive);
        let amount = price.amount.checked_mul(s.quantity).ok_or_else(Error::internal)?;
        let per = if price.interval == "year" { "year" } else { "month" };
        let qty = if s.quantity > 1 { format!(" × {}", s.quantity) } else { String::new() };
        drafts.push((format!("{} (per {per}){qty}", plan.name), amount));
        let mut sum = amount;
        if let Some(c) = coupon.as_ref().filter(|c| c.targets.plan) {
            let off = bursar_domain::coupon::discount_of(&c.rules.discount, currency.code(), amount)
                .map_err(|_| Error::internal())?;
            if off != 0 {
                drafts.push((format!("{} ({})", c.row.name, c.row.code), -off));
                sum -= off;
            }
        }
        parts.push((behavior, sum));
    }
    let items = items_of(s);
    if !items.is_empty() {
        let mut sum = 0i64;
        for i in &items {
            let qty = if i.quantity > 1 { format!(" × {}", i.quantity) } else { String::new() };
            let amount = i.unit_amount.saturating_mul(i.quantity);
            drafts.push((format!("{}{qty}", i.description), amount));
            sum = sum.saturating_add(amount);
        }
        if let Some((name, off)) = coupon.as_ref().map(|c| c.items_discount(&items, currency)).transpose()?.flatten() {
            drafts.push((name, -off));
            sum -= off;
        }
        parts.push((TaxBehavior::Exclusive, sum));
    }
    let decision = bursar_domain::tax::decide(&settings.tax, &billing::buyer_of(&customer));
    let (taxed, each) = bursar_domain::tax::apply_parts(&decision, &parts, currency).map_err(|_| Error::internal())?;
    let tax = taxed.taxes.iter().map(|t| t.amount_minor).sum();
    // Tax on top of prices is a line; tax inside a price is not.
    let mut tax_included = 0;
    let mut on_top: Vec<bursar_domain::tax::TaxAmount> = Vec::new();
    for ((behavior, _), t) in parts.iter().zip(&each) {
        for x in &t.taxes {
            if *behavior == TaxBehavior::Inclusive {
                tax_included += x.amount_minor;
            } else if let Some(y) = on_top.iter_mut().find(|y| y.name == x.name && y.jurisdiction == x.jurisdiction) {
                y.amount_minor += x.amount_minor;
            } else {
                on_top.push(x.clone());
            }
        }
    }
    for t in on_top.iter().filter(|t| t.amount_minor != 0) {
        drafts.push((format!("{} {}.{:02} %", t.name, t.rate_bps / 100, t.rate_bps % 100), t.amount_minor));
    }
    Ok(Summary { currency, lines: drafts, tax, tax_included, total: taxed.total_minor })
}

/// Checks the session's coupon (for the API, which names the field).
pub async fn validate_coupon(tx: &mut Tx, s: &SessionRow, now: i64) -> Result<()> {
    match &s.coupon {
        Some(code) => check_coupon(tx, s, code, now).await,
        None => Ok(()),
    }
}

/// Whether a coupon would be accepted for this session (redeemed for real
/// when the buyer pays).
pub async fn check_coupon(tx: &mut Tx, s: &SessionRow, code: &str, now: i64) -> Result<()> {
    let customer = customers::get(&mut **tx, s.livemode, &s.customer_id).await?.ok_or_else(Error::internal)?;
    let c = billing_store::coupon_by_key(&mut **tx, s.livemode, code)
        .await?
        .ok_or_else(|| Error::invalid("coupon", format!("no coupon `{code}`")))?;
    let rules: bursar_domain::coupon::Rules = serde_json::from_str(&c.rules).map_err(|_| Error::internal())?;
    let (plan_amount, plan) = match (&s.plan_id, &s.price_id) {
        (Some(plan_id), Some(price_id)) => {
            let plan = catalog::plan_by_id(&mut **tx, s.livemode, plan_id).await?.ok_or_else(Error::internal)?;
            let price = catalog::price_by_id(&mut **tx, s.livemode, price_id).await?.ok_or_else(Error::internal)?;
            (price.amount.saturating_mul(s.quantity), Some(plan))
        }
        _ => (0, None),
    };
    let items = items_of(s);
    let plan_item = plan.as_ref().map(|p| bursar_domain::coupon::Item::Plan { id: &p.id, code: &p.code });
    let t = coupon_targets(&rules, plan_item, &items);
    // Tried on the plan when it covers the plan, else on the first item it
    // covers (or on what is bought, to be refused); the minimum purchase
    // counts what it discounts.
    let first_item = items.iter().zip(&t.items).find(|(_, c)| **c).map(|(i, _)| i.coupon_item());
    let item = match (t.plan, plan_item, first_item) {
        (true, Some(p), _) => p,
        (_, _, Some(i)) => i,
        (_, Some(p), None) => p,
        (_, None, None) => items.first().map_or(bursar_domain::coupon::Item::Other, Item::coupon_item),
    };
    let covered: i64 =
        items.iter().zip(&t.items).filter(|(_, c)| **c).map(|(i, _)| i.unit_amount.saturating_mul(i.quantity)).sum();
    let item_amount = if t.plan { plan_amount } else { 0 } + covered;
    let attempt = bursar_domain::coupon::Attempt {
        now,
        item,
        currency: &s.currency,
        amount: item_amount,
        customer_redemptions: billing_store::customer_redemptions(tx, &c.id, &customer.id).await?,
        customer_has_purchased: billing_store::has_purchased(tx, &customer.id).await?,
    };
    rules.check(c.active, &attempt).map_err(|r| Error::invalid("coupon", r.to_string()))?;
    // The redemption itself is taken atomically at Pay; this only spares the
    // buyer a coupon that is already used up.
    if c.max_redemptions.is_some_and(|m| c.redemptions >= m) {
        return Err(Error::invalid("coupon", bursar_domain::coupon::Refusal::Exhausted.to_string()));
    }
    Ok(())
}

/// A new session's secret form token.
pub fn form_token() -> String {
    use rand::distr::{Alphanumeric, SampleString};
    Alphanumeric.sample_string(&mut rand::rng(), 32)
}
