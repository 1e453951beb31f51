//! Payment provider connectors behind one trait.
//!
//! Bursar is the billing engine; a provider only moves money. Every
//! connector speaks its provider's documented wire format (Stripe:
//! form-encoded bodies with `Idempotency-Key` and `Stripe-Version`; PayPal:
//! OAuth2 client credentials and JSON; Razorpay: basic auth and JSON; Mercado
//! Pago: bearer token, JSON with decimal amounts and `X-Idempotency-Key`;
//! Alipay through Antom: RSA-signed JSON requests and answers) and maps
//! the answers onto the same small vocabulary: a [`ChargeOutcome`], a
//! [`RefundOutcome`], a [`CheckoutSession`] and [`WebhookEvent`]s. Stripe and
//! PayPal also pay payees ([`payouts`]).
//!
//! Idempotency: every request that moves money carries a key derived from
//! Bursar's own ids (see [`idempotency_key`]), so a retry after a timeout or
//! a crash never charges twice.
//!
//! The `testkit` feature adds local HTTP doubles of each provider
//! ([`testkit`]) that validate requests and answer as the provider documents.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub mod alipay;
pub mod mercadopago;
pub mod payouts;
pub mod paypal;
pub mod razorpay;
pub mod stripe;

#[cfg(feature = "testkit")]
pub mod testkit;

/// The provider a payment, method or webhook belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    Sandbox,
    Stripe,
    Paypal,
    Razorpay,
    #[serde(rename = "mercadopago")]
    MercadoPago,
    Alipay,
}

impl ProviderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Sandbox => "sandbox",
            ProviderKind::Stripe => "stripe",
            ProviderKind::Paypal => "paypal",
            ProviderKind::Razorpay => "razorpay",
            ProviderKind::MercadoPago => "mercadopago",
            ProviderKind::Alipay => "alipay",
        }
    }

    pub fn parse(s: &str) -> Option<ProviderKind> {
        Some(match s {
            "sandbox" => ProviderKind::Sandbox,
            "stripe" => ProviderKind::Stripe,
            "paypal" => ProviderKind::Paypal,
            "razorpay" => ProviderKind::Razorpay,
            "mercadopago" => ProviderKind::MercadoPago,
            "alipay" => ProviderKind::Alipay,
            _ => return None,
        })
    }
}

/// The provider idempotency key for one operation on one of our objects,
/// e.g. `idempotency_key("pay_01…", "charge")`. The same (id, operation)
/// always yields the same key, so a retried request is deduplicated by the
/// provider.
pub fn idempotency_key(our_id: &str, operation: &str) -> String {
    format!("bursar-{our_id}-{operation}")
}

/// Money as Bursar holds it: integer minor units of an ISO 4217 currency.
/// Connectors convert to each provider's representation (Stripe and
/// Razorpay: minor units; PayPal: a decimal string with the currency's
/// exponent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    pub minor: i64,
    /// Upper-case ISO 4217 code.
    pub currency: [u8; 3],
}

impl Money {
    pub fn new(minor: i64, currency: &str) -> Money {
        let b = currency.as_bytes();
        assert!(b.len() == 3, "currency codes have three letters");
        Money { minor, currency: [b[0].to_ascii_uppercase(), b[1].to_ascii_uppercase(), b[2].to_ascii_uppercase()] }
    }

    pub fn currency(&self) -> &str {
        std::str::from_utf8(&self.currency).expect("ASCII currency code")
    }
}

/// A customer as the provider needs to know it.
#[derive(Debug, Clone, Default)]
pub struct CustomerInfo {
    /// Bursar's customer id (`cus_…`), sent as metadata / reference.
    pub customer_id: String,
    pub email: Option<String>,
    pub name: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country: Option<String>,
    /// Phone number, preferably in E.164 form (`+919876543210`). Razorpay
    /// needs one (`contact`) for recurring payments.
    pub phone: Option<String>,
}

/// A first payment through the provider's hosted page (Stripe Checkout
/// Session, PayPal order approval, Razorpay order + Checkout).
#[derive(Debug, Clone)]
pub struct CheckoutRequest {
    /// Bursar's payment id (`pay_…`): the idempotency key and the reference
    /// the provider echoes back in webhooks.
    pub payment_id: String,
    pub amount: Money,
    pub description: String,
    pub customer: CustomerInfo,
    /// The provider's customer id when one exists already.
    pub provider_customer: Option<String>,
    /// Keep the payment method for later off-session charges (renewals).
    pub save_method: bool,
    pub success_url: String,
    pub cancel_url: String,
    pub metadata: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckoutSession {
    /// The provider's id of the session / order.
    pub provider_ref: String,
    /// Where to send the buyer (the provider's hosted page).
    pub redirect_url: String,
    /// Anything the browser side needs besides the URL (Razorpay's key id
    /// and order id for its Checkout script, for instance).
    pub client_params: BTreeMap<String, String>,
}

/// An off-session charge of a saved payment method (renewals, dunning
/// retries, one-off invoices).
#[derive(Debug, Clone)]
pub struct ChargeRequest {
    pub payment_id: String,
    pub amount: Money,
    pub description: String,
    pub customer: CustomerInfo,
    pub provider_customer: Option<String>,
    /// The provider's token for the saved method (Stripe `pm_…`, PayPal
    /// vault token, Razorpay token).
    pub method_token: String,
    pub metadata: BTreeMap<String, String>,
}

/// What became of a charge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ChargeOutcome {
    Succeeded {
        provider_payment_id: String,
        /// The provider's fee in the charge currency, when it reports one.
        fee_minor: Option<i64>,
    },
    /// Accepted, the outcome comes later (webhook or [`Connector::retrieve`]).
    Processing { provider_payment_id: String },
    /// The buyer must act (3-D Secure): send them to `redirect_url`.
    RequiresAction { provider_payment_id: String, redirect_url: Option<String> },
    Declined {
        provider_payment_id: Option<String>,
        /// Normalized decline code: `card_declined`, `insufficient_funds`,
        /// `expired_card`, `authentication_required`, … (Stripe's vocabulary).
        code: String,
        message: String,
    },
}

/// The current state of a payment at the provider, for recovery after a
/// crash or timeout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum PaymentStatus {
    /// The provider has never seen this payment id.
    NotFound,
    Pending {
        provider_payment_id: String,
    },
    Succeeded {
        provider_payment_id: String,
        amount: Money,
    },
    Failed {
        provider_payment_id: String,
        code: String,
    },
    Canceled {
        provider_payment_id: String,
    },
}

#[derive(Debug, Clone)]
pub struct RefundRequest {
    /// Bursar's refund id: the idempotency key.
    pub refund_id: String,
    pub provider_payment_id: String,
    pub amount: Money,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum RefundOutcome {
    Succeeded { provider_refund_id: String },
    Pending { provider_refund_id: String },
    Failed { provider_refund_id: Option<String>, message: String },
}

/// A saved payment method as the provider describes it. Never a card number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MethodDetails {
    pub token: String,
    pub brand: Option<String>,
    pub last4: Option<String>,
    pub exp_month: Option<u8>,
    pub exp_year: Option<u16>,
    /// The provider's customer the method belongs to (Stripe `cus_…`,
    /// Razorpay `cust_…`, PayPal's vault customer id when the vault answer
    /// names one): pass it as [`ChargeRequest::provider_customer`] with
    /// [`MethodDetails::token`] to charge the method later.
    pub provider_customer: Option<String>,
}

/// A verified incoming webhook, mapped onto what Bursar acts on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookEvent {
    /// The provider's event id: the deduplication key.
    pub event_id: String,
    /// The provider's own event type (`payment_intent.succeeded`,
    /// `PAYMENT.CAPTURE.COMPLETED`, `payment.captured`, …).
    pub event_type: String,
    /// When the provider created the event (ordering of out-of-order
    /// deliveries).
    pub created: jiff::Timestamp,
    pub kind: WebhookKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WebhookKind {
    PaymentSucceeded {
        /// Bursar's payment id, from the metadata / reference we sent.
        payment_id: Option<String>,
        provider_payment_id: String,
        amount: Money,
        /// The method saved for later, when the buyer agreed.
        method: Option<MethodDetails>,
        provider_customer: Option<String>,
    },
    PaymentFailed {
        payment_id: Option<String>,
        provider_payment_id: String,
        code: String,
        message: String,
    },
    RefundSucceeded {
        refund_id: Option<String>,
        provider_payment_id: String,
        provider_refund_id: String,
        amount: Money,
    },
    /// A chargeback / dispute opened.
    DisputeOpened {
        provider_payment_id: String,
        amount: Money,
        reason: String,
    },
    /// The buyer approved a hosted payment that still has to be completed
    /// by Bursar (PayPal: the order must be captured). Lets a buyer who
    /// never comes back to the return URL still pay.
    CheckoutApproved {
        payment_id: Option<String>,
        /// The provider's id of the session / order.
        provider_ref: String,
    },
    /// Verified, but nothing Bursar acts on: stored and acknowledged.
    Other,
}

/// Why a connector call failed (as opposed to a decline, which is a
/// successful call with a negative answer).
///
/// How each variant may be handled:
///
/// | variant | [`may_fall_back`](Self::may_fall_back) | [`outcome_unknown`](Self::outcome_unknown) |
/// |---|---|---|
/// | [`Timeout`](Self::Timeout) | no | yes |
/// | [`Unavailable`](Self::Unavailable) | yes | no |
/// | [`Indeterminate`](Self::Indeterminate) | no | yes |
/// | [`Rejected`](Self::Rejected) | no | no |
/// | [`InvalidRequest`](Self::InvalidRequest) | no | no |
/// | [`Auth`](Self::Auth) | no | no |
/// | [`Unsupported`](Self::Unsupported) | no | no |
/// | [`Protocol`](Self::Protocol) | no | yes |
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// No answer in time: the outcome is unknown; ask again with
    /// [`Connector::retrieve`] before charging again.
    #[error("{provider}: timed out")]
    Timeout { provider: &'static str },
    /// Nothing that matters happened at the provider: it was unreachable
    /// (the request was never sent), throttled the request (429), answered
    /// that it could not take it (502, 503; 504 only for a request that does
    /// not act: a gateway may time out while the provider still works on
    /// the request), or failed a request that
    /// only reads or that moves no money by itself. Retrying later, or
    /// routing to another provider, is safe.
    #[error("{provider}: unavailable ({detail})")]
    Unavailable { provider: &'static str, detail: String },
    /// The provider may or may not have acted: it answered 500, 504 (or a
    /// server error other than 502 and 503) to a request that acts (every
    /// Stripe POST; PayPal and Razorpay charges, captures and refunds; PayPal
    /// payouts), the connection broke after such a request may have reached
    /// it, or an earlier request under the same idempotency key is still being
    /// processed. Recover with [`Connector::retrieve`] (or a retry under the
    /// same idempotency key); never fall back to another provider, which
    /// could charge twice.
    #[error("{provider}: outcome unknown ({detail})")]
    Indeterminate { provider: &'static str, detail: String },
    /// The provider refused the request as invalid (4xx other than a
    /// decline): a bug or a configuration error, never retried.
    #[error("{provider}: rejected the request ({status}): {message}")]
    Rejected { provider: &'static str, status: u16, message: String },
    /// The connector refused the request itself, without asking the
    /// provider to act: an amount the currency cannot express at this
    /// provider, an unsupported currency, a payment id too long for the
    /// provider's reference, a malformed id, a checkout return that does not
    /// verify. Nothing was charged; never retried, not a reason to fall
    /// back.
    #[error("{provider}: invalid request: {message}")]
    InvalidRequest { provider: &'static str, message: String },
    /// Credentials refused (401/403).
    #[error("{provider}: authentication failed")]
    Auth { provider: &'static str },
    /// The operation is not offered by this provider.
    #[error("{provider}: {operation} is not supported")]
    Unsupported { provider: &'static str, operation: &'static str },
    /// An answer we could not understand: the provider may have acted.
    #[error("{provider}: unexpected response: {detail}")]
    Protocol { provider: &'static str, detail: String },
}

impl ProviderError {
    /// Whether routing may try another provider: only when the payment
    /// certainly did not happen here ([`ProviderError::Unavailable`]).
    pub fn may_fall_back(&self) -> bool {
        matches!(self, ProviderError::Unavailable { .. })
    }

    /// Whether the outcome of the call is unknown and must be recovered
    /// with [`Connector::retrieve`].
    pub fn outcome_unknown(&self) -> bool {
        matches!(
            self,
            ProviderError::Timeout { .. } | ProviderError::Indeterminate { .. } | ProviderError::Protocol { .. }
        )
    }
}

/// What a request can do at the provider, which decides how a failure
/// whose outcome is unclear is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Effect {
    /// Reads, or creates something that moves no money by itself (an order
    /// awaiting payment, a customer, an access token): a failure is
    /// [`ProviderError::Unavailable`].
    Inert,
    /// May have acted if it reached the provider (a charge, capture or
    /// refund; any Stripe POST): a 500 or a connection lost after sending is
    /// [`ProviderError::Indeterminate`].
    Acts,
}

/// The error for a 429 or 5xx answer. 429, 502 and 503 say the request was
/// not taken; any other server error (504 included: a gateway that gave up
/// waiting) on a request that acts leaves its outcome unknown.
pub(crate) fn server_error(provider: &'static str, status: u16, detail: String, effect: Effect) -> ProviderError {
    match (status, effect) {
        (429 | 502 | 503, _) | (_, Effect::Inert) => ProviderError::Unavailable { provider, detail },
        (_, Effect::Acts) => ProviderError::Indeterminate { provider, detail },
    }
}

/// The error for a request that got no complete answer: a timeout; a
/// connection that could not be opened (nothing was sent); or a connection
/// lost while the request or its answer was under way, whose outcome is
/// unknown when the request acts.
pub(crate) fn transport_error(provider: &'static str, e: &reqwest::Error, effect: Effect) -> ProviderError {
    if e.is_timeout() {
        ProviderError::Timeout { provider }
    } else if e.is_connect() || effect == Effect::Inert {
        ProviderError::Unavailable { provider, detail: e.to_string() }
    } else {
        ProviderError::Indeterminate { provider, detail: format!("transport failed: {e}") }
    }
}

/// Why an incoming webhook was refused. Every variant answers 400.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WebhookError {
    #[error("the signature header is missing")]
    MissingSignature,
    #[error("the signature header is malformed")]
    MalformedSignature,
    #[error("no signature matches")]
    BadSignature,
    #[error("the timestamp is outside the tolerance")]
    Stale,
    #[error("the body is not a valid event: {0}")]
    BadPayload(String),
    /// PayPal only: the verification call failed.
    #[error("verification failed: {0}")]
    Verification(String),
}

/// Raw request headers, lower-cased names.
pub type Headers = BTreeMap<String, String>;

/// The body a provider requires in answer to a webhook delivery it should
/// not send again, served with status 200. Most providers take any 2xx
/// answer; Alipay (Antom) retries a notification until the answer is its
/// documented `result` object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookAck {
    pub content_type: &'static str,
    pub body: String,
}

/// Timeouts and retry behaviour shared by the HTTP connectors.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub timeout: Duration,
    pub connect_timeout: Duration,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings { timeout: Duration::from_secs(20), connect_timeout: Duration::from_secs(5) }
    }
}

/// One payment provider.
#[async_trait]
pub trait Connector: Send + Sync {
    fn kind(&self) -> ProviderKind;

    /// Creates (or returns the existing) provider customer for ours.
    async fn ensure_customer(&self, customer: &CustomerInfo) -> Result<String, ProviderError>;

    /// Starts a first payment on the provider's hosted page.
    async fn create_checkout(&self, req: &CheckoutRequest) -> Result<CheckoutSession, ProviderError>;

    /// Completes a hosted payment after the buyer returns (PayPal: capture
    /// the approved order; Stripe: read the session; Razorpay: check the
    /// payment signature the Checkout returned in `params` and fetch the
    /// payment). Returns the outcome and the method saved, if any.
    async fn complete_checkout(
        &self,
        session: &CheckoutSession,
        params: &BTreeMap<String, String>,
    ) -> Result<(ChargeOutcome, Option<MethodDetails>), ProviderError>;

    /// Charges a saved method off-session.
    async fn charge(&self, req: &ChargeRequest) -> Result<ChargeOutcome, ProviderError>;

    /// Looks a payment up by Bursar's payment id (and the provider's id when
    /// known): the recovery path for unknown outcomes and reconciliation.
    async fn retrieve(
        &self,
        payment_id: &str,
        provider_payment_id: Option<&str>,
    ) -> Result<PaymentStatus, ProviderError>;

    async fn refund(&self, req: &RefundRequest) -> Result<RefundOutcome, ProviderError>;

    /// Verifies an incoming webhook on the raw body exactly as the provider
    /// documents, and maps it. `now` is Bursar's clock (tolerance checks).
    /// Once verified, the body maps exactly as [`Connector::parse_webhook`]
    /// maps it, except where a provider's event id travels in a header only
    /// (Razorpay: see its `parse_webhook`).
    async fn verify_webhook(
        &self,
        headers: &Headers,
        body: &[u8],
        now: jiff::Timestamp,
    ) -> Result<WebhookEvent, WebhookError>;

    /// Maps a stored, already verified webhook body to the event it describes,
    /// without checking its signature or age (replay of a stored event).
    ///
    /// Never call it on a body that did not pass [`Connector::verify_webhook`]:
    /// nothing here proves that the provider sent it. A body that is not an
    /// event of this provider is [`WebhookError::BadPayload`]. Mapping may
    /// still ask the provider about the objects the event names (PayPal looks
    /// the order of a refunded or disputed capture up), exactly as on
    /// receipt; such a failed lookup is [`WebhookError::Verification`].
    async fn parse_webhook(&self, body: &[u8]) -> Result<WebhookEvent, WebhookError>;

    /// The provider's payouts to payees, when it offers them through Bursar
    /// (Stripe Connect transfers, PayPal Payouts).
    fn payouts(&self) -> Option<&dyn payouts::PayoutConnector> {
        None
    }

    /// Whether [`Connector::charge`] can charge a saved method without the
    /// buyer (renewals, dunning retries). When `false`, `charge` answers
    /// [`ProviderError::Unsupported`] without calling the provider, checkouts
    /// never return a saved method, and the billing engine collects each
    /// renewal with a new checkout (a payment link sent to the buyer).
    fn off_session_charges(&self) -> bool {
        true
    }

    /// What to answer a delivery that passed [`Connector::verify_webhook`]
    /// (including a duplicate), when the provider requires a particular
    /// body; `None` when any 2xx answer will do.
    fn webhook_ack(&self) -> Option<WebhookAck> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What each variant allows: `(may_fall_back, outcome_unknown)`. The
    /// match is exhaustive, so a new variant has to be classified here.
    fn expected(e: &ProviderError) -> (bool, bool) {
        match e {
            ProviderError::Timeout { .. } => (false, true),
            ProviderError::Unavailable { .. } => (true, false),
            ProviderError::Indeterminate { .. } => (false, true),
            ProviderError::Rejected { .. } => (false, false),
            ProviderError::InvalidRequest { .. } => (false, false),
            ProviderError::Auth { .. } => (false, false),
            ProviderError::Unsupported { .. } => (false, false),
            ProviderError::Protocol { .. } => (false, true),
        }
    }

    fn every_variant() -> Vec<ProviderError> {
        let p = "test";
        vec![
            ProviderError::Timeout { provider: p },
            ProviderError::Unavailable { provider: p, detail: "503".into() },
            ProviderError::Indeterminate { provider: p, detail: "500".into() },
            ProviderError::Rejected { provider: p, status: 400, message: "bad".into() },
            ProviderError::InvalidRequest { provider: p, message: "bad amount".into() },
            ProviderError::Auth { provider: p },
            ProviderError::Unsupported { provider: p, operation: "refund" },
            ProviderError::Protocol { provider: p, detail: "not JSON".into() },
        ]
    }

    #[test]
    fn every_error_is_classified() {
        let all = every_variant();
        let mut seen: Vec<_> = all.iter().map(std::mem::discriminant).collect();
        seen.dedup();
        assert_eq!(seen.len(), all.len(), "one value of each variant");
        for e in &all {
            assert_eq!((e.may_fall_back(), e.outcome_unknown()), expected(e), "{e:?}");
            assert!(!(e.may_fall_back() && e.outcome_unknown()), "{e:?}: an unknown outcome never falls back");
        }
        // The table itself, spelled out.
        let table: Vec<(bool, bool)> = all.iter().map(|e| (e.may_fall_back(), e.outcome_unknown())).collect();
        assert_eq!(
            table,
            [
                (false, true),
                (true, false),
                (false, true),
                (false, false),
                (false, false),
                (false, false),
                (false, false),
                (false, true)
            ]
        );
    }

    #[test]
    fn provider_kinds_round_trip_by_name() {
        let all = [
            ProviderKind::Sandbox,
            ProviderKind::Stripe,
            ProviderKind::Paypal,
            ProviderKind::Razorpay,
            ProviderKind::MercadoPago,
            ProviderKind::Alipay,
        ];
        for kind in all {
            assert_eq!(ProviderKind::parse(kind.as_str()), Some(kind));
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()), "serde uses the same names");
            assert_eq!(serde_json::from_str::<ProviderKind>(&json).unwrap(), kind);
        }
        assert_eq!(ProviderKind::MercadoPago.as_str(), "mercadopago");
        assert_eq!(ProviderKind::Alipay.as_str(), "alipay");
        assert_eq!(ProviderKind::parse("mercado_pago"), None);
    }

    #[test]
    fn server_errors_are_indeterminate_only_for_requests_that_act() {
        let kind = |status: u16, effect: Effect| match server_error("test", status, String::new(), effect) {
            ProviderError::Unavailable { .. } => "unavailable",
            ProviderError::Indeterminate { .. } => "indeterminate",
            other => panic!("{other:?}"),
        };
        assert_eq!(kind(500, Effect::Acts), "indeterminate");
        assert_eq!(kind(501, Effect::Acts), "indeterminate");
        assert_eq!(kind(504, Effect::Acts), "indeterminate");
        for status in [429, 502, 503] {
            assert_eq!(kind(status, Effect::Acts), "unavailable", "{status}");
        }
        for status in [429, 500, 502, 503, 504] {
            assert_eq!(kind(status, Effect::Inert), "unavailable", "{status}");
        }
    }
}
