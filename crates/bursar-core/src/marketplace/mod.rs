//! The marketplace's money: a paid cart becomes an order with enrollments,
//! every sale is split between instructor, affiliate and platform in the
//! ledger, refunds claw the split back, and monthly payout runs pay what
//! is due. The split rule itself is `bursar_domain::marketplace`. What
//! reaches into checkout and refunds (a cart's checkout, an order's refund)
//! is `crate::purchases`, above this module.
//!
//! Dependencies point one way: `payouts` →
//! `payout_run`, `earnings`, `csv`; `affiliates` → `carts`; every module →
//! `shared`.

pub mod affiliates;
pub mod cart_preview;
pub mod carts;
mod clawback;
pub mod csv;
pub mod earnings;
pub mod enrollments;
pub mod orders;
mod payout_run;
pub mod payouts;
mod sales;
mod shared;

pub use crate::settings::MarketSettings;
pub use clawback::{on_refund, on_refund_failed};
pub use payout_run::{run_payouts, PayoutRun};
pub use sales::record_order;
