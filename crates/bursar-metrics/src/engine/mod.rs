//! Replaying one customer's facts into MRR movements and month-end state.
//!
//! [`replay_customer`] applies the facts of one customer in time order. Facts
//! with the same timestamp form one step: all are applied, then every
//! subscription's MRR is recomputed and the customer's net change
//! Δ = MRR_after − MRR_before (base currency) is classified once:
//!
//! | condition | movement |
//! | --- | --- |
//! | Δ > 0, the customer never had MRR > 0 | new business (Δ) |
//! | Δ > 0, had MRR, not an active customer before | reactivation (Δ) |
//! | Δ > 0, an active customer before (paused at 0 included) | expansion (Δ) |
//! | Δ < 0, no active subscription after | churn (−Δ) |
//! | Δ < 0, still active after | contraction (−Δ) |
//! | Δ = 0, active → inactive | churn (0) |
//!
//! **Active customer.** A customer is counted active from their first
//! new-business movement (or a reactivation) until a churn movement; churn
//! happens exactly when no subscription is `active`, `past_due` or `paused`
//! any more. A lead (never MRR > 0) is never counted, even with a subscription
//! at 0 (a 100 %-discounted one); a churned customer who comes back at 0 MRR
//! is counted again from the reactivation that gives them MRR > 0. This keeps
//! `active_end = active_start + new + reactivated − churned` exact, as every
//! change of the count is a movement.
//!
//! **Subscription MRR.** `active` and `past_due` subscriptions not on the
//! free plan count:
//! `mrr_native = round(unit_amount × quantity − discount) ÷ interval_months`,
//! half away from zero; `mrr_base = round(mrr_native × rate)` where the rate
//! is the one in force when `mrr_native` last changed (judged on the net
//! change of a step, so exchange rates alone never move MRR). The discount of
//! a period is that of the latest-applied discount whose `start` is at or
//! before the period's start, if its duration covers that period.

mod replay;

use std::borrow::Cow;
use std::collections::BTreeMap;

use bursar_domain::money::{round_div, Currency, Rounding};
use serde::{Deserialize, Serialize};

use crate::catalog::Catalog;
use crate::decimal::Decimal;
use crate::fact::{
    Discount, DiscountDuration, DiscountOff, Fact, FactKind, InvoiceFact, Period, StartStatus, TrialOutcome,
};
use crate::sum::{add_i64, add_to, additive_struct, sub_i64, Additive};
use crate::time::{add_months, check_ts, Month};
use crate::MetricsError;

/// The five MRR movements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MovementKind {
    New,
    Expansion,
    Contraction,
    Churn,
    Reactivation,
}

impl MovementKind {
    pub const ALL: [MovementKind; 5] = [
        MovementKind::New,
        MovementKind::Expansion,
        MovementKind::Contraction,
        MovementKind::Churn,
        MovementKind::Reactivation,
    ];

    /// The sign of the movement in `MRR_end − MRR_start`.
    pub fn sign(self) -> i64 {
        match self {
            MovementKind::New | MovementKind::Expansion | MovementKind::Reactivation => 1,
            MovementKind::Contraction | MovementKind::Churn => -1,
        }
    }
}

/// One value per movement kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PerKind {
    pub new: i64,
    pub expansion: i64,
    pub contraction: i64,
    pub churn: i64,
    pub reactivation: i64,
}
additive_struct!(PerKind { new, expansion, contraction, churn, reactivation });

impl PerKind {
    pub fn get(&self, k: MovementKind) -> i64 {
        match k {
            MovementKind::New => self.new,
            MovementKind::Expansion => self.expansion,
            MovementKind::Contraction => self.contraction,
            MovementKind::Churn => self.churn,
            MovementKind::Reactivation => self.reactivation,
        }
    }

    pub fn get_mut(&mut self, k: MovementKind) -> &mut i64 {
        match k {
            MovementKind::New => &mut self.new,
            MovementKind::Expansion => &mut self.expansion,
            MovementKind::Contraction => &mut self.contraction,
            MovementKind::Churn => &mut self.churn,
            MovementKind::Reactivation => &mut self.reactivation,
        }
    }

    /// `new + expansion + reactivation − contraction − churn`.
    pub fn net(&self) -> Result<i64, MetricsError> {
        let up = add_i64(add_i64(self.new, self.expansion)?, self.reactivation)?;
        sub_i64(sub_i64(up, self.contraction)?, self.churn)
    }
}

/// One classified MRR change of one customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Movement {
    pub ts: i64,
    pub month: Month,
    pub kind: MovementKind,
    /// Base-currency minor units, never negative (`−Δ` for churn and
    /// contraction).
    pub amount: i64,
    /// The signed change of MRR in each subscription currency (native minor
    /// units) behind it; empty for a churn at 0.
    pub native: BTreeMap<Currency, i64>,
    /// The subscriptions whose MRR changed in the step.
    pub subscription_ids: Vec<String>,
}

/// Status of a subscription as the engine tracks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubStatus {
    Trialing,
    Active,
    PastDue,
    Paused,
    Canceled,
    /// A trial that ended without converting.
    Expired,
}

impl SubStatus {
    /// Contributes MRR.
    pub fn counts(self) -> bool {
        matches!(self, SubStatus::Active | SubStatus::PastDue)
    }

    /// Makes its customer active.
    pub fn live(self) -> bool {
        matches!(self, SubStatus::Active | SubStatus::PastDue | SubStatus::Paused)
    }

    pub fn ended(self) -> bool {
        matches!(self, SubStatus::Canceled | SubStatus::Expired)
    }
}

/// One subscription's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionState {
    pub plan_id: String,
    pub currency: Currency,
    pub quantity: i64,
    pub unit_amount_minor: i64,
    pub interval_months: u32,
    pub status: SubStatus,
    pub period: Option<Period>,
    /// In the order applied.
    pub discounts: Vec<Discount>,
    /// A cancellation at period end is pending (scheduled churn).
    pub cancel_at_period_end: bool,
    /// Changes waiting for the next renewal (see [`FactKind::PlanChanged`]).
    #[serde(default)]
    pub deferred: Vec<FactKind>,
    /// MRR in the subscription currency (0 when excluded by the filter).
    pub mrr_native: i64,
    /// The rate fixed when `mrr_native` last changed.
    pub fx_rate: Decimal,
    pub mrr_base: i64,
}

/// Everything about a customer the engine carries from one step to the
/// next.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerState {
    pub country: Option<String>,
    pub signup_ts: Option<i64>,
    pub signup_currency: Option<Currency>,
    pub subscriptions: BTreeMap<String, SubscriptionState>,
    /// Counted as an active customer (see the module documentation).
    pub active: bool,
    /// Has had MRR > 0.
    pub had_mrr: bool,
    /// When MRR first became > 0 (the new-business movement).
    pub first_paid_ts: Option<i64>,
    /// The month of the new-business movement.
    pub cohort: Option<Month>,
    /// The amount of the new-business movement.
    pub new_business_mrr: i64,
    /// The timestamp of the last step replayed.
    pub last_ts: Option<i64>,
}

/// Trial outcomes counted in the month a trial ends (started: the month it
/// starts).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrialCounts {
    pub started: i64,
    pub ended: i64,
    pub converted_paid: i64,
    pub converted_past_due: i64,
    pub expired: i64,
    pub canceled_during_trial: i64,
}
additive_struct!(TrialCounts { started, ended, converted_paid, converted_past_due, expired, canceled_during_trial });

/// Cash of a month, in base minor units.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CashCounts {
    pub invoices_paid: i64,
    pub collected_excl_tax: i64,
    pub tax_collected: i64,
    pub payment_failures: i64,
    pub refunds: i64,
    pub refunded: i64,
}
additive_struct!(CashCounts { invoices_paid, collected_excl_tax, tax_collected, payment_failures, refunds, refunded });

/// What happened in a month (sums over the month's steps).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flows {
    pub movement_amounts: PerKind,
    pub movement_counts: PerKind,
    pub signups: i64,
    pub trials: TrialCounts,
    pub cash: CashCounts,
    /// Collected excluding tax, base minor units, by the customer's country
    /// when paid (`"unknown"` when none is known).
    pub revenue_by_country: BTreeMap<String, i64>,
    /// Tax collected, base minor units, by country.
    pub tax_by_country: BTreeMap<String, i64>,
    /// Collected excluding tax in each invoice currency, native minor units.
    pub revenue_by_currency: BTreeMap<Currency, i64>,
}
additive_struct!(Flows {
    movement_amounts,
    movement_counts,
    signups,
    trials,
    cash,
    revenue_by_country,
    tax_by_country,
    revenue_by_currency
});

/// The state at a month end that month aggregates sum over customers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Levels {
    /// Base minor units.
    pub mrr: i64,
    /// 1 when counted as an active customer.
    pub active: i64,
    /// 1 when MRR > 0.
    pub paying: i64,
    pub mrr_by_currency_native: BTreeMap<Currency, i64>,
    pub mrr_by_currency_base: BTreeMap<Currency, i64>,
    /// MRR (base) of subscriptions with a pending cancel-at-period-end.
    pub scheduled_churn_mrr: i64,
    pub scheduled_churn_subscriptions: i64,
}
additive_struct!(Levels {
    mrr,
    active,
    paying,
    mrr_by_currency_native,
    mrr_by_currency_base,
    scheduled_churn_mrr,
    scheduled_churn_subscriptions
});

/// One month of one customer in which at least one fact happened: what
/// happened in it, and the state at its end. In months without a record the
/// state of the previous record carries on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonthRecord {
    pub month: Month,
    pub flows: Flows,
    pub end: Levels,
}

/// One customer's contribution to the aggregates of one month (see
/// [`CustomerHistory::month_contributions`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonthContribution {
    pub month: Month,
    pub flows: Flows,
    /// Month-end levels minus those of the customer's previous row.
    pub level_change: Levels,
}

/// Restricts what counts: only subscriptions (and their invoices, refunds
/// and trials) in `currency` and on `plan_id` (the plan at the time), and
/// only customers of `country` (their sign-up country, applied when
/// aggregating). Sign-ups are restricted by country and by sign-up currency,
/// not by plan.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filter {
    pub currency: Option<Currency>,
    pub plan_id: Option<String>,
    pub country: Option<String>,
}

impl Filter {
    pub fn is_empty(&self) -> bool {
        self.currency.is_none() && self.plan_id.is_none() && self.country.is_none()
    }

    fn includes_sub(&self, currency: Currency, plan_id: &str) -> bool {
        self.currency.is_none_or(|c| c == currency) && self.plan_id.as_deref().is_none_or(|p| p == plan_id)
    }

    /// Whether a customer of this country is included.
    pub fn includes_country(&self, country: Option<&str>) -> bool {
        self.country.as_deref().is_none_or(|c| Some(c) == country)
    }
}

/// One event of a customer's timeline, for funnels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEvent {
    pub ts: i64,
    pub name: Cow<'static, str>,
}

/// Everything the aggregates need from one customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerHistory {
    pub customer_id: String,
    pub filter: Filter,
    pub movements: Vec<Movement>,
    /// Sorted by month, one per month with a fact.
    pub months: Vec<MonthRecord>,
    /// Every known event in order, for funnels.
    pub timeline: Vec<TimelineEvent>,
    /// The state after the last step.
    pub state: CustomerState,
    /// Facts that could not be applied (for example a renewal of an unknown
    /// subscription), each with its timestamp.
    pub warnings: Vec<String>,
}

/// Replays the facts of one customer (in causal order; they are put in time
/// order, keeping the given order within a timestamp). Marketing spend facts
/// are skipped: they are no customer's.
pub fn replay_customer(catalog: &Catalog, facts: &[Fact]) -> Result<CustomerHistory, MetricsError> {
    replay_customer_with(catalog, facts, &Filter::default())
}

/// [`replay_customer`] restricted by a filter.
pub fn replay_customer_with(
    catalog: &Catalog,
    facts: &[Fact],
    filter: &Filter,
) -> Result<CustomerHistory, MetricsError> {
    let id = facts
        .iter()
        .filter(|f| !matches!(f.kind, FactKind::MarketingSpend { .. }))
        .find_map(|f| f.customer_id.clone())
        .ok_or_else(|| MetricsError::Invalid("no customer facts to replay".into()))?;
    let facts: Vec<&Fact> = facts.iter().collect();
    replay_facts(catalog, &id, &facts, filter)
}

/// Replays facts already grouped for one customer.
pub(crate) fn replay_facts(
    catalog: &Catalog,
    customer_id: &str,
    facts: &[&Fact],
    filter: &Filter,
) -> Result<CustomerHistory, MetricsError> {
    let mut h = CustomerHistory::new(customer_id.to_string(), filter.clone());
    h.extend_refs(catalog, facts.to_vec())?;
    Ok(h)
}
