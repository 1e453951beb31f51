//! Checkout sessions over HTTP: the platform creates one and sends the
//! buyer to its `url`.

use crate::error::ApiResult;
use crate::extract::{ApiJson, Caller};
use crate::middleware::Idem;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use bursar_core::sessions::{self, Session, SessionCreate};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_session)).routes(routes!(get_session))
}

#[utoipa::path(post, path = "/v1/checkout/sessions", tag = "checkout", request_body = SessionCreate,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 201, body = Session), (status = 400, body = crate::error::ErrorEnvelope),
              (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn create_session(
    State(state): State<AppState>,
    caller: Caller,
    idem: Idem,
    ApiJson(body): ApiJson<SessionCreate>,
) -> ApiResult<Response> {
    let reply = idem.reply(StatusCode::CREATED);
    let out = sessions::create(&state, caller.livemode, body, &reply).await?;
    idem.respond(StatusCode::CREATED, &out)
}

#[utoipa::path(get, path = "/v1/checkout/sessions/{id}", tag = "checkout",
    params(("id" = String, Path, description = "Checkout session id")),
    responses((status = 200, body = Session), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn get_session(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Session>> {
    Ok(Json(sessions::get(&state, caller.livemode, &id).await?))
}
