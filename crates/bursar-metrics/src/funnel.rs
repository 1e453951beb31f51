//! Conversion funnels over a customer's event timeline.
//!
//! Entry is the first occurrence of step 1; the funnel is measured within a
//! window from that entry (inclusive), and a customer counts once per step.
//!
//! * [`FunnelOrder::Ordered`] (the default): each step's first occurrence at
//!   or after the previous step's (other events may come between).
//! * [`FunnelOrder::Strict`]: each step must be the very next event of the
//!   customer after the previous step (unknown event types are not events
//!   here).
//! * [`FunnelOrder::Any`]: step `k` is reached when steps 1..=k each occur at
//!   least once in the window, in any order, at or after the entry.

use serde::{Deserialize, Serialize};

use crate::engine::TimelineEvent;
use crate::time::DAY_S;

/// How the steps of a funnel must follow each other.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FunnelOrder {
    #[default]
    Ordered,
    Strict,
    Any,
}

/// A funnel definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunnelOptions {
    /// Event names, in order.
    pub steps: Vec<String>,
    /// Seconds from the entry within which later steps count (inclusive).
    pub window_s: i64,
    pub order: FunnelOrder,
}

impl Default for FunnelOptions {
    /// `user.signed_up` → `pricing_page.viewed` → `checkout.started` →
    /// `subscription.created`, within 14 days, in order.
    fn default() -> Self {
        FunnelOptions {
            steps: ["user.signed_up", "pricing_page.viewed", "checkout.started", "subscription.created"]
                .map(String::from)
                .to_vec(),
            window_s: 14 * DAY_S,
            order: FunnelOrder::Ordered,
        }
    }
}

/// Where one customer entered a funnel and how many steps they reached
/// (at least 1); `None` when step 1 never happened.
pub fn evaluate(timeline: &[TimelineEvent], options: &FunnelOptions) -> Option<(i64, usize)> {
    let first = options.steps.first()?;
    let entry_idx = timeline.iter().position(|e| e.name == first.as_str())?;
    let entry = timeline[entry_idx].ts;
    let deadline = entry.saturating_add(options.window_s.max(0));
    let in_window = |e: &TimelineEvent| e.ts >= entry && e.ts <= deadline;
    let reached = match options.order {
        FunnelOrder::Ordered => {
            let mut used = vec![entry_idx];
            let mut prev_ts = entry;
            let mut reached = 1;
            for step in &options.steps[1..] {
                let found = timeline
                    .iter()
                    .enumerate()
                    .find(|(i, e)| e.ts >= prev_ts && in_window(e) && e.name == step.as_str() && !used.contains(i));
                match found {
                    Some((i, e)) => {
                        used.push(i);
                        prev_ts = e.ts;
                        reached += 1;
                    }
                    None => break,
                }
            }
            reached
        }
        FunnelOrder::Strict => {
            let mut reached = 1;
            for (k, step) in options.steps[1..].iter().enumerate() {
                match timeline.get(entry_idx + k + 1) {
                    Some(e) if in_window(e) && e.name == step.as_str() => reached += 1,
                    _ => break,
                }
            }
            reached
        }
        FunnelOrder::Any => {
            let mut reached = 1;
            for step in &options.steps[1..] {
                if timeline.iter().skip(entry_idx).any(|e| in_window(e) && e.name == step.as_str()) {
                    reached += 1;
                } else {
                    break;
                }
            }
            reached
        }
    };
    Some((entry, reached))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    fn tl(events: &[(i64, &'static str)]) -> Vec<TimelineEvent> {
        events.iter().map(|(ts, n)| TimelineEvent { ts: *ts, name: Cow::Borrowed(*n) }).collect()
    }

    fn opts(order: FunnelOrder) -> FunnelOptions {
        FunnelOptions { order, ..FunnelOptions::default() }
    }

    const S: &str = "user.signed_up";
    const P: &str = "pricing_page.viewed";
    const C: &str = "checkout.started";
    const B: &str = "subscription.created";

    #[test]
    fn ordered_allows_other_events_between() {
        let t = tl(&[(0, S), (10, "invoice.paid"), (20, P), (30, P), (40, C), (50, B)]);
        assert_eq!(evaluate(&t, &opts(FunnelOrder::Ordered)), Some((0, 4)));
        assert_eq!(evaluate(&t, &opts(FunnelOrder::Strict)), Some((0, 1)));
        assert_eq!(evaluate(&t, &opts(FunnelOrder::Any)), Some((0, 4)));
    }

    #[test]
    fn order_and_window() {
        // Checkout before the pricing page: ordered stops after the page
        // view (no checkout after it), any-order reaches the end.
        let t = tl(&[(0, S), (5, C), (10, P), (20, B)]);
        assert_eq!(evaluate(&t, &opts(FunnelOrder::Ordered)), Some((0, 2)));
        assert_eq!(evaluate(&t, &opts(FunnelOrder::Any)), Some((0, 4)));
        // The window is 14 days from the entry, inclusive.
        let w = 14 * DAY_S;
        let t = tl(&[(0, S), (w, P), (w + 1, C)]);
        assert_eq!(evaluate(&t, &opts(FunnelOrder::Ordered)), Some((0, 2)));
        // Entry is the first sign-up; a later one does not restart.
        let t = tl(&[(0, S), (w + 5, S), (w + 6, P)]);
        assert_eq!(evaluate(&t, &opts(FunnelOrder::Ordered)), Some((0, 1)));
        assert_eq!(evaluate(&tl(&[(0, P)]), &opts(FunnelOrder::Ordered)), None);
        // Strict: each step immediately after the previous one.
        let t = tl(&[(0, S), (1, P), (2, C), (3, B)]);
        assert_eq!(evaluate(&t, &opts(FunnelOrder::Strict)), Some((0, 4)));
        // A step at the same second as the previous one counts.
        let t = tl(&[(0, S), (0, P), (0, C), (0, B)]);
        assert_eq!(evaluate(&t, &opts(FunnelOrder::Ordered)), Some((0, 4)));
    }
}
