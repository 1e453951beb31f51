//! Learning analytics over HTTP: forms and items, attempts in batches,
//! learner dashboards, calibrations, item statistics, cohort benchmarks,
//! exports and the hosted dashboards' sessions. Each handler parses, calls
//! one operation of `bursar_core::learning` and renders.

use super::ListResponse;
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiQuery, Caller};
use crate::middleware::Idem;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bursar_core::learning::calibration::{self, Calibration, CalibrationCreate};
use bursar_core::learning::content::{self, Assessment, ContentImport, ContentImportResult, Item};
use bursar_core::learning::dashboard::{self, Dashboard};
use bursar_core::learning::ingest::{self, AttemptBatch, AttemptBatchResult};
use bursar_core::learning::sessions::{self, DashboardSession, DashboardSessionCreate};
use bursar_core::learning::statistics::{self, CohortBenchmarks, ItemStatistics};
use bursar_core::learning::{exports, report};
use bursar_core::{Actor, Page};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(import_content))
        .routes(routes!(list_assessments))
        .routes(routes!(get_assessment))
        .routes(routes!(item_versions))
        .routes(routes!(record_attempts))
        .routes(routes!(learner_dashboard))
        .routes(routes!(request_calibration, list_calibrations))
        .routes(routes!(get_calibration))
        .routes(routes!(calibration_report))
        .routes(routes!(activate_calibration))
        .routes(routes!(item_statistics))
        .routes(routes!(item_statistics_csv))
        .routes(routes!(attempts_csv))
        .routes(routes!(cohorts))
        .routes(routes!(create_dashboard_session))
        .routes(routes!(session_report))
        .routes(routes!(cohort_report))
}

fn actor(c: &Caller) -> Actor {
    Actor::api_key(c.livemode, &c.key_id)
}

fn csv(body: String, name: &str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
        ],
        body,
    )
        .into_response()
}

#[utoipa::path(post, path = "/v1/learning/content", tag = "learning", request_body = ContentImport,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = ContentImportResult), (status = 400, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn import_content(
    State(state): State<AppState>,
    caller: Caller,
    idem: Idem,
    ApiJson(body): ApiJson<ContentImport>,
) -> ApiResult<Response> {
    let out = content::import(&state, &actor(&caller), body, &idem.reply(StatusCode::OK)).await?;
    idem.respond(StatusCode::OK, &out)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AssessmentListParams {
    pub limit: Option<String>,
    pub starting_after: Option<String>,
    /// Only this exam's forms.
    pub exam: Option<String>,
}

#[utoipa::path(get, path = "/v1/assessments", tag = "learning", params(AssessmentListParams),
    responses((status = 200, body = ListResponse<Assessment>), (status = 400, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn list_assessments(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<AssessmentListParams>,
) -> ApiResult<Json<ListResponse<Assessment>>> {
    let page = Page::parse(q.limit.as_deref(), q.starting_after)?;
    let list = content::list(&state, &actor(&caller), q.exam.as_deref(), &page).await?;
    Ok(Json(ListResponse { object: "list", data: list.data, has_more: list.has_more, url: "/v1/assessments".into() }))
}

#[utoipa::path(get, path = "/v1/assessments/{id}", tag = "learning",
    params(("id" = String, Path, description = "`asm_…` or the platform's id of the form")),
    responses((status = 200, body = Assessment), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn get_assessment(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Assessment>> {
    Ok(Json(content::get(&state, &actor(&caller), &id).await?))
}

#[utoipa::path(get, path = "/v1/items/{id}/versions", tag = "learning",
    params(("id" = String, Path, description = "The platform's id of the item")),
    responses((status = 200, body = ListResponse<Item>), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn item_versions(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ListResponse<Item>>> {
    let data = content::item_versions(&state, &actor(&caller), &id).await?;
    Ok(Json(ListResponse { object: "list", data, has_more: false, url: format!("/v1/items/{id}/versions") }))
}

#[utoipa::path(post, path = "/v1/attempts/batch", tag = "learning", request_body = AttemptBatch,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = AttemptBatchResult), (status = 400, body = crate::error::ErrorEnvelope),
              (status = 404, body = crate::error::ErrorEnvelope), (status = 409, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn record_attempts(
    State(state): State<AppState>,
    caller: Caller,
    idem: Idem,
    ApiJson(body): ApiJson<AttemptBatch>,
) -> ApiResult<Response> {
    let out = ingest::record(&state, &actor(&caller), body, &idem.reply(StatusCode::OK)).await?;
    idem.respond(StatusCode::OK, &out)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DashboardParams {
    /// The exam (default: the learner's latest).
    pub exam: Option<String>,
}

#[utoipa::path(get, path = "/v1/learners/{learner}/dashboard", tag = "learning",
    params(("learner" = String, Path, description = "The platform's user id of the learner"), DashboardParams),
    responses((status = 200, body = Dashboard), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn learner_dashboard(
    State(state): State<AppState>,
    caller: Caller,
    Path(learner): Path<String>,
    ApiQuery(q): ApiQuery<DashboardParams>,
) -> ApiResult<Json<Dashboard>> {
    Ok(Json(dashboard::dashboard(&state, caller.livemode, &learner, q.exam.as_deref()).await?))
}

#[utoipa::path(post, path = "/v1/assessments/{id}/calibrations", tag = "learning", request_body = CalibrationCreate,
    params(("id" = String, Path, description = "The form"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 201, body = Calibration), (status = 400, body = crate::error::ErrorEnvelope),
              (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn request_calibration(
    State(state): State<AppState>,
    caller: Caller,
    idem: Idem,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<CalibrationCreate>,
) -> ApiResult<Response> {
    let out = calibration::request(&state, &actor(&caller), &id, body, &idem.reply(StatusCode::CREATED)).await?;
    idem.respond(StatusCode::CREATED, &out)
}

#[utoipa::path(get, path = "/v1/assessments/{id}/calibrations", tag = "learning",
    params(("id" = String, Path, description = "The form")),
    responses((status = 200, body = ListResponse<Calibration>), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn list_calibrations(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ListResponse<Calibration>>> {
    let data = calibration::list(&state, &actor(&caller), &id).await?;
    Ok(Json(ListResponse { object: "list", data, has_more: false, url: format!("/v1/assessments/{id}/calibrations") }))
}

#[utoipa::path(get, path = "/v1/calibrations/{id}", tag = "learning",
    params(("id" = String, Path, description = "Calibration id")),
    responses((status = 200, body = Calibration), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn get_calibration(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Calibration>> {
    Ok(Json(calibration::get(&state, &actor(&caller), &id).await?))
}

#[utoipa::path(get, path = "/v1/calibrations/{id}/report", tag = "learning",
    params(("id" = String, Path, description = "Calibration id")),
    responses((status = 200, description = "The bursar-psychometrics/1 report", body = serde_json::Value),
              (status = 404, body = crate::error::ErrorEnvelope), (status = 409, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn calibration_report(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    Ok(Json(calibration::report(&state, &actor(&caller), &id).await?))
}

#[utoipa::path(post, path = "/v1/calibrations/{id}/activate", tag = "learning",
    params(("id" = String, Path, description = "Calibration id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = Calibration), (status = 404, body = crate::error::ErrorEnvelope),
              (status = 409, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn activate_calibration(
    State(state): State<AppState>,
    caller: Caller,
    idem: Idem,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let out = calibration::activate(&state, &actor(&caller), &id, &idem.reply(StatusCode::OK)).await?;
    idem.respond(StatusCode::OK, &out)
}

#[utoipa::path(get, path = "/v1/assessments/{id}/item_statistics", tag = "learning",
    params(("id" = String, Path, description = "The form")),
    responses((status = 200, body = ItemStatistics), (status = 404, body = crate::error::ErrorEnvelope),
              (status = 409, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn item_statistics(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ItemStatistics>> {
    Ok(Json(statistics::item_statistics(&state, &actor(&caller), &id).await?))
}

#[utoipa::path(get, path = "/v1/assessments/{id}/item_statistics.csv", tag = "learning",
    params(("id" = String, Path, description = "The form")),
    responses((status = 200, description = "Item statistics and flags as CSV", content_type = "text/csv"),
              (status = 404, body = crate::error::ErrorEnvelope), (status = 409, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn item_statistics_csv(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let body = exports::item_statistics_csv(&state, &actor(&caller), &id).await?;
    Ok(csv(body, "item-statistics.csv"))
}

#[utoipa::path(get, path = "/v1/assessments/{id}/attempts.csv", tag = "learning",
    params(("id" = String, Path, description = "The form")),
    responses((status = 200, description = "Every response of the form's attempts as CSV", content_type = "text/csv"),
              (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn attempts_csv(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Response> {
    let body = exports::attempts_csv(&state, &actor(&caller), &id).await?;
    Ok(csv(body, "attempts.csv"))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CohortParams {
    /// `country` (default), `organization` or `global`.
    pub kind: Option<String>,
}

#[utoipa::path(get, path = "/v1/exams/{exam}/cohorts", tag = "learning",
    params(("exam" = String, Path, description = "The exam"), CohortParams),
    responses((status = 200, body = CohortBenchmarks), (status = 400, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn cohorts(
    State(state): State<AppState>,
    caller: Caller,
    Path(exam): Path<String>,
    ApiQuery(q): ApiQuery<CohortParams>,
) -> ApiResult<Json<CohortBenchmarks>> {
    let kind = q.kind.as_deref().unwrap_or("country");
    Ok(Json(statistics::cohort_benchmarks(&state, &actor(&caller), &exam, kind).await?))
}

#[utoipa::path(post, path = "/v1/dashboard_sessions", tag = "learning", request_body = DashboardSessionCreate,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 201, body = DashboardSession), (status = 400, body = crate::error::ErrorEnvelope),
              (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn create_dashboard_session(
    State(state): State<AppState>,
    caller: Caller,
    idem: Idem,
    ApiJson(body): ApiJson<DashboardSessionCreate>,
) -> ApiResult<Response> {
    let out = sessions::create(&state, &actor(&caller), body, &idem.reply(StatusCode::CREATED)).await?;
    idem.respond(StatusCode::CREATED, &out)
}

fn pdf(bytes: Vec<u8>, name: &str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (header::CONTENT_DISPOSITION, format!("inline; filename=\"{name}\"")),
        ],
        bytes,
    )
        .into_response()
}

#[utoipa::path(get, path = "/v1/attempts/{id}/report.pdf", tag = "learning",
    params(("id" = String, Path, description = "`att_…` or the platform's id of the attempt")),
    responses((status = 200, description = "The learner's session report", content_type = "application/pdf"),
              (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn session_report(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Response> {
    let bytes = report::session_report(&state, caller.livemode, &id, None).await?;
    Ok(pdf(bytes, "session-report.pdf"))
}

#[utoipa::path(get, path = "/v1/exams/{exam}/cohorts.pdf", tag = "learning",
    params(("exam" = String, Path, description = "The exam"), CohortParams),
    responses((status = 200, description = "The exam's cohort report", content_type = "application/pdf"),
              (status = 400, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn cohort_report(
    State(state): State<AppState>,
    caller: Caller,
    Path(exam): Path<String>,
    ApiQuery(q): ApiQuery<CohortParams>,
) -> ApiResult<Response> {
    let kind = q.kind.as_deref().unwrap_or("country");
    let bytes = report::cohort_report(&state, &actor(&caller), &exam, kind).await?;
    Ok(pdf(bytes, "cohort-report.pdf"))
}
