//! The dashboard's charts, built once from its data so the hosted page
//! (SVG) and the PDF report draw the same thing.

use super::dashboard::Dashboard;
use bursar_charts::{BarMode, Chart, ChartKind, NumberFormat, Series, ValueAxis};

fn percent_axis(title: &str) -> ValueAxis {
    ValueAxis {
        title: Some(title.to_string()),
        format: NumberFormat::percent(0),
        min: Some(0.0),
        max: Some(100.0),
        ..ValueAxis::default()
    }
}

/// Accuracy per topic, weakest first.
pub fn topics(d: &Dashboard) -> Chart {
    let labels: Vec<String> = d.topics.iter().map(|t| format!("{:.0} %", t.accuracy)).collect();
    Chart::new(ChartKind::HorizontalBars(BarMode::Grouped), "Accuracy by topic")
        .subtitle(format!("{} · weakest first", d.exam))
        .categories(d.topics.iter().map(|t| t.topic.clone()))
        .series(Series::new("Accuracy", d.topics.iter().map(|t| t.accuracy)).labels(labels))
        .value_axis(percent_axis("Accuracy"))
        .size(640.0, (90 + 34 * d.topics.len()).max(200) as f64)
}

/// Accuracy by difficulty band, per two-week period.
pub fn progress(d: &Dashboard) -> Chart {
    let periods: Vec<String> = d.difficulty_progress.iter().map(|f| f.start.clone()).collect();
    let band = |name: &str, pick: fn(&super::dashboard::Fortnight) -> &super::dashboard::BandStat| {
        Series::with_gaps(name, d.difficulty_progress.iter().map(|f| pick(f).accuracy))
    };
    let mut c = Chart::new(ChartKind::Line, "Accuracy by difficulty")
        .subtitle("Two-week periods starting on the date shown")
        .categories(periods)
        .series(band("Easy (1–2)", |f| &f.easy))
        .series(band("Medium (3)", |f| &f.medium))
        .series(band("Hard (4–5)", |f| &f.hard))
        .value_axis(percent_axis("Accuracy"));
    c.category_title = Some("Period".into());
    c
}
