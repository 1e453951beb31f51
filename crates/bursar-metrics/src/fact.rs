//! The one stream of subscription facts the engine reads.
//!
//! Two sources map onto it: the history import ([`mod@crate::import`], through
//! [`from_import_event`]) and Bursar's own billing. A fact says what
//! happened, resolved enough that the engine needs no lookups beyond the
//! catalog's exchange rates and free plan:
//!
//! * **Time** is UTC epoch seconds ([`Fact::ts`]); a fact takes effect at its
//!   timestamp. Facts of one customer that share a timestamp are one step:
//!   the engine applies them in the order given and classifies the net MRR
//!   change once. Give a customer's facts in causal order.
//! * **Prices** are resolved: a new subscription or a plan change carries
//!   its unit amount (minor units of the subscription currency, before tax
//!   and discount), its quantity and its interval in months.
//! * **Discounts** carry their terms ([`Discount`]): the engine decides from
//!   them which service periods they apply to.
//! * **Status changes** are the facts themselves: `Paused` means the
//!   subscription is paused from `ts` on, `Canceled` that it has ended.
//!   Requests and announcements (`CancelRequested`, [`FactKind::Note`]) never
//!   change MRR.
//!
//! Mapping Bursar's billing: a subscription's creation, trial end, renewal
//! (one `Renewed` per new service period), plan or seat change *when it takes
//! effect*, coupon application, pause, resume, dunning start (`PastDue`),
//! successful retry (`Recovered`), end (`Canceled`, also when dunning gives
//! up), scheduled-cancellation request and withdrawal, paid and failed
//! invoices, refunds, sign-ups, funnel steps and staff-entered marketing
//! spend each become one fact.

use std::borrow::Cow;

use bursar_domain::money::Currency;
use serde::{Deserialize, Serialize};

use crate::catalog::Catalog;
pub use crate::catalog::{DiscountDuration, DiscountOff};
use crate::event::{Effective, EventBody, ImportEvent, TrialOutcomeName};
use crate::time::Month;
use crate::MetricsError;

/// One fact: when, whose, what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fact {
    /// UTC epoch seconds.
    pub ts: i64,
    /// The customer; `None` only for staff facts such as marketing spend.
    pub customer_id: Option<String>,
    pub kind: FactKind,
}

/// A service period `[start, end)`; `end` may be unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    pub start: i64,
    pub end: Option<i64>,
}

/// How a subscription starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StartStatus {
    Trialing,
    Active,
    /// Created with its first charge failed (dunning running).
    PastDue,
}

/// How a trial ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrialOutcome {
    /// Converted and its first invoice was paid.
    Converted,
    /// Converted, but the first charge failed: past_due, counting in MRR.
    PastDue,
    /// Ended without converting.
    Expired,
}

/// A coupon as applied to one subscription.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Discount {
    pub coupon_id: String,
    pub off: DiscountOff,
    pub duration: DiscountDuration,
    /// The start of the first service period it may apply to (for a trial,
    /// the trial end).
    pub start: i64,
}

/// A new subscription.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewSubscription {
    pub subscription_id: String,
    pub plan_id: String,
    pub currency: Currency,
    pub quantity: i64,
    pub unit_amount_minor: i64,
    pub interval_months: u32,
    pub status: StartStatus,
    /// `(trial start, trial end)` for a trialing subscription.
    pub trial: Option<(i64, Option<i64>)>,
    /// The first service period (absent while trialing).
    pub period: Option<Period>,
    pub discount: Option<Discount>,
}

/// An invoice, paid or failed. Amounts in minor units of `currency`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceFact {
    pub invoice_id: String,
    pub subscription_id: Option<String>,
    pub currency: Currency,
    /// Tax included.
    pub total_minor: i64,
    pub tax_minor: i64,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum FactKind {
    /// An account was created (a lead until its MRR is first > 0).
    SignedUp {
        country: Option<String>,
        currency: Option<Currency>,
        channel: Option<String>,
    },
    /// A funnel or product event such as `pricing_page.viewed`.
    Step {
        name: String,
    },
    SubscriptionCreated(NewSubscription),
    /// The trial ended; `period` is the first paid period when it converted.
    TrialEnded {
        subscription_id: String,
        outcome: TrialOutcome,
        period: Option<Period>,
    },
    /// A new service period started.
    Renewed {
        subscription_id: String,
        period: Period,
    },
    /// The plan, price, interval or quantity changed. A missing unit amount
    /// is the catalog price of `plan_id` in the subscription's currency.
    /// `clear_discount` drops any discount; `period` is a new billing anchor
    /// if there is one. It takes effect at `ts`, except that a change marked
    /// `at_period_end` whose `ts` falls strictly inside the current period
    /// (and brings no new period) waits for the subscription's next
    /// `Renewed`.
    PlanChanged {
        subscription_id: String,
        plan_id: String,
        unit_amount_minor: Option<i64>,
        interval_months: u32,
        quantity: Option<i64>,
        clear_discount: bool,
        period: Option<Period>,
        at_period_end: bool,
    },
    /// The seat count changed (with `at_period_end`, as for `PlanChanged`).
    /// `None` subscription: the customer's only live one.
    QuantityChanged {
        subscription_id: Option<String>,
        quantity: i64,
        at_period_end: bool,
    },
    /// A discount applies from its `start`, replacing any earlier one from
    /// then on.
    DiscountApplied {
        subscription_id: String,
        discount: Discount,
    },
    /// The subscription is paused (0 MRR; the customer stays active).
    Paused {
        subscription_id: Option<String>,
    },
    /// The subscription resumed, usually with a new billing anchor.
    Resumed {
        subscription_id: Option<String>,
        period: Option<Period>,
    },
    /// A charge failed and dunning started; still counts in MRR.
    PastDue {
        subscription_id: String,
    },
    /// A retry succeeded.
    Recovered {
        subscription_id: String,
    },
    /// The subscription ended now (immediate cancellation, the end of a
    /// period it was set to cancel at, or dunning giving up).
    Canceled {
        subscription_id: String,
        reason: Option<String>,
    },
    /// A cancellation was requested; changes nothing by itself. With
    /// `at_period_end` it is scheduled churn until it happens or is withdrawn.
    CancelRequested {
        subscription_id: String,
        at_period_end: bool,
        effective_at: Option<i64>,
    },
    /// A scheduled cancellation was withdrawn.
    CancelWithdrawn {
        subscription_id: String,
    },
    InvoicePaid(InvoiceFact),
    PaymentFailed(InvoiceFact),
    /// Money returned (tax included). Never changes MRR; with
    /// `cancels_subscription` the subscription also ends now.
    Refunded {
        refund_id: String,
        subscription_id: Option<String>,
        currency: Currency,
        amount_minor: i64,
        cancels_subscription: bool,
    },
    /// Acquisition spend entered by staff, for CAC.
    MarketingSpend {
        month: Month,
        channel: Option<String>,
        currency: Currency,
        amount_minor: i64,
    },
    /// A known announcement or survey (`subscription.downgrade_scheduled`,
    /// `subscription.cancel_flow`, …): no state change, but an event a
    /// strict-order funnel sees.
    Note {
        name: String,
    },
    /// An event type this engine does not know: kept, ignored.
    Unknown {
        name: String,
    },
}

impl FactKind {
    /// The event name of a kind whose name does not depend on its fields.
    fn fixed_name(&self) -> Option<&'static str> {
        Some(match self {
            FactKind::SignedUp { .. } => "user.signed_up",
            FactKind::SubscriptionCreated(_) => "subscription.created",
            FactKind::TrialEnded { .. } => "subscription.trial_ended",
            FactKind::Renewed { .. } => "subscription.renewed",
            FactKind::PlanChanged { .. } => "subscription.plan_changed",
            FactKind::QuantityChanged { .. } => "subscription.quantity_changed",
            FactKind::DiscountApplied { .. } => "subscription.discount_applied",
            FactKind::Paused { .. } => "subscription.paused",
            FactKind::Resumed { .. } => "subscription.resumed",
            FactKind::PastDue { .. } => "subscription.past_due",
            FactKind::Recovered { .. } => "subscription.recovered",
            FactKind::Canceled { .. } => "subscription.canceled",
            FactKind::CancelRequested { .. } => "subscription.cancel_requested",
            FactKind::CancelWithdrawn { .. } => "subscription.cancel_unscheduled",
            FactKind::InvoicePaid(_) => "invoice.paid",
            FactKind::PaymentFailed(_) => "invoice.payment_failed",
            FactKind::Refunded { .. } => "refund.created",
            FactKind::MarketingSpend { .. } => "marketing_spend.recorded",
            FactKind::Step { .. } | FactKind::Note { .. } | FactKind::Unknown { .. } => return None,
        })
    }
}

impl Fact {
    /// The event name this fact answers to in funnels (`user.signed_up`,
    /// `subscription.created`, …); `None` for unknown events, which funnels
    /// ignore.
    pub fn event_name(&self) -> Option<&str> {
        match &self.kind {
            FactKind::Step { name } | FactKind::Note { name } => Some(name),
            k => k.fixed_name(),
        }
    }

    /// [`Fact::event_name`], borrowed for good where it is a fixed name.
    pub(crate) fn timeline_name(&self) -> Option<Cow<'static, str>> {
        match &self.kind {
            FactKind::Step { name } | FactKind::Note { name } => Some(Cow::Owned(name.clone())),
            k => k.fixed_name().map(Cow::Borrowed),
        }
    }
}

fn interval_months(catalog: &Catalog, plan_id: &str, interval: Option<bursar_domain::catalog::Interval>) -> u32 {
    use bursar_domain::catalog::Interval;
    match (catalog.plans.get(plan_id), interval) {
        (Some(plan), _) => plan.interval_months,
        (None, Some(Interval::Year)) => 12,
        (None, _) => 1,
    }
}

/// The given unit amount, else the catalog price of the plan in `currency`.
fn unit_amount(catalog: &Catalog, plan_id: &str, currency: Currency, given: Option<i64>) -> Result<i64, MetricsError> {
    given.or_else(|| catalog.plans.get(plan_id)?.prices.get(&currency).copied()).ok_or_else(|| {
        MetricsError::Invalid(format!("no unit_amount_minor and no {currency} catalog price for `{plan_id}`"))
    })
}

/// Resolves a coupon reference into a [`Discount`] with the catalog's terms.
pub fn discount_from_catalog(catalog: &Catalog, coupon_id: &str, start: i64) -> Result<Discount, MetricsError> {
    let c =
        catalog.coupons.get(coupon_id).ok_or_else(|| MetricsError::Invalid(format!("unknown coupon `{coupon_id}`")))?;
    Ok(Discount { coupon_id: coupon_id.to_string(), off: c.off.clone(), duration: c.duration, start })
}

/// Maps one event of the import format onto a fact. Prices missing from an
/// event come from the catalog; intervals come from the catalog's plan
/// (`interval_months`), else from the event's `interval`; coupons from the
/// catalog. Errors name what could not be resolved.
pub fn from_import_event(ev: &ImportEvent, catalog: &Catalog) -> Result<Fact, MetricsError> {
    use EventBody as B;
    let period = |s: Option<i64>, e: Option<i64>| s.map(|start| Period { start, end: e });
    let kind = match &ev.body {
        B::SignedUp(b) => FactKind::SignedUp {
            country: b.country.clone(),
            currency: b.currency,
            channel: b.acquisition_channel.clone(),
        },
        B::PricingPageViewed(_) => FactKind::Step { name: "pricing_page.viewed".into() },
        B::CheckoutStarted(_) => FactKind::Step { name: "checkout.started".into() },
        B::SubscriptionCreated(b) => {
            use crate::event::CreatedStatus as S;
            FactKind::SubscriptionCreated(NewSubscription {
                subscription_id: b.subscription_id.clone(),
                plan_id: b.plan_id.clone(),
                currency: b.currency,
                quantity: b.quantity,
                unit_amount_minor: unit_amount(catalog, &b.plan_id, b.currency, b.unit_amount_minor)?,
                interval_months: interval_months(catalog, &b.plan_id, b.interval),
                status: match b.status {
                    S::Trialing => StartStatus::Trialing,
                    S::Active => StartStatus::Active,
                    S::PastDue => StartStatus::PastDue,
                },
                trial: match b.status {
                    S::Trialing => Some((b.trial_start.unwrap_or(ev.ts), b.trial_end)),
                    _ => None,
                },
                period: period(b.current_period_start, b.current_period_end),
                discount: b
                    .discount
                    .as_ref()
                    .map(|d| discount_from_catalog(catalog, &d.coupon_id, d.start))
                    .transpose()?,
            })
        }
        B::TrialEnded(b) => FactKind::TrialEnded {
            subscription_id: b.subscription_id.clone(),
            outcome: match b.outcome {
                TrialOutcomeName::Converted => TrialOutcome::Converted,
                TrialOutcomeName::PastDue => TrialOutcome::PastDue,
                TrialOutcomeName::Expired => TrialOutcome::Expired,
            },
            period: period(b.current_period_start, b.current_period_end),
        },
        B::Renewed(b) => FactKind::Renewed {
            subscription_id: b.subscription_id.clone(),
            period: Period { start: b.current_period_start, end: b.current_period_end },
        },
        B::InvoicePaid(b) | B::InvoicePaymentFailed(b) => {
            let inv = InvoiceFact {
                invoice_id: b.invoice_id.clone(),
                subscription_id: b.subscription_id.clone(),
                currency: b.currency,
                total_minor: b.total_minor,
                tax_minor: b.tax_minor,
            };
            if matches!(ev.body, B::InvoicePaid(_)) {
                FactKind::InvoicePaid(inv)
            } else {
                FactKind::PaymentFailed(inv)
            }
        }
        B::PastDue(b) => FactKind::PastDue { subscription_id: b.subscription_id.clone() },
        B::Recovered(b) => FactKind::Recovered { subscription_id: b.subscription_id.clone() },
        B::Canceled(b) => FactKind::Canceled { subscription_id: b.subscription_id.clone(), reason: b.reason.clone() },
        B::CancelRequested(b) => FactKind::CancelRequested {
            subscription_id: b.subscription_id.clone(),
            at_period_end: b.at_period_end,
            effective_at: b.effective_at,
        },
        B::CancelUnscheduled(b) => FactKind::CancelWithdrawn { subscription_id: b.subscription_id.clone() },
        B::PlanChanged(b) => FactKind::PlanChanged {
            subscription_id: b.subscription_id.clone(),
            plan_id: b.to_plan_id.clone(),
            unit_amount_minor: b.unit_amount_minor,
            interval_months: interval_months(catalog, &b.to_plan_id, b.interval),
            quantity: b.quantity,
            clear_discount: b.discount_cleared,
            period: period(b.current_period_start, b.current_period_end),
            at_period_end: b.effective == Some(Effective::PeriodEnd),
        },
        B::QuantityChanged(b) => FactKind::QuantityChanged {
            subscription_id: b.subscription_id.clone(),
            quantity: b.to_quantity,
            at_period_end: b.effective == Some(Effective::PeriodEnd),
        },
        B::DiscountApplied(b) => FactKind::DiscountApplied {
            subscription_id: b.subscription_id.clone(),
            discount: discount_from_catalog(catalog, &b.coupon_id, b.start)?,
        },
        B::Paused(b) => FactKind::Paused { subscription_id: b.subscription_id.clone() },
        B::Resumed(b) => FactKind::Resumed {
            subscription_id: b.subscription_id.clone(),
            period: period(b.current_period_start, b.current_period_end),
        },
        B::RefundCreated(b) => FactKind::Refunded {
            refund_id: b.refund_id.clone(),
            subscription_id: b.subscription_id.clone(),
            currency: b.currency,
            amount_minor: b.amount_minor,
            cancels_subscription: b.cancels_subscription,
        },
        B::MarketingSpend(b) => FactKind::MarketingSpend {
            month: b.month,
            channel: b.channel.clone(),
            currency: b.currency,
            amount_minor: b.amount_minor,
        },
        B::CancelFlow(_)
        | B::DowngradeScheduled(_)
        | B::QuantityChangeScheduled(_)
        | B::DiscountEnded(_)
        | B::PauseScheduled(_) => FactKind::Note { name: ev.type_name().to_string() },
        B::Unknown(name, _) => FactKind::Unknown { name: name.clone() },
    };
    Ok(Fact { ts: ev.ts, customer_id: ev.customer_id.clone(), kind })
}
