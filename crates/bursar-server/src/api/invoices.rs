//! Hand-written invoices over HTTP: drafts, their lines, finalization,
//! voiding and deletion. (Listing, reading, paying and refunding any
//! invoice live beside subscriptions.)

use super::commit_json;
use super::subscriptions::{invoice_out, Invoice};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, Caller};
use crate::middleware::Idem;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bursar_core::documents;
use bursar_core::invoicing::{self, DraftInput, NewLine};
use bursar_domain::catalog::TaxBehavior;
use bursar_domain::id::{is_valid, IdKind};
use bursar_domain::money::Currency;
use bursar_store::billing as store;
use bursar_store::customers;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_invoice))
        .routes(routes!(delete_invoice))
        .routes(routes!(add_invoice_line))
        .routes(routes!(remove_invoice_line))
        .routes(routes!(finalize_invoice))
        .routes(routes!(void_invoice))
        .routes(routes!(invoice_pdf))
        .routes(routes!(receipt_pdf))
        .routes(routes!(credit_note_pdf))
}

fn pdf_response(bytes: Vec<u8>, name: &str) -> Response {
    use axum::http::header;
    (
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (header::CONTENT_DISPOSITION, format!("inline; filename=\"{name}.pdf\"")),
            (header::CACHE_CONTROL, "private, max-age=300".to_string()),
        ],
        bytes,
    )
        .into_response()
}

pub(crate) async fn pdf_of(state: &AppState, caller: &Caller, id: &str, receipt: bool) -> ApiResult<Response> {
    check_id(id)?;
    let reader = state.db.reader();
    let inv =
        store::invoice(reader, caller.livemode, id).await?.ok_or_else(|| ApiError::not_found("id", "invoice", id))?;
    if receipt && inv.status != "paid" {
        return Err(ApiError::conflict(
            "invoice_not_paid",
            format!("invoice {id} is {}; receipts exist for paid invoices", inv.status),
        ));
    }
    let lines = store::lines_of(reader, id).await?;
    let notes = store::credit_notes_of(reader, caller.livemode, id).await?;
    let customer = customers::get(reader, caller.livemode, &inv.customer_id).await?;
    let locale = customer.and_then(|c| c.locale);
    let ctx = documents::Context { config: &state.config, locale: locale.as_deref() };
    // Every credit note and every voiding of one changes the rendering.
    let changes = notes.len() + notes.iter().filter(|n| n.status == "void").count();
    let key = documents::invoice_key(&inv, changes, receipt);
    let bytes = documents::rendered(&state.storage, key.as_deref(), || {
        documents::invoice_document(&ctx, &inv, &lines, &notes, receipt)
    })
    .await?;
    let name = inv.number.clone().unwrap_or_else(|| inv.id.clone());
    Ok(pdf_response(bytes, &if receipt { format!("receipt-{name}") } else { name }))
}

#[utoipa::path(get, path = "/v1/invoices/{id}/pdf", tag = "invoices",
    params(("id" = String, Path, description = "Invoice id")),
    responses((status = 200, description = "The invoice as a PDF", content_type = "application/pdf", body = Vec<u8>),
              (status = 404, body = crate::error::ErrorEnvelope), (status = 503, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn invoice_pdf(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Response> {
    pdf_of(&state, &caller, &id, false).await
}

#[utoipa::path(get, path = "/v1/invoices/{id}/receipt", tag = "invoices",
    params(("id" = String, Path, description = "Invoice id")),
    responses((status = 200, description = "The receipt of a paid invoice as a PDF", content_type = "application/pdf", body = Vec<u8>),
              (status = 404, body = crate::error::ErrorEnvelope), (status = 409, body = crate::error::ErrorEnvelope),
              (status = 503, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn receipt_pdf(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Response> {
    pdf_of(&state, &caller, &id, true).await
}

#[utoipa::path(get, path = "/v1/credit_notes/{id}/pdf", tag = "invoices",
    params(("id" = String, Path, description = "Credit note id")),
    responses((status = 200, description = "The credit note as a PDF", content_type = "application/pdf", body = Vec<u8>),
              (status = 404, body = crate::error::ErrorEnvelope), (status = 503, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn credit_note_pdf(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Response> {
    let not_found = || ApiError::not_found("id", "credit note", &id);
    if !is_valid(IdKind::CreditNote, &id) {
        return Err(not_found());
    }
    let reader = state.db.reader();
    let cn = store::credit_note_by_id(reader, caller.livemode, &id).await?.ok_or_else(not_found)?;
    let inv = store::invoice(reader, caller.livemode, &cn.invoice_id).await?.ok_or_else(ApiError::internal)?;
    let customer = customers::get(reader, caller.livemode, &inv.customer_id).await?;
    let locale = customer.and_then(|c| c.locale);
    let ctx = documents::Context { config: &state.config, locale: locale.as_deref() };
    let key = documents::credit_note_key(&cn);
    let bytes =
        documents::rendered(&state.storage, Some(&key), || documents::credit_note_document(&ctx, &cn, &inv)).await?;
    Ok(pdf_response(bytes, &cn.number))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvoiceLineCreate {
    pub description: String,
    /// Default 1.
    pub quantity: Option<i64>,
    /// Minor units of the invoice currency.
    pub unit_amount: i64,
}

impl From<InvoiceLineCreate> for NewLine {
    fn from(l: InvoiceLineCreate) -> NewLine {
        NewLine { description: l.description, quantity: l.quantity.unwrap_or(1), unit_amount: l.unit_amount }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvoiceCreate {
    pub customer: String,
    /// Default: the customer's billing currency.
    pub currency: Option<String>,
    /// `exclusive` (default: tax added) or `inclusive` (tax included in the amounts).
    pub tax_behavior: Option<String>,
    /// Shown on the invoice.
    pub description: Option<String>,
    /// `charge_automatically` (default: the default payment method is charged at finalization)
    /// or `send_invoice` (the customer pays by the due date).
    pub collection_method: Option<String>,
    /// For `send_invoice`: days from creation to the due date (default 30, 1 to 365).
    pub days_until_due: Option<i64>,
    #[serde(default)]
    pub lines: Vec<InvoiceLineCreate>,
}

#[utoipa::path(post, path = "/v1/invoices", tag = "invoices", request_body = InvoiceCreate,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 201, body = Invoice), (status = 400, body = crate::error::ErrorEnvelope),
              (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn create_invoice(
    State(state): State<AppState>,
    caller: Caller,
    Idem(idem): Idem,
    ApiJson(body): ApiJson<InvoiceCreate>,
) -> ApiResult<Response> {
    let currency = match &body.currency {
        Some(c) => {
            Some(Currency::from_code(c).map_err(|_| ApiError::invalid("currency", format!("unknown currency `{c}`")))?)
        }
        None => None,
    };
    let behavior = TaxBehavior::parse(body.tax_behavior.as_deref().unwrap_or("exclusive"))
        .ok_or_else(|| ApiError::invalid("tax_behavior", "tax_behavior is exclusive or inclusive"))?;
    let collection = invoicing::parse_collection(body.collection_method.as_deref())?;
    if body.days_until_due.is_some() && collection != "send_invoice" {
        return Err(ApiError::invalid("days_until_due", "days_until_due applies to send_invoice only"));
    }
    let days = body.days_until_due.unwrap_or(30);
    if !(1..=365).contains(&days) {
        return Err(ApiError::invalid("days_until_due", "days_until_due is 1 to 365"));
    }
    super::check_len("description", &body.description, 1000)?;
    if !is_valid(IdKind::Customer, &body.customer) {
        return Err(ApiError::not_found("customer", "customer", &body.customer));
    }
    let mut tx = state.db.begin().await?;
    customers::lock(&mut tx, state.db.for_update(), caller.livemode, &body.customer).await?;
    let customer = customers::get(&mut *tx, caller.livemode, &body.customer)
        .await?
        .filter(|c| c.deleted_at.is_none())
        .ok_or_else(|| ApiError::not_found("customer", "customer", &body.customer))?;
    let now = bursar_core::billing::now_for(&mut tx, &customer, state.now_ms()).await?;
    let currency = currency.unwrap_or_else(|| super::customers::billing_currency_of(&customer));
    let inv = invoicing::create_draft(
        &mut tx,
        &state.billing_settings(),
        &customer,
        DraftInput {
            currency,
            behavior,
            description: body.description,
            collection_method: collection,
            due_at: (collection == "send_invoice").then_some(now + days * 86_400_000),
            lines: body.lines.into_iter().map(NewLine::from).collect(),
        },
        now,
    )
    .await?;
    let out = invoice_out(&mut tx, inv).await?;
    commit_json(tx, idem.as_ref(), StatusCode::CREATED, &out).await
}

fn check_id(id: &str) -> ApiResult<()> {
    if is_valid(IdKind::Invoice, id) {
        Ok(())
    } else {
        Err(ApiError::not_found("id", "invoice", id))
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeletedInvoice {
    pub id: String,
    /// Always `invoice`.
    pub object: &'static str,
    pub deleted: bool,
}

#[utoipa::path(delete, path = "/v1/invoices/{id}", tag = "invoices",
    params(("id" = String, Path, description = "Invoice id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = DeletedInvoice), (status = 404, body = crate::error::ErrorEnvelope),
              (status = 409, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn delete_invoice(
    State(state): State<AppState>,
    caller: Caller,
    Idem(idem): Idem,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    check_id(&id)?;
    let mut tx = state.db.begin().await?;
    invoicing::delete_draft(&mut tx, state.db.for_update(), caller.livemode, &id, state.now_ms()).await?;
    let out = DeletedInvoice { id, object: "invoice", deleted: true };
    commit_json(tx, idem.as_ref(), StatusCode::OK, &out).await
}

#[utoipa::path(post, path = "/v1/invoices/{id}/lines", tag = "invoices", request_body = InvoiceLineCreate,
    params(("id" = String, Path, description = "Invoice id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = Invoice), (status = 400, body = crate::error::ErrorEnvelope),
              (status = 404, body = crate::error::ErrorEnvelope), (status = 409, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn add_invoice_line(
    State(state): State<AppState>,
    caller: Caller,
    Idem(idem): Idem,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<InvoiceLineCreate>,
) -> ApiResult<Response> {
    check_id(&id)?;
    let mut tx = state.db.begin().await?;
    let inv = invoicing::add_line(
        &mut tx,
        &state.billing_settings(),
        state.db.for_update(),
        caller.livemode,
        &id,
        body.into(),
    )
    .await?;
    let out = invoice_out(&mut tx, inv).await?;
    commit_json(tx, idem.as_ref(), StatusCode::OK, &out).await
}

#[utoipa::path(delete, path = "/v1/invoices/{id}/lines/{line_id}", tag = "invoices",
    params(("id" = String, Path, description = "Invoice id"), ("line_id" = String, Path, description = "Line id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = Invoice), (status = 404, body = crate::error::ErrorEnvelope),
              (status = 409, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn remove_invoice_line(
    State(state): State<AppState>,
    caller: Caller,
    Idem(idem): Idem,
    Path((id, line_id)): Path<(String, String)>,
) -> ApiResult<Response> {
    check_id(&id)?;
    let mut tx = state.db.begin().await?;
    let inv = invoicing::remove_line(
        &mut tx,
        &state.billing_settings(),
        state.db.for_update(),
        caller.livemode,
        &id,
        &line_id,
    )
    .await?;
    let out = invoice_out(&mut tx, inv).await?;
    commit_json(tx, idem.as_ref(), StatusCode::OK, &out).await
}

#[utoipa::path(post, path = "/v1/invoices/{id}/finalize", tag = "invoices",
    params(("id" = String, Path, description = "Invoice id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = Invoice, description = "Issued: `paid` when it was charged or nothing is due, else `open`"),
              (status = 400, body = crate::error::ErrorEnvelope), (status = 402, body = crate::error::ErrorEnvelope),
              (status = 404, body = crate::error::ErrorEnvelope), (status = 409, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn finalize_invoice(
    State(state): State<AppState>,
    caller: Caller,
    Idem(idem): Idem,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    check_id(&id)?;
    let mut tx = state.db.begin().await?;
    let (inv, failure) = invoicing::finalize(
        &mut tx,
        &state.billing_settings(),
        state.db.for_update(),
        caller.livemode,
        &id,
        state.now_ms(),
    )
    .await?;
    if failure.is_some() {
        // Issued and open: the decline is recorded, then reported.
        tx.commit().await?;
        return Err(bursar_core::billing::declined(&inv).into());
    }
    let since = inv.finalized_at.unwrap_or(inv.created_at);
    let mut tx = super::commit_and_collect(&state, tx, &inv.customer_id, since).await?;
    let inv = store::invoice(&mut *tx, caller.livemode, &inv.id).await?.ok_or_else(ApiError::internal)?;
    let last = bursar_store::payments::of_invoice(&mut *tx, &inv.id).await?.pop();
    if last.is_some_and(|p| p.status == "failed") {
        // The provider declined: the invoice is issued and open.
        return Err(bursar_core::billing::declined(&inv).into());
    }
    let out = invoice_out(&mut tx, inv).await?;
    commit_json(tx, idem.as_ref(), StatusCode::OK, &out).await
}

#[utoipa::path(post, path = "/v1/invoices/{id}/void", tag = "invoices",
    params(("id" = String, Path, description = "Invoice id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = Invoice), (status = 404, body = crate::error::ErrorEnvelope),
              (status = 409, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn void_invoice(
    State(state): State<AppState>,
    caller: Caller,
    Idem(idem): Idem,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    check_id(&id)?;
    let mut tx = state.db.begin().await?;
    let inv = invoicing::void(&mut tx, state.db.for_update(), caller.livemode, &id, state.now_ms()).await?;
    let out = invoice_out(&mut tx, inv).await?;
    commit_json(tx, idem.as_ref(), StatusCode::OK, &out).await
}
