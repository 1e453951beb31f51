//! The E-step: posteriors of every response pattern on the quadrature nodes and the
//! expected counts (and, on request, the sufficient statistics of the exact Hessian of the
//! marginal log-likelihood).
//!
//! Per item and node the log-likelihood of a pattern is Σ_answered log(1 − P) plus
//! Σ_correct (aθ + d), because log P − log(1 − P) = aθ + d. So a complete pattern costs one
//! sum of its slopes and intercepts plus one pass over the nodes; missing items subtract
//! their log(1 − P) row.
//!
//! Patterns are processed in fixed chunks; each chunk's sums are reduced in chunk order,
//! so results are bit-identical whatever the number of threads.

use super::{node_values, Q};
use crate::irt::patterns::Patterns;

/// Posterior weights below e^−CUT of the mode are treated as zero (their total contribution
/// is below 61·e^−50 ≈ 1e−20 of any sum).
const CUT: f64 = 50.0;
const CHUNK: usize = 2048;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_exp_matches_std() {
        let mut worst = 0.0f64;
        let mut x = 0.0f64;
        while x > -745.0 {
            let want = if x < -700.0 { (-700.0f64).exp() } else { x.exp() };
            let got = exp_nonpositive(x);
            worst = worst.max(((got - want) / want).abs());
            x -= 0.012_345_678_9;
        }
        assert!(worst < 1e-15, "relative error {worst}");
        assert_eq!(exp_nonpositive(0.0), 1.0);
    }
}

/// Per-item probabilities on the nodes for one parameter set.
pub(crate) struct Tables {
    pub k: usize,
    pub a: Vec<f64>,
    pub d: Vec<f64>,
    pub theta: [f64; Q],
    /// k × Q: P(x = 1 | θ_q).
    pub p: Vec<f64>,
    /// k × Q: log(1 − P).
    pub l0: Vec<f64>,
    /// Σ_items log(1 − P) + log prior weight, per node.
    pub base: [f64; Q],
    /// exp(base_{q+1} − base_q) and its inverse, for complete patterns (see `posterior`).
    step_up: [f64; Q],
    step_down: [f64; Q],
    /// Whether the step ratios are safely inside the floating-point range.
    steps_ok: bool,
}

pub(crate) fn softplus(x: f64) -> f64 {
    if x > 0.0 {
        x + (-x).exp().ln_1p()
    } else {
        x.exp().ln_1p()
    }
}

pub(crate) fn logistic(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// log of the normalised prior weights N(0, var) on the nodes.
pub(crate) fn log_prior(var: f64) -> [f64; Q] {
    let theta = node_values();
    let mut lw = [0.0; Q];
    for q in 0..Q {
        lw[q] = -theta[q] * theta[q] / (2.0 * var);
    }
    let m = lw.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let s: f64 = lw.iter().map(|v| (v - m).exp()).sum();
    let lse = m + s.ln();
    for v in lw.iter_mut() {
        *v -= lse;
    }
    lw
}

impl Tables {
    pub fn new(a: &[f64], d: &[f64], var: f64) -> Tables {
        let k = a.len();
        let theta = node_values();
        let mut p = vec![0.0; k * Q];
        let mut l0 = vec![0.0; k * Q];
        let mut base = log_prior(var);
        for j in 0..k {
            for q in 0..Q {
                let eta = a[j] * theta[q] + d[j];
                p[j * Q + q] = logistic(eta);
                let v = -softplus(eta);
                l0[j * Q + q] = v;
                base[q] += v;
            }
        }
        let mut step_up = [1.0; Q];
        let mut step_down = [1.0; Q];
        let mut steps_ok = true;
        for q in 0..Q - 1 {
            let diff = base[q + 1] - base[q];
            steps_ok &= diff.abs() < 300.0;
            step_up[q] = diff.exp();
            step_down[q] = (-diff).exp();
        }
        Tables { k, a: a.to_vec(), d: d.to_vec(), theta, p, l0, base, step_up, step_down, steps_ok }
    }

    /// Normalised posterior of pattern `p` in `post`, returning the support (lo, hi) and the
    /// log marginal likelihood of the pattern.
    #[inline]
    pub fn posterior(&self, pat: &Patterns, p: usize, post: &mut [f64; Q]) -> (usize, usize, f64) {
        let mut sa = 0.0;
        let mut sd = 0.0;
        for &j in pat.correct(p) {
            sa += self.a[j as usize];
            sd += self.d[j as usize];
        }
        let mut lg = [0.0; Q];
        for q in 0..Q {
            lg[q] = self.base[q] + self.theta[q] * sa + sd;
        }
        let missing = pat.missing(p);
        for &j in missing {
            let row = &self.l0[j as usize * Q..(j as usize + 1) * Q];
            for q in 0..Q {
                lg[q] -= row[q];
            }
        }
        let h = self.theta[1] - self.theta[0];
        if missing.is_empty() && self.steps_ok && (h * sa).abs() < 300.0 {
            // complete pattern: lg_{q+1} − lg_q = (base_{q+1} − base_q) + hA, so the
            // posterior is a running product from the mode (one exp per pattern)
            posterior_by_steps(&lg, post, &self.step_up, &self.step_down, (h * sa).exp())
        } else {
            posterior_from_log(&lg, post)
        }
    }
}

/// Like [`posterior_from_log`], with exp(lg_q − max) built by multiplying the node-to-node
/// ratios `up[q] · r` (upwards) and `down[q] / r` (downwards) from the mode; the relative
/// rounding grows by about one ulp per node.
#[inline]
fn posterior_by_steps(
    lg: &[f64; Q],
    post: &mut [f64; Q],
    up: &[f64; Q],
    down: &[f64; Q],
    r: f64,
) -> (usize, usize, f64) {
    let mut top = 0;
    for q in 1..Q {
        if lg[q] > lg[top] {
            top = q;
        }
    }
    let m = lg[top];
    let floor = m - CUT;
    let lo = (0..=top).find(|&q| lg[q] > floor).unwrap_or(top);
    let hi = (top..Q).rev().find(|&q| lg[q] > floor).unwrap_or(top);
    post[..lo].fill(0.0);
    post[hi + 1..].fill(0.0);
    post[top] = 1.0;
    let rinv = 1.0 / r;
    for q in top + 1..=hi {
        post[q] = post[q - 1] * (up[q - 1] * r);
    }
    for q in (lo..top).rev() {
        post[q] = post[q + 1] * (down[q] * rinv);
    }
    let mut s = 0.0;
    for &v in &post[lo..=hi] {
        s += v;
    }
    let inv = 1.0 / s;
    for v in &mut post[lo..=hi] {
        *v *= inv;
    }
    (lo, hi, m + s.ln())
}

/// Normalises exp(lg) into `post` (with the e^−CUT floor), returning (lo, hi, log Σ exp lg).
#[inline]
pub(crate) fn posterior_from_log(lg: &[f64; Q], post: &mut [f64; Q]) -> (usize, usize, f64) {
    let mut m = lg[0];
    for &v in &lg[1..] {
        if v > m {
            m = v;
        }
    }
    let floor = m - CUT;
    let lo = (0..Q).find(|&q| lg[q] > floor).unwrap_or(0);
    let hi = (0..Q).rev().find(|&q| lg[q] > floor).unwrap_or(Q - 1).max(lo);
    post[..lo].fill(0.0);
    post[hi + 1..].fill(0.0);
    for q in lo..=hi {
        post[q] = exp_nonpositive(lg[q] - m);
    }
    let mut s = 0.0;
    for &v in &post[lo..=hi] {
        s += v;
    }
    let inv = 1.0 / s;
    for v in &mut post[lo..=hi] {
        *v *= inv;
    }
    (lo, hi, m + s.ln())
}

/// e^x for x ≤ 0 (arguments below −700 are taken as −700), accurate to a few ulp, written
/// without branches or calls so that loops over nodes vectorise: x = k ln 2 + r with
/// |r| ≤ ln 2 / 2 (Cody–Waite split of ln 2), e^r by its Taylor polynomial of degree 13
/// (remainder below 1e−17), 2^k assembled from the exponent bits.
#[inline(always)]
pub(crate) fn exp_nonpositive(x: f64) -> f64 {
    const SHIFT: f64 = 6_755_399_441_055_744.0; // 1.5 · 2^52: adding it rounds to an integer
    const LN2_HI: f64 = f64::from_bits(0x3FE6_2E42_FEE0_0000); // ln 2 with 32 low bits zero
    const LN2_LO: f64 = f64::from_bits(0x3DEA_39EF_3579_3C76); // ln 2 − LN2_HI
    let x = if x < -700.0 { -700.0 } else { x };
    let kf = x * std::f64::consts::LOG2_E + SHIFT;
    let k_int = (kf.to_bits() as i64).wrapping_sub(SHIFT.to_bits() as i64);
    let k = kf - SHIFT;
    let r = (x - k * LN2_HI) - k * LN2_LO;
    let mut p = 1.0 / 6_227_020_800.0;
    p = p * r + 1.0 / 479_001_600.0;
    p = p * r + 1.0 / 39_916_800.0;
    p = p * r + 1.0 / 3_628_800.0;
    p = p * r + 1.0 / 362_880.0;
    p = p * r + 1.0 / 40_320.0;
    p = p * r + 1.0 / 5_040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    p * f64::from_bits(((k_int + 1023) << 52) as u64)
}

/// What the E-step should accumulate besides the expected counts.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Extra {
    None,
    /// Sufficient statistics for the Hessian of complete data (no missing responses).
    HessianComplete,
    /// Per-pattern posterior covariance of the complete-data score, accumulated directly.
    HessianGeneral,
}

/// The parameter layout the general Hessian path needs.
#[derive(Clone, Copy)]
pub(crate) struct ScoreLayout {
    /// 2 (slope and intercept) or 1 (intercept only) parameters per item.
    pub per_item: usize,
    /// The latent variance is a parameter (its index is k · per_item).
    pub with_var: bool,
    pub var: f64,
}

pub(crate) struct Acc {
    pub loglik: f64,
    pub nq: [f64; Q],
    /// k × Q: expected correct responses.
    pub r: Vec<f64>,
    /// k × Q: expected persons with the item missing (empty without missing data).
    pub miss: Vec<f64>,
    /// Q × Q: Σ f post_q post_r (upper triangle, HessianComplete).
    pub w: Vec<f64>,
    /// k × Q: Σ f x_j post_q E(θ) (HessianComplete, two-parameter items).
    pub y1: Vec<f64>,
    /// k × k: Σ f x_j x_l Var(θ) (upper triangle, HessianComplete, two-parameter items).
    pub gvar: Vec<f64>,
    /// npar × npar: Σ f Cov(score) (upper triangle, HessianGeneral).
    pub cov: Vec<f64>,
    /// Per pattern (EAP, PSD), when requested.
    pub eap: Vec<(f64, f64)>,
}

impl Acc {
    fn new(k: usize, any_missing: bool, extra: Extra, layout: ScoreLayout) -> Acc {
        let npar = k * layout.per_item + layout.with_var as usize;
        Acc {
            loglik: 0.0,
            nq: [0.0; Q],
            r: vec![0.0; k * Q],
            miss: if any_missing { vec![0.0; k * Q] } else { Vec::new() },
            w: if extra == Extra::HessianComplete { vec![0.0; Q * Q] } else { Vec::new() },
            y1: if extra == Extra::HessianComplete && layout.per_item == 2 { vec![0.0; k * Q] } else { Vec::new() },
            gvar: if extra == Extra::HessianComplete && layout.per_item == 2 { vec![0.0; k * k] } else { Vec::new() },
            cov: if extra == Extra::HessianGeneral { vec![0.0; npar * npar] } else { Vec::new() },
            eap: Vec::new(),
        }
    }

    fn add(&mut self, o: &Acc) {
        self.loglik += o.loglik;
        for q in 0..Q {
            self.nq[q] += o.nq[q];
        }
        for (pairs, other) in [
            (&mut self.r, &o.r),
            (&mut self.miss, &o.miss),
            (&mut self.w, &o.w),
            (&mut self.y1, &o.y1),
            (&mut self.gvar, &o.gvar),
            (&mut self.cov, &o.cov),
        ] {
            for (x, y) in pairs.iter_mut().zip(other.iter()) {
                *x += y;
            }
        }
        self.eap.extend_from_slice(&o.eap);
    }
}

fn run_chunk(
    t: &Tables,
    pat: &Patterns,
    range: std::ops::Range<usize>,
    extra: Extra,
    layout: ScoreLayout,
    want_eap: bool,
) -> Acc {
    let k = t.k;
    let mut acc = Acc::new(k, pat.any_missing, extra, layout);
    if want_eap {
        acc.eap.reserve(range.len());
    }
    let mut post = [0.0; Q];
    let mut fpost = [0.0; Q];
    let theta = &t.theta;
    let mut gen = GeneralScratch::default();
    let prior_moments = if layout.with_var { Some(VarScore::new(layout.var)) } else { None };
    for p in range {
        let f = pat.freq[p];
        let (lo, hi, ll) = t.posterior(pat, p, &mut post);
        acc.loglik += f * ll;
        for q in lo..=hi {
            fpost[q] = f * post[q];
            acc.nq[q] += fpost[q];
        }
        let fp = &fpost[lo..=hi];
        for &j in pat.correct(p) {
            let row = &mut acc.r[j as usize * Q + lo..=j as usize * Q + hi];
            for (x, y) in row.iter_mut().zip(fp) {
                *x += y;
            }
        }
        if pat.any_missing {
            for &j in pat.missing(p) {
                let row = &mut acc.miss[j as usize * Q + lo..=j as usize * Q + hi];
                for (x, y) in row.iter_mut().zip(fp) {
                    *x += y;
                }
            }
        }
        if want_eap || extra == Extra::HessianComplete {
            let mut m1 = 0.0;
            for q in lo..=hi {
                m1 += post[q] * theta[q];
            }
            let mut v = 0.0;
            for q in lo..=hi {
                let dlt = theta[q] - m1;
                v += post[q] * dlt * dlt;
            }
            if want_eap {
                acc.eap.push((m1, v.sqrt()));
            }
            if extra == Extra::HessianComplete {
                for q in lo..=hi {
                    let row = &mut acc.w[q * Q..q * Q + hi + 1];
                    let fq = fpost[q];
                    for r in q..=hi {
                        row[r] += fq * post[r];
                    }
                }
                if layout.per_item == 2 {
                    let cor = pat.correct(p);
                    for &j in cor {
                        let row = &mut acc.y1[j as usize * Q + lo..=j as usize * Q + hi];
                        for (x, y) in row.iter_mut().zip(fp) {
                            *x += y * m1;
                        }
                    }
                    let fv = f * v;
                    for (c, &j) in cor.iter().enumerate() {
                        let row = &mut acc.gvar[j as usize * k..(j as usize + 1) * k];
                        for &l in &cor[c..] {
                            row[l as usize] += fv;
                        }
                    }
                }
            }
        }
        if extra == Extra::HessianGeneral {
            gen.accumulate(t, pat, p, f, &post, lo, hi, layout, prior_moments.as_ref(), &mut acc.cov);
        }
    }
    acc
}

/// The score of the prior's log weight with respect to the latent variance, per node.
pub(crate) struct VarScore {
    /// ∂ log w_q / ∂ var.
    pub s: [f64; Q],
    /// ∂² log w_q / ∂ var².
    pub h: [f64; Q],
}

impl VarScore {
    pub fn new(var: f64) -> VarScore {
        let theta = node_values();
        let lw = log_prior(var);
        let mut m2 = 0.0;
        for q in 0..Q {
            m2 += lw[q].exp() * theta[q] * theta[q];
        }
        let mut v2 = 0.0;
        for q in 0..Q {
            let dlt = theta[q] * theta[q] - m2;
            v2 += lw[q].exp() * dlt * dlt;
        }
        let mut s = [0.0; Q];
        let mut h = [0.0; Q];
        for q in 0..Q {
            let dlt = theta[q] * theta[q] - m2;
            s[q] = dlt / (2.0 * var * var);
            h[q] = -dlt / (var * var * var) - v2 / (4.0 * var.powi(4));
        }
        VarScore { s, h }
    }
}

#[derive(Default)]
struct GeneralScratch {
    idx: Vec<usize>,
    answered: Vec<(usize, f64)>,
    mean: Vec<f64>,
    second: Vec<f64>,
    g: Vec<f64>,
}

impl GeneralScratch {
    /// Adds f · Cov_post(score) of one pattern to `cov` (upper triangle, npar × npar).
    #[allow(clippy::too_many_arguments)]
    fn accumulate(
        &mut self,
        t: &Tables,
        pat: &Patterns,
        p: usize,
        f: f64,
        post: &[f64; Q],
        lo: usize,
        hi: usize,
        layout: ScoreLayout,
        vs: Option<&VarScore>,
        cov: &mut [f64],
    ) {
        let k = t.k;
        let npar = k * layout.per_item + layout.with_var as usize;
        let resp = pat.responses(p);
        self.idx.clear();
        self.answered.clear();
        for (j, &v) in resp.iter().enumerate() {
            if v != crate::data::MISSING {
                self.answered.push((j, v as f64));
                for s in 0..layout.per_item {
                    self.idx.push(j * layout.per_item + s);
                }
            }
        }
        if layout.with_var {
            self.idx.push(k * layout.per_item);
        }
        let dim = self.idx.len();
        self.mean.clear();
        self.mean.resize(dim, 0.0);
        self.second.clear();
        self.second.resize(dim * dim, 0.0);
        self.g.resize(dim, 0.0);
        for q in lo..=hi {
            let w = post[q];
            if w == 0.0 {
                continue;
            }
            let mut c = 0;
            for &(j, x) in &self.answered {
                let resid = x - t.p[j * Q + q];
                if layout.per_item == 2 {
                    self.g[c] = resid * t.theta[q];
                    self.g[c + 1] = resid;
                    c += 2;
                } else {
                    self.g[c] = resid;
                    c += 1;
                }
            }
            if let Some(vs) = vs {
                self.g[c] = vs.s[q];
            }
            for a in 0..dim {
                let wa = w * self.g[a];
                self.mean[a] += wa;
                let row = &mut self.second[a * dim..(a + 1) * dim];
                for b in a..dim {
                    row[b] += wa * self.g[b];
                }
            }
        }
        for a in 0..dim {
            for b in a..dim {
                let c = self.second[a * dim + b] - self.mean[a] * self.mean[b];
                let (ia, ib) = (self.idx[a], self.idx[b]);
                cov[ia * npar + ib] += f * c;
            }
        }
    }
}

/// Runs the E-step over all patterns with `threads` workers (fixed chunking, ordered
/// reduction).
pub(crate) fn estep(
    t: &Tables,
    pat: &Patterns,
    extra: Extra,
    layout: ScoreLayout,
    want_eap: bool,
    threads: usize,
) -> Acc {
    let n = pat.len();
    let n_chunks = n.div_ceil(CHUNK).max(1);
    let ranges: Vec<std::ops::Range<usize>> = (0..n_chunks).map(|c| c * CHUNK..((c + 1) * CHUNK).min(n)).collect();
    let threads = threads.clamp(1, n_chunks);
    let mut parts: Vec<Option<Acc>> = (0..n_chunks).map(|_| None).collect();
    if threads == 1 {
        for (c, r) in ranges.iter().enumerate() {
            parts[c] = Some(run_chunk(t, pat, r.clone(), extra, layout, want_eap));
        }
    } else {
        let results: Vec<Vec<(usize, Acc)>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|w| {
                    let ranges = &ranges;
                    s.spawn(move || {
                        (w..ranges.len())
                            .step_by(threads)
                            .map(|c| (c, run_chunk(t, pat, ranges[c].clone(), extra, layout, want_eap)))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| match h.join() {
                    Ok(v) => v,
                    Err(e) => std::panic::resume_unwind(e),
                })
                .collect()
        });
        for list in results {
            for (c, acc) in list {
                parts[c] = Some(acc);
            }
        }
    }
    let mut total = Acc::new(t.k, pat.any_missing, extra, layout);
    for part in parts.into_iter().flatten() {
        total.add(&part);
    }
    total
}
