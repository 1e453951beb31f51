//! Hosted checkout: the platform creates a session for a plan
//! (`subscription`) or a cart of one-off items (`payment`) and sends the
//! buyer to its URL. Bursar's page shows what is bought, the tax and the
//! total in the session's currency, takes a coupon, and on "Pay" issues the
//! invoice and sends the buyer to the provider chosen by routing (the
//! sandbox's own test card page in test mode). The provider sends the
//! buyer back; the payment is confirmed with the provider, the saved
//! method becomes the customer's default, the subscription starts, and
//! the buyer lands on the platform's success URL.
//!
//! Every state change is a transaction; provider calls happen between
//! them. A subscription bought through a checkout is `incomplete` until its
//! first payment succeeds and `incomplete_expired` if the session expires
//! unpaid (its invoice is then voided).

use crate::billing::{self, Settings};
use crate::error::{ApiError, ApiResult};
use crate::payments::{self, Answer};
use crate::state::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use bursar_domain::catalog::TaxBehavior;
use bursar_domain::id::{new_id, IdKind};
use bursar_domain::money::{format_money, Currency, Locale, Money};
use bursar_domain::subscription::{Event, Status};
use bursar_providers::{CheckoutRequest, CheckoutSession, CustomerInfo, MethodDetails};
use bursar_store::checkout::{self as store, SessionRow};
use bursar_store::payments::{self as pay_store, PaymentRow};
use bursar_store::{billing as billing_store, catalog, customers, dunning, events, Tx};
use serde::Deserialize;
use std::collections::BTreeMap;

/// How long a session can be paid.
pub const SESSION_HOURS: i64 = 24;

/// A one-off item of a `payment` session.
#[derive(Debug, Clone, serde::Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Item {
    pub description: String,
    /// Default 1.
    #[serde(default = "one")]
    pub quantity: i64,
    /// Minor units of the session currency.
    pub unit_amount: i64,
    /// The course or bundle sold: set on sessions opened from a cart
    /// (`POST /v1/carts/{id}/checkout`); refused on items sent here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub course: Option<String>,
}

impl Item {
    /// What a coupon sees this item as.
    pub fn coupon_item(&self) -> bursar_domain::coupon::Item<'_> {
        match self.course.as_deref() {
            Some(id) if id.starts_with("bnd_") => bursar_domain::coupon::Item::Bundle { id },
            Some(id) => bursar_domain::coupon::Item::Course { id },
            None => bursar_domain::coupon::Item::Other,
        }
    }
}

/// What a session's coupon discounts. A coupon that covers the plan is
/// the subscription's: it discounts the plan on the first invoice and on
/// renewals for as long as its duration says. One-off items it covers are
/// discounted once, on the first invoice; beside a plan it covers, only a
/// percentage reaches them (an amount off is taken once, from the plan).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CouponTargets {
    pub plan: bool,
    /// Per item of the session.
    pub items: Vec<bool>,
}

pub fn coupon_targets(
    rules: &bursar_domain::coupon::Rules,
    plan: Option<bursar_domain::coupon::Item<'_>>,
    items: &[Item],
) -> CouponTargets {
    let plan = plan.is_some_and(|p| rules.applies_to.covers(p));
    let items_too = !plan || matches!(rules.discount, bursar_domain::coupon::Discount::Percent { .. });
    CouponTargets { plan, items: items.iter().map(|i| items_too && rules.applies_to.covers(i.coupon_item())).collect() }
}

/// A session's coupon, its rules and what it discounts.
pub struct SessionCoupon {
    pub row: billing_store::CouponRow,
    pub rules: bursar_domain::coupon::Rules,
    pub targets: CouponTargets,
}

impl SessionCoupon {
    /// The one-off items' discount: (line description, amount off).
    pub fn items_discount(&self, items: &[Item], currency: Currency) -> ApiResult<Option<(String, i64)>> {
        let covered: i64 = items
            .iter()
            .zip(&self.targets.items)
            .filter(|(_, c)| **c)
            .map(|(i, _)| i.unit_amount.saturating_mul(i.quantity))
            .sum();
        if covered == 0 {
            return Ok(None);
        }
        let off = bursar_domain::coupon::discount_of(&self.rules.discount, currency.code(), covered)
            .map_err(|_| ApiError::internal())?;
        Ok((off != 0).then(|| (format!("{} ({})", self.row.name, self.row.code), off)))
    }
}

/// Loads the session's coupon (none when it has none or it is gone).
pub async fn session_coupon(conn: &mut sqlx::AnyConnection, s: &SessionRow) -> ApiResult<Option<SessionCoupon>> {
    let Some(code) = &s.coupon else { return Ok(None) };
    let Some(row) = billing_store::coupon_by_key(&mut *conn, s.livemode, code).await? else { return Ok(None) };
    let rules: bursar_domain::coupon::Rules = serde_json::from_str(&row.rules).map_err(|_| ApiError::internal())?;
    let plan = match &s.plan_id {
        Some(id) => catalog::plan_by_id(&mut *conn, s.livemode, id).await?,
        None => None,
    };
    let plan_item = plan.as_ref().map(|p| bursar_domain::coupon::Item::Plan { id: &p.id, code: &p.code });
    let targets = coupon_targets(&rules, plan_item, &items_of(s));
    Ok(Some(SessionCoupon { row, rules, targets }))
}

fn one() -> i64 {
    1
}

pub fn items_of(s: &SessionRow) -> Vec<Item> {
    serde_json::from_str(&s.items).unwrap_or_default()
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/checkout/{id}", get(page))
        .route("/checkout/{id}/coupon", post(apply_coupon))
        .route("/checkout/{id}/pay", post(pay))
        .route("/checkout/{id}/sandbox", get(sandbox_page).post(sandbox_pay))
        .route("/checkout/{id}/authenticate", post(authenticate))
        .route("/checkout/{id}/return", get(provider_return).post(provider_return_form))
        .route("/checkout/{id}/cancel", get(cancel))
        .route("/checkout/{id}/thanks", get(thanks))
        .route("/checkout/{id}/left", get(left))
}

/// What a session would charge now.
pub struct Summary {
    pub currency: Currency,
    /// (description, amount in minor units)
    pub lines: Vec<(String, i64)>,
    /// All the tax, including what is inside tax-inclusive prices.
    pub tax: i64,
    /// The part of `tax` inside tax-inclusive prices (not a line).
    pub tax_included: i64,
    pub total: i64,
}

/// Prices a session as its invoice would be issued now, without writing.
/// A plan is taxed as its price says; one-off items are priced before tax.
pub async fn summarize(db: &bursar_store::Db, settings: &Settings, s: &SessionRow) -> ApiResult<Summary> {
    let mut conn = db.reader().acquire().await?;
    let customer = customers::get(&mut *conn, s.livemode, &s.customer_id).await?.ok_or_else(ApiError::internal)?;
    let currency = Currency::from_code(&s.currency).map_err(|_| ApiError::internal())?;
    let coupon = session_coupon(&mut conn, s).await?;
    let mut drafts = Vec::new();
    let mut parts = Vec::new();
    if let (Some(plan_id), Some(price_id)) = (&s.plan_id, &s.price_id) {
        let plan = catalog::plan_by_id(&mut *conn, s.livemode, plan_id).await?.ok_or_else(ApiError::internal)?;
        let price = catalog::price_by_id(&mut *conn, s.livemode, price_id).await?.ok_or_else(ApiError::internal)?;
        let behavior = TaxBehavior::parse(&price.tax_behavior).unwrap_or(TaxBehavior::Exclusive);
        let amount = price.amount.checked_mul(s.quantity).ok_or_else(ApiError::internal)?;
        let per = if price.interval == "year" { "year" } else { "month" };
        let qty = if s.quantity > 1 { format!(" × {}", s.quantity) } else { String::new() };
        drafts.push((format!("{} (per {per}){qty}", plan.name), amount));
        let mut sum = amount;
        if let Some(c) = coupon.as_ref().filter(|c| c.targets.plan) {
            let off = bursar_domain::coupon::discount_of(&c.rules.discount, currency.code(), amount)
                .map_err(|_| ApiError::internal())?;
            if off != 0 {
                drafts.push((format!("{} ({})", c.row.name, c.row.code), -off));
                sum -= off;
            }
        }
        parts.push((behavior, sum));
    }
    let items = items_of(s);
    if !items.is_empty() {
        let mut sum = 0i64;
        for i in &items {
            let qty = if i.quantity > 1 { format!(" × {}", i.quantity) } else { String::new() };
            let amount = i.unit_amount.saturating_mul(i.quantity);
            drafts.push((format!("{}{qty}", i.description), amount));
            sum = sum.saturating_add(amount);
        }
        if let Some((name, off)) = coupon.as_ref().map(|c| c.items_discount(&items, currency)).transpose()?.flatten() {
            drafts.push((name, -off));
            sum -= off;
        }
        parts.push((TaxBehavior::Exclusive, sum));
    }
    let decision = bursar_domain::tax::decide(&settings.tax, &billing::buyer_of(&customer));
    let (taxed, each) =
        bursar_domain::tax::apply_parts(&decision, &parts, currency).map_err(|_| ApiError::internal())?;
    let tax = taxed.taxes.iter().map(|t| t.amount_minor).sum();
    // Tax on top of prices is a line; tax inside a price is not.
    let mut tax_included = 0;
    let mut on_top: Vec<bursar_domain::tax::TaxAmount> = Vec::new();
    for ((behavior, _), t) in parts.iter().zip(&each) {
        for x in &t.taxes {
            if *behavior == TaxBehavior::Inclusive {
                tax_included += x.amount_minor;
            } else if let Some(y) = on_top.iter_mut().find(|y| y.name == x.name && y.jurisdiction == x.jurisdiction) {
                y.amount_minor += x.amount_minor;
            } else {
                on_top.push(x.clone());
            }
        }
    }
    for t in on_top.iter().filter(|t| t.amount_minor != 0) {
        drafts.push((format!("{} {}.{:02} %", t.name, t.rate_bps / 100, t.rate_bps % 100), t.amount_minor));
    }
    Ok(Summary { currency, lines: drafts, tax, tax_included, total: taxed.total_minor })
}

fn token_ok(s: &SessionRow, token: &str) -> bool {
    use subtle::ConstantTimeEq;
    bool::from(s.form_token.as_bytes().ct_eq(token.as_bytes()))
}

async fn load(state: &AppState, id: &str) -> ApiResult<SessionRow> {
    let not_found = || ApiError::not_found("id", "checkout session", id);
    if !bursar_domain::id::is_valid(IdKind::CheckoutSession, id) {
        return Err(not_found());
    }
    store::get(state.db.reader(), id).await?.ok_or_else(not_found)
}

fn money(minor: i64, c: Currency, locale: Locale) -> String {
    format_money(Money::new(minor, c), locale)
}

#[derive(Template)]
#[template(path = "checkout/session.html")]
struct SessionPage {
    lang: String,
    id: String,
    title: String,
    test_mode: bool,
    error: Option<String>,
    lines: Vec<(String, String)>,
    total_label: String,
    total: String,
    note: Option<String>,
    open: bool,
    closed_message: String,
    form_token: String,
    coupon: String,
    pay_label: String,
}

fn html(t: impl Template) -> Response {
    match t.render() {
        Ok(body) => (
            [(header::CACHE_CONTROL, "no-store"), (header::HeaderName::from_static("x-frame-options"), "DENY")],
            Html(body),
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            ApiError::internal().into_response()
        }
    }
}

async fn locale_of(state: &AppState, s: &SessionRow) -> Locale {
    let c = customers::get(state.db.reader(), s.livemode, &s.customer_id).await.ok().flatten();
    c.and_then(|c| c.locale).and_then(|l| Locale::from_tag(&l).ok()).unwrap_or(Locale::EnUs)
}

async fn render_session(state: &AppState, s: &SessionRow, error: Option<String>) -> ApiResult<Response> {
    let locale = locale_of(state, s).await;
    let sum = summarize(&state.db, &state.billing_settings(), s).await?;
    let open = s.status == "open" && s.expires_at > state.now_ms();
    let complete = s.status == "complete";
    let title = match (complete, s.mode.as_str()) {
        (true, "subscription") => "You're subscribed",
        (true, _) => "Thank you",
        (false, "subscription") => "Subscribe",
        (false, _) => "Checkout",
    };
    let invoice = match (&s.invoice_id, complete) {
        (Some(id), true) => billing_store::invoice(state.db.reader(), s.livemode, id).await?.and_then(|i| i.number),
        _ => None,
    };
    Ok(html(SessionPage {
        lang: locale.tag().split('-').next().unwrap_or("en").to_string(),
        id: s.id.clone(),
        title: title.into(),
        test_mode: !s.livemode,
        error: error.or_else(|| s.last_error.clone()),
        lines: sum.lines.iter().map(|(d, a)| (d.clone(), money(*a, sum.currency, locale))).collect(),
        total_label: match (complete, s.mode.as_str()) {
            (true, _) => "Paid".into(),
            (false, "subscription") => "Due today".into(),
            (false, _) => "Total".into(),
        },
        total: money(sum.total, sum.currency, locale),
        note: (s.mode == "subscription").then(|| "Renews automatically; cancel any time.".to_string()),
        open,
        closed_message: match (complete, invoice) {
            (true, Some(n)) => format!("Payment received. Your invoice number is {n}."),
            (true, None) => "Payment received.".into(),
            (false, _) => "This checkout has expired.".into(),
        },
        form_token: s.form_token.clone(),
        coupon: s.coupon.clone().unwrap_or_default(),
        pay_label: format!("Pay {}", money(sum.total, sum.currency, locale)),
    }))
}

async fn page(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    let s = load(&state, &id).await?;
    render_session(&state, &s, None).await
}

#[derive(Deserialize)]
struct CouponForm {
    form_token: String,
    code: String,
}

async fn apply_coupon(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Form(f): Form<CouponForm>,
) -> ApiResult<Response> {
    let s = load(&state, &id).await?;
    if !token_ok(&s, &f.form_token) {
        return Err(ApiError::forbidden("form_token_invalid", "the form is out of date; reload the page"));
    }
    if s.status != "open" || s.invoice_id.is_some() {
        return render_session(&state, &s, Some("The order can no longer be changed.".into())).await;
    }
    let code = f.code.trim().to_string();
    let mut tx = state.db.begin().await?;
    let Some(mut s) = store::get_locked(&mut tx, state.db.for_update(), &id).await? else {
        return Err(ApiError::internal());
    };
    if code.is_empty() {
        s.coupon = None;
    } else {
        if let Err(e) = check_coupon(&mut tx, &s, &code, state.now_ms()).await {
            drop(tx);
            return render_session(&state, &s, Some(e.body.message)).await;
        }
        s.coupon = Some(code);
    }
    s.last_error = None;
    store::save(&mut tx, &s).await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/checkout/{id}")).into_response())
}

/// Checks the session's coupon (for the API, which names the field).
pub async fn validate_coupon(tx: &mut Tx, s: &SessionRow, now: i64) -> ApiResult<()> {
    match &s.coupon {
        Some(code) => check_coupon(tx, s, code, now).await,
        None => Ok(()),
    }
}

/// Whether a coupon would be accepted for this session (redeemed for real
/// when the buyer pays).
async fn check_coupon(tx: &mut Tx, s: &SessionRow, code: &str, now: i64) -> ApiResult<()> {
    let customer = customers::get(&mut **tx, s.livemode, &s.customer_id).await?.ok_or_else(ApiError::internal)?;
    let c = billing_store::coupon_by_key(&mut **tx, s.livemode, code)
        .await?
        .ok_or_else(|| ApiError::invalid("coupon", format!("no coupon `{code}`")))?;
    let rules: bursar_domain::coupon::Rules = serde_json::from_str(&c.rules).map_err(|_| ApiError::internal())?;
    let (plan_amount, plan) = match (&s.plan_id, &s.price_id) {
        (Some(plan_id), Some(price_id)) => {
            let plan = catalog::plan_by_id(&mut **tx, s.livemode, plan_id).await?.ok_or_else(ApiError::internal)?;
            let price = catalog::price_by_id(&mut **tx, s.livemode, price_id).await?.ok_or_else(ApiError::internal)?;
            (price.amount.saturating_mul(s.quantity), Some(plan))
        }
        _ => (0, None),
    };
    let items = items_of(s);
    let plan_item = plan.as_ref().map(|p| bursar_domain::coupon::Item::Plan { id: &p.id, code: &p.code });
    let t = coupon_targets(&rules, plan_item, &items);
    // Tried on the plan when it covers the plan, else on the first item it
    // covers (or on what is bought, to be refused); the minimum purchase
    // counts what it discounts.
    let first_item = items.iter().zip(&t.items).find(|(_, c)| **c).map(|(i, _)| i.coupon_item());
    let item = match (t.plan, plan_item, first_item) {
        (true, Some(p), _) => p,
        (_, _, Some(i)) => i,
        (_, Some(p), None) => p,
        (_, None, None) => items.first().map_or(bursar_domain::coupon::Item::Other, Item::coupon_item),
    };
    let covered: i64 =
        items.iter().zip(&t.items).filter(|(_, c)| **c).map(|(i, _)| i.unit_amount.saturating_mul(i.quantity)).sum();
    let item_amount = if t.plan { plan_amount } else { 0 } + covered;
    let attempt = bursar_domain::coupon::Attempt {
        now,
        item,
        currency: &s.currency,
        amount: item_amount,
        customer_redemptions: billing_store::customer_redemptions(tx, &c.id, &customer.id).await?,
        customer_has_purchased: billing_store::has_purchased(tx, &customer.id).await?,
    };
    rules.check(c.active, &attempt).map_err(|r| ApiError::invalid("coupon", r.to_string()))?;
    // The redemption itself is taken atomically at Pay; this only spares the
    // buyer a coupon that is already used up.
    if c.max_redemptions.is_some_and(|m| c.redemptions >= m) {
        return Err(ApiError::invalid("coupon", bursar_domain::coupon::Refusal::Exhausted.to_string()));
    }
    Ok(())
}

#[derive(Deserialize)]
struct TokenForm {
    form_token: String,
}

/// The base URL the buyer reaches Bursar at.
fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(u) = &state.config.public_url {
        return u.trim_end_matches('/').to_string();
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1:8080");
    format!("http://{host}")
}

/// "Pay": issues the invoice (once), creates the payment attempt, and sends
/// the buyer to the provider.
async fn pay(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(f): Form<TokenForm>,
) -> ApiResult<Response> {
    let s = load(&state, &id).await?;
    if !token_ok(&s, &f.form_token) {
        return Err(ApiError::forbidden("form_token_invalid", "the form is out of date; reload the page"));
    }
    let settings = state.billing_settings();
    let mut tx = state.db.begin().await?;
    let Some(mut s) = store::get_locked(&mut tx, state.db.for_update(), &id).await? else {
        return Err(ApiError::internal());
    };
    if s.status != "open" || s.expires_at <= state.now_ms() {
        drop(tx);
        return render_session(&state, &s, None).await;
    }
    let customer = customers::get(&mut *tx, s.livemode, &s.customer_id).await?.ok_or_else(ApiError::internal)?;
    let now = billing::now_for(&mut tx, &customer, state.now_ms()).await?;
    if s.invoice_id.is_none() {
        match issue(&mut tx, &settings, state.db.for_update(), state.now_ms(), &mut s, &customer, now).await {
            Ok(()) => {}
            Err(e) if e.status.is_client_error() => {
                drop(tx);
                return render_session(&state, &s, Some(e.body.message)).await;
            }
            Err(e) => return Err(e),
        }
    }
    let inv_id = s.invoice_id.clone().ok_or_else(ApiError::internal)?;
    let inv = billing_store::invoice(&mut *tx, s.livemode, &inv_id).await?.ok_or_else(ApiError::internal)?;
    if inv.status == "paid" || inv.amount_due == 0 {
        // Nothing to charge (credit or a 100 % coupon covered it).
        fulfil(&mut tx, &settings, &mut s, None, now).await?;
        tx.commit().await?;
        return Ok(Redirect::to(&success_url(&s)).into_response());
    }
    // Pay pressed again (a double click, a retry after an error or a
    // crash): the attempt still waiting for the buyer is reused, never
    // duplicated; its provider session is asked for again under the same
    // idempotency key.
    let waiting = match &s.payment_id {
        Some(pid) => pay_store::get(&mut *tx, pid).await?.filter(|p| p.unsettled()),
        None => None,
    };
    if let Some(p) = waiting.as_ref().filter(|p| p.status != "pending") {
        // A payment the provider is still confirming: no second attempt.
        drop(tx);
        let msg = format!("Your payment ({}) is being confirmed. This page will show when it completes.", p.id);
        return render_session(&state, &s, Some(msg)).await;
    }
    let mut routes = state.providers.route(customer.country.as_deref(), &s.currency, s.livemode);
    if let Some(p) = &waiting {
        routes.retain(|r| r != &p.provider);
        routes.insert(0, p.provider.clone());
    }
    let Some(provider) = routes.first().cloned() else {
        drop(tx);
        return render_session(&state, &s, Some("No payment provider takes this currency here.".into())).await;
    };
    let number = inv.number.clone().unwrap_or_default();
    let payment = if let Some(p) = waiting {
        tx.commit().await?;
        p
    } else {
        new_payment(&mut tx, &mut s, &inv, &provider, &number, now).await?;
        tx.commit().await?;
        pay_store::get(state.db.reader(), s.payment_id.as_deref().unwrap_or_default())
            .await?
            .ok_or_else(ApiError::internal)?
    };
    if payment.provider == "sandbox" {
        return Ok(Redirect::to(&format!("/checkout/{id}/sandbox")).into_response());
    }
    pay_via_providers(&state, &headers, &s, &customer, &payment, &routes).await
}

/// Writes a checkout's payment attempt and links it to the session.
async fn new_payment(
    tx: &mut Tx,
    s: &mut SessionRow,
    inv: &bursar_store::billing::InvoiceRow,
    provider: &str,
    number: &str,
    now: i64,
) -> ApiResult<()> {
    let payment = PaymentRow {
        id: new_id(IdKind::Payment),
        livemode: s.livemode,
        customer_id: s.customer_id.clone(),
        invoice_id: Some(inv.id.clone()),
        checkout_session_id: Some(s.id.clone()),
        provider: provider.to_string(),
        provider_payment_id: None,
        method_id: None,
        method_brand: None,
        method_last4: None,
        method_exp_month: None,
        method_exp_year: None,
        amount: inv.amount_due,
        currency: inv.currency.clone(),
        amount_refunded: 0,
        fee: None,
        status: "pending".into(),
        failure_code: None,
        failure_message: None,
        description: format!("Invoice {number}"),
        // The buyer pays on a page: no off-session charge is ever made for it.
        next_check_at: None,
        created_at: now,
        updated_at: now,
        completed_at: None,
    };
    pay_store::insert_payments(tx, std::slice::from_ref(&payment)).await?;
    s.payment_id = Some(payment.id.clone());
    s.provider = Some(provider.to_string());
    s.last_error = None;
    store::save(tx, s).await?;
    Ok(())
}

/// Sends the buyer to the first provider on the route that takes the
/// checkout, falling back along the route when a provider is down (the
/// payment moves with it: nothing was taken).
async fn pay_via_providers(
    state: &AppState,
    headers: &HeaderMap,
    s: &SessionRow,
    customer: &customers::CustomerRow,
    payment: &PaymentRow,
    routes: &[String],
) -> ApiResult<Response> {
    let id = s.id.clone();
    let base = base_url(state, headers);
    for (i, provider) in routes.iter().enumerate() {
        if provider == "sandbox" {
            set_provider(state, &payment.id, &id, provider, None).await?;
            return Ok(Redirect::to(&format!("/checkout/{id}/sandbox")).into_response());
        }
        let Some(conn) = state.providers.get(provider) else { continue };
        if i > 0 {
            set_provider(state, &payment.id, &id, provider, None).await?;
        }
        let req = CheckoutRequest {
            payment_id: payment.id.clone(),
            amount: bursar_providers::Money::new(payment.amount, &payment.currency),
            description: payment.description.clone(),
            customer: CustomerInfo {
                customer_id: customer.id.clone(),
                email: customer.email.clone(),
                name: customer.name.clone(),
                country: customer.country.clone(),
                phone: customer.phone.clone(),
            },
            provider_customer: None,
            save_method: s.mode == "subscription",
            success_url: format!("{base}/checkout/{id}/return"),
            cancel_url: format!("{base}/checkout/{id}/cancel"),
            metadata: BTreeMap::from([("checkout_session".to_string(), id.clone())]),
        };
        match conn.create_checkout(&req).await {
            Ok(cs) => {
                set_provider(state, &payment.id, &id, provider, Some(&cs.provider_ref)).await?;
                if cs.redirect_url.is_empty() && provider == "razorpay" {
                    return Ok(razorpay_page(state, &id, payment, &cs, customer).await);
                }
                return Ok(Redirect::to(&cs.redirect_url).into_response());
            }
            Err(e) if e.may_fall_back() => {
                metrics::counter!("bursar_provider_fallbacks_total", "provider" => provider.clone()).increment(1);
                tracing::warn!(provider = %provider, error = %e, "provider unavailable; trying the next");
                continue;
            }
            Err(e) => {
                tracing::error!(provider = %provider, error = %e, "checkout could not start");
                break;
            }
        }
    }
    let s = load(state, &id).await?;
    render_session(state, &s, Some("The payment provider is unavailable. Please try again shortly.".into())).await
}

async fn set_provider(
    state: &AppState,
    payment_id: &str,
    session_id: &str,
    provider: &str,
    provider_ref: Option<&str>,
) -> ApiResult<()> {
    let mut tx = state.db.begin().await?;
    if let Some(mut p) = pay_store::get_locked(&mut tx, state.db.for_update(), payment_id).await? {
        p.provider_payment_id = provider_ref.map(str::to_string);
        sqlx::query("UPDATE payments SET provider = $2 WHERE id = $1")
            .bind(payment_id)
            .bind(provider)
            .execute(&mut *tx)
            .await
            .map_err(bursar_store::DbError::from)?;
        pay_store::save(&mut tx, &p).await?;
    }
    if let Some(mut s) = store::get_locked(&mut tx, state.db.for_update(), session_id).await? {
        s.provider = Some(provider.to_string());
        store::save(&mut tx, &s).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Issues what the session buys: the subscription (`incomplete`) with its
/// first invoice, or an invoice of the items; both open, to be paid by the
/// checkout's payment.
async fn issue(
    tx: &mut Tx,
    settings: &Settings,
    for_update: &'static str,
    server_now: i64,
    s: &mut SessionRow,
    customer: &customers::CustomerRow,
    now: i64,
) -> ApiResult<()> {
    let currency = Currency::from_code(&s.currency).map_err(|_| ApiError::internal())?;
    let items = items_of(s);
    let coupon = session_coupon(tx, s).await?;
    // A coupon on the plan is redeemed with the subscription; one on the
    // items alone is redeemed here (atomically against its limit).
    let for_plan = coupon.as_ref().is_some_and(|c| c.targets.plan);
    if let (Some(code), false) = (&s.coupon, for_plan) {
        check_coupon(tx, s, code, now).await?;
        let c = billing_store::coupon_by_key(&mut **tx, s.livemode, code).await?.ok_or_else(ApiError::internal)?;
        if !billing_store::try_redeem(tx, &c.id).await? {
            return Err(ApiError::invalid("coupon", bursar_domain::coupon::Refusal::Exhausted.to_string()));
        }
        billing_store::insert_redemption(tx, &new_id(IdKind::Redemption), s.livemode, &c.id, &customer.id, None, now)
            .await?;
    }
    let discount = coupon.as_ref().map(|c| c.items_discount(&items, currency)).transpose()?.flatten();
    if let (Some(plan_id), Some(price_id)) = (s.plan_id.clone(), s.price_id.clone()) {
        let plan = catalog::plan_by_id(&mut **tx, s.livemode, &plan_id).await?.ok_or_else(ApiError::internal)?;
        let price = catalog::price_by_id(&mut **tx, s.livemode, &price_id).await?.ok_or_else(ApiError::internal)?;
        // A cart's courses go on the subscription's first invoice.
        let mut one_off: Vec<billing::LineDraft> = items
            .into_iter()
            .map(|i| billing::LineDraft {
                kind: "one_off",
                description: i.description,
                quantity: i.quantity,
                unit_amount: i.unit_amount,
                amount: i.unit_amount.saturating_mul(i.quantity),
                price_id: None,
                period_start: None,
                period_end: None,
            })
            .collect();
        if let Some((name, off)) = discount {
            one_off.push(billing::LineDraft::discount(name, off));
        }
        let code = s.coupon.as_deref().filter(|_| for_plan);
        let (sub, inv) =
            billing::create_for_checkout(tx, settings, customer, &plan, &price, s.quantity, code, one_off, now).await?;
        s.subscription_id = Some(sub.id);
        s.invoice_id = Some(inv.id);
    } else {
        let lines = items
            .into_iter()
            .map(|i| crate::invoicing::NewLine {
                description: i.description,
                quantity: i.quantity,
                unit_amount: i.unit_amount,
            })
            .collect();
        let draft = crate::invoicing::create_draft(
            tx,
            settings,
            customer,
            crate::invoicing::DraftInput {
                currency,
                behavior: TaxBehavior::Exclusive,
                description: Some("Checkout".into()),
                collection_method: "send_invoice",
                // Due when the session expires, on the customer's clock
                // (a test clock may run ahead of the server's).
                due_at: Some(now + (s.expires_at - server_now).max(3_600_000)),
                lines,
            },
            now,
        )
        .await?;
        if let Some((name, off)) = discount {
            crate::invoicing::add_discount(tx, settings, for_update, s.livemode, &draft.id, &name, off).await?;
        }
        let (inv, _) = crate::invoicing::finalize(tx, settings, for_update, s.livemode, &draft.id, server_now).await?;
        s.invoice_id = Some(inv.id);
    }
    store::save(tx, s).await?;
    Ok(())
}

fn success_url(s: &SessionRow) -> String {
    let sep = if s.success_url.contains('?') { '&' } else { '?' };
    format!("{}{sep}session_id={}", s.success_url, s.id)
}

/// Completes a session whose payment succeeded (inside the transaction that
/// records the payment): the subscription becomes active, the method the
/// buyer paid with becomes the customer's default.
pub async fn fulfil(
    tx: &mut Tx,
    settings: &Settings,
    s: &mut SessionRow,
    payment: Option<&PaymentRow>,
    now: i64,
) -> ApiResult<()> {
    if s.status != "open" {
        return Ok(());
    }
    s.status = "complete".into();
    s.completed_at = Some(now);
    s.last_error = None;
    store::save(tx, s).await?;
    // Credits the purchase sells.
    if let Some(spec) = s.credit_grant.as_deref().and_then(|g| serde_json::from_str::<serde_json::Value>(g).ok()) {
        let amount = spec["amount"].as_i64().unwrap_or(0);
        let g = bursar_store::usage::GrantRow {
            id: new_id(IdKind::CreditGrant),
            livemode: s.livemode,
            customer_id: s.customer_id.clone(),
            metric: spec["metric"].as_str().unwrap_or_default().to_string(),
            amount,
            remaining: amount,
            expires_at: spec["expires_in_days"].as_i64().map(|d| now + d * 86_400_000),
            source: "checkout".into(),
            source_id: Some(s.id.clone()),
            created_at: now,
        };
        bursar_store::usage::insert_grant(tx, &g).await?;
        events::emit(tx, s.livemode, "credits.granted", &g.id, &serde_json::json!({"id": g.id, "customer": g.customer_id,
            "metric": g.metric, "amount": g.amount, "expires_at": g.expires_at.map(|t| t / 1000), "checkout_session": s.id}), now)
            .await?;
    }
    // A cart's sale: the order, enrollments and the revenue split.
    let order = crate::marketplace::record_order(tx, settings, s, now).await?;
    if let Some(sub_id) = &s.subscription_id {
        if let Some(mut sub) = billing_store::subscription(tx, s.livemode, sub_id, "").await? {
            if sub.status == Status::Incomplete.as_str() {
                let to = bursar_domain::subscription::transition(Status::Incomplete, Event::FirstPaymentSucceeded)
                    .map_err(|_| ApiError::internal())?;
                sub.status = to.as_str().into();
                sub.updated_at = now;
                billing_store::save_subscription(tx, &sub).await?;
                billing::emit_sub(tx, &sub, "subscription.activated", now).await?;
            }
        }
    }
    events::emit(
        tx,
        s.livemode,
        "checkout.session.completed",
        &s.id,
        &serde_json::json!({"id": s.id, "customer": s.customer_id, "mode": s.mode, "subscription": s.subscription_id,
            "invoice": s.invoice_id, "payment": payment.map(|p| p.id.clone()), "order": order}),
        now,
    )
    .await?;
    Ok(())
}

/// Called when a checkout's payment settles (from `payments::apply`).
pub async fn payment_settled(tx: &mut Tx, settings: &Settings, p: &PaymentRow, now: i64) -> ApiResult<()> {
    let Some(id) = &p.checkout_session_id else { return Ok(()) };
    let Some(mut s) = store::get(&mut **tx, id).await? else { return Ok(()) };
    if p.status == "completed" {
        fulfil(tx, settings, &mut s, Some(p), now).await
    } else {
        s.last_error = Some(format!(
            "The payment was declined ({}). Try another card.",
            p.failure_message.clone().unwrap_or_else(|| "declined".into())
        ));
        store::save(tx, &s).await?;
        Ok(())
    }
}

/// Keeps the method a subscription checkout's payment was made with, as the
/// customer's default, however the success arrives (the buyer's return or
/// the provider's webhook): once per payment, and only for checkouts that
/// asked to keep it (renewals charge it).
pub(crate) async fn keep_method(tx: &mut Tx, p: &mut PaymentRow, d: &MethodDetails, now: i64) -> ApiResult<()> {
    let Some(id) = &p.checkout_session_id else { return Ok(()) };
    if p.method_id.is_some() || p.provider == "sandbox" {
        return Ok(());
    }
    let Some(s) = store::get(&mut **tx, id).await? else { return Ok(()) };
    if s.mode != "subscription" {
        return Ok(());
    }
    let provider = p.provider.clone();
    save_method(tx, p, &provider, d, now).await?;
    pay_store::save(tx, p).await?;
    Ok(())
}

/// Saves the method a checkout payment used as the customer's default.
async fn save_method(tx: &mut Tx, p: &mut PaymentRow, provider: &str, d: &MethodDetails, now: i64) -> ApiResult<()> {
    let m = dunning::PaymentMethodRow {
        id: new_id(IdKind::PaymentMethod),
        livemode: p.livemode,
        customer_id: p.customer_id.clone(),
        provider: provider.to_string(),
        token: d.token.clone(),
        brand: d.brand.clone().unwrap_or_default(),
        last4: d.last4.clone().unwrap_or_default(),
        is_default: true,
        created_at: now,
        provider_customer: d.provider_customer.clone(),
        exp_month: d.exp_month.map(i64::from),
        exp_year: d.exp_year.map(i64::from),
    };
    dunning::add_default_method(tx, &m).await?;
    p.method_id = Some(m.id);
    p.method_brand = Some(m.brand);
    p.method_last4 = Some(m.last4);
    p.method_exp_month = m.exp_month;
    p.method_exp_year = m.exp_year;
    Ok(())
}

#[derive(Template)]
#[template(path = "checkout/sandbox.html")]
struct SandboxPage {
    lang: String,
    id: String,
    amount: String,
    form_token: String,
    cards: Vec<(&'static str, String)>,
}

async fn pending_payment(state: &AppState, s: &SessionRow) -> ApiResult<PaymentRow> {
    let id = s.payment_id.as_deref().ok_or_else(|| ApiError::invalid("id", "the checkout has no payment to make"))?;
    pay_store::get(state.db.reader(), id).await?.ok_or_else(ApiError::internal)
}

async fn sandbox_page(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    let s = load(&state, &id).await?;
    let p = pending_payment(&state, &s).await?;
    if s.livemode || p.provider != "sandbox" || p.status != "pending" {
        return Ok(Redirect::to(&format!("/checkout/{id}")).into_response());
    }
    let locale = locale_of(&state, &s).await;
    let currency = Currency::from_code(&p.currency).map_err(|_| ApiError::internal())?;
    Ok(html(SandboxPage {
        lang: "en".into(),
        id,
        amount: money(p.amount, currency, locale),
        form_token: s.form_token.clone(),
        cards: crate::sandbox::TEST_METHODS
            .iter()
            .map(|(token, brand, last4, b)| {
                let what = match b {
                    crate::sandbox::Behaviour::Succeeds => "succeeds".to_string(),
                    crate::sandbox::Behaviour::Processing => "processes, then succeeds".to_string(),
                    crate::sandbox::Behaviour::Declines("authentication_required") => "asks for 3-D Secure".to_string(),
                    crate::sandbox::Behaviour::Declines(code) => format!("declines: {}", code.replace('_', " ")),
                };
                (*token, format!("{brand} •••• {last4} — {what}"))
            })
            .collect(),
    }))
}

#[derive(Deserialize)]
struct SandboxForm {
    form_token: String,
    card: String,
}

#[derive(Template)]
#[template(path = "checkout/authenticate.html")]
struct AuthenticatePage {
    lang: String,
    id: String,
    amount: String,
    form_token: String,
}

/// The sandbox's card form was submitted.
async fn sandbox_pay(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Form(f): Form<SandboxForm>,
) -> ApiResult<Response> {
    let s = load(&state, &id).await?;
    if !token_ok(&s, &f.form_token) {
        return Err(ApiError::forbidden("form_token_invalid", "the form is out of date; reload the page"));
    }
    let Some((token, brand, last4, behaviour)) = crate::sandbox::method(&f.card) else {
        return Err(ApiError::invalid("card", "choose one of the test cards"));
    };
    if behaviour == crate::sandbox::Behaviour::Declines("authentication_required") {
        // On a page the buyer is there to authenticate: the 3-D Secure step.
        let p = pending_payment(&state, &s).await?;
        let currency = Currency::from_code(&p.currency).map_err(|_| ApiError::internal())?;
        return Ok(html(AuthenticatePage {
            lang: "en".into(),
            id,
            amount: money(p.amount, currency, locale_of(&state, &s).await),
            form_token: s.form_token.clone(),
        }));
    }
    let answer = match crate::sandbox::charge(Some(token)) {
        crate::sandbox::Outcome::Succeeded => Answer::Succeeded { provider_payment_id: sbx_id(&s), fee: None },
        crate::sandbox::Outcome::Processing => Answer::Processing { provider_payment_id: sbx_id(&s) },
        crate::sandbox::Outcome::Declined(code) => Answer::Failed {
            provider_payment_id: Some(sbx_id(&s)),
            message: crate::sandbox::message(&code).to_string(),
            code,
        },
    };
    settle_sandbox(&state, &s, answer, Some((token, brand, last4))).await
}

fn sbx_id(s: &SessionRow) -> String {
    format!("sbx_{}", s.payment_id.as_deref().map_or("", |p| &p[4..]))
}

#[derive(Deserialize)]
struct AuthForm {
    form_token: String,
    decision: String,
}

async fn authenticate(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Form(f): Form<AuthForm>,
) -> ApiResult<Response> {
    let s = load(&state, &id).await?;
    if !token_ok(&s, &f.form_token) {
        return Err(ApiError::forbidden("form_token_invalid", "the form is out of date; reload the page"));
    }
    let answer = if f.decision == "approve" {
        Answer::Succeeded { provider_payment_id: sbx_id(&s), fee: None }
    } else {
        Answer::Failed {
            provider_payment_id: Some(sbx_id(&s)),
            code: "authentication_failed".into(),
            message: "the card's authentication failed".into(),
        }
    };
    settle_sandbox(&state, &s, answer, Some(("pm_card_authenticationRequired", "visa", "3184"))).await
}

async fn settle_sandbox(
    state: &AppState,
    s: &SessionRow,
    answer: Answer,
    card: Option<(&str, &str, &str)>,
) -> ApiResult<Response> {
    let p = pending_payment(state, s).await?;
    if s.livemode || p.provider != "sandbox" {
        return Err(ApiError::invalid("id", "this checkout is not paid through the sandbox"));
    }
    let settings = state.billing_settings();
    let mut tx = state.db.begin().await?;
    let Some(mut p) = pay_store::get_locked(&mut tx, state.db.for_update(), &p.id).await? else {
        return Err(ApiError::internal());
    };
    let customer = customers::get(&mut *tx, p.livemode, &p.customer_id).await?.ok_or_else(ApiError::internal)?;
    let now = billing::now_for(&mut tx, &customer, state.now_ms()).await?;
    if let (Some((token, brand, last4)), true) = (card, matches!(answer, Answer::Succeeded { .. })) {
        if s.mode == "subscription" {
            let d = MethodDetails {
                token: token.to_string(),
                brand: Some(brand.to_string()),
                last4: Some(last4.to_string()),
                exp_month: Some(12),
                exp_year: Some(2034),
                provider_customer: None,
            };
            save_method(&mut tx, &mut p, "sandbox", &d, now).await?;
        } else {
            p.method_brand = Some(brand.to_string());
            p.method_last4 = Some(last4.to_string());
        }
    }
    payments::apply(&mut tx, &settings, &mut p, answer, now, state.now_ms()).await?;
    tx.commit().await?;
    after_payment(state, &s.id).await
}

/// Where the buyer goes once the payment has an answer.
async fn after_payment(state: &AppState, id: &str) -> ApiResult<Response> {
    let s = load(state, id).await?;
    match s.status.as_str() {
        "complete" => Ok(Redirect::to(&success_url(&s)).into_response()),
        _ => Ok(Redirect::to(&format!("/checkout/{id}")).into_response()),
    }
}

#[derive(Template)]
#[template(path = "checkout/razorpay.html")]
struct RazorpayPage {
    lang: String,
    id: String,
    amount: String,
    action: String,
    fields: Vec<(String, String)>,
}

/// Razorpay's hosted checkout is reached by a form POST (its "redirect"
/// integration): the order and key go along, and Razorpay posts the
/// payment id, order id and signature back to the return URL.
async fn razorpay_page(
    state: &AppState,
    id: &str,
    payment: &PaymentRow,
    cs: &CheckoutSession,
    customer: &customers::CustomerRow,
) -> Response {
    let p = &cs.client_params;
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut put = |k: &str, v: Option<&String>| {
        if let Some(v) = v {
            fields.push((k.to_string(), v.clone()));
        }
    };
    put("key_id", p.get("key"));
    put("order_id", p.get("order_id"));
    put("description", p.get("description"));
    put("callback_url", p.get("callback_url"));
    put("notes[payment_id]", p.get("notes.payment_id"));
    put("customer_id", p.get("customer_id"));
    put("recurring", p.get("recurring"));
    put("prefill[email]", customer.email.as_ref());
    put("name", Some(&state.config.seller_name));
    fields.push(("cancel_url".into(), format!("/checkout/{id}/cancel")));
    let currency = Currency::from_code(&payment.currency).unwrap_or(Currency::from_code("INR").expect("INR"));
    html(RazorpayPage {
        lang: "en".into(),
        id: id.to_string(),
        amount: money(payment.amount, currency, Locale::EnIn),
        action: format!("{}/v1/checkout/embedded", state.config.razorpay_api_base.trim_end_matches('/')),
        fields,
    })
}

/// Completes a checkout's payment with its provider when the provider
/// reports that the buyer approved it (PayPal's order approval): the same
/// confirmation as the buyer's return, for a buyer who never comes back.
/// No transaction is open here; the provider's idempotency makes a second
/// confirmation harmless.
pub async fn complete_approved(state: &AppState, payment: &PaymentRow) -> ApiResult<()> {
    let Some(id) = payment.checkout_session_id.clone() else { return Ok(()) };
    provider_return(State(state.clone()), Path(id), Query(BTreeMap::new())).await?;
    Ok(())
}

/// The provider posted the buyer back (Razorpay's redirect checkout).
async fn provider_return_form(
    state: State<AppState>,
    id: Path<String>,
    Form(params): Form<BTreeMap<String, String>>,
) -> ApiResult<Response> {
    provider_return(state, id, Query(params)).await
}

/// The provider sent the buyer back.
async fn provider_return(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(params): Query<BTreeMap<String, String>>,
) -> ApiResult<Response> {
    let s = load(&state, &id).await?;
    let p = pending_payment(&state, &s).await?;
    if !p.unsettled() {
        return after_payment(&state, &id).await;
    }
    let Some(conn) = state.providers.get(&p.provider) else {
        return Err(ApiError::invalid("id", "this checkout's provider is not configured"));
    };
    let session = CheckoutSession {
        provider_ref: p.provider_payment_id.clone().unwrap_or_default(),
        redirect_url: String::new(),
        client_params: BTreeMap::new(),
    };
    let (answer, method) = match conn.complete_checkout(&session, &params).await {
        // Back without having paid (the provider's page is still open):
        // nothing failed; the buyer can go back and pay.
        Ok((bursar_providers::ChargeOutcome::RequiresAction { .. }, _)) => {
            return render_session(&state, &s, Some("The payment is not complete yet. Press Pay to finish it.".into()))
                .await;
        }
        Ok((outcome, method)) => (Answer::from(Ok(outcome)), method),
        Err(e) => (Answer::Unknown { detail: e.to_string() }, None),
    };
    if let Answer::Unknown { detail } = &answer {
        // Not confirmed yet (a timeout, or the provider is still working):
        // the page says so; the provider's webhook settles it.
        tracing::warn!(checkout = %id, %detail, "checkout return not confirmed");
        return render_session(
            &state,
            &s,
            Some("Your payment is being confirmed. Refresh this page in a moment.".into()),
        )
        .await;
    }
    let settings = state.billing_settings();
    let mut tx = state.db.begin().await?;
    let Some(mut p) = pay_store::get_locked(&mut tx, state.db.for_update(), &p.id).await? else {
        return Err(ApiError::internal());
    };
    let customer = customers::get(&mut *tx, p.livemode, &p.customer_id).await?.ok_or_else(ApiError::internal)?;
    let now = billing::now_for(&mut tx, &customer, state.now_ms()).await?;
    if let (Some(m), Answer::Succeeded { .. }) = (&method, &answer) {
        keep_method(&mut tx, &mut p, m, now).await?;
    }
    payments::apply(&mut tx, &settings, &mut p, answer, now, state.now_ms()).await?;
    tx.commit().await?;
    after_payment(&state, &id).await
}

/// Bursar's own receipt page, where a session without a `success_url`
/// ends: the session page, which shows what was paid once it is complete.
async fn thanks(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    let s = load(&state, &id).await?;
    if s.status != "complete" {
        return Ok(Redirect::to(&format!("/checkout/{id}")).into_response());
    }
    render_session(&state, &s, None).await
}

#[derive(Template)]
#[template(path = "checkout/left.html")]
struct LeftPage {
    lang: String,
    id: String,
    test_mode: bool,
    open: bool,
    complete: bool,
}

/// Bursar's own page for a buyer who left without paying (a session without
/// a `cancel_url`): nothing was charged, and the way back while it is open.
async fn left(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    let s = load(&state, &id).await?;
    let locale = locale_of(&state, &s).await;
    Ok(html(LeftPage {
        lang: locale.tag().split('-').next().unwrap_or("en").to_string(),
        test_mode: !s.livemode,
        open: s.status == "open" && s.expires_at > state.now_ms(),
        complete: s.status == "complete",
        id: s.id,
    }))
}

/// The buyer left the provider's page (or Bursar's) without paying.
async fn cancel(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    let s = load(&state, &id).await?;
    Ok(Redirect::to(&s.cancel_url).into_response())
}

/// Expires open sessions past their time: the payment attempt is
/// cancelled, the invoice voided, an incomplete subscription expires.
pub async fn expire_due(state: &AppState) -> ApiResult<u32> {
    let ids = store::expired(state.db.reader(), state.now_ms(), 200).await?;
    let mut n = 0;
    let settings = state.billing_settings();
    for id in ids {
        // Before giving up on a payment, ask its provider (outside any
        // transaction): the buyer may have paid at the last moment.
        let payment = match store::get(state.db.reader(), &id).await?.and_then(|s| s.payment_id) {
            Some(pid) => pay_store::get(state.db.reader(), &pid).await?,
            None => None,
        };
        if let Some(p) = payment {
            if p.status == "processing" {
                continue; // the checks or a webhook settle it first
            }
            if let (true, Some(conn)) = (p.status == "pending", state.providers.get(&p.provider)) {
                if let Ok(bursar_providers::PaymentStatus::Succeeded { provider_payment_id, .. }) =
                    conn.retrieve(&p.id, p.provider_payment_id.as_deref()).await
                {
                    let mut tx = state.db.begin().await?;
                    if let Some(mut p) = pay_store::get_locked(&mut tx, state.db.for_update(), &p.id).await? {
                        let now = state.now_ms();
                        let answer = Answer::Succeeded { provider_payment_id, fee: None };
                        payments::apply(&mut tx, &settings, &mut p, answer, now, now).await?;
                    }
                    tx.commit().await?;
                    continue;
                }
            }
        }
        let mut tx = state.db.begin().await?;
        let Some(mut s) = store::get_locked(&mut tx, state.db.for_update(), &id).await? else { continue };
        if s.status != "open" {
            continue;
        }
        let now = state.now_ms();
        if let Some(pid) = &s.payment_id {
            if let Some(mut p) = pay_store::get_locked(&mut tx, state.db.for_update(), pid).await? {
                if p.status == "pending" {
                    p.status = "cancelled".into();
                    p.updated_at = now;
                    pay_store::save(&mut tx, &p).await?;
                }
            }
        }
        if let Some(inv) = &s.invoice_id {
            let open = billing_store::invoice(&mut *tx, s.livemode, inv).await?.is_some_and(|i| i.status == "open");
            if open {
                crate::invoicing::void(&mut tx, state.db.for_update(), s.livemode, inv, now).await?;
            }
        }
        if let Some(sub_id) = &s.subscription_id {
            if let Some(mut sub) = billing_store::subscription(&mut tx, s.livemode, sub_id, "").await? {
                if sub.status == Status::Incomplete.as_str() {
                    sub.status = Status::IncompleteExpired.as_str().into();
                    sub.updated_at = now;
                    billing_store::save_subscription(&mut tx, &sub).await?;
                    billing::emit_sub(&mut tx, &sub, "subscription.incomplete_expired", now).await?;
                }
            }
        }
        s.status = "expired".into();
        store::save(&mut tx, &s).await?;
        // Its cart can be changed and checked out again.
        if let Some(mut cart) = bursar_store::marketplace::cart_by_session(&mut *tx, &s.id).await? {
            if cart.status == "checked_out" {
                cart.status = "open".into();
                cart.updated_at = now;
                bursar_store::marketplace::save_cart(&mut tx, &cart).await?;
            }
        }
        events::emit(&mut tx, s.livemode, "checkout.session.expired", &s.id, &serde_json::json!({"id": s.id}), now)
            .await?;
        tx.commit().await?;
        n += 1;
    }
    Ok(n)
}

/// A new session's secret form token.
pub fn form_token() -> String {
    use rand::distr::{Alphanumeric, SampleString};
    Alphanumeric.sample_string(&mut rand::rng(), 32)
}
