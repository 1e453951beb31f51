//! Stripe: PaymentIntents, Checkout Sessions, Customers and Refunds over
//! Stripe's REST API, webhook signature verification, and Connect transfers
//! for payouts (`transfers`).
//!
//! Wire format (API version [`DEFAULT_API_VERSION`] unless configured):
//!
//! * Requests are `application/x-www-form-urlencoded` with Stripe's bracket
//!   notation for nested values: `metadata[payment_id]=pay_…`,
//!   `line_items[0][price_data][currency]=eur`, `expand[]=payment_intent`.
//! * Every request carries `Authorization: Bearer sk_…` and `Stripe-Version`;
//!   every POST carries an `Idempotency-Key` from [`crate::idempotency_key`],
//!   so a retried call (same Bursar id, same parameters) is answered with the
//!   stored result instead of creating a second object. Stripe keeps keys for
//!   at least 24 hours; a retry with the same key but different parameters is
//!   refused with an `idempotency_error` ([`ProviderError::Rejected`]).
//! * Amounts are integers in Stripe's unit of the currency, which is not
//!   always ISO 4217's minor unit: see [`to_stripe_amount`].
//!
//! Error mapping: no answer in time → [`ProviderError::Timeout`]; a
//! connection that could not be opened (nothing was sent), 429, 502 and 503,
//! and any failure of a GET → [`ProviderError::Unavailable`]; 500, 504 (or
//! another 5xx) to a POST, and a connection lost after a POST may have been
//! sent → [`ProviderError::Indeterminate`], since Stripe documents the result
//! of a 500 as indeterminate: the request may have been carried out;
//! 401/403 → [`ProviderError::Auth`]; 402 `card_error` → a
//! [`ChargeOutcome::Declined`]; 409 (the same idempotency key is still being
//! processed) → [`ProviderError::Timeout`], since the first attempt may still
//! succeed; other 4xx → [`ProviderError::Rejected`] with Stripe's message; an
//! answer that cannot be read → [`ProviderError::Protocol`]. Amounts Stripe
//! cannot represent and mismatched checkout returns are refused before
//! anything is sent ([`ProviderError::InvalidRequest`]).

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::Value;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::{
    idempotency_key, server_error, transport_error, ChargeOutcome, ChargeRequest, CheckoutRequest, CheckoutSession,
    Connector, CustomerInfo, Effect, Headers, HttpSettings, MethodDetails, Money, PaymentStatus, ProviderError,
    ProviderKind, RefundOutcome, RefundRequest, WebhookError, WebhookEvent, WebhookKind,
};

const PROVIDER: &str = "stripe";

mod connector;
mod transfers;
mod webhook;

pub use self::webhook::{parse_event, sign_webhook, verify_signature};

/// Stripe's production API host.
pub const DEFAULT_API_BASE: &str = "https://api.stripe.com";
/// The API version the connector is written against (sent as `Stripe-Version`).
pub const DEFAULT_API_VERSION: &str = "2023-08-16";
/// How far a webhook timestamp may be from Bursar's clock, either way.
pub const DEFAULT_WEBHOOK_TOLERANCE: Duration = Duration::from_secs(300);

/// Settings of the Stripe connector.
#[derive(Clone)]
pub struct StripeConfig {
    /// The secret API key (`sk_live_…`, `sk_test_…` or a restricted `rk_…`).
    pub secret_key: String,
    /// Webhook endpoint signing secrets (`whsec_…`). Several during a secret
    /// rotation: a signature made with any of them is accepted.
    pub webhook_secrets: Vec<String>,
    /// Scheme and host of the API, without a trailing path.
    pub api_base: String,
    /// Sent as `Stripe-Version` on every request.
    pub api_version: String,
    /// Maximum distance between a webhook's signed timestamp and now.
    pub webhook_tolerance: Duration,
    pub http: HttpSettings,
}

impl StripeConfig {
    /// A configuration for the production API with the default version,
    /// tolerance and timeouts.
    pub fn new(secret_key: impl Into<String>, webhook_secrets: Vec<String>) -> StripeConfig {
        StripeConfig {
            secret_key: secret_key.into(),
            webhook_secrets,
            api_base: DEFAULT_API_BASE.to_string(),
            api_version: DEFAULT_API_VERSION.to_string(),
            webhook_tolerance: DEFAULT_WEBHOOK_TOLERANCE,
            http: HttpSettings::default(),
        }
    }
}

impl fmt::Debug for StripeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StripeConfig")
            .field("secret_key", &"<redacted>")
            .field("webhook_secrets", &format_args!("<{} redacted>", self.webhook_secrets.len()))
            .field("api_base", &self.api_base)
            .field("api_version", &self.api_version)
            .field("webhook_tolerance", &self.webhook_tolerance)
            .field("http", &self.http)
            .finish()
    }
}

/// The Stripe connector.
#[derive(Debug)]
pub struct StripeConnector {
    config: StripeConfig,
    client: reqwest::Client,
}

impl StripeConnector {
    /// Builds the HTTP client with the configured timeouts.
    pub fn new(config: StripeConfig) -> Result<StripeConnector, ProviderError> {
        let client = reqwest::Client::builder()
            .timeout(config.http.timeout)
            .connect_timeout(config.http.connect_timeout)
            .user_agent(concat!("bursar/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ProviderError::Protocol { provider: PROVIDER, detail: format!("HTTP client: {e}") })?;
        Ok(StripeConnector { config, client })
    }

    pub fn config(&self) -> &StripeConfig {
        &self.config
    }
}

// ---------------------------------------------------------------------------
// Amounts
// ---------------------------------------------------------------------------

/// Currencies Stripe treats as zero-decimal: the API amount is the number of
/// whole units (`500` is ¥500).
const ZERO_DECIMAL: [&str; 16] =
    ["BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"];

/// Three-decimal currencies: supported for PaymentIntents, Refunds and
/// Disputes, but the last digit of the amount must be 0.
const THREE_DECIMAL: [&str; 5] = ["BHD", "JOD", "KWD", "OMR", "TND"];

/// Currencies that are effectively whole-unit but that Stripe still writes
/// with two decimals for backwards compatibility: the amount is the number of
/// units times 100 and must be divisible by 100 (ISK since 2023-04-14; UGX,
/// although listed with the zero-decimal currencies).
const WHOLE_UNITS_WRITTEN_WITH_TWO_DECIMALS: [&str; 2] = ["ISK", "UGX"];

/// Stripe's representation of a currency: the number of decimals in API
/// amounts and the step every amount must be a multiple of.
fn stripe_unit(code: &str) -> (u32, i64) {
    if WHOLE_UNITS_WRITTEN_WITH_TWO_DECIMALS.contains(&code) {
        (2, 100)
    } else if ZERO_DECIMAL.contains(&code) {
        (0, 1)
    } else if THREE_DECIMAL.contains(&code) {
        (3, 10)
    } else {
        (2, 1)
    }
}

fn iso_exponent(code: &str) -> Option<u32> {
    bursar_domain::money::Currency::from_code(code).ok().map(|c| u32::from(c.exponent()))
}

fn invalid(message: impl Into<String>) -> ProviderError {
    ProviderError::InvalidRequest { provider: PROVIDER, message: message.into() }
}

/// Converts Bursar's amount (ISO 4217 minor units) to the integer Stripe
/// expects, or refuses with [`ProviderError::InvalidRequest`] (nothing is
/// sent) an amount Stripe cannot represent.
///
/// Stripe's rules (its "Supported currencies" page):
/// * Two-decimal currencies (most): the amount in cents, as Bursar holds it.
/// * Zero-decimal currencies (JPY, KRW, CLP, VND, …): whole units; those are
///   ISO exponent 0 as well, so the amount is unchanged. MGA has ISO exponent
///   2 but is zero-decimal at Stripe: the amount must be whole ariary.
/// * Three-decimal currencies (BHD, JOD, KWD, OMR, TND): thousandths, with the
///   last digit 0 (KWD 5.125 cannot be charged; 5.120 can).
/// * ISK and UGX: whole units only, written with two decimals (ISK 5 is
///   `500`).
/// * HUF and TWD are charged as ordinary two-decimal currencies; Stripe's
///   whole-unit rule for them applies to payouts to bank accounts, which
///   Bursar does not make (its payouts are Connect transfers).
///
/// Amounts must be positive.
pub fn to_stripe_amount(amount: Money) -> Result<i64, ProviderError> {
    let code = amount.currency();
    let iso = iso_exponent(code).ok_or_else(|| invalid(format!("unknown currency {code}")))?;
    if amount.minor <= 0 {
        return Err(invalid(format!("Stripe amounts must be positive (got {} {code})", amount.minor)));
    }
    let (decimals, step) = stripe_unit(code);
    let value = if decimals >= iso {
        amount.minor.checked_mul(10_i64.pow(decimals - iso)).ok_or_else(|| invalid("amount too large"))?
    } else {
        let divisor = 10_i64.pow(iso - decimals);
        if amount.minor % divisor != 0 {
            return Err(invalid(format!(
                "Stripe charges {code} with {decimals} decimals: {} minor units cannot be represented",
                amount.minor
            )));
        }
        amount.minor / divisor
    };
    if value % step != 0 {
        return Err(invalid(format!(
            "Stripe requires {code} amounts to be multiples of {step} in its unit: {} minor units cannot be charged",
            amount.minor
        )));
    }
    Ok(value)
}

/// Converts an amount Stripe reports (in its unit of `currency`, any case)
/// back to Bursar's ISO 4217 minor units.
pub fn from_stripe_amount(amount: i64, currency: &str) -> Option<Money> {
    if currency.len() != 3 || !currency.is_ascii() {
        return None;
    }
    let code = currency.to_ascii_uppercase();
    let iso = iso_exponent(&code)?;
    let (decimals, _) = stripe_unit(&code);
    let minor = if decimals >= iso {
        let divisor = 10_i64.pow(decimals - iso);
        if amount % divisor != 0 {
            return None;
        }
        amount / divisor
    } else {
        amount.checked_mul(10_i64.pow(iso - decimals))?
    };
    Some(Money::new(minor, &code))
}

// ---------------------------------------------------------------------------
// Form encoding
// ---------------------------------------------------------------------------

/// Form fields in Stripe's bracket notation, kept in insertion order.
#[derive(Debug, Default, Clone)]
struct Form {
    pairs: Vec<(String, String)>,
}

impl Form {
    fn push(&mut self, key: impl Into<String>, value: impl Into<String>) -> &mut Form {
        self.pairs.push((key.into(), value.into()));
        self
    }

    /// `{prefix}[key]=value` for every entry, then `{prefix}[key]=value` for
    /// the entries of `ours`, which win over the caller's.
    fn metadata(&mut self, prefix: &str, extra: &BTreeMap<String, String>, ours: &[(&str, &str)]) -> &mut Form {
        for (k, v) in extra {
            if !ours.iter().any(|(o, _)| o == k) {
                self.push(format!("{prefix}[{k}]"), v.clone());
            }
        }
        for (k, v) in ours {
            self.push(format!("{prefix}[{k}]"), *v);
        }
        self
    }

    fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    fn encode(&self) -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.pairs {
            s.append_pair(k, v);
        }
        s.finish()
    }
}

/// Percent-encodes one path segment (ids are opaque to us).
fn segment(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A quoted value for Stripe's search query language.
fn search_literal(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

// ---------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------

/// Stripe's error object (`{"error": {…}}`).
#[derive(Debug, Default, Deserialize)]
struct ApiError {
    #[serde(rename = "type", default)]
    kind: String,
    code: Option<String>,
    decline_code: Option<String>,
    message: Option<String>,
    param: Option<String>,
    payment_intent: Option<Value>,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ApiError,
}

impl ApiError {
    fn describe(&self) -> String {
        let mut s = self.message.clone().unwrap_or_else(|| "no message".to_string());
        if let Some(code) = &self.code {
            s.push_str(&format!(" [{code}]"));
        }
        if let Some(param) = &self.param {
            s.push_str(&format!(" (param {param})"));
        }
        s
    }
}

/// A failed call, before it is turned into what the caller needs.
enum Failure {
    Provider(ProviderError),
    /// 402 with `type: card_error`: a decline.
    Card(ApiError),
    /// 404: no such object.
    Missing(ApiError),
}

impl From<ProviderError> for Failure {
    fn from(e: ProviderError) -> Failure {
        Failure::Provider(e)
    }
}

impl Failure {
    /// For calls where a decline or a missing object is not expected.
    fn into_error(self) -> ProviderError {
        match self {
            Failure::Provider(e) => e,
            Failure::Card(e) => ProviderError::Rejected { provider: PROVIDER, status: 402, message: e.describe() },
            Failure::Missing(e) => ProviderError::Rejected { provider: PROVIDER, status: 404, message: e.describe() },
        }
    }
}

fn protocol(detail: impl Into<String>) -> ProviderError {
    ProviderError::Protocol { provider: PROVIDER, detail: detail.into() }
}

impl StripeConnector {
    fn url(&self, path: &str) -> String {
        format!("{}{}", self.config.api_base.trim_end_matches('/'), path)
    }

    async fn get(&self, path: &str, query: &Form) -> Result<Value, Failure> {
        let mut url = self.url(path);
        if !query.is_empty() {
            url.push('?');
            url.push_str(&query.encode());
        }
        let req = self.client.get(url);
        self.send(req, Effect::Inert).await
    }

    async fn post(&self, path: &str, form: &Form, key: String) -> Result<Value, Failure> {
        let req = self
            .client
            .post(self.url(path))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("Idempotency-Key", key)
            .body(form.encode());
        self.send(req, Effect::Acts).await
    }

    /// Sends a request; `effect` is [`Effect::Acts`] for every POST, whose
    /// outcome is unknown after a 500 or a lost connection.
    async fn send(&self, req: reqwest::RequestBuilder, effect: Effect) -> Result<Value, Failure> {
        let req = req
            .header("Authorization", format!("Bearer {}", self.config.secret_key))
            .header("Stripe-Version", &self.config.api_version);
        let resp = req.send().await.map_err(|e| transport_error(PROVIDER, &e, effect))?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.map_err(|e| transport_error(PROVIDER, &e, effect))?;
        if (200..300).contains(&status) {
            return serde_json::from_slice(&bytes)
                .map_err(|e| protocol(format!("{status} body is not JSON: {e}")).into());
        }
        let error = serde_json::from_slice::<ErrorBody>(&bytes).map(|b| b.error);
        tracing::debug!(status, "stripe answered with an error");
        match status {
            401 | 403 => Err(ProviderError::Auth { provider: PROVIDER }.into()),
            429 | 500..=599 => {
                let detail = match &error {
                    Ok(e) => format!("{status}: {}", e.describe()),
                    Err(_) => format!("HTTP {status}"),
                };
                Err(server_error(PROVIDER, status, detail, effect).into())
            }
            409 => Err(ProviderError::Timeout { provider: PROVIDER }.into()),
            _ => {
                let error = error.map_err(|e| protocol(format!("{status} without a Stripe error object: {e}")))?;
                match status {
                    402 if error.kind == "card_error" => Err(Failure::Card(error)),
                    404 => Err(Failure::Missing(error)),
                    _ => Err(ProviderError::Rejected { provider: PROVIDER, status, message: error.describe() }.into()),
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Reading Stripe objects
// ---------------------------------------------------------------------------

fn str_at<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// The id of an expandable field: the string itself, or the `id` of the
/// expanded object.
fn id_of(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("id").and_then(Value::as_str).map(str::to_string),
        _ => None,
    }
}

fn required_str(v: &Value, key: &str) -> Result<String, ProviderError> {
    str_at(v, key).map(str::to_string).ok_or_else(|| protocol(format!("missing `{key}`")))
}

fn money_of(v: &Value, amount_key: &str) -> Option<Money> {
    let amount = v.get(amount_key)?.as_i64()?;
    from_stripe_amount(amount, str_at(v, "currency")?)
}

/// Bursar's decline code from Stripe's `code` / `decline_code`: the specific
/// decline code when there is one (`insufficient_funds`, `expired_card`,
/// `authentication_required`, …), else the error code (`card_declined`).
fn decline_code(code: Option<&str>, decline: Option<&str>) -> String {
    match (decline, code) {
        (Some(d), _) if !d.is_empty() && d != "generic_decline" => d.to_string(),
        (_, Some(c)) if !c.is_empty() => c.to_string(),
        _ => "card_declined".to_string(),
    }
}

/// Card details of a PaymentMethod object (`card.brand`, `last4`, …) or of a
/// Charge's `payment_method_details.card`.
fn card_details(token: String, customer: Option<String>, card: &Value) -> MethodDetails {
    MethodDetails {
        token,
        brand: str_at(card, "brand").map(str::to_string),
        last4: str_at(card, "last4").map(str::to_string),
        exp_month: card.get("exp_month").and_then(Value::as_u64).and_then(|m| u8::try_from(m).ok()),
        exp_year: card.get("exp_year").and_then(Value::as_u64).and_then(|y| u16::try_from(y).ok()),
        provider_customer: customer,
    }
}

/// The payment method of a PaymentIntent, with card details when the method
/// (or the latest charge) is expanded. Its customer is the one the method is
/// attached to when the method is expanded, else the intent's.
fn intent_method(pi: &Value) -> Option<MethodDetails> {
    let pm = pi.get("payment_method")?;
    let token = id_of(Some(pm))?;
    let customer = id_of(pm.get("customer")).or_else(|| id_of(pi.get("customer")));
    if let Some(card) = pm.get("card").filter(|c| c.is_object()) {
        return Some(card_details(token, customer, card));
    }
    let charge_card =
        pi.get("latest_charge").and_then(|c| c.get("payment_method_details")).and_then(|d| d.get("card")).or_else(
            || {
                pi.get("charges")
                    .and_then(|c| c.get("data"))
                    .and_then(|d| d.get(0))
                    .and_then(|c| c.get("payment_method_details"))
                    .and_then(|d| d.get("card"))
            },
        );
    match charge_card {
        Some(card) => Some(card_details(token, customer, card)),
        None => Some(MethodDetails {
            token,
            brand: None,
            last4: None,
            exp_month: None,
            exp_year: None,
            provider_customer: customer,
        }),
    }
}

/// Whether the buyer agreed to keep the method (the intent set up future
/// usage, or the method is attached to a customer).
fn method_saved(pi: &Value) -> bool {
    str_at(pi, "setup_future_usage").is_some()
        || pi.get("payment_method").and_then(|pm| pm.get("customer")).is_some_and(|c| !c.is_null())
}

fn intent_outcome(pi: &Value) -> Result<ChargeOutcome, ProviderError> {
    let id = required_str(pi, "id")?;
    let status = required_str(pi, "status")?;
    Ok(match status.as_str() {
        "succeeded" => ChargeOutcome::Succeeded { provider_payment_id: id, fee_minor: None },
        "processing" | "requires_capture" => ChargeOutcome::Processing { provider_payment_id: id },
        "requires_action" | "requires_confirmation" => {
            let redirect_url = pi
                .get("next_action")
                .and_then(|a| a.get("redirect_to_url"))
                .and_then(|r| r.get("url"))
                .and_then(Value::as_str)
                .map(str::to_string);
            ChargeOutcome::RequiresAction { provider_payment_id: id, redirect_url }
        }
        "requires_payment_method" => {
            let err = pi.get("last_payment_error").filter(|e| e.is_object());
            ChargeOutcome::Declined {
                provider_payment_id: Some(id),
                code: decline_code(err.and_then(|e| str_at(e, "code")), err.and_then(|e| str_at(e, "decline_code"))),
                message: err
                    .and_then(|e| str_at(e, "message"))
                    .unwrap_or("the payment needs another payment method")
                    .to_string(),
            }
        }
        "canceled" => ChargeOutcome::Declined {
            provider_payment_id: Some(id),
            code: "canceled".to_string(),
            message: str_at(pi, "cancellation_reason").unwrap_or("the payment was canceled").to_string(),
        },
        other => return Err(protocol(format!("unknown PaymentIntent status `{other}`"))),
    })
}

fn declined(e: &ApiError) -> ChargeOutcome {
    ChargeOutcome::Declined {
        provider_payment_id: id_of(e.payment_intent.as_ref()),
        code: decline_code(e.code.as_deref(), e.decline_code.as_deref()),
        message: e.message.clone().unwrap_or_else(|| "Your card was declined.".to_string()),
    }
}

fn intent_status(pi: &Value) -> Result<PaymentStatus, ProviderError> {
    let id = required_str(pi, "id")?;
    let status = required_str(pi, "status")?;
    Ok(match status.as_str() {
        "succeeded" => {
            let amount = money_of(pi, "amount_received")
                .filter(|m| m.minor > 0)
                .or_else(|| money_of(pi, "amount"))
                .ok_or_else(|| protocol("PaymentIntent without a readable amount"))?;
            PaymentStatus::Succeeded { provider_payment_id: id, amount }
        }
        "canceled" => PaymentStatus::Canceled { provider_payment_id: id },
        "requires_payment_method" => match pi.get("last_payment_error").filter(|e| e.is_object()) {
            Some(err) => PaymentStatus::Failed {
                provider_payment_id: id,
                code: decline_code(str_at(err, "code"), str_at(err, "decline_code")),
            },
            None => PaymentStatus::Pending { provider_payment_id: id },
        },
        _ => PaymentStatus::Pending { provider_payment_id: id },
    })
}

/// Rank for choosing among several intents carrying the same payment id.
fn status_rank(pi: &Value) -> u8 {
    match str_at(pi, "status") {
        Some("succeeded") => 4,
        Some("processing" | "requires_capture") => 3,
        Some("requires_action" | "requires_confirmation") => 2,
        Some("requires_payment_method") => 1,
        _ => 0,
    }
}

/// The method a Checkout Session saved, if the buyer agreed to keep it. Its
/// customer is the one the method or the intent names, else the session's
/// (which Checkout creates with `customer_creation=always`).
fn session_method(cs: &Value) -> Option<MethodDetails> {
    let pi = cs.get("payment_intent").filter(|p| p.is_object())?;
    let mut method = intent_method(pi).filter(|_| method_saved(pi))?;
    if method.provider_customer.is_none() {
        method.provider_customer = id_of(cs.get("customer"));
    }
    Some(method)
}

fn session_outcome(cs: &Value) -> Result<(ChargeOutcome, Option<MethodDetails>), ProviderError> {
    let session_id = required_str(cs, "id")?;
    let pi = cs.get("payment_intent").filter(|p| p.is_object());
    let pi_id = id_of(cs.get("payment_intent")).unwrap_or_else(|| session_id.clone());
    let method = session_method(cs);
    let status = str_at(cs, "status").unwrap_or("open");
    let payment_status = str_at(cs, "payment_status").unwrap_or("unpaid");
    let outcome = match (status, payment_status) {
        (_, "paid") | (_, "no_payment_required") => match pi {
            Some(pi) => intent_outcome(pi)?,
            None => ChargeOutcome::Succeeded { provider_payment_id: pi_id, fee_minor: None },
        },
        ("complete", _) => ChargeOutcome::Processing { provider_payment_id: pi_id },
        ("expired", _) => ChargeOutcome::Declined {
            provider_payment_id: pi.map(|_| pi_id),
            code: "expired".to_string(),
            message: "the checkout session expired before the buyer paid".to_string(),
        },
        _ => match pi.filter(|pi| pi.get("last_payment_error").is_some_and(Value::is_object)) {
            Some(pi) => intent_outcome(pi)?,
            None => ChargeOutcome::RequiresAction {
                provider_payment_id: pi_id,
                redirect_url: str_at(cs, "url").map(str::to_string),
            },
        },
    };
    let method = match &outcome {
        ChargeOutcome::Succeeded { .. } | ChargeOutcome::Processing { .. } => method,
        _ => None,
    };
    Ok((outcome, method))
}
