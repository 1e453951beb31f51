//! The upgrade prompt a platform frames in its own pages when a learner
//! reaches a limit: opened with the learner's portal token.

use super::{ended, locale_of};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use bursar_core::subscriptions::portal_view::{self as view, Reached};
use bursar_domain::catalog::Limit;
use bursar_domain::money::format_integer;
use serde::Deserialize;

#[derive(Deserialize)]
pub(super) struct PromptQuery {
    metric: Option<String>,
    feature: Option<String>,
}

#[derive(Template)]
#[template(path = "portal/prompt.html")]
struct PromptPage {
    lang: String,
    headline: String,
    detail: String,
    button: Option<(String, String)>,
}

/// The upgrade prompt a platform frames: what was reached and the plan
/// that lifts it, with a button to the portal's change preview.
pub(super) async fn upgrade_prompt(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Query(q): Query<PromptQuery>,
) -> Response {
    let Ok(Some(s)) = view::signed_in(&state, &token).await else { return ended() };
    let result: ApiResult<Response> = async {
        let p = view::prompt(&state, &s, q.metric.as_deref(), q.feature.as_deref()).await?;
        let locale = locale_of(&p.customer);
        let (headline, detail, target) = match p.reached {
            Reached::Metric { name, entitlement: e } => {
                let used = format_integer(e.used.unwrap_or(0), locale);
                let limit = match e.limit {
                    Some(Limit::Limited(n)) => format_integer(i64::try_from(n).unwrap_or(i64::MAX), locale),
                    _ => "unlimited".into(),
                };
                let headline = if e.allowed {
                    format!(
                        "{} left this period",
                        e.remaining.map_or_else(|| "Plenty".into(), |r| format_integer(r, locale))
                    )
                } else {
                    "You've reached your plan's limit".to_string()
                };
                let detail = match &e.upgrade {
                    Some(u) => {
                        let more = match &u.limit {
                            Some(Limit::Limited(n)) => format_integer(i64::try_from(*n).unwrap_or(i64::MAX), locale),
                            _ => "unlimited".into(),
                        };
                        format!("{name}: {used} of {limit} used. {} gives you {more}.", u.name)
                    }
                    None => format!("{name}: {used} of {limit} used."),
                };
                (headline, detail, e.upgrade.map(|u| (u.plan, u.name)))
            }
            Reached::Feature { flag, upgrade } => {
                let label = flag.replace('_', " ");
                match upgrade {
                    Some(p) => {
                        (format!("Unlock {label}"), format!("{} includes {label}.", p.name), Some((p.code, p.name)))
                    }
                    None => (format!("{label} is included"), "Your plan already has it.".into(), None),
                }
            }
        };
        // The button opens the portal (the whole window, not the frame) on
        // the change preview, or on the portal when there is no plan yet.
        let button = target.map(|(code, name)| {
            let next = match &p.subscription {
                Some(sub) => format!("/portal/change?subscription={sub}&plan={code}"),
                None => "/portal".to_string(),
            };
            let href = format!("/portal/enter/{token}?next={}", percent_encode(&next));
            (href, format!("Upgrade to {name}"))
        });
        let page = PromptPage { lang: locale.tag().to_string(), headline, detail, button };
        let body = page.render().map_err(|_| ApiError::internal())?;
        let ancestors = if state.config.embed_frame_ancestors.is_empty() {
            "'self'".to_string()
        } else {
            state.config.embed_frame_ancestors.join(" ")
        };
        Ok((
            [
                (header::CACHE_CONTROL, "no-store".to_string()),
                (header::CONTENT_SECURITY_POLICY, format!("frame-ancestors {ancestors}")),
            ],
            Html(body),
        )
            .into_response())
    }
    .await;
    result.unwrap_or_else(|e| e.into_response())
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
