//! Issuing invoices: building them (taxes, credit, the payment attempt,
//! ledger entries) without writing, writing many at once, numbering, and
//! coupon discounts on their lines.

use super::dunning::start_dunning;
use super::rules::{buyer_of, credit_balance, err, interval, BuiltInvoice, LineDraft};
use crate::error::{Error, Result};
use bursar_domain::catalog::TaxBehavior;
use bursar_domain::clock::{from_millis, to_millis};
use bursar_domain::coupon;
use bursar_domain::id::{new_id, IdKind};
use bursar_domain::ledger::EntryDraft;
use bursar_domain::money::Currency;
use bursar_domain::subscription::Period;
use bursar_domain::tax::{self};

use crate::payments::{self, Collect};
use crate::settings::Settings;
use bursar_store::billing::{self, InvoiceRow, LineRow, SubscriptionRow};
use bursar_store::catalog::{PlanRow, PriceRow};
use bursar_store::customers::CustomerRow;
use bursar_store::payments::PaymentRow;
use bursar_store::{catalog, dunning, events, ledger, DbError, Tx};

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
pub(crate) fn revenue_account(reason: &str) -> &'static str {
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
        // A failed charge's `invoice.payment_failed` comes from
        // `start_dunning`, once the retry schedule is known.
        if b.failure.is_none() && b.paid {
            evs.push((r.livemode, "invoice.paid".to_string(), r.id.clone(), data, at));
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
pub(crate) async fn discount(
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

pub(crate) fn apply_discount(
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

pub(crate) fn behavior_of(price: &PriceRow) -> TaxBehavior {
    TaxBehavior::parse(&price.tax_behavior).unwrap_or_default()
}

pub(crate) fn plan_line(plan: &PlanRow, price: &PriceRow, quantity: i64, p: Period) -> Result<LineDraft> {
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

pub(crate) async fn load_price(tx: &mut Tx, livemode: bool, id: &str) -> Result<PriceRow> {
    catalog::price_by_id(&mut **tx, livemode, id).await?.ok_or_else(Error::internal)
}

pub(crate) async fn load_plan(tx: &mut Tx, livemode: bool, id: &str) -> Result<PlanRow> {
    catalog::plan_by_id(&mut **tx, livemode, id).await?.ok_or_else(Error::internal)
}
