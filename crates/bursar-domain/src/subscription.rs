//! Subscriptions: the state machine, billing periods and proration.
//!
//! The state machine is the one in `docs/subscriptions.md`. Every change of
//! status goes through [`transition`], so an impossible move (pausing a
//! trial, renewing a canceled subscription) is an error rather than a state.
//!
//! Periods are anchored: the n-th boundary is computed from the anchor, not
//! from the previous boundary, so a subscription that starts on 31 January
//! renews on 28/29 February and again on 31 March. Time is UTC.
//!
//! Proration is to the second: the unused part of a period is
//! `amount × seconds_left ÷ seconds_in_period`, rounded half to even, once
//! per line.

use crate::catalog::Interval;
use crate::money::{round_div, MoneyError, Rounding};
use jiff::{tz::TimeZone, Timestamp};
use serde::{Deserialize, Serialize};

/// Where a subscription is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Trialing,
    Active,
    PastDue,
    Paused,
    Canceled,
    Unpaid,
    /// Started through a checkout whose first payment has not succeeded.
    Incomplete,
    /// The checkout's first payment never succeeded (terminal).
    IncompleteExpired,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Trialing => "trialing",
            Status::Active => "active",
            Status::PastDue => "past_due",
            Status::Paused => "paused",
            Status::Canceled => "canceled",
            Status::Unpaid => "unpaid",
            Status::Incomplete => "incomplete",
            Status::IncompleteExpired => "incomplete_expired",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Some(match s {
            "trialing" => Status::Trialing,
            "active" => Status::Active,
            "past_due" => Status::PastDue,
            "paused" => Status::Paused,
            "canceled" => Status::Canceled,
            "unpaid" => Status::Unpaid,
            "incomplete" => Status::Incomplete,
            "incomplete_expired" => Status::IncompleteExpired,
            _ => return None,
        })
    }

    /// Whether the customer gets the plan's entitlements in this status.
    pub fn grants_access(self) -> bool {
        matches!(self, Status::Trialing | Status::Active | Status::PastDue)
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, Status::Canceled | Status::IncompleteExpired)
    }
}

/// What happens to a subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The trial ended and its first invoice was paid.
    TrialConverted,
    /// The trial ended with a payment method that failed.
    TrialPaymentFailed,
    /// The trial ended without a payment method.
    TrialLapsed,
    RenewalPaid,
    RenewalFailed,
    /// A retry (or an updated payment method) paid the open invoice.
    PaymentRecovered,
    /// Dunning gave up; `mark_unpaid` keeps the subscription as `unpaid`
    /// instead of canceling it.
    RetriesExhausted {
        mark_unpaid: bool,
    },
    Pause,
    Resume,
    CancelNow,
    /// The period ended on a subscription set to cancel then.
    PeriodEndedCanceling,
    /// A canceled subscription started again.
    Reactivate,
    /// The checkout's first payment succeeded.
    FirstPaymentSucceeded,
    /// The checkout ended without a successful first payment.
    CheckoutExpired,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a {} subscription cannot {action}", from.as_str())]
pub struct TransitionError {
    pub from: Status,
    pub action: &'static str,
}

fn action(e: Event) -> &'static str {
    match e {
        Event::TrialConverted | Event::TrialPaymentFailed | Event::TrialLapsed => "end a trial",
        Event::RenewalPaid | Event::RenewalFailed => "renew",
        Event::PaymentRecovered => "recover a payment",
        Event::RetriesExhausted { .. } => "exhaust payment retries",
        Event::Pause => "be paused",
        Event::Resume => "be resumed",
        Event::CancelNow => "be canceled",
        Event::PeriodEndedCanceling => "end its period canceling",
        Event::Reactivate => "be reactivated",
        Event::FirstPaymentSucceeded => "complete its first payment",
        Event::CheckoutExpired => "expire unpaid",
    }
}

/// The state machine.
pub fn transition(from: Status, event: Event) -> Result<Status, TransitionError> {
    use Event as E;
    use Status as S;
    let to = match (from, event) {
        (S::Trialing, E::TrialConverted) => S::Active,
        (S::Trialing, E::TrialPaymentFailed) => S::PastDue,
        (S::Trialing, E::TrialLapsed) => S::Canceled,
        (S::Active, E::RenewalPaid) => S::Active,
        (S::Active, E::RenewalFailed) => S::PastDue,
        (S::PastDue | S::Unpaid, E::PaymentRecovered) => S::Active,
        (S::PastDue, E::RetriesExhausted { mark_unpaid: true }) => S::Unpaid,
        (S::PastDue, E::RetriesExhausted { mark_unpaid: false }) => S::Canceled,
        (S::Active, E::Pause) => S::Paused,
        (S::Paused, E::Resume) => S::Active,
        (S::Trialing | S::Active | S::PastDue | S::Paused | S::Unpaid, E::CancelNow) => S::Canceled,
        (S::Trialing | S::Active, E::PeriodEndedCanceling) => S::Canceled,
        (S::Canceled, E::Reactivate) => S::Active,
        (S::Incomplete, E::FirstPaymentSucceeded) => S::Active,
        (S::Incomplete, E::CheckoutExpired) => S::IncompleteExpired,
        _ => return Err(TransitionError { from, action: action(event) }),
    };
    Ok(to)
}

/// The shortest and longest pause.
pub const PAUSE_MONTHS: std::ops::RangeInclusive<u32> = 1..=3;

/// A billing period `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub start: Timestamp,
    pub end: Timestamp,
}

impl Period {
    pub fn seconds(self) -> i64 {
        self.end.as_second() - self.start.as_second()
    }
    pub fn contains(self, t: Timestamp) -> bool {
        self.start <= t && t < self.end
    }
}

/// Why a period could not be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    /// The date arithmetic leaves the supported range (years -9999 to 9999),
    /// or the period offset does not fit in 32 bits of months.
    #[error("the billing period is out of the supported date range")]
    OutOfRange,
    /// A period whose end is before its start.
    #[error("a billing period cannot end ({end}) before it starts ({start})")]
    EndsBeforeStart { start: Timestamp, end: Timestamp },
    /// The prorated amount does not fit (only at the extremes of `i64`).
    #[error(transparent)]
    Money(#[from] MoneyError),
}

/// `anchor` plus `months` calendar months in UTC, the day clamped to the
/// month's length.
pub fn add_months(anchor: Timestamp, months: i32) -> Result<Timestamp, PeriodError> {
    // `ToSpan::months` panics beyond jiff's span limits; `try_months` says so.
    let span = jiff::Span::new().try_months(i64::from(months)).map_err(|_| PeriodError::OutOfRange)?;
    anchor.to_zoned(TimeZone::UTC).checked_add(span).map(|z| z.timestamp()).map_err(|_| PeriodError::OutOfRange)
}

/// The `n`-th period (0-based) of a subscription anchored at `anchor`.
pub fn nth_period(anchor: Timestamp, interval: Interval, n: i32) -> Result<Period, PeriodError> {
    let m = interval.months();
    let start = n.checked_mul(m).ok_or(PeriodError::OutOfRange)?;
    let end = n.checked_add(1).and_then(|k| k.checked_mul(m)).ok_or(PeriodError::OutOfRange)?;
    Ok(Period { start: add_months(anchor, start)?, end: add_months(anchor, end)? })
}

/// The period containing `at` (for `at` at or after the anchor; the first
/// period for an earlier `at`).
pub fn period_at(anchor: Timestamp, interval: Interval, at: Timestamp) -> Result<Period, PeriodError> {
    if at < anchor {
        return nth_period(anchor, interval, 0);
    }
    // Estimate from the average month, then correct. Both instants are
    // within jiff's range, so the difference fits easily.
    let months = (at.as_second() - anchor.as_second()) / 2_629_746;
    let mut n = i32::try_from(months / i64::from(interval.months())).map_err(|_| PeriodError::OutOfRange)?;
    // The estimate is off by at most a few periods; the bound only guards
    // against a calendar that would never settle.
    for _ in 0..64 {
        let p = nth_period(anchor, interval, n)?;
        if at < p.start {
            n = n.checked_sub(1).ok_or(PeriodError::OutOfRange)?;
        } else if at >= p.end {
            n = n.checked_add(1).ok_or(PeriodError::OutOfRange)?;
        } else {
            return Ok(p);
        }
    }
    Err(PeriodError::OutOfRange)
}

fn check_period(period: Period) -> Result<(), PeriodError> {
    if period.end < period.start {
        return Err(PeriodError::EndsBeforeStart { start: period.start, end: period.end });
    }
    Ok(())
}

/// The unused part of `amount` for the rest of `period` from `at`: amount ×
/// seconds left ÷ seconds in the period, rounded half to even. Zero outside
/// the period and for an empty one; an error for a period that ends before
/// it starts.
pub fn unused_amount(amount_minor: i64, period: Period, at: Timestamp) -> Result<i64, PeriodError> {
    check_period(period)?;
    let total = period.seconds();
    if total <= 0 || at >= period.end {
        return Ok(0);
    }
    let left = period.end.as_second() - at.as_second().max(period.start.as_second());
    Ok(round_div(i128::from(amount_minor) * i128::from(left), i128::from(total), Rounding::HalfEven)?)
}

/// The two lines of a mid-period plan or quantity change: a credit for the
/// unused time on the old amount (zero or negative) and a charge for the
/// rest of the period on the new amount (zero or positive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Proration {
    pub credit_minor: i64,
    pub charge_minor: i64,
    pub seconds_left: i64,
    pub seconds_in_period: i64,
}

impl Proration {
    /// Credit plus charge; [`MoneyError::Overflow`] when that leaves `i64`.
    pub fn net(self) -> Result<i64, MoneyError> {
        self.credit_minor.checked_add(self.charge_minor).ok_or(MoneyError::Overflow)
    }
}

/// Prorates a change from `old_amount_minor` to `new_amount_minor` at `at`
/// within `period`. Errors for a period that ends before it starts, and
/// with [`MoneyError::Overflow`] for an old amount of `i64::MIN` (its credit
/// has no negation).
pub fn prorate_change(
    old_amount_minor: i64,
    new_amount_minor: i64,
    period: Period,
    at: Timestamp,
) -> Result<Proration, PeriodError> {
    check_period(period)?;
    let credit = unused_amount(old_amount_minor, period, at)?;
    let charge = unused_amount(new_amount_minor, period, at)?;
    let seconds_in_period = period.seconds();
    Ok(Proration {
        credit_minor: credit.checked_neg().ok_or(MoneyError::Overflow)?,
        charge_minor: charge,
        seconds_left: (period.end.as_second() - at.as_second()).clamp(0, seconds_in_period),
        seconds_in_period,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::ToSpan;
    use proptest::prelude::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn the_state_machine() {
        use Event as E;
        use Status as S;
        assert_eq!(transition(S::Trialing, E::TrialConverted), Ok(S::Active));
        assert_eq!(transition(S::Trialing, E::TrialLapsed), Ok(S::Canceled));
        assert_eq!(transition(S::Active, E::RenewalFailed), Ok(S::PastDue));
        assert_eq!(transition(S::PastDue, E::PaymentRecovered), Ok(S::Active));
        assert_eq!(transition(S::PastDue, E::RetriesExhausted { mark_unpaid: true }), Ok(S::Unpaid));
        assert_eq!(transition(S::PastDue, E::RetriesExhausted { mark_unpaid: false }), Ok(S::Canceled));
        assert_eq!(transition(S::Unpaid, E::PaymentRecovered), Ok(S::Active));
        assert_eq!(transition(S::Active, E::Pause), Ok(S::Paused));
        assert_eq!(transition(S::Paused, E::Resume), Ok(S::Active));
        assert_eq!(transition(S::Canceled, E::Reactivate), Ok(S::Active));
        let e = transition(S::Trialing, E::Pause).unwrap_err();
        assert_eq!(e.to_string(), "a trialing subscription cannot be paused");
        assert!(transition(S::Canceled, E::RenewalPaid).is_err());
        assert!(transition(S::Canceled, E::CancelNow).is_err());
        assert!(transition(S::Paused, E::Pause).is_err());
        assert!(transition(S::Active, E::Resume).is_err());
        // Canceled is reachable from every other status, and only reactivation leaves it.
        for s in [S::Trialing, S::Active, S::PastDue, S::Paused, S::Unpaid] {
            assert_eq!(transition(s, E::CancelNow), Ok(S::Canceled));
        }
        for s in ["trialing", "active", "past_due", "paused", "canceled", "unpaid"] {
            assert_eq!(Status::parse(s).unwrap().as_str(), s);
        }
    }

    #[test]
    fn periods_keep_their_anchor_day() {
        let a = ts("2026-01-31T10:00:00Z");
        let ends: Vec<String> = (0..4).map(|n| nth_period(a, Interval::Month, n).unwrap().end.to_string()).collect();
        assert_eq!(
            ends,
            vec!["2026-02-28T10:00:00Z", "2026-03-31T10:00:00Z", "2026-04-30T10:00:00Z", "2026-05-31T10:00:00Z"]
        );
        let leap = ts("2024-02-29T00:00:00Z");
        assert_eq!(nth_period(leap, Interval::Year, 0).unwrap().end.to_string(), "2025-02-28T00:00:00Z");
        assert_eq!(nth_period(leap, Interval::Year, 3).unwrap().end.to_string(), "2028-02-29T00:00:00Z");
        let p = period_at(a, Interval::Month, ts("2026-03-31T09:59:59Z")).unwrap();
        assert_eq!(p.start.to_string(), "2026-02-28T10:00:00Z");
        let p = period_at(a, Interval::Month, ts("2026-03-31T10:00:00Z")).unwrap();
        assert_eq!(p.start.to_string(), "2026-03-31T10:00:00Z");
    }

    #[test]
    fn proration_to_the_second() {
        // 30-day April; upgrade from 1,900 to 4,900 with 10 days left.
        let p = Period { start: ts("2026-04-01T00:00:00Z"), end: ts("2026-05-01T00:00:00Z") };
        let r = prorate_change(1900, 4900, p, ts("2026-04-21T00:00:00Z")).unwrap();
        assert_eq!((r.credit_minor, r.charge_minor, r.net()), (-633, 1633, Ok(1000)));
        // One second left of a 31-day month: 1,900 × 1 ÷ 2,678,400 rounds to 0.
        let p = Period { start: ts("2026-03-01T00:00:00Z"), end: ts("2026-04-01T00:00:00Z") };
        assert_eq!(unused_amount(1900, p, ts("2026-03-31T23:59:59Z")).unwrap(), 0);
        // Yearly plan changed on day 200 of 365: 165 days left.
        let y = Period { start: ts("2026-01-01T00:00:00Z"), end: ts("2027-01-01T00:00:00Z") };
        let at = ts("2026-07-20T00:00:00Z");
        assert_eq!(unused_amount(19_000, y, at).unwrap(), 8589); // 19,000 × 165 ÷ 365 = 8,589.04
        assert_eq!(unused_amount(1900, p, ts("2026-04-02T00:00:00Z")).unwrap(), 0);
        assert_eq!(unused_amount(1900, p, ts("2026-02-01T00:00:00Z")).unwrap(), 1900);
    }

    #[test]
    fn a_period_that_ends_before_it_starts_is_an_error() {
        let p = Period { start: ts("2026-05-01T00:00:00Z"), end: ts("2026-04-01T00:00:00Z") };
        let e = prorate_change(1900, 4900, p, ts("2026-04-15T00:00:00Z")).unwrap_err();
        assert!(matches!(e, PeriodError::EndsBeforeStart { .. }), "{e:?}");
        assert!(matches!(unused_amount(1900, p, ts("2026-04-15T00:00:00Z")), Err(PeriodError::EndsBeforeStart { .. })));
        // An empty period is no error: nothing is left of it.
        let empty = Period { start: p.start, end: p.start };
        assert_eq!(prorate_change(1900, 4900, empty, p.start).unwrap().net(), Ok(0));
    }

    #[test]
    fn huge_period_offsets_are_errors() {
        let a = ts("2026-01-31T10:00:00Z");
        for n in [i32::MAX, i32::MAX - 1, i32::MIN, i32::MIN + 1, 1_000_000_000, -1_000_000_000] {
            for interval in [Interval::Month, Interval::Year] {
                assert!(nth_period(a, interval, n).is_err(), "{n} {interval:?}");
            }
        }
        // The last periods jiff can represent still work, then they stop.
        assert!(nth_period(a, Interval::Year, 7_000).is_ok());
        assert_eq!(nth_period(a, Interval::Year, 8_000), Err(PeriodError::OutOfRange));
        assert_eq!(add_months(a, i32::MAX), Err(PeriodError::OutOfRange));
        assert!(period_at(Timestamp::MIN, Interval::Month, Timestamp::MAX).is_err());
        assert!(period_at(a, Interval::Year, Timestamp::MAX).is_err());
        let p = period_at(Timestamp::MIN, Interval::Year, ts("2026-06-01T00:00:00Z")).unwrap();
        assert!(p.contains(ts("2026-06-01T00:00:00Z")));
    }

    #[test]
    fn proration_of_extreme_amounts_does_not_overflow() {
        let p = Period { start: ts("2026-04-01T00:00:00Z"), end: ts("2026-05-01T00:00:00Z") };
        let r = prorate_change(i64::MAX, i64::MIN, p, p.start).unwrap();
        assert_eq!((r.credit_minor, r.charge_minor), (-i64::MAX, i64::MIN));
        assert_eq!(r.net(), Err(MoneyError::Overflow));
        let r = prorate_change(i64::MIN, 0, p, p.start);
        assert_eq!(r, Err(PeriodError::Money(MoneyError::Overflow)), "the credit for i64::MIN has no negation");
        let r = Proration { credit_minor: i64::MIN, charge_minor: i64::MIN, seconds_left: 0, seconds_in_period: 0 };
        assert_eq!(r.net(), Err(MoneyError::Overflow));
    }

    fn any_timestamp() -> impl Strategy<Value = Timestamp> {
        (Timestamp::MIN.as_second()..=Timestamp::MAX.as_second()).prop_map(|s| Timestamp::from_second(s).unwrap())
    }

    proptest! {
        /// No input panics; a period that is found contains its instant and
        /// starts no later than it ends.
        #[test]
        fn period_arithmetic_never_panics(anchor in any_timestamp(), at in any_timestamp(), n in any::<i32>(),
                                          months in any::<i32>(), yearly in any::<bool>(),
                                          old in any::<i64>(), new in any::<i64>(), end in any_timestamp()) {
            let interval = if yearly { Interval::Year } else { Interval::Month };
            if let Ok(p) = nth_period(anchor, interval, n) {
                prop_assert!(p.start <= p.end);
            }
            let _ = add_months(anchor, months);
            if let Ok(p) = period_at(anchor, interval, at) {
                prop_assert!(at < anchor || p.contains(at));
            }
            let period = Period { start: anchor, end };
            match prorate_change(old, new, period, at) {
                Ok(r) => {
                    prop_assert!(end >= anchor);
                    prop_assert!((0..=r.seconds_in_period.max(0)).contains(&r.seconds_left));
                    prop_assert!(r.credit_minor.unsigned_abs() <= old.unsigned_abs());
                    prop_assert!(r.charge_minor.unsigned_abs() <= new.unsigned_abs());
                    let _ = r.net();
                }
                Err(PeriodError::EndsBeforeStart { .. }) => prop_assert!(end < anchor),
                Err(e) => prop_assert_eq!(e, PeriodError::Money(MoneyError::Overflow)),
            }
        }

        /// The used and unused parts of a period, each rounded, never differ
        /// from the whole by more than one minor unit, and unused shrinks as
        /// time passes.
        #[test]
        fn proration_is_monotone_and_bounded(amount in 0i64..10_000_000, a in 0i64..2_678_400, b in 0i64..2_678_400) {
            let p = Period { start: ts("2026-03-01T00:00:00Z"), end: ts("2026-04-01T00:00:00Z") };
            let (t1, t2) = (a.min(b), a.max(b));
            let at1 = Timestamp::from_second(p.start.as_second() + t1).unwrap();
            let at2 = Timestamp::from_second(p.start.as_second() + t2).unwrap();
            let u1 = unused_amount(amount, p, at1).unwrap();
            let u2 = unused_amount(amount, p, at2).unwrap();
            prop_assert!(u2 <= u1);
            prop_assert!((0..=amount).contains(&u1));
            let exact_num = i128::from(amount) * i128::from(p.seconds() - t1);
            let diff = i128::from(u1) * i128::from(p.seconds()) - exact_num;
            prop_assert!(diff.abs() * 2 <= i128::from(p.seconds()));
        }

        #[test]
        fn period_at_finds_the_containing_period(offset_days in 0i64..3_000, day in 1i8..=31, yearly in any::<bool>()) {
            let anchor = jiff::civil::date(2025, 1, 1).checked_add(i64::from(day - 1).days()).unwrap()
                .to_zoned(TimeZone::UTC).unwrap().timestamp();
            let at = Timestamp::from_second(anchor.as_second() + offset_days * 86_400 + 3_600).unwrap();
            let interval = if yearly { Interval::Year } else { Interval::Month };
            let p = period_at(anchor, interval, at).unwrap();
            prop_assert!(p.contains(at));
        }
    }
}
