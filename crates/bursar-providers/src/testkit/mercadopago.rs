//! A local double of Mercado Pago's API: Checkout Pro preferences, payments
//! (read, search by `external_reference`), refunds and customers, with
//! in-memory state and Mercado Pago's shapes (numeric payment ids, decimal
//! amounts, `{"message", "error", "status", "cause"}` errors).
//!
//! It validates the way Mercado Pago does: `Authorization: Bearer` with the
//! access token, JSON bodies, an `X-Idempotency-Key` on every write (the
//! same key and body answer the first answer again and act once; another
//! body under the key is refused), positive `unit_price`s with no more
//! decimals than the currency takes there (CLP, COP whole), an
//! `external_reference` of at most 256 characters, `back_urls.success` when
//! `auto_return` is set, and refunds within what is left of an approved
//! payment.
//!
//! Test controls: the buyer pays a preference (returning the query the
//! back URL receives), with a card that approves, declines or leaves the
//! payment in process; status changes after the fact (approval of a
//! payment in process, a chargeback); failing (before or after acting),
//! refusing (503) or hanging requests; counters; and notifications signed
//! with the real `x-signature` scheme, at any time (late ones included).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::mercadopago::{
    mercadopago_decimals, parse_mercadopago_amount, sign_manifest, webhook_manifest, MercadoPagoConfig,
};
use crate::{Headers, HttpSettings, Money};

/// The access token the double accepts.
pub const ACCESS_TOKEN: &str = "TEST-1234567890123456-010203-fakeaccesstoken-987654321";
/// The secret the double signs notifications with.
pub const WEBHOOK_SECRET: &str = "fake-mercadopago-webhook-secret";
/// The collector (seller) the double plays.
pub const COLLECTOR_ID: u64 = 987_654_321;

/// How the buyer's card answers on the checkout page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestCard {
    /// `approved` / `accredited`.
    Approves,
    /// `rejected` / `cc_rejected_insufficient_amount`.
    Insufficient,
    /// `in_process` / `pending_contingency`: the outcome comes later.
    InProcess,
}

/// A notification as Mercado Pago delivers it: lower-cased headers, the
/// query it appends to the notification URL, and the raw body.
#[derive(Debug, Clone)]
pub struct SignedNotification {
    pub headers: Headers,
    pub query: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

enum Fault {
    Fail,
    FailAfterActing,
    Unavailable,
    Hang(Duration),
}

struct Inner {
    preferences: HashMap<String, Value>,
    payments: BTreeMap<u64, Value>,
    customers: Vec<Value>,
    keys: HashMap<String, (Method, String, Vec<u8>, StatusCode, Value)>,
    faults: VecDeque<(Option<String>, Fault)>,
    next_id: u64,
    preferences_created: usize,
    refunds_created: usize,
    writes_without_key: usize,
}

type Shared = Arc<Mutex<Inner>>;

/// The running double.
pub struct FakeMercadoPago {
    base_url: String,
    state: Shared,
}

impl FakeMercadoPago {
    pub async fn start() -> FakeMercadoPago {
        let state = Arc::new(Mutex::new(Inner {
            preferences: HashMap::new(),
            payments: BTreeMap::new(),
            customers: Vec::new(),
            keys: HashMap::new(),
            faults: VecDeque::new(),
            next_id: 1_300_000_001,
            preferences_created: 0,
            refunds_created: 0,
            writes_without_key: 0,
        }));
        let router = axum::Router::new().fallback(handle).with_state(state.clone());
        let base_url = super::serve(router).await;
        FakeMercadoPago { base_url, state }
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// A connector configuration for this double, with a 2 s request
    /// timeout and no `ts` tolerance.
    pub fn config(&self) -> MercadoPagoConfig {
        MercadoPagoConfig {
            access_token: ACCESS_TOKEN.into(),
            webhook_secret: WEBHOOK_SECRET.into(),
            api_base: self.base_url.clone(),
            notification_url: Some("https://school.example/webhooks/mercadopago".into()),
            http: HttpSettings { timeout: Duration::from_secs(2), connect_timeout: Duration::from_secs(1) },
            webhook_tolerance: None,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.state.lock().expect("fake mercadopago state")
    }

    /// The buyer pays the preference on its checkout page. Returns the
    /// query Mercado Pago appends to the back URL it sends the buyer to
    /// (`payment_id`, `collection_id`, `status`, `external_reference`,
    /// `preference_id`, …) and the id of the payment made.
    ///
    /// Panics on an unknown preference.
    pub fn pay_preference(&self, preference_id: &str, card: TestCard) -> BTreeMap<String, String> {
        let mut s = self.lock();
        let preference = s.preferences.get(preference_id).cloned().expect("pay_preference: unknown preference");
        let item = &preference["items"][0];
        let currency = item["currency_id"].as_str().unwrap_or("BRL").to_owned();
        let (status, detail) = match card {
            TestCard::Approves => ("approved", "accredited"),
            TestCard::Insufficient => ("rejected", "cc_rejected_insufficient_amount"),
            TestCard::InProcess => ("in_process", "pending_contingency"),
        };
        let id = s.next_id;
        s.next_id += 1;
        let total = preference["items"]
            .as_array()
            .map(|items| {
                items.iter().fold(0_i64, |acc, i| {
                    let unit = amount(&i["unit_price"], &currency).map_or(0, |m| m.minor);
                    acc + unit * i["quantity"].as_i64().unwrap_or(1)
                })
            })
            .unwrap_or(0);
        let fee = total * 499 / 10_000;
        let now = now();
        let payment = json!({
            "id": id,
            "date_created": now,
            "date_approved": if status == "approved" { json!(now) } else { Value::Null },
            "date_last_updated": now,
            "money_release_date": null,
            "operation_type": "regular_payment",
            "payment_method_id": "visa",
            "payment_type_id": "credit_card",
            "status": status,
            "status_detail": detail,
            "currency_id": currency,
            "description": item["title"],
            "collector_id": COLLECTOR_ID,
            "payer": { "id": "123456789", "email": preference["payer"]["email"], "type": null },
            "metadata": preference["metadata"],
            "external_reference": preference["external_reference"],
            "transaction_amount": decimal_value(total, &currency),
            "transaction_amount_refunded": 0,
            "fee_details": if status == "approved" {
                json!([{ "type": "mercadopago_fee", "amount": decimal_value(fee, &currency), "fee_payer": "collector" }])
            } else {
                json!([])
            },
            "transaction_details": { "total_paid_amount": decimal_value(total, &currency), "installment_amount": decimal_value(total, &currency) },
            "installments": 1,
            "card": { "first_six_digits": "423564", "last_four_digits": "5682", "expiration_month": 11, "expiration_year": 2030 },
            "order": { "id": id + 7_000_000_000, "type": "mercadopago" },
            "refunds": [],
            "live_mode": false,
        });
        s.payments.insert(id, payment);
        BTreeMap::from([
            ("collection_id".to_owned(), id.to_string()),
            ("collection_status".to_owned(), status.to_owned()),
            ("payment_id".to_owned(), id.to_string()),
            ("status".to_owned(), status.to_owned()),
            ("external_reference".to_owned(), preference["external_reference"].as_str().unwrap_or("").to_owned()),
            ("payment_type".to_owned(), "credit_card".to_owned()),
            ("merchant_order_id".to_owned(), (id + 7_000_000_000).to_string()),
            ("preference_id".to_owned(), preference_id.to_owned()),
            ("site_id".to_owned(), "MLB".to_owned()),
            ("processing_mode".to_owned(), "aggregator".to_owned()),
            ("merchant_account_id".to_owned(), "null".to_owned()),
        ])
    }

    /// Changes a payment's status after the fact (`approved` for one in
    /// process, `charged_back`, `cancelled`, …).
    pub fn set_status(&self, payment_id: &str, status: &str, detail: &str) {
        let mut s = self.lock();
        let id: u64 = payment_id.parse().expect("numeric payment id");
        let p = s.payments.get_mut(&id).expect("set_status: unknown payment");
        p["status"] = json!(status);
        p["status_detail"] = json!(detail);
        p["date_last_updated"] = json!(now());
    }

    /// The next request whose path starts with `path_prefix` answers `500`
    /// without acting.
    pub fn fail_next_on(&self, path_prefix: &str) {
        self.lock().faults.push_back((Some(path_prefix.to_owned()), Fault::Fail));
    }

    /// The next request whose path starts with `path_prefix` is carried out,
    /// then answered `500` instead of its result.
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

    pub fn preferences_created(&self) -> usize {
        self.lock().preferences_created
    }

    pub fn refunds_created(&self) -> usize {
        self.lock().refunds_created
    }

    /// Writes refused because they carried no `X-Idempotency-Key`.
    pub fn writes_without_key(&self) -> usize {
        self.lock().writes_without_key
    }

    pub fn preference(&self, id: &str) -> Option<Value> {
        self.lock().preferences.get(id).cloned()
    }

    pub fn payment(&self, id: &str) -> Option<Value> {
        let id: u64 = id.parse().ok()?;
        self.lock().payments.get(&id).cloned()
    }

    /// A `payment` notification (`payment.created`, `payment.updated`) for
    /// the payment, signed now with [`WEBHOOK_SECRET`].
    pub fn notification(&self, payment_id: &str, action: &str) -> SignedNotification {
        self.notification_at(payment_id, action, jiff::Timestamp::now(), WEBHOOK_SECRET)
    }

    /// A notification signed at `at` with `secret`: a late delivery, or a
    /// forgery with a wrong secret.
    pub fn notification_at(
        &self,
        payment_id: &str,
        action: &str,
        at: jiff::Timestamp,
        secret: &str,
    ) -> SignedNotification {
        let notification_id = {
            let mut s = self.lock();
            s.next_id += 1;
            s.next_id + 100_000_000_000
        };
        let body = json!({
            "action": action,
            "api_version": "v1",
            "data": { "id": payment_id },
            "date_created": at.to_string(),
            "id": notification_id,
            "live_mode": false,
            "type": "payment",
            "user_id": COLLECTOR_ID,
        });
        let request_id = uuid::Uuid::now_v7().to_string();
        let ts = at.as_millisecond().to_string();
        let manifest = webhook_manifest(Some(payment_id), Some(&request_id), Some(&ts));
        let signature = format!("ts={ts},v1={}", sign_manifest(secret, &manifest));
        SignedNotification {
            headers: Headers::from([
                ("content-type".to_owned(), "application/json".to_owned()),
                ("x-request-id".to_owned(), request_id),
                ("x-signature".to_owned(), signature),
            ]),
            query: BTreeMap::from([
                ("data.id".to_owned(), payment_id.to_owned()),
                ("type".to_owned(), "payment".to_owned()),
            ]),
            body: serde_json::to_vec(&body).expect("notification JSON"),
        }
    }
}

fn now() -> String {
    // Mercado Pago writes local times with an offset and milliseconds.
    let zoned = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::fixed(jiff::tz::offset(-4)));
    zoned.strftime("%Y-%m-%dT%H:%M:%S%.3f%:z").to_string()
}

/// Minor units as a JSON number with the decimals Mercado Pago shows for
/// the currency (written from the exact decimal text).
fn decimal_value(minor: i64, currency: &str) -> Value {
    let iso = bursar_domain::money::Currency::from_code(currency).map(|c| u32::from(c.exponent())).unwrap_or(2);
    let text = if iso == 0 {
        minor.to_string()
    } else {
        let scale = 10_i64.pow(iso);
        format!("{}.{:0width$}", minor / scale, minor % scale, width = iso as usize)
    };
    serde_json::from_str(&text).expect("a decimal is a JSON number")
}

fn amount(v: &Value, currency: &str) -> Option<Money> {
    match v {
        Value::Number(n) => parse_mercadopago_amount(&n.to_string(), currency),
        _ => None,
    }
}

/// The decimals written in a JSON number's text (`10.50` → 1 after the
/// shortest form `10.5`).
fn decimals_of(v: &Value) -> usize {
    let text = v.to_string();
    text.split_once('.').map_or(0, |(_, f)| f.trim_end_matches('0').len())
}

fn error(status: StatusCode, error: &str, message: &str, cause: Value) -> (StatusCode, Value) {
    (status, json!({ "message": message, "error": error, "status": status.as_u16(), "cause": cause }))
}

fn bad_request(message: &str) -> (StatusCode, Value) {
    error(StatusCode::BAD_REQUEST, "bad_request", message, json!([]))
}

fn not_found(message: &str) -> (StatusCode, Value) {
    error(StatusCode::NOT_FOUND, "not_found", message, json!([{ "code": 2000, "description": message }]))
}

async fn handle(State(state): State<Shared>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let fault = {
        let mut s = state.lock().expect("state");
        let path = uri.path();
        let position = s.faults.iter().position(|(prefix, _)| prefix.as_deref().is_none_or(|p| path.starts_with(p)));
        position.and_then(|i| s.faults.remove(i)).map(|(_, fault)| fault)
    };
    let internal = || {
        let (status, body) = error(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "internal_error", json!([]));
        (status, Json(body)).into_response()
    };
    match fault {
        Some(Fault::Fail) => return internal(),
        Some(Fault::Unavailable) => {
            let (status, body) =
                error(StatusCode::SERVICE_UNAVAILABLE, "service_unavailable", "service unavailable", json!([]));
            return (status, Json(body)).into_response();
        }
        _ => {}
    }
    let (status, answer) = {
        let mut s = state.lock().expect("state");
        route(&mut s, &method, &uri, &headers, &body)
    };
    match fault {
        Some(Fault::FailAfterActing) => internal(),
        Some(Fault::Hang(delay)) => {
            tokio::time::sleep(delay).await;
            (status, Json(answer)).into_response()
        }
        _ => (status, Json(answer)).into_response(),
    }
}

fn route(s: &mut Inner, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> (StatusCode, Value) {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    if header("authorization").as_deref() != Some(format!("Bearer {ACCESS_TOKEN}").as_str()) {
        return error(StatusCode::UNAUTHORIZED, "unauthorized", "invalid access token", json!([]));
    }
    let query: HashMap<String, String> =
        form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()).into_owned().collect();
    let segments: Vec<&str> = uri.path().trim_matches('/').split('/').collect();
    if method == Method::GET {
        return match segments.as_slice() {
            ["checkout", "preferences", id] => match s.preferences.get(*id) {
                Some(p) => (StatusCode::OK, p.clone()),
                None => not_found("preference not found"),
            },
            ["v1", "payments", "search"] => {
                let mut results: Vec<Value> = s
                    .payments
                    .values()
                    .filter(|p| query.get("external_reference").is_none_or(|r| p["external_reference"] == r.as_str()))
                    .cloned()
                    .collect();
                if query.get("criteria").map(String::as_str) == Some("desc") {
                    results.reverse();
                }
                let total = results.len();
                (StatusCode::OK, json!({ "paging": { "total": total, "limit": 50, "offset": 0 }, "results": results }))
            }
            ["v1", "payments", id] => match id.parse::<u64>().ok().and_then(|id| s.payments.get(&id)) {
                Some(p) => (StatusCode::OK, p.clone()),
                None => not_found("Payment not found"),
            },
            ["v1", "payments", id, "refunds"] => match id.parse::<u64>().ok().and_then(|id| s.payments.get(&id)) {
                Some(p) => (StatusCode::OK, p["refunds"].clone()),
                None => not_found("Payment not found"),
            },
            ["v1", "customers", "search"] => {
                let results: Vec<Value> = s
                    .customers
                    .iter()
                    .filter(|c| query.get("email").is_none_or(|e| c["email"] == e.as_str()))
                    .cloned()
                    .collect();
                let total = results.len();
                (StatusCode::OK, json!({ "paging": { "total": total, "limit": 10, "offset": 0 }, "results": results }))
            }
            _ => not_found("resource not found"),
        };
    }
    if method != Method::POST {
        return error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "method not allowed", json!([]));
    }
    let Some(key) = header("x-idempotency-key").filter(|k| !k.is_empty()) else {
        s.writes_without_key += 1;
        return bad_request("the X-Idempotency-Key header is required");
    };
    if !header("content-type").is_some_and(|c| c.starts_with("application/json")) {
        return bad_request("the body must be JSON");
    }
    let json_body = match serde_json::from_slice::<Value>(body) {
        Ok(v) if v.is_object() => v,
        _ => return bad_request("the body is not a valid JSON object"),
    };
    if let Some((m, path, first, status, answer)) = s.keys.get(&key) {
        return if m == method && *path == uri.path() && first.as_slice() == body {
            (*status, answer.clone())
        } else {
            error(StatusCode::CONFLICT, "conflict", "the idempotency key was used for another request", json!([]))
        };
    }
    let (status, answer) = match segments.as_slice() {
        ["checkout", "preferences"] => create_preference(s, &json_body),
        ["v1", "payments", id, "refunds"] => refund(s, id, &json_body),
        ["v1", "customers"] => create_customer(s, &json_body),
        _ => not_found("resource not found"),
    };
    if status.is_success() {
        s.keys.insert(key, (method.clone(), uri.path().to_owned(), body.to_vec(), status, answer.clone()));
    }
    (status, answer)
}

fn create_preference(s: &mut Inner, body: &Value) -> (StatusCode, Value) {
    let Some(items) = body["items"].as_array().filter(|i| !i.is_empty()) else {
        return bad_request("items is required");
    };
    for item in items {
        let Some(currency) = item["currency_id"].as_str() else { return bad_request("items.currency_id is required") };
        let Ok(decimals) = mercadopago_decimals(currency) else {
            return bad_request(&format!("currency_id {currency} invalid"));
        };
        if item["title"].as_str().is_none_or(|t| t.is_empty() || t.chars().count() > 256) {
            return bad_request("items.title is required and at most 256 characters");
        }
        if item["quantity"].as_u64().is_none_or(|q| q == 0) {
            return bad_request("items.quantity must be a positive integer");
        }
        let price = &item["unit_price"];
        if !price.is_number() || amount(price, currency).is_none_or(|m| m.minor <= 0) {
            return bad_request("unit_price invalid");
        }
        if decimals_of(price) > decimals as usize {
            return bad_request(&format!("unit_price invalid: {currency} takes {decimals} decimals"));
        }
    }
    if body["external_reference"].as_str().is_some_and(|r| r.chars().count() > 256) {
        return bad_request("external_reference must be at most 256 characters");
    }
    if body["auto_return"].is_string() && body["back_urls"]["success"].as_str().is_none_or(str::is_empty) {
        return bad_request("auto_return invalid. back_url.success must be defined");
    }
    let id = format!("{COLLECTOR_ID}-{}", uuid::Uuid::now_v7());
    let mut preference = body.clone();
    preference["id"] = json!(id);
    preference["collector_id"] = json!(COLLECTOR_ID);
    preference["client_id"] = json!("6295877106812064");
    preference["date_created"] = json!(now());
    preference["operation_type"] = json!("regular_payment");
    preference["init_point"] = json!(format!("https://www.mercadopago.com.br/checkout/v1/redirect?pref_id={id}"));
    preference["sandbox_init_point"] =
        json!(format!("https://sandbox.mercadopago.com.br/checkout/v1/redirect?pref_id={id}"));
    if preference["metadata"].is_null() {
        preference["metadata"] = json!({});
    }
    s.preferences.insert(id, preference.clone());
    s.preferences_created += 1;
    (StatusCode::CREATED, preference)
}

fn refund(s: &mut Inner, id: &str, body: &Value) -> (StatusCode, Value) {
    let Some(pid) = id.parse::<u64>().ok().filter(|id| s.payments.contains_key(id)) else {
        return not_found("Payment not found");
    };
    let payment = s.payments[&pid].clone();
    let currency = payment["currency_id"].as_str().unwrap_or("").to_owned();
    if payment["status"] != "approved" {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "Payment not refundable",
            json!([{ "code": 2063, "description": "the payment is not approved" }]),
        );
    }
    let total = amount(&payment["transaction_amount"], &currency).map_or(0, |m| m.minor);
    let refunded = amount(&payment["transaction_amount_refunded"], &currency).map_or(0, |m| m.minor);
    let requested = match &body["amount"] {
        Value::Null => total - refunded,
        v => match amount(v, &currency) {
            Some(m) if m.minor > 0 && decimals_of(v) <= mercadopago_decimals(&currency).unwrap_or(2) as usize => {
                m.minor
            }
            _ => return bad_request("amount invalid"),
        },
    };
    if requested > total - refunded {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "Invalid refund amount",
            json!([{ "code": 4040, "description": "amount exceeds what is left to refund" }]),
        );
    }
    s.next_id += 1;
    let refund_id = s.next_id + 2_000_000_000;
    let refund = json!({
        "id": refund_id,
        "payment_id": pid,
        "amount": decimal_value(requested, &currency),
        "metadata": {},
        "source": { "id": COLLECTOR_ID.to_string(), "name": "Seller", "type": "collector" },
        "date_created": now(),
        "unique_sequence_number": null,
        "refund_mode": "standard",
        "adjustment_amount": 0,
        "status": "approved",
        "reason": null,
        "labels": [],
        "amount_refunded_to_payer": decimal_value(requested, &currency),
    });
    let after = refunded + requested;
    let p = s.payments.get_mut(&pid).expect("payment present");
    p["transaction_amount_refunded"] = decimal_value(after, &currency);
    if let Some(list) = p["refunds"].as_array_mut() {
        list.push(refund.clone());
    }
    if after == total {
        p["status"] = json!("refunded");
        p["status_detail"] = json!("refunded");
    } else {
        p["status_detail"] = json!("partially_refunded");
    }
    p["date_last_updated"] = json!(now());
    s.refunds_created += 1;
    (StatusCode::CREATED, refund)
}

fn create_customer(s: &mut Inner, body: &Value) -> (StatusCode, Value) {
    let Some(email) = body["email"].as_str().filter(|e| e.contains('@')) else {
        return bad_request("email invalid");
    };
    if s.customers.iter().any(|c| c["email"] == email) {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "the customer already exists",
            json!([{ "code": "101", "description": "the customer already exist" }]),
        );
    }
    s.next_id += 1;
    let id = format!("{}-fakecust", s.next_id);
    let customer = json!({
        "id": id, "email": email, "first_name": body["first_name"], "last_name": body["last_name"],
        "description": body["description"], "date_created": now(), "cards": [], "live_mode": false,
    });
    s.customers.push(customer.clone());
    (StatusCode::CREATED, customer)
}
