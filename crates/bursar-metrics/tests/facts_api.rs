//! The fact model used directly, as Bursar's own billing will: exchange
//! rates that change over time, continuing a replay, and errors.

use bursar_domain::money::Currency;
use bursar_metrics::fact::{InvoiceFact, NewSubscription, Period, StartStatus};
use bursar_metrics::time::parse_ts;
use bursar_metrics::{
    replay_customer, CustomerHistory, Fact, FactKind, Filter, MetricsError, Month, MovementKind, ReportOptions,
};

fn ts(s: &str) -> i64 {
    parse_ts(s).unwrap()
}

fn fact(t: &str, kind: FactKind) -> Fact {
    Fact { ts: ts(t), customer_id: Some("eu1".into()), kind }
}

/// USD base; EUR at 1.08 until 1 March 2024, 1.20 from then on.
fn catalog() -> bursar_metrics::Catalog {
    let mut c = bursar_metrics::Catalog::new(Currency::USD);
    c.fx_to_base.insert(Currency::EUR, "1.08".parse().unwrap());
    c.fx_changes.insert(Currency::EUR, vec![(ts("2024-03-01T00:00:00Z"), "1.20".parse().unwrap())]);
    c
}

fn facts() -> Vec<Fact> {
    vec![
        fact(
            "2024-01-10T00:00:00Z",
            FactKind::SubscriptionCreated(NewSubscription {
                subscription_id: "s1".into(),
                plan_id: "basic".into(),
                currency: Currency::EUR,
                quantity: 1,
                unit_amount_minor: 899,
                interval_months: 1,
                status: StartStatus::Active,
                trial: None,
                period: Some(Period { start: ts("2024-01-10T00:00:00Z"), end: Some(ts("2024-02-10T00:00:00Z")) }),
                discount: None,
            }),
        ),
        fact(
            "2024-03-10T00:00:00Z",
            FactKind::Renewed {
                subscription_id: "s1".into(),
                period: Period { start: ts("2024-03-10T00:00:00Z"), end: None },
            },
        ),
        fact(
            "2024-03-10T00:00:00Z",
            FactKind::InvoicePaid(InvoiceFact {
                invoice_id: "in3".into(),
                subscription_id: Some("s1".into()),
                currency: Currency::EUR,
                total_minor: 899,
                tax_minor: 0,
            }),
        ),
        fact(
            "2024-04-10T00:00:00Z",
            FactKind::QuantityChanged { subscription_id: Some("s1".into()), quantity: 2, at_period_end: false },
        ),
    ]
}

#[test]
fn the_rate_is_the_one_in_force_when_the_subscription_mrr_last_changed() {
    let c = catalog();
    let r = bursar_metrics::report(
        &c,
        &facts(),
        "2024-01".parse().unwrap(),
        "2024-04".parse().unwrap(),
        &ReportOptions::default(),
    )
    .unwrap();
    // 8.99 EUR × 1.08 = 9.7092 → 9.71 USD.
    assert_eq!(r.months[0].movements.amounts.new, 971);
    // The rate moves on 1 March; the MRR does not.
    assert_eq!((r.months[2].mrr_end, r.months[2].movement_counts.expansion), (971, 0));
    // Cash converts at the rate of its day: 8.99 × 1.20 = 10.788 → 10.79.
    assert_eq!(r.months[2].cash.collected_excl_tax, 1079);
    // Two seats: 17.98 EUR × 1.20 = 21.576 → 21.58; +21.58 − 9.71.
    assert_eq!((r.months[3].movements.amounts.expansion, r.months[3].mrr_end), (1187, 2158));
    assert_eq!(r.months[3].mrr_end_by_currency_native.get(&Currency::EUR), Some(&1798));
}

#[test]
fn extending_a_history_equals_replaying_it_whole() {
    let c = catalog();
    let all = facts();
    let whole = replay_customer(&c, &all).unwrap();
    let mut part = replay_customer(&c, &all[..1]).unwrap();
    part.extend(&c, &all[1..]).unwrap();
    assert_eq!(part, whole);
    // A fact at or before the last step cannot be appended.
    let again = part.extend(&c, &all[3..]);
    assert!(matches!(again, Err(MetricsError::Invalid(_))), "{again:?}");
    // The history serializes for a store and reads back equal.
    let text = serde_json::to_string(&whole).unwrap();
    let back: CustomerHistory = serde_json::from_str(&text).unwrap();
    assert_eq!(back, whole);
}

#[test]
fn bad_inputs_are_errors_not_panics() {
    let c = catalog();
    let mut mixed = facts();
    mixed[1].customer_id = Some("someone else".into());
    assert!(matches!(replay_customer(&c, &mixed), Err(MetricsError::WrongCustomer { .. })));
    assert!(replay_customer(&c, &[]).is_err());
    // A currency without a rate.
    let mut gbp = facts();
    if let FactKind::SubscriptionCreated(ns) = &mut gbp[0].kind {
        ns.currency = Currency::GBP;
    }
    assert!(matches!(replay_customer(&c, &gbp), Err(MetricsError::MissingFxRate(_))));
    // Amounts that overflow.
    let mut huge = facts();
    if let FactKind::SubscriptionCreated(ns) = &mut huge[0].kind {
        ns.unit_amount_minor = i64::MAX;
        ns.quantity = 3;
    }
    assert!(matches!(replay_customer(&c, &huge), Err(MetricsError::Overflow)));
    // Out-of-range timestamps.
    let mut far = facts();
    far[0].ts = i64::MAX;
    assert!(replay_customer(&c, &far).is_err());
    // An empty or reversed report range.
    let from: Month = "2024-05".parse().unwrap();
    assert!(bursar_metrics::report(&c, &facts(), from, from.prev(), &ReportOptions::default()).is_err());
    // A discount starting outside years 1..=9999.
    let mut odd = facts();
    odd.push(fact(
        "2024-05-10T00:00:00Z",
        FactKind::DiscountApplied {
            subscription_id: "s1".into(),
            discount: bursar_metrics::fact::Discount {
                coupon_id: "x".into(),
                off: bursar_metrics::fact::DiscountOff::Percent("10".parse().unwrap()),
                duration: bursar_metrics::fact::DiscountDuration::Repeating { months: u32::MAX },
                start: i64::MIN,
            },
        },
    ));
    assert!(replay_customer(&c, &odd).is_err());
    // A renewal of an unknown subscription is a warning, not a failure.
    let mut stray = facts();
    stray.push(fact(
        "2024-05-10T00:00:00Z",
        FactKind::Renewed {
            subscription_id: "nope".into(),
            period: Period { start: ts("2024-05-10T00:00:00Z"), end: None },
        },
    ));
    let h = replay_customer(&c, &stray).unwrap();
    assert_eq!(h.warnings.len(), 1);
    assert!(h.warnings[0].contains("nope"));
}

#[test]
fn a_resume_without_an_id_finds_the_only_live_subscription() {
    let c = catalog();
    let mut f = facts();
    f.push(fact("2024-05-01T00:00:00Z", FactKind::Paused { subscription_id: None }));
    f.push(fact("2024-06-01T00:00:00Z", FactKind::Resumed { subscription_id: None, period: None }));
    let h = replay_customer(&c, &f).unwrap();
    let kinds: Vec<_> = h.movements.iter().map(|m| m.kind).collect();
    assert_eq!(
        kinds,
        vec![MovementKind::New, MovementKind::Expansion, MovementKind::Contraction, MovementKind::Expansion]
    );
    // Resuming re-fixes the rate: 17.98 EUR at 1.20 again.
    assert_eq!(h.movements[3].amount, 2158);
    assert!(h.filter == Filter::default());
}
