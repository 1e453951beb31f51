//! Sign-in throttling: after a number of free failures, each further
//! failure locks the subject (an account, or a network address) for a time
//! that doubles with every failure, up to a cap. Failures older than the
//! window are forgotten. While locked, no password is checked at all, so
//! guessing gains nothing and the right password does not slip through.

/// How strict the throttle is for one kind of subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Failures allowed in a window before locking starts.
    pub free: u32,
    /// The first lock, in milliseconds; each further failure doubles it.
    pub base_ms: i64,
    /// The longest lock.
    pub max_ms: i64,
    /// Failures are counted from the first one in this window.
    pub window_ms: i64,
}

/// One account: five tries, then 30 s doubling up to 15 minutes.
pub const ACCOUNT: Policy = Policy { free: 5, base_ms: 30_000, max_ms: 900_000, window_ms: 3_600_000 };
/// One network address, over every account it tries: twenty tries, then
/// the same backoff.
pub const ADDRESS: Policy = Policy { free: 20, base_ms: 30_000, max_ms: 900_000, window_ms: 3_600_000 };

/// What is remembered of a subject's failures (all times epoch ms).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct State {
    pub failures: u32,
    pub window_start: i64,
    pub locked_until: i64,
}

impl State {
    /// Milliseconds until the subject may try again; `None` when it may now.
    pub fn retry_after(&self, now: i64) -> Option<i64> {
        (self.locked_until > now).then(|| self.locked_until - now)
    }

    /// The state after one more failure at `now`.
    pub fn after_failure(&self, now: i64, p: &Policy) -> State {
        let fresh = now.saturating_sub(self.window_start) >= p.window_ms || self.failures == 0;
        let (failures, window_start) =
            if fresh { (1, now) } else { (self.failures.saturating_add(1), self.window_start) };
        let locked_until = match failures.checked_sub(p.free) {
            None | Some(0) => self.locked_until,
            Some(over) => {
                let doublings = over.saturating_sub(1).min(30);
                let lock = p.base_ms.saturating_mul(1_i64 << doublings).min(p.max_ms);
                now.saturating_add(lock)
            }
        };
        State { failures, window_start, locked_until }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: Policy = ACCOUNT;

    fn fail(mut s: State, times: u32, now: i64) -> State {
        for _ in 0..times {
            s = s.after_failure(now, &P);
        }
        s
    }

    #[test]
    fn the_free_failures_do_not_lock() {
        let s = fail(State::default(), P.free, 1_000);
        assert_eq!(s.failures, P.free);
        assert_eq!(s.retry_after(1_000), None);
    }

    #[test]
    fn each_failure_past_the_free_ones_doubles_the_lock_up_to_the_cap() {
        let mut s = fail(State::default(), P.free, 0);
        let mut locks = Vec::new();
        for _ in 0..8 {
            s = s.after_failure(0, &P);
            locks.push(s.retry_after(0).unwrap());
        }
        assert_eq!(locks, [30_000, 60_000, 120_000, 240_000, 480_000, 900_000, 900_000, 900_000]);
    }

    #[test]
    fn a_lock_ends_and_an_old_window_is_forgotten() {
        let s = fail(State::default(), P.free + 1, 0);
        assert_eq!(s.retry_after(29_999), Some(1));
        assert_eq!(s.retry_after(30_000), None);
        // A failure after the window starts counting again from one.
        let later = s.after_failure(P.window_ms, &P);
        assert_eq!((later.failures, later.window_start), (1, P.window_ms));
        assert_eq!(later.retry_after(P.window_ms), None);
    }

    #[test]
    fn extreme_inputs_do_not_overflow() {
        let s = State { failures: u32::MAX, window_start: i64::MIN, locked_until: i64::MAX };
        assert_eq!(s.after_failure(i64::MAX, &P).failures, 1, "a window from the distant past is over");
        let near_end = State { failures: u32::MAX, window_start: i64::MAX - 1, locked_until: 0 };
        assert_eq!(near_end.after_failure(i64::MAX, &P).locked_until, i64::MAX);
        let u = State { failures: u32::MAX - 1, window_start: 0, locked_until: 0 }.after_failure(1, &P);
        assert_eq!(u.retry_after(1), Some(P.max_ms));
    }
}
