//! The chart model: what is drawn, independent of the output format.

use std::fmt;

use crate::colour::{Palette, Rgb};
use crate::format::NumberFormat;

/// Largest number of values (categories × series) a chart accepts.
pub const MAX_POINTS: usize = 20_000;
/// Smallest and largest accepted chart side, in SVG user units (CSS pixels).
pub const MIN_SIDE: f64 = 160.0;
pub const MAX_SIDE: f64 = 10_000.0;

/// How the bars of several series share a category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BarMode {
    /// Side by side.
    Grouped,
    /// On top of each other; positive values stack upwards from zero, negative ones downwards.
    Stacked,
}

/// What sort of chart is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChartKind {
    /// Categories along the horizontal axis, bars rising from (or falling below) zero.
    VerticalBars(BarMode),
    /// Categories down the left side, bars running right (or left of zero).
    HorizontalBars(BarMode),
    /// Series as lines over ordered categories; missing values leave gaps.
    Line,
    /// A grid: one row per series (named by the series), one column per category, coloured by value.
    HeatMap,
}

/// One series of values, in the order of the chart's categories.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Shown in the legend, the text alternative and the data table (the row label of a heat map).
    pub name: String,
    /// `None` where there is no value (a gap). Non-finite values are not drawn and are named as such in
    /// the text alternative.
    pub values: Vec<Option<f64>>,
    /// Formatted value labels, one per value (e.g. "€1,200" or "42 %"). Empty: values are written with
    /// the value axis format.
    pub labels: Vec<String>,
    /// Overrides the palette colour for this series.
    pub colour: Option<Rgb>,
}

impl Series {
    /// A series with a value for every category.
    pub fn new(name: impl Into<String>, values: impl IntoIterator<Item = f64>) -> Series {
        Series::with_gaps(name, values.into_iter().map(Some))
    }

    /// A series where some categories have no value.
    pub fn with_gaps(name: impl Into<String>, values: impl IntoIterator<Item = Option<f64>>) -> Series {
        Series { name: name.into(), values: values.into_iter().collect(), labels: Vec::new(), colour: None }
    }

    /// Sets the formatted labels, one per value.
    pub fn labels<S: Into<String>>(mut self, labels: impl IntoIterator<Item = S>) -> Series {
        self.labels = labels.into_iter().map(Into::into).collect();
        self
    }

    pub fn colour(mut self, colour: Rgb) -> Series {
        self.colour = Some(colour);
        self
    }
}

/// Explicit tick positions with their labels.
pub type Ticks = Vec<(f64, String)>;

/// The value axis (vertical for vertical bars and lines, horizontal for horizontal bars, the colour
/// scale of a heat map).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ValueAxis {
    /// Axis title, e.g. "Accuracy" or "MRR (EUR)".
    pub title: Option<String>,
    /// Formats values that have no label of their own, and tick labels (with as many decimals as the
    /// tick step needs, so a money format with cents still labels round ticks "€500", "€1,000").
    pub format: NumberFormat,
    /// Fixed lower end of the axis; otherwise the data (and zero, for bars) rounded out to a tick.
    pub min: Option<f64>,
    /// Fixed upper end of the axis.
    pub max: Option<f64>,
    /// Ticks placed by the caller instead of the computed round steps.
    pub ticks: Option<Ticks>,
}

/// Words the chart writes itself, translated by the caller.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Words {
    /// Shown in the plot area and the text alternative when there is nothing to draw.
    pub no_data: String,
    /// Stands for a missing value in the text alternative.
    pub no_value: String,
    /// Stands for a value that is not a finite number (and so is not drawn).
    pub not_finite: String,
}

impl Default for Words {
    fn default() -> Self {
        Words {
            no_data: "No data".into(),
            no_value: "no value".into(),
            not_finite: "not a finite number, not shown".into(),
        }
    }
}

/// A chart: everything needed to draw it as SVG or into a PDF, and to describe it in words.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// Prefix of the ids of the SVG's `<title>` and `<desc>`; must be unique within an HTML page.
    /// `None`: derived from the chart's content.
    pub id: Option<String>,
    pub kind: ChartKind,
    pub title: String,
    pub subtitle: Option<String>,
    /// Title of the category axis, e.g. "Month" (the column header of a heat map, e.g. "Months since
    /// signup").
    pub category_title: Option<String>,
    /// Category labels (heat map: column labels).
    pub categories: Vec<String>,
    pub series: Vec<Series>,
    pub value_axis: ValueAxis,
    /// Writes value labels next to bars and inside heat-map cells where they fit.
    pub show_values: bool,
    /// Size in SVG user units; the SVG scales to its container, the PDF to the text width.
    pub width: f64,
    pub height: f64,
    pub palette: Palette,
    pub words: Words,
}

impl Chart {
    /// A 640 × 360 chart with the default palette and English words.
    pub fn new(kind: ChartKind, title: impl Into<String>) -> Chart {
        Chart {
            id: None,
            kind,
            title: title.into(),
            subtitle: None,
            category_title: None,
            categories: Vec::new(),
            series: Vec::new(),
            value_axis: ValueAxis::default(),
            show_values: matches!(kind, ChartKind::HorizontalBars(_) | ChartKind::HeatMap),
            width: 640.0,
            height: 360.0,
            palette: Palette::default(),
            words: Words::default(),
        }
    }

    pub fn subtitle(mut self, subtitle: impl Into<String>) -> Chart {
        self.subtitle = Some(subtitle.into());
        self
    }

    pub fn categories<S: Into<String>>(mut self, categories: impl IntoIterator<Item = S>) -> Chart {
        self.categories = categories.into_iter().map(Into::into).collect();
        self
    }

    pub fn series(mut self, series: Series) -> Chart {
        self.series.push(series);
        self
    }

    pub fn value_axis(mut self, axis: ValueAxis) -> Chart {
        self.value_axis = axis;
        self
    }

    pub fn size(mut self, width: f64, height: f64) -> Chart {
        self.width = width;
        self.height = height;
        self
    }

    /// Checks sizes and lengths; every rendering calls this first.
    pub fn validate(&self) -> Result<(), ChartError> {
        let side_ok = |v: f64| v.is_finite() && (MIN_SIDE..=MAX_SIDE).contains(&v);
        if !side_ok(self.width) || !side_ok(self.height) {
            return Err(ChartError::Size { width: self.width, height: self.height });
        }
        let expected = self.categories.len();
        for (index, series) in self.series.iter().enumerate() {
            if series.values.len() != expected {
                return Err(ChartError::SeriesLength { series: index, expected, found: series.values.len() });
            }
            if !series.labels.is_empty() && series.labels.len() != expected {
                return Err(ChartError::LabelsLength { series: index, expected, found: series.labels.len() });
            }
        }
        let points = expected.saturating_mul(self.series.len().max(1));
        if points > MAX_POINTS {
            return Err(ChartError::TooLarge { points, limit: MAX_POINTS });
        }
        let axis = &self.value_axis;
        for (name, end) in [("min", axis.min), ("max", axis.max)] {
            if end.is_some_and(|v| !v.is_finite()) {
                return Err(ChartError::Axis(format!("{name} is not a finite number")));
            }
        }
        if let (Some(min), Some(max)) = (axis.min, axis.max) {
            if min >= max {
                return Err(ChartError::Axis(format!("min {min} is not below max {max}")));
            }
        }
        if let Some(ticks) = &axis.ticks {
            if ticks.len() > 100 || ticks.iter().any(|(v, _)| !v.is_finite()) {
                return Err(ChartError::Axis("ticks must be at most 100 finite values".into()));
            }
        }
        Ok(())
    }

    /// Colour of series number `index`.
    pub fn series_colour(&self, index: usize) -> Rgb {
        self.series.get(index).and_then(|s| s.colour).unwrap_or_else(|| self.palette.series_colour(index))
    }

    /// The value at (`series`, `category`), classified.
    pub(crate) fn value(&self, series: usize, category: usize) -> Value {
        match self.series.get(series).and_then(|s| s.values.get(category)).copied().flatten() {
            None => Value::Missing,
            Some(v) if v.is_finite() => Value::Finite(v),
            Some(_) => Value::NotFinite,
        }
    }

    /// The label written for the value at (`series`, `category`): the caller's label, or the formatted
    /// value. Empty when there is no finite value.
    pub(crate) fn value_label(&self, series: usize, category: usize) -> String {
        let Value::Finite(v) = self.value(series, category) else {
            return String::new();
        };
        match self.series[series].labels.get(category) {
            Some(label) => label.clone(),
            None => self.value_axis.format.format(v),
        }
    }

    /// Whether any value can be drawn.
    pub(crate) fn has_data(&self) -> bool {
        (0..self.series.len()).any(|s| (0..self.categories.len()).any(|c| matches!(self.value(s, c), Value::Finite(_))))
    }
}

/// A value as the renderers see it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Value {
    Finite(f64),
    Missing,
    NotFinite,
}

/// Why a chart cannot be drawn.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ChartError {
    /// Width or height is not a finite number between [`MIN_SIDE`] and [`MAX_SIDE`].
    Size { width: f64, height: f64 },
    /// A series has a different number of values than there are categories.
    SeriesLength { series: usize, expected: usize, found: usize },
    /// A series has labels, but not one per category.
    LabelsLength { series: usize, expected: usize, found: usize },
    /// More than [`MAX_POINTS`] values.
    TooLarge { points: usize, limit: usize },
    /// The value axis settings are unusable.
    Axis(String),
}

impl fmt::Display for ChartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChartError::Size { width, height } => {
                write!(f, "chart size {width} × {height} is outside {MIN_SIDE}..={MAX_SIDE} per side")
            }
            ChartError::SeriesLength { series, expected, found } => {
                write!(f, "series {series} has {found} values for {expected} categories")
            }
            ChartError::LabelsLength { series, expected, found } => {
                write!(f, "series {series} has {found} labels for {expected} categories")
            }
            ChartError::TooLarge { points, limit } => write!(f, "{points} values exceed the limit of {limit}"),
            ChartError::Axis(reason) => write!(f, "value axis: {reason}"),
        }
    }
}

impl std::error::Error for ChartError {}
