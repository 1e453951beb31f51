//! Mercado Pago: REST API with a bearer access token and JSON bodies whose
//! amounts are decimal numbers in the currency's unit (`"unit_price": 10.5`).
//!
//! * A first payment is a Checkout Pro preference (`POST
//!   /checkout/preferences`): one item with the whole amount, `back_urls`
//!   (success and pending go to the success URL, failure to the cancel URL)
//!   with `auto_return: "approved"`, `external_reference` = Bursar's payment
//!   id (at most 256 characters), Bursar's ids in `metadata`, and the
//!   configured `notification_url`. The buyer pays on the preference's
//!   `init_point`; [`CheckoutSession::provider_ref`] is the preference id.
//! * [`Connector::complete_checkout`] never trusts the parameters Mercado Pago
//!   appends to the back URL (`payment_id`, `status`, `external_reference`,
//!   …): it reads the preference's `external_reference`, then the payment
//!   (`GET /v1/payments/{id}`, or a search by `external_reference` when the
//!   return named none), and refuses a payment of another reference.
//! * Status and recovery: `GET /v1/payments/{id}`, and `GET
//!   /v1/payments/search?external_reference=…` when only Bursar's id is
//!   known. The payment that speaks for a reference is an approved one
//!   (or refunded, charged back), else one still open (`pending`,
//!   `in_process`, `authorized`, `in_mediation`), else the latest
//!   `rejected` or `cancelled` attempt.
//! * Refunds, full and partial: `POST /v1/payments/{id}/refunds` with the
//!   amount. Refund statuses: `approved` succeeded, `in_process` and
//!   `pending` pending, anything else failed; a `400` (more than what is left,
//!   a payment that cannot be refunded) is a failed refund, not a bug.
//! * Renewals: not offered. Mercado Pago keeps no card for the merchant in
//!   Checkout Pro, and a card saved through the customers and cards API can
//!   only be charged with a fresh card token, which needs the buyer's
//!   security code ("se requiere una nueva captura del código de seguridad").
//!   Charging without it ("Pagos automáticos") needs an application that
//!   Mercado Pago enabled on request and a first payment through its card
//!   form (Checkout API / Bricks), neither of which Bursar uses. So
//!   [`Connector::off_session_charges`] is `false`, [`Connector::charge`]
//!   answers [`ProviderError::Unsupported`], and renewals are collected with
//!   a new checkout.
//! * Idempotency: every write carries `X-Idempotency-Key` derived from
//!   Bursar's ids ([`crate::idempotency_key`]): `…-checkout` for the
//!   preference, `…-refund` for a refund, `…-customer` for a customer.
//! * Amounts are sent with the decimals Mercado Pago takes for the currency:
//!   ISO 4217's, except COP, HNL and NIO, which Mercado Pago takes whole
//!   (its `/currencies` list gives them 0 decimals); CLP and PYG are whole in
//!   ISO 4217 already. An amount the currency cannot express there is
//!   refused before anything is sent ([`ProviderError::InvalidRequest`]).
//!   Amounts go on the wire as the exact decimal text, never through a
//!   binary float.
//! * Errors: a connection that could not be opened, 429, 502, 503 and any
//!   failure of a request that moves no money (reads, preferences,
//!   customers) are [`ProviderError::Unavailable`]; a 500 or 504 to a refund,
//!   or a connection lost after one was sent, is
//!   [`ProviderError::Indeterminate`]: retry under the same key.
//! * Webhooks: the `x-signature` header (`ts=…,v1=…`) is the hex
//!   HMAC-SHA256, keyed with the webhook secret, of the manifest
//!   `id:<data.id>;request-id:<x-request-id>;ts:<ts>;`, where `data.id` is
//!   lower-cased and a part whose value the notification lacks is left out.
//!   `data.id` is read from the body, which carries the same id as the
//!   `data.id` query parameter of the notification URL. Mercado Pago
//!   documents no tolerance for `ts`; [`MercadoPagoConfig::webhook_tolerance`]
//!   adds one when set. A notification names a payment and no state, so
//!   once its signature is verified the connector fetches the payment
//!   (`GET /v1/payments/{data.id}`) and maps what the API answers; a failed
//!   fetch is [`WebhookError::Verification`], and Mercado Pago delivers the
//!   notification again. The event id is the notification's `id`.
//!
//! Sources (wire formats, field names, statuses):
//! <https://www.mercadopago.com.co/developers/en/reference/preferences/resource>
//! and <https://www.mercadopago.cl/developers/en/reference/preferences/_checkout_preferences/post/>
//! (preferences), <https://www.mercadopago.com.ar/developers/es/reference/online-payments/checkout-api-payments/create-payment/post.md>
//! (`X-Idempotency-Key`), <https://www.mercadopago.com.mx/developers/en/reference/payments/_payments_id/get>
//! (payment statuses), <https://www.mercadopago.com.ar/developers/en/docs/checkout-api/response-handling/collection-results>
//! (`status_detail` codes), <https://mercadopago.com.br/developers/en/docs/order/online-payments/notifications>
//! and <https://www.mercadopago.com.mx/developers/es/news/2024/02/27/Ensure-the-validity-of-notifications-sent-by-Mercado-Pago>
//! (`x-signature`; the manifest template `id:[data.id_url];request-id:[x-request-id_header];ts:[ts_header];`),
//! <https://mercadopago.com.mx/developers/es/docs/checkout-api/cards-and-customers-management/receive-payments-with-saved-cards>,
//! <https://www.mercadopago.com.mx/developers/es/docs/automatic-payments/prerequisites>
//! and <https://www.mercadopago.com.mx/developers/en/docs/automatic-payments/recurring-charges>
//! (saved cards and payments without the security code), and
//! <https://api.mercadopago.com/currencies> (decimals per currency). The
//! payment search (`/v1/payments/search`), refund
//! (`/v1/payments/{id}/refunds`) and customer endpoints follow Mercado
//! Pago's API reference for those resources.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use bursar_domain::money::Currency;
use hmac::{Hmac, Mac};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};
use sha2::Sha256;

use crate::{
    idempotency_key, server_error, transport_error, ChargeOutcome, ChargeRequest, CheckoutRequest, CheckoutSession,
    Connector, CustomerInfo, Effect, Headers, HttpSettings, MethodDetails, Money, PaymentStatus, ProviderError,
    ProviderKind, RefundOutcome, RefundRequest, WebhookError, WebhookEvent, WebhookKind,
};

const PROVIDER: &str = "mercadopago";

mod connector;

type HmacSha256 = Hmac<Sha256>;

/// The API host, for test and production credentials alike.
pub const API_BASE: &str = "https://api.mercadopago.com";
/// The longest `external_reference` Mercado Pago takes.
pub const MAX_EXTERNAL_REFERENCE_LEN: usize = 256;

/// The currencies of Mercado Pago's `/currencies` list that Bursar can hold.
pub const SUPPORTED_CURRENCIES: &[&str] = &[
    "ARS", "BOB", "BRL", "CLP", "COP", "CRC", "DOP", "EUR", "GTQ", "HNL", "MXN", "NIO", "PAB", "PEN", "PYG", "USD",
    "UYU", "VES",
];

/// Currencies whose decimals at Mercado Pago differ from ISO 4217.
const DECIMAL_EXCEPTIONS: &[(&str, u32)] = &[("COP", 0), ("HNL", 0), ("NIO", 0)];

/// How to reach one Mercado Pago application.
#[derive(Clone)]
pub struct MercadoPagoConfig {
    /// `APP_USR-…` (or a test user's access token).
    pub access_token: String,
    /// The secret shown for the application's webhooks ("Your integrations").
    pub webhook_secret: String,
    /// [`API_BASE`] (or a local double), without a trailing slash.
    pub api_base: String,
    /// Sent as each preference's `notification_url`; `None` uses the URL
    /// configured for the application.
    pub notification_url: Option<String>,
    pub http: HttpSettings,
    /// When set, notifications whose `ts` is further than this from Bursar's
    /// clock are refused as stale. Mercado Pago documents no tolerance, and
    /// the state applied always comes from the API, so `None` is the default.
    pub webhook_tolerance: Option<Duration>,
}

impl fmt::Debug for MercadoPagoConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MercadoPagoConfig")
            .field("access_token", &"…")
            .field("webhook_secret", &"…")
            .field("api_base", &self.api_base)
            .field("notification_url", &self.notification_url)
            .field("http", &self.http)
            .field("webhook_tolerance", &self.webhook_tolerance)
            .finish()
    }
}

impl MercadoPagoConfig {
    /// A configuration for the production API with the default timeouts.
    pub fn new(access_token: impl Into<String>, webhook_secret: impl Into<String>) -> MercadoPagoConfig {
        MercadoPagoConfig {
            access_token: access_token.into(),
            webhook_secret: webhook_secret.into(),
            api_base: API_BASE.into(),
            notification_url: None,
            http: HttpSettings::default(),
            webhook_tolerance: None,
        }
    }
}

fn invalid(message: String) -> ProviderError {
    ProviderError::InvalidRequest { provider: PROVIDER, message }
}

fn protocol(detail: impl Into<String>) -> ProviderError {
    ProviderError::Protocol { provider: PROVIDER, detail: detail.into() }
}

fn iso_exponent(code: &str) -> Option<u32> {
    Currency::from_code(code).ok().map(|c| u32::from(c.exponent()))
}

/// The decimals Mercado Pago takes for `currency`, or
/// [`ProviderError::InvalidRequest`] for a currency it does not take.
pub fn mercadopago_decimals(currency: &str) -> Result<u32, ProviderError> {
    if !SUPPORTED_CURRENCIES.contains(&currency) {
        return Err(invalid(format!("Mercado Pago does not support the currency {currency}")));
    }
    if let Some(&(_, d)) = DECIMAL_EXCEPTIONS.iter().find(|(c, _)| *c == currency) {
        return Ok(d);
    }
    iso_exponent(currency).ok_or_else(|| invalid(format!("unknown currency {currency}")))
}

/// The decimal text of a positive amount as Mercado Pago takes it
/// (`"10.50"`, CLP `"5000"`, COP `"50000"`), or
/// [`ProviderError::InvalidRequest`] when the currency is not taken, the
/// amount is not positive, or it has a fraction Mercado Pago cannot express
/// (COP amounts are whole pesos there).
pub fn mercadopago_amount(money: Money) -> Result<String, ProviderError> {
    let code = money.currency();
    let decimals = mercadopago_decimals(code)?;
    let iso = iso_exponent(code).ok_or_else(|| invalid(format!("unknown currency {code}")))?;
    if money.minor <= 0 {
        return Err(invalid(format!("Mercado Pago takes positive amounts only, not {} {code}", money.minor)));
    }
    let units = if decimals < iso {
        let factor = 10_i64.pow(iso - decimals);
        if money.minor % factor != 0 {
            return Err(invalid(format!(
                "{code} amounts must be whole at Mercado Pago; {} minor units is not",
                money.minor
            )));
        }
        money.minor / factor
    } else {
        money.minor.checked_mul(10_i64.pow(decimals - iso)).ok_or_else(|| invalid("amount too large".into()))?
    };
    if decimals == 0 {
        return Ok(units.to_string());
    }
    let scale = 10_i64.pow(decimals);
    Ok(format!("{}.{:0width$}", units / scale, units % scale, width = decimals as usize))
}

/// Parses a decimal amount (`"10.5"`, `"5000"`, `"5000.0"`) of `currency`
/// into ISO 4217 minor units. `None` for anything else: a sign, an exponent,
/// more decimals than the currency has, an overflow.
pub fn parse_mercadopago_amount(text: &str, currency: &str) -> Option<Money> {
    if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
        return None;
    }
    let iso = iso_exponent(currency)?;
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
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

/// An amount field of a Mercado Pago answer (a JSON number, or a string)
/// in minor units. The number's shortest decimal text is parsed, so no
/// binary float arithmetic touches the amount.
fn amount_of(v: &Value, currency: &str) -> Option<Money> {
    match v {
        Value::Number(n) => parse_mercadopago_amount(&n.to_string(), currency),
        Value::String(s) => parse_mercadopago_amount(s, currency),
        _ => None,
    }
}

fn currency_of(v: &Value) -> Option<&str> {
    v["currency_id"].as_str().filter(|c| c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase()))
}

/// The `transaction_amount` of a payment.
fn payment_money(payment: &Value) -> Option<Money> {
    amount_of(&payment["transaction_amount"], currency_of(payment)?)
}

/// A decimal text as a JSON number token, written as is.
fn number(text: String) -> Result<Box<RawValue>, ProviderError> {
    RawValue::from_string(text).map_err(|e| protocol(format!("amount as JSON: {e}")))
}

/// The signed manifest of a notification:
/// `id:<data.id>;request-id:<x-request-id>;ts:<ts>;`, with `data.id`
/// lower-cased and each absent part left out.
pub fn webhook_manifest(data_id: Option<&str>, request_id: Option<&str>, ts: Option<&str>) -> String {
    let mut manifest = String::new();
    if let Some(id) = data_id.filter(|v| !v.is_empty()) {
        manifest.push_str(&format!("id:{};", id.to_ascii_lowercase()));
    }
    if let Some(rid) = request_id.filter(|v| !v.is_empty()) {
        manifest.push_str(&format!("request-id:{rid};"));
    }
    if let Some(ts) = ts.filter(|v| !v.is_empty()) {
        manifest.push_str(&format!("ts:{ts};"));
    }
    manifest
}

/// The hex HMAC-SHA256 of `manifest` keyed with the webhook secret: the
/// `v1` of an `x-signature` header.
pub fn sign_manifest(secret: &str, manifest: &str) -> String {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(manifest.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// `ts` and `v1` of an `x-signature` header (`ts=…,v1=…`, parts in any
/// order, spaces allowed around them).
fn parse_signature_header(header: &str) -> Result<(String, Vec<u8>), WebhookError> {
    let mut ts = None;
    let mut v1 = None;
    for part in header.split(',') {
        let Some((k, v)) = part.split_once('=') else { continue };
        match k.trim() {
            "ts" => ts = Some(v.trim().to_owned()),
            "v1" => v1 = Some(v.trim().to_owned()),
            _ => {}
        }
    }
    let (Some(ts), Some(v1)) = (ts, v1) else { return Err(WebhookError::MalformedSignature) };
    if ts.is_empty() || !ts.bytes().all(|b| b.is_ascii_digit()) || v1.len() != 64 {
        return Err(WebhookError::MalformedSignature);
    }
    let v1 = hex::decode(v1).map_err(|_| WebhookError::MalformedSignature)?;
    Ok((ts, v1))
}

/// Verifies an `x-signature` header against the notification's `data.id`
/// and `x-request-id`, in constant time. Returns the signed `ts`.
pub fn verify_signature(
    secret: &str,
    signature_header: &str,
    data_id: Option<&str>,
    request_id: Option<&str>,
) -> Result<String, WebhookError> {
    let (ts, given) = parse_signature_header(signature_header)?;
    let manifest = webhook_manifest(data_id, request_id, Some(&ts));
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(manifest.as_bytes());
    mac.verify_slice(&given).map_err(|_| WebhookError::BadSignature)?;
    Ok(ts)
}

/// A `ts` in seconds: Mercado Pago sends milliseconds; ten digits or fewer
/// are read as seconds.
fn ts_seconds(ts: &str) -> Option<i64> {
    let n: i64 = ts.parse().ok()?;
    Some(if ts.len() > 10 { n / 1000 } else { n })
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
}

/// `error: message (cause codes)` from a Mercado Pago error body.
fn describe(body: &Value) -> String {
    let error = body["error"].as_str().unwrap_or("error");
    let message = body["message"].as_str().unwrap_or("");
    let causes: Vec<String> = body["cause"]
        .as_array()
        .map(|c| {
            c.iter()
                .filter_map(|c| {
                    let code = match &c["code"] {
                        Value::Number(n) => n.to_string(),
                        Value::String(s) => s.clone(),
                        _ => return None,
                    };
                    Some(format!("{code} {}", c["description"].as_str().unwrap_or("")).trim().to_owned())
                })
                .collect()
        })
        .unwrap_or_default();
    if causes.is_empty() {
        format!("{error}: {message}")
    } else {
        format!("{error}: {message} ({})", causes.join("; "))
    }
}

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

/// A payment id: Mercado Pago's are numbers.
fn is_payment_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 20 && id.bytes().all(|b| b.is_ascii_digit())
}

/// A preference id (`<collector>-<uuid>`): refuses anything that would
/// change the request path.
fn preference_segment(id: &str) -> Result<&str, ProviderError> {
    if !id.is_empty() && id.len() <= 100 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        Ok(id)
    } else {
        Err(invalid(format!("malformed Mercado Pago preference id {id:?}")))
    }
}

fn id_text(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) => n.as_u64().map(|n| n.to_string()),
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

fn payment_id_of(payment: &Value) -> Result<String, ProviderError> {
    id_text(&payment["id"]).ok_or_else(|| protocol("payment without id"))
}

/// Mercado Pago's `status_detail` in Bursar's (Stripe's) decline vocabulary.
fn decline_code(status: &str, detail: &str) -> String {
    let code = match detail {
        "cc_rejected_insufficient_amount" => "insufficient_funds",
        "cc_rejected_bad_filled_date" => "expired_card",
        "cc_rejected_bad_filled_security_code" => "incorrect_cvc",
        "cc_rejected_bad_filled_card_number" => "incorrect_number",
        "cc_rejected_call_for_authorize" => "call_issuer",
        "cc_rejected_high_risk" | "cc_rejected_blacklist" => "fraudulent",
        "cc_rejected_duplicated_payment" => "duplicate_transaction",
        "cc_rejected_max_attempts" => "card_velocity_exceeded",
        "cc_rejected_invalid_installments" => "invalid_request",
        _ if status == "cancelled" => "canceled",
        _ => "card_declined",
    };
    code.to_owned()
}

fn decline_message(payment: &Value) -> String {
    let status = payment["status"].as_str().unwrap_or("");
    match payment["status_detail"].as_str() {
        Some(detail) if !detail.is_empty() => format!("{status}: {detail}"),
        _ => status.to_owned(),
    }
}

/// The fee Mercado Pago charged the collector, in minor units.
fn fee_minor(payment: &Value) -> Option<i64> {
    let currency = currency_of(payment)?;
    let fees = payment["fee_details"].as_array()?;
    let mut total = 0_i64;
    for fee in fees {
        if fee["fee_payer"].as_str().is_some_and(|p| p != "collector") {
            continue;
        }
        total = total.checked_add(amount_of(&fee["amount"], currency)?.minor)?;
    }
    Some(total)
}

fn rank(payment: &Value) -> u8 {
    match payment["status"].as_str().unwrap_or("") {
        "approved" | "refunded" | "charged_back" => 3,
        "pending" | "in_process" | "authorized" | "in_mediation" => 2,
        _ => 1,
    }
}

/// The payment that speaks for a reference: an approved one, else one still
/// open, else the latest failed attempt.
fn best_payment(payments: &[Value]) -> Option<&Value> {
    let created = |p: &Value| p["date_created"].as_str().and_then(|t| t.parse::<jiff::Timestamp>().ok());
    payments.iter().max_by(|a, b| (rank(a), created(a)).cmp(&(rank(b), created(b))))
}

fn outcome_of(payment: &Value) -> Result<ChargeOutcome, ProviderError> {
    let id = payment_id_of(payment)?;
    let status = payment["status"].as_str().unwrap_or("");
    Ok(match status {
        "approved" | "refunded" | "charged_back" => {
            ChargeOutcome::Succeeded { provider_payment_id: id, fee_minor: fee_minor(payment) }
        }
        "pending" | "in_process" | "authorized" | "in_mediation" => {
            ChargeOutcome::Processing { provider_payment_id: id }
        }
        "rejected" | "cancelled" => ChargeOutcome::Declined {
            provider_payment_id: Some(id),
            code: decline_code(status, payment["status_detail"].as_str().unwrap_or("")),
            message: decline_message(payment),
        },
        other => return Err(protocol(format!("unknown payment status {other:?}"))),
    })
}

fn status_of(payment: &Value) -> Result<PaymentStatus, ProviderError> {
    let id = payment_id_of(payment)?;
    let status = payment["status"].as_str().unwrap_or("");
    Ok(match status {
        "approved" | "refunded" | "charged_back" => PaymentStatus::Succeeded {
            amount: payment_money(payment).ok_or_else(|| protocol("payment amount"))?,
            provider_payment_id: id,
        },
        "pending" | "in_process" | "authorized" | "in_mediation" => PaymentStatus::Pending { provider_payment_id: id },
        "rejected" => PaymentStatus::Failed {
            code: decline_code(status, payment["status_detail"].as_str().unwrap_or("")),
            provider_payment_id: id,
        },
        "cancelled" => PaymentStatus::Canceled { provider_payment_id: id },
        other => return Err(protocol(format!("unknown payment status {other:?}"))),
    })
}

fn header<'a>(headers: &'a Headers, name: &str) -> Option<&'a str> {
    headers.get(name).map(String::as_str).map(str::trim).filter(|v| !v.is_empty())
}

#[derive(Serialize)]
struct PreferenceItem<'a> {
    id: &'a str,
    title: String,
    quantity: u32,
    currency_id: &'a str,
    unit_price: Box<RawValue>,
}

#[derive(Serialize)]
struct BackUrls<'a> {
    success: &'a str,
    pending: &'a str,
    failure: &'a str,
}

#[derive(Serialize)]
struct PreferenceBody<'a> {
    items: Vec<PreferenceItem<'a>>,
    #[serde(skip_serializing_if = "Map::is_empty")]
    payer: Map<String, Value>,
    back_urls: BackUrls<'a>,
    auto_return: &'static str,
    external_reference: &'a str,
    metadata: Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    notification_url: Option<&'a str>,
}

#[derive(Serialize)]
struct RefundBody {
    amount: Box<RawValue>,
}

/// A notification body as JSON, with the id of the resource it names.
struct Notification {
    body: Value,
    data_id: Option<String>,
}

fn read_notification(body: &[u8]) -> Result<Notification, WebhookError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| WebhookError::BadPayload(e.to_string()))?;
    if !value.is_object() {
        return Err(WebhookError::BadPayload("the notification is not a JSON object".into()));
    }
    let data_id = id_text(&value["data"]["id"]);
    Ok(Notification { body: value, data_id })
}

/// The connector.
pub struct MercadoPagoConnector {
    config: MercadoPagoConfig,
    http: reqwest::Client,
}

impl MercadoPagoConnector {
    pub fn new(config: MercadoPagoConfig) -> Result<MercadoPagoConnector, ProviderError> {
        let http = reqwest::Client::builder()
            .timeout(config.http.timeout)
            .connect_timeout(config.http.connect_timeout)
            .build()
            .map_err(|e| protocol(format!("HTTP client: {e}")))?;
        Ok(MercadoPagoConnector { config, http })
    }

    /// One API call; a write carries `X-Idempotency-Key`.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<String>,
        idempotency: Option<&str>,
        effect: Effect,
    ) -> Result<Value, Failure> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.config.api_base.trim_end_matches('/')))
            .bearer_auth(&self.config.access_token)
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(key) = idempotency {
            req = req.header("X-Idempotency-Key", key);
        }
        if let Some(body) = body {
            req = req.header(reqwest::header::CONTENT_TYPE, "application/json").body(body);
        }
        let resp = req.send().await.map_err(|e| transport_error(PROVIDER, &e, effect))?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| transport_error(PROVIDER, &e, effect))?;
        classify(status, &bytes, effect)
    }

    async fn get(&self, path: &str) -> Result<Value, ProviderError> {
        self.call(Method::GET, path, None, None, Effect::Inert).await.map_err(Failure::into_error)
    }

    /// A payment by id; `None` when Mercado Pago knows none.
    async fn payment(&self, id: &str) -> Result<Option<Value>, ProviderError> {
        if !is_payment_id(id) {
            return Err(invalid(format!("malformed Mercado Pago payment id {id:?}")));
        }
        match self.call(Method::GET, &format!("/v1/payments/{id}"), None, None, Effect::Inert).await {
            Ok(p) => Ok(Some(p)),
            Err(Failure::Api { status: 404, .. }) => Ok(None),
            Err(f) => Err(f.into_error()),
        }
    }

    /// The payments whose `external_reference` is `reference`, newest first.
    async fn payments_of(&self, reference: &str) -> Result<Vec<Value>, ProviderError> {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("external_reference", reference)
            .append_pair("sort", "date_created")
            .append_pair("criteria", "desc")
            .append_pair("limit", "50")
            .finish();
        let list = self.get(&format!("/v1/payments/search?{query}")).await?;
        let results = list["results"].as_array().ok_or_else(|| protocol("payment search without results"))?;
        Ok(results.iter().filter(|p| p["external_reference"] == reference).cloned().collect())
    }

    async fn preference(&self, id: &str) -> Result<Value, ProviderError> {
        self.get(&format!("/checkout/preferences/{}", preference_segment(id)?)).await
    }

    /// The payment a refund is for: the id itself, or the payment that
    /// speaks for a preference.
    async fn resolve_payment(&self, id: &str) -> Result<Option<Value>, ProviderError> {
        if is_payment_id(id) {
            return self.payment(id).await;
        }
        let preference = self.preference(id).await?;
        let reference =
            preference["external_reference"].as_str().ok_or_else(|| protocol("preference without reference"))?;
        Ok(best_payment(&self.payments_of(reference).await?).cloned())
    }

    /// What a fetched payment means to Bursar, for a notification.
    fn kind_of(payment: &Value) -> Result<WebhookKind, WebhookError> {
        let bad = |what: &str| WebhookError::Verification(format!("the payment answer lacks {what}"));
        let id = id_text(&payment["id"]).ok_or_else(|| bad("id"))?;
        let payment_id = payment["external_reference"].as_str().filter(|r| !r.is_empty()).map(str::to_owned);
        let status = payment["status"].as_str().unwrap_or("");
        let detail = payment["status_detail"].as_str().unwrap_or("");
        let refunds = payment["refunds"].as_array().map(Vec::as_slice).unwrap_or_default();
        if status == "refunded" || detail == "partially_refunded" {
            let currency = currency_of(payment).ok_or_else(|| bad("currency_id"))?;
            let refund = refunds
                .iter()
                .max_by_key(|r| r["date_created"].as_str().and_then(|t| t.parse::<jiff::Timestamp>().ok()));
            if let Some(refund) = refund {
                return Ok(WebhookKind::RefundSucceeded {
                    refund_id: None,
                    provider_payment_id: id,
                    provider_refund_id: id_text(&refund["id"]).ok_or_else(|| bad("refunds[].id"))?,
                    amount: amount_of(&refund["amount"], currency).ok_or_else(|| bad("refunds[].amount"))?,
                });
            }
        }
        Ok(match status {
            "approved" => WebhookKind::PaymentSucceeded {
                payment_id,
                provider_payment_id: id,
                amount: payment_money(payment).ok_or_else(|| bad("transaction_amount"))?,
                method: None,
                provider_customer: None,
            },
            "rejected" | "cancelled" => WebhookKind::PaymentFailed {
                payment_id,
                provider_payment_id: id,
                code: decline_code(status, detail),
                message: decline_message(payment),
            },
            "charged_back" | "in_mediation" => WebhookKind::DisputeOpened {
                provider_payment_id: id,
                amount: payment_money(payment).ok_or_else(|| bad("transaction_amount"))?,
                reason: if detail.is_empty() { status.to_owned() } else { detail.to_owned() },
            },
            _ => WebhookKind::Other,
        })
    }

    /// The event a notification describes: its id, type and time from the
    /// body, and what it means from the payment as the API answers now.
    async fn event_of(&self, n: &Notification) -> Result<WebhookEvent, WebhookError> {
        let body = &n.body;
        let event_id =
            id_text(&body["id"]).ok_or_else(|| WebhookError::BadPayload("notification without id".into()))?;
        let topic = body["type"].as_str().or_else(|| body["topic"].as_str()).unwrap_or("");
        let event_type = body["action"].as_str().filter(|a| !a.is_empty()).unwrap_or(topic).to_owned();
        if event_type.is_empty() {
            return Err(WebhookError::BadPayload("notification without action or type".into()));
        }
        let created = body["date_created"]
            .as_str()
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
            .ok_or_else(|| WebhookError::BadPayload("notification without a valid date_created".into()))?;
        let kind = if topic == "payment" {
            let id = n.data_id.as_deref().ok_or_else(|| WebhookError::BadPayload("payment without data.id".into()))?;
            if !is_payment_id(id) {
                return Err(WebhookError::BadPayload(format!("malformed payment id {id:?}")));
            }
            let payment = self
                .payment(id)
                .await
                .map_err(|e| WebhookError::Verification(e.to_string()))?
                .ok_or_else(|| WebhookError::Verification(format!("Mercado Pago knows no payment {id}")))?;
            Self::kind_of(&payment)?
        } else {
            WebhookKind::Other
        };
        Ok(WebhookEvent { event_id, event_type, created, kind })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_follow_mercado_pago_not_only_iso() {
        assert_eq!(mercadopago_decimals("BRL").unwrap(), 2);
        assert_eq!(mercadopago_decimals("CLP").unwrap(), 0);
        assert_eq!(mercadopago_decimals("COP").unwrap(), 0);
        assert_eq!(mercadopago_decimals("PYG").unwrap(), 0);
        assert!(mercadopago_decimals("INR").is_err());
    }

    #[test]
    fn manifest_leaves_out_absent_parts() {
        assert_eq!(webhook_manifest(Some("ABC"), Some("r-1"), Some("9")), "id:abc;request-id:r-1;ts:9;");
        assert_eq!(webhook_manifest(None, Some("r-1"), Some("9")), "request-id:r-1;ts:9;");
        assert_eq!(webhook_manifest(Some("1"), None, Some("9")), "id:1;ts:9;");
        assert_eq!(webhook_manifest(None, None, None), "");
    }
}
