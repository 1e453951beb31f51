//! The crate's single error type.

use std::fmt;

/// Which input a parse error comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The responses CSV (0, 1, `NA` or empty).
    Responses,
    /// The response-time CSV (integer milliseconds or `NA`).
    Times,
    /// The cohorts CSV (header `cohort`).
    Cohorts,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Source::Responses => "responses CSV",
            Source::Times => "response-time CSV",
            Source::Cohorts => "cohorts CSV",
        })
    }
}

/// Where in a CSV text a problem was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// 1-based line of the text (the header is line 1).
    pub line: usize,
    /// 1-based data row (person), when the problem is in a data row.
    pub row: Option<usize>,
    /// 1-based column, when the problem concerns one field.
    pub column: Option<usize>,
    /// The header name of that column, when known.
    pub item: Option<String>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}", self.line)?;
        if let Some(row) = self.row {
            write!(f, " (data row {row})")?;
        }
        if let Some(column) = self.column {
            write!(f, ", column {column}")?;
            if let Some(item) = &self.item {
                write!(f, " ({item})")?;
            }
        }
        Ok(())
    }
}

/// Everything that can go wrong; no public function of this crate panics on bad input.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// A CSV text could not be read.
    #[error("{source_kind}, {location}: {message}")]
    Parse {
        /// Which file.
        source_kind: Source,
        /// Where.
        location: Location,
        /// What is wrong.
        message: String,
    },
    /// In-memory input that breaks a documented rule (shape, values, names).
    #[error("invalid input: {0}")]
    Invalid(String),
    /// Two inputs that must agree (items, persons) do not.
    #[error("inputs do not match: {0}")]
    Mismatch(String),
}

impl Error {
    pub(crate) fn parse(source_kind: Source, location: Location, message: impl Into<String>) -> Self {
        Error::Parse { source_kind, location, message: message.into() }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Error::Invalid(message.into())
    }
}

/// Result with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
