//! `cargo bench -p bursar-psychometrics`: 200,000 persons × 60 items of 2PL data; times the
//! classical statistics and the 2PL calibration with an EAP for every person, and prints
//! EM cycles and peak memory (VmHWM).

use std::time::Instant;

use bursar_psychometrics::{
    calibrate, classical, generate_2pl, random_item_parameters, FitSettings, GenSpec, IrtModel,
};

fn peak_memory_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// CPU seconds used by this process so far (user + system), from /proc/self/stat.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return f64::NAN };
    // fields after the parenthesised command name; utime and stime are fields 14 and 15
    let Some(rest) = stat.rsplit(')').next() else { return f64::NAN };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(f64::NAN);
    // the kernel's USER_HZ is 100 on Linux
    (ticks(11) + ticks(12)) / 100.0
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn main() {
    println!("load average before: {}", load_average());
    let (n, k) = (200_000, 60);
    let (a, d) = random_item_parameters(k, 2024);
    let t = Instant::now();
    let spec = GenSpec { n_persons: n, a: a.clone(), d: d.clone(), missing_rate: 0.0, seed: 1, times: None };
    let data = generate_2pl(&spec).expect("generate");
    println!("generate {n} x {k}: {:.3} s", t.elapsed().as_secs_f64());
    let threads = FitSettings::default().threads;
    println!(
        "threads: {}",
        if threads == 0 { std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) } else { threads }
    );

    let (t, cpu) = (Instant::now(), cpu_seconds());
    let c = classical(&data.responses).expect("classical");
    println!(
        "(a) classical statistics: {:.3} s wall, {:.2} s CPU (alpha {:.4})",
        t.elapsed().as_secs_f64(),
        cpu_seconds() - cpu,
        c.cronbach_alpha.unwrap_or(f64::NAN)
    );

    let settings = FitSettings { standard_errors: false, ..FitSettings::default() };
    let (t, cpu) = (Instant::now(), cpu_seconds());
    let fit = calibrate(&data.responses, IrtModel::TwoPl, &settings).expect("calibrate");
    let secs = t.elapsed().as_secs_f64();
    let cpu_fit = cpu_seconds() - cpu;
    let max_err_a = fit.calibration.a.iter().zip(&a).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max);
    let max_err_d = fit.calibration.d.iter().zip(&d).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max);
    println!(
        "(b) 2PL calibration + EAP for all {} persons: {:.3} s wall, {:.2} s CPU, {} cycles, converged {}, loglik {:.3}, max |a - true| {:.4}, max |d - true| {:.4}",
        fit.eap.len(),
        secs,
        cpu_fit,
        fit.em_cycles,
        fit.converged,
        fit.loglik,
        max_err_a,
        max_err_d
    );

    let with_se = FitSettings::default();
    let (t, cpu) = (Instant::now(), cpu_seconds());
    let fit_se = calibrate(&data.responses, IrtModel::TwoPl, &with_se).expect("calibrate");
    let se_max = fit_se.se_a.as_ref().and_then(|v| v.iter().flatten().copied().reduce(f64::max));
    println!(
        "(c) the same with standard errors: {:.3} s wall, {:.2} s CPU (largest se_a {:.4})",
        t.elapsed().as_secs_f64(),
        cpu_seconds() - cpu,
        se_max.unwrap_or(f64::NAN)
    );
    println!("load average after: {}", load_average());
    match peak_memory_mib() {
        Some(m) => println!("peak memory (VmHWM): {m:.1} MiB"),
        None => println!("peak memory: unavailable"),
    }
}
