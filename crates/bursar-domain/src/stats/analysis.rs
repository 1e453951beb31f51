//! The warehouse-native analysis: per-arm sufficient statistics in (named as
//! GrowthBook's SQL returns them), one result per arm out.
//!
//! Request:
//!
//! ```json
//! {"metric": {"type": "binomial"},
//!  "arms": [{"name": "control", "weight": 0.5, "n": 12031, "sum": 535, "sum_squares": 535},
//!           {"name": "annual_first", "weight": 0.5, "n": 11890, "sum": 601, "sum_squares": 601}],
//!  "settings": {"alpha": 0.05, "difference_type": "relative", "engine": "frequentist",
//!               "sequential_tuning": 5000, "prior": {"proper": false, "mean": 0, "stddev": 0.3},
//!               "cuped": false}}
//! ```
//!
//! - The first arm is the baseline; every other arm is compared with it.
//! - `metric.type`: `binomial` (`sum` = units that converted, at most `n`;
//!   `sum_squares` may be left out), `mean` (`sum`, `sum_squares` of the
//!   per-unit value) or `ratio` (numerator `sum`, `sum_squares`; denominator
//!   `denominator_sum`, `denominator_sum_squares`; and
//!   `main_denominator_sum_product`).
//! - `settings.cuped` adjusts by the pre-period covariate `covariate_sum`,
//!   `covariate_sum_squares` (not needed for binomial) and
//!   `main_covariate_sum_product`, with θ estimated for each comparison from
//!   the baseline and that arm pooled. Ratio metrics are not adjusted: their
//!   adjustment needs pre-period sums for the denominator that this request
//!   does not carry, so `cuped` with a ratio metric is an error.
//! - Every `settings` field, and `settings` itself, may be left out or null:
//!   alpha 0.05, relative differences, the frequentist engine, tuning 5000,
//!   a flat prior with mean 0 and stddev 0.3, no CUPED. The prior is on the
//!   relative scale and only used when `proper` is true (its mean must still
//!   be finite and its stddev above zero).
//! - Fields the metric does not use are ignored; unknown fields are errors.
//!
//! Response: `srm_p` (the chi-square p-value of the arms' `n` against their
//! `weight`s), `srm_flagged` (`srm_p` < 0.001) and one entry per arm, in
//! request order, with
//! - `expected`: the point estimate of the effect (for the Bayesian engine,
//!   the posterior mean), `ci`: [lower, upper] (confidence interval,
//!   confidence sequence, or credible interval), `uplift`: {mean, stddev} of
//!   the effect's normal model;
//! - `p_value` (frequentist and sequential engines only, else null);
//! - `chance_to_win` and `risk` ([risk of keeping the baseline, risk of
//!   shipping the variation]; Bayesian engine only, else null);
//! - `error`: null, or why this arm has no result although its statistics
//!   are valid — `zero_variance` (an arm's units are all alike) or
//!   `zero_baseline_mean` — with every number null.
//!
//! The baseline's entry carries only its name: every other field is null.
//! When `srm_flagged` is true the fields that would name a winner are
//! hidden — `p_value`, `chance_to_win` and `risk` are null — while the effect
//! estimate and its interval stay, to help find what went wrong.

use serde::{Deserialize, Serialize};

use super::bayesian::{bayesian_test, Prior};
use super::error::{finite, open_unit, positive, StatsError};
use super::frequentist::{welch_t_test, Uplift};
use super::moments::{check_sum_squares, effect_unchecked, DifferenceType, Statistic, Sums};
use super::sample_ratio::{check_unchecked, validate_weights};
use super::sequential::{sequential_test, DEFAULT_TUNING};

/// The default significance level.
pub const DEFAULT_ALPHA: f64 = 0.05;

/// The kind of metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricType {
    Binomial,
    Mean,
    Ratio,
}

/// The metric analysed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metric {
    #[serde(rename = "type")]
    pub kind: MetricType,
}

/// The inference engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// Welch's t-test at a fixed sample size.
    #[default]
    Frequentist,
    /// Confidence sequences, valid under continuous monitoring.
    Sequential,
    /// The normal posterior with chance to win and risk.
    Bayesian,
}

/// One arm's sufficient statistics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Arm {
    pub name: String,
    /// The share of traffic the assignment intends for this arm.
    pub weight: f64,
    /// Units (users) in the arm.
    pub n: u64,
    pub sum: f64,
    #[serde(default)]
    pub sum_squares: Option<f64>,
    #[serde(default)]
    pub denominator_sum: Option<f64>,
    #[serde(default)]
    pub denominator_sum_squares: Option<f64>,
    #[serde(default)]
    pub main_denominator_sum_product: Option<f64>,
    #[serde(default)]
    pub covariate_sum: Option<f64>,
    #[serde(default)]
    pub covariate_sum_squares: Option<f64>,
    #[serde(default)]
    pub main_covariate_sum_product: Option<f64>,
}

/// The prior as requested; absent fields take [`Prior::default`]'s values.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriorSettings {
    #[serde(default)]
    pub proper: Option<bool>,
    #[serde(default)]
    pub mean: Option<f64>,
    #[serde(default)]
    pub stddev: Option<f64>,
}

impl PriorSettings {
    /// The prior with defaults filled in.
    pub fn resolve(&self) -> Prior {
        let d = Prior::default();
        Prior {
            proper: self.proper.unwrap_or(d.proper),
            mean: self.mean.unwrap_or(d.mean),
            stddev: self.stddev.unwrap_or(d.stddev),
        }
    }
}

/// Analysis settings; every field is optional.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(default)]
    pub alpha: Option<f64>,
    #[serde(default)]
    pub difference_type: Option<DifferenceType>,
    #[serde(default)]
    pub engine: Option<Engine>,
    #[serde(default)]
    pub sequential_tuning: Option<f64>,
    #[serde(default)]
    pub prior: Option<PriorSettings>,
    #[serde(default)]
    pub cuped: Option<bool>,
}

impl Settings {
    pub fn alpha(&self) -> f64 {
        self.alpha.unwrap_or(DEFAULT_ALPHA)
    }
    pub fn difference_type(&self) -> DifferenceType {
        self.difference_type.unwrap_or_default()
    }
    pub fn engine(&self) -> Engine {
        self.engine.unwrap_or_default()
    }
    pub fn sequential_tuning(&self) -> f64 {
        self.sequential_tuning.unwrap_or(DEFAULT_TUNING)
    }
    pub fn prior(&self) -> Prior {
        self.prior.unwrap_or_default().resolve()
    }
    pub fn cuped(&self) -> bool {
        self.cuped.unwrap_or(false)
    }
}

/// An analysis request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalyzeRequest {
    pub metric: Metric,
    /// The baseline first.
    pub arms: Vec<Arm>,
    #[serde(default)]
    pub settings: Option<Settings>,
}

impl AnalyzeRequest {
    /// Parses a JSON request; a malformed one is an error naming the path of
    /// the offending field (`arms[1].n`).
    pub fn from_json(body: &str) -> Result<Self, StatsError> {
        let de = &mut serde_json::Deserializer::from_str(body);
        serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let field = if path == "." { "body".to_string() } else { path };
            StatsError::new(field, e.inner().to_string())
        })
    }

    fn settings(&self) -> Settings {
        self.settings.unwrap_or_default()
    }
}

/// One arm's result (see the module documentation for which fields each
/// engine fills).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariationResult {
    pub name: String,
    pub expected: Option<f64>,
    pub ci: Option<[f64; 2]>,
    pub p_value: Option<f64>,
    pub uplift: Option<Uplift>,
    pub chance_to_win: Option<f64>,
    pub risk: Option<[f64; 2]>,
    pub error: Option<String>,
}

impl VariationResult {
    fn empty(name: &str) -> Self {
        VariationResult {
            name: name.to_string(),
            expected: None,
            ci: None,
            p_value: None,
            uplift: None,
            chance_to_win: None,
            risk: None,
            error: None,
        }
    }
}

/// The analysis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnalyzeResponse {
    pub srm_p: f64,
    pub srm_flagged: bool,
    pub variations: Vec<VariationResult>,
}

fn required(path: &str, name: &str, value: Option<f64>, why: &str) -> Result<f64, StatsError> {
    let field = format!("{path}.{name}");
    match value {
        Some(v) => finite(&field, v),
        None => Err(StatsError::new(field, format!("is required {why}"))),
    }
}

fn binomial_count(field: &str, n: u64, value: f64) -> Result<(), StatsError> {
    if value < 0.0 || value > n as f64 {
        return Err(StatsError::new(field, format!("a binomial count must lie between 0 and n = {n}, not {value}")));
    }
    Ok(())
}

/// Turns one arm into a statistic, naming the first bad field.
fn arm_statistic(arm: &Arm, path: &str, metric: MetricType, cuped: bool) -> Result<Statistic, StatsError> {
    let n = arm.n;
    if n == 0 {
        return Err(StatsError::new(format!("{path}.n"), "an arm needs at least one unit"));
    }
    let sum = finite(&format!("{path}.sum"), arm.sum)?;
    let values = match metric {
        MetricType::Binomial => {
            binomial_count(&format!("{path}.sum"), n, sum)?;
            if let Some(ss) = arm.sum_squares {
                finite(&format!("{path}.sum_squares"), ss)?;
            }
            Sums::Binomial { sum }
        }
        MetricType::Mean | MetricType::Ratio => {
            let ss = required(path, "sum_squares", arm.sum_squares, "for a mean or ratio metric")?;
            check_sum_squares(&format!("{path}.sum_squares"), n, sum, ss)?;
            Sums::Continuous { sum, sum_squares: ss }
        }
    };
    if metric == MetricType::Ratio {
        let why = "for a ratio metric";
        let d_sum = required(path, "denominator_sum", arm.denominator_sum, why)?;
        let d_ss = required(path, "denominator_sum_squares", arm.denominator_sum_squares, why)?;
        check_sum_squares(&format!("{path}.denominator_sum_squares"), n, d_sum, d_ss)?;
        let sp = required(path, "main_denominator_sum_product", arm.main_denominator_sum_product, why)?;
        return Ok(Statistic::Ratio {
            n,
            numerator: values,
            denominator: Sums::Continuous { sum: d_sum, sum_squares: d_ss },
            sum_product: sp,
        });
    }
    if !cuped {
        return Ok(Statistic::Single { n, values });
    }
    let why = "when cuped is on";
    let c_sum = required(path, "covariate_sum", arm.covariate_sum, why)?;
    let pre = match values {
        Sums::Binomial { .. } => {
            binomial_count(&format!("{path}.covariate_sum"), n, c_sum)?;
            if let Some(ss) = arm.covariate_sum_squares {
                finite(&format!("{path}.covariate_sum_squares"), ss)?;
            }
            Sums::Binomial { sum: c_sum }
        }
        Sums::Continuous { .. } => {
            let c_ss = required(path, "covariate_sum_squares", arm.covariate_sum_squares, why)?;
            check_sum_squares(&format!("{path}.covariate_sum_squares"), n, c_sum, c_ss)?;
            Sums::Continuous { sum: c_sum, sum_squares: c_ss }
        }
    };
    let sp = required(path, "main_covariate_sum_product", arm.main_covariate_sum_product, why)?;
    Ok(Statistic::Adjusted { n, post: values, pre, sum_product: sp })
}

/// Checks settings and arms; returns one statistic per arm.
fn validate(request: &AnalyzeRequest) -> Result<Vec<Statistic>, StatsError> {
    let settings = request.settings();
    open_unit("settings.alpha", settings.alpha())?;
    positive("settings.sequential_tuning", settings.sequential_tuning())?;
    settings.prior().validate("settings.prior")?;
    if settings.cuped() && request.metric.kind == MetricType::Ratio {
        return Err(StatsError::new(
            "settings.cuped",
            "CUPED is available for binomial and mean metrics; a ratio metric's adjustment needs \
             pre-period denominator sums this request does not carry",
        ));
    }
    if request.arms.len() < 2 {
        return Err(StatsError::new("arms", "an experiment needs a baseline and at least one other arm"));
    }
    for (i, arm) in request.arms.iter().enumerate() {
        if arm.name.trim().is_empty() {
            return Err(StatsError::new(format!("arms[{i}].name"), "must not be empty"));
        }
    }
    let weights: Vec<f64> = request.arms.iter().map(|a| a.weight).collect();
    validate_weights(&weights, &|i| i.map_or_else(|| "arms".to_string(), |i| format!("arms[{i}].weight")))?;
    request
        .arms
        .iter()
        .enumerate()
        .map(|(i, arm)| arm_statistic(arm, &format!("arms[{i}]"), request.metric.kind, settings.cuped()))
        .collect()
}

/// Analyses an experiment: the sample-ratio check over all arms, then each
/// arm after the first against the first with the chosen engine.
pub fn analyze(request: &AnalyzeRequest) -> Result<AnalyzeResponse, StatsError> {
    let statistics = validate(request)?;
    let settings = request.settings();
    let (alpha, difference, engine) = (settings.alpha(), settings.difference_type(), settings.engine());

    let users: Vec<u64> = request.arms.iter().map(|a| a.n).collect();
    let weights: Vec<f64> = request.arms.iter().map(|a| a.weight).collect();
    let df = u32::try_from(users.len() - 1).map_err(|_| StatsError::new("arms", "too many arms"))?;
    let srm = check_unchecked(&users, &weights, df);

    let baseline = &statistics[0];
    let mut variations = vec![VariationResult::empty(&request.arms[0].name)];
    for (i, (arm, statistic)) in request.arms.iter().zip(&statistics).enumerate().skip(1) {
        let mut out = VariationResult::empty(&arm.name);
        let at = |e: StatsError| StatsError::new(format!("arms[{i}]"), format!("{}: {}", e.field, e.message));
        match effect_unchecked(baseline, statistic, difference) {
            Err(degenerate) => out.error = Some(degenerate.code().to_string()),
            Ok(effect) => match engine {
                Engine::Frequentist | Engine::Sequential => {
                    let r = if engine == Engine::Frequentist {
                        welch_t_test(&effect, alpha)
                    } else {
                        sequential_test(&effect, alpha, settings.sequential_tuning())
                    }
                    .map_err(at)?;
                    out.expected = Some(r.expected);
                    out.ci = Some(r.ci);
                    out.uplift = Some(r.uplift);
                    out.p_value = (!srm.flagged).then_some(r.p_value);
                }
                Engine::Bayesian => {
                    let r = bayesian_test(&effect, &settings.prior(), alpha).map_err(at)?;
                    out.expected = Some(r.expected);
                    out.ci = Some(r.ci);
                    out.uplift = Some(r.uplift);
                    if !srm.flagged {
                        out.chance_to_win = Some(r.chance_to_win);
                        out.risk = Some(r.risk);
                    }
                }
            },
        }
        variations.push(out);
    }
    Ok(AnalyzeResponse { srm_p: srm.p_value, srm_flagged: srm.flagged, variations })
}
