//! Billing portal sessions: the platform signs a learner in to Bursar's
//! billing portal (`/portal`) the way a payment provider's customer portal
//! works — it opens a session here and sends the learner to its URL.

use super::{commit_json, secs};
use crate::error::ApiResult;
use crate::extract::{ApiJson, Caller};
use crate::middleware::{sha256_hex, Idem};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use bursar_store::portal::{self as store, PortalSessionRow};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// How long a portal session lasts.
pub const SESSION_MINUTES: i64 = 60;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_portal_session))
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
        super::checkout::check_url("return_url", u)?;
    }
    use rand::distr::{Alphanumeric, SampleString};
    let token = format!("bps_{}", Alphanumeric.sample_string(&mut rand::rng(), 40));
    let now = state.now_ms();
    let row = PortalSessionRow {
        token_hash: sha256_hex(token.as_bytes()),
        livemode: caller.livemode,
        customer_id: customer.id.clone(),
        return_url: b.return_url.clone(),
        csrf: Alphanumeric.sample_string(&mut rand::rng(), 32),
        expires_at: now + SESSION_MINUTES * 60_000,
        created_at: now,
    };
    let mut tx = state.db.begin().await?;
    store::insert_session(&mut tx, &row).await?;
    let base = state.config.public_url.clone().unwrap_or_else(|| format!("http://{}", state.config.listen));
    let out = PortalSession {
        object: "portal_session",
        customer: customer.id,
        url: format!("{}/portal/enter/{token}", base.trim_end_matches('/')),
        return_url: b.return_url,
        expires_at: secs(row.expires_at),
    };
    commit_json(tx, idem.as_ref(), StatusCode::CREATED, &out).await
}
