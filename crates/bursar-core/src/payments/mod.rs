//! Payments through providers.
//!
//! The built-in `sandbox` settles inside the transaction that issues the
//! invoice. An external provider (Stripe, PayPal, Razorpay) is never called
//! while a transaction is open: the invoice is issued with a `pending`
//! payment row and committed; then `settlement::collect` calls the provider with an
//! idempotency key derived from the payment id and applies the answer in a
//! new transaction. A crash or timeout between the two leaves the payment
//! `pending` with a due `next_check_at`; the checks job asks again with the
//! same key, so the provider answers with the first attempt's result and a
//! payment is never taken twice. What follows an answer is `settlement`.

pub mod methods;

use crate::error::{Error, Result};
use crate::providers::Answer;
use crate::settings::Settings;
use bursar_domain::id::{new_id, IdKind};
use bursar_domain::ledger::EntryDraft;
use bursar_domain::money::Currency;
use bursar_providers::{ChargeRequest, Connector, CustomerInfo, Money, PaymentStatus};
use bursar_store::dunning::{self, PaymentMethodRow};
use bursar_store::payments::PaymentRow;
use bursar_store::{customers, Db};
use std::collections::BTreeMap;

/// How the amount due of an invoice being issued is collected.
pub enum Collect {
    /// Not now: a sent invoice, or a preview.
    Later,
    /// The sandbox settled it in the transaction.
    Sandbox { method: Option<PaymentMethodRow>, outcome: crate::sandbox::Outcome },
    /// An external provider is charged once the transaction commits.
    Provider { method: PaymentMethodRow },
    /// Live mode without a payment method: nothing can be charged.
    NoMethod,
}

impl Collect {
    /// The collection for a customer's default method (test-mode customers
    /// without one pay with the sandbox's implicit test card).
    pub fn for_method(method: Option<PaymentMethodRow>, livemode: bool) -> Collect {
        match method {
            Some(m) if m.provider == "sandbox" => {
                let outcome = crate::sandbox::charge(Some(&m.token));
                Collect::Sandbox { method: Some(m), outcome }
            }
            Some(m) => Collect::Provider { method: m },
            None if !livemode => Collect::Sandbox { method: None, outcome: crate::sandbox::Outcome::Succeeded },
            None => Collect::NoMethod,
        }
    }
}

/// The payment row an issued invoice's collection writes (`None` when
/// nothing is charged now).
#[allow(clippy::too_many_arguments)]
pub fn payment_for(
    collect: &Collect,
    livemode: bool,
    customer_id: &str,
    invoice_id: &str,
    number: &str,
    amount: i64,
    currency: &str,
    now: i64,
) -> Option<PaymentRow> {
    let (provider, method, status, failure) = match collect {
        Collect::Later | Collect::NoMethod => return None,
        Collect::Sandbox { method, outcome } => {
            let (status, failure) = match outcome {
                crate::sandbox::Outcome::Succeeded => ("completed", None),
                crate::sandbox::Outcome::Processing => ("processing", None),
                crate::sandbox::Outcome::Declined(code) => ("failed", Some(code.clone())),
            };
            ("sandbox", method.as_ref(), status, failure)
        }
        Collect::Provider { method } => (method.provider.as_str(), Some(method), "pending", None),
    };
    let id = new_id(IdKind::Payment);
    Some(PaymentRow {
        provider_payment_id: (provider == "sandbox").then(|| format!("sbx_{}", &id[4..])),
        id,
        livemode,
        customer_id: customer_id.to_string(),
        invoice_id: Some(invoice_id.to_string()),
        checkout_session_id: None,
        provider: provider.to_string(),
        method_id: method.map(|m| m.id.clone()),
        method_brand: method.map(|m| m.brand.clone()),
        method_last4: method.map(|m| m.last4.clone()),
        method_exp_month: method.and_then(|m| m.exp_month),
        method_exp_year: method.and_then(|m| m.exp_year),
        amount,
        currency: currency.to_string(),
        amount_refunded: 0,
        fee: None,
        status: status.into(),
        failure_message: failure.as_ref().map(|c| crate::sandbox::message(c).to_string()),
        failure_code: failure,
        description: format!("Invoice {number}"),
        // Unsettled payments are due for collection at once (whoever runs
        // first: the request after its commit, or the checks job — the
        // provider's idempotency makes both safe); `next_check_at` is on
        // the server's clock.
        next_check_at: matches!(status, "pending" | "processing").then_some(0),
        created_at: now,
        updated_at: now,
        completed_at: (status == "completed").then_some(now),
    })
}

/// The ledger entry of money received for an invoice.
pub fn payment_entry(p: &PaymentRow, number: &str) -> Result<bursar_domain::ledger::BalancedEntry> {
    let currency = Currency::from_code(&p.currency).map_err(|_| Error::internal())?;
    EntryDraft::new(currency, format!("Payment of {number} ({})", p.provider))
        .debit(format!("provider_clearing:{}", p.provider), p.amount)
        .credit("receivables", p.amount)
        .validate()
        .map_err(|e| {
            tracing::error!(error = %e, "payment entry");
            Error::internal()
        })
}

fn customer_info(c: &customers::CustomerRow) -> CustomerInfo {
    CustomerInfo {
        customer_id: c.id.clone(),
        email: c.email.clone(),
        name: c.name.clone(),
        country: c.country.clone(),
        phone: c.phone.clone(),
    }
}

/// The provider's answer for a payment (no transaction is open here).
pub async fn ask(db: &Db, settings: &Settings, p: &PaymentRow) -> Result<Answer> {
    if p.provider == "sandbox" {
        return Ok(crate::sandbox::check(p));
    }
    let Some(conn) = settings.providers.get(&p.provider) else {
        return Ok(Answer::Unknown { detail: format!("provider {} is not configured", p.provider) });
    };
    // A payment asked about before (its answer was lost) is looked up first:
    // charging again under the same key is safe only while the provider
    // still remembers the key (Stripe: 24 hours), so after the first
    // attempt Bursar charges again only when the provider has no record.
    let asked_before = p.failure_message.is_some() || p.provider_payment_id.is_some();
    // A checkout's payment is made by the buyer on a page, never charged
    // off-session: until the provider has it, it waits for the buyer (the
    // session's expiry cancels it).
    let on_a_page = p.checkout_session_id.is_some();
    if on_a_page && p.status == "pending" && p.provider_payment_id.is_none() {
        return Ok(Answer::Unknown { detail: "waiting for the buyer".into() });
    }
    if p.status == "processing" || (p.status == "pending" && asked_before) {
        let r = conn.retrieve(&p.id, p.provider_payment_id.as_deref()).await;
        if p.status == "pending" && matches!(r, Ok(PaymentStatus::NotFound)) {
            if on_a_page {
                return Ok(Answer::Unknown { detail: "waiting for the buyer".into() });
            }
            return charge(db, conn.as_ref(), p).await;
        }
        return Ok(match r {
            Ok(PaymentStatus::Succeeded { provider_payment_id, amount }) => {
                if amount.minor != p.amount || !amount.currency().eq_ignore_ascii_case(&p.currency) {
                    tracing::error!(payment = %p.id, "provider reports a different amount; not applied");
                    Answer::Unknown { detail: "amount mismatch".into() }
                } else {
                    Answer::Succeeded { provider_payment_id, fee: None }
                }
            }
            Ok(PaymentStatus::Failed { provider_payment_id, code }) => {
                Answer::Failed { provider_payment_id: Some(provider_payment_id), message: code.clone(), code }
            }
            Ok(PaymentStatus::Canceled { provider_payment_id }) => Answer::Failed {
                provider_payment_id: Some(provider_payment_id),
                code: "canceled".into(),
                message: "the provider canceled the payment".into(),
            },
            Ok(_) => Answer::Unknown { detail: "still processing".into() },
            Err(e) => Answer::Unknown { detail: e.to_string() },
        });
    }
    charge(db, conn.as_ref(), p).await
}

/// Charges a pending payment's saved method off-session.
async fn charge(db: &Db, conn: &dyn Connector, p: &PaymentRow) -> Result<Answer> {
    let Some(method) = (match &p.method_id {
        Some(m) => dunning::method(db.reader(), m).await?,
        None => None,
    }) else {
        return Ok(Answer::Failed {
            provider_payment_id: None,
            code: "payment_method_missing".into(),
            message: "the payment method was removed".into(),
        });
    };
    let customer = customers::get(db.reader(), p.livemode, &p.customer_id).await?.ok_or_else(Error::internal)?;
    let req = ChargeRequest {
        payment_id: p.id.clone(),
        amount: Money::new(p.amount, &p.currency),
        description: p.description.clone(),
        customer: customer_info(&customer),
        provider_customer: method.provider_customer.clone(),
        method_token: method.token.clone(),
        metadata: BTreeMap::from([("invoice".to_string(), p.invoice_id.clone().unwrap_or_default())]),
    };
    let started = std::time::Instant::now();
    let r = conn.charge(&req).await;
    metrics::histogram!("bursar_provider_call_seconds", "provider" => p.provider.clone(), "call" => "charge")
        .record(started.elapsed().as_secs_f64());
    if let Err(e) = &r {
        metrics::counter!("bursar_provider_errors_total", "provider" => p.provider.clone(),
            "kind" => if e.may_fall_back() { "unavailable" } else if e.outcome_unknown() { "unknown" } else { "rejected" })
        .increment(1);
    }
    Ok(Answer::from(r))
}
