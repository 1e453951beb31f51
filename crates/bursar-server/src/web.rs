//! What every web interface shares: cookies and rendered pages.

use crate::state::AppState;
use axum::http::{header, HeaderMap};

pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value: HttpOnly, `Secure` when Bursar is reached over
/// https, with the given `SameSite`.
pub fn cookie_header(state: &AppState, name: &str, value: &str, max_age_secs: i64, same_site: &str) -> String {
    let secure = state.config.public_url.as_deref().is_some_and(|u| u.starts_with("https://"));
    format!(
        "{name}={value}; Path=/; HttpOnly; SameSite={same_site}; Max-Age={max_age_secs}{}",
        if secure { "; Secure" } else { "" }
    )
}

/// A rendered page: never cached, never framed.
pub fn html(status: axum::http::StatusCode, t: impl askama::Template) -> axum::response::Response {
    use axum::response::IntoResponse;
    match t.render() {
        Ok(body) => (
            status,
            [(header::CACHE_CONTROL, "no-store"), (header::HeaderName::from_static("x-frame-options"), "DENY")],
            axum::response::Html(body),
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            crate::error::ApiError::internal().into_response()
        }
    }
}
