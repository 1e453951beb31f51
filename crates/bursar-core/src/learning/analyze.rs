//! Psychometrics of an exported form, from files (`bursar analyze
//! responses`): the `bursar-psychometrics/1` report of a response CSV with
//! optional response times and cohorts, for reproducible analyses.

use crate::error::{Error, Result};
use bursar_psychometrics as psy;

/// What to analyse and how.
#[derive(Debug, Clone, Default)]
pub struct AnalyzeFiles {
    pub name: String,
    pub responses_csv: String,
    pub times_csv: Option<String>,
    pub cohorts_csv: Option<String>,
    /// Model keys (`2pl`, `rasch`, `1pl_a1_var1`); all three when empty.
    pub models: Vec<String>,
    /// Score every person (else the first 20).
    pub all_persons: bool,
}

/// The report of the files, as JSON text.
pub fn analyze_files(f: &AnalyzeFiles) -> Result<String> {
    let bad = |what: &str, e: psy::Error| Error::invalid(what, format!("{what}: {e}"));
    let m = psy::ResponseMatrix::from_csv(&f.responses_csv).map_err(|e| bad("responses", e))?;
    let mut ds = psy::Dataset::new(f.name.clone(), m);
    if let Some(t) = &f.times_csv {
        let t = psy::TimeMatrix::from_csv(t).map_err(|e| bad("rt", e))?;
        ds = ds.with_times(t).map_err(|e| bad("rt", e))?;
    }
    if let Some(c) = &f.cohorts_csv {
        let c = psy::Cohorts::from_csv(c).map_err(|e| bad("cohorts", e))?;
        ds = ds.with_cohorts(c).map_err(|e| bad("cohorts", e))?;
    }
    let models = if f.models.is_empty() {
        psy::IrtModel::ALL.to_vec()
    } else {
        f.models
            .iter()
            .map(|k| {
                psy::IrtModel::ALL
                    .into_iter()
                    .find(|m| m.key() == k)
                    .ok_or_else(|| Error::invalid("models", format!("unknown model `{k}`: 2pl, rasch or 1pl_a1_var1")))
            })
            .collect::<Result<Vec<_>>>()?
    };
    let persons = if f.all_persons { psy::PersonSelection::All } else { psy::PersonSelection::First(20) };
    let opts = psy::Options { models, persons, ..psy::Options::default() };
    let report = psy::analyze(&ds, &opts).map_err(|e| bad("responses", e))?;
    report.to_json_string_pretty().map_err(|e| Error::internal_from("report", e))
}
