//! A4 PDF rendering of invoices, receipts, credit notes and reports.
//!
//! Invoices, receipts, credit notes and statements: the caller supplies a [`Document`] whose strings are already formatted and translated (amounts, dates,
//! labels); this crate only lays them out and writes the PDF. Text is set in DejaVu Sans (regular and bold),
//! embedded as a subset holding just the glyphs the document uses, so Latin, Greek and Cyrillic names and the
//! common currency signs (€ £ ₹ ₽ R$ …) print on any viewer without installed fonts.
//!
//! Reports (session reports, revenue summaries, certificates): the caller supplies a [`Report`], a title
//! block followed by [`Block`]s — headings, paragraphs, key-figure tiles, tables, charts from
//! `bursar_charts` (drawn from the same geometry as their SVG) and QR codes — and calls [`render_report`].
//!
//! Output is deterministic: the same document always yields the same bytes (no timestamps or random ids).
//!
//! ```no_run
//! use bursar_pdf::{render, DocKind, Document, Labels, Party};
//!
//! let doc = Document {
//!     kind: DocKind::Invoice,
//!     title: "Invoice".into(),
//!     number: "INV-2026-000042".into(),
//!     status: None,
//!     meta: vec![("Issue date".into(), "23 Nov 2026".into())],
//!     seller: Party { name: "Acme GmbH".into(), ..Party::default() },
//!     buyer: Party { name: "Globex Ltd".into(), ..Party::default() },
//!     lines: vec![],
//!     tax_lines: vec![],
//!     totals: vec![],
//!     notes: vec![],
//!     footer: None,
//!     logo: None,
//!     labels: Labels::default(),
//! };
//! let pdf: Vec<u8> = render(&doc)?;
//! # Ok::<(), bursar_pdf::PdfError>(())
//! ```

mod canvas;
mod chart;
mod fonts;
mod layout;
mod logo;
mod qr;
mod report;
mod report_layout;

use pdf_writer::{Finish, Pdf, Rect, Ref, TextStr};

use crate::canvas::{Canvas, LOGO_NAME, PAGE_H, PAGE_W};
use crate::fonts::{Fonts, Weight};
use crate::logo::PreparedLogo;
pub use crate::report::{Align, Block, ColumnWidths, Report, ReportLabels};
pub use crate::report_layout::render_report;

/// What kind of document is rendered; recorded as the PDF's subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DocKind {
    Invoice,
    Receipt,
    CreditNote,
    /// A payee's statement (earnings and payouts of a period).
    Statement,
}

/// Encoding of the logo bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogoFormat {
    Png,
    Jpeg,
}

/// The seller's logo, drawn top left and scaled to fit a 40 mm × 20 mm box (aspect ratio kept).
///
/// PNG may be greyscale, RGB or palette based, with or without transparency, at any bit depth. JPEG must be
/// baseline or progressive with 8-bit greyscale, RGB or CMYK samples. At most 8192 pixels per side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logo {
    pub bytes: Vec<u8>,
    pub format: LogoFormat,
}

/// Seller or buyer as printed in the "From" / "Bill to" blocks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Party {
    pub name: String,
    pub address_lines: Vec<String>,
    /// Printed verbatim below the address, so it should carry its own label, e.g. "VAT ID: DE123456789".
    pub tax_id: Option<String>,
    pub email: Option<String>,
}

/// One row of the line-item table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Line {
    /// Wrapped to the width of the description column; `\n` forces a line break.
    pub description: String,
    /// Smaller grey text under the description, e.g. a service period, "Proration" or "20 % off".
    pub detail: Option<String>,
    pub quantity: String,
    pub unit_price: String,
    pub amount: String,
}

/// One row of the tax summary table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaxLine {
    /// E.g. "VAT 19 % (DE)".
    pub label: String,
    pub taxable: String,
    pub amount: String,
}

/// One row of the totals block; emphasized rows are set bold and larger with a rule above.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Total {
    pub label: String,
    pub amount: String,
    pub emphasized: bool,
}

/// Everything printed on an invoice, receipt or credit note. All strings are shown as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub kind: DocKind,
    /// "Invoice", "Receipt", "Credit note", translated by the caller.
    pub title: String,
    /// E.g. "INV-2026-000042".
    pub number: String,
    /// E.g. "Paid" or "Void", drawn as a rubber stamp. Known words for paid (green) and void / failed /
    /// uncollectible / overdue (red) in several languages pick the colour; anything else uses the accent
    /// colour.
    pub status: Option<String>,
    /// Label/value pairs listed under the number, e.g. ("Issue date", "23 Nov 2026"), ("Currency", "EUR").
    pub meta: Vec<(String, String)>,
    pub seller: Party,
    pub buyer: Party,
    pub lines: Vec<Line>,
    /// Shown as a tax summary table beside the totals when non-empty.
    pub tax_lines: Vec<TaxLine>,
    /// Subtotal, discount, tax, total, amount paid, amount due…, in the order given.
    pub totals: Vec<Total>,
    /// Paragraphs after the totals, e.g. reverse-charge wording or "Paid with Visa •••• 4242".
    pub notes: Vec<String>,
    /// Small text at the bottom of every page, next to the page number.
    pub footer: Option<String>,
    pub logo: Option<Logo>,
    pub labels: Labels,
}

/// Captions printed by the layout, translated by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Labels {
    pub bill_to: String,
    pub from: String,
    pub description: String,
    pub quantity: String,
    pub unit_price: String,
    pub amount: String,
    pub tax_summary: String,
    pub taxable: String,
    pub tax: String,
    /// Word before the page number: "Page 2 / 3".
    pub page: String,
}

impl Default for Labels {
    /// English captions.
    fn default() -> Self {
        Labels {
            bill_to: "Bill to".into(),
            from: "From".into(),
            description: "Description".into(),
            quantity: "Qty".into(),
            unit_price: "Unit price".into(),
            amount: "Amount".into(),
            tax_summary: "Tax summary".into(),
            taxable: "Taxable".into(),
            tax: "Tax".into(),
            page: "Page".into(),
        }
    }
}

/// Why a document could not be rendered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PdfError {
    /// The logo bytes are not a usable image of the declared format.
    #[error("logo: {0}")]
    Logo(String),
    /// The embedded font could not be read or subset.
    #[error("font: {0}")]
    Font(String),
    /// A chart of a report is invalid.
    #[error("chart: {0}")]
    Chart(#[from] bursar_charts::ChartError),
    /// A QR payload cannot be encoded (too long for the largest symbol).
    #[error("qr code: {0}")]
    Qr(String),
    /// A report table is inconsistent (a row longer than the header, unusable column widths).
    #[error("table: {0}")]
    Table(String),
}

/// Hands out consecutive object ids.
pub(crate) struct Refs(i32);

impl Refs {
    pub(crate) fn next(&mut self) -> Ref {
        self.0 += 1;
        Ref::new(self.0)
    }
}

/// Renders `doc` as an A4 PDF and returns the file's bytes.
pub fn render(doc: &Document) -> Result<Vec<u8>, PdfError> {
    let logo = doc.logo.as_ref().map(PreparedLogo::prepare).transpose()?;
    let canvas = Canvas::new(Fonts::new()?);
    let canvas = layout::compose(doc, canvas, logo.as_ref().map(|l| (l.width, l.height)));
    let title = format!("{} {}", doc.title, doc.number);
    let info = Info { title: title.trim(), author: Some(&doc.seller.name), subject: layout::subject(doc.kind) };
    write_pdf(canvas, logo.as_ref(), &info)
}

/// Document information written into the file.
pub(crate) struct Info<'a> {
    pub(crate) title: &'a str,
    pub(crate) author: Option<&'a str>,
    pub(crate) subject: &'a str,
}

/// Writes the composed pages, the subset fonts and the logo as a complete PDF file.
pub(crate) fn write_pdf(canvas: Canvas, logo: Option<&PreparedLogo>, info: &Info) -> Result<Vec<u8>, PdfError> {
    let (fonts, pages) = canvas.into_pages();

    let mut pdf = Pdf::new();
    let mut refs = Refs(0);
    let catalog_ref = refs.next();
    let tree_ref = refs.next();
    let info_ref = refs.next();

    let [regular_ref, bold_ref] = fonts.write(&mut pdf, &mut refs)?;
    let logo_ref = logo.map(|l| l.write(&mut pdf, &mut refs));

    let mut page_refs = Vec::with_capacity(pages.len());
    for content in &pages {
        let page_ref = refs.next();
        let content_ref = refs.next();
        page_refs.push(page_ref);
        let mut page = pdf.page(page_ref);
        page.media_box(Rect::new(0.0, 0.0, PAGE_W, PAGE_H));
        page.parent(tree_ref);
        page.contents(content_ref);
        let mut resources = page.resources();
        resources
            .fonts()
            .pair(Weight::Regular.resource_name(), regular_ref)
            .pair(Weight::Bold.resource_name(), bold_ref);
        if let Some(logo_ref) = logo_ref {
            resources.x_objects().pair(LOGO_NAME, logo_ref);
        }
        resources.finish();
        page.finish();
        let compressed = fonts::compress(content);
        pdf.stream(content_ref, &compressed).filter(pdf_writer::Filter::FlateDecode);
    }

    pdf.pages(tree_ref).kids(page_refs.iter().copied()).count(page_refs.len() as i32);
    pdf.catalog(catalog_ref).pages(tree_ref);
    let mut document_info = pdf.document_info(info_ref);
    document_info.title(TextStr(info.title));
    if let Some(author) = info.author {
        document_info.author(TextStr(author));
    }
    document_info.subject(TextStr(info.subject)).creator(TextStr("Bursar")).producer(TextStr("Bursar"));
    document_info.finish();
    Ok(pdf.finish())
}
