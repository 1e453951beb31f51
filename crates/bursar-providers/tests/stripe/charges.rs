//! Off-session charges.

use super::*;

#[tokio::test]
async fn off_session_charge_succeeds() {
    let (fake, conn) = setup().await;
    let (cus, pm) = saved_card(&fake, &conn).await;
    let outcome = conn.charge(&charge("pay_renew1", eur(4900), &pm, Some(cus.clone()))).await.unwrap();
    let ChargeOutcome::Succeeded { provider_payment_id, .. } = outcome else { panic!("{outcome:?}") };
    let pi = fake.object(&provider_payment_id).unwrap();
    assert_eq!(pi["object"], "payment_intent");
    assert_eq!(pi["status"], "succeeded");
    assert_eq!(pi["amount"], 4900);
    assert_eq!(pi["currency"], "eur");
    assert_eq!(pi["customer"], cus.as_str());
    assert_eq!(pi["payment_method"], pm.as_str());
    assert_eq!(pi["metadata"]["payment_id"], "pay_renew1");
    let sent = fake.requests().into_iter().rfind(|r| r.path == "/v1/payment_intents").unwrap();
    let has = |k: &str, v: &str| sent.params.iter().any(|(a, b)| a == k && b == v);
    assert!(has("off_session", "true") && has("confirm", "true"));
    assert_eq!(sent.idempotency_key.as_deref(), Some("bursar-pay_renew1-charge"));
    assert_eq!(
        conn.retrieve("pay_renew1", Some(&provider_payment_id)).await.unwrap(),
        PaymentStatus::Succeeded { provider_payment_id, amount: eur(4900) }
    );
    assert_clean(&fake);
}

#[tokio::test]
async fn declines_map_to_stripe_codes() {
    let (fake, conn) = setup().await;
    let cases = [
        ("pm_card_chargeDeclined", "card_declined"),
        ("pm_card_chargeDeclinedInsufficientFunds", "insufficient_funds"),
        ("pm_card_chargeDeclinedExpiredCard", "expired_card"),
        ("pm_card_authenticationRequired", "authentication_required"),
    ];
    for (i, (token, expected)) in cases.iter().enumerate() {
        let pid = format!("pay_decline{i}");
        let outcome = conn.charge(&charge(&pid, eur(2500), token, None)).await.unwrap();
        let ChargeOutcome::Declined { provider_payment_id, code, message } = outcome else {
            panic!("{token}: {outcome:?}")
        };
        assert_eq!(code, *expected, "{token}");
        assert!(!message.is_empty());
        let pi = fake.object(provider_payment_id.as_deref().expect("the intent is named")).unwrap();
        assert_eq!(pi["status"], "requires_payment_method", "{token}");
        assert_eq!(
            conn.retrieve(&pid, None).await.unwrap(),
            PaymentStatus::Failed { provider_payment_id: provider_payment_id.unwrap(), code: expected.to_string() }
        );
    }
    assert_clean(&fake);
}

#[tokio::test]
async fn requires_action_carries_the_redirect() {
    let (fake, conn) = setup().await;
    fake.set_off_session_requires_action(true);
    let outcome = conn.charge(&charge("pay_3ds", eur(2500), "pm_card_authenticationRequired", None)).await.unwrap();
    let ChargeOutcome::RequiresAction { provider_payment_id, redirect_url } = outcome else { panic!("{outcome:?}") };
    let url = redirect_url.expect("a redirect");
    assert!(url.starts_with(fake.base_url()) && url.ends_with(&provider_payment_id), "{url}");
    assert_eq!(
        conn.retrieve("pay_3ds", Some(&provider_payment_id)).await.unwrap(),
        PaymentStatus::Pending { provider_payment_id }
    );
    assert_clean(&fake);
}

#[tokio::test]
async fn processing_payment_succeeds_later() {
    let (fake, conn) = setup().await;
    let outcome = conn.charge(&charge("pay_slow", eur(1200), "pm_card_processing", None)).await.unwrap();
    let ChargeOutcome::Processing { provider_payment_id } = outcome else { panic!("{outcome:?}") };
    assert_eq!(
        conn.retrieve("pay_slow", Some(&provider_payment_id)).await.unwrap(),
        PaymentStatus::Pending { provider_payment_id: provider_payment_id.clone() }
    );
    assert_eq!(fake.settle_processing(), vec![provider_payment_id.clone()]);
    assert_eq!(
        conn.retrieve("pay_slow", Some(&provider_payment_id)).await.unwrap(),
        PaymentStatus::Succeeded { provider_payment_id: provider_payment_id.clone(), amount: eur(1200) }
    );
    assert_eq!(
        conn.retrieve("pay_slow", None).await.unwrap(),
        PaymentStatus::Succeeded { provider_payment_id, amount: eur(1200) },
        "found by metadata search too"
    );
    assert_clean(&fake);
}

#[tokio::test]
async fn retry_with_the_same_payment_id_does_not_charge_twice() {
    let (fake, conn) = setup().await;
    let req = charge("pay_retry", eur(3000), "pm_card_visa", None);
    let first = conn.charge(&req).await.unwrap();
    let second = conn.charge(&req).await.unwrap();
    assert_eq!(first, second);
    assert_eq!(fake.objects("payment_intent").len(), 1, "one PaymentIntent");
    assert_eq!(fake.request_count("POST", "/v1/payment_intents"), 2);
    assert!(fake.requests().last().unwrap().replayed, "the second answer is a replay");

    // A decline replays as a decline, without a second attempt.
    let declined = charge("pay_retry_declined", eur(3000), "pm_card_chargeDeclined", None);
    let a = conn.charge(&declined).await.unwrap();
    let b = conn.charge(&declined).await.unwrap();
    assert_eq!(a, b);
    assert_eq!(fake.objects("payment_intent").len(), 2);

    // Reusing the payment id for a different charge is a bug: refused.
    let err = conn.charge(&charge("pay_retry", eur(3100), "pm_card_visa", None)).await.unwrap_err();
    match err {
        ProviderError::Rejected { status, message, .. } => {
            assert_eq!(status, 400);
            assert!(message.contains("same parameters"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(fake.objects("payment_intent").len(), 2);
    assert_clean(&fake);
}
