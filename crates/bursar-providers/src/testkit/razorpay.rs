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

use crate::razorpay::RazorpayConfig;
use crate::{Headers, HttpSettings};

mod http;
mod ops;

use self::http::*;
use self::ops::*;

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

/// Convenience for tests: a payload object for a payment event.
pub fn payment_payload(payment: Value) -> Value {
    let mut map = Map::new();
    map.insert("payment".into(), json!({ "entity": payment }));
    Value::Object(map)
}
