//! Classical test theory: item statistics, reliability, score distribution, and psych's
//! pairwise-complete variant for data with missing responses.
//!
//! Columns are held as bitsets (one bit per person), so every pair count is a popcount of an
//! AND and every sum of the complete-data section is an exact integer; the floating-point
//! results are one division (or square root) away from exact rational values.

use serde::Serialize;

use crate::data::{ResponseMatrix, MISSING};
use crate::error::{Error, Result};
use crate::stats::{finite, quantile_type1_by, quantile_type7_by, ratio, QUANTILE_PROBS};

/// The `classical` block (complete-data convention: a missing response scores 0).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Classical {
    /// Persons.
    pub n_persons: usize,
    /// Items.
    pub n_items: usize,
    /// Non-missing responses per item.
    pub n_valid: Vec<usize>,
    /// Mean item score (missing = 0).
    pub p_value: Vec<f64>,
    /// p(1 − p).
    pub item_var_pop: Vec<f64>,
    /// Pearson r(item, total including the item); `null` for a constant item or total.
    pub point_biserial: Vec<Option<f64>>,
    /// Pearson r(item, total minus the item) (psych `r.drop`).
    pub corrected_item_total: Vec<Option<f64>>,
    /// Upper/lower 27 % group discrimination.
    pub discrimination: Discrimination,
    /// KR-20 with the population variance of the total.
    pub kr20: Option<f64>,
    /// KR-21 with the population variance of the total.
    pub kr21: Option<f64>,
    /// KR-21 with the sample variance of the total.
    pub kr21_sample_var: Option<f64>,
    /// Cronbach's alpha over all k items.
    pub cronbach_alpha: Option<f64>,
    /// Cronbach's alpha over the items with nonzero variance (psych `raw_alpha`).
    pub cronbach_alpha_nonconstant: Option<f64>,
    /// Alpha from the mean inter-item correlation of the nonconstant items.
    pub standardized_alpha: Option<f64>,
    /// Cronbach's alpha of the other k − 1 items.
    pub alpha_if_deleted: Vec<Option<f64>>,
    /// Summary of the total score.
    pub total_score: TotalScore,
    /// Standard error of measurement sd_sample(X)·√(1 − alpha).
    pub sem: Option<f64>,
    /// Frequencies, percentile ranks and quantiles of the total score.
    pub score_distribution: ScoreDistribution,
}

/// Upper/lower 27 % groups, g = floor(0.27 N + 0.5).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Discrimination {
    /// g.
    pub n_group_rank: usize,
    /// p(upper) − p(lower) with groups of exactly g persons taken from the ordering by total
    /// (ascending, ties by row order): lower = its first g, upper = its last g.
    pub disc_27_rank: Vec<Option<f64>>,
    /// p in the upper rank group.
    pub p_upper_rank: Vec<Option<f64>>,
    /// p in the lower rank group.
    pub p_lower_rank: Vec<Option<f64>>,
    /// Total of the g-th best person.
    pub upper_cut_score: Option<u32>,
    /// Total of the g-th worst person.
    pub lower_cut_score: Option<u32>,
    /// Persons with total ≥ the upper cut.
    pub n_upper_score: usize,
    /// Persons with total ≤ the lower cut.
    pub n_lower_score: usize,
    /// p(upper) − p(lower) with the tie-inclusive score groups.
    pub disc_27_score: Vec<Option<f64>>,
}

/// Total score summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TotalScore {
    /// Mean.
    pub mean: f64,
    /// Standard deviation with N − 1.
    pub sd_sample: Option<f64>,
    /// Standard deviation with N.
    pub sd_pop: f64,
    /// Minimum.
    pub min: u32,
    /// Maximum.
    pub max: u32,
    /// Median (type 7).
    pub median: f64,
}

/// Distribution of the total score over 0..=k.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoreDistribution {
    /// 0..=k.
    pub scores: Vec<u32>,
    /// Persons with each score.
    pub freq: Vec<u64>,
    /// 100 (#below + 0.5 #equal) / N.
    pub percentile_rank_mid: Vec<f64>,
    /// 100 #(≤ score) / N (the ECDF).
    pub percentile_rank_le: Vec<f64>,
    /// The probabilities of the quantile arrays.
    pub quantile_probs: Vec<f64>,
    /// R type-7 quantiles of the total.
    pub quantile_type7: Vec<f64>,
    /// R type-1 quantiles of the total.
    pub quantile_type1: Vec<f64>,
}

/// The `classical_pairwise` block, psych `alpha(use = "pairwise")` conventions: items with
/// no variance among their available responses are dropped (their entries are `null`
/// except `n_valid` and `p_value`), covariances and correlations are pairwise-complete with
/// N_ij − 1 denominators.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassicalPairwise {
    /// Non-missing responses per item.
    pub n_valid: Vec<usize>,
    /// Mean of the available responses.
    pub p_value: Vec<Option<f64>>,
    /// (1 − tr C / ΣC) k/(k − 1).
    pub cronbach_alpha: Option<f64>,
    /// (1 − k / ΣR) k/(k − 1) with R the pairwise correlation matrix.
    pub standardized_alpha: Option<f64>,
    /// Raw alpha of C without the item (needs at least 3 retained items).
    pub alpha_if_deleted: Vec<Option<f64>>,
    /// Item–rest correlation from C (psych `r.drop`).
    pub item_rest_r_cov: Vec<Option<f64>>,
    /// Pairwise r(item, the person's mean over answered items) (psych `raw.r`).
    pub item_proportion_r: Vec<Option<f64>>,
}

/// Column bitsets and totals shared by the classical sections.
pub(crate) struct Columns {
    pub n: usize,
    pub k: usize,
    pub words: usize,
    /// k × words: bit set where the response is 1.
    pub correct: Vec<u64>,
    /// k × words: bit set where the response is present.
    pub valid: Vec<u64>,
    /// Per person number of 1s (missing = 0).
    pub totals: Vec<u32>,
    /// hist[s] = persons with total s, s = 0..=k.
    pub hist: Vec<u64>,
    pub any_missing: bool,
}

impl Columns {
    pub fn new(m: &ResponseMatrix) -> Columns {
        let (n, k) = (m.n_persons(), m.n_items());
        let words = n.div_ceil(64);
        let mut correct = vec![0u64; k * words];
        let mut valid = vec![0u64; k * words];
        let mut totals = vec![0u32; n];
        let mut hist = vec![0u64; k + 1];
        let data = m.as_flat();
        let mut any_missing = false;
        for w in 0..words {
            let start = w * 64;
            let end = (start + 64).min(n);
            for (i, total_slot) in totals.iter_mut().enumerate().take(end).skip(start) {
                let row = &data[i * k..(i + 1) * k];
                let bit = 1u64 << (i - start);
                let (mut total, mut answered) = (0u32, 0usize);
                for (j, &v) in row.iter().enumerate() {
                    let one = (v == 1) as u64;
                    let present = (v != MISSING) as u64;
                    total += one as u32;
                    answered += present as usize;
                    correct[j * words + w] |= bit * one;
                    valid[j * words + w] |= bit * present;
                }
                any_missing |= answered != k;
                *total_slot = total;
                hist[total as usize] += 1;
            }
        }
        Columns { n, k, words, correct, valid, totals, hist, any_missing }
    }

    pub fn correct_col(&self, j: usize) -> &[u64] {
        &self.correct[j * self.words..(j + 1) * self.words]
    }

    pub fn valid_col(&self, j: usize) -> &[u64] {
        &self.valid[j * self.words..(j + 1) * self.words]
    }
}

pub(crate) fn and_count(a: &[u64], b: &[u64]) -> u64 {
    a.iter().zip(b).map(|(x, y)| (x & y).count_ones() as u64).sum()
}

/// Pearson r from exact integer sums (n, Σx, Σy, Σx², Σy², Σxy); `None` when either variable
/// is constant.
fn pearson_int(n: i128, sx: i128, sy: i128, sxx: i128, syy: i128, sxy: i128) -> Option<f64> {
    let vx = n * sxx - sx * sx;
    let vy = n * syy - sy * sy;
    if vx <= 0 || vy <= 0 {
        return None;
    }
    let num = n * sxy - sx * sy;
    finite(num as f64 / ((vx as f64).sqrt() * (vy as f64).sqrt()))
}

/// Computes the `classical` block. Needs at least one person.
pub fn classical(m: &ResponseMatrix) -> Result<Classical> {
    classical_from(&Columns::new(m))
}

pub(crate) fn classical_from(c: &Columns) -> Result<Classical> {
    let (n, k) = (c.n, c.k);
    if n == 0 {
        return Err(Error::invalid("classical statistics need at least one person"));
    }
    let ni = n as i128;
    let ki = k as i128;
    // counts and the Gram matrix of the 0/1 columns
    let cnt: Vec<i128> = (0..k).map(|j| and_count(c.correct_col(j), c.correct_col(j)) as i128).collect();
    let mut gram = vec![0i128; k * k];
    for j in 0..k {
        gram[j * k + j] = cnt[j];
        for l in j + 1..k {
            let g = and_count(c.correct_col(j), c.correct_col(l)) as i128;
            gram[j * k + l] = g;
            gram[l * k + j] = g;
        }
    }
    let n_valid: Vec<usize> = (0..k).map(|j| and_count(c.valid_col(j), c.valid_col(j)) as usize).collect();
    let st: i128 = cnt.iter().sum();
    let stt: i128 = gram.iter().sum();
    let sxt: Vec<i128> = (0..k).map(|j| gram[j * k..(j + 1) * k].iter().sum()).collect();
    // N² var_N(X) = N ΣT² − (ΣT)²
    let vt = ni * stt - st * st;
    let vx: Vec<i128> = cnt.iter().map(|&cj| ni * cj - cj * cj).collect();
    let sum_vx: i128 = vx.iter().sum();

    let p_value: Vec<f64> = cnt.iter().map(|&cj| cj as f64 / n as f64).collect();
    let item_var_pop: Vec<f64> = p_value.iter().map(|p| p * (1.0 - p)).collect();
    let point_biserial: Vec<Option<f64>> = (0..k).map(|j| pearson_int(ni, cnt[j], st, cnt[j], stt, sxt[j])).collect();
    let corrected_item_total: Vec<Option<f64>> = (0..k)
        .map(|j| {
            let (sr, srr, sxr) = (st - cnt[j], stt - 2 * sxt[j] + cnt[j], sxt[j] - cnt[j]);
            pearson_int(ni, cnt[j], sr, cnt[j], srr, sxr)
        })
        .collect();

    // reliability: on 0/1 data the N(N − 1) of the sample variances cancels, so alpha and
    // KR-20 are the same exact ratio
    let alpha_k = |kk: i128, sum_item: i128, total: i128| -> Option<f64> {
        if kk < 2 || total <= 0 {
            return None;
        }
        finite(kk as f64 / (kk - 1) as f64 * (1.0 - sum_item as f64 / total as f64))
    };
    let cronbach_alpha = alpha_k(ki, sum_vx, vt);
    let kr20 = cronbach_alpha;
    let nonconstant: Vec<usize> = (0..k).filter(|&j| vx[j] > 0).collect();
    let cronbach_alpha_nonconstant = alpha_k(nonconstant.len() as i128, sum_vx, vt);
    let mean_total = st as f64 / n as f64;
    let var_pop = vt as f64 / (n as f64 * n as f64);
    let var_sample = if n > 1 { Some(vt as f64 / (n as f64 * (n - 1) as f64)) } else { None };
    let kr21_with = |var: f64| -> Option<f64> {
        if k < 2 || var <= 0.0 {
            return None;
        }
        finite(k as f64 / (k - 1) as f64 * (1.0 - mean_total * (k as f64 - mean_total) / (k as f64 * var)))
    };
    let kr21 = kr21_with(var_pop);
    let kr21_sample_var = var_sample.and_then(kr21_with);

    // standardized alpha from the mean inter-item correlation of the nonconstant items
    let standardized_alpha = {
        let kk = nonconstant.len();
        if kk < 2 {
            None
        } else {
            let mut sum_r = 0.0;
            for (a, &j) in nonconstant.iter().enumerate() {
                for &l in &nonconstant[a + 1..] {
                    let num = ni * gram[j * k + l] - cnt[j] * cnt[l];
                    sum_r += num as f64 / ((vx[j] as f64).sqrt() * (vx[l] as f64).sqrt());
                }
            }
            let rbar = sum_r / (kk * (kk - 1) / 2) as f64;
            let den = 1.0 + (kk as f64 - 1.0) * rbar;
            // a vanishing denominator (rbar = −1/(k − 1)) leaves the ratio undefined
            if den.abs() < 1e-12 {
                None
            } else {
                ratio(kk as f64 * rbar, den)
            }
        }
    };

    let alpha_if_deleted: Vec<Option<f64>> = (0..k)
        .map(|j| {
            let (sr, srr) = (st - cnt[j], stt - 2 * sxt[j] + cnt[j]);
            alpha_k(ki - 1, sum_vx - vx[j], ni * srr - sr * sr)
        })
        .collect();

    // total score summary and distribution (from the histogram of totals)
    let hist = &c.hist;
    let order_stat = |i: usize| -> f64 {
        let mut acc = 0u64;
        for (s, &f) in hist.iter().enumerate() {
            acc += f;
            if (i as u64) < acc {
                return s as f64;
            }
        }
        k as f64
    };
    let min = hist.iter().position(|&f| f > 0).unwrap_or(0) as u32;
    let max = hist.iter().rposition(|&f| f > 0).unwrap_or(0) as u32;
    let quantile_type7: Vec<f64> =
        QUANTILE_PROBS.iter().map(|&p| quantile_type7_by(n, p, order_stat).unwrap_or(f64::NAN)).collect();
    let quantile_type1: Vec<f64> =
        QUANTILE_PROBS.iter().map(|&p| quantile_type1_by(n, p, order_stat).unwrap_or(f64::NAN)).collect();
    let total_score = TotalScore {
        mean: mean_total,
        sd_sample: var_sample.map(f64::sqrt),
        sd_pop: var_pop.sqrt(),
        min,
        max,
        median: quantile_type7_by(n, 0.5, order_stat).unwrap_or(f64::NAN),
    };
    let sem = match (total_score.sd_sample, cronbach_alpha) {
        (Some(sd), Some(a)) if a <= 1.0 => finite(sd * (1.0 - a).sqrt()),
        _ => None,
    };
    let mut below = 0u64;
    let mut percentile_rank_mid = Vec::with_capacity(k + 1);
    let mut percentile_rank_le = Vec::with_capacity(k + 1);
    for &f in hist {
        percentile_rank_mid.push(100.0 * (below as f64 + 0.5 * f as f64) / n as f64);
        percentile_rank_le.push(100.0 * (below + f) as f64 / n as f64);
        below += f;
    }
    let score_distribution = ScoreDistribution {
        scores: (0..=k as u32).collect(),
        freq: hist.clone(),
        percentile_rank_mid,
        percentile_rank_le,
        quantile_probs: QUANTILE_PROBS.to_vec(),
        quantile_type7,
        quantile_type1,
    };

    let discrimination = discrimination(c);
    Ok(Classical {
        n_persons: n,
        n_items: k,
        n_valid,
        p_value,
        item_var_pop,
        point_biserial,
        corrected_item_total,
        discrimination,
        kr20,
        kr21,
        kr21_sample_var,
        cronbach_alpha,
        cronbach_alpha_nonconstant,
        standardized_alpha,
        alpha_if_deleted,
        total_score,
        sem,
        score_distribution,
    })
}

fn discrimination(c: &Columns) -> Discrimination {
    let (n, k, words) = (c.n, c.k, c.words);
    let g = (0.27 * n as f64 + 0.5).floor() as usize;
    let g = g.min(n);
    if g == 0 {
        return Discrimination {
            n_group_rank: 0,
            disc_27_rank: vec![None; k],
            p_upper_rank: vec![None; k],
            p_lower_rank: vec![None; k],
            upper_cut_score: None,
            lower_cut_score: None,
            n_upper_score: 0,
            n_lower_score: 0,
            disc_27_score: vec![None; k],
        };
    }
    // the score of the g-th worst and the g-th best person
    let mut acc = 0u64;
    let mut lower_cut = 0usize;
    for (s, &f) in c.hist.iter().enumerate() {
        acc += f;
        if acc >= g as u64 {
            lower_cut = s;
            break;
        }
    }
    let mut acc = 0u64;
    let mut upper_cut = k;
    for (s, &f) in c.hist.iter().enumerate().rev() {
        acc += f;
        if acc >= g as u64 {
            upper_cut = s;
            break;
        }
    }
    let below_lower: u64 = c.hist[..lower_cut].iter().sum();
    let above_upper: u64 = c.hist[upper_cut + 1..].iter().sum();
    // ties at the lower cut: the earliest rows join the lower group; ties at the upper cut:
    // the latest rows join the upper group (ascending order by total, then row)
    let take_lower = g as u64 - below_lower;
    let take_upper = g as u64 - above_upper;
    let mut lower_rank = vec![0u64; words];
    let mut upper_rank = vec![0u64; words];
    let mut lower_score = vec![0u64; words];
    let mut upper_score = vec![0u64; words];
    let mut taken = 0u64;
    for (i, &t) in c.totals.iter().enumerate() {
        let t = t as usize;
        let bit = 1u64 << (i % 64);
        if t <= lower_cut {
            lower_score[i / 64] |= bit;
        }
        if t >= upper_cut {
            upper_score[i / 64] |= bit;
        }
        if t < lower_cut || (t == lower_cut && taken < take_lower) {
            if t == lower_cut {
                taken += 1;
            }
            lower_rank[i / 64] |= bit;
        }
    }
    let mut taken = 0u64;
    for (i, &t) in c.totals.iter().enumerate().rev() {
        let t = t as usize;
        if t > upper_cut || (t == upper_cut && taken < take_upper) {
            if t == upper_cut {
                taken += 1;
            }
            upper_rank[i / 64] |= 1u64 << (i % 64);
        }
    }
    let n_upper_score = c.hist[upper_cut..].iter().sum::<u64>() as usize;
    let n_lower_score = c.hist[..=lower_cut].iter().sum::<u64>() as usize;
    let mut disc_27_rank = Vec::with_capacity(k);
    let mut p_upper_rank = Vec::with_capacity(k);
    let mut p_lower_rank = Vec::with_capacity(k);
    let mut disc_27_score = Vec::with_capacity(k);
    for j in 0..k {
        let col = c.correct_col(j);
        let pu = and_count(col, &upper_rank) as f64 / g as f64;
        let pl = and_count(col, &lower_rank) as f64 / g as f64;
        p_upper_rank.push(Some(pu));
        p_lower_rank.push(Some(pl));
        disc_27_rank.push(Some(pu - pl));
        let su = and_count(col, &upper_score) as f64 / n_upper_score as f64;
        let sl = and_count(col, &lower_score) as f64 / n_lower_score as f64;
        disc_27_score.push(finite(su - sl));
    }
    Discrimination {
        n_group_rank: g,
        disc_27_rank,
        p_upper_rank,
        p_lower_rank,
        upper_cut_score: Some(upper_cut as u32),
        lower_cut_score: Some(lower_cut as u32),
        n_upper_score,
        n_lower_score,
        disc_27_score,
    }
}

/// Computes the `classical_pairwise` block (meaningful when responses are missing).
pub fn classical_pairwise(m: &ResponseMatrix) -> Result<ClassicalPairwise> {
    pairwise_from(&Columns::new(m), m)
}

pub(crate) fn pairwise_from(c: &Columns, m: &ResponseMatrix) -> Result<ClassicalPairwise> {
    let (n, k) = (c.n, c.k);
    if n == 0 {
        return Err(Error::invalid("classical statistics need at least one person"));
    }
    let n_valid: Vec<usize> = (0..k).map(|j| and_count(c.valid_col(j), c.valid_col(j)) as usize).collect();
    let cnt: Vec<u64> = (0..k).map(|j| and_count(c.correct_col(j), c.correct_col(j))).collect();
    let p_value: Vec<Option<f64>> = (0..k).map(|j| ratio(cnt[j] as f64, n_valid[j] as f64)).collect();
    // psych drops items whose sd over available responses is 0 or NA
    let kept: Vec<usize> =
        (0..k).filter(|&j| n_valid[j] >= 2 && cnt[j] > 0 && (cnt[j] as usize) < n_valid[j]).collect();
    let kk = kept.len();
    let mut cov = vec![None; kk * kk];
    let mut cor = vec![None; kk * kk];
    for (a, &j) in kept.iter().enumerate() {
        let (nj, cj) = (n_valid[j] as f64, cnt[j] as f64);
        cov[a * kk + a] = Some((nj * cj - cj * cj) / (nj * (nj - 1.0)));
        cor[a * kk + a] = Some(1.0);
        for (b, &l) in kept.iter().enumerate().skip(a + 1) {
            let nij = and_count(c.valid_col(j), c.valid_col(l)) as i128;
            let sx = and_count(c.correct_col(j), c.valid_col(l)) as i128;
            let sy = and_count(c.correct_col(l), c.valid_col(j)) as i128;
            let sxy = and_count(c.correct_col(j), c.correct_col(l)) as i128;
            let (cv, r) = if nij >= 2 {
                let num = nij * sxy - sx * sy;
                let cv = num as f64 / (nij as f64 * (nij - 1) as f64);
                (Some(cv), pearson_int(nij, sx, sy, sx, sy, sxy))
            } else {
                (None, None)
            };
            cov[a * kk + b] = cv;
            cov[b * kk + a] = cv;
            cor[a * kk + b] = r;
            cor[b * kk + a] = r;
        }
    }
    let full_sum = |mat: &[Option<f64>]| -> Option<f64> { mat.iter().try_fold(0.0, |s, v| v.map(|x| s + x)) };
    let trace: f64 = (0..kk).map(|a| cov[a * kk + a].unwrap_or(0.0)).sum();
    let raw_alpha = |kk: usize, tr: f64, sum: f64| -> Option<f64> {
        // ΣC ≈ 0 (the total has no variance) leaves alpha undefined
        if kk < 2 || sum.abs() <= 1e-12 * tr.abs() {
            return None;
        }
        finite((1.0 - tr / sum) * kk as f64 / (kk - 1) as f64)
    };
    let sum_c = full_sum(&cov);
    let cronbach_alpha = sum_c.and_then(|s| raw_alpha(kk, trace, s));
    let standardized_alpha = full_sum(&cor).and_then(|s| {
        // ΣR ≈ 0 (perfectly opposed items) leaves the ratio undefined
        if kk < 2 || s.abs() < 1e-12 * (kk * kk) as f64 {
            None
        } else {
            finite((1.0 - kk as f64 / s) * kk as f64 / (kk - 1) as f64)
        }
    });
    // per retained item: undefined off-diagonal entries in its row, and its row sum
    let undefined_row: Vec<usize> = (0..kk).map(|a| (0..kk).filter(|&b| cov[a * kk + b].is_none()).count()).collect();
    let undefined_pairs: usize = undefined_row.iter().sum::<usize>() / 2;
    let row_sum: Vec<f64> = (0..kk).map(|a| (0..kk).filter_map(|b| cov[a * kk + b]).sum()).collect();
    let total_defined: f64 = row_sum.iter().sum();
    let mut alpha_if_deleted = vec![None; k];
    let mut item_rest_r_cov = vec![None; k];
    for (a, &j) in kept.iter().enumerate() {
        let caa = cov[a * kk + a].unwrap_or(0.0);
        // ΣC without item a, over defined entries
        let sub_sum = total_defined - 2.0 * row_sum[a] + caa;
        if undefined_pairs == undefined_row[a] && kk > 2 {
            alpha_if_deleted[j] = raw_alpha(kk - 1, trace - caa, sub_sum);
        }
        // the rest score must have variance (ΣC without the item clearly above rounding)
        if undefined_pairs == 0 && kk >= 2 && sub_sum > 1e-12 * trace.abs() {
            item_rest_r_cov[j] = finite((row_sum[a] - caa) / (caa * sub_sum).sqrt());
        }
    }
    let item_proportion_r = proportion_r(m, &kept);
    Ok(ClassicalPairwise {
        n_valid,
        p_value,
        cronbach_alpha,
        standardized_alpha,
        alpha_if_deleted,
        item_rest_r_cov,
        item_proportion_r,
    })
}

/// r(item, person mean over answered retained items), pairwise complete.
fn proportion_r(m: &ResponseMatrix, kept: &[usize]) -> Vec<Option<f64>> {
    let k = m.n_items();
    let mut out = vec![None; k];
    if kept.is_empty() {
        return out;
    }
    let n = m.n_persons();
    let mut prop = vec![f64::NAN; n];
    let mut sum = 0.0;
    let mut count = 0usize;
    for (i, slot) in prop.iter_mut().enumerate() {
        let row = m.row(i);
        let (mut ones, mut answered) = (0u32, 0u32);
        for &j in kept {
            if row[j] != MISSING {
                answered += 1;
                ones += row[j] as u32;
            }
        }
        if answered > 0 {
            *slot = ones as f64 / answered as f64;
            sum += *slot;
            count += 1;
        }
    }
    if count == 0 {
        return out;
    }
    // shift by the overall mean to keep the one-pass sums well conditioned
    let shift = sum / count as f64;
    // per kept item: n, Σx, Σy, Σx², Σy², Σxy with y = prop − shift
    let mut acc = vec![[0.0f64; 5]; kept.len()];
    let mut nn = vec![0u64; kept.len()];
    for (i, &p) in prop.iter().enumerate() {
        if p.is_nan() {
            continue;
        }
        let y = p - shift;
        let row = m.row(i);
        for (a, &j) in kept.iter().enumerate() {
            let v = row[j];
            if v != MISSING {
                let x = v as f64;
                let s = &mut acc[a];
                nn[a] += 1;
                s[0] += x;
                s[1] += y;
                s[2] += y * y;
                s[3] += x * y;
                s[4] += x * x;
            }
        }
    }
    for (a, &j) in kept.iter().enumerate() {
        let nf = nn[a] as f64;
        let [sx, sy, syy, sxy, sxx] = acc[a];
        let vx = nf * sxx - sx * sx;
        let vy = nf * syy - sy * sy;
        if nn[a] >= 2 && vx > 0.0 && vy > 0.0 && vy > 1e-13 * nf * syy {
            out[j] = finite((nf * sxy - sx * sy) / (vx.sqrt() * vy.sqrt()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matrix(rows: &[&[Option<u8>]]) -> ResponseMatrix {
        let k = rows[0].len();
        ResponseMatrix::new((0..k).map(|j| format!("i{j}")).collect(), rows.iter().map(|r| r.to_vec()).collect())
            .unwrap()
    }

    #[test]
    fn discrimination_groups_follow_the_definitions() {
        // totals by row: 0,1,1,2,2,2,3,3,4,4 ; N = 10 -> g = floor(2.7 + 0.5) = 3
        let rows: Vec<Vec<Option<u8>>> = [0, 1, 1, 2, 2, 2, 3, 3, 4, 4]
            .iter()
            .map(|&t: &usize| (0..4).map(|j| Some((j < t) as u8)).collect())
            .collect();
        let refs: Vec<&[Option<u8>]> = rows.iter().map(|r| r.as_slice()).collect();
        let c = classical(&matrix(&refs)).unwrap();
        let d = &c.discrimination;
        assert_eq!(d.n_group_rank, 3);
        assert_eq!(d.lower_cut_score, Some(1));
        assert_eq!(d.upper_cut_score, Some(3));
        assert_eq!(d.n_lower_score, 3);
        assert_eq!(d.n_upper_score, 4);
        // rank groups: lower = rows 1..3 (totals 0,1,1); upper = rows 8..10 (3,4,4)
        // item 1 (correct when total > 0): lower 2/3, upper 1
        assert!((d.p_lower_rank[0].unwrap() - 2.0 / 3.0).abs() < 1e-15);
        assert_eq!(d.p_upper_rank[0], Some(1.0));
        // item 4 (correct when total = 4): upper 2/3; score groups: upper 2/4
        assert!((d.p_upper_rank[3].unwrap() - 2.0 / 3.0).abs() < 1e-15);
        assert!((d.disc_27_score[3].unwrap() - 0.5).abs() < 1e-15);
    }

    #[test]
    fn constant_item_gives_nulls() {
        let c = classical(&matrix(&[&[Some(1), Some(0)], &[Some(1), Some(1)], &[Some(1), Some(0)]])).unwrap();
        assert_eq!(c.point_biserial[0], None);
        assert_eq!(c.corrected_item_total[0], None);
        assert!(c.point_biserial[1].is_some());
        // k = 2 with one constant item: alpha over both is defined, nonconstant is not
        assert!(c.cronbach_alpha.is_some());
        assert_eq!(c.cronbach_alpha_nonconstant, None);
        assert_eq!(c.standardized_alpha, None);
        assert_eq!(c.alpha_if_deleted, vec![None, None]);
    }
}
