//! Subscriptions as the interfaces see them: create, read and list, preview
//! and apply plan changes, cancel (with feedback and a save offer), pause,
//! resume, reactivate, and the billing run. A subscription charged through
//! an external provider stores its answer (the state as committed, with the
//! payment pending) in the business transaction; the provider is charged
//! after the commit and the stored answer refreshed.

pub mod coupons;
pub mod invoices;
pub mod portal;
pub mod portal_view;
pub mod test_clocks;

use self::invoices::Invoice;
use crate::actor::Actor;
use crate::common::{check_len, secs, List, Page};
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::idempotency::Reply;
use crate::settlement;
use bursar_domain::catalog::Interval;
use bursar_domain::id::{is_valid, new_id, IdKind};
use bursar_domain::subscription::Status;
use bursar_store::billing::{self as store, SubscriptionRow};
use bursar_store::catalog::{self, PlanRow, PriceRow};
use bursar_store::customers::{self, CustomerRow};
use bursar_store::{events, Tx};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use crate::billing::LineDraft;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Subscription {
    pub id: String,
    /// Always `subscription`.
    pub object: &'static str,
    pub livemode: bool,
    pub customer: String,
    pub plan: String,
    pub price: String,
    pub currency: String,
    pub interval: String,
    pub quantity: i64,
    /// trialing, active, past_due, paused, canceled or unpaid.
    pub status: String,
    pub current_period_start: i64,
    pub current_period_end: i64,
    pub trial_end: Option<i64>,
    pub cancel_at_period_end: bool,
    pub canceled_at: Option<i64>,
    pub pause_resumes_at: Option<i64>,
    /// A downgrade scheduled for the end of the period.
    pub pending_plan: Option<String>,
    pub pending_price: Option<String>,
    /// The coupon applied to this subscription's invoices, if any.
    pub coupon: Option<String>,
    /// Regular invoices the coupon still covers (`null` with a coupon: for ever).
    pub discount_invoices_left: Option<i64>,
    pub created: i64,
}

/// A subscription as shown.
pub fn render(s: SubscriptionRow) -> Subscription {
    Subscription {
        id: s.id,
        object: "subscription",
        livemode: s.livemode,
        customer: s.customer_id,
        plan: s.plan_id,
        price: s.price_id,
        currency: s.currency,
        interval: s.interval,
        quantity: s.quantity,
        status: s.status,
        current_period_start: secs(s.current_period_start),
        current_period_end: secs(s.current_period_end),
        trial_end: s.trial_end.map(secs),
        cancel_at_period_end: s.cancel_at_period_end,
        canceled_at: s.canceled_at.map(secs),
        pause_resumes_at: s.pause_resumes_at.map(secs),
        pending_plan: s.pending_plan_id,
        pending_price: s.pending_price_id,
        coupon: s.coupon_id,
        discount_invoices_left: s.discount_invoices_left,
        created: secs(s.created_at),
    }
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionCreate {
    /// Customer id.
    pub customer: String,
    /// Plan id or code.
    pub plan: String,
    /// `month` (default) or `year`.
    pub interval: Option<String>,
    /// ISO 4217; defaults to the customer's billing currency.
    pub currency: Option<String>,
    /// Seats; default 1.
    pub quantity: Option<i64>,
    /// Start with the plan's trial when it has one (default true).
    pub trial: Option<bool>,
    /// A coupon code to redeem for this subscription.
    pub coupon: Option<String>,
}

async fn load_customer(ctx: &Ctx, tx: &mut Tx, livemode: bool, id: &str, param: &str) -> Result<CustomerRow> {
    if !is_valid(IdKind::Customer, id) {
        return Err(Error::not_found(param, "customer", id));
    }
    customers::lock(tx, ctx.db.for_update(), livemode, id).await?;
    customers::get(&mut **tx, livemode, id)
        .await?
        .filter(|c| c.deleted_at.is_none())
        .ok_or_else(|| Error::not_found(param, "customer", id))
}

async fn load_plan(tx: &mut Tx, livemode: bool, key: &str) -> Result<PlanRow> {
    let row = if is_valid(IdKind::Plan, key) {
        catalog::plan_by_id(&mut **tx, livemode, key).await?
    } else {
        catalog::plan_by_code(&mut **tx, livemode, key).await?
    };
    row.filter(|p| p.active).ok_or_else(|| Error::not_found("plan", "plan", key))
}

/// The active price of a plan in a currency and interval, or an invalid
/// `plan` naming what is missing.
async fn price_for(tx: &mut Tx, livemode: bool, plan: &PlanRow, currency: &str, interval: &str) -> Result<PriceRow> {
    catalog::prices_of(&mut **tx, livemode, Some(&plan.id), false)
        .await?
        .into_iter()
        .find(|p| p.currency == currency && p.interval == interval)
        .ok_or_else(|| Error::invalid("plan", format!("plan `{}` has no {interval}ly price in {currency}", plan.code)))
}

fn check_quantity(q: Option<i64>) -> Result<i64> {
    match q {
        None => Ok(1),
        Some(n) if (1..=100_000).contains(&n) => Ok(n),
        Some(_) => Err(Error::invalid("quantity", "quantity must be 1 to 100000")),
    }
}

/// A subscription read committed.
async fn read(ctx: &Ctx, livemode: bool, id: &str) -> Result<Subscription> {
    let mut conn = ctx.db.reader().acquire().await?;
    let sub = store::subscription(&mut conn, livemode, id, "").await?.ok_or_else(Error::internal)?;
    Ok(render(sub))
}

/// Stores `out` for the key with the business transaction and commits,
/// charges the payments the transaction left pending at their providers,
/// and returns the answer read again (stored again) when there were any.
async fn commit_collect_reread(
    ctx: &Ctx,
    mut tx: Tx,
    reply: &Reply,
    livemode: bool,
    sub_id: &str,
    customer_id: &str,
    since: i64,
) -> Result<Subscription> {
    let pending = settlement::pending_in(&mut tx, customer_id, since).await?;
    let out = render(store::subscription(&mut tx, livemode, sub_id, "").await?.ok_or_else(Error::internal)?);
    if !settlement::commit_and_collect(ctx, tx, reply, &out, &pending).await? {
        return Ok(out);
    }
    let out = read(ctx, livemode, sub_id).await?;
    reply.refresh(ctx, &out).await;
    Ok(out)
}

/// Starts a subscription: a trial when the plan has one and it is wanted,
/// else the first period invoiced and charged.
pub async fn create(ctx: &Ctx, actor: &Actor, input: SubscriptionCreate, reply: &Reply) -> Result<Subscription> {
    let interval = Interval::parse(input.interval.as_deref().unwrap_or("month"))
        .ok_or_else(|| Error::invalid("interval", "interval must be `month` or `year`"))?;
    let quantity = check_quantity(input.quantity)?;
    let currency = match &input.currency {
        Some(c) => Some(crate::common::new_currency("currency", c)?.code().to_string()),
        None => None,
    };
    let livemode = actor.livemode;
    let mut tx = ctx.db.begin().await?;
    let customer = load_customer(ctx, &mut tx, livemode, &input.customer, "customer").await?;
    let plan = load_plan(&mut tx, livemode, &input.plan).await?;
    let currency = currency.unwrap_or_else(|| crate::customers::billing_currency_of(&customer).code().to_string());
    let price = price_for(&mut tx, livemode, &plan, &currency, interval.as_str()).await?;
    for s in store::subscriptions_of(&mut *tx, livemode, &customer.id).await? {
        let live = Status::parse(&s.status).is_some_and(|st| !st.is_terminal());
        let same_product =
            catalog::plan_by_id(&mut *tx, livemode, &s.plan_id).await?.is_some_and(|p| p.product_id == plan.product_id);
        if live && same_product {
            return Err(Error::conflict(
                "subscription_exists",
                format!("customer already has subscription {} to this product; change its plan instead", s.id),
            )
            .with_param("customer"));
        }
    }
    let now = crate::billing::now_for(&mut tx, &customer, ctx.now_ms()).await?;
    let sub = crate::billing::create(
        &mut tx,
        &ctx.billing_settings(),
        &customer,
        &plan,
        &price,
        quantity,
        input.trial.unwrap_or(true),
        input.coupon.as_deref(),
        now,
    )
    .await?;
    commit_collect_reread(ctx, tx, reply, livemode, &sub.id, &customer.id, now).await
}

/// Which subscriptions to list.
#[derive(Debug, Clone, Default)]
pub struct SubscriptionFilter {
    pub customer: Option<String>,
    pub status: Option<String>,
}

/// Subscriptions, newest first.
pub async fn list(ctx: &Ctx, actor: &Actor, filter: &SubscriptionFilter, page: &Page) -> Result<List<Subscription>> {
    if let Some(s) = &filter.status {
        if Status::parse(s).is_none() {
            return Err(Error::invalid("status", format!("unknown status `{s}`")));
        }
    }
    let rows = list_rows(ctx, actor.livemode, filter, page).await?;
    Ok(List::from_rows(rows, page.limit).map(render))
}

/// Up to `page.limit + 1` subscription rows, newest first.
pub(crate) async fn list_rows(
    ctx: &Ctx,
    livemode: bool,
    filter: &SubscriptionFilter,
    page: &Page,
) -> Result<Vec<SubscriptionRow>> {
    Ok(store::list_subscriptions(
        ctx.db.reader(),
        livemode,
        filter.customer.as_deref(),
        filter.status.as_deref(),
        page.starting_after.as_deref(),
        page.limit + 1,
    )
    .await?)
}

/// One subscription.
pub async fn get(ctx: &Ctx, actor: &Actor, id: &str) -> Result<Subscription> {
    if !is_valid(IdKind::Subscription, id) {
        return Err(Error::not_found("id", "subscription", id));
    }
    let mut conn = ctx.db.reader().acquire().await?;
    let sub = store::subscription(&mut conn, actor.livemode, id, "")
        .await?
        .ok_or_else(|| Error::not_found("id", "subscription", id))?;
    Ok(render(sub))
}

async fn lock_sub(ctx: &Ctx, tx: &mut Tx, livemode: bool, id: &str) -> Result<SubscriptionRow> {
    if !is_valid(IdKind::Subscription, id) {
        return Err(Error::not_found("id", "subscription", id));
    }
    store::subscription(tx, livemode, id, ctx.db.for_update())
        .await?
        .ok_or_else(|| Error::not_found("id", "subscription", id))
}

/// Locks the subscription, brings it up to its customer's now, and returns
/// both.
async fn current(ctx: &Ctx, tx: &mut Tx, actor: &Actor, id: &str) -> Result<(SubscriptionRow, CustomerRow, i64)> {
    let mut sub = lock_sub(ctx, tx, actor.livemode, id).await?;
    let customer = customers::get(&mut **tx, actor.livemode, &sub.customer_id).await?.ok_or_else(Error::internal)?;
    // A learner acts on their own subscriptions only.
    if actor.kind == "learner" && customer.id != actor.id {
        return Err(Error::not_found("id", "subscription", id));
    }
    let now = crate::billing::now_for(tx, &customer, ctx.now_ms()).await?;
    crate::billing::advance(tx, &ctx.billing_settings(), &mut sub, now).await?;
    Ok((sub, customer, now))
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionChange {
    /// Plan id or code to move to (the current plan for a quantity change).
    pub plan: Option<String>,
    pub quantity: Option<i64>,
    /// Apply at the end of the period instead of now (downgrades).
    pub at_period_end: Option<bool>,
    /// A coupon code to redeem with the change (applies to the proration and the following invoices).
    pub coupon: Option<String>,
}

/// One line a change would invoice, with its period in Unix seconds like
/// every other time of the API.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChangeLine {
    /// `plan`, `proration`, `discount`, `tax` or `usage`.
    pub kind: &'static str,
    pub description: String,
    pub quantity: i64,
    pub unit_amount: i64,
    pub amount: i64,
    pub price_id: Option<String>,
    pub period_start: Option<i64>,
    pub period_end: Option<i64>,
}

impl From<LineDraft> for ChangeLine {
    fn from(l: LineDraft) -> ChangeLine {
        ChangeLine {
            kind: l.kind,
            description: l.description,
            quantity: l.quantity,
            unit_amount: l.unit_amount,
            amount: l.amount,
            price_id: l.price_id,
            period_start: l.period_start.map(secs),
            period_end: l.period_end.map(secs),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChangePreview {
    /// Always `subscription_change_preview`.
    pub object: &'static str,
    pub currency: String,
    pub lines: Vec<ChangeLine>,
    /// Net of tax.
    pub subtotal: i64,
    pub tax: i64,
    /// What the invoice would total; negative means a credit to the customer's balance.
    pub total: i64,
    /// Credit balance that would be applied first.
    pub credit_applied: i64,
    /// What would be charged now.
    pub amount_due: i64,
    /// Unix seconds the preview is computed at.
    pub proration_date: i64,
}

async fn change_target(
    tx: &mut Tx,
    livemode: bool,
    sub: &SubscriptionRow,
    input: &SubscriptionChange,
) -> Result<(PlanRow, PriceRow, i64)> {
    let quantity = match input.quantity {
        None => sub.quantity,
        q => check_quantity(q)?,
    };
    let plan = match &input.plan {
        None => catalog::plan_by_id(&mut **tx, livemode, &sub.plan_id).await?.ok_or_else(Error::internal)?,
        Some(p) => load_plan(tx, livemode, p).await?,
    };
    let price = price_for(tx, livemode, &plan, &sub.currency, &sub.interval).await?;
    if price.id == sub.price_id && quantity == sub.quantity {
        return Err(Error::invalid("plan", "the subscription is already on this plan and quantity"));
    }
    let status = Status::parse(&sub.status).ok_or_else(Error::internal)?;
    if !matches!(status, Status::Trialing | Status::Active) {
        return Err(Error::invalid("id", format!("a {} subscription cannot change plan", status.as_str())));
    }
    Ok((plan, price, quantity))
}

/// Redeems the change's coupon in the transaction, when it names one.
#[allow(clippy::too_many_arguments)]
async fn redeem_for_change(
    tx: &mut Tx,
    customer: &CustomerRow,
    sub: &mut SubscriptionRow,
    input: &SubscriptionChange,
    plan: &PlanRow,
    price: &PriceRow,
    quantity: i64,
    now: i64,
) -> Result<()> {
    if let Some(code) = &input.coupon {
        if sub.coupon_id.is_some() {
            return Err(Error::invalid("coupon", "the subscription already has a coupon"));
        }
        let amount =
            price.amount.checked_mul(quantity).ok_or_else(|| Error::invalid("quantity", "amount out of range"))?;
        crate::billing::redeem(tx, customer, sub, code, plan, amount, now).await?;
    }
    Ok(())
}

/// What a change would invoice now, without changing anything.
pub async fn preview_change(ctx: &Ctx, actor: &Actor, id: &str, input: &SubscriptionChange) -> Result<ChangePreview> {
    let mut tx = ctx.db.begin().await?;
    let (mut sub, customer, now) = current(ctx, &mut tx, actor, id).await?;
    let (plan, price, quantity) = change_target(&mut tx, actor.livemode, &sub, input).await?;
    // The coupon is checked and redeemed as the change would, inside this
    // transaction, so the discount shows and a coupon that would be refused
    // is refused here too.
    redeem_for_change(&mut tx, &customer, &mut sub, input, &plan, &price, quantity, now).await?;
    let out = if input.at_period_end.unwrap_or(false) || sub.status == Status::Trialing.as_str() {
        ChangePreview {
            object: "subscription_change_preview",
            currency: sub.currency.clone(),
            lines: Vec::new(),
            subtotal: 0,
            tax: 0,
            total: 0,
            credit_applied: 0,
            amount_due: 0,
            proration_date: secs(now),
        }
    } else {
        let settings = ctx.billing_settings();
        let (inv, lines) =
            crate::billing::preview_change(&mut tx, &settings, &mut sub, &customer, &plan, &price, quantity, now)
                .await?;
        ChangePreview {
            object: "subscription_change_preview",
            currency: inv.currency,
            lines: lines.into_iter().map(ChangeLine::from).collect(),
            subtotal: inv.subtotal,
            tax: inv.tax,
            total: inv.total,
            credit_applied: inv.credit_applied,
            amount_due: inv.amount_due,
            proration_date: secs(now),
        }
    };
    // A preview changes nothing: the transaction (which may have caught the
    // subscription up to now, and redeemed the coupon) is rolled back.
    drop(tx);
    Ok(out)
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChangeResult {
    pub subscription: Subscription,
    /// The proration invoice, when the change applied now.
    pub invoice: Option<Invoice>,
}

/// Changes a subscription's plan or quantity: now with a proration invoice,
/// or at the period's end.
pub async fn change(
    ctx: &Ctx,
    actor: &Actor,
    id: &str,
    input: &SubscriptionChange,
    reply: &Reply,
) -> Result<ChangeResult> {
    let livemode = actor.livemode;
    let mut tx = ctx.db.begin().await?;
    let (mut sub, customer, now) = current(ctx, &mut tx, actor, id).await?;
    let (plan, price, quantity) = change_target(&mut tx, livemode, &sub, input).await?;
    redeem_for_change(&mut tx, &customer, &mut sub, input, &plan, &price, quantity, now).await?;
    let invoice = if input.at_period_end.unwrap_or(false) {
        if quantity != sub.quantity {
            return Err(Error::invalid("quantity", "quantity changes apply now; leave out at_period_end"));
        }
        sub.pending_plan_id = Some(plan.id.clone());
        sub.pending_price_id = Some(price.id.clone());
        sub.updated_at = now;
        store::save_subscription(&mut tx, &sub).await?;
        None
    } else {
        crate::billing::change_now(&mut tx, &ctx.billing_settings(), &mut sub, &plan, &price, quantity, now).await?
    };
    let pending = settlement::pending_in(&mut tx, &customer.id, now).await?;
    let shown = render(store::subscription(&mut tx, livemode, &sub.id, "").await?.ok_or_else(Error::internal)?);
    let invoice_id = invoice.map(|i| i.id);
    let shown_invoice = match &invoice_id {
        Some(i) => Some(invoices::shown_by_id(&mut tx, livemode, i).await?),
        None => None,
    };
    let out = ChangeResult { subscription: shown, invoice: shown_invoice };
    if !settlement::commit_and_collect(ctx, tx, reply, &out, &pending).await? {
        return Ok(out);
    }
    let invoice = match &invoice_id {
        Some(i) => Some(invoices::get(ctx, actor, i).await?),
        None => None,
    };
    let out = ChangeResult { subscription: read(ctx, livemode, &sub.id).await?, invoice };
    reply.refresh(ctx, &out).await;
    Ok(out)
}

/// Reasons a learner gives for leaving.
pub const REASONS: &[&str] = &[
    "too_expensive",
    "missing_features",
    "switched_service",
    "unused",
    "customer_service",
    "too_complex",
    "low_quality",
    "other",
];

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionCancel {
    /// Cancel at the end of the period (default) or now.
    pub at_period_end: Option<bool>,
    /// too_expensive, missing_features, switched_service, unused, customer_service, too_complex, low_quality, other.
    pub reason: Option<String>,
    pub comments: Option<String>,
    pub would_return: Option<bool>,
    /// Cancel even though a save offer applies.
    pub decline_offer: Option<bool>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SaveOffer {
    /// `pause`.
    #[serde(rename = "type")]
    pub offer_type: &'static str,
    /// Pause lengths on offer, in months.
    pub months: Vec<u32>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CancelResult {
    /// `canceled`, `scheduled` (at period end) or `offer` (nothing changed; a save offer is made).
    pub outcome: &'static str,
    pub offer: Option<SaveOffer>,
    pub subscription: Subscription,
}

/// Cancels a subscription with the learner's feedback, or answers with a
/// save offer. Staff cancellations are written to the audit log.
pub async fn cancel(
    ctx: &Ctx,
    actor: &Actor,
    id: &str,
    input: &SubscriptionCancel,
    reply: &Reply,
) -> Result<CancelResult> {
    if let Some(r) = &input.reason {
        if !REASONS.contains(&r.as_str()) {
            return Err(Error::invalid("reason", format!("unknown reason `{r}`; one of {}", REASONS.join(", "))));
        }
    }
    check_len("comments", &input.comments, 2000)?;
    let mut tx = ctx.db.begin().await?;
    let (mut sub, _customer, now) = current(ctx, &mut tx, actor, id).await?;
    let at_period_end = input.at_period_end.unwrap_or(true);
    let offer_applies = input.reason.as_deref() == Some("too_expensive")
        && !input.decline_offer.unwrap_or(false)
        && sub.status == Status::Active.as_str();
    let outcome = if offer_applies {
        "offer"
    } else {
        crate::billing::cancel(&mut tx, &mut sub, at_period_end, now).await?;
        if at_period_end {
            "scheduled"
        } else {
            "canceled"
        }
    };
    if let Some(reason) = &input.reason {
        store::insert_feedback(
            &mut tx,
            &new_id(IdKind::Feedback),
            actor.livemode,
            &sub.id,
            reason,
            input.comments.as_deref(),
            input.would_return,
            offer_applies.then_some("pause"),
            outcome,
            now,
        )
        .await?;
    }
    let out = CancelResult {
        outcome,
        offer: offer_applies.then(|| SaveOffer { offer_type: "pause", months: vec![1, 2, 3] }),
        subscription: render(sub),
    };
    if actor.kind == "staff" {
        let action = if at_period_end { "subscription.cancel_scheduled" } else { "subscription.canceled" };
        let details = serde_json::json!({"status": out.subscription.status, "outcome": out.outcome});
        events::audit(&mut tx, "staff", &actor.id, action, Some(id), &details, ctx.now_ms()).await?;
    }
    reply.commit(tx, &out).await?;
    Ok(out)
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionPause {
    /// 1 to 3.
    pub months: u32,
}

/// Pauses a subscription for 1 to 3 months.
pub async fn pause(ctx: &Ctx, actor: &Actor, id: &str, months: u32, reply: &Reply) -> Result<Subscription> {
    let mut tx = ctx.db.begin().await?;
    let (mut sub, _customer, now) = current(ctx, &mut tx, actor, id).await?;
    crate::billing::pause(&mut tx, &ctx.billing_settings(), &mut sub, months, now).await?;
    let out = render(sub);
    reply.commit(tx, &out).await?;
    Ok(out)
}

/// Resumes a paused subscription now: the new period is invoiced and
/// charged.
pub async fn resume(ctx: &Ctx, actor: &Actor, id: &str, reply: &Reply) -> Result<Subscription> {
    let mut tx = ctx.db.begin().await?;
    let (mut sub, customer, now) = current(ctx, &mut tx, actor, id).await?;
    if sub.status != Status::Paused.as_str() {
        return Err(Error::invalid("id", format!("a {} subscription cannot be resumed", sub.status)));
    }
    sub.pause_resumes_at = Some(now);
    crate::billing::advance(&mut tx, &ctx.billing_settings(), &mut sub, now).await?;
    commit_collect_reread(ctx, tx, reply, actor.livemode, &sub.id, &customer.id, now).await
}

/// Takes back a scheduled cancellation, or starts a canceled subscription
/// again. Staff reactivations are written to the audit log.
pub async fn reactivate(ctx: &Ctx, actor: &Actor, id: &str, reply: &Reply) -> Result<Subscription> {
    let mut tx = ctx.db.begin().await?;
    let (mut sub, _customer, now) = current(ctx, &mut tx, actor, id).await?;
    if sub.cancel_at_period_end {
        sub.cancel_at_period_end = false;
        sub.updated_at = now;
        store::save_subscription(&mut tx, &sub).await?;
    } else if sub.status == Status::Canceled.as_str() {
        crate::billing::reactivate(&mut tx, &ctx.billing_settings(), &mut sub, now).await?;
    } else {
        return Err(Error::invalid(
            "id",
            format!("a {} subscription not set to cancel has nothing to reactivate", sub.status),
        ));
    }
    let out = render(sub);
    if actor.kind == "staff" {
        let details = serde_json::json!({"status": out.status});
        events::audit(&mut tx, "staff", &actor.id, "subscription.reactivated", Some(id), &details, ctx.now_ms())
            .await?;
    }
    reply.commit(tx, &out).await?;
    Ok(out)
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BillingRun {
    /// Always `billing_run`.
    pub object: &'static str,
    /// Period boundaries processed (renewals, trial ends, cancellations, resumptions).
    pub processed: u32,
}

/// Runs the billing of every due subscription (up to 500 boundaries).
pub async fn run_billing(ctx: &Ctx, _actor: &Actor) -> Result<BillingRun> {
    let processed = crate::billing_run::run_due(&ctx.db, &ctx.billing_settings(), ctx.now_ms(), None, 500).await?;
    Ok(BillingRun { object: "billing_run", processed })
}
