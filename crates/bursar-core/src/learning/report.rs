//! PDF reports: a learner's session report (one attempt's results with the
//! learner's topics, progress and recommendations) and an exam's cohort
//! report, drawn by `bursar_pdf` with the dashboard's own charts.

use super::{charts, dashboard, statistics};
use crate::actor::Actor;
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use bursar_pdf::{Align, Block, ColumnWidths, Report, ReportLabels};
use bursar_store::learning::attempts as attempt_store;
use bursar_store::learning::content as content_store;
use std::collections::BTreeMap;

fn date(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map(|t| t.strftime("%-d %b %Y").to_string()).unwrap_or_default()
}

fn duration(ms: i64) -> String {
    let s = ms / 1000;
    if s >= 3600 {
        format!("{} h {} min", s / 3600, (s % 3600) / 60)
    } else {
        format!("{} min {} s", s / 60, s % 60)
    }
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "–".into(), |p| format!("{p:.1} %"))
}

fn footer(ctx: &Ctx) -> Option<String> {
    Some(ctx.config.seller_name.clone())
}

/// The PDF session report of one attempt. `learner`: when given, the
/// attempt must be theirs (a learner's own dashboard).
pub async fn session_report(ctx: &Ctx, livemode: bool, attempt: &str, learner: Option<&str>) -> Result<Vec<u8>> {
    let a = attempt_store::attempt(ctx.db.reader(), livemode, attempt)
        .await?
        .filter(|a| learner.is_none_or(|l| l == a.learner))
        .ok_or_else(|| Error::not_found("id", "attempt", attempt))?;
    let form =
        content_store::assessment(ctx.db.reader(), livemode, &a.assessment_id).await?.ok_or_else(Error::internal)?;
    let responses = attempt_store::attempt_responses(ctx.db.reader(), &a.id).await?;
    let mut conn = ctx.db.reader().acquire().await?;
    let ids: Vec<String> = responses.iter().map(|r| r.item_id.clone()).collect();
    let items: BTreeMap<String, bursar_store::learning::content::ItemRow> =
        content_store::items_by_id(&mut conn, &ids).await?.into_iter().map(|i| (i.id.clone(), i)).collect();
    drop(conn);
    // This attempt's topics.
    let mut by_topic: BTreeMap<String, (i64, i64, i64, i64)> = BTreeMap::new();
    for r in &responses {
        let topic = items.get(&r.item_id).map_or_else(|| "—".to_string(), |i| i.topic.clone());
        let e = by_topic.entry(topic).or_default();
        e.0 += 1;
        e.1 += r.score_milli;
        if let Some(t) = r.time_ms {
            e.2 += 1;
            e.3 += t;
        }
    }
    let d = dashboard::dashboard(ctx, livemode, &a.learner, Some(&a.exam)).await?;
    let score = (a.max_score_milli > 0).then(|| 100.0 * a.score_milli as f64 / a.max_score_milli as f64);
    let mut blocks = vec![
        Block::KeyFigures(vec![
            ("Score".into(), pct(score)),
            ("Answers".into(), a.responses.to_string()),
            ("Time".into(), duration(a.time_ms)),
            ("Percentile".into(), d.summary.percentile.map_or_else(|| "–".into(), |p| format!("{p:.0}"))),
        ]),
        Block::Heading("This session by topic".into()),
        Block::Table {
            columns: vec![
                ("Topic".into(), Align::Left),
                ("Answers".into(), Align::Right),
                ("Right".into(), Align::Right),
                ("Average time".into(), Align::Right),
            ],
            rows: by_topic
                .iter()
                .map(|(t, (n, s, timed, ms))| {
                    vec![
                        t.clone(),
                        n.to_string(),
                        pct(Some(*s as f64 / (*n as f64 * 10.0))),
                        if *timed > 0 { format!("{:.0} s", *ms as f64 / *timed as f64 / 1000.0) } else { "–".into() },
                    ]
                })
                .collect(),
            widths: ColumnWidths::Fractions(vec![0.4, 0.2, 0.2, 0.2]),
        },
        Block::Heading("All your answers in this exam".into()),
        Block::KeyFigures(vec![
            ("Tests completed".into(), d.summary.tests_completed.to_string()),
            ("Average score".into(), pct(d.summary.average_score)),
            ("Study streak".into(), format!("{} days", d.summary.study_streak_days)),
            ("Total time".into(), duration(d.summary.total_time_ms)),
        ]),
    ];
    if !d.topics.is_empty() {
        blocks.push(Block::Chart(charts::topics(&d)));
    }
    if !d.difficulty_progress.is_empty() {
        blocks.push(Block::Chart(charts::progress(&d)));
    }
    if let Some(ab) = d.abilities.first() {
        blocks.push(Block::Paragraph(format!(
            "Ability on {} ({} model): θ = {:.2} ± {:.2}, from {} items.",
            ab.assessment, ab.model, ab.theta, ab.standard_error, ab.items
        )));
    }
    let mut advice: Vec<String> =
        d.recommendations.topics.iter().map(|t| format!("Practise {}: {}.", t.topic, t.reason)).collect();
    advice.extend(d.recommendations.items.iter().map(|i| format!("Try item {} ({}, {}).", i.item, i.topic, i.reason)));
    if !advice.is_empty() {
        blocks.push(Block::Heading("Recommendations".into()));
        blocks.push(Block::Paragraph(advice.join("\n")));
    }
    let report = Report {
        title: "Session report".into(),
        subtitle: Some(form.title.clone()),
        meta: vec![
            ("Learner".into(), a.learner.clone()),
            ("Exam".into(), a.exam.clone()),
            ("Date".into(), date(a.ended_at.unwrap_or(a.started_at))),
            ("Status".into(), a.status.replace('_', " ")),
        ],
        blocks,
        footer: footer(ctx),
        logo: None,
        labels: ReportLabels::default(),
    };
    bursar_pdf::render_report(&report).map_err(|e| Error::internal_from("session report", e))
}

/// The PDF cohort report of an exam.
pub async fn cohort_report(ctx: &Ctx, actor: &Actor, exam: &str, kind: &str) -> Result<Vec<u8>> {
    let b = statistics::cohort_benchmarks(ctx, actor, exam, kind).await?;
    let rows: Vec<Vec<String>> = b
        .cohorts
        .iter()
        .map(|c| {
            let q = |i: usize| c.quantiles.get(i).map_or_else(|| "–".to_string(), |v| format!("{v:.1}"));
            vec![
                format!("{} {}", c.kind, c.cohort),
                c.learners.to_string(),
                pct(c.mean_score),
                q(0),
                q(2),
                q(4),
                c.mean_percentile_in_exam.map_or_else(|| "–".into(), |p| format!("{p:.0}")),
            ]
        })
        .collect();
    let chart = bursar_charts::Chart::new(
        bursar_charts::ChartKind::HorizontalBars(bursar_charts::BarMode::Grouped),
        "Mean score by cohort",
    )
    .categories(b.cohorts.iter().map(|c| c.cohort.clone()))
    .series(bursar_charts::Series::with_gaps("Mean score", b.cohorts.iter().map(|c| c.mean_score)))
    .value_axis(bursar_charts::ValueAxis {
        format: bursar_charts::NumberFormat::percent(0),
        min: Some(0.0),
        max: Some(100.0),
        ..Default::default()
    })
    .size(640.0, (90 + 30 * b.cohorts.len()).max(200) as f64);
    let report = Report {
        title: "Cohort report".into(),
        subtitle: Some(exam.to_string()),
        meta: vec![("Cohorts".into(), kind.to_string()), ("Date".into(), date(ctx.now_ms()))],
        blocks: vec![
            Block::Chart(chart),
            Block::Table {
                columns: vec![
                    ("Cohort".into(), Align::Left),
                    ("Learners".into(), Align::Right),
                    ("Mean".into(), Align::Right),
                    ("P10".into(), Align::Right),
                    ("Median".into(), Align::Right),
                    ("P90".into(), Align::Right),
                    ("Rank of mean".into(), Align::Right),
                ],
                rows,
                widths: ColumnWidths::Auto,
            },
            Block::Paragraph(
                "Scores are learners' average scores over their completed tests. The rank of a cohort's mean \
                 is its mid-point percentile rank among all learners of the exam."
                    .into(),
            ),
        ],
        footer: footer(ctx),
        logo: None,
        labels: ReportLabels::default(),
    };
    bursar_pdf::render_report(&report).map_err(|e| Error::internal_from("cohort report", e))
}
