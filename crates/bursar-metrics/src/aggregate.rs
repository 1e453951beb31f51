//! Month aggregates as sums of per-customer contributions.
//!
//! Every number of a report is a function of sums over customers:
//!
//! * **Flows** (movements, their counts, sign-ups, trials, cash) of month
//!   `m`: the sum of each customer's [`crate::MonthRecord`] `flows` for `m`.
//! * **Levels** (MRR, active and paying customers, MRR by currency,
//!   scheduled churn) at the end of `m`: each customer's state at the end of
//!   `m` is the `end` of their last record at or before `m`, so the sum is
//!   the running total of the per-customer *changes* of `end` from one record
//!   to the next. The start of `m` is the end of `m − 1`.
//! * **Cohorts**, **free-to-paid** and **funnels**: per customer, a
//!   contribution to the row of their cohort, sign-up or entry month.
//!
//! [`Accumulator`] holds these sums for a range of months. Adding a
//! customer's history and taking it back are exact inverses (integers only,
//! zero entries removed), so a store keeps an accumulator (or the same sums
//! in tables) and, when a customer's facts change, takes back the old
//! history, replays the customer and adds the new one. Because replay is
//! causal, the new history's records before the month of the earliest
//! changed fact are identical to the old ones: only months from there on
//! (and the customer's cohort, sign-up and funnel rows) change.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::catalog::Catalog;
use crate::engine::{replay_facts, CustomerHistory, Filter, Flows, Levels, PerKind};
use crate::fact::{Fact, FactKind};
use crate::funnel;
use crate::report::*;
use crate::sum::{add_to, additive_struct, Additive};
use crate::time::Month;
use crate::MetricsError;

/// The sums behind one cohort's row.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct CohortSums {
    size: i64,
    base: i64,
    active: Vec<i64>,
    mrr: Vec<i64>,
}
additive_struct!(CohortSums { size, base, active, mrr });

/// The sums of one month of the range.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct MonthSums {
    /// The change of levels during the month.
    level_change: Levels,
    flows: Flows,
    movement_customers: PerKind,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
struct FreeToPaidSums {
    signups: i64,
    paid_within: i64,
    paid_by_horizon: i64,
}
additive_struct!(FreeToPaidSums { signups, paid_within, paid_by_horizon });

/// Sums of per-customer contributions over the months `from..=to`. It
/// serializes, so a store may keep it as one document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Accumulator {
    from: Month,
    to: Month,
    options: ReportOptions,
    horizon: i64,
    customers: i64,
    warnings: i64,
    /// Levels at the end of `from − 1`.
    opening: Levels,
    /// One per month of the range.
    months: Vec<MonthSums>,
    cohorts: BTreeMap<Month, CohortSums>,
    free_to_paid: BTreeMap<Month, FreeToPaidSums>,
    funnel: BTreeMap<Month, Vec<i64>>,
}

/// An accumulator whose parts disagree (only a damaged stored document).
fn corrupt() -> MetricsError {
    MetricsError::Invalid("accumulator sums do not match its month range".into())
}

fn indicator(counts: &PerKind) -> PerKind {
    PerKind {
        new: i64::from(counts.new > 0),
        expansion: i64::from(counts.expansion > 0),
        contraction: i64::from(counts.contraction > 0),
        churn: i64::from(counts.churn > 0),
        reactivation: i64::from(counts.reactivation > 0),
    }
}

/// Adds `v` (times `sign`) to a keyed row, dropping the row when it returns
/// to empty so removal leaves no trace.
fn add_row<T: Additive + Default>(
    map: &mut BTreeMap<Month, T>,
    key: Month,
    v: &T,
    sign: i64,
    empty: impl Fn(&T) -> bool,
) -> Result<(), MetricsError> {
    let slot = map.entry(key).or_default();
    slot.add_signed(v, sign)?;
    if empty(slot) {
        map.remove(&key);
    }
    Ok(())
}

impl Accumulator {
    /// Empty sums for the months `from..=to`.
    pub fn new(from: Month, to: Month, options: &ReportOptions) -> Result<Accumulator, MetricsError> {
        if to < from {
            return Err(MetricsError::Invalid(format!("report range {from}..{to} is empty")));
        }
        let n = usize::try_from(to.since(from) + 1).map_err(|_| MetricsError::Invalid("range too long".into()))?;
        if n > 12 * 200 {
            return Err(MetricsError::Invalid("a report covers at most 200 years".into()));
        }
        if options.funnel.steps.is_empty() {
            return Err(MetricsError::Invalid("a funnel needs at least one step".into()));
        }
        Ok(Accumulator {
            from,
            to,
            horizon: options.horizon.unwrap_or_else(|| to.end()),
            options: options.clone(),
            customers: 0,
            warnings: 0,
            opening: Levels::default(),
            months: vec![MonthSums::default(); n],
            cohorts: BTreeMap::new(),
            free_to_paid: BTreeMap::new(),
            funnel: BTreeMap::new(),
        })
    }

    fn index(&self, m: Month) -> Option<usize> {
        if m < self.from || m > self.to {
            return None;
        }
        usize::try_from(m.since(self.from)).ok()
    }

    /// Adds a customer's contribution.
    pub fn add(&mut self, h: &CustomerHistory) -> Result<(), MetricsError> {
        self.apply(h, 1)
    }

    /// Takes a customer's contribution back (the exact inverse of
    /// [`Accumulator::add`] of the same history).
    pub fn remove(&mut self, h: &CustomerHistory) -> Result<(), MetricsError> {
        self.apply(h, -1)
    }

    fn apply(&mut self, h: &CustomerHistory, sign: i64) -> Result<(), MetricsError> {
        if !h.filter.includes_country(h.state.country.as_deref()) {
            return Ok(());
        }
        self.customers.add_signed(&1, sign)?;
        self.warnings.add_signed(&i64::try_from(h.warnings.len()).unwrap_or(i64::MAX), sign)?;
        let empty = Levels::default();
        let mut prev = &empty;
        for r in &h.months {
            if r.month > self.to {
                break;
            }
            // The change of the customer's levels during this month.
            match self.index(r.month) {
                None => {
                    self.opening.add_signed(&r.end, sign)?;
                    self.opening.add_signed(prev, -sign)?;
                }
                Some(i) => {
                    let slot = self.months.get_mut(i).ok_or_else(corrupt)?;
                    slot.level_change.add_signed(&r.end, sign)?;
                    slot.level_change.add_signed(prev, -sign)?;
                    slot.flows.add_signed(&r.flows, sign)?;
                    slot.movement_customers.add_signed(&indicator(&r.flows.movement_counts), sign)?;
                }
            }
            prev = &r.end;
        }
        if let Some(c) = h.state.cohort.filter(|c| self.index(*c).is_some()) {
            let ages = usize::try_from(self.to.since(c) + 1).unwrap_or(0);
            let mut v =
                CohortSums { size: 1, base: h.state.new_business_mrr, active: vec![0; ages], mrr: vec![0; ages] };
            for k in 0..ages {
                if let Some(l) = h.levels_at_end(c.offset(k as i64)) {
                    v.active[k] = l.active;
                    v.mrr[k] = l.mrr;
                }
            }
            add_row(&mut self.cohorts, c, &v, sign, |s| s.size == 0)?;
        }
        let signup_included = h.filter.currency.is_none_or(|c| Some(c) == h.state.signup_currency);
        if let (Some(s), true) = (h.state.signup_ts, signup_included) {
            let m = Month::of(s)?;
            if self.index(m).is_some() {
                let first = h.state.first_paid_ts;
                let v = FreeToPaidSums {
                    signups: 1,
                    paid_within: i64::from(
                        first.is_some_and(|f| f <= s.saturating_add(self.options.free_to_paid_window_s)),
                    ),
                    paid_by_horizon: i64::from(first.is_some_and(|f| f < self.horizon)),
                };
                add_row(&mut self.free_to_paid, m, &v, sign, |s| s.signups == 0)?;
            }
        }
        if let Some((entry, reached)) = funnel::evaluate(&h.timeline, &self.options.funnel) {
            let m = Month::of(entry)?;
            if self.index(m).is_some() {
                let n = self.options.funnel.steps.len();
                let v: Vec<i64> = (0..n).map(|k| i64::from(k < reached)).collect();
                add_row(&mut self.funnel, m, &v, sign, |c| c.first() == Some(&0))?;
            }
        }
        Ok(())
    }

    /// The report from the sums; `spend` is marketing spend per month in
    /// base minor units (see [`spend_by_month`]), `None` when it cannot be
    /// attributed (a report of one plan or country): then `marketing_spend`
    /// is 0 and CAC and LTV:CAC are null.
    pub fn report(&self, spend: Option<&BTreeMap<Month, i64>>) -> Result<Report, MetricsError> {
        if self.index(self.to).map(|i| i + 1) != Some(self.months.len()) {
            return Err(corrupt());
        }
        let mut months = Vec::with_capacity(self.months.len());
        let mut level = self.opening.clone();
        for (m, sums) in Month::range(self.from, self.to).zip(&self.months) {
            let start = level.clone();
            level.add_signed(&sums.level_change, 1)?;
            let spend = spend.map(|s| s.get(&m).copied().unwrap_or(0));
            months.push(self.month_report(m, &start, &level, &sums.flows, &sums.movement_customers, spend)?);
        }
        let mut cohorts = Cohorts::default();
        for (c, s) in &self.cohorts {
            cohorts.logo_retention.insert(
                *c,
                LogoCohort {
                    size: s.size,
                    active: s.active.clone(),
                    rate: s.active.iter().map(|a| Rate::new(*a, s.size)).collect(),
                },
            );
            cohorts.net_mrr_retention.insert(
                *c,
                MrrCohort {
                    base_new_business_mrr: s.base,
                    mrr: s.mrr.clone(),
                    rate: s.mrr.iter().map(|x| Rate::new(*x, s.base)).collect(),
                },
            );
        }
        let window = self.options.free_to_paid_window_s;
        let free_to_paid = Month::range(self.from, self.to)
            .map(|m| {
                let s = self.free_to_paid.get(&m).copied().unwrap_or_default();
                let row = FreeToPaid {
                    signups: s.signups,
                    paid_within_30d: s.paid_within,
                    paid_by_horizon: s.paid_by_horizon,
                    window_complete: m.end().saturating_add(window) <= self.horizon,
                    rate_30d: Rate::new(s.paid_within, s.signups),
                };
                (m, row)
            })
            .collect();
        let steps = self.options.funnel.steps.len();
        let by_signup_month = Month::range(self.from, self.to)
            .map(|m| {
                let counts = self.funnel.get(&m).cloned().unwrap_or_else(|| vec![0; steps]);
                let ratio = |a: i64, b: i64| (b != 0).then(|| a as f64 / b as f64);
                let overall = match (counts.first(), counts.last()) {
                    (Some(first), Some(last)) => ratio(*last, *first),
                    _ => None,
                };
                let step_conversion = counts.windows(2).map(|w| ratio(w[1], w[0])).collect();
                (m, FunnelMonth { counts, overall_conversion: overall, step_conversion })
            })
            .collect();
        Ok(Report {
            base_currency: self.options.base_currency,
            from: self.from,
            to: self.to,
            months,
            cohorts,
            free_to_paid,
            funnel: FunnelReport {
                steps: self.options.funnel.steps.clone(),
                conversion_window_s: self.options.funnel.window_s,
                order: self.options.funnel.order,
                by_signup_month,
            },
            customer_count: self.customers,
            warning_count: self.warnings,
        })
    }

    fn month_report(
        &self,
        month: Month,
        start: &Levels,
        end: &Levels,
        f: &Flows,
        movement_customers: &PerKind,
        spend: Option<i64>,
    ) -> Result<MonthReport, MetricsError> {
        let a = &f.movement_amounts;
        let c = &f.movement_counts;
        let net = a.net()?;
        let up =
            a.new.checked_add(a.expansion).and_then(|x| x.checked_add(a.reactivation)).ok_or(MetricsError::Overflow)?;
        let down = a.churn.checked_add(a.contraction).ok_or(MetricsError::Overflow)?;
        let net_churn =
            down.checked_sub(a.expansion).and_then(|x| x.checked_sub(a.reactivation)).ok_or(MetricsError::Overflow)?;
        let churned = c.churn;
        let logo_churn = Rate::new(churned, start.active);
        let stripe_den = start
            .active
            .checked_add(c.new)
            .and_then(|x| x.checked_add(c.reactivation))
            .ok_or(MetricsError::Overflow)?;
        let arr_end = end.mrr.checked_mul(12).ok_or(MetricsError::Overflow)?;
        let mrr = i128::from(end.mrr);
        let arpa_end = money_ratio(mrr, i128::from(end.active));
        let arppu_end = money_ratio(mrr, i128::from(end.paying));
        // LTV = (mrr_end / active_end) / (churned / active_start).
        let ltv_num = mrr * i128::from(start.active);
        let ltv_den = i128::from(end.active) * i128::from(churned);
        let ltv = if start.active > 0 { money_ratio(ltv_num, ltv_den) } else { None };
        let cac = spend.and_then(|s| money_ratio(i128::from(s), i128::from(c.new)));
        let spend = spend.unwrap_or(0);
        // LTV / CAC = ltv_num * new / (ltv_den * spend).
        let ltv_to_cac = match (ltv, cac) {
            (Some(_), Some(_)) if spend != 0 => Some((ltv_num as f64 * c.new as f64) / (ltv_den as f64 * spend as f64)),
            _ => None,
        };
        let t = &f.trials;
        let cash = f.cash;
        let attempts = cash.invoices_paid.checked_add(cash.payment_failures).ok_or(MetricsError::Overflow)?;
        let payment_success_rate = Rate::new(cash.invoices_paid, attempts);
        let new_customers_per_signup = Rate::new(c.new, f.signups);
        let targets = &self.options.targets;
        Ok(MonthReport {
            month,
            mrr_start: start.mrr,
            mrr_end: end.mrr,
            arr_end,
            mrr_end_by_currency_native: end.mrr_by_currency_native.clone(),
            mrr_end_by_currency_base: end.mrr_by_currency_base.clone(),
            movements: MovementsReport { amounts: *a, net_new_mrr: net },
            movement_counts: *c,
            movement_customers: *movement_customers,
            customers: CustomersReport {
                active_start: start.active,
                active_end: end.active,
                paying_end: end.paying,
                new: c.new,
                reactivated: c.reactivation,
                churned,
            },
            logo_churn_rate: logo_churn,
            logo_churn_rate_stripe_style: Rate::new(churned, stripe_den),
            gross_mrr_churn_rate: Rate::new(down, start.mrr),
            net_mrr_churn_rate: Rate::new(net_churn, start.mrr),
            quick_ratio: Rate::new(up, down),
            new_customers_per_signup,
            arpa_end,
            arppu_end,
            ltv,
            marketing_spend: spend,
            cac,
            ltv_to_cac,
            signups: f.signups,
            trials: TrialsReport { counts: *t, trial_conversion_rate: Rate::new(t.converted_paid, t.ended) },
            cash,
            payment_success_rate,
            scheduled_churn: ScheduledChurn {
                mrr: end.scheduled_churn_mrr,
                subscriptions: end.scheduled_churn_subscriptions,
            },
            revenue_by_country: f.revenue_by_country.clone(),
            tax_by_country: f.tax_by_country.clone(),
            revenue_by_currency: f.revenue_by_currency.clone(),
            targets: TargetsReport {
                conversion: TargetCheck::above(targets.conversion_above, new_customers_per_signup.value),
                churn: TargetCheck::below(targets.churn_below, logo_churn.value),
                payment_success: TargetCheck::above(targets.payment_success_above, payment_success_rate.value),
            },
        })
    }
}

/// The report of a set of customer histories over `from..=to`.
pub fn aggregate(
    histories: &[CustomerHistory],
    spend: Option<&BTreeMap<Month, i64>>,
    from: Month,
    to: Month,
    options: &ReportOptions,
) -> Result<Report, MetricsError> {
    let mut acc = Accumulator::new(from, to, options)?;
    for h in histories {
        acc.add(h)?;
    }
    acc.report(spend)
}

/// Marketing spend per month in base minor units, each record converted at
/// the rate in force at its timestamp and rounded on its own. A currency
/// filter keeps only spend in that currency.
pub fn spend_by_month(
    catalog: &Catalog,
    facts: &[Fact],
    filter: &Filter,
) -> Result<BTreeMap<Month, i64>, MetricsError> {
    let mut out = BTreeMap::new();
    for f in facts {
        if let FactKind::MarketingSpend { month, currency, amount_minor, .. } = &f.kind {
            if filter.currency.is_some_and(|c| c != *currency) {
                continue;
            }
            let base = catalog.to_base(*amount_minor, *currency, f.ts)?;
            add_to(&mut out, *month, base)?;
        }
    }
    Ok(out)
}

/// Replays every customer of a fact stream (facts grouped by customer, file
/// order kept within a customer), in order of first appearance.
pub fn replay_all(catalog: &Catalog, facts: &[Fact], filter: &Filter) -> Result<Vec<CustomerHistory>, MetricsError> {
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut groups: Vec<(&str, Vec<&Fact>)> = Vec::new();
    for f in facts {
        if matches!(f.kind, FactKind::MarketingSpend { .. }) {
            continue;
        }
        let Some(c) = f.customer_id.as_deref() else { continue };
        let i = *index.entry(c).or_insert_with(|| {
            groups.push((c, Vec::new()));
            groups.len() - 1
        });
        groups[i].1.push(f);
    }
    groups.into_iter().map(|(c, fs)| replay_facts(catalog, c, &fs, filter)).collect()
}

/// The report of a whole fact stream: replays every customer, then
/// aggregates. The horizon defaults to the catalog's `horizon_exclusive`.
pub fn report(
    catalog: &Catalog,
    facts: &[Fact],
    from: Month,
    to: Month,
    options: &ReportOptions,
) -> Result<Report, MetricsError> {
    report_filtered(catalog, facts, from, to, options, &Filter::default())
}

/// [`report`] restricted to a currency, plan and/or country.
pub fn report_filtered(
    catalog: &Catalog,
    facts: &[Fact],
    from: Month,
    to: Month,
    options: &ReportOptions,
    filter: &Filter,
) -> Result<Report, MetricsError> {
    let mut options = options.clone();
    options.horizon = options.horizon.or(catalog.horizon_exclusive);
    options.base_currency = options.base_currency.or(Some(catalog.base_currency));
    let histories = replay_all(catalog, facts, filter)?;
    // Spend is no plan's or country's.
    let spend = if filter.plan_id.is_some() || filter.country.is_some() {
        None
    } else {
        Some(spend_by_month(catalog, facts, filter)?)
    };
    aggregate(&histories, spend.as_ref(), from, to, &options)
}
