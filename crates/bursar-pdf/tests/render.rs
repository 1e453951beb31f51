//! Renders realistic documents and reads the PDFs back to check what a reader would see.

mod common;

use bursar_pdf::{render, Document, Logo, LogoFormat, PdfError};
use common::*;
use pdf_extract::{Dictionary, Object};

/// Collapses runs of whitespace so assertions do not depend on how the extractor spaces glyph runs.
fn normalized(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn render_ok(name: &str, doc: &Document) -> (Vec<u8>, String) {
    let pdf = render(doc).expect("render");
    save_preview(name, &pdf);
    assert!(pdf.starts_with(b"%PDF-"), "not a PDF header");
    let text = normalized(&text_of(&pdf));
    (pdf, text)
}

fn assert_contains(text: &str, needles: &[&str]) {
    for needle in needles {
        assert!(text.contains(needle), "missing {needle:?} in extracted text:\n{text}");
    }
}

/// Image XObjects of the first page, as (dictionary, raw stream bytes).
fn page_images(pdf: &[u8]) -> Vec<(Dictionary, Vec<u8>)> {
    let doc = pdf_extract::Document::load_mem(pdf).expect("parse pdf");
    let page_id = *doc.get_pages().values().next().expect("a page");
    let page = doc.get_dictionary(page_id).expect("page dict");
    let resources = match page.get(b"Resources").expect("resources") {
        Object::Reference(id) => doc.get_dictionary(*id).expect("resources dict"),
        Object::Dictionary(dict) => dict,
        other => panic!("unexpected resources {other:?}"),
    };
    let Ok(xobjects) = resources.get(b"XObject") else {
        return Vec::new();
    };
    let xobjects = xobjects.as_dict().expect("xobject dict");
    xobjects
        .iter()
        .map(|(_, obj)| {
            let id = obj.as_reference().expect("xobject reference");
            let stream = doc.get_object(id).expect("xobject").as_stream().expect("xobject stream");
            (stream.dict.clone(), stream.content.clone())
        })
        .collect()
}

fn int(dict: &Dictionary, key: &[u8]) -> i64 {
    dict.get(key).and_then(Object::as_i64).unwrap_or_else(|_| panic!("{} missing", String::from_utf8_lossy(key)))
}

fn name(dict: &Dictionary, key: &[u8]) -> String {
    String::from_utf8_lossy(dict.get(key).and_then(Object::as_name).expect("name")).into_owned()
}

#[test]
fn eur_invoice_shows_number_parties_totals_and_reverse_charge() {
    let (pdf, text) = render_ok("invoice-eur", &eur_invoice());
    assert_contains(
        &text,
        &[
            "Invoice",
            "INV-2026-000042",
            "Nordlicht Software GmbH",
            "Friedrichstraße 123",
            "Atelier Lumière SARL",
            "VAT ID: DE298765432",
            "VAT ID: FR40303265045",
            "compta@atelier-lumiere.example",
            "23 Nov 2026",
            "Priority support",
            "1 Nov 2026 – 30 Nov 2026",
            "20 % off",
            "€1,384.67",
            "−€160.00",
            "VAT 0 % (reverse charge, FR)",
            "Reverse charge: VAT to be accounted for by the recipient",
            "Amtsgericht",
            "Page 1 / 1",
        ],
    );
    assert_eq!(page_count(&pdf), 1);
    assert!(pdf.len() < 100 * 1024, "invoice is {} bytes", pdf.len());
}

#[test]
fn rub_receipt_prints_cyrillic_names_and_rouble_sign() {
    let (pdf, text) = render_ok("receipt-rub", &rub_receipt());
    assert_contains(
        &text,
        &[
            "Квитанция",
            "RCT-2026-000317",
            "ООО «Северный Ветер»",
            "Иванова Анна Сергеевна",
            "Санкт-Петербург",
            "ИНН: 7707083893",
            "6 760,00 ₽",
            "Оплачено картой Мир •••• 4242",
            "Страница 1 / 1",
        ],
    );
    assert_eq!(page_count(&pdf), 1);
    assert!(pdf.len() < 100 * 1024, "receipt is {} bytes", pdf.len());
}

#[test]
fn inr_gst_invoice_prints_rupee_sign() {
    let (pdf, text) = render_ok("invoice-inr", &inr_invoice());
    assert_contains(
        &text,
        &["Tax Invoice", "INV/2026-27/00918", "GSTIN: 06AABCK1234L1Z5", "₹20,650.00", "₹3,150.00", "IGST 18 %"],
    );
    assert_eq!(page_count(&pdf), 1);
}

#[test]
fn credit_note_prints_negative_amounts() {
    let (_, text) = render_ok("credit-note-gbp", &credit_note());
    assert_contains(
        &text,
        &["Credit note", "CN-2026-000007", "Brightwater & Sons Ltd", "−£144.00", "Invoice INV-2026-000042"],
    );
}

#[test]
fn status_is_stamped_in_capitals() {
    let (_, text) = render_ok("status-void", &credit_note());
    assert!(text.contains("VOID"), "stamp missing:\n{text}");
    let (_, text) = render_ok("status-none", &eur_invoice());
    assert!(!text.contains("PAID") && !text.contains("VOID"), "unexpected stamp:\n{text}");
}

#[test]
fn long_invoice_flows_onto_further_pages_with_repeated_header() {
    let doc = long_invoice(120);
    let pdf = render(&doc).expect("render");
    save_preview("invoice-long", &pdf);
    let pages = page_count(&pdf);
    assert!(pages >= 3, "expected at least 3 pages, got {pages}");

    let texts: Vec<String> = pdf_extract::extract_text_from_mem_by_pages(&pdf)
        .expect("text by page")
        .iter()
        .map(|t| normalized(t))
        .collect();
    assert_eq!(texts.len(), pages);
    for (i, text) in texts.iter().enumerate() {
        assert!(text.contains(&format!("Page {} / {pages}", i + 1)), "page {} lacks its number:\n{text}", i + 1);
        assert!(text.contains("UNIT PRICE"), "page {} lacks the table header:\n{text}", i + 1);
    }
    for (i, text) in texts.iter().enumerate().skip(1) {
        assert!(text.contains("Invoice INV-2026-000777"), "page {} lacks the running head", i + 1);
    }
    let all = texts.join(" ");
    for i in 1..=120 {
        let needle = format!("API calls, bundle {i:03}");
        assert_eq!(all.matches(&needle).count(), 1, "{needle} should appear exactly once");
    }
    // The totals come after the last item.
    let last = texts.last().unwrap();
    assert!(last.contains("Amount due"), "totals not on the last page:\n{last}");
    assert!(all.find("bundle 120").unwrap() < all.rfind("Amount due").unwrap());
}

#[test]
fn png_logo_is_embedded_with_soft_mask() {
    let mut doc = eur_invoice();
    doc.logo = Some(png_logo());
    let (pdf, text) = render_ok("logo-png", &doc);
    let images = page_images(&pdf);
    assert_eq!(images.len(), 1, "expected one image");
    let (dict, _) = &images[0];
    assert_eq!(name(dict, b"Subtype"), "Image");
    assert_eq!(int(dict, b"Width"), 3);
    assert_eq!(int(dict, b"Height"), 2);
    assert_eq!(name(dict, b"ColorSpace"), "DeviceRGB");
    assert!(dict.get(b"SMask").is_ok(), "transparent PNG needs a soft mask");
    // With a logo the seller still appears in the "From" block.
    assert!(text.contains("Nordlicht Software GmbH"));
}

#[test]
fn jpeg_logo_is_passed_through_unchanged() {
    let logo = jpeg_logo();
    let mut doc = inr_invoice();
    doc.logo = Some(logo.clone());
    let (pdf, _) = render_ok("logo-jpeg", &doc);
    let images = page_images(&pdf);
    assert_eq!(images.len(), 1, "expected one image");
    let (dict, content) = &images[0];
    assert_eq!(name(dict, b"Filter"), "DCTDecode");
    assert_eq!(int(dict, b"Width"), 16);
    assert_eq!(int(dict, b"Height"), 8);
    assert_eq!(content, &logo.bytes);
}

#[test]
fn no_logo_means_no_image() {
    let (pdf, _) = render_ok("no-logo", &eur_invoice());
    assert!(page_images(&pdf).is_empty());
}

#[test]
fn corrupt_logos_are_rejected() {
    let png = png_logo();
    let cases = [
        ("garbage png", Logo { bytes: b"definitely not an image".to_vec(), format: LogoFormat::Png }),
        ("truncated png", Logo { bytes: png.bytes[..png.bytes.len() / 2].to_vec(), format: LogoFormat::Png }),
        ("jpeg declared as png", Logo { bytes: jpeg_logo().bytes, format: LogoFormat::Png }),
        ("garbage jpeg", Logo { bytes: vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00], format: LogoFormat::Jpeg }),
        ("png declared as jpeg", Logo { bytes: png.bytes.clone(), format: LogoFormat::Jpeg }),
        ("empty", Logo { bytes: Vec::new(), format: LogoFormat::Jpeg }),
    ];
    for (what, logo) in cases {
        let mut doc = eur_invoice();
        doc.logo = Some(logo);
        match render(&doc) {
            Err(PdfError::Logo(message)) => assert!(!message.is_empty(), "{what}: empty message"),
            Err(other) => panic!("{what}: wrong error {other}"),
            Ok(_) => panic!("{what}: rendered although the logo is corrupt"),
        }
    }
}

#[test]
fn output_is_deterministic() {
    let mut doc = long_invoice(40);
    doc.logo = Some(png_logo());
    let first = render(&doc).unwrap();
    let second = render(&doc).unwrap();
    assert!(first == second, "two renders of the same document differ");
    doc.number = s("INV-2026-000778");
    assert!(render(&doc).unwrap() != first, "a different number must change the file");
    let haystack = String::from_utf8_lossy(&first);
    assert!(!haystack.contains("CreationDate") && !haystack.contains("ModDate"));
}

#[test]
fn fonts_are_embedded_as_subsets() {
    let pdf = render(&rub_receipt()).unwrap();
    let doc = pdf_extract::Document::load_mem(&pdf).unwrap();
    let mut base_fonts = Vec::new();
    let mut font_files = 0;
    for object in doc.objects.values() {
        let dict = match object {
            Object::Dictionary(dict) => dict,
            Object::Stream(stream) => &stream.dict,
            _ => continue,
        };
        if dict.get(b"FontFile2").is_ok() {
            font_files += 1;
        }
        if let Ok(Object::Name(base)) = dict.get(b"BaseFont") {
            if dict.get(b"DescendantFonts").is_ok() {
                base_fonts.push(String::from_utf8_lossy(base).into_owned());
            }
        }
    }
    base_fonts.sort();
    assert_eq!(base_fonts.len(), 2, "expected a regular and a bold font: {base_fonts:?}");
    assert!(base_fonts.iter().any(|f| f.ends_with("+DejaVuSans")), "{base_fonts:?}");
    assert!(base_fonts.iter().any(|f| f.ends_with("+DejaVuSans-Bold")), "{base_fonts:?}");
    assert_eq!(font_files, 2, "both fonts must be embedded");
    // A full DejaVu Sans is over 700 KB; subsets keep the file small.
    assert!(pdf.len() < 60 * 1024, "receipt is {} bytes", pdf.len());
}

#[test]
fn unusual_input_still_renders() {
    let mut doc = eur_invoice();
    doc.lines.clear();
    doc.tax_lines.clear();
    doc.totals.clear();
    doc.notes.clear();
    doc.meta.clear();
    doc.footer = None;
    doc.buyer.name =
        s("東京商事株式会社 with a customer name that is far too long to fit on a single line of the block");
    doc.seller.name = s("Nordlicht");
    let (pdf, text) = render_ok("sparse", &doc);
    assert_eq!(page_count(&pdf), 1);
    assert_contains(&text, &["INV-2026-000042", "Page 1 / 1", "far too long"]);

    let mut doc = eur_invoice();
    doc.lines[0].description = "A very long description. ".repeat(400);
    doc.lines[1].description = "Unbreakable".repeat(30);
    let (pdf, text) = render_ok("oversized-row", &doc);
    assert!(page_count(&pdf) >= 2, "an oversized row must continue on the next page");
    assert!(text.contains("€1,384.67"));
}
