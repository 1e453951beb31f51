//! Learning analytics: forms and items (`content`), attempts and responses
//! in batches with the aggregates they update (`ingest`), learner
//! dashboards (`dashboard`), calibrations run as background jobs
//! (`calibration`), abilities scored against them (`scoring`), item
//! statistics and cohort benchmarks (`statistics`), exports, the hosted
//! dashboards' sessions, and psychometrics of exported files (`analyze`).
//! The numbers themselves are computed by `bursar_psychometrics` (pure) and
//! the rules of bands, streaks and pace by `bursar_domain::learning`.

pub mod analyze;
pub mod calibration;
pub mod charts;
pub mod content;
pub mod dashboard;
pub mod exports;
pub mod ingest;
pub mod instructor;
pub mod progress;
pub mod report;
pub mod scoring;
pub mod sessions;
pub mod statistics;
