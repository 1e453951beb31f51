//! Customers CRUD and their credit balance. Each handler parses, calls one
//! operation of `bursar_core::customers` and renders.

use super::ListResponse;
use crate::error::ApiResult;
use crate::extract::{page_of, ApiJson, ApiQuery, Caller, ListParams};
use crate::middleware::Idem;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use bursar_core::customers::{
    self, balance, BalanceTransaction, BalanceTransactionCreate, Customer, CustomerCreate, CustomerUpdate,
    DeletedCustomer, ListFilter,
};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use bursar_core::customers::{billing_currency_of, credit_account, Address, CreditBalance, TaxId};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_customer, list_customers))
        .routes(routes!(get_customer, update_customer, delete_customer))
        .routes(routes!(create_balance_transaction, list_balance_transactions))
}

#[utoipa::path(post, path = "/v1/customers", tag = "customers", request_body = CustomerCreate,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = Customer), (status = 400, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn create_customer(
    State(state): State<AppState>,
    caller: Caller,
    idem: Idem,
    ApiJson(body): ApiJson<CustomerCreate>,
) -> ApiResult<Response> {
    let out = customers::create(&state, &caller.actor(), body, &idem.reply(StatusCode::OK)).await?;
    idem.respond(StatusCode::OK, &out)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CustomerListParams {
    pub limit: Option<String>,
    pub starting_after: Option<String>,
    /// Exact email match.
    pub email: Option<String>,
    /// The platform's id.
    pub external_id: Option<String>,
    pub test_clock: Option<String>,
}

#[utoipa::path(get, path = "/v1/customers", tag = "customers", params(CustomerListParams),
    responses((status = 200, body = ListResponse<Customer>), (status = 400, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn list_customers(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<CustomerListParams>,
) -> ApiResult<Json<ListResponse<Customer>>> {
    let page = page_of(q.limit, q.starting_after)?;
    let filter = ListFilter { email: q.email, external_id: q.external_id, test_clock_id: q.test_clock };
    let list = customers::list(&state, &caller.actor(), &filter, &page).await?;
    Ok(Json(ListResponse { object: "list", data: list.data, has_more: list.has_more, url: "/v1/customers".into() }))
}

#[utoipa::path(get, path = "/v1/customers/{id}", tag = "customers",
    params(("id" = String, Path, description = "Customer id")),
    responses((status = 200, body = Customer), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn get_customer(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Customer>> {
    Ok(Json(customers::get(&state, &caller.actor(), &id).await?))
}

#[utoipa::path(post, path = "/v1/customers/{id}", tag = "customers", request_body = CustomerUpdate,
    params(("id" = String, Path, description = "Customer id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = Customer), (status = 400, body = crate::error::ErrorEnvelope), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn update_customer(
    State(state): State<AppState>,
    caller: Caller,
    idem: Idem,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<CustomerUpdate>,
) -> ApiResult<Response> {
    let out = customers::update(&state, &caller.actor(), &id, body, &idem.reply(StatusCode::OK)).await?;
    idem.respond(StatusCode::OK, &out)
}

#[utoipa::path(delete, path = "/v1/customers/{id}", tag = "customers",
    params(("id" = String, Path, description = "Customer id")),
    responses((status = 200, body = DeletedCustomer), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn delete_customer(
    State(state): State<AppState>,
    caller: Caller,
    idem: Idem,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let out = customers::delete(&state, &caller.actor(), &id, &idem.reply(StatusCode::OK)).await?;
    idem.respond(StatusCode::OK, &out)
}

#[utoipa::path(post, path = "/v1/customers/{id}/balance_transactions", tag = "customers",
    request_body = BalanceTransactionCreate,
    params(("id" = String, Path, description = "Customer id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = BalanceTransaction), (status = 400, body = crate::error::ErrorEnvelope), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn create_balance_transaction(
    State(state): State<AppState>,
    caller: Caller,
    idem: Idem,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<BalanceTransactionCreate>,
) -> ApiResult<Response> {
    let out = balance::create(&state, &caller.actor(), &id, body, &idem.reply(StatusCode::OK)).await?;
    idem.respond(StatusCode::OK, &out)
}

#[utoipa::path(get, path = "/v1/customers/{id}/balance_transactions", tag = "customers",
    params(("id" = String, Path, description = "Customer id"), ListParams),
    responses((status = 200, body = ListResponse<BalanceTransaction>), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn list_balance_transactions(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<ListParams>,
) -> ApiResult<Json<ListResponse<BalanceTransaction>>> {
    let page = q.page()?;
    let list = balance::list(&state, &caller.actor(), &id, &page).await?;
    let url = format!("/v1/customers/{id}/balance_transactions");
    Ok(Json(ListResponse { object: "list", data: list.data, has_more: list.has_more, url }))
}
