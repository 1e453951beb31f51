//! The hosted pricing page (`GET /pricing`): the catalog's plans side by
//! side in the visitor's currency and locale, monthly or yearly, with a
//! comparison of limits and flags, a trial call to action and the
//! platform's testimonials. Server-rendered, no script.
//!
//! The visitor's locale comes from `?locale=` or the browser's
//! `Accept-Language`; the currency from `?currency=`, else the locale's.
//! Copy, call to action and the default interval come from a variant:
//! `?variant=` previews one, else each visitor is assigned one for good by
//! a hash of their visitor cookie, so an experiment can compare them.

use crate::state::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use bursar_core::catalog::{PlanRow, PriceRow};
use bursar_domain::money::{format_integer, format_money, Currency, Locale, Money};
use serde::Deserialize;
use std::collections::BTreeSet;

const VISITOR_COOKIE: &str = "bursar_vid";
/// The modes (`t`, `l`) in which this visitor's exposure is already
/// logged, so that returning visits write nothing.
const SEEN_COOKIE: &str = "bursar_xp";

pub fn router() -> Router<AppState> {
    Router::new().route("/pricing", get(page)).route("/pricing/start", get(start))
}

/// Crawlers and link previews are not visitors: they get a variant but are
/// not counted in the experiment.
fn is_bot(headers: &HeaderMap) -> bool {
    let ua = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
    ua.is_empty() || ["bot", "spider", "crawl", "slurp", "preview", "headless"].iter().any(|w| ua.contains(w))
}

fn visitor_of(headers: &HeaderMap) -> Option<String> {
    crate::web::cookie(headers, VISITOR_COOKIE)
        .filter(|v| v.len() == 24 && v.chars().all(|c| c.is_ascii_alphanumeric()))
        .map(str::to_string)
}

/// What a variant of the page changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Variant {
    pub key: &'static str,
    pub headline: &'static str,
    pub subhead: &'static str,
    /// The call to action on a plan with a trial; `{days}` is replaced.
    pub trial_cta: &'static str,
    pub annual_default: bool,
}

pub const VARIANTS: [Variant; 2] = [
    Variant {
        key: "a",
        headline: "Choose your plan",
        subhead: "Practice more, score higher. Change or cancel any time.",
        trial_cta: "Start {days}-day free trial",
        annual_default: false,
    },
    Variant {
        key: "b",
        headline: "Invest in your score",
        subhead: "Two months free with yearly billing. Change or cancel any time.",
        trial_cta: "Try it free for {days} days",
        annual_default: true,
    },
];

/// The currency of the visitor's country, as the configured
/// `country_header` names it (two letters; a CDN's `XX` / `T1` for unknown
/// or Tor is no country).
pub fn visitor_currency(state: &AppState, headers: &HeaderMap) -> Option<String> {
    let name = state.config.country_header.as_deref()?;
    let c = headers.get(name)?.to_str().ok()?.trim().to_ascii_uppercase();
    if c.len() != 2 || !c.chars().all(|x| x.is_ascii_uppercase()) || c == "XX" {
        return None;
    }
    Some(bursar_domain::geo::currency_for_country(&c).code().to_string())
}

/// The variant a visitor sees: the same one every visit.
pub fn variant_for(visitor: &str) -> Variant {
    let h = crate::middleware::sha256_hex(format!("pricing:{visitor}").as_bytes());
    let n = u64::from_str_radix(&h[..8], 16).unwrap_or(0);
    VARIANTS[(n % VARIANTS.len() as u64) as usize]
}

/// The best supported locale for an `Accept-Language` header.
pub fn negotiate_locale(accept: &str) -> Option<Locale> {
    let mut wanted: Vec<(u16, &str)> = accept
        .split(',')
        .filter_map(|part| {
            let mut it = part.trim().split(';');
            let tag = it.next()?.trim();
            let q = it.find_map(|p| p.trim().strip_prefix("q=")).and_then(|q| q.parse::<f32>().ok()).unwrap_or(1.0);
            (!tag.is_empty() && q > 0.0).then_some(((q * 1000.0) as u16, tag))
        })
        .collect();
    wanted.sort_by_key(|w| std::cmp::Reverse(w.0));
    for (_, tag) in wanted {
        if let Ok(l) = Locale::from_tag(tag) {
            return Some(l);
        }
        // A language alone (`de`) takes its first supported region.
        let lang = tag.split('-').next().unwrap_or(tag).to_ascii_lowercase();
        if let Some(l) = Locale::all().iter().find(|l| l.tag().split('-').next() == Some(lang.as_str())) {
            return Some(*l);
        }
    }
    None
}

#[derive(Debug, Deserialize)]
struct PricingQuery {
    interval: Option<String>,
    currency: Option<String>,
    locale: Option<String>,
    variant: Option<String>,
    /// `test` shows the test-mode catalog.
    mode: Option<String>,
}

struct PlanCard {
    code: String,
    name: String,
    description: String,
    price: String,
    per: String,
    note: String,
    tax_note: String,
    cta_label: String,
    cta_href: String,
    featured: bool,
    features: Vec<String>,
}

struct Row {
    label: String,
    cells: Vec<(String, String)>,
}

struct Link {
    label: String,
    href: String,
    current: bool,
}

struct Testimonial {
    quote: String,
    name: String,
    role: String,
}

#[derive(Template)]
#[template(path = "pricing.html")]
struct PricingPage {
    lang: String,
    variant: &'static str,
    /// A variant asked for by `?variant=`, kept by the page's links and form.
    preview: Option<&'static str>,
    headline: &'static str,
    subhead: &'static str,
    intervals: Vec<Link>,
    interval: String,
    currencies: Vec<(String, bool)>,
    locales: Vec<(String, bool)>,
    cards: Vec<PlanCard>,
    plan_names: Vec<String>,
    rows: Vec<Row>,
    testimonials: Vec<Testimonial>,
    test_mode: bool,
}

fn humanize(key: &str) -> String {
    let s = key.replace('_', " ");
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
}

fn query_string(interval: &str, currency: &str, locale: &str, test: bool, variant: Option<&str>) -> String {
    let mut q = format!("interval={interval}&currency={currency}&locale={locale}");
    if test {
        q.push_str("&mode=test");
    }
    if let Some(v) = variant {
        q.push_str("&variant=");
        q.push_str(v);
    }
    q
}

async fn page(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<PricingQuery>) -> Response {
    match render(&state, &headers, q).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn render(state: &AppState, headers: &HeaderMap, q: PricingQuery) -> crate::error::ApiResult<Response> {
    let test = q.mode.as_deref() == Some("test");
    let livemode = !test;
    // Who is looking: their variant, for good, by their visitor cookie.
    let existing = visitor_of(headers);
    let visitor = existing.clone().unwrap_or_else(|| {
        use rand::distr::{Alphanumeric, SampleString};
        Alphanumeric.sample_string(&mut rand::rng(), 24)
    });
    let preview = q.variant.as_deref().and_then(|k| VARIANTS.iter().find(|v| v.key == k)).copied();
    let variant = preview.unwrap_or_else(|| variant_for(&visitor));
    let locale = q
        .locale
        .as_deref()
        .and_then(|l| Locale::from_tag(l).ok())
        .or_else(|| headers.get(header::ACCEPT_LANGUAGE).and_then(|h| h.to_str().ok()).and_then(negotiate_locale))
        .unwrap_or(Locale::EnUs);
    let interval = match q.interval.as_deref() {
        Some("year") => "year",
        Some("month") => "month",
        _ if variant.annual_default => "year",
        _ => "month",
    };

    let (plans, prices): (Vec<PlanRow>, Vec<PriceRow>) = bursar_core::catalog::offered(state, livemode).await?;
    let offered: BTreeSet<String> = prices.iter().map(|p| p.currency.clone()).collect();
    let currency = q
        .currency
        .as_deref()
        .map(str::to_ascii_uppercase)
        .filter(|c| offered.contains(c))
        .or_else(|| visitor_currency(state, headers).filter(|c| offered.contains(c)))
        .or_else(|| Some(locale.default_currency().code().to_string()).filter(|c| offered.contains(c)))
        .or_else(|| offered.iter().next().cloned())
        .unwrap_or_else(|| "USD".into());
    let cur = Currency::from_code(&currency).map_err(|_| crate::error::ApiError::internal())?;
    let money = |minor: i64| format_money(Money::new(minor, cur), locale);
    let price_of = |plan: &str, iv: &str| {
        prices.iter().find(|p| p.plan_id == plan && p.currency == currency && p.interval == iv).map(|p| p.amount)
    };

    let mut plans: Vec<&PlanRow> = plans.iter().filter(|p| price_of(&p.id, interval).is_some()).collect();
    plans.sort_by_key(|p| (p.rank, p.code.clone()));
    let featured = plans.iter().filter(|p| p.trial_days > 0).map(|p| p.id.clone()).next();
    let signup = state.config.pricing_signup_url.clone();
    let mut cards = Vec::new();
    for p in &plans {
        let amount = price_of(&p.id, interval).unwrap_or(0);
        let inclusive = prices.iter().any(|x| {
            x.plan_id == p.id && x.currency == currency && x.interval == interval && x.tax_behavior == "inclusive"
        });
        let note = match (interval, price_of(&p.id, "month")) {
            ("year", Some(m)) if m > 0 && amount > 0 && amount < 12 * m => {
                let saved = (12 * m - amount) * 100 / (12 * m);
                format!("{} billed yearly · save {saved} %", money(amount))
            }
            ("year", _) if amount > 0 => format!("{} billed yearly", money(amount)),
            _ => String::new(),
        };
        let cta_label = if amount == 0 {
            "Get started".to_string()
        } else if p.trial_days > 0 {
            variant.trial_cta.replace("{days}", &p.trial_days.to_string())
        } else {
            format!("Choose {}", p.name)
        };
        // Through Bursar, which counts the click for the experiment and
        // hands the visitor on to the platform's sign-up.
        let cta_href = match &signup {
            Some(_) => format!(
                "/pricing/start?plan={}&interval={interval}&currency={currency}{}",
                p.code,
                if test { "&mode=test" } else { "" }
            ),
            None => "#".into(),
        };
        let features: Vec<String> = serde_json::from_str(&p.features).unwrap_or_default();
        cards.push(PlanCard {
            code: p.code.clone(),
            name: p.name.clone(),
            description: p.description.clone(),
            price: money(amount),
            per: if interval == "year" { "per year" } else { "per month" }.into(),
            note,
            tax_note: if amount == 0 {
                String::new()
            } else if inclusive {
                "Tax included".into()
            } else {
                "Plus tax where it applies".into()
            },
            cta_label,
            cta_href,
            featured: featured.as_deref() == Some(p.id.as_str()),
            features,
        });
    }

    // The comparison: every limit and flag any plan has, in catalog order.
    let mut rows = Vec::new();
    let parsed: Vec<(serde_json::Value, serde_json::Value)> = plans
        .iter()
        .map(|p| {
            (serde_json::from_str(&p.limits).unwrap_or_default(), serde_json::from_str(&p.flags).unwrap_or_default())
        })
        .collect();
    let mut keys: Vec<(bool, String)> = Vec::new();
    for (limits, flags) in &parsed {
        for (is_flag, obj) in [(false, limits), (true, flags)] {
            if let Some(m) = obj.as_object() {
                for k in m.keys() {
                    if !keys.iter().any(|(f, x)| *f == is_flag && x == k) {
                        keys.push((is_flag, k.clone()));
                    }
                }
            }
        }
    }
    for (is_flag, key) in keys {
        let cells = parsed
            .iter()
            .map(|(limits, flags)| {
                let v = if is_flag { &flags[&key] } else { &limits[&key] };
                match v {
                    serde_json::Value::Bool(true) => ("✓".to_string(), "Included".to_string()),
                    serde_json::Value::Bool(false) | serde_json::Value::Null => ("—".into(), "Not included".into()),
                    serde_json::Value::Number(n) if n.as_i64() == Some(0) => ("—".into(), "Not included".into()),
                    serde_json::Value::Number(n) => {
                        let s = n.as_i64().map_or_else(|| n.to_string(), |i| format_integer(i, locale));
                        (s.clone(), s)
                    }
                    serde_json::Value::String(s) if s == "unlimited" => ("Unlimited".into(), "Unlimited".into()),
                    other => {
                        let s = other.as_str().map_or_else(|| other.to_string(), str::to_string);
                        (s.clone(), s)
                    }
                }
            })
            .collect();
        rows.push(Row { label: humanize(&key), cells });
    }

    let keep_variant = preview.map(|v| v.key);
    let intervals = ["month", "year"]
        .iter()
        .map(|iv| Link {
            label: if *iv == "year" { "Yearly" } else { "Monthly" }.into(),
            href: format!("/pricing?{}", query_string(iv, &currency, locale.tag(), test, keep_variant)),
            current: *iv == interval,
        })
        .collect();
    let page = PricingPage {
        lang: locale.tag().to_string(),
        variant: variant.key,
        preview: keep_variant,
        headline: variant.headline,
        subhead: variant.subhead,
        intervals,
        interval: interval.into(),
        currencies: offered.iter().map(|c| (c.clone(), *c == currency)).collect(),
        locales: Locale::all().iter().map(|l| (l.tag().to_string(), *l == locale)).collect(),
        plan_names: plans.iter().map(|p| p.name.clone()).collect(),
        cards,
        rows,
        testimonials: state
            .config
            .pricing_testimonials
            .iter()
            .map(|t| Testimonial { quote: t.quote.clone(), name: t.name.clone(), role: t.role.clone() })
            .collect(),
        test_mode: test,
    };
    let body = page.render().map_err(|e| {
        tracing::error!(error = %e, "template failed");
        crate::error::ApiError::internal()
    })?;
    let mut resp = Html(body).into_response();
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, header::HeaderValue::from_static("private, no-cache"));
    h.insert(header::VARY, header::HeaderValue::from_static("Accept-Language, Cookie"));
    if existing.is_none() {
        // Lax, not Strict: the visitor arrives from the platform's site.
        let cookie = crate::web::cookie_header(state, VISITOR_COOKIE, &visitor, 31_536_000, "Lax");
        if let Ok(v) = header::HeaderValue::from_str(&cookie) {
            h.append(header::SET_COOKIE, v);
        }
    }
    // The experiment's exposure: the first real view in each mode (not a
    // `?variant=` preview, not a crawler), written once.
    let mode = if livemode { "l" } else { "t" };
    let seen = crate::web::cookie(headers, SEEN_COOKIE).unwrap_or("").to_string();
    if preview.is_none() && !is_bot(headers) && !seen.contains(mode) {
        let key = bursar_core::experiments::PRICING_PAGE.key;
        match bursar_core::experiments::expose(state, livemode, key, &visitor, variant.key).await {
            Ok(_) => {
                let value = format!("{}{mode}", seen.chars().filter(|c| matches!(c, 't' | 'l')).collect::<String>());
                let cookie = crate::web::cookie_header(state, SEEN_COOKIE, &value, 31_536_000, "Lax");
                if let Ok(v) = header::HeaderValue::from_str(&cookie) {
                    resp.headers_mut().append(header::SET_COOKIE, v);
                }
            }
            Err(e) => tracing::warn!(error = %e, "pricing exposure not logged"),
        }
    }
    Ok(resp)
}

#[derive(Debug, Deserialize)]
struct StartQuery {
    plan: String,
    interval: String,
    currency: String,
    mode: Option<String>,
}

/// A plan's button: counts the click (`cta_click`) for an exposed visitor,
/// then sends them to the platform's sign-up with the plan, interval,
/// currency and their visitor id (for the platform to report later goals).
async fn start(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<StartQuery>) -> Response {
    let Some(signup) = state.config.pricing_signup_url.clone() else {
        return crate::error::ApiError::not_found("url", "page", "/pricing/start").into_response();
    };
    let plan_ok = bursar_domain::catalog::valid_code(&q.plan);
    let currency = Currency::from_code(&q.currency).ok();
    let (Some(currency), true, "month" | "year") = (currency, plan_ok, q.interval.as_str()) else {
        return axum::response::Redirect::to("/pricing").into_response();
    };
    let livemode = q.mode.as_deref() != Some("test");
    let visitor = visitor_of(&headers);
    if let Some(v) = &visitor {
        let key = bursar_core::experiments::PRICING_PAGE.key;
        let goal = bursar_core::experiments::CTA_CLICK;
        if let Err(e) = bursar_core::experiments::convert(&state, livemode, key, v, goal).await {
            tracing::warn!(error = %e, "pricing click not logged");
        }
    }
    let sep = if signup.contains('?') { '&' } else { '?' };
    let mut to = format!("{signup}{sep}plan={}&interval={}&currency={}", q.plan, q.interval, currency.code());
    if let Some(v) = visitor {
        to.push_str(&format!("&visitor={v}"));
    }
    ([(header::CACHE_CONTROL, "no-store")], axum::response::Redirect::to(&to)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_best_supported_locale() {
        assert_eq!(negotiate_locale("de-DE,de;q=0.9,en;q=0.8"), Some(Locale::DeDe));
        assert_eq!(negotiate_locale("nl-NL, fr;q=0.7"), Some(Locale::FrFr));
        assert_eq!(negotiate_locale("en-GB;q=0.5, pt-BR"), Some(Locale::PtBr));
        assert_eq!(negotiate_locale("ja-JP"), None);
        assert_eq!(negotiate_locale(""), None);
    }

    #[test]
    fn a_visitor_keeps_their_variant_and_both_are_used() {
        assert_eq!(variant_for("visitor-1"), variant_for("visitor-1"));
        let seen: BTreeSet<&str> = (0..50).map(|i| variant_for(&format!("v{i}")).key).collect();
        assert_eq!(seen.len(), VARIANTS.len());
    }
}
