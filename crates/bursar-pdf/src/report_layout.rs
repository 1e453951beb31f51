//! Page composition of reports: a title block, then each block in turn with a cursor. A block that does
//! not fit in the space left above the footer moves to the next page; paragraphs and tables continue
//! line by line, tables below a repeated header row.

use crate::canvas::{Canvas, Rgb, Style, PAGE_W};
use crate::fonts::Fonts;
use crate::fonts::Weight::{Bold, Regular};
use crate::layout::{
    baseline, footer_first_baseline, wrap, ACCENT, BODY, CELL, CELL_LH, COLUMN, CONTENT_W, CONTINUATION_TOP, FOOTER,
    HAIRLINE, INK, LOGO_MAX_H, LOGO_MAX_W, MARGIN_X, META_LABEL, META_VALUE, MUTED, RIGHT, RUNNING_HEAD, TITLE, TOP,
};
use crate::logo::PreparedLogo;
use crate::qr::{self, QrMatrix, QUIET_ZONE};
use crate::report::{Align, Block, ColumnWidths, Report};
use crate::{write_pdf, Info, PdfError};

const SUBTITLE: Style = Style::new(Regular, 12.0, MUTED);
const HEADING: Style = Style::new(Bold, 14.0, INK);
const PARAGRAPH: Style = Style::new(Regular, 10.0, BODY);
const FIGURE_VALUE: Style = Style::new(Bold, 18.0, INK);
const FIGURE_LABEL: Style = Style::new(Regular, 8.5, MUTED);
const CAPTION: Style = Style::new(Regular, 9.5, BODY);
const TILE: Rgb = Rgb::hex(0xF3F5F8);

const TITLE_LH: f32 = 27.0;
const HEADING_LH: f32 = 18.0;
const PARAGRAPH_LH: f32 = 14.5;
const HEADER_LH: f32 = 9.5;
const CAPTION_LH: f32 = 13.0;
const FIGURE_LABEL_LH: f32 = 11.0;
const BLOCK_GAP: f32 = 14.0;
const CELL_PAD: f32 = 5.0;
/// Horizontal space between two table columns.
const COLUMN_GAP: f32 = 12.0;
const TILE_GAP: f32 = 10.0;
const TILE_PAD: f32 = 10.0;
/// Side of the square holding a QR symbol and its quiet zone.
const QR_SIDE: f32 = 96.0;
/// Room a heading needs below it on its page, so that it does not end up alone at the bottom.
const KEEP_WITH_NEXT: f32 = 48.0;

/// Content of a block made ready before layout, so that every error surfaces before drawing starts.
enum Prepared<'a> {
    Block(&'a Block),
    Chart(bursar_charts::Scene),
    Qr(QrMatrix, Option<&'a str>),
}

fn prepare(block: &Block) -> Result<Prepared<'_>, PdfError> {
    match block {
        Block::Chart(chart) => Ok(Prepared::Chart(bursar_charts::layout(chart)?)),
        Block::Qr { payload, caption } => Ok(Prepared::Qr(QrMatrix::encode(payload)?, caption.as_deref())),
        Block::Table { columns, rows, widths } => {
            if let Some((index, row)) = rows.iter().enumerate().find(|(_, r)| r.len() > columns.len()) {
                return Err(PdfError::Table(format!(
                    "row {index} has {} cells for {} columns",
                    row.len(),
                    columns.len()
                )));
            }
            if let ColumnWidths::Fractions(fractions) = widths {
                if fractions.len() != columns.len() {
                    return Err(PdfError::Table(format!(
                        "{} column widths for {} columns",
                        fractions.len(),
                        columns.len()
                    )));
                }
                let valid = fractions.iter().all(|f| f.is_finite() && *f >= 0.0);
                if !valid || fractions.iter().sum::<f32>() <= 0.0 {
                    return Err(PdfError::Table("column widths must be non-negative with a positive sum".into()));
                }
            }
            Ok(Prepared::Block(block))
        }
        other => Ok(Prepared::Block(other)),
    }
}

/// Renders `report` as an A4 PDF and returns the file's bytes. The same report always gives the same
/// bytes.
pub fn render_report(report: &Report) -> Result<Vec<u8>, PdfError> {
    let logo = report.logo.as_ref().map(PreparedLogo::prepare).transpose()?;
    let blocks = report.blocks.iter().map(prepare).collect::<Result<Vec<_>, _>>()?;
    let canvas = Canvas::new(Fonts::new()?);
    let canvas = compose(report, &blocks, canvas, logo.as_ref().map(|l| (l.width, l.height)));
    let info = Info { title: report.title.trim(), author: None, subject: "Report" };
    write_pdf(canvas, logo.as_ref(), &info)
}

struct Composer<'a> {
    canvas: Canvas,
    report: &'a Report,
    y: f32,
    bottom: f32,
    footer_lines: Vec<String>,
    /// Nothing has been drawn on the current page below its head yet.
    at_top: bool,
    /// The previous block was a heading: the next one follows closely.
    after_heading: bool,
}

/// Lays out the report on as many pages as it needs.
fn compose(report: &Report, blocks: &[Prepared], canvas: Canvas, logo: Option<(u32, u32)>) -> Canvas {
    let footer_lines = match &report.footer {
        Some(footer) if !footer.trim().is_empty() => wrap(&canvas, FOOTER, footer, CONTENT_W - 90.0),
        _ => Vec::new(),
    };
    let bottom = footer_first_baseline(footer_lines.len()) - 16.0 - 18.0;
    let mut c = Composer { canvas, report, y: TOP, bottom, footer_lines, at_top: true, after_heading: false };
    c.first_page(logo);
    for (i, block) in blocks.iter().enumerate() {
        match block {
            Prepared::Block(Block::Heading(text)) => {
                let next = blocks.get(i + 1).map_or(0.0, |b| c.lead_height(b));
                c.heading(text, next);
            }
            Prepared::Block(Block::Paragraph(text)) => c.paragraph(text),
            Prepared::Block(Block::KeyFigures(figures)) => c.key_figures(figures),
            Prepared::Block(Block::Table { columns, rows, widths }) => c.table(columns, rows, widths),
            Prepared::Block(Block::Chart(_) | Block::Qr { .. }) => {}
            Prepared::Chart(scene) => c.chart(scene),
            Prepared::Qr(matrix, caption) => c.qr(matrix, *caption),
        }
    }
    c.footers();
    c.canvas
}

impl Composer<'_> {
    fn decoration(&mut self) {
        self.canvas.fill_rect(0.0, 0.0, PAGE_W, 4.0, ACCENT);
    }

    fn first_page(&mut self, logo: Option<(u32, u32)>) {
        self.canvas.add_page();
        self.decoration();
        let report = self.report;
        let mut title_w = CONTENT_W;
        let mut logo_bottom = TOP;
        if let Some((px_w, px_h)) = logo {
            let (px_w, px_h) = (px_w as f32, px_h as f32);
            let scale = (LOGO_MAX_W / px_w).min(LOGO_MAX_H / px_h);
            let (w, h) = (px_w * scale, px_h * scale);
            self.canvas.image(RIGHT - w, TOP - 4.0, w, h);
            title_w -= w + 20.0;
            logo_bottom = TOP - 4.0 + h;
        }
        let mut y = TOP - 4.0;
        for line in wrap(&self.canvas, TITLE, &report.title, title_w) {
            self.canvas.text(MARGIN_X, y + 21.0, TITLE, &line);
            y += TITLE_LH;
        }
        if let Some(subtitle) = report.subtitle.as_deref().filter(|s| !s.trim().is_empty()) {
            for line in wrap(&self.canvas, SUBTITLE, subtitle, title_w) {
                self.canvas.text(MARGIN_X, y + 12.0, SUBTITLE, &line);
                y += 16.0;
            }
        }
        if !report.meta.is_empty() {
            y += 8.0;
            let label_w = report.meta.iter().map(|(k, _)| self.canvas.width(META_LABEL, k)).fold(0.0, f32::max);
            let label_w = label_w.min(CONTENT_W * 0.4);
            let value_x = MARGIN_X + label_w + 16.0;
            for (label, value) in &report.meta {
                let labels = wrap(&self.canvas, META_LABEL, label, label_w);
                let values = wrap(&self.canvas, META_VALUE, value, RIGHT - value_x);
                for (i, line) in labels.iter().enumerate() {
                    self.canvas.text(MARGIN_X, y + 9.0 + i as f32 * 12.0, META_LABEL, line);
                }
                for (i, line) in values.iter().enumerate() {
                    self.canvas.text(value_x, y + 9.0 + i as f32 * 12.0, META_VALUE, line);
                }
                y += labels.len().max(values.len()) as f32 * 12.0 + 1.5;
            }
        }
        self.y = y.max(logo_bottom) + 12.0;
        self.canvas.hline(MARGIN_X, RIGHT, self.y, 0.5, HAIRLINE);
        self.y += 18.0;
        self.at_top = true;
    }

    fn next_page(&mut self) {
        self.canvas.add_page();
        self.decoration();
        let title = wrap(&self.canvas, RUNNING_HEAD, &self.report.title, CONTENT_W).remove(0);
        self.canvas.text(MARGIN_X, TOP, RUNNING_HEAD, &title);
        self.canvas.hline(MARGIN_X, RIGHT, TOP + 9.0, 0.5, HAIRLINE);
        self.y = CONTINUATION_TOP;
        self.at_top = true;
    }

    /// Space before a block; none at the top of a page, little after a heading.
    fn space(&mut self, gap: f32) {
        if !self.at_top {
            self.y += if self.after_heading { 4.0 } else { gap };
        }
        self.after_heading = false;
    }

    /// Moves to a new page unless `h` fits below the cursor (or a new page would give no more room).
    fn ensure(&mut self, h: f32) {
        if self.y + h > self.bottom && self.y > CONTINUATION_TOP {
            self.next_page();
        }
    }

    /// Height of the part of a block that should share a page with the heading before it.
    fn lead_height(&self, block: &Prepared) -> f32 {
        let capacity = self.bottom - CONTINUATION_TOP;
        let lead = match block {
            Prepared::Chart(scene) => (scene.height / scene.width) as f32 * CONTENT_W,
            Prepared::Qr(..) => QR_SIDE,
            Prepared::Block(Block::KeyFigures(_)) => 2.0 * TILE_PAD + FIGURE_VALUE.size * 1.15 + 4.0 + FIGURE_LABEL_LH,
            Prepared::Block(Block::Table { .. }) => 2.0 * HEADER_LH + 8.0 + 2.0 * (CELL_LH + 2.0 * CELL_PAD),
            _ => KEEP_WITH_NEXT,
        };
        lead.min(capacity * 0.5).max(KEEP_WITH_NEXT) + BLOCK_GAP
    }

    fn heading(&mut self, text: &str, keep_with_next: f32) {
        let lines = wrap(&self.canvas, HEADING, text, CONTENT_W);
        self.space(BLOCK_GAP + 8.0);
        self.ensure(lines.len() as f32 * HEADING_LH + keep_with_next);
        for line in &lines {
            self.canvas.text(MARGIN_X, baseline(self.y, HEADING_LH, HEADING.size), HEADING, line);
            self.y += HEADING_LH;
        }
        self.at_top = false;
        self.after_heading = true;
    }

    fn paragraph(&mut self, text: &str) {
        self.space(BLOCK_GAP * 0.7);
        for line in wrap(&self.canvas, PARAGRAPH, text, CONTENT_W) {
            if self.y + PARAGRAPH_LH > self.bottom {
                self.next_page();
            }
            self.canvas.text(MARGIN_X, baseline(self.y, PARAGRAPH_LH, PARAGRAPH.size), PARAGRAPH, &line);
            self.y += PARAGRAPH_LH;
            self.at_top = false;
        }
    }

    fn key_figures(&mut self, figures: &[(String, String)]) {
        if figures.is_empty() {
            return;
        }
        self.space(BLOCK_GAP);
        let n = figures.len();
        // Up to four tiles a row; six and nine make even rows of three.
        let per_row = match n {
            1..=4 => n,
            6 | 9 => 3,
            _ => 4,
        };
        let tile_w = (CONTENT_W - TILE_GAP * (per_row - 1) as f32) / per_row as f32;
        let inner = tile_w - 2.0 * TILE_PAD - 3.0;
        for (row, chunk) in figures.chunks(per_row).enumerate() {
            let tiles: Vec<(Style, Vec<String>, &str)> = chunk
                .iter()
                .map(|(label, value)| {
                    let mut style = FIGURE_VALUE;
                    let width = self.canvas.width(style, value);
                    if width > inner {
                        style.size = (style.size * inner / width).max(7.0);
                    }
                    (style, wrap(&self.canvas, FIGURE_LABEL, label, inner), value.as_str())
                })
                .collect();
            let label_lines = tiles.iter().map(|t| t.1.len()).max().unwrap_or(1);
            let h = 2.0 * TILE_PAD + FIGURE_VALUE.size * 1.15 + 4.0 + label_lines as f32 * FIGURE_LABEL_LH;
            if row > 0 {
                self.y += TILE_GAP;
            }
            self.ensure(h);
            for (i, (style, labels, value)) in tiles.iter().enumerate() {
                let x = MARGIN_X + i as f32 * (tile_w + TILE_GAP);
                self.canvas.fill_rect(x, self.y, tile_w, h, TILE);
                self.canvas.fill_rect(x, self.y, 3.0, h, ACCENT);
                let text_x = x + 3.0 + TILE_PAD;
                let value_base = self.y + TILE_PAD + FIGURE_VALUE.size * 0.95;
                self.canvas.text(text_x, value_base, *style, value);
                let mut label_top = self.y + TILE_PAD + FIGURE_VALUE.size * 1.15 + 4.0;
                for line in labels {
                    self.canvas.text(
                        text_x,
                        baseline(label_top, FIGURE_LABEL_LH, FIGURE_LABEL.size),
                        FIGURE_LABEL,
                        line,
                    );
                    label_top += FIGURE_LABEL_LH;
                }
            }
            self.y += h;
            self.at_top = false;
        }
    }

    /// Column widths (including the gaps between columns) adding up to the text width.
    ///
    /// Automatic widths: a column whose text fits in a fair share of the width gets exactly its natural
    /// width; the rest of the width goes to the other columns, each getting room for its longest word and a
    /// share of the remainder in proportion to how much wider its text would like to be.
    fn column_widths(&self, columns: &[(String, Align)], rows: &[Vec<String>], widths: &ColumnWidths) -> Vec<f32> {
        let n = columns.len();
        if let ColumnWidths::Fractions(fractions) = widths {
            let sum: f32 = fractions.iter().sum();
            return fractions.iter().map(|f| f / sum * CONTENT_W).collect();
        }
        let c = &self.canvas;
        let cells = |i: usize| rows.iter().filter_map(move |r| r.get(i));
        // Horizontal padding inside column i: half a gap on each inner side.
        let pad = |i: usize| {
            if n == 1 {
                0.0
            } else if i == 0 || i == n - 1 {
                COLUMN_GAP / 2.0
            } else {
                COLUMN_GAP
            }
        };
        let natural: Vec<f32> = (0..n)
            .map(|i| {
                let header = c.width(COLUMN, &columns[i].0.to_uppercase());
                let widest = cells(i).flat_map(|t| t.split('\n')).map(|l| c.width(CELL, l)).fold(header, f32::max);
                widest + pad(i) + 0.5
            })
            .collect();
        let minimum: Vec<f32> = (0..n)
            .map(|i| {
                let header = columns[i].0.to_uppercase();
                let header_word = header.split_whitespace().map(|w| c.width(COLUMN, w)).fold(0.0, f32::max);
                let word = cells(i).flat_map(|t| t.split_whitespace()).map(|w| c.width(CELL, w)).fold(0.0, f32::max);
                (header_word.max(word) + pad(i) + 0.5).min(CONTENT_W / n as f32).min(natural[i])
            })
            .collect();
        if natural.iter().sum::<f32>() <= CONTENT_W {
            let sum: f32 = natural.iter().sum();
            return natural.iter().map(|w| w / sum * CONTENT_W).collect();
        }
        // Settle narrow columns at their natural width, as long as that leaves a fair share for the rest.
        let mut fixed = vec![false; n];
        loop {
            let free: Vec<usize> = (0..n).filter(|i| !fixed[*i]).collect();
            let used: f32 = (0..n).filter(|i| fixed[*i]).map(|i| natural[i]).sum();
            let share = (CONTENT_W - used) / free.len().max(1) as f32;
            let settle: Vec<usize> = free.iter().copied().filter(|i| natural[*i] <= share).collect();
            if settle.is_empty() || settle.len() == free.len() {
                break;
            }
            for i in settle {
                fixed[i] = true;
            }
        }
        let used: f32 = (0..n).filter(|i| fixed[*i]).map(|i| natural[i]).sum();
        let free: Vec<usize> = (0..n).filter(|i| !fixed[*i]).collect();
        let room = CONTENT_W - used;
        let min_sum: f32 = free.iter().map(|i| minimum[*i]).sum();
        let flex_sum: f32 = free.iter().map(|i| natural[*i] - minimum[*i]).sum();
        (0..n)
            .map(|i| {
                if fixed[i] {
                    natural[i]
                } else if min_sum >= room || flex_sum <= 0.0 {
                    minimum[i] / min_sum.max(f32::MIN_POSITIVE) * room
                } else {
                    minimum[i] + (room - min_sum) * (natural[i] - minimum[i]) / flex_sum
                }
            })
            .collect()
    }

    fn table(&mut self, columns: &[(String, Align)], rows: &[Vec<String>], widths: &ColumnWidths) {
        if columns.is_empty() {
            return;
        }
        self.space(BLOCK_GAP);
        let widths = self.column_widths(columns, rows, widths);
        let n = columns.len();
        // Text box of each column: [left, right], flush with the margins at both ends of the table.
        let mut boxes = Vec::with_capacity(n);
        let mut x = MARGIN_X;
        for (i, w) in widths.iter().enumerate() {
            let left = if i == 0 { x } else { x + COLUMN_GAP / 2.0 };
            let right = if i == n - 1 { x + w } else { x + w - COLUMN_GAP / 2.0 };
            boxes.push((left, right.max(left + 1.0), columns[i].1));
            x += w;
        }
        let header: Vec<Vec<String>> = columns
            .iter()
            .zip(&boxes)
            .map(|((title, _), (l, r, _))| wrap(&self.canvas, COLUMN, &title.to_uppercase(), r - l))
            .collect();
        let header_h = header.iter().map(Vec::len).max().unwrap_or(1) as f32 * HEADER_LH + 8.0;
        let measured: Vec<Vec<Vec<String>>> = rows
            .iter()
            .map(|row| {
                boxes
                    .iter()
                    .enumerate()
                    .map(|(i, (l, r, _))| wrap(&self.canvas, CELL, row.get(i).map_or("", String::as_str), r - l))
                    .collect()
            })
            .collect();
        let row_lines = |cells: &Vec<Vec<String>>| cells.iter().map(Vec::len).max().unwrap_or(1);
        let first_h = measured.first().map_or(0.0, |r| row_lines(r).min(3) as f32 * CELL_LH + 2.0 * CELL_PAD);
        self.ensure(header_h + first_h);
        self.table_header(&header, &boxes, header_h);
        let page_capacity = self.bottom - CONTINUATION_TOP - header_h;
        for cells in &measured {
            let lines = row_lines(cells);
            let h = lines as f32 * CELL_LH + 2.0 * CELL_PAD;
            let fits = self.y + h <= self.bottom;
            let may_split = h > page_capacity && self.y + CELL_PAD + 3.0 * CELL_LH <= self.bottom;
            if !fits && !may_split {
                self.next_page();
                self.table_header(&header, &boxes, header_h);
            }
            let mut top = self.y + CELL_PAD;
            for k in 0..lines {
                if top + CELL_LH > self.bottom {
                    self.next_page();
                    self.table_header(&header, &boxes, header_h);
                    top = self.y + CELL_PAD;
                }
                let base = baseline(top, CELL_LH, CELL.size);
                for (cell, (left, right, align)) in cells.iter().zip(&boxes) {
                    if let Some(line) = cell.get(k) {
                        self.aligned(*left, *right, *align, base, CELL, line);
                    }
                }
                top += CELL_LH;
            }
            self.y = top + CELL_PAD;
            self.canvas.hline(MARGIN_X, RIGHT, self.y, 0.5, HAIRLINE);
        }
    }

    fn table_header(&mut self, header: &[Vec<String>], boxes: &[(f32, f32, Align)], h: f32) {
        for (lines, (left, right, align)) in header.iter().zip(boxes) {
            for (i, line) in lines.iter().enumerate() {
                let base = self.y + 7.0 + i as f32 * HEADER_LH;
                self.aligned(*left, *right, *align, base, COLUMN, line);
            }
        }
        self.canvas.hline(MARGIN_X, RIGHT, self.y + h - 1.0, 1.0, ACCENT);
        self.y += h;
        self.at_top = false;
    }

    fn aligned(&mut self, left: f32, right: f32, align: Align, base: f32, style: Style, text: &str) {
        match align {
            Align::Left => self.canvas.text(left, base, style, text),
            Align::Right => self.canvas.text_right(right, base, style, text),
            Align::Center => {
                let w = self.canvas.width(style, text);
                self.canvas.text((left + right - w) / 2.0, base, style, text);
            }
        }
    }

    fn chart(&mut self, scene: &bursar_charts::Scene) {
        self.space(BLOCK_GAP);
        let mut scale = CONTENT_W / scene.width as f32;
        let capacity = self.bottom - CONTINUATION_TOP;
        if scene.height as f32 * scale > capacity {
            scale = capacity / scene.height as f32;
        }
        let h = scene.height as f32 * scale;
        self.ensure(h);
        crate::chart::draw(&mut self.canvas, scene, MARGIN_X, self.y, scale);
        self.y += h;
        self.at_top = false;
    }

    fn qr(&mut self, matrix: &QrMatrix, caption: Option<&str>) {
        self.space(BLOCK_GAP);
        let module = QR_SIDE / (matrix.width + 2 * QUIET_ZONE) as f32;
        let caption_x = MARGIN_X + QR_SIDE + 12.0;
        let lines = caption.map(|c| wrap(&self.canvas, CAPTION, c, RIGHT - caption_x)).unwrap_or_default();
        let caption_h = lines.len() as f32 * CAPTION_LH;
        self.ensure(QR_SIDE.max(caption_h));
        let quiet = QUIET_ZONE as f32 * module;
        qr::draw(&mut self.canvas, matrix, MARGIN_X + quiet, self.y + quiet, module);
        let mut top = self.y + ((QR_SIDE - caption_h) / 2.0).max(0.0);
        for line in &lines {
            self.canvas.text(caption_x, baseline(top, CAPTION_LH, CAPTION.size), CAPTION, line);
            top += CAPTION_LH;
        }
        self.y += QR_SIDE.max(caption_h);
        self.at_top = false;
    }

    /// Footer text and "Page N / M" on every page, drawn once the page count is known.
    fn footers(&mut self) {
        let pages = self.canvas.page_count();
        let first = footer_first_baseline(self.footer_lines.len());
        let lines = std::mem::take(&mut self.footer_lines);
        let label = &self.report.labels.page;
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
