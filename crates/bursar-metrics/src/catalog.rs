//! The catalog: base currency, exchange rates, plans, coupons, free plan.
//!
//! Read from the import format's catalog JSON by [`Catalog::from_json`], or
//! built in code by Bursar's own billing.

use std::collections::BTreeMap;

use bursar_domain::catalog::Interval;
use bursar_domain::money::Currency;
use serde::{Deserialize, Serialize};

use crate::decimal::Decimal;
use crate::time::serde_instant_opt;
use crate::{ImportError, MetricsError};

/// A plan: how many months one period lasts and its list prices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub product: Option<String>,
    pub interval: Interval,
    pub interval_months: u32,
    pub prices: BTreeMap<Currency, i64>,
}

/// A coupon's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coupon {
    pub off: DiscountOff,
    pub duration: DiscountDuration,
}

/// Everything the engine needs besides the facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalog {
    pub base_currency: Currency,
    /// Units of the base currency per unit of each currency, in force from
    /// the beginning of time (the base currency is always 1).
    pub fx_to_base: BTreeMap<Currency, Decimal>,
    /// Later rates: per currency, `(in force from, rate)` sorted by time.
    /// The import format gives none; Bursar's own billing may.
    pub fx_changes: BTreeMap<Currency, Vec<(i64, Decimal)>>,
    pub plans: BTreeMap<String, Plan>,
    pub coupons: BTreeMap<String, Coupon>,
    /// Subscriptions on this plan are free: 0 MRR, and they do not make a
    /// customer active (being on the free plan is being a lead).
    pub free_plan: Option<String>,
    pub period_start: Option<i64>,
    /// The exclusive end of the history: the "end of the data" for
    /// free-to-paid windows.
    pub horizon_exclusive: Option<i64>,
    pub tax_rates_bps: BTreeMap<String, i64>,
}

impl Catalog {
    /// An empty catalog in a base currency.
    pub fn new(base_currency: Currency) -> Catalog {
        Catalog {
            base_currency,
            fx_to_base: BTreeMap::from([(base_currency, Decimal::ONE)]),
            fx_changes: BTreeMap::new(),
            plans: BTreeMap::new(),
            coupons: BTreeMap::new(),
            free_plan: None,
            period_start: None,
            horizon_exclusive: None,
            tax_rates_bps: BTreeMap::new(),
        }
    }

    /// The rate (units of base per unit of `currency`) in force at `ts`.
    pub fn rate_at(&self, currency: Currency, ts: i64) -> Result<Decimal, MetricsError> {
        if currency == self.base_currency {
            return Ok(Decimal::ONE);
        }
        if let Some(changes) = self.fx_changes.get(&currency) {
            let i = changes.partition_point(|(from, _)| *from <= ts);
            if i > 0 {
                return Ok(changes[i - 1].1);
            }
        }
        self.fx_to_base.get(&currency).copied().ok_or_else(|| MetricsError::MissingFxRate(currency.code().to_string()))
    }

    /// Whether a currency can be converted to the base currency.
    pub fn has_rate(&self, currency: Currency) -> bool {
        currency == self.base_currency
            || self.fx_to_base.contains_key(&currency)
            || self.fx_changes.contains_key(&currency)
    }

    /// Converts minor units of `currency` at `ts` into base minor units.
    pub fn to_base(&self, amount: i64, currency: Currency, ts: i64) -> Result<i64, MetricsError> {
        self.rate_at(currency, ts)?.convert(amount, currency, self.base_currency)
    }

    pub fn is_free_plan(&self, plan_id: &str) -> bool {
        self.free_plan.as_deref() == Some(plan_id)
    }

    /// Reads the import format's catalog document. Errors name the field
    /// (`plans.pro.interval_months`).
    pub fn from_json(text: &str) -> Result<Catalog, ImportError> {
        let mut de = serde_json::Deserializer::from_str(text);
        let raw: RawCatalog = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let (field, message) = crate::error::split_serde_error(e.path().to_string(), e.inner().to_string());
            ImportError::Catalog { field, message }
        })?;
        raw.into_catalog()
    }

    /// Writes the catalog in the import format (changes of rates over time
    /// are not part of that format and are left out).
    pub fn to_json(&self) -> String {
        let raw = RawCatalog {
            base_currency: self.base_currency,
            fx_to_base: self.fx_to_base.clone(),
            plans: self
                .plans
                .iter()
                .map(|(id, p)| {
                    let raw = RawPlan {
                        product: p.product.clone(),
                        interval: p.interval,
                        interval_months: Some(p.interval_months),
                        prices: p.prices.clone(),
                    };
                    (id.clone(), raw)
                })
                .collect(),
            coupons: self
                .coupons
                .iter()
                .map(|(id, c)| {
                    let (kind, percent_off, amount_off) = match &c.off {
                        DiscountOff::Percent(p) => (CouponType::Percent, Some(*p), None),
                        DiscountOff::Fixed(a) => (CouponType::Fixed, None, Some(a.clone())),
                    };
                    let (duration, duration_in_months) = match c.duration {
                        DiscountDuration::Once => (DurationName::Once, None),
                        DiscountDuration::Repeating { months } => (DurationName::Repeating, Some(months)),
                        DiscountDuration::Forever => (DurationName::Forever, None),
                    };
                    (id.clone(), RawCoupon { kind, percent_off, amount_off, duration, duration_in_months })
                })
                .collect(),
            free_plan: self.free_plan.clone(),
            period_start: self.period_start,
            horizon_exclusive: self.horizon_exclusive,
            tax_rates_bps: self.tax_rates_bps.clone(),
        };
        // A struct of strings, integers and maps with string keys always
        // serializes.
        serde_json::to_string_pretty(&raw).unwrap_or_default()
    }
}

#[derive(Serialize, Deserialize)]
struct RawCatalog {
    base_currency: Currency,
    #[serde(default)]
    fx_to_base: BTreeMap<Currency, Decimal>,
    #[serde(default)]
    plans: BTreeMap<String, RawPlan>,
    #[serde(default)]
    coupons: BTreeMap<String, RawCoupon>,
    #[serde(default)]
    free_plan: Option<String>,
    #[serde(default, with = "serde_instant_opt")]
    period_start: Option<i64>,
    #[serde(default, with = "serde_instant_opt")]
    horizon_exclusive: Option<i64>,
    #[serde(default)]
    tax_rates_bps: BTreeMap<String, i64>,
}

#[derive(Serialize, Deserialize)]
struct RawPlan {
    #[serde(default)]
    product: Option<String>,
    interval: Interval,
    #[serde(default)]
    interval_months: Option<u32>,
    #[serde(default)]
    prices: BTreeMap<Currency, i64>,
}

#[derive(Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum CouponType {
    Percent,
    Fixed,
}

#[derive(Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum DurationName {
    Once,
    Repeating,
    Forever,
}

#[derive(Serialize, Deserialize)]
struct RawCoupon {
    #[serde(rename = "type")]
    kind: CouponType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    percent_off: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    amount_off: Option<BTreeMap<Currency, i64>>,
    duration: DurationName,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    duration_in_months: Option<u32>,
}

fn catalog_err(field: String, message: &str) -> ImportError {
    ImportError::Catalog { field: Some(field), message: message.to_string() }
}

impl RawCatalog {
    fn into_catalog(self) -> Result<Catalog, ImportError> {
        let mut fx_to_base = BTreeMap::new();
        for (c, r) in self.fx_to_base {
            if r.is_zero() {
                return Err(catalog_err(format!("fx_to_base.{c}"), "a rate must be positive"));
            }
            if c == self.base_currency && r.mantissa() != 10_i128.pow(r.scale()) {
                return Err(catalog_err(format!("fx_to_base.{c}"), "the base currency's rate must be 1"));
            }
            fx_to_base.insert(c, r);
        }
        fx_to_base.insert(self.base_currency, Decimal::ONE);
        let mut plans = BTreeMap::new();
        for (id, p) in self.plans {
            let months = p.interval_months.unwrap_or(match p.interval {
                Interval::Month => 1,
                Interval::Year => 12,
            });
            if months == 0 {
                return Err(catalog_err(format!("plans.{id}.interval_months"), "must be at least 1"));
            }
            if let Some((c, _)) = p.prices.iter().find(|(_, a)| **a < 0) {
                return Err(catalog_err(format!("plans.{id}.prices.{c}"), "a price cannot be negative"));
            }
            plans.insert(
                id,
                Plan { product: p.product, interval: p.interval, interval_months: months, prices: p.prices },
            );
        }
        let mut coupons = BTreeMap::new();
        for (id, c) in self.coupons {
            let off = match c.kind {
                CouponType::Percent => {
                    let pct = c.percent_off.ok_or_else(|| {
                        catalog_err(format!("coupons.{id}.percent_off"), "missing for a percent coupon")
                    })?;
                    if pct.is_zero() || pct.mantissa() > 100 * 10_i128.pow(pct.scale()) {
                        return Err(catalog_err(format!("coupons.{id}.percent_off"), "must be in (0, 100]"));
                    }
                    DiscountOff::Percent(pct)
                }
                CouponType::Fixed => {
                    let amounts = c
                        .amount_off
                        .ok_or_else(|| catalog_err(format!("coupons.{id}.amount_off"), "missing for a fixed coupon"))?;
                    if let Some((cur, _)) = amounts.iter().find(|(_, a)| **a < 0) {
                        return Err(catalog_err(format!("coupons.{id}.amount_off.{cur}"), "cannot be negative"));
                    }
                    DiscountOff::Fixed(amounts)
                }
            };
            let duration = match c.duration {
                DurationName::Once => DiscountDuration::Once,
                DurationName::Forever => DiscountDuration::Forever,
                DurationName::Repeating => match c.duration_in_months {
                    Some(m) if m > 0 => DiscountDuration::Repeating { months: m },
                    _ => {
                        return Err(catalog_err(
                            format!("coupons.{id}.duration_in_months"),
                            "a repeating coupon needs a positive number of months",
                        ))
                    }
                },
            };
            coupons.insert(id, Coupon { off, duration });
        }
        if let Some((country, _)) = self.tax_rates_bps.iter().find(|(_, b)| **b < 0) {
            return Err(catalog_err(format!("tax_rates_bps.{country}"), "cannot be negative"));
        }
        Ok(Catalog {
            base_currency: self.base_currency,
            fx_to_base,
            fx_changes: BTreeMap::new(),
            plans,
            coupons,
            free_plan: self.free_plan,
            period_start: self.period_start,
            horizon_exclusive: self.horizon_exclusive,
            tax_rates_bps: self.tax_rates_bps,
        })
    }
}

/// What a discount takes off one period's gross amount.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiscountOff {
    /// `round(gross × percent ÷ 100)`, half away from zero.
    Percent(Decimal),
    /// `min(amount_off[currency], gross)`; nothing in a currency it lacks.
    Fixed(BTreeMap<Currency, i64>),
}

/// Which service periods a discount applies to, counted from its start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiscountDuration {
    /// The period starting exactly at `start`.
    Once,
    /// Periods starting in `[start, start + months calendar months)`.
    Repeating { months: u32 },
    /// Every period starting at or after `start`.
    Forever,
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"{
        "base_currency": "USD",
        "fx_to_base": {"USD": "1", "EUR": "1.08", "JPY": "0.0067"},
        "plans": {
            "free": {"product": "free", "interval": "month", "interval_months": 1, "prices": {"USD": 0}},
            "pro_m": {"product": "pro", "interval": "month", "interval_months": 1, "prices": {"USD": 1999, "EUR": 1899}},
            "pro_y": {"product": "pro", "interval": "year", "interval_months": 12, "prices": {"USD": 11994}}
        },
        "coupons": {
            "half3": {"type": "percent", "percent_off": 50, "duration": "repeating", "duration_in_months": 3},
            "five": {"type": "fixed", "amount_off": {"USD": 500}, "duration": "once"},
            "pct": {"type": "percent", "percent_off": 12.5, "duration": "forever"}
        },
        "free_plan": "free",
        "period_start": "2024-01-01T00:00:00Z",
        "horizon_exclusive": "2025-01-01T00:00:00Z",
        "tax_rates_bps": {"DE": 1900}
    }"#;

    #[test]
    fn reads_the_catalog() {
        let c = Catalog::from_json(DOC).unwrap();
        assert_eq!(c.base_currency, Currency::USD);
        assert_eq!(c.fx_to_base[&Currency::EUR], "1.08".parse().unwrap());
        assert_eq!(c.plans["pro_y"].interval_months, 12);
        assert_eq!(c.plans["pro_m"].prices[&Currency::EUR], 1899);
        assert_eq!(c.coupons["half3"].duration, DiscountDuration::Repeating { months: 3 });
        assert_eq!(c.coupons["pct"].off, DiscountOff::Percent("12.5".parse().unwrap()));
        assert!(c.is_free_plan("free"));
        assert_eq!(c.horizon_exclusive, Some(1_735_689_600));
        assert_eq!(c.to_base(999, Currency::EUR, 0).unwrap(), 1079);
        assert!(matches!(c.to_base(1, Currency::GBP, 0), Err(MetricsError::MissingFxRate(_))));
        // The written form reads back to the same catalog.
        assert_eq!(Catalog::from_json(&c.to_json()).unwrap(), c);
    }

    #[test]
    fn errors_name_the_field() {
        let bad = DOC.replace(r#""interval_months": 12"#, r#""interval_months": "twelve""#);
        let e = Catalog::from_json(&bad).unwrap_err();
        assert!(matches!(&e, ImportError::Catalog { field: Some(f), .. } if f == "plans.pro_y.interval_months"), "{e}");
        let bad = DOC.replace(r#""percent_off": 50"#, r#""percent_off": 150"#);
        let e = Catalog::from_json(&bad).unwrap_err();
        assert!(e.to_string().contains("coupons.half3.percent_off"), "{e}");
        let bad = DOC.replace(r#""EUR": "1.08""#, r#""EUR": "1,08""#);
        assert!(Catalog::from_json(&bad).unwrap_err().to_string().contains("fx_to_base"));
        let bad = DOC.replace(r#""base_currency": "USD","#, "");
        assert!(Catalog::from_json(&bad).unwrap_err().to_string().contains("base_currency"));
    }

    #[test]
    fn rates_change_over_time() {
        let mut c = Catalog::new(Currency::USD);
        c.fx_to_base.insert(Currency::EUR, "1.10".parse().unwrap());
        c.fx_changes.insert(Currency::EUR, vec![(1000, "1.20".parse().unwrap())]);
        assert_eq!(c.rate_at(Currency::EUR, 999).unwrap(), "1.10".parse().unwrap());
        assert_eq!(c.rate_at(Currency::EUR, 1000).unwrap(), "1.20".parse().unwrap());
        assert_eq!(c.rate_at(Currency::USD, 5).unwrap(), Decimal::ONE);
    }
}
