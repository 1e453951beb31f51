//! Instructors, their courses and bundles, reviews and wishlists.
//!
//! The platform's secret key reaches everything; an instructor session
//! (`bis_…`, created by the platform) reaches only that instructor's own
//! courses, reviews of them, earnings and payouts. Someone else's course
//! is not found for an instructor, exactly as if it did not exist.

use super::{commit_json, secs, ListResponse};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Actor, ApiJson, ApiQuery, Caller, ListParams};
use crate::middleware::{sha256_hex, Idem};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use bursar_domain::id::{is_valid, new_id, IdKind};
use bursar_domain::money::Currency;
use bursar_store::customers;
use bursar_store::marketplace::{self as store, CourseRow, InstructorRow, ReviewRow};
use rand::distr::{Alphanumeric, SampleString};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

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

// ---------------------------------------------------------------------------
// Instructors
// ---------------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct Instructor {
    pub id: String,
    /// Always `instructor`.
    pub object: &'static str,
    /// The platform's user id.
    pub external_id: String,
    pub name: String,
    pub email: Option<String>,
    /// `standard` or `enterprise`.
    pub tier: String,
    /// The share of each sale's net the instructor earns, basis points
    /// (agreed, else the tier's: 7000 standard, 7500 enterprise).
    pub share_bps: i64,
    /// Whether `share_bps` was agreed with this instructor.
    pub share_agreed: bool,
    /// `sandbox`, `bank_transfer`, `stripe_connect` or `paypal`.
    pub payout_method: String,
    #[schema(value_type = Object)]
    pub payout_details: serde_json::Value,
    pub created: i64,
}

fn render_instructor(r: InstructorRow) -> Instructor {
    Instructor {
        share_bps: bursar_domain::marketplace::share_bps(&r.tier, r.share_bps),
        share_agreed: r.share_bps.is_some(),
        id: r.id,
        object: "instructor",
        external_id: r.external_id,
        name: r.name,
        email: r.email,
        tier: r.tier,
        payout_method: r.payout_method,
        payout_details: serde_json::from_str(&r.payout_details).unwrap_or_default(),
        created: secs(r.created_at),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstructorCreate {
    /// The platform's user id (unique).
    pub external_id: String,
    pub name: String,
    pub email: Option<String>,
    /// `standard` (default) or `enterprise`.
    pub tier: Option<String>,
    /// A share agreed with this instructor, basis points (0 to 10000).
    pub share_bps: Option<i64>,
    /// `sandbox` (default in test mode), `bank_transfer`, `stripe_connect` or
    /// `paypal`.
    pub payout_method: Option<String>,
    /// For `bank_transfer`: `{"iban": "…", "account_name": "…"}`; for
    /// `stripe_connect`: `{"account": "acct_…"}`; for `paypal`:
    /// `{"email": "…"}`.
    #[schema(value_type = Option<Object>)]
    pub payout_details: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstructorUpdate {
    pub name: Option<String>,
    pub email: Option<String>,
    pub tier: Option<String>,
    /// A new agreed share; `null` keeps the current one.
    pub share_bps: Option<i64>,
    /// `true`: forget the agreed share, use the tier's.
    pub clear_share: Option<bool>,
    pub payout_method: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub payout_details: Option<serde_json::Value>,
}

fn check_text(param: &str, v: &str, max: usize) -> ApiResult<()> {
    if v.trim().is_empty() || v.chars().count() > max {
        return Err(ApiError::invalid(param, format!("`{param}` is 1 to {max} characters")));
    }
    Ok(())
}

pub(crate) fn check_payout(
    providers: &bursar_core::providers::Providers,
    method: &str,
    details: &serde_json::Value,
    livemode: bool,
) -> ApiResult<()> {
    match method {
        "sandbox" if livemode => Err(ApiError::invalid("payout_method", "the sandbox pays test-mode payees only")),
        "sandbox" => Ok(()),
        "bank_transfer" => {
            let iban = details.get("iban").and_then(|v| v.as_str()).unwrap_or_default();
            let ok = (15..=34).contains(&iban.len())
                && iban.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
                && iban[..2].chars().all(|c| c.is_ascii_uppercase());
            if !ok {
                return Err(ApiError::invalid(
                    "payout_details.iban",
                    "an IBAN of 15 to 34 upper-case letters and digits",
                ));
            }
            Ok(())
        }
        "stripe_connect" | "paypal" => Ok(bursar_core::payouts::check_method(providers, method, details, livemode)?),
        _ => {
            Err(ApiError::invalid("payout_method", "payout_method is sandbox, bank_transfer, stripe_connect or paypal"))
        }
    }
}

#[utoipa::path(post, path = "/v1/instructors", tag = "marketplace", request_body = InstructorCreate,
    responses((status = 201, body = Instructor), (status = 400, body = crate::error::ErrorEnvelope),
              (status = 409, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn create_instructor(
    State(state): State<AppState>,
    caller: Caller,
    Idem(idem): Idem,
    ApiJson(b): ApiJson<InstructorCreate>,
) -> ApiResult<Response> {
    check_text("external_id", &b.external_id, 255)?;
    check_text("name", &b.name, 200)?;
    super::check_len("email", &b.email, 320)?;
    let tier = b.tier.unwrap_or_else(|| "standard".into());
    if !matches!(tier.as_str(), "standard" | "enterprise") {
        return Err(ApiError::invalid("tier", "tier is standard or enterprise"));
    }
    if b.share_bps.is_some_and(|s| !(0..=10_000).contains(&s)) {
        return Err(ApiError::invalid("share_bps", "share_bps is 0 to 10000"));
    }
    let method = b.payout_method.unwrap_or_else(|| "sandbox".into());
    let details = b.payout_details.unwrap_or_else(|| serde_json::json!({}));
    check_payout(&state.providers, &method, &details, caller.livemode)?;
    let now = state.now_ms();
    let row = InstructorRow {
        id: new_id(IdKind::Instructor),
        external_id: b.external_id,
        name: b.name,
        email: b.email,
        tier,
        share_bps: b.share_bps,
        payout_method: method,
        payout_details: details.to_string(),
        created_at: now,
        updated_at: now,
    };
    let mut tx = state.db.begin().await?;
    if store::instructor(&mut *tx, caller.livemode, &row.external_id).await?.is_some() {
        return Err(ApiError::conflict("instructor_exists", "an instructor with this external_id exists"));
    }
    store::insert_instructor(&mut tx, caller.livemode, &row).await?;
    commit_json(tx, idem.as_ref(), StatusCode::CREATED, &render_instructor(row)).await
}

#[utoipa::path(get, path = "/v1/instructors", tag = "marketplace", params(ListParams),
    responses((status = 200, body = ListResponse<Instructor>)), security(("api_key" = [])))]
async fn list_instructors(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(page): ApiQuery<ListParams>,
) -> ApiResult<Json<ListResponse<Instructor>>> {
    let limit = page.limit()?;
    let rows =
        store::instructors(state.db.reader(), caller.livemode, page.starting_after.as_deref(), limit + 1).await?;
    Ok(Json(ListResponse::from_rows(rows.into_iter().map(render_instructor).collect(), limit, "/v1/instructors")))
}

/// An instructor the actor may reach: the platform any, an instructor
/// themself only (others are not found).
async fn load_instructor(state: &AppState, actor: &Actor, key: &str) -> ApiResult<InstructorRow> {
    let not_found = || ApiError::not_found("id", "instructor", key);
    let row = store::instructor(state.db.reader(), actor.livemode(), key).await?.ok_or_else(not_found)?;
    if !actor.may_reach(&row.id) {
        return Err(not_found());
    }
    Ok(row)
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
    Ok(Json(render_instructor(load_instructor(&state, &actor, &id).await?)))
}

#[utoipa::path(post, path = "/v1/instructors/{id}", tag = "marketplace", request_body = InstructorUpdate,
    params(("id" = String, Path, description = "Instructor id or the platform's user id")),
    responses((status = 200, body = Instructor), (status = 400, body = crate::error::ErrorEnvelope),
              (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn update_instructor(
    State(state): State<AppState>,
    caller: Caller,
    Idem(idem): Idem,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<InstructorUpdate>,
) -> ApiResult<Response> {
    let actor = Actor::Platform { livemode: caller.livemode };
    let mut row = load_instructor(&state, &actor, &id).await?;
    if let Some(n) = b.name {
        check_text("name", &n, 200)?;
        row.name = n;
    }
    if b.email.is_some() {
        super::check_len("email", &b.email, 320)?;
        row.email = b.email;
    }
    if let Some(t) = b.tier {
        if !matches!(t.as_str(), "standard" | "enterprise") {
            return Err(ApiError::invalid("tier", "tier is standard or enterprise"));
        }
        row.tier = t;
    }
    if let Some(s) = b.share_bps {
        if !(0..=10_000).contains(&s) {
            return Err(ApiError::invalid("share_bps", "share_bps is 0 to 10000"));
        }
        row.share_bps = Some(s);
    }
    if b.clear_share == Some(true) {
        row.share_bps = None;
    }
    if b.payout_method.is_some() || b.payout_details.is_some() {
        let method = b.payout_method.unwrap_or(row.payout_method.clone());
        let details = b.payout_details.unwrap_or_else(|| serde_json::from_str(&row.payout_details).unwrap_or_default());
        check_payout(&state.providers, &method, &details, caller.livemode)?;
        row.payout_method = method;
        row.payout_details = details.to_string();
    }
    row.updated_at = state.now_ms();
    let mut tx = state.db.begin().await?;
    store::save_instructor(&mut tx, &row).await?;
    commit_json(tx, idem.as_ref(), StatusCode::OK, &render_instructor(row)).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionCreate {
    /// Lifetime in seconds: 60 to 86400 (default 3600).
    pub ttl_seconds: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InstructorSession {
    /// Always `instructor_session`.
    pub object: &'static str,
    pub instructor: String,
    /// The bearer token (`bis_…`); shown once.
    pub token: String,
    pub expires_at: i64,
}

#[utoipa::path(post, path = "/v1/instructors/{id}/sessions", tag = "marketplace", request_body = SessionCreate,
    params(("id" = String, Path, description = "Instructor id or the platform's user id")),
    responses((status = 201, body = InstructorSession), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn create_instructor_session(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<SessionCreate>,
) -> ApiResult<Response> {
    let ins = load_instructor(&state, &Actor::Platform { livemode: caller.livemode }, &id).await?;
    let ttl = b.ttl_seconds.unwrap_or(3600);
    if !(60..=86_400).contains(&ttl) {
        return Err(ApiError::invalid("ttl_seconds", "ttl_seconds is 60 to 86400"));
    }
    let token = format!("bis_{}", Alphanumeric.sample_string(&mut rand::rng(), 40));
    let now = state.now_ms();
    let expires = now + ttl * 1000;
    let mut tx = state.db.begin().await?;
    store::insert_instructor_session(&mut tx, caller.livemode, &sha256_hex(token.as_bytes()), &ins.id, expires, now)
        .await?;
    // Never stored for idempotent replay: the token is shown once.
    commit_json(
        tx,
        None,
        StatusCode::CREATED,
        &InstructorSession { object: "instructor_session", instructor: ins.id, token, expires_at: secs(expires) },
    )
    .await
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionsRevoked {
    /// Always `instructor_sessions_revoked`.
    pub object: &'static str,
    pub instructor: String,
    /// Sessions ended.
    pub revoked: u64,
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
    let ins = load_instructor(&state, &Actor::Platform { livemode: caller.livemode }, &id).await?;
    let mut tx = state.db.begin().await?;
    let revoked = bursar_store::order_refunds::revoke_instructor_sessions(&mut tx, &ins.id).await?;
    tx.commit().await?;
    Ok(Json(SessionsRevoked { object: "instructor_sessions_revoked", instructor: ins.id, revoked }))
}

// ---------------------------------------------------------------------------
// Courses and bundles
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Material {
    pub title: String,
    /// The object's key in the platform's storage.
    pub key: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Course {
    pub id: String,
    /// `course` or `bundle`.
    pub object: String,
    pub instructor: String,
    pub title: String,
    pub subtitle: String,
    pub description: String,
    pub topics: Vec<String>,
    /// `beginner`, `intermediate`, `advanced` or `all`.
    pub level: String,
    /// BCP 47 language tag (`en`, `pt-BR`).
    pub language: String,
    pub duration_minutes: i64,
    pub thumbnail_key: Option<String>,
    pub materials: Vec<Material>,
    /// `draft`, `published` or `archived`.
    pub status: String,
    /// Price per currency, minor units.
    pub prices: BTreeMap<String, i64>,
    /// Bundles: the courses they contain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub courses: Option<Vec<String>>,
    /// Exact totals over visible reviews: the average is `rating_sum / rating_count`.
    pub rating_sum: i64,
    pub rating_count: i64,
    /// The average to two decimals, as a string ("4.67"); null without reviews.
    pub rating: Option<String>,
    pub sales_count: i64,
    pub published_at: Option<i64>,
    pub created: i64,
    pub updated: i64,
}

/// The average of integer ratings to two decimals, rounded half up, from
/// the exact totals.
pub fn rating_text(sum: i64, count: i64) -> Option<String> {
    if count <= 0 {
        return None;
    }
    let hundredths = (sum * 200 + count) / (2 * count);
    Some(format!("{}.{:02}", hundredths / 100, hundredths % 100))
}

pub(crate) async fn render_course(state: &AppState, c: CourseRow) -> ApiResult<Course> {
    let mut one = render_courses(state, vec![c]).await?;
    Ok(one.remove(0))
}

/// Courses as the API shows them, in the order given, with the prices of
/// all of them read in one query.
pub(crate) async fn render_courses(state: &AppState, rows: Vec<CourseRow>) -> ApiResult<Vec<Course>> {
    let ids: Vec<String> = rows.iter().map(|c| c.id.clone()).collect();
    let mut prices: std::collections::HashMap<String, BTreeMap<String, i64>> = std::collections::HashMap::new();
    for (course, currency, amount) in store::prices_of(state.db.reader(), &ids).await? {
        prices.entry(course).or_default().insert(currency, amount);
    }
    let mut out = Vec::with_capacity(rows.len());
    for c in rows {
        let courses =
            if c.kind == "bundle" { Some(store::bundle_items(state.db.reader(), &c.id).await?) } else { None };
        out.push(Course {
            rating: rating_text(c.rating_sum, c.rating_count),
            prices: prices.remove(&c.id).unwrap_or_default(),
            id: c.id,
            object: c.kind,
            instructor: c.instructor_id,
            title: c.title,
            subtitle: c.subtitle,
            description: c.description,
            topics: serde_json::from_str(&c.topics).unwrap_or_default(),
            level: c.level,
            language: c.language,
            duration_minutes: c.duration_minutes,
            thumbnail_key: c.thumbnail_key,
            materials: serde_json::from_str(&c.materials).unwrap_or_default(),
            status: c.status,
            courses,
            rating_sum: c.rating_sum,
            rating_count: c.rating_count,
            sales_count: c.sales_count,
            published_at: c.published_at.map(secs),
            created: secs(c.created_at),
            updated: secs(c.updated_at),
        });
    }
    Ok(out)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CourseCreate {
    /// The owner (platform keys only; an instructor session creates its own).
    pub instructor: Option<String>,
    /// `course` (default) or `bundle`.
    pub kind: Option<String>,
    pub title: String,
    pub subtitle: Option<String>,
    pub description: Option<String>,
    pub topics: Option<Vec<String>>,
    pub level: Option<String>,
    pub language: Option<String>,
    pub duration_minutes: Option<i64>,
    pub thumbnail_key: Option<String>,
    pub materials: Option<Vec<Material>>,
    /// Price per currency in minor units: `{"USD": 4999, "EUR": 4599}`.
    pub prices: BTreeMap<String, i64>,
    /// Bundles: 2 to 50 of the same instructor's courses.
    pub courses: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CourseUpdate {
    pub title: Option<String>,
    pub subtitle: Option<String>,
    pub description: Option<String>,
    pub topics: Option<Vec<String>>,
    pub level: Option<String>,
    pub language: Option<String>,
    pub duration_minutes: Option<i64>,
    pub thumbnail_key: Option<String>,
    pub materials: Option<Vec<Material>>,
    /// Replaces every price.
    pub prices: Option<BTreeMap<String, i64>>,
    pub courses: Option<Vec<String>>,
}

fn check_prices(prices: &BTreeMap<String, i64>) -> ApiResult<Vec<(String, i64)>> {
    if prices.is_empty() || prices.len() > 50 {
        return Err(ApiError::invalid("prices", "1 to 50 prices, one per currency"));
    }
    let mut out = Vec::new();
    for (c, a) in prices {
        let cur = Currency::from_code(c).map_err(|_| ApiError::invalid(&format!("prices.{c}"), "unknown currency"))?;
        if !(0..=100_000_000_000).contains(a) {
            return Err(ApiError::invalid(&format!("prices.{c}"), "a price is 0 to 100000000000 minor units"));
        }
        if out.iter().any(|(code, _)| code == cur.code()) {
            return Err(ApiError::invalid(&format!("prices.{c}"), format!("{} is priced twice", cur.code())));
        }
        out.push((cur.code().to_string(), *a));
    }
    Ok(out)
}

/// The descriptive fields creation and update share.
struct Fields {
    subtitle: Option<String>,
    description: Option<String>,
    topics: Option<Vec<String>>,
    level: Option<String>,
    language: Option<String>,
    duration: Option<i64>,
    thumbnail: Option<String>,
    materials: Option<Vec<Material>>,
}

fn apply_fields(c: &mut CourseRow, f: Fields) -> ApiResult<()> {
    let Fields { subtitle, description, topics, level, language, duration, thumbnail, materials } = f;
    if let Some(s) = subtitle {
        super::check_len("subtitle", &Some(s.clone()), 300)?;
        c.subtitle = s;
    }
    if let Some(d) = description {
        super::check_len("description", &Some(d.clone()), 20_000)?;
        c.description = d;
    }
    if let Some(t) = topics {
        if t.len() > 20 || t.iter().any(|x| x.trim().is_empty() || x.chars().count() > 60) {
            return Err(ApiError::invalid("topics", "up to 20 topics of 1 to 60 characters"));
        }
        c.topics = serde_json::to_string(&t).map_err(|_| ApiError::internal())?;
    }
    if let Some(l) = level {
        if !matches!(l.as_str(), "beginner" | "intermediate" | "advanced" | "all") {
            return Err(ApiError::invalid("level", "level is beginner, intermediate, advanced or all"));
        }
        c.level = l;
    }
    if let Some(l) = language {
        let ok = (2..=12).contains(&l.len()) && l.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-');
        if !ok {
            return Err(ApiError::invalid("language", "a language tag such as `en` or `pt-BR`"));
        }
        c.language = l;
    }
    if let Some(d) = duration {
        if !(0..=100_000).contains(&d) {
            return Err(ApiError::invalid("duration_minutes", "duration_minutes is 0 to 100000"));
        }
        c.duration_minutes = d;
    }
    if let Some(t) = thumbnail {
        super::check_len("thumbnail_key", &Some(t.clone()), 1024)?;
        c.thumbnail_key = Some(t);
    }
    if let Some(m) = materials {
        if m.len() > 200 || m.iter().any(|x| x.title.trim().is_empty() || x.key.is_empty() || x.key.len() > 1024) {
            return Err(ApiError::invalid("materials", "up to 200 materials, each with a title and a key"));
        }
        c.materials = serde_json::to_string(&m).map_err(|_| ApiError::internal())?;
    }
    Ok(())
}

/// A bundle's courses: 2 to 50 distinct courses (not bundles) of its owner.
async fn check_bundle(
    tx: &mut bursar_store::Tx,
    livemode: bool,
    owner: &str,
    ids: &[String],
) -> ApiResult<Vec<String>> {
    let mut ids = ids.to_vec();
    ids.sort();
    ids.dedup();
    if !(2..=50).contains(&ids.len()) {
        return Err(ApiError::invalid("courses", "a bundle holds 2 to 50 different courses"));
    }
    let found = store::courses_by_ids(&mut **tx, livemode, &ids).await?;
    for id in &ids {
        match found.iter().find(|c| &c.id == id) {
            Some(c) if c.kind == "course" && c.instructor_id == owner => {}
            _ => return Err(ApiError::invalid("courses", format!("`{id}` is not one of this instructor's courses"))),
        }
    }
    Ok(ids)
}

#[utoipa::path(post, path = "/v1/courses", tag = "marketplace", request_body = CourseCreate,
    responses((status = 201, body = Course), (status = 400, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn create_course(
    State(state): State<AppState>,
    actor: Actor,
    Idem(idem): Idem,
    ApiJson(b): ApiJson<CourseCreate>,
) -> ApiResult<Response> {
    let owner = match (&actor, &b.instructor) {
        (Actor::Instructor { id, .. }, None) => id.clone(),
        (Actor::Instructor { id, .. }, Some(x)) if x == id => id.clone(),
        (Actor::Instructor { .. }, Some(_)) => {
            return Err(ApiError::invalid("instructor", "an instructor creates courses of their own only"))
        }
        (Actor::Platform { .. }, None) => return Err(ApiError::missing("instructor")),
        (Actor::Platform { livemode }, Some(x)) => {
            store::instructor(state.db.reader(), *livemode, x)
                .await?
                .ok_or_else(|| ApiError::not_found("instructor", "instructor", x))?
                .id
        }
    };
    let kind = b.kind.unwrap_or_else(|| "course".into());
    if !matches!(kind.as_str(), "course" | "bundle") {
        return Err(ApiError::invalid("kind", "kind is course or bundle"));
    }
    check_text("title", &b.title, 200)?;
    let prices = check_prices(&b.prices)?;
    let now = state.now_ms();
    let mut row = CourseRow {
        id: new_id(if kind == "bundle" { IdKind::Bundle } else { IdKind::Course }),
        instructor_id: owner.clone(),
        kind: kind.clone(),
        title: b.title,
        subtitle: String::new(),
        description: String::new(),
        topics: "[]".into(),
        level: "all".into(),
        language: "en".into(),
        duration_minutes: 0,
        thumbnail_key: None,
        materials: "[]".into(),
        status: "draft".into(),
        published_at: None,
        rating_sum: 0,
        rating_count: 0,
        sales_count: 0,
        created_at: now,
        updated_at: now,
    };
    apply_fields(
        &mut row,
        Fields {
            subtitle: b.subtitle,
            description: b.description,
            topics: b.topics,
            level: b.level,
            language: b.language,
            duration: b.duration_minutes,
            thumbnail: b.thumbnail_key,
            materials: b.materials,
        },
    )?;
    let livemode = actor.livemode();
    let mut tx = state.db.begin().await?;
    let bundle = match (kind.as_str(), b.courses) {
        ("bundle", Some(ids)) => Some(check_bundle(&mut tx, livemode, &owner, &ids).await?),
        ("bundle", None) => return Err(ApiError::missing("courses")),
        (_, Some(_)) => return Err(ApiError::invalid("courses", "courses are for kind=bundle")),
        _ => None,
    };
    store::insert_course(&mut tx, livemode, &row).await?;
    store::set_prices(&mut tx, &row.id, &prices).await?;
    if let Some(ids) = bundle {
        store::set_bundle_items(&mut tx, &row.id, &ids).await?;
    }
    tx.commit().await?;
    let out = render_course(&state, row).await?;
    let tx = state.db.begin().await?;
    commit_json(tx, idem.as_ref(), StatusCode::CREATED, &out).await
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
    let page = ListParams { limit: q.limit, starting_after: q.starting_after };
    let limit = page.limit()?;
    if let Some(s) = &q.status {
        if !matches!(s.as_str(), "draft" | "published" | "archived") {
            return Err(ApiError::invalid("status", "status is draft, published or archived"));
        }
    }
    let instructor = match (actor.instructor(), q.instructor) {
        (Some(me), Some(x)) if x != me => return Ok(Json(ListResponse::from_rows(vec![], limit, "/v1/courses"))),
        (Some(me), _) => Some(me.to_string()),
        (None, x) => x,
    };
    let rows = store::courses(
        state.db.reader(),
        actor.livemode(),
        instructor.as_deref(),
        q.status.as_deref(),
        page.starting_after.as_deref(),
        limit + 1,
    )
    .await?;
    let data = render_courses(&state, rows).await?;
    Ok(Json(ListResponse::from_rows(data, limit, "/v1/courses")))
}

/// A course the actor may reach (an instructor: their own).
pub(crate) async fn load_course(state: &AppState, actor: &Actor, id: &str) -> ApiResult<CourseRow> {
    let not_found = || ApiError::not_found("id", "course", id);
    if !(is_valid(IdKind::Course, id) || is_valid(IdKind::Bundle, id)) {
        return Err(not_found());
    }
    let c = store::course(state.db.reader(), actor.livemode(), id).await?.ok_or_else(not_found)?;
    if !actor.may_reach(&c.instructor_id) {
        return Err(not_found());
    }
    Ok(c)
}

/// [`load_course`] inside a transaction, the row locked (PostgreSQL) so an
/// edit never writes back fields a concurrent edit changed.
async fn locked_course(state: &AppState, tx: &mut bursar_store::Tx, actor: &Actor, id: &str) -> ApiResult<CourseRow> {
    let not_found = || ApiError::not_found("id", "course", id);
    if !(is_valid(IdKind::Course, id) || is_valid(IdKind::Bundle, id)) {
        return Err(not_found());
    }
    let c = bursar_store::order_refunds::course_locked(tx, actor.livemode(), id, state.db.for_update())
        .await?
        .ok_or_else(not_found)?;
    if !actor.may_reach(&c.instructor_id) {
        return Err(not_found());
    }
    Ok(c)
}

#[utoipa::path(get, path = "/v1/courses/{id}", tag = "marketplace",
    params(("id" = String, Path, description = "Course or bundle id")),
    responses((status = 200, body = Course), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn get_course(State(state): State<AppState>, actor: Actor, Path(id): Path<String>) -> ApiResult<Json<Course>> {
    let c = load_course(&state, &actor, &id).await?;
    Ok(Json(render_course(&state, c).await?))
}

#[utoipa::path(post, path = "/v1/courses/{id}", tag = "marketplace", request_body = CourseUpdate,
    params(("id" = String, Path, description = "Course or bundle id")),
    responses((status = 200, body = Course), (status = 400, body = crate::error::ErrorEnvelope),
              (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn update_course(
    State(state): State<AppState>,
    actor: Actor,
    Idem(idem): Idem,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<CourseUpdate>,
) -> ApiResult<Response> {
    let mut tx = state.db.begin().await?;
    let mut c = locked_course(&state, &mut tx, &actor, &id).await?;
    if let Some(t) = b.title {
        check_text("title", &t, 200)?;
        c.title = t;
    }
    apply_fields(
        &mut c,
        Fields {
            subtitle: b.subtitle,
            description: b.description,
            topics: b.topics,
            level: b.level,
            language: b.language,
            duration: b.duration_minutes,
            thumbnail: b.thumbnail_key,
            materials: b.materials,
        },
    )?;
    let prices = b.prices.as_ref().map(check_prices).transpose()?;
    c.updated_at = state.now_ms();
    match (c.kind.as_str(), b.courses) {
        ("bundle", Some(ids)) => {
            let ids = check_bundle(&mut tx, actor.livemode(), &c.instructor_id, &ids).await?;
            store::set_bundle_items(&mut tx, &c.id, &ids).await?;
        }
        (_, Some(_)) => return Err(ApiError::invalid("courses", "courses are for bundles")),
        _ => {}
    }
    store::save_course(&mut tx, &c).await?;
    if let Some(p) = prices {
        store::set_prices(&mut tx, &c.id, &p).await?;
    }
    tx.commit().await?;
    let out = render_course(&state, c).await?;
    let tx = state.db.begin().await?;
    commit_json(tx, idem.as_ref(), StatusCode::OK, &out).await
}

#[utoipa::path(post, path = "/v1/courses/{id}/publish", tag = "marketplace",
    params(("id" = String, Path, description = "Course or bundle id")),
    responses((status = 200, body = Course), (status = 400, body = crate::error::ErrorEnvelope),
              (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn publish_course(State(state): State<AppState>, actor: Actor, Path(id): Path<String>) -> ApiResult<Response> {
    let mut tx = state.db.begin().await?;
    let mut c = locked_course(&state, &mut tx, &actor, &id).await?;
    if c.description.trim().is_empty() {
        return Err(ApiError::invalid("description", "a course needs a description before it is published"));
    }
    if c.kind == "bundle" {
        let members = store::bundle_items(&mut *tx, &c.id).await?;
        let found = store::courses_by_ids(&mut *tx, actor.livemode(), &members).await?;
        if found.iter().any(|m| m.status != "published") {
            return Err(ApiError::invalid("courses", "every course of a bundle must be published first"));
        }
    }
    let now = state.now_ms();
    if c.status != "published" {
        c.status = "published".into();
        c.published_at = c.published_at.or(Some(now));
        c.updated_at = now;
        store::save_course(&mut tx, &c).await?;
        bursar_store::events::emit(
            &mut tx,
            actor.livemode(),
            "course.published",
            &c.id,
            &serde_json::json!({"id": c.id, "instructor": c.instructor_id, "title": c.title}),
            now,
        )
        .await?;
    }
    tx.commit().await?;
    let out = render_course(&state, c).await?;
    Ok((StatusCode::OK, Json(out)).into_response())
}

#[utoipa::path(post, path = "/v1/courses/{id}/unpublish", tag = "marketplace",
    params(("id" = String, Path, description = "Course or bundle id")),
    responses((status = 200, body = Course), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn unpublish_course(State(state): State<AppState>, actor: Actor, Path(id): Path<String>) -> ApiResult<Response> {
    let mut tx = state.db.begin().await?;
    let mut c = locked_course(&state, &mut tx, &actor, &id).await?;
    if c.status == "published" {
        c.status = "archived".into();
        c.updated_at = state.now_ms();
        store::save_course(&mut tx, &c).await?;
    }
    tx.commit().await?;
    let out = render_course(&state, c).await?;
    Ok((StatusCode::OK, Json(out)).into_response())
}

// ---------------------------------------------------------------------------
// Reviews
// ---------------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct Review {
    pub id: String,
    /// Always `review`.
    pub object: &'static str,
    pub course: String,
    pub customer: String,
    /// 1 to 5.
    pub rating: i64,
    pub title: String,
    pub body: String,
    /// `visible` or `hidden` (moderated; not counted in the rating).
    pub status: String,
    pub reply: Option<String>,
    pub replied_at: Option<i64>,
    pub created: i64,
    pub updated: i64,
}

fn render_review(r: ReviewRow) -> Review {
    Review {
        id: r.id,
        object: "review",
        course: r.course_id,
        customer: r.customer_id,
        rating: r.rating,
        title: r.title,
        body: r.body,
        status: r.status,
        reply: r.reply,
        replied_at: r.replied_at.map(secs),
        created: secs(r.created_at),
        updated: secs(r.updated_at),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewCreate {
    /// The reviewing learner: must have bought the course.
    pub customer: String,
    pub rating: i64,
    pub title: Option<String>,
    pub body: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewUpdate {
    pub rating: Option<i64>,
    pub title: Option<String>,
    pub body: Option<String>,
}

fn check_rating(r: i64) -> ApiResult<()> {
    if !(1..=5).contains(&r) {
        return Err(ApiError::invalid("rating", "rating is a whole number from 1 to 5"));
    }
    Ok(())
}

#[utoipa::path(post, path = "/v1/courses/{id}/reviews", tag = "marketplace", request_body = ReviewCreate,
    params(("id" = String, Path, description = "Course or bundle id")),
    responses((status = 201, body = Review), (status = 400, body = crate::error::ErrorEnvelope),
              (status = 403, body = crate::error::ErrorEnvelope), (status = 409, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn create_review(
    State(state): State<AppState>,
    caller: Caller,
    Idem(idem): Idem,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<ReviewCreate>,
) -> ApiResult<Response> {
    let c = load_course(&state, &Actor::Platform { livemode: caller.livemode }, &id).await?;
    check_rating(b.rating)?;
    super::check_len("title", &b.title, 200)?;
    super::check_len("body", &b.body, 5_000)?;
    let customer = customers::get(state.db.reader(), caller.livemode, &b.customer)
        .await?
        .filter(|c| c.deleted_at.is_none())
        .ok_or_else(|| ApiError::not_found("customer", "customer", &b.customer))?;
    // Purchasers only: an active enrollment (for a bundle, in any of its courses).
    let mut bought = store::is_enrolled(state.db.reader(), &customer.id, &c.id).await?;
    if !bought && c.kind == "bundle" {
        for m in store::bundle_items(state.db.reader(), &c.id).await? {
            bought |= store::is_enrolled(state.db.reader(), &customer.id, &m).await?;
        }
    }
    if !bought {
        return Err(ApiError::forbidden("not_a_purchaser", "only learners who bought this course can review it"));
    }
    let now = state.now_ms();
    let row = ReviewRow {
        id: new_id(IdKind::Review),
        course_id: c.id.clone(),
        customer_id: customer.id,
        rating: b.rating,
        title: b.title.unwrap_or_default(),
        body: b.body.unwrap_or_default(),
        status: "visible".into(),
        reply: None,
        replied_at: None,
        created_at: now,
        updated_at: now,
    };
    let mut tx = state.db.begin().await?;
    if !store::insert_review(&mut tx, caller.livemode, &row).await? {
        return Err(ApiError::conflict(
            "review_exists",
            "this learner already reviewed this course; edit that review instead",
        ));
    }
    store::adjust_rating(&mut tx, &c.id, row.rating, 1).await?;
    commit_json(tx, idem.as_ref(), StatusCode::CREATED, &render_review(row)).await
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
    let c = load_course(&state, &actor, &id).await?;
    let rows = store::reviews(state.db.reader(), actor.livemode(), &c.id, q.include_hidden.unwrap_or(false)).await?;
    let n = rows.len() as i64;
    Ok(Json(ListResponse::from_rows(rows.into_iter().map(render_review).collect(), n, "/v1/courses/reviews")))
}

/// Loads a review under lock with its course, checking the actor may reach
/// the course.
async fn locked_review(
    state: &AppState,
    tx: &mut bursar_store::Tx,
    actor: &Actor,
    id: &str,
) -> ApiResult<(ReviewRow, CourseRow)> {
    let not_found = || ApiError::not_found("id", "review", id);
    if !is_valid(IdKind::Review, id) {
        return Err(not_found());
    }
    let r = store::review(tx, actor.livemode(), id, state.db.for_update()).await?.ok_or_else(not_found)?;
    let c = store::course(&mut **tx, actor.livemode(), &r.course_id).await?.ok_or_else(ApiError::internal)?;
    if !actor.may_reach(&c.instructor_id) {
        return Err(not_found());
    }
    Ok((r, c))
}

#[utoipa::path(post, path = "/v1/reviews/{id}", tag = "marketplace", request_body = ReviewUpdate,
    params(("id" = String, Path, description = "Review id")),
    responses((status = 200, body = Review), (status = 400, body = crate::error::ErrorEnvelope),
              (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn update_review(
    State(state): State<AppState>,
    caller: Caller,
    Idem(idem): Idem,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<ReviewUpdate>,
) -> ApiResult<Response> {
    if let Some(r) = b.rating {
        check_rating(r)?;
    }
    super::check_len("title", &b.title, 200)?;
    super::check_len("body", &b.body, 5_000)?;
    let mut tx = state.db.begin().await?;
    let (mut r, c) = locked_review(&state, &mut tx, &Actor::Platform { livemode: caller.livemode }, &id).await?;
    if let Some(new) = b.rating {
        if r.status == "visible" {
            store::adjust_rating(&mut tx, &c.id, new - r.rating, 0).await?;
        }
        r.rating = new;
    }
    if let Some(t) = b.title {
        r.title = t;
    }
    if let Some(t) = b.body {
        r.body = t;
    }
    r.updated_at = state.now_ms();
    store::save_review(&mut tx, &r).await?;
    commit_json(tx, idem.as_ref(), StatusCode::OK, &render_review(r)).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewReply {
    /// The instructor's public answer; empty removes it.
    pub reply: String,
}

#[utoipa::path(post, path = "/v1/reviews/{id}/reply", tag = "marketplace", request_body = ReviewReply,
    params(("id" = String, Path, description = "Review id")),
    responses((status = 200, body = Review), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn reply_review(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<ReviewReply>,
) -> ApiResult<Response> {
    super::check_len("reply", &Some(b.reply.clone()), 5_000)?;
    let mut tx = state.db.begin().await?;
    let (mut r, _) = locked_review(&state, &mut tx, &actor, &id).await?;
    let now = state.now_ms();
    if b.reply.trim().is_empty() {
        r.reply = None;
        r.replied_at = None;
    } else {
        r.reply = Some(b.reply);
        r.replied_at = Some(now);
    }
    r.updated_at = now;
    store::save_review(&mut tx, &r).await?;
    commit_json(tx, None, StatusCode::OK, &render_review(r)).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewModeration {
    /// `hidden` or `visible`.
    pub status: String,
}

#[utoipa::path(post, path = "/v1/reviews/{id}/moderate", tag = "marketplace", request_body = ReviewModeration,
    params(("id" = String, Path, description = "Review id")),
    responses((status = 200, body = Review), (status = 400, body = crate::error::ErrorEnvelope),
              (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn moderate_review(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<ReviewModeration>,
) -> ApiResult<Response> {
    if !matches!(b.status.as_str(), "hidden" | "visible") {
        return Err(ApiError::invalid("status", "status is hidden or visible"));
    }
    let mut tx = state.db.begin().await?;
    let (mut r, c) = locked_review(&state, &mut tx, &Actor::Platform { livemode: caller.livemode }, &id).await?;
    if r.status != b.status {
        // A hidden review leaves the exact totals; shown again, it returns.
        let sign = if b.status == "hidden" { -1 } else { 1 };
        store::adjust_rating(&mut tx, &c.id, sign * r.rating, sign).await?;
        r.status = b.status;
        r.updated_at = state.now_ms();
        store::save_review(&mut tx, &r).await?;
    }
    commit_json(tx, None, StatusCode::OK, &render_review(r)).await
}

// ---------------------------------------------------------------------------
// Wishlists
// ---------------------------------------------------------------------------

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WishCreate {
    pub course: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Wishlist {
    /// Always `wishlist`.
    pub object: &'static str,
    pub customer: String,
    /// Course and bundle ids, oldest first.
    pub courses: Vec<String>,
}

async fn wishlist_of(state: &AppState, customer: &str) -> ApiResult<Wishlist> {
    Ok(Wishlist {
        object: "wishlist",
        customer: customer.to_string(),
        courses: store::wishlist(state.db.reader(), customer).await?,
    })
}

#[utoipa::path(post, path = "/v1/customers/{id}/wishlist", tag = "marketplace", request_body = WishCreate,
    params(("id" = String, Path, description = "Customer id")),
    responses((status = 200, body = Wishlist), (status = 400, body = crate::error::ErrorEnvelope),
              (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn add_wish(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<WishCreate>,
) -> ApiResult<Json<Wishlist>> {
    let customer = super::customers::load_live(&state, &caller, &id).await?;
    let c = load_course(&state, &Actor::Platform { livemode: caller.livemode }, &b.course)
        .await
        .map_err(|e| e.with_param("course"))?;
    if c.status != "published" {
        return Err(ApiError::invalid("course", "only published courses can be wished for"));
    }
    let mut tx = state.db.begin().await?;
    store::wish(&mut tx, &customer.id, &c.id, state.now_ms()).await?;
    tx.commit().await?;
    Ok(Json(wishlist_of(&state, &customer.id).await?))
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
    let customer = super::customers::load_live(&state, &caller, &id).await?;
    Ok(Json(wishlist_of(&state, &customer.id).await?))
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
    let customer = super::customers::load_live(&state, &caller, &id).await?;
    let mut tx = state.db.begin().await?;
    if !store::unwish(&mut tx, &customer.id, &course).await? {
        return Err(ApiError::not_found("course", "wishlist item", &course));
    }
    tx.commit().await?;
    Ok(Json(wishlist_of(&state, &customer.id).await?))
}

#[cfg(test)]
mod tests {
    use super::rating_text;

    #[test]
    fn the_average_comes_from_exact_totals() {
        assert_eq!(rating_text(0, 0), None);
        assert_eq!(rating_text(14, 3).as_deref(), Some("4.67"));
        assert_eq!(rating_text(9, 2).as_deref(), Some("4.50"));
        assert_eq!(rating_text(5, 1).as_deref(), Some("5.00"));
        // 1.005 rounds up to 1.01.
        assert_eq!(rating_text(201, 200).as_deref(), Some("1.01"));
    }
}
