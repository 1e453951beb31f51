//! Payments through providers.
//!
//! The built-in `sandbox` settles inside the transaction that issues the
//! invoice. An external provider (Stripe, PayPal, Razorpay) is never called
//! while a transaction is open: the invoice is issued with a `pending`
//! payment row and committed; then [`collect`] calls the provider with an
//! idempotency key derived from the payment id and applies the answer in a
//! new transaction. A crash or timeout between the two leaves the payment
//! `pending` with a due `next_check_at`; [`run_checks`] asks again with the
//! same key, so the provider answers with the first attempt's result and a
//! payment is never taken twice.

use crate::billing::{self, Settings};
use crate::config::Config;
use crate::error::{Error, Result};
use bursar_domain::id::{new_id, IdKind};
use bursar_domain::ledger::EntryDraft;
use bursar_domain::money::Currency;
use bursar_domain::subscription::{Event, Status};
use bursar_providers::{
    ChargeOutcome, ChargeRequest, Connector, CustomerInfo, Money, PaymentStatus, ProviderError, ProviderKind,
};
use bursar_store::dunning::{self, PaymentMethodRow};
use bursar_store::payments::{self as store, PaymentRow};
use bursar_store::{billing as billing_store, customers, events, ledger, Db, Tx};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The configured provider connectors.
#[derive(Default, Clone)]
pub struct Providers {
    connectors: BTreeMap<&'static str, Arc<dyn Connector>>,
    /// Whether each connector's credentials are live (`true`) or the
    /// provider's test environment: test-mode payments never reach live
    /// credentials, nor live payments test ones.
    live: BTreeMap<&'static str, bool>,
    routes: Vec<crate::config::PaymentRoute>,
    defaults: Vec<String>,
}

impl std::fmt::Debug for Providers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Providers").field("configured", &self.connectors.keys().collect::<Vec<_>>()).finish()
    }
}

impl Providers {
    /// Builds a connector for every provider with credentials in `config`.
    pub fn from_config(c: &Config) -> Result<Providers, String> {
        use bursar_providers::{paypal, razorpay, stripe};
        let mut connectors: BTreeMap<&'static str, Arc<dyn Connector>> = BTreeMap::new();
        let mut live = BTreeMap::new();
        if let Some(key) = &c.stripe_secret_key {
            let mut cfg = stripe::StripeConfig::new(key.clone(), c.stripe_webhook_secrets.clone());
            cfg.api_base = c.stripe_api_base.trim_end_matches('/').to_string();
            let conn = stripe::StripeConnector::new(cfg).map_err(|e| format!("stripe: {e}"))?;
            connectors.insert("stripe", Arc::new(conn));
            live.insert("stripe", key.starts_with("sk_live_") || key.starts_with("rk_live_"));
        }
        if let (Some(id), Some(secret)) = (&c.paypal_client_id, &c.paypal_client_secret) {
            let cfg = paypal::PaypalConfig {
                client_id: id.clone(),
                client_secret: secret.clone(),
                webhook_id: c.paypal_webhook_id.clone().unwrap_or_default(),
                api_base: c.paypal_api_base.trim_end_matches('/').to_string(),
                http: Default::default(),
                webhook_tolerance: paypal::DEFAULT_WEBHOOK_TOLERANCE,
            };
            let conn = paypal::PaypalConnector::new(cfg).map_err(|e| format!("paypal: {e}"))?;
            connectors.insert("paypal", Arc::new(conn));
            live.insert("paypal", c.paypal_api_base.trim_end_matches('/') == "https://api-m.paypal.com");
        }
        if let (Some(id), Some(secret)) = (&c.razorpay_key_id, &c.razorpay_key_secret) {
            let cfg = razorpay::RazorpayConfig {
                key_id: id.clone(),
                key_secret: secret.clone(),
                webhook_secret: c.razorpay_webhook_secret.clone().unwrap_or_default(),
                api_base: c.razorpay_api_base.trim_end_matches('/').to_string(),
                http: Default::default(),
                webhook_tolerance: razorpay::DEFAULT_WEBHOOK_TOLERANCE,
            };
            let conn = razorpay::RazorpayConnector::new(cfg).map_err(|e| format!("razorpay: {e}"))?;
            connectors.insert("razorpay", Arc::new(conn));
            live.insert("razorpay", id.starts_with("rzp_live_"));
        }
        Ok(Providers {
            connectors,
            live,
            routes: c.payment_routes.clone(),
            defaults: c.payment_default_providers.clone(),
        })
    }

    pub fn get(&self, name: &str) -> Option<Arc<dyn Connector>> {
        self.connectors.get(name).cloned()
    }

    /// Whether payments of this mode can go through `name`: the sandbox
    /// takes test-mode payments only; a provider, payments of the mode of
    /// its credentials (Stripe `sk_live_…`, Razorpay `rzp_live_…`, PayPal's
    /// live API host).
    pub fn available(&self, name: &str, livemode: bool) -> bool {
        match name {
            "sandbox" => !livemode,
            other => self.connectors.contains_key(other) && self.live.get(other) == Some(&livemode),
        }
    }

    /// The providers that may take a payment from a buyer in `country`
    /// paying in `currency`, in order of preference: the first routing
    /// rule that matches, else the defaults; unavailable ones left out.
    pub fn route(&self, country: Option<&str>, currency: &str, livemode: bool) -> Vec<String> {
        let rule = self.routes.iter().find(|r| {
            r.country.as_deref().is_none_or(|c| Some(c) == country)
                && r.currency.as_deref().is_none_or(|c| c.eq_ignore_ascii_case(currency))
        });
        let list = rule.map_or(&self.defaults, |r| &r.providers);
        list.iter().filter(|p| self.available(p, livemode)).cloned().collect()
    }
}

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

/// What a provider said, reduced to what Bursar records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Succeeded {
        provider_payment_id: String,
        fee: Option<i64>,
    },
    Processing {
        provider_payment_id: String,
    },
    Failed {
        provider_payment_id: Option<String>,
        code: String,
        message: String,
    },
    /// Ask again later (timeout, outage, unknown outcome).
    Unknown {
        detail: String,
    },
}

impl From<Result<ChargeOutcome, ProviderError>> for Answer {
    fn from(r: Result<ChargeOutcome, ProviderError>) -> Answer {
        match r {
            Ok(ChargeOutcome::Succeeded { provider_payment_id, fee_minor }) => {
                Answer::Succeeded { provider_payment_id, fee: fee_minor }
            }
            Ok(ChargeOutcome::Processing { provider_payment_id }) => Answer::Processing { provider_payment_id },
            // Off-session there is nobody to authenticate: a decline the
            // learner resolves by updating the method (dunning's email).
            Ok(ChargeOutcome::RequiresAction { provider_payment_id, .. }) => Answer::Failed {
                provider_payment_id: Some(provider_payment_id),
                code: "authentication_required".into(),
                message: "the bank asks the cardholder to authenticate this payment".into(),
            },
            Ok(ChargeOutcome::Declined { provider_payment_id, code, message }) => {
                Answer::Failed { provider_payment_id, code, message }
            }
            Err(e) if e.outcome_unknown() || e.may_fall_back() => Answer::Unknown { detail: e.to_string() },
            Err(e) => {
                Answer::Failed { provider_payment_id: None, code: "provider_error".into(), message: e.to_string() }
            }
        }
    }
}

/// How long to wait before asking about a payment again, by how many times
/// it was asked: 1 min, 5 min, 30 min, then hourly.
fn next_check_delay(checks: i64) -> i64 {
    match checks {
        0 => 60_000,
        1 => 300_000,
        2 => 1_800_000,
        _ => 3_600_000,
    }
}

/// Records an answer on a pending or processing payment and everything
/// that follows from it: the ledger entry and the paid invoice, or the
/// failure and dunning. Answers for settled payments change nothing (a
/// late or repeated answer is harmless).
/// `now` is the customer's clock; `server_now` schedules the next check.
pub async fn apply(
    tx: &mut Tx,
    settings: &Settings,
    p: &mut PaymentRow,
    answer: Answer,
    now: i64,
    server_now: i64,
) -> Result<()> {
    // Settled payments stay settled, with one exception: the provider says
    // money was taken for a payment recorded as failed (a late or
    // out-of-order answer). Money moved, so it is recorded.
    let late_success =
        matches!(p.status.as_str(), "failed" | "cancelled") && matches!(answer, Answer::Succeeded { .. });
    if !p.unsettled() && !late_success {
        return Ok(());
    }
    p.updated_at = now;
    match answer {
        Answer::Unknown { detail } => {
            let asked = p.failure_message.as_deref().map_or(0, |m| m.matches('\n').count() as i64 + 1);
            p.next_check_at = Some(server_now + next_check_delay(asked));
            let mut log = p.failure_message.take().unwrap_or_default();
            if !log.is_empty() {
                log.push('\n');
            }
            log.push_str(&detail.chars().take(200).collect::<String>());
            p.failure_message = Some(log.chars().rev().take(2000).collect::<Vec<_>>().into_iter().rev().collect());
            store::save(tx, p).await?;
            metrics::counter!("bursar_payment_outcome_unknown_total", "provider" => p.provider.clone()).increment(1);
        }
        Answer::Processing { provider_payment_id } => {
            p.provider_payment_id = Some(provider_payment_id);
            p.status = "processing".into();
            p.next_check_at = Some(server_now + 300_000);
            store::save(tx, p).await?;
        }
        Answer::Succeeded { provider_payment_id, fee } => {
            p.provider_payment_id = Some(provider_payment_id);
            p.fee = fee;
            p.status = "completed".into();
            p.completed_at = Some(now);
            p.next_check_at = None;
            p.failure_code = None;
            p.failure_message = None;
            store::save(tx, p).await?;
            succeeded(tx, p, now).await?;
            crate::checkout::payment_settled(tx, settings, p, now).await?;
            metrics::counter!("bursar_payments_total", "provider" => p.provider.clone(), "outcome" => "completed")
                .increment(1);
        }
        Answer::Failed { provider_payment_id, code, message } => {
            p.provider_payment_id = provider_payment_id.or(p.provider_payment_id.take());
            p.status = "failed".into();
            p.failure_code = Some(code.clone());
            p.failure_message = Some(message);
            p.next_check_at = None;
            store::save(tx, p).await?;
            if p.checkout_session_id.is_some() {
                // The buyer is on the page and can try another card: no
                // dunning for a payment that was never accepted.
                crate::checkout::payment_settled(tx, settings, p, now).await?;
            } else {
                failed(tx, settings, p, &code, now).await?;
            }
            metrics::counter!("bursar_payments_total", "provider" => p.provider.clone(), "outcome" => "failed")
                .increment(1);
        }
    }
    Ok(())
}

async fn succeeded(tx: &mut Tx, p: &PaymentRow, now: i64) -> Result<()> {
    events::emit(
        tx,
        p.livemode,
        "payment.succeeded",
        &p.id,
        &serde_json::json!({"id": p.id, "amount": p.amount, "currency": p.currency, "customer": p.customer_id,
            "invoice": p.invoice_id, "provider": p.provider}),
        now,
    )
    .await?;
    let Some(inv_id) = &p.invoice_id else { return Ok(()) };
    let inv = billing_store::invoice(&mut **tx, p.livemode, inv_id).await?.ok_or_else(Error::internal)?;
    let number = inv.number.clone().unwrap_or_default();
    let e = payment_entry(p, &number)?;
    ledger::post(tx, ledger::NewEntry::at(p.livemode, &e, now).source("payment", &p.id)).await?;
    if inv.status != "open" {
        // Paid after the invoice was voided or written off: the money sits
        // in the provider's clearing account and receivables until staff
        // refund it; flagged for reconciliation.
        tracing::warn!(payment = %p.id, invoice = %inv.id, status = %inv.status, "payment for a closed invoice");
        return Ok(());
    }
    dunning::mark_invoice_paid(tx, &inv.id, p.amount, now).await?;
    events::emit(
        tx,
        p.livemode,
        "invoice.paid",
        &inv.id,
        &serde_json::json!({"id": inv.id, "number": inv.number, "total": inv.total, "amount_due": inv.amount_due,
            "currency": inv.currency, "customer": inv.customer_id, "subscription": inv.subscription_id, "payment": p.id}),
        now,
    )
    .await?;
    if let Some(mut d) = dunning::get(tx, &inv.id, "").await? {
        d.state = "recovered".into();
        d.next_attempt_at = None;
        d.updated_at = now;
        dunning::save(tx, &d).await?;
    }
    if let Some(sub_id) = &inv.subscription_id {
        if let Some(mut sub) = billing_store::subscription(tx, p.livemode, sub_id, "").await? {
            if matches!(Status::parse(&sub.status), Some(Status::PastDue | Status::Unpaid)) {
                sub.status = Status::Active.as_str().into();
                sub.updated_at = now;
                billing_store::save_subscription(tx, &sub).await?;
                billing::emit_sub(tx, &sub, "subscription.recovered", now).await?;
            }
        }
    }
    Ok(())
}

async fn failed(tx: &mut Tx, settings: &Settings, p: &PaymentRow, code: &str, now: i64) -> Result<()> {
    events::emit(
        tx,
        p.livemode,
        "payment.failed",
        &p.id,
        &serde_json::json!({"id": p.id, "amount": p.amount, "currency": p.currency, "customer": p.customer_id,
            "invoice": p.invoice_id, "provider": p.provider, "failure_code": code}),
        now,
    )
    .await?;
    let Some(inv_id) = &p.invoice_id else { return Ok(()) };
    let inv = billing_store::invoice(&mut **tx, p.livemode, inv_id).await?.ok_or_else(Error::internal)?;
    if inv.status != "open" {
        return Ok(());
    }
    billing::invoice_payment_failed(tx, settings, &inv, code, now).await?;
    if let Some(sub_id) = &inv.subscription_id {
        if let Some(mut sub) = billing_store::subscription(tx, p.livemode, sub_id, "").await? {
            let status = Status::parse(&sub.status).ok_or_else(Error::internal)?;
            let event = if status == Status::Trialing { Event::TrialPaymentFailed } else { Event::RenewalFailed };
            if let Ok(next) = bursar_domain::subscription::transition(status, event) {
                sub.status = next.as_str().into();
                sub.updated_at = now;
                billing_store::save_subscription(tx, &sub).await?;
                billing::emit_sub(tx, &sub, "subscription.past_due", now).await?;
            }
        }
    }
    Ok(())
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

/// Asks the provider about one pending or processing payment (charging it
/// the first time, or again under the same idempotency key) and applies
/// the answer. `now` is the clock the payment's customer lives by.
async fn check_one(db: &Db, settings: &Settings, id: &str, server_now: i64) -> Result<()> {
    let Some(p) = store::get(db.reader(), id).await? else { return Ok(()) };
    if !p.unsettled() {
        return Ok(());
    }
    let answer = ask(db, settings, &p).await?;
    let mut tx = db.begin().await?;
    let Some(mut p) = store::get_locked(&mut tx, db.for_update(), id).await? else { return Ok(()) };
    let customer = customers::get(&mut *tx, p.livemode, &p.customer_id).await?.ok_or_else(Error::internal)?;
    let now = billing::now_for(&mut tx, &customer, server_now).await?;
    apply(&mut tx, settings, &mut p, answer, now, server_now).await?;
    tx.commit().await?;
    Ok(())
}

/// The provider's answer for a payment (no transaction is open here).
async fn ask(db: &Db, settings: &Settings, p: &PaymentRow) -> Result<Answer> {
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

/// Collects the given pending payments now (after the transaction that
/// created them committed). Failures to reach the provider leave them for
/// [`run_checks`].
pub async fn collect(db: &Db, settings: &Settings, ids: &[String], server_now: i64) -> u32 {
    let mut n = 0;
    for id in ids {
        match check_one(db, settings, id, server_now).await {
            Ok(()) => n += 1,
            Err(e) => {
                tracing::warn!(payment = %id, error = %e, "collecting a payment failed; it will be checked again")
            }
        }
    }
    n
}

/// The customer's payments created at or after `since` that wait for
/// collection (what a request just issued).
pub async fn pending_of(db: &Db, customer_id: &str, since: i64) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM payments WHERE customer_id = $1 AND status = 'pending' AND created_at >= $2 ORDER BY id",
    )
    .bind(customer_id)
    .bind(since)
    .fetch_all(db.reader())
    .await
    .map_err(bursar_store::DbError::from)?)
}

/// Asks about every unsettled payment and refund whose check is due (the
/// recovery of outcomes that are unknown). Returns how many were asked
/// about.
pub async fn run_checks(db: &Db, settings: &Settings, server_now: i64) -> Result<u32> {
    let ids = store::due_for_check(db.reader(), server_now, 200).await?;
    let refunds = store::refunds_due(db.reader(), server_now, 200).await?;
    Ok(collect(db, settings, &ids, server_now).await + settle_refunds(db, settings, &refunds, server_now).await)
}

/// Sends pending refunds to their providers (after the commit that created
/// them), under idempotency keys derived from the refund ids, and records
/// the answers. A refund the provider refuses is reversed in the ledger.
pub async fn settle_refunds(db: &Db, settings: &Settings, ids: &[String], server_now: i64) -> u32 {
    let mut n = 0;
    for id in ids {
        match settle_refund(db, settings, id, server_now).await {
            Ok(()) => n += 1,
            Err(e) => tracing::warn!(refund = %id, error = %e, "refund not settled; it will be retried"),
        }
    }
    n
}

async fn settle_refund(db: &Db, settings: &Settings, id: &str, server_now: i64) -> Result<()> {
    let Some(r) = store::refund(db.reader(), id).await? else { return Ok(()) };
    if r.status != "pending" {
        return Ok(());
    }
    let p = store::get(db.reader(), &r.payment_id).await?.ok_or_else(Error::internal)?;
    let answer = match (settings.providers.get(&r.provider), &p.provider_payment_id) {
        (Some(conn), Some(pid)) => {
            let req = bursar_providers::RefundRequest {
                refund_id: r.id.clone(),
                provider_payment_id: pid.clone(),
                amount: Money::new(r.amount, &r.currency),
                reason: None,
            };
            Some(conn.refund(&req).await)
        }
        _ => None,
    };
    let mut tx = db.begin().await?;
    let Some(mut r) = store::refund_locked(&mut tx, db.for_update(), id).await? else { return Ok(()) };
    if r.status != "pending" {
        return Ok(());
    }
    r.updated_at = server_now;
    match answer {
        Some(Ok(bursar_providers::RefundOutcome::Succeeded { provider_refund_id })) => {
            r.status = "succeeded".into();
            r.provider_refund_id = Some(provider_refund_id);
            r.next_check_at = None;
            events::emit(
                &mut tx,
                r.livemode,
                "refund.succeeded",
                &r.id,
                &serde_json::json!({"id": r.id, "payment": r.payment_id,
                "amount": r.amount, "currency": r.currency, "credit_note": r.credit_note_id}),
                server_now,
            )
            .await?;
        }
        Some(Ok(bursar_providers::RefundOutcome::Pending { provider_refund_id })) => {
            r.provider_refund_id = Some(provider_refund_id);
            r.next_check_at = Some(server_now + 300_000);
        }
        Some(Ok(bursar_providers::RefundOutcome::Failed { provider_refund_id, message })) => {
            r.status = "failed".into();
            r.provider_refund_id = provider_refund_id;
            r.failure_message = Some(message);
            r.next_check_at = None;
            refund_failed(&mut tx, &r, server_now).await?;
        }
        Some(Err(e)) if e.outcome_unknown() || e.may_fall_back() => {
            r.failure_message = Some(e.to_string());
            r.next_check_at = Some(server_now + 300_000);
        }
        Some(Err(e)) => {
            r.status = "failed".into();
            r.failure_message = Some(e.to_string());
            r.next_check_at = None;
            refund_failed(&mut tx, &r, server_now).await?;
        }
        None => {
            r.failure_message = Some(format!("provider {} is not configured", r.provider));
            r.next_check_at = Some(server_now + 3_600_000);
        }
    }
    store::save_refund(&mut tx, &r).await?;
    tx.commit().await?;
    Ok(())
}

/// A refund the provider refused: the credit note's ledger entry is
/// reversed (the money never left) and the payment's refunded amount
/// restored.
async fn refund_failed(tx: &mut Tx, r: &store::RefundRow, now: i64) -> Result<()> {
    for entry in ledger::open_entries_of(tx, "credit_note", &r.credit_note_id).await? {
        ledger::reverse(tx, r.livemode, &entry, "Refund refused by the provider", now).await.map_err(|e| {
            tracing::error!(error = %e, "reversing a failed refund");
            Error::internal()
        })?;
    }
    store::adjust_refunded(tx, &r.payment_id, -r.amount, now).await?;
    bursar_store::billing::void_credit_note(tx, &r.credit_note_id).await?;
    // A course order's claw-back is undone with it.
    crate::marketplace::on_refund_failed(tx, r.livemode, &r.credit_note_id, now).await?;
    events::emit(
        tx,
        r.livemode,
        "refund.failed",
        &r.id,
        &serde_json::json!({"id": r.id, "payment": r.payment_id,
        "amount": r.amount, "currency": r.currency, "credit_note": r.credit_note_id, "reason": r.failure_message}),
        now,
    )
    .await?;
    Ok(())
}

pub fn provider_kind(name: &str) -> Option<ProviderKind> {
    ProviderKind::parse(name)
}
