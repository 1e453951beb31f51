//! SVG output: a standalone document that also works inline in HTML.

use std::fmt::Write;

use crate::describe::describe;
use crate::layout::layout;
use crate::model::{Chart, ChartError};
use crate::scene::{Anchor, Item};
use crate::xml::escape;

/// Font list: the face the PDF embeds first, a close metric match second, the generic family last.
const FONT_FAMILY: &str = "'DejaVu Sans', Verdana, sans-serif";

/// A coordinate or length with at most two decimals, without trailing zeros and never "-0".
fn num(v: f64) -> String {
    let text = format!("{v:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".to_owned()
    } else {
        text.to_owned()
    }
}

/// The id prefix of the chart's `<title>` and `<desc>`: the caller's id reduced to `[A-Za-z0-9_-]`, or
/// one derived from the chart's content (FNV-1a over its description, kind and size).
pub fn chart_id(chart: &Chart) -> String {
    if let Some(id) = &chart.id {
        let clean: String = id.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect();
        if clean.starts_with(|c: char| c.is_ascii_alphabetic()) {
            return clean;
        }
    }
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let seed = format!("{}|{:?}|{}|{}", describe(chart), chart.kind, chart.width, chart.height);
    for byte in seed.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("chart-{:012x}", hash & 0xFFFF_FFFF_FFFF)
}

/// Renders the chart as SVG: `role="img"`, `<title>` and `<desc>` (the text alternative) referenced by
/// `aria-labelledby`, a `viewBox` with `width="100%"`, no scripts, styles or external references.
/// The same chart always gives the same text.
pub fn render_svg(chart: &Chart) -> Result<String, ChartError> {
    let scene = layout(chart)?;
    let id = chart_id(chart);
    let mut out = String::with_capacity(4096 + scene.items.len() * 120);
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" width=\"100%\" \
         preserveAspectRatio=\"xMidYMid meet\" role=\"img\" aria-labelledby=\"{id}-title {id}-desc\" \
         font-family=\"{FONT_FAMILY}\" class=\"bursar-chart\">",
        w = num(scene.width),
        h = num(scene.height),
    );
    let _ = writeln!(out, "<title id=\"{id}-title\">{}</title>", escape(&chart.title));
    let _ = writeln!(out, "<desc id=\"{id}-desc\">{}</desc>", escape(&describe(chart)));
    for item in &scene.items {
        write_item(&mut out, item);
    }
    out.push_str("</svg>\n");
    Ok(out)
}

fn tooltip(out: &mut String, tag: &str, tooltip: &Option<String>) {
    match tooltip {
        Some(text) => {
            let _ = writeln!(out, "><title>{}</title></{tag}>", escape(text));
        }
        None => out.push_str("/>\n"),
    }
}

fn write_item(out: &mut String, item: &Item) {
    let class = item.role().class();
    match item {
        Item::Rect { x, y, w, h, fill, tooltip: tip, .. } => {
            let _ = write!(
                out,
                "<rect class=\"{class}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"",
                num(*x),
                num(*y),
                num(*w),
                num(*h),
                fill.to_hex()
            );
            tooltip(out, "rect", tip);
        }
        Item::Polyline { points, stroke, width, dash, .. } => {
            let points: Vec<String> = points.iter().map(|(x, y)| format!("{},{}", num(*x), num(*y))).collect();
            let _ = write!(
                out,
                "<polyline class=\"{class}\" points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"{}\" \
                 stroke-linejoin=\"round\" stroke-linecap=\"butt\"",
                points.join(" "),
                stroke.to_hex(),
                num(*width)
            );
            if !dash.is_empty() {
                let dash: Vec<String> = dash.iter().map(|d| num(*d)).collect();
                let _ = write!(out, " stroke-dasharray=\"{}\"", dash.join(" "));
            }
            out.push_str("/>\n");
        }
        Item::Circle { cx, cy, r, fill, tooltip: tip, .. } => {
            let _ = write!(
                out,
                "<circle class=\"{class}\" cx=\"{}\" cy=\"{}\" r=\"{}\" fill=\"{}\" stroke=\"#ffffff\" \
                 stroke-width=\"1.5\"",
                num(*cx),
                num(*cy),
                num(*r),
                fill.to_hex()
            );
            tooltip(out, "circle", tip);
        }
        Item::Text { x, y, text, size, bold, fill, anchor, angle, .. } => {
            let _ = write!(
                out,
                "<text class=\"{class}\" x=\"{}\" y=\"{}\" font-size=\"{}\" fill=\"{}\"",
                num(*x),
                num(*y),
                num(*size),
                fill.to_hex()
            );
            match anchor {
                Anchor::Start => {}
                Anchor::Middle => out.push_str(" text-anchor=\"middle\""),
                Anchor::End => out.push_str(" text-anchor=\"end\""),
            }
            if *bold {
                out.push_str(" font-weight=\"bold\"");
            }
            if *angle != 0.0 {
                let _ = write!(out, " transform=\"rotate({} {} {})\"", num(*angle), num(*x), num(*y));
            }
            let _ = writeln!(out, ">{}</text>", escape(text));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::num;

    #[test]
    fn numbers_are_short_and_never_negative_zero() {
        assert_eq!(num(12.0), "12");
        assert_eq!(num(12.5), "12.5");
        assert_eq!(num(12.345_6), "12.35");
        assert_eq!(num(-0.001), "0");
        assert_eq!(num(-3.1), "-3.1");
        assert_eq!(num(0.0), "0");
    }
}
