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

// ---------------------------------------------------------------------------
// Objects
// ---------------------------------------------------------------------------

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

/// An object of a spec schema with every nullable property null, the
/// object tag, `created` and `livemode` set.
fn skeleton(schema: &str) -> Value {
    let spec = subset_spec();
    let mut obj = Map::new();
    if let Some(props) = spec.schema(schema).and_then(|s| s.get("properties")).and_then(Value::as_object) {
        for (k, p) in props {
            if p.get("nullable") == Some(&Value::Bool(true)) {
                obj.insert(k.clone(), Value::Null);
            }
        }
    }
    let has = |k: &str| spec.schema(schema).and_then(|s| s["properties"].get(k)).is_some();
    obj.insert("object".into(), json!(schema));
    if has("created") {
        obj.insert("created".into(), json!(now()));
    }
    if has("livemode") {
        obj.insert("livemode".into(), json!(false));
    }
    Value::Object(obj)
}

/// Stores `obj` (with a hidden insertion sequence stripped from answers).
fn finish(d: &mut Data, mut obj: Value) -> Value {
    let id = obj["id"].as_str().expect("objects have ids").to_string();
    obj["_seq"] = json!(d.objects.len());
    d.objects.insert(id, obj.clone());
    public(obj)
}

fn public(mut obj: Value) -> Value {
    if let Some(o) = obj.as_object_mut() {
        o.remove("_seq");
    }
    obj
}

fn card_of(token: &str) -> (&'static str, &'static str) {
    TEST_METHODS.iter().find(|(t, _, _)| *t == token).map(|(_, b, l)| (*b, *l)).unwrap_or(("visa", "4242"))
}

fn create_payment_method(d: &mut Data, token: &str, behaviour: Behaviour) -> String {
    let (brand, last4) = card_of(token);
    let id = new_id("pm");
    let mut pm = skeleton("payment_method");
    pm["id"] = json!(id);
    pm["type"] = json!("card");
    pm["billing_details"] = json!({"address": {"city": null, "country": null, "line1": null, "line2": null, "postal_code": null, "state": null},
               "email": null, "name": null, "phone": null});
    pm["card"] = json!({
        "brand": brand, "checks": {"address_line1_check": null, "address_postal_code_check": null, "cvc_check": "pass"},
        "country": "US", "exp_month": TEST_CARD_EXP.0, "exp_year": TEST_CARD_EXP.1,
        "fingerprint": Alphanumeric.sample_string(&mut rand::rng(), 16), "funding": "credit",
        "generated_from": null, "last4": last4,
        "networks": {"available": [brand], "preferred": null},
        "three_d_secure_usage": {"supported": true}, "wallet": null,
    });
    pm["metadata"] = json!({});
    d.behaviours.insert(id.clone(), behaviour);
    finish(d, pm);
    id
}

fn create_charge(d: &mut Data, pi: &Value, status: &str, failure: Option<(&str, &str)>) -> String {
    let id = new_id("ch");
    let pm_id = pi["payment_method"].as_str().unwrap_or_default().to_string();
    let card = d.objects.get(&pm_id).map(|pm| pm["card"].clone()).unwrap_or(Value::Null);
    let mut ch = skeleton("charge");
    let amount = pi["amount"].clone();
    ch["id"] = json!(id);
    ch["amount"] = amount.clone();
    ch["amount_captured"] = if status == "succeeded" { amount } else { json!(0) };
    ch["amount_refunded"] = json!(0);
    ch["billing_details"] = json!({"address": null, "email": null, "name": null, "phone": null});
    ch["captured"] = json!(status == "succeeded");
    ch["currency"] = pi["currency"].clone();
    ch["customer"] = pi["customer"].clone();
    ch["disputed"] = json!(false);
    ch["metadata"] = pi["metadata"].clone();
    ch["paid"] = json!(status == "succeeded");
    ch["payment_intent"] = pi["id"].clone();
    ch["payment_method"] = json!(pm_id);
    ch["payment_method_details"] = json!({
        "type": "card",
        "card": {
            "brand": card["brand"], "checks": card["checks"], "country": card["country"],
            "exp_month": card["exp_month"], "exp_year": card["exp_year"], "fingerprint": card["fingerprint"],
            "funding": card["funding"], "installments": null, "last4": card["last4"], "mandate": null,
            "network": card["brand"], "network_token": null, "three_d_secure": null, "wallet": null,
        }
    });
    ch["refunded"] = json!(false);
    ch["status"] = json!(status);
    if let Some((code, message)) = failure {
        ch["failure_code"] = json!(code);
        ch["failure_message"] = json!(message);
        ch["outcome"] = json!({"network_status": "declined_by_network", "reason": code, "risk_level": "normal",
                               "seller_message": "The bank did not return any further details with this decline.",
                               "type": "issuer_declined"});
    } else {
        ch["outcome"] = json!({"network_status": "approved_by_network", "reason": null, "risk_level": "normal",
                               "seller_message": "Payment complete.", "type": "authorized"});
    }
    finish(d, ch);
    id
}

fn succeed_intent(d: &mut Data, pi_id: &str) {
    let pi = d.objects.get(pi_id).cloned().expect("intent exists");
    let charge = create_charge(d, &pi, "succeeded", None);
    let pi = d.objects.get_mut(pi_id).expect("intent exists");
    pi["status"] = json!("succeeded");
    pi["amount_received"] = pi["amount"].clone();
    pi["latest_charge"] = json!(charge);
    pi["last_payment_error"] = Value::Null;
    pi["next_action"] = Value::Null;
}

/// Records a decline on the intent and returns Stripe's error object.
fn fail_intent(d: &mut Data, pi_id: &str, code: &str, decline_code: &str, message: &str) -> Value {
    let pi = d.objects.get(pi_id).cloned().expect("intent exists");
    let charge = create_charge(d, &pi, "failed", Some((decline_code, message)));
    let pm = d.objects.get(pi["payment_method"].as_str().unwrap_or_default()).cloned().map(public);
    let error = json!({
        "charge": charge,
        "code": code,
        "decline_code": decline_code,
        "doc_url": format!("https://stripe.com/docs/error-codes/{code}"),
        "message": message,
        "payment_method": pm,
        "type": "card_error",
    });
    let pi = d.objects.get_mut(pi_id).expect("intent exists");
    pi["status"] = json!("requires_payment_method");
    pi["latest_charge"] = json!(charge);
    pi["last_payment_error"] = error.clone();
    pi["payment_method"] = Value::Null;
    error
}

// ---------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------

struct Answer {
    status: u16,
    body: Value,
}

fn error(status: u16, kind: &str, message: impl Into<String>, code: Option<&str>, param: Option<&str>) -> Answer {
    let mut e = Map::new();
    e.insert("type".into(), json!(kind));
    e.insert("message".into(), json!(message.into()));
    if let Some(c) = code {
        e.insert("code".into(), json!(c));
        e.insert("doc_url".into(), json!(format!("https://stripe.com/docs/error-codes/{}", c.replace('_', "-"))));
    }
    if let Some(p) = param {
        e.insert("param".into(), json!(p));
    }
    Answer { status, body: json!({ "error": e }) }
}

fn invalid(message: impl Into<String>, param: Option<&str>) -> Answer {
    error(400, "invalid_request_error", message, None, param)
}

fn missing(kind: &str, id: &str, param: Option<&str>) -> Answer {
    let status = if param.is_some() { 400 } else { 404 };
    error(status, "invalid_request_error", format!("No such {kind}: '{id}'"), Some("resource_missing"), param)
}

fn respond(answer: &Answer, replayed: bool) -> Response {
    let mut resp = (
        StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        axum::Json(answer.body.clone()),
    )
        .into_response();
    let headers = resp.headers_mut();
    headers.insert("request-id", HeaderValue::from_str(&new_id("req")).expect("ascii"));
    if replayed {
        headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    resp
}

async fn handle(
    State(inner): State<Arc<Inner>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let key = header("idempotency-key");
    let version = header("stripe-version");
    let is_post = method == Method::POST;
    let params: Vec<(String, String)> = if is_post {
        form_urlencoded::parse(&body).into_owned().collect()
    } else {
        form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes()).into_owned().collect()
    };
    let mut record = RecordedRequest {
        method: method.to_string(),
        path: path.clone(),
        params: params.clone(),
        idempotency_key: key.clone(),
        stripe_version: version.clone(),
        status: 0,
        replayed: false,
    };
    let fault = inner.data.lock().unwrap_or_else(|e| e.into_inner()).faults.pop_front();
    let server_error =
        || error(500, "api_error", "An unknown error occurred while processing your request.", None, None);
    let (answer, replayed) = match fault {
        Some(Fault::ServerError) => (server_error(), false),
        Some(Fault::ServiceUnavailable) => {
            (error(503, "api_error", "Stripe is temporarily unavailable. Please try again later.", None, None), false)
        }
        Some(Fault::RateLimited) => (
            error(
                429,
                "invalid_request_error",
                "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.",
                Some("rate_limit"),
                None,
            ),
            false,
        ),
        _ => process(&inner, &method, &path, &headers, &body, &params, key.as_deref(), version.as_deref()),
    };
    let answer = if fault == Some(Fault::ServerErrorAfterExecuting) { server_error() } else { answer };
    record.status = answer.status;
    record.replayed = replayed;
    inner.data.lock().unwrap_or_else(|e| e.into_inner()).requests.push(record);
    if let Some(Fault::Stall(d)) = fault {
        tokio::time::sleep(d).await;
    }
    respond(&answer, replayed)
}

#[allow(clippy::too_many_arguments)]
fn process(
    inner: &Inner,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
    params: &[(String, String)],
    key: Option<&str>,
    version: Option<&str>,
) -> (Answer, bool) {
    let mut d = inner.data.lock().unwrap_or_else(|e| e.into_inner());
    let context = format!("{method} {path}");

    // Authentication.
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let presented = if let Some(k) = auth.strip_prefix("Bearer ") {
        Some(k.trim().to_string())
    } else if let Some(b) = auth.strip_prefix("Basic ") {
        base64::engine::general_purpose::STANDARD
            .decode(b.trim())
            .ok()
            .and_then(|raw| String::from_utf8(raw).ok())
            .map(|s| s.split(':').next().unwrap_or_default().to_string())
    } else {
        None
    };
    match presented.as_deref() {
        None | Some("") => {
            return (
                error(
                    401,
                    "invalid_request_error",
                    "You did not provide an API key. You need to provide your API key in the Authorization header, \
                     using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See \
                     https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.",
                    None,
                    None,
                ),
                false,
            )
        }
        Some(k) if k != SECRET_KEY => {
            let tail: String = k.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
            return (
                error(401, "invalid_request_error", format!("Invalid API Key provided: sk_test_****{tail}"), None, None),
                false,
            );
        }
        Some(_) => {}
    }

    // The integration's own rules.
    let spec_version = inner.specs[0].1.version();
    match version {
        None => d.failures.push(format!("{context}: no Stripe-Version header")),
        Some(v) if v != spec_version => {
            d.failures.push(format!("{context}: Stripe-Version {v}, the spec describes {spec_version}"))
        }
        Some(_) => {}
    }

    // The operation, by the spec.
    let Some((template, _)) = inner.specs[0].1.operation(method.as_str(), path) else {
        return (
            error(
                404,
                "invalid_request_error",
                format!(
                    "Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs or we can help \
                     at https://support.stripe.com/."
                ),
                None,
                None,
            ),
            false,
        );
    };
    if *method == Method::POST {
        let ct = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
        if !ct.starts_with("application/x-www-form-urlencoded") {
            d.failures.push(format!("{context}: Content-Type `{ct}`"));
            return (
                invalid(
                    format!(
                        "Invalid request: unsupported Content-Type {ct}. If error persists and you need assistance, \
                         please contact support@stripe.com."
                    ),
                    None,
                ),
                false,
            );
        }
        if std::str::from_utf8(body).is_err() {
            return (invalid("Invalid request: the body is not UTF-8.", None), false);
        }
        if key.is_none() {
            d.failures.push(format!("{context}: POST without an Idempotency-Key"));
        }
    }

    // Parameters, by every loaded spec.
    let mut first: Option<SpecError> = None;
    for (label, spec) in &inner.specs {
        for e in spec.check_request(method.as_str(), path, params) {
            d.failures.push(format!("{context} ({label}): {}", e.message));
            first.get_or_insert(e);
        }
    }
    if let Some(e) = first {
        return (invalid(e.message, e.param.as_deref()), false);
    }

    // Idempotency.
    let fingerprint = {
        let mut sorted = params.to_vec();
        sorted.sort();
        format!("{method} {path} {sorted:?}")
    };
    if let (true, Some(k)) = (*method == Method::POST, key) {
        if let Some(stored) = d.idempotency.get(k) {
            if stored.fingerprint == fingerprint {
                return (Answer { status: stored.status, body: stored.body.clone() }, true);
            }
            return (
                error(
                    400,
                    "idempotency_error",
                    format!(
                        "Keys for idempotent requests can only be used with the same parameters they were first used \
                         with. Try using a key other than '{k}' if you meant to execute a different request."
                    ),
                    None,
                    None,
                ),
                false,
            );
        }
    }

    let tree = match Node::parse(params) {
        Ok(t) => t,
        Err(e) => return (invalid(e, None), false),
    };
    let base = inner.base_url.get().cloned().unwrap_or_default();
    let id = path.rsplit('/').next().unwrap_or_default().to_string();
    let answer = match (method.as_str(), template.as_str()) {
        ("POST", "/v1/customers") => create_customer(&mut d, &tree),
        ("GET", "/v1/customers/search") => search(&d, &tree, "customer", "/v1/customers/search"),
        ("POST", "/v1/checkout/sessions") => create_session(&mut d, &tree, &base),
        ("GET", "/v1/checkout/sessions/{session}") => retrieve(&d, &id, "checkout.session", &tree),
        ("POST", "/v1/payment_intents") => create_intent(&mut d, &tree, &base),
        ("GET", "/v1/payment_intents/{intent}") => retrieve(&d, &id, "payment_intent", &tree),
        ("GET", "/v1/payment_intents/search") => search(&d, &tree, "payment_intent", "/v1/payment_intents/search"),
        ("POST", "/v1/refunds") => create_refund(&mut d, &tree),
        ("POST", "/v1/transfers") => create_transfer(&mut d, &tree),
        ("GET", "/v1/transfers") => list_transfers(&d, &tree),
        ("GET", "/v1/transfers/{transfer}") => retrieve(&d, &id, "transfer", &tree),
        _ => error(404, "invalid_request_error", format!("The double does not implement {method} {path}."), None, None),
    };
    if let (true, Some(k)) = (*method == Method::POST, key) {
        // Stripe stores the result once the endpoint started executing,
        // errors (declines included) as well.
        d.idempotency.insert(
            k.to_string(),
            Stored { status: answer.status, body: answer.body.clone(), fingerprint: fingerprint.clone() },
        );
    }
    drop(d);

    // The answer's shape.
    let mut shape_errors = Vec::new();
    for (label, spec) in &inner.specs {
        let errs = if (200..300).contains(&answer.status) {
            spec.check_response(method.as_str(), path, &answer.body)
        } else {
            spec.check_object("error", &answer.body)
        };
        shape_errors.extend(errs.into_iter().map(|e| format!("{context}: answer ({label}): {e}")));
    }
    if !shape_errors.is_empty() {
        inner.data.lock().unwrap_or_else(|e| e.into_inner()).failures.extend(shape_errors);
    }
    (answer, false)
}

// ---------------------------------------------------------------------------
// Parameters
// ---------------------------------------------------------------------------

/// Decoded bracket-notation parameters.
#[derive(Debug, Clone, PartialEq)]
enum Node {
    Leaf(String),
    Map(BTreeMap<String, Node>),
    List(Vec<Node>),
}

impl Node {
    fn parse(pairs: &[(String, String)]) -> Result<Node, String> {
        let mut root = Node::Map(BTreeMap::new());
        for (key, value) in pairs {
            let segments = split_key(key).ok_or_else(|| format!("Invalid parameter name: {key}"))?;
            root.insert(&segments, value.clone()).map_err(|()| format!("Invalid array or hash: {key}"))?;
        }
        Ok(root)
    }

    fn insert(&mut self, segments: &[String], value: String) -> Result<(), ()> {
        let (first, rest) = segments.split_first().ok_or(())?;
        let make = |rest: &[String]| -> Node {
            match rest.first() {
                None => Node::Leaf(String::new()),
                Some(s) if s.is_empty() => Node::List(Vec::new()),
                Some(_) => Node::Map(BTreeMap::new()),
            }
        };
        let child: &mut Node = match self {
            Node::Map(m) if !first.is_empty() => m.entry(first.clone()).or_insert_with(|| make(rest)),
            Node::List(l) if first.is_empty() => {
                l.push(make(rest));
                l.last_mut().expect("pushed")
            }
            _ => return Err(()),
        };
        if rest.is_empty() {
            match child {
                Node::Leaf(s) => {
                    *s = value;
                    Ok(())
                }
                _ => Err(()),
            }
        } else {
            child.insert(rest, value)
        }
    }

    fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Map(m) => m.get(key),
            _ => None,
        }
    }

    fn str(&self, key: &str) -> Option<&str> {
        match self.get(key)? {
            Node::Leaf(s) => Some(s.as_str()),
            _ => None,
        }
    }

    fn path(&self, keys: &[&str]) -> Option<&Node> {
        keys.iter().try_fold(self, |n, k| n.get(k))
    }

    /// Items of a list given as `k[]=…` or `k[0]=…`.
    fn items(&self) -> Vec<&Node> {
        match self {
            Node::List(l) => l.iter().collect(),
            Node::Map(m) => {
                let mut v: Vec<(usize, &Node)> = m.iter().filter_map(|(k, n)| k.parse().ok().map(|i| (i, n))).collect();
                v.sort_by_key(|(i, _)| *i);
                v.into_iter().map(|(_, n)| n).collect()
            }
            Node::Leaf(_) => Vec::new(),
        }
    }

    fn strings(&self, key: &str) -> Vec<String> {
        self.get(key)
            .map(|n| {
                n.items()
                    .into_iter()
                    .filter_map(|i| match i {
                        Node::Leaf(s) => Some(s.clone()),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    fn string_map(&self, key: &str) -> Map<String, Value> {
        match self.get(key) {
            Some(Node::Map(m)) => m
                .iter()
                .filter_map(|(k, v)| match v {
                    Node::Leaf(s) if !s.is_empty() => Some((k.clone(), json!(s))),
                    _ => None,
                })
                .collect(),
            _ => Map::new(),
        }
    }
}

/// `a[b][0][]` → `["a", "b", "0", ""]`.
fn split_key(key: &str) -> Option<Vec<String>> {
    let (head, mut rest) = match key.find('[') {
        Some(i) => (&key[..i], &key[i..]),
        None => (key, ""),
    };
    if head.is_empty() {
        return None;
    }
    let mut out = vec![head.to_string()];
    while !rest.is_empty() {
        let inner = rest.strip_prefix('[')?;
        let close = inner.find(']')?;
        out.push(inner[..close].to_string());
        rest = &inner[close + 1..];
    }
    Some(out)
}

// ---------------------------------------------------------------------------
// The spec
// ---------------------------------------------------------------------------

#[derive(Debug)]
struct SpecError {
    message: String,
    param: Option<String>,
}

/// An OpenAPI description of the Stripe API (the extract or the full file).
struct Spec {
    doc: Value,
}

impl Spec {
    fn new(doc: Value) -> Spec {
        Spec { doc }
    }

    fn version(&self) -> String {
        self.doc["info"]["version"].as_str().unwrap_or_default().to_string()
    }

    fn schema(&self, name: &str) -> Option<&Value> {
        self.doc["components"]["schemas"].get(name)
    }

    fn resolve<'a>(&'a self, schema: &'a Value) -> Option<&'a Value> {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(r) => self.schema(r.strip_prefix("#/components/schemas/")?).and_then(|s| self.resolve(s)),
            None => Some(schema),
        }
    }

    /// The path template and operation matching a concrete path; literal
    /// segments win over `{param}` ones.
    fn operation(&self, method: &str, path: &str) -> Option<(String, &Value)> {
        let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
        let mut best: Option<(usize, String, &Value)> = None;
        for (template, ops) in self.doc["paths"].as_object()? {
            let Some(op) = ops.get(method.to_ascii_lowercase()) else { continue };
            let t: Vec<&str> = template.split('/').collect();
            if t.len() != segments.len() {
                continue;
            }
            let mut literal = 0;
            let matches = t.iter().zip(&segments).all(|(a, b)| {
                if a.starts_with('{') {
                    !b.is_empty()
                } else {
                    literal += 1;
                    a == b
                }
            });
            if matches && best.as_ref().is_none_or(|(l, _, _)| literal > *l) {
                best = Some((literal, template.clone(), op));
            }
        }
        best.map(|(_, t, op)| (t, op))
    }

    fn check_request(&self, method: &str, path: &str, params: &[(String, String)]) -> Vec<SpecError> {
        let Some((_, op)) = self.operation(method, path) else {
            return vec![SpecError { message: format!("Unrecognized request URL ({method}: {path})"), param: None }];
        };
        let tree = match Node::parse(params) {
            Ok(t) => t,
            Err(e) => return vec![SpecError { message: e, param: None }],
        };
        let mut errs = Vec::new();
        if method == "POST" {
            let schema = &op["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"];
            if schema.is_null() {
                if !params.is_empty() {
                    errs.push(SpecError { message: "This operation takes no parameters".into(), param: None });
                }
            } else {
                self.check_node(schema, &tree, "", &mut errs);
            }
        } else {
            let query: Vec<&Value> = op["parameters"]
                .as_array()
                .map(|a| a.iter().filter(|p| p["in"] == "query").collect())
                .unwrap_or_default();
            if let Node::Map(m) = &tree {
                for (k, n) in m {
                    match query.iter().find(|p| p["name"] == k.as_str()) {
                        Some(p) => self.check_node(&p["schema"], n, k, &mut errs),
                        None => errs.push(SpecError {
                            message: format!("Received unknown parameter: {k}"),
                            param: Some(k.clone()),
                        }),
                    }
                }
                for p in query.iter().filter(|p| p["required"] == true) {
                    let name = p["name"].as_str().unwrap_or_default();
                    if !m.contains_key(name) {
                        errs.push(SpecError {
                            message: format!("Missing required param: {name}."),
                            param: Some(name.to_string()),
                        });
                    }
                }
            }
        }
        errs
    }

    fn check_node(&self, schema: &Value, node: &Node, path: &str, errs: &mut Vec<SpecError>) {
        let Some(schema) = self.resolve(schema) else { return };
        let err = |message: String| SpecError { message, param: Some(path.to_string()) };
        if let Some(alts) = schema.get("anyOf").and_then(Value::as_array) {
            let mut first_errs = None;
            for alt in alts {
                let mut e = Vec::new();
                self.check_node(alt, node, path, &mut e);
                if e.is_empty() {
                    return;
                }
                first_errs.get_or_insert(e);
            }
            errs.push(err(format!(
                "Invalid value for {path}: {}",
                first_errs.and_then(|e| e.into_iter().next()).map(|e| e.message).unwrap_or_default()
            )));
            return;
        }
        let ty = schema.get("type").and_then(Value::as_str);
        match node {
            Node::Leaf(s) => {
                if let Some(values) = schema.get("enum").and_then(Value::as_array) {
                    if !values.iter().any(|v| v.as_str() == Some(s.as_str()) || v.to_string().as_str() == s) {
                        let list: Vec<String> =
                            values.iter().map(|v| v.as_str().map(str::to_string).unwrap_or(v.to_string())).collect();
                        errs.push(err(format!("Invalid {path}: must be one of {}", list.join(", "))));
                    }
                    return;
                }
                match ty {
                    Some("string") => {
                        let max = schema.get("maxLength").and_then(Value::as_u64).unwrap_or(u64::MAX);
                        if s.chars().count() as u64 > max {
                            errs.push(err(format!("Invalid {path}: must be at most {max} characters")));
                        }
                    }
                    Some("integer") if s.parse::<i64>().is_err() => errs.push(err(format!("Invalid integer: {s}"))),
                    Some("number") if s.parse::<f64>().is_err() => errs.push(err(format!("Invalid decimal: {s}"))),
                    Some("boolean") if s != "true" && s != "false" => errs.push(err(format!("Invalid boolean: {s}"))),
                    Some("object") | Some("array") => {
                        errs.push(err(format!("Invalid {ty_}: {path} must be a {ty_}", ty_ = ty.unwrap_or_default())))
                    }
                    _ => {}
                }
            }
            Node::List(_) | Node::Map(_) if ty == Some("array") => {
                if let Node::Map(m) = node {
                    if m.keys().any(|k| k.parse::<usize>().is_err()) {
                        errs.push(err(format!("Invalid array: {path}")));
                        return;
                    }
                }
                for (i, item) in node.items().into_iter().enumerate() {
                    self.check_node(&schema["items"], item, &format!("{path}[{i}]"), errs);
                }
            }
            Node::Map(m) if ty == Some("object") || schema.get("properties").is_some() => {
                let props = schema.get("properties").and_then(Value::as_object);
                let additional = schema.get("additionalProperties");
                for (k, n) in m {
                    let child = if path.is_empty() { k.clone() } else { format!("{path}[{k}]") };
                    match (props.and_then(|p| p.get(k)), additional) {
                        (Some(s), _) => self.check_node(s, n, &child, errs),
                        (None, Some(a)) if a.is_object() => self.check_node(a, n, &child, errs),
                        (None, _) if props.is_none() && additional.is_none() => {}
                        (None, _) => errs.push(SpecError {
                            message: format!("Received unknown parameter: {child}"),
                            param: Some(child.clone()),
                        }),
                    }
                }
                for r in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
                    let r = r.as_str().unwrap_or_default();
                    if !m.contains_key(r) {
                        let child = if path.is_empty() { r.to_string() } else { format!("{path}[{r}]") };
                        errs.push(SpecError {
                            message: format!("Missing required param: {child}."),
                            param: Some(child.clone()),
                        });
                    }
                }
            }
            _ => errs.push(err(format!(
                "Invalid {}: {path}",
                match node {
                    Node::List(_) => "array",
                    _ => "hash",
                }
            ))),
        }
    }

    fn check_response(&self, method: &str, path: &str, body: &Value) -> Vec<String> {
        let Some((_, op)) = self.operation(method, path) else { return vec![format!("no operation for {path}")] };
        let schema = &op["responses"]["200"]["content"]["application/json"]["schema"];
        let mut errs = Vec::new();
        self.check_value(schema, body, "", &mut errs);
        errs
    }

    fn check_object(&self, name: &str, value: &Value) -> Vec<String> {
        let mut errs = Vec::new();
        match self.schema(name) {
            Some(s) => self.check_value(s, value, "", &mut errs),
            None => errs.push(format!("no schema `{name}`")),
        }
        errs
    }

    /// Checks a JSON value against a response schema: required properties,
    /// no unknown properties, types, enums, nullability. References outside
    /// the loaded document are not checked.
    fn check_value(&self, schema: &Value, v: &Value, path: &str, errs: &mut Vec<String>) {
        let Some(schema) = self.resolve(schema) else { return };
        if v.is_null() {
            if schema.get("nullable") != Some(&Value::Bool(true)) {
                errs.push(format!("{path}: null but not nullable"));
            }
            return;
        }
        if let Some(alts) = schema.get("anyOf").and_then(Value::as_array) {
            let mut first = None;
            for alt in alts {
                let mut e = Vec::new();
                self.check_value(alt, v, path, &mut e);
                if e.is_empty() {
                    return;
                }
                first.get_or_insert(e);
            }
            errs.extend(first.unwrap_or_default());
            return;
        }
        if let Some(values) = schema.get("enum").and_then(Value::as_array) {
            if !values.contains(v) {
                errs.push(format!("{path}: {v} is not one of {values:?}"));
            }
            return;
        }
        let ok = match schema.get("type").and_then(Value::as_str) {
            Some("string") => v.is_string(),
            Some("integer") => v.is_i64() || v.is_u64(),
            Some("number") => v.is_number(),
            Some("boolean") => v.is_boolean(),
            Some("array") => {
                if let Some(items) = v.as_array() {
                    for (i, item) in items.iter().enumerate() {
                        self.check_value(&schema["items"], item, &format!("{path}[{i}]"), errs);
                    }
                    true
                } else {
                    false
                }
            }
            Some("object") | None if schema.get("properties").is_some() || schema.get("type").is_some() => {
                if let Some(obj) = v.as_object() {
                    let props = schema.get("properties").and_then(Value::as_object);
                    for (k, val) in obj {
                        let child = format!("{path}.{k}");
                        match props.and_then(|p| p.get(k)) {
                            Some(s) => self.check_value(s, val, &child, errs),
                            None => match schema.get("additionalProperties") {
                                Some(a) if a.is_object() => self.check_value(a, val, &child, errs),
                                _ if props.is_some() => errs.push(format!("{child}: not in the schema")),
                                _ => {}
                            },
                        }
                    }
                    for r in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
                        let r = r.as_str().unwrap_or_default();
                        if !obj.contains_key(r) {
                            errs.push(format!("{path}.{r}: required but missing"));
                        }
                    }
                    true
                } else {
                    false
                }
            }
            _ => true,
        };
        if !ok {
            errs.push(format!("{path}: {v} does not have type {}", schema.get("type").unwrap_or(&Value::Null)));
        }
    }
}

// ---------------------------------------------------------------------------
// Operations
// ---------------------------------------------------------------------------

/// Checks an amount the way Stripe does for the currency (lower-case code).
fn check_amount(amount: i64, currency: &str, param: &str) -> Result<(), Answer> {
    if amount < 1 {
        return Err(error(
            400,
            "invalid_request_error",
            "This value must be greater than or equal to 1.",
            Some("parameter_invalid_integer"),
            Some(param),
        ));
    }
    if ["bhd", "jod", "kwd", "omr", "tnd"].contains(&currency) && amount % 10 != 0 {
        return Err(error(
            400,
            "invalid_request_error",
            format!("Invalid amount. Amounts in {} must end in 0.", currency.to_uppercase()),
            Some("amount_invalid"),
            Some(param),
        ));
    }
    if ["isk", "ugx"].contains(&currency) && amount % 100 != 0 {
        return Err(error(
            400,
            "invalid_request_error",
            format!(
                "Invalid amount. Currency {} has become effectively zero-decimal and charged amounts must be evenly \
                 divisible by 100. See https://stripe.com/docs/currencies#special-cases for more information.",
                currency.to_uppercase()
            ),
            Some("invalid_charge_amount_no_decimal_compatible"),
            Some(param),
        ));
    }
    Ok(())
}

fn check_currency(currency: &str) -> Result<(), Answer> {
    if currency.len() == 3 && currency.bytes().all(|b| b.is_ascii_lowercase()) {
        Ok(())
    } else {
        Err(invalid(
            format!("Invalid currency: {currency}. Stripe currently supports these currencies: usd, eur, …"),
            Some("currency"),
        ))
    }
}

fn int(tree: &Node, key: &str) -> Option<i64> {
    tree.str(key).and_then(|s| s.parse().ok())
}

fn ok(body: Value) -> Answer {
    Answer { status: 200, body }
}

fn create_customer(d: &mut Data, t: &Node) -> Answer {
    let mut c = skeleton("customer");
    c["id"] = json!(new_id("cus"));
    c["email"] = json!(t.str("email"));
    c["name"] = json!(t.str("name"));
    c["phone"] = json!(t.str("phone"));
    if let Some(Node::Map(_)) = t.get("address") {
        let field = |k: &str| {
            json!(t.path(&["address", k]).and_then(|n| if let Node::Leaf(s) = n { Some(s.clone()) } else { None }))
        };
        c["address"] = json!({"city": field("city"), "country": field("country"), "line1": field("line1"),
                              "line2": field("line2"), "postal_code": field("postal_code"), "state": field("state")});
    }
    c["balance"] = json!(0);
    c["delinquent"] = json!(false);
    c["invoice_prefix"] = json!(Alphanumeric.sample_string(&mut rand::rng(), 8).to_uppercase());
    c["invoice_settings"] =
        json!({"custom_fields": null, "default_payment_method": null, "footer": null, "rendering_options": null});
    c["metadata"] = Value::Object(t.string_map("metadata"));
    c["next_invoice_sequence"] = json!(1);
    c["preferred_locales"] = json!([]);
    c["tax_exempt"] = json!("none");
    ok(finish(d, c))
}

fn create_session(d: &mut Data, t: &Node, base: &str) -> Answer {
    let mode = t.str("mode").unwrap_or_default();
    if mode != "payment" {
        return invalid(format!("The double implements Checkout in payment mode only, not `{mode}`."), Some("mode"));
    }
    let customer = t.str("customer");
    if let Some(c) = customer {
        if !d.objects.contains_key(c) {
            return missing("customer", c, Some("customer"));
        }
        if t.get("customer_email").is_some() {
            return invalid(
                "You may only specify one of these parameters: customer, customer_email.",
                Some("customer_email"),
            );
        }
        if t.get("customer_creation").is_some() {
            return invalid(
                "`customer_creation` can only be used when `customer` is not set.",
                Some("customer_creation"),
            );
        }
    }
    let items = t.get("line_items").map(Node::items).unwrap_or_default();
    if items.is_empty() {
        return invalid("You must specify `line_items` in `payment` mode.", Some("line_items"));
    }
    let mut total = 0i64;
    let mut currency: Option<String> = None;
    for (i, item) in items.iter().enumerate() {
        let Some(price) = item.get("price_data") else {
            return invalid(
                "The double supports `price_data` line items only.",
                Some(&format!("line_items[{i}][price]")),
            );
        };
        let cur = price.str("currency").unwrap_or_default().to_string();
        if let Err(a) = check_currency(&cur) {
            return a;
        }
        let Some(unit) = price.str("unit_amount").and_then(|s| s.parse::<i64>().ok()) else {
            return invalid(
                "You must specify either `unit_amount` or `unit_amount_decimal`.",
                Some(&format!("line_items[{i}][price_data][unit_amount]")),
            );
        };
        if price.get("product").is_none() && price.get("product_data").is_none() {
            return invalid(
                "You must specify either `product` or `product_data`.",
                Some(&format!("line_items[{i}][price_data]")),
            );
        }
        let quantity = item.str("quantity").and_then(|s| s.parse::<i64>().ok()).unwrap_or(0);
        if quantity < 1 {
            return invalid(
                "Quantity is required. Add `quantity` to `line_items`.",
                Some(&format!("line_items[{i}][quantity]")),
            );
        }
        if currency.as_ref().is_some_and(|c| *c != cur) {
            return invalid("All line items must use the same currency.", Some("line_items"));
        }
        total += unit * quantity;
        currency = Some(cur);
    }
    let currency = currency.unwrap_or_default();
    if let Err(a) = check_amount(total, &currency, "line_items[0][price_data][unit_amount]") {
        return a;
    }
    let id = new_id("cs");
    let mut cs = skeleton("checkout.session");
    cs["id"] = json!(id);
    cs["amount_subtotal"] = json!(total);
    cs["amount_total"] = json!(total);
    cs["automatic_tax"] = json!({"enabled": false, "status": null});
    cs["cancel_url"] = json!(t.str("cancel_url"));
    cs["client_reference_id"] = json!(t.str("client_reference_id"));
    cs["currency"] = json!(currency);
    cs["custom_fields"] = json!([]);
    cs["custom_text"] = json!({"shipping_address": null, "submit": null});
    cs["customer"] = json!(customer);
    cs["customer_creation"] =
        json!(t.str("customer_creation").or(customer.map(|_| "if_required")).unwrap_or("if_required"));
    cs["customer_email"] = json!(t.str("customer_email"));
    cs["expires_at"] = json!(now() + 86_400);
    cs["metadata"] = Value::Object(t.string_map("metadata"));
    cs["mode"] = json!("payment");
    cs["payment_method_collection"] = json!("always");
    let types = t.strings("payment_method_types");
    cs["payment_method_types"] = json!(if types.is_empty() { vec!["card".to_string()] } else { types });
    cs["payment_status"] = json!("unpaid");
    cs["phone_number_collection"] = json!({"enabled": false});
    cs["shipping_options"] = json!([]);
    cs["status"] = json!("open");
    cs["success_url"] = json!(t.str("success_url"));
    cs["total_details"] = json!({"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0});
    cs["url"] = json!(format!("{base}/c/pay/{id}"));
    let pid = t.get("payment_intent_data");
    d.session_intent.insert(
        id.clone(),
        SessionIntentData {
            metadata: pid.map(|p| p.string_map("metadata")).unwrap_or_default(),
            description: pid.and_then(|p| p.str("description")).map(str::to_string),
            setup_future_usage: pid.and_then(|p| p.str("setup_future_usage")).map(str::to_string),
        },
    );
    ok(finish(d, cs))
}

fn create_intent(d: &mut Data, t: &Node, base: &str) -> Answer {
    let currency = t.str("currency").unwrap_or_default().to_string();
    if let Err(a) = check_currency(&currency) {
        return a;
    }
    let amount = int(t, "amount").unwrap_or_default();
    if let Err(a) = check_amount(amount, &currency, "amount") {
        return a;
    }
    let customer = t.str("customer").map(str::to_string);
    if let Some(c) = &customer {
        if !d.objects.contains_key(c) {
            return missing("customer", c, Some("customer"));
        }
    }
    let confirm = t.str("confirm") == Some("true");
    let off_session = matches!(t.str("off_session"), Some("true" | "one_off" | "recurring"));
    if off_session && !confirm {
        return invalid("`off_session` can only be used when `confirm` is true.", Some("off_session"));
    }
    let types = t.strings("payment_method_types");
    let apm = t.path(&["automatic_payment_methods", "enabled"]) == Some(&Node::Leaf("true".into())) || types.is_empty();
    let no_redirects = t.path(&["automatic_payment_methods", "allow_redirects"]) == Some(&Node::Leaf("never".into()));
    if confirm && apm && !no_redirects && t.get("return_url").is_none() {
        return invalid(
            "This PaymentIntent is configured to accept payment methods enabled in your Dashboard, some of which may \
             require a full page redirect to succeed. If you do not want to accept redirect-based payment methods, set \
             `automatic_payment_methods[enabled]` to `true` and `automatic_payment_methods[allow_redirects]` to \
             `never` when creating Setup Intents and Payment Intents.",
            None,
        );
    }
    // The payment method: a stored one, or a test token that creates one.
    let mut pm_id = None;
    let mut behaviour = None;
    if let Some(pm) = t.str("payment_method") {
        if let Some(b) = d.behaviours.get(pm) {
            let owner = d.objects.get(pm).and_then(|o| o["customer"].as_str().map(str::to_string));
            if owner.is_some() && owner != customer {
                return invalid(
                    format!("The provided PaymentMethod {pm} belongs to another Customer."),
                    Some("payment_method"),
                );
            }
            behaviour = Some(*b);
            pm_id = Some(pm.to_string());
        } else if let Some(b) = behaviour_of(pm) {
            behaviour = Some(b);
            pm_id = Some(create_payment_method(d, pm, b));
        } else {
            return missing("PaymentMethod", pm, Some("payment_method"));
        }
    }
    if confirm && pm_id.is_none() {
        return invalid(
            "You cannot confirm this PaymentIntent because it's missing a payment method.",
            Some("payment_method"),
        );
    }
    let id = new_id("pi");
    let mut pi = skeleton("payment_intent");
    pi["id"] = json!(id);
    pi["amount"] = json!(amount);
    pi["amount_capturable"] = json!(0);
    pi["amount_details"] = json!({"tip": {}});
    pi["amount_received"] = json!(0);
    pi["automatic_payment_methods"] = if apm {
        json!({"allow_redirects": if no_redirects { "never" } else { "always" }, "enabled": true})
    } else {
        Value::Null
    };
    pi["capture_method"] = json!(t.str("capture_method").unwrap_or("automatic"));
    pi["client_secret"] = json!(format!("{id}_secret_{}", Alphanumeric.sample_string(&mut rand::rng(), 24)));
    pi["confirmation_method"] = json!(t.str("confirmation_method").unwrap_or("automatic"));
    pi["currency"] = json!(currency);
    pi["customer"] = json!(customer);
    pi["description"] = json!(t.str("description"));
    pi["metadata"] = Value::Object(t.string_map("metadata"));
    pi["payment_method"] = json!(pm_id);
    pi["payment_method_types"] = json!(if types.is_empty() { vec!["card".to_string()] } else { types });
    pi["setup_future_usage"] = json!(t.str("setup_future_usage"));
    pi["status"] = json!(if pm_id.is_some() { "requires_confirmation" } else { "requires_payment_method" });
    finish(d, pi);
    let (Some(behaviour), true) = (behaviour, confirm) else {
        return ok(public(d.objects[&id].clone()));
    };
    let requires_action = |d: &mut Data| {
        let pi = d.objects.get_mut(&id).expect("stored");
        pi["status"] = json!("requires_action");
        pi["next_action"] = json!({
            "type": "redirect_to_url",
            "redirect_to_url": {"return_url": t.str("return_url"), "url": format!("{base}/3ds/{id}")},
        });
    };
    match behaviour {
        Behaviour::Succeeds => succeed_intent(d, &id),
        Behaviour::Processing => {
            d.objects.get_mut(&id).expect("stored")["status"] = json!("processing");
        }
        Behaviour::AuthenticationRequired if !off_session || d.auth_off_session_requires_action => requires_action(d),
        Behaviour::AuthenticationRequired => {
            let message = "Your card was declined. This transaction requires authentication.";
            let mut err = fail_intent(d, &id, "authentication_required", "authentication_required", message);
            err["payment_intent"] = public(d.objects[&id].clone());
            return Answer { status: 402, body: json!({ "error": err }) };
        }
        Behaviour::Declines { code, decline_code, message } => {
            let mut err = fail_intent(d, &id, code, decline_code, message);
            err["payment_intent"] = public(d.objects[&id].clone());
            return Answer { status: 402, body: json!({ "error": err }) };
        }
    }
    ok(public(d.objects[&id].clone()))
}

fn create_transfer(d: &mut Data, t: &Node) -> Answer {
    let currency = t.str("currency").unwrap_or_default().to_string();
    if let Err(a) = check_currency(&currency) {
        return a;
    }
    let Some(amount) = int(t, "amount") else {
        return invalid("Missing required param: amount.", Some("amount"));
    };
    if let Err(a) = check_amount(amount, &currency, "amount") {
        return a;
    }
    let destination = t.str("destination").unwrap_or_default().to_string();
    if !d.accounts.contains(&destination) {
        return error(
            400,
            "invalid_request_error",
            format!("No such destination: '{destination}'"),
            Some("resource_missing"),
            Some("destination"),
        );
    }
    if let Some(available) = d.balances.get_mut(&currency) {
        if *available < amount {
            return error(
                400,
                "invalid_request_error",
                "You have insufficient available funds in your Stripe account. Try adding funds directly to your \
                 available balance by creating Charges using the 4000000000000077 test card. See: \
                 https://stripe.com/docs/testing#available-balance",
                Some("balance_insufficient"),
                None,
            );
        }
        *available -= amount;
    }
    let id = new_id("tr");
    let mut tr = skeleton("transfer");
    tr["id"] = json!(id);
    tr["amount"] = json!(amount);
    tr["amount_reversed"] = json!(0);
    tr["balance_transaction"] = json!(new_id("txn"));
    tr["currency"] = json!(currency);
    tr["description"] = json!(t.str("description"));
    tr["destination"] = json!(destination);
    tr["destination_payment"] = json!(new_id("py"));
    tr["metadata"] = Value::Object(t.string_map("metadata"));
    tr["reversals"] =
        json!({"object": "list", "data": [], "has_more": false, "url": format!("/v1/transfers/{id}/reversals")});
    tr["reversed"] = json!(false);
    tr["source_type"] = json!("card");
    tr["transfer_group"] = json!(t.str("transfer_group"));
    ok(finish(d, tr))
}

/// `GET /v1/transfers`, newest first, filtered by `transfer_group` and
/// `destination`.
fn list_transfers(d: &Data, t: &Node) -> Answer {
    let group = t.str("transfer_group");
    let destination = t.str("destination");
    let limit = int(t, "limit").unwrap_or(10).clamp(1, 100) as usize;
    let mut hits: Vec<Value> = d
        .objects
        .values()
        .filter(|o| o["object"] == "transfer")
        .filter(|o| group.is_none_or(|g| o["transfer_group"] == g))
        .filter(|o| destination.is_none_or(|a| o["destination"] == a))
        .cloned()
        .collect();
    hits.sort_by_key(|o| std::cmp::Reverse((o["created"].as_i64(), o["_seq"].as_u64())));
    let has_more = hits.len() > limit;
    hits.truncate(limit);
    ok(json!({
        "object": "list",
        "data": hits.into_iter().map(public).collect::<Vec<_>>(),
        "has_more": has_more,
        "url": "/v1/transfers",
    }))
}

fn create_refund(d: &mut Data, t: &Node) -> Answer {
    let charge_id = match (t.str("payment_intent"), t.str("charge")) {
        (Some(pi), None) => {
            let Some(intent) = d.objects.get(pi).filter(|o| o["object"] == "payment_intent") else {
                return missing("payment_intent", pi, Some("payment_intent"));
            };
            if intent["status"] != "succeeded" {
                return error(
                    400,
                    "invalid_request_error",
                    format!("This PaymentIntent ({pi}) does not have a successful charge to refund."),
                    Some("charge_not_refundable"),
                    Some("payment_intent"),
                );
            }
            intent["latest_charge"].as_str().unwrap_or_default().to_string()
        }
        (None, Some(ch)) => {
            if !d.objects.contains_key(ch) {
                return missing("charge", ch, Some("charge"));
            }
            ch.to_string()
        }
        _ => return invalid("You must pass exactly one of `charge` or `payment_intent`.", None),
    };
    let charge = d.objects[&charge_id].clone();
    let captured = charge["amount_captured"].as_i64().unwrap_or_default();
    let refunded = charge["amount_refunded"].as_i64().unwrap_or_default();
    let remaining = captured - refunded;
    let currency = charge["currency"].as_str().unwrap_or_default().to_string();
    if remaining <= 0 {
        return error(
            400,
            "invalid_request_error",
            format!("Charge {charge_id} has already been refunded."),
            Some("charge_already_refunded"),
            None,
        );
    }
    let amount = int(t, "amount").unwrap_or(remaining);
    if let Err(a) = check_amount(amount, &currency, "amount") {
        return a;
    }
    if amount > remaining {
        return error(
            400,
            "invalid_request_error",
            format!("Refund amount ({amount}) is greater than unrefunded amount on charge ({remaining})"),
            Some("amount_too_large"),
            Some("amount"),
        );
    }
    let id = new_id("re");
    let mut re = skeleton("refund");
    re["id"] = json!(id);
    re["amount"] = json!(amount);
    re["charge"] = json!(charge_id);
    re["currency"] = json!(currency);
    re["metadata"] = Value::Object(t.string_map("metadata"));
    re["payment_intent"] = charge["payment_intent"].clone();
    re["reason"] = json!(t.str("reason"));
    re["status"] = json!("succeeded");
    let body = finish(d, re);
    let ch = d.objects.get_mut(&charge_id).expect("exists");
    ch["amount_refunded"] = json!(refunded + amount);
    ch["refunded"] = json!(refunded + amount == captured);
    d.charge_refunds.entry(charge_id).or_default().push(id);
    ok(body)
}

fn retrieve(d: &Data, id: &str, object: &str, t: &Node) -> Answer {
    let Some(found) = d.objects.get(id).filter(|o| o["object"] == object) else {
        return missing(object, id, None);
    };
    let mut value = public(found.clone());
    for path in t.strings("expand") {
        if let Err(e) = expand(d, &mut value, &path.split('.').collect::<Vec<_>>()) {
            return invalid(e, Some("expand"));
        }
    }
    ok(value)
}

/// Replaces the id at `path` with the object it names.
fn expand(d: &Data, value: &mut Value, path: &[&str]) -> Result<(), String> {
    let Some((first, rest)) = path.split_first() else { return Ok(()) };
    let Some(slot) = value.get_mut(*first) else {
        return Err(format!("This property cannot be expanded ({first})."));
    };
    if let Some(id) = slot.as_str() {
        let obj = d.objects.get(id).ok_or_else(|| format!("This property cannot be expanded ({first})."))?;
        *slot = public(obj.clone());
    } else if slot.is_array() && *first == "data" {
        for item in slot.as_array_mut().expect("array") {
            expand(d, item, rest)?;
        }
        return Ok(());
    } else if !slot.is_object() && !slot.is_null() {
        return Err(format!("This property cannot be expanded ({first})."));
    }
    if slot.is_object() {
        expand(d, slot, rest)?;
    }
    Ok(())
}

/// One clause of Stripe's search query language: `field:'value'` or
/// `metadata['key']:'value'`.
fn parse_clause(clause: &str) -> Option<(Vec<String>, String)> {
    let (field, value) = if let Some(rest) = clause.strip_prefix("metadata[") {
        let quote = rest.chars().next()?;
        let rest = &rest[1..];
        let end = rest.find(quote)?;
        let key = rest[..end].to_string();
        let value = rest[end + 1..].strip_prefix(']')?.strip_prefix(':')?;
        (vec!["metadata".to_string(), key], value)
    } else {
        let (f, v) = clause.split_once(':')?;
        (vec![f.to_string()], v)
    };
    let quote = value.chars().next()?;
    if quote != '\'' && quote != '"' {
        return Some((field, value.to_string()));
    }
    let mut out = String::new();
    let mut chars = value[1..].chars();
    loop {
        match chars.next()? {
            '\\' => out.push(chars.next()?),
            c if c == quote => break,
            c => out.push(c),
        }
    }
    chars.next().is_none().then_some((field, out))
}

fn search(d: &Data, t: &Node, object: &str, url: &str) -> Answer {
    let query = t.str("query").unwrap_or_default();
    let mut clauses = Vec::new();
    for c in query.split(" AND ") {
        match parse_clause(c.trim()) {
            Some(p) => clauses.push(p),
            None => return invalid(format!("Invalid search query: {query}"), Some("query")),
        }
    }
    let limit = int(t, "limit").unwrap_or(10).clamp(1, 100) as usize;
    let mut hits: Vec<Value> = d
        .objects
        .values()
        .filter(|o| o["object"] == object)
        .filter(|o| {
            clauses.iter().all(|(field, value)| {
                let found = field.iter().try_fold(*o, |v, k| v.get(k.as_str()));
                match found {
                    Some(Value::String(s)) => s == value,
                    Some(Value::Number(n)) => n.to_string() == *value,
                    _ => false,
                }
            })
        })
        .cloned()
        .collect();
    hits.sort_by_key(|o| std::cmp::Reverse((o["created"].as_i64(), o["_seq"].as_u64())));
    let has_more = hits.len() > limit;
    hits.truncate(limit);
    let mut body = json!({
        "object": "search_result",
        "data": hits.into_iter().map(public).collect::<Vec<_>>(),
        "has_more": has_more,
        "next_page": null,
        "url": url,
    });
    for path in t.strings("expand") {
        if let Err(e) = expand(d, &mut body, &path.split('.').collect::<Vec<_>>()) {
            return invalid(e, Some("expand"));
        }
    }
    ok(body)
}
