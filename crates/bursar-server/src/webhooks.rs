//! Incoming provider webhooks: `POST /webhooks/stripe`, `/webhooks/paypal`,
//! `/webhooks/razorpay`. The raw body and headers go to
//! `bursar_core::provider_events`, which verifies, stores and applies them.

use crate::error::ApiResult;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use bursar_core::provider_events;
use bursar_providers::Headers;

pub fn router() -> Router<AppState> {
    Router::new().route("/webhooks/{provider}", post(receive)).layer(DefaultBodyLimit::max(1 << 20))
}

async fn receive(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let mut hs = Headers::new();
    for (k, v) in &headers {
        if let Ok(v) = v.to_str() {
            hs.insert(k.as_str().to_ascii_lowercase(), v.to_string());
        }
    }
    let r = provider_events::receive(&state, &provider, &hs, &body).await?;
    if r.duplicate {
        return Ok(Json(serde_json::json!({"received": true, "duplicate": true})).into_response());
    }
    Ok((StatusCode::OK, Json(serde_json::json!({"received": true, "status": r.status}))).into_response())
}
