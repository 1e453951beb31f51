//! Fixed-sample frequentist tests of an [`Effect`]: Welch's t-test (as
//! `gbstats`' two-sided `TwoSidedTTest`) and its large-sample z variant.

use serde::{Deserialize, Serialize};

use super::error::{open_unit, StatsError};
use super::moments::Effect;
use super::special;

/// The normal model of an effect's sampling distribution: mean and
/// standard deviation (`gbstats`' "uplift").
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Uplift {
    pub mean: f64,
    pub stddev: f64,
}

/// A two-sided frequentist result.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FrequentistResult {
    /// The point estimate of the effect.
    pub expected: f64,
    /// The 1 − alpha confidence interval, [lower, upper].
    pub ci: [f64; 2],
    /// Two-sided p-value against no effect.
    pub p_value: f64,
    pub uplift: Uplift,
}

/// Welch's t-test: t = estimate / standard error with the Welch–Satterthwaite
/// degrees of freedom; p = 2 P(T > |t|) and the interval
/// estimate ± t_{1 − alpha/2, dof} · standard error.
pub fn welch_t_test(effect: &Effect, alpha: f64) -> Result<FrequentistResult, StatsError> {
    effect.validate()?;
    open_unit("alpha", alpha)?;
    let t = effect.estimate / effect.standard_error;
    let p_value = (2.0 * special::students_t_sf(t.abs(), effect.dof)?).min(1.0);
    let half = special::students_t_quantile(1.0 - alpha / 2.0, effect.dof)? * effect.standard_error;
    Ok(result(effect, half, p_value))
}

/// The z-test: as [`welch_t_test`] with the normal distribution in place of
/// Student's t (the limit of many units).
pub fn z_test(effect: &Effect, alpha: f64) -> Result<FrequentistResult, StatsError> {
    effect.validate()?;
    open_unit("alpha", alpha)?;
    let z = effect.estimate / effect.standard_error;
    let p_value = (2.0 * special::normal_sf(z.abs())?).min(1.0);
    let half = special::normal_quantile(1.0 - alpha / 2.0)? * effect.standard_error;
    Ok(result(effect, half, p_value))
}

pub(crate) fn result(effect: &Effect, half_width: f64, p_value: f64) -> FrequentistResult {
    FrequentistResult {
        expected: effect.estimate,
        ci: [effect.estimate - half_width, effect.estimate + half_width],
        p_value,
        uplift: Uplift { mean: effect.estimate, stddev: effect.standard_error },
    }
}
