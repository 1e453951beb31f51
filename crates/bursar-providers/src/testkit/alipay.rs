//! A local double of Antom's online payments API (`pay` with
//! `CASHIER_PAYMENT`, `inquiryPayment`, `cancel`, `refund`) for Alipay
//! wallets, with in-memory state.
//!
//! It checks what Antom checks: the `Client-Id`, the `Signature` header
//! (`algorithm=RSA256,keyVersion=1,signature=<url-encoded base64>`) over
//! `POST <path>\n<Client-Id>.<Request-Time>.<body>` with the merchant's
//! public key, sandbox paths for `SANDBOX_` client ids only, the amount
//! shape (`{"currency", "value"}` with a string of digits), and the
//! idempotency of `paymentRequestId` and `refundRequestId` (the same id and
//! body answer the same payment or refund; another body under the id is
//! `REPEAT_REQ_INCONSISTENT`). Every answer is HTTP 200 with a `result`, and
//! is signed with Alipay's key over `POST <path>\n<Client-Id>.<Response-Time>.<body>`.
//!
//! Test controls: the buyer pays (or fails to pay) in the wallet, a
//! payment expires; correctly signed `notifyPayment` and `notifyRefund`
//! notifications at any request time (late ones included) or signed with
//! another key; refunds left in process; failing (before or after acting),
//! refusing (503) or hanging requests; answers signed with a wrong key; and
//! counters. The key pairs are fixed test keys (`keys/`), never used
//! anywhere else.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde_json::{json, Value};

use crate::alipay::{
    content_to_sign, parse_alipay_amount, parse_private_key, parse_public_key, parse_signature_header, sign,
    signature_header, verify, AlipayConfig, DEFAULT_WEBHOOK_TOLERANCE,
};
use crate::{Headers, HttpSettings};

/// The merchant's test private key (PKCS#8 PEM): the connector signs with it.
pub const MERCHANT_PRIVATE_KEY_PEM: &str = include_str!("keys/merchant-private.pem");
/// The merchant's test public key: the double verifies requests with it.
pub const MERCHANT_PUBLIC_KEY_PEM: &str = include_str!("keys/merchant-public.pem");
/// Alipay's test private key: the double signs answers and notifications.
pub const ALIPAY_PRIVATE_KEY_PEM: &str = include_str!("keys/alipay-private.pem");
/// Alipay's test public key: the connector verifies with it.
pub const ALIPAY_PUBLIC_KEY_PEM: &str = include_str!("keys/alipay-public.pem");
/// The client id the double accepts (a production-style id: `/ams/api/…`).
pub const CLIENT_ID: &str = "2ZE5X1S2YS0001234";
/// The notify URL of [`FakeAlipay::config`].
pub const NOTIFY_URL: &str = "https://school.example/webhooks/alipay";

/// How the buyer's payment ends in the wallet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WalletOutcome {
    Pays,
    /// `FAIL` with `USER_BALANCE_NOT_ENOUGH`.
    InsufficientBalance,
}

/// A notification as Antom delivers it: lower-cased headers and raw body.
#[derive(Debug, Clone)]
pub struct SignedNotification {
    pub headers: Headers,
    pub body: Vec<u8>,
}

enum Fault {
    Fail,
    FailAfterActing,
    Unavailable,
    Hang(Duration),
    /// The answer is signed with a key that is not Alipay's.
    ForgedAnswer,
    /// A refund stays `REFUND_IN_PROCESS`.
    RefundInProcess,
}

struct PaymentState {
    request: Value,
    payment_id: String,
    status: &'static str,
    result_code: &'static str,
    result_message: &'static str,
    amount: i64,
    currency: String,
    refunded: i64,
    created: String,
    paid: Option<String>,
}

struct Inner {
    client_id: String,
    merchant_key: RsaPublicKey,
    alipay_key: RsaPrivateKey,
    payments: HashMap<String, PaymentState>,
    by_payment_id: HashMap<String, String>,
    refunds: HashMap<String, (Value, Value)>,
    faults: VecDeque<(Option<String>, Fault)>,
    next: u64,
    pay_requests: usize,
    refunds_created: usize,
    bad_signatures: usize,
}

type Shared = Arc<Mutex<Inner>>;

/// The running double.
pub struct FakeAlipay {
    base_url: String,
    state: Shared,
}

impl FakeAlipay {
    /// Starts the double for [`CLIENT_ID`].
    pub async fn start() -> FakeAlipay {
        FakeAlipay::start_for(CLIENT_ID).await
    }

    /// Starts the double for another client id (`SANDBOX_…` for the
    /// sandbox paths).
    pub async fn start_for(client_id: &str) -> FakeAlipay {
        let state = Arc::new(Mutex::new(Inner {
            client_id: client_id.to_owned(),
            merchant_key: parse_public_key(MERCHANT_PUBLIC_KEY_PEM).expect("test merchant key"),
            alipay_key: parse_private_key(ALIPAY_PRIVATE_KEY_PEM).expect("test Alipay key"),
            payments: HashMap::new(),
            by_payment_id: HashMap::new(),
            refunds: HashMap::new(),
            faults: VecDeque::new(),
            next: 1,
            pay_requests: 0,
            refunds_created: 0,
            bad_signatures: 0,
        }));
        let router = axum::Router::new().fallback(handle).with_state(state.clone());
        let base_url = super::serve(router).await;
        FakeAlipay { base_url, state }
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// A connector configuration for this double, with a 2 s timeout.
    pub fn config(&self) -> AlipayConfig {
        AlipayConfig {
            client_id: self.lock().client_id.clone(),
            private_key_pem: MERCHANT_PRIVATE_KEY_PEM.into(),
            alipay_public_key_pem: ALIPAY_PUBLIC_KEY_PEM.into(),
            key_version: "1".into(),
            api_base: self.base_url.clone(),
            notify_url: NOTIFY_URL.into(),
            payment_method_type: "ALIPAY_CN".into(),
            terminal_type: "WEB".into(),
            settlement_currency: None,
            http: HttpSettings { timeout: Duration::from_secs(2), connect_timeout: Duration::from_secs(1) },
            webhook_tolerance: DEFAULT_WEBHOOK_TOLERANCE,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.state.lock().expect("fake alipay state")
    }

    /// The buyer finishes the payment of `payment_request_id` in the wallet.
    /// Panics on an unknown or finished payment.
    pub fn buyer_pays(&self, payment_request_id: &str, outcome: WalletOutcome) {
        let mut s = self.lock();
        let p = s.payments.get_mut(payment_request_id).expect("buyer_pays: unknown payment");
        assert_eq!(p.status, "PROCESSING", "buyer_pays: the payment is {}", p.status);
        match outcome {
            WalletOutcome::Pays => {
                p.status = "SUCCESS";
                p.result_code = "SUCCESS";
                p.result_message = "success";
            }
            WalletOutcome::InsufficientBalance => {
                p.status = "FAIL";
                p.result_code = "USER_BALANCE_NOT_ENOUGH";
                p.result_message = "The user balance is not enough for this payment.";
            }
        }
        p.paid = Some(now_iso());
    }

    /// The payment times out unpaid: `FAIL` with `ORDER_IS_CLOSED`.
    pub fn expire(&self, payment_request_id: &str) {
        let mut s = self.lock();
        let p = s.payments.get_mut(payment_request_id).expect("expire: unknown payment");
        p.status = "FAIL";
        p.result_code = "ORDER_IS_CLOSED";
        p.result_message = "The order is closed.";
    }

    /// `notifyPayment` for the payment's current state, sent at `at`,
    /// signed with Alipay's key.
    pub fn payment_notification(&self, payment_request_id: &str, at: jiff::Timestamp) -> SignedNotification {
        let body = {
            let s = self.lock();
            let p = s.payments.get(payment_request_id).expect("payment_notification: unknown payment");
            let result_status = match p.status {
                "SUCCESS" => "S",
                "FAIL" => "F",
                _ => "U",
            };
            let mut body = json!({
                "notifyType": "PAYMENT_RESULT",
                "result": { "resultCode": p.result_code, "resultStatus": result_status, "resultMessage": p.result_message },
                "paymentRequestId": payment_request_id,
                "paymentId": p.payment_id,
                "paymentAmount": { "currency": p.currency, "value": p.amount.to_string() },
                "paymentCreateTime": p.created,
                "paymentMethodType": "ALIPAY_CN",
            });
            if let Some(paid) = &p.paid {
                body["paymentTime"] = json!(paid);
            }
            body
        };
        self.notification(body, at, ALIPAY_PRIVATE_KEY_PEM)
    }

    /// `notifyRefund` for a refund made through the API, sent at `at`.
    pub fn refund_notification(&self, refund_request_id: &str, at: jiff::Timestamp) -> SignedNotification {
        let body = {
            let s = self.lock();
            let (_, answer) = s.refunds.get(refund_request_id).expect("refund_notification: unknown refund");
            json!({
                "notifyType": "REFUND_RESULT",
                "result": { "resultCode": "SUCCESS", "resultStatus": "S", "resultMessage": "success" },
                "refundStatus": "SUCCESS",
                "refundRequestId": refund_request_id,
                "refundId": answer["refundId"],
                "refundAmount": answer["refundAmount"],
                "refundTime": answer["refundTime"],
            })
        };
        self.notification(body, at, ALIPAY_PRIVATE_KEY_PEM)
    }

    /// A notification with `body`, sent at `at` (milliseconds in
    /// `request-time`), signed with `private_key_pem` over the path of
    /// [`NOTIFY_URL`].
    pub fn notification(&self, body: Value, at: jiff::Timestamp, private_key_pem: &str) -> SignedNotification {
        let client_id = self.lock().client_id.clone();
        let key = parse_private_key(private_key_pem).expect("a test private key");
        let body = serde_json::to_vec(&body).expect("notification JSON");
        let time = at.as_millisecond().to_string();
        let content = content_to_sign("POST", "/webhooks/alipay", &client_id, &time, &body);
        let signature = signature_header("1", &sign(&key, &content).expect("a 2048-bit test key signs"));
        SignedNotification {
            headers: Headers::from([
                ("content-type".to_owned(), "application/json; charset=UTF-8".to_owned()),
                ("client-id".to_owned(), client_id),
                ("request-time".to_owned(), time),
                ("signature".to_owned(), signature),
            ]),
            body,
        }
    }

    /// The next request whose path ends with `endpoint` answers `500`
    /// without acting.
    pub fn fail_next_on(&self, endpoint: &str) {
        self.lock().faults.push_back((Some(endpoint.to_owned()), Fault::Fail));
    }

    /// The next request whose path ends with `endpoint` is carried out,
    /// then answered `500`.
    pub fn fail_after_acting_on(&self, endpoint: &str) {
        self.lock().faults.push_back((Some(endpoint.to_owned()), Fault::FailAfterActing));
    }

    /// The next `n` requests answer `503` without acting.
    pub fn unavailable_next(&self, n: usize) {
        let mut s = self.lock();
        (0..n).for_each(|_| s.faults.push_back((None, Fault::Unavailable)));
    }

    /// The next request whose path ends with `endpoint` is carried out and
    /// answered after `delay`.
    pub fn hang_next_on(&self, endpoint: &str, delay: Duration) {
        self.lock().faults.push_back((Some(endpoint.to_owned()), Fault::Hang(delay)));
    }

    /// The next request whose path ends with `endpoint` is carried out and
    /// answered with a signature made with the merchant's key instead of
    /// Alipay's.
    pub fn forge_next_answer_on(&self, endpoint: &str) {
        self.lock().faults.push_back((Some(endpoint.to_owned()), Fault::ForgedAnswer));
    }

    /// The next refund is accepted but stays `REFUND_IN_PROCESS`.
    pub fn refund_in_process_next(&self) {
        self.lock().faults.push_back((Some("/v1/payments/refund".to_owned()), Fault::RefundInProcess));
    }

    /// `pay` requests that passed validation (first calls and repeats).
    pub fn pay_requests(&self) -> usize {
        self.lock().pay_requests
    }

    /// Payments created (a repeated `paymentRequestId` creates none).
    pub fn payments_created(&self) -> usize {
        self.lock().payments.len()
    }

    pub fn refunds_created(&self) -> usize {
        self.lock().refunds_created
    }

    /// Requests refused for their signature.
    pub fn bad_signatures(&self) -> usize {
        self.lock().bad_signatures
    }

    /// `(paymentStatus, refunded minor units)` of a payment.
    pub fn payment_state(&self, payment_request_id: &str) -> Option<(String, i64)> {
        self.lock().payments.get(payment_request_id).map(|p| (p.status.to_owned(), p.refunded))
    }

    /// The body of the first `pay` request for the payment.
    pub fn pay_request(&self, payment_request_id: &str) -> Option<Value> {
        self.lock().payments.get(payment_request_id).map(|p| p.request.clone())
    }
}

fn now_iso() -> String {
    let zoned = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::fixed(jiff::tz::offset(8)));
    zoned.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
}

fn result(status: &str, code: &str, message: &str) -> Value {
    json!({ "resultStatus": status, "resultCode": code, "resultMessage": message })
}

fn failed(code: &str, message: &str) -> Value {
    json!({ "result": result("F", code, message) })
}

fn signed(s: &Inner, path: &str, status: StatusCode, body: &Value, key: &RsaPrivateKey) -> Response {
    let body = body.to_string();
    let time = jiff::Timestamp::now().as_millisecond().to_string();
    let content = content_to_sign("POST", path, &s.client_id, &time, body.as_bytes());
    let signature = signature_header("1", &sign(key, &content).expect("a 2048-bit test key signs"));
    let mut resp = (status, body).into_response();
    let h = resp.headers_mut();
    h.insert("content-type", HeaderValue::from_static("application/json; charset=UTF-8"));
    h.insert("client-id", HeaderValue::from_str(&s.client_id).expect("client id header"));
    h.insert("response-time", HeaderValue::from_str(&time).expect("time header"));
    h.insert("signature", HeaderValue::from_str(&signature).expect("signature header"));
    resp
}

async fn handle(State(state): State<Shared>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let path = uri.path().to_owned();
    let fault = {
        let mut s = state.lock().expect("state");
        let position = s.faults.iter().position(|(suffix, _)| suffix.as_deref().is_none_or(|p| path.ends_with(p)));
        position.and_then(|i| s.faults.remove(i)).map(|(_, fault)| fault)
    };
    match fault {
        Some(Fault::Fail) => return (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response(),
        Some(Fault::Unavailable) => return (StatusCode::SERVICE_UNAVAILABLE, "service unavailable").into_response(),
        _ => {}
    }
    let in_process = matches!(fault, Some(Fault::RefundInProcess));
    let response = {
        let mut s = state.lock().expect("state");
        let answer = route(&mut s, &method, &path, &headers, &body, in_process);
        let key = match fault {
            Some(Fault::ForgedAnswer) => parse_private_key(MERCHANT_PRIVATE_KEY_PEM).expect("test key"),
            _ => s.alipay_key.clone(),
        };
        signed(&s, &path, StatusCode::OK, &answer, &key)
    };
    match fault {
        Some(Fault::FailAfterActing) => (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response(),
        Some(Fault::Hang(delay)) => {
            tokio::time::sleep(delay).await;
            response
        }
        _ => response,
    }
}

fn route(s: &mut Inner, method: &Method, path: &str, headers: &HeaderMap, body: &[u8], in_process: bool) -> Value {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    if method != Method::POST {
        return failed("METHOD_NOT_SUPPORTED", "The HTTP method is not supported");
    }
    let Some(client_id) = header("client-id") else { return failed("INVALID_CLIENT", "Client-Id is missing") };
    if client_id != s.client_id {
        return failed("INVALID_CLIENT", "The client is invalid");
    }
    let sandbox = s.client_id.starts_with("SANDBOX_");
    let endpoint = match (path.strip_prefix("/ams/api"), path.strip_prefix("/ams/sandbox/api")) {
        (Some(e), None) if !sandbox => e.to_owned(),
        (None, Some(e)) if sandbox => e.to_owned(),
        _ => return failed("INVALID_API", "The API is not available for this client"),
    };
    let (Some(time), Some(signature)) = (header("request-time"), header("signature")) else {
        s.bad_signatures += 1;
        return failed("INVALID_SIGNATURE", "The signature is invalid");
    };
    if !signature.contains("keyVersion=1") {
        return failed("KEY_NOT_FOUND", "The key version is not registered");
    }
    let content = content_to_sign("POST", path, &client_id, &time, body);
    let valid = parse_signature_header(&signature).is_ok_and(|sig| verify(&s.merchant_key, &content, &sig));
    if !valid {
        s.bad_signatures += 1;
        return failed("INVALID_SIGNATURE", "The signature is invalid");
    }
    if !header("content-type").is_some_and(|c| c.starts_with("application/json")) {
        return failed("MEDIA_TYPE_NOT_ACCEPTABLE", "The media type is not acceptable");
    }
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return failed("PARAM_ILLEGAL", "The body is not JSON");
    };
    match endpoint.as_str() {
        "/v1/payments/pay" => pay(s, request),
        "/v1/payments/inquiryPayment" => inquiry(s, &request),
        "/v1/payments/cancel" => cancel(s, &request),
        "/v1/payments/refund" => refund(s, request, in_process),
        _ => failed("NO_INTERFACE_DEF", "The API is not defined"),
    }
}

fn pay(s: &mut Inner, request: Value) -> Value {
    let illegal = |m: &str| failed("PARAM_ILLEGAL", m);
    if request["productCode"] != "CASHIER_PAYMENT" {
        return illegal("productCode must be CASHIER_PAYMENT");
    }
    let Some(id) = request["paymentRequestId"].as_str().filter(|i| !i.is_empty() && i.len() <= 64) else {
        return illegal("paymentRequestId is required and at most 64 characters");
    };
    let Some(amount) = parse_alipay_amount(&request["paymentAmount"]).filter(|m| m.minor > 0) else {
        return illegal("paymentAmount is illegal");
    };
    if parse_alipay_amount(&request["order"]["orderAmount"]) != Some(amount) {
        return illegal("order.orderAmount must equal paymentAmount");
    }
    if request["order"]["referenceOrderId"].as_str().is_none_or(str::is_empty)
        || request["order"]["orderDescription"].as_str().is_none_or(|d| d.is_empty() || d.chars().count() > 256)
    {
        return illegal("order.referenceOrderId and order.orderDescription are required");
    }
    if request["paymentMethod"]["paymentMethodType"].as_str().is_none_or(str::is_empty) {
        return illegal("paymentMethod.paymentMethodType is required");
    }
    if request["paymentNotifyUrl"].as_str().is_none_or(str::is_empty)
        || request["paymentRedirectUrl"].as_str().is_none_or(str::is_empty)
    {
        return illegal("paymentNotifyUrl and paymentRedirectUrl are required");
    }
    let terminal = request["env"]["terminalType"].as_str().unwrap_or("");
    if !matches!(terminal, "WEB" | "WAP" | "APP" | "MINI_APP") {
        return illegal("env.terminalType is illegal");
    }
    s.pay_requests += 1;
    let id = id.to_owned();
    if let Some(existing) = s.payments.get(&id) {
        if existing.request != request {
            return failed("REPEAT_REQ_INCONSISTENT", "The request is inconsistent with the earlier one");
        }
    } else {
        let payment_id = format!("2024{:016}{:04}", s.next, 7);
        s.next += 1;
        s.by_payment_id.insert(payment_id.clone(), id.clone());
        s.payments.insert(
            id.clone(),
            PaymentState {
                request: request.clone(),
                payment_id,
                status: "PROCESSING",
                result_code: "PAYMENT_IN_PROCESS",
                result_message: "payment in process",
                amount: amount.minor,
                currency: amount.currency().to_owned(),
                refunded: 0,
                created: now_iso(),
                paid: None,
            },
        );
    }
    let p = &s.payments[&id];
    let amount = json!({ "currency": p.currency, "value": p.amount.to_string() });
    let (status, code, message) = match p.status {
        "SUCCESS" => ("S", "SUCCESS", "success"),
        "FAIL" => ("F", p.result_code, p.result_message),
        _ => ("U", "PAYMENT_IN_PROCESS", "payment in process"),
    };
    json!({
        "result": result(status, code, message),
        "paymentRequestId": id,
        "paymentId": p.payment_id,
        "paymentAmount": amount,
        "paymentCreateTime": p.created,
        "normalUrl": format!("https://open-sea-global.alipay.com/api/open/cashier?paymentId={}", p.payment_id),
        "schemeUrl": format!("alipays://platformapi/startapp?appId=20000067&paymentId={}", p.payment_id),
        "applinkUrl": format!("https://render.alipay.com/p/s/i?paymentId={}", p.payment_id),
        "orderCodeForm": {
            "expireTime": p.created,
            "codeDetails": [
                { "codeValueType": "QRCODE", "displayType": "TEXT", "codeValue": format!("https://qr.alipay.com/bax0{}", p.payment_id) },
                { "codeValueType": "QRCODE", "displayType": "MIDDLEIMAGE", "codeValue": format!("https://qr.alipay.com/img/{}.png", p.payment_id) },
            ],
        },
    })
}

fn find<'a>(s: &'a Inner, request: &Value) -> Option<(&'a String, &'a PaymentState)> {
    let id = match request["paymentId"].as_str() {
        Some(pid) => s.by_payment_id.get(pid)?,
        None => request["paymentRequestId"].as_str().and_then(|r| s.payments.get_key_value(r)).map(|(k, _)| k)?,
    };
    s.payments.get_key_value(id)
}

fn inquiry(s: &Inner, request: &Value) -> Value {
    let Some((id, p)) = find(s, request) else { return failed("ORDER_NOT_EXIST", "The order does not exist") };
    let mut answer = json!({
        "result": result("S", "SUCCESS", "Success"),
        "paymentStatus": p.status,
        "paymentResultCode": p.result_code,
        "paymentResultMessage": p.result_message,
        "paymentRequestId": id,
        "paymentId": p.payment_id,
        "paymentAmount": { "currency": p.currency, "value": p.amount.to_string() },
        "paymentCreateTime": p.created,
        "paymentMethodType": "ALIPAY_CN",
    });
    if let Some(paid) = &p.paid {
        answer["paymentTime"] = json!(paid);
    }
    answer
}

fn cancel(s: &mut Inner, request: &Value) -> Value {
    let Some((id, _)) = find(s, request) else { return failed("ORDER_NOT_EXIST", "The order does not exist") };
    let id = id.clone();
    let p = s.payments.get_mut(&id).expect("payment present");
    match p.status {
        "PROCESSING" | "CANCELLED" => {
            p.status = "CANCELLED";
            p.result_code = "ORDER_IS_CLOSED";
            p.result_message = "The order is cancelled.";
            json!({
                "result": result("S", "SUCCESS", "success"),
                "paymentId": p.payment_id,
                "paymentRequestId": id,
                "cancelTime": now_iso(),
            })
        }
        _ => failed("ORDER_STATUS_INVALID", "The order status is invalid for cancellation"),
    }
}

fn refund(s: &mut Inner, request: Value, in_process: bool) -> Value {
    let Some(refund_id) = request["refundRequestId"].as_str().filter(|i| !i.is_empty() && i.len() <= 64) else {
        return failed("PARAM_ILLEGAL", "refundRequestId is required and at most 64 characters");
    };
    let refund_id = refund_id.to_owned();
    if let Some((first, answer)) = s.refunds.get(&refund_id) {
        return if *first == request {
            answer.clone()
        } else {
            failed("REPEAT_REQ_INCONSISTENT", "The request is inconsistent with the earlier one")
        };
    }
    let Some(amount) = parse_alipay_amount(&request["refundAmount"]).filter(|m| m.minor > 0) else {
        return failed("PARAM_ILLEGAL", "refundAmount is illegal");
    };
    let Some(payment_id) = request["paymentId"].as_str() else {
        return failed("PARAM_ILLEGAL", "paymentId is required");
    };
    let Some(id) = s.by_payment_id.get(payment_id).cloned() else {
        return failed("ORDER_NOT_EXIST", "The order does not exist");
    };
    let p = s.payments.get_mut(&id).expect("payment present");
    if p.status != "SUCCESS" {
        return failed("ORDER_STATUS_INVALID", "The payment is not successful");
    }
    if amount.currency() != p.currency {
        return failed("CURRENCY_NOT_SUPPORT", "The refund currency differs from the payment's");
    }
    if amount.minor > p.amount - p.refunded {
        return failed("REFUND_AMOUNT_EXCEED", "The refund amount exceeds what can be refunded");
    }
    p.refunded += amount.minor;
    let refund = format!("2024{:016}{:04}", s.next, 9);
    s.next += 1;
    s.refunds_created += 1;
    let (status, code, message) =
        if in_process { ("U", "REFUND_IN_PROCESS", "The refund is in process") } else { ("S", "SUCCESS", "success") };
    let answer = json!({
        "result": result(status, code, message),
        "refundRequestId": refund_id,
        "refundId": refund,
        "paymentId": payment_id,
        "refundAmount": request["refundAmount"],
        "refundTime": now_iso(),
    });
    s.refunds.insert(refund_id, (request, answer.clone()));
    answer
}
