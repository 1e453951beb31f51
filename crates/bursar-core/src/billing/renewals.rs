//! The billing run: due subscriptions in chunks, plain renewals in one
//! batch, everything else walked one by one.

use super::dunning::start_dunning;
use super::issuing::{
    apply_discount, behavior_of, build_invoice, load_plan, load_price, plan_line, series_of, write_invoices,
    InvoiceInput,
};
use super::lifecycle::{advance, usage_lines};
use super::rules::{err, now_for, period_of, transition};
use crate::error::{Error, Result};
use bursar_domain::clock::to_millis;
use bursar_domain::ledger::{natural_balance, AccountKind};
use bursar_domain::money::Currency;
use bursar_domain::subscription::{Event, Status};

use crate::payments::Collect;
use crate::settings::Settings;
use bursar_store::billing::{self, SubscriptionRow};
use bursar_store::catalog::{PlanRow, PriceRow};
use bursar_store::customers::CustomerRow;
use bursar_store::{customers, dunning, events, ledger, Tx};
use std::collections::{BTreeMap, HashMap};

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

pub(crate) async fn run_chunk(
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
pub(crate) fn is_simple_renewal(sub: &SubscriptionRow, now: i64) -> Result<bool> {
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
pub(crate) async fn renew_batch(
    tx: &mut Tx,
    settings: &Settings,
    items: Vec<(SubscriptionRow, CustomerRow)>,
) -> Result<u32> {
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
