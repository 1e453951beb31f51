//! Clocks. Domain code never reads the system clock: it is handed `now`, and
//! the services get it from a [`Clock`]. Test clocks (test mode only) are
//! stored in the database; [`FixedClock`] serves unit tests.

use jiff::Timestamp;
use std::sync::Mutex;

/// A source of the current instant.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Timestamp;
}

/// The machine's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that only moves when told to; for tests.
#[derive(Debug)]
pub struct FixedClock(Mutex<Timestamp>);

impl FixedClock {
    pub fn new(at: Timestamp) -> Self {
        FixedClock(Mutex::new(at))
    }

    pub fn set(&self, at: Timestamp) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = at;
    }

    pub fn advance(&self, by: jiff::SignedDuration) -> Result<(), ClockError> {
        let mut t = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *t = t.checked_add(by).map_err(|_| ClockError::OutOfRange)?;
        Ok(())
    }
}

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Timestamps are stored as integer milliseconds since the Unix epoch, which
/// both SQLite and PostgreSQL hold exactly and sort natively.
pub fn to_millis(t: Timestamp) -> i64 {
    t.as_millisecond()
}

/// The inverse of [`to_millis`]. Values outside jiff's range are clamped to
/// its bounds (they cannot come from [`to_millis`]).
pub fn from_millis(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(if ms < 0 { Timestamp::MIN } else { Timestamp::MAX })
}

/// The state of a test clock after an advance request: it may only move
/// forward, never backward.
pub fn validate_advance(current: Timestamp, target: Timestamp) -> Result<(), ClockError> {
    if target <= current {
        return Err(ClockError::NotForward { current, target });
    }
    Ok(())
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ClockError {
    #[error("a test clock can only move forward: it is at {current}, asked for {target}")]
    NotForward { current: Timestamp, target: Timestamp },
    /// The clock would leave the range of timestamps (years -9999 to 9999).
    #[error("the clock cannot move out of the supported time range")]
    OutOfRange,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_clock_refuses_to_leave_the_range() {
        let c = FixedClock::new(Timestamp::MAX);
        assert_eq!(c.advance(jiff::SignedDuration::from_secs(1)), Err(ClockError::OutOfRange));
        assert_eq!(c.now(), Timestamp::MAX);
        assert_eq!(from_millis(i64::MIN), Timestamp::MIN);
        assert_eq!(from_millis(i64::MAX), Timestamp::MAX);
    }

    #[test]
    fn fixed_clock_moves_only_when_told() {
        let start: Timestamp = "2026-01-31T12:00:00Z".parse().unwrap();
        let c = FixedClock::new(start);
        assert_eq!(c.now(), start);
        c.advance(jiff::SignedDuration::from_hours(24)).unwrap();
        assert_eq!(c.now().to_string(), "2026-02-01T12:00:00Z");
    }

    #[test]
    fn millis_round_trip() {
        let t: Timestamp = "2026-03-04T05:06:07.891Z".parse().unwrap();
        assert_eq!(from_millis(to_millis(t)), t);
        assert_eq!(to_millis(t), 1_772_600_767_891);
    }

    #[test]
    fn test_clocks_only_move_forward() {
        let t: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        assert!(validate_advance(t, t).is_err());
        assert!(validate_advance(t, t + jiff::SignedDuration::from_secs(1)).is_ok());
    }
}
