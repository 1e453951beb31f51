//! Checkout sessions: created by the platform (or a cart), read by the
//! platform and the hosted page, and fulfilled once paid (`fulfil`). The
//! buyer's flow through the page (Pay, the provider, the return) is
//! `checkout`; what a session sells and costs is `basket`.

mod fulfil;

pub use bursar_store::checkout::SessionRow;
pub use fulfil::{fulfil, keep_method, payment_settled, save_method};

use crate::basket;
use crate::common::secs;
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::idempotency::Reply;
use bursar_domain::id::{is_valid, new_id, IdKind};
use bursar_domain::money::Locale;
use bursar_store::checkout as store;
use bursar_store::{billing as billing_store, customers};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionCreate {
    pub customer: String,
    /// `subscription` (a plan) or `payment` (one-off items).
    pub mode: String,
    /// Subscription: the plan's code or id.
    pub plan: Option<String>,
    /// Subscription: `month` (default) or `year`.
    pub interval: Option<String>,
    /// Subscription: seats (default 1).
    pub quantity: Option<i64>,
    /// Payment: 1 to 100 items.
    pub items: Option<Vec<basket::Item>>,
    /// Default: the customer's billing currency.
    pub currency: Option<String>,
    /// A coupon applied from the start (the buyer can also enter one).
    pub coupon: Option<String>,
    /// Payment mode: credits the purchase grants once paid (an AI credit top-up).
    pub credit_grant: Option<CreditGrantSpec>,
    /// Where the buyer goes after paying (`session_id` is appended).
    /// Default: Bursar's own receipt page, `/checkout/{id}/thanks`.
    pub success_url: Option<String>,
    /// Where the buyer goes when leaving without paying. Default: Bursar's
    /// own page, `/checkout/{id}/left`, which offers the way back.
    pub cancel_url: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreditGrantSpec {
    /// A `sum` or `count` metric (`ai_credits`).
    pub metric: String,
    pub amount: i64,
    /// Days until the credits expire; none: they do not.
    pub expires_in_days: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Session {
    pub id: String,
    /// Always `checkout.session`.
    pub object: &'static str,
    pub livemode: bool,
    /// Send the buyer here.
    pub url: String,
    pub customer: String,
    pub mode: String,
    /// `open`, `complete` or `expired`.
    pub status: String,
    pub currency: String,
    /// What paying now would charge, tax included (minor units).
    pub amount_total: i64,
    pub amount_tax: i64,
    pub coupon: Option<String>,
    pub provider: Option<String>,
    pub subscription: Option<String>,
    pub invoice: Option<String>,
    pub payment: Option<String>,
    pub success_url: String,
    pub cancel_url: String,
    pub expires_at: i64,
    pub created: i64,
}

/// A session's return addresses: those the platform gave, checked, or
/// Bursar's own receipt and "left" pages.
pub fn return_urls(
    state: &Ctx,
    session_id: &str,
    success: Option<String>,
    cancel: Option<String>,
) -> Result<(String, String)> {
    let base = public_base(state);
    let success = match success {
        Some(u) => check_url("success_url", &u).map(|()| u)?,
        None => format!("{base}/checkout/{session_id}/thanks"),
    };
    let cancel = match cancel {
        Some(u) => check_url("cancel_url", &u).map(|()| u)?,
        None => format!("{base}/checkout/{session_id}/left"),
    };
    Ok((success, cancel))
}

/// Where buyers reach this server.
pub fn public_base(state: &Ctx) -> String {
    state.config.base_url()
}

pub fn check_url(param: &str, u: &str) -> Result<()> {
    let ok = (u.starts_with("https://") || u.starts_with("http://"))
        && u.len() <= 2048
        && !u.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(param, format!("{param} must be an http(s) URL of at most 2048 characters")))
    }
}

/// The session as the platform sees it, priced on `conn`.
pub async fn render(state: &Ctx, conn: &mut sqlx::AnyConnection, s: SessionRow) -> Result<Session> {
    let sum = basket::summarize_in(conn, &state.billing_settings(), &s).await?;
    Ok(Session {
        url: format!("{}/checkout/{}", public_base(state), s.id),
        id: s.id,
        object: "checkout.session",
        livemode: s.livemode,
        customer: s.customer_id,
        mode: s.mode,
        status: s.status,
        currency: s.currency,
        amount_total: sum.total,
        amount_tax: sum.tax,
        coupon: s.coupon,
        provider: s.provider,
        subscription: s.subscription_id,
        invoice: s.invoice_id,
        payment: s.payment_id,
        success_url: s.success_url,
        cancel_url: s.cancel_url,
        expires_at: secs(s.expires_at),
        created: secs(s.created_at),
    })
}

pub use crate::plan_choice::{choose_plan, PlanFields};

/// Creates a session. The answer is stored for the idempotency key in the
/// same transaction as the session.
pub async fn create(ctx: &Ctx, livemode: bool, body: SessionCreate, reply: &Reply) -> Result<Session> {
    let state = ctx;
    let id = new_id(IdKind::CheckoutSession);
    let (success_url, cancel_url) = return_urls(state, &id, body.success_url.clone(), body.cancel_url.clone())?;
    let currency = match &body.currency {
        Some(c) => Some(crate::common::new_currency("currency", c)?),
        None => None,
    };
    if !is_valid(IdKind::Customer, &body.customer) {
        return Err(Error::not_found("customer", "customer", &body.customer));
    }
    let customer = customers::get(state.db.reader(), livemode, &body.customer)
        .await?
        .filter(|c| c.deleted_at.is_none())
        .ok_or_else(|| Error::not_found("customer", "customer", &body.customer))?;
    let currency = currency.unwrap_or_else(|| crate::customers::billing_currency_of(&customer));
    let now = state.now_ms();
    let mut s = SessionRow {
        id,
        livemode,
        customer_id: customer.id.clone(),
        mode: body.mode.clone(),
        plan_id: None,
        price_id: None,
        quantity: 1,
        items: "[]".into(),
        currency: currency.code().to_string(),
        coupon: None,
        success_url,
        cancel_url,
        status: "open".into(),
        form_token: basket::form_token(),
        provider: None,
        subscription_id: None,
        invoice_id: None,
        payment_id: None,
        last_error: None,
        expires_at: now + basket::SESSION_HOURS * 3_600_000,
        created_at: now,
        completed_at: None,
        credit_grant: None,
    };
    let mut tx = state.db.begin().await?;
    match body.mode.as_str() {
        "subscription" => {
            if body.items.is_some() {
                return Err(Error::invalid("items", "items are for mode=payment; use plan"));
            }
            if body.credit_grant.is_some() {
                return Err(Error::invalid("credit_grant", "credits are sold with mode=payment"));
            }
            let key = body.plan.as_deref().ok_or_else(|| Error::missing("plan"))?;
            let (plan, price, quantity) = choose_plan(
                &mut tx,
                livemode,
                key,
                body.interval.as_deref(),
                body.quantity,
                &s.currency,
                &PlanFields::CHECKOUT,
            )
            .await?;
            s.plan_id = Some(plan.id);
            s.price_id = Some(price.id);
            s.quantity = quantity;
        }
        "payment" => {
            if body.plan.is_some() {
                return Err(Error::invalid("plan", "plan is for mode=subscription; use items"));
            }
            let items = body.items.clone().ok_or_else(|| Error::missing("items"))?;
            check_items(&items)?;
            s.items = serde_json::to_string(&items).map_err(|_| Error::internal())?;
            if let Some(g) = &body.credit_grant {
                check_credit_grant(&mut tx, livemode, g).await?;
                s.credit_grant = Some(serde_json::to_string(g).map_err(|_| Error::internal())?);
            }
        }
        _ => return Err(Error::invalid("mode", "mode is subscription or payment")),
    }
    store::insert(&mut tx, &s).await?;
    if let Some(code) = body.coupon {
        s.coupon = Some(code);
        store::save(&mut tx, &s).await?;
        basket::validate_coupon(&mut tx, &s, now).await.map_err(|e| e.with_param("coupon"))?;
    }
    let out = render(state, &mut tx, s).await?;
    reply.commit(tx, &out).await?;
    Ok(out)
}

/// One-off items a platform sells through a session: described, 1 to 100 of
/// them, each and all together far from overflowing.
fn check_items(items: &[basket::Item]) -> Result<()> {
    if items.is_empty() || items.len() > 100 {
        return Err(Error::invalid("items", "1 to 100 items"));
    }
    for (i, it) in items.iter().enumerate() {
        if it.course.is_some() {
            return Err(Error::invalid(
                &format!("items[{i}].course"),
                "courses are sold through carts: POST /v1/carts, then /v1/carts/{id}/checkout",
            ));
        }
        if it.description.trim().is_empty() || it.description.chars().count() > 500 {
            return Err(Error::invalid(&format!("items[{i}].description"), "1 to 500 characters"));
        }
        if !(1..=1_000_000).contains(&it.quantity) {
            return Err(Error::invalid(&format!("items[{i}].quantity"), "quantity is 1 to 1000000"));
        }
        if !(1..=100_000_000_000).contains(&it.unit_amount) {
            return Err(Error::invalid(
                &format!("items[{i}].unit_amount"),
                "unit_amount is 1 to 100000000000 minor units",
            ));
        }
    }
    let total = items
        .iter()
        .try_fold(0_i64, |acc, it| it.unit_amount.checked_mul(it.quantity).and_then(|a| acc.checked_add(a)));
    if total.is_none_or(|t| t > 100_000_000_000) {
        return Err(Error::invalid("items", "the items total at most 100000000000 minor units"));
    }
    Ok(())
}

async fn check_credit_grant(tx: &mut bursar_store::Tx, livemode: bool, g: &CreditGrantSpec) -> Result<()> {
    let metric = bursar_store::usage::metrics(&mut **tx, livemode)
        .await?
        .into_iter()
        .find(|m| m.code == g.metric)
        .ok_or_else(|| Error::invalid("credit_grant.metric", format!("no metric `{}`", g.metric)))?;
    if !matches!(metric.aggregation.as_str(), "sum" | "count") {
        return Err(Error::invalid("credit_grant.metric", "credits are for sum or count metrics"));
    }
    if !(1..=1_000_000_000).contains(&g.amount) {
        return Err(Error::invalid("credit_grant.amount", "amount is 1 to 10^9"));
    }
    if g.expires_in_days.is_some_and(|d| !(1..=3650).contains(&d)) {
        return Err(Error::invalid("credit_grant.expires_in_days", "expires_in_days is 1 to 3650"));
    }
    Ok(())
}

/// A session of this mode, as the platform sees it.
pub async fn get(ctx: &Ctx, livemode: bool, id: &str) -> Result<Session> {
    let not_found = || Error::not_found("id", "checkout session", id);
    if !is_valid(IdKind::CheckoutSession, id) {
        return Err(not_found());
    }
    let s = store::get(ctx.db.reader(), id).await?.filter(|s| s.livemode == livemode).ok_or_else(not_found)?;
    let mut conn = ctx.db.reader().acquire().await?;
    render(ctx, &mut conn, s).await
}

/// A session by id, whatever its mode (the hosted page's link is the key).
pub async fn load(ctx: &Ctx, id: &str) -> Result<SessionRow> {
    let not_found = || Error::not_found("id", "checkout session", id);
    if !is_valid(IdKind::CheckoutSession, id) {
        return Err(not_found());
    }
    store::get(ctx.db.reader(), id).await?.ok_or_else(not_found)
}

/// What the hosted page shows of a session.
pub struct SessionView {
    pub session: SessionRow,
    pub summary: basket::Summary,
    /// The buyer's locale (en-US when unknown).
    pub locale: Locale,
    /// Whether it can still be paid.
    pub open: bool,
    pub complete: bool,
    /// The invoice's number, once paid.
    pub invoice_number: Option<String>,
    /// The payment the buyer is making (amount, currency, provider, status).
    pub payment: Option<bursar_store::payments::PaymentRow>,
    /// Where a paid session sends the buyer.
    pub success_url: String,
}

/// The session for the hosted page.
pub async fn view(ctx: &Ctx, id: &str) -> Result<SessionView> {
    let s = load(ctx, id).await?;
    let mut conn = ctx.db.reader().acquire().await?;
    let customer = customers::get(&mut *conn, s.livemode, &s.customer_id).await?;
    let locale = customer.and_then(|c| c.locale).and_then(|l| Locale::from_tag(&l).ok()).unwrap_or(Locale::EnUs);
    let summary = basket::summarize_in(&mut conn, &ctx.billing_settings(), &s).await?;
    let open = s.status == "open" && s.expires_at > ctx.now_ms();
    let complete = s.status == "complete";
    let invoice_number = match (&s.invoice_id, complete) {
        (Some(id), true) => billing_store::invoice(&mut *conn, s.livemode, id).await?.and_then(|i| i.number),
        _ => None,
    };
    let payment = match &s.payment_id {
        Some(id) => bursar_store::payments::get(&mut *conn, id).await?,
        None => None,
    };
    Ok(SessionView {
        success_url: success_url(&s),
        session: s,
        summary,
        locale,
        open,
        complete,
        invoice_number,
        payment,
    })
}

/// The buyer entered (or cleared, with "") a coupon on the page. A coupon
/// that would be refused is an invalid `coupon`, with the reason.
pub async fn set_coupon(ctx: &Ctx, id: &str, form_token: &str, code: &str) -> Result<()> {
    let s = load(ctx, id).await?;
    check_token(&s, form_token)?;
    if s.status != "open" || s.invoice_id.is_some() {
        return Err(Error::conflict("checkout_closed", "The order can no longer be changed."));
    }
    let code = code.trim().to_string();
    let mut tx = ctx.db.begin().await?;
    let Some(mut s) = store::get_locked(&mut tx, ctx.db.for_update(), id).await? else {
        return Err(Error::internal());
    };
    if code.is_empty() {
        s.coupon = None;
    } else {
        basket::check_coupon(&mut tx, &s, &code, ctx.now_ms()).await?;
        s.coupon = Some(code);
    }
    s.last_error = None;
    store::save(&mut tx, &s).await?;
    tx.commit().await?;
    Ok(())
}

/// Where a paid session sends the buyer.
pub fn success_url(s: &SessionRow) -> String {
    let sep = if s.success_url.contains('?') { '&' } else { '?' };
    format!("{}{sep}session_id={}", s.success_url, s.id)
}

/// The buyer's actions carry the session's form token (the page's link is
/// public; the token proves the form came from it).
pub fn check_token(s: &SessionRow, token: &str) -> Result<()> {
    use subtle::ConstantTimeEq;
    if bool::from(s.form_token.as_bytes().ct_eq(token.as_bytes())) {
        Ok(())
    } else {
        Err(Error::forbidden("form_token_invalid", "the form is out of date; reload the page"))
    }
}
