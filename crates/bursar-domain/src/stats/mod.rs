//! Statistics for experiments.
//!
//! Two layers live here:
//!
//! - The pricing page's first results (kept as they were for their callers):
//!   conversion rates with Wilson intervals ([`wilson`]), the difference of
//!   two rates with its interval and a two-sided z-test ([`compare`]), and the
//!   chi-square sample-ratio-mismatch check ([`srm`]). These are total
//!   functions: they answer for every input and never panic.
//! - The experiments engine, built to the definitions of GrowthBook's open
//!   `gbstats` package: binomial, mean and ratio metrics from per-arm
//!   sufficient statistics ([`moments`]), relative and absolute effects,
//!   Welch's t-test and the z-test ([`frequentist`]), confidence sequences
//!   ([`sequential`]), the Bayesian normal model with chance to win and risk
//!   ([`bayesian`]), CUPED regression adjustment, the sample-ratio check
//!   ([`sample_ratio`]), and the warehouse-shaped request and response of
//!   [`analysis::analyze`]. Every public function there returns a
//!   [`StatsError`] instead of panicking.
//! - Special functions with accurate tails ([`special`]): Student's t, the
//!   normal quantile, chi-square, incomplete gamma and beta.
//!
//! Rates and statistics are `f64`: they are not money.

pub mod analysis;
pub mod bayesian;
mod error;
pub mod frequentist;
pub mod moments;
pub mod sample_ratio;
pub mod sequential;
pub mod special;

pub use analysis::{analyze, AnalyzeRequest, AnalyzeResponse};
pub use error::StatsError;

/// The normal quantile for a two-sided 95 % interval.
pub const Z95: f64 = 1.959_963_984_540_054;

/// The standard normal's upper tail, P(Z > z).
pub fn normal_sf(z: f64) -> f64 {
    0.5 * libm::erfc(z / std::f64::consts::SQRT_2)
}

/// The Wilson score interval of `successes` out of `trials` (95 %).
pub fn wilson(successes: u64, trials: u64) -> (f64, f64) {
    if trials == 0 {
        return (0.0, 1.0);
    }
    let n = trials as f64;
    let p = successes as f64 / n;
    let z2 = Z95 * Z95;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = Z95 * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / (1.0 + z2 / n);
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// A treatment against a control.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Comparison {
    /// Treatment rate less control rate.
    pub difference: f64,
    /// Its 95 % interval (unpooled standard error).
    pub low: f64,
    pub high: f64,
    /// Two-sided p-value of the pooled two-proportion z-test; 1 when there
    /// is nothing to compare.
    pub p_value: f64,
}

/// Compares conversion out of exposure for a treatment against a control.
pub fn compare(control: (u64, u64), treatment: (u64, u64)) -> Comparison {
    let (c1, n1) = (control.0 as f64, control.1 as f64);
    let (c2, n2) = (treatment.0 as f64, treatment.1 as f64);
    if n1 == 0.0 || n2 == 0.0 {
        return Comparison { difference: 0.0, low: -1.0, high: 1.0, p_value: 1.0 };
    }
    let (p1, p2) = (c1 / n1, c2 / n2);
    let difference = p2 - p1;
    let se = (p1 * (1.0 - p1) / n1 + p2 * (1.0 - p2) / n2).sqrt();
    let pooled = (c1 + c2) / (n1 + n2);
    let se_pooled = (pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)).sqrt();
    let p_value = if se_pooled > 0.0 { (2.0 * normal_sf((difference / se_pooled).abs())).min(1.0) } else { 1.0 };
    Comparison { difference, low: difference - Z95 * se, high: difference + Z95 * se, p_value }
}

/// P(X > x) for a chi-square variable with `df` degrees of freedom: the
/// regularized upper incomplete gamma function Q(df/2, x/2), accurate far into
/// the tail (see [`special::chi_square_sf`], which also takes fractional
/// degrees of freedom and reports bad arguments as errors). Here `df` = 0, a
/// statistic that is zero, negative or NaN, and the (unreachable) failure to
/// converge all answer 1: no evidence against the null hypothesis.
pub fn chi_square_sf(x: f64, df: u32) -> f64 {
    if df == 0 || x.is_nan() || x <= 0.0 {
        return 1.0;
    }
    special::chi_square_sf(x, f64::from(df)).unwrap_or(1.0)
}

/// The sample-ratio-mismatch check: how far the observed counts per variant
/// are from the split the assignment intends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Srm {
    pub chi_square: f64,
    pub p_value: f64,
    /// `p_value` below 0.001: the assignment or the logging is broken, and
    /// the results should not be trusted.
    pub mismatch: bool,
}

/// The threshold below which a sample ratio is a mismatch.
pub const SRM_ALPHA: f64 = 0.001;

/// Observed counts against intended shares (which need not sum to one).
pub fn srm(observed: &[u64], shares: &[f64]) -> Srm {
    let total: f64 = observed.iter().map(|&o| o as f64).sum();
    let share_sum: f64 = shares.iter().sum();
    if total == 0.0 || observed.len() != shares.len() || observed.len() < 2 || share_sum <= 0.0 {
        return Srm { chi_square: 0.0, p_value: 1.0, mismatch: false };
    }
    let chi_square: f64 = observed
        .iter()
        .zip(shares)
        .map(|(&o, &s)| {
            let expected = total * s / share_sum;
            let d = o as f64 - expected;
            d * d / expected
        })
        .sum();
    let p_value = chi_square_sf(chi_square, observed.len() as u32 - 1);
    Srm { chi_square, p_value, mismatch: p_value < SRM_ALPHA }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() < tol
    }

    #[test]
    fn wilson_intervals_match_published_values() {
        // 50 of 100: 0.4038 to 0.5962 (Wilson 1927; Newcombe 1998).
        let (lo, hi) = wilson(50, 100);
        assert!(close(lo, 0.4038, 1e-4) && close(hi, 0.5962, 1e-4), "{lo} {hi}");
        // 0 of 10 starts at zero; 10 of 10 ends at one.
        let (lo, hi) = wilson(0, 10);
        assert!(lo == 0.0 && close(hi, 0.2775, 1e-4), "{hi}");
        assert!(close(wilson(10, 10).1, 1.0, 1e-12));
        assert_eq!(wilson(0, 0), (0.0, 1.0));
    }

    #[test]
    fn chi_square_tails_match_the_tables() {
        // The 5 % critical values for 1 to 4 degrees of freedom.
        for (x, df) in [(3.841_459, 1), (5.991_465, 2), (7.814_728, 3), (9.487_729, 4)] {
            assert!(close(chi_square_sf(x, df), 0.05, 1e-6), "df {df}: {}", chi_square_sf(x, df));
        }
        // The 0.1 % critical value for one degree of freedom.
        assert!(close(chi_square_sf(10.827_566, 1), 0.001, 1e-7));
        assert_eq!(chi_square_sf(0.0, 1), 1.0);
    }

    #[test]
    fn two_rates_compare_with_the_z_test() {
        // 10 % of 1000 against 13 % of 1000: z = 2.10, p = 0.036.
        let c = compare((100, 1000), (130, 1000));
        assert!(close(c.difference, 0.03, 1e-12));
        assert!(close(c.p_value, 0.0357, 1e-3), "{}", c.p_value);
        assert!(c.low > 0.0 && close(c.high - c.difference, c.difference - c.low, 1e-12));
        let same = compare((100, 1000), (100, 1000));
        assert!(close(same.p_value, 1.0, 1e-12) && same.difference == 0.0);
        assert_eq!(compare((0, 0), (5, 10)).p_value, 1.0);
    }

    #[test]
    fn a_lopsided_split_is_a_sample_ratio_mismatch() {
        let fair = srm(&[5_020, 4_980], &[0.5, 0.5]);
        assert!(!fair.mismatch && fair.p_value > 0.5, "{fair:?}");
        // 5 300 against 4 700 for an even split: chi-square 36, p ≈ 2e-9.
        let off = srm(&[5_300, 4_700], &[0.5, 0.5]);
        assert!(close(off.chi_square, 36.0, 1e-9) && off.mismatch, "{off:?}");
        assert!(!srm(&[0, 0], &[0.5, 0.5]).mismatch);
    }

    #[test]
    fn chi_square_tails_stay_small_at_many_degrees_of_freedom() {
        // The closed form this replaced multiplied e^(−x/2), which underflows,
        // by a sum that overflows, and answered 1.0 for these. References:
        // scipy.stats.chi2.sf (SciPy 1.17.1); below the smallest float the
        // true values are e^−499276.5 and e^−4999285.8 (mpmath).
        assert!((chi_square_sf(2000.0, 1000) / 4.143_678_591_453_918_4e-69 - 1.0).abs() < 1e-11);
        assert!((chi_square_sf(300.0, 150) / 4.539_824_381_475_608e-12 - 1.0).abs() < 1e-11);
        assert_eq!(chi_square_sf(1e6, 150), 0.0);
        assert_eq!(chi_square_sf(1e7, 118), 0.0);
        assert_eq!(chi_square_sf(5000.0, 150), 0.0);
        assert_eq!(chi_square_sf(f64::NAN, 3), 1.0);
    }

    #[test]
    fn a_huge_mismatch_over_many_arms_is_flagged() {
        // 150 arms of 100 and one of a million, all meant to be equal:
        // chi-square 1.48e8 on 150 degrees of freedom (the old check said p = 1).
        let mut observed = vec![100; 150];
        observed.push(1_000_000);
        let shares = vec![1.0 / 151.0; 151];
        let s = srm(&observed, &shares);
        assert!(s.mismatch && s.p_value == 0.0 && s.chi_square > 1.4e8, "{s:?}");
    }
}
