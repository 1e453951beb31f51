//! Usage events in: a batch is checked whole, then recorded once per event
//! id, and the additive metrics' period counters move with it.

use super::entitlements::{billing_now, load_customer};
use crate::actor::Actor;
use crate::common::{secs, List, Page};
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::idempotency::Reply;
use bursar_domain::catalog::Limit;
use bursar_domain::id::{is_valid, new_id, IdKind};
use bursar_store::customers::{self, CustomerRow};
use bursar_store::usage::{self as store, CounterDelta, MetricRow, UsageEventRow};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use utoipa::ToSchema;

/// Most events in one request.
pub const MAX_BATCH: usize = 1_000;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UsageEvent {
    /// The platform's id for the event: sending it again records nothing more.
    pub id: String,
    pub customer: String,
    /// A metric code.
    pub metric: String,
    /// Non-negative integer; default 1.
    pub quantity: Option<i64>,
    /// When it happened (Unix seconds; default now). Late events count in their own period.
    pub timestamp: Option<i64>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub properties: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UsageBatch {
    /// 1 to 1,000 events; any error refuses the whole batch.
    pub events: Vec<UsageEvent>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UsageReceipt {
    /// Always `usage_receipt`.
    pub object: &'static str,
    pub received: usize,
    /// Newly recorded.
    pub recorded: usize,
    /// Seen before (by id) and skipped.
    pub duplicates: usize,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UsageRecord {
    pub id: String,
    /// Always `usage_event`.
    pub object: &'static str,
    /// The platform's id (or Bursar's, for a consume).
    pub event_id: String,
    pub customer: String,
    pub metric: String,
    pub quantity: i64,
    #[schema(value_type = Object)]
    pub properties: serde_json::Value,
    pub timestamp: i64,
    pub period_start: i64,
}

/// Checks each event on its own; the first error names its index and field.
fn check_events<'a>(events: &'a [UsageEvent], metrics: &HashMap<String, MetricRow>) -> Result<Vec<String>> {
    let mut seen: HashMap<&'a str, usize> = HashMap::new();
    let mut customer_ids: Vec<String> = Vec::new();
    for (i, e) in events.iter().enumerate() {
        let at = |f: &str| format!("events[{i}].{f}");
        if e.id.is_empty() || e.id.len() > 255 {
            return Err(Error::invalid(&at("id"), "id is 1 to 255 characters"));
        }
        if let Some(j) = seen.insert(e.id.as_str(), i) {
            return Err(Error::invalid(&at("id"), format!("id `{}` is also events[{j}].id", e.id)));
        }
        let Some(m) = metrics.get(&e.metric) else {
            return Err(Error::invalid(&at("metric"), format!("no metric `{}`", e.metric)));
        };
        let q = e.quantity.unwrap_or(1);
        if !(0..=1_000_000_000_000).contains(&q) {
            return Err(Error::invalid(&at("quantity"), "quantity is a whole number from 0 to 10^12"));
        }
        if e.timestamp.is_some_and(|t| t < 0) {
            return Err(Error::invalid(&at("timestamp"), "timestamp is Unix seconds, not in the future"));
        }
        if m.aggregation == "unique_count" {
            let p = m.property.as_deref().unwrap_or_default();
            if !e.properties.get(p).is_some_and(|v| v.is_string() || v.is_number()) {
                return Err(Error::invalid(&at("properties"), format!("metric `{}` counts distinct `{p}`", m.code)));
            }
        }
        if !is_valid(IdKind::Customer, &e.customer) {
            return Err(Error::invalid(&at("customer"), format!("no customer `{}`", e.customer)));
        }
        customer_ids.push(e.customer.clone());
    }
    customer_ids.sort();
    customer_ids.dedup();
    Ok(customer_ids)
}

/// Records a batch of usage events: all of them, or none when one is wrong.
pub async fn ingest(ctx: &Ctx, actor: &Actor, events: Vec<UsageEvent>, reply: &Reply) -> Result<UsageReceipt> {
    if events.is_empty() || events.len() > MAX_BATCH {
        return Err(Error::invalid("events", format!("a batch holds 1 to {MAX_BATCH} events")));
    }
    let livemode = actor.livemode;
    let now = ctx.now_ms();
    let metrics: HashMap<String, MetricRow> =
        store::metrics(ctx.db.reader(), livemode).await?.into_iter().map(|m| (m.code.clone(), m)).collect();
    let customer_ids = check_events(&events, &metrics)?;
    let mut tx = ctx.db.begin().await?;
    let known: HashMap<String, CustomerRow> = customers::get_many(&mut tx, &customer_ids)
        .await?
        .into_iter()
        .filter(|c| c.livemode == livemode && c.deleted_at.is_none())
        .map(|c| (c.id.clone(), c))
        .collect();
    if let Some((i, e)) = events.iter().enumerate().find(|(_, e)| !known.contains_key(&e.customer)) {
        return Err(Error::invalid(&format!("events[{i}].customer"), format!("no customer `{}`", e.customer)));
    }
    drop(tx);
    // Each customer's own present: a test clock's frozen time, or now.
    let mut customer_now: HashMap<&str, i64> = HashMap::new();
    for c in known.values() {
        customer_now.insert(c.id.as_str(), billing_now(ctx, c).await?);
    }
    for (i, e) in events.iter().enumerate() {
        if e.timestamp.is_some_and(|t| t > customer_now[e.customer.as_str()] / 1000 + 300) {
            return Err(Error::invalid(
                &format!("events[{i}].timestamp"),
                "timestamp is Unix seconds, not in the future",
            ));
        }
    }
    // The subscription that sets each customer's billing periods.
    let mut current = super::current_plans(&ctx.db, livemode, &customer_ids).await?;
    let mut subs = HashMap::new();
    let mut plans = HashMap::new();
    for c in &customer_ids {
        let cur = current.remove(c);
        subs.insert(c.clone(), cur.as_ref().map(|(s, _)| s.clone()));
        plans.insert(c.clone(), cur.map(|(_, p)| p));
    }
    let mut rows = Vec::with_capacity(events.len());
    for e in &events {
        let m = &metrics[&e.metric];
        let occurred = e.timestamp.map_or(customer_now[e.customer.as_str()], |t| t * 1000);
        let (period_start, _) = super::period_of(m, subs[&e.customer].as_ref(), occurred)?;
        let unique_value = m.property.as_deref().and_then(|p| e.properties.get(p)).map(|v| match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        });
        rows.push(UsageEventRow {
            id: new_id(IdKind::UsageEvent),
            livemode,
            event_id: e.id.clone(),
            customer_id: e.customer.clone(),
            metric: e.metric.clone(),
            quantity: e.quantity.unwrap_or(1),
            unique_value,
            properties: serde_json::Value::Object(e.properties.clone()).to_string(),
            occurred_at: occurred,
            period_start,
            received_at: now,
        });
    }
    let mut tx = ctx.db.begin().await?;
    let inserted: HashSet<String> = store::insert_events(&mut tx, &rows).await?.into_iter().collect();
    // Additive metrics keep a counter per period, added to once per new event.
    let mut deltas: BTreeMap<(String, String, i64), i64> = BTreeMap::new();
    for r in rows.iter().filter(|r| inserted.contains(&r.event_id)) {
        let d = match metrics[&r.metric].aggregation.as_str() {
            "count" => 1,
            "sum" => r.quantity,
            _ => continue,
        };
        *deltas.entry((r.customer_id.clone(), r.metric.clone(), r.period_start)).or_default() += d;
    }
    let deltas: Vec<CounterDelta> = deltas
        .into_iter()
        .map(|((customer_id, metric, period_start), delta)| CounterDelta {
            livemode,
            customer_id,
            metric,
            period_start,
            delta,
        })
        .collect();
    let totals = store::add_to_counters(&mut tx, &deltas).await?;
    let added: HashMap<(&str, &str, i64), i64> =
        deltas.iter().map(|d| ((d.customer_id.as_str(), d.metric.as_str(), d.period_start), d.delta)).collect();
    for (customer_id, code, period_start, after) in &totals {
        let (m, delta) = (&metrics[code], added[&(customer_id.as_str(), code.as_str(), *period_start)]);
        if let Limit::Limited(limit) = super::limit_for(m, plans[customer_id].as_ref()) {
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            super::emit_thresholds(&mut tx, m, customer_id, *period_start, after - delta, *after, limit, None, now)
                .await?;
        }
    }
    let out = UsageReceipt {
        object: "usage_receipt",
        received: events.len(),
        recorded: inserted.len(),
        duplicates: events.len() - inserted.len(),
    };
    reply.commit(tx, &out).await?;
    Ok(out)
}

/// A customer's usage and consumption history, newest first.
pub async fn history(
    ctx: &Ctx,
    actor: &Actor,
    customer: &str,
    metric: Option<&str>,
    page: &Page,
) -> Result<List<UsageRecord>> {
    let customer = load_customer(ctx, actor.livemode, customer).await?;
    let rows = store::events_of(
        ctx.db.reader(),
        actor.livemode,
        &customer.id,
        metric,
        page.starting_after.as_deref(),
        page.limit + 1,
    )
    .await?;
    Ok(List::from_rows(rows, page.limit).map(|e| UsageRecord {
        id: e.id,
        object: "usage_event",
        event_id: e.event_id,
        customer: e.customer_id,
        metric: e.metric,
        quantity: e.quantity,
        properties: serde_json::from_str(&e.properties).unwrap_or_default(),
        timestamp: secs(e.occurred_at),
        period_start: secs(e.period_start),
    }))
}
