//! Properties over random histories from `generate` (spec-format events):
//! the monthly identities, an independent recomputation of month-end MRR,
//! aggregation as an order-free sum of customers, and incremental
//! recomputation of one customer.

mod common;

use std::collections::BTreeMap;

use bursar_metrics::generate::{generate, GenOptions, Rng};
use bursar_metrics::import::EventBody;
use bursar_metrics::{
    import, replay_all, replay_customer, Accumulator, Additive, CustomerHistory, Fact, Filter, ImportEvent,
    ImportOptions, Month, Report, ReportOptions,
};
use proptest::prelude::*;

fn round_half_away(num: i128, den: i128) -> i128 {
    assert!(den > 0);
    let q = num.abs() * 2 + den;
    let r = q / (den * 2);
    if num < 0 {
        -r
    } else {
        r
    }
}

/// An independent month-end MRR, straight from the import events and the
/// spec's formulas (fixed rates, so base MRR is a function of native MRR).
/// Returns per month: (MRR base, MRR native by currency, paying customers).
fn reference_mrr(
    events: &[ImportEvent],
    catalog: &bursar_metrics::Catalog,
    months: &[Month],
) -> Vec<(i64, BTreeMap<String, i64>, i64)> {
    #[derive(Clone)]
    struct Sub {
        customer: String,
        plan: String,
        currency: String,
        unit: i64,
        qty: i64,
        months: i64,
        counting: bool,
        ended: bool,
        period_start: Option<i64>,
        discounts: Vec<(String, i64)>,
    }
    let exponent = |c: &str| if c == "JPY" { 0 } else { 2 };
    let rate = |c: &str| -> (i128, i128) {
        let s = catalog.fx_to_base[&c.parse().unwrap()].to_string();
        let (int, frac) = s.split_once('.').unwrap_or((&s, ""));
        (format!("{int}{frac}").parse().unwrap(), 10_i128.pow(frac.len() as u32))
    };
    let plan_months = |plan: &str| i64::from(catalog.plans[plan].interval_months);
    let add_months = |ts: i64, n: i64| -> i64 {
        let d = jiff::Timestamp::from_second(ts).unwrap().to_zoned(jiff::tz::TimeZone::UTC);
        let target = d.date().first_of_month().checked_add(jiff::Span::new().months(n)).unwrap();
        let day = d.day().min(target.days_in_month());
        let date = jiff::civil::date(target.year(), target.month(), day);
        date.to_datetime(d.time()).to_zoned(jiff::tz::TimeZone::UTC).unwrap().timestamp().as_second()
    };
    let mrr_of = |s: &Sub| -> i64 {
        if !s.counting || s.ended || catalog.free_plan.as_deref() == Some(s.plan.as_str()) {
            return 0;
        }
        let gross = i128::from(s.unit) * i128::from(s.qty);
        let mut discount = 0;
        if let Some(p) = s.period_start {
            // The latest-applied discount starting at or before the period.
            if let Some((coupon, start)) = s.discounts.iter().rev().find(|(_, start)| *start <= p) {
                let c = &catalog.coupons[coupon];
                let applies = match c.duration {
                    bursar_metrics::fact::DiscountDuration::Once => p == *start,
                    bursar_metrics::fact::DiscountDuration::Repeating { months } => {
                        p < add_months(*start, i64::from(months))
                    }
                    bursar_metrics::fact::DiscountDuration::Forever => true,
                };
                if applies {
                    discount = match &c.off {
                        bursar_metrics::fact::DiscountOff::Percent(pct) => {
                            let s = pct.to_string();
                            let (int, frac) = s.split_once('.').unwrap_or((&s, ""));
                            let num: i128 = format!("{int}{frac}").parse().unwrap();
                            round_half_away(gross * num, 100 * 10_i128.pow(frac.len() as u32)).min(gross)
                        }
                        bursar_metrics::fact::DiscountOff::Fixed(m) => {
                            i128::from(m.get(&s.currency.parse().unwrap()).copied().unwrap_or(0)).min(gross)
                        }
                    };
                }
            }
        }
        round_half_away(gross - discount, i128::from(s.months)) as i64
    };
    let base_of = |native: i64, currency: &str| -> i64 {
        let (num, den) = rate(currency);
        let scale = 10_i128.pow(2) / 10_i128.pow(exponent(currency));
        round_half_away(i128::from(native) * num * scale, den) as i64
    };
    let mut subs: BTreeMap<String, Sub> = BTreeMap::new();
    let mut out = Vec::new();
    let mut i = 0;
    for m in months {
        while i < events.len() && events[i].ts < m.end() {
            let e = &events[i];
            let ts = e.ts;
            i += 1;
            let get =
                |subs: &mut BTreeMap<String, Sub>, id: &Option<String>| id.clone().filter(|id| subs.contains_key(id));
            match &e.body {
                EventBody::SubscriptionCreated(b) => {
                    let trial = b.status == bursar_metrics::import::CreatedStatus::Trialing;
                    subs.insert(
                        b.subscription_id.clone(),
                        Sub {
                            customer: e.customer_id.clone().unwrap(),
                            plan: b.plan_id.clone(),
                            currency: b.currency.to_string(),
                            unit: b.unit_amount_minor.unwrap(),
                            qty: b.quantity,
                            months: plan_months(&b.plan_id),
                            counting: !trial,
                            ended: false,
                            period_start: if trial { None } else { Some(b.current_period_start.unwrap_or(ts)) },
                            discounts: b.discount.iter().map(|d| (d.coupon_id.clone(), d.start)).collect(),
                        },
                    );
                }
                EventBody::TrialEnded(b) => {
                    let s = subs.get_mut(&b.subscription_id).unwrap();
                    if b.outcome == bursar_metrics::import::TrialOutcomeName::Expired {
                        s.ended = true;
                    } else {
                        s.counting = true;
                        s.period_start = Some(b.current_period_start.unwrap_or(ts));
                    }
                }
                EventBody::Renewed(b) => {
                    subs.get_mut(&b.subscription_id).unwrap().period_start = Some(b.current_period_start)
                }
                EventBody::PlanChanged(b) => {
                    let s = subs.get_mut(&b.subscription_id).unwrap();
                    s.plan = b.to_plan_id.clone();
                    s.unit = b.unit_amount_minor.unwrap();
                    s.months = plan_months(&b.to_plan_id);
                    if let Some(q) = b.quantity {
                        s.qty = q;
                    }
                    if b.discount_cleared {
                        s.discounts.clear();
                    }
                }
                EventBody::QuantityChanged(b) => {
                    if let Some(id) = get(&mut subs, &b.subscription_id) {
                        subs.get_mut(&id).unwrap().qty = b.to_quantity;
                    }
                }
                EventBody::DiscountApplied(b) => {
                    subs.get_mut(&b.subscription_id).unwrap().discounts.push((b.coupon_id.clone(), b.start))
                }
                EventBody::Paused(b) => {
                    if let Some(id) = get(&mut subs, &b.subscription_id) {
                        subs.get_mut(&id).unwrap().counting = false;
                    }
                }
                EventBody::Resumed(b) => {
                    if let Some(id) = get(&mut subs, &b.subscription_id) {
                        let s = subs.get_mut(&id).unwrap();
                        s.counting = true;
                        s.period_start = b.current_period_start.or(s.period_start);
                    }
                }
                EventBody::PastDue(b) => subs.get_mut(&b.subscription_id).unwrap().counting = true,
                EventBody::Recovered(b) => subs.get_mut(&b.subscription_id).unwrap().counting = true,
                EventBody::Canceled(b) => subs.get_mut(&b.subscription_id).unwrap().ended = true,
                EventBody::RefundCreated(b) if b.cancels_subscription => {
                    if let Some(id) = get(&mut subs, &b.subscription_id) {
                        subs.get_mut(&id).unwrap().ended = true;
                    }
                }
                _ => {}
            }
        }
        let mut total = 0;
        let mut native: BTreeMap<String, i64> = BTreeMap::new();
        let mut per_customer: BTreeMap<&str, i64> = BTreeMap::new();
        for s in subs.values() {
            let n = mrr_of(s);
            if n != 0 {
                *native.entry(s.currency.clone()).or_default() += n;
                let b = base_of(n, &s.currency);
                total += b;
                *per_customer.entry(s.customer.as_str()).or_default() += b;
            }
        }
        native.retain(|_, v| *v != 0);
        out.push((total, native, per_customer.values().filter(|v| **v > 0).count() as i64));
    }
    out
}

fn by_customer(facts: &[Fact]) -> BTreeMap<String, Vec<Fact>> {
    let mut m: BTreeMap<String, Vec<Fact>> = BTreeMap::new();
    for f in facts {
        if let Some(c) = &f.customer_id {
            if f.event_name() != Some("marketing_spend.recorded") {
                m.entry(c.clone()).or_default().push(f.clone());
            }
        }
    }
    m
}

fn check_report_invariants(r: &Report) {
    common::assert_identities(r);
    for mo in &r.months {
        for k in bursar_metrics::MovementKind::ALL {
            assert!(mo.movement_customers.get(k) <= mo.movement_counts.get(k));
        }
        let t = &mo.trials.counts;
        assert_eq!(
            t.ended,
            t.converted_paid + t.converted_past_due + t.expired + t.canceled_during_trial,
            "{}",
            mo.month
        );
        let f = &r.funnel.by_signup_month[&mo.month];
        assert_eq!(f.counts[0], mo.signups, "the default funnel enters at sign-up, {}", mo.month);
        assert!(f.counts.windows(2).all(|w| w[1] <= w[0]));
        let ftp = &r.free_to_paid[&mo.month];
        assert_eq!(ftp.signups, mo.signups);
        assert!(ftp.paid_within_30d <= ftp.paid_by_horizon && ftp.paid_by_horizon <= ftp.signups);
    }
    let new: i64 = r.months.iter().map(|mo| mo.customers.new).sum();
    let new_mrr: i64 = r.months.iter().map(|mo| mo.movements.amounts.new).sum();
    assert_eq!(r.cohorts.logo_retention.values().map(|c| c.size).sum::<i64>(), new);
    assert_eq!(r.cohorts.net_mrr_retention.values().map(|c| c.base_new_business_mrr).sum::<i64>(), new_mrr);
    for (c, row) in &r.cohorts.logo_retention {
        assert_eq!(row.active.len() as i64, r.to.since(*c) + 1);
        assert!(row.active.iter().all(|a| *a <= row.size));
    }
}

fn options(seed: u64, customers: usize, months: u32, every: i64) -> GenOptions {
    GenOptions { seed, customers, start: "2023-11".parse().unwrap(), months, action_every_days: every }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn identities_hold_and_mrr_matches_an_independent_recomputation(
        seed in any::<u64>(), customers in 1usize..40, months in 1u32..16, every in 3i64..60,
    ) {
        let opts = options(seed, customers, months, every);
        let g = generate(&opts);
        let text = g.to_jsonl();
        let imp = import(&g.catalog.to_json(), &text, ImportOptions::default()).unwrap();
        // The written file reads back to exactly the generated events.
        prop_assert_eq!(&imp.events, &g.events);
        let facts = imp.facts().unwrap();
        let to = opts.start.offset(i64::from(months) - 1);
        let r = bursar_metrics::report(&imp.catalog, &facts, opts.start, to, &ReportOptions::default()).unwrap();
        check_report_invariants(&r);
        let months_list: Vec<Month> = Month::range(opts.start, to).collect();
        let reference = reference_mrr(&imp.events, &imp.catalog, &months_list);
        for (mo, (mrr, native, paying)) in r.months.iter().zip(reference) {
            prop_assert_eq!(mo.mrr_end, mrr, "MRR at the end of {}", mo.month);
            let got: BTreeMap<String, i64> =
                mo.mrr_end_by_currency_native.iter().map(|(c, v)| (c.to_string(), *v)).collect();
            prop_assert_eq!(got, native, "native MRR at the end of {}", mo.month);
            prop_assert_eq!(mo.customers.paying_end, paying, "paying customers at the end of {}", mo.month);
        }
        let histories = replay_all(&imp.catalog, &facts, &Filter::default()).unwrap();
        prop_assert!(histories.iter().all(|h| h.warnings.is_empty()), "generated histories apply cleanly");
        // A sub-range of months reports the same months as the whole range.
        if months > 2 {
            let from = opts.start.offset(1);
            let part = bursar_metrics::report(&imp.catalog, &facts, from, to.prev(), &ReportOptions::default()).unwrap();
            prop_assert_eq!(&part.months[..], &r.months[1..r.months.len() - 1]);
        }
    }

    #[test]
    fn aggregating_histories_in_any_order_and_in_pieces_equals_the_full_computation(
        seed in any::<u64>(), customers in 1usize..30, months in 1u32..13,
    ) {
        let opts = options(seed, customers, months, 20);
        let g = generate(&opts);
        let facts: Vec<Fact> =
            g.events.iter().map(|e| bursar_metrics::from_import_event(e, &g.catalog)).collect::<Result<_, _>>().unwrap();
        let to = opts.start.offset(i64::from(months) - 1);
        let report_options = ReportOptions {
            horizon: g.catalog.horizon_exclusive,
            base_currency: Some(g.catalog.base_currency),
            ..ReportOptions::default()
        };
        let full = bursar_metrics::report(&g.catalog, &facts, opts.start, to, &report_options).unwrap();
        let spend = bursar_metrics::spend_by_month(&g.catalog, &facts, &Filter::default()).unwrap();
        let mut rng = Rng::new(seed ^ 0x5eed);
        // Each customer replayed on its own, some in two pieces.
        let mut histories: Vec<CustomerHistory> = Vec::new();
        for (_, fs) in by_customer(&facts) {
            let split_month = opts.start.offset(rng.range(0, i64::from(months) + 1));
            let (before, after): (Vec<Fact>, Vec<Fact>) = fs.iter().cloned().partition(|f| f.ts < split_month.start());
            let h = if before.is_empty() {
                replay_customer(&g.catalog, &after).unwrap()
            } else {
                let mut h = replay_customer(&g.catalog, &before).unwrap();
                h.extend(&g.catalog, &after).unwrap();
                h
            };
            prop_assert_eq!(&h, &replay_customer(&g.catalog, &fs).unwrap());
            histories.push(h);
        }
        // Added in a shuffled order, with some added twice and taken back.
        for i in (1..histories.len()).rev() {
            let j = rng.range(0, i as i64 + 1) as usize;
            histories.swap(i, j);
        }
        let mut acc = Accumulator::new(opts.start, to, &report_options).unwrap();
        for (i, h) in histories.iter().enumerate() {
            acc.add(h).unwrap();
            if i % 3 == 0 {
                acc.add(h).unwrap();
                acc.remove(h).unwrap();
            }
        }
        prop_assert_eq!(&acc.report(Some(&spend)).unwrap(), &full);
        prop_assert_eq!(
            &bursar_metrics::aggregate(&histories, Some(&spend), opts.start, to, &report_options).unwrap(),
            &full
        );
        // The same sums from contribution rows, as a table-based store
        // would keep them: flows by month, levels as running totals.
        let mut level = bursar_metrics::Levels::default();
        let rows: Vec<_> = histories.iter().map(|h| h.month_contributions().unwrap()).collect();
        for (i, m) in Month::range(opts.start, to).enumerate() {
            let mut flows = bursar_metrics::engine::Flows::default();
            for r in rows.iter().flatten() {
                if r.month == m {
                    flows.add_signed(&r.flows, 1).unwrap();
                }
                if r.month == m || (i == 0 && r.month < m) {
                    level.add_signed(&r.level_change, 1).unwrap();
                }
            }
            let mo = &full.months[i];
            prop_assert_eq!(level.mrr, mo.mrr_end);
            prop_assert_eq!(level.active, mo.customers.active_end);
            prop_assert_eq!(&level.mrr_by_currency_native, &mo.mrr_end_by_currency_native);
            prop_assert_eq!(flows.movement_amounts.new, mo.movements.amounts.new);
            prop_assert_eq!(flows.cash, mo.cash);
        }
        // A store can keep the sums as a document.
        let doc = serde_json::to_string(&acc).unwrap();
        prop_assert_eq!(&serde_json::from_str::<Accumulator>(&doc).unwrap(), &acc);
        // Taking every customer back leaves the empty sums.
        for h in &histories {
            acc.remove(h).unwrap();
        }
        prop_assert_eq!(acc, Accumulator::new(opts.start, to, &report_options).unwrap());
    }

    #[test]
    fn recomputing_one_customer_from_a_month_on_equals_the_full_recompute(
        seed in any::<u64>(), customers in 1usize..30, months in 2u32..13, pick in any::<u64>(), drop_mask in any::<u64>(),
    ) {
        let opts = options(seed, customers, months, 15);
        let g = generate(&opts);
        let facts: Vec<Fact> =
            g.events.iter().map(|e| bursar_metrics::from_import_event(e, &g.catalog)).collect::<Result<_, _>>().unwrap();
        let to = opts.start.offset(i64::from(months) - 1);
        let groups = by_customer(&facts);
        prop_assume!(!groups.is_empty());
        let (cid, old_facts) = groups.iter().nth((pick % groups.len() as u64) as usize).unwrap();
        let m = opts.start.offset((pick >> 32) as i64 % i64::from(months));
        // The customer's facts from month m on change: some are dropped.
        let mut bit = 0;
        let new_facts: Vec<Fact> = old_facts
            .iter()
            .filter(|f| {
                if f.ts < m.start() {
                    return true;
                }
                bit = (bit + 1) % 64;
                drop_mask & (1 << bit) == 0
            })
            .cloned()
            .collect();
        prop_assume!(!new_facts.is_empty());
        let all_new: Vec<Fact> = facts
            .iter()
            .filter(|f| f.customer_id.as_deref() != Some(cid.as_str()) || f.event_name() == Some("marketing_spend.recorded"))
            .cloned()
            .chain(new_facts.iter().cloned())
            .collect();
        let report_options = ReportOptions { horizon: g.catalog.horizon_exclusive, ..ReportOptions::default() };
        let spend = bursar_metrics::spend_by_month(&g.catalog, &facts, &Filter::default()).unwrap();
        // Incremental: take the old history back, add the recomputed one.
        let mut acc = Accumulator::new(opts.start, to, &report_options).unwrap();
        let old_histories = replay_all(&g.catalog, &facts, &Filter::default()).unwrap();
        for h in &old_histories {
            acc.add(h).unwrap();
        }
        let old = old_histories.iter().find(|h| &h.customer_id == cid).unwrap();
        let (before, after): (Vec<Fact>, Vec<Fact>) = new_facts.iter().cloned().partition(|f| f.ts < m.start());
        let new = if before.is_empty() {
            replay_customer(&g.catalog, &after).unwrap()
        } else {
            let mut h = replay_customer(&g.catalog, &before).unwrap();
            h.extend(&g.catalog, &after).unwrap();
            h
        };
        // Months before m are untouched by the change.
        let head = |h: &CustomerHistory| h.months.iter().filter(|r| r.month < m).cloned().collect::<Vec<_>>();
        prop_assert_eq!(head(old), head(&new));
        let early = |h: &CustomerHistory| h.movements.iter().filter(|x| x.month < m).cloned().collect::<Vec<_>>();
        prop_assert_eq!(early(old), early(&new));
        acc.remove(old).unwrap();
        acc.add(&new).unwrap();
        let incremental = acc.report(Some(&spend)).unwrap();
        let recomputed = bursar_metrics::report(&g.catalog, &all_new, opts.start, to, &report_options).unwrap();
        let mut recomputed = recomputed;
        recomputed.base_currency = None;
        prop_assert_eq!(incremental, recomputed);
    }
}

#[test]
fn the_generator_is_deterministic_and_feeds_a_large_history_quickly_enough_to_test() {
    let opts = GenOptions { seed: 7, customers: 3000, ..GenOptions::default() };
    let a = generate(&opts);
    let b = generate(&opts);
    assert_eq!(a.events, b.events);
    assert!(a.events.len() > 3000 * 5, "{} events", a.events.len());
    let facts: Vec<Fact> =
        a.events.iter().map(|e| bursar_metrics::from_import_event(e, &a.catalog)).collect::<Result<_, _>>().unwrap();
    let r = bursar_metrics::report(&a.catalog, &facts, opts.start, opts.start.offset(11), &ReportOptions::default())
        .unwrap();
    check_report_invariants(&r);
    assert!(r.months.last().unwrap().mrr_end > 0);
}
