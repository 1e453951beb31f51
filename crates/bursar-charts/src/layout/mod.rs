//! Turns a [`Chart`] into a [`Scene`]: header, legend, axes and marks.

mod cartesian;
mod heatmap;

use crate::colour::Rgb;
use crate::format::NumberFormat;
use crate::metrics::{text_width, truncate, wrap};
use crate::model::{Chart, ChartError, ChartKind, Value};
use crate::scene::{Anchor, Item, Role, Scene};
use crate::ticks::{nice_scale, Scale};

pub(crate) const PAD: f64 = 16.0;
pub(crate) const TITLE_SIZE: f64 = 16.0;
pub(crate) const SUBTITLE_SIZE: f64 = 12.0;
pub(crate) const LABEL_SIZE: f64 = 11.0;
pub(crate) const VALUE_SIZE: f64 = 10.0;
/// Share of the ascent above the baseline used to centre text vertically on a point.
pub(crate) const CENTRE_SHIFT: f64 = 0.35;

/// The free area that is left for the plot, legend and axes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Frame {
    pub left: f64,
    pub right: f64,
    pub top: f64,
    pub bottom: f64,
}

impl Frame {
    pub fn width(&self) -> f64 {
        (self.right - self.left).max(1.0)
    }

    pub fn height(&self) -> f64 {
        (self.bottom - self.top).max(1.0)
    }
}

/// Collects the items of one chart.
pub(crate) struct Builder<'a> {
    pub chart: &'a Chart,
    pub items: Vec<Item>,
}

impl Builder<'_> {
    #[allow(clippy::too_many_arguments)]
    pub fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, fill: Rgb, role: Role, tooltip: Option<String>) {
        self.items.push(Item::Rect { x, y, w: w.max(0.0), h: h.max(0.0), fill, role, tooltip });
    }

    pub fn polyline(&mut self, points: Vec<(f64, f64)>, stroke: Rgb, width: f64, dash: Vec<f64>, role: Role) {
        self.items.push(Item::Polyline { points, stroke, width, dash, role });
    }

    pub fn circle(&mut self, cx: f64, cy: f64, r: f64, fill: Rgb, role: Role, tooltip: Option<String>) {
        self.items.push(Item::Circle { cx, cy, r, fill, role, tooltip });
    }

    #[allow(clippy::too_many_arguments)]
    pub fn text(&mut self, x: f64, y: f64, text: String, size: f64, fill: Rgb, anchor: Anchor, angle: f64, role: Role) {
        if text.is_empty() {
            return;
        }
        let bold = role == Role::Title;
        self.items.push(Item::Text { x, y, text, size, bold, fill, anchor, angle, role });
    }

    /// A horizontal rule from `x1` to `x2`.
    pub fn hrule(&mut self, x1: f64, x2: f64, y: f64, stroke: Rgb, role: Role) {
        self.polyline(vec![(x1, y), (x2, y)], stroke, 1.0, Vec::new(), role);
    }

    /// A vertical rule from `y1` to `y2`.
    pub fn vrule(&mut self, x: f64, y1: f64, y2: f64, stroke: Rgb, role: Role) {
        self.polyline(vec![(x, y1), (x, y2)], stroke, 1.0, Vec::new(), role);
    }

    /// Title and subtitle, wrapped to two lines each; returns the top of the space below them.
    fn header(&mut self) -> f64 {
        let chart = self.chart;
        let width = chart.width - 2.0 * PAD;
        let mut y = PAD;
        for line in wrap(&chart.title, TITLE_SIZE, true, width, 2) {
            y += TITLE_SIZE;
            self.text(PAD, y, line, TITLE_SIZE, chart.palette.text, Anchor::Start, 0.0, Role::Title);
            y += TITLE_SIZE * 0.3;
        }
        if let Some(subtitle) = chart.subtitle.as_deref().filter(|s| !s.trim().is_empty()) {
            y += 2.0;
            for line in wrap(subtitle, SUBTITLE_SIZE, false, width, 2) {
                y += SUBTITLE_SIZE;
                self.text(PAD, y, line, SUBTITLE_SIZE, chart.palette.muted_text, Anchor::Start, 0.0, Role::Subtitle);
                y += SUBTITLE_SIZE * 0.35;
            }
        }
        y + 10.0
    }

    /// Swatches and series names flowing left to right under the header; returns the top of the space below.
    fn legend(&mut self, frame: Frame) -> f64 {
        let chart = self.chart;
        let named = chart.series.iter().any(|s| !s.name.trim().is_empty());
        if chart.series.len() < 2 || !named {
            return frame.top;
        }
        let line = chart.kind == ChartKind::Line;
        let swatch_w = if line { 20.0 } else { 11.0 };
        let row_h = LABEL_SIZE + 7.0;
        let (mut x, mut y) = (frame.left, frame.top);
        for (index, series) in chart.series.iter().enumerate() {
            let label = truncate(&series.name, LABEL_SIZE, false, frame.width() * 0.45);
            let item_w = swatch_w + 5.0 + text_width(&label, LABEL_SIZE, false);
            if x > frame.left && x + item_w > frame.right {
                x = frame.left;
                y += row_h;
            }
            let colour = chart.series_colour(index);
            let mid = y + LABEL_SIZE * 0.5;
            if line {
                let dash = dash(index);
                self.polyline(vec![(x, mid), (x + swatch_w, mid)], colour, 2.0, dash, Role::LegendSwatch);
            } else {
                self.rect(x, mid - 5.5, 11.0, 11.0, colour, Role::LegendSwatch, None);
            }
            let baseline = mid + LABEL_SIZE * CENTRE_SHIFT;
            let muted = chart.palette.muted_text;
            self.text(x + swatch_w + 5.0, baseline, label, LABEL_SIZE, muted, Anchor::Start, 0.0, Role::LegendLabel);
            x += item_w + 16.0;
        }
        y + row_h + 4.0
    }

    fn message(&mut self, frame: Frame) {
        let chart = self.chart;
        let text = truncate(&chart.words.no_data, 13.0, false, frame.width());
        let y = frame.top + frame.height() / 2.0;
        let x = frame.left + frame.width() / 2.0;
        self.text(x, y, text, 13.0, chart.palette.muted_text, Anchor::Middle, 0.0, Role::Message);
    }
}

/// Dash pattern of line series number `index`, so that lines differ by more than colour.
pub(crate) fn dash(index: usize) -> Vec<f64> {
    match index % 4 {
        0 => Vec::new(),
        1 => vec![7.0, 4.0],
        2 => vec![2.0, 3.0],
        _ => vec![9.0, 3.0, 2.0, 3.0],
    }
}

/// Lays out `chart` as positioned primitives.
pub fn layout(chart: &Chart) -> Result<Scene, ChartError> {
    chart.validate()?;
    let mut b = Builder { chart, items: Vec::new() };
    if let Some(background) = chart.palette.background {
        b.rect(0.0, 0.0, chart.width, chart.height, background, Role::Background, None);
    }
    let top = b.header();
    let frame = Frame { left: PAD, right: chart.width - PAD, top, bottom: chart.height - PAD };
    if !chart.has_data() {
        b.message(frame);
    } else {
        match chart.kind {
            ChartKind::HeatMap => heatmap::draw(&mut b, frame),
            kind => {
                let top = b.legend(frame);
                let frame = Frame { top, ..frame };
                match kind {
                    ChartKind::VerticalBars(mode) => cartesian::vertical(&mut b, frame, Some(mode)),
                    ChartKind::Line => cartesian::vertical(&mut b, frame, None),
                    ChartKind::HorizontalBars(mode) => cartesian::horizontal(&mut b, frame, mode),
                    ChartKind::HeatMap => {}
                }
            }
        }
    }
    let mut items = b.items;
    items.retain(Item::is_finite);
    Ok(Scene { width: chart.width, height: chart.height, items })
}

/// Digits after the decimal separator needed to tell ticks `step` apart once scaled by the format.
fn tick_decimals(step: f64, format: &NumberFormat) -> usize {
    let scaled = (step * format.scale).abs();
    if !scaled.is_finite() || scaled <= 0.0 || scaled >= 1.0 {
        return 0;
    }
    ((-scaled.log10()) - 1e-9).ceil().clamp(0.0, 12.0) as usize
}

/// The value scale of a bar or line chart and its tick labels.
pub(crate) fn value_scale(chart: &Chart, stacked: bool, bars: bool, target: usize) -> (Scale, Vec<String>) {
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for c in 0..chart.categories.len() {
        let (mut pos, mut neg) = (0.0f64, 0.0f64);
        for s in 0..chart.series.len() {
            if let Value::Finite(v) = chart.value(s, c) {
                if stacked {
                    if v >= 0.0 {
                        pos += v;
                    } else {
                        neg += v;
                    }
                } else {
                    lo = lo.min(v);
                    hi = hi.max(v);
                }
            }
        }
        if stacked {
            lo = lo.min(neg).min(pos);
            hi = hi.max(pos).max(neg);
        }
    }
    if bars {
        lo = lo.min(0.0);
        hi = hi.max(0.0);
    }
    let axis = &chart.value_axis;
    if let Some(ticks) = axis.ticks.as_ref().filter(|t| !t.is_empty()) {
        for (v, _) in ticks {
            lo = lo.min(*v);
            hi = hi.max(*v);
        }
        let lo = axis.min.unwrap_or(lo);
        let hi = axis.max.unwrap_or(hi);
        let (lo, hi) = if lo < hi { (lo, hi) } else { (lo, lo + 1.0) };
        let inside: Vec<&(f64, String)> = ticks.iter().filter(|(v, _)| *v >= lo && *v <= hi).collect();
        let scale = Scale { lo, hi, ticks: inside.iter().map(|(v, _)| *v).collect() };
        return (scale, inside.into_iter().map(|(_, l)| l.clone()).collect());
    }
    let scale = nice_scale(lo, hi, target, axis.min, axis.max);
    let decimals = tick_decimals(scale.step().unwrap_or(1.0), &axis.format);
    let labels = scale.ticks.iter().map(|t| axis.format.format_fixed(*t, decimals)).collect();
    (scale, labels)
}

/// "Category · Series: value" for a mark's tooltip.
pub(crate) fn tooltip(chart: &Chart, series: usize, category: usize) -> String {
    let cat = chart.categories.get(category).map(String::as_str).unwrap_or("");
    let name = chart.series.get(series).map(|s| s.name.trim()).unwrap_or("");
    let label = chart.value_label(series, category);
    if chart.series.len() > 1 && !name.is_empty() {
        format!("{cat} · {name}: {label}")
    } else {
        format!("{cat}: {label}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_decimals_follow_the_scaled_step() {
        assert_eq!(tick_decimals(20.0, &NumberFormat::plain()), 0);
        assert_eq!(tick_decimals(0.2, &NumberFormat::plain()), 1);
        assert_eq!(tick_decimals(0.05, &NumberFormat::plain()), 2);
        assert_eq!(tick_decimals(0.1, &NumberFormat::plain()), 1);
        assert_eq!(tick_decimals(0.2, &NumberFormat::fraction_as_percent(0)), 0);
        assert_eq!(tick_decimals(0.005, &NumberFormat::fraction_as_percent(0)), 1);
    }
}
