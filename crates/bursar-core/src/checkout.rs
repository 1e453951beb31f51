//! Hosted checkout, the buyer's flow: "Pay" and what follows it: the
//! invoice issued once, the payment attempt, the provider's hosted page (with fallback along the route), the
//! sandbox's test cards and 3-D Secure step, and the buyer's return. Every
//! action the buyer takes on the page carries the session's form token.

use crate::basket::{self, SessionCoupon};
use crate::billing::{self, Settings};
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::providers::Answer;
use crate::sessions::{check_token, fulfil, keep_method, load, save_method, success_url};
use crate::settlement;
use bursar_domain::catalog::TaxBehavior;
use bursar_domain::id::{new_id, IdKind};
use bursar_domain::money::Currency;
use bursar_domain::subscription::Status;
use bursar_providers::{CheckoutRequest, CheckoutSession, CustomerInfo, MethodDetails};
use bursar_store::checkout::{self as store, SessionRow};
use bursar_store::payments::{self as pay_store, PaymentRow};
use bursar_store::{billing as billing_store, catalog, customers, events, Tx};
use std::collections::BTreeMap;

/// Where the buyer goes next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Back to the session page, with a message when there is one.
    Show(Option<String>),
    /// To this address (a provider's page, the sandbox's card page, the
    /// platform's success URL, the session page).
    Redirect(String),
    /// To Razorpay's hosted checkout, which is reached by a form POST.
    PostForm { action: String, fields: Vec<(String, String)>, amount: i64, currency: String },
    /// The sandbox's 3-D Secure step for the payment.
    Authenticate { amount: i64, currency: String },
}

/// "Pay": issues the invoice (once), creates the payment attempt, and sends
/// the buyer to the provider. `base` is the address the buyer reaches
/// Bursar at (for the provider's return).
pub async fn pay(ctx: &Ctx, id: &str, form_token: &str, base: &str) -> Result<Next> {
    let state = ctx;
    check_token(&load(ctx, id).await?, form_token)?;
    let settings = state.billing_settings();
    let mut tx = state.db.begin().await?;
    let Some(mut s) = store::get_locked(&mut tx, state.db.for_update(), id).await? else {
        return Err(Error::not_found("id", "checkout session", id));
    };
    if s.status != "open" || s.expires_at <= state.now_ms() {
        return Ok(Next::Show(None));
    }
    let customer = customers::get(&mut *tx, s.livemode, &s.customer_id).await?.ok_or_else(Error::internal)?;
    let now = billing::now_for(&mut tx, &customer, state.now_ms()).await?;
    if s.invoice_id.is_none() {
        match issue(&mut tx, &settings, state.db.for_update(), state.now_ms(), &mut s, &customer, now).await {
            Ok(()) => {}
            Err(e) if e.is_caller_error() => return Ok(Next::Show(Some(e.message))),
            Err(e) => return Err(e),
        }
    }
    let inv_id = s.invoice_id.clone().ok_or_else(Error::internal)?;
    let inv = billing_store::invoice(&mut *tx, s.livemode, &inv_id).await?.ok_or_else(Error::internal)?;
    if inv.status == "paid" || inv.amount_due == 0 {
        // Nothing to charge (credit or a 100 % coupon covered it).
        fulfil(&mut tx, &settings, &mut s, None, now).await?;
        tx.commit().await?;
        return Ok(Next::Redirect(success_url(&s)));
    }
    // Pay pressed again (a double click, a retry after an error or a
    // crash): the attempt still waiting for the buyer is reused, never
    // duplicated; its provider session is asked for again under the same
    // idempotency key.
    let waiting = match &s.payment_id {
        Some(pid) => pay_store::get(&mut *tx, pid).await?.filter(|p| p.unsettled()),
        None => None,
    };
    if let Some(p) = waiting.as_ref().filter(|p| p.status != "pending") {
        // A payment the provider is still confirming: no second attempt.
        let msg = format!("Your payment ({}) is being confirmed. This page will show when it completes.", p.id);
        return Ok(Next::Show(Some(msg)));
    }
    let mut routes = state.providers.route(customer.country.as_deref(), &s.currency, s.livemode);
    if let Some(p) = &waiting {
        routes.retain(|r| r != &p.provider);
        routes.insert(0, p.provider.clone());
    }
    let Some(provider) = routes.first().cloned() else {
        return Ok(Next::Show(Some("No payment provider takes this currency here.".into())));
    };
    let number = inv.number.clone().unwrap_or_default();
    let payment = if let Some(p) = waiting {
        tx.commit().await?;
        p
    } else {
        new_payment(&mut tx, &mut s, &inv, &provider, &number, now).await?;
        tx.commit().await?;
        pay_store::get(state.db.reader(), s.payment_id.as_deref().unwrap_or_default())
            .await?
            .ok_or_else(Error::internal)?
    };
    if payment.provider == "sandbox" {
        return Ok(Next::Redirect(format!("/checkout/{id}/sandbox")));
    }
    pay_via_providers(state, base, &s, &customer, &payment, &routes).await
}

async fn new_payment(
    tx: &mut Tx,
    s: &mut SessionRow,
    inv: &bursar_store::billing::InvoiceRow,
    provider: &str,
    number: &str,
    now: i64,
) -> Result<()> {
    let payment = PaymentRow {
        id: new_id(IdKind::Payment),
        livemode: s.livemode,
        customer_id: s.customer_id.clone(),
        invoice_id: Some(inv.id.clone()),
        checkout_session_id: Some(s.id.clone()),
        provider: provider.to_string(),
        provider_payment_id: None,
        method_id: None,
        method_brand: None,
        method_last4: None,
        method_exp_month: None,
        method_exp_year: None,
        amount: inv.amount_due,
        currency: inv.currency.clone(),
        amount_refunded: 0,
        fee: None,
        status: "pending".into(),
        failure_code: None,
        failure_message: None,
        description: format!("Invoice {number}"),
        // The buyer pays on a page: no off-session charge is ever made for it.
        next_check_at: None,
        created_at: now,
        updated_at: now,
        completed_at: None,
    };
    pay_store::insert_payments(tx, std::slice::from_ref(&payment)).await?;
    s.payment_id = Some(payment.id.clone());
    s.provider = Some(provider.to_string());
    s.last_error = None;
    store::save(tx, s).await?;
    Ok(())
}

/// Sends the buyer to the first provider on the route that takes the
/// checkout, falling back along the route when a provider is down (the
/// payment moves with it: nothing was taken).
async fn pay_via_providers(
    state: &Ctx,
    base: &str,
    s: &SessionRow,
    customer: &customers::CustomerRow,
    payment: &PaymentRow,
    routes: &[String],
) -> Result<Next> {
    let id = s.id.clone();
    for (i, provider) in routes.iter().enumerate() {
        if provider == "sandbox" {
            set_provider(state, &payment.id, &id, provider, None).await?;
            return Ok(Next::Redirect(format!("/checkout/{id}/sandbox")));
        }
        let Some(conn) = state.providers.get(provider) else { continue };
        if i > 0 {
            set_provider(state, &payment.id, &id, provider, None).await?;
        }
        let req = CheckoutRequest {
            payment_id: payment.id.clone(),
            amount: bursar_providers::Money::new(payment.amount, &payment.currency),
            description: payment.description.clone(),
            customer: CustomerInfo {
                customer_id: customer.id.clone(),
                email: customer.email.clone(),
                name: customer.name.clone(),
                country: customer.country.clone(),
                phone: customer.phone.clone(),
            },
            provider_customer: None,
            save_method: s.mode == "subscription",
            success_url: format!("{base}/checkout/{id}/return"),
            cancel_url: format!("{base}/checkout/{id}/cancel"),
            metadata: BTreeMap::from([("checkout_session".to_string(), id.clone())]),
        };
        match conn.create_checkout(&req).await {
            Ok(cs) => {
                set_provider(state, &payment.id, &id, provider, Some(&cs.provider_ref)).await?;
                if cs.redirect_url.is_empty() && provider == "razorpay" {
                    return Ok(razorpay_form(state, &id, payment, &cs, customer));
                }
                return Ok(Next::Redirect(cs.redirect_url));
            }
            Err(e) if e.may_fall_back() => {
                metrics::counter!("bursar_provider_fallbacks_total", "provider" => provider.clone()).increment(1);
                tracing::warn!(provider = %provider, error = %e, "provider unavailable; trying the next");
                continue;
            }
            Err(e) => {
                tracing::error!(provider = %provider, error = %e, "checkout could not start");
                break;
            }
        }
    }
    Ok(Next::Show(Some("The payment provider is unavailable. Please try again shortly.".into())))
}

async fn set_provider(
    state: &Ctx,
    payment_id: &str,
    session_id: &str,
    provider: &str,
    provider_ref: Option<&str>,
) -> Result<()> {
    let mut tx = state.db.begin().await?;
    if let Some(mut p) = pay_store::get_locked(&mut tx, state.db.for_update(), payment_id).await? {
        p.provider_payment_id = provider_ref.map(str::to_string);
        pay_store::set_provider(&mut tx, payment_id, provider).await?;
        pay_store::save(&mut tx, &p).await?;
    }
    if let Some(mut s) = store::get_locked(&mut tx, state.db.for_update(), session_id).await? {
        s.provider = Some(provider.to_string());
        store::save(&mut tx, &s).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Issues what the session buys: the subscription (`incomplete`) with its
/// first invoice, or an invoice of the items; both open, to be paid by the
/// checkout's payment.
async fn issue(
    tx: &mut Tx,
    settings: &Settings,
    for_update: &'static str,
    server_now: i64,
    s: &mut SessionRow,
    customer: &customers::CustomerRow,
    now: i64,
) -> Result<()> {
    let currency = Currency::from_code(&s.currency).map_err(|_| Error::internal())?;
    let items = basket::items_of(s);
    let coupon: Option<SessionCoupon> = basket::session_coupon(tx, s).await?;
    // A coupon on the plan is redeemed with the subscription; one on the
    // items alone is redeemed here (atomically against its limit).
    let for_plan = coupon.as_ref().is_some_and(|c| c.targets.plan);
    if let (Some(code), false) = (&s.coupon, for_plan) {
        basket::check_coupon(tx, s, code, now).await?;
        let c = billing_store::coupon_by_key(&mut **tx, s.livemode, code).await?.ok_or_else(Error::internal)?;
        if !billing_store::try_redeem(tx, &c.id).await? {
            return Err(Error::invalid("coupon", bursar_domain::coupon::Refusal::Exhausted.to_string()));
        }
        billing_store::insert_redemption(tx, &new_id(IdKind::Redemption), s.livemode, &c.id, &customer.id, None, now)
            .await?;
    }
    let discount = coupon.as_ref().map(|c| c.items_discount(&items, currency)).transpose()?.flatten();
    if let (Some(plan_id), Some(price_id)) = (s.plan_id.clone(), s.price_id.clone()) {
        let plan = catalog::plan_by_id(&mut **tx, s.livemode, &plan_id).await?.ok_or_else(Error::internal)?;
        let price = catalog::price_by_id(&mut **tx, s.livemode, &price_id).await?.ok_or_else(Error::internal)?;
        // A cart's courses go on the subscription's first invoice.
        let mut one_off: Vec<billing::LineDraft> = items
            .into_iter()
            .map(|i| billing::LineDraft {
                kind: "one_off",
                description: i.description,
                quantity: i.quantity,
                unit_amount: i.unit_amount,
                amount: i.unit_amount.saturating_mul(i.quantity),
                price_id: None,
                period_start: None,
                period_end: None,
            })
            .collect();
        if let Some((name, off)) = discount {
            one_off.push(billing::LineDraft::discount(name, off));
        }
        let code = s.coupon.as_deref().filter(|_| for_plan);
        let (sub, inv) =
            billing::create_for_checkout(tx, settings, customer, &plan, &price, s.quantity, code, one_off, now).await?;
        s.subscription_id = Some(sub.id);
        s.invoice_id = Some(inv.id);
    } else {
        let lines = items
            .into_iter()
            .map(|i| crate::invoicing::NewLine {
                description: i.description,
                quantity: i.quantity,
                unit_amount: i.unit_amount,
            })
            .collect();
        let draft = crate::invoicing::create_draft(
            tx,
            settings,
            customer,
            crate::invoicing::DraftInput {
                currency,
                behavior: TaxBehavior::Exclusive,
                description: Some("Checkout".into()),
                collection_method: "send_invoice",
                // Due when the session expires, on the customer's clock
                // (a test clock may run ahead of the server's).
                due_at: Some(now + (s.expires_at - server_now).max(3_600_000)),
                lines,
            },
            now,
        )
        .await?;
        if let Some((name, off)) = discount {
            crate::invoicing::add_discount(tx, settings, for_update, s.livemode, &draft.id, &name, off).await?;
        }
        let (inv, _) = crate::invoicing::finalize(tx, settings, for_update, s.livemode, &draft.id, server_now).await?;
        s.invoice_id = Some(inv.id);
    }
    store::save(tx, s).await?;
    Ok(())
}

async fn pending_payment(state: &Ctx, s: &SessionRow) -> Result<PaymentRow> {
    let id = s.payment_id.as_deref().ok_or_else(|| Error::invalid("id", "the checkout has no payment to make"))?;
    pay_store::get(state.db.reader(), id).await?.ok_or_else(Error::internal)
}

/// What the sandbox's card page charges.
pub struct SandboxTarget {
    pub amount: i64,
    pub currency: String,
    pub form_token: String,
}

/// The sandbox's card page: what it charges, or `None` when the session is
/// not waiting for a sandbox payment (the page sends the buyer back).
pub async fn sandbox_target(ctx: &Ctx, id: &str) -> Result<Option<SandboxTarget>> {
    let s = load(ctx, id).await?;
    let p = pending_payment(ctx, &s).await?;
    if s.livemode || p.provider != "sandbox" || p.status != "pending" {
        return Ok(None);
    }
    Ok(Some(SandboxTarget { amount: p.amount, currency: p.currency, form_token: s.form_token }))
}

fn sbx_id(s: &SessionRow) -> String {
    format!("sbx_{}", s.payment_id.as_deref().map_or("", |p| p.get(4..).unwrap_or("")))
}

/// The buyer chose one of the sandbox's test cards.
pub async fn sandbox_card(ctx: &Ctx, id: &str, form_token: &str, card: &str) -> Result<Next> {
    let s = load(ctx, id).await?;
    check_token(&s, form_token)?;
    let Some((token, brand, last4, behaviour)) = crate::sandbox::method(card) else {
        return Err(Error::invalid("card", "choose one of the test cards"));
    };
    if behaviour == crate::sandbox::Behaviour::Declines("authentication_required") {
        // On a page the buyer is there to authenticate: the 3-D Secure step.
        let p = pending_payment(ctx, &s).await?;
        return Ok(Next::Authenticate { amount: p.amount, currency: p.currency });
    }
    let answer = match crate::sandbox::charge(Some(token)) {
        crate::sandbox::Outcome::Succeeded => Answer::Succeeded { provider_payment_id: sbx_id(&s), fee: None },
        crate::sandbox::Outcome::Processing => Answer::Processing { provider_payment_id: sbx_id(&s) },
        crate::sandbox::Outcome::Declined(code) => Answer::Failed {
            provider_payment_id: Some(sbx_id(&s)),
            message: crate::sandbox::message(&code).to_string(),
            code,
        },
    };
    settle_sandbox(ctx, &s, answer, Some((token, brand, last4))).await
}

/// The buyer's answer on the sandbox's 3-D Secure step.
pub async fn authenticate(ctx: &Ctx, id: &str, form_token: &str, approve: bool) -> Result<Next> {
    let s = load(ctx, id).await?;
    check_token(&s, form_token)?;
    let answer = if approve {
        Answer::Succeeded { provider_payment_id: sbx_id(&s), fee: None }
    } else {
        Answer::Failed {
            provider_payment_id: Some(sbx_id(&s)),
            code: "authentication_failed".into(),
            message: "the card's authentication failed".into(),
        }
    };
    settle_sandbox(ctx, &s, answer, Some(("pm_card_authenticationRequired", "visa", "3184"))).await
}

async fn settle_sandbox(state: &Ctx, s: &SessionRow, answer: Answer, card: Option<(&str, &str, &str)>) -> Result<Next> {
    let p = pending_payment(state, s).await?;
    if s.livemode || p.provider != "sandbox" {
        return Err(Error::invalid("id", "this checkout is not paid through the sandbox"));
    }
    let settings = state.billing_settings();
    let mut tx = state.db.begin().await?;
    let Some(mut p) = pay_store::get_locked(&mut tx, state.db.for_update(), &p.id).await? else {
        return Err(Error::internal());
    };
    let customer = customers::get(&mut *tx, p.livemode, &p.customer_id).await?.ok_or_else(Error::internal)?;
    let now = billing::now_for(&mut tx, &customer, state.now_ms()).await?;
    if let (Some((token, brand, last4)), true) = (card, matches!(answer, Answer::Succeeded { .. })) {
        if s.mode == "subscription" {
            let d = MethodDetails {
                token: token.to_string(),
                brand: Some(brand.to_string()),
                last4: Some(last4.to_string()),
                exp_month: Some(12),
                exp_year: Some(2034),
                provider_customer: None,
            };
            save_method(&mut tx, &mut p, "sandbox", &d, now).await?;
        } else {
            p.method_brand = Some(brand.to_string());
            p.method_last4 = Some(last4.to_string());
        }
    }
    settlement::apply(&mut tx, &settings, &mut p, answer, now, state.now_ms()).await?;
    tx.commit().await?;
    after_payment(state, &s.id).await
}

/// Where the buyer goes once the payment has an answer.
async fn after_payment(state: &Ctx, id: &str) -> Result<Next> {
    let s = load(state, id).await?;
    match s.status.as_str() {
        "complete" => Ok(Next::Redirect(success_url(&s))),
        _ => Ok(Next::Redirect(format!("/checkout/{id}"))),
    }
}

/// Razorpay's hosted checkout is reached by a form POST (its "redirect"
/// integration): the order and key go along, and Razorpay posts the
/// payment id, order id and signature back to the return URL.
fn razorpay_form(
    state: &Ctx,
    id: &str,
    payment: &PaymentRow,
    cs: &CheckoutSession,
    customer: &customers::CustomerRow,
) -> Next {
    let p = &cs.client_params;
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut put = |k: &str, v: Option<&String>| {
        if let Some(v) = v {
            fields.push((k.to_string(), v.clone()));
        }
    };
    put("key_id", p.get("key"));
    put("order_id", p.get("order_id"));
    put("description", p.get("description"));
    put("callback_url", p.get("callback_url"));
    put("notes[payment_id]", p.get("notes.payment_id"));
    put("customer_id", p.get("customer_id"));
    put("recurring", p.get("recurring"));
    put("prefill[email]", customer.email.as_ref());
    put("name", Some(&state.config.seller_name));
    fields.push(("cancel_url".into(), format!("/checkout/{id}/cancel")));
    Next::PostForm {
        action: format!("{}/v1/checkout/embedded", state.config.razorpay_api_base.trim_end_matches('/')),
        fields,
        amount: payment.amount,
        currency: payment.currency.clone(),
    }
}

/// Completes a checkout's payment with its provider when the provider
/// reports that the buyer approved it (PayPal's order approval): the same
/// confirmation as the buyer's return, for a buyer who never comes back.
/// No transaction is open here; the provider's idempotency makes a second
/// confirmation harmless.
pub async fn complete_approved(ctx: &Ctx, payment: &PaymentRow) -> Result<()> {
    let Some(id) = payment.checkout_session_id.clone() else { return Ok(()) };
    provider_return(ctx, &id, &BTreeMap::new()).await?;
    Ok(())
}

/// The provider sent the buyer back (with what it put in the query string
/// or posted form).
pub async fn provider_return(ctx: &Ctx, id: &str, params: &BTreeMap<String, String>) -> Result<Next> {
    let state = ctx;
    let s = load(state, id).await?;
    let p = pending_payment(state, &s).await?;
    if !p.unsettled() {
        return after_payment(state, id).await;
    }
    let Some(conn) = state.providers.get(&p.provider) else {
        return Err(Error::invalid("id", "this checkout's provider is not configured"));
    };
    let session = CheckoutSession {
        provider_ref: p.provider_payment_id.clone().unwrap_or_default(),
        redirect_url: String::new(),
        client_params: BTreeMap::new(),
    };
    let (answer, method) = match conn.complete_checkout(&session, params).await {
        // Back without having paid (the provider's page is still open):
        // nothing failed; the buyer can go back and pay.
        Ok((bursar_providers::ChargeOutcome::RequiresAction { .. }, _)) => {
            return Ok(Next::Show(Some("The payment is not complete yet. Press Pay to finish it.".into())));
        }
        Ok((outcome, method)) => (Answer::from(Ok(outcome)), method),
        Err(e) => (Answer::Unknown { detail: e.to_string() }, None),
    };
    if let Answer::Unknown { detail } = &answer {
        // Not confirmed yet (a timeout, or the provider is still working):
        // the page says so; the provider's webhook settles it.
        tracing::warn!(checkout = %id, %detail, "checkout return not confirmed");
        return Ok(Next::Show(Some("Your payment is being confirmed. Refresh this page in a moment.".into())));
    }
    let settings = state.billing_settings();
    let mut tx = state.db.begin().await?;
    let Some(mut p) = pay_store::get_locked(&mut tx, state.db.for_update(), &p.id).await? else {
        return Err(Error::internal());
    };
    let customer = customers::get(&mut *tx, p.livemode, &p.customer_id).await?.ok_or_else(Error::internal)?;
    let now = billing::now_for(&mut tx, &customer, state.now_ms()).await?;
    if let (Some(m), Answer::Succeeded { .. }) = (&method, &answer) {
        keep_method(&mut tx, &mut p, m, now).await?;
    }
    settlement::apply(&mut tx, &settings, &mut p, answer, now, state.now_ms()).await?;
    tx.commit().await?;
    after_payment(state, id).await
}

/// Expires open sessions past their time: the payment attempt is
/// cancelled, the invoice voided, an incomplete subscription expires.
pub async fn expire_due(state: &Ctx) -> Result<u32> {
    let ids = store::expired(state.db.reader(), state.now_ms(), 200).await?;
    let mut n = 0;
    let settings = state.billing_settings();
    for id in ids {
        // Before giving up on a payment, ask its provider (outside any
        // transaction): the buyer may have paid at the last moment.
        let payment = match store::get(state.db.reader(), &id).await?.and_then(|s| s.payment_id) {
            Some(pid) => pay_store::get(state.db.reader(), &pid).await?,
            None => None,
        };
        if let Some(p) = payment {
            if p.status == "processing" {
                continue; // the checks or a webhook settle it first
            }
            if let (true, Some(conn)) = (p.status == "pending", state.providers.get(&p.provider)) {
                if let Ok(bursar_providers::PaymentStatus::Succeeded { provider_payment_id, .. }) =
                    conn.retrieve(&p.id, p.provider_payment_id.as_deref()).await
                {
                    let mut tx = state.db.begin().await?;
                    if let Some(mut p) = pay_store::get_locked(&mut tx, state.db.for_update(), &p.id).await? {
                        let now = state.now_ms();
                        let answer = Answer::Succeeded { provider_payment_id, fee: None };
                        settlement::apply(&mut tx, &settings, &mut p, answer, now, now).await?;
                    }
                    tx.commit().await?;
                    continue;
                }
            }
        }
        let mut tx = state.db.begin().await?;
        let Some(mut s) = store::get_locked(&mut tx, state.db.for_update(), &id).await? else { continue };
        if s.status != "open" {
            continue;
        }
        let now = state.now_ms();
        if let Some(pid) = &s.payment_id {
            if let Some(mut p) = pay_store::get_locked(&mut tx, state.db.for_update(), pid).await? {
                if p.status == "pending" {
                    p.status = "cancelled".into();
                    p.updated_at = now;
                    pay_store::save(&mut tx, &p).await?;
                }
            }
        }
        if let Some(inv) = &s.invoice_id {
            let open = billing_store::invoice(&mut *tx, s.livemode, inv).await?.is_some_and(|i| i.status == "open");
            if open {
                crate::invoicing::void(&mut tx, state.db.for_update(), s.livemode, inv, now).await?;
            }
        }
        if let Some(sub_id) = &s.subscription_id {
            if let Some(mut sub) = billing_store::subscription(&mut tx, s.livemode, sub_id, "").await? {
                if sub.status == Status::Incomplete.as_str() {
                    sub.status = Status::IncompleteExpired.as_str().into();
                    sub.updated_at = now;
                    billing_store::save_subscription(&mut tx, &sub).await?;
                    billing::emit_sub(&mut tx, &sub, "subscription.incomplete_expired", now).await?;
                }
            }
        }
        s.status = "expired".into();
        store::save(&mut tx, &s).await?;
        // Its cart can be changed and checked out again.
        if let Some(mut cart) = bursar_store::marketplace::cart_by_session(&mut *tx, &s.id).await? {
            if cart.status == "checked_out" {
                cart.status = "open".into();
                cart.updated_at = now;
                bursar_store::marketplace::save_cart(&mut tx, &cart).await?;
            }
        }
        events::emit(&mut tx, s.livemode, "checkout.session.expired", &s.id, &serde_json::json!({"id": s.id}), now)
            .await?;
        tx.commit().await?;
        n += 1;
    }
    Ok(n)
}
