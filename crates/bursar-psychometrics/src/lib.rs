//! Psychometrics for 0/1 response matrices: classical item analysis and reliability,
//! IRT calibration (2PL, Rasch, 1PL) by marginal maximum likelihood, person scores, response
//! times, cohort benchmarks and item flags. Pure computation: no I/O, no database, no async.
//!
//! # Input
//! A [`ResponseMatrix`] (persons × items, 0/1, missing allowed), built from CSV text
//! ([`ResponseMatrix::from_csv`]: header = item ids, values `0`, `1`, `NA` or empty) or from
//! memory ([`ResponseMatrix::new`] with `Vec<Vec<Option<u8>>>`, [`ResponseMatrix::from_flat`]
//! with one byte per cell and [`MISSING`] = 255). Optional [`TimeMatrix`] (integer ms, same
//! header and shape) and [`Cohorts`] (CSV header `cohort`). Parse errors name the line, the
//! 1-based data row and the column. A [`Dataset`] bundles them with a name.
//!
//! # Report
//! [`analyze`]`(&Dataset, &Options) -> Result<Report>` computes everything and
//! [`Report::to_json_string`] writes the `bursar-psychometrics/1` document: statistics not
//! computed are absent, undefined values are `null`. [`Options`] choose the IRT models (any
//! subset of `2pl`, `rasch`, `1pl_a1_var1`), which persons get individual scores (first 20
//! by default, all, or listed rows), estimation settings and the pattern-EAP limit.
//!
//! # Conventions
//! Classical (exact integer sums, so values are one rounding away from the rationals):
//! missing scores 0 in `classical`; p = mean, point-biserial = r(item, total),
//! corrected = r(item, total − item), correlations with a constant are `null`;
//! 27 % groups of g = floor(0.27 N + 0.5): `disc_27_rank` takes the first/last g persons of the
//! order by total ascending, ties by row (so at the lower cut the earliest rows, at the upper
//! cut the latest rows join), `disc_27_score` takes everyone at or beyond the g-th worst/best
//! total; KR-20 and KR-21 use var_N (KR-21 also with var_{N−1}); Cronbach's alpha over all k
//! items and over the nonconstant ones (psych `raw_alpha`), standardized alpha from the mean
//! inter-item correlation of the nonconstant items, alpha-if-deleted over the other k − 1
//! items (`null` below 2), SEM = sd_{N−1}(X) √(1 − alpha); percentile ranks
//! 100(#below + ½#equal)/N and 100 #≤/N; quantiles by R types 7 and 1 at
//! 0.1, 0.25, 0.5, 0.75, 0.9. With missing data, `classical_pairwise` follows psych
//! `alpha(use = "pairwise")`: items without variance among their answers are dropped,
//! pairwise-complete covariances and correlations with N_ij − 1, raw alpha
//! (1 − tr C/ΣC) k/(k − 1), standardized alpha (1 − k/ΣR) k/(k − 1), alpha-if-deleted from
//! C without the item (needs 3 retained items), item–rest r from C (psych `r.drop`) and the
//! pairwise r of the item with the person's mean over answered items (psych `raw.r`).
//!
//! IRT: D = 1, P = 1/(1 + exp(−(aθ + d))), b = −d/a; 61 nodes on [−6, 6] with weights
//! dnorm(θ; 0, var) normalised over the nodes; missing responses skipped; items without both
//! a 0 and a 1 among their answers are left out (`irt_items` lists those used). Estimation
//! maximises the discretised marginal likelihood: Bock–Aitkin EM cycles (each M-step solved
//! exactly) until the largest parameter change is below 0.05 (at least three cycles), then
//! Newton–Raphson steps with the exact Hessian, reused while the steps shrink at least
//! tenfold and recomputed otherwise (a step that lowers the likelihood is retried with a fresh
//! Hessian, then handed back to EM), until the largest change is below the tolerance (1e−8).
//! `em_cycles` counts both kinds of step. AIC = −2 loglik + 2p, BIC = −2 loglik + p ln N with
//! N the persons who answered at least one calibrated item.
//! `rasch` fixes slopes at 1 and estimates the latent variance (and is also re-expressed
//! with a common slope √var); `1pl_a1_var1` fixes both. Standard errors invert the exact
//! observed information −∇² log L (what the Oakes identity expresses); se_b by the delta
//! method. Person scores: EAP and posterior SD on the nodes; MAP with SE
//! 1/√(I(θ) + 1/var); ML with SE 1/√I(θ), `null` with `ml_status` `+inf`/`-inf` when the
//! likelihood rises without bound (e.g. all correct/all wrong), `none` without information.
//! The E-step runs on distinct response patterns in fixed chunks over all cores, reduced in
//! chunk order: results are identical whatever the number of threads.
//!
//! # Other entry points
//! - [`classical()`], [`classical_pairwise()`], [`response_time_stats`]: single sections.
//! - [`calibrate`]`(&ResponseMatrix, IrtModel, &FitSettings) -> Result<IrtFit>`: one model;
//!   its [`Calibration`] (item ids, a, d, latent variance) can be stored and used to score
//!   new persons with [`Calibration::score`] (EAP/PSD, MAP/SE, ML/SE, missing allowed).
//! - [`item_flags`]`(&Report, &FlagThresholds)`: too easy/hard, no variance, negative or low
//!   discrimination, alpha-if-deleted rises, fast/slow median response time.
//! - [`generate_2pl`]: seeded 2PL data (with optional missingness and lognormal times).

// Index loops over nodes and items mirror the formulas; iterator rewrites obscure them.
#![allow(clippy::needless_range_loop)]
// `!(x > 0.0)` is used on purpose: it also rejects NaN.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

mod classical;
mod data;
mod error;
mod flags;
mod generate;
mod irt;
mod progress;
mod report;
mod stats;
mod times;

pub use classical::{
    classical, classical_pairwise, Classical, ClassicalPairwise, Discrimination, ScoreDistribution, TotalScore,
};
pub use data::{Cohorts, Dataset, ResponseMatrix, TimeMatrix, MISSING, MISSING_TIME};
pub use error::{Error, Location, Result, Source};
pub use flags::{item_flags, FlagThresholds, ItemFlag, ItemFlags};
pub use generate::{generate_2pl, random_item_parameters, GenSpec, Generated, Rng, TimeSpec};
pub use irt::{
    calibratable_items, calibrate, node_values, Calibration, FitSettings, IrtFit, IrtModel, MlStatus, PersonScore,
    N_NODES,
};
pub use progress::{Phase, Progress, Snapshot};
pub use report::{
    analyze, CohortMap, CohortStats, CohortsReport, CommonSlope, EapSummary, IrtReport, ModelReport, Options,
    PatternEap, PersonSelection, Report, Scores, SCHEMA,
};
pub use stats::{quantile_type1_sorted, quantile_type7_sorted, QUANTILE_PROBS};
pub use times::{response_time_stats, PersonTotalTime, ResponseTimeStats};

#[doc(hidden)]
pub mod internals {
    //! Hooks for the crate's own integration tests (not a stable API).
    use crate::data::ResponseMatrix;
    use crate::error::Result;
    use crate::irt::{calibratable_items, fit_patterns, Extra, FitSettings, IrtFit, IrtModel, Patterns};

    /// Fits with the general (missing-data) Hessian path even on complete data.
    pub fn calibrate_with_general_hessian(m: &ResponseMatrix, model: IrtModel, s: &FitSettings) -> Result<IrtFit> {
        let items = calibratable_items(m);
        let pat = Patterns::build(m, &items);
        fit_patterns(m, items, &pat, model, s, Some(Extra::HessianGeneral))
    }
}
