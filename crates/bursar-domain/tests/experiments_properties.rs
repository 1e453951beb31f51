//! Properties of the experiments engine over generated arms.

use bursar_domain::stats::analysis::{Arm, Engine, Metric, MetricType, PriorSettings, Settings};
use bursar_domain::stats::bayesian::{bayesian_test, Prior};
use bursar_domain::stats::frequentist::{welch_t_test, z_test};
use bursar_domain::stats::moments::{effect, DifferenceType, Statistic, Sums};
use bursar_domain::stats::sequential::sequential_test;
use bursar_domain::stats::{analyze, AnalyzeRequest};
use proptest::prelude::*;

/// A possible arm: n units whose values have mean `mu` and variance `var`
/// (so Σx² ≥ (Σx)²/n), with a covariate of its own mean and variance and a
/// correlation `rho` with the metric.
fn arm() -> impl Strategy<Value = (u64, f64, f64, f64, f64, f64)> {
    (2u64..200_000, -50.0..50.0f64, 0.01..400.0f64, -50.0..50.0f64, 0.01..400.0f64, -0.95..0.95f64)
}

fn continuous(n: u64, mu: f64, var: f64) -> Sums {
    let nf = n as f64;
    Sums::Continuous { sum: mu * nf, sum_squares: var * (nf - 1.0) + mu * mu * nf }
}

fn statistic(kind: u8, a: (u64, f64, f64, f64, f64, f64)) -> Statistic {
    let (n, mu, var, cmu, cvar, rho) = a;
    let nf = n as f64;
    match kind {
        0 => {
            let p = (mu.abs() / 50.0).clamp(0.01, 0.99);
            Statistic::Single { n, values: Sums::Binomial { sum: (p * nf).round().max(1.0) } }
        }
        1 => Statistic::Single { n, values: continuous(n, mu, var) },
        2 => Statistic::Ratio {
            n,
            numerator: continuous(n, mu, var),
            denominator: continuous(n, cmu.abs() + 1.0, cvar),
            sum_product: rho * (var * cvar).sqrt() * (nf - 1.0) + mu * (cmu.abs() + 1.0) * nf,
        },
        _ => Statistic::Adjusted {
            n,
            post: continuous(n, mu, var),
            pre: continuous(n, cmu, cvar),
            sum_product: rho * (var * cvar).sqrt() * (nf - 1.0) + mu * cmu * nf,
        },
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn intervals_contain_the_estimate_and_probabilities_are_probabilities(
        kind in 0u8..4, a in arm(), b in arm(), alpha in 0.001..0.5f64, relative in any::<bool>(),
        tuning in 10.0..100_000.0f64, proper in any::<bool>(), prior_mean in -1.0..1.0f64, prior_sd in 0.01..2.0f64,
    ) {
        let difference = if relative { DifferenceType::Relative } else { DifferenceType::Absolute };
        let (sa, sb) = (statistic(kind, a), statistic(kind, b));
        let Ok(e) = effect(&sa, &sb, difference) else {
            // Only a degenerate comparison may be refused here.
            return Ok(());
        };
        prop_assert!(e.standard_error > 0.0 && e.dof > 0.0);
        for r in [welch_t_test(&e, alpha).unwrap(), z_test(&e, alpha).unwrap(), sequential_test(&e, alpha, tuning).unwrap()] {
            prop_assert!(r.ci[0] <= r.expected && r.expected <= r.ci[1], "{r:?}");
            prop_assert!((0.0..=1.0).contains(&r.p_value), "{r:?}");
        }
        let prior = Prior { proper, mean: prior_mean, stddev: prior_sd };
        let r = bayesian_test(&e, &prior, alpha).unwrap();
        prop_assert!(r.ci[0] <= r.expected && r.expected <= r.ci[1]);
        prop_assert!((0.0..=1.0).contains(&r.chance_to_win));
        prop_assert!(r.risk[0] >= 0.0 && r.risk[1] >= 0.0);
        // E[max(X, 0)] − E[max(−X, 0)] = E[X].
        prop_assert!((r.risk[0] - r.risk[1] - r.expected).abs() <= 1e-9 * (r.risk[0] + r.risk[1]).max(1e-300));
        // Interval and p-value agree: 0 lies outside the t interval exactly when p < alpha.
        let t = welch_t_test(&e, alpha).unwrap();
        let excludes_zero = t.ci[0] > 0.0 || t.ci[1] < 0.0;
        let margin = (t.p_value - alpha).abs();
        prop_assert!(margin < 1e-9 || excludes_zero == (t.p_value < alpha), "{t:?}");
    }

    #[test]
    fn swapping_the_arms_flips_the_absolute_effect(kind in 0u8..4, a in arm(), b in arm()) {
        let (sa, sb) = (statistic(kind, a), statistic(kind, b));
        let (Ok(ab), Ok(ba)) = (effect(&sa, &sb, DifferenceType::Absolute), effect(&sb, &sa, DifferenceType::Absolute))
        else {
            return Ok(());
        };
        let scale = ab.estimate.abs().max(1e-9);
        prop_assert!((ab.estimate + ba.estimate).abs() <= 1e-9 * scale, "{ab:?} {ba:?}");
        prop_assert!((ab.standard_error - ba.standard_error).abs() <= 1e-9 * ab.standard_error);
        prop_assert!((ab.dof - ba.dof).abs() <= 1e-9 * ab.dof);
        let (pa, pb) = (welch_t_test(&ab, 0.05).unwrap(), welch_t_test(&ba, 0.05).unwrap());
        prop_assert!((pa.p_value - pb.p_value).abs() <= 1e-9);
        prop_assert!((pa.ci[0] + pb.ci[1]).abs() <= 1e-9 * pa.ci[0].abs().max(scale));
    }

    #[test]
    fn the_relative_effect_keeps_the_sign_of_the_absolute_one(kind in 0u8..4, a in arm(), b in arm()) {
        let (sa, sb) = (statistic(kind, a), statistic(kind, b));
        if let (Ok(abs), Ok(rel)) = (effect(&sa, &sb, DifferenceType::Absolute), effect(&sa, &sb, DifferenceType::Relative)) {
            prop_assert!(abs.estimate == 0.0 || abs.estimate.signum() == rel.estimate.signum(), "{abs:?} {rel:?}");
            prop_assert!((rel.estimate * rel.baseline_mean.abs() - abs.estimate).abs() <= 1e-9 * abs.estimate.abs().max(1e-12));
        }
    }

    #[test]
    fn analyze_answers_every_request_without_panicking(
        kind in 0u8..3, engine in 0u8..3, cuped in any::<bool>(), fair in any::<bool>(),
        arms in prop::collection::vec(
            ("[a-z]{0,3}", any::<f64>(), 0u64..5_000, any::<f64>(), prop::option::of(any::<f64>()),
             prop::option::of(any::<f64>()), prop::option::of(any::<f64>()), prop::option::of(any::<f64>()),
             prop::option::of(any::<f64>())),
            0..5),
        alpha in prop::option::of(any::<f64>()), tuning in prop::option::of(any::<f64>()),
        stddev in prop::option::of(any::<f64>()),
    ) {
        // Half the requests get a valid split, so the sums are reached too.
        let even = 1.0 / arms.len().max(1) as f64;
        let request = AnalyzeRequest {
            metric: Metric { kind: [MetricType::Binomial, MetricType::Mean, MetricType::Ratio][kind as usize] },
            arms: arms
                .into_iter()
                .map(|(name, weight, n, sum, ss, d, dss, c, css)| Arm {
                    name,
                    weight: if fair { even } else { weight },
                    n,
                    sum,
                    sum_squares: ss,
                    denominator_sum: d,
                    denominator_sum_squares: dss,
                    main_denominator_sum_product: d,
                    covariate_sum: c,
                    covariate_sum_squares: css,
                    main_covariate_sum_product: c,
                })
                .collect(),
            settings: Some(Settings {
                alpha,
                engine: Some([Engine::Frequentist, Engine::Sequential, Engine::Bayesian][engine as usize]),
                sequential_tuning: tuning,
                prior: Some(PriorSettings { proper: Some(true), mean: None, stddev }),
                cuped: Some(cuped),
                ..Settings::default()
            }),
        };
        match analyze(&request) {
            Ok(out) => {
                prop_assert_eq!(out.variations.len(), request.arms.len());
                prop_assert!((0.0..=1.0).contains(&out.srm_p));
            }
            Err(e) => prop_assert!(!e.field.is_empty() && !e.message.is_empty()),
        }
    }

    #[test]
    fn valid_binomial_requests_always_answer(
        arms in prop::collection::vec((1u64..1_000_000, 0.0..1.0f64, 1.0..10.0f64), 2..6),
        engine in 0u8..3,
    ) {
        let total: f64 = arms.iter().map(|a| a.2).sum();
        let request = AnalyzeRequest {
            metric: Metric { kind: MetricType::Binomial },
            arms: arms
                .iter()
                .enumerate()
                .map(|(i, &(n, rate, w))| Arm {
                    name: format!("arm{i}"),
                    weight: w / total,
                    n,
                    sum: (rate * n as f64).floor(),
                    sum_squares: None,
                    denominator_sum: None,
                    denominator_sum_squares: None,
                    main_denominator_sum_product: None,
                    covariate_sum: None,
                    covariate_sum_squares: None,
                    main_covariate_sum_product: None,
                })
                .collect(),
            settings: Some(Settings {
                engine: Some([Engine::Frequentist, Engine::Sequential, Engine::Bayesian][engine as usize]),
                ..Settings::default()
            }),
        };
        let out = analyze(&request).unwrap();
        prop_assert_eq!(out.srm_flagged, out.srm_p < 0.001);
        for v in &out.variations[1..] {
            prop_assert!(v.error.is_some() || (v.expected.is_some() && v.ci.is_some() && v.uplift.is_some()));
            let hidden = v.p_value.is_none() && v.chance_to_win.is_none() && v.risk.is_none();
            prop_assert!(!out.srm_flagged || hidden);
        }
    }
}
