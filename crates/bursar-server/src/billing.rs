//! The billing service: subscriptions through their state machine, invoices
//! with gapless numbers, and the ledger entries of every invoice and payment,
//! all inside the caller's transaction.
//!
//! Charges go through the built-in `sandbox` provider, which settles every
//! amount at once; the payments capability replaces this step with real
//! connectors and failures (and with them, dunning).

use crate::error::{ApiError, ApiResult};
use bursar_domain::catalog::Interval;
use bursar_domain::clock::{from_millis, to_millis};
use bursar_domain::id::{new_id, IdKind};
use bursar_domain::ledger::{natural_balance, AccountKind, EntryDraft};
use bursar_domain::money::Currency;
use bursar_domain::subscription::{self as dom, Event, Period, Status};
use bursar_store::billing::{self, InvoiceRow, LineRow, SubscriptionRow};
use bursar_store::catalog::{PlanRow, PriceRow};
use bursar_store::customers::CustomerRow;
use bursar_store::{catalog, clocks, customers, events, ledger, DbError, Tx};

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

fn err(e: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %e, "billing failure");
    ApiError::internal()
}

fn transition(sub: &SubscriptionRow, event: Event) -> ApiResult<Status> {
    let from = Status::parse(&sub.status).ok_or_else(ApiError::internal)?;
    dom::transition(from, event).map_err(|e| ApiError::invalid("id", e.to_string()))
}

fn interval(sub: &SubscriptionRow) -> Interval {
    Interval::parse(&sub.interval).unwrap_or(Interval::Month)
}

fn period_of(sub: &SubscriptionRow, at: i64) -> ApiResult<Period> {
    dom::period_at(from_millis(sub.anchor_at), interval(sub), from_millis(at)).map_err(err)
}

/// The customer's credit balance in a currency (what Bursar owes them).
pub async fn credit_balance(tx: &mut Tx, livemode: bool, customer_id: &str, currency: &str) -> ApiResult<i64> {
    let b = ledger::balance_in_tx(tx, livemode, &format!("customer_credit:{customer_id}"), currency).await?;
    Ok(natural_balance(AccountKind::Liability, b))
}

/// The instant a customer lives at, by id.
pub async fn now_for(tx: &mut Tx, customer: &CustomerRow, server_now: i64) -> ApiResult<i64> {
    if let Some(c) = &customer.test_clock_id {
        if let Some(clock) = clocks::get(&mut **tx, c).await? {
            return Ok(clock.frozen_time);
        }
    }
    Ok(server_now)
}

async fn post(tx: &mut Tx, livemode: bool, e: EntryDraft, source: &str, id: &str, at: i64) -> ApiResult<()> {
    let entry = e.validate().map_err(err)?;
    ledger::post(tx, ledger::NewEntry::at(livemode, &entry, at).source(source, id)).await?;
    Ok(())
}

/// Finalizes and settles an invoice: numbers it, applies the customer's
/// credit, charges the rest through the sandbox provider, and posts the
/// ledger entries. A negative total (a downgrade's net credit) goes to the
/// customer's credit balance.
#[allow(clippy::too_many_arguments)]
pub async fn invoice_and_pay(
    tx: &mut Tx,
    customer: &CustomerRow,
    subscription_id: Option<&str>,
    reason: &str,
    currency: Currency,
    lines: Vec<LineDraft>,
    period: Option<(i64, i64)>,
    now: i64,
) -> ApiResult<InvoiceRow> {
    let livemode = customer.livemode;
    let subtotal = lines.iter().try_fold(0i64, |acc, l| acc.checked_add(l.amount)).ok_or_else(ApiError::internal)?;
    let tax = 0;
    let total = subtotal + tax;
    let cur = currency.code();
    let credit = credit_balance(tx, livemode, &customer.id, cur).await?;
    let credit_applied = if total > 0 { credit.min(total) } else { 0 };
    let amount_due = total.max(0) - credit_applied;
    let id = new_id(IdKind::Invoice);
    let year = from_millis(now).to_zoned(jiff::tz::TimeZone::UTC).year();
    let series = format!("INV-{year}");
    let n = billing::next_invoice_number(tx, livemode, &series).await?;
    let number = format!("{series}-{n:06}");
    let credit_account = format!("customer_credit:{}", customer.id);
    let revenue = "revenue:subscriptions";
    if total > 0 {
        post(
            tx,
            livemode,
            EntryDraft::new(currency, format!("Invoice {number}")).debit("receivables", total).credit(revenue, total),
            "invoice",
            &id,
            now,
        )
        .await?;
    } else if total < 0 {
        post(
            tx,
            livemode,
            EntryDraft::new(currency, format!("Invoice {number}: credit to balance"))
                .debit(revenue, -total)
                .credit(&credit_account, -total),
            "invoice",
            &id,
            now,
        )
        .await?;
    }
    if credit_applied > 0 {
        post(
            tx,
            livemode,
            EntryDraft::new(currency, format!("Credit applied to {number}"))
                .debit(&credit_account, credit_applied)
                .credit("receivables", credit_applied),
            "invoice",
            &id,
            now,
        )
        .await?;
    }
    if amount_due > 0 {
        post(
            tx,
            livemode,
            EntryDraft::new(currency, format!("Payment of {number} (sandbox)"))
                .debit("provider_clearing:sandbox", amount_due)
                .credit("receivables", amount_due),
            "payment",
            &id,
            now,
        )
        .await?;
    }
    let row = InvoiceRow {
        id: id.clone(),
        livemode,
        number: Some(number),
        customer_id: customer.id.clone(),
        subscription_id: subscription_id.map(str::to_string),
        status: "paid".into(),
        billing_reason: reason.to_string(),
        currency: cur.to_string(),
        subtotal,
        tax,
        total,
        credit_applied,
        amount_due,
        amount_paid: amount_due,
        period_start: period.map(|p| p.0),
        period_end: period.map(|p| p.1),
        customer_snapshot: serde_json::json!({
            "name": customer.name, "email": customer.email, "country": customer.country,
            "address": customer.address.as_deref().and_then(|a| serde_json::from_str::<serde_json::Value>(a).ok()),
            "tax_ids": serde_json::from_str::<serde_json::Value>(&customer.tax_ids).unwrap_or_default(),
        })
        .to_string(),
        created_at: now,
        finalized_at: Some(now),
        paid_at: Some(now),
    };
    billing::insert_invoice(tx, &row).await.map_err(|e| match &e {
        DbError::Sqlx(s) if bursar_store::db::is_unique_violation(s) => {
            ApiError::conflict("invoice_exists", "this period is already invoiced")
        }
        _ => e.into(),
    })?;
    let stored: Vec<LineRow> = lines
        .into_iter()
        .enumerate()
        .map(|(i, l)| LineRow {
            id: new_id(IdKind::InvoiceLine),
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
    billing::insert_lines(tx, &stored).await?;
    let data =
        serde_json::json!({"id": id, "number": row.number, "total": total, "amount_due": amount_due, "currency": cur});
    events::emit(tx, livemode, "invoice.finalized", &id, &data, now).await?;
    events::emit(tx, livemode, "invoice.paid", &id, &data, now).await?;
    Ok(row)
}

fn plan_line(plan: &PlanRow, price: &PriceRow, quantity: i64, p: Period) -> ApiResult<LineDraft> {
    Ok(LineDraft {
        kind: "plan",
        description: format!("{} ({} × {})", plan.name, quantity, price.interval),
        quantity,
        unit_amount: price.amount,
        amount: price
            .amount
            .checked_mul(quantity)
            .ok_or_else(|| ApiError::invalid("quantity", "amount out of range"))?,
        price_id: Some(price.id.clone()),
        period_start: Some(to_millis(p.start)),
        period_end: Some(to_millis(p.end)),
    })
}

async fn load_price(tx: &mut Tx, livemode: bool, id: &str) -> ApiResult<PriceRow> {
    catalog::price_by_id(&mut **tx, livemode, id).await?.ok_or_else(ApiError::internal)
}

async fn load_plan(tx: &mut Tx, livemode: bool, id: &str) -> ApiResult<PlanRow> {
    catalog::plan_by_id(&mut **tx, livemode, id).await?.ok_or_else(ApiError::internal)
}

async fn emit_sub(tx: &mut Tx, sub: &SubscriptionRow, kind: &str, now: i64) -> ApiResult<()> {
    let data = serde_json::json!({"id": sub.id, "status": sub.status, "plan": sub.plan_id, "price": sub.price_id,
        "quantity": sub.quantity, "current_period_end": sub.current_period_end / 1000});
    events::emit(tx, sub.livemode, kind, &sub.id, &data, now).await?;
    Ok(())
}

/// Starts a subscription: a trial when the plan has one and it is wanted,
/// else the first period invoiced and paid now.
#[allow(clippy::too_many_arguments)]
pub async fn create(
    tx: &mut Tx,
    customer: &CustomerRow,
    plan: &PlanRow,
    price: &PriceRow,
    quantity: i64,
    trial: bool,
    now: i64,
) -> ApiResult<SubscriptionRow> {
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
        status: Status::Active.as_str().into(),
        anchor_at: now,
        current_period_start: now,
        current_period_end: now,
        trial_end: None,
        cancel_at_period_end: false,
        canceled_at: None,
        pending_price_id: None,
        pending_plan_id: None,
        pause_resumes_at: None,
        created_at: now,
        updated_at: now,
    };
    if trial && plan.trial_days > 0 {
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
        let line = plan_line(plan, price, quantity, p)?;
        invoice_and_pay(
            tx,
            customer,
            Some(&sub.id),
            "subscription_create",
            currency,
            vec![line],
            Some((now, sub.current_period_end)),
            now,
        )
        .await?;
    }
    emit_sub(tx, &sub, "subscription.created", now).await?;
    Ok(sub)
}

/// Moves a subscription through every boundary it has passed by `now`:
/// trial ends, scheduled cancellations, pending downgrades, renewals and
/// pause ends. Safe to rerun: each period is invoiced at most once.
pub async fn advance(tx: &mut Tx, sub: &mut SubscriptionRow, now: i64) -> ApiResult<u32> {
    let customer = customers::get(&mut **tx, sub.livemode, &sub.customer_id).await?.ok_or_else(ApiError::internal)?;
    let mut steps = 0;
    for _ in 0..1000 {
        let status = Status::parse(&sub.status).ok_or_else(ApiError::internal)?;
        if status == Status::Paused {
            match sub.pause_resumes_at {
                Some(t) if t <= now => {
                    sub.status = transition(sub, Event::Resume)?.as_str().into();
                    sub.pause_resumes_at = None;
                    sub.anchor_at = t;
                    sub.current_period_start = t;
                    renew_from(tx, &customer, sub, t, "subscription_cycle").await?;
                    emit_sub(tx, sub, "subscription.resumed", t).await?;
                    steps += 1;
                    continue;
                }
                _ => break,
            }
        }
        if status.is_terminal() || sub.current_period_end > now {
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
        let event = if status == Status::Trialing { Event::TrialConverted } else { Event::RenewalPaid };
        sub.status = transition(sub, event)?.as_str().into();
        renew_from(tx, &customer, sub, boundary, "subscription_cycle").await?;
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
    customer: &CustomerRow,
    sub: &mut SubscriptionRow,
    start: i64,
    reason: &str,
) -> ApiResult<()> {
    let p = period_of(sub, start)?;
    let plan = load_plan(tx, sub.livemode, &sub.plan_id).await?;
    let price = load_price(tx, sub.livemode, &sub.price_id).await?;
    let currency = Currency::from_code(&price.currency).map_err(err)?;
    sub.current_period_start = to_millis(p.start);
    sub.current_period_end = to_millis(p.end);
    sub.updated_at = start;
    billing::save_subscription(tx, sub).await?;
    let line = plan_line(&plan, &price, sub.quantity, p)?;
    invoice_and_pay(
        tx,
        customer,
        Some(&sub.id),
        reason,
        currency,
        vec![line],
        Some((sub.current_period_start, sub.current_period_end)),
        start,
    )
    .await?;
    Ok(())
}

/// The lines a plan or quantity change would produce now.
pub async fn change_lines(
    tx: &mut Tx,
    sub: &SubscriptionRow,
    new_plan: &PlanRow,
    new_price: &PriceRow,
    quantity: i64,
    now: i64,
) -> ApiResult<Vec<LineDraft>> {
    let old_plan = load_plan(tx, sub.livemode, &sub.plan_id).await?;
    let old_price = load_price(tx, sub.livemode, &sub.price_id).await?;
    let p = Period { start: from_millis(sub.current_period_start), end: from_millis(sub.current_period_end) };
    let old_total = old_price.amount.checked_mul(sub.quantity).ok_or_else(ApiError::internal)?;
    let new_total =
        new_price.amount.checked_mul(quantity).ok_or_else(|| ApiError::invalid("quantity", "amount out of range"))?;
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

/// Applies a change now: the proration invoice, then the new plan.
pub async fn change_now(
    tx: &mut Tx,
    sub: &mut SubscriptionRow,
    new_plan: &PlanRow,
    new_price: &PriceRow,
    quantity: i64,
    now: i64,
) -> ApiResult<Option<InvoiceRow>> {
    let customer = customers::get(&mut **tx, sub.livemode, &sub.customer_id).await?.ok_or_else(ApiError::internal)?;
    let invoice = if sub.status == Status::Trialing.as_str() {
        None
    } else {
        let lines = change_lines(tx, sub, new_plan, new_price, quantity, now).await?;
        let currency = Currency::from_code(&new_price.currency).map_err(err)?;
        Some(
            invoice_and_pay(
                tx,
                &customer,
                Some(&sub.id),
                "subscription_update",
                currency,
                lines,
                Some((now, sub.current_period_end)),
                now,
            )
            .await?,
        )
    };
    sub.plan_id = new_plan.id.clone();
    sub.price_id = new_price.id.clone();
    sub.quantity = quantity;
    sub.pending_plan_id = None;
    sub.pending_price_id = None;
    sub.updated_at = now;
    billing::save_subscription(tx, sub).await?;
    emit_sub(tx, sub, "subscription.updated", now).await?;
    Ok(invoice)
}

/// Pauses for whole months; the subscription resumes on its own then.
pub async fn pause(tx: &mut Tx, sub: &mut SubscriptionRow, months: u32, now: i64) -> ApiResult<()> {
    if !dom::PAUSE_MONTHS.contains(&months) {
        return Err(ApiError::invalid("months", "a pause lasts 1 to 3 months"));
    }
    sub.status = transition(sub, Event::Pause)?.as_str().into();
    // The unused, already paid part of the period goes back as credit, which
    // the first invoice after the pause uses.
    let price = load_price(tx, sub.livemode, &sub.price_id).await?;
    let plan = load_plan(tx, sub.livemode, &sub.plan_id).await?;
    let p = Period { start: from_millis(sub.current_period_start), end: from_millis(sub.current_period_end) };
    let paid = price.amount.checked_mul(sub.quantity).ok_or_else(ApiError::internal)?;
    let unused = dom::unused_amount(paid, p, from_millis(now)).map_err(err)?;
    if unused > 0 {
        let customer =
            customers::get(&mut **tx, sub.livemode, &sub.customer_id).await?.ok_or_else(ApiError::internal)?;
        let currency = Currency::from_code(&price.currency).map_err(err)?;
        let line = LineDraft {
            kind: "proration",
            description: format!("Unused time on {} while paused", plan.name),
            quantity: sub.quantity,
            unit_amount: price.amount,
            amount: -unused,
            price_id: Some(price.id.clone()),
            period_start: Some(now),
            period_end: Some(sub.current_period_end),
        };
        invoice_and_pay(
            tx,
            &customer,
            Some(&sub.id),
            "subscription_update",
            currency,
            vec![line],
            Some((now, sub.current_period_end)),
            now,
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
pub async fn cancel(tx: &mut Tx, sub: &mut SubscriptionRow, at_period_end: bool, now: i64) -> ApiResult<()> {
    if at_period_end {
        let status = Status::parse(&sub.status).ok_or_else(ApiError::internal)?;
        if !matches!(status, Status::Trialing | Status::Active) {
            return Err(ApiError::invalid(
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
pub async fn reactivate(tx: &mut Tx, sub: &mut SubscriptionRow, now: i64) -> ApiResult<()> {
    let customer = customers::get(&mut **tx, sub.livemode, &sub.customer_id).await?.ok_or_else(ApiError::internal)?;
    sub.status = transition(sub, Event::Reactivate)?.as_str().into();
    sub.canceled_at = None;
    sub.trial_end = None;
    sub.anchor_at = now;
    renew_from(tx, &customer, sub, now, "subscription_reactivate").await?;
    emit_sub(tx, sub, "subscription.reactivated", now).await
}

/// Runs every due subscription, each in its own transaction, `batch` at a
/// time. Returns how many boundaries were processed.
pub async fn run_due(db: &bursar_store::Db, server_now: i64, test_clock: Option<&str>, batch: i64) -> ApiResult<u32> {
    let mut total = 0;
    loop {
        let due = billing::due_subscription_ids(db.reader(), server_now, test_clock, batch).await?;
        if due.is_empty() {
            break;
        }
        let mut progressed = 0;
        for (id, livemode) in due {
            let mut tx = db.begin().await?;
            let Some(mut sub) = billing::subscription(&mut tx, livemode, &id, db.for_update()).await? else { continue };
            let customer =
                customers::get(&mut *tx, livemode, &sub.customer_id).await?.ok_or_else(ApiError::internal)?;
            let now = now_for(&mut tx, &customer, server_now).await?;
            let n = advance(&mut tx, &mut sub, now).await?;
            tx.commit().await?;
            progressed += n;
        }
        total += progressed;
        if progressed == 0 {
            break;
        }
    }
    Ok(total)
}
