//! Subscriptions, invoices and their lines, invoice numbering, feedback,
//! coupons and credit notes.

mod coupons;
mod credit_notes;
mod invoices;
mod subscriptions;

pub use self::coupons::*;
pub use self::credit_notes::*;
pub use self::invoices::*;
pub use self::subscriptions::*;
