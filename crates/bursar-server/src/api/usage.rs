//! Metrics, usage events and entitlement checks over HTTP.

use super::{commit_json, secs};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery, Caller};
use crate::middleware::Idem;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use bursar_core::usage;
use bursar_domain::catalog::Limit;
use bursar_domain::id::{is_valid, new_id, IdKind};
use bursar_store::customers;
use bursar_store::usage::{self as store, CounterDelta, MetricRow, UsageEventRow};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(put_metric, list_metrics))
        .routes(routes!(ingest, list_usage))
        .routes(routes!(check))
        .routes(routes!(consume))
        .routes(routes!(create_grant, list_grants))
}

/// Most events in one request.
pub const MAX_BATCH: usize = 1_000;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MetricCreate {
    /// `a-z`, `0-9`, `_`; 1 to 64 characters: `tests`, `ai_queries`.
    pub code: String,
    pub name: Option<String>,
    /// `count` (default), `sum`, `max`, `unique_count`, `latest`.
    pub aggregation: Option<String>,
    /// For `unique_count`: the event property whose distinct values are counted.
    pub property: Option<String>,
    /// `billing_period` (default) or `calendar_month`.
    pub window: Option<String>,
    /// The plan limit that caps it (`tests_per_month`); none: metered, never capped.
    pub limit_key: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Metric {
    pub code: String,
    /// Always `metric`.
    pub object: &'static str,
    pub name: String,
    pub aggregation: String,
    pub property: Option<String>,
    pub window: String,
    pub limit_key: Option<String>,
}

fn render_metric(m: MetricRow) -> Metric {
    Metric {
        code: m.code,
        object: "metric",
        name: m.name,
        aggregation: m.aggregation,
        property: m.property,
        window: m.window,
        limit_key: m.limit_key,
    }
}

#[utoipa::path(post, path = "/v1/metrics", tag = "usage", request_body = MetricCreate,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = Metric, description = "Created, or updated when the code exists"),
              (status = 400, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn put_metric(
    State(state): State<AppState>,
    caller: Caller,
    Idem(idem): Idem,
    ApiJson(body): ApiJson<MetricCreate>,
) -> ApiResult<Response> {
    if !usage::valid_code(&body.code) {
        return Err(ApiError::invalid("code", "code is 1 to 64 of a-z, 0-9 and _"));
    }
    let aggregation = body.aggregation.unwrap_or_else(|| "count".into());
    if !matches!(aggregation.as_str(), "count" | "sum" | "max" | "unique_count" | "latest") {
        return Err(ApiError::invalid("aggregation", "aggregation is count, sum, max, unique_count or latest"));
    }
    if aggregation == "unique_count" && body.property.as_deref().is_none_or(str::is_empty) {
        return Err(ApiError::missing("property"));
    }
    let window = body.window.unwrap_or_else(|| "billing_period".into());
    if !matches!(window.as_str(), "billing_period" | "calendar_month") {
        return Err(ApiError::invalid("window", "window is billing_period or calendar_month"));
    }
    if let Some(k) = &body.limit_key {
        if !usage::valid_code(k) {
            return Err(ApiError::invalid("limit_key", "limit_key is 1 to 64 of a-z, 0-9 and _"));
        }
    }
    super::check_len("name", &body.name, 200)?;
    super::check_len("property", &body.property, 64)?;
    let now = state.now_ms();
    let m = MetricRow {
        id: new_id(IdKind::Metric),
        livemode: caller.livemode,
        name: body.name.unwrap_or_else(|| body.code.clone()),
        code: body.code,
        aggregation,
        property: body.property,
        window,
        limit_key: body.limit_key,
        created_at: now,
        updated_at: now,
    };
    let mut tx = state.db.begin().await?;
    store::upsert_metric(&mut tx, &m).await?;
    commit_json(tx, idem.as_ref(), StatusCode::OK, &render_metric(m)).await
}

#[utoipa::path(get, path = "/v1/metrics", tag = "usage",
    responses((status = 200, body = Vec<Metric>)), security(("api_key" = [])))]
async fn list_metrics(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<Metric>>> {
    Ok(Json(store::metrics(state.db.reader(), caller.livemode).await?.into_iter().map(render_metric).collect()))
}

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

fn parse_err(prefix: &str, e: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let path = e.path().to_string();
    let field = if path == "." {
        prefix.to_string()
    } else if prefix.is_empty() {
        path
    } else {
        format!("{prefix}.{path}")
    };
    ApiError::invalid(&field, e.into_inner().to_string())
}

#[utoipa::path(post, path = "/v1/usage", tag = "usage", request_body = UsageBatch,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = UsageReceipt), (status = 400, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn ingest(
    State(state): State<AppState>,
    caller: Caller,
    Idem(idem): Idem,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> ApiResult<Response> {
    // One event, or `{"events": [...]}`.
    let events: Vec<UsageEvent> = if body.get("events").is_some() {
        serde_path_to_error::deserialize::<_, UsageBatch>(body).map_err(|e| parse_err("", e))?.events
    } else {
        vec![serde_path_to_error::deserialize::<_, UsageEvent>(body).map_err(|e| parse_err("", e))?]
    };
    if events.is_empty() || events.len() > MAX_BATCH {
        return Err(ApiError::invalid("events", format!("a batch holds 1 to {MAX_BATCH} events")));
    }
    let now = state.now_ms();
    let metrics: HashMap<String, MetricRow> =
        store::metrics(state.db.reader(), caller.livemode).await?.into_iter().map(|m| (m.code.clone(), m)).collect();
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut customer_ids: Vec<String> = Vec::new();
    for (i, e) in events.iter().enumerate() {
        let at = |f: &str| format!("events[{i}].{f}");
        if e.id.is_empty() || e.id.len() > 255 {
            return Err(ApiError::invalid(&at("id"), "id is 1 to 255 characters"));
        }
        if let Some(j) = seen.insert(e.id.as_str(), i) {
            return Err(ApiError::invalid(&at("id"), format!("id `{}` is also events[{j}].id", e.id)));
        }
        let Some(m) = metrics.get(&e.metric) else {
            return Err(ApiError::invalid(&at("metric"), format!("no metric `{}`", e.metric)));
        };
        let q = e.quantity.unwrap_or(1);
        if !(0..=1_000_000_000_000).contains(&q) {
            return Err(ApiError::invalid(&at("quantity"), "quantity is a whole number from 0 to 10^12"));
        }
        if let Some(t) = e.timestamp {
            if t < 0 {
                return Err(ApiError::invalid(&at("timestamp"), "timestamp is Unix seconds, not in the future"));
            }
        }
        if m.aggregation == "unique_count" {
            let p = m.property.as_deref().unwrap_or_default();
            if !e.properties.get(p).is_some_and(|v| v.is_string() || v.is_number()) {
                return Err(ApiError::invalid(&at("properties"), format!("metric `{}` counts distinct `{p}`", m.code)));
            }
        }
        if !is_valid(IdKind::Customer, &e.customer) {
            return Err(ApiError::invalid(&at("customer"), format!("no customer `{}`", e.customer)));
        }
        customer_ids.push(e.customer.clone());
    }
    customer_ids.sort();
    customer_ids.dedup();
    let mut tx = state.db.begin().await?;
    let known: HashMap<String, customers::CustomerRow> = customers::get_many(&mut tx, &customer_ids)
        .await?
        .into_iter()
        .filter(|c| c.livemode == caller.livemode && c.deleted_at.is_none())
        .map(|c| (c.id.clone(), c))
        .collect();
    if let Some((i, e)) = events.iter().enumerate().find(|(_, e)| !known.contains_key(&e.customer)) {
        return Err(ApiError::invalid(&format!("events[{i}].customer"), format!("no customer `{}`", e.customer)));
    }
    drop(tx);
    // Each customer's own present: a test clock's frozen time, or now.
    let mut customer_now: HashMap<&str, i64> = HashMap::new();
    for c in known.values() {
        customer_now.insert(c.id.as_str(), billing_now(&state, c).await?);
    }
    for (i, e) in events.iter().enumerate() {
        if let Some(t) = e.timestamp {
            if t > customer_now[e.customer.as_str()] / 1000 + 300 {
                return Err(ApiError::invalid(
                    &format!("events[{i}].timestamp"),
                    "timestamp is Unix seconds, not in the future",
                ));
            }
        }
    }
    // The subscription that sets each customer's billing periods.
    let mut current = usage::current_plans(&state.db, caller.livemode, &customer_ids).await?;
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
        let (period_start, _) = usage::period_of(m, subs[&e.customer].as_ref(), occurred)?;
        let unique_value = m.property.as_deref().and_then(|p| e.properties.get(p)).map(|v| match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        });
        rows.push(UsageEventRow {
            id: new_id(IdKind::UsageEvent),
            livemode: caller.livemode,
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
    let mut tx = state.db.begin().await?;
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
            livemode: caller.livemode,
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
        if let Limit::Limited(limit) = usage::limit_for(m, plans[customer_id].as_ref()) {
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            usage::emit_thresholds(&mut tx, m, customer_id, *period_start, after - delta, *after, limit, None, now)
                .await?;
        }
    }
    let out = UsageReceipt {
        object: "usage_receipt",
        received: events.len(),
        recorded: inserted.len(),
        duplicates: events.len() - inserted.len(),
    };
    commit_json(tx, idem.as_ref(), StatusCode::OK, &out).await
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CheckParams {
    pub customer: String,
    /// A metric code (how much is left), or
    pub metric: Option<String>,
    /// a plan flag (`api_access`, `sso`, …), or
    pub feature: Option<String>,
    /// a course or bundle (is the learner enrolled?).
    pub course: Option<String>,
    /// Units the customer wants to use (default 1).
    pub quantity: Option<String>,
}

use bursar_core::entitlements::{billing_now, load_customer, metric_state, tier};
pub use bursar_core::entitlements::{Entitlement, UpgradeTier};
use bursar_core::usage::load_metric;

fn parse_quantity(q: Option<&str>) -> ApiResult<i64> {
    match q {
        None => Ok(1),
        Some(s) => s
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=1_000_000_000).contains(n))
            .ok_or_else(|| ApiError::invalid("quantity", "quantity is a whole number from 1 to 10^9")),
    }
}

#[utoipa::path(get, path = "/v1/entitlements/check", tag = "usage", params(CheckParams),
    responses((status = 200, body = Entitlement), (status = 400, body = crate::error::ErrorEnvelope),
              (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn check(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<CheckParams>,
) -> ApiResult<Json<Entitlement>> {
    let quantity = parse_quantity(q.quantity.as_deref())?;
    let customer = load_customer(&state, caller.livemode, &q.customer).await?;
    if let Some(course) = &q.course {
        if q.metric.is_some() || q.feature.is_some() {
            return Err(ApiError::invalid("course", "give one of metric, feature or course"));
        }
        let c = bursar_store::marketplace::course(state.db.reader(), caller.livemode, course)
            .await?
            .ok_or_else(|| ApiError::not_found("course", "course", course))?;
        // A bundle is held when every one of its courses is.
        let members = if c.kind == "bundle" {
            bursar_store::marketplace::bundle_items(state.db.reader(), &c.id).await?
        } else {
            vec![c.id.clone()]
        };
        let mut allowed = !members.is_empty();
        for m in &members {
            allowed &= bursar_store::marketplace::is_enrolled(state.db.reader(), &customer.id, m).await?;
        }
        return Ok(Json(Entitlement {
            object: "entitlement",
            customer: customer.id,
            metric: None,
            feature: None,
            course: Some(c.id),
            allowed,
            plan: None,
            limit: None,
            used: None,
            remaining: None,
            credits: None,
            period_start: None,
            period_end: None,
            upgrade: None,
        }));
    }
    match (&q.metric, &q.feature) {
        (Some(m), None) => {
            let metric = load_metric(&state, caller.livemode, m, "metric").await?;
            Ok(Json(metric_state(&state, caller.livemode, &customer, &metric, quantity).await?.0))
        }
        (None, Some(f)) => {
            if !usage::valid_code(f) {
                return Err(ApiError::invalid("feature", "feature is 1 to 64 of a-z, 0-9 and _"));
            }
            let current = usage::current_plan(&state.db, caller.livemode, &customer.id).await?;
            let plan = current.as_ref().map(|c| &c.1);
            let allowed = usage::has_flag(plan, f);
            let upgrade = if allowed {
                None
            } else {
                usage::upgrade_for_flag(&state.db, caller.livemode, f, plan).await?.map(|p| tier(p, None))
            };
            Ok(Json(Entitlement {
                course: None,
                object: "entitlement",
                customer: customer.id,
                metric: None,
                feature: Some(f.clone()),
                allowed,
                plan: plan.map(|p| p.code.clone()),
                limit: None,
                used: None,
                remaining: None,
                credits: None,
                period_start: None,
                period_end: None,
                upgrade,
            }))
        }
        _ => Err(ApiError::invalid("metric", "give either metric or feature")),
    }
}

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

#[utoipa::path(post, path = "/v1/entitlements/consume", tag = "usage", request_body = Consume,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = Consumed, description = "`consumed` says whether the units were taken"),
              (status = 400, body = crate::error::ErrorEnvelope), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn consume(
    State(state): State<AppState>,
    caller: Caller,
    Idem(idem): Idem,
    ApiJson(body): ApiJson<Consume>,
) -> ApiResult<Response> {
    let quantity = body.quantity.unwrap_or(1);
    if !(1..=1_000_000_000).contains(&quantity) {
        return Err(ApiError::invalid("quantity", "quantity is a whole number from 1 to 10^9"));
    }
    let customer = load_customer(&state, caller.livemode, &body.customer).await?;
    let metric = load_metric(&state, caller.livemode, &body.metric, "metric").await?;
    if !matches!(metric.aggregation.as_str(), "count" | "sum") {
        return Err(ApiError::invalid("metric", "only count and sum metrics can be consumed"));
    }
    // Read before the transaction: on PostgreSQL the read pool is the
    // write pool, and a transaction holding the counter's row lock must not
    // wait for another connection.
    let (mut ent, cap, start) = metric_state(&state, caller.livemode, &customer, &metric, quantity).await?;
    // The plan a threshold event names: the next tier with more room.
    let next_tier = match cap {
        Some(c) => {
            let plan = usage::current_plan(&state.db, caller.livemode, &customer.id).await?.map(|(_, p)| p);
            let needed = u64::try_from(c).unwrap_or(0) + 1;
            usage::upgrade_for_limit(&state.db, caller.livemode, &metric, plan.as_ref(), needed).await?.map(|p| p.code)
        }
        None => None,
    };
    let delta = if metric.aggregation == "count" { 1 } else { quantity };
    // With Redis configured the check-and-count happens there (exact across
    // nodes sharing it) and is written through to the database; without it,
    // or when Redis cannot be reached, in the database.
    let mut hot = None;
    if let Some(url) = &state.config.redis_url {
        let end = ent.period_end.map_or(start, |e| e * 1000);
        match usage::hot_consume(&state, url, &metric, &customer.id, (start, end), delta, cap).await {
            Ok(r) => hot = Some(r),
            Err(e) => tracing::warn!(error = %e, "Redis unavailable; counting in the database"),
        }
    }
    // The customer's clock, read before the transaction (see above).
    let customer_now = billing_now(&state, &customer).await?;
    let mut tx = state.db.begin().await?;
    // The database has the last word: Redis filters, the conditional update
    // decides. When they disagree (use counted while Redis was bypassed, or
    // ingested events), Redis is set again from the database afterwards.
    let mut resync = false;
    let after = match hot {
        Some(None) => None,
        Some(Some(_)) | None => {
            let r = store::consume(&mut tx, caller.livemode, &customer.id, &metric.code, start, delta, cap).await?;
            resync = hot.is_some() && r.is_none();
            r
        }
    };
    // Past the allowance, the units come from credits (top-ups), the ones
    // expiring first first; a consume is taken wholly from one or the other.
    let mut from_credits = false;
    if after.is_none() {
        let now = customer_now;
        from_credits = store::take_from_grants(
            &mut tx,
            state.db.for_update(),
            caller.livemode,
            &customer.id,
            &metric.code,
            quantity,
            now,
        )
        .await?;
        if !from_credits {
            // Not enough credits: whatever was taken from them goes back.
            drop(tx);
            tx = state.db.begin().await?;
        }
    }
    let taken = after.is_some() || from_credits;
    if let (Some(after), Some(limit)) = (after, cap) {
        usage::emit_thresholds(
            &mut tx,
            &metric,
            &customer.id,
            start,
            after - delta,
            after,
            limit,
            next_tier.as_deref(),
            state.now_ms(),
        )
        .await?;
    }
    if taken {
        let now = state.now_ms();
        let row = UsageEventRow {
            id: new_id(IdKind::UsageEvent),
            livemode: caller.livemode,
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
        let now = customer_now;
        ent.credits = Some(store::grant_balance(&mut *tx, caller.livemode, &customer.id, &metric.code, now).await?);
    }
    let used = usage::used(&mut *tx, &metric, &customer.id, start).await?;
    ent.used = Some(used);
    ent.remaining = cap.map(|c| (c - used).max(0));
    ent.allowed = cap.is_none_or(|c| used.saturating_add(quantity) <= c) || ent.credits.unwrap_or(0) >= quantity;
    if ent.allowed {
        ent.upgrade = None;
    }
    let out = Consumed { object: "consumption", consumed: taken, entitlement: ent };
    let resp = commit_json(tx, idem.as_ref(), StatusCode::OK, &out).await?;
    if resync {
        usage::hot_resync(&state, &metric, &customer.id, start).await;
    }
    Ok(resp)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantCreate {
    pub customer: String,
    /// A `sum` or `count` metric (`ai_credits`).
    pub metric: String,
    pub amount: i64,
    /// Days until the credits expire; none: they do not.
    pub expires_in_days: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreditGrant {
    pub id: String,
    /// Always `credit_grant`.
    pub object: &'static str,
    pub customer: String,
    pub metric: String,
    pub amount: i64,
    pub remaining: i64,
    pub expires_at: Option<i64>,
    /// `api` or `checkout`.
    pub source: String,
    pub source_id: Option<String>,
    pub created: i64,
}

fn render_grant(g: store::GrantRow) -> CreditGrant {
    CreditGrant {
        id: g.id,
        object: "credit_grant",
        customer: g.customer_id,
        metric: g.metric,
        amount: g.amount,
        remaining: g.remaining,
        expires_at: g.expires_at.map(secs),
        source: g.source,
        source_id: g.source_id,
        created: secs(g.created_at),
    }
}

#[utoipa::path(post, path = "/v1/credit_grants", tag = "usage", request_body = GrantCreate,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = CreditGrant), (status = 400, body = crate::error::ErrorEnvelope),
              (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn create_grant(
    State(state): State<AppState>,
    caller: Caller,
    Idem(idem): Idem,
    ApiJson(body): ApiJson<GrantCreate>,
) -> ApiResult<Response> {
    let customer = load_customer(&state, caller.livemode, &body.customer).await?;
    let metric = load_metric(&state, caller.livemode, &body.metric, "metric").await?;
    if !matches!(metric.aggregation.as_str(), "sum" | "count") {
        return Err(ApiError::invalid("metric", "credits are for sum or count metrics"));
    }
    if !(1..=1_000_000_000).contains(&body.amount) {
        return Err(ApiError::invalid("amount", "amount is 1 to 10^9"));
    }
    if body.expires_in_days.is_some_and(|d| !(1..=3650).contains(&d)) {
        return Err(ApiError::invalid("expires_in_days", "expires_in_days is 1 to 3650"));
    }
    let now = billing_now(&state, &customer).await?;
    let g = store::GrantRow {
        id: new_id(IdKind::CreditGrant),
        livemode: caller.livemode,
        customer_id: customer.id.clone(),
        metric: metric.code,
        amount: body.amount,
        remaining: body.amount,
        expires_at: body.expires_in_days.map(|d| now + d * 86_400_000),
        source: "api".into(),
        source_id: None,
        created_at: now,
    };
    let mut tx = state.db.begin().await?;
    store::insert_grant(&mut tx, &g).await?;
    bursar_store::events::emit(
        &mut tx,
        caller.livemode,
        "credits.granted",
        &g.id,
        &serde_json::json!({"id": g.id,
        "customer": g.customer_id, "metric": g.metric, "amount": g.amount, "expires_at": g.expires_at.map(secs)}),
        now,
    )
    .await?;
    commit_json(tx, idem.as_ref(), StatusCode::OK, &render_grant(g)).await
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct GrantListParams {
    pub customer: String,
    pub metric: Option<String>,
}

#[utoipa::path(get, path = "/v1/credit_grants", tag = "usage", params(GrantListParams),
    responses((status = 200, body = Vec<CreditGrant>, description = "Newest first: the credit balance history"),
              (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn list_grants(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<GrantListParams>,
) -> ApiResult<Json<Vec<CreditGrant>>> {
    let customer = load_customer(&state, caller.livemode, &q.customer).await?;
    let rows = store::grants(state.db.reader(), caller.livemode, &customer.id, q.metric.as_deref()).await?;
    Ok(Json(rows.into_iter().map(render_grant).collect()))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UsageListParams {
    pub customer: String,
    pub metric: Option<String>,
    pub limit: Option<String>,
    pub starting_after: Option<String>,
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

#[utoipa::path(get, path = "/v1/usage", tag = "usage", params(UsageListParams),
    responses((status = 200, body = super::ListResponse<UsageRecord>, description = "Newest first: usage and consumption history"),
              (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn list_usage(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<UsageListParams>,
) -> ApiResult<Json<super::ListResponse<UsageRecord>>> {
    let customer = load_customer(&state, caller.livemode, &q.customer).await?;
    let page = crate::extract::ListParams { limit: q.limit, starting_after: q.starting_after };
    let limit = page.limit()?;
    let rows = store::events_of(
        state.db.reader(),
        caller.livemode,
        &customer.id,
        q.metric.as_deref(),
        page.starting_after.as_deref(),
        limit + 1,
    )
    .await?;
    let data = rows
        .into_iter()
        .map(|e| UsageRecord {
            id: e.id,
            object: "usage_event",
            event_id: e.event_id,
            customer: e.customer_id,
            metric: e.metric,
            quantity: e.quantity,
            properties: serde_json::from_str(&e.properties).unwrap_or_default(),
            timestamp: secs(e.occurred_at),
            period_start: secs(e.period_start),
        })
        .collect();
    Ok(Json(super::ListResponse::from_rows(data, limit, "/v1/usage")))
}
