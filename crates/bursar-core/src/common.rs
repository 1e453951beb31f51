//! Small conventions every area shares: pages of a list, instants as the
//! outside world sees them, metadata and free-text limits.

use crate::error::{Error, Result};
use std::collections::BTreeMap;

/// A request for one page of a list: at most `limit` objects after the
/// object `starting_after` (ids sort by creation time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub limit: i64,
    pub starting_after: Option<String>,
}

impl Page {
    pub const DEFAULT_LIMIT: i64 = 10;
    pub const MAX_LIMIT: i64 = 100;

    /// The first page of `limit` objects.
    pub fn first(limit: i64) -> Page {
        Page { limit, starting_after: None }
    }

    /// Parses a page from its text form: `limit` 1 to 100 (10 when absent).
    pub fn parse(limit: Option<&str>, starting_after: Option<String>) -> Result<Page> {
        let limit = match limit {
            None => Page::DEFAULT_LIMIT,
            Some(s) => match s.parse::<i64>() {
                Ok(n) if (1..=Page::MAX_LIMIT).contains(&n) => n,
                _ => return Err(Error::invalid("limit", "limit must be an integer from 1 to 100")),
            },
        };
        Ok(Page { limit, starting_after: starting_after.filter(|s| !s.is_empty()) })
    }
}

/// One page of objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct List<T> {
    pub data: Vec<T>,
    /// Whether more objects follow the last one.
    pub has_more: bool,
}

impl<T> List<T> {
    /// A page from up to `limit + 1` fetched rows.
    pub fn from_rows(mut rows: Vec<T>, limit: i64) -> Self {
        let limit = usize::try_from(limit).unwrap_or(0);
        let has_more = rows.len() > limit;
        rows.truncate(limit);
        List { data: rows, has_more }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> List<U> {
        List { data: self.data.into_iter().map(f).collect(), has_more: self.has_more }
    }
}

/// Unix seconds, as instants are shown outside (stored as epoch ms).
pub fn secs(ms: i64) -> i64 {
    ms.div_euclid(1000)
}

/// Metadata: at most 50 keys of up to 40 characters, values up to 500.
pub fn validate_metadata(m: &BTreeMap<String, String>) -> Result<()> {
    if m.len() > 50 {
        return Err(Error::invalid("metadata", "metadata can have at most 50 keys"));
    }
    for (k, v) in m {
        if k.is_empty() || k.chars().count() > 40 {
            return Err(Error::invalid(&format!("metadata.{k}"), "metadata keys must be 1 to 40 characters"));
        }
        if v.chars().count() > 500 {
            return Err(Error::invalid(&format!("metadata.{k}"), "metadata values must be at most 500 characters"));
        }
    }
    Ok(())
}

/// Checks an optional free-text field's length.
pub fn check_len(param: &str, v: &Option<String>, max: usize) -> Result<()> {
    if let Some(s) = v {
        if s.chars().count() > max {
            return Err(Error::invalid(param, format!("`{param}` must be at most {max} characters")));
        }
    }
    Ok(())
}

/// A currency given for something new: a price, a coupon's amounts, a
/// cart, a checkout session, a subscription, an invoice, a credit, a
/// customer's preferred currency, a conversion target. Unknown codes and
/// codes withdrawn from ISO 4217 (BGN, CUC) are refused naming `param`;
/// rows already stored in a withdrawn currency are still read, with
/// [`bursar_domain::money::Currency::from_code`].
pub fn new_currency(param: &str, code: &str) -> Result<bursar_domain::money::Currency> {
    use bursar_domain::money::{Currency, MoneyError};
    Currency::from_code_current(code).map_err(|e| match e {
        MoneyError::Withdrawn(c) => Error::invalid(
            param,
            format!("`{c}` has been withdrawn from ISO 4217 and cannot be used for new prices or purchases"),
        ),
        _ => Error::invalid(param, format!("unknown currency `{code}`")),
    })
}
