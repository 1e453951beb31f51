//! Calibrations: an explicit act (the API or the console asks for one), run
//! as a background job that any node may claim, versioned per form. A
//! succeeded calibration holds the form's item statistics and flags and,
//! when asked, becomes the one learners are scored against.

use super::content;
use super::progress::{self, report_progress, LEASE_MS};
use crate::actor::Actor;
use crate::common::secs;
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::idempotency::Reply;
use bursar_domain::id::{is_valid, new_id, IdKind};
use bursar_psychometrics as psy;
use bursar_store::events;
use bursar_store::learning::attempts as attempt_store;
use bursar_store::learning::calibrations::{self as store, CalibrationRow};
use bursar_store::learning::content as content_store;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use utoipa::ToSchema;

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CalibrationCreate {
    /// `2pl` (default), `rasch` or `1pl_a1_var1`.
    pub model: Option<String>,
    /// Score learners against it once it succeeds (default true).
    pub activate: Option<bool>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Calibration {
    pub id: String,
    /// Always `calibration`.
    pub object: &'static str,
    pub livemode: bool,
    pub assessment: String,
    pub version: i64,
    pub model: String,
    /// `queued`, `running`, `succeeded` or `failed`.
    pub status: String,
    /// 0 to 100.
    pub progress: i64,
    /// What it is doing or last did: `loading`, `classical`, `em`, `newton`,
    /// `scoring`, `finishing`, `saving`, then `done` (absent while queued).
    pub phase: Option<String>,
    /// The EM or Newton cycle of the fit while it runs; when done, the cycles it took.
    pub iteration: Option<i64>,
    /// Unix seconds: when the runner last reported.
    pub progress_at: Option<i64>,
    /// Whether learners are scored against it.
    pub active: bool,
    /// Persons (learners' first completed attempts) and items calibrated.
    pub persons: Option<i64>,
    pub items: Option<i64>,
    pub error: Option<String>,
    pub created: i64,
    pub started: Option<i64>,
    pub finished: Option<i64>,
}

pub(crate) fn view(c: &CalibrationRow) -> Calibration {
    Calibration {
        id: c.id.clone(),
        object: "calibration",
        livemode: c.livemode,
        assessment: c.assessment_id.clone(),
        version: c.version,
        model: c.model.clone(),
        status: c.status.clone(),
        progress: c.progress,
        phase: c.phase.clone(),
        iteration: c.iteration,
        progress_at: c.progress_at.map(secs),
        active: c.active,
        persons: c.persons,
        items: c.items,
        error: c.error.clone(),
        created: secs(c.created_at),
        started: c.started_at.map(secs),
        finished: c.finished_at.map(secs),
    }
}

fn model_of(s: &str) -> Option<psy::IrtModel> {
    psy::IrtModel::ALL.iter().copied().find(|m| m.key() == s)
}

/// Asks for a new calibration of a form; it runs in the background.
pub async fn request(
    ctx: &Ctx,
    actor: &Actor,
    assessment: &str,
    body: CalibrationCreate,
    reply: &Reply,
) -> Result<Calibration> {
    let model = body.model.unwrap_or_else(|| "2pl".into());
    if model_of(&model).is_none() {
        return Err(Error::invalid("model", "model is 2pl, rasch or 1pl_a1_var1"));
    }
    let form = content::load(ctx, actor.livemode, assessment).await?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let row = CalibrationRow {
        id: new_id(IdKind::Calibration),
        livemode: actor.livemode,
        assessment_id: form.id.clone(),
        version: store::next_version(&mut tx, &form.id).await?,
        model,
        status: "queued".into(),
        progress: 0,
        active: false,
        activate: body.activate.unwrap_or(true),
        persons: None,
        items: None,
        params: None,
        report: None,
        flags: None,
        error: None,
        requested_by: format!("{}:{}", actor.kind, actor.id),
        lease_until: None,
        created_at: now,
        started_at: None,
        finished_at: None,
        phase: None,
        iteration: None,
        progress_at: None,
    };
    store::insert(&mut tx, &row).await.map_err(|e| match &e {
        bursar_store::DbError::Sqlx(s) if bursar_store::db::is_unique_violation(s) => {
            Error::conflict("calibration_requested", "another calibration of this form was just requested; retry")
        }
        _ => e.into(),
    })?;
    events::audit(&mut tx, actor.kind, &actor.id, "calibration.request", Some(&row.id), &serde_json::json!({}), now)
        .await?;
    let out = view(&row);
    reply.commit(tx, &out).await?;
    Ok(out)
}

pub(crate) async fn load(ctx: &Ctx, livemode: bool, id: &str) -> Result<CalibrationRow> {
    if !is_valid(IdKind::Calibration, id) {
        return Err(Error::not_found("id", "calibration", id));
    }
    store::get(ctx.db.reader(), livemode, id).await?.ok_or_else(|| Error::not_found("id", "calibration", id))
}

pub async fn get(ctx: &Ctx, actor: &Actor, id: &str) -> Result<Calibration> {
    Ok(view(&load(ctx, actor.livemode, id).await?))
}

/// A form's calibrations, newest first.
pub async fn list(ctx: &Ctx, actor: &Actor, assessment: &str) -> Result<Vec<Calibration>> {
    let form = content::load(ctx, actor.livemode, assessment).await?;
    Ok(store::list(ctx.db.reader(), &form.id, 100).await?.iter().map(view).collect())
}

/// The `bursar-psychometrics/1` report of a succeeded calibration.
pub async fn report(ctx: &Ctx, actor: &Actor, id: &str) -> Result<serde_json::Value> {
    let c = load(ctx, actor.livemode, id).await?;
    let text = c.report.ok_or_else(|| {
        Error::conflict("calibration_not_ready", format!("the calibration is {}; it has no report yet", c.status))
    })?;
    serde_json::from_str(&text).map_err(|e| Error::internal_from("stored report", e))
}

/// Makes a succeeded calibration the one its form's learners are scored against.
pub async fn activate(ctx: &Ctx, actor: &Actor, id: &str, reply: &Reply) -> Result<Calibration> {
    let c = load(ctx, actor.livemode, id).await?;
    if c.status != "succeeded" {
        return Err(Error::conflict(
            "calibration_not_ready",
            format!("only a succeeded calibration can be active; this one is {}", c.status),
        ));
    }
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    store::set_active(&mut tx, &c.assessment_id, &c.id).await?;
    events::audit(&mut tx, actor.kind, &actor.id, "calibration.activate", Some(&c.id), &serde_json::json!({}), now)
        .await?;
    let row = store::get(&mut *tx, actor.livemode, id).await?.ok_or_else(Error::internal)?;
    let out = view(&row);
    reply.commit(tx, &out).await?;
    Ok(out)
}

/// Runs calibrations waiting in the queue (or abandoned by a node that
/// died), one after another, until none is left. Returns how many ran.
pub async fn run_pending(ctx: &Ctx) -> Result<u32> {
    let mut n = 0;
    loop {
        let now = ctx.now_ms();
        let mut tx = ctx.db.begin().await?;
        let Some(c) = store::claim(&mut tx, ctx.db.for_update_skip_locked(), now, LEASE_MS).await? else {
            return Ok(n);
        };
        tx.commit().await?;
        n += 1;
        if let Err(e) = run(ctx, c.clone()).await {
            tracing::warn!(calibration = %c.id, error = %e, "calibration failed");
            // As far as it got (its last reported phase stays).
            let mut failed = store::get(ctx.db.writer(), c.livemode, &c.id).await?.unwrap_or_else(|| c.clone());
            failed.status = "failed".into();
            failed.active = false;
            failed.error = Some(e.message.clone());
            failed.finished_at = Some(ctx.now_ms());
            let mut tx = ctx.db.begin().await?;
            store::finish(&mut tx, &failed).await?;
            events::emit(
                &mut tx,
                c.livemode,
                "calibration.failed",
                &c.id,
                &serde_json::to_value(view(&failed)).unwrap_or_default(),
                ctx.now_ms(),
            )
            .await?;
            tx.commit().await?;
        }
    }
}

/// The persons of a form's calibration: each learner's first completed
/// attempt, as a row of 0/1 (a partial score of at least ½ counts as right;
/// a skipped item is missing), with the learner's country as the cohort.
struct Source {
    learners: Vec<String>,
    scores: Vec<u8>,
    times: Vec<u32>,
    any_time: bool,
}

async fn load_source(ctx: &Ctx, form_id: &str, codes: &[String]) -> Result<Source> {
    let index: HashMap<&str, usize> = codes.iter().enumerate().map(|(i, c)| (c.as_str(), i)).collect();
    let k = codes.len();
    let mut src = Source { learners: Vec::new(), scores: Vec::new(), times: Vec::new(), any_time: false };
    let mut current: Option<(String, String)> = None;
    let mut conn = ctx.db.reader().acquire().await?;
    attempt_store::for_each_source_response(&mut conn, form_id, |r| {
        let same_learner = current.as_ref().is_some_and(|(l, _)| *l == r.learner);
        if !same_learner {
            current = Some((r.learner.clone(), r.attempt_id.clone()));
            src.learners.push(r.learner.clone());
            src.scores.extend(std::iter::repeat_n(psy::MISSING, k));
            src.times.extend(std::iter::repeat_n(psy::MISSING_TIME, k));
        }
        if current.as_ref().is_some_and(|(_, a)| *a != r.attempt_id) {
            return; // a later attempt of the same learner
        }
        let Some(&j) = index.get(r.item_code.as_str()) else { return };
        let row = src.learners.len() - 1;
        src.scores[row * k + j] = u8::from(r.score_milli >= 500);
        if let Some(t) = r.time_ms {
            src.times[row * k + j] = u32::try_from(t).unwrap_or(u32::MAX - 1);
            src.any_time = true;
        }
    })
    .await?;
    Ok(src)
}

async fn run(ctx: &Ctx, mut c: CalibrationRow) -> Result<()> {
    let model = model_of(&c.model).ok_or_else(|| Error::invalid("model", "unknown model"))?;
    report_progress(ctx, &c.id, 2, "loading", None).await?;
    let codes = content_store::assessment_item_codes(ctx.db.reader(), &c.assessment_id).await?;
    let src = load_source(ctx, &c.assessment_id, &codes).await?;
    report_progress(ctx, &c.id, 20, "loading", None).await?;
    if src.learners.len() < 2 {
        return Err(Error::invalid("assessment", "a calibration needs completed attempts of at least two learners"));
    }
    // Regional cohorts: the learners' countries.
    let mut countries = Vec::with_capacity(src.learners.len());
    for l in &src.learners {
        let row = attempt_store::learner(ctx.db.reader(), c.livemode, l).await?;
        countries.push(Some(row.and_then(|r| r.country).unwrap_or_else(|| "unknown".into())));
    }
    let n = src.learners.len();
    let name = c.assessment_id.clone();
    let watch = psy::Progress::new();
    let watched = watch.clone();
    let task = tokio::task::spawn_blocking(move || -> Result<(psy::Report, Vec<psy::ItemFlags>), String> {
        let m = psy::ResponseMatrix::from_flat(codes.clone(), n, src.scores).map_err(|e| e.to_string())?;
        let mut ds = psy::Dataset::new(name, m);
        if src.any_time {
            let t = psy::TimeMatrix::from_flat(codes, n, src.times).map_err(|e| e.to_string())?;
            ds = ds.with_times(t).map_err(|e| e.to_string())?;
        }
        ds = ds.with_cohorts(psy::Cohorts::new(countries)).map_err(|e| e.to_string())?;
        let mut opts = psy::Options { models: vec![model], ..psy::Options::default() };
        opts.fit.progress = Some(watched);
        let report = psy::analyze(&ds, &opts).map_err(|e| e.to_string())?;
        let flags = psy::item_flags(&report, &psy::FlagThresholds::default()).map_err(|e| e.to_string())?;
        Ok((report, flags))
    });
    let (report, flags) = progress::watch(ctx, &c.id, task, &watch)
        .await?
        .map_err(|e| Error::invalid("assessment", format!("the responses cannot be calibrated: {e}")))?;
    report_progress(ctx, &c.id, 95, "saving", Some(watch.read().cycle as i64)).await?;
    let fitted = report.model(model).ok_or_else(|| {
        Error::invalid("assessment", "no item can be calibrated: every item was answered by all or by none")
    })?;
    let params = psy::Calibration {
        item_ids: report.irt_items.clone().unwrap_or_default(),
        a: fitted.a.clone(),
        d: fitted.d.clone(),
        latent_var: fitted.latent_var,
    };
    c.status = "succeeded".into();
    c.progress = 100;
    c.phase = Some("done".into());
    c.iteration = Some(fitted.em_cycles as i64);
    c.progress_at = Some(ctx.now_ms());
    c.active = c.activate;
    c.persons = Some(n as i64);
    c.items = Some(params.item_ids.len() as i64);
    c.params = Some(serde_json::to_string(&params).map_err(|e| Error::internal_from("params", e))?);
    c.report = Some(report.to_json_string().map_err(|e| Error::internal_from("report", e))?);
    c.flags = Some(serde_json::to_string(&flags).map_err(|e| Error::internal_from("flags", e))?);
    c.finished_at = Some(ctx.now_ms());
    let mut tx = ctx.db.begin().await?;
    store::finish(&mut tx, &c).await?;
    events::emit(
        &mut tx,
        c.livemode,
        "calibration.succeeded",
        &c.id,
        &serde_json::to_value(view(&c)).unwrap_or_default(),
        ctx.now_ms(),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
