//! Errors of the engine and of the import.

use std::fmt;

use bursar_domain::money::MoneyError;

/// Something the engine cannot compute.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetricsError {
    /// An input value is out of its domain; the message says which.
    #[error("{0}")]
    Invalid(String),
    /// A sum or product does not fit in 64-bit minor units.
    #[error("amount overflow: a result does not fit in 64-bit minor units")]
    Overflow,
    /// A currency has no exchange rate to the base currency.
    #[error("no exchange rate from {0} to the base currency")]
    MissingFxRate(String),
    /// A fact of one customer was given to the replay of another.
    #[error("fact for customer `{found}` in the history of `{expected}`")]
    WrongCustomer { expected: String, found: String },
}

impl From<MoneyError> for MetricsError {
    fn from(e: MoneyError) -> Self {
        match e {
            MoneyError::Overflow | MoneyError::OutOfRange => MetricsError::Overflow,
            other => MetricsError::Invalid(other.to_string()),
        }
    }
}

/// One bad line of an events file: its 1-based number, the field at fault
/// (a path such as `lines[0].amount_minor`) when there is one, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LineError {
    pub line: usize,
    pub field: Option<String>,
    pub message: String,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "line {}: field `{}`: {}", self.line, field, self.message),
            None => write!(f, "line {}: {}", self.line, self.message),
        }
    }
}

/// How many line errors an [`ImportError::Lines`] keeps (the count of all of
/// them is kept too).
pub const MAX_LINE_ERRORS: usize = 1000;

/// Why an import was refused. Nothing of a refused file is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    /// The catalog document is malformed; `field` is the path at fault.
    #[error("catalog: {}{message}", field.as_ref().map(|f| format!("field `{f}`: ")).unwrap_or_default())]
    Catalog { field: Option<String>, message: String },
    /// Some event lines are malformed: the first [`MAX_LINE_ERRORS`] of
    /// them, in file order, and how many there were.
    #[error("{total} bad line(s) in the events file; first: {}", errors.first().map(ToString::to_string).unwrap_or_default())]
    Lines { errors: Vec<LineError>, total: usize },
}

/// Splits a serde message into the field at fault and the reason: the path
/// when it is not the root, the name in "missing field `x`", and without
/// serde_json's " at line 1 column 9" suffix.
pub(crate) fn split_serde_error(path: String, message: String) -> (Option<String>, String) {
    let message = match message.rfind(" at line ") {
        Some(i) if message[i..].contains(" column ") => message[..i].to_string(),
        _ => message,
    };
    let prefix = if path == "." || path.is_empty() { None } else { Some(path) };
    if let Some(rest) = message.strip_prefix("missing field `") {
        if let Some(name) = rest.strip_suffix('`') {
            let field = match prefix {
                Some(p) => format!("{p}.{name}"),
                None => name.to_string(),
            };
            return (Some(field), "missing".to_string());
        }
    }
    (prefix, message)
}
