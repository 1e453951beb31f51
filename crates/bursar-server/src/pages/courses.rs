//! Public course pages: the catalog with search and filters (`/courses`),
//! a course with its reviews (`/courses/{id}`), with the meta tags, Open
//! Graph and schema.org `Course` data search engines read, and
//! `/sitemap.xml`. Server-rendered, no script; `?mode=test` shows the test
//! catalog.

use crate::error::ApiError;
use crate::state::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use bursar_core::courses::search::{self, SearchParams};
use bursar_core::courses::{pages as public, rating_text};
use bursar_domain::money::{format_money_in, Currency, Locale};
use serde::Deserialize;
use std::collections::BTreeMap;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/courses", get(listing))
        .route("/courses/{id}", get(course_page))
        .route("/sitemap.xml", get(sitemap))
}

fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(u) = &state.config.public_url {
        return u.trim_end_matches('/').to_string();
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1:8080");
    format!("http://{host}")
}

pub(crate) fn locale_of(headers: &HeaderMap, tag: Option<&str>) -> Locale {
    tag.and_then(|l| Locale::from_tag(l).ok())
        .or_else(|| {
            headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|h| h.to_str().ok())
                .and_then(super::pricing::negotiate_locale)
        })
        .unwrap_or(Locale::EnUs)
}

/// The currency to show prices in: the one asked for, else the visitor's
/// country's (`country_header`), else their language's.
fn wanted_currency(state: &AppState, headers: &HeaderMap, asked: Option<&str>, locale: Locale) -> String {
    asked
        .map(str::to_ascii_uppercase)
        .or_else(|| super::pricing::visitor_currency(state, headers))
        .unwrap_or_else(|| locale.default_currency().code().to_string())
}

/// The price to show: in `currency` when the course has it, else the
/// locale's currency, else its first.
fn price_of(prices: &BTreeMap<String, i64>, wanted: &str, locale: Locale) -> Option<(String, i64)> {
    prices
        .get_key_value(wanted)
        .or_else(|| prices.get_key_value(locale.default_currency().code()))
        .or_else(|| prices.first_key_value())
        .map(|(c, a)| (c.clone(), *a))
}

pub(crate) fn money(minor: i64, currency: &str, locale: Locale) -> String {
    format_money_in(minor, currency, locale).unwrap_or_default()
}

fn stars(sum: i64, count: i64) -> Option<String> {
    rating_text(sum, count).map(|r| format!("{r} ★ ({count})"))
}

#[derive(Deserialize)]
struct ListQuery {
    q: Option<String>,
    topic: Option<String>,
    level: Option<String>,
    currency: Option<String>,
    sort: Option<String>,
    cursor: Option<String>,
    locale: Option<String>,
    mode: Option<String>,
}

struct Card {
    id: String,
    title: String,
    subtitle: String,
    price: String,
    rating: Option<String>,
    level: String,
}

#[derive(Template)]
#[template(path = "courses/list.html")]
struct ListPage {
    lang: String,
    mode_q: &'static str,
    q: String,
    topic: String,
    level: String,
    sort: String,
    error: Option<String>,
    cards: Vec<Card>,
    next: Option<String>,
    canonical: String,
}

/// A page shared caches may keep for a minute, apart per language and,
/// with `country_header`, per country (both choose the currency shown).
fn html(state: &AppState, status: StatusCode, t: impl Template) -> Response {
    let vary = match &state.config.country_header {
        Some(h) => format!("Accept-Language, {h}"),
        None => "Accept-Language".to_string(),
    };
    match t.render() {
        Ok(body) => {
            (status, [(header::CACHE_CONTROL, "public, max-age=60".to_string()), (header::VARY, vary)], Html(body))
                .into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            ApiError::internal().into_response()
        }
    }
}

async fn listing(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<ListQuery>) -> Response {
    let livemode = q.mode.as_deref() != Some("test");
    let locale = locale_of(&headers, q.locale.as_deref());
    let nonempty = |v: &Option<String>| v.clone().filter(|s| !s.trim().is_empty());
    let params = SearchParams {
        q: nonempty(&q.q),
        topic: nonempty(&q.topic),
        level: nonempty(&q.level),
        language: None,
        kind: None,
        currency: None,
        min_price: None,
        max_price: None,
        min_rating: None,
        sort: nonempty(&q.sort),
        limit: Some("24".into()),
        cursor: nonempty(&q.cursor),
        include_total: None,
    };
    let wanted = wanted_currency(&state, &headers, q.currency.as_deref(), locale);
    let result = search::run(&state, &params, livemode).await.map(|(hits, next)| {
        let cards = hits
            .into_iter()
            .map(|c| Card {
                price: price_of(&c.prices, &wanted, locale).map(|(cur, a)| money(a, &cur, locale)).unwrap_or_default(),
                rating: stars(c.rating_sum, c.rating_count),
                id: c.id,
                title: c.title,
                subtitle: c.subtitle,
                level: c.level,
            })
            .collect::<Vec<Card>>();
        (cards, next)
    });
    let mode_q = if livemode { "" } else { "mode=test&" };
    let (status, error, cards, next) = match result {
        Ok((cards, next)) => (StatusCode::OK, None, cards, next),
        Err(e) if e.is_caller_error() => (StatusCode::BAD_REQUEST, Some(e.message), Vec::new(), None),
        Err(e) => return ApiError::from(e).into_response(),
    };
    let keep = |k: &str, v: &Option<String>| v.as_deref().map(|v| format!("{k}={}&", encode(v))).unwrap_or_default();
    let next = next.map(|c| {
        format!(
            "/courses?{mode_q}{}{}{}{}cursor={}",
            keep("q", &q.q),
            keep("topic", &q.topic),
            keep("level", &q.level),
            keep("sort", &q.sort),
            encode(&c)
        )
    });
    html(
        &state,
        status,
        ListPage {
            lang: locale.tag().to_string(),
            mode_q,
            q: q.q.clone().unwrap_or_default(),
            topic: q.topic.clone().unwrap_or_default(),
            level: q.level.clone().unwrap_or_default(),
            sort: q.sort.clone().unwrap_or_default(),
            error,
            cards,
            next,
            canonical: format!("{}/courses", base_url(&state, &headers)),
        },
    )
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[derive(Deserialize)]
struct CourseQuery {
    currency: Option<String>,
    locale: Option<String>,
    mode: Option<String>,
}

struct ReviewView {
    rating: i64,
    title: String,
    body: String,
    reply: Option<String>,
}

#[derive(Template)]
#[template(path = "courses/course.html")]
struct CoursePage {
    lang: String,
    mode_q: &'static str,
    title: String,
    subtitle: String,
    description: String,
    meta_description: String,
    canonical: String,
    instructor: String,
    topics: Vec<String>,
    level: String,
    language: String,
    duration: String,
    price: String,
    /// The course's id and the currency its price shows in, for the cart.
    id: String,
    price_currency: String,
    rating: Option<String>,
    reviews: Vec<ReviewView>,
    json_ld: String,
}

async fn course_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<CourseQuery>,
) -> Response {
    let livemode = q.mode.as_deref() != Some("test");
    let locale = locale_of(&headers, q.locale.as_deref());
    let not_found = || {
        (
            StatusCode::NOT_FOUND,
            [(header::CACHE_CONTROL, "no-store")],
            Html("<!doctype html><title>Not found</title><h1>No such course</h1>"),
        )
            .into_response()
    };
    let result = public::public_course(&state, livemode, &id).await.map(|found| {
        let public::PublicCourse { course: c, instructor, reviews } = found?;
        let wanted = wanted_currency(&state, &headers, q.currency.as_deref(), locale);
        let price = price_of(&c.prices, &wanted, locale);
        let canonical = format!("{}/courses/{}", base_url(&state, &headers), c.id);
        let meta_description: String =
            if c.subtitle.is_empty() { &c.description } else { &c.subtitle }.chars().take(160).collect();
        // schema.org Course, as search engines read it.
        let mut ld = serde_json::json!({
            "@context": "https://schema.org",
            "@type": "Course",
            "name": c.title,
            "description": meta_description,
            "url": canonical,
            "inLanguage": c.language,
            "educationalLevel": c.level,
            "provider": {"@type": "Organization", "name": state.config.seller_name},
        });
        if let Some((cur, amount)) = &price {
            let exp = Currency::from_code(cur).map(|c| c.exponent()).unwrap_or(2);
            ld["offers"] = serde_json::json!({
                "@type": "Offer",
                "price": bursar_domain::money::format_decimal(*amount, exp, Locale::EnUs).replace(',', ""),
                "priceCurrency": cur,
                "category": if *amount == 0 { "Free" } else { "Paid" },
                "availability": "https://schema.org/InStock",
            });
        }
        if c.rating_count > 0 {
            ld["aggregateRating"] = serde_json::json!({
                "@type": "AggregateRating",
                "ratingValue": c.rating,
                "ratingCount": c.rating_count,
                "bestRating": 5,
                "worstRating": 1,
            });
        }
        // Inside <script>: no `</` may close it early.
        let json_ld = ld.to_string().replace("</", "<\\/");
        let page = CoursePage {
            lang: locale.tag().to_string(),
            mode_q: if livemode { "" } else { "mode=test&" },
            rating: stars(c.rating_sum, c.rating_count),
            price_currency: price.as_ref().map(|(cur, _)| cur.clone()).unwrap_or_default(),
            price: price.map(|(cur, a)| money(a, &cur, locale)).unwrap_or_default(),
            id: c.id.clone(),
            duration: format!("{} h {:02} min", c.duration_minutes / 60, c.duration_minutes % 60),
            title: c.title,
            subtitle: c.subtitle,
            description: c.description,
            meta_description,
            canonical,
            instructor,
            topics: c.topics,
            level: c.level,
            language: c.language,
            reviews: reviews
                .into_iter()
                .map(|r| ReviewView { rating: r.rating, title: r.title, body: r.body, reply: r.reply })
                .collect(),
            json_ld,
        };
        Some(html(&state, StatusCode::OK, page))
    });
    match result {
        Ok(Some(r)) => r,
        Ok(None) => not_found(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

#[derive(Deserialize)]
struct SitemapQuery {
    mode: Option<String>,
}

/// The public pages search engines should know: the catalog, the pricing
/// page and every published course (at most 50,000, the format's limit).
async fn sitemap(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<SitemapQuery>) -> Response {
    let livemode = q.mode.as_deref() != Some("test");
    let base = base_url(&state, &headers);
    let rows = match public::published(&state, livemode, 49998).await {
        Ok(r) => r,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let suffix = if livemode { "" } else { "?mode=test" };
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n",
    );
    for path in ["/courses", "/pricing"] {
        xml.push_str(&format!("  <url><loc>{base}{path}{suffix}</loc></url>\n"));
    }
    for (id, updated) in rows {
        let day =
            jiff::Timestamp::from_millisecond(updated).map(|t| t.strftime("%Y-%m-%d").to_string()).unwrap_or_default();
        xml.push_str(&format!("  <url><loc>{base}/courses/{id}{suffix}</loc><lastmod>{day}</lastmod></url>\n"));
    }
    xml.push_str("</urlset>\n");
    ([(header::CONTENT_TYPE, "application/xml; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")], xml)
        .into_response()
}
