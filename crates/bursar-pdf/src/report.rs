//! General reports: a title block followed by headings, paragraphs, key figures, tables, charts and QR
//! codes, flowed over as many A4 pages as they need.

use crate::Logo;

/// Horizontal alignment of a table column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Align {
    Left,
    Center,
    Right,
}

/// How the width of a table is shared among its columns.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnWidths {
    /// From the content: every column gets room for its longest word, the rest is shared by how much
    /// text each column holds.
    Auto,
    /// Shares of the text width, one per column; they are scaled to add up to the full width.
    Fractions(Vec<f32>),
}

/// One piece of a report, laid out top to bottom.
// A report holds a handful of blocks, so the size of the chart variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    /// A section heading; kept on the same page as the start of what follows it.
    Heading(String),
    /// Body text, wrapped to the text width; `\n` forces a line break.
    Paragraph(String),
    /// (label, value) pairs drawn as tiles, up to four in a row, e.g. ("MRR", "€12,400").
    KeyFigures(Vec<(String, String)>),
    /// A table whose cells wrap; the header row is repeated on every page the table continues on.
    /// Rows may be shorter than `columns` (the rest is blank) but not longer.
    Table { columns: Vec<(String, Align)>, rows: Vec<Vec<String>>, widths: ColumnWidths },
    /// A chart at the full text width (scaled down if it would be taller than a page).
    Chart(bursar_charts::Chart),
    /// A QR code of `payload` (e.g. a certificate verification URL) with an optional caption beside it.
    Qr { payload: String, caption: Option<String> },
}

/// Captions the report layout prints itself, translated by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportLabels {
    /// Word before the page number: "Page 2 / 3".
    pub page: String,
}

impl Default for ReportLabels {
    fn default() -> Self {
        ReportLabels { page: "Page".into() }
    }
}

/// A report, e.g. a learner's session report, a revenue summary or a completion certificate.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub title: String,
    pub subtitle: Option<String>,
    /// Label/value pairs under the title, e.g. ("Period", "1–30 Nov 2026").
    pub meta: Vec<(String, String)>,
    pub blocks: Vec<Block>,
    /// Small text at the bottom of every page, next to the page number.
    pub footer: Option<String>,
    /// Drawn top right on the first page, scaled to fit 40 mm × 20 mm.
    pub logo: Option<Logo>,
    pub labels: ReportLabels,
}
