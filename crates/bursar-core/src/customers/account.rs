//! A customer's account as staff see it: finding customers, their
//! subscriptions and invoices, one invoice with its lines and credit notes,
//! and voiding an invoice on a staff member's word.

use crate::actor::Actor;
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use bursar_domain::id::{is_valid, IdKind};
use bursar_store::billing as billing_store;
use bursar_store::customers::{self, CustomerRow, ListFilter};
use bursar_store::{catalog, events};

pub use bursar_store::billing::{CreditNoteRow, InvoiceRow, LineRow, SubscriptionRow};

/// Customers of one mode, newest first, `limit` after the cursor; a search
/// finds one by id, by email (it holds `@`) or by the platform's id, each an
/// indexed lookup.
pub async fn find(
    ctx: &Ctx,
    livemode: bool,
    search: &str,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<CustomerRow>> {
    let r = ctx.db.reader();
    if search.is_empty() {
        return Ok(customers::list(r, livemode, &Default::default(), after, limit).await?);
    }
    if is_valid(IdKind::Customer, search) {
        return Ok(customers::get(r, livemode, search).await?.into_iter().collect());
    }
    let filter = if search.contains('@') {
        ListFilter { email: Some(search.to_lowercase()), ..Default::default() }
    } else {
        ListFilter { external_id: Some(search.to_string()), ..Default::default() }
    };
    Ok(customers::list(r, livemode, &filter, after, limit).await?)
}

/// A customer with their subscriptions (each with its plan's name) and
/// their newest 100 invoices.
pub struct Account {
    pub customer: CustomerRow,
    pub subscriptions: Vec<(SubscriptionRow, String)>,
    pub invoices: Vec<InvoiceRow>,
}

pub async fn account(ctx: &Ctx, livemode: bool, id: &str) -> Result<Account> {
    let r = ctx.db.reader();
    let c = customers::get(r, livemode, id).await?.ok_or_else(|| Error::not_found("id", "customer", id))?;
    let plans = catalog::plans(r, livemode, None, true).await?;
    let subscriptions = billing_store::subscriptions_of(r, livemode, &c.id)
        .await?
        .into_iter()
        .map(|x| {
            let plan = plans.iter().find(|p| p.id == x.plan_id).map_or_else(|| x.plan_id.clone(), |p| p.name.clone());
            (x, plan)
        })
        .collect();
    let invoices = billing_store::list_invoices(r, livemode, Some(&c.id), None, None, 100).await?;
    Ok(Account { customer: c, subscriptions, invoices })
}

/// An invoice with its lines and credit notes.
pub struct InvoiceView {
    pub invoice: InvoiceRow,
    pub lines: Vec<LineRow>,
    pub credit_notes: Vec<CreditNoteRow>,
}

pub async fn invoice(ctx: &Ctx, livemode: bool, id: &str) -> Result<InvoiceView> {
    let r = ctx.db.reader();
    if !is_valid(IdKind::Invoice, id) {
        return Err(Error::not_found("id", "invoice", id));
    }
    let invoice =
        billing_store::invoice(r, livemode, id).await?.ok_or_else(|| Error::not_found("id", "invoice", id))?;
    let lines = billing_store::lines_of(r, id).await?;
    let credit_notes = billing_store::credit_notes_of(r, livemode, id).await?;
    Ok(InvoiceView { invoice, lines, credit_notes })
}

/// Voids an open or uncollectible invoice and writes it to the audit log
/// in the same transaction.
pub async fn void_invoice(ctx: &Ctx, actor: &Actor, id: &str) -> Result<()> {
    if !is_valid(IdKind::Invoice, id) {
        return Err(Error::not_found("id", "invoice", id));
    }
    let mut tx = ctx.db.begin().await?;
    let now = ctx.now_ms();
    crate::invoicing::void(&mut tx, ctx.db.for_update(), actor.livemode, id, now).await?;
    events::audit(&mut tx, actor.kind, &actor.id, "invoice.voided", Some(id), &serde_json::json!({}), now).await?;
    tx.commit().await?;
    Ok(())
}
