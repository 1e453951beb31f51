//! The one error type of the statistics module.

use serde::Serialize;

/// Why a statistic could not be computed: the input `field` at fault (a path
/// such as `arms[1].sum_squares` for an analysis request, or an argument name
/// such as `df` for a distribution function) and a sentence saying what is
/// wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{field}: {message}")]
pub struct StatsError {
    pub field: String,
    pub message: String,
}

impl StatsError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

/// `Ok(x)` when `x` is finite, else an error naming `field`.
pub(crate) fn finite(field: &str, x: f64) -> Result<f64, StatsError> {
    if x.is_finite() {
        Ok(x)
    } else {
        Err(StatsError::new(field, format!("must be a finite number, not {x}")))
    }
}

/// `Ok(x)` when `x` is finite and above zero.
pub(crate) fn positive(field: &str, x: f64) -> Result<f64, StatsError> {
    if x.is_finite() && x > 0.0 {
        Ok(x)
    } else {
        Err(StatsError::new(field, format!("must be a finite number above zero, not {x}")))
    }
}

/// `Ok(p)` when `0 < p < 1`.
pub(crate) fn open_unit(field: &str, p: f64) -> Result<f64, StatsError> {
    if p > 0.0 && p < 1.0 {
        Ok(p)
    } else {
        Err(StatsError::new(field, format!("must lie strictly between 0 and 1, not {p}")))
    }
}
