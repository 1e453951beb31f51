//! Item flags for content review, from a finished [`Report`].
//!
//! With missing responses the flags use the pairwise block (available-case p-values,
//! item–rest r from pairwise covariances, pairwise alpha); otherwise the classical block.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::report::Report;
use crate::stats::quantile_type7_sorted;

/// Thresholds of [`item_flags`]; every field can be overridden.
#[derive(Debug, Clone, PartialEq)]
pub struct FlagThresholds {
    /// `too_easy` when p > this (default 0.95).
    pub too_easy_p: f64,
    /// `too_hard` when p < this (default 0.20).
    pub too_hard_p: f64,
    /// `negative_discrimination` when the corrected item–total r < this (default 0).
    pub negative_r: f64,
    /// `low_discrimination` when negative_r ≤ r < this (default 0.20).
    pub low_r: f64,
    /// `alpha_if_deleted_rises` when alpha-if-deleted > alpha + this (default 0.01).
    pub alpha_rise: f64,
    /// `fast_responses` when the item's median time < this × the form's median (default 1/3).
    pub fast_ratio: f64,
    /// `slow_responses` when the item's median time > this × the form's median (default 3).
    pub slow_ratio: f64,
}

impl Default for FlagThresholds {
    fn default() -> Self {
        FlagThresholds {
            too_easy_p: 0.95,
            too_hard_p: 0.20,
            negative_r: 0.0,
            low_r: 0.20,
            alpha_rise: 0.01,
            fast_ratio: 1.0 / 3.0,
            slow_ratio: 3.0,
        }
    }
}

/// One reason to look at an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemFlag {
    /// Almost everyone answers it correctly.
    TooEasy,
    /// Few answer it correctly.
    TooHard,
    /// Everyone (who answered) gave the same answer: no correlation can be computed.
    NoVariance,
    /// Stronger persons do worse on it (possibly a wrong key).
    NegativeDiscrimination,
    /// It barely separates stronger from weaker persons.
    LowDiscrimination,
    /// The test is more reliable without it.
    AlphaIfDeletedRises,
    /// Its median response time is far below the form's (guessing, or a give-away).
    FastResponses,
    /// Its median response time is far above the form's (unclear or laborious).
    SlowResponses,
}

/// The flags of one item.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ItemFlags {
    /// Item id.
    pub item: String,
    /// Flags raised (possibly none).
    pub flags: Vec<ItemFlag>,
}

/// The statistics the flags read (pairwise with missing data, classical otherwise).
struct Basis<'a> {
    p: Vec<Option<f64>>,
    r: &'a [Option<f64>],
    alpha_if_deleted: &'a [Option<f64>],
    alpha: Option<f64>,
}

/// Flags every item of `report`. The form's median time is the median of the item medians.
pub fn item_flags(report: &Report, t: &FlagThresholds) -> Result<Vec<ItemFlags>> {
    let all = [t.too_easy_p, t.too_hard_p, t.negative_r, t.low_r, t.alpha_rise, t.fast_ratio, t.slow_ratio];
    if all.iter().any(|v| !v.is_finite()) || t.fast_ratio <= 0.0 || t.slow_ratio <= 0.0 {
        return Err(Error::invalid("flag thresholds must be finite and the time ratios positive"));
    }
    let k = report.items.len();
    let c = &report.classical;
    let basis = match &report.classical_pairwise {
        Some(pw) => Basis {
            p: pw.p_value.clone(),
            r: &pw.item_rest_r_cov,
            alpha_if_deleted: &pw.alpha_if_deleted,
            alpha: pw.cronbach_alpha,
        },
        None => Basis {
            p: c.p_value.iter().map(|&v| Some(v)).collect(),
            r: &c.corrected_item_total,
            alpha_if_deleted: &c.alpha_if_deleted,
            alpha: c.cronbach_alpha,
        },
    };
    let (p, r, aid, alpha) = (&basis.p, basis.r, basis.alpha_if_deleted, basis.alpha);
    let form_median = report.response_time.as_ref().and_then(|rt| {
        let mut meds: Vec<f64> = rt.median.iter().flatten().copied().collect();
        meds.sort_unstable_by(f64::total_cmp);
        quantile_type7_sorted(&meds, 0.5)
    });
    let mut out = Vec::with_capacity(k);
    for j in 0..k {
        let mut flags = Vec::new();
        if let Some(pj) = p[j] {
            if pj > t.too_easy_p {
                flags.push(ItemFlag::TooEasy);
            }
            if pj < t.too_hard_p {
                flags.push(ItemFlag::TooHard);
            }
        }
        match r[j] {
            Some(rj) if rj < t.negative_r => flags.push(ItemFlag::NegativeDiscrimination),
            Some(rj) if rj < t.low_r => flags.push(ItemFlag::LowDiscrimination),
            Some(_) => {}
            None => {
                if c.item_var_pop[j] == 0.0 || p[j].is_some_and(|v| v == 0.0 || v == 1.0) {
                    flags.push(ItemFlag::NoVariance);
                }
            }
        }
        if let (Some(a), Some(ad)) = (alpha, aid[j]) {
            if ad > a + t.alpha_rise {
                flags.push(ItemFlag::AlphaIfDeletedRises);
            }
        }
        if let (Some(fm), Some(rt)) = (form_median, report.response_time.as_ref()) {
            if let Some(m) = rt.median[j] {
                if m < t.fast_ratio * fm {
                    flags.push(ItemFlag::FastResponses);
                }
                if m > t.slow_ratio * fm {
                    flags.push(ItemFlag::SlowResponses);
                }
            }
        }
        out.push(ItemFlags { item: report.items[j].clone(), flags });
    }
    Ok(out)
}
