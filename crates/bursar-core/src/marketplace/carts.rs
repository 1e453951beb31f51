//! Carts: courses, bundles and at most one subscription a customer is about
//! to buy, priced in the cart's currency and taxed as the invoice will be.

use crate::actor::Actor;
use crate::basket::{self, Item};
use crate::common::secs;
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::idempotency::Reply;
use crate::plan_choice::PlanFields;
use bursar_domain::id::{is_valid, new_id, IdKind};
use bursar_store::catalog::{PlanRow, PriceRow};
use bursar_store::checkout::SessionRow;
use bursar_store::customers::CustomerRow;
use bursar_store::marketplace::{self as store, CartRow};
use bursar_store::Tx;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct CartLine {
    pub course: String,
    pub title: String,
    pub instructor: String,
    /// The price in the cart's currency, minor units (0 when unavailable).
    pub amount: i64,
    /// False when the course was unpublished (or lost its price in the
    /// cart's currency) since it was added: it is left out of the totals
    /// and checkout refuses the cart until it is removed.
    pub available: bool,
}

/// The subscription a cart starts when it is paid.
#[derive(Debug, Serialize, ToSchema)]
pub struct CartSubscription {
    /// The plan's code.
    pub plan: String,
    pub name: String,
    /// `month` or `year`.
    pub interval: String,
    pub quantity: i64,
    /// The plan's current price per seat and interval in the cart's
    /// currency, minor units (0 when unavailable).
    pub unit_amount: i64,
    /// Whether `unit_amount` includes tax (`inclusive`) or tax is added
    /// (`exclusive`).
    pub tax_behavior: String,
    /// False when the plan is no longer offered, or no longer priced in the
    /// cart's currency for the interval: it is left out of the totals and
    /// checkout refuses the cart until it is removed or replaced.
    pub available: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Cart {
    pub id: String,
    /// Always `cart`.
    pub object: &'static str,
    pub customer: String,
    pub currency: String,
    pub items: Vec<CartLine>,
    /// A subscription the cart starts, billed from the day it is paid: its
    /// first period is on the same invoice as the courses.
    pub subscription: Option<CartSubscription>,
    pub coupon: Option<String>,
    pub affiliate_click: Option<String>,
    /// Sum of the items and the subscription's first period.
    pub subtotal: i64,
    /// The coupon's discount.
    pub discount: i64,
    /// Tax for the customer's country, as the invoice will charge it,
    /// including tax already inside a tax-inclusive plan price.
    pub tax: i64,
    /// The part of `tax` inside tax-inclusive prices:
    /// `total = subtotal - discount + tax - tax_included`.
    pub tax_included: i64,
    /// Due when the cart is paid.
    pub total: i64,
    /// `open`, `checked_out` (a checkout session is open), `ordered`.
    pub status: String,
    pub checkout_session: Option<String>,
    pub created: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CartCreate {
    pub customer: String,
    /// Default: the customer's billing currency.
    pub currency: Option<String>,
    /// Courses or bundles to start with.
    pub items: Option<Vec<String>>,
    /// A subscription the cart starts when it is paid.
    pub subscription: Option<CartSubscriptionSet>,
    pub coupon: Option<String>,
    /// The affiliate click that brought the buyer (`clk_…`).
    pub affiliate_click: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CartItemAdd {
    /// A course or bundle id.
    pub course: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CartCoupon {
    /// A coupon code; `null` removes the coupon.
    pub coupon: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CartSubscriptionSet {
    /// The plan's code or id.
    pub plan: String,
    /// `month` (default) or `year`.
    pub interval: Option<String>,
    /// Seats (default 1).
    pub quantity: Option<i64>,
}

/// The plan and price of the subscription a cart starts.
pub(super) type CartPlan = (PlanRow, PriceRow);

/// A session as the cart would open it now (not stored): a subscription
/// session when the cart starts one, with its items beside the plan.
pub(crate) fn session_of(
    cart: &CartRow,
    livemode: bool,
    items: &[Item],
    plan: Option<&CartPlan>,
) -> Result<SessionRow> {
    Ok(SessionRow {
        id: cart.checkout_session_id.clone().unwrap_or_else(|| new_id(IdKind::CheckoutSession)),
        livemode,
        customer_id: cart.customer_id.clone(),
        mode: if plan.is_some() { "subscription" } else { "payment" }.into(),
        plan_id: plan.map(|p| p.0.id.clone()),
        price_id: plan.map(|p| p.1.id.clone()),
        quantity: if plan.is_some() { cart.quantity } else { 1 },
        items: serde_json::to_string(items).map_err(|_| Error::internal())?,
        currency: cart.currency.clone(),
        coupon: cart.coupon.clone(),
        success_url: String::new(),
        cancel_url: String::new(),
        status: "open".into(),
        form_token: String::new(),
        provider: None,
        subscription_id: None,
        invoice_id: None,
        payment_id: None,
        last_error: None,
        expires_at: 0,
        created_at: cart.created_at,
        completed_at: None,
        credit_grant: None,
    })
}

/// The cart's items priced in its currency, checked sellable: published,
/// priced in the currency. `param` names the field errors point at.
/// `strict`: an unavailable item is an error naming it (checkout); else it
/// is listed as unavailable and left out (showing the cart).
///
/// Reads through `conn`: inside a checkout's transaction that is the
/// transaction itself, so a request never holds one connection while it
/// waits for a second (on PostgreSQL both come from one pool, and under
/// load every connection could be held that way).
pub(crate) async fn priced_items(
    conn: &mut sqlx::AnyConnection,
    livemode: bool,
    cart: &CartRow,
    strict: bool,
) -> Result<(Vec<Item>, Vec<CartLine>)> {
    let ids = store::cart_items(&mut *conn, &cart.id).await?;
    let courses = store::courses_by_ids(&mut *conn, livemode, &ids).await?;
    let prices = store::prices_of(&mut *conn, &ids).await?;
    let mut items = Vec::new();
    let mut lines = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let c = courses.iter().find(|c| &c.id == id).ok_or_else(Error::internal)?;
        let param = format!("items[{i}]");
        let price = prices.iter().find(|(cid, cur, _)| cid == id && cur == &cart.currency).map(|(_, _, a)| *a);
        let problem = if c.status != "published" {
            Some(format!("`{}` is not published", c.title))
        } else if price.is_none() {
            Some(format!("`{}` has no price in {}", c.title, cart.currency))
        } else {
            None
        };
        if let (Some(p), true) = (&problem, strict) {
            return Err(Error::invalid(&param, p.clone()));
        }
        let amount = price.filter(|_| problem.is_none()).unwrap_or(0);
        if problem.is_none() {
            items.push(Item {
                description: c.title.clone(),
                quantity: 1,
                unit_amount: amount,
                course: Some(c.id.clone()),
            });
        }
        lines.push(CartLine {
            course: c.id.clone(),
            title: c.title.clone(),
            instructor: c.instructor_id.clone(),
            amount,
            available: problem.is_none(),
        });
    }
    Ok((items, lines))
}

/// Where a cart's plan choice points its errors.
const CART_PLAN: PlanFields = PlanFields {
    plan: "subscription.plan",
    interval: "subscription.interval",
    quantity: "subscription.quantity",
    currency: "subscription.plan",
};

/// The cart's subscription with the plan's current price. `strict`: a plan
/// that can no longer be sold is an error (checkout); else it is shown as
/// unavailable and left out.
pub(crate) async fn cart_plan(
    conn: &mut sqlx::AnyConnection,
    livemode: bool,
    cart: &CartRow,
    strict: bool,
) -> Result<(Option<CartPlan>, Option<CartSubscription>)> {
    let Some(plan_id) = &cart.plan_id else { return Ok((None, None)) };
    let interval = cart.billing_interval.clone().unwrap_or_else(|| "month".into());
    let chosen = crate::plan_choice::choose_plan(
        &mut *conn,
        livemode,
        plan_id,
        Some(&interval),
        Some(cart.quantity),
        &cart.currency,
        &CART_PLAN,
    )
    .await;
    match chosen {
        Ok((plan, price, quantity)) => {
            let line = CartSubscription {
                plan: plan.code.clone(),
                name: plan.name.clone(),
                interval,
                quantity,
                unit_amount: price.amount,
                tax_behavior: price.tax_behavior.clone(),
                available: true,
            };
            Ok((Some((plan, price)), Some(line)))
        }
        Err(e) if e.is_caller_error() && !strict => {
            let plan = bursar_store::catalog::plan_by_id(&mut *conn, livemode, plan_id).await?;
            let line = CartSubscription {
                plan: plan.as_ref().map_or_else(|| plan_id.clone(), |p| p.code.clone()),
                name: plan.map(|p| p.name).unwrap_or_default(),
                interval,
                quantity: cart.quantity,
                unit_amount: 0,
                tax_behavior: "exclusive".into(),
                available: false,
            };
            Ok((None, Some(line)))
        }
        Err(e) => Err(e.with_param("subscription")),
    }
}

/// The cart as the API shows it, priced through `conn` (the transaction's
/// own connection when answering inside one).
async fn render_in(ctx: &Ctx, conn: &mut sqlx::AnyConnection, livemode: bool, cart: CartRow) -> Result<Cart> {
    let (items, lines) = priced_items(&mut *conn, livemode, &cart, false).await?;
    let (plan, subscription) = cart_plan(&mut *conn, livemode, &cart, false).await?;
    let plan_amount = plan.as_ref().map_or(0, |(_, p)| p.amount.saturating_mul(cart.quantity));
    let subtotal: i64 = lines.iter().map(|l| l.amount).sum::<i64>() + plan_amount;
    let (discount, tax, tax_included, total) = if items.is_empty() && plan.is_none() {
        (0, 0, 0, 0)
    } else {
        let s = session_of(&cart, livemode, &items, plan.as_ref())?;
        let sum = basket::summarize_in(&mut *conn, &ctx.billing_settings(), &s).await?;
        let discount = -sum.lines.iter().map(|l| l.1).filter(|a| *a < 0).sum::<i64>();
        (discount, sum.tax, sum.tax_included, sum.total)
    };
    Ok(Cart {
        id: cart.id,
        object: "cart",
        customer: cart.customer_id,
        currency: cart.currency,
        items: lines,
        subscription,
        coupon: cart.coupon,
        affiliate_click: cart.click_id,
        subtotal,
        discount,
        tax,
        tax_included,
        total,
        status: cart.status,
        checkout_session: cart.checkout_session_id,
        created: secs(cart.created_at),
    })
}

/// Renders the changed cart inside its transaction, stores the answer for
/// the idempotency key there, and commits.
async fn answer(ctx: &Ctx, mut tx: Tx, livemode: bool, cart: CartRow, reply: &Reply) -> Result<Cart> {
    let out = render_in(ctx, &mut tx, livemode, cart).await?;
    reply.commit(tx, &out).await?;
    Ok(out)
}

/// A customer of the caller's mode that was not deleted.
pub(super) async fn live_customer(ctx: &Ctx, livemode: bool, id: &str, param: &str) -> Result<CustomerRow> {
    let not_found = || Error::not_found("id", "customer", id).with_param(param);
    if !is_valid(IdKind::Customer, id) {
        return Err(not_found());
    }
    bursar_store::customers::get(ctx.db.reader(), livemode, id)
        .await?
        .filter(|c| c.deleted_at.is_none())
        .ok_or_else(not_found)
}

/// Adds a course to a cart after checking it can be sold to the customer.
async fn add_item(tx: &mut Tx, livemode: bool, cart: &CartRow, course_id: &str, param: &str, now: i64) -> Result<()> {
    let c = if is_valid(IdKind::Course, course_id) || is_valid(IdKind::Bundle, course_id) {
        store::course(&mut **tx, livemode, course_id).await?
    } else {
        None
    }
    .ok_or_else(|| Error::not_found(param, "course", course_id))?;
    if c.status != "published" {
        return Err(Error::invalid(param, format!("`{}` is not published", c.title)));
    }
    let priced = store::prices_of(&mut **tx, std::slice::from_ref(&c.id)).await?;
    if !priced.iter().any(|(_, cur, _)| cur == &cart.currency) {
        return Err(Error::invalid(param, format!("`{}` has no price in {}", c.title, cart.currency)));
    }
    let owned = if c.kind == "bundle" {
        let members = store::bundle_items(&mut **tx, &c.id).await?;
        let mut all = !members.is_empty();
        for m in &members {
            all &= store::is_enrolled(&mut **tx, &cart.customer_id, m).await?;
        }
        all
    } else {
        store::is_enrolled(&mut **tx, &cart.customer_id, &c.id).await?
    };
    if owned {
        return Err(Error::invalid(param, format!("the customer is already enrolled in `{}`", c.title)));
    }
    // A course never comes twice: not alone and again inside a bundle.
    let mine = covered(tx, &c.id).await?;
    for other in store::cart_items(&mut **tx, &cart.id).await? {
        if other == c.id {
            continue;
        }
        let theirs = covered(tx, &other).await?;
        if mine.iter().any(|m| theirs.contains(m)) {
            return Err(Error::invalid(param, format!("`{}` overlaps `{other}`, already in the cart", c.title)));
        }
    }
    if store::cart_items(&mut **tx, &cart.id).await?.len() >= 100 {
        return Err(Error::invalid(param, "a cart holds at most 100 items"));
    }
    store::add_cart_item(tx, &cart.id, &c.id, now).await?;
    Ok(())
}

/// The courses an item stands for: a bundle's, or the course itself.
pub(crate) async fn covered(tx: &mut Tx, id: &str) -> Result<Vec<String>> {
    let members = store::bundle_items(&mut **tx, id).await?;
    Ok(if members.is_empty() { vec![id.to_string()] } else { members })
}

async fn check_cart_coupon(tx: &mut Tx, livemode: bool, cart: &CartRow, now: i64) -> Result<()> {
    if cart.coupon.is_none() {
        return Ok(());
    }
    let ids = store::cart_items(&mut **tx, &cart.id).await?;
    let courses = store::courses_by_ids(&mut **tx, livemode, &ids).await?;
    let prices = store::prices_of(&mut **tx, &ids).await?;
    let items: Vec<Item> = ids
        .iter()
        .filter_map(|id| {
            let c = courses.iter().find(|c| &c.id == id)?;
            let a = prices.iter().find(|(cid, cur, _)| cid == id && cur == &cart.currency)?.2;
            Some(Item { description: c.title.clone(), quantity: 1, unit_amount: a, course: Some(id.clone()) })
        })
        .collect();
    let (plan, _) = cart_plan(tx, livemode, cart, false).await?;
    let s = session_of(cart, livemode, &items, plan.as_ref())?;
    basket::validate_coupon(tx, &s, now).await.map_err(|e| e.with_param("coupon"))
}

/// Creates a cart; the answer is stored for the idempotency key in the
/// cart's own transaction.
pub async fn create(ctx: &Ctx, actor: &Actor, b: CartCreate, reply: &Reply) -> Result<Cart> {
    let livemode = actor.livemode;
    let customer = live_customer(ctx, livemode, &b.customer, "customer").await?;
    let currency = match &b.currency {
        Some(c) => crate::common::new_currency("currency", c)?,
        None => crate::customers::billing_currency_of(&customer),
    };
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    if let Some(click) = &b.affiliate_click {
        let Some(row) = store::click(&mut *tx, livemode, click).await? else {
            return Err(Error::not_found("affiliate_click", "affiliate click", click));
        };
        // A visit's click names no one until a cart names it for a buyer; for
        // a buyer on a test clock it then happens at the clock's time, so the
        // attribution window runs on the clock the purchase is made on.
        if row.customer_id.is_none() && customer.test_clock_id.is_some() {
            let at = crate::time::instant_of(&mut *tx, &customer, now).await?;
            store::stamp_click(&mut tx, click, &customer.id, at).await?;
        }
    }
    let mut cart = CartRow {
        id: new_id(IdKind::Cart),
        customer_id: customer.id.clone(),
        currency: currency.code().to_string(),
        coupon: b.coupon.clone(),
        click_id: b.affiliate_click.clone(),
        status: "open".into(),
        checkout_session_id: None,
        created_at: now,
        updated_at: now,
        plan_id: None,
        billing_interval: None,
        quantity: 1,
    };
    if let Some(sub) = &b.subscription {
        choose_cart_plan(&mut tx, livemode, &mut cart, sub, &CART_PLAN).await?;
    }
    store::insert_cart(&mut tx, livemode, &cart).await?;
    for (i, id) in b.items.unwrap_or_default().iter().enumerate() {
        add_item(&mut tx, livemode, &cart, id, &format!("items[{i}]"), now).await?;
    }
    check_cart_coupon(&mut tx, livemode, &cart, now).await?;
    answer(ctx, tx, livemode, cart, reply).await
}

async fn open_cart(ctx: &Ctx, tx: &mut Tx, livemode: bool, id: &str) -> Result<CartRow> {
    let not_found = || Error::not_found("id", "cart", id);
    if !is_valid(IdKind::Cart, id) {
        return Err(not_found());
    }
    let cart = store::cart(tx, livemode, id, ctx.db.for_update()).await?.ok_or_else(not_found)?;
    if cart.status == "ordered" {
        return Err(Error::conflict("cart_ordered", "this cart was already paid for"));
    }
    if cart.status == "checked_out" {
        return Err(Error::conflict(
            "cart_checked_out",
            "this cart has an open checkout; it can change again once that checkout expires",
        ));
    }
    Ok(cart)
}

/// A cart of the caller's mode.
pub async fn get(ctx: &Ctx, actor: &Actor, id: &str) -> Result<Cart> {
    let not_found = || Error::not_found("id", "cart", id);
    if !is_valid(IdKind::Cart, id) {
        return Err(not_found());
    }
    let cart = store::cart_read(ctx.db.reader(), actor.livemode, id).await?.ok_or_else(not_found)?;
    let mut conn = ctx.db.reader().acquire().await?;
    render_in(ctx, &mut conn, actor.livemode, cart).await
}

/// Adds a course or bundle to an open cart.
pub async fn add(ctx: &Ctx, actor: &Actor, id: &str, b: CartItemAdd, reply: &Reply) -> Result<Cart> {
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let mut cart = open_cart(ctx, &mut tx, actor.livemode, id).await?;
    add_item(&mut tx, actor.livemode, &cart, &b.course, "course", now).await?;
    cart.updated_at = now;
    store::save_cart(&mut tx, &cart).await?;
    answer(ctx, tx, actor.livemode, cart, reply).await
}

/// Takes a course out of an open cart.
pub async fn remove(ctx: &Ctx, actor: &Actor, id: &str, course: &str) -> Result<Cart> {
    let mut tx = ctx.db.begin().await?;
    let mut cart = open_cart(ctx, &mut tx, actor.livemode, id).await?;
    if !store::remove_cart_item(&mut tx, &cart.id, course).await? {
        return Err(Error::not_found("course", "cart item", course));
    }
    cart.updated_at = ctx.now_ms();
    store::save_cart(&mut tx, &cart).await?;
    answer(ctx, tx, actor.livemode, cart, &Reply::none()).await
}

/// Sets or removes (`None`) an open cart's coupon.
pub async fn set_coupon(ctx: &Ctx, actor: &Actor, id: &str, b: CartCoupon, reply: &Reply) -> Result<Cart> {
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let mut cart = open_cart(ctx, &mut tx, actor.livemode, id).await?;
    cart.coupon = b.coupon;
    check_cart_coupon(&mut tx, actor.livemode, &cart, now).await?;
    cart.updated_at = now;
    store::save_cart(&mut tx, &cart).await?;
    answer(ctx, tx, actor.livemode, cart, reply).await
}

/// Puts a plan in a cart (replacing any other: a cart starts one
/// subscription at most).
async fn choose_cart_plan(
    tx: &mut Tx,
    livemode: bool,
    cart: &mut CartRow,
    b: &CartSubscriptionSet,
    fields: &PlanFields,
) -> Result<()> {
    let (plan, price, quantity) = crate::plan_choice::choose_plan(
        tx,
        livemode,
        &b.plan,
        b.interval.as_deref(),
        b.quantity,
        &cart.currency,
        fields,
    )
    .await?;
    cart.plan_id = Some(plan.id);
    cart.billing_interval = Some(price.interval);
    cart.quantity = quantity;
    Ok(())
}

/// Sets the subscription an open cart starts.
pub async fn set_subscription(
    ctx: &Ctx,
    actor: &Actor,
    id: &str,
    b: CartSubscriptionSet,
    reply: &Reply,
) -> Result<Cart> {
    const FIELDS: PlanFields =
        PlanFields { plan: "plan", interval: "interval", quantity: "quantity", currency: "plan" };
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let mut cart = open_cart(ctx, &mut tx, actor.livemode, id).await?;
    choose_cart_plan(&mut tx, actor.livemode, &mut cart, &b, &FIELDS).await?;
    check_cart_coupon(&mut tx, actor.livemode, &cart, now).await?;
    cart.updated_at = now;
    store::save_cart(&mut tx, &cart).await?;
    answer(ctx, tx, actor.livemode, cart, reply).await
}

/// Takes the subscription out of an open cart.
pub async fn remove_subscription(ctx: &Ctx, actor: &Actor, id: &str) -> Result<Cart> {
    let mut tx = ctx.db.begin().await?;
    let mut cart = open_cart(ctx, &mut tx, actor.livemode, id).await?;
    if cart.plan_id.take().is_none() {
        return Err(Error::not_found("subscription", "cart subscription", id));
    }
    cart.billing_interval = None;
    cart.quantity = 1;
    cart.updated_at = ctx.now_ms();
    store::save_cart(&mut tx, &cart).await?;
    answer(ctx, tx, actor.livemode, cart, &Reply::none()).await
}
