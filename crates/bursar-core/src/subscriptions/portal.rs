//! Billing portal sessions: the platform signs a learner in to Bursar's
//! billing portal the way a payment provider's customer portal works — it
//! opens a session here and sends the learner to its URL. Upgrade prompts
//! are small framed pages that lead into the portal's change preview.

use crate::actor::Actor;
use crate::auth::sha256_hex;
use crate::common::secs;
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::idempotency::Reply;
use bursar_domain::id::{is_valid, IdKind};
use bursar_store::customers::{self, CustomerRow};
use bursar_store::portal::{self as store, PortalSessionRow};
use bursar_store::Tx;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// How long a portal session lasts.
pub const SESSION_MINUTES: i64 = 60;

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PortalSessionCreate {
    pub customer: String,
    /// Where the portal's "Back" link goes (the platform's account page).
    pub return_url: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PortalSession {
    /// Always `portal_session`.
    pub object: &'static str,
    pub customer: String,
    /// Send the learner here; it signs them in to the portal. Shown once.
    pub url: String,
    pub return_url: Option<String>,
    pub expires_at: i64,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpgradePromptCreate {
    pub customer: String,
    /// The metric whose limit was reached (`tests`); or give `feature`.
    pub metric: Option<String>,
    /// The feature flag the learner lacks (`api_access`).
    pub feature: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UpgradePrompt {
    /// Always `upgrade_prompt`.
    pub object: &'static str,
    pub customer: String,
    /// The page to frame (valid as long as its portal session).
    pub url: String,
    /// An `<iframe>` to drop into the platform's page as it is.
    pub snippet: String,
    pub expires_at: i64,
}

async fn load_live(ctx: &Ctx, livemode: bool, id: &str) -> Result<CustomerRow> {
    if !is_valid(IdKind::Customer, id) {
        return Err(Error::not_found("customer", "customer", id));
    }
    customers::get(ctx.db.reader(), livemode, id)
        .await?
        .filter(|c| c.deleted_at.is_none())
        .ok_or_else(|| Error::not_found("customer", "customer", id))
}

/// Stores a new portal session; returns its token (shown once) and expiry.
async fn open_session(
    ctx: &Ctx,
    tx: &mut Tx,
    customer: &CustomerRow,
    return_url: Option<String>,
) -> Result<(String, i64)> {
    use rand::distr::{Alphanumeric, SampleString};
    let token = format!("bps_{}", Alphanumeric.sample_string(&mut rand::rng(), 40));
    let now = ctx.now_ms();
    let row = PortalSessionRow {
        token_hash: sha256_hex(token.as_bytes()),
        livemode: customer.livemode,
        customer_id: customer.id.clone(),
        return_url,
        csrf: Alphanumeric.sample_string(&mut rand::rng(), 32),
        expires_at: now + SESSION_MINUTES * 60_000,
        created_at: now,
    };
    store::insert_session(tx, &row).await?;
    Ok((token, row.expires_at))
}

/// Opens a portal session for a customer.
pub async fn create_session(
    ctx: &Ctx,
    actor: &Actor,
    input: PortalSessionCreate,
    reply: &Reply,
) -> Result<PortalSession> {
    let customer = load_live(ctx, actor.livemode, &input.customer).await?;
    if let Some(u) = &input.return_url {
        crate::sessions::check_url("return_url", u)?;
    }
    let mut tx = ctx.db.begin().await?;
    let (token, expires_at) = open_session(ctx, &mut tx, &customer, input.return_url.clone()).await?;
    let out = PortalSession {
        object: "portal_session",
        customer: customer.id,
        url: format!("{}/portal/enter/{token}", crate::sessions::public_base(ctx)),
        return_url: input.return_url,
        expires_at: secs(expires_at),
    };
    reply.commit(tx, &out).await?;
    Ok(out)
}

/// Creates an upgrade prompt for a learner who hit a metric's limit or
/// lacks a feature.
pub async fn create_upgrade_prompt(ctx: &Ctx, actor: &Actor, input: UpgradePromptCreate) -> Result<UpgradePrompt> {
    let customer = load_live(ctx, actor.livemode, &input.customer).await?;
    let what = match (&input.metric, &input.feature) {
        (Some(m), None) => {
            crate::usage::load_metric(ctx, actor.livemode, m, "metric").await?;
            format!("metric={m}")
        }
        (None, Some(f)) if crate::usage::valid_code(f) => format!("feature={f}"),
        (None, Some(_)) => return Err(Error::invalid("feature", "feature is 1 to 64 of a-z, 0-9 and _")),
        _ => return Err(Error::invalid("metric", "give one of metric or feature")),
    };
    let mut tx = ctx.db.begin().await?;
    let (token, expires_at) = open_session(ctx, &mut tx, &customer, None).await?;
    tx.commit().await?;
    let url = format!("{}/embed/upgrade/{token}?{what}", crate::sessions::public_base(ctx));
    let snippet = format!(
        "<iframe src=\"{url}\" title=\"Upgrade your plan\" loading=\"lazy\" \
         style=\"width:100%;max-width:440px;height:200px;border:0\"></iframe>"
    );
    Ok(UpgradePrompt { object: "upgrade_prompt", customer: customer.id, url, snippet, expires_at: secs(expires_at) })
}
