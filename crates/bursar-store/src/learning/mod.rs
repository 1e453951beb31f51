//! Learning analytics: forms and items (`content`), attempts and responses
//! with the aggregates every new response updates (`attempts`,
//! `aggregates`), calibrations (`calibrations`), and the
//! hosted dashboards' sessions (`sessions`).

pub mod aggregates;
pub mod attempts;
pub mod calibrations;
pub mod content;
pub mod sessions;

/// `true` as the database keeps it.
pub(crate) fn flag(b: bool) -> i64 {
    i64::from(b)
}
