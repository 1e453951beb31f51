//! A local double of Razorpay's API: orders, payments (fetch, capture,
//! recurring creation on saved tokens), refunds and customers, with
//! in-memory state and Razorpay's entity shapes (`{"id": "order_…",
//! "entity": "order", …}`, collections with `entity: "collection"`).
//!
//! It validates the way Razorpay does: basic auth with the key id and
//! secret, integer amounts in the smallest unit (at least one major unit,
//! three-decimal currencies ending in 0), receipts of at most 40
//! characters, at most 15 notes of 256 characters, captures of the exact
//! authorized amount, one successful payment per order, refunds within the
//! captured amount, and `X-Refund-Idempotency` (the same key and body answer
//! the same refund; another body under the key is refused). Errors have
//! Razorpay's shape (`{"error": {"code", "description", "source", "step",
//! "reason", "metadata", "field"}}`).
//!
//! Test controls: pay an order as the buyer through the checkout (returning
//! the parameters the checkout would post back, with a correct signature),
//! saved tokens that pay or decline, customers, failing (before or after
//! acting), refusing (503) or hanging the next requests, counters, and
//! correctly signed webhooks.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine as _;
use bursar_domain::money::Currency;
use hmac::{Hmac, Mac};
use rand::Rng as _;
use serde_json::{json, Map, Value};
use sha2::Sha256;

use crate::razorpay::{RazorpayConfig, DEFAULT_WEBHOOK_TOLERANCE};
use crate::{Headers, HttpSettings};

/// The key id the double accepts.
pub const KEY_ID: &str = "rzp_test_FakeKeyId01";
/// The key secret the double accepts (and signs checkout returns with).
pub const KEY_SECRET: &str = "fakeRazorpayKeySecret";
/// The webhook secret the double signs events with.
pub const WEBHOOK_SECRET: &str = "fakeRazorpayWebhookSecret";

/// A card the buyer pays with in the checkout.
#[derive(Debug, Clone, Copy)]
pub struct TestCard {
    pub network: &'static str,
    pub last4: &'static str,
    /// The bank declines the payment.
    pub declines: bool,
    /// The buyer agrees to save the card (a token is created when the order
    /// names a customer and asks for a token).
    pub save: bool,
}

impl TestCard {
    pub const VISA: TestCard = TestCard { network: "Visa", last4: "1111", declines: false, save: false };
    pub const DECLINED: TestCard = TestCard { network: "MasterCard", last4: "0002", declines: true, save: false };

    /// The same card, saved for recurring payments.
    pub fn saved(self) -> TestCard {
        TestCard { save: true, ..self }
    }
}

/// A webhook as Razorpay would deliver it: lower-cased headers and raw body.
#[derive(Debug, Clone)]
pub struct SignedWebhook {
    pub headers: Headers,
    pub body: Vec<u8>,
}

enum Fault {
    /// `500` without acting.
    Fail,
    /// Carried out, then answered `500` instead of the result.
    FailAfterActing,
    /// `503` without acting.
    Unavailable,
    /// Carried out, answered after the delay.
    Hang(Duration),
}

struct OrderState {
    json: Value,
    payment_capture: bool,
    customer_id: Option<String>,
    wants_token: bool,
    payments: Vec<String>,
}

struct TokenState {
    customer_id: String,
    declines: bool,
    card: Value,
}

struct Inner {
    orders: HashMap<String, OrderState>,
    order_ids: Vec<String>,
    payments: HashMap<String, Value>,
    refunds: HashMap<String, Value>,
    refund_keys: HashMap<String, (Value, Value)>,
    customers: HashMap<String, Value>,
    tokens: HashMap<String, TokenState>,
    faults: VecDeque<(Option<String>, Fault)>,
    orders_created: usize,
    payments_created: usize,
    refunds_created: usize,
    recurring_requests: usize,
}

type Shared = Arc<Mutex<Inner>>;

/// The running double.
pub struct FakeRazorpay {
    base_url: String,
    state: Shared,
}

impl FakeRazorpay {
    /// Starts the double on a loopback port.
    pub async fn start() -> FakeRazorpay {
        let state = Arc::new(Mutex::new(Inner {
            orders: HashMap::new(),
            order_ids: Vec::new(),
            payments: HashMap::new(),
            refunds: HashMap::new(),
            refund_keys: HashMap::new(),
            customers: HashMap::new(),
            tokens: HashMap::new(),
            faults: VecDeque::new(),
            orders_created: 0,
            payments_created: 0,
            refunds_created: 0,
            recurring_requests: 0,
        }));
        let router = axum::Router::new().fallback(handle).with_state(state.clone());
        let base_url = super::serve(router).await;
        FakeRazorpay { base_url, state }
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// A connector configuration for this double, with a 2 s request
    /// timeout.
    pub fn config(&self) -> RazorpayConfig {
        RazorpayConfig {
            key_id: KEY_ID.into(),
            key_secret: KEY_SECRET.into(),
            webhook_secret: WEBHOOK_SECRET.into(),
            api_base: self.base_url.clone(),
            http: HttpSettings { timeout: Duration::from_secs(2), connect_timeout: Duration::from_secs(1) },
            webhook_tolerance: DEFAULT_WEBHOOK_TOLERANCE,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.state.lock().expect("fake razorpay state")
    }

    /// The buyer pays the order in the checkout. On success returns what
    /// the checkout posts back (`razorpay_payment_id`, `razorpay_order_id`,
    /// `razorpay_signature`); a declined card leaves a failed payment and
    /// returns the checkout's failure fields (`error.code`,
    /// `error.description`, `error.reason`, `error.metadata.payment_id`,
    /// `error.metadata.order_id`). The payment carries the order's notes,
    /// as the checkout passes `notes.payment_id` along.
    ///
    /// Panics on an unknown or already paid order.
    pub fn pay_order(&self, order_id: &str, card: TestCard) -> BTreeMap<String, String> {
        let mut s = self.lock();
        let order = s.orders.get(order_id).expect("pay_order: unknown order");
        assert!(order.json["status"] != "paid", "pay_order: order {order_id} is already paid");
        let saving = card.save && order.wants_token && !card.declines;
        let token = match (order.customer_id.clone(), saving) {
            (Some(customer), true) => Some(add_token(&mut s, &customer, card, false)),
            _ => None,
        };
        let card_json = card_entity(card);
        let payment =
            create_payment(&mut s, order_id, card_json, token.as_deref(), card.declines, "insufficient_funds");
        let payment_id = payment["id"].as_str().unwrap_or_default().to_owned();
        if card.declines {
            return BTreeMap::from([
                ("error.code".to_owned(), "BAD_REQUEST_ERROR".to_owned()),
                ("error.description".to_owned(), payment["error_description"].as_str().unwrap_or("").to_owned()),
                ("error.reason".to_owned(), "insufficient_funds".to_owned()),
                ("error.metadata.payment_id".to_owned(), payment_id),
                ("error.metadata.order_id".to_owned(), order_id.to_owned()),
            ]);
        }
        BTreeMap::from([
            ("razorpay_signature".to_owned(), sign_checkout(order_id, &payment_id)),
            ("razorpay_payment_id".to_owned(), payment_id),
            ("razorpay_order_id".to_owned(), order_id.to_owned()),
        ])
    }

    /// A customer with the details recurring payments need.
    pub fn add_customer(&self, name: &str, email: &str, contact: &str) -> String {
        let mut s = self.lock();
        let id = format!("cust_{}", random_id(14));
        let customer = json!({
            "id": id, "entity": "customer", "name": name, "email": email, "contact": contact,
            "gstin": null, "notes": {}, "created_at": now(),
        });
        s.customers.insert(id.clone(), customer);
        id
    }

    /// A confirmed recurring token of the customer (as after an
    /// authorisation payment); with `declines` the bank refuses its charges.
    pub fn add_token(&self, customer_id: &str, declines: bool) -> String {
        let mut s = self.lock();
        assert!(s.customers.contains_key(customer_id), "add_token: unknown customer");
        add_token(&mut s, customer_id, TestCard::VISA, declines)
    }

    /// The next `n` requests answer `500 SERVER_ERROR` without acting.
    pub fn fail_next(&self, n: usize) {
        let mut s = self.lock();
        (0..n).for_each(|_| s.faults.push_back((None, Fault::Fail)));
    }

    /// The next `n` requests are carried out but answered only after
    /// `delay` (past the client's timeout, the answer is lost).
    pub fn hang_next(&self, n: usize, delay: Duration) {
        let mut s = self.lock();
        (0..n).for_each(|_| s.faults.push_back((None, Fault::Hang(delay))));
    }

    /// The next request whose path starts with `path_prefix` answers
    /// `500` without acting.
    pub fn fail_next_on(&self, path_prefix: &str) {
        self.lock().faults.push_back((Some(path_prefix.to_owned()), Fault::Fail));
    }

    /// The next request whose path starts with `path_prefix` is carried out,
    /// then answered `500` instead of its result (the client cannot tell it
    /// from [`Self::fail_next_on`]).
    pub fn fail_after_acting_on(&self, path_prefix: &str) {
        self.lock().faults.push_back((Some(path_prefix.to_owned()), Fault::FailAfterActing));
    }

    /// The next `n` requests answer `503` without acting.
    pub fn unavailable_next(&self, n: usize) {
        let mut s = self.lock();
        (0..n).for_each(|_| s.faults.push_back((None, Fault::Unavailable)));
    }

    /// The next request whose path starts with `path_prefix` is carried out
    /// but answered only after `delay`.
    pub fn hang_next_on(&self, path_prefix: &str, delay: Duration) {
        self.lock().faults.push_back((Some(path_prefix.to_owned()), Fault::Hang(delay)));
    }

    pub fn orders_created(&self) -> usize {
        self.lock().orders_created
    }

    pub fn payments_created(&self) -> usize {
        self.lock().payments_created
    }

    pub fn refunds_created(&self) -> usize {
        self.lock().refunds_created
    }

    /// Calls of `POST /v1/payments/create/recurring` that passed
    /// validation.
    pub fn recurring_requests(&self) -> usize {
        self.lock().recurring_requests
    }

    pub fn order(&self, id: &str) -> Option<Value> {
        self.lock().orders.get(id).map(|o| o.json.clone())
    }

    pub fn payment(&self, id: &str) -> Option<Value> {
        self.lock().payments.get(id).cloned()
    }

    pub fn refund(&self, id: &str) -> Option<Value> {
        self.lock().refunds.get(id).cloned()
    }

    /// An event as Razorpay delivers it: `payload` is the event's payload
    /// object (e.g. `{"payment": {"entity": …}}`), signed with
    /// [`WEBHOOK_SECRET`] and with a fresh `x-razorpay-event-id`.
    pub fn webhook(&self, event: &str, payload: Value, created_at: jiff::Timestamp) -> SignedWebhook {
        let contains: Vec<String> = payload.as_object().map(|p| p.keys().cloned().collect()).unwrap_or_default();
        let body = json!({
            "entity": "event",
            "account_id": "acc_FakeAccount0001",
            "event": event,
            "contains": contains,
            "payload": payload,
            "created_at": created_at.as_second(),
        });
        let body = serde_json::to_vec(&body).expect("event JSON");
        let headers = Headers::from([
            ("content-type".to_owned(), "application/json".to_owned()),
            ("x-razorpay-signature".to_owned(), sign(WEBHOOK_SECRET, &body)),
            ("x-razorpay-event-id".to_owned(), random_id(14)),
        ]);
        SignedWebhook { headers, body }
    }
}

/// The signature the checkout returns for a payment of an order.
pub fn sign_checkout(order_id: &str, payment_id: &str) -> String {
    sign(KEY_SECRET, format!("{order_id}|{payment_id}").as_bytes())
}

/// Hex HMAC-SHA256 of `data` keyed with `secret`.
pub fn sign(secret: &str, data: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(data);
    hex::encode(mac.finalize().into_bytes())
}

fn random_id(len: usize) -> String {
    rand::rng().sample_iter(&rand::distr::Alphanumeric).take(len).map(char::from).collect()
}

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

fn card_entity(card: TestCard) -> Value {
    json!({
        "id": format!("card_{}", random_id(14)),
        "entity": "card",
        "name": "Test Buyer",
        "last4": card.last4,
        "network": card.network,
        "type": "credit",
        "issuer": "HDFC",
        "international": false,
        "emi": false,
        "sub_type": "consumer",
        "token_iin": null,
    })
}

fn add_token(s: &mut Inner, customer_id: &str, card: TestCard, declines: bool) -> String {
    let id = format!("token_{}", random_id(14));
    let mut card_json = card_entity(card);
    card_json["expiry_month"] = json!(12);
    card_json["expiry_year"] = json!(2034);
    s.tokens.insert(id.clone(), TokenState { customer_id: customer_id.to_owned(), declines, card: card_json });
    id
}

/// Creates a payment of the whole order; a failed one records the error.
fn create_payment(s: &mut Inner, order_id: &str, card: Value, token: Option<&str>, fails: bool, reason: &str) -> Value {
    let order = s.orders.get_mut(order_id).expect("known order");
    let amount = order.json["amount"].as_i64().unwrap_or(0);
    let fee = amount * 2 / 100;
    let id = format!("pay_{}", random_id(14));
    let status = if fails {
        "failed"
    } else if order.payment_capture {
        "captured"
    } else {
        "authorized"
    };
    let customer = order.customer_id.clone();
    let email = customer
        .as_ref()
        .and_then(|c| s.customers.get(c))
        .and_then(|c| c["email"].as_str())
        .unwrap_or("buyer@example.com");
    let contact = customer
        .as_ref()
        .and_then(|c| s.customers.get(c))
        .and_then(|c| c["contact"].as_str())
        .unwrap_or("+919900000000");
    let (error_code, error_description) = if fails {
        (json!("BAD_REQUEST_ERROR"), json!("Payment failed because the card has insufficient funds"))
    } else {
        (Value::Null, Value::Null)
    };
    let payment = json!({
        "id": id,
        "entity": "payment",
        "amount": amount,
        "currency": order.json["currency"],
        "status": status,
        "order_id": order_id,
        "invoice_id": null,
        "international": false,
        "method": "card",
        "amount_refunded": 0,
        "refund_status": null,
        "captured": status == "captured",
        "description": null,
        "card_id": card["id"],
        "card": card,
        "bank": null,
        "wallet": null,
        "vpa": null,
        "email": email,
        "contact": contact,
        "customer_id": customer,
        "token_id": token,
        "notes": order.json["notes"],
        "fee": if status == "captured" { json!(fee) } else { Value::Null },
        "tax": if status == "captured" { json!(fee * 18 / 118) } else { Value::Null },
        "error_code": error_code,
        "error_description": error_description,
        "error_source": if fails { json!("bank") } else { Value::Null },
        "error_step": if fails { json!("payment_authorization") } else { Value::Null },
        "error_reason": if fails { json!(reason) } else { Value::Null },
        "acquirer_data": { "auth_code": if fails { Value::Null } else { json!("828553") } },
        "created_at": now(),
    });
    order.payments.push(id.clone());
    order.json["attempts"] = json!(order.json["attempts"].as_i64().unwrap_or(0) + 1);
    if status == "captured" {
        mark_paid(&mut order.json, amount);
    } else if order.json["status"] == "created" {
        order.json["status"] = json!("attempted");
    }
    s.payments.insert(id, payment.clone());
    s.payments_created += 1;
    payment
}

fn mark_paid(order: &mut Value, amount: i64) {
    order["status"] = json!("paid");
    order["amount_paid"] = json!(amount);
    order["amount_due"] = json!(0);
}

fn error(
    status: StatusCode,
    code: &str,
    description: &str,
    field: Option<&str>,
    metadata: Value,
) -> (StatusCode, Value) {
    let mut e = json!({
        "code": code,
        "description": description,
        "source": "business",
        "step": "payment_initiation",
        "reason": "input_validation_failed",
        "metadata": metadata,
    });
    if let Some(field) = field {
        e["field"] = json!(field);
    }
    (status, json!({ "error": e }))
}

fn bad_request(description: &str, field: Option<&str>) -> (StatusCode, Value) {
    error(StatusCode::BAD_REQUEST, "BAD_REQUEST_ERROR", description, field, json!({}))
}

fn no_such_id() -> (StatusCode, Value) {
    bad_request("The id provided does not exist", Some("id"))
}

async fn handle(State(state): State<Shared>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let fault = {
        let mut s = state.lock().expect("state");
        let path = uri.path();
        let position = s.faults.iter().position(|(prefix, _)| prefix.as_deref().is_none_or(|p| path.starts_with(p)));
        position.and_then(|i| s.faults.remove(i)).map(|(_, fault)| fault)
    };
    let server_error = || {
        let (status, body) = error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "SERVER_ERROR",
            "The server encountered an error. The incident has been reported to admins.",
            None,
            json!({}),
        );
        (status, Json(body)).into_response()
    };
    match fault {
        Some(Fault::Fail) => return server_error(),
        Some(Fault::Unavailable) => {
            let (status, body) = error(
                StatusCode::SERVICE_UNAVAILABLE,
                "SERVER_ERROR",
                "The service is temporarily unavailable. Please try again later.",
                None,
                json!({}),
            );
            return (status, Json(body)).into_response();
        }
        _ => {}
    }
    let (status, body) = {
        let mut s = state.lock().expect("state");
        route(&mut s, &method, &uri, &headers, &body)
    };
    match fault {
        Some(Fault::FailAfterActing) => server_error(),
        Some(Fault::Hang(delay)) => {
            tokio::time::sleep(delay).await;
            (status, Json(body)).into_response()
        }
        _ => (status, Json(body)).into_response(),
    }
}

fn route(s: &mut Inner, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> (StatusCode, Value) {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let expected =
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{KEY_ID}:{KEY_SECRET}")));
    if header("authorization").as_deref() != Some(expected.as_str()) {
        return error(StatusCode::UNAUTHORIZED, "BAD_REQUEST_ERROR", "Authentication failed", None, json!({}));
    }
    let json_body = if method == Method::POST {
        if !header("content-type").is_some_and(|c| c.starts_with("application/json")) {
            return bad_request("The request body must be JSON", None);
        }
        match serde_json::from_slice::<Value>(body) {
            Ok(v) if v.is_object() => v,
            _ => return bad_request("The request body is not a valid JSON object", None),
        }
    } else {
        json!({})
    };
    let segments: Vec<&str> = uri.path().trim_matches('/').split('/').collect();
    match (method.clone(), segments.as_slice()) {
        (Method::POST, ["v1", "orders"]) => create_order(s, &json_body),
        (Method::GET, ["v1", "orders"]) => {
            let query: HashMap<String, String> =
                form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()).into_owned().collect();
            let items: Vec<Value> = s
                .order_ids
                .iter()
                .rev()
                .filter_map(|id| s.orders.get(id))
                .filter(|o| query.get("receipt").is_none_or(|r| o.json["receipt"] == r.as_str()))
                .map(|o| o.json.clone())
                .collect();
            (StatusCode::OK, json!({ "entity": "collection", "count": items.len(), "items": items }))
        }
        (Method::GET, ["v1", "orders", id]) => match s.orders.get(*id) {
            Some(o) => (StatusCode::OK, o.json.clone()),
            None => no_such_id(),
        },
        (Method::GET, ["v1", "orders", id, "payments"]) => match s.orders.get(*id) {
            Some(o) => {
                let items: Vec<Value> = o.payments.iter().filter_map(|p| s.payments.get(p).cloned()).collect();
                (StatusCode::OK, json!({ "entity": "collection", "count": items.len(), "items": items }))
            }
            None => no_such_id(),
        },
        (Method::POST, ["v1", "payments", "create", "recurring"]) => recurring(s, &json_body),
        (Method::GET, ["v1", "payments", id]) => match s.payments.get(*id) {
            Some(p) => (StatusCode::OK, p.clone()),
            None => no_such_id(),
        },
        (Method::POST, ["v1", "payments", id, "capture"]) => capture(s, id, &json_body),
        (Method::POST, ["v1", "payments", id, "refund"]) => {
            refund(s, id, &json_body, header("x-refund-idempotency").as_deref())
        }
        (Method::POST, ["v1", "customers"]) => create_customer(s, &json_body),
        (Method::GET, ["v1", "customers", id]) => match s.customers.get(*id) {
            Some(c) => (StatusCode::OK, c.clone()),
            None => no_such_id(),
        },
        _ => bad_request("The requested URL was not found on the server.", None),
    }
}

/// Validates notes: an object of at most 15 string values of 256
/// characters (Razorpay shows empty notes as `[]`).
fn check_notes(notes: &Value) -> Result<Value, (StatusCode, Value)> {
    match notes {
        Value::Null => Ok(json!([])),
        Value::Object(map) if map.is_empty() => Ok(json!([])),
        Value::Object(map) => {
            if map.len() > 15 {
                return Err(bad_request("Number of fields in notes should be less than or equal to 15", Some("notes")));
            }
            if map.values().any(|v| v.as_str().is_none_or(|v| v.chars().count() > 256)) {
                return Err(bad_request("notes values must be strings of at most 256 characters", Some("notes")));
            }
            Ok(notes.clone())
        }
        _ => Err(bad_request("notes must be an object", Some("notes"))),
    }
}

fn check_amount(amount: &Value, currency: &Value) -> Result<(i64, String), (StatusCode, Value)> {
    let Some(currency) = currency.as_str() else {
        return Err(bad_request("The currency field is required.", Some("currency")));
    };
    let Ok(known) = Currency::from_code(currency).map(|c| c.exponent()) else {
        return Err(bad_request("The currency provided is invalid", Some("currency")));
    };
    let Some(amount) = amount.as_i64() else {
        return Err(bad_request("The amount must be an integer.", Some("amount")));
    };
    let minimum = if known == 0 { 1 } else { 100 };
    if amount < minimum {
        return Err(bad_request(&format!("The amount must be at least {currency} {minimum} subunits"), Some("amount")));
    }
    if known == 3 && amount % 10 != 0 {
        return Err(bad_request("For three decimal currencies the last digit of the amount must be 0", Some("amount")));
    }
    if known > 3 {
        return Err(bad_request("The currency provided is not supported", Some("currency")));
    }
    Ok((amount, currency.to_owned()))
}

fn create_order(s: &mut Inner, body: &Value) -> (StatusCode, Value) {
    let (amount, currency) = match check_amount(&body["amount"], &body["currency"]) {
        Ok(v) => v,
        Err(e) => return e,
    };
    if let Some(receipt) = body.get("receipt") {
        match receipt.as_str() {
            Some(r) if r.chars().count() <= 40 => {}
            _ => return bad_request("receipt: The receipt may not be greater than 40 characters.", Some("receipt")),
        }
    }
    let notes = match check_notes(&body["notes"]) {
        Ok(n) => n,
        Err(e) => return e,
    };
    let payment_capture = match &body["payment_capture"] {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) if n.as_i64() == Some(0) || n.as_i64() == Some(1) => n.as_i64() == Some(1),
        _ => return bad_request("payment_capture must be a boolean", Some("payment_capture")),
    };
    let customer_id = body["customer_id"].as_str().map(str::to_owned);
    if customer_id.as_ref().is_some_and(|c| !s.customers.contains_key(c)) {
        return bad_request("The customer_id provided does not exist", Some("customer_id"));
    }
    let wants_token = body["token"].is_object();
    if wants_token && (customer_id.is_none() || body["token"]["max_amount"].as_i64().is_none_or(|m| m < amount)) {
        return bad_request("token requires customer_id and a max_amount of at least the order amount", Some("token"));
    }
    let id = format!("order_{}", random_id(14));
    let mut json = json!({
        "id": id,
        "entity": "order",
        "amount": amount,
        "amount_paid": 0,
        "amount_due": amount,
        "currency": currency,
        "receipt": body["receipt"],
        "offer_id": null,
        "status": "created",
        "attempts": 0,
        "notes": notes,
        "created_at": now(),
    });
    if let Some(c) = &customer_id {
        json["customer_id"] = json!(c);
    }
    for field in ["method", "token"] {
        if !body[field].is_null() {
            json[field] = body[field].clone();
        }
    }
    s.orders.insert(
        id.clone(),
        OrderState { json: json.clone(), payment_capture, customer_id, wants_token, payments: Vec::new() },
    );
    s.order_ids.push(id);
    s.orders_created += 1;
    (StatusCode::OK, json)
}

fn capture(s: &mut Inner, id: &str, body: &Value) -> (StatusCode, Value) {
    let Some(payment) = s.payments.get(id).cloned() else { return no_such_id() };
    if body["amount"].as_i64() != payment["amount"].as_i64() {
        return bad_request("Capture amount must be equal to the amount authorized", Some("amount"));
    }
    if body["currency"] != payment["currency"] {
        return bad_request("The currency should be the same as the payment currency", Some("currency"));
    }
    match payment["status"].as_str() {
        Some("authorized") => {}
        Some("captured") | Some("refunded") => return bad_request("This payment has already been captured", None),
        _ => return bad_request("Only payments which have been authorized and not yet captured can be captured", None),
    }
    let amount = payment["amount"].as_i64().unwrap_or(0);
    let fee = amount * 2 / 100;
    let order_id = payment["order_id"].as_str().unwrap_or_default().to_owned();
    let p = s.payments.get_mut(id).expect("payment present");
    p["status"] = json!("captured");
    p["captured"] = json!(true);
    p["fee"] = json!(fee);
    p["tax"] = json!(fee * 18 / 118);
    let answer = p.clone();
    if let Some(order) = s.orders.get_mut(&order_id) {
        mark_paid(&mut order.json, amount);
    }
    (StatusCode::OK, answer)
}

fn recurring(s: &mut Inner, body: &Value) -> (StatusCode, Value) {
    for field in ["email", "contact", "order_id", "customer_id", "token"] {
        if body[field].as_str().is_none_or(str::is_empty) {
            return bad_request(&format!("The {field} field is required."), Some(field));
        }
    }
    let recurring_on = matches!(&body["recurring"], Value::String(r) if r == "1")
        || body["recurring"] == json!(1)
        || body["recurring"] == json!(true);
    if !recurring_on {
        return bad_request("The recurring field must be 1 for recurring payments.", Some("recurring"));
    }
    let (amount, currency) = match check_amount(&body["amount"], &body["currency"]) {
        Ok(v) => v,
        Err(e) => return e,
    };
    let order_id = body["order_id"].as_str().unwrap_or_default();
    let customer_id = body["customer_id"].as_str().unwrap_or_default();
    let token_id = body["token"].as_str().unwrap_or_default();
    let Some(order) = s.orders.get(order_id) else { return no_such_id() };
    if order.json["amount"] != amount || order.json["currency"] != currency.as_str() {
        return bad_request("The amount and currency must match the order", Some("amount"));
    }
    if order.json["status"] == "paid" {
        return bad_request("Order has already been paid", Some("order_id"));
    }
    if !s.customers.contains_key(customer_id) {
        return bad_request("The customer_id provided does not exist", Some("customer_id"));
    }
    let Some(token) = s.tokens.get(token_id) else {
        return bad_request("The token id provided does not exist", Some("token"));
    };
    if token.customer_id != customer_id {
        return bad_request("The token does not belong to the customer", Some("token"));
    }
    s.recurring_requests += 1;
    let (card, declines) = (token.card.clone(), token.declines);
    if let Some(order) = s.orders.get_mut(order_id) {
        order.customer_id = Some(customer_id.to_owned());
        if let Some(notes) = body["notes"].as_object().filter(|n| !n.is_empty()) {
            order.json["notes"] = Value::Object(notes.clone());
        }
    }
    let payment = create_payment(s, order_id, card, Some(token_id), declines, "insufficient_funds");
    let payment_id = payment["id"].as_str().unwrap_or_default().to_owned();
    if declines {
        let mut answer = error(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST_ERROR",
            "Payment failed because the card has insufficient funds",
            None,
            json!({ "payment_id": payment_id, "order_id": order_id }),
        );
        answer.1["error"]["source"] = json!("bank");
        answer.1["error"]["step"] = json!("payment_authorization");
        answer.1["error"]["reason"] = json!("insufficient_funds");
        return answer;
    }
    (
        StatusCode::OK,
        json!({
            "razorpay_signature": sign_checkout(order_id, &payment_id),
            "razorpay_payment_id": payment_id,
            "razorpay_order_id": order_id,
        }),
    )
}

fn refund(s: &mut Inner, payment_id: &str, body: &Value, key: Option<&str>) -> (StatusCode, Value) {
    if let Some(key) = key {
        let valid = key.len() >= 10 && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid {
            return bad_request("The idempotency key must be at least 10 characters of letters, digits, - and _", None);
        }
        if let Some((first_body, answer)) = s.refund_keys.get(key) {
            return if first_body == body {
                (StatusCode::OK, answer.clone())
            } else {
                bad_request("Different request with the same idempotency key has already been processed.", None)
            };
        }
    }
    let Some(payment) = s.payments.get(payment_id).cloned() else { return no_such_id() };
    if !matches!(payment["status"].as_str(), Some("captured")) {
        return bad_request("The payment has not been captured or is fully refunded", None);
    }
    let captured = payment["amount"].as_i64().unwrap_or(0);
    let refunded = payment["amount_refunded"].as_i64().unwrap_or(0);
    let amount = match &body["amount"] {
        Value::Null => captured - refunded,
        v => match v.as_i64() {
            Some(a) if a > 0 => a,
            _ => return bad_request("The amount must be a positive integer.", Some("amount")),
        },
    };
    if amount > captured - refunded {
        return bad_request("The refund amount provided is greater than amount captured", Some("amount"));
    }
    let notes = match check_notes(&body["notes"]) {
        Ok(n) => n,
        Err(e) => return e,
    };
    if body["receipt"].as_str().is_some_and(|r| r.chars().count() > 40) {
        return bad_request("receipt: The receipt may not be greater than 40 characters.", Some("receipt"));
    }
    let speed = body["speed"].as_str().unwrap_or("normal");
    if speed != "normal" && speed != "optimum" {
        return bad_request("speed must be normal or optimum", Some("speed"));
    }
    let id = format!("rfnd_{}", random_id(14));
    let refund = json!({
        "id": id,
        "entity": "refund",
        "amount": amount,
        "currency": payment["currency"],
        "payment_id": payment_id,
        "notes": notes,
        "receipt": body["receipt"],
        "acquirer_data": { "arn": null },
        "created_at": now(),
        "batch_id": null,
        "status": "processed",
        "speed_processed": "normal",
        "speed_requested": speed,
    });
    let total = refunded + amount;
    let p = s.payments.get_mut(payment_id).expect("payment present");
    p["amount_refunded"] = json!(total);
    p["refund_status"] = json!(if total == captured { "full" } else { "partial" });
    if total == captured {
        p["status"] = json!("refunded");
    }
    s.refunds.insert(id, refund.clone());
    s.refunds_created += 1;
    if let Some(key) = key {
        s.refund_keys.insert(key.to_owned(), (body.clone(), refund.clone()));
    }
    (StatusCode::OK, refund)
}

fn create_customer(s: &mut Inner, body: &Value) -> (StatusCode, Value) {
    let name = body["name"].as_str();
    if name.is_some_and(|n| !(3..=50).contains(&n.chars().count())) {
        return bad_request("The name must be between 3 and 50 characters", Some("name"));
    }
    if body["email"].as_str().is_some_and(|e| e.len() > 64 || !e.contains('@')) {
        return bad_request("The email must be a valid email address.", Some("email"));
    }
    if body["contact"].as_str().is_some_and(|c| c.len() > 15) {
        return bad_request("Contact number should be at most 15 characters", Some("contact"));
    }
    let fail_existing = body["fail_existing"].as_str() != Some("0") && body["fail_existing"] != json!(0);
    let existing = s.customers.values().find(|c| {
        c["email"] == body["email"]
            && c["name"] == body["name"]
            && c["contact"] == body["contact"].as_str().map_or(Value::Null, |c| json!(c))
    });
    if let Some(existing) = existing {
        return if fail_existing {
            bad_request("Customer already exists for the merchant", None)
        } else {
            (StatusCode::OK, existing.clone())
        };
    }
    let id = format!("cust_{}", random_id(14));
    let notes = match check_notes(&body["notes"]) {
        Ok(n) => n,
        Err(e) => return e,
    };
    let customer = json!({
        "id": id, "entity": "customer", "name": body["name"], "email": body["email"],
        "contact": body["contact"], "gstin": null, "notes": notes, "created_at": now(),
    });
    s.customers.insert(id, customer.clone());
    (StatusCode::OK, customer)
}

/// Convenience for tests: a payload object for a payment event.
pub fn payment_payload(payment: Value) -> Value {
    let mut map = Map::new();
    map.insert("payment".into(), json!({ "entity": payment }));
    Value::Object(map)
}
