//! The ledger's SQL: posting balanced entries, reversals, balances and the
//! whole-ledger verification behind `bursar ledger verify`.
//!
//! Postings and entries are immutable (database triggers refuse UPDATE and
//! DELETE). `ledger_balances` is maintained in the same transaction as the
//! postings, so it always equals their sum; [`verify`] proves it.

use crate::db::{placeholders, Db, DbError, Tx};
use bursar_domain::id::{new_id, IdKind};
use bursar_domain::ledger::{balance_in_range, BalancedEntry, Posting, MAX_BALANCE_MINOR};
use bursar_domain::money::Currency;
use sqlx::{AssertSqlSafe, Row};
use std::collections::BTreeMap;

/// An entry ready to be written.
#[derive(Debug, Clone)]
pub struct NewEntry<'a> {
    pub livemode: bool,
    pub entry: &'a BalancedEntry,
    pub source_type: Option<&'a str>,
    pub source_id: Option<&'a str>,
    pub effective_at: i64,
    pub created_at: i64,
    pub reverses: Option<&'a str>,
}

impl<'a> NewEntry<'a> {
    /// An entry that takes effect when it is written, with no source yet.
    pub fn at(livemode: bool, entry: &'a BalancedEntry, at: i64) -> Self {
        NewEntry {
            livemode,
            entry,
            source_type: None,
            source_id: None,
            effective_at: at,
            created_at: at,
            reverses: None,
        }
    }

    /// What caused the entry (`customer_balance`, `invoice`, …) and its id.
    pub fn source(mut self, source_type: &'a str, source_id: &'a str) -> Self {
        self.source_type = Some(source_type);
        self.source_id = Some(source_id);
        self
    }
}

/// A stored entry with its postings.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StoredEntry {
    pub id: String,
    pub livemode: bool,
    pub currency: String,
    pub description: String,
    pub source_type: Option<String>,
    pub source_id: Option<String>,
    pub reverses_entry_id: Option<String>,
    pub reversed_by_entry_id: Option<String>,
    pub effective_at: i64,
    pub created_at: i64,
    pub postings: Vec<Posting>,
}

/// Writes one entry; returns its id.
pub async fn post(tx: &mut Tx, e: NewEntry<'_>) -> Result<String, DbError> {
    Ok(post_batch(tx, std::slice::from_ref(&e)).await?.remove(0))
}

const ENTRY_COLS: usize = 9;
const POSTING_COLS: usize = 6;
/// Rows per multi-row INSERT; keeps parameters well under both databases'
/// limits (SQLite 32766, PostgreSQL 65535).
const CHUNK_ROWS: usize = 500;

/// Writes many entries with multi-row inserts and one balance upsert per
/// touched (account, currency); returns the new ids in order.
///
/// Every balance stays within ±[`MAX_BALANCE_MINOR`]: a batch that would take
/// one beyond it fails with [`DbError::BalanceLimit`]. The limit is checked
/// by the upsert itself (its `DO UPDATE … WHERE`), against the row it has
/// locked, so concurrent postings cannot slip past it on PostgreSQL either.
/// Balances are written before the entries; on any error the caller's
/// transaction must be rolled back, which dropping it does.
pub async fn post_batch(tx: &mut Tx, entries: &[NewEntry<'_>]) -> Result<Vec<String>, DbError> {
    let ids: Vec<String> = entries.iter().map(|_| new_id(IdKind::LedgerEntry)).collect();
    let backend = crate::db::tx_backend(tx);

    let mut rows: Vec<(&str, bool, &str, &str, i64, i64)> = Vec::new();
    let mut deltas: BTreeMap<(bool, &str, &str), (i128, i64)> = BTreeMap::new();
    for (i, e) in entries.iter().enumerate() {
        for p in &e.entry.postings {
            let cur = e.entry.currency.code();
            rows.push((&ids[i], e.livemode, &p.account, cur, p.amount_minor, e.effective_at));
            let d = deltas.entry((e.livemode, &p.account, cur)).or_insert((0, 0));
            d.0 += i128::from(p.amount_minor);
            d.1 += 1;
        }
    }
    // A batch that moves one account by more than the limit can never fit.
    // (livemode, account, currency) → (balance change, posting count).
    type Delta<'a> = ((bool, &'a str, &'a str), (i64, i64));
    let mut checked: Vec<Delta<'_>> = Vec::with_capacity(deltas.len());
    for ((live, account, cur), (sum, n)) in deltas {
        let limit = || DbError::BalanceLimit { account: account.to_string(), currency: cur.to_string() };
        if !balance_in_range(sum) {
            return Err(limit());
        }
        let sum = i64::try_from(sum).map_err(|_| limit())?;
        checked.push(((live, account, cur), (sum, n)));
    }
    for chunk in checked.chunks(CHUNK_ROWS) {
        // The WHERE compares the stored balance with `limit - delta` instead
        // of adding first: |delta| <= limit, so both bounds fit in 64 bits,
        // and a stored balance already beyond the limit (or, on SQLite, one
        // that an old overflow turned into a REAL) is refused, not summed.
        let sql = format!(
            "INSERT INTO ledger_balances (livemode, account, currency, balance_minor, posting_count) VALUES {} \
             ON CONFLICT (livemode, account, currency) DO UPDATE SET \
             balance_minor = ledger_balances.balance_minor + excluded.balance_minor, \
             posting_count = ledger_balances.posting_count + excluded.posting_count \
             WHERE ledger_balances.balance_minor >= -{MAX_BALANCE_MINOR} - excluded.balance_minor \
             AND ledger_balances.balance_minor <= {MAX_BALANCE_MINOR} - excluded.balance_minor \
             RETURNING livemode, account, currency",
            placeholders(backend, chunk.len(), 5)
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for ((live, account, cur), (sum, n)) in chunk {
            q = q.bind(i64::from(*live)).bind(account.to_string()).bind(*cur).bind(*sum).bind(*n);
        }
        let written: std::collections::BTreeSet<(i64, String, String)> =
            q.fetch_all(&mut **tx).await?.into_iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect();
        if written.len() != chunk.len() {
            let ((_, account, cur), _) = chunk
                .iter()
                .find(|((live, account, cur), _)| {
                    !written.contains(&(i64::from(*live), account.to_string(), cur.to_string()))
                })
                .ok_or_else(|| DbError::Other("ledger balance upsert returned unexpected rows".into()))?;
            return Err(DbError::BalanceLimit { account: account.to_string(), currency: cur.to_string() });
        }
    }

    for (chunk_i, chunk) in entries.chunks(CHUNK_ROWS).enumerate() {
        let sql = format!(
            "INSERT INTO ledger_entries (id, livemode, currency, description, source_type, source_id, \
             reverses_entry_id, effective_at, created_at) VALUES {}",
            placeholders(backend, chunk.len(), ENTRY_COLS)
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for (i, e) in chunk.iter().enumerate() {
            q = q
                .bind(ids[chunk_i * CHUNK_ROWS + i].clone())
                .bind(i64::from(e.livemode))
                .bind(e.entry.currency.code())
                .bind(e.entry.description.clone())
                .bind(e.source_type.map(str::to_string))
                .bind(e.source_id.map(str::to_string))
                .bind(e.reverses.map(str::to_string))
                .bind(e.effective_at)
                .bind(e.created_at);
        }
        q.execute(&mut **tx).await?;
    }
    for chunk in rows.chunks(CHUNK_ROWS) {
        let sql = format!(
            "INSERT INTO ledger_postings (entry_id, livemode, account, currency, amount_minor, effective_at) VALUES {}",
            placeholders(backend, chunk.len(), POSTING_COLS)
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for r in chunk {
            q = q.bind(r.0.to_string()).bind(i64::from(r.1)).bind(r.2.to_string()).bind(r.3).bind(r.4).bind(r.5);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(ids)
}

/// Loads one entry with its postings (in posting order).
pub async fn get_entry(ex: &mut sqlx::AnyConnection, livemode: bool, id: &str) -> Result<Option<StoredEntry>, DbError> {
    let row = sqlx::query(
        "SELECT e.id, e.livemode, e.currency, e.description, e.source_type, e.source_id, e.reverses_entry_id, \
         e.effective_at, e.created_at, (SELECT r.id FROM ledger_entries r WHERE r.reverses_entry_id = e.id) AS reversed_by \
         FROM ledger_entries e WHERE e.id = $1 AND e.livemode = $2",
    )
    .bind(id)
    .bind(i64::from(livemode))
    .fetch_optional(&mut *ex)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let postings = sqlx::query("SELECT account, amount_minor FROM ledger_postings WHERE entry_id = $1 ORDER BY id")
        .bind(id)
        .fetch_all(&mut *ex)
        .await?
        .into_iter()
        .map(|r| Posting { account: r.get(0), amount_minor: r.get(1) })
        .collect();
    Ok(Some(StoredEntry {
        id: row.get(0),
        livemode: row.get::<i64, _>(1) != 0,
        currency: row.get(2),
        description: row.get(3),
        source_type: row.get(4),
        source_id: row.get(5),
        reverses_entry_id: row.get(6),
        effective_at: row.get(7),
        created_at: row.get(8),
        reversed_by_entry_id: row.get(9),
        postings,
    }))
}

#[derive(Debug, thiserror::Error)]
pub enum ReverseError {
    #[error("no such ledger entry")]
    NotFound,
    #[error("ledger entry {0} has already been reversed")]
    AlreadyReversed(String),
    #[error("ledger entry {0} is itself a reversal")]
    IsReversal(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Writes the reversal of an entry inside the caller's transaction. An entry
/// can be reversed once (a unique index holds this under concurrency too).
pub async fn reverse(
    tx: &mut Tx,
    livemode: bool,
    entry_id: &str,
    description: &str,
    now: i64,
) -> Result<String, ReverseError> {
    let stored = get_entry(tx, livemode, entry_id).await?.ok_or(ReverseError::NotFound)?;
    if let Some(by) = stored.reversed_by_entry_id {
        return Err(ReverseError::AlreadyReversed(by));
    }
    if stored.reverses_entry_id.is_some() {
        return Err(ReverseError::IsReversal(stored.id));
    }
    let currency = Currency::from_code(&stored.currency)
        .map_err(|e| DbError::Other(format!("stored entry has a bad currency: {e}")))?;
    let original = BalancedEntry { currency, description: stored.description.clone(), postings: stored.postings };
    let rev = original.reversal(description).map_err(|e| DbError::Other(format!("stored entry {entry_id}: {e}")))?;
    let res = post(
        tx,
        NewEntry {
            livemode,
            entry: &rev,
            source_type: stored.source_type.as_deref(),
            source_id: stored.source_id.as_deref(),
            effective_at: now,
            created_at: now,
            reverses: Some(entry_id),
        },
    )
    .await;
    match res {
        Err(DbError::Sqlx(e)) if crate::db::is_unique_violation(&e) => {
            Err(ReverseError::AlreadyReversed(entry_id.to_string()))
        }
        other => Ok(other?),
    }
}

/// The entries a source wrote that are neither reversals nor reversed yet,
/// oldest first.
pub async fn open_entries_of(tx: &mut Tx, source_type: &str, source_id: &str) -> Result<Vec<String>, DbError> {
    Ok(sqlx::query_scalar(
        "SELECT e.id FROM ledger_entries e WHERE e.source_type = $1 AND e.source_id = $2 \
         AND e.reverses_entry_id IS NULL \
         AND NOT EXISTS (SELECT 1 FROM ledger_entries r WHERE r.reverses_entry_id = e.id) ORDER BY e.id",
    )
    .bind(source_type)
    .bind(source_id)
    .fetch_all(&mut **tx)
    .await?)
}

/// A balance of one account in one currency, debit-positive.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Balance {
    pub account: String,
    pub currency: String,
    pub balance_minor: i64,
    pub posting_count: i64,
}

/// Current balances (from the maintained table), or balances as of an
/// instant (summed from postings with `effective_at <= as_of`).
/// `account_prefix` matches an account and its qualified children
/// (`customer_credit` matches `customer_credit:cus_…`).
pub async fn balances(
    db: &Db,
    livemode: bool,
    account_prefix: Option<&str>,
    currency: Option<&str>,
    as_of: Option<i64>,
) -> Result<Vec<Balance>, DbError> {
    let (exact, like) = match account_prefix {
        Some(p) => (p.to_string(), format!("{}:%", p.replace('%', "").replace('_', "\\_"))),
        None => (String::new(), String::new()),
    };
    let filter_account = account_prefix.is_some();
    let rows = match as_of {
        None => {
            sqlx::query(
                "SELECT account, currency, balance_minor, posting_count FROM ledger_balances \
                 WHERE livemode = $1 AND ($2 = 0 OR account = $3 OR account LIKE $4 ESCAPE '\\') \
                 AND ($5 = '' OR currency = $5) ORDER BY account, currency",
            )
            .bind(i64::from(livemode))
            .bind(i64::from(filter_account))
            .bind(exact)
            .bind(like)
            .bind(currency.unwrap_or("").to_string())
            .fetch_all(db.reader())
            .await?
        }
        Some(t) => {
            sqlx::query(
                "SELECT account, currency, CAST(SUM(amount_minor) AS BIGINT), CAST(COUNT(*) AS BIGINT) FROM ledger_postings \
                 WHERE livemode = $1 AND ($2 = 0 OR account = $3 OR account LIKE $4 ESCAPE '\\') \
                 AND ($5 = '' OR currency = $5) AND effective_at <= $6 \
                 GROUP BY account, currency ORDER BY account, currency",
            )
            .bind(i64::from(livemode))
            .bind(i64::from(filter_account))
            .bind(exact)
            .bind(like)
            .bind(currency.unwrap_or("").to_string())
            .bind(t)
            .fetch_all(db.reader())
            .await?
        }
    };
    Ok(rows
        .into_iter()
        .map(|r| Balance { account: r.get(0), currency: r.get(1), balance_minor: r.get(2), posting_count: r.get(3) })
        .collect())
}

/// What `bursar ledger verify` found.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct VerifyReport {
    pub entries: i64,
    pub postings: i64,
    pub balances: i64,
    pub problems: Vec<String>,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Splits each amount into a high and a low part, `amount = hi × 2^32 + lo`
/// (both databases truncate integer division toward zero, and `%` takes the
/// dividend's sign). Summing the parts separately cannot overflow 64 bits
/// for fewer than 2^31 postings, however large the amounts, where a plain
/// `SUM` fails on SQLite ("integer overflow") and on PostgreSQL's cast back
/// to BIGINT. The exact sum is then `hi_sum × 2^32 + lo_sum`, in `i128`.
const HI: &str = "amount_minor / 4294967296";
const LO: &str = "amount_minor % 4294967296";

/// SQL that is true exactly when `hi_sum × 2^32 + lo_sum` is not zero,
/// without computing it.
fn sum_is_not_zero(hi_sum: &str, lo_sum: &str) -> String {
    format!("(({lo_sum}) % 4294967296 <> 0 OR ({hi_sum}) + ({lo_sum}) / 4294967296 <> 0)")
}

fn exact_sum(hi_sum: i64, lo_sum: i64) -> i128 {
    i128::from(hi_sum) * (1_i128 << 32) + i128::from(lo_sum)
}

/// Proves the ledger: every entry has at least two postings in its own
/// currency summing to zero, every reversal exactly negates its original,
/// every maintained balance equals the sum of its postings and lies within
/// ±[`MAX_BALANCE_MINOR`], and each currency's balances sum to zero.
///
/// Sums are exact (taken in `i128`): a ledger whose sums leave the 64-bit
/// range, or whose stored balance is not an integer at all (an old SQLite
/// overflow stored a REAL), is reported account by account as "out of
/// range", never a failure of `verify` itself.
pub async fn verify(db: &Db) -> Result<VerifyReport, DbError> {
    let pool = db.reader();
    let mut report = VerifyReport {
        entries: sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM ledger_entries").fetch_one(pool).await?,
        postings: sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM ledger_postings").fetch_one(pool).await?,
        balances: sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM ledger_balances").fetch_one(pool).await?,
        problems: Vec::new(),
    };
    const LIMIT: usize = 100;
    let (hi, lo) = (format!("COALESCE(SUM(p.{HI}), 0)"), format!("COALESCE(SUM(p.{LO}), 0)"));
    let unbalanced = sqlx::query(AssertSqlSafe(format!(
        "SELECT e.id, CAST({hi} AS BIGINT), CAST({lo} AS BIGINT), CAST(COUNT(p.id) AS BIGINT) \
         FROM ledger_entries e LEFT JOIN ledger_postings p ON p.entry_id = e.id \
         GROUP BY e.id HAVING {} OR COUNT(p.id) < 2 LIMIT 100",
        sum_is_not_zero(&hi, &lo)
    )))
    .fetch_all(pool)
    .await?;
    for r in unbalanced {
        let (id, sum, n): (String, i128, i64) = (r.get(0), exact_sum(r.get(1), r.get(2)), r.get(3));
        report.problems.push(format!("entry {id}: {n} postings summing to {sum}"));
    }
    let orphans = sqlx::query(
        "SELECT p.id, p.entry_id FROM ledger_postings p LEFT JOIN ledger_entries e ON e.id = p.entry_id \
         WHERE e.id IS NULL OR e.currency <> p.currency OR e.livemode <> p.livemode \
         OR e.effective_at <> p.effective_at LIMIT 100",
    )
    .fetch_all(pool)
    .await?;
    for r in orphans {
        let (pid, eid): (i64, String) = (r.get(0), r.get(1));
        report.problems.push(format!("posting {pid} does not match its entry {eid}"));
    }
    // Reversals: each account's postings of the pair must cancel out.
    let bad_reversals = sqlx::query(AssertSqlSafe(format!(
        "SELECT r.id, r.reverses_entry_id FROM ledger_entries r \
         JOIN ledger_entries o ON o.id = r.reverses_entry_id \
         WHERE r.currency <> o.currency OR r.livemode <> o.livemode OR EXISTS ( \
           SELECT 1 FROM ledger_postings p WHERE p.entry_id IN (r.id, o.id) \
           GROUP BY p.account HAVING {}) LIMIT 100",
        sum_is_not_zero(&format!("SUM(p.{HI})"), &format!("SUM(p.{LO})"))
    )))
    .fetch_all(pool)
    .await?;
    for r in bad_reversals {
        let (rid, oid): (String, String) = (r.get(0), r.get(1));
        report.problems.push(format!("reversal {rid} does not exactly negate entry {oid}"));
    }
    let summed = sqlx::query(AssertSqlSafe(format!(
        "SELECT livemode, account, currency, CAST(SUM({HI}) AS BIGINT), CAST(SUM({LO}) AS BIGINT), \
         CAST(COUNT(*) AS BIGINT) FROM ledger_postings GROUP BY livemode, account, currency"
    )))
    .fetch_all(pool)
    .await?;
    let mut from_postings: BTreeMap<(i64, String, String), (i128, i64)> = BTreeMap::new();
    for r in summed {
        let key: (i64, String, String) = (r.get(0), r.get(1), r.get(2));
        let sum = exact_sum(r.get(3), r.get(4));
        if !balance_in_range(sum) {
            report.problems.push(format!(
                "account {}/{}: postings sum to {sum}, out of range (balances are limited to ±{MAX_BALANCE_MINOR})",
                key.1, key.2
            ));
        }
        from_postings.insert(key, (sum, r.get(5)));
    }
    // Read as text: a REAL left by an old SQLite overflow cannot be decoded
    // as an integer, and must be reported rather than fail the read.
    let stored = sqlx::query(
        "SELECT livemode, account, currency, CAST(balance_minor AS TEXT), posting_count FROM ledger_balances",
    )
    .fetch_all(pool)
    .await?;
    let mut per_currency: BTreeMap<(i64, String), i128> = BTreeMap::new();
    for r in stored {
        let key: (i64, String, String) = (r.get(0), r.get(1), r.get(2));
        let (text, n): (String, i64) = (r.get(3), r.get(4));
        let postings = from_postings.remove(&key);
        let Some(bal) = text.parse::<i128>().ok().filter(|b| balance_in_range(*b)) else {
            report.problems.push(format!(
                "balance {}/{} is {text}, out of range (balances are limited to ±{MAX_BALANCE_MINOR}){}",
                key.1,
                key.2,
                postings.map(|(s, c)| format!("; its {c} postings sum to {s}")).unwrap_or_default()
            ));
            continue;
        };
        *per_currency.entry((key.0, key.2.clone())).or_default() += bal;
        match postings {
            Some((s, c)) if s == bal && c == n => {}
            Some((s, c)) => report
                .problems
                .push(format!("balance {}/{} is {bal} over {n} postings, postings sum to {s} over {c}", key.1, key.2)),
            None => {
                report.problems.push(format!("balance {}/{} is {bal} but the account has no postings", key.1, key.2))
            }
        }
    }
    for ((_, account, currency), (s, _)) in from_postings {
        report.problems.push(format!("account {account}/{currency} has postings summing to {s} but no balance row"));
    }
    for ((live, currency), total) in per_currency {
        if total != 0 {
            report.problems.push(format!(
                "{} balances in {currency} sum to {total}, not zero",
                if live != 0 { "live" } else { "test" }
            ));
        }
    }
    report.problems.truncate(LIMIT * 4);
    Ok(report)
}

/// Entries, newest first, optionally of one source.
pub async fn list_entries(
    db: &Db,
    livemode: bool,
    source_type: Option<&str>,
    source_id: Option<&str>,
    starting_after: Option<&str>,
    limit: i64,
) -> Result<Vec<StoredEntry>, DbError> {
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM ledger_entries WHERE livemode = $1 AND ($2 = '' OR source_type = $2) \
         AND ($3 = '' OR source_id = $3) AND ($4 = '' OR id < $4) ORDER BY id DESC LIMIT $5",
    )
    .bind(i64::from(livemode))
    .bind(source_type.unwrap_or("").to_string())
    .bind(source_id.unwrap_or("").to_string())
    .bind(starting_after.unwrap_or("").to_string())
    .bind(limit)
    .fetch_all(db.reader())
    .await?;
    let mut out = Vec::with_capacity(ids.len());
    let mut conn = db.reader().acquire().await?;
    for id in ids {
        if let Some(e) = get_entry(&mut conn, livemode, &id).await? {
            out.push(e);
        }
    }
    Ok(out)
}

/// The debit-positive balance of one account, read inside a transaction.
pub async fn balance_in_tx(tx: &mut Tx, livemode: bool, account: &str, currency: &str) -> Result<i64, DbError> {
    let v: Option<i64> = sqlx::query_scalar(
        "SELECT balance_minor FROM ledger_balances WHERE livemode = $1 AND account = $2 AND currency = $3",
    )
    .bind(i64::from(livemode))
    .bind(account)
    .bind(currency)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(v.unwrap_or(0))
}

/// Balances of several exact accounts at once.
pub async fn balances_of(db: &Db, livemode: bool, accounts: &[String]) -> Result<Vec<Balance>, DbError> {
    if accounts.is_empty() {
        return Ok(Vec::new());
    }
    let list: Vec<String> = (0..accounts.len()).map(|i| format!("${}", i + 2)).collect();
    let sql = format!(
        "SELECT account, currency, balance_minor, posting_count FROM ledger_balances \
         WHERE livemode = $1 AND account IN ({}) ORDER BY account, currency",
        list.join(",")
    );
    let mut q = sqlx::query(AssertSqlSafe(sql)).bind(i64::from(livemode));
    for a in accounts {
        q = q.bind(a.clone());
    }
    Ok(q.fetch_all(db.reader())
        .await?
        .into_iter()
        .map(|r| Balance { account: r.get(0), currency: r.get(1), balance_minor: r.get(2), posting_count: r.get(3) })
        .collect())
}

/// Debit-positive balances of several accounts, read inside a transaction:
/// (livemode, account, currency, balance).
pub async fn balances_in_tx(tx: &mut Tx, accounts: &[String]) -> Result<Vec<(bool, String, String, i64)>, DbError> {
    let mut out = Vec::new();
    for chunk in accounts.chunks(500) {
        let list: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT livemode, account, currency, balance_minor FROM ledger_balances WHERE account IN ({})",
            list.join(",")
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for a in chunk {
            q = q.bind(a.clone());
        }
        for r in q.fetch_all(&mut **tx).await? {
            out.push((r.get::<i64, _>(0) != 0, r.get(1), r.get(2), r.get(3)));
        }
    }
    Ok(out)
}

/// The entries recorded for a payment, each with what it posted to
/// `account` (a provider's clearing account).
pub async fn payment_entries_on<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
    ex: E,
    payment_id: &str,
    account: &str,
) -> Result<Vec<(String, i64)>, DbError> {
    Ok(sqlx::query_as(
        "SELECT e.id, CAST(COALESCE(SUM(CASE WHEN p.account = $2 THEN p.amount_minor ELSE 0 END), 0) AS BIGINT) \
         FROM ledger_entries e JOIN ledger_postings p ON p.entry_id = e.id \
         WHERE e.source_type = 'payment' AND e.source_id = $1 GROUP BY e.id",
    )
    .bind(payment_id)
    .bind(account)
    .fetch_all(ex)
    .await?)
}
