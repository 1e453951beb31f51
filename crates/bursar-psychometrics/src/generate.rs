//! A seeded, deterministic generator of 2PL response data (for tests and benchmarks).
//!
//! Model: θ_i ~ N(0, 1); x_ij ~ Bernoulli(1 / (1 + exp(−(a_j θ_i + d_j)))); each response is
//! independently missing with probability `missing_rate` (missing completely at random).
//! Optional response times follow the lognormal model ln t_ij = ln(median_j) − τ_i + ε_ij
//! with speed τ_i ~ N(0, speed_sd²) and ε_ij ~ N(0, residual_sd²), rounded to whole ms
//! (at least 1); a missing response has a missing time.
//!
//! Random numbers: xoshiro256** seeded through SplitMix64; normals by Box–Muller. The same
//! spec always gives the same data on every platform.

use crate::data::{ResponseMatrix, TimeMatrix, MISSING, MISSING_TIME};
use crate::error::{Error, Result};

/// The small PRNG behind the generator (xoshiro256**).
#[derive(Debug, Clone)]
pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    /// Seeds the state with SplitMix64.
    pub fn new(seed: u64) -> Rng {
        let mut z = seed;
        let mut next = || {
            z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut x = z;
            x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            x ^ (x >> 31)
        };
        Rng { s: [next(), next(), next(), next()] }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform on [0, 1) with 53 random bits.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Standard normal (Box–Muller, one draw per call).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform(); // (0, 1]
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

/// Response-time settings of [`GenSpec`].
#[derive(Debug, Clone, PartialEq)]
pub struct TimeSpec {
    /// Median time per item in ms (one per item).
    pub median_ms: Vec<f64>,
    /// SD of the person speed τ.
    pub speed_sd: f64,
    /// SD of the residual ε.
    pub residual_sd: f64,
}

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct GenSpec {
    /// Persons.
    pub n_persons: usize,
    /// Slopes (one per item).
    pub a: Vec<f64>,
    /// Intercepts (one per item).
    pub d: Vec<f64>,
    /// Probability that a response is missing.
    pub missing_rate: f64,
    /// Seed.
    pub seed: u64,
    /// Optional response times.
    pub times: Option<TimeSpec>,
}

/// Generated data with the true abilities.
#[derive(Debug, Clone)]
pub struct Generated {
    /// Responses; items are named `I1`, `I2`, ….
    pub responses: ResponseMatrix,
    /// Times, when requested.
    pub times: Option<TimeMatrix>,
    /// The true θ of every person.
    pub theta: Vec<f64>,
}

/// Item parameters for simulations: a ~ U(0.6, 2.0), d ~ U(−2, 2).
pub fn random_item_parameters(k: usize, seed: u64) -> (Vec<f64>, Vec<f64>) {
    let mut rng = Rng::new(seed ^ 0x5EED_1735);
    let mut a = Vec::with_capacity(k);
    let mut d = Vec::with_capacity(k);
    for _ in 0..k {
        a.push(0.6 + 1.4 * rng.uniform());
        d.push(-2.0 + 4.0 * rng.uniform());
    }
    (a, d)
}

/// Generates N × K 2PL responses (see the module documentation for the model).
pub fn generate_2pl(spec: &GenSpec) -> Result<Generated> {
    let k = spec.a.len();
    if k == 0 || spec.d.len() != k {
        return Err(Error::invalid(format!("{} slopes and {} intercepts", k, spec.d.len())));
    }
    if spec.a.iter().chain(&spec.d).any(|v| !v.is_finite()) {
        return Err(Error::invalid("item parameters must be finite"));
    }
    if !(0.0..1.0).contains(&spec.missing_rate) {
        return Err(Error::invalid("missing_rate must be in [0, 1)"));
    }
    if let Some(t) = &spec.times {
        if t.median_ms.len() != k || t.median_ms.iter().any(|m| !(*m > 0.0 && m.is_finite())) {
            return Err(Error::invalid("one positive median time per item is required"));
        }
        if !(t.speed_sd >= 0.0 && t.residual_sd >= 0.0 && t.speed_sd.is_finite() && t.residual_sd.is_finite()) {
            return Err(Error::invalid("time standard deviations must be finite and non-negative"));
        }
    }
    let n = spec.n_persons;
    let mut rng = Rng::new(spec.seed);
    let mut data = Vec::with_capacity(n * k);
    let mut times = spec.times.as_ref().map(|_| Vec::with_capacity(n * k));
    let mut theta = Vec::with_capacity(n);
    for _ in 0..n {
        let th = rng.normal();
        theta.push(th);
        let tau = spec.times.as_ref().map(|t| t.speed_sd * rng.normal());
        for j in 0..k {
            let p = 1.0 / (1.0 + (-(spec.a[j] * th + spec.d[j])).exp());
            let x = (rng.uniform() < p) as u8;
            let missing = spec.missing_rate > 0.0 && rng.uniform() < spec.missing_rate;
            data.push(if missing { MISSING } else { x });
            if let (Some(ts), Some(out), Some(tau)) = (&spec.times, times.as_mut(), tau) {
                let eps = ts.residual_sd * rng.normal();
                let ms = (ts.median_ms[j].ln() - tau + eps).exp().round().clamp(1.0, 4.0e9);
                out.push(if missing { MISSING_TIME } else { ms as u32 });
            }
        }
    }
    let ids: Vec<String> = (1..=k).map(|j| format!("I{j}")).collect();
    let responses = ResponseMatrix::from_flat(ids.clone(), n, data)?;
    let times = match times {
        Some(flat) => Some(TimeMatrix::from_flat(ids, n, flat)?),
        None => None,
    };
    Ok(Generated { responses, times, theta })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_roughly_calibrated() {
        let (a, d) = random_item_parameters(5, 7);
        let spec = GenSpec { n_persons: 4000, a: a.clone(), d: d.clone(), missing_rate: 0.1, seed: 42, times: None };
        let g1 = generate_2pl(&spec).unwrap();
        let g2 = generate_2pl(&spec).unwrap();
        assert_eq!(g1.responses, g2.responses);
        let m = &g1.responses;
        let missing = m.as_flat().iter().filter(|&&v| v == MISSING).count() as f64 / (4000.0 * 5.0);
        assert!((missing - 0.1).abs() < 0.01, "{missing}");
        let mean_theta = g1.theta.iter().sum::<f64>() / 4000.0;
        assert!(mean_theta.abs() < 0.06, "{mean_theta}");
        let other = generate_2pl(&GenSpec { seed: 43, ..spec }).unwrap();
        assert_ne!(other.responses, g1.responses);
    }

    #[test]
    fn normal_draws_have_unit_variance() {
        let mut r = Rng::new(1);
        let xs: Vec<f64> = (0..20000).map(|_| r.normal()).collect();
        let m = xs.iter().sum::<f64>() / xs.len() as f64;
        let v = xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (xs.len() - 1) as f64;
        assert!(m.abs() < 0.03 && (v - 1.0).abs() < 0.04, "{m} {v}");
    }
}
