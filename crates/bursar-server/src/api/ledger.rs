//! The ledger over HTTP: manual journal entries (opening balances,
//! corrections), reversals, balances by account and date, and the chart.
//! Each handler parses, calls one operation of `bursar_core::ledger` and
//! renders.

use super::ListResponse;
use crate::error::ApiResult;
use crate::extract::{page_of, ApiJson, ApiQuery, Caller};
use crate::middleware::Idem;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use bursar_core::ledger::{self, AccountRoot, BalanceList, EntryCreate, EntryReverse, LedgerEntry};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use bursar_core::ledger::{AccountBalance, PostingIn, PostingOut};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_entry, list_entries))
        .routes(routes!(get_entry))
        .routes(routes!(reverse_entry))
        .routes(routes!(get_balances))
        .routes(routes!(list_accounts))
}

#[utoipa::path(post, path = "/v1/ledger/entries", tag = "ledger", request_body = EntryCreate,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = LedgerEntry), (status = 400, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn create_entry(
    State(state): State<AppState>,
    caller: Caller,
    idem: Idem,
    ApiJson(body): ApiJson<EntryCreate>,
) -> ApiResult<Response> {
    let out = ledger::create(&state, &caller.actor(), body, &idem.reply(StatusCode::OK)).await?;
    idem.respond(StatusCode::OK, &out)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EntryListParams {
    pub limit: Option<String>,
    pub starting_after: Option<String>,
    /// Only entries written by this kind of source (`manual`, `customer_balance`, …).
    pub source_type: Option<String>,
    pub source_id: Option<String>,
}

#[utoipa::path(get, path = "/v1/ledger/entries", tag = "ledger", params(EntryListParams),
    responses((status = 200, body = ListResponse<LedgerEntry>)), security(("api_key" = [])))]
async fn list_entries(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<EntryListParams>,
) -> ApiResult<Json<ListResponse<LedgerEntry>>> {
    let page = page_of(q.limit, q.starting_after)?;
    let list = ledger::list(&state, &caller.actor(), q.source_type.as_deref(), q.source_id.as_deref(), &page).await?;
    let url = "/v1/ledger/entries".to_string();
    Ok(Json(ListResponse { object: "list", data: list.data, has_more: list.has_more, url }))
}

#[utoipa::path(get, path = "/v1/ledger/entries/{id}", tag = "ledger",
    params(("id" = String, Path, description = "Ledger entry id")),
    responses((status = 200, body = LedgerEntry), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn get_entry(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<LedgerEntry>> {
    Ok(Json(ledger::get(&state, &caller.actor(), &id).await?))
}

#[utoipa::path(post, path = "/v1/ledger/entries/{id}/reverse", tag = "ledger", request_body = EntryReverse,
    params(("id" = String, Path, description = "Ledger entry id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = LedgerEntry), (status = 400, body = crate::error::ErrorEnvelope), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn reverse_entry(
    State(state): State<AppState>,
    caller: Caller,
    idem: Idem,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<EntryReverse>,
) -> ApiResult<Response> {
    let out = ledger::reverse(&state, &caller.actor(), &id, body, &idem.reply(StatusCode::OK)).await?;
    idem.respond(StatusCode::OK, &out)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BalanceParams {
    /// An account, or a root that also matches its qualified accounts.
    pub account: Option<String>,
    pub currency: Option<String>,
    /// Unix seconds: balances as of this instant (postings effective at or before it).
    pub as_of: Option<String>,
}

#[utoipa::path(get, path = "/v1/ledger/balances", tag = "ledger", params(BalanceParams),
    responses((status = 200, body = BalanceList), (status = 400, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn get_balances(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<BalanceParams>,
) -> ApiResult<Json<BalanceList>> {
    let (account, currency, as_of) = (q.account.as_deref(), q.currency.as_deref(), q.as_of.as_deref());
    Ok(Json(ledger::balances(&state, &caller.actor(), account, currency, as_of).await?))
}

#[utoipa::path(get, path = "/v1/ledger/accounts", tag = "ledger",
    responses((status = 200, body = Vec<AccountRoot>)), security(("api_key" = [])))]
async fn list_accounts(_caller: Caller) -> Json<Vec<AccountRoot>> {
    Json(ledger::accounts())
}
