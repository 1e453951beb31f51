//! The ledger over HTTP: manual journal entries (opening balances,
//! corrections), reversals, balances by account and date, and the chart.

use super::{commit_json, secs, ListResponse};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery, Caller, ListParams};
use crate::middleware::Idem;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use bursar_domain::id::{is_valid, IdKind};
use bursar_domain::ledger::{account_kind, natural_balance, AccountKind, EntryDraft, LedgerError, ACCOUNT_ROOTS};
use bursar_domain::money::{Currency, MAX_AMOUNT_MINOR};
use bursar_store::events;
use bursar_store::ledger::{self, StoredEntry};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_entry, list_entries))
        .routes(routes!(get_entry))
        .routes(routes!(reverse_entry))
        .routes(routes!(get_balances))
        .routes(routes!(list_accounts))
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostingIn {
    /// An account code such as `cash`, `revenue:courses` or `tax_payable:DE`.
    pub account: String,
    /// Minor units: positive debits, negative credits.
    pub amount: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EntryCreate {
    /// ISO 4217 code; every posting is in this currency.
    pub currency: String,
    pub description: String,
    /// At least two postings summing to zero.
    pub postings: Vec<PostingIn>,
    /// Unix seconds the entry takes effect (defaults to now).
    pub effective_at: Option<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EntryReverse {
    pub description: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PostingOut {
    pub account: String,
    pub amount: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LedgerEntry {
    pub id: String,
    /// Always `ledger_entry`.
    pub object: &'static str,
    pub livemode: bool,
    pub currency: String,
    pub description: String,
    pub source_type: Option<String>,
    pub source_id: Option<String>,
    pub reverses: Option<String>,
    pub reversed_by: Option<String>,
    pub postings: Vec<PostingOut>,
    pub effective_at: i64,
    pub created: i64,
}

fn render(e: StoredEntry) -> LedgerEntry {
    LedgerEntry {
        id: e.id,
        object: "ledger_entry",
        livemode: e.livemode,
        currency: e.currency,
        description: e.description,
        source_type: e.source_type,
        source_id: e.source_id,
        reverses: e.reverses_entry_id,
        reversed_by: e.reversed_by_entry_id,
        postings: e.postings.into_iter().map(|p| PostingOut { account: p.account, amount: p.amount_minor }).collect(),
        effective_at: secs(e.effective_at),
        created: secs(e.created_at),
    }
}

fn ledger_error(e: LedgerError) -> ApiError {
    match e {
        LedgerError::BadAccount(a) => ApiError::invalid("postings", format!("unknown or malformed account `{a}`")),
        LedgerError::ZeroPosting(i) => ApiError::invalid(&format!("postings[{i}].amount"), "amounts must not be zero"),
        LedgerError::AmountOutOfRange(i) => ApiError::invalid(
            &format!("postings[{i}].amount"),
            format!("amounts must be at most {MAX_AMOUNT_MINOR} in absolute value"),
        ),
        LedgerError::DescriptionTooLong => ApiError::invalid("description", e.to_string()),
        other => ApiError::invalid("postings", other.to_string()),
    }
}

#[utoipa::path(post, path = "/v1/ledger/entries", tag = "ledger", request_body = EntryCreate,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = LedgerEntry), (status = 400, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn create_entry(
    State(state): State<AppState>,
    caller: Caller,
    Idem(idem): Idem,
    ApiJson(body): ApiJson<EntryCreate>,
) -> ApiResult<Response> {
    let currency = Currency::from_code(&body.currency)
        .map_err(|_| ApiError::invalid("currency", format!("unknown currency `{}`", body.currency)))?;
    if body.description.trim().is_empty() {
        return Err(ApiError::missing("description"));
    }
    let mut draft = EntryDraft::new(currency, body.description.trim());
    for (i, p) in body.postings.iter().enumerate() {
        account_kind(&p.account).map_err(|_| {
            ApiError::invalid(
                &format!("postings[{i}].account"),
                format!("unknown or malformed account `{}`", p.account),
            )
        })?;
        draft = draft.debit(&p.account, p.amount);
    }
    let entry = draft.validate().map_err(ledger_error)?;
    let now = state.now_ms();
    let effective = match body.effective_at {
        None => now,
        Some(t) if (0..=253_402_214_400).contains(&t) => t * 1000,
        Some(_) => {
            return Err(ApiError::invalid("effective_at", "effective_at must be Unix seconds between 1970 and 9999"))
        }
    };
    let mut tx = state.db.begin().await?;
    let id = ledger::post(
        &mut tx,
        ledger::NewEntry {
            livemode: caller.livemode,
            entry: &entry,
            source_type: Some("manual"),
            source_id: Some(&caller.key_id),
            effective_at: effective,
            created_at: now,
            reverses: None,
        },
    )
    .await?;
    let stored = ledger::get_entry(&mut tx, caller.livemode, &id).await?.ok_or_else(ApiError::internal)?;
    let out = render(stored);
    events::emit(
        &mut tx,
        caller.livemode,
        "ledger_entry.created",
        &id,
        &serde_json::to_value(&out).unwrap_or_default(),
        now,
    )
    .await?;
    commit_json(tx, idem.as_ref(), StatusCode::OK, &out).await
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
    let page = ListParams { limit: q.limit, starting_after: q.starting_after };
    let limit = page.limit()?;
    let rows = ledger::list_entries(
        &state.db,
        caller.livemode,
        q.source_type.as_deref(),
        q.source_id.as_deref(),
        page.starting_after.as_deref(),
        limit + 1,
    )
    .await?;
    Ok(Json(ListResponse::from_rows(rows.into_iter().map(render).collect(), limit, "/v1/ledger/entries")))
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
    if !is_valid(IdKind::LedgerEntry, &id) {
        return Err(ApiError::not_found("id", "ledger entry", &id));
    }
    let mut conn = state.db.reader().acquire().await?;
    let e = ledger::get_entry(&mut conn, caller.livemode, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("id", "ledger entry", &id))?;
    Ok(Json(render(e)))
}

#[utoipa::path(post, path = "/v1/ledger/entries/{id}/reverse", tag = "ledger", request_body = EntryReverse,
    params(("id" = String, Path, description = "Ledger entry id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = LedgerEntry), (status = 400, body = crate::error::ErrorEnvelope), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn reverse_entry(
    State(state): State<AppState>,
    caller: Caller,
    Idem(idem): Idem,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<EntryReverse>,
) -> ApiResult<Response> {
    if !is_valid(IdKind::LedgerEntry, &id) {
        return Err(ApiError::not_found("id", "ledger entry", &id));
    }
    let description = body.description.unwrap_or_else(|| format!("Reversal of {id}"));
    if description.chars().count() > 500 {
        return Err(ApiError::invalid("description", "description must be at most 500 characters"));
    }
    let now = state.now_ms();
    let mut tx = state.db.begin().await?;
    let rid = ledger::reverse(&mut tx, caller.livemode, &id, &description, now).await.map_err(|e| match e {
        ledger::ReverseError::NotFound => ApiError::not_found("id", "ledger entry", &id),
        ledger::ReverseError::AlreadyReversed(_) => {
            ApiError::conflict("entry_already_reversed", e.to_string()).with_param("id")
        }
        ledger::ReverseError::IsReversal(_) => ApiError::invalid("id", e.to_string()),
        ledger::ReverseError::Db(d) => d.into(),
    })?;
    let stored = ledger::get_entry(&mut tx, caller.livemode, &rid).await?.ok_or_else(ApiError::internal)?;
    let out = render(stored);
    events::emit(
        &mut tx,
        caller.livemode,
        "ledger_entry.reversed",
        &id,
        &serde_json::to_value(&out).unwrap_or_default(),
        now,
    )
    .await?;
    commit_json(tx, idem.as_ref(), StatusCode::OK, &out).await
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

#[derive(Debug, Serialize, ToSchema)]
pub struct AccountBalance {
    pub account: String,
    /// asset, liability, equity, revenue, contra_revenue or expense.
    #[schema(value_type = String)]
    pub kind: AccountKind,
    pub currency: String,
    /// Debits minus credits, minor units.
    pub debit_balance: i64,
    /// The balance in the account's natural sign (positive liabilities are owed).
    pub balance: i64,
    pub postings: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BalanceList {
    /// Always `list`.
    pub object: &'static str,
    pub as_of: Option<i64>,
    pub data: Vec<AccountBalance>,
}

#[utoipa::path(get, path = "/v1/ledger/balances", tag = "ledger", params(BalanceParams),
    responses((status = 200, body = BalanceList), (status = 400, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn get_balances(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<BalanceParams>,
) -> ApiResult<Json<BalanceList>> {
    if let Some(a) = &q.account {
        account_kind(a).map_err(|_| ApiError::invalid("account", format!("unknown or malformed account `{a}`")))?;
    }
    let currency = match &q.currency {
        None => None,
        Some(c) => {
            Some(Currency::from_code(c).map_err(|_| ApiError::invalid("currency", format!("unknown currency `{c}`")))?)
        }
    };
    let as_of = match &q.as_of {
        None => None,
        Some(s) => match s.parse::<i64>() {
            Ok(t) if (0..=253_402_214_400).contains(&t) => Some(t),
            _ => return Err(ApiError::invalid("as_of", "as_of must be Unix seconds")),
        },
    };
    let rows = ledger::balances(
        &state.db,
        caller.livemode,
        q.account.as_deref(),
        currency.map(|c| c.code()),
        as_of.map(|t| t * 1000 + 999),
    )
    .await?;
    let data = rows
        .into_iter()
        .map(|b| {
            let kind = account_kind(&b.account).unwrap_or(AccountKind::Asset);
            AccountBalance {
                kind,
                balance: natural_balance(kind, b.balance_minor),
                debit_balance: b.balance_minor,
                account: b.account,
                currency: b.currency,
                postings: b.posting_count,
            }
        })
        .collect();
    Ok(Json(BalanceList { object: "list", as_of, data }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccountRoot {
    pub account: &'static str,
    #[schema(value_type = String)]
    pub kind: AccountKind,
    pub description: &'static str,
}

#[utoipa::path(get, path = "/v1/ledger/accounts", tag = "ledger",
    responses((status = 200, body = Vec<AccountRoot>)), security(("api_key" = [])))]
async fn list_accounts(_caller: Caller) -> Json<Vec<AccountRoot>> {
    Json(ACCOUNT_ROOTS.iter().map(|(a, k, d)| AccountRoot { account: a, kind: *k, description: d }).collect())
}
