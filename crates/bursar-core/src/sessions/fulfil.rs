//! A paid session's fulfilment, and the sessions that expire unpaid.

use crate::billing::{self, Settings};
use crate::error::{Error, Result};
use bursar_domain::id::{new_id, IdKind};
use bursar_domain::subscription::{Event, Status};
use bursar_providers::MethodDetails;
use bursar_store::checkout::{self as store, SessionRow};
use bursar_store::payments::{self as pay_store, PaymentRow};
use bursar_store::{billing as billing_store, dunning, events, Tx};

/// Completes a session whose payment succeeded (inside the transaction that
/// records the payment): the subscription becomes active, the method the
/// buyer paid with becomes the customer's default.
pub async fn fulfil(
    tx: &mut Tx,
    settings: &Settings,
    s: &mut SessionRow,
    payment: Option<&PaymentRow>,
    now: i64,
) -> Result<()> {
    if s.status != "open" {
        return Ok(());
    }
    s.status = "complete".into();
    s.completed_at = Some(now);
    s.last_error = None;
    store::save(tx, s).await?;
    // Credits the purchase sells.
    if let Some(spec) = s.credit_grant.as_deref().and_then(|g| serde_json::from_str::<serde_json::Value>(g).ok()) {
        let amount = spec["amount"].as_i64().unwrap_or(0);
        let g = bursar_store::usage::GrantRow {
            id: new_id(IdKind::CreditGrant),
            livemode: s.livemode,
            customer_id: s.customer_id.clone(),
            metric: spec["metric"].as_str().unwrap_or_default().to_string(),
            amount,
            remaining: amount,
            expires_at: spec["expires_in_days"].as_i64().map(|d| now + d * 86_400_000),
            source: "checkout".into(),
            source_id: Some(s.id.clone()),
            created_at: now,
        };
        bursar_store::usage::insert_grant(tx, &g).await?;
        events::emit(tx, s.livemode, "credits.granted", &g.id, &serde_json::json!({"id": g.id, "customer": g.customer_id,
            "metric": g.metric, "amount": g.amount, "expires_at": g.expires_at.map(|t| t / 1000), "checkout_session": s.id}), now)
            .await?;
    }
    // A cart's sale: the order, enrollments and the revenue split.
    let order = crate::marketplace::record_order(tx, settings, s, now).await?;
    if let Some(sub_id) = &s.subscription_id {
        if let Some(mut sub) = billing_store::subscription(tx, s.livemode, sub_id, "").await? {
            if sub.status == Status::Incomplete.as_str() {
                let to = bursar_domain::subscription::transition(Status::Incomplete, Event::FirstPaymentSucceeded)
                    .map_err(|_| Error::internal())?;
                sub.status = to.as_str().into();
                sub.updated_at = now;
                billing_store::save_subscription(tx, &sub).await?;
                billing::emit_sub(tx, &sub, "subscription.activated", now).await?;
            }
        }
    }
    events::emit(
        tx,
        s.livemode,
        "checkout.session.completed",
        &s.id,
        &serde_json::json!({"id": s.id, "customer": s.customer_id, "mode": s.mode, "subscription": s.subscription_id,
            "invoice": s.invoice_id, "payment": payment.map(|p| p.id.clone()), "order": order}),
        now,
    )
    .await?;
    Ok(())
}

/// Called when a checkout's payment settles (from `settlement::apply`).
pub async fn payment_settled(tx: &mut Tx, settings: &Settings, p: &PaymentRow, now: i64) -> Result<()> {
    let Some(id) = &p.checkout_session_id else { return Ok(()) };
    let Some(mut s) = store::get(&mut **tx, id).await? else { return Ok(()) };
    if p.status == "completed" {
        fulfil(tx, settings, &mut s, Some(p), now).await
    } else {
        s.last_error = Some(format!(
            "The payment was declined ({}). Try another card.",
            p.failure_message.clone().unwrap_or_else(|| "declined".into())
        ));
        store::save(tx, &s).await?;
        Ok(())
    }
}

/// Keeps the method a subscription checkout's payment was made with, as the
/// customer's default, however the success arrives (the buyer's return or
/// the provider's webhook): once per payment, and only for checkouts that
/// asked to keep it (renewals charge it).
pub async fn keep_method(tx: &mut Tx, p: &mut PaymentRow, d: &MethodDetails, now: i64) -> Result<()> {
    let Some(id) = &p.checkout_session_id else { return Ok(()) };
    if p.method_id.is_some() || p.provider == "sandbox" {
        return Ok(());
    }
    let Some(s) = store::get(&mut **tx, id).await? else { return Ok(()) };
    if s.mode != "subscription" {
        return Ok(());
    }
    let provider = p.provider.clone();
    save_method(tx, p, &provider, d, now).await?;
    pay_store::save(tx, p).await?;
    Ok(())
}

pub async fn save_method(tx: &mut Tx, p: &mut PaymentRow, provider: &str, d: &MethodDetails, now: i64) -> Result<()> {
    let m = dunning::PaymentMethodRow {
        id: new_id(IdKind::PaymentMethod),
        livemode: p.livemode,
        customer_id: p.customer_id.clone(),
        provider: provider.to_string(),
        token: d.token.clone(),
        brand: d.brand.clone().unwrap_or_default(),
        last4: d.last4.clone().unwrap_or_default(),
        is_default: true,
        created_at: now,
        provider_customer: d.provider_customer.clone(),
        exp_month: d.exp_month.map(i64::from),
        exp_year: d.exp_year.map(i64::from),
    };
    dunning::add_default_method(tx, &m).await?;
    p.method_id = Some(m.id);
    p.method_brand = Some(m.brand);
    p.method_last4 = Some(m.last4);
    p.method_exp_month = m.exp_month;
    p.method_exp_year = m.exp_year;
    Ok(())
}
