//! Hosted checkout's pages: the session page (summary, coupon entry, Pay),
//! the sandbox's test-card page and 3-D Secure step, Razorpay's form
//! hand-off, the provider return, and Bursar's own receipt (`/thanks`) and
//! "nothing was charged" (`/left`) pages. Every action is one call into
//! `bursar_core::checkout`; this module renders its answer.

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use bursar_core::checkout::{self, Next};
use bursar_core::sessions::{self, SessionView};
use bursar_domain::money::{format_money, Currency, Locale, Money};
use serde::Deserialize;
use std::collections::BTreeMap;

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

fn money(minor: i64, c: Currency, locale: Locale) -> String {
    format_money(Money::new(minor, c), locale)
}

fn money_code(minor: i64, code: &str, locale: Locale) -> ApiResult<String> {
    let c = Currency::from_code(code).map_err(|_| ApiError::internal())?;
    Ok(money(minor, c, locale))
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

fn lang(locale: Locale) -> String {
    locale.tag().split('-').next().unwrap_or("en").to_string()
}

fn session_page(v: &SessionView, error: Option<String>) -> Response {
    let s = &v.session;
    let (locale, sum) = (v.locale, &v.summary);
    let title = match (v.complete, s.mode.as_str()) {
        (true, "subscription") => "You're subscribed",
        (true, _) => "Thank you",
        (false, "subscription") => "Subscribe",
        (false, _) => "Checkout",
    };
    html(SessionPage {
        lang: lang(locale),
        id: s.id.clone(),
        title: title.into(),
        test_mode: !s.livemode,
        error: error.or_else(|| s.last_error.clone()),
        lines: sum.lines.iter().map(|(d, a)| (d.clone(), money(*a, sum.currency, locale))).collect(),
        total_label: match (v.complete, s.mode.as_str()) {
            (true, _) => "Paid".into(),
            (false, "subscription") => "Due today".into(),
            (false, _) => "Total".into(),
        },
        total: money(sum.total, sum.currency, locale),
        note: (s.mode == "subscription").then(|| "Renews automatically; cancel any time.".to_string()),
        open: v.open,
        closed_message: match (v.complete, &v.invoice_number) {
            (true, Some(n)) => format!("Payment received. Your invoice number is {n}."),
            (true, None) => "Payment received.".into(),
            (false, _) => "This checkout has expired.".into(),
        },
        form_token: s.form_token.clone(),
        coupon: s.coupon.clone().unwrap_or_default(),
        pay_label: format!("Pay {}", money(sum.total, sum.currency, locale)),
    })
}

async fn show(state: &AppState, id: &str, error: Option<String>) -> ApiResult<Response> {
    let v = sessions::view(state, id).await?;
    Ok(session_page(&v, error))
}

async fn page(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    show(&state, &id, None).await
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
    match sessions::set_coupon(&state, &id, &f.form_token, &f.code).await {
        Ok(()) => Ok(Redirect::to(&format!("/checkout/{id}")).into_response()),
        Err(e) if matches!(e.kind, bursar_core::Kind::Invalid | bursar_core::Kind::Conflict) => {
            show(&state, &id, Some(e.message)).await
        }
        Err(e) => Err(e.into()),
    }
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

#[derive(Template)]
#[template(path = "checkout/razorpay.html")]
struct RazorpayPage {
    lang: String,
    id: String,
    amount: String,
    action: String,
    fields: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "checkout/authenticate.html")]
struct AuthenticatePage {
    lang: String,
    id: String,
    amount: String,
    form_token: String,
}

/// Renders where the buyer goes next.
async fn next(state: &AppState, id: &str, n: Next) -> ApiResult<Response> {
    match n {
        Next::Show(error) => show(state, id, error).await,
        Next::Redirect(to) => Ok(Redirect::to(&to).into_response()),
        Next::PostForm { action, fields, amount, currency } => Ok(html(RazorpayPage {
            lang: "en".into(),
            id: id.to_string(),
            amount: money_code(amount, &currency, Locale::EnIn)?,
            action,
            fields,
        })),
        Next::Authenticate { amount, currency } => {
            let v = sessions::view(state, id).await?;
            Ok(html(AuthenticatePage {
                lang: "en".into(),
                id: id.to_string(),
                amount: money_code(amount, &currency, v.locale)?,
                form_token: v.session.form_token,
            }))
        }
    }
}

/// "Pay": issues the invoice (once), creates the payment attempt, and sends
/// the buyer to the provider.
async fn pay(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(f): Form<TokenForm>,
) -> ApiResult<Response> {
    let n = checkout::pay(&state, &id, &f.form_token, &base_url(&state, &headers)).await?;
    next(&state, &id, n).await
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

async fn sandbox_page(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    let Some(t) = checkout::sandbox_target(&state, &id).await? else {
        return Ok(Redirect::to(&format!("/checkout/{id}")).into_response());
    };
    let v = sessions::view(&state, &id).await?;
    Ok(html(SandboxPage {
        lang: "en".into(),
        id,
        amount: money_code(t.amount, &t.currency, v.locale)?,
        form_token: t.form_token,
        cards: bursar_core::sandbox::TEST_METHODS
            .iter()
            .map(|(token, brand, last4, b)| {
                use bursar_core::sandbox::Behaviour;
                let what = match b {
                    Behaviour::Succeeds => "succeeds".to_string(),
                    Behaviour::Processing => "processes, then succeeds".to_string(),
                    Behaviour::Declines("authentication_required") => "asks for 3-D Secure".to_string(),
                    Behaviour::Declines(code) => format!("declines: {}", code.replace('_', " ")),
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

/// The sandbox's card form was submitted.
async fn sandbox_pay(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Form(f): Form<SandboxForm>,
) -> ApiResult<Response> {
    let n = checkout::sandbox_card(&state, &id, &f.form_token, &f.card).await?;
    next(&state, &id, n).await
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
    let n = checkout::authenticate(&state, &id, &f.form_token, f.decision == "approve").await?;
    next(&state, &id, n).await
}

/// The provider posted the buyer back (Razorpay's redirect checkout).
async fn provider_return_form(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Form(params): Form<BTreeMap<String, String>>,
) -> ApiResult<Response> {
    let n = checkout::provider_return(&state, &id, &params).await?;
    next(&state, &id, n).await
}

/// The provider sent the buyer back.
async fn provider_return(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(params): Query<BTreeMap<String, String>>,
) -> ApiResult<Response> {
    let n = checkout::provider_return(&state, &id, &params).await?;
    next(&state, &id, n).await
}

/// Bursar's own receipt page, where a session without a `success_url`
/// ends: the session page, which shows what was paid once it is complete.
async fn thanks(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    let v = sessions::view(&state, &id).await?;
    if !v.complete {
        return Ok(Redirect::to(&format!("/checkout/{id}")).into_response());
    }
    Ok(session_page(&v, None))
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
    let v = sessions::view(&state, &id).await?;
    Ok(html(LeftPage {
        lang: lang(v.locale),
        test_mode: !v.session.livemode,
        open: v.open,
        complete: v.complete,
        id: v.session.id,
    }))
}

/// The buyer left the provider's page (or Bursar's) without paying.
async fn cancel(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    let v = sessions::view(&state, &id).await?;
    Ok(Redirect::to(&v.session.cancel_url).into_response())
}
