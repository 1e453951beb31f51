//! The content team's pages: forms, and for each form its calibration runs
//! (with their progress, a Calibrate button and Activate for a succeeded
//! run), its item statistics with flags, and its exam's cohort
//! comparisons. Actions carry the session's CSRF token and run the same
//! service operations as the API, recorded in the audit log.

use super::customers::{after_action, chrome, mode_of, page, when, Chrome, ModeQuery, Staff, StaffForm, PAGE};
use crate::error::{ApiError, ApiResult};
use crate::extract::CsrfForm;
use crate::state::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use bursar_core::idempotency::Reply;
use bursar_core::learning::calibration::{self, Calibration, CalibrationCreate};
use bursar_core::learning::content::{self, Assessment};
use bursar_core::learning::exports;
use bursar_core::learning::statistics::{self, CohortBenchmark, ItemStat, ItemStatistics};
use bursar_core::{Actor, Kind, Page};
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/staff/forms", get(form_list))
        .route("/staff/forms/{id}", get(form_page))
        .route("/staff/forms/{id}/calibrate", post(calibrate))
        .route("/staff/forms/{id}/item_statistics.csv", get(statistics_csv))
        .route("/staff/calibrations/{id}/activate", post(activate))
}

#[derive(Template)]
#[template(path = "staff/forms.html")]
struct FormsPage {
    chrome: Chrome,
    rows: Vec<Assessment>,
    next: Option<String>,
}

async fn form_list(State(state): State<AppState>, Staff(s): Staff, Query(q): Query<ModeQuery>) -> Response {
    let livemode = q.livemode();
    let result: ApiResult<Response> = async {
        let list = content::list(
            &state,
            &Actor::staff(livemode, &s.staff_id),
            None,
            &Page { limit: PAGE, starting_after: q.after.clone().filter(|a| !a.is_empty()) },
        )
        .await?;
        let next = if list.has_more { list.data.last().map(|a| a.id.clone()) } else { None };
        Ok(page(FormsPage { chrome: chrome(&s, livemode), rows: list.data, next }))
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

/// A calibration run as the table shows it.
struct RunLine {
    c: Calibration,
    requested: String,
    started: String,
    finished: String,
    /// "em, cycle 12" and the like.
    doing: String,
}

fn run_line(c: Calibration) -> RunLine {
    let at = |s: Option<i64>| s.map(|s| when(s * 1000)).unwrap_or_default();
    let doing = match (&c.phase, c.iteration) {
        (Some(p), Some(i)) if p == "done" => format!("done after {i} cycles"),
        (Some(p), Some(i)) => format!("{p}, cycle {i}"),
        (Some(p), None) => p.clone(),
        (None, _) => String::new(),
    };
    RunLine { requested: when(c.created * 1000), started: at(c.started), finished: at(c.finished), doing, c }
}

#[derive(Template)]
#[template(path = "staff/form.html")]
struct FormPage {
    chrome: Chrome,
    form: Assessment,
    runs: Vec<RunLine>,
    /// A run is queued or running: the page refreshes itself.
    working: bool,
    stats: Option<ItemStatistics>,
    items: Vec<StatLine>,
    flagged: usize,
    cohorts: Vec<(Vec<String>, CohortBenchmark)>,
    notice: Option<String>,
    error: Option<String>,
}

fn num(v: Option<f64>, decimals: usize) -> String {
    v.map_or_else(|| "–".into(), |x| format!("{x:.decimals$}"))
}

/// An item's statistics, formatted.
struct StatLine {
    item: String,
    topic: String,
    difficulty: String,
    cells: Vec<String>,
    flags: String,
}

fn stat_line(i: &ItemStat) -> StatLine {
    StatLine {
        item: i.item.clone(),
        topic: i.topic.clone().unwrap_or_default(),
        difficulty: i.difficulty.map_or_else(String::new, |d| d.to_string()),
        cells: vec![
            num(i.p_value, 3),
            num(i.point_biserial, 3),
            num(i.corrected_item_total, 3),
            num(i.discrimination_27, 3),
            num(i.alpha_if_deleted, 3),
            num(i.a, 2),
            num(i.b, 2),
            i.median_time_ms.map_or_else(|| "–".into(), |t| format!("{:.1} s", t / 1000.0)),
        ],
        flags: i.flags.join(", ").replace('_', " "),
    }
}

fn cohort_cells(c: &CohortBenchmark) -> Vec<String> {
    let q = |i: usize| c.quantiles.get(i).map_or_else(|| "–".into(), |v| format!("{v:.1}"));
    vec![c.learners.to_string(), num(c.mean_score, 1), q(1), q(2), q(3), num(c.mean_percentile_in_exam, 1)]
}

async fn render_form(
    state: &AppState,
    s: &bursar_core::auth::StaffSession,
    livemode: bool,
    id: &str,
    notice: Option<String>,
    error: Option<String>,
) -> ApiResult<Response> {
    let actor = Actor::staff(livemode, &s.staff_id);
    let form = content::get(state, &actor, id).await?;
    let runs: Vec<RunLine> = calibration::list(state, &actor, &form.id).await?.into_iter().map(run_line).collect();
    let working = runs.iter().any(|r| matches!(r.c.status.as_str(), "queued" | "running"));
    let stats = match statistics::item_statistics(state, &actor, &form.id).await {
        Ok(st) => Some(st),
        Err(e) if e.kind == Kind::Conflict => None,
        Err(e) => return Err(e.into()),
    };
    let flagged = stats.as_ref().map_or(0, |st| st.items.iter().filter(|i| !i.flags.is_empty()).count());
    let items = stats.as_ref().map(|st| st.items.iter().map(stat_line).collect()).unwrap_or_default();
    let mut cohorts = statistics::cohort_benchmarks(state, &actor, &form.exam, "country").await?.cohorts;
    let orgs = statistics::cohort_benchmarks(state, &actor, &form.exam, "organization").await?.cohorts;
    cohorts.extend(orgs.into_iter().filter(|c| c.kind != "global"));
    let cohorts = cohorts.into_iter().map(|c| (cohort_cells(&c), c)).collect();
    Ok(page(FormPage {
        chrome: chrome(s, livemode),
        form,
        runs,
        working,
        stats,
        items,
        flagged,
        cohorts,
        notice,
        error,
    }))
}

async fn form_page(
    State(state): State<AppState>,
    Staff(s): Staff,
    Path(id): Path<String>,
    Query(q): Query<ModeQuery>,
) -> Response {
    let notice = match q.done.as_deref() {
        Some("requested") => Some("The calibration is queued; this page follows its progress.".to_string()),
        Some("activated") => Some("Learners are now scored against the calibration you chose.".to_string()),
        _ => None,
    };
    render_form(&state, &s, q.livemode(), &id, notice, None).await.unwrap_or_else(IntoResponse::into_response)
}

/// The item statistics as the API exports them.
async fn statistics_csv(
    State(state): State<AppState>,
    Staff(s): Staff,
    Path(id): Path<String>,
    Query(q): Query<ModeQuery>,
) -> Response {
    let actor = Actor::staff(q.livemode(), &s.staff_id);
    match exports::item_statistics_csv(&state, &actor, &id).await {
        Ok(body) => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (header::CONTENT_DISPOSITION, "attachment; filename=\"item-statistics.csv\""),
                (header::CACHE_CONTROL, "no-store"),
            ],
            body,
        )
            .into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

#[derive(Deserialize)]
struct CalibrateForm {
    csrf: String,
    mode: Option<String>,
    model: String,
    /// Present when ticked.
    activate: Option<String>,
}

impl CsrfForm for CalibrateForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

async fn calibrate(
    State(state): State<AppState>,
    Path(id): Path<String>,
    StaffForm(s, f): StaffForm<CalibrateForm>,
) -> Response {
    let livemode = f.mode.as_deref() == Some("live");
    let body = CalibrationCreate { model: Some(f.model.clone()), activate: Some(f.activate.is_some()) };
    let actor = Actor::staff(livemode, &s.staff_id);
    let result: ApiResult<()> =
        calibration::request(&state, &actor, &id, body, &Reply::none()).await.map(|_| ()).map_err(ApiError::from);
    let done = format!("/staff/forms/{id}?mode={}&done=requested", mode_of(livemode));
    after_action(result, done, |msg| render_form(&state, &s, livemode, &id, None, Some(msg))).await
}

#[derive(Deserialize)]
struct ActivateForm {
    csrf: String,
    mode: Option<String>,
    /// The form whose page to return to.
    form: String,
}

impl CsrfForm for ActivateForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

async fn activate(
    State(state): State<AppState>,
    Path(id): Path<String>,
    StaffForm(s, f): StaffForm<ActivateForm>,
) -> Response {
    let livemode = f.mode.as_deref() == Some("live");
    let actor = Actor::staff(livemode, &s.staff_id);
    let result: ApiResult<()> =
        calibration::activate(&state, &actor, &id, &Reply::none()).await.map(|_| ()).map_err(ApiError::from);
    let form = f.form.clone();
    let done = format!("/staff/forms/{}?mode={}&done=activated", urlencoding(&form), mode_of(livemode));
    after_action(result, done, |msg| render_form(&state, &s, livemode, &form, None, Some(msg))).await
}

/// A path segment with everything but unreserved characters escaped.
fn urlencoding(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_escaped() {
        assert_eq!(urlencoding("asm_01/x y"), "asm_01%2Fx%20y");
    }
}
