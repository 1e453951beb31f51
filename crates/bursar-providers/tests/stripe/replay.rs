//! Replay of stored webhooks.

use super::*;

/// Verifies a delivery, then replays its body alone: both give the same event.
async fn verified_then_replayed(conn: &StripeConnector, hook: &SignedWebhook) -> WebhookEvent {
    let verified = conn.verify_webhook(&hook.headers, &hook.body, now()).await.expect("verified");
    let replayed = conn.parse_webhook(&hook.body).await.expect("replayed");
    assert_eq!(replayed, verified, "{}", verified.event_type);
    verified
}

#[tokio::test]
async fn a_stored_webhook_replays_as_the_event_it_was_verified_as() {
    let (fake, conn) = setup().await;
    let (cus, pm) = saved_card(&fake, &conn).await;

    let ChargeOutcome::Succeeded { provider_payment_id: pi, .. } =
        conn.charge(&charge("pay_replay", eur(4900), &pm, Some(cus.clone()))).await.unwrap()
    else {
        panic!()
    };
    let event = verified_then_replayed(&conn, &fake.intent_event("payment_intent.succeeded", &pi)).await;
    assert_eq!(event.event_type, "payment_intent.succeeded");
    assert_eq!(
        event.kind,
        WebhookKind::PaymentSucceeded {
            payment_id: Some("pay_replay".to_string()),
            provider_payment_id: pi.clone(),
            amount: eur(4900),
            method: None,
            provider_customer: Some(cus.clone()),
        }
    );

    // With the payment method expanded: the method is replayed too.
    let mut obj = fake.object(&pi).unwrap();
    obj["payment_method"] = fake.object(&pm).unwrap();
    let event = verified_then_replayed(&conn, &fake.event("payment_intent.succeeded", obj)).await;
    let WebhookKind::PaymentSucceeded { method: Some(method), .. } = event.kind else { panic!("{event:?}") };
    assert_eq!(method.token, pm);

    let session = conn.create_checkout(&checkout("pay_cs_replay", eur(1900), false, None)).await.unwrap();
    let cs_pi = fake.pay_checkout(&session.provider_ref, "pm_card_visa").unwrap();
    let hook = fake.session_event("checkout.session.completed", &session.provider_ref);
    let event = verified_then_replayed(&conn, &hook).await;
    let WebhookKind::PaymentSucceeded { payment_id, provider_payment_id, .. } = event.kind else { panic!("{event:?}") };
    assert_eq!((payment_id.as_deref(), provider_payment_id), (Some("pay_cs_replay"), cs_pi));

    let ChargeOutcome::Declined { provider_payment_id: Some(failed), .. } = conn
        .charge(&charge("pay_replay_fail", eur(900), "pm_card_chargeDeclinedInsufficientFunds", None))
        .await
        .unwrap()
    else {
        panic!()
    };
    let event = verified_then_replayed(&conn, &fake.intent_event("payment_intent.payment_failed", &failed)).await;
    assert!(
        matches!(&event.kind, WebhookKind::PaymentFailed { code, .. } if code == "insufficient_funds"),
        "{event:?}"
    );

    let RefundOutcome::Succeeded { provider_refund_id: re } = conn
        .refund(&RefundRequest {
            refund_id: "rf_replay".to_string(),
            provider_payment_id: pi.clone(),
            amount: eur(900),
            reason: None,
        })
        .await
        .unwrap()
    else {
        panic!()
    };
    for t in ["refund.created", "refund.updated", "charge.refunded"] {
        let event = verified_then_replayed(&conn, &fake.refund_event(t, &re)).await;
        assert_eq!(
            event.kind,
            WebhookKind::RefundSucceeded {
                refund_id: Some("rf_replay".to_string()),
                provider_payment_id: pi.clone(),
                provider_refund_id: re.clone(),
                amount: eur(900),
            },
            "{t}"
        );
    }

    let event = verified_then_replayed(&conn, &fake.dispute_event(&pi, "fraudulent")).await;
    assert!(matches!(event.kind, WebhookKind::DisputeOpened { .. }), "{event:?}");

    let event =
        verified_then_replayed(&conn, &fake.event("invoice.paid", json!({"id": "in_1", "object": "invoice"}))).await;
    assert_eq!(event.kind, WebhookKind::Other);
    assert_clean(&fake);
}

#[tokio::test]
async fn replaying_a_body_that_is_no_event_is_a_bad_payload() {
    let (_fake, conn) = setup().await;
    let bodies: [&[u8]; 7] = [
        b"",
        b"not json",
        b"\xff\xfe\x00",
        b"[1, 2]",
        b"{\"hello\": 1}",
        // An event without its creation time.
        br#"{"id": "evt_1", "type": "invoice.paid", "data": {"object": {}}}"#,
        // A payment event whose object names no payment.
        br#"{"id": "evt_1", "type": "payment_intent.succeeded", "created": 1700000000, "data": {"object": {}}}"#,
    ];
    for body in bodies {
        let err = conn.parse_webhook(body).await.unwrap_err();
        assert!(matches!(err, WebhookError::BadPayload(_)), "{:?}: {err:?}", String::from_utf8_lossy(body));
    }
}

#[tokio::test]
async fn a_stale_delivery_that_once_verified_still_replays() {
    let (fake, conn) = setup().await;
    let sent = now() - jiff::SignedDuration::from_hours(24 * 40);
    let intent = json!({
        "id": "pi_old", "object": "payment_intent", "amount": 4900, "amount_received": 4900, "currency": "eur",
        "status": "succeeded", "customer": "cus_old", "metadata": {"payment_id": "pay_old"},
    });
    let hook = fake.event_signed("payment_intent.succeeded", intent, sent.as_second(), fake.webhook_secret());
    let on_receipt = conn.verify_webhook(&hook.headers, &hook.body, sent).await.expect("valid when it arrived");
    assert_eq!(conn.verify_webhook(&hook.headers, &hook.body, now()).await.unwrap_err(), WebhookError::Stale);

    let replayed = conn.parse_webhook(&hook.body).await.expect("replays");
    assert_eq!(replayed, on_receipt);
    assert_eq!((replayed.event_id.as_str(), replayed.created.as_second()), (hook.event_id.as_str(), sent.as_second()));
    assert_eq!(
        replayed.kind,
        WebhookKind::PaymentSucceeded {
            payment_id: Some("pay_old".to_string()),
            provider_payment_id: "pi_old".to_string(),
            amount: eur(4900),
            method: None,
            provider_customer: Some("cus_old".to_string()),
        }
    );
    // Nor does the secret matter any more: a connector whose secret has
    // since been rotated away replays it all the same.
    let mut cfg = config(&fake, Duration::from_secs(5));
    cfg.webhook_secrets = vec!["whsec_rotated".to_string()];
    let rotated = StripeConnector::new(cfg).unwrap();
    assert_eq!(rotated.parse_webhook(&hook.body).await, Ok(on_receipt));
}
