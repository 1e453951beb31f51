//! Abilities: a learner's latest answers to a form's items scored against
//! the form's active calibration (EAP with its posterior SD), computed when
//! asked — a new calibration changes every ability at once, with no
//! rescoring job. Calibrations are read once per process and kept.

use crate::ctx::Ctx;
use crate::error::{Error, Result};
use bursar_psychometrics as psy;
use bursar_store::learning::attempts as attempt_store;
use bursar_store::learning::calibrations::{self as store, CalibrationRow};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// A form's active calibration, ready to score with.
pub struct Active {
    pub id: String,
    pub model: String,
    pub params: psy::Calibration,
    /// Item code → position in `params`.
    pub index: HashMap<String, usize>,
}

impl Active {
    /// The item's difficulty on the θ scale (−d/a), when it has a slope.
    pub fn b(&self, j: usize) -> Option<f64> {
        let (a, d) = (self.params.a[j], self.params.d[j]);
        (a.abs() > 1e-9).then(|| -d / a)
    }
}

fn cache() -> &'static Mutex<HashMap<String, Arc<Active>>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<Active>>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

fn prepare(c: &CalibrationRow) -> Result<Active> {
    let text = c.params.as_deref().ok_or_else(Error::internal)?;
    let params: psy::Calibration =
        serde_json::from_str(text).map_err(|e| Error::internal_from("calibration params", e))?;
    let index = params.item_ids.iter().enumerate().map(|(i, c)| (c.clone(), i)).collect();
    Ok(Active { id: c.id.clone(), model: c.model.clone(), params, index })
}

/// The calibration a form's learners are scored against, if any.
pub async fn active(ctx: &Ctx, assessment_id: &str) -> Result<Option<Arc<Active>>> {
    // The active calibration's id changes rarely; its parameters never do.
    let Some(row) = store::active(ctx.db.reader(), assessment_id).await? else { return Ok(None) };
    if let Some(a) = cache().lock().map_err(|_| Error::internal())?.get(&row.id) {
        return Ok(Some(a.clone()));
    }
    let a = Arc::new(prepare(&row)?);
    let mut c = cache().lock().map_err(|_| Error::internal())?;
    if c.len() > 1000 {
        c.clear();
    }
    c.insert(row.id.clone(), a.clone());
    Ok(Some(a))
}

/// A learner's ability on a form.
#[derive(Debug, Clone, PartialEq)]
pub struct Ability {
    pub calibration: String,
    pub model: String,
    /// EAP estimate of θ and its posterior SD.
    pub theta: f64,
    pub se: f64,
    /// Calibrated items the learner answered.
    pub items: usize,
    /// The learner's latest score per calibrated item (for recommendations).
    pub answers: HashMap<String, i64>,
}

/// Scores a learner's latest answers on a form against its active
/// calibration; `None` without one, or without an answer to a calibrated item.
pub async fn ability(ctx: &Ctx, livemode: bool, learner: &str, assessment_id: &str) -> Result<Option<Ability>> {
    let Some(cal) = active(ctx, assessment_id).await? else { return Ok(None) };
    let answers = attempt_store::latest_answers(ctx.db.reader(), livemode, learner, assessment_id).await?;
    let mut pattern: Vec<Option<u8>> = vec![None; cal.params.item_ids.len()];
    let mut n = 0;
    let mut latest = HashMap::new();
    for (code, score) in answers {
        if let Some(&j) = cal.index.get(&code) {
            pattern[j] = Some(u8::from(score >= 500));
            n += 1;
        }
        latest.insert(code, score);
    }
    if n == 0 {
        return Ok(None);
    }
    let s = cal.params.score(&pattern).map_err(|e| Error::internal_from("scoring", e))?;
    Ok(Some(Ability {
        calibration: cal.id.clone(),
        model: cal.model.clone(),
        theta: s.eap,
        se: s.eap_psd,
        items: n,
        answers: latest,
    }))
}
