//! The configured payment provider connectors, routing between them, and
//! what a provider said, reduced to what Bursar records.

use crate::config::Config;
use bursar_providers::{ChargeOutcome, Connector, ProviderError, ProviderKind};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The configured provider connectors.
#[derive(Default, Clone)]
pub struct Providers {
    connectors: BTreeMap<&'static str, Arc<dyn Connector>>,
    /// Whether each connector's credentials are live (`true`) or the
    /// provider's test environment: test-mode payments never reach live
    /// credentials, nor live payments test ones.
    live: BTreeMap<&'static str, bool>,
    routes: Vec<crate::config::PaymentRoute>,
    defaults: Vec<String>,
}

impl std::fmt::Debug for Providers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Providers").field("configured", &self.connectors.keys().collect::<Vec<_>>()).finish()
    }
}

impl Providers {
    /// Builds a connector for every provider with credentials in `config`.
    pub fn from_config(c: &Config) -> Result<Providers, String> {
        use bursar_providers::{paypal, razorpay, stripe};
        let mut connectors: BTreeMap<&'static str, Arc<dyn Connector>> = BTreeMap::new();
        let mut live = BTreeMap::new();
        if let Some(key) = &c.stripe_secret_key {
            let mut cfg = stripe::StripeConfig::new(key.clone(), c.stripe_webhook_secrets.clone());
            cfg.api_base = c.stripe_api_base.trim_end_matches('/').to_string();
            let conn = stripe::StripeConnector::new(cfg).map_err(|e| format!("stripe: {e}"))?;
            connectors.insert("stripe", Arc::new(conn));
            live.insert("stripe", key.starts_with("sk_live_") || key.starts_with("rk_live_"));
        }
        if let (Some(id), Some(secret)) = (&c.paypal_client_id, &c.paypal_client_secret) {
            let cfg = paypal::PaypalConfig {
                client_id: id.clone(),
                client_secret: secret.clone(),
                webhook_id: c.paypal_webhook_id.clone().unwrap_or_default(),
                api_base: c.paypal_api_base.trim_end_matches('/').to_string(),
                http: Default::default(),
                webhook_tolerance: paypal::DEFAULT_WEBHOOK_TOLERANCE,
            };
            let conn = paypal::PaypalConnector::new(cfg).map_err(|e| format!("paypal: {e}"))?;
            connectors.insert("paypal", Arc::new(conn));
            live.insert("paypal", c.paypal_api_base.trim_end_matches('/') == "https://api-m.paypal.com");
        }
        if let (Some(id), Some(secret)) = (&c.razorpay_key_id, &c.razorpay_key_secret) {
            let cfg = razorpay::RazorpayConfig {
                key_id: id.clone(),
                key_secret: secret.clone(),
                webhook_secret: c.razorpay_webhook_secret.clone().unwrap_or_default(),
                api_base: c.razorpay_api_base.trim_end_matches('/').to_string(),
                http: Default::default(),
            };
            let conn = razorpay::RazorpayConnector::new(cfg).map_err(|e| format!("razorpay: {e}"))?;
            connectors.insert("razorpay", Arc::new(conn));
            live.insert("razorpay", id.starts_with("rzp_live_"));
        }
        Ok(Providers {
            connectors,
            live,
            routes: c.payment_routes.clone(),
            defaults: c.payment_default_providers.clone(),
        })
    }

    pub fn get(&self, name: &str) -> Option<Arc<dyn Connector>> {
        self.connectors.get(name).cloned()
    }

    /// Whether payments of this mode can go through `name`: the sandbox
    /// takes test-mode payments only; a provider, payments of the mode of
    /// its credentials (Stripe `sk_live_…`, Razorpay `rzp_live_…`, PayPal's
    /// live API host).
    pub fn available(&self, name: &str, livemode: bool) -> bool {
        match name {
            "sandbox" => !livemode,
            other => self.connectors.contains_key(other) && self.live.get(other) == Some(&livemode),
        }
    }

    /// The providers that may take a payment from a buyer in `country`
    /// paying in `currency`, in order of preference: the first routing
    /// rule that matches, else the defaults; unavailable ones left out.
    pub fn route(&self, country: Option<&str>, currency: &str, livemode: bool) -> Vec<String> {
        let rule = self.routes.iter().find(|r| {
            r.country.as_deref().is_none_or(|c| Some(c) == country)
                && r.currency.as_deref().is_none_or(|c| c.eq_ignore_ascii_case(currency))
        });
        let list = rule.map_or(&self.defaults, |r| &r.providers);
        list.iter().filter(|p| self.available(p, livemode)).cloned().collect()
    }
}

/// What a provider said, reduced to what Bursar records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Succeeded {
        provider_payment_id: String,
        fee: Option<i64>,
    },
    Processing {
        provider_payment_id: String,
    },
    Failed {
        provider_payment_id: Option<String>,
        code: String,
        message: String,
    },
    /// Ask again later (timeout, outage, unknown outcome).
    Unknown {
        detail: String,
    },
}

impl From<Result<ChargeOutcome, ProviderError>> for Answer {
    fn from(r: Result<ChargeOutcome, ProviderError>) -> Answer {
        match r {
            Ok(ChargeOutcome::Succeeded { provider_payment_id, fee_minor }) => {
                Answer::Succeeded { provider_payment_id, fee: fee_minor }
            }
            Ok(ChargeOutcome::Processing { provider_payment_id }) => Answer::Processing { provider_payment_id },
            // Off-session there is nobody to authenticate: a decline the
            // learner resolves by updating the method (dunning's email).
            Ok(ChargeOutcome::RequiresAction { provider_payment_id, .. }) => Answer::Failed {
                provider_payment_id: Some(provider_payment_id),
                code: "authentication_required".into(),
                message: "the bank asks the cardholder to authenticate this payment".into(),
            },
            Ok(ChargeOutcome::Declined { provider_payment_id, code, message }) => {
                Answer::Failed { provider_payment_id, code, message }
            }
            Err(e) if e.outcome_unknown() || e.may_fall_back() => Answer::Unknown { detail: e.to_string() },
            Err(e) => {
                Answer::Failed { provider_payment_id: None, code: "provider_error".into(), message: e.to_string() }
            }
        }
    }
}

pub fn provider_kind(name: &str) -> Option<ProviderKind> {
    ProviderKind::parse(name)
}
