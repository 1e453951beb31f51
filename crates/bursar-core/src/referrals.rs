//! Learner referrals: what a referral gives and earns, inside the
//! transactions of the orders and refunds that cause it.

use crate::error::{Error, Result};
use bursar_domain::ledger::EntryDraft;
use bursar_domain::money::Currency;
use bursar_store::referrals as store;
use bursar_store::{customers, events, ledger, Tx};

/// Credits a customer's balance (a ledger entry on their credit account).
#[allow(clippy::too_many_arguments)]
pub async fn credit(
    tx: &mut Tx,
    livemode: bool,
    customer: &str,
    currency: &str,
    amount: i64,
    why: &str,
    source: &str,
    now: i64,
) -> Result<()> {
    let c = Currency::from_code(currency).map_err(|_| Error::internal())?;
    let e = EntryDraft::new(c, why)
        .debit("credit_grants", amount)
        .credit(format!("customer_credit:{customer}"), amount)
        .validate()
        .map_err(|_| Error::internal())?;
    ledger::post(tx, ledger::NewEntry::at(livemode, &e, now).source("referral", source)).await?;
    Ok(())
}
/// Rewards the referrer of a learner whose first order was just paid
/// (inside the paying transaction). Once per referral.
pub async fn on_first_order(tx: &mut Tx, livemode: bool, customer_id: &str, order_id: &str, now: i64) -> Result<()> {
    let Some(r) = store::reward_pending(tx, customer_id, order_id, now).await? else { return Ok(()) };
    if let (Some(cur), true) = (&r.reward_currency, r.reward_amount > 0) {
        credit(tx, livemode, &r.referrer_id, cur, r.reward_amount, "Referral reward", &r.id, now).await?;
    }
    events::emit(
        tx,
        livemode,
        "referral.rewarded",
        &r.id,
        &serde_json::json!({"id": r.id, "referrer": r.referrer_id, "referee": r.referee_id,
            "reward": r.reward_amount, "currency": r.reward_currency}),
        now,
    )
    .await?;
    Ok(())
}

/// The order that earned a referral's reward was refunded in full: the
/// reward is taken back from the referrer's credit — as much of it as
/// they have not spent yet (credit never goes below zero; what was spent
/// stays spent). `referral.reversed` says how much.
pub async fn on_order_refunded(tx: &mut Tx, livemode: bool, order_id: &str, now: i64) -> Result<()> {
    let Some((r, _)) = store::move_by_order(tx, order_id, "rewarded", "reversed").await? else { return Ok(()) };
    let mut back = 0;
    if let (Some(cur), true) = (&r.reward_currency, r.reward_amount > 0) {
        // Concurrent debits of the referrer's credit cannot overdraw it.
        customers::lock(tx, bursar_store::Db::for_update_on(tx), livemode, &r.referrer_id).await?;
        let available = crate::billing::credit_balance(tx, livemode, &r.referrer_id, cur).await?;
        back = r.reward_amount.min(available.max(0));
        if back > 0 {
            let c = Currency::from_code(cur).map_err(|_| Error::internal())?;
            let e = EntryDraft::new(c, "Referral reward taken back (order refunded)")
                .debit(format!("customer_credit:{}", r.referrer_id), back)
                .credit("credit_grants", back)
                .validate()
                .map_err(|_| Error::internal())?;
            ledger::post(tx, ledger::NewEntry::at(livemode, &e, now).source("referral", &r.id)).await?;
        }
    }
    store::set_reversed_amount(tx, &r.id, back).await?;
    events::emit(
        tx,
        livemode,
        "referral.reversed",
        &r.id,
        &serde_json::json!({"id": r.id, "referrer": r.referrer_id, "referee": r.referee_id, "order": order_id,
            "reward": r.reward_amount, "taken_back": back, "currency": r.reward_currency}),
        now,
    )
    .await?;
    Ok(())
}

/// The refund that reversed a referral's reward was refused by the
/// provider: what was taken back is credited again.
pub async fn on_order_refund_undone(tx: &mut Tx, livemode: bool, order_id: &str, now: i64) -> Result<()> {
    let Some((r, back)) = store::move_by_order(tx, order_id, "reversed", "rewarded").await? else { return Ok(()) };
    if let (Some(cur), true) = (&r.reward_currency, back > 0) {
        credit(tx, livemode, &r.referrer_id, cur, back, "Referral reward given back (refund refused)", &r.id, now)
            .await?;
    }
    store::set_reversed_amount(tx, &r.id, 0).await?;
    Ok(())
}
