//! Bursar's business metrics: MRR and its movements, customers, churn, unit
//! economics, cohorts, free-to-paid and trial conversion, funnels and a cash
//! view, computed exactly as `specs/business-metrics.md` defines them.
//!
//! Pure: no I/O, no database, no clock. Money is `i64` minor units; rounding
//! is half away from zero; exchange rates are exact decimals.
//!
//! # Pieces
//!
//! * [`mod@import`]: the history import format (catalog JSON, events JSON Lines)
//!   into typed values, with errors naming line and field.
//! * [`fact`]: the one stream of facts both the import and Bursar's own
//!   billing map onto ([`Fact`], [`from_import_event`]).
//! * [`engine`]: [`replay_customer`] turns one customer's facts into a
//!   [`CustomerHistory`]: movements, month-end state, cohort, sign-up,
//!   trials, cash.
//! * [`mod@aggregate`]: month aggregates as sums of per-customer contributions
//!   ([`Accumulator`], [`aggregate()`], [`report()`]).
//! * [`mod@report`]: the JSON document.
//! * [`drill`]: which customers and movements make up a number.
//! * [`generate`]: random but well-formed histories for tests and
//!   benchmarks.
//!
//! # Incremental maintenance
//!
//! Every report figure is a sum over customers, so a store never needs to
//! recompute everyone:
//!
//! 1. Keep each customer's facts and their last [`CustomerHistory`] (it
//!    serializes), and the sums: one [`Accumulator`] (it serializes too), or
//!    per-customer rows in tables ([`CustomerHistory::month_contributions`]:
//!    flows summed per month, level changes summed up to a month).
//! 2. When facts arrive after a customer's last replayed step, continue with
//!    [`CustomerHistory::extend`]. When a fact lands at or before it (late
//!    or corrected data), replay that customer from their facts with
//!    [`replay_customer`] (a customer has few facts; this is cheap).
//! 3. Swap the contribution: `acc.remove(&old)?; acc.add(&new)?;`, or
//!    replace the customer's rows. Replay is causal, so the customer's rows
//!    before the month of the earliest changed fact are unchanged: only
//!    month rows from that month on (and the customer's cohort, sign-up and
//!    funnel rows, which [`Accumulator`] handles) change.
//! 4. Render with [`Accumulator::report`] and the month's marketing spend
//!    ([`spend_by_month`]).

pub mod aggregate;
pub mod catalog;
pub mod decimal;
pub mod drill;
pub mod engine;
mod error;
mod event;
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
pub use error::{ImportError, LineError, MetricsError, MAX_LINE_ERRORS};
pub use fact::{from_import_event, Fact, FactKind};
pub use funnel::{FunnelOptions, FunnelOrder};
pub use import::{import, parse_events, Import, ImportEvent, ImportOptions};
pub use report::{Rate, Report, ReportOptions, Targets};
pub use sum::Additive;
pub use time::Month;
