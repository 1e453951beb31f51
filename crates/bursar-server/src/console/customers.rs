//! The staff console's working pages: customers (found by id, email or the
//! platform's id), a customer's subscriptions and invoices, an invoice with
//! its refund and void actions, and the audit log of what staff did. Every
//! action form carries the session's CSRF token, runs the same code as the
//! API, and is written to the audit log in the same transaction.

use super::current_session;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Caller, CsrfForm};
use crate::state::AppState;
use askama::Template;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use bursar_core::auth::StaffSession;
use bursar_core::customers::account::{self, InvoiceRow};
use bursar_core::customers::CustomerRow;
use bursar_core::subscriptions::invoices::{self as invoices, InvoiceRefund};
use bursar_core::Actor;
use bursar_domain::money::{format_money_in, Currency, Locale, Money};
use serde::de::DeserializeOwned;
use serde::Deserialize;

pub(crate) const PAGE: i64 = 50;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/staff/customers", get(customer_list))
        .route("/staff/customers/{id}", get(customer_page))
        .route("/staff/invoices/{id}", get(invoice_page))
        .route("/staff/invoices/{id}/refund", post(refund))
        .route("/staff/invoices/{id}/void", post(void))
        .route("/staff/audit", get(audit_page))
        .route("/staff/webhooks", get(webhook_list))
        .route("/staff/webhooks/{id}", get(webhook_page))
        .route("/staff/webhook_deliveries/{id}/replay", post(replay))
}

/// What every console page's header shows.
pub struct Chrome {
    pub staff_name: String,
    pub csrf: String,
    pub livemode: bool,
    /// `?mode=live` to keep on links, or empty.
    pub mode_q: &'static str,
}

pub(crate) fn chrome(s: &StaffSession, livemode: bool) -> Chrome {
    Chrome {
        staff_name: s.staff_name.clone(),
        csrf: s.csrf_token.clone(),
        livemode,
        mode_q: if livemode { "mode=live" } else { "mode=test" },
    }
}

pub(crate) fn page(t: impl Template) -> Response {
    match t.render() {
        Ok(body) => (
            [(header::CACHE_CONTROL, "no-store"), (header::HeaderName::from_static("x-frame-options"), "DENY")],
            Html(body),
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// The signed-in staff member, as a handler's argument; without a session,
/// the sign-in page.
pub(crate) struct Staff(pub StaffSession);

impl FromRequestParts<AppState> for Staff {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        match current_session(state, &parts.headers).await {
            Ok(Some(s)) => Ok(Staff(s)),
            Ok(None) => Err(Redirect::to("/staff/login").into_response()),
            Err(e) => Err(ApiError::from(e).into_response()),
        }
    }
}

/// A console form that acts: the signed-in staff member and their form,
/// refused (403) unless it carries their session's CSRF token.
pub(crate) struct StaffForm<T>(pub StaffSession, pub T);

impl<T: DeserializeOwned + CsrfForm + Send> FromRequest<AppState> for StaffForm<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let Staff(s) = Staff::from_request_parts(&mut parts, state).await?;
        let Form(f) = Form::<T>::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(IntoResponse::into_response)?;
        if !csrf_ok(&s, f.csrf()) {
            return Err((StatusCode::FORBIDDEN, "invalid CSRF token").into_response());
        }
        Ok(StaffForm(s, f))
    }
}

pub(crate) fn money(minor: i64, currency: &str) -> String {
    format_money_in(minor, currency, Locale::EnUs).unwrap_or_else(|| format!("{minor} {currency}"))
}

pub(crate) fn when(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map(|t| t.strftime("%Y-%m-%d %H:%M").to_string()).unwrap_or_default()
}

/// After an action: on to `done`, or, for a refusal, the page again (400)
/// with the reason.
pub(crate) async fn after_action<F, Fut>(result: ApiResult<()>, done: String, again: F) -> Response
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = ApiResult<Response>>,
{
    match result {
        Ok(()) => Redirect::to(&done).into_response(),
        Err(e) if e.status.is_client_error() => again(e.body.message)
            .await
            .map(|r| (StatusCode::BAD_REQUEST, r).into_response())
            .unwrap_or_else(|e| e.into_response()),
        Err(e) => e.into_response(),
    }
}

pub(crate) fn mode_of(livemode: bool) -> &'static str {
    if livemode {
        "live"
    } else {
        "test"
    }
}

/// Staff act through the API's code as a caller of their own.
pub(crate) fn staff_caller(s: &StaffSession, livemode: bool) -> Caller {
    Caller { key_id: format!("staff:{}", s.staff_id), livemode }
}

#[derive(Deserialize)]
pub(crate) struct ModeQuery {
    pub mode: Option<String>,
    pub q: Option<String>,
    pub after: Option<String>,
    pub done: Option<String>,
}

impl ModeQuery {
    pub(crate) fn livemode(&self) -> bool {
        self.mode.as_deref() == Some("live")
    }
}

struct CustomerLine {
    id: String,
    name: String,
    email: String,
    country: String,
    created: String,
}

#[derive(Template)]
#[template(path = "staff/customers.html")]
struct CustomersPage {
    chrome: Chrome,
    q: String,
    rows: Vec<CustomerLine>,
    next: Option<String>,
}

/// Customers, newest first, 50 a page; `q` finds one by id, email or the
/// platform's id (each an indexed lookup, however many customers there are).
async fn customer_list(State(state): State<AppState>, Staff(s): Staff, Query(q): Query<ModeQuery>) -> Response {
    let livemode = q.livemode();
    let search = q.q.clone().unwrap_or_default().trim().to_string();
    let result: ApiResult<Vec<CustomerRow>> =
        account::find(&state, livemode, &search, q.after.as_deref(), PAGE + 1).await.map_err(ApiError::from);
    let mut rows = match result {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let next = (rows.len() as i64 > PAGE).then(|| rows[PAGE as usize - 1].id.clone());
    rows.truncate(PAGE as usize);
    page(CustomersPage {
        chrome: chrome(&s, livemode),
        q: search,
        rows: rows
            .into_iter()
            .map(|c| CustomerLine {
                id: c.id,
                name: c.name.unwrap_or_default(),
                email: c.email.unwrap_or_default(),
                country: c.country.unwrap_or_default(),
                created: when(c.created_at),
            })
            .collect(),
        next,
    })
}

struct SubLine {
    id: String,
    plan: String,
    status: String,
    period_end: String,
}

/// An invoice as the console's tables list it (`staff/invoices_table.html`).
pub(crate) struct InvoiceLine {
    pub id: String,
    pub number: String,
    pub date: String,
    pub total: String,
    pub status: String,
}

impl From<InvoiceRow> for InvoiceLine {
    fn from(i: InvoiceRow) -> Self {
        InvoiceLine {
            number: i.number.clone().unwrap_or_else(|| "draft".into()),
            date: when(i.finalized_at.unwrap_or(i.created_at)),
            total: money(i.total, &i.currency),
            status: i.status,
            id: i.id,
        }
    }
}

#[derive(Template)]
#[template(path = "staff/customer.html")]
struct CustomerPage {
    chrome: Chrome,
    id: String,
    name: String,
    email: String,
    country: String,
    external_id: String,
    subs: Vec<SubLine>,
    invoices: Vec<InvoiceLine>,
}

async fn customer_page(
    State(state): State<AppState>,
    Staff(s): Staff,
    Path(id): Path<String>,
    Query(q): Query<ModeQuery>,
) -> Response {
    let livemode = q.livemode();
    let result: ApiResult<Response> = async {
        let a = account::account(&state, livemode, &id).await?;
        let c = a.customer;
        let subs = a
            .subscriptions
            .into_iter()
            .map(|(x, plan)| SubLine { plan, status: x.status, period_end: when(x.current_period_end), id: x.id })
            .collect();
        let invoices = a.invoices.into_iter().map(InvoiceLine::from).collect();
        Ok(page(CustomerPage {
            chrome: chrome(&s, livemode),
            id: c.id,
            name: c.name.unwrap_or_default(),
            email: c.email.unwrap_or_default(),
            country: c.country.unwrap_or_default(),
            external_id: c.external_id.unwrap_or_default(),
            subs,
            invoices,
        }))
    }
    .await;
    result.unwrap_or_else(|e| e.into_response())
}

#[derive(Template)]
#[template(path = "staff/invoice.html")]
struct InvoicePage {
    chrome: Chrome,
    notice: Option<String>,
    error: Option<String>,
    id: String,
    number: String,
    customer: String,
    status: String,
    currency: String,
    lines: Vec<(String, String, String)>,
    subtotal: String,
    tax: String,
    total: String,
    paid: String,
    credited: String,
    left: String,
    notes: Vec<(String, String, String, String, String)>,
    can_refund: bool,
    can_void: bool,
}

async fn render_invoice(
    state: &AppState,
    s: &StaffSession,
    livemode: bool,
    id: &str,
    notice: Option<String>,
    error: Option<String>,
) -> ApiResult<Response> {
    let view = account::invoice(state, livemode, id).await?;
    let (inv, lines, notes) = (view.invoice, view.lines, view.credit_notes);
    let credited: i64 = notes.iter().map(|n| n.credited()).sum();
    let m = |v: i64| money(v, &inv.currency);
    Ok(page(InvoicePage {
        chrome: chrome(s, livemode),
        notice,
        error,
        id: inv.id.clone(),
        number: inv.number.clone().unwrap_or_else(|| "draft".into()),
        customer: inv.customer_id.clone(),
        status: inv.status.clone(),
        currency: inv.currency.clone(),
        lines: lines.iter().map(|l| (l.kind.clone(), l.description.clone(), m(l.amount))).collect(),
        subtotal: m(inv.subtotal),
        tax: m(inv.tax),
        total: m(inv.total),
        paid: m(inv.amount_paid),
        credited: m(credited),
        left: m(inv.total - credited),
        notes: notes
            .iter()
            .map(|n| (n.number.clone(), when(n.created_at), m(n.total), n.refund_to.clone(), n.status.clone()))
            .collect(),
        can_refund: inv.status == "paid" && inv.total - credited > 0,
        can_void: matches!(inv.status.as_str(), "open" | "uncollectible"),
    }))
}

async fn invoice_page(
    State(state): State<AppState>,
    Staff(s): Staff,
    Path(id): Path<String>,
    Query(q): Query<ModeQuery>,
) -> Response {
    let notice = match q.done.as_deref() {
        Some("refunded") => Some("Refunded: the credit note is below.".to_string()),
        Some("voided") => Some("The invoice is void.".to_string()),
        _ => None,
    };
    render_invoice(&state, &s, q.livemode(), &id, notice, None).await.unwrap_or_else(|e| e.into_response())
}

#[derive(Deserialize)]
struct RefundForm {
    csrf: String,
    mode: Option<String>,
    /// Decimal, in the invoice's currency; empty: all that is left.
    amount: Option<String>,
    refund_to: Option<String>,
    reason: Option<String>,
}

pub(crate) fn csrf_ok(s: &StaffSession, given: &str) -> bool {
    bursar_core::auth::csrf_ok(s, given)
}

/// The staff member as the service layer's actor, in a mode.
pub(crate) fn staff_actor(s: &StaffSession, livemode: bool) -> Actor {
    Actor::staff(livemode, &s.staff_id)
}

async fn refund(
    State(state): State<AppState>,
    Path(id): Path<String>,
    StaffForm(s, f): StaffForm<RefundForm>,
) -> Response {
    let livemode = f.mode.as_deref() == Some("live");
    let result: ApiResult<()> = async {
        let inv = account::invoice(&state, livemode, &id).await?.invoice;
        let amount = match f.amount.as_deref().map(str::trim).filter(|a| !a.is_empty()) {
            Some(a) => {
                let c = Currency::from_code(&inv.currency).map_err(|_| ApiError::internal())?;
                let m = Money::parse(a, c).map_err(|_| {
                    ApiError::invalid("amount", format!("the amount is a number in {}, like 12.50", inv.currency))
                })?;
                Some(m.amount_minor)
            }
            None => None,
        };
        let body = InvoiceRefund {
            amount,
            refund_to: f.refund_to.clone(),
            reason: f.reason.clone().filter(|r| !r.trim().is_empty()),
        };
        let caller = staff_caller(&s, livemode);
        let actor = bursar_core::Actor::api_key(caller.livemode, &caller.key_id);
        invoices::refund_audited(&state, &actor, &staff_actor(&s, livemode), &id, &body).await?;
        Ok(())
    }
    .await;
    let mode = mode_of(livemode);
    let done = format!("/staff/invoices/{id}?mode={mode}&done=refunded");
    after_action(result, done, |msg| render_invoice(&state, &s, livemode, &id, None, Some(msg))).await
}

/// A form that only acts: its CSRF token and mode.
#[derive(Deserialize)]
pub(crate) struct ActionForm {
    pub csrf: String,
    pub mode: Option<String>,
}

impl CsrfForm for ActionForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

impl CsrfForm for RefundForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

impl ActionForm {
    pub(crate) fn livemode(&self) -> bool {
        self.mode.as_deref() == Some("live")
    }
}

async fn void(
    State(state): State<AppState>,
    Path(id): Path<String>,
    StaffForm(s, f): StaffForm<ActionForm>,
) -> Response {
    let livemode = f.mode.as_deref() == Some("live");
    let result: ApiResult<()> =
        account::void_invoice(&state, &staff_actor(&s, livemode), &id).await.map_err(ApiError::from);
    let mode = mode_of(livemode);
    let done = format!("/staff/invoices/{id}?mode={mode}&done=voided");
    after_action(result, done, |msg| render_invoice(&state, &s, livemode, &id, None, Some(msg))).await
}

struct AuditLine {
    at: String,
    actor: String,
    action: String,
    object: String,
    details: String,
}

#[derive(Template)]
#[template(path = "staff/audit.html")]
struct AuditPage {
    chrome: Chrome,
    rows: Vec<AuditLine>,
    next: Option<String>,
}

async fn audit_page(State(state): State<AppState>, Staff(s): Staff, Query(q): Query<ModeQuery>) -> Response {
    let mut rows = match bursar_core::events::audit_log(&state, q.after.as_deref(), PAGE + 1).await {
        Ok(r) => r,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let next = (rows.len() as i64 > PAGE).then(|| rows[PAGE as usize - 1].id.clone());
    rows.truncate(PAGE as usize);
    page(AuditPage {
        chrome: chrome(&s, q.livemode()),
        rows: rows
            .into_iter()
            .map(|a| AuditLine {
                at: when(a.created_at),
                actor: format!("{} {}", a.actor_type, a.actor_id),
                action: a.action,
                object: a.object_id.unwrap_or_default(),
                details: a.details,
            })
            .collect(),
        next,
    })
}

struct EndpointLine {
    id: String,
    url: String,
    status: String,
    events: String,
}

#[derive(Template)]
#[template(path = "staff/webhooks.html")]
struct WebhooksPage {
    chrome: Chrome,
    rows: Vec<EndpointLine>,
}

async fn webhook_list(State(state): State<AppState>, Staff(s): Staff, Query(q): Query<ModeQuery>) -> Response {
    let livemode = q.livemode();
    let rows = match bursar_core::webhook_endpoints::endpoint_rows(&state, livemode).await {
        Ok(r) => r,
        Err(e) => return ApiError::from(e).into_response(),
    };
    page(WebhooksPage {
        chrome: chrome(&s, livemode),
        rows: rows
            .into_iter()
            .map(|e| EndpointLine {
                events: serde_json::from_str::<Vec<String>>(&e.enabled_events).unwrap_or_default().join(", "),
                id: e.id,
                url: e.url,
                status: e.status,
            })
            .collect(),
    })
}

struct DeliveryLine {
    id: String,
    event_type: String,
    event_id: String,
    status: String,
    attempts: i64,
    last: String,
    outcome: String,
}

#[derive(Template)]
#[template(path = "staff/webhook.html")]
struct WebhookPage {
    chrome: Chrome,
    notice: Option<String>,
    id: String,
    url: String,
    status: String,
    filter: String,
    deliveries: Vec<DeliveryLine>,
}

/// An endpoint and its latest 50 deliveries (`?status=` pending, succeeded
/// or failed), each with its last answer and a replay button.
async fn webhook_page(
    State(state): State<AppState>,
    Staff(s): Staff,
    Path(id): Path<String>,
    Query(q): Query<ModeQuery>,
) -> Response {
    let livemode = q.livemode();
    let filter = q.q.clone().filter(|f| ["pending", "succeeded", "failed"].contains(&f.as_str()));
    let result: ApiResult<Response> = async {
        let (ep, rows) =
            bursar_core::webhook_endpoints::endpoint_with_deliveries(&state, livemode, &id, filter.as_deref(), PAGE)
                .await?;
        Ok(page(WebhookPage {
            chrome: chrome(&s, livemode),
            notice: (q.done.as_deref() == Some("replayed")).then(|| "Sent again: its answer is below.".to_string()),
            id: ep.id,
            url: ep.url,
            status: ep.status,
            filter: filter.unwrap_or_default(),
            deliveries: rows
                .into_iter()
                .map(|d| DeliveryLine {
                    last: d.last_attempt_at.map(when).unwrap_or_default(),
                    outcome: match (d.last_status_code, &d.last_error) {
                        (Some(code), _) => format!("HTTP {code}"),
                        (None, Some(e)) => e.chars().take(120).collect(),
                        (None, None) => String::new(),
                    },
                    id: d.id,
                    event_type: d.event_type,
                    event_id: d.event_id,
                    status: d.status,
                    attempts: d.attempts,
                })
                .collect(),
        }))
    }
    .await;
    result.unwrap_or_else(|e| e.into_response())
}

async fn replay(
    State(state): State<AppState>,
    Path(id): Path<String>,
    StaffForm(s, f): StaffForm<ActionForm>,
) -> Response {
    let livemode = f.mode.as_deref() == Some("live");
    let result: ApiResult<String> =
        bursar_core::webhook_endpoints::replay(&state, &staff_actor(&s, livemode), &id).await.map_err(ApiError::from);
    let mode = mode_of(livemode);
    match result {
        Ok(endpoint) => Redirect::to(&format!("/staff/webhooks/{endpoint}?mode={mode}&done=replayed")).into_response(),
        Err(e) => e.into_response(),
    }
}
