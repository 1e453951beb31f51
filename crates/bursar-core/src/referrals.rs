//! The learner referral program: "give X, get Y". A learner shares their
//! code; a new learner who signs up with it gets X as credit at once, and
//! the referrer gets Y as credit when the new learner's first order is
//! paid (inside the paying transaction; a full refund of that order takes
//! it back). Amounts are per currency; each side is credited in their own
//! billing currency (no credit when the program has no amount in it).

use crate::common::secs;
use crate::courses::live_customer;
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::{Actor, Reply};
use bursar_domain::id::{new_id, IdKind};
use bursar_domain::ledger::EntryDraft;
use bursar_domain::money::Currency;
use bursar_store::referrals::{self as store, ProgramRow, ReferralRow};
use bursar_store::{customers, events, ledger, Tx};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Program {
    /// Credit for the new learner, per currency, minor units.
    pub give: BTreeMap<String, i64>,
    /// Credit for the referrer once the new learner's first order is paid.
    pub reward: BTreeMap<String, i64>,
    pub active: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReferralInfo {
    /// Always `referral_summary`.
    pub object: &'static str,
    pub customer: String,
    /// The learner's code to share; null until created.
    pub code: Option<String>,
    pub referrals: Vec<Referral>,
    /// Credit earned by referring, per currency.
    pub rewarded: BTreeMap<String, i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Referral {
    pub id: String,
    /// Always `referral`.
    pub object: &'static str,
    pub referrer: String,
    pub referee: String,
    /// `pending` (no paid order yet), `rewarded`, or `reversed` (the
    /// order that earned the reward was refunded in full).
    pub status: String,
    pub give_currency: Option<String>,
    pub give_amount: i64,
    pub reward_currency: Option<String>,
    pub reward_amount: i64,
    pub created: i64,
    pub rewarded_at: Option<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReferralCreate {
    /// The new learner.
    pub customer: String,
    /// The code they signed up with.
    pub code: String,
}

fn check_amounts(param: &str, m: &BTreeMap<String, i64>) -> Result<BTreeMap<String, i64>> {
    let mut out = BTreeMap::new();
    for (c, a) in m {
        let cur = crate::common::new_currency(&format!("{param}.{c}"), c)?;
        if !(0..=100_000_000).contains(a) {
            return Err(Error::invalid(&format!("{param}.{c}"), "an amount is 0 to 100000000 minor units"));
        }
        out.insert(cur.code().to_string(), *a);
    }
    Ok(out)
}

fn parse(p: &ProgramRow) -> Program {
    Program {
        give: serde_json::from_str(&p.give).unwrap_or_default(),
        reward: serde_json::from_str(&p.reward).unwrap_or_default(),
        active: p.active != 0,
    }
}

fn render(r: ReferralRow) -> Referral {
    Referral {
        id: r.id,
        object: "referral",
        referrer: r.referrer_id,
        referee: r.referee_id,
        status: r.status,
        give_currency: r.give_currency,
        give_amount: r.give_amount,
        reward_currency: r.reward_currency,
        reward_amount: r.reward_amount,
        created: secs(r.created_at),
        rewarded_at: r.rewarded_at.map(secs),
    }
}

/// Sets the mode's program (replacing the one before).
pub async fn set_program(ctx: &Ctx, actor: &Actor, b: Program, reply: &Reply) -> Result<Program> {
    let give = check_amounts("give", &b.give)?;
    let reward = check_amounts("reward", &b.reward)?;
    let row = ProgramRow {
        give: serde_json::to_string(&give).map_err(|_| Error::internal())?,
        reward: serde_json::to_string(&reward).map_err(|_| Error::internal())?,
        active: i64::from(b.active),
        updated_at: ctx.now_ms(),
    };
    let mut tx = ctx.db.begin().await?;
    store::set_program(&mut tx, actor.livemode, &row).await?;
    let out = parse(&row);
    reply.commit(tx, &out).await?;
    Ok(out)
}

/// The mode's program (an inactive one without amounts when none was set).
pub async fn program(ctx: &Ctx, actor: &Actor) -> Result<Program> {
    let p = store::program(ctx.db.reader(), actor.livemode).await?;
    Ok(p.as_ref().map(parse).unwrap_or(Program { give: BTreeMap::new(), reward: BTreeMap::new(), active: false }))
}

async fn summary(conn: &mut sqlx::AnyConnection, livemode: bool, customer: &str) -> Result<ReferralInfo> {
    let code = store::code_of(&mut *conn, customer).await?;
    let rows = store::referred_by(&mut *conn, livemode, customer).await?;
    let mut rewarded = BTreeMap::new();
    for r in rows.iter().filter(|r| r.status == "rewarded") {
        if let Some(c) = &r.reward_currency {
            *rewarded.entry(c.clone()).or_default() += r.reward_amount;
        }
    }
    Ok(ReferralInfo {
        object: "referral_summary",
        customer: customer.to_string(),
        code,
        referrals: rows.into_iter().map(render).collect(),
        rewarded,
    })
}

/// Gives a learner their code (once; later calls answer with the same).
pub async fn create_code(ctx: &Ctx, actor: &Actor, customer: &str, reply: &Reply) -> Result<ReferralInfo> {
    let c = live_customer(ctx, actor.livemode, customer).await?;
    let mut tx = ctx.db.begin().await?;
    if store::code_of(&mut *tx, &c.id).await?.is_none() {
        // A readable code; drawn again on the rare collision.
        for _ in 0..5 {
            use rand::distr::{Alphanumeric, SampleString};
            let code = Alphanumeric.sample_string(&mut rand::rng(), 8).to_ascii_uppercase();
            if store::insert_code(&mut tx, actor.livemode, &c.id, &code, ctx.now_ms()).await? {
                break;
            }
        }
    }
    let out = summary(&mut tx, actor.livemode, &c.id).await?;
    reply.commit(tx, &out).await?;
    Ok(out)
}

/// A learner's code, the referrals it made and what they earned.
pub async fn summary_of(ctx: &Ctx, actor: &Actor, customer: &str) -> Result<ReferralInfo> {
    let c = live_customer(ctx, actor.livemode, customer).await?;
    let mut conn = ctx.db.reader().acquire().await?;
    summary(&mut conn, actor.livemode, &c.id).await
}

/// Records that a new learner signed up with a code, crediting them the
/// program's welcome amount in their billing currency.
pub async fn create_referral(ctx: &Ctx, actor: &Actor, b: ReferralCreate, reply: &Reply) -> Result<Referral> {
    let livemode = actor.livemode;
    let referee = live_customer(ctx, livemode, &b.customer).await.map_err(|e| e.with_param("customer"))?;
    let program = store::program(ctx.db.reader(), livemode)
        .await?
        .filter(|p| p.active != 0)
        .ok_or_else(|| Error::invalid("code", "there is no active referral program"))?;
    let code = b.code.trim().to_ascii_uppercase();
    let referrer = store::owner_of(ctx.db.reader(), livemode, &code)
        .await?
        .ok_or_else(|| Error::not_found("code", "referral code", &b.code))?;
    if referrer == referee.id {
        return Err(Error::invalid("code", "a learner cannot refer themselves"));
    }
    let referrer_row = customers::get(ctx.db.reader(), livemode, &referrer).await?.ok_or_else(Error::internal)?;
    let program = parse(&program);
    let give_cur = crate::customers::billing_currency_of(&referee).code().to_string();
    let reward_cur = crate::customers::billing_currency_of(&referrer_row).code().to_string();
    let give = program.give.get(&give_cur).copied().unwrap_or(0);
    let reward = program.reward.get(&reward_cur).copied().unwrap_or(0);
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    if bursar_store::billing::has_purchased(&mut tx, &referee.id).await? {
        return Err(Error::invalid("customer", "only a learner who has not bought anything yet can be referred"));
    }
    let row = ReferralRow {
        id: new_id(IdKind::Referral),
        referrer_id: referrer,
        referee_id: referee.id.clone(),
        code,
        status: "pending".into(),
        give_currency: (give > 0).then(|| give_cur.clone()),
        give_amount: give,
        reward_currency: (reward > 0).then(|| reward_cur.clone()),
        reward_amount: reward,
        created_at: now,
        rewarded_at: None,
    };
    if !store::insert(&mut tx, livemode, &row).await? {
        return Err(Error::conflict("already_referred", "this learner was already referred"));
    }
    if give > 0 {
        credit(&mut tx, livemode, &referee.id, &give_cur, give, "Referral welcome credit", &row.id, now).await?;
    }
    events::emit(
        &mut tx,
        livemode,
        "referral.created",
        &row.id,
        &serde_json::json!({"id": row.id, "referrer": row.referrer_id, "referee": row.referee_id, "give": give,
            "currency": row.give_currency}),
        now,
    )
    .await?;
    let out = render(row);
    reply.commit(tx, &out).await?;
    Ok(out)
}

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
