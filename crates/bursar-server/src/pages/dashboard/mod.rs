//! Hosted dashboards, opened by the platform for a signed-in learner or
//! instructor with a one-time link (`POST /v1/dashboard_sessions`): the
//! learner's analytics for an exam and their session reports as PDF
//! (`learner`), or the instructor's courses and the item analysis of their
//! forms (`instructor`); server-rendered SVG charts, each with a text
//! alternative and its data as a table.

mod instructor;
mod learner;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::web::{cookie, cookie_header, html};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use bursar_core::learning::sessions;
use serde::Deserialize;

const COOKIE: &str = "bursar_dashboard";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/dashboard/open/{token}", get(open))
        .route("/dashboard", get(page))
        .route("/dashboard/sessions/{attempt}/report.pdf", get(learner::session_pdf))
        .route("/dashboard/forms/{form}", get(instructor::form_page))
}

#[derive(Template)]
#[template(path = "dashboard/message.html")]
struct MessagePage {
    title: String,
    message: String,
}

pub(super) fn message(status: StatusCode, title: &str, text: &str) -> Response {
    html(status, MessagePage { title: title.into(), message: text.into() })
}

/// The one-time link: exchanged for a session cookie, then to the dashboard.
async fn open(State(state): State<AppState>, Path(token): Path<String>) -> ApiResult<Response> {
    match sessions::open_link(&state, &token).await {
        Ok((secret, _)) => {
            let set = cookie_header(&state, COOKIE, &secret, sessions::SESSION_HOURS * 3600, "Lax");
            Ok(([(header::SET_COOKIE, set), (header::REFERRER_POLICY, "no-referrer".into())], Redirect::to("/dashboard"))
                .into_response())
        }
        Err(e) if e.kind == bursar_core::Kind::Forbidden => Ok(message(
            StatusCode::FORBIDDEN,
            "This link has expired",
            "Dashboard links work once and for an hour. Go back to the site you came from and open your dashboard again.",
        )),
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn viewer(state: &AppState, headers: &HeaderMap) -> ApiResult<Option<sessions::Viewer>> {
    match cookie(headers, COOKIE) {
        Some(c) => Ok(sessions::current(state, c).await?),
        None => Ok(None),
    }
}

pub(super) fn signed_out() -> Response {
    message(
        StatusCode::UNAUTHORIZED,
        "Your session has ended",
        "For your security the dashboard closes after a while. Go back to the site you came from and open it again.",
    )
}

#[derive(Deserialize)]
struct ExamQuery {
    exam: Option<String>,
}

/// The dashboard of whoever the session is for.
async fn page(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<ExamQuery>) -> ApiResult<Response> {
    let Some(v) = viewer(&state, &headers).await? else { return Ok(signed_out()) };
    match v.kind.as_str() {
        "instructor" => instructor::page(&state, &v).await,
        _ => learner::page(&state, &v, q.exam).await,
    }
}

/// A chart as SVG.
pub(super) fn svg(c: &bursar_charts::Chart) -> ApiResult<String> {
    bursar_charts::render_svg(c).map_err(|e| {
        tracing::error!(error = %e, "chart");
        ApiError::internal()
    })
}
