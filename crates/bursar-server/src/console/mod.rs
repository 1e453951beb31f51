//! The staff console: sign-in with a hashed password, a server-side session
//! (only the token's hash is stored), CSRF tokens on every form, and a home
//! page listing what is in the database.

pub mod billing;
pub mod customers;
pub mod learning;

use crate::state::AppState;
use crate::web::{cookie, cookie_header};

use askama::Template;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Router};
use bursar_core::auth::{self, random_token, SignIn, StaffSession, STAFF_SESSION_HOURS as SESSION_HOURS};
use bursar_domain::money::{format_money, Currency, Locale, Money};
use serde::Deserialize;
use std::net::SocketAddr;

const SESSION_COOKIE: &str = "bursar_staff";
const LOGIN_CSRF_COOKIE: &str = "bursar_login_csrf";

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(customers::router())
        .merge(billing::router())
        .merge(learning::router())
        .route("/", get(|| async { Redirect::to("/staff") }))
        .route("/staff/login", get(login_page).post(login))
        .route("/staff/logout", post(logout))
        .route("/staff", get(home))
}

fn set_cookie(state: &AppState, name: &str, value: &str, max_age_secs: i64) -> String {
    cookie_header(state, name, value, max_age_secs, "Strict")
}

pub(crate) async fn current_session(
    state: &AppState,
    headers: &HeaderMap,
) -> bursar_core::Result<Option<StaffSession>> {
    let Some(token) = cookie(headers, SESSION_COOKIE) else { return Ok(None) };
    auth::staff_session(state, token).await
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    csrf: &'a str,
    email: &'a str,
    error: Option<&'a str>,
}

fn render_login(state: &AppState, status: StatusCode, email: &str, error: Option<&str>) -> Response {
    let csrf = random_token();
    let page = LoginPage { csrf: &csrf, email, error };
    match page.render() {
        Ok(html) => (status, [(header::SET_COOKIE, set_cookie(state, LOGIN_CSRF_COOKIE, &csrf, 3600))], Html(html))
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

async fn login_page(State(state): State<AppState>) -> Response {
    render_login(&state, StatusCode::OK, "", None)
}

#[derive(Deserialize)]
struct LoginForm {
    csrf: String,
    email: String,
    password: String,
}

async fn login(
    State(state): State<AppState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    let expected = cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or("");
    if expected.is_empty() || !bool::from(subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), f.csrf.as_bytes())) {
        return render_login(
            &state,
            StatusCode::FORBIDDEN,
            &f.email,
            Some("Your sign-in form expired. Please try again."),
        );
    }
    let email = f.email.trim().to_lowercase();
    let address = peer.map_or_else(|| "unknown".to_string(), |Extension(ConnectInfo(a))| a.ip().to_string());
    let token = match auth::staff_sign_in(&state, &email, &f.password, &address).await {
        Ok(SignIn::Opened(token)) => token,
        Ok(SignIn::Refused) => {
            return render_login(&state, StatusCode::UNAUTHORIZED, &email, Some("Wrong email or password."));
        }
        Ok(SignIn::Locked { retry_after_secs }) => {
            let minutes = (retry_after_secs + 59) / 60;
            let text = format!(
                "Too many failed sign-ins. Try again in {minutes} minute{}.",
                if minutes == 1 { "" } else { "s" }
            );
            let mut resp = render_login(&state, StatusCode::TOO_MANY_REQUESTS, &email, Some(&text));
            resp.headers_mut().insert(header::RETRY_AFTER, retry_after_secs.into());
            return resp;
        }
        Err(e) => {
            tracing::error!(error = %e, "could not sign staff in");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let mut resp = Redirect::to("/staff").into_response();
    resp.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&state, SESSION_COOKIE, &token, SESSION_HOURS * 3600).parse().expect("valid cookie"),
    );
    resp.headers_mut()
        .append(header::SET_COOKIE, set_cookie(&state, LOGIN_CSRF_COOKIE, "", 0).parse().expect("valid cookie"));
    resp
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn logout(State(state): State<AppState>, headers: HeaderMap, Form(f): Form<CsrfForm>) -> Response {
    let session = match current_session(&state, &headers).await {
        Ok(Some(s)) => s,
        Ok(None) => return Redirect::to("/staff/login").into_response(),
        Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    };
    if !auth::csrf_ok(&session, &f.csrf) {
        return (StatusCode::FORBIDDEN, "invalid CSRF token").into_response();
    }
    if let Some(token) = cookie(&headers, SESSION_COOKIE) {
        if auth::staff_sign_out(&state, token).await.is_err() {
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    }
    let mut resp = Redirect::to("/staff/login").into_response();
    resp.headers_mut()
        .insert(header::SET_COOKIE, set_cookie(&state, SESSION_COOKIE, "", 0).parse().expect("valid cookie"));
    resp
}

struct RecentCustomer {
    id: String,
    name: String,
    email: String,
    country: String,
    currency: String,
    credit: String,
}

struct BalanceLine {
    account: String,
    kind: String,
    currency: String,
    formatted: String,
    postings: i64,
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    chrome: self::customers::Chrome,
    customers: i64,
    api_keys: i64,
    ledger_entries: i64,
    events: i64,
    test_clocks: i64,
    recent: Vec<RecentCustomer>,
    balances: Vec<BalanceLine>,
}

#[derive(Deserialize)]
struct HomeQuery {
    mode: Option<String>,
}

fn fmt(amount: i64, currency: &str) -> String {
    match Currency::from_code(currency) {
        Ok(c) => format_money(Money::new(amount, c), Locale::EnUs),
        Err(_) => format!("{amount} {currency}"),
    }
}

async fn home(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<HomeQuery>) -> Response {
    let session = match current_session(&state, &headers).await {
        Ok(Some(s)) => s,
        Ok(None) => return Redirect::to("/staff/login").into_response(),
        Err(e) => {
            tracing::error!(error = %e, "session lookup failed");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let livemode = q.mode.as_deref() == Some("live");
    match home_page(&state, session, livemode).await {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "staff home failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

async fn home_page(state: &AppState, session: StaffSession, livemode: bool) -> Result<String, String> {
    let o = bursar_core::overview::overview(state, livemode).await.map_err(|e| e.to_string())?;
    let recent = o
        .recent
        .into_iter()
        .map(|c| RecentCustomer {
            credit: c.credit.iter().map(|(amount, currency)| fmt(*amount, currency)).collect::<Vec<_>>().join(", "),
            currency: c.currency,
            id: c.row.id,
            name: c.row.name.unwrap_or_default(),
            email: c.row.email.unwrap_or_default(),
            country: c.row.country.unwrap_or_default(),
        })
        .collect();
    let balances = o
        .balances
        .into_iter()
        .map(|b| BalanceLine {
            kind: b.kind.map(|k| format!("{k:?}").to_lowercase()).unwrap_or_default(),
            formatted: fmt(b.balance, &b.currency),
            account: b.account,
            currency: b.currency,
            postings: b.postings,
        })
        .collect();
    let page = HomePage {
        chrome: self::customers::chrome(&session, livemode),
        customers: o.customers,
        api_keys: o.api_keys,
        ledger_entries: o.ledger_entries,
        events: o.events,
        test_clocks: o.test_clocks,
        recent,
        balances,
    };
    page.render().map_err(|e| e.to_string())
}
