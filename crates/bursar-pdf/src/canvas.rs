//! Drawing primitives over a growing list of A4 pages.
//!
//! Positions are given in points measured from the top-left corner of the page (y grows downwards) and
//! converted to PDF user space, whose origin is the bottom-left corner, when the operators are written.

use pdf_writer::types::{LineCapStyle, LineJoinStyle};
use pdf_writer::{Content, Name, Str};

use crate::fonts::{Fonts, Weight};

/// A4 width in points.
pub(crate) const PAGE_W: f32 = 595.28;
/// A4 height in points.
pub(crate) const PAGE_H: f32 = 841.89;

/// Resource name of the logo image on every page.
pub(crate) const LOGO_NAME: Name<'static> = Name(b"Im1");

/// An sRGB colour with components in `0.0..=1.0`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Rgb(pub f32, pub f32, pub f32);

impl Rgb {
    /// Builds a colour from a `0xRRGGBB` value.
    pub(crate) const fn hex(value: u32) -> Rgb {
        Rgb(((value >> 16) & 0xFF) as f32 / 255.0, ((value >> 8) & 0xFF) as f32 / 255.0, (value & 0xFF) as f32 / 255.0)
    }
}

/// Text appearance: weight, size in points, colour and extra spacing between letters.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Style {
    pub(crate) weight: Weight,
    pub(crate) size: f32,
    pub(crate) colour: Rgb,
    pub(crate) tracking: f32,
}

impl Style {
    pub(crate) const fn new(weight: Weight, size: f32, colour: Rgb) -> Style {
        Style { weight, size, colour, tracking: 0.0 }
    }

    pub(crate) const fn tracked(self, tracking: f32) -> Style {
        Style { tracking, ..self }
    }
}

/// Pages under construction plus the fonts whose glyphs they use.
pub(crate) struct Canvas {
    pub(crate) fonts: Fonts,
    pages: Vec<Content>,
    current: usize,
}

impl Canvas {
    pub(crate) fn new(fonts: Fonts) -> Canvas {
        Canvas { fonts, pages: Vec::new(), current: 0 }
    }

    /// Starts a new page and makes it the drawing target.
    pub(crate) fn add_page(&mut self) {
        self.pages.push(Content::new());
        self.current = self.pages.len() - 1;
    }

    pub(crate) fn page_count(&self) -> usize {
        self.pages.len()
    }

    /// Makes an existing page the drawing target.
    pub(crate) fn select_page(&mut self, index: usize) {
        self.current = index;
    }

    pub(crate) fn into_pages(self) -> (Fonts, Vec<Vec<u8>>) {
        let pages = self.pages.into_iter().map(|c| c.finish().into_vec()).collect();
        (self.fonts, pages)
    }

    fn content(&mut self) -> &mut Content {
        &mut self.pages[self.current]
    }

    /// Width of `text` in `style`, including letter spacing.
    pub(crate) fn width(&self, style: Style, text: &str) -> f32 {
        let base = self.fonts.width(style.weight, style.size, text);
        if style.tracking == 0.0 {
            base
        } else {
            base + style.tracking * text.chars().count().saturating_sub(1) as f32
        }
    }

    /// Draws `text` with its baseline starting at (`x`, `baseline`).
    pub(crate) fn text(&mut self, x: f32, baseline: f32, style: Style, text: &str) {
        if text.is_empty() {
            return;
        }
        let encoded = self.fonts.encode(style.weight, text);
        let Rgb(r, g, b) = style.colour;
        let content = self.content();
        content.set_fill_rgb(r, g, b);
        content.begin_text();
        content.set_font(style.weight.resource_name(), style.size);
        if style.tracking != 0.0 {
            content.set_char_spacing(style.tracking);
        }
        content.set_text_matrix([1.0, 0.0, 0.0, 1.0, x, PAGE_H - baseline]);
        content.show(Str(&encoded));
        if style.tracking != 0.0 {
            content.set_char_spacing(0.0);
        }
        content.end_text();
    }

    /// Draws `text` so that it ends at `right`.
    pub(crate) fn text_right(&mut self, right: f32, baseline: f32, style: Style, text: &str) {
        let width = self.width(style, text);
        self.text(right - width, baseline, style, text);
    }

    /// Draws a horizontal line from `x1` to `x2`.
    pub(crate) fn hline(&mut self, x1: f32, x2: f32, y: f32, thickness: f32, colour: Rgb) {
        let Rgb(r, g, b) = colour;
        let content = self.content();
        content.set_stroke_rgb(r, g, b);
        content.set_line_width(thickness);
        content.move_to(x1, PAGE_H - y);
        content.line_to(x2, PAGE_H - y);
        content.stroke();
    }

    /// Fills an axis-aligned rectangle whose top-left corner is (`x`, `y`).
    pub(crate) fn fill_rect(&mut self, x: f32, y: f32, w: f32, h: f32, colour: Rgb) {
        let Rgb(r, g, b) = colour;
        let content = self.content();
        content.set_fill_rgb(r, g, b);
        content.rect(x, PAGE_H - y - h, w, h);
        content.fill_nonzero();
    }

    /// Strokes an open polyline through `points`, dashed when `dash` holds dash and gap lengths.
    pub(crate) fn polyline(&mut self, points: &[(f32, f32)], width: f32, colour: Rgb, dash: &[f32]) {
        let Some((&(x0, y0), rest)) = points.split_first() else {
            return;
        };
        let Rgb(r, g, b) = colour;
        let content = self.content();
        content.save_state();
        content.set_stroke_rgb(r, g, b);
        content.set_line_width(width);
        content.set_line_join(LineJoinStyle::RoundJoin);
        content.set_line_cap(LineCapStyle::ButtCap);
        if !dash.is_empty() {
            content.set_dash_pattern(dash.iter().copied(), 0.0);
        }
        content.move_to(x0, PAGE_H - y0);
        for &(x, y) in rest {
            content.line_to(x, PAGE_H - y);
        }
        content.stroke();
        content.restore_state();
    }

    /// Fills a circle centred on (`cx`, `cy`), outlined in `outline` colour and width when given.
    pub(crate) fn circle(&mut self, cx: f32, cy: f32, r: f32, fill: Rgb, outline: Option<(Rgb, f32)>) {
        let content = self.content();
        let Rgb(fr, fg, fb) = fill;
        content.set_fill_rgb(fr, fg, fb);
        if let Some((Rgb(sr, sg, sb), width)) = outline {
            content.set_stroke_rgb(sr, sg, sb);
            content.set_line_width(width);
        }
        let (x, y) = (cx, PAGE_H - cy);
        // Four cubic Béziers, each a quarter circle.
        let k = r * 0.552_284_8;
        content.move_to(x + r, y);
        content.cubic_to(x + r, y + k, x + k, y + r, x, y + r);
        content.cubic_to(x - k, y + r, x - r, y + k, x - r, y);
        content.cubic_to(x - r, y - k, x - k, y - r, x, y - r);
        content.cubic_to(x + k, y - r, x + r, y - k, x + r, y);
        content.close_path();
        if outline.is_some() {
            content.fill_nonzero_and_stroke();
        } else {
            content.fill_nonzero();
        }
    }

    /// Draws `text` turned counter-clockwise by `degrees` about (`x`, `baseline`), starting `offset` points
    /// along its own baseline from that point (negative to end or centre it there).
    pub(crate) fn text_turned(&mut self, x: f32, baseline: f32, style: Style, text: &str, degrees: f32, offset: f32) {
        if text.is_empty() {
            return;
        }
        let encoded = self.fonts.encode(style.weight, text);
        let (sin, cos) = degrees.to_radians().sin_cos();
        let Rgb(r, g, b) = style.colour;
        let content = self.content();
        content.set_fill_rgb(r, g, b);
        content.begin_text();
        content.set_font(style.weight.resource_name(), style.size);
        let (x0, y0) = (x + offset * cos, PAGE_H - baseline + offset * sin);
        content.set_text_matrix([cos, sin, -sin, cos, x0, y0]);
        content.show(Str(&encoded));
        content.end_text();
    }

    /// Draws the logo image into the box with top-left corner (`x`, `y`).
    pub(crate) fn image(&mut self, x: f32, y: f32, w: f32, h: f32) {
        let content = self.content();
        content.save_state();
        content.transform([w, 0.0, 0.0, h, x, PAGE_H - y - h]);
        content.x_object(LOGO_NAME);
        content.restore_state();
    }

    /// Draws a rotated rubber-stamp label: `text` inside a double rounded frame, centred on (`cx`, `cy`)
    /// and turned counter-clockwise by `degrees`.
    pub(crate) fn stamp(&mut self, cx: f32, cy: f32, degrees: f32, style: Style, text: &str) {
        let text_w = self.width(style, text);
        let pad_x = style.size * 0.75;
        let pad_y = style.size * 0.5;
        let w = text_w + 2.0 * pad_x;
        let h = style.size + 2.0 * pad_y;
        let encoded = self.fonts.encode(style.weight, text);
        let (sin, cos) = degrees.to_radians().sin_cos();
        let Rgb(r, g, b) = style.colour;
        let content = self.content();
        content.save_state();
        content.transform([cos, sin, -sin, cos, cx, PAGE_H - cy]);
        content.set_stroke_rgb(r, g, b);
        content.set_fill_rgb(r, g, b);
        content.set_line_width(1.6);
        rounded_rect(content, -w / 2.0, -h / 2.0, w, h, 4.0);
        content.stroke();
        content.set_line_width(0.6);
        rounded_rect(content, -w / 2.0 - 3.0, -h / 2.0 - 3.0, w + 6.0, h + 6.0, 6.0);
        content.stroke();
        content.begin_text();
        content.set_font(style.weight.resource_name(), style.size);
        content.set_char_spacing(style.tracking);
        // Centre the cap height of the text vertically inside the frame.
        content.set_text_matrix([1.0, 0.0, 0.0, 1.0, -text_w / 2.0, -style.size * 0.36]);
        content.show(Str(&encoded));
        content.set_char_spacing(0.0);
        content.end_text();
        content.restore_state();
    }
}

/// Appends a rounded rectangle path with bottom-left corner (`x`, `y`) in user space.
fn rounded_rect(content: &mut Content, x: f32, y: f32, w: f32, h: f32, radius: f32) {
    let r = radius.min(w / 2.0).min(h / 2.0);
    // Control-point distance for a quarter circle drawn with one cubic Bézier.
    let k = r * 0.552_284_8;
    content.move_to(x + r, y);
    content.line_to(x + w - r, y);
    content.cubic_to(x + w - r + k, y, x + w, y + r - k, x + w, y + r);
    content.line_to(x + w, y + h - r);
    content.cubic_to(x + w, y + h - r + k, x + w - r + k, y + h, x + w - r, y + h);
    content.line_to(x + r, y + h);
    content.cubic_to(x + r - k, y + h, x, y + h - r + k, x, y + h - r);
    content.line_to(x, y + r);
    content.cubic_to(x, y + r - k, x + r - k, y, x + r, y);
    content.close_path();
}
