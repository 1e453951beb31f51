//! What the content team reads about a form: each item's classical and IRT
//! statistics with its flags (from the newest succeeded calibration), and
//! cohort benchmarks of an exam (from the score histograms).

use super::content;
use crate::actor::Actor;
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use bursar_psychometrics as psy;
use bursar_store::learning::aggregates as agg;
use bursar_store::learning::calibrations as cal_store;
use bursar_store::learning::content as content_store;
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct ItemStatistics {
    /// Always `item_statistics`.
    pub object: &'static str,
    pub assessment: String,
    /// The calibration they come from.
    pub calibration: String,
    pub model: String,
    pub persons: i64,
    pub kr20: Option<f64>,
    pub cronbach_alpha: Option<f64>,
    pub sem: Option<f64>,
    pub items: Vec<ItemStat>,
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct ItemStat {
    pub item: String,
    pub topic: Option<String>,
    pub difficulty: Option<i64>,
    /// Share of persons right (classical difficulty).
    pub p_value: Option<f64>,
    pub point_biserial: Option<f64>,
    /// Correlation with the rest of the test.
    pub corrected_item_total: Option<f64>,
    /// Upper minus lower 27 % group.
    pub discrimination_27: Option<f64>,
    pub alpha_if_deleted: Option<f64>,
    /// IRT slope, intercept and difficulty, when the item was calibrated.
    pub a: Option<f64>,
    pub d: Option<f64>,
    pub b: Option<f64>,
    pub median_time_ms: Option<f64>,
    /// `too_easy`, `too_hard`, `no_variance`, `negative_discrimination`,
    /// `low_discrimination`, `alpha_if_deleted_rises`, `fast_responses`, `slow_responses`.
    pub flags: Vec<String>,
}

fn at<T: Copy>(v: &[T], i: usize) -> Option<T> {
    v.get(i).copied()
}

/// A form's item statistics and flags from its newest succeeded calibration.
pub async fn item_statistics(ctx: &Ctx, actor: &Actor, assessment: &str) -> Result<ItemStatistics> {
    let form = content::load(ctx, actor.livemode, assessment).await?;
    let c = cal_store::latest_succeeded(ctx.db.reader(), &form.id).await?.ok_or_else(|| {
        Error::conflict("no_calibration", "this form has no succeeded calibration yet: request one first")
    })?;
    let report: serde_json::Value =
        serde_json::from_str(c.report.as_deref().unwrap_or("{}")).map_err(|e| Error::internal_from("report", e))?;
    let flags: serde_json::Value =
        serde_json::from_str(c.flags.as_deref().unwrap_or("[]")).map_err(|e| Error::internal_from("flags", e))?;
    let flag_of: BTreeMap<String, Vec<String>> = flags
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|f| {
                    let item = f["item"].as_str()?.to_string();
                    let names = f["flags"].as_array()?.iter().filter_map(|x| x.as_str().map(str::to_string)).collect();
                    Some((item, names))
                })
                .collect()
        })
        .unwrap_or_default();
    let num = |v: &serde_json::Value| v.as_f64();
    let arr = |path: &[&str]| -> Vec<Option<f64>> {
        let mut v = &report;
        for p in path {
            v = &v[*p];
        }
        v.as_array().map(|a| a.iter().map(num).collect()).unwrap_or_default()
    };
    let codes: Vec<String> = report["items"]
        .as_array()
        .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    let p = arr(&["classical", "p_value"]);
    let pb = arr(&["classical", "point_biserial"]);
    let cit = arr(&["classical", "corrected_item_total"]);
    let d27 = arr(&["classical", "discrimination", "disc_27_rank"]);
    let aid = arr(&["classical", "alpha_if_deleted"]);
    let med = arr(&["response_time", "median"]);
    let model = &report["irt"][c.model.as_str()];
    let irt_items: Vec<String> = report["irt_items"]
        .as_array()
        .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    let irt_a: Vec<Option<f64>> = model["a"].as_array().map(|a| a.iter().map(num).collect()).unwrap_or_default();
    let irt_d: Vec<Option<f64>> = model["d"].as_array().map(|a| a.iter().map(num).collect()).unwrap_or_default();
    let irt_b: Vec<Option<f64>> = model["b"].as_array().map(|a| a.iter().map(num).collect()).unwrap_or_default();
    let mut conn = ctx.db.reader().acquire().await?;
    let meta: BTreeMap<String, (String, i64)> = content_store::current_items(&mut conn, actor.livemode, &codes)
        .await?
        .into_iter()
        .map(|i| (i.code, (i.topic, i.difficulty)))
        .collect();
    let items = codes
        .iter()
        .enumerate()
        .map(|(i, code)| {
            let k = irt_items.iter().position(|x| x == code);
            ItemStat {
                item: code.clone(),
                topic: meta.get(code).map(|m| m.0.clone()),
                difficulty: meta.get(code).map(|m| m.1),
                p_value: at(&p, i).flatten(),
                point_biserial: at(&pb, i).flatten(),
                corrected_item_total: at(&cit, i).flatten(),
                discrimination_27: at(&d27, i).flatten(),
                alpha_if_deleted: at(&aid, i).flatten(),
                a: k.and_then(|k| at(&irt_a, k)).flatten(),
                d: k.and_then(|k| at(&irt_d, k)).flatten(),
                b: k.and_then(|k| at(&irt_b, k)).flatten(),
                median_time_ms: at(&med, i).flatten(),
                flags: flag_of.get(code).cloned().unwrap_or_default(),
            }
        })
        .collect();
    Ok(ItemStatistics {
        object: "item_statistics",
        assessment: form.code,
        calibration: c.id,
        model: c.model,
        persons: c.persons.unwrap_or(0),
        kr20: report["classical"]["kr20"].as_f64(),
        cronbach_alpha: report["classical"]["cronbach_alpha"].as_f64(),
        sem: report["classical"]["sem"].as_f64(),
        items,
    })
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct CohortBenchmark {
    /// `global`, `country` or `organization`.
    pub kind: String,
    pub cohort: String,
    /// Learners with a completed test.
    pub learners: i64,
    /// Mean of the learners' average scores, 0 to 100.
    pub mean_score: Option<f64>,
    /// Quantiles of the learners' average scores (0 to 100) at 0.1, 0.25, 0.5, 0.75, 0.9 (type 7).
    pub quantiles: Vec<f64>,
    /// Where the cohort's mean falls among all learners of the exam (mid-point percentile rank).
    pub mean_percentile_in_exam: Option<f64>,
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct CohortBenchmarks {
    /// Always `cohort_benchmarks`.
    pub object: &'static str,
    pub exam: String,
    pub cohorts: Vec<CohortBenchmark>,
}

/// Benchmarks of an exam's cohorts of a kind (`country`, `organization`),
/// with the global one first.
pub async fn cohort_benchmarks(ctx: &Ctx, actor: &Actor, exam: &str, kind: &str) -> Result<CohortBenchmarks> {
    if !matches!(kind, "country" | "organization" | "global") {
        return Err(Error::invalid("kind", "kind is global, country or organization"));
    }
    let mut conn = ctx.db.reader().acquire().await?;
    let global = agg::histogram(&mut *conn, actor.livemode, exam, "global", "all").await?;
    let mut out = vec![benchmark("global", "all", &global, &global)];
    if kind != "global" {
        for (cohort, _) in agg::cohorts(&mut *conn, actor.livemode, exam, kind).await? {
            let h = agg::histogram(&mut *conn, actor.livemode, exam, kind, &cohort).await?;
            out.push(benchmark(kind, &cohort, &h, &global));
        }
    }
    Ok(CohortBenchmarks { object: "cohort_benchmarks", exam: exam.to_string(), cohorts: out })
}

/// The k-th smallest (0-based) value of a histogram's buckets, in percent.
fn nth(h: &[(i64, i64)], k: i64) -> f64 {
    let mut seen = 0;
    for &(b, c) in h {
        seen += c;
        if k < seen {
            return b as f64 / 10.0;
        }
    }
    h.last().map_or(0.0, |&(b, _)| b as f64 / 10.0)
}

/// R's type-7 quantile of the learners in a histogram.
fn quantile7(h: &[(i64, i64)], n: i64, p: f64) -> f64 {
    let pos = (n - 1) as f64 * p;
    let lo = pos.floor() as i64;
    let frac = pos - lo as f64;
    let (a, b) = (nth(h, lo), nth(h, (lo + 1).min(n - 1)));
    a + frac * (b - a)
}

fn benchmark(kind: &str, cohort: &str, h: &[(i64, i64)], global: &[(i64, i64)]) -> CohortBenchmark {
    let n: i64 = h.iter().map(|(_, c)| *c).sum();
    let sum: f64 = h.iter().map(|&(b, c)| b as f64 / 10.0 * c as f64).sum();
    let mean = (n > 0).then(|| sum / n as f64);
    let quantiles = if n == 0 {
        Vec::new()
    } else {
        psy::QUANTILE_PROBS.iter().map(|&p| (quantile7(h, n, p) * 10.0).round() / 10.0).collect()
    };
    let mean_percentile_in_exam = mean.and_then(|m| {
        let bucket = (m * 10.0).round() as i64;
        let below: i64 = global.iter().filter(|(b, _)| *b < bucket).map(|(_, c)| c).sum();
        let equal: i64 = global.iter().filter(|(b, _)| *b == bucket).map(|(_, c)| c).sum();
        let total: i64 = global.iter().map(|(_, c)| c).sum();
        bursar_domain::learning::percentile_rank(below, equal, total).map(|p| (p * 10.0).round() / 10.0)
    });
    CohortBenchmark {
        kind: kind.to_string(),
        cohort: cohort.to_string(),
        learners: n,
        mean_score: mean.map(|m| (m * 10.0).round() / 10.0),
        quantiles,
        mean_percentile_in_exam,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_quantiles_match_the_expanded_values() {
        let h = [(100, 2), (500, 1), (900, 3)];
        let mut values: Vec<f64> = Vec::new();
        for &(b, c) in &h {
            values.extend(std::iter::repeat_n(b as f64 / 10.0, c as usize));
        }
        for p in psy::QUANTILE_PROBS {
            let want = psy::quantile_type7_sorted(&values, p).unwrap();
            assert!((quantile7(&h, 6, p) - want).abs() < 1e-12, "p = {p}");
        }
        let b = benchmark("country", "DE", &h, &h);
        assert_eq!(b.learners, 6);
        assert_eq!(b.mean_score, Some(((10.0 * 2.0 + 50.0 + 90.0 * 3.0) / 6.0 * 10.0_f64).round() / 10.0));
    }
}
