//! Scoring persons against a fixed calibration: EAP and posterior SD on the 61 nodes, MAP
//! with SE = 1/√(I(θ) + 1/var), ML with SE = 1/√I(θ).

use serde::{Deserialize, Serialize};

use super::estep::{log_prior, logistic, posterior_from_log, softplus};
use super::{node_values, Q};
use crate::data::MISSING;
use crate::error::{Error, Result};

/// A stored calibration: what a server keeps to score learners later.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Item ids, in the order of `a` and `d`.
    pub item_ids: Vec<String>,
    /// Slopes.
    pub a: Vec<f64>,
    /// Intercepts.
    pub d: Vec<f64>,
    /// Variance of the latent prior N(0, var).
    pub latent_var: f64,
}

/// Status of a maximum-likelihood estimate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MlStatus {
    /// A finite maximum.
    #[serde(rename = "ok")]
    Finite,
    /// The likelihood keeps rising as θ → +∞ (e.g. everything answered correctly).
    #[serde(rename = "+inf")]
    PlusInfinity,
    /// The likelihood keeps rising as θ → −∞ (e.g. everything answered wrongly).
    #[serde(rename = "-inf")]
    MinusInfinity,
    /// No answered item carries information (none answered, or all slopes 0).
    #[serde(rename = "none")]
    NoInformation,
}

/// One person's scores.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PersonScore {
    /// Posterior mean on the nodes.
    pub eap: f64,
    /// Posterior standard deviation on the nodes.
    pub eap_psd: f64,
    /// Posterior mode.
    pub map: f64,
    /// 1/√(information + 1/var) at the mode.
    pub map_se: f64,
    /// Maximum-likelihood estimate (`None` unless `ml_status` is finite).
    pub ml: Option<f64>,
    /// 1/√information at the ML estimate.
    pub ml_se: Option<f64>,
    /// Whether the ML estimate is finite.
    pub ml_status: MlStatus,
}

impl Calibration {
    /// Checks lengths, finiteness and a positive latent variance.
    pub fn new(item_ids: Vec<String>, a: Vec<f64>, d: Vec<f64>, latent_var: f64) -> Result<Calibration> {
        if item_ids.len() != a.len() || a.len() != d.len() {
            return Err(Error::invalid(format!(
                "{} item ids, {} slopes and {} intercepts",
                item_ids.len(),
                a.len(),
                d.len()
            )));
        }
        if a.iter().chain(&d).any(|v| !v.is_finite()) {
            return Err(Error::invalid("slopes and intercepts must be finite"));
        }
        if !(latent_var > 0.0 && latent_var.is_finite()) {
            return Err(Error::invalid("the latent variance must be positive and finite"));
        }
        Ok(Calibration { item_ids, a, d, latent_var })
    }

    /// Re-checks the invariants of [`Calibration::new`] (the fields are public, e.g. for
    /// storage).
    pub fn validate(&self) -> Result<()> {
        Calibration::new(Vec::new(), Vec::new(), Vec::new(), self.latent_var)?;
        if self.item_ids.len() != self.a.len() || self.a.len() != self.d.len() {
            return Err(Error::invalid(format!(
                "{} item ids, {} slopes and {} intercepts",
                self.item_ids.len(),
                self.a.len(),
                self.d.len()
            )));
        }
        if self.a.iter().chain(&self.d).any(|v| !v.is_finite()) {
            return Err(Error::invalid("slopes and intercepts must be finite"));
        }
        Ok(())
    }

    /// Scores one response pattern (`Some(0)`, `Some(1)` or `None`, in item order).
    pub fn score(&self, responses: &[Option<u8>]) -> Result<PersonScore> {
        self.validate()?;
        if responses.len() != self.a.len() {
            return Err(Error::invalid(format!("{} responses for {} items", responses.len(), self.a.len())));
        }
        let mut flat = Vec::with_capacity(responses.len());
        for (j, r) in responses.iter().enumerate() {
            flat.push(match r {
                None => MISSING,
                Some(v @ (0 | 1)) => *v,
                Some(v) => {
                    return Err(Error::invalid(format!("item {}: response {v} is not 0 or 1", self.item_ids[j])))
                }
            });
        }
        self.score_flat(&flat)
    }

    /// Scores one pattern in the flat layout (0, 1, [`MISSING`]).
    pub fn score_flat(&self, responses: &[u8]) -> Result<PersonScore> {
        self.validate()?;
        if responses.len() != self.a.len() {
            return Err(Error::invalid(format!("{} responses for {} items", responses.len(), self.a.len())));
        }
        if let Some(j) = responses.iter().position(|&v| v > 1 && v != MISSING) {
            return Err(Error::invalid(format!(
                "item {}: byte {} is not 0, 1 or MISSING",
                self.item_ids[j], responses[j]
            )));
        }
        let answered: Vec<(f64, f64, f64)> = responses
            .iter()
            .enumerate()
            .filter(|(_, &v)| v != MISSING)
            .map(|(j, &v)| (self.a[j], self.d[j], v as f64))
            .collect();
        let (eap, eap_psd) = self.eap(&answered);
        let (map, map_info) = maximise(&answered, Some(self.latent_var), eap);
        let map_se = 1.0 / (map_info + 1.0 / self.latent_var).sqrt();
        let ml_status = ml_status(&answered);
        let (ml, ml_se) = if ml_status == MlStatus::Finite {
            let (t, info) = maximise(&answered, None, map);
            if t.is_finite() && info > 0.0 {
                (Some(t), Some(1.0 / info.sqrt()))
            } else {
                (None, None)
            }
        } else {
            (None, None)
        };
        Ok(PersonScore { eap, eap_psd, map, map_se, ml, ml_se, ml_status })
    }

    fn eap(&self, answered: &[(f64, f64, f64)]) -> (f64, f64) {
        let theta = node_values();
        let mut lg = log_prior(self.latent_var);
        for &(a, d, x) in answered {
            for q in 0..Q {
                let eta = a * theta[q] + d;
                lg[q] += x * eta - softplus(eta);
            }
        }
        let mut post = [0.0; Q];
        let (lo, hi, _) = posterior_from_log(&lg, &mut post);
        let m1: f64 = (lo..=hi).map(|q| post[q] * theta[q]).sum();
        let v: f64 = (lo..=hi).map(|q| post[q] * (theta[q] - m1) * (theta[q] - m1)).sum();
        (m1, v.sqrt())
    }
}

/// Where the likelihood of a pattern goes as θ → ±∞ (the log-likelihood is concave in θ).
fn ml_status(answered: &[(f64, f64, f64)]) -> MlStatus {
    // evidence against θ → +∞: wrong answers to items with a > 0, right answers with a < 0
    let mut against_up = 0.0;
    let mut against_down = 0.0;
    for &(a, _, x) in answered {
        if a > 0.0 {
            against_up += a * (1.0 - x);
            against_down += a * x;
        } else if a < 0.0 {
            against_up += -a * x;
            against_down += -a * (1.0 - x);
        }
    }
    match (against_up > 0.0, against_down > 0.0) {
        (true, true) => MlStatus::Finite,
        (false, true) => MlStatus::PlusInfinity,
        (true, false) => MlStatus::MinusInfinity,
        (false, false) => MlStatus::NoInformation,
    }
}

/// Maximises Σ x η − softplus(η) (− θ²/(2 var) with a prior) by Newton with step halving;
/// returns the maximiser and the test information Σ a² P(1 − P) there.
fn maximise(answered: &[(f64, f64, f64)], var: Option<f64>, start: f64) -> (f64, f64) {
    let objective = |t: f64| -> f64 {
        let mut s = 0.0;
        for &(a, d, x) in answered {
            let eta = a * t + d;
            s += x * eta - softplus(eta);
        }
        if let Some(v) = var {
            s -= t * t / (2.0 * v);
        }
        s
    };
    let derivs = |t: f64| -> (f64, f64) {
        let (mut g, mut info) = (0.0, 0.0);
        for &(a, d, x) in answered {
            let p = logistic(a * t + d);
            g += a * (x - p);
            info += a * a * p * (1.0 - p);
        }
        (g, info)
    };
    let mut t = if start.is_finite() { start } else { 0.0 };
    let mut f = objective(t);
    for _ in 0..500 {
        let (mut g, info) = derivs(t);
        let mut curv = info;
        if let Some(v) = var {
            g -= t / v;
            curv += 1.0 / v;
        }
        if !(curv > 0.0) {
            break;
        }
        let step = g / curv;
        let mut s = 1.0;
        let mut moved = false;
        while s > 1e-12 {
            let cand = t + s * step;
            let fc = objective(cand);
            if fc >= f - 1e-14 * f.abs() {
                t = cand;
                f = fc;
                moved = true;
                break;
            }
            s *= 0.5;
        }
        if !moved || (s * step).abs() < 1e-12 {
            break;
        }
    }
    (t, derivs(t).1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cal() -> Calibration {
        Calibration::new(vec!["a".into(), "b".into(), "c".into()], vec![1.0, 1.5, 0.7], vec![0.5, -0.2, 1.0], 1.0)
            .unwrap()
    }

    #[test]
    fn extreme_patterns_have_infinite_ml() {
        let c = cal();
        let all = c.score(&[Some(1), Some(1), Some(1)]).unwrap();
        assert_eq!(all.ml_status, MlStatus::PlusInfinity);
        assert_eq!(all.ml, None);
        assert!(all.map.is_finite() && all.map > 0.0);
        let none = c.score(&[Some(0), Some(0), None]).unwrap();
        assert_eq!(none.ml_status, MlStatus::MinusInfinity);
        let empty = c.score(&[None, None, None]).unwrap();
        assert_eq!(empty.ml_status, MlStatus::NoInformation);
        assert!(empty.eap.abs() < 1e-12);
        assert!((empty.map_se - 1.0).abs() < 1e-12);
        assert!(c.score(&[Some(2), None, None]).is_err());
        assert!(c.score(&[None]).is_err());
    }

    #[test]
    fn ml_solves_the_likelihood_equation() {
        let c = cal();
        let s = c.score(&[Some(1), Some(0), Some(1)]).unwrap();
        let t = s.ml.unwrap();
        let g: f64 = [(1.0, 0.5, 1.0), (1.5, -0.2, 0.0), (0.7, 1.0, 1.0)]
            .iter()
            .map(|&(a, d, x)| a * (x - logistic(a * t + d)))
            .sum();
        assert!(g.abs() < 1e-9, "score {g} at {t}");
        // MAP shrinks toward 0 relative to ML
        assert!(s.map.abs() < t.abs());
        assert!(Calibration::new(vec!["a".into()], vec![1.0], vec![0.0], 0.0).is_err());
    }
}
