//! Axis ticks at "nice" round steps (1, 2 or 5 times a power of ten), after Heckbert's "Nice numbers for
//! graph labels" (Graphics Gems, 1990).

/// A value axis scale: the domain drawn and the ticks on it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Scale {
    pub lo: f64,
    pub hi: f64,
    /// Tick values, ascending, inside `lo..=hi`.
    pub ticks: Vec<f64>,
}

impl Scale {
    /// Distance between ticks, when there are at least two.
    pub fn step(&self) -> Option<f64> {
        match self.ticks.as_slice() {
            [a, b, ..] => Some(b - a),
            _ => None,
        }
    }

    /// Position of `value` between `lo` (0) and `hi` (1), clamped to the domain.
    pub fn fraction(&self, value: f64) -> f64 {
        let span = self.hi - self.lo;
        if !(span.is_finite() && span > 0.0) {
            return 0.0;
        }
        ((value - self.lo) / span).clamp(0.0, 1.0)
    }
}

/// A nice number near `x` (> 0): rounded to the nearest of 1, 2, 5, 10 times a power of ten, or the next
/// one up when `round` is false. Returns the mantissa and the exponent.
fn nice(x: f64, round: bool) -> (f64, i32) {
    let exp = x.log10().floor() as i32;
    let f = x / 10f64.powi(exp);
    let nf = if round {
        if f < 1.5 {
            1.0
        } else if f < 3.0 {
            2.0
        } else if f < 7.0 {
            5.0
        } else {
            10.0
        }
    } else if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    };
    if nf == 10.0 {
        (1.0, exp + 1)
    } else {
        (nf, exp)
    }
}

/// `mantissa × 10^exp`, computed so that small steps such as 0.1 × 3 come out as the nearest double to 0.3.
fn value(k: f64, mantissa: f64, exp: i32) -> f64 {
    if exp >= 0 {
        k * mantissa * 10f64.powi(exp)
    } else {
        k * mantissa / 10f64.powi(-exp)
    }
}

/// Ticks for data spanning `lo..=hi`, aiming at about `target` ticks. Ends given in `fixed_lo` / `fixed_hi`
/// are kept exactly; free ends are widened to the next tick.
pub(crate) fn nice_scale(lo: f64, hi: f64, target: usize, fixed_lo: Option<f64>, fixed_hi: Option<f64>) -> Scale {
    let (mut lo, mut hi) = (fixed_lo.unwrap_or(lo), fixed_hi.unwrap_or(hi));
    if !(lo.is_finite() && hi.is_finite()) {
        return Scale { lo: 0.0, hi: 1.0, ticks: vec![0.0, 1.0] };
    }
    if lo > hi {
        std::mem::swap(&mut lo, &mut hi);
    }
    if lo == hi {
        let pad = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
        match (fixed_lo.is_some(), fixed_hi.is_some()) {
            (true, false) => hi += pad,
            (false, true) => lo -= pad,
            _ => {
                let non_negative = lo >= 0.0;
                lo -= pad;
                hi += pad;
                if non_negative && lo < 0.0 {
                    // A single non-negative value keeps the axis at or above zero.
                    lo = 0.0;
                }
            }
        }
    }
    let span = hi - lo;
    let target = target.clamp(2, 12);
    if !(span.is_finite() && span > 0.0) {
        return Scale { lo, hi, ticks: vec![lo, hi] };
    }
    let (range_m, range_e) = nice(span, false);
    let (m, e) = nice(value(1.0, range_m, range_e) / (target - 1) as f64, true);
    let step = value(1.0, m, e);
    if !(step.is_finite() && step > 0.0) {
        return Scale { lo, hi, ticks: vec![lo, hi] };
    }
    let k_lo = (lo / step + 1e-9).floor();
    let k_hi = (hi / step - 1e-9).ceil();
    let first = if fixed_lo.is_some() { (lo / step - 1e-9).ceil() } else { k_lo };
    let last = if fixed_hi.is_some() { (hi / step + 1e-9).floor() } else { k_hi };
    let lo = if fixed_lo.is_some() { lo } else { value(k_lo, m, e) };
    let hi = if fixed_hi.is_some() { hi } else { value(k_hi, m, e) };
    let count = last - first + 1.0;
    if !(count.is_finite() && (1.0..=200.0).contains(&count)) {
        return Scale { lo, hi, ticks: vec![lo, hi] };
    }
    let ticks = (0..count as i64).map(|i| value(first + i as f64, m, e)).collect();
    Scale { lo, hi, ticks }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step_of(scale: &Scale) -> f64 {
        scale.step().expect("two ticks")
    }

    /// Whether `x` is 1, 2 or 5 times a power of ten.
    fn is_nice(x: f64) -> bool {
        let exp = x.log10().floor();
        let m = x / 10f64.powf(exp);
        [1.0, 2.0, 5.0, 10.0].iter().any(|n| (m - n).abs() < 1e-6)
    }

    #[test]
    fn classic_examples() {
        // 0..87 with five ticks: a range of 100 in steps of 20 (range 87 → 100, 100 / 4 = 25 → 20).
        let s = nice_scale(0.0, 87.0, 5, None, None);
        assert_eq!(s.ticks, vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0]);
        assert_eq!((s.lo, s.hi), (0.0, 100.0));
        // Negative and positive values around zero.
        let s = nice_scale(-420.0, 1300.0, 5, None, None);
        assert_eq!(s.ticks, vec![-500.0, 0.0, 500.0, 1000.0, 1500.0]);
        // Small fractions: step 0.1 comes out exact enough to print.
        let s = nice_scale(0.0, 0.43, 5, None, None);
        assert_eq!(s.ticks, vec![0.0, 0.1, 0.2, 0.3, 0.4, 0.5]);
    }

    #[test]
    fn fixed_ends_are_kept() {
        let s = nice_scale(12.0, 87.0, 6, Some(0.0), Some(100.0));
        assert_eq!((s.lo, s.hi), (0.0, 100.0));
        assert_eq!(s.ticks, vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0]);
        let s = nice_scale(3.0, 7.0, 5, Some(2.5), None);
        assert_eq!(s.lo, 2.5);
        assert!(s.ticks.iter().all(|t| *t >= 2.5 && *t <= s.hi));
    }

    #[test]
    fn degenerate_ranges() {
        let s = nice_scale(0.0, 0.0, 5, None, None);
        assert!(s.lo <= 0.0 && s.hi >= 1.0 - 1e-9, "{s:?}");
        let s = nice_scale(5.0, 5.0, 5, None, None);
        assert!(s.lo <= 5.0 && s.hi >= 5.0 && s.lo < s.hi, "{s:?}");
        let s = nice_scale(f64::NAN, 3.0, 5, None, None);
        assert_eq!(s.ticks, vec![0.0, 1.0]);
        let s = nice_scale(-1e308, 1e308, 5, None, None);
        assert!(s.ticks.iter().all(|t| t.is_finite()));
    }

    #[test]
    fn every_range_gets_round_steps_covering_the_data() {
        // A deterministic spread of ranges over many magnitudes.
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        for _ in 0..2000 {
            let magnitude = 10f64.powf(next() * 12.0 - 4.0);
            let a = (next() - 0.3) * magnitude;
            let b = a + next() * magnitude + 1e-9;
            for target in [3, 5, 8] {
                let s = nice_scale(a, b, target, None, None);
                assert!(s.lo <= a && s.hi >= b, "{a} {b} {s:?}");
                assert!(s.ticks.len() >= 2 && s.ticks.len() <= 2 * target + 2, "{a} {b} {target} {s:?}");
                let step = step_of(&s);
                assert!(is_nice(step), "step {step} for {a}..{b}");
                for pair in s.ticks.windows(2) {
                    assert!(((pair[1] - pair[0]) - step).abs() <= step * 1e-6);
                }
                assert!((s.ticks[0] - s.lo).abs() <= step * 1e-6);
                assert!((s.ticks[s.ticks.len() - 1] - s.hi).abs() <= step * 1e-6);
            }
        }
    }

    #[test]
    fn fraction_is_clamped() {
        let s = nice_scale(0.0, 100.0, 5, None, None);
        assert_eq!(s.fraction(50.0), 0.5);
        assert_eq!(s.fraction(-5.0), 0.0);
        assert_eq!(s.fraction(500.0), 1.0);
    }
}
