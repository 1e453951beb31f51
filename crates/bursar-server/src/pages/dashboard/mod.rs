//! Hosted dashboards, opened by the platform for a signed-in learner with a
//! one-time link (`POST /v1/dashboard_sessions`): the learner's analytics
//! for an exam with server-rendered SVG charts (each with a text
//! alternative and its data as a table), and their session reports as PDF.

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::web::{cookie, cookie_header, html};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use bursar_core::learning::{charts, dashboard, report, sessions};
use serde::Deserialize;

const COOKIE: &str = "bursar_dashboard";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/dashboard/open/{token}", get(open))
        .route("/dashboard", get(page))
        .route("/dashboard/sessions/{attempt}/report.pdf", get(session_pdf))
}

#[derive(Template)]
#[template(path = "dashboard/message.html")]
struct MessagePage {
    title: String,
    message: String,
}

fn message(status: StatusCode, title: &str, text: &str) -> Response {
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

async fn viewer(state: &AppState, headers: &HeaderMap) -> ApiResult<Option<sessions::Viewer>> {
    match cookie(headers, COOKIE) {
        Some(c) => Ok(sessions::current(state, c).await?),
        None => Ok(None),
    }
}

fn signed_out() -> Response {
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

struct Figure {
    label: &'static str,
    value: String,
}

#[derive(Template)]
#[template(path = "dashboard/learner.html")]
struct LearnerPage {
    d: dashboard::Dashboard,
    figures: Vec<Figure>,
    topics_svg: String,
    topics_table: String,
    progress_svg: String,
    progress_table: String,
    return_url: Option<String>,
    test_mode: bool,
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "–".into(), |p| format!("{p:.1} %"))
}

fn minutes(ms: i64) -> String {
    let m = ms / 60_000;
    if m >= 60 {
        format!("{} h {} min", m / 60, m % 60)
    } else {
        format!("{m} min")
    }
}

async fn page(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<ExamQuery>) -> ApiResult<Response> {
    let Some(v) = viewer(&state, &headers).await? else { return Ok(signed_out()) };
    if v.kind != "learner" {
        return Ok(message(StatusCode::NOT_FOUND, "Nothing here", "This dashboard is for learners."));
    }
    let exam = q.exam.or(v.exam.clone());
    let d = match dashboard::dashboard(&state, v.livemode, &v.subject, exam.as_deref()).await {
        Ok(d) => d,
        Err(e) if e.kind == bursar_core::Kind::NotFound => {
            return Ok(message(
                StatusCode::OK,
                "Nothing to show yet",
                "Your results appear here after your first test.",
            ))
        }
        Err(e) => return Err(e.into()),
    };
    let svg = |c: &bursar_charts::Chart| {
        bursar_charts::render_svg(c).map_err(|e| {
            tracing::error!(error = %e, "chart");
            ApiError::internal()
        })
    };
    let (tc, pc) = (charts::topics(&d), charts::progress(&d));
    let figures = vec![
        Figure { label: "Tests completed", value: d.summary.tests_completed.to_string() },
        Figure { label: "Average score", value: pct(d.summary.average_score) },
        Figure { label: "Percentile", value: d.summary.percentile.map_or_else(|| "–".into(), |p| format!("{p:.0}")) },
        Figure { label: "Study streak", value: format!("{} days", d.summary.study_streak_days) },
        Figure { label: "Time studied", value: minutes(d.summary.total_time_ms) },
    ];
    Ok(html(
        StatusCode::OK,
        LearnerPage {
            figures,
            topics_svg: svg(&tc)?,
            topics_table: bursar_charts::data_table(&tc).to_html(),
            progress_svg: if d.difficulty_progress.is_empty() { String::new() } else { svg(&pc)? },
            progress_table: bursar_charts::data_table(&pc).to_html(),
            return_url: v.return_url.clone(),
            test_mode: !v.livemode,
            d,
        },
    ))
}

/// A learner's session report, for their own attempts only.
async fn session_pdf(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(attempt): Path<String>,
) -> ApiResult<Response> {
    let Some(v) = viewer(&state, &headers).await? else { return Ok(signed_out()) };
    if v.kind != "learner" {
        return Ok(message(StatusCode::NOT_FOUND, "Nothing here", "This report is for learners."));
    }
    let pdf = report::session_report(&state, v.livemode, &attempt, Some(&v.subject)).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (header::CONTENT_DISPOSITION, format!("inline; filename=\"session-{attempt}.pdf\"")),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        pdf,
    )
        .into_response())
}
