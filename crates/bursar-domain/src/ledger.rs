//! Double-entry ledger rules.
//!
//! Every money movement is a journal entry in one currency whose postings sum
//! to zero (debits positive, credits negative). Entries are immutable; a
//! correction is a reversal entry that negates every posting of the original.
//! Accounts are named `root` or `root:qualifier` (for example
//! `tax_payable:DE`, `provider_clearing:stripe`); the root decides the kind.

use crate::money::{Currency, MAX_AMOUNT_MINOR};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The largest absolute balance, in minor units, that any account may hold
/// in one currency: 10^18.
///
/// A single posting is capped at [`MAX_AMOUNT_MINOR`] (just under 10^15), but
/// postings accumulate: without a bound, about 9,223 maximal postings to one
/// account (the shared `credit_grants`, say) would carry its balance past
/// `i64::MAX`. 10^18 leaves room for a thousand maximal postings on one
/// account, and keeps every balance, its negation, and the sum of any nine
/// balances inside `i64` (`i64::MAX` is about 9.22 × 10^18). A posting that
/// would take a balance beyond it is refused ([`next_balance`]).
pub const MAX_BALANCE_MINOR: i64 = 1_000_000_000_000_000_000;

/// Whether `balance` (computed in `i128`, so any sum of `i64`s fits) is
/// within ±[`MAX_BALANCE_MINOR`].
pub fn balance_in_range(balance: i128) -> bool {
    balance.unsigned_abs() <= MAX_BALANCE_MINOR.unsigned_abs().into()
}

/// The balance after adding `delta` to `current`, or
/// [`LedgerError::BalanceOutOfRange`] when the result (or either input)
/// lies beyond ±[`MAX_BALANCE_MINOR`]. Never overflows: the sum is taken in
/// `i128`.
pub fn next_balance(account: &str, current: i64, delta: i64) -> Result<i64, LedgerError> {
    let out_of_range = || LedgerError::BalanceOutOfRange { account: account.to_string() };
    let sum = i128::from(current) + i128::from(delta);
    if !balance_in_range(i128::from(current)) || !balance_in_range(i128::from(delta)) || !balance_in_range(sum) {
        return Err(out_of_range());
    }
    i64::try_from(sum).map_err(|_| out_of_range())
}

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
    /// A credit of `amount_minor` (stored negated). `i64::MIN` has no
    /// negation: it becomes `i64::MAX`, which [`EntryDraft::validate`]
    /// refuses as out of range like any amount beyond [`MAX_AMOUNT_MINOR`].
    pub fn credit(account: impl Into<String>, amount_minor: i64) -> Posting {
        Posting { account: account.into(), amount_minor: amount_minor.saturating_neg() }
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
    /// no zero or out-of-range amounts, a sum of exactly zero, and no account
    /// moved by more than [`MAX_BALANCE_MINOR`] in one entry (the store then
    /// checks the balance the entry leaves, see [`next_balance`]).
    pub fn validate(self) -> Result<BalancedEntry, LedgerError> {
        if self.postings.len() < 2 {
            return Err(LedgerError::TooFewPostings);
        }
        let mut sum: i128 = 0;
        let mut per_account: BTreeMap<&str, i128> = BTreeMap::new();
        for (i, p) in self.postings.iter().enumerate() {
            account_kind(&p.account)?;
            if p.amount_minor == 0 {
                return Err(LedgerError::ZeroPosting(i));
            }
            if p.amount_minor.unsigned_abs() > MAX_AMOUNT_MINOR.unsigned_abs() {
                return Err(LedgerError::AmountOutOfRange(i));
            }
            sum += i128::from(p.amount_minor);
            *per_account.entry(p.account.as_str()).or_default() += i128::from(p.amount_minor);
        }
        if sum != 0 {
            return Err(LedgerError::Unbalanced { difference_minor: sum });
        }
        if let Some((account, _)) = per_account.iter().find(|(_, s)| !balance_in_range(**s)) {
            return Err(LedgerError::BalanceOutOfRange { account: account.to_string() });
        }
        if self.description.chars().count() > 500 {
            return Err(LedgerError::DescriptionTooLong);
        }
        Ok(BalancedEntry { currency: self.currency, description: self.description, postings: self.postings })
    }
}

impl BalancedEntry {
    /// The entry that undoes this one: every posting negated. Errors with
    /// [`LedgerError::AmountOutOfRange`] for a posting of `i64::MIN`, which
    /// has no negation (and which [`EntryDraft::validate`] never lets
    /// through, but the fields are public and stored entries are read back).
    pub fn reversal(&self, description: impl Into<String>) -> Result<BalancedEntry, LedgerError> {
        let postings = self
            .postings
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let amount_minor = p.amount_minor.checked_neg().ok_or(LedgerError::AmountOutOfRange(i))?;
                Ok(Posting { account: p.account.clone(), amount_minor })
            })
            .collect::<Result<Vec<_>, LedgerError>>()?;
        Ok(BalancedEntry { currency: self.currency, description: description.into(), postings })
    }
}

/// A balance shown with the account's natural sign: positive means the
/// account holds what its kind says (an asset owned, a liability owed).
///
/// `i64::MIN` has no negation; it saturates to `i64::MAX` for a credit-normal
/// account. Stored balances never come near it (see [`MAX_BALANCE_MINOR`]);
/// [`checked_natural_balance`] reports it instead.
pub fn natural_balance(kind: AccountKind, signed_debit_balance: i64) -> i64 {
    if kind.debit_normal() {
        signed_debit_balance
    } else {
        signed_debit_balance.saturating_neg()
    }
}

/// [`natural_balance`], refusing balances beyond ±[`MAX_BALANCE_MINOR`].
pub fn checked_natural_balance(kind: AccountKind, signed_debit_balance: i64) -> Result<i64, LedgerError> {
    if !balance_in_range(i128::from(signed_debit_balance)) {
        return Err(LedgerError::BalanceOutOfRange { account: String::new() });
    }
    Ok(natural_balance(kind, signed_debit_balance))
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
    /// The balance of `account` would leave ±[`MAX_BALANCE_MINOR`].
    #[error("the balance of ledger account `{account}` would exceed the limit of {MAX_BALANCE_MINOR} minor units")]
    BalanceOutOfRange { account: String },
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
        let r = e.reversal("void").unwrap();
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
        let e = EntryDraft::new(usd(), "x").debit("cash", 5).credit("revenue", i64::MIN);
        assert_eq!(e.postings[1].amount_minor, i64::MAX);
        assert_eq!(e.validate().unwrap_err(), LedgerError::AmountOutOfRange(1));
    }

    #[test]
    fn natural_sign_follows_kind() {
        assert_eq!(natural_balance(AccountKind::Liability, -500), 500);
        assert_eq!(natural_balance(AccountKind::Asset, 500), 500);
        assert_eq!(natural_balance(AccountKind::Liability, i64::MIN), i64::MAX);
        assert_eq!(checked_natural_balance(AccountKind::Liability, -MAX_BALANCE_MINOR), Ok(MAX_BALANCE_MINOR));
        assert!(checked_natural_balance(AccountKind::Liability, i64::MIN).is_err());
        assert!(checked_natural_balance(AccountKind::Asset, MAX_BALANCE_MINOR + 1).is_err());
    }

    #[test]
    fn balances_stop_at_the_limit() {
        // The cap is the documented constant, and its negation, doubling and
        // nine-fold sum all fit in i64.
        assert_eq!(MAX_BALANCE_MINOR, 10_i64.pow(18));
        assert!(MAX_BALANCE_MINOR.checked_mul(9).is_some());
        assert_eq!(next_balance("cash", MAX_BALANCE_MINOR - 1, 1), Ok(MAX_BALANCE_MINOR));
        assert_eq!(next_balance("cash", -MAX_BALANCE_MINOR + 5, -5), Ok(-MAX_BALANCE_MINOR));
        let e = next_balance("credit_grants", MAX_BALANCE_MINOR, 1).unwrap_err();
        assert_eq!(e, LedgerError::BalanceOutOfRange { account: "credit_grants".into() });
        assert!(e.to_string().contains("credit_grants"), "{e}");
        assert!(next_balance("cash", -MAX_BALANCE_MINOR, -1).is_err());
        // Inputs that are themselves out of range are refused, not summed
        // (no overflow even at the i64 extremes).
        assert!(next_balance("cash", i64::MAX, i64::MAX).is_err());
        assert!(next_balance("cash", i64::MIN, i64::MIN).is_err());
        assert!(next_balance("cash", i64::MAX, i64::MIN).is_err());
        // The overflow of the audit: 9,223 maximal credit grants.
        let mut balance = 0_i64;
        let mut refused_at = None;
        for i in 0..9_223 {
            match next_balance("credit_grants", balance, MAX_AMOUNT_MINOR) {
                Ok(b) => balance = b,
                Err(_) => {
                    refused_at = Some(i);
                    break;
                }
            }
        }
        // 1,000 grants of 999,999,999,999,999 fit (10^18 − 1,000); the
        // 1,001st (index 1,000) does not.
        assert_eq!(refused_at, Some(1_000));
        assert_eq!(balance, 1_000 * MAX_AMOUNT_MINOR);
        assert_eq!(balance, MAX_BALANCE_MINOR - 1_000);
    }

    #[test]
    fn one_entry_cannot_move_an_account_past_the_limit() {
        let n = 1_001;
        let mut d = EntryDraft::new(usd(), "huge");
        for i in 0..n {
            d = d.debit("credit_grants", MAX_AMOUNT_MINOR).credit(format!("customer_credit:c{i}"), MAX_AMOUNT_MINOR);
        }
        assert_eq!(d.validate().unwrap_err(), LedgerError::BalanceOutOfRange { account: "credit_grants".into() });
        let mut d = EntryDraft::new(usd(), "large but fine");
        for i in 0..1_000 {
            d = d.debit("credit_grants", MAX_AMOUNT_MINOR).credit(format!("customer_credit:c{i}"), MAX_AMOUNT_MINOR);
        }
        assert!(d.validate().is_ok());
    }

    #[test]
    fn a_reversal_of_an_unnegatable_posting_is_an_error() {
        let e = BalancedEntry {
            currency: usd(),
            description: "stored".into(),
            postings: vec![Posting::debit("cash", i64::MIN), Posting::debit("revenue", 1)],
        };
        assert_eq!(e.reversal("undo").unwrap_err(), LedgerError::AmountOutOfRange(0));
    }

    fn extreme_amount() -> impl Strategy<Value = i64> {
        prop_oneof![
            Just(i64::MIN),
            Just(i64::MAX),
            Just(0),
            Just(MAX_AMOUNT_MINOR),
            Just(-MAX_AMOUNT_MINOR),
            Just(MAX_AMOUNT_MINOR + 1),
            Just(-MAX_AMOUNT_MINOR - 1),
            Just(MAX_BALANCE_MINOR),
            any::<i64>(),
            -1_000i64..1_000,
        ]
    }

    proptest! {
        /// Drafts with extreme amounts never panic; a draft that validates
        /// has bounded postings summing to zero and moves no account beyond
        /// the balance limit, and its reversal cancels it exactly.
        #[test]
        fn extreme_drafts_validate_or_are_refused(
            postings in proptest::collection::vec((0usize..4, extreme_amount()), 0..12),
            balance_it in any::<bool>(),
        ) {
            let accounts = ["cash", "revenue", "credit_grants", "customer_credit:c1"];
            let mut d = EntryDraft::new(usd(), "p");
            for (i, (a, amount)) in postings.iter().enumerate() {
                d = if i % 2 == 0 { d.debit(accounts[*a], *amount) } else { d.credit(accounts[*a], *amount) };
            }
            // Half the time, balance the draft with one extra posting (which
            // may itself be out of range).
            let sum: i128 = postings.iter().map(|(_, a)| i128::from(*a)).sum();
            if balance_it {
                if let Ok(neg) = i64::try_from(-sum) {
                    d = d.debit("opening_balance", neg);
                }
            }
            let total: i128 = d.postings.iter().map(|p| i128::from(p.amount_minor)).sum();
            match d.clone().validate() {
                Ok(e) => {
                    prop_assert_eq!(total, 0);
                    prop_assert!(e.postings.iter().all(|p| p.amount_minor != 0 && p.amount_minor.unsigned_abs() <= MAX_AMOUNT_MINOR.unsigned_abs()));
                    let mut per: BTreeMap<&str, i128> = BTreeMap::new();
                    for p in &e.postings {
                        *per.entry(&p.account).or_default() += i128::from(p.amount_minor);
                    }
                    prop_assert!(per.values().all(|s| balance_in_range(*s)));
                    let r = e.reversal("undo").unwrap();
                    let both: i128 = e.postings.iter().chain(&r.postings).map(|p| i128::from(p.amount_minor)).sum();
                    prop_assert_eq!(both, 0);
                }
                Err(LedgerError::Unbalanced { difference_minor }) => prop_assert_eq!(difference_minor, total),
                Err(LedgerError::AmountOutOfRange(i)) => {
                    prop_assert!(d.postings[i].amount_minor.unsigned_abs() > MAX_AMOUNT_MINOR.unsigned_abs())
                }
                Err(LedgerError::ZeroPosting(i)) => prop_assert_eq!(d.postings[i].amount_minor, 0),
                Err(LedgerError::TooFewPostings) => prop_assert!(d.postings.len() < 2),
                Err(e) => prop_assert!(false, "unexpected refusal {e}"),
            }
        }

        /// Applying postings one by one keeps every balance inside the
        /// limit, equals the exact i128 sum while it is accepted, and is
        /// refused exactly when that sum leaves the range.
        #[test]
        fn balances_follow_exact_sums(start in extreme_amount(), deltas in proptest::collection::vec(extreme_amount(), 1..40)) {
            let mut balance = start;
            let mut exact = i128::from(start);
            for delta in deltas {
                let want = exact + i128::from(delta);
                match next_balance("cash", balance, delta) {
                    Ok(b) => {
                        prop_assert!(balance_in_range(i128::from(balance)) && balance_in_range(i128::from(delta)));
                        prop_assert_eq!(i128::from(b), want);
                        prop_assert!(b.abs() <= MAX_BALANCE_MINOR);
                        balance = b;
                        exact = want;
                    }
                    Err(_) => prop_assert!(
                        !balance_in_range(i128::from(balance)) || !balance_in_range(i128::from(delta)) || !balance_in_range(want)
                    ),
                }
            }
        }

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
