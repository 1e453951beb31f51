//! What an instructor's dashboard shows, as data: their courses (students,
//! completion, average score, revenue) and forms, and the item analysis of
//! one of their forms. The platform's key reaches any instructor; an
//! instructor's own session (`bis_…`) only themselves.

use crate::error::ApiResult;
use crate::extract::Actor;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::Json;
use bursar_core::learning::instructor::{self, InstructorLearning};
use bursar_core::learning::statistics::ItemStatistics;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(instructor_learning)).routes(routes!(instructor_form_statistics))
}

fn core_actor(a: &Actor) -> bursar_core::Actor {
    match a {
        Actor::Platform { livemode } => bursar_core::Actor { livemode: *livemode, kind: "api_key", id: String::new() },
        Actor::Instructor { livemode, id } => bursar_core::courses::instructor_actor(*livemode, id),
    }
}

#[utoipa::path(get, path = "/v1/instructors/{id}/learning", tag = "learning",
    params(("id" = String, Path, description = "Instructor id or the platform's user id")),
    responses((status = 200, body = InstructorLearning), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn instructor_learning(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
) -> ApiResult<Json<InstructorLearning>> {
    Ok(Json(instructor::overview(&state, &core_actor(&actor), &id).await?))
}

#[utoipa::path(get, path = "/v1/instructors/{id}/assessments/{form}/item_statistics", tag = "learning",
    params(("id" = String, Path, description = "Instructor id or the platform's user id"),
           ("form" = String, Path, description = "`asm_…` or the platform's id of one of the instructor's forms")),
    responses((status = 200, body = ItemStatistics), (status = 404, body = crate::error::ErrorEnvelope),
              (status = 409, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn instructor_form_statistics(
    State(state): State<AppState>,
    actor: Actor,
    Path((id, form)): Path<(String, String)>,
) -> ApiResult<Json<ItemStatistics>> {
    Ok(Json(instructor::form_statistics(&state, &core_actor(&actor), &id, &form).await?))
}
