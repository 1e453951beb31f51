//! Shared application state.

use crate::config::Config;
use bursar_domain::clock::Clock;
use bursar_store::Db;
use std::sync::Arc;

#[derive(Clone)]
pub struct Ctx {
    pub db: Db,
    pub clock: Arc<dyn Clock>,
    pub config: Arc<Config>,
    /// Where rendered documents are kept.
    pub storage: Arc<crate::storage::Storage>,
    /// The online VAT id check, when configured (`vat_check`).
    pub vat_checker: Option<Arc<dyn crate::vat_check::VatChecker>>,
    /// The payment provider connectors.
    pub providers: Arc<crate::providers::Providers>,
    /// The Redis connection for hot quota counters, opened on first use.
    pub redis: Arc<tokio::sync::OnceCell<redis::aio::ConnectionManager>>,
    /// Until when (epoch ms) Redis is bypassed after a failure.
    pub redis_down_until: Arc<std::sync::atomic::AtomicI64>,
}

impl Ctx {
    /// Fails when the configured document storage cannot be set up.
    pub fn new(db: Db, clock: Arc<dyn Clock>, config: Config) -> Result<Self, crate::storage::StorageError> {
        let storage = Arc::new(config.document_storage()?);
        let vat_checker: Option<Arc<dyn crate::vat_check::VatChecker>> = match config.vat_check.as_str() {
            "vies" => Some(Arc::new(crate::vat_check::Vies::new(&config.vies_url))),
            _ => None,
        };
        let providers =
            Arc::new(crate::providers::Providers::from_config(&config).map_err(crate::storage::StorageError::Config)?);
        Ok(Ctx {
            db,
            clock,
            config: Arc::new(config),
            storage,
            vat_checker,
            providers,
            redis: Arc::new(tokio::sync::OnceCell::new()),
            redis_down_until: Arc::new(std::sync::atomic::AtomicI64::new(0)),
        })
    }

    /// Billing settings with the configured providers.
    pub fn billing_settings(&self) -> crate::settings::Settings {
        crate::settings::Settings {
            providers: self.providers.clone(),
            ..crate::settings::Settings::from_config(&self.config)
        }
    }

    /// The wall-clock instant as stored (epoch milliseconds).
    pub fn now_ms(&self) -> i64 {
        bursar_domain::clock::to_millis(self.clock.now())
    }
}
