//! Credit grants: units on top of a plan's allowance (top-ups, goodwill),
//! optionally expiring.

use super::entitlements::{billing_now, load_customer};
use crate::actor::Actor;
use crate::common::secs;
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::idempotency::Reply;
use bursar_domain::id::{new_id, IdKind};
use bursar_store::usage::{self as store, GrantRow};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

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

impl From<GrantRow> for CreditGrant {
    fn from(g: GrantRow) -> CreditGrant {
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
}

/// Grants a customer credits on a metric.
pub async fn grant(ctx: &Ctx, actor: &Actor, body: GrantCreate, reply: &Reply) -> Result<CreditGrant> {
    let customer = load_customer(ctx, actor.livemode, &body.customer).await?;
    let metric = super::load_metric(ctx, actor.livemode, &body.metric, "metric").await?;
    if !matches!(metric.aggregation.as_str(), "sum" | "count") {
        return Err(Error::invalid("metric", "credits are for sum or count metrics"));
    }
    if !(1..=1_000_000_000).contains(&body.amount) {
        return Err(Error::invalid("amount", "amount is 1 to 10^9"));
    }
    if body.expires_in_days.is_some_and(|d| !(1..=3650).contains(&d)) {
        return Err(Error::invalid("expires_in_days", "expires_in_days is 1 to 3650"));
    }
    let now = billing_now(ctx, &customer).await?;
    let g = GrantRow {
        id: new_id(IdKind::CreditGrant),
        livemode: actor.livemode,
        customer_id: customer.id.clone(),
        metric: metric.code,
        amount: body.amount,
        remaining: body.amount,
        expires_at: body.expires_in_days.map(|d| now + d * 86_400_000),
        source: "api".into(),
        source_id: None,
        created_at: now,
    };
    let mut tx = ctx.db.begin().await?;
    store::insert_grant(&mut tx, &g).await?;
    bursar_store::events::emit(
        &mut tx,
        actor.livemode,
        "credits.granted",
        &g.id,
        &serde_json::json!({"id": g.id, "customer": g.customer_id, "metric": g.metric, "amount": g.amount,
            "expires_at": g.expires_at.map(secs)}),
        now,
    )
    .await?;
    let out = CreditGrant::from(g);
    reply.commit(tx, &out).await?;
    Ok(out)
}

/// A customer's grants, newest first: the credit balance history.
pub async fn list(ctx: &Ctx, actor: &Actor, customer: &str, metric: Option<&str>) -> Result<Vec<CreditGrant>> {
    let customer = load_customer(ctx, actor.livemode, customer).await?;
    let rows = store::grants(ctx.db.reader(), actor.livemode, &customer.id, metric).await?;
    Ok(rows.into_iter().map(CreditGrant::from).collect())
}
