//! LSAT6 and LSAT7 (Bock & Lieberman 1970; rows in the order of R mirt's `expand.table`)
//! against published values: Rizopoulos (2006, the ltm paper) for LSAT6, and the values in
//! R mirt's own test suite for LSAT7, each with the tolerance its source supports.

use bursar_psychometrics::{
    analyze, calibrate, Dataset, FitSettings, IrtModel, MlStatus, Options, Phase, Progress, Report, ResponseMatrix,
};

fn lsat(name: &str) -> ResponseMatrix {
    let text = match name {
        "lsat6" => include_str!("data/lsat6.csv"),
        _ => include_str!("data/lsat7.csv"),
    };
    ResponseMatrix::from_csv(text).expect("csv")
}

fn report(name: &str) -> Report {
    analyze(&Dataset::new(name, lsat(name)), &Options::default()).expect("analyze")
}

fn close(got: f64, want: f64, tol: f64, what: &str) {
    assert!((got - want).abs() <= tol, "{what}: got {got}, want {want} (tolerance {tol})");
}

fn all_close(got: &[f64], want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (j, (g, w)) in got.iter().zip(want).enumerate() {
        close(*g, *w, tol, &format!("{what}[{j}]"));
    }
}

fn some(v: &[Option<f64>]) -> Vec<f64> {
    v.iter().map(|x| x.expect("defined")).collect()
}

#[test]
fn lsat6_classical() {
    let r = report("lsat6");
    let c = &r.classical;
    all_close(&c.p_value, &[0.924, 0.709, 0.553, 0.763, 0.870], 1e-12, "p-values");
    assert_eq!(c.score_distribution.freq, [3, 20, 85, 237, 357, 298]);
    assert_eq!(c.n_valid, [1000; 5]);
    assert!(r.classical_pairwise.is_none(), "no missing data, no pairwise block");
}

#[test]
fn lsat6_one_parameter_models() {
    let r = report("lsat6");
    // 1PL with a = 1 and var = 1 (ltm paper): b, SEs and loglik
    let m = r.model(IrtModel::OnePlA1Var1).expect("1pl");
    all_close(&some(&m.b), &[-2.8720, -1.0630, -0.2576, -1.3881, -2.2188], 1e-3, "1pl b");
    let se_b = some(m.se_b.as_ref().expect("se"));
    all_close(&se_b, &[0.1287, 0.0821, 0.0766, 0.0865, 0.1048], 2e-3, "1pl se_b");
    close(m.loglik, -2473.054, 1e-3, "1pl loglik");
    assert_eq!(m.n_free_parameters, 5);
    assert!(m.converged);
    assert!(m.se_a.as_ref().unwrap().iter().all(Option::is_none), "fixed slopes have no SE");

    // Rasch with the latent variance estimated, re-expressed with a common slope
    let m = r.model(IrtModel::Rasch).expect("rasch");
    let cs = m.common_slope_param.as_ref().expect("common slope");
    close(cs.a_common, 0.7551, 1e-3, "a_common");
    all_close(&cs.b, &[-3.6153, -1.3224, -0.3176, -1.7301, -2.7802], 1e-3, "rasch b (common slope)");
    close(m.loglik, -2466.938, 1e-3, "rasch loglik");
    close(cs.a_common * cs.a_common, m.latent_var, 1e-12, "a_common² = var");
    // mirt's test suite (tolerance 1e-2): d and the latent variance
    all_close(&m.d, &[2.73, 0.999, 0.24, 1.306, 2.099], 1e-2, "rasch d (mirt)");
    close(m.latent_var, 0.57, 1e-2, "rasch var (mirt)");
    assert_eq!(m.n_free_parameters, 6);
    close(m.aic, -2.0 * m.loglik + 12.0, 1e-9, "aic");
    close(m.bic, -2.0 * m.loglik + 6.0 * 1000f64.ln(), 1e-9, "bic");
}

#[test]
fn lsat6_two_parameter_model() {
    let r = report("lsat6");
    let m = r.model(IrtModel::TwoPl).expect("2pl");
    // ltm used 21 Gauss–Hermite nodes, so agreement is to about 0.01
    close(m.loglik, -2466.65, 1e-2, "2pl loglik");
    all_close(&m.a, &[0.825, 0.723, 0.890, 0.689, 0.657], 1e-2, "2pl a");
    all_close(&some(&m.b), &[-3.360, -1.370, -0.280, -1.866, -3.124], 1e-2, "2pl b");
    // mirt's QMCEM fit of the same model (tolerance 1e-4 relative)
    close(m.loglik, -2466.653, 2466.653 * 1e-4, "2pl loglik (mirt)");
    assert_eq!(r.irt_items.as_deref().unwrap(), ["Item.1", "Item.2", "Item.3", "Item.4", "Item.5"]);
}

#[test]
fn lsat7_two_parameter_model_and_reliability() {
    let r = report("lsat7");
    let m = r.model(IrtModel::TwoPl).expect("2pl");
    // mirt's test suite, default TOL, tolerance 1e-2
    all_close(&m.a, &[0.988, 1.081, 1.706, 0.7651, 0.7358], 1e-2, "2pl a");
    all_close(&m.d, &[1.8561, 0.808, 1.8043, 0.486, 1.8545], 1e-2, "2pl d");
    close(m.loglik, -2658.805, 1e-3, "2pl loglik");
    let c = &r.classical;
    close(c.cronbach_alpha.unwrap(), 0.4534, 5e-5, "alpha");
    close(c.kr20.unwrap(), 0.4534, 5e-5, "kr20");
    close(c.kr21.unwrap(), 0.4150, 5e-5, "kr21");
}

#[test]
fn lsat7_standard_errors_match_mirt_richardson_intervals() {
    // mirt test suite: SE.type = "Richardson" 95 % intervals (a and d of each item);
    // SE = (upper − lower) / (2 · 1.959964)
    let intervals = [
        ((0.6406, 1.3354), (1.5984, 2.1138)),
        ((0.7501, 1.4119), (0.6291, 0.9869)),
        ((1.0779, 2.334), (1.4036, 2.205)),
        ((0.5022, 1.028), (0.3392, 0.6328)),
        ((0.4395, 1.032), (1.6302, 2.0787)),
    ];
    let r = report("lsat7");
    let m = r.model(IrtModel::TwoPl).unwrap();
    let se_a = some(m.se_a.as_ref().unwrap());
    let se_d = some(m.se_d.as_ref().unwrap());
    for (j, ((al, ah), (dl, dh))) in intervals.iter().enumerate() {
        close(se_a[j], (ah - al) / (2.0 * 1.959964), 3e-3, &format!("se_a[{j}]"));
        close(se_d[j], (dh - dl) / (2.0 * 1.959964), 3e-3, &format!("se_d[{j}]"));
    }
    // se_b by the delta method from the same covariance is positive and finite
    assert!(m.se_b.as_ref().unwrap().iter().all(|v| v.is_some_and(|x| x > 0.0)));
}

#[test]
fn lsat7_person_scores_match_mirt() {
    let r = report("lsat7");
    let m = r.model(IrtModel::TwoPl).unwrap();
    let pe = m.pattern_eap.as_ref().expect("pattern EAPs for a small set");
    assert_eq!(pe.freq.iter().sum::<u64>(), 1000);
    assert_eq!(&pe.pattern[..4], ["00000", "00001", "00010", "00011"]);
    // mirt test suite (fscores, full.scores = FALSE, tolerance 1e-2): EAP and MAP of the
    // first six patterns
    all_close(&pe.eap[..6], &[-1.8665957, -1.5266920, -1.5134024, -1.1852276, -1.0946830, -0.7666992], 1e-2, "EAP");
    // person 1 has pattern 00000: MAP −1.8165552, ML −inf
    close(m.scores.map[0], -1.8165552, 1e-2, "MAP");
    assert_eq!(m.scores.ml_status[0], MlStatus::MinusInfinity);
    assert_eq!(m.scores.ml[0], None);
    assert_eq!(m.scores.persons, (1..=20).collect::<Vec<_>>());
    // the last person answered everything correctly
    let fit = calibrate(&lsat("lsat7"), IrtModel::TwoPl, &FitSettings::default()).unwrap();
    let last = fit.calibration.score(&[Some(1); 5]).unwrap();
    assert_eq!(last.ml_status, MlStatus::PlusInfinity);
    close(last.eap, *pe.eap.last().unwrap(), 1e-12, "EAP of 11111 by the scoring API");
}

#[test]
fn lsat7_ml_under_equal_slopes_matches_mirt() {
    // mirt fits 'CONSTRAIN = (1-5, a1)' (equal slopes, var 1), the Rasch model re-expressed
    // with a common slope; its ML scores for rows 13, 34, 40 are −2.783489, −1.750890,
    // −2.783489 (tolerance 1e-2). On the common-slope scale θ* = θ / a_common.
    let m = lsat("lsat7");
    let fit = calibrate(&m, IrtModel::Rasch, &FitSettings::default()).unwrap();
    let a_common = fit.calibration.latent_var.sqrt();
    close(a_common, 1.011, 1e-2, "a_common (mirt 1.011)");
    for (row, want) in [(13, -2.783489), (34, -1.750890), (40, -2.783489)] {
        let resp: Vec<Option<u8>> = (0..5).map(|j| m.get(row - 1, j)).collect();
        let s = fit.calibration.score(&resp).unwrap();
        close(s.ml.unwrap() / a_common, want, 1e-2, &format!("ML row {row}"));
    }
}

#[test]
fn lsat7_with_missing_responses_matches_mirt() {
    // mirt test suite: data[1,1] <- data[2,2] <- NA, 2PL, tolerance 1e-2
    let m = lsat("lsat7");
    let mut flat = m.as_flat().to_vec();
    flat[0] = bursar_psychometrics::MISSING;
    flat[5 + 1] = bursar_psychometrics::MISSING;
    let m = ResponseMatrix::from_flat(m.item_ids().to_vec(), 1000, flat).unwrap();
    let r = analyze(&Dataset::new("lsat7-na", m), &Options::default()).unwrap();
    let fit = r.model(IrtModel::TwoPl).unwrap();
    all_close(&fit.a, &[0.969, 1.074, 1.717, 0.763, 0.731], 1e-2, "a with NA");
    all_close(&fit.d, &[1.851, 0.808, 1.811, 0.486, 1.852], 1e-2, "d with NA");
    let pw = r.classical_pairwise.as_ref().expect("pairwise block with missing data");
    assert_eq!(pw.n_valid, [999, 999, 1000, 1000, 1000]);
    assert!(fit.se_a.as_ref().unwrap().iter().all(Option::is_some));
}

/// A fit reports where it is: the cycles it took and, at the end, the last
/// phase, without changing any estimate.
#[test]
fn a_watched_fit_reports_its_cycles_and_ends_finishing() {
    let m = lsat("lsat7");
    let progress = Progress::new();
    let mut opts = Options { models: vec![IrtModel::TwoPl], ..Options::default() };
    opts.fit.progress = Some(progress.clone());
    let watched = analyze(&Dataset::new("lsat7", m.clone()), &opts).expect("analyze");
    let plain = analyze(&Dataset::new("lsat7", m), &Options { models: vec![IrtModel::TwoPl], ..Options::default() })
        .expect("analyze");
    let s = progress.read();
    assert_eq!(s.phase, Phase::Finishing);
    let fit = watched.model(IrtModel::TwoPl).expect("2pl");
    assert_eq!(s.cycle as usize, fit.em_cycles);
    assert!(s.change < 1e-8 && s.convergence() == 1.0, "{s:?}");
    assert_eq!(fit.a, plain.model(IrtModel::TwoPl).expect("2pl").a);
}
