//! Payment methods and payments over HTTP.

use super::{commit_json, secs, ListResponse};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery, Caller, ListParams};
use crate::middleware::Idem;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use bursar_domain::id::{is_valid, new_id, IdKind};
use bursar_store::dunning::{self, PaymentMethodRow};
use bursar_store::events;
use bursar_store::payments::{self as store, PaymentRow};
use bursar_store::Tx;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(add_payment_method, list_payment_methods))
        .routes(routes!(delete_payment_method))
        .routes(routes!(default_payment_method))
        .routes(routes!(list_payments))
        .routes(routes!(get_payment))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentMethodCreate {
    /// `sandbox` (default; test mode only), `stripe`, `paypal` or `razorpay`.
    pub provider: Option<String>,
    /// Sandbox: a test token (pm_card_visa, pm_card_mastercard, pm_card_chargeDeclined,
    /// pm_card_chargeDeclinedInsufficientFunds, pm_card_chargeDeclinedExpiredCard,
    /// pm_card_authenticationRequired, pm_card_processing). A provider: its token for a saved
    /// method (Stripe `pm_…`, PayPal vault id, Razorpay `token_…`). Never a card number.
    pub token: String,
    /// The provider's customer the method is attached to (Stripe `cus_…`, Razorpay `cust_…`).
    pub provider_customer: Option<String>,
    /// Display details of a provider method.
    pub brand: Option<String>,
    pub last4: Option<String>,
    pub exp_month: Option<i64>,
    pub exp_year: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentMethod {
    pub id: String,
    /// Always `payment_method`.
    pub object: &'static str,
    pub customer: String,
    pub provider: String,
    pub brand: String,
    pub last4: String,
    pub exp_month: Option<i64>,
    pub exp_year: Option<i64>,
    pub default: bool,
    pub created: i64,
}

fn render_pm(m: PaymentMethodRow) -> PaymentMethod {
    PaymentMethod {
        id: m.id,
        object: "payment_method",
        customer: m.customer_id,
        provider: m.provider,
        brand: m.brand,
        last4: m.last4,
        exp_month: m.exp_month,
        exp_year: m.exp_year,
        default: m.is_default,
        created: secs(m.created_at),
    }
}

/// Checks a provider method's fields; returns the row to store.
fn provider_method(
    state: &AppState,
    livemode: bool,
    customer_id: &str,
    body: PaymentMethodCreate,
    now: i64,
) -> ApiResult<PaymentMethodRow> {
    let provider = body.provider.unwrap_or_else(|| "sandbox".into());
    let base = |provider: &str, token: &str, brand: &str, last4: &str| PaymentMethodRow {
        id: new_id(IdKind::PaymentMethod),
        livemode,
        customer_id: customer_id.to_string(),
        provider: provider.to_string(),
        token: token.to_string(),
        brand: brand.to_string(),
        last4: last4.to_string(),
        is_default: true,
        created_at: now,
        provider_customer: None,
        exp_month: None,
        exp_year: None,
    };
    if provider == "sandbox" {
        if livemode {
            return Err(ApiError::invalid("provider", "the sandbox takes test-mode payments only"));
        }
        let (token, brand, last4, _) = bursar_core::sandbox::method(&body.token).ok_or_else(|| {
            let all: Vec<&str> = bursar_core::sandbox::TEST_METHODS.iter().map(|m| m.0).collect();
            ApiError::invalid("token", format!("unknown sandbox test token; one of {}", all.join(", ")))
        })?;
        return Ok(PaymentMethodRow {
            exp_month: Some(12),
            exp_year: Some(2034),
            ..base("sandbox", token, brand, last4)
        });
    }
    if !matches!(provider.as_str(), "stripe" | "paypal" | "razorpay") {
        return Err(ApiError::invalid("provider", "provider is sandbox, stripe, paypal or razorpay"));
    }
    if !state.providers.available(&provider, livemode) {
        return Err(ApiError::invalid("provider", format!("{provider} is not configured on this server")));
    }
    let token = body.token.trim();
    if token.is_empty() || token.len() > 255 || !token.chars().all(|c| c.is_ascii_graphic()) {
        return Err(ApiError::invalid("token", "a provider token is 1 to 255 visible ASCII characters"));
    }
    if token.chars().filter(char::is_ascii_digit).count() >= 12 {
        return Err(ApiError::invalid("token", "this looks like a card number; send the provider's token instead"));
    }
    let needs_customer = matches!(provider.as_str(), "stripe" | "razorpay");
    let provider_customer = body.provider_customer.map(|c| c.trim().to_string()).filter(|c| !c.is_empty());
    if needs_customer && provider_customer.is_none() {
        return Err(ApiError::missing("provider_customer"));
    }
    if let Some(m) = body.exp_month {
        if !(1..=12).contains(&m) {
            return Err(ApiError::invalid("exp_month", "exp_month is 1 to 12"));
        }
    }
    if let Some(y) = body.exp_year {
        if !(2000..=2100).contains(&y) {
            return Err(ApiError::invalid("exp_year", "exp_year is a four-digit year"));
        }
    }
    let last4 = body.last4.unwrap_or_default();
    if !(last4.is_empty() || (last4.len() == 4 && last4.chars().all(|c| c.is_ascii_digit()))) {
        return Err(ApiError::invalid("last4", "last4 is four digits"));
    }
    super::check_len("brand", &body.brand, 40)?;
    Ok(PaymentMethodRow {
        provider_customer,
        exp_month: body.exp_month,
        exp_year: body.exp_year,
        ..base(&provider, token, body.brand.as_deref().unwrap_or(""), &last4)
    })
}

#[utoipa::path(post, path = "/v1/customers/{id}/payment_methods", tag = "payments", request_body = PaymentMethodCreate,
    params(("id" = String, Path, description = "Customer id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = PaymentMethod, description = "Saved, and now the default"),
              (status = 400, body = crate::error::ErrorEnvelope), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn add_payment_method(
    State(state): State<AppState>,
    caller: Caller,
    Idem(idem): Idem,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PaymentMethodCreate>,
) -> ApiResult<Response> {
    let row = super::customers::load_live(&state, &caller, &id).await?;
    let now = state.now_ms();
    let m = provider_method(&state, caller.livemode, &row.id, body, now)?;
    let mut tx = state.db.begin().await?;
    dunning::add_default_method(&mut tx, &m).await?;
    let out = render_pm(m);
    events::emit(
        &mut tx,
        caller.livemode,
        "payment_method.attached",
        &row.id,
        &serde_json::to_value(&out).unwrap_or_default(),
        now,
    )
    .await?;
    commit_json(tx, idem.as_ref(), StatusCode::OK, &out).await
}

#[utoipa::path(get, path = "/v1/customers/{id}/payment_methods", tag = "payments",
    params(("id" = String, Path, description = "Customer id")),
    responses((status = 200, body = Vec<PaymentMethod>), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn list_payment_methods(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<PaymentMethod>>> {
    let row = super::customers::load_live(&state, &caller, &id).await?;
    let rows = dunning::methods_of(state.db.reader(), &row.id).await?;
    Ok(Json(rows.into_iter().map(render_pm).collect()))
}

#[utoipa::path(delete, path = "/v1/customers/{id}/payment_methods/{method}", tag = "payments",
    params(("id" = String, Path, description = "Customer id"), ("method" = String, Path, description = "Payment method id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = Vec<PaymentMethod>, description = "The methods left (the newest becomes the default when the default was removed)"),
              (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn delete_payment_method(
    State(state): State<AppState>,
    caller: Caller,
    Idem(idem): Idem,
    Path((id, method)): Path<(String, String)>,
) -> ApiResult<Response> {
    let row = super::customers::load_live(&state, &caller, &id).await?;
    let (tx, left) = detach_for(&state, caller.livemode, &row.id, &method).await?;
    commit_json(tx, idem.as_ref(), StatusCode::OK, &left).await
}

/// Removes one of a customer's saved methods (the newest left becomes the
/// default when the default went); returns the transaction to commit in and
/// the methods left.
pub(crate) async fn detach_for(
    state: &AppState,
    livemode: bool,
    customer_id: &str,
    method: &str,
) -> ApiResult<(Tx, Vec<PaymentMethod>)> {
    let mut tx = state.db.begin().await?;
    if !dunning::delete_method(&mut tx, customer_id, method, state.now_ms()).await? {
        return Err(ApiError::not_found("method", "payment method", method));
    }
    let detached = serde_json::json!({"id": method});
    events::emit(&mut tx, livemode, "payment_method.detached", customer_id, &detached, state.now_ms()).await?;
    let left = dunning::methods_of(&mut *tx, customer_id).await?.into_iter().map(render_pm).collect();
    Ok((tx, left))
}

#[utoipa::path(post, path = "/v1/customers/{id}/payment_methods/{method}/default", tag = "payments",
    params(("id" = String, Path, description = "Customer id"), ("method" = String, Path, description = "Payment method id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = Vec<PaymentMethod>), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn default_payment_method(
    State(state): State<AppState>,
    caller: Caller,
    Idem(idem): Idem,
    Path((id, method)): Path<(String, String)>,
) -> ApiResult<Response> {
    let row = super::customers::load_live(&state, &caller, &id).await?;
    let (tx, all) = make_default_for(&state, &row.id, &method).await?;
    commit_json(tx, idem.as_ref(), StatusCode::OK, &all).await
}

/// Makes one of a customer's saved methods the one renewals charge; returns
/// the transaction to commit in and all the methods.
pub(crate) async fn make_default_for(
    state: &AppState,
    customer_id: &str,
    method: &str,
) -> ApiResult<(Tx, Vec<PaymentMethod>)> {
    let mut tx = state.db.begin().await?;
    if !dunning::set_default_method(&mut tx, customer_id, method).await? {
        return Err(ApiError::not_found("method", "payment method", method));
    }
    let all = dunning::methods_of(&mut *tx, customer_id).await?.into_iter().map(render_pm).collect();
    Ok((tx, all))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Payment {
    pub id: String,
    /// Always `payment`.
    pub object: &'static str,
    pub livemode: bool,
    pub customer: String,
    pub invoice: Option<String>,
    pub provider: String,
    pub provider_payment_id: Option<String>,
    pub amount: i64,
    pub currency: String,
    pub amount_refunded: i64,
    pub fee: Option<i64>,
    /// pending, processing, requires_action, completed, failed, refunded or cancelled.
    pub status: String,
    pub failure_code: Option<String>,
    pub failure_message: Option<String>,
    pub payment_method: Option<PaymentMethodSummary>,
    pub description: String,
    pub created: i64,
    pub completed_at: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentMethodSummary {
    pub id: Option<String>,
    pub brand: Option<String>,
    pub last4: Option<String>,
    pub exp_month: Option<i64>,
    pub exp_year: Option<i64>,
}

pub fn render_payment(p: PaymentRow) -> Payment {
    Payment {
        payment_method: (p.method_id.is_some() || p.method_last4.is_some()).then(|| PaymentMethodSummary {
            id: p.method_id.clone(),
            brand: p.method_brand.clone(),
            last4: p.method_last4.clone(),
            exp_month: p.method_exp_month,
            exp_year: p.method_exp_year,
        }),
        id: p.id,
        object: "payment",
        livemode: p.livemode,
        customer: p.customer_id,
        invoice: p.invoice_id,
        provider: p.provider,
        provider_payment_id: p.provider_payment_id,
        amount: p.amount,
        currency: p.currency,
        amount_refunded: p.amount_refunded,
        fee: p.fee,
        status: p.status,
        failure_code: p.failure_code,
        failure_message: p.failure_message,
        description: p.description,
        created: secs(p.created_at),
        completed_at: p.completed_at.map(secs),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PaymentListParams {
    pub limit: Option<String>,
    pub starting_after: Option<String>,
    pub customer: Option<String>,
    pub invoice: Option<String>,
    /// `pending`, `processing`, `requires_action`, `completed`, `failed`,
    /// `refunded` or `cancelled`.
    pub status: Option<String>,
}

/// The statuses a payment can have.
pub const PAYMENT_STATUSES: [&str; 7] =
    ["pending", "processing", "requires_action", "completed", "failed", "refunded", "cancelled"];

#[utoipa::path(get, path = "/v1/payments", tag = "payments", params(PaymentListParams),
    responses((status = 200, body = ListResponse<Payment>), (status = 400, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn list_payments(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<PaymentListParams>,
) -> ApiResult<Json<ListResponse<Payment>>> {
    let page = ListParams { limit: q.limit, starting_after: q.starting_after };
    let limit = page.limit()?;
    if let Some(s) = q.status.as_deref().filter(|s| !PAYMENT_STATUSES.contains(s)) {
        return Err(ApiError::invalid(
            "status",
            format!("unknown status `{s}`; one of {}", PAYMENT_STATUSES.join(", ")),
        ));
    }
    let rows = store::list(
        state.db.reader(),
        caller.livemode,
        q.customer.as_deref(),
        q.invoice.as_deref(),
        q.status.as_deref(),
        page.starting_after.as_deref(),
        limit + 1,
    )
    .await?;
    let data = rows.into_iter().map(render_payment).collect();
    Ok(Json(ListResponse::from_rows(data, limit, "/v1/payments")))
}

#[utoipa::path(get, path = "/v1/payments/{id}", tag = "payments",
    params(("id" = String, Path, description = "Payment id")),
    responses((status = 200, body = Payment), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn get_payment(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Payment>> {
    let not_found = || ApiError::not_found("id", "payment", &id);
    if !is_valid(IdKind::Payment, &id) {
        return Err(not_found());
    }
    let p =
        store::get(state.db.reader(), &id).await?.filter(|p| p.livemode == caller.livemode).ok_or_else(not_found)?;
    Ok(Json(render_payment(p)))
}
