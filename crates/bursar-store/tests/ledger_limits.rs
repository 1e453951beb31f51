//! Ledger balances stay inside the documented limit on both databases, and
//! `verify` reports a ledger whose sums leave the 64-bit range instead of
//! failing.
//!
//! Runs on SQLite by default; `BURSAR_TEST_DB=postgres` runs it on
//! PostgreSQL (`BURSAR_TEST_DATABASE_URL`, default
//! postgres://postgres@127.0.0.1:5432/test) in a fresh schema.

use bursar_domain::ledger::{BalancedEntry, EntryDraft, MAX_BALANCE_MINOR};
use bursar_domain::money::{Currency, MAX_AMOUNT_MINOR};
use bursar_store::ledger::{self, NewEntry};
use bursar_store::{Backend, Db, DbConfig, DbError};
use sqlx::Row;

struct TestDb {
    db: Db,
    _dir: tempfile::TempDir,
}

fn backend() -> Backend {
    match std::env::var("BURSAR_TEST_DB").as_deref() {
        Ok("postgres") => Backend::Postgres,
        _ => Backend::Sqlite,
    }
}

async fn test_db() -> TestDb {
    let dir = tempfile::tempdir().expect("temporary directory");
    let config = match backend() {
        Backend::Sqlite => DbConfig::Sqlite { path: dir.path().join("bursar.db"), synchronous_full: false },
        Backend::Postgres => DbConfig::Postgres {
            url: std::env::var("BURSAR_TEST_DATABASE_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into()),
            max_connections: 4,
            schema: Some(format!("t_{}", uuid::Uuid::now_v7().simple())),
        },
    };
    let db = Db::connect(&config).await.expect("connect test database");
    db.migrate().await.expect("migrate test database");
    TestDb { db, _dir: dir }
}

/// A maximal goodwill grant: credit_grants up, one customer's credit up.
fn grant(customer: usize, amount: i64) -> BalancedEntry {
    EntryDraft::new(Currency::USD, "goodwill")
        .debit("credit_grants", amount)
        .credit(format!("customer_credit:c{customer}"), amount)
        .validate()
        .expect("a valid grant")
}

async fn post_all(db: &Db, entries: &[BalancedEntry]) -> Result<Vec<String>, DbError> {
    let mut tx = db.begin().await?;
    let news: Vec<NewEntry<'_>> = entries.iter().map(|e| NewEntry::at(false, e, 1_000)).collect();
    let ids = ledger::post_batch(&mut tx, &news).await?;
    tx.commit().await?;
    Ok(ids)
}

async fn credit_grants_balance(db: &Db) -> i64 {
    let b = ledger::balances(db, false, Some("credit_grants"), Some("USD"), None).await.expect("balances");
    assert_eq!(b.len(), 1, "{b:?}");
    b[0].balance_minor
}

async fn entry_count(db: &Db) -> i64 {
    sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM ledger_entries").fetch_one(db.reader()).await.unwrap()
}

#[tokio::test]
async fn grants_stop_at_the_balance_limit_and_the_ledger_still_verifies() {
    let t = test_db().await;
    // 1,000 maximal grants bring credit_grants to 10^18 − 1,000: allowed.
    let first: Vec<BalancedEntry> = (0..1_000).map(|i| grant(i, MAX_AMOUNT_MINOR)).collect();
    post_all(&t.db, &first).await.expect("grants up to the limit");
    assert_eq!(credit_grants_balance(&t.db).await, 1_000 * MAX_AMOUNT_MINOR);

    // The next maximal grant would pass 10^18: refused with a typed error,
    // and nothing of its transaction is kept.
    let before = entry_count(&t.db).await;
    let err = post_all(&t.db, &[grant(1_000, MAX_AMOUNT_MINOR)]).await.unwrap_err();
    match &err {
        DbError::BalanceLimit { account, currency } => {
            assert_eq!((account.as_str(), currency.as_str()), ("credit_grants", "USD"))
        }
        other => panic!("expected a balance-limit refusal, got {other:?}"),
    }
    assert!(err.to_string().contains("credit_grants"), "{err}");
    assert_eq!(entry_count(&t.db).await, before);
    assert_eq!(credit_grants_balance(&t.db).await, 1_000 * MAX_AMOUNT_MINOR);

    // A batch that crosses the limit part-way is refused whole, even though
    // its first entries would fit.
    let batch: Vec<BalancedEntry> = [500, 400, 1_500].iter().map(|a| grant(7, *a)).collect();
    let err = post_all(&t.db, &batch).await.unwrap_err();
    assert!(matches!(err, DbError::BalanceLimit { .. }), "{err:?}");
    assert_eq!(entry_count(&t.db).await, before);

    // Exactly up to the limit is fine; one more minor unit is not.
    post_all(&t.db, &[grant(8, 1_000)]).await.expect("exactly the limit");
    assert_eq!(credit_grants_balance(&t.db).await, MAX_BALANCE_MINOR);
    assert!(matches!(post_all(&t.db, &[grant(9, 1)]).await, Err(DbError::BalanceLimit { .. })));
    // Moving back from the limit still works.
    let back = EntryDraft::new(Currency::USD, "clawback")
        .credit("credit_grants", 5)
        .debit("customer_credit:c8", 5)
        .validate()
        .unwrap();
    post_all(&t.db, &[back]).await.expect("away from the limit");
    assert_eq!(credit_grants_balance(&t.db).await, MAX_BALANCE_MINOR - 5);

    let report = ledger::verify(&t.db).await.expect("verify runs");
    assert!(report.ok(), "{:?}", report.problems);
    assert_eq!(report.entries, 1_002);
}

/// A ledger written before the limit existed (or edited by hand) can hold
/// postings whose sums do not fit in 64 bits. `verify` reports it.
#[tokio::test]
async fn verify_reports_sums_beyond_64_bits() {
    let t = test_db().await;
    let mut tx = t.db.begin().await.unwrap();
    // Ten entries, each moving i64::MAX / 2 from customer credit to grants:
    // each entry balances, but the account sums are about ±4.6 × 10^19.
    let half = i64::MAX / 2;
    for i in 0..10 {
        let id = format!("je_raw{i:02}");
        sqlx::query(
            "INSERT INTO ledger_entries (id, livemode, currency, description, effective_at, created_at) \
             VALUES ($1, 0, 'USD', 'raw', 1, 1)",
        )
        .bind(&id)
        .execute(&mut *tx)
        .await
        .unwrap();
        for (account, amount) in [("credit_grants", half), ("customer_credit:c1", -half)] {
            sqlx::query(
                "INSERT INTO ledger_postings (entry_id, livemode, account, currency, amount_minor, effective_at) \
                 VALUES ($1, 0, $2, 'USD', $3, 1)",
            )
            .bind(&id)
            .bind(account)
            .bind(amount)
            .execute(&mut *tx)
            .await
            .unwrap();
        }
    }
    // The maintained balances as they were before the limit: SQLite's
    // integer overflow had turned one into a REAL; PostgreSQL cannot store
    // it, so there it holds a wrapped value.
    match t.db.backend() {
        Backend::Sqlite => {
            sqlx::query(
                "INSERT INTO ledger_balances (livemode, account, currency, balance_minor, posting_count) \
                 VALUES (0, 'credit_grants', 'USD', 4.611686018427388e19, 10), \
                 (0, 'customer_credit:c1', 'USD', -4.611686018427388e19, 10)",
            )
            .execute(&mut *tx)
            .await
            .unwrap();
        }
        Backend::Postgres => {
            sqlx::query(
                "INSERT INTO ledger_balances (livemode, account, currency, balance_minor, posting_count) \
                 VALUES (0, 'credit_grants', 'USD', $1, 10), (0, 'customer_credit:c1', 'USD', $2, 10)",
            )
            .bind(half.wrapping_mul(10))
            .bind(half.wrapping_mul(-10))
            .execute(&mut *tx)
            .await
            .unwrap();
        }
    }
    tx.commit().await.unwrap();

    let report = ledger::verify(&t.db).await.expect("verify reports instead of failing");
    assert!(!report.ok());
    assert_eq!((report.entries, report.postings, report.balances), (10, 20, 2));
    let sum = (i128::from(half) * 10).to_string();
    for account in ["credit_grants", "customer_credit:c1"] {
        assert!(
            report.problems.iter().any(|p| p.contains(account) && p.contains("out of range") && p.contains(&sum)),
            "no out-of-range finding for {account} with its exact sum {sum}: {:?}",
            report.problems
        );
    }
    // The entries themselves balance exactly: no finding names them.
    assert!(!report.problems.iter().any(|p| p.contains("je_raw")), "{:?}", report.problems);

    // Posting to an account whose stored balance is already beyond the limit
    // is refused with the typed error, not a database error.
    let e = EntryDraft::new(Currency::USD, "more")
        .debit("credit_grants", 1)
        .credit("customer_credit:c2", 1)
        .validate()
        .unwrap();
    assert!(matches!(post_all(&t.db, &[e]).await, Err(DbError::BalanceLimit { .. })));
    let rows = sqlx::query("SELECT account FROM ledger_balances WHERE account = 'customer_credit:c2'")
        .fetch_all(t.db.reader())
        .await
        .unwrap();
    assert!(rows.is_empty(), "the refused posting left a balance row");
    let _ = rows.first().map(|r| r.get::<String, _>(0));
}
