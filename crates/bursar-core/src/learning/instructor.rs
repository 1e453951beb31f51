//! What an instructor sees of their own teaching: per course, the
//! marketplace's students, completions, revenue and earnings (from the
//! books of `marketplace::earnings`) beside the average score of the
//! course's forms; the forms themselves with their flagged items; and the
//! item analysis of one of them. An instructor acting for themselves
//! reaches only their own courses and forms: another's are not found.

use super::content;
use super::statistics::{self, ItemStatistics};
use crate::actor::Actor;
use crate::courses::instructor_of;
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::marketplace::earnings;
use bursar_store::learning::attempts as attempt_store;
use bursar_store::learning::calibrations as cal_store;
use bursar_store::learning::content as content_store;
use bursar_store::marketplace as market_store;
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct CourseLearning {
    pub course: String,
    pub title: String,
    /// Learners with an active enrollment.
    pub students: i64,
    pub completions: i64,
    /// Completions per 10,000 students (basis points).
    pub completion_rate_bps: i64,
    /// Completed attempts at the course's forms, and their learners.
    pub attempts_completed: i64,
    pub learners_tested: i64,
    /// Mean score of those attempts (points over points possible), 0 to 100.
    pub average_score: Option<f64>,
    /// Net sales per currency in minor units (after discounts and refunds, before tax).
    pub revenue: BTreeMap<String, i64>,
    /// The instructor's share per currency in minor units, after claw-backs.
    pub earnings: BTreeMap<String, i64>,
    /// The course's forms (`asm_…`).
    pub forms: Vec<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct FormSummary {
    pub id: String,
    /// The platform's id of the form.
    pub code: String,
    pub title: String,
    pub exam: String,
    pub course: String,
    /// The calibration its item statistics come from (the newest succeeded one).
    pub calibration: Option<String>,
    pub persons: Option<i64>,
    /// Items with at least one flag in that calibration.
    pub flagged_items: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct InstructorLearning {
    /// Always `instructor_learning`.
    pub object: &'static str,
    pub instructor: String,
    pub students: i64,
    pub completion_rate_bps: i64,
    pub courses: Vec<CourseLearning>,
    pub forms: Vec<FormSummary>,
}

/// Mean score in percent, one decimal.
fn average(score_milli: i64, max_milli: i64) -> Option<f64> {
    (max_milli > 0).then(|| (score_milli as f64 * 1000.0 / max_milli as f64).round() / 10.0)
}

fn flagged(flags: Option<&str>) -> i64 {
    let list: Vec<serde_json::Value> = flags.and_then(|f| serde_json::from_str(f).ok()).unwrap_or_default();
    list.iter().filter(|f| f["flags"].as_array().is_some_and(|a| !a.is_empty())).count() as i64
}

/// An instructor's courses and forms (`id`: `ins_…` or the platform's id).
pub async fn overview(ctx: &Ctx, actor: &Actor, id: &str) -> Result<InstructorLearning> {
    let market = earnings::analytics(ctx, actor, id).await?;
    let course_ids: Vec<String> = market.courses.iter().map(|c| c.course.clone()).collect();
    let r = ctx.db.reader();
    let scores: BTreeMap<String, attempt_store::CourseScoreRow> =
        attempt_store::course_scores(r, actor.livemode, &course_ids)
            .await?
            .into_iter()
            .map(|s| (s.course_id.clone(), s))
            .collect();
    let mut form_rows = Vec::new();
    for chunk in course_ids.chunks(500) {
        form_rows.extend(content_store::list_assessments(r, actor.livemode, None, Some(chunk), None, 1000).await?);
    }
    form_rows.sort_by(|a, b| a.title.cmp(&b.title).then(a.id.cmp(&b.id)));
    let form_ids: Vec<String> = form_rows.iter().map(|f| f.id.clone()).collect();
    let mut latest = BTreeMap::new();
    for chunk in form_ids.chunks(500) {
        for c in cal_store::latest_succeeded_flags(r, chunk).await? {
            latest.insert(c.assessment_id.clone(), c);
        }
    }
    let courses = market
        .courses
        .into_iter()
        .map(|c| {
            let s = scores.get(&c.course);
            CourseLearning {
                forms: form_rows
                    .iter()
                    .filter(|f| f.course_id.as_deref() == Some(c.course.as_str()))
                    .map(|f| f.id.clone())
                    .collect(),
                attempts_completed: s.map_or(0, |s| s.attempts_completed),
                learners_tested: s.map_or(0, |s| s.learners),
                average_score: s.and_then(|s| average(s.score_milli, s.max_score_milli)),
                course: c.course,
                title: c.title,
                students: c.students,
                completions: c.completions,
                completion_rate_bps: c.completion_rate_bps,
                revenue: c.revenue,
                earnings: c.earnings,
            }
        })
        .collect();
    let forms = form_rows
        .into_iter()
        .map(|f| {
            let c = latest.get(&f.id);
            FormSummary {
                calibration: c.map(|c| c.id.clone()),
                persons: c.and_then(|c| c.persons),
                flagged_items: c.map_or(0, |c| flagged(c.flags.as_deref())),
                course: f.course_id.unwrap_or_default(),
                id: f.id,
                code: f.code,
                title: f.title,
                exam: f.exam,
            }
        })
        .collect();
    Ok(InstructorLearning {
        object: "instructor_learning",
        instructor: market.instructor,
        students: market.students,
        completion_rate_bps: market.completion_rate_bps,
        courses,
        forms,
    })
}

/// The item analysis of one of an instructor's forms (`form`: `asm_…` or
/// the platform's id). A form of another instructor's course, or of no
/// course, is not found.
pub async fn form_statistics(ctx: &Ctx, actor: &Actor, id: &str, form: &str) -> Result<ItemStatistics> {
    Ok(form_analysis(ctx, actor, id, form).await?.1)
}

/// The title of one of an instructor's forms and its item analysis.
pub async fn form_analysis(ctx: &Ctx, actor: &Actor, id: &str, form: &str) -> Result<(String, ItemStatistics)> {
    let r = ctx.db.reader();
    let ins = market_store::instructor(r, actor.livemode, id).await?;
    let ins = ins
        .filter(|i| instructor_of(actor).is_none_or(|me| me == i.id))
        .ok_or_else(|| Error::not_found("id", "instructor", id))?;
    let missing = || Error::not_found("form", "assessment", form);
    let f = content::load(ctx, actor.livemode, form).await.map_err(|_| missing())?;
    let course = match &f.course_id {
        Some(c) => market_store::course(r, actor.livemode, c).await?,
        None => None,
    };
    if course.is_none_or(|c| c.instructor_id != ins.id) {
        return Err(missing());
    }
    Ok((f.title, statistics::item_statistics(ctx, actor, &f.id).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn averages_and_flag_counts() {
        assert_eq!(average(2_000, 3_000), Some(66.7));
        assert_eq!(average(0, 0), None);
        let flags = r#"[{"item":"Q1","flags":[]},{"item":"Q2","flags":["too_easy"]},{"item":"Q3","flags":["a","b"]}]"#;
        assert_eq!(flagged(Some(flags)), 2);
        assert_eq!(flagged(None), 0);
    }
}
