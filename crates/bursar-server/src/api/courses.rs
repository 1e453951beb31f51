//! Instructors, their courses and bundles, reviews and wishlists over
//! HTTP. Each handler parses, calls one operation of
//! `bursar_core::courses` and renders.
//!
//! The platform's secret key reaches everything; an instructor session
//! (`bis_…`, created by the platform) reaches only that instructor's own
//! courses, reviews of them, earnings and payouts. Someone else's course
//! is not found for an instructor, exactly as if it did not exist.

use super::ListResponse;
use crate::error::ApiResult;
use crate::extract::{Actor, ApiJson, ApiQuery, Caller, ListParams};
use crate::middleware::Idem;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use bursar_core::courses::course::{self as courses_op, CourseFilter};
use bursar_core::courses::{instructors, reviews, wishlist};
use bursar_core::Page;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use bursar_core::courses::course::{Course, CourseCreate, CourseUpdate, Material};
pub use bursar_core::courses::instructors::{
    Instructor, InstructorCreate, InstructorSession, InstructorUpdate, SessionCreate, SessionsRevoked,
};
pub use bursar_core::courses::reviews::{Review, ReviewCreate, ReviewModeration, ReviewReply, ReviewUpdate};
pub use bursar_core::courses::wishlist::{WishCreate, Wishlist};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_instructor, list_instructors))
        .routes(routes!(get_instructor, update_instructor))
        .routes(routes!(create_instructor_session, revoke_instructor_sessions))
        .routes(routes!(create_course, list_courses))
        .routes(routes!(get_course, update_course))
        .routes(routes!(publish_course))
        .routes(routes!(unpublish_course))
        .routes(routes!(create_review, list_reviews))
        .routes(routes!(update_review))
        .routes(routes!(reply_review))
        .routes(routes!(moderate_review))
        .routes(routes!(add_wish, list_wishlist))
        .routes(routes!(remove_wish))
}

/// The service layer's actor for a platform key or an instructor session.
pub(crate) fn actor_of(a: &Actor) -> bursar_core::Actor {
    match a {
        Actor::Platform { livemode } => bursar_core::Actor::api_key(*livemode, ""),
        Actor::Instructor { livemode, id } => bursar_core::courses::instructor_actor(*livemode, id),
    }
}

/// The service layer's actor for a platform key.
pub(crate) fn platform(c: &Caller) -> bursar_core::Actor {
    bursar_core::Actor::api_key(c.livemode, &c.key_id)
}

fn page_of(p: ListParams) -> ApiResult<Page> {
    let limit = p.limit()?;
    Ok(Page { limit, starting_after: p.starting_after })
}

// ---------------------------------------------------------------------------
// Instructors
// ---------------------------------------------------------------------------

#[utoipa::path(post, path = "/v1/instructors", tag = "marketplace", request_body = InstructorCreate,
    responses((status = 201, body = Instructor), (status = 400, body = crate::error::ErrorEnvelope),
              (status = 409, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn create_instructor(
    State(state): State<AppState>,
    caller: Caller,
    idem: Idem,
    ApiJson(b): ApiJson<InstructorCreate>,
) -> ApiResult<Response> {
    let out = instructors::create(&state, &platform(&caller), b, &idem.reply(StatusCode::CREATED)).await?;
    idem.respond(StatusCode::CREATED, &out)
}

#[utoipa::path(get, path = "/v1/instructors", tag = "marketplace", params(ListParams),
    responses((status = 200, body = ListResponse<Instructor>)), security(("api_key" = [])))]
async fn list_instructors(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(page): ApiQuery<ListParams>,
) -> ApiResult<Json<ListResponse<Instructor>>> {
    let list = instructors::list(&state, &platform(&caller), &page_of(page)?).await?;
    Ok(Json(ListResponse { object: "list", data: list.data, has_more: list.has_more, url: "/v1/instructors".into() }))
}

#[utoipa::path(get, path = "/v1/instructors/{id}", tag = "marketplace",
    params(("id" = String, Path, description = "Instructor id or the platform's user id")),
    responses((status = 200, body = Instructor), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn get_instructor(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
) -> ApiResult<Json<Instructor>> {
    Ok(Json(instructors::get(&state, &actor_of(&actor), &id).await?))
}

#[utoipa::path(post, path = "/v1/instructors/{id}", tag = "marketplace", request_body = InstructorUpdate,
    params(("id" = String, Path, description = "Instructor id or the platform's user id")),
    responses((status = 200, body = Instructor), (status = 400, body = crate::error::ErrorEnvelope),
              (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn update_instructor(
    State(state): State<AppState>,
    caller: Caller,
    idem: Idem,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<InstructorUpdate>,
) -> ApiResult<Response> {
    let out = instructors::update(&state, &platform(&caller), &id, b, &idem.reply(StatusCode::OK)).await?;
    idem.respond(StatusCode::OK, &out)
}

#[utoipa::path(post, path = "/v1/instructors/{id}/sessions", tag = "marketplace", request_body = SessionCreate,
    params(("id" = String, Path, description = "Instructor id or the platform's user id")),
    responses((status = 201, body = InstructorSession), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn create_instructor_session(
    State(state): State<AppState>,
    caller: Caller,
    idem: Idem,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<SessionCreate>,
) -> ApiResult<Response> {
    let out = instructors::create_session(&state, &platform(&caller), &id, b, &idem.reply(StatusCode::CREATED)).await?;
    idem.respond(StatusCode::CREATED, &out)
}

#[utoipa::path(delete, path = "/v1/instructors/{id}/sessions", tag = "marketplace",
    params(("id" = String, Path, description = "Instructor id or the platform's user id")),
    responses((status = 200, body = SessionsRevoked), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn revoke_instructor_sessions(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<SessionsRevoked>> {
    Ok(Json(instructors::revoke_sessions(&state, &platform(&caller), &id).await?))
}

// ---------------------------------------------------------------------------
// Courses and bundles
// ---------------------------------------------------------------------------

#[utoipa::path(post, path = "/v1/courses", tag = "marketplace", request_body = CourseCreate,
    responses((status = 201, body = Course), (status = 400, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn create_course(
    State(state): State<AppState>,
    actor: Actor,
    idem: Idem,
    ApiJson(b): ApiJson<CourseCreate>,
) -> ApiResult<Response> {
    let out = courses_op::create(&state, &actor_of(&actor), b, &idem.reply(StatusCode::CREATED)).await?;
    idem.respond(StatusCode::CREATED, &out)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CourseListParams {
    pub limit: Option<String>,
    pub starting_after: Option<String>,
    /// One instructor's (an instructor session sees its own only).
    pub instructor: Option<String>,
    /// `draft`, `published` or `archived`.
    pub status: Option<String>,
}

#[utoipa::path(get, path = "/v1/courses", tag = "marketplace", params(CourseListParams),
    responses((status = 200, body = ListResponse<Course>), (status = 400, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn list_courses(
    State(state): State<AppState>,
    actor: Actor,
    ApiQuery(q): ApiQuery<CourseListParams>,
) -> ApiResult<Json<ListResponse<Course>>> {
    let page = page_of(ListParams { limit: q.limit, starting_after: q.starting_after })?;
    let filter = CourseFilter { instructor: q.instructor, status: q.status };
    let list = courses_op::list(&state, &actor_of(&actor), filter, &page).await?;
    Ok(Json(ListResponse { object: "list", data: list.data, has_more: list.has_more, url: "/v1/courses".into() }))
}

#[utoipa::path(get, path = "/v1/courses/{id}", tag = "marketplace",
    params(("id" = String, Path, description = "Course or bundle id")),
    responses((status = 200, body = Course), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn get_course(State(state): State<AppState>, actor: Actor, Path(id): Path<String>) -> ApiResult<Json<Course>> {
    Ok(Json(courses_op::get(&state, &actor_of(&actor), &id).await?))
}

#[utoipa::path(post, path = "/v1/courses/{id}", tag = "marketplace", request_body = CourseUpdate,
    params(("id" = String, Path, description = "Course or bundle id")),
    responses((status = 200, body = Course), (status = 400, body = crate::error::ErrorEnvelope),
              (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn update_course(
    State(state): State<AppState>,
    actor: Actor,
    idem: Idem,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<CourseUpdate>,
) -> ApiResult<Response> {
    let out = courses_op::update(&state, &actor_of(&actor), &id, b, &idem.reply(StatusCode::OK)).await?;
    idem.respond(StatusCode::OK, &out)
}

#[utoipa::path(post, path = "/v1/courses/{id}/publish", tag = "marketplace",
    params(("id" = String, Path, description = "Course or bundle id")),
    responses((status = 200, body = Course), (status = 400, body = crate::error::ErrorEnvelope),
              (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn publish_course(
    State(state): State<AppState>,
    actor: Actor,
    idem: Idem,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let out = courses_op::publish(&state, &actor_of(&actor), &id, &idem.reply(StatusCode::OK)).await?;
    idem.respond(StatusCode::OK, &out)
}

#[utoipa::path(post, path = "/v1/courses/{id}/unpublish", tag = "marketplace",
    params(("id" = String, Path, description = "Course or bundle id")),
    responses((status = 200, body = Course), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn unpublish_course(
    State(state): State<AppState>,
    actor: Actor,
    idem: Idem,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let out = courses_op::unpublish(&state, &actor_of(&actor), &id, &idem.reply(StatusCode::OK)).await?;
    idem.respond(StatusCode::OK, &out)
}

// ---------------------------------------------------------------------------
// Reviews
// ---------------------------------------------------------------------------

#[utoipa::path(post, path = "/v1/courses/{id}/reviews", tag = "marketplace", request_body = ReviewCreate,
    params(("id" = String, Path, description = "Course or bundle id")),
    responses((status = 201, body = Review), (status = 400, body = crate::error::ErrorEnvelope),
              (status = 403, body = crate::error::ErrorEnvelope), (status = 409, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn create_review(
    State(state): State<AppState>,
    caller: Caller,
    idem: Idem,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<ReviewCreate>,
) -> ApiResult<Response> {
    let out = reviews::create(&state, &platform(&caller), &id, b, &idem.reply(StatusCode::CREATED)).await?;
    idem.respond(StatusCode::CREATED, &out)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ReviewListParams {
    /// Include moderated (hidden) reviews.
    pub include_hidden: Option<bool>,
}

#[utoipa::path(get, path = "/v1/courses/{id}/reviews", tag = "marketplace",
    params(("id" = String, Path, description = "Course or bundle id"), ReviewListParams),
    responses((status = 200, body = ListResponse<Review>), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn list_reviews(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<ReviewListParams>,
) -> ApiResult<Json<ListResponse<Review>>> {
    let data = reviews::list(&state, &actor_of(&actor), &id, q.include_hidden.unwrap_or(false)).await?;
    Ok(Json(ListResponse { object: "list", data, has_more: false, url: "/v1/courses/reviews".into() }))
}

#[utoipa::path(post, path = "/v1/reviews/{id}", tag = "marketplace", request_body = ReviewUpdate,
    params(("id" = String, Path, description = "Review id")),
    responses((status = 200, body = Review), (status = 400, body = crate::error::ErrorEnvelope),
              (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn update_review(
    State(state): State<AppState>,
    caller: Caller,
    idem: Idem,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<ReviewUpdate>,
) -> ApiResult<Response> {
    let out = reviews::update(&state, &platform(&caller), &id, b, &idem.reply(StatusCode::OK)).await?;
    idem.respond(StatusCode::OK, &out)
}

#[utoipa::path(post, path = "/v1/reviews/{id}/reply", tag = "marketplace", request_body = ReviewReply,
    params(("id" = String, Path, description = "Review id")),
    responses((status = 200, body = Review), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn reply_review(
    State(state): State<AppState>,
    actor: Actor,
    idem: Idem,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<ReviewReply>,
) -> ApiResult<Response> {
    let out = reviews::answer(&state, &actor_of(&actor), &id, b, &idem.reply(StatusCode::OK)).await?;
    idem.respond(StatusCode::OK, &out)
}

#[utoipa::path(post, path = "/v1/reviews/{id}/moderate", tag = "marketplace", request_body = ReviewModeration,
    params(("id" = String, Path, description = "Review id")),
    responses((status = 200, body = Review), (status = 400, body = crate::error::ErrorEnvelope),
              (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn moderate_review(
    State(state): State<AppState>,
    caller: Caller,
    idem: Idem,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<ReviewModeration>,
) -> ApiResult<Response> {
    let out = reviews::moderate(&state, &platform(&caller), &id, b, &idem.reply(StatusCode::OK)).await?;
    idem.respond(StatusCode::OK, &out)
}

// ---------------------------------------------------------------------------
// Wishlists
// ---------------------------------------------------------------------------

#[utoipa::path(post, path = "/v1/customers/{id}/wishlist", tag = "marketplace", request_body = WishCreate,
    params(("id" = String, Path, description = "Customer id")),
    responses((status = 200, body = Wishlist), (status = 400, body = crate::error::ErrorEnvelope),
              (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn add_wish(
    State(state): State<AppState>,
    caller: Caller,
    idem: Idem,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<WishCreate>,
) -> ApiResult<Response> {
    let out = wishlist::add(&state, &platform(&caller), &id, b, &idem.reply(StatusCode::OK)).await?;
    idem.respond(StatusCode::OK, &out)
}

#[utoipa::path(get, path = "/v1/customers/{id}/wishlist", tag = "marketplace",
    params(("id" = String, Path, description = "Customer id")),
    responses((status = 200, body = Wishlist), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn list_wishlist(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Wishlist>> {
    Ok(Json(wishlist::get(&state, &platform(&caller), &id).await?))
}

#[utoipa::path(delete, path = "/v1/customers/{id}/wishlist/{course}", tag = "marketplace",
    params(("id" = String, Path, description = "Customer id"), ("course" = String, Path, description = "Course id")),
    responses((status = 200, body = Wishlist), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn remove_wish(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, course)): Path<(String, String)>,
) -> ApiResult<Json<Wishlist>> {
    Ok(Json(wishlist::remove(&state, &platform(&caller), &id, &course).await?))
}
