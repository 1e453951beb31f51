//! Bursar's domain: pure rules with no I/O.
//!
//! Everything here is deterministic: functions that depend on time take `now`
//! (or a [`clock::Clock`]) instead of reading the system clock.

pub mod catalog;
pub mod clock;
pub mod coupon;
pub mod fx;
pub mod geo;
pub mod id;
pub mod learning;
pub mod ledger;
pub mod marketplace;
pub mod metered;
pub mod money;
pub mod stats;
pub mod subscription;
pub mod tax;
pub mod throttle;
pub mod vat_id;
