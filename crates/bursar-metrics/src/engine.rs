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

fn unknown_sub(ts: i64, what: &str, id: &str) -> String {
    format!("{}: {what} for unknown subscription `{id}`", crate::time::format_ts(ts))
}

fn discount_applies(d: &Discount, period_start: i64) -> bool {
    match d.duration {
        DiscountDuration::Once => period_start == d.start,
        DiscountDuration::Repeating { months } => period_start >= d.start && period_start < add_months(d.start, months),
        DiscountDuration::Forever => period_start >= d.start,
    }
}

impl SubscriptionState {
    /// The discount on one period's gross amount.
    pub fn discount_amount(&self, gross: i64) -> Result<i64, MetricsError> {
        let Some(p) = self.period.map(|p| p.start) else { return Ok(0) };
        let Some(d) = self.discounts.iter().rev().find(|d| d.start <= p) else { return Ok(0) };
        if !discount_applies(d, p) {
            return Ok(0);
        }
        Ok(match &d.off {
            DiscountOff::Percent(pct) => pct.mul_div_round(gross, 100)?.min(gross),
            DiscountOff::Fixed(amounts) => amounts.get(&self.currency).map_or(0, |a| (*a).min(gross)),
        })
    }

    /// The MRR this subscription contributes now, in its own currency.
    pub fn compute_mrr_native(&self, catalog: &Catalog, filter: &Filter) -> Result<i64, MetricsError> {
        if !self.status.counts()
            || catalog.is_free_plan(&self.plan_id)
            || !filter.includes_sub(self.currency, &self.plan_id)
        {
            return Ok(0);
        }
        let gross = self.unit_amount_minor.checked_mul(self.quantity).ok_or(MetricsError::Overflow)?;
        let net = sub_i64(gross, self.discount_amount(gross)?)?;
        Ok(round_div(i128::from(net), i128::from(self.interval_months.max(1)), Rounding::HalfUp)?)
    }

    /// Whether `ts` is strictly inside the current period (whose end is
    /// known).
    fn strictly_inside_period(&self, ts: i64) -> bool {
        matches!(self.period, Some(Period { start, end: Some(end) }) if start < ts && ts < end)
    }

    fn live_for(&self, catalog: &Catalog, filter: &Filter) -> bool {
        self.status.live() && !catalog.is_free_plan(&self.plan_id) && filter.includes_sub(self.currency, &self.plan_id)
    }
}

impl CustomerHistory {
    /// An empty history (no facts yet).
    pub fn new(customer_id: String, filter: Filter) -> CustomerHistory {
        CustomerHistory {
            customer_id,
            filter,
            movements: Vec::new(),
            months: Vec::new(),
            timeline: Vec::new(),
            state: CustomerState::default(),
            warnings: Vec::new(),
        }
    }

    /// The customer's contribution to month aggregates, one row per month
    /// with a fact: the month's flows and the change of the customer's
    /// month-end levels since the previous row. A month total is the sum of
    /// the rows of that month over customers (flows) or of the rows up to
    /// and including it (levels), so a store can keep such rows in a table
    /// and replace one customer's rows when that customer is recomputed.
    pub fn month_contributions(&self) -> Result<Vec<MonthContribution>, MetricsError> {
        let empty = Levels::default();
        let mut prev = &empty;
        let mut out = Vec::with_capacity(self.months.len());
        for r in &self.months {
            let mut level_change = r.end.clone();
            level_change.add_signed(prev, -1)?;
            out.push(MonthContribution { month: r.month, flows: r.flows.clone(), level_change });
            prev = &r.end;
        }
        Ok(out)
    }

    /// The cohort: the month of the first new-business movement.
    pub fn cohort(&self) -> Option<Month> {
        self.state.cohort
    }

    /// The state at the end of `month`: that of the last record at or
    /// before it (zero before the first).
    pub fn levels_at_end(&self, month: Month) -> Option<&Levels> {
        let i = self.months.partition_point(|r| r.month <= month);
        (i > 0).then(|| &self.months[i - 1].end)
    }

    /// Continues the replay with later facts: every fact must be strictly
    /// after the last step already replayed (a fact at or before it changes
    /// history: replay the customer from the start instead). Facts are put
    /// in time order, keeping the given order within a timestamp. After an
    /// error the history is incomplete: discard it.
    pub fn extend(&mut self, catalog: &Catalog, facts: &[Fact]) -> Result<(), MetricsError> {
        self.extend_refs(catalog, facts.iter().collect())
    }

    fn extend_refs(&mut self, catalog: &Catalog, mut order: Vec<&Fact>) -> Result<(), MetricsError> {
        order.retain(|f| !matches!(f.kind, FactKind::MarketingSpend { .. }));
        for f in &order {
            check_ts(f.ts)?;
            if f.customer_id.as_deref() != Some(self.customer_id.as_str()) {
                return Err(MetricsError::WrongCustomer {
                    expected: self.customer_id.clone(),
                    found: f.customer_id.clone().unwrap_or_default(),
                });
            }
            if self.state.last_ts.is_some_and(|last| f.ts <= last) {
                return Err(MetricsError::Invalid(format!(
                    "fact at {} is not after the last replayed step; replay the customer from the start",
                    crate::time::format_ts(f.ts)
                )));
            }
        }
        order.sort_by_key(|f| f.ts);
        let mut i = 0;
        while i < order.len() {
            let ts = order[i].ts;
            let mut j = i;
            while j < order.len() && order[j].ts == ts {
                j += 1;
            }
            self.step(catalog, ts, &order[i..j])?;
            i = j;
        }
        self.close_month(catalog)
    }

    /// The record of `month`, which is the last one or about to be (steps
    /// come in time order). Its `end` is brought up to date by
    /// [`CustomerHistory::close_month`].
    fn record(&mut self, month: Month) -> &mut MonthRecord {
        if self.months.last().is_none_or(|r| r.month != month) {
            self.months.push(MonthRecord { month, flows: Flows::default(), end: Levels::default() });
        }
        let last = self.months.len() - 1;
        &mut self.months[last]
    }

    /// Sets the last record's month-end state from the current state.
    fn close_month(&mut self, catalog: &Catalog) -> Result<(), MetricsError> {
        if !self.months.is_empty() {
            let end = self.levels(catalog)?;
            if let Some(r) = self.months.last_mut() {
                r.end = end;
            }
        }
        Ok(())
    }

    /// Applies the facts of one timestamp and classifies the net change.
    fn step(&mut self, catalog: &Catalog, ts: i64, facts: &[&Fact]) -> Result<(), MetricsError> {
        let month = Month::of(ts)?;
        if self.months.last().is_some_and(|r| r.month != month) {
            self.close_month(catalog)?;
        }
        self.record(month);
        let mrr_before = self.mrr()?;
        for f in facts {
            if let Some(name) = f.timeline_name() {
                self.timeline.push(TimelineEvent { ts, name });
            }
            self.apply(catalog, ts, month, f)?;
        }
        // Recompute every subscription; re-fix the rate only where the
        // native MRR changed over the whole step.
        let mut native = BTreeMap::new();
        let mut changed = Vec::new();
        for (id, sub) in self.state.subscriptions.iter_mut() {
            let now = sub.compute_mrr_native(catalog, &self.filter)?;
            if now != sub.mrr_native {
                let rate = catalog.rate_at(sub.currency, ts)?;
                let delta = sub_i64(now, sub.mrr_native)?;
                add_to(&mut native, sub.currency, delta)?;
                changed.push(id.clone());
                sub.mrr_base = rate.convert(now, sub.currency, catalog.base_currency)?;
                sub.mrr_native = now;
                sub.fx_rate = rate;
            }
        }
        let mrr_after = self.mrr()?;
        let live = self.state.subscriptions.values().any(|s| s.live_for(catalog, &self.filter));
        let delta = sub_i64(mrr_after, mrr_before)?;
        let st = &mut self.state;
        let kind = if delta > 0 {
            let k = if !st.had_mrr {
                MovementKind::New
            } else if !st.active {
                MovementKind::Reactivation
            } else {
                MovementKind::Expansion
            };
            st.active = true;
            st.had_mrr = true;
            Some(k)
        } else if delta < 0 {
            if live {
                Some(MovementKind::Contraction)
            } else {
                st.active = false;
                Some(MovementKind::Churn)
            }
        } else if st.active && !live {
            st.active = false;
            Some(MovementKind::Churn)
        } else {
            None
        };
        if let Some(kind) = kind {
            let amount = delta.checked_abs().ok_or(MetricsError::Overflow)?;
            if kind == MovementKind::New {
                st.first_paid_ts = Some(ts);
                st.cohort = Some(month);
                st.new_business_mrr = amount;
            }
            self.movements.push(Movement { ts, month, kind, amount, native, subscription_ids: changed });
            let rec = self.record(month);
            rec.flows.movement_amounts.get_mut(kind).add_signed(&amount, 1)?;
            rec.flows.movement_counts.get_mut(kind).add_signed(&1, 1)?;
        }
        self.state.last_ts = Some(ts);
        Ok(())
    }

    fn mrr(&self) -> Result<i64, MetricsError> {
        self.state.subscriptions.values().try_fold(0_i64, |acc, s| add_i64(acc, s.mrr_base))
    }

    fn levels(&self, catalog: &Catalog) -> Result<Levels, MetricsError> {
        let mut l = Levels { mrr: self.mrr()?, active: i64::from(self.state.active), ..Levels::default() };
        l.paying = i64::from(l.mrr > 0);
        for s in self.state.subscriptions.values() {
            if s.mrr_native != 0 {
                add_to(&mut l.mrr_by_currency_native, s.currency, s.mrr_native)?;
            }
            if s.mrr_base != 0 {
                add_to(&mut l.mrr_by_currency_base, s.currency, s.mrr_base)?;
            }
            if s.cancel_at_period_end && s.live_for(catalog, &self.filter) {
                l.scheduled_churn_mrr = add_i64(l.scheduled_churn_mrr, s.mrr_base)?;
                l.scheduled_churn_subscriptions += 1;
            }
        }
        Ok(l)
    }

    /// Finds the subscription a fact names; with no id, the customer's only
    /// subscription that has not ended.
    fn resolve(&mut self, ts: i64, what: &str, id: Option<&str>) -> Option<String> {
        match id {
            Some(id) if self.state.subscriptions.contains_key(id) => Some(id.to_string()),
            Some(id) => {
                self.warnings.push(unknown_sub(ts, what, id));
                None
            }
            None => {
                let mut live = self.state.subscriptions.iter().filter(|(_, s)| !s.status.ended());
                match (live.next(), live.next()) {
                    (Some((id, _)), None) => Some(id.clone()),
                    _ => {
                        self.warnings.push(format!(
                            "{}: {what} without subscription_id, and the customer has not exactly one live subscription",
                            crate::time::format_ts(ts)
                        ));
                        None
                    }
                }
            }
        }
    }

    fn country_key(&self) -> String {
        self.state.country.clone().unwrap_or_else(|| "unknown".to_string())
    }

    fn includes_invoice(&self, currency: Currency, subscription_id: Option<&str>) -> bool {
        if self.filter.currency.is_some_and(|c| c != currency) {
            return false;
        }
        match &self.filter.plan_id {
            None => true,
            Some(p) => subscription_id.and_then(|id| self.state.subscriptions.get(id)).is_some_and(|s| &s.plan_id == p),
        }
    }

    fn sub_included(&self, id: &str) -> bool {
        self.state.subscriptions.get(id).is_some_and(|s| self.filter.includes_sub(s.currency, &s.plan_id))
    }

    fn cancel(&mut self, month: Month, id: &str) -> Result<(), MetricsError> {
        let included = self.sub_included(id);
        let Some(sub) = self.state.subscriptions.get_mut(id) else { return Ok(()) };
        let was_trialing = sub.status == SubStatus::Trialing;
        sub.status = SubStatus::Canceled;
        sub.cancel_at_period_end = false;
        sub.deferred.clear();
        if was_trialing && included {
            let t = &mut self.record(month).flows.trials;
            t.ended += 1;
            t.canceled_during_trial += 1;
        }
        Ok(())
    }

    fn invoice(
        &mut self,
        catalog: &Catalog,
        ts: i64,
        month: Month,
        inv: &InvoiceFact,
        paid: bool,
    ) -> Result<(), MetricsError> {
        if !self.includes_invoice(inv.currency, inv.subscription_id.as_deref()) {
            return Ok(());
        }
        let country = self.country_key();
        let flows = &mut self.record(month).flows;
        if !paid {
            flows.cash.payment_failures += 1;
            return Ok(());
        }
        let excl = sub_i64(inv.total_minor, inv.tax_minor)?;
        let excl_base = catalog.to_base(excl, inv.currency, ts)?;
        let tax_base = catalog.to_base(inv.tax_minor, inv.currency, ts)?;
        flows.cash.invoices_paid += 1;
        flows.cash.collected_excl_tax = add_i64(flows.cash.collected_excl_tax, excl_base)?;
        flows.cash.tax_collected = add_i64(flows.cash.tax_collected, tax_base)?;
        add_to(&mut flows.revenue_by_country, country.clone(), excl_base)?;
        add_to(&mut flows.tax_by_country, country, tax_base)?;
        add_to(&mut flows.revenue_by_currency, inv.currency, excl)?;
        Ok(())
    }

    fn apply(&mut self, catalog: &Catalog, ts: i64, month: Month, fact: &Fact) -> Result<(), MetricsError> {
        let name = fact.event_name().unwrap_or("unknown event");
        match &fact.kind {
            FactKind::SignedUp { country, currency, .. } => {
                if self.state.country.is_none() {
                    self.state.country = country.clone();
                }
                if self.state.signup_ts.is_none() {
                    self.state.signup_ts = Some(ts);
                    self.state.signup_currency = *currency;
                    if self.filter.currency.is_none_or(|c| Some(c) == *currency) {
                        self.record(month).flows.signups += 1;
                    }
                }
            }
            FactKind::SubscriptionCreated(ns) => {
                if let Some(d) = &ns.discount {
                    check_ts(d.start)?;
                }
                if ns.quantity < 0 || ns.unit_amount_minor < 0 || ns.interval_months == 0 {
                    return Err(MetricsError::Invalid(format!(
                        "subscription `{}`: quantity and unit amount must not be negative, interval_months must be ≥ 1",
                        ns.subscription_id
                    )));
                }
                let status = match ns.status {
                    StartStatus::Trialing => SubStatus::Trialing,
                    StartStatus::Active => SubStatus::Active,
                    StartStatus::PastDue => SubStatus::PastDue,
                };
                let period = ns.period.or((status != SubStatus::Trialing).then_some(Period { start: ts, end: None }));
                // A re-created id keeps the MRR it had, so the step's change is
                // measured against it.
                let (mrr_native, fx_rate, mrr_base) = match self.state.subscriptions.get(&ns.subscription_id) {
                    Some(old) => {
                        self.warnings.push(format!(
                            "{}: subscription `{}` created again; the new one replaces it",
                            crate::time::format_ts(ts),
                            ns.subscription_id
                        ));
                        (old.mrr_native, old.fx_rate, old.mrr_base)
                    }
                    None => (0, Decimal::ONE, 0),
                };
                let sub = SubscriptionState {
                    plan_id: ns.plan_id.clone(),
                    currency: ns.currency,
                    quantity: ns.quantity,
                    unit_amount_minor: ns.unit_amount_minor,
                    interval_months: ns.interval_months,
                    status,
                    period,
                    discounts: ns.discount.iter().cloned().collect(),
                    cancel_at_period_end: false,
                    deferred: Vec::new(),
                    mrr_native,
                    fx_rate,
                    mrr_base,
                };
                let included = self.filter.includes_sub(sub.currency, &sub.plan_id);
                self.state.subscriptions.insert(ns.subscription_id.clone(), sub);
                if status == SubStatus::Trialing && included {
                    self.record(month).flows.trials.started += 1;
                }
            }
            FactKind::TrialEnded { subscription_id, outcome, period } => {
                let Some(id) = self.resolve(ts, name, Some(subscription_id)) else { return Ok(()) };
                let included = self.sub_included(&id);
                if let Some(sub) = self.state.subscriptions.get_mut(&id) {
                    sub.status = match outcome {
                        TrialOutcome::Converted => SubStatus::Active,
                        TrialOutcome::PastDue => SubStatus::PastDue,
                        TrialOutcome::Expired => SubStatus::Expired,
                    };
                    if *outcome != TrialOutcome::Expired {
                        sub.period = Some(period.unwrap_or(Period { start: ts, end: None }));
                    }
                }
                if included {
                    let t = &mut self.record(month).flows.trials;
                    t.ended += 1;
                    match outcome {
                        TrialOutcome::Converted => t.converted_paid += 1,
                        TrialOutcome::PastDue => t.converted_past_due += 1,
                        TrialOutcome::Expired => t.expired += 1,
                    }
                }
            }
            FactKind::Renewed { subscription_id, period } => {
                if let Some(id) = self.resolve(ts, name, Some(subscription_id)) {
                    let deferred = match self.state.subscriptions.get_mut(&id) {
                        Some(s) => {
                            s.period = Some(*period);
                            std::mem::take(&mut s.deferred)
                        }
                        None => Vec::new(),
                    };
                    for kind in deferred {
                        self.apply(catalog, ts, month, &Fact { ts, customer_id: fact.customer_id.clone(), kind })?;
                    }
                }
            }
            FactKind::PlanChanged {
                subscription_id,
                plan_id,
                unit_amount_minor,
                interval_months,
                quantity,
                clear_discount,
                period,
                at_period_end,
            } => {
                let Some(id) = self.resolve(ts, name, Some(subscription_id)) else { return Ok(()) };
                let Some(s) = self.state.subscriptions.get_mut(&id) else { return Ok(()) };
                if *at_period_end && period.is_none() && s.strictly_inside_period(ts) {
                    let mut now = fact.kind.clone();
                    if let FactKind::PlanChanged { at_period_end, .. } = &mut now {
                        *at_period_end = false;
                    }
                    s.deferred.push(now);
                    return Ok(());
                }
                let unit = unit_amount_minor.or_else(|| catalog.plans.get(plan_id)?.prices.get(&s.currency).copied());
                let Some(unit) = unit else {
                    return Err(MetricsError::Invalid(format!(
                        "{}: plan change of `{id}` to `{plan_id}` without a unit amount or a catalog price in {}",
                        crate::time::format_ts(ts),
                        s.currency
                    )));
                };
                if unit < 0 || quantity.is_some_and(|q| q < 0) || *interval_months == 0 {
                    return Err(MetricsError::Invalid(format!(
                        "plan change of `{id}`: bad amount, quantity or interval"
                    )));
                }
                s.plan_id = plan_id.clone();
                s.unit_amount_minor = unit;
                s.interval_months = *interval_months;
                if let Some(q) = quantity {
                    s.quantity = *q;
                }
                if *clear_discount {
                    s.discounts.clear();
                }
                if let Some(p) = period {
                    s.period = Some(*p);
                }
            }
            FactKind::QuantityChanged { subscription_id, quantity, at_period_end } => {
                if *quantity < 0 {
                    return Err(MetricsError::Invalid(format!("negative quantity {quantity}")));
                }
                if let Some(id) = self.resolve(ts, name, subscription_id.as_deref()) {
                    if let Some(s) = self.state.subscriptions.get_mut(&id) {
                        if *at_period_end && s.strictly_inside_period(ts) {
                            s.deferred.push(FactKind::QuantityChanged {
                                subscription_id: Some(id),
                                quantity: *quantity,
                                at_period_end: false,
                            });
                        } else {
                            s.quantity = *quantity;
                        }
                    }
                }
            }
            FactKind::DiscountApplied { subscription_id, discount } => {
                check_ts(discount.start)?;
                if let Some(id) = self.resolve(ts, name, Some(subscription_id)) {
                    if let Some(s) = self.state.subscriptions.get_mut(&id) {
                        s.discounts.push(discount.clone());
                    }
                }
            }
            FactKind::Paused { subscription_id } => {
                self.set_status(ts, name, subscription_id.as_deref(), SubStatus::Paused, None)
            }
            FactKind::Resumed { subscription_id, period } => {
                self.set_status(ts, name, subscription_id.as_deref(), SubStatus::Active, *period)
            }
            FactKind::PastDue { subscription_id } => {
                self.set_status(ts, name, Some(subscription_id), SubStatus::PastDue, None)
            }
            FactKind::Recovered { subscription_id } => {
                self.set_status(ts, name, Some(subscription_id), SubStatus::Active, None)
            }
            FactKind::Canceled { subscription_id, .. } => {
                if let Some(id) = self.resolve(ts, name, Some(subscription_id)) {
                    self.cancel(month, &id)?;
                }
            }
            FactKind::CancelRequested { subscription_id, at_period_end, .. } => {
                if let Some(id) = self.resolve(ts, name, Some(subscription_id)) {
                    if let Some(s) = self.state.subscriptions.get_mut(&id) {
                        if *at_period_end && !s.status.ended() {
                            s.cancel_at_period_end = true;
                        }
                    }
                }
            }
            FactKind::CancelWithdrawn { subscription_id } => {
                if let Some(id) = self.resolve(ts, name, Some(subscription_id)) {
                    if let Some(s) = self.state.subscriptions.get_mut(&id) {
                        s.cancel_at_period_end = false;
                    }
                }
            }
            FactKind::InvoicePaid(inv) => self.invoice(catalog, ts, month, inv, true)?,
            FactKind::PaymentFailed(inv) => self.invoice(catalog, ts, month, inv, false)?,
            FactKind::Refunded { subscription_id, currency, amount_minor, cancels_subscription, .. } => {
                if self.includes_invoice(*currency, subscription_id.as_deref()) {
                    let base = catalog.to_base(*amount_minor, *currency, ts)?;
                    let cash = &mut self.record(month).flows.cash;
                    cash.refunds += 1;
                    cash.refunded = add_i64(cash.refunded, base)?;
                }
                if *cancels_subscription {
                    if let Some(id) = self.resolve(ts, name, subscription_id.as_deref()) {
                        self.cancel(month, &id)?;
                    }
                }
            }
            FactKind::Step { .. }
            | FactKind::Note { .. }
            | FactKind::Unknown { .. }
            | FactKind::MarketingSpend { .. } => {}
        }
        Ok(())
    }

    fn set_status(&mut self, ts: i64, what: &str, id: Option<&str>, status: SubStatus, period: Option<Period>) {
        let Some(id) = self.resolve(ts, what, id) else { return };
        let Some(s) = self.state.subscriptions.get_mut(&id) else { return };
        if s.status.ended() {
            self.warnings.push(format!("{}: {what} for ended subscription `{id}` ignored", crate::time::format_ts(ts)));
            return;
        }
        s.status = status;
        if let Some(p) = period {
            s.period = Some(p);
        }
    }
}
