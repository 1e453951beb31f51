//! Taking units of an allowance: exact under concurrency, from the plan's
//! allowance first and from credits (top-ups) past it.

use super::entitlements::{billing_now, load_customer, metric_state, Entitlement};
use crate::actor::Actor;
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::idempotency::Reply;
use bursar_domain::id::{new_id, IdKind};
use bursar_store::usage::{self as store, UsageEventRow};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Consume {
    pub customer: String,
    /// A `count` or `sum` metric.
    pub metric: String,
    /// Units to take (default 1).
    pub quantity: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Consumed {
    /// Always `consumption`.
    pub object: &'static str,
    /// Taken (`true`) or refused because the limit would be passed.
    pub consumed: bool,
    pub entitlement: Entitlement,
}

/// Takes `quantity` units for a customer, or refuses (`consumed: false`)
/// when neither the allowance nor credits hold them.
pub async fn consume(ctx: &Ctx, actor: &Actor, body: Consume, reply: &Reply) -> Result<Consumed> {
    let livemode = actor.livemode;
    let quantity = body.quantity.unwrap_or(1);
    if !(1..=1_000_000_000).contains(&quantity) {
        return Err(Error::invalid("quantity", "quantity is a whole number from 1 to 10^9"));
    }
    let customer = load_customer(ctx, livemode, &body.customer).await?;
    let metric = super::load_metric(ctx, livemode, &body.metric, "metric").await?;
    if !matches!(metric.aggregation.as_str(), "count" | "sum") {
        return Err(Error::invalid("metric", "only count and sum metrics can be consumed"));
    }
    // Read before the transaction: on PostgreSQL the read pool is the
    // write pool, and a transaction holding the counter's row lock must not
    // wait for another connection.
    let (mut ent, cap, start) = metric_state(ctx, livemode, &customer, &metric, quantity).await?;
    // The plan a threshold event names: the next tier with more room.
    let next_tier = match cap {
        Some(c) => {
            let plan = super::current_plan(&ctx.db, livemode, &customer.id).await?.map(|(_, p)| p);
            let needed = u64::try_from(c).unwrap_or(0) + 1;
            super::upgrade_for_limit(&ctx.db, livemode, &metric, plan.as_ref(), needed).await?.map(|p| p.code)
        }
        None => None,
    };
    let delta = if metric.aggregation == "count" { 1 } else { quantity };
    // With Redis configured the check-and-count happens there (exact across
    // nodes sharing it) and is written through to the database; without it,
    // or when Redis cannot be reached, in the database.
    let mut hot = None;
    if let Some(url) = &ctx.config.redis_url {
        let end = ent.period_end.map_or(start, |e| e * 1000);
        match super::hot_consume(ctx, url, &metric, &customer.id, (start, end), delta, cap).await {
            Ok(r) => hot = Some(r),
            Err(e) => tracing::warn!(error = %e, "Redis unavailable; counting in the database"),
        }
    }
    // The customer's clock, read before the transaction (see above).
    let customer_now = billing_now(ctx, &customer).await?;
    let mut tx = ctx.db.begin().await?;
    // The database has the last word: Redis filters, the conditional update
    // decides. When they disagree (use counted while Redis was bypassed, or
    // ingested events), Redis is set again from the database afterwards.
    let mut resync = false;
    let after = match hot {
        Some(None) => None,
        Some(Some(_)) | None => {
            let r = store::consume(&mut tx, livemode, &customer.id, &metric.code, start, delta, cap).await?;
            resync = hot.is_some() && r.is_none();
            r
        }
    };
    // Past the allowance, the units come from credits (top-ups), the ones
    // expiring first first; a consume is taken wholly from one or the other.
    let mut from_credits = false;
    if after.is_none() {
        from_credits = store::take_from_grants(
            &mut tx,
            ctx.db.for_update(),
            livemode,
            &customer.id,
            &metric.code,
            quantity,
            customer_now,
        )
        .await?;
        if !from_credits {
            // Not enough credits: whatever was taken from them goes back.
            drop(tx);
            tx = ctx.db.begin().await?;
        }
    }
    let taken = after.is_some() || from_credits;
    if let (Some(after), Some(limit)) = (after, cap) {
        super::emit_thresholds(
            &mut tx,
            &metric,
            &customer.id,
            start,
            after - delta,
            after,
            limit,
            next_tier.as_deref(),
            ctx.now_ms(),
        )
        .await?;
    }
    if taken {
        let now = ctx.now_ms();
        let row = UsageEventRow {
            id: new_id(IdKind::UsageEvent),
            livemode,
            event_id: new_id(IdKind::UsageEvent),
            customer_id: customer.id.clone(),
            metric: metric.code.clone(),
            quantity,
            unique_value: None,
            properties: serde_json::json!({"from": if from_credits { "credits" } else { "allowance" }}).to_string(),
            occurred_at: now,
            period_start: start,
            received_at: now,
        };
        store::insert_events(&mut tx, std::slice::from_ref(&row)).await?;
    }
    if from_credits {
        ent.credits = Some(store::grant_balance(&mut *tx, livemode, &customer.id, &metric.code, customer_now).await?);
    }
    let used = super::used(&mut *tx, &metric, &customer.id, start).await?;
    ent.used = Some(used);
    ent.remaining = cap.map(|c| (c - used).max(0));
    ent.allowed = cap.is_none_or(|c| used.saturating_add(quantity) <= c) || ent.credits.unwrap_or(0) >= quantity;
    if ent.allowed {
        ent.upgrade = None;
    }
    let out = Consumed { object: "consumption", consumed: taken, entitlement: ent };
    reply.commit(tx, &out).await?;
    if resync {
        super::hot_resync(ctx, &metric, &customer.id, start).await;
    }
    Ok(out)
}
