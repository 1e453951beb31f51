//! Page composition: header, parties, line items, tax summary, totals, notes and footers.
//!
//! The document is laid out top to bottom with a cursor. Before each block is drawn its height is measured;
//! a block that does not fit in the space left above the footer moves to a new page, and the line-item
//! table repeats its column header on every page it continues on.

use crate::canvas::{Canvas, Rgb, Style, PAGE_H, PAGE_W};
use crate::fonts::Weight::{Bold, Regular};
use crate::{DocKind, Document, Line, Party, Total};

pub(crate) const MARGIN_X: f32 = 50.0;
pub(crate) const TOP: f32 = 52.0;
pub(crate) const RIGHT: f32 = PAGE_W - MARGIN_X;
pub(crate) const CONTENT_W: f32 = RIGHT - MARGIN_X;

/// Largest logo box: 40 mm wide, 20 mm high.
pub(crate) const LOGO_MAX_W: f32 = 113.4;
pub(crate) const LOGO_MAX_H: f32 = 56.7;

pub(crate) const INK: Rgb = Rgb::hex(0x1C2230);
pub(crate) const BODY: Rgb = Rgb::hex(0x3A4150);
pub(crate) const MUTED: Rgb = Rgb::hex(0x6E7582);
pub(crate) const HAIRLINE: Rgb = Rgb::hex(0xE2E5EA);
pub(crate) const ACCENT: Rgb = Rgb::hex(0x1F4E8C);
const STAMP_POSITIVE: Rgb = Rgb::hex(0x1E8A4C);
const STAMP_NEGATIVE: Rgb = Rgb::hex(0xC0392B);

pub(crate) const TITLE: Style = Style::new(Bold, 22.0, INK);
const WORDMARK: Style = Style::new(Bold, 17.0, ACCENT);
const NUMBER: Style = Style::new(Regular, 10.0, MUTED);
pub(crate) const META_LABEL: Style = Style::new(Regular, 8.5, MUTED);
pub(crate) const META_VALUE: Style = Style::new(Regular, 8.5, INK);
const SECTION: Style = Style::new(Bold, 7.0, MUTED).tracked(0.5);
pub(crate) const COLUMN: Style = Style::new(Bold, 7.0, MUTED).tracked(0.4);
const PARTY_NAME: Style = Style::new(Bold, 10.0, INK);
const PARTY_LINE: Style = Style::new(Regular, 9.0, BODY);
const PARTY_EXTRA: Style = Style::new(Regular, 8.5, MUTED);
pub(crate) const CELL: Style = Style::new(Regular, 9.5, INK);
const DETAIL: Style = Style::new(Regular, 8.0, MUTED);
const TAX_CELL: Style = Style::new(Regular, 8.5, BODY);
const TOTAL_LABEL: Style = Style::new(Regular, 9.5, BODY);
const TOTAL_AMOUNT: Style = Style::new(Regular, 9.5, INK);
const GRAND_TOTAL: Style = Style::new(Bold, 12.0, INK);
const NOTE: Style = Style::new(Regular, 8.5, BODY);
pub(crate) const FOOTER: Style = Style::new(Regular, 7.5, MUTED);
pub(crate) const RUNNING_HEAD: Style = Style::new(Bold, 8.5, INK);
const RUNNING_SELLER: Style = Style::new(Regular, 8.5, MUTED);

/// Height of one line of description text in the items table.
pub(crate) const CELL_LH: f32 = 13.0;
const DETAIL_LH: f32 = 11.0;
const ROW_PAD: f32 = 6.0;
const COLUMN_GAP: f32 = 18.0;
const TABLE_HEADER_H: f32 = 16.0;
/// Where content starts below the running head of a continuation page.
pub(crate) const CONTINUATION_TOP: f32 = TOP + 30.0;

/// Baseline of a line of text of `size` points set in a line box of height `lh` starting at `top`.
pub(crate) fn baseline(top: f32, lh: f32, size: f32) -> f32 {
    top + lh / 2.0 + size * 0.36
}

/// Splits `text` into lines no wider than `width`, breaking at spaces and, for words longer than a line,
/// between characters. Explicit line breaks are kept.
pub(crate) fn wrap(canvas: &Canvas, style: Style, text: &str, width: f32) -> Vec<String> {
    let mut lines = Vec::new();
    for paragraph in text.split('\n') {
        let paragraph = paragraph.trim_end_matches('\r');
        let mut line = String::new();
        for word in paragraph.split(' ').filter(|w| !w.is_empty()) {
            let candidate = if line.is_empty() { word.to_owned() } else { format!("{line} {word}") };
            if canvas.width(style, &candidate) <= width {
                line = candidate;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            if canvas.width(style, word) <= width {
                line = word.to_owned();
                continue;
            }
            for c in word.chars() {
                line.push(c);
                if canvas.width(style, &line) > width && line.chars().count() > 1 {
                    line.pop();
                    lines.push(std::mem::replace(&mut line, c.to_string()));
                }
            }
        }
        lines.push(line);
    }
    while lines.len() > 1 && lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    lines
}

/// Colour of the status stamp, chosen from the (possibly translated) status word.
fn stamp_colour(status: &str) -> Rgb {
    const POSITIVE: &[&str] = &[
        "paid",
        "paid in full",
        "settled",
        "succeeded",
        "refunded",
        "bezahlt",
        "beglichen",
        "erstattet",
        "payé",
        "payée",
        "réglé",
        "réglée",
        "remboursé",
        "pagado",
        "pagada",
        "pagato",
        "pago",
        "paga",
        "betaald",
        "betalt",
        "zapłacono",
        "opłacono",
        "zaplaceno",
        "maksettu",
        "оплачен",
        "оплачено",
        "оплачена",
        "сплачено",
        "भुगतान",
        "भुगतान किया गया",
    ];
    const NEGATIVE: &[&str] = &[
        "void",
        "voided",
        "uncollectible",
        "failed",
        "cancelled",
        "canceled",
        "overdue",
        "storniert",
        "ungültig",
        "uneinbringlich",
        "überfällig",
        "annulé",
        "annulée",
        "impayé",
        "anulado",
        "anulada",
        "annullato",
        "annullata",
        "vencido",
        "ongeldig",
        "geannuleerd",
        "unieważniono",
        "anulowano",
        "аннулирован",
        "аннулировано",
        "аннулирована",
        "отменён",
        "отменено",
        "просрочен",
        "просрочено",
        "недействителен",
        "रद्द",
    ];
    let key = status.trim().to_lowercase();
    if POSITIVE.contains(&key.as_str()) {
        STAMP_POSITIVE
    } else if NEGATIVE.contains(&key.as_str()) {
        STAMP_NEGATIVE
    } else {
        ACCENT
    }
}

/// Horizontal geometry of the line-item table.
struct Columns {
    desc_w: f32,
    qty_right: f32,
    unit_right: f32,
}

/// A measured table row: wrapped description and detail lines.
struct Row<'a> {
    line: &'a Line,
    description: Vec<String>,
    detail: Vec<String>,
}

impl Row<'_> {
    fn height(&self) -> f32 {
        let detail = if self.detail.is_empty() { 0.0 } else { self.detail.len() as f32 * DETAIL_LH + 1.0 };
        2.0 * ROW_PAD + self.description.len() as f32 * CELL_LH + detail
    }
}

struct Composer<'a> {
    canvas: Canvas,
    doc: &'a Document,
    /// Pixel size of the logo, when there is one.
    logo: Option<(u32, u32)>,
    /// Top of the free space on the current page.
    y: f32,
    /// Lowest point content may reach on a page, above the footer.
    bottom: f32,
    footer_lines: Vec<String>,
}

/// Lays out `doc` on as many pages as it needs.
pub(crate) fn compose(doc: &Document, canvas: Canvas, logo: Option<(u32, u32)>) -> Canvas {
    let footer_lines = match &doc.footer {
        Some(footer) if !footer.trim().is_empty() => wrap(&canvas, FOOTER, footer, CONTENT_W - 90.0),
        _ => Vec::new(),
    };
    let footer_top = footer_first_baseline(footer_lines.len()) - 16.0;
    let mut composer = Composer { canvas, doc, logo, y: TOP, bottom: footer_top - 18.0, footer_lines };
    composer.first_page();
    composer.items();
    composer.summary();
    composer.notes();
    composer.footers();
    composer.canvas
}

/// Baseline of the first footer line; the last one sits at a fixed distance from the page edge.
pub(crate) fn footer_first_baseline(lines: usize) -> f32 {
    PAGE_H - 32.0 - lines.saturating_sub(1) as f32 * 10.0
}

impl Composer<'_> {
    fn page_decoration(&mut self) {
        self.canvas.fill_rect(0.0, 0.0, PAGE_W, 4.0, ACCENT);
    }

    fn first_page(&mut self) {
        self.canvas.add_page();
        self.page_decoration();
        let left_bottom = self.brand();
        let right_bottom = self.title_block();
        self.y = left_bottom.max(right_bottom) + 30.0;
        self.parties();
    }

    /// Logo or the seller's name as a wordmark, top left; returns the bottom of what was drawn.
    fn brand(&mut self) -> f32 {
        if let Some((px_w, px_h)) = self.logo {
            let (px_w, px_h) = (px_w as f32, px_h as f32);
            let scale = (LOGO_MAX_W / px_w).min(LOGO_MAX_H / px_h);
            let (w, h) = (px_w * scale, px_h * scale);
            self.canvas.image(MARGIN_X, TOP - 4.0, w, h);
            return TOP - 4.0 + h;
        }
        let lines = wrap(&self.canvas, WORDMARK, &self.doc.seller.name, 250.0);
        let mut top = TOP - 4.0;
        for line in &lines {
            self.canvas.text(MARGIN_X, baseline(top, 21.0, WORDMARK.size), WORDMARK, line);
            top += 21.0;
        }
        top
    }

    /// Title, number and metadata, right-aligned at the top; returns the bottom of the block.
    fn title_block(&mut self) -> f32 {
        let doc = self.doc;
        let mut y = TOP + 12.0;
        self.canvas.text_right(RIGHT, y, TITLE, &doc.title);
        y += 18.0;
        self.canvas.text_right(RIGHT, y, NUMBER, &doc.number);
        if doc.meta.is_empty() {
            return y + 4.0;
        }
        y += 20.0;
        let label_w = doc.meta.iter().map(|(k, _)| self.canvas.width(META_LABEL, k)).fold(0.0, f32::max);
        let value_w = doc.meta.iter().map(|(_, v)| self.canvas.width(META_VALUE, v)).fold(0.0, f32::max);
        let block_w = (label_w + 16.0 + value_w).min(CONTENT_W * 0.55);
        let label_x = RIGHT - block_w;
        for (label, value) in &doc.meta {
            self.canvas.text(label_x, y, META_LABEL, label);
            self.canvas.text_right(RIGHT, y, META_VALUE, value);
            y += 13.5;
        }
        y - 9.0
    }

    fn parties(&mut self) {
        let doc = self.doc;
        let col_w = 165.0;
        let from_bottom = self.party(MARGIN_X, col_w, &doc.labels.from, &doc.seller);
        let to_bottom = self.party(MARGIN_X + col_w + 20.0, col_w, &doc.labels.bill_to, &doc.buyer);
        let mut bottom = from_bottom.max(to_bottom);
        if let Some(status) = doc.status.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            let text = status.to_uppercase();
            let colour = stamp_colour(status);
            let mut style = Style::new(Bold, 15.0, colour).tracked(1.6);
            let available = RIGHT - (MARGIN_X + 2.0 * col_w + 40.0) - 30.0;
            let width = self.canvas.width(style, &text);
            if width > available {
                style.size *= available / width;
                style.tracking *= available / width;
            }
            let cy = self.y + 34.0;
            let cx = RIGHT - available / 2.0 - 10.0;
            self.canvas.stamp(cx, cy, 10.0, style, &text);
            bottom = bottom.max(cy + 30.0);
        }
        self.y = bottom + 30.0;
    }

    /// One address block; returns its bottom.
    fn party(&mut self, x: f32, width: f32, label: &str, party: &Party) -> f32 {
        let mut y = self.y;
        self.canvas.text(x, y + 6.0, SECTION, &label.to_uppercase());
        y += 14.0;
        let mut lines: Vec<(Style, f32, String)> = Vec::new();
        for line in wrap(&self.canvas, PARTY_NAME, &party.name, width) {
            lines.push((PARTY_NAME, 14.0, line));
        }
        for address in &party.address_lines {
            for line in wrap(&self.canvas, PARTY_LINE, address, width) {
                lines.push((PARTY_LINE, 12.5, line));
            }
        }
        let extras = party.tax_id.iter().chain(party.email.iter());
        for (i, extra) in extras.enumerate() {
            for (j, line) in wrap(&self.canvas, PARTY_EXTRA, extra, width).into_iter().enumerate() {
                // A little air between the postal address and the identifiers.
                let lh = if i == 0 && j == 0 { 16.0 } else { 12.0 };
                lines.push((PARTY_EXTRA, lh, line));
            }
        }
        for (style, lh, text) in &lines {
            let top = if *lh > 14.5 { y + lh - 12.0 } else { y };
            self.canvas.text(x, baseline(top, 12.0, style.size), *style, text);
            y += lh;
        }
        y
    }

    /// Starts a continuation page with a running head naming the document.
    fn next_page(&mut self) {
        self.canvas.add_page();
        self.page_decoration();
        let doc = self.doc;
        let y = TOP;
        let head = format!("{} {}", doc.title, doc.number);
        self.canvas.text(MARGIN_X, y, RUNNING_HEAD, &head);
        let room = CONTENT_W - self.canvas.width(RUNNING_HEAD, &head) - 24.0;
        if self.canvas.width(RUNNING_SELLER, &doc.seller.name) <= room {
            self.canvas.text_right(RIGHT, y, RUNNING_SELLER, &doc.seller.name);
        }
        self.canvas.hline(MARGIN_X, RIGHT, y + 9.0, 0.5, HAIRLINE);
        self.y = CONTINUATION_TOP;
    }

    fn columns(&self) -> Columns {
        let doc = self.doc;
        let c = &self.canvas;
        let widest = |header: &str, values: &mut dyn Iterator<Item = &String>| {
            values.map(|v| c.width(CELL, v)).fold(c.width(COLUMN, &header.to_uppercase()), f32::max)
        };
        let qty_w = widest(&doc.labels.quantity, &mut doc.lines.iter().map(|l| &l.quantity)).max(24.0);
        let unit_w = widest(&doc.labels.unit_price, &mut doc.lines.iter().map(|l| &l.unit_price)).max(56.0);
        let amount_w = widest(&doc.labels.amount, &mut doc.lines.iter().map(|l| &l.amount)).max(56.0);
        let unit_right = RIGHT - amount_w - COLUMN_GAP;
        let qty_right = unit_right - unit_w - COLUMN_GAP;
        let desc_w = (qty_right - qty_w - COLUMN_GAP - MARGIN_X).max(CONTENT_W * 0.3);
        Columns { desc_w, qty_right, unit_right }
    }

    fn table_header(&mut self, cols: &Columns) {
        let labels = &self.doc.labels;
        let y = self.y + 8.0;
        self.canvas.text(MARGIN_X, y, COLUMN, &labels.description.to_uppercase());
        self.canvas.text_right(cols.qty_right, y, COLUMN, &labels.quantity.to_uppercase());
        self.canvas.text_right(cols.unit_right, y, COLUMN, &labels.unit_price.to_uppercase());
        self.canvas.text_right(RIGHT, y, COLUMN, &labels.amount.to_uppercase());
        self.canvas.hline(MARGIN_X, RIGHT, self.y + 15.0, 1.0, ACCENT);
        self.y += 16.0;
    }

    fn items(&mut self) {
        if self.doc.lines.is_empty() {
            return;
        }
        let cols = self.columns();
        let rows: Vec<Row> = self
            .doc
            .lines
            .iter()
            .map(|line| Row {
                line,
                description: wrap(&self.canvas, CELL, &line.description, cols.desc_w),
                detail: line
                    .detail
                    .as_deref()
                    .filter(|d| !d.trim().is_empty())
                    .map(|d| wrap(&self.canvas, DETAIL, d, cols.desc_w))
                    .unwrap_or_default(),
            })
            .collect();
        if !self.fits(TABLE_HEADER_H + rows[0].height()) {
            self.next_page();
        }
        self.table_header(&cols);
        for row in &rows {
            if !self.fits(row.height()) {
                self.next_page();
                self.table_header(&cols);
            }
            self.row(&cols, row);
        }
    }

    /// Whether a table row of height `h` may start at the cursor. A row taller than a whole page starts
    /// wherever a few of its lines fit and continues on the following pages.
    fn fits(&self, h: f32) -> bool {
        if self.y + h <= self.bottom {
            return true;
        }
        let page_capacity = self.bottom - (CONTINUATION_TOP + TABLE_HEADER_H);
        h > page_capacity && self.y + ROW_PAD + 3.0 * CELL_LH <= self.bottom
    }

    fn row(&mut self, cols: &Columns, row: &Row) {
        let mut top = self.y + ROW_PAD;
        let first = baseline(top, CELL_LH, CELL.size);
        self.canvas.text_right(cols.qty_right, first, CELL, &row.line.quantity);
        self.canvas.text_right(cols.unit_right, first, CELL, &row.line.unit_price);
        self.canvas.text_right(RIGHT, first, CELL, &row.line.amount);
        for text in &row.description {
            self.line_break_if_needed(cols, &mut top, CELL_LH);
            self.canvas.text(MARGIN_X, baseline(top, CELL_LH, CELL.size), CELL, text);
            top += CELL_LH;
        }
        if !row.detail.is_empty() {
            top += 1.0;
        }
        for text in &row.detail {
            self.line_break_if_needed(cols, &mut top, DETAIL_LH);
            self.canvas.text(MARGIN_X, baseline(top, DETAIL_LH, DETAIL.size), DETAIL, text);
            top += DETAIL_LH;
        }
        self.y = top + ROW_PAD;
        self.canvas.hline(MARGIN_X, RIGHT, self.y, 0.5, HAIRLINE);
    }

    /// Continues an oversized row on a new page, below a repeated table header, when its next line would
    /// not fit.
    fn line_break_if_needed(&mut self, cols: &Columns, top: &mut f32, lh: f32) {
        if *top + lh > self.bottom {
            self.next_page();
            self.table_header(cols);
            *top = self.y + ROW_PAD;
        }
    }

    fn totals_width(&self) -> f32 {
        let c = &self.canvas;
        self.doc
            .totals
            .iter()
            .map(|t| {
                let (label, amount) = total_styles(t);
                c.width(label, &t.label) + 30.0 + c.width(amount, &t.amount)
            })
            .fold(210.0, f32::max)
            .min(CONTENT_W)
    }

    fn totals_height(&self) -> f32 {
        self.doc.totals.iter().map(|t| if t.emphasized { 34.0 } else { 18.0 }).sum()
    }

    /// Tax summary (left) and totals (right), kept together on one page.
    fn summary(&mut self) {
        let doc = self.doc;
        if doc.totals.is_empty() && doc.tax_lines.is_empty() {
            return;
        }
        let totals_w = self.totals_width();
        let side_by_side = CONTENT_W - totals_w - 36.0 >= 220.0;
        let tax_w = if side_by_side { CONTENT_W - totals_w - 36.0 } else { CONTENT_W.min(360.0) };
        let tax_h = self.tax_summary_height(tax_w);
        let totals_h = self.totals_height();
        let needed = if side_by_side { tax_h.max(totals_h) } else { tax_h + totals_h + 24.0 };
        self.y += 16.0;
        if self.y + needed > self.bottom {
            self.next_page();
        }
        let top = self.y;
        let totals_bottom = self.totals(top, totals_w);
        let tax_top = if side_by_side { top } else { totals_bottom + 24.0 };
        let tax_bottom = self.tax_summary(tax_top, tax_w);
        self.y = totals_bottom.max(tax_bottom);
    }

    fn tax_columns(&self, width: f32) -> (f32, f32, f32) {
        let doc = self.doc;
        let c = &self.canvas;
        let tax_w = doc
            .tax_lines
            .iter()
            .map(|t| c.width(TAX_CELL, &t.amount))
            .fold(c.width(COLUMN, &doc.labels.tax.to_uppercase()), f32::max);
        let taxable_w = doc
            .tax_lines
            .iter()
            .map(|t| c.width(TAX_CELL, &t.taxable))
            .fold(c.width(COLUMN, &doc.labels.taxable.to_uppercase()), f32::max);
        let tax_right = MARGIN_X + width;
        let taxable_right = tax_right - tax_w - 14.0;
        let label_w = (taxable_right - taxable_w - 14.0 - MARGIN_X).max(width * 0.3);
        (label_w, taxable_right, tax_right)
    }

    fn tax_summary_height(&self, width: f32) -> f32 {
        if self.doc.tax_lines.is_empty() {
            return 0.0;
        }
        let (label_w, _, _) = self.tax_columns(width);
        let lines: usize =
            self.doc.tax_lines.iter().map(|t| wrap(&self.canvas, TAX_CELL, &t.label, label_w).len()).sum();
        22.0 + lines as f32 * 12.0 + self.doc.tax_lines.len() as f32 * 8.0
    }

    /// Draws the tax summary table; returns its bottom.
    fn tax_summary(&mut self, top: f32, width: f32) -> f32 {
        let doc = self.doc;
        if doc.tax_lines.is_empty() {
            return top;
        }
        let (label_w, taxable_right, tax_right) = self.tax_columns(width);
        let y = top + 8.0;
        self.canvas.text(MARGIN_X, y, COLUMN, &doc.labels.tax_summary.to_uppercase());
        self.canvas.text_right(taxable_right, y, COLUMN, &doc.labels.taxable.to_uppercase());
        self.canvas.text_right(tax_right, y, COLUMN, &doc.labels.tax.to_uppercase());
        self.canvas.hline(MARGIN_X, tax_right, top + 15.0, 0.75, MUTED);
        let mut y = top + 16.0;
        for tax in &doc.tax_lines {
            let lines = wrap(&self.canvas, TAX_CELL, &tax.label, label_w);
            let first = baseline(y + 4.0, 12.0, TAX_CELL.size);
            self.canvas.text_right(taxable_right, first, TAX_CELL, &tax.taxable);
            self.canvas.text_right(tax_right, first, TAX_CELL, &tax.amount);
            for (i, line) in lines.iter().enumerate() {
                self.canvas.text(MARGIN_X, first + i as f32 * 12.0, TAX_CELL, line);
            }
            y += 8.0 + lines.len() as f32 * 12.0;
            self.canvas.hline(MARGIN_X, tax_right, y, 0.5, HAIRLINE);
        }
        y
    }

    /// Draws the totals block against the right margin; returns its bottom.
    fn totals(&mut self, top: f32, width: f32) -> f32 {
        let x = RIGHT - width;
        let mut y = top;
        for (i, total) in self.doc.totals.iter().enumerate() {
            let (label_style, amount_style) = total_styles(total);
            if total.emphasized {
                y += 6.0;
                if i > 0 {
                    self.canvas.hline(x, RIGHT, y, 1.0, INK);
                }
                let base = baseline(y + 4.0, 20.0, amount_style.size);
                self.canvas.text(x, base, label_style, &total.label);
                self.canvas.text_right(RIGHT, base, amount_style, &total.amount);
                y += 28.0;
            } else {
                let base = baseline(y, 18.0, amount_style.size);
                self.canvas.text(x, base, label_style, &total.label);
                self.canvas.text_right(RIGHT, base, amount_style, &total.amount);
                y += 18.0;
            }
        }
        y
    }

    fn notes(&mut self) {
        let notes: Vec<&String> = self.doc.notes.iter().filter(|n| !n.trim().is_empty()).collect();
        if notes.is_empty() {
            return;
        }
        self.y += 26.0;
        let width = CONTENT_W * 0.78;
        for (i, note) in notes.into_iter().enumerate() {
            if i > 0 {
                self.y += 6.0;
            }
            for line in wrap(&self.canvas, NOTE, note, width) {
                if self.y + 12.5 > self.bottom {
                    self.next_page();
                }
                self.canvas.text(MARGIN_X, baseline(self.y, 12.5, NOTE.size), NOTE, &line);
                self.y += 12.5;
            }
        }
    }

    /// Footer text and "Page N / M" on every page, drawn once the page count is known.
    fn footers(&mut self) {
        let pages = self.canvas.page_count();
        let first = footer_first_baseline(self.footer_lines.len());
        let lines = std::mem::take(&mut self.footer_lines);
        let label = &self.doc.labels.page;
        for page in 0..pages {
            self.canvas.select_page(page);
            self.canvas.hline(MARGIN_X, RIGHT, first - 13.0, 0.5, HAIRLINE);
            for (i, line) in lines.iter().enumerate() {
                self.canvas.text(MARGIN_X, first + i as f32 * 10.0, FOOTER, line);
            }
            let number = format!("{label} {} / {pages}", page + 1);
            self.canvas.text_right(RIGHT, first, FOOTER, number.trim_start());
        }
    }
}

fn total_styles(total: &Total) -> (Style, Style) {
    if total.emphasized {
        (GRAND_TOTAL, GRAND_TOTAL)
    } else {
        (TOTAL_LABEL, TOTAL_AMOUNT)
    }
}

/// Document subject written into the file's metadata.
pub(crate) fn subject(kind: DocKind) -> &'static str {
    match kind {
        DocKind::Invoice => "Invoice",
        DocKind::Receipt => "Receipt",
        DocKind::CreditNote => "Credit note",
        DocKind::Statement => "Statement",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fonts::Fonts;

    fn canvas() -> Canvas {
        Canvas::new(Fonts::new().unwrap())
    }

    #[test]
    fn wrap_keeps_every_word_and_respects_the_width() {
        let c = canvas();
        let text = "Priority support with a named account manager, four-hour response time and quarterly reviews";
        let lines = wrap(&c, CELL, text, 150.0);
        assert!(lines.len() >= 3, "{lines:?}");
        assert!(lines.iter().all(|l| c.width(CELL, l) <= 150.0), "{lines:?}");
        assert_eq!(lines.join(" "), text);
    }

    #[test]
    fn wrap_breaks_overlong_words_and_honours_newlines() {
        let c = canvas();
        let word = "Donaudampfschifffahrtsgesellschaftskapitänsmütze";
        let lines = wrap(&c, CELL, &format!("{word}\nzweite Zeile"), 80.0);
        assert!(lines.len() >= 4, "{lines:?}");
        assert!(lines.iter().all(|l| c.width(CELL, l) <= 80.0), "{lines:?}");
        assert_eq!(lines.last().unwrap(), "zweite Zeile");
        assert_eq!(lines[..lines.len() - 1].concat(), word);
    }

    #[test]
    fn wrap_of_empty_text_is_one_empty_line() {
        assert_eq!(wrap(&canvas(), CELL, "", 100.0), vec![String::new()]);
    }

    #[test]
    fn digits_have_equal_advances_so_amount_columns_line_up() {
        let c = canvas();
        for style in [CELL, GRAND_TOTAL] {
            let zero = c.width(style, "0");
            assert!(zero > 0.0);
            for d in '1'..='9' {
                assert!((c.width(style, &d.to_string()) - zero).abs() < 1e-3, "digit {d} differs");
            }
            assert!((c.width(style, "€1,384.67") - c.width(style, "€9,999.99")).abs() < 1e-3);
        }
        assert!(c.width(CELL, "WWW") > c.width(CELL, "iii"));
        assert!(c.width(GRAND_TOTAL, "Total") > c.width(CELL, "Total"));
    }

    #[test]
    fn stamp_colour_follows_the_status_word() {
        assert_eq!(stamp_colour("Paid"), STAMP_POSITIVE);
        assert_eq!(stamp_colour(" ОПЛАЧЕНО "), STAMP_POSITIVE);
        assert_eq!(stamp_colour("Void"), STAMP_NEGATIVE);
        assert_eq!(stamp_colour("Storniert"), STAMP_NEGATIVE);
        assert_eq!(stamp_colour("Draft"), ACCENT);
    }
}
