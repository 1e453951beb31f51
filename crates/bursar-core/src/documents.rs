//! Invoice, receipt and credit-note PDFs: the stored rows turned into a
//! [`bursar_pdf::Document`] in the customer's locale, rendered, and kept in
//! the document storage. Issued documents never change, so a rendering is
//! stored once under a key that includes the invoice status, and served
//! from storage afterwards; drafts are rendered on every request and never
//! stored.

use crate::config::Config;
use crate::error::{Error, Result};
use crate::storage::Storage;
use bursar_domain::clock::from_millis;
use bursar_domain::money::{format_date, format_integer, format_money, Currency, Locale, Money};
use bursar_pdf::{DocKind, Document, Labels, Line, Logo, LogoFormat, Party, TaxLine, Total};
use bursar_store::billing::{CreditNoteRow, InvoiceRow, LineRow};
use serde_json::Value;

/// Captions in one language.
struct Words {
    invoice: &'static str,
    receipt: &'static str,
    credit_note: &'static str,
    issue_date: &'static str,
    due_date: &'static str,
    date_paid: &'static str,
    period: &'static str,
    currency: &'static str,
    invoice_ref: &'static str,
    subtotal: &'static str,
    total: &'static str,
    credit_applied: &'static str,
    amount_paid: &'static str,
    amount_due: &'static str,
    amount_refunded: &'static str,
    paid: &'static str,
    void: &'static str,
    draft: &'static str,
    uncollectible: &'static str,
    vat_id: &'static str,
    proration: &'static str,
    to_method: &'static str,
    to_balance: &'static str,
    labels: [&'static str; 10],
}

const EN: Words = Words {
    invoice: "Invoice",
    receipt: "Receipt",
    credit_note: "Credit note",
    issue_date: "Issue date",
    due_date: "Due date",
    date_paid: "Date paid",
    period: "Service period",
    currency: "Currency",
    invoice_ref: "Invoice",
    subtotal: "Subtotal",
    total: "Total",
    credit_applied: "Credit applied",
    amount_paid: "Amount paid",
    amount_due: "Amount due",
    amount_refunded: "Amount credited",
    paid: "Paid",
    void: "Void",
    draft: "Draft",
    uncollectible: "Uncollectible",
    vat_id: "VAT ID",
    proration: "Proration",
    to_method: "Refunded to the original payment method.",
    to_balance: "Credited to your account balance; it is used before your next charge.",
    labels: ["Bill to", "From", "Description", "Qty", "Unit price", "Amount", "Tax summary", "Taxable", "Tax", "Page"],
};

const DE: Words = Words {
    invoice: "Rechnung",
    receipt: "Zahlungsbeleg",
    credit_note: "Gutschrift",
    issue_date: "Rechnungsdatum",
    due_date: "Fällig am",
    date_paid: "Bezahlt am",
    period: "Leistungszeitraum",
    currency: "Währung",
    invoice_ref: "Rechnung",
    subtotal: "Zwischensumme",
    total: "Gesamtbetrag",
    credit_applied: "Verrechnetes Guthaben",
    amount_paid: "Bezahlt",
    amount_due: "Offener Betrag",
    amount_refunded: "Gutgeschrieben",
    paid: "Bezahlt",
    void: "Storniert",
    draft: "Entwurf",
    uncollectible: "Uneinbringlich",
    vat_id: "USt-IdNr.",
    proration: "Anteilige Berechnung",
    to_method: "Erstattet auf das ursprüngliche Zahlungsmittel.",
    to_balance: "Ihrem Kundenguthaben gutgeschrieben; es wird vor der nächsten Zahlung verrechnet.",
    labels: [
        "Rechnungsempfänger",
        "Von",
        "Beschreibung",
        "Menge",
        "Einzelpreis",
        "Betrag",
        "Steuerübersicht",
        "Netto",
        "Steuer",
        "Seite",
    ],
};

const FR: Words = Words {
    invoice: "Facture",
    receipt: "Reçu",
    credit_note: "Avoir",
    issue_date: "Date d’émission",
    due_date: "Échéance",
    date_paid: "Payée le",
    period: "Période",
    currency: "Devise",
    invoice_ref: "Facture",
    subtotal: "Sous-total",
    total: "Total",
    credit_applied: "Crédit appliqué",
    amount_paid: "Montant payé",
    amount_due: "Montant dû",
    amount_refunded: "Montant crédité",
    paid: "Payée",
    void: "Annulée",
    draft: "Brouillon",
    uncollectible: "Irrécouvrable",
    vat_id: "N° TVA",
    proration: "Prorata",
    to_method: "Remboursé sur le moyen de paiement d’origine.",
    to_balance: "Crédité sur votre solde ; il sera utilisé avant votre prochain paiement.",
    labels: ["Facturé à", "De", "Description", "Qté", "Prix unitaire", "Montant", "TVA", "Base", "Taxe", "Page"],
};

const ES: Words = Words {
    invoice: "Factura",
    receipt: "Recibo",
    credit_note: "Factura rectificativa",
    issue_date: "Fecha de emisión",
    due_date: "Vencimiento",
    date_paid: "Fecha de pago",
    period: "Periodo",
    currency: "Moneda",
    invoice_ref: "Factura",
    subtotal: "Subtotal",
    total: "Total",
    credit_applied: "Saldo aplicado",
    amount_paid: "Importe pagado",
    amount_due: "Importe pendiente",
    amount_refunded: "Importe abonado",
    paid: "Pagada",
    void: "Anulada",
    draft: "Borrador",
    uncollectible: "Incobrable",
    vat_id: "NIF-IVA",
    proration: "Prorrateo",
    to_method: "Reembolsado al método de pago original.",
    to_balance: "Abonado a su saldo; se usará antes de su próximo cobro.",
    labels: [
        "Facturar a",
        "De",
        "Descripción",
        "Cant.",
        "Precio unitario",
        "Importe",
        "Impuestos",
        "Base",
        "Impuesto",
        "Página",
    ],
};

const PT: Words = Words {
    invoice: "Fatura",
    receipt: "Recibo",
    credit_note: "Nota de crédito",
    issue_date: "Data de emissão",
    due_date: "Vencimento",
    date_paid: "Data do pagamento",
    period: "Período",
    currency: "Moeda",
    invoice_ref: "Fatura",
    subtotal: "Subtotal",
    total: "Total",
    credit_applied: "Crédito aplicado",
    amount_paid: "Valor pago",
    amount_due: "Valor devido",
    amount_refunded: "Valor creditado",
    paid: "Paga",
    void: "Cancelada",
    draft: "Rascunho",
    uncollectible: "Incobrável",
    vat_id: "ID fiscal",
    proration: "Rateio",
    to_method: "Reembolsado no meio de pagamento original.",
    to_balance: "Creditado no seu saldo; será usado antes da próxima cobrança.",
    labels: [
        "Cobrar de",
        "De",
        "Descrição",
        "Qtd.",
        "Preço unitário",
        "Valor",
        "Impostos",
        "Base",
        "Imposto",
        "Página",
    ],
};

const RU: Words = Words {
    invoice: "Счёт",
    receipt: "Квитанция",
    credit_note: "Кредит-нота",
    issue_date: "Дата выставления",
    due_date: "Срок оплаты",
    date_paid: "Дата оплаты",
    period: "Период",
    currency: "Валюта",
    invoice_ref: "Счёт",
    subtotal: "Промежуточный итог",
    total: "Итого",
    credit_applied: "Зачтённый баланс",
    amount_paid: "Оплачено",
    amount_due: "К оплате",
    amount_refunded: "Возвращено",
    paid: "Оплачено",
    void: "Аннулирован",
    draft: "Черновик",
    uncollectible: "Безнадёжный",
    vat_id: "ИНН",
    proration: "Пропорциональный перерасчёт",
    to_method: "Возвращено на исходный способ оплаты.",
    to_balance: "Зачислено на ваш баланс; будет использовано до следующего списания.",
    labels: ["Плательщик", "Продавец", "Описание", "Кол-во", "Цена", "Сумма", "Налоги", "База", "Налог", "Страница"],
};

fn words(locale: Locale) -> &'static Words {
    match locale {
        Locale::DeDe => &DE,
        Locale::FrFr => &FR,
        Locale::EsEs => &ES,
        Locale::PtBr => &PT,
        Locale::RuRu => &RU,
        _ => &EN,
    }
}

fn labels(w: &Words) -> Labels {
    let l = w.labels;
    Labels {
        bill_to: l[0].into(),
        from: l[1].into(),
        description: l[2].into(),
        quantity: l[3].into(),
        unit_price: l[4].into(),
        amount: l[5].into(),
        tax_summary: l[6].into(),
        taxable: l[7].into(),
        tax: l[8].into(),
        page: l[9].into(),
    }
}

/// Everything besides the rows that goes into a document.
pub struct Context<'a> {
    pub config: &'a Config,
    /// The customer's current locale tag, if any.
    pub locale: Option<&'a str>,
}

impl Context<'_> {
    fn locale(&self) -> Locale {
        self.locale.and_then(|l| Locale::from_tag(l).ok()).unwrap_or(Locale::EnUs)
    }

    fn seller(&self, w: &Words) -> Party {
        let c = self.config;
        Party {
            name: c.seller_name.clone(),
            address_lines: c.seller_address.clone(),
            tax_id: c.seller_tax_id.as_ref().map(|t| format!("{}: {t}", w.vat_id)),
            email: c.seller_email.clone(),
        }
    }

    fn logo(&self) -> Result<Option<Logo>> {
        let Some(path) = &self.config.invoice_logo else { return Ok(None) };
        let bytes = std::fs::read(path).map_err(|e| {
            tracing::error!(path = %path.display(), error = %e, "invoice_logo cannot be read");
            Error::internal()
        })?;
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
        let format = if ext == "png" { LogoFormat::Png } else { LogoFormat::Jpeg };
        Ok(Some(Logo { bytes, format }))
    }

    fn footer(&self) -> Option<String> {
        self.config.invoice_footer.clone()
    }
}

fn money(minor: i64, currency: Currency, locale: Locale) -> String {
    format_money(Money::new(minor, currency), locale)
}

fn date(ms: i64, locale: Locale) -> String {
    format_date(from_millis(ms).to_zoned(jiff::tz::TimeZone::UTC).date(), locale)
}

/// The billing details snapshotted on the invoice.
fn buyer(snapshot: &Value, w: &Words) -> Party {
    let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let mut lines = Vec::new();
    if let Some(a) = snapshot.get("address").filter(|a| a.is_object()) {
        lines.extend(s(a, "line1"));
        lines.extend(s(a, "line2"));
        let city = [s(a, "postal_code"), s(a, "city")].into_iter().flatten().collect::<Vec<_>>().join(" ");
        if !city.is_empty() {
            lines.push(city);
        }
        lines.extend(s(a, "state"));
        lines.extend(s(a, "country").or_else(|| s(snapshot, "country")));
    } else {
        lines.extend(s(snapshot, "country"));
    }
    let tax_id = snapshot
        .get("tax_ids")
        .and_then(Value::as_array)
        .and_then(|ids| ids.first())
        .and_then(|t| t.get("value").and_then(Value::as_str))
        .map(|v| format!("{}: {v}", w.vat_id));
    Party {
        name: s(snapshot, "name").or_else(|| s(snapshot, "email")).unwrap_or_default(),
        address_lines: lines,
        tax_id,
        email: s(snapshot, "email"),
    }
}

fn tax_lines(details: &Value, currency: Currency, locale: Locale) -> Vec<TaxLine> {
    let taxes = details.get("taxes").and_then(Value::as_array).cloned().unwrap_or_default();
    taxes
        .iter()
        .filter_map(|t| {
            let rate = t.get("rate_bps")?.as_i64()?;
            let name = t.get("name").and_then(Value::as_str).unwrap_or("Tax");
            let jurisdiction = t.get("jurisdiction").and_then(Value::as_str).unwrap_or("");
            let pct = bursar_domain::money::format_decimal(rate, 2, locale);
            let pct = pct.trim_end_matches('0').trim_end_matches(['.', ',']).to_string();
            Some(TaxLine {
                label: format!("{name} {pct} % ({jurisdiction})"),
                taxable: t
                    .get("taxable_minor")
                    .and_then(Value::as_i64)
                    .map(|v| money(v, currency, locale))
                    .unwrap_or_default(),
                amount: money(t.get("amount_minor")?.as_i64()?, currency, locale),
            })
        })
        .collect()
}

fn currency_of(code: &str) -> Result<Currency> {
    Currency::from_code(code).map_err(|_| Error::internal())
}

/// The invoice as a PDF document (a receipt when `receipt`).
pub fn invoice_document(
    ctx: &Context<'_>,
    inv: &InvoiceRow,
    lines: &[LineRow],
    notes: &[CreditNoteRow],
    receipt: bool,
) -> Result<Document> {
    let locale = ctx.locale();
    let w = words(locale);
    let currency = currency_of(&inv.currency)?;
    let m = |v: i64| money(v, currency, locale);
    let snapshot: Value = serde_json::from_str(&inv.customer_snapshot).unwrap_or_default();
    let details: Value = serde_json::from_str(&inv.tax_details).unwrap_or_default();
    let number = inv.number.clone().unwrap_or_else(|| w.draft.to_string());
    let mut meta = Vec::new();
    if receipt {
        meta.push((w.invoice_ref.to_string(), number.clone()));
        if let Some(p) = inv.paid_at {
            meta.push((w.date_paid.to_string(), date(p, locale)));
        }
    } else {
        meta.push((w.issue_date.to_string(), date(inv.finalized_at.unwrap_or(inv.created_at), locale)));
        if let Some(d) = inv.due_at {
            meta.push((w.due_date.to_string(), date(d, locale)));
        }
    }
    if let (Some(s), Some(e)) = (inv.period_start, inv.period_end) {
        meta.push((w.period.to_string(), format!("{} – {}", date(s, locale), date(e, locale))));
    }
    meta.push((w.currency.to_string(), inv.currency.clone()));
    let doc_lines = lines
        .iter()
        .map(|l| Line {
            description: l.description.clone(),
            detail: match (l.kind.as_str(), l.period_start, l.period_end) {
                ("proration", Some(s), Some(e)) => {
                    Some(format!("{} · {} – {}", w.proration, date(s, locale), date(e, locale)))
                }
                (_, Some(s), Some(e)) => Some(format!("{} – {}", date(s, locale), date(e, locale))),
                _ => None,
            },
            quantity: format_integer(l.quantity, locale),
            unit_price: m(l.unit_amount),
            amount: m(l.amount),
        })
        .collect();
    let mut totals = vec![Total { label: w.subtotal.into(), amount: m(inv.subtotal), emphasized: false }];
    let taxes = tax_lines(&details, currency, locale);
    for t in &taxes {
        totals.push(Total { label: t.label.clone(), amount: t.amount.clone(), emphasized: false });
    }
    totals.push(Total { label: w.total.into(), amount: m(inv.total), emphasized: !receipt });
    if inv.credit_applied > 0 {
        totals.push(Total { label: w.credit_applied.into(), amount: m(-inv.credit_applied), emphasized: false });
    }
    let credited: i64 = notes.iter().map(|n| n.credited()).sum();
    if receipt {
        totals.push(Total { label: w.amount_paid.into(), amount: m(inv.amount_paid), emphasized: true });
    } else {
        totals.push(Total { label: w.amount_paid.into(), amount: m(inv.amount_paid), emphasized: false });
        if credited > 0 {
            totals.push(Total { label: w.amount_refunded.into(), amount: m(credited), emphasized: false });
        }
        let due = if inv.status == "open" { inv.amount_due - inv.amount_paid } else { 0 };
        totals.push(Total { label: w.amount_due.into(), amount: m(due), emphasized: false });
    }
    let mut doc_notes = Vec::new();
    if let Some(d) = &inv.description {
        doc_notes.push(d.clone());
    }
    if let Some(n) = details.get("note").and_then(Value::as_str) {
        doc_notes.push(n.to_string());
    }
    for n in notes.iter().filter(|n| n.status != "void") {
        doc_notes.push(format!("{} {} · {}", w.credit_note, n.number, m(n.total)));
    }
    let status = if receipt {
        Some(w.paid)
    } else {
        match inv.status.as_str() {
            "paid" => Some(w.paid),
            "void" => Some(w.void),
            "draft" => Some(w.draft),
            "uncollectible" => Some(w.uncollectible),
            _ => None,
        }
    };
    Ok(Document {
        kind: if receipt { DocKind::Receipt } else { DocKind::Invoice },
        title: if receipt { w.receipt } else { w.invoice }.to_string(),
        number,
        status: status.map(str::to_string),
        meta,
        seller: ctx.seller(w),
        buyer: buyer(&snapshot, w),
        lines: doc_lines,
        tax_lines: taxes,
        totals,
        notes: doc_notes,
        footer: ctx.footer(),
        logo: ctx.logo()?,
        labels: labels(w),
    })
}

/// A credit note as a PDF document.
pub fn credit_note_document(ctx: &Context<'_>, cn: &CreditNoteRow, inv: &InvoiceRow) -> Result<Document> {
    let locale = ctx.locale();
    let w = words(locale);
    let currency = currency_of(&cn.currency)?;
    let m = |v: i64| money(v, currency, locale);
    let snapshot: Value = serde_json::from_str(&inv.customer_snapshot).unwrap_or_default();
    let details: Value = serde_json::from_str(&cn.tax_details).unwrap_or_default();
    let inv_number = inv.number.clone().unwrap_or_default();
    let taxes = tax_lines(&details, currency, locale);
    let mut totals = vec![Total { label: w.subtotal.into(), amount: m(cn.subtotal), emphasized: false }];
    for t in &taxes {
        totals.push(Total { label: t.label.clone(), amount: t.amount.clone(), emphasized: false });
    }
    totals.push(Total { label: w.amount_refunded.into(), amount: m(cn.total), emphasized: true });
    Ok(Document {
        kind: DocKind::CreditNote,
        title: w.credit_note.into(),
        number: cn.number.clone(),
        status: None,
        meta: vec![
            (w.issue_date.into(), date(cn.created_at, locale)),
            (w.invoice_ref.into(), inv_number.clone()),
            (w.currency.into(), cn.currency.clone()),
        ],
        seller: ctx.seller(w),
        buyer: buyer(&snapshot, w),
        lines: vec![Line {
            description: format!("{} {inv_number}", w.invoice_ref),
            detail: Some(cn.reason.replace('_', " ")),
            quantity: format_integer(1, locale),
            unit_price: m(cn.subtotal),
            amount: m(cn.subtotal),
        }],
        tax_lines: taxes,
        totals,
        notes: vec![if cn.refund_to == "credit_balance" { w.to_balance } else { w.to_method }.to_string()],
        footer: ctx.footer(),
        logo: ctx.logo()?,
        labels: labels(w),
    })
}

/// Renders a document, or returns the stored rendering under `key`
/// (`None`: render every time and store nothing, for drafts).
pub async fn rendered(storage: &Storage, key: Option<&str>, doc: impl FnOnce() -> Result<Document>) -> Result<Vec<u8>> {
    if let Some(k) = key {
        match storage.get(k).await {
            Ok(Some(bytes)) => return Ok(bytes),
            Ok(None) => {}
            Err(e) => {
                tracing::error!(key = k, error = %e, "document storage read failed");
                return Err(Error::unavailable("document storage is unavailable; try again"));
            }
        }
    }
    let doc = doc()?;
    let bytes = tokio::task::spawn_blocking(move || bursar_pdf::render(&doc))
        .await
        .map_err(|_| Error::internal())?
        .map_err(|e| {
            tracing::error!(error = %e, "PDF rendering failed");
            Error::internal()
        })?;
    if let Some(k) = key {
        if let Err(e) = storage.put(k, bytes.clone(), "application/pdf").await {
            tracing::error!(key = k, error = %e, "document storage write failed");
            return Err(Error::unavailable("document storage is unavailable; try again"));
        }
    }
    Ok(bytes)
}

/// The storage key of an invoice rendering in a given state (its status
/// and how many credit-note changes — issued or voided — it reflects).
pub fn invoice_key(inv: &InvoiceRow, credit_notes: usize, receipt: bool) -> Option<String> {
    let mode = if inv.livemode { "live" } else { "test" };
    match (receipt, inv.status.as_str()) {
        (_, "draft") => None,
        (true, _) => Some(format!("{mode}/receipts/{}.pdf", inv.id)),
        (false, status) => Some(format!("{mode}/invoices/{}-{status}-{credit_notes}.pdf", inv.id)),
    }
}

pub fn credit_note_key(cn: &CreditNoteRow) -> String {
    format!("{}/credit_notes/{}.pdf", if cn.livemode { "live" } else { "test" }, cn.id)
}

/// One row of an earnings statement.
pub struct StatementEntry {
    pub at: i64,
    /// `sale`, `clawback` or `payout`.
    pub kind: String,
    pub description: String,
    pub currency: String,
    /// Signed, minor units (a payout is negative: money leaving the balance).
    pub amount: i64,
}

/// A payee's statement for a month: every sale, claw-back and payout, and
/// totals per currency. English, like the CSV it mirrors.
pub fn statement_document(
    ctx: &Context<'_>,
    payee: Party,
    number: &str,
    period: &str,
    entries: &[StatementEntry],
) -> Result<Document> {
    let locale = ctx.locale();
    let w = words(locale);
    let mut lines = Vec::new();
    let mut totals: std::collections::BTreeMap<&str, (i64, i64, i64)> = Default::default();
    for e in entries {
        let currency = Currency::from_code(&e.currency).map_err(|_| Error::internal())?;
        let label = match e.kind.as_str() {
            "sale" => "Sale",
            "clawback" => "Refund claw-back",
            _ => "Payout",
        };
        lines.push(Line {
            description: e.description.clone(),
            detail: Some(format!("{label} · {}", date(e.at, locale))),
            quantity: String::new(),
            unit_price: String::new(),
            amount: money(e.amount, currency, locale),
        });
        let t = totals.entry(e.currency.as_str()).or_default();
        match e.kind.as_str() {
            "sale" => t.0 += e.amount,
            "clawback" => t.1 += e.amount,
            _ => t.2 += e.amount,
        }
    }
    let mut total_rows = Vec::new();
    for (code, (sales, clawed, paid)) in &totals {
        let c = Currency::from_code(code).map_err(|_| Error::internal())?;
        total_rows.push(Total {
            label: format!("Sales ({code})"),
            amount: money(*sales, c, locale),
            emphasized: false,
        });
        if *clawed != 0 {
            total_rows.push(Total {
                label: format!("Claw-backs ({code})"),
                amount: money(*clawed, c, locale),
                emphasized: false,
            });
        }
        total_rows.push(Total {
            label: format!("Paid out ({code})"),
            amount: money(-*paid, c, locale),
            emphasized: false,
        });
        total_rows.push(Total {
            label: format!("Net for the month ({code})"),
            amount: money(sales + clawed, c, locale),
            emphasized: true,
        });
    }
    let mut labels = labels(w);
    labels.bill_to = "Payee".into();
    labels.description = "Entry".into();
    Ok(Document {
        kind: DocKind::Statement,
        title: "Earnings statement".into(),
        number: number.to_string(),
        status: None,
        meta: vec![("Period".into(), period.to_string())],
        seller: ctx.seller(w),
        buyer: payee,
        lines,
        tax_lines: Vec::new(),
        totals: total_rows,
        notes: vec![
            "Sales are held until the refund window closes; claw-backs are due at once. Payouts pay what is due."
                .into(),
        ],
        footer: ctx.footer(),
        logo: ctx.logo()?,
        labels,
    })
}
