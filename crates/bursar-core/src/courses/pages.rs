//! What the public course pages show: a published course with its owner's
//! name and visible reviews, and the published courses a sitemap lists.

use super::course::{render, Course};
use super::reviews::{self, Review};
use crate::ctx::Ctx;
use crate::error::Result;
use bursar_domain::id::{is_valid, IdKind};
use bursar_store::marketplace as store;

/// A published course as its public page shows it.
pub struct PublicCourse {
    pub course: Course,
    /// The instructor's name (empty if unknown).
    pub instructor: String,
    /// Visible reviews, as the API lists them.
    pub reviews: Vec<Review>,
}

/// A published course of this mode, or `None` (no such id, not published).
pub async fn public_course(ctx: &Ctx, livemode: bool, id: &str) -> Result<Option<PublicCourse>> {
    if !(is_valid(IdKind::Course, id) || is_valid(IdKind::Bundle, id)) {
        return Ok(None);
    }
    let r = ctx.db.reader();
    let Some(c) = store::course(r, livemode, id).await?.filter(|c| c.status == "published") else {
        return Ok(None);
    };
    let instructor = store::instructor(r, livemode, &c.instructor_id).await?.map(|i| i.name).unwrap_or_default();
    let reviews = reviews::visible(ctx, livemode, &c.id).await?;
    Ok(Some(PublicCourse { course: render(ctx, c).await?, instructor, reviews }))
}

/// The ids of published courses with their last change (epoch ms), by id,
/// at most `limit`.
pub async fn published(ctx: &Ctx, livemode: bool, limit: i64) -> Result<Vec<(String, i64)>> {
    Ok(bursar_store::marketplace::published_courses(ctx.db.reader(), livemode, limit).await?)
}
