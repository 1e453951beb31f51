//! Failures: server errors, unavailability, lost connections, timeouts and
//! authentication.

use super::*;

#[tokio::test]
async fn a_server_error_on_a_charge_is_indeterminate_and_recovered_by_retrieve() {
    let (fake, conn) = setup().await;

    // 500 before Stripe acted: retrieve finds nothing, a retry charges once.
    fake.fail_next(1, Fault::ServerError);
    let err = conn.charge(&charge("pay_500", eur(1000), "pm_card_visa", None)).await.unwrap_err();
    assert!(matches!(err, ProviderError::Indeterminate { .. }), "{err:?}");
    assert!(err.outcome_unknown() && !err.may_fall_back());
    assert!(fake.objects("payment_intent").is_empty(), "nothing was charged");
    assert_eq!(conn.retrieve("pay_500", None).await.unwrap(), PaymentStatus::NotFound);
    let ok = conn.charge(&charge("pay_500", eur(1000), "pm_card_visa", None)).await.unwrap();
    assert!(matches!(ok, ChargeOutcome::Succeeded { .. }), "{ok:?}");
    assert_eq!(fake.objects("payment_intent").len(), 1);

    // 500 after Stripe acted: retrieve finds the payment, a retry replays it.
    fake.fail_next(1, Fault::ServerErrorAfterExecuting);
    let err = conn.charge(&charge("pay_500_done", eur(2500), "pm_card_visa", None)).await.unwrap_err();
    assert!(matches!(err, ProviderError::Indeterminate { .. }), "{err:?}");
    let intents = fake.objects("payment_intent");
    assert_eq!(intents.len(), 2, "Stripe did charge");
    let pi = intents.iter().find(|pi| pi["metadata"]["payment_id"] == "pay_500_done").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        conn.retrieve("pay_500_done", None).await.unwrap(),
        PaymentStatus::Succeeded { provider_payment_id: pi.clone(), amount: eur(2500) }
    );
    let retried = conn.charge(&charge("pay_500_done", eur(2500), "pm_card_visa", None)).await.unwrap();
    assert_eq!(retried, ChargeOutcome::Succeeded { provider_payment_id: pi, fee_minor: None });
    assert_eq!(fake.objects("payment_intent").len(), 2);

    // A refund is a POST as well.
    let (cus, token) = saved_card(&fake, &conn).await;
    let paid = conn.charge(&charge("pay_refund500", eur(3000), &token, Some(cus))).await.unwrap();
    let ChargeOutcome::Succeeded { provider_payment_id, .. } = paid else { panic!("{paid:?}") };
    fake.fail_next(1, Fault::ServerErrorAfterExecuting);
    let request =
        RefundRequest { refund_id: "rf_500".to_string(), provider_payment_id, amount: eur(1000), reason: None };
    let err = conn.refund(&request).await.unwrap_err();
    assert!(matches!(err, ProviderError::Indeterminate { .. }), "{err:?}");
    let again = conn.refund(&request).await.unwrap();
    assert!(matches!(again, RefundOutcome::Succeeded { .. }), "{again:?}");
    assert_eq!(fake.objects("refund").len(), 1, "the retry replayed the refund");
    assert_clean(&fake);
}

#[tokio::test]
async fn unavailable_rate_limited_and_unreachable_may_fall_back() {
    let (fake, conn) = setup().await;
    fake.fail_next(1, Fault::ServiceUnavailable);
    let err = conn.charge(&charge("pay_503", eur(1000), "pm_card_visa", None)).await.unwrap_err();
    assert!(matches!(err, ProviderError::Unavailable { .. }), "{err:?}");
    assert!(err.may_fall_back() && !err.outcome_unknown());
    assert!(fake.objects("payment_intent").is_empty(), "nothing was charged");

    fake.fail_next(1, Fault::RateLimited);
    let err = conn.ensure_customer(&customer("cus_429")).await.unwrap_err();
    assert!(matches!(err, ProviderError::Unavailable { .. }), "{err:?}");
    assert!(err.may_fall_back());

    // A 500 to a read changed nothing.
    fake.fail_next(1, Fault::ServerError);
    let err = conn.retrieve("pay_503", None).await.unwrap_err();
    assert!(matches!(err, ProviderError::Unavailable { .. }), "{err:?}");

    // After the outage the same call goes through.
    let ok = conn.charge(&charge("pay_503", eur(1000), "pm_card_visa", None)).await.unwrap();
    assert!(matches!(ok, ChargeOutcome::Succeeded { .. }));

    // Nobody listening: the request was never sent.
    let mut cfg = config(&fake, Duration::from_secs(2));
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    cfg.api_base = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let offline = StripeConnector::new(cfg).unwrap();
    let err = offline.charge(&charge("pay_offline", eur(1000), "pm_card_visa", None)).await.unwrap_err();
    assert!(matches!(err, ProviderError::Unavailable { .. }), "{err:?}");
    assert!(err.may_fall_back());
    assert_clean(&fake);
}

/// A server that reads each request and closes the connection without an
/// answer: the request may have been carried out.
async fn hang_up_server() -> String {
    use tokio::io::AsyncReadExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buf = vec![0_u8; 16 * 1024];
            let _ = socket.read(&mut buf).await;
            drop(socket);
        }
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn a_connection_lost_after_sending_is_indeterminate_for_posts_only() {
    let fake = FakeStripe::start().await;
    let mut cfg = config(&fake, Duration::from_secs(5));
    cfg.api_base = hang_up_server().await;
    let conn = StripeConnector::new(cfg).unwrap();
    let err = conn.charge(&charge("pay_hangup", eur(1000), "pm_card_visa", None)).await.unwrap_err();
    assert!(matches!(err, ProviderError::Indeterminate { .. }), "{err:?}");
    assert!(err.outcome_unknown() && !err.may_fall_back());
    let err = conn.retrieve("pay_hangup", Some("pi_123")).await.unwrap_err();
    assert!(matches!(err, ProviderError::Unavailable { .. }), "{err:?}");
}

#[tokio::test]
async fn timeout_is_unknown_and_recovered_by_search() {
    let fake = FakeStripe::start().await;
    let conn = StripeConnector::new(config(&fake, Duration::from_millis(400))).unwrap();
    fake.fail_next(1, Fault::Stall(Duration::from_secs(3)));
    let err = conn.charge(&charge("pay_timeout", eur(2200), "pm_card_visa", None)).await.unwrap_err();
    assert!(matches!(err, ProviderError::Timeout { .. }), "{err:?}");
    assert!(err.outcome_unknown() && !err.may_fall_back());

    let created = fake.objects("payment_intent");
    assert_eq!(created.len(), 1, "Stripe did charge");
    let pi = created[0]["id"].as_str().unwrap().to_string();
    assert_eq!(
        conn.retrieve("pay_timeout", None).await.unwrap(),
        PaymentStatus::Succeeded { provider_payment_id: pi.clone(), amount: eur(2200) }
    );
    // Retrying the charge replays, it does not charge again.
    let retried = conn.charge(&charge("pay_timeout", eur(2200), "pm_card_visa", None)).await.unwrap();
    assert_eq!(retried, ChargeOutcome::Succeeded { provider_payment_id: pi, fee_minor: None });
    assert_eq!(fake.objects("payment_intent").len(), 1);

    assert_eq!(conn.retrieve("pay_never_sent", None).await.unwrap(), PaymentStatus::NotFound);
    assert_eq!(conn.retrieve("pay_x", Some("pi_doesnotexist")).await.unwrap(), PaymentStatus::NotFound);
    assert_clean(&fake);
}

#[tokio::test]
async fn a_wrong_key_is_an_auth_error() {
    let fake = FakeStripe::start().await;
    let mut cfg = config(&fake, Duration::from_secs(5));
    cfg.secret_key = "sk_test_wrong".to_string();
    let conn = StripeConnector::new(cfg).unwrap();
    let err = conn.ensure_customer(&customer("cus_01ada")).await.unwrap_err();
    assert!(matches!(err, ProviderError::Auth { .. }), "{err:?}");
    let err = conn.charge(&charge("pay_auth", eur(1000), "pm_card_visa", None)).await.unwrap_err();
    assert!(matches!(err, ProviderError::Auth { .. }), "{err:?}");
    assert!(!err.may_fall_back());
    assert!(fake.requests().iter().all(|r| r.status == 401));
    assert!(fake.objects("payment_intent").is_empty());
}
