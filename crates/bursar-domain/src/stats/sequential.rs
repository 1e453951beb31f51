//! Sequential testing with asymptotic confidence sequences (Waudby-Smith et
//! al., "Time-uniform central limit theory and asymptotic confidence
//! sequences", arXiv 2103.06476v7, equations 9, 155 and 161), as `gbstats`'
//! `SequentialTwoSidedTTest` uses them: the interval stays valid however often
//! the experiment is looked at.
//!
//! With N the units in both arms, s² = N · SE² and the tuning parameter τ
//! (the sample size at which the interval is tightest):
//!
//! - ρ = √((−2 ln α + ln(−2 ln α + 1)) / τ)
//! - half-width = s · √(2 (N ρ² + 1) / (N ρ)² · ln(√(N ρ² + 1) / α))
//! - p-value = min(1, 1 / e) with the e-value
//!   e = exp(ρ² N (estimate / s)² / (2 (N ρ² + 1))) / √(N ρ² + 1).

use super::error::{open_unit, positive, StatsError};
use super::frequentist::{result, FrequentistResult};
use super::moments::Effect;

/// The default tuning parameter τ (`gbstats`' `sequential_tuning_parameter`).
pub const DEFAULT_TUNING: f64 = 5000.0;

/// ρ of the confidence sequence for a two-sided level `alpha` and tuning τ.
pub fn sequential_rho(alpha: f64, tuning: f64) -> Result<f64, StatsError> {
    open_unit("alpha", alpha)?;
    positive("tuning", tuning)?;
    let l = -2.0 * alpha.ln();
    Ok(((l + (l + 1.0).ln()) / tuning).sqrt())
}

/// The two-sided sequential test of an effect.
pub fn sequential_test(effect: &Effect, alpha: f64, tuning: f64) -> Result<FrequentistResult, StatsError> {
    effect.validate()?;
    let rho = sequential_rho(alpha, tuning)?;
    let n = effect.n_total as f64;
    let s2 = effect.standard_error.powi(2) * n;
    let nr2 = n * rho * rho;
    let half = (s2 * 2.0 * (nr2 + 1.0) * ((nr2 + 1.0).sqrt() / alpha).ln() / (n * rho).powi(2)).sqrt();
    // ln e-value, formed in logs so a decisive result cannot overflow.
    let st2 = effect.estimate.powi(2) * n / effect.standard_error.powi(2);
    let ln_e = rho * rho * st2 / (2.0 * (nr2 + 1.0)) - 0.5 * (nr2 + 1.0).ln();
    let p_value = (-ln_e).exp().min(1.0);
    if !half.is_finite() {
        return Err(StatsError::new("effect.standard_error", "gives no finite interval"));
    }
    Ok(result(effect, half, p_value))
}
