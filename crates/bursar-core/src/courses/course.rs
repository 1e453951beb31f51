//! Courses and bundles: creation and edits with their prices, the courses
//! a bundle holds, publishing, and the shape every interface shows a
//! course in.

use super::{check_text, instructor_of, may_reach, rating_text};
use crate::common::{check_len, secs};
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::{Actor, List, Page, Reply};
use bursar_domain::id::{is_valid, new_id, IdKind};
use bursar_store::marketplace::{self as store, CourseRow};
use bursar_store::Tx;
use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;
use std::collections::{BTreeMap, HashMap};
use utoipa::ToSchema;

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

/// What a course list asks for.
#[derive(Debug, Clone, Default)]
pub struct CourseFilter {
    /// One instructor's (an instructor session sees its own only).
    pub instructor: Option<String>,
    /// `draft`, `published` or `archived`.
    pub status: Option<String>,
}

/// One course as every interface shows it.
pub async fn render(ctx: &Ctx, c: CourseRow) -> Result<Course> {
    let mut one = render_all(ctx, vec![c]).await?;
    Ok(one.remove(0))
}

/// Courses in the order given, with the prices of all of them read in one
/// query.
pub async fn render_all(ctx: &Ctx, rows: Vec<CourseRow>) -> Result<Vec<Course>> {
    let mut conn = ctx.db.reader().acquire().await?;
    render_on(&mut conn, rows).await
}

/// [`render_all`] on one connection (a transaction's, to answer with what
/// it wrote).
pub(crate) async fn render_on(conn: &mut AnyConnection, rows: Vec<CourseRow>) -> Result<Vec<Course>> {
    let ids: Vec<String> = rows.iter().map(|c| c.id.clone()).collect();
    let mut prices: HashMap<String, BTreeMap<String, i64>> = HashMap::new();
    for (course, currency, amount) in store::prices_of(&mut *conn, &ids).await? {
        prices.entry(course).or_default().insert(currency, amount);
    }
    let mut out = Vec::with_capacity(rows.len());
    for c in rows {
        let courses = if c.kind == "bundle" { Some(store::bundle_items(&mut *conn, &c.id).await?) } else { None };
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

async fn render_in(tx: &mut Tx, c: CourseRow) -> Result<Course> {
    let mut one = render_on(&mut *tx, vec![c]).await?;
    Ok(one.remove(0))
}

fn check_prices(prices: &BTreeMap<String, i64>) -> Result<Vec<(String, i64)>> {
    if prices.is_empty() || prices.len() > 50 {
        return Err(Error::invalid("prices", "1 to 50 prices, one per currency"));
    }
    let mut out = Vec::new();
    for (c, a) in prices {
        let cur = crate::common::new_currency(&format!("prices.{c}"), c)?;
        if !(0..=100_000_000_000).contains(a) {
            return Err(Error::invalid(&format!("prices.{c}"), "a price is 0 to 100000000000 minor units"));
        }
        if out.iter().any(|(code, _)| code == cur.code()) {
            return Err(Error::invalid(&format!("prices.{c}"), format!("{} is priced twice", cur.code())));
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

fn apply_fields(c: &mut CourseRow, f: Fields) -> Result<()> {
    let Fields { subtitle, description, topics, level, language, duration, thumbnail, materials } = f;
    if let Some(s) = subtitle {
        check_len("subtitle", &Some(s.clone()), 300)?;
        c.subtitle = s;
    }
    if let Some(d) = description {
        check_len("description", &Some(d.clone()), 20_000)?;
        c.description = d;
    }
    if let Some(t) = topics {
        if t.len() > 20 || t.iter().any(|x| x.trim().is_empty() || x.chars().count() > 60) {
            return Err(Error::invalid("topics", "up to 20 topics of 1 to 60 characters"));
        }
        c.topics = serde_json::to_string(&t).map_err(|_| Error::internal())?;
    }
    if let Some(l) = level {
        if !matches!(l.as_str(), "beginner" | "intermediate" | "advanced" | "all") {
            return Err(Error::invalid("level", "level is beginner, intermediate, advanced or all"));
        }
        c.level = l;
    }
    if let Some(l) = language {
        let ok = (2..=12).contains(&l.len()) && l.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-');
        if !ok {
            return Err(Error::invalid("language", "a language tag such as `en` or `pt-BR`"));
        }
        c.language = l;
    }
    if let Some(d) = duration {
        if !(0..=100_000).contains(&d) {
            return Err(Error::invalid("duration_minutes", "duration_minutes is 0 to 100000"));
        }
        c.duration_minutes = d;
    }
    if let Some(t) = thumbnail {
        check_len("thumbnail_key", &Some(t.clone()), 1024)?;
        c.thumbnail_key = Some(t);
    }
    if let Some(m) = materials {
        if m.len() > 200 || m.iter().any(|x| x.title.trim().is_empty() || x.key.is_empty() || x.key.len() > 1024) {
            return Err(Error::invalid("materials", "up to 200 materials, each with a title and a key"));
        }
        c.materials = serde_json::to_string(&m).map_err(|_| Error::internal())?;
    }
    Ok(())
}

/// A bundle's courses: 2 to 50 distinct courses (not bundles) of its owner.
async fn check_bundle(tx: &mut Tx, livemode: bool, owner: &str, ids: &[String]) -> Result<Vec<String>> {
    let mut ids = ids.to_vec();
    ids.sort();
    ids.dedup();
    if !(2..=50).contains(&ids.len()) {
        return Err(Error::invalid("courses", "a bundle holds 2 to 50 different courses"));
    }
    let found = store::courses_by_ids(&mut **tx, livemode, &ids).await?;
    for id in &ids {
        match found.iter().find(|c| &c.id == id) {
            Some(c) if c.kind == "course" && c.instructor_id == owner => {}
            _ => return Err(Error::invalid("courses", format!("`{id}` is not one of this instructor's courses"))),
        }
    }
    Ok(ids)
}

/// Creates a draft course or bundle with its prices. An instructor session
/// creates its own; the platform names the owner.
pub async fn create(ctx: &Ctx, actor: &Actor, b: CourseCreate, reply: &Reply) -> Result<Course> {
    let owner = match (instructor_of(actor), &b.instructor) {
        (Some(me), None) => me.to_string(),
        (Some(me), Some(x)) if x == me => me.to_string(),
        (Some(_), Some(_)) => {
            return Err(Error::invalid("instructor", "an instructor creates courses of their own only"))
        }
        (None, None) => return Err(Error::missing("instructor")),
        (None, Some(x)) => {
            store::instructor(ctx.db.reader(), actor.livemode, x)
                .await?
                .ok_or_else(|| Error::not_found("instructor", "instructor", x))?
                .id
        }
    };
    let kind = b.kind.unwrap_or_else(|| "course".into());
    if !matches!(kind.as_str(), "course" | "bundle") {
        return Err(Error::invalid("kind", "kind is course or bundle"));
    }
    check_text("title", &b.title, 200)?;
    let prices = check_prices(&b.prices)?;
    let now = ctx.now_ms();
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
    let livemode = actor.livemode;
    let mut tx = ctx.db.begin().await?;
    let bundle = match (kind.as_str(), b.courses) {
        ("bundle", Some(ids)) => Some(check_bundle(&mut tx, livemode, &owner, &ids).await?),
        ("bundle", None) => return Err(Error::missing("courses")),
        (_, Some(_)) => return Err(Error::invalid("courses", "courses are for kind=bundle")),
        _ => None,
    };
    store::insert_course(&mut tx, livemode, &row).await?;
    store::set_prices(&mut tx, &row.id, &prices).await?;
    if let Some(ids) = bundle {
        store::set_bundle_items(&mut tx, &row.id, &ids).await?;
    }
    let out = render_in(&mut tx, row).await?;
    reply.commit(tx, &out).await?;
    Ok(out)
}

/// A page of courses; an instructor session sees its own only.
pub async fn list(ctx: &Ctx, actor: &Actor, f: CourseFilter, page: &Page) -> Result<List<Course>> {
    if let Some(s) = &f.status {
        if !matches!(s.as_str(), "draft" | "published" | "archived") {
            return Err(Error::invalid("status", "status is draft, published or archived"));
        }
    }
    let instructor = match (instructor_of(actor), f.instructor) {
        (Some(me), Some(x)) if x != me => return Ok(List { data: vec![], has_more: false }),
        (Some(me), _) => Some(me.to_string()),
        (None, x) => x,
    };
    let rows = store::courses(
        ctx.db.reader(),
        actor.livemode,
        instructor.as_deref(),
        f.status.as_deref(),
        page.starting_after.as_deref(),
        page.limit + 1,
    )
    .await?;
    let rows = List::from_rows(rows, page.limit);
    Ok(List { data: render_all(ctx, rows.data).await?, has_more: rows.has_more })
}

fn course_id(id: &str) -> bool {
    is_valid(IdKind::Course, id) || is_valid(IdKind::Bundle, id)
}

/// A course the actor may reach (an instructor: their own).
pub(crate) async fn load(ctx: &Ctx, actor: &Actor, id: &str) -> Result<CourseRow> {
    let not_found = || Error::not_found("id", "course", id);
    if !course_id(id) {
        return Err(not_found());
    }
    let c = store::course(ctx.db.reader(), actor.livemode, id).await?.ok_or_else(not_found)?;
    if !may_reach(actor, &c.instructor_id) {
        return Err(not_found());
    }
    Ok(c)
}

/// [`load`] inside a transaction, the row locked (PostgreSQL) so an edit
/// never writes back fields a concurrent edit changed.
async fn locked(ctx: &Ctx, tx: &mut Tx, actor: &Actor, id: &str) -> Result<CourseRow> {
    let not_found = || Error::not_found("id", "course", id);
    if !course_id(id) {
        return Err(not_found());
    }
    let c = bursar_store::order_refunds::course_locked(tx, actor.livemode, id, ctx.db.for_update())
        .await?
        .ok_or_else(not_found)?;
    if !may_reach(actor, &c.instructor_id) {
        return Err(not_found());
    }
    Ok(c)
}

/// One course or bundle.
pub async fn get(ctx: &Ctx, actor: &Actor, id: &str) -> Result<Course> {
    render(ctx, load(ctx, actor, id).await?).await
}

/// Changes a course's fields, prices or (a bundle's) courses.
pub async fn update(ctx: &Ctx, actor: &Actor, id: &str, b: CourseUpdate, reply: &Reply) -> Result<Course> {
    let mut tx = ctx.db.begin().await?;
    let mut c = locked(ctx, &mut tx, actor, id).await?;
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
    c.updated_at = ctx.now_ms();
    match (c.kind.as_str(), b.courses) {
        ("bundle", Some(ids)) => {
            let ids = check_bundle(&mut tx, actor.livemode, &c.instructor_id, &ids).await?;
            store::set_bundle_items(&mut tx, &c.id, &ids).await?;
        }
        (_, Some(_)) => return Err(Error::invalid("courses", "courses are for bundles")),
        _ => {}
    }
    store::save_course(&mut tx, &c).await?;
    if let Some(p) = prices {
        store::set_prices(&mut tx, &c.id, &p).await?;
    }
    let out = render_in(&mut tx, c).await?;
    reply.commit(tx, &out).await?;
    Ok(out)
}

/// Publishes a course (it needs a description) or a bundle (every course
/// of it published first); `course.published` on the first time.
pub async fn publish(ctx: &Ctx, actor: &Actor, id: &str, reply: &Reply) -> Result<Course> {
    let mut tx = ctx.db.begin().await?;
    let mut c = locked(ctx, &mut tx, actor, id).await?;
    if c.description.trim().is_empty() {
        return Err(Error::invalid("description", "a course needs a description before it is published"));
    }
    if c.kind == "bundle" {
        let members = store::bundle_items(&mut *tx, &c.id).await?;
        let found = store::courses_by_ids(&mut *tx, actor.livemode, &members).await?;
        if found.iter().any(|m| m.status != "published") {
            return Err(Error::invalid("courses", "every course of a bundle must be published first"));
        }
    }
    let now = ctx.now_ms();
    if c.status != "published" {
        c.status = "published".into();
        c.published_at = c.published_at.or(Some(now));
        c.updated_at = now;
        store::save_course(&mut tx, &c).await?;
        bursar_store::events::emit(
            &mut tx,
            actor.livemode,
            "course.published",
            &c.id,
            &serde_json::json!({"id": c.id, "instructor": c.instructor_id, "title": c.title}),
            now,
        )
        .await?;
    }
    let out = render_in(&mut tx, c).await?;
    reply.commit(tx, &out).await?;
    Ok(out)
}

/// Takes a published course off sale (`archived`).
pub async fn unpublish(ctx: &Ctx, actor: &Actor, id: &str, reply: &Reply) -> Result<Course> {
    let mut tx = ctx.db.begin().await?;
    let mut c = locked(ctx, &mut tx, actor, id).await?;
    if c.status == "published" {
        c.status = "archived".into();
        c.updated_at = ctx.now_ms();
        store::save_course(&mut tx, &c).await?;
    }
    let out = render_in(&mut tx, c).await?;
    reply.commit(tx, &out).await?;
    Ok(out)
}
