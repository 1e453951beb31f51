//! Small descriptive-statistics helpers shared by the report sections.

/// The probabilities at which every quantile array of the report is evaluated.
pub const QUANTILE_PROBS: [f64; 5] = [0.1, 0.25, 0.5, 0.75, 0.9];

/// R's `quantile(type = 7)` (= numpy "linear") of already sorted values; `None` if empty.
pub fn quantile_type7_sorted(sorted: &[f64], p: f64) -> Option<f64> {
    quantile_type7_by(sorted.len(), p, |i| sorted[i])
}

/// R's `quantile(type = 1)` (inverse of the empirical distribution function) of sorted
/// values; `None` if empty.
pub fn quantile_type1_sorted(sorted: &[f64], p: f64) -> Option<f64> {
    quantile_type1_by(sorted.len(), p, |i| sorted[i])
}

/// Type 7 over `n` sorted values given by `order(i)` (0-based order statistic).
pub fn quantile_type7_by(n: usize, p: f64, order: impl Fn(usize) -> f64) -> Option<f64> {
    if n == 0 || !(0.0..=1.0).contains(&p) {
        return None;
    }
    // 1-based index exactly as R forms it, so that rounding matches
    let index = 1.0 + (n - 1) as f64 * p;
    let lo = index.floor();
    let lo_i = (lo as usize).clamp(1, n) - 1;
    let hi_i = (index.ceil() as usize).clamp(1, n) - 1;
    let (x_lo, x_hi) = (order(lo_i), order(hi_i));
    let h = index - lo;
    if h > 0.0 && x_hi != x_lo {
        Some((1.0 - h) * x_lo + h * x_hi)
    } else {
        Some(x_lo)
    }
}

/// Type 1 over `n` sorted values given by `order(i)`, with R's 4·ε fuzz on the index.
pub fn quantile_type1_by(n: usize, p: f64, order: impl Fn(usize) -> f64) -> Option<f64> {
    if n == 0 || !(0.0..=1.0).contains(&p) {
        return None;
    }
    let fuzz = 4.0 * f64::EPSILON;
    let nppm = n as f64 * p;
    let j = (nppm + fuzz).floor();
    // 1-based order statistic j, or j + 1 when n p is not (within fuzz) a whole number
    let pick = if nppm > j { j as usize + 1 } else { j as usize };
    Some(order(pick.clamp(1, n) - 1))
}

/// Type-7 quantiles at [`QUANTILE_PROBS`].
pub fn quantiles7(sorted: &[f64]) -> Vec<Option<f64>> {
    QUANTILE_PROBS.iter().map(|&p| quantile_type7_sorted(sorted, p)).collect()
}

/// Type-1 quantiles at [`QUANTILE_PROBS`].
#[cfg(test)]
pub fn quantiles1(sorted: &[f64]) -> Vec<Option<f64>> {
    QUANTILE_PROBS.iter().map(|&p| quantile_type1_sorted(sorted, p)).collect()
}

/// Mean, or `None` if empty.
pub fn mean(x: &[f64]) -> Option<f64> {
    if x.is_empty() {
        None
    } else {
        Some(x.iter().sum::<f64>() / x.len() as f64)
    }
}

/// Sample standard deviation (n − 1), two-pass; `None` with fewer than 2 values.
pub fn sd_sample(x: &[f64]) -> Option<f64> {
    if x.len() < 2 {
        return None;
    }
    let m = mean(x)?;
    let ss: f64 = x.iter().map(|v| (v - m) * (v - m)).sum();
    Some((ss / (x.len() - 1) as f64).sqrt())
}

/// Keeps finite numbers; anything else (NaN, ±∞) becomes `None` (JSON `null`).
pub fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

/// A ratio, `None` if the denominator is zero or the result is not finite.
pub fn ratio(num: f64, den: f64) -> Option<f64> {
    if den == 0.0 {
        None
    } else {
        finite(num / den)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_match_r() {
        // R: quantile(c(1,2,3,4,10), c(.1,.25,.5,.75,.9), type=7) = 1.4 2 3 4 7.6
        let x = [1.0, 2.0, 3.0, 4.0, 10.0];
        let q: Vec<f64> = quantiles7(&x).into_iter().map(Option::unwrap).collect();
        let want = [1.4, 2.0, 3.0, 4.0, 7.6];
        for (a, b) in q.iter().zip(want) {
            assert!((a - b).abs() < 1e-12, "{q:?}");
        }
        // R: quantile(c(1,2,3,4,10), c(.1,.25,.5,.75,.9), type=1) = 1 2 3 4 10
        let q1: Vec<f64> = quantiles1(&x).into_iter().map(Option::unwrap).collect();
        assert_eq!(q1, [1.0, 2.0, 3.0, 4.0, 10.0]);
        // n p integer: type 1 takes x_(np): quantile(1:10, .5, type=1) = 5
        let y: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(quantile_type1_sorted(&y, 0.5), Some(5.0));
        assert_eq!(quantile_type1_sorted(&y, 0.1), Some(1.0));
        assert_eq!(quantile_type1_sorted(&y, 0.25), Some(3.0));
        assert_eq!(quantile_type7_sorted(&y, 0.25), Some(3.25));
        assert_eq!(quantile_type7_sorted(&[], 0.5), None);
        assert_eq!(quantile_type7_sorted(&[4.0], 0.9), Some(4.0));
    }

    #[test]
    fn moments() {
        assert_eq!(mean(&[]), None);
        assert_eq!(sd_sample(&[1.0]), None);
        assert!((sd_sample(&[1.0, 2.0, 3.0, 4.0]).unwrap() - 1.2909944487358056).abs() < 1e-15);
        assert_eq!(ratio(1.0, 0.0), None);
    }
}
