//! The ledger as the platform sees it: manual journal entries (opening
//! balances, corrections), reversals, balances by account and date, and the
//! chart of account roots.

use crate::actor::Actor;
use crate::common::{secs, List, Page};
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::idempotency::Reply;
use bursar_domain::id::{is_valid, IdKind};
use bursar_domain::ledger::{account_kind, natural_balance, AccountKind, EntryDraft, LedgerError, ACCOUNT_ROOTS};
use bursar_domain::money::{Currency, MAX_AMOUNT_MINOR};
use bursar_store::events;
use bursar_store::ledger::{self, StoredEntry};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostingIn {
    /// An account code such as `cash`, `revenue:courses` or `tax_payable:DE`.
    pub account: String,
    /// Minor units: positive debits, negative credits.
    pub amount: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EntryCreate {
    /// ISO 4217 code; every posting is in this currency.
    pub currency: String,
    pub description: String,
    /// At least two postings summing to zero.
    pub postings: Vec<PostingIn>,
    /// Unix seconds the entry takes effect (defaults to now).
    pub effective_at: Option<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EntryReverse {
    pub description: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PostingOut {
    pub account: String,
    pub amount: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LedgerEntry {
    pub id: String,
    /// Always `ledger_entry`.
    pub object: &'static str,
    pub livemode: bool,
    pub currency: String,
    pub description: String,
    pub source_type: Option<String>,
    pub source_id: Option<String>,
    pub reverses: Option<String>,
    pub reversed_by: Option<String>,
    pub postings: Vec<PostingOut>,
    pub effective_at: i64,
    pub created: i64,
}

pub fn render(e: StoredEntry) -> LedgerEntry {
    LedgerEntry {
        id: e.id,
        object: "ledger_entry",
        livemode: e.livemode,
        currency: e.currency,
        description: e.description,
        source_type: e.source_type,
        source_id: e.source_id,
        reverses: e.reverses_entry_id,
        reversed_by: e.reversed_by_entry_id,
        postings: e.postings.into_iter().map(|p| PostingOut { account: p.account, amount: p.amount_minor }).collect(),
        effective_at: secs(e.effective_at),
        created: secs(e.created_at),
    }
}

fn ledger_error(e: LedgerError) -> Error {
    match e {
        LedgerError::BadAccount(a) => Error::invalid("postings", format!("unknown or malformed account `{a}`")),
        LedgerError::ZeroPosting(i) => Error::invalid(&format!("postings[{i}].amount"), "amounts must not be zero"),
        LedgerError::AmountOutOfRange(i) => Error::invalid(
            &format!("postings[{i}].amount"),
            format!("amounts must be at most {MAX_AMOUNT_MINOR} in absolute value"),
        ),
        LedgerError::DescriptionTooLong => Error::invalid("description", e.to_string()),
        other => Error::invalid("postings", other.to_string()),
    }
}

/// Posts a balanced manual entry (source `manual`, the actor's id) and
/// emits `ledger_entry.created`.
pub async fn create(ctx: &Ctx, actor: &Actor, body: EntryCreate, reply: &Reply) -> Result<LedgerEntry> {
    let currency = crate::common::new_currency("currency", &body.currency)?;
    if body.description.trim().is_empty() {
        return Err(Error::missing("description"));
    }
    let mut draft = EntryDraft::new(currency, body.description.trim());
    for (i, p) in body.postings.iter().enumerate() {
        account_kind(&p.account).map_err(|_| {
            Error::invalid(&format!("postings[{i}].account"), format!("unknown or malformed account `{}`", p.account))
        })?;
        draft = draft.debit(&p.account, p.amount);
    }
    let entry = draft.validate().map_err(ledger_error)?;
    let now = ctx.now_ms();
    let effective = match body.effective_at {
        None => now,
        Some(t) if (0..=253_402_214_400).contains(&t) => t * 1000,
        Some(_) => {
            return Err(Error::invalid("effective_at", "effective_at must be Unix seconds between 1970 and 9999"))
        }
    };
    let mut tx = ctx.db.begin().await?;
    let id = ledger::post(
        &mut tx,
        ledger::NewEntry {
            livemode: actor.livemode,
            entry: &entry,
            source_type: Some("manual"),
            source_id: Some(&actor.id),
            effective_at: effective,
            created_at: now,
            reverses: None,
        },
    )
    .await?;
    let stored = ledger::get_entry(&mut tx, actor.livemode, &id).await?.ok_or_else(Error::internal)?;
    let out = render(stored);
    events::emit(
        &mut tx,
        actor.livemode,
        "ledger_entry.created",
        &id,
        &serde_json::to_value(&out).unwrap_or_default(),
        now,
    )
    .await?;
    reply.commit(tx, &out).await?;
    Ok(out)
}

/// Entries of the actor's mode, newest first, optionally of one source.
pub async fn list(
    ctx: &Ctx,
    actor: &Actor,
    source_type: Option<&str>,
    source_id: Option<&str>,
    page: &Page,
) -> Result<List<LedgerEntry>> {
    let rows = ledger::list_entries(
        &ctx.db,
        actor.livemode,
        source_type,
        source_id,
        page.starting_after.as_deref(),
        page.limit + 1,
    )
    .await?;
    Ok(List::from_rows(rows, page.limit).map(render))
}

pub async fn get(ctx: &Ctx, actor: &Actor, id: &str) -> Result<LedgerEntry> {
    if !is_valid(IdKind::LedgerEntry, id) {
        return Err(Error::not_found("id", "ledger entry", id));
    }
    let mut conn = ctx.db.reader().acquire().await?;
    let e = ledger::get_entry(&mut conn, actor.livemode, id)
        .await?
        .ok_or_else(|| Error::not_found("id", "ledger entry", id))?;
    Ok(render(e))
}

/// Posts the mirror image of an entry and emits `ledger_entry.reversed`;
/// an entry is reversed at most once, and a reversal never is.
pub async fn reverse(ctx: &Ctx, actor: &Actor, id: &str, body: EntryReverse, reply: &Reply) -> Result<LedgerEntry> {
    if !is_valid(IdKind::LedgerEntry, id) {
        return Err(Error::not_found("id", "ledger entry", id));
    }
    let description = body.description.unwrap_or_else(|| format!("Reversal of {id}"));
    if description.chars().count() > 500 {
        return Err(Error::invalid("description", "description must be at most 500 characters"));
    }
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let rid = ledger::reverse(&mut tx, actor.livemode, id, &description, now).await.map_err(|e| match e {
        ledger::ReverseError::NotFound => Error::not_found("id", "ledger entry", id),
        ledger::ReverseError::AlreadyReversed(_) => {
            Error::conflict("entry_already_reversed", e.to_string()).with_param("id")
        }
        ledger::ReverseError::IsReversal(_) => Error::invalid("id", e.to_string()),
        ledger::ReverseError::Db(d) => d.into(),
    })?;
    let stored = ledger::get_entry(&mut tx, actor.livemode, &rid).await?.ok_or_else(Error::internal)?;
    let out = render(stored);
    events::emit(
        &mut tx,
        actor.livemode,
        "ledger_entry.reversed",
        id,
        &serde_json::to_value(&out).unwrap_or_default(),
        now,
    )
    .await?;
    reply.commit(tx, &out).await?;
    Ok(out)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccountBalance {
    pub account: String,
    /// asset, liability, equity, revenue, contra_revenue or expense.
    #[schema(value_type = String)]
    pub kind: AccountKind,
    pub currency: String,
    /// Debits minus credits, minor units.
    pub debit_balance: i64,
    /// The balance in the account's natural sign (positive liabilities are owed).
    pub balance: i64,
    pub postings: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BalanceList {
    /// Always `list`.
    pub object: &'static str,
    pub as_of: Option<i64>,
    pub data: Vec<AccountBalance>,
}

/// Balances of the actor's mode: of one account (or a root and its
/// qualified accounts), in one currency, as of an instant (Unix seconds, as
/// text), each as given.
pub async fn balances(
    ctx: &Ctx,
    actor: &Actor,
    account: Option<&str>,
    currency: Option<&str>,
    as_of: Option<&str>,
) -> Result<BalanceList> {
    if let Some(a) = account {
        account_kind(a).map_err(|_| Error::invalid("account", format!("unknown or malformed account `{a}`")))?;
    }
    let currency = match currency {
        None => None,
        Some(c) => {
            Some(Currency::from_code(c).map_err(|_| Error::invalid("currency", format!("unknown currency `{c}`")))?)
        }
    };
    let as_of = match as_of {
        None => None,
        Some(s) => match s.parse::<i64>() {
            Ok(t) if (0..=253_402_214_400).contains(&t) => Some(t),
            _ => return Err(Error::invalid("as_of", "as_of must be Unix seconds")),
        },
    };
    let rows =
        ledger::balances(&ctx.db, actor.livemode, account, currency.map(|c| c.code()), as_of.map(|t| t * 1000 + 999))
            .await?;
    let data = rows
        .into_iter()
        .map(|b| {
            let kind = account_kind(&b.account).unwrap_or(AccountKind::Asset);
            AccountBalance {
                kind,
                balance: natural_balance(kind, b.balance_minor),
                debit_balance: b.balance_minor,
                account: b.account,
                currency: b.currency,
                postings: b.posting_count,
            }
        })
        .collect();
    Ok(BalanceList { object: "list", as_of, data })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccountRoot {
    pub account: &'static str,
    #[schema(value_type = String)]
    pub kind: AccountKind,
    pub description: &'static str,
}

/// The chart: every account root with its kind.
pub fn accounts() -> Vec<AccountRoot> {
    ACCOUNT_ROOTS.iter().map(|(a, k, d)| AccountRoot { account: a, kind: *k, description: d }).collect()
}
