//! Shared application state.

use crate::config::Config;
use bursar_domain::clock::Clock;
use bursar_store::Db;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub clock: Arc<dyn Clock>,
    pub config: Arc<Config>,
}

impl AppState {
    pub fn new(db: Db, clock: Arc<dyn Clock>, config: Config) -> Self {
        AppState { db, clock, config: Arc::new(config) }
    }

    /// The wall-clock instant as stored (epoch milliseconds).
    pub fn now_ms(&self) -> i64 {
        bursar_domain::clock::to_millis(self.clock.now())
    }
}
