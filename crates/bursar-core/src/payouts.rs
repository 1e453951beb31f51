//! Payouts through providers: Stripe Connect transfers (`stripe_connect`,
//! details `{"account": "acct_…"}`) and PayPal Payouts (`paypal`, details
//! `{"email": "…"}`).
//!
//! Crash safety follows the payments side: a provider is never called while
//! a transaction is open.
//!
//! 1. The payout run inserts the payout `pending` with its destination, takes
//!    the payee's due earnings or commissions, and posts Dr
//!    `{kind}_payable:{id}` / Cr `payouts_in_transit`, all in its
//!    transaction.
//! 2. After the commit, [`settle`] first counts an attempt in a short
//!    committed transaction, then calls the provider under an idempotency
//!    key derived from the payout id, then applies the answer in a new
//!    transaction: paid (Dr `payouts_in_transit` / Cr `cash`), failed (the
//!    entry reversed and the earnings and commissions released for the next
//!    run), or still pending.
//! 3. A payout left pending (an unknown outcome, a batch PayPal is still
//!    processing, a crash anywhere in between) is due for a check:
//!    [`run_checks`] (a background job) and [`recover`] (the start of every
//!    payout run) settle it. A payout attempted before is looked up first
//!    and sent again only when the provider has no record of it, so it is
//!    never paid twice, however long the provider keeps idempotency keys.

use crate::error::{Error, Result};
use crate::providers::Providers;
use crate::settings::Settings;
use bursar_domain::ledger::EntryDraft;
use bursar_domain::money::Currency;
use bursar_providers::payouts::{PayoutRequest, PayoutStatus};
use bursar_providers::{Money, ProviderError};
use bursar_store::marketplace::{self as store, ProviderPayoutRow};
use bursar_store::{events, ledger, Db, Tx};
use serde_json::{json, Value};

/// The provider a payout method pays through.
pub fn provider_of(method: &str) -> Option<&'static str> {
    match method {
        "stripe_connect" => Some("stripe"),
        "paypal" => Some("paypal"),
        _ => None,
    }
}

/// Where a provider method sends the money, from the payee's stored
/// `payout_details`.
pub fn destination(method: &str, details: &str) -> Option<String> {
    let details: Value = serde_json::from_str(details).ok()?;
    let key = match method {
        "stripe_connect" => "account",
        "paypal" => "email",
        _ => return None,
    };
    details.get(key).and_then(Value::as_str).map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

fn valid_account(account: &str) -> bool {
    account
        .strip_prefix("acct_")
        .is_some_and(|rest| (1..=250).contains(&rest.len()) && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
}

fn valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else { return false };
    email.len() <= 127
        && !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Checks the details of a `bank_transfer` payee: an IBAN of 15 to 34
/// upper-case letters and digits, starting with two letters.
pub fn check_iban(details: &Value) -> Result<()> {
    let iban = details.get("iban").and_then(|v| v.as_str()).unwrap_or_default();
    let ok = (15..=34).contains(&iban.len())
        && iban.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        && iban[..2].chars().all(|c| c.is_ascii_uppercase());
    if !ok {
        return Err(Error::invalid("payout_details.iban", "an IBAN of 15 to 34 upper-case letters and digits"));
    }
    Ok(())
}

/// Checks a provider payout method (`stripe_connect`, `paypal`) and its
/// details for a payee of this mode: the details name a valid account, and
/// the provider is configured with credentials of the mode.
pub fn check_method(providers: &Providers, method: &str, details: &Value, livemode: bool) -> Result<()> {
    let field = |k: &str| details.get(k).and_then(Value::as_str).unwrap_or_default();
    let (provider, name) = match method {
        "stripe_connect" => {
            if !valid_account(field("account")) {
                return Err(Error::invalid(
                    "payout_details.account",
                    "the payee's Stripe connected account id (acct_…)",
                ));
            }
            ("stripe", "Stripe")
        }
        "paypal" => {
            if !valid_email(field("email")) {
                return Err(Error::invalid("payout_details.email", "the email address of the payee's PayPal account"));
            }
            ("paypal", "PayPal")
        }
        _ => return Err(Error::invalid("payout_method", "not a provider payout method")),
    };
    if !providers.available(provider, livemode) {
        let mode = if livemode { "live" } else { "test" };
        return Err(Error::invalid(
            "payout_method",
            format!("{method} needs {name} configured with {mode}-mode credentials"),
        ));
    }
    Ok(())
}

/// What a provider said about a payout, reduced to what Bursar records.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Answer {
    Paid {
        provider_ref: String,
        amount: Money,
    },
    InProgress {
        provider_ref: String,
    },
    /// Certainly not paid.
    Failed {
        provider_ref: Option<String>,
        message: String,
    },
    /// Ask again later (timeout, outage, unknown outcome, provider missing).
    Unknown {
        detail: String,
    },
}

impl Answer {
    /// The answer to sending a payout (a refusal of the request itself is
    /// a failure: nothing was paid).
    fn of_send(r: Result<PayoutStatus, ProviderError>) -> Answer {
        match r {
            Err(e) if !e.outcome_unknown() && !e.may_fall_back() => {
                Answer::Failed { provider_ref: None, message: e.to_string() }
            }
            other => Answer::of_lookup(other),
        }
    }

    /// The answer to a lookup: an error there says nothing about the payout.
    fn of_lookup(r: Result<PayoutStatus, ProviderError>) -> Answer {
        match r {
            Ok(PayoutStatus::Paid { provider_ref, amount }) => Answer::Paid { provider_ref, amount },
            Ok(PayoutStatus::InProgress { provider_ref }) => Answer::InProgress { provider_ref },
            Ok(PayoutStatus::Failed { provider_ref, code, message }) => {
                Answer::Failed { provider_ref, message: format!("{code}: {message}") }
            }
            Ok(PayoutStatus::NotFound) => Answer::Unknown { detail: "the provider has no record of it".into() },
            Err(e) => Answer::Unknown { detail: e.to_string() },
        }
    }
}

/// How long to wait before asking about a payout again, by how many
/// attempts it has had: 1 min, 5 min, 30 min, then hourly.
fn next_check_delay(attempts: i64) -> i64 {
    match attempts {
        ..=1 => 60_000,
        2 => 300_000,
        3 => 1_800_000,
        _ => 3_600_000,
    }
}

/// Sends or looks up one pending payout and records the answer. No
/// transaction is open while the provider is asked. Does nothing for a
/// payout that is not pending (settled, or not a provider payout).
pub async fn settle(db: &Db, settings: &Settings, id: &str, now: i64) -> Result<()> {
    // The attempt is committed before the provider is called: whatever
    // happens next, a later attempt knows this one may have reached it.
    let p = {
        let mut tx = db.begin().await?;
        let Some(mut p) = store::provider_payout_locked(&mut tx, db.for_update(), id).await? else { return Ok(()) };
        if p.status != "pending" || provider_of(&p.method).is_none() {
            return Ok(());
        }
        let next = now + next_check_delay(p.attempts + 1);
        if !store::claim_payout_attempt(&mut tx, id, next).await? {
            return Ok(());
        }
        tx.commit().await?;
        p.attempts += 1;
        p.next_check_at = Some(next);
        p
    };
    let answer = ask(settings, &p).await;
    let mut tx = db.begin().await?;
    let Some(mut p) = store::provider_payout_locked(&mut tx, db.for_update(), id).await? else { return Ok(()) };
    if p.status != "pending" {
        return Ok(());
    }
    apply(&mut tx, &mut p, answer, now).await?;
    tx.commit().await?;
    Ok(())
}

/// The provider's answer for a claimed payout.
async fn ask(settings: &Settings, p: &ProviderPayoutRow) -> Answer {
    // Whether an earlier attempt may have reached the provider.
    let tried_before = p.attempts > 1 || p.provider_ref.is_some();
    let not_sent = |detail: String| {
        if tried_before {
            Answer::Unknown { detail }
        } else {
            Answer::Failed { provider_ref: None, message: detail }
        }
    };
    let provider = provider_of(&p.method).unwrap_or_default();
    let livemode = p.livemode != 0;
    let conn = settings.providers.get(provider).filter(|_| settings.providers.available(provider, livemode));
    let Some(conn) = conn else {
        let mode = if livemode { "live" } else { "test" };
        return not_sent(format!("{provider} is not configured for {mode} mode"));
    };
    let Some(payouts) = conn.payouts() else {
        return not_sent(format!("{provider} offers no payouts"));
    };
    let Some(destination) = p.destination.clone() else {
        return not_sent(format!("the payee's {} details name no account", p.method));
    };
    let req = PayoutRequest {
        payout_id: p.id.clone(),
        amount: Money::new(p.amount, &p.currency),
        destination,
        description: format!("Payout {} for {}", p.reference.as_deref().unwrap_or(&p.id), p.period),
    };
    let started = std::time::Instant::now();
    let answer = if tried_before {
        match payouts.retrieve_payout(&p.id, p.provider_ref.as_deref()).await {
            Ok(PayoutStatus::NotFound) => Answer::of_send(payouts.send_payout(&req).await),
            other => Answer::of_lookup(other),
        }
    } else {
        Answer::of_send(payouts.send_payout(&req).await)
    };
    metrics::histogram!("bursar_provider_call_seconds", "provider" => provider, "call" => "payout")
        .record(started.elapsed().as_secs_f64());
    answer
}

/// Records an answer on a pending payout, with its ledger entries, released
/// earnings and events.
async fn apply(tx: &mut Tx, p: &mut ProviderPayoutRow, answer: Answer, now: i64) -> Result<()> {
    let livemode = p.livemode != 0;
    let provider = provider_of(&p.method).unwrap_or("the bank");
    // Entries never predate the payout (a run may be dated ahead of the
    // server's clock in test mode).
    let at = now.max(p.created_at);
    let answer = match answer {
        Answer::Paid { amount, .. }
            if amount.minor != p.amount || !amount.currency().eq_ignore_ascii_case(&p.currency) =>
        {
            tracing::error!(payout = %p.id, reported = ?amount, "the provider reports a different amount; not applied");
            Answer::Unknown { detail: format!("the provider reports {} {}", amount.minor, amount.currency()) }
        }
        other => other,
    };
    match answer {
        Answer::Unknown { detail } => {
            p.failure_message = Some(detail.chars().take(500).collect());
            store::save_provider_payout(tx, p).await?;
            metrics::counter!("bursar_payout_outcome_unknown_total", "provider" => provider).increment(1);
        }
        Answer::InProgress { provider_ref } => {
            p.provider_ref = Some(provider_ref);
            p.failure_message = None;
            store::save_provider_payout(tx, p).await?;
        }
        Answer::Paid { provider_ref, .. } => {
            p.status = "paid".into();
            p.paid_at = Some(at);
            p.provider_ref = Some(provider_ref);
            p.failure_message = None;
            p.next_check_at = None;
            store::save_provider_payout(tx, p).await?;
            let currency = Currency::from_code(&p.currency).map_err(internal)?;
            let e = EntryDraft::new(currency, format!("Payout {} paid through {provider}", p.id))
                .debit("payouts_in_transit", p.amount)
                .credit("cash", p.amount)
                .validate()
                .map_err(internal)?;
            ledger::post(tx, ledger::NewEntry::at(livemode, &e, at).source("payout", &p.id)).await?;
            emit(tx, p, "payout.paid", at).await?;
            metrics::counter!("bursar_payouts_total", "provider" => provider, "outcome" => "paid").increment(1);
        }
        Answer::Failed { provider_ref, message } => {
            p.status = "failed".into();
            p.provider_ref = provider_ref.or(p.provider_ref.take());
            p.failure_message = Some(message.chars().take(500).collect());
            p.next_check_at = None;
            store::save_provider_payout(tx, p).await?;
            // The money never left: the payable is restored and the rows
            // the payout took are due again.
            for entry in ledger::open_entries_of(tx, "payout", &p.id).await? {
                ledger::reverse(tx, livemode, &entry, &format!("Payout {} refused by {provider}", p.id), at)
                    .await
                    .map_err(internal)?;
            }
            store::release_payout(tx, &p.id, at).await?;
            emit(tx, p, "payout.failed", at).await?;
            metrics::counter!("bursar_payouts_total", "provider" => provider, "outcome" => "failed").increment(1);
        }
    }
    Ok(())
}

async fn emit(tx: &mut Tx, p: &ProviderPayoutRow, kind: &str, at: i64) -> Result<()> {
    events::emit(
        tx,
        p.livemode != 0,
        kind,
        &p.id,
        &json!({"id": p.id, "payee_kind": p.payee_kind, "payee": p.payee_id, "currency": p.currency,
            "amount": p.amount, "method": p.method, "period": p.period, "reference": p.reference,
            "provider_reference": p.provider_ref, "failure_message": p.failure_message}),
        at,
    )
    .await?;
    Ok(())
}

fn internal<E: std::fmt::Display>(e: E) -> Error {
    tracing::error!(error = %e, "payouts");
    Error::internal()
}

/// Settles the given payouts one after the other (a run's new payouts,
/// after its commit). Failures to reach the provider leave them pending for
/// a later check. Returns how many were handled.
pub async fn settle_all(db: &Db, settings: &Settings, ids: &[String], now: i64) -> u32 {
    let mut n = 0;
    for id in ids {
        match settle(db, settings, id, now).await {
            Ok(()) => n += 1,
            Err(e) => tracing::warn!(payout = %id, error = %e, "payout not settled; it will be checked again"),
        }
    }
    n
}

/// The recovery job: every pending payout whose check is due by `now` (the
/// server's clock) is looked up or sent. Returns how many were asked about.
pub async fn run_checks(db: &Db, settings: &Settings, now: i64) -> Result<u32> {
    let due = store::payouts_due_for_check(db.reader(), now, 200).await?;
    Ok(settle_all(db, settings, &due, now).await)
}

/// Settles every pending payout of a mode, due or not: the start of a
/// payout run, so that what a failed payout gave back is paid by the run.
pub async fn recover(db: &Db, settings: &Settings, livemode: bool, now: i64) -> Result<u32> {
    let pending = store::pending_payouts(db.reader(), livemode).await?;
    Ok(settle_all(db, settings, &pending, now).await)
}

/// Staff report what the bank did with an exported transfer: `paid`
/// (money left the bank: Dr `payouts_in_transit`, Cr `cash`) or refused
/// (`reason`: the entry is reversed and the rows are due again). Only an
/// `in_transit` bank transfer of the caller's mode can be settled this way.
pub async fn settle_bank_transfer(
    db: &Db,
    livemode: bool,
    id: &str,
    failure: Option<String>,
    now: i64,
) -> Result<ProviderPayoutRow> {
    let mut tx = db.begin().await?;
    let p = settle_bank_transfer_in(&mut tx, db.for_update(), livemode, id, failure, now).await?;
    tx.commit().await?;
    Ok(p)
}

/// [`settle_bank_transfer`] inside the caller's transaction (`for_update`:
/// the backend's row-lock fragment), which the caller commits.
pub async fn settle_bank_transfer_in(
    tx: &mut Tx,
    for_update: &str,
    livemode: bool,
    id: &str,
    failure: Option<String>,
    now: i64,
) -> Result<ProviderPayoutRow> {
    let mut p = store::provider_payout_locked(tx, for_update, id)
        .await?
        .filter(|p| (p.livemode != 0) == livemode)
        .ok_or_else(|| Error::not_found("id", "payout", id))?;
    if p.method != "bank_transfer" || p.status != "in_transit" {
        return Err(Error::conflict(
            "payout_not_in_transit",
            format!("only a bank transfer in transit can be settled; this payout is a {} {}", p.status, p.method),
        ));
    }
    let answer = match failure {
        None => Answer::Paid {
            provider_ref: p.reference.clone().unwrap_or_default(),
            amount: Money::new(p.amount, &p.currency),
        },
        Some(message) => Answer::Failed { provider_ref: None, message },
    };
    apply(tx, &mut p, answer, now).await?;
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_come_from_the_method_s_field() {
        assert_eq!(destination("stripe_connect", r#"{"account": " acct_1A2b "}"#).as_deref(), Some("acct_1A2b"));
        assert_eq!(destination("paypal", r#"{"email": "ana@example.com"}"#).as_deref(), Some("ana@example.com"));
        assert_eq!(destination("paypal", r#"{"account": "acct_1"}"#), None);
        assert_eq!(destination("bank_transfer", r#"{"iban": "DE89370400440532013000"}"#), None);
        assert_eq!(destination("paypal", "not json"), None);
    }

    #[test]
    fn accounts_and_emails_are_checked() {
        assert!(valid_account("acct_1NxYz"));
        assert!(!valid_account("acct_") && !valid_account("acc_1") && !valid_account("acct_1 2"));
        assert!(valid_email("ana.lopes@mail.example.org"));
        for bad in ["ana", "@x.org", "ana@", "ana@localhost", "ana@x..", "a b@x.org", "a@b@x.org", "ana@.org"] {
            assert!(!valid_email(bad), "{bad}");
        }
    }

    #[test]
    fn only_a_refused_send_is_a_failure() {
        let refused = || ProviderError::Rejected { provider: "stripe", status: 400, message: "no".into() };
        let lost = || ProviderError::Indeterminate { provider: "stripe", detail: "500".into() };
        let down = || ProviderError::Unavailable { provider: "stripe", detail: "503".into() };
        assert!(matches!(Answer::of_send(Err(refused())), Answer::Failed { .. }));
        assert!(matches!(Answer::of_send(Err(lost())), Answer::Unknown { .. }));
        assert!(matches!(Answer::of_send(Err(down())), Answer::Unknown { .. }));
        // A lookup that fails says nothing about the payout.
        assert!(matches!(Answer::of_lookup(Err(refused())), Answer::Unknown { .. }));
        assert!(matches!(Answer::of_lookup(Ok(PayoutStatus::NotFound)), Answer::Unknown { .. }));
        let failed = PayoutStatus::Failed { provider_ref: None, code: "DENIED".into(), message: "denied".into() };
        assert_eq!(
            Answer::of_lookup(Ok(failed)),
            Answer::Failed { provider_ref: None, message: "DENIED: denied".into() }
        );
    }
}
