//! `bursar analyze responses` end to end: LSAT7 (Bock & Lieberman's data)
//! against its published values, the options, and bad input.

use std::process::{Command, Output};

const LSAT7: &str = include_str!("../../bursar-psychometrics/tests/data/lsat7.csv");

fn bursar(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bursar"))
        .args(args)
        .current_dir(dir)
        .env_remove("DATABASE_URL")
        .env("BURSAR_LOG_LEVEL", "warn")
        .output()
        .unwrap()
}

#[test]
fn lsat7_through_the_command_matches_the_published_values() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("lsat7.csv"), LSAT7).unwrap();
    let out = bursar(dir.path(), &["analyze", "responses", "lsat7.csv", "--models", "2pl", "--out", "report.json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(dir.path().join("report.json")).unwrap();
    let r: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(r["schema"], "bursar-psychometrics/1");
    assert_eq!(r["dataset"], "lsat7");
    assert_eq!((r["n_persons"].as_i64(), r["n_items"].as_i64()), (Some(1000), Some(5)));
    let close = |v: &serde_json::Value, want: f64, tol: f64| {
        let got = v.as_f64().unwrap();
        assert!((got - want).abs() <= tol, "{got} against {want}");
    };
    close(&r["classical"]["kr20"], 0.4534, 5e-5);
    close(&r["classical"]["kr21"], 0.4150, 5e-5);
    let irt = &r["irt"]["2pl"];
    let published = [(0.988, 1.8561), (1.081, 0.808), (1.706, 1.8043), (0.7651, 0.486), (0.7358, 1.8545)];
    for (j, (a, d)) in published.iter().enumerate() {
        close(&irt["a"][j], *a, 1e-2);
        close(&irt["d"][j], *d, 1e-2);
    }
    close(&irt["loglik"], -2658.805, 1e-2);
    assert!(r["irt"].get("rasch").is_none(), "only the model asked for");
    assert_eq!(irt["scores"]["persons"].as_array().unwrap().len(), 20, "the first 20 persons by default");

    // All persons, to standard output.
    let out = bursar(dir.path(), &["analyze", "responses", "lsat7.csv", "--models", "rasch", "--persons", "all"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["irt"]["rasch"]["scores"]["persons"].as_array().unwrap().len(), 1000);
}

#[test]
fn bad_input_is_refused_with_what_was_wrong() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.csv"), "i1,i2\n1,0\n1,7\n").unwrap();
    std::fs::write(dir.path().join("lsat7.csv"), LSAT7).unwrap();
    let out = bursar(dir.path(), &["analyze", "responses", "bad.csv"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("responses"), "{}", String::from_utf8_lossy(&out.stderr));
    let out = bursar(dir.path(), &["analyze", "responses", "lsat7.csv", "--models", "3pl"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown model `3pl`"));
    let out = bursar(dir.path(), &["analyze", "responses", "missing.csv"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.csv"));
}
