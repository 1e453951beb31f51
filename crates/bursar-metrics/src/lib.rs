//! Bursar's business metrics: MRR and its movements, customers, churn, unit
//! economics, cohorts, free-to-paid and trial conversion, funnels and a cash
//! view, computed exactly as `specs/business-metrics.md` defines them.
//!
//! Pure: no I/O, no database, no clock. Money is `i64` minor units; rounding
//! is half away from zero; exchange rates are exact decimals.
//!
//! # Pieces
//!
//! * [`import`]: the history import format (catalog JSON, events JSON Lines)
//!   into typed values, with errors naming line and field.
//! * [`fact`]: the one stream of facts both the import and Bursar's own
//!   billing map onto ([`Fact`], [`from_import_event`]).
//! * [`engine`]: [`replay_customer`] turns one customer's facts into a
//!   [`CustomerHistory`]: movements, month-end state, cohort, sign-up,
//!   trials, cash.
//! * [`aggregate`]: month aggregates as sums of per-customer contributions
//!   ([`Accumulator`], [`aggregate()`], [`report()`]).
//! * [`report`]: the JSON document.
//! * [`drill`]: which customers and movements make up a number.
//! * [`generate`]: random but well-formed histories for tests and
//!   benchmarks.
//!
//! # Incremental maintenance
//!
//! A store keeps, per customer, the facts and the last [`CustomerHistory`],
//! and one [`Accumulator`] (or the same sums as tables: see [`aggregate`]).
//! When facts arrive after a customer's last replayed step,
//! [`CustomerHistory::extend`] continues from the stored state. When a fact
//! lands at or before it (late or corrected data), replay that customer from
//! their facts. Either way: `acc.remove(&old)`, `acc.add(&new)`. Nothing
//! about other customers is touched, and the new history's records before
//! the month of the earliest changed fact are unchanged, so month rows
//! before that month keep their values.

pub mod aggregate;
pub mod catalog;
pub mod decimal;
pub mod drill;
pub mod engine;
mod error;
pub mod fact;
pub mod funnel;
pub mod generate;
pub mod import;
pub mod report;
mod sum;
pub mod time;

pub use aggregate::{aggregate, replay_all, report, report_filtered, spend_by_month, Accumulator};
pub use catalog::{Catalog, Coupon, Plan};
pub use decimal::Decimal;
pub use engine::{
    replay_customer, replay_customer_with, CustomerHistory, CustomerState, Filter, Levels, MonthContribution,
    MonthRecord, Movement, MovementKind,
};
pub use error::{ImportError, LineError, MetricsError};
pub use fact::{from_import_event, Fact, FactKind};
pub use funnel::{FunnelOptions, FunnelOrder};
pub use import::{import, parse_events, Import, ImportEvent, ImportOptions};
pub use report::{Rate, Report, ReportOptions, Targets};
pub use sum::Additive;
pub use time::Month;
