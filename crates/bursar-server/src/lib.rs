//! Bursar's server: services and interfaces (HTTP API, staff pages, jobs).

pub mod affiliate_links;
pub mod api;
pub mod app;
pub mod cart_pages;
pub mod checkout_pages;
pub mod course_pages;
pub mod error;
pub mod extract;
pub mod middleware;
pub mod portal;
pub mod pricing;
pub mod staff;
pub mod staff_billing;
pub mod staff_console;
pub mod state;
pub mod telemetry;
pub mod webhooks_in;

pub use app::{build_router, serve, ServerHandle};
pub use bursar_core::Config;
pub use state::AppState;
