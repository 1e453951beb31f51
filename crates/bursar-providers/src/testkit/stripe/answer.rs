//! HTTP answers of the fake: status, body and Stripe's error shape.

use super::*;

pub(super) struct Answer {
    pub(super) status: u16,
    pub(super) body: Value,
}

pub(super) fn error(
    status: u16,
    kind: &str,
    message: impl Into<String>,
    code: Option<&str>,
    param: Option<&str>,
) -> Answer {
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

pub(super) fn invalid(message: impl Into<String>, param: Option<&str>) -> Answer {
    error(400, "invalid_request_error", message, None, param)
}

pub(super) fn missing(kind: &str, id: &str, param: Option<&str>) -> Answer {
    let status = if param.is_some() { 400 } else { 404 };
    error(status, "invalid_request_error", format!("No such {kind}: '{id}'"), Some("resource_missing"), param)
}

pub(super) fn respond(answer: &Answer, replayed: bool) -> Response {
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
