//! Input: the response matrix, response times and cohorts, from CSV text or from memory.

use crate::error::{Error, Location, Result, Source};

/// The byte that marks a missing response in [`ResponseMatrix`]'s flat layout.
pub const MISSING: u8 = 255;
/// The value that marks a missing time in [`TimeMatrix`]'s flat layout.
pub const MISSING_TIME: u32 = u32::MAX;

/// Persons × items of 0/1 responses with missing values, stored person-major in one flat
/// `Vec<u8>` (one byte per cell, [`MISSING`] = not presented or not answered).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseMatrix {
    item_ids: Vec<String>,
    n_persons: usize,
    data: Vec<u8>,
}

impl ResponseMatrix {
    /// Builds a matrix from rows of `Some(0)`, `Some(1)` or `None` (missing).
    ///
    /// Every row must have one entry per item; item ids must be non-empty and distinct.
    pub fn new(item_ids: Vec<String>, rows: Vec<Vec<Option<u8>>>) -> Result<Self> {
        check_item_ids(&item_ids)?;
        let k = item_ids.len();
        let mut data = Vec::with_capacity(rows.len().saturating_mul(k));
        for (i, row) in rows.iter().enumerate() {
            if row.len() != k {
                return Err(Error::invalid(format!("person {} has {} responses, expected {k}", i + 1, row.len())));
            }
            for (j, v) in row.iter().enumerate() {
                data.push(match v {
                    None => MISSING,
                    Some(x @ (0 | 1)) => *x,
                    Some(x) => {
                        return Err(Error::invalid(format!(
                            "person {}, item {}: response {x} is not 0 or 1",
                            i + 1,
                            item_ids[j]
                        )))
                    }
                });
            }
        }
        Ok(ResponseMatrix { item_ids, n_persons: rows.len(), data })
    }

    /// Builds a matrix from a person-major flat vector of 0, 1 and [`MISSING`].
    pub fn from_flat(item_ids: Vec<String>, n_persons: usize, data: Vec<u8>) -> Result<Self> {
        check_item_ids(&item_ids)?;
        let k = item_ids.len();
        if n_persons.checked_mul(k) != Some(data.len()) {
            return Err(Error::invalid(format!("{} values do not fill {n_persons} persons × {k} items", data.len())));
        }
        if let Some(pos) = data.iter().position(|&v| v > 1 && v != MISSING) {
            return Err(Error::invalid(format!(
                "person {}, item {}: byte {} is not 0, 1 or MISSING",
                pos / k + 1,
                item_ids[pos % k],
                data[pos]
            )));
        }
        Ok(ResponseMatrix { item_ids, n_persons, data })
    }

    /// Parses a responses CSV: header = item ids, one row per person, values `0`, `1`,
    /// `NA` or empty (missing).
    pub fn from_csv(text: &str) -> Result<Self> {
        let table = parse_csv(text, Source::Responses)?;
        let mut data = Vec::with_capacity(table.rows.len() * table.header.len());
        for (r, (line, fields)) in table.rows.iter().enumerate() {
            for (c, field) in fields.iter().enumerate() {
                let v = match field.as_str() {
                    "" | "NA" => MISSING,
                    "0" => 0,
                    "1" => 1,
                    other => {
                        return Err(Error::parse(
                            Source::Responses,
                            Location {
                                line: *line,
                                row: Some(r + 1),
                                column: Some(c + 1),
                                item: Some(table.header[c].clone()),
                            },
                            format!("value '{other}' is not 0, 1, NA or empty"),
                        ))
                    }
                };
                data.push(v);
            }
        }
        let n = table.rows.len();
        check_item_ids(&table.header).map_err(|e| header_error(Source::Responses, e))?;
        Ok(ResponseMatrix { item_ids: table.header, n_persons: n, data })
    }

    /// Number of persons (rows).
    pub fn n_persons(&self) -> usize {
        self.n_persons
    }

    /// Number of items (columns).
    pub fn n_items(&self) -> usize {
        self.item_ids.len()
    }

    /// Item ids in column order.
    pub fn item_ids(&self) -> &[String] {
        &self.item_ids
    }

    /// The response of 0-based `person` to 0-based `item`; `None` if missing or out of range.
    pub fn get(&self, person: usize, item: usize) -> Option<u8> {
        if person >= self.n_persons || item >= self.n_items() {
            return None;
        }
        match self.data[person * self.n_items() + item] {
            MISSING => None,
            v => Some(v),
        }
    }

    /// One person's row in the flat layout (0, 1, [`MISSING`]); empty if out of range.
    pub fn row(&self, person: usize) -> &[u8] {
        let k = self.n_items();
        if person >= self.n_persons {
            return &[];
        }
        &self.data[person * k..(person + 1) * k]
    }

    /// The whole flat person-major layout.
    pub fn as_flat(&self) -> &[u8] {
        &self.data
    }

    /// True if any response is missing.
    pub fn has_missing(&self) -> bool {
        self.data.contains(&MISSING)
    }
}

/// Response times in integer milliseconds, same shape and item ids as the responses,
/// stored person-major with [`MISSING_TIME`] for missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeMatrix {
    item_ids: Vec<String>,
    n_persons: usize,
    data: Vec<u32>,
}

impl TimeMatrix {
    /// Builds a time matrix from rows of `Some(ms)` or `None`. `u32::MAX` is reserved.
    pub fn new(item_ids: Vec<String>, rows: Vec<Vec<Option<u32>>>) -> Result<Self> {
        check_item_ids(&item_ids)?;
        let k = item_ids.len();
        let mut data = Vec::with_capacity(rows.len().saturating_mul(k));
        for (i, row) in rows.iter().enumerate() {
            if row.len() != k {
                return Err(Error::invalid(format!("person {} has {} times, expected {k}", i + 1, row.len())));
            }
            for v in row {
                data.push(match v {
                    None => MISSING_TIME,
                    Some(MISSING_TIME) => {
                        return Err(Error::invalid(format!("person {}: time {} ms is too large", i + 1, MISSING_TIME)))
                    }
                    Some(t) => *t,
                });
            }
        }
        Ok(TimeMatrix { item_ids, n_persons: rows.len(), data })
    }

    /// Builds a time matrix from a person-major flat vector ([`MISSING_TIME`] = missing).
    pub fn from_flat(item_ids: Vec<String>, n_persons: usize, data: Vec<u32>) -> Result<Self> {
        check_item_ids(&item_ids)?;
        if n_persons.checked_mul(item_ids.len()) != Some(data.len()) {
            return Err(Error::invalid(format!(
                "{} times do not fill {n_persons} persons × {} items",
                data.len(),
                item_ids.len()
            )));
        }
        Ok(TimeMatrix { item_ids, n_persons, data })
    }

    /// Parses a response-time CSV: the responses' header, integer milliseconds ≥ 0, `NA` or
    /// empty for missing.
    pub fn from_csv(text: &str) -> Result<Self> {
        let table = parse_csv(text, Source::Times)?;
        let mut data = Vec::with_capacity(table.rows.len() * table.header.len());
        for (r, (line, fields)) in table.rows.iter().enumerate() {
            for (c, field) in fields.iter().enumerate() {
                let v = match field.as_str() {
                    "" | "NA" => MISSING_TIME,
                    other => match other.parse::<u32>() {
                        Ok(t) if t != MISSING_TIME => t,
                        _ => {
                            return Err(Error::parse(
                                Source::Times,
                                Location {
                                    line: *line,
                                    row: Some(r + 1),
                                    column: Some(c + 1),
                                    item: Some(table.header[c].clone()),
                                },
                                format!(
                                "value '{other}' is not a whole number of milliseconds (0 to 4294967294), NA or empty"
                            ),
                            ))
                        }
                    },
                };
                data.push(v);
            }
        }
        let n = table.rows.len();
        check_item_ids(&table.header).map_err(|e| header_error(Source::Times, e))?;
        Ok(TimeMatrix { item_ids: table.header, n_persons: n, data })
    }

    /// Number of persons (rows).
    pub fn n_persons(&self) -> usize {
        self.n_persons
    }

    /// Item ids in column order.
    pub fn item_ids(&self) -> &[String] {
        &self.item_ids
    }

    /// The time of 0-based `person` on 0-based `item`; `None` if missing or out of range.
    pub fn get(&self, person: usize, item: usize) -> Option<u32> {
        let k = self.item_ids.len();
        if person >= self.n_persons || item >= k {
            return None;
        }
        match self.data[person * k + item] {
            MISSING_TIME => None,
            v => Some(v),
        }
    }

    pub(crate) fn flat(&self) -> &[u32] {
        &self.data
    }
}

/// One optional cohort label per person (`None` = the person belongs to no cohort).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cohorts {
    labels: Vec<Option<String>>,
}

impl Cohorts {
    /// Builds cohorts from one label per person, in person order.
    pub fn new(labels: Vec<Option<String>>) -> Self {
        Cohorts { labels }
    }

    /// Parses a cohorts CSV: header `cohort`, one row per person; `NA` or empty = no cohort.
    pub fn from_csv(text: &str) -> Result<Self> {
        let table = parse_csv(text, Source::Cohorts)?;
        if table.header.len() != 1 || table.header[0] != "cohort" {
            return Err(Error::parse(
                Source::Cohorts,
                Location { line: 1, row: None, column: None, item: None },
                format!("the header must be the single column 'cohort', found '{}'", table.header.join(",")),
            ));
        }
        let labels = table
            .rows
            .into_iter()
            .map(|(_, mut fields)| {
                let v = fields.pop().unwrap_or_default();
                if v.is_empty() || v == "NA" {
                    None
                } else {
                    Some(v)
                }
            })
            .collect();
        Ok(Cohorts { labels })
    }

    /// Labels in person order.
    pub fn labels(&self) -> &[Option<String>] {
        &self.labels
    }
}

/// What [`crate::analyze`] reads: a named response matrix with optional times and cohorts.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Free-form name written to the report's `dataset` field.
    pub name: String,
    responses: ResponseMatrix,
    times: Option<TimeMatrix>,
    cohorts: Option<Cohorts>,
}

impl Dataset {
    /// A dataset of responses only.
    pub fn new(name: impl Into<String>, responses: ResponseMatrix) -> Self {
        Dataset { name: name.into(), responses, times: None, cohorts: None }
    }

    /// Adds response times; they must have the responses' item ids and number of persons.
    pub fn with_times(mut self, times: TimeMatrix) -> Result<Self> {
        if times.item_ids != self.responses.item_ids {
            return Err(Error::Mismatch("the response-time header differs from the responses header".into()));
        }
        if times.n_persons != self.responses.n_persons {
            return Err(Error::Mismatch(format!(
                "{} persons have times but {} have responses",
                times.n_persons, self.responses.n_persons
            )));
        }
        self.times = Some(times);
        Ok(self)
    }

    /// Adds cohorts; there must be one label per person.
    pub fn with_cohorts(mut self, cohorts: Cohorts) -> Result<Self> {
        if cohorts.labels.len() != self.responses.n_persons {
            return Err(Error::Mismatch(format!(
                "{} cohort rows for {} persons",
                cohorts.labels.len(),
                self.responses.n_persons
            )));
        }
        self.cohorts = Some(cohorts);
        Ok(self)
    }

    /// The responses.
    pub fn responses(&self) -> &ResponseMatrix {
        &self.responses
    }

    /// The response times, if any.
    pub fn times(&self) -> Option<&TimeMatrix> {
        self.times.as_ref()
    }

    /// The cohorts, if any.
    pub fn cohorts(&self) -> Option<&Cohorts> {
        self.cohorts.as_ref()
    }
}

fn check_item_ids(ids: &[String]) -> Result<()> {
    if ids.is_empty() {
        return Err(Error::invalid("there must be at least one item"));
    }
    let mut sorted: Vec<&str> = ids.iter().map(String::as_str).collect();
    if let Some(i) = ids.iter().position(|s| s.is_empty()) {
        return Err(Error::invalid(format!("item id {} is empty", i + 1)));
    }
    sorted.sort_unstable();
    if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
        return Err(Error::invalid(format!("item id '{}' appears more than once", w[0])));
    }
    Ok(())
}

fn header_error(source: Source, e: Error) -> Error {
    let message = match e {
        Error::Invalid(m) => m,
        other => other.to_string(),
    };
    Error::parse(source, Location { line: 1, row: None, column: None, item: None }, message)
}

struct Table {
    header: Vec<String>,
    /// (1-based line, fields) per data row.
    rows: Vec<(usize, Vec<String>)>,
}

/// Splits CSV text into a header and rows of equal width. Fields may be quoted with `"`
/// (a doubled `""` inside quotes is a quote); fields are trimmed; `\r\n` and `\n` both end a
/// line; a final newline does not start a row.
fn parse_csv(text: &str, source: Source) -> Result<Table> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines: Vec<&str> = text.split('\n').collect();
    if lines.last() == Some(&"") {
        lines.pop();
    }
    let mut iter = lines.into_iter().enumerate();
    let header_line = match iter.next() {
        Some((_, l)) => l.strip_suffix('\r').unwrap_or(l),
        None => {
            return Err(Error::parse(
                source,
                Location { line: 1, row: None, column: None, item: None },
                "the text is empty; a header line is required",
            ))
        }
    };
    let header = split_line(header_line)
        .map_err(|m| Error::parse(source, Location { line: 1, row: None, column: None, item: None }, m))?;
    let mut rows = Vec::new();
    for (idx, line) in iter {
        let line_no = idx + 1;
        let line = line.strip_suffix('\r').unwrap_or(line);
        let row_no = rows.len() + 1;
        let fields = split_line(line).map_err(|m| {
            Error::parse(source, Location { line: line_no, row: Some(row_no), column: None, item: None }, m)
        })?;
        if fields.len() != header.len() {
            return Err(Error::parse(
                source,
                Location { line: line_no, row: Some(row_no), column: None, item: None },
                format!("{} fields, but the header has {}", fields.len(), header.len()),
            ));
        }
        rows.push((line_no, fields));
    }
    Ok(Table { header, rows })
}

fn split_line(line: &str) -> std::result::Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ' ' || *c == '\t') {
            chars.next();
        }
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') => {
                        if chars.peek() == Some(&'"') {
                            chars.next();
                            field.push('"');
                        } else {
                            break;
                        }
                    }
                    Some(c) => field.push(c),
                    None => return Err(format!("field {} has an unterminated quote", fields.len() + 1)),
                }
            }
            while chars.peek().is_some_and(|c| *c == ' ' || *c == '\t') {
                chars.next();
            }
            match chars.next() {
                None => {
                    fields.push(field);
                    return Ok(fields);
                }
                Some(',') => fields.push(field),
                Some(c) => return Err(format!("unexpected '{c}' after the quoted field {}", fields.len() + 1)),
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        fields.push(field.trim().to_string());
                        return Ok(fields);
                    }
                    Some(',') => {
                        fields.push(field.trim().to_string());
                        break;
                    }
                    Some(c) => field.push(c),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_values_quotes_and_missing() {
        let m = ResponseMatrix::from_csv("\"A\",B, C\r\n1,0,NA\r\n0,,1\r\n").unwrap();
        assert_eq!(m.item_ids(), ["A", "B", "C"]);
        assert_eq!(m.n_persons(), 2);
        assert_eq!(m.get(0, 0), Some(1));
        assert_eq!(m.get(0, 2), None);
        assert_eq!(m.get(1, 1), None);
        assert_eq!(m.get(1, 2), Some(1));
        assert!(m.has_missing());
    }

    #[test]
    fn errors_name_line_row_and_column() {
        let e = ResponseMatrix::from_csv("a,b\n1,0\n0,2\n").unwrap_err();
        match &e {
            Error::Parse { source_kind: Source::Responses, location, .. } => {
                assert_eq!(location.line, 3);
                assert_eq!(location.row, Some(2));
                assert_eq!(location.column, Some(2));
                assert_eq!(location.item.as_deref(), Some("b"));
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(e.to_string().contains("line 3 (data row 2), column 2 (b)"), "{e}");
        let e = ResponseMatrix::from_csv("a,b\n1,0\n0\n").unwrap_err();
        assert!(e.to_string().contains("line 3 (data row 2)"), "{e}");
        assert!(ResponseMatrix::from_csv("").is_err());
        assert!(ResponseMatrix::from_csv("a,a\n1,0\n").is_err());
        assert!(ResponseMatrix::from_csv("a,\"b\n").is_err());
    }

    #[test]
    fn times_and_cohorts() {
        let t = TimeMatrix::from_csv("a,b\n1200,NA\n,35\n").unwrap();
        assert_eq!(t.get(0, 0), Some(1200));
        assert_eq!(t.get(0, 1), None);
        assert_eq!(t.get(1, 1), Some(35));
        let e = TimeMatrix::from_csv("a,b\n12,-3\n").unwrap_err();
        assert!(e.to_string().contains("column 2 (b)"), "{e}");
        assert!(TimeMatrix::from_csv("a\n1.5\n").is_err());
        let c = Cohorts::from_csv("cohort\nspring\n\nNA\nfall\n").unwrap();
        assert_eq!(c.labels(), [Some("spring".to_string()), None, None, Some("fall".to_string())]);
        assert!(Cohorts::from_csv("group\nx\n").is_err());
    }

    #[test]
    fn in_memory_constructors_validate() {
        let ids = vec!["x".to_string(), "y".to_string()];
        assert!(ResponseMatrix::new(ids.clone(), vec![vec![Some(1), Some(2)]]).is_err());
        assert!(ResponseMatrix::new(ids.clone(), vec![vec![Some(1)]]).is_err());
        assert!(ResponseMatrix::from_flat(ids.clone(), 1, vec![0, 7]).is_err());
        assert!(ResponseMatrix::from_flat(ids.clone(), 2, vec![0, 1]).is_err());
        let m = ResponseMatrix::new(ids.clone(), vec![vec![Some(1), None]]).unwrap();
        assert_eq!(m.row(0), [1, MISSING]);
        let d = Dataset::new("d", m.clone());
        assert!(d.clone().with_cohorts(Cohorts::new(vec![])).is_err());
        let t = TimeMatrix::new(ids, vec![vec![Some(5), None], vec![None, None]]).unwrap();
        assert!(d.with_times(t).is_err());
    }
}
