//! Item response theory: marginal maximum likelihood (Bock–Aitkin EM, finished by Newton
//! steps on the same discretised likelihood), standard errors, and person scores.
//!
//! Conventions (see the crate documentation): logistic with D = 1 in slope-intercept form
//! P(x = 1 | θ) = 1 / (1 + exp(−(aθ + d))), b = −d/a; 61 equally spaced nodes on [−6, 6]
//! with weights dnorm(θ_q; 0, var) normalised over the nodes; missing responses skipped.

mod estep;
mod fit;
mod linalg;
mod patterns;
mod score;

use std::fmt;

use serde::Serialize;

use crate::data::{ResponseMatrix, MISSING};
use crate::error::{Error, Result};

pub(crate) use estep::Extra;
pub(crate) use fit::fit_patterns;
pub use fit::{calibrate, FitSettings, IrtFit};
pub(crate) use patterns::Patterns;
pub use score::{Calibration, MlStatus, PersonScore};

/// Number of quadrature nodes.
pub const N_NODES: usize = 61;
pub(crate) const Q: usize = N_NODES;

/// The quadrature nodes: −6, −5.8, …, 6.
pub fn node_values() -> [f64; Q] {
    let mut t = [0.0; Q];
    for (q, v) in t.iter_mut().enumerate() {
        *v = -6.0 + 12.0 * q as f64 / (Q - 1) as f64;
    }
    t
}

/// The IRT models Bursar fits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum IrtModel {
    /// Two-parameter logistic, θ ~ N(0, 1).
    #[serde(rename = "2pl")]
    TwoPl,
    /// All slopes 1, latent variance estimated (mirt `itemtype = "Rasch"`).
    #[serde(rename = "rasch")]
    Rasch,
    /// All slopes 1 and latent variance 1.
    #[serde(rename = "1pl_a1_var1")]
    OnePlA1Var1,
}

impl IrtModel {
    /// Every model, in report order.
    pub const ALL: [IrtModel; 3] = [IrtModel::TwoPl, IrtModel::Rasch, IrtModel::OnePlA1Var1];

    /// The report's key: `2pl`, `rasch`, `1pl_a1_var1`.
    pub fn key(self) -> &'static str {
        match self {
            IrtModel::TwoPl => "2pl",
            IrtModel::Rasch => "rasch",
            IrtModel::OnePlA1Var1 => "1pl_a1_var1",
        }
    }

    /// Parses a report key.
    pub fn from_key(key: &str) -> Result<IrtModel> {
        IrtModel::ALL
            .into_iter()
            .find(|m| m.key() == key)
            .ok_or_else(|| Error::invalid(format!("unknown IRT model '{key}' (expected 2pl, rasch or 1pl_a1_var1)")))
    }

    /// Free parameters with k items: 2k, k + 1, k.
    pub fn n_free_parameters(self, k: usize) -> usize {
        match self {
            IrtModel::TwoPl => 2 * k,
            IrtModel::Rasch => k + 1,
            IrtModel::OnePlA1Var1 => k,
        }
    }
}

impl fmt::Display for IrtModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// Items that can be calibrated: at least one 0 and at least one 1 among the answers.
/// Items answered correctly by everyone, by no one, or never answered have no finite
/// estimate and are left out.
pub fn calibratable_items(m: &ResponseMatrix) -> Vec<usize> {
    let k = m.n_items();
    let mut zeros = vec![false; k];
    let mut ones = vec![false; k];
    for row in m.as_flat().chunks_exact(k.max(1)) {
        for (j, &v) in row.iter().enumerate() {
            match v {
                0 => zeros[j] = true,
                1 => ones[j] = true,
                MISSING => {}
                _ => {}
            }
        }
    }
    (0..k).filter(|&j| zeros[j] && ones[j]).collect()
}
