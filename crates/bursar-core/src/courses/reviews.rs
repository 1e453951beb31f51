//! Reviews of courses by the learners who bought them: the course's exact
//! rating totals move with every review, edit and moderation; the
//! instructor may answer in public.

use super::course::load as load_course;
use super::{may_reach, platform};
use crate::common::{check_len, secs};
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::{Actor, Reply};
use bursar_domain::id::{is_valid, new_id, IdKind};
use bursar_store::marketplace::{self as store, CourseRow, ReviewRow};
use bursar_store::Tx;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

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

fn render(r: ReviewRow) -> Review {
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

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewReply {
    /// The instructor's public answer; empty removes it.
    pub reply: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewModeration {
    /// `hidden` or `visible`.
    pub status: String,
}

fn check_rating(r: i64) -> Result<()> {
    if !(1..=5).contains(&r) {
        return Err(Error::invalid("rating", "rating is a whole number from 1 to 5"));
    }
    Ok(())
}

/// A review by a learner who bought the course (for a bundle: any of its
/// courses); one per learner and course.
pub async fn create(ctx: &Ctx, actor: &Actor, course: &str, b: ReviewCreate, reply: &Reply) -> Result<Review> {
    let actor = platform(actor);
    let c = load_course(ctx, &actor, course).await?;
    check_rating(b.rating)?;
    check_len("title", &b.title, 200)?;
    check_len("body", &b.body, 5_000)?;
    let customer = bursar_store::customers::get(ctx.db.reader(), actor.livemode, &b.customer)
        .await?
        .filter(|c| c.deleted_at.is_none())
        .ok_or_else(|| Error::not_found("customer", "customer", &b.customer))?;
    // Purchasers only: an active enrollment (for a bundle, in any of its courses).
    let mut bought = store::is_enrolled(ctx.db.reader(), &customer.id, &c.id).await?;
    if !bought && c.kind == "bundle" {
        for m in store::bundle_items(ctx.db.reader(), &c.id).await? {
            bought |= store::is_enrolled(ctx.db.reader(), &customer.id, &m).await?;
        }
    }
    if !bought {
        return Err(Error::forbidden("not_a_purchaser", "only learners who bought this course can review it"));
    }
    let now = ctx.now_ms();
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
    let mut tx = ctx.db.begin().await?;
    if !store::insert_review(&mut tx, actor.livemode, &row).await? {
        return Err(Error::conflict(
            "review_exists",
            "this learner already reviewed this course; edit that review instead",
        ));
    }
    store::adjust_rating(&mut tx, &c.id, row.rating, 1).await?;
    let out = render(row);
    reply.commit(tx, &out).await?;
    Ok(out)
}

/// The reviews of a course the actor may reach, hidden ones on request.
pub async fn list(ctx: &Ctx, actor: &Actor, course: &str, include_hidden: bool) -> Result<Vec<Review>> {
    let c = load_course(ctx, actor, course).await?;
    let rows = store::reviews(ctx.db.reader(), actor.livemode, &c.id, include_hidden).await?;
    Ok(rows.into_iter().map(render).collect())
}

/// The visible reviews of a course, as its public page shows them.
pub async fn visible(ctx: &Ctx, livemode: bool, course: &str) -> Result<Vec<Review>> {
    let rows = store::reviews(ctx.db.reader(), livemode, course, false).await?;
    Ok(rows.into_iter().map(render).collect())
}

/// Loads a review under lock with its course, checking the actor may reach
/// the course.
async fn locked(ctx: &Ctx, tx: &mut Tx, actor: &Actor, id: &str) -> Result<(ReviewRow, CourseRow)> {
    let not_found = || Error::not_found("id", "review", id);
    if !is_valid(IdKind::Review, id) {
        return Err(not_found());
    }
    let r = store::review(tx, actor.livemode, id, ctx.db.for_update()).await?.ok_or_else(not_found)?;
    let c = store::course(&mut **tx, actor.livemode, &r.course_id).await?.ok_or_else(Error::internal)?;
    if !may_reach(actor, &c.instructor_id) {
        return Err(not_found());
    }
    Ok((r, c))
}

/// The learner's edit of their review (platform keys).
pub async fn update(ctx: &Ctx, actor: &Actor, id: &str, b: ReviewUpdate, reply: &Reply) -> Result<Review> {
    if let Some(r) = b.rating {
        check_rating(r)?;
    }
    check_len("title", &b.title, 200)?;
    check_len("body", &b.body, 5_000)?;
    let mut tx = ctx.db.begin().await?;
    let (mut r, c) = locked(ctx, &mut tx, &platform(actor), id).await?;
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
    r.updated_at = ctx.now_ms();
    store::save_review(&mut tx, &r).await?;
    let out = render(r);
    reply.commit(tx, &out).await?;
    Ok(out)
}

/// The instructor's public answer to a review (empty removes it).
pub async fn answer(ctx: &Ctx, actor: &Actor, id: &str, b: ReviewReply, reply: &Reply) -> Result<Review> {
    check_len("reply", &Some(b.reply.clone()), 5_000)?;
    let mut tx = ctx.db.begin().await?;
    let (mut r, _) = locked(ctx, &mut tx, actor, id).await?;
    let now = ctx.now_ms();
    if b.reply.trim().is_empty() {
        r.reply = None;
        r.replied_at = None;
    } else {
        r.reply = Some(b.reply);
        r.replied_at = Some(now);
    }
    r.updated_at = now;
    store::save_review(&mut tx, &r).await?;
    let out = render(r);
    reply.commit(tx, &out).await?;
    Ok(out)
}

/// Hides a review (it leaves the rating totals) or shows it again.
pub async fn moderate(ctx: &Ctx, actor: &Actor, id: &str, b: ReviewModeration, reply: &Reply) -> Result<Review> {
    if !matches!(b.status.as_str(), "hidden" | "visible") {
        return Err(Error::invalid("status", "status is hidden or visible"));
    }
    let mut tx = ctx.db.begin().await?;
    let (mut r, c) = locked(ctx, &mut tx, &platform(actor), id).await?;
    if r.status != b.status {
        // A hidden review leaves the exact totals; shown again, it returns.
        let sign = if b.status == "hidden" { -1 } else { 1 };
        store::adjust_rating(&mut tx, &c.id, sign * r.rating, sign).await?;
        r.status = b.status;
        r.updated_at = ctx.now_ms();
        store::save_review(&mut tx, &r).await?;
    }
    let out = render(r);
    reply.commit(tx, &out).await?;
    Ok(out)
}
