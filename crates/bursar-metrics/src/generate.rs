//! Random but well-formed subscription histories in the import format, for
//! property tests and benchmarks.
//!
//! Each customer is simulated on their own with a seeded generator
//! (SplitMix64, so a seed always gives the same history), event by event in
//! time order:
//!
//! * Most sign up (`user.signed_up`, a country and its currency; some at
//!   exactly midnight of a month's first day), some view the pricing page and
//!   start a checkout; about a third stay leads.
//! * The others subscribe within 45 days: a 14-day trial (converted, into
//!   past_due, expired, or canceled during the trial) or a direct
//!   subscription, on a monthly, quarterly, yearly or free plan, sometimes
//!   with a coupon (percent, fixed, once, repeating, forever, 100 %).
//! * Each period end renews (with a paid invoice, or a failed one starting
//!   dunning that recovers or gives up), or ends a scheduled cancellation;
//!   plan changes may take effect there too, in the same second.
//! * Between renewals, at random times: upgrades and downgrades, seat
//!   changes, coupons from now or from the next period, cancellation requests
//!   and their withdrawal, pauses and resumes, immediate cancellations with
//!   or without refunds, a second subscription, a swap of one subscription
//!   for another in the same second, refunds, one-time purchases,
//!   announcements and unknown event types.
//! * A customer who churned may come back later.
//!
//! Staff record marketing spend each month (USD and EUR). The whole stream
//! is sorted by time, each customer's same-second events in causal order.

use bursar_domain::catalog::Interval;
use bursar_domain::money::Currency;
use serde_json::{json, Map};

use crate::catalog::{Catalog, Coupon, Plan};
use crate::decimal::Decimal;
use crate::fact::{DiscountDuration, DiscountOff};
use crate::import::*;
use crate::time::{add_months, Month, DAY_S};

/// SplitMix64: small, fast and good enough to drive a simulation.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1_u64 << 53) as f64
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Uniform in `[lo, hi)` (`lo` when the range is empty).
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        let span = hi.wrapping_sub(lo) as u64;
        lo.wrapping_add((self.next_u64() % span) as i64)
    }

    /// One of `items`, which must not be empty (the generator's own tables).
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.range(0, items.len() as i64) as usize]
    }
}

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenOptions {
    pub seed: u64,
    pub customers: usize,
    /// The first month of the history.
    pub start: Month,
    /// How many months it covers.
    pub months: u32,
    /// Mean days between a subscriber's own actions (upgrades, pauses, …);
    /// smaller gives more events per customer.
    pub action_every_days: i64,
}

impl Default for GenOptions {
    fn default() -> Self {
        GenOptions { seed: 1, customers: 100, start: Month::from_parts(2024, 1), months: 12, action_every_days: 45 }
    }
}

impl GenOptions {
    /// The exclusive end of the generated history.
    pub fn horizon(&self) -> i64 {
        self.start.offset(i64::from(self.months)).start()
    }
}

const CURRENCIES: [(Currency, &str); 4] =
    [(Currency::USD, "1"), (Currency::EUR, "1.08"), (Currency::GBP, "1.27"), (Currency::JPY, "0.0067")];
const COUNTRIES: [(&str, Currency, i64); 6] = [
    ("US", Currency::USD, 0),
    ("DE", Currency::EUR, 1900),
    ("FR", Currency::EUR, 2000),
    ("GB", Currency::GBP, 2000),
    ("JP", Currency::JPY, 1000),
    ("BR", Currency::USD, 0),
];
/// (plan, interval months, prices in USD, EUR, GBP, JPY).
const PLANS: [(&str, u32, [i64; 4]); 5] = [
    ("free", 1, [0, 0, 0, 0]),
    ("basic_m", 1, [999, 899, 799, 1500]),
    ("pro_m", 1, [1999, 1899, 1599, 3000]),
    ("pro_y", 12, [11_994, 9990, 9594, 30_000]),
    ("seats_q", 3, [1500, 1350, 1200, 2200]),
];
const PAID_PLANS: [&str; 4] = ["basic_m", "pro_m", "pro_y", "seats_q"];
const COUPONS: [&str; 6] = ["half3", "off20", "five_once", "full", "third2", "pct15"];

/// The catalog the generated histories refer to: USD base; EUR, GBP and JPY
/// with fixed rates; monthly, quarterly and yearly plans; six coupons.
pub fn catalog(options: &GenOptions) -> Catalog {
    let mut c = Catalog::new(Currency::USD);
    for (cur, rate) in CURRENCIES {
        if let Ok(r) = rate.parse() {
            c.fx_to_base.insert(cur, r);
        }
    }
    for (id, months, prices) in PLANS {
        let prices = CURRENCIES.iter().zip(prices).map(|((cur, _), p)| (*cur, p)).collect();
        let interval = if months == 12 { Interval::Year } else { Interval::Month };
        c.plans
            .insert(id.to_string(), Plan { product: Some(id.to_string()), interval, interval_months: months, prices });
    }
    let pct = |s: &str| DiscountOff::Percent(s.parse().unwrap_or(Decimal::ONE));
    let fixed = DiscountOff::Fixed(CURRENCIES.iter().zip([500, 500, 400, 700]).map(|((c, _), a)| (*c, a)).collect());
    for (id, off, duration) in [
        ("half3", pct("50"), DiscountDuration::Repeating { months: 3 }),
        ("off20", pct("20"), DiscountDuration::Forever),
        ("five_once", fixed, DiscountDuration::Once),
        ("full", pct("100"), DiscountDuration::Forever),
        ("third2", pct("33.33"), DiscountDuration::Repeating { months: 2 }),
        ("pct15", pct("15"), DiscountDuration::Once),
    ] {
        c.coupons.insert(id.to_string(), Coupon { off, duration });
    }
    c.free_plan = Some("free".to_string());
    c.period_start = Some(options.start.start());
    c.horizon_exclusive = Some(options.horizon());
    c.tax_rates_bps = COUNTRIES.iter().map(|(k, _, bps)| (k.to_string(), *bps)).collect();
    c
}

/// A generated history.
#[derive(Debug, Clone)]
pub struct Generated {
    pub catalog: Catalog,
    /// Sorted by time; same-second events of a customer in causal order.
    pub events: Vec<ImportEvent>,
}

impl Generated {
    /// The events file (JSON Lines).
    pub fn to_jsonl(&self) -> String {
        let mut out = String::with_capacity(self.events.len() * 200);
        for e in &self.events {
            out.push_str(&e.to_json_line());
            out.push('\n');
        }
        out
    }
}

/// Generates a whole history.
pub fn generate(options: &GenOptions) -> Generated {
    let catalog = catalog(options);
    let mut events = Vec::new();
    let mut rng = Rng::new(options.seed);
    for i in 0..options.customers {
        let seed = rng.next_u64();
        events.extend(customer_events(options, seed, i));
    }
    for m in Month::range(options.start, options.start.offset(i64::from(options.months) - 1)) {
        let ts = m.end() - DAY_S;
        for (cur, amount) in [(Currency::USD, rng.range(0, 500_000)), (Currency::EUR, rng.range(0, 200_000))] {
            let body = EventBody::MarketingSpend(MarketingSpend {
                month: m,
                channel: Some(rng.pick(&["ads", "partners", "events"]).to_string()),
                currency: cur,
                amount_minor: amount,
            });
            events.push(ImportEvent { line: 0, ts, customer_id: None, body });
        }
    }
    events.sort_by_key(|e| e.ts);
    for (i, e) in events.iter_mut().enumerate() {
        e.line = i + 1;
    }
    Generated { catalog, events }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum St {
    Trialing {
        end: i64,
    },
    Active,
    /// In dunning: at `at`, recovers or gives up.
    PastDue {
        at: i64,
        recovers: bool,
    },
    Paused {
        until: i64,
    },
    Ended,
}

#[derive(Debug, Clone)]
struct SimSub {
    id: String,
    plan: &'static str,
    unit: i64,
    qty: i64,
    months: u32,
    st: St,
    /// Periods are `anchor + k × months` (calendar months, day clamped).
    anchor: i64,
    k: u32,
    pending_cancel: bool,
}

impl SimSub {
    fn period_start(&self) -> i64 {
        add_months(self.anchor, self.k * self.months)
    }

    fn period_end(&self) -> i64 {
        add_months(self.anchor, (self.k + 1) * self.months)
    }

    fn next_time(&self) -> Option<i64> {
        match self.st {
            St::Trialing { end } => Some(end),
            St::Active => Some(self.period_end()),
            St::PastDue { at, .. } => Some(at.min(self.period_end())),
            St::Paused { until } => Some(until),
            St::Ended => None,
        }
    }

    fn live(&self) -> bool {
        matches!(self.st, St::Active | St::PastDue { .. })
    }
}

struct Sim {
    rng: Rng,
    customer: String,
    currency: Currency,
    tax_bps: i64,
    subs: Vec<SimSub>,
    events: Vec<ImportEvent>,
    counter: u32,
}

fn price(plan: &str, currency: Currency) -> i64 {
    let col = CURRENCIES.iter().position(|(c, _)| *c == currency).unwrap_or(0);
    PLANS.iter().find(|p| p.0 == plan).map_or(0, |p| p.2[col])
}

fn months_of(plan: &str) -> u32 {
    PLANS.iter().find(|p| p.0 == plan).map_or(1, |p| p.1)
}

fn interval_of(plan: &str) -> Interval {
    if months_of(plan) == 12 {
        Interval::Year
    } else {
        Interval::Month
    }
}

impl Sim {
    fn emit(&mut self, ts: i64, body: EventBody) {
        self.events.push(ImportEvent { line: 0, ts, customer_id: Some(self.customer.clone()), body });
    }

    fn next_id(&mut self, prefix: &str) -> String {
        self.counter += 1;
        format!("{prefix}_{}_{}", self.customer, self.counter)
    }

    fn invoice(&mut self, ts: i64, sub: Option<usize>, net: i64, paid: bool, reason: &str) -> String {
        let id = self.next_id("in");
        let tax = (net * self.tax_bps + 5000) / 10_000;
        let mut lines = vec![InvoiceLine {
            kind: if sub.is_some() { "subscription" } else { "one_time" }.to_string(),
            amount_minor: net,
            plan_id: sub.map(|i| self.subs[i].plan.to_string()),
            quantity: sub.map(|i| self.subs[i].qty),
            unit_amount_minor: sub.map(|i| self.subs[i].unit),
            period_start: sub.map(|i| self.subs[i].period_start()),
            period_end: sub.map(|i| self.subs[i].period_end()),
            description: None,
            coupon_id: None,
            rate_bps: None,
        }];
        if tax > 0 {
            lines.push(InvoiceLine {
                kind: "tax".into(),
                amount_minor: tax,
                plan_id: None,
                quantity: None,
                unit_amount_minor: None,
                period_start: None,
                period_end: None,
                description: None,
                coupon_id: None,
                rate_bps: Some(self.tax_bps),
            });
        }
        let inv = Invoice {
            invoice_id: id.clone(),
            subscription_id: sub.map(|i| self.subs[i].id.clone()),
            billing_reason: Some(reason.to_string()),
            attempt: Some(1),
            currency: self.currency,
            lines,
            subtotal_minor: Some(net),
            discount_minor: Some(0),
            tax_minor: tax,
            total_minor: net + tax,
        };
        self.emit(ts, if paid { EventBody::InvoicePaid(inv) } else { EventBody::InvoicePaymentFailed(inv) });
        id
    }

    fn net_of(&self, i: usize) -> i64 {
        self.subs[i].unit * self.subs[i].qty
    }

    fn created(&mut self, ts: i64, i: usize, trial_end: Option<i64>, discount: Option<DiscountRef>) {
        let s = &self.subs[i];
        let body = SubscriptionCreated {
            subscription_id: s.id.clone(),
            plan_id: s.plan.to_string(),
            currency: self.currency,
            quantity: s.qty,
            unit_amount_minor: Some(s.unit),
            interval: Some(interval_of(s.plan)),
            status: if trial_end.is_some() { CreatedStatus::Trialing } else { CreatedStatus::Active },
            trial_start: trial_end.map(|_| ts),
            trial_end,
            current_period_start: trial_end.is_none().then(|| s.period_start()),
            current_period_end: trial_end.is_none().then(|| s.period_end()),
            discount,
        };
        self.emit(ts, EventBody::SubscriptionCreated(body));
    }

    /// A new subscription at `ts`.
    fn start_sub(&mut self, ts: i64, plan: Option<&'static str>) {
        let plan = plan
            .unwrap_or_else(|| *self.rng.pick(&["basic_m", "basic_m", "pro_m", "pro_m", "pro_y", "seats_q", "free"]));
        if self.rng.chance(0.5) {
            self.emit(ts, EventBody::CheckoutStarted(PageView { page: Some("/checkout".into()) }));
        }
        let id = self.next_id("sub");
        let qty = if plan == "seats_q" { self.rng.range(2, 6) } else { 1 };
        let trial = plan != "free" && self.rng.chance(0.4);
        let sub = SimSub {
            id,
            plan,
            unit: price(plan, self.currency),
            qty,
            months: months_of(plan),
            st: if trial { St::Trialing { end: ts + 14 * DAY_S } } else { St::Active },
            anchor: ts,
            k: 0,
            pending_cancel: false,
        };
        self.subs.push(sub);
        let i = self.subs.len() - 1;
        if trial {
            let end = ts + 14 * DAY_S;
            let discount = self
                .rng
                .chance(0.3)
                .then(|| DiscountRef { coupon_id: self.rng.pick(&COUPONS).to_string(), start: end });
            self.created(ts, i, Some(end), discount);
            if self.rng.chance(0.1) {
                // Canceled during the trial.
                let at = ts + self.rng.range(DAY_S, 13 * DAY_S);
                self.subs[i].st = St::Trialing { end: at };
                self.subs[i].pending_cancel = true;
            }
        } else {
            let discount = (plan != "free" && self.rng.chance(0.25))
                .then(|| DiscountRef { coupon_id: self.rng.pick(&COUPONS).to_string(), start: ts });
            self.created(ts, i, None, discount);
            if plan != "free" {
                let paid = self.rng.chance(0.95);
                let inv = self.invoice(ts, Some(i), self.net_of(i), paid, "subscription_create");
                if !paid {
                    self.dunning(ts, i, inv);
                }
            }
        }
    }

    fn dunning(&mut self, ts: i64, i: usize, invoice_id: String) {
        let recovers = self.rng.chance(0.6);
        let at = ts + if recovers { self.rng.range(DAY_S, 5 * DAY_S) } else { 10 * DAY_S };
        self.subs[i].st = St::PastDue { at, recovers };
        let id = self.subs[i].id.clone();
        self.emit(
            ts,
            EventBody::PastDue(PastDue {
                subscription_id: id,
                status: Some("past_due".into()),
                invoice_id: Some(invoice_id),
            }),
        );
    }

    fn cancel(&mut self, ts: i64, i: usize, reason: &str) {
        self.subs[i].st = St::Ended;
        self.subs[i].pending_cancel = false;
        let id = self.subs[i].id.clone();
        self.emit(
            ts,
            EventBody::Canceled(Canceled {
                subscription_id: id,
                status: Some("canceled".into()),
                reason: Some(reason.into()),
            }),
        );
    }

    /// What a subscription has scheduled at `ts`.
    fn scheduled(&mut self, ts: i64, i: usize) {
        let id = self.subs[i].id.clone();
        match self.subs[i].st {
            St::Trialing { .. } if self.subs[i].pending_cancel => self.cancel(ts, i, "trial_canceled"),
            St::Trialing { .. } => {
                let roll = self.rng.unit();
                let (outcome, st) = if roll < 0.65 {
                    (TrialOutcomeName::Converted, St::Active)
                } else if roll < 0.8 {
                    (TrialOutcomeName::PastDue, St::Active)
                } else {
                    (TrialOutcomeName::Expired, St::Ended)
                };
                self.subs[i].anchor = ts;
                self.subs[i].k = 0;
                self.subs[i].st = st;
                let converted = outcome != TrialOutcomeName::Expired;
                let body = TrialEnded {
                    subscription_id: id,
                    outcome,
                    status: Some(
                        match outcome {
                            TrialOutcomeName::Converted => "active",
                            TrialOutcomeName::PastDue => "past_due",
                            TrialOutcomeName::Expired => "expired",
                        }
                        .into(),
                    ),
                    current_period_start: converted.then(|| self.subs[i].period_start()),
                    current_period_end: converted.then(|| self.subs[i].period_end()),
                };
                self.emit(ts, EventBody::TrialEnded(body));
                if converted {
                    let paid = outcome == TrialOutcomeName::Converted;
                    let inv = self.invoice(ts, Some(i), self.net_of(i), paid, "subscription_cycle");
                    if !paid {
                        self.dunning(ts, i, inv);
                    }
                }
            }
            St::PastDue { at, recovers } if at <= ts => {
                if recovers {
                    self.subs[i].st = St::Active;
                    self.invoice(ts, Some(i), self.net_of(i), true, "subscription_cycle");
                    self.emit(
                        ts,
                        EventBody::Recovered(StatusChange { subscription_id: id, status: Some("active".into()) }),
                    );
                } else {
                    self.cancel(ts, i, "payment_failed");
                }
            }
            St::Paused { .. } => {
                self.subs[i].st = St::Active;
                self.subs[i].anchor = ts;
                self.subs[i].k = 0;
                let body = Resumed {
                    subscription_id: Some(id),
                    status: Some("active".into()),
                    current_period_start: Some(ts),
                    current_period_end: Some(self.subs[i].period_end()),
                };
                self.emit(ts, EventBody::Resumed(body));
            }
            St::Active | St::PastDue { .. } => {
                if self.subs[i].pending_cancel {
                    self.cancel(ts, i, "requested");
                    return;
                }
                self.subs[i].k += 1;
                let (start, end) = (self.subs[i].period_start(), self.subs[i].period_end());
                self.emit(
                    ts,
                    EventBody::Renewed(Renewed {
                        subscription_id: id.clone(),
                        current_period_start: start,
                        current_period_end: Some(end),
                    }),
                );
                if self.subs[i].plan != "free" && self.rng.chance(0.08) {
                    self.change_plan(ts, i, Effective::PeriodEnd);
                }
                if self.subs[i].plan == "free" {
                    return;
                }
                if matches!(self.subs[i].st, St::PastDue { .. }) {
                    // Still in dunning: the period rolls on unpaid.
                    return;
                }
                let paid = self.rng.chance(0.93);
                let inv = self.invoice(ts, Some(i), self.net_of(i), paid, "subscription_cycle");
                if !paid {
                    self.dunning(ts, i, inv);
                }
            }
            St::Ended => {}
        }
    }

    fn change_plan(&mut self, ts: i64, i: usize, effective: Effective) {
        let from = self.subs[i].plan;
        let same_interval: Vec<&'static str> =
            PAID_PLANS.iter().copied().filter(|p| *p != from && months_of(p) == self.subs[i].months).collect();
        let Some(&to) = (!same_interval.is_empty()).then(|| self.rng.pick(&same_interval)) else { return };
        let unit = price(to, self.currency);
        let qty = if to == "seats_q" { self.subs[i].qty.max(2) } else { 1 };
        let cleared = self.rng.chance(0.2);
        self.subs[i].plan = to;
        self.subs[i].unit = unit;
        self.subs[i].qty = qty;
        let body = PlanChanged {
            subscription_id: self.subs[i].id.clone(),
            from_plan_id: Some(from.to_string()),
            to_plan_id: to.to_string(),
            unit_amount_minor: Some(unit),
            interval: Some(interval_of(to)),
            quantity: Some(qty),
            effective: Some(effective),
            proration: Some(json!({"credit_minor": 0})),
            discount_cleared: cleared,
            current_period_start: None,
            current_period_end: None,
        };
        self.emit(ts, EventBody::PlanChanged(body));
    }

    /// One of the customer's own actions at `ts`.
    fn act(&mut self, ts: i64) {
        let live: Vec<usize> = (0..self.subs.len()).filter(|i| self.subs[*i].live()).collect();
        let paused = self.subs.iter().any(|s| matches!(s.st, St::Paused { .. } | St::Trialing { .. }));
        if live.is_empty() {
            if !paused && self.rng.chance(0.3) {
                self.start_sub(ts, None);
            }
            return;
        }
        let i = *self.rng.pick(&live);
        let id = self.subs[i].id.clone();
        let paying = self.subs[i].plan != "free";
        let roll = self.rng.unit();
        if roll < 0.12 && paying {
            self.change_plan(ts, i, Effective::Immediate);
        } else if roll < 0.2 && paying {
            let to = self.rng.range(1, 6);
            let from = self.subs[i].qty;
            self.subs[i].qty = to;
            if self.rng.chance(0.3) {
                self.emit(
                    ts,
                    EventBody::QuantityChangeScheduled(QuantityChangeScheduled {
                        subscription_id: Some(id.clone()),
                        to_quantity: Some(to),
                        effective_at: Some(ts),
                    }),
                );
            }
            let body = QuantityChanged {
                subscription_id: Some(id),
                from_quantity: Some(from),
                to_quantity: to,
                effective: Some(Effective::Immediate),
                proration: None,
            };
            self.emit(ts, EventBody::QuantityChanged(body));
        } else if roll < 0.3 && paying {
            let start = if self.rng.chance(0.5) { self.subs[i].period_start() } else { self.subs[i].period_end() };
            let coupon = self.rng.pick(&COUPONS).to_string();
            self.emit(
                ts,
                EventBody::DiscountApplied(DiscountApplied { subscription_id: id, coupon_id: coupon, start }),
            );
        } else if roll < 0.4 {
            if self.subs[i].pending_cancel {
                self.subs[i].pending_cancel = false;
                self.emit(ts, EventBody::CancelUnscheduled(SubscriptionRef { subscription_id: id }));
            } else {
                self.subs[i].pending_cancel = true;
                let flow = CancelFlow {
                    subscription_id: Some(id.clone()),
                    reason: Some("too_expensive".into()),
                    save_offer: Some(json!("half3")),
                    accepted: Some(false),
                };
                self.emit(ts, EventBody::CancelFlow(flow));
                let req = CancelRequested {
                    subscription_id: id,
                    at_period_end: true,
                    effective_at: Some(self.subs[i].period_end()),
                    reason: Some("too_expensive".into()),
                };
                self.emit(ts, EventBody::CancelRequested(req));
            }
        } else if roll < 0.47 && self.subs[i].st == St::Active && !self.subs[i].pending_cancel {
            let until = add_months(ts, self.rng.range(1, 4) as u32);
            self.subs[i].st = St::Paused { until };
            if self.rng.chance(0.5) {
                let announce = PauseScheduled {
                    subscription_id: Some(id.clone()),
                    pause_start: Some(ts),
                    resumes_at: Some(until),
                };
                self.emit(ts, EventBody::PauseScheduled(announce));
            }
            let body = Paused { subscription_id: Some(id), status: Some("paused".into()), resumes_at: Some(until) };
            self.emit(ts, EventBody::Paused(body));
        } else if roll < 0.53 {
            // Immediate cancellation, perhaps refunded.
            let req = CancelRequested {
                subscription_id: id.clone(),
                at_period_end: false,
                effective_at: Some(ts),
                reason: None,
            };
            self.emit(ts, EventBody::CancelRequested(req));
            let variant = self.rng.range(0, 3);
            if variant > 0 && paying {
                let amount = self.net_of(i);
                let refund = RefundCreated {
                    refund_id: self.next_id("re"),
                    invoice_id: None,
                    subscription_id: Some(id),
                    currency: self.currency,
                    amount_minor: amount,
                    reason: Some("requested_by_customer".into()),
                    cancels_subscription: true,
                };
                self.emit(ts, EventBody::RefundCreated(refund));
                if variant == 1 {
                    self.cancel(ts, i, "refunded");
                } else {
                    self.subs[i].st = St::Ended;
                    self.subs[i].pending_cancel = false;
                }
            } else {
                self.cancel(ts, i, "requested");
            }
        } else if roll < 0.6 && live.len() < 2 {
            let plan = *self.rng.pick(&PAID_PLANS);
            self.start_sub(ts, Some(plan));
        } else if roll < 0.65 {
            // A swap in one second: end this one, start another.
            self.cancel(ts, i, "switch");
            let plan = *self.rng.pick(&PAID_PLANS);
            self.start_sub(ts, Some(plan));
        } else if roll < 0.7 && paying {
            let refund = RefundCreated {
                refund_id: self.next_id("re"),
                invoice_id: None,
                subscription_id: Some(id),
                currency: self.currency,
                amount_minor: self.net_of(i) / 2,
                reason: Some("goodwill".into()),
                cancels_subscription: false,
            };
            self.emit(ts, EventBody::RefundCreated(refund));
        } else if roll < 0.75 {
            let amount = self.rng.range(500, 20_000);
            self.invoice(ts, None, amount, true, "manual");
        } else if roll < 0.8 {
            let mut fields = Map::new();
            fields.insert("lesson".into(), json!(self.rng.range(1, 50)));
            self.emit(ts, EventBody::Unknown("lesson.completed".into(), fields));
        } else if roll < 0.84 && paying {
            let body = DowngradeScheduled {
                subscription_id: Some(id),
                to_plan_id: Some("basic_m".into()),
                effective_at: Some(self.subs[i].period_end()),
            };
            self.emit(ts, EventBody::DowngradeScheduled(body));
        } else {
            self.emit(ts, EventBody::PricingPageViewed(PageView { page: Some("/pricing".into()) }));
        }
    }
}

/// The events of one customer (in time order), from a seed.
pub fn customer_events(options: &GenOptions, seed: u64, index: usize) -> Vec<ImportEvent> {
    let mut rng = Rng::new(seed);
    let (country, currency, tax_bps) = *rng.pick(&COUNTRIES);
    let customer = format!("cus_{index}");
    let horizon = options.horizon();
    let window_start = options.start.start();
    let mut sim = Sim { rng, customer, currency, tax_bps, subs: Vec::new(), events: Vec::new(), counter: 0 };
    let months = i64::from(options.months.max(1));
    let mut t = if sim.rng.chance(0.05) {
        options.start.offset(sim.rng.range(0, months)).start()
    } else {
        sim.rng.range(window_start, horizon)
    };
    if sim.rng.chance(0.92) {
        let body = SignedUp {
            country: Some(country.to_string()),
            currency: Some(currency),
            acquisition_channel: Some(sim.rng.pick(&["organic", "ads", "referral"]).to_string()),
            plan_id: Some("free".to_string()),
        };
        sim.emit(t, EventBody::SignedUp(body));
        if sim.rng.chance(0.6) {
            let at = t + sim.rng.range(0, 5 * DAY_S);
            sim.emit(at, EventBody::PricingPageViewed(PageView { page: Some("/pricing".into()) }));
        }
    }
    if sim.rng.chance(0.35) {
        // A lead.
        if sim.rng.chance(0.2) {
            let at = t + sim.rng.range(0, 20 * DAY_S);
            sim.emit(at, EventBody::CheckoutStarted(PageView { page: Some("/checkout".into()) }));
        }
    } else {
        t += if sim.rng.chance(0.3) { 0 } else { sim.rng.range(0, 45 * DAY_S) };
        if t < horizon {
            sim.start_sub(t, None);
        }
        let every = options.action_every_days.max(1) * DAY_S;
        loop {
            let next_sched = sim.subs.iter().enumerate().filter_map(|(i, s)| s.next_time().map(|at| (at, i))).min();
            let next_act = t + sim.rng.range(1, 2 * every);
            let (at, what) = match next_sched {
                Some((at, i)) if at <= next_act => (at, Some(i)),
                _ => (next_act, None),
            };
            if at >= horizon {
                break;
            }
            t = at;
            match what {
                Some(i) => sim.scheduled(at, i),
                None => sim.act(at),
            }
            if sim.subs.iter().all(|s| s.st == St::Ended) && sim.rng.chance(0.5) {
                // Most churned customers do not come back.
                break;
            }
        }
    }
    let mut events = sim.events;
    events.retain(|e| e.ts < horizon);
    events.sort_by_key(|e| e.ts);
    events
}
