//! Invoices as the interfaces see them: reading and listing any invoice,
//! hand-written drafts (create, lines, finalize, void, delete), paying an
//! open invoice, refunding with a credit note, and the PDF documents.
//! Charges and refunds through a provider are made after the business
//! transaction committed with the answer stored for the request's key.

use crate::actor::Actor;
use crate::common::{check_len, secs, List, Page};
use crate::ctx::Ctx;
use crate::documents;
use crate::error::{Error, Result};
use crate::idempotency::Reply;
use crate::invoicing::{self, DraftInput, NewLine};
use bursar_domain::catalog::TaxBehavior;
use bursar_domain::id::{is_valid, IdKind};
use bursar_store::billing::{self as store, CreditNoteRow, InvoiceRow, LineRow};
use bursar_store::{customers, events};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use bursar_store::Tx;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InvoiceLine {
    pub id: String,
    /// plan, proration, one_off, discount or usage.
    pub kind: String,
    pub description: String,
    pub quantity: i64,
    pub unit_amount: i64,
    pub amount: i64,
    pub price: Option<String>,
    pub period_start: Option<i64>,
    pub period_end: Option<i64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Invoice {
    pub id: String,
    /// Always `invoice`.
    pub object: &'static str,
    pub livemode: bool,
    /// Gapless per series, e.g. `INV-2026-000042`.
    pub number: Option<String>,
    pub customer: String,
    pub subscription: Option<String>,
    /// draft, open, paid, void or uncollectible.
    pub status: String,
    /// subscription_create, subscription_cycle, subscription_update, manual.
    pub billing_reason: String,
    pub currency: String,
    pub subtotal: i64,
    pub tax: i64,
    pub total: i64,
    /// `exclusive` (tax added to the lines), `inclusive` (tax included in them), or `mixed`: a cart's first
    /// invoice with a tax-inclusive plan beside courses priced before tax.
    pub tax_behavior: String,
    /// The tax decision: jurisdiction, reverse charge and its note, and each tax with rate, taxable amount and amount.
    #[schema(value_type = Object)]
    pub tax_details: serde_json::Value,
    /// Customer credit used before charging.
    pub credit_applied: i64,
    pub amount_due: i64,
    pub amount_paid: i64,
    pub period_start: Option<i64>,
    pub period_end: Option<i64>,
    pub lines: Vec<InvoiceLine>,
    /// Credit notes issued against this invoice (refunds and adjustments).
    pub credit_notes: Vec<CreditNote>,
    /// Sum of the credit notes.
    pub amount_credited: i64,
    /// The customer's billing details as of issue.
    #[schema(value_type = Object)]
    pub customer_details: serde_json::Value,
    pub created: i64,
    pub finalized_at: Option<i64>,
    pub paid_at: Option<i64>,
    pub voided_at: Option<i64>,
    /// Free text shown on the invoice.
    pub description: Option<String>,
    /// `charge_automatically` or `send_invoice`.
    pub collection_method: String,
    /// When a sent invoice is due (seconds).
    pub due_date: Option<i64>,
}

fn render_line(l: LineRow) -> InvoiceLine {
    InvoiceLine {
        id: l.id,
        kind: l.kind,
        description: l.description,
        quantity: l.quantity,
        unit_amount: l.unit_amount,
        amount: l.amount,
        price: l.price_id,
        period_start: l.period_start.map(secs),
        period_end: l.period_end.map(secs),
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CreditNote {
    pub id: String,
    /// Always `credit_note`.
    pub object: &'static str,
    /// Gapless per series, e.g. `CN-2026-000001`.
    pub number: String,
    pub invoice: String,
    pub currency: String,
    pub subtotal: i64,
    pub tax: i64,
    pub total: i64,
    /// `payment_method` or `credit_balance`.
    pub refund_to: String,
    pub reason: String,
    #[schema(value_type = Object)]
    pub tax_details: serde_json::Value,
    pub created: i64,
    /// `issued`, or `void` when the refund it records was refused by the
    /// provider (it then credits nothing).
    pub status: String,
}

fn render_cn(c: CreditNoteRow) -> CreditNote {
    CreditNote {
        id: c.id,
        object: "credit_note",
        number: c.number,
        invoice: c.invoice_id,
        currency: c.currency,
        subtotal: c.subtotal,
        tax: c.tax,
        total: c.total,
        refund_to: c.refund_to,
        reason: c.reason,
        tax_details: serde_json::from_str(&c.tax_details).unwrap_or_default(),
        created: secs(c.created_at),
        status: c.status,
    }
}

/// An invoice with its lines and credit notes, as shown.
pub fn render(i: InvoiceRow, lines: Vec<LineRow>, notes: Vec<CreditNoteRow>) -> Invoice {
    let amount_credited = notes.iter().map(|n| n.credited()).sum();
    Invoice {
        credit_notes: notes.into_iter().map(render_cn).collect(),
        amount_credited,
        id: i.id,
        object: "invoice",
        livemode: i.livemode,
        number: i.number,
        customer: i.customer_id,
        subscription: i.subscription_id,
        status: i.status,
        billing_reason: i.billing_reason,
        currency: i.currency,
        subtotal: i.subtotal,
        tax: i.tax,
        total: i.total,
        tax_behavior: i.tax_behavior,
        tax_details: serde_json::from_str(&i.tax_details).unwrap_or_default(),
        credit_applied: i.credit_applied,
        amount_due: i.amount_due,
        amount_paid: i.amount_paid,
        period_start: i.period_start.map(secs),
        period_end: i.period_end.map(secs),
        lines: lines.into_iter().map(render_line).collect(),
        customer_details: serde_json::from_str(&i.customer_snapshot).unwrap_or_default(),
        created: secs(i.created_at),
        finalized_at: i.finalized_at.map(secs),
        paid_at: i.paid_at.map(secs),
        voided_at: i.voided_at.map(secs),
        description: i.description,
        collection_method: i.collection_method,
        due_date: i.due_at.map(secs),
    }
}

/// An invoice as the transaction sees it, with its lines and credit notes.
pub(crate) async fn shown(tx: &mut Tx, inv: InvoiceRow) -> Result<Invoice> {
    let lines = store::lines_of(&mut **tx, &inv.id).await?;
    let notes = store::credit_notes_of(&mut **tx, inv.livemode, &inv.id).await?;
    Ok(render(inv, lines, notes))
}

/// An invoice by id, read again in the transaction.
pub(crate) async fn shown_by_id(tx: &mut Tx, livemode: bool, id: &str) -> Result<Invoice> {
    let inv = store::invoice(&mut **tx, livemode, id).await?.ok_or_else(Error::internal)?;
    shown(tx, inv).await
}

/// An invoice by id, read committed.
async fn read_by_id(ctx: &Ctx, livemode: bool, id: &str) -> Result<Invoice> {
    let r = ctx.db.reader();
    let inv = store::invoice(r, livemode, id).await?.ok_or_else(Error::internal)?;
    let lines = store::lines_of(r, id).await?;
    let notes = store::credit_notes_of(r, livemode, id).await?;
    Ok(render(inv, lines, notes))
}

fn check_id(id: &str) -> Result<()> {
    if is_valid(IdKind::Invoice, id) {
        Ok(())
    } else {
        Err(Error::not_found("id", "invoice", id))
    }
}

/// Which invoices to list.
#[derive(Debug, Clone, Default)]
pub struct InvoiceFilter {
    pub customer: Option<String>,
    pub subscription: Option<String>,
}

/// Invoices, newest first.
pub async fn list(ctx: &Ctx, actor: &Actor, filter: &InvoiceFilter, page: &Page) -> Result<List<Invoice>> {
    let r = ctx.db.reader();
    let rows = store::list_invoices(
        r,
        actor.livemode,
        filter.customer.as_deref(),
        filter.subscription.as_deref(),
        page.starting_after.as_deref(),
        page.limit + 1,
    )
    .await?;
    let mut data = Vec::with_capacity(rows.len());
    for i in rows {
        let lines = store::lines_of(r, &i.id).await?;
        let notes = store::credit_notes_of(r, i.livemode, &i.id).await?;
        data.push(render(i, lines, notes));
    }
    Ok(List::from_rows(data, page.limit))
}

/// One invoice.
pub async fn get(ctx: &Ctx, actor: &Actor, id: &str) -> Result<Invoice> {
    check_id(id)?;
    let r = ctx.db.reader();
    let inv = store::invoice(r, actor.livemode, id).await?.ok_or_else(|| Error::not_found("id", "invoice", id))?;
    let lines = store::lines_of(r, id).await?;
    let notes = store::credit_notes_of(r, actor.livemode, id).await?;
    Ok(render(inv, lines, notes))
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvoiceRefund {
    /// Minor units; default: everything not yet credited.
    pub amount: Option<i64>,
    /// `payment_method` (default) or `credit_balance`.
    pub refund_to: Option<String>,
    pub reason: Option<String>,
}

/// Issues the credit note of a refund in the transaction; returns it.
async fn credit(ctx: &Ctx, tx: &mut Tx, actor: &Actor, id: &str, input: &InvoiceRefund) -> Result<CreditNoteRow> {
    check_id(id)?;
    let to = crate::billing::RefundTo::parse(input.refund_to.as_deref())?;
    let reason = input.reason.clone().unwrap_or_else(|| "requested_by_customer".into());
    check_len("reason", &Some(reason.clone()), 500)?;
    store::lock_invoice(tx, ctx.db.for_update(), id).await?;
    let inv =
        store::invoice(&mut **tx, actor.livemode, id).await?.ok_or_else(|| Error::not_found("id", "invoice", id))?;
    let customer = customers::get(&mut **tx, actor.livemode, &inv.customer_id).await?.ok_or_else(Error::internal)?;
    let now = crate::billing::now_for(tx, &customer, ctx.now_ms()).await?;
    let (credited, _) = crate::billing::credited_so_far(tx, &inv).await?;
    let amount = input.amount.unwrap_or(inv.total - credited);
    let cn = crate::refunds::refund(tx, &inv, amount, to, &reason, None, now).await?;
    if actor.kind == "staff" {
        let details = serde_json::json!({"credit_note": cn.id, "amount": input.amount,
            "refund_to": input.refund_to, "reason": input.reason});
        events::audit(tx, "staff", &actor.id, "invoice.refunded", Some(id), &details, ctx.now_ms()).await?;
    }
    Ok(cn)
}

/// Refunds an invoice (all that is left by default) with a credit note.
/// The answer (the invoice with the credit note, its provider refund still
/// pending) is stored with the credit note; the provider is asked after
/// the commit and the stored answer refreshed.
pub async fn refund(ctx: &Ctx, actor: &Actor, id: &str, input: &InvoiceRefund, reply: &Reply) -> Result<Invoice> {
    let mut tx = ctx.db.begin().await?;
    let cn = credit(ctx, &mut tx, actor, id, input).await?;
    let out = shown_by_id(&mut tx, actor.livemode, id).await?;
    if !crate::refunds::commit_and_send(ctx, tx, reply, &out, &cn.id).await? {
        return Ok(out);
    }
    let out = read_by_id(ctx, actor.livemode, id).await?;
    reply.refresh(ctx, &out).await;
    Ok(out)
}

/// Refunds an invoice on behalf of `by` (a staff member): the credit note
/// and the audit entry naming them commit together; provider refunds are
/// sent after that commit. Returns the invoice as it then stands.
pub async fn refund_audited(ctx: &Ctx, actor: &Actor, by: &Actor, id: &str, input: &InvoiceRefund) -> Result<Invoice> {
    let mut tx = ctx.db.begin().await?;
    let plain = Actor { kind: "api_key", ..actor.clone() };
    let cn = credit(ctx, &mut tx, &plain, id, input).await?;
    let detail = serde_json::json!({"credit_note": cn.id, "amount": input.amount, "refund_to": input.refund_to,
        "reason": input.reason});
    crate::events::audit_in(&mut tx, by, "invoice.refunded", Some(id), &detail, ctx.now_ms()).await?;
    let pending = crate::refunds::pending_of(&mut tx, &cn.id).await?;
    tx.commit().await?;
    crate::refunds::send_after_commit(ctx, &pending).await;
    read_by_id(ctx, actor.livemode, id).await
}

/// Pays an open invoice with the customer's default payment method. A
/// decline is recorded, then reported ([`Kind::Declined`](crate::Kind)). A
/// provider is charged after the commit that stored the answer (the invoice
/// still open, its payment pending); the answer is then refreshed.
pub async fn pay(ctx: &Ctx, actor: &Actor, id: &str, reply: &Reply) -> Result<Invoice> {
    check_id(id)?;
    let mut tx = ctx.db.begin().await?;
    store::lock_invoice(&mut tx, ctx.db.for_update(), id).await?;
    let inv =
        store::invoice(&mut *tx, actor.livemode, id).await?.ok_or_else(|| Error::not_found("id", "invoice", id))?;
    if inv.status != "open" {
        return Err(Error::invalid("id", format!("a {} invoice cannot be paid", inv.status)));
    }
    let customer = customers::get(&mut *tx, actor.livemode, &inv.customer_id).await?.ok_or_else(Error::internal)?;
    let now = crate::billing::now_for(&mut tx, &customer, ctx.now_ms()).await?;
    let settings = ctx.billing_settings();
    match crate::billing::retry_payment(&mut tx, &settings, id, actor.livemode, now).await? {
        crate::billing::Retry::Paid => {
            let out = shown_by_id(&mut tx, actor.livemode, id).await?;
            reply.commit(tx, &out).await?;
            Ok(out)
        }
        crate::billing::Retry::Failed | crate::billing::Retry::Skipped => {
            // The failed attempt is recorded: commit it, then report the decline.
            tx.commit().await?;
            Err(crate::billing::declined(&inv))
        }
        crate::billing::Retry::Pending(payment) => {
            let out = shown_by_id(&mut tx, actor.livemode, id).await?;
            crate::settlement::commit_and_collect(ctx, tx, reply, &out, std::slice::from_ref(&payment)).await?;
            let p = bursar_store::payments::get(ctx.db.reader(), &payment).await?.ok_or_else(Error::internal)?;
            if p.status == "failed" {
                reply.forget(ctx).await;
                return Err(crate::billing::declined(&inv));
            }
            let out = read_by_id(ctx, actor.livemode, id).await?;
            reply.refresh(ctx, &out).await;
            Ok(out)
        }
    }
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvoiceLineCreate {
    pub description: String,
    /// Default 1.
    pub quantity: Option<i64>,
    /// Minor units of the invoice currency.
    pub unit_amount: i64,
}

impl From<InvoiceLineCreate> for NewLine {
    fn from(l: InvoiceLineCreate) -> NewLine {
        NewLine { description: l.description, quantity: l.quantity.unwrap_or(1), unit_amount: l.unit_amount }
    }
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvoiceCreate {
    pub customer: String,
    /// Default: the customer's billing currency.
    pub currency: Option<String>,
    /// `exclusive` (default: tax added) or `inclusive` (tax included in the amounts).
    pub tax_behavior: Option<String>,
    /// Shown on the invoice.
    pub description: Option<String>,
    /// `charge_automatically` (default: the default payment method is charged at finalization)
    /// or `send_invoice` (the customer pays by the due date).
    pub collection_method: Option<String>,
    /// For `send_invoice`: days from creation to the due date (default 30, 1 to 365).
    pub days_until_due: Option<i64>,
    #[serde(default)]
    pub lines: Vec<InvoiceLineCreate>,
}

/// Creates a draft invoice.
pub async fn create_draft(ctx: &Ctx, actor: &Actor, input: InvoiceCreate, reply: &Reply) -> Result<Invoice> {
    let currency = match &input.currency {
        Some(c) => Some(crate::common::new_currency("currency", c)?),
        None => None,
    };
    let behavior = TaxBehavior::parse(input.tax_behavior.as_deref().unwrap_or("exclusive"))
        .ok_or_else(|| Error::invalid("tax_behavior", "tax_behavior is exclusive or inclusive"))?;
    let collection = invoicing::parse_collection(input.collection_method.as_deref())?;
    if input.days_until_due.is_some() && collection != "send_invoice" {
        return Err(Error::invalid("days_until_due", "days_until_due applies to send_invoice only"));
    }
    let days = input.days_until_due.unwrap_or(30);
    if !(1..=365).contains(&days) {
        return Err(Error::invalid("days_until_due", "days_until_due is 1 to 365"));
    }
    check_len("description", &input.description, 1000)?;
    if !is_valid(IdKind::Customer, &input.customer) {
        return Err(Error::not_found("customer", "customer", &input.customer));
    }
    let mut tx = ctx.db.begin().await?;
    customers::lock(&mut tx, ctx.db.for_update(), actor.livemode, &input.customer).await?;
    let customer = customers::get(&mut *tx, actor.livemode, &input.customer)
        .await?
        .filter(|c| c.deleted_at.is_none())
        .ok_or_else(|| Error::not_found("customer", "customer", &input.customer))?;
    let now = crate::billing::now_for(&mut tx, &customer, ctx.now_ms()).await?;
    let currency = currency.unwrap_or_else(|| crate::customers::billing_currency_of(&customer));
    let inv = invoicing::create_draft(
        &mut tx,
        &ctx.billing_settings(),
        &customer,
        DraftInput {
            currency,
            behavior,
            description: input.description,
            collection_method: collection,
            due_at: (collection == "send_invoice").then_some(now + days * 86_400_000),
            lines: input.lines.into_iter().map(NewLine::from).collect(),
        },
        now,
    )
    .await?;
    let out = shown(&mut tx, inv).await?;
    reply.commit(tx, &out).await?;
    Ok(out)
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeletedInvoice {
    pub id: String,
    /// Always `invoice`.
    pub object: &'static str,
    pub deleted: bool,
}

/// Deletes a draft.
pub async fn delete_draft(ctx: &Ctx, actor: &Actor, id: &str, reply: &Reply) -> Result<DeletedInvoice> {
    check_id(id)?;
    let mut tx = ctx.db.begin().await?;
    invoicing::delete_draft(&mut tx, ctx.db.for_update(), actor.livemode, id, ctx.now_ms()).await?;
    let out = DeletedInvoice { id: id.to_string(), object: "invoice", deleted: true };
    reply.commit(tx, &out).await?;
    Ok(out)
}

/// Adds a line to a draft.
pub async fn add_line(ctx: &Ctx, actor: &Actor, id: &str, line: InvoiceLineCreate, reply: &Reply) -> Result<Invoice> {
    check_id(id)?;
    let mut tx = ctx.db.begin().await?;
    let inv =
        invoicing::add_line(&mut tx, &ctx.billing_settings(), ctx.db.for_update(), actor.livemode, id, line.into())
            .await?;
    let out = shown(&mut tx, inv).await?;
    reply.commit(tx, &out).await?;
    Ok(out)
}

/// Removes a line from a draft.
pub async fn remove_line(ctx: &Ctx, actor: &Actor, id: &str, line_id: &str, reply: &Reply) -> Result<Invoice> {
    check_id(id)?;
    let mut tx = ctx.db.begin().await?;
    let inv =
        invoicing::remove_line(&mut tx, &ctx.billing_settings(), ctx.db.for_update(), actor.livemode, id, line_id)
            .await?;
    let out = shown(&mut tx, inv).await?;
    reply.commit(tx, &out).await?;
    Ok(out)
}

/// Finalizes a draft: issued `paid` when it was charged or nothing is due,
/// else `open`. A decline is recorded, then reported. A provider is charged
/// after the commit that stored the answer (the invoice open, its payment
/// pending); the answer is then refreshed.
pub async fn finalize(ctx: &Ctx, actor: &Actor, id: &str, reply: &Reply) -> Result<Invoice> {
    check_id(id)?;
    let mut tx = ctx.db.begin().await?;
    let (inv, failure) =
        invoicing::finalize(&mut tx, &ctx.billing_settings(), ctx.db.for_update(), actor.livemode, id, ctx.now_ms())
            .await?;
    if failure.is_some() {
        // Issued and open: the decline is recorded, then reported.
        tx.commit().await?;
        return Err(crate::billing::declined(&inv));
    }
    let since = inv.finalized_at.unwrap_or(inv.created_at);
    let pending = crate::settlement::pending_in(&mut tx, &inv.customer_id, since).await?;
    let out = shown(&mut tx, inv.clone()).await?;
    if !crate::settlement::commit_and_collect(ctx, tx, reply, &out, &pending).await? {
        return Ok(out);
    }
    let fresh = store::invoice(ctx.db.reader(), actor.livemode, id).await?.ok_or_else(Error::internal)?;
    let last = bursar_store::payments::of_invoice(ctx.db.reader(), id).await?.pop();
    if last.is_some_and(|p| p.status == "failed") {
        // The provider declined: the invoice is issued and open.
        reply.forget(ctx).await;
        return Err(crate::billing::declined(&fresh));
    }
    let out = read_by_id(ctx, actor.livemode, id).await?;
    reply.refresh(ctx, &out).await;
    Ok(out)
}

/// Voids an open invoice on which nothing was paid.
pub async fn void(ctx: &Ctx, actor: &Actor, id: &str, reply: &Reply) -> Result<Invoice> {
    check_id(id)?;
    let mut tx = ctx.db.begin().await?;
    let inv = invoicing::void(&mut tx, ctx.db.for_update(), actor.livemode, id, ctx.now_ms()).await?;
    let out = shown(&mut tx, inv).await?;
    reply.commit(tx, &out).await?;
    Ok(out)
}

/// A rendered PDF document and the name to give it (without `.pdf`).
pub struct Pdf {
    pub bytes: Vec<u8>,
    pub name: String,
}

/// An invoice as a PDF, or its receipt (paid invoices only).
pub async fn pdf(ctx: &Ctx, actor: &Actor, id: &str, receipt: bool) -> Result<Pdf> {
    check_id(id)?;
    let reader = ctx.db.reader();
    let inv = store::invoice(reader, actor.livemode, id).await?.ok_or_else(|| Error::not_found("id", "invoice", id))?;
    if receipt && inv.status != "paid" {
        return Err(Error::conflict(
            "invoice_not_paid",
            format!("invoice {id} is {}; receipts exist for paid invoices", inv.status),
        ));
    }
    let lines = store::lines_of(reader, id).await?;
    let notes = store::credit_notes_of(reader, actor.livemode, id).await?;
    let customer = customers::get(reader, actor.livemode, &inv.customer_id).await?;
    let locale = customer.and_then(|c| c.locale);
    let dctx = documents::Context { config: &ctx.config, locale: locale.as_deref() };
    // Every credit note and every voiding of one changes the rendering.
    let changes = notes.len() + notes.iter().filter(|n| n.status == "void").count();
    let key = documents::invoice_key(&inv, changes, receipt);
    let bytes = documents::rendered(&ctx.storage, key.as_deref(), || {
        documents::invoice_document(&dctx, &inv, &lines, &notes, receipt)
    })
    .await?;
    let name = inv.number.clone().unwrap_or_else(|| inv.id.clone());
    Ok(Pdf { bytes, name: if receipt { format!("receipt-{name}") } else { name } })
}

/// A credit note as a PDF.
pub async fn credit_note_pdf(ctx: &Ctx, actor: &Actor, id: &str) -> Result<Pdf> {
    let not_found = || Error::not_found("id", "credit note", id);
    if !is_valid(IdKind::CreditNote, id) {
        return Err(not_found());
    }
    let reader = ctx.db.reader();
    let cn = store::credit_note_by_id(reader, actor.livemode, id).await?.ok_or_else(not_found)?;
    let inv = store::invoice(reader, actor.livemode, &cn.invoice_id).await?.ok_or_else(Error::internal)?;
    let customer = customers::get(reader, actor.livemode, &inv.customer_id).await?;
    let locale = customer.and_then(|c| c.locale);
    let dctx = documents::Context { config: &ctx.config, locale: locale.as_deref() };
    let key = documents::credit_note_key(&cn);
    let bytes =
        documents::rendered(&ctx.storage, Some(&key), || documents::credit_note_document(&dctx, &cn, &inv)).await?;
    Ok(Pdf { bytes, name: cn.number })
}
