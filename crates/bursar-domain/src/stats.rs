//! Statistics for experiments: conversion rates with Wilson intervals, the
//! difference of two rates with its interval and a two-sided z-test, and the
//! chi-square sample-ratio-mismatch check. Rates are `f64` (they are not
//! money).

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

/// P(X > x) for a chi-square variable with `df` degrees of freedom, in
/// closed form (exact for every whole `df`).
pub fn chi_square_sf(x: f64, df: u32) -> f64 {
    if df == 0 {
        return 1.0;
    }
    if x <= 0.0 {
        return 1.0;
    }
    let half = x / 2.0;
    if df.is_multiple_of(2) {
        // e^{-x/2} Σ_{i < df/2} (x/2)^i / i!
        let mut term = 1.0;
        let mut sum = 1.0;
        for i in 1..df / 2 {
            term *= half / f64::from(i);
            sum += term;
        }
        ((-half).exp() * sum).min(1.0)
    } else {
        // 2 Q(√x) + 2 φ(√x) Σ_{i=1}^{(df-1)/2} x^{(2i-1)/2} / (1·3···(2i-1))
        let root = x.sqrt();
        let density = (-half).exp() / (2.0 * std::f64::consts::PI).sqrt();
        let mut term = root;
        let mut sum = 0.0;
        for i in 1..=(df - 1) / 2 {
            if i > 1 {
                term *= x / f64::from(2 * i - 1);
            }
            sum += term;
        }
        (2.0 * normal_sf(root) + 2.0 * density * sum).min(1.0)
    }
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
}
