//! Alipay through Antom's cross-border acquiring API ("Online Payments",
//! `/ams/api/v1/payments/…`): JSON requests signed with the merchant's RSA
//! key, answers and notifications signed with Alipay's.
//!
//! * Signing: the content is `<HTTP method> <URI>\n<Client-Id>.<Request-Time>.<body>`,
//!   signed with RSA-SHA256 (PKCS#1 v1.5), base64-encoded, URL-encoded and
//!   sent as `Signature: algorithm=RSA256,keyVersion=<n>,signature=<…>`
//!   beside `Client-Id` and `Request-Time` (milliseconds since the epoch).
//!   Every answer is verified the same way with Alipay's public key over
//!   `<method> <URI>\n<Client-Id>.<Response-Time>.<body>`; an answer that
//!   is not signed by Alipay is [`ProviderError::Protocol`]. Keys are PEM
//!   (PKCS#8 `PRIVATE KEY` / `PUBLIC KEY`, or PKCS#1 `RSA PRIVATE KEY` /
//!   `RSA PUBLIC KEY`), or the bare base64 the Antom Dashboard shows. A
//!   client id starting with `SANDBOX_` calls the sandbox paths
//!   (`/ams/sandbox/api/…`) as Antom's libraries do.
//! * A first payment is `pay` (`productCode: CASHIER_PAYMENT`) with
//!   `paymentRequestId` = Bursar's payment id (Antom's idempotency field: the
//!   same id answers the same payment; at most 64 characters), the wallet
//!   of [`AlipayConfig::payment_method_type`] (`ALIPAY_CN` by default), the
//!   return URL as `paymentRedirectUrl` and [`AlipayConfig::notify_url`] as
//!   `paymentNotifyUrl`. Antom answers `resultStatus: U` with
//!   `PAYMENT_IN_PROCESS` and where to send the buyer:
//!   [`CheckoutSession::redirect_url`] is `normalUrl` (a web page that shows
//!   a QR code on a desktop browser and opens the wallet on a phone);
//!   `client_params` carries `scheme_url`, `applink_url` and, when Antom
//!   returns an order code, `qr_code` (the `codeValue` to draw as a QR code
//!   on Bursar's own page) with `qr_expires_at`. The provider payment id is
//!   Antom's `paymentId`.
//! * Status: `inquiryPayment` by `paymentId`, or by `paymentRequestId` when
//!   only Bursar's id is known; `paymentStatus` `SUCCESS`, `FAIL`,
//!   `PROCESSING` (waiting for the buyer), `PENDING` (paid, final result to
//!   come) or `CANCELLED`; `ORDER_NOT_EXIST` is [`PaymentStatus::NotFound`].
//!   [`AlipayConnector::cancel`] closes a payment the buyer abandoned.
//! * Refunds, full and partial: `refund` with `refundRequestId` = Bursar's
//!   refund id (idempotent at Antom), `refundAmount` and `refundNotifyUrl`.
//!   `S` succeeded, `U` with `REFUND_IN_PROCESS` pending, `F` failed
//!   (`REFUND_AMOUNT_EXCEED`, `ORDER_STATUS_INVALID`, …).
//! * Amounts are `{"currency": "CNY", "value": "1999"}`: the value is the
//!   amount in the currency's smallest unit (ISO 4217 exponent) as a string.
//! * Renewals: not offered. Antom charges a wallet without the buyer only
//!   through its separate Auto Debit product (an authorization flow and
//!   `AGREEMENT_PAYMENT` with an access token), which is not part of this
//!   connector: [`Connector::off_session_charges`] is `false` and renewals
//!   are collected with a new checkout.
//! * Errors: Antom answers HTTP 200 with a `result` for business failures.
//!   `INVALID_SIGNATURE`, `KEY_NOT_FOUND`, `INVALID_CLIENT`,
//!   `ACCESS_DENIED` are [`ProviderError::Auth`]; `REQUEST_TRAFFIC_EXCEED_LIMIT`,
//!   429, 502, 503 and any failure of `pay` or `inquiryPayment` (which move
//!   no money by themselves) are [`ProviderError::Unavailable`]; an unknown
//!   outcome (`resultStatus: U` other than the documented in-process codes,
//!   a 500 or 504, a lost connection) of a refund or cancel is
//!   [`ProviderError::Indeterminate`]: retry under the same request id.
//! * Notifications (`notifyPayment`, `notifyRefund`) are verified with
//!   Alipay's public key over `POST <path of the notify URL>\n<client-id>.<request-time>.<body>`,
//!   and refused when `request-time` is further than the tolerance from
//!   Bursar's clock. They must be answered with
//!   `{"result": {"resultCode": "SUCCESS", "resultStatus": "S", "resultMessage": "success"}}`
//!   ([`Connector::webhook_ack`]), which needs no signature; Antom sends a
//!   notification again until it gets that answer.
//!
//! Sources: <https://docs.antom.com/ac/ams/api_fund> (message structure,
//! headers, domains), <https://docs.antom.com/ac/ams/digital_signature>
//! (signing and verification; notifications answered without a
//! signature), <https://docs.antom.com/ac/ams/oc> (`pay`, the idempotency of
//! `paymentRequestId`), <https://docs.antom.com/ac/api_cn/paymentri_online_cn>
//! (`inquiryPayment` and its `paymentStatus` values),
//! <https://docs.antom.com/ac/ams/paymentrn_online> (`notifyPayment`), and
//! Antom's own library `alipay/global-open-sdk-python`
//! (`tools/signature_tool.py` and `default_alipay_client.py` for the signed
//! content, the URL-encoding and the answer check; the request, answer and
//! notification models for the field names of `pay`, `inquiryPayment`,
//! `cancel`, `refund` and `notifyRefund`).

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use bursar_domain::money::Currency;
use reqwest::StatusCode;
use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey};
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::signature::{SignatureEncoding, Signer, Verifier};
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::{
    server_error, transport_error, ChargeOutcome, ChargeRequest, CheckoutRequest, CheckoutSession, Connector,
    CustomerInfo, Effect, Headers, HttpSettings, MethodDetails, Money, PaymentStatus, ProviderError, ProviderKind,
    RefundOutcome, RefundRequest, WebhookAck, WebhookError, WebhookEvent, WebhookKind,
};

const PROVIDER: &str = "alipay";

mod connector;

/// Antom's North America domain.
pub const API_BASE_NORTH_AMERICA: &str = "https://open-na-global.alipay.com";
/// Antom's Asia domain.
pub const API_BASE_ASIA: &str = "https://open-sea-global.alipay.com";
/// Antom's Europe domain.
pub const API_BASE_EUROPE: &str = "https://open-de-global.alipay.com";
/// Default accepted distance between a notification's `request-time` and now.
pub const DEFAULT_WEBHOOK_TOLERANCE: Duration = Duration::from_secs(300);
/// The longest `paymentRequestId` / `refundRequestId` Antom takes.
pub const MAX_REQUEST_ID_LEN: usize = 64;
/// The RSA key size Antom's keys have.
pub const MIN_KEY_BITS: usize = 2048;
/// The answer Antom requires to a notification.
pub const NOTIFICATION_ACK: &str =
    r#"{"result":{"resultCode":"SUCCESS","resultStatus":"S","resultMessage":"success"}}"#;

/// How to reach one Antom merchant account.
#[derive(Clone)]
pub struct AlipayConfig {
    /// The `Client-Id` of the Antom Dashboard (`SANDBOX_…` for the sandbox).
    pub client_id: String,
    /// The merchant's private key (PEM or the dashboard's bare base64).
    pub private_key_pem: String,
    /// Alipay's public key for this client id (PEM or bare base64).
    pub alipay_public_key_pem: String,
    /// `keyVersion` of the `Signature` header: the version of the merchant
    /// key registered with Antom (`"1"` unless rotated).
    pub key_version: String,
    /// One of [`API_BASE_NORTH_AMERICA`], [`API_BASE_ASIA`],
    /// [`API_BASE_EUROPE`] (or a local double), without a trailing slash.
    pub api_base: String,
    /// Where Antom sends `notifyPayment` and `notifyRefund` (Bursar's
    /// `/webhooks/alipay`). Its path is part of what notifications sign.
    pub notify_url: String,
    /// The wallet: `ALIPAY_CN` (Alipay mainland China), `ALIPAY_HK`,
    /// `CONNECT_WALLET` (Alipay+), ….
    pub payment_method_type: String,
    /// `env.terminalType`: `WEB` (desktop browsers; a QR code), `WAP`
    /// (mobile browsers).
    pub terminal_type: String,
    /// `settlementStrategy.settlementCurrency`, when the contract has
    /// several.
    pub settlement_currency: Option<String>,
    pub http: HttpSettings,
    pub webhook_tolerance: Duration,
}

impl fmt::Debug for AlipayConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlipayConfig")
            .field("client_id", &self.client_id)
            .field("private_key_pem", &"…")
            .field("alipay_public_key_pem", &"…")
            .field("key_version", &self.key_version)
            .field("api_base", &self.api_base)
            .field("notify_url", &self.notify_url)
            .field("payment_method_type", &self.payment_method_type)
            .field("terminal_type", &self.terminal_type)
            .field("settlement_currency", &self.settlement_currency)
            .field("http", &self.http)
            .field("webhook_tolerance", &self.webhook_tolerance)
            .finish()
    }
}

fn invalid(message: String) -> ProviderError {
    ProviderError::InvalidRequest { provider: PROVIDER, message }
}

fn protocol(detail: impl Into<String>) -> ProviderError {
    ProviderError::Protocol { provider: PROVIDER, detail: detail.into() }
}

/// The DER inside a bare base64 key.
fn bare_der(text: &str) -> Option<Vec<u8>> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(compact).ok()
}

/// Reads an RSA private key: PKCS#8 or PKCS#1 PEM, or bare base64 DER.
pub fn parse_private_key(text: &str) -> Result<RsaPrivateKey, String> {
    let text = text.trim();
    if text.contains("BEGIN RSA PRIVATE KEY") {
        return RsaPrivateKey::from_pkcs1_pem(text).map_err(|e| format!("PKCS#1 private key: {e}"));
    }
    if text.contains("BEGIN PRIVATE KEY") {
        return RsaPrivateKey::from_pkcs8_pem(text).map_err(|e| format!("PKCS#8 private key: {e}"));
    }
    let der = bare_der(text).ok_or("the private key is neither PEM nor base64")?;
    RsaPrivateKey::from_pkcs8_der(&der)
        .or_else(|_| RsaPrivateKey::from_pkcs1_der(&der))
        .map_err(|e| format!("private key: {e}"))
}

/// Reads an RSA public key: SubjectPublicKeyInfo or PKCS#1 PEM, or bare
/// base64 DER.
pub fn parse_public_key(text: &str) -> Result<RsaPublicKey, String> {
    let text = text.trim();
    if text.contains("BEGIN RSA PUBLIC KEY") {
        return RsaPublicKey::from_pkcs1_pem(text).map_err(|e| format!("PKCS#1 public key: {e}"));
    }
    if text.contains("BEGIN PUBLIC KEY") {
        return RsaPublicKey::from_public_key_pem(text).map_err(|e| format!("public key: {e}"));
    }
    let der = bare_der(text).ok_or("the public key is neither PEM nor base64")?;
    RsaPublicKey::from_public_key_der(&der)
        .or_else(|_| RsaPublicKey::from_pkcs1_der(&der))
        .map_err(|e| format!("public key: {e}"))
}

/// What Antom signs: `<method> <URI>\n<Client-Id>.<time>.<body>`.
pub fn content_to_sign(method: &str, uri: &str, client_id: &str, time: &str, body: &[u8]) -> Vec<u8> {
    let mut content = format!("{method} {uri}\n{client_id}.{time}.").into_bytes();
    content.extend_from_slice(body);
    content
}

/// The base64 RSA-SHA256 (PKCS#1 v1.5) signature of `content`; an error
/// for a key too small to sign a SHA-256 digest.
pub fn sign(key: &RsaPrivateKey, content: &[u8]) -> Result<String, String> {
    let signer = SigningKey::<Sha256>::new(key.clone());
    let signature = signer.try_sign(content).map_err(|e| format!("signing failed: {e}"))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(signature.to_bytes()))
}

/// Whether `signature` (raw bytes) is the RSA-SHA256 signature of `content`.
pub fn verify(key: &RsaPublicKey, content: &[u8], signature: &[u8]) -> bool {
    let Ok(signature) = Signature::try_from(signature) else { return false };
    VerifyingKey::<Sha256>::new(key.clone()).verify(content, &signature).is_ok()
}

/// The `Signature` header: `algorithm=RSA256,keyVersion=<n>,signature=<url-encoded base64>`.
pub fn signature_header(key_version: &str, signature_base64: &str) -> String {
    let encoded: String = form_urlencoded::byte_serialize(signature_base64.as_bytes()).collect();
    format!("algorithm=RSA256,keyVersion={key_version},signature={encoded}")
}

/// Decodes `%XX` escapes; a `+` stays a `+` (a URL-encoded base64 value has
/// none, a raw one means it).
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The signature bytes of a `Signature` header. Its parts are
/// comma-separated `key=value` pairs; `algorithm`, when present, must be
/// `RSA256`.
pub fn parse_signature_header(value: &str) -> Result<Vec<u8>, WebhookError> {
    let mut signature = None;
    for part in value.split(',') {
        let Some((k, v)) = part.split_once('=') else { continue };
        match k.trim() {
            "algorithm" if !v.trim().eq_ignore_ascii_case("RSA256") => return Err(WebhookError::MalformedSignature),
            "signature" => signature = Some(v.trim()),
            _ => {}
        }
    }
    let signature = signature.filter(|s| !s.is_empty()).ok_or(WebhookError::MalformedSignature)?;
    let decoded = percent_decode(signature).ok_or(WebhookError::MalformedSignature)?;
    base64::engine::general_purpose::STANDARD.decode(decoded.trim()).map_err(|_| WebhookError::MalformedSignature)
}

/// A `Request-Time` / `Response-Time`: milliseconds since the epoch, or an
/// ISO 8601 date-time with an offset (Antom's libraries send the latter).
pub fn parse_time(value: &str) -> Option<jiff::Timestamp> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        let ms: i64 = value.parse().ok()?;
        return jiff::Timestamp::from_millisecond(ms).ok();
    }
    value.parse::<jiff::Timestamp>().ok()
}

/// An amount as Antom takes it: the value in the currency's smallest unit
/// (ISO 4217) as a string. Refuses unknown currencies and amounts that are
/// not positive.
pub fn alipay_amount(money: Money) -> Result<Value, ProviderError> {
    let code = money.currency();
    Currency::from_code(code).map_err(|_| invalid(format!("unknown currency {code}")))?;
    if money.minor <= 0 {
        return Err(invalid(format!("Antom takes positive amounts only, not {} {code}", money.minor)));
    }
    Ok(json!({ "currency": code, "value": money.minor.to_string() }))
}

/// Antom's `{"currency", "value"}` in minor units.
pub fn parse_alipay_amount(amount: &Value) -> Option<Money> {
    let currency = amount["currency"].as_str().filter(|c| c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase()))?;
    Currency::from_code(currency).ok()?;
    let value = amount["value"].as_str().filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))?;
    Some(Money::new(value.parse().ok()?, currency))
}

/// Antom's result codes in Bursar's (Stripe's) decline vocabulary.
fn decline_code(result_code: &str) -> String {
    let code = match result_code {
        "USER_BALANCE_NOT_ENOUGH" => "insufficient_funds",
        "USER_AMOUNT_EXCEED_LIMIT" | "AMOUNT_EXCEED_LIMIT" | "PAYMENT_COUNT_EXCEED_LIMIT" => "card_velocity_exceeded",
        "RISK_REJECT" => "fraudulent",
        "USER_PAYMENT_VERIFICATION_FAILED" => "authentication_required",
        "ORDER_IS_CLOSED" | "PAYMENT_CANCELLED" | "USER_CANCELLED" | "ORDER_STATUS_INVALID" => "canceled",
        _ => "card_declined",
    };
    code.to_owned()
}

/// `(resultStatus, resultCode, resultMessage)` of an answer.
fn result_of(body: &Value) -> Result<(String, String, String), ProviderError> {
    let result = &body["result"];
    let status = result["resultStatus"].as_str().ok_or_else(|| protocol("answer without result.resultStatus"))?;
    let code = result["resultCode"].as_str().unwrap_or("").to_owned();
    let message = result["resultMessage"].as_str().unwrap_or("").to_owned();
    Ok((status.to_owned(), code, message))
}

/// The error for an answer that is not the business outcome the caller
/// handles: credentials, throttling, unknown outcomes and refusals.
fn failure(status: &str, code: &str, message: &str, effect: Effect) -> ProviderError {
    let detail = format!("{code}: {message}");
    match code {
        "INVALID_SIGNATURE" | "KEY_NOT_FOUND" | "INVALID_CLIENT" | "ACCESS_DENIED" | "INVALID_ACCESS_TOKEN" => {
            ProviderError::Auth { provider: PROVIDER }
        }
        "REQUEST_TRAFFIC_EXCEED_LIMIT" => ProviderError::Unavailable { provider: PROVIDER, detail },
        _ if status == "U" => match effect {
            Effect::Inert => ProviderError::Unavailable { provider: PROVIDER, detail },
            Effect::Acts => ProviderError::Indeterminate { provider: PROVIDER, detail },
        },
        _ => ProviderError::Rejected { provider: PROVIDER, status: 200, message: detail },
    }
}

fn header<'a>(headers: &'a Headers, name: &str) -> Option<&'a str> {
    headers.get(name).map(String::as_str).map(str::trim).filter(|v| !v.is_empty())
}

fn request_id(id: &str, what: &str) -> Result<(), ProviderError> {
    if id.is_empty() || id.len() > MAX_REQUEST_ID_LEN {
        Err(invalid(format!("{what} {id:?} does not fit Antom's 64-character request id")))
    } else {
        Ok(())
    }
}

fn status_of(inquiry: &Value) -> Result<PaymentStatus, ProviderError> {
    let id = inquiry["paymentId"].as_str().ok_or_else(|| protocol("inquiry without paymentId"))?.to_owned();
    Ok(match inquiry["paymentStatus"].as_str().unwrap_or("") {
        "SUCCESS" => PaymentStatus::Succeeded {
            amount: parse_alipay_amount(&inquiry["paymentAmount"]).ok_or_else(|| protocol("payment amount"))?,
            provider_payment_id: id,
        },
        "FAIL" => PaymentStatus::Failed {
            code: decline_code(inquiry["paymentResultCode"].as_str().unwrap_or("")),
            provider_payment_id: id,
        },
        "PROCESSING" | "PENDING" => PaymentStatus::Pending { provider_payment_id: id },
        "CANCELLED" => PaymentStatus::Canceled { provider_payment_id: id },
        other => return Err(protocol(format!("unknown payment status {other:?}"))),
    })
}

/// The connector.
pub struct AlipayConnector {
    config: AlipayConfig,
    http: reqwest::Client,
    private_key: RsaPrivateKey,
    alipay_key: RsaPublicKey,
    /// The path (and query) of the notify URL, as notifications sign it.
    notify_path: String,
}

impl AlipayConnector {
    /// Reads the keys and the notify URL; a key that cannot be read is
    /// [`ProviderError::InvalidRequest`].
    pub fn new(config: AlipayConfig) -> Result<AlipayConnector, ProviderError> {
        let private_key = parse_private_key(&config.private_key_pem).map_err(invalid)?;
        let alipay_key = parse_public_key(&config.alipay_public_key_pem).map_err(invalid)?;
        for (which, bits) in [("merchant private", private_key.size() * 8), ("Alipay public", alipay_key.size() * 8)] {
            if bits < MIN_KEY_BITS {
                return Err(invalid(format!("the {which} key has {bits} bits; Antom uses {MIN_KEY_BITS}")));
            }
        }
        let url = reqwest::Url::parse(&config.notify_url)
            .map_err(|e| invalid(format!("notify URL {:?}: {e}", config.notify_url)))?;
        let notify_path = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        };
        let http = reqwest::Client::builder()
            .timeout(config.http.timeout)
            .connect_timeout(config.http.connect_timeout)
            .build()
            .map_err(|e| protocol(format!("HTTP client: {e}")))?;
        Ok(AlipayConnector { config, http, private_key, alipay_key, notify_path })
    }

    /// `/ams/api<endpoint>`, or `/ams/sandbox/api<endpoint>` for a
    /// sandbox client id.
    fn path(&self, endpoint: &str) -> String {
        if self.config.client_id.starts_with("SANDBOX_") {
            format!("/ams/sandbox/api{endpoint}")
        } else {
            format!("/ams/api{endpoint}")
        }
    }

    /// One signed call; the answer's signature is verified before its body
    /// is read.
    async fn call(&self, endpoint: &str, body: &Value, effect: Effect) -> Result<Value, ProviderError> {
        let path = self.path(endpoint);
        let body = body.to_string();
        let time = jiff::Timestamp::now().as_millisecond().to_string();
        let content = content_to_sign("POST", &path, &self.config.client_id, &time, body.as_bytes());
        let signature =
            signature_header(&self.config.key_version, &sign(&self.private_key, &content).map_err(invalid)?);
        let resp = self
            .http
            .post(format!("{}{path}", self.config.api_base.trim_end_matches('/')))
            .header(reqwest::header::CONTENT_TYPE, "application/json; charset=UTF-8")
            .header("Client-Id", &self.config.client_id)
            .header("Request-Time", &time)
            .header("Signature", signature)
            .body(body)
            .send()
            .await
            .map_err(|e| transport_error(PROVIDER, &e, effect))?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.map_err(|e| transport_error(PROVIDER, &e, effect))?;
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Err(ProviderError::Auth { provider: PROVIDER });
        }
        if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            return Err(server_error(PROVIDER, status.as_u16(), status.to_string(), effect));
        }
        if !status.is_success() {
            let message = String::from_utf8_lossy(&bytes).chars().take(300).collect();
            return Err(ProviderError::Rejected { provider: PROVIDER, status: status.as_u16(), message });
        }
        let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
        let (Some(client_id), Some(time), Some(signature)) = (get("client-id"), get("response-time"), get("signature"))
        else {
            return Err(protocol("the answer is not signed"));
        };
        if client_id != self.config.client_id {
            return Err(protocol(format!("the answer is for client {client_id}")));
        }
        let signature = parse_signature_header(signature).map_err(|_| protocol("malformed answer signature"))?;
        let content = content_to_sign("POST", &path, client_id, time, &bytes);
        if !verify(&self.alipay_key, &content, &signature) {
            return Err(protocol("the answer's signature does not verify with Alipay's key"));
        }
        serde_json::from_slice(&bytes).map_err(|e| protocol(format!("answer is not JSON: {e}")))
    }

    /// `inquiryPayment`; `None` when Antom knows no such payment.
    async fn inquire(
        &self,
        payment_id: &str,
        provider_payment_id: Option<&str>,
    ) -> Result<Option<Value>, ProviderError> {
        let body = match provider_payment_id.filter(|id| !id.is_empty()) {
            Some(id) => json!({ "paymentId": id }),
            None => json!({ "paymentRequestId": payment_id }),
        };
        let answer = self.call("/v1/payments/inquiryPayment", &body, Effect::Inert).await?;
        let (status, code, message) = result_of(&answer)?;
        match (status.as_str(), code.as_str()) {
            ("S", _) => Ok(Some(answer)),
            ("F", "ORDER_NOT_EXIST") => Ok(None),
            _ => Err(failure(&status, &code, &message, Effect::Inert)),
        }
    }

    /// Cancels (closes) a payment: one the buyer abandoned can no longer be
    /// paid. By Antom's `paymentId` when known, else by Bursar's payment id.
    /// Returns the payment's status afterwards: [`PaymentStatus::Canceled`],
    /// or what it is when Antom refuses to cancel it (it succeeded, for
    /// instance). A payment Antom never saw is [`PaymentStatus::NotFound`].
    pub async fn cancel(
        &self,
        payment_id: &str,
        provider_payment_id: Option<&str>,
    ) -> Result<PaymentStatus, ProviderError> {
        let body = match provider_payment_id.filter(|id| !id.is_empty()) {
            Some(id) => json!({ "paymentId": id }),
            None => {
                request_id(payment_id, "payment id")?;
                json!({ "paymentRequestId": payment_id })
            }
        };
        let answer = self.call("/v1/payments/cancel", &body, Effect::Acts).await?;
        let (status, code, message) = result_of(&answer)?;
        match (status.as_str(), code.as_str()) {
            ("S", _) => Ok(PaymentStatus::Canceled {
                provider_payment_id: answer["paymentId"]
                    .as_str()
                    .or(provider_payment_id)
                    .ok_or_else(|| protocol("cancel answer without paymentId"))?
                    .to_owned(),
            }),
            ("F", "ORDER_NOT_EXIST") => Ok(PaymentStatus::NotFound),
            ("F", "ORDER_STATUS_INVALID" | "ORDER_IS_CLOSED" | "CANCEL_WINDOW_EXCEED") => {
                match self.inquire(payment_id, provider_payment_id).await? {
                    Some(inquiry) => status_of(&inquiry),
                    None => Ok(PaymentStatus::NotFound),
                }
            }
            _ => Err(failure(&status, &code, &message, Effect::Acts)),
        }
    }

    /// The event a notification body describes. `fallback_time` stands in
    /// for a body without payment or refund time.
    fn event_of(body: &[u8], fallback_time: Option<jiff::Timestamp>) -> Result<WebhookEvent, WebhookError> {
        let n: Value = serde_json::from_slice(body).map_err(|e| WebhookError::BadPayload(e.to_string()))?;
        let bad = |what: &str| WebhookError::BadPayload(format!("notification without {what}"));
        let notify_type = n["notifyType"].as_str().filter(|t| !t.is_empty()).ok_or_else(|| bad("notifyType"))?;
        let time = |keys: &[&str]| {
            keys.iter()
                .find_map(|k| n[*k].as_str().and_then(|t| t.parse::<jiff::Timestamp>().ok()))
                .or(fallback_time)
                .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        };
        let result = &n["result"];
        let result_status = result["resultStatus"].as_str().unwrap_or("");
        let result_code = result["resultCode"].as_str().unwrap_or("");
        let (event_id, created, kind) = match notify_type {
            "PAYMENT_RESULT" | "PAYMENT_PENDING" => {
                let payment = n["paymentId"].as_str().filter(|p| !p.is_empty()).ok_or_else(|| bad("paymentId"))?;
                let ours = n["paymentRequestId"].as_str().filter(|p| !p.is_empty()).map(str::to_owned);
                let kind = match (notify_type, result_status) {
                    ("PAYMENT_RESULT", "S") => WebhookKind::PaymentSucceeded {
                        payment_id: ours,
                        provider_payment_id: payment.to_owned(),
                        amount: parse_alipay_amount(&n["paymentAmount"]).ok_or_else(|| bad("a valid paymentAmount"))?,
                        method: None,
                        provider_customer: None,
                    },
                    ("PAYMENT_RESULT", "F") => WebhookKind::PaymentFailed {
                        payment_id: ours,
                        provider_payment_id: payment.to_owned(),
                        code: decline_code(result_code),
                        message: format!("{result_code}: {}", result["resultMessage"].as_str().unwrap_or("")),
                    },
                    _ => WebhookKind::Other,
                };
                let id = format!("{notify_type}:{payment}:{result_status}");
                (id, time(&["paymentTime", "paymentCreateTime"]), kind)
            }
            "REFUND_RESULT" => {
                let refund = n["refundId"].as_str().filter(|r| !r.is_empty());
                let refund_request = n["refundRequestId"].as_str().filter(|r| !r.is_empty());
                let refund_status = n["refundStatus"].as_str().unwrap_or(result_status);
                let key = refund.or(refund_request).ok_or_else(|| bad("refundId"))?;
                let kind = match (refund_status, refund) {
                    ("SUCCESS" | "S", Some(refund)) => WebhookKind::RefundSucceeded {
                        refund_id: refund_request.map(str::to_owned),
                        // notifyRefund names the refund only; the payment
                        // is known by Bursar's refund id.
                        provider_payment_id: n["paymentId"].as_str().unwrap_or("").to_owned(),
                        provider_refund_id: refund.to_owned(),
                        amount: parse_alipay_amount(&n["refundAmount"]).ok_or_else(|| bad("a valid refundAmount"))?,
                    },
                    _ => WebhookKind::Other,
                };
                (format!("REFUND_RESULT:{key}:{refund_status}"), time(&["refundTime"]), kind)
            }
            _ => {
                let id = format!("{notify_type}:{}", crate_digest(body));
                (id, time(&[]), WebhookKind::Other)
            }
        };
        Ok(WebhookEvent { event_id, event_type: notify_type.to_owned(), created, kind })
    }
}

/// The hex SHA-256 of a body: the id of a notification of a type this
/// connector does not map.
fn crate_digest(body: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(Sha256::digest(body))
}
