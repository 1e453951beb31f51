//! Billing portal sessions over HTTP: the platform signs a learner in to
//! Bursar's billing portal (`/portal`) the way a payment provider's customer
//! portal works — it opens a session here and sends the learner to its URL.
//! Each handler parses, calls one operation of
//! `bursar_core::subscriptions::portal` and renders.

use crate::error::ApiResult;
use crate::extract::{ApiJson, Caller};
use crate::middleware::Idem;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bursar_core::subscriptions::portal::{
    self, PortalSession, PortalSessionCreate, UpgradePrompt, UpgradePromptCreate,
};
use bursar_core::Actor;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_portal_session)).routes(routes!(create_upgrade_prompt))
}

fn actor(c: &Caller) -> Actor {
    Actor::api_key(c.livemode, &c.key_id)
}

#[utoipa::path(post, path = "/v1/portal_sessions", tag = "customers", request_body = PortalSessionCreate,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 201, body = PortalSession), (status = 400, body = crate::error::ErrorEnvelope),
              (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn create_portal_session(
    State(state): State<AppState>,
    caller: Caller,
    idem: Idem,
    ApiJson(b): ApiJson<PortalSessionCreate>,
) -> ApiResult<Response> {
    let out = portal::create_session(&state, &actor(&caller), b, &idem.reply(StatusCode::CREATED)).await?;
    idem.respond(StatusCode::CREATED, &out)
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
    let out = portal::create_upgrade_prompt(&state, &actor(&caller), b).await?;
    Ok((StatusCode::CREATED, axum::Json(out)).into_response())
}
