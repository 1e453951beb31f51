//! Degenerate inputs: no panics, `null` where a statistic is undefined, and the JSON shape.

use bursar_psychometrics::{
    analyze, generate_2pl, item_flags, random_item_parameters, Cohorts, Dataset, FlagThresholds, GenSpec, IrtModel,
    ItemFlag, MlStatus, Options, PersonSelection, ResponseMatrix, TimeMatrix,
};
use serde_json::Value;

fn matrix(rows: &[Vec<Option<u8>>]) -> ResponseMatrix {
    let k = rows[0].len();
    ResponseMatrix::new((1..=k).map(|j| format!("q{j}")).collect(), rows.to_vec()).unwrap()
}

fn json(ds: &Dataset, opts: &Options) -> (Value, String) {
    let r = analyze(ds, opts).unwrap();
    let text = r.to_json_string().unwrap();
    (serde_json::from_str(&text).unwrap(), text)
}

/// Whether `needles` occur in this order in `text`.
fn in_order(text: &str, needles: &[&str]) -> bool {
    let pos: Vec<usize> = needles.iter().map(|n| text.find(n).expect(n)).collect();
    pos.windows(2).all(|w| w[0] < w[1])
}

fn keys(v: &Value) -> Vec<&str> {
    v.as_object().unwrap().keys().map(String::as_str).collect()
}

#[test]
fn report_has_the_spec_field_names() {
    let (a, d) = random_item_parameters(6, 1);
    let mut g = generate_2pl(&GenSpec { n_persons: 300, a, d, missing_rate: 0.05, seed: 3, times: None }).unwrap();
    let times = TimeMatrix::new(
        g.responses.item_ids().to_vec(),
        (0..300).map(|i| (0..6).map(|j| Some(1000 + 10 * ((i * 7 + j * 13) % 50) as u32)).collect()).collect(),
    )
    .unwrap();
    let cohorts = Cohorts::new((0..300).map(|i| Some(if i % 3 == 0 { "b" } else { "a" }.to_string())).collect());
    let ds = Dataset::new("gen", std::mem::replace(&mut g.responses, ResponseMatrix::from_csv("x\n1\n").unwrap()))
        .with_times(times)
        .unwrap()
        .with_cohorts(cohorts)
        .unwrap();
    let (v, text) = json(&ds, &Options::default());
    let mut top = keys(&v);
    top.sort_unstable();
    assert_eq!(
        top,
        [
            "classical",
            "classical_pairwise",
            "cohorts",
            "dataset",
            "irt",
            "irt_items",
            "items",
            "n_items",
            "n_persons",
            "response_time",
            "schema"
        ]
    );
    assert_eq!(v["schema"], "bursar-psychometrics/1");
    let c = &v["classical"];
    for k in [
        "n_persons",
        "n_items",
        "n_valid",
        "p_value",
        "item_var_pop",
        "point_biserial",
        "corrected_item_total",
        "discrimination",
        "kr20",
        "kr21",
        "kr21_sample_var",
        "cronbach_alpha",
        "cronbach_alpha_nonconstant",
        "standardized_alpha",
        "alpha_if_deleted",
        "total_score",
        "sem",
        "score_distribution",
    ] {
        assert!(c.get(k).is_some(), "classical.{k}");
    }
    for k in [
        "n_group_rank",
        "disc_27_rank",
        "p_upper_rank",
        "p_lower_rank",
        "upper_cut_score",
        "lower_cut_score",
        "n_upper_score",
        "n_lower_score",
        "disc_27_score",
    ] {
        assert!(c["discrimination"].get(k).is_some(), "discrimination.{k}");
    }
    for k in ["mean", "sd_sample", "sd_pop", "min", "max", "median"] {
        assert!(c["total_score"].get(k).is_some(), "total_score.{k}");
    }
    for k in [
        "scores",
        "freq",
        "percentile_rank_mid",
        "percentile_rank_le",
        "quantile_probs",
        "quantile_type7",
        "quantile_type1",
    ] {
        assert!(c["score_distribution"].get(k).is_some(), "score_distribution.{k}");
    }
    let mut pw = keys(&v["classical_pairwise"]);
    pw.sort_unstable();
    assert_eq!(
        pw,
        [
            "alpha_if_deleted",
            "cronbach_alpha",
            "item_proportion_r",
            "item_rest_r_cov",
            "n_valid",
            "p_value",
            "standardized_alpha"
        ]
    );
    assert_eq!(keys(&v["irt"]).len(), 3);
    assert!(in_order(&text, &["\"2pl\":{", "\"rasch\":{", "\"1pl_a1_var1\":{"]), "models in report order");
    for (name, m) in v["irt"].as_object().unwrap() {
        for k in [
            "a",
            "d",
            "b",
            "se_a",
            "se_d",
            "se_b",
            "latent_mean",
            "latent_var",
            "loglik",
            "aic",
            "bic",
            "scores",
            "n_free_parameters",
            "converged",
            "em_cycles",
            "elapsed_s",
        ] {
            assert!(m.get(k).is_some(), "{name}.{k}");
        }
        assert_eq!(m.get("common_slope_param").is_some(), name == "rasch");
        for k in ["persons", "eap", "eap_psd", "map", "map_se", "ml", "ml_se", "ml_status", "eap_all_summary"] {
            assert!(m["scores"].get(k).is_some(), "{name}.scores.{k}");
        }
        for k in ["mean", "sd_sample", "mean_psd"] {
            assert!(m["scores"]["eap_all_summary"].get(k).is_some());
        }
        assert_eq!(m["scores"]["persons"].as_array().unwrap().len(), 20);
    }
    let rt = &v["response_time"];
    for k in [
        "mean",
        "sd_sample",
        "median",
        "quantile_type7",
        "mean_log",
        "sd_log_sample",
        "geometric_mean",
        "min",
        "max",
        "person_total_time",
    ] {
        assert!(rt.get(k).is_some(), "response_time.{k}");
    }
    assert_eq!(keys(&v["cohorts"]["cohorts"]).len(), 2);
    assert!(in_order(&text, &["\"b\":{\"n\"", "\"a\":{\"n\""]), "cohorts in order of first appearance");
    let b = &v["cohorts"]["cohorts"]["b"];
    for k in ["n", "mean_total", "sd_total_sample", "quantile_type7", "p_value", "mean_eap_2pl", "cohort_mean_pr_mid"] {
        assert!(b.get(k).is_some(), "cohort.{k}");
    }
    assert_eq!(b["n"], 100);
}

#[test]
fn item_everyone_answers_correctly_and_a_person_with_all_wrong() {
    // item q1 is answered correctly by all; person 1 answers everything else wrongly
    let rows: Vec<Vec<Option<u8>>> = (0..60)
        .map(|i| {
            let mut r = vec![Some(1)];
            r.extend((0..4).map(|j| Some(if i == 0 { 0 } else { ((i * (j + 3) + j) % 5 < 3) as u8 })));
            r
        })
        .collect();
    let ds = Dataset::new("edge", matrix(&rows));
    let r = analyze(&ds, &Options::default()).unwrap();
    let c = &r.classical;
    assert_eq!(c.p_value[0], 1.0);
    assert_eq!(c.point_biserial[0], None);
    assert_eq!(c.corrected_item_total[0], None);
    assert!(c.cronbach_alpha.is_some() && c.cronbach_alpha_nonconstant.is_some());
    assert_ne!(c.cronbach_alpha, c.cronbach_alpha_nonconstant, "k differs");
    assert_eq!(r.irt_items.as_deref().unwrap(), ["q2", "q3", "q4", "q5"]);
    let m = r.model(IrtModel::TwoPl).unwrap();
    assert_eq!(m.a.len(), 4);
    assert_eq!(m.scores.ml_status[0], MlStatus::MinusInfinity);
    assert_eq!(m.scores.ml[0], None);
    assert_eq!(m.scores.ml_se[0], None);
    let v: Value = serde_json::from_str(&r.to_json_string().unwrap()).unwrap();
    assert_eq!(v["irt"]["2pl"]["scores"]["ml"][0], Value::Null);
    assert_eq!(v["irt"]["2pl"]["scores"]["ml_status"][0], "-inf");
    assert_eq!(v["classical"]["point_biserial"][0], Value::Null);
    let flags = item_flags(&r, &FlagThresholds::default()).unwrap();
    assert!(flags[0].flags.contains(&ItemFlag::TooEasy));
    assert!(flags[0].flags.contains(&ItemFlag::NoVariance));
}

#[test]
fn heavy_missing_data() {
    let (a, d) = random_item_parameters(10, 5);
    let g = generate_2pl(&GenSpec { n_persons: 1500, a, d, missing_rate: 0.4, seed: 6, times: None }).unwrap();
    let r = analyze(&Dataset::new("missing", g.responses.clone()), &Options::default()).unwrap();
    let text = r.to_json_string().unwrap();
    assert!(!text.contains("NaN"), "non-finite numbers are written as null");
    let pw = r.classical_pairwise.as_ref().unwrap();
    for j in 0..10 {
        let answered: Vec<u8> = (0..1500).filter_map(|i| g.responses.get(i, j)).collect();
        assert_eq!(pw.n_valid[j], answered.len());
        let p = answered.iter().map(|&x| x as f64).sum::<f64>() / answered.len() as f64;
        assert!((pw.p_value[j].unwrap() - p).abs() < 1e-12);
        // classical scores missing as 0
        assert!(r.classical.p_value[j] < pw.p_value[j].unwrap());
    }
    assert!(pw.cronbach_alpha.unwrap() > 0.3);
    for model in IrtModel::ALL {
        let m = r.model(model).unwrap();
        assert!(m.converged, "{model}");
        assert!(m.se_d.as_ref().unwrap().iter().all(Option::is_some));
    }
}

#[test]
fn one_item() {
    let rows: Vec<Vec<Option<u8>>> = (0..40).map(|i| vec![Some((i % 3 == 0) as u8)]).collect();
    let r = analyze(&Dataset::new("one item", matrix(&rows)), &Options::default()).unwrap();
    let c = &r.classical;
    assert_eq!(c.kr20, None);
    assert_eq!(c.kr21, None);
    assert_eq!(c.cronbach_alpha, None);
    assert_eq!(c.standardized_alpha, None);
    assert_eq!(c.alpha_if_deleted, vec![None]);
    assert_eq!(c.sem, None);
    assert_eq!(c.point_biserial, vec![Some(1.0)]);
    assert_eq!(c.corrected_item_total, vec![None], "the rest score is constant");
    let m = r.model(IrtModel::OnePlA1Var1).unwrap();
    assert!(m.converged);
    // one item, slope 1, var 1: the fitted marginal probability equals the observed p
    let p_obs = c.p_value[0];
    let nodes = bursar_psychometrics::node_values();
    let w: Vec<f64> = nodes.iter().map(|t| (-t * t / 2.0).exp()).collect();
    let sw: f64 = w.iter().sum();
    let p_fit: f64 = nodes.iter().zip(&w).map(|(t, w)| w / sw / (1.0 + (-(t + m.d[0])).exp())).sum();
    assert!((p_fit - p_obs).abs() < 1e-9);
    assert!(r.to_json_string().is_ok());
}

#[test]
fn one_person() {
    let r = analyze(&Dataset::new("one", matrix(&[vec![Some(1), Some(0), None]])), &Options::default()).unwrap();
    let c = &r.classical;
    assert_eq!(c.total_score.sd_sample, None);
    assert_eq!(c.total_score.sd_pop, 0.0);
    assert_eq!(c.discrimination.n_group_rank, 0);
    assert_eq!(c.discrimination.disc_27_rank, vec![None; 3]);
    assert_eq!(c.kr20, None);
    assert_eq!(c.kr21_sample_var, None);
    assert!(r.irt.is_none(), "no item has both answers");
    assert_eq!(r.irt_items.as_deref().unwrap(), Vec::<String>::new());
    let pw = r.classical_pairwise.as_ref().unwrap();
    assert_eq!(pw.cronbach_alpha, None);
    let v: Value = serde_json::from_str(&r.to_json_string().unwrap()).unwrap();
    assert!(v.get("irt").is_none());
    assert_eq!(v["classical"]["total_score"]["sd_sample"], Value::Null);
}

#[test]
fn rejects_what_it_cannot_analyse() {
    let empty = ResponseMatrix::from_csv("a,b\n").unwrap();
    assert!(analyze(&Dataset::new("empty", empty), &Options::default()).is_err());
    let m = matrix(&[vec![Some(1), Some(0)], vec![Some(0), Some(1)]]);
    let opts = Options { persons: PersonSelection::Rows(vec![3]), ..Options::default() };
    assert!(analyze(&Dataset::new("rows", m.clone()), &opts).is_err());
    let opts = Options { models: vec![], ..Options::default() };
    let r = analyze(&Dataset::new("no irt", m), &opts).unwrap();
    assert!(r.irt.is_none() && r.irt_items.is_none());
    let bad = FlagThresholds { slow_ratio: f64::NAN, ..FlagThresholds::default() };
    assert!(item_flags(&r, &bad).is_err());
}

#[test]
fn persons_selection_and_flags() {
    let (mut a, d) = random_item_parameters(8, 12);
    a[3] = -1.2; // a reversed item
    let spec = GenSpec {
        n_persons: 1200,
        a,
        d,
        missing_rate: 0.0,
        seed: 13,
        times: Some(bursar_psychometrics::TimeSpec {
            median_ms: vec![30_000.0, 30_000.0, 5_000.0, 30_000.0, 30_000.0, 120_000.0, 30_000.0, 30_000.0],
            speed_sd: 0.3,
            residual_sd: 0.4,
        }),
    };
    let g = generate_2pl(&spec).unwrap();
    let ds = Dataset::new("flags", g.responses).with_times(g.times.unwrap()).unwrap();
    let opts =
        Options { persons: PersonSelection::Rows(vec![5, 2]), models: vec![IrtModel::TwoPl], ..Options::default() };
    let r = analyze(&ds, &opts).unwrap();
    assert_eq!(r.model(IrtModel::TwoPl).unwrap().scores.persons, [5, 2]);
    assert!(r.model(IrtModel::Rasch).is_none());
    assert!(r.model(IrtModel::TwoPl).unwrap().a[3] < 0.0, "the reversed item gets a negative slope");
    let flags = item_flags(&r, &FlagThresholds::default()).unwrap();
    assert!(flags[3].flags.contains(&ItemFlag::NegativeDiscrimination));
    assert!(flags[3].flags.contains(&ItemFlag::AlphaIfDeletedRises));
    assert!(flags[2].flags.contains(&ItemFlag::FastResponses));
    assert!(flags[5].flags.contains(&ItemFlag::SlowResponses));
    assert!(!flags[0].flags.contains(&ItemFlag::FastResponses));
    let all =
        analyze(&ds, &Options { persons: PersonSelection::All, models: vec![IrtModel::OnePlA1Var1], ..opts }).unwrap();
    assert_eq!(all.model(IrtModel::OnePlA1Var1).unwrap().scores.eap.len(), 1200);
}

#[test]
fn cohort_benchmarks_match_direct_computation() {
    let (a, d) = random_item_parameters(5, 21);
    let g = generate_2pl(&GenSpec { n_persons: 400, a, d, missing_rate: 0.1, seed: 22, times: None }).unwrap();
    let m = g.responses;
    let labels: Vec<Option<String>> =
        (0..400).map(|i| if i % 7 == 0 { None } else { Some(["x", "y", "z"][i % 3].to_string()) }).collect();
    let ds = Dataset::new("cohorts", m.clone()).with_cohorts(Cohorts::new(labels.clone())).unwrap();
    let r = analyze(&ds, &Options { models: vec![IrtModel::TwoPl], ..Options::default() }).unwrap();
    let totals: Vec<f64> = (0..400).map(|i| (0..5).map(|j| m.get(i, j).unwrap_or(0) as f64).sum()).collect();
    let eap = bursar_psychometrics::calibrate(&m, IrtModel::TwoPl, &bursar_psychometrics::FitSettings::default())
        .unwrap()
        .eap;
    let cohorts = &r.cohorts.as_ref().unwrap().cohorts.0;
    assert_eq!(cohorts.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(), ["y", "z", "x"]);
    for (name, c) in cohorts {
        let members: Vec<usize> = (0..400).filter(|&i| labels[i].as_deref() == Some(name.as_str())).collect();
        assert_eq!(c.n, members.len());
        let mean = members.iter().map(|&i| totals[i]).sum::<f64>() / members.len() as f64;
        assert!((c.mean_total - mean).abs() < 1e-12);
        let var = members.iter().map(|&i| (totals[i] - mean).powi(2)).sum::<f64>() / (members.len() - 1) as f64;
        assert!((c.sd_total_sample.unwrap() - var.sqrt()).abs() < 1e-12);
        for j in 0..5 {
            let p = members.iter().filter(|&&i| m.get(i, j) == Some(1)).count() as f64 / members.len() as f64;
            assert!((c.p_value[j] - p).abs() < 1e-12);
        }
        let below = totals.iter().filter(|&&t| t < mean).count() as f64;
        let equal = totals.iter().filter(|&&t| t == mean).count() as f64;
        assert!((c.cohort_mean_pr_mid - 100.0 * (below + 0.5 * equal) / 400.0).abs() < 1e-12);
        let mean_eap = members.iter().map(|&i| eap[i]).sum::<f64>() / members.len() as f64;
        assert!((c.mean_eap_2pl.unwrap() - mean_eap).abs() < 1e-12);
        let mut sorted: Vec<f64> = members.iter().map(|&i| totals[i]).collect();
        sorted.sort_by(f64::total_cmp);
        assert_eq!(c.quantile_type7[2], bursar_psychometrics::quantile_type7_sorted(&sorted, 0.5));
    }
}
