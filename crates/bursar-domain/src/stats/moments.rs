//! Per-arm sufficient statistics and the effect of a treatment on a metric,
//! with its standard error: the "effect moments" every test starts from.
//!
//! Definitions follow GrowthBook's `gbstats`:
//!
//! - A binomial metric's variance is p (1 − p) with p = sum / n; a mean
//!   metric's is the sample variance (sum_squares − sum² / n) / (n − 1).
//! - A ratio metric (Σ numerator / Σ denominator over the arm's units) has
//!   the delta-method variance per unit
//!   Var(M)/μ_D² + Var(D) μ_M²/μ_D⁴ − 2 Cov(M, D) μ_M/μ_D³.
//! - CUPED adjusts the metric Y by a pre-period covariate X: Y − θ X, with θ
//!   the slope Cov(Y, X) / Var(X) of the two arms pooled; the adjusted
//!   variance per unit is Var(Y) + θ² Var(X) − 2 θ Cov(Y, X). θ = 0 (no
//!   variance in either period) falls back to the unadjusted metric.
//! - The absolute effect is μ_B − μ_A with variance V_B / n_B + V_A / n_A.
//! - The relative effect is (μ_B − μ_A) / |μ_A| (μ_A unadjusted) with the
//!   delta-method variance of a ratio of independent means,
//!   (V_B / n_B) / μ_A² + (V_A / n_A) μ_B² / μ_A⁴; with CUPED it is the delta
//!   method applied to (Ȳ_B − θ X̄_B − Ȳ_A + θ X̄_A) / Ȳ_A, taking the arms'
//!   pre-period means as equal (they are, in expectation, under
//!   randomisation).
//! - Welch–Satterthwaite degrees of freedom come from the per-unit variances
//!   and counts of the two arms.

use super::error::{finite, StatsError};

/// Whether an effect is a difference of means or a difference relative to
/// the baseline mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DifferenceType {
    /// (μ_B − μ_A) / |μ_A|: "+12 %".
    #[default]
    Relative,
    /// μ_B − μ_A, in the metric's own units.
    Absolute,
}

/// The sums of one per-unit quantity over an arm's units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sums {
    /// A 0/1 quantity: `sum` units had it (its sum of squares is `sum`).
    Binomial { sum: f64 },
    /// Any real quantity: Σ x and Σ x².
    Continuous { sum: f64, sum_squares: f64 },
}

impl Sums {
    fn sum(&self) -> f64 {
        match *self {
            Sums::Binomial { sum } | Sums::Continuous { sum, .. } => sum,
        }
    }

    fn mean(&self, n: f64) -> f64 {
        if n == 0.0 {
            0.0
        } else {
            self.sum() / n
        }
    }

    /// The per-unit variance (population form for 0/1, sample form else).
    fn variance(&self, n: f64) -> f64 {
        match *self {
            Sums::Binomial { .. } => {
                let p = self.mean(n);
                p * (1.0 - p)
            }
            Sums::Continuous { sum, sum_squares } => {
                if n <= 1.0 {
                    0.0
                } else {
                    (sum_squares - sum * sum / n) / (n - 1.0)
                }
            }
        }
    }

    fn same_kind(&self, other: &Sums) -> bool {
        matches!(
            (self, other),
            (Sums::Binomial { .. }, Sums::Binomial { .. }) | (Sums::Continuous { .. }, Sums::Continuous { .. })
        )
    }

    fn plus(&self, other: &Sums) -> Sums {
        match (*self, *other) {
            (Sums::Binomial { sum: a }, Sums::Binomial { sum: b }) => Sums::Binomial { sum: a + b },
            _ => Sums::Continuous {
                sum: self.sum() + other.sum(),
                sum_squares: self.sum_squares() + other.sum_squares(),
            },
        }
    }

    fn sum_squares(&self) -> f64 {
        match *self {
            Sums::Binomial { sum } => sum,
            Sums::Continuous { sum_squares, .. } => sum_squares,
        }
    }

    fn validate(&self, n: u64, path: &str) -> Result<(), StatsError> {
        match *self {
            Sums::Binomial { sum } => {
                finite(&format!("{path}.sum"), sum)?;
                if sum < 0.0 || sum > n as f64 {
                    return Err(StatsError::new(
                        format!("{path}.sum"),
                        format!("a binomial count must lie between 0 and n = {n}, not {sum}"),
                    ));
                }
            }
            Sums::Continuous { sum, sum_squares } => {
                finite(&format!("{path}.sum"), sum)?;
                check_sum_squares(&format!("{path}.sum_squares"), n, sum, sum_squares)?;
            }
        }
        Ok(())
    }
}

/// Σ x² must be at least (Σ x)² / n (a variance is never negative); rounding
/// in a warehouse's floating-point sums may undershoot by a hair, which is
/// let through as zero variance.
pub(crate) fn check_sum_squares(field: &str, n: u64, sum: f64, sum_squares: f64) -> Result<(), StatsError> {
    finite(field, sum_squares)?;
    let n = n as f64;
    let floor = if n > 0.0 { sum * sum / n } else { 0.0 };
    if sum_squares < 0.0 || sum_squares - floor < -1e-9 * floor.max(1.0) {
        return Err(StatsError::new(
            field,
            format!("gives a negative variance: the sum of squares {sum_squares} is below sum² / n = {floor}"),
        ));
    }
    Ok(())
}

/// Cov of two per-unit quantities from their sums and Σ xy.
fn covariance(n: f64, a: &Sums, b: &Sums, sum_product: f64) -> f64 {
    if n <= 1.0 {
        return 0.0;
    }
    match (a, b) {
        (Sums::Binomial { .. }, Sums::Binomial { .. }) => sum_product / n - a.sum() * b.sum() / (n * n),
        _ => (sum_product - a.sum() * b.sum() / n) / (n - 1.0),
    }
}

/// The delta-method variance of M / D from the moments of M and D.
fn variance_of_ratio(mean_m: f64, var_m: f64, mean_d: f64, var_d: f64, cov_md: f64) -> f64 {
    if mean_d == 0.0 {
        return 0.0;
    }
    var_m / mean_d.powi(2) + var_d * mean_m.powi(2) / mean_d.powi(4) - 2.0 * cov_md * mean_m / mean_d.powi(3)
}

/// One arm's sufficient statistics for one metric.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Statistic {
    /// A binomial or mean metric: one value per unit.
    Single { n: u64, values: Sums },
    /// A ratio metric: Σ numerator / Σ denominator over the arm's `n` units,
    /// with Σ numerator·denominator.
    Ratio { n: u64, numerator: Sums, denominator: Sums, sum_product: f64 },
    /// A metric with a pre-period covariate for CUPED: the metric `post`, the
    /// covariate `pre` (of the same kind) and Σ post·pre.
    Adjusted { n: u64, post: Sums, pre: Sums, sum_product: f64 },
}

impl Statistic {
    /// The number of units.
    pub fn n(&self) -> u64 {
        match *self {
            Statistic::Single { n, .. } | Statistic::Ratio { n, .. } | Statistic::Adjusted { n, .. } => n,
        }
    }

    /// The metric's mean, before any CUPED adjustment.
    pub fn unadjusted_mean(&self) -> f64 {
        let n = self.n() as f64;
        match self {
            Statistic::Single { values, .. } => values.mean(n),
            Statistic::Ratio { numerator, denominator, .. } => {
                if denominator.sum() == 0.0 {
                    0.0
                } else {
                    numerator.sum() / denominator.sum()
                }
            }
            Statistic::Adjusted { post, .. } => post.mean(n),
        }
    }

    /// The per-unit variance before adjustment (the delta-method variance for
    /// a ratio metric).
    pub fn unadjusted_variance(&self) -> f64 {
        self.variance(0.0)
    }

    fn mean(&self, theta: f64) -> f64 {
        match self {
            Statistic::Adjusted { n, post, pre, .. } => post.mean(*n as f64) - theta * pre.mean(*n as f64),
            _ => self.unadjusted_mean(),
        }
    }

    fn variance(&self, theta: f64) -> f64 {
        let n = self.n() as f64;
        match self {
            Statistic::Single { values, .. } => values.variance(n),
            Statistic::Ratio { numerator, denominator, sum_product, .. } => {
                let mean_d = denominator.mean(n);
                if mean_d == 0.0 || n <= 1.0 {
                    return 0.0;
                }
                variance_of_ratio(
                    numerator.mean(n),
                    numerator.variance(n),
                    mean_d,
                    denominator.variance(n),
                    covariance(n, numerator, denominator, *sum_product),
                )
            }
            Statistic::Adjusted { post, pre, sum_product, .. } => {
                if n <= 1.0 {
                    return 0.0;
                }
                post.variance(n) + theta * theta * pre.variance(n)
                    - 2.0 * theta * covariance(n, post, pre, *sum_product)
            }
        }
    }

    /// Checks the sums: finite, counts within n, no negative variance. Field
    /// names are those of the variants, under `path`.
    pub fn validate(&self, path: &str) -> Result<(), StatsError> {
        let n = self.n();
        if n == 0 {
            return Err(StatsError::new(format!("{path}.n"), "an arm needs at least one unit"));
        }
        match self {
            Statistic::Single { values, .. } => values.validate(n, &format!("{path}.values")),
            Statistic::Ratio { numerator, denominator, sum_product, .. } => {
                numerator.validate(n, &format!("{path}.numerator"))?;
                denominator.validate(n, &format!("{path}.denominator"))?;
                finite(&format!("{path}.sum_product"), *sum_product).map(|_| ())
            }
            Statistic::Adjusted { post, pre, sum_product, .. } => {
                post.validate(n, &format!("{path}.post"))?;
                pre.validate(n, &format!("{path}.pre"))?;
                if !post.same_kind(pre) {
                    return Err(StatsError::new(
                        format!("{path}.pre"),
                        "the covariate must be of the same kind (binomial or continuous) as the metric",
                    ));
                }
                finite(&format!("{path}.sum_product"), *sum_product).map(|_| ())
            }
        }
    }
}

/// CUPED's θ for a pair of arms: the slope of the metric on its covariate
/// with both arms pooled, Cov(Y, X) / Var(X). Zero when either pooled
/// variance is zero, or when the statistics are not both [`Statistic::Adjusted`].
pub fn cuped_theta(control: &Statistic, treatment: &Statistic) -> Result<f64, StatsError> {
    control.validate("control")?;
    treatment.validate("treatment")?;
    Ok(theta_unchecked(control, treatment))
}

fn theta_unchecked(control: &Statistic, treatment: &Statistic) -> f64 {
    let (
        Statistic::Adjusted { n: na, post: post_a, pre: pre_a, sum_product: sp_a },
        Statistic::Adjusted { n: nb, post: post_b, pre: pre_b, sum_product: sp_b },
    ) = (control, treatment)
    else {
        return 0.0;
    };
    if !post_a.same_kind(post_b) || !pre_a.same_kind(pre_b) {
        return 0.0;
    }
    let n = *na as f64 + *nb as f64;
    let post = post_a.plus(post_b);
    let pre = pre_a.plus(pre_b);
    let (var_post, var_pre) = (post.variance(n), pre.variance(n));
    if var_pre == 0.0 || var_post == 0.0 {
        return 0.0;
    }
    let theta = covariance(n, &post, &pre, sp_a + sp_b) / var_pre;
    if theta.is_finite() {
        theta
    } else {
        0.0
    }
}

/// Why an effect cannot be estimated from valid statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Degenerate {
    /// An arm (or the effect) has no variance: every unit alike, or too few
    /// units. `gbstats` calls this `ZERO_NEGATIVE_VARIANCE`.
    ZeroVariance,
    /// The baseline's mean is zero, so there is nothing to be relative to.
    /// `gbstats` calls this `ZERO_NEGATIVE_BASELINE_VARIATION`.
    ZeroBaselineMean,
}

impl Degenerate {
    /// A short code for responses.
    pub fn code(self) -> &'static str {
        match self {
            Degenerate::ZeroVariance => "zero_variance",
            Degenerate::ZeroBaselineMean => "zero_baseline_mean",
        }
    }

    fn message(self) -> &'static str {
        match self {
            Degenerate::ZeroVariance => "an arm has no variance (every unit alike, or fewer than two units)",
            Degenerate::ZeroBaselineMean => "the baseline's mean is zero",
        }
    }
}

/// A treatment's effect against the baseline with its sampling moments.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Effect {
    pub difference: DifferenceType,
    /// The point estimate (relative or absolute).
    pub estimate: f64,
    /// Its standard error.
    pub standard_error: f64,
    /// Welch–Satterthwaite degrees of freedom.
    pub dof: f64,
    /// Units in both arms.
    pub n_total: u64,
    /// The baseline's unadjusted mean (scales priors for absolute effects).
    pub baseline_mean: f64,
    /// CUPED's θ, when the adjustment was applied.
    pub theta: Option<f64>,
}

impl Effect {
    /// Checks a hand-built effect before a test uses it.
    pub(crate) fn validate(&self) -> Result<(), StatsError> {
        finite("effect.estimate", self.estimate)?;
        if !(self.standard_error.is_finite() && self.standard_error > 0.0) {
            return Err(StatsError::new("effect.standard_error", "must be a finite number above zero"));
        }
        if self.dof.is_nan() || self.dof <= 0.0 {
            return Err(StatsError::new("effect.dof", "must be above zero"));
        }
        if self.n_total == 0 {
            return Err(StatsError::new("effect.n_total", "must be at least one"));
        }
        finite("effect.baseline_mean", self.baseline_mean)?;
        Ok(())
    }
}

/// The effect of `treatment` against `control` (the baseline): validates both
/// statistics (errors name `control.…` or `treatment.…`), computes CUPED's θ
/// for the pair when both are [`Statistic::Adjusted`], and reports a
/// degenerate comparison (no variance, zero baseline) as an error on the
/// arm at fault.
pub fn effect(control: &Statistic, treatment: &Statistic, difference: DifferenceType) -> Result<Effect, StatsError> {
    control.validate("control")?;
    treatment.validate("treatment")?;
    let same = matches!(
        (control, treatment),
        (Statistic::Single { .. }, Statistic::Single { .. })
            | (Statistic::Ratio { .. }, Statistic::Ratio { .. })
            | (Statistic::Adjusted { .. }, Statistic::Adjusted { .. })
    );
    if !same {
        return Err(StatsError::new("treatment", "must be the same kind of statistic as the control"));
    }
    effect_unchecked(control, treatment, difference).map_err(|d| {
        let field = match d {
            Degenerate::ZeroBaselineMean => "control",
            Degenerate::ZeroVariance => {
                if control.unadjusted_variance() <= 0.0 || control.n() < 2 {
                    "control"
                } else {
                    "treatment"
                }
            }
        };
        StatsError::new(field, d.message())
    })
}

/// [`effect`] for statistics already validated.
pub(crate) fn effect_unchecked(a: &Statistic, b: &Statistic, difference: DifferenceType) -> Result<Effect, Degenerate> {
    let mut theta = theta_unchecked(a, b);
    let (a, b) = if theta == 0.0 { (unadjusted(a), unadjusted(b)) } else { (*a, *b) };
    let adjusted = matches!(a, Statistic::Adjusted { .. });
    if !adjusted {
        theta = 0.0;
    }
    let (na, nb) = (a.n() as f64, b.n() as f64);
    let (var_a, var_b) = (a.variance(theta), b.variance(theta));
    if !(var_a > 0.0 && var_b > 0.0) || na < 2.0 || nb < 2.0 {
        return Err(Degenerate::ZeroVariance);
    }
    let (mean_a, mean_b) = (a.mean(theta), b.mean(theta));
    let (raw_a, raw_b) = (a.unadjusted_mean(), b.unadjusted_mean());
    if mean_a == 0.0 || raw_a == 0.0 {
        return Err(Degenerate::ZeroBaselineMean);
    }
    let (estimate, variance) = match difference {
        DifferenceType::Absolute => (mean_b - mean_a, var_b / nb + var_a / na),
        DifferenceType::Relative => {
            let estimate = (mean_b - mean_a) / raw_a.abs();
            let variance = match (&a, &b) {
                (
                    Statistic::Adjusted { post: post_a, pre: pre_a, sum_product: sp_a, .. },
                    Statistic::Adjusted { post: post_b, .. },
                ) => {
                    // Gradient of (Ȳ_B − θX̄_B − Ȳ_A + θX̄_A) / Ȳ_A: in the
                    // treatment 1/Ȳ_A and −θ/Ȳ_A; in the control −Ȳ_B/Ȳ_A²
                    // (pre-period means taken equal) and θ/Ȳ_A.
                    let post_mean_a = post_a.mean(na);
                    let post_mean_b = post_b.mean(nb);
                    let cov_a = covariance(na, post_a, pre_a, *sp_a);
                    let treatment_part = var_b / (nb * raw_a * raw_a);
                    let control_part = (post_a.variance(na) * post_mean_b.powi(2) / post_mean_a.powi(2)
                        - 2.0 * theta * cov_a * post_mean_b / post_mean_a
                        + theta * theta * pre_a.variance(na))
                        / (na * raw_a * raw_a);
                    treatment_part + control_part
                }
                _ => variance_of_ratio(raw_b, var_b / nb, raw_a, var_a / na, 0.0),
            };
            (estimate, variance)
        }
    };
    if !(variance > 0.0 && variance.is_finite() && estimate.is_finite()) {
        return Err(Degenerate::ZeroVariance);
    }
    let (ua, ub) = (var_a / na, var_b / nb);
    let dof = (ua + ub).powi(2) / (ub * ub / (nb - 1.0) + ua * ua / (na - 1.0));
    if dof.is_nan() || dof <= 0.0 {
        return Err(Degenerate::ZeroVariance);
    }
    Ok(Effect {
        difference,
        estimate,
        standard_error: variance.sqrt(),
        dof,
        n_total: a.n().saturating_add(b.n()),
        baseline_mean: raw_a,
        theta: adjusted.then_some(theta),
    })
}

/// The statistic without its covariate.
fn unadjusted(s: &Statistic) -> Statistic {
    match *s {
        Statistic::Adjusted { n, post, .. } => Statistic::Single { n, values: post },
        other => other,
    }
}
