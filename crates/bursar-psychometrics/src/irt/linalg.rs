//! Dense symmetric positive-definite solves (the information matrix is small: 2k × 2k).

/// Lower Cholesky factor of a symmetric n × n row-major matrix, or `None` if it is not
/// (numerically) positive definite.
pub(crate) fn cholesky(m: &[f64], n: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let mut s = m[i * n + j];
            for p in 0..j {
                s -= l[i * n + p] * l[j * n + p];
            }
            if i == j {
                if !(s > 0.0) || !s.is_finite() {
                    return None;
                }
                l[i * n + i] = s.sqrt();
            } else {
                l[i * n + j] = s / l[j * n + j];
            }
        }
    }
    // reject factors that are positive definite only by rounding
    let (mut dmin, mut dmax) = (f64::INFINITY, 0.0f64);
    for i in 0..n {
        dmin = dmin.min(l[i * n + i]);
        dmax = dmax.max(l[i * n + i]);
    }
    if n > 0 && dmin < dmax * 1e-7 {
        return None;
    }
    Some(l)
}

/// Solves L Lᵀ x = b.
pub(crate) fn cholesky_solve(l: &[f64], n: usize, b: &[f64]) -> Vec<f64> {
    let mut y = b.to_vec();
    for i in 0..n {
        let mut s = y[i];
        for p in 0..i {
            s -= l[i * n + p] * y[p];
        }
        y[i] = s / l[i * n + i];
    }
    for i in (0..n).rev() {
        let mut s = y[i];
        for p in i + 1..n {
            s -= l[p * n + i] * y[p];
        }
        y[i] = s / l[i * n + i];
    }
    y
}

/// The inverse of the matrix whose Cholesky factor is `l`.
pub(crate) fn cholesky_inverse(l: &[f64], n: usize) -> Vec<f64> {
    let mut inv = vec![0.0; n * n];
    let mut e = vec![0.0; n];
    for c in 0..n {
        e.iter_mut().for_each(|v| *v = 0.0);
        e[c] = 1.0;
        let x = cholesky_solve(l, n, &e);
        for r in 0..n {
            inv[r * n + c] = x[r];
        }
    }
    inv
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solves_and_inverts() {
        let m = [4.0, 2.0, 0.6, 2.0, 5.0, 1.0, 0.6, 1.0, 3.0];
        let l = cholesky(&m, 3).unwrap();
        let x = cholesky_solve(&l, 3, &[1.0, 2.0, 3.0]);
        for i in 0..3 {
            let bi: f64 = (0..3).map(|j| m[i * 3 + j] * x[j]).sum();
            assert!((bi - (i + 1) as f64).abs() < 1e-12);
        }
        let inv = cholesky_inverse(&l, 3);
        for i in 0..3 {
            for j in 0..3 {
                let v: f64 = (0..3).map(|p| m[i * 3 + p] * inv[p * 3 + j]).sum();
                assert!((v - (i == j) as u8 as f64).abs() < 1e-12);
            }
        }
        assert!(cholesky(&[1.0, 2.0, 2.0, 1.0], 2).is_none());
    }
}
