//! Payouts as the platform and instructors see them: payout runs, the list
//! of payouts, the bank transfer file, and what the bank did with it.

use super::csv::{decimal, field, month_bounds};
use super::earnings::{csv_download, Download};
use super::payout_run::{run_payouts, PayoutRun};
use super::shared::instructor_of;
use crate::actor::Actor;
use crate::common::secs;
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::idempotency::Reply;
use bursar_store::marketplace::{self as store, PayoutProviderFields, ProviderPayoutRow};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayoutRunCreate {
    /// Unix seconds the run pays up to; default now. Test mode may run ahead
    /// of now (test clocks).
    pub as_of: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Payout {
    pub id: String,
    /// Always `payout`.
    pub object: &'static str,
    /// `instructor` or `affiliate`.
    pub payee_kind: String,
    pub payee: String,
    pub currency: String,
    pub amount: i64,
    /// `sandbox`, `bank_transfer`, `stripe_connect` or `paypal`.
    pub method: String,
    /// `paid`; `in_transit` (in the bank transfer export); `pending` (sent to
    /// the provider, or about to be, not confirmed yet); `failed` (the
    /// provider refused: its earnings and commissions are due again).
    pub status: String,
    /// The transfer reference.
    pub reference: Option<String>,
    /// The provider's id: Stripe transfer `tr_…`, PayPal `payout_batch_id`.
    pub provider_reference: Option<String>,
    /// Where a provider sends it: the connected account or PayPal email.
    pub destination: Option<String>,
    /// Why it failed, or the last unclear answer while pending.
    pub failure_message: Option<String>,
    /// The run's month, `YYYY-MM`.
    pub period: String,
    pub paid_at: Option<i64>,
    pub created: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PayoutSettled {
    pub id: String,
    /// Always `payout`.
    pub object: &'static str,
    /// `paid` or `failed`.
    pub status: String,
    pub amount: i64,
    pub currency: String,
    pub failure_message: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayoutFailure {
    /// Why the bank refused or returned the transfer.
    pub reason: String,
}

/// Runs the payouts as of `as_of` (default now). Live runs pay the present.
pub async fn run(ctx: &Ctx, actor: &Actor, b: PayoutRunCreate, reply: &Reply) -> Result<PayoutRun> {
    let now = ctx.now_ms();
    let at = b.as_of.map_or(now, |s| s.saturating_mul(1000));
    if !(0..=4_102_444_800_000).contains(&at) {
        return Err(Error::invalid("as_of", "as_of is Unix seconds before 2100"));
    }
    // Live runs pay the present: not ahead of now, and not a month already
    // gone (which would open a second payout "for" that month).
    if actor.livemode && !(now - 7 * 86_400_000..=now).contains(&at) {
        return Err(Error::invalid("as_of", "in live mode as_of is within the last 7 days"));
    }
    run_payouts(&ctx.db, &ctx.billing_settings(), actor.livemode, at, reply).await
}

/// Payouts of one payee or all, of one period or all. An instructor sees
/// their own only (none when asking for another payee).
pub async fn list(ctx: &Ctx, actor: &Actor, payee: Option<String>, period: Option<&str>) -> Result<Vec<Payout>> {
    let payee = match (instructor_of(actor), payee) {
        (Some(me), Some(p)) if p != me => return Ok(Vec::new()),
        (Some(me), _) => Some(me.to_string()),
        (None, p) => p,
    };
    let rows = store::payouts(ctx.db.reader(), actor.livemode, payee.as_deref(), period).await?;
    let mut extra: BTreeMap<String, PayoutProviderFields> =
        store::payout_provider_fields(ctx.db.reader(), actor.livemode, payee.as_deref(), period)
            .await?
            .into_iter()
            .map(|f| (f.id.clone(), f))
            .collect();
    Ok(rows
        .into_iter()
        .map(|p| {
            let extra = extra.remove(&p.id).unwrap_or_default();
            Payout {
                id: p.id,
                object: "payout",
                payee_kind: p.payee_kind,
                payee: p.payee_id,
                currency: p.currency,
                amount: p.amount,
                method: p.method,
                status: p.status,
                reference: p.reference,
                provider_reference: extra.provider_ref,
                destination: extra.destination,
                failure_message: extra.failure_message,
                period: p.period,
                paid_at: p.paid_at.map(secs),
                created: secs(p.created_at),
            }
        })
        .collect())
}

/// The bank transfer file (CSV) of a month's `bank_transfer` payouts.
pub async fn export(ctx: &Ctx, actor: &Actor, period: &str) -> Result<Download> {
    month_bounds(period)?;
    let r = ctx.db.reader();
    let mut out = String::from("payout,payee_kind,payee,name,iban,currency,amount,reference\n");
    for p in store::payouts(r, actor.livemode, None, Some(period)).await? {
        if p.method != "bank_transfer" || p.amount <= 0 {
            continue;
        }
        let (name, details) = if p.payee_kind == "instructor" {
            let i = store::instructor(r, actor.livemode, &p.payee_id).await?;
            i.map(|i| (i.name, i.payout_details)).unwrap_or_default()
        } else {
            let a = store::affiliate(r, actor.livemode, &p.payee_id).await?;
            a.map(|a| (a.name, a.payout_details)).unwrap_or_default()
        };
        let details: serde_json::Value = serde_json::from_str(&details).unwrap_or_default();
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{}",
            p.id,
            p.payee_kind,
            p.payee_id,
            field(details["account_name"].as_str().unwrap_or(&name)),
            details["iban"].as_str().unwrap_or_default(),
            p.currency,
            decimal(p.amount, &p.currency),
            p.reference.unwrap_or_default()
        );
    }
    Ok(csv_download(format!("payouts-{period}.csv"), out))
}

fn settled(p: ProviderPayoutRow) -> PayoutSettled {
    PayoutSettled {
        id: p.id,
        object: "payout",
        status: p.status,
        amount: p.amount,
        currency: p.currency,
        failure_message: p.failure_message,
    }
}

async fn settle(ctx: &Ctx, actor: &Actor, id: &str, failure: Option<String>, reply: &Reply) -> Result<PayoutSettled> {
    let mut tx = ctx.db.begin().await?;
    let p = crate::payouts::settle_bank_transfer_in(
        &mut tx,
        ctx.db.for_update(),
        actor.livemode,
        id,
        failure,
        ctx.now_ms(),
    )
    .await?;
    let out = settled(p);
    reply.commit(tx, &out).await?;
    Ok(out)
}

/// The bank paid an exported transfer.
pub async fn confirm(ctx: &Ctx, actor: &Actor, id: &str, reply: &Reply) -> Result<PayoutSettled> {
    settle(ctx, actor, id, None, reply).await
}

/// The bank refused or returned an exported transfer: its earnings and
/// commissions are due again.
pub async fn fail(ctx: &Ctx, actor: &Actor, id: &str, b: PayoutFailure, reply: &Reply) -> Result<PayoutSettled> {
    if b.reason.trim().is_empty() || b.reason.chars().count() > 500 {
        return Err(Error::invalid("reason", "reason is 1 to 500 characters"));
    }
    settle(ctx, actor, id, Some(b.reason), reply).await
}
