//! The billing service: subscriptions through their state machine, invoices
//! with gapless numbers, and the ledger entries of every invoice and payment,
//! all inside the caller's transaction.
//!
//! Charges go through the built-in `sandbox` provider, which settles every
//! amount at once; the payments capability replaces this step with real
//! connectors and failures (and with them, dunning).

use crate::error::{Error, Result};
use bursar_domain::catalog::Interval;
use bursar_domain::catalog::TaxBehavior;
use bursar_domain::clock::{from_millis, to_millis};
use bursar_domain::coupon;
use bursar_domain::id::{new_id, IdKind};
use bursar_domain::ledger::{natural_balance, AccountKind, EntryDraft};
use bursar_domain::money::Currency;
use bursar_domain::subscription::{self as dom, Event, Period, Status};
use bursar_domain::tax::{self};

use crate::payments::{self, Collect};
pub use crate::settings::Settings;
use bursar_store::billing::{self, InvoiceRow, LineRow, SubscriptionRow};
use bursar_store::catalog::{PlanRow, PriceRow};
use bursar_store::customers::CustomerRow;
use bursar_store::payments::PaymentRow;
use bursar_store::{catalog, clocks, customers, dunning, events, ledger, DbError, Tx};
use std::collections::{BTreeMap, HashMap};

/// One invoice line before it is stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LineDraft {
    /// `plan`, `proration`, `one_off`, `discount`, `tax`, `usage`.
    pub kind: &'static str,
    pub description: String,
    pub quantity: i64,
    pub unit_amount: i64,
    pub amount: i64,
    pub price_id: Option<String>,
    pub period_start: Option<i64>,
    pub period_end: Option<i64>,
}

impl LineDraft {
    /// A discount line: `off` (positive) taken off.
    pub fn discount(description: String, off: i64) -> LineDraft {
        LineDraft {
            kind: "discount",
            description,
            quantity: 1,
            unit_amount: -off,
            amount: -off,
            price_id: None,
            period_start: None,
            period_end: None,
        }
    }
}

fn err(e: impl std::fmt::Display) -> Error {
    tracing::error!(error = %e, "billing failure");
    Error::internal()
}

fn transition(sub: &SubscriptionRow, event: Event) -> Result<Status> {
    let from = Status::parse(&sub.status).ok_or_else(Error::internal)?;
    dom::transition(from, event).map_err(|e| Error::invalid("id", e.to_string()))
}

fn interval(sub: &SubscriptionRow) -> Interval {
    Interval::parse(&sub.interval).unwrap_or(Interval::Month)
}

fn period_of(sub: &SubscriptionRow, at: i64) -> Result<Period> {
    dom::period_at(from_millis(sub.anchor_at), interval(sub), from_millis(at)).map_err(err)
}

/// The customer's credit balance in a currency (what Bursar owes them).
pub async fn credit_balance(tx: &mut Tx, livemode: bool, customer_id: &str, currency: &str) -> Result<i64> {
    let b = ledger::balance_in_tx(tx, livemode, &format!("customer_credit:{customer_id}"), currency).await?;
    Ok(natural_balance(AccountKind::Liability, b))
}

/// The instant a customer lives at, by id.
pub async fn now_for(tx: &mut Tx, customer: &CustomerRow, server_now: i64) -> Result<i64> {
    if let Some(c) = &customer.test_clock_id {
        if let Some(clock) = clocks::get(&mut **tx, c).await? {
            return Ok(clock.frozen_time);
        }
    }
    Ok(server_now)
}

/// The buyer as tax sees them: billing country, state, and a VAT id that
/// passes offline validation.
pub fn buyer_of(customer: &CustomerRow) -> tax::Buyer {
    let address: Option<serde_json::Value> = customer.address.as_deref().and_then(|a| serde_json::from_str(a).ok());
    let addr = |k: &str| address.as_ref().and_then(|a| a.get(k)).and_then(|v| v.as_str()).map(str::to_string);
    let country = customer.country.clone().or_else(|| addr("country"));
    let ids: Vec<serde_json::Value> = serde_json::from_str(&customer.tax_ids).unwrap_or_default();
    let vat = ids.iter().find_map(|t| {
        let kind = t.get("type")?.as_str()?;
        if kind != "eu_vat" && kind != "gb_vat" {
            return None;
        }
        bursar_domain::vat_id::VatId::parse(t.get("value")?.as_str()?).ok()
    });
    tax::Buyer {
        country,
        state: addr("state"),
        valid_vat_country: vat.as_ref().map(|v| v.iso_country().to_string()),
        vat_id: vat.map(|v| v.as_string()),
    }
}

/// Everything an issued invoice writes: the row, its lines, its ledger
/// entries (with their source) and its events.
pub struct BuiltInvoice {
    pub row: InvoiceRow,
    pub lines: Vec<LineRow>,
    /// Entries with their source type and id.
    entries: Vec<(bursar_domain::ledger::BalancedEntry, &'static str, String)>,
    /// The decline code when the charge failed (the invoice stays open).
    pub failure: Option<String>,
    pub paid: bool,
    /// The payment attempt, when one was made or is to be made.
    pub payment: Option<PaymentRow>,
    /// A provider will be charged after the commit (the invoice stays open).
    pub pending: bool,
}

/// The pieces of one invoice to issue.
pub struct InvoiceInput<'a> {
    pub customer: &'a CustomerRow,
    pub subscription_id: Option<&'a str>,
    pub reason: &'a str,
    pub currency: Currency,
    pub behavior: TaxBehavior,
    pub lines: Vec<LineDraft>,
    /// One-off sales on the same invoice (the courses of a cart that also
    /// starts a subscription): after `lines`, priced before tax whatever
    /// `behavior` says, and credited to `revenue:one_off`.
    pub one_off: Vec<LineDraft>,
    pub period: Option<(i64, i64)>,
    pub now: i64,
    /// A hand-written invoice being finalized: keeps the draft's ids.
    pub manual: Option<Manual>,
}

/// The part of an invoice that is one-off sales, when it also holds a
/// subscription's lines (as its tax details record it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OneOffPart {
    /// Net of tax, after its discount.
    pub subtotal: i64,
    pub tax: i64,
    pub total: i64,
}

impl OneOffPart {
    pub fn of(invoice: &InvoiceRow) -> Option<OneOffPart> {
        let d: serde_json::Value = serde_json::from_str(&invoice.tax_details).ok()?;
        let p = d.get("one_off")?;
        Some(OneOffPart {
            subtotal: p.get("subtotal")?.as_i64()?,
            tax: p.get("tax")?.as_i64()?,
            total: p.get("total")?.as_i64()?,
        })
    }
}

/// What a finalized draft keeps: its id, its lines' ids, its own fields.
pub struct Manual {
    pub id: String,
    pub line_ids: Vec<String>,
    pub description: Option<String>,
    pub collection_method: String,
    pub due_at: Option<i64>,
    pub created_at: i64,
}

/// The revenue stream of an invoice's lines.
fn revenue_account(reason: &str) -> &'static str {
    if reason == "manual" {
        "revenue:one_off"
    } else {
        "revenue:subscriptions"
    }
}

/// Builds an issued invoice, given its number and the credit balance the
/// customer has: taxes, credit applied, the payment attempt (settled at once
/// by the sandbox, pending for a provider, none for `Collect::Later`), and
/// the ledger entries. Pure: nothing is written.
pub(crate) fn build_invoice(
    settings: &Settings,
    inp: InvoiceInput<'_>,
    number: String,
    credit: i64,
    collect: Collect,
) -> Result<BuiltInvoice> {
    let customer = inp.customer;
    let (currency, now) = (inp.currency, inp.now);
    let sum_of = |lines: &[LineDraft]| {
        lines.iter().try_fold(0i64, |acc, l| acc.checked_add(l.amount)).ok_or_else(Error::internal)
    };
    let lines_sum = sum_of(&inp.lines)?;
    let decision = tax::decide(&settings.tax, &buyer_of(customer));
    // Each part taxed as it is priced: the invoice's own lines by its
    // behavior, one-off sales before tax.
    let mut parts = vec![(inp.behavior, lines_sum)];
    if !inp.one_off.is_empty() {
        parts.push((TaxBehavior::Exclusive, sum_of(&inp.one_off)?));
    }
    let (taxed, each) = tax::apply_parts(&decision, &parts, currency).map_err(err)?;
    let one_off = each.get(1).map(|t| OneOffPart {
        subtotal: t.subtotal_minor,
        tax: t.taxes.iter().map(|x| x.amount_minor).sum(),
        total: t.total_minor,
    });
    let subtotal = taxed.subtotal_minor;
    let tax: i64 = taxed.taxes.iter().map(|t| t.amount_minor).sum();
    let total = taxed.total_minor;
    let credit_applied = if total > 0 { credit.clamp(0, total) } else { 0 };
    let amount_due = total.max(0) - credit_applied;
    let id = inp.manual.as_ref().map(|m| m.id.clone()).unwrap_or_else(|| new_id(IdKind::Invoice));
    let credit_account = format!("customer_credit:{}", customer.id);
    let mut entries = Vec::new();
    let mut push = |e: EntryDraft, source: &'static str, source_id: &str| -> Result<()> {
        entries.push((e.validate().map_err(err)?, source, source_id.to_string()));
        Ok(())
    };
    if total != 0 {
        // Signed postings: a positive invoice is owed by the customer, a
        // negative one (a net credit) is owed to them as credit balance.
        let owed_by = if total > 0 { "receivables" } else { credit_account.as_str() };
        let mut e = EntryDraft::new(currency, format!("Invoice {number}")).debit(owed_by, total);
        let one_off_net = one_off.map_or(0, |p| p.subtotal);
        if subtotal - one_off_net != 0 {
            e = e.credit(revenue_account(inp.reason), subtotal - one_off_net);
        }
        if one_off_net != 0 {
            e = e.credit("revenue:one_off", one_off_net);
        }
        for t in taxed.taxes.iter().filter(|t| t.amount_minor != 0) {
            e = e.credit(format!("tax_payable:{}", t.jurisdiction), t.amount_minor);
        }
        push(e, "invoice", &id)?;
    }
    if credit_applied > 0 {
        push(
            EntryDraft::new(currency, format!("Credit applied to {number}"))
                .debit(&credit_account, credit_applied)
                .credit("receivables", credit_applied),
            "invoice",
            &id,
        )?;
    }
    let payment = if amount_due > 0 {
        payments::payment_for(&collect, customer.livemode, &customer.id, &id, &number, amount_due, currency.code(), now)
    } else {
        None
    };
    let (paid, failure, pending) = match (&payment, &collect) {
        _ if amount_due == 0 => (true, None, false),
        (Some(p), _) => match p.status.as_str() {
            "completed" => (true, None, false),
            "failed" => (false, p.failure_code.clone(), false),
            _ => (false, None, true),
        },
        (None, Collect::NoMethod) => (false, Some("payment_method_missing".to_string()), false),
        (None, _) => (false, None, false),
    };
    if let Some(p) = payment.as_ref().filter(|p| p.status == "completed") {
        let e = payments::payment_entry(p, &number)?;
        entries.push((e, "payment", p.id.clone()));
    }
    let line_ids = inp.manual.as_ref().map(|m| m.line_ids.clone()).unwrap_or_default();
    let mixed = !inp.one_off.is_empty() && inp.behavior != TaxBehavior::Exclusive;
    let lines = inp
        .lines
        .into_iter()
        .chain(inp.one_off)
        .enumerate()
        .map(|(i, l)| LineRow {
            id: line_ids.get(i).cloned().unwrap_or_else(|| new_id(IdKind::InvoiceLine)),
            invoice_id: id.clone(),
            position: i as i64,
            kind: l.kind.to_string(),
            description: l.description,
            quantity: l.quantity,
            unit_amount: l.unit_amount,
            amount: l.amount,
            price_id: l.price_id,
            period_start: l.period_start,
            period_end: l.period_end,
        })
        .collect();
    let row = InvoiceRow {
        id,
        livemode: customer.livemode,
        number: Some(number),
        customer_id: customer.id.clone(),
        subscription_id: inp.subscription_id.map(str::to_string),
        status: if paid { "paid" } else { "open" }.into(),
        billing_reason: inp.reason.to_string(),
        currency: currency.code().to_string(),
        subtotal,
        tax,
        total,
        // `mixed`: tax-inclusive subscription lines beside one-off sales
        // priced before tax.
        tax_behavior: if mixed { "mixed" } else { inp.behavior.as_str() }.to_string(),
        tax_details: {
            let mut d = serde_json::json!({
                "jurisdiction": decision.jurisdiction,
                "reverse_charge": decision.reverse_charge,
                "note": decision.note,
                "taxes": taxed.taxes,
            });
            if let Some(p) = one_off {
                d["one_off"] = serde_json::json!({"subtotal": p.subtotal, "tax": p.tax, "total": p.total});
            }
            d.to_string()
        },
        credit_applied,
        amount_due,
        amount_paid: if paid { amount_due } else { 0 },
        period_start: inp.period.map(|p| p.0),
        period_end: inp.period.map(|p| p.1),
        customer_snapshot: serde_json::json!({
            "name": customer.name, "email": customer.email, "country": customer.country,
            "address": customer.address.as_deref().and_then(|a| serde_json::from_str::<serde_json::Value>(a).ok()),
            "tax_ids": serde_json::from_str::<serde_json::Value>(&customer.tax_ids).unwrap_or_default(),
        })
        .to_string(),
        created_at: inp.manual.as_ref().map_or(now, |m| m.created_at),
        finalized_at: Some(now),
        paid_at: paid.then_some(now),
        description: inp.manual.as_ref().and_then(|m| m.description.clone()),
        collection_method: inp
            .manual
            .as_ref()
            .map_or_else(|| "charge_automatically".to_string(), |m| m.collection_method.clone()),
        due_at: inp.manual.as_ref().and_then(|m| m.due_at),
        voided_at: None,
    };
    Ok(BuiltInvoice { row, lines, entries, failure, paid, payment, pending })
}

/// Writes built invoices with multi-row statements: ledger entries,
/// invoices, lines, events.
pub(crate) async fn write_invoices(tx: &mut Tx, built: &[BuiltInvoice]) -> Result<()> {
    let new_entries: Vec<ledger::NewEntry> = built
        .iter()
        .flat_map(|b| {
            b.entries.iter().map(move |(e, source, source_id)| {
                ledger::NewEntry::at(b.row.livemode, e, b.row.finalized_at.unwrap_or(b.row.created_at))
                    .source(source, source_id)
            })
        })
        .collect();
    ledger::post_batch(tx, &new_entries).await?;
    let rows: Vec<InvoiceRow> = built.iter().map(|b| b.row.clone()).collect();
    billing::insert_invoices(tx, &rows).await.map_err(|e| match &e {
        DbError::Sqlx(s) if bursar_store::db::is_unique_violation(s) => {
            Error::conflict("invoice_exists", "this period is already invoiced")
        }
        _ => e.into(),
    })?;
    let lines: Vec<LineRow> = built.iter().flat_map(|b| b.lines.iter().cloned()).collect();
    billing::insert_lines(tx, &lines).await?;
    let pays: Vec<PaymentRow> = built.iter().filter_map(|b| b.payment.clone()).collect();
    bursar_store::payments::insert_payments(tx, &pays).await?;
    let mut evs = Vec::with_capacity(built.len() * 2);
    for b in built {
        let r = &b.row;
        let at = r.finalized_at.unwrap_or(r.created_at);
        let data = serde_json::json!({"id": r.id, "number": r.number, "total": r.total, "amount_due": r.amount_due,
            "currency": r.currency, "customer": r.customer_id, "subscription": r.subscription_id});
        evs.push((r.livemode, "invoice.finalized".to_string(), r.id.clone(), data.clone(), at));
        match &b.failure {
            None if b.paid => evs.push((r.livemode, "invoice.paid".to_string(), r.id.clone(), data, at)),
            None => {}
            Some(code) => {
                let mut d = data;
                d["failure_code"] = serde_json::Value::String(code.clone());
                evs.push((r.livemode, "invoice.payment_failed".to_string(), r.id.clone(), d, at))
            }
        }
    }
    events::emit_many(tx, &evs).await?;
    Ok(())
}

pub(crate) fn series_of(now: i64) -> String {
    format!("INV-{}", from_millis(now).to_zoned(jiff::tz::TimeZone::UTC).year())
}

/// Issues and settles one invoice: numbers it, applies the customer's
/// credit, charges the rest through the sandbox provider, and posts the
/// ledger entries. A negative total (a downgrade's net credit) goes to the
/// customer's credit balance.
pub async fn invoice_and_pay(tx: &mut Tx, settings: &Settings, inp: InvoiceInput<'_>) -> Result<Issued> {
    let method = dunning::default_methods(tx, std::slice::from_ref(&inp.customer.id)).await?.pop();
    let collect = Collect::for_method(method, inp.customer.livemode);
    issue(tx, settings, inp, collect).await
}

/// Issues one invoice, collected as `collect` says.
pub async fn issue(tx: &mut Tx, settings: &Settings, inp: InvoiceInput<'_>, collect: Collect) -> Result<Issued> {
    let credit = credit_balance(tx, inp.customer.livemode, &inp.customer.id, inp.currency.code()).await?;
    let series = series_of(inp.now);
    let n = billing::reserve_invoice_numbers(tx, inp.customer.livemode, &series, 1).await?;
    let built = build_invoice(settings, inp, format!("{series}-{n:06}"), credit, collect)?;
    write_invoices(tx, std::slice::from_ref(&built)).await?;
    if built.failure.is_some() {
        start_dunning(tx, settings, &built).await?;
    }
    Ok(Issued { pending: built.pending, row: built.row })
}

/// An issued invoice, and whether a provider charge for it is still to be
/// made (after the commit; see `settlement::collect`).
pub struct Issued {
    pub row: InvoiceRow,
    pub pending: bool,
}

impl Issued {
    /// Paid, or waiting for a provider's answer: not declined.
    pub fn not_declined(&self) -> bool {
        self.row.status == "paid" || self.pending
    }
}

/// Redeems a coupon for a subscription: checks its rules, takes one
/// redemption atomically (never more than the maximum, even under races),
/// records it, and attaches the coupon.
pub async fn redeem(
    tx: &mut Tx,
    customer: &CustomerRow,
    sub: &mut SubscriptionRow,
    code: &str,
    plan: &PlanRow,
    amount: i64,
    now: i64,
) -> Result<()> {
    let bad = |msg: String| Error::invalid("coupon", msg);
    let c = billing::coupon_by_key(&mut **tx, sub.livemode, code)
        .await?
        .ok_or_else(|| Error::not_found("coupon", "coupon", code))?;
    let rules: coupon::Rules = serde_json::from_str(&c.rules).map_err(err)?;
    let attempt = coupon::Attempt {
        now,
        item: coupon::Item::Plan { id: &plan.id, code: &plan.code },
        currency: &sub.currency,
        amount,
        customer_redemptions: billing::customer_redemptions(tx, &c.id, &customer.id).await?,
        customer_has_purchased: billing::has_purchased(tx, &customer.id).await?,
    };
    rules.check(c.active, &attempt).map_err(|r| bad(r.to_string()))?;
    if !billing::try_redeem(tx, &c.id).await? {
        return Err(Error::invalid("coupon", coupon::Refusal::Exhausted.to_string()));
    }
    billing::insert_redemption(tx, &new_id(IdKind::Redemption), sub.livemode, &c.id, &customer.id, Some(&sub.id), now)
        .await?;
    let months = u32::try_from(interval(sub).months()).unwrap_or(1);
    sub.coupon_id = Some(c.id);
    sub.discount_invoices_left = rules.duration.invoices(months).map(i64::from);
    Ok(())
}

/// Adds the subscription's coupon discount to an invoice's lines. A
/// regular (period) invoice uses up one of the coupon's invoices; when none
/// are left the coupon comes off.
async fn discount(
    tx: &mut Tx,
    sub: &mut SubscriptionRow,
    lines: &mut Vec<LineDraft>,
    currency: Currency,
    regular: bool,
) -> Result<()> {
    let Some(id) = sub.coupon_id.clone() else { return Ok(()) };
    let Some(c) = billing::coupon_by_key(&mut **tx, sub.livemode, &id).await? else { return Ok(()) };
    apply_discount(&c, sub, lines, currency, regular)
}

fn apply_discount(
    c: &billing::CouponRow,
    sub: &mut SubscriptionRow,
    lines: &mut Vec<LineDraft>,
    currency: Currency,
    regular: bool,
) -> Result<()> {
    let rules: coupon::Rules = serde_json::from_str(&c.rules).map_err(err)?;
    let sum: i64 = lines.iter().map(|l| l.amount).sum();
    let off = coupon::discount_of(&rules.discount, currency.code(), sum).map_err(err)?;
    if off != 0 {
        lines.push(LineDraft::discount(format!("{} ({})", c.name, c.code), off));
    }
    if regular {
        if let Some(left) = sub.discount_invoices_left {
            if left <= 1 {
                sub.coupon_id = None;
                sub.discount_invoices_left = None;
            } else {
                sub.discount_invoices_left = Some(left - 1);
            }
        }
    }
    Ok(())
}

fn behavior_of(price: &PriceRow) -> TaxBehavior {
    TaxBehavior::parse(&price.tax_behavior).unwrap_or_default()
}

fn plan_line(plan: &PlanRow, price: &PriceRow, quantity: i64, p: Period) -> Result<LineDraft> {
    Ok(LineDraft {
        kind: "plan",
        description: format!("{} ({} × {})", plan.name, quantity, price.interval),
        quantity,
        unit_amount: price.amount,
        amount: price.amount.checked_mul(quantity).ok_or_else(|| Error::invalid("quantity", "amount out of range"))?,
        price_id: Some(price.id.clone()),
        period_start: Some(to_millis(p.start)),
        period_end: Some(to_millis(p.end)),
    })
}

async fn load_price(tx: &mut Tx, livemode: bool, id: &str) -> Result<PriceRow> {
    catalog::price_by_id(&mut **tx, livemode, id).await?.ok_or_else(Error::internal)
}

async fn load_plan(tx: &mut Tx, livemode: bool, id: &str) -> Result<PlanRow> {
    catalog::plan_by_id(&mut **tx, livemode, id).await?.ok_or_else(Error::internal)
}

pub(crate) async fn emit_sub(tx: &mut Tx, sub: &SubscriptionRow, kind: &str, now: i64) -> Result<()> {
    let data = serde_json::json!({"id": sub.id, "customer": sub.customer_id, "status": sub.status, "plan": sub.plan_id,
        "price": sub.price_id, "quantity": sub.quantity, "current_period_end": sub.current_period_end / 1000});
    events::emit(tx, sub.livemode, kind, &sub.id, &data, now).await?;
    Ok(())
}

/// Starts a subscription: a trial when the plan has one and it is wanted,
/// else the first period invoiced and paid now.
#[allow(clippy::too_many_arguments)]
pub async fn create(
    tx: &mut Tx,
    settings: &Settings,
    customer: &CustomerRow,
    plan: &PlanRow,
    price: &PriceRow,
    quantity: i64,
    trial: bool,
    coupon: Option<&str>,
    now: i64,
) -> Result<SubscriptionRow> {
    Ok(create_inner(tx, settings, customer, plan, price, quantity, trial, coupon, now, None).await?.0)
}

/// Starts a subscription for a checkout: `incomplete`, with its first
/// invoice issued open, to be paid by the checkout's payment. `one_off`:
/// what a cart sells with it, on the same first invoice (never on
/// renewals).
#[allow(clippy::too_many_arguments)]
pub async fn create_for_checkout(
    tx: &mut Tx,
    settings: &Settings,
    customer: &CustomerRow,
    plan: &PlanRow,
    price: &PriceRow,
    quantity: i64,
    coupon: Option<&str>,
    one_off: Vec<LineDraft>,
    now: i64,
) -> Result<(SubscriptionRow, InvoiceRow)> {
    let (sub, inv) =
        create_inner(tx, settings, customer, plan, price, quantity, false, coupon, now, Some(one_off)).await?;
    Ok((sub, inv.ok_or_else(Error::internal)?))
}

#[allow(clippy::too_many_arguments)]
async fn create_inner(
    tx: &mut Tx,
    settings: &Settings,
    customer: &CustomerRow,
    plan: &PlanRow,
    price: &PriceRow,
    quantity: i64,
    trial: bool,
    coupon: Option<&str>,
    now: i64,
    checkout: Option<Vec<LineDraft>>,
) -> Result<(SubscriptionRow, Option<InvoiceRow>)> {
    let (checkout, one_off) = match checkout {
        Some(lines) => (true, lines),
        None => (false, Vec::new()),
    };
    let currency = Currency::from_code(&price.currency).map_err(err)?;
    let interval = Interval::parse(&price.interval).unwrap_or(Interval::Month);
    let mut sub = SubscriptionRow {
        id: new_id(IdKind::Subscription),
        livemode: customer.livemode,
        customer_id: customer.id.clone(),
        plan_id: plan.id.clone(),
        price_id: price.id.clone(),
        currency: price.currency.clone(),
        interval: price.interval.clone(),
        quantity,
        status: if checkout { Status::Incomplete } else { Status::Active }.as_str().into(),
        anchor_at: now,
        current_period_start: now,
        current_period_end: now,
        trial_end: None,
        cancel_at_period_end: false,
        canceled_at: None,
        pending_price_id: None,
        pending_plan_id: None,
        pause_resumes_at: None,
        coupon_id: None,
        discount_invoices_left: None,
        created_at: now,
        updated_at: now,
    };
    if let Some(code) = coupon {
        let amount = price.amount.checked_mul(quantity).ok_or_else(Error::internal)?;
        redeem(tx, customer, &mut sub, code, plan, amount, now).await?;
    }
    let mut first = None;
    if trial && plan.trial_days > 0 && !checkout {
        let end = now + plan.trial_days * 86_400_000;
        sub.status = Status::Trialing.as_str().into();
        sub.trial_end = Some(end);
        sub.anchor_at = end;
        sub.current_period_end = end;
        billing::save_subscription(tx, &sub).await?;
    } else {
        let p = dom::nth_period(from_millis(now), interval, 0).map_err(err)?;
        sub.current_period_end = to_millis(p.end);
        billing::save_subscription(tx, &sub).await?;
        let mut lines = vec![plan_line(plan, price, quantity, p)?];
        discount(tx, &mut sub, &mut lines, currency, true).await?;
        billing::save_subscription(tx, &sub).await?;
        let inp = InvoiceInput {
            customer,
            subscription_id: Some(sub.id.as_str()),
            reason: "subscription_create",
            currency,
            behavior: behavior_of(price),
            lines,
            one_off,
            period: Some((now, sub.current_period_end)),
            now,
            manual: None,
        };
        let row = if checkout {
            issue(tx, settings, inp, Collect::Later).await?
        } else {
            invoice_and_pay(tx, settings, inp).await?
        };
        if !checkout && !row.not_declined() {
            return Err(declined(&row.row));
        }
        first = Some(row.row);
    }
    emit_sub(tx, &sub, "subscription.created", now).await?;
    Ok((sub, first))
}

/// Moves a subscription through every boundary it has passed by `now`:
/// trial ends, scheduled cancellations, pending downgrades, renewals and
/// pause ends. Safe to rerun: each period is invoiced at most once.
pub async fn advance(tx: &mut Tx, settings: &Settings, sub: &mut SubscriptionRow, now: i64) -> Result<u32> {
    let customer = customers::get(&mut **tx, sub.livemode, &sub.customer_id).await?.ok_or_else(Error::internal)?;
    let mut steps = 0;
    for _ in 0..1000 {
        let status = Status::parse(&sub.status).ok_or_else(Error::internal)?;
        if status == Status::Paused {
            match sub.pause_resumes_at {
                Some(t) if t <= now => {
                    sub.status = transition(sub, Event::Resume)?.as_str().into();
                    sub.pause_resumes_at = None;
                    sub.anchor_at = t;
                    sub.current_period_start = t;
                    if !renew_from(tx, settings, &customer, sub, t, "subscription_cycle").await? {
                        sub.status = transition(sub, Event::RenewalFailed)?.as_str().into();
                        billing::save_subscription(tx, sub).await?;
                    }
                    emit_sub(tx, sub, "subscription.resumed", t).await?;
                    steps += 1;
                    continue;
                }
                _ => break,
            }
        }
        // While a payment is being retried the period does not renew.
        if matches!(status, Status::PastDue | Status::Unpaid) || status.is_terminal() || sub.current_period_end > now {
            break;
        }
        let boundary = sub.current_period_end;
        if sub.cancel_at_period_end {
            sub.status = transition(sub, Event::PeriodEndedCanceling)?.as_str().into();
            sub.canceled_at = Some(boundary);
            sub.cancel_at_period_end = false;
            sub.updated_at = boundary;
            billing::save_subscription(tx, sub).await?;
            emit_sub(tx, sub, "subscription.canceled", boundary).await?;
            steps += 1;
            break;
        }
        if let (Some(price), Some(plan)) = (sub.pending_price_id.take(), sub.pending_plan_id.take()) {
            sub.price_id = price;
            sub.plan_id = plan;
        }
        let paid = renew_from(tx, settings, &customer, sub, boundary, "subscription_cycle").await?;
        let event = match (status == Status::Trialing, paid) {
            (true, true) => Event::TrialConverted,
            (true, false) => Event::TrialPaymentFailed,
            (false, true) => Event::RenewalPaid,
            (false, false) => Event::RenewalFailed,
        };
        sub.status = transition(sub, event)?.as_str().into();
        billing::save_subscription(tx, sub).await?;
        emit_sub(
            tx,
            sub,
            if event == Event::TrialConverted { "subscription.trial_converted" } else { "subscription.renewed" },
            boundary,
        )
        .await?;
        steps += 1;
    }
    Ok(steps)
}

/// Invoices the period starting at `start` and makes it current.
async fn renew_from(
    tx: &mut Tx,
    settings: &Settings,
    customer: &CustomerRow,
    sub: &mut SubscriptionRow,
    start: i64,
    reason: &str,
) -> Result<bool> {
    let p = period_of(sub, start)?;
    let plan = load_plan(tx, sub.livemode, &sub.plan_id).await?;
    let price = load_price(tx, sub.livemode, &sub.price_id).await?;
    let currency = Currency::from_code(&price.currency).map_err(err)?;
    let ended = (sub.current_period_start, sub.current_period_end);
    let was_trial = sub.trial_end == Some(ended.1);
    sub.current_period_start = to_millis(p.start);
    sub.current_period_end = to_millis(p.end);
    sub.updated_at = start;
    billing::save_subscription(tx, sub).await?;
    let mut lines = vec![plan_line(&plan, &price, sub.quantity, p)?];
    discount(tx, sub, &mut lines, currency, true).await?;
    if !was_trial {
        lines.extend(usage_lines(tx, sub, &plan, &price.currency, ended).await?);
    }
    billing::save_subscription(tx, sub).await?;
    invoice_and_pay(
        tx,
        settings,
        InvoiceInput {
            customer,
            subscription_id: Some(sub.id.as_str()),
            reason,
            currency,
            behavior: behavior_of(&price),
            lines,
            one_off: Vec::new(),
            period: Some((sub.current_period_start, sub.current_period_end)),
            now: start,
            manual: None,
        },
    )
    .await
    .map(|issued| issued.not_declined())
}

/// The metered usage of an ended period, priced by the plan's metered
/// prices in the subscription's currency: charged in arrears on the
/// invoice that renews it.
async fn usage_lines(
    tx: &mut Tx,
    sub: &SubscriptionRow,
    plan: &PlanRow,
    currency: &str,
    ended: (i64, i64),
) -> Result<Vec<LineDraft>> {
    let specs: Vec<bursar_domain::metered::MeteredSpec> = serde_json::from_str(&plan.metered).unwrap_or_default();
    let specs: Vec<_> = specs.into_iter().filter(|s| s.currency.eq_ignore_ascii_case(currency)).collect();
    if specs.is_empty() {
        return Ok(Vec::new());
    }
    let metrics = bursar_store::usage::metrics(&mut **tx, sub.livemode).await?;
    let mut lines = Vec::new();
    for spec in specs {
        let Some(m) = metrics.iter().find(|m| m.code == spec.metric) else { continue };
        let quantity = match m.aggregation.as_str() {
            "count" | "sum" => {
                bursar_store::usage::counter(&mut **tx, sub.livemode, &sub.customer_id, &m.code, ended.0).await?
            }
            other => {
                bursar_store::usage::aggregate(&mut **tx, sub.livemode, &sub.customer_id, &m.code, ended.0, other)
                    .await?
            }
        };
        let amount = spec.pricing.amount(u64::try_from(quantity).unwrap_or(0)).map_err(err)?;
        if quantity == 0 && amount == 0 {
            continue;
        }
        let unit_amount = match &spec.pricing {
            bursar_domain::metered::UsagePricing::PerUnit { unit_amount } => *unit_amount,
            _ => 0,
        };
        lines.push(LineDraft {
            kind: "usage",
            description: format!("{} (usage)", m.name),
            quantity,
            unit_amount,
            amount,
            price_id: None,
            period_start: Some(ended.0),
            period_end: Some(ended.1),
        });
    }
    Ok(lines)
}

/// The error for a charge that was declined while the customer waited.
pub fn declined(row: &InvoiceRow) -> Error {
    Error::declined(
        "card_declined",
        format!("the payment of {} {} was declined; update the payment method and retry", row.amount_due, row.currency),
    )
    .with_param("payment_method")
}

/// The lines a plan or quantity change would produce now.
pub async fn change_lines(
    tx: &mut Tx,
    sub: &SubscriptionRow,
    new_plan: &PlanRow,
    new_price: &PriceRow,
    quantity: i64,
    now: i64,
) -> Result<Vec<LineDraft>> {
    let old_plan = load_plan(tx, sub.livemode, &sub.plan_id).await?;
    let old_price = load_price(tx, sub.livemode, &sub.price_id).await?;
    let p = Period { start: from_millis(sub.current_period_start), end: from_millis(sub.current_period_end) };
    let old_total = old_price.amount.checked_mul(sub.quantity).ok_or_else(Error::internal)?;
    let new_total =
        new_price.amount.checked_mul(quantity).ok_or_else(|| Error::invalid("quantity", "amount out of range"))?;
    let r = dom::prorate_change(old_total, new_total, p, from_millis(now)).map_err(err)?;
    let (ps, pe) = (Some(now), Some(sub.current_period_end));
    Ok(vec![
        LineDraft {
            kind: "proration",
            description: format!("Unused time on {} ({} × {})", old_plan.name, sub.quantity, old_price.interval),
            quantity: sub.quantity,
            unit_amount: old_price.amount,
            amount: r.credit_minor,
            price_id: Some(old_price.id.clone()),
            period_start: ps,
            period_end: pe,
        },
        LineDraft {
            kind: "proration",
            description: format!("Remaining time on {} ({} × {})", new_plan.name, quantity, new_price.interval),
            quantity,
            unit_amount: new_price.amount,
            amount: r.charge_minor,
            price_id: Some(new_price.id.clone()),
            period_start: ps,
            period_end: pe,
        },
    ])
}

/// What a change now would invoice: the same lines, discount, tax and
/// credit as [`change_now`], computed without writing or charging. `sub`
/// carries any coupon being redeemed with the change.
#[allow(clippy::too_many_arguments)]
pub async fn preview_change(
    tx: &mut Tx,
    settings: &Settings,
    sub: &mut SubscriptionRow,
    customer: &CustomerRow,
    new_plan: &PlanRow,
    new_price: &PriceRow,
    quantity: i64,
    now: i64,
) -> Result<(InvoiceRow, Vec<LineDraft>)> {
    let currency = Currency::from_code(&new_price.currency).map_err(err)?;
    let mut lines = change_lines(tx, sub, new_plan, new_price, quantity, now).await?;
    discount(tx, sub, &mut lines, currency, false).await?;
    let credit = credit_balance(tx, customer.livemode, &customer.id, currency.code()).await?;
    let built = build_invoice(
        settings,
        InvoiceInput {
            customer,
            subscription_id: Some(sub.id.as_str()),
            reason: "subscription_update",
            currency,
            behavior: behavior_of(new_price),
            lines: lines.clone(),
            one_off: Vec::new(),
            period: Some((now, sub.current_period_end)),
            now,
            manual: None,
        },
        String::new(),
        credit,
        Collect::Later,
    )?;
    Ok((built.row, lines))
}

/// Applies a change now: the proration invoice, then the new plan.
pub async fn change_now(
    tx: &mut Tx,
    settings: &Settings,
    sub: &mut SubscriptionRow,
    new_plan: &PlanRow,
    new_price: &PriceRow,
    quantity: i64,
    now: i64,
) -> Result<Option<InvoiceRow>> {
    let customer = customers::get(&mut **tx, sub.livemode, &sub.customer_id).await?.ok_or_else(Error::internal)?;
    let invoice = if sub.status == Status::Trialing.as_str() {
        None
    } else {
        let mut lines = change_lines(tx, sub, new_plan, new_price, quantity, now).await?;
        let currency = Currency::from_code(&new_price.currency).map_err(err)?;
        discount(tx, sub, &mut lines, currency, false).await?;
        Some(
            invoice_and_pay(
                tx,
                settings,
                InvoiceInput {
                    customer: &customer,
                    subscription_id: Some(sub.id.as_str()),
                    reason: "subscription_update",
                    currency,
                    behavior: behavior_of(new_price),
                    lines,
                    one_off: Vec::new(),
                    period: Some((now, sub.current_period_end)),
                    now,
                    manual: None,
                },
            )
            .await?,
        )
    };
    if let Some(issued) = invoice.as_ref().filter(|r| !r.not_declined()) {
        return Err(declined(&issued.row));
    }
    sub.plan_id = new_plan.id.clone();
    sub.price_id = new_price.id.clone();
    sub.quantity = quantity;
    sub.pending_plan_id = None;
    sub.pending_price_id = None;
    sub.updated_at = now;
    billing::save_subscription(tx, sub).await?;
    emit_sub(tx, sub, "subscription.updated", now).await?;
    Ok(invoice.map(|i| i.row))
}

/// Pauses for whole months; the subscription resumes on its own then.
pub async fn pause(tx: &mut Tx, settings: &Settings, sub: &mut SubscriptionRow, months: u32, now: i64) -> Result<()> {
    if !dom::PAUSE_MONTHS.contains(&months) {
        return Err(Error::invalid("months", "a pause lasts 1 to 3 months"));
    }
    sub.status = transition(sub, Event::Pause)?.as_str().into();
    // The unused, already paid part of the period goes back as credit, which
    // the first invoice after the pause uses.
    let price = load_price(tx, sub.livemode, &sub.price_id).await?;
    let plan = load_plan(tx, sub.livemode, &sub.plan_id).await?;
    let p = Period { start: from_millis(sub.current_period_start), end: from_millis(sub.current_period_end) };
    let full = price.amount.checked_mul(sub.quantity).ok_or_else(Error::internal)?;
    let currency = Currency::from_code(&price.currency).map_err(err)?;
    // A period bought with a coupon is credited at what was paid: the
    // coupon's discount is prorated back with it.
    let coupon = match &sub.coupon_id {
        Some(id) => billing::coupon_by_key(&mut **tx, sub.livemode, id).await?,
        None => None,
    };
    let off = match &coupon {
        Some(c) => {
            let rules: coupon::Rules = serde_json::from_str(&c.rules).map_err(err)?;
            coupon::discount_of(&rules.discount, currency.code(), full).map_err(err)?
        }
        None => 0,
    };
    let unused = dom::unused_amount(full, p, from_millis(now)).map_err(err)?;
    let unused_paid = dom::unused_amount(full - off, p, from_millis(now)).map_err(err)?;
    if unused > 0 {
        let customer = customers::get(&mut **tx, sub.livemode, &sub.customer_id).await?.ok_or_else(Error::internal)?;
        let mut lines = vec![LineDraft {
            kind: "proration",
            description: format!("Unused time on {} while paused", plan.name),
            quantity: sub.quantity,
            unit_amount: price.amount,
            amount: -unused,
            price_id: Some(price.id.clone()),
            period_start: Some(now),
            period_end: Some(sub.current_period_end),
        }];
        if let (Some(c), true) = (&coupon, unused_paid != unused) {
            lines.push(LineDraft {
                kind: "discount",
                description: format!("{} ({}) on the unused time", c.name, c.code),
                quantity: 1,
                unit_amount: unused - unused_paid,
                amount: unused - unused_paid,
                price_id: None,
                period_start: Some(now),
                period_end: Some(sub.current_period_end),
            });
        }
        invoice_and_pay(
            tx,
            settings,
            InvoiceInput {
                customer: &customer,
                subscription_id: Some(sub.id.as_str()),
                reason: "subscription_update",
                currency,
                behavior: behavior_of(&price),
                lines,
                one_off: Vec::new(),
                period: Some((now, sub.current_period_end)),
                now,
                manual: None,
            },
        )
        .await?;
    }
    sub.current_period_end = now;
    let resume = dom::add_months(from_millis(now), months as i32).map_err(err)?;
    sub.pause_resumes_at = Some(to_millis(resume));
    sub.cancel_at_period_end = false;
    sub.updated_at = now;
    billing::save_subscription(tx, sub).await?;
    emit_sub(tx, sub, "subscription.paused", now).await
}

/// Cancels now (no refund of the unused time unless `credit_unused`) or at
/// the end of the current period.
pub async fn cancel(tx: &mut Tx, sub: &mut SubscriptionRow, at_period_end: bool, now: i64) -> Result<()> {
    if at_period_end {
        let status = Status::parse(&sub.status).ok_or_else(Error::internal)?;
        if !matches!(status, Status::Trialing | Status::Active) {
            return Err(Error::invalid(
                "at_period_end",
                format!("a {} subscription cannot be canceled at period end", status.as_str()),
            ));
        }
        sub.cancel_at_period_end = true;
        sub.updated_at = now;
        billing::save_subscription(tx, sub).await?;
        return emit_sub(tx, sub, "subscription.updated", now).await;
    }
    sub.status = transition(sub, Event::CancelNow)?.as_str().into();
    sub.canceled_at = Some(now);
    sub.cancel_at_period_end = false;
    sub.pause_resumes_at = None;
    sub.updated_at = now;
    billing::save_subscription(tx, sub).await?;
    emit_sub(tx, sub, "subscription.canceled", now).await
}

/// Starts a canceled subscription again: a new period from now, invoiced
/// and paid.
pub async fn reactivate(tx: &mut Tx, settings: &Settings, sub: &mut SubscriptionRow, now: i64) -> Result<()> {
    let customer = customers::get(&mut **tx, sub.livemode, &sub.customer_id).await?.ok_or_else(Error::internal)?;
    sub.status = transition(sub, Event::Reactivate)?.as_str().into();
    sub.canceled_at = None;
    sub.trial_end = None;
    sub.anchor_at = now;
    if !renew_from(tx, settings, &customer, sub, now, "subscription_reactivate").await? {
        let inv = billing::list_invoices(&mut **tx, sub.livemode, None, Some(&sub.id), None, 1).await?;
        return Err(inv.first().map(declined).unwrap_or_else(Error::internal));
    }
    emit_sub(tx, sub, "subscription.reactivated", now).await
}

/// Puts an invoice whose charge failed on the retry schedule.
async fn start_dunning(tx: &mut Tx, settings: &Settings, b: &BuiltInvoice) -> Result<()> {
    let at = b.row.created_at;
    if b.row.subscription_id.is_none() {
        return Ok(());
    }
    dunning::save(
        tx,
        &dunning::DunningRow {
            invoice_id: b.row.id.clone(),
            livemode: b.row.livemode,
            customer_id: b.row.customer_id.clone(),
            subscription_id: b.row.subscription_id.clone(),
            state: "retrying".into(),
            attempt_count: 1,
            first_failed_at: at,
            next_attempt_at: settings.retry_hours.first().map(|h| at + i64::from(*h) * 3_600_000),
            last_error: b.failure.clone().unwrap_or_default(),
            updated_at: at,
        },
    )
    .await?;
    if settings.retry_hours.is_empty() {
        // No retries configured: the first failure is the last.
        let mut conn_row = dunning::get(tx, &b.row.id, "").await?.ok_or_else(Error::internal)?;
        exhaust(tx, settings, &mut conn_row, at).await?;
    }
    Ok(())
}

/// Every retry failed: the subscription is canceled (the invoice written off
/// as uncollectible) or marked unpaid (the invoice stays open).
async fn exhaust(tx: &mut Tx, settings: &Settings, d: &mut dunning::DunningRow, now: i64) -> Result<()> {
    d.state = "exhausted".into();
    d.next_attempt_at = None;
    d.updated_at = now;
    dunning::save(tx, d).await?;
    if let Some(sub_id) = &d.subscription_id {
        if let Some(mut sub) = billing::subscription(tx, d.livemode, sub_id, "").await? {
            if sub.status == Status::PastDue.as_str() {
                sub.status =
                    transition(&sub, Event::RetriesExhausted { mark_unpaid: settings.final_unpaid })?.as_str().into();
                if sub.status == Status::Canceled.as_str() {
                    sub.canceled_at = Some(now);
                }
                sub.updated_at = now;
                billing::save_subscription(tx, &sub).await?;
                emit_sub(
                    tx,
                    &sub,
                    if settings.final_unpaid { "subscription.unpaid" } else { "subscription.canceled" },
                    now,
                )
                .await?;
            }
        }
    }
    if !settings.final_unpaid {
        let inv = billing::invoice(&mut **tx, d.livemode, &d.invoice_id).await?.ok_or_else(Error::internal)?;
        let currency = Currency::from_code(&inv.currency).map_err(err)?;
        let e = EntryDraft::new(currency, format!("Write-off of {}", inv.number.clone().unwrap_or_default()))
            .debit("bad_debt", inv.amount_due)
            .credit("receivables", inv.amount_due)
            .validate()
            .map_err(err)?;
        ledger::post(tx, ledger::NewEntry::at(d.livemode, &e, now).source("invoice", &inv.id)).await?;
        dunning::set_invoice_status(tx, &inv.id, "uncollectible").await?;
        events::emit(tx, d.livemode, "invoice.marked_uncollectible", &inv.id, &serde_json::json!({"id": inv.id}), now)
            .await?;
    }
    Ok(())
}

/// What a payment attempt on an open invoice came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Retry {
    Paid,
    Failed,
    /// A provider charge to make after the commit.
    Pending(String),
    /// Nothing to do (settled, voided).
    Skipped,
}

/// Records a failed payment of an open invoice: the first failure of a
/// subscription invoice starts its retry schedule; a failed retry
/// schedules the next one or, when none is left, ends dunning. Emits
/// `invoice.payment_failed` (with the update-payment-method prompt).
pub(crate) async fn invoice_payment_failed(
    tx: &mut Tx,
    settings: &Settings,
    inv: &InvoiceRow,
    code: &str,
    now: i64,
) -> Result<()> {
    let (attempt, next) = match dunning::get(tx, &inv.id, "").await? {
        None if inv.subscription_id.is_some() => {
            let mut d = dunning::DunningRow {
                invoice_id: inv.id.clone(),
                livemode: inv.livemode,
                customer_id: inv.customer_id.clone(),
                subscription_id: inv.subscription_id.clone(),
                state: "retrying".into(),
                attempt_count: 1,
                first_failed_at: now,
                next_attempt_at: settings.retry_hours.first().map(|h| now + i64::from(*h) * 3_600_000),
                last_error: code.to_string(),
                updated_at: now,
            };
            dunning::save(tx, &d).await?;
            if settings.retry_hours.is_empty() {
                exhaust(tx, settings, &mut d, now).await?;
            }
            (1, d.next_attempt_at)
        }
        None => (1, None),
        Some(mut d) => {
            d.last_error = code.to_string();
            d.updated_at = now;
            let step = usize::try_from(d.attempt_count - 1).unwrap_or(usize::MAX);
            match settings.retry_hours.get(step) {
                _ if d.state != "retrying" => dunning::save(tx, &d).await?,
                Some(h) => {
                    d.next_attempt_at = Some(d.first_failed_at + i64::from(*h) * 3_600_000);
                    dunning::save(tx, &d).await?;
                }
                None => exhaust(tx, settings, &mut d, now).await?,
            }
            (d.attempt_count, d.next_attempt_at)
        }
    };
    events::emit(tx, inv.livemode, "invoice.payment_failed", &inv.id, &serde_json::json!({"id": inv.id, "number": inv.number, "customer": inv.customer_id, "amount_due": inv.amount_due, "currency": inv.currency,
        "failure_code": code, "attempt": attempt, "next_attempt_at": next.map(|t| t / 1000),
        "update_payment_method": true}), now).await?;
    Ok(())
}

/// Tries an open invoice's charge again with the customer's default
/// method: a new payment attempt. The sandbox answers at once; a provider
/// is asked after the commit (`Retry::Pending`).
pub async fn retry_payment(
    tx: &mut Tx,
    settings: &Settings,
    invoice_id: &str,
    livemode: bool,
    now: i64,
) -> Result<Retry> {
    let inv = billing::invoice(&mut **tx, livemode, invoice_id).await?.ok_or_else(Error::internal)?;
    // An open invoice outside dunning (a sent or manual invoice) is paid by
    // hand: one attempt, nothing scheduled.
    let mut d = match dunning::get(tx, invoice_id, "").await? {
        Some(d) => d,
        None if inv.status == "open" => dunning::DunningRow {
            invoice_id: inv.id.clone(),
            livemode,
            customer_id: inv.customer_id.clone(),
            subscription_id: inv.subscription_id.clone(),
            state: "manual".into(),
            attempt_count: 0,
            first_failed_at: now,
            next_attempt_at: None,
            last_error: String::new(),
            updated_at: now,
        },
        None => return Ok(Retry::Skipped),
    };
    // Scheduled retries run while `retrying`; after the schedule ran out an
    // invoice left open (the `unpaid` setting) can still be paid by hand.
    if d.state == "recovered" || d.state == "voided" || inv.status != "open" {
        return Ok(Retry::Skipped);
    }
    // An attempt whose answer is still out is asked about again, never
    // doubled by a new one.
    if let Some(p) = bursar_store::payments::of_invoice(&mut **tx, &inv.id).await?.into_iter().find(|p| p.unsettled()) {
        return Ok(Retry::Pending(p.id));
    }
    let method = dunning::default_methods(tx, std::slice::from_ref(&inv.customer_id)).await?.pop();
    let collect = Collect::for_method(method, livemode);
    d.attempt_count += 1;
    d.updated_at = now;
    let number = inv.number.clone().unwrap_or_default();
    let payment = payments::payment_for(
        &collect,
        livemode,
        &inv.customer_id,
        &inv.id,
        &number,
        inv.amount_due,
        &inv.currency,
        now,
    );
    if let Some(p) = &payment {
        bursar_store::payments::insert_payments(tx, std::slice::from_ref(p)).await?;
    }
    match payment.as_ref().map(|p| p.status.as_str()) {
        Some("pending" | "processing") => {
            // The answer comes after the commit; no retry is scheduled while
            // this one is in flight.
            if d.state != "manual" {
                d.next_attempt_at = None;
                dunning::save(tx, &d).await?;
            }
            Ok(Retry::Pending(payment.map(|p| p.id).unwrap_or_default()))
        }
        Some("completed") => {
            let p = payment.as_ref().ok_or_else(Error::internal)?;
            let e = payments::payment_entry(p, &number)?;
            ledger::post(tx, ledger::NewEntry::at(livemode, &e, now).source("payment", &p.id)).await?;
            dunning::mark_invoice_paid(tx, &inv.id, inv.amount_due, now).await?;
            if d.state != "manual" {
                d.state = "recovered".into();
                d.next_attempt_at = None;
                dunning::save(tx, &d).await?;
            }
            events::emit(tx, livemode, "invoice.paid", &inv.id, &serde_json::json!({"id": inv.id, "number": inv.number, "amount_due": inv.amount_due, "total": inv.total, "currency": inv.currency, "customer": inv.customer_id, "retry": d.attempt_count}), now).await?;
            if let Some(sub_id) = &d.subscription_id {
                if let Some(mut sub) = billing::subscription(tx, livemode, sub_id, "").await? {
                    if matches!(Status::parse(&sub.status), Some(Status::PastDue | Status::Unpaid)) {
                        sub.status = transition(&sub, Event::PaymentRecovered)?.as_str().into();
                        sub.updated_at = now;
                        billing::save_subscription(tx, &sub).await?;
                        emit_sub(tx, &sub, "subscription.recovered", now).await?;
                    }
                }
            }
            Ok(Retry::Paid)
        }
        _ => {
            let code = payment.and_then(|p| p.failure_code).unwrap_or_else(|| "payment_method_missing".to_string());
            if d.state != "manual" {
                dunning::save(tx, &d).await?;
            }
            invoice_payment_failed(tx, settings, &inv, &code, now).await?;
            Ok(Retry::Failed)
        }
    }
}

/// Runs every retry that is due, each in its own transaction.
pub async fn run_dunning(
    db: &bursar_store::Db,
    settings: &Settings,
    server_now: i64,
    test_clock: Option<&str>,
) -> Result<u32> {
    let mut n = 0;
    loop {
        let due = dunning::due(db.reader(), server_now, test_clock, 200).await?;
        if due.is_empty() {
            break;
        }
        let mut progressed = 0;
        for id in due {
            let mut tx = db.begin().await?;
            // The invoice first, as a payment by hand (`/pay`) takes it: the
            // same lock order everywhere, and an invoice another node (or a
            // `/pay`) is working on is skipped.
            let sql =
                sqlx::AssertSqlSafe(format!("SELECT id FROM invoices WHERE id = $1{}", db.for_update_skip_locked()));
            let locked: Option<String> =
                sqlx::query_scalar(sql).bind(&id).fetch_optional(&mut *tx).await.map_err(DbError::from)?;
            if locked.is_none() {
                continue;
            }
            let Some(d) = dunning::get(&mut tx, &id, db.for_update()).await? else { continue };
            let customer = customers::get(&mut *tx, d.livemode, &d.customer_id).await?.ok_or_else(Error::internal)?;
            let now = now_for(&mut tx, &customer, server_now).await?;
            if d.next_attempt_at.is_none_or(|t| t > now) {
                continue;
            }
            // Run the attempt at its scheduled time, so a clock that jumped
            // several days runs each retry in turn.
            let at = d.next_attempt_at.unwrap_or(now);
            retry_payment(&mut tx, settings, &id, d.livemode, at).await?;
            tx.commit().await?;
            progressed += 1;
        }
        n += progressed;
        if progressed == 0 {
            break;
        }
    }
    Ok(n)
}

pub async fn run_renewals(
    db: &bursar_store::Db,
    settings: &Settings,
    server_now: i64,
    test_clock: Option<&str>,
    batch: i64,
) -> Result<u32> {
    const CHUNK: usize = 50;
    let mut total = 0;
    loop {
        let due = billing::due_subscription_ids(db.reader(), server_now, test_clock, batch).await?;
        if due.is_empty() {
            break;
        }
        let mut progressed = 0;
        for chunk in due.chunks(CHUNK) {
            match run_chunk(db, settings, server_now, chunk).await {
                Ok(n) => progressed += n,
                Err(_) => {
                    for one in chunk {
                        match run_chunk(db, settings, server_now, std::slice::from_ref(one)).await {
                            Ok(n) => progressed += n,
                            Err(e) => tracing::error!(subscription = %one.0, error = ?e, "renewal failed; will retry"),
                        }
                    }
                }
            }
        }
        total += progressed;
        if progressed == 0 {
            break;
        }
    }
    Ok(total)
}

async fn run_chunk(
    db: &bursar_store::Db,
    settings: &Settings,
    server_now: i64,
    chunk: &[(String, bool)],
) -> Result<u32> {
    let mut tx = db.begin().await?;
    let ids: Vec<String> = chunk.iter().map(|c| c.0.clone()).collect();
    let subs = billing::subscriptions_by_ids(&mut tx, &ids, db.for_update_skip_locked()).await?;
    let customer_ids: Vec<String> = subs.iter().map(|s| s.customer_id.clone()).collect();
    let mut by_id: HashMap<String, CustomerRow> =
        customers::get_many(&mut tx, &customer_ids).await?.into_iter().map(|c| (c.id.clone(), c)).collect();
    let mut n = 0;
    let mut simple = Vec::new();
    for mut sub in subs {
        let customer = by_id.remove(&sub.customer_id).ok_or_else(Error::internal)?;
        let now = now_for(&mut tx, &customer, server_now).await?;
        if is_simple_renewal(&sub, now)? {
            simple.push((sub, customer));
        } else {
            n += advance(&mut tx, settings, &mut sub, now).await?;
        }
    }
    n += renew_batch(&mut tx, settings, simple).await?;
    tx.commit().await?;
    Ok(n)
}

/// An active subscription with exactly one plain renewal due: no trial end,
/// no scheduled cancellation or downgrade, no pause.
fn is_simple_renewal(sub: &SubscriptionRow, now: i64) -> Result<bool> {
    if sub.status != Status::Active.as_str()
        || sub.cancel_at_period_end
        || sub.pending_price_id.is_some()
        || sub.current_period_end > now
    {
        return Ok(false);
    }
    Ok(to_millis(period_of(sub, sub.current_period_end)?.end) > now)
}

/// Renews many subscriptions with a handful of multi-row statements: the
/// same invoices, numbers, ledger entries and events as one by one.
async fn renew_batch(tx: &mut Tx, settings: &Settings, items: Vec<(SubscriptionRow, CustomerRow)>) -> Result<u32> {
    if items.is_empty() {
        return Ok(0);
    }
    let mut prices: HashMap<String, (PlanRow, PriceRow)> = HashMap::new();
    for (sub, _) in &items {
        if !prices.contains_key(&sub.price_id) {
            let price = load_price(tx, sub.livemode, &sub.price_id).await?;
            let plan = load_plan(tx, sub.livemode, &sub.plan_id).await?;
            prices.insert(sub.price_id.clone(), (plan, price));
        }
    }
    let accounts: Vec<String> = items.iter().map(|(s, _)| format!("customer_credit:{}", s.customer_id)).collect();
    let mut credit: HashMap<(bool, String, String), i64> = HashMap::new();
    for b in ledger::balances_in_tx(tx, &accounts).await? {
        credit.insert((b.0, b.1, b.2), natural_balance(AccountKind::Liability, b.3));
    }
    let mut wanted: BTreeMap<(bool, String), i64> = BTreeMap::new();
    for (sub, _) in &items {
        *wanted.entry((sub.livemode, series_of(sub.current_period_end))).or_default() += 1;
    }
    let mut next: BTreeMap<(bool, String), i64> = BTreeMap::new();
    for ((live, series), count) in wanted {
        let first = billing::reserve_invoice_numbers(tx, live, &series, count).await?;
        next.insert((live, series), first);
    }
    let mut coupons: HashMap<String, billing::CouponRow> = HashMap::new();
    for (sub, _) in &items {
        if let Some(id) = &sub.coupon_id {
            if !coupons.contains_key(id) {
                if let Some(c) = billing::coupon_by_key(&mut **tx, sub.livemode, id).await? {
                    coupons.insert(id.clone(), c);
                }
            }
        }
    }
    let customer_ids: Vec<String> = items.iter().map(|(s, _)| s.customer_id.clone()).collect();
    let mut methods: HashMap<String, dunning::PaymentMethodRow> =
        dunning::default_methods(tx, &customer_ids).await?.into_iter().map(|m| (m.customer_id.clone(), m)).collect();
    let mut built = Vec::with_capacity(items.len());
    let mut subs = Vec::with_capacity(items.len());
    let mut evs = Vec::with_capacity(items.len());
    for (mut sub, customer) in items {
        let boundary = sub.current_period_end;
        let sub_period_before = (sub.current_period_start, sub.current_period_end);
        let p = period_of(&sub, boundary)?;
        sub.current_period_start = to_millis(p.start);
        sub.current_period_end = to_millis(p.end);
        sub.updated_at = boundary;
        let (plan, price) = &prices[&sub.price_id];
        let currency = Currency::from_code(&price.currency).map_err(err)?;
        let series = series_of(boundary);
        let slot = next.get_mut(&(sub.livemode, series.clone())).ok_or_else(Error::internal)?;
        let number = format!("{series}-{:06}", *slot);
        *slot += 1;
        let key = (sub.livemode, format!("customer_credit:{}", sub.customer_id), price.currency.clone());
        let available = credit.get(&key).copied().unwrap_or(0);
        let ended = (sub_period_before.0, sub_period_before.1);
        let mut lines = vec![plan_line(plan, price, sub.quantity, p)?];
        if let Some(c) = sub.coupon_id.as_ref().and_then(|id| coupons.get(id)) {
            apply_discount(c, &mut sub, &mut lines, currency, true)?;
        }
        if plan.metered != "[]" {
            lines.extend(usage_lines(tx, &sub, plan, &price.currency, ended).await?);
        }
        let inv = build_invoice(
            settings,
            InvoiceInput {
                customer: &customer,
                subscription_id: Some(sub.id.as_str()),
                reason: "subscription_cycle",
                currency,
                behavior: behavior_of(price),
                lines,
                one_off: Vec::new(),
                period: Some((sub.current_period_start, sub.current_period_end)),
                now: boundary,
                manual: None,
            },
            number,
            available,
            Collect::for_method(methods.remove(&sub.customer_id), sub.livemode),
        )?;
        credit.insert(key, available - inv.row.credit_applied);
        let event = if inv.failure.is_none() { Event::RenewalPaid } else { Event::RenewalFailed };
        sub.status = transition(&sub, event)?.as_str().into();
        let data = serde_json::json!({"id": sub.id, "status": sub.status, "plan": sub.plan_id, "price": sub.price_id,
            "quantity": sub.quantity, "current_period_end": sub.current_period_end / 1000});
        let kind = if inv.failure.is_none() { "subscription.renewed" } else { "subscription.past_due" };
        evs.push((sub.livemode, kind.to_string(), sub.id.clone(), data, boundary));
        built.push(inv);
        subs.push(sub);
    }
    write_invoices(tx, &built).await?;
    billing::save_subscriptions(tx, &subs).await?;
    events::emit_many(tx, &evs).await?;
    for b in built.iter().filter(|b| b.failure.is_some()) {
        start_dunning(tx, settings, b).await?;
    }
    Ok(subs.len() as u32)
}

/// Where refunded money goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundTo {
    /// Back through the provider that took the payment.
    PaymentMethod,
    /// To the customer's credit balance, used before their next charge.
    CreditBalance,
}

impl RefundTo {
    /// The API's `refund_to`: `payment_method` (the default) or
    /// `credit_balance`.
    pub fn parse(v: Option<&str>) -> Result<RefundTo> {
        match v.unwrap_or("payment_method") {
            "payment_method" => Ok(RefundTo::PaymentMethod),
            "credit_balance" => Ok(RefundTo::CreditBalance),
            _ => Err(Error::invalid("refund_to", "refund_to is payment_method or credit_balance")),
        }
    }
}

/// What an invoice's credit notes have credited so far: (in all, of it
/// tax). A voided credit note (a refund the provider refused) counts for
/// nothing.
pub async fn credited_so_far(tx: &mut Tx, invoice: &InvoiceRow) -> Result<(i64, i64)> {
    let notes = billing::credit_notes_of(&mut **tx, invoice.livemode, &invoice.id).await?;
    let credited = notes.iter().map(|c| c.credited()).sum();
    let tax = notes.iter().filter(|c| c.status != "void").map(|c| c.tax).sum();
    Ok((credited, tax))
}

/// The tax of the first `credited` minor units credited on an invoice:
/// `credited × tax ÷ total`, rounded half up. Refunds take tax by this,
/// cumulatively, so rounding never drifts and the last credit takes exactly
/// what is left.
pub fn tax_share(invoice: &InvoiceRow, credited: i64) -> Result<i64> {
    bursar_domain::money::round_div(
        i128::from(credited) * i128::from(invoice.tax),
        i128::from(invoice.total),
        bursar_domain::money::Rounding::HalfUp,
    )
    .map_err(err)
}

/// The smallest refund whose part net of tax is at least `net`, after
/// credit notes that credited `credited` in all, `tax_credited` of it tax;
/// at most what is left to credit.
pub fn gross_for_net(invoice: &InvoiceRow, credited: i64, tax_credited: i64, net: i64) -> Result<i64> {
    let left = invoice.total - credited;
    let net_of = |amount: i64| -> Result<i64> { Ok(amount - (tax_share(invoice, credited + amount)? - tax_credited)) };
    let untaxed = invoice.total - invoice.tax;
    let mut amount = if untaxed > 0 {
        let gross = i128::from(net) * i128::from(invoice.total) / i128::from(untaxed);
        i64::try_from(gross).map_err(|_| Error::internal())?.clamp(1, left.max(1))
    } else {
        net
    };
    // The estimate is within a unit or two; step to the smallest that covers.
    while amount < left && net_of(amount)? < net {
        amount += 1;
    }
    while amount > 1 && net_of(amount - 1)? >= net {
        amount -= 1;
    }
    Ok(amount.min(left))
}
