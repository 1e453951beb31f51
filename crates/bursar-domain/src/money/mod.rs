//! Money: ISO 4217 currencies, integer minor units, checked arithmetic,
//! allocation, parsing and locale formatting.
//!
//! Rules that hold everywhere in this module:
//!
//! * An amount is an `i64` count of the currency's minor units (cents for USD,
//!   yen for JPY, fils for BHD). There are no floats, not even in intermediate
//!   math.
//! * Every operation that can overflow is checked and returns
//!   [`MoneyError::Overflow`] instead of panicking or wrapping.
//! * Rounding happens in exactly one place, [`round_div`], on `i128`
//!   intermediates, with an explicit [`Rounding`] mode.
//! * Parsing never rounds: more fraction digits than the currency's exponent
//!   is an error.
//! * Formatting follows CLDR 48 data for the supported [`Locale`]s.

mod amount;
mod currency;
mod error;
mod locale;
mod parse;
mod rounding;

pub use amount::{Money, MAX_AMOUNT_MINOR, MAX_SPLIT_PARTS};
pub use currency::Currency;
pub use error::MoneyError;
pub use locale::{format_date, format_decimal, format_integer, format_money, format_money_in, Locale};
pub use rounding::{round_div, Rounding};
