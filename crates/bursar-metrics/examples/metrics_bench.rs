//! Times the engine on a generated history:
//! `cargo run --release -p bursar-metrics --example metrics_bench -- [customers] [action_every_days] [--jsonl]`
//! (defaults: 100000 customers, an action every 12 days on average).
//! With `--jsonl` the history also goes through the import format
//! (writing and parsing every line).

use std::time::Instant;

use bursar_metrics::generate::{customer_events, GenOptions, Rng};
use bursar_metrics::{from_import_event, Accumulator, Fact, Filter, ReportOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let customers: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let every: i64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(12);
    let jsonl = args.iter().any(|a| a == "--jsonl");
    let opts = GenOptions { seed: 42, customers, action_every_days: every, ..GenOptions::default() };
    let catalog = bursar_metrics::generate::catalog(&opts);

    let t = Instant::now();
    let mut rng = Rng::new(opts.seed);
    let mut facts: Vec<Fact> = Vec::new();
    let mut text_bytes = 0;
    let mut parse_s = 0.0;
    for i in 0..customers {
        let events = customer_events(&opts, rng.next_u64(), i);
        let events = if jsonl {
            let text: String = events.iter().map(|e| e.to_json_line() + "\n").collect();
            text_bytes += text.len();
            let p = Instant::now();
            let parsed = bursar_metrics::parse_events(&text, Default::default())?.events;
            parse_s += p.elapsed().as_secs_f64();
            parsed
        } else {
            events
        };
        for e in &events {
            facts.push(from_import_event(e, &catalog)?);
        }
    }
    let gen_s = t.elapsed().as_secs_f64();
    println!("{} customers, {} facts generated in {:.2} s", customers, facts.len(), gen_s);
    if jsonl {
        println!("import format: {:.1} MB of JSON Lines parsed in {:.2} s", text_bytes as f64 / 1e6, parse_s);
    }

    let t = Instant::now();
    let histories = bursar_metrics::replay_all(&catalog, &facts, &Filter::default())?;
    let replay_s = t.elapsed().as_secs_f64();
    println!("replay of every customer: {:.2} s ({:.0} facts/s)", replay_s, facts.len() as f64 / replay_s);

    let options = ReportOptions { horizon: catalog.horizon_exclusive, ..ReportOptions::default() };
    let spend = bursar_metrics::spend_by_month(&catalog, &facts, &Filter::default())?;
    let to = opts.start.offset(i64::from(opts.months) - 1);
    let t = Instant::now();
    let report = bursar_metrics::aggregate(&histories, Some(&spend), opts.start, to, &options)?;
    let agg_s = t.elapsed().as_secs_f64();
    println!("aggregation over {} months: {:.3} s", opts.months, agg_s);

    let t = Instant::now();
    let mut acc = Accumulator::new(opts.start, to, &options)?;
    for h in &histories {
        acc.add(h)?;
    }
    let n = histories.len().min(1000);
    let t1 = Instant::now();
    for h in histories.iter().take(n) {
        acc.remove(h)?;
        acc.add(h)?;
    }
    let swap_us = t1.elapsed().as_secs_f64() * 1e6 / n as f64;
    let _ = acc.report(Some(&spend))?;
    println!(
        "accumulator: build {:.3} s; one customer taken back and re-added: {:.1} µs",
        t.elapsed().as_secs_f64(),
        swap_us
    );

    let t = Instant::now();
    let json = report.to_json()?;
    println!("report JSON: {} bytes in {:.3} s", json.len(), t.elapsed().as_secs_f64());
    let last = report.months.last().ok_or("no months")?;
    println!(
        "last month {}: MRR {} (base minor units), {} active customers",
        last.month, last.mrr_end, last.customers.active_end
    );
    Ok(())
}
