//! Billing portal sessions: the platform signs a learner in to Bursar's
//! billing portal (`/portal`) the way a payment provider's customer portal
//! works — it opens a session here and sends the learner to its URL.

use super::{commit_json, secs};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, Caller};
use crate::middleware::{sha256_hex, Idem};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bursar_store::portal::{self as store, PortalSessionRow};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// How long a portal session lasts.
pub const SESSION_MINUTES: i64 = 60;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_portal_session)).routes(routes!(create_upgrade_prompt))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PortalSessionCreate {
    pub customer: String,
    /// Where the portal's "Back" link goes (the platform's account page).
    pub return_url: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PortalSession {
    /// Always `portal_session`.
    pub object: &'static str,
    pub customer: String,
    /// Send the learner here; it signs them in to the portal. Shown once.
    pub url: String,
    pub return_url: Option<String>,
    pub expires_at: i64,
}

#[utoipa::path(post, path = "/v1/portal_sessions", tag = "customers", request_body = PortalSessionCreate,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 201, body = PortalSession), (status = 400, body = crate::error::ErrorEnvelope),
              (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn create_portal_session(
    State(state): State<AppState>,
    caller: Caller,
    Idem(idem): Idem,
    ApiJson(b): ApiJson<PortalSessionCreate>,
) -> ApiResult<Response> {
    let customer =
        super::customers::load_live(&state, &caller, &b.customer).await.map_err(|e| e.with_param("customer"))?;
    if let Some(u) = &b.return_url {
        bursar_core::sessions::check_url("return_url", u)?;
    }
    let mut tx = state.db.begin().await?;
    let (token, expires_at) = open_session(&state, &mut tx, &customer.id, b.return_url.clone()).await?;
    let out = PortalSession {
        object: "portal_session",
        customer: customer.id,
        url: format!("{}/portal/enter/{token}", bursar_core::sessions::public_base(&state)),
        return_url: b.return_url,
        expires_at: secs(expires_at),
    };
    commit_json(tx, idem.as_ref(), StatusCode::CREATED, &out).await
}

/// Stores a new portal session; returns its token (shown once) and expiry.
async fn open_session(
    state: &AppState,
    tx: &mut bursar_store::Tx,
    customer_id: &str,
    return_url: Option<String>,
) -> ApiResult<(String, i64)> {
    use rand::distr::{Alphanumeric, SampleString};
    let token = format!("bps_{}", Alphanumeric.sample_string(&mut rand::rng(), 40));
    let now = state.now_ms();
    let row = PortalSessionRow {
        token_hash: sha256_hex(token.as_bytes()),
        livemode: customer_livemode(state, customer_id).await?,
        customer_id: customer_id.to_string(),
        return_url,
        csrf: Alphanumeric.sample_string(&mut rand::rng(), 32),
        expires_at: now + SESSION_MINUTES * 60_000,
        created_at: now,
    };
    store::insert_session(tx, &row).await?;
    Ok((token, row.expires_at))
}

async fn customer_livemode(state: &AppState, customer_id: &str) -> ApiResult<bool> {
    let live: Option<i64> = sqlx::query_scalar("SELECT livemode FROM customers WHERE id = $1")
        .bind(customer_id)
        .fetch_optional(state.db.reader())
        .await
        .map_err(bursar_store::DbError::from)?;
    live.map(|l| l != 0).ok_or_else(crate::error::ApiError::internal)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpgradePromptCreate {
    pub customer: String,
    /// The metric whose limit was reached (`tests`); or give `feature`.
    pub metric: Option<String>,
    /// The feature flag the learner lacks (`api_access`).
    pub feature: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
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

/// An upgrade prompt: a small page the platform frames where a learner hit
/// a limit (or lacks a feature), naming the limit, what they used, and the
/// plan that lifts it, with a button into the billing portal's change
/// preview for that plan. Frames are allowed from `embed_frame_ancestors`.
#[utoipa::path(post, path = "/v1/upgrade_prompts", tag = "usage", request_body = UpgradePromptCreate,
    responses((status = 201, body = UpgradePrompt), (status = 400, body = crate::error::ErrorEnvelope),
              (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn create_upgrade_prompt(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(b): ApiJson<UpgradePromptCreate>,
) -> ApiResult<Response> {
    let customer =
        super::customers::load_live(&state, &caller, &b.customer).await.map_err(|e| e.with_param("customer"))?;
    let what = match (&b.metric, &b.feature) {
        (Some(m), None) => {
            super::usage::load_metric(&state, caller.livemode, m, "metric").await?;
            format!("metric={m}")
        }
        (None, Some(f)) if bursar_core::usage::valid_code(f) => format!("feature={f}"),
        (None, Some(_)) => return Err(ApiError::invalid("feature", "feature is 1 to 64 of a-z, 0-9 and _")),
        _ => return Err(ApiError::invalid("metric", "give one of metric or feature")),
    };
    let mut tx = state.db.begin().await?;
    let (token, expires_at) = open_session(&state, &mut tx, &customer.id, None).await?;
    tx.commit().await?;
    let url = format!("{}/embed/upgrade/{token}?{what}", bursar_core::sessions::public_base(&state));
    let snippet = format!(
        "<iframe src=\"{url}\" title=\"Upgrade your plan\" loading=\"lazy\" \
         style=\"width:100%;max-width:440px;height:200px;border:0\"></iframe>"
    );
    let out =
        UpgradePrompt { object: "upgrade_prompt", customer: customer.id, url, snippet, expires_at: secs(expires_at) };
    Ok((StatusCode::CREATED, axum::Json(out)).into_response())
}
