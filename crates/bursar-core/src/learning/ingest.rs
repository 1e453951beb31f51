//! Attempts and responses in batches (up to 10,000 responses a request),
//! idempotent by the platform's ids: a response already recorded is
//! ignored, a bad row refuses the whole batch with its index and field.
//! Every new response updates the learner's aggregates in the same
//! transaction (exam totals, topics, difficulty bands by fortnight, study
//! days, pace, and the score histograms behind percentiles).

use crate::actor::Actor;
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::idempotency::Reply;
use bursar_domain::id::{new_id, IdKind};
use bursar_domain::learning::{self as rules, Band, Pace};
use bursar_store::learning::aggregates::{self as agg, BandDelta, ExamStatsRow, HistogramDelta, TopicDelta};
use bursar_store::learning::attempts::{self as store, AttemptRow, LearnerRow, ResponseRow};
use bursar_store::learning::content::{self as content_store, AssessmentRow, ItemRow};
use bursar_store::{events, Tx};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use utoipa::ToSchema;

/// The most responses one request may carry.
pub const MAX_RESPONSES: usize = 10_000;
/// The most attempts one request may carry.
pub const MAX_ATTEMPTS: usize = 1_000;

/// Response flags as stored.
pub const SKIPPED: i64 = 1;
pub const REVIEWED: i64 = 2;
pub const FLAGGED: i64 = 4;

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttemptBatch {
    pub attempts: Vec<AttemptInput>,
}

/// A learner's sitting of a form.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttemptInput {
    /// The platform's id of the attempt (sending it again adds responses or ends it).
    pub id: String,
    /// The platform's user id of the learner.
    pub learner: String,
    /// The form, by the platform's id or `asm_…`.
    pub assessment: String,
    /// Unix seconds.
    pub started_at: i64,
    /// Unix seconds.
    pub ended_at: Option<i64>,
    /// `in_progress`, `completed` or `abandoned`; default: `completed` when
    /// `ended_at` is given, else `in_progress`. A completed or abandoned attempt stays so.
    pub status: Option<String>,
    /// The learner's country (ISO 3166-1 alpha-2), their regional cohort.
    pub country: Option<String>,
    /// The cohort key of the learner's organization.
    pub organization: Option<String>,
    /// The learner's IANA time zone (study days and streaks); UTC when never given.
    pub time_zone: Option<String>,
    #[serde(default)]
    pub responses: Vec<ResponseInput>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResponseInput {
    /// The platform's id of the response; default: the item's id (one answer per item).
    pub id: Option<String>,
    /// The item, by the platform's id.
    pub item: String,
    /// Right or wrong (or give `score`).
    pub correct: Option<bool>,
    /// A partial score from 0 to 1 (or give `correct`).
    pub score: Option<f64>,
    /// Time spent on the item, in milliseconds.
    pub time_ms: Option<i64>,
    /// Unix seconds; default: the attempt's end, else its start.
    pub answered_at: Option<i64>,
    /// Any of `skipped`, `reviewed`, `flagged`.
    #[serde(default)]
    pub flags: Vec<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct AttemptBatchResult {
    /// Always `attempt_batch`.
    pub object: &'static str,
    pub attempts_created: i64,
    pub attempts_updated: i64,
    pub responses_received: i64,
    /// New responses recorded.
    pub responses_recorded: i64,
    /// Responses recorded before (same attempt and id), ignored.
    pub duplicates: i64,
}

/// A validated response, ready to store.
struct Resp {
    external_id: String,
    item: String,
    score_milli: i64,
    time_ms: Option<i64>,
    answered_at: i64,
    flags: i64,
}

fn text(param: &str, v: &str, max: usize) -> Result<()> {
    if v.is_empty() || v.chars().count() > max || v.chars().any(char::is_control) {
        return Err(Error::invalid(param, format!("1 to {max} characters without control characters")));
    }
    Ok(())
}

/// Unix seconds within 1970..=9999 as epoch ms.
fn instant(param: &str, s: i64) -> Result<i64> {
    if !(0..=253_402_300_799).contains(&s) {
        return Err(Error::invalid(param, "a Unix time in seconds"));
    }
    Ok(s * 1000)
}

fn check_response(param: &str, r: &ResponseInput, default_at: i64) -> Result<Resp> {
    text(&format!("{param}.item"), &r.item, 200)?;
    let external_id = r.id.clone().unwrap_or_else(|| r.item.clone());
    text(&format!("{param}.id"), &external_id, 200)?;
    let score_milli = match (r.correct, r.score) {
        (Some(_), Some(_)) => {
            return Err(Error::invalid(&format!("{param}.score"), "give `correct` or `score`, not both"))
        }
        (Some(c), None) => i64::from(c) * 1000,
        (None, Some(s)) if s.is_finite() && (0.0..=1.0).contains(&s) => (s * 1000.0).round() as i64,
        (None, Some(_)) => return Err(Error::invalid(&format!("{param}.score"), "score is a number from 0 to 1")),
        (None, None) => return Err(Error::missing(&format!("{param}.correct"))),
    };
    if r.time_ms.is_some_and(|t| !(0..=86_400_000).contains(&t)) {
        return Err(Error::invalid(&format!("{param}.time_ms"), "time_ms is 0 to 86400000 (a day)"));
    }
    let answered_at = match r.answered_at {
        Some(s) => instant(&format!("{param}.answered_at"), s)?,
        None => default_at,
    };
    let mut flags = 0;
    for (k, f) in r.flags.iter().enumerate() {
        flags |= match f.as_str() {
            "skipped" => SKIPPED,
            "reviewed" => REVIEWED,
            "flagged" => FLAGGED,
            _ => return Err(Error::invalid(&format!("{param}.flags[{k}]"), "a flag is skipped, reviewed or flagged")),
        };
    }
    Ok(Resp { external_id, item: r.item.clone(), score_milli, time_ms: r.time_ms, answered_at, flags })
}

/// A validated attempt.
struct Att {
    input: AttemptInput,
    started_at: i64,
    ended_at: Option<i64>,
    status: &'static str,
    responses: Vec<Resp>,
}

fn check_attempt(i: usize, a: AttemptInput) -> Result<Att> {
    let p = format!("attempts[{i}]");
    text(&format!("{p}.id"), &a.id, 200)?;
    text(&format!("{p}.learner"), &a.learner, 200)?;
    text(&format!("{p}.assessment"), &a.assessment, 200)?;
    let started_at = instant(&format!("{p}.started_at"), a.started_at)?;
    let ended_at = a.ended_at.map(|s| instant(&format!("{p}.ended_at"), s)).transpose()?;
    if ended_at.is_some_and(|e| e < started_at) {
        return Err(Error::invalid(&format!("{p}.ended_at"), "an attempt cannot end before it starts"));
    }
    let status = match (a.status.as_deref(), ended_at) {
        (None, Some(_)) | (Some("completed"), _) => "completed",
        (None, None) | (Some("in_progress"), _) => "in_progress",
        (Some("abandoned"), _) => "abandoned",
        _ => return Err(Error::invalid(&format!("{p}.status"), "status is in_progress, completed or abandoned")),
    };
    if let Some(c) = &a.country {
        if bursar_domain::geo::parse_country(c).is_none() {
            return Err(Error::invalid(&format!("{p}.country"), format!("`{c}` is not an ISO 3166-1 alpha-2 code")));
        }
    }
    if let Some(o) = &a.organization {
        text(&format!("{p}.organization"), o, 200)?;
    }
    if let Some(tz) = &a.time_zone {
        rules::time_zone(tz).map_err(|e| Error::invalid(&format!("{p}.time_zone"), e.to_string()))?;
    }
    let default_at = ended_at.unwrap_or(started_at);
    let mut seen = BTreeSet::new();
    let mut responses = Vec::with_capacity(a.responses.len());
    for (j, r) in a.responses.iter().enumerate() {
        let r = check_response(&format!("{p}.responses[{j}]"), r, default_at)?;
        if !seen.insert(r.external_id.clone()) {
            return Err(Error::invalid(
                &format!("{p}.responses[{j}].id"),
                format!("response `{}` is given twice in this attempt", r.external_id),
            ));
        }
        responses.push(r);
    }
    Ok(Att { input: a, started_at, ended_at, status, responses })
}

/// Records a batch of attempts and responses.
pub async fn record(ctx: &Ctx, actor: &Actor, batch: AttemptBatch, reply: &Reply) -> Result<AttemptBatchResult> {
    let livemode = actor.livemode;
    if batch.attempts.is_empty() || batch.attempts.len() > MAX_ATTEMPTS {
        return Err(Error::invalid("attempts", format!("1 to {MAX_ATTEMPTS} attempts a request")));
    }
    let total: usize = batch.attempts.iter().map(|a| a.responses.len()).sum();
    if total > MAX_RESPONSES {
        return Err(Error::invalid("attempts", format!("at most {MAX_RESPONSES} responses a request (got {total})")));
    }
    let mut atts = Vec::with_capacity(batch.attempts.len());
    let mut seen = BTreeSet::new();
    for (i, a) in batch.attempts.into_iter().enumerate() {
        if !seen.insert(a.id.clone()) {
            return Err(Error::invalid(&format!("attempts[{i}].id"), format!("attempt `{}` is given twice", a.id)));
        }
        atts.push(check_attempt(i, a)?);
    }
    // Forms and their current items.
    let mut forms: BTreeMap<String, (AssessmentRow, HashMap<String, ItemRow>)> = BTreeMap::new();
    {
        let mut conn = ctx.db.reader().acquire().await?;
        for (i, a) in atts.iter().enumerate() {
            if forms.contains_key(&a.input.assessment) {
                continue;
            }
            let row = if bursar_domain::id::is_valid(IdKind::Assessment, &a.input.assessment) {
                content_store::assessment(&mut *conn, livemode, &a.input.assessment).await?
            } else {
                content_store::assessment_by_code(&mut *conn, livemode, &a.input.assessment).await?
            };
            let row = row.ok_or_else(|| {
                Error::not_found(&format!("attempts[{i}].assessment"), "assessment", &a.input.assessment)
            })?;
            let codes = content_store::assessment_item_codes(&mut *conn, &row.id).await?;
            let items = content_store::current_items(&mut conn, livemode, &codes).await?;
            forms.insert(a.input.assessment.clone(), (row, items.into_iter().map(|r| (r.code.clone(), r)).collect()));
        }
    }
    for (i, a) in atts.iter().enumerate() {
        let items = &forms[&a.input.assessment].1;
        for (j, r) in a.responses.iter().enumerate() {
            if !items.contains_key(&r.item) {
                return Err(Error::invalid(
                    &format!("attempts[{i}].responses[{j}].item"),
                    format!("item `{}` is not on form `{}`", r.item, a.input.assessment),
                ));
            }
        }
    }
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let out = apply(&mut tx, ctx.db.for_update(), livemode, &atts, &forms, now).await?;
    reply.commit(tx, &out).await?;
    metrics::counter!("bursar_learning_responses_total").increment(out.responses_recorded as u64);
    Ok(out)
}

#[allow(clippy::too_many_lines)]
async fn apply(
    tx: &mut Tx,
    for_update: &str,
    livemode: bool,
    atts: &[Att],
    forms: &BTreeMap<String, (AssessmentRow, HashMap<String, ItemRow>)>,
    now: i64,
) -> Result<AttemptBatchResult> {
    // Learners: locked while their aggregates change (PostgreSQL); their
    // profile takes what the batch says, else what was known.
    let learner_ids: Vec<String> =
        atts.iter().map(|a| a.input.learner.clone()).collect::<BTreeSet<_>>().into_iter().collect();
    let before: BTreeMap<String, LearnerRow> = store::learners_locked(tx, for_update, livemode, &learner_ids)
        .await?
        .into_iter()
        .map(|l| (l.learner.clone(), l))
        .collect();
    let mut after = before.clone();
    for a in atts {
        let l = after.entry(a.input.learner.clone()).or_insert_with(|| LearnerRow {
            livemode,
            learner: a.input.learner.clone(),
            country: None,
            organization: None,
            time_zone: "UTC".into(),
            created_at: now,
            updated_at: now,
        });
        if let Some(c) = &a.input.country {
            l.country = bursar_domain::geo::parse_country(c);
        }
        if let Some(o) = &a.input.organization {
            l.organization = Some(o.clone());
        }
        if let Some(tz) = &a.input.time_zone {
            l.time_zone = tz.clone();
        }
        l.updated_at = now;
    }
    let learner_rows: Vec<LearnerRow> = after.values().cloned().collect();
    store::upsert_learners(tx, &learner_rows).await?;
    let zones: HashMap<&str, jiff::tz::TimeZone> = after
        .values()
        .map(|l| (l.learner.as_str(), rules::time_zone(&l.time_zone).unwrap_or(jiff::tz::TimeZone::UTC)))
        .collect();

    // Attempts: known ones merged, new ones created.
    let ext: Vec<String> = atts.iter().map(|a| a.input.id.clone()).collect();
    let known: HashMap<String, AttemptRow> = store::attempts_by_external(tx, livemode, &ext)
        .await?
        .into_iter()
        .map(|a| (a.external_id.clone(), a))
        .collect();
    let mut out = AttemptBatchResult {
        object: "attempt_batch",
        attempts_created: 0,
        attempts_updated: 0,
        responses_received: atts.iter().map(|a| a.responses.len() as i64).sum(),
        responses_recorded: 0,
        duplicates: 0,
    };
    let mut rows: Vec<AttemptRow> = Vec::with_capacity(atts.len());
    let mut was: Vec<Option<AttemptRow>> = Vec::with_capacity(atts.len());
    for (i, a) in atts.iter().enumerate() {
        let (form, _) = &forms[&a.input.assessment];
        match known.get(&a.input.id) {
            Some(k) => {
                if k.learner != a.input.learner || k.assessment_id != form.id {
                    return Err(Error::conflict(
                        "attempt_mismatch",
                        format!("attempt `{}` belongs to another learner or form", a.input.id),
                    )
                    .with_param(format!("attempts[{i}].id")));
                }
                let mut r = k.clone();
                if r.status == "in_progress" && a.status != "in_progress" {
                    r.status = a.status.into();
                    r.ended_at = a.ended_at.or(Some(now));
                }
                r.updated_at = now;
                out.attempts_updated += 1;
                was.push(Some(k.clone()));
                rows.push(r);
            }
            None => {
                out.attempts_created += 1;
                was.push(None);
                rows.push(AttemptRow {
                    id: new_id(IdKind::Attempt),
                    livemode,
                    external_id: a.input.id.clone(),
                    learner: a.input.learner.clone(),
                    assessment_id: form.id.clone(),
                    exam: form.exam.clone(),
                    status: a.status.into(),
                    started_at: a.started_at,
                    ended_at: if a.status == "in_progress" { None } else { a.ended_at.or(Some(now)) },
                    responses: 0,
                    score_milli: 0,
                    max_score_milli: 0,
                    time_ms: 0,
                    created_at: now,
                    updated_at: now,
                });
            }
        }
    }

    // Responses; only the new ones count.
    let mut resp_rows = Vec::with_capacity(out.responses_received as usize);
    for (a, row) in atts.iter().zip(&rows) {
        let items = &forms[&a.input.assessment].1;
        for r in &a.responses {
            resp_rows.push(ResponseRow {
                attempt_id: row.id.clone(),
                external_id: r.external_id.clone(),
                item_id: items[&r.item].id.clone(),
                item_code: r.item.clone(),
                score_milli: r.score_milli,
                time_ms: r.time_ms,
                answered_at: r.answered_at,
                flags: r.flags,
            });
        }
    }
    let inserted: BTreeSet<(String, String)> = store::insert_responses(tx, &resp_rows).await?.into_iter().collect();
    out.responses_recorded = inserted.len() as i64;
    out.duplicates = out.responses_received - out.responses_recorded;

    // What the new responses add.
    let mut stats: BTreeMap<(String, String), ExamStatsRow> = agg::exam_stats_of(tx, livemode, &learner_ids)
        .await?
        .into_iter()
        .map(|s| ((s.learner.clone(), s.exam.clone()), s))
        .collect();
    let old_stats = stats.clone();
    let mut topics: BTreeMap<(String, String, String), TopicDelta> = BTreeMap::new();
    let mut bands: BTreeMap<(String, String, i64, Band), BandDelta> = BTreeMap::new();
    let mut days: BTreeSet<(String, i64)> = BTreeSet::new();
    let by_attempt: HashMap<String, usize> = rows.iter().enumerate().map(|(i, r)| (r.id.clone(), i)).collect();
    for r in &resp_rows {
        if !inserted.contains(&(r.attempt_id.clone(), r.external_id.clone())) {
            continue;
        }
        let i = by_attempt[r.attempt_id.as_str()];
        let (a, row) = (&atts[i], &mut rows[i]);
        let (form, items) = &forms[&a.input.assessment];
        let item = &items[&r.item_code];
        row.responses += 1;
        row.score_milli += r.score_milli;
        row.max_score_milli += 1000;
        row.time_ms += r.time_ms.unwrap_or(0);
        let s = stats.entry((row.learner.clone(), row.exam.clone())).or_insert_with(|| ExamStatsRow {
            livemode,
            learner: row.learner.clone(),
            exam: row.exam.clone(),
            bucket: -1,
            ..Default::default()
        });
        s.responses += 1;
        s.score_milli += r.score_milli;
        s.time_ms += r.time_ms.unwrap_or(0);
        s.last_activity_at = s.last_activity_at.max(r.answered_at);
        if let Some(p) = rules::pace(r.time_ms, form.target_ms_per_item) {
            s.timed += 1;
            s.timed_ms += r.time_ms.unwrap_or(0);
            s.target_ms += form.target_ms_per_item.unwrap_or(0);
            match p {
                Pace::Rushed => s.rushed += 1,
                Pace::Overtime => s.overtime += 1,
                Pace::OnPace => {}
            }
        }
        let t =
            topics.entry((row.learner.clone(), row.exam.clone(), item.topic.clone())).or_insert_with(|| TopicDelta {
                learner: row.learner.clone(),
                exam: row.exam.clone(),
                topic: item.topic.clone(),
                ..Default::default()
            });
        t.responses += 1;
        t.score_milli += r.score_milli;
        if let Some(ms) = r.time_ms {
            t.timed += 1;
            t.time_ms += ms;
        }
        let zone = &zones[row.learner.as_str()];
        let day = rules::local_day(r.answered_at, zone).map_err(|e| Error::internal_from("study day", e))?;
        days.insert((row.learner.clone(), day));
        if let Some(band) = Band::of(item.difficulty) {
            let period = rules::fortnight_start(day);
            let b = bands.entry((row.learner.clone(), row.exam.clone(), period, band)).or_insert_with(|| BandDelta {
                learner: row.learner.clone(),
                exam: row.exam.clone(),
                period,
                band: band.as_str(),
                ..Default::default()
            });
            b.responses += 1;
            b.score_milli += r.score_milli;
        }
    }
    // Completed attempts count in the averages (with any late responses).
    for (row, old) in rows.iter().zip(&was) {
        let contribution = |a: &AttemptRow| {
            if a.status == "completed" {
                (1, a.score_milli, a.max_score_milli)
            } else {
                (0, 0, 0)
            }
        };
        let new = contribution(row);
        let prev = old.as_ref().map(contribution).unwrap_or((0, 0, 0));
        if new == prev {
            continue;
        }
        let s = stats.entry((row.learner.clone(), row.exam.clone())).or_insert_with(|| ExamStatsRow {
            livemode,
            learner: row.learner.clone(),
            exam: row.exam.clone(),
            bucket: -1,
            ..Default::default()
        });
        s.attempts_completed += new.0 - prev.0;
        s.completed_score_milli += new.1 - prev.1;
        s.completed_max_milli += new.2 - prev.2;
        s.last_activity_at = s.last_activity_at.max(row.ended_at.unwrap_or(row.updated_at));
    }
    // Histograms: a learner moves when their average or their cohorts change.
    let mut hist: BTreeMap<(String, &'static str, String, i64), i64> = BTreeMap::new();
    let cohorts = |l: Option<&LearnerRow>| -> Vec<(&'static str, String)> {
        let mut v = vec![("global", "all".to_string())];
        if let Some(c) = l.and_then(|l| l.country.clone()) {
            v.push(("country", c));
        }
        if let Some(o) = l.and_then(|l| l.organization.clone()) {
            v.push(("organization", o));
        }
        v
    };
    for (key, s) in stats.iter_mut() {
        let old_bucket = old_stats.get(key).map_or(-1, |o| o.bucket);
        s.bucket = rules::score_bucket(s.completed_score_milli, s.completed_max_milli).unwrap_or(-1);
        let (old_c, new_c) = (cohorts(before.get(&key.0)), cohorts(after.get(&key.0)));
        if old_bucket == s.bucket && old_c == new_c {
            continue;
        }
        if old_bucket >= 0 {
            for (kind, c) in old_c {
                *hist.entry((key.1.clone(), kind, c, old_bucket)).or_default() -= 1;
            }
        }
        if s.bucket >= 0 {
            for (kind, c) in new_c {
                *hist.entry((key.1.clone(), kind, c, s.bucket)).or_default() += 1;
            }
        }
    }

    store::upsert_attempts(tx, &rows).await?;
    let changed: Vec<ExamStatsRow> =
        stats.iter().filter(|(k, s)| old_stats.get(*k) != Some(*s)).map(|(_, s)| s.clone()).collect();
    agg::put_exam_stats(tx, &changed).await?;
    agg::add_topic_stats(tx, livemode, &topics.into_values().collect::<Vec<_>>()).await?;
    agg::add_difficulty_stats(tx, livemode, &bands.into_values().collect::<Vec<_>>()).await?;
    agg::add_days(tx, livemode, &days.into_iter().collect::<Vec<_>>()).await?;
    let hist: Vec<HistogramDelta> = hist
        .into_iter()
        .filter(|(_, n)| *n != 0)
        .map(|((exam, kind, cohort, bucket), learners)| HistogramDelta {
            exam,
            cohort_kind: kind,
            cohort,
            bucket,
            learners,
        })
        .collect();
    agg::add_histogram(tx, livemode, &hist).await?;
    for (row, old) in rows.iter().zip(&was) {
        let finished = row.status != "in_progress" && old.as_ref().is_none_or(|o| o.status == "in_progress");
        if finished {
            events::emit(
                tx,
                livemode,
                &format!("attempt.{}", row.status),
                &row.id,
                &serde_json::json!({"id": row.id, "attempt": row.external_id, "learner": row.learner,
                    "assessment": row.assessment_id, "exam": row.exam, "responses": row.responses,
                    "score": row.score_milli as f64 / 1000.0, "max_score": row.max_score_milli as f64 / 1000.0}),
                now,
            )
            .await?;
        }
    }
    Ok(out)
}
