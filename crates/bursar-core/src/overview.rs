//! What the staff console's home shows of one mode: how many customers,
//! live API keys, ledger entries, events and test clocks there are, the
//! newest customers with their credit, and the ledger's balances summed by
//! root account.

use crate::ctx::Ctx;
use crate::error::Result;
use bursar_domain::ledger::{account_kind, natural_balance, AccountKind};
use bursar_store::counts::{self, Counted};
use bursar_store::customers::{self, CustomerRow};
use bursar_store::ledger;
use std::collections::BTreeMap;

/// A recent customer and their credit.
pub struct RecentCustomer {
    pub row: CustomerRow,
    /// Their preferred currency, else their country's, else USD.
    pub currency: String,
    /// Credit owed to them per currency: (amount in minor units, currency).
    pub credit: Vec<(i64, String)>,
}

/// The balance of every account under one root (`customer_credit`,
/// `revenue`, …) in one currency.
pub struct RootBalance {
    pub account: String,
    pub kind: Option<AccountKind>,
    pub currency: String,
    /// In the account kind's natural sign when the kind is known.
    pub balance: i64,
    pub postings: i64,
}

pub struct Overview {
    pub customers: i64,
    pub api_keys: i64,
    pub ledger_entries: i64,
    pub events: i64,
    pub test_clocks: i64,
    pub recent: Vec<RecentCustomer>,
    pub balances: Vec<RootBalance>,
}

async fn count(ctx: &Ctx, what: Counted, livemode: bool) -> Result<i64> {
    Ok(counts::count(ctx.db.reader(), what, livemode).await?)
}

/// The home page's figures for one mode.
pub async fn overview(ctx: &Ctx, livemode: bool) -> Result<Overview> {
    let rows = customers::list(ctx.db.reader(), livemode, &Default::default(), None, 10).await?;
    let accounts: Vec<String> = rows.iter().map(|r| format!("customer_credit:{}", r.id)).collect();
    let credit = ledger::balances_of(&ctx.db, livemode, &accounts).await?;
    let recent = rows
        .into_iter()
        .map(|r| {
            let acct = format!("customer_credit:{}", r.id);
            let currency = r.preferred_currency.clone().unwrap_or_else(|| {
                r.country
                    .as_deref()
                    .map(|c| bursar_domain::geo::currency_for_country(c).code().to_string())
                    .unwrap_or_else(|| "USD".into())
            });
            let credit =
                credit.iter().filter(|b| b.account == acct).map(|b| (-b.balance_minor, b.currency.clone())).collect();
            RecentCustomer { row: r, currency, credit }
        })
        .collect();
    let mut by_root: BTreeMap<(String, String), (i64, i64)> = BTreeMap::new();
    for b in ledger::balances(&ctx.db, livemode, None, None, None).await? {
        let root = b.account.split(':').next().unwrap_or("").to_string();
        let e = by_root.entry((root, b.currency)).or_default();
        e.0 += b.balance_minor;
        e.1 += b.posting_count;
    }
    let balances = by_root
        .into_iter()
        .map(|((account, currency), (bal, n))| {
            let kind = account_kind(&account).ok();
            RootBalance {
                balance: kind.map(|k| natural_balance(k, bal)).unwrap_or(bal),
                kind,
                account,
                currency,
                postings: n,
            }
        })
        .collect();
    Ok(Overview {
        customers: customers::count(ctx.db.reader(), livemode).await?,
        api_keys: count(ctx, Counted::ApiKeys, livemode).await?,
        ledger_entries: count(ctx, Counted::LedgerEntries, livemode).await?,
        events: count(ctx, Counted::Events, livemode).await?,
        test_clocks: count(ctx, Counted::TestClocks, livemode).await?,
        recent,
        balances,
    })
}
