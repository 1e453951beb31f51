//! What the billing portal shows a signed-in learner: their plans with the
//! moves open to them, usage against limits, invoices, saved cards and
//! credit, and the upgrade prompt's answer. Reads only; every change the
//! portal makes goes through the subscription and payment operations.

use crate::auth::sha256_hex;
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::usage;
use crate::usage::entitlements::{metric_state, Entitlement};
use bursar_domain::catalog::Limit;
use bursar_domain::subscription::Status;
use bursar_store::billing as billing_store;
use bursar_store::catalog::{self, PlanRow};
use bursar_store::customers::{self, CustomerRow};
use bursar_store::{dunning, portal};

pub use bursar_store::billing::{InvoiceRow, SubscriptionRow};
pub use bursar_store::dunning::PaymentMethodRow;
pub use bursar_store::portal::PortalSessionRow;

/// The unexpired portal session a token opens, if any.
pub async fn signed_in(ctx: &Ctx, token: &str) -> Result<Option<PortalSessionRow>> {
    Ok(portal::session(ctx.db.reader(), &sha256_hex(token.as_bytes()), ctx.now_ms()).await?)
}

/// The learner a session is for.
pub async fn learner(ctx: &Ctx, s: &PortalSessionRow) -> Result<CustomerRow> {
    customers::get(ctx.db.reader(), s.livemode, &s.customer_id).await?.ok_or_else(Error::internal)
}

/// One of the learner's own subscriptions; `None` for anyone else's.
pub async fn own_subscription(ctx: &Ctx, s: &PortalSessionRow, id: &str) -> Result<Option<SubscriptionRow>> {
    let sub = crate::browse::subscription_row(ctx, s.livemode, id).await?;
    Ok(sub.filter(|x| x.customer_id == s.customer_id))
}

/// Whether an invoice is the learner's own.
pub async fn owns_invoice(ctx: &Ctx, s: &PortalSessionRow, id: &str) -> Result<bool> {
    let inv = billing_store::invoice(ctx.db.reader(), s.livemode, id).await?;
    Ok(inv.is_some_and(|i| i.customer_id == s.customer_id))
}

/// The plan a subscription is on.
pub async fn plan_of(ctx: &Ctx, sub: &SubscriptionRow) -> Result<Option<PlanRow>> {
    Ok(catalog::plan_by_id(ctx.db.reader(), sub.livemode, &sub.plan_id).await?)
}

/// A move from a subscription's plan to the plan `code`.
pub struct PlanMove {
    pub from: Option<PlanRow>,
    pub to: PlanRow,
    /// A move to a lower-ranked plan waits for the period's end; anything
    /// else applies now with a proration invoice.
    pub at_period_end: bool,
}

/// How the portal moves a subscription to plan `code` (404 on `plan`).
pub async fn plan_move(ctx: &Ctx, sub: &SubscriptionRow, code: &str) -> Result<PlanMove> {
    let to = catalog::plan_by_code(ctx.db.reader(), sub.livemode, code)
        .await?
        .ok_or_else(|| Error::not_found("plan", "plan", code))?;
    let from = plan_of(ctx, sub).await?;
    let at_period_end = from.as_ref().is_some_and(|f| to.rank < f.rank);
    Ok(PlanMove { from, to, at_period_end })
}

/// A plan the learner may move to, priced for their subscription.
pub struct PlanOption {
    pub code: String,
    pub name: String,
    /// Per interval, for the subscription's quantity, minor units of its currency.
    pub amount: i64,
}

/// A subscription the learner holds (one that grants access, or is paused).
pub struct Held {
    pub sub: SubscriptionRow,
    pub plan: Option<PlanRow>,
    /// Per interval, for its quantity, minor units of its currency.
    pub amount: i64,
    pub options: Vec<PlanOption>,
}

/// Usage of a capped metric this period.
pub struct UsageLine {
    pub name: String,
    pub used: i64,
    pub limit: Limit,
}

/// Everything on the portal's home page.
pub struct Home {
    pub customer: CustomerRow,
    /// The currency the learner is billed in, and their credit in it.
    pub currency: String,
    pub credit: i64,
    pub held: Vec<Held>,
    pub usage: Vec<UsageLine>,
    /// Numbered invoices, newest first.
    pub invoices: Vec<InvoiceRow>,
    pub methods: Vec<PaymentMethodRow>,
}

/// The portal's home page for a session.
pub async fn home(ctx: &Ctx, s: &PortalSessionRow) -> Result<Home> {
    let r = ctx.db.reader();
    let customer = learner(ctx, s).await?;
    let mut tx = ctx.db.begin().await?;
    let now = crate::billing::now_for(&mut tx, &customer, ctx.now_ms()).await?;
    let currency = crate::customers::billing_currency_of(&customer).code().to_string();
    let credit = crate::billing::credit_balance(&mut tx, s.livemode, &customer.id, &currency).await?;
    drop(tx);

    let plans = catalog::plans(r, s.livemode, None, false).await?;
    let prices = catalog::prices_of(r, s.livemode, None, false).await?;
    let mut held = Vec::new();
    for sub in billing_store::subscriptions_of(r, s.livemode, &customer.id).await? {
        if !Status::parse(&sub.status).is_some_and(|st| st.grants_access() || st == Status::Paused) {
            continue;
        }
        let plan = plans.iter().find(|p| p.id == sub.plan_id).cloned();
        let price = catalog::price_by_id(r, s.livemode, &sub.price_id).await?;
        let amount = price.as_ref().map_or(0, |p| p.amount.saturating_mul(sub.quantity));
        let options = plans
            .iter()
            .filter(|p| p.id != sub.plan_id && plan.as_ref().is_none_or(|c| c.product_id == p.product_id))
            .filter_map(|p| {
                let pr = prices
                    .iter()
                    .find(|x| x.plan_id == p.id && x.currency == sub.currency && x.interval == sub.interval)?;
                Some(PlanOption {
                    code: p.code.clone(),
                    name: p.name.clone(),
                    amount: pr.amount.saturating_mul(sub.quantity),
                })
            })
            .collect();
        held.push(Held { sub, plan, amount, options });
    }

    // Usage against the current plan's limits, this period.
    let current = usage::current_plan(&ctx.db, s.livemode, &customer.id).await?;
    let mut lines = Vec::new();
    for m in usage::metrics::rows(ctx, s.livemode).await?.iter().filter(|m| m.limit_key.is_some()) {
        let limit = usage::limit_for(m, current.as_ref().map(|c| &c.1));
        let (start, _) = usage::period_of(m, current.as_ref().map(|c| &c.0), now)?;
        let used = usage::used(r, m, &customer.id, start).await?;
        lines.push(UsageLine { name: m.name.clone(), used, limit });
    }

    let invoices = billing_store::list_invoices(r, s.livemode, Some(&customer.id), None, None, 24)
        .await?
        .into_iter()
        .filter(|i| i.number.is_some())
        .collect();
    let methods = dunning::methods_of(r, &customer.id).await?;
    Ok(Home { customer, currency, credit, held, usage: lines, invoices, methods })
}

/// What the upgrade prompt says about a metric or a feature.
pub enum Reached {
    /// A metric: its name and the learner's entitlement now.
    Metric { name: String, entitlement: Box<Entitlement> },
    /// A plan flag: the plan that includes it, when the learner's does not.
    Feature { flag: String, upgrade: Option<Box<PlanRow>> },
}

/// The upgrade prompt's facts.
pub struct Prompt {
    pub customer: CustomerRow,
    /// The subscription an upgrade would change, if the learner has one.
    pub subscription: Option<String>,
    pub reached: Reached,
}

/// What a learner reached (`metric` or `feature`) and the plan that lifts it.
pub async fn prompt(ctx: &Ctx, s: &PortalSessionRow, metric: Option<&str>, feature: Option<&str>) -> Result<Prompt> {
    let customer = learner(ctx, s).await?;
    let current = usage::current_plan(&ctx.db, s.livemode, &customer.id).await?;
    let reached = match (metric, feature) {
        (Some(m), _) => {
            let metric = usage::load_metric(ctx, s.livemode, m, "metric").await?;
            let (e, _, _) = metric_state(ctx, s.livemode, &customer, &metric, 1).await?;
            Reached::Metric { name: metric.name, entitlement: Box::new(e) }
        }
        (None, Some(f)) => {
            let plan = current.as_ref().map(|c| &c.1);
            let upgrade = if usage::has_flag(plan, f) {
                None
            } else {
                usage::upgrade_for_flag(&ctx.db, s.livemode, f, plan).await?.map(Box::new)
            };
            Reached::Feature { flag: f.to_string(), upgrade }
        }
        _ => return Err(Error::invalid("metric", "give metric or feature")),
    };
    Ok(Prompt { customer, subscription: current.map(|(sub, _)| sub.id), reached })
}
