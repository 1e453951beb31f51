//! Shared rules of subscriptions and invoices: invoice lines before they
//! are stored, state transitions, billing periods, the customer's clock,
//! credit balance and tax identity.

use crate::error::{Error, Result};
use bursar_domain::catalog::Interval;
use bursar_domain::clock::from_millis;
use bursar_domain::ledger::{natural_balance, AccountKind};
use bursar_domain::subscription::{self as dom, Event, Period, Status};
use bursar_domain::tax::{self};
use bursar_store::billing::{InvoiceRow, LineRow};
use bursar_store::events;
use bursar_store::payments::PaymentRow;

use bursar_store::billing::SubscriptionRow;
use bursar_store::customers::CustomerRow;
use bursar_store::{ledger, Tx};

/// One invoice line before it is stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LineDraft {
    /// `plan`, `proration`, `one_off`, `discount`, `tax`, `usage`.
    pub kind: &'static str,
    pub description: String,
    pub quantity: i64,
    pub unit_amount: i64,
    pub amount: i64,
    pub price_id: Option<String>,
    pub period_start: Option<i64>,
    pub period_end: Option<i64>,
}

impl LineDraft {
    /// A discount line: `off` (positive) taken off.
    pub fn discount(description: String, off: i64) -> LineDraft {
        LineDraft {
            kind: "discount",
            description,
            quantity: 1,
            unit_amount: -off,
            amount: -off,
            price_id: None,
            period_start: None,
            period_end: None,
        }
    }
}

pub(crate) fn err(e: impl std::fmt::Display) -> Error {
    tracing::error!(error = %e, "billing failure");
    Error::internal()
}

pub(crate) fn transition(sub: &SubscriptionRow, event: Event) -> Result<Status> {
    let from = Status::parse(&sub.status).ok_or_else(Error::internal)?;
    dom::transition(from, event).map_err(|e| Error::invalid("id", e.to_string()))
}

pub(crate) fn interval(sub: &SubscriptionRow) -> Interval {
    Interval::parse(&sub.interval).unwrap_or(Interval::Month)
}

pub(crate) fn period_of(sub: &SubscriptionRow, at: i64) -> Result<Period> {
    dom::period_at(from_millis(sub.anchor_at), interval(sub), from_millis(at)).map_err(err)
}

/// The customer's credit balance in a currency (what Bursar owes them).
pub async fn credit_balance(tx: &mut Tx, livemode: bool, customer_id: &str, currency: &str) -> Result<i64> {
    let b = ledger::balance_in_tx(tx, livemode, &format!("customer_credit:{customer_id}"), currency).await?;
    Ok(natural_balance(AccountKind::Liability, b))
}

/// The instant a customer lives at, by id.
pub async fn now_for(tx: &mut Tx, customer: &CustomerRow, server_now: i64) -> Result<i64> {
    crate::time::instant_of(&mut **tx, customer, server_now).await
}

/// The buyer as tax sees them: billing country, state, and their first VAT
/// id that is verified: its check digits match offline, or the registry
/// (VIES) confirmed it. An id that only matches its country's format (a
/// Latvian personal code starting with 32, a UK government-department
/// number) is not evidence of a business, so it does not make a sale
/// reverse-charged on its own.
pub fn buyer_of(customer: &CustomerRow) -> tax::Buyer {
    let address: Option<serde_json::Value> = customer.address.as_deref().and_then(|a| serde_json::from_str(a).ok());
    let addr = |k: &str| address.as_ref().and_then(|a| a.get(k)).and_then(|v| v.as_str()).map(str::to_string);
    let country = customer.country.clone().or_else(|| addr("country"));
    let ids: Vec<serde_json::Value> = serde_json::from_str(&customer.tax_ids).unwrap_or_default();
    let vat = ids.iter().find_map(|t| {
        let kind = t.get("type")?.as_str()?;
        if kind != "eu_vat" && kind != "gb_vat" {
            return None;
        }
        let id = bursar_domain::vat_id::VatId::parse(t.get("value")?.as_str()?).ok()?;
        let registered = t.pointer("/verification/status").and_then(|s| s.as_str()) == Some("verified");
        (id.check_digits_verified() || registered).then_some(id)
    });
    tax::Buyer {
        country,
        state: addr("state"),
        valid_vat_country: vat.as_ref().map(|v| v.iso_country().to_string()),
        vat_id: vat.map(|v| v.as_string()),
    }
}

/// Everything an issued invoice writes: the row, its lines, its ledger
/// entries (with their source) and its events.
pub struct BuiltInvoice {
    pub row: InvoiceRow,
    pub lines: Vec<LineRow>,
    /// Entries with their source type and id.
    pub(crate) entries: Vec<(bursar_domain::ledger::BalancedEntry, &'static str, String)>,
    /// The decline code when the charge failed (the invoice stays open).
    pub failure: Option<String>,
    pub paid: bool,
    /// The payment attempt, when one was made or is to be made.
    pub payment: Option<PaymentRow>,
    /// A provider will be charged after the commit (the invoice stays open).
    pub pending: bool,
}

/// Emits a subscription event with the subscription's state.
pub(crate) async fn emit_sub(tx: &mut Tx, sub: &SubscriptionRow, kind: &str, now: i64) -> Result<()> {
    let data = serde_json::json!({"id": sub.id, "customer": sub.customer_id, "status": sub.status, "plan": sub.plan_id,
        "price": sub.price_id, "quantity": sub.quantity, "current_period_end": sub.current_period_end / 1000});
    events::emit(tx, sub.livemode, kind, &sub.id, &data, now).await?;
    Ok(())
}
