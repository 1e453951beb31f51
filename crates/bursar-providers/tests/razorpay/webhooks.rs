//! Webhooks: verification, refusal of forged deliveries, acceptance of late
//! redeliveries, event
//! mapping and replay.

use super::*;

#[tokio::test]
async fn a_payment_webhook_is_verified_and_mapped() {
    let (fake, razorpay) = setup().await;
    let payment = paid(&fake, &razorpay, "pay_hook", inr(10_000)).await;
    let hook = fake.webhook("payment.captured", payment_payload(fake.payment(&payment).unwrap()), now());
    let event = razorpay.verify_webhook(&hook.headers, &hook.body, now()).await.unwrap();
    assert_eq!(event.event_id, hook.headers["x-razorpay-event-id"]);
    assert_eq!(event.event_type, "payment.captured");
    assert_eq!(
        event.kind,
        WebhookKind::PaymentSucceeded {
            payment_id: Some("pay_hook".into()),
            provider_payment_id: payment,
            amount: inr(10_000),
            method: None,
            provider_customer: None,
        }
    );
}

#[tokio::test]
async fn forged_tampered_and_incomplete_webhooks_are_refused() {
    let (fake, razorpay) = setup().await;
    let payment = paid(&fake, &razorpay, "pay_forge", inr(10_000)).await;
    let hook = fake.webhook("payment.captured", payment_payload(fake.payment(&payment).unwrap()), now());

    let mut forged = hook.headers.clone();
    forged.insert("x-razorpay-signature".into(), sign("guessed-secret", &hook.body));
    assert_eq!(razorpay.verify_webhook(&forged, &hook.body, now()).await.unwrap_err(), WebhookError::BadSignature);

    let tampered = String::from_utf8(hook.body.clone()).unwrap().replace("\"amount\":10000", "\"amount\":100000");
    assert_ne!(tampered.as_bytes(), hook.body.as_slice());
    assert_eq!(
        razorpay.verify_webhook(&hook.headers, tampered.as_bytes(), now()).await.unwrap_err(),
        WebhookError::BadSignature
    );

    let mut missing = hook.headers.clone();
    missing.remove("x-razorpay-signature");
    assert_eq!(razorpay.verify_webhook(&missing, &hook.body, now()).await.unwrap_err(), WebhookError::MissingSignature);
    let mut malformed = hook.headers.clone();
    malformed.insert("x-razorpay-signature".into(), "not-hex".into());
    assert_eq!(
        razorpay.verify_webhook(&malformed, &hook.body, now()).await.unwrap_err(),
        WebhookError::MalformedSignature
    );
    let mut no_id = hook.headers.clone();
    no_id.remove("x-razorpay-event-id");
    assert!(matches!(
        razorpay.verify_webhook(&no_id, &hook.body, now()).await.unwrap_err(),
        WebhookError::BadPayload(_)
    ));

    assert!(razorpay.verify_webhook(&hook.headers, &hook.body, now()).await.is_ok());
}

#[tokio::test]
async fn other_events_are_mapped() {
    let (fake, razorpay) = setup().await;
    let customer_id = fake.add_customer("Ada Learner", "learner@example.com", "+919876543210");
    let request = CheckoutRequest {
        save_method: true,
        provider_customer: Some(customer_id.clone()),
        ..checkout("pay_ev", inr(20_000))
    };
    let session = razorpay.create_checkout(&request).await.unwrap();
    let params = fake.pay_order(&session.provider_ref, TestCard::VISA.saved());
    razorpay.complete_checkout(&session, &params).await.unwrap();
    let payment_id = params["razorpay_payment_id"].clone();
    let payment = fake.payment(&payment_id).unwrap();

    // order.paid names Bursar's payment through the order's receipt.
    let mut payload = payment_payload(payment.clone());
    payload["order"] = json!({ "entity": fake.order(&session.provider_ref).unwrap() });
    payload["payment"]["entity"]["notes"] = json!([]);
    let hook = fake.webhook("order.paid", payload, now());
    let event = razorpay.verify_webhook(&hook.headers, &hook.body, now()).await.unwrap();
    let WebhookKind::PaymentSucceeded { payment_id: ours, method, provider_customer, .. } = event.kind else {
        panic!("{:?}", event.kind)
    };
    assert_eq!(ours.as_deref(), Some("pay_ev"));
    assert!(method.is_some_and(|m| m.token.starts_with("token_") && m.last4.as_deref() == Some("1111")));
    assert_eq!(provider_customer.as_deref(), Some(customer_id.as_str()));

    let RefundOutcome::Succeeded { provider_refund_id } =
        razorpay.refund(&refund("ref_ev", &payment_id, inr(5_000))).await.unwrap()
    else {
        panic!("refund failed")
    };
    let mut payload = json!({ "refund": { "entity": fake.refund(&provider_refund_id).unwrap() } });
    payload["payment"] = json!({ "entity": fake.payment(&payment_id).unwrap() });
    let hook = fake.webhook("refund.processed", payload, now());
    let event = razorpay.verify_webhook(&hook.headers, &hook.body, now()).await.unwrap();
    assert_eq!(
        event.kind,
        WebhookKind::RefundSucceeded {
            refund_id: Some("ref_ev".into()),
            provider_payment_id: payment_id.clone(),
            provider_refund_id,
            amount: inr(5_000),
        }
    );

    let mut failed: Value = payment.clone();
    failed["status"] = json!("failed");
    failed["error_reason"] = json!("card_expired");
    failed["error_description"] = json!("The card has expired");
    let hook = fake.webhook("payment.failed", payment_payload(failed), now());
    let event = razorpay.verify_webhook(&hook.headers, &hook.body, now()).await.unwrap();
    assert_eq!(
        event.kind,
        WebhookKind::PaymentFailed {
            payment_id: Some("pay_ev".into()),
            provider_payment_id: payment_id.clone(),
            code: "expired_card".into(),
            message: "The card has expired".into(),
        }
    );

    let dispute = json!({ "dispute": { "entity": {
        "id": "disp_AHfqOvkldwsbqt", "entity": "dispute", "payment_id": payment_id, "amount": 20_000,
        "currency": "INR", "amount_deducted": 0, "reason_code": "chargeback_fraud", "status": "open",
        "phase": "chargeback", "created_at": now().as_second(),
    }}});
    let hook = fake.webhook("payment.dispute.created", dispute, now());
    let event = razorpay.verify_webhook(&hook.headers, &hook.body, now()).await.unwrap();
    assert_eq!(
        event.kind,
        WebhookKind::DisputeOpened {
            provider_payment_id: payment_id,
            amount: inr(20_000),
            reason: "chargeback_fraud".into()
        }
    );

    let hook = fake.webhook("settlement.processed", json!({ "settlement": { "entity": { "id": "setl_1" } } }), now());
    let event = razorpay.verify_webhook(&hook.headers, &hook.body, now()).await.unwrap();
    assert_eq!((event.kind, event.event_type.as_str()), (WebhookKind::Other, "settlement.processed"));
}

/// The event id `parse_webhook` gives a Razorpay body: `sha256:` and the hex
/// SHA-256 of the body.
fn replay_id(body: &[u8]) -> String {
    use sha2::Digest;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(body)))
}

/// Verifies a delivery, then replays its body alone: both give the same
/// event, except for the id, which only the delivery's header carried.
async fn verified_then_replayed(razorpay: &RazorpayConnector, hook: &SignedWebhook) -> WebhookEvent {
    let verified = razorpay.verify_webhook(&hook.headers, &hook.body, now()).await.expect("verified");
    assert_eq!(verified.event_id, hook.headers["x-razorpay-event-id"]);
    let replayed = razorpay.parse_webhook(&hook.body).await.expect("replayed");
    assert_eq!(
        replayed,
        WebhookEvent { event_id: replay_id(&hook.body), ..verified.clone() },
        "{}",
        verified.event_type
    );
    verified
}

#[tokio::test]
async fn a_stored_webhook_replays_as_the_event_it_was_verified_as() {
    let (fake, razorpay) = setup().await;
    let customer_id = fake.add_customer("Ada Learner", "learner@example.com", "+919876543210");
    let request = CheckoutRequest {
        save_method: true,
        provider_customer: Some(customer_id.clone()),
        ..checkout("pay_replay", inr(20_000))
    };
    let session = razorpay.create_checkout(&request).await.unwrap();
    let params = fake.pay_order(&session.provider_ref, TestCard::VISA.saved());
    razorpay.complete_checkout(&session, &params).await.unwrap();
    let payment_id = params["razorpay_payment_id"].clone();
    let payment = fake.payment(&payment_id).unwrap();

    let hook = fake.webhook("payment.captured", payment_payload(payment.clone()), now());
    let event = verified_then_replayed(&razorpay, &hook).await;
    let WebhookKind::PaymentSucceeded { payment_id: ours, method, provider_customer, .. } = event.kind else {
        panic!("{:?}", event.kind)
    };
    assert_eq!(ours.as_deref(), Some("pay_replay"));
    assert!(method.is_some_and(|m| m.token.starts_with("token_")));
    assert_eq!(provider_customer.as_deref(), Some(customer_id.as_str()));

    let mut payload = payment_payload(payment.clone());
    payload["order"] = json!({ "entity": fake.order(&session.provider_ref).unwrap() });
    let event = verified_then_replayed(&razorpay, &fake.webhook("order.paid", payload, now())).await;
    assert!(matches!(event.kind, WebhookKind::PaymentSucceeded { .. }), "{event:?}");

    let mut failed: Value = payment.clone();
    failed["status"] = json!("failed");
    failed["error_reason"] = json!("card_expired");
    failed["error_description"] = json!("The card has expired");
    let event =
        verified_then_replayed(&razorpay, &fake.webhook("payment.failed", payment_payload(failed), now())).await;
    assert!(matches!(&event.kind, WebhookKind::PaymentFailed { code, .. } if code == "expired_card"), "{event:?}");

    let RefundOutcome::Succeeded { provider_refund_id } =
        razorpay.refund(&refund("ref_replay", &payment_id, inr(5_000))).await.unwrap()
    else {
        panic!("refund failed")
    };
    let payload = json!({ "refund": { "entity": fake.refund(&provider_refund_id).unwrap() } });
    let event = verified_then_replayed(&razorpay, &fake.webhook("refund.processed", payload, now())).await;
    assert_eq!(
        event.kind,
        WebhookKind::RefundSucceeded {
            refund_id: Some("ref_replay".into()),
            provider_payment_id: payment_id.clone(),
            provider_refund_id,
            amount: inr(5_000),
        }
    );

    let dispute = json!({ "dispute": { "entity": {
        "id": "disp_Replay0000001", "entity": "dispute", "payment_id": payment_id, "amount": 20_000,
        "currency": "INR", "reason_code": "chargeback_fraud", "status": "open", "created_at": now().as_second(),
    }}});
    let event = verified_then_replayed(&razorpay, &fake.webhook("payment.dispute.created", dispute, now())).await;
    assert!(matches!(event.kind, WebhookKind::DisputeOpened { .. }), "{event:?}");

    let hook = fake.webhook("settlement.processed", json!({ "settlement": { "entity": { "id": "setl_1" } } }), now());
    assert_eq!(verified_then_replayed(&razorpay, &hook).await.kind, WebhookKind::Other);
}

#[tokio::test]
async fn the_replayed_event_id_depends_on_the_body_only() {
    let (fake, razorpay) = setup().await;
    let payment = paid(&fake, &razorpay, "pay_replay_id", inr(10_000)).await;
    let at = now();
    let first = fake.webhook("payment.captured", payment_payload(fake.payment(&payment).unwrap()), at);
    let again = fake.webhook("payment.captured", payment_payload(fake.payment(&payment).unwrap()), at);
    assert_eq!(first.body, again.body);
    assert_ne!(first.headers["x-razorpay-event-id"], again.headers["x-razorpay-event-id"]);
    let replayed = razorpay.parse_webhook(&first.body).await.unwrap();
    assert_eq!(replayed.event_id, replay_id(&first.body));
    assert!(replayed.event_id.starts_with("sha256:") && replayed.event_id.len() == "sha256:".len() + 64);
    assert_eq!(razorpay.parse_webhook(&again.body).await.unwrap(), replayed);

    let later = fake.webhook(
        "payment.captured",
        payment_payload(fake.payment(&payment).unwrap()),
        at + jiff::SignedDuration::from_secs(1),
    );
    assert_ne!(razorpay.parse_webhook(&later.body).await.unwrap().event_id, replayed.event_id);
}

#[tokio::test]
async fn replaying_a_body_that_is_no_event_is_a_bad_payload() {
    let (_fake, razorpay) = setup().await;
    let bodies: [&[u8]; 8] = [
        b"",
        b"not json",
        b"\xff\xfe\x00",
        b"[1, 2]",
        b"{\"hello\": 1}",
        // An event without its creation time.
        br#"{"entity": "event", "event": "payment.captured", "payload": {}}"#,
        // An event without its name.
        br#"{"entity": "event", "payload": {}, "created_at": 1700000000}"#,
        // A payment event without the payment.
        br#"{"entity": "event", "event": "payment.captured", "payload": {}, "created_at": 1700000000}"#,
    ];
    for body in bodies {
        let err = razorpay.parse_webhook(body).await.unwrap_err();
        assert!(matches!(err, WebhookError::BadPayload(_)), "{:?}: {err:?}", String::from_utf8_lossy(body));
    }
}

#[tokio::test]
async fn an_old_delivery_that_once_verified_still_replays() {
    let (fake, razorpay) = setup().await;
    let payment = paid(&fake, &razorpay, "pay_replay_old", inr(10_000)).await;
    let sent = jiff::Timestamp::from_second((now() - jiff::SignedDuration::from_hours(24 * 40)).as_second()).unwrap();
    let hook = fake.webhook("payment.captured", payment_payload(fake.payment(&payment).unwrap()), sent);
    let on_receipt = razorpay.verify_webhook(&hook.headers, &hook.body, sent).await.expect("valid when it arrived");

    let replayed = razorpay.parse_webhook(&hook.body).await.expect("replays");
    assert_eq!(replayed, WebhookEvent { event_id: replay_id(&hook.body), ..on_receipt });
    assert_eq!(replayed.created, sent);
    assert_eq!(
        replayed.kind,
        WebhookKind::PaymentSucceeded {
            payment_id: Some("pay_replay_old".into()),
            provider_payment_id: payment,
            amount: inr(10_000),
            method: None,
            provider_customer: None,
        }
    );
}

/// Razorpay's signature covers no timestamp, and Razorpay redelivers a
/// failed webhook with its original body for up to 24 hours: an authentic
/// event is accepted whatever its age, with the same event id each time.
#[tokio::test]
async fn authentic_redeliveries_are_accepted_at_any_age() {
    let (fake, razorpay) = setup().await;
    let payment = paid(&fake, &razorpay, "pay_late", inr(10_000)).await;
    for age in [
        jiff::SignedDuration::from_hours(1),
        jiff::SignedDuration::from_hours(23),
        -jiff::SignedDuration::from_mins(20),
    ] {
        let sent = jiff::Timestamp::from_second((now() - age).as_second()).unwrap();
        let hook = fake.webhook("payment.captured", payment_payload(fake.payment(&payment).unwrap()), sent);
        let event =
            razorpay.verify_webhook(&hook.headers, &hook.body, now()).await.expect("an authentic late delivery");
        assert_eq!(event.event_id, hook.headers["x-razorpay-event-id"]);
        assert_eq!(event.created, sent);
        assert!(
            matches!(event.kind, WebhookKind::PaymentSucceeded { ref provider_payment_id, .. } if *provider_payment_id == payment)
        );
        // Its age does not make a forgery pass.
        let mut forged = hook.headers.clone();
        forged.insert("x-razorpay-signature".into(), sign("guessed-secret", &hook.body));
        assert_eq!(razorpay.verify_webhook(&forged, &hook.body, now()).await.unwrap_err(), WebhookError::BadSignature);
    }
}
