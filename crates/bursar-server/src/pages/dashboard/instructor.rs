//! The instructor's dashboard: their courses (students, completion,
//! average score, revenue and earnings) and forms, and the item analysis of
//! each of their forms. The session's instructor acts for themselves, so
//! the service layer refuses anything of another instructor.

use super::{message, signed_out, svg, viewer};
use crate::error::ApiResult;
use crate::state::AppState;
use crate::web::html;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use bursar_core::courses::instructor_actor;
use bursar_core::learning::charts;
use bursar_core::learning::instructor::{self, FormSummary, InstructorLearning};
use bursar_core::learning::sessions::Viewer;
use bursar_core::learning::statistics::{ItemStat, ItemStatistics};
use bursar_domain::money::{format_money_in, Locale};
use std::collections::BTreeMap;

struct Figure {
    label: &'static str,
    value: String,
}

struct CourseLine {
    title: String,
    students: i64,
    completion: String,
    average_score: String,
    tests: i64,
    revenue: String,
    earnings: String,
}

#[derive(Template)]
#[template(path = "dashboard/instructor.html")]
struct InstructorPage {
    figures: Vec<Figure>,
    courses: Vec<CourseLine>,
    forms: Vec<FormSummary>,
    chart_svg: String,
    chart_table: String,
    return_url: Option<String>,
    test_mode: bool,
}

fn money(by_currency: &BTreeMap<String, i64>) -> String {
    if by_currency.is_empty() {
        return "–".into();
    }
    by_currency
        .iter()
        .map(|(c, m)| format_money_in(*m, c, Locale::EnUs).unwrap_or_else(|| format!("{m} {c}")))
        .collect::<Vec<_>>()
        .join(", ")
}

fn bps(v: i64) -> String {
    format!("{}.{} %", v / 100, (v % 100) / 10)
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "–".into(), |p| format!("{p:.1} %"))
}

fn view(l: &InstructorLearning) -> (Vec<Figure>, Vec<CourseLine>) {
    let tested: i64 = l.courses.iter().map(|c| c.attempts_completed).sum();
    let figures = vec![
        Figure { label: "Courses", value: l.courses.len().to_string() },
        Figure { label: "Students", value: l.students.to_string() },
        Figure { label: "Completion rate", value: bps(l.completion_rate_bps) },
        Figure { label: "Tests completed", value: tested.to_string() },
    ];
    let courses = l
        .courses
        .iter()
        .map(|c| CourseLine {
            title: c.title.clone(),
            students: c.students,
            completion: bps(c.completion_rate_bps),
            average_score: pct(c.average_score),
            tests: c.attempts_completed,
            revenue: money(&c.revenue),
            earnings: money(&c.earnings),
        })
        .collect();
    (figures, courses)
}

pub(super) async fn page(state: &AppState, v: &Viewer) -> ApiResult<Response> {
    let me = instructor_actor(v.livemode, &v.subject);
    let l = instructor::overview(state, &me, &v.subject).await?;
    let chart = charts::courses(&l);
    let (figures, courses) = view(&l);
    Ok(html(
        StatusCode::OK,
        InstructorPage {
            figures,
            courses,
            chart_svg: if l.courses.is_empty() { String::new() } else { svg(&chart)? },
            chart_table: bursar_charts::data_table(&chart).to_html(),
            forms: l.forms,
            return_url: v.return_url.clone(),
            test_mode: !v.livemode,
        },
    ))
}

struct ItemLine {
    s: ItemStat,
    cells: Vec<(&'static str, String)>,
}

#[derive(Template)]
#[template(path = "dashboard/instructor_form.html")]
struct FormPage {
    title: String,
    stats: ItemStatistics,
    reliability: Vec<Figure>,
    headers: Vec<&'static str>,
    items: Vec<ItemLine>,
    flagged: usize,
    chart_svg: String,
    chart_table: String,
    test_mode: bool,
}

fn num(v: Option<f64>, decimals: usize) -> String {
    v.map_or_else(|| "–".into(), |x| format!("{x:.decimals$}"))
}

const ITEM_COLUMNS: [&str; 9] = [
    "Topic",
    "Difficulty",
    "Right",
    "Point-biserial",
    "Item–rest r",
    "Upper − lower 27 %",
    "Alpha if deleted",
    "IRT b",
    "Median time",
];

fn item_line(s: ItemStat) -> ItemLine {
    let cells = vec![
        ("Topic", s.topic.clone().unwrap_or_default()),
        ("Difficulty", s.difficulty.map_or_else(String::new, |d| d.to_string())),
        ("Right", s.p_value.map_or_else(|| "–".into(), |p| format!("{:.0} %", p * 100.0))),
        ("Point-biserial", num(s.point_biserial, 2)),
        ("Item–rest r", num(s.corrected_item_total, 2)),
        ("Upper − lower 27 %", num(s.discrimination_27, 2)),
        ("Alpha if deleted", num(s.alpha_if_deleted, 3)),
        ("IRT b", num(s.b, 2)),
        ("Median time", s.median_time_ms.map_or_else(|| "–".into(), |t| format!("{:.0} s", t / 1000.0))),
    ];
    ItemLine { s, cells }
}

/// The item analysis of one of the instructor's forms.
pub(super) async fn form_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(form): Path<String>,
) -> ApiResult<Response> {
    let Some(v) = viewer(&state, &headers).await? else { return Ok(signed_out()) };
    if v.kind != "instructor" {
        return Ok(message(StatusCode::NOT_FOUND, "Nothing here", "This page is for instructors."));
    }
    let me = instructor_actor(v.livemode, &v.subject);
    let (title, stats) = match instructor::form_analysis(&state, &me, &v.subject, &form).await {
        Ok(s) => s,
        Err(e) if e.kind == bursar_core::Kind::NotFound => {
            return Ok(message(StatusCode::NOT_FOUND, "Nothing here", "This form is not one of your courses'."))
        }
        Err(e) if e.kind == bursar_core::Kind::Conflict => {
            return Ok(message(
                StatusCode::OK,
                "No item analysis yet",
                "The item analysis appears once the platform has calibrated this form.",
            ))
        }
        Err(e) => return Err(e.into()),
    };
    let chart = charts::items(&stats);
    let reliability = vec![
        Figure { label: "Persons", value: stats.persons.to_string() },
        Figure { label: "KR-20", value: num(stats.kr20, 3) },
        Figure { label: "Cronbach's alpha", value: num(stats.cronbach_alpha, 3) },
        Figure { label: "SEM (points)", value: num(stats.sem, 2) },
    ];
    let flagged = stats.items.iter().filter(|i| !i.flags.is_empty()).count();
    Ok(html(
        StatusCode::OK,
        FormPage {
            title,
            reliability,
            headers: ITEM_COLUMNS.to_vec(),
            items: stats.items.iter().cloned().map(item_line).collect(),
            flagged,
            chart_svg: svg(&chart)?,
            chart_table: bursar_charts::data_table(&chart).to_html(),
            test_mode: !v.livemode,
            stats,
        },
    ))
}
