//! Hand-built histories for every row of the movement table and every
//! special rule of the spec, each expected amount worked out by hand in the
//! comments from the catalog in `common` (USD base, EUR 1.08).

mod common;

use bursar_metrics::drill::{active_at_end, cohort_members, movements_in, paying_at_end};
use bursar_metrics::engine::PerKind;
use bursar_metrics::{Filter, MovementKind, Rate, ReportOptions};
use common::*;
use serde_json::json;

fn rate(num: i64, den: i64) -> Rate {
    Rate::new(num, den)
}

#[test]
fn a_direct_subscription_is_new_business_and_a_renewal_changes_nothing() {
    let events = [
        signup("2024-01-05T10:00:00Z", "c1", "DE", "USD"),
        active("2024-01-10T00:00:00Z", "c1", "s1", "pro_m", "USD", 1999, 1, "2024-02-10T00:00:00Z"),
        // 19.99 + 19 % tax 3.80 = 23.79.
        paid("2024-01-10T00:00:00Z", "c1", "s1", "in1", "USD", 1999, 380),
        renewed("2024-02-10T00:00:00Z", "c1", "s1", "2024-03-10T00:00:00Z"),
        paid("2024-02-10T00:00:00Z", "c1", "s1", "in2", "USD", 1999, 380),
    ];
    let r = run(&events, "2024-01", "2024-02");
    let jan = r.month(m("2024-01")).unwrap();
    assert_eq!((jan.mrr_start, jan.mrr_end, jan.arr_end), (0, 1999, 23_988));
    assert_eq!(jan.movements.amounts.new, 1999);
    assert_eq!(jan.movement_counts, PerKind { new: 1, ..PerKind::default() });
    assert_eq!(jan.movement_customers, PerKind { new: 1, ..PerKind::default() });
    assert_eq!((jan.customers.active_start, jan.customers.active_end, jan.customers.paying_end), (0, 1, 1));
    assert_eq!((jan.customers.new, jan.signups), (1, 1));
    assert_eq!(jan.new_customers_per_signup, rate(1, 1));
    assert_eq!(jan.logo_churn_rate, Rate { num: 0, den: 0, value: None });
    assert_eq!(jan.arpa_end, Some(1999));
    assert_eq!((jan.cash.invoices_paid, jan.cash.collected_excl_tax, jan.cash.tax_collected), (1, 1999, 380));
    assert_eq!(jan.revenue_by_country.get("DE"), Some(&1999));
    assert_eq!(jan.tax_by_country.get("DE"), Some(&380));
    assert_eq!(jan.mrr_end_by_currency_native.get("USD".parse().as_ref().unwrap()), Some(&1999));
    let feb = r.month(m("2024-02")).unwrap();
    assert_eq!((feb.mrr_start, feb.mrr_end), (1999, 1999));
    assert_eq!(feb.movement_counts, PerKind::default());
    assert_eq!(feb.logo_churn_rate, rate(0, 1));
    assert_eq!(feb.logo_churn_rate.value, Some(0.0));
    assert_eq!(feb.gross_mrr_churn_rate, rate(0, 1999));
    assert_eq!(feb.quick_ratio.value, None);
    assert_eq!(feb.cash.collected_excl_tax, 1999);
    assert_eq!(r.cohorts.logo_retention[&m("2024-01")].active, vec![1, 1]);
}

#[test]
fn a_trial_converts_into_new_business_at_its_end() {
    let events = [
        trialing("2024-01-25T00:00:00Z", "c2", "s2", "pro_m", 1999, "2024-02-08T00:00:00Z"),
        trial_ended("2024-02-08T00:00:00Z", "c2", "s2", "converted", Some("2024-03-08T00:00:00Z")),
        paid("2024-02-08T00:00:00Z", "c2", "s2", "in1", "USD", 1999, 0),
    ];
    let r = run(&events, "2024-01", "2024-02");
    let jan = r.month(m("2024-01")).unwrap();
    // Trialing is not MRR and not yet a customer.
    assert_eq!((jan.mrr_end, jan.customers.active_end), (0, 0));
    assert_eq!((jan.trials.counts.started, jan.trials.counts.ended), (1, 0));
    let feb = r.month(m("2024-02")).unwrap();
    assert_eq!(feb.movements.amounts.new, 1999);
    assert_eq!(feb.customers.new, 1);
    assert_eq!((feb.trials.counts.ended, feb.trials.counts.converted_paid), (1, 1));
    assert_eq!(feb.trials.trial_conversion_rate, rate(1, 1));
    let h = histories(&events);
    assert_eq!(h[0].movements[0].ts, bursar_metrics::time::parse_ts("2024-02-08T00:00:00Z").unwrap());
    assert_eq!(h[0].state.cohort, Some(m("2024-02")));
}

#[test]
fn a_trial_into_past_due_is_new_business_and_churns_when_dunning_gives_up() {
    let events = [
        trialing("2024-01-20T00:00:00Z", "c3", "s3", "pro_m", 1999, "2024-02-03T00:00:00Z"),
        trial_ended("2024-02-03T00:00:00Z", "c3", "s3", "past_due", Some("2024-03-03T00:00:00Z")),
        failed("2024-02-03T00:00:00Z", "c3", "s3", "in1", 1999),
        ev(
            "2024-02-03T00:00:00Z",
            "subscription.past_due",
            "c3",
            json!({"subscription_id": "s3", "status": "past_due", "invoice_id": "in1"}),
        ),
        failed("2024-02-10T00:00:00Z", "c3", "s3", "in1", 1999),
        // Past due keeps counting until dunning gives up.
        canceled("2024-02-20T00:00:00Z", "c3", "s3", "payment_failed"),
    ];
    let r = run(&events, "2024-02", "2024-02");
    let feb = &r.months[0];
    assert_eq!((feb.movements.amounts.new, feb.movements.amounts.churn), (1999, 1999));
    assert_eq!(feb.movement_counts, PerKind { new: 1, churn: 1, ..PerKind::default() });
    assert_eq!((feb.customers.new, feb.customers.churned, feb.customers.active_end), (1, 1, 0));
    assert_eq!(
        (feb.trials.counts.ended, feb.trials.counts.converted_past_due, feb.trials.counts.converted_paid),
        (1, 1, 0)
    );
    assert_eq!(feb.trials.trial_conversion_rate, rate(0, 1));
    assert_eq!(feb.cash.payment_failures, 2);
    assert_eq!(feb.payment_success_rate, rate(0, 2));
    // The churn is at the cancellation, not at the failed charge.
    let h = histories(&events);
    let churn = h[0].movements.iter().find(|mv| mv.kind == MovementKind::Churn).unwrap();
    assert_eq!(churn.ts, bursar_metrics::time::parse_ts("2024-02-20T00:00:00Z").unwrap());
}

#[test]
fn a_lead_whose_trial_expired_and_who_buys_later_is_new_business() {
    let events = [
        signup("2024-01-02T00:00:00Z", "c4", "FR", "USD"),
        trialing("2024-01-02T00:00:00Z", "c4", "s4", "pro_m", 1999, "2024-01-16T00:00:00Z"),
        trial_ended("2024-01-16T00:00:00Z", "c4", "s4", "expired", None),
        active("2024-03-05T00:00:00Z", "c4", "s5", "basic_m", "USD", 999, 1, "2024-04-05T00:00:00Z"),
    ];
    let r = run(&events, "2024-01", "2024-03");
    let jan = r.month(m("2024-01")).unwrap();
    assert_eq!((jan.trials.counts.ended, jan.trials.counts.expired, jan.trials.counts.converted_paid), (1, 1, 0));
    assert_eq!(jan.movement_counts, PerKind::default());
    let mar = r.month(m("2024-03")).unwrap();
    assert_eq!((mar.movements.amounts.new, mar.movements.amounts.reactivation), (999, 0));
    assert_eq!(r.cohorts.logo_retention.keys().copied().collect::<Vec<_>>(), vec![m("2024-03")]);
    let ftp = r.free_to_paid[&m("2024-01")];
    assert_eq!((ftp.signups, ftp.paid_within_30d, ftp.paid_by_horizon), (1, 0, 1));
}

#[test]
fn upgrades_and_a_second_subscription_are_expansion_their_reverse_contraction() {
    let events = [
        active("2024-01-03T00:00:00Z", "c5", "s1", "basic_m", "USD", 999, 1, "2024-02-03T00:00:00Z"),
        // 9.99 → 19.99 now: +10.00.
        plan_changed("2024-01-20T00:00:00Z", "c5", "s1", "basic_m", "pro_m", 1999, "immediate"),
        renewed("2024-02-03T00:00:00Z", "c5", "s1", "2024-03-03T00:00:00Z"),
        // A second subscription: 3 seats × 5.00.
        active("2024-02-10T00:00:00Z", "c5", "s2", "seat_m", "USD", 500, 3, "2024-03-10T00:00:00Z"),
        // Seats 3 → 5: +10.00.
        ev(
            "2024-02-20T00:00:00Z",
            "subscription.quantity_changed",
            "c5",
            json!({"subscription_id": "s2", "from_quantity": 3, "to_quantity": 5, "effective": "immediate", "proration": null}),
        ),
        renewed("2024-03-03T00:00:00Z", "c5", "s1", "2024-04-03T00:00:00Z"),
        // Ending one of two subscriptions: −25.00.
        canceled("2024-03-15T00:00:00Z", "c5", "s2", "not_needed"),
        // A downgrade at the period end: −10.00.
        renewed("2024-04-03T00:00:00Z", "c5", "s1", "2024-05-03T00:00:00Z"),
        plan_changed("2024-04-03T00:00:00Z", "c5", "s1", "pro_m", "basic_m", 999, "period_end"),
    ];
    let r = run(&events, "2024-01", "2024-04");
    let jan = r.month(m("2024-01")).unwrap();
    assert_eq!((jan.movements.amounts.new, jan.movements.amounts.expansion, jan.mrr_end), (999, 1000, 1999));
    let feb = r.month(m("2024-02")).unwrap();
    assert_eq!((feb.movements.amounts.expansion, feb.mrr_end), (1500 + 1000, 4499));
    assert_eq!((feb.movement_counts.expansion, feb.movement_customers.expansion), (2, 1));
    let mar = r.month(m("2024-03")).unwrap();
    assert_eq!((mar.movements.amounts.contraction, mar.movements.amounts.churn, mar.mrr_end), (2500, 0, 1999));
    assert_eq!(mar.customers.churned, 0);
    let apr = r.month(m("2024-04")).unwrap();
    assert_eq!((apr.movements.amounts.contraction, apr.mrr_end), (1000, 999));
    // Net MRR churn of April: (0 + 1000 − 0 − 0) ÷ 1999.
    assert_eq!(apr.net_mrr_churn_rate, rate(1000, 1999));
    assert!(r.months.iter().all(|mo| mo.customers.active_end == 1));
}

#[test]
fn churn_at_the_period_end_and_reactivation_in_the_original_cohort() {
    let events = [
        active("2024-01-10T00:00:00Z", "c6", "s1", "pro_m", "USD", 1999, 1, "2024-02-10T00:00:00Z"),
        // A scheduled cancellation changes nothing until the period ends.
        ev(
            "2024-01-20T00:00:00Z",
            "subscription.cancel_requested",
            "c6",
            json!({"subscription_id": "s1", "at_period_end": true, "effective_at": "2024-02-10T00:00:00Z", "reason": "price"}),
        ),
        canceled("2024-02-10T00:00:00Z", "c6", "s1", "price"),
        active("2024-04-02T00:00:00Z", "c6", "s2", "basic_m", "USD", 999, 1, "2024-05-02T00:00:00Z"),
    ];
    let r = run(&events, "2024-01", "2024-06");
    let jan = r.month(m("2024-01")).unwrap();
    assert_eq!((jan.mrr_end, jan.movements.amounts.churn), (1999, 0));
    assert_eq!((jan.scheduled_churn.mrr, jan.scheduled_churn.subscriptions), (1999, 1));
    let feb = r.month(m("2024-02")).unwrap();
    assert_eq!((feb.movements.amounts.churn, feb.customers.churned, feb.customers.active_end), (1999, 1, 0));
    assert_eq!(feb.scheduled_churn.mrr, 0);
    assert_eq!(feb.logo_churn_rate, rate(1, 1));
    assert_eq!(feb.logo_churn_rate_stripe_style, rate(1, 1));
    assert_eq!(feb.gross_mrr_churn_rate, rate(1999, 1999));
    // ARPA undefined with no active customer, so LTV too.
    assert_eq!((feb.arpa_end, feb.ltv), (None, None));
    let apr = r.month(m("2024-04")).unwrap();
    assert_eq!((apr.movements.amounts.reactivation, apr.movements.amounts.new), (999, 0));
    assert_eq!((apr.customers.reactivated, apr.customers.active_end), (1, 1));
    let logo = &r.cohorts.logo_retention[&m("2024-01")];
    assert_eq!(logo.size, 1);
    assert_eq!(logo.active, vec![1, 0, 0, 1, 1, 1]);
    assert_eq!(logo.rate[3], rate(1, 1));
    let nmrr = &r.cohorts.net_mrr_retention[&m("2024-01")];
    assert_eq!(nmrr.base_new_business_mrr, 1999);
    assert_eq!(nmrr.mrr, vec![1999, 0, 0, 999, 999, 999]);
    assert_eq!(nmrr.rate[3], rate(999, 1999));
    assert!(!r.cohorts.logo_retention.contains_key(&m("2024-04")));
}

#[test]
fn a_pause_is_contraction_and_a_resume_expansion_never_churn() {
    let events = [
        active("2024-01-05T00:00:00Z", "c7", "s1", "pro_m", "USD", 1999, 1, "2024-02-05T00:00:00Z"),
        ev(
            "2024-01-25T00:00:00Z",
            "subscription.pause_scheduled",
            "c7",
            json!({"subscription_id": "s1", "pause_start": "2024-02-05T00:00:00Z", "resumes_at": "2024-04-05T00:00:00Z"}),
        ),
        ev(
            "2024-02-05T00:00:00Z",
            "subscription.paused",
            "c7",
            json!({"subscription_id": "s1", "status": "paused", "resumes_at": "2024-04-05T00:00:00Z"}),
        ),
        ev(
            "2024-04-05T00:00:00Z",
            "subscription.resumed",
            "c7",
            json!({"subscription_id": "s1", "status": "active", "current_period_start": "2024-04-05T00:00:00Z", "current_period_end": "2024-05-05T00:00:00Z"}),
        ),
    ];
    let r = run(&events, "2024-01", "2024-04");
    let feb = r.month(m("2024-02")).unwrap();
    assert_eq!((feb.movements.amounts.contraction, feb.movements.amounts.churn, feb.mrr_end), (1999, 0, 0));
    assert_eq!((feb.customers.churned, feb.customers.active_end, feb.customers.paying_end), (0, 1, 0));
    // ARPA counts the paused customer: 0 ÷ 1; ARPPU has no paying customer.
    assert_eq!((feb.arpa_end, feb.arppu_end), (Some(0), None));
    let mar = r.month(m("2024-03")).unwrap();
    assert_eq!((mar.customers.active_start, mar.customers.active_end, mar.movement_counts), (1, 1, PerKind::default()));
    let apr = r.month(m("2024-04")).unwrap();
    assert_eq!((apr.movements.amounts.expansion, apr.movements.amounts.reactivation, apr.mrr_end), (1999, 0, 1999));
    assert_eq!(r.cohorts.logo_retention[&m("2024-01")].active, vec![1, 1, 1, 1]);
}

#[test]
fn a_paused_customer_whose_last_subscription_ends_churns_with_zero() {
    let events = [
        active("2024-01-05T00:00:00Z", "c8", "s1", "pro_m", "USD", 1999, 1, "2024-02-05T00:00:00Z"),
        ev(
            "2024-02-01T00:00:00Z",
            "subscription.paused",
            "c8",
            json!({"subscription_id": "s1", "status": "paused", "resumes_at": null}),
        ),
        canceled("2024-03-10T00:00:00Z", "c8", "s1", "gone"),
    ];
    let r = run(&events, "2024-03", "2024-03");
    let mar = &r.months[0];
    assert_eq!((mar.mrr_start, mar.mrr_end), (0, 0));
    assert_eq!((mar.movements.amounts.churn, mar.movement_counts.churn), (0, 1));
    assert_eq!((mar.customers.active_start, mar.customers.churned, mar.customers.active_end), (1, 1, 0));
    assert_eq!(mar.logo_churn_rate, rate(1, 1));
    // No MRR was lost this month.
    assert_eq!(mar.gross_mrr_churn_rate, Rate { num: 0, den: 0, value: None });
}

#[test]
fn a_withdrawn_cancellation_leaves_no_trace() {
    let base = vec![
        signup("2024-01-04T00:00:00Z", "c9", "DE", "USD"),
        active("2024-01-05T00:00:00Z", "c9", "s1", "pro_m", "USD", 1999, 1, "2024-02-05T00:00:00Z"),
        renewed("2024-02-05T00:00:00Z", "c9", "s1", "2024-03-05T00:00:00Z"),
    ];
    let mut with = base.clone();
    with.insert(
        2,
        ev(
            "2024-01-20T00:00:00Z",
            "subscription.cancel_flow",
            "c9",
            json!({"subscription_id": "s1", "reason": "price", "save_offer": "half3", "accepted": false}),
        ),
    );
    with.insert(3, ev("2024-01-20T00:00:00Z", "subscription.cancel_requested", "c9", json!({"subscription_id": "s1", "at_period_end": true, "effective_at": "2024-02-05T00:00:00Z", "reason": "price"})));
    with.insert(
        4,
        ev("2024-01-25T00:00:00Z", "subscription.cancel_unscheduled", "c9", json!({"subscription_id": "s1"})),
    );
    let a = run(&base, "2024-01", "2024-03");
    let b = run(&with, "2024-01", "2024-03");
    assert_eq!(a.months, b.months);
    assert_eq!(a.cohorts, b.cohorts);
    assert_eq!(b.months[0].scheduled_churn.mrr, 0);
    assert_eq!(histories(&with)[0].movements.len(), 1);
}

#[test]
fn refunds_never_change_mrr_but_a_refund_that_cancels_ends_the_subscription() {
    let events = [
        active("2024-01-05T00:00:00Z", "c10", "s1", "pro_m", "USD", 1999, 1, "2024-02-05T00:00:00Z"),
        paid("2024-01-05T00:00:00Z", "c10", "s1", "in1", "USD", 1999, 0),
        ev(
            "2024-01-07T00:00:00Z",
            "refund.created",
            "c10",
            json!({"refund_id": "re1", "invoice_id": "in1", "subscription_id": "s1", "currency": "USD", "amount_minor": 1999, "reason": "goodwill", "cancels_subscription": false}),
        ),
        active("2024-01-05T00:00:00Z", "c11", "s2", "pro_m", "USD", 1999, 1, "2024-02-05T00:00:00Z"),
        paid("2024-01-05T00:00:00Z", "c11", "s2", "in2", "USD", 1999, 0),
        ev(
            "2024-01-08T00:00:00Z",
            "refund.created",
            "c11",
            json!({"refund_id": "re2", "invoice_id": "in2", "subscription_id": "s2", "currency": "USD", "amount_minor": 1999, "reason": "requested", "cancels_subscription": true}),
        ),
    ];
    let r = run(&events, "2024-01", "2024-01");
    let jan = &r.months[0];
    assert_eq!((jan.movements.amounts.new, jan.movements.amounts.churn, jan.mrr_end), (3998, 1999, 1999));
    assert_eq!((jan.cash.refunds, jan.cash.refunded, jan.cash.collected_excl_tax), (2, 3998, 3998));
    let h = histories(&events);
    assert_eq!(h[0].movements.len(), 1, "the plain refund made no movement");
    assert_eq!(h[1].movements.last().unwrap().kind, MovementKind::Churn);
}

#[test]
fn a_repeating_discount_ending_at_a_renewal_is_expansion() {
    let mut events = vec![with_discount(
        active("2024-01-01T00:00:00Z", "c12", "s1", "pro_m", "USD", 1999, 1, "2024-02-01T00:00:00Z"),
        "half3",
        "2024-01-01T00:00:00Z",
    )];
    for (start, end) in [("2024-02-01", "2024-03-01"), ("2024-03-01", "2024-04-01"), ("2024-04-01", "2024-05-01")] {
        events.push(renewed(&format!("{start}T00:00:00Z"), "c12", "s1", &format!("{end}T00:00:00Z")));
    }
    events.push(ev(
        "2024-04-01T00:00:00Z",
        "subscription.discount_ended",
        "c12",
        json!({"subscription_id": "s1", "coupon_id": "half3"}),
    ));
    let r = run(&events, "2024-01", "2024-04");
    // 50 % of 19.99 = 9.995 → 10.00 off, so 9.99 for the periods starting
    // 1 Jan, 1 Feb and 1 Mar (inside [1 Jan, 1 Apr)).
    assert_eq!(r.months[0].movements.amounts.new, 999);
    assert_eq!((r.months[1].mrr_end, r.months[2].mrr_end), (999, 999));
    assert_eq!(r.months[1].movement_counts, PerKind::default());
    assert_eq!(r.months[2].movement_counts, PerKind::default());
    let apr = &r.months[3];
    assert_eq!((apr.movements.amounts.expansion, apr.mrr_end), (1000, 1999));
}

#[test]
fn yearly_prices_divide_by_twelve_rounding_half_away_from_zero() {
    let events = [
        // 119.94 / 12 = 9.995 → 10.00.
        active("2024-01-10T00:00:00Z", "c13", "s1", "pro_y", "USD", 11_994, 1, "2025-01-10T00:00:00Z"),
        // 99.90 EUR / 12 = 8.325 → 8.33 EUR; × 1.08 = 8.9964 → 9.00 USD.
        active("2024-01-10T00:00:00Z", "c14", "s2", "pro_y", "EUR", 9990, 1, "2025-01-10T00:00:00Z"),
        // 15 % of 119.94 = 17.991 → 17.99 off; 101.95 / 12 = 8.4958 → 8.50.
        with_discount(
            active("2024-01-10T00:00:00Z", "c15", "s3", "pro_y", "USD", 11_994, 1, "2025-01-10T00:00:00Z"),
            "pct15",
            "2024-01-10T00:00:00Z",
        ),
    ];
    let r = run(&events, "2024-01", "2024-02");
    let jan = &r.months[0];
    assert_eq!(jan.mrr_end, 1000 + 900 + 850);
    let usd = "USD".parse().unwrap();
    let eur = "EUR".parse().unwrap();
    assert_eq!(jan.mrr_end_by_currency_native.get(&usd), Some(&1850));
    assert_eq!(jan.mrr_end_by_currency_native.get(&eur), Some(&833));
    assert_eq!(jan.mrr_end_by_currency_base.get(&eur), Some(&900));
    let h = histories(&events);
    assert_eq!(h[0].movements[0].amount, 1000);
    assert_eq!(h[1].movements[0].native.get(&eur), Some(&833));
}

#[test]
fn a_full_discount_keeps_the_customer_active_at_zero_then_cancelling_is_churn_at_zero() {
    let events = [
        active("2024-01-05T00:00:00Z", "c17", "s1", "pro_m", "USD", 1999, 1, "2024-02-05T00:00:00Z"),
        // Applies from the next period: nothing changes now.
        ev(
            "2024-01-20T00:00:00Z",
            "subscription.discount_applied",
            "c17",
            json!({"subscription_id": "s1", "coupon_id": "full", "start": "2024-02-05T00:00:00Z"}),
        ),
        renewed("2024-02-05T00:00:00Z", "c17", "s1", "2024-03-05T00:00:00Z"),
        canceled("2024-03-05T00:00:00Z", "c17", "s1", "gone"),
    ];
    let r = run(&events, "2024-01", "2024-03");
    assert_eq!(r.months[0].movement_counts, PerKind { new: 1, ..PerKind::default() });
    assert_eq!(r.months[0].mrr_end, 1999);
    let feb = &r.months[1];
    assert_eq!((feb.movements.amounts.contraction, feb.mrr_end), (1999, 0));
    assert_eq!((feb.customers.active_end, feb.customers.paying_end, feb.customers.churned), (1, 0, 0));
    let mar = &r.months[2];
    assert_eq!((mar.movements.amounts.churn, mar.customers.churned, mar.customers.active_end), (0, 1, 0));
}

#[test]
fn facts_at_one_timestamp_are_classified_once_on_the_net_change() {
    let events = [
        // Two subscriptions at once: one new-business movement of 19.99 + 2 × 5.00.
        active("2024-01-05T00:00:00Z", "c18", "s1", "pro_m", "USD", 1999, 1, "2024-02-05T00:00:00Z"),
        active("2024-01-05T00:00:00Z", "c18", "s2", "seat_m", "USD", 500, 2, "2024-02-05T00:00:00Z"),
        // Swap pro for basic in one step: −19.99 + 9.99 = −10.00, a
        // contraction (not a churn and an expansion).
        canceled("2024-02-05T00:00:00Z", "c18", "s1", "switch"),
        active("2024-02-05T00:00:00Z", "c18", "s3", "basic_m", "USD", 999, 1, "2024-03-05T00:00:00Z"),
        // Both remaining end together: one churn of 9.99 + 10.00.
        canceled("2024-03-05T00:00:00Z", "c18", "s2", "gone"),
        canceled("2024-03-05T00:00:00Z", "c18", "s3", "gone"),
    ];
    let r = run(&events, "2024-01", "2024-03");
    assert_eq!((r.months[0].movements.amounts.new, r.months[0].movement_counts.new), (2999, 1));
    assert_eq!(r.months[1].movements.amounts.contraction, 1000);
    assert_eq!(r.months[1].movement_counts, PerKind { contraction: 1, ..PerKind::default() });
    assert_eq!((r.months[2].movements.amounts.churn, r.months[2].movement_counts.churn), (1999, 1));
    let h = histories(&events);
    assert_eq!(h[0].movements.len(), 3);
    assert_eq!(h[0].movements[1].subscription_ids, vec!["s1".to_string(), "s3".to_string()]);
}

#[test]
fn a_once_discount_and_a_trial_discount_starting_at_the_trial_end() {
    let events = [
        // 19.99 − 5.00 for the first period only, then +5.00 at the renewal.
        with_discount(
            active("2024-01-05T00:00:00Z", "c19", "s1", "pro_m", "USD", 1999, 1, "2024-02-05T00:00:00Z"),
            "five_once",
            "2024-01-05T00:00:00Z",
        ),
        renewed("2024-02-05T00:00:00Z", "c19", "s1", "2024-03-05T00:00:00Z"),
        // 20 % forever from the trial end: 19.99 − 4.00 (3.998 → 4.00) = 15.99.
        with_discount(
            trialing("2024-01-01T00:00:00Z", "c20", "s2", "pro_m", 1999, "2024-01-15T00:00:00Z"),
            "off20",
            "2024-01-15T00:00:00Z",
        ),
        trial_ended("2024-01-15T00:00:00Z", "c20", "s2", "converted", Some("2024-02-15T00:00:00Z")),
        renewed("2024-02-15T00:00:00Z", "c20", "s2", "2024-03-15T00:00:00Z"),
    ];
    let r = run(&events, "2024-01", "2024-02");
    assert_eq!(r.months[0].movements.amounts.new, 1499 + 1599);
    assert_eq!(r.months[1].movements.amounts.expansion, 500);
    assert_eq!(r.months[1].mrr_end, 1999 + 1599);
}

#[test]
fn a_change_for_the_period_end_stamped_mid_period_waits_for_the_renewal() {
    let events = [
        active("2024-01-05T00:00:00Z", "c22", "s1", "pro_m", "USD", 1999, 1, "2024-02-05T00:00:00Z"),
        plan_changed("2024-01-20T00:00:00Z", "c22", "s1", "pro_m", "basic_m", 999, "period_end"),
        renewed("2024-02-05T00:00:00Z", "c22", "s1", "2024-03-05T00:00:00Z"),
        active("2024-01-05T00:00:00Z", "c23", "s2", "seat_m", "USD", 500, 3, "2024-02-05T00:00:00Z"),
        ev(
            "2024-01-21T00:00:00Z",
            "subscription.quantity_changed",
            "c23",
            json!({"subscription_id": "s2", "from_quantity": 3, "to_quantity": 1, "effective": "period_end"}),
        ),
        renewed("2024-02-05T00:00:00Z", "c23", "s2", "2024-03-05T00:00:00Z"),
    ];
    let r = run(&events, "2024-01", "2024-02");
    assert_eq!((r.months[0].mrr_end, r.months[0].movements.amounts.contraction), (1999 + 1500, 0));
    // At the renewal: −10.00 (pro → basic) and −10.00 (3 → 1 seats).
    assert_eq!((r.months[1].movements.amounts.contraction, r.months[1].movement_counts.contraction), (2000, 2));
    assert_eq!(r.months[1].mrr_end, 999 + 500);
}

#[test]
fn free_plan_subscriptions_are_leads_and_a_downgrade_to_free_is_churn() {
    let events = [
        active("2024-01-05T00:00:00Z", "c21", "s1", "free", "USD", 0, 1, "2024-02-05T00:00:00Z"),
        plan_changed("2024-02-05T00:00:00Z", "c21", "s1", "free", "pro_m", 1999, "immediate"),
        plan_changed("2024-03-05T00:00:00Z", "c21", "s1", "pro_m", "free", 0, "period_end"),
    ];
    let r = run(&events, "2024-01", "2024-03");
    assert_eq!((r.months[0].customers.active_end, r.months[0].movement_counts), (0, PerKind::default()));
    assert_eq!((r.months[1].movements.amounts.new, r.months[1].customers.active_end), (1999, 1));
    assert_eq!(
        (r.months[2].movements.amounts.churn, r.months[2].customers.churned, r.months[2].customers.active_end),
        (1999, 1, 0)
    );
}

#[test]
fn month_economics_free_to_paid_funnel_cac_and_ltv() {
    let events = [
        // a: sign-up, pricing page, checkout, subscription within 2 days.
        signup("2024-01-01T00:00:00Z", "a", "DE", "USD"),
        step("2024-01-02T00:00:00Z", "a", "pricing_page.viewed"),
        step("2024-01-03T00:00:00Z", "a", "checkout.started"),
        active("2024-01-03T00:00:00Z", "a", "sa", "pro_m", "USD", 1999, 1, "2024-02-03T00:00:00Z"),
        // b: a 30-day trial converting exactly 30 days after sign-up.
        signup("2024-01-01T00:00:00Z", "b", "FR", "EUR"),
        trialing("2024-01-01T00:00:00Z", "b", "sb", "pro_m", 1999, "2024-01-31T00:00:00Z"),
        trial_ended("2024-01-31T00:00:00Z", "b", "sb", "converted", Some("2024-02-29T00:00:00Z")),
        // c: pays 31 days and 1 second after sign-up.
        signup("2024-01-10T00:00:00Z", "c", "DE", "USD"),
        active("2024-02-10T00:00:01Z", "c", "sc", "basic_m", "USD", 999, 1, "2024-03-10T00:00:01Z"),
        // d: never pays.
        signup("2024-01-20T00:00:00Z", "d", "US", "USD"),
        // a churns in February.
        canceled("2024-02-15T00:00:00Z", "a", "sa", "price"),
        spend("2024-01-31T00:00:00Z", "2024-01", "USD", 10_000),
        // 50.00 EUR × 1.08 = 54.00 USD.
        spend("2024-01-31T00:00:00Z", "2024-01", "EUR", 5000),
        spend("2024-02-29T00:00:00Z", "2024-02", "USD", 3000),
        ev("2024-02-29T00:00:00Z", "some.future_event", "d", json!({"anything": [1, 2]})),
    ];
    let r = run(&events, "2024-01", "2024-06");
    let ftp = r.free_to_paid[&m("2024-01")];
    assert_eq!((ftp.signups, ftp.paid_within_30d, ftp.paid_by_horizon), (4, 2, 3));
    assert_eq!(ftp.rate_30d, rate(2, 4));
    assert!(ftp.window_complete);
    // June's window (from sign-ups up to 30 June) passes the 1 July horizon.
    assert!(!r.free_to_paid[&m("2024-06")].window_complete);
    assert!(r.free_to_paid[&m("2024-05")].window_complete);

    let f = &r.funnel.by_signup_month[&m("2024-01")];
    assert_eq!(f.counts, vec![4, 1, 1, 1]);
    assert_eq!(f.overall_conversion, Some(0.25));
    assert_eq!(f.step_conversion, vec![Some(0.25), Some(1.0), Some(1.0)]);
    assert_eq!(r.funnel.conversion_window_s, 14 * 86_400);

    let jan = r.month(m("2024-01")).unwrap();
    assert_eq!((jan.signups, jan.customers.new, jan.marketing_spend), (4, 2, 15_400));
    assert_eq!(jan.cac, Some(7700));
    assert_eq!(jan.new_customers_per_signup, rate(2, 4));
    assert_eq!((jan.trials.counts.started, jan.trials.counts.ended, jan.trials.counts.converted_paid), (1, 1, 1));
    assert_eq!(jan.quick_ratio, Rate { num: 3998, den: 0, value: None });
    assert_eq!(jan.targets.conversion.met, Some(true));

    let feb = r.month(m("2024-02")).unwrap();
    assert_eq!(
        (feb.customers.active_start, feb.customers.new, feb.customers.churned, feb.customers.active_end),
        (2, 1, 1, 2)
    );
    assert_eq!((feb.mrr_start, feb.mrr_end), (3998, 1999 + 999));
    assert_eq!(feb.logo_churn_rate, rate(1, 2));
    assert_eq!(feb.logo_churn_rate_stripe_style, rate(1, 3));
    assert_eq!(feb.gross_mrr_churn_rate, rate(1999, 3998));
    assert_eq!(feb.net_mrr_churn_rate, rate(1999, 3998));
    assert_eq!(feb.quick_ratio, rate(999, 1999));
    // ARPA 2998 / 2 = 14.99; LTV = 14.99 / 0.5 = 29.98; CAC 30.00 / 1.
    assert_eq!((feb.arpa_end, feb.ltv, feb.cac), (Some(1499), Some(2998), Some(3000)));
    let ltv_to_cac = feb.ltv_to_cac.unwrap();
    assert!((ltv_to_cac - 2998.0 / 3000.0).abs() < 1e-12);
    assert_eq!(feb.targets.churn.met, Some(false));
    assert_eq!(feb.targets.conversion.actual, None);
    assert_eq!(feb.movement_customers.churn, 1);

    // Drill-down: the numbers are made of these customers and movements.
    let h = histories(&events);
    let churns = movements_in(&h, m("2024-02"), Some(MovementKind::Churn));
    assert_eq!(churns.len(), 1);
    assert_eq!((churns[0].0, churns[0].1.amount), ("a", 1999));
    let new_feb: i64 = movements_in(&h, m("2024-02"), Some(MovementKind::New)).iter().map(|(_, mv)| mv.amount).sum();
    assert_eq!(new_feb, feb.movements.amounts.new);
    let mut active = active_at_end(&h, m("2024-02"));
    active.sort();
    assert_eq!(active, vec!["b", "c"]);
    assert_eq!(paying_at_end(&h, m("2024-02")).iter().map(|(_, x)| x).sum::<i64>(), feb.mrr_end);
    let mut jan_cohort = cohort_members(&h, m("2024-01"));
    jan_cohort.sort();
    assert_eq!(jan_cohort, vec!["a", "b"]);
}

#[test]
fn filters_restrict_the_report_to_a_currency_plan_or_country() {
    let events = [
        signup("2024-01-01T00:00:00Z", "x", "DE", "USD"),
        active("2024-01-05T00:00:00Z", "x", "sx", "pro_m", "USD", 1999, 1, "2024-02-05T00:00:00Z"),
        signup("2024-01-01T00:00:00Z", "y", "FR", "EUR"),
        // 8.99 EUR × 1.08 = 9.7092 → 9.71 USD.
        active("2024-01-06T00:00:00Z", "y", "sy", "basic_m", "EUR", 899, 1, "2024-02-06T00:00:00Z"),
        plan_changed("2024-02-05T00:00:00Z", "x", "sx", "pro_m", "basic_m", 999, "period_end"),
    ];
    let all = run(&events, "2024-01", "2024-02");
    assert_eq!(all.months[0].mrr_end, 1999 + 971);
    let by = |f: Filter| run_with(&events, "2024-01", "2024-02", &ReportOptions::default(), &f);
    let fr = by(Filter { country: Some("FR".into()), ..Filter::default() });
    assert_eq!((fr.months[0].mrr_end, fr.months[0].signups, fr.customer_count), (971, 1, 1));
    // Spend belongs to no country: no CAC in a country's view.
    assert_eq!((fr.months[0].marketing_spend, fr.months[0].cac), (0, None));
    let usd = by(Filter { currency: Some("USD".parse().unwrap()), ..Filter::default() });
    assert_eq!((usd.months[0].mrr_end, usd.months[0].signups), (1999, 1));
    // On the pro plan only: x's move to basic leaves it, so it churns from
    // this view.
    let pro = by(Filter { plan_id: Some("pro_m".into()), ..Filter::default() });
    assert_eq!(pro.months[0].mrr_end, 1999);
    assert_eq!((pro.months[1].movements.amounts.churn, pro.months[1].customers.churned), (1999, 1));
    let basic = by(Filter { plan_id: Some("basic_m".into()), ..Filter::default() });
    assert_eq!(basic.months[1].movements.amounts.new, 999);
}

#[test]
fn the_report_document_uses_the_spec_field_names() {
    let events = [
        signup("2024-01-05T10:00:00Z", "c1", "DE", "USD"),
        active("2024-01-10T00:00:00Z", "c1", "s1", "pro_m", "USD", 1999, 1, "2024-02-10T00:00:00Z"),
    ];
    let doc: serde_json::Value = serde_json::from_str(&run(&events, "2024-01", "2024-02").to_json().unwrap()).unwrap();
    let keys = |v: &serde_json::Value| -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    let sorted = |names: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        v.sort();
        v
    };
    let month = &doc["months"][0];
    for name in [
        "month",
        "mrr_start",
        "mrr_end",
        "arr_end",
        "mrr_end_by_currency_native",
        "movements",
        "movement_counts",
        "movement_customers",
        "customers",
        "logo_churn_rate",
        "logo_churn_rate_stripe_style",
        "gross_mrr_churn_rate",
        "net_mrr_churn_rate",
        "quick_ratio",
        "new_customers_per_signup",
        "arpa_end",
        "ltv",
        "marketing_spend",
        "cac",
        "ltv_to_cac",
        "signups",
        "trials",
        "cash",
    ] {
        assert!(month.get(name).is_some(), "months[] lacks `{name}`");
    }
    assert_eq!(month["month"], "2024-01");
    let five = ["new", "expansion", "contraction", "churn", "reactivation"];
    let mut with_net = five.to_vec();
    with_net.push("net_new_mrr");
    assert_eq!(keys(&month["movements"]), sorted(&with_net));
    assert_eq!(keys(&month["movement_counts"]), sorted(&five));
    assert_eq!(keys(&month["movement_customers"]), sorted(&five));
    assert_eq!(
        keys(&month["customers"]),
        sorted(&["active_start", "active_end", "paying_end", "new", "reactivated", "churned"])
    );
    assert_eq!(
        keys(&month["trials"]),
        sorted(&[
            "started",
            "ended",
            "converted_paid",
            "converted_past_due",
            "expired",
            "canceled_during_trial",
            "trial_conversion_rate"
        ])
    );
    assert_eq!(
        keys(&month["cash"]),
        sorted(&["invoices_paid", "collected_excl_tax", "tax_collected", "payment_failures", "refunds", "refunded"])
    );
    assert_eq!(keys(&month["quick_ratio"]), sorted(&["num", "den", "value"]));
    assert_eq!(month["logo_churn_rate"], json!({"num": 0, "den": 0, "value": null}));
    assert_eq!(month["mrr_end_by_currency_native"], json!({"USD": 1999}));
    let logo = &doc["cohorts"]["logo_retention"]["2024-01"];
    assert_eq!(keys(logo), sorted(&["size", "active", "rate"]));
    assert_eq!(logo["active"], json!([1, 1]));
    assert_eq!(
        keys(&doc["cohorts"]["net_mrr_retention"]["2024-01"]),
        sorted(&["base_new_business_mrr", "mrr", "rate"])
    );
    assert_eq!(
        keys(&doc["free_to_paid"]["2024-01"]),
        sorted(&["signups", "paid_within_30d", "paid_by_horizon", "window_complete", "rate_30d"])
    );
    for name in ["steps", "conversion_window_s", "by_signup_month"] {
        assert!(doc["funnel"].get(name).is_some(), "funnel lacks `{name}`");
    }
    assert_eq!(
        keys(&doc["funnel"]["by_signup_month"]["2024-01"]),
        sorted(&["counts", "overall_conversion", "step_conversion"])
    );
}

#[test]
fn targets_and_the_funnel_are_options() {
    let events = [
        signup("2024-01-01T00:00:00Z", "a", "DE", "USD"),
        step("2024-01-02T00:00:00Z", "a", "pricing_page.viewed"),
        step("2024-01-20T00:00:00Z", "a", "checkout.started"),
        active("2024-01-20T00:00:00Z", "a", "sa", "pro_m", "USD", 1999, 1, "2024-02-20T00:00:00Z"),
        canceled("2024-02-10T00:00:00Z", "a", "sa", "price"),
    ];
    let default = run(&events, "2024-01", "2024-02");
    // Checkout 19 days after sign-up is outside the default 14-day window.
    assert_eq!(default.funnel.by_signup_month[&m("2024-01")].counts, vec![1, 1, 0, 0]);
    assert_eq!(default.months[1].targets.churn.met, Some(false));
    let options = ReportOptions {
        funnel: bursar_metrics::FunnelOptions {
            steps: vec!["user.signed_up".into(), "checkout.started".into(), "subscription.created".into()],
            window_s: 30 * 86_400,
            order: bursar_metrics::FunnelOrder::Strict,
        },
        targets: bursar_metrics::Targets { conversion_above: 2.0, churn_below: 1.5, payment_success_above: 0.5 },
        ..ReportOptions::default()
    };
    let r = run_with(&events, "2024-01", "2024-02", &options, &Filter::default());
    // Strict: the pricing page comes between sign-up and checkout.
    assert_eq!(r.funnel.by_signup_month[&m("2024-01")].counts, vec![1, 0, 0]);
    let loose = ReportOptions {
        funnel: bursar_metrics::FunnelOptions { order: bursar_metrics::FunnelOrder::Ordered, ..options.funnel.clone() },
        ..options.clone()
    };
    let r2 = run_with(&events, "2024-01", "2024-02", &loose, &Filter::default());
    assert_eq!(r2.funnel.by_signup_month[&m("2024-01")].counts, vec![1, 1, 1]);
    assert_eq!(r2.funnel.conversion_window_s, 30 * 86_400);
    // Churn 1 ÷ 1 = 1.0 is below 1.5; conversion 1 ÷ 1 is not above 2.0.
    assert_eq!((r.months[1].targets.churn.met, r.months[1].targets.churn.actual), (Some(true), Some(1.0)));
    assert_eq!(r.months[0].targets.conversion.met, Some(false));
    assert_eq!(r.months[0].targets.payment_success.met, None);
}
