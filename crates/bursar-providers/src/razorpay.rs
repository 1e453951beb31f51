//! Razorpay: REST API with HTTP basic auth (`key_id:key_secret`) and JSON
//! bodies; amounts in the currency's smallest unit (paise for INR).
//!
//! * A first payment is an order (`POST /v1/orders`) paid in the browser by
//!   Razorpay Standard Checkout. The checkout script, not a hosted URL, takes
//!   the buyer through it, so [`CheckoutSession::redirect_url`] is empty and
//!   [`CheckoutSession::client_params`] carries what the script needs: `key`,
//!   `order_id`, `amount`, `currency`, `description`, `callback_url` (the
//!   success URL, for the redirect mode of the checkout), `notes.payment_id`
//!   (to be passed as the checkout's `notes` so that payment webhooks name
//!   Bursar's payment), and with a saved method `customer_id` and
//!   `recurring = 1`.
//! * [`Connector::complete_checkout`] checks the `razorpay_signature` the
//!   checkout returns (HMAC-SHA256 of `order_id|razorpay_payment_id` with the
//!   key secret, hex, compared in constant time) against the order *we*
//!   created, fetches the payment and captures it when it is only
//!   `authorized`. The saved method it returns names the Razorpay customer
//!   the token belongs to ([`MethodDetails::provider_customer`]).
//! * Off-session charges are recurring payments on a saved token: a new order
//!   with `payment_capture: true`, then `POST /v1/payments/create/recurring`
//!   with the customer's email and contact (read from the Razorpay customer;
//!   the contact falls back to [`CustomerInfo::phone`]), `customer_id`,
//!   `token` and `recurring: "1"`. Customers are created with the phone
//!   number as `contact`.
//! * Idempotency. Razorpay documents an idempotency header for refunds only
//!   (`X-Refund-Idempotency`, at least 10 characters of letters, digits, `-`
//!   and `_`; a different body under the same key is refused). For orders and
//!   payments this connector relies on the order's `receipt`, which is
//!   Bursar's payment id: before creating an order it looks one up by receipt
//!   (`GET /v1/orders?receipt=…`) and reuses it, and before creating a
//!   recurring payment it reads the order's payments
//!   (`GET /v1/orders/{id}/payments`) and reports an existing attempt instead
//!   of making a new one. Razorpay accepts at most one successful payment per
//!   order, which bounds the remaining race between two concurrent attempts.
//!   Receipts are at most 40 characters: longer payment ids are refused.
//! * Three-decimal currencies (KWD, BHD, OMR) must end in 0 at Razorpay;
//!   other amounts are refused rather than rounded. Amounts, receipts and ids
//!   Razorpay would not take, and checkout returns that do not verify, are
//!   refused before anything is sent ([`ProviderError::InvalidRequest`]).
//! * Errors: a connection that could not be opened, 429, 502, 503 and
//!   any failure of a request that moves no money (reads, orders, customers)
//!   are [`ProviderError::Unavailable`]; a 500 or 504 to a recurring payment, a
//!   capture or a refund, or a connection lost after one was sent, is
//!   [`ProviderError::Indeterminate`]: recover with [`Connector::retrieve`].
//! * Webhooks: `X-Razorpay-Signature` is the hex HMAC-SHA256 of the raw body
//!   with the webhook secret; `X-Razorpay-Event-Id` is the event id (the
//!   deduplication key). The signature covers no timestamp and Razorpay
//!   redelivers a failed event with its original body for up to 24 hours,
//!   so an authentic event is accepted whatever its `created_at`: replays
//!   are caught by the event id, which Bursar stores unique on receipt.
//!   [`Connector::parse_webhook`] maps a stored body the same way without
//!   these checks; as the body carries no event id, its event id is
//!   `sha256:` and the hex SHA-256 of the body.

use std::collections::BTreeMap;

use async_trait::async_trait;
use bursar_domain::money::Currency;
use hmac::{Hmac, Mac};
use reqwest::{Method, StatusCode};
use serde_json::{json, Map, Value};
use sha2::Sha256;

use crate::{
    server_error, transport_error, ChargeOutcome, ChargeRequest, CheckoutRequest, CheckoutSession, Connector,
    CustomerInfo, Effect, Headers, HttpSettings, MethodDetails, Money, PaymentStatus, ProviderError, ProviderKind,
    RefundOutcome, RefundRequest, WebhookError, WebhookEvent, WebhookKind,
};

const PROVIDER: &str = "razorpay";

mod connector;

/// Production (and test-mode) API host: test and live differ by key only.
pub const API_BASE: &str = "https://api.razorpay.com";
/// The longest `receipt` Razorpay accepts on an order.
pub const MAX_RECEIPT_LEN: usize = 40;
/// The `token.max_amount` asked for when a checkout saves a card for
/// recurring charges, unless the first amount is higher: the ceiling of one
/// later charge (₹15,000 in paise).
pub const DEFAULT_MANDATE_MAX_MINOR: i64 = 1_500_000;
/// How long a saved card mandate is asked to last.
const MANDATE_YEARS: i64 = 10;

type HmacSha256 = Hmac<Sha256>;

/// How to reach one Razorpay account.
#[derive(Debug, Clone)]
pub struct RazorpayConfig {
    pub key_id: String,
    pub key_secret: String,
    /// The secret set on the webhook in the dashboard.
    pub webhook_secret: String,
    /// [`API_BASE`] (or a local double), without a trailing slash.
    pub api_base: String,
    pub http: HttpSettings,
}

/// Minor units as Razorpay takes them: the ISO 4217 subunit, with
/// three-decimal currencies ending in 0. Refuses negative amounts,
/// currencies with more than three decimals and three-decimal amounts whose
/// last digit is not 0.
pub fn razorpay_amount(money: Money) -> Result<i64, ProviderError> {
    let code = money.currency();
    let exponent =
        Currency::from_code(code).map(Currency::exponent).map_err(|_| invalid(format!("unknown currency {code}")))?;
    if money.minor < 0 {
        return Err(invalid(format!("negative amount {} {code}", money.minor)));
    }
    match exponent {
        0..=2 => Ok(money.minor),
        3 if money.minor % 10 == 0 => Ok(money.minor),
        3 => Err(invalid(format!("{code} amounts must end in 0 at Razorpay; {} minor units does not", money.minor))),
        _ => Err(invalid(format!("Razorpay does not support {code}"))),
    }
}

/// The checkout's payment signature: hex HMAC-SHA256 of
/// `order_id|payment_id` keyed with the key secret.
pub fn checkout_signature(key_secret: &str, order_id: &str, payment_id: &str) -> String {
    let mut mac = HmacSha256::new_from_slice(key_secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(order_id.as_bytes());
    mac.update(b"|");
    mac.update(payment_id.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Whether `signature` is the checkout signature of the order and payment,
/// compared in constant time.
pub fn verify_checkout_signature(key_secret: &str, order_id: &str, payment_id: &str, signature: &str) -> bool {
    let Ok(given) = hex::decode(signature.trim()) else { return false };
    let mut mac = HmacSha256::new_from_slice(key_secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(order_id.as_bytes());
    mac.update(b"|");
    mac.update(payment_id.as_bytes());
    mac.verify_slice(&given).is_ok()
}

/// A request the connector refuses without asking Razorpay to act.
fn invalid(message: String) -> ProviderError {
    ProviderError::InvalidRequest { provider: PROVIDER, message }
}

fn protocol(detail: impl Into<String>) -> ProviderError {
    ProviderError::Protocol { provider: PROVIDER, detail: detail.into() }
}

/// Why a call failed: a [`ProviderError`] already, or a 4xx answer the
/// caller interprets.
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

    fn error(&self) -> Option<&Value> {
        match self {
            Failure::Api { body, .. } => Some(&body["error"]),
            Failure::Provider(_) => None,
        }
    }

    /// A failed payment attempt (the error names the payment it created):
    /// `(payment id, code, message)`.
    fn decline(&self) -> Option<(String, String, String)> {
        let error = self.error()?;
        let payment = error["metadata"]["payment_id"].as_str()?;
        let reason = error["reason"].as_str().unwrap_or("");
        let message = error["description"].as_str().unwrap_or("payment failed");
        Some((payment.to_owned(), decline_code(reason), message.to_owned()))
    }

    fn description_contains(&self, text: &str) -> bool {
        self.error().and_then(|e| e["description"].as_str()).is_some_and(|d| d.to_ascii_lowercase().contains(text))
    }
}

/// `code: description (field, reason)` from a Razorpay error body.
fn describe(body: &Value) -> String {
    let error = &body["error"];
    let code = error["code"].as_str().unwrap_or("ERROR");
    let description = error["description"].as_str().unwrap_or("");
    let extras: Vec<String> = ["field", "reason"]
        .iter()
        .filter_map(|k| error[*k].as_str().filter(|v| !v.is_empty() && *v != "NA").map(|v| format!("{k} {v}")))
        .collect();
    if extras.is_empty() {
        format!("{code}: {description}")
    } else {
        format!("{code}: {description} ({})", extras.join(", "))
    }
}

/// Razorpay's failure reason in Bursar's (Stripe's) decline vocabulary.
fn decline_code(reason: &str) -> String {
    let reason = reason.to_ascii_lowercase();
    let code = if reason.contains("insufficient") {
        "insufficient_funds"
    } else if reason.contains("expired") {
        "expired_card"
    } else if reason.contains("otp") || reason.contains("authentication") {
        "authentication_required"
    } else if reason.contains("cancel") {
        "canceled"
    } else {
        "card_declined"
    };
    code.to_owned()
}

/// The body of a successful answer; 401/403 are [`ProviderError::Auth`],
/// 429 and 5xx [`ProviderError::Unavailable`] (a 500 to a request that acts
/// [`ProviderError::Indeterminate`]), other 4xx a [`Failure::Api`].
fn classify(status: StatusCode, bytes: &[u8], effect: Effect) -> Result<Value, Failure> {
    let body = serde_json::from_slice::<Value>(bytes).ok();
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

/// Refuses ids that would change the request path.
fn path_segment(id: &str) -> Result<&str, ProviderError> {
    if !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        Ok(id)
    } else {
        Err(invalid(format!("malformed Razorpay id {id:?}")))
    }
}

fn receipt_for(payment_id: &str) -> Result<&str, ProviderError> {
    if payment_id.is_empty() || payment_id.len() > MAX_RECEIPT_LEN {
        Err(invalid(format!("payment id {payment_id:?} does not fit Razorpay's 40-character receipt")))
    } else {
        Ok(payment_id)
    }
}

/// A phone number as Razorpay's `contact`: without the spaces, hyphens, dots
/// and parentheses people write numbers with (Razorpay takes at most 15
/// characters, country code included).
fn contact_of(phone: &str) -> Option<String> {
    let contact: String = phone.trim().chars().filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')')).collect();
    (!contact.is_empty()).then_some(contact)
}

/// `X-Refund-Idempotency` for a refund: Bursar's key when it fits Razorpay's
/// alphabet, else a digest of it.
fn refund_idempotency_key(refund_id: &str) -> String {
    let key = crate::idempotency_key(refund_id, "refund");
    if key.len() >= 10 && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        key
    } else {
        use sha2::Digest as _;
        format!("bursar-{}", &hex::encode(Sha256::digest(key.as_bytes()))[..40])
    }
}

/// Notes: Bursar's ids first, then metadata, within Razorpay's 15 keys of
/// 256 characters.
fn notes(ours: &[(&str, &str)], metadata: &BTreeMap<String, String>) -> Value {
    let mut map = Map::new();
    for (k, v) in ours {
        map.insert((*k).to_owned(), Value::String(v.chars().take(256).collect()));
    }
    for (k, v) in metadata {
        if map.len() >= 15 {
            break;
        }
        if !map.contains_key(k) {
            map.insert(k.chars().take(256).collect(), Value::String(v.chars().take(256).collect()));
        }
    }
    Value::Object(map)
}

fn note<'a>(entity: &'a Value, key: &str) -> Option<&'a str> {
    entity["notes"].as_object().and_then(|n| n.get(key)).and_then(Value::as_str)
}

fn money_of(entity: &Value) -> Option<Money> {
    let currency = entity["currency"].as_str().filter(|c| c.len() == 3 && c.is_ascii())?;
    Some(Money::new(entity["amount"].as_i64()?, currency))
}

/// The token a payment saved, with the customer it belongs to: recurring
/// payments need both.
fn method_of(payment: &Value) -> Option<MethodDetails> {
    let token = payment["token_id"].as_str()?;
    let card = &payment["card"];
    Some(MethodDetails {
        token: token.to_owned(),
        brand: card["network"].as_str().map(str::to_owned),
        last4: card["last4"].as_str().map(str::to_owned),
        exp_month: card["expiry_month"].as_u64().and_then(|m| u8::try_from(m).ok()),
        exp_year: card["expiry_year"].as_u64().and_then(|y| u16::try_from(y).ok()),
        provider_customer: payment["customer_id"].as_str().map(str::to_owned),
    })
}

/// The payment that speaks for an order: a captured one, else authorized,
/// else still open, else the latest failed attempt.
fn best_payment(payments: &[Value]) -> Option<&Value> {
    let rank = |p: &&Value| match p["status"].as_str().unwrap_or("") {
        "captured" | "refunded" => 4,
        "authorized" => 3,
        "created" | "pending" => 2,
        _ => 1,
    };
    payments.iter().max_by_key(|p| (rank(p), p["created_at"].as_i64().unwrap_or(0)))
}

fn outcome_of(payment: &Value) -> Result<ChargeOutcome, ProviderError> {
    let id = payment["id"].as_str().ok_or_else(|| protocol("payment without id"))?.to_owned();
    Ok(match payment["status"].as_str().unwrap_or("") {
        "captured" | "refunded" => {
            ChargeOutcome::Succeeded { provider_payment_id: id, fee_minor: payment["fee"].as_i64() }
        }
        "authorized" | "created" | "pending" => ChargeOutcome::Processing { provider_payment_id: id },
        "failed" => ChargeOutcome::Declined {
            provider_payment_id: Some(id),
            code: decline_code(payment["error_reason"].as_str().unwrap_or("")),
            message: payment["error_description"].as_str().unwrap_or("payment failed").to_owned(),
        },
        other => return Err(protocol(format!("unknown payment status {other:?}"))),
    })
}

fn status_of(payment: &Value) -> Result<PaymentStatus, ProviderError> {
    let id = payment["id"].as_str().ok_or_else(|| protocol("payment without id"))?.to_owned();
    Ok(match payment["status"].as_str().unwrap_or("") {
        "captured" | "refunded" => PaymentStatus::Succeeded {
            amount: money_of(payment).ok_or_else(|| protocol("payment amount"))?,
            provider_payment_id: id,
        },
        "authorized" | "created" | "pending" => PaymentStatus::Pending { provider_payment_id: id },
        "failed" => PaymentStatus::Failed {
            code: decline_code(payment["error_reason"].as_str().unwrap_or("")),
            provider_payment_id: id,
        },
        other => return Err(protocol(format!("unknown payment status {other:?}"))),
    })
}

fn header<'a>(headers: &'a Headers, name: &str) -> Option<&'a str> {
    headers.get(name).map(String::as_str).map(str::trim).filter(|v| !v.is_empty())
}

/// The connector.
pub struct RazorpayConnector {
    config: RazorpayConfig,
    http: reqwest::Client,
}

impl RazorpayConnector {
    pub fn new(config: RazorpayConfig) -> Result<RazorpayConnector, ProviderError> {
        let http = reqwest::Client::builder()
            .timeout(config.http.timeout)
            .connect_timeout(config.http.connect_timeout)
            .build()
            .map_err(|e| protocol(format!("HTTP client: {e}")))?;
        Ok(RazorpayConnector { config, http })
    }

    /// One API call. `effect` is [`Effect::Acts`] for payments, captures
    /// and refunds, whose outcome is unknown after a 500 or a connection
    /// lost once the request was sent.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        extra_header: Option<(&str, &str)>,
        effect: Effect,
    ) -> Result<Value, Failure> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.config.api_base.trim_end_matches('/')))
            .basic_auth(&self.config.key_id, Some(&self.config.key_secret))
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some((name, value)) = extra_header {
            req = req.header(name, value);
        }
        if let Some(body) = body {
            req = req.header(reqwest::header::CONTENT_TYPE, "application/json").body(body.to_string());
        }
        let resp = req.send().await.map_err(|e| transport_error(PROVIDER, &e, effect))?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| transport_error(PROVIDER, &e, effect))?;
        classify(status, &bytes, effect)
    }

    async fn get(&self, path: &str) -> Result<Value, ProviderError> {
        self.call(Method::GET, path, None, None, Effect::Inert).await.map_err(Failure::into_error)
    }

    async fn fetch_payment(&self, payment_id: &str) -> Result<Value, ProviderError> {
        self.get(&format!("/v1/payments/{}", path_segment(payment_id)?)).await
    }

    async fn orders_by_receipt(&self, receipt: &str) -> Result<Vec<Value>, ProviderError> {
        let query = form_urlencoded::Serializer::new(String::new()).append_pair("receipt", receipt).finish();
        let list = self.get(&format!("/v1/orders?{query}")).await?;
        let items = list["items"].as_array().ok_or_else(|| protocol("order list without items"))?;
        Ok(items.iter().filter(|o| o["receipt"] == receipt).cloned().collect())
    }

    async fn payments_of_order(&self, order_id: &str) -> Result<Vec<Value>, ProviderError> {
        let list = self.get(&format!("/v1/orders/{}/payments", path_segment(order_id)?)).await?;
        list["items"].as_array().cloned().ok_or_else(|| protocol("payment list without items"))
    }

    /// The order for `receipt` with this amount, created unless one exists.
    async fn order_for(&self, receipt: &str, amount: i64, currency: &str, body: Value) -> Result<Value, ProviderError> {
        let existing = self.orders_by_receipt(receipt).await?;
        if let Some(order) = existing.iter().find(|o| o["amount"] == amount && o["currency"] == currency) {
            return Ok(order.clone());
        }
        if !existing.is_empty() {
            return Err(invalid(format!(
                "an order with receipt {receipt} exists for a different amount; a payment id names one amount"
            )));
        }
        self.call(Method::POST, "/v1/orders", Some(&body), None, Effect::Inert).await.map_err(Failure::into_error)
    }

    /// Captures an `authorized` payment; one captured meanwhile is read back.
    async fn capture(&self, payment: Value) -> Result<Value, ProviderError> {
        if payment["status"] != "authorized" {
            return Ok(payment);
        }
        let id = payment["id"].as_str().ok_or_else(|| protocol("payment without id"))?;
        let body = json!({ "amount": payment["amount"], "currency": payment["currency"] });
        let path = format!("/v1/payments/{}/capture", path_segment(id)?);
        match self.call(Method::POST, &path, Some(&body), None, Effect::Acts).await {
            Ok(captured) => Ok(captured),
            Err(f) if f.description_contains("already been captured") => self.fetch_payment(id).await,
            Err(f) => Err(f.into_error()),
        }
    }

    /// The payment that speaks for an order id, or for a payment id itself.
    async fn resolve_payment(&self, id: &str) -> Result<Option<Value>, ProviderError> {
        if id.starts_with("order_") {
            let payments = self.payments_of_order(id).await?;
            Ok(best_payment(&payments).cloned())
        } else {
            match self
                .call(Method::GET, &format!("/v1/payments/{}", path_segment(id)?), None, None, Effect::Inert)
                .await
            {
                Ok(p) => Ok(Some(p)),
                Err(Failure::Api { status: 400 | 404, .. }) => Ok(None),
                Err(f) => Err(f.into_error()),
            }
        }
    }

    /// The event a webhook body (read by [`read_event`]) describes, under
    /// `event_id`. Shared by [`Connector::verify_webhook`] and
    /// [`Connector::parse_webhook`].
    fn event_of(&self, event: &Value, created_at: i64, event_id: String) -> Result<WebhookEvent, WebhookError> {
        let created = jiff::Timestamp::from_second(created_at)
            .map_err(|e| WebhookError::BadPayload(format!("created_at: {e}")))?;
        let event_type =
            event["event"].as_str().ok_or_else(|| WebhookError::BadPayload("event without name".into()))?;
        let kind = self.map_event(event)?;
        Ok(WebhookEvent { event_id, event_type: event_type.to_owned(), created, kind })
    }

    fn map_event(&self, event: &Value) -> Result<WebhookKind, WebhookError> {
        let name = event["event"].as_str().unwrap_or("");
        let payload = &event["payload"];
        let bad = |what: &str| WebhookError::BadPayload(format!("{name}: {what}"));
        let payment = &payload["payment"]["entity"];
        Ok(match name {
            "payment.captured" | "order.paid" => {
                let order = &payload["order"]["entity"];
                let payment_id = note(payment, "payment_id")
                    .or_else(|| note(order, "payment_id"))
                    .or_else(|| order["receipt"].as_str())
                    .map(str::to_owned);
                WebhookKind::PaymentSucceeded {
                    payment_id,
                    provider_payment_id: payment["id"].as_str().ok_or_else(|| bad("payment.entity.id"))?.to_owned(),
                    amount: money_of(payment).ok_or_else(|| bad("payment amount"))?,
                    method: method_of(payment),
                    provider_customer: payment["customer_id"].as_str().map(str::to_owned),
                }
            }
            "payment.failed" => WebhookKind::PaymentFailed {
                payment_id: note(payment, "payment_id").map(str::to_owned),
                provider_payment_id: payment["id"].as_str().ok_or_else(|| bad("payment.entity.id"))?.to_owned(),
                code: decline_code(payment["error_reason"].as_str().unwrap_or("")),
                message: payment["error_description"].as_str().unwrap_or("payment failed").to_owned(),
            },
            "refund.processed" => {
                let refund = &payload["refund"]["entity"];
                WebhookKind::RefundSucceeded {
                    refund_id: note(refund, "refund_id").or_else(|| refund["receipt"].as_str()).map(str::to_owned),
                    provider_payment_id: refund["payment_id"]
                        .as_str()
                        .ok_or_else(|| bad("refund.entity.payment_id"))?
                        .to_owned(),
                    provider_refund_id: refund["id"].as_str().ok_or_else(|| bad("refund.entity.id"))?.to_owned(),
                    amount: money_of(refund).ok_or_else(|| bad("refund amount"))?,
                }
            }
            "payment.dispute.created" => {
                let dispute = &payload["dispute"]["entity"];
                WebhookKind::DisputeOpened {
                    provider_payment_id: dispute["payment_id"]
                        .as_str()
                        .ok_or_else(|| bad("dispute.entity.payment_id"))?
                        .to_owned(),
                    amount: money_of(dispute).ok_or_else(|| bad("dispute amount"))?,
                    reason: dispute["reason_code"]
                        .as_str()
                        .or_else(|| dispute["reason_description"].as_str())
                        .unwrap_or("unknown")
                        .to_owned(),
                }
            }
            _ => WebhookKind::Other,
        })
    }
}

/// A webhook body as JSON, with its `created_at` (Unix seconds); anything
/// else is [`WebhookError::BadPayload`].
fn read_event(body: &[u8]) -> Result<(Value, i64), WebhookError> {
    let event: Value = serde_json::from_slice(body).map_err(|e| WebhookError::BadPayload(e.to_string()))?;
    let created_at =
        event["created_at"].as_i64().ok_or_else(|| WebhookError::BadPayload("event without created_at".into()))?;
    Ok((event, created_at))
}

/// The event id of a body replayed without its delivery headers:
/// `sha256:` and the lower-case hex SHA-256 of the body.
fn body_event_id(body: &[u8]) -> String {
    use sha2::Digest;
    format!("sha256:{}", hex::encode(Sha256::digest(body)))
}
