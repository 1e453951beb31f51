//! Bursar's interfaces over HTTP: the `/v1` API (`api`), the hosted pages
//! (`pages`), the staff console (`console`), incoming provider webhooks
//! (`webhooks`) and the background jobs (`jobs`). Each parses, calls the
//! service layer (`bursar_core`) and renders; none calls another.

pub mod api;
pub mod app;
pub mod console;
pub mod drain;
pub mod error;
pub mod extract;
pub mod jobs;
pub mod limits;
pub mod middleware;
pub mod pages;
pub mod state;
pub mod telemetry;
pub mod web;
pub mod webhooks;

pub use app::{build_router, serve, ServerHandle};
pub use bursar_core::Config;
pub use state::AppState;
