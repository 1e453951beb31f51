//! Positioned drawing primitives: the geometry of a chart, shared by the SVG writer and the PDF renderer.
//!
//! Coordinates are in the chart's user units with the origin at the top-left corner and y growing
//! downwards. Every coordinate in a scene is a finite number.

use crate::colour::Rgb;

/// What a primitive stands for; written as the SVG `class` so pages can style or count them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Background,
    Grid,
    Axis,
    /// The line at value zero when the axis spans negative values.
    ZeroLine,
    Bar,
    /// A series line (one per unbroken run of values).
    Line,
    /// A marker on a line.
    Point,
    Cell,
    LegendSwatch,
    Title,
    Subtitle,
    TickLabel,
    CategoryLabel,
    AxisTitle,
    ValueLabel,
    LegendLabel,
    /// The "No data" message.
    Message,
}

impl Role {
    /// The SVG class name.
    pub fn class(self) -> &'static str {
        match self {
            Role::Background => "background",
            Role::Grid => "grid",
            Role::Axis => "axis",
            Role::ZeroLine => "zero",
            Role::Bar => "bar",
            Role::Line => "line",
            Role::Point => "point",
            Role::Cell => "cell",
            Role::LegendSwatch => "swatch",
            Role::Title => "title",
            Role::Subtitle => "subtitle",
            Role::TickLabel => "tick",
            Role::CategoryLabel => "category",
            Role::AxisTitle => "axis-title",
            Role::ValueLabel => "value",
            Role::LegendLabel => "legend",
            Role::Message => "message",
        }
    }
}

/// Horizontal alignment of text relative to its anchor point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Anchor {
    Start,
    Middle,
    End,
}

/// One drawing primitive.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// A filled rectangle with top-left corner (`x`, `y`).
    Rect { x: f64, y: f64, w: f64, h: f64, fill: Rgb, role: Role, tooltip: Option<String> },
    /// An open polyline.
    Polyline {
        points: Vec<(f64, f64)>,
        stroke: Rgb,
        width: f64,
        /// Dash and gap lengths; empty for a solid line.
        dash: Vec<f64>,
        role: Role,
    },
    /// A filled circle with a white outline.
    Circle { cx: f64, cy: f64, r: f64, fill: Rgb, role: Role, tooltip: Option<String> },
    /// Text whose baseline starts, centres or ends at (`x`, `y`), turned by `angle` degrees about that
    /// point (negative: counter-clockwise as seen on screen).
    Text { x: f64, y: f64, text: String, size: f64, bold: bool, fill: Rgb, anchor: Anchor, angle: f64, role: Role },
}

impl Item {
    pub fn role(&self) -> Role {
        match self {
            Item::Rect { role, .. }
            | Item::Polyline { role, .. }
            | Item::Circle { role, .. }
            | Item::Text { role, .. } => *role,
        }
    }

    /// Whether every coordinate and length is a finite number.
    pub(crate) fn is_finite(&self) -> bool {
        match self {
            Item::Rect { x, y, w, h, .. } => [x, y, w, h].iter().all(|v| v.is_finite()),
            Item::Polyline { points, width, dash, .. } => {
                width.is_finite()
                    && points.iter().all(|(x, y)| x.is_finite() && y.is_finite())
                    && dash.iter().all(|d| d.is_finite())
            }
            Item::Circle { cx, cy, r, .. } => [cx, cy, r].iter().all(|v| v.is_finite()),
            Item::Text { x, y, size, angle, .. } => [x, y, size, angle].iter().all(|v| v.is_finite()),
        }
    }
}

/// A laid-out chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Scene {
    pub width: f64,
    pub height: f64,
    /// Drawn in order: later items paint over earlier ones.
    pub items: Vec<Item>,
}

impl Scene {
    /// Number of items with the given role.
    pub fn count(&self, role: Role) -> usize {
        self.items.iter().filter(|i| i.role() == role).count()
    }
}
