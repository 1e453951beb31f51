//! Logo images: PNG files are decoded and re-compressed as raw samples (with transparency as a soft mask),
//! JPEG files are embedded unchanged and decoded by the viewer.

use std::io::Cursor;

use pdf_writer::{Filter, Finish, Pdf, Ref};

use crate::fonts::compress;
use crate::{Logo, LogoFormat, PdfError, Refs};

/// Largest logo accepted, in pixels per side.
const MAX_SIDE: u32 = 8192;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Colour {
    Gray,
    Rgb,
    Cmyk,
}

impl Colour {
    fn components(self) -> usize {
        match self {
            Colour::Gray => 1,
            Colour::Rgb => 3,
            Colour::Cmyk => 4,
        }
    }
}

/// A logo checked and converted for embedding.
pub(crate) struct PreparedLogo {
    pub(crate) width: u32,
    pub(crate) height: u32,
    colour: Colour,
    data: Vec<u8>,
    filter: Filter,
    /// Compressed 8-bit alpha samples, when the image has transparency.
    alpha: Option<Vec<u8>>,
    /// Adobe CMYK JPEGs store inverted samples.
    inverted_cmyk: bool,
}

impl PreparedLogo {
    pub(crate) fn prepare(logo: &Logo) -> Result<Self, PdfError> {
        let prepared = match logo.format {
            LogoFormat::Png => prepare_png(&logo.bytes)?,
            LogoFormat::Jpeg => prepare_jpeg(&logo.bytes)?,
        };
        if prepared.width == 0 || prepared.height == 0 {
            return Err(PdfError::Logo("image has no pixels".into()));
        }
        if prepared.width > MAX_SIDE || prepared.height > MAX_SIDE {
            return Err(PdfError::Logo(format!(
                "image is {}×{} pixels; at most {MAX_SIDE} per side is accepted",
                prepared.width, prepared.height
            )));
        }
        Ok(prepared)
    }

    /// Writes the image (and its soft mask) as XObjects; returns the image's reference.
    pub(crate) fn write(&self, pdf: &mut Pdf, refs: &mut Refs) -> Ref {
        let image_ref = refs.next();
        let mask_ref = self.alpha.as_ref().map(|_| refs.next());
        let mut image = pdf.image_xobject(image_ref, &self.data);
        image.filter(self.filter);
        image.width(self.width as i32);
        image.height(self.height as i32);
        image.bits_per_component(8);
        match self.colour {
            Colour::Gray => image.color_space().device_gray(),
            Colour::Rgb => image.color_space().device_rgb(),
            Colour::Cmyk => image.color_space().device_cmyk(),
        }
        if self.inverted_cmyk {
            image.decode([1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0]);
        }
        if let Some(mask_ref) = mask_ref {
            image.s_mask(mask_ref);
        }
        image.finish();
        if let (Some(mask_ref), Some(alpha)) = (mask_ref, &self.alpha) {
            let mut mask = pdf.image_xobject(mask_ref, alpha);
            mask.filter(Filter::FlateDecode);
            mask.width(self.width as i32);
            mask.height(self.height as i32);
            mask.bits_per_component(8);
            mask.color_space().device_gray();
            mask.finish();
        }
        image_ref
    }
}

fn prepare_png(bytes: &[u8]) -> Result<PreparedLogo, PdfError> {
    let bad = |e: png::DecodingError| PdfError::Logo(format!("invalid PNG: {e}"));
    let mut decoder = png::Decoder::new(Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().map_err(bad)?;
    {
        let info = reader.info();
        if info.width > MAX_SIDE || info.height > MAX_SIDE {
            return Err(PdfError::Logo(format!(
                "image is {}×{} pixels; at most {MAX_SIDE} per side is accepted",
                info.width, info.height
            )));
        }
    }
    let size = reader.output_buffer_size().ok_or_else(|| PdfError::Logo("PNG image is too large".into()))?;
    let mut buf = vec![0; size];
    let frame = reader.next_frame(&mut buf).map_err(bad)?;
    let (width, height) = (frame.width, frame.height);
    let pixels = &buf[..frame.buffer_size()];
    let (colour, has_alpha) = match frame.color_type {
        png::ColorType::Grayscale => (Colour::Gray, false),
        png::ColorType::GrayscaleAlpha => (Colour::Gray, true),
        png::ColorType::Rgb => (Colour::Rgb, false),
        png::ColorType::Rgba => (Colour::Rgb, true),
        png::ColorType::Indexed => return Err(PdfError::Logo("indexed PNG could not be expanded".into())),
    };
    if frame.bit_depth != png::BitDepth::Eight {
        return Err(PdfError::Logo("PNG sample depth could not be converted to 8 bits".into()));
    }
    let (data, alpha) = if has_alpha {
        let channels = colour.components() + 1;
        let mut colours = Vec::with_capacity(pixels.len() / channels * colour.components());
        let mut alphas = Vec::with_capacity(pixels.len() / channels);
        for pixel in pixels.chunks_exact(channels) {
            colours.extend_from_slice(&pixel[..channels - 1]);
            alphas.push(pixel[channels - 1]);
        }
        let opaque = alphas.iter().all(|&a| a == 255);
        (colours, if opaque { None } else { Some(compress(&alphas)) })
    } else {
        (pixels.to_vec(), None)
    };
    Ok(PreparedLogo {
        width,
        height,
        colour,
        data: compress(&data),
        filter: Filter::FlateDecode,
        alpha,
        inverted_cmyk: false,
    })
}

/// Reads the frame header of a baseline or progressive JPEG; the compressed data is passed through.
fn prepare_jpeg(bytes: &[u8]) -> Result<PreparedLogo, PdfError> {
    let bad = |what: &str| PdfError::Logo(format!("invalid JPEG: {what}"));
    if bytes.len() < 4 || bytes[0] != 0xFF || bytes[1] != 0xD8 {
        return Err(bad("missing start-of-image marker"));
    }
    let mut pos = 2;
    let mut adobe = false;
    loop {
        // Skip fill bytes before a marker.
        while pos < bytes.len() && bytes[pos] == 0xFF && bytes.get(pos + 1) == Some(&0xFF) {
            pos += 1;
        }
        if pos + 4 > bytes.len() || bytes[pos] != 0xFF {
            return Err(bad("no frame header found"));
        }
        let marker = bytes[pos + 1];
        if marker == 0xD9 || marker == 0xDA {
            return Err(bad("no frame header before image data"));
        }
        // Standalone markers carry no length.
        if marker == 0x01 || (0xD0..=0xD7).contains(&marker) {
            pos += 2;
            continue;
        }
        let length = usize::from(u16::from_be_bytes([bytes[pos + 2], bytes[pos + 3]]));
        if length < 2 || pos + 2 + length > bytes.len() {
            return Err(bad("truncated segment"));
        }
        let segment = &bytes[pos + 4..pos + 2 + length];
        match marker {
            0xEE if segment.starts_with(b"Adobe") => adobe = true,
            // Start-of-frame markers, excluding DHT (C4), JPG (C8) and DAC (CC).
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                if matches!(marker, 0xC3 | 0xC7 | 0xCB | 0xCF) {
                    return Err(bad("lossless JPEG is not supported"));
                }
                if segment.len() < 6 {
                    return Err(bad("short frame header"));
                }
                if segment[0] != 8 {
                    return Err(bad("only 8-bit samples are supported"));
                }
                let height = u32::from(u16::from_be_bytes([segment[1], segment[2]]));
                let width = u32::from(u16::from_be_bytes([segment[3], segment[4]]));
                let colour = match segment[5] {
                    1 => Colour::Gray,
                    3 => Colour::Rgb,
                    4 => Colour::Cmyk,
                    n => return Err(bad(&format!("{n} colour components"))),
                };
                if !bytes.windows(2).skip(pos).any(|w| w == [0xFF, 0xDA]) {
                    return Err(bad("no image data"));
                }
                return Ok(PreparedLogo {
                    width,
                    height,
                    colour,
                    data: bytes.to_vec(),
                    filter: Filter::DctDecode,
                    alpha: None,
                    inverted_cmyk: colour == Colour::Cmyk && adobe,
                });
            }
            _ => {}
        }
        pos += 2 + length;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal JPEG header: SOI, optional APP14 "Adobe", a frame header and the start of scan.
    fn jpeg(sof: u8, components: u8, adobe: bool) -> Vec<u8> {
        let mut b = vec![0xFF, 0xD8];
        if adobe {
            b.extend_from_slice(&[0xFF, 0xEE, 0x00, 0x0E]);
            b.extend_from_slice(b"Adobe\x00\x64\x00\x00\x00\x00\x02");
        }
        let len = 8 + 3 * u16::from(components);
        b.extend_from_slice(&[0xFF, sof]);
        b.extend_from_slice(&len.to_be_bytes());
        b.extend_from_slice(&[8, 0x00, 0x20, 0x00, 0x40, components]);
        for i in 0..components {
            b.extend_from_slice(&[i + 1, 0x11, 0]);
        }
        b.extend_from_slice(&[0xFF, 0xDA, 0x00, 0x02, 0xFF, 0xD9]);
        b
    }

    #[test]
    fn jpeg_frame_header_is_read() {
        let logo = prepare_jpeg(&jpeg(0xC0, 3, false)).unwrap();
        assert_eq!((logo.width, logo.height, logo.colour), (64, 32, Colour::Rgb));
        assert!(!logo.inverted_cmyk);
        let progressive = prepare_jpeg(&jpeg(0xC2, 1, false)).unwrap();
        assert_eq!(progressive.colour, Colour::Gray);
    }

    #[test]
    fn adobe_cmyk_jpeg_is_inverted() {
        let logo = prepare_jpeg(&jpeg(0xC0, 4, true)).unwrap();
        assert_eq!(logo.colour, Colour::Cmyk);
        assert!(logo.inverted_cmyk);
    }

    #[test]
    fn unsupported_jpegs_are_rejected() {
        assert!(prepare_jpeg(&jpeg(0xC3, 3, false)).is_err(), "lossless");
        assert!(prepare_jpeg(&jpeg(0xC0, 2, false)).is_err(), "two components");
        let mut no_scan = jpeg(0xC0, 3, false);
        no_scan.truncate(no_scan.len() - 6);
        assert!(prepare_jpeg(&no_scan).is_err(), "no scan");
    }
}
