//! Text measurement without a font file.
//!
//! Layout decisions (margins, label rotation, truncation) use the advance widths of DejaVu Sans, the face
//! the PDF embeds and the first choice of the SVG's font list. Printable ASCII is measured exactly; other
//! characters by class (upper or lower case letter, wide East Asian, combining mark).

/// Advance widths of U+0020..=U+007E in DejaVu Sans, in thousandths of an em.
const REGULAR: [u16; 95] = [
    318, 401, 460, 838, 636, 950, 780, 275, 390, 390, 500, 838, 318, 361, 318, 337, 636, 636, 636, 636, 636, 636, 636,
    636, 636, 636, 337, 337, 838, 838, 838, 531, 1000, 684, 686, 698, 770, 632, 575, 775, 752, 295, 295, 656, 557, 863,
    748, 787, 603, 787, 695, 635, 611, 732, 684, 989, 685, 611, 685, 390, 337, 390, 838, 500, 500, 613, 635, 550, 635,
    615, 352, 635, 634, 278, 278, 579, 278, 974, 634, 612, 635, 635, 411, 521, 392, 634, 592, 818, 592, 592, 525, 636,
    337, 636, 838,
];

/// The same for DejaVu Sans Bold.
const BOLD: [u16; 95] = [
    348, 456, 521, 838, 696, 1002, 872, 306, 457, 457, 523, 838, 380, 415, 380, 365, 696, 696, 696, 696, 696, 696, 696,
    696, 696, 696, 400, 400, 838, 838, 838, 580, 1000, 774, 762, 734, 830, 683, 683, 821, 837, 372, 372, 775, 637, 995,
    837, 850, 733, 850, 770, 720, 682, 812, 774, 1103, 771, 724, 725, 457, 365, 457, 838, 500, 500, 675, 716, 593, 716,
    678, 435, 716, 712, 343, 343, 665, 343, 1042, 712, 687, 716, 716, 493, 595, 478, 712, 652, 924, 645, 652, 582, 712,
    365, 712, 838,
];

fn advance(c: char, bold: bool) -> u16 {
    let table = if bold { &BOLD } else { &REGULAR };
    let code = u32::from(c);
    if (0x20..0x7F).contains(&code) {
        return table[(code - 0x20) as usize];
    }
    match c {
        '\u{00A0}' | '\u{2007}' | '\u{2009}' | '\u{202F}' | '\t' => table[0],
        '\u{0300}'..='\u{036F}' | '\u{200B}'..='\u{200F}' => 0,
        '\u{1100}'..='\u{115F}'
        | '\u{2E80}'..='\u{A4CF}'
        | '\u{AC00}'..='\u{D7A3}'
        | '\u{F900}'..='\u{FAFF}'
        | '\u{FE30}'..='\u{FE4F}'
        | '\u{FF00}'..='\u{FF60}'
        | '\u{FFE0}'..='\u{FFE6}' => 1000,
        '\u{2026}' | '\u{2014}' => 1000,
        '\u{2212}' => 838,
        c if c.is_uppercase() => {
            if bold {
                830
            } else {
                760
            }
        }
        c if c.is_alphabetic() => {
            if bold {
                700
            } else {
                640
            }
        }
        _ => {
            if bold {
                700
            } else {
                640
            }
        }
    }
}

/// Estimated width of `text` set at `size` units.
pub fn text_width(text: &str, size: f64, bold: bool) -> f64 {
    let units: u32 = text.chars().map(|c| u32::from(advance(c, bold))).sum();
    f64::from(units) * size / 1000.0
}

/// Shortens `text` with a trailing ellipsis so that it fits in `width`.
pub(crate) fn truncate(text: &str, size: f64, bold: bool, width: f64) -> String {
    if text_width(text, size, bold) <= width {
        return text.to_owned();
    }
    let budget = width - text_width("…", size, bold);
    let mut out = String::new();
    let mut used = 0.0;
    for c in text.chars() {
        let w = f64::from(advance(c, bold)) * size / 1000.0;
        if used + w > budget {
            break;
        }
        used += w;
        out.push(c);
    }
    let trimmed = out.trim_end();
    format!("{trimmed}…")
}

/// Splits `text` into at most `max_lines` lines no wider than `width`; the last line is truncated when the
/// text does not fit. Words longer than a line are truncated as well.
pub(crate) fn wrap(text: &str, size: f64, bold: bool, width: f64, max_lines: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut overflow = false;
    for (i, word) in words.iter().enumerate() {
        let candidate = if line.is_empty() { (*word).to_owned() } else { format!("{line} {word}") };
        if text_width(&candidate, size, bold) <= width || line.is_empty() {
            line = candidate;
            continue;
        }
        if lines.len() + 1 == max_lines {
            line = words[..].iter().skip(i).fold(line, |acc, w| format!("{acc} {w}"));
            overflow = true;
            break;
        }
        lines.push(truncate(&std::mem::take(&mut line), size, bold, width));
        line = (*word).to_owned();
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(if overflow || text_width(&line, size, bold) > width {
            truncate(&line, size, bold, width)
        } else {
            line
        });
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_widths_add_up() {
        // "Hi": H (752) + i (278) at 10 units.
        assert!((text_width("Hi", 10.0, false) - 10.3).abs() < 1e-9);
        assert!(text_width("Hi", 10.0, true) > text_width("Hi", 10.0, false));
        assert_eq!(text_width("", 12.0, false), 0.0);
        // Digits share one advance, so numbers line up.
        assert_eq!(text_width("111", 10.0, false), text_width("888", 10.0, false));
        assert!(text_width("Ж", 10.0, false) > text_width("ж", 10.0, false));
        assert_eq!(text_width("中文", 10.0, false), 20.0);
    }

    #[test]
    fn truncate_fits_and_marks_the_cut() {
        let t = truncate("Probability and statistics", 11.0, false, 80.0);
        assert!(t.ends_with('…'), "{t}");
        assert!(text_width(&t, 11.0, false) <= 80.0);
        assert_eq!(truncate("Algebra", 11.0, false, 80.0), "Algebra");
    }

    #[test]
    fn wrap_limits_lines_and_keeps_words() {
        let text = "Monthly recurring revenue movements by month for the last twelve months";
        let lines = wrap(text, 16.0, true, 200.0, 2);
        assert_eq!(lines.len(), 2);
        assert!(lines.iter().all(|l| text_width(l, 16.0, true) <= 200.0), "{lines:?}");
        assert!(lines[1].ends_with('…'));
        let all = wrap(text, 16.0, true, 200.0, 10);
        assert_eq!(all.join(" "), text);
        assert_eq!(wrap("", 12.0, false, 100.0, 2), vec![String::new()]);
    }
}
