//! Affiliate links: `GET /a/{code}` (live mode) and `GET /a/test/{code}`
//! (test mode), the links affiliates share. Each visit records the click
//! (the visitor's IP as a keyed hash, user agent, referer) and sends the
//! visitor to the platform's site (`affiliate_landing_url`) at the path
//! `to`, with `bursar_click=clk_…` added so the platform can put the click
//! on the learner's cart. Only paths on the configured site are reachable:
//! a link can never send visitors elsewhere. A code that is unknown, or of
//! an affiliate not (or no longer) approved, still lands the visitor, with
//! no click recorded.

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::extract::{ConnectInfo, MatchedPath, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use bursar_core::marketplace::affiliates::{self, Visit};
use serde::Deserialize;
use std::net::SocketAddr;

pub fn router() -> Router<AppState> {
    Router::new().route("/a/{code}", get(visit)).route("/a/test/{code}", get(visit))
}

#[derive(Deserialize)]
struct LinkQuery {
    to: Option<String>,
}

/// Whether `to` is a path on the platform's site: it starts with one `/`
/// and holds nothing that could make a browser leave the site.
pub fn safe_path(to: &str) -> bool {
    to.starts_with('/')
        && !to.starts_with("//")
        && to.len() <= 1_024
        && !to.chars().any(|c| c == '\\' || c.is_control() || c.is_whitespace())
}

/// `to` on the site with `bursar_click` added to its query (before any
/// fragment).
pub fn destination(site: &str, to: &str, click: Option<&str>) -> String {
    let (path, fragment) = match to.split_once('#') {
        Some((p, f)) => (p, Some(f)),
        None => (to, None),
    };
    let mut url = format!("{}{path}", site.trim_end_matches('/'));
    if let Some(id) = click {
        url.push(if path.contains('?') { '&' } else { '?' });
        url.push_str("bursar_click=");
        url.push_str(id);
    }
    if let Some(f) = fragment {
        url.push('#');
        url.push_str(f);
    }
    url
}

/// The visitor's address: the right-most entry of the configured header
/// (the one the nearest proxy added), else the connection's peer.
fn client_ip(state: &AppState, peer: Option<SocketAddr>, headers: &HeaderMap) -> Option<String> {
    if let Some(name) = &state.config.client_ip_header {
        let from_header = headers
            .get(name.as_str())
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .map(str::trim)
            .and_then(|v| v.parse::<std::net::IpAddr>().ok());
        if let Some(ip) = from_header {
            return Some(ip.to_string());
        }
    }
    peer.map(|p| p.ip().to_string())
}

fn header_text(headers: &HeaderMap, name: header::HeaderName, max: usize) -> String {
    let v = headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default();
    v.chars().take(max).collect()
}

async fn visit(
    State(state): State<AppState>,
    route: MatchedPath,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Path(code): Path<String>,
    Query(q): Query<LinkQuery>,
) -> ApiResult<Response> {
    let livemode = !route.as_str().starts_with("/a/test/");
    let Some(site) = state.config.affiliate_landing_url.clone() else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            crate::error::ErrorType::InvalidRequestError,
            "affiliate_links_disabled",
            "affiliate links are not set up here (affiliate_landing_url)",
        ));
    };
    let to = q.to.unwrap_or_else(|| "/".into());
    if !safe_path(&to) {
        return Err(ApiError::invalid("to", "`to` is a path on the platform's site, such as /courses/rust"));
    }
    let ip = client_ip(&state, peer.map(|c| (c.0).0), &headers);
    let visit = Visit {
        code: &code,
        ip: ip.as_deref(),
        user_agent: header_text(&headers, header::USER_AGENT, 1_000),
        referer: header_text(&headers, header::REFERER, 2_048),
        landing_url: destination(&site, &to, None),
    };
    let click = affiliates::record_visit(&state, livemode, visit).await?;
    let location = destination(&site, &to, click.as_deref());
    Ok((
        StatusCode::FOUND,
        [
            (header::LOCATION, location),
            (header::CACHE_CONTROL, "no-store".to_string()),
            (header::REFERRER_POLICY, "no-referrer-when-downgrade".to_string()),
        ],
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_on_the_site_are_reachable() {
        for ok in ["/", "/courses/rust", "/c?x=1#top", "/%2F%2Fevil.example"] {
            assert!(safe_path(ok), "{ok}");
        }
        for bad in ["", "https://evil.example", "//evil.example", "/\\evil.example", "\\\\x", "/a b", "/a\nb", "x/y"] {
            assert!(!safe_path(bad), "{bad:?}");
        }
    }

    #[test]
    fn the_click_goes_in_the_query_before_any_fragment() {
        let site = "https://learn.example/";
        assert_eq!(destination(site, "/", Some("clk_1")), "https://learn.example/?bursar_click=clk_1");
        assert_eq!(
            destination(site, "/c?x=1#top", Some("clk_1")),
            "https://learn.example/c?x=1&bursar_click=clk_1#top"
        );
        assert_eq!(destination(site, "/c#top", None), "https://learn.example/c#top");
    }
}
