//! Renders reports with every kind of block and reads the PDFs back: text, page structure, the drawn
//! chart geometry and the QR code.

mod common;

use bursar_charts::{BarMode, Chart, ChartKind, NumberFormat, Rgb, Series, ValueAxis};
use bursar_pdf::{render_report, Align, Block, ColumnWidths, PdfError, Report, ReportLabels};
use common::*;
use pdf_extract::content::Content;

const VERIFY_URL: &str = "https://learn.example.org/certificates/verify/7f3c9a2e-1b4d-4e8a-9c61-0d2f5b8e7a14";

fn normalized(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn accuracy_chart() -> Chart {
    Chart::new(ChartKind::HorizontalBars(BarMode::Grouped), "Accuracy by topic")
        .categories(["Algebra", "Geometry", "Number", "Statistics"])
        .series(Series::new("Accuracy", [82.0, 64.0, 71.0, 48.0]).colour(Rgb::hex(0x12_34_56)))
        .value_axis(ValueAxis {
            title: Some("Accuracy".into()),
            format: NumberFormat::percent(0),
            min: Some(0.0),
            max: Some(100.0),
            ..ValueAxis::default()
        })
}

fn mrr_chart() -> Chart {
    let mut chart = Chart::new(ChartKind::VerticalBars(BarMode::Stacked), "MRR movements")
        .categories(["Jul", "Aug", "Sep", "Oct", "Nov"])
        .series(Series::new("New", [1200.0, 900.0, 1500.0, 700.0, 1100.0]))
        .series(Series::new("Expansion", [300.0, 450.0, 200.0, 600.0, 250.0]))
        .series(Series::new("Churn", [-400.0, -650.0, -300.0, -500.0, -420.0]));
    chart.value_axis.format = NumberFormat::amount("€", "", ',', '.', 0);
    chart
}

fn table(rows: usize) -> Block {
    Block::Table {
        columns: vec![
            (s("Topic"), Align::Left),
            (s("Questions"), Align::Right),
            (s("Accuracy"), Align::Right),
            (s("Comment"), Align::Left),
        ],
        rows: (1..=rows)
            .map(|i| {
                let comment = if i % 7 == 0 {
                    "Needs more practice with multi-step word problems that combine fractions, ratios and units"
                } else {
                    "On track"
                };
                vec![format!("Row {i:03}"), format!("{}", 10 + i % 13), format!("{} %", 40 + i % 60), s(comment)]
            })
            .collect(),
        widths: ColumnWidths::Auto,
    }
}

fn session_report() -> Report {
    Report {
        title: s("Session report"),
        subtitle: Some(s("Anna Ivanova · Mathematics, grade 8")),
        meta: vec![(s("Period"), s("1–30 Nov 2026")), (s("Sessions"), s("14")), (s("Generated"), s("1 Dec 2026"))],
        blocks: vec![
            Block::Heading(s("Summary")),
            Block::Paragraph(s("Anna answered 412 questions in 14 sessions. Accuracy rose from 61 % to 74 % over \
                                the month; geometry remains the weakest topic.")),
            Block::KeyFigures(vec![
                (s("Questions answered"), s("412")),
                (s("Accuracy"), s("74 %")),
                (s("Time on task"), s("9 h 40 min")),
                (s("Ability (θ)"), s("+0.42")),
            ]),
            Block::Heading(s("Accuracy by topic")),
            Block::Chart(accuracy_chart()),
            Block::Heading(s("Revenue")),
            Block::Chart(mrr_chart()),
            Block::Heading(s("Topics")),
            table(12),
            Block::Heading(s("Verification")),
            Block::Qr { payload: s(VERIFY_URL), caption: Some(format!("Verify this report at {VERIFY_URL}")) },
        ],
        footer: Some(s("Nordlicht Learning GmbH · Friedrichstraße 123 · 10117 Berlin")),
        logo: None,
        labels: ReportLabels::default(),
    }
}

/// Operators and numeric operands of one page's content stream.
fn page_ops(pdf: &[u8], page: u32) -> Vec<(String, Vec<f32>)> {
    let doc = pdf_extract::Document::load_mem(pdf).expect("parse pdf");
    let id = doc.get_pages()[&page];
    let content = doc.get_page_content(id).expect("page content");
    Content::decode(&content)
        .expect("content stream")
        .operations
        .into_iter()
        .map(|op| (op.operator, op.operands.iter().filter_map(|o| o.as_float().ok()).collect()))
        .collect()
}

/// Filled rectangles of a page as (fill colour, x, y, w, h) in PDF user space.
fn filled_rects(ops: &[(String, Vec<f32>)]) -> Vec<([f32; 3], f32, f32, f32, f32)> {
    let mut fill = [0.0; 3];
    let mut pending = None;
    let mut out = Vec::new();
    for (op, args) in ops {
        match op.as_str() {
            "rg" => fill = [args[0], args[1], args[2]],
            "re" => pending = Some((args[0], args[1], args[2], args[3])),
            "f" => {
                if let Some((x, y, w, h)) = pending.take() {
                    out.push((fill, x, y, w, h));
                }
            }
            _ => {}
        }
    }
    out
}

fn same_colour(a: [f32; 3], b: Rgb) -> bool {
    let (r, g, bl) = b.to_unit();
    (a[0] - r).abs() < 0.002 && (a[1] - g).abs() < 0.002 && (a[2] - bl).abs() < 0.002
}

#[test]
fn every_block_kind_is_readable_in_the_pdf() {
    let report = session_report();
    let pdf = render_report(&report).expect("render");
    save_preview("report-session", &pdf);
    assert!(pdf.starts_with(b"%PDF-"));
    let text = normalized(&text_of(&pdf));
    for needle in [
        "Session report",
        "Anna Ivanova · Mathematics, grade 8",
        "Period",
        "1–30 Nov 2026",
        "Summary",
        "Accuracy rose from 61 % to 74 %",
        "Questions answered",
        "412",
        "9 h 40 min",
        "Ability (θ)",
        "+0.42",
        "Accuracy by topic",
        "Algebra",
        "82 %",
        "100 %",
        "MRR movements",
        "Expansion",
        "€2,000",
        "TOPIC",
        "QUESTIONS",
        "Row 012",
        "Needs more practice",
        "Verify this report at",
        "Page 1 /",
        "Nordlicht Learning GmbH",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
    assert!(page_count(&pdf) >= 2, "four charts' worth of content does not fit one page");
}

#[test]
fn long_tables_repeat_their_header_on_every_page() {
    let report = Report {
        title: s("Question log"),
        subtitle: None,
        meta: vec![],
        blocks: vec![Block::Heading(s("All answers")), table(150)],
        footer: None,
        logo: None,
        labels: ReportLabels { page: s("Seite") },
    };
    let pdf = render_report(&report).unwrap();
    save_preview("report-long-table", &pdf);
    let pages = page_count(&pdf);
    assert!(pages >= 4, "150 rows on {pages} pages");
    let text = normalized(&text_of(&pdf));
    assert_eq!(text.matches("QUESTIONS").count(), pages, "header once per page");
    assert_eq!(text.matches("Seite").count(), pages);
    assert!(text.contains(&format!("Seite {pages} / {pages}")));
    let mut last = 0;
    for i in 1..=150 {
        let at = text.find(&format!("Row {i:03}")).unwrap_or_else(|| panic!("row {i} missing"));
        assert!(at > last, "row {i} out of order");
        last = at;
    }
    // Wrapped comments keep every word.
    assert_eq!(text.matches("combine fractions, ratios and units").count(), 150 / 7);
}

#[test]
fn table_cells_stay_inside_their_columns() {
    let widths = ColumnWidths::Fractions(vec![1.0, 1.0, 1.0, 3.0]);
    let Block::Table { columns, rows, .. } = table(14) else { unreachable!() };
    let report = Report {
        title: s("Widths"),
        subtitle: None,
        meta: vec![],
        blocks: vec![Block::Table { columns, rows, widths }],
        footer: None,
        logo: None,
        labels: ReportLabels::default(),
    };
    let pdf = render_report(&report).unwrap();
    // Text is positioned with absolute text matrices: the comment column (the last half of the width) must
    // hold every comment line, and no text may pass the right margin.
    let ops = page_ops(&pdf, 1);
    let starts: Vec<f32> = ops.iter().filter(|(op, _)| op == "Tm").map(|(_, a)| a[4]).collect();
    let content_left = 50.0;
    let content_w = 595.28 - 100.0;
    let comment_left = content_left + content_w / 2.0;
    assert!(starts.iter().any(|x| (*x - (comment_left + 6.0)).abs() < 0.5), "comment column at {comment_left}");
    assert!(starts.iter().all(|x| *x >= content_left - 0.01 && *x < 595.28 - 50.0));
    let text = normalized(&text_of(&pdf));
    assert!(text.contains("Needs more practice with multi-step word problems"));
}

#[test]
fn same_report_same_bytes() {
    let a = render_report(&session_report()).unwrap();
    let b = render_report(&session_report().clone()).unwrap();
    assert_eq!(a, b);
    let raw = String::from_utf8_lossy(&a);
    assert!(!raw.contains("CreationDate") && !raw.contains("/ID"), "no clock or random ids in the file");
}

#[test]
fn chart_bars_have_the_svg_geometry() {
    let chart = accuracy_chart();
    let scene = bursar_charts::layout(&chart).unwrap();
    let report = Report {
        title: s("Chart"),
        subtitle: None,
        meta: vec![],
        blocks: vec![Block::Chart(chart)],
        footer: None,
        logo: None,
        labels: ReportLabels::default(),
    };
    let pdf = render_report(&report).unwrap();
    let bars: Vec<_> =
        filled_rects(&page_ops(&pdf, 1)).into_iter().filter(|r| same_colour(r.0, Rgb::hex(0x12_34_56))).collect();
    let svg_bars: Vec<(f64, f64, f64, f64)> = scene
        .items
        .iter()
        .filter_map(|i| match i {
            bursar_charts::Item::Rect { x, y, w, h, role: bursar_charts::Role::Bar, .. } => Some((*x, *y, *w, *h)),
            _ => None,
        })
        .collect();
    assert_eq!(bars.len(), svg_bars.len());
    // The chart spans the text width: one scene unit is (595.28 − 100) / 640 points.
    let scale = (595.28 - 100.0) / 640.0;
    for (pdf_bar, svg_bar) in bars.iter().zip(&svg_bars) {
        assert!((pdf_bar.1 - (50.0 + svg_bar.0 as f32 * scale)).abs() < 0.01);
        assert!((pdf_bar.3 - svg_bar.2 as f32 * scale).abs() < 0.01);
        assert!((pdf_bar.4 - svg_bar.3 as f32 * scale).abs() < 0.01);
    }
    let text = normalized(&text_of(&pdf));
    for label in ["Geometry", "64 %", "0 %", "20 %", "Accuracy"] {
        assert!(text.contains(label), "{label} in {text}");
    }
}

#[test]
fn charts_with_many_categories_render_on_one_page() {
    let categories: Vec<String> = (1..=60).map(|i| format!("Day {i}")).collect();
    let values: Vec<Option<f64>> = (1..=60).map(|i| (i % 9 != 0).then_some(f64::from(i * 37 % 100))).collect();
    let mut line = Chart::new(ChartKind::Line, "Daily accuracy")
        .categories(categories.clone())
        .series(Series::with_gaps("Accuracy", values.clone()));
    line.value_axis.format = NumberFormat::percent(0);
    let bars = Chart::new(ChartKind::VerticalBars(BarMode::Grouped), "Daily questions")
        .categories(categories)
        .series(Series::with_gaps("Questions", values));
    let report = Report {
        title: s("Daily activity"),
        subtitle: None,
        meta: vec![],
        blocks: vec![Block::Chart(line), Block::Chart(bars)],
        footer: None,
        logo: None,
        labels: ReportLabels::default(),
    };
    let pdf = render_report(&report).unwrap();
    save_preview("report-many-categories", &pdf);
    assert_eq!(page_count(&pdf), 1);
    let text = normalized(&text_of(&pdf));
    assert!(text.contains("Daily accuracy") && text.contains("Daily questions") && text.contains("Day 1"));
    // 60 categories minus the 6 without a value are 54 bars.
    let bar_colour = bursar_charts::Palette::default().series_colour(0);
    let drawn = filled_rects(&page_ops(&pdf, 1)).into_iter().filter(|r| same_colour(r.0, bar_colour)).count();
    // The accent bar at the top of the page shares the first series colour.
    assert_eq!(drawn, 54 + 1);
}

#[test]
fn qr_code_in_the_pdf_decodes_to_its_payload() {
    let report = Report {
        title: s("Certificate of completion"),
        subtitle: Some(s("Jana Weber completed Algebra I")),
        meta: vec![],
        blocks: vec![Block::Qr { payload: s(VERIFY_URL), caption: Some(s("Scan to verify")) }],
        footer: None,
        logo: Some(png_logo()),
        labels: ReportLabels::default(),
    };
    let pdf = render_report(&report).unwrap();
    save_preview("report-certificate", &pdf);
    let modules: Vec<_> = filled_rects(&page_ops(&pdf, 1)).into_iter().filter(|r| r.0 == [0.0, 0.0, 0.0]).collect();
    assert!(modules.len() > 50, "{} dark runs", modules.len());
    // Rebuild the module grid from the rectangles (PDF y grows upwards) and decode it independently.
    let module = modules.iter().map(|r| r.4).fold(f32::MAX, f32::min);
    let left = modules.iter().map(|r| r.1).fold(f32::MAX, f32::min);
    let top = modules.iter().map(|r| r.2 + r.4).fold(f32::MIN, f32::max);
    let right = modules.iter().map(|r| r.1 + r.3).fold(f32::MIN, f32::max);
    let width = ((right - left) / module).round() as usize;
    let mut dark = vec![false; width * width];
    for (_, x, y, w, h) in &modules {
        assert!((h - module).abs() < 1e-3);
        let row = ((top - (y + h)) / module).round() as usize;
        let col = ((x - left) / module).round() as usize;
        for c in col..col + (w / module).round() as usize {
            dark[row * width + c] = true;
        }
    }
    let (scale, quiet) = (4, 4);
    let side = (width + 2 * quiet) * scale;
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(side, side, |x, y| {
        let (mx, my) = ((x / scale).wrapping_sub(quiet), (y / scale).wrapping_sub(quiet));
        if mx < width && my < width && dark[my * width + mx] {
            0
        } else {
            255
        }
    });
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1);
    assert_eq!(grids[0].decode().expect("decode").1, VERIFY_URL);
    let text = normalized(&text_of(&pdf));
    assert!(text.contains("Certificate of completion") && text.contains("Scan to verify"));
}

#[test]
fn inconsistent_reports_are_errors() {
    let base = |block: Block| Report {
        title: s("x"),
        subtitle: None,
        meta: vec![],
        blocks: vec![block],
        footer: None,
        logo: None,
        labels: ReportLabels::default(),
    };
    let long_row = Block::Table {
        columns: vec![(s("A"), Align::Left)],
        rows: vec![vec![s("1"), s("2")]],
        widths: ColumnWidths::Auto,
    };
    assert!(matches!(render_report(&base(long_row)), Err(PdfError::Table(_))));
    for fractions in [vec![1.0], vec![1.0, f32::NAN], vec![0.0, 0.0], vec![1.0, -1.0]] {
        let block = Block::Table {
            columns: vec![(s("A"), Align::Left), (s("B"), Align::Left)],
            rows: vec![],
            widths: ColumnWidths::Fractions(fractions.clone()),
        };
        assert!(matches!(render_report(&base(block)), Err(PdfError::Table(_))), "{fractions:?}");
    }
    let bad_chart = Chart::new(ChartKind::Line, "x").categories(["a"]).series(Series::new("s", [1.0, 2.0]));
    assert!(matches!(render_report(&base(Block::Chart(bad_chart))), Err(PdfError::Chart(_))));
    let qr = Block::Qr { payload: "x".repeat(4000), caption: None };
    assert!(matches!(render_report(&base(qr)), Err(PdfError::Qr(_))));
    // Short rows, empty tables and empty figure lists are fine.
    let short = Block::Table {
        columns: vec![(s("A"), Align::Left), (s("B"), Align::Center)],
        rows: vec![vec![s("only a")], vec![]],
        widths: ColumnWidths::Auto,
    };
    let pdf = render_report(&base(short)).unwrap();
    assert!(normalized(&text_of(&pdf)).contains("only a"));
    render_report(&base(Block::KeyFigures(vec![]))).unwrap();
    render_report(&base(Block::Table { columns: vec![], rows: vec![], widths: ColumnWidths::Auto })).unwrap();
}
