//! The Bayesian normal model of an effect (`gbstats`' `EffectBayesianABTest`).
//!
//! The data say the effect is about N(estimate, SE²). With a flat (improper)
//! prior the posterior is that same normal; with a proper prior N(m, s²) it is
//! the precision-weighted combination: precision 1/SE² + 1/s², mean
//! (estimate/SE² + m/s²) / precision. The prior is stated on the relative
//! scale ("a lift of 0 ± 30 %"); for absolute effects its mean is scaled by
//! |baseline mean| and its variance by the baseline mean squared, as `gbstats`
//! does with its default relative prior.
//!
//! From the posterior N(μ, σ²):
//! - chance to win = P(effect > 0) = Φ(μ/σ);
//! - risk (expected loss) = [E[max(effect, 0)], E[max(−effect, 0)]]: what
//!   keeping the baseline loses, then what shipping the variation loses, in
//!   the effect's units (closed forms μΦ(μ/σ) + σφ(μ/σ) and
//!   −μΦ(−μ/σ) + σφ(μ/σ));
//! - the credible interval μ ± z_{1 − α/2} σ.

use serde::{Deserialize, Serialize};

use super::error::{finite, open_unit, positive, StatsError};
use super::frequentist::Uplift;
use super::moments::{DifferenceType, Effect};
use super::special;

/// A normal prior on the relative effect.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prior {
    /// Use the prior (a proper prior); when false the prior is flat.
    #[serde(default)]
    pub proper: bool,
    #[serde(default)]
    pub mean: f64,
    #[serde(default = "default_prior_stddev")]
    pub stddev: f64,
}

fn default_prior_stddev() -> f64 {
    0.3
}

impl Default for Prior {
    fn default() -> Self {
        Prior { proper: false, mean: 0.0, stddev: default_prior_stddev() }
    }
}

impl Prior {
    pub(crate) fn validate(&self, path: &str) -> Result<(), StatsError> {
        finite(&format!("{path}.mean"), self.mean)?;
        positive(&format!("{path}.stddev"), self.stddev)?;
        Ok(())
    }
}

/// A Bayesian result.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BayesianResult {
    /// The posterior mean of the effect.
    pub expected: f64,
    /// The 1 − alpha credible interval, [lower, upper].
    pub ci: [f64; 2],
    pub uplift: Uplift,
    /// P(effect > 0).
    pub chance_to_win: f64,
    /// [risk of keeping the baseline, risk of shipping the variation].
    pub risk: [f64; 2],
}

/// P(X > 0) for X ~ N(mean, stddev²).
pub fn chance_to_win(mean: f64, stddev: f64) -> Result<f64, StatsError> {
    finite("mean", mean)?;
    positive("stddev", stddev)?;
    special::normal_cdf(mean / stddev)
}

/// [E[max(X, 0)], E[max(−X, 0)]] for X ~ N(mean, stddev²): the expected loss
/// of keeping the baseline and of shipping the variation.
pub fn risk(mean: f64, stddev: f64) -> Result<[f64; 2], StatsError> {
    finite("mean", mean)?;
    positive("stddev", stddev)?;
    let z = mean / stddev;
    let density = special::normal_pdf(z)?;
    let keep = mean * special::normal_cdf(z)? + stddev * density;
    let ship = -mean * special::normal_cdf(-z)? + stddev * density;
    // Rounding can leave −0.0 or a hair below zero deep in a tail.
    Ok([keep.max(0.0), ship.max(0.0)])
}

/// The Bayesian test of an effect under `prior` (on the relative scale).
pub fn bayesian_test(effect: &Effect, prior: &Prior, alpha: f64) -> Result<BayesianResult, StatsError> {
    effect.validate()?;
    prior.validate("prior")?;
    open_unit("alpha", alpha)?;
    let (prior_mean, prior_variance) = match effect.difference {
        DifferenceType::Relative => (prior.mean, prior.stddev * prior.stddev),
        DifferenceType::Absolute => {
            let base = effect.baseline_mean;
            (prior.mean * base.abs(), prior.stddev * prior.stddev * base * base)
        }
    };
    let data_variance = effect.standard_error * effect.standard_error;
    let (mean, precision) = if prior.proper {
        if !(prior_variance > 0.0 && prior_variance.is_finite()) {
            return Err(StatsError::new(
                "effect.baseline_mean",
                "a proper prior on an absolute effect needs a baseline mean other than zero",
            ));
        }
        let precision = 1.0 / data_variance + 1.0 / prior_variance;
        ((effect.estimate / data_variance + prior_mean / prior_variance) / precision, precision)
    } else {
        (effect.estimate, 1.0 / data_variance)
    };
    let stddev = (1.0 / precision).sqrt();
    if !(mean.is_finite() && stddev.is_finite() && stddev > 0.0) {
        return Err(StatsError::new("effect.standard_error", "gives no finite posterior"));
    }
    let half = special::normal_quantile(1.0 - alpha / 2.0)? * stddev;
    Ok(BayesianResult {
        expected: mean,
        ci: [mean - half, mean + half],
        uplift: Uplift { mean, stddev },
        chance_to_win: chance_to_win(mean, stddev)?,
        risk: risk(mean, stddev)?,
    })
}
