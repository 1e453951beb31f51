//! Renders charts of every kind and checks the SVG as a reader (and a screen reader) would get it.

use bursar_charts::{
    data_table, describe, layout, render_svg, BarMode, Chart, ChartError, ChartKind, Item, NumberFormat, Role, Series,
    ValueAxis,
};

fn percent_axis() -> ValueAxis {
    ValueAxis {
        title: Some("Accuracy".into()),
        format: NumberFormat::percent(0),
        min: Some(0.0),
        max: Some(100.0),
        ..ValueAxis::default()
    }
}

fn accuracy_by_topic() -> Chart {
    Chart::new(ChartKind::HorizontalBars(BarMode::Grouped), "Accuracy by topic")
        .subtitle("Last 30 days")
        .categories(["Algebra", "Geometry", "Number", "Probability and statistics"])
        .series(Series::new("Accuracy", [82.0, 64.0, 71.0, 48.4]))
        .value_axis(percent_axis())
}

fn mrr_movements() -> Chart {
    let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun"];
    let money = NumberFormat::amount("€", "", ',', '.', 0);
    let mut chart = Chart::new(ChartKind::VerticalBars(BarMode::Stacked), "MRR movements")
        .categories(months)
        .series(Series::new("New", [1200.0, 900.0, 1500.0, 700.0, 1100.0, 1300.0]))
        .series(Series::new("Expansion", [300.0, 450.0, 200.0, 600.0, 250.0, 380.0]))
        .series(Series::new("Contraction", [-150.0, -80.0, -220.0, -60.0, -90.0, -120.0]))
        .series(Series::new("Churn", [-400.0, -650.0, -300.0, -500.0, -420.0, -380.0]));
    chart.value_axis = ValueAxis { title: Some("EUR".into()), format: money, ..ValueAxis::default() };
    chart.category_title = Some("Month".into());
    chart
}

fn accuracy_over_time() -> Chart {
    Chart::new(ChartKind::Line, "Accuracy by difficulty band")
        .categories(["1–14 Sep", "15–28 Sep", "29 Sep–12 Oct", "13–26 Oct", "27 Oct–9 Nov"])
        .series(Series::with_gaps("Easy", [Some(88.0), Some(90.0), None, Some(91.0), Some(93.0)]))
        .series(Series::with_gaps("Medium", [Some(71.0), Some(69.0), Some(74.0), Some(77.0), Some(76.0)]))
        .series(Series::with_gaps("Hard", [None, Some(41.0), None, Some(52.0), None]))
        .value_axis(percent_axis())
}

fn retention() -> Chart {
    let mut chart = Chart::new(ChartKind::HeatMap, "Cohort retention")
        .categories(["M0", "M1", "M2", "M3"])
        .series(Series::with_gaps("Jan 2026", [Some(1.0), Some(0.62), Some(0.48), Some(0.41)]))
        .series(Series::with_gaps("Feb 2026", [Some(1.0), Some(0.58), Some(0.44), None]))
        .series(Series::with_gaps("Mar 2026", [Some(1.0), Some(0.66), None, None]));
    chart.value_axis = ValueAxis {
        title: Some("Retained".into()),
        format: NumberFormat::fraction_as_percent(0),
        ..ValueAxis::default()
    };
    chart.category_title = Some("Months since signup".into());
    chart
}

/// Writes the SVG to the directory named by `BURSAR_CHART_PREVIEW_DIR`, when it is set, for visual review.
fn save_preview(name: &str, svg: &str) {
    if let Some(dir) = std::env::var_os("BURSAR_CHART_PREVIEW_DIR") {
        let dir = std::path::PathBuf::from(dir);
        std::fs::create_dir_all(&dir).expect("preview dir");
        std::fs::write(dir.join(format!("{name}.svg")), svg).expect("write preview");
    }
}

fn parse(svg: &str) -> roxmltree::Document<'_> {
    roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("SVG does not parse: {e}\n{svg}"))
}

fn count_class(doc: &roxmltree::Document, class: &str) -> usize {
    doc.descendants().filter(|n| n.attribute("class") == Some(class)).count()
}

fn text_of_class(doc: &roxmltree::Document, class: &str) -> Vec<String> {
    doc.descendants()
        .filter(|n| n.has_tag_name("text") && n.attribute("class") == Some(class))
        .map(|n| n.text().unwrap_or("").to_owned())
        .collect()
}

/// The root element's accessibility wiring; returns the description text.
fn check_accessible_root(doc: &roxmltree::Document) -> String {
    let root = doc.root_element();
    assert!(root.has_tag_name(("http://www.w3.org/2000/svg", "svg")), "root is not an SVG element");
    assert_eq!(root.attribute("role"), Some("img"));
    assert_eq!(root.attribute("width"), Some("100%"));
    assert!(root.attribute("viewBox").is_some());
    let ids: Vec<&str> = root.attribute("aria-labelledby").expect("aria-labelledby").split(' ').collect();
    assert_eq!(ids.len(), 2);
    let by_id = |id: &str| doc.descendants().find(|n| n.attribute("id") == Some(id)).expect("referenced id");
    assert!(by_id(ids[0]).has_tag_name("title"));
    let desc = by_id(ids[1]);
    assert!(desc.has_tag_name("desc"));
    // The title and desc are the first children, as assistive technology expects.
    let first: Vec<_> = root.children().filter(|n| n.is_element()).take(2).collect();
    assert_eq!(first[0].tag_name().name(), "title");
    assert_eq!(first[1].tag_name().name(), "desc");
    desc.text().unwrap_or("").to_owned()
}

fn check_self_contained(svg: &str) {
    let lower = svg.to_lowercase();
    for banned in ["<script", "href", "url(", "@import", "<style", "<image", "<foreignobject", "nan", "inf"] {
        assert!(!lower.contains(banned), "SVG contains {banned:?}");
    }
    assert_eq!(lower.matches("http").count(), 1, "only the SVG namespace may name a URL");
}

#[test]
fn horizontal_bars_show_every_topic_with_its_value() {
    let chart = accuracy_by_topic();
    let svg = render_svg(&chart).unwrap();
    save_preview("accuracy-by-topic", &svg);
    check_self_contained(&svg);
    let doc = parse(&svg);
    let desc = check_accessible_root(&doc);
    assert_eq!(
        desc,
        "Accuracy by topic (Last 30 days): Algebra 82 %, Geometry 64 %, Number 71 %, Probability and statistics 48 %."
    );
    assert_eq!(count_class(&doc, "bar"), 4);
    assert_eq!(text_of_class(&doc, "value"), ["82 %", "64 %", "71 %", "48 %"]);
    assert_eq!(text_of_class(&doc, "tick"), ["0 %", "20 %", "40 %", "60 %", "80 %", "100 %"]);
    // Bar lengths are proportional to the values on the fixed 0–100 axis.
    let scene = layout(&chart).unwrap();
    let bars: Vec<(f64, f64)> = scene
        .items
        .iter()
        .filter_map(|i| match i {
            Item::Rect { x, w, role: Role::Bar, .. } => Some((*x, *w)),
            _ => None,
        })
        .collect();
    let zero = scene
        .items
        .iter()
        .find_map(|i| match i {
            Item::Polyline { points, role: Role::ZeroLine, .. } => Some(points[0].0),
            _ => None,
        })
        .expect("zero line");
    let full = bars[0].1 / 0.82;
    for ((x, w), value) in bars.iter().zip([82.0, 64.0, 71.0, 48.4]) {
        assert!((x - zero).abs() < 1e-9, "bars start at zero");
        assert!((w - full * value / 100.0).abs() < 1e-6, "bar for {value} is {w} of {full}");
    }
    // The 100 % gridline sits exactly where a bar of 100 would end.
    let grid_x: Vec<f64> = scene
        .items
        .iter()
        .filter_map(|i| match i {
            Item::Polyline { points, role: Role::Grid, .. } => Some(points[0].0),
            _ => None,
        })
        .collect();
    let last = grid_x.iter().copied().fold(f64::MIN, f64::max);
    assert!((last - (zero + full)).abs() < 1e-6);
}

#[test]
fn stacked_bars_go_up_for_gains_and_down_for_losses() {
    let chart = mrr_movements();
    let svg = render_svg(&chart).unwrap();
    save_preview("mrr-movements", &svg);
    check_self_contained(&svg);
    let doc = parse(&svg);
    let desc = check_accessible_root(&doc);
    assert!(desc.starts_with("MRR movements. New: Jan €1,200, Feb €900,"), "{desc}");
    assert!(desc.contains("Churn: Jan \u{2212}€400, Feb \u{2212}€650"), "{desc}");
    assert_eq!(count_class(&doc, "bar"), 24);
    assert_eq!(count_class(&doc, "swatch"), 4);
    assert_eq!(text_of_class(&doc, "legend"), ["New", "Expansion", "Contraction", "Churn"]);
    let ticks = text_of_class(&doc, "tick");
    assert!(ticks.iter().any(|t| t.starts_with('\u{2212}')), "negative ticks {ticks:?}");
    assert!(ticks.contains(&"€0".to_owned()), "{ticks:?}");

    let scene = layout(&chart).unwrap();
    let zero_y = scene
        .items
        .iter()
        .find_map(|i| match i {
            Item::Polyline { points, role: Role::ZeroLine, .. } => Some(points[0].1),
            _ => None,
        })
        .expect("zero line");
    let bars: Vec<(f64, f64, f64)> = scene
        .items
        .iter()
        .filter_map(|i| match i {
            Item::Rect { x, y, h, role: Role::Bar, .. } => Some((*x, *y, *h)),
            _ => None,
        })
        .collect();
    // January: New (1200) from the zero line up, Expansion (300) on top of it, Contraction (−150) from the
    // zero line down, Churn (−400) below that. Heights are in proportion to the values.
    let (new, expansion, contraction, churn) = (bars[0], bars[1], bars[2], bars[3]);
    let unit = new.2 / 1200.0;
    assert!((new.1 + new.2 - zero_y).abs() < 1e-6);
    assert!((expansion.1 + expansion.2 - new.1).abs() < 1e-6);
    assert!((expansion.2 - 300.0 * unit).abs() < 1e-6);
    assert!((contraction.1 - zero_y).abs() < 1e-6);
    assert!((contraction.2 - 150.0 * unit).abs() < 1e-6);
    assert!((churn.1 - (zero_y + contraction.2)).abs() < 1e-6);
    assert!((churn.2 - 400.0 * unit).abs() < 1e-6);
    assert!(bars[..4].iter().all(|b| (b.0 - new.0).abs() < 1e-9), "one column per month");
}

#[test]
fn grouped_bars_sit_side_by_side_and_negative_values_hang_below_zero() {
    let chart = Chart::new(ChartKind::VerticalBars(BarMode::Grouped), "Net change")
        .categories(["Q1", "Q2", "Q3"])
        .series(Series::new("2025", [5.0, -3.0, 2.0]))
        .series(Series::new("2026", [-1.5, 4.0, 0.0]));
    let scene = layout(&chart).unwrap();
    assert_eq!(scene.count(Role::Bar), 6);
    let zero_y = scene
        .items
        .iter()
        .find_map(|i| match i {
            Item::Polyline { points, role: Role::ZeroLine, .. } => Some(points[0].1),
            _ => None,
        })
        .unwrap();
    let bars: Vec<(f64, f64, f64, f64)> = scene
        .items
        .iter()
        .filter_map(|i| match i {
            Item::Rect { x, y, w, h, role: Role::Bar, .. } => Some((*x, *y, *w, *h)),
            _ => None,
        })
        .collect();
    let values = [5.0, -1.5, -3.0, 4.0, 2.0, 0.0];
    for (bar, v) in bars.iter().zip(values) {
        if v < 0.0 {
            assert!((bar.1 - zero_y).abs() < 1e-6, "negative bar starts at zero");
        } else {
            assert!((bar.1 + bar.3 - zero_y).abs() < 1e-6, "positive bar ends at zero");
        }
    }
    assert!(bars[0].0 + bars[0].2 <= bars[1].0, "series side by side");
    let unit = bars[0].3 / 5.0;
    assert!((bars[2].3 - 3.0 * unit).abs() < 1e-6);
    let svg = render_svg(&chart).unwrap();
    save_preview("grouped-negative", &svg);
    let doc = parse(&svg);
    assert!(text_of_class(&doc, "tick").iter().any(|t| t.starts_with('\u{2212}')));
}

#[test]
fn lines_break_at_gaps_and_isolated_points_get_markers() {
    let chart = accuracy_over_time();
    let svg = render_svg(&chart).unwrap();
    save_preview("accuracy-over-time", &svg);
    check_self_contained(&svg);
    let doc = parse(&svg);
    let desc = check_accessible_root(&doc);
    assert!(desc.contains("Easy: 1–14 Sep 88 %, 15–28 Sep 90 %, 29 Sep–12 Oct no value"), "{desc}");
    assert!(desc.contains("Hard: 1–14 Sep no value, 15–28 Sep 41 %"), "{desc}");
    // Easy: two runs (2 + 2 points); Medium: one run; Hard: three isolated points, no line.
    assert_eq!(count_class(&doc, "line"), 3);
    assert_eq!(count_class(&doc, "point"), 4 + 5 + 2);
    // Lines of different series differ by dash pattern as well as colour.
    let dashes: Vec<Option<&str>> = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("line"))
        .map(|n| n.attribute("stroke-dasharray"))
        .collect();
    assert_eq!(dashes[0], None);
    assert!(dashes[2].is_some());
}

#[test]
fn a_single_point_is_a_marker_on_a_sensible_axis() {
    let chart = Chart::new(ChartKind::Line, "MRR").categories(["Nov"]).series(Series::new("MRR", [4200.0]));
    let svg = render_svg(&chart).unwrap();
    let doc = parse(&svg);
    assert_eq!(count_class(&doc, "point"), 1);
    assert_eq!(count_class(&doc, "line"), 0);
    let ticks = text_of_class(&doc, "tick");
    assert!(ticks.len() >= 2, "{ticks:?}");
    assert_eq!(check_accessible_root(&doc), "MRR: Nov 4200.");
}

#[test]
fn heat_map_cells_carry_values_with_readable_text() {
    let chart = retention();
    let svg = render_svg(&chart).unwrap();
    save_preview("retention", &svg);
    check_self_contained(&svg);
    let doc = parse(&svg);
    let desc = check_accessible_root(&doc);
    assert_eq!(
        desc,
        "Cohort retention. Jan 2026: M0 100 %, M1 62 %, M2 48 %, M3 41 %; Feb 2026: M0 100 %, M1 58 %, M2 44 %, \
         M3 no value; Mar 2026: M0 100 %, M1 66 %, M2 no value, M3 no value."
    );
    assert_eq!(count_class(&doc, "cell"), 9);
    assert_eq!(text_of_class(&doc, "value").len(), 9);
    // Darker cells for higher values: the 100 % cell is darker than the 41 % cell.
    let scene = layout(&chart).unwrap();
    let fills: Vec<bursar_charts::Rgb> = scene
        .items
        .iter()
        .filter_map(|i| match i {
            Item::Rect { fill, role: Role::Cell, .. } => Some(*fill),
            _ => None,
        })
        .collect();
    assert!(fills[0].relative_luminance() < fills[3].relative_luminance());
    // Every cell label meets WCAG AA against its cell.
    for item in &scene.items {
        if let Item::Text { fill, role: Role::ValueLabel, x, y, .. } = item {
            let cell = scene.items.iter().find_map(|c| match c {
                Item::Rect { x: cx, y: cy, w, h, fill, role: Role::Cell, .. }
                    if x > cx && *x < cx + w && *y > *cy && *y < cy + h =>
                {
                    Some(*fill)
                }
                _ => None,
            });
            let cell = cell.expect("label inside a cell");
            assert!(bursar_charts::contrast_ratio(*fill, cell) >= 4.5);
        }
    }
}

#[test]
fn markup_in_every_text_is_escaped() {
    let nasty = r#"<script>alert("x")</script> & 'quotes'"#;
    let mut chart = Chart::new(ChartKind::VerticalBars(BarMode::Grouped), nasty)
        .subtitle(nasty)
        .categories([nasty, "B"])
        .series(Series::new(nasty, [1.0, 2.0]).labels([nasty, "2"]))
        .series(Series::new("Two", [3.0, 4.0]));
    chart.category_title = Some(nasty.into());
    chart.value_axis.title = Some(nasty.into());
    chart.id = Some("x\"><script>".into());
    chart.show_values = true;
    let svg = render_svg(&chart).unwrap();
    assert!(!svg.contains("<script"), "{svg}");
    let doc = parse(&svg);
    check_accessible_root(&doc);
    let title = doc.descendants().find(|n| n.has_tag_name("title")).unwrap();
    assert_eq!(title.text(), Some(nasty));
    assert!(doc.descendants().find(|n| n.has_tag_name("desc")).unwrap().text().unwrap().contains(nasty));
    assert_eq!(doc.root_element().attribute("aria-labelledby"), Some("xscript-title xscript-desc"));
    // Control characters that XML forbids are dropped rather than breaking the document.
    let chart =
        Chart::new(ChartKind::Line, "bell\u{7} and form feed\u{c}").categories(["a"]).series(Series::new("s", [1.0]));
    parse(&render_svg(&chart).unwrap());
}

#[test]
fn empty_charts_say_so() {
    for kind in [
        ChartKind::VerticalBars(BarMode::Grouped),
        ChartKind::HorizontalBars(BarMode::Stacked),
        ChartKind::Line,
        ChartKind::HeatMap,
    ] {
        let empty = Chart::new(kind, "Accuracy by topic");
        let svg = render_svg(&empty).unwrap();
        let doc = parse(&svg);
        assert_eq!(check_accessible_root(&doc), "Accuracy by topic: No data.");
        assert_eq!(text_of_class(&doc, "message"), ["No data"]);
        assert_eq!(count_class(&doc, "bar") + count_class(&doc, "cell") + count_class(&doc, "point"), 0);
        // Categories without any value are "no data" as well, but the description still lists them.
        let gaps = Chart::new(kind, "Accuracy").categories(["A", "B"]).series(Series::with_gaps("s", [None, None]));
        let doc_svg = render_svg(&gaps).unwrap();
        assert_eq!(text_of_class(&parse(&doc_svg), "message"), ["No data"]);
    }
}

#[test]
fn non_finite_values_are_skipped_and_named() {
    let chart = Chart::new(ChartKind::VerticalBars(BarMode::Grouped), "Scores")
        .categories(["A", "B", "C", "D"])
        .series(Series::new("Score", [3.0, f64::NAN, f64::INFINITY, 5.0]));
    let svg = render_svg(&chart).unwrap();
    check_self_contained(&svg);
    let doc = parse(&svg);
    assert_eq!(count_class(&doc, "bar"), 2);
    assert_eq!(
        check_accessible_root(&doc),
        "Scores: A 3, B not a finite number, not shown, C not a finite number, not shown, D 5."
    );
    let only_nan = Chart::new(ChartKind::Line, "Scores").categories(["A"]).series(Series::new("s", [f64::NAN]));
    let svg = render_svg(&only_nan).unwrap();
    check_self_contained(&svg);
    assert!(svg.contains("A not a finite number, not shown"));
}

#[test]
fn same_chart_same_bytes_and_distinct_ids() {
    for chart in [accuracy_by_topic(), mrr_movements(), accuracy_over_time(), retention()] {
        let a = render_svg(&chart).unwrap();
        let b = render_svg(&chart.clone()).unwrap();
        assert_eq!(a, b);
    }
    let id_a = parse(&render_svg(&accuracy_by_topic()).unwrap())
        .root_element()
        .attribute("aria-labelledby")
        .unwrap()
        .to_owned();
    let id_b =
        parse(&render_svg(&retention()).unwrap()).root_element().attribute("aria-labelledby").unwrap().to_owned();
    assert_ne!(id_a, id_b, "two charts on one page need distinct ids");
}

#[test]
fn many_categories_stay_inside_the_chart() {
    let categories: Vec<String> = (1..=90).map(|i| format!("Week {i} of the programme")).collect();
    let values: Vec<f64> = (1..=90).map(|i| f64::from(i % 17) * 3.5 - 10.0).collect();
    let kinds =
        [ChartKind::VerticalBars(BarMode::Grouped), ChartKind::Line, ChartKind::HorizontalBars(BarMode::Grouped)];
    for (kind_index, kind) in kinds.into_iter().enumerate() {
        let chart = Chart::new(kind, "Weekly score")
            .categories(categories.clone())
            .series(Series::new("Score", values.clone()));
        let scene = layout(&chart).unwrap();
        let inside =
            |x: f64, y: f64| (-0.01..=chart.width + 0.01).contains(&x) && (-0.01..=chart.height + 0.01).contains(&y);
        for item in &scene.items {
            match item {
                Item::Rect { x, y, w, h, .. } => assert!(inside(*x, *y) && inside(x + w, y + h), "{item:?}"),
                Item::Polyline { points, .. } => assert!(points.iter().all(|(x, y)| inside(*x, *y)), "{item:?}"),
                Item::Circle { cx, cy, .. } => assert!(inside(*cx, *cy)),
                Item::Text { x, y, text, size, anchor, angle, .. } => {
                    assert!(inside(*x, *y), "{item:?}");
                    let w = bursar_charts::text_width(text, *size, false);
                    if *angle == -45.0 {
                        // Anchored at its end, running down and to the left.
                        let d = w * std::f64::consts::FRAC_1_SQRT_2;
                        assert!(inside(x - d - size * 0.6, y + d), "{item:?}");
                    } else {
                        assert_eq!(*angle, 0.0);
                        let left = match anchor {
                            bursar_charts::Anchor::Start => *x,
                            bursar_charts::Anchor::Middle => x - w / 2.0,
                            bursar_charts::Anchor::End => x - w,
                        };
                        assert!(left >= -0.5 && left + w <= chart.width + 0.5, "{item:?}");
                    }
                }
            }
        }
        // Bars: one each; the line: one unbroken run, its markers left out at this density.
        let expected = if kind == ChartKind::Line { (0, 0, 1) } else { (90, 0, 0) };
        assert_eq!((scene.count(Role::Bar), scene.count(Role::Point), scene.count(Role::Line)), expected);
        // Labels are thinned out, so fewer than 90 are written, but more than a handful.
        let labels = scene.count(Role::CategoryLabel);
        assert!((4..90).contains(&labels), "{kind:?}: {labels} labels");
        let svg = render_svg(&chart).unwrap();
        save_preview(&format!("many-{}", ["bars", "line", "hbars"][kind_index]), &svg);
        assert!(svg.contains("Week 90 of the programme 7.5"), "the description keeps every value");
    }
}

#[test]
fn invalid_charts_are_errors() {
    let mismatched = Chart::new(ChartKind::Line, "x").categories(["a", "b"]).series(Series::new("s", [1.0]));
    assert_eq!(render_svg(&mismatched), Err(ChartError::SeriesLength { series: 0, expected: 2, found: 1 }));
    let labels = Chart::new(ChartKind::Line, "x").categories(["a"]).series(Series::new("s", [1.0]).labels(["1", "2"]));
    assert!(matches!(render_svg(&labels), Err(ChartError::LabelsLength { .. })));
    for (w, h) in [(f64::NAN, 300.0), (0.0, 300.0), (640.0, f64::INFINITY), (1e9, 300.0)] {
        let chart = Chart::new(ChartKind::Line, "x").size(w, h);
        assert!(matches!(layout(&chart), Err(ChartError::Size { .. })), "{w}×{h}");
    }
    let mut axis = Chart::new(ChartKind::Line, "x");
    axis.value_axis.min = Some(5.0);
    axis.value_axis.max = Some(5.0);
    assert!(matches!(render_svg(&axis), Err(ChartError::Axis(_))));
    let huge = Chart::new(ChartKind::Line, "x").categories((0..30_000).map(|i| i.to_string()));
    assert!(matches!(render_svg(&huge), Err(ChartError::TooLarge { .. })));
}

#[test]
fn data_table_matches_the_chart() {
    let table = data_table(&mrr_movements());
    assert_eq!(table.caption, "MRR movements");
    assert_eq!(table.columns, ["Month", "New", "Expansion", "Contraction", "Churn"]);
    assert_eq!(table.rows.len(), 6);
    assert_eq!(table.rows[0].label, "Jan");
    assert_eq!(table.rows[0].cells[3].text, "\u{2212}€400");
    assert_eq!(table.rows[0].cells[3].value, Some(-400.0));
    let csv = table.to_csv();
    let mut lines = csv.split("\r\n");
    assert_eq!(lines.next(), Some("Month,New,Expansion,Contraction,Churn"));
    assert_eq!(lines.next(), Some("Jan,\"€1,200\",€300,\u{2212}€150,\u{2212}€400"));
    assert!(table.to_csv_values().contains("Jan,1200,300,-150,-400\r\n"));

    let heat = data_table(&retention());
    assert_eq!(heat.columns, ["Months since signup", "M0", "M1", "M2", "M3"]);
    assert_eq!(heat.rows[1].label, "Feb 2026");
    assert_eq!(heat.rows[1].cells[3].text, "");
    assert_eq!(heat.rows[1].cells[1].text, "58 %");

    let html = data_table(&accuracy_by_topic()).to_html();
    assert!(html.starts_with("<table><caption>Accuracy by topic</caption>"));
    assert!(html.contains("<th scope=\"row\">Algebra</th><td>82 %</td>"));
    let nasty = Chart::new(ChartKind::Line, "a<b").categories(["\"x\""]).series(Series::new("s", [1.0]));
    let html = data_table(&nasty).to_html();
    assert!(html.contains("a&lt;b") && html.contains("&quot;x&quot;"));
    assert_eq!(describe(&nasty), "a<b: \"x\" 1.");
}
