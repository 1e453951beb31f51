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
use jiff::{tz::TimeZone, Timestamp, ToSpan};
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

/// `anchor` plus `months` calendar months in UTC, the day clamped to the
/// month's length.
pub fn add_months(anchor: Timestamp, months: i32) -> Result<Timestamp, MoneyError> {
    anchor.to_zoned(TimeZone::UTC).checked_add(months.months()).map(|z| z.timestamp()).map_err(|_| MoneyError::Overflow)
}

/// The `n`-th period (0-based) of a subscription anchored at `anchor`.
pub fn nth_period(anchor: Timestamp, interval: Interval, n: i32) -> Result<Period, MoneyError> {
    let m = interval.months();
    Ok(Period { start: add_months(anchor, n * m)?, end: add_months(anchor, (n + 1) * m)? })
}

/// The period containing `at` (for `at` at or after the anchor).
pub fn period_at(anchor: Timestamp, interval: Interval, at: Timestamp) -> Result<Period, MoneyError> {
    if at < anchor {
        return nth_period(anchor, interval, 0);
    }
    // Estimate from the average month, then correct.
    let months = (at.as_second() - anchor.as_second()) / 2_629_746;
    let mut n = i32::try_from(months / i64::from(interval.months())).map_err(|_| MoneyError::Overflow)?;
    loop {
        let p = nth_period(anchor, interval, n)?;
        if at < p.start {
            n -= 1;
        } else if at >= p.end {
            n += 1;
        } else {
            return Ok(p);
        }
    }
}

/// The unused part of `amount` for the rest of `period` from `at`: amount ×
/// seconds left ÷ seconds in the period, rounded half to even. Zero outside
/// the period.
pub fn unused_amount(amount_minor: i64, period: Period, at: Timestamp) -> Result<i64, MoneyError> {
    let total = period.seconds();
    if total <= 0 || at >= period.end {
        return Ok(0);
    }
    let left = period.end.as_second() - at.as_second().max(period.start.as_second());
    round_div(i128::from(amount_minor) * i128::from(left), i128::from(total), Rounding::HalfEven)
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
    pub fn net(self) -> i64 {
        self.credit_minor + self.charge_minor
    }
}

pub fn prorate_change(
    old_amount_minor: i64,
    new_amount_minor: i64,
    period: Period,
    at: Timestamp,
) -> Result<Proration, MoneyError> {
    let credit = unused_amount(old_amount_minor, period, at)?;
    let charge = unused_amount(new_amount_minor, period, at)?;
    Ok(Proration {
        credit_minor: -credit,
        charge_minor: charge,
        seconds_left: (period.end.as_second() - at.as_second()).clamp(0, period.seconds()),
        seconds_in_period: period.seconds(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
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
        assert_eq!((r.credit_minor, r.charge_minor, r.net()), (-633, 1633, 1000));
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

    proptest! {
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
