//! Sample documents and helpers shared by the integration tests.

#![allow(dead_code)]

use bursar_pdf::{DocKind, Document, Labels, Line, Logo, LogoFormat, Party, TaxLine, Total};

pub fn s(text: &str) -> String {
    text.to_owned()
}

fn total(label: &str, amount: &str, emphasized: bool) -> Total {
    Total { label: s(label), amount: s(amount), emphasized }
}

fn line(description: &str, detail: Option<&str>, quantity: &str, unit_price: &str, amount: &str) -> Line {
    Line {
        description: s(description),
        detail: detail.map(s),
        quantity: s(quantity),
        unit_price: s(unit_price),
        amount: s(amount),
    }
}

pub fn seller_de() -> Party {
    Party {
        name: s("Nordlicht Software GmbH"),
        address_lines: vec![s("Friedrichstraße 123"), s("10117 Berlin"), s("Germany")],
        tax_id: Some(s("VAT ID: DE298765432")),
        email: Some(s("billing@nordlicht.example")),
    }
}

/// A EUR invoice to a French business customer under the reverse-charge rule.
pub fn eur_invoice() -> Document {
    Document {
        kind: DocKind::Invoice,
        title: s("Invoice"),
        number: s("INV-2026-000042"),
        status: None,
        meta: vec![
            (s("Issue date"), s("23 Nov 2026")),
            (s("Due date"), s("7 Dec 2026")),
            (s("Currency"), s("EUR")),
            (s("Customer no."), s("CUS-0815")),
        ],
        seller: seller_de(),
        buyer: Party {
            name: s("Atelier Lumière SARL"),
            address_lines: vec![s("14 rue de la Paix"), s("75002 Paris"), s("France")],
            tax_id: Some(s("VAT ID: FR40303265045")),
            email: Some(s("compta@atelier-lumiere.example")),
        },
        lines: vec![
            line("Team plan", Some("1 Nov 2026 – 30 Nov 2026"), "12", "€49.00", "€588.00"),
            line("Additional storage (500 GB)", Some("1 Nov 2026 – 30 Nov 2026"), "2", "€15.00", "€30.00"),
            line(
                "Priority support with a named account manager, four-hour response time and quarterly reviews",
                Some("Proration · 12 Nov 2026 – 30 Nov 2026"),
                "1",
                "€126.67",
                "€126.67",
            ),
            line("Onboarding workshop", Some("20 % off"), "1", "€800.00", "€640.00"),
        ],
        tax_lines: vec![TaxLine {
            label: s("VAT 0 % (reverse charge, FR)"),
            taxable: s("€1,384.67"),
            amount: s("€0.00"),
        }],
        totals: vec![
            total("Subtotal", "€1,544.67", false),
            total("Discount", "−€160.00", false),
            total("VAT 0 %", "€0.00", false),
            total("Total", "€1,384.67", true),
            total("Amount paid", "€0.00", false),
            total("Amount due", "€1,384.67", false),
        ],
        notes: vec![
            s("Reverse charge: VAT to be accounted for by the recipient according to Article 196 of Council \
               Directive 2006/112/EC."),
            s("Please transfer the amount due to IBAN DE89 3704 0044 0532 0130 00 (BIC COBADEFFXXX) quoting \
               INV-2026-000042."),
        ],
        footer: Some(s("Nordlicht Software GmbH · Friedrichstraße 123 · 10117 Berlin · Registered at Amtsgericht \
                        Charlottenburg HRB 123456 · Managing director: Jana Weber")),
        logo: None,
        labels: Labels::default(),
    }
}

/// A paid receipt in RUB for a Russian customer, with Russian captions.
pub fn rub_receipt() -> Document {
    Document {
        kind: DocKind::Receipt,
        title: s("Квитанция"),
        number: s("RCT-2026-000317"),
        status: Some(s("Оплачено")),
        meta: vec![
            (s("Дата оплаты"), s("23 ноября 2026 г.")),
            (s("Валюта"), s("RUB")),
            (s("Счёт"), s("INV-2026-000301")),
        ],
        seller: Party {
            name: s("ООО «Северный Ветер»"),
            address_lines: vec![s("ул. Тверская, д. 7"), s("125009 Москва"), s("Россия")],
            tax_id: Some(s("ИНН: 7707083893")),
            email: Some(s("buh@severny-veter.example")),
        },
        buyer: Party {
            name: s("Иванова Анна Сергеевна"),
            address_lines: vec![s("Невский проспект, д. 28, кв. 14"), s("191186 Санкт-Петербург")],
            tax_id: None,
            email: Some(s("anna.ivanova@example.ru")),
        },
        lines: vec![
            line("Тариф «Бизнес»", Some("1 ноября – 30 ноября 2026"), "1", "4 990,00 ₽", "4 990,00 ₽"),
            line("Дополнительные пользователи", None, "3", "590,00 ₽", "1 770,00 ₽"),
        ],
        tax_lines: vec![TaxLine { label: s("НДС 20 %"), taxable: s("5 633,33 ₽"), amount: s("1 126,67 ₽") }],
        totals: vec![
            total("Сумма без НДС", "5 633,33 ₽", false),
            total("НДС 20 %", "1 126,67 ₽", false),
            total("Итого", "6 760,00 ₽", true),
            total("Оплачено", "6 760,00 ₽", false),
        ],
        notes: vec![s("Оплачено картой Мир •••• 4242, 23 ноября 2026 г.")],
        footer: Some(s("ООО «Северный Ветер» · ОГРН 1027700132195")),
        logo: None,
        labels: Labels {
            bill_to: s("Плательщик"),
            from: s("Получатель"),
            description: s("Описание"),
            quantity: s("Кол-во"),
            unit_price: s("Цена"),
            amount: s("Сумма"),
            tax_summary: s("Налоги"),
            taxable: s("База"),
            tax: s("Налог"),
            page: s("Страница"),
        },
    }
}

/// A GST invoice in INR between two Indian states (IGST).
pub fn inr_invoice() -> Document {
    Document {
        kind: DocKind::Invoice,
        title: s("Tax Invoice"),
        number: s("INV/2026-27/00918"),
        status: Some(s("Due")),
        meta: vec![
            (s("Invoice date"), s("23-11-2026")),
            (s("Due date"), s("08-12-2026")),
            (s("Place of supply"), s("Karnataka (29)")),
            (s("Currency"), s("INR")),
        ],
        seller: Party {
            name: s("Kaveri Cloud Services Pvt. Ltd."),
            address_lines: vec![s("4th Floor, Tower B, Cyber City"), s("Gurugram, Haryana 122002"), s("India")],
            tax_id: Some(s("GSTIN: 06AABCK1234L1Z5")),
            email: Some(s("accounts@kavericloud.example")),
        },
        buyer: Party {
            name: s("Shreya Raghavan Design Studio"),
            address_lines: vec![s("221, 80 Feet Road, Indiranagar"), s("Bengaluru, Karnataka 560038")],
            tax_id: Some(s("GSTIN: 29AAFCS5678K1Z2")),
            email: None,
        },
        lines: vec![
            line("Cloud hosting – Standard (SAC 998315)", Some("Nov 2026"), "1", "₹12,500.00", "₹12,500.00"),
            line("Managed backups (SAC 998315)", None, "4", "₹1,250.00", "₹5,000.00"),
        ],
        tax_lines: vec![TaxLine { label: s("IGST 18 %"), taxable: s("₹17,500.00"), amount: s("₹3,150.00") }],
        totals: vec![
            total("Taxable value", "₹17,500.00", false),
            total("IGST 18 %", "₹3,150.00", false),
            total("Total", "₹20,650.00", true),
            total("Amount due", "₹20,650.00", false),
        ],
        notes: vec![s("Amount in words: Indian Rupees Twenty Thousand Six Hundred Fifty Only.")],
        footer: Some(s("CIN U72900HR2019PTC081234 · This is a computer-generated invoice.")),
        logo: None,
        labels: Labels::default(),
    }
}

/// An invoice with `count` line items, long enough to span several pages.
pub fn long_invoice(count: usize) -> Document {
    let mut doc = eur_invoice();
    doc.number = s("INV-2026-000777");
    doc.lines = (1..=count)
        .map(|i| {
            let detail = (i % 3 == 0).then(|| format!("Usage period {i} Nov 2026"));
            line(&format!("API calls, bundle {i:03}"), detail.as_deref(), "1,000", "€0.10", &format!("€{i}.00"))
        })
        .collect();
    doc
}

/// A void credit note in GBP crediting part of an earlier invoice.
pub fn credit_note() -> Document {
    let mut doc = eur_invoice();
    doc.kind = DocKind::CreditNote;
    doc.title = s("Credit note");
    doc.number = s("CN-2026-000007");
    doc.status = Some(s("Void"));
    doc.meta = vec![
        (s("Issue date"), s("24 Nov 2026")),
        (s("Currency"), s("GBP")),
        (s("Reference"), s("Invoice INV-2026-000042")),
    ];
    doc.buyer = Party {
        name: s("Brightwater & Sons Ltd"),
        address_lines: vec![s("221B Baker Street"), s("London NW1 6XE"), s("United Kingdom")],
        tax_id: Some(s("VAT ID: GB123456789")),
        email: Some(s("accounts@brightwater.example")),
    };
    doc.lines = vec![line("Team plan – unused time", Some("Proration"), "1", "−£120.00", "−£120.00")];
    doc.tax_lines = vec![TaxLine { label: s("VAT 20 % (GB)"), taxable: s("−£120.00"), amount: s("−£24.00") }];
    doc.totals = vec![
        total("Subtotal", "−£120.00", false),
        total("VAT 20 %", "−£24.00", false),
        total("Total credited", "−£144.00", true),
    ];
    doc.notes = vec![s("The credit will be applied to your next invoice.")];
    doc
}

/// A 3×2 RGBA PNG with one transparent pixel.
pub fn png_logo() -> Logo {
    let pixels: [u8; 24] = [
        31, 78, 140, 255, 31, 78, 140, 255, 200, 40, 40, 255, //
        31, 78, 140, 255, 255, 255, 255, 0, 31, 78, 140, 255,
    ];
    let mut bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut bytes, 3, 2);
        encoder.set_color(png::ColorType::Rgba);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().expect("png header");
        writer.write_image_data(&pixels).expect("png data");
    }
    Logo { bytes, format: LogoFormat::Png }
}

/// A 16×8 RGB JPEG with a horizontal gradient.
pub fn jpeg_logo() -> Logo {
    let (w, h) = (16u16, 8u16);
    let pixels: Vec<u8> =
        (0..h).flat_map(|_| (0..w).flat_map(|x| [(x * 16) as u8, 90, (255 - x * 16) as u8])).collect();
    let mut bytes = Vec::new();
    jpeg_encoder::Encoder::new(&mut bytes, 90).encode(&pixels, w, h, jpeg_encoder::ColorType::Rgb).expect("jpeg");
    Logo { bytes, format: LogoFormat::Jpeg }
}

/// Text a viewer would extract from the PDF.
pub fn text_of(pdf: &[u8]) -> String {
    pdf_extract::extract_text_from_mem(pdf).expect("text extraction")
}

/// Number of pages in the PDF's page tree.
pub fn page_count(pdf: &[u8]) -> usize {
    pdf_extract::Document::load_mem(pdf).expect("parse pdf").get_pages().len()
}

/// Writes the PDF to the directory named by `BURSAR_PDF_PREVIEW_DIR`, when it is set, for visual review.
pub fn save_preview(name: &str, pdf: &[u8]) {
    if let Some(dir) = std::env::var_os("BURSAR_PDF_PREVIEW_DIR") {
        let dir = std::path::PathBuf::from(dir);
        std::fs::create_dir_all(&dir).expect("preview dir");
        std::fs::write(dir.join(format!("{name}.pdf")), pdf).expect("write preview");
    }
}
