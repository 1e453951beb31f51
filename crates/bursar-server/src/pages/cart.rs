//! The course pages' cart (`/cart`): courses a visitor picks while browsing,
//! kept in a cookie (mode, currency, ids; nothing stored for anonymous
//! visitors). Prices are read again on every view, never taken from the
//! cookie. At checkout, a learner signed in through a portal session gets a
//! real cart and Bursar's hosted checkout; anyone else goes to the platform's
//! `courses_checkout_url` with the cart in the query, for the platform to
//! sign them in and open the checkout by API.
//!
//! The forms are protected by the browser's own request headers: a POST
//! another site makes (`Sec-Fetch-Site: cross-site`, or an `Origin` that is
//! not this host) is refused, so the public course pages stay cacheable
//! without per-visitor tokens.

use super::courses::{locale_of, money};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use bursar_core::marketplace::cart_preview::{self, Offer};
use bursar_core::marketplace::carts::{self, CartCreate};
use bursar_core::purchases::cart_checkout::{self, CartCheckout};
use bursar_core::sessions::public_base;
use bursar_core::{Actor, Reply};
use bursar_domain::id::{is_valid, IdKind};
use bursar_domain::money::{Currency, Locale};
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/cart", get(cart_page))
        .route("/cart/items", post(add))
        .route("/cart/items/{id}/remove", post(remove))
        .route("/cart/checkout", post(checkout))
}

const COOKIE: &str = "bursar_cart";
/// The most courses a cart holds.
pub const MAX_ITEMS: usize = 50;

/// The cart as the cookie keeps it: `t.EUR.crs_a~crs_b` (`t` test, `l` live).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieCart {
    pub livemode: bool,
    pub currency: String,
    pub items: Vec<String>,
}

impl CookieCart {
    /// The cart in a cookie's value; anything malformed is no cart.
    pub fn parse(v: &str) -> Option<CookieCart> {
        let mut parts = v.splitn(3, '.');
        let livemode = match parts.next()? {
            "t" => false,
            "l" => true,
            _ => return None,
        };
        let currency = Currency::from_code(parts.next()?).ok()?.code().to_string();
        let mut items: Vec<String> = Vec::new();
        for id in parts.next()?.split('~').filter(|s| !s.is_empty()) {
            if !(is_valid(IdKind::Course, id) || is_valid(IdKind::Bundle, id)) || items.len() >= MAX_ITEMS {
                return None;
            }
            if !items.iter().any(|i| i == id) {
                items.push(id.to_string());
            }
        }
        Some(CookieCart { livemode, currency, items })
    }

    pub fn value(&self) -> String {
        format!("{}.{}.{}", if self.livemode { "l" } else { "t" }, self.currency, self.items.join("~"))
    }
}

fn cart_of(headers: &HeaderMap) -> Option<CookieCart> {
    crate::web::cookie(headers, COOKIE).and_then(CookieCart::parse)
}

fn set_cart(state: &AppState, cart: &CookieCart) -> (header::HeaderName, String) {
    // Lax: it comes along when the visitor follows a link from elsewhere.
    (header::SET_COOKIE, crate::web::cookie_header(state, COOKIE, &cart.value(), 30 * 86_400, "Lax"))
}

/// Whether a form post comes from this site's own pages.
fn same_site(headers: &HeaderMap) -> bool {
    let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    if let Some(site) = h("sec-fetch-site") {
        return matches!(site, "same-origin" | "none");
    }
    match (h("origin"), h("host")) {
        (Some(origin), Some(host)) => {
            origin.strip_prefix("https://").or_else(|| origin.strip_prefix("http://")) == Some(host)
        }
        // Neither header: not a browser's cross-site form.
        (None, _) => true,
        (Some(_), None) => false,
    }
}

fn refused() -> Response {
    (
        StatusCode::FORBIDDEN,
        [(header::CACHE_CONTROL, "no-store")],
        Html("<!doctype html><title>Refused</title><p>This form must be sent from this site's own pages."),
    )
        .into_response()
}

fn to_cart(notice: &str) -> Response {
    Redirect::to(&format!("/cart?notice={notice}")).into_response()
}

#[derive(Deserialize)]
struct AddForm {
    course: String,
    /// The currency the page showed the price in.
    currency: String,
    /// `test` for the test catalog.
    #[serde(default)]
    mode: String,
}

/// Puts a course in the cart. The first course sets the cart's currency
/// (the one its page showed); later ones must be sold in it.
async fn add(State(state): State<AppState>, headers: HeaderMap, Form(f): Form<AddForm>) -> Response {
    if !same_site(&headers) {
        return refused();
    }
    let livemode = f.mode != "test";
    if !(is_valid(IdKind::Course, &f.course) || is_valid(IdKind::Bundle, &f.course)) {
        return to_cart("unavailable");
    }
    let mut cart = cart_of(&headers)
        .filter(|c| c.livemode == livemode && !c.items.is_empty())
        .unwrap_or_else(|| CookieCart { livemode, currency: f.currency.to_uppercase(), items: Vec::new() });
    match cart_preview::offer(&state, livemode, &f.course, &cart.currency).await {
        Ok(Offer::OnSale) => {}
        Ok(Offer::Unavailable) => return to_cart("unavailable"),
        Ok(Offer::OtherCurrency) => return to_cart("currency"),
        Err(e) => return ApiError::from(e).into_response(),
    }
    if cart.items.contains(&f.course) {
        return ([set_cart(&state, &cart)], to_cart("already")).into_response();
    }
    if cart.items.len() >= MAX_ITEMS {
        return to_cart("full");
    }
    cart.items.push(f.course);
    ([set_cart(&state, &cart)], to_cart("added")).into_response()
}

async fn remove(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if !same_site(&headers) {
        return refused();
    }
    let Some(mut cart) = cart_of(&headers) else { return to_cart("removed") };
    cart.items.retain(|i| *i != id);
    ([set_cart(&state, &cart)], to_cart("removed")).into_response()
}

struct Line {
    id: String,
    title: String,
    instructor: String,
    price: String,
    /// Why it cannot be bought now, if so.
    unavailable: Option<String>,
}

#[derive(Template)]
#[template(path = "courses/cart.html")]
struct CartPage {
    lang: String,
    mode_q: &'static str,
    notice: Option<String>,
    error: Option<String>,
    lines: Vec<Line>,
    total: String,
    buyable: usize,
    /// The signed-in learner's email, when checkout buys for them.
    buyer: Option<String>,
}

/// What the cart holds now: each line's current price in the cart's
/// currency, those that cannot be bought marked, and what the signed-in
/// learner already owns taken out.
struct Priced {
    lines: Vec<Line>,
    buyable: Vec<String>,
    total: i64,
    owned: Vec<String>,
}

async fn price_cart(state: &AppState, cart: &CookieCart, customer: Option<&str>, locale: Locale) -> ApiResult<Priced> {
    let p = cart_preview::preview(state, cart.livemode, &cart.currency, &cart.items, customer).await?;
    let lines = p
        .lines
        .into_iter()
        .map(|l| Line {
            id: l.id,
            title: l.title,
            instructor: l.instructor,
            price: l.amount.map(|a| money(a, &cart.currency, locale)).unwrap_or_default(),
            unavailable: l.unavailable,
        })
        .collect();
    Ok(Priced { lines, buyable: p.buyable, total: p.total, owned: p.owned })
}

#[derive(Deserialize)]
struct CartQuery {
    notice: Option<String>,
}

async fn cart_page(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<CartQuery>) -> Response {
    let notice = match q.notice.as_deref() {
        Some("added") => Some("Added to your cart.".to_string()),
        Some("already") => Some("That course is already in your cart.".to_string()),
        Some("removed") => Some("Removed from your cart.".to_string()),
        _ => None,
    };
    let error = match q.notice.as_deref() {
        Some("unavailable") => Some("That course is not on sale.".to_string()),
        Some("currency") => Some("That course is not sold in your cart's currency.".to_string()),
        Some("full") => Some(format!("A cart holds at most {MAX_ITEMS} courses.")),
        Some("empty") => Some("Your cart has nothing to buy.".to_string()),
        _ => None,
    };
    render(&state, &headers, notice, error, StatusCode::OK).await.unwrap_or_else(|e| e.into_response())
}

async fn render(
    state: &AppState,
    headers: &HeaderMap,
    notice: Option<String>,
    error: Option<String>,
    status: StatusCode,
) -> ApiResult<Response> {
    let locale = locale_of(headers, None);
    let cart = cart_of(headers);
    let learner = match &cart {
        Some(c) => super::portal::signed_in(state, headers).await?.filter(|s| s.livemode == c.livemode),
        None => None,
    };
    let (priced, currency) = match &cart {
        Some(c) => (
            Some(price_cart(state, c, learner.as_ref().map(|s| s.customer_id.as_str()), locale).await?),
            c.currency.clone(),
        ),
        None => (None, "USD".to_string()),
    };
    let buyer = match &learner {
        Some(s) => Some(
            cart_preview::buyer_label(state, s.livemode, &s.customer_id)
                .await?
                .unwrap_or_else(|| "your account".into()),
        ),
        None => None,
    };
    let mut cookie = None;
    let mut notice = notice;
    if let (Some(c), Some(p)) = (&cart, &priced) {
        if !p.owned.is_empty() {
            // Bought since: out of the cart.
            let mut kept = c.clone();
            kept.items.retain(|i| p.lines.iter().any(|l| l.id == *i));
            cookie = Some(set_cart(state, &kept));
            notice = Some(format!("Already yours, so taken out of the cart: {}.", p.owned.join(", ")));
        }
    }
    let page = CartPage {
        lang: locale.tag().to_string(),
        mode_q: if cart.as_ref().is_some_and(|c| !c.livemode) { "?mode=test" } else { "" },
        notice,
        error,
        total: money(priced.as_ref().map_or(0, |p| p.total), &currency, locale),
        buyable: priced.as_ref().map_or(0, |p| p.buyable.len()),
        lines: priced.map(|p| p.lines).unwrap_or_default(),
        buyer,
    };
    let body = page.render().map_err(|e| {
        tracing::error!(error = %e, "template failed");
        ApiError::internal()
    })?;
    let mut resp = (status, [(header::CACHE_CONTROL, "no-store")], Html(body)).into_response();
    if let Some((name, value)) = cookie {
        if let Ok(v) = value.parse() {
            resp.headers_mut().insert(name, v);
        }
    }
    Ok(resp)
}

/// Buys what the cart holds: for a signed-in learner, a cart by the API's
/// own code and Bursar's checkout; for anyone else, the platform's
/// `courses_checkout_url`.
async fn checkout(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if !same_site(&headers) {
        return refused();
    }
    let Some(cart) = cart_of(&headers) else { return to_cart("empty") };
    let result: ApiResult<Response> = async {
        let learner = super::portal::signed_in(&state, &headers).await?.filter(|s| s.livemode == cart.livemode);
        let locale = locale_of(&headers, None);
        let priced = price_cart(&state, &cart, learner.as_ref().map(|s| s.customer_id.as_str()), locale).await?;
        if priced.buyable.is_empty() {
            return Ok(to_cart("empty"));
        }
        let Some(learner) = learner else {
            return match &state.config.courses_checkout_url {
                Some(url) => {
                    let sep = if url.contains('?') { '&' } else { '?' };
                    let mode = if cart.livemode { "" } else { "&mode=test" };
                    let to = format!("{url}{sep}courses={}&currency={}{mode}", priced.buyable.join(","), cart.currency);
                    Ok(Redirect::to(&to).into_response())
                }
                None => Ok(render(
                    &state,
                    &headers,
                    None,
                    Some("To buy, sign in from your account on the platform, then come back to this cart.".into()),
                    StatusCode::UNAUTHORIZED,
                )
                .await?),
            };
        };
        let actor = Actor::api_key(cart.livemode, "cart");
        let made = carts::create(
            &state,
            &actor,
            CartCreate {
                customer: learner.customer_id.clone(),
                currency: Some(cart.currency.clone()),
                items: Some(priced.buyable.clone()),
                subscription: None,
                coupon: None,
                affiliate_click: None,
            },
            &Reply::none(),
        )
        .await?;
        let back = format!("{}/cart", public_base(&state));
        let checkout = CartCheckout { success_url: None, cancel_url: Some(back) };
        let session = cart_checkout::checkout(&state, &actor, &made.id, checkout, &Reply::none()).await?;
        Ok(Redirect::to(&format!("/checkout/{}", session.id)).into_response())
    }
    .await;
    match result {
        Ok(r) => r,
        Err(e) if e.status.is_client_error() => {
            render(&state, &headers, None, Some(e.body.message), StatusCode::BAD_REQUEST)
                .await
                .unwrap_or_else(|e| e.into_response())
        }
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_keeps_mode_currency_and_ids_and_refuses_anything_else() {
        let c = CookieCart { livemode: false, currency: "EUR".into(), items: vec![] };
        assert_eq!(CookieCart::parse(&c.value()), Some(c));
        assert_eq!(CookieCart::parse("x.EUR."), None);
        assert_eq!(CookieCart::parse("t.EURO."), None);
        assert_eq!(CookieCart::parse("t.EUR.<script>"), None);
        let ids: Vec<String> = (0..=MAX_ITEMS).map(|_| bursar_domain::id::new_id(IdKind::Course)).collect();
        let two = CookieCart::parse(&format!("l.usd.{}~{}~{}", ids[0], ids[1], ids[0])).unwrap();
        assert_eq!((two.livemode, two.currency.as_str(), two.items.len()), (true, "USD", 2), "duplicates kept once");
        assert!(CookieCart::parse(&format!("t.EUR.{}", ids[..MAX_ITEMS].join("~"))).is_some());
        assert_eq!(CookieCart::parse(&format!("t.EUR.{}", ids.join("~"))), None, "more than a cart holds");
    }

    #[test]
    fn forms_from_other_sites_are_refused() {
        let h = |pairs: &[(&'static str, &'static str)]| {
            let mut m = HeaderMap::new();
            for (k, v) in pairs {
                m.insert(*k, v.parse().unwrap());
            }
            m
        };
        assert!(same_site(&h(&[("sec-fetch-site", "same-origin")])));
        assert!(!same_site(&h(&[
            ("sec-fetch-site", "cross-site"),
            ("origin", "https://a.example"),
            ("host", "a.example")
        ])));
        assert!(!same_site(&h(&[("sec-fetch-site", "same-site")])));
        assert!(same_site(&h(&[("origin", "https://learn.example"), ("host", "learn.example")])));
        assert!(!same_site(&h(&[("origin", "https://evil.example"), ("host", "learn.example")])));
        assert!(same_site(&h(&[("host", "learn.example")])));
    }
}
