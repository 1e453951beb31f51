//! Response-time statistics.

use serde::Serialize;

use crate::data::{TimeMatrix, MISSING_TIME};
use crate::stats::{finite, mean, quantiles7, sd_sample};

/// The `response_time` block. Item arrays follow item order; every statistic of an item uses
/// its non-missing times only. The log statistics are `null` for an item with a time of 0 ms.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResponseTimeStats {
    /// Mean time (ms).
    pub mean: Vec<Option<f64>>,
    /// Sample standard deviation (ms).
    pub sd_sample: Vec<Option<f64>>,
    /// Median (type 7).
    pub median: Vec<Option<f64>>,
    /// Type-7 quantiles at 0.1, 0.25, 0.5, 0.75, 0.9, one array per item.
    pub quantile_type7: Vec<Vec<Option<f64>>>,
    /// Mean of ln(ms).
    pub mean_log: Vec<Option<f64>>,
    /// Sample standard deviation of ln(ms).
    pub sd_log_sample: Vec<Option<f64>>,
    /// exp(mean_log).
    pub geometric_mean: Vec<Option<f64>>,
    /// Shortest time.
    pub min: Vec<Option<u32>>,
    /// Longest time.
    pub max: Vec<Option<u32>>,
    /// Per-person total time over the items with a time (persons with no time left out).
    pub person_total_time: PersonTotalTime,
}

/// Summary of the per-person total time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PersonTotalTime {
    /// Mean (ms).
    pub mean: Option<f64>,
    /// Sample standard deviation (ms).
    pub sd_sample: Option<f64>,
    /// Type-7 quantiles at 0.1, 0.25, 0.5, 0.75, 0.9.
    pub quantile_type7: Vec<Option<f64>>,
}

/// Computes the response-time block.
pub fn response_time_stats(t: &TimeMatrix) -> ResponseTimeStats {
    let k = t.item_ids().len();
    let n = t.n_persons();
    let flat = t.flat();
    let mut out = ResponseTimeStats {
        mean: Vec::with_capacity(k),
        sd_sample: Vec::with_capacity(k),
        median: Vec::with_capacity(k),
        quantile_type7: Vec::with_capacity(k),
        mean_log: Vec::with_capacity(k),
        sd_log_sample: Vec::with_capacity(k),
        geometric_mean: Vec::with_capacity(k),
        min: Vec::with_capacity(k),
        max: Vec::with_capacity(k),
        person_total_time: PersonTotalTime { mean: None, sd_sample: None, quantile_type7: vec![None; 5] },
    };
    let mut col: Vec<u32> = Vec::with_capacity(n);
    for j in 0..k {
        col.clear();
        col.extend((0..n).map(|i| flat[i * k + j]).filter(|&v| v != MISSING_TIME));
        col.sort_unstable();
        let values: Vec<f64> = col.iter().map(|&v| v as f64).collect();
        let q = quantiles7(&values);
        out.median.push(crate::stats::quantile_type7_sorted(&values, 0.5));
        out.quantile_type7.push(q);
        out.mean.push(mean(&values));
        out.sd_sample.push(sd_sample(&values));
        out.min.push(col.first().copied());
        out.max.push(col.last().copied());
        if col.first().is_some_and(|&v| v > 0) {
            let logs: Vec<f64> = values.iter().map(|v| v.ln()).collect();
            let ml = mean(&logs);
            out.mean_log.push(ml);
            out.sd_log_sample.push(sd_sample(&logs));
            out.geometric_mean.push(ml.and_then(|m| finite(m.exp())));
        } else {
            out.mean_log.push(None);
            out.sd_log_sample.push(None);
            out.geometric_mean.push(None);
        }
    }
    let mut totals: Vec<f64> = (0..n)
        .filter_map(|i| {
            let row = &flat[i * k..(i + 1) * k];
            let mut any = false;
            let mut sum = 0u64;
            for &v in row {
                if v != MISSING_TIME {
                    any = true;
                    sum += v as u64;
                }
            }
            any.then_some(sum as f64)
        })
        .collect();
    totals.sort_unstable_by(f64::total_cmp);
    out.person_total_time =
        PersonTotalTime { mean: mean(&totals), sd_sample: sd_sample(&totals), quantile_type7: quantiles7(&totals) };
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_and_person_summaries() {
        let t = TimeMatrix::from_csv("a,b\n1000,0\n2000,NA\n4000,30\nNA,NA\n").unwrap();
        let s = response_time_stats(&t);
        assert_eq!(s.min, [Some(1000), Some(0)]);
        assert_eq!(s.max, [Some(4000), Some(30)]);
        assert!((s.mean[0].unwrap() - 7000.0 / 3.0).abs() < 1e-9);
        assert_eq!(s.median[0], Some(2000.0));
        let gm = (1000f64 * 2000.0 * 4000.0).powf(1.0 / 3.0);
        assert!((s.geometric_mean[0].unwrap() - gm).abs() < 1e-9);
        assert_eq!(s.mean_log[1], None, "a 0 ms time has no logarithm");
        // totals: 1000, 2000, 4030 (the person with no times is left out)
        assert!((s.person_total_time.mean.unwrap() - 7030.0 / 3.0).abs() < 1e-9);
        assert_eq!(s.person_total_time.quantile_type7[2], Some(2000.0));
    }
}
