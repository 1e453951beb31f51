//! Checkout sessions over HTTP: the platform creates one and sends the
//! buyer to its `url`.

use super::{commit_json, secs};
use crate::checkout::{self, Item};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, Caller};
use crate::middleware::Idem;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use bursar_domain::id::{is_valid, new_id, IdKind};
use bursar_domain::money::Currency;
use bursar_store::checkout::{self as store, SessionRow};
use bursar_store::{catalog, customers};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_session)).routes(routes!(get_session))
}

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
    pub items: Option<Vec<Item>>,
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
pub(crate) fn return_urls(
    state: &AppState,
    session_id: &str,
    success: Option<String>,
    cancel: Option<String>,
) -> ApiResult<(String, String)> {
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
pub(crate) fn public_base(state: &AppState) -> String {
    let base = state.config.public_url.clone().unwrap_or_else(|| format!("http://{}", state.config.listen));
    base.trim_end_matches('/').to_string()
}

pub(crate) fn check_url(param: &str, u: &str) -> ApiResult<()> {
    let ok = (u.starts_with("https://") || u.starts_with("http://"))
        && u.len() <= 2048
        && !u.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(param, format!("{param} must be an http(s) URL of at most 2048 characters")))
    }
}

pub(crate) async fn render(state: &AppState, s: SessionRow) -> ApiResult<Session> {
    let sum = checkout::summarize(&state.db, &state.billing_settings(), &s).await?;
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

/// The fields a plan choice's errors name.
pub(crate) struct PlanFields {
    pub plan: &'static str,
    pub interval: &'static str,
    pub quantity: &'static str,
    /// Where "no price in this currency" points.
    pub currency: &'static str,
}

impl PlanFields {
    pub const CHECKOUT: PlanFields =
        PlanFields { plan: "plan", interval: "interval", quantity: "quantity", currency: "currency" };
}

/// A plan chosen to subscribe to, by code or id: offered, with a price for
/// the interval (`month` by default) in the currency, not free, and 1 to
/// 10,000 seats (1 by default).
pub(crate) async fn choose_plan(
    conn: &mut sqlx::AnyConnection,
    livemode: bool,
    key: &str,
    interval: Option<&str>,
    quantity: Option<i64>,
    currency: &str,
    f: &PlanFields,
) -> ApiResult<(catalog::PlanRow, catalog::PriceRow, i64)> {
    let plan = if is_valid(IdKind::Plan, key) {
        catalog::plan_by_id(&mut *conn, livemode, key).await?
    } else {
        catalog::plan_by_code(&mut *conn, livemode, key).await?
    }
    .ok_or_else(|| ApiError::not_found(f.plan, "plan", key))?;
    if !plan.active {
        return Err(ApiError::invalid(f.plan, format!("plan `{}` is no longer offered", plan.code)));
    }
    let interval = interval.unwrap_or("month");
    if !matches!(interval, "month" | "year") {
        return Err(ApiError::invalid(f.interval, "interval must be `month` or `year`"));
    }
    let quantity = quantity.unwrap_or(1);
    if !(1..=10_000).contains(&quantity) {
        return Err(ApiError::invalid(f.quantity, "quantity is 1 to 10000"));
    }
    let price = catalog::prices_of(&mut *conn, livemode, Some(&plan.id), false)
        .await?
        .into_iter()
        .find(|p| p.currency == currency && p.interval == interval)
        .ok_or_else(|| {
            ApiError::invalid(f.currency, format!("plan `{}` has no {interval}ly price in {currency}", plan.code))
        })?;
    if price.amount == 0 {
        return Err(ApiError::invalid(f.plan, "a free plan needs no checkout; create the subscription directly"));
    }
    Ok((plan, price, quantity))
}

#[utoipa::path(post, path = "/v1/checkout/sessions", tag = "checkout", request_body = SessionCreate,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 201, body = Session), (status = 400, body = crate::error::ErrorEnvelope),
              (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn create_session(
    State(state): State<AppState>,
    caller: Caller,
    Idem(idem): Idem,
    ApiJson(body): ApiJson<SessionCreate>,
) -> ApiResult<Response> {
    let id = new_id(IdKind::CheckoutSession);
    let (success_url, cancel_url) = return_urls(&state, &id, body.success_url.clone(), body.cancel_url.clone())?;
    let currency = match &body.currency {
        Some(c) => {
            Some(Currency::from_code(c).map_err(|_| ApiError::invalid("currency", format!("unknown currency `{c}`")))?)
        }
        None => None,
    };
    if !is_valid(IdKind::Customer, &body.customer) {
        return Err(ApiError::not_found("customer", "customer", &body.customer));
    }
    let customer = customers::get(state.db.reader(), caller.livemode, &body.customer)
        .await?
        .filter(|c| c.deleted_at.is_none())
        .ok_or_else(|| ApiError::not_found("customer", "customer", &body.customer))?;
    let currency = currency.unwrap_or_else(|| super::customers::billing_currency_of(&customer));
    let now = state.now_ms();
    let mut s = SessionRow {
        id,
        livemode: caller.livemode,
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
        form_token: checkout::form_token(),
        provider: None,
        subscription_id: None,
        invoice_id: None,
        payment_id: None,
        last_error: None,
        expires_at: now + checkout::SESSION_HOURS * 3_600_000,
        created_at: now,
        completed_at: None,
        credit_grant: None,
    };
    let mut tx = state.db.begin().await?;
    match body.mode.as_str() {
        "subscription" => {
            if body.items.is_some() {
                return Err(ApiError::invalid("items", "items are for mode=payment; use plan"));
            }
            if body.credit_grant.is_some() {
                return Err(ApiError::invalid("credit_grant", "credits are sold with mode=payment"));
            }
            let key = body.plan.as_deref().ok_or_else(|| ApiError::missing("plan"))?;
            let (plan, price, quantity) = choose_plan(
                &mut tx,
                caller.livemode,
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
                return Err(ApiError::invalid("plan", "plan is for mode=subscription; use items"));
            }
            let items = body.items.clone().ok_or_else(|| ApiError::missing("items"))?;
            if items.is_empty() || items.len() > 100 {
                return Err(ApiError::invalid("items", "1 to 100 items"));
            }
            for (i, it) in items.iter().enumerate() {
                if it.course.is_some() {
                    return Err(ApiError::invalid(
                        &format!("items[{i}].course"),
                        "courses are sold through carts: POST /v1/carts, then /v1/carts/{id}/checkout",
                    ));
                }
                if it.description.trim().is_empty() || it.description.chars().count() > 500 {
                    return Err(ApiError::invalid(&format!("items[{i}].description"), "1 to 500 characters"));
                }
                if !(1..=1_000_000).contains(&it.quantity) {
                    return Err(ApiError::invalid(&format!("items[{i}].quantity"), "quantity is 1 to 1000000"));
                }
                if !(1..=100_000_000_000).contains(&it.unit_amount) {
                    return Err(ApiError::invalid(
                        &format!("items[{i}].unit_amount"),
                        "unit_amount is 1 to 100000000000 minor units",
                    ));
                }
            }
            // Each line and the whole cart stay far from overflowing an i64.
            let total = items
                .iter()
                .try_fold(0_i64, |acc, it| it.unit_amount.checked_mul(it.quantity).and_then(|a| acc.checked_add(a)));
            if total.is_none_or(|t| t > 100_000_000_000) {
                return Err(ApiError::invalid("items", "the items total at most 100000000000 minor units"));
            }
            s.items = serde_json::to_string(&items).map_err(|_| ApiError::internal())?;
            if let Some(g) = &body.credit_grant {
                let metric = bursar_store::usage::metrics(&mut *tx, caller.livemode)
                    .await?
                    .into_iter()
                    .find(|m| m.code == g.metric)
                    .ok_or_else(|| ApiError::invalid("credit_grant.metric", format!("no metric `{}`", g.metric)))?;
                if !matches!(metric.aggregation.as_str(), "sum" | "count") {
                    return Err(ApiError::invalid("credit_grant.metric", "credits are for sum or count metrics"));
                }
                if !(1..=1_000_000_000).contains(&g.amount) {
                    return Err(ApiError::invalid("credit_grant.amount", "amount is 1 to 10^9"));
                }
                if g.expires_in_days.is_some_and(|d| !(1..=3650).contains(&d)) {
                    return Err(ApiError::invalid("credit_grant.expires_in_days", "expires_in_days is 1 to 3650"));
                }
                s.credit_grant = Some(serde_json::to_string(g).map_err(|_| ApiError::internal())?);
            }
        }
        _ => return Err(ApiError::invalid("mode", "mode is subscription or payment")),
    }
    store::insert(&mut tx, &s).await?;
    if let Some(code) = body.coupon {
        s.coupon = Some(code);
        store::save(&mut tx, &s).await?;
        crate::checkout::validate_coupon(&mut tx, &s, now).await.map_err(|e| e.with_param("coupon"))?;
    }
    let id = s.id.clone();
    tx.commit().await?;
    let s = store::get(state.db.reader(), &id).await?.ok_or_else(ApiError::internal)?;
    let out = render(&state, s).await?;
    let tx = state.db.begin().await?;
    commit_json(tx, idem.as_ref(), StatusCode::CREATED, &out).await
}

#[utoipa::path(get, path = "/v1/checkout/sessions/{id}", tag = "checkout",
    params(("id" = String, Path, description = "Checkout session id")),
    responses((status = 200, body = Session), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn get_session(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Session>> {
    let not_found = || ApiError::not_found("id", "checkout session", &id);
    if !is_valid(IdKind::CheckoutSession, &id) {
        return Err(not_found());
    }
    let s =
        store::get(state.db.reader(), &id).await?.filter(|s| s.livemode == caller.livemode).ok_or_else(not_found)?;
    Ok(Json(render(&state, s).await?))
}
