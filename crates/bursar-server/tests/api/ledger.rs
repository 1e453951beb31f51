use crate::common::*;
use serde_json::json;

#[tokio::test]
async fn manual_entries_balance_reverse_and_verify() {
    let app = TestApp::spawn().await;
    let (s, e) = app
        .post(
            "/v1/ledger/entries",
            json!({"currency": "EUR", "description": "Invoice INV-1", "effective_at": 1_767_225_600,
                   "postings": [{"account": "receivables", "amount": 11900},
                                {"account": "revenue:subscriptions", "amount": -10000},
                                {"account": "tax_payable:DE", "amount": -1900}]}),
        )
        .await;
    assert_eq!(s, 200, "{e}");
    let id = e["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("je_"));
    assert_eq!(e["postings"].as_array().unwrap().len(), 3);

    let (_, b) = app.get("/v1/ledger/balances?currency=EUR").await;
    let got: Vec<(String, i64)> = b["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["account"].as_str().unwrap().to_string(), r["balance"].as_i64().unwrap()))
        .collect();
    assert_eq!(
        got,
        vec![("receivables".into(), 11900), ("revenue:subscriptions".into(), 10000), ("tax_payable:DE".into(), 1900)]
    );
    // A root matches its qualified accounts.
    let (_, t) = app.get("/v1/ledger/balances?account=tax_payable").await;
    assert_eq!(t["data"][0]["account"], "tax_payable:DE");

    // Balances as of a date before the entry took effect are empty.
    let (_, early) = app.get("/v1/ledger/balances?as_of=1767225599").await;
    assert_eq!(early["data"].as_array().unwrap().len(), 0);
    let (_, at) = app.get("/v1/ledger/balances?as_of=1767225600&account=receivables").await;
    assert_eq!(at["data"][0]["balance"], 11900);

    let (s, r) = app.post(&format!("/v1/ledger/entries/{id}/reverse"), json!({"description": "Void"})).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["reverses"], id.as_str());
    assert_eq!(r["postings"][0]["amount"], -11900);
    let (_, b) = app.get("/v1/ledger/balances?currency=EUR").await;
    assert!(b["data"].as_array().unwrap().iter().all(|r| r["balance"] == 0));
    let (s, b2) = app.post(&format!("/v1/ledger/entries/{id}/reverse"), json!({})).await;
    assert_error(s, &b2, 409, Some("id"));
    let (s, b3) = app.post(&format!("/v1/ledger/entries/{}/reverse", r["id"].as_str().unwrap()), json!({})).await;
    assert_error(s, &b3, 400, Some("id"));
    let (_, orig) = app.get(&format!("/v1/ledger/entries/{id}")).await;
    assert_eq!(orig["reversed_by"], r["id"]);
    app.verify_ledger().await;
}

#[tokio::test]
async fn unbalanced_or_malformed_entries_are_refused_and_write_nothing() {
    let app = TestApp::spawn().await;
    let cases = vec![
        (
            json!({"currency": "USD", "description": "x", "postings": [{"account": "cash", "amount": 100}, {"account": "revenue", "amount": -99}]}),
            "postings",
        ),
        (json!({"currency": "USD", "description": "x", "postings": [{"account": "cash", "amount": 100}]}), "postings"),
        (
            json!({"currency": "USD", "description": "x", "postings": [{"account": "cash", "amount": 100}, {"account": "nowhere", "amount": -100}]}),
            "postings[1].account",
        ),
        (
            json!({"currency": "USD", "description": "x", "postings": [{"account": "cash", "amount": 0}, {"account": "revenue", "amount": 0}]}),
            "postings[0].amount",
        ),
        (
            json!({"currency": "USD", "description": "x", "postings": [{"account": "cash", "amount": 1_000_000_000_000_000i64}, {"account": "revenue", "amount": -1_000_000_000_000_000i64}]}),
            "postings[0].amount",
        ),
        (json!({"currency": "QQQ", "description": "x", "postings": []}), "currency"),
        (json!({"currency": "USD", "description": "", "postings": []}), "description"),
        (
            json!({"currency": "USD", "description": "x", "postings": [{"account": "cash", "amount": "100"}]}),
            "postings[0].amount",
        ),
        (
            json!({"currency": "USD", "description": "x", "postings": [{"account": "cash", "amount": 5, "memo": 1}]}),
            "postings[0].memo",
        ),
        (
            json!({"currency": "USD", "description": "x", "postings": [{"account": "cash", "amount": 1}, {"account": "revenue", "amount": -1}], "effective_at": -5}),
            "effective_at",
        ),
    ];
    for (body, param) in cases {
        let (s, b) = app.post("/v1/ledger/entries", body).await;
        assert_error(s, &b, 400, Some(param));
    }
    let (s, b) = app.get("/v1/ledger/balances?currency=NOPE").await;
    assert_error(s, &b, 400, Some("currency"));
    let (s, b) = app.get("/v1/ledger/balances?account=bad%20account").await;
    assert_error(s, &b, 400, Some("account"));
    assert_eq!(app.count("ledger_entries").await, 0);
    assert_eq!(app.count("ledger_postings").await, 0);
}

#[tokio::test]
async fn postings_are_immutable_in_the_database() {
    let app = TestApp::spawn().await;
    let (s, _) = app
        .post(
            "/v1/ledger/entries",
            json!({"currency": "JPY", "description": "x", "postings": [{"account": "cash", "amount": 500}, {"account": "revenue", "amount": -500}]}),
        )
        .await;
    assert_eq!(s, 200);
    let db = &app.tdb.db;
    assert!(sqlx::query("UPDATE ledger_postings SET amount_minor = 1").execute(db.writer()).await.is_err());
    assert!(sqlx::query("DELETE FROM ledger_postings").execute(db.writer()).await.is_err());
    assert!(sqlx::query("UPDATE ledger_entries SET description = 'y'").execute(db.writer()).await.is_err());
    assert!(sqlx::query("DELETE FROM ledger_entries").execute(db.writer()).await.is_err());
    app.verify_ledger().await;
}

#[tokio::test]
async fn verify_detects_a_tampered_balance() {
    let app = TestApp::spawn().await;
    let (s, _) = app
        .post(
            "/v1/ledger/entries",
            json!({"currency": "BHD", "description": "x", "postings": [{"account": "cash", "amount": 1234}, {"account": "revenue", "amount": -1234}]}),
        )
        .await;
    assert_eq!(s, 200);
    app.verify_ledger().await;
    sqlx::query("UPDATE ledger_balances SET balance_minor = balance_minor + 1 WHERE account = 'cash'")
        .execute(app.tdb.db.writer())
        .await
        .unwrap();
    let r = bursar_store::ledger::verify(&app.tdb.db).await.unwrap();
    assert!(!r.ok());
    assert!(r.problems.iter().any(|p| p.contains("cash")), "{:?}", r.problems);
}

#[tokio::test]
async fn batches_post_atomically_and_sum_exactly() {
    let tdb = test_db().await;
    let usd = bursar_domain::money::Currency::from_code("USD").unwrap();
    let drafts: Vec<_> = (1..=1200i64)
        .map(|i| {
            bursar_domain::ledger::EntryDraft::new(usd, "b")
                .debit(format!("receivables:c{}", i % 7), i)
                .credit("revenue", i)
                .validate()
                .unwrap()
        })
        .collect();
    let entries: Vec<_> = drafts
        .iter()
        .map(|e| bursar_store::ledger::NewEntry {
            livemode: false,
            entry: e,
            source_type: None,
            source_id: None,
            effective_at: 1,
            created_at: 1,
            reverses: None,
        })
        .collect();
    let mut tx = tdb.db.begin().await.unwrap();
    bursar_store::ledger::post_batch(&mut tx, &entries).await.unwrap();
    // Rolled back: nothing stays.
    drop(tx);
    let n: i64 = sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM ledger_entries")
        .fetch_one(tdb.db.reader())
        .await
        .unwrap();
    assert_eq!(n, 0);
    let mut tx = tdb.db.begin().await.unwrap();
    bursar_store::ledger::post_batch(&mut tx, &entries).await.unwrap();
    tx.commit().await.unwrap();
    let bal = bursar_store::ledger::balances(&tdb.db, false, Some("revenue"), None, None).await.unwrap();
    assert_eq!(bal[0].balance_minor, -(1200 * 1201 / 2));
    assert_eq!(bal[0].posting_count, 1200);
    let r = bursar_store::ledger::verify(&tdb.db).await.unwrap();
    assert!(r.ok(), "{:?}", r.problems);
    assert_eq!((r.entries, r.postings), (1200, 2400));
}
