//! The analysis request: defaults, field-named errors, the baseline's entry,
//! degenerate arms, and what a sample-ratio mismatch hides.

use bursar_domain::stats::analysis::{Engine, MetricType};
use bursar_domain::stats::frequentist::{welch_t_test, z_test};
use bursar_domain::stats::moments::{effect, DifferenceType, Statistic, Sums};
use bursar_domain::stats::sample_ratio::sample_ratio_mismatch;
use bursar_domain::stats::{analyze, AnalyzeRequest, StatsError};

fn parse(body: &str) -> AnalyzeRequest {
    AnalyzeRequest::from_json(body).unwrap()
}

fn error_of(body: &str) -> StatsError {
    match AnalyzeRequest::from_json(body) {
        Err(e) => e,
        Ok(request) => analyze(&request).unwrap_err(),
    }
}

const TWO_BINOMIAL_ARMS: &str = r#"[{"name": "control", "weight": 0.5, "n": 1000, "sum": 100},
                                    {"name": "treatment", "weight": 0.5, "n": 1000, "sum": 130}]"#;

#[test]
fn settings_may_be_left_out() {
    let request = parse(&format!(r#"{{"metric": {{"type": "binomial"}}, "arms": {TWO_BINOMIAL_ARMS}}}"#));
    assert_eq!(request.metric.kind, MetricType::Binomial);
    let out = analyze(&request).unwrap();
    // The same as every default spelled out, and as null.
    let spelled = parse(&format!(
        r#"{{"metric": {{"type": "binomial"}}, "arms": {TWO_BINOMIAL_ARMS},
            "settings": {{"alpha": 0.05, "difference_type": "relative", "engine": "frequentist",
                         "sequential_tuning": 5000, "prior": {{"proper": false, "mean": 0, "stddev": 0.3}},
                         "cuped": false}}}}"#
    ));
    assert_eq!(analyze(&spelled).unwrap(), out);
    let nulls = parse(&format!(
        r#"{{"metric": {{"type": "binomial"}}, "arms": {TWO_BINOMIAL_ARMS},
            "settings": {{"alpha": null, "engine": null, "prior": {{}}}}}}"#
    ));
    assert_eq!(analyze(&nulls).unwrap(), out);
    assert_eq!(request.settings.unwrap_or_default().engine(), Engine::Frequentist);
    // Frequentist by default: a p-value, no chance to win.
    let v = &out.variations[1];
    assert!(v.p_value.is_some() && v.chance_to_win.is_none() && v.risk.is_none() && v.error.is_none());
    // 10 % against 13 % of 1000 each: relative effect +30 %.
    assert!((v.expected.unwrap() - 0.3).abs() < 1e-12);
}

#[test]
fn the_baseline_entry_carries_only_its_name() {
    let out =
        analyze(&parse(&format!(r#"{{"metric": {{"type": "binomial"}}, "arms": {TWO_BINOMIAL_ARMS}}}"#))).unwrap();
    let base = serde_json::to_value(&out.variations[0]).unwrap();
    assert_eq!(
        base,
        serde_json::json!({"name": "control", "expected": null, "ci": null, "p_value": null, "uplift": null,
                           "chance_to_win": null, "risk": null, "error": null})
    );
    let body = serde_json::to_value(&out).unwrap();
    assert!(body["srm_p"].is_number() && body["srm_flagged"] == false);
    assert!(body["variations"][1]["ci"].as_array().unwrap().len() == 2);
    assert!(body["variations"][1]["uplift"]["stddev"].is_number());
}

#[test]
fn a_mismatched_sample_ratio_hides_the_winner_fields() {
    // 5 300 against 4 700 for an even split: p ≈ 2e-9.
    for engine in ["frequentist", "sequential", "bayesian"] {
        let out = analyze(&parse(&format!(
            r#"{{"metric": {{"type": "binomial"}},
                "arms": [{{"name": "a", "weight": 0.5, "n": 5300, "sum": 530}},
                         {{"name": "b", "weight": 0.5, "n": 4700, "sum": 611}}],
                "settings": {{"engine": "{engine}"}}}}"#
        )))
        .unwrap();
        assert!(out.srm_flagged && out.srm_p < 1e-8);
        let v = &out.variations[1];
        assert!(v.p_value.is_none() && v.chance_to_win.is_none() && v.risk.is_none(), "{engine}: {v:?}");
        assert!(v.expected.is_some() && v.ci.is_some() && v.uplift.is_some());
    }
    // The same arms on a 53/47 split are no mismatch, and show everything.
    let out = analyze(&parse(
        r#"{"metric": {"type": "binomial"},
            "arms": [{"name": "a", "weight": 0.53, "n": 5300, "sum": 530},
                     {"name": "b", "weight": 0.47, "n": 4700, "sum": 611}],
            "settings": {"engine": "bayesian"}}"#,
    ))
    .unwrap();
    assert!(!out.srm_flagged && (out.srm_p - 1.0).abs() < 1e-12);
    assert!(out.variations[1].chance_to_win.unwrap() > 0.99);
}

#[test]
fn degenerate_arms_are_named_in_the_entry_not_refused() {
    // No conversions in the baseline: zero variance (and a zero mean).
    let out = analyze(&parse(
        r#"{"metric": {"type": "binomial"},
            "arms": [{"name": "a", "weight": 0.5, "n": 1000, "sum": 0},
                     {"name": "b", "weight": 0.5, "n": 1000, "sum": 12}]}"#,
    ))
    .unwrap();
    let v = &out.variations[1];
    assert_eq!(v.error.as_deref(), Some("zero_variance"));
    assert!(v.expected.is_none() && v.ci.is_none() && v.p_value.is_none());
    // A mean metric whose baseline averages exactly zero has nothing to be
    // relative to.
    let out = analyze(&parse(
        r#"{"metric": {"type": "mean"},
            "arms": [{"name": "a", "weight": 0.5, "n": 4, "sum": 0, "sum_squares": 8},
                     {"name": "b", "weight": 0.5, "n": 4, "sum": 2, "sum_squares": 9}]}"#,
    ))
    .unwrap();
    assert_eq!(out.variations[1].error.as_deref(), Some("zero_baseline_mean"));
}

#[test]
fn errors_name_the_field() {
    let cases: &[(&str, &str)] = &[
        // Parsing: the path of the bad value.
        (r#"{"metric": {"type": "binomial"}, "arms": [{"name": "a", "weight": 0.5, "n": -3, "sum": 1}]}"#, "arms[0].n"),
        (r#"{"metric": {"type": "median"}, "arms": []}"#, "metric.type"),
        (
            r#"{"metric": {"type": "mean"}, "arms": [{"name": "a", "weight": 1, "n": 3, "sum": 1, "sum_sqares": 2}]}"#,
            "arms[0].sum_sqares",
        ),
        (r#"{"metric": {"type": "mean"}, "arms": [], "settings": {"engine": "magic"}}"#, "settings.engine"),
        ("not json", "body"),
        // Validation.
        (r#"{"metric": {"type": "binomial"}, "arms": [{"name": "a", "weight": 1, "n": 10, "sum": 1}]}"#, "arms"),
        (
            r#"{"metric": {"type": "binomial"}, "arms": [{"name": "a", "weight": 0.5, "n": 10, "sum": 1},
                                                      {"name": "b", "weight": 0.5, "n": 0, "sum": 0}]}"#,
            "arms[1].n",
        ),
        (
            r#"{"metric": {"type": "binomial"}, "arms": [{"name": "a", "weight": 0.5, "n": 10, "sum": 1},
                                                      {"name": "b", "weight": 0.5, "n": 10, "sum": 11}]}"#,
            "arms[1].sum",
        ),
        (
            r#"{"metric": {"type": "mean"}, "arms": [{"name": "a", "weight": 0.5, "n": 10, "sum": 10, "sum_squares": 20},
                                                  {"name": "b", "weight": 0.5, "n": 10, "sum": 10, "sum_squares": 9}]}"#,
            "arms[1].sum_squares",
        ),
        (
            r#"{"metric": {"type": "mean"}, "arms": [{"name": "a", "weight": 0.5, "n": 10, "sum": 10},
                                                  {"name": "b", "weight": 0.5, "n": 10, "sum": 10, "sum_squares": 20}]}"#,
            "arms[0].sum_squares",
        ),
        (
            r#"{"metric": {"type": "ratio"}, "arms": [{"name": "a", "weight": 0.5, "n": 10, "sum": 10, "sum_squares": 20,
                                                    "denominator_sum": 10, "denominator_sum_squares": 20,
                                                    "main_denominator_sum_product": 15},
                                                   {"name": "b", "weight": 0.5, "n": 10, "sum": 10, "sum_squares": 20,
                                                    "denominator_sum_squares": 20, "main_denominator_sum_product": 15}]}"#,
            "arms[1].denominator_sum",
        ),
        (
            r#"{"metric": {"type": "ratio"}, "arms": [{"name": "a", "weight": 0.5, "n": 10, "sum": 10, "sum_squares": 20,
                                                    "denominator_sum": 10, "denominator_sum_squares": 20,
                                                    "main_denominator_sum_product": 15},
                                                   {"name": "b", "weight": 0.5, "n": 10, "sum": 10, "sum_squares": 20,
                                                    "denominator_sum": 10, "denominator_sum_squares": 5,
                                                    "main_denominator_sum_product": 15}]}"#,
            "arms[1].denominator_sum_squares",
        ),
        (
            r#"{"metric": {"type": "mean"}, "settings": {"cuped": true},
                "arms": [{"name": "a", "weight": 0.5, "n": 10, "sum": 10, "sum_squares": 20,
                          "covariate_sum": 5, "covariate_sum_squares": 9, "main_covariate_sum_product": 3},
                         {"name": "b", "weight": 0.5, "n": 10, "sum": 10, "sum_squares": 20,
                          "covariate_sum": 5, "main_covariate_sum_product": 3}]}"#,
            "arms[1].covariate_sum_squares",
        ),
        (
            r#"{"metric": {"type": "binomial"}, "settings": {"cuped": true},
                "arms": [{"name": "a", "weight": 0.5, "n": 10, "sum": 1, "covariate_sum": 2},
                         {"name": "b", "weight": 0.5, "n": 10, "sum": 1, "covariate_sum": 2,
                          "main_covariate_sum_product": 1}]}"#,
            "arms[0].main_covariate_sum_product",
        ),
        (
            r#"{"metric": {"type": "binomial"}, "settings": {"cuped": true},
                "arms": [{"name": "a", "weight": 0.5, "n": 10, "sum": 1},
                         {"name": "b", "weight": 0.5, "n": 10, "sum": 1}]}"#,
            "arms[0].covariate_sum",
        ),
        (
            r#"{"metric": {"type": "ratio"}, "settings": {"cuped": true}, "arms": [{"name": "a", "weight": 1, "n": 1, "sum": 1}]}"#,
            "settings.cuped",
        ),
        (
            &format!(
                r#"{{"metric": {{"type": "binomial"}}, "arms": {TWO_BINOMIAL_ARMS}, "settings": {{"alpha": 1.5}}}}"#
            ),
            "settings.alpha",
        ),
        (
            &format!(
                r#"{{"metric": {{"type": "binomial"}}, "arms": {TWO_BINOMIAL_ARMS}, "settings": {{"sequential_tuning": 0}}}}"#
            ),
            "settings.sequential_tuning",
        ),
        (
            &format!(
                r#"{{"metric": {{"type": "binomial"}}, "arms": {TWO_BINOMIAL_ARMS}, "settings": {{"prior": {{"proper": true, "stddev": -1}}}}}}"#
            ),
            "settings.prior.stddev",
        ),
        (
            r#"{"metric": {"type": "binomial"}, "arms": [{"name": "a", "weight": 0.5, "n": 10, "sum": 1},
                                                      {"name": "b", "weight": 0.6, "n": 10, "sum": 1}]}"#,
            "arms",
        ),
        (
            r#"{"metric": {"type": "binomial"}, "arms": [{"name": "a", "weight": 1.0, "n": 10, "sum": 1},
                                                      {"name": "b", "weight": 0.0, "n": 10, "sum": 1}]}"#,
            "arms[1].weight",
        ),
        (
            r#"{"metric": {"type": "binomial"}, "arms": [{"name": "", "weight": 0.5, "n": 10, "sum": 1},
                                                      {"name": "b", "weight": 0.5, "n": 10, "sum": 1}]}"#,
            "arms[0].name",
        ),
    ];
    for (body, field) in cases {
        let e = error_of(body);
        assert_eq!(e.field, *field, "{body}: {e}");
        assert!(!e.message.is_empty());
    }
}

#[test]
fn values_a_json_body_cannot_carry_are_still_errors() {
    // NaN and infinities reach analyze only from Rust callers.
    let mut request = parse(&format!(r#"{{"metric": {{"type": "binomial"}}, "arms": {TWO_BINOMIAL_ARMS}}}"#));
    request.arms[1].sum = f64::NAN;
    assert_eq!(analyze(&request).unwrap_err().field, "arms[1].sum");
    request.arms[1].sum = 130.0;
    request.arms[0].weight = f64::INFINITY;
    assert_eq!(analyze(&request).unwrap_err().field, "arms[0].weight");
    request.arms[0].weight = 0.5;
    request.settings.get_or_insert_with(Default::default).alpha = Some(f64::NAN);
    assert_eq!(analyze(&request).unwrap_err().field, "settings.alpha");
}

#[test]
fn the_z_test_is_the_t_test_with_many_units() {
    let s = |n, sum, ss| Statistic::Single { n, values: Sums::Continuous { sum, sum_squares: ss } };
    // 10 % against 13 % of 1000, unpooled: z = 2.1050687930179994 with
    // p = 0.03528532025049282, and Welch's df = 1972.48370948912 gives
    // p = 0.03541149025749652 (scipy.stats.norm.sf and t.sf, SciPy 1.17.1).
    let p = |n, c| Statistic::Single { n, values: Sums::Binomial { sum: c } };
    let e = effect(&p(1000, 100.0), &p(1000, 130.0), DifferenceType::Absolute).unwrap();
    assert!((e.estimate / e.standard_error - 2.105_068_793_017_999_4).abs() < 1e-12);
    assert!((e.dof - 1_972.483_709_489_12).abs() < 1e-8);
    let z = z_test(&e, 0.05).unwrap();
    assert!((z.p_value - 0.035_285_320_250_492_82).abs() < 1e-14);
    assert!((z.ci[1] - z.expected - 1.959_963_984_540_054 * e.standard_error).abs() < 1e-15);
    let t = welch_t_test(&e, 0.05).unwrap();
    assert!((t.p_value - 0.035_411_490_257_496_52).abs() < 1e-13);
    // With few units the t interval is the wider one: variances 2.5 and
    // 1.25 over 5 units each give Welch's df = 7.2, between the tables'
    // t(0.975; 7) = 2.365 and t(0.975; 8) = 2.306.
    let e = effect(&s(5, 10.0, 30.0), &s(5, 15.0, 50.0), DifferenceType::Absolute).unwrap();
    assert!((e.dof - 7.2).abs() < 1e-12);
    let (t, z) = (welch_t_test(&e, 0.05).unwrap(), z_test(&e, 0.05).unwrap());
    let ratio = (t.ci[1] - t.ci[0]) / (z.ci[1] - z.ci[0]);
    assert!(ratio > 2.306 / 1.96 && ratio < 2.365 / 1.96, "{ratio}");
    assert!(z_test(&e, 0.0).is_err() && welch_t_test(&e, f64::NAN).is_err());
}

#[test]
fn the_sample_ratio_check_refuses_what_it_cannot_judge() {
    assert_eq!(sample_ratio_mismatch(&[10], &[1.0]).unwrap_err().field, "users");
    assert_eq!(sample_ratio_mismatch(&[10, 10], &[1.0]).unwrap_err().field, "weights");
    assert_eq!(sample_ratio_mismatch(&[10, 10], &[0.7, 0.7]).unwrap_err().field, "weights");
    assert_eq!(sample_ratio_mismatch(&[10, 10], &[1.0, -0.0]).unwrap_err().field, "weights[1]");
    assert_eq!(sample_ratio_mismatch(&[10, 10], &[f64::NAN, 0.5]).unwrap_err().field, "weights[0]");
    let none = sample_ratio_mismatch(&[0, 0], &[0.5, 0.5]).unwrap();
    assert!(none.p_value == 1.0 && !none.flagged);
}

#[test]
fn the_largest_counts_do_not_overflow() {
    let body = format!(
        r#"{{"metric": {{"type": "binomial"}},
            "arms": [{{"name": "a", "weight": 0.5, "n": {max}, "sum": 1e18}},
                     {{"name": "b", "weight": 0.5, "n": {max}, "sum": 2e18}}],
            "settings": {{"engine": "sequential"}}}}"#,
        max = u64::MAX
    );
    let out = analyze(&parse(&body)).unwrap();
    let v = &out.variations[1];
    assert!((v.expected.unwrap() - 1.0).abs() < 1e-9 && !out.srm_flagged, "{v:?}");
}
