//! Billing periods and proration over the whole timestamp range and every
//! integer: errors, never panics; results stay inside their period.
#![no_main]

use bursar_domain::catalog::Interval;
use bursar_domain::subscription::{add_months, nth_period, period_at, prorate_change, unused_amount, Period};
use jiff::Timestamp;
use libfuzzer_sys::fuzz_target;

fn take<const N: usize>(data: &mut &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    let n = data.len().min(N);
    out[..n].copy_from_slice(&data[..n]);
    *data = &data[n..];
    out
}

fn timestamp(data: &mut &[u8]) -> Timestamp {
    let raw = i64::from_le_bytes(take::<8>(data));
    let (min, max) = (Timestamp::MIN.as_second(), Timestamp::MAX.as_second());
    let span = (max - min) as u64 + 1;
    let s = min + (raw as u64 % span) as i64;
    Timestamp::from_second(s).expect("within the range")
}

fuzz_target!(|data: &[u8]| {
    let mut d = data;
    let anchor = timestamp(&mut d);
    let at = timestamp(&mut d);
    let end = timestamp(&mut d);
    let n = i32::from_le_bytes(take::<4>(&mut d));
    let old = i64::from_le_bytes(take::<8>(&mut d));
    let new = i64::from_le_bytes(take::<8>(&mut d));
    let interval = if take::<1>(&mut d)[0] % 2 == 0 { Interval::Month } else { Interval::Year };
    let _ = add_months(anchor, n);
    if let Ok(p) = nth_period(anchor, interval, n) {
        assert!(p.start <= p.end);
    }
    if let Ok(p) = period_at(anchor, interval, at) {
        assert!(at < anchor || p.contains(at));
    }
    let period = Period { start: anchor, end };
    if let Ok(u) = unused_amount(old, period, at) {
        assert!(u.unsigned_abs() <= old.unsigned_abs());
    }
    if let Ok(r) = prorate_change(old, new, period, at) {
        assert!(end >= anchor);
        assert!(r.seconds_left >= 0 && r.seconds_left <= r.seconds_in_period.max(0));
        let _ = r.net();
    }
});
