//! The catalog as data: products, plans with features, limits and flags,
//! and versioned prices per currency and interval. Tiers are never code: a
//! catalog document describes them, and [`CatalogDoc::validate`] checks it
//! before anything is stored.

use crate::money::{Currency, MAX_AMOUNT_MINOR};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::{BTreeMap, BTreeSet};

/// A quota: a number, or explicitly unlimited (never a magic number).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Limited(u64),
    Unlimited,
}

impl Limit {
    /// Whether `used + want` stays within the limit.
    pub fn allows(self, used: u64, want: u64) -> bool {
        match self {
            Limit::Unlimited => true,
            Limit::Limited(n) => used.checked_add(want).is_some_and(|t| t <= n),
        }
    }

    /// What is left after `used`; `None` when unlimited.
    pub fn remaining(self, used: u64) -> Option<u64> {
        match self {
            Limit::Unlimited => None,
            Limit::Limited(n) => Some(n.saturating_sub(used)),
        }
    }

    /// True when `self` grants at least as much as `other`.
    pub fn covers(self, other: Limit) -> bool {
        match (self, other) {
            (Limit::Unlimited, _) => true,
            (Limit::Limited(_), Limit::Unlimited) => false,
            (Limit::Limited(a), Limit::Limited(b)) => a >= b,
        }
    }
}

impl Serialize for Limit {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Limit::Limited(n) => s.serialize_u64(*n),
            Limit::Unlimited => s.serialize_str("unlimited"),
        }
    }
}

impl<'de> Deserialize<'de> for Limit {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(u64),
            S(String),
        }
        match Raw::deserialize(d)
            .map_err(|_| serde::de::Error::custom("a limit is a non-negative integer or \"unlimited\""))?
        {
            Raw::N(n) => Ok(Limit::Limited(n)),
            Raw::S(s) if s == "unlimited" => Ok(Limit::Unlimited),
            Raw::S(s) => Err(serde::de::Error::custom(format!(
                "`{s}` is not a limit: use a non-negative integer or \"unlimited\""
            ))),
        }
    }
}

/// Billing interval of a price.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Interval {
    Month,
    Year,
}

impl Interval {
    pub fn as_str(self) -> &'static str {
        match self {
            Interval::Month => "month",
            Interval::Year => "year",
        }
    }
    pub fn parse(s: &str) -> Option<Interval> {
        match s {
            "month" => Some(Interval::Month),
            "year" => Some(Interval::Year),
            _ => None,
        }
    }
    /// Months in one interval.
    pub fn months(self) -> i32 {
        match self {
            Interval::Month => 1,
            Interval::Year => 12,
        }
    }
}

/// Whether a price already includes tax.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TaxBehavior {
    #[default]
    Exclusive,
    Inclusive,
}

impl TaxBehavior {
    pub fn as_str(self) -> &'static str {
        match self {
            TaxBehavior::Exclusive => "exclusive",
            TaxBehavior::Inclusive => "inclusive",
        }
    }
    pub fn parse(s: &str) -> Option<TaxBehavior> {
        match s {
            "exclusive" => Some(TaxBehavior::Exclusive),
            "inclusive" => Some(TaxBehavior::Inclusive),
            _ => None,
        }
    }
}

/// The quotas PRODUCT.md names; any other well-formed key is allowed too.
pub const KNOWN_LIMITS: &[&str] = &[
    "tests_per_month",
    "questions_per_month",
    "ai_queries_per_month",
    "question_generations_per_month",
    "max_courses",
    "max_students",
    "storage_gb",
    "video_hours",
    "seats",
];

/// The feature flags PRODUCT.md names; any other well-formed key is allowed.
pub const KNOWN_FLAGS: &[&str] =
    &["custom_domain", "white_label", "sso", "api_access", "priority_support", "custom_branding"];

/// A price in a catalog document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceSpec {
    pub currency: Currency,
    pub interval: Interval,
    /// Minor units per interval (per seat when the plan is seat-based).
    pub amount: i64,
    #[serde(default)]
    pub tax_behavior: TaxBehavior,
}

/// A plan (tier) in a catalog document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanSpec {
    /// Stable code, unique in the catalog: `grow`.
    pub code: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Order of tiers from lowest to highest; upgrade prompts name the
    /// lowest-ranked plan that lifts a limit.
    pub rank: i64,
    #[serde(default)]
    pub trial_days: u32,
    #[serde(default)]
    pub trial_card_required: bool,
    /// Free-form feature list for pricing pages.
    #[serde(default)]
    pub features: Vec<String>,
    #[serde(default)]
    pub limits: BTreeMap<String, Limit>,
    #[serde(default)]
    pub flags: BTreeMap<String, bool>,
    pub prices: Vec<PriceSpec>,
    /// Metered usage charged in arrears on each renewal invoice, per
    /// currency.
    #[serde(default)]
    pub metered: Vec<crate::metered::MeteredSpec>,
}

/// A product in a catalog document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductSpec {
    pub code: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub plans: Vec<PlanSpec>,
}

/// A whole catalog: what `POST /v1/catalog/import` and
/// `bursar catalog import` take.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogDoc {
    pub products: Vec<ProductSpec>,
}

/// A catalog problem, with the path of the offending field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct CatalogError {
    pub path: String,
    pub message: String,
}

fn err(path: String, message: impl Into<String>) -> CatalogError {
    CatalogError { path, message: message.into() }
}

/// Codes and keys: lowercase letters, digits, `_` and `-`, 1 to 64 long.
pub fn valid_code(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

impl CatalogDoc {
    /// Checks every rule a catalog must satisfy: unique codes, names,
    /// sane trials, valid limit and flag keys, and at most one price per
    /// currency and interval in a plan, each within the amount range.
    pub fn validate(&self) -> Result<(), CatalogError> {
        if self.products.is_empty() {
            return Err(err("products".into(), "a catalog needs at least one product"));
        }
        let mut product_codes = BTreeSet::new();
        let mut plan_codes = BTreeSet::new();
        for (pi, p) in self.products.iter().enumerate() {
            let at = format!("products[{pi}]");
            if !valid_code(&p.code) {
                return Err(err(format!("{at}.code"), "codes are 1-64 of a-z, 0-9, _ and -"));
            }
            if !product_codes.insert(p.code.as_str()) {
                return Err(err(format!("{at}.code"), format!("duplicate product code `{}`", p.code)));
            }
            check_name(&format!("{at}.name"), &p.name)?;
            for (li, plan) in p.plans.iter().enumerate() {
                let at = format!("{at}.plans[{li}]");
                if !valid_code(&plan.code) {
                    return Err(err(format!("{at}.code"), "codes are 1-64 of a-z, 0-9, _ and -"));
                }
                if !plan_codes.insert(plan.code.as_str()) {
                    return Err(err(format!("{at}.code"), format!("duplicate plan code `{}`", plan.code)));
                }
                check_name(&format!("{at}.name"), &plan.name)?;
                if plan.trial_days > 365 {
                    return Err(err(format!("{at}.trial_days"), "trials are at most 365 days"));
                }
                if plan.trial_card_required && plan.trial_days == 0 {
                    return Err(err(
                        format!("{at}.trial_card_required"),
                        "only a plan with a trial can require a card for it",
                    ));
                }
                if plan.features.len() > 50
                    || plan.features.iter().any(|f| f.trim().is_empty() || f.chars().count() > 200)
                {
                    return Err(err(format!("{at}.features"), "at most 50 features of 1 to 200 characters"));
                }
                for k in plan.limits.keys() {
                    if !valid_code(k) {
                        return Err(err(format!("{at}.limits.{k}"), "limit keys are 1-64 of a-z, 0-9, _ and -"));
                    }
                }
                for k in plan.flags.keys() {
                    if !valid_code(k) {
                        return Err(err(format!("{at}.flags.{k}"), "flag keys are 1-64 of a-z, 0-9, _ and -"));
                    }
                }
                for (mi, m) in plan.metered.iter().enumerate() {
                    let at = format!("{at}.metered[{mi}]");
                    if !valid_code(&m.metric) {
                        return Err(err(format!("{at}.metric"), "metric codes are 1-64 of a-z, 0-9, _ and -"));
                    }
                    match crate::money::Currency::from_code_current(&m.currency) {
                        Ok(_) => {}
                        Err(crate::money::MoneyError::Withdrawn(c)) => {
                            return Err(err(format!("{at}.currency"), format!("{c} has been withdrawn")))
                        }
                        Err(_) => return Err(err(format!("{at}.currency"), "an ISO 4217 currency code")),
                    }
                    m.pricing.validate().map_err(|e| err(format!("{at}.pricing"), &e))?;
                }
                if plan.prices.is_empty() {
                    return Err(err(format!("{at}.prices"), "a plan needs at least one price"));
                }
                let mut seen = BTreeSet::new();
                for (ri, price) in plan.prices.iter().enumerate() {
                    let at = format!("{at}.prices[{ri}]");
                    if !(0..=MAX_AMOUNT_MINOR).contains(&price.amount) {
                        return Err(err(
                            format!("{at}.amount"),
                            format!("amounts are 0 to {MAX_AMOUNT_MINOR} minor units"),
                        ));
                    }
                    if !price.currency.is_current() {
                        return Err(err(
                            format!("{at}.currency"),
                            format!("{} has been withdrawn", price.currency.code()),
                        ));
                    }
                    if !seen.insert((price.currency.code(), price.interval)) {
                        return Err(err(
                            format!("{at}.currency"),
                            format!("two {} prices per {}", price.currency.code(), price.interval.as_str()),
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

fn check_name(path: &str, name: &str) -> Result<(), CatalogError> {
    if name.trim().is_empty() || name.chars().count() > 200 {
        return Err(err(path.to_string(), "names are 1 to 200 characters"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(json: &str) -> CatalogDoc {
        serde_json::from_str(json).unwrap()
    }

    const BASE: &str = r#"{"products":[{"code":"learn","name":"Learning","plans":[
        {"code":"free","name":"Free","rank":0,"limits":{"tests_per_month":3,"ai_queries_per_month":"unlimited"},
         "prices":[{"currency":"usd","interval":"month","amount":0}]}]}]}"#;

    #[test]
    fn limits_are_numbers_or_explicitly_unlimited() {
        let d = doc(BASE);
        let l = &d.products[0].plans[0].limits;
        assert_eq!(l["tests_per_month"], Limit::Limited(3));
        assert_eq!(l["ai_queries_per_month"], Limit::Unlimited);
        assert_eq!(serde_json::to_string(&Limit::Unlimited).unwrap(), "\"unlimited\"");
        assert!(serde_json::from_str::<Limit>("-1").is_err());
        assert!(serde_json::from_str::<Limit>("\"lots\"").is_err());
        assert!(serde_json::from_str::<Limit>("1.5").is_err());
        assert!(Limit::Limited(3).allows(2, 1));
        assert!(!Limit::Limited(3).allows(3, 1));
        assert!(!Limit::Limited(3).allows(u64::MAX, 1));
        assert!(Limit::Unlimited.allows(u64::MAX, u64::MAX));
        assert_eq!(Limit::Limited(3).remaining(5), Some(0));
        assert!(Limit::Unlimited.covers(Limit::Limited(10)));
        assert!(!Limit::Limited(10).covers(Limit::Unlimited));
        d.validate().unwrap();
    }

    #[test]
    fn invalid_catalogs_name_the_field() {
        let cases = [
            (BASE.replace("\"code\":\"free\"", "\"code\":\"Free Plan\""), "products[0].plans[0].code"),
            (BASE.replace("\"amount\":0", "\"amount\":-1"), "products[0].plans[0].prices[0].amount"),
            (BASE.replace("\"rank\":0", "\"rank\":0,\"trial_card_required\":true"), "products[0].plans[0].trial_card_required"),
            (BASE.replace("\"rank\":0", "\"rank\":0,\"trial_days\":400"), "products[0].plans[0].trial_days"),
            (BASE.replace("{\"currency\":\"usd\",\"interval\":\"month\",\"amount\":0}", "{\"currency\":\"usd\",\"interval\":\"month\",\"amount\":0},{\"currency\":\"USD\",\"interval\":\"month\",\"amount\":5}"), "products[0].plans[0].prices[1].currency"),
            (BASE.replace("\"tests_per_month\"", "\"Tests\""), "products[0].plans[0].limits.Tests"),
            // Bulgaria adopted the euro on 2026-01-01: no new prices in lev.
            (BASE.replace("\"usd\"", "\"BGN\""), "products[0].plans[0].prices[0].currency"),
            (BASE.replace("\"usd\"", "\"cuc\""), "products[0].plans[0].prices[0].currency"),
            (
                BASE.replace("\"rank\":0", "\"rank\":0,\"metered\":[{\"metric\":\"ai\",\"currency\":\"BGN\",\"pricing\":{\"model\":\"per_unit\",\"unit_amount\":1}}]"),
                "products[0].plans[0].metered[0].currency",
            ),
        ];
        for (json, path) in cases {
            let e = doc(&json).validate().unwrap_err();
            assert_eq!(e.path, path, "{json}");
        }
        let mut two = doc(BASE);
        two.products.push(two.products[0].clone());
        assert_eq!(two.validate().unwrap_err().path, "products[1].code");
        two.products[1].code = "other".into();
        assert_eq!(two.validate().unwrap_err().path, "products[1].plans[0].code");
    }
}
