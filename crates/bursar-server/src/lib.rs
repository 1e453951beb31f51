//! Bursar's server: services and interfaces (HTTP API, staff pages, jobs).

pub mod affiliate_links;
pub mod api;
pub mod app;
pub mod billing;
pub mod catalog;
pub mod checkout;
pub mod config;
pub mod course_pages;
pub mod demo;
pub mod demo_market;
pub mod documents;
pub mod emails;
pub mod error;
pub mod extract;
pub mod fx;
pub mod invoicing;
pub mod marketplace;
pub mod middleware;
pub mod payments;
pub mod payouts;
pub mod portal;
pub mod pricing;
pub mod sandbox;
pub mod services;
pub mod staff;
pub mod staff_console;
pub mod state;
pub mod storage;
pub mod telemetry;
pub mod usage;
pub mod vat_check;
pub mod webhooks_in;
pub mod webhooks_out;

pub use app::{build_router, serve, ServerHandle};
pub use config::Config;
pub use state::AppState;
