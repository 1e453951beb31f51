//! Secret API keys. The secret is shown once, at creation; only its SHA-256
//! is stored.

use super::{check_len, commit_json, secs, ListResponse};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery, Caller, ListParams};
use crate::middleware::{sha256_hex, Idem};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use bursar_domain::id::{is_valid, new_id, IdKind};
use bursar_store::auth::{self, ApiKeyRow};
use bursar_store::{events, Tx};
use rand::distr::{Alphanumeric, SampleString};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_api_key, list_api_keys)).routes(routes!(get_api_key, revoke_api_key))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyCreate {
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKey {
    pub id: String,
    /// Always `api_key`.
    pub object: &'static str,
    pub livemode: bool,
    pub name: String,
    /// The secret; only present in the response that created the key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// The key with its middle hidden, for display.
    pub redacted: String,
    pub created: i64,
    pub last_used: Option<i64>,
    pub revoked: Option<i64>,
}

fn render(r: ApiKeyRow, secret: Option<String>) -> ApiKey {
    ApiKey {
        id: r.id,
        object: "api_key",
        livemode: r.livemode,
        name: r.name,
        secret,
        redacted: r.redacted,
        created: secs(r.created_at),
        last_used: r.last_used_at.map(secs),
        revoked: r.revoked_at.map(secs),
    }
}

/// Generates a key of the given mode and writes its hash.
pub async fn issue_key(
    tx: &mut Tx,
    livemode: bool,
    name: &str,
    now: i64,
) -> Result<(ApiKeyRow, String), bursar_store::DbError> {
    let secret =
        format!("bsk_{}_{}", if livemode { "live" } else { "test" }, Alphanumeric.sample_string(&mut rand::rng(), 32));
    let row = ApiKeyRow {
        id: new_id(IdKind::ApiKey),
        livemode,
        name: name.to_string(),
        key_hash: sha256_hex(secret.as_bytes()),
        redacted: format!("{}…{}", &secret[..13], &secret[secret.len() - 4..]),
        created_at: now,
        last_used_at: None,
        revoked_at: None,
    };
    auth::insert_api_key(tx, &row).await?;
    Ok((row, secret))
}

#[utoipa::path(post, path = "/v1/api_keys", tag = "api_keys", request_body = ApiKeyCreate,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = ApiKey), (status = 400, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn create_api_key(
    State(state): State<AppState>,
    caller: Caller,
    Idem(idem): Idem,
    ApiJson(body): ApiJson<ApiKeyCreate>,
) -> ApiResult<Response> {
    let name = body.name.trim().to_string();
    if name.is_empty() {
        return Err(ApiError::missing("name"));
    }
    check_len("name", &Some(name.clone()), 100)?;
    let now = state.now_ms();
    let mut tx = state.db.begin().await?;
    let (row, secret) = issue_key(&mut tx, caller.livemode, &name, now).await?;
    events::audit(
        &mut tx,
        "api_key",
        &caller.key_id,
        "api_key.create",
        Some(&row.id),
        &serde_json::json!({"name": name}),
        now,
    )
    .await?;
    let out = render(row, Some(secret));
    commit_json(tx, idem.as_ref(), StatusCode::OK, &out).await
}

#[utoipa::path(get, path = "/v1/api_keys", tag = "api_keys", params(ListParams),
    responses((status = 200, body = ListResponse<ApiKey>)), security(("api_key" = [])))]
async fn list_api_keys(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(page): ApiQuery<ListParams>,
) -> ApiResult<Json<ListResponse<ApiKey>>> {
    let limit = page.limit()?;
    let rows =
        auth::list_api_keys(state.db.reader(), caller.livemode, page.starting_after.as_deref(), limit + 1).await?;
    let data = rows.into_iter().map(|r| render(r, None)).collect();
    Ok(Json(ListResponse::from_rows(data, limit, "/v1/api_keys")))
}

async fn load(state: &AppState, caller: &Caller, id: &str) -> ApiResult<ApiKeyRow> {
    if !is_valid(IdKind::ApiKey, id) {
        return Err(ApiError::not_found("id", "api key", id));
    }
    auth::api_key(state.db.reader(), caller.livemode, id).await?.ok_or_else(|| ApiError::not_found("id", "api key", id))
}

#[utoipa::path(get, path = "/v1/api_keys/{id}", tag = "api_keys",
    params(("id" = String, Path, description = "API key id")),
    responses((status = 200, body = ApiKey), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn get_api_key(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Json<ApiKey>> {
    Ok(Json(render(load(&state, &caller, &id).await?, None)))
}

#[utoipa::path(delete, path = "/v1/api_keys/{id}", tag = "api_keys",
    params(("id" = String, Path, description = "API key id")),
    responses((status = 200, body = ApiKey), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn revoke_api_key(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Response> {
    load(&state, &caller, &id).await?;
    let now = state.now_ms();
    let mut tx = state.db.begin().await?;
    auth::revoke_api_key(&mut tx, &id, now).await?;
    events::audit(&mut tx, "api_key", &caller.key_id, "api_key.revoke", Some(&id), &serde_json::json!({}), now).await?;
    let row = auth::api_key(&mut *tx, caller.livemode, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("id", "api key", &id))?;
    commit_json(tx, None, StatusCode::OK, &render(row, None)).await
}
