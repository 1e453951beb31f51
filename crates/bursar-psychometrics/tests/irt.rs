//! IRT on generated data: recovery of known parameters, determinism, and the two Hessian
//! accumulation paths.

use bursar_psychometrics::{
    calibrate, generate_2pl, internals, random_item_parameters, Calibration, FitSettings, GenSpec, IrtModel,
    ResponseMatrix, MISSING,
};

/// Recovery of known 2PL parameters on 5,000 × 40.
///
/// Tolerance: with 5,000 persons the sampling SE of a slope is about 0.03–0.08 and of an
/// intercept about 0.03–0.06, so estimates are checked item by item against 4 of their own
/// reported standard errors (a miss would be a 1-in-15,000 event per parameter), and in the
/// aggregate: mean absolute error below 0.05. A wrong likelihood, gradient or scale would
/// fail both by far. The SEs are themselves checked against the spread of the errors: the
/// root mean square of the z-scores must lie in [0.7, 1.3].
#[test]
fn recovers_known_2pl_parameters() {
    let (a, d) = random_item_parameters(40, 9);
    let spec = GenSpec { n_persons: 5000, a: a.clone(), d: d.clone(), missing_rate: 0.0, seed: 2024, times: None };
    let g = generate_2pl(&spec).unwrap();
    let fit = calibrate(&g.responses, IrtModel::TwoPl, &FitSettings::default()).unwrap();
    assert!(fit.converged);
    assert_eq!(fit.items.len(), 40);
    let se_a = fit.se_a.as_ref().unwrap();
    let se_d = fit.se_d.as_ref().unwrap();
    let mut sum_err = 0.0;
    let mut sum_z2 = 0.0;
    for j in 0..40 {
        let (ea, ed) = (fit.calibration.a[j] - a[j], fit.calibration.d[j] - d[j]);
        let (sa, sd) = (se_a[j].unwrap(), se_d[j].unwrap());
        assert!(ea.abs() < 4.0 * sa, "item {j}: a {} vs {} (se {sa})", fit.calibration.a[j], a[j]);
        assert!(ed.abs() < 4.0 * sd, "item {j}: d {} vs {} (se {sd})", fit.calibration.d[j], d[j]);
        sum_err += ea.abs() + ed.abs();
        sum_z2 += (ea / sa).powi(2) + (ed / sd).powi(2);
    }
    assert!(sum_err / 80.0 < 0.05, "mean absolute error {}", sum_err / 80.0);
    let rms_z = (sum_z2 / 80.0).sqrt();
    assert!((0.7..1.3).contains(&rms_z), "rms z {rms_z}");
    // EAPs track the true abilities
    let n = g.theta.len() as f64;
    let (mt, me) = (g.theta.iter().sum::<f64>() / n, fit.eap.iter().sum::<f64>() / n);
    let cov: f64 = g.theta.iter().zip(&fit.eap).map(|(t, e)| (t - mt) * (e - me)).sum();
    let vt: f64 = g.theta.iter().map(|t| (t - mt).powi(2)).sum();
    let ve: f64 = fit.eap.iter().map(|e| (e - me).powi(2)).sum();
    assert!(cov / (vt * ve).sqrt() > 0.95);
}

#[test]
fn results_do_not_depend_on_the_number_of_threads() {
    // more than one chunk of patterns (chunks hold 2,048)
    let (a, d) = random_item_parameters(12, 3);
    let spec = GenSpec { n_persons: 6000, a, d, missing_rate: 0.1, seed: 5, times: None };
    let m = generate_2pl(&spec).unwrap().responses;
    let one = calibrate(&m, IrtModel::TwoPl, &FitSettings { threads: 1, ..FitSettings::default() }).unwrap();
    let three = calibrate(&m, IrtModel::TwoPl, &FitSettings { threads: 3, ..FitSettings::default() }).unwrap();
    assert_eq!(one.calibration, three.calibration);
    assert_eq!(one.loglik.to_bits(), three.loglik.to_bits());
    assert_eq!(one.se_a, three.se_a);
    assert_eq!(one.eap, three.eap);
}

#[test]
fn both_hessian_paths_give_the_same_standard_errors() {
    let m = ResponseMatrix::from_csv(include_str!("data/lsat7.csv")).unwrap();
    for model in IrtModel::ALL {
        let fast = calibrate(&m, model, &FitSettings::default()).unwrap();
        let general = internals::calibrate_with_general_hessian(&m, model, &FitSettings::default()).unwrap();
        for (x, y) in [(&fast.se_a, &general.se_a), (&fast.se_d, &general.se_d), (&fast.se_b, &general.se_b)] {
            for (u, v) in x.as_ref().unwrap().iter().zip(y.as_ref().unwrap()) {
                match (u, v) {
                    (Some(u), Some(v)) => assert!((u - v).abs() < 1e-10, "{model}: {u} vs {v}"),
                    (None, None) => {}
                    other => panic!("{model}: {other:?}"),
                }
            }
        }
    }
}

#[test]
fn stored_calibration_scores_match_the_fit() {
    let (a, d) = random_item_parameters(8, 4);
    let spec = GenSpec { n_persons: 800, a, d, missing_rate: 0.2, seed: 8, times: None };
    let m = generate_2pl(&spec).unwrap().responses;
    let fit = calibrate(&m, IrtModel::TwoPl, &FitSettings::default()).unwrap();
    // a stored calibration (round-tripped through JSON) scores persons like the fit did
    let json = serde_json::to_string(&fit.calibration).unwrap();
    let stored: Calibration = serde_json::from_str(&json).unwrap();
    for i in 0..50 {
        let resp: Vec<Option<u8>> = fit.items.iter().map(|&j| m.get(i, j)).collect();
        let s = stored.score(&resp).unwrap();
        assert!((s.eap - fit.eap[i]).abs() < 1e-12, "person {i}");
        assert!((s.eap_psd - fit.eap_psd[i]).abs() < 1e-12);
        assert!(s.map_se < s.eap_psd + 0.2 && s.map_se > 0.0);
    }
    let broken = Calibration { latent_var: -1.0, ..stored.clone() };
    assert!(broken.score(&[None; 8]).is_err());
    let short = Calibration { d: vec![0.0], ..stored };
    assert!(short.score(&[None; 8]).is_err());
    let mut flat = m.row(0).to_vec();
    flat[0] = 7;
    assert!(fit.calibration.score_flat(&flat).is_err());
    assert_eq!(MISSING, 255);
}
