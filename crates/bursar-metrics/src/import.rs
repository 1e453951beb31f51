//! The subscription-history import: a catalog JSON document and an events
//! JSON Lines file, as the business-metrics spec defines them.
//!
//! [`parse_events`] reads every line into a typed [`ImportEvent`]; a line
//! that is not valid JSON, lacks a field its type needs, or has a field of
//! the wrong shape is a [`LineError`] naming its 1-based line number and the
//! field. Any bad line refuses the whole file unless
//! [`ImportOptions::skip_bad_lines`] is set, in which case the bad lines are
//! listed and the rest returned. Blank lines are skipped. Unknown event types
//! are kept as [`EventBody::Unknown`]. [`import`] reads both files and also
//! checks the events against the catalog (known coupons, convertible
//! currencies); [`Import::facts`] maps the result onto [`Fact`]s.

use std::collections::BTreeMap;

use bursar_domain::money::Currency;

pub use crate::event::*;

use crate::catalog::Catalog;
use crate::error::MAX_LINE_ERRORS;
use crate::fact::{from_import_event, Fact};
use crate::{ImportError, LineError, MetricsError};

/// Options of an import.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// Import the good lines of a file with bad ones, listing the bad ones,
    /// instead of refusing the file.
    pub skip_bad_lines: bool,
}

/// The events of a file (and, when bad lines were skipped, the bad lines).
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedEvents {
    pub events: Vec<ImportEvent>,
    pub skipped: Vec<LineError>,
}

fn refuse(errors: Vec<LineError>) -> ImportError {
    let total = errors.len();
    let mut errors = errors;
    errors.truncate(MAX_LINE_ERRORS);
    ImportError::Lines { errors, total }
}

/// Reads an events file (JSON Lines).
pub fn parse_events(text: &str, options: ImportOptions) -> Result<ParsedEvents, ImportError> {
    let mut events = Vec::new();
    let mut bad = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match ImportEvent::parse_line(line, i + 1) {
            Ok(e) => events.push(e),
            Err(e) => bad.push(e),
        }
    }
    finish(events, bad, options)
}

fn finish(events: Vec<ImportEvent>, bad: Vec<LineError>, options: ImportOptions) -> Result<ParsedEvents, ImportError> {
    if !bad.is_empty() && !options.skip_bad_lines {
        return Err(refuse(bad));
    }
    Ok(ParsedEvents { events, skipped: bad })
}

/// The currencies and coupons an event needs from the catalog.
fn check_against(ev: &ImportEvent, catalog: &Catalog) -> Result<(), LineError> {
    let err = |field: &str, message: String| LineError { line: ev.line, field: Some(field.to_string()), message };
    let rate = |field: &str, c: Currency| {
        if catalog.has_rate(c) {
            Ok(())
        } else {
            Err(err(field, format!("no exchange rate for {c} in the catalog's fx_to_base")))
        }
    };
    let coupon = |field: &str, id: &str| {
        if catalog.coupons.contains_key(id) {
            Ok(())
        } else {
            Err(err(field, format!("unknown coupon `{id}`")))
        }
    };
    match &ev.body {
        EventBody::SubscriptionCreated(b) => {
            rate("currency", b.currency)?;
            if let Some(d) = &b.discount {
                coupon("discount.coupon_id", &d.coupon_id)?;
            }
            if b.unit_amount_minor.is_none()
                && catalog.plans.get(&b.plan_id).and_then(|p| p.prices.get(&b.currency)).is_none()
            {
                return Err(err(
                    "unit_amount_minor",
                    format!("missing, and plan `{}` has no {} price", b.plan_id, b.currency),
                ));
            }
        }
        EventBody::InvoicePaid(b) | EventBody::InvoicePaymentFailed(b) => rate("currency", b.currency)?,
        EventBody::RefundCreated(b) => rate("currency", b.currency)?,
        EventBody::MarketingSpend(b) => rate("currency", b.currency)?,
        EventBody::DiscountApplied(b) => coupon("coupon_id", &b.coupon_id)?,
        _ => {}
    }
    Ok(())
}

/// A parsed, checked import.
#[derive(Debug, Clone, PartialEq)]
pub struct Import {
    pub catalog: Catalog,
    pub events: Vec<ImportEvent>,
    /// Bad lines left out (only with [`ImportOptions::skip_bad_lines`]).
    pub skipped: Vec<LineError>,
}

impl Import {
    /// The facts of the import, in file order.
    pub fn facts(&self) -> Result<Vec<Fact>, MetricsError> {
        self.events.iter().map(|e| from_import_event(e, &self.catalog)).collect()
    }
}

/// Reads and checks a catalog and an events file together. Events that name
/// an unknown coupon or a currency without an exchange rate are bad lines
/// too.
pub fn import(catalog_json: &str, events_jsonl: &str, options: ImportOptions) -> Result<Import, ImportError> {
    let catalog = Catalog::from_json(catalog_json)?;
    let parsed = parse_events(events_jsonl, ImportOptions { skip_bad_lines: true })?;
    let mut bad = parsed.skipped;
    let mut events = Vec::with_capacity(parsed.events.len());
    for ev in parsed.events {
        match check_against(&ev, &catalog) {
            Ok(()) => events.push(ev),
            Err(e) => bad.push(e),
        }
    }
    bad.sort_by_key(|e| e.line);
    let ParsedEvents { events, skipped } = finish(events, bad, options)?;
    Ok(Import { catalog, events, skipped })
}

/// Counts of events by type, for an import summary.
pub fn count_by_type(events: &[ImportEvent]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for e in events {
        *m.entry(e.type_name().to_string()).or_insert(0) += 1;
    }
    m
}
