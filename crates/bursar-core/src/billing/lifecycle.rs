//! Subscriptions through their state machine: creation, the walk through
//! passed boundaries, renewals with metered usage, plan changes with
//! proration, pauses, cancellation and reactivation.

use super::issuing::{
    behavior_of, build_invoice, discount, invoice_and_pay, issue, load_plan, load_price, plan_line, redeem,
    InvoiceInput,
};
use super::rules::{credit_balance, emit_sub, err, period_of, transition, LineDraft};
use crate::error::{Error, Result};
use bursar_domain::catalog::Interval;
use bursar_domain::clock::{from_millis, to_millis};
use bursar_domain::coupon;
use bursar_domain::id::{new_id, IdKind};
use bursar_domain::money::Currency;
use bursar_domain::subscription::{self as dom, Event, Period, Status};

use crate::payments::Collect;
use crate::settings::Settings;
use bursar_store::billing::{self, InvoiceRow, SubscriptionRow};
use bursar_store::catalog::{PlanRow, PriceRow};
use bursar_store::customers::CustomerRow;
use bursar_store::{customers, Tx};

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
pub(crate) async fn create_inner(
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
pub(crate) async fn renew_from(
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
pub(crate) async fn usage_lines(
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
