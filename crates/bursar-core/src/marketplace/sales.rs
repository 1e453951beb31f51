//! A paid cart's checkout becomes an order: the split of every item,
//! enrollments, held earnings, the affiliate's commission, their ledger
//! entry and events.

use super::shared::internal;
use crate::error::{Error, Result};
use crate::settings::Settings;
use bursar_domain::id::{new_id, IdKind};
use bursar_domain::ledger::EntryDraft;
use bursar_domain::marketplace::{self as rule, SaleLine};
use bursar_domain::money::Currency;
use bursar_store::billing as billing_store;
use bursar_store::checkout::SessionRow;
use bursar_store::marketplace::{self as store, CommissionRow, EarningRow, OrderItemRow, OrderRow};
use bursar_store::{events, ledger, order_refunds, Tx};
use serde_json::json;

/// ORD-YYYY-NNNNNN: gapless per year, taken in the paying transaction.
async fn order_number(tx: &mut Tx, livemode: bool, now: i64) -> Result<String> {
    let year = jiff::Timestamp::from_millisecond(now).map_err(internal)?.to_zoned(jiff::tz::TimeZone::UTC).year();
    let series = format!("ORD-{year}");
    let n = billing_store::reserve_invoice_numbers(tx, livemode, &series, 1).await?;
    Ok(format!("{series}-{n:06}"))
}

/// The affiliate a sale is credited to: the cart's click, else the buyer's
/// latest click within the attribution window; only approved affiliates
/// earn, and never for a click stamped after the purchase.
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
        Some(id) => store::click(&mut **tx, livemode, id).await?.filter(|c| (since..=now).contains(&c.created_at)),
        None => None,
    };
    let click = match click {
        Some(c) => Some(c),
        None => store::last_click(&mut **tx, livemode, customer_id, since, now).await?,
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
