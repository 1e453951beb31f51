//! Entitlements: what a customer may use now of a metric (the plan's
//! allowance in the period, what was used, credits on top) and the lowest
//! plan that would allow more.

use crate::actor::Actor;
use crate::common::secs;
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::usage;
use bursar_domain::catalog::Limit;
use bursar_domain::id::{is_valid, IdKind};
use bursar_store::usage::{self as usage_store, MetricRow};
use bursar_store::{catalog::PlanRow, customers, marketplace};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct UpgradeTier {
    pub plan: String,
    pub name: String,
    /// The limit on that plan: a number or `unlimited` (metrics only).
    #[schema(schema_with = limit_schema)]
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
    #[schema(schema_with = limit_schema)]
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

/// How a limit looks in JSON: a whole number, the string `unlimited`, or
/// null when there is none.
fn limit_schema() -> utoipa::openapi::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, SchemaType, Type};
    OneOfBuilder::new()
        .item(ObjectBuilder::new().schema_type(SchemaType::Type(Type::Integer)).minimum(Some(0)))
        .item(ObjectBuilder::new().schema_type(SchemaType::Type(Type::String)).enum_values(Some(["unlimited"])))
        .item(ObjectBuilder::new().schema_type(SchemaType::Type(Type::Null)))
        .description(Some("A whole number, `unlimited`, or null"))
        .build()
        .into()
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
    crate::time::instant_of(state.db.reader(), customer, state.now_ms()).await
}

/// What an entitlement check asks about: exactly one of a metric (how much
/// is left), a plan flag, or a course or bundle (is the learner enrolled?).
#[derive(Debug, Default)]
pub struct Question {
    pub customer: String,
    pub metric: Option<String>,
    pub feature: Option<String>,
    pub course: Option<String>,
    /// Units the customer wants to use, as text (default 1).
    pub quantity: Option<String>,
}

fn parse_quantity(q: Option<&str>) -> Result<i64> {
    match q {
        None => Ok(1),
        Some(s) => s
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=1_000_000_000).contains(n))
            .ok_or_else(|| Error::invalid("quantity", "quantity is a whole number from 1 to 10^9")),
    }
}

fn answer(customer: String) -> Entitlement {
    Entitlement {
        object: "entitlement",
        customer,
        metric: None,
        feature: None,
        course: None,
        allowed: false,
        plan: None,
        limit: None,
        used: None,
        remaining: None,
        credits: None,
        period_start: None,
        period_end: None,
        upgrade: None,
    }
}

/// Whether a customer may use a metric, a feature or a course now, and why.
pub async fn check(ctx: &Ctx, actor: &Actor, q: Question) -> Result<Entitlement> {
    let livemode = actor.livemode;
    let quantity = parse_quantity(q.quantity.as_deref())?;
    let customer = load_customer(ctx, livemode, &q.customer).await?;
    if let Some(course) = &q.course {
        if q.metric.is_some() || q.feature.is_some() {
            return Err(Error::invalid("course", "give one of metric, feature or course"));
        }
        let c = marketplace::course(ctx.db.reader(), livemode, course)
            .await?
            .ok_or_else(|| Error::not_found("course", "course", course))?;
        // A bundle is held when every one of its courses is.
        let members = if c.kind == "bundle" {
            marketplace::bundle_items(ctx.db.reader(), &c.id).await?
        } else {
            vec![c.id.clone()]
        };
        let mut allowed = !members.is_empty();
        for m in &members {
            allowed &= marketplace::is_enrolled(ctx.db.reader(), &customer.id, m).await?;
        }
        return Ok(Entitlement { course: Some(c.id), allowed, ..answer(customer.id) });
    }
    match (&q.metric, &q.feature) {
        (Some(m), None) => {
            let metric = usage::load_metric(ctx, livemode, m, "metric").await?;
            Ok(metric_state(ctx, livemode, &customer, &metric, quantity).await?.0)
        }
        (None, Some(f)) => {
            if !usage::valid_code(f) {
                return Err(Error::invalid("feature", "feature is 1 to 64 of a-z, 0-9 and _"));
            }
            let current = usage::current_plan(&ctx.db, livemode, &customer.id).await?;
            let plan = current.as_ref().map(|c| &c.1);
            let allowed = usage::has_flag(plan, f);
            let upgrade = if allowed {
                None
            } else {
                usage::upgrade_for_flag(&ctx.db, livemode, f, plan).await?.map(|p| tier(p, None))
            };
            Ok(Entitlement {
                feature: Some(f.clone()),
                allowed,
                plan: plan.map(|p| p.code.clone()),
                upgrade,
                ..answer(customer.id)
            })
        }
        _ => Err(Error::invalid("metric", "give either metric or feature")),
    }
}
