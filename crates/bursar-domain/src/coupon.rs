//! Coupon rules: what a coupon takes off, for how long, on what, and when
//! it may be redeemed. The store makes redemption atomic; these rules decide
//! everything else.

use crate::money::{round_div, MoneyError, Rounding};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What a coupon takes off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum Discount {
    /// A percentage in basis points: 2000 = 20 %.
    Percent { bps: i64 },
    /// A fixed amount per currency, minor units.
    Amount { amounts: BTreeMap<String, i64> },
}

/// For how long a coupon applies to a subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum Duration {
    Once,
    Repeating { months: u32 },
    Forever,
}

impl Duration {
    /// How many regular invoices of a subscription billed every
    /// `interval_months` the coupon covers; `None` for ever.
    pub fn invoices(self, interval_months: u32) -> Option<u32> {
        match self {
            Duration::Once => Some(1),
            Duration::Repeating { months } => Some(months.div_ceil(interval_months.max(1))),
            Duration::Forever => None,
        }
    }
}

/// What a coupon can be used on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum AppliesTo {
    All,
    /// Plans with these codes.
    Plans {
        codes: Vec<String>,
    },
    Courses,
    Bundles,
    /// Products, plans, courses or bundles with these ids or codes.
    Items {
        ids: Vec<String>,
    },
}

/// What is being bought.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Item<'a> {
    Plan {
        id: &'a str,
        code: &'a str,
    },
    Course {
        id: &'a str,
    },
    Bundle {
        id: &'a str,
    },
    /// A one-off item that is none of those (a cart line, a top-up): only
    /// coupons that apply to `all` cover it.
    Other,
}

impl AppliesTo {
    pub fn covers(&self, item: Item<'_>) -> bool {
        match (self, item) {
            (AppliesTo::All, _) => true,
            (AppliesTo::Plans { codes }, Item::Plan { code, .. }) => codes.iter().any(|c| c == code),
            (AppliesTo::Courses, Item::Course { .. }) | (AppliesTo::Bundles, Item::Bundle { .. }) => true,
            (AppliesTo::Items { ids }, Item::Plan { id, code }) => ids.iter().any(|i| i == id || i == code),
            (AppliesTo::Items { ids }, Item::Course { id } | Item::Bundle { id }) => ids.iter().any(|i| i == id),
            _ => false,
        }
    }
}

/// Everything about a coupon except its counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rules {
    pub discount: Discount,
    pub duration: Duration,
    pub applies_to: AppliesTo,
    /// Smallest purchase per currency, minor units.
    #[serde(default)]
    pub min_purchase: BTreeMap<String, i64>,
    /// Unix milliseconds.
    pub valid_from: Option<i64>,
    pub valid_until: Option<i64>,
    pub max_redemptions: Option<i64>,
    pub max_per_customer: Option<i64>,
    #[serde(default)]
    pub first_purchase_only: bool,
}

/// Why a coupon cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the coupon is not valid yet")]
    NotYetValid,
    #[error("the coupon has expired")]
    Expired,
    #[error("the coupon is no longer active")]
    Inactive,
    #[error("the coupon does not apply to this purchase")]
    NotApplicable,
    #[error("the coupon needs a purchase of at least {minimum} minor units in {currency}")]
    BelowMinimum { currency: String, minimum: i64 },
    #[error("the coupon has no amount in {0}")]
    NoAmountInCurrency(String),
    #[error("the coupon is for first purchases only")]
    NotFirstPurchase,
    #[error("the coupon has been redeemed the maximum number of times")]
    Exhausted,
    #[error("this customer has already redeemed the coupon the maximum number of times")]
    CustomerLimit,
}

/// The situation a coupon is tried in.
#[derive(Debug, Clone)]
pub struct Attempt<'a> {
    pub now: i64,
    pub item: Item<'a>,
    pub currency: &'a str,
    /// The purchase amount before the discount, minor units.
    pub amount: i64,
    pub customer_redemptions: i64,
    pub customer_has_purchased: bool,
}

impl Rules {
    /// Checks everything but the global redemption count (which the store
    /// enforces atomically).
    pub fn check(&self, active: bool, a: &Attempt<'_>) -> Result<(), Refusal> {
        if !active {
            return Err(Refusal::Inactive);
        }
        if self.valid_from.is_some_and(|t| a.now < t) {
            return Err(Refusal::NotYetValid);
        }
        if self.valid_until.is_some_and(|t| a.now >= t) {
            return Err(Refusal::Expired);
        }
        if !self.applies_to.covers(a.item) {
            return Err(Refusal::NotApplicable);
        }
        if let Discount::Amount { amounts } = &self.discount {
            if !amounts.contains_key(a.currency) {
                return Err(Refusal::NoAmountInCurrency(a.currency.to_string()));
            }
        }
        if let Some(min) = self.min_purchase.get(a.currency) {
            if a.amount < *min {
                return Err(Refusal::BelowMinimum { currency: a.currency.to_string(), minimum: *min });
            }
        }
        if self.first_purchase_only && a.customer_has_purchased {
            return Err(Refusal::NotFirstPurchase);
        }
        if self.max_per_customer.is_some_and(|m| a.customer_redemptions >= m) {
            return Err(Refusal::CustomerLimit);
        }
        Ok(())
    }
}

/// The discount on `amount` (what the lines sum to): a percentage rounded
/// half away from zero (a negative amount, a credit, gets a negative
/// discount), or a fixed amount never larger than a positive amount.
pub fn discount_of(discount: &Discount, currency: &str, amount: i64) -> Result<i64, MoneyError> {
    match discount {
        Discount::Percent { bps } => round_div(i128::from(amount) * i128::from(*bps), 10_000, Rounding::HalfUp),
        Discount::Amount { amounts } => {
            Ok(if amount > 0 { amounts.get(currency).copied().unwrap_or(0).min(amount) } else { 0 })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> Rules {
        Rules {
            discount: Discount::Percent { bps: 2000 },
            duration: Duration::Repeating { months: 3 },
            applies_to: AppliesTo::Plans { codes: vec!["grow".into()] },
            min_purchase: BTreeMap::from([("USD".into(), 1000)]),
            valid_from: Some(100),
            valid_until: Some(200),
            max_redemptions: Some(5),
            max_per_customer: Some(1),
            first_purchase_only: true,
        }
    }

    fn attempt() -> Attempt<'static> {
        Attempt {
            now: 150,
            item: Item::Plan { id: "plan_1", code: "grow" },
            currency: "USD",
            amount: 1900,
            customer_redemptions: 0,
            customer_has_purchased: false,
        }
    }

    #[test]
    fn every_rule_refuses_on_its_own() {
        let r = rules();
        assert_eq!(r.check(true, &attempt()), Ok(()));
        assert_eq!(r.check(false, &attempt()), Err(Refusal::Inactive));
        assert_eq!(r.check(true, &Attempt { now: 99, ..attempt() }), Err(Refusal::NotYetValid));
        assert_eq!(r.check(true, &Attempt { now: 200, ..attempt() }), Err(Refusal::Expired));
        assert_eq!(
            r.check(true, &Attempt { item: Item::Plan { id: "p", code: "scale" }, ..attempt() }),
            Err(Refusal::NotApplicable)
        );
        assert_eq!(
            r.check(true, &Attempt { item: Item::Course { id: "c" }, ..attempt() }),
            Err(Refusal::NotApplicable)
        );
        assert!(matches!(r.check(true, &Attempt { amount: 999, ..attempt() }), Err(Refusal::BelowMinimum { .. })));
        assert_eq!(
            r.check(true, &Attempt { customer_has_purchased: true, ..attempt() }),
            Err(Refusal::NotFirstPurchase)
        );
        assert_eq!(r.check(true, &Attempt { customer_redemptions: 1, ..attempt() }), Err(Refusal::CustomerLimit));
        let fixed = Rules { discount: Discount::Amount { amounts: BTreeMap::from([("EUR".into(), 500)]) }, ..rules() };
        assert_eq!(fixed.check(true, &attempt()), Err(Refusal::NoAmountInCurrency("USD".into())));
    }

    #[test]
    fn amounts_and_durations() {
        let pct = Discount::Percent { bps: 2000 };
        assert_eq!(discount_of(&pct, "USD", 4900).unwrap(), 980);
        assert_eq!(discount_of(&pct, "USD", 968).unwrap(), 194); // 193.6
        assert_eq!(discount_of(&pct, "USD", -613).unwrap(), -123); // -122.6
        let fixed = Discount::Amount { amounts: BTreeMap::from([("USD".into(), 500)]) };
        assert_eq!(discount_of(&fixed, "USD", 300).unwrap(), 300);
        assert_eq!(discount_of(&fixed, "USD", -300).unwrap(), 0);
        assert_eq!(Duration::Once.invoices(1), Some(1));
        assert_eq!(Duration::Repeating { months: 3 }.invoices(1), Some(3));
        assert_eq!(Duration::Repeating { months: 3 }.invoices(12), Some(1));
        assert_eq!(Duration::Forever.invoices(1), None);
        assert!(AppliesTo::Items { ids: vec!["grow".into()] }.covers(Item::Plan { id: "plan_x", code: "grow" }));
        assert!(AppliesTo::Bundles.covers(Item::Bundle { id: "b" }));
        assert!(AppliesTo::All.covers(Item::Other));
        assert!(!AppliesTo::Courses.covers(Item::Other));
        assert!(!AppliesTo::Items { ids: vec!["x".into()] }.covers(Item::Other));
    }
}
