//! Carts, orders and enrollments; instructor earnings, statements and
//! analytics; affiliates, clicks and commissions; payout runs.

use super::{commit_json, secs, ListResponse};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Actor, ApiJson, ApiQuery, Caller, ListParams};
use crate::middleware::{sha256_hex, Idem};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bursar_core::basket::Item;
use bursar_domain::id::{is_valid, new_id, IdKind};
use bursar_domain::money::Currency;
use bursar_store::checkout::SessionRow;
use bursar_store::marketplace::{self as store, AffiliateRow, CartRow, ClickRow, OrderRow};
use bursar_store::Tx;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_cart))
        .routes(routes!(get_cart))
        .routes(routes!(add_cart_item))
        .routes(routes!(remove_cart_item))
        .routes(routes!(set_cart_coupon))
        .routes(routes!(set_cart_subscription, remove_cart_subscription))
        .routes(routes!(checkout_cart))
        .routes(routes!(list_orders))
        .routes(routes!(get_order))
        .routes(routes!(refund_order))
        .routes(routes!(list_enrollments))
        .routes(routes!(complete_enrollment))
        .routes(routes!(instructor_earnings))
        .routes(routes!(instructor_statement))
        .routes(routes!(instructor_analytics))
        .routes(routes!(create_affiliate, list_affiliates))
        .routes(routes!(get_affiliate))
        .routes(routes!(set_affiliate_status))
        .routes(routes!(create_click))
        .routes(routes!(list_commissions))
        .routes(routes!(run_payouts))
        .routes(routes!(list_payouts))
        .routes(routes!(export_payouts))
        .routes(routes!(confirm_payout))
        .routes(routes!(fail_payout))
}

// ---------------------------------------------------------------------------
// Carts
// ---------------------------------------------------------------------------

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

/// The plan and price of the subscription a cart starts.
type CartPlan = (bursar_store::catalog::PlanRow, bursar_store::catalog::PriceRow);

/// A session as the cart would open it now (not stored): a subscription
/// session when the cart starts one, with its items beside the plan.
fn session_of(cart: &CartRow, livemode: bool, items: &[Item], plan: Option<&CartPlan>) -> ApiResult<SessionRow> {
    Ok(SessionRow {
        id: cart.checkout_session_id.clone().unwrap_or_else(|| new_id(IdKind::CheckoutSession)),
        livemode,
        customer_id: cart.customer_id.clone(),
        mode: if plan.is_some() { "subscription" } else { "payment" }.into(),
        plan_id: plan.map(|p| p.0.id.clone()),
        price_id: plan.map(|p| p.1.id.clone()),
        quantity: if plan.is_some() { cart.quantity } else { 1 },
        items: serde_json::to_string(items).map_err(|_| ApiError::internal())?,
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
async fn priced_items(
    conn: &mut sqlx::AnyConnection,
    livemode: bool,
    cart: &CartRow,
    strict: bool,
) -> ApiResult<(Vec<Item>, Vec<CartLine>)> {
    let ids = store::cart_items(&mut *conn, &cart.id).await?;
    let courses = store::courses_by_ids(&mut *conn, livemode, &ids).await?;
    let prices = store::prices_of(&mut *conn, &ids).await?;
    let mut items = Vec::new();
    let mut lines = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let c = courses.iter().find(|c| &c.id == id).ok_or_else(ApiError::internal)?;
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
            return Err(ApiError::invalid(&param, p.clone()));
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
const CART_PLAN: bursar_core::sessions::PlanFields = bursar_core::sessions::PlanFields {
    plan: "subscription.plan",
    interval: "subscription.interval",
    quantity: "subscription.quantity",
    currency: "subscription.plan",
};

/// The cart's subscription with the plan's current price. `strict`: a plan
/// that can no longer be sold is an error (checkout); else it is shown as
/// unavailable and left out.
async fn cart_plan(
    conn: &mut sqlx::AnyConnection,
    livemode: bool,
    cart: &CartRow,
    strict: bool,
) -> ApiResult<(Option<CartPlan>, Option<CartSubscription>)> {
    let Some(plan_id) = &cart.plan_id else { return Ok((None, None)) };
    let interval = cart.billing_interval.clone().unwrap_or_else(|| "month".into());
    let chosen = bursar_core::sessions::choose_plan(
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
        Err(e) => Err(e.with_param("subscription").into()),
    }
}

async fn render_cart(state: &AppState, livemode: bool, cart: CartRow) -> ApiResult<Cart> {
    let (items, lines, plan, subscription) = {
        let mut conn = state.db.reader().acquire().await?;
        let (items, lines) = priced_items(&mut conn, livemode, &cart, false).await?;
        let (plan, subscription) = cart_plan(&mut conn, livemode, &cart, false).await?;
        (items, lines, plan, subscription)
    };
    let plan_amount = plan.as_ref().map_or(0, |(_, p)| p.amount.saturating_mul(cart.quantity));
    let subtotal: i64 = lines.iter().map(|l| l.amount).sum::<i64>() + plan_amount;
    let (discount, tax, tax_included, total) = if items.is_empty() && plan.is_none() {
        (0, 0, 0, 0)
    } else {
        let s = session_of(&cart, livemode, &items, plan.as_ref())?;
        let sum = bursar_core::basket::summarize(&state.db, &state.billing_settings(), &s).await?;
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

/// Adds a course to a cart after checking it can be sold to the customer.
async fn add_item(
    tx: &mut Tx,
    livemode: bool,
    cart: &CartRow,
    course_id: &str,
    param: &str,
    now: i64,
) -> ApiResult<()> {
    let c = if is_valid(IdKind::Course, course_id) || is_valid(IdKind::Bundle, course_id) {
        store::course(&mut **tx, livemode, course_id).await?
    } else {
        None
    }
    .ok_or_else(|| ApiError::not_found(param, "course", course_id))?;
    if c.status != "published" {
        return Err(ApiError::invalid(param, format!("`{}` is not published", c.title)));
    }
    let priced = store::prices_of(&mut **tx, std::slice::from_ref(&c.id)).await?;
    if !priced.iter().any(|(_, cur, _)| cur == &cart.currency) {
        return Err(ApiError::invalid(param, format!("`{}` has no price in {}", c.title, cart.currency)));
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
        return Err(ApiError::invalid(param, format!("the customer is already enrolled in `{}`", c.title)));
    }
    // A course never comes twice: not alone and again inside a bundle.
    let mine = covered(tx, &c.id).await?;
    for other in store::cart_items(&mut **tx, &cart.id).await? {
        if other == c.id {
            continue;
        }
        let theirs = covered(tx, &other).await?;
        if mine.iter().any(|m| theirs.contains(m)) {
            return Err(ApiError::invalid(param, format!("`{}` overlaps `{other}`, already in the cart", c.title)));
        }
    }
    if store::cart_items(&mut **tx, &cart.id).await?.len() >= 100 {
        return Err(ApiError::invalid(param, "a cart holds at most 100 items"));
    }
    store::add_cart_item(tx, &cart.id, &c.id, now).await?;
    Ok(())
}

/// The courses an item stands for: a bundle's, or the course itself.
async fn covered(tx: &mut Tx, id: &str) -> ApiResult<Vec<String>> {
    let members = store::bundle_items(&mut **tx, id).await?;
    Ok(if members.is_empty() { vec![id.to_string()] } else { members })
}

async fn check_cart_coupon(tx: &mut Tx, livemode: bool, cart: &CartRow, now: i64) -> ApiResult<()> {
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
    Ok(bursar_core::basket::validate_coupon(tx, &s, now).await.map_err(|e| e.with_param("coupon"))?)
}

#[utoipa::path(post, path = "/v1/carts", tag = "marketplace", request_body = CartCreate,
    responses((status = 201, body = Cart), (status = 400, body = crate::error::ErrorEnvelope),
              (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn create_cart(
    State(state): State<AppState>,
    caller: Caller,
    Idem(idem): Idem,
    ApiJson(b): ApiJson<CartCreate>,
) -> ApiResult<Response> {
    let out = create_cart_for(&state, &caller, b).await?;
    let tx = state.db.begin().await?;
    commit_json(tx, idem.as_ref(), StatusCode::CREATED, &out).await
}

/// Creates and stores a cart (committed).
pub(crate) async fn create_cart_for(state: &AppState, caller: &Caller, b: CartCreate) -> ApiResult<Cart> {
    let customer =
        super::customers::load_live(state, caller, &b.customer).await.map_err(|e| e.with_param("customer"))?;
    let currency = match &b.currency {
        Some(c) => {
            Currency::from_code(c).map_err(|_| ApiError::invalid("currency", format!("unknown currency `{c}`")))?
        }
        None => super::customers::billing_currency_of(&customer),
    };
    let now = state.now_ms();
    let mut tx = state.db.begin().await?;
    if let Some(click) = &b.affiliate_click {
        if store::click(&mut *tx, caller.livemode, click).await?.is_none() {
            return Err(ApiError::not_found("affiliate_click", "affiliate click", click));
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
        choose_cart_plan(&mut tx, caller.livemode, &mut cart, sub, &CART_PLAN).await?;
    }
    store::insert_cart(&mut tx, caller.livemode, &cart).await?;
    for (i, id) in b.items.unwrap_or_default().iter().enumerate() {
        add_item(&mut tx, caller.livemode, &cart, id, &format!("items[{i}]"), now).await?;
    }
    check_cart_coupon(&mut tx, caller.livemode, &cart, now).await?;
    tx.commit().await?;
    render_cart(state, caller.livemode, cart).await
}

async fn open_cart(state: &AppState, tx: &mut Tx, livemode: bool, id: &str) -> ApiResult<CartRow> {
    let not_found = || ApiError::not_found("id", "cart", id);
    if !is_valid(IdKind::Cart, id) {
        return Err(not_found());
    }
    let cart = store::cart(tx, livemode, id, state.db.for_update()).await?.ok_or_else(not_found)?;
    if cart.status == "ordered" {
        return Err(ApiError::conflict("cart_ordered", "this cart was already paid for"));
    }
    if cart.status == "checked_out" {
        return Err(ApiError::conflict(
            "cart_checked_out",
            "this cart has an open checkout; it can change again once that checkout expires",
        ));
    }
    Ok(cart)
}

#[utoipa::path(get, path = "/v1/carts/{id}", tag = "marketplace",
    params(("id" = String, Path, description = "Cart id")),
    responses((status = 200, body = Cart), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn get_cart(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Json<Cart>> {
    let not_found = || ApiError::not_found("id", "cart", &id);
    if !is_valid(IdKind::Cart, &id) {
        return Err(not_found());
    }
    let cart = store::cart_read(state.db.reader(), caller.livemode, &id).await?.ok_or_else(not_found)?;
    Ok(Json(render_cart(&state, caller.livemode, cart).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CartItemAdd {
    /// A course or bundle id.
    pub course: String,
}

#[utoipa::path(post, path = "/v1/carts/{id}/items", tag = "marketplace", request_body = CartItemAdd,
    params(("id" = String, Path, description = "Cart id")),
    responses((status = 200, body = Cart), (status = 400, body = crate::error::ErrorEnvelope),
              (status = 404, body = crate::error::ErrorEnvelope), (status = 409, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn add_cart_item(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<CartItemAdd>,
) -> ApiResult<Json<Cart>> {
    let now = state.now_ms();
    let mut tx = state.db.begin().await?;
    let mut cart = open_cart(&state, &mut tx, caller.livemode, &id).await?;
    add_item(&mut tx, caller.livemode, &cart, &b.course, "course", now).await?;
    cart.updated_at = now;
    store::save_cart(&mut tx, &cart).await?;
    tx.commit().await?;
    Ok(Json(render_cart(&state, caller.livemode, cart).await?))
}

#[utoipa::path(delete, path = "/v1/carts/{id}/items/{course}", tag = "marketplace",
    params(("id" = String, Path, description = "Cart id"), ("course" = String, Path, description = "Course id")),
    responses((status = 200, body = Cart), (status = 404, body = crate::error::ErrorEnvelope),
              (status = 409, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn remove_cart_item(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, course)): Path<(String, String)>,
) -> ApiResult<Json<Cart>> {
    let mut tx = state.db.begin().await?;
    let mut cart = open_cart(&state, &mut tx, caller.livemode, &id).await?;
    if !store::remove_cart_item(&mut tx, &cart.id, &course).await? {
        return Err(ApiError::not_found("course", "cart item", &course));
    }
    cart.updated_at = state.now_ms();
    store::save_cart(&mut tx, &cart).await?;
    tx.commit().await?;
    Ok(Json(render_cart(&state, caller.livemode, cart).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CartCoupon {
    /// A coupon code; `null` removes the coupon.
    pub coupon: Option<String>,
}

#[utoipa::path(post, path = "/v1/carts/{id}/coupon", tag = "marketplace", request_body = CartCoupon,
    params(("id" = String, Path, description = "Cart id")),
    responses((status = 200, body = Cart), (status = 400, body = crate::error::ErrorEnvelope),
              (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn set_cart_coupon(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<CartCoupon>,
) -> ApiResult<Json<Cart>> {
    let now = state.now_ms();
    let mut tx = state.db.begin().await?;
    let mut cart = open_cart(&state, &mut tx, caller.livemode, &id).await?;
    cart.coupon = b.coupon;
    check_cart_coupon(&mut tx, caller.livemode, &cart, now).await?;
    cart.updated_at = now;
    store::save_cart(&mut tx, &cart).await?;
    tx.commit().await?;
    Ok(Json(render_cart(&state, caller.livemode, cart).await?))
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

/// Puts a plan in a cart (replacing any other: a cart starts one
/// subscription at most).
async fn choose_cart_plan(
    tx: &mut Tx,
    livemode: bool,
    cart: &mut CartRow,
    b: &CartSubscriptionSet,
    fields: &bursar_core::sessions::PlanFields,
) -> ApiResult<()> {
    let (plan, price, quantity) = bursar_core::sessions::choose_plan(
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

/// Sets the subscription a cart starts: the plan's first period is billed
/// with the courses, and renewals bill the plan alone. A coupon that covers
/// the plan becomes the subscription's (see `docs/marketplace.md`).
#[utoipa::path(post, path = "/v1/carts/{id}/subscription", tag = "marketplace", request_body = CartSubscriptionSet,
    params(("id" = String, Path, description = "Cart id")),
    responses((status = 200, body = Cart), (status = 400, body = crate::error::ErrorEnvelope),
              (status = 404, body = crate::error::ErrorEnvelope), (status = 409, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn set_cart_subscription(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<CartSubscriptionSet>,
) -> ApiResult<Json<Cart>> {
    const FIELDS: bursar_core::sessions::PlanFields = bursar_core::sessions::PlanFields {
        plan: "plan",
        interval: "interval",
        quantity: "quantity",
        currency: "plan",
    };
    let now = state.now_ms();
    let mut tx = state.db.begin().await?;
    let mut cart = open_cart(&state, &mut tx, caller.livemode, &id).await?;
    choose_cart_plan(&mut tx, caller.livemode, &mut cart, &b, &FIELDS).await?;
    check_cart_coupon(&mut tx, caller.livemode, &cart, now).await?;
    cart.updated_at = now;
    store::save_cart(&mut tx, &cart).await?;
    tx.commit().await?;
    Ok(Json(render_cart(&state, caller.livemode, cart).await?))
}

#[utoipa::path(delete, path = "/v1/carts/{id}/subscription", tag = "marketplace",
    params(("id" = String, Path, description = "Cart id")),
    responses((status = 200, body = Cart), (status = 404, body = crate::error::ErrorEnvelope),
              (status = 409, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn remove_cart_subscription(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Cart>> {
    let mut tx = state.db.begin().await?;
    let mut cart = open_cart(&state, &mut tx, caller.livemode, &id).await?;
    if cart.plan_id.take().is_none() {
        return Err(ApiError::not_found("subscription", "cart subscription", &id));
    }
    cart.billing_interval = None;
    cart.quantity = 1;
    cart.updated_at = state.now_ms();
    store::save_cart(&mut tx, &cart).await?;
    tx.commit().await?;
    Ok(Json(render_cart(&state, caller.livemode, cart).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CartCheckout {
    /// Default: Bursar's own receipt page, `/checkout/{id}/thanks`.
    pub success_url: Option<String>,
    /// Default: Bursar's own page, `/checkout/{id}/left`.
    pub cancel_url: Option<String>,
}

#[utoipa::path(post, path = "/v1/carts/{id}/checkout", tag = "marketplace", request_body = CartCheckout,
    params(("id" = String, Path, description = "Cart id")),
    responses((status = 201, body = bursar_core::sessions::Session), (status = 400, body = crate::error::ErrorEnvelope),
              (status = 404, body = crate::error::ErrorEnvelope), (status = 409, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn checkout_cart(
    State(state): State<AppState>,
    caller: Caller,
    Idem(idem): Idem,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<CartCheckout>,
) -> ApiResult<Response> {
    let out = checkout_cart_for(&state, &caller, &id, b).await?;
    let tx = state.db.begin().await?;
    commit_json(tx, idem.as_ref(), StatusCode::CREATED, &out).await
}

/// Opens the cart's checkout (committed), or returns the one still open.
pub(crate) async fn checkout_cart_for(
    state: &AppState,
    caller: &Caller,
    id: &str,
    b: CartCheckout,
) -> ApiResult<bursar_core::sessions::Session> {
    let session_id = new_id(IdKind::CheckoutSession);
    let (success_url, cancel_url) =
        bursar_core::sessions::return_urls(state, &session_id, b.success_url.clone(), b.cancel_url.clone())?;
    let not_found = || ApiError::not_found("id", "cart", id);
    if !is_valid(IdKind::Cart, id) {
        return Err(not_found());
    }
    let now = state.now_ms();
    let mut tx = state.db.begin().await?;
    let mut cart = store::cart(&mut tx, caller.livemode, id, state.db.for_update()).await?.ok_or_else(not_found)?;
    if cart.status == "ordered" {
        return Err(ApiError::conflict("cart_ordered", "this cart was already paid for"));
    }
    // A checkout still open is the cart's checkout: the same one again.
    if let Some(sid) = &cart.checkout_session_id {
        if let Some(mut s) = bursar_store::checkout::get(&mut *tx, sid).await? {
            if s.status == "open" && s.expires_at > now {
                drop(tx);
                let mut conn = state.db.reader().acquire().await?;
                return Ok(bursar_core::sessions::render(state, &mut conn, s).await?);
            }
            if s.status == "complete" {
                return Err(ApiError::conflict("cart_ordered", "this cart was already paid for"));
            }
            if s.status == "open" {
                // Past its time but not yet swept: replaced only if no
                // payment of it may still succeed (the buyer could be on the
                // provider's page); a late success still finds this cart.
                // One that issued an invoice is left to the expiry job
                // (which asks the provider and voids the invoice).
                if s.invoice_id.is_some() {
                    return Err(ApiError::conflict(
                        "checkout_in_progress",
                        "this cart's previous checkout is being closed; try again in a minute",
                    ));
                }
                s.status = "expired".into();
                bursar_store::checkout::save(&mut tx, &s).await?;
            }
        }
    }
    let (items, _) = priced_items(&mut tx, caller.livemode, &cart, true).await?;
    let (plan, _) = cart_plan(&mut tx, caller.livemode, &cart, true).await?;
    if items.is_empty() && plan.is_none() {
        return Err(ApiError::invalid("items", "the cart is empty"));
    }
    // Bought elsewhere since it was put in the cart: not sold twice.
    for (i, it) in items.iter().enumerate() {
        let id = it.course.clone().unwrap_or_default();
        let mut owned = true;
        for m in covered(&mut tx, &id).await? {
            owned &= store::is_enrolled(&mut *tx, &cart.customer_id, &m).await?;
        }
        if owned {
            return Err(ApiError::invalid(
                &format!("items[{i}]"),
                format!("the customer is already enrolled in `{}`", it.description),
            ));
        }
    }
    let mut s = session_of(&cart, caller.livemode, &items, plan.as_ref())?;
    s.id = session_id;
    s.success_url = success_url;
    s.cancel_url = cancel_url;
    s.form_token = bursar_core::basket::form_token();
    s.expires_at = now + bursar_core::basket::SESSION_HOURS * 3_600_000;
    s.created_at = now;
    bursar_core::basket::validate_coupon(&mut tx, &s, now).await.map_err(|e| e.with_param("coupon"))?;
    bursar_store::checkout::insert(&mut tx, &s).await?;
    bursar_store::order_refunds::link_session(&mut tx, &s.id, &cart.id).await?;
    cart.status = "checked_out".into();
    cart.checkout_session_id = Some(s.id.clone());
    cart.updated_at = now;
    store::save_cart(&mut tx, &cart).await?;
    tx.commit().await?;
    let mut conn = state.db.reader().acquire().await?;
    Ok(bursar_core::sessions::render(state, &mut conn, s).await?)
}

// ---------------------------------------------------------------------------
// Orders and enrollments
// ---------------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderItem {
    /// `oi_…`: what `POST /v1/orders/{id}/refund` names.
    pub id: String,
    pub course: String,
    pub title: String,
    pub instructor: String,
    /// The price.
    pub amount: i64,
    /// Its part of the order's discount.
    pub discount: i64,
    /// Price less discount, tax excluded: what is split.
    pub net: i64,
    pub share_bps: i64,
    pub instructor_share: i64,
    pub affiliate_commission: i64,
    pub platform_share: i64,
    pub refunded_net: i64,
    pub clawed_back: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Order {
    pub id: String,
    /// Always `order`.
    pub object: &'static str,
    /// `ORD-YYYY-NNNNNN`.
    pub number: String,
    pub customer: String,
    pub currency: String,
    pub subtotal: i64,
    pub discount: i64,
    pub tax: i64,
    pub total: i64,
    /// `paid`, `partially_refunded`, `refunded`.
    pub status: String,
    pub invoice: String,
    pub checkout_session: Option<String>,
    /// The subscription the cart started with the order: its first period
    /// is on the same invoice, outside the order's totals.
    pub subscription: Option<String>,
    pub coupon: Option<String>,
    pub affiliate: Option<String>,
    /// The buyer's billing details as on the invoice.
    #[schema(value_type = Object)]
    pub billing_address: serde_json::Value,
    pub items: Vec<OrderItem>,
    pub created: i64,
}

async fn render_order(state: &AppState, o: OrderRow) -> ApiResult<Order> {
    let mut conn = state.db.reader().acquire().await?;
    render_order_in(&mut conn, o).await
}

/// An order as the API shows it, read through `conn` (a transaction's own
/// connection when answering inside one).
async fn render_order_in(conn: &mut sqlx::AnyConnection, o: OrderRow) -> ApiResult<Order> {
    let items = store::order_items(&mut *conn, &o.id)
        .await?
        .into_iter()
        .map(|i| OrderItem {
            id: i.id,
            course: i.course_id,
            title: i.title,
            instructor: i.instructor_id,
            amount: i.amount,
            discount: i.discount,
            net: i.net,
            share_bps: i.share_bps,
            instructor_share: i.instructor_share,
            affiliate_commission: i.commission,
            platform_share: i.platform_share,
            refunded_net: i.refunded_net,
            clawed_back: i.clawed_back,
        })
        .collect();
    Ok(Order {
        id: o.id,
        object: "order",
        number: o.number,
        customer: o.customer_id,
        currency: o.currency,
        subtotal: o.subtotal,
        discount: o.discount,
        tax: o.tax,
        total: o.total,
        status: o.status,
        invoice: o.invoice_id,
        checkout_session: o.checkout_session_id,
        subscription: o.subscription_id,
        coupon: o.coupon,
        affiliate: o.affiliate_id,
        billing_address: serde_json::from_str(&o.billing_address).unwrap_or_default(),
        items,
        created: secs(o.created_at),
    })
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct OrderListParams {
    pub limit: Option<String>,
    pub starting_after: Option<String>,
    pub customer: Option<String>,
}

#[utoipa::path(get, path = "/v1/orders", tag = "marketplace", params(OrderListParams),
    responses((status = 200, body = ListResponse<Order>), (status = 400, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn list_orders(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<OrderListParams>,
) -> ApiResult<Json<ListResponse<Order>>> {
    let page = ListParams { limit: q.limit, starting_after: q.starting_after };
    let limit = page.limit()?;
    let rows = store::orders(
        state.db.reader(),
        caller.livemode,
        q.customer.as_deref(),
        page.starting_after.as_deref(),
        limit + 1,
    )
    .await?;
    let mut data = Vec::new();
    for r in rows {
        data.push(render_order(&state, r).await?);
    }
    Ok(Json(ListResponse::from_rows(data, limit, "/v1/orders")))
}

#[utoipa::path(get, path = "/v1/orders/{id}", tag = "marketplace",
    params(("id" = String, Path, description = "Order id or number (ORD-YYYY-NNNNNN)")),
    responses((status = 200, body = Order), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn get_order(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Json<Order>> {
    let o = store::order(state.db.reader(), caller.livemode, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("id", "order", &id))?;
    Ok(Json(render_order(&state, o).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderRefund {
    /// The order items to refund (`oi_…`), each for all that is left of it.
    pub items: Vec<String>,
    /// `payment_method` (default) or `credit_balance`.
    pub refund_to: Option<String>,
    pub reason: Option<String>,
}

/// Refunds some items of an order: the credit note is for those items' net
/// and its tax, and only their instructors' earnings and their share of the
/// commission are taken back; the courses they sold are no longer granted.
#[utoipa::path(post, path = "/v1/orders/{id}/refund", tag = "marketplace", request_body = OrderRefund,
    params(("id" = String, Path, description = "Order id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = Order), (status = 400, body = crate::error::ErrorEnvelope),
              (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn refund_order(
    State(state): State<AppState>,
    caller: Caller,
    Idem(idem): Idem,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<OrderRefund>,
) -> ApiResult<Response> {
    let not_found = || ApiError::not_found("id", "order", &id);
    if !is_valid(IdKind::Order, &id) {
        return Err(not_found());
    }
    let to = bursar_core::billing::RefundTo::parse(b.refund_to.as_deref())?;
    let reason = b.reason.unwrap_or_else(|| "requested_by_customer".into());
    super::check_len("reason", &Some(reason.clone()), 500)?;
    if b.items.is_empty() || b.items.len() > 100 {
        return Err(ApiError::invalid("items", "items lists 1 to 100 order items"));
    }
    let order = store::order(state.db.reader(), caller.livemode, &id).await?.ok_or_else(not_found)?;
    let mut tx = state.db.begin().await?;
    bursar_store::billing::lock_invoice(&mut tx, state.db.for_update(), &order.invoice_id).await?;
    let order = store::order(&mut *tx, caller.livemode, &id).await?.ok_or_else(not_found)?;
    let inv = bursar_store::billing::invoice(&mut *tx, caller.livemode, &order.invoice_id)
        .await?
        .ok_or_else(ApiError::internal)?;
    let items = store::order_items(&mut *tx, &order.id).await?;
    let mut net = 0i64;
    for (i, t) in b.items.iter().enumerate() {
        let param = format!("items[{i}]");
        if b.items[..i].contains(t) {
            return Err(ApiError::invalid(&param, "an item is listed twice"));
        }
        let item = items
            .iter()
            .find(|it| &it.id == t)
            .ok_or_else(|| ApiError::invalid(&param, format!("`{t}` is not an item of this order")))?;
        let left = item.net - item.refunded_net;
        if left <= 0 {
            return Err(ApiError::invalid(&param, format!("`{}` is already refunded", item.title)));
        }
        net += left;
    }
    let customer = bursar_store::customers::get(&mut *tx, caller.livemode, &inv.customer_id)
        .await?
        .ok_or_else(ApiError::internal)?;
    let now = bursar_core::billing::now_for(&mut tx, &customer, state.now_ms()).await?;
    let (credited, tax_credited) = bursar_core::billing::credited_so_far(&mut tx, &inv).await?;
    // All that is left of the invoice (the order, and no subscription
    // beside it): everything left, so its tax is credited to the last unit.
    let invoice_net_left = inv.subtotal - (credited - tax_credited);
    let amount = if net >= invoice_net_left {
        inv.total - credited
    } else {
        bursar_core::billing::gross_for_net(&inv, credited, tax_credited, net)?
    };
    let cn = bursar_core::refunds::refund(&mut tx, &inv, amount, to, &reason, Some(&b.items), now).await?;
    let mut tx = super::subscriptions::send_refunds(&state, tx, &cn.id).await?;
    let order = store::order(&mut *tx, caller.livemode, &id).await?.ok_or_else(ApiError::internal)?;
    let out = render_order_in(&mut tx, order).await?;
    commit_json(tx, idem.as_ref(), StatusCode::OK, &out).await
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Enrollment {
    pub id: String,
    /// Always `enrollment`.
    pub object: &'static str,
    pub customer: String,
    pub course: String,
    pub order: Option<String>,
    /// `active` or `revoked` (the order was refunded).
    pub status: String,
    pub completed_at: Option<i64>,
    pub created: i64,
}

fn render_enrollment(e: store::EnrollmentRow) -> Enrollment {
    Enrollment {
        id: e.id,
        object: "enrollment",
        customer: e.customer_id,
        course: e.course_id,
        order: e.order_id,
        status: e.status,
        completed_at: e.completed_at.map(secs),
        created: secs(e.created_at),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct EnrollmentListParams {
    pub limit: Option<String>,
    pub starting_after: Option<String>,
    pub customer: Option<String>,
    pub course: Option<String>,
}

#[utoipa::path(get, path = "/v1/enrollments", tag = "marketplace", params(EnrollmentListParams),
    responses((status = 200, body = ListResponse<Enrollment>), (status = 400, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn list_enrollments(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<EnrollmentListParams>,
) -> ApiResult<Json<ListResponse<Enrollment>>> {
    let page = ListParams { limit: q.limit, starting_after: q.starting_after };
    let limit = page.limit()?;
    let rows = store::enrollments(
        state.db.reader(),
        caller.livemode,
        q.customer.as_deref(),
        q.course.as_deref(),
        page.starting_after.as_deref(),
        limit + 1,
    )
    .await?;
    Ok(Json(ListResponse::from_rows(rows.into_iter().map(render_enrollment).collect(), limit, "/v1/enrollments")))
}

#[utoipa::path(post, path = "/v1/enrollments/{id}/complete", tag = "marketplace",
    params(("id" = String, Path, description = "Enrollment id")),
    responses((status = 200, body = Enrollment), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn complete_enrollment(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Enrollment>> {
    let now = state.now_ms();
    let mut tx = state.db.begin().await?;
    let n = sqlx::query(
        "UPDATE enrollments SET completed_at = $3 WHERE livemode = $1 AND id = $2 AND completed_at IS NULL \
         AND status = 'active'",
    )
    .bind(i64::from(caller.livemode))
    .bind(&id)
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(bursar_store::DbError::from)?
    .rows_affected();
    let row = bursar_store::order_refunds::enrollment_by_id(&mut tx, caller.livemode, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("id", "enrollment", &id))?;
    if row.status != "active" {
        return Err(ApiError::invalid("id", "a revoked enrollment cannot be completed"));
    }
    if n == 1 {
        bursar_store::events::emit(
            &mut tx,
            caller.livemode,
            "enrollment.completed",
            &row.id,
            &serde_json::json!({"id": row.id, "customer": row.customer_id, "course": row.course_id}),
            now,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(Json(render_enrollment(row)))
}

// ---------------------------------------------------------------------------
// Instructor earnings, statements, analytics
// ---------------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct EarningEntry {
    pub id: String,
    /// `sale` or `clawback`.
    pub kind: String,
    pub currency: String,
    /// Signed: a claw-back is negative.
    pub amount: i64,
    pub order_item: String,
    /// When it becomes payable (end of the refund window; claw-backs at once).
    pub available_at: i64,
    pub payout: Option<String>,
    pub created: i64,
}

#[derive(Debug, Default, Serialize, ToSchema)]
pub struct EarningTotals {
    /// Inside the refund window.
    pub held: i64,
    /// Payable at the next payout run.
    pub available: i64,
    /// In a payout not confirmed yet (a bank transfer, a provider payout).
    pub in_transit: i64,
    /// Paid out.
    pub paid: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Earnings {
    /// Always `earnings`.
    pub object: &'static str,
    pub instructor: String,
    /// Per currency.
    pub totals: BTreeMap<String, EarningTotals>,
    pub entries: Vec<EarningEntry>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AsOfParams {
    /// Unix seconds; default now.
    pub as_of: Option<String>,
}

#[utoipa::path(get, path = "/v1/instructors/{id}/earnings", tag = "payouts",
    params(("id" = String, Path, description = "Instructor id or the platform's user id"), AsOfParams),
    responses((status = 200, body = Earnings), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn instructor_earnings(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<AsOfParams>,
) -> ApiResult<Json<Earnings>> {
    let ins = reach_instructor(&state, &actor, &id).await?;
    let at = match q.as_of.as_deref() {
        Some(s) => {
            s.parse::<i64>()
                .ok()
                .filter(|t| (0..=100_000_000_000).contains(t))
                .ok_or_else(|| ApiError::invalid("as_of", "as_of is Unix seconds"))?
                * 1000
        }
        None => state.now_ms(),
    };
    let rows = store::earnings_of(state.db.reader(), actor.livemode(), &ins.id).await?;
    let paid: std::collections::HashSet<String> =
        store::payouts(state.db.reader(), actor.livemode(), Some(&ins.id), None)
            .await?
            .into_iter()
            .filter(|p| p.status == "paid")
            .map(|p| p.id)
            .collect();
    let mut totals: BTreeMap<String, EarningTotals> = BTreeMap::new();
    for e in &rows {
        let t = totals.entry(e.currency.clone()).or_default();
        if let Some(p) = &e.payout_id {
            if paid.contains(p) {
                t.paid += e.amount;
            } else {
                t.in_transit += e.amount;
            }
        } else if e.available_at <= at {
            t.available += e.amount;
        } else {
            t.held += e.amount;
        }
    }
    let entries = rows
        .into_iter()
        .map(|e| EarningEntry {
            id: e.id,
            kind: e.kind,
            currency: e.currency,
            amount: e.amount,
            order_item: e.order_item_id,
            available_at: secs(e.available_at),
            payout: e.payout_id,
            created: secs(e.created_at),
        })
        .collect();
    Ok(Json(Earnings { object: "earnings", instructor: ins.id, totals, entries }))
}

async fn reach_instructor(state: &AppState, actor: &Actor, key: &str) -> ApiResult<store::InstructorRow> {
    let not_found = || ApiError::not_found("id", "instructor", key);
    let row = store::instructor(state.db.reader(), actor.livemode(), key).await?.ok_or_else(not_found)?;
    if !actor.may_reach(&row.id) {
        return Err(not_found());
    }
    Ok(row)
}

/// `YYYY-MM` → [start, end) in epoch milliseconds (UTC).
fn month_bounds(period: &str) -> ApiResult<(i64, i64)> {
    let bad = || ApiError::invalid("period", "period is a month: YYYY-MM");
    let (y, m) = period.split_once('-').ok_or_else(bad)?;
    let (y, m): (i16, i8) = (y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if y < 2000 || !(1..=12).contains(&m) {
        return Err(bad());
    }
    let start = jiff::civil::date(y, m, 1);
    let end = start.checked_add(jiff::Span::new().months(1)).map_err(|_| bad())?;
    let ms = |d: jiff::civil::Date| -> ApiResult<i64> {
        Ok(d.to_zoned(jiff::tz::TimeZone::UTC).map_err(|_| bad())?.timestamp().as_millisecond())
    };
    Ok((ms(start)?, ms(end)?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PeriodParams {
    /// `YYYY-MM`.
    pub period: String,
}

/// CSV money: minor units as a plain decimal in the currency's exponent.
fn decimal(minor: i64, currency: &str) -> String {
    let exp = Currency::from_code(currency).map(|c| c.exponent()).unwrap_or(2);
    if exp == 0 {
        return minor.to_string();
    }
    let p = 10_i64.pow(u32::from(exp));
    let sign = if minor < 0 { "-" } else { "" };
    format!("{sign}{}.{:0w$}", minor.abs() / p, minor.abs() % p, w = usize::from(exp))
}

fn csv_field(s: &str) -> String {
    // Quoted, and a leading formula character neutralised for spreadsheets.
    let s = if s.starts_with(['=', '+', '-', '@']) { format!("'{s}") } else { s.to_string() };
    format!("\"{}\"", s.replace('"', "\"\""))
}

fn csv_response(name: &str, body: String) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
        ],
        body,
    )
        .into_response()
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct StatementParams {
    /// `YYYY-MM`.
    pub period: String,
    /// `csv` (default) or `pdf`.
    pub format: Option<String>,
}

#[utoipa::path(get, path = "/v1/instructors/{id}/statement", tag = "payouts",
    params(("id" = String, Path, description = "Instructor id or the platform's user id"), StatementParams),
    responses((status = 200, description = "The month's sales, claw-backs and payouts as CSV or PDF",
               content_type = "text/csv"),
              (status = 400, body = crate::error::ErrorEnvelope), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn instructor_statement(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<StatementParams>,
) -> ApiResult<Response> {
    let pdf = match q.format.as_deref() {
        None | Some("csv") => false,
        Some("pdf") => true,
        Some(_) => return Err(ApiError::invalid("format", "format is csv or pdf")),
    };
    let ins = reach_instructor(&state, &actor, &id).await?;
    let (from, to) = month_bounds(&q.period)?;
    let mut out = String::from("date,type,reference,course,currency,amount,available_at,payout\n");
    let mut entries = Vec::new();
    for e in store::earnings_of(state.db.reader(), actor.livemode(), &ins.id).await? {
        if !(from..to).contains(&e.created_at) {
            continue;
        }
        let title: Option<String> = sqlx::query_scalar("SELECT title FROM order_items WHERE id = $1")
            .bind(&e.order_item_id)
            .fetch_optional(state.db.reader())
            .await
            .map_err(bursar_store::DbError::from)?;
        let title = title.unwrap_or_default();
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{}",
            date(e.created_at),
            e.kind,
            e.order_item_id,
            csv_field(&title),
            e.currency,
            decimal(e.amount, &e.currency),
            date(e.available_at),
            e.payout_id.clone().unwrap_or_default()
        );
        entries.push(bursar_core::documents::StatementEntry {
            at: e.created_at,
            kind: e.kind,
            description: title,
            currency: e.currency,
            amount: e.amount,
        });
    }
    for p in store::payouts(state.db.reader(), actor.livemode(), Some(&ins.id), Some(&q.period)).await? {
        if p.status == "failed" {
            // Paid nothing: its earnings were given back.
            continue;
        }
        let _ = writeln!(
            out,
            "{},payout,{},,{},{},,{}",
            date(p.created_at),
            p.reference.clone().unwrap_or_default(),
            p.currency,
            decimal(-p.amount, &p.currency),
            p.id
        );
        entries.push(bursar_core::documents::StatementEntry {
            at: p.created_at,
            kind: "payout".into(),
            description: format!("Payout {}", p.reference.unwrap_or(p.id)),
            currency: p.currency,
            amount: -p.amount,
        });
    }
    if !pdf {
        return Ok(csv_response(&format!("statement-{}-{}.csv", ins.id, q.period), out));
    }
    let payee = bursar_pdf::Party {
        name: ins.name.clone(),
        address_lines: vec![ins.external_id.clone()],
        tax_id: None,
        email: ins.email.clone(),
    };
    let ctx = bursar_core::documents::Context { config: &state.config, locale: None };
    let number = format!("STM-{}-{}", q.period.replace('-', ""), &ins.id[4..16]);
    let doc = bursar_core::documents::statement_document(&ctx, payee, &number, &q.period, &entries)?;
    let bytes = bursar_core::documents::rendered(&state.storage, None, || Ok(doc)).await?;
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"statement-{}-{}.pdf\"", ins.id, q.period)),
        ],
        bytes,
    )
        .into_response())
}

fn date(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map(|t| t.strftime("%Y-%m-%d").to_string()).unwrap_or_default()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CourseStats {
    pub course: String,
    pub title: String,
    /// Learners with an active enrollment.
    pub students: i64,
    pub completions: i64,
    /// Completions per 10,000 students (basis points).
    pub completion_rate_bps: i64,
    /// Net sales per currency (after discounts and refunds, before tax).
    pub revenue: BTreeMap<String, i64>,
    /// The instructor's share per currency, after claw-backs.
    pub earnings: BTreeMap<String, i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InstructorAnalytics {
    /// Always `instructor_analytics`.
    pub object: &'static str,
    pub instructor: String,
    pub students: i64,
    pub completion_rate_bps: i64,
    pub courses: Vec<CourseStats>,
}

#[utoipa::path(get, path = "/v1/instructors/{id}/analytics", tag = "payouts",
    params(("id" = String, Path, description = "Instructor id or the platform's user id")),
    responses((status = 200, body = InstructorAnalytics), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn instructor_analytics(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
) -> ApiResult<Json<InstructorAnalytics>> {
    let ins = reach_instructor(&state, &actor, &id).await?;
    let r = state.db.reader();
    let courses = store::courses(r, actor.livemode(), Some(&ins.id), None, None, 10_000).await?;
    let enrolled: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT e.course_id, CAST(COUNT(*) AS BIGINT), CAST(COUNT(e.completed_at) AS BIGINT) FROM enrollments e \
         JOIN courses c ON c.id = e.course_id WHERE c.instructor_id = $1 AND e.status = 'active' \
         GROUP BY e.course_id",
    )
    .bind(&ins.id)
    .fetch_all(r)
    .await
    .map_err(bursar_store::DbError::from)?;
    let sales: Vec<(String, String, i64, i64)> = sqlx::query_as(
        "SELECT i.course_id, o.currency, CAST(SUM(i.net - i.refunded_net) AS BIGINT), \
         CAST(SUM(i.instructor_share - i.clawed_back) AS BIGINT) FROM order_items i JOIN orders o ON o.id = i.order_id \
         WHERE i.instructor_id = $1 GROUP BY i.course_id, o.currency",
    )
    .bind(&ins.id)
    .fetch_all(r)
    .await
    .map_err(bursar_store::DbError::from)?;
    let rate = |done: i64, all: i64| if all == 0 { 0 } else { done * 10_000 / all };
    let (mut students, mut done) = (0, 0);
    let stats = courses
        .into_iter()
        .map(|c| {
            let (n, k) = enrolled.iter().find(|e| e.0 == c.id).map_or((0, 0), |e| (e.1, e.2));
            students += n;
            done += k;
            let mine = sales.iter().filter(|s| s.0 == c.id);
            CourseStats {
                completion_rate_bps: rate(k, n),
                revenue: mine.clone().map(|s| (s.1.clone(), s.2)).collect(),
                earnings: mine.map(|s| (s.1.clone(), s.3)).collect(),
                course: c.id,
                title: c.title,
                students: n,
                completions: k,
            }
        })
        .collect();
    Ok(Json(InstructorAnalytics {
        object: "instructor_analytics",
        instructor: ins.id,
        students,
        completion_rate_bps: rate(done, students),
        courses: stats,
    }))
}

// ---------------------------------------------------------------------------
// Affiliates
// ---------------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct Affiliate {
    pub id: String,
    /// Always `affiliate`.
    pub object: &'static str,
    pub external_id: String,
    pub name: String,
    pub email: Option<String>,
    /// `pending`, `approved`, `suspended`, `rejected`.
    pub status: String,
    /// The referral code; links carry it as `?ref=CODE`.
    pub code: String,
    pub commission_bps: i64,
    pub payout_method: String,
    pub clicks: i64,
    /// Commission totals per status and currency.
    pub commissions: BTreeMap<String, BTreeMap<String, i64>>,
    pub created: i64,
}

async fn render_affiliate(state: &AppState, livemode: bool, a: AffiliateRow) -> ApiResult<Affiliate> {
    let clicks = store::click_count(state.db.reader(), &a.id).await?;
    let mut commissions: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
    for c in store::commissions(state.db.reader(), livemode, Some(&a.id), None).await? {
        *commissions.entry(c.status).or_default().entry(c.currency).or_default() += c.amount;
    }
    Ok(Affiliate {
        id: a.id,
        object: "affiliate",
        external_id: a.external_id,
        name: a.name,
        email: a.email,
        status: a.status,
        code: a.code,
        commission_bps: a.commission_bps,
        payout_method: a.payout_method,
        clicks,
        commissions,
        created: secs(a.created_at),
    })
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AffiliateApply {
    /// The platform's user id.
    pub external_id: String,
    pub name: String,
    pub email: Option<String>,
    /// A wished-for code (4 to 32 letters, digits, `-`); default: generated.
    pub code: Option<String>,
    /// `sandbox` (test mode), `bank_transfer`, `stripe_connect` or `paypal`.
    pub payout_method: Option<String>,
    /// For `stripe_connect`: `{"account": "acct_…"}`; for `paypal`:
    /// `{"email": "…"}`.
    #[schema(value_type = Option<Object>)]
    pub payout_details: Option<serde_json::Value>,
}

#[utoipa::path(post, path = "/v1/affiliates", tag = "payouts", request_body = AffiliateApply,
    responses((status = 201, body = Affiliate), (status = 400, body = crate::error::ErrorEnvelope),
              (status = 409, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn create_affiliate(
    State(state): State<AppState>,
    caller: Caller,
    Idem(idem): Idem,
    ApiJson(b): ApiJson<AffiliateApply>,
) -> ApiResult<Response> {
    if b.external_id.trim().is_empty() || b.external_id.len() > 255 {
        return Err(ApiError::invalid("external_id", "external_id is 1 to 255 characters"));
    }
    if b.name.trim().is_empty() || b.name.chars().count() > 200 {
        return Err(ApiError::invalid("name", "name is 1 to 200 characters"));
    }
    super::check_len("email", &b.email, 320)?;
    let code = match b.code {
        Some(c) => {
            let ok = (4..=32).contains(&c.len()) && c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-');
            if !ok {
                return Err(ApiError::invalid("code", "code is 4 to 32 letters, digits or `-`"));
            }
            c.to_ascii_uppercase()
        }
        None => {
            use rand::distr::{Alphanumeric, SampleString};
            Alphanumeric.sample_string(&mut rand::rng(), 8).to_ascii_uppercase()
        }
    };
    let method = b.payout_method.unwrap_or_else(|| "sandbox".into());
    let details = b.payout_details.unwrap_or_else(|| serde_json::json!({}));
    match method.as_str() {
        "sandbox" if !caller.livemode => {}
        "bank_transfer" => super::courses::check_payout(&state.providers, &method, &details, caller.livemode)?,
        "stripe_connect" | "paypal" => {
            bursar_core::payouts::check_method(&state.providers, &method, &details, caller.livemode)?
        }
        _ => {
            return Err(ApiError::invalid(
                "payout_method",
                "payout_method is bank_transfer, stripe_connect or paypal (or sandbox in test mode)",
            ))
        }
    }
    let now = state.now_ms();
    let row = AffiliateRow {
        id: new_id(IdKind::Affiliate),
        external_id: b.external_id,
        name: b.name,
        email: b.email,
        status: "pending".into(),
        code,
        commission_bps: state.config.affiliate_commission_bps,
        payout_method: method,
        payout_details: details.to_string(),
        created_at: now,
        updated_at: now,
    };
    let mut tx = state.db.begin().await?;
    if store::affiliate(&mut *tx, caller.livemode, &row.external_id).await?.is_some() {
        return Err(ApiError::conflict("affiliate_exists", "this user already applied"));
    }
    if store::affiliate(&mut *tx, caller.livemode, &row.code).await?.is_some() {
        return Err(ApiError::conflict("code_taken", "this code is taken"));
    }
    store::insert_affiliate(&mut tx, caller.livemode, &row).await?;
    tx.commit().await?;
    let out = render_affiliate(&state, caller.livemode, row).await?;
    let tx = state.db.begin().await?;
    commit_json(tx, idem.as_ref(), StatusCode::CREATED, &out).await
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AffiliateListParams {
    pub status: Option<String>,
}

#[utoipa::path(get, path = "/v1/affiliates", tag = "payouts", params(AffiliateListParams),
    responses((status = 200, body = ListResponse<Affiliate>)), security(("api_key" = [])))]
async fn list_affiliates(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<AffiliateListParams>,
) -> ApiResult<Json<ListResponse<Affiliate>>> {
    let rows = store::affiliates(state.db.reader(), caller.livemode, q.status.as_deref()).await?;
    let n = rows.len() as i64;
    let mut data = Vec::new();
    for r in rows {
        data.push(render_affiliate(&state, caller.livemode, r).await?);
    }
    Ok(Json(ListResponse::from_rows(data, n, "/v1/affiliates")))
}

#[utoipa::path(get, path = "/v1/affiliates/{id}", tag = "payouts",
    params(("id" = String, Path, description = "Affiliate id, the platform's user id, or the code")),
    responses((status = 200, body = Affiliate), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn get_affiliate(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Affiliate>> {
    let a = store::affiliate(state.db.reader(), caller.livemode, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("id", "affiliate", &id))?;
    Ok(Json(render_affiliate(&state, caller.livemode, a).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AffiliateStatus {
    /// `approved`, `rejected` or `suspended`.
    pub status: String,
    /// A rate for this affiliate, basis points.
    pub commission_bps: Option<i64>,
}

#[utoipa::path(post, path = "/v1/affiliates/{id}/status", tag = "payouts", request_body = AffiliateStatus,
    params(("id" = String, Path, description = "Affiliate id")),
    responses((status = 200, body = Affiliate), (status = 400, body = crate::error::ErrorEnvelope),
              (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn set_affiliate_status(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<AffiliateStatus>,
) -> ApiResult<Json<Affiliate>> {
    let mut tx = state.db.begin().await?;
    let mut a = store::affiliate(&mut *tx, caller.livemode, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("id", "affiliate", &id))?;
    let allowed = match (a.status.as_str(), b.status.as_str()) {
        ("pending", "approved" | "rejected") => true,
        ("approved", "suspended") | ("suspended", "approved") => true,
        (from, to) => from == to,
    };
    if !allowed {
        return Err(ApiError::invalid("status", format!("an affiliate {} cannot become {}", a.status, b.status)));
    }
    if let Some(bps) = b.commission_bps {
        if !(0..=10_000).contains(&bps) {
            return Err(ApiError::invalid("commission_bps", "commission_bps is 0 to 10000"));
        }
        a.commission_bps = bps;
    }
    let now = state.now_ms();
    let changed = a.status != b.status;
    a.status = b.status;
    a.updated_at = now;
    store::save_affiliate(&mut tx, &a).await?;
    if changed {
        bursar_store::events::emit(
            &mut tx,
            caller.livemode,
            &format!("affiliate.{}", a.status),
            &a.id,
            &serde_json::json!({"id": a.id, "external_id": a.external_id, "code": a.code}),
            now,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(Json(render_affiliate(&state, caller.livemode, a).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClickCreate {
    /// The affiliate's code from the link.
    pub code: String,
    /// The visitor's IP (stored only as a keyed hash).
    pub ip: String,
    pub user_agent: Option<String>,
    pub referer: Option<String>,
    pub landing_url: Option<String>,
    /// The learner, when known (signed in): purchases in the window are
    /// credited to their latest click.
    pub customer: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Click {
    pub id: String,
    /// Always `affiliate_click`.
    pub object: &'static str,
    pub affiliate: String,
    pub customer: Option<String>,
    /// Purchases until then are credited to this click (last click wins).
    pub attribution_expires_at: i64,
    pub created: i64,
}

/// The visitor IP's hash: keyed with the configured salt, so it links
/// clicks from one address without storing or exposing the address.
pub(crate) fn ip_hash(state: &AppState, ip: &str) -> String {
    static SALT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let salt = SALT.get_or_init(|| {
        state.config.click_ip_salt.clone().unwrap_or_else(|| {
            use rand::distr::{Alphanumeric, SampleString};
            Alphanumeric.sample_string(&mut rand::rng(), 32)
        })
    });
    sha256_hex(format!("{salt}:{ip}").as_bytes())
}

#[utoipa::path(post, path = "/v1/affiliate_clicks", tag = "payouts", request_body = ClickCreate,
    responses((status = 201, body = Click), (status = 400, body = crate::error::ErrorEnvelope),
              (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn create_click(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(b): ApiJson<ClickCreate>,
) -> ApiResult<Response> {
    if b.ip.parse::<std::net::IpAddr>().is_err() {
        return Err(ApiError::invalid("ip", "ip is an IPv4 or IPv6 address"));
    }
    super::check_len("user_agent", &b.user_agent, 1_000)?;
    super::check_len("referer", &b.referer, 2_048)?;
    super::check_len("landing_url", &b.landing_url, 2_048)?;
    let a = store::affiliate(state.db.reader(), caller.livemode, &b.code.to_ascii_uppercase())
        .await?
        .filter(|a| a.code == b.code.to_ascii_uppercase() && a.status == "approved")
        .ok_or_else(|| ApiError::not_found("code", "approved affiliate code", &b.code))?;
    if let Some(c) = &b.customer {
        super::customers::load_live(&state, &caller, c).await.map_err(|e| e.with_param("customer"))?;
    }
    let now = state.now_ms();
    let row = ClickRow {
        id: new_id(IdKind::AffiliateClick),
        affiliate_id: a.id.clone(),
        ip_hash: ip_hash(&state, &b.ip),
        user_agent: b.user_agent.unwrap_or_default(),
        referer: b.referer.unwrap_or_default(),
        landing_url: b.landing_url.unwrap_or_default(),
        customer_id: b.customer,
        created_at: now,
    };
    let mut tx = state.db.begin().await?;
    store::insert_click(&mut tx, caller.livemode, &row).await?;
    let out = Click {
        attribution_expires_at: secs(now + state.config.affiliate_attribution_days * 86_400_000),
        id: row.id,
        object: "affiliate_click",
        affiliate: a.id,
        customer: row.customer_id,
        created: secs(now),
    };
    commit_json(tx, None, StatusCode::CREATED, &out).await
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Commission {
    pub id: String,
    /// Always `commission`.
    pub object: &'static str,
    pub affiliate: String,
    pub order: String,
    pub click: String,
    pub currency: String,
    pub amount: i64,
    /// `pending`, `approved`, `paid`, `cancelled`.
    pub status: String,
    /// When it is approved (the order's refund window closes).
    pub approve_at: i64,
    pub payout: Option<String>,
    pub created: i64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CommissionListParams {
    pub affiliate: Option<String>,
    pub status: Option<String>,
}

#[utoipa::path(get, path = "/v1/commissions", tag = "payouts", params(CommissionListParams),
    responses((status = 200, body = ListResponse<Commission>)), security(("api_key" = [])))]
async fn list_commissions(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<CommissionListParams>,
) -> ApiResult<Json<ListResponse<Commission>>> {
    let rows =
        store::commissions(state.db.reader(), caller.livemode, q.affiliate.as_deref(), q.status.as_deref()).await?;
    let n = rows.len() as i64;
    let data = rows
        .into_iter()
        .map(|c| Commission {
            id: c.id,
            object: "commission",
            affiliate: c.affiliate_id,
            order: c.order_id,
            click: c.click_id,
            currency: c.currency,
            amount: c.amount,
            status: c.status,
            approve_at: secs(c.approve_at),
            payout: c.payout_id,
            created: secs(c.created_at),
        })
        .collect();
    Ok(Json(ListResponse::from_rows(data, n, "/v1/commissions")))
}

// ---------------------------------------------------------------------------
// Payouts
// ---------------------------------------------------------------------------

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayoutRunCreate {
    /// Unix seconds the run pays up to; default now. Test mode may run ahead
    /// of now (test clocks).
    pub as_of: Option<i64>,
}

#[utoipa::path(post, path = "/v1/payout_runs", tag = "payouts", request_body = PayoutRunCreate,
    responses((status = 200, body = bursar_core::marketplace::PayoutRun), (status = 400, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn run_payouts(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(b): ApiJson<PayoutRunCreate>,
) -> ApiResult<Json<bursar_core::marketplace::PayoutRun>> {
    let now = state.now_ms();
    let at = b.as_of.map_or(now, |s| s.saturating_mul(1000));
    if !(0..=4_102_444_800_000).contains(&at) {
        return Err(ApiError::invalid("as_of", "as_of is Unix seconds before 2100"));
    }
    // Live runs pay the present: not ahead of now, and not a month already
    // gone (which would open a second payout "for" that month).
    if caller.livemode && !(now - 7 * 86_400_000..=now).contains(&at) {
        return Err(ApiError::invalid("as_of", "in live mode as_of is within the last 7 days"));
    }
    let run = bursar_core::marketplace::run_payouts(&state.db, &state.billing_settings(), caller.livemode, at).await?;
    Ok(Json(run))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Payout {
    pub id: String,
    /// Always `payout`.
    pub object: &'static str,
    /// `instructor` or `affiliate`.
    pub payee_kind: String,
    pub payee: String,
    pub currency: String,
    pub amount: i64,
    /// `sandbox`, `bank_transfer`, `stripe_connect` or `paypal`.
    pub method: String,
    /// `paid`; `in_transit` (in the bank transfer export); `pending` (sent to
    /// the provider, or about to be, not confirmed yet); `failed` (the
    /// provider refused: its earnings and commissions are due again).
    pub status: String,
    /// The transfer reference.
    pub reference: Option<String>,
    /// The provider's id: Stripe transfer `tr_…`, PayPal `payout_batch_id`.
    pub provider_reference: Option<String>,
    /// Where a provider sends it: the connected account or PayPal email.
    pub destination: Option<String>,
    /// Why it failed, or the last unclear answer while pending.
    pub failure_message: Option<String>,
    /// The run's month, `YYYY-MM`.
    pub period: String,
    pub paid_at: Option<i64>,
    pub created: i64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PayoutListParams {
    /// Instructor or affiliate id (an instructor session sees its own).
    pub payee: Option<String>,
    pub period: Option<String>,
}

#[utoipa::path(get, path = "/v1/payouts", tag = "payouts", params(PayoutListParams),
    responses((status = 200, body = ListResponse<Payout>)), security(("api_key" = [])))]
async fn list_payouts(
    State(state): State<AppState>,
    actor: Actor,
    ApiQuery(q): ApiQuery<PayoutListParams>,
) -> ApiResult<Json<ListResponse<Payout>>> {
    let payee = match (actor.instructor(), q.payee) {
        (Some(me), Some(p)) if p != me => return Ok(Json(ListResponse::from_rows(vec![], 0, "/v1/payouts"))),
        (Some(me), _) => Some(me.to_string()),
        (None, p) => p,
    };
    let rows = store::payouts(state.db.reader(), actor.livemode(), payee.as_deref(), q.period.as_deref()).await?;
    let mut extra: BTreeMap<String, store::PayoutProviderFields> =
        store::payout_provider_fields(state.db.reader(), actor.livemode(), payee.as_deref(), q.period.as_deref())
            .await?
            .into_iter()
            .map(|f| (f.id.clone(), f))
            .collect();
    let n = rows.len() as i64;
    let data = rows
        .into_iter()
        .map(|p| {
            let extra = extra.remove(&p.id).unwrap_or_default();
            Payout {
                id: p.id,
                object: "payout",
                payee_kind: p.payee_kind,
                payee: p.payee_id,
                currency: p.currency,
                amount: p.amount,
                method: p.method,
                status: p.status,
                reference: p.reference,
                provider_reference: extra.provider_ref,
                destination: extra.destination,
                failure_message: extra.failure_message,
                period: p.period,
                paid_at: p.paid_at.map(secs),
                created: secs(p.created_at),
            }
        })
        .collect();
    Ok(Json(ListResponse::from_rows(data, n, "/v1/payouts")))
}

#[utoipa::path(get, path = "/v1/payouts/export", tag = "payouts", params(PeriodParams),
    responses((status = 200, description = "CSV bank transfer file: the month's bank_transfer payouts",
               content_type = "text/csv"), (status = 400, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn export_payouts(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<PeriodParams>,
) -> ApiResult<Response> {
    month_bounds(&q.period)?;
    let mut out = String::from("payout,payee_kind,payee,name,iban,currency,amount,reference\n");
    for p in store::payouts(state.db.reader(), caller.livemode, None, Some(&q.period)).await? {
        if p.method != "bank_transfer" || p.amount <= 0 {
            continue;
        }
        let (name, details) = if p.payee_kind == "instructor" {
            let i = store::instructor(state.db.reader(), caller.livemode, &p.payee_id).await?;
            i.map(|i| (i.name, i.payout_details)).unwrap_or_default()
        } else {
            let a = store::affiliate(state.db.reader(), caller.livemode, &p.payee_id).await?;
            a.map(|a| (a.name, a.payout_details)).unwrap_or_default()
        };
        let details: serde_json::Value = serde_json::from_str(&details).unwrap_or_default();
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{}",
            p.id,
            p.payee_kind,
            p.payee_id,
            csv_field(details["account_name"].as_str().unwrap_or(&name)),
            details["iban"].as_str().unwrap_or_default(),
            p.currency,
            decimal(p.amount, &p.currency),
            p.reference.unwrap_or_default()
        );
    }
    Ok(csv_response(&format!("payouts-{}.csv", q.period), out))
}

#[cfg(test)]
mod tests {
    use super::{decimal, month_bounds};

    #[test]
    fn csv_money_uses_the_currency_exponent() {
        assert_eq!(decimal(123_456, "EUR"), "1234.56");
        assert_eq!(decimal(-5, "USD"), "-0.05");
        assert_eq!(decimal(1_500, "JPY"), "1500");
        assert_eq!(decimal(1_234, "BHD"), "1.234");
    }

    #[test]
    fn months_are_half_open_utc_ranges() {
        let (a, b) = month_bounds("2026-12").unwrap();
        assert_eq!(a, 1_796_083_200_000);
        assert_eq!(b - a, 31 * 86_400_000);
        assert!(month_bounds("2026-13").is_err());
        assert!(month_bounds("26-1x").is_err());
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PayoutSettled {
    pub id: String,
    /// Always `payout`.
    pub object: &'static str,
    /// `paid` or `failed`.
    pub status: String,
    pub amount: i64,
    pub currency: String,
    pub failure_message: Option<String>,
}

fn settled(p: bursar_store::marketplace::ProviderPayoutRow) -> PayoutSettled {
    PayoutSettled {
        id: p.id,
        object: "payout",
        status: p.status,
        amount: p.amount,
        currency: p.currency,
        failure_message: p.failure_message,
    }
}

#[utoipa::path(post, path = "/v1/payouts/{id}/confirm", tag = "payouts",
    params(("id" = String, Path, description = "Payout id")),
    responses((status = 200, body = PayoutSettled), (status = 404, body = crate::error::ErrorEnvelope),
              (status = 409, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn confirm_payout(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<PayoutSettled>> {
    let p = bursar_core::payouts::settle_bank_transfer(&state.db, caller.livemode, &id, None, state.now_ms()).await?;
    Ok(Json(settled(p)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayoutFailure {
    /// Why the bank refused or returned the transfer.
    pub reason: String,
}

#[utoipa::path(post, path = "/v1/payouts/{id}/fail", tag = "payouts", request_body = PayoutFailure,
    params(("id" = String, Path, description = "Payout id")),
    responses((status = 200, body = PayoutSettled), (status = 400, body = crate::error::ErrorEnvelope),
              (status = 404, body = crate::error::ErrorEnvelope), (status = 409, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn fail_payout(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<PayoutFailure>,
) -> ApiResult<Json<PayoutSettled>> {
    if b.reason.trim().is_empty() || b.reason.chars().count() > 500 {
        return Err(ApiError::invalid("reason", "reason is 1 to 500 characters"));
    }
    let p = bursar_core::payouts::settle_bank_transfer(&state.db, caller.livemode, &id, Some(b.reason), state.now_ms())
        .await?;
    Ok(Json(settled(p)))
}
