//! Fault injection for crash tests (the `fault_abort_after_commit`
//! setting; never set in production). An operation that calls an external
//! provider after its business transaction committed marks that moment
//! with [`before_provider_call`] (the settlement of payments and refunds
//! does): a crash there must leave the committed
//! state recoverable, and a retry must replay the stored answer.

use crate::settings::Settings;

pub use crate::config::FAULT_PROVIDER_CALL as PROVIDER_CALL;

/// Aborts the process when the setting names [`PROVIDER_CALL`].
pub fn before_provider_call(settings: &Settings) {
    if settings.fault_before_provider_call {
        tracing::error!("fault injection: aborting after the commit, before the provider call");
        std::process::abort();
    }
}
