//! Embedded typefaces: glyph lookup, text measurement, and the subset font objects written into the PDF.
//!
//! Text is shown through composite (Type 0) fonts with `Identity-H` encoding, so every glyph is addressed by
//! a two-byte CID. Glyphs are renumbered as they are first used; the CID of a glyph is its number in the
//! subset font, which keeps the embedded font file down to the glyphs the document actually shows.

use std::collections::BTreeMap;

use miniz_oxide::deflate::compress_to_vec_zlib;
use pdf_writer::types::{CidFontType, FontFlags, SystemInfo, UnicodeCmap};
use pdf_writer::{Filter, Finish, Name, Pdf, Rect, Ref, Str};
use subsetter::GlyphRemapper;
use ttf_parser::{Face, GlyphId};

use crate::{PdfError, Refs};

/// The weights the layout draws with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Weight {
    Regular,
    Bold,
}

impl Weight {
    /// The resource name under which the font is registered on every page.
    pub(crate) fn resource_name(self) -> Name<'static> {
        match self {
            Weight::Regular => Name(b"F1"),
            Weight::Bold => Name(b"F2"),
        }
    }
}

/// One typeface together with the glyphs used from it so far.
pub(crate) struct FontFace {
    data: &'static [u8],
    face: Face<'static>,
    postscript_name: &'static str,
    units_per_em: f32,
    remapper: GlyphRemapper,
    /// Text each subset glyph stands for, keyed by its CID, for copy/paste and search.
    to_unicode: BTreeMap<u16, char>,
    /// Glyph used for characters the typeface lacks.
    fallback: GlyphId,
}

impl FontFace {
    fn load(data: &'static [u8], postscript_name: &'static str) -> Result<Self, PdfError> {
        let face = Face::parse(data, 0).map_err(|e| PdfError::Font(e.to_string()))?;
        let units_per_em = f32::from(face.units_per_em());
        let fallback = face.glyph_index('\u{FFFD}').or_else(|| face.glyph_index('?')).unwrap_or(GlyphId(0));
        Ok(FontFace {
            data,
            face,
            postscript_name,
            units_per_em,
            remapper: GlyphRemapper::new(),
            to_unicode: BTreeMap::new(),
            fallback,
        })
    }

    fn glyph(&self, c: char) -> GlyphId {
        self.face.glyph_index(c).unwrap_or(self.fallback)
    }

    /// Advance width of a glyph in text space units (thousandths of an em).
    fn advance(&self, glyph: GlyphId) -> f32 {
        f32::from(self.face.glyph_hor_advance(glyph).unwrap_or(0)) * 1000.0 / self.units_per_em
    }

    fn scale(&self, value: i16) -> f32 {
        f32::from(value) * 1000.0 / self.units_per_em
    }
}

/// Characters that are drawn as a plain space.
fn normalize(c: char) -> char {
    match c {
        '\t' | '\u{00A0}' | '\u{202F}' | '\u{2007}' | '\u{2009}' => ' ',
        c if c.is_control() => ' ',
        c => c,
    }
}

/// The regular and bold typefaces used for a document.
pub(crate) struct Fonts {
    regular: FontFace,
    bold: FontFace,
}

impl Fonts {
    pub(crate) fn new() -> Result<Self, PdfError> {
        Ok(Fonts {
            regular: FontFace::load(dejavu::sans::regular(), "DejaVuSans")?,
            bold: FontFace::load(dejavu::sans::bold(), "DejaVuSans-Bold")?,
        })
    }

    fn face(&self, weight: Weight) -> &FontFace {
        match weight {
            Weight::Regular => &self.regular,
            Weight::Bold => &self.bold,
        }
    }

    fn face_mut(&mut self, weight: Weight) -> &mut FontFace {
        match weight {
            Weight::Regular => &mut self.regular,
            Weight::Bold => &mut self.bold,
        }
    }

    /// Width of `text` in points when set at `size` points.
    pub(crate) fn width(&self, weight: Weight, size: f32, text: &str) -> f32 {
        let face = self.face(weight);
        let units: f32 = text.chars().map(|c| face.advance(face.glyph(normalize(c)))).sum();
        units * size / 1000.0
    }

    /// Encodes `text` as the two-byte CIDs of the subset font, registering every glyph it uses.
    pub(crate) fn encode(&mut self, weight: Weight, text: &str) -> Vec<u8> {
        let face = self.face_mut(weight);
        let mut out = Vec::with_capacity(text.len() * 2);
        for c in text.chars() {
            let c = normalize(c);
            let (glyph, text) = match face.face.glyph_index(c) {
                Some(glyph) => (glyph, c),
                None => (face.fallback, '\u{FFFD}'),
            };
            let cid = face.remapper.remap(glyph.0);
            if glyph.0 != 0 {
                face.to_unicode.entry(cid).or_insert(text);
            }
            out.extend_from_slice(&cid.to_be_bytes());
        }
        out
    }

    /// Writes both fonts (subset font file, descriptor, CID font, Unicode map, Type 0 font) into `pdf`.
    pub(crate) fn write(&self, pdf: &mut Pdf, refs: &mut Refs) -> Result<[Ref; 2], PdfError> {
        Ok([write_font(&self.regular, pdf, refs)?, write_font(&self.bold, pdf, refs)?])
    }
}

/// A six-letter subset tag derived from the glyph set, so that identical input gives identical output.
fn subset_tag(face: &FontFace) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in face.postscript_name.bytes().chain(face.remapper.remapped_gids().flat_map(u16::to_be_bytes)) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    (0..6)
        .map(|i| {
            let letter = ((hash >> (i * 5)) % 26) as u8;
            char::from(b'A' + letter)
        })
        .collect()
}

fn write_font(face: &FontFace, pdf: &mut Pdf, refs: &mut Refs) -> Result<Ref, PdfError> {
    let type0_ref = refs.next();
    let cid_ref = refs.next();
    let descriptor_ref = refs.next();
    let cmap_ref = refs.next();
    let file_ref = refs.next();

    let base_font = format!("{}+{}", subset_tag(face), face.postscript_name);
    let base_font = Name(base_font.as_bytes());
    let system_info = SystemInfo { registry: Str(b"Adobe"), ordering: Str(b"Identity"), supplement: 0 };

    pdf.type0_font(type0_ref)
        .base_font(base_font)
        .encoding_predefined(Name(b"Identity-H"))
        .descendant_font(cid_ref)
        .to_unicode(cmap_ref);

    let widths: Vec<f32> = face.remapper.remapped_gids().map(|gid| face.advance(GlyphId(gid)).round()).collect();
    let mut cid = pdf.cid_font(cid_ref);
    cid.subtype(CidFontType::Type2)
        .base_font(base_font)
        .system_info(system_info)
        .font_descriptor(descriptor_ref)
        .default_width(0.0)
        .cid_to_gid_map_predefined(Name(b"Identity"));
    cid.widths().consecutive(0, widths);
    cid.finish();

    let ttf = &face.face;
    let bbox = ttf.global_bounding_box();
    let ascent = face.scale(ttf.ascender());
    let descent = face.scale(ttf.descender());
    let cap_height = face.scale(ttf.capital_height().unwrap_or(ttf.ascender()));
    let bold = ttf.is_bold();
    pdf.font_descriptor(descriptor_ref)
        .name(base_font)
        .flags(FontFlags::SYMBOLIC)
        .bbox(Rect::new(face.scale(bbox.x_min), face.scale(bbox.y_min), face.scale(bbox.x_max), face.scale(bbox.y_max)))
        .italic_angle(0.0)
        .ascent(ascent)
        .descent(descent)
        .cap_height(cap_height)
        .stem_v(if bold { 140.0 } else { 80.0 })
        .weight(if bold { 700 } else { 400 })
        .font_file2(file_ref);

    let mut cmap = UnicodeCmap::new(Name(b"Custom"), system_info);
    for (&cid, &c) in &face.to_unicode {
        cmap.pair(cid, c);
    }
    let cmap = compress(&cmap.finish());
    pdf.cmap(cmap_ref, &cmap).filter(Filter::FlateDecode);

    let subset = subsetter::subset(face.data, 0, &face.remapper).map_err(|e| PdfError::Font(e.to_string()))?;
    let compressed = compress(&subset);
    let mut file = pdf.stream(file_ref, &compressed);
    file.filter(Filter::FlateDecode);
    file.pair(Name(b"Length1"), subset.len() as i32);
    file.finish();

    Ok(type0_ref)
}

/// Deflates a stream body.
pub(crate) fn compress(data: &[u8]) -> Vec<u8> {
    compress_to_vec_zlib(data, 9)
}
