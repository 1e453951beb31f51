//! Heat maps: a grid of cells coloured by value, e.g. cohort retention.

use super::{Builder, Frame, CENTRE_SHIFT, LABEL_SIZE};
use crate::colour::text_on;
use crate::metrics::{text_width, truncate};
use crate::model::Value;
use crate::scene::{Anchor, Role};
use crate::ticks::Scale;

/// Number of swatches in the colour legend.
const LEGEND_STEPS: usize = 8;
const GAP: f64 = 6.0;

/// The colour domain: the axis limits, or 0..1 widened to the data.
fn domain(b: &Builder) -> Scale {
    let chart = b.chart;
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    for s in 0..chart.series.len() {
        for c in 0..chart.categories.len() {
            if let Value::Finite(v) = chart.value(s, c) {
                lo = lo.min(v);
                hi = hi.max(v);
            }
        }
    }
    let lo = chart.value_axis.min.unwrap_or(lo);
    let hi = chart.value_axis.max.unwrap_or(hi);
    let (lo, hi) = if lo < hi { (lo, hi) } else { (lo, lo + 1.0) };
    Scale { lo, hi, ticks: vec![lo, hi] }
}

pub(crate) fn draw(b: &mut Builder, frame: Frame) {
    let chart = b.chart;
    let palette = &chart.palette;
    let muted = palette.muted_text;
    let (rows, cols) = (chart.series.len(), chart.categories.len());
    let scale = domain(b);

    // Colour legend along the bottom: [title] low ■■■■■■■■ high.
    let legend_baseline = frame.bottom - 2.0;
    let mut x = frame.left;
    if let Some(title) = chart.value_axis.title.as_deref().filter(|t| !t.trim().is_empty()) {
        let text = truncate(title, LABEL_SIZE, false, frame.width() * 0.4);
        let w = text_width(&text, LABEL_SIZE, false);
        b.text(x, legend_baseline, text, LABEL_SIZE, muted, Anchor::Start, 0.0, Role::LegendLabel);
        x += w + 12.0;
    }
    let format = &chart.value_axis.format;
    let (low, high) = (format.format(scale.lo), format.format(scale.hi));
    let low_w = text_width(&low, LABEL_SIZE, false);
    b.text(x, legend_baseline, low, LABEL_SIZE, muted, Anchor::Start, 0.0, Role::LegendLabel);
    x += low_w + 6.0;
    for i in 0..LEGEND_STEPS {
        let t = (i as f64 + 0.5) / LEGEND_STEPS as f64;
        let fill = palette.heat_low.mix(palette.heat_high, t);
        b.rect(x, legend_baseline - 9.0, 16.0, 10.0, fill, Role::LegendSwatch, None);
        x += 16.0;
    }
    b.text(x + 6.0, legend_baseline, high, LABEL_SIZE, muted, Anchor::Start, 0.0, Role::LegendLabel);

    // Column title and labels above the grid, row labels to its left.
    let mut top = frame.top;
    let widest_row = chart.series.iter().map(|s| text_width(&s.name, LABEL_SIZE, false)).fold(0.0, f64::max);
    let row_label_w = widest_row.min(frame.width() * 0.3);
    let grid_left = frame.left + if widest_row > 0.0 { row_label_w + 8.0 } else { 0.0 };
    let grid_right = frame.right.max(grid_left + 1.0);
    let cell_w = (grid_right - grid_left) / cols as f64;
    if let Some(title) = chart.category_title.as_deref().filter(|t| !t.trim().is_empty()) {
        let text = truncate(title, LABEL_SIZE, false, grid_right - grid_left);
        let cx = (grid_left + grid_right) / 2.0;
        b.text(cx, top + LABEL_SIZE * 0.8, text, LABEL_SIZE, muted, Anchor::Middle, 0.0, Role::AxisTitle);
        top += LABEL_SIZE + GAP;
    }
    let widest_col = chart.categories.iter().map(|c| text_width(c, LABEL_SIZE, false)).fold(0.0, f64::max);
    let every = (((widest_col.min(100.0) + GAP) / cell_w).ceil() as usize).max(1);
    for (i, category) in chart.categories.iter().enumerate() {
        if i % every != 0 {
            continue;
        }
        let text = truncate(category, LABEL_SIZE, false, every as f64 * cell_w - 4.0);
        let cx = grid_left + (i as f64 + 0.5) * cell_w;
        b.text(cx, top + LABEL_SIZE * 0.8, text, LABEL_SIZE, muted, Anchor::Middle, 0.0, Role::CategoryLabel);
    }
    top += LABEL_SIZE + GAP;
    let grid_bottom = (legend_baseline - 9.0 - 14.0).max(top + 1.0);
    let cell_h = (grid_bottom - top) / rows as f64;
    let row_every = ((LABEL_SIZE * 1.2 / cell_h).ceil() as usize).max(1);

    let value_size = (cell_h * 0.55).min(LABEL_SIZE);
    for (r, series) in chart.series.iter().enumerate() {
        let y = top + r as f64 * cell_h;
        if r % row_every == 0 {
            let text = truncate(&series.name, LABEL_SIZE, false, row_label_w);
            let baseline = y + cell_h / 2.0 + LABEL_SIZE * CENTRE_SHIFT;
            b.text(grid_left - 8.0, baseline, text, LABEL_SIZE, muted, Anchor::End, 0.0, Role::CategoryLabel);
        }
        for c in 0..cols {
            let Value::Finite(v) = chart.value(r, c) else {
                continue;
            };
            let fill = palette.heat_low.mix(palette.heat_high, scale.fraction(v));
            let x = grid_left + c as f64 * cell_w;
            let tip = format!("{} · {}: {}", series.name, chart.categories[c], chart.value_label(r, c));
            let inset = if cell_w > 4.0 && cell_h > 4.0 { 1.0 } else { 0.0 };
            b.rect(x + inset, y + inset, cell_w - 2.0 * inset, cell_h - 2.0 * inset, fill, Role::Cell, Some(tip));
            if !chart.show_values || value_size < 7.0 {
                continue;
            }
            let label = chart.value_label(r, c);
            if text_width(&label, value_size, false) + 4.0 <= cell_w {
                let baseline = y + cell_h / 2.0 + value_size * CENTRE_SHIFT;
                let cx = x + cell_w / 2.0;
                b.text(cx, baseline, label, value_size, text_on(fill), Anchor::Middle, 0.0, Role::ValueLabel);
            }
        }
    }
}
