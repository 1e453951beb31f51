//! Customers CRUD and their credit balance.

use super::{check_len, commit_json, secs, validate_metadata, ListResponse};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery, Caller, ListParams};
use crate::middleware::Idem;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use bursar_domain::geo;
use bursar_domain::id::{is_valid, new_id, IdKind};
use bursar_domain::ledger::{natural_balance, AccountKind, EntryDraft};
use bursar_domain::money::{Currency, Locale, MAX_AMOUNT_MINOR};
use bursar_store::customers::{self, CustomerRow, ListFilter};
use bursar_store::{clocks, events, ledger};
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_customer, list_customers))
        .routes(routes!(get_customer, update_customer, delete_customer))
        .routes(routes!(create_balance_transaction, list_balance_transactions))
}

/// `null` clears a field, absence leaves it alone.
fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Address {
    pub line1: Option<String>,
    pub line2: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TaxId {
    /// `eu_vat`, `gb_vat`, `in_gst`, `br_cnpj`, `br_cpf`, `ru_inn`, `us_ein`, `ch_vat`, `no_vat`, `au_abn`, `other`.
    #[serde(rename = "type")]
    pub tax_type: String,
    pub value: String,
    /// Set by Bursar when an online check is configured (`vat_check`);
    /// ignored on input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<bursar_core::vat_check::Verification>,
}

/// Checks EU VAT ids with the configured registry (outside any
/// transaction: it is a network call). A definite "not registered" is
/// refused; an unavailable registry is recorded and accepted.
async fn verify_tax_ids(state: &AppState, ids: &mut [TaxId]) -> ApiResult<()> {
    for (i, id) in ids.iter_mut().enumerate() {
        id.verification = None;
        let Some(checker) = &state.vat_checker else { continue };
        if id.tax_type != "eu_vat" {
            continue;
        }
        let Ok(parsed) = bursar_domain::vat_id::VatId::parse(&id.value) else { continue };
        let v = bursar_core::vat_check::verify(checker.as_ref(), &parsed, state.now_ms() / 1000).await;
        if v.status == "invalid" {
            return Err(ApiError::invalid(
                &format!("tax_ids[{i}].value"),
                format!("`{}` is not a registered VAT id according to {}", parsed.as_string(), v.source),
            ));
        }
        id.verification = Some(v);
    }
    Ok(())
}

const TAX_ID_TYPES: &[&str] =
    &["eu_vat", "gb_vat", "in_gst", "br_cnpj", "br_cpf", "ru_inn", "us_ein", "ch_vat", "no_vat", "au_abn", "other"];

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerCreate {
    /// The platform's own id for this learner, instructor or organization; unique per mode.
    pub external_id: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
    pub phone: Option<String>,
    /// ISO 3166-1 alpha-2 country of the billing address.
    pub country: Option<String>,
    /// One of en-US, en-GB, de-DE, fr-FR, es-ES, pt-BR, en-IN, hi-IN, ru-RU.
    pub locale: Option<String>,
    /// ISO 4217 code that overrides the currency picked from country or locale.
    pub preferred_currency: Option<String>,
    pub address: Option<Address>,
    pub tax_ids: Option<Vec<TaxId>>,
    pub metadata: Option<BTreeMap<String, String>>,
    /// A test clock id (test mode only): the customer lives by its time.
    pub test_clock: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerUpdate {
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub external_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub name: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub country: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub locale: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub preferred_currency: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Address>)]
    pub address: Option<Option<Address>>,
    pub tax_ids: Option<Vec<TaxId>>,
    /// Merged into the existing metadata; a key set to "" is removed.
    pub metadata: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreditBalance {
    /// ISO 4217 code.
    pub currency: String,
    /// Credit owed to the customer, in minor units; applied before charging.
    pub amount: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Customer {
    pub id: String,
    /// Always `customer`.
    pub object: &'static str,
    pub livemode: bool,
    pub external_id: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub country: Option<String>,
    pub locale: Option<String>,
    /// The currency the customer is billed in: `preferred_currency`, else from country, else locale, else USD.
    pub currency: String,
    pub preferred_currency: Option<String>,
    pub address: Option<Address>,
    pub tax_ids: Vec<TaxId>,
    pub metadata: BTreeMap<String, String>,
    pub test_clock: Option<String>,
    pub credit_balances: Vec<CreditBalance>,
    /// Unix seconds.
    pub created: i64,
    pub updated: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeletedCustomer {
    pub id: String,
    pub object: &'static str,
    pub deleted: bool,
}

pub fn credit_account(customer_id: &str) -> String {
    format!("customer_credit:{customer_id}")
}

/// The currency a customer is billed in: their choice, else their
/// country's, else their locale's, else USD.
pub fn billing_currency_of(row: &CustomerRow) -> Currency {
    let preferred = row.preferred_currency.as_deref().and_then(|c| Currency::from_code(c).ok());
    let locale = row.locale.as_deref().and_then(|l| Locale::from_tag(l).ok());
    geo::billing_currency(preferred, row.country.as_deref(), locale)
}

fn render(row: CustomerRow, balances: &[ledger::Balance]) -> Customer {
    let currency = billing_currency_of(&row);
    let account = credit_account(&row.id);
    Customer {
        object: "customer",
        livemode: row.livemode,
        external_id: row.external_id,
        email: row.email,
        name: row.name,
        phone: row.phone,
        country: row.country,
        locale: row.locale,
        currency: currency.code().to_string(),
        preferred_currency: row.preferred_currency,
        address: row.address.and_then(|a| serde_json::from_str(&a).ok()),
        tax_ids: serde_json::from_str(&row.tax_ids).unwrap_or_default(),
        metadata: serde_json::from_str(&row.metadata).unwrap_or_default(),
        test_clock: row.test_clock_id,
        credit_balances: balances
            .iter()
            .filter(|b| b.account == account && b.balance_minor != 0)
            .map(|b| CreditBalance {
                currency: b.currency.clone(),
                amount: natural_balance(AccountKind::Liability, b.balance_minor),
            })
            .collect(),
        created: secs(row.created_at),
        updated: secs(row.updated_at),
        id: row.id,
    }
}

async fn render_one(state: &AppState, row: CustomerRow) -> ApiResult<Customer> {
    let b = ledger::balances_of(&state.db, row.livemode, &[credit_account(&row.id)]).await?;
    Ok(render(row, &b))
}

/// Validated customer fields shared by create and update.
struct Fields {
    country: Option<String>,
    locale: Option<String>,
    preferred_currency: Option<String>,
}

fn norm(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

fn check_email(v: &Option<String>) -> ApiResult<()> {
    if let Some(e) = v {
        let ok = e.len() <= 254
            && e.split_once('@').is_some_and(|(l, d)| {
                !l.is_empty() && d.contains('.') && !d.starts_with('.') && !d.ends_with('.') && !d.contains(' ')
            })
            && !e.contains(char::is_whitespace);
        if !ok {
            return Err(ApiError::invalid("email", format!("`{e}` is not a valid email address")));
        }
    }
    Ok(())
}

fn check_fields(
    country: Option<String>,
    locale: Option<String>,
    preferred_currency: Option<String>,
) -> ApiResult<Fields> {
    let country =
        match norm(country) {
            None => None,
            Some(c) => Some(geo::parse_country(&c).ok_or_else(|| {
                ApiError::invalid("country", format!("`{c}` is not an ISO 3166-1 alpha-2 country code"))
            })?),
        };
    let locale = match norm(locale) {
        None => None,
        Some(l) => Some(
            Locale::from_tag(&l)
                .map_err(|_| {
                    ApiError::invalid(
                        "locale",
                        format!(
                            "unsupported locale `{l}`; supported: {}",
                            Locale::all().iter().map(|l| l.tag()).collect::<Vec<_>>().join(", ")
                        ),
                    )
                })?
                .tag()
                .to_string(),
        ),
    };
    let preferred_currency = match norm(preferred_currency) {
        None => None,
        Some(c) => Some(
            Currency::from_code(&c)
                .map_err(|_| ApiError::invalid("preferred_currency", format!("unknown currency `{c}`")))?
                .code()
                .to_string(),
        ),
    };
    Ok(Fields { country, locale, preferred_currency })
}

fn check_address(a: &Address) -> ApiResult<Address> {
    for (name, v, max) in [
        ("address.line1", &a.line1, 200),
        ("address.line2", &a.line2, 200),
        ("address.city", &a.city, 100),
        ("address.state", &a.state, 100),
        ("address.postal_code", &a.postal_code, 20),
    ] {
        check_len(name, v, max)?;
    }
    let mut a = a.clone();
    if let Some(c) = norm(a.country.take()) {
        a.country = Some(geo::parse_country(&c).ok_or_else(|| {
            ApiError::invalid("address.country", format!("`{c}` is not an ISO 3166-1 alpha-2 country code"))
        })?);
    }
    Ok(a)
}

fn check_tax_ids(t: &[TaxId]) -> ApiResult<()> {
    if t.len() > 5 {
        return Err(ApiError::invalid("tax_ids", "at most 5 tax ids"));
    }
    for (i, id) in t.iter().enumerate() {
        if !TAX_ID_TYPES.contains(&id.tax_type.as_str()) {
            return Err(ApiError::invalid(
                &format!("tax_ids[{i}].type"),
                format!("unknown tax id type `{}`; one of {}", id.tax_type, TAX_ID_TYPES.join(", ")),
            ));
        }
        let v = id.value.trim();
        if v.is_empty() || v.len() > 64 {
            return Err(ApiError::invalid(&format!("tax_ids[{i}].value"), "tax id values are 1 to 64 characters"));
        }
        if id.tax_type == "eu_vat" || id.tax_type == "gb_vat" {
            let parsed = bursar_domain::vat_id::VatId::parse(v)
                .map_err(|e| ApiError::invalid(&format!("tax_ids[{i}].value"), format!("invalid VAT id `{v}`: {e}")))?;
            let uk = matches!(parsed.iso_country(), "GB");
            if (id.tax_type == "gb_vat") != uk {
                return Err(ApiError::invalid(
                    &format!("tax_ids[{i}].value"),
                    format!("`{v}` is not a{} VAT id", if id.tax_type == "gb_vat" { " UK" } else { "n EU" }),
                ));
            }
        }
    }
    Ok(())
}

fn conflict_external_id(e: bursar_store::DbError) -> ApiError {
    match &e {
        bursar_store::DbError::Sqlx(s) if bursar_store::db::is_unique_violation(s) => {
            ApiError::conflict("resource_already_exists", "a customer with this external_id already exists")
                .with_param("external_id")
        }
        _ => e.into(),
    }
}

#[utoipa::path(post, path = "/v1/customers", tag = "customers", request_body = CustomerCreate,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = Customer), (status = 400, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn create_customer(
    State(state): State<AppState>,
    caller: Caller,
    Idem(idem): Idem,
    ApiJson(body): ApiJson<CustomerCreate>,
) -> ApiResult<Response> {
    let f = check_fields(body.country, body.locale, body.preferred_currency)?;
    let external_id = norm(body.external_id);
    check_len("external_id", &external_id, 200)?;
    let email = norm(body.email);
    check_email(&email)?;
    check_len("name", &body.name, 200)?;
    check_len("phone", &body.phone, 40)?;
    let address = body.address.as_ref().map(check_address).transpose()?;
    let mut tax_ids = body.tax_ids.unwrap_or_default();
    check_tax_ids(&tax_ids)?;
    verify_tax_ids(&state, &mut tax_ids).await?;
    let metadata = body.metadata.unwrap_or_default();
    validate_metadata(&metadata)?;

    let mut tx = state.db.begin().await?;
    let mut now = state.now_ms();
    let test_clock = match norm(body.test_clock) {
        None => None,
        Some(id) => {
            if caller.livemode {
                return Err(ApiError::invalid("test_clock", "test clocks can only be used in test mode"));
            }
            let clock = clocks::get(&mut *tx, &id)
                .await?
                .filter(|c| c.deleted_at.is_none())
                .ok_or_else(|| ApiError::not_found("test_clock", "test clock", &id))?;
            now = clock.frozen_time;
            Some(clock.id)
        }
    };
    let row = CustomerRow {
        id: new_id(IdKind::Customer),
        livemode: caller.livemode,
        external_id,
        email,
        name: norm(body.name),
        phone: norm(body.phone),
        country: f.country.or_else(|| address.as_ref().and_then(|a| a.country.clone())),
        locale: f.locale,
        preferred_currency: f.preferred_currency,
        address: address.map(|a| serde_json::to_string(&a).unwrap_or_default()),
        tax_ids: serde_json::to_string(&tax_ids).unwrap_or_else(|_| "[]".into()),
        metadata: serde_json::to_string(&metadata).unwrap_or_else(|_| "{}".into()),
        test_clock_id: test_clock,
        created_at: now,
        updated_at: now,
        deleted_at: None,
    };
    customers::insert(&mut tx, &row).await.map_err(conflict_external_id)?;
    let out = render(row, &[]);
    events::emit(
        &mut tx,
        caller.livemode,
        "customer.created",
        &out.id,
        &serde_json::to_value(&out).unwrap_or_default(),
        now,
    )
    .await?;
    commit_json(tx, idem.as_ref(), StatusCode::OK, &out).await
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
    let page = ListParams { limit: q.limit, starting_after: q.starting_after };
    let limit = page.limit()?;
    if let Some(s) = &page.starting_after {
        if !is_valid(IdKind::Customer, s) {
            return Err(ApiError::invalid("starting_after", "starting_after must be a customer id"));
        }
    }
    let filter = ListFilter { email: q.email, external_id: q.external_id, test_clock_id: q.test_clock };
    let rows =
        customers::list(state.db.reader(), caller.livemode, &filter, page.starting_after.as_deref(), limit + 1).await?;
    let accounts: Vec<String> = rows.iter().map(|r| credit_account(&r.id)).collect();
    let balances = ledger::balances_of(&state.db, caller.livemode, &accounts).await?;
    let data = rows.into_iter().map(|r| render(r, &balances)).collect();
    Ok(Json(ListResponse::from_rows(data, limit, "/v1/customers")))
}

pub(crate) async fn load_live(state: &AppState, caller: &Caller, id: &str) -> ApiResult<CustomerRow> {
    if !is_valid(IdKind::Customer, id) {
        return Err(ApiError::not_found("id", "customer", id));
    }
    customers::get(state.db.reader(), caller.livemode, id)
        .await?
        .filter(|c| c.deleted_at.is_none())
        .ok_or_else(|| ApiError::not_found("id", "customer", id))
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
    let row = load_live(&state, &caller, &id).await?;
    Ok(Json(render_one(&state, row).await?))
}

#[utoipa::path(post, path = "/v1/customers/{id}", tag = "customers", request_body = CustomerUpdate,
    params(("id" = String, Path, description = "Customer id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = Customer), (status = 400, body = crate::error::ErrorEnvelope), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn update_customer(
    State(state): State<AppState>,
    caller: Caller,
    Idem(idem): Idem,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<CustomerUpdate>,
) -> ApiResult<Response> {
    if !is_valid(IdKind::Customer, &id) {
        return Err(ApiError::not_found("id", "customer", &id));
    }
    let f = check_fields(
        body.country.clone().flatten(),
        body.locale.clone().flatten(),
        body.preferred_currency.clone().flatten(),
    )?;
    // Tax ids are checked (online, when configured) before the transaction.
    let mut body = body;
    let tax_ids = match body.tax_ids.take() {
        Some(mut t) => {
            check_tax_ids(&t)?;
            verify_tax_ids(&state, &mut t).await?;
            Some(t)
        }
        None => None,
    };
    let mut tx = state.db.begin().await?;
    customers::lock(&mut tx, state.db.for_update(), caller.livemode, &id).await?;
    let mut row = customers::get(&mut *tx, caller.livemode, &id)
        .await?
        .filter(|c| c.deleted_at.is_none())
        .ok_or_else(|| ApiError::not_found("id", "customer", &id))?;
    if let Some(v) = body.external_id {
        let v = norm(v);
        check_len("external_id", &v, 200)?;
        row.external_id = v;
    }
    if let Some(v) = body.email {
        let v = norm(v);
        check_email(&v)?;
        row.email = v;
    }
    if let Some(v) = body.name {
        check_len("name", &v, 200)?;
        row.name = norm(v);
    }
    if let Some(v) = body.phone {
        check_len("phone", &v, 40)?;
        row.phone = norm(v);
    }
    if body.country.is_some() {
        row.country = f.country;
    }
    if body.locale.is_some() {
        row.locale = f.locale;
    }
    if body.preferred_currency.is_some() {
        row.preferred_currency = f.preferred_currency;
    }
    if let Some(a) = body.address {
        row.address = match a {
            None => None,
            Some(a) => Some(serde_json::to_string(&check_address(&a)?).unwrap_or_default()),
        };
    }
    if let Some(t) = tax_ids {
        row.tax_ids = serde_json::to_string(&t).unwrap_or_else(|_| "[]".into());
    }
    if let Some(m) = body.metadata {
        let mut cur: BTreeMap<String, String> = serde_json::from_str(&row.metadata).unwrap_or_default();
        for (k, v) in m {
            if v.is_empty() {
                cur.remove(&k);
            } else {
                cur.insert(k, v);
            }
        }
        validate_metadata(&cur)?;
        row.metadata = serde_json::to_string(&cur).unwrap_or_else(|_| "{}".into());
    }
    let now = bursar_core::time::customer_now(&state, &mut tx, &row).await?;
    row.updated_at = now.max(row.created_at);
    customers::update(&mut tx, &row).await.map_err(conflict_external_id)?;
    let balances = ledger::balances_of(&state.db, caller.livemode, &[credit_account(&row.id)]).await?;
    let out = render(row, &balances);
    events::emit(
        &mut tx,
        caller.livemode,
        "customer.updated",
        &out.id,
        &serde_json::to_value(&out).unwrap_or_default(),
        now,
    )
    .await?;
    commit_json(tx, idem.as_ref(), StatusCode::OK, &out).await
}

#[utoipa::path(delete, path = "/v1/customers/{id}", tag = "customers",
    params(("id" = String, Path, description = "Customer id")),
    responses((status = 200, body = DeletedCustomer), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn delete_customer(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Response> {
    if !is_valid(IdKind::Customer, &id) {
        return Err(ApiError::not_found("id", "customer", &id));
    }
    let mut tx = state.db.begin().await?;
    customers::lock(&mut tx, state.db.for_update(), caller.livemode, &id).await?;
    let mut row = customers::get(&mut *tx, caller.livemode, &id)
        .await?
        .filter(|c| c.deleted_at.is_none())
        .ok_or_else(|| ApiError::not_found("id", "customer", &id))?;
    let now = bursar_core::time::customer_now(&state, &mut tx, &row).await?;
    row.deleted_at = Some(now);
    row.updated_at = now.max(row.created_at);
    customers::update(&mut tx, &row).await?;
    let out = DeletedCustomer { id: row.id.clone(), object: "customer", deleted: true };
    events::emit(
        &mut tx,
        caller.livemode,
        "customer.deleted",
        &row.id,
        &serde_json::to_value(&out).unwrap_or_default(),
        now,
    )
    .await?;
    commit_json(tx, None, StatusCode::OK, &out).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BalanceTransactionCreate {
    /// Minor units. Positive grants credit to the customer; negative takes credit back.
    pub amount: i64,
    /// ISO 4217 code.
    pub currency: String,
    pub description: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BalanceTransaction {
    /// The ledger entry id.
    pub id: String,
    /// Always `customer_balance_transaction`.
    pub object: &'static str,
    pub customer: String,
    pub livemode: bool,
    pub amount: i64,
    pub currency: String,
    /// Credit balance in this currency after the transaction.
    pub ending_balance: Option<i64>,
    pub description: String,
    pub created: i64,
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
    Idem(idem): Idem,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<BalanceTransactionCreate>,
) -> ApiResult<Response> {
    let currency = Currency::from_code(&body.currency)
        .map_err(|_| ApiError::invalid("currency", format!("unknown currency `{}`", body.currency)))?;
    if body.amount == 0 || body.amount.unsigned_abs() > MAX_AMOUNT_MINOR as u64 {
        return Err(ApiError::invalid(
            "amount",
            format!("amount must be a non-zero integer of minor units with absolute value at most {MAX_AMOUNT_MINOR}"),
        ));
    }
    let description = body.description.unwrap_or_else(|| {
        if body.amount > 0 {
            "Credit granted".into()
        } else {
            "Credit removed".into()
        }
    });
    if description.chars().count() > 500 {
        return Err(ApiError::invalid("description", "description must be at most 500 characters"));
    }
    if !is_valid(IdKind::Customer, &id) {
        return Err(ApiError::not_found("id", "customer", &id));
    }
    let mut tx = state.db.begin().await?;
    // Lock the customer row so concurrent debits cannot overdraw the credit.
    customers::lock(&mut tx, state.db.for_update(), caller.livemode, &id).await?;
    let row = customers::get(&mut *tx, caller.livemode, &id)
        .await?
        .filter(|c| c.deleted_at.is_none())
        .ok_or_else(|| ApiError::not_found("id", "customer", &id))?;
    let account = credit_account(&id);
    let current = natural_balance(
        AccountKind::Liability,
        ledger::balance_in_tx(&mut tx, caller.livemode, &account, currency.code()).await?,
    );
    let ending = current.checked_add(body.amount).ok_or_else(|| ApiError::invalid("amount", "amount out of range"))?;
    if ending < 0 {
        return Err(ApiError::invalid(
            "amount",
            format!("the customer's {} credit balance is {current}; it cannot go below zero", currency.code()),
        ));
    }
    let draft = if body.amount > 0 {
        EntryDraft::new(currency, &description).debit("credit_grants", body.amount).credit(&account, body.amount)
    } else {
        let a = -body.amount;
        EntryDraft::new(currency, &description).debit(&account, a).credit("credit_grants", a)
    };
    let entry = draft.validate().map_err(|e| ApiError::invalid("amount", e.to_string()))?;
    let now = bursar_core::time::customer_now(&state, &mut tx, &row).await?;
    let entry_id =
        ledger::post(&mut tx, ledger::NewEntry::at(caller.livemode, &entry, now).source("customer_balance", &id))
            .await?;
    let out = BalanceTransaction {
        id: entry_id,
        object: "customer_balance_transaction",
        customer: id.clone(),
        livemode: caller.livemode,
        amount: body.amount,
        currency: currency.code().to_string(),
        ending_balance: Some(ending),
        description,
        created: secs(now),
    };
    events::emit(
        &mut tx,
        caller.livemode,
        "customer.balance_transaction.created",
        &id,
        &serde_json::to_value(&out).unwrap_or_default(),
        now,
    )
    .await?;
    commit_json(tx, idem.as_ref(), StatusCode::OK, &out).await
}

#[utoipa::path(get, path = "/v1/customers/{id}/balance_transactions", tag = "customers",
    params(("id" = String, Path, description = "Customer id"), ListParams),
    responses((status = 200, body = ListResponse<BalanceTransaction>), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn list_balance_transactions(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(page): ApiQuery<ListParams>,
) -> ApiResult<Json<ListResponse<BalanceTransaction>>> {
    let limit = page.limit()?;
    let row = load_live(&state, &caller, &id).await?;
    let account = credit_account(&row.id);
    let entries = ledger::list_entries(
        &state.db,
        caller.livemode,
        Some("customer_balance"),
        Some(&row.id),
        page.starting_after.as_deref(),
        limit + 1,
    )
    .await?;
    let data = entries
        .into_iter()
        .map(|e| {
            let amount: i64 = e.postings.iter().filter(|p| p.account == account).map(|p| -p.amount_minor).sum();
            BalanceTransaction {
                id: e.id,
                object: "customer_balance_transaction",
                customer: row.id.clone(),
                livemode: e.livemode,
                amount,
                currency: e.currency,
                ending_balance: None,
                description: e.description,
                created: secs(e.created_at),
            }
        })
        .collect();
    Ok(Json(ListResponse::from_rows(data, limit, &format!("/v1/customers/{id}/balance_transactions"))))
}
