//! Double-entry ledger rules.
//!
//! Every money movement is a journal entry in one currency whose postings sum
//! to zero (debits positive, credits negative). Entries are immutable; a
//! correction is a reversal entry that negates every posting of the original.
//! Accounts are named `root` or `root:qualifier` (for example
//! `tax_payable:DE`, `provider_clearing:stripe`); the root decides the kind.

use crate::money::{Currency, MAX_AMOUNT_MINOR};
use serde::{Deserialize, Serialize};

/// What an account is, which decides its normal balance side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountKind {
    Asset,
    Liability,
    Equity,
    Revenue,
    /// Revenue reductions such as refunds and discounts (normal debit).
    ContraRevenue,
    Expense,
}

impl AccountKind {
    /// Whether a debit increases the account's natural balance.
    pub fn debit_normal(self) -> bool {
        matches!(self, AccountKind::Asset | AccountKind::Expense | AccountKind::ContraRevenue)
    }
}

/// The chart of accounts: every root, its kind and what it is for.
pub const ACCOUNT_ROOTS: &[(&str, AccountKind, &str)] = &[
    ("receivables", AccountKind::Asset, "Invoiced and not yet paid"),
    ("provider_clearing", AccountKind::Asset, "Collected by a payment provider, not yet settled to the bank"),
    ("cash", AccountKind::Asset, "Settled funds in the platform's bank account"),
    ("revenue", AccountKind::Revenue, "Earned revenue, qualified by stream (subscriptions, courses, usage)"),
    ("tax_payable", AccountKind::Liability, "Tax collected and owed, qualified by jurisdiction"),
    ("customer_credit", AccountKind::Liability, "Credit balances owed to customers"),
    ("instructor_payable", AccountKind::Liability, "Instructor earnings not yet paid out"),
    ("affiliate_payable", AccountKind::Liability, "Affiliate commissions not yet paid out"),
    ("payouts_in_transit", AccountKind::Liability, "Payouts sent and not yet confirmed"),
    ("deferred_revenue", AccountKind::Liability, "Collected for service not yet delivered"),
    ("token_liability", AccountKind::Liability, "Reward tokens issued and not yet redeemed or expired"),
    ("refunds", AccountKind::ContraRevenue, "Revenue given back by refunds"),
    ("discounts", AccountKind::ContraRevenue, "Revenue given up by discounts"),
    ("platform_fees", AccountKind::Expense, "Fees charged by payment providers"),
    ("affiliate_commissions", AccountKind::Expense, "Commissions earned by affiliates on the sales they referred"),
    ("credit_grants", AccountKind::Expense, "Goodwill credit and adjustments granted to customers"),
    ("reward_expense", AccountKind::Expense, "Cost of reward tokens granted"),
    ("bad_debt", AccountKind::Expense, "Receivables written off"),
    ("opening_balance", AccountKind::Equity, "Balances carried in from another system"),
];

/// The kind of an account code, or an error if its root is not in the chart
/// or the code is malformed.
pub fn account_kind(code: &str) -> Result<AccountKind, LedgerError> {
    let (root, qualifier) = match code.split_once(':') {
        Some((r, q)) => (r, Some(q)),
        None => (code, None),
    };
    if let Some(q) = qualifier {
        let ok = !q.is_empty() && q.len() <= 64 && q.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.:".contains(&b));
        if !ok {
            return Err(LedgerError::BadAccount(code.to_string()));
        }
    }
    ACCOUNT_ROOTS
        .iter()
        .find(|(r, _, _)| *r == root)
        .map(|(_, k, _)| *k)
        .ok_or_else(|| LedgerError::BadAccount(code.to_string()))
}

/// One line of an entry: a signed amount in minor units, debit positive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Posting {
    pub account: String,
    pub amount_minor: i64,
}

impl Posting {
    pub fn debit(account: impl Into<String>, amount_minor: i64) -> Posting {
        Posting { account: account.into(), amount_minor }
    }
    pub fn credit(account: impl Into<String>, amount_minor: i64) -> Posting {
        Posting { account: account.into(), amount_minor: -amount_minor }
    }
}

/// A journal entry that has passed [`EntryDraft::validate`]; only these can
/// be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BalancedEntry {
    pub currency: Currency,
    pub description: String,
    pub postings: Vec<Posting>,
}

/// An entry as proposed by a service or a caller.
#[derive(Debug, Clone)]
pub struct EntryDraft {
    pub currency: Currency,
    pub description: String,
    pub postings: Vec<Posting>,
}

impl EntryDraft {
    pub fn new(currency: Currency, description: impl Into<String>) -> Self {
        EntryDraft { currency, description: description.into(), postings: Vec::new() }
    }

    pub fn debit(mut self, account: impl Into<String>, amount_minor: i64) -> Self {
        self.postings.push(Posting::debit(account, amount_minor));
        self
    }

    pub fn credit(mut self, account: impl Into<String>, amount_minor: i64) -> Self {
        self.postings.push(Posting::credit(account, amount_minor));
        self
    }

    /// Checks the double-entry rules: at least two postings, known accounts,
    /// no zero or out-of-range amounts, and a sum of exactly zero.
    pub fn validate(self) -> Result<BalancedEntry, LedgerError> {
        if self.postings.len() < 2 {
            return Err(LedgerError::TooFewPostings);
        }
        let mut sum: i128 = 0;
        for (i, p) in self.postings.iter().enumerate() {
            account_kind(&p.account)?;
            if p.amount_minor == 0 {
                return Err(LedgerError::ZeroPosting(i));
            }
            if p.amount_minor.unsigned_abs() > MAX_AMOUNT_MINOR as u64 {
                return Err(LedgerError::AmountOutOfRange(i));
            }
            sum += i128::from(p.amount_minor);
        }
        if sum != 0 {
            return Err(LedgerError::Unbalanced { difference_minor: sum });
        }
        if self.description.chars().count() > 500 {
            return Err(LedgerError::DescriptionTooLong);
        }
        Ok(BalancedEntry { currency: self.currency, description: self.description, postings: self.postings })
    }
}

impl BalancedEntry {
    /// The entry that undoes this one: every posting negated.
    pub fn reversal(&self, description: impl Into<String>) -> BalancedEntry {
        BalancedEntry {
            currency: self.currency,
            description: description.into(),
            postings: self
                .postings
                .iter()
                .map(|p| Posting { account: p.account.clone(), amount_minor: -p.amount_minor })
                .collect(),
        }
    }
}

/// A balance shown with the account's natural sign: positive means the
/// account holds what its kind says (an asset owned, a liability owed).
pub fn natural_balance(kind: AccountKind, signed_debit_balance: i64) -> i64 {
    if kind.debit_normal() {
        signed_debit_balance
    } else {
        -signed_debit_balance
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    #[error("unknown or malformed ledger account `{0}`")]
    BadAccount(String),
    #[error("an entry needs at least two postings")]
    TooFewPostings,
    #[error("posting {0} has a zero amount")]
    ZeroPosting(usize),
    #[error("posting {0} is out of the accepted amount range")]
    AmountOutOfRange(usize),
    #[error("entry does not balance: debits minus credits is {difference_minor}")]
    Unbalanced { difference_minor: i128 },
    #[error("description is longer than 500 characters")]
    DescriptionTooLong,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn usd() -> Currency {
        Currency::from_code("USD").unwrap()
    }

    #[test]
    fn accounts_resolve_by_root() {
        assert_eq!(account_kind("tax_payable:DE").unwrap(), AccountKind::Liability);
        assert_eq!(account_kind("provider_clearing:stripe").unwrap(), AccountKind::Asset);
        assert!(account_kind("nope").is_err());
        assert!(account_kind("revenue:").is_err());
        assert!(account_kind("revenue:a b").is_err());
    }

    #[test]
    fn balanced_entry_validates_and_reverses() {
        let e = EntryDraft::new(usd(), "invoice")
            .debit("receivables", 1190)
            .credit("revenue:subscriptions", 1000)
            .credit("tax_payable:DE", 190)
            .validate()
            .unwrap();
        let r = e.reversal("void");
        let total: i64 = e.postings.iter().chain(&r.postings).map(|p| p.amount_minor).sum();
        assert_eq!(total, 0);
        assert_eq!(r.postings[0].amount_minor, -1190);
    }

    #[test]
    fn unbalanced_and_degenerate_entries_are_refused() {
        let e = EntryDraft::new(usd(), "x").debit("cash", 100).credit("revenue", 99);
        assert_eq!(e.validate().unwrap_err(), LedgerError::Unbalanced { difference_minor: 1 });
        let e = EntryDraft::new(usd(), "x").debit("cash", 100);
        assert_eq!(e.validate().unwrap_err(), LedgerError::TooFewPostings);
        let e = EntryDraft::new(usd(), "x").debit("cash", 0).credit("revenue", 0);
        assert_eq!(e.validate().unwrap_err(), LedgerError::ZeroPosting(0));
        let e = EntryDraft::new(usd(), "x").debit("cash", i64::MAX).credit("revenue", i64::MAX);
        assert_eq!(e.validate().unwrap_err(), LedgerError::AmountOutOfRange(0));
    }

    #[test]
    fn natural_sign_follows_kind() {
        assert_eq!(natural_balance(AccountKind::Liability, -500), 500);
        assert_eq!(natural_balance(AccountKind::Asset, 500), 500);
    }

    proptest! {
        /// Any list of debits, balanced by one credit, validates; nudging any
        /// posting by one minor unit makes it fail.
        #[test]
        fn balance_is_exact(debits in proptest::collection::vec(1i64..1_000_000_000, 1..20), nudge in 0usize..20) {
            let total: i64 = debits.iter().sum();
            let mut d = EntryDraft::new(usd(), "p");
            for a in &debits { d = d.debit("receivables", *a); }
            d = d.credit("revenue", total);
            prop_assert!(d.clone().validate().is_ok());
            let i = nudge % d.postings.len();
            d.postings[i].amount_minor += 1;
            let balanced = d.postings.iter().map(|p| p.amount_minor).sum::<i64>() == 0;
            prop_assert_eq!(d.validate().is_ok(), balanced);
        }
    }
}
