//! The learner's dashboard: their analytics for an exam, and their own
//! session reports as PDF.

use super::{message, signed_out, svg, viewer};
use crate::error::ApiResult;
use crate::state::AppState;
use crate::web::html;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bursar_core::learning::sessions::Viewer;
use bursar_core::learning::{charts, dashboard, report};

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

pub(super) async fn page(state: &AppState, v: &Viewer, exam: Option<String>) -> ApiResult<Response> {
    let exam = exam.or(v.exam.clone());
    let d = match dashboard::dashboard(state, v.livemode, &v.subject, exam.as_deref()).await {
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
pub(super) async fn session_pdf(
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
