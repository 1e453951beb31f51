//! A learner's dashboard for one exam, read from the aggregates the ingest
//! maintains (never a scan of responses): summary, cohort percentiles,
//! recent sessions, topics, difficulty progress by fortnight, time
//! management, abilities and recommendations.

use super::scoring;
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use bursar_domain::learning::{self as rules, Band};
use bursar_store::learning::aggregates as agg;
use bursar_store::learning::attempts as attempt_store;
use bursar_store::learning::content as content_store;
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct Dashboard {
    /// Always `learner_dashboard`.
    pub object: &'static str,
    pub livemode: bool,
    pub learner: String,
    pub exam: String,
    pub summary: Summary,
    /// The learner's percentile among all learners of the exam, of their country and of their organization.
    pub cohorts: Vec<CohortRank>,
    pub recent_sessions: Vec<Session>,
    /// Weakest first.
    pub topics: Vec<Topic>,
    /// Two-week periods, oldest first.
    pub difficulty_progress: Vec<Fortnight>,
    pub time_management: TimeManagement,
    /// Per form with an active calibration the learner answered.
    pub abilities: Vec<AbilityView>,
    pub recommendations: Recommendations,
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct Summary {
    pub tests_completed: i64,
    /// Mean score of completed tests, 0 to 100 (null before the first).
    pub average_score: Option<f64>,
    /// Mid-point percentile rank among all learners of the exam.
    pub percentile: Option<f64>,
    /// Consecutive study days ending today or yesterday, in the learner's time zone.
    pub study_streak_days: i64,
    pub best_streak_days: i64,
    pub total_time_ms: i64,
    pub responses: i64,
    /// Mean score of all responses, 0 to 100.
    pub accuracy: Option<f64>,
    /// Unix seconds.
    pub last_activity: Option<i64>,
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct CohortRank {
    /// `global`, `country` or `organization`.
    pub kind: &'static str,
    pub cohort: String,
    pub learners: i64,
    pub percentile: Option<f64>,
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct Session {
    pub attempt: String,
    pub assessment: String,
    pub title: String,
    pub status: String,
    pub started: i64,
    pub ended: Option<i64>,
    pub responses: i64,
    /// 0 to 100.
    pub score: Option<f64>,
    pub time_ms: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct Topic {
    pub topic: String,
    pub responses: i64,
    /// 0 to 100.
    pub accuracy: f64,
    pub average_time_ms: Option<i64>,
    /// 0 (all right) to 1 (none right).
    pub weakness: f64,
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct BandStat {
    pub responses: i64,
    /// 0 to 100.
    pub accuracy: Option<f64>,
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct Fortnight {
    /// The period's first day (a Monday), `YYYY-MM-DD`.
    pub start: String,
    /// Difficulty 1–2.
    pub easy: BandStat,
    /// Difficulty 3.
    pub medium: BandStat,
    /// Difficulty 4–5.
    pub hard: BandStat,
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct TimeManagement {
    /// Responses with a time, on forms with a target time per question.
    pub timed: i64,
    /// Under half the target.
    pub rushed: i64,
    /// Over one and a half times the target.
    pub overtime: i64,
    pub on_pace: i64,
    /// Time spent ÷ target time over the timed responses (1 = exactly on target).
    pub average_pace: Option<f64>,
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct AbilityView {
    pub assessment: String,
    pub calibration: String,
    pub model: String,
    /// θ (EAP) on the calibration's scale, and its standard error (posterior SD).
    pub theta: f64,
    pub standard_error: f64,
    pub items: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct Recommendations {
    /// Weakest topics first (at least 3 responses each).
    pub topics: Vec<TopicAdvice>,
    /// Items near the learner's ability they have not answered right yet.
    pub items: Vec<ItemAdvice>,
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct TopicAdvice {
    pub topic: String,
    pub accuracy: f64,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct ItemAdvice {
    pub item: String,
    pub assessment: String,
    pub topic: String,
    pub difficulty: i64,
    /// The item's difficulty on the θ scale.
    pub b: f64,
    pub reason: String,
}

fn pct(score_milli: i64, max_milli: i64) -> Option<f64> {
    (max_milli > 0).then(|| (1000.0 * score_milli as f64 / max_milli as f64).round() / 10.0)
}

/// The dashboard of a learner for an exam (their most recent exam when none is named).
pub async fn dashboard(ctx: &Ctx, livemode: bool, learner: &str, exam: Option<&str>) -> Result<Dashboard> {
    let mut conn = ctx.db.reader().acquire().await?;
    let profile = attempt_store::learner(&mut *conn, livemode, learner)
        .await?
        .ok_or_else(|| Error::not_found("learner", "learner", learner))?;
    let exam = match exam {
        Some(e) => e.to_string(),
        None => attempt_store::learner_attempts(&mut *conn, livemode, learner, None, None, 1)
            .await?
            .into_iter()
            .next()
            .map(|a| a.exam)
            .ok_or_else(|| Error::not_found("learner", "learner with attempts", learner))?,
    };
    let stats = agg::exam_stats(&mut *conn, livemode, learner, &exam).await?.unwrap_or_default();
    let zone = rules::time_zone(&profile.time_zone).unwrap_or(jiff::tz::TimeZone::UTC);
    let today = rules::local_day(ctx.now_ms(), &zone).map_err(|e| Error::internal_from("today", e))?;
    let days = agg::recent_days(&mut *conn, livemode, learner, 800).await?;
    let (streak, best) = rules::streaks(&days, today);

    let mut cohorts = Vec::new();
    let mut percentile = None;
    let mut kinds: Vec<(&'static str, String)> = vec![("global", "all".into())];
    if let Some(c) = &profile.country {
        kinds.push(("country", c.clone()));
    }
    if let Some(o) = &profile.organization {
        kinds.push(("organization", o.clone()));
    }
    for (kind, cohort) in kinds {
        let (below, equal, total) = agg::rank_counts(&mut *conn, livemode, &exam, kind, &cohort, stats.bucket).await?;
        let p = (stats.bucket >= 0)
            .then(|| rules::percentile_rank(below, equal, total))
            .flatten()
            .map(|p| (p * 10.0).round() / 10.0);
        if kind == "global" {
            percentile = p;
        }
        cohorts.push(CohortRank { kind, cohort, learners: total, percentile: p });
    }

    let attempts = attempt_store::learner_attempts(&mut *conn, livemode, learner, Some(&exam), None, 10).await?;
    let mut titles: BTreeMap<String, (String, String)> = BTreeMap::new();
    for a in &attempts {
        if !titles.contains_key(&a.assessment_id) {
            if let Some(f) = content_store::assessment(&mut *conn, livemode, &a.assessment_id).await? {
                titles.insert(a.assessment_id.clone(), (f.code, f.title));
            }
        }
    }
    let recent_sessions = attempts
        .iter()
        .map(|a| Session {
            attempt: a.external_id.clone(),
            assessment: titles.get(&a.assessment_id).map_or_else(|| a.assessment_id.clone(), |t| t.0.clone()),
            title: titles.get(&a.assessment_id).map(|t| t.1.clone()).unwrap_or_default(),
            status: a.status.clone(),
            started: a.started_at.div_euclid(1000),
            ended: a.ended_at.map(|e| e.div_euclid(1000)),
            responses: a.responses,
            score: pct(a.score_milli, a.max_score_milli),
            time_ms: a.time_ms,
        })
        .collect();

    let mut topics: Vec<Topic> = agg::topic_stats(&mut *conn, livemode, learner, &exam)
        .await?
        .into_iter()
        .filter(|t| t.responses > 0)
        .map(|t| Topic {
            accuracy: pct(t.score_milli, t.responses * 1000).unwrap_or(0.0),
            average_time_ms: (t.timed > 0).then(|| t.time_ms / t.timed),
            weakness: rules::weakness(t.score_milli, t.responses).unwrap_or(0.0),
            topic: t.topic,
            responses: t.responses,
        })
        .collect();
    topics.sort_by(|a, b| {
        b.weakness.total_cmp(&a.weakness).then(b.responses.cmp(&a.responses)).then(a.topic.cmp(&b.topic))
    });

    let mut by_period: BTreeMap<i64, [BandStat; 3]> = BTreeMap::new();
    for (period, band, n, score) in agg::difficulty_stats(&mut *conn, livemode, learner, &exam).await? {
        let Some(b) = Band::parse(&band) else { continue };
        let e = by_period.entry(period).or_insert_with(|| {
            [
                BandStat { responses: 0, accuracy: None },
                BandStat { responses: 0, accuracy: None },
                BandStat { responses: 0, accuracy: None },
            ]
        });
        e[b as usize] = BandStat { responses: n, accuracy: pct(score, n * 1000) };
    }
    let mut difficulty_progress = Vec::new();
    for (period, [easy, medium, hard]) in by_period {
        let start = rules::day_to_date(period).map_err(|e| Error::internal_from("period", e))?.to_string();
        difficulty_progress.push(Fortnight { start, easy, medium, hard });
    }

    let time_management = TimeManagement {
        timed: stats.timed,
        rushed: stats.rushed,
        overtime: stats.overtime,
        on_pace: stats.timed - stats.rushed - stats.overtime,
        average_pace: (stats.target_ms > 0)
            .then(|| (1000.0 * stats.timed_ms as f64 / stats.target_ms as f64).round() / 1000.0),
    };

    // Abilities on the forms the learner sat, newest first.
    drop(conn);
    let mut abilities = Vec::new();
    let mut item_advice = Vec::new();
    let mut seen_forms = Vec::new();
    for a in &attempts {
        if seen_forms.contains(&a.assessment_id) {
            continue;
        }
        seen_forms.push(a.assessment_id.clone());
        let Some(ab) = scoring::ability(ctx, livemode, learner, &a.assessment_id).await? else { continue };
        let code = titles.get(&a.assessment_id).map_or_else(|| a.assessment_id.clone(), |t| t.0.clone());
        if item_advice.is_empty() {
            item_advice = near_items(ctx, livemode, &a.assessment_id, &code, &ab).await?;
        }
        abilities.push(AbilityView {
            assessment: code,
            calibration: ab.calibration,
            model: ab.model,
            theta: (ab.theta * 1e4).round() / 1e4,
            standard_error: (ab.se * 1e4).round() / 1e4,
            items: ab.items as i64,
        });
    }
    let topic_advice = topics
        .iter()
        .filter(|t| t.responses >= 3 && t.accuracy < 100.0)
        .take(3)
        .map(|t| TopicAdvice {
            topic: t.topic.clone(),
            accuracy: t.accuracy,
            reason: format!("{:.0} % right over {} answers", t.accuracy, t.responses),
        })
        .collect();

    Ok(Dashboard {
        object: "learner_dashboard",
        livemode,
        learner: learner.to_string(),
        exam,
        summary: Summary {
            tests_completed: stats.attempts_completed,
            average_score: pct(stats.completed_score_milli, stats.completed_max_milli),
            percentile,
            study_streak_days: streak,
            best_streak_days: best,
            total_time_ms: stats.time_ms,
            responses: stats.responses,
            accuracy: pct(stats.score_milli, stats.responses * 1000),
            last_activity: (stats.last_activity_at > 0).then(|| stats.last_activity_at.div_euclid(1000)),
        },
        cohorts,
        recent_sessions,
        topics,
        difficulty_progress,
        time_management,
        abilities,
        recommendations: Recommendations { topics: topic_advice, items: item_advice },
    })
}

/// Up to five calibrated items of a form closest in difficulty to the
/// learner's ability that they have not answered right yet.
async fn near_items(
    ctx: &Ctx,
    livemode: bool,
    assessment_id: &str,
    code: &str,
    ab: &scoring::Ability,
) -> Result<Vec<ItemAdvice>> {
    let Some(cal) = scoring::active(ctx, assessment_id).await? else { return Ok(Vec::new()) };
    let mut near: Vec<(f64, usize)> = (0..cal.params.item_ids.len())
        .filter(|&j| ab.answers.get(&cal.params.item_ids[j]).is_none_or(|&s| s < 1000))
        .filter_map(|j| cal.b(j).map(|b| ((b - ab.theta).abs(), j)))
        .collect();
    near.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
    near.truncate(5);
    let codes: Vec<String> = near.iter().map(|(_, j)| cal.params.item_ids[*j].clone()).collect();
    let mut conn = ctx.db.reader().acquire().await?;
    let items: BTreeMap<String, bursar_store::learning::content::ItemRow> =
        content_store::current_items(&mut conn, livemode, &codes)
            .await?
            .into_iter()
            .map(|i| (i.code.clone(), i))
            .collect();
    Ok(near
        .into_iter()
        .filter_map(|(_, j)| {
            let c = &cal.params.item_ids[j];
            let it = items.get(c)?;
            let b = cal.b(j)?;
            Some(ItemAdvice {
                item: c.clone(),
                assessment: code.to_string(),
                topic: it.topic.clone(),
                difficulty: it.difficulty,
                b: (b * 1e4).round() / 1e4,
                reason: if ab.answers.contains_key(c) {
                    "near your level, and not answered right yet".into()
                } else {
                    "near your level, not tried yet".into()
                },
            })
        })
        .collect())
}
