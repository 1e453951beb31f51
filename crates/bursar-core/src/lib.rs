//! Bursar's service layer: every business operation, one module per area.
//!
//! An operation takes a [`Ctx`] (database, clock, configuration, providers)
//! and typed inputs, runs in one transaction of its own (or the caller's),
//! and returns a typed result or the one business [`Error`]. Nothing here
//! speaks HTTP or HTML: the interfaces (the `/v1` API, the hosted pages, the
//! staff console, the CLI and the background jobs) call these operations.

pub mod actor;
pub mod admin;
pub mod api_keys;
pub mod auth;
pub mod basket;
pub mod billing;
pub mod billing_run;
pub mod browse;
pub mod catalog;
pub mod checkout;
pub mod common;
pub mod config;
pub mod courses;
pub mod ctx;
pub mod customers;
pub mod demo;
pub mod demo_market;
pub mod documents;
pub mod emails;
pub mod error;
pub mod events;
pub mod experiments;
pub mod fault;
pub mod fx;
pub mod idempotency;
pub mod invoicing;
pub mod learning;
pub mod ledger;
pub mod marketplace;
pub mod overview;
pub mod payments;
pub mod payouts;
pub mod plan_choice;
pub mod provider_events;
pub mod providers;
pub mod purchases;
pub mod reconciliation;
pub mod referrals;
pub mod refunds;
pub mod reports;
pub mod sandbox;
pub mod sessions;
pub mod settings;
pub mod settlement;
pub mod storage;
pub mod subscriptions;
pub mod time;
pub mod usage;
pub mod vat_check;
pub mod webhook_endpoints;
pub mod webhooks_out;

pub use actor::Actor;
pub use bursar_store::DbError;
pub use common::{List, Page};
pub use config::Config;
pub use ctx::Ctx;
pub use error::{Error, Kind, Result};
pub use idempotency::Reply;
