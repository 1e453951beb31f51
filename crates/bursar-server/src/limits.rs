//! Abuse limits: how fast one API key (or instructor session) may call the
//! API, and how fast one network address may reach what strangers can
//! reach (the hosted pages and the console's sign-in; the provider webhooks
//! with a budget of their own).
//! A request past its limit is answered 429 with `Retry-After`, before any
//! work is done. The counters live in this process (a GCRA per key, from
//! `governor`), so with several nodes each node allows its own share.

use crate::error::{ApiError, ErrorType};
use crate::extract::{Caller, InstructorCaller};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The limiters of one server, built from its configuration.
pub struct Limits {
    api: Option<DefaultKeyedRateLimiter<String>>,
    public: Option<DefaultKeyedRateLimiter<String>>,
    webhooks: Option<DefaultKeyedRateLimiter<String>>,
    clock: DefaultClock,
    /// Checks made, to prune the limiters every `PRUNE_EVERY` of them.
    checks: AtomicU64,
}

/// How often the limiters forget keys that are back to full allowance, so
/// that one-off addresses do not accumulate: once per this many checks
/// (not per request, which would scan a large map on every one).
const PRUNE_EVERY: u64 = 10_000;

/// The paths strangers reach without a key, limited per address.
const PUBLIC: [&str; 9] =
    ["/portal", "/checkout", "/cart", "/courses", "/pricing", "/dashboard", "/embed", "/r/", "/staff/login"];

fn limiter(per: Quota, burst: u32) -> DefaultKeyedRateLimiter<String> {
    RateLimiter::keyed(per.allow_burst(NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN)))
}

impl Limits {
    pub fn new(c: &bursar_core::Config) -> Arc<Limits> {
        let api =
            NonZeroU32::new(c.rate_limit_api_per_sec).map(|n| limiter(Quota::per_second(n), c.rate_limit_api_burst));
        let public = NonZeroU32::new(c.rate_limit_public_per_min)
            .map(|n| limiter(Quota::per_minute(n), c.rate_limit_public_burst));
        let webhooks = NonZeroU32::new(c.rate_limit_webhooks_per_min)
            .map(|n| limiter(Quota::per_minute(n), c.rate_limit_webhooks_per_min / 5));
        Arc::new(Limits { api, public, webhooks, clock: DefaultClock::default(), checks: AtomicU64::new(0) })
    }

    /// How long `key` must wait, if it is over its limit.
    fn wait(&self, limiter: &DefaultKeyedRateLimiter<String>, key: String) -> Option<Duration> {
        let out = limiter.check_key(&key).err().map(|n| n.wait_time_from(self.clock.now()));
        if self.checks.fetch_add(1, Ordering::Relaxed) % PRUNE_EVERY == PRUNE_EVERY - 1 {
            for l in [&self.api, &self.public, &self.webhooks].into_iter().flatten() {
                l.retain_recent();
            }
        }
        out
    }
}

fn too_many(wait: Duration) -> Response {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let mut resp = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        ErrorType::RateLimitError,
        "rate_limited",
        format!("too many requests: retry after {secs} s"),
    )
    .into_response();
    resp.headers_mut().insert(header::RETRY_AFTER, secs.max(1).into());
    resp
}

/// Per API key (or instructor session), after authentication.
pub async fn per_key(State(limits): State<Arc<Limits>>, req: Request, next: Next) -> Response {
    let Some(api) = &limits.api else { return next.run(req).await };
    let key = if let Some(c) = req.extensions().get::<Caller>() {
        c.key_id.clone()
    } else if let Some(i) = req.extensions().get::<InstructorCaller>() {
        format!("instructor:{}", i.instructor_id)
    } else {
        return next.run(req).await;
    };
    match limits.wait(api, key) {
        Some(wait) => too_many(wait),
        None => next.run(req).await,
    }
}

/// Per network address, on the paths strangers reach.
pub async fn per_address(State(limits): State<Arc<Limits>>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let limiter = if path.starts_with("/webhooks/") {
        &limits.webhooks
    } else if PUBLIC.iter().any(|p| path.starts_with(p)) {
        &limits.public
    } else {
        &None
    };
    let Some(limiter) = limiter else { return next.run(req).await };
    let Some(ConnectInfo(peer)) = req.extensions().get::<ConnectInfo<SocketAddr>>().copied() else {
        return next.run(req).await;
    };
    match limits.wait(limiter, peer.ip().to_string()) {
        Some(wait) => too_many(wait),
        None => next.run(req).await,
    }
}
