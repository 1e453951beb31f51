//! The chart's data in words (its text alternative) and as a table.

use crate::model::{Chart, ChartKind, Value};

/// The text alternative: the title, the subtitle and every value, e.g.
/// "Accuracy by topic: Algebra 82 %, Geometry 64 %." or, for several series,
/// "MRR movements. New: Jan €1,200, Feb €900; Churn: Jan −€400, Feb no value."
pub fn describe(chart: &Chart) -> String {
    let mut head = chart.title.trim().to_owned();
    if let Some(subtitle) = chart.subtitle.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        if head.is_empty() {
            head = subtitle.to_owned();
        } else {
            head = format!("{} ({subtitle})", head.trim_end_matches('.'));
        }
    }
    let head = head.trim_end_matches(['.', ':']).to_owned();
    if chart.series.is_empty() || chart.categories.is_empty() || !chart.has_data() && !any_not_finite(chart) {
        return finish(&head, &chart.words.no_data);
    }
    let series: Vec<String> = (0..chart.series.len())
        .map(|s| {
            let values: Vec<String> = (0..chart.categories.len())
                .map(|c| {
                    let value = match chart.value(s, c) {
                        Value::Finite(_) => chart.value_label(s, c),
                        Value::Missing => chart.words.no_value.clone(),
                        Value::NotFinite => chart.words.not_finite.clone(),
                    };
                    join_nonempty(chart.categories[c].trim(), &value, " ")
                })
                .collect();
            (s, values.join(", "))
        })
        .map(|(s, values)| {
            let name = chart.series[s].name.trim();
            let named = chart.series.len() > 1 || chart.kind == ChartKind::HeatMap;
            if named && !name.is_empty() {
                format!("{name}: {values}")
            } else {
                values
            }
        })
        .collect();
    let body = series.join("; ");
    if chart.series.len() == 1 && chart.kind != ChartKind::HeatMap {
        finish(&head, &body)
    } else if head.is_empty() {
        format!("{body}.")
    } else {
        format!("{head}. {body}.")
    }
}

fn any_not_finite(chart: &Chart) -> bool {
    chart.series.iter().flat_map(|s| s.values.iter()).any(|v| v.is_some_and(|v| !v.is_finite()))
}

/// "Head: body." or "Body." without a head.
fn finish(head: &str, body: &str) -> String {
    if head.is_empty() {
        format!("{body}.")
    } else {
        format!("{head}: {body}.")
    }
}

fn join_nonempty(a: &str, b: &str, sep: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_owned(),
        (_, true) => a.to_owned(),
        _ => format!("{a}{sep}{b}"),
    }
}

/// One cell of a data table: the text shown and the number behind it.
#[derive(Debug, Clone, PartialEq)]
pub struct TableCell {
    /// The value's label; empty where there is no finite value.
    pub text: String,
    pub value: Option<f64>,
}

/// One row of a data table, headed by its label.
#[derive(Debug, Clone, PartialEq)]
pub struct TableRow {
    pub label: String,
    pub cells: Vec<TableCell>,
}

/// A chart's data as rows, for an accessible HTML table or a CSV file next to the chart.
///
/// Bar and line charts give one row per category and one column per series; heat maps one row per
/// series (grid row) and one column per category.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub caption: String,
    /// Column headers, including the header of the row-label column first.
    pub columns: Vec<String>,
    pub rows: Vec<TableRow>,
}

/// The chart's data as a table. Short series read as missing values; extra values are ignored.
pub fn data_table(chart: &Chart) -> Table {
    let cell = |s: usize, c: usize| match chart.value(s, c) {
        Value::Finite(v) => TableCell { text: chart.value_label(s, c), value: Some(v) },
        _ => TableCell { text: String::new(), value: None },
    };
    let first = chart.category_title.clone().unwrap_or_default();
    if chart.kind == ChartKind::HeatMap {
        let mut columns = vec![first];
        columns.extend(chart.categories.iter().cloned());
        let rows = (0..chart.series.len())
            .map(|s| TableRow {
                label: chart.series[s].name.clone(),
                cells: (0..chart.categories.len()).map(|c| cell(s, c)).collect(),
            })
            .collect();
        return Table { caption: chart.title.clone(), columns, rows };
    }
    let mut columns = vec![first];
    columns.extend(chart.series.iter().enumerate().map(|(i, s)| {
        if s.name.trim().is_empty() && chart.series.len() == 1 {
            chart.value_axis.title.clone().unwrap_or_default()
        } else if s.name.trim().is_empty() {
            format!("{}", i + 1)
        } else {
            s.name.clone()
        }
    }));
    let rows = (0..chart.categories.len())
        .map(|c| TableRow {
            label: chart.categories[c].clone(),
            cells: (0..chart.series.len()).map(|s| cell(s, c)).collect(),
        })
        .collect();
    Table { caption: chart.title.clone(), columns, rows }
}

impl Table {
    /// RFC 4180 CSV (CRLF line ends, fields quoted where needed) with the formatted labels.
    pub fn to_csv(&self) -> String {
        self.csv(|cell| cell.text.clone())
    }

    /// CSV with plain numbers (shortest round-trip form, `.` as decimal separator) instead of labels, for
    /// spreadsheets.
    pub fn to_csv_values(&self) -> String {
        self.csv(|cell| cell.value.map(|v| format!("{v}")).unwrap_or_default())
    }

    fn csv(&self, text: impl Fn(&TableCell) -> String) -> String {
        let mut out = String::new();
        let line = |out: &mut String, fields: &mut dyn Iterator<Item = String>| {
            let fields: Vec<String> = fields.map(|f| csv_field(&f)).collect();
            out.push_str(&fields.join(","));
            out.push_str("\r\n");
        };
        line(&mut out, &mut self.columns.iter().cloned());
        for row in &self.rows {
            line(&mut out, &mut std::iter::once(row.label.clone()).chain(row.cells.iter().map(&text)));
        }
        out
    }

    /// An HTML `<table>` with a caption, column headers (`scope="col"`) and row headers (`scope="row"`);
    /// all text escaped.
    pub fn to_html(&self) -> String {
        let mut out = String::from("<table>");
        out.push_str(&format!("<caption>{}</caption><thead><tr>", crate::xml::escape(&self.caption)));
        for column in &self.columns {
            out.push_str(&format!("<th scope=\"col\">{}</th>", crate::xml::escape(column)));
        }
        out.push_str("</tr></thead><tbody>");
        for row in &self.rows {
            out.push_str(&format!("<tr><th scope=\"row\">{}</th>", crate::xml::escape(&row.label)));
            for cell in &row.cells {
                out.push_str(&format!("<td>{}</td>", crate::xml::escape(&cell.text)));
            }
            out.push_str("</tr>");
        }
        out.push_str("</tbody></table>");
        out
    }
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}
