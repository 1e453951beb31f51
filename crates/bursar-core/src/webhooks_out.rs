//! Outgoing webhooks: events from the outbox delivered to the platform's
//! endpoints.
//!
//! A pass has two halves. **Collect** reads the events after the `webhooks`
//! cursor in `outbox_cursors` and, in the same transaction that advances the
//! cursor, queues one pending delivery per (matching enabled endpoint of the
//! event's mode, event); a crash before the commit loses nothing and a crash
//! after it has the deliveries written. **Send** claims due deliveries (a
//! lease in a short transaction, `SKIP LOCKED` on PostgreSQL), POSTs them
//! with no transaction open, at most [`IN_FLIGHT`] at a time, and records
//! every attempt. A 2xx is success; anything else is retried with
//! exponential backoff until three days after the first attempt, then the
//! delivery is `failed`.
//!
//! Requests are signed like Stripe's: `Bursar-Signature: t=<unix
//! seconds>,v1=<hex HMAC-SHA256 of "{t}.{body}">`, keyed with the endpoint's
//! secret string, so existing Stripe verification code works unchanged.
//! Endpoints may not point at loopback, private, link-local or otherwise
//! reserved addresses unless `webhook_allow_private_urls` is set; this is
//! checked when an endpoint is saved and again when connecting (the resolver
//! refuses such addresses, so a name that starts resolving to one is not
//! followed).

use crate::ctx::Ctx;
use bursar_store::events::EventRow;
use bursar_store::webhooks::{self, AttemptRow, DeliveryRow, Outgoing};
use bursar_store::DbError;
use futures::StreamExt;
use reqwest::Url;
use serde::Serialize;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// The cursor's name in `outbox_cursors`.
pub const CONSUMER: &str = "webhooks";
/// Events younger than this (by their id's timestamp) are read again on the
/// next pass, in case an older transaction commits late; the unique
/// (endpoint, event) pair keeps them from being queued twice.
const SETTLE_MS: i64 = 10_000;
/// Events read per collect transaction.
const EVENT_BATCH: i64 = 500;
/// Deliveries claimed at a time.
const SEND_BATCH: i64 = 64;
/// Requests in flight at once.
pub const IN_FLIGHT: usize = 16;
/// Each request's time limit, connection to last byte read.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// How long a claimed delivery is left to its worker before another may
/// take it (the worker died).
const LEASE_MS: i64 = 5 * 60_000;
/// Retries stop this long after the first attempt.
pub const GIVE_UP_AFTER_MS: i64 = 3 * 86_400_000;
/// After a roll, the previous secret keeps signing (as a second `v1`) this long.
pub const PREVIOUS_SECRET_GRACE_MS: i64 = 86_400_000;
/// At most this much of a response body is kept.
pub const SNIPPET_BYTES: usize = 1024;
/// Delays before the retries after the 1st, 2nd, … failed attempt; the last
/// one repeats. Each gets up to 10 % of jitter.
pub const RETRY_DELAYS_MS: [i64; 6] = [60_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000];

/// Event types Bursar emits that an endpoint can subscribe to.
pub const EVENT_TYPES: &[&str] = &[
    "catalog.imported",
    "checkout.session.completed",
    "checkout.session.expired",
    "credit_note.issued",
    "credits.granted",
    "customer.balance_transaction.created",
    "customer.created",
    "customer.deleted",
    "customer.updated",
    "invoice.created",
    "invoice.deleted",
    "invoice.finalized",
    "invoice.marked_uncollectible",
    "invoice.paid",
    "invoice.payment_failed",
    "invoice.refunded",
    "invoice.voided",
    "ledger_entry.created",
    "ledger_entry.reversed",
    "payment.dispute_opened",
    "payment.failed",
    "payment.succeeded",
    "payment_method.attached",
    "payment_method.detached",
    "price.created",
    "refund.failed",
    "refund.succeeded",
    "subscription.activated",
    "subscription.canceled",
    "subscription.created",
    "subscription.incomplete_expired",
    "subscription.past_due",
    "subscription.paused",
    "subscription.reactivated",
    "subscription.recovered",
    "subscription.renewed",
    "subscription.resumed",
    "subscription.trial_converted",
    "subscription.unpaid",
    "subscription.updated",
    "test_helpers.test_clock.advanced",
    "usage.threshold_reached",
];

/// Families that may be subscribed to as `family.*` before any of their
/// events is listed above.
pub const EVENT_FAMILIES: &[&str] = &["entitlement", "order"];

/// Checks a list of event patterns (an event type, `family.*`, or `*`) and
/// returns it without duplicates, in the order given.
pub fn check_event_patterns(list: &[String]) -> Result<Vec<String>, String> {
    if list.is_empty() {
        return Err("enabled_events needs at least one event type, or `*`".into());
    }
    if list.len() > 100 {
        return Err("enabled_events can list at most 100 entries".into());
    }
    let mut out: Vec<String> = Vec::new();
    for p in list {
        let p = p.trim();
        let known = p == "*"
            || EVENT_TYPES.contains(&p)
            || p.strip_suffix(".*").is_some_and(|family| {
                !family.is_empty()
                    && (EVENT_FAMILIES.contains(&family)
                        || EVENT_TYPES.iter().any(|t| t.strip_prefix(family).is_some_and(|r| r.starts_with('.'))))
            });
        if !known {
            return Err(format!("unknown event type `{p}`"));
        }
        if !out.iter().any(|o| o == p) {
            out.push(p.to_string());
        }
    }
    Ok(out)
}

/// Whether an event type is selected by any of the patterns.
pub fn matches(patterns: &[String], event_type: &str) -> bool {
    patterns.iter().any(|p| {
        p == "*"
            || p == event_type
            || p.strip_suffix('*').is_some_and(|prefix| prefix.ends_with('.') && event_type.starts_with(prefix))
    })
}

fn forbidden_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    o[0] == 0 // "this network", including the unspecified address
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local() // 169.254/16, cloud metadata services
        || (o[0] == 100 && (o[1] & 0xc0) == 64) // CGNAT 100.64/10
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // IETF protocol assignments
        || (o[0] == 198 && (o[1] & 0xfe) == 18) // benchmarking
        || ip.is_documentation()
        || ip.is_multicast()
        || o[0] >= 240 // reserved and broadcast
}

/// Whether an address is loopback, private, link-local, unique-local,
/// unspecified, CGNAT, multicast, broadcast or otherwise not on the public
/// internet (IPv4 embedded in IPv6 is judged as IPv4).
pub fn is_forbidden_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return forbidden_v4(v4);
            }
            let s = v6.segments();
            let embedded = |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
                || (s[0] & 0xffc0) == 0xfec0 // site-local fec0::/10
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || (s[0] == 0x0100 && s[1..4] == [0, 0, 0]) // discard 100::/64
                || (s[..6] == [0, 0, 0, 0, 0, 0] && forbidden_v4(embedded(s[6], s[7]))) // IPv4-compatible
                || (s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] && forbidden_v4(embedded(s[6], s[7]))) // NAT64
                || (s[0] == 0x2002 && forbidden_v4(embedded(s[1], s[2]))) // 6to4
        }
    }
}

/// The address of a URL host that is an IP literal (`[…]` for IPv6).
fn literal_ip(host: &str) -> Option<IpAddr> {
    host.trim_start_matches('[').trim_end_matches(']').parse().ok()
}

fn is_local_name(host: &str) -> bool {
    let h = host.trim_end_matches('.').to_ascii_lowercase();
    h == "localhost" || h.ends_with(".localhost")
}

/// Checks an endpoint URL: `https://` (or `http://` when private URLs are
/// allowed), no credentials, at most 2048 characters, and — unless private
/// URLs are allowed — a host that is not, and does not resolve to, a
/// private or reserved address.
pub async fn check_url(raw: &str, allow_private: bool) -> Result<Url, String> {
    if raw.chars().count() > 2048 {
        return Err("url must be at most 2048 characters".into());
    }
    let url = Url::parse(raw.trim()).map_err(|e| format!("url is not a valid URL: {e}"))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_private => {}
        "http" => return Err("url must use https://".into()),
        other => return Err(format!("url must be an https:// URL, not {other}:")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("url must not contain credentials".into());
    }
    let Some(host) = url.host_str().map(str::to_string) else { return Err("url has no host".into()) };
    if allow_private {
        return Ok(url);
    }
    if let Some(ip) = literal_ip(&host) {
        if is_forbidden_ip(ip) {
            return Err(format!("url points at {ip}, a loopback, private or reserved address"));
        }
        return Ok(url);
    }
    if is_local_name(&host) {
        return Err(format!("url points at `{host}`, a loopback name"));
    }
    let port = url.port_or_known_default().unwrap_or(443);
    let addrs: Vec<SocketAddr> =
        match tokio::time::timeout(Duration::from_secs(5), tokio::net::lookup_host((host.as_str(), port))).await {
            Ok(Ok(a)) => a.collect(),
            Ok(Err(e)) => return Err(format!("url's host `{host}` does not resolve: {e}")),
            Err(_) => return Err(format!("url's host `{host}` did not resolve in time")),
        };
    if addrs.is_empty() {
        return Err(format!("url's host `{host}` does not resolve"));
    }
    if let Some(a) = addrs.iter().find(|a| is_forbidden_ip(a.ip())) {
        return Err(format!("url's host `{host}` resolves to {}, a loopback, private or reserved address", a.ip()));
    }
    Ok(url)
}

/// HMAC-SHA256 (RFC 2104).
fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    use hmac::{Hmac, Mac};
    let mut m = Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    m.update(msg);
    m.finalize().into_bytes().into()
}

/// The hex `v1` signature of a body sent at `t` (Unix seconds).
pub fn sign(secret: &str, t: i64, body: &[u8]) -> String {
    let mut msg = format!("{t}.").into_bytes();
    msg.extend_from_slice(body);
    hex::encode(hmac_sha256(secret.as_bytes(), &msg))
}

/// The `Bursar-Signature` header: `t=…` and one `v1=…` per secret.
pub fn signature_header(t: i64, body: &[u8], secrets: &[&str]) -> String {
    let mut h = format!("t={t}");
    for s in secrets {
        h.push_str(",v1=");
        h.push_str(&sign(s, t, body));
    }
    h
}

/// A new signing secret: `whsec_` and 32 random bytes in hex.
pub fn new_secret() -> String {
    format!("whsec_{}", hex::encode(rand::random::<[u8; 32]>()))
}

/// A new endpoint id (`we_…`).
pub fn new_endpoint_id() -> String {
    bursar_domain::id::new_id(bursar_domain::id::IdKind::WebhookEndpoint)
}

/// A new delivery id (`whd_…`).
pub fn new_delivery_id() -> String {
    bursar_domain::id::new_id(bursar_domain::id::IdKind::WebhookDelivery)
}

/// Whether `s` has the shape of an id with this prefix.
pub fn is_id(prefix: &str, s: &str) -> bool {
    s.strip_prefix(prefix)
        .and_then(|r| r.strip_prefix('_'))
        .is_some_and(|r| r.len() == 32 && r.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
}

/// The delay before the retry that follows the `attempts`-th failed attempt.
pub fn retry_delay_ms(attempts: i64) -> i64 {
    let i = usize::try_from(attempts.saturating_sub(1)).unwrap_or(0).min(RETRY_DELAYS_MS.len() - 1);
    RETRY_DELAYS_MS[i]
}

/// A delivery's status and next attempt after an attempt: success makes it
/// `succeeded`; a failure of a pending delivery schedules the next retry
/// (the delay for this many attempts plus `jitter_permille`/1000 of it,
/// never later than three days after the first attempt) or, once those
/// three days have passed, gives up (`failed`). A failed manual resend of a
/// delivery that already succeeded or gave up leaves its status as it was.
pub fn after_attempt(
    status: &str,
    success: bool,
    now: i64,
    first_attempt_at: i64,
    attempts: i64,
    jitter_permille: i64,
) -> (String, Option<i64>) {
    if success {
        return ("succeeded".into(), None);
    }
    if status != "pending" {
        return (status.to_string(), None);
    }
    let give_up_at = first_attempt_at + GIVE_UP_AFTER_MS;
    if now >= give_up_at {
        return ("failed".into(), None);
    }
    let delay = retry_delay_ms(attempts);
    let delay = delay + delay * jitter_permille.clamp(0, 100) / 1000;
    ("pending".into(), Some((now + delay).min(give_up_at)))
}

#[derive(Serialize)]
struct Payload<'a> {
    id: &'a str,
    object: &'static str,
    #[serde(rename = "type")]
    event_type: &'a str,
    created: i64,
    livemode: bool,
    data: PayloadData<'a>,
}

#[derive(Serialize)]
struct PayloadData<'a> {
    object: &'a serde_json::Value,
}

/// The request body for an event: `{"id", "object": "event", "type",
/// "created", "livemode", "data": {"object": …}}`.
pub fn payload(e: &EventRow) -> Vec<u8> {
    serde_json::to_vec(&Payload {
        id: &e.id,
        object: "event",
        event_type: &e.event_type,
        created: e.created_at.div_euclid(1000),
        livemode: e.livemode,
        data: PayloadData { object: &e.data },
    })
    .unwrap_or_default()
}

fn id_time_ms(id: &str) -> i64 {
    id.rsplit('_').next().and_then(|hex| i64::from_str_radix(hex.get(..12)?, 16).ok()).unwrap_or(0)
}

/// An id that sorts just before every event created at `ms`.
fn event_id_at(ms: i64) -> String {
    format!("evt_{:012x}{}", ms.max(0), "0".repeat(20))
}

/// Reads new events and queues a delivery for every enabled endpoint they
/// match. Returns how many deliveries were queued.
pub async fn collect(state: &Ctx) -> Result<u32, DbError> {
    let mut queued = 0u32;
    // A bounded number of batches per pass; the rest waits for the next one.
    for _ in 0..20 {
        let now = state.now_ms();
        let settle_before = now - SETTLE_MS;
        let mut tx = state.db.begin().await?;
        let endpoints = webhooks::enabled_endpoints(&mut *tx).await?;
        // A first pass starts where the oldest endpoint began listening.
        let oldest = endpoints.iter().map(|e| e.created_at).min().unwrap_or(now).min(now);
        let cursor =
            webhooks::lock_cursor(&mut tx, CONSUMER, &event_id_at(oldest - SETTLE_MS), state.db.for_update()).await?;
        if endpoints.is_empty() {
            // Nobody listens: skip to the settled horizon without reading.
            let horizon = event_id_at(settle_before);
            if horizon > cursor {
                bursar_store::emails::set_cursor(&mut tx, CONSUMER, &horizon).await?;
            }
            tx.commit().await?;
            return Ok(queued);
        }
        let patterns: Vec<Vec<String>> = endpoints.iter().map(|e| e.events()).collect();
        let evs = bursar_store::emails::events_after(&mut tx, &cursor, EVENT_BATCH).await?;
        let mut rows = Vec::new();
        let mut new_cursor = cursor.clone();
        let mut settled = true;
        for e in &evs {
            let at = id_time_ms(&e.id);
            for (ep, pats) in endpoints.iter().zip(&patterns) {
                if ep.livemode == e.livemode && at >= ep.created_at && matches(pats, &e.event_type) {
                    rows.push(DeliveryRow {
                        id: new_delivery_id(),
                        endpoint_id: ep.id.clone(),
                        event_id: e.id.clone(),
                        event_type: e.event_type.clone(),
                        livemode: e.livemode,
                        status: "pending".into(),
                        attempts: 0,
                        next_attempt_at: Some(now),
                        first_attempt_at: None,
                        last_attempt_at: None,
                        last_status_code: None,
                        last_error: None,
                        last_response_snippet: None,
                        last_duration_ms: None,
                        created_at: now,
                        delivered_at: None,
                    });
                }
            }
            settled &= at < settle_before;
            if settled {
                new_cursor = e.id.clone();
            }
        }
        queued += u32::try_from(webhooks::insert_deliveries(&mut tx, &rows).await?).unwrap_or(u32::MAX);
        let advanced = new_cursor != cursor;
        if advanced {
            bursar_store::emails::set_cursor(&mut tx, CONSUMER, &new_cursor).await?;
        }
        tx.commit().await?;
        if !advanced || (evs.len() as i64) < EVENT_BATCH {
            break;
        }
    }
    Ok(queued)
}

/// Refuses private and reserved addresses when resolving names, so a name
/// that resolves to one (perhaps only since the endpoint was saved) is
/// never connected to.
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            if is_local_name(&host) {
                return Err(format!("refused: `{host}` is a loopback name").into());
            }
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if let Some(a) = addrs.iter().find(|a| is_forbidden_ip(a.ip())) {
                return Err(format!("refused: `{host}` resolves to {}, a private or reserved address", a.ip()).into());
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

fn client(allow_private: bool) -> &'static reqwest::Client {
    static OPEN: OnceLock<reqwest::Client> = OnceLock::new();
    static GUARDED: OnceLock<reqwest::Client> = OnceLock::new();
    let cell = if allow_private { &OPEN } else { &GUARDED };
    cell.get_or_init(|| {
        let mut b = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(TIMEOUT)
            .connect_timeout(Duration::from_secs(5))
            .user_agent(concat!("Bursar/", env!("CARGO_PKG_VERSION")));
        if !allow_private {
            b = b.dns_resolver(Arc::new(PublicOnly));
        }
        b.build().unwrap_or_else(|e| {
            tracing::error!(error = %e, "webhook HTTP client could not be built; using defaults");
            reqwest::Client::new()
        })
    })
}

/// What came of one request.
#[derive(Debug, Clone, Default)]
struct Sent {
    status: Option<u16>,
    error: Option<String>,
    snippet: Option<String>,
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return format!("timed out after {} s", TIMEOUT.as_secs());
    }
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    msg
}

fn snippet(bytes: &[u8]) -> String {
    let mut s = String::from_utf8_lossy(&bytes[..bytes.len().min(SNIPPET_BYTES)]).into_owned();
    let mut cut = s.len().min(SNIPPET_BYTES);
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    s.truncate(cut);
    s
}

async fn post(state: &Ctx, o: &Outgoing, signature: &str, body: Vec<u8>) -> Sent {
    let allow = state.config.webhook_allow_private_urls;
    let url = match Url::parse(&o.url) {
        Ok(u) => u,
        Err(e) => return Sent { error: Some(format!("invalid url: {e}")), ..Sent::default() },
    };
    if !allow {
        // Literal addresses do not pass through the resolver.
        if let Some(ip) = url.host_str().and_then(literal_ip).filter(|ip| is_forbidden_ip(*ip)) {
            return Sent { error: Some(format!("refused: {ip} is a private or reserved address")), ..Sent::default() };
        }
        if url.scheme() != "https" {
            return Sent { error: Some("refused: url is not https://".into()), ..Sent::default() };
        }
    }
    let resp = client(allow)
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("Bursar-Signature", signature)
        .header("Bursar-Event-Id", o.event.id.as_str())
        .header("Bursar-Delivery-Id", o.delivery_id.as_str())
        .body(body)
        .send()
        .await;
    match resp {
        Ok(mut r) => {
            let status = r.status().as_u16();
            let mut buf = Vec::new();
            let mut read_error = None;
            while buf.len() < SNIPPET_BYTES {
                match r.chunk().await {
                    Ok(Some(c)) => buf.extend_from_slice(&c),
                    Ok(None) => break,
                    Err(e) => {
                        read_error = Some(describe(&e));
                        break;
                    }
                }
            }
            let error = if (200..300).contains(&status) { None } else { Some(format!("HTTP {status}")) };
            Sent { status: Some(status), error: error.or(read_error), snippet: Some(snippet(&buf)) }
        }
        Err(e) => Sent { error: Some(describe(&e)), ..Sent::default() },
    }
}

/// Sends one delivery and records the attempt. Returns the delivery as
/// recorded, or `None` when it no longer exists (its endpoint was deleted).
async fn attempt(state: &Ctx, o: &Outgoing, manual: bool) -> Result<Option<DeliveryRow>, DbError> {
    let now = state.now_ms();
    let body = payload(&o.event);
    let mut secrets = vec![o.secret.as_str()];
    if let (Some(prev), Some(until)) = (&o.previous_secret, o.previous_secret_expires_at) {
        if until > now {
            secrets.push(prev);
        }
    }
    let signature = signature_header(now.div_euclid(1000), &body, &secrets);
    let started = Instant::now();
    let sent = post(state, o, &signature, body).await;
    let elapsed = started.elapsed();
    let success = sent.status.is_some_and(|s| (200..300).contains(&s));
    let mut tx = state.db.begin().await?;
    let Some(mut d) = webhooks::delivery_locked(&mut tx, &o.delivery_id, state.db.for_update()).await? else {
        tx.commit().await?;
        return Ok(None);
    };
    d.attempts += 1;
    let first = *d.first_attempt_at.get_or_insert(now);
    let (status, next) = after_attempt(&d.status, success, now, first, d.attempts, rand::random_range(0..=100));
    let outcome = match (success, status.as_str()) {
        (true, _) => "succeeded",
        (false, "pending") => "retrying",
        (false, "failed") if d.status == "pending" => "failed",
        _ => "resend_failed",
    };
    d.status = status;
    d.next_attempt_at = next;
    d.last_attempt_at = Some(now);
    d.last_status_code = sent.status.map(i64::from);
    d.last_error = sent.error.clone();
    d.last_response_snippet = sent.snippet.clone();
    d.last_duration_ms = Some(i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX));
    if success && d.delivered_at.is_none() {
        d.delivered_at = Some(now);
    }
    let a = AttemptRow {
        delivery_id: d.id.clone(),
        attempt: d.attempts,
        manual,
        attempted_at: now,
        status_code: d.last_status_code,
        error: sent.error,
        response_snippet: sent.snippet,
        duration_ms: d.last_duration_ms.unwrap_or(0),
    };
    webhooks::record_attempt(&mut tx, &d, &a).await?;
    tx.commit().await?;
    metrics::counter!("bursar_webhook_deliveries_total", "outcome" => outcome).increment(1);
    metrics::histogram!("bursar_webhook_delivery_duration_seconds").record(elapsed.as_secs_f64());
    if !success {
        tracing::info!(delivery = %d.id, endpoint = %o.endpoint_id, error = ?d.last_error, status = %d.status,
            "webhook delivery attempt failed");
    }
    Ok(Some(d))
}

/// Sends the deliveries that are due, at most [`IN_FLIGHT`] at a time.
/// Returns how many attempts were made.
pub async fn deliver_due(state: &Ctx) -> Result<u32, DbError> {
    let mut attempted = 0u32;
    for _ in 0..8 {
        let now = state.now_ms();
        let ids = webhooks::claim_due(&state.db, now, now + LEASE_MS, SEND_BATCH).await?;
        if ids.is_empty() {
            break;
        }
        let items = webhooks::outgoing(state.db.reader(), &ids).await?;
        // Each request owns what it uses, so the pass stays `Send` for the job's task.
        let results: Vec<Result<Option<DeliveryRow>, DbError>> = futures::stream::iter(items)
            .map(|o| {
                let state = state.clone();
                async move { attempt(&state, &o, false).await }
            })
            .buffer_unordered(IN_FLIGHT)
            .collect()
            .await;
        for r in results {
            if r?.is_some() {
                attempted += 1;
            }
        }
        if (ids.len() as i64) < SEND_BATCH {
            break;
        }
    }
    Ok(attempted)
}

/// Sends one delivery now, whatever its schedule, and records the attempt
/// as manual. `None` when the delivery does not exist.
pub async fn send_now(state: &Ctx, delivery_id: &str) -> Result<Option<DeliveryRow>, DbError> {
    // Keep the job from sending a pending delivery while this attempt runs.
    webhooks::set_next_attempt(&state.db, delivery_id, state.now_ms() + LEASE_MS).await?;
    let Some(o) = webhooks::outgoing(state.db.reader(), &[delivery_id.to_string()]).await?.pop() else {
        return Ok(None);
    };
    attempt(state, &o, true).await
}

/// One pass of the delivery job: queue deliveries for new events, then send
/// those due. Returns how many attempts were made.
pub async fn run(state: &Ctx) -> Result<u32, DbError> {
    collect(state).await?;
    deliver_due(state).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<F: Send>(_: &F) {}

    #[test]
    fn the_job_can_run_on_a_spawned_task() {
        let check = |state: Ctx| {
            let job = async move { run(&state).await };
            assert_send(&job);
        };
        let _ = check;
    }

    #[test]
    fn hmac_matches_the_reference_implementation() {
        use hmac::{Hmac, Mac};
        // RFC 4231 test case 2.
        assert_eq!(
            hex::encode(hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        for key_len in [0usize, 1, 32, 63, 64, 65, 200] {
            let key: Vec<u8> = (0..key_len).map(|i| i as u8).collect();
            let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
            mac.update(b"1700000000.{\"a\":1}");
            assert_eq!(hmac_sha256(&key, b"1700000000.{\"a\":1}").to_vec(), mac.finalize().into_bytes().to_vec());
        }
    }

    #[test]
    fn signature_header_has_one_v1_per_secret() {
        let h = signature_header(1_700_000_000, b"{}", &["whsec_new", "whsec_old"]);
        let parts: Vec<&str> = h.split(',').collect();
        assert_eq!(parts[0], "t=1700000000");
        assert_eq!(parts[1], format!("v1={}", sign("whsec_new", 1_700_000_000, b"{}")));
        assert_eq!(parts[2], format!("v1={}", sign("whsec_old", 1_700_000_000, b"{}")));
        assert_ne!(parts[1], parts[2]);
    }

    #[test]
    fn backoff_grows_then_gives_up_after_three_days() {
        let t0 = 1_000_000_000;
        let (s, next) = after_attempt("pending", false, t0, t0, 1, 0);
        assert_eq!((s.as_str(), next), ("pending", Some(t0 + 60_000)));
        let (_, next) = after_attempt("pending", false, t0, t0, 2, 100);
        assert_eq!(next, Some(t0 + 330_000));
        let mut now = t0;
        let mut attempts = 0;
        let mut gaps = Vec::new();
        loop {
            attempts += 1;
            let (s, next) = after_attempt("pending", false, now, t0, attempts, 50);
            match next {
                Some(n) => {
                    assert_eq!(s, "pending");
                    gaps.push(n - now);
                    now = n;
                }
                None => {
                    assert_eq!(s, "failed");
                    break;
                }
            }
        }
        assert_eq!(now, t0 + GIVE_UP_AFTER_MS, "the last retry is at the three-day mark");
        assert!(gaps[..6].windows(2).all(|w| w[0] < w[1]), "{gaps:?}");
        assert!((10..=16).contains(&attempts), "{attempts} attempts");
        assert_eq!(after_attempt("pending", true, now, t0, 3, 0), ("succeeded".into(), None));
        assert_eq!(after_attempt("failed", false, now, t0, 20, 0), ("failed".into(), None));
        assert_eq!(after_attempt("succeeded", false, now, t0, 2, 0), ("succeeded".into(), None));
    }

    #[test]
    fn private_and_reserved_addresses_are_refused() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "ff02::1",
            "::ffff:10.0.0.1",
            "::ffff:127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:c0a8:0101::1",
        ] {
            assert!(is_forbidden_ip(ip.parse().unwrap()), "{ip} should be refused");
        }
        for ip in ["93.184.215.14", "8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8", "100.128.0.1"] {
            assert!(!is_forbidden_ip(ip.parse().unwrap()), "{ip} should be allowed");
        }
    }

    #[test]
    fn event_patterns() {
        let ok = |v: &[&str]| check_event_patterns(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(ok(&["invoice.paid", "invoice.paid", "*"]).unwrap(), vec!["invoice.paid", "*"]);
        assert!(ok(&["subscription.*", "payment.*", "customer.balance_transaction.*"]).is_ok());
        assert!(ok(&[]).is_err());
        assert!(ok(&["invoice.exploded"]).is_err());
        assert!(ok(&["nothing.*"]).is_err());
        assert!(ok(&["invoice*"]).is_err());
        assert!(ok(&[".*"]).is_err());
        let pats = vec!["invoice.*".to_string(), "customer.created".to_string()];
        assert!(matches(&pats, "invoice.paid"));
        assert!(matches(&pats, "customer.created"));
        assert!(!matches(&pats, "customer.updated"));
        assert!(!matches(&pats, "invoices.paid"));
        assert!(matches(&["*".to_string()], "anything.at_all"));
    }

    #[test]
    fn synthetic_cursor_sorts_before_the_events_of_its_instant() {
        let ms = 1_790_000_000_123;
        let id = format!("evt_{:012x}7{}", ms, "a".repeat(19));
        assert_eq!(id_time_ms(&id), ms);
        assert!(event_id_at(ms) < id);
        assert!(event_id_at(ms + 1) > id);
        assert_eq!(event_id_at(ms).len(), id.len());
    }

    #[test]
    fn snippets_are_cut_on_a_character_boundary() {
        let long = "é".repeat(800);
        let s = snippet(long.as_bytes());
        assert!(s.len() <= SNIPPET_BYTES);
        assert!(s.chars().all(|c| c == 'é'));
    }
}
