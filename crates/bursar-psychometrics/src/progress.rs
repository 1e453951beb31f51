//! Progress of a long analysis, for a caller that wants to show it while the
//! work runs on another thread: the analysis writes its phase, its EM or
//! Newton cycle and the largest parameter change of the last cycle into a
//! shared [`Progress`]; the caller reads a [`Snapshot`] whenever it likes.
//! Nothing here blocks or allocates on the hot path (atomics only).

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;

/// What an analysis is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Not started.
    Waiting,
    /// Classical statistics and reliability.
    Classical,
    /// Bock–Aitkin EM cycles.
    Em,
    /// Newton–Raphson steps near the estimate.
    Newton,
    /// Standard errors, log-likelihood and person scores at the estimate.
    Scoring,
    /// Response times and cohorts; the report is assembled.
    Finishing,
}

impl Phase {
    const ALL: [Phase; 6] =
        [Phase::Waiting, Phase::Classical, Phase::Em, Phase::Newton, Phase::Scoring, Phase::Finishing];

    /// Its name: `waiting`, `classical`, `em`, `newton`, `scoring`, `finishing`.
    pub fn key(self) -> &'static str {
        match self {
            Phase::Waiting => "waiting",
            Phase::Classical => "classical",
            Phase::Em => "em",
            Phase::Newton => "newton",
            Phase::Scoring => "scoring",
            Phase::Finishing => "finishing",
        }
    }

    fn index(self) -> u8 {
        Phase::ALL.iter().position(|p| *p == self).unwrap_or(0) as u8
    }
}

/// What a [`Progress`] held when it was read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Snapshot {
    pub phase: Phase,
    /// E-steps used so far by the model being fitted (EM cycles plus Newton steps).
    pub cycle: u64,
    /// Largest |parameter change| of the last cycle (infinite before the first).
    pub change: f64,
    /// The convergence tolerance the fit runs to.
    pub tolerance: f64,
}

impl Snapshot {
    /// How far the fit has come towards its tolerance, 0 to 1: the decades of
    /// parameter change already shed out of those between 1 and the tolerance.
    /// Convergence is not linear in cycles, so this is the honest measure.
    pub fn convergence(&self) -> f64 {
        if !(self.change.is_finite() && self.tolerance > 0.0 && self.tolerance < 1.0) {
            return 0.0;
        }
        if self.change <= self.tolerance {
            return 1.0;
        }
        (-self.change.max(f64::MIN_POSITIVE).log10() / -self.tolerance.log10()).clamp(0.0, 1.0)
    }
}

#[derive(Debug)]
struct Cells {
    phase: AtomicU8,
    cycle: AtomicU64,
    change: AtomicU64,
    tolerance: AtomicU64,
}

/// A shared progress record; cloning shares it.
#[derive(Debug, Clone)]
pub struct Progress(Arc<Cells>);

impl Default for Progress {
    fn default() -> Self {
        Progress(Arc::new(Cells {
            phase: AtomicU8::new(Phase::Waiting.index()),
            cycle: AtomicU64::new(0),
            change: AtomicU64::new(f64::INFINITY.to_bits()),
            tolerance: AtomicU64::new(0f64.to_bits()),
        }))
    }
}

/// Two handles are equal when they share one record.
impl PartialEq for Progress {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Progress {
    pub fn new() -> Progress {
        Progress::default()
    }

    pub fn read(&self) -> Snapshot {
        let i = self.0.phase.load(Ordering::Relaxed) as usize;
        Snapshot {
            phase: Phase::ALL.get(i).copied().unwrap_or(Phase::Waiting),
            cycle: self.0.cycle.load(Ordering::Relaxed),
            change: f64::from_bits(self.0.change.load(Ordering::Relaxed)),
            tolerance: f64::from_bits(self.0.tolerance.load(Ordering::Relaxed)),
        }
    }

    pub(crate) fn phase(&self, p: Phase) {
        self.0.phase.store(p.index(), Ordering::Relaxed);
    }

    /// A new fit starts (its cycles count from zero).
    pub(crate) fn start_fit(&self, tolerance: f64) {
        self.0.tolerance.store(tolerance.to_bits(), Ordering::Relaxed);
        self.0.cycle.store(0, Ordering::Relaxed);
        self.0.change.store(f64::INFINITY.to_bits(), Ordering::Relaxed);
        self.phase(Phase::Em);
    }

    pub(crate) fn cycle(&self, cycle: usize, change: f64, newton: bool) {
        self.0.cycle.store(cycle as u64, Ordering::Relaxed);
        self.0.change.store(change.to_bits(), Ordering::Relaxed);
        self.phase(if newton { Phase::Newton } else { Phase::Em });
    }
}

/// Reports to an optional record.
pub(crate) fn report(p: Option<&Progress>, f: impl FnOnce(&Progress)) {
    if let Some(p) = p {
        f(p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn convergence_counts_decades_towards_the_tolerance() {
        let p = Progress::new();
        assert_eq!(p.read().phase, Phase::Waiting);
        assert_eq!(p.read().convergence(), 0.0);
        p.start_fit(1e-8);
        p.cycle(3, 1e-2, false);
        let s = p.read();
        assert_eq!((s.phase, s.cycle), (Phase::Em, 3));
        assert!((s.convergence() - 0.25).abs() < 1e-12);
        p.cycle(9, 1e-6, true);
        assert_eq!(p.read().phase, Phase::Newton);
        assert!((p.read().convergence() - 0.75).abs() < 1e-12);
        p.cycle(10, 1e-9, true);
        assert_eq!(p.read().convergence(), 1.0);
        let shared = p.clone();
        shared.phase(Phase::Scoring);
        assert_eq!(p.read().phase, Phase::Scoring);
        assert_eq!(p, shared);
        assert_ne!(p, Progress::new());
    }
}
