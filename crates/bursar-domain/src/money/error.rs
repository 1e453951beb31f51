//! The single error type of the money module.

use super::Currency;

/// Everything that can go wrong with money: unknown codes, mixed currencies,
/// overflow, malformed input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// The text is not an ISO 4217 code in the table.
    #[error("unknown currency code `{0}`")]
    UnknownCurrency(String),
    /// Two amounts of different currencies were combined.
    #[error("currency mismatch: {left} and {right} cannot be combined")]
    CurrencyMismatch {
        /// The currency of the left-hand operand.
        left: Currency,
        /// The currency of the right-hand operand.
        right: Currency,
    },
    /// The result does not fit in an `i64` count of minor units.
    #[error("amount overflow: the result does not fit in 64-bit minor units")]
    Overflow,
    /// A decimal amount could not be parsed; the message says why.
    #[error("invalid amount: {0}")]
    Parse(String),
    /// Allocation ratios were empty, all zero, or a split count was zero.
    #[error("invalid allocation: ratios must be non-empty with a positive sum")]
    InvalidRatios,
    /// An amount's absolute value exceeds [`super::MAX_AMOUNT_MINOR`].
    #[error("amount out of range: the absolute value may be at most {} minor units", super::MAX_AMOUNT_MINOR)]
    OutOfRange,
    /// A division had a zero denominator (or a negative one where only
    /// positive ones are accepted).
    #[error("invalid denominator {0}: round_div needs a non-zero one, mul_ratio a positive one")]
    InvalidDenominator(i128),
    /// A usage price that does not pass its own validation; the message
    /// says why.
    #[error("invalid usage pricing: {0}")]
    InvalidPricing(String),
    /// The code is in the table but the currency has been withdrawn: it is
    /// read from stored data, never accepted for new prices or customers.
    #[error("currency `{0}` has been withdrawn and is no longer accepted")]
    Withdrawn(String),
    /// The text is not a supported locale tag.
    #[error("unknown locale `{0}`")]
    UnknownLocale(String),
}
