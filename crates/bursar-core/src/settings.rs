//! What the business rules need from the configuration, gathered once:
//! tax, dunning, the marketplace's rules and the provider connectors.

use crate::config::Config;
use bursar_domain::tax::TaxSettings;

/// What billing needs from the configuration.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub tax: TaxSettings,
    /// Hours after the first failed charge at which it is retried.
    pub retry_hours: Vec<u32>,
    /// When every retry failed: mark the subscription unpaid instead of canceling it.
    pub final_unpaid: bool,
    /// The payment provider connectors.
    pub providers: std::sync::Arc<crate::providers::Providers>,
    /// Marketplace rules: refund window, affiliate attribution.
    pub market: MarketSettings,
    /// Crash tests only: abort after a commit, before a provider is called
    /// (see [`crate::fault`]).
    pub fault_before_provider_call: bool,
}
/// The marketplace's configured rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarketSettings {
    /// Earnings are held and commissions pending this long after a sale.
    pub refund_window_ms: i64,
    /// A click credits purchases made within this long after it.
    pub attribution_ms: i64,
    /// Smallest payout in major units of its currency.
    pub payout_minimum: i64,
}

impl Default for MarketSettings {
    fn default() -> Self {
        MarketSettings { refund_window_ms: 30 * 86_400_000, attribution_ms: 30 * 86_400_000, payout_minimum: 50 }
    }
}

impl Settings {
    /// The settings of `config`, without provider connectors (the sandbox
    /// only); `Ctx::billing_settings` adds the configured ones.
    pub fn from_config(c: &Config) -> Settings {
        Settings {
            tax: c.tax_settings(),
            retry_hours: c.dunning_retry_hours.clone(),
            final_unpaid: c.dunning_final_action == "unpaid",
            providers: Default::default(),
            market: MarketSettings {
                refund_window_ms: c.refund_window_days * 86_400_000,
                attribution_ms: c.affiliate_attribution_days * 86_400_000,
                payout_minimum: c.payout_minimum,
            },
            fault_before_provider_call: c.fault_abort_after_commit.as_deref()
                == Some(crate::config::FAULT_PROVIDER_CALL),
        }
    }
}
