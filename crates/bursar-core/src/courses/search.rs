//! Course search: the marketplace's listing and full-text search over
//! published courses, with filters, sorts and cursor pages.
//!
//! Any caller sees the published courses of its own mode only. The cursor
//! is opaque to callers: it carries the sort keys of the last course of a
//! page, and a fingerprint of the search it belongs to, so a cursor is
//! refused when the query, filters or sort change under it.

use super::course::{render_all, Course};
use crate::common::check_len;
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::Actor;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use bursar_domain::money::Currency;
use bursar_store::marketplace::CourseRow;
use bursar_store::search::{self as store, SearchQuery, SearchSort, SortKey, TextQuery};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// Words to find in the title, subtitle, description and topics (up to
    /// 200 characters). Every word must match; the last one also matches
    /// as a prefix unless the text ends with a space.
    pub q: Option<String>,
    /// An exact topic.
    pub topic: Option<String>,
    /// `beginner`, `intermediate`, `advanced` or `all`.
    pub level: Option<String>,
    /// A language tag such as `en` or `pt-BR`.
    pub language: Option<String>,
    /// `course` or `bundle`.
    pub kind: Option<String>,
    /// Only courses sold in this currency (ISO 4217); the price filters
    /// and price sorts are in it, and need it.
    pub currency: Option<String>,
    /// Lowest price, minor units of `currency`, inclusive.
    pub min_price: Option<String>,
    /// Highest price, minor units of `currency`, inclusive.
    pub max_price: Option<String>,
    /// Lowest average rating in hundredths (`450` is 4.50), 0 to 500;
    /// unrated courses are left out.
    pub min_rating: Option<String>,
    /// `relevance` (the default with `q`), `newest` (the default without),
    /// `rating`, `price_asc`, `price_desc` (both need `currency`) or
    /// `best_selling`.
    pub sort: Option<String>,
    /// 1 to 100, default 20.
    pub limit: Option<String>,
    /// The `next_cursor` of the page before, with the same other parameters.
    pub cursor: Option<String>,
    /// `true` adds `total`, the number of courses on all pages.
    pub include_total: Option<String>,
}

/// A page of search results.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchPage {
    /// Always `list`.
    pub object: &'static str,
    pub data: Vec<Course>,
    /// Whether more courses follow.
    pub has_more: bool,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
    /// The number of matching courses, with `include_total=true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<i64>,
}

const CURSOR_VERSION: i64 = 1;

fn int(param: &str, v: &Option<String>, range: std::ops::RangeInclusive<i64>) -> Result<Option<i64>> {
    match v {
        None => Ok(None),
        Some(s) => match s.trim().parse::<i64>() {
            Ok(n) if range.contains(&n) => Ok(Some(n)),
            _ => Err(Error::invalid(
                param,
                format!("`{param}` must be an integer from {} to {}", range.start(), range.end()),
            )),
        },
    }
}

/// Checks the parameters and turns them into a store query (without the
/// cursor), with the fingerprint its cursors carry.
fn parse(p: &SearchParams, livemode: bool) -> Result<(SearchQuery, String)> {
    check_len("q", &p.q, 200)?;
    let text = p.q.as_deref().and_then(TextQuery::parse);
    if let Some(t) = &p.topic {
        if t.trim().is_empty() || t.chars().count() > 60 {
            return Err(Error::invalid("topic", "a topic is 1 to 60 characters"));
        }
    }
    if let Some(l) = &p.level {
        if !matches!(l.as_str(), "beginner" | "intermediate" | "advanced" | "all") {
            return Err(Error::invalid("level", "level is beginner, intermediate, advanced or all"));
        }
    }
    if let Some(l) = &p.language {
        if !((2..=12).contains(&l.len()) && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')) {
            return Err(Error::invalid("language", "a language tag such as `en` or `pt-BR`"));
        }
    }
    if let Some(k) = &p.kind {
        if !matches!(k.as_str(), "course" | "bundle") {
            return Err(Error::invalid("kind", "kind is course or bundle"));
        }
    }
    let currency = match &p.currency {
        None => None,
        Some(c) => Some(
            Currency::from_code(c)
                .map_err(|_| Error::invalid("currency", "an ISO 4217 currency code such as `EUR`"))?
                .code()
                .to_string(),
        ),
    };
    let min_price = int("min_price", &p.min_price, 0..=100_000_000_000)?;
    let max_price = int("max_price", &p.max_price, 0..=100_000_000_000)?;
    if (min_price.is_some() || max_price.is_some()) && currency.is_none() {
        return Err(Error::invalid("currency", "min_price and max_price are in a currency: give `currency`"));
    }
    if let (Some(lo), Some(hi)) = (min_price, max_price) {
        if lo > hi {
            return Err(Error::invalid("max_price", "max_price must not be below min_price"));
        }
    }
    let min_rating = int("min_rating", &p.min_rating, 0..=500)?;
    let sort = match (&p.sort, &text) {
        (None, Some(_)) => SearchSort::Relevance,
        (None, None) => SearchSort::Newest,
        (Some(s), _) => SearchSort::parse(s).ok_or_else(|| {
            Error::invalid("sort", "sort is relevance, newest, rating, price_asc, price_desc or best_selling")
        })?,
    };
    if sort == SearchSort::Relevance && text.is_none() {
        return Err(Error::invalid("sort", "sort=relevance needs words to search for in `q`"));
    }
    if sort.by_price() && currency.is_none() {
        return Err(Error::invalid("currency", "price sorts are in a currency: give `currency`"));
    }
    let limit = int("limit", &p.limit, 1..=100)?.unwrap_or(20);
    let q = SearchQuery {
        livemode,
        text,
        topic: p.topic.clone(),
        level: p.level.clone(),
        language: p.language.clone(),
        kind: p.kind.clone(),
        currency,
        min_price,
        max_price,
        min_rating,
        sort,
        after: None,
        limit,
    };
    Ok((q.clone(), fingerprint(&q)))
}

/// A short hash of everything that decides which courses a search finds
/// and in which order (FNV-1a, 64 bits): a cursor only continues the
/// search it came from.
fn fingerprint(q: &SearchQuery) -> String {
    let canon = serde_json::json!([
        q.livemode,
        q.text.as_ref().map(|t| (&t.words, t.prefix_last)),
        q.topic,
        q.level,
        q.language,
        q.kind,
        q.currency,
        q.min_price,
        q.max_price,
        q.min_rating,
        q.sort.name(),
    ])
    .to_string();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in canon.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

fn encode_cursor(fp: &str, key: &SortKey) -> String {
    let v = serde_json::json!([CURSOR_VERSION, fp, key.keys[0], key.keys[1], key.id]);
    URL_SAFE_NO_PAD.encode(v.to_string())
}

fn decode_cursor(s: &str, fp: &str) -> Result<SortKey> {
    let bad = || Error::invalid("cursor", "`cursor` is not a cursor this search returned");
    if s.len() > 400 {
        return Err(bad());
    }
    let bytes = URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).map_err(|_| bad())?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    let a = v.as_array().filter(|a| a.len() == 5).ok_or_else(bad)?;
    if a[0].as_i64() != Some(CURSOR_VERSION) {
        return Err(bad());
    }
    if a[1].as_str() != Some(fp) {
        return Err(Error::invalid(
            "cursor",
            "this cursor belongs to a search with other parameters: repeat them unchanged, or start again without a cursor",
        ));
    }
    let (k1, k2) = (a[2].as_i64().ok_or_else(bad)?, a[3].as_i64().ok_or_else(bad)?);
    let id = a[4].as_str().filter(|id| !id.is_empty() && id.len() <= 64).ok_or_else(bad)?;
    Ok(SortKey { keys: [k1, k2], id: id.to_string() })
}

/// One page of a search: the courses, the next page's cursor, and the
/// query (for a total).
async fn page(ctx: &Ctx, p: &SearchParams, livemode: bool) -> Result<(Vec<CourseRow>, Option<String>, SearchQuery)> {
    let (mut q, fp) = parse(p, livemode)?;
    if let Some(c) = &p.cursor {
        q.after = Some(decode_cursor(c, &fp)?);
    }
    let limit = q.limit;
    q.limit = limit + 1;
    let mut hits = store::search(&ctx.db, &q).await?;
    let has_more = hits.len() as i64 > limit;
    hits.truncate(limit as usize);
    let next_cursor = if has_more { hits.last().map(|h| encode_cursor(&fp, &h.key)) } else { None };
    q.limit = limit;
    Ok((hits.into_iter().map(|h| h.course).collect(), next_cursor, q))
}

/// A page of published courses of the actor's mode.
pub async fn search(ctx: &Ctx, actor: &Actor, p: &SearchParams) -> Result<SearchPage> {
    let include_total = match p.include_total.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(Error::invalid("include_total", "include_total is true or false")),
    };
    let (hits, next_cursor, q) = page(ctx, p, actor.livemode).await?;
    let total = if include_total { Some(store::count(&ctx.db, &q).await?) } else { None };
    let has_more = next_cursor.is_some();
    let data = render_all(ctx, hits).await?;
    Ok(SearchPage { object: "list", data, has_more, next_cursor, total })
}

/// A page of published courses as [`search`] finds them (`include_total`
/// is not read): the courses and the next page's cursor.
pub async fn run(ctx: &Ctx, p: &SearchParams, livemode: bool) -> Result<(Vec<Course>, Option<String>)> {
    let (rows, next, _) = page(ctx, p, livemode).await?;
    Ok((render_all(ctx, rows).await?, next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_belong_to_their_search() {
        let key = SortKey { keys: [-12, 7], id: "crs_0192f0c1e4b87c3a9d1f2b3c4d5e6f70".into() };
        let c = encode_cursor("00ff", &key);
        assert!(c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_'), "{c}");
        assert_eq!(decode_cursor(&c, "00ff").unwrap(), key);
        assert_eq!(decode_cursor(&c, "00fe").unwrap_err().param.as_deref(), Some("cursor"));
        for junk in ["", "!!", "bm90IGpzb24", "WzEsIjAwZmYiXQ"] {
            assert_eq!(decode_cursor(junk, "00ff").unwrap_err().param.as_deref(), Some("cursor"), "{junk}");
        }
    }
}
