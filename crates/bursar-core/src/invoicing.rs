//! Invoices written by hand: a draft is edited (lines added and removed)
//! until it is finalized, which numbers it, snapshots the billing details,
//! computes tax, applies credit, posts the ledger entry and — when it is
//! collected automatically — charges the default payment method. An open
//! invoice can be voided, which reverses its ledger entries; a draft can be
//! deleted (it never had a number, so numbering stays gapless).

use crate::billing::{self, InvoiceInput, LineDraft, Manual, Settings};
use crate::error::{Error, Result};
use bursar_domain::catalog::TaxBehavior;
use bursar_domain::id::{new_id, IdKind};
use bursar_domain::money::Currency;
use bursar_domain::subscription::{Event, Status};
use bursar_domain::tax;
use bursar_store::billing::{self as store, InvoiceRow, LineRow};
use bursar_store::customers::CustomerRow;
use bursar_store::{customers, dunning, events, ledger, Tx};

/// Most lines one invoice may hold.
pub const MAX_LINES: usize = 250;
/// Largest quantity and unit amount of one hand-written line.
pub const MAX_QUANTITY: i64 = 1_000_000;
pub const MAX_UNIT_AMOUNT: i64 = 100_000_000_000;

/// `charge_automatically` or `send_invoice`.
pub fn parse_collection(s: Option<&str>) -> Result<&'static str> {
    match s.unwrap_or("charge_automatically") {
        "charge_automatically" => Ok("charge_automatically"),
        "send_invoice" => Ok("send_invoice"),
        _ => Err(Error::invalid("collection_method", "collection_method is charge_automatically or send_invoice")),
    }
}

/// A line as the API receives it; `field` names it in errors
/// (`lines[2]`).
pub struct NewLine {
    pub description: String,
    pub quantity: i64,
    pub unit_amount: i64,
}

fn check_line(field: &str, l: &NewLine) -> Result<i64> {
    if l.description.trim().is_empty() || l.description.chars().count() > 500 {
        return Err(Error::invalid(&format!("{field}.description"), "description is 1 to 500 characters"));
    }
    if !(1..=MAX_QUANTITY).contains(&l.quantity) {
        return Err(Error::invalid(&format!("{field}.quantity"), format!("quantity is 1 to {MAX_QUANTITY}")));
    }
    if !(0..=MAX_UNIT_AMOUNT).contains(&l.unit_amount) {
        return Err(Error::invalid(
            &format!("{field}.unit_amount"),
            format!("unit_amount is 0 to {MAX_UNIT_AMOUNT} minor units"),
        ));
    }
    l.quantity
        .checked_mul(l.unit_amount)
        .filter(|a| *a <= MAX_UNIT_AMOUNT)
        .ok_or_else(|| Error::invalid(&format!("{field}.quantity"), "the line amount is too large"))
}

fn line_row(invoice_id: &str, position: i64, l: &NewLine, amount: i64) -> LineRow {
    LineRow {
        id: new_id(IdKind::InvoiceLine),
        invoice_id: invoice_id.to_string(),
        position,
        kind: "one_off".into(),
        description: l.description.trim().to_string(),
        quantity: l.quantity,
        unit_amount: l.unit_amount,
        amount,
        price_id: None,
        period_start: None,
        period_end: None,
    }
}

/// Recomputes a draft's provisional totals (tax as the customer's details
/// stand now; finalization decides for good).
fn provisional(settings: &Settings, customer: &CustomerRow, inv: &mut InvoiceRow, lines: &[LineRow]) -> Result<()> {
    let currency = Currency::from_code(&inv.currency).map_err(|_| Error::internal())?;
    let behavior = TaxBehavior::parse(&inv.tax_behavior).unwrap_or(TaxBehavior::Exclusive);
    let sum = lines.iter().try_fold(0i64, |a, l| a.checked_add(l.amount)).ok_or_else(Error::internal)?;
    let decision = tax::decide(&settings.tax, &billing::buyer_of(customer));
    let taxed = tax::apply(&decision, behavior, sum, currency).map_err(|_| Error::internal())?;
    inv.subtotal = taxed.subtotal_minor;
    inv.tax = taxed.taxes.iter().map(|t| t.amount_minor).sum();
    inv.total = taxed.total_minor;
    inv.amount_due = inv.total;
    inv.tax_details = serde_json::json!({
        "jurisdiction": decision.jurisdiction,
        "reverse_charge": decision.reverse_charge,
        "note": decision.note,
        "taxes": taxed.taxes,
    })
    .to_string();
    Ok(())
}

/// What a new draft holds.
pub struct DraftInput {
    pub currency: Currency,
    pub behavior: TaxBehavior,
    pub description: Option<String>,
    pub collection_method: &'static str,
    pub due_at: Option<i64>,
    pub lines: Vec<NewLine>,
}

/// Creates a draft invoice.
pub async fn create_draft(
    tx: &mut Tx,
    settings: &Settings,
    customer: &CustomerRow,
    input: DraftInput,
    now: i64,
) -> Result<InvoiceRow> {
    if input.lines.len() > MAX_LINES {
        return Err(Error::invalid("lines", format!("an invoice holds at most {MAX_LINES} lines")));
    }
    let id = new_id(IdKind::Invoice);
    let mut lines = Vec::with_capacity(input.lines.len());
    for (i, l) in input.lines.iter().enumerate() {
        let amount = check_line(&format!("lines[{i}]"), l)?;
        lines.push(line_row(&id, i as i64, l, amount));
    }
    let mut inv = InvoiceRow {
        id,
        livemode: customer.livemode,
        number: None,
        customer_id: customer.id.clone(),
        subscription_id: None,
        status: "draft".into(),
        billing_reason: "manual".into(),
        currency: input.currency.code().to_string(),
        subtotal: 0,
        tax: 0,
        total: 0,
        tax_behavior: input.behavior.as_str().to_string(),
        tax_details: "{}".into(),
        credit_applied: 0,
        amount_due: 0,
        amount_paid: 0,
        period_start: None,
        period_end: None,
        customer_snapshot: "{}".into(),
        created_at: now,
        finalized_at: None,
        paid_at: None,
        description: input.description,
        collection_method: input.collection_method.to_string(),
        due_at: input.due_at,
        voided_at: None,
    };
    provisional(settings, customer, &mut inv, &lines)?;
    store::insert_invoices(tx, std::slice::from_ref(&inv)).await?;
    store::insert_lines(tx, &lines).await?;
    events::emit(
        tx,
        inv.livemode,
        "invoice.created",
        &inv.id,
        &serde_json::json!({"id": inv.id, "customer": inv.customer_id, "status": "draft"}),
        now,
    )
    .await?;
    Ok(inv)
}

/// Loads an invoice under a row lock and checks it is a draft.
async fn locked_draft(tx: &mut Tx, for_update: &'static str, livemode: bool, id: &str) -> Result<InvoiceRow> {
    store::lock_invoice(tx, for_update, id).await?;
    let inv = store::invoice(&mut **tx, livemode, id).await?.ok_or_else(|| Error::not_found("id", "invoice", id))?;
    if inv.status != "draft" {
        return Err(Error::conflict(
            "invoice_not_draft",
            format!("invoice {id} is {}; only drafts can be changed", inv.status),
        ));
    }
    Ok(inv)
}

async fn customer_of(tx: &mut Tx, inv: &InvoiceRow) -> Result<CustomerRow> {
    customers::get(&mut **tx, inv.livemode, &inv.customer_id).await?.ok_or_else(Error::internal)
}

/// Adds a line to a draft.
pub async fn add_line(
    tx: &mut Tx,
    settings: &Settings,
    for_update: &'static str,
    livemode: bool,
    id: &str,
    line: NewLine,
) -> Result<InvoiceRow> {
    let mut inv = locked_draft(tx, for_update, livemode, id).await?;
    let mut lines = store::lines_of(&mut **tx, id).await?;
    if lines.len() >= MAX_LINES {
        return Err(Error::invalid("lines", format!("an invoice holds at most {MAX_LINES} lines")));
    }
    let amount = check_line("line", &line)?;
    let position = lines.iter().map(|l| l.position + 1).max().unwrap_or(0);
    let row = line_row(id, position, &line, amount);
    store::insert_lines(tx, std::slice::from_ref(&row)).await?;
    lines.push(row);
    let customer = customer_of(tx, &inv).await?;
    provisional(settings, &customer, &mut inv, &lines)?;
    store::update_draft(tx, &inv).await?;
    Ok(inv)
}

/// Adds a discount line (`amount` off, positive) to a draft.
pub async fn add_discount(
    tx: &mut Tx,
    settings: &Settings,
    for_update: &'static str,
    livemode: bool,
    id: &str,
    description: &str,
    amount: i64,
) -> Result<InvoiceRow> {
    let mut inv = locked_draft(tx, for_update, livemode, id).await?;
    let mut lines = store::lines_of(&mut **tx, id).await?;
    let position = lines.iter().map(|l| l.position + 1).max().unwrap_or(0);
    let row = LineRow {
        id: new_id(IdKind::InvoiceLine),
        invoice_id: id.to_string(),
        position,
        kind: "discount".into(),
        description: description.to_string(),
        quantity: 1,
        unit_amount: -amount,
        amount: -amount,
        price_id: None,
        period_start: None,
        period_end: None,
    };
    store::insert_lines(tx, std::slice::from_ref(&row)).await?;
    lines.push(row);
    let customer = customer_of(tx, &inv).await?;
    provisional(settings, &customer, &mut inv, &lines)?;
    store::update_draft(tx, &inv).await?;
    Ok(inv)
}

/// Removes a line from a draft.
pub async fn remove_line(
    tx: &mut Tx,
    settings: &Settings,
    for_update: &'static str,
    livemode: bool,
    id: &str,
    line_id: &str,
) -> Result<InvoiceRow> {
    let mut inv = locked_draft(tx, for_update, livemode, id).await?;
    if !store::delete_line(tx, id, line_id).await? {
        return Err(Error::not_found("line_id", "invoice line", line_id));
    }
    let lines = store::lines_of(&mut **tx, id).await?;
    let customer = customer_of(tx, &inv).await?;
    provisional(settings, &customer, &mut inv, &lines)?;
    store::update_draft(tx, &inv).await?;
    Ok(inv)
}

/// Deletes a draft.
pub async fn delete_draft(tx: &mut Tx, for_update: &'static str, livemode: bool, id: &str, now: i64) -> Result<()> {
    locked_draft(tx, for_update, livemode, id).await?;
    store::delete_draft(tx, id).await?;
    events::emit(tx, livemode, "invoice.deleted", id, &serde_json::json!({"id": id}), now).await?;
    Ok(())
}

/// Finalizes a draft: number, tax, snapshot, credit, ledger, and for
/// automatic collection the charge. Returns the invoice as issued and the
/// decline code when the charge failed (the invoice then stays open).
pub async fn finalize(
    tx: &mut Tx,
    settings: &Settings,
    for_update: &'static str,
    livemode: bool,
    id: &str,
    server_now: i64,
) -> Result<(InvoiceRow, Option<String>)> {
    let draft = locked_draft(tx, for_update, livemode, id).await?;
    let lines = store::lines_of(&mut **tx, id).await?;
    if lines.is_empty() {
        return Err(Error::invalid("lines", "an invoice needs at least one line to be finalized"));
    }
    let customer = customer_of(tx, &draft).await?;
    let now = billing::now_for(tx, &customer, server_now).await?;
    if draft.due_at.is_some_and(|d| d <= now) {
        return Err(Error::invalid("due_date", "the due date has passed; set a later one"));
    }
    let currency = Currency::from_code(&draft.currency).map_err(|_| Error::internal())?;
    let behavior = TaxBehavior::parse(&draft.tax_behavior).unwrap_or(TaxBehavior::Exclusive);
    let credit = billing::credit_balance(tx, livemode, &customer.id, &draft.currency).await?;
    let series = billing::series_of(now);
    let n = store::reserve_invoice_numbers(tx, livemode, &series, 1).await?;
    let collect = if draft.collection_method == "charge_automatically" {
        let method = dunning::default_methods(tx, std::slice::from_ref(&customer.id)).await?.pop();
        crate::payments::Collect::for_method(method, customer.livemode)
    } else {
        crate::payments::Collect::Later
    };
    let manual = Manual {
        id: draft.id.clone(),
        line_ids: lines.iter().map(|l| l.id.clone()).collect(),
        description: draft.description.clone(),
        collection_method: draft.collection_method.clone(),
        due_at: draft.due_at,
        created_at: draft.created_at,
    };
    let drafts = lines
        .into_iter()
        .map(|l| LineDraft {
            kind: if l.kind == "discount" { "discount" } else { "one_off" },
            description: l.description,
            quantity: l.quantity,
            unit_amount: l.unit_amount,
            amount: l.amount,
            price_id: None,
            period_start: None,
            period_end: None,
        })
        .collect();
    let built = billing::build_invoice(
        settings,
        InvoiceInput {
            customer: &customer,
            subscription_id: None,
            reason: "manual",
            currency,
            behavior,
            lines: drafts,
            one_off: Vec::new(),
            period: None,
            now,
            manual: Some(manual),
        },
        format!("{series}-{n:06}"),
        credit,
        collect,
    )?;
    // The draft row is replaced by the issued one, under the same id.
    store::delete_draft(tx, id).await?;
    billing::write_invoices(tx, std::slice::from_ref(&built)).await?;
    if built.failure.is_some() {
        billing::start_dunning(tx, settings, &built).await?;
    }
    Ok((built.row, built.failure))
}

/// Voids an open invoice on which nothing was paid: its ledger entries are
/// reversed (credit applied goes back to the customer), retries stop, and
/// a subscription held past due by it is restored.
pub async fn void(
    tx: &mut Tx,
    for_update: &'static str,
    livemode: bool,
    id: &str,
    server_now: i64,
) -> Result<InvoiceRow> {
    store::lock_invoice(tx, for_update, id).await?;
    let inv = store::invoice(&mut **tx, livemode, id).await?.ok_or_else(|| Error::not_found("id", "invoice", id))?;
    if inv.status != "open" || inv.amount_paid != 0 {
        return Err(Error::conflict(
            "invoice_not_voidable",
            format!("invoice {id} is {}; only open, unpaid invoices can be voided (refund paid ones)", inv.status),
        ));
    }
    let unsettled = bursar_store::payments::of_invoice(&mut **tx, id).await?;
    if unsettled.iter().any(|p| p.unsettled() && p.checkout_session_id.is_none()) {
        return Err(Error::conflict(
            "invoice_payment_in_progress",
            format!("invoice {id} has a payment whose outcome is not known yet; void it once that is settled"),
        ));
    }
    let customer = customer_of(tx, &inv).await?;
    let now = billing::now_for(tx, &customer, server_now).await?;
    let number = inv.number.clone().unwrap_or_default();
    for entry in ledger::open_entries_of(tx, "invoice", id).await? {
        ledger::reverse(tx, livemode, &entry, &format!("Void of {number}"), now).await.map_err(|e| {
            tracing::error!(error = %e, invoice = id, "void could not reverse an entry");
            Error::internal()
        })?;
    }
    store::void_invoice(tx, id, now).await?;
    if let Some(mut d) = dunning::get(tx, id, "").await? {
        d.state = "voided".into();
        d.next_attempt_at = None;
        d.updated_at = now;
        dunning::save(tx, &d).await?;
    }
    if let Some(sub_id) = &inv.subscription_id {
        if let Some(mut sub) = store::subscription(tx, livemode, sub_id, "").await? {
            if matches!(Status::parse(&sub.status), Some(Status::PastDue | Status::Unpaid)) {
                let from = Status::parse(&sub.status).ok_or_else(Error::internal)?;
                let to = bursar_domain::subscription::transition(from, Event::PaymentRecovered)
                    .map_err(|_| Error::internal())?;
                sub.status = to.as_str().into();
                sub.updated_at = now;
                store::save_subscription(tx, &sub).await?;
                billing::emit_sub(tx, &sub, "subscription.recovered", now).await?;
            }
        }
    }
    events::emit(
        tx,
        livemode,
        "invoice.voided",
        id,
        &serde_json::json!({"id": id, "number": inv.number, "customer": inv.customer_id, "total": inv.total, "currency": inv.currency}),
        now,
    )
    .await?;
    store::invoice(&mut **tx, livemode, id).await?.ok_or_else(Error::internal)
}
