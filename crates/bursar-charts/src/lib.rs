//! Charts for Bursar's hosted pages and PDF reports.
//!
//! A [`Chart`] describes what to show: vertical or horizontal bars (grouped or stacked, around a zero
//! line), lines over ordered categories with gaps, or a heat-map grid. The caller supplies the words and,
//! where it matters, the formatted value labels ("€1,200", "42 %"); this crate never formats money itself.
//!
//! The chart is laid out once into a [`Scene`] of positioned primitives ([`layout`]); [`render_svg`]
//! writes that scene as accessible SVG and the PDF renderer draws the same scene, so the page and the
//! PDF show the same geometry. [`describe`] gives the text alternative (used as the SVG's `<desc>`) and
//! [`data_table`] the same data as rows for an HTML table or CSV.
//!
//! Everything is pure and deterministic: the same chart always gives the same bytes.
//!
//! ```
//! use bursar_charts::{render_svg, BarMode, Chart, ChartKind, NumberFormat, Series, ValueAxis};
//!
//! let chart = Chart::new(ChartKind::HorizontalBars(BarMode::Grouped), "Accuracy by topic")
//!     .categories(["Algebra", "Geometry"])
//!     .series(Series::new("Accuracy", [82.0, 64.0]))
//!     .value_axis(ValueAxis {
//!         format: NumberFormat::percent(0),
//!         min: Some(0.0),
//!         max: Some(100.0),
//!         ..ValueAxis::default()
//!     });
//! let svg = render_svg(&chart)?;
//! assert!(svg.contains("Accuracy by topic: Algebra 82 %, Geometry 64 %."));
//! # Ok::<(), bursar_charts::ChartError>(())
//! ```

mod colour;
mod describe;
mod format;
mod layout;
mod metrics;
mod model;
mod scene;
mod svg;
mod ticks;
mod xml;

pub use colour::{contrast_ratio, text_on, Palette, Rgb};
pub use describe::{data_table, describe, Table, TableCell, TableRow};
pub use format::NumberFormat;
pub use layout::layout;
pub use metrics::text_width;
pub use model::{
    BarMode, Chart, ChartError, ChartKind, Series, Ticks, ValueAxis, Words, MAX_POINTS, MAX_SIDE, MIN_SIDE,
};
pub use scene::{Anchor, Item, Role, Scene};
pub use svg::{chart_id, render_svg};
pub use xml::escape as escape_xml;
