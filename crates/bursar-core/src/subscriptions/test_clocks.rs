//! Test clocks: test-mode customers attached to one live at its frozen time,
//! so a test can move them through months in seconds.

use crate::actor::Actor;
use crate::common::{check_len, secs};
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::idempotency::Reply;
use bursar_domain::clock::validate_advance;
use bursar_domain::id::{is_valid, new_id, IdKind};
use bursar_store::clocks::{self, TestClockRow};
use bursar_store::events;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Latest instant a clock may be set to: 9999-12-31.
const MAX_TIME_SECS: i64 = 253_402_214_400;

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestClockCreate {
    /// Unix seconds the clock starts at.
    pub frozen_time: i64,
    pub name: Option<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestClockAdvance {
    /// Unix seconds to move to; must be later than the current frozen time.
    pub frozen_time: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TestClock {
    pub id: String,
    /// Always `test_helpers.test_clock`.
    pub object: &'static str,
    pub livemode: bool,
    pub name: Option<String>,
    pub frozen_time: i64,
    /// `ready`.
    pub status: &'static str,
    pub created: i64,
}

fn render(r: TestClockRow) -> TestClock {
    TestClock {
        id: r.id,
        object: "test_helpers.test_clock",
        livemode: false,
        name: r.name,
        frozen_time: secs(r.frozen_time),
        status: "ready",
        created: secs(r.created_at),
    }
}

fn test_mode_only(actor: &Actor) -> Result<()> {
    if actor.livemode {
        return Err(Error::forbidden(
            "livemode_not_allowed",
            "test clocks exist in test mode only; use a bsk_test_ key",
        ));
    }
    Ok(())
}

fn check_time(t: i64) -> Result<i64> {
    if !(0..=MAX_TIME_SECS).contains(&t) {
        return Err(Error::invalid("frozen_time", "frozen_time must be Unix seconds between 1970 and 9999"));
    }
    Ok(t * 1000)
}

async fn load(ctx: &Ctx, id: &str) -> Result<TestClockRow> {
    if !is_valid(IdKind::TestClock, id) {
        return Err(Error::not_found("id", "test clock", id));
    }
    clocks::get(ctx.db.reader(), id)
        .await?
        .filter(|c| c.deleted_at.is_none())
        .ok_or_else(|| Error::not_found("id", "test clock", id))
}

/// Creates a test clock (test mode only).
pub async fn create(ctx: &Ctx, actor: &Actor, input: TestClockCreate, reply: &Reply) -> Result<TestClock> {
    test_mode_only(actor)?;
    let frozen = check_time(input.frozen_time)?;
    check_len("name", &input.name, 200)?;
    let row = TestClockRow {
        id: new_id(IdKind::TestClock),
        name: input.name,
        frozen_time: frozen,
        created_at: ctx.now_ms(),
        deleted_at: None,
    };
    let mut tx = ctx.db.begin().await?;
    clocks::insert(&mut tx, &row).await?;
    let out = render(row);
    reply.commit(tx, &out).await?;
    Ok(out)
}

/// One test clock.
pub async fn get(ctx: &Ctx, actor: &Actor, id: &str) -> Result<TestClock> {
    test_mode_only(actor)?;
    Ok(render(load(ctx, id).await?))
}

/// Moves a test clock forward, then runs everything that fell due on it
/// (renewals, trial ends, cancellations, resumptions) before answering.
pub async fn advance(ctx: &Ctx, actor: &Actor, id: &str, input: TestClockAdvance, reply: &Reply) -> Result<TestClock> {
    test_mode_only(actor)?;
    let target = check_time(input.frozen_time)?;
    load(ctx, id).await?;
    let mut tx = ctx.db.begin().await?;
    let mut row = clocks::get(&mut *tx, id).await?.ok_or_else(|| Error::not_found("id", "test clock", id))?;
    validate_advance(bursar_domain::clock::from_millis(row.frozen_time), bursar_domain::clock::from_millis(target))
        .map_err(|e| Error::invalid("frozen_time", e.to_string()))?;
    clocks::set_time(&mut tx, id, target).await?;
    row.frozen_time = target;
    let out = render(row);
    events::emit(
        &mut tx,
        false,
        "test_helpers.test_clock.advanced",
        id,
        &serde_json::to_value(&out).unwrap_or_default(),
        ctx.now_ms(),
    )
    .await?;
    // The answer is stored for the key with the move itself.
    reply.commit(tx, &out).await?;
    // Everything that fell due on this clock happens before the answer. If
    // that fails, the move stands and so does its stored answer: a retry with
    // the key replays it (running the advance again would be refused, the
    // clock being there already), and what is still due runs with the next
    // billing run (every minute, or `POST /v1/billing/run`).
    crate::billing_run::run_due(&ctx.db, &ctx.billing_settings(), ctx.now_ms(), Some(id), 500).await?;
    Ok(out)
}

/// Deletes a test clock.
pub async fn delete(ctx: &Ctx, actor: &Actor, id: &str) -> Result<TestClock> {
    test_mode_only(actor)?;
    let row = load(ctx, id).await?;
    let mut tx = ctx.db.begin().await?;
    clocks::delete(&mut tx, id, ctx.now_ms()).await?;
    tx.commit().await?;
    Ok(render(row))
}
