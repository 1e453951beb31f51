//! Bar and line charts: a value axis with round ticks against a band per category.

use super::{dash, tooltip, value_scale, Builder, Frame, CENTRE_SHIFT, LABEL_SIZE, VALUE_SIZE};
use crate::colour::text_on;
use crate::metrics::{text_width, truncate};
use crate::model::{BarMode, Value};
use crate::scene::{Anchor, Role};

/// Share of a category band taken by its bars.
const BAR_SHARE: f64 = 0.72;
/// Gap between a label and the axis or mark it belongs to.
const GAP: f64 = 6.0;
/// Above this many categories, line markers are drawn only for isolated points.
const MARKER_LIMIT: usize = 60;

/// Category labels along an axis: the text shown at each category (`None`: skipped to avoid overlap),
/// their rotation, and the room they take across the axis.
struct AxisLabels {
    texts: Vec<Option<String>>,
    angle: f64,
    extent: f64,
}

/// Labels under a horizontal category axis with bands of width `band`: horizontal when they fit, else
/// turned 45° (`rotate`) or thinned out, truncated so that they take at most `max_extent` below the axis.
fn labels_below(categories: &[String], band: f64, rotate: bool, max_extent: f64) -> AxisLabels {
    let widest = categories.iter().map(|c| text_width(c, LABEL_SIZE, false)).fold(0.0, f64::max);
    let flat_extent = LABEL_SIZE * 1.1 + GAP;
    if widest + GAP <= band {
        let texts = categories.iter().map(|c| Some(c.clone())).collect();
        return AxisLabels { texts, angle: 0.0, extent: flat_extent };
    }
    if !rotate {
        let width = widest.min(120.0);
        let every = (((width + 2.0 * GAP) / band).ceil() as usize).max(1);
        let room = every as f64 * band - GAP;
        let texts = thin(categories, every, |c| truncate(c, LABEL_SIZE, false, room));
        return AxisLabels { texts, angle: 0.0, extent: flat_extent };
    }
    let diagonal = std::f64::consts::FRAC_1_SQRT_2;
    let cap = ((max_extent - GAP) / diagonal - LABEL_SIZE).max(30.0);
    let width = widest.min(cap);
    let every = ((LABEL_SIZE * 1.6 / band).ceil() as usize).max(1);
    let texts = thin(categories, every, |c| truncate(c, LABEL_SIZE, false, cap));
    AxisLabels { texts, angle: -45.0, extent: (width + LABEL_SIZE) * diagonal + GAP + 2.0 }
}

/// Keeps every `every`-th category label (from the first), transformed by `fit`.
fn thin(categories: &[String], every: usize, fit: impl Fn(&str) -> String) -> Vec<Option<String>> {
    categories.iter().enumerate().map(|(i, c)| (i % every == 0).then(|| fit(c))).collect()
}

/// Where a bar spans between two values, in axis order (`lower` ≤ `upper`).
struct Span {
    lower: f64,
    upper: f64,
}

/// The bars of one category: (series, span) pairs, stacked or side by side.
fn spans(b: &Builder, category: usize, stacked: bool) -> Vec<(usize, Span)> {
    let chart = b.chart;
    let (mut pos, mut neg) = (0.0, 0.0);
    let mut out = Vec::new();
    for s in 0..chart.series.len() {
        let Value::Finite(v) = chart.value(s, category) else {
            continue;
        };
        let span = if !stacked {
            Span { lower: v.min(0.0), upper: v.max(0.0) }
        } else if v >= 0.0 {
            pos += v;
            Span { lower: pos - v, upper: pos }
        } else {
            neg += v;
            Span { lower: neg, upper: neg - v }
        };
        out.push((s, span));
    }
    out
}

/// Vertical bars (`Some(mode)`) or lines (`None`) over categories along the horizontal axis.
pub(crate) fn vertical(b: &mut Builder, frame: Frame, mode: Option<BarMode>) {
    let chart = b.chart;
    let palette = &chart.palette;
    let (muted, grid, axis) = (palette.muted_text, palette.grid, palette.axis);
    let n = chart.categories.len();
    let stacked = mode == Some(BarMode::Stacked);
    let mut left = frame.left;
    if let Some(title) = chart.value_axis.title.as_deref().filter(|t| !t.trim().is_empty()) {
        let text = truncate(title, LABEL_SIZE, false, frame.height());
        let cy = (frame.top + frame.bottom) / 2.0;
        b.text(left + LABEL_SIZE * 0.8, cy, text, LABEL_SIZE, muted, Anchor::Middle, -90.0, Role::AxisTitle);
        left += LABEL_SIZE + 8.0;
    }
    let mut bottom = frame.bottom;
    let category_title = chart.category_title.as_deref().filter(|t| !t.trim().is_empty());
    if category_title.is_some() {
        bottom -= LABEL_SIZE + 8.0;
    }
    let labels_above = chart.show_values && mode == Some(BarMode::Grouped);
    let top = frame.top + LABEL_SIZE * 0.5 + if labels_above { VALUE_SIZE + 4.0 } else { 0.0 };
    let target = ((bottom - top - 30.0) / 45.0).round().clamp(2.0, 8.0) as usize;
    let (scale, tick_labels) = value_scale(chart, stacked, mode.is_some(), target);
    let tick_w = tick_labels.iter().map(|l| text_width(l, LABEL_SIZE, false)).fold(0.0, f64::max);
    let plot_left = left + tick_w + 8.0;
    let plot_right = frame.right.max(plot_left + 1.0);
    let band = (plot_right - plot_left) / n as f64;
    let labels = labels_below(&chart.categories, band, mode.is_some(), frame.height() * 0.3);
    let plot_bottom = (bottom - labels.extent).max(top + 1.0);
    let plot_top = top;
    let y_of = |v: f64| plot_bottom - scale.fraction(v) * (plot_bottom - plot_top);

    for (tick, label) in scale.ticks.iter().zip(tick_labels) {
        let y = y_of(*tick);
        if *tick != 0.0 {
            b.hrule(plot_left, plot_right, y, grid, Role::Grid);
        }
        b.text(
            plot_left - 8.0,
            y + LABEL_SIZE * CENTRE_SHIFT,
            label,
            LABEL_SIZE,
            muted,
            Anchor::End,
            0.0,
            Role::TickLabel,
        );
    }
    let bars = mode.is_some();
    if scale.lo > 0.0 || !bars {
        b.hrule(plot_left, plot_right, plot_bottom, axis, Role::Axis);
    }
    for (i, text) in labels.texts.into_iter().enumerate() {
        let Some(text) = text else { continue };
        let x = plot_left + (i as f64 + 0.5) * band;
        if labels.angle == 0.0 {
            // A thinned-out label may be wider than its band: keep it inside the chart.
            let half = text_width(&text, LABEL_SIZE, false) / 2.0;
            let x = x.min(chart.width - 2.0 - half).max(2.0 + half);
            let y = plot_bottom + GAP + LABEL_SIZE * 0.8;
            b.text(x, y, text, LABEL_SIZE, muted, Anchor::Middle, 0.0, Role::CategoryLabel);
        } else {
            let (x, y) = (x + LABEL_SIZE * 0.3, plot_bottom + GAP + 2.0);
            // Turned text runs down to the left of its anchor: shorten it where it would leave the chart.
            let room = (x - 1.0) * std::f64::consts::SQRT_2 - LABEL_SIZE * 0.8;
            let text = truncate(&text, LABEL_SIZE, false, room.max(LABEL_SIZE));
            b.text(x, y, text, LABEL_SIZE, muted, Anchor::End, labels.angle, Role::CategoryLabel);
        }
    }
    if let Some(title) = category_title {
        let text = truncate(title, LABEL_SIZE, false, plot_right - plot_left);
        let x = (plot_left + plot_right) / 2.0;
        b.text(x, frame.bottom - 2.0, text, LABEL_SIZE, muted, Anchor::Middle, 0.0, Role::AxisTitle);
    }

    match mode {
        Some(mode) => {
            for c in 0..n {
                let x0 = plot_left + c as f64 * band + band * (1.0 - BAR_SHARE) / 2.0;
                column_bars(b, c, x0, band * BAR_SHARE, mode, &y_of);
            }
        }
        None => lines(b, plot_left, band, &y_of),
    }
    if scale.lo <= 0.0 && scale.hi >= 0.0 && (bars || scale.lo < 0.0) {
        b.hrule(plot_left, plot_right, y_of(0.0), axis, Role::ZeroLine);
    }
}

/// The bars of one category of a vertical bar chart, starting at `x0` within `inner` width.
fn column_bars(b: &mut Builder, c: usize, x0: f64, inner: f64, mode: BarMode, y_of: &dyn Fn(f64) -> f64) {
    let chart = b.chart;
    let stacked = mode == BarMode::Stacked;
    let m = chart.series.len().max(1) as f64;
    let sub = inner / m;
    let width = if stacked {
        inner
    } else if m > 1.0 {
        sub * 0.88
    } else {
        inner
    };
    for (s, span) in spans(b, c, stacked) {
        let x = if stacked { x0 } else { x0 + s as f64 * sub + (sub - width) / 2.0 };
        let (top, bottom) = (y_of(span.upper), y_of(span.lower));
        let fill = chart.series_colour(s);
        b.rect(x, top, width, bottom - top, fill, Role::Bar, Some(tooltip(chart, s, c)));
        if !chart.show_values {
            continue;
        }
        let label = chart.value_label(s, c);
        let label_w = text_width(&label, VALUE_SIZE, false);
        let cx = x + width / 2.0;
        if stacked {
            if bottom - top >= VALUE_SIZE + 4.0 && label_w + 4.0 <= width {
                let y = (top + bottom) / 2.0 + VALUE_SIZE * CENTRE_SHIFT;
                b.text(cx, y, label, VALUE_SIZE, text_on(fill), Anchor::Middle, 0.0, Role::ValueLabel);
            }
        } else if label_w <= sub + 2.0 {
            let negative = matches!(chart.value(s, c), Value::Finite(v) if v < 0.0);
            let y = if negative { bottom + 3.0 + VALUE_SIZE * 0.8 } else { top - 4.0 };
            b.text(cx, y, label, VALUE_SIZE, chart.palette.text, Anchor::Middle, 0.0, Role::ValueLabel);
        }
    }
}

/// One polyline per unbroken run of values, with markers.
fn lines(b: &mut Builder, plot_left: f64, band: f64, y_of: &dyn Fn(f64) -> f64) {
    let chart = b.chart;
    let n = chart.categories.len();
    for s in 0..chart.series.len() {
        let colour = chart.series_colour(s);
        let points: Vec<Option<(f64, f64)>> = (0..n)
            .map(|c| match chart.value(s, c) {
                Value::Finite(v) => Some((plot_left + (c as f64 + 0.5) * band, y_of(v))),
                _ => None,
            })
            .collect();
        let mut markers = Vec::new();
        for run in points.split(Option::is_none).filter(|r| !r.is_empty()) {
            let run: Vec<(f64, f64)> = run.iter().flatten().copied().collect();
            if run.len() > 1 {
                b.polyline(run.clone(), colour, 2.0, dash(s), Role::Line);
            }
            if run.len() == 1 || n <= MARKER_LIMIT {
                markers.extend(run);
            }
        }
        for (x, y) in markers {
            let c = (((x - plot_left) / band) - 0.5).round().max(0.0) as usize;
            b.circle(x, y, 3.5, colour, Role::Point, Some(tooltip(chart, s, c)));
        }
    }
}

/// Horizontal bars: categories down the left side, the value axis along the bottom.
pub(crate) fn horizontal(b: &mut Builder, frame: Frame, mode: BarMode) {
    let chart = b.chart;
    let palette = &chart.palette;
    let (muted, grid, axis) = (palette.muted_text, palette.grid, palette.axis);
    let n = chart.categories.len();
    let stacked = mode == BarMode::Stacked;
    let mut left = frame.left;
    if let Some(title) = chart.category_title.as_deref().filter(|t| !t.trim().is_empty()) {
        let text = truncate(title, LABEL_SIZE, false, frame.height());
        let cy = (frame.top + frame.bottom) / 2.0;
        b.text(left + LABEL_SIZE * 0.8, cy, text, LABEL_SIZE, muted, Anchor::Middle, -90.0, Role::AxisTitle);
        left += LABEL_SIZE + 8.0;
    }
    let mut bottom = frame.bottom;
    let value_title = chart.value_axis.title.as_deref().filter(|t| !t.trim().is_empty());
    if value_title.is_some() {
        bottom -= LABEL_SIZE + 8.0;
    }
    let plot_bottom = bottom - (LABEL_SIZE * 1.1 + GAP);
    let plot_top = frame.top + 2.0;

    let widest = chart.categories.iter().map(|c| text_width(c, LABEL_SIZE, false)).fold(0.0, f64::max);
    let label_w = widest.min(frame.width() * 0.35);
    let value_room = if chart.show_values && !stacked {
        let widest_value = (0..chart.series.len())
            .flat_map(|s| (0..n).map(move |c| (s, c)))
            .map(|(s, c)| text_width(&chart.value_label(s, c), VALUE_SIZE, false))
            .fold(0.0, f64::max);
        widest_value.min(frame.width() * 0.25) + 6.0
    } else {
        0.0
    };
    let estimate = frame.width() - label_w - value_room;
    let target = (estimate / 80.0).round().clamp(2.0, 8.0) as usize;
    let (scale, tick_labels) = value_scale(chart, stacked, true, target);
    let half_first = tick_labels.first().map_or(0.0, |l| text_width(l, LABEL_SIZE, false) / 2.0);
    let half_last = tick_labels.last().map_or(0.0, |l| text_width(l, LABEL_SIZE, false) / 2.0);
    let plot_left = (left + label_w + 8.0).max(left + half_first);
    let plot_right = (frame.right - value_room.max(half_last)).max(plot_left + 1.0);
    let x_of = |v: f64| plot_left + scale.fraction(v) * (plot_right - plot_left);
    let band = (plot_bottom - plot_top).max(1.0) / n as f64;

    for (tick, label) in scale.ticks.iter().zip(tick_labels) {
        let x = x_of(*tick);
        if *tick != 0.0 {
            b.vrule(x, plot_top, plot_bottom, grid, Role::Grid);
        }
        let y = plot_bottom + GAP + LABEL_SIZE * 0.8;
        b.text(x, y, label, LABEL_SIZE, muted, Anchor::Middle, 0.0, Role::TickLabel);
    }
    if scale.lo > 0.0 {
        b.vrule(plot_left, plot_top, plot_bottom, axis, Role::Axis);
    }
    let every = ((LABEL_SIZE * 1.2 / band).ceil() as usize).max(1);
    for (i, category) in chart.categories.iter().enumerate() {
        if i % every != 0 {
            continue;
        }
        let text = truncate(category, LABEL_SIZE, false, label_w);
        let y = plot_top + (i as f64 + 0.5) * band + LABEL_SIZE * CENTRE_SHIFT;
        b.text(plot_left - 8.0, y, text, LABEL_SIZE, muted, Anchor::End, 0.0, Role::CategoryLabel);
    }
    if let Some(title) = value_title {
        let text = truncate(title, LABEL_SIZE, false, plot_right - plot_left);
        let x = (plot_left + plot_right) / 2.0;
        b.text(x, frame.bottom - 2.0, text, LABEL_SIZE, muted, Anchor::Middle, 0.0, Role::AxisTitle);
    }

    let inner = band * BAR_SHARE;
    let m = chart.series.len().max(1) as f64;
    let sub = inner / m;
    let thickness = if stacked {
        inner
    } else if m > 1.0 {
        sub * 0.88
    } else {
        inner
    };
    for c in 0..n {
        let y0 = plot_top + c as f64 * band + (band - inner) / 2.0;
        for (s, span) in spans(b, c, stacked) {
            let y = if stacked { y0 } else { y0 + s as f64 * sub + (sub - thickness) / 2.0 };
            let (x_lo, x_hi) = (x_of(span.lower), x_of(span.upper));
            let fill = chart.series_colour(s);
            b.rect(x_lo, y, x_hi - x_lo, thickness, fill, Role::Bar, Some(tooltip(chart, s, c)));
            if !chart.show_values || thickness < VALUE_SIZE * 0.9 {
                continue;
            }
            let label = chart.value_label(s, c);
            let label_w = text_width(&label, VALUE_SIZE, false);
            let baseline = y + thickness / 2.0 + VALUE_SIZE * CENTRE_SHIFT;
            let negative = matches!(chart.value(s, c), Value::Finite(v) if v < 0.0);
            let inside = |b: &mut Builder, label: String| {
                if label_w + 6.0 <= x_hi - x_lo {
                    let cx = (x_lo + x_hi) / 2.0;
                    b.text(cx, baseline, label, VALUE_SIZE, text_on(fill), Anchor::Middle, 0.0, Role::ValueLabel);
                }
            };
            let ink = chart.palette.text;
            if stacked {
                inside(b, label);
            } else if !negative {
                b.text(x_hi + 4.0, baseline, label, VALUE_SIZE, ink, Anchor::Start, 0.0, Role::ValueLabel);
            } else if x_lo - plot_left >= label_w + 6.0 {
                b.text(x_lo - 4.0, baseline, label, VALUE_SIZE, ink, Anchor::End, 0.0, Role::ValueLabel);
            } else {
                inside(b, label);
            }
        }
    }
    if scale.lo <= 0.0 && scale.hi >= 0.0 {
        b.vrule(x_of(0.0), plot_top, plot_bottom, axis, Role::ZeroLine);
    }
}
