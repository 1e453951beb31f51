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
        self.validate().map_err(MoneyError::InvalidPricing)?;
        let q = i64::try_from(quantity).map_err(|_| overflow())?;
        match self {
            UsagePricing::PerUnit { unit_amount } => q.checked_mul(*unit_amount).ok_or_else(overflow),
            UsagePricing::Package { size, amount } => {
                let size = std::num::NonZeroU64::new(*size).ok_or(MoneyError::InvalidDenominator(0))?;
                let packages = i64::try_from(quantity.div_ceil(size.get())).map_err(|_| overflow())?;
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
                    // Validated tiers grow, so `top > below` here.
                    let units = top.checked_sub(below).ok_or_else(overflow)?;
                    let units = i64::try_from(units).map_err(|_| overflow())?;
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

    #[test]
    fn unvalidated_pricing_is_an_error_not_a_panic() {
        // A package of size 0 would divide by zero.
        assert!(UsagePricing::Package { size: 0, amount: 500 }.amount(10).is_err());
        assert!(UsagePricing::Package { size: 0, amount: 500 }.amount(0).is_err());
        // Tiers whose bounds shrink would count a negative number of units.
        let shrinking = UsagePricing::Graduated {
            tiers: vec![
                Tier { up_to: Some(10), unit_amount: 1, flat_amount: 0 },
                Tier { up_to: Some(5), unit_amount: 1, flat_amount: 0 },
                Tier { up_to: None, unit_amount: 1, flat_amount: 0 },
            ],
        };
        assert!(shrinking.validate().is_err());
        assert!(shrinking.amount(20).is_err());
        assert_eq!(UsagePricing::PerUnit { unit_amount: i64::MAX }.amount(2), Err(MoneyError::Overflow));
        assert_eq!(UsagePricing::PerUnit { unit_amount: 1 }.amount(u64::MAX), Err(MoneyError::Overflow));
        // An empty tier list prices nothing (and does not validate).
        assert!(UsagePricing::Graduated { tiers: vec![] }.validate().is_err());
    }

    proptest::proptest! {
        /// Any pricing and quantity: an amount or an error. A pricing that
        /// validates is monotone in the quantity.
        #[test]
        fn amounts_never_panic(
            size in proptest::num::u64::ANY, amount in proptest::num::i64::ANY,
            tiers in proptest::collection::vec((proptest::option::of(0u64..2_000), -5i64..1_000, -5i64..1_000), 0..5),
            q in proptest::num::u64::ANY, small in 0u64..5_000,
        ) {
            let _ = UsagePricing::Package { size, amount }.amount(q);
            let _ = UsagePricing::PerUnit { unit_amount: amount }.amount(q);
            let g = UsagePricing::Graduated {
                tiers: tiers.into_iter().map(|(up_to, unit_amount, flat_amount)| Tier { up_to, unit_amount, flat_amount }).collect(),
            };
            let _ = g.amount(q);
            if g.validate().is_ok() {
                let a = g.amount(small).unwrap();
                let b = g.amount(small + 1).unwrap();
                proptest::prop_assert!(a <= b);
            }
        }
    }

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
