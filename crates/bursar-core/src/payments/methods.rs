//! Payment methods and payments as the interfaces see them: saving,
//! listing, removing and choosing the default method, and reading payments.

use crate::actor::Actor;
use crate::common::{check_len, secs, List, Page};
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::idempotency::Reply;
use bursar_domain::id::{is_valid, new_id, IdKind};
use bursar_domain::subscription::Status;
use bursar_store::customers::{self, CustomerRow};
use bursar_store::dunning::{self, PaymentMethodRow};
use bursar_store::events;
use bursar_store::payments::{self as store, PaymentRow};
use bursar_store::Tx;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Deserialize, ToSchema)]
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

#[derive(Debug, Clone, Serialize, ToSchema)]
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

pub fn render_pm(m: PaymentMethodRow) -> PaymentMethod {
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
    ctx: &Ctx,
    livemode: bool,
    customer_id: &str,
    body: PaymentMethodCreate,
    now: i64,
) -> Result<PaymentMethodRow> {
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
            return Err(Error::invalid("provider", "the sandbox takes test-mode payments only"));
        }
        let (token, brand, last4, _) = crate::sandbox::method(&body.token).ok_or_else(|| {
            let all: Vec<&str> = crate::sandbox::TEST_METHODS.iter().map(|m| m.0).collect();
            Error::invalid("token", format!("unknown sandbox test token; one of {}", all.join(", ")))
        })?;
        return Ok(PaymentMethodRow {
            exp_month: Some(12),
            exp_year: Some(2034),
            ..base("sandbox", token, brand, last4)
        });
    }
    if !matches!(provider.as_str(), "stripe" | "paypal" | "razorpay") {
        return Err(Error::invalid("provider", "provider is sandbox, stripe, paypal or razorpay"));
    }
    if !ctx.providers.available(&provider, livemode) {
        return Err(Error::invalid("provider", format!("{provider} is not configured on this server")));
    }
    let token = body.token.trim();
    if token.is_empty() || token.len() > 255 || !token.chars().all(|c| c.is_ascii_graphic()) {
        return Err(Error::invalid("token", "a provider token is 1 to 255 visible ASCII characters"));
    }
    if token.chars().filter(char::is_ascii_digit).count() >= 12 {
        return Err(Error::invalid("token", "this looks like a card number; send the provider's token instead"));
    }
    let needs_customer = matches!(provider.as_str(), "stripe" | "razorpay");
    let provider_customer = body.provider_customer.map(|c| c.trim().to_string()).filter(|c| !c.is_empty());
    if needs_customer && provider_customer.is_none() {
        return Err(Error::missing("provider_customer"));
    }
    if let Some(m) = body.exp_month {
        if !(1..=12).contains(&m) {
            return Err(Error::invalid("exp_month", "exp_month is 1 to 12"));
        }
    }
    if let Some(y) = body.exp_year {
        if !(2000..=2100).contains(&y) {
            return Err(Error::invalid("exp_year", "exp_year is a four-digit year"));
        }
    }
    let last4 = body.last4.unwrap_or_default();
    if !(last4.is_empty() || (last4.len() == 4 && last4.chars().all(|c| c.is_ascii_digit()))) {
        return Err(Error::invalid("last4", "last4 is four digits"));
    }
    check_len("brand", &body.brand, 40)?;
    Ok(PaymentMethodRow {
        provider_customer,
        exp_month: body.exp_month,
        exp_year: body.exp_year,
        ..base(&provider, token, body.brand.as_deref().unwrap_or(""), &last4)
    })
}

/// Removes one of a customer's saved methods (the newest left becomes the
/// default when the default went); returns the transaction to commit in and
/// the methods left.
async fn detach_in(
    ctx: &Ctx,
    tx: &mut Tx,
    livemode: bool,
    customer_id: &str,
    method: &str,
) -> Result<Vec<PaymentMethod>> {
    if !dunning::delete_method(tx, customer_id, method, ctx.now_ms()).await? {
        return Err(Error::not_found("method", "payment method", method));
    }
    let detached = serde_json::json!({"id": method});
    events::emit(tx, livemode, "payment_method.detached", customer_id, &detached, ctx.now_ms()).await?;
    Ok(dunning::methods_of(&mut **tx, customer_id).await?.into_iter().map(render_pm).collect())
}

/// Makes one of a customer's saved methods the one renewals charge; returns
/// the transaction to commit in and all the methods.
async fn make_default_in(tx: &mut Tx, customer_id: &str, method: &str) -> Result<Vec<PaymentMethod>> {
    if !dunning::set_default_method(tx, customer_id, method).await? {
        return Err(Error::not_found("method", "payment method", method));
    }
    Ok(dunning::methods_of(&mut **tx, customer_id).await?.into_iter().map(render_pm).collect())
}

#[derive(Debug, Clone, Serialize, ToSchema)]
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

#[derive(Debug, Clone, Serialize, ToSchema)]
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

/// The statuses a payment can have.
pub const PAYMENT_STATUSES: [&str; 7] =
    ["pending", "processing", "requires_action", "completed", "failed", "refunded", "cancelled"];

async fn load_live(ctx: &Ctx, livemode: bool, id: &str) -> Result<CustomerRow> {
    if !is_valid(IdKind::Customer, id) {
        return Err(Error::not_found("id", "customer", id));
    }
    customers::get(ctx.db.reader(), livemode, id)
        .await?
        .filter(|c| c.deleted_at.is_none())
        .ok_or_else(|| Error::not_found("id", "customer", id))
}

/// Saves a payment method for a customer; it becomes the default.
pub async fn add_method(
    ctx: &Ctx,
    actor: &Actor,
    customer_id: &str,
    input: PaymentMethodCreate,
    reply: &Reply,
) -> Result<PaymentMethod> {
    let row = load_live(ctx, actor.livemode, customer_id).await?;
    let now = ctx.now_ms();
    let m = provider_method(ctx, actor.livemode, &row.id, input, now)?;
    let mut tx = ctx.db.begin().await?;
    dunning::add_default_method(&mut tx, &m).await?;
    let out = render_pm(m);
    events::emit(
        &mut tx,
        actor.livemode,
        "payment_method.attached",
        &row.id,
        &serde_json::to_value(&out).unwrap_or_default(),
        now,
    )
    .await?;
    reply.commit(tx, &out).await?;
    Ok(out)
}

/// A customer's saved payment methods.
pub async fn list_methods(ctx: &Ctx, actor: &Actor, customer_id: &str) -> Result<Vec<PaymentMethod>> {
    let row = load_live(ctx, actor.livemode, customer_id).await?;
    Ok(dunning::methods_of(ctx.db.reader(), &row.id).await?.into_iter().map(render_pm).collect())
}

/// Removes one of a customer's saved methods (the newest left becomes the
/// default when the default went); returns the methods left. A learner may
/// not remove the only card a renewing subscription charges.
pub async fn detach(
    ctx: &Ctx,
    actor: &Actor,
    customer_id: &str,
    method: &str,
    reply: &Reply,
) -> Result<Vec<PaymentMethod>> {
    let row = load_live(ctx, actor.livemode, customer_id).await?;
    if actor.kind == "learner" {
        keeps_renewals_paid(ctx, actor.livemode, &row.id, method).await?;
    }
    let mut tx = ctx.db.begin().await?;
    let left = detach_in(ctx, &mut tx, actor.livemode, &row.id, method).await?;
    reply.commit(tx, &left).await?;
    Ok(left)
}

/// Refuses to remove a customer's only card while a subscription still
/// renews on it (renewals would then fail).
async fn keeps_renewals_paid(ctx: &Ctx, livemode: bool, customer_id: &str, method: &str) -> Result<()> {
    let r = ctx.db.reader();
    let methods = dunning::methods_of(r, customer_id).await?;
    if methods.len() == 1 && methods[0].id == method {
        let renewing = bursar_store::billing::subscriptions_of(r, livemode, customer_id).await?.into_iter().find(|x| {
            !x.cancel_at_period_end
                && matches!(Status::parse(&x.status), Some(Status::Active | Status::Trialing | Status::PastDue))
        });
        if renewing.is_some() {
            return Err(Error::invalid(
                "method",
                "This card pays for your subscription's renewals, so it stays until another card is saved \
                 or the subscription is canceled.",
            ));
        }
    }
    Ok(())
}

/// Makes one of a customer's saved methods the one renewals charge; returns
/// all the methods.
pub async fn make_default(
    ctx: &Ctx,
    actor: &Actor,
    customer_id: &str,
    method: &str,
    reply: &Reply,
) -> Result<Vec<PaymentMethod>> {
    let row = load_live(ctx, actor.livemode, customer_id).await?;
    let mut tx = ctx.db.begin().await?;
    let all = make_default_in(&mut tx, &row.id, method).await?;
    reply.commit(tx, &all).await?;
    Ok(all)
}

/// Which payments to list.
#[derive(Debug, Clone, Default)]
pub struct PaymentFilter {
    pub customer: Option<String>,
    pub invoice: Option<String>,
    pub status: Option<String>,
}

/// Payments, newest first.
pub async fn list(ctx: &Ctx, actor: &Actor, filter: &PaymentFilter, page: &Page) -> Result<List<Payment>> {
    if let Some(s) = filter.status.as_deref().filter(|s| !PAYMENT_STATUSES.contains(s)) {
        return Err(Error::invalid("status", format!("unknown status `{s}`; one of {}", PAYMENT_STATUSES.join(", "))));
    }
    let rows = store::list(
        ctx.db.reader(),
        actor.livemode,
        filter.customer.as_deref(),
        filter.invoice.as_deref(),
        filter.status.as_deref(),
        page.starting_after.as_deref(),
        page.limit + 1,
    )
    .await?;
    Ok(List::from_rows(rows, page.limit).map(render_payment))
}

/// One payment.
pub async fn get(ctx: &Ctx, actor: &Actor, id: &str) -> Result<Payment> {
    let not_found = || Error::not_found("id", "payment", id);
    if !is_valid(IdKind::Payment, id) {
        return Err(not_found());
    }
    let p = store::get(ctx.db.reader(), id).await?.filter(|p| p.livemode == actor.livemode).ok_or_else(not_found)?;
    Ok(render_payment(p))
}
