//! Classical statistics against straightforward recomputations from their definitions
//! (naive O(N·k) loops written independently here), and identities between them.
#![allow(clippy::needless_range_loop)] // index loops mirror the definitions

use bursar_psychometrics::{classical, classical_pairwise, ResponseMatrix, MISSING};
use proptest::prelude::*;

fn build(n: usize, k: usize, cells: &[u8]) -> ResponseMatrix {
    ResponseMatrix::from_flat((0..k).map(|j| format!("i{j}")).collect(), n, cells[..n * k].to_vec()).unwrap()
}

fn complete_matrix() -> impl Strategy<Value = ResponseMatrix> {
    (1usize..40, 1usize..7)
        .prop_flat_map(|(n, k)| prop::collection::vec(0u8..=1, n * k).prop_map(move |cells| build(n, k, &cells)))
}

fn missing_matrix() -> impl Strategy<Value = ResponseMatrix> {
    (2usize..40, 2usize..7).prop_flat_map(|(n, k)| {
        prop::collection::vec(prop_oneof![3 => Just(0u8), 3 => Just(1u8), 2 => Just(MISSING)], n * k)
            .prop_map(move |cells| build(n, k, &cells))
    })
}

fn x(m: &ResponseMatrix, i: usize, j: usize) -> f64 {
    m.get(i, j).unwrap_or(0) as f64
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// Two-pass Pearson correlation; `None` if either variable is constant.
fn pearson(a: &[f64], b: &[f64]) -> Option<f64> {
    let (ma, mb) = (mean(a), mean(b));
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (u, v) in a.iter().zip(b) {
        sab += (u - ma) * (v - mb);
        saa += (u - ma) * (u - ma);
        sbb += (v - mb) * (v - mb);
    }
    if saa <= 1e-12 || sbb <= 1e-12 {
        None
    } else {
        Some(sab / (saa * sbb).sqrt())
    }
}

fn var_sample(a: &[f64]) -> f64 {
    let m = mean(a);
    a.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (a.len() as f64 - 1.0)
}

fn near(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => (a - b).abs() <= 1e-9 * (1.0 + b.abs()),
        (None, None) => true,
        _ => false,
    }
}

/// Cronbach's alpha of complete data, straight from the definition.
fn naive_alpha(cols: &[Vec<f64>]) -> Option<f64> {
    let k = cols.len();
    let n = cols[0].len();
    if k < 2 || n < 2 {
        return None;
    }
    let totals: Vec<f64> = (0..n).map(|i| cols.iter().map(|c| c[i]).sum()).collect();
    let vt = var_sample(&totals);
    if vt <= 1e-12 {
        return None;
    }
    let sv: f64 = cols.iter().map(|c| var_sample(c)).sum();
    Some(k as f64 / (k as f64 - 1.0) * (1.0 - sv / vt))
}

fn type7(sorted: &[f64], p: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * p;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

fn type1(sorted: &[f64], p: f64) -> f64 {
    let j = (sorted.len() as f64 * p - 1e-12).ceil().max(1.0) as usize;
    sorted[j - 1]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(160))]

    #[test]
    fn classical_matches_definitions(m in complete_matrix()) {
        let (n, k) = (m.n_persons(), m.n_items());
        let c = classical(&m).unwrap();
        let cols: Vec<Vec<f64>> = (0..k).map(|j| (0..n).map(|i| x(&m, i, j)).collect()).collect();
        let totals: Vec<f64> = (0..n).map(|i| (0..k).map(|j| x(&m, i, j)).sum()).collect();
        for j in 0..k {
            prop_assert!((c.p_value[j] - mean(&cols[j])).abs() < 1e-12);
            prop_assert!(near(c.point_biserial[j], pearson(&cols[j], &totals)));
            let rest: Vec<f64> = totals.iter().zip(&cols[j]).map(|(t, v)| t - v).collect();
            prop_assert!(near(c.corrected_item_total[j], pearson(&cols[j], &rest)));
        }
        // KR-20 from p(1 − p) and var_N, and alpha from sample variances, agree with the
        // report and with each other on 0/1 data
        let var_n = totals.iter().map(|t| (t - mean(&totals)).powi(2)).sum::<f64>() / n as f64;
        let kr20 = if k >= 2 && var_n > 1e-12 {
            let spq: f64 = cols.iter().map(|c| { let p = mean(c); p * (1.0 - p) }).sum();
            Some(k as f64 / (k as f64 - 1.0) * (1.0 - spq / var_n))
        } else { None };
        prop_assert!(near(c.kr20, kr20));
        prop_assert!(near(c.cronbach_alpha, naive_alpha(&cols)));
        prop_assert!(near(kr20, naive_alpha(&cols)));
        // KR-21 with both variances
        let mt = mean(&totals);
        let kr21 = |v: f64| if k >= 2 && v > 1e-12 { Some(k as f64 / (k as f64 - 1.0) * (1.0 - mt * (k as f64 - mt) / (k as f64 * v))) } else { None };
        prop_assert!(near(c.kr21, kr21(var_n)));
        if n >= 2 {
            prop_assert!(near(c.kr21_sample_var, kr21(var_sample(&totals))));
            prop_assert!((c.total_score.sd_sample.unwrap() - var_sample(&totals).sqrt()).abs() < 1e-9);
        }
        // standardized alpha from the mean correlation of the nonconstant items
        let nc: Vec<&Vec<f64>> = cols.iter().filter(|c| n >= 2 && var_sample(c) > 1e-12).collect();
        let std_alpha = if nc.len() >= 2 && n >= 2 {
            let mut rs = Vec::new();
            for a in 0..nc.len() { for b in a + 1..nc.len() { rs.push(pearson(nc[a], nc[b]).unwrap()); } }
            let r = mean(&rs);
            let kk = nc.len() as f64;
            let den = 1.0 + (kk - 1.0) * r;
            if den.abs() > 1e-9 { Some(kk * r / den) } else { None }
        } else { None };
        prop_assert!(near(c.standardized_alpha, std_alpha));
        // alpha if deleted = alpha of the other items (an independent recomputation)
        for j in 0..k {
            let others: Vec<Vec<f64>> = cols.iter().enumerate().filter(|(l, _)| *l != j).map(|(_, c)| c.clone()).collect();
            let want = if others.is_empty() { None } else { naive_alpha(&others) };
            prop_assert!(near(c.alpha_if_deleted[j], want), "item {}", j);
            if k >= 2 {
                let reduced = build_without(&m, j);
                prop_assert!(near(c.alpha_if_deleted[j], classical(&reduced).unwrap().cronbach_alpha));
            }
        }
        // SEM
        if let (Some(a), Some(sd)) = (c.cronbach_alpha, c.total_score.sd_sample) {
            prop_assert!(near(c.sem, Some(sd * (1.0 - a).sqrt())));
        }
        // quantiles and percentile ranks of the total
        let mut sorted = totals.clone();
        sorted.sort_by(f64::total_cmp);
        for (q, p) in c.score_distribution.quantile_probs.iter().enumerate() {
            prop_assert!((c.score_distribution.quantile_type7[q] - type7(&sorted, *p)).abs() < 1e-9);
            prop_assert_eq!(c.score_distribution.quantile_type1[q], type1(&sorted, *p));
        }
        for (s, pr) in c.score_distribution.percentile_rank_mid.iter().enumerate() {
            let below = totals.iter().filter(|t| **t < s as f64).count() as f64;
            let equal = totals.iter().filter(|t| **t == s as f64).count() as f64;
            prop_assert!((pr - 100.0 * (below + 0.5 * equal) / n as f64).abs() < 1e-9);
            prop_assert!((c.score_distribution.percentile_rank_le[s] - 100.0 * (below + equal) / n as f64).abs() < 1e-9);
        }
    }

    #[test]
    fn percentile_ranks_are_monotone(m in complete_matrix()) {
        let d = classical(&m).unwrap().score_distribution;
        for w in d.percentile_rank_mid.windows(2) { prop_assert!(w[0] <= w[1]); }
        for w in d.percentile_rank_le.windows(2) { prop_assert!(w[0] <= w[1]); }
        for (mid, le) in d.percentile_rank_mid.iter().zip(&d.percentile_rank_le) { prop_assert!(mid <= le); }
        prop_assert!((d.percentile_rank_le.last().unwrap() - 100.0).abs() < 1e-9);
    }

    #[test]
    fn discrimination_groups_match_a_sort(m in complete_matrix()) {
        let (n, k) = (m.n_persons(), m.n_items());
        let c = classical(&m).unwrap();
        let g = (0.27 * n as f64 + 0.5).floor() as usize;
        prop_assert_eq!(c.discrimination.n_group_rank, g);
        if g == 0 { return Ok(()); }
        let totals: Vec<usize> = (0..n).map(|i| (0..k).map(|j| m.get(i, j).unwrap() as usize).sum()).collect();
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by_key(|&i| (totals[i], i));
        let (lower, upper) = (&order[..g], &order[n - g..]);
        let lower_cut = totals[order[g - 1]];
        let upper_cut = totals[order[n - g]];
        prop_assert_eq!(c.discrimination.lower_cut_score, Some(lower_cut as u32));
        prop_assert_eq!(c.discrimination.upper_cut_score, Some(upper_cut as u32));
        for j in 0..k {
            let p = |grp: &[usize]| grp.iter().map(|&i| m.get(i, j).unwrap() as f64).sum::<f64>() / grp.len() as f64;
            prop_assert!((c.discrimination.disc_27_rank[j].unwrap() - (p(upper) - p(lower))).abs() < 1e-12);
            let up: Vec<usize> = (0..n).filter(|&i| totals[i] >= upper_cut).collect();
            let lo: Vec<usize> = (0..n).filter(|&i| totals[i] <= lower_cut).collect();
            prop_assert!((c.discrimination.disc_27_score[j].unwrap() - (p(&up) - p(&lo))).abs() < 1e-12);
        }
    }

    #[test]
    fn pairwise_matches_psych_definitions(m in missing_matrix()) {
        let (n, k) = (m.n_persons(), m.n_items());
        let pw = classical_pairwise(&m).unwrap();
        let val = |i: usize, j: usize| m.get(i, j).map(f64::from);
        // retained items: variance among available answers
        let kept: Vec<usize> = (0..k).filter(|&j| {
            let v: Vec<f64> = (0..n).filter_map(|i| val(i, j)).collect();
            v.len() >= 2 && var_sample(&v) > 1e-12
        }).collect();
        for j in 0..k {
            let v: Vec<f64> = (0..n).filter_map(|i| val(i, j)).collect();
            prop_assert_eq!(pw.n_valid[j], v.len());
            let want = if v.is_empty() { None } else { Some(mean(&v)) };
            prop_assert!(near(pw.p_value[j], want));
        }
        // pairwise-complete covariance and correlation, means over each pair's own persons
        let pair = |a: usize, b: usize| -> (Vec<f64>, Vec<f64>) {
            (0..n).filter_map(|i| Some((val(i, a)?, val(i, b)?))).unzip()
        };
        let kk = kept.len();
        let mut cov = vec![None; kk * kk];
        let mut cor = vec![None; kk * kk];
        for (p, &a) in kept.iter().enumerate() {
            for (q, &b) in kept.iter().enumerate() {
                let (u, v) = pair(a, b);
                if u.len() >= 2 {
                    let (mu, mv) = (mean(&u), mean(&v));
                    cov[p * kk + q] = Some(u.iter().zip(&v).map(|(x, y)| (x - mu) * (y - mv)).sum::<f64>() / (u.len() as f64 - 1.0));
                    cor[p * kk + q] = if a == b { Some(1.0) } else { pearson(&u, &v) };
                }
            }
        }
        let alpha_of = |idx: &[usize]| -> Option<f64> {
            if idx.len() < 2 { return None; }
            let (mut tr, mut sum) = (0.0, 0.0);
            for &p in idx { for &q in idx { let c = cov[p * kk + q]?; sum += c; if p == q { tr += c; } } }
            if sum.abs() <= 1e-9 * tr.abs() { return None; }
            let n = idx.len() as f64;
            let a = (1.0 - tr / sum) * n / (n - 1.0);
            a.is_finite().then_some(a)
        };
        let all: Vec<usize> = (0..kk).collect();
        prop_assert!(near(pw.cronbach_alpha, alpha_of(&all)));
        let std = if kk >= 2 {
            cor.iter().try_fold(0.0, |s, c| c.map(|c| s + c)).and_then(|s| {
                if s.abs() < 1e-9 { return None; }
                let a = (1.0 - kk as f64 / s) * kk as f64 / (kk as f64 - 1.0);
                a.is_finite().then_some(a)
            })
        } else { None };
        prop_assert!(near(pw.standardized_alpha, std));
        for (p, &j) in kept.iter().enumerate() {
            let rest: Vec<usize> = all.iter().copied().filter(|&q| q != p).collect();
            let want = if kk > 2 { alpha_of(&rest) } else { None };
            prop_assert!(near(pw.alpha_if_deleted[j], want), "alpha if deleted {}", j);
            // r.drop from the covariance matrix
            let r_drop = (|| {
                let cjj = cov[p * kk + p]?;
                let mut c_drop = 0.0;
                for &q in &rest { c_drop += cov[p * kk + q]?; }
                let mut v_drop = 0.0;
                for &a in &rest { for &b in &rest { v_drop += cov[a * kk + b]?; } }
                if v_drop <= 1e-9 { return None; }
                let r = c_drop / (cjj * v_drop).sqrt();
                r.is_finite().then_some(r)
            })();
            prop_assert!(near(pw.item_rest_r_cov[j], r_drop), "r.drop {}", j);
            // raw.r: pairwise r with the mean over answered retained items
            let (u, v): (Vec<f64>, Vec<f64>) = (0..n).filter_map(|i| {
                let xs: Vec<f64> = kept.iter().filter_map(|&l| val(i, l)).collect();
                if xs.is_empty() { return None; }
                Some((val(i, j)?, mean(&xs)))
            }).unzip();
            let raw_r = if u.len() >= 2 { pearson(&u, &v) } else { None };
            prop_assert!(near(pw.item_proportion_r[j], raw_r), "raw.r {}", j);
        }
        for j in (0..k).filter(|j| !kept.contains(j)) {
            prop_assert_eq!(pw.alpha_if_deleted[j], None);
            prop_assert_eq!(pw.item_proportion_r[j], None);
        }
    }
}

fn build_without(m: &ResponseMatrix, drop: usize) -> ResponseMatrix {
    let (n, k) = (m.n_persons(), m.n_items());
    let ids: Vec<String> =
        m.item_ids().iter().enumerate().filter(|(j, _)| *j != drop).map(|(_, s)| s.clone()).collect();
    let rows = (0..n).map(|i| (0..k).filter(|&j| j != drop).map(|j| m.get(i, j)).collect()).collect();
    ResponseMatrix::new(ids, rows).unwrap()
}
