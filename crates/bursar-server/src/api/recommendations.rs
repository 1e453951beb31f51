//! "Learners who bought this also bought" and personal suggestions, by
//! item-based collaborative filtering over purchases (active enrollments)
//! and completions.
//!
//! Two courses are similar by the cosine of their buyer sets:
//! `both / sqrt(buyers(x) × buyers(y))`. A learner's suggestions score each
//! course they do not hold by the sum of its similarities to the courses
//! they hold, a completed course counting double (finishing is a stronger
//! signal than buying). Only published courses are suggested; with no
//! signal at all, the best sellers are.

use super::courses::{render_course, Course};
use super::ListResponse;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Actor, ApiQuery, Caller};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::Json;
use bursar_store::marketplace as market;
use bursar_store::recommend as store;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(also_bought)).routes(routes!(for_customer))
}

/// Neighbours considered per held course.
const NEIGHBOURS: i64 = 200;

/// The cosine similarity of two buyer sets from their sizes and overlap.
pub fn similarity(both: i64, buyers_x: i64, buyers_y: i64) -> f64 {
    if both <= 0 || buyers_x <= 0 || buyers_y <= 0 {
        return 0.0;
    }
    both as f64 / ((buyers_x as f64) * (buyers_y as f64)).sqrt()
}

/// Orders scored courses, best first, ties by id (stable, deterministic).
pub fn ranked(scores: BTreeMap<String, f64>, limit: usize) -> Vec<(String, f64)> {
    let mut v: Vec<(String, f64)> = scores.into_iter().filter(|(_, s)| *s > 0.0).collect();
    v.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v.truncate(limit);
    v
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Suggestion {
    /// Similarity score (higher is closer); 0 for best-seller fallbacks.
    pub score: f64,
    pub course: Course,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RecParams {
    /// 1 to 50 (default 10).
    pub limit: Option<String>,
}

fn limit_of(p: &RecParams) -> ApiResult<usize> {
    match p.limit.as_deref() {
        None => Ok(10),
        Some(s) => s
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=50).contains(n))
            .ok_or_else(|| ApiError::invalid("limit", "limit is 1 to 50")),
    }
}

/// Similarities of every neighbour of `course` (co-bought at least once).
async fn neighbours(state: &AppState, course: &str) -> ApiResult<BTreeMap<String, f64>> {
    let r = state.db.reader();
    let co = store::co_enrolled(r, course, NEIGHBOURS).await?;
    let mut ids: Vec<String> = co.iter().map(|(c, _)| c.clone()).collect();
    ids.push(course.to_string());
    let sizes: BTreeMap<String, i64> = store::holders(r, &ids).await?.into_iter().collect();
    let n_x = sizes.get(course).copied().unwrap_or(0);
    Ok(co
        .into_iter()
        .map(|(c, both)| {
            let s = similarity(both, n_x, sizes.get(&c).copied().unwrap_or(0));
            (c, s)
        })
        .collect())
}

/// Keeps published courses, renders them in score order.
async fn render(
    state: &AppState,
    livemode: bool,
    scored: Vec<(String, f64)>,
    url: &str,
) -> ApiResult<ListResponse<Suggestion>> {
    let ids: Vec<String> = scored.iter().map(|(c, _)| c.clone()).collect();
    let rows = market::courses_by_ids(state.db.reader(), livemode, &ids).await?;
    let mut data = Vec::new();
    for (id, score) in scored {
        if let Some(c) = rows.iter().find(|c| c.id == id && c.status == "published") {
            data.push(Suggestion { score, course: render_course(state, c.clone()).await? });
        }
    }
    let n = data.len() as i64;
    Ok(ListResponse::from_rows(data, n, url))
}

#[utoipa::path(get, path = "/v1/courses/{id}/also_bought", tag = "marketplace",
    params(("id" = String, Path, description = "Course or bundle id"), RecParams),
    responses((status = 200, body = ListResponse<Suggestion>), (status = 400, body = crate::error::ErrorEnvelope),
              (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn also_bought(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(p): ApiQuery<RecParams>,
) -> ApiResult<Json<ListResponse<Suggestion>>> {
    let limit = limit_of(&p)?;
    // Co-purchases are the platform's data: its key only.
    let actor = Actor::Platform { livemode: caller.livemode };
    let c = market::course(state.db.reader(), actor.livemode(), &id)
        .await?
        .ok_or_else(|| ApiError::not_found("id", "course", &id))?;
    // A bundle stands for its courses.
    let members =
        if c.kind == "bundle" { market::bundle_items(state.db.reader(), &c.id).await? } else { vec![c.id.clone()] };
    let mut scores: BTreeMap<String, f64> = BTreeMap::new();
    for m in &members {
        for (other, s) in neighbours(&state, m).await? {
            *scores.entry(other).or_default() += s;
        }
    }
    for m in members.iter().chain(std::iter::once(&c.id)) {
        scores.remove(m);
    }
    let top = ranked(scores, limit);
    Ok(Json(render(&state, actor.livemode(), top, &format!("/v1/courses/{id}/also_bought")).await?))
}

#[utoipa::path(get, path = "/v1/customers/{id}/recommendations", tag = "marketplace",
    params(("id" = String, Path, description = "Customer id"), RecParams),
    responses((status = 200, body = ListResponse<Suggestion>), (status = 400, body = crate::error::ErrorEnvelope),
              (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn for_customer(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(p): ApiQuery<RecParams>,
) -> ApiResult<Json<ListResponse<Suggestion>>> {
    let limit = limit_of(&p)?;
    let customer = super::customers::load_live(&state, &caller, &id).await?;
    let held = store::held_by(state.db.reader(), &customer.id).await?;
    let owned: BTreeSet<String> = held.iter().map(|(c, _)| c.clone()).collect();
    let mut scores: BTreeMap<String, f64> = BTreeMap::new();
    for (course, completed) in &held {
        let weight = if *completed { 2.0 } else { 1.0 };
        for (other, s) in neighbours(&state, course).await? {
            if !owned.contains(&other) {
                *scores.entry(other).or_default() += weight * s;
            }
        }
    }
    let mut top = ranked(scores, limit);
    if top.len() < limit {
        // Not enough signal: best sellers the learner does not hold.
        let have: BTreeSet<String> = top.iter().map(|(c, _)| c.clone()).collect();
        for c in store::best_selling(state.db.reader(), caller.livemode, (limit * 3) as i64).await? {
            if top.len() == limit {
                break;
            }
            if !owned.contains(&c) && !have.contains(&c) {
                top.push((c, 0.0));
            }
        }
    }
    let url = format!("/v1/customers/{}/recommendations", customer.id);
    Ok(Json(render(&state, caller.livemode, top, &url).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_of_buyer_sets() {
        assert_eq!(similarity(0, 10, 10), 0.0);
        assert!((similarity(5, 10, 10) - 0.5).abs() < 1e-12);
        // The same overlap means more between two niche courses than two hits.
        assert!(similarity(5, 10, 10) > similarity(5, 100, 100));
    }

    #[test]
    fn ranking_is_by_score_then_id() {
        let s =
            BTreeMap::from([("b".to_string(), 0.5), ("a".to_string(), 0.5), ("c".to_string(), 0.9), ("d".into(), 0.0)]);
        let r: Vec<String> = ranked(s, 10).into_iter().map(|x| x.0).collect();
        assert_eq!(r, vec!["c", "a", "b"]);
    }
}
