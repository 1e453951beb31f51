//! Bursar's storage layer: SQL for SQLite and PostgreSQL, migrations, and
//! nothing clever. One transaction per business operation, opened by the
//! services and passed in here.

pub mod auth;
pub mod backup;
pub mod billing;
pub mod catalog;
pub mod checkout;
pub mod clocks;
pub mod counts;
pub mod customers;
pub mod db;
pub mod dunning;
pub mod emails;
pub mod events;
pub mod experiments;
pub mod fx;
pub mod idempotency;
pub mod learning;
pub mod ledger;
pub mod marketplace;
pub mod order_refunds;
pub mod payments;
pub mod portal;
pub mod recommend;
pub mod referrals;
pub mod search;
pub mod usage;
pub mod webhooks;

pub use db::{Backend, Db, DbConfig, DbError, Tx};
