//! A customer's credit balance: grants and removals posted to the ledger,
//! applied before charging.

use super::model::credit_account;
use crate::actor::Actor;
use crate::common::{secs, List, Page};
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::idempotency::Reply;
use bursar_domain::id::{is_valid, IdKind};
use bursar_domain::ledger::{natural_balance, AccountKind, EntryDraft};
use bursar_domain::money::MAX_AMOUNT_MINOR;
use bursar_store::{customers, events, ledger};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

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

/// Grants (positive amount) or takes back (negative) credit; the balance
/// never goes below zero.
pub async fn create(
    ctx: &Ctx,
    actor: &Actor,
    id: &str,
    body: BalanceTransactionCreate,
    reply: &Reply,
) -> Result<BalanceTransaction> {
    let currency = crate::common::new_currency("currency", &body.currency)?;
    if body.amount == 0 || body.amount.unsigned_abs() > MAX_AMOUNT_MINOR as u64 {
        return Err(Error::invalid(
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
        return Err(Error::invalid("description", "description must be at most 500 characters"));
    }
    if !is_valid(IdKind::Customer, id) {
        return Err(Error::not_found("id", "customer", id));
    }
    let mut tx = ctx.db.begin().await?;
    // Lock the customer row so concurrent debits cannot overdraw the credit.
    customers::lock(&mut tx, ctx.db.for_update(), actor.livemode, id).await?;
    let row = customers::get(&mut *tx, actor.livemode, id)
        .await?
        .filter(|c| c.deleted_at.is_none())
        .ok_or_else(|| Error::not_found("id", "customer", id))?;
    let account = credit_account(id);
    let current = natural_balance(
        AccountKind::Liability,
        ledger::balance_in_tx(&mut tx, actor.livemode, &account, currency.code()).await?,
    );
    let ending = current.checked_add(body.amount).ok_or_else(|| Error::invalid("amount", "amount out of range"))?;
    if ending < 0 {
        return Err(Error::invalid(
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
    let entry = draft.validate().map_err(|e| Error::invalid("amount", e.to_string()))?;
    let now = crate::time::customer_now(ctx, &mut tx, &row).await?;
    let entry_id =
        ledger::post(&mut tx, ledger::NewEntry::at(actor.livemode, &entry, now).source("customer_balance", id)).await?;
    let out = BalanceTransaction {
        id: entry_id,
        object: "customer_balance_transaction",
        customer: id.to_string(),
        livemode: actor.livemode,
        amount: body.amount,
        currency: currency.code().to_string(),
        ending_balance: Some(ending),
        description,
        created: secs(now),
    };
    events::emit(
        &mut tx,
        actor.livemode,
        "customer.balance_transaction.created",
        id,
        &serde_json::to_value(&out).unwrap_or_default(),
        now,
    )
    .await?;
    reply.commit(tx, &out).await?;
    Ok(out)
}

/// A customer's credit movements, newest first.
pub async fn list(ctx: &Ctx, actor: &Actor, id: &str, page: &Page) -> Result<List<BalanceTransaction>> {
    let row = super::manage::live(ctx, actor.livemode, id).await?;
    let account = credit_account(&row.id);
    let entries = ledger::list_entries(
        &ctx.db,
        actor.livemode,
        Some("customer_balance"),
        Some(&row.id),
        page.starting_after.as_deref(),
        page.limit + 1,
    )
    .await?;
    Ok(List::from_rows(entries, page.limit).map(|e| {
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
    }))
}
