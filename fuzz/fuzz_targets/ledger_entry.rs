//! Ledger drafts from raw input: validation never panics; an entry that
//! validates balances exactly, keeps every posting and every account's
//! movement in range, and its reversal cancels it. Balances follow
//! `next_balance` without overflow.
#![no_main]

use bursar_domain::ledger::{balance_in_range, next_balance, EntryDraft, MAX_BALANCE_MINOR};
use bursar_domain::money::{Currency, MAX_AMOUNT_MINOR};
use libfuzzer_sys::fuzz_target;
use std::collections::BTreeMap;

const ACCOUNTS: [&str; 8] =
    ["cash", "revenue", "credit_grants", "customer_credit:c1", "tax_payable:DE", "nope", "revenue:", "refunds"];

fuzz_target!(|data: &[u8]| {
    let mut d = EntryDraft::new(Currency::USD, "fuzz");
    for chunk in data.chunks_exact(9) {
        let account = ACCOUNTS[usize::from(chunk[0] & 7)];
        let amount = i64::from_le_bytes(chunk[1..9].try_into().unwrap_or_default());
        d = if chunk[0] & 8 == 0 { d.debit(account, amount) } else { d.credit(account, amount) };
    }
    let mut balance: i64 = 0;
    for p in &d.postings {
        match next_balance(&p.account, balance, p.amount_minor) {
            Ok(b) => {
                assert_eq!(i128::from(b), i128::from(balance) + i128::from(p.amount_minor));
                assert!(b.unsigned_abs() <= MAX_BALANCE_MINOR.unsigned_abs());
                balance = b;
            }
            Err(_) => assert!(
                !balance_in_range(i128::from(balance) + i128::from(p.amount_minor))
                    || !balance_in_range(i128::from(p.amount_minor))
            ),
        }
    }
    if let Ok(e) = d.validate() {
        let sum: i128 = e.postings.iter().map(|p| i128::from(p.amount_minor)).sum();
        assert_eq!(sum, 0);
        let mut per: BTreeMap<&str, i128> = BTreeMap::new();
        for p in &e.postings {
            assert!(p.amount_minor != 0 && p.amount_minor.unsigned_abs() <= MAX_AMOUNT_MINOR.unsigned_abs());
            *per.entry(&p.account).or_default() += i128::from(p.amount_minor);
        }
        assert!(per.values().all(|s| balance_in_range(*s)));
        let r = e.reversal("undo").expect("a validated entry reverses");
        for (a, b) in e.postings.iter().zip(&r.postings) {
            assert_eq!(a.amount_minor, -b.amount_minor);
        }
    }
});
