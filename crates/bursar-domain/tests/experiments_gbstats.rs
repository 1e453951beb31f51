//! The experiments engine against published numbers.
//!
//! Most expectations are the inputs and expected outputs of GrowthBook's
//! `gbstats` test suite (`packages/stats/tests/…`, named at each test); they
//! are rounded there to 5 decimals (9 for `test_gbstats.py`), so they are
//! compared here within half a unit of that last decimal. Cases marked
//! "gbstats output" are `gbstats`' own results (its `TwoSidedTTest`,
//! `SequentialTwoSidedTTest`, `EffectBayesianABTest` and `check_srm`) for the
//! inputs shown, computed once and written down; they are compared to 1e-9.

use bursar_domain::stats::bayesian::{bayesian_test, risk, Prior};
use bursar_domain::stats::frequentist::{welch_t_test, FrequentistResult};
use bursar_domain::stats::moments::{cuped_theta, effect, DifferenceType, Effect, Statistic, Sums};
use bursar_domain::stats::sample_ratio::sample_ratio_mismatch;
use bursar_domain::stats::sequential::sequential_test;
use bursar_domain::stats::{analyze, AnalyzeRequest};

const REL: DifferenceType = DifferenceType::Relative;
const ABS: DifferenceType = DifferenceType::Absolute;

fn mean(n: u64, sum: f64, sum_squares: f64) -> Statistic {
    Statistic::Single { n, values: Sums::Continuous { sum, sum_squares } }
}

fn prop(n: u64, sum: f64) -> Statistic {
    Statistic::Single { n, values: Sums::Binomial { sum } }
}

fn ratio(n: u64, m: (f64, f64), d: (f64, f64), sum_product: f64) -> Statistic {
    Statistic::Ratio {
        n,
        numerator: Sums::Continuous { sum: m.0, sum_squares: m.1 },
        denominator: Sums::Continuous { sum: d.0, sum_squares: d.1 },
        sum_product,
    }
}

fn cuped(n: u64, post: (f64, f64), pre: (f64, f64), sum_product: f64) -> Statistic {
    Statistic::Adjusted {
        n,
        post: Sums::Continuous { sum: post.0, sum_squares: post.1 },
        pre: Sums::Continuous { sum: pre.0, sum_squares: pre.1 },
        sum_product,
    }
}

fn cuped_binomial(n: u64, post: f64, pre: f64, sum_product: f64) -> Statistic {
    Statistic::Adjusted { n, post: Sums::Binomial { sum: post }, pre: Sums::Binomial { sum: pre }, sum_product }
}

#[track_caller]
fn near(got: f64, want: f64, tol: f64) {
    assert!((got - want).abs() <= tol, "got {got}, want {want} ± {tol}");
}

/// Half a unit in the fifth decimal: `gbstats`' tests round to 5 places.
const D5: f64 = 5.000_1e-6;
/// Half a unit in the ninth decimal (`test_gbstats.py` rounds to 9).
const D9: f64 = 5.000_1e-10;

#[track_caller]
fn freq(r: &FrequentistResult, expected: f64, ci: [f64; 2], stddev: f64, p: f64, tol: f64) {
    near(r.expected, expected, tol);
    near(r.ci[0], ci[0], tol);
    near(r.ci[1], ci[1], tol);
    near(r.uplift.mean, expected, tol);
    near(r.uplift.stddev, stddev, tol);
    near(r.p_value, p, tol);
}

fn eff(a: &Statistic, b: &Statistic, d: DifferenceType) -> Effect {
    effect(a, b, d).expect("effect")
}

// tests/frequentist/test_tests.py, TestTwoSidedTTest.setUp
fn ttest_arms() -> (Statistic, Statistic) {
    (mean(3407, 1396.87, 52377.9767), mean(3461, 2422.7, 134698.29))
}

#[test]
fn welch_t_test_relative_matches_gbstats() {
    // test_two_sided_ttest
    let (a, b) = ttest_arms();
    let r = welch_t_test(&eff(&a, &b, REL), 0.05).unwrap();
    freq(&r, 0.70732, [-0.03526, 1.44989], 0.37879, 0.06191, D5);
}

#[test]
fn welch_t_test_absolute_matches_gbstats() {
    // test_two_sided_ttest_absolute
    let (a, b) = ttest_arms();
    let r = welch_t_test(&eff(&a, &b, ABS), 0.05).unwrap();
    freq(&r, 0.7 - 0.41, [0.04538, 0.53462], 0.12478, 0.02016, D5);
}

#[test]
fn welch_t_test_absolute_matches_scipy() {
    // An independent check of the same arms: scipy.stats.ttest_ind_from_stats
    // (equal_var=False) with means 2422.7/3461 and 1396.87/3407 and standard
    // deviations from the sums of squares gives t = 2.3240227609215203 and
    // p = 0.02015840264358697 (scipy 1.17.1); Welch–Satterthwaite
    // df = 5841.742032093565.
    let (a, b) = ttest_arms();
    let e = eff(&a, &b, ABS);
    near(e.estimate / e.standard_error, 2.324_022_760_921_520_3, 1e-12);
    near(e.dof, 5_841.742_032_093_565, 1e-8);
    let r = welch_t_test(&e, 0.05).unwrap();
    near(r.p_value, 0.020_158_402_643_586_97, 1e-13);
}

#[test]
fn welch_t_test_binomial_matches_gbstats() {
    // test_two_sided_ttest_binom
    let r = welch_t_test(&eff(&prop(28, 14.0), &prop(30, 16.0), REL), 0.05).unwrap();
    freq(&r, (16.0 / 30.0 - 0.5) / 0.5, [-0.47767, 0.61101], 0.2717, 0.80707, D5);
}

#[test]
fn a_negative_variance_is_an_error_where_gbstats_gives_up() {
    // test_two_sided_ttest_missing_variance: n = 2 with these sums is not a
    // possible set of values (gbstats returns its "zero variance" default).
    let a = mean(2, 1396.87, 52377.9767);
    let err = effect(&a, &ttest_arms().1, REL).unwrap_err();
    assert_eq!(err.field, "control.values.sum_squares");
}

#[test]
fn sequential_test_matches_gbstats() {
    // TestSequentialTTest.test_sequential_test_runs (tuning 1000)
    let a = mean(3000, 1396.87, 52377.9767);
    let b = mean(3461, 2422.7, 134698.29);
    let r = sequential_test(&eff(&a, &b, REL), 0.05, 1000.0).unwrap();
    freq(&r, 0.50336, [-0.55844, 1.56516], 0.33341, 1.0, D5);

    // test_sequential_test_runs_prop (default tuning 5000)
    let r = sequential_test(&eff(&prop(3000, 1396.0), &prop(3461, 2422.0), REL), 0.05, 5000.0).unwrap();
    freq(&r, 0.50386, [0.40098, 0.60675], 0.03386, 0.0, D5);

    // test_sequential_test_runs_ra (CUPED, default tuning)
    let a = cuped(3000, (1396.87, 52377.9767), (16.87, 527.9767), 1.0);
    let b = cuped(3461, (2422.7, 134698.29), (22.7, 1348.29), 1.0);
    let r = sequential_test(&eff(&a, &b, REL), 0.05, 5000.0).unwrap();
    freq(&r, 0.50338, [-0.50969, 1.51646], 0.33341, 1.0, D5);
}

#[test]
fn sequential_tuning_narrows_the_interval_near_the_sample_size() {
    // test_sequential_test_tuning_as_expected: tuning 10 (far below the
    // 6 461 units) is widest, 6 461 narrowest, 10 000 between.
    let e = eff(&mean(3000, 1396.87, 52377.9767), &mean(3461, 2422.7, 134698.29), REL);
    let width = |tuning| {
        let r = sequential_test(&e, 0.05, tuning).unwrap();
        r.ci[1] - r.ci[0]
    };
    assert!(width(10.0) > width(10_000.0) && width(10_000.0) > width(6461.0));
}

#[test]
fn bayesian_binomial_matches_gbstats() {
    // tests/bayesian/test_tests.py TestBinom.test_bayesian_binomial_ab_test
    let r = bayesian_test(&eff(&prop(100, 49.0), &prop(100, 51.0), REL), &Prior::default(), 0.05).unwrap();
    near(r.expected, 0.04082, D5);
    near(r.ci[0], -0.24779, D5);
    near(r.ci[1], 0.32943, D5);
    near(r.uplift.stddev, 0.14725, D5);
    near(r.chance_to_win, 0.60918, D5);
    near(r.risk[0], 0.0814, D5);
    near(r.risk[1], 0.04058, D5);
}

#[test]
fn bayesian_mean_matches_gbstats_with_flat_and_proper_priors() {
    // TestNorm.test_bayesian_gaussian_ab_test
    let a = mean(10, 100.0, 1002.25);
    let b = mean(10, 105.0, 1111.5);
    let e = eff(&a, &b, REL);
    let r = bayesian_test(&e, &Prior::default(), 0.05).unwrap();
    near(r.expected, 0.05, D5);
    near(r.ci[0], -0.02, D5);
    near(r.ci[1], 0.12, D5);
    near(r.uplift.stddev, 0.03572, D5);
    near(r.chance_to_win, 0.91923, D5);
    near(r.risk[0], 0.05131, D5);
    near(r.risk[1], 0.00131, D5);

    // test_bayesian_gaussian_ab_test_informative: prior N(0.1, 0.1)
    let prior = Prior { proper: true, mean: 0.1, stddev: 0.1f64.sqrt() };
    let r = bayesian_test(&e, &prior, 0.05).unwrap();
    near(r.expected, 0.05063, D5);
    near(r.ci[0], -0.01893, D5);
    near(r.ci[1], 0.12019, D5);
    near(r.uplift.stddev, 0.03549, D5);
    near(r.chance_to_win, 0.92315, D5);
    near(r.risk[0], 0.05186, D5);
    near(r.risk[1], 0.00123, D5);
}

#[test]
fn risk_matches_gbstats_and_numerical_integration() {
    // TestGetRiskNumericalStability.test_normal_inputs_bit_exact_regression
    let r = risk(0.1, 0.05).unwrap();
    near(r[0], 0.100_424_535_130_8, 1e-12);
    near(r[1], 0.000_424_535_130_841_4, 1e-12);
    // test_extreme_mu_over_sigma_no_overflow
    let r = risk(0.01, 4.5e-9).unwrap();
    near(r[0], 0.01, 1e-15);
    assert_eq!(r[1], 0.0);
    // Against ∫ max(x, 0) φ((x − μ)/σ)/σ dx and its mirror, by Simpson's
    // rule on each side of zero over μ ± 12σ.
    for (mu, sigma) in [(0.03, 0.02), (-0.01, 0.04), (0.0, 1.0)] {
        let density =
            |x: f64| (-0.5 * ((x - mu) / sigma).powi(2)).exp() / (sigma * (2.0 * std::f64::consts::PI).sqrt());
        let simpson = |lo: f64, hi: f64, f: &dyn Fn(f64) -> f64| {
            let steps = 20_000;
            let h = (hi - lo) / steps as f64;
            let mut sum = 0.0;
            for i in 0..=steps {
                let w = if i == 0 || i == steps {
                    1.0
                } else if i % 2 == 1 {
                    4.0
                } else {
                    2.0
                };
                sum += w * f(lo + i as f64 * h);
            }
            sum * h / 3.0
        };
        let (lo, hi) = ((mu - 12.0 * sigma).min(0.0), (mu + 12.0 * sigma).max(0.0));
        let keep = simpson(0.0, hi, &|x| x * density(x));
        let ship = simpson(lo, 0.0, &|x| -x * density(x));
        let r = risk(mu, sigma).unwrap();
        near(r[0], keep, 1e-10);
        near(r[1], ship, 1e-10);
    }
}

// tests/test_gbstats.py: the dimension "one" rows of QUERY_OUTPUT
// (baseline "zero": 270, 848.79, 100; "one": 300, 869, 120), COUNT_METRIC.
fn count_metric_arms() -> (Statistic, Statistic) {
    (mean(100, 270.0, 848.79), mean(120, 300.0, 869.0))
}

#[test]
fn count_metric_matches_gbstats_in_every_engine() {
    let (a, b) = count_metric_arms();
    let e = eff(&a, &b, REL);
    // TestAnalyzeMetricDfBayesian.test_get_metric_dfs_new
    let r = bayesian_test(&e, &Prior::default(), 0.05).unwrap();
    near(r.expected, -0.074_074_074, D9);
    near(r.chance_to_win, 0.071_834_168, D9);
    near(r.risk[1], 0.075_691_131, D9);
    // TestAnalyzeMetricDfFrequentist.test_get_metric_dfs_frequentist
    near(welch_t_test(&e, 0.05).unwrap().p_value, 0.145_219_005, D9);
    // TestAnalyzeMetricDfSequential.test_analyze_metric_df_sequential (tuning 600)
    let r = sequential_test(&e, 0.05, 600.0).unwrap();
    near(r.p_value, 0.892_332_229, D9);
    near(r.ci[0], -0.233_322_085, D9);
    assert!(sequential_test(&e, 0.05, 1.0).unwrap().ci[0] < r.ci[0]);
}

#[test]
fn gbstats_ratio_rows_with_a_negative_denominator_variance_are_refused() {
    // RATIO_STATISTICS_DF (tests/test_gbstats.py) gives the baseline's
    // denominator Σd = 510 and Σd² = 810 over 100 units: Σd² < (Σd)²/n, a
    // negative variance no data can have. gbstats computes on regardless
    // (p = 0.610663339 in test_get_metric_dfs_frequentist_ratio); here it is
    // an error naming the field.
    let a = ratio(100, (270.0, 848.79), (510.0, 810.0), -900.0);
    let b = ratio(120, (300.0, 869.0), (500.0, 800.0), -905.0);
    let err = effect(&a, &b, REL).unwrap_err();
    assert_eq!(err.field, "control.denominator.sum_squares");
}

// The post-period columns of RATIO_RA_STATISTICS_DF (tests/test_gbstats.py),
// analysed as a plain ratio metric.
fn ratio_arms() -> (Statistic, Statistic) {
    (
        ratio(
            100,
            (485.112_236_689_623, 2_715.484_666_118_136),
            (679.909_327_584_491_7, 4_939.424_001_640_236),
            3_602.146_836_776_702,
        ),
        ratio(
            100,
            (514.775_782_660_877_7, 2_994.897_482_705_013),
            (705.409_087_438_375_9, 5_291.366_041_463_92),
            3_918.156_143_160_071_7,
        ),
    )
}

#[test]
fn ratio_metric_matches_gbstats() {
    let (a, b) = ratio_arms();
    // test_analyze_metric_df_ratio_ra: the arms' unadjusted ratios.
    near(a.unadjusted_mean(), 0.713_495_487, D9);
    near(b.unadjusted_mean(), 0.729_754_963, D9);
    // gbstats output (RatioStatistic, count numerator and denominator).
    let e = eff(&a, &b, REL);
    let r = welch_t_test(&e, 0.05).unwrap();
    freq(
        &r,
        0.022_788_478_254_686_85,
        [-0.032_242_902_329_998_09, 0.077_819_858_839_371_79],
        0.027_906_103_513_924_26,
        0.415_131_380_516_549_96,
        1e-9,
    );
    let r = sequential_test(&e, 0.05, 5000.0).unwrap();
    freq(
        &r,
        0.022_788_478_254_686_85,
        [-0.119_531_532_582_141_28, 0.165_108_489_091_515],
        0.027_906_103_513_924_26,
        1.0,
        1e-9,
    );
    let r = bayesian_test(&e, &Prior::default(), 0.05).unwrap();
    near(r.ci[0], -0.031_906_479_581_451_36, 1e-9);
    near(r.chance_to_win, 0.792_925_099_588_766_9, 1e-9);
    near(r.risk[0], 0.026_045_889_157_930_83, 1e-9);
    near(r.risk[1], 0.003_257_410_903_243_98, 1e-9);
    let r = welch_t_test(&eff(&a, &b, ABS), 0.05).unwrap();
    freq(
        &r,
        0.016_259_476_386_592_42,
        [-0.022_554_691_439_217_553, 0.055_073_644_212_402_39],
        0.019_682_446_154_282_37,
        0.409_747_376_575_904_76,
        1e-9,
    );
}

#[test]
fn ratio_covariance_is_the_sample_covariance() {
    // tests/test_shared_models.py TestRatioStatistic: METRIC_1 and METRIC_3
    // with numpy.cov; checked here through the delta-method variance, whose
    // parts are written out from the raw values.
    let m = [0.3, 0.5, 0.9, 22.0];
    let d = [2.0, 1.0, 5.0, 3.0];
    let n = 4.0;
    let mean_of = |v: &[f64]| v.iter().sum::<f64>() / n;
    let (mm, md) = (mean_of(&m), mean_of(&d));
    let var = |v: &[f64], mu: f64| v.iter().map(|x| (x - mu).powi(2)).sum::<f64>() / (n - 1.0);
    let cov = m.iter().zip(&d).map(|(x, y)| (x - mm) * (y - md)).sum::<f64>() / (n - 1.0);
    let want = var(&m, mm) / md.powi(2) + var(&d, md) * mm.powi(2) / md.powi(4) - 2.0 * cov * mm / md.powi(3);
    let s = ratio(
        4,
        (m.iter().sum(), m.iter().map(|x| x * x).sum()),
        (d.iter().sum(), d.iter().map(|x| x * x).sum()),
        m.iter().zip(&d).map(|(x, y)| x * y).sum(),
    );
    near(s.unadjusted_variance(), want, 1e-12);
    near(s.unadjusted_mean(), mm / md, 1e-15);
}

#[test]
fn cuped_theta_matches_gbstats_and_least_squares() {
    // tests/test_shared_models.py TestComputeTheta.test_returns_0_no_variance:
    // pre = METRIC_1, post = METRIC_3 in both arms → θ = 0.01864 (5 places).
    let pre = [0.3, 0.5, 0.9, 22.0];
    let post = [2.0, 1.0, 5.0, 3.0];
    let sums = |v: &[f64]| (v.iter().sum::<f64>(), v.iter().map(|x| x * x).sum::<f64>());
    let product: f64 = pre.iter().zip(&post).map(|(x, y)| x * y).sum();
    let arm = cuped(4, sums(&post), sums(&pre), product);
    let theta = cuped_theta(&arm, &arm).unwrap();
    near(theta, 0.01864, D5);
    // The same θ is the least-squares slope of post on pre over the pooled
    // eight units (two copies of the four).
    let (mx, my) = (pre.iter().sum::<f64>() / 4.0, post.iter().sum::<f64>() / 4.0);
    let sxy: f64 = pre.iter().zip(&post).map(|(x, y)| (x - mx) * (y - my)).sum();
    let sxx: f64 = pre.iter().map(|x| (x - mx).powi(2)).sum();
    near(theta, sxy / sxx, 1e-12);
    // No variance in the pre-period: θ = 0 and the analysis is unadjusted.
    let flat = cuped(4, sums(&post), (0.0, 0.0), 0.0);
    assert_eq!(cuped_theta(&flat, &flat).unwrap(), 0.0);
    let e = eff(&flat, &cuped(4, (12.0, 40.0), (0.0, 0.0), 0.0), ABS);
    assert_eq!(e.theta, None);
    let plain = eff(&mean(4, 11.0, 39.0), &mean(4, 12.0, 40.0), ABS);
    near(e.estimate, plain.estimate, 0.0);
    near(e.standard_error, plain.standard_error, 0.0);
}

// tests/test_gbstats.py RA_STATISTICS_DF ("zero" is the baseline).
fn ra_arms() -> (Statistic, Statistic) {
    (cuped(3001, (300.0, 600.0), (210.0, 415.0), -20.0), cuped(3000, (222.0, 555.0), (120.0, 405.0), -10.0))
}

#[test]
fn cuped_mean_matches_gbstats() {
    // TestAnalyzeMetricDfRegressionAdjustment.test_analyze_metric_df_ra
    let (a, b) = ra_arms();
    let e = eff(&a, &b, REL);
    near(e.estimate, -0.281_707_154, D9);
    let r = welch_t_test(&e, 0.05).unwrap();
    near(r.p_value, 0.003_732_549, D9);
    // gbstats output for the full result, relative and absolute.
    freq(
        &r,
        -0.281_707_153_845_727_6,
        [-0.472_067_645_692_074_16, -0.091_346_661_999_381_02],
        0.097_104_876_445_109_62,
        0.003_732_548_615_239_084,
        1e-9,
    );
    let r = welch_t_test(&eff(&a, &b, ABS), 0.05).unwrap();
    freq(
        &r,
        -0.028_161_328_275_147_71,
        [-0.049_874_239_442_073_56, -0.006_448_417_108_221_86],
        0.011_075_982_918_923_316,
        0.011_029_368_646_360_727,
        1e-9,
    );
}

#[test]
fn cuped_binomial_matches_gbstats() {
    // test_analyze_metric_df_ra_proportion: the same rows, binomial metric
    // and covariate.
    let a = cuped_binomial(3001, 300.0, 210.0, -20.0);
    let b = cuped_binomial(3000, 222.0, 120.0, -10.0);
    let e = eff(&a, &b, REL);
    near(e.estimate, -0.316_202_16, D9);
    near(welch_t_test(&e, 0.05).unwrap().p_value, 0.000_000_353, D9);
}

#[test]
fn cuped_third_arm_uses_its_own_theta() {
    // gbstats output for THREE_ARMED_CUPED_DF ("zero" against "two").
    let a = ra_arms().0;
    let c = cuped(4000, (450.0, 900.0), (300.0, 600.0), -30.0);
    let r = welch_t_test(&eff(&a, &c, REL), 0.05).unwrap();
    freq(
        &r,
        0.130_752_022_282_631_39,
        [-0.094_765_676_665_922_78, 0.356_269_721_231_185_55],
        0.115_041_183_390_255_89,
        0.255_760_337_932_730_7,
        1e-9,
    );
    let r = bayesian_test(&eff(&a, &c, ABS), &Prior::default(), 0.05).unwrap();
    near(r.expected, 0.013_070_845_279_836_527, 1e-9);
    near(r.ci[0], -0.007_993_770_325_228_411, 1e-9);
    near(r.ci[1], 0.034_135_460_884_901_464, 1e-9);
    near(r.chance_to_win, 0.888_042_016_617_943, 1e-9);
    near(r.risk[0], 0.013_654_063_858_155_24, 1e-9);
    near(r.risk[1], 0.000_583_218_578_318_714_5, 1e-9);
}

#[test]
fn sample_ratio_matches_gbstats_check_srm() {
    // gbstats output (check_srm) for each split.
    let cases: [(&[u64], &[f64], f64); 4] = [
        (&[12_031, 11_890], &[0.5, 0.5], 0.361_951_543_640_572_6),
        (&[100, 120], &[0.5, 0.5], 0.177_529_852_412_149_6),
        (&[5300, 4700], &[0.5, 0.5], 1.973_175_290_075_393_3e-9),
        (&[1000, 1100, 900], &[0.3, 0.4, 0.3], 5.993_665_986_784_811e-5),
    ];
    for (users, weights, p) in cases {
        let s = sample_ratio_mismatch(users, weights).unwrap();
        assert!((s.p_value - p).abs() <= 1e-9 * p, "{users:?}: {} against {p}", s.p_value);
        assert_eq!(s.flagged, p < 0.001);
    }
    // Thirds as 1/3 each: 4.152178361184058e-44.
    let s = sample_ratio_mismatch(&[3001, 3000, 4000], &[1.0 / 3.0; 3]).unwrap();
    assert!((s.p_value - 4.152_178_361_184_058e-44).abs() <= 1e-9 * 4.152e-44 && s.flagged);
}

/// The brief's example arms: 535 of 12 031 against 601 of 11 890.
fn example(engine: &str, difference: &str, prior: &str) -> AnalyzeRequest {
    AnalyzeRequest::from_json(&format!(
        r#"{{"metric": {{"type": "binomial"}},
            "arms": [{{"name": "control", "weight": 0.5, "n": 12031, "sum": 535, "sum_squares": 535,
                       "denominator_sum": null, "denominator_sum_squares": null,
                       "main_denominator_sum_product": null, "covariate_sum": null,
                       "covariate_sum_squares": null, "main_covariate_sum_product": null}},
                     {{"name": "annual_first", "weight": 0.5, "n": 11890, "sum": 601, "sum_squares": 601}}],
            "settings": {{"alpha": 0.05, "difference_type": "{difference}", "engine": "{engine}",
                         "sequential_tuning": 5000, "prior": {prior}, "cuped": false}}}}"#
    ))
    .unwrap()
}

#[test]
fn analyze_reproduces_gbstats_for_each_engine() {
    let flat = r#"{"proper": false, "mean": 0, "stddev": 0.3}"#;
    // gbstats output for these arms.
    let cases = [
        (
            "frequentist",
            "relative",
            0.136_686_133_796_562_08,
            [0.007_428_321_410_699_129, 0.265_943_946_182_425],
            Some(0.038_210_328_842_777_31),
        ),
        (
            "sequential",
            "relative",
            0.136_686_133_796_562_08,
            [-0.070_896_083_468_181_58, 0.344_268_351_061_305_7],
            Some(0.769_849_130_033_725_9),
        ),
        (
            "frequentist",
            "absolute",
            0.006_078_221_393_164_385,
            [0.000_686_049_947_424_356_2, 0.011_470_392_838_904_414],
            Some(0.027_153_258_932_737_68),
        ),
        (
            "sequential",
            "absolute",
            0.006_078_221_393_164_385,
            [-0.002_581_362_765_949_654_6, 0.014_737_805_552_278_424],
            Some(0.578_791_581_237_511_3),
        ),
        (
            "bayesian",
            "relative",
            0.136_686_133_796_562_08,
            [0.007_434_896_628_857_351_5, 0.265_937_370_964_266_8],
            None,
        ),
        (
            "bayesian",
            "absolute",
            0.006_078_221_393_164_385,
            [0.000_686_324_241_897_918_7, 0.011_470_118_544_430_849],
            None,
        ),
    ];
    for (engine, difference, expected, ci, p) in cases {
        let out = analyze(&example(engine, difference, flat)).unwrap();
        assert!((out.srm_p - 0.361_951_543_640_572_6).abs() < 1e-12 && !out.srm_flagged);
        let v = &out.variations[1];
        assert_eq!(v.name, "annual_first");
        near(v.expected.unwrap(), expected, 1e-9 * expected.abs());
        near(v.ci.unwrap()[0], ci[0], 1e-9 * ci[0].abs().max(1e-3));
        near(v.ci.unwrap()[1], ci[1], 1e-9 * ci[1].abs());
        match p {
            Some(p) => near(v.p_value.unwrap(), p, 1e-9),
            None => assert!(v.p_value.is_none() && v.chance_to_win.is_some()),
        }
    }
    // Bayesian chance to win and risk, flat prior (gbstats output).
    let out = analyze(&example("bayesian", "relative", flat)).unwrap();
    let v = &out.variations[1];
    near(v.chance_to_win.unwrap(), 0.980_900_205_966_690_5, 1e-9);
    near(v.risk.unwrap()[0], 0.137_145_946_356_747_98, 1e-9);
    near(v.risk.unwrap()[1], 0.000_459_812_560_185_892_55, 1e-12);
    near(v.uplift.unwrap().stddev, 0.065_945_720_527_122_94, 1e-9);
}

#[test]
fn analyze_applies_a_proper_prior_on_the_relative_scale() {
    // gbstats output with prior N(0.05, 0.3²), proper, prior_type "relative".
    let proper = r#"{"proper": true, "mean": 0.05, "stddev": 0.3}"#;
    let v = analyze(&example("bayesian", "relative", proper)).unwrap().variations[1].clone();
    near(v.expected.unwrap(), 0.132_690_494_153_971_83, 1e-9);
    near(v.ci.unwrap()[0], 0.006_453_197_546_448_602_4, 1e-9);
    near(v.ci.unwrap()[1], 0.258_927_790_761_495, 1e-9);
    near(v.uplift.unwrap().stddev, 0.064_407_967_494_947_3, 1e-9);
    near(v.chance_to_win.unwrap(), 0.980_308_209_958_682_5, 1e-9);
    near(v.risk.unwrap()[0], 0.133_155_261_731_863_26, 1e-9);
    // For an absolute effect the prior is scaled by the baseline rate.
    let v = analyze(&example("bayesian", "absolute", proper)).unwrap().variations[1].clone();
    near(v.expected.unwrap(), 0.005_920_984_024_226_633_5, 1e-12);
    near(v.uplift.unwrap().stddev, 0.002_694_327_286_995_01, 1e-12);
    near(v.chance_to_win.unwrap(), 0.986_010_266_839_426_6, 1e-9);
    near(v.risk.unwrap()[1], 1.325_835_462_266_696_8e-5, 1e-12);
}

#[test]
fn analyze_ratio_and_cuped_requests_match_gbstats() {
    // The ratio arms above through the request format (gbstats output).
    let body = r#"{"metric": {"type": "ratio"},
        "arms": [{"name": "zero", "weight": 0.5, "n": 100, "sum": 485.112236689623, "sum_squares": 2715.484666118136,
                  "denominator_sum": 679.9093275844917, "denominator_sum_squares": 4939.424001640236,
                  "main_denominator_sum_product": 3602.146836776702},
                 {"name": "one", "weight": 0.5, "n": 100, "sum": 514.7757826608777, "sum_squares": 2994.897482705013,
                  "denominator_sum": 705.4090874383759, "denominator_sum_squares": 5291.36604146392,
                  "main_denominator_sum_product": 3918.1561431600717}],
        "settings": {"engine": "bayesian", "difference_type": "absolute"}}"#;
    let out = analyze(&AnalyzeRequest::from_json(body).unwrap()).unwrap();
    let v = &out.variations[1];
    near(v.expected.unwrap(), 0.016_259_476_386_592_42, 1e-12);
    near(v.ci.unwrap()[1], 0.054_836_361_976_634_76, 1e-9);
    near(v.chance_to_win.unwrap(), 0.795_623_544_076_789_1, 1e-9);
    near(v.risk.unwrap()[0], 0.018_518_584_004_676_566, 1e-9);
    assert_eq!(out.srm_p, 1.0);

    // THREE_ARMED_CUPED_DF through the request format: each arm against
    // the baseline with its own θ; the uneven split is a mismatch.
    let body = r#"{"metric": {"type": "mean"},
        "arms": [{"name": "zero", "weight": 0.3333333333333333, "n": 3001, "sum": 300, "sum_squares": 600,
                  "covariate_sum": 210, "covariate_sum_squares": 415, "main_covariate_sum_product": -20},
                 {"name": "one", "weight": 0.3333333333333333, "n": 3000, "sum": 222, "sum_squares": 555,
                  "covariate_sum": 120, "covariate_sum_squares": 405, "main_covariate_sum_product": -10},
                 {"name": "two", "weight": 0.3333333333333334, "n": 4000, "sum": 450, "sum_squares": 900,
                  "covariate_sum": 300, "covariate_sum_squares": 600, "main_covariate_sum_product": -30}],
        "settings": {"cuped": true}}"#;
    let out = analyze(&AnalyzeRequest::from_json(body).unwrap()).unwrap();
    assert!(out.srm_flagged);
    near(out.variations[1].expected.unwrap(), -0.281_707_153_845_727_6, 1e-12);
    near(out.variations[2].expected.unwrap(), 0.130_752_022_282_631_39, 1e-12);
    near(out.variations[2].ci.unwrap()[1], 0.356_269_721_231_185_55, 1e-9);
    // A flagged sample ratio hides the p-values.
    assert!(out.variations.iter().all(|v| v.p_value.is_none()));
}
