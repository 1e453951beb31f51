//! Hand-written invoices over HTTP: drafts, their lines, finalization,
//! voiding and deletion, and the PDF documents. (Listing, reading, paying
//! and refunding any invoice live beside subscriptions.) Each handler
//! parses, calls one operation of `bursar_core::subscriptions::invoices`
//! and renders.

use crate::error::ApiResult;
use crate::extract::{ApiJson, Caller};
use crate::middleware::Idem;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bursar_core::subscriptions::invoices::{self, DeletedInvoice, Invoice, InvoiceCreate, InvoiceLineCreate, Pdf};
use bursar_core::Actor;
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

fn actor(c: &Caller) -> Actor {
    Actor::api_key(c.livemode, &c.key_id)
}

fn pdf_response(pdf: Pdf) -> Response {
    use axum::http::header;
    (
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (header::CONTENT_DISPOSITION, format!("inline; filename=\"{}.pdf\"", pdf.name)),
            (header::CACHE_CONTROL, "private, max-age=300".to_string()),
        ],
        pdf.bytes,
    )
        .into_response()
}

#[utoipa::path(get, path = "/v1/invoices/{id}/pdf", tag = "invoices",
    params(("id" = String, Path, description = "Invoice id")),
    responses((status = 200, description = "The invoice as a PDF", content_type = "application/pdf", body = Vec<u8>),
              (status = 404, body = crate::error::ErrorEnvelope), (status = 503, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn invoice_pdf(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Response> {
    Ok(pdf_response(invoices::pdf(&state, &actor(&caller), &id, false).await?))
}

#[utoipa::path(get, path = "/v1/invoices/{id}/receipt", tag = "invoices",
    params(("id" = String, Path, description = "Invoice id")),
    responses((status = 200, description = "The receipt of a paid invoice as a PDF", content_type = "application/pdf", body = Vec<u8>),
              (status = 404, body = crate::error::ErrorEnvelope), (status = 409, body = crate::error::ErrorEnvelope),
              (status = 503, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn receipt_pdf(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Response> {
    Ok(pdf_response(invoices::pdf(&state, &actor(&caller), &id, true).await?))
}

#[utoipa::path(get, path = "/v1/credit_notes/{id}/pdf", tag = "invoices",
    params(("id" = String, Path, description = "Credit note id")),
    responses((status = 200, description = "The credit note as a PDF", content_type = "application/pdf", body = Vec<u8>),
              (status = 404, body = crate::error::ErrorEnvelope), (status = 503, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn credit_note_pdf(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Response> {
    Ok(pdf_response(invoices::credit_note_pdf(&state, &actor(&caller), &id).await?))
}

#[utoipa::path(post, path = "/v1/invoices", tag = "invoices", request_body = InvoiceCreate,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 201, body = Invoice), (status = 400, body = crate::error::ErrorEnvelope),
              (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn create_invoice(
    State(state): State<AppState>,
    caller: Caller,
    idem: Idem,
    ApiJson(body): ApiJson<InvoiceCreate>,
) -> ApiResult<Response> {
    let out = invoices::create_draft(&state, &actor(&caller), body, &idem.reply(StatusCode::CREATED)).await?;
    idem.respond(StatusCode::CREATED, &out)
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
    idem: Idem,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let out = invoices::delete_draft(&state, &actor(&caller), &id, &idem.reply(StatusCode::OK)).await?;
    idem.respond(StatusCode::OK, &out)
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
    idem: Idem,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<InvoiceLineCreate>,
) -> ApiResult<Response> {
    let out = invoices::add_line(&state, &actor(&caller), &id, body, &idem.reply(StatusCode::OK)).await?;
    idem.respond(StatusCode::OK, &out)
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
    idem: Idem,
    Path((id, line_id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let out = invoices::remove_line(&state, &actor(&caller), &id, &line_id, &idem.reply(StatusCode::OK)).await?;
    idem.respond(StatusCode::OK, &out)
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
    idem: Idem,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let out = invoices::finalize(&state, &actor(&caller), &id, &idem.reply(StatusCode::OK)).await?;
    idem.respond(StatusCode::OK, &out)
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
    idem: Idem,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let out = invoices::void(&state, &actor(&caller), &id, &idem.reply(StatusCode::OK)).await?;
    idem.respond(StatusCode::OK, &out)
}
