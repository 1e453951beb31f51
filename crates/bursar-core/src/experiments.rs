//! Experiments: conversions the platform reports, and results per variant
//! with 95 % intervals, a z-test against the control and the
//! sample-ratio-mismatch check. The pricing page assigns visitors and logs
//! exposures (`expose`).

use crate::actor::Actor;
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::idempotency::Reply;
use bursar_domain::stats;
use bursar_store::experiments as store;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An experiment Bursar runs: its variants (the first is the control) and
/// the share of visitors each is meant to get.
pub struct Experiment {
    pub key: &'static str,
    pub variants: &'static [&'static str],
    pub shares: &'static [f64],
}

/// The pricing page's copy, call to action and default interval.
pub const PRICING_PAGE: Experiment = Experiment { key: "pricing_page", variants: &["a", "b"], shares: &[0.5, 0.5] };

/// The goal the pricing page records itself: a click on a plan's button.
pub const CTA_CLICK: &str = "cta_click";

pub fn experiment(key: &str) -> Result<&'static Experiment> {
    match key {
        "pricing_page" => Ok(&PRICING_PAGE),
        _ => Err(Error::not_found("experiment", "experiment", key)),
    }
}

pub fn check_goal(goal: &str) -> Result<()> {
    let ok = !goal.is_empty()
        && goal.len() <= 64
        && goal.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid("goal", "a goal is 1 to 64 lowercase letters, digits and `_`, like `subscribed`"))
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConversionCreate {
    /// The visitor id the pricing page handed on (`visitor` in the query of
    /// `pricing_signup_url`).
    pub visitor: String,
    /// What they did: `subscribed`, `trial_started`, … (lowercase, digits, `_`).
    pub goal: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConversionRecorded {
    /// Always `experiment_conversion`.
    pub object: &'static str,
    pub experiment: String,
    pub visitor: String,
    pub goal: String,
    /// False when the visitor was never shown the experiment, or had
    /// already reached this goal (each counts once).
    pub recorded: bool,
}

/// Records that a visitor reached a goal (once per goal, and only for a
/// visitor who was shown the experiment).
pub async fn record_conversion(
    ctx: &Ctx,
    actor: &Actor,
    key: &str,
    b: ConversionCreate,
    reply: &Reply,
) -> Result<ConversionRecorded> {
    let e = experiment(key)?;
    check_goal(&b.goal)?;
    if b.visitor.is_empty() || b.visitor.len() > 64 {
        return Err(Error::invalid("visitor", "visitor is the id the pricing page handed on"));
    }
    let mut tx = ctx.db.begin().await?;
    let recorded = store::convert(&mut *tx, actor.livemode, e.key, &b.visitor, &b.goal, ctx.now_ms()).await?;
    let out = ConversionRecorded {
        object: "experiment_conversion",
        experiment: e.key.to_string(),
        visitor: b.visitor,
        goal: b.goal,
        recorded,
    };
    reply.commit(tx, &out).await?;
    Ok(out)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VariantResult {
    pub variant: String,
    /// Visitors shown this variant.
    pub exposures: i64,
    /// Of them, those who reached the goal.
    pub conversions: i64,
    pub rate: f64,
    /// The rate's 95 % Wilson interval.
    pub rate_low: f64,
    pub rate_high: f64,
    /// Against the control (the first variant); absent on the control.
    pub difference: Option<f64>,
    pub difference_low: Option<f64>,
    pub difference_high: Option<f64>,
    /// Two-sided p-value of the two-proportion z-test against the control.
    pub p_value: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SampleRatio {
    /// The share of visitors each variant is meant to get, in variant order.
    pub intended: Vec<f64>,
    pub chi_square: f64,
    pub p_value: f64,
    /// p below 0.001: assignment or logging is broken; do not trust the
    /// results until it is explained.
    pub mismatch: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExperimentResults {
    /// Always `experiment_results`.
    pub object: &'static str,
    pub experiment: String,
    pub goal: String,
    pub control: String,
    pub variants: Vec<VariantResult>,
    pub sample_ratio: SampleRatio,
    /// Goals reached so far, to ask about.
    pub goals: Vec<String>,
}

/// The results of an experiment for one goal.
pub async fn results_for(ctx: &Ctx, livemode: bool, key: &str, goal: Option<&str>) -> Result<ExperimentResults> {
    let e = experiment(key)?;
    let goal = goal.unwrap_or(CTA_CLICK);
    check_goal(goal)?;
    let counts = store::counts(ctx.db.reader(), livemode, e.key, goal).await?;
    let of = |v: &str| counts.iter().find(|(k, _, _)| k == v).map_or((0, 0), |(_, n, c)| (*c as u64, *n as u64));
    let control = of(e.variants[0]);
    let variants = e
        .variants
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let (conv, n) = of(v);
            let (lo, hi) = stats::wilson(conv, n);
            let cmp = (i > 0).then(|| stats::compare(control, (conv, n)));
            VariantResult {
                variant: v.to_string(),
                exposures: n as i64,
                conversions: conv as i64,
                rate: if n == 0 { 0.0 } else { conv as f64 / n as f64 },
                rate_low: lo,
                rate_high: hi,
                difference: cmp.map(|c| c.difference),
                difference_low: cmp.map(|c| c.low),
                difference_high: cmp.map(|c| c.high),
                p_value: cmp.map(|c| c.p_value),
            }
        })
        .collect::<Vec<_>>();
    let observed: Vec<u64> = variants.iter().map(|v| v.exposures as u64).collect();
    let srm = stats::srm(&observed, e.shares);
    Ok(ExperimentResults {
        object: "experiment_results",
        experiment: e.key.to_string(),
        goal: goal.to_string(),
        control: e.variants[0].to_string(),
        variants,
        sample_ratio: SampleRatio {
            intended: e.shares.to_vec(),
            chi_square: srm.chi_square,
            p_value: srm.p_value,
            mismatch: srm.mismatch,
        },
        goals: store::goals(ctx.db.reader(), livemode, e.key).await?,
    })
}

/// Logs that a visitor was shown a variant (once per visitor).
pub async fn expose(ctx: &Ctx, livemode: bool, key: &str, visitor: &str, variant: &str) -> Result<()> {
    store::expose(ctx.db.writer(), livemode, key, visitor, variant, ctx.now_ms()).await?;
    Ok(())
}

/// Logs that a visitor reached a goal (once per goal, and only for a
/// visitor who was shown the experiment); the pages' own clicks.
pub async fn convert(ctx: &Ctx, livemode: bool, key: &str, visitor: &str, goal: &str) -> Result<()> {
    store::convert(ctx.db.writer(), livemode, key, visitor, goal, ctx.now_ms()).await?;
    Ok(())
}
