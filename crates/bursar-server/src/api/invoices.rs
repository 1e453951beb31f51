//! Hand-written invoices over HTTP: drafts, their lines, finalization,
//! voiding and deletion. (Listing, reading, paying and refunding any
//! invoice live beside subscriptions.)

use super::commit_json;
use super::subscriptions::{invoice_out, Invoice};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, Caller};
use crate::invoicing::{self, DraftInput, NewLine};
use crate::middleware::Idem;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use bursar_domain::catalog::TaxBehavior;
use bursar_domain::id::{is_valid, IdKind};
use bursar_domain::money::Currency;
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
    let now = crate::billing::now_for(&mut tx, &customer, state.now_ms()).await?;
    let currency = currency.unwrap_or_else(|| super::customers::billing_currency_of(&customer));
    let inv = invoicing::create_draft(
        &mut tx,
        &state.config.billing_settings(),
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
        &state.config.billing_settings(),
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
        &state.config.billing_settings(),
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
        &state.config.billing_settings(),
        state.db.for_update(),
        caller.livemode,
        &id,
        state.now_ms(),
    )
    .await?;
    if failure.is_some() {
        // Issued and open: the decline is recorded, then reported.
        tx.commit().await?;
        return Err(crate::billing::declined(&inv));
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
