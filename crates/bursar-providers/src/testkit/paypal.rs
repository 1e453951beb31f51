//! A local double of PayPal's REST API: OAuth2 client credentials, Orders
//! v2 (create, get, capture), Payments v2 (get capture, refund), Payouts v1
//! (create and show a batch) and the webhook verification API, with
//! in-memory state.
//!
//! It validates the way PayPal does: bearer tokens it issued, amounts with
//! exactly the decimals PayPal takes for the currency, supported currencies,
//! return and cancel URLs for buyer flows, orders approved before capture,
//! refunds within the captured amount, and `PayPal-Request-Id`: a repeated
//! id on the same endpoint answers the stored response and creates nothing.
//! Errors have PayPal's shape (`name`, `message`, `details[].issue`).
//!
//! Payouts: a batch is checked as PayPal does (items, `recipient_type`,
//! receivers, amounts `{value, currency}` with the currency's decimals,
//! lengths), a `sender_batch_id` used before is refused with
//! `USER_BUSINESS_ERROR` and a link to the first batch, and each read of a
//! batch moves it one step on: `PENDING`, `PROCESSING`, then `SUCCESS` with
//! its item settled ([`FakePaypal::complete_payouts`] settles them all at
//! once). Batches to [`DENIED_RECEIVER`] are denied; items to
//! [`RETURNED_RECEIVER`] end `RETURNED` (never claimed).
//!
//! Test controls: approve an order as the buyer (optionally vaulting the
//! wallet, or with funding that declines), vaulted wallets with fixed
//! behaviours ([`DECLINING_VAULT_ID`], [`CAPTURE_DECLINED_VAULT_ID`],
//! [`PAYER_ACTION_VAULT_ID`]), failing (before or after acting), refusing
//! (503) or hanging the next requests, revoking
//! tokens, counters, and webhooks the double "sends": the verification
//! endpoint answers `SUCCESS` only for those, with their transmission
//! headers and an unchanged event.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine as _;
use rand::Rng as _;
use serde_json::{json, Value};

use crate::paypal::{PaypalConfig, DEFAULT_WEBHOOK_TOLERANCE, SUPPORTED_CURRENCIES};
use crate::{Headers, HttpSettings};

/// The client id the double accepts.
pub const CLIENT_ID: &str = "AfakePaypalClientId";
/// The client secret the double accepts.
pub const CLIENT_SECRET: &str = "EfakePaypalClientSecret";
/// The webhook id events are verified against.
pub const WEBHOOK_ID: &str = "1JE4291016473214C";
/// A vaulted wallet whose charges PayPal refuses (`422
/// INSTRUMENT_DECLINED`, no order created).
pub const DECLINING_VAULT_ID: &str = "vaultdeclined01";
/// A vaulted wallet whose charge creates a completed order with a
/// `DECLINED` capture.
pub const CAPTURE_DECLINED_VAULT_ID: &str = "vaultcapturedeclined01";
/// A vaulted wallet whose charge needs the payer (`PAYER_ACTION_REQUIRED`).
pub const PAYER_ACTION_VAULT_ID: &str = "vaultpayeraction01";
/// A payout receiver whose batch PayPal denies: created `DENIED`, its item
/// `FAILED` with `RECEIVER_ACCOUNT_LOCKED`.
pub const DENIED_RECEIVER: &str = "denied-receiver@payouts.example";
/// A payout receiver who never claims: the batch completes and the item
/// ends `RETURNED` with `RECEIVER_UNREGISTERED`.
pub const RETURNED_RECEIVER: &str = "unclaimed-receiver@payouts.example";

/// A webhook as PayPal would deliver it: lower-cased headers and raw body.
#[derive(Debug, Clone)]
pub struct SignedWebhook {
    pub headers: Headers,
    pub body: Vec<u8>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Buyer {
    Pays,
    Declines,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum VaultBehaviour {
    Pays,
    Declines,
    CaptureDeclined,
    PayerAction,
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

struct Order {
    json: Value,
    buyer: Option<Buyer>,
    vault_on_approval: bool,
    wants_vault: bool,
    /// The vault customer the order asked to save the wallet for
    /// (`attributes.customer.id`).
    vault_customer: Option<String>,
    refunded_units: i64,
}

/// A payout batch and how far PayPal has processed it.
struct PayoutBatch {
    json: Value,
    sender_batch_id: Option<String>,
    /// 0 `PENDING`, 1 `PROCESSING`, 2 settled.
    stage: u8,
}

struct Transmission {
    sig: String,
    time: String,
    cert_url: String,
    event: Value,
}

struct Inner {
    base_url: String,
    tokens: HashSet<String>,
    token_lifetime: u64,
    token_requests: usize,
    refuse_tokens: bool,
    orders: HashMap<String, Order>,
    captures: HashMap<String, String>,
    refunds: HashMap<String, Value>,
    vaults: HashMap<String, VaultBehaviour>,
    stored: HashMap<(String, String), (StatusCode, Value)>,
    faults: VecDeque<(Option<String>, Fault)>,
    transmissions: HashMap<String, Transmission>,
    orders_created: usize,
    captures_created: usize,
    refunds_created: usize,
    last_order_request: Option<Value>,
    payouts: HashMap<String, PayoutBatch>,
    payouts_created: usize,
    payout_refusals: usize,
    last_payout_request: Option<Value>,
}

type Shared = Arc<Mutex<Inner>>;

/// The running double.
pub struct FakePaypal {
    base_url: String,
    state: Shared,
}

impl FakePaypal {
    /// Starts the double on a loopback port.
    pub async fn start() -> FakePaypal {
        let state = Arc::new(Mutex::new(Inner {
            base_url: String::new(),
            tokens: HashSet::new(),
            token_lifetime: 32_400,
            token_requests: 0,
            refuse_tokens: false,
            orders: HashMap::new(),
            captures: HashMap::new(),
            refunds: HashMap::new(),
            vaults: HashMap::from([
                (DECLINING_VAULT_ID.to_owned(), VaultBehaviour::Declines),
                (CAPTURE_DECLINED_VAULT_ID.to_owned(), VaultBehaviour::CaptureDeclined),
                (PAYER_ACTION_VAULT_ID.to_owned(), VaultBehaviour::PayerAction),
            ]),
            stored: HashMap::new(),
            faults: VecDeque::new(),
            transmissions: HashMap::new(),
            orders_created: 0,
            captures_created: 0,
            refunds_created: 0,
            last_order_request: None,
            payouts: HashMap::new(),
            payouts_created: 0,
            payout_refusals: 0,
            last_payout_request: None,
        }));
        let router = axum::Router::new().fallback(handle).with_state(state.clone());
        let base_url = super::serve(router).await;
        state.lock().expect("state").base_url = base_url.clone();
        FakePaypal { base_url, state }
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// A connector configuration for this double, with a 2 s request
    /// timeout.
    pub fn config(&self) -> PaypalConfig {
        PaypalConfig {
            client_id: CLIENT_ID.into(),
            client_secret: CLIENT_SECRET.into(),
            webhook_id: WEBHOOK_ID.into(),
            api_base: self.base_url.clone(),
            http: HttpSettings { timeout: Duration::from_secs(2), connect_timeout: Duration::from_secs(1) },
            webhook_tolerance: DEFAULT_WEBHOOK_TOLERANCE,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.state.lock().expect("fake paypal state")
    }

    /// The buyer approves the order on PayPal's page; with `vault` they
    /// also agree to save the wallet (honoured when the order asked for
    /// it). Returns false for an unknown order or one not awaiting approval.
    pub fn approve(&self, order_id: &str, vault: bool) -> bool {
        self.set_buyer(order_id, Buyer::Pays, vault)
    }

    /// The buyer approves with funding that PayPal then declines at capture
    /// (`422 INSTRUMENT_DECLINED`).
    pub fn approve_with_declining_funds(&self, order_id: &str) -> bool {
        self.set_buyer(order_id, Buyer::Declines, false)
    }

    fn set_buyer(&self, order_id: &str, buyer: Buyer, vault: bool) -> bool {
        let mut s = self.lock();
        let Some(order) = s.orders.get_mut(order_id) else { return false };
        if !matches!(order.json["status"].as_str(), Some("CREATED" | "PAYER_ACTION_REQUIRED")) {
            return false;
        }
        order.json["status"] = json!("APPROVED");
        order.json["payer"] = json!({
            "name": { "given_name": "Test", "surname": "Buyer" },
            "email_address": "buyer@example.com",
            "payer_id": "TESTPAYER01",
        });
        order.buyer = Some(buyer);
        order.vault_on_approval = vault;
        true
    }

    /// A vaulted wallet that pays, as if saved by an earlier checkout.
    pub fn add_vaulted_wallet(&self) -> String {
        let id = random_id(12).to_ascii_lowercase();
        self.lock().vaults.insert(id.clone(), VaultBehaviour::Pays);
        id
    }

    /// The next `n` requests answer `500 INTERNAL_SERVER_ERROR` without
    /// acting.
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

    /// Invalidates every issued access token: the next call answers 401.
    pub fn revoke_tokens(&self) {
        self.lock().tokens.clear();
    }

    /// While set, every bearer token is refused with 401 (as when the app's
    /// credentials lose their permissions), although new ones are issued.
    pub fn refuse_tokens(&self, refuse: bool) {
        self.lock().refuse_tokens = refuse;
    }

    /// The `expires_in` of tokens issued from now on.
    pub fn set_token_lifetime(&self, seconds: u64) {
        self.lock().token_lifetime = seconds;
    }

    pub fn token_requests(&self) -> usize {
        self.lock().token_requests
    }

    pub fn orders_created(&self) -> usize {
        self.lock().orders_created
    }

    pub fn captures_created(&self) -> usize {
        self.lock().captures_created
    }

    pub fn refunds_created(&self) -> usize {
        self.lock().refunds_created
    }

    /// Payout batches created (a refused or replayed request creates none).
    pub fn payouts_created(&self) -> usize {
        self.lock().payouts_created
    }

    /// The body of the last create-payout request that passed validation.
    pub fn last_payout_request(&self) -> Option<Value> {
        self.lock().last_payout_request.clone()
    }

    /// The batch as `GET /v1/payments/payouts/{id}` shows it (without
    /// moving it on).
    pub fn payout_batch(&self, payout_batch_id: &str) -> Option<Value> {
        self.lock().payouts.get(payout_batch_id).map(|b| b.json.clone())
    }

    /// The next `n` payout batches are refused with `422
    /// INSUFFICIENT_FUNDS` (nothing is created).
    pub fn refuse_payouts_for_funds(&self, n: usize) {
        self.lock().payout_refusals += n;
    }

    /// Settles every payout batch still in progress, as if PayPal had
    /// processed them all.
    pub fn complete_payouts(&self) {
        let mut s = self.lock();
        for batch in s.payouts.values_mut() {
            while batch.stage < 2 {
                advance_payout(batch);
            }
        }
    }

    /// Forgets every `PayPal-Request-Id` seen (PayPal keeps them for a
    /// limited time): repeated requests are processed again, and only
    /// PayPal's own rules (a `sender_batch_id` used before) refuse them.
    pub fn forget_request_ids(&self) {
        self.lock().stored.clear();
    }

    /// The order as `GET /v2/checkout/orders/{id}` shows it.
    pub fn order(&self, id: &str) -> Option<Value> {
        self.lock().orders.get(id).map(|o| o.json.clone())
    }

    /// The body of the last create-order request that passed validation.
    pub fn last_order_request(&self) -> Option<Value> {
        self.lock().last_order_request.clone()
    }

    /// The capture resource (as in webhooks and `GET /v2/payments/captures`)
    /// of an order.
    pub fn capture_of(&self, order_id: &str) -> Option<Value> {
        let s = self.lock();
        let order = s.orders.get(order_id)?;
        order.json["purchase_units"][0]["payments"]["captures"][0].as_object().map(|_| capture_resource(order))
    }

    /// A refund resource as PayPal's refund answer and webhooks show it.
    pub fn refund(&self, refund_id: &str) -> Option<Value> {
        self.lock().refunds.get(refund_id).cloned()
    }

    /// Builds and "sends" an event: the returned headers and body are what
    /// PayPal would deliver, and the verification endpoint will answer
    /// `SUCCESS` for exactly these transmission headers and this event.
    pub fn webhook(&self, event_type: &str, resource: Value, at: jiff::Timestamp) -> SignedWebhook {
        let resource_type = match event_type.split('.').nth(1) {
            Some("CAPTURE") => "capture",
            Some("DISPUTE") => "dispute",
            Some("ORDER") => "checkout-order",
            _ => "unknown",
        };
        let event = json!({
            "id": format!("WH-{}-{}", random_id(17), random_id(17)),
            "event_version": "1.0",
            "create_time": at.to_string(),
            "resource_type": resource_type,
            "resource_version": "2.0",
            "event_type": event_type,
            "summary": format!("{event_type} event"),
            "resource": resource,
            "links": [],
        });
        let transmission_id = uuid::Uuid::now_v7().to_string();
        let mut sig = [0_u8; 96];
        rand::rng().fill(&mut sig[..]);
        let sig = base64::engine::general_purpose::STANDARD.encode(sig);
        let cert_url = format!("{}/v1/notifications/certs/CERT-360caa42-fca2a594-{}", self.base_url, random_id(8));
        let time = at.to_string();
        let body = serde_json::to_vec(&event).expect("event JSON");
        self.lock().transmissions.insert(
            transmission_id.clone(),
            Transmission { sig: sig.clone(), time: time.clone(), cert_url: cert_url.clone(), event },
        );
        let headers = Headers::from([
            ("content-type".to_owned(), "application/json".to_owned()),
            ("paypal-auth-algo".to_owned(), "SHA256withRSA".to_owned()),
            ("paypal-cert-url".to_owned(), cert_url),
            ("paypal-transmission-id".to_owned(), transmission_id),
            ("paypal-transmission-sig".to_owned(), sig),
            ("paypal-transmission-time".to_owned(), time),
        ]);
        SignedWebhook { headers, body }
    }
}

fn random_id(len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| {
            let n = rng.random_range(0..36_u8);
            char::from(if n < 10 { b'0' + n } else { b'A' + n - 10 })
        })
        .collect()
}

fn now_string() -> String {
    jiff::Timestamp::now().to_string()
}

fn error(status: StatusCode, name: &str, message: &str, issue: Option<(&str, &str)>) -> (StatusCode, Value) {
    let mut body = json!({
        "name": name,
        "message": message,
        "debug_id": random_id(13).to_ascii_lowercase(),
        "links": [],
    });
    if let Some((issue, description)) = issue {
        body["details"] = json!([{ "issue": issue, "description": description }]);
    }
    (status, body)
}

fn invalid_request(issue: &str, description: &str) -> (StatusCode, Value) {
    error(
        StatusCode::BAD_REQUEST,
        "INVALID_REQUEST",
        "Request is not well-formed, syntactically incorrect, or violates schema.",
        Some((issue, description)),
    )
}

fn unprocessable(issue: &str, description: &str) -> (StatusCode, Value) {
    error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "UNPROCESSABLE_ENTITY",
        "The requested action could not be performed, semantically incorrect, or failed business validation.",
        Some((issue, description)),
    )
}

fn not_found() -> (StatusCode, Value) {
    error(
        StatusCode::NOT_FOUND,
        "RESOURCE_NOT_FOUND",
        "The specified resource does not exist.",
        Some((
            "INVALID_RESOURCE_ID",
            "Specified resource ID does not exist. Please check the resource ID and try again.",
        )),
    )
}

/// PayPal's decimals for a currency, `None` when unsupported.
fn decimals(currency: &str) -> Option<u32> {
    SUPPORTED_CURRENCIES.iter().find(|(c, _)| *c == currency).map(|(_, d)| *d)
}

/// The amount in PayPal units (value × 10^decimals), checking the
/// currency and the exact number of decimals.
fn amount_units(amount: &Value) -> Result<(String, u32, i64), (StatusCode, Value)> {
    let (Some(currency), Some(value)) = (amount["currency_code"].as_str(), amount["value"].as_str()) else {
        return Err(invalid_request(
            "MISSING_REQUIRED_PARAMETER",
            "amount.currency_code and amount.value are required.",
        ));
    };
    let Some(places) = decimals(currency) else {
        return Err(unprocessable("CURRENCY_NOT_SUPPORTED", "Currency code is not currently supported."));
    };
    let (int, frac) = value.split_once('.').unwrap_or((value, ""));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || (value.contains('.') && !digits(frac)) {
        return Err(invalid_request(
            "INVALID_PARAMETER_SYNTAX",
            "The value of a field does not conform to the expected format.",
        ));
    }
    if frac.len() as u32 != places {
        return Err(unprocessable(
            "DECIMAL_PRECISION",
            "If the currency supports decimals, only two decimal place precision is supported.",
        ));
    }
    let units: i64 = format!("{int}{frac}")
        .parse()
        .map_err(|_| invalid_request("INVALID_PARAMETER_VALUE", "The amount is too large."))?;
    Ok((currency.to_owned(), places, units))
}

fn format_units(units: i64, places: u32) -> String {
    if places == 0 {
        return units.to_string();
    }
    let scale = 10_i64.pow(places);
    format!("{}.{:0width$}", units / scale, units % scale, width = places as usize)
}

fn money(currency: &str, places: u32, units: i64) -> Value {
    json!({ "currency_code": currency, "value": format_units(units, places) })
}

fn link(href: String, rel: &str, method: &str) -> Value {
    json!({ "href": href, "rel": rel, "method": method })
}

/// The capture of an order as a standalone resource.
fn capture_resource(order: &Order) -> Value {
    let mut capture = order.json["purchase_units"][0]["payments"]["captures"][0].clone();
    capture["supplementary_data"] = json!({ "related_ids": { "order_id": order.json["id"] } });
    capture
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
            "INTERNAL_SERVER_ERROR",
            "An internal server error occurred.",
            None,
        );
        (status, Json(body)).into_response()
    };
    match fault {
        Some(Fault::Fail) => return server_error(),
        Some(Fault::Unavailable) => {
            let (status, body) =
                error(StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE", "Service Unavailable.", None);
            return (status, Json(body)).into_response();
        }
        _ => {}
    }
    let (status, body) = {
        let mut s = state.lock().expect("state");
        route(&mut s, &method, uri.path(), &headers, &body)
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

fn route(s: &mut Inner, method: &Method, path: &str, headers: &HeaderMap, body: &[u8]) -> (StatusCode, Value) {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    if path == "/v1/oauth2/token" && method == Method::POST {
        return token(s, header("authorization").as_deref(), header("content-type").as_deref(), body);
    }
    let authorized = header("authorization")
        .and_then(|a| a.strip_prefix("Bearer ").map(str::to_owned))
        .is_some_and(|t| s.tokens.contains(&t) && !s.refuse_tokens);
    if !authorized {
        return (
            StatusCode::UNAUTHORIZED,
            json!({ "error": "invalid_token", "error_description": "Token signature verification failed" }),
        );
    }
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let request_id = header("paypal-request-id");
    if method == Method::POST {
        if !header("content-type").is_some_and(|c| c.starts_with("application/json")) {
            return error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UNSUPPORTED_MEDIA_TYPE",
                "Content-Type must be application/json.",
                None,
            );
        }
        if let Some(id) = &request_id {
            if let Some(stored) = s.stored.get(&(path.to_owned(), id.clone())) {
                return stored.clone();
            }
        }
    }
    let parsed: Option<Value> = if body.is_empty() { Some(json!({})) } else { serde_json::from_slice(body).ok() };
    let Some(json_body) = parsed.filter(Value::is_object).or_else(|| (method == Method::GET).then(|| json!({}))) else {
        return invalid_request("MALFORMED_REQUEST_JSON", "The request JSON is not well formed.");
    };
    let answer = match (method.clone(), segments.as_slice()) {
        (Method::POST, ["v2", "checkout", "orders"]) => create_order(s, json_body),
        (Method::GET, ["v2", "checkout", "orders", id]) => match s.orders.get(*id) {
            Some(order) => (StatusCode::OK, order.json.clone()),
            None => not_found(),
        },
        (Method::POST, ["v2", "checkout", "orders", id, "capture"]) => capture(s, id),
        (Method::GET, ["v2", "payments", "captures", id]) => {
            match s.captures.get(*id).and_then(|order| s.orders.get(order)) {
                Some(order) => (StatusCode::OK, capture_resource(order)),
                None => not_found(),
            }
        }
        (Method::POST, ["v2", "payments", "captures", id, "refund"]) => refund(s, id, &json_body),
        (Method::POST, ["v1", "notifications", "verify-webhook-signature"]) => verify(s, &json_body),
        (Method::POST, ["v1", "payments", "payouts"]) => create_payout(s, json_body),
        (Method::GET, ["v1", "payments", "payouts", id]) => match s.payouts.get_mut(*id) {
            Some(batch) => {
                // Each look moves the batch one step on, as time would.
                if batch.stage < 2 {
                    advance_payout(batch);
                }
                (StatusCode::OK, batch.json.clone())
            }
            None => not_found(),
        },
        _ => error(StatusCode::NOT_FOUND, "NOT_FOUND", "The requested resource was not found.", None),
    };
    if method == Method::POST && !answer.0.is_server_error() {
        if let Some(id) = request_id {
            s.stored.insert((path.to_owned(), id), answer.clone());
        }
    }
    answer
}

fn token(s: &mut Inner, authorization: Option<&str>, content_type: Option<&str>, body: &[u8]) -> (StatusCode, Value) {
    let expected =
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}")));
    if authorization != Some(expected.as_str()) {
        return (
            StatusCode::UNAUTHORIZED,
            json!({ "error": "invalid_client", "error_description": "Client Authentication failed" }),
        );
    }
    let form: HashMap<String, String> = form_urlencoded::parse(body).into_owned().collect();
    if !content_type.is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"))
        || form.get("grant_type").map(String::as_str) != Some("client_credentials")
    {
        return (
            StatusCode::BAD_REQUEST,
            json!({ "error": "unsupported_grant_type", "error_description": "Grant Type is NULL" }),
        );
    }
    let access_token = format!("A21AA{}", random_id(40));
    s.tokens.insert(access_token.clone());
    s.token_requests += 1;
    (
        StatusCode::OK,
        json!({
            "scope": SCOPE,
            "access_token": access_token,
            "token_type": "Bearer",
            "app_id": "APP-80W284485P519543T",
            "expires_in": s.token_lifetime,
            "nonce": format!("{}{}", now_string(), random_id(10)),
        }),
    )
}

const SCOPE: &str = "https://uri.paypal.com/services/payments/payment \
     https://uri.paypal.com/services/vault/payment-tokens/readwrite https://uri.paypal.com/payments/payouts";
const DECLINED: &str =
    "The instrument presented was either declined by the processor or bank, or it can't be used for this payment.";

fn create_order(s: &mut Inner, body: Value) -> (StatusCode, Value) {
    if body["intent"] != "CAPTURE" {
        return invalid_request("INVALID_PARAMETER_VALUE", "intent must be CAPTURE (the double supports no other).");
    }
    let Some(units) = body["purchase_units"].as_array().filter(|u| !u.is_empty()) else {
        return invalid_request("MISSING_REQUIRED_PARAMETER", "purchase_units is required.");
    };
    let unit = units[0].clone();
    let (currency, places, amount) = match amount_units(&unit["amount"]) {
        Ok(parsed) => parsed,
        Err(e) => return e,
    };
    for (field, max) in [("reference_id", 256), ("custom_id", 127), ("invoice_id", 127), ("description", 127)] {
        if unit[field].as_str().is_some_and(|v| v.chars().count() > max) {
            return invalid_request("INVALID_STRING_MAX_LENGTH", &format!("{field} is too long."));
        }
    }
    if let Some(invoice) = unit["invoice_id"].as_str() {
        let duplicate = s.orders.values().any(|o| {
            o.json["purchase_units"][0]["invoice_id"] == invoice && o.json["purchase_units"][0]["payments"].is_object()
        });
        if duplicate {
            return unprocessable("DUPLICATE_INVOICE_ID", "Duplicate Invoice ID detected.");
        }
    }
    let paypal = &body["payment_source"]["paypal"];
    let vault_id = paypal["vault_id"].as_str();
    let behaviour = match vault_id {
        Some(id) => match s.vaults.get(id) {
            Some(b) => Some(*b),
            None => return unprocessable("INVALID_RESOURCE_ID", "The vault_id is not valid for this merchant."),
        },
        None => None,
    };
    if behaviour.is_none() && paypal.is_object() {
        let context = &paypal["experience_context"];
        if context["return_url"].as_str().is_none_or(str::is_empty)
            || context["cancel_url"].as_str().is_none_or(str::is_empty)
        {
            return invalid_request(
                "MISSING_REQUIRED_PARAMETER",
                "experience_context.return_url and cancel_url are required.",
            );
        }
    }
    let store = &paypal["attributes"]["vault"]["store_in_vault"];
    if !store.is_null() && store != "ON_SUCCESS" {
        return invalid_request("INVALID_PARAMETER_VALUE", "store_in_vault must be ON_SUCCESS.");
    }
    if behaviour == Some(VaultBehaviour::Declines) {
        return unprocessable("INSTRUMENT_DECLINED", DECLINED);
    }
    s.last_order_request = Some(body.clone());
    let id = random_id(17);
    let base = s.base_url.clone();
    let mut stored_unit = json!({
        "reference_id": unit["reference_id"].as_str().unwrap_or("default"),
        "amount": money(&currency, places, amount),
        "payee": { "email_address": "merchant@example.com", "merchant_id": "FAKEMERCHANT1" },
    });
    for field in ["custom_id", "invoice_id", "description"] {
        if let Some(v) = unit[field].as_str() {
            stored_unit[field] = json!(v);
        }
    }
    let self_link = link(format!("{base}/v2/checkout/orders/{id}"), "self", "GET");
    let mut order = json!({
        "id": id,
        "intent": "CAPTURE",
        "purchase_units": [stored_unit],
        "create_time": now_string(),
    });
    let (status, links) = match behaviour {
        Some(VaultBehaviour::PayerAction) => (
            "PAYER_ACTION_REQUIRED",
            vec![self_link, link(format!("{base}/checkoutnow?token={id}"), "payer-action", "GET")],
        ),
        Some(_) => ("COMPLETED", vec![self_link]),
        None if paypal.is_object() => (
            "PAYER_ACTION_REQUIRED",
            vec![self_link, link(format!("{base}/checkoutnow?token={id}"), "payer-action", "GET")],
        ),
        None => (
            "CREATED",
            vec![
                self_link,
                link(format!("{base}/checkoutnow?token={id}"), "approve", "GET"),
                link(format!("{base}/v2/checkout/orders/{id}"), "update", "PATCH"),
                link(format!("{base}/v2/checkout/orders/{id}/capture"), "capture", "POST"),
            ],
        ),
    };
    order["status"] = json!(status);
    order["links"] = json!(links);
    order["payment_source"] = json!({ "paypal": {} });
    if let Some(vault) = vault_id {
        order["payment_source"]["paypal"] = json!({
            "email_address": "buyer@example.com",
            "account_id": "TESTPAYER01",
            "attributes": { "vault": { "id": vault, "status": "VAULTED" } },
        });
    }
    let wants_vault = store == "ON_SUCCESS";
    let vault_customer = paypal["attributes"]["customer"]["id"].as_str().map(str::to_owned);
    let mut record =
        Order { json: order, buyer: None, vault_on_approval: false, wants_vault, vault_customer, refunded_units: 0 };
    s.orders_created += 1;
    if let Some(b @ (VaultBehaviour::Pays | VaultBehaviour::CaptureDeclined)) = behaviour {
        add_capture(s, &mut record, b == VaultBehaviour::Pays);
    }
    let answer = record.json.clone();
    s.orders.insert(id, record);
    (StatusCode::CREATED, answer)
}

/// Records a capture on the order and marks it `COMPLETED`.
fn add_capture(s: &mut Inner, order: &mut Order, completed: bool) {
    let id = random_id(17);
    let order_id = order.json["id"].as_str().unwrap_or_default().to_owned();
    let amount = order.json["purchase_units"][0]["amount"].clone();
    let (currency, places, units) = amount_units(&amount).expect("stored amounts are valid");
    let fee = units * 349 / 10_000 + if places == 0 { 40 } else { 49 };
    let base = s.base_url.clone();
    let mut capture = json!({
        "id": id,
        "status": if completed { "COMPLETED" } else { "DECLINED" },
        "amount": amount,
        "final_capture": true,
        "create_time": now_string(),
        "update_time": now_string(),
        "links": [
            link(format!("{base}/v2/payments/captures/{id}"), "self", "GET"),
            link(format!("{base}/v2/payments/captures/{id}/refund"), "refund", "POST"),
            link(format!("{base}/v2/checkout/orders/{order_id}"), "up", "GET"),
        ],
    });
    for field in ["custom_id", "invoice_id"] {
        if let Some(v) = order.json["purchase_units"][0][field].as_str() {
            capture[field] = json!(v);
        }
    }
    if completed {
        capture["seller_protection"] =
            json!({ "status": "ELIGIBLE", "dispute_categories": ["ITEM_NOT_RECEIVED", "UNAUTHORIZED_TRANSACTION"] });
        capture["seller_receivable_breakdown"] = json!({
            "gross_amount": money(&currency, places, units),
            "paypal_fee": money(&currency, places, fee),
            "net_amount": money(&currency, places, units - fee),
        });
    } else {
        capture["processor_response"] = json!({ "response_code": "5400", "avs_code": "G", "cvv_code": "P" });
        capture["status_details"] = json!({ "reason": "DECLINED_BY_RISK_FRAUD_FILTERS" });
    }
    order.json["purchase_units"][0]["payments"] = json!({ "captures": [capture] });
    order.json["status"] = json!("COMPLETED");
    order.json["update_time"] = json!(now_string());
    s.captures.insert(id, order_id);
    s.captures_created += 1;
}

fn capture(s: &mut Inner, order_id: &str) -> (StatusCode, Value) {
    let Some(mut order) = s.orders.remove(order_id) else { return not_found() };
    let answer = match order.json["status"].as_str() {
        Some("COMPLETED") => unprocessable(
            "ORDER_ALREADY_CAPTURED",
            "Order already captured. If 'intent=CAPTURE' only one capture per order is allowed.",
        ),
        Some("APPROVED") => match order.buyer {
            Some(Buyer::Declines) => unprocessable("INSTRUMENT_DECLINED", DECLINED),
            _ => {
                add_capture(s, &mut order, true);
                let mut paypal = json!({
                    "email_address": "buyer@example.com",
                    "account_id": "TESTPAYER01",
                    "name": { "given_name": "Test", "surname": "Buyer" },
                });
                if order.wants_vault && order.vault_on_approval {
                    let vault_id = random_id(8).to_ascii_lowercase();
                    s.vaults.insert(vault_id.clone(), VaultBehaviour::Pays);
                    // The wallet joins the customer the order named, else a
                    // new vault customer.
                    let customer = order.vault_customer.clone().unwrap_or_else(|| random_id(10));
                    paypal["attributes"] = json!({
                        "vault": { "id": vault_id, "status": "VAULTED", "customer": { "id": customer } }
                    });
                }
                order.json["payment_source"]["paypal"] = paypal;
                (StatusCode::CREATED, order.json.clone())
            }
        },
        _ => unprocessable("ORDER_NOT_APPROVED", "Payer has not yet approved the Order for payment."),
    };
    s.orders.insert(order_id.to_owned(), order);
    answer
}

fn refund(s: &mut Inner, capture_id: &str, body: &Value) -> (StatusCode, Value) {
    let Some(order_id) = s.captures.get(capture_id).cloned() else { return not_found() };
    let base = s.base_url.clone();
    let Some(order) = s.orders.get_mut(&order_id) else { return not_found() };
    let capture = &order.json["purchase_units"][0]["payments"]["captures"][0];
    if !matches!(capture["status"].as_str(), Some("COMPLETED" | "PARTIALLY_REFUNDED")) {
        let issue = if capture["status"] == "REFUNDED" { "CAPTURE_FULLY_REFUNDED" } else { "REFUND_NOT_ALLOWED" };
        return unprocessable(issue, "The capture cannot be refunded.");
    }
    let (currency, places, captured) = amount_units(&capture["amount"]).expect("stored amounts are valid");
    let remaining = captured - order.refunded_units;
    let units = if body["amount"].is_null() {
        remaining
    } else {
        match amount_units(&body["amount"]) {
            Ok((c, _, _)) if c != currency => {
                return unprocessable("CURRENCY_MISMATCH", "Refund must be in the same currency as the capture.")
            }
            Ok((_, _, u)) => u,
            Err(e) => return e,
        }
    };
    if units <= 0 || units > remaining {
        return unprocessable(
            "REFUND_AMOUNT_EXCEEDED",
            "The refund amount must be less than or equal to the capture amount that has not yet been refunded.",
        );
    }
    order.refunded_units += units;
    let fully = order.refunded_units == captured;
    let capture = &mut order.json["purchase_units"][0]["payments"]["captures"][0];
    capture["status"] = json!(if fully { "REFUNDED" } else { "PARTIALLY_REFUNDED" });
    let id = random_id(17);
    let mut refund = json!({
        "id": id,
        "status": "COMPLETED",
        "amount": money(&currency, places, units),
        "create_time": now_string(),
        "update_time": now_string(),
        "links": [
            link(format!("{base}/v2/payments/refunds/{id}"), "self", "GET"),
            link(format!("{base}/v2/payments/captures/{capture_id}"), "up", "GET"),
        ],
    });
    for field in ["custom_id", "invoice_id", "note_to_payer"] {
        if let Some(v) = body[field].as_str() {
            refund[field] = json!(v);
        }
    }
    if let Some(v) = capture["invoice_id"].as_str().filter(|_| refund["invoice_id"].is_null()) {
        refund["invoice_id"] = json!(v);
    }
    s.refunds.insert(id, refund.clone());
    s.refunds_created += 1;
    (StatusCode::CREATED, refund)
}

fn validation_error(field: &str, issue: &str) -> (StatusCode, Value) {
    let (status, mut body) = error(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", "Invalid request - see details", None);
    body["details"] = json!([{ "field": field, "location": "body", "issue": issue }]);
    body["information_link"] = json!("https://developer.paypal.com/docs/api/payments.payouts-batch/#errors");
    (status, body)
}

/// A Payouts amount (`{"value", "currency"}`) in PayPal units.
fn payout_units(amount: &Value, field: &str) -> Result<(String, u32, i64), (StatusCode, Value)> {
    let (Some(currency), Some(value)) = (amount["currency"].as_str(), amount["value"].as_str()) else {
        return Err(validation_error(field, "Required field is missing"));
    };
    let Some(places) = decimals(currency) else {
        return Err(validation_error(&format!("{field}.currency"), "Currency is not supported"));
    };
    let (int, frac) = value.split_once('.').unwrap_or((value, ""));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || (value.contains('.') && !digits(frac)) || frac.len() as u32 != places {
        return Err(validation_error(&format!("{field}.value"), "Value is invalid or has the wrong precision"));
    }
    let units: i64 = format!("{int}{frac}")
        .parse()
        .map_err(|_| validation_error(&format!("{field}.value"), "Value is too large"))?;
    if units <= 0 {
        return Err(validation_error(&format!("{field}.value"), "Value must be greater than zero"));
    }
    Ok((currency.to_owned(), places, units))
}

fn create_payout(s: &mut Inner, body: Value) -> (StatusCode, Value) {
    let header = &body["sender_batch_header"];
    if !header.is_object() {
        return validation_error("sender_batch_header", "Required field is missing");
    }
    let sender_batch_id = header["sender_batch_id"].as_str().map(str::to_owned);
    if sender_batch_id.as_ref().is_some_and(|id| id.chars().count() > 256) {
        return validation_error("sender_batch_header.sender_batch_id", "Length must be at most 256");
    }
    if header["email_subject"].as_str().is_some_and(|v| v.chars().count() > 255) {
        return validation_error("sender_batch_header.email_subject", "Length must be at most 255");
    }
    let Some(items) = body["items"].as_array().filter(|i| !i.is_empty()) else {
        return validation_error("items", "Required field is missing");
    };
    if items.len() > 15_000 {
        return validation_error("items", "Number of items must be at most 15000");
    }
    let mut parsed = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let field = |f: &str| format!("items[{i}].{f}");
        let kind = item["recipient_type"].as_str().or_else(|| header["recipient_type"].as_str());
        if !matches!(kind, Some("EMAIL" | "PHONE" | "PAYPAL_ID")) {
            return validation_error(&field("recipient_type"), "Recipient type is missing or invalid");
        }
        let receiver = item["receiver"].as_str().unwrap_or_default();
        let email_ok = receiver.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !receiver.contains(char::is_whitespace)
        });
        if receiver.is_empty() || receiver.len() > 127 || (kind == Some("EMAIL") && !email_ok) {
            return validation_error(&field("receiver"), "Receiver is invalid or does not match with type");
        }
        let units = match payout_units(&item["amount"], &field("amount")) {
            Ok(u) => u,
            Err(e) => return e,
        };
        if item["sender_item_id"].as_str().is_some_and(|v| v.chars().count() > 63) {
            return validation_error(&field("sender_item_id"), "Length must be at most 63");
        }
        if item["note"].as_str().is_some_and(|v| v.chars().count() > 4000) {
            return validation_error(&field("note"), "Length must be at most 4000");
        }
        parsed.push((item.clone(), units));
    }
    let base = s.base_url.clone();
    if let Some(sender) = &sender_batch_id {
        let first = s.payouts.iter().find(|(_, b)| b.sender_batch_id.as_ref() == Some(sender)).map(|(id, _)| id);
        if let Some(first) = first {
            let mut refused = error(StatusCode::BAD_REQUEST, "USER_BUSINESS_ERROR", "User business error.", None);
            refused.1["details"] = json!([{
                "field": "SENDER_BATCH_ID",
                "location": "body",
                "issue": "Batch with given sender_batch_id already exists",
                "link": [{ "href": format!("{base}/v1/payments/payouts/{first}"), "rel": "self", "method": "GET",
                           "encType": "application/json" }],
            }]);
            refused.1["information_link"] =
                json!("https://developer.paypal.com/docs/api/payments.payouts-batch/#errors");
            return refused;
        }
    }
    if s.payout_refusals > 0 {
        s.payout_refusals -= 1;
        return unprocessable_named(
            "INSUFFICIENT_FUNDS",
            "Sender does not have sufficient funds. Please add funds and retry.",
        );
    }
    s.last_payout_request = Some(body.clone());
    let id = random_id(13);
    let denied = parsed.iter().any(|(item, _)| item["receiver"] == DENIED_RECEIVER);
    let (currency, places, _) = parsed[0].1.clone();
    let total: i64 = parsed.iter().map(|(_, (_, _, u))| *u).sum();
    let fee_per_item = if places == 0 { 1 } else { 25 };
    let mut stored_header = header.clone();
    if stored_header["recipient_type"].is_null() {
        stored_header.as_object_mut().expect("object").remove("recipient_type");
    }
    let self_link = json!({ "href": format!("{base}/v1/payments/payouts/{id}"), "rel": "self", "method": "GET",
                            "encType": "application/json" });
    let batch_items: Vec<Value> = parsed
        .iter()
        .map(|(item, (cur, pl, units))| {
            let item_id = random_id(13);
            let mut payout_item = json!({
                "recipient_type": item["recipient_type"].as_str().or_else(|| header["recipient_type"].as_str()),
                "amount": { "currency": cur, "value": format_units(*units, *pl) },
                "receiver": item["receiver"],
                "recipient_wallet": "PAYPAL",
            });
            for f in ["note", "sender_item_id"] {
                if let Some(v) = item[f].as_str() {
                    payout_item[f] = json!(v);
                }
            }
            let mut out = json!({
                "payout_item_id": item_id,
                "transaction_status": if denied { "FAILED" } else { "PENDING" },
                "payout_item_fee": { "currency": cur, "value": format_units(fee_per_item, *pl) },
                "payout_batch_id": id,
                "payout_item": payout_item,
                "links": [{ "href": format!("{base}/v1/payments/payouts-item/{item_id}"), "rel": "item",
                            "method": "GET", "encType": "application/json" }],
            });
            if denied {
                out["errors"] = json!({ "name": "RECEIVER_ACCOUNT_LOCKED",
                                        "message": "Receiver's account is locked or inactive" });
            }
            out
        })
        .collect();
    let status = if denied { "DENIED" } else { "PENDING" };
    let created = now_string();
    let batch = json!({
        "batch_header": {
            "payout_batch_id": id,
            "batch_status": status,
            "time_created": created,
            "sender_batch_header": stored_header,
            "amount": { "currency": currency, "value": format_units(total, places) },
            "fees": { "currency": currency, "value": format_units(fee_per_item * parsed.len() as i64, places) },
        },
        "items": batch_items,
        "total_items": parsed.len(),
        "total_pages": 1,
        "links": [self_link.clone()],
    });
    let answer = json!({
        "batch_header": {
            "payout_batch_id": id,
            "batch_status": status,
            "sender_batch_header": batch["batch_header"]["sender_batch_header"],
        },
        "links": [self_link],
    });
    s.payouts.insert(id, PayoutBatch { json: batch, sender_batch_id, stage: if denied { 2 } else { 0 } });
    s.payouts_created += 1;
    (StatusCode::CREATED, answer)
}

fn unprocessable_named(name: &str, message: &str) -> (StatusCode, Value) {
    let (status, mut body) = error(StatusCode::UNPROCESSABLE_ENTITY, name, message, None);
    body["information_link"] = json!("https://developer.paypal.com/docs/api/payments.payouts-batch/#errors");
    (status, body)
}

/// One step of PayPal's processing: `PENDING` → `PROCESSING` → `SUCCESS`,
/// the items paid (or, to [`RETURNED_RECEIVER`], returned).
fn advance_payout(batch: &mut PayoutBatch) {
    batch.stage += 1;
    let header = &mut batch.json["batch_header"];
    if batch.stage == 1 {
        header["batch_status"] = json!("PROCESSING");
        return;
    }
    header["batch_status"] = json!("SUCCESS");
    header["time_completed"] = json!(now_string());
    for item in batch.json["items"].as_array_mut().into_iter().flatten() {
        item["time_processed"] = json!(now_string());
        if item["payout_item"]["receiver"] == RETURNED_RECEIVER {
            item["transaction_status"] = json!("RETURNED");
            item["errors"] = json!({ "name": "RECEIVER_UNREGISTERED", "message": "Receiver is unregistered" });
        } else {
            item["transaction_status"] = json!("SUCCESS");
            item["transaction_id"] = json!(random_id(17));
            item["activity_id"] = json!(random_id(17));
        }
    }
}

fn verify(s: &mut Inner, body: &Value) -> (StatusCode, Value) {
    let fields = ["auth_algo", "cert_url", "transmission_id", "transmission_sig", "transmission_time", "webhook_id"];
    if fields.iter().any(|f| body[*f].as_str().is_none_or(str::is_empty)) || !body["webhook_event"].is_object() {
        return error(
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
            "Invalid request - see details",
            Some(("MISSING_REQUIRED_PARAMETER", "A required field is missing.")),
        );
    }
    let genuine = body["webhook_id"] == WEBHOOK_ID
        && body["auth_algo"] == "SHA256withRSA"
        && body["transmission_id"].as_str().and_then(|id| s.transmissions.get(id)).is_some_and(|t| {
            body["transmission_sig"] == t.sig.as_str()
                && body["transmission_time"] == t.time.as_str()
                && body["cert_url"] == t.cert_url.as_str()
                && body["webhook_event"] == t.event
        });
    (StatusCode::OK, json!({ "verification_status": if genuine { "SUCCESS" } else { "FAILURE" } }))
}

/// Convenience for tests: the return parameters PayPal appends to the
/// return URL after approval.
pub fn return_params(order_id: &str) -> BTreeMap<String, String> {
    BTreeMap::from([("token".to_owned(), order_id.to_owned()), ("PayerID".to_owned(), "TESTPAYER01".to_owned())])
}
