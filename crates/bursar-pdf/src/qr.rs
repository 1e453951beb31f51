//! QR codes: the module matrix comes from the `qrcode` crate; it is drawn here as vector squares.

use qrcode::{Color, EcLevel, QrCode};

use crate::canvas::{Canvas, Rgb};
use crate::PdfError;

/// Modules of light margin required around a QR symbol (ISO/IEC 18004).
pub(crate) const QUIET_ZONE: usize = 4;

/// The dark and light modules of a QR symbol, row by row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct QrMatrix {
    pub(crate) width: usize,
    pub(crate) dark: Vec<bool>,
}

impl QrMatrix {
    /// Encodes `payload` as UTF-8 bytes with error correction level M (about 15 % of the symbol may be
    /// damaged and it still reads).
    pub(crate) fn encode(payload: &str) -> Result<QrMatrix, PdfError> {
        let code = QrCode::with_error_correction_level(payload.as_bytes(), EcLevel::M)
            .map_err(|e| PdfError::Qr(format!("{e} ({} bytes)", payload.len())))?;
        let dark = code.to_colors().into_iter().map(|c| c == Color::Dark).collect();
        Ok(QrMatrix { width: code.width(), dark })
    }

    pub(crate) fn is_dark(&self, x: usize, y: usize) -> bool {
        x < self.width && y < self.width && self.dark[y * self.width + x]
    }

    /// Horizontal runs of dark modules as (row, first column, length).
    pub(crate) fn runs(&self) -> Vec<(usize, usize, usize)> {
        let mut runs = Vec::new();
        for y in 0..self.width {
            let mut x = 0;
            while x < self.width {
                if self.is_dark(x, y) {
                    let start = x;
                    while x < self.width && self.is_dark(x, y) {
                        x += 1;
                    }
                    runs.push((y, start, x - start));
                } else {
                    x += 1;
                }
            }
        }
        runs
    }
}

/// Draws the symbol with its top-left module at (`x`, `y`), each module `module` points wide, in black on
/// the (white) page. Adjacent dark modules of a row are one rectangle, so no seams show between them.
pub(crate) fn draw(canvas: &mut Canvas, matrix: &QrMatrix, x: f32, y: f32, module: f32) {
    for (row, column, length) in matrix.runs() {
        let left = x + column as f32 * module;
        let top = y + row as f32 * module;
        canvas.fill_rect(left, top, length as f32 * module, module, Rgb(0.0, 0.0, 0.0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Renders the matrix as a greyscale bitmap with a quiet zone and reads it with an independent decoder.
    fn decode(matrix: &QrMatrix) -> String {
        let scale = 4;
        let side = (matrix.width + 2 * QUIET_ZONE) * scale;
        let image = rqrr::PreparedImage::prepare_from_greyscale(side, side, |x, y| {
            let (mx, my) = ((x / scale).wrapping_sub(QUIET_ZONE), (y / scale).wrapping_sub(QUIET_ZONE));
            if matrix.is_dark(mx, my) {
                0
            } else {
                255
            }
        });
        let mut image = image;
        let grids = image.detect_grids();
        assert_eq!(grids.len(), 1, "one symbol");
        grids[0].decode().expect("decodes").1
    }

    #[test]
    fn encoded_payloads_decode_back() {
        for payload in [
            "https://learn.example.org/certificates/verify/7f3c9a2e-1b4d-4e8a-9c61-0d2f5b8e7a14",
            "HELLO",
            "Zertifikat für Jana Weber – geprüft",
            "",
        ] {
            let matrix = QrMatrix::encode(payload).unwrap();
            assert_eq!(matrix.width % 4, 1, "QR symbols are 17 + 4·version modules wide");
            assert_eq!(decode(&matrix), payload);
        }
    }

    #[test]
    fn runs_cover_exactly_the_dark_modules() {
        let matrix = QrMatrix::encode("https://example.org/v/42").unwrap();
        let mut covered = vec![false; matrix.width * matrix.width];
        for (row, column, length) in matrix.runs() {
            for x in column..column + length {
                assert!(!covered[row * matrix.width + x], "overlap");
                covered[row * matrix.width + x] = true;
            }
        }
        assert_eq!(covered, matrix.dark);
        // Finder pattern: the top-left 7×7 square has a dark border.
        assert!((0..7).all(|i| matrix.is_dark(i, 0) && matrix.is_dark(0, i) && matrix.is_dark(6, i)));
    }

    #[test]
    fn too_long_payload_is_an_error() {
        let payload = "x".repeat(5000);
        assert!(matches!(QrMatrix::encode(&payload), Err(PdfError::Qr(_))));
    }
}
