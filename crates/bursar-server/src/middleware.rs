//! Request pipeline for `/v1`: body limit, authentication, idempotency, and
//! the metrics recorded for every route.

use crate::error::{ApiError, ErrorType};
use crate::extract::{nul_refused, too_large, Caller};
use crate::state::AppState;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use bursar_core::idempotency::{self, Claim};
use sha2::{Digest, Sha256};
use std::time::Instant;

pub use bursar_core::auth::sha256_hex;

/// Reads the whole body (up to the configured limit) so the later layers
/// can fingerprint and parse it; an oversized body is a 413 envelope.
pub async fn buffer_body(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let limit = state.config.max_body_bytes;
    if let Some(len) = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<usize>().ok()) {
        if len > limit {
            return too_large().into_response();
        }
    }
    let (parts, body) = req.into_parts();
    match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => next.run(Request::from_parts(parts, Body::from(bytes))).await,
        Err(_) => too_large().into_response(),
    }
}

/// Refuses a NUL character (U+0000) where a field can carry one outside a
/// JSON body (JSON bodies are checked where they are parsed): in the path,
/// the query string and form bodies, for every route, pages and console
/// included. A 400 that names the field (the path parameter by its name in
/// the route). Form bodies are read whole (up to the configured limit) to
/// be checked.
pub async fn refuse_nul(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if let Some(param) = nul_in_uri(&req) {
        return nul_refused(&param).into_response();
    }
    let form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !form {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, state.config.max_body_bytes).await else {
        return too_large().into_response();
    };
    if let Some(field) = nul_in_form(&bytes) {
        return nul_refused(&field).into_response();
    }
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}

/// The field of a URL-encoded form or query string whose name or value
/// decodes to a NUL character.
fn nul_in_form(bytes: &[u8]) -> Option<String> {
    if !bytes.contains(&0) && !bytes.windows(3).any(|w| w == b"%00") {
        return None;
    }
    form_urlencoded::parse(bytes)
        .find(|(k, v)| k.contains('\0') || v.contains('\0'))
        .map(|(k, _)| k.replace('\0', "\\u0000"))
}

fn nul_in_uri(req: &Request) -> Option<String> {
    let uri = req.uri();
    if let Some(field) = uri.query().and_then(|q| nul_in_form(q.as_bytes())) {
        return Some(field);
    }
    if !uri.path().contains("%00") {
        return None;
    }
    // The route's parameter at the segment that holds it, else `path`.
    let template = req.extensions().get::<MatchedPath>().map(|m| m.as_str().to_string());
    let name = template.as_deref().and_then(|t| {
        let (segment, _) = t.split('/').zip(uri.path().split('/')).find(|(_, s)| s.contains("%00"))?;
        Some(segment.strip_prefix('{')?.strip_suffix('}')?.trim_start_matches('*').to_string())
    });
    Some(name.unwrap_or_else(|| "path".to_string()))
}

/// Authenticates `Authorization: Bearer bsk_…` (or HTTP Basic with the key
/// as user name) and records the [`Caller`].
pub async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let key = match presented_key(req.headers()) {
        Ok(k) => k,
        Err(e) => return e.into_response(),
    };
    if key.starts_with("bis_") {
        return match bursar_core::auth::instructor_session(&state, &key).await {
            Ok((instructor_id, livemode)) => {
                req.extensions_mut().insert(crate::extract::InstructorCaller { livemode, instructor_id });
                next.run(req).await
            }
            Err(e) => ApiError::from(e).into_response(),
        };
    }
    match bursar_core::auth::api_key(&state, &key).await {
        Ok(holder) => {
            req.extensions_mut().insert(Caller { key_id: holder.key_id, livemode: holder.livemode });
            next.run(req).await
        }
        Err(e) => ApiError::from(e).into_response(),
    }
}

fn presented_key(headers: &axum::http::HeaderMap) -> Result<String, ApiError> {
    let Some(v) = headers.get(header::AUTHORIZATION) else {
        return Err(ApiError::unauthenticated("no API key provided: send `Authorization: Bearer bsk_test_…`"));
    };
    let v = v.to_str().map_err(|_| ApiError::unauthenticated("malformed Authorization header"))?;
    // The scheme's name is case-insensitive (RFC 7235 §2.1).
    let (scheme, credentials) = v.trim_start().split_once(' ').unwrap_or((v, ""));
    let key = if scheme.eq_ignore_ascii_case("bearer") {
        credentials.trim().to_string()
    } else if let Some(b) = scheme.eq_ignore_ascii_case("basic").then_some(credentials) {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(b.trim())
            .map_err(|_| ApiError::unauthenticated("malformed Basic credentials"))?;
        let s = String::from_utf8(raw).map_err(|_| ApiError::unauthenticated("malformed Basic credentials"))?;
        s.split(':').next().unwrap_or("").to_string()
    } else {
        return Err(ApiError::unauthenticated("unsupported Authorization scheme: use Bearer"));
    };
    if !(key.starts_with("bsk_test_") || key.starts_with("bsk_live_") || key.starts_with("bis_")) {
        return Err(ApiError::unauthenticated("invalid API key provided"));
    }
    Ok(key)
}

/// The body as the idempotency fingerprint sees it: a JSON body in one
/// canonical form (keys sorted, no insignificant whitespace), so the same
/// request sent with other spacing or key order is the same request; any
/// other body as its bytes.
fn canonical_body(bytes: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(v) => serde_json::to_vec(&v).map_or(std::borrow::Cow::Borrowed(bytes), std::borrow::Cow::Owned),
        Err(_) => std::borrow::Cow::Borrowed(bytes),
    }
}

/// An idempotency claim owned by the current request.
pub type IdemCtx = bursar_core::idempotency::Claimed;

/// The current request's idempotency claim, if it sent a key.
pub struct Idem(pub Option<IdemCtx>);

impl Idem {
    /// Where an operation stores its answer, given with `status`.
    pub fn reply(&self, status: StatusCode) -> bursar_core::Reply {
        bursar_core::Reply::to(self.0.as_ref().map(|c| c.with_status(status.as_u16())))
    }

    /// The answer as JSON with `status` (the operation stored the same
    /// answer for the key).
    pub fn respond<T: serde::Serialize>(&self, status: StatusCode, out: &T) -> Result<Response, ApiError> {
        let text = serde_json::to_string(out).map_err(|e| {
            tracing::error!(error = %e, "response serialization failed");
            ApiError::internal()
        })?;
        Ok((status, [(header::CONTENT_TYPE, "application/json")], text).into_response())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Idem {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Idem(parts.extensions.get::<IdemCtx>().cloned()))
    }
}

const IDEMPOTENCY_HEADER: &str = "idempotency-key";

/// `Idempotency-Key` on POST: same key and body replays the stored response;
/// the same key with another body is a 422; a key whose first request is
/// still running is a 409.
pub async fn idempotency(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if req.method() != Method::POST {
        return next.run(req).await;
    }
    let Some(raw) = req.headers().get(IDEMPOTENCY_HEADER).cloned() else {
        return next.run(req).await;
    };
    let key = match raw.to_str() {
        Ok(k) if !k.is_empty() && k.len() <= 255 && k.bytes().all(|b| (0x21..0x7f).contains(&b)) => k.to_string(),
        _ => {
            return ApiError::invalid(
                "Idempotency-Key",
                "Idempotency-Key must be 1 to 255 printable ASCII characters without spaces",
            )
            .into_response()
        }
    };
    // Keys are the platform's, per mode; an instructor session's keys are
    // its instructor's own, kept apart by a prefix with a space (which no
    // key a client sends can hold), so one caller never sees another's
    // stored response.
    let (livemode, key) = if let Some(caller) = req.extensions().get::<Caller>() {
        (caller.livemode, key)
    } else if let Some(ins) = req.extensions().get::<crate::extract::InstructorCaller>() {
        (ins.livemode, format!("{} {key}", ins.instructor_id))
    } else {
        return next.run(req).await;
    };
    let (parts, body) = req.into_parts();
    let bytes: Bytes = match axum::body::to_bytes(body, state.config.max_body_bytes).await {
        Ok(b) => b,
        Err(_) => return too_large().into_response(),
    };
    let path = parts.uri.path().to_string();
    let mut h = Sha256::new();
    h.update(parts.method.as_str().as_bytes());
    h.update(b"\n");
    h.update(path.as_bytes());
    h.update(b"\n");
    h.update(parts.uri.query().unwrap_or("").as_bytes());
    h.update(b"\n");
    h.update(canonical_body(&bytes));
    let fingerprint = hex::encode(h.finalize());
    let claim = idempotency::claim(
        &state,
        &idempotency::ClaimRequest {
            livemode,
            key: &key,
            fingerprint: &fingerprint,
            method: parts.method.as_str(),
            path: &path,
        },
    )
    .await;
    match claim {
        Err(e) => ApiError::from(e).into_response(),
        Ok(Claim::Mismatch) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorType::IdempotencyError,
            "idempotency_key_reused",
            "this Idempotency-Key was already used with a different request",
        )
        .with_param("Idempotency-Key")
        .into_response(),
        Ok(Claim::InProgress) => ApiError::new(
            StatusCode::CONFLICT,
            ErrorType::IdempotencyError,
            "idempotency_key_in_use",
            "another request with this Idempotency-Key is in progress; retry later",
        )
        .with_param("Idempotency-Key")
        .into_response(),
        Ok(Claim::Replay { status, body }) => {
            let mut resp = Response::new(Body::from(body));
            *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            resp.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
            resp
        }
        Ok(Claim::Acquired) => {
            if let Some(slot) = parts.extensions.get::<crate::drain::ClaimSlot>() {
                slot.set(livemode, key.clone());
            }
            let ctx = IdemCtx::new(livemode, key.clone(), StatusCode::OK.as_u16());
            let mut req = Request::from_parts(parts, Body::from(bytes));
            req.extensions_mut().insert(ctx.clone());
            let resp = next.run(req).await;
            let status = resp.status();
            if status.is_success() {
                if state.config.fault_abort_after_commit.as_deref().is_some_and(|p| path.starts_with(p)) {
                    tracing::error!(%path, "fault injection: aborting after the commit, before the answer");
                    std::process::abort();
                }
                if ctx.completed() {
                    return resp;
                }
                // A handler without a transaction of its own: store the
                // response now.
                let (rparts, rbody) = resp.into_parts();
                let rbytes = axum::body::to_bytes(rbody, usize::MAX).await.unwrap_or_default();
                let text = String::from_utf8_lossy(&rbytes).into_owned();
                match serde_json::value::RawValue::from_string(text) {
                    Ok(raw) => {
                        bursar_core::Reply::to(Some(ctx.with_status(status.as_u16()))).refresh(&state, &raw).await
                    }
                    Err(e) => tracing::error!(error = %e, "could not store idempotent response"),
                }
                Response::from_parts(rparts, Body::from(rbytes))
            } else {
                if let Err(e) = idempotency::release(&state, livemode, &key).await {
                    tracing::error!(error = %e, "could not release idempotency key");
                }
                resp
            }
        }
    }
}

/// Counts and times every request by route template. Every label has a
/// bounded set of values, whatever strangers send: the method is one of the
/// standard ones or `other`, the route is a route template or `unmatched`,
/// and the status is the one the application answered.
pub async fn track_metrics(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let route = req.extensions().get::<MatchedPath>().map(|m| m.as_str().to_string());
    let route = route.unwrap_or_else(|| "unmatched".to_string());
    let method = method_label(req.method());
    let resp = next.run(req).await;
    let status = resp.status().as_u16().to_string();
    let labels = [("method", method.to_string()), ("route", route), ("status", status)];
    metrics::counter!("bursar_http_requests_total", &labels).increment(1);
    metrics::histogram!("bursar_http_request_duration_seconds", &labels[..2]).record(start.elapsed().as_secs_f64());
    resp
}

/// The `method` label: a method of RFC 9110, or `other` for any extension
/// method a client makes up.
pub fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}
