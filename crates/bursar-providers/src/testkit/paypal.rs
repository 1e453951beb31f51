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

mod http;
mod orders;
mod payouts;
mod wire;

use self::http::*;
use self::orders::*;
use self::payouts::*;
use self::wire::*;

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

/// Convenience for tests: the return parameters PayPal appends to the
/// return URL after approval.
pub fn return_params(order_id: &str) -> BTreeMap<String, String> {
    BTreeMap::from([("token".to_owned(), order_id.to_owned()), ("PayerID".to_owned(), "TESTPAYER01".to_owned())])
}
