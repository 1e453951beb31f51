//! Searching and listing the published courses of the marketplace.
//!
//! Text matching is each backend's own full-text index (see the
//! `course_search` migration): FTS5 with `bm25` on SQLite, a weighted
//! `tsvector` with `ts_rank` on PostgreSQL. The user's text never reaches
//! either query language as written: it is cut into words (runs of letters
//! and digits), every word is quoted, and the words are joined with AND;
//! the last word also matches as a prefix when it is long enough and the
//! text does not end with a space.
//!
//! Pages are keyset pages: every sort is a list of integer keys followed by
//! the course id, and a page starts strictly after the keys of the last row
//! of the page before, so walking the pages never skips or repeats a row
//! (while the rows themselves do not change). Relevance is an integer too:
//! the backend's score scaled by 10⁹ and truncated.

use crate::db::{Backend, Db, DbError};
use crate::marketplace::CourseRow;
use sqlx::FromRow;

/// At most this many words of a query are used.
pub const MAX_QUERY_WORDS: usize = 16;

/// The shortest last word that also matches as a prefix.
pub const MIN_PREFIX_CHARS: usize = 3;

/// bm25 weights of the FTS5 columns, in their order: title, subtitle,
/// description, topics.
const BM25_WEIGHTS: &str = "10.0, 4.0, 1.0, 4.0";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchSort {
    /// Best text match first (needs a query).
    Relevance,
    /// Most recently published first.
    Newest,
    /// Highest average rating first, then most ratings; unrated last.
    Rating,
    /// Cheapest first in the search's currency.
    PriceAsc,
    /// Dearest first in the search's currency.
    PriceDesc,
    /// Most sales first.
    BestSelling,
}

impl SearchSort {
    pub fn parse(s: &str) -> Option<SearchSort> {
        Some(match s {
            "relevance" => SearchSort::Relevance,
            "newest" => SearchSort::Newest,
            "rating" => SearchSort::Rating,
            "price_asc" => SearchSort::PriceAsc,
            "price_desc" => SearchSort::PriceDesc,
            "best_selling" => SearchSort::BestSelling,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            SearchSort::Relevance => "relevance",
            SearchSort::Newest => "newest",
            SearchSort::Rating => "rating",
            SearchSort::PriceAsc => "price_asc",
            SearchSort::PriceDesc => "price_desc",
            SearchSort::BestSelling => "best_selling",
        }
    }

    /// Whether the sort is by price (and so needs a currency).
    pub fn by_price(self) -> bool {
        matches!(self, SearchSort::PriceAsc | SearchSort::PriceDesc)
    }

    fn ascending(self) -> bool {
        self == SearchSort::PriceAsc
    }
}

/// The words of a text query, ready for either backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextQuery {
    /// Lower-cased runs of letters and digits, at most [`MAX_QUERY_WORDS`].
    pub words: Vec<String>,
    /// Whether the last word also matches words it begins.
    pub prefix_last: bool,
}

impl TextQuery {
    /// Cuts user text into words; `None` when it has none.
    pub fn parse(text: &str) -> Option<TextQuery> {
        let words: Vec<String> = text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .take(MAX_QUERY_WORDS)
            .map(str::to_lowercase)
            .collect();
        let last = words.last()?;
        let ends_in_word = text.chars().next_back().is_some_and(char::is_alphanumeric);
        let all_used = text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).count() <= MAX_QUERY_WORDS;
        let prefix_last = ends_in_word && all_used && last.chars().count() >= MIN_PREFIX_CHARS;
        Some(TextQuery { words, prefix_last })
    }

    /// An FTS5 MATCH expression: every word a quoted string (so nothing
    /// in it is FTS5 syntax), implicitly ANDed; `*` after the last for a
    /// prefix.
    pub fn fts5(&self) -> String {
        let mut out = String::new();
        for (i, w) in self.words.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            out.push('"');
            out.push_str(&w.replace('"', "\"\""));
            out.push('"');
            if self.prefix_last && i + 1 == self.words.len() {
                out.push('*');
            }
        }
        out
    }

    /// A `to_tsquery` expression: every word a quoted lexeme, joined with
    /// `&`; `:*` after the last for a prefix.
    pub fn tsquery(&self) -> String {
        let mut out = String::new();
        for (i, w) in self.words.iter().enumerate() {
            if i > 0 {
                out.push_str(" & ");
            }
            out.push('\'');
            out.push_str(&w.replace('\\', "\\\\").replace('\'', "''"));
            out.push('\'');
            if self.prefix_last && i + 1 == self.words.len() {
                out.push_str(":*");
            }
        }
        out
    }
}

/// Where a page starts: the sort keys and id of the last row before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortKey {
    pub keys: [i64; 2],
    pub id: String,
}

/// What to search for. Only published courses of `livemode` are found.
#[derive(Debug, Clone)]
pub struct SearchQuery {
    pub livemode: bool,
    pub text: Option<TextQuery>,
    /// An exact topic from the course's `topics`.
    pub topic: Option<String>,
    pub level: Option<String>,
    pub language: Option<String>,
    /// `course` or `bundle`.
    pub kind: Option<String>,
    /// Only courses with a price in this currency; price filters and sorts
    /// are in it.
    pub currency: Option<String>,
    /// Minor units of `currency`, inclusive.
    pub min_price: Option<i64>,
    pub max_price: Option<i64>,
    /// Hundredths: 450 keeps courses whose average is at least 4.50
    /// (unrated courses are left out).
    pub min_rating: Option<i64>,
    pub sort: SearchSort,
    pub after: Option<SortKey>,
    pub limit: i64,
}

/// A course found, with the keys that place it in the sort.
#[derive(Debug, Clone)]
pub struct SearchHit {
    pub course: CourseRow,
    pub key: SortKey,
}

#[derive(FromRow)]
struct HitRow {
    #[sqlx(flatten)]
    course: CourseRow,
    k1: i64,
    k2: i64,
}

// The columns of `CourseRow`, as `courses c`.
const COLS: &str = "c.id, c.instructor_id, c.kind, c.title, c.subtitle, c.description, c.topics, c.level, \
    c.language, c.duration_minutes, c.thumbnail_key, c.materials, c.status, c.published_at, c.rating_sum, \
    c.rating_count, c.sales_count, c.created_at, c.updated_at";

/// The average rating as an integer key, `rating_sum * 10⁹ / rating_count`
/// truncated (nine decimals); -1 without ratings. The migration indexes
/// the same expression.
const RATING_KEY: &str = "(CASE WHEN c.rating_count > 0 THEN c.rating_sum * 1000000000 / c.rating_count ELSE -1 END)";

enum Arg {
    Int(i64),
    Text(String),
}

struct Sql {
    text: String,
    args: Vec<Arg>,
}

impl Sql {
    /// Binds a value and returns its placeholder.
    fn arg(&mut self, a: Arg) -> String {
        self.args.push(a);
        format!("${}", self.args.len())
    }

    /// The statement and its bound values, ready for `query_*_with`.
    fn finish(self) -> Result<(sqlx::AssertSqlSafe<String>, sqlx::any::AnyArguments), DbError> {
        use sqlx::Arguments;
        let mut args = sqlx::any::AnyArguments::default();
        for a in self.args {
            match a {
                Arg::Int(i) => args.add(i),
                Arg::Text(s) => args.add(s),
            }
            .map_err(|e| DbError::Other(e.to_string()))?;
        }
        Ok((sqlx::AssertSqlSafe(self.text), args))
    }
}

/// The parts of the statement the page and the count share.
struct Parts {
    /// `WITH …` (SQLite's text matches), or empty.
    cte: String,
    /// The tables and joins.
    from: String,
    /// ` WHERE …`.
    filters: String,
    /// The sort key expressions, in order (one or two).
    keys: Vec<String>,
    /// The course id column that ends the order.
    id: &'static str,
}

// The statements are shaped for SQLite's planner, which has no statistics
// to go on: every join is a `CROSS JOIN`, which keeps the tables in the
// order written, outermost first. Text matches
// (a materialized set, all of which are scored anyway) drive the query when
// there is text; otherwise a price sort walks `course_prices_amount` and the
// other sorts walk their `courses_…` index, so a page reads about as many
// rows as it returns. The keyset condition repeats its first key as a plain
// bound, which lets SQLite start the index walk at the cursor. PostgreSQL
// plans the same statements by its own statistics.
fn build(backend: Backend, q: &SearchQuery, sql: &mut Sql, with_keyset: bool) -> Parts {
    let livemode = sql.arg(Arg::Int(i64::from(q.livemode)));
    let mut cte = String::new();
    let mut from = String::from("courses c");
    let mut filters = format!(" WHERE c.livemode = {livemode} AND c.status = 'published'");
    let relevance = q.sort == SearchSort::Relevance;
    let mut score = "CAST(0 AS BIGINT)".to_string();
    let mut hits_drive = false;
    if let Some(t) = &q.text {
        match backend {
            Backend::Sqlite => {
                let m = sql.arg(Arg::Text(t.fts5()));
                // bm25 is lower for better matches; the key is higher.
                let s = if relevance {
                    format!("CAST(-bm25(courses_fts, {BM25_WEIGHTS}) * 1000000000 AS BIGINT)")
                } else {
                    "CAST(0 AS BIGINT)".into()
                };
                cte = format!(
                    "WITH hits AS MATERIALIZED (SELECT r.course_id AS id, {s} AS score FROM courses_fts \
                     CROSS JOIN course_search_rowids r WHERE r.rid = courses_fts.rowid AND courses_fts MATCH {m} \
                     AND r.livemode = {livemode} AND r.published = 1) "
                );
                from = "hits h CROSS JOIN courses c".into();
                hits_drive = true;
                filters.push_str(" AND c.id = h.id");
                score = "h.score".into();
            }
            Backend::Postgres => {
                let m = sql.arg(Arg::Text(t.tsquery()));
                let tsq = format!("to_tsquery('simple', {m})");
                filters.push_str(&format!(" AND c.search_tsv @@ {tsq}"));
                if relevance {
                    score =
                        format!("CAST(CAST(ts_rank(c.search_tsv, {tsq}) AS DOUBLE PRECISION) * 1000000000 AS BIGINT)");
                }
            }
        }
    }
    let price_drives = q.sort.by_price() && !hits_drive;
    if let Some(cur) = &q.currency {
        let p = sql.arg(Arg::Text(cur.clone()));
        if price_drives {
            from = "course_prices p CROSS JOIN courses c".into();
        } else {
            from.push_str(" CROSS JOIN course_prices p");
        }
        filters.push_str(&format!(" AND p.course_id = c.id AND p.currency = {p}"));
        if let Some(min) = q.min_price {
            let p = sql.arg(Arg::Int(min));
            filters.push_str(&format!(" AND p.amount >= {p}"));
        }
        if let Some(max) = q.max_price {
            let p = sql.arg(Arg::Int(max));
            filters.push_str(&format!(" AND p.amount <= {p}"));
        }
    }
    if let Some(t) = &q.topic {
        let p = sql.arg(Arg::Text(t.clone()));
        filters.push_str(&format!(" AND c.id IN (SELECT course_id FROM course_topics WHERE topic = {p})"));
    }
    for (col, v) in [("level", &q.level), ("language", &q.language), ("kind", &q.kind)] {
        if let Some(v) = v {
            let p = sql.arg(Arg::Text(v.clone()));
            filters.push_str(&format!(" AND c.{col} = {p}"));
        }
    }
    if let Some(r) = q.min_rating {
        let p = sql.arg(Arg::Int(r));
        filters.push_str(&format!(" AND c.rating_count > 0 AND c.rating_sum * 100 >= {p} * c.rating_count"));
    }
    let keys: Vec<String> = match q.sort {
        SearchSort::Relevance => vec![score],
        SearchSort::Newest => vec!["COALESCE(c.published_at, c.created_at)".into()],
        SearchSort::Rating => vec![RATING_KEY.into(), "c.rating_count".into()],
        // A price sort always has its currency (the caller checks).
        SearchSort::PriceAsc | SearchSort::PriceDesc => vec!["p.amount".into()],
        SearchSort::BestSelling => vec!["c.sales_count".into()],
    };
    // Equal to c.id; the price index holds it.
    let id = if price_drives { "p.course_id" } else { "c.id" };
    if with_keyset {
        if let Some(after) = &q.after {
            let op = if q.sort.ascending() { ">" } else { "<" };
            let mut values = Vec::new();
            for (i, _) in keys.iter().enumerate() {
                values.push(sql.arg(Arg::Int(after.keys[i])));
            }
            values.push(sql.arg(Arg::Text(after.id.clone())));
            filters.push_str(&format!(
                " AND {} {op}= {} AND ({}, {id}) {op} ({})",
                keys[0],
                values[0],
                keys.join(", "),
                values.join(", ")
            ));
        }
    }
    Parts { cte, from, filters, keys, id }
}

/// Whether the query filters on anything but its text.
fn filtered(q: &SearchQuery) -> bool {
    q.topic.is_some()
        || q.level.is_some()
        || q.language.is_some()
        || q.kind.is_some()
        || q.currency.is_some()
        || q.min_price.is_some()
        || q.max_price.is_some()
        || q.min_rating.is_some()
}

/// SQLite, text only, by relevance: the page is cut from the scored
/// matches alone (whose index rows say the mode and whether published),
/// and only its courses are read, instead of every match's.
async fn search_text_only(db: &Db, q: &SearchQuery, t: &TextQuery) -> Result<Vec<SearchHit>, DbError> {
    let mut sql = Sql { text: String::new(), args: Vec::new() };
    let m = sql.arg(Arg::Text(t.fts5()));
    let livemode = sql.arg(Arg::Int(i64::from(q.livemode)));
    let mut keyset = String::new();
    if let Some(after) = &q.after {
        let a = sql.arg(Arg::Int(after.keys[0]));
        let id = sql.arg(Arg::Text(after.id.clone()));
        keyset = format!(" WHERE score <= {a} AND (score, id) < ({a}, {id})");
    }
    let limit = sql.arg(Arg::Int(q.limit));
    sql.text = format!(
        "WITH hits AS MATERIALIZED (SELECT r.course_id AS id, \
         CAST(-bm25(courses_fts, {BM25_WEIGHTS}) * 1000000000 AS BIGINT) AS score FROM courses_fts \
         CROSS JOIN course_search_rowids r WHERE r.rid = courses_fts.rowid AND courses_fts MATCH {m} \
         AND r.livemode = {livemode} AND r.published = 1) \
         SELECT id, score FROM hits{keyset} ORDER BY score DESC, id DESC LIMIT {limit}"
    );
    let (text, args) = sql.finish()?;
    let query = sqlx::query_as_with::<_, (String, i64), _>(text, args);
    let page = query.fetch_all(db.reader()).await?;
    let ids: Vec<String> = page.iter().map(|(id, _)| id.clone()).collect();
    let mut rows: std::collections::HashMap<String, CourseRow> =
        crate::marketplace::courses_by_ids(db.reader(), q.livemode, &ids)
            .await?
            .into_iter()
            .map(|c| (c.id.clone(), c))
            .collect();
    // A course unpublished between the two reads is left out.
    Ok(page
        .into_iter()
        .filter_map(|(id, score)| {
            let course = rows.remove(&id).filter(|c| c.status == "published")?;
            Some(SearchHit { key: SortKey { keys: [score, 0], id }, course })
        })
        .collect())
}

/// One page of courses in the query's order: up to `limit` of them.
pub async fn search(db: &Db, q: &SearchQuery) -> Result<Vec<SearchHit>, DbError> {
    if let (Backend::Sqlite, Some(t), SearchSort::Relevance) = (db.backend(), &q.text, q.sort) {
        if !filtered(q) {
            return search_text_only(db, q, t).await;
        }
    }
    let mut sql = Sql { text: String::new(), args: Vec::new() };
    let Parts { cte, from, filters, keys, id } = build(db.backend(), q, &mut sql, true);
    let dir = if q.sort.ascending() { "ASC" } else { "DESC" };
    let limit = sql.arg(Arg::Int(q.limit));
    let k2 = keys.get(1).map(String::as_str).unwrap_or("CAST(0 AS BIGINT)");
    let order: Vec<String> = keys.iter().map(|k| format!("{k} {dir}")).collect();
    sql.text = format!(
        "{cte}SELECT {COLS}, {} AS k1, {k2} AS k2 FROM {from}{filters} ORDER BY {}, {id} {dir} LIMIT {limit}",
        keys[0],
        order.join(", ")
    );
    let (text, args) = sql.finish()?;
    let query = sqlx::query_as_with::<_, HitRow, _>(text, args);
    let rows = query.fetch_all(db.reader()).await?;
    Ok(rows
        .into_iter()
        .map(|r| SearchHit { key: SortKey { keys: [r.k1, r.k2], id: r.course.id.clone() }, course: r.course })
        .collect())
}

/// How many courses match the query (all pages).
pub async fn count(db: &Db, q: &SearchQuery) -> Result<i64, DbError> {
    let mut sql = Sql { text: String::new(), args: Vec::new() };
    let Parts { cte, from, filters, .. } = build(db.backend(), q, &mut sql, false);
    sql.text = format!("{cte}SELECT CAST(COUNT(*) AS BIGINT) FROM {from}{filters}");
    let (text, args) = sql.finish()?;
    let query = sqlx::query_scalar_with::<_, i64, _>(text, args);
    Ok(query.fetch_one(db.reader()).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_text_becomes_quoted_words() {
        let q = TextQuery::parse("Rust \"OR\" NEAR(x) -sql* col:title ^a").unwrap();
        assert_eq!(q.words, ["rust", "or", "near", "x", "sql", "col", "title", "a"]);
        assert!(!q.prefix_last, "a one-letter last word is not a prefix");
        assert_eq!(q.fts5(), "\"rust\" \"or\" \"near\" \"x\" \"sql\" \"col\" \"title\" \"a\"");
        assert_eq!(q.tsquery(), "'rust' & 'or' & 'near' & 'x' & 'sql' & 'col' & 'title' & 'a'");
        let q = TextQuery::parse("machine lear").unwrap();
        assert!(q.prefix_last);
        assert_eq!(q.fts5(), "\"machine\" \"lear\"*");
        assert_eq!(q.tsquery(), "'machine' & 'lear':*");
        let q = TextQuery::parse("machine lear ").unwrap();
        assert!(!q.prefix_last, "a finished word is matched whole");
        let q = TextQuery::parse("O'Reilly's café—Ünïcode").unwrap();
        assert_eq!(q.words, ["o", "reilly", "s", "café", "ünïcode"]);
        assert_eq!(TextQuery::parse("  -- * \" ' ( ) "), None);
        assert_eq!(TextQuery::parse(""), None);
        let many = (0..40).map(|i| format!("w{i}")).collect::<Vec<_>>().join(" ");
        let q = TextQuery::parse(&many).unwrap();
        assert_eq!(q.words.len(), MAX_QUERY_WORDS);
        assert!(!q.prefix_last, "the last word used is not the last typed");
    }

    #[test]
    fn sorts_round_trip() {
        for s in ["relevance", "newest", "rating", "price_asc", "price_desc", "best_selling"] {
            assert_eq!(SearchSort::parse(s).map(SearchSort::name), Some(s));
        }
        assert_eq!(SearchSort::parse("popular"), None);
    }
}
