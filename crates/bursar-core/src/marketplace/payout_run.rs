//! The monthly payout run.

use super::shared::internal;
use crate::error::Result;
use crate::idempotency::Reply;
use crate::settings::Settings;
use bursar_domain::id::{new_id, IdKind};
use bursar_domain::ledger::EntryDraft;
use bursar_domain::money::Currency;
use bursar_store::marketplace::{self as store, PayoutRow};
use bursar_store::{events, ledger, order_refunds, Db, Tx};
use serde_json::json;

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
///
/// The answer is stored for the idempotency key (`reply`) in the run's
/// transaction: a retry replays it instead of running again.
pub async fn run_payouts(db: &Db, settings: &Settings, livemode: bool, at: i64, reply: &Reply) -> Result<PayoutRun> {
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
    reply.commit(tx, &run).await?;
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
