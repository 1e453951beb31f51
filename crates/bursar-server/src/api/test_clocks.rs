//! Test clocks: test-mode customers attached to one live at its frozen time,
//! so a test can move them through months in seconds.

use super::{commit_json, secs};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, Caller};
use crate::middleware::Idem;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use bursar_domain::clock::validate_advance;
use bursar_domain::id::{is_valid, new_id, IdKind};
use bursar_store::clocks::{self, TestClockRow};
use bursar_store::events;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_test_clock))
        .routes(routes!(get_test_clock, delete_test_clock))
        .routes(routes!(advance_test_clock))
}

/// Latest instant a clock may be set to: 9999-12-31.
const MAX_TIME_SECS: i64 = 253_402_214_400;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestClockCreate {
    /// Unix seconds the clock starts at.
    pub frozen_time: i64,
    pub name: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestClockAdvance {
    /// Unix seconds to move to; must be later than the current frozen time.
    pub frozen_time: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TestClock {
    pub id: String,
    /// Always `test_helpers.test_clock`.
    pub object: &'static str,
    pub livemode: bool,
    pub name: Option<String>,
    pub frozen_time: i64,
    /// `ready`.
    pub status: &'static str,
    pub created: i64,
}

fn render(r: TestClockRow) -> TestClock {
    TestClock {
        id: r.id,
        object: "test_helpers.test_clock",
        livemode: false,
        name: r.name,
        frozen_time: secs(r.frozen_time),
        status: "ready",
        created: secs(r.created_at),
    }
}

fn test_mode_only(caller: &Caller) -> ApiResult<()> {
    if caller.livemode {
        return Err(ApiError::forbidden(
            "livemode_not_allowed",
            "test clocks exist in test mode only; use a bsk_test_ key",
        ));
    }
    Ok(())
}

fn check_time(t: i64) -> ApiResult<i64> {
    if !(0..=MAX_TIME_SECS).contains(&t) {
        return Err(ApiError::invalid("frozen_time", "frozen_time must be Unix seconds between 1970 and 9999"));
    }
    Ok(t * 1000)
}

#[utoipa::path(post, path = "/v1/test_clocks", tag = "test_clocks", request_body = TestClockCreate,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = TestClock), (status = 400, body = crate::error::ErrorEnvelope), (status = 403, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn create_test_clock(
    State(state): State<AppState>,
    caller: Caller,
    Idem(idem): Idem,
    ApiJson(body): ApiJson<TestClockCreate>,
) -> ApiResult<Response> {
    test_mode_only(&caller)?;
    let frozen = check_time(body.frozen_time)?;
    super::check_len("name", &body.name, 200)?;
    let row = TestClockRow {
        id: new_id(IdKind::TestClock),
        name: body.name,
        frozen_time: frozen,
        created_at: state.now_ms(),
        deleted_at: None,
    };
    let mut tx = state.db.begin().await?;
    clocks::insert(&mut tx, &row).await?;
    commit_json(tx, idem.as_ref(), StatusCode::OK, &render(row)).await
}

async fn load(state: &AppState, id: &str) -> ApiResult<TestClockRow> {
    if !is_valid(IdKind::TestClock, id) {
        return Err(ApiError::not_found("id", "test clock", id));
    }
    clocks::get(state.db.reader(), id)
        .await?
        .filter(|c| c.deleted_at.is_none())
        .ok_or_else(|| ApiError::not_found("id", "test clock", id))
}

#[utoipa::path(get, path = "/v1/test_clocks/{id}", tag = "test_clocks",
    params(("id" = String, Path, description = "Test clock id")),
    responses((status = 200, body = TestClock), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn get_test_clock(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<TestClock>> {
    test_mode_only(&caller)?;
    Ok(Json(render(load(&state, &id).await?)))
}

#[utoipa::path(post, path = "/v1/test_clocks/{id}/advance", tag = "test_clocks", request_body = TestClockAdvance,
    params(("id" = String, Path, description = "Test clock id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = TestClock), (status = 400, body = crate::error::ErrorEnvelope), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn advance_test_clock(
    State(state): State<AppState>,
    caller: Caller,
    Idem(idem): Idem,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<TestClockAdvance>,
) -> ApiResult<Response> {
    test_mode_only(&caller)?;
    let target = check_time(body.frozen_time)?;
    load(&state, &id).await?;
    let mut tx = state.db.begin().await?;
    let mut row = clocks::get(&mut *tx, &id).await?.ok_or_else(|| ApiError::not_found("id", "test clock", &id))?;
    validate_advance(bursar_domain::clock::from_millis(row.frozen_time), bursar_domain::clock::from_millis(target))
        .map_err(|e| ApiError::invalid("frozen_time", e.to_string()))?;
    clocks::set_time(&mut tx, &id, target).await?;
    row.frozen_time = target;
    let out = render(row);
    events::emit(
        &mut tx,
        false,
        "test_helpers.test_clock.advanced",
        &id,
        &serde_json::to_value(&out).unwrap_or_default(),
        state.now_ms(),
    )
    .await?;
    tx.commit().await?;
    // Everything that fell due on this clock happens before the answer:
    // renewals, trial ends, cancellations, resumptions.
    bursar_core::billing_run::run_due(&state.db, &state.billing_settings(), state.now_ms(), Some(&id), 500).await?;
    let tx = state.db.begin().await?;
    commit_json(tx, idem.as_ref(), StatusCode::OK, &out).await
}

#[utoipa::path(delete, path = "/v1/test_clocks/{id}", tag = "test_clocks",
    params(("id" = String, Path, description = "Test clock id")),
    responses((status = 200, body = TestClock), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn delete_test_clock(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    test_mode_only(&caller)?;
    let row = load(&state, &id).await?;
    let mut tx = state.db.begin().await?;
    clocks::delete(&mut tx, &id, state.now_ms()).await?;
    commit_json(tx, None, StatusCode::OK, &render(row)).await
}
