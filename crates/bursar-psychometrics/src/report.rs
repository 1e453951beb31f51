//! The `bursar-psychometrics/1` report and the builder [`analyze`].

use std::time::Instant;

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use crate::classical::{classical_from, pairwise_from, Classical, ClassicalPairwise, Columns};
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::irt::{calibratable_items, FitSettings, IrtFit, IrtModel, MlStatus, Patterns};
use crate::progress::{report, Phase};
use crate::stats::{finite, mean, quantiles7, sd_sample};
use crate::times::{response_time_stats, ResponseTimeStats};

/// The schema name written to every report.
pub const SCHEMA: &str = "bursar-psychometrics/1";

/// Which persons get individual scores in `scores`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PersonSelection {
    /// The first n persons (fewer if the data has fewer).
    First(usize),
    /// Everyone.
    All,
    /// These 1-based row numbers, in this order.
    Rows(Vec<usize>),
}

/// What [`analyze`] computes.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// IRT models to fit (any subset, written in the order 2pl, rasch, 1pl_a1_var1).
    pub models: Vec<IrtModel>,
    /// Persons scored individually (default: the first 20).
    pub persons: PersonSelection,
    /// Estimation settings (tolerance 1e-8, cycle cap, threads, standard errors).
    pub fit: FitSettings,
    /// `pattern_eap` is written when there are at most this many distinct patterns
    /// (default 1024; 0 turns it off).
    pub pattern_eap_max_patterns: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            models: IrtModel::ALL.to_vec(),
            persons: PersonSelection::First(20),
            fit: FitSettings::default(),
            pattern_eap_max_patterns: 1024,
        }
    }
}

/// The whole report. Serialises to the `bursar-psychometrics/1` JSON document.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Always [`SCHEMA`].
    pub schema: &'static str,
    /// The dataset's name.
    pub dataset: String,
    /// Persons.
    pub n_persons: usize,
    /// Items.
    pub n_items: usize,
    /// Item ids.
    pub items: Vec<String>,
    /// Classical statistics (missing scored 0).
    pub classical: Classical,
    /// psych pairwise conventions; present only when some response is missing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub classical_pairwise: Option<ClassicalPairwise>,
    /// Fitted IRT models; absent when none was requested or no item can be calibrated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub irt: Option<IrtReport>,
    /// Ids of the items used by IRT; absent when no model was requested.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub irt_items: Option<Vec<String>>,
    /// Response-time statistics, when times were given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_time: Option<ResponseTimeStats>,
    /// Cohort benchmarks, when cohorts were given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cohorts: Option<CohortsReport>,
}

impl Report {
    /// The JSON document.
    pub fn to_json_string(&self) -> Result<String> {
        serde_json::to_string(self).map_err(|e| Error::invalid(format!("report serialisation failed: {e}")))
    }

    /// The JSON document, indented.
    pub fn to_json_string_pretty(&self) -> Result<String> {
        serde_json::to_string_pretty(self).map_err(|e| Error::invalid(format!("report serialisation failed: {e}")))
    }

    /// The section of one model, if fitted.
    pub fn model(&self, model: IrtModel) -> Option<&ModelReport> {
        self.irt.as_ref()?.models.iter().find(|m| m.model == model)
    }
}

/// The `irt` object: one entry per fitted model, keyed `2pl`, `rasch`, `1pl_a1_var1`.
#[derive(Debug, Clone)]
pub struct IrtReport {
    /// Model sections in report order.
    pub models: Vec<ModelReport>,
}

impl Serialize for IrtReport {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.models.len()))?;
        for m in &self.models {
            map.serialize_entry(m.model.key(), m)?;
        }
        map.end()
    }
}

/// One model's section. Item arrays follow `irt_items`.
#[derive(Debug, Clone, Serialize)]
pub struct ModelReport {
    /// Which model.
    #[serde(skip)]
    pub model: IrtModel,
    /// Slopes (1 for the one-parameter models).
    pub a: Vec<f64>,
    /// Intercepts.
    pub d: Vec<f64>,
    /// −d/a.
    pub b: Vec<Option<f64>>,
    /// SE of a (`null` where fixed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub se_a: Option<Vec<Option<f64>>>,
    /// SE of d.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub se_d: Option<Vec<Option<f64>>>,
    /// SE of b (delta method).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub se_b: Option<Vec<Option<f64>>>,
    /// Always 0.
    pub latent_mean: f64,
    /// 1, or the estimate (Rasch).
    pub latent_var: f64,
    /// Marginal log-likelihood.
    pub loglik: f64,
    /// −2 loglik + 2p.
    pub aic: f64,
    /// −2 loglik + p ln N.
    pub bic: f64,
    /// Rasch re-expressed with θ ~ N(0, 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub common_slope_param: Option<CommonSlope>,
    /// Person scores.
    pub scores: Scores,
    /// EAP per observed pattern (small pattern counts only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pattern_eap: Option<PatternEap>,
    /// Free parameters.
    pub n_free_parameters: usize,
    /// Whether the tolerance was reached.
    pub converged: bool,
    /// E-steps used to update parameters (EM cycles plus Newton steps).
    pub em_cycles: usize,
    /// Wall time of the fit, its standard errors and scores (seconds).
    pub elapsed_s: f64,
}

/// `common_slope_param` of the Rasch model.
#[derive(Debug, Clone, Serialize)]
pub struct CommonSlope {
    /// √latent_var.
    pub a_common: f64,
    /// −d / a_common.
    pub b: Vec<f64>,
}

/// `scores`: arrays follow `persons` (1-based rows).
#[derive(Debug, Clone, Serialize)]
pub struct Scores {
    /// 1-based row numbers.
    pub persons: Vec<usize>,
    /// EAP.
    pub eap: Vec<f64>,
    /// Posterior SD.
    pub eap_psd: Vec<f64>,
    /// MAP.
    pub map: Vec<f64>,
    /// SE of MAP.
    pub map_se: Vec<f64>,
    /// ML (`null` unless finite).
    pub ml: Vec<Option<f64>>,
    /// SE of ML.
    pub ml_se: Vec<Option<f64>>,
    /// "ok", "+inf", "-inf", or "none".
    pub ml_status: Vec<MlStatus>,
    /// EAP summary over all persons.
    pub eap_all_summary: EapSummary,
}

/// Summary of EAPs over every person.
#[derive(Debug, Clone, Serialize)]
pub struct EapSummary {
    /// Mean EAP.
    pub mean: f64,
    /// Sample SD of the EAPs.
    pub sd_sample: Option<f64>,
    /// Mean posterior SD.
    pub mean_psd: f64,
}

/// EAP of every observed pattern over `irt_items` (`0`, `1`, `.` = missing).
#[derive(Debug, Clone, Serialize)]
pub struct PatternEap {
    /// Patterns, ordered 0 < 1 < missing with the first item most significant.
    pub pattern: Vec<String>,
    /// Persons with the pattern.
    pub freq: Vec<u64>,
    /// EAP.
    pub eap: Vec<f64>,
    /// Posterior SD.
    pub eap_psd: Vec<f64>,
}

/// The `cohorts` object, which holds `cohorts { <name>: … }`.
#[derive(Debug, Clone, Serialize)]
pub struct CohortsReport {
    /// Cohorts in order of first appearance.
    pub cohorts: CohortMap,
}

/// Cohort name → statistics, serialised as a JSON object in order of first appearance.
#[derive(Debug, Clone)]
pub struct CohortMap(pub Vec<(String, CohortStats)>);

impl Serialize for CohortMap {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// One cohort's benchmarks (totals and p-values with missing = 0, as in `classical`).
#[derive(Debug, Clone, Serialize)]
pub struct CohortStats {
    /// Persons.
    pub n: usize,
    /// Mean total score.
    pub mean_total: f64,
    /// Sample SD of the total.
    pub sd_total_sample: Option<f64>,
    /// Type-7 quantiles of the total.
    pub quantile_type7: Vec<Option<f64>>,
    /// Item p-values in the cohort.
    pub p_value: Vec<f64>,
    /// Mean 2PL EAP (present when the 2PL was fitted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean_eap_2pl: Option<f64>,
    /// Mid-point percentile rank of the cohort's mean total in the whole sample.
    pub cohort_mean_pr_mid: f64,
}

/// Builds the report.
pub fn analyze(ds: &Dataset, opts: &Options) -> Result<Report> {
    let m = ds.responses();
    let (n, k) = (m.n_persons(), m.n_items());
    if n == 0 {
        return Err(Error::invalid("the response matrix has no persons"));
    }
    let persons: Vec<usize> = match &opts.persons {
        PersonSelection::First(c) => (1..=(*c).min(n)).collect(),
        PersonSelection::All => (1..=n).collect(),
        PersonSelection::Rows(rows) => {
            if let Some(bad) = rows.iter().find(|&&r| r == 0 || r > n) {
                return Err(Error::invalid(format!("person row {bad} is outside 1..={n}")));
            }
            rows.clone()
        }
    };
    let progress = opts.fit.progress.as_ref();
    report(progress, |p| p.phase(Phase::Classical));
    let cols = Columns::new(m);
    let classical = classical_from(&cols)?;
    let classical_pairwise = if cols.any_missing { Some(pairwise_from(&cols, m)?) } else { None };

    let mut irt = None;
    let mut irt_items = None;
    let mut eap_2pl: Option<Vec<f64>> = None;
    if !opts.models.is_empty() {
        let items = calibratable_items(m);
        irt_items = Some(items.iter().map(|&j| m.item_ids()[j].clone()).collect());
        if !items.is_empty() {
            let pat = Patterns::build(m, &items);
            let mut models = Vec::new();
            for model in IrtModel::ALL.into_iter().filter(|x| opts.models.contains(x)) {
                let start = Instant::now();
                let fit = crate::irt::fit_patterns(m, items.clone(), &pat, model, &opts.fit, None)?;
                let mut section = model_section(&fit, &pat, &persons, m, opts)?;
                section.elapsed_s = start.elapsed().as_secs_f64();
                if model == IrtModel::TwoPl {
                    eap_2pl = Some(fit.eap.clone());
                }
                models.push(section);
            }
            irt = Some(IrtReport { models });
        }
    }

    report(progress, |p| p.phase(Phase::Finishing));
    let response_time = ds.times().map(response_time_stats);
    let cohorts = ds.cohorts().map(|c| cohort_stats(c.labels(), &cols, eap_2pl.as_deref()));
    Ok(Report {
        schema: SCHEMA,
        dataset: ds.name.clone(),
        n_persons: n,
        n_items: k,
        items: m.item_ids().to_vec(),
        classical,
        classical_pairwise,
        irt,
        irt_items,
        response_time,
        cohorts,
    })
}

fn model_section(
    fit: &IrtFit,
    pat: &Patterns,
    persons: &[usize],
    m: &crate::data::ResponseMatrix,
    opts: &Options,
) -> Result<ModelReport> {
    let cal = &fit.calibration;
    let b: Vec<Option<f64>> = cal.a.iter().zip(&cal.d).map(|(a, d)| crate::stats::ratio(-d, *a)).collect();
    let common_slope_param = (fit.model == IrtModel::Rasch).then(|| {
        let a_common = cal.latent_var.sqrt();
        CommonSlope { a_common, b: cal.d.iter().map(|d| -d / a_common).collect() }
    });
    let mut scores = Scores {
        persons: persons.to_vec(),
        eap: Vec::with_capacity(persons.len()),
        eap_psd: Vec::with_capacity(persons.len()),
        map: Vec::with_capacity(persons.len()),
        map_se: Vec::with_capacity(persons.len()),
        ml: Vec::with_capacity(persons.len()),
        ml_se: Vec::with_capacity(persons.len()),
        ml_status: Vec::with_capacity(persons.len()),
        eap_all_summary: EapSummary {
            mean: mean(&fit.eap).unwrap_or(f64::NAN),
            sd_sample: sd_sample(&fit.eap),
            mean_psd: mean(&fit.eap_psd).unwrap_or(f64::NAN),
        },
    };
    let mut resp = Vec::with_capacity(fit.items.len());
    for &row in persons {
        let i = row - 1;
        resp.clear();
        resp.extend(fit.items.iter().map(|&j| m.row(i)[j]));
        let s = cal.score_flat(&resp)?;
        scores.eap.push(fit.eap[i]);
        scores.eap_psd.push(fit.eap_psd[i]);
        scores.map.push(s.map);
        scores.map_se.push(s.map_se);
        scores.ml.push(s.ml);
        scores.ml_se.push(s.ml_se);
        scores.ml_status.push(s.ml_status);
    }
    let pattern_eap = (pat.len() <= opts.pattern_eap_max_patterns).then(|| PatternEap {
        pattern: (0..pat.len()).map(|p| pat.pattern_string(p)).collect(),
        freq: pat.freq.iter().map(|&f| f as u64).collect(),
        eap: fit.pattern_eap.iter().map(|e| e.0).collect(),
        eap_psd: fit.pattern_eap.iter().map(|e| e.1).collect(),
    });
    Ok(ModelReport {
        model: fit.model,
        a: cal.a.clone(),
        d: cal.d.clone(),
        b,
        se_a: fit.se_a.clone(),
        se_d: fit.se_d.clone(),
        se_b: fit.se_b.clone(),
        latent_mean: 0.0,
        latent_var: cal.latent_var,
        loglik: fit.loglik,
        aic: fit.aic(),
        bic: fit.bic(),
        common_slope_param,
        scores,
        pattern_eap,
        n_free_parameters: fit.n_free_parameters,
        converged: fit.converged,
        em_cycles: fit.em_cycles,
        elapsed_s: 0.0,
    })
}

fn cohort_stats(labels: &[Option<String>], cols: &Columns, eap_2pl: Option<&[f64]>) -> CohortsReport {
    let mut names: Vec<String> = Vec::new();
    let mut members: Vec<Vec<usize>> = Vec::new();
    let mut index = std::collections::BTreeMap::<&str, usize>::new();
    for (i, l) in labels.iter().enumerate() {
        if let Some(name) = l {
            let c = *index.entry(name.as_str()).or_insert_with(|| {
                names.push(name.clone());
                members.push(Vec::new());
                names.len() - 1
            });
            members[c].push(i);
        }
    }
    let n_all = cols.n as f64;
    let mut out = Vec::with_capacity(names.len());
    for (name, persons) in names.into_iter().zip(members) {
        let mut totals: Vec<f64> = persons.iter().map(|&i| cols.totals[i] as f64).collect();
        totals.sort_unstable_by(f64::total_cmp);
        let mean_total = mean(&totals).unwrap_or(f64::NAN);
        let p_value = (0..cols.k)
            .map(|j| {
                let col = cols.correct_col(j);
                let ones = persons.iter().filter(|&&i| col[i / 64] >> (i % 64) & 1 == 1).count();
                ones as f64 / persons.len() as f64
            })
            .collect();
        let below: u64 = cols.hist.iter().enumerate().filter(|(s, _)| (*s as f64) < mean_total).map(|(_, f)| f).sum();
        let equal: u64 = cols.hist.iter().enumerate().filter(|(s, _)| (*s as f64) == mean_total).map(|(_, f)| f).sum();
        let mean_eap_2pl =
            eap_2pl.and_then(|e| finite(persons.iter().map(|&i| e[i]).sum::<f64>() / persons.len() as f64));
        out.push((
            name,
            CohortStats {
                n: persons.len(),
                mean_total,
                sd_total_sample: sd_sample(&totals),
                quantile_type7: quantiles7(&totals),
                p_value,
                mean_eap_2pl,
                cohort_mean_pr_mid: 100.0 * (below as f64 + 0.5 * equal as f64) / n_all,
            },
        ));
    }
    CohortsReport { cohorts: CohortMap(out) }
}
