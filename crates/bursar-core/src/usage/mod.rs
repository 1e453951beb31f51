//! Usage metering and entitlements: what a customer's plan allows, how
//! much of it the current period used, and an atomic consume that never
//! lets concurrent requests overshoot a limit.
//!
//! A metric is data (`POST /v1/metrics`): its aggregation (`count`, `sum`,
//! `max`, `unique_count`, `latest`), its window (the customer's billing
//! period, or the calendar month), and the plan limit that caps it. A
//! period's usage of an additive metric (`count`, `sum`) is a counter row
//! per (customer, metric, period start); consuming is one conditional
//! UPDATE of that row, so on SQLite (one writer) and PostgreSQL (row lock)
//! alike exactly `limit` units are ever admitted. Events that arrive late
//! are counted in the period of their timestamp.

pub mod consume;
pub mod entitlements;
pub mod grants;
pub mod ingest;
pub mod metrics;

use crate::error::{Error, Result};
use bursar_domain::catalog::{Interval, Limit};
use bursar_domain::clock::{from_millis, to_millis};
use bursar_domain::subscription::{self as dom, Status};
use bursar_store::billing::{self as billing_store, SubscriptionRow};
use bursar_store::catalog::{self, PlanRow};
use bursar_store::usage::MetricRow;
use sqlx::{Any, Executor};
use std::collections::BTreeMap;

/// The subscription whose plan decides a customer's entitlements: the
/// newest one that grants access (trialing, active, past due).
pub async fn current_plan(
    db: &bursar_store::Db,
    livemode: bool,
    customer_id: &str,
) -> Result<Option<(SubscriptionRow, PlanRow)>> {
    let subs = billing_store::subscriptions_of(db.reader(), livemode, customer_id).await?;
    let Some(sub) = subs
        .into_iter()
        .filter(|s| Status::parse(&s.status).is_some_and(Status::grants_access))
        .max_by(|a, b| a.id.cmp(&b.id))
    else {
        return Ok(None);
    };
    let plan = catalog::plan_by_id(db.reader(), livemode, &sub.plan_id).await?.ok_or_else(Error::internal)?;
    Ok(Some((sub, plan)))
}

/// `current_plan` for many customers at once: a handful of queries
/// whatever the number of customers (usage batches).
pub async fn current_plans(
    db: &bursar_store::Db,
    livemode: bool,
    customer_ids: &[String],
) -> Result<std::collections::HashMap<String, (SubscriptionRow, PlanRow)>> {
    let subs = billing_store::subscriptions_of_many(db, livemode, customer_ids).await?;
    let mut best: std::collections::HashMap<String, SubscriptionRow> = std::collections::HashMap::new();
    for s in subs.into_iter().filter(|s| Status::parse(&s.status).is_some_and(Status::grants_access)) {
        match best.get(&s.customer_id) {
            Some(b) if b.id >= s.id => {}
            _ => {
                best.insert(s.customer_id.clone(), s);
            }
        }
    }
    let mut plans: std::collections::HashMap<String, PlanRow> = std::collections::HashMap::new();
    let mut out = std::collections::HashMap::new();
    for (c, s) in best {
        if !plans.contains_key(&s.plan_id) {
            let p = catalog::plan_by_id(db.reader(), livemode, &s.plan_id).await?.ok_or_else(Error::internal)?;
            plans.insert(s.plan_id.clone(), p);
        }
        let p = plans[&s.plan_id].clone();
        out.insert(c, (s, p));
    }
    Ok(out)
}

/// The period `at` falls in for a metric: the subscription's billing
/// period, or the calendar month (UTC) — also for customers without a
/// subscription.
pub fn period_of(metric: &MetricRow, sub: Option<&SubscriptionRow>, at: i64) -> Result<(i64, i64)> {
    if let (Some(sub), "billing_period") = (sub, metric.window.as_str()) {
        // A trial is a period of its own (from the subscription's start to
        // the anchor, where paid periods begin): its use never counts in,
        // or is charged with, the first paid period.
        if at < sub.anchor_at {
            return Ok((sub.created_at, sub.anchor_at));
        }
        let interval = Interval::parse(&sub.interval).unwrap_or(Interval::Month);
        let p = dom::period_at(from_millis(sub.anchor_at), interval, from_millis(at)).map_err(|_| Error::internal())?;
        return Ok((to_millis(p.start), to_millis(p.end)));
    }
    let z = from_millis(at).to_zoned(jiff::tz::TimeZone::UTC);
    let start = z.date().first_of_month().to_zoned(jiff::tz::TimeZone::UTC).map_err(|_| Error::internal())?;
    let end = start.checked_add(jiff::Span::new().months(1)).map_err(|_| Error::internal())?;
    Ok((start.timestamp().as_millisecond(), end.timestamp().as_millisecond()))
}

fn limits_of(plan: &PlanRow) -> BTreeMap<String, Limit> {
    serde_json::from_str(&plan.limits).unwrap_or_default()
}

fn flags_of(plan: &PlanRow) -> BTreeMap<String, bool> {
    serde_json::from_str(&plan.flags).unwrap_or_default()
}

/// The limit a plan puts on a metric: the metric's `limit_key` in the
/// plan's limits; a metric without a key is unlimited (metered only); a
/// plan without the key does not include the metric (0); no plan at all
/// includes nothing.
pub fn limit_for(metric: &MetricRow, plan: Option<&PlanRow>) -> Limit {
    match (&metric.limit_key, plan) {
        (None, _) => Limit::Unlimited,
        (Some(_), None) => Limit::Limited(0),
        (Some(k), Some(p)) => limits_of(p).get(k).copied().unwrap_or(Limit::Limited(0)),
    }
}

/// The lowest-ranked plan of the same product (any product when there is
/// no current plan) whose limit would allow `needed` units, above the
/// current one: the tier an upgrade prompt names.
pub async fn upgrade_for_limit(
    db: &bursar_store::Db,
    livemode: bool,
    metric: &MetricRow,
    current: Option<&PlanRow>,
    needed: u64,
) -> Result<Option<PlanRow>> {
    let plans = catalog::plans(db.reader(), livemode, current.map(|p| p.product_id.as_str()), false).await?;
    Ok(plans
        .into_iter()
        .filter(|p| current.is_none_or(|c| p.rank > c.rank))
        .filter(|p| match limit_for(metric, Some(p)) {
            Limit::Unlimited => true,
            Limit::Limited(n) => n >= needed,
        })
        .min_by_key(|p| p.rank))
}

/// The lowest-ranked plan above the current one with a flag set.
pub async fn upgrade_for_flag(
    db: &bursar_store::Db,
    livemode: bool,
    flag: &str,
    current: Option<&PlanRow>,
) -> Result<Option<PlanRow>> {
    let plans = catalog::plans(db.reader(), livemode, current.map(|p| p.product_id.as_str()), false).await?;
    Ok(plans
        .into_iter()
        .filter(|p| current.is_none_or(|c| p.rank > c.rank))
        .filter(|p| flags_of(p).get(flag).copied().unwrap_or(false))
        .min_by_key(|p| p.rank))
}

/// Whether a plan has a flag.
pub fn has_flag(plan: Option<&PlanRow>, flag: &str) -> bool {
    plan.is_some_and(|p| flags_of(p).get(flag).copied().unwrap_or(false))
}

/// How much of a metric a period used.
pub async fn used<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    metric: &MetricRow,
    customer_id: &str,
    period_start: i64,
) -> Result<i64> {
    Ok(match metric.aggregation.as_str() {
        "count" | "sum" => {
            bursar_store::usage::counter(ex, metric.livemode, customer_id, &metric.code, period_start).await?
        }
        other => {
            bursar_store::usage::aggregate(ex, metric.livemode, customer_id, &metric.code, period_start, other).await?
        }
    })
}

/// The usage thresholds that raise an event, in percent of the limit.
pub const THRESHOLDS: [i64; 2] = [80, 100];

/// The thresholds a counter passed going from `before` to `after` under
/// `limit`. A counter only grows and every change is atomic, so each
/// threshold is passed by exactly one change per period.
pub fn crossed(before: i64, after: i64, limit: i64) -> Vec<i64> {
    if limit <= 0 {
        return Vec::new();
    }
    THRESHOLDS
        .iter()
        .copied()
        .filter(|p| {
            let at = (limit * p + 99) / 100;
            before < at && after >= at
        })
        .collect()
}

/// Emits `usage.threshold_reached` for each threshold a change passed,
/// naming the plan that would lift the limit (inside the caller's
/// transaction).
#[allow(clippy::too_many_arguments)]
pub async fn emit_thresholds(
    tx: &mut bursar_store::Tx,
    metric: &MetricRow,
    customer_id: &str,
    period_start: i64,
    before: i64,
    after: i64,
    limit: i64,
    upgrade: Option<&str>,
    now: i64,
) -> Result<()> {
    for p in crossed(before, after, limit) {
        bursar_store::events::emit(
            tx,
            metric.livemode,
            "usage.threshold_reached",
            customer_id,
            &serde_json::json!({"customer": customer_id, "metric": metric.code, "threshold": p, "used": after,
                "limit": limit, "period_start": period_start / 1000, "upgrade_plan": upgrade}),
            now,
        )
        .await?;
    }
    Ok(())
}

/// Checks a metric code.
pub fn valid_code(code: &str) -> bool {
    (1..=64).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Sets a Redis counter to the database's value (best effort).
pub async fn hot_resync(state: &crate::ctx::Ctx, metric: &MetricRow, customer_id: &str, period_start: i64) {
    let Some(conn) = state.redis.get() else { return };
    let Ok(used) =
        bursar_store::usage::counter(state.db.reader(), metric.livemode, customer_id, &metric.code, period_start).await
    else {
        return;
    };
    let key = format!("bursar:{}:{}:{}:{}", u8::from(metric.livemode), customer_id, metric.code, period_start);
    let mut conn = conn.clone();
    let mut cmd = redis::cmd("SET");
    cmd.arg(&key).arg(used).arg("KEEPTTL");
    let set = cmd.query_async::<()>(&mut conn);
    let ok = matches!(tokio::time::timeout(std::time::Duration::from_millis(500), set).await, Ok(Ok(())));
    if !ok {
        tracing::warn!(metric = %metric.code, "could not set a Redis counter again");
    }
}

/// Counts and checks atomically in Redis: -1 when the key is not there yet
/// (to be seeded from the database), -2 when the limit (ARGV[2], -1 for
/// none) refuses, else the new count.
const HOT_CONSUME: &str = r"
local v = redis.call('GET', KEYS[1])
if not v then return -1 end
local used = tonumber(v)
local q = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
if limit >= 0 and used + q > limit then return -2 end
return redis.call('INCRBY', KEYS[1], q)
";

/// A consume against the Redis counter: `Some(new count)` when taken,
/// `None` when the limit refuses it; `Err` when Redis cannot be used (the
/// caller falls back to the database). The key is seeded from the
/// database's counter the first time, and expires a day after its period.
#[allow(clippy::too_many_arguments)]
pub async fn hot_consume(
    state: &crate::ctx::Ctx,
    url: &str,
    metric: &MetricRow,
    customer_id: &str,
    period: (i64, i64),
    delta: i64,
    cap: Option<i64>,
) -> Result<Option<i64>, String> {
    // After a failure Redis is left alone for half a minute; every call is
    // bounded, so a slow or unreachable Redis costs a request little.
    let now = state.now_ms();
    if state.redis_down_until.load(std::sync::atomic::Ordering::Relaxed) > now {
        return Err("Redis was unreachable moments ago".into());
    }
    let r = tokio::time::timeout(
        std::time::Duration::from_millis(500),
        hot_consume_inner(state, url, metric, customer_id, period, delta, cap),
    )
    .await;
    let r = r.unwrap_or_else(|_| Err("Redis did not answer in time".into()));
    if r.is_err() {
        state.redis_down_until.store(now + 30_000, std::sync::atomic::Ordering::Relaxed);
    }
    r
}

#[allow(clippy::too_many_arguments)]
async fn hot_consume_inner(
    state: &crate::ctx::Ctx,
    url: &str,
    metric: &MetricRow,
    customer_id: &str,
    period: (i64, i64),
    delta: i64,
    cap: Option<i64>,
) -> Result<Option<i64>, String> {
    let conn = state
        .redis
        .get_or_try_init(|| async {
            let client = redis::Client::open(url).map_err(|e| e.to_string())?;
            redis::aio::ConnectionManager::new(client).await.map_err(|e| e.to_string())
        })
        .await?;
    let mut conn = conn.clone();
    let key = format!("bursar:{}:{}:{}:{}", u8::from(metric.livemode), customer_id, metric.code, period.0);
    let script = redis::Script::new(HOT_CONSUME);
    for _ in 0..2 {
        let r: i64 = script
            .key(&key)
            .arg(delta)
            .arg(cap.unwrap_or(-1))
            .invoke_async(&mut conn)
            .await
            .map_err(|e| e.to_string())?;
        match r {
            -1 => {
                let used = bursar_store::usage::counter(
                    state.db.reader(),
                    metric.livemode,
                    customer_id,
                    &metric.code,
                    period.0,
                )
                .await
                .map_err(|e| e.to_string())?;
                let ttl = ((period.1 - state.now_ms()).max(0) / 1000 + 86_400).max(60);
                let _: () = redis::cmd("SET")
                    .arg(&key)
                    .arg(used)
                    .arg("NX")
                    .arg("EX")
                    .arg(ttl)
                    .query_async(&mut conn)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            -2 => return Ok(None),
            n => return Ok(Some(n)),
        }
    }
    Err("the Redis counter could not be seeded".into())
}

/// A metric by code; `param` names the field that gave it.
pub async fn load_metric(ctx: &crate::ctx::Ctx, livemode: bool, code: &str, param: &str) -> Result<MetricRow> {
    bursar_store::usage::metrics(ctx.db.reader(), livemode)
        .await?
        .into_iter()
        .find(|m| m.code == code)
        .ok_or_else(|| Error::invalid(param, format!("no metric `{code}`")))
}

#[cfg(test)]
mod tests {
    use super::crossed;

    #[test]
    fn thresholds_are_passed_once() {
        assert_eq!(crossed(0, 3, 3), vec![80, 100]);
        assert_eq!(crossed(2, 3, 3), vec![80, 100], "80 % of 3 is 2.4: passed at 3");
        assert_eq!(crossed(79, 80, 100), vec![80]);
        assert_eq!(crossed(80, 99, 100), Vec::<i64>::new());
        assert_eq!(crossed(99, 150, 100), vec![100]);
        assert_eq!(crossed(0, 10, 0), Vec::<i64>::new(), "no limit, no thresholds");
    }
}
