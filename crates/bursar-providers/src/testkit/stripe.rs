//! A local double of the Stripe API: customers, Checkout Sessions,
//! PaymentIntents (create, retrieve, search), refunds and Connect transfers,
//! kept in memory.
//!
//! It behaves like Stripe where Bursar depends on it:
//!
//! * `Authorization: Bearer` (or Basic) with [`FakeStripe::secret_key`],
//!   answering 401 with Stripe's error object otherwise;
//! * form-encoded bodies in bracket notation, every request validated against
//!   Stripe's OpenAPI description of the operation (parameter names, nesting,
//!   types, enum values, required parameters). The double embeds an extract
//!   of the official spec (`tests/data/stripe-spec-subset.json`); when the
//!   environment variable `BURSAR_STRIPE_SPEC` names a full `spec3.json`,
//!   requests are validated against that file too. Failures are answered
//!   with 400 `invalid_request_error` as Stripe does, and recorded
//!   ([`FakeStripe::validation_failures`]), as are answers of the double that
//!   do not match the response schemas;
//! * `Idempotency-Key`: the same key with the same parameters replays the
//!   stored answer (`Idempotent-Replayed: true`); with other parameters it is
//!   refused with `idempotency_error`;
//! * Stripe's test payment methods ([`TEST_METHODS`]): `pm_card_visa`
//!   succeeds, `pm_card_chargeDeclined*` decline with Stripe's codes,
//!   `pm_card_authenticationRequired` needs 3-D Secure (off-session: the
//!   `authentication_required` decline), and the double-only
//!   `pm_card_processing` stays `processing` until
//!   [`FakeStripe::settle_processing`];
//! * amounts: positive, three-decimal currencies end in 0, ISK and UGX are
//!   multiples of 100;
//! * Connect transfers (`POST /v1/transfers`, retrieve, list by
//!   `transfer_group`) to the connected accounts the test made
//!   ([`FakeStripe::connected_account`]; others are `resource_missing`),
//!   taken from an available balance a test may limit
//!   ([`FakeStripe::set_available_balance`]: `balance_insufficient` beyond).
//!
//! Controls let a test inject outages ([`Fault`]), pay a Checkout Session as
//! the buyer would ([`FakeStripe::pay_checkout`]) and build or deliver
//! signed webhook events ([`FakeStripe::intent_event`] and friends).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use base64::Engine as _;
use rand::distr::{Alphanumeric, SampleString};
use serde_json::{json, Map, Value};

use crate::stripe::sign_webhook;
use crate::Headers;

mod answer;
mod http;
mod objects;
mod ops;
mod params;
mod spec;

use self::answer::*;
use self::http::*;
use self::objects::*;
use self::ops::*;
use self::params::*;
use self::spec::*;

/// The secret key the double accepts.
pub const SECRET_KEY: &str = "sk_test_51BursarFakeStripeKey";
/// The webhook signing secret of the double's endpoint.
pub const WEBHOOK_SECRET: &str = "whsec_bursar_fake_stripe_endpoint";

/// The extract of Stripe's OpenAPI spec the double validates against.
const SPEC_SUBSET: &str = include_str!("../../tests/data/stripe-spec-subset.json");

/// Environment variable naming a full Stripe `spec3.json` to validate against.
pub const SPEC_ENV: &str = "BURSAR_STRIPE_SPEC";

/// The test payment methods the double knows, as `(token, brand, last4)`.
pub const TEST_METHODS: [(&str, &str, &str); 7] = [
    ("pm_card_visa", "visa", "4242"),
    ("pm_card_mastercard", "mastercard", "4444"),
    ("pm_card_chargeDeclined", "visa", "0002"),
    ("pm_card_chargeDeclinedInsufficientFunds", "visa", "9995"),
    ("pm_card_chargeDeclinedExpiredCard", "visa", "0069"),
    ("pm_card_authenticationRequired", "visa", "3184"),
    ("pm_card_processing", "visa", "1629"),
];

/// Expiry of every test card.
pub const TEST_CARD_EXP: (u8, u16) = (12, 2034);

/// An injected failure for the next request(s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 500 with an `api_error`, the request not executed.
    ServerError,
    /// The request is executed (and its result stored under its idempotency
    /// key), then answered 500 with an `api_error` instead of the result:
    /// the client cannot tell it from [`Fault::ServerError`].
    ServerErrorAfterExecuting,
    /// 503 with an `api_error`, the request not executed.
    ServiceUnavailable,
    /// 429 `rate_limit`, the request not executed.
    RateLimited,
    /// The request is executed, then the answer is held back this long
    /// (longer than the client's timeout: the outcome is unknown to it).
    Stall(Duration),
}

/// One request the double received.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    /// The decoded form body (POST) or query (GET), in order.
    pub params: Vec<(String, String)>,
    pub idempotency_key: Option<String>,
    pub stripe_version: Option<String>,
    pub status: u16,
    /// Whether the answer was a replay of an idempotent request.
    pub replayed: bool,
}

/// A webhook delivery as Stripe would make it.
#[derive(Debug, Clone)]
pub struct SignedWebhook {
    /// Lower-cased header names: `stripe-signature`, `content-type`.
    pub headers: Headers,
    pub body: Vec<u8>,
    pub event_id: String,
    pub timestamp: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Behaviour {
    Succeeds,
    Declines { code: &'static str, decline_code: &'static str, message: &'static str },
    AuthenticationRequired,
    Processing,
}

fn behaviour_of(token: &str) -> Option<Behaviour> {
    Some(match token {
        "pm_card_visa" | "pm_card_mastercard" => Behaviour::Succeeds,
        "pm_card_chargeDeclined" => Behaviour::Declines {
            code: "card_declined",
            decline_code: "generic_decline",
            message: "Your card was declined.",
        },
        "pm_card_chargeDeclinedInsufficientFunds" => Behaviour::Declines {
            code: "card_declined",
            decline_code: "insufficient_funds",
            message: "Your card has insufficient funds.",
        },
        "pm_card_chargeDeclinedExpiredCard" => Behaviour::Declines {
            code: "expired_card",
            decline_code: "expired_card",
            message: "Your card has expired.",
        },
        "pm_card_authenticationRequired" => Behaviour::AuthenticationRequired,
        "pm_card_processing" => Behaviour::Processing,
        _ => return None,
    })
}

/// Parameters of a session that Stripe applies to the PaymentIntent it
/// creates when the buyer pays.
#[derive(Debug, Clone, Default)]
struct SessionIntentData {
    metadata: Map<String, Value>,
    description: Option<String>,
    setup_future_usage: Option<String>,
}

struct Stored {
    status: u16,
    body: Value,
    fingerprint: String,
}

#[derive(Default)]
struct Data {
    objects: BTreeMap<String, Value>,
    behaviours: HashMap<String, Behaviour>,
    session_intent: HashMap<String, SessionIntentData>,
    charge_refunds: HashMap<String, Vec<String>>,
    idempotency: HashMap<String, Stored>,
    requests: Vec<RecordedRequest>,
    failures: Vec<String>,
    faults: VecDeque<Fault>,
    auth_off_session_requires_action: bool,
    /// Connected accounts transfers may go to.
    accounts: HashSet<String>,
    /// The platform's available balance per (lower-case) currency, where a
    /// test limits it; unlimited elsewhere.
    balances: HashMap<String, i64>,
}

struct Inner {
    base_url: OnceLock<String>,
    data: Mutex<Data>,
    specs: Vec<(String, Arc<Spec>)>,
}

/// The running double. Cheap to clone; all clones share state.
#[derive(Clone)]
pub struct FakeStripe {
    inner: Arc<Inner>,
}

fn subset_spec() -> Arc<Spec> {
    static SUBSET: OnceLock<Arc<Spec>> = OnceLock::new();
    SUBSET
        .get_or_init(|| {
            Arc::new(Spec::new(serde_json::from_str(SPEC_SUBSET).expect("the embedded spec extract is JSON")))
        })
        .clone()
}

fn full_spec() -> Option<Arc<Spec>> {
    static FULL: OnceLock<Option<Arc<Spec>>> = OnceLock::new();
    FULL.get_or_init(|| {
        let path = std::env::var_os(SPEC_ENV)?;
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{SPEC_ENV}={}: cannot read: {e}", path.to_string_lossy()));
        let value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{SPEC_ENV}={}: not JSON: {e}", path.to_string_lossy()));
        Some(Arc::new(Spec::new(value)))
    })
    .clone()
}

impl FakeStripe {
    /// Starts the double on a loopback port.
    pub async fn start() -> FakeStripe {
        let mut specs = vec![("spec extract".to_string(), subset_spec())];
        if let Some(full) = full_spec() {
            specs.push(("full spec".to_string(), full));
        }
        let inner = Arc::new(Inner { base_url: OnceLock::new(), data: Mutex::new(Data::default()), specs });
        let router = Router::new().fallback(handle).with_state(inner.clone());
        let base = super::serve(router).await;
        inner.base_url.set(base).expect("set once");
        FakeStripe { inner }
    }

    pub fn base_url(&self) -> &str {
        self.inner.base_url.get().expect("started")
    }

    pub fn secret_key(&self) -> &'static str {
        SECRET_KEY
    }

    pub fn webhook_secret(&self) -> &'static str {
        WEBHOOK_SECRET
    }

    /// Whether a full spec from [`SPEC_ENV`] is validated against as well.
    pub fn full_spec_loaded(&self) -> bool {
        self.inner.specs.len() > 1
    }

    /// The API version of the embedded spec (`info.version`).
    pub fn spec_version(&self) -> String {
        subset_spec().version()
    }

    fn data(&self) -> MutexGuard<'_, Data> {
        self.inner.data.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes the next `n` requests fail with `fault`.
    pub fn fail_next(&self, n: usize, fault: Fault) {
        let mut d = self.data();
        for _ in 0..n {
            d.faults.push_back(fault);
        }
    }

    /// With `true`, `pm_card_authenticationRequired` charged off-session
    /// leaves the PaymentIntent in `requires_action` with a
    /// `redirect_to_url` next action (as for an issuer that insists on a
    /// challenge) instead of Stripe's `authentication_required` decline.
    pub fn set_off_session_requires_action(&self, on: bool) {
        self.data().auth_off_session_requires_action = on;
    }

    /// A new connected account (`acct_…`) that transfers may go to.
    pub fn connected_account(&self) -> String {
        let id = format!("acct_{}", Alphanumeric.sample_string(&mut rand::rng(), 16));
        self.data().accounts.insert(id.clone());
        id
    }

    /// Limits the platform's available balance in `currency` (any case):
    /// transfers take from it and one larger than what is left is refused
    /// with `balance_insufficient`. `None`: unlimited (the default).
    pub fn set_available_balance(&self, currency: &str, amount: Option<i64>) {
        let currency = currency.to_ascii_lowercase();
        let mut d = self.data();
        match amount {
            Some(a) => d.balances.insert(currency, a),
            None => d.balances.remove(&currency),
        };
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.data().requests.clone()
    }

    /// How many requests had this method and path (e.g. `"POST"`,
    /// `"/v1/payment_intents"`), replays included.
    pub fn request_count(&self, method: &str, path: &str) -> usize {
        self.data().requests.iter().filter(|r| r.method == method && r.path == path).count()
    }

    /// Requests or answers that did not match the spec, and requests that
    /// broke the integration rules (no `Stripe-Version`, a POST without an
    /// `Idempotency-Key`, a body that is not form-encoded).
    pub fn validation_failures(&self) -> Vec<String> {
        self.data().failures.clone()
    }

    /// The stored object with this id (`pi_…`, `cs_…`, `cus_…`, `re_…`,
    /// `pm_…`, `ch_…`, `du_…`), as the API would return it unexpanded.
    pub fn object(&self, id: &str) -> Option<Value> {
        self.data().objects.get(id).cloned().map(public)
    }

    /// All stored objects of a type (`"payment_intent"`, `"customer"`,
    /// `"checkout.session"`, `"refund"`, …), oldest first.
    pub fn objects(&self, object: &str) -> Vec<Value> {
        let d = self.data();
        let mut v: Vec<Value> = d.objects.values().filter(|o| o["object"] == object).cloned().collect();
        v.sort_by_key(|o| (o["created"].as_i64(), o["_seq"].as_u64()));
        v.into_iter().map(public).collect()
    }

    /// Moves every `processing` PaymentIntent to `succeeded`; returns their ids.
    pub fn settle_processing(&self) -> Vec<String> {
        let mut d = self.data();
        let ids: Vec<String> = d
            .objects
            .values()
            .filter(|o| o["object"] == "payment_intent" && o["status"] == "processing")
            .filter_map(|o| o["id"].as_str().map(str::to_string))
            .collect();
        for id in &ids {
            succeed_intent(&mut d, id);
        }
        ids
    }

    /// Pays an open Checkout Session as the buyer would on the hosted page
    /// with a test payment method: creates the PaymentMethod and the
    /// PaymentIntent and completes the session (a decline leaves it open with
    /// the failed intent). With `payment_intent_data[setup_future_usage]` the
    /// method is attached to the session's customer (created if needed).
    /// Returns the PaymentIntent id.
    pub fn pay_checkout(&self, session_id: &str, test_method: &str) -> Result<String, String> {
        let mut d = self.data();
        let session = d.objects.get(session_id).cloned().ok_or_else(|| format!("no session {session_id}"))?;
        if session["status"] != "open" {
            return Err(format!("session {session_id} is {}", session["status"]));
        }
        let behaviour = behaviour_of(test_method).ok_or_else(|| format!("unknown test method {test_method}"))?;
        let extra = d.session_intent.get(session_id).cloned().unwrap_or_default();
        let mut customer = session["customer"].as_str().map(str::to_string);
        if customer.is_none() && (session["customer_creation"] == "always" || extra.setup_future_usage.is_some()) {
            let mut c = skeleton("customer");
            let id = new_id("cus");
            c["id"] = json!(id);
            c["email"] = session["customer_email"].clone();
            c["metadata"] = json!({});
            c["balance"] = json!(0);
            finish(&mut d, c);
            customer = Some(id);
        }
        let pm = create_payment_method(&mut d, test_method, behaviour);
        if extra.setup_future_usage.is_some() {
            if let Some(c) = &customer {
                d.objects.get_mut(&pm).expect("just stored")["customer"] = json!(c);
            }
        }
        let mut pi = skeleton("payment_intent");
        let pi_id = new_id("pi");
        pi["id"] = json!(pi_id);
        pi["amount"] = session["amount_total"].clone();
        pi["amount_received"] = json!(0);
        pi["amount_capturable"] = json!(0);
        pi["currency"] = session["currency"].clone();
        pi["customer"] = json!(customer);
        pi["description"] = json!(extra.description);
        pi["metadata"] = Value::Object(extra.metadata.clone());
        pi["setup_future_usage"] = json!(extra.setup_future_usage);
        pi["payment_method"] = json!(pm);
        pi["payment_method_types"] = json!(["card"]);
        pi["capture_method"] = json!("automatic");
        pi["confirmation_method"] = json!("automatic");
        pi["status"] = json!("requires_payment_method");
        pi["client_secret"] = json!(format!("{pi_id}_secret_{}", Alphanumeric.sample_string(&mut rand::rng(), 24)));
        finish(&mut d, pi);
        let mut cs_update = Map::new();
        cs_update.insert("payment_intent".into(), json!(pi_id));
        cs_update.insert("customer".into(), json!(customer));
        match behaviour {
            // The buyer passes the challenge on the hosted page.
            Behaviour::Succeeds | Behaviour::AuthenticationRequired => {
                succeed_intent(&mut d, &pi_id);
                cs_update.insert("status".into(), json!("complete"));
                cs_update.insert("payment_status".into(), json!("paid"));
            }
            Behaviour::Processing => {
                d.objects.get_mut(&pi_id).expect("stored")["status"] = json!("processing");
                cs_update.insert("status".into(), json!("complete"));
                cs_update.insert("payment_status".into(), json!("unpaid"));
            }
            Behaviour::Declines { code, decline_code, message } => {
                fail_intent(&mut d, &pi_id, code, decline_code, message);
            }
        }
        let cs = d.objects.get_mut(session_id).expect("exists");
        for (k, v) in cs_update {
            cs[k] = v;
        }
        Ok(pi_id)
    }

    /// Expires an open Checkout Session.
    pub fn expire_checkout(&self, session_id: &str) -> bool {
        let mut d = self.data();
        match d.objects.get_mut(session_id) {
            Some(cs) if cs["status"] == "open" => {
                cs["status"] = json!("expired");
                true
            }
            _ => false,
        }
    }

    /// A signed delivery of an event of `event_type` about `object`, signed
    /// now with the double's webhook secret.
    pub fn event(&self, event_type: &str, object: Value) -> SignedWebhook {
        self.event_signed(event_type, object, jiff::Timestamp::now().as_second(), WEBHOOK_SECRET)
    }

    /// Like [`FakeStripe::event`] with the signing time and secret chosen.
    pub fn event_signed(&self, event_type: &str, object: Value, timestamp: i64, secret: &str) -> SignedWebhook {
        let event_id = new_id("evt");
        let event = json!({
            "id": event_id,
            "object": "event",
            "api_version": self.spec_version(),
            "created": timestamp,
            "data": { "object": object },
            "livemode": false,
            "pending_webhooks": 1,
            "request": { "id": format!("req_{}", Alphanumeric.sample_string(&mut rand::rng(), 14)), "idempotency_key": null },
            "type": event_type,
        });
        self.check_shape("event", &event, &format!("event {event_type}"));
        let body = serde_json::to_vec(&event).expect("serializable");
        let mut headers = Headers::new();
        headers.insert("stripe-signature".to_string(), sign_webhook(secret, timestamp, &body));
        headers.insert("content-type".to_string(), "application/json; charset=utf-8".to_string());
        SignedWebhook { headers, body, event_id, timestamp }
    }

    fn stored(&self, id: &str) -> Value {
        self.object(id).unwrap_or_else(|| panic!("the double has no object {id}"))
    }

    /// `payment_intent.*` event with the stored intent (unexpanded, as
    /// Stripe sends it).
    pub fn intent_event(&self, event_type: &str, intent_id: &str) -> SignedWebhook {
        self.event(event_type, self.stored(intent_id))
    }

    /// `checkout.session.*` event with the stored session.
    pub fn session_event(&self, event_type: &str, session_id: &str) -> SignedWebhook {
        self.event(event_type, self.stored(session_id))
    }

    /// `refund.*` / `charge.refund.updated` event with the stored refund, or
    /// for `charge.refunded` the refunded charge with its refunds listed.
    pub fn refund_event(&self, event_type: &str, refund_id: &str) -> SignedWebhook {
        let refund = self.stored(refund_id);
        if event_type != "charge.refunded" {
            return self.event(event_type, refund);
        }
        let charge_id = refund["charge"].as_str().expect("refunds name their charge").to_string();
        let mut charge = self.stored(&charge_id);
        let refunds: Vec<Value> = {
            let d = self.data();
            d.charge_refunds
                .get(&charge_id)
                .map(|ids| ids.iter().filter_map(|id| d.objects.get(id).cloned()).collect())
                .unwrap_or_default()
        };
        charge["refunds"] = json!({
            "object": "list",
            "data": refunds,
            "has_more": false,
            "url": format!("/v1/charges/{charge_id}/refunds"),
        });
        self.event(event_type, charge)
    }

    /// Opens a dispute on the intent's charge and returns the
    /// `charge.dispute.created` event.
    pub fn dispute_event(&self, intent_id: &str, reason: &str) -> SignedWebhook {
        let dispute = {
            let mut d = self.data();
            let pi = d.objects.get(intent_id).cloned().unwrap_or_else(|| panic!("no intent {intent_id}"));
            let charge = pi["latest_charge"].as_str().expect("the intent has a charge").to_string();
            let mut du = skeleton("dispute");
            du["id"] = json!(new_id("du"));
            du["amount"] = pi["amount_received"].clone();
            du["currency"] = pi["currency"].clone();
            du["charge"] = json!(charge);
            du["payment_intent"] = json!(intent_id);
            du["balance_transactions"] = json!([]);
            du["evidence"] = json!({});
            du["evidence_details"] =
                json!({"due_by": now() + 7 * 86400, "has_evidence": false, "past_due": false, "submission_count": 0});
            du["is_charge_refundable"] = json!(false);
            du["metadata"] = json!({});
            du["reason"] = json!(reason);
            du["status"] = json!("needs_response");
            if let Some(c) = d.objects.get_mut(&charge) {
                c["disputed"] = json!(true);
            }
            finish(&mut d, du)
        };
        self.event("charge.dispute.created", dispute)
    }

    /// POSTs the delivery to `url`; returns the HTTP status.
    pub async fn deliver(&self, url: &str, hook: &SignedWebhook) -> Result<u16, String> {
        let mut req = reqwest::Client::new().post(url).body(hook.body.clone());
        for (k, v) in &hook.headers {
            req = req.header(k, v);
        }
        req.send().await.map(|r| r.status().as_u16()).map_err(|e| e.to_string())
    }

    fn check_shape(&self, schema: &str, value: &Value, context: &str) {
        let mut errors = Vec::new();
        for (label, spec) in &self.inner.specs {
            for e in spec.check_object(schema, value) {
                errors.push(format!("{context}: answer does not match `{schema}` ({label}): {e}"));
            }
        }
        if !errors.is_empty() {
            self.data().failures.extend(errors);
        }
    }
}

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

fn new_id(prefix: &str) -> String {
    let len = if prefix == "cs" { 58 } else { 24 };
    let body = Alphanumeric.sample_string(&mut rand::rng(), len);
    if prefix == "cs" {
        format!("cs_test_{body}")
    } else {
        format!("{prefix}_{body}")
    }
}
