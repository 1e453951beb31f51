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
    /// Where rendered documents are kept.
    pub storage: Arc<crate::storage::Storage>,
    /// The online VAT id check, when configured (`vat_check`).
    pub vat_checker: Option<Arc<dyn crate::vat_check::VatChecker>>,
}

impl AppState {
    /// Fails when the configured document storage cannot be set up.
    pub fn new(db: Db, clock: Arc<dyn Clock>, config: Config) -> Result<Self, crate::storage::StorageError> {
        let storage = Arc::new(config.document_storage()?);
        let vat_checker: Option<Arc<dyn crate::vat_check::VatChecker>> = match config.vat_check.as_str() {
            "vies" => Some(Arc::new(crate::vat_check::Vies::new(&config.vies_url))),
            _ => None,
        };
        Ok(AppState { db, clock, config: Arc::new(config), storage, vat_checker })
    }

    /// The wall-clock instant as stored (epoch milliseconds).
    pub fn now_ms(&self) -> i64 {
        bursar_domain::clock::to_millis(self.clock.now())
    }
}
