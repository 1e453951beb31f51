//! What the integration tests share: a catalog, builders of events in
//! the import format, and the identities every report must satisfy.
#![allow(dead_code)]

use bursar_metrics::{import, replay_all, CustomerHistory, Filter, ImportOptions, Month, Report, ReportOptions};
use serde_json::{json, Map, Value};

/// USD base; EUR at 1.08, GBP at 1.25, JPY at 0.0067.
pub const CATALOG: &str = r#"{
  "base_currency": "USD",
  "fx_to_base": {"USD": "1", "EUR": "1.08", "GBP": "1.25", "JPY": "0.0067"},
  "plans": {
    "free": {"product": "free", "interval": "month", "interval_months": 1, "prices": {"USD": 0, "EUR": 0}},
    "basic_m": {"product": "basic", "interval": "month", "interval_months": 1, "prices": {"USD": 999, "EUR": 899}},
    "pro_m": {"product": "pro", "interval": "month", "interval_months": 1, "prices": {"USD": 1999, "EUR": 1899}},
    "pro_y": {"product": "pro", "interval": "year", "interval_months": 12, "prices": {"USD": 11994, "EUR": 9990}},
    "seat_m": {"product": "team", "interval": "month", "interval_months": 1, "prices": {"USD": 500}}
  },
  "coupons": {
    "half3": {"type": "percent", "percent_off": 50, "duration": "repeating", "duration_in_months": 3},
    "five_once": {"type": "fixed", "amount_off": {"USD": 500}, "duration": "once"},
    "off20": {"type": "percent", "percent_off": 20, "duration": "forever"},
    "pct15": {"type": "percent", "percent_off": 15, "duration": "forever"},
    "full": {"type": "percent", "percent_off": 100, "duration": "forever"}
  },
  "free_plan": "free",
  "period_start": "2024-01-01T00:00:00Z",
  "horizon_exclusive": "2024-07-01T00:00:00Z",
  "tax_rates_bps": {"DE": 1900, "FR": 2000}
}"#;

/// One event line: the common fields plus `fields`.
pub fn ev(ts: &str, ty: &str, customer: &str, fields: Value) -> Value {
    let mut m = Map::new();
    m.insert("ts".into(), json!(ts));
    m.insert("type".into(), json!(ty));
    m.insert("customer_id".into(), if customer.is_empty() { Value::Null } else { json!(customer) });
    if let Value::Object(f) = fields {
        m.extend(f);
    }
    Value::Object(m)
}

pub fn signup(ts: &str, c: &str, country: &str, currency: &str) -> Value {
    ev(
        ts,
        "user.signed_up",
        c,
        json!({"country": country, "currency": currency, "acquisition_channel": "organic", "plan_id": "free"}),
    )
}

/// An active subscription with a period `[ts, period_end)`.
#[allow(clippy::too_many_arguments)]
pub fn active(
    ts: &str,
    c: &str,
    sub: &str,
    plan: &str,
    currency: &str,
    unit: i64,
    qty: i64,
    period_end: &str,
) -> Value {
    ev(
        ts,
        "subscription.created",
        c,
        json!({
            "subscription_id": sub, "plan_id": plan, "currency": currency, "quantity": qty,
            "unit_amount_minor": unit, "interval": if plan.ends_with("_y") { "year" } else { "month" },
            "status": "active", "trial_start": null, "trial_end": null,
            "current_period_start": ts, "current_period_end": period_end, "discount": null
        }),
    )
}

/// Adds a discount `{coupon_id, start}` to a `subscription.created` event.
pub fn with_discount(mut created: Value, coupon: &str, start: &str) -> Value {
    created["discount"] = json!({"coupon_id": coupon, "start": start});
    created
}

pub fn trialing(ts: &str, c: &str, sub: &str, plan: &str, unit: i64, trial_end: &str) -> Value {
    ev(
        ts,
        "subscription.created",
        c,
        json!({
            "subscription_id": sub, "plan_id": plan, "currency": "USD", "quantity": 1,
            "unit_amount_minor": unit, "interval": "month", "status": "trialing",
            "trial_start": ts, "trial_end": trial_end,
            "current_period_start": null, "current_period_end": null, "discount": null
        }),
    )
}

pub fn trial_ended(ts: &str, c: &str, sub: &str, outcome: &str, period_end: Option<&str>) -> Value {
    let status = match outcome {
        "converted" => "active",
        "past_due" => "past_due",
        _ => "canceled",
    };
    let mut f = json!({"subscription_id": sub, "outcome": outcome, "status": status});
    if let Some(end) = period_end {
        f["current_period_start"] = json!(ts);
        f["current_period_end"] = json!(end);
    }
    ev(ts, "subscription.trial_ended", c, f)
}

pub fn renewed(ts: &str, c: &str, sub: &str, end: &str) -> Value {
    ev(
        ts,
        "subscription.renewed",
        c,
        json!({"subscription_id": sub, "current_period_start": ts, "current_period_end": end}),
    )
}

pub fn canceled(ts: &str, c: &str, sub: &str, reason: &str) -> Value {
    ev(ts, "subscription.canceled", c, json!({"subscription_id": sub, "status": "canceled", "reason": reason}))
}

pub fn plan_changed(ts: &str, c: &str, sub: &str, from: &str, to: &str, unit: i64, effective: &str) -> Value {
    ev(
        ts,
        "subscription.plan_changed",
        c,
        json!({
            "subscription_id": sub, "from_plan_id": from, "to_plan_id": to, "unit_amount_minor": unit,
            "interval": "month", "quantity": 1, "effective": effective, "proration": null, "discount_cleared": false
        }),
    )
}

pub fn paid(ts: &str, c: &str, sub: &str, inv: &str, currency: &str, net: i64, tax: i64) -> Value {
    ev(
        ts,
        "invoice.paid",
        c,
        json!({
            "invoice_id": inv, "subscription_id": sub, "billing_reason": "subscription_cycle", "attempt": 1,
            "currency": currency,
            "lines": [{"kind": "subscription", "amount_minor": net}, {"kind": "tax", "rate_bps": 1900, "amount_minor": tax}],
            "subtotal_minor": net, "discount_minor": 0, "tax_minor": tax, "total_minor": net + tax
        }),
    )
}

pub fn failed(ts: &str, c: &str, sub: &str, inv: &str, amount: i64) -> Value {
    ev(
        ts,
        "invoice.payment_failed",
        c,
        json!({
            "invoice_id": inv, "subscription_id": sub, "billing_reason": "subscription_create", "attempt": 1,
            "currency": "USD", "lines": [], "subtotal_minor": amount, "discount_minor": 0, "tax_minor": 0,
            "total_minor": amount
        }),
    )
}

pub fn step(ts: &str, c: &str, ty: &str) -> Value {
    ev(ts, ty, c, json!({"page": "/pricing"}))
}

pub fn spend(ts: &str, month: &str, currency: &str, amount: i64) -> Value {
    ev(
        ts,
        "marketing_spend.recorded",
        "",
        json!({"month": month, "channel": "ads", "currency": currency, "amount_minor": amount}),
    )
}

pub fn m(s: &str) -> Month {
    s.parse().unwrap()
}

pub fn jsonl(events: &[Value]) -> String {
    events.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n")
}

/// Imports the events with the test catalog and reports `from..=to`.
pub fn run(events: &[Value], from: &str, to: &str) -> Report {
    run_with(events, from, to, &ReportOptions::default(), &Filter::default())
}

pub fn run_with(events: &[Value], from: &str, to: &str, options: &ReportOptions, filter: &Filter) -> Report {
    let imp = import(CATALOG, &jsonl(events), ImportOptions::default()).unwrap();
    let facts = imp.facts().unwrap();
    let r = bursar_metrics::report_filtered(&imp.catalog, &facts, m(from), m(to), options, filter).unwrap();
    assert_identities(&r);
    r
}

pub fn histories(events: &[Value]) -> Vec<CustomerHistory> {
    let imp = import(CATALOG, &jsonl(events), ImportOptions::default()).unwrap();
    replay_all(&imp.catalog, &imp.facts().unwrap(), &Filter::default()).unwrap()
}

/// The identities the spec requires of every month, and the continuity of
/// consecutive months.
pub fn assert_identities(r: &Report) {
    let mut prev: Option<(i64, i64)> = None;
    for mo in &r.months {
        let mv = &mo.movements.amounts;
        assert_eq!(
            mo.mrr_end - mo.mrr_start,
            mv.new + mv.expansion + mv.reactivation - mv.contraction - mv.churn,
            "MRR identity in {}",
            mo.month
        );
        assert_eq!(mo.movements.net_new_mrr, mo.mrr_end - mo.mrr_start, "net new MRR in {}", mo.month);
        let c = &mo.customers;
        assert_eq!(
            c.active_end,
            c.active_start + c.new + c.reactivated - c.churned,
            "customer identity in {}",
            mo.month
        );
        assert_eq!(mo.arr_end, 12 * mo.mrr_end);
        assert_eq!(
            mo.mrr_end_by_currency_base.values().sum::<i64>(),
            mo.mrr_end,
            "base MRR by currency in {}",
            mo.month
        );
        assert!(c.paying_end <= c.active_end);
        if let Some((mrr, active)) = prev {
            assert_eq!(mo.mrr_start, mrr, "MRR continuity into {}", mo.month);
            assert_eq!(c.active_start, active, "active continuity into {}", mo.month);
        }
        prev = Some((mo.mrr_end, c.active_end));
    }
}
