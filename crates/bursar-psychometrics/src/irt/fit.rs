//! Estimation: EM cycles, then Newton–Raphson on the exact marginal log-likelihood once EM
//! has come close, to max |parameter change| < tolerance; standard errors from the exact
//! Hessian of the same discretised likelihood (the observed information the Oakes identity
//! expresses; mirt evaluates it by numerical differentiation).
//!
//! The gradient and Hessian of log L = Σ_p f_p log Σ_q w_q f_p(θ_q) come from Fisher's and
//! Louis's identities: ∇ log L = Σ_p f_p E_p[s], ∇² log L = Σ_p f_p (E_p[∇s] + Cov_p(s)) with
//! s the complete-data score at a node and E_p, Cov_p over the pattern's posterior.

use super::estep::{estep, logistic, softplus, Acc, Extra, ScoreLayout, Tables, VarScore};
use super::linalg::{cholesky, cholesky_inverse, cholesky_solve};
use super::patterns::Patterns;
use super::{calibratable_items, node_values, Calibration, IrtModel, Q};
use crate::data::ResponseMatrix;
use crate::error::{Error, Result};
use crate::progress::{report, Phase, Progress};

/// EM runs until its largest parameter change is below this, then Newton takes over.
const SWITCH_TO_NEWTON: f64 = 0.05;

/// How to fit.
#[derive(Debug, Clone, PartialEq)]
pub struct FitSettings {
    /// Cap on E-steps used to update parameters (EM cycles plus Newton steps).
    pub max_cycles: usize,
    /// Convergence: max |parameter change| between successive iterates.
    pub tolerance: f64,
    /// Worker threads for the E-step; 0 = the machine's available parallelism.
    pub threads: usize,
    /// Compute standard errors (the Hessian at the solution).
    pub standard_errors: bool,
    /// Where to report the phase and cycle while fitting (none by default).
    pub progress: Option<Progress>,
}

impl Default for FitSettings {
    fn default() -> Self {
        FitSettings { max_cycles: 2000, tolerance: 1e-8, threads: 0, standard_errors: true, progress: None }
    }
}

impl FitSettings {
    pub(crate) fn worker_threads(&self) -> usize {
        if self.threads > 0 {
            self.threads
        } else {
            std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
        }
    }
}

/// A fitted model.
#[derive(Debug, Clone)]
pub struct IrtFit {
    /// The model.
    pub model: IrtModel,
    /// Item ids, a, d and latent variance: everything needed to score new persons.
    pub calibration: Calibration,
    /// Column indices (in the response matrix) of the calibrated items.
    pub items: Vec<usize>,
    /// Σ_persons log Σ_q w_q Π P^x (1 − P)^(1 − x) at the estimate.
    pub loglik: f64,
    /// Free parameters.
    pub n_free_parameters: usize,
    /// Persons with at least one answered calibrated item (the N of BIC).
    pub n_answering: usize,
    /// Whether max |parameter change| fell below the tolerance within the cycle cap.
    pub converged: bool,
    /// E-steps used to update parameters (EM cycles plus Newton steps).
    pub em_cycles: usize,
    /// Standard errors (`None` inside when fixed by the model or when the information matrix
    /// is not positive definite; the vectors are `None` when not requested).
    pub se_a: Option<Vec<Option<f64>>>,
    /// Standard errors of the intercepts.
    pub se_d: Option<Vec<Option<f64>>>,
    /// Standard errors of b = −d/a by the delta method.
    pub se_b: Option<Vec<Option<f64>>>,
    /// EAP per person (in person order).
    pub eap: Vec<f64>,
    /// Posterior SD per person.
    pub eap_psd: Vec<f64>,
    /// (EAP, PSD) per distinct response pattern, in pattern order.
    pub(crate) pattern_eap: Vec<(f64, f64)>,
}

impl IrtFit {
    /// AIC = −2 loglik + 2 p.
    pub fn aic(&self) -> f64 {
        -2.0 * self.loglik + 2.0 * self.n_free_parameters as f64
    }

    /// BIC = −2 loglik + p ln N (N = persons with at least one answered calibrated item).
    pub fn bic(&self) -> f64 {
        -2.0 * self.loglik + self.n_free_parameters as f64 * (self.n_answering as f64).ln()
    }
}

/// Fits `model` to the calibratable items of `m` (see [`calibratable_items`]).
pub fn calibrate(m: &ResponseMatrix, model: IrtModel, settings: &FitSettings) -> Result<IrtFit> {
    let items = calibratable_items(m);
    if items.is_empty() {
        return Err(Error::invalid("no item has both correct and incorrect answers; nothing to calibrate"));
    }
    let pat = Patterns::build(m, &items);
    fit_patterns(m, items, &pat, model, settings, None)
}

pub(crate) fn fit_patterns(
    m: &ResponseMatrix,
    items: Vec<usize>,
    pat: &Patterns,
    model: IrtModel,
    settings: &FitSettings,
    force_extra: Option<Extra>,
) -> Result<IrtFit> {
    if !(settings.tolerance > 0.0 && settings.tolerance.is_finite()) || settings.max_cycles == 0 {
        return Err(Error::invalid("the tolerance must be positive and finite and the cycle cap at least 1"));
    }
    let k = items.len();
    if k == 0 {
        return Err(Error::invalid("no item to calibrate"));
    }
    let layout = Layout { model, k };
    let threads = settings.worker_threads();
    let hess_extra =
        force_extra.unwrap_or(if pat.any_missing { Extra::HessianGeneral } else { Extra::HessianComplete });
    let mut x = layout.start(pat);
    let mut prev_x = x.clone();
    let mut prev_ll = f64::NEG_INFINITY;
    let mut newton = false;
    let mut newton_failures = 0;
    let mut switch_tol = SWITCH_TO_NEWTON;
    let mut em_run = 0usize;
    let mut converged = false;
    let mut cycles = 0usize;
    // Cholesky factor of −H, kept across Newton steps while they keep contracting fast
    let mut factor: Option<Vec<f64>> = None;
    let mut factor_fresh = false;
    let mut last_newton_change = f64::INFINITY;
    let progress = settings.progress.as_ref();
    report(progress, |p| p.start_fit(settings.tolerance));
    while cycles < settings.max_cycles {
        cycles += 1;
        let tabs = layout.tables(&x);
        let want_hessian = newton && factor.is_none();
        let extra = if want_hessian { hess_extra } else { Extra::None };
        let acc = estep(&tabs, pat, extra, layout.score_layout(&x), false, threads);
        if !acc.loglik.is_finite() {
            break;
        }
        if newton && acc.loglik < prev_ll - 1e-10 * (1.0 + prev_ll.abs()) {
            // the last Newton step lowered the likelihood: retry from the previous point with
            // a fresh Hessian, or, if it was fresh, go back to EM
            x = prev_x.clone();
            if !factor_fresh {
                factor = None;
            } else {
                factor = None;
                newton = false;
                newton_failures += 1;
                switch_tol *= 0.1;
                em_run = 0;
            }
            last_newton_change = f64::INFINITY;
            continue;
        }
        if want_hessian {
            let h = layout.hessian(&x, &tabs, &acc, extra);
            let neg: Vec<f64> = h.iter().map(|v| -v).collect();
            factor = cholesky(&neg, layout.npar());
            factor_fresh = true;
            if factor.is_none() {
                newton = false;
                newton_failures += 1;
            }
        } else {
            factor_fresh = false;
        }
        let newton_next = match (&factor, newton) {
            (Some(l), true) => layout.newton_step(&x, &tabs, &acc, l),
            _ => None,
        };
        let used_newton = newton_next.is_some();
        let next = match newton_next {
            Some(v) => v,
            None => layout.mstep(&x, &tabs, &acc),
        };
        if !layout.plausible(&next) {
            break;
        }
        let change = x.iter().zip(&next).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        prev_x = std::mem::replace(&mut x, next);
        prev_ll = acc.loglik;
        report(progress, |p| p.cycle(cycles, change, used_newton));
        if change < settings.tolerance {
            converged = true;
            break;
        }
        if used_newton {
            // a reused Hessian that no longer contracts quickly is refreshed
            if !factor_fresh && change > 0.1 * last_newton_change {
                factor = None;
            }
            last_newton_change = change;
        } else {
            em_run += 1;
            if newton_failures < 5 && em_run >= 3 && change < switch_tol {
                newton = true;
                factor = None;
                last_newton_change = f64::INFINITY;
            }
        }
    }
    // final pass at the estimate: loglik, EAPs and (on request) the Hessian
    report(progress, |p| p.phase(Phase::Scoring));
    let tabs = layout.tables(&x);
    let extra = if settings.standard_errors { hess_extra } else { Extra::None };
    let acc = estep(&tabs, pat, extra, layout.score_layout(&x), true, threads);
    let (mut se_a, mut se_d, mut se_b) = (None, None, None);
    if settings.standard_errors {
        let h = layout.hessian(&x, &tabs, &acc, extra);
        let (sa, sd, sb) = layout.standard_errors(&x, &h);
        se_a = Some(sa);
        se_d = Some(sd);
        se_b = Some(sb);
    }
    let a: Vec<f64> = (0..k).map(|j| layout.a(&x, j)).collect();
    let d: Vec<f64> = (0..k).map(|j| layout.d(&x, j)).collect();
    let ids: Vec<String> = items.iter().map(|&j| m.item_ids()[j].clone()).collect();
    let calibration = Calibration::new(ids, a, d, layout.var(&x))?;
    let pattern_eap = acc.eap;
    let eap = pat.person_pattern.iter().map(|&p| pattern_eap[p as usize].0).collect();
    let eap_psd = pat.person_pattern.iter().map(|&p| pattern_eap[p as usize].1).collect();
    Ok(IrtFit {
        model,
        calibration,
        items,
        loglik: acc.loglik,
        n_free_parameters: model.n_free_parameters(k),
        n_answering: pat.n_answering,
        converged,
        em_cycles: cycles,
        se_a,
        se_d,
        se_b,
        eap,
        eap_psd,
        pattern_eap,
    })
}

/// Parameter vector layout: 2PL (a_0, d_0, a_1, d_1, …); Rasch (d_0, …, d_{k−1}, var);
/// 1PL (d_0, …, d_{k−1}).
#[derive(Clone, Copy)]
pub(crate) struct Layout {
    pub model: IrtModel,
    pub k: usize,
}

impl Layout {
    fn per_item(&self) -> usize {
        if self.model == IrtModel::TwoPl {
            2
        } else {
            1
        }
    }

    fn npar(&self) -> usize {
        self.model.n_free_parameters(self.k)
    }

    fn var_index(&self) -> Option<usize> {
        (self.model == IrtModel::Rasch).then_some(self.k)
    }

    pub fn a(&self, x: &[f64], j: usize) -> f64 {
        if self.model == IrtModel::TwoPl {
            x[2 * j]
        } else {
            1.0
        }
    }

    pub fn d(&self, x: &[f64], j: usize) -> f64 {
        if self.model == IrtModel::TwoPl {
            x[2 * j + 1]
        } else {
            x[j]
        }
    }

    pub fn var(&self, x: &[f64]) -> f64 {
        match self.var_index() {
            Some(i) => x[i],
            None => 1.0,
        }
    }

    fn tables(&self, x: &[f64]) -> Tables {
        let a: Vec<f64> = (0..self.k).map(|j| self.a(x, j)).collect();
        let d: Vec<f64> = (0..self.k).map(|j| self.d(x, j)).collect();
        Tables::new(&a, &d, self.var(x))
    }

    fn score_layout(&self, x: &[f64]) -> ScoreLayout {
        ScoreLayout { per_item: self.per_item(), with_var: self.var_index().is_some(), var: self.var(x) }
    }

    fn plausible(&self, x: &[f64]) -> bool {
        x.iter().all(|v| v.is_finite()) && self.var_index().is_none_or(|i| x[i] > 1e-8 && x[i] < 1e6)
    }

    /// Starting values: a = 1, d from the available-case p-value, var = 1.
    fn start(&self, pat: &Patterns) -> Vec<f64> {
        let k = self.k;
        let mut ones = vec![0.0; k];
        let mut answered = vec![0.0; k];
        for p in 0..pat.len() {
            let f = pat.freq[p];
            for (j, &v) in pat.responses(p).iter().enumerate() {
                if v <= 1 {
                    answered[j] += f;
                    ones[j] += f * v as f64;
                }
            }
        }
        let mut x = vec![0.0; self.npar()];
        for j in 0..k {
            let p = (ones[j] / answered[j]).clamp(0.01, 0.99);
            let d = 1.16 * (p / (1.0 - p)).ln();
            if self.model == IrtModel::TwoPl {
                x[2 * j] = 1.0;
                x[2 * j + 1] = d;
            } else {
                x[j] = d;
            }
        }
        if let Some(i) = self.var_index() {
            x[i] = 1.0;
        }
        x
    }

    /// n_jq: expected persons answering item j at node q.
    fn n_item(acc: &Acc, j: usize) -> [f64; Q] {
        let mut n = acc.nq;
        if !acc.miss.is_empty() {
            for (q, v) in n.iter_mut().enumerate() {
                *v = (*v - acc.miss[j * Q + q]).max(0.0);
            }
        }
        n
    }

    /// One M-step: each item maximises its expected complete-data log-likelihood exactly;
    /// the latent variance (Rasch) matches the posterior second moment on the nodes.
    fn mstep(&self, x: &[f64], _tabs: &Tables, acc: &Acc) -> Vec<f64> {
        let theta = node_values();
        let mut next = x.to_vec();
        for j in 0..self.k {
            let r = &acc.r[j * Q..(j + 1) * Q];
            let n = Self::n_item(acc, j);
            if self.model == IrtModel::TwoPl {
                let (a, d) = item_newton(r, &n, &theta, self.a(x, j), self.d(x, j), true);
                next[2 * j] = a;
                next[2 * j + 1] = d;
            } else {
                let (_, d) = item_newton(r, &n, &theta, 1.0, self.d(x, j), false);
                next[j] = d;
            }
        }
        if let Some(i) = self.var_index() {
            next[i] = solve_variance(&acc.nq, x[i]);
        }
        next
    }

    fn gradient(&self, x: &[f64], tabs: &Tables, acc: &Acc) -> Vec<f64> {
        let theta = &tabs.theta;
        let mut g = vec![0.0; self.npar()];
        for j in 0..self.k {
            let n = Self::n_item(acc, j);
            let (mut ga, mut gd) = (0.0, 0.0);
            for q in 0..Q {
                let e = acc.r[j * Q + q] - n[q] * tabs.p[j * Q + q];
                ga += e * theta[q];
                gd += e;
            }
            if self.model == IrtModel::TwoPl {
                g[2 * j] = ga;
                g[2 * j + 1] = gd;
            } else {
                g[j] = gd;
            }
        }
        if let Some(i) = self.var_index() {
            let vs = VarScore::new(x[i]);
            g[i] = (0..Q).map(|q| acc.nq[q] * vs.s[q]).sum();
        }
        g
    }

    /// The Hessian of the marginal log-likelihood (full symmetric npar × npar).
    pub(crate) fn hessian(&self, x: &[f64], tabs: &Tables, acc: &Acc, extra: Extra) -> Vec<f64> {
        let k = self.k;
        let np = self.npar();
        let s = self.per_item();
        let theta = &tabs.theta;
        let mut h = vec![0.0; np * np];
        let vs = self.var_index().map(|i| VarScore::new(x[i]));
        // expected second derivatives of the complete-data log-likelihood
        for j in 0..k {
            let n = Self::n_item(acc, j);
            let (mut haa, mut had, mut hdd) = (0.0, 0.0, 0.0);
            for q in 0..Q {
                let p = tabs.p[j * Q + q];
                let w = n[q] * p * (1.0 - p);
                haa += w * theta[q] * theta[q];
                had += w * theta[q];
                hdd += w;
            }
            if s == 2 {
                h[(2 * j) * np + 2 * j] -= haa;
                h[(2 * j) * np + 2 * j + 1] -= had;
                h[(2 * j + 1) * np + 2 * j] -= had;
                h[(2 * j + 1) * np + 2 * j + 1] -= hdd;
            } else {
                h[j * np + j] -= hdd;
            }
        }
        if let (Some(i), Some(vs)) = (self.var_index(), vs.as_ref()) {
            h[i * np + i] += (0..Q).map(|q| acc.nq[q] * vs.h[q]).sum::<f64>();
        }
        match extra {
            Extra::HessianGeneral => {
                for a in 0..np {
                    for b in a..np {
                        let v = acc.cov[a * np + b];
                        h[a * np + b] += v;
                        if b != a {
                            h[b * np + a] += v;
                        }
                    }
                }
            }
            Extra::HessianComplete => self.add_posterior_covariance(tabs, acc, vs.as_ref(), &mut h),
            Extra::None => {}
        }
        h
    }

    /// Σ_p f_p Cov_p(score) for complete data from the E-step's sufficient statistics.
    fn add_posterior_covariance(&self, tabs: &Tables, acc: &Acc, vs: Option<&VarScore>, h: &mut [f64]) {
        let k = self.k;
        let np = self.npar();
        let s = self.per_item();
        let theta = &tabs.theta;
        let mut w = vec![0.0; Q * Q];
        for q in 0..Q {
            for r in q..Q {
                let v = acc.w[q * Q + r];
                w[q * Q + r] = v;
                w[r * Q + q] = v;
            }
        }
        // u components: 2PL (θ, 1); intercept-only (1)
        let u = |alpha: usize, q: usize| -> f64 {
            if s == 2 && alpha == 0 {
                theta[q]
            } else {
                1.0
            }
        };
        // Y_α[j][q] = Σ_p f x_j post_q E_p(u_α)
        let y = |alpha: usize, j: usize, q: usize| -> f64 {
            if s == 2 && alpha == 0 {
                acc.y1[j * Q + q]
            } else {
                acc.r[j * Q + q]
            }
        };
        // Z_α[j][r] = Σ_q W_qr P_jq u_α(q)
        let mut z = vec![0.0; s * k * Q];
        for alpha in 0..s {
            for j in 0..k {
                let out = &mut z[(alpha * k + j) * Q..(alpha * k + j + 1) * Q];
                for q in 0..Q {
                    let c = tabs.p[j * Q + q] * u(alpha, q);
                    if c == 0.0 {
                        continue;
                    }
                    let row = &w[q * Q..(q + 1) * Q];
                    for (o, wv) in out.iter_mut().zip(row) {
                        *o += c * wv;
                    }
                }
            }
        }
        for j in 0..k {
            for l in j..k {
                for alpha in 0..s {
                    // on the diagonal block (j = l) each unordered parameter pair once
                    let first_beta = if j == l { alpha } else { 0 };
                    for beta in first_beta..s {
                        let mut v = 0.0;
                        let zj = &z[(alpha * k + j) * Q..(alpha * k + j + 1) * Q];
                        for q in 0..Q {
                            let (pj, pl) = (tabs.p[j * Q + q], tabs.p[l * Q + q]);
                            let (ua, ub) = (u(alpha, q), u(beta, q));
                            v += acc.nq[q] * pj * pl * ua * ub;
                            v -= zj[q] * pl * ub;
                            if s == 2 {
                                v -= pl * ub * (acc.r[j * Q + q] * ua - y(alpha, j, q));
                                v -= pj * ua * (acc.r[l * Q + q] * ub - y(beta, l, q));
                            }
                        }
                        if s == 2 && alpha == 0 && beta == 0 {
                            v += acc.gvar[j * k + l];
                        }
                        let (ia, ib) = (j * s + alpha, l * s + beta);
                        h[ia * np + ib] += v;
                        if ia != ib {
                            h[ib * np + ia] += v;
                        }
                    }
                }
            }
        }
        if let (Some(i), Some(vs)) = (self.var_index(), vs) {
            for j in 0..k {
                let zj = &z[j * Q..(j + 1) * Q];
                let mut v = 0.0;
                for q in 0..Q {
                    v += -acc.nq[q] * tabs.p[j * Q + q] * vs.s[q] + zj[q] * vs.s[q];
                }
                h[j * np + i] += v;
                h[i * np + j] += v;
            }
            let mut v = 0.0;
            for q in 0..Q {
                v += acc.nq[q] * vs.s[q] * vs.s[q];
                let row = &w[q * Q..(q + 1) * Q];
                let inner: f64 = row.iter().zip(vs.s.iter()).map(|(a, b)| a * b).sum();
                v -= vs.s[q] * inner;
            }
            h[i * np + i] += v;
        }
    }

    /// A Newton–Raphson step on the marginal log-likelihood given the Cholesky factor of −H
    /// (the latent variance is kept above half its current value).
    fn newton_step(&self, x: &[f64], tabs: &Tables, acc: &Acc, factor: &[f64]) -> Option<Vec<f64>> {
        let np = self.npar();
        let g = self.gradient(x, tabs, acc);
        let step = cholesky_solve(factor, np, &g);
        let mut t = 1.0;
        if let Some(i) = self.var_index() {
            while x[i] + t * step[i] <= 0.5 * x[i] {
                t *= 0.5;
            }
        }
        let next: Vec<f64> = x.iter().zip(&step).map(|(a, b)| a + t * b).collect();
        next.iter().all(|v| v.is_finite()).then_some(next)
    }

    /// (se_a, se_d, se_b) from the inverse of −H.
    #[allow(clippy::type_complexity)]
    fn standard_errors(&self, x: &[f64], h: &[f64]) -> (Vec<Option<f64>>, Vec<Option<f64>>, Vec<Option<f64>>) {
        let k = self.k;
        let np = self.npar();
        let neg: Vec<f64> = h.iter().map(|v| -v).collect();
        let Some(l) = cholesky(&neg, np) else {
            return (vec![None; k], vec![None; k], vec![None; k]);
        };
        let inv = cholesky_inverse(&l, np);
        let sd = |v: f64| if v > 0.0 && v.is_finite() { Some(v.sqrt()) } else { None };
        let mut se_a = vec![None; k];
        let mut se_d = vec![None; k];
        let mut se_b = vec![None; k];
        for j in 0..k {
            if self.model == IrtModel::TwoPl {
                let (ia, id) = (2 * j, 2 * j + 1);
                let (a, d) = (x[ia], x[id]);
                let (vaa, vdd, vad) = (inv[ia * np + ia], inv[id * np + id], inv[ia * np + id]);
                se_a[j] = sd(vaa);
                se_d[j] = sd(vdd);
                // b = −d/a: ∂b/∂a = d/a², ∂b/∂d = −1/a
                let (ga, gd) = (d / (a * a), -1.0 / a);
                se_b[j] = sd(ga * ga * vaa + gd * gd * vdd + 2.0 * ga * gd * vad);
            } else {
                se_d[j] = sd(inv[j * np + j]);
                se_b[j] = se_d[j];
            }
        }
        (se_a, se_d, se_b)
    }
}

/// Maximises Σ_q r_q η_q − n_q softplus(η_q), η = aθ_q + d, by Newton with step halving
/// (over d only when `slope` is false).
fn item_newton(r: &[f64], n: &[f64; Q], theta: &[f64; Q], a0: f64, d0: f64, slope: bool) -> (f64, f64) {
    let objective = |a: f64, d: f64| -> f64 {
        let mut s = 0.0;
        for q in 0..Q {
            if n[q] > 0.0 {
                let eta = a * theta[q] + d;
                s += r[q] * eta - n[q] * softplus(eta);
            }
        }
        s
    };
    let (mut a, mut d) = (a0, d0);
    let mut f = objective(a, d);
    for _ in 0..100 {
        let (mut ga, mut gd, mut haa, mut had, mut hdd) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for q in 0..Q {
            if n[q] <= 0.0 {
                continue;
            }
            let p = logistic(a * theta[q] + d);
            let e = r[q] - n[q] * p;
            let w = n[q] * p * (1.0 - p);
            ga += e * theta[q];
            gd += e;
            haa += w * theta[q] * theta[q];
            had += w * theta[q];
            hdd += w;
        }
        let (sa, sd) = if slope {
            let det = haa * hdd - had * had;
            if !(det > 0.0) {
                break;
            }
            ((hdd * ga - had * gd) / det, (haa * gd - had * ga) / det)
        } else {
            if !(hdd > 0.0) {
                break;
            }
            (0.0, gd / hdd)
        };
        let mut t = 1.0;
        let mut accepted = false;
        while t > 1e-12 {
            let fa = objective(a + t * sa, d + t * sd);
            if fa >= f - 1e-13 * f.abs() {
                a += t * sa;
                d += t * sd;
                f = fa;
                accepted = true;
                break;
            }
            t *= 0.5;
        }
        if !accepted || (t * sa).abs().max((t * sd).abs()) < 1e-13 {
            break;
        }
    }
    (a, d)
}

/// The variance v whose normalised node weights have second moment Σ n_q θ_q² / Σ n_q.
fn solve_variance(nq: &[f64; Q], v0: f64) -> f64 {
    let theta = node_values();
    let total: f64 = nq.iter().sum();
    if !(total > 0.0) {
        return v0;
    }
    let target: f64 = (0..Q).map(|q| nq[q] * theta[q] * theta[q]).sum::<f64>() / total;
    // m2(u) with u = ln v, and its derivative Var_w(θ²)/(2v) · v
    let moments = |u: f64| -> (f64, f64) {
        let v = u.exp();
        let lw = super::estep::log_prior(v);
        let mut m2 = 0.0;
        for q in 0..Q {
            m2 += lw[q].exp() * theta[q] * theta[q];
        }
        let mut v2 = 0.0;
        for q in 0..Q {
            let dlt = theta[q] * theta[q] - m2;
            v2 += lw[q].exp() * dlt * dlt;
        }
        (m2 - target, v2 / (2.0 * v))
    };
    let (mut lo, mut hi) = ((1e-6f64).ln(), (1e6f64).ln());
    let mut u = v0.clamp(1e-6, 1e6).ln();
    for _ in 0..200 {
        let (f, df) = moments(u);
        if f == 0.0 {
            break;
        }
        if f > 0.0 {
            hi = u;
        } else {
            lo = u;
        }
        let mut next = u - f / df;
        if !(next > lo && next < hi && next.is_finite()) {
            next = 0.5 * (lo + hi);
        }
        if (next - u).abs() < 1e-15 {
            u = next;
            break;
        }
        u = next;
    }
    u.exp()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::{generate_2pl, GenSpec};

    fn data(missing_rate: f64) -> ResponseMatrix {
        let spec = GenSpec {
            n_persons: 400,
            a: vec![0.8, 1.4, 1.1, 0.6, 1.9, 1.0],
            d: vec![0.5, -0.4, 1.2, -1.0, 0.1, 2.0],
            missing_rate,
            seed: 11,
            times: None,
        };
        generate_2pl(&spec).unwrap().responses
    }

    fn loglik(layout: &Layout, pat: &Patterns, x: &[f64]) -> f64 {
        let tabs = layout.tables(x);
        estep(&tabs, pat, Extra::None, layout.score_layout(x), false, 1).loglik
    }

    fn grad(layout: &Layout, pat: &Patterns, x: &[f64]) -> Vec<f64> {
        let tabs = layout.tables(x);
        let acc = estep(&tabs, pat, Extra::None, layout.score_layout(x), false, 1);
        layout.gradient(x, &tabs, &acc)
    }

    /// Analytic gradient and Hessian (both accumulation paths) against central differences
    /// of the marginal log-likelihood at an arbitrary point.
    #[test]
    fn derivatives_match_finite_differences() {
        for missing in [0.0, 0.3] {
            let m = data(missing);
            let items = calibratable_items(&m);
            let pat = Patterns::build(&m, &items);
            for model in IrtModel::ALL {
                let layout = Layout { model, k: items.len() };
                let mut x = layout.start(&pat);
                // move away from the starting values so nothing is special
                for (i, v) in x.iter_mut().enumerate() {
                    *v += 0.05 * ((i % 3) as f64 - 1.0);
                }
                if let Some(i) = layout.var_index() {
                    x[i] = 0.8;
                }
                let np = layout.npar();
                let g = grad(&layout, &pat, &x);
                let h = 1e-5;
                for i in 0..np {
                    let (mut up, mut dn) = (x.clone(), x.clone());
                    up[i] += h;
                    dn[i] -= h;
                    let fd = (loglik(&layout, &pat, &up) - loglik(&layout, &pat, &dn)) / (2.0 * h);
                    assert!(
                        (fd - g[i]).abs() < 1e-4 * (1.0 + g[i].abs()),
                        "{model} missing {missing} grad {i}: {fd} vs {}",
                        g[i]
                    );
                }
                let tabs = layout.tables(&x);
                let paths: Vec<Extra> = if missing > 0.0 {
                    vec![Extra::HessianGeneral]
                } else {
                    vec![Extra::HessianComplete, Extra::HessianGeneral]
                };
                for extra in paths {
                    let acc = estep(&tabs, &pat, extra, layout.score_layout(&x), false, 1);
                    let hess = layout.hessian(&x, &tabs, &acc, extra);
                    for i in 0..np {
                        let (mut up, mut dn) = (x.clone(), x.clone());
                        up[i] += h;
                        dn[i] -= h;
                        let (gu, gd) = (grad(&layout, &pat, &up), grad(&layout, &pat, &dn));
                        for j in 0..np {
                            let fd = (gu[j] - gd[j]) / (2.0 * h);
                            let an = hess[i * np + j];
                            assert!(
                                (fd - an).abs() < 1e-4 * (1.0 + an.abs()),
                                "{model} {extra:?} missing {missing} H[{i},{j}]: {fd} vs {an}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn variance_step_matches_the_second_moment() {
        let lw = super::super::estep::log_prior(0.64);
        let mut nq = [0.0; Q];
        for q in 0..Q {
            nq[q] = 1000.0 * lw[q].exp();
        }
        let v = solve_variance(&nq, 1.0);
        assert!((v - 0.64).abs() < 1e-12, "{v}");
    }
}
