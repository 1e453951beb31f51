//! Prices for metered usage, charged in arrears on the renewal invoice:
//! per unit, per started package, or graduated tiers (each unit priced by
//! the tier it falls in, plus each reached tier's flat fee).

use crate::money::MoneyError;
use serde::{Deserialize, Serialize};

/// One tier of a graduated price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    /// The last unit of the tier; `None` for the last tier.
    pub up_to: Option<u64>,
    /// Minor units per unit in this tier.
    #[serde(default)]
    pub unit_amount: i64,
    /// Minor units once the tier is reached.
    #[serde(default)]
    pub flat_amount: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "model", deny_unknown_fields)]
pub enum UsagePricing {
    /// `quantity × unit_amount`.
    PerUnit { unit_amount: i64 },
    /// `⌈quantity ÷ size⌉ × amount`: every started package is paid in full.
    Package { size: u64, amount: i64 },
    /// Units priced by the tier they fall in.
    Graduated { tiers: Vec<Tier> },
}

/// A metered component of a plan in one currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeteredSpec {
    /// The metric whose period usage is charged.
    pub metric: String,
    /// ISO 4217 code.
    pub currency: String,
    pub pricing: UsagePricing,
}

fn overflow() -> MoneyError {
    MoneyError::Overflow
}

impl UsagePricing {
    /// Checks the shape: positive package size; tiers in increasing order,
    /// only the last one open-ended; no negative amounts.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            UsagePricing::PerUnit { unit_amount } if *unit_amount < 0 => Err("unit_amount must not be negative".into()),
            UsagePricing::Package { size: 0, .. } => Err("size must be at least 1".into()),
            UsagePricing::Package { amount, .. } if *amount < 0 => Err("amount must not be negative".into()),
            UsagePricing::Graduated { tiers } => {
                if tiers.is_empty() {
                    return Err("at least one tier".into());
                }
                let mut last = 0u64;
                for (i, t) in tiers.iter().enumerate() {
                    if t.unit_amount < 0 || t.flat_amount < 0 {
                        return Err(format!("tiers[{i}]: amounts must not be negative"));
                    }
                    match (t.up_to, i + 1 == tiers.len()) {
                        (None, false) => return Err(format!("tiers[{i}]: only the last tier is open-ended")),
                        (Some(u), _) if u <= last && i > 0 => {
                            return Err(format!("tiers[{i}]: up_to must grow from tier to tier"))
                        }
                        (Some(u), _) => last = u,
                        (None, true) => {}
                    }
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// The charge for `quantity` units, in minor units.
    pub fn amount(&self, quantity: u64) -> Result<i64, MoneyError> {
        let q = i64::try_from(quantity).map_err(|_| overflow())?;
        match self {
            UsagePricing::PerUnit { unit_amount } => q.checked_mul(*unit_amount).ok_or_else(overflow),
            UsagePricing::Package { size, amount } => {
                let packages = i64::try_from(quantity.div_ceil(*size)).map_err(|_| overflow())?;
                packages.checked_mul(*amount).ok_or_else(overflow)
            }
            UsagePricing::Graduated { tiers } => {
                let mut total: i64 = 0;
                let mut below = 0u64;
                for t in tiers {
                    if quantity <= below {
                        break;
                    }
                    let top = t.up_to.unwrap_or(u64::MAX).min(quantity);
                    let units = i64::try_from(top - below).map_err(|_| overflow())?;
                    total = units
                        .checked_mul(t.unit_amount)
                        .and_then(|a| a.checked_add(t.flat_amount))
                        .and_then(|a| total.checked_add(a))
                        .ok_or_else(overflow)?;
                    below = top;
                }
                Ok(total)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graduated() -> UsagePricing {
        UsagePricing::Graduated {
            tiers: vec![
                Tier { up_to: Some(100), unit_amount: 0, flat_amount: 0 },
                Tier { up_to: Some(1_000), unit_amount: 5, flat_amount: 0 },
                Tier { up_to: None, unit_amount: 2, flat_amount: 1_000 },
            ],
        }
    }

    #[test]
    fn per_unit_and_packages() {
        assert_eq!(UsagePricing::PerUnit { unit_amount: 3 }.amount(7), Ok(21));
        let p = UsagePricing::Package { size: 100, amount: 500 };
        assert_eq!(p.amount(0), Ok(0));
        assert_eq!(p.amount(1), Ok(500), "a started package is paid in full");
        assert_eq!(p.amount(100), Ok(500));
        assert_eq!(p.amount(101), Ok(1_000));
    }

    #[test]
    fn graduated_tiers_price_each_unit_by_its_tier() {
        let g = graduated();
        assert_eq!(g.amount(0), Ok(0));
        assert_eq!(g.amount(100), Ok(0), "the first 100 are included");
        assert_eq!(g.amount(101), Ok(5));
        assert_eq!(g.amount(1_000), Ok(900 * 5));
        assert_eq!(g.amount(1_001), Ok(900 * 5 + 2 + 1_000), "reaching the last tier adds its flat fee");
        assert_eq!(g.amount(2_000), Ok(900 * 5 + 1_000 * 2 + 1_000));
    }

    #[test]
    fn bad_shapes_and_overflow_are_errors() {
        assert!(graduated().validate().is_ok());
        assert!(UsagePricing::Package { size: 0, amount: 1 }.validate().is_err());
        assert!(UsagePricing::PerUnit { unit_amount: -1 }.validate().is_err());
        let open_middle = UsagePricing::Graduated {
            tiers: vec![
                Tier { up_to: None, unit_amount: 1, flat_amount: 0 },
                Tier { up_to: Some(5), unit_amount: 1, flat_amount: 0 },
            ],
        };
        assert!(open_middle.validate().is_err());
        let shrinking = UsagePricing::Graduated {
            tiers: vec![
                Tier { up_to: Some(10), unit_amount: 1, flat_amount: 0 },
                Tier { up_to: Some(5), unit_amount: 1, flat_amount: 0 },
            ],
        };
        assert!(shrinking.validate().is_err());
        assert!(UsagePricing::PerUnit { unit_amount: i64::MAX }.amount(2).is_err());
    }
}
