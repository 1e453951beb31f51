//! Instructors, their courses and bundles, reviews and wishlists, course
//! search and recommendations.
//!
//! The platform's secret key reaches everything; an instructor session
//! (`bis_…`, created by the platform) reaches only that instructor's own
//! courses and reviews of them. Someone else's course is not found for an
//! instructor, exactly as if it did not exist. An [`Actor`] of kind
//! `instructor` is such a session; any other kind acts for the platform.

pub mod course;
pub mod instructors;
pub mod pages;
pub mod recommendations;
pub mod reviews;
pub mod search;
pub mod wishlist;

use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::Actor;
use bursar_domain::id::{is_valid, IdKind};
use bursar_store::customers::{self, CustomerRow};

/// The instructor acting, when the actor is an instructor session.
pub fn instructor_of(actor: &Actor) -> Option<&str> {
    (actor.kind == "instructor").then_some(actor.id.as_str())
}

/// Whether the actor may reach what `owner` owns (the platform anything,
/// an instructor their own only).
pub fn may_reach(actor: &Actor, owner: &str) -> bool {
    instructor_of(actor).is_none_or(|me| me == owner)
}

/// An instructor session acting for `instructor`.
pub fn instructor_actor(livemode: bool, instructor: &str) -> Actor {
    Actor { livemode, kind: "instructor", id: instructor.to_string() }
}

/// The same mode, acting for the platform.
pub fn platform(actor: &Actor) -> Actor {
    if instructor_of(actor).is_some() {
        Actor { livemode: actor.livemode, kind: "api_key", id: String::new() }
    } else {
        actor.clone()
    }
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

/// A required free-text field of 1 to `max` characters.
pub(crate) fn check_text(param: &str, v: &str, max: usize) -> Result<()> {
    if v.trim().is_empty() || v.chars().count() > max {
        return Err(Error::invalid(param, format!("`{param}` is 1 to {max} characters")));
    }
    Ok(())
}

/// A customer of this mode that was not deleted (`id` names it).
pub(crate) async fn live_customer(ctx: &Ctx, livemode: bool, id: &str) -> Result<CustomerRow> {
    if !is_valid(IdKind::Customer, id) {
        return Err(Error::not_found("id", "customer", id));
    }
    customers::get(ctx.db.reader(), livemode, id)
        .await?
        .filter(|c| c.deleted_at.is_none())
        .ok_or_else(|| Error::not_found("id", "customer", id))
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
