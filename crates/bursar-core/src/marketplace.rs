//! The marketplace's money: a paid cart becomes an order with enrollments,
//! every sale is split between instructor, affiliate and platform in the
//! ledger, refunds claw the split back, and monthly payout runs pay what
//! is due. The split rule itself is `bursar_domain::marketplace`.

use crate::error::{Error, Result};
use crate::settings::Settings;
use bursar_domain::id::{new_id, IdKind};
use bursar_domain::ledger::EntryDraft;
use bursar_domain::marketplace::{self as rule, SaleLine};
use bursar_domain::money::Currency;
use bursar_store::billing::{self as billing_store, CreditNoteRow, InvoiceRow};
use bursar_store::checkout::SessionRow;
use bursar_store::marketplace::{self as store, CommissionRow, EarningRow, OrderItemRow, OrderRow, PayoutRow};
use bursar_store::{events, ledger, order_refunds, Db, Tx};
use serde_json::json;

pub use crate::settings::MarketSettings;

fn internal<E: std::fmt::Display>(e: E) -> Error {
    tracing::error!(error = %e, "marketplace");
    Error::internal()
}

/// ORD-YYYY-NNNNNN: gapless per year, taken in the paying transaction.
async fn order_number(tx: &mut Tx, livemode: bool, now: i64) -> Result<String> {
    let year = jiff::Timestamp::from_millisecond(now).map_err(internal)?.to_zoned(jiff::tz::TimeZone::UTC).year();
    let series = format!("ORD-{year}");
    let n = billing_store::reserve_invoice_numbers(tx, livemode, &series, 1).await?;
    Ok(format!("{series}-{n:06}"))
}

/// The affiliate a sale is credited to: the cart's click, else the buyer's
/// latest click within the attribution window; only approved affiliates
/// earn.
async fn attribution(
    tx: &mut Tx,
    settings: &Settings,
    livemode: bool,
    click_id: Option<&str>,
    customer_id: &str,
    now: i64,
) -> Result<Option<(store::AffiliateRow, store::ClickRow)>> {
    let since = now - settings.market.attribution_ms;
    let click = match click_id {
        Some(id) => store::click(&mut **tx, livemode, id).await?.filter(|c| c.created_at >= since),
        None => None,
    };
    let click = match click {
        Some(c) => Some(c),
        None => store::last_click(&mut **tx, livemode, customer_id, since).await?,
    };
    let Some(click) = click else { return Ok(None) };
    let aff = store::affiliate(&mut **tx, livemode, &click.affiliate_id).await?.filter(|a| a.status == "approved");
    Ok(aff.map(|a| (a, click)))
}

/// Writes the order of a cart's checkout that was just paid (inside the
/// paying transaction): the split of every item, enrollments, held
/// earnings, the affiliate's commission, their ledger entry and events.
/// Sessions that did not come from a cart have no order (`None`).
pub async fn record_order(tx: &mut Tx, settings: &Settings, s: &SessionRow, now: i64) -> Result<Option<String>> {
    let Some(mut cart) = order_refunds::cart_of_session(&mut **tx, &s.id).await? else { return Ok(None) };
    let Some(invoice_id) = s.invoice_id.clone() else { return Ok(None) };
    if let Some(existing) = store::order_of_invoice(&mut **tx, &invoice_id).await? {
        return Ok(Some(existing.id));
    }
    let livemode = s.livemode;
    let currency = Currency::from_code(&s.currency).map_err(internal)?;
    let invoice = billing_store::invoice(&mut **tx, livemode, &invoice_id).await?.ok_or_else(Error::internal)?;
    let items = crate::basket::items_of(s);
    if items.is_empty() {
        // A cart that only started a subscription: nothing to split or
        // enroll; the subscription and its invoice are the record.
        cart.status = "ordered".into();
        cart.updated_at = now;
        store::save_cart(tx, &cart).await?;
        return Ok(None);
    }
    let ids: Vec<String> = items.iter().filter_map(|i| i.course.clone()).collect();
    if ids.len() != items.len() {
        return Err(internal("a cart session with an item that is not a course"));
    }
    let courses = store::courses_by_ids(&mut **tx, livemode, &ids).await?;
    let course_of = |id: &str| courses.iter().find(|c| c.id == id);
    let mut lines = Vec::with_capacity(items.len());
    let mut instructors = Vec::with_capacity(items.len());
    // The discount the invoice carries, over the items the coupon covers.
    let covers = match crate::basket::session_coupon(tx, s).await? {
        Some(c) => c.targets.items,
        None => vec![false; items.len()],
    };
    let items_sum: i64 = items.iter().map(|i| i.unit_amount.saturating_mul(i.quantity)).sum();
    // The order's money: the whole invoice, or its one-off part when the
    // invoice also starts a subscription.
    let part = crate::billing::OneOffPart::of(&invoice);
    let (discount, tax, total) = match part {
        Some(p) => (items_sum - p.subtotal, p.tax, p.total),
        None => {
            let d = -billing_store::lines_of(&mut **tx, &invoice_id)
                .await?
                .iter()
                .filter(|l| l.kind == "discount")
                .map(|l| l.amount)
                .sum::<i64>();
            (d, invoice.tax, invoice.total)
        }
    };
    for (item, covered) in items.iter().zip(&covers) {
        let course = course_of(item.course.as_deref().unwrap_or_default()).ok_or_else(Error::internal)?;
        let ins = store::instructor(&mut **tx, livemode, &course.instructor_id).await?.ok_or_else(Error::internal)?;
        let amount = item.unit_amount.checked_mul(item.quantity).ok_or_else(Error::internal)?;
        lines.push(SaleLine {
            amount,
            share_bps: rule::share_bps(&ins.tier, ins.share_bps),
            discounted: *covered && discount > 0,
        });
        instructors.push(ins);
    }
    let customer_id = s.customer_id.clone();
    let affiliate = attribution(tx, settings, livemode, cart.click_id.as_deref(), &customer_id, now).await?;
    let commission_bps = affiliate.as_ref().map_or(0, |(a, _)| a.commission_bps);
    let splits = rule::split_order(currency, &lines, discount.max(0), commission_bps).map_err(internal)?;
    let order = OrderRow {
        id: new_id(IdKind::Order),
        number: order_number(tx, livemode, now).await?,
        customer_id: customer_id.clone(),
        currency: s.currency.clone(),
        subtotal: lines.iter().map(|l| l.amount).sum(),
        discount: discount.max(0),
        tax,
        total,
        status: "paid".into(),
        invoice_id: invoice_id.clone(),
        checkout_session_id: Some(s.id.clone()),
        cart_id: Some(cart.id.clone()),
        coupon: s.coupon.clone(),
        affiliate_id: affiliate.as_ref().map(|(a, _)| a.id.clone()),
        billing_address: invoice.customer_snapshot.clone(),
        refunded_net: 0,
        created_at: now,
        subscription_id: s.subscription_id.clone(),
    };
    store::insert_order(tx, livemode, &order).await?;
    let mut entry = EntryDraft::new(currency, format!("Revenue split of order {}", order.number));
    let mut enrolled = Vec::new();
    let mut out_items = Vec::new();
    for ((item, split), ins) in items.iter().zip(&splits).zip(&instructors) {
        let course = course_of(item.course.as_deref().unwrap_or_default()).ok_or_else(Error::internal)?;
        let row = OrderItemRow {
            id: new_id(IdKind::OrderItem),
            order_id: order.id.clone(),
            course_id: course.id.clone(),
            instructor_id: ins.id.clone(),
            title: course.title.clone(),
            amount: split.net + split.discount,
            discount: split.discount,
            net: split.net,
            share_bps: rule::share_bps(&ins.tier, ins.share_bps),
            instructor_share: split.instructor,
            commission: split.commission,
            platform_share: split.platform,
            refunded_net: 0,
            clawed_back: 0,
            commission_cancelled: 0,
        };
        store::insert_order_item(tx, &row).await?;
        store::bump_sales(tx, &course.id).await?;
        if split.instructor > 0 {
            entry = entry
                .debit("revenue:one_off", split.instructor)
                .credit(format!("instructor_payable:{}", ins.id), split.instructor);
            store::insert_earning(
                tx,
                livemode,
                &EarningRow {
                    id: new_id(IdKind::Earning),
                    instructor_id: ins.id.clone(),
                    order_item_id: row.id.clone(),
                    currency: s.currency.clone(),
                    amount: split.instructor,
                    kind: "sale".into(),
                    available_at: now + settings.market.refund_window_ms,
                    payout_id: None,
                    created_at: now,
                },
            )
            .await?;
        }
        // A bundle enrolls its courses.
        let granted = if course.kind == "bundle" {
            store::bundle_items(&mut **tx, &course.id).await?
        } else {
            vec![course.id.clone()]
        };
        for c in granted {
            if let Some(eid) =
                store::enroll(tx, livemode, &new_id(IdKind::Enrollment), &customer_id, &c, &order.id, now).await?
            {
                enrolled.push((eid, c));
            }
        }
        out_items.push(json!({"course": course.id, "title": course.title, "instructor": ins.id,
            "amount": row.amount, "discount": row.discount, "net": row.net}));
    }
    let commission: i64 = splits.iter().map(|x| x.commission).sum();
    if let Some((aff, click)) = &affiliate {
        if commission > 0 {
            entry = entry
                .debit("affiliate_commissions", commission)
                .credit(format!("affiliate_payable:{}", aff.id), commission);
            store::insert_commission(
                tx,
                livemode,
                &CommissionRow {
                    id: new_id(IdKind::Commission),
                    affiliate_id: aff.id.clone(),
                    order_id: order.id.clone(),
                    click_id: click.id.clone(),
                    currency: s.currency.clone(),
                    amount: commission,
                    status: "pending".into(),
                    approve_at: now + settings.market.refund_window_ms,
                    payout_id: None,
                    created_at: now,
                    updated_at: now,
                },
            )
            .await?;
        }
    }
    if splits.iter().any(|x| x.instructor > 0) || commission > 0 {
        let e = entry.validate().map_err(internal)?;
        ledger::post(tx, ledger::NewEntry::at(livemode, &e, now).source("order", &order.id)).await?;
    }
    cart.status = "ordered".into();
    cart.updated_at = now;
    store::save_cart(tx, &cart).await?;
    // A referred learner's first order paid with real money (not free, not
    // wholly by credit) rewards whoever referred them.
    if invoice.amount_paid > 0 {
        crate::referrals::on_first_order(tx, livemode, &customer_id, &order.id, now).await?;
    }
    events::emit(
        tx,
        livemode,
        "order.paid",
        &order.id,
        &json!({"id": order.id, "number": order.number, "customer": customer_id, "currency": order.currency,
            "total": order.total, "tax": order.tax, "discount": order.discount, "items": out_items,
            "invoice": invoice_id, "affiliate": order.affiliate_id}),
        now,
    )
    .await?;
    for (eid, course) in enrolled {
        events::emit(
            tx,
            livemode,
            "enrollment.created",
            &eid,
            &json!({"id": eid, "customer": customer_id, "course": course, "order": order.id}),
            now,
        )
        .await?;
    }
    Ok(Some(order.id))
}

/// Undoes a refunded part of an order (inside the refund's transaction):
/// the credit note's net is spread over the items by what each has left
/// (all of it once the invoice is fully credited), instructors' shares and
/// the affiliate's unpaid commission are clawed back in proportion, and a
/// fully refunded order revokes the enrollments no other order grants.
/// What this credit note took is recorded, and its ledger entry is the
/// credit note's, so a refund the provider refuses is undone exactly
/// ([`on_refund_failed`]).
pub async fn on_refund(
    tx: &mut Tx,
    invoice: &InvoiceRow,
    cn: &CreditNoteRow,
    targets: Option<&[String]>,
    now: i64,
) -> Result<()> {
    let Some(mut order) = store::order_of_invoice(&mut **tx, &invoice.id).await? else { return Ok(()) };
    let livemode = invoice.livemode;
    let currency = Currency::from_code(&order.currency).map_err(internal)?;
    let mut items = store::order_items(&mut **tx, &order.id).await?;
    // Tax is credited step by step with its own rounding: once the invoice
    // is credited in full, everything left of the net is refunded.
    let (credited, tax_credited) = crate::billing::credited_so_far(tx, invoice).await?;
    let last = credited >= invoice.total;
    // A refund of some items takes from those alone (the platform keeps
    // any unit of rounding beyond them).
    let remaining: Vec<i64> = items
        .iter()
        .map(|i| match targets {
            Some(t) if !last && !t.contains(&i.id) => 0,
            _ => i.net - i.refunded_net,
        })
        .collect();
    let left: i64 = remaining.iter().sum();
    let refund_net = if last {
        left
    } else if targets.is_none() && order.subscription_id.is_some() {
        // A refund of an invoice that also started a subscription, not of
        // named items: the order takes its part of the credit in proportion
        // to what was left of it against what was left of the invoice
        // (net of tax), rounded down; the subscription's part is the rest.
        let invoice_left = invoice.subtotal - (credited - tax_credited) + cn.subtotal;
        if invoice_left <= 0 {
            left
        } else {
            let share = i128::from(cn.subtotal) * i128::from(left) / i128::from(invoice_left);
            i64::try_from(share).map_err(internal)?.min(left)
        }
    } else {
        cn.subtotal.min(left)
    };
    if refund_net <= 0 {
        return Ok(());
    }
    let parts = rule::allocate_refund(currency, &remaining, refund_net).map_err(internal)?;
    let mut entry = EntryDraft::new(currency, format!("Claw-back of order {} ({})", order.number, cn.number));
    let mut posted = false;
    // Commission to cancel per item, tentatively: it is cancelled only if
    // still unpaid when the conditional update runs.
    let mut cancel = Vec::with_capacity(items.len());
    for (item, part) in items.iter_mut().zip(&parts) {
        let refunded = item.refunded_net + part;
        let c = rule::clawed_back(item.commission, item.net, refunded).map_err(internal)?;
        cancel.push(c - item.commission_cancelled);
    }
    let commission_back: i64 = cancel.iter().sum();
    let commission =
        if commission_back > 0 && order_refunds::cancel_commission(tx, &order.id, commission_back, now).await? {
            store::commission_of_order(tx, &order.id).await?
        } else {
            None
        };
    for ((item, part), cancelled) in items.iter_mut().zip(parts).zip(cancel) {
        if part == 0 {
            continue;
        }
        item.refunded_net += part;
        let clawed = rule::clawed_back(item.instructor_share, item.net, item.refunded_net).map_err(internal)?;
        let delta = clawed - item.clawed_back;
        item.clawed_back = clawed;
        let cancelled = if commission.is_some() { cancelled } else { 0 };
        item.commission_cancelled += cancelled;
        if delta > 0 {
            entry = entry
                .debit(format!("instructor_payable:{}", item.instructor_id), delta)
                .credit("revenue:one_off", delta);
            posted = true;
            // Due with the sale it cancels: at once if that was paid out,
            // else when the sale would have been.
            let due = match order_refunds::sale_earning(tx, &item.id).await? {
                Some((at, None)) => at,
                _ => now,
            };
            store::insert_earning(
                tx,
                livemode,
                &EarningRow {
                    id: new_id(IdKind::Earning),
                    instructor_id: item.instructor_id.clone(),
                    order_item_id: item.id.clone(),
                    currency: order.currency.clone(),
                    amount: -delta,
                    kind: "clawback".into(),
                    available_at: due,
                    payout_id: None,
                    created_at: now,
                },
            )
            .await?;
        }
        store::save_order_item_refund(tx, item).await?;
        order_refunds::insert_part(
            tx,
            &order_refunds::RefundPart {
                credit_note_id: cn.id.clone(),
                order_item_id: item.id.clone(),
                refunded_net: part,
                clawed_back: delta,
                commission_cancelled: cancelled,
            },
        )
        .await?;
    }
    if let Some(c) = &commission {
        entry = entry
            .debit(format!("affiliate_payable:{}", c.affiliate_id), commission_back)
            .credit("affiliate_commissions", commission_back);
        posted = true;
        events::emit(
            tx,
            livemode,
            if c.status == "cancelled" { "commission.cancelled" } else { "commission.reduced" },
            &c.id,
            &json!({"id": c.id, "affiliate": c.affiliate_id, "order": order.id, "amount": c.amount}),
            now,
        )
        .await?;
    }
    if posted {
        let e = entry.validate().map_err(internal)?;
        ledger::post(tx, ledger::NewEntry::at(livemode, &e, now).source("credit_note", &cn.id)).await?;
    }
    order.refunded_net += refund_net;
    let fully = order.refunded_net >= items.iter().map(|i| i.net).sum::<i64>();
    order.status = if fully { "refunded" } else { "partially_refunded" }.into();
    store::save_order_refund(tx, &order).await?;
    if fully {
        crate::referrals::on_order_refunded(tx, livemode, &order.id, now).await?;
    }
    // Access goes with the money: a whole order refunded takes every
    // enrollment it granted, an item refunded in full the courses it sold.
    let revoke = if fully {
        None
    } else {
        let mut courses = Vec::new();
        for i in items.iter().filter(|i| i.net > 0 && i.refunded_net >= i.net) {
            courses.extend(courses_of_item(tx, &i.course_id).await?);
        }
        Some(courses)
    };
    if revoke.as_ref().is_none_or(|c| !c.is_empty()) {
        for e in store::revoke_enrollments(tx, &order.id, revoke.as_deref()).await? {
            // Still granted by another order (bought twice, or in a bundle):
            // it stays, under that order.
            if let Some(other) = order_refunds::other_grant(tx, &e.customer_id, &e.course_id, &order.id).await? {
                order_refunds::regrant(tx, &e.id, &other).await?;
                continue;
            }
            events::emit(
                tx,
                livemode,
                "enrollment.revoked",
                &e.id,
                &json!({"id": e.id, "customer": e.customer_id, "course": e.course_id, "order": order.id}),
                now,
            )
            .await?;
        }
    }
    events::emit(
        tx,
        livemode,
        "order.refunded",
        &order.id,
        &json!({"id": order.id, "number": order.number, "status": order.status, "refunded_net": order.refunded_net,
            "credit_note": cn.id}),
        now,
    )
    .await?;
    Ok(())
}

/// Undoes [`on_refund`] for a credit note whose refund the provider refused
/// (inside the transaction that records the refusal, which also reverses
/// the credit note's ledger entries, the claw-back's among them): the
/// items' refunded amounts, the claw-backs (as earnings given back), the
/// commission and the order's status return to what they were, and
/// enrollments a full refund revoked are restored.
pub async fn on_refund_failed(tx: &mut Tx, livemode: bool, credit_note_id: &str, now: i64) -> Result<()> {
    let parts = order_refunds::take_parts(tx, credit_note_id).await?;
    let Some(first) = parts.first() else { return Ok(()) };
    let order_id: String = sqlx::query_scalar("SELECT order_id FROM order_items WHERE id = $1")
        .bind(&first.order_item_id)
        .fetch_one(&mut **tx)
        .await
        .map_err(bursar_store::DbError::from)?;
    let Some(mut order) = store::order(&mut **tx, livemode, &order_id).await? else { return Ok(()) };
    let mut items = store::order_items(&mut **tx, &order.id).await?;
    let mut commission_back = 0;
    for p in &parts {
        let Some(item) = items.iter_mut().find(|i| i.id == p.order_item_id) else { continue };
        item.refunded_net -= p.refunded_net;
        item.clawed_back -= p.clawed_back;
        item.commission_cancelled -= p.commission_cancelled;
        commission_back += p.commission_cancelled;
        order.refunded_net -= p.refunded_net;
        store::save_order_item_refund(tx, item).await?;
        if p.clawed_back > 0 {
            let due = match order_refunds::sale_earning(tx, &item.id).await? {
                Some((at, None)) => at,
                _ => now,
            };
            store::insert_earning(
                tx,
                livemode,
                &EarningRow {
                    id: new_id(IdKind::Earning),
                    instructor_id: item.instructor_id.clone(),
                    order_item_id: item.id.clone(),
                    currency: order.currency.clone(),
                    amount: p.clawed_back,
                    kind: "clawback_reversal".into(),
                    available_at: due,
                    payout_id: None,
                    created_at: now,
                },
            )
            .await?;
        }
    }
    if commission_back > 0 {
        order_refunds::restore_commission(tx, &order.id, commission_back, now).await?;
    }
    order.status = if order.refunded_net <= 0 { "paid" } else { "partially_refunded" }.into();
    store::save_order_refund(tx, &order).await?;
    // Enrollments come back for every item no longer refunded in full
    // (unless the order still is, through another credit note), and a
    // referral reward the refund took back is given back.
    let fully = order.refunded_net >= items.iter().map(|i| i.net).sum::<i64>();
    if !fully {
        crate::referrals::on_order_refund_undone(tx, livemode, &order.id, now).await?;
    }
    let mut restore = Vec::new();
    for i in items.iter().filter(|i| !fully && (i.net == 0 || i.refunded_net < i.net)) {
        restore.extend(courses_of_item(tx, &i.course_id).await?);
    }
    if !restore.is_empty() {
        for (id, customer, course) in order_refunds::revoked_of(tx, &order.id).await? {
            if !restore.contains(&course) {
                continue;
            }
            order_refunds::regrant(tx, &id, &order.id).await?;
            events::emit(
                tx,
                livemode,
                "enrollment.restored",
                &id,
                &json!({"id": id, "customer": customer, "course": course, "order": order.id}),
                now,
            )
            .await?;
        }
    }
    events::emit(
        tx,
        livemode,
        "order.refund_reversed",
        &order.id,
        &json!({"id": order.id, "number": order.number, "status": order.status, "credit_note": credit_note_id}),
        now,
    )
    .await?;
    Ok(())
}

/// The courses an order item sold: the course, or a bundle's courses.
async fn courses_of_item(tx: &mut Tx, course_id: &str) -> Result<Vec<String>> {
    if course_id.starts_with("bnd_") {
        Ok(store::bundle_items(&mut **tx, course_id).await?)
    } else {
        Ok(vec![course_id.to_string()])
    }
}

/// What a payout run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct PayoutRun {
    /// `YYYY-MM` of the run.
    pub period: String,
    /// Commissions whose refund window closed, approved now.
    pub commissions_approved: u64,
    /// Payouts made. A provider payout may already be paid, still pending
    /// or failed: `GET /v1/payouts` tells.
    pub payouts: Vec<String>,
    /// Payees whose balance stayed below the minimum (or negative).
    pub below_minimum: u64,
}

/// The smallest payout in a currency's minor units.
fn minimum_minor(settings: &Settings, currency: &str) -> i64 {
    let exp = Currency::from_code(currency).map(|c| c.exponent()).unwrap_or(2);
    settings.market.payout_minimum.saturating_mul(10_i64.pow(u32::from(exp)))
}

/// The monthly payout run as of `at`: settles provider payouts earlier runs
/// left pending, approves commissions out of their refund window, then pays
/// every instructor and affiliate whose due balance in a currency reaches
/// the minimum, once per period, and finally sends the provider payouts it
/// made (after its commit: see [`crate::payouts`]). Safe to run again: a
/// payee paid in the period is not paid twice, and rows already taken by a
/// payout are never taken again (a failed payout gives its rows back).
pub async fn run_payouts(db: &Db, settings: &Settings, livemode: bool, at: i64) -> Result<PayoutRun> {
    crate::payouts::recover(db, settings, livemode, at).await?;
    let period = {
        let z = jiff::Timestamp::from_millisecond(at).map_err(internal)?.to_zoned(jiff::tz::TimeZone::UTC);
        format!("{:04}-{:02}", z.year(), z.month())
    };
    let mut run = PayoutRun { period: period.clone(), ..Default::default() };
    let mut tx = db.begin().await?;
    run.commissions_approved = store::approve_commissions(&mut tx, livemode, at).await?;
    for (instructor_id, currency, due) in store::due_earnings(&mut tx, livemode, at).await? {
        if due < minimum_minor(settings, &currency).max(1) {
            run.below_minimum += 1;
            continue;
        }
        let Some(ins) = store::instructor(&mut *tx, livemode, &instructor_id).await? else { continue };
        let method = (ins.payout_method.as_str(), ins.payout_details.as_str());
        let min = minimum_minor(settings, &currency).max(1);
        if let Some(id) = pay(&mut tx, livemode, "instructor", &ins.id, method, &currency, &period, at, min).await? {
            run.payouts.push(id);
        }
    }
    for (affiliate_id, currency, due) in store::due_commissions(&mut tx, livemode).await? {
        if due < minimum_minor(settings, &currency).max(1) {
            run.below_minimum += 1;
            continue;
        }
        let Some(aff) = store::affiliate(&mut *tx, livemode, &affiliate_id).await? else { continue };
        let method = (aff.payout_method.as_str(), aff.payout_details.as_str());
        let min = minimum_minor(settings, &currency).max(1);
        if let Some(id) = pay(&mut tx, livemode, "affiliate", &aff.id, method, &currency, &period, at, min).await? {
            run.payouts.push(id);
        }
    }
    tx.commit().await?;
    // Sent in a task of its own: should the caller give up waiting, the
    // sending still finishes (and whatever is left is due for a check).
    let (db, settings, ids) = (db.clone(), settings.clone(), run.payouts.clone());
    let sending = tokio::spawn(async move { crate::payouts::settle_all(&db, &settings, &ids, at).await });
    if let Err(e) = sending.await {
        tracing::error!(error = %e, "sending the run's payouts stopped; they will be checked again");
    }
    Ok(run)
}

/// One payout: takes the payee's due rows, posts the money leaving
/// (`cash` at once for the sandbox; `payouts_in_transit` for a bank
/// transfer, until the export is confirmed, and for a provider, until it
/// confirms), emits `payout.paid` / `payout.created`. `method` is the
/// payee's payout method and details.
#[allow(clippy::too_many_arguments)]
async fn pay(
    tx: &mut Tx,
    livemode: bool,
    kind: &str,
    payee: &str,
    (method, details): (&str, &str),
    currency: &str,
    period: &str,
    at: i64,
    minimum: i64,
) -> Result<Option<String>> {
    let instant = method == "sandbox";
    let provider = crate::payouts::provider_of(method).is_some();
    let mut p = PayoutRow {
        id: new_id(IdKind::Payout),
        payee_kind: kind.into(),
        payee_id: payee.into(),
        currency: currency.into(),
        amount: 0,
        method: method.into(),
        status: if instant {
            "paid"
        } else if provider {
            "pending"
        } else {
            "in_transit"
        }
        .into(),
        reference: None,
        period: period.into(),
        created_at: at,
        paid_at: instant.then_some(at),
    };
    p.reference = Some(format!("BURSAR-{}-{}", period.replace('-', ""), &p.id[3..15]));
    if !store::insert_payout(tx, livemode, &p).await? {
        return Ok(None);
    }
    if provider {
        // Sent after the run commits; due at once should that not happen.
        let to = crate::payouts::destination(method, details);
        store::prepare_provider_payout(tx, &p.id, to.as_deref(), 0).await?;
    }
    p.amount = if kind == "instructor" {
        store::take_earnings(tx, payee, currency, at, &p.id).await?
    } else {
        store::take_commissions(tx, payee, currency, &p.id, at).await?
    };
    // What the rows sum to now decides (they were summed unlocked, and a
    // run of another month may have taken some since): too little is
    // given back and waits.
    if p.amount < minimum {
        store::release_payout(tx, &p.id, at).await?;
        order_refunds::delete_payout(tx, &p.id).await?;
        return Ok(None);
    }
    store::set_payout_amount(tx, &p.id, p.amount).await?;
    let c = Currency::from_code(currency).map_err(internal)?;
    let account = format!("{kind}_payable:{payee}");
    let e = EntryDraft::new(c, format!("Payout {} for {period}", p.id))
        .debit(account, p.amount)
        .credit(if instant { "cash" } else { "payouts_in_transit" }, p.amount)
        .validate()
        .map_err(internal)?;
    ledger::post(tx, ledger::NewEntry::at(livemode, &e, at).source("payout", &p.id)).await?;
    events::emit(
        tx,
        livemode,
        if instant { "payout.paid" } else { "payout.created" },
        &p.id,
        &json!({"id": p.id, "payee_kind": kind, "payee": payee, "currency": currency, "amount": p.amount,
            "method": method, "period": period, "reference": p.reference}),
        at,
    )
    .await?;
    Ok(Some(p.id))
}
