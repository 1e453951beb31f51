//! Payouts through the Stripe and PayPal connectors, against the local
//! doubles: the requests as each provider documents them, refusals, and
//! recovery after an unknown outcome without paying twice.

use std::time::Duration;

use bursar_providers::payouts::{PayoutConnector, PayoutRequest, PayoutStatus};
use bursar_providers::paypal::PaypalConnector;
use bursar_providers::stripe::{StripeConfig, StripeConnector};
use bursar_providers::testkit::paypal::{FakePaypal, DENIED_RECEIVER, RETURNED_RECEIVER};
use bursar_providers::testkit::stripe::{FakeStripe, Fault};
use bursar_providers::{Connector, HttpSettings, Money, ProviderError};

fn stripe(fake: &FakeStripe, timeout: Duration) -> StripeConnector {
    let mut c = StripeConfig::new(fake.secret_key(), vec![]);
    c.api_base = fake.base_url().to_string();
    c.http = HttpSettings { timeout, connect_timeout: Duration::from_secs(2) };
    StripeConnector::new(c).unwrap()
}

fn payout(id: &str, amount: Money, destination: &str) -> PayoutRequest {
    PayoutRequest {
        payout_id: id.into(),
        amount,
        destination: destination.into(),
        description: format!("Bursar payout {id}"),
    }
}

fn eur(minor: i64) -> Money {
    Money::new(minor, "EUR")
}

fn usd(minor: i64) -> Money {
    Money::new(minor, "USD")
}

fn assert_clean(fake: &FakeStripe) {
    let failures = fake.validation_failures();
    assert!(failures.is_empty(), "spec validation failures: {failures:#?}");
}

fn posts(fake: &FakeStripe) -> usize {
    fake.request_count("POST", "/v1/transfers")
}

#[tokio::test]
async fn connectors_offer_payouts() {
    let fake = FakeStripe::start().await;
    assert!(stripe(&fake, Duration::from_secs(5)).payouts().is_some());
    let pp = FakePaypal::start().await;
    assert!(PaypalConnector::new(pp.config()).unwrap().payouts().is_some());
}

#[tokio::test]
async fn a_stripe_transfer_pays_the_connected_account_once() {
    let fake = FakeStripe::start().await;
    let conn = stripe(&fake, Duration::from_secs(5));
    let acct = fake.connected_account();
    let paid = conn.send_payout(&payout("po_01", eur(12_345), &acct)).await.unwrap();
    let PayoutStatus::Paid { provider_ref, amount } = paid.clone() else { panic!("{paid:?}") };
    assert!(provider_ref.starts_with("tr_"));
    assert_eq!(amount, eur(12_345));

    // The request as Stripe documents it.
    let sent = fake.requests().into_iter().find(|r| r.path == "/v1/transfers").unwrap();
    let param = |k: &str| sent.params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(param("amount"), Some("12345"));
    assert_eq!(param("currency"), Some("eur"));
    assert_eq!(param("destination"), Some(acct.as_str()));
    assert_eq!(param("transfer_group"), Some("po_01"));
    assert_eq!(param("metadata[payout_id]"), Some("po_01"));
    assert_eq!(param("description"), Some("Bursar payout po_01"));
    assert_eq!(sent.idempotency_key.as_deref(), Some("bursar-po_01-transfer"));
    assert_eq!(sent.stripe_version.as_deref(), Some("2023-08-16"));
    let transfer = fake.object(&provider_ref).unwrap();
    assert_eq!((transfer["destination"].as_str(), transfer["amount"].as_i64()), (Some(acct.as_str()), Some(12_345)));

    // Sent again under the same payout id: Stripe replays the transfer.
    assert_eq!(conn.send_payout(&payout("po_01", eur(12_345), &acct)).await.unwrap(), paid);
    assert_eq!(fake.objects("transfer").len(), 1);
    assert!(fake.requests().iter().filter(|r| r.path == "/v1/transfers").nth(1).unwrap().replayed);

    // Found again by its id or by the payout id alone.
    assert_eq!(conn.retrieve_payout("po_01", Some(&provider_ref)).await.unwrap(), paid);
    assert_eq!(conn.retrieve_payout("po_01", None).await.unwrap(), paid);
    assert_eq!(conn.retrieve_payout("po_02", None).await.unwrap(), PayoutStatus::NotFound);
    assert_eq!(conn.retrieve_payout("po_02", Some("tr_nothere")).await.unwrap(), PayoutStatus::NotFound);
    // A zero-decimal currency travels in whole units.
    let yen = conn.send_payout(&payout("po_03", Money::new(5_000, "JPY"), &acct)).await.unwrap();
    assert!(matches!(yen, PayoutStatus::Paid { amount, .. } if amount == Money::new(5_000, "JPY")));
    assert_clean(&fake);
}

#[tokio::test]
async fn stripe_refusals_are_failed_payouts_and_bad_ones_are_not_sent() {
    let fake = FakeStripe::start().await;
    let conn = stripe(&fake, Duration::from_secs(5));
    let acct = fake.connected_account();
    fake.set_available_balance("EUR", Some(5_000));
    let refused = conn.send_payout(&payout("po_big", eur(5_001), &acct)).await.unwrap();
    let PayoutStatus::Failed { provider_ref: None, code, message } = refused else { panic!("{refused:?}") };
    assert_eq!(code, "balance_insufficient");
    assert!(message.contains("insufficient"), "{message}");
    let missing = conn.send_payout(&payout("po_where", eur(100), "acct_1NotConnected")).await.unwrap();
    assert!(matches!(&missing, PayoutStatus::Failed { code, .. } if code == "resource_missing"), "{missing:?}");
    assert!(fake.objects("transfer").is_empty());
    // What the balance covers still goes through.
    assert!(matches!(conn.send_payout(&payout("po_small", eur(5_000), &acct)).await, Ok(PayoutStatus::Paid { .. })));
    // Refused by the connector, nothing sent: not an account, not
    // representable, not positive.
    let before = posts(&fake);
    for bad in [
        payout("po_b1", eur(100), "ana@example.com"),
        payout("po_b2", Money::new(1_235, "KWD"), &acct),
        payout("po_b3", eur(0), &acct),
    ] {
        let err = conn.send_payout(&bad).await.unwrap_err();
        assert!(matches!(err, ProviderError::InvalidRequest { .. }), "{err:?}");
    }
    assert_eq!(posts(&fake), before);
    assert_clean(&fake);
}

#[tokio::test]
async fn a_lost_stripe_answer_is_recovered_without_a_second_transfer() {
    let fake = FakeStripe::start().await;
    let conn = stripe(&fake, Duration::from_millis(500));
    let acct = fake.connected_account();

    // Carried out, answered 500: unknown; the lookup finds the transfer.
    fake.fail_next(1, Fault::ServerErrorAfterExecuting);
    let err = conn.send_payout(&payout("po_500", eur(2_000), &acct)).await.unwrap_err();
    assert!(matches!(err, ProviderError::Indeterminate { .. }) && err.outcome_unknown(), "{err:?}");
    assert_eq!(fake.objects("transfer").len(), 1, "Stripe did transfer");
    let found = conn.retrieve_payout("po_500", None).await.unwrap();
    assert!(matches!(found, PayoutStatus::Paid { amount, .. } if amount == eur(2_000)), "{found:?}");

    // No answer in time: the same.
    fake.fail_next(1, Fault::Stall(Duration::from_secs(2)));
    let err = conn.send_payout(&payout("po_slow", eur(3_000), &acct)).await.unwrap_err();
    assert!(matches!(err, ProviderError::Timeout { .. }), "{err:?}");
    assert!(matches!(conn.retrieve_payout("po_slow", None).await.unwrap(), PayoutStatus::Paid { .. }));
    assert_eq!(fake.objects("transfer").len(), 2);

    // A 500 before acting: nothing found, so sending again is safe and
    // makes the one transfer.
    fake.fail_next(1, Fault::ServerError);
    let err = conn.send_payout(&payout("po_lost", eur(4_000), &acct)).await.unwrap_err();
    assert!(err.outcome_unknown(), "{err:?}");
    assert_eq!(conn.retrieve_payout("po_lost", None).await.unwrap(), PayoutStatus::NotFound);
    assert!(matches!(conn.send_payout(&payout("po_lost", eur(4_000), &acct)).await, Ok(PayoutStatus::Paid { .. })));
    let lost: Vec<_> = fake.objects("transfer").into_iter().filter(|t| t["transfer_group"] == "po_lost").collect();
    assert_eq!(lost.len(), 1);

    // 503: nothing happened, may be retried.
    fake.fail_next(1, Fault::ServiceUnavailable);
    let err = conn.send_payout(&payout("po_503", eur(100), &acct)).await.unwrap_err();
    assert!(matches!(err, ProviderError::Unavailable { .. }) && !err.outcome_unknown(), "{err:?}");

    // The key reused with other parameters: an earlier request exists, so
    // the outcome is unknown, never a failure that would free the money.
    let err = conn.send_payout(&payout("po_500", eur(2_001), &acct)).await.unwrap_err();
    assert!(matches!(err, ProviderError::Indeterminate { .. }), "{err:?}");
    assert_eq!(fake.objects("transfer").len(), 3);
    assert_clean(&fake);
}

async fn paypal() -> (FakePaypal, PaypalConnector) {
    let fake = FakePaypal::start().await;
    let conn = PaypalConnector::new(fake.config()).unwrap();
    (fake, conn)
}

#[tokio::test]
async fn a_paypal_payout_is_sent_once_and_settles() {
    let (fake, conn) = paypal().await;
    let sent = conn.send_payout(&payout("po_pp1", usd(12_34), "ana@example.com")).await.unwrap();
    let PayoutStatus::InProgress { provider_ref: batch } = sent.clone() else { panic!("{sent:?}") };

    // The batch as PayPal documents it.
    let body = fake.last_payout_request().unwrap();
    assert_eq!(body["sender_batch_header"]["sender_batch_id"], "po_pp1");
    assert_eq!(body["sender_batch_header"]["email_subject"], "Bursar payout po_pp1");
    let item = &body["items"][0];
    assert_eq!(item["recipient_type"], "EMAIL");
    assert_eq!(item["amount"], serde_json::json!({"value": "12.34", "currency": "USD"}));
    assert_eq!(item["receiver"], "ana@example.com");
    assert_eq!(item["sender_item_id"], "po_pp1");
    assert_eq!(item["note"], "Bursar payout po_pp1");

    // PENDING, then PROCESSING, then the item succeeds.
    assert_eq!(fake.payout_batch(&batch).unwrap()["batch_header"]["batch_status"], "PENDING");
    assert_eq!(conn.retrieve_payout("po_pp1", Some(&batch)).await.unwrap(), sent);
    let paid = conn.retrieve_payout("po_pp1", Some(&batch)).await.unwrap();
    assert_eq!(paid, PayoutStatus::Paid { provider_ref: batch.clone(), amount: usd(12_34) });

    // Sent again: the same PayPal-Request-Id replays the first answer.
    assert_eq!(conn.send_payout(&payout("po_pp1", usd(12_34), "ana@example.com")).await.unwrap(), sent);
    // Once PayPal no longer holds the request id, its sender_batch_id rule
    // refuses a second batch and points at the first, which is read.
    fake.forget_request_ids();
    assert_eq!(conn.send_payout(&payout("po_pp1", usd(12_34), "ana@example.com")).await.unwrap(), paid);
    assert_eq!(fake.payouts_created(), 1);

    // PayPal cannot be asked by Bursar's id alone.
    assert_eq!(conn.retrieve_payout("po_pp1", None).await.unwrap(), PayoutStatus::NotFound);
    assert_eq!(conn.retrieve_payout("po_pp1", Some("NOSUCHBATCH1")).await.unwrap(), PayoutStatus::NotFound);
    // Whole-unit currencies carry no decimals.
    conn.send_payout(&payout("po_yen", Money::new(1_000, "JPY"), "ana@example.com")).await.unwrap();
    assert_eq!(fake.last_payout_request().unwrap()["items"][0]["amount"]["value"], "1000");
}

#[tokio::test]
async fn paypal_refusals_are_failed_payouts() {
    let (fake, conn) = paypal().await;
    // Denied at once.
    let denied = conn.send_payout(&payout("po_denied", usd(500), DENIED_RECEIVER)).await.unwrap();
    let PayoutStatus::Failed { provider_ref: Some(batch), code, .. } = denied else { panic!("{denied:?}") };
    assert_eq!(code, "DENIED");
    // Read back, the item says why.
    let again = conn.retrieve_payout("po_denied", Some(&batch)).await.unwrap();
    assert!(matches!(&again, PayoutStatus::Failed { code, .. } if code == "RECEIVER_ACCOUNT_LOCKED"), "{again:?}");
    // Accepted, then returned unclaimed: the item decides.
    let sent = conn.send_payout(&payout("po_returned", usd(500), RETURNED_RECEIVER)).await.unwrap();
    let PayoutStatus::InProgress { provider_ref: batch } = sent else { panic!("{sent:?}") };
    fake.complete_payouts();
    let returned = conn.retrieve_payout("po_returned", Some(&batch)).await.unwrap();
    assert!(matches!(&returned, PayoutStatus::Failed { code, .. } if code == "RECEIVER_UNREGISTERED"), "{returned:?}");
    assert_eq!(fake.payout_batch(&batch).unwrap()["batch_header"]["batch_status"], "SUCCESS");
    // Refused outright: no batch.
    let created = fake.payouts_created();
    fake.refuse_payouts_for_funds(1);
    let broke = conn.send_payout(&payout("po_broke", usd(500), "ana@example.com")).await.unwrap();
    assert!(
        matches!(&broke, PayoutStatus::Failed { provider_ref: None, code, .. } if code == "INSUFFICIENT_FUNDS"),
        "{broke:?}"
    );
    let invalid = conn.send_payout(&payout("po_inv", usd(500), "ana@localhost")).await.unwrap();
    assert!(matches!(&invalid, PayoutStatus::Failed { code, .. } if code == "VALIDATION_ERROR"), "{invalid:?}");
    assert_eq!(fake.payouts_created(), created);
    // Refused before sending.
    for bad in [
        payout("po_b1", usd(500), "acct_123"),
        payout("po_b2", Money::new(500, "KES"), "ana@example.com"),
        payout("po_b3", Money::new(150, "HUF"), "ana@example.com"),
        payout("po_b4", usd(0), "ana@example.com"),
    ] {
        let err = conn.send_payout(&bad).await.unwrap_err();
        assert!(matches!(err, ProviderError::InvalidRequest { .. }), "{bad:?}: {err:?}");
    }
    assert_eq!(fake.payouts_created(), created);
}

#[tokio::test]
async fn a_lost_paypal_answer_is_recovered_without_a_second_batch() {
    let (fake, conn) = paypal().await;
    // Carried out, answered 500: sending again is answered with the batch.
    fake.fail_after_acting_on("/v1/payments/payouts");
    let err = conn.send_payout(&payout("po_500", usd(700), "ana@example.com")).await.unwrap_err();
    assert!(matches!(err, ProviderError::Indeterminate { .. }) && err.outcome_unknown(), "{err:?}");
    assert_eq!(fake.payouts_created(), 1);
    assert_eq!(conn.retrieve_payout("po_500", None).await.unwrap(), PayoutStatus::NotFound);
    let again = conn.send_payout(&payout("po_500", usd(700), "ana@example.com")).await.unwrap();
    assert!(matches!(again, PayoutStatus::InProgress { .. }), "{again:?}");
    assert_eq!(fake.payouts_created(), 1);

    // No answer in time (the double's connector gives up after 2 s).
    fake.hang_next_on("/v1/payments/payouts", Duration::from_secs(3));
    let err = conn.send_payout(&payout("po_slow", usd(800), "ana@example.com")).await.unwrap_err();
    assert!(matches!(err, ProviderError::Timeout { .. }), "{err:?}");
    fake.forget_request_ids();
    let again = conn.send_payout(&payout("po_slow", usd(800), "ana@example.com")).await.unwrap();
    assert!(matches!(again, PayoutStatus::InProgress { .. }), "{again:?}");
    assert_eq!(fake.payouts_created(), 2);

    // A 500 before acting: sending again makes the one batch.
    fake.fail_next_on("/v1/payments/payouts");
    let err = conn.send_payout(&payout("po_lost", usd(900), "ana@example.com")).await.unwrap_err();
    assert!(err.outcome_unknown(), "{err:?}");
    assert_eq!(fake.payouts_created(), 2);
    conn.send_payout(&payout("po_lost", usd(900), "ana@example.com")).await.unwrap();
    assert_eq!(fake.payouts_created(), 3);

    // 503: nothing happened.
    fake.unavailable_next(1);
    let err = conn.send_payout(&payout("po_503", usd(900), "ana@example.com")).await.unwrap_err();
    assert!(matches!(err, ProviderError::Unavailable { .. }), "{err:?}");
    assert_eq!(fake.payouts_created(), 3);
}
