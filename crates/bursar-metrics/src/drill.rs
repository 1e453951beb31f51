//! Drill-down: which customers and movements make up a month's numbers.
//!
//! Each function reads the same histories a report was aggregated from and
//! honours their filter (customers of another country are left out), so the
//! lists add up to the report's figures: the amounts of
//! `movements_in(h, m, Some(kind))` sum to the month's `movements.<kind>`,
//! and `active_at_end(h, m)` has `customers.active_end` entries.

use crate::engine::{CustomerHistory, Movement, MovementKind};
use crate::time::Month;

fn included(h: &CustomerHistory) -> bool {
    h.filter.includes_country(h.state.country.as_deref())
}

/// The movements of a month (of one kind, or all), with their customer, in
/// customer order then time order.
pub fn movements_in(histories: &[CustomerHistory], month: Month, kind: Option<MovementKind>) -> Vec<(&str, &Movement)> {
    histories
        .iter()
        .filter(|h| included(h))
        .flat_map(|h| {
            h.movements
                .iter()
                .filter(move |m| m.month == month && kind.is_none_or(|k| k == m.kind))
                .map(move |m| (h.customer_id.as_str(), m))
        })
        .collect()
}

/// Customers counted active at the end of a month.
pub fn active_at_end(histories: &[CustomerHistory], month: Month) -> Vec<&str> {
    at_end(histories, month, |l| l.active > 0)
}

/// Customers with MRR > 0 at the end of a month, with that MRR (base).
pub fn paying_at_end(histories: &[CustomerHistory], month: Month) -> Vec<(&str, i64)> {
    histories
        .iter()
        .filter(|h| included(h))
        .filter_map(|h| h.levels_at_end(month).filter(|l| l.mrr > 0).map(|l| (h.customer_id.as_str(), l.mrr)))
        .collect()
}

/// Customers with a pending cancel-at-period-end at the end of a month.
pub fn scheduled_to_churn_at_end(histories: &[CustomerHistory], month: Month) -> Vec<&str> {
    at_end(histories, month, |l| l.scheduled_churn_subscriptions > 0)
}

fn at_end(histories: &[CustomerHistory], month: Month, pred: impl Fn(&crate::engine::Levels) -> bool) -> Vec<&str> {
    histories
        .iter()
        .filter(|h| included(h))
        .filter(|h| h.levels_at_end(month).is_some_and(&pred))
        .map(|h| h.customer_id.as_str())
        .collect()
}

/// The customers of a cohort (first new business in `cohort`).
pub fn cohort_members(histories: &[CustomerHistory], cohort: Month) -> Vec<&str> {
    histories.iter().filter(|h| included(h) && h.state.cohort == Some(cohort)).map(|h| h.customer_id.as_str()).collect()
}

/// Customers who signed up in a month.
pub fn signed_up_in(histories: &[CustomerHistory], month: Month) -> Vec<&str> {
    histories
        .iter()
        .filter(|h| included(h) && h.state.signup_ts.is_some_and(|s| Month::of(s).is_ok_and(|m| m == month)))
        .map(|h| h.customer_id.as_str())
        .collect()
}
