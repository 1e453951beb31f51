//! The billing service: subscriptions through their state machine, invoices
//! with gapless numbers, and the ledger entries of every invoice and payment,
//! all inside the caller's transaction.
//!
//! Charges go through the built-in `sandbox` provider, which settles every
//! amount at once; the payments capability replaces this step with real
//! connectors and failures (and with them, dunning).

mod credit;
mod dunning;
mod issuing;
mod lifecycle;
mod renewals;
mod rules;

pub use crate::settings::Settings;
pub use credit::*;
pub use dunning::*;
pub use issuing::*;
pub use lifecycle::*;
pub use renewals::*;
pub use rules::*;
