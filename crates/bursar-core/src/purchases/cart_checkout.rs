//! A cart's checkout: the session that sells what the cart holds.

use crate::actor::Actor;
use crate::basket;
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::idempotency::Reply;
use crate::marketplace::carts::{cart_plan, covered, priced_items, session_of};
use crate::sessions::{self, Session};
use bursar_domain::id::{is_valid, new_id, IdKind};
use bursar_store::marketplace as store;
use serde::Deserialize;
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CartCheckout {
    /// Default: Bursar's own receipt page, `/checkout/{id}/thanks`.
    pub success_url: Option<String>,
    /// Default: Bursar's own page, `/checkout/{id}/left`.
    pub cancel_url: Option<String>,
}

/// Opens the cart's checkout, or returns the one still open. The answer is
/// stored for the idempotency key in the transaction that opens it.
pub async fn checkout(ctx: &Ctx, actor: &Actor, id: &str, b: CartCheckout, reply: &Reply) -> Result<Session> {
    let livemode = actor.livemode;
    let session_id = new_id(IdKind::CheckoutSession);
    let (success_url, cancel_url) =
        sessions::return_urls(ctx, &session_id, b.success_url.clone(), b.cancel_url.clone())?;
    let not_found = || Error::not_found("id", "cart", id);
    if !is_valid(IdKind::Cart, id) {
        return Err(not_found());
    }
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let mut cart = store::cart(&mut tx, livemode, id, ctx.db.for_update()).await?.ok_or_else(not_found)?;
    if cart.status == "ordered" {
        return Err(Error::conflict("cart_ordered", "this cart was already paid for"));
    }
    // A checkout still open is the cart's checkout: the same one again.
    if let Some(sid) = &cart.checkout_session_id {
        if let Some(mut s) = bursar_store::checkout::get(&mut *tx, sid).await? {
            if s.status == "open" && s.expires_at > now {
                let out = sessions::render(ctx, &mut tx, s).await?;
                reply.commit(tx, &out).await?;
                return Ok(out);
            }
            if s.status == "complete" {
                return Err(Error::conflict("cart_ordered", "this cart was already paid for"));
            }
            if s.status == "open" {
                // Past its time but not yet swept: replaced only if no
                // payment of it may still succeed (the buyer could be on the
                // provider's page); a late success still finds this cart.
                // One that issued an invoice is left to the expiry job
                // (which asks the provider and voids the invoice).
                if s.invoice_id.is_some() {
                    return Err(Error::conflict(
                        "checkout_in_progress",
                        "this cart's previous checkout is being closed; try again in a minute",
                    ));
                }
                s.status = "expired".into();
                bursar_store::checkout::save(&mut tx, &s).await?;
            }
        }
    }
    let (items, _) = priced_items(&mut tx, livemode, &cart, true).await?;
    let (plan, _) = cart_plan(&mut tx, livemode, &cart, true).await?;
    if items.is_empty() && plan.is_none() {
        return Err(Error::invalid("items", "the cart is empty"));
    }
    // Bought elsewhere since it was put in the cart: not sold twice.
    for (i, it) in items.iter().enumerate() {
        let id = it.course.clone().unwrap_or_default();
        let mut owned = true;
        for m in covered(&mut tx, &id).await? {
            owned &= store::is_enrolled(&mut *tx, &cart.customer_id, &m).await?;
        }
        if owned {
            return Err(Error::invalid(
                &format!("items[{i}]"),
                format!("the customer is already enrolled in `{}`", it.description),
            ));
        }
    }
    let mut s = session_of(&cart, livemode, &items, plan.as_ref())?;
    s.id = session_id;
    s.success_url = success_url;
    s.cancel_url = cancel_url;
    s.form_token = basket::form_token();
    s.expires_at = now + basket::SESSION_HOURS * 3_600_000;
    s.created_at = now;
    basket::validate_coupon(&mut tx, &s, now).await.map_err(|e| e.with_param("coupon"))?;
    bursar_store::checkout::insert(&mut tx, &s).await?;
    bursar_store::order_refunds::link_session(&mut tx, &s.id, &cart.id).await?;
    cart.status = "checked_out".into();
    cart.checkout_session_id = Some(s.id.clone());
    cart.updated_at = now;
    store::save_cart(&mut tx, &cart).await?;
    let out = sessions::render(ctx, &mut tx, s).await?;
    reply.commit(tx, &out).await?;
    Ok(out)
}
