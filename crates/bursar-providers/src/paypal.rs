//! PayPal: REST API with OAuth2 client credentials and JSON bodies; Payouts
//! for paying payees are in `payouts`.
//!
//! * Access tokens come from `POST /v1/oauth2/token` (HTTP basic auth with
//!   the client id and secret, `grant_type=client_credentials`). A token is
//!   cached until shortly before it expires; a `401` answer refreshes it once
//!   and repeats the call, a second `401` is [`ProviderError::Auth`].
//! * A first payment is an Orders v2 order (`intent: CAPTURE`) whose
//!   `payment_source.paypal.experience_context` carries the return and cancel
//!   URLs; the buyer approves it on the `payer-action` (or `approve`) link and
//!   [`Connector::complete_checkout`] captures it
//!   (`POST /v2/checkout/orders/{id}/capture`). With `save_method` the order
//!   asks PayPal to vault the wallet on success (`attributes.vault.
//!   store_in_vault = ON_SUCCESS`); the vault id comes back in the capture
//!   answer and is the method token for later charges, with the vault
//!   customer it belongs to when the answer names one
//!   ([`MethodDetails::provider_customer`]; pass it back as the checkout's
//!   `provider_customer` to vault further wallets for the same customer).
//! * An off-session charge creates an order with `payment_source.paypal.
//!   vault_id`, which PayPal captures in the same call; an order that comes
//!   back `APPROVED` instead is captured explicitly.
//! * Every request that creates something carries a `PayPal-Request-Id`
//!   derived from Bursar's ids ([`crate::idempotency_key`]); PayPal answers a
//!   repeated id with the stored result instead of acting twice.
//! * The provider payment id Bursar keeps is the **order id**. Refunds look
//!   the capture up from the order (`POST /v2/payments/captures/{id}/refund`).
//! * Amounts are decimal strings with the number of decimals PayPal takes for
//!   the currency (`"10.00"`, JPY `"1000"`; HUF and TWD take no decimals
//!   although ISO 4217 gives them two, so their amounts must be whole).
//!   Currencies PayPal does not list are refused before any request
//!   ([`ProviderError::InvalidRequest`]).
//! * Errors: a connection that could not be opened, 429, 502, 503 and
//!   any failure of a request that moves no money (reads, tokens, orders the
//!   buyer still has to approve) are [`ProviderError::Unavailable`]; a 500 or 504 to
//!   a charge of a vaulted wallet, a capture or a refund, or a connection
//!   lost after one was sent, is [`ProviderError::Indeterminate`]: recover
//!   with [`Connector::retrieve`].
//! * Webhooks are verified by PayPal's verification API
//!   (`POST /v1/notifications/verify-webhook-signature`), which receives the
//!   event body byte for byte as it arrived, after a local check that the
//!   transmission time is within the configured tolerance.
//!   [`Connector::parse_webhook`] maps a stored body the same way without
//!   verifying it again (the transmission headers are not kept, and their
//!   time would be out of tolerance by then).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex as StdMutex;
use std::time::Duration;

use async_trait::async_trait;
use bursar_domain::money::Currency;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::{
    idempotency_key, server_error, transport_error, ChargeOutcome, ChargeRequest, CheckoutRequest, CheckoutSession,
    Connector, CustomerInfo, Effect, Headers, HttpSettings, MethodDetails, Money, PaymentStatus, ProviderError,
    ProviderKind, RefundOutcome, RefundRequest, WebhookError, WebhookEvent, WebhookKind,
};

const PROVIDER: &str = "paypal";

mod connector;
mod payouts;

/// Production API host.
pub const LIVE_API_BASE: &str = "https://api-m.paypal.com";
/// Sandbox API host.
pub const SANDBOX_API_BASE: &str = "https://api-m.sandbox.paypal.com";
/// Default accepted distance between a webhook's transmission time and now.
pub const DEFAULT_WEBHOOK_TOLERANCE: Duration = Duration::from_secs(300);

/// The currencies PayPal's REST API accepts, with the number of decimals it
/// takes in `amount.value` for each. HUF and TWD are whole amounts at PayPal
/// although ISO 4217 gives them two decimals. BRL, CNY, INR and MYR are
/// accepted for in-country accounts only; PayPal itself refuses them for
/// other accounts.
pub const SUPPORTED_CURRENCIES: &[(&str, u32)] = &[
    ("AUD", 2),
    ("BRL", 2),
    ("CAD", 2),
    ("CNY", 2),
    ("CZK", 2),
    ("DKK", 2),
    ("EUR", 2),
    ("HKD", 2),
    ("HUF", 0),
    ("ILS", 2),
    ("INR", 2),
    ("JPY", 0),
    ("MYR", 2),
    ("MXN", 2),
    ("TWD", 0),
    ("NZD", 2),
    ("NOK", 2),
    ("PHP", 2),
    ("PLN", 2),
    ("GBP", 2),
    ("SGD", 2),
    ("SEK", 2),
    ("CHF", 2),
    ("THB", 2),
    ("USD", 2),
];

/// Issues in a `422 UNPROCESSABLE_ENTITY` answer that mean the payment was
/// declined (a successful call with a negative answer), with the normalized
/// decline code each maps to.
const DECLINE_ISSUES: &[(&str, &str)] = &[
    ("INSTRUMENT_DECLINED", "card_declined"),
    ("TRANSACTION_REFUSED", "card_declined"),
    ("PAYER_CANNOT_PAY", "card_declined"),
    ("PAYEE_BLOCKED_TRANSACTION", "card_declined"),
    ("COMPLIANCE_VIOLATION", "card_declined"),
    ("MAX_NUMBER_OF_PAYMENT_ATTEMPTS_EXCEEDED", "card_declined"),
    ("AGREEMENT_ALREADY_CANCELLED", "card_declined"),
    ("PAYER_ACTION_REQUIRED", "authentication_required"),
    ("CARD_EXPIRED", "expired_card"),
];

/// How to reach one PayPal REST app.
#[derive(Debug, Clone)]
pub struct PaypalConfig {
    pub client_id: String,
    pub client_secret: String,
    /// The id of the webhook as configured in the developer dashboard; the
    /// verification API checks events against it.
    pub webhook_id: String,
    /// [`LIVE_API_BASE`] or [`SANDBOX_API_BASE`] (or a local double), without
    /// a trailing slash.
    pub api_base: String,
    pub http: HttpSettings,
    /// Webhooks whose `PAYPAL-TRANSMISSION-TIME` is further than this from
    /// Bursar's clock are refused as stale (replay protection).
    pub webhook_tolerance: Duration,
}

/// Converts minor units into PayPal's `amount.value` string for the
/// currency, or refuses the amount ([`ProviderError::InvalidRequest`]) when PayPal
/// does not take the currency, the amount is negative, or it has a fraction
/// PayPal cannot express (HUF and TWD are whole at PayPal).
pub fn paypal_amount(money: Money) -> Result<String, ProviderError> {
    let code = money.currency();
    let Some(&(_, decimals)) = SUPPORTED_CURRENCIES.iter().find(|(c, _)| *c == code) else {
        return Err(invalid(format!("PayPal does not support the currency {code}")));
    };
    if money.minor < 0 {
        return Err(invalid(format!("negative amount {} {code}", money.minor)));
    }
    let iso = iso_exponent(code)?;
    let units = if decimals < iso {
        let factor = 10_i64.pow(iso - decimals);
        if money.minor % factor != 0 {
            return Err(invalid(format!("{code} amounts must be whole at PayPal; {} minor units is not", money.minor)));
        }
        money.minor / factor
    } else {
        money.minor * 10_i64.pow(decimals - iso)
    };
    if decimals == 0 {
        return Ok(units.to_string());
    }
    let scale = 10_i64.pow(decimals);
    Ok(format!("{}.{:0width$}", units / scale, units % scale, width = decimals as usize))
}

/// Parses PayPal's `{"currency_code": …, "value": …}` into minor units of
/// the ISO exponent. `None` when the value is malformed or more precise than
/// the currency.
pub fn parse_paypal_amount(value: &str, currency: &str) -> Option<Money> {
    if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    let iso = Currency::from_code(currency).ok()?.exponent() as u32;
    let (int, frac) = match value.split_once('.') {
        Some((i, f)) => (i, f),
        None => (value, ""),
    };
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let frac = frac.trim_end_matches('0');
    if frac.len() as u32 > iso {
        return None;
    }
    let int: i64 = int.parse().ok()?;
    let frac_units: i64 = if frac.is_empty() { 0 } else { frac.parse().ok()? };
    let minor =
        int.checked_mul(10_i64.pow(iso))?.checked_add(frac_units.checked_mul(10_i64.pow(iso - frac.len() as u32))?)?;
    Some(Money::new(minor, currency))
}

fn iso_exponent(code: &str) -> Result<u32, ProviderError> {
    Currency::from_code(code).map(|c| u32::from(c.exponent())).map_err(|_| invalid(format!("unknown currency {code}")))
}

/// A request the connector refuses without asking PayPal to act.
fn invalid(message: String) -> ProviderError {
    ProviderError::InvalidRequest { provider: PROVIDER, message }
}

fn protocol(detail: impl Into<String>) -> ProviderError {
    ProviderError::Protocol { provider: PROVIDER, detail: detail.into() }
}

/// A cached access token.
struct Token {
    value: String,
    refresh_at: Instant,
}

/// What the connector remembers about a payment id it has sent to PayPal,
/// for [`Connector::retrieve`] without an order id.
#[derive(Clone)]
enum Sent {
    /// The order id PayPal answered with.
    Order(String),
    /// A create-order request whose answer never arrived: its request id
    /// and exact body, so it can be repeated under the same
    /// `PayPal-Request-Id`.
    Unanswered { request_id: String, body: String, effect: Effect },
}

/// Why a call failed: a [`ProviderError`] already, or a 4xx answer the
/// caller interprets (declines, already-captured orders, …).
enum Failure {
    Provider(ProviderError),
    Api { status: u16, body: Value },
}

impl From<ProviderError> for Failure {
    fn from(e: ProviderError) -> Self {
        Failure::Provider(e)
    }
}

impl Failure {
    fn into_error(self) -> ProviderError {
        match self {
            Failure::Provider(e) => e,
            Failure::Api { status, body } => {
                ProviderError::Rejected { provider: PROVIDER, status, message: describe(&body) }
            }
        }
    }

    /// The first `details[].issue` of a PayPal error body.
    fn issues(&self) -> Vec<String> {
        match self {
            Failure::Api { body, .. } => body["details"]
                .as_array()
                .map(|d| d.iter().filter_map(|i| i["issue"].as_str().map(str::to_owned)).collect())
                .unwrap_or_default(),
            Failure::Provider(_) => Vec::new(),
        }
    }

    fn has_issue(&self, issue: &str) -> bool {
        self.issues().iter().any(|i| i == issue)
    }

    fn status(&self) -> Option<u16> {
        match self {
            Failure::Api { status, .. } => Some(*status),
            Failure::Provider(_) => None,
        }
    }

    /// A decline, when this is a 422 whose issue is one of
    /// [`DECLINE_ISSUES`]: `(code, message)`.
    fn decline(&self) -> Option<(String, String)> {
        let Failure::Api { status: 422, body } = self else { return None };
        let issues = self.issues();
        let (issue, code) = DECLINE_ISSUES.iter().find(|(issue, _)| issues.iter().any(|i| i == issue))?;
        let description = body["details"]
            .as_array()
            .and_then(|d| d.iter().find(|i| i["issue"] == *issue))
            .and_then(|i| i["description"].as_str())
            .unwrap_or(issue);
        Some(((*code).to_owned(), format!("{issue}: {description}")))
    }
}

/// `name: message (issue, issue)` from a PayPal error body (or the OAuth
/// `error` / `error_description` shape).
fn describe(body: &Value) -> String {
    let name = body["name"].as_str().or_else(|| body["error"].as_str()).unwrap_or("error");
    let message = body["message"].as_str().or_else(|| body["error_description"].as_str()).unwrap_or("");
    let issues: Vec<String> = body["details"]
        .as_array()
        .map(|d| {
            d.iter()
                .map(|i| {
                    let issue = i["issue"].as_str().unwrap_or("?");
                    match i["description"].as_str() {
                        Some(desc) => format!("{issue}: {desc}"),
                        None => issue.to_owned(),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    if issues.is_empty() {
        format!("{name}: {message}")
    } else {
        format!("{name}: {message} ({})", issues.join("; "))
    }
}

/// The connector.
pub struct PaypalConnector {
    config: PaypalConfig,
    http: reqwest::Client,
    token: Mutex<Option<Token>>,
    sent: StdMutex<HashMap<String, Sent>>,
}

/// Upper bound of remembered payment ids; the memory is a recovery aid, not
/// a store.
const MAX_REMEMBERED: usize = 50_000;

impl PaypalConnector {
    pub fn new(config: PaypalConfig) -> Result<PaypalConnector, ProviderError> {
        let http = reqwest::Client::builder()
            .timeout(config.http.timeout)
            .connect_timeout(config.http.connect_timeout)
            .build()
            .map_err(|e| protocol(format!("HTTP client: {e}")))?;
        Ok(PaypalConnector { config, http, token: Mutex::new(None), sent: StdMutex::new(HashMap::new()) })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.config.api_base.trim_end_matches('/'))
    }

    fn remember(&self, payment_id: &str, sent: Sent) {
        let mut map = self.sent.lock().expect("paypal memory lock");
        if map.len() >= MAX_REMEMBERED && !map.contains_key(payment_id) {
            map.clear();
        }
        map.insert(payment_id.to_owned(), sent);
    }

    fn recall(&self, payment_id: &str) -> Option<Sent> {
        self.sent.lock().expect("paypal memory lock").get(payment_id).cloned()
    }

    /// A valid access token: the cached one unless it is due for refresh or
    /// is `stale` (the one a `401` was just answered to).
    async fn access_token(&self, stale: Option<&str>) -> Result<String, ProviderError> {
        let mut cached = self.token.lock().await;
        if let Some(token) = cached.as_ref() {
            let refused = stale.is_some_and(|s| s == token.value);
            if !refused && Instant::now() < token.refresh_at {
                return Ok(token.value.clone());
            }
        }
        let fresh = self.fetch_token().await?;
        let value = fresh.value.clone();
        *cached = Some(fresh);
        Ok(value)
    }

    async fn fetch_token(&self) -> Result<Token, ProviderError> {
        let form =
            form_urlencoded::Serializer::new(String::new()).append_pair("grant_type", "client_credentials").finish();
        let resp = self
            .http
            .post(self.url("/v1/oauth2/token"))
            .basic_auth(&self.config.client_id, Some(&self.config.client_secret))
            .header(reqwest::header::ACCEPT, "application/json")
            .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .map_err(|e| transport_error(PROVIDER, &e, Effect::Inert))?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| transport_error(PROVIDER, &e, Effect::Inert))?;
        let body = classify(status, &bytes, Effect::Inert).map_err(Failure::into_error)?;
        let value = body["access_token"].as_str().ok_or_else(|| protocol("token answer without access_token"))?;
        let expires_in = body["expires_in"].as_u64().ok_or_else(|| protocol("token answer without expires_in"))?;
        // Refresh shortly before expiry: five minutes early, or halfway
        // through a short-lived token.
        let margin = (expires_in / 2).min(300);
        Ok(Token { value: value.to_owned(), refresh_at: Instant::now() + Duration::from_secs(expires_in - margin) })
    }

    /// One API call with the bearer token; a `401` refreshes the token once.
    /// `effect` is [`Effect::Acts`] for charges, captures and refunds, whose
    /// outcome is unknown after a 500 or a connection lost once the request
    /// was sent.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&str>,
        request_id: Option<&str>,
        effect: Effect,
    ) -> Result<Value, Failure> {
        let mut token = self.access_token(None).await?;
        let mut refreshed = false;
        loop {
            let mut req = self
                .http
                .request(method.clone(), self.url(path))
                .bearer_auth(&token)
                .header(reqwest::header::ACCEPT, "application/json");
            if let Some(id) = request_id {
                req = req.header("PayPal-Request-Id", id);
            }
            if let Some(body) = body {
                req = req
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .header("Prefer", "return=representation")
                    .body(body.to_owned());
            }
            let resp = req.send().await.map_err(|e| transport_error(PROVIDER, &e, effect))?;
            let status = resp.status();
            let bytes = resp.bytes().await.map_err(|e| transport_error(PROVIDER, &e, effect))?;
            if status == StatusCode::UNAUTHORIZED && !refreshed {
                tracing::debug!("paypal answered 401; refreshing the access token once");
                token = self.access_token(Some(&token)).await?;
                refreshed = true;
                continue;
            }
            return classify(status, &bytes, effect);
        }
    }

    async fn get_order(&self, order_id: &str) -> Result<Value, Failure> {
        self.call(Method::GET, &format!("/v2/checkout/orders/{}", path_segment(order_id)?), None, None, Effect::Inert)
            .await
    }

    async fn capture_order(&self, order_id: &str, request_id: &str) -> Result<Value, Failure> {
        let path = format!("/v2/checkout/orders/{}/capture", path_segment(order_id)?);
        self.call(Method::POST, &path, Some("{}"), Some(request_id), Effect::Acts).await
    }

    /// Creates an order, remembering the request so that an unanswered one
    /// can be repeated by [`Connector::retrieve`]. An order paid with a
    /// vaulted wallet is captured in the same call ([`Effect::Acts`]); one
    /// the buyer still has to approve moves no money ([`Effect::Inert`]).
    async fn create_order(
        &self,
        payment_id: &str,
        request_id: &str,
        body: &Value,
        effect: Effect,
    ) -> Result<Value, Failure> {
        let body = body.to_string();
        let result = self.call(Method::POST, "/v2/checkout/orders", Some(&body), Some(request_id), effect).await;
        match &result {
            Ok(order) => {
                if let Some(id) = order["id"].as_str() {
                    self.remember(payment_id, Sent::Order(id.to_owned()));
                }
            }
            Err(Failure::Provider(e)) if e.outcome_unknown() => {
                self.remember(payment_id, Sent::Unanswered { request_id: request_id.to_owned(), body, effect });
            }
            Err(_) => {}
        }
        result
    }

    /// The order id a capture belongs to (`supplementary_data.related_ids`);
    /// the capture id itself when PayPal does not know the capture.
    async fn order_of_capture(&self, capture_id: &str) -> Result<String, ProviderError> {
        let path = format!("/v2/payments/captures/{}", path_segment(capture_id)?);
        match self.call(Method::GET, &path, None, None, Effect::Inert).await {
            Ok(capture) => {
                Ok(capture["supplementary_data"]["related_ids"]["order_id"].as_str().unwrap_or(capture_id).to_owned())
            }
            Err(Failure::Api { status: 404, .. }) => Ok(capture_id.to_owned()),
            Err(e) => Err(e.into_error()),
        }
    }

    /// The order for `id`, which may also be a capture id (then its order is
    /// looked up). `None` when PayPal knows neither.
    async fn order_or_capture(&self, id: &str) -> Result<Option<Value>, ProviderError> {
        match self.get_order(id).await {
            Ok(order) => return Ok(Some(order)),
            Err(Failure::Api { status: 404, .. }) => {}
            Err(e) => return Err(e.into_error()),
        }
        let order_id = self.order_of_capture(id).await?;
        if order_id == id {
            return Ok(None);
        }
        match self.get_order(&order_id).await {
            Ok(order) => Ok(Some(order)),
            Err(Failure::Api { status: 404, .. }) => Ok(None),
            Err(e) => Err(e.into_error()),
        }
    }

    fn purchase_unit(&self, payment_id: &str, description: &str, amount: Money) -> Result<Value, ProviderError> {
        if payment_id.is_empty() || payment_id.len() > 127 {
            return Err(invalid(format!("payment id {payment_id:?} does not fit PayPal's custom_id")));
        }
        let mut unit = json!({
            "reference_id": payment_id,
            "custom_id": payment_id,
            "invoice_id": payment_id,
            "amount": { "currency_code": amount.currency(), "value": paypal_amount(amount)? },
        });
        let description: String = description.chars().take(127).collect();
        if !description.is_empty() {
            unit["description"] = Value::String(description);
        }
        Ok(unit)
    }

    /// Maps an order answered by create/capture/get onto a charge outcome.
    fn outcome(&self, order: &Value) -> Result<ChargeOutcome, ProviderError> {
        let id = order["id"].as_str().ok_or_else(|| protocol("order without id"))?.to_owned();
        let status = order["status"].as_str().unwrap_or("");
        match status {
            "COMPLETED" => {
                let capture = first_capture(order).ok_or_else(|| protocol("completed order without a capture"))?;
                Ok(match capture["status"].as_str().unwrap_or("") {
                    "COMPLETED" | "PARTIALLY_REFUNDED" | "REFUNDED" => {
                        ChargeOutcome::Succeeded { provider_payment_id: id, fee_minor: fee_minor(capture) }
                    }
                    "PENDING" => ChargeOutcome::Processing { provider_payment_id: id },
                    other => ChargeOutcome::Declined {
                        provider_payment_id: Some(id),
                        code: "card_declined".into(),
                        message: capture_reason(capture).unwrap_or_else(|| format!("capture {other}")),
                    },
                })
            }
            "PAYER_ACTION_REQUIRED" => {
                Ok(ChargeOutcome::RequiresAction { provider_payment_id: id, redirect_url: buyer_link(order) })
            }
            "VOIDED" => Ok(ChargeOutcome::Declined {
                provider_payment_id: Some(id),
                code: "canceled".into(),
                message: "the order was voided".into(),
            }),
            "CREATED" | "SAVED" | "APPROVED" => Ok(ChargeOutcome::Processing { provider_payment_id: id }),
            other => Err(protocol(format!("unknown order status {other:?}"))),
        }
    }

    fn status_of(&self, order: &Value) -> Result<PaymentStatus, ProviderError> {
        let id = order["id"].as_str().ok_or_else(|| protocol("order without id"))?.to_owned();
        Ok(match order["status"].as_str().unwrap_or("") {
            "COMPLETED" => {
                let capture = first_capture(order).ok_or_else(|| protocol("completed order without a capture"))?;
                match capture["status"].as_str().unwrap_or("") {
                    "COMPLETED" | "PARTIALLY_REFUNDED" | "REFUNDED" => {
                        let amount = money_of(&capture["amount"]).ok_or_else(|| protocol("capture amount"))?;
                        PaymentStatus::Succeeded { provider_payment_id: id, amount }
                    }
                    "PENDING" => PaymentStatus::Pending { provider_payment_id: id },
                    _ => PaymentStatus::Failed { provider_payment_id: id, code: "card_declined".into() },
                }
            }
            "VOIDED" => PaymentStatus::Canceled { provider_payment_id: id },
            "CREATED" | "SAVED" | "APPROVED" | "PAYER_ACTION_REQUIRED" => {
                PaymentStatus::Pending { provider_payment_id: id }
            }
            other => return Err(protocol(format!("unknown order status {other:?}"))),
        })
    }

    /// The event a webhook body (read by [`read_event`]) describes: its id,
    /// type and creation time, and what it means to Bursar. Shared by
    /// [`Connector::verify_webhook`] and [`Connector::parse_webhook`].
    async fn event_of(&self, event: &Value) -> Result<WebhookEvent, WebhookError> {
        let event_id = event["id"].as_str().ok_or_else(|| WebhookError::BadPayload("event without id".into()))?;
        let event_type =
            event["event_type"].as_str().ok_or_else(|| WebhookError::BadPayload("event without event_type".into()))?;
        let created = event["create_time"]
            .as_str()
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
            .ok_or_else(|| WebhookError::BadPayload("event without a valid create_time".into()))?;
        let kind = self.map_event(event).await?;
        Ok(WebhookEvent { event_id: event_id.to_owned(), event_type: event_type.to_owned(), created, kind })
    }

    /// Maps a verified event body onto what Bursar acts on.
    async fn map_event(&self, event: &Value) -> Result<WebhookKind, WebhookError> {
        let event_type = event["event_type"].as_str().unwrap_or("");
        let resource = &event["resource"];
        let lookup = |e: ProviderError| WebhookError::Verification(e.to_string());
        let bad = |what: &str| WebhookError::BadPayload(format!("{event_type}: {what}"));
        Ok(match event_type {
            "PAYMENT.CAPTURE.COMPLETED" => {
                let capture_id = resource["id"].as_str().ok_or_else(|| bad("resource.id"))?;
                let provider_payment_id =
                    resource["supplementary_data"]["related_ids"]["order_id"].as_str().unwrap_or(capture_id).to_owned();
                WebhookKind::PaymentSucceeded {
                    payment_id: our_payment_id(resource),
                    provider_payment_id,
                    amount: money_of(&resource["amount"]).ok_or_else(|| bad("resource.amount"))?,
                    method: None,
                    provider_customer: None,
                }
            }
            "PAYMENT.CAPTURE.DENIED" | "PAYMENT.CAPTURE.DECLINED" => {
                let capture_id = resource["id"].as_str().ok_or_else(|| bad("resource.id"))?;
                let provider_payment_id =
                    resource["supplementary_data"]["related_ids"]["order_id"].as_str().unwrap_or(capture_id).to_owned();
                WebhookKind::PaymentFailed {
                    payment_id: our_payment_id(resource),
                    provider_payment_id,
                    code: "card_declined".into(),
                    message: capture_reason(resource).unwrap_or_else(|| event_type.to_owned()),
                }
            }
            "PAYMENT.CAPTURE.REFUNDED" => {
                let refund_id = resource["id"].as_str().ok_or_else(|| bad("resource.id"))?;
                let capture_id = link_target(resource, "up").ok_or_else(|| bad("resource.links[rel=up]"))?;
                WebhookKind::RefundSucceeded {
                    refund_id: resource["custom_id"].as_str().map(str::to_owned),
                    provider_payment_id: self.order_of_capture(&capture_id).await.map_err(lookup)?,
                    provider_refund_id: refund_id.to_owned(),
                    amount: money_of(&resource["amount"]).ok_or_else(|| bad("resource.amount"))?,
                }
            }
            "CUSTOMER.DISPUTE.CREATED" => {
                let capture_id = resource["disputed_transactions"][0]["seller_transaction_id"]
                    .as_str()
                    .ok_or_else(|| bad("resource.disputed_transactions[0].seller_transaction_id"))?;
                WebhookKind::DisputeOpened {
                    provider_payment_id: self.order_of_capture(capture_id).await.map_err(lookup)?,
                    amount: money_of(&resource["dispute_amount"]).ok_or_else(|| bad("resource.dispute_amount"))?,
                    reason: resource["reason"].as_str().unwrap_or("UNKNOWN").to_owned(),
                }
            }
            // Approval alone moves no money: Bursar captures (on the buyer's
            // return, or on this event when the buyer never returns), and
            // PAYMENT.CAPTURE.COMPLETED reports it.
            "CHECKOUT.ORDER.APPROVED" => WebhookKind::CheckoutApproved {
                payment_id: our_payment_id(&resource["purchase_units"][0]),
                provider_ref: resource["id"].as_str().ok_or_else(|| bad("resource.id"))?.to_owned(),
            },
            _ => WebhookKind::Other,
        })
    }
}

/// Refuses ids that would change the request path.
fn path_segment(id: &str) -> Result<&str, ProviderError> {
    if !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        Ok(id)
    } else {
        Err(invalid(format!("malformed PayPal id {id:?}")))
    }
}

/// The body of a successful answer; 401/403 are [`ProviderError::Auth`],
/// 429 and 5xx [`ProviderError::Unavailable`] (a 500 to a request that acts
/// [`ProviderError::Indeterminate`]), other 4xx a [`Failure::Api`].
fn classify(status: StatusCode, bytes: &[u8], effect: Effect) -> Result<Value, Failure> {
    let body = if bytes.iter().all(u8::is_ascii_whitespace) {
        Some(Value::Null)
    } else {
        serde_json::from_slice::<Value>(bytes).ok()
    };
    if status.is_success() {
        return body.ok_or_else(|| protocol(format!("{status} with a body that is not JSON")).into());
    }
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        return Err(ProviderError::Auth { provider: PROVIDER }.into());
    }
    if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
        let detail = body.as_ref().map(describe).unwrap_or_else(|| status.to_string());
        return Err(server_error(PROVIDER, status.as_u16(), format!("{status}: {detail}"), effect).into());
    }
    if status.is_client_error() {
        return Err(Failure::Api { status: status.as_u16(), body: body.unwrap_or(Value::Null) });
    }
    Err(protocol(format!("unexpected status {status}")).into())
}

fn first_capture(order: &Value) -> Option<&Value> {
    order["purchase_units"][0]["payments"]["captures"].as_array().and_then(|c| c.first())
}

fn money_of(amount: &Value) -> Option<Money> {
    parse_paypal_amount(amount["value"].as_str()?, amount["currency_code"].as_str()?)
}

/// PayPal's fee on a capture, in minor units of the capture currency.
fn fee_minor(capture: &Value) -> Option<i64> {
    money_of(&capture["seller_receivable_breakdown"]["paypal_fee"]).map(|m| m.minor)
}

fn capture_reason(capture: &Value) -> Option<String> {
    capture["status_details"]["reason"]
        .as_str()
        .or_else(|| capture["processor_response"]["response_code"].as_str())
        .map(str::to_owned)
}

fn our_payment_id(resource: &Value) -> Option<String> {
    resource["custom_id"].as_str().or_else(|| resource["invoice_id"].as_str()).map(str::to_owned)
}

/// Where to send the buyer: the `payer-action` link, else `approve`.
fn buyer_link(order: &Value) -> Option<String> {
    let links = order["links"].as_array()?;
    ["payer-action", "approve"]
        .iter()
        .find_map(|rel| links.iter().find(|l| l["rel"] == *rel).and_then(|l| l["href"].as_str()).map(str::to_owned))
}

/// The last path segment of the link with `rel`.
fn link_target(resource: &Value, rel: &str) -> Option<String> {
    let href = resource["links"].as_array()?.iter().find(|l| l["rel"] == rel)?["href"].as_str()?;
    href.trim_end_matches('/').rsplit('/').next().map(str::to_owned)
}

/// The vaulted wallet in a capture answer, if PayPal vaulted one, with the
/// vault customer it belongs to when the answer names one
/// (`attributes.vault.customer.id`).
fn vaulted_method(order: &Value) -> Option<MethodDetails> {
    let vault = &order["payment_source"]["paypal"]["attributes"]["vault"];
    let id = vault["id"].as_str()?;
    Some(MethodDetails {
        token: id.to_owned(),
        brand: Some("paypal".into()),
        last4: None,
        exp_month: None,
        exp_year: None,
        provider_customer: vault["customer"]["id"].as_str().filter(|c| !c.is_empty()).map(str::to_owned),
    })
}

/// A webhook body as text (verification forwards it unchanged) and as the
/// JSON object it must be; anything else is [`WebhookError::BadPayload`].
fn read_event(body: &[u8]) -> Result<(&str, Value), WebhookError> {
    let raw = std::str::from_utf8(body).map_err(|_| WebhookError::BadPayload("not UTF-8".into()))?;
    let event: Value = serde_json::from_str(raw).map_err(|e| WebhookError::BadPayload(e.to_string()))?;
    if !event.is_object() {
        return Err(WebhookError::BadPayload("not a JSON object".into()));
    }
    Ok((raw, event))
}

fn header<'a>(headers: &'a Headers, name: &str) -> Option<&'a str> {
    headers.get(name).map(String::as_str).map(str::trim).filter(|v| !v.is_empty())
}
