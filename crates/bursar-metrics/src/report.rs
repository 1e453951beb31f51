//! The report document (`bursar metrics report --json`), field names as the
//! spec's "Output" section gives them, plus the dashboard's extras (targets,
//! scheduled churn, revenue by country and currency, MRR by currency in the
//! base currency).
//!
//! Money is integer minor units of the base currency. Rates are
//! `{"num", "den", "value"}` with `value` null when `den` is 0; other ratios
//! are plain numbers, null when undefined.

use std::collections::BTreeMap;

use bursar_domain::money::{round_div, Currency, Rounding};
use serde::{Deserialize, Serialize};

use crate::engine::{CashCounts, PerKind, TrialCounts};
use crate::funnel::{FunnelOptions, FunnelOrder};
use crate::time::Month;

/// A rate with its numerator and denominator.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Rate {
    pub num: i64,
    pub den: i64,
    /// `num ÷ den`; null when `den` is 0.
    pub value: Option<f64>,
}

impl Rate {
    pub fn new(num: i64, den: i64) -> Rate {
        Rate { num, den, value: (den != 0).then(|| num as f64 / den as f64) }
    }
}

/// `round(num ÷ den)` half away from zero; `None` when `den` is 0 or the
/// result does not fit.
pub(crate) fn money_ratio(num: i128, den: i128) -> Option<i64> {
    if den == 0 {
        return None;
    }
    round_div(num, den, Rounding::HalfUp).ok()
}

/// Goals shown beside the actuals. Fractions: 0.05 is 5 %.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Targets {
    /// Free-to-paid conversion (new customers ÷ sign-ups of the month) above.
    pub conversion_above: f64,
    /// Logo churn rate below.
    pub churn_below: f64,
    /// Paid invoices ÷ (paid invoices + failed payments) above.
    pub payment_success_above: f64,
}

impl Default for Targets {
    fn default() -> Self {
        Targets { conversion_above: 0.05, churn_below: 0.10, payment_success_above: 0.95 }
    }
}

/// Options of a report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportOptions {
    pub funnel: FunnelOptions,
    pub targets: Targets,
    /// The exclusive end of the data, for free-to-paid windows. Default: the
    /// catalog's `horizon_exclusive` (in [`crate::report()`]), else the end of
    /// the report's last month.
    pub horizon: Option<i64>,
    /// Seconds after sign-up within which a first payment counts as
    /// free-to-paid conversion (30 days, inclusive).
    pub free_to_paid_window_s: i64,
    /// Shown in the report; [`crate::report()`] takes it from the catalog.
    pub base_currency: Option<Currency>,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            funnel: FunnelOptions::default(),
            targets: Targets::default(),
            horizon: None,
            free_to_paid_window_s: 30 * crate::time::DAY_S,
            base_currency: None,
        }
    }
}

/// The MRR movements of a month and their net.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MovementsReport {
    /// `new`, `expansion`, `contraction`, `churn`, `reactivation`.
    #[serde(flatten)]
    pub amounts: PerKind,
    /// `new + expansion + reactivation − contraction − churn`, equal to
    /// `mrr_end − mrr_start`.
    pub net_new_mrr: i64,
}

/// Customer counts of a month. `new`, `reactivated` and `churned` count
/// movements (a customer who churns twice in a month counts twice), so
/// `active_end = active_start + new + reactivated − churned` holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomersReport {
    pub active_start: i64,
    pub active_end: i64,
    pub paying_end: i64,
    pub new: i64,
    pub reactivated: i64,
    pub churned: i64,
}

/// Trials of a month: `started`, `ended` and each outcome, and the rate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TrialsReport {
    #[serde(flatten)]
    pub counts: TrialCounts,
    /// `converted_paid ÷ ended`.
    pub trial_conversion_rate: Rate,
}

/// MRR at the month end of subscriptions set to cancel at period end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduledChurn {
    pub mrr: i64,
    pub subscriptions: i64,
}

/// Which side of its target an actual should be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Comparison {
    Above,
    Below,
}

/// One goal beside its actual.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TargetCheck {
    pub target: f64,
    pub comparison: Comparison,
    pub actual: Option<f64>,
    /// Null when the actual is undefined.
    pub met: Option<bool>,
}

impl TargetCheck {
    pub(crate) fn above(target: f64, actual: Option<f64>) -> TargetCheck {
        TargetCheck { target, comparison: Comparison::Above, actual, met: actual.map(|a| a > target) }
    }

    pub(crate) fn below(target: f64, actual: Option<f64>) -> TargetCheck {
        TargetCheck { target, comparison: Comparison::Below, actual, met: actual.map(|a| a < target) }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TargetsReport {
    pub conversion: TargetCheck,
    pub churn: TargetCheck,
    pub payment_success: TargetCheck,
}

/// One month of the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonthReport {
    pub month: Month,
    pub mrr_start: i64,
    pub mrr_end: i64,
    pub arr_end: i64,
    pub mrr_end_by_currency_native: BTreeMap<Currency, i64>,
    /// The same subscriptions' MRR in the base currency.
    pub mrr_end_by_currency_base: BTreeMap<Currency, i64>,
    pub movements: MovementsReport,
    pub movement_counts: PerKind,
    /// Distinct customers with at least one movement of each kind.
    pub movement_customers: PerKind,
    pub customers: CustomersReport,
    /// churned ÷ active_start.
    pub logo_churn_rate: Rate,
    /// churned ÷ (active_start + new + reactivated).
    pub logo_churn_rate_stripe_style: Rate,
    /// (churn + contraction) ÷ mrr_start.
    pub gross_mrr_churn_rate: Rate,
    /// (churn + contraction − expansion − reactivation) ÷ mrr_start.
    pub net_mrr_churn_rate: Rate,
    /// (new + expansion + reactivation) ÷ (churn + contraction).
    pub quick_ratio: Rate,
    /// New-business customers ÷ sign-ups of the month.
    pub new_customers_per_signup: Rate,
    /// mrr_end ÷ active_end (paused customers included), rounded.
    pub arpa_end: Option<i64>,
    /// mrr_end ÷ paying_end, rounded.
    pub arppu_end: Option<i64>,
    /// ARPA ÷ logo churn rate, rounded once from the exact quotient.
    pub ltv: Option<i64>,
    pub marketing_spend: i64,
    /// marketing_spend ÷ new customers, rounded.
    pub cac: Option<i64>,
    /// LTV ÷ CAC, from the exact quotients.
    pub ltv_to_cac: Option<f64>,
    pub signups: i64,
    pub trials: TrialsReport,
    pub cash: CashCounts,
    /// invoices_paid ÷ (invoices_paid + payment_failures).
    pub payment_success_rate: Rate,
    pub scheduled_churn: ScheduledChurn,
    /// Collected excluding tax (base) by customer country.
    pub revenue_by_country: BTreeMap<String, i64>,
    /// Tax collected (base) by customer country.
    pub tax_by_country: BTreeMap<String, i64>,
    /// Collected excluding tax by invoice currency, native minor units.
    pub revenue_by_currency: BTreeMap<Currency, i64>,
    pub targets: TargetsReport,
}

/// Logo retention of one cohort; `active[k]` and `rate[k]` at the end of
/// month cohort + k.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogoCohort {
    pub size: i64,
    pub active: Vec<i64>,
    pub rate: Vec<Rate>,
}

/// Net MRR retention of one cohort.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MrrCohort {
    pub base_new_business_mrr: i64,
    pub mrr: Vec<i64>,
    pub rate: Vec<Rate>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Cohorts {
    pub logo_retention: BTreeMap<Month, LogoCohort>,
    pub net_mrr_retention: BTreeMap<Month, MrrCohort>,
}

/// Free-to-paid conversion of the sign-ups of one month.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FreeToPaid {
    pub signups: i64,
    /// First MRR > 0 at most 30 days after sign-up.
    pub paid_within_30d: i64,
    /// First MRR > 0 before the horizon.
    pub paid_by_horizon: i64,
    /// False when the 30-day window of a sign-up late in the month passes
    /// the end of the data.
    pub window_complete: bool,
    pub rate_30d: Rate,
}

/// One entry month of a funnel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunnelMonth {
    /// Customers reaching each step.
    pub counts: Vec<i64>,
    /// Last step ÷ first step.
    pub overall_conversion: Option<f64>,
    /// `step_conversion[i]` = step i+2 ÷ step i+1 (one fewer than the steps).
    pub step_conversion: Vec<Option<f64>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunnelReport {
    pub steps: Vec<String>,
    pub conversion_window_s: i64,
    pub order: FunnelOrder,
    /// By entry month (the month of step 1, the sign-up in the default
    /// funnel).
    pub by_signup_month: BTreeMap<Month, FunnelMonth>,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub base_currency: Option<Currency>,
    pub from: Month,
    pub to: Month,
    pub months: Vec<MonthReport>,
    pub cohorts: Cohorts,
    pub free_to_paid: BTreeMap<Month, FreeToPaid>,
    pub funnel: FunnelReport,
    /// Customers included.
    pub customer_count: i64,
    /// Facts that could not be applied (see [`crate::CustomerHistory::warnings`]).
    pub warning_count: i64,
}

impl Report {
    /// The report as a JSON document.
    pub fn to_json(&self) -> Result<String, crate::MetricsError> {
        serde_json::to_string_pretty(self).map_err(|e| crate::MetricsError::Invalid(e.to_string()))
    }

    /// One month of the report.
    pub fn month(&self, m: Month) -> Option<&MonthReport> {
        self.months.get(usize::try_from(m.since(self.from)).ok()?)
    }
}
