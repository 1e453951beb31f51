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

/// An instructor's courses: completion rate and average score, side by side.
pub fn courses(l: &super::instructor::InstructorLearning) -> Chart {
    let completion: Vec<f64> = l.courses.iter().map(|c| c.completion_rate_bps as f64 / 100.0).collect();
    let labels =
        |v: &[Option<f64>]| v.iter().map(|x| x.map_or_else(|| "–".into(), |x| format!("{x:.0} %"))).collect::<Vec<_>>();
    let scores: Vec<Option<f64>> = l.courses.iter().map(|c| c.average_score).collect();
    let completion_labels = labels(&completion.iter().copied().map(Some).collect::<Vec<_>>());
    Chart::new(ChartKind::HorizontalBars(BarMode::Grouped), "Completion and average score by course")
        .subtitle("Completion: enrolled learners who finished · score: completed tests")
        .categories(l.courses.iter().map(|c| c.title.clone()))
        .series(Series::new("Completion rate", completion).labels(completion_labels))
        .series(Series::with_gaps("Average score", scores.clone()).labels(labels(&scores)))
        .value_axis(percent_axis("Percent"))
        .size(640.0, (110 + 56 * l.courses.len()).max(200) as f64)
}

/// A form's items: the share of persons who answered each right.
pub fn items(s: &super::statistics::ItemStatistics) -> Chart {
    let right: Vec<Option<f64>> = s.items.iter().map(|i| i.p_value.map(|p| p * 100.0)).collect();
    let labels: Vec<String> = right.iter().map(|p| p.map_or_else(|| "–".into(), |p| format!("{p:.0} %"))).collect();
    Chart::new(ChartKind::HorizontalBars(BarMode::Grouped), "Share answering right, by item")
        .subtitle(format!("{} persons · calibration {}", s.persons, s.calibration))
        .categories(s.items.iter().map(|i| i.item.clone()))
        .series(Series::with_gaps("Right", right).labels(labels))
        .value_axis(percent_axis("Share right"))
        .size(640.0, (90 + 30 * s.items.len()).max(200) as f64)
}
