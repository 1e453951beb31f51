//! Wishlists: the published courses a learner wants, oldest first.

use super::course::load as load_course;
use super::{live_customer, platform};
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::{Actor, Reply};
use bursar_store::marketplace as store;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

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

fn render(customer: &str, courses: Vec<String>) -> Wishlist {
    Wishlist { object: "wishlist", customer: customer.to_string(), courses }
}

/// Adds a published course to a customer's wishlist (again: no change).
pub async fn add(ctx: &Ctx, actor: &Actor, customer: &str, b: WishCreate, reply: &Reply) -> Result<Wishlist> {
    let customer = live_customer(ctx, actor.livemode, customer).await?;
    let c = load_course(ctx, &platform(actor), &b.course).await.map_err(|e| e.with_param("course"))?;
    if c.status != "published" {
        return Err(Error::invalid("course", "only published courses can be wished for"));
    }
    let mut tx = ctx.db.begin().await?;
    store::wish(&mut tx, &customer.id, &c.id, ctx.now_ms()).await?;
    let out = render(&customer.id, store::wishlist(&mut *tx, &customer.id).await?);
    reply.commit(tx, &out).await?;
    Ok(out)
}

/// A customer's wishlist.
pub async fn get(ctx: &Ctx, actor: &Actor, customer: &str) -> Result<Wishlist> {
    let customer = live_customer(ctx, actor.livemode, customer).await?;
    Ok(render(&customer.id, store::wishlist(ctx.db.reader(), &customer.id).await?))
}

/// Takes a course off a customer's wishlist.
pub async fn remove(ctx: &Ctx, actor: &Actor, customer: &str, course: &str) -> Result<Wishlist> {
    let customer = live_customer(ctx, actor.livemode, customer).await?;
    let mut tx = ctx.db.begin().await?;
    if !store::unwish(&mut tx, &customer.id, course).await? {
        return Err(Error::not_found("course", "wishlist item", course));
    }
    let out = render(&customer.id, store::wishlist(&mut *tx, &customer.id).await?);
    tx.commit().await?;
    Ok(out)
}
