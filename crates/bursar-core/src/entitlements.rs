//! Entitlements: what a customer may use now of a metric (the plan's
//! allowance in the period, what was used, credits on top) and the lowest
//! plan that would allow more.

use crate::common::secs;
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::usage;
use bursar_domain::catalog::Limit;
use bursar_domain::id::{is_valid, IdKind};
use bursar_store::usage::{self as usage_store, MetricRow};
use bursar_store::{catalog::PlanRow, customers};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct UpgradeTier {
    pub plan: String,
    pub name: String,
    /// The limit on that plan: a number or `unlimited` (metrics only).
    #[schema(value_type = Option<Object>)]
    pub limit: Option<Limit>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Entitlement {
    /// Always `entitlement`.
    pub object: &'static str,
    pub customer: String,
    pub metric: Option<String>,
    pub feature: Option<String>,
    /// The course asked about (`allowed`: the learner holds an active enrollment).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub course: Option<String>,
    /// May the customer do it (use `quantity` more units / use the feature)?
    pub allowed: bool,
    /// The current plan's code, if any.
    pub plan: Option<String>,
    /// A number or `unlimited`.
    #[schema(value_type = Option<Object>)]
    pub limit: Option<Limit>,
    pub used: Option<i64>,
    /// Left of the plan's allowance in the period; absent when unlimited.
    pub remaining: Option<i64>,
    /// Unexpired credits on top of the allowance (top-ups, grants).
    pub credits: Option<i64>,
    pub period_start: Option<i64>,
    pub period_end: Option<i64>,
    /// The lowest plan that would allow it, when this one does not.
    pub upgrade: Option<UpgradeTier>,
}

/// A customer of this mode that is not deleted (404 on `customer`).
pub async fn load_customer(state: &Ctx, livemode: bool, id: &str) -> Result<customers::CustomerRow> {
    if !is_valid(IdKind::Customer, id) {
        return Err(Error::not_found("customer", "customer", id));
    }
    customers::get(state.db.reader(), livemode, id)
        .await?
        .filter(|c| c.deleted_at.is_none())
        .ok_or_else(|| Error::not_found("customer", "customer", id))
}

/// A plan offered as an upgrade, with its limit.
pub fn tier(p: PlanRow, limit: Option<Limit>) -> UpgradeTier {
    UpgradeTier { plan: p.code, name: p.name, limit }
}

/// Everything about one metric for one customer now.
pub async fn metric_state(
    state: &Ctx,
    livemode: bool,
    customer: &customers::CustomerRow,
    metric: &MetricRow,
    quantity: i64,
) -> Result<(Entitlement, Option<i64>, i64)> {
    let now = billing_now(state, customer).await?;
    let current = usage::current_plan(&state.db, livemode, &customer.id).await?;
    let (sub, plan) = match &current {
        Some((s, p)) => (Some(s), Some(p)),
        None => (None, None),
    };
    let (start, end) = usage::period_of(metric, sub, now)?;
    let used = usage::used(state.db.reader(), metric, &customer.id, start).await?;
    let limit = usage::limit_for(metric, plan);
    let cap = match limit {
        Limit::Unlimited => None,
        Limit::Limited(n) => Some(i64::try_from(n).unwrap_or(i64::MAX)),
    };
    let credits = usage_store::grant_balance(state.db.reader(), livemode, &customer.id, &metric.code, now).await?;
    let allowed = cap.is_none_or(|c| used.saturating_add(quantity) <= c) || credits >= quantity;
    let upgrade = if allowed {
        None
    } else {
        let needed = u64::try_from(used.saturating_add(quantity)).unwrap_or(0);
        usage::upgrade_for_limit(&state.db, livemode, metric, plan, needed).await?.map(|p| {
            let l = usage::limit_for(metric, Some(&p));
            tier(p, Some(l))
        })
    };
    Ok((
        Entitlement {
            course: None,
            object: "entitlement",
            customer: customer.id.clone(),
            metric: Some(metric.code.clone()),
            feature: None,
            allowed,
            plan: plan.map(|p| p.code.clone()),
            limit: Some(limit),
            used: Some(used),
            remaining: cap.map(|c| (c - used).max(0)),
            credits: Some(credits),
            period_start: Some(secs(start)),
            period_end: Some(secs(end)),
            upgrade,
        },
        cap,
        start,
    ))
}

/// The instant the customer lives at (their test clock's, or now).
pub async fn billing_now(state: &Ctx, customer: &customers::CustomerRow) -> Result<i64> {
    if let Some(c) = &customer.test_clock_id {
        if let Some(clock) = bursar_store::clocks::get(state.db.reader(), c).await? {
            return Ok(clock.frozen_time);
        }
    }
    Ok(state.now_ms())
}
