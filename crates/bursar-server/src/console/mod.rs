//! The staff console: sign-in with a hashed password, a server-side session
//! (only the token's hash is stored), CSRF tokens on every form, and a home
//! page listing what is in the database.

pub mod billing;
pub mod customers;

use crate::middleware::sha256_hex;
use crate::state::AppState;
use crate::web::{cookie, cookie_header};

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use bursar_domain::ledger::{account_kind, natural_balance};
use bursar_domain::money::{format_money, Currency, Locale, Money};
use bursar_store::auth::{self, StaffSession};
use bursar_store::{customers as customer_store, ledger, DbError};
use rand::distr::{Alphanumeric, SampleString};
use serde::Deserialize;
use sqlx::Row;
use std::collections::BTreeMap;

const SESSION_COOKIE: &str = "bursar_staff";
const LOGIN_CSRF_COOKIE: &str = "bursar_login_csrf";
const SESSION_HOURS: i64 = 12;

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(customers::router())
        .merge(billing::router())
        .route("/", get(|| async { Redirect::to("/staff") }))
        .route("/staff/login", get(login_page).post(login))
        .route("/staff/logout", post(logout))
        .route("/staff", get(home))
}

fn set_cookie(state: &AppState, name: &str, value: &str, max_age_secs: i64) -> String {
    cookie_header(state, name, value, max_age_secs, "Strict")
}

fn random_token() -> String {
    Alphanumeric.sample_string(&mut rand::rng(), 40)
}

pub(crate) async fn current_session(state: &AppState, headers: &HeaderMap) -> Result<Option<StaffSession>, DbError> {
    let Some(token) = cookie(headers, SESSION_COOKIE) else { return Ok(None) };
    auth::session(state.db.reader(), &sha256_hex(token.as_bytes()), state.now_ms()).await
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

async fn login(State(state): State<AppState>, headers: HeaderMap, Form(f): Form<LoginForm>) -> Response {
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
    let staff = match auth::staff_by_email(state.db.reader(), &email).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "staff lookup failed");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let password = f.password;
    let verified = match staff {
        Some(s) => {
            let hash = s.password_hash.clone();
            let ok = tokio::task::spawn_blocking(move || bursar_core::auth::verify_password(&password, &hash))
                .await
                .unwrap_or(false);
            ok.then_some(s)
        }
        None => None,
    };
    let Some(staff) = verified else {
        return render_login(&state, StatusCode::UNAUTHORIZED, &email, Some("Wrong email or password."));
    };
    let token = random_token();
    let now = state.now_ms();
    let res = async {
        let mut tx = state.db.begin().await?;
        auth::insert_session(
            &mut tx,
            &sha256_hex(token.as_bytes()),
            &staff.id,
            &random_token(),
            now,
            now + SESSION_HOURS * 3_600_000,
        )
        .await?;
        bursar_store::events::audit(&mut tx, "staff", &staff.id, "staff.sign_in", None, &serde_json::json!({}), now)
            .await?;
        tx.commit().await?;
        Ok::<_, DbError>(())
    }
    .await;
    if let Err(e) = res {
        tracing::error!(error = %e, "could not create staff session");
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
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
    if !bool::from(subtle::ConstantTimeEq::ct_eq(session.csrf_token.as_bytes(), f.csrf.as_bytes())) {
        return (StatusCode::FORBIDDEN, "invalid CSRF token").into_response();
    }
    if let Some(token) = cookie(&headers, SESSION_COOKIE) {
        let hash = sha256_hex(token.as_bytes());
        let res = async {
            let mut tx = state.db.begin().await?;
            auth::delete_session(&mut tx, &hash).await?;
            tx.commit().await?;
            Ok::<_, DbError>(())
        }
        .await;
        if res.is_err() {
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

async fn count(state: &AppState, table: &'static str, livemode: bool) -> Result<i64, DbError> {
    let sql = match table {
        "api_keys" => "SELECT CAST(COUNT(*) AS BIGINT) FROM api_keys WHERE livemode = $1 AND revoked_at IS NULL",
        "ledger_entries" => "SELECT CAST(COUNT(*) AS BIGINT) FROM ledger_entries WHERE livemode = $1",
        "events" => "SELECT CAST(COUNT(*) AS BIGINT) FROM events WHERE livemode = $1",
        _ => "SELECT CAST(COUNT(*) AS BIGINT) FROM test_clocks WHERE deleted_at IS NULL AND $1 = 0",
    };
    Ok(sqlx::query(sql).bind(i64::from(livemode)).fetch_one(state.db.reader()).await?.get(0))
}

async fn home_page(state: &AppState, session: StaffSession, livemode: bool) -> Result<String, DbError> {
    let rows = customer_store::list(state.db.reader(), livemode, &Default::default(), None, 10).await?;
    let accounts: Vec<String> = rows.iter().map(|r| format!("customer_credit:{}", r.id)).collect();
    let credit = ledger::balances_of(&state.db, livemode, &accounts).await?;
    let recent = rows
        .into_iter()
        .map(|r| {
            let acct = format!("customer_credit:{}", r.id);
            let cur = r.preferred_currency.clone().unwrap_or_else(|| {
                r.country
                    .as_deref()
                    .map(|c| bursar_domain::geo::currency_for_country(c).code().to_string())
                    .unwrap_or_else(|| "USD".into())
            });
            let credit = credit
                .iter()
                .filter(|b| b.account == acct)
                .map(|b| fmt(-b.balance_minor, &b.currency))
                .collect::<Vec<_>>()
                .join(", ");
            RecentCustomer {
                id: r.id,
                name: r.name.unwrap_or_default(),
                email: r.email.unwrap_or_default(),
                country: r.country.unwrap_or_default(),
                currency: cur,
                credit,
            }
        })
        .collect();
    let mut by_root: BTreeMap<(String, String), (i64, i64)> = BTreeMap::new();
    for b in ledger::balances(&state.db, livemode, None, None, None).await? {
        let root = b.account.split(':').next().unwrap_or("").to_string();
        let e = by_root.entry((root, b.currency)).or_default();
        e.0 += b.balance_minor;
        e.1 += b.posting_count;
    }
    let balances = by_root
        .into_iter()
        .map(|((account, currency), (bal, n))| {
            let kind = account_kind(&account).ok();
            BalanceLine {
                kind: kind.map(|k| format!("{k:?}").to_lowercase()).unwrap_or_default(),
                formatted: fmt(kind.map(|k| natural_balance(k, bal)).unwrap_or(bal), &currency),
                account,
                currency,
                postings: n,
            }
        })
        .collect();
    let page = HomePage {
        chrome: self::customers::chrome(&session, livemode),
        customers: customer_store::count(state.db.reader(), livemode).await?,
        api_keys: count(state, "api_keys", livemode).await?,
        ledger_entries: count(state, "ledger_entries", livemode).await?,
        events: count(state, "events", livemode).await?,
        test_clocks: count(state, "test_clocks", livemode).await?,
        recent,
        balances,
    };
    page.render().map_err(|e| DbError::Other(e.to_string()))
}
