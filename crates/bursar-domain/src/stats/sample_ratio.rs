//! The sample-ratio-mismatch check: Pearson's chi-square test of the units
//! each arm received against the split the assignment intends (`gbstats`'
//! `check_srm`), with k − 1 degrees of freedom for k arms. A p-value below
//! [`SRM_THRESHOLD`] means assignment or exposure logging is broken and the
//! experiment's results should not be used to pick a winner.

use serde::Serialize;

use super::error::StatsError;
use super::special;

/// The p-value below which a sample ratio is flagged.
pub const SRM_THRESHOLD: f64 = 0.001;

/// How far intended weights may stray from summing to one.
pub const WEIGHT_SUM_TOLERANCE: f64 = 1e-4;

/// The result of the check.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SrmCheck {
    pub chi_square: f64,
    pub df: u32,
    pub p_value: f64,
    /// `p_value < SRM_THRESHOLD`.
    pub flagged: bool,
}

/// Checks the weights: one per arm, each above zero, summing to one.
/// `field` is how errors name the weights, with `[i]` appended for one.
pub(crate) fn validate_weights(weights: &[f64], field: &dyn Fn(Option<usize>) -> String) -> Result<(), StatsError> {
    for (i, &w) in weights.iter().enumerate() {
        if !(w.is_finite() && w > 0.0 && w <= 1.0) {
            return Err(StatsError::new(field(Some(i)), format!("a weight must lie above 0 and at most 1, not {w}")));
        }
    }
    let total: f64 = weights.iter().sum();
    if (total - 1.0).abs() > WEIGHT_SUM_TOLERANCE {
        return Err(StatsError::new(field(None), format!("the weights must sum to 1, not {total}")));
    }
    Ok(())
}

/// The check for `users` per arm against intended `weights` (each above zero,
/// summing to one within [`WEIGHT_SUM_TOLERANCE`]; they are normalised before
/// use). With no users at all there is no evidence of a mismatch: p = 1.
pub fn sample_ratio_mismatch(users: &[u64], weights: &[f64]) -> Result<SrmCheck, StatsError> {
    if users.len() < 2 {
        return Err(StatsError::new("users", "the check needs at least two arms"));
    }
    if weights.len() != users.len() {
        return Err(StatsError::new(
            "weights",
            format!("there are {} weights for {} arms", weights.len(), users.len()),
        ));
    }
    validate_weights(weights, &|i| i.map_or_else(|| "weights".to_string(), |i| format!("weights[{i}]")))?;
    let df = u32::try_from(users.len() - 1).map_err(|_| StatsError::new("users", "too many arms"))?;
    Ok(check_unchecked(users, weights, df))
}

pub(crate) fn check_unchecked(users: &[u64], weights: &[f64], df: u32) -> SrmCheck {
    let total: f64 = users.iter().map(|&u| u as f64).sum();
    if total == 0.0 {
        return SrmCheck { chi_square: 0.0, df, p_value: 1.0, flagged: false };
    }
    let weight_total: f64 = weights.iter().sum();
    let chi_square: f64 = users
        .iter()
        .zip(weights)
        .map(|(&o, &w)| {
            let expected = w / weight_total * total;
            let d = o as f64 - expected;
            d * d / expected
        })
        .sum();
    // Q(df/2, x/2) cannot fail for df ≥ 1 and a finite x ≥ 0; were it ever
    // to, a p-value of 0 flags the arms for a look rather than hiding it.
    let p_value = special::chi_square_sf(chi_square, f64::from(df)).unwrap_or(0.0);
    SrmCheck { chi_square, df, p_value, flagged: p_value < SRM_THRESHOLD }
}
