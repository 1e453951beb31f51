//! The billing portal: a learner signed in by the platform
//! (`POST /v1/portal_sessions`) sees their plan and its usage against its
//! limits, changes plan with the proration shown before anything is
//! charged, pauses or cancels (with feedback, and a pause offered to those
//! who leave over price), and finds their invoices, payment methods and
//! credit balance. The same rules as the API run behind every form; each
//! form carries the session's secret.

use crate::error::{ApiError, ApiResult};
use crate::extract::CsrfForm;
use crate::state::AppState;
use askama::Template;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use bursar_core::payments::methods;
use bursar_core::subscriptions::invoices;
use bursar_core::subscriptions::portal_view::{self as view, PortalSessionRow, SubscriptionRow};
use bursar_core::subscriptions::{self as subs, SubscriptionCancel, SubscriptionChange};
use bursar_core::{customers::CustomerRow, Actor, Reply};
use bursar_domain::catalog::Limit;
use bursar_domain::money::{format_date, format_integer, format_money_in, Locale};
use bursar_domain::subscription::Status;
use serde::de::DeserializeOwned;
use serde::Deserialize;

mod landing;
mod prompt;

const COOKIE: &str = "bursar_portal";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/portal/enter/{token}", get(enter))
        .route("/portal", get(home))
        .route("/portal/change", get(change_page).post(change))
        .route("/portal/cancel", get(cancel_page).post(cancel))
        .route("/portal/pause", post(pause))
        .route("/portal/methods/{id}/default", post(method_default))
        .route("/portal/methods/{id}/remove", post(method_remove))
        .route("/portal/invoices/{id}/pdf", get(invoice_pdf))
        .route("/embed/upgrade/{token}", get(prompt::upgrade_prompt))
}

fn html(status: StatusCode, t: impl Template) -> Response {
    match t.render() {
        Ok(body) => (
            status,
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

#[derive(Template)]
#[template(path = "portal/message.html")]
struct MessagePage {
    title: String,
    message: String,
    back: Option<String>,
}

fn message(status: StatusCode, title: &str, message: &str, back: Option<String>) -> Response {
    html(status, MessagePage { title: title.into(), message: message.into(), back })
}

fn ended() -> Response {
    message(
        StatusCode::UNAUTHORIZED,
        "Your billing session has ended",
        "For your security, billing sessions last an hour. Go back to your account and open billing again.",
        None,
    )
}

/// The session behind the request's portal cookie, or the "session
/// ended" page.
async fn session(state: &AppState, headers: &HeaderMap) -> Result<PortalSessionRow, Response> {
    match signed_in(state, headers).await {
        Ok(Some(s)) => Ok(s),
        Ok(None) => Err(ended()),
        Err(e) => Err(e.into_response()),
    }
}

/// The learner signed in through a portal session, if any (the course
/// pages' cart buys for them).
pub(crate) async fn signed_in(state: &AppState, headers: &HeaderMap) -> ApiResult<Option<PortalSessionRow>> {
    let Some(token) = crate::web::cookie(headers, COOKIE) else { return Ok(None) };
    Ok(view::signed_in(state, token).await?)
}

/// The learner signed in to the portal, as a handler's argument; without
/// a session, the "session ended" page.
struct Learner(PortalSessionRow);

impl FromRequestParts<AppState> for Learner {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        session(state, &parts.headers).await.map(Learner)
    }
}

/// A portal form that acts: the learner and their form, refused unless it
/// carries their session's CSRF token.
struct LearnerForm<T>(PortalSessionRow, T);

impl<T: DeserializeOwned + CsrfForm + Send> FromRequest<AppState> for LearnerForm<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let Learner(s) = Learner::from_request_parts(&mut parts, state).await?;
        let Form(f) = Form::<T>::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(IntoResponse::into_response)?;
        if !csrf_ok(&s, f.csrf()) {
            return Err(forged());
        }
        Ok(LearnerForm(s, f))
    }
}

fn learner(s: &PortalSessionRow) -> Actor {
    Actor { livemode: s.livemode, kind: "learner", id: s.customer_id.clone() }
}

fn csrf_ok(s: &PortalSessionRow, given: &str) -> bool {
    use subtle::ConstantTimeEq;
    bool::from(s.csrf.as_bytes().ct_eq(given.as_bytes()))
}

fn forged() -> Response {
    message(StatusCode::FORBIDDEN, "This form is out of date", "Reload the page and try again.", None)
}

#[derive(Deserialize)]
struct EnterQuery {
    /// A portal page to land on (the upgrade prompt's change preview).
    next: Option<String>,
}

/// The platform's link: signs the learner in and drops the token from the
/// address bar.
async fn enter(State(state): State<AppState>, Path(token): Path<String>, Query(q): Query<EnterQuery>) -> Response {
    let to = match landing::landing(q.next.as_deref()) {
        Ok(to) => to,
        Err(why) => {
            tracing::warn!(next = ?q.next, reason = why, "portal sign-in link refused: `next` is no portal page");
            return message(
                StatusCode::BAD_REQUEST,
                "This link is not valid",
                "The page it names is not part of billing.",
                None,
            );
        }
    };
    let Ok(Some(s)) = view::signed_in(&state, &token).await else { return ended() };
    let max_age = ((s.expires_at - state.now_ms()) / 1000).max(1);
    // Lax: the learner arrives from the platform's site.
    let cookie = crate::web::cookie_header(&state, COOKIE, &token, max_age, "Lax");
    ([(header::SET_COOKIE, cookie), (header::CACHE_CONTROL, "no-store".into())], Redirect::to(&to)).into_response()
}

struct SubView {
    id: String,
    plan: String,
    status: String,
    price: String,
    renews: String,
    can_change: bool,
    can_cancel: bool,
    changes: Vec<(String, String, String)>,
}

struct UsageView {
    label: String,
    used: String,
    limit: String,
    percent: Option<i64>,
}

struct InvoiceView {
    id: String,
    number: String,
    date: String,
    total: String,
    status: String,
}

struct MethodView {
    id: String,
    label: String,
    is_default: bool,
}

#[derive(Template)]
#[template(path = "portal/home.html")]
struct HomePage {
    lang: String,
    name: String,
    notice: Option<String>,
    error: Option<String>,
    subs: Vec<SubView>,
    usage: Vec<UsageView>,
    invoices: Vec<InvoiceView>,
    methods: Vec<MethodView>,
    csrf: String,
    credit: Option<String>,
    back: Option<String>,
}

fn locale_of(c: &CustomerRow) -> Locale {
    c.locale.as_deref().and_then(|l| Locale::from_tag(l).ok()).unwrap_or(Locale::EnUs)
}

fn date(ms: i64, locale: Locale) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| format_date(t.to_zoned(jiff::tz::TimeZone::UTC).date(), locale))
        .unwrap_or_default()
}

fn money_in(minor: i64, currency: &str, locale: Locale) -> String {
    format_money_in(minor, currency, locale).unwrap_or_default()
}

#[derive(Deserialize)]
struct HomeQuery {
    done: Option<String>,
}

async fn home(State(state): State<AppState>, Learner(s): Learner, Query(q): Query<HomeQuery>) -> Response {
    let notice = match q.done.as_deref() {
        Some("changed") => Some("Your plan has changed.".to_string()),
        Some("scheduled") => Some("Your plan changes at the end of this billing period.".to_string()),
        Some("canceled") => Some("Your subscription ends at the end of this billing period.".to_string()),
        Some("paused") => Some("Your subscription is paused; you will not be charged while it is.".to_string()),
        Some("method_default") => Some("Your renewals are now charged to that card.".to_string()),
        Some("method_removed") => Some("The card is removed.".to_string()),
        _ => None,
    };
    render_home(&state, &s, StatusCode::OK, notice, None).await.unwrap_or_else(|e| e.into_response())
}

async fn render_home(
    state: &AppState,
    s: &PortalSessionRow,
    status: StatusCode,
    notice: Option<String>,
    error: Option<String>,
) -> ApiResult<Response> {
    let home = view::home(state, s).await?;
    let customer = &home.customer;
    let locale = locale_of(customer);
    let mut sub_views = Vec::new();
    for h in &home.held {
        let sub = &h.sub;
        let per = if sub.interval == "year" { "year" } else { "month" };
        let renews = if sub.cancel_at_period_end {
            format!("Ends on {}", date(sub.current_period_end, locale))
        } else if let Some(until) = sub.pause_resumes_at {
            format!("Paused until {}", date(until, locale))
        } else if sub.status == Status::Trialing.as_str() {
            format!("Trial ends on {}", date(sub.trial_end.unwrap_or(sub.current_period_end), locale))
        } else {
            format!("Renews on {}", date(sub.current_period_end, locale))
        };
        let changes = h
            .options
            .iter()
            .map(|o| {
                (o.code.clone(), o.name.clone(), format!("{} per {per}", money_in(o.amount, &sub.currency, locale)))
            })
            .collect();
        let active = matches!(Status::parse(&sub.status), Some(Status::Active | Status::Trialing));
        sub_views.push(SubView {
            id: sub.id.clone(),
            plan: h.plan.as_ref().map_or_else(|| sub.plan_id.clone(), |p| p.name.clone()),
            status: sub.status.replace('_', " "),
            price: format!("{} per {per}", money_in(h.amount, &sub.currency, locale)),
            renews,
            can_change: active && !sub.cancel_at_period_end,
            can_cancel: active && !sub.cancel_at_period_end,
            changes,
        });
    }
    let usage = home
        .usage
        .iter()
        .map(|u| {
            let (limit, percent) = match u.limit {
                Limit::Unlimited => ("Unlimited".to_string(), None),
                Limit::Limited(0) => ("Not included".to_string(), None),
                Limit::Limited(n) => {
                    let n = i64::try_from(n).unwrap_or(i64::MAX);
                    (format_integer(n, locale), Some((u.used.saturating_mul(100) / n).clamp(0, 100)))
                }
            };
            UsageView { label: u.name.clone(), used: format_integer(u.used, locale), limit, percent }
        })
        .collect();
    let invoices = home
        .invoices
        .iter()
        .map(|i| InvoiceView {
            number: i.number.clone().unwrap_or_default(),
            date: date(i.finalized_at.unwrap_or(i.created_at), locale),
            total: money_in(i.total, &i.currency, locale),
            status: i.status.clone(),
            id: i.id.clone(),
        })
        .collect();
    let methods = home
        .methods
        .iter()
        .map(|m| {
            let exp = match (m.exp_month, m.exp_year) {
                (Some(mo), Some(y)) => format!(", expires {mo:02}/{y}"),
                _ => String::new(),
            };
            MethodView {
                label: format!("{} •••• {}{exp}", m.brand, m.last4),
                is_default: m.is_default,
                id: m.id.clone(),
            }
        })
        .collect();
    Ok(html(
        status,
        HomePage {
            lang: locale.tag().to_string(),
            name: customer.name.clone().or(customer.email.clone()).unwrap_or_default(),
            notice,
            error,
            subs: sub_views,
            usage,
            invoices,
            methods,
            csrf: s.csrf.clone(),
            credit: (home.credit != 0).then(|| money_in(home.credit, &home.currency, locale)),
            back: s.return_url.clone(),
        },
    ))
}

/// The learner's own subscription, or a 404 page.
async fn own_sub(state: &AppState, s: &PortalSessionRow, id: &str) -> Result<SubscriptionRow, Response> {
    match view::own_subscription(state, s, id).await {
        Ok(Some(sub)) => Ok(sub),
        Ok(None) => Err(message(StatusCode::NOT_FOUND, "Not found", "There is no such subscription here.", None)),
        Err(e) => Err(ApiError::from(e).into_response()),
    }
}

#[derive(Deserialize)]
struct ChangeQuery {
    subscription: String,
    plan: String,
}

#[derive(Template)]
#[template(path = "portal/change.html")]
struct ChangePage {
    lang: String,
    csrf: String,
    subscription: String,
    plan_code: String,
    plan_name: String,
    from_name: String,
    now: bool,
    when: String,
    lines: Vec<(String, String)>,
    tax: String,
    total: String,
    credit_applied: Option<String>,
    amount_due: String,
}

async fn change_page(State(state): State<AppState>, Learner(s): Learner, Query(q): Query<ChangeQuery>) -> Response {
    let sub = match own_sub(&state, &s, &q.subscription).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let result: ApiResult<Response> = async {
        let locale = locale_of(&view::learner(&state, &s).await?);
        let view::PlanMove { from, to, at_period_end: later } = view::plan_move(&state, &sub, &q.plan).await?;
        let body = SubscriptionChange {
            plan: Some(to.code.clone()),
            quantity: None,
            at_period_end: Some(later),
            coupon: None,
        };
        let p = subs::preview_change(&state, &learner(&s), &sub.id, &body).await?;
        let m = |v: i64| money_in(v, &p.currency, locale);
        Ok(html(
            StatusCode::OK,
            ChangePage {
                lang: locale.tag().to_string(),
                csrf: s.csrf.clone(),
                subscription: sub.id.clone(),
                plan_code: to.code.clone(),
                plan_name: to.name.clone(),
                from_name: from.map(|f| f.name).unwrap_or_default(),
                now: !later,
                when: date(sub.current_period_end, locale),
                lines: p.lines.iter().map(|l| (l.description.clone(), m(l.amount))).collect(),
                tax: m(p.tax),
                total: m(p.total),
                credit_applied: (p.credit_applied != 0).then(|| m(p.credit_applied)),
                amount_due: m(p.amount_due),
            },
        ))
    }
    .await;
    match result {
        Ok(r) => r,
        Err(e) if e.status.is_client_error() => {
            render_home(&state, &s, e.status, None, Some(e.body.message)).await.unwrap_or_else(|e| e.into_response())
        }
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize)]
struct ChangeForm {
    csrf: String,
    subscription: String,
    plan: String,
}

impl CsrfForm for ChangeForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

async fn change(State(state): State<AppState>, LearnerForm(s, f): LearnerForm<ChangeForm>) -> Response {
    let sub = match own_sub(&state, &s, &f.subscription).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let result: ApiResult<&'static str> = async {
        let view::PlanMove { to, at_period_end: later, .. } = view::plan_move(&state, &sub, &f.plan).await?;
        let body = SubscriptionChange { plan: Some(to.code), quantity: None, at_period_end: Some(later), coupon: None };
        subs::change(&state, &learner(&s), &sub.id, &body, &Reply::none()).await?;
        Ok(if later { "scheduled" } else { "changed" })
    }
    .await;
    match result {
        Ok(done) => Redirect::to(&format!("/portal?done={done}")).into_response(),
        Err(e) if e.status.is_client_error() => render_home(&state, &s, StatusCode::OK, None, Some(e.body.message))
            .await
            .unwrap_or_else(|e| e.into_response()),
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize)]
struct CancelQuery {
    subscription: String,
}

/// Reasons offered on the cancel form: (value, label).
const REASONS: [(&str, &str); 6] = [
    ("too_expensive", "It costs too much"),
    ("unused", "I don't use it enough"),
    ("missing_features", "It is missing something I need"),
    ("switched_service", "I'm switching to another service"),
    ("too_complex", "It is hard to use"),
    ("other", "Something else"),
];

#[derive(Template)]
#[template(path = "portal/cancel.html")]
struct CancelPage {
    lang: String,
    csrf: String,
    subscription: String,
    plan: String,
    ends: String,
    reasons: Vec<(&'static str, &'static str)>,
}

async fn cancel_page(State(state): State<AppState>, Learner(s): Learner, Query(q): Query<CancelQuery>) -> Response {
    let sub = match own_sub(&state, &s, &q.subscription).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let customer = match view::learner(&state, &s).await {
        Ok(c) => c,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let locale = locale_of(&customer);
    let plan = view::plan_of(&state, &sub).await.ok().flatten();
    html(
        StatusCode::OK,
        CancelPage {
            lang: locale.tag().to_string(),
            csrf: s.csrf.clone(),
            subscription: sub.id.clone(),
            plan: plan.map(|p| p.name).unwrap_or_default(),
            ends: date(sub.current_period_end, locale),
            reasons: REASONS.to_vec(),
        },
    )
}

#[derive(Deserialize)]
struct CancelForm {
    csrf: String,
    subscription: String,
    reason: Option<String>,
    comments: Option<String>,
    /// Set when the learner saw the save offer and still cancels.
    decline_offer: Option<String>,
}

impl CsrfForm for CancelForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

#[derive(Template)]
#[template(path = "portal/offer.html")]
struct OfferPage {
    lang: String,
    csrf: String,
    subscription: String,
    reason: String,
    comments: String,
    months: Vec<u32>,
}

async fn cancel(State(state): State<AppState>, LearnerForm(s, f): LearnerForm<CancelForm>) -> Response {
    let sub = match own_sub(&state, &s, &f.subscription).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let comments = f.comments.clone().filter(|c| !c.trim().is_empty());
    let body = SubscriptionCancel {
        at_period_end: Some(true),
        reason: f.reason.clone().filter(|r| !r.is_empty()),
        comments: comments.clone(),
        would_return: None,
        decline_offer: Some(f.decline_offer.is_some()),
    };
    let result =
        async { ApiResult::Ok(subs::cancel(&state, &learner(&s), &sub.id, &body, &Reply::none()).await?) }.await;
    match result {
        Ok(out) if out.outcome == "offer" => {
            let customer = view::learner(&state, &s).await.ok();
            html(
                StatusCode::OK,
                OfferPage {
                    lang: customer.as_ref().map_or(Locale::EnUs, locale_of).tag().to_string(),
                    csrf: s.csrf.clone(),
                    subscription: sub.id.clone(),
                    reason: body.reason.unwrap_or_default(),
                    comments: comments.unwrap_or_default(),
                    months: out.offer.map(|o| o.months).unwrap_or_default(),
                },
            )
        }
        Ok(_) => Redirect::to("/portal?done=canceled").into_response(),
        Err(e) if e.status.is_client_error() => {
            render_home(&state, &s, e.status, None, Some(e.body.message)).await.unwrap_or_else(|e| e.into_response())
        }
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize)]
struct PauseForm {
    csrf: String,
    subscription: String,
    months: u32,
}

impl CsrfForm for PauseForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

async fn pause(State(state): State<AppState>, LearnerForm(s, f): LearnerForm<PauseForm>) -> Response {
    let sub = match own_sub(&state, &s, &f.subscription).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let result = async {
        subs::pause(&state, &learner(&s), &sub.id, f.months, &Reply::none()).await?;
        ApiResult::Ok(())
    }
    .await;
    match result {
        Ok(()) => Redirect::to("/portal?done=paused").into_response(),
        Err(e) if e.status.is_client_error() => {
            render_home(&state, &s, e.status, None, Some(e.body.message)).await.unwrap_or_else(|e| e.into_response())
        }
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize)]
struct MethodForm {
    csrf: String,
}

impl CsrfForm for MethodForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// The learner picks which saved card renewals charge.
async fn method_default(
    State(state): State<AppState>,
    Path(id): Path<String>,
    LearnerForm(s, _): LearnerForm<MethodForm>,
) -> Response {
    let result = async {
        methods::make_default(&state, &learner(&s), &s.customer_id, &id, &Reply::none()).await?;
        ApiResult::Ok(())
    }
    .await;
    method_done(&state, &s, result, "method_default").await
}

/// The learner removes a saved card, unless it is the only one and a
/// subscription still renews on it (renewals would then fail).
async fn method_remove(
    State(state): State<AppState>,
    Path(id): Path<String>,
    LearnerForm(s, _): LearnerForm<MethodForm>,
) -> Response {
    // A learner's only card stays while a subscription renews on it.
    let result = async {
        methods::detach(&state, &learner(&s), &s.customer_id, &id, &Reply::none()).await?;
        ApiResult::Ok(())
    }
    .await;
    method_done(&state, &s, result, "method_removed").await
}

async fn method_done(state: &AppState, s: &PortalSessionRow, result: ApiResult<()>, done: &str) -> Response {
    match result {
        Ok(()) => Redirect::to(&format!("/portal?done={done}")).into_response(),
        Err(e) if e.status.is_client_error() => {
            render_home(state, s, e.status, None, Some(e.body.message)).await.unwrap_or_else(|e| e.into_response())
        }
        Err(e) => e.into_response(),
    }
}

async fn invoice_pdf(State(state): State<AppState>, Learner(s): Learner, Path(id): Path<String>) -> Response {
    if !view::owns_invoice(&state, &s, &id).await.unwrap_or(false) {
        return message(StatusCode::NOT_FOUND, "Not found", "There is no such invoice here.", None);
    }
    match invoices::pdf(&state, &learner(&s), &id, false).await {
        Ok(pdf) => (
            [
                (header::CONTENT_TYPE, "application/pdf".to_string()),
                (header::CONTENT_DISPOSITION, format!("inline; filename=\"{}.pdf\"", pdf.name)),
                (header::CACHE_CONTROL, "private, max-age=300".to_string()),
            ],
            pdf.bytes,
        )
            .into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}
