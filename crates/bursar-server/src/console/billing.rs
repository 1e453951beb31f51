//! The staff console's billing pages: subscriptions (with cancel and undo),
//! payments, coupons (create and deactivate) and the plan catalog. Actions run
//! the API's own code for the same change and write the audit log in the same
//! transaction; a refused action shows the page again with the reason.

use super::customers::{
    after_action, chrome, mode_of, money, page, when, ActionForm, Chrome, InvoiceLine, ModeQuery, Staff, StaffForm,
    PAGE,
};
use crate::error::{ApiError, ApiResult};
use crate::extract::CsrfForm;
use crate::state::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use bursar_core::auth::StaffSession;
use bursar_core::browse;
use bursar_core::payments::methods::PAYMENT_STATUSES;
use bursar_core::subscriptions::coupons::{self, CouponCreate};
use bursar_core::subscriptions::{self as subs, SubscriptionCancel};
use bursar_core::{Actor, Reply};
use bursar_domain::coupon::{AppliesTo, Discount, Duration, Rules};
use bursar_domain::id::{is_valid, IdKind};
use bursar_domain::money::{Currency, Money};
use serde::Deserialize;
use std::collections::BTreeMap;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/staff/subscriptions", get(subscription_list))
        .route("/staff/subscriptions/{id}", get(subscription_page))
        .route("/staff/subscriptions/{id}/cancel", post(cancel))
        .route("/staff/subscriptions/{id}/reactivate", post(reactivate))
        .route("/staff/payments", get(payment_list))
        .route("/staff/coupons", get(coupon_list).post(create_coupon))
        .route("/staff/coupons/{id}/deactivate", post(deactivate_coupon))
        .route("/staff/plans", get(plan_list))
        .route("/staff/experiments", get(experiment_page))
}

/// The subscription statuses, as the list's filter offers them.
const SUB_STATUSES: [&str; 6] = ["trialing", "active", "past_due", "paused", "canceled", "unpaid"];

/// The next page's cursor: the last row kept when one more than a page came.
fn next_cursor<T>(rows: &mut Vec<T>, id: impl Fn(&T) -> String) -> Option<String> {
    let next = (rows.len() as i64 > PAGE).then(|| id(&rows[PAGE as usize - 1]));
    rows.truncate(PAGE as usize);
    next
}

struct SubRow {
    id: String,
    customer: String,
    plan: String,
    status: String,
    cancels: bool,
    quantity: i64,
    interval: String,
    period_end: String,
}

#[derive(Template)]
#[template(path = "staff/subscriptions.html")]
struct SubscriptionsPage {
    chrome: Chrome,
    statuses: &'static [&'static str],
    filter: String,
    rows: Vec<SubRow>,
    next: Option<String>,
}

/// Subscriptions, newest first, 50 a page, optionally of one status (`q`).
async fn subscription_list(State(state): State<AppState>, Staff(s): Staff, Query(q): Query<ModeQuery>) -> Response {
    let livemode = q.livemode();
    let filter = q.q.clone().filter(|f| SUB_STATUSES.contains(&f.as_str()));
    let result: ApiResult<Response> = async {
        let mut rows = browse::subscriptions(&state, livemode, filter.as_deref(), q.after.as_deref(), PAGE + 1).await?;
        let next = next_cursor(&mut rows, |x| x.id.clone());
        let (plans, _) = browse::catalog(&state, livemode).await?;
        Ok(page(SubscriptionsPage {
            chrome: chrome(&s, livemode),
            statuses: &SUB_STATUSES,
            filter: filter.clone().unwrap_or_default(),
            rows: rows
                .into_iter()
                .map(|x| SubRow {
                    plan: plans
                        .iter()
                        .find(|p| p.id == x.plan_id)
                        .map_or_else(|| x.plan_id.clone(), |p| p.name.clone()),
                    period_end: when(x.current_period_end),
                    cancels: x.cancel_at_period_end,
                    id: x.id,
                    customer: x.customer_id,
                    status: x.status,
                    quantity: x.quantity,
                    interval: x.interval,
                })
                .collect(),
            next,
        }))
    }
    .await;
    result.unwrap_or_else(|e| e.into_response())
}

#[derive(Template)]
#[template(path = "staff/subscription.html")]
struct SubscriptionPage {
    chrome: Chrome,
    notice: Option<String>,
    error: Option<String>,
    id: String,
    customer: String,
    plan: String,
    price: String,
    quantity: i64,
    status: String,
    period: String,
    trial_end: String,
    cancel_at_period_end: bool,
    canceled_at: String,
    pause_resumes_at: String,
    pending_plan: String,
    coupon: String,
    invoices: Vec<InvoiceLine>,
    can_cancel: bool,
}

async fn render_subscription(
    state: &AppState,
    s: &StaffSession,
    livemode: bool,
    id: &str,
    notice: Option<String>,
    error: Option<String>,
) -> ApiResult<Response> {
    let (sub, price, invoices) = browse::subscription(state, livemode, id).await?;
    let (plans, _) = browse::catalog(state, livemode).await?;
    let plan_name = |pid: &str| plans.iter().find(|p| p.id == pid).map_or_else(|| pid.to_string(), |p| p.name.clone());
    let can_cancel = !sub.cancel_at_period_end && matches!(sub.status.as_str(), "trialing" | "active" | "past_due");
    Ok(page(SubscriptionPage {
        chrome: chrome(s, livemode),
        notice,
        error,
        customer: sub.customer_id.clone(),
        plan: plan_name(&sub.plan_id),
        price: price.map_or_else(String::new, |p| format!("{} a {}", money(p.amount, &p.currency), p.interval)),
        quantity: sub.quantity,
        status: sub.status.clone(),
        period: format!("{} to {}", when(sub.current_period_start), when(sub.current_period_end)),
        trial_end: sub.trial_end.map(when).unwrap_or_default(),
        cancel_at_period_end: sub.cancel_at_period_end,
        canceled_at: sub.canceled_at.map(when).unwrap_or_default(),
        pause_resumes_at: sub.pause_resumes_at.map(when).unwrap_or_default(),
        pending_plan: sub.pending_plan_id.as_deref().map(plan_name).unwrap_or_default(),
        coupon: sub.coupon_id.clone().unwrap_or_default(),
        invoices: invoices.into_iter().map(InvoiceLine::from).collect(),
        can_cancel,
        id: sub.id,
    }))
}

async fn subscription_page(
    State(state): State<AppState>,
    Staff(s): Staff,
    Path(id): Path<String>,
    Query(q): Query<ModeQuery>,
) -> Response {
    let notice = match q.done.as_deref() {
        Some("scheduled") => Some("It cancels at the end of the period.".to_string()),
        Some("canceled") => Some("Canceled now.".to_string()),
        Some("reactivated") => Some("The cancellation is taken back.".to_string()),
        _ => None,
    };
    render_subscription(&state, &s, q.livemode(), &id, notice, None).await.unwrap_or_else(|e| e.into_response())
}

#[derive(Deserialize)]
struct CancelForm {
    csrf: String,
    mode: Option<String>,
    /// `period_end` (default) or `now`.
    when: Option<String>,
}

impl CsrfForm for CancelForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

async fn cancel(
    State(state): State<AppState>,
    Path(id): Path<String>,
    StaffForm(s, f): StaffForm<CancelForm>,
) -> Response {
    let livemode = f.mode.as_deref() == Some("live");
    let now = f.when.as_deref() == Some("now");
    let result: ApiResult<()> = async {
        if !is_valid(IdKind::Subscription, &id) {
            return Err(ApiError::not_found("id", "subscription", &id));
        }
        // Staff cancel outright: no save offer is made to them.
        let body = SubscriptionCancel {
            at_period_end: Some(!now),
            reason: None,
            comments: None,
            would_return: None,
            decline_offer: Some(true),
        };
        // The operation writes the staff member's action to the audit log.
        subs::cancel(&state, &Actor::staff(livemode, &s.staff_id), &id, &body, &Reply::none()).await?;
        Ok(())
    }
    .await;
    let done = format!(
        "/staff/subscriptions/{id}?mode={}&done={}",
        mode_of(livemode),
        if now { "canceled" } else { "scheduled" }
    );
    after_action(result, done, |msg| render_subscription(&state, &s, livemode, &id, None, Some(msg))).await
}

async fn reactivate(
    State(state): State<AppState>,
    Path(id): Path<String>,
    StaffForm(s, f): StaffForm<ActionForm>,
) -> Response {
    let livemode = f.livemode();
    let result: ApiResult<()> = async {
        if !is_valid(IdKind::Subscription, &id) {
            return Err(ApiError::not_found("id", "subscription", &id));
        }
        subs::reactivate(&state, &Actor::staff(livemode, &s.staff_id), &id, &Reply::none()).await?;
        Ok(())
    }
    .await;
    let done = format!("/staff/subscriptions/{id}?mode={}&done=reactivated", mode_of(livemode));
    after_action(result, done, |msg| render_subscription(&state, &s, livemode, &id, None, Some(msg))).await
}

struct PaymentLine {
    id: String,
    created: String,
    customer: String,
    invoice: Option<String>,
    provider: String,
    method: String,
    amount: String,
    refunded: String,
    status: String,
    failure: String,
}

#[derive(Template)]
#[template(path = "staff/payments.html")]
struct PaymentsPage {
    chrome: Chrome,
    statuses: &'static [&'static str],
    filter: String,
    rows: Vec<PaymentLine>,
    next: Option<String>,
}

/// Payments, newest first, 50 a page, optionally of one status (`q`): the
/// failed ones with the provider's reason, for instance.
async fn payment_list(State(state): State<AppState>, Staff(s): Staff, Query(q): Query<ModeQuery>) -> Response {
    let livemode = q.livemode();
    let filter = q.q.clone().filter(|f| PAYMENT_STATUSES.contains(&f.as_str()));
    let rows = browse::payments(&state, livemode, filter.as_deref(), q.after.as_deref(), PAGE + 1).await;
    let mut rows = match rows {
        Ok(r) => r,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let next = next_cursor(&mut rows, |p| p.id.clone());
    page(PaymentsPage {
        chrome: chrome(&s, livemode),
        statuses: &PAYMENT_STATUSES,
        filter: filter.unwrap_or_default(),
        rows: rows
            .into_iter()
            .map(|p| PaymentLine {
                created: when(p.created_at),
                method: match (&p.method_brand, &p.method_last4) {
                    (Some(b), Some(l)) => format!("{b} •••• {l}"),
                    (Some(b), None) => b.clone(),
                    _ => String::new(),
                },
                amount: money(p.amount, &p.currency),
                refunded: if p.amount_refunded > 0 { money(p.amount_refunded, &p.currency) } else { String::new() },
                failure: p.failure_message.clone().or(p.failure_code.clone()).unwrap_or_default(),
                id: p.id,
                customer: p.customer_id,
                invoice: p.invoice_id,
                provider: p.provider,
                status: p.status,
            })
            .collect(),
        next,
    })
}

struct CouponLine {
    id: String,
    code: String,
    name: String,
    discount: String,
    duration: String,
    applies_to: String,
    redeemed: String,
    valid_until: String,
    active: bool,
}

/// What the coupon form was given, to show again beside its error.
#[derive(Debug, Default, Deserialize)]
struct CouponForm {
    csrf: String,
    mode: Option<String>,
    #[serde(default)]
    code: String,
    #[serde(default)]
    name: String,
    /// `percent` or `amount`.
    #[serde(default)]
    kind: String,
    /// A percentage (`20`, `12.5`) or an amount (`5.00`).
    #[serde(default)]
    value: String,
    #[serde(default)]
    currency: String,
    #[serde(default)]
    duration: String,
    #[serde(default)]
    months: String,
    #[serde(default)]
    applies_to: String,
    /// Plan codes, comma separated, for `plans`.
    #[serde(default)]
    plans: String,
    #[serde(default)]
    max_redemptions: String,
    /// `YYYY-MM-DD`: the last day it can be used (UTC).
    #[serde(default)]
    valid_until: String,
}

impl CsrfForm for CouponForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

#[derive(Template)]
#[template(path = "staff/coupons.html")]
struct CouponsPage {
    chrome: Chrome,
    notice: Option<String>,
    error: Option<String>,
    /// The form's field the error is about, for its `aria-invalid`.
    error_field: String,
    form: CouponForm,
    rows: Vec<CouponLine>,
}

fn percent(bps: i64) -> String {
    if bps % 100 == 0 {
        format!("{} %", bps / 100)
    } else {
        // The fraction is not zero, so trimming stops before the point.
        format!("{} %", format!("{}.{:02}", bps / 100, bps % 100).trim_end_matches('0'))
    }
}

fn describe(rules: &Rules) -> (String, String, String) {
    let discount = match &rules.discount {
        Discount::Percent { bps } => format!("{} off", percent(*bps)),
        Discount::Amount { amounts } => {
            format!("{} off", amounts.iter().map(|(c, v)| money(*v, c)).collect::<Vec<_>>().join(", "))
        }
    };
    let duration = match rules.duration {
        Duration::Once => "once".to_string(),
        Duration::Repeating { months } => format!("{months} months"),
        Duration::Forever => "forever".to_string(),
    };
    let applies = match &rules.applies_to {
        AppliesTo::All => "everything".to_string(),
        AppliesTo::Plans { codes } => format!("plans {}", codes.join(", ")),
        AppliesTo::Courses => "courses".to_string(),
        AppliesTo::Bundles => "bundles".to_string(),
        AppliesTo::Items { ids } => format!("items {}", ids.join(", ")),
    };
    (discount, duration, applies)
}

async fn render_coupons(
    state: &AppState,
    s: &StaffSession,
    livemode: bool,
    notice: Option<String>,
    error: Option<(String, String)>,
    form: CouponForm,
) -> ApiResult<Response> {
    let rows = browse::coupons(state, livemode).await?;
    let (error, error_field) = error.map_or((None, String::new()), |(m, f)| (Some(m), f));
    Ok(page(CouponsPage {
        chrome: chrome(s, livemode),
        notice,
        error,
        error_field,
        form,
        rows: rows
            .into_iter()
            .map(|c| {
                let rules: Option<Rules> = serde_json::from_str(&c.rules).ok();
                let (discount, duration, applies_to) = rules.as_ref().map(describe).unwrap_or_default();
                CouponLine {
                    redeemed: match c.max_redemptions {
                        Some(m) => format!("{} of {m}", c.redemptions),
                        None => c.redemptions.to_string(),
                    },
                    valid_until: rules.and_then(|r| r.valid_until).map(when).unwrap_or_default(),
                    id: c.id,
                    code: c.code,
                    name: c.name,
                    discount,
                    duration,
                    applies_to,
                    active: c.active,
                }
            })
            .collect(),
    }))
}

async fn coupon_list(State(state): State<AppState>, Staff(s): Staff, Query(q): Query<ModeQuery>) -> Response {
    let notice = match q.done.as_deref() {
        Some("created") => Some("The coupon is created.".to_string()),
        Some("deactivated") => Some("The coupon can no longer be redeemed.".to_string()),
        _ => None,
    };
    let form = CouponForm { kind: "percent".into(), duration: "once".into(), ..Default::default() };
    render_coupons(&state, &s, q.livemode(), notice, None, form).await.unwrap_or_else(|e| e.into_response())
}

/// A percentage with at most two decimals, in basis points.
fn parse_percent(v: &str) -> Option<i64> {
    let v = v.trim().trim_end_matches('%').trim();
    let (whole, frac) = v.split_once('.').unwrap_or((v, ""));
    if whole.is_empty() || frac.len() > 2 || !(whole.chars().chain(frac.chars()).all(|c| c.is_ascii_digit())) {
        return None;
    }
    let whole: i64 = whole.parse().ok()?;
    let frac: i64 = if frac.is_empty() { 0 } else { format!("{frac:0<2}").parse().ok()? };
    whole.checked_mul(100)?.checked_add(frac)
}

/// The form, as the API's coupon request; a refusal names the form's field.
fn coupon_request(f: &CouponForm) -> Result<CouponCreate, (String, String)> {
    let bad = |field: &str, msg: &str| (msg.to_string(), field.to_string());
    let optional = |v: &str| Some(v.trim()).filter(|v| !v.is_empty()).map(str::to_string);
    let mut req = CouponCreate {
        code: f.code.clone(),
        name: optional(&f.name),
        duration: f.duration.clone(),
        applies_to: optional(&f.applies_to),
        ..Default::default()
    };
    match f.kind.as_str() {
        "percent" => {
            let bps =
                parse_percent(&f.value).ok_or_else(|| bad("value", "the percentage is a number like 20 or 12.5"))?;
            req.percent_off_bps = Some(bps);
        }
        "amount" => {
            let c = Currency::from_code_current(f.currency.trim())
                .map_err(|_| bad("currency", "choose the currency of the amount off"))?;
            let m = Money::parse(f.value.trim(), c)
                .map_err(|_| bad("value", &format!("the amount off is a number in {}, like 5.00", c.code())))?;
            req.amount_off = Some(BTreeMap::from([(c.code().to_string(), m.amount_minor)]));
        }
        _ => return Err(bad("kind", "choose a percentage or an amount off")),
    }
    if let Some(m) = optional(&f.months) {
        let months = m.parse().map_err(|_| bad("months", "months is a whole number, 1 to 120"))?;
        req.duration_in_months = Some(months);
    }
    if req.applies_to.as_deref() == Some("plans") {
        let codes: Vec<String> =
            f.plans.split(',').map(|c| c.trim().to_lowercase()).filter(|c| !c.is_empty()).collect();
        req.applies_to_ids = Some(codes);
    }
    if let Some(m) = optional(&f.max_redemptions) {
        let n = m.parse().map_err(|_| bad("max_redemptions", "the most redemptions is a whole number"))?;
        req.max_redemptions = Some(n);
    }
    if let Some(d) = optional(&f.valid_until) {
        let date: jiff::civil::Date =
            d.parse().map_err(|_| bad("valid_until", "the last day is a date like 2027-01-31"))?;
        // Usable through the whole of that day, UTC.
        let end = date
            .tomorrow()
            .and_then(|t| t.to_zoned(jiff::tz::TimeZone::UTC))
            .map_err(|_| bad("valid_until", "the last day is a date like 2027-01-31"))?;
        req.valid_until = Some(end.timestamp().as_second());
    }
    Ok(req)
}

/// Where an API refusal belongs on the form.
fn form_field(param: &str) -> &str {
    match param {
        "percent_off_bps" | "amount_off" => "value",
        p if p.starts_with("amount_off.") => "value",
        "duration_in_months" => "months",
        "applies_to_ids" => "plans",
        p => p,
    }
}

async fn create_coupon(State(state): State<AppState>, StaffForm(s, f): StaffForm<CouponForm>) -> Response {
    let livemode = f.mode.as_deref() == Some("live");
    let req = match coupon_request(&f) {
        Ok(r) => r,
        Err(err) => return coupon_form_again(&state, &s, livemode, err, f).await,
    };
    let outcome: ApiResult<()> = async {
        coupons::create(&state, &Actor::staff(livemode, &s.staff_id), req, &Reply::none()).await?;
        Ok(())
    }
    .await;
    match outcome {
        Ok(()) => Redirect::to(&format!("/staff/coupons?mode={}&done=created", mode_of(livemode))).into_response(),
        Err(e) if e.status.is_client_error() => {
            let field = e.body.param.as_deref().map(form_field).unwrap_or_default().to_string();
            coupon_form_again(&state, &s, livemode, (e.body.message, field), f).await
        }
        Err(e) => e.into_response(),
    }
}

/// The coupons page again (400), the form as it was sent and its error.
async fn coupon_form_again(
    state: &AppState,
    s: &StaffSession,
    livemode: bool,
    err: (String, String),
    f: CouponForm,
) -> Response {
    render_coupons(state, s, livemode, None, Some(err), f)
        .await
        .map(|r| (StatusCode::BAD_REQUEST, r).into_response())
        .unwrap_or_else(|e| e.into_response())
}

async fn deactivate_coupon(
    State(state): State<AppState>,
    Path(id): Path<String>,
    StaffForm(s, f): StaffForm<ActionForm>,
) -> Response {
    let livemode = f.livemode();
    let result: ApiResult<()> = async {
        if !is_valid(IdKind::Coupon, &id) {
            return Err(ApiError::not_found("id", "coupon", &id));
        }
        coupons::deactivate(&state, &Actor::staff(livemode, &s.staff_id), &id, &Reply::none()).await?;
        Ok(())
    }
    .await;
    let done = format!("/staff/coupons?mode={}&done=deactivated", mode_of(livemode));
    let form = CouponForm { kind: "percent".into(), duration: "once".into(), ..Default::default() };
    after_action(result, done, |msg| render_coupons(&state, &s, livemode, None, Some((msg, String::new())), form)).await
}

struct PriceLine {
    currency: String,
    interval: String,
    amount: String,
    tax_behavior: String,
    version: i64,
}

struct PlanLine {
    code: String,
    name: String,
    active: bool,
    rank: i64,
    trial: String,
    features: Vec<String>,
    limits: Vec<(String, String)>,
    prices: Vec<PriceLine>,
}

#[derive(Template)]
#[template(path = "staff/plans.html")]
struct PlansPage {
    chrome: Chrome,
    plans: Vec<PlanLine>,
}

/// The plan catalog as it stands: each plan with its features, limits and
/// current prices. The catalog changes by import (API or CLI), not here, so
/// that it stays one reviewed document.
async fn plan_list(State(state): State<AppState>, Staff(s): Staff, Query(q): Query<ModeQuery>) -> Response {
    let livemode = q.livemode();
    let result: ApiResult<Response> = async {
        let (plans, prices) = browse::catalog(&state, livemode).await?;
        Ok(page(PlansPage {
            chrome: chrome(&s, livemode),
            plans: plans
                .into_iter()
                .map(|p| {
                    let limits: BTreeMap<String, serde_json::Value> =
                        serde_json::from_str(&p.limits).unwrap_or_default();
                    PlanLine {
                        trial: match (p.trial_days, p.trial_card_required) {
                            (0, _) => String::new(),
                            (d, true) => format!("{d} days, card required"),
                            (d, false) => format!("{d} days"),
                        },
                        features: serde_json::from_str(&p.features).unwrap_or_default(),
                        limits: limits
                            .into_iter()
                            .map(|(k, v)| {
                                let v = match v {
                                    serde_json::Value::Null => "unlimited".to_string(),
                                    serde_json::Value::String(s) => s,
                                    v => v.to_string(),
                                };
                                (k, v)
                            })
                            .collect(),
                        prices: prices
                            .iter()
                            .filter(|x| x.plan_id == p.id)
                            .map(|x| PriceLine {
                                currency: x.currency.clone(),
                                interval: x.interval.clone(),
                                amount: money(x.amount, &x.currency),
                                tax_behavior: x.tax_behavior.clone(),
                                version: x.version,
                            })
                            .collect(),
                        code: p.code,
                        name: p.name,
                        active: p.active,
                        rank: p.rank,
                    }
                })
                .collect(),
        }))
    }
    .await;
    result.unwrap_or_else(|e| e.into_response())
}

struct VariantLine {
    variant: String,
    exposures: i64,
    conversions: i64,
    rate: String,
    interval: String,
    difference: String,
    p_value: String,
}

#[derive(Template)]
#[template(path = "staff/experiments.html")]
struct ExperimentsPage {
    chrome: Chrome,
    goal: String,
    goals: Vec<String>,
    rows: Vec<VariantLine>,
    srm_p: String,
    mismatch: bool,
}

fn pct(x: f64) -> String {
    format!("{:.2} %", x * 100.0)
}

/// The pricing page's experiment: each variant's visitors, conversions to a
/// goal with 95 % intervals, the difference against the control with its
/// p-value, and the sample-ratio check (`?goal=`, default `cta_click`).
async fn experiment_page(State(state): State<AppState>, Staff(s): Staff, Query(q): Query<ModeQuery>) -> Response {
    let livemode = q.livemode();
    let key = bursar_core::experiments::PRICING_PAGE.key;
    let r = match bursar_core::experiments::results_for(&state, livemode, key, q.q.as_deref()).await {
        Ok(r) => r,
        Err(e) => return crate::error::ApiError::from(e).into_response(),
    };
    let mut goals = r.goals.clone();
    if !goals.iter().any(|g| g == bursar_core::experiments::CTA_CLICK) {
        goals.insert(0, bursar_core::experiments::CTA_CLICK.to_string());
    }
    page(ExperimentsPage {
        chrome: chrome(&s, livemode),
        rows: r
            .variants
            .iter()
            .map(|v| VariantLine {
                variant: v.variant.clone(),
                exposures: v.exposures,
                conversions: v.conversions,
                rate: pct(v.rate),
                interval: format!("{} to {}", pct(v.rate_low), pct(v.rate_high)),
                difference: match (v.difference, v.difference_low, v.difference_high) {
                    (Some(d), Some(lo), Some(hi)) => {
                        format!("{:+.2} pts ({:+.2} to {:+.2})", d * 100.0, lo * 100.0, hi * 100.0)
                    }
                    _ => "control".to_string(),
                },
                p_value: v.p_value.map(|p| format!("{p:.4}")).unwrap_or_default(),
            })
            .collect(),
        srm_p: format!("{:.4}", r.sample_ratio.p_value),
        mismatch: r.sample_ratio.mismatch,
        goal: r.goal,
        goals,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_read_as_basis_points() {
        assert_eq!(parse_percent("20"), Some(2000));
        assert_eq!(parse_percent("12.5"), Some(1250));
        assert_eq!(parse_percent(" 7.25 % "), Some(725));
        assert_eq!(parse_percent("0.01"), Some(1));
        assert_eq!(parse_percent("5."), Some(500));
        for bad in ["", "12,5", "1.234", "-5", "abc", ".5", "1e3"] {
            assert_eq!(parse_percent(bad), None, "{bad}");
        }
        assert_eq!(percent(2000), "20 %");
        assert_eq!(percent(1250), "12.5 %");
        assert_eq!(percent(725), "7.25 %");
    }

    #[test]
    fn the_form_becomes_the_apis_request_and_its_errors_name_the_field() {
        let form = CouponForm {
            code: "spring".into(),
            kind: "amount".into(),
            value: "5".into(),
            currency: "EUR".into(),
            duration: "repeating".into(),
            months: "3".into(),
            applies_to: "plans".into(),
            plans: "Grow, scale".into(),
            valid_until: "2027-01-31".into(),
            ..Default::default()
        };
        let req = coupon_request(&form).unwrap();
        assert_eq!(req.amount_off, Some(BTreeMap::from([("EUR".to_string(), 500)])));
        assert_eq!(req.duration_in_months, Some(3));
        assert_eq!(req.applies_to_ids, Some(vec!["grow".to_string(), "scale".to_string()]));
        // Through the end of 31 January, UTC.
        assert_eq!(req.valid_until, Some(1_801_440_000));
        let bad = CouponForm { value: "5,00".into(), ..form };
        assert_eq!(coupon_request(&bad).unwrap_err().1, "value");
        let bad = CouponForm { kind: "percent".into(), value: "ten".into(), ..Default::default() };
        assert_eq!(coupon_request(&bad).unwrap_err().1, "value");
        let bad = CouponForm {
            kind: "percent".into(),
            value: "10".into(),
            valid_until: "31/01/2027".into(),
            ..Default::default()
        };
        assert_eq!(coupon_request(&bad).unwrap_err().1, "valid_until");
        assert_eq!(form_field("amount_off.EUR"), "value");
        assert_eq!(form_field("code"), "code");
    }
}
