//! Subscriptions and invoices over HTTP.

use super::{commit_json, secs, ListResponse};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery, Caller, ListParams};
use crate::middleware::Idem;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use bursar_core::billing::{self, LineDraft};
use bursar_domain::catalog::Interval;
use bursar_domain::id::{is_valid, new_id, IdKind};
use bursar_domain::money::Currency;
use bursar_domain::subscription::Status;
use bursar_store::billing::{self as store, InvoiceRow, LineRow, SubscriptionRow};
use bursar_store::catalog::{self, PlanRow, PriceRow};
use bursar_store::customers::{self, CustomerRow};
use bursar_store::Tx;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_subscription, list_subscriptions))
        .routes(routes!(get_subscription))
        .routes(routes!(preview_change))
        .routes(routes!(change_subscription))
        .routes(routes!(cancel_subscription))
        .routes(routes!(pause_subscription))
        .routes(routes!(resume_subscription))
        .routes(routes!(reactivate_subscription))
        .routes(routes!(list_invoices))
        .routes(routes!(get_invoice))
        .routes(routes!(refund_invoice))
        .routes(routes!(pay_invoice))
        .routes(routes!(run_billing))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Subscription {
    pub id: String,
    /// Always `subscription`.
    pub object: &'static str,
    pub livemode: bool,
    pub customer: String,
    pub plan: String,
    pub price: String,
    pub currency: String,
    pub interval: String,
    pub quantity: i64,
    /// trialing, active, past_due, paused, canceled or unpaid.
    pub status: String,
    pub current_period_start: i64,
    pub current_period_end: i64,
    pub trial_end: Option<i64>,
    pub cancel_at_period_end: bool,
    pub canceled_at: Option<i64>,
    pub pause_resumes_at: Option<i64>,
    /// A downgrade scheduled for the end of the period.
    pub pending_plan: Option<String>,
    pub pending_price: Option<String>,
    /// The coupon applied to this subscription's invoices, if any.
    pub coupon: Option<String>,
    /// Regular invoices the coupon still covers (`null` with a coupon: for ever).
    pub discount_invoices_left: Option<i64>,
    pub created: i64,
}

pub fn render_sub(s: SubscriptionRow) -> Subscription {
    Subscription {
        id: s.id,
        object: "subscription",
        livemode: s.livemode,
        customer: s.customer_id,
        plan: s.plan_id,
        price: s.price_id,
        currency: s.currency,
        interval: s.interval,
        quantity: s.quantity,
        status: s.status,
        current_period_start: secs(s.current_period_start),
        current_period_end: secs(s.current_period_end),
        trial_end: s.trial_end.map(secs),
        cancel_at_period_end: s.cancel_at_period_end,
        canceled_at: s.canceled_at.map(secs),
        pause_resumes_at: s.pause_resumes_at.map(secs),
        pending_plan: s.pending_plan_id,
        pending_price: s.pending_price_id,
        coupon: s.coupon_id,
        discount_invoices_left: s.discount_invoices_left,
        created: secs(s.created_at),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InvoiceLine {
    pub id: String,
    /// plan, proration, one_off, discount or usage.
    pub kind: String,
    pub description: String,
    pub quantity: i64,
    pub unit_amount: i64,
    pub amount: i64,
    pub price: Option<String>,
    pub period_start: Option<i64>,
    pub period_end: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Invoice {
    pub id: String,
    /// Always `invoice`.
    pub object: &'static str,
    pub livemode: bool,
    /// Gapless per series, e.g. `INV-2026-000042`.
    pub number: Option<String>,
    pub customer: String,
    pub subscription: Option<String>,
    /// draft, open, paid, void or uncollectible.
    pub status: String,
    /// subscription_create, subscription_cycle, subscription_update, manual.
    pub billing_reason: String,
    pub currency: String,
    pub subtotal: i64,
    pub tax: i64,
    pub total: i64,
    /// `exclusive` (tax added to the lines), `inclusive` (tax included in them), or `mixed`: a cart's first
    /// invoice with a tax-inclusive plan beside courses priced before tax.
    pub tax_behavior: String,
    /// The tax decision: jurisdiction, reverse charge and its note, and each tax with rate, taxable amount and amount.
    #[schema(value_type = Object)]
    pub tax_details: serde_json::Value,
    /// Customer credit used before charging.
    pub credit_applied: i64,
    pub amount_due: i64,
    pub amount_paid: i64,
    pub period_start: Option<i64>,
    pub period_end: Option<i64>,
    pub lines: Vec<InvoiceLine>,
    /// Credit notes issued against this invoice (refunds and adjustments).
    pub credit_notes: Vec<CreditNote>,
    /// Sum of the credit notes.
    pub amount_credited: i64,
    /// The customer's billing details as of issue.
    #[schema(value_type = Object)]
    pub customer_details: serde_json::Value,
    pub created: i64,
    pub finalized_at: Option<i64>,
    pub paid_at: Option<i64>,
    pub voided_at: Option<i64>,
    /// Free text shown on the invoice.
    pub description: Option<String>,
    /// `charge_automatically` or `send_invoice`.
    pub collection_method: String,
    /// When a sent invoice is due (seconds).
    pub due_date: Option<i64>,
}

fn render_line(l: LineRow) -> InvoiceLine {
    InvoiceLine {
        id: l.id,
        kind: l.kind,
        description: l.description,
        quantity: l.quantity,
        unit_amount: l.unit_amount,
        amount: l.amount,
        price: l.price_id,
        period_start: l.period_start.map(secs),
        period_end: l.period_end.map(secs),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreditNote {
    pub id: String,
    /// Always `credit_note`.
    pub object: &'static str,
    /// Gapless per series, e.g. `CN-2026-000001`.
    pub number: String,
    pub invoice: String,
    pub currency: String,
    pub subtotal: i64,
    pub tax: i64,
    pub total: i64,
    /// `payment_method` or `credit_balance`.
    pub refund_to: String,
    pub reason: String,
    #[schema(value_type = Object)]
    pub tax_details: serde_json::Value,
    pub created: i64,
    /// `issued`, or `void` when the refund it records was refused by the
    /// provider (it then credits nothing).
    pub status: String,
}

fn render_cn(c: store::CreditNoteRow) -> CreditNote {
    CreditNote {
        id: c.id,
        object: "credit_note",
        number: c.number,
        invoice: c.invoice_id,
        currency: c.currency,
        subtotal: c.subtotal,
        tax: c.tax,
        total: c.total,
        refund_to: c.refund_to,
        reason: c.reason,
        tax_details: serde_json::from_str(&c.tax_details).unwrap_or_default(),
        created: secs(c.created_at),
        status: c.status,
    }
}

pub fn render_invoice(i: InvoiceRow, lines: Vec<LineRow>, notes: Vec<store::CreditNoteRow>) -> Invoice {
    let amount_credited = notes.iter().map(|n| n.credited()).sum();
    Invoice {
        credit_notes: notes.into_iter().map(render_cn).collect(),
        amount_credited,
        id: i.id,
        object: "invoice",
        livemode: i.livemode,
        number: i.number,
        customer: i.customer_id,
        subscription: i.subscription_id,
        status: i.status,
        billing_reason: i.billing_reason,
        currency: i.currency,
        subtotal: i.subtotal,
        tax: i.tax,
        total: i.total,
        tax_behavior: i.tax_behavior,
        tax_details: serde_json::from_str(&i.tax_details).unwrap_or_default(),
        credit_applied: i.credit_applied,
        amount_due: i.amount_due,
        amount_paid: i.amount_paid,
        period_start: i.period_start.map(secs),
        period_end: i.period_end.map(secs),
        lines: lines.into_iter().map(render_line).collect(),
        customer_details: serde_json::from_str(&i.customer_snapshot).unwrap_or_default(),
        created: secs(i.created_at),
        finalized_at: i.finalized_at.map(secs),
        paid_at: i.paid_at.map(secs),
        voided_at: i.voided_at.map(secs),
        description: i.description,
        collection_method: i.collection_method,
        due_date: i.due_at.map(secs),
    }
}

pub(crate) async fn invoice_out(tx: &mut Tx, inv: InvoiceRow) -> ApiResult<Invoice> {
    let lines = store::lines_of(&mut **tx, &inv.id).await?;
    let notes = store::credit_notes_of(&mut **tx, inv.livemode, &inv.id).await?;
    Ok(render_invoice(inv, lines, notes))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionCreate {
    /// Customer id.
    pub customer: String,
    /// Plan id or code.
    pub plan: String,
    /// `month` (default) or `year`.
    pub interval: Option<String>,
    /// ISO 4217; defaults to the customer's billing currency.
    pub currency: Option<String>,
    /// Seats; default 1.
    pub quantity: Option<i64>,
    /// Start with the plan's trial when it has one (default true).
    pub trial: Option<bool>,
    /// A coupon code to redeem for this subscription.
    pub coupon: Option<String>,
}

async fn load_customer(
    state: &AppState,
    tx: &mut Tx,
    caller: &Caller,
    id: &str,
    param: &str,
) -> ApiResult<CustomerRow> {
    if !is_valid(IdKind::Customer, id) {
        return Err(ApiError::not_found(param, "customer", id));
    }
    customers::lock(tx, state.db.for_update(), caller.livemode, id).await?;
    customers::get(&mut **tx, caller.livemode, id)
        .await?
        .filter(|c| c.deleted_at.is_none())
        .ok_or_else(|| ApiError::not_found(param, "customer", id))
}

async fn load_plan(tx: &mut Tx, caller: &Caller, key: &str) -> ApiResult<PlanRow> {
    let row = if is_valid(IdKind::Plan, key) {
        catalog::plan_by_id(&mut **tx, caller.livemode, key).await?
    } else {
        catalog::plan_by_code(&mut **tx, caller.livemode, key).await?
    };
    row.filter(|p| p.active).ok_or_else(|| ApiError::not_found("plan", "plan", key))
}

/// The active price of a plan in a currency and interval, or a 400 naming
/// what is missing.
async fn price_for(
    tx: &mut Tx,
    caller: &Caller,
    plan: &PlanRow,
    currency: &str,
    interval: &str,
) -> ApiResult<PriceRow> {
    catalog::prices_of(&mut **tx, caller.livemode, Some(&plan.id), false)
        .await?
        .into_iter()
        .find(|p| p.currency == currency && p.interval == interval)
        .ok_or_else(|| {
            ApiError::invalid("plan", format!("plan `{}` has no {interval}ly price in {currency}", plan.code))
        })
}

fn check_quantity(q: Option<i64>) -> ApiResult<i64> {
    match q {
        None => Ok(1),
        Some(n) if (1..=100_000).contains(&n) => Ok(n),
        Some(_) => Err(ApiError::invalid("quantity", "quantity must be 1 to 100000")),
    }
}

#[utoipa::path(post, path = "/v1/subscriptions", tag = "subscriptions", request_body = SubscriptionCreate,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = Subscription), (status = 400, body = crate::error::ErrorEnvelope),
              (status = 404, body = crate::error::ErrorEnvelope), (status = 409, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn create_subscription(
    State(state): State<AppState>,
    caller: Caller,
    Idem(idem): Idem,
    ApiJson(body): ApiJson<SubscriptionCreate>,
) -> ApiResult<Response> {
    let interval = Interval::parse(body.interval.as_deref().unwrap_or("month"))
        .ok_or_else(|| ApiError::invalid("interval", "interval must be `month` or `year`"))?;
    let quantity = check_quantity(body.quantity)?;
    let currency = match &body.currency {
        Some(c) => Some(
            Currency::from_code(c)
                .map_err(|_| ApiError::invalid("currency", format!("unknown currency `{c}`")))?
                .code()
                .to_string(),
        ),
        None => None,
    };
    let mut tx = state.db.begin().await?;
    let customer = load_customer(&state, &mut tx, &caller, &body.customer, "customer").await?;
    let plan = load_plan(&mut tx, &caller, &body.plan).await?;
    let currency = currency.unwrap_or_else(|| super::customers::billing_currency_of(&customer).code().to_string());
    let price = price_for(&mut tx, &caller, &plan, &currency, interval.as_str()).await?;
    for s in store::subscriptions_of(&mut *tx, caller.livemode, &customer.id).await? {
        let live = Status::parse(&s.status).is_some_and(|st| !st.is_terminal());
        let same_product = catalog::plan_by_id(&mut *tx, caller.livemode, &s.plan_id)
            .await?
            .is_some_and(|p| p.product_id == plan.product_id);
        if live && same_product {
            return Err(ApiError::conflict(
                "subscription_exists",
                format!("customer already has subscription {} to this product; change its plan instead", s.id),
            )
            .with_param("customer"));
        }
    }
    let now = billing::now_for(&mut tx, &customer, state.now_ms()).await?;
    let sub = billing::create(
        &mut tx,
        &state.billing_settings(),
        &customer,
        &plan,
        &price,
        quantity,
        body.trial.unwrap_or(true),
        body.coupon.as_deref(),
        now,
    )
    .await?;
    let mut tx = super::commit_and_collect(&state, tx, &customer.id, now).await?;
    let sub = store::subscription(&mut tx, caller.livemode, &sub.id, "").await?.ok_or_else(ApiError::internal)?;
    commit_json(tx, idem.as_ref(), StatusCode::OK, &render_sub(sub)).await
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SubscriptionListParams {
    pub limit: Option<String>,
    pub starting_after: Option<String>,
    pub customer: Option<String>,
    pub status: Option<String>,
}

#[utoipa::path(get, path = "/v1/subscriptions", tag = "subscriptions", params(SubscriptionListParams),
    responses((status = 200, body = ListResponse<Subscription>), (status = 400, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn list_subscriptions(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<SubscriptionListParams>,
) -> ApiResult<Json<ListResponse<Subscription>>> {
    let page = ListParams { limit: q.limit, starting_after: q.starting_after };
    let limit = page.limit()?;
    if let Some(s) = &q.status {
        if Status::parse(s).is_none() {
            return Err(ApiError::invalid("status", format!("unknown status `{s}`")));
        }
    }
    let rows = store::list_subscriptions(
        state.db.reader(),
        caller.livemode,
        q.customer.as_deref(),
        q.status.as_deref(),
        page.starting_after.as_deref(),
        limit + 1,
    )
    .await?;
    Ok(Json(ListResponse::from_rows(rows.into_iter().map(render_sub).collect(), limit, "/v1/subscriptions")))
}

async fn lock_sub(state: &AppState, tx: &mut Tx, caller: &Caller, id: &str) -> ApiResult<SubscriptionRow> {
    if !is_valid(IdKind::Subscription, id) {
        return Err(ApiError::not_found("id", "subscription", id));
    }
    store::subscription(tx, caller.livemode, id, state.db.for_update())
        .await?
        .ok_or_else(|| ApiError::not_found("id", "subscription", id))
}

/// Locks the subscription, brings it up to its customer's now, and returns
/// both.
async fn current(
    state: &AppState,
    tx: &mut Tx,
    caller: &Caller,
    id: &str,
) -> ApiResult<(SubscriptionRow, CustomerRow, i64)> {
    let mut sub = lock_sub(state, tx, caller, id).await?;
    let customer =
        customers::get(&mut **tx, caller.livemode, &sub.customer_id).await?.ok_or_else(ApiError::internal)?;
    let now = billing::now_for(tx, &customer, state.now_ms()).await?;
    billing::advance(tx, &state.billing_settings(), &mut sub, now).await?;
    Ok((sub, customer, now))
}

#[utoipa::path(get, path = "/v1/subscriptions/{id}", tag = "subscriptions",
    params(("id" = String, Path, description = "Subscription id")),
    responses((status = 200, body = Subscription), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn get_subscription(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Subscription>> {
    if !is_valid(IdKind::Subscription, &id) {
        return Err(ApiError::not_found("id", "subscription", &id));
    }
    let mut conn = state.db.reader().acquire().await?;
    let sub = store::subscription(&mut conn, caller.livemode, &id, "")
        .await?
        .ok_or_else(|| ApiError::not_found("id", "subscription", &id))?;
    Ok(Json(render_sub(sub)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionChange {
    /// Plan id or code to move to (the current plan for a quantity change).
    pub plan: Option<String>,
    pub quantity: Option<i64>,
    /// Apply at the end of the period instead of now (downgrades).
    pub at_period_end: Option<bool>,
    /// A coupon code to redeem with the change (applies to the proration and the following invoices).
    pub coupon: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChangePreview {
    /// Always `subscription_change_preview`.
    pub object: &'static str,
    pub currency: String,
    #[schema(value_type = Vec<Object>)]
    pub lines: Vec<LineDraft>,
    /// Net of tax.
    pub subtotal: i64,
    pub tax: i64,
    /// What the invoice would total; negative means a credit to the customer's balance.
    pub total: i64,
    /// Credit balance that would be applied first.
    pub credit_applied: i64,
    /// What would be charged now.
    pub amount_due: i64,
    /// Unix seconds the preview is computed at.
    pub proration_date: i64,
}

async fn change_target(
    tx: &mut Tx,
    caller: &Caller,
    sub: &SubscriptionRow,
    body: &SubscriptionChange,
) -> ApiResult<(PlanRow, PriceRow, i64)> {
    let quantity = match body.quantity {
        None => sub.quantity,
        q => check_quantity(q)?,
    };
    let plan = match &body.plan {
        None => catalog::plan_by_id(&mut **tx, caller.livemode, &sub.plan_id).await?.ok_or_else(ApiError::internal)?,
        Some(p) => load_plan(tx, caller, p).await?,
    };
    let price = price_for(tx, caller, &plan, &sub.currency, &sub.interval).await?;
    if price.id == sub.price_id && quantity == sub.quantity {
        return Err(ApiError::invalid("plan", "the subscription is already on this plan and quantity"));
    }
    let status = Status::parse(&sub.status).ok_or_else(ApiError::internal)?;
    if !matches!(status, Status::Trialing | Status::Active) {
        return Err(ApiError::invalid("id", format!("a {} subscription cannot change plan", status.as_str())));
    }
    Ok((plan, price, quantity))
}

#[utoipa::path(post, path = "/v1/subscriptions/{id}/preview_change", tag = "subscriptions", request_body = SubscriptionChange,
    params(("id" = String, Path, description = "Subscription id")),
    responses((status = 200, body = ChangePreview), (status = 400, body = crate::error::ErrorEnvelope), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn preview_change(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<SubscriptionChange>,
) -> ApiResult<Json<ChangePreview>> {
    Ok(Json(preview_for(&state, &caller, &id, &body).await?))
}

/// What a change would invoice now, without changing anything.
pub(crate) async fn preview_for(
    state: &AppState,
    caller: &Caller,
    id: &str,
    body: &SubscriptionChange,
) -> ApiResult<ChangePreview> {
    let mut tx = state.db.begin().await?;
    let (mut sub, customer, now) = current(state, &mut tx, caller, id).await?;
    let (plan, price, quantity) = change_target(&mut tx, caller, &sub, body).await?;
    // The coupon is checked and redeemed as the change would, inside this
    // transaction, so the discount shows and a coupon that would be refused
    // is refused here too.
    if let Some(code) = &body.coupon {
        if sub.coupon_id.is_some() {
            return Err(ApiError::invalid("coupon", "the subscription already has a coupon"));
        }
        let amount =
            price.amount.checked_mul(quantity).ok_or_else(|| ApiError::invalid("quantity", "amount out of range"))?;
        billing::redeem(&mut tx, &customer, &mut sub, code, &plan, amount, now).await?;
    }
    let out = if body.at_period_end.unwrap_or(false) || sub.status == Status::Trialing.as_str() {
        ChangePreview {
            object: "subscription_change_preview",
            currency: sub.currency.clone(),
            lines: Vec::new(),
            subtotal: 0,
            tax: 0,
            total: 0,
            credit_applied: 0,
            amount_due: 0,
            proration_date: secs(now),
        }
    } else {
        let settings = state.billing_settings();
        let (inv, lines) =
            billing::preview_change(&mut tx, &settings, &mut sub, &customer, &plan, &price, quantity, now).await?;
        ChangePreview {
            object: "subscription_change_preview",
            currency: inv.currency,
            lines,
            subtotal: inv.subtotal,
            tax: inv.tax,
            total: inv.total,
            credit_applied: inv.credit_applied,
            amount_due: inv.amount_due,
            proration_date: secs(now),
        }
    };
    // A preview changes nothing: the transaction (which may have caught the
    // subscription up to now, and redeemed the coupon) is rolled back.
    drop(tx);
    Ok(out)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChangeResult {
    pub subscription: Subscription,
    /// The proration invoice, when the change applied now.
    pub invoice: Option<Invoice>,
}

#[utoipa::path(post, path = "/v1/subscriptions/{id}/change", tag = "subscriptions", request_body = SubscriptionChange,
    params(("id" = String, Path, description = "Subscription id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = ChangeResult), (status = 400, body = crate::error::ErrorEnvelope), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn change_subscription(
    State(state): State<AppState>,
    caller: Caller,
    Idem(idem): Idem,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<SubscriptionChange>,
) -> ApiResult<Response> {
    let (tx, out) = change_for(&state, &caller, &id, &body).await?;
    commit_json(tx, idem.as_ref(), StatusCode::OK, &out).await
}

/// Changes a subscription's plan or quantity (now with a proration
/// invoice, or at the period's end); returns the transaction to commit in.
pub(crate) async fn change_for(
    state: &AppState,
    caller: &Caller,
    id: &str,
    body: &SubscriptionChange,
) -> ApiResult<(Tx, ChangeResult)> {
    let mut tx = state.db.begin().await?;
    let (mut sub, customer, now) = current(state, &mut tx, caller, id).await?;
    let (plan, price, quantity) = change_target(&mut tx, caller, &sub, body).await?;
    if let Some(code) = &body.coupon {
        if sub.coupon_id.is_some() {
            return Err(ApiError::invalid("coupon", "the subscription already has a coupon"));
        }
        let amount =
            price.amount.checked_mul(quantity).ok_or_else(|| ApiError::invalid("quantity", "amount out of range"))?;
        billing::redeem(&mut tx, &customer, &mut sub, code, &plan, amount, now).await?;
    }
    let invoice = if body.at_period_end.unwrap_or(false) {
        if quantity != sub.quantity {
            return Err(ApiError::invalid("quantity", "quantity changes apply now; leave out at_period_end"));
        }
        sub.pending_plan_id = Some(plan.id.clone());
        sub.pending_price_id = Some(price.id.clone());
        sub.updated_at = now;
        store::save_subscription(&mut tx, &sub).await?;
        None
    } else {
        billing::change_now(&mut tx, &state.billing_settings(), &mut sub, &plan, &price, quantity, now).await?
    };
    let mut tx = super::commit_and_collect(state, tx, &customer.id, now).await?;
    let sub = store::subscription(&mut tx, caller.livemode, &sub.id, "").await?.ok_or_else(ApiError::internal)?;
    let invoice = match invoice {
        Some(i) => {
            let fresh = store::invoice(&mut *tx, caller.livemode, &i.id).await?.ok_or_else(ApiError::internal)?;
            Some(invoice_out(&mut tx, fresh).await?)
        }
        None => None,
    };
    let out = ChangeResult { subscription: render_sub(sub), invoice };
    Ok((tx, out))
}

/// Reasons a learner gives for leaving.
const REASONS: &[&str] = &[
    "too_expensive",
    "missing_features",
    "switched_service",
    "unused",
    "customer_service",
    "too_complex",
    "low_quality",
    "other",
];

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionCancel {
    /// Cancel at the end of the period (default) or now.
    pub at_period_end: Option<bool>,
    /// too_expensive, missing_features, switched_service, unused, customer_service, too_complex, low_quality, other.
    pub reason: Option<String>,
    pub comments: Option<String>,
    pub would_return: Option<bool>,
    /// Cancel even though a save offer applies.
    pub decline_offer: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SaveOffer {
    /// `pause`.
    #[serde(rename = "type")]
    pub offer_type: &'static str,
    /// Pause lengths on offer, in months.
    pub months: Vec<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CancelResult {
    /// `canceled`, `scheduled` (at period end) or `offer` (nothing changed; a save offer is made).
    pub outcome: &'static str,
    pub offer: Option<SaveOffer>,
    pub subscription: Subscription,
}

#[utoipa::path(post, path = "/v1/subscriptions/{id}/cancel", tag = "subscriptions", request_body = SubscriptionCancel,
    params(("id" = String, Path, description = "Subscription id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = CancelResult), (status = 400, body = crate::error::ErrorEnvelope), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn cancel_subscription(
    State(state): State<AppState>,
    caller: Caller,
    Idem(idem): Idem,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<SubscriptionCancel>,
) -> ApiResult<Response> {
    let (tx, out) = cancel_for(&state, &caller, &id, &body).await?;
    commit_json(tx, idem.as_ref(), StatusCode::OK, &out).await
}

/// Cancels a subscription with the learner's feedback, or answers with a
/// save offer; returns the transaction to commit in.
pub(crate) async fn cancel_for(
    state: &AppState,
    caller: &Caller,
    id: &str,
    body: &SubscriptionCancel,
) -> ApiResult<(Tx, CancelResult)> {
    if let Some(r) = &body.reason {
        if !REASONS.contains(&r.as_str()) {
            return Err(ApiError::invalid("reason", format!("unknown reason `{r}`; one of {}", REASONS.join(", "))));
        }
    }
    super::check_len("comments", &body.comments, 2000)?;
    let mut tx = state.db.begin().await?;
    let (mut sub, _customer, now) = current(state, &mut tx, caller, id).await?;
    let at_period_end = body.at_period_end.unwrap_or(true);
    let offer_applies = body.reason.as_deref() == Some("too_expensive")
        && !body.decline_offer.unwrap_or(false)
        && sub.status == Status::Active.as_str();
    let outcome = if offer_applies {
        "offer"
    } else {
        billing::cancel(&mut tx, &mut sub, at_period_end, now).await?;
        if at_period_end {
            "scheduled"
        } else {
            "canceled"
        }
    };
    if let Some(reason) = &body.reason {
        store::insert_feedback(
            &mut tx,
            &new_id(IdKind::Feedback),
            caller.livemode,
            &sub.id,
            reason,
            body.comments.as_deref(),
            body.would_return,
            offer_applies.then_some("pause"),
            outcome,
            now,
        )
        .await?;
    }
    let out = CancelResult {
        outcome,
        offer: offer_applies.then(|| SaveOffer { offer_type: "pause", months: vec![1, 2, 3] }),
        subscription: render_sub(sub),
    };
    Ok((tx, out))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionPause {
    /// 1 to 3.
    pub months: u32,
}

#[utoipa::path(post, path = "/v1/subscriptions/{id}/pause", tag = "subscriptions", request_body = SubscriptionPause,
    params(("id" = String, Path, description = "Subscription id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = Subscription), (status = 400, body = crate::error::ErrorEnvelope), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn pause_subscription(
    State(state): State<AppState>,
    caller: Caller,
    Idem(idem): Idem,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<SubscriptionPause>,
) -> ApiResult<Response> {
    let (tx, out) = pause_for(&state, &caller, &id, body.months).await?;
    commit_json(tx, idem.as_ref(), StatusCode::OK, &out).await
}

/// Pauses a subscription for 1 to 3 months; returns the transaction to
/// commit in.
pub(crate) async fn pause_for(
    state: &AppState,
    caller: &Caller,
    id: &str,
    months: u32,
) -> ApiResult<(Tx, Subscription)> {
    let mut tx = state.db.begin().await?;
    let (mut sub, _customer, now) = current(state, &mut tx, caller, id).await?;
    billing::pause(&mut tx, &state.billing_settings(), &mut sub, months, now).await?;
    Ok((tx, render_sub(sub)))
}

#[utoipa::path(post, path = "/v1/subscriptions/{id}/resume", tag = "subscriptions",
    params(("id" = String, Path, description = "Subscription id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = Subscription), (status = 400, body = crate::error::ErrorEnvelope), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn resume_subscription(
    State(state): State<AppState>,
    caller: Caller,
    Idem(idem): Idem,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let mut tx = state.db.begin().await?;
    let (mut sub, customer, now) = current(&state, &mut tx, &caller, &id).await?;
    if sub.status != Status::Paused.as_str() {
        return Err(ApiError::invalid("id", format!("a {} subscription cannot be resumed", sub.status)));
    }
    sub.pause_resumes_at = Some(now);
    billing::advance(&mut tx, &state.billing_settings(), &mut sub, now).await?;
    let mut tx = super::commit_and_collect(&state, tx, &customer.id, now).await?;
    let sub = store::subscription(&mut tx, caller.livemode, &sub.id, "").await?.ok_or_else(ApiError::internal)?;
    commit_json(tx, idem.as_ref(), StatusCode::OK, &render_sub(sub)).await
}

#[utoipa::path(post, path = "/v1/subscriptions/{id}/reactivate", tag = "subscriptions",
    params(("id" = String, Path, description = "Subscription id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = Subscription), (status = 400, body = crate::error::ErrorEnvelope), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn reactivate_subscription(
    State(state): State<AppState>,
    caller: Caller,
    Idem(idem): Idem,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let (tx, out) = reactivate_for(&state, &caller, &id).await?;
    commit_json(tx, idem.as_ref(), StatusCode::OK, &out).await
}

/// Takes back a scheduled cancellation, or starts a canceled subscription
/// again; returns the transaction to commit in.
pub(crate) async fn reactivate_for(state: &AppState, caller: &Caller, id: &str) -> ApiResult<(Tx, Subscription)> {
    let mut tx = state.db.begin().await?;
    let (mut sub, _customer, now) = current(state, &mut tx, caller, id).await?;
    if sub.cancel_at_period_end {
        sub.cancel_at_period_end = false;
        sub.updated_at = now;
        store::save_subscription(&mut tx, &sub).await?;
    } else if sub.status == Status::Canceled.as_str() {
        billing::reactivate(&mut tx, &state.billing_settings(), &mut sub, now).await?;
    } else {
        return Err(ApiError::invalid(
            "id",
            format!("a {} subscription not set to cancel has nothing to reactivate", sub.status),
        ));
    }
    Ok((tx, render_sub(sub)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct InvoiceListParams {
    pub limit: Option<String>,
    pub starting_after: Option<String>,
    pub customer: Option<String>,
    pub subscription: Option<String>,
}

#[utoipa::path(get, path = "/v1/invoices", tag = "invoices", params(InvoiceListParams),
    responses((status = 200, body = ListResponse<Invoice>), (status = 400, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn list_invoices(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<InvoiceListParams>,
) -> ApiResult<Json<ListResponse<Invoice>>> {
    let page = ListParams { limit: q.limit, starting_after: q.starting_after };
    let limit = page.limit()?;
    let rows = store::list_invoices(
        state.db.reader(),
        caller.livemode,
        q.customer.as_deref(),
        q.subscription.as_deref(),
        page.starting_after.as_deref(),
        limit + 1,
    )
    .await?;
    let mut data = Vec::with_capacity(rows.len());
    for r in rows {
        let lines = store::lines_of(state.db.reader(), &r.id).await?;
        let notes = store::credit_notes_of(state.db.reader(), r.livemode, &r.id).await?;
        data.push(render_invoice(r, lines, notes));
    }
    Ok(Json(ListResponse::from_rows(data, limit, "/v1/invoices")))
}

#[utoipa::path(get, path = "/v1/invoices/{id}", tag = "invoices",
    params(("id" = String, Path, description = "Invoice id")),
    responses((status = 200, body = Invoice), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn get_invoice(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Invoice>> {
    if !is_valid(IdKind::Invoice, &id) {
        return Err(ApiError::not_found("id", "invoice", &id));
    }
    let inv = store::invoice(state.db.reader(), caller.livemode, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("id", "invoice", &id))?;
    let lines = store::lines_of(state.db.reader(), &id).await?;
    let notes = store::credit_notes_of(state.db.reader(), caller.livemode, &id).await?;
    Ok(Json(render_invoice(inv, lines, notes)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvoiceRefund {
    /// Minor units; default: everything not yet credited.
    pub amount: Option<i64>,
    /// `payment_method` (default) or `credit_balance`.
    pub refund_to: Option<String>,
    pub reason: Option<String>,
}

#[utoipa::path(post, path = "/v1/invoices/{id}/refund", tag = "invoices", request_body = InvoiceRefund,
    params(("id" = String, Path, description = "Invoice id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = Invoice), (status = 400, body = crate::error::ErrorEnvelope), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn refund_invoice(
    State(state): State<AppState>,
    caller: Caller,
    Idem(idem): Idem,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<InvoiceRefund>,
) -> ApiResult<Response> {
    let (tx, out) = refund_for(&state, &caller, &id, &body).await?;
    commit_json(tx, idem.as_ref(), StatusCode::OK, &out).await
}

/// Refunds an invoice (all that is left by default) with a credit note;
/// returns the transaction to commit in and the invoice as it now stands.
pub(crate) async fn refund_for(
    state: &AppState,
    caller: &Caller,
    id: &str,
    body: &InvoiceRefund,
) -> ApiResult<(Tx, Invoice)> {
    if !is_valid(IdKind::Invoice, id) {
        return Err(ApiError::not_found("id", "invoice", id));
    }
    let to = billing::RefundTo::parse(body.refund_to.as_deref())?;
    let reason = body.reason.clone().unwrap_or_else(|| "requested_by_customer".into());
    super::check_len("reason", &Some(reason.clone()), 500)?;
    let mut tx = state.db.begin().await?;
    store::lock_invoice(&mut tx, state.db.for_update(), id).await?;
    let inv =
        store::invoice(&mut *tx, caller.livemode, id).await?.ok_or_else(|| ApiError::not_found("id", "invoice", id))?;
    let customer = customers::get(&mut *tx, caller.livemode, &inv.customer_id).await?.ok_or_else(ApiError::internal)?;
    let now = billing::now_for(&mut tx, &customer, state.now_ms()).await?;
    let (credited, _) = billing::credited_so_far(&mut tx, &inv).await?;
    let amount = body.amount.unwrap_or(inv.total - credited);
    let cn = bursar_core::refunds::refund(&mut tx, &inv, amount, to, &reason, None, now).await?;
    let mut tx = send_refunds(state, tx, &cn.id).await?;
    let inv = store::invoice(&mut *tx, caller.livemode, id).await?.ok_or_else(ApiError::internal)?;
    let out = invoice_out(&mut tx, inv).await?;
    Ok((tx, out))
}

/// After a credit note: refunds that go through a provider are sent once
/// it is committed (a sandbox refund is already done). Returns the
/// transaction to answer in: the same one when nothing was sent, else a
/// new one.
pub(crate) async fn send_refunds(
    state: &AppState,
    tx: bursar_store::Tx,
    credit_note: &str,
) -> ApiResult<bursar_store::Tx> {
    let mut tx = tx;
    let pending: Vec<String> =
        sqlx::query_scalar("SELECT id FROM refunds WHERE credit_note_id = $1 AND status = 'pending'")
            .bind(credit_note)
            .fetch_all(&mut *tx)
            .await
            .map_err(bursar_store::DbError::from)?;
    if pending.is_empty() {
        return Ok(tx);
    }
    tx.commit().await?;
    bursar_core::settlement::settle_refunds(&state.db, &state.billing_settings(), &pending, state.now_ms()).await;
    Ok(state.db.begin().await?)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BillingRun {
    /// Always `billing_run`.
    pub object: &'static str,
    /// Period boundaries processed (renewals, trial ends, cancellations, resumptions).
    pub processed: u32,
}

#[utoipa::path(post, path = "/v1/billing/run", tag = "subscriptions",
    responses((status = 200, body = BillingRun)), security(("api_key" = [])))]
async fn run_billing(State(state): State<AppState>, _caller: Caller) -> ApiResult<Json<BillingRun>> {
    let processed =
        bursar_core::billing_run::run_due(&state.db, &state.billing_settings(), state.now_ms(), None, 500).await?;
    Ok(Json(BillingRun { object: "billing_run", processed }))
}

#[utoipa::path(post, path = "/v1/invoices/{id}/pay", tag = "invoices",
    params(("id" = String, Path, description = "Invoice id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = Invoice), (status = 400, body = crate::error::ErrorEnvelope),
              (status = 402, body = crate::error::ErrorEnvelope), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn pay_invoice(
    State(state): State<AppState>,
    caller: Caller,
    Idem(idem): Idem,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    if !is_valid(IdKind::Invoice, &id) {
        return Err(ApiError::not_found("id", "invoice", &id));
    }
    let mut tx = state.db.begin().await?;
    store::lock_invoice(&mut tx, state.db.for_update(), &id).await?;
    let inv = store::invoice(&mut *tx, caller.livemode, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("id", "invoice", &id))?;
    if inv.status != "open" {
        return Err(ApiError::invalid("id", format!("a {} invoice cannot be paid", inv.status)));
    }
    let customer = customers::get(&mut *tx, caller.livemode, &inv.customer_id).await?.ok_or_else(ApiError::internal)?;
    let now = billing::now_for(&mut tx, &customer, state.now_ms()).await?;
    let settings = state.billing_settings();
    let mut tx = match billing::retry_payment(&mut tx, &settings, &id, caller.livemode, now).await? {
        billing::Retry::Paid => tx,
        billing::Retry::Failed | billing::Retry::Skipped => {
            // The failed attempt is recorded: commit it, then report the decline.
            tx.commit().await?;
            return Err(billing::declined(&inv).into());
        }
        billing::Retry::Pending(payment) => {
            // A provider is charged outside the transaction, then asked.
            tx.commit().await?;
            bursar_core::settlement::collect(&state.db, &settings, std::slice::from_ref(&payment), state.now_ms())
                .await;
            let p = bursar_store::payments::get(state.db.reader(), &payment).await?.ok_or_else(ApiError::internal)?;
            if p.status == "failed" {
                return Err(billing::declined(&inv).into());
            }
            state.db.begin().await?
        }
    };
    let fresh = store::invoice(&mut *tx, caller.livemode, &id).await?.ok_or_else(ApiError::internal)?;
    let out = invoice_out(&mut tx, fresh).await?;
    commit_json(tx, idem.as_ref(), StatusCode::OK, &out).await
}
