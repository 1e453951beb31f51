//! Webhooks: signatures, secret rotation, event mapping and delivery over
//! HTTP.

use super::*;

fn hook_headers(sig: &str) -> Headers {
    let mut h = Headers::new();
    h.insert("stripe-signature".to_string(), sig.to_string());
    h
}

#[tokio::test]
async fn webhook_signatures_are_verified() {
    let (fake, conn) = setup().await;
    let hook = fake.event("customer.created", json!({"id": "cus_x", "object": "customer"}));
    let event = conn.verify_webhook(&hook.headers, &hook.body, now()).await.expect("valid");
    assert_eq!(event.event_id, hook.event_id);
    assert_eq!(event.event_type, "customer.created");
    assert_eq!(event.kind, WebhookKind::Other);
    assert_eq!(event.created.as_second(), hook.timestamp);

    let t = now().as_second();
    let body = hook.body.clone();
    let good = sign_webhook(fake.webhook_secret(), t, &body);
    let good_v1 = good.split_once(",v1=").unwrap().1.to_string();
    let verify = |sig: String, body: Vec<u8>| {
        let conn = &conn;
        async move { conn.verify_webhook(&hook_headers(&sig), &body, now()).await.map(|e| e.event_id) }
    };

    // Several v1 entries and a v0: one match is enough.
    let forged = "a".repeat(64);
    let several = format!("t={t},v1={forged},v1={good_v1},v0={forged}");
    assert_eq!(verify(several, body.clone()).await, Ok(hook.event_id.clone()));

    // Forged, wrong secret, tampered body.
    assert_eq!(verify(format!("t={t},v1={forged}"), body.clone()).await, Err(WebhookError::BadSignature));
    let other_secret = sign_webhook("whsec_someone_else", t, &body);
    assert_eq!(verify(other_secret, body.clone()).await, Err(WebhookError::BadSignature));
    let mut tampered = body.clone();
    let pos = tampered.iter().position(|b| *b == b'x').unwrap();
    tampered[pos] = b'y';
    assert_eq!(verify(good.clone(), tampered).await, Err(WebhookError::BadSignature));
    // Only a v0 signature: not our scheme.
    assert_eq!(verify(format!("t={t},v0={good_v1}"), body.clone()).await, Err(WebhookError::BadSignature));

    // Time: 300 s tolerance both ways.
    let at = |secs: i64| sign_webhook(fake.webhook_secret(), t + secs, &body);
    assert_eq!(verify(at(-290), body.clone()).await, Ok(hook.event_id.clone()));
    assert_eq!(verify(at(290), body.clone()).await, Ok(hook.event_id.clone()));
    assert_eq!(verify(at(-310), body.clone()).await, Err(WebhookError::Stale));
    assert_eq!(verify(at(310), body.clone()).await, Err(WebhookError::Stale));
    // A forged stale header is a bad signature first.
    assert_eq!(verify(format!("t={},v1={forged}", t - 1000), body.clone()).await, Err(WebhookError::BadSignature));

    // Missing and malformed headers.
    let err = conn.verify_webhook(&Headers::new(), &body, now()).await.unwrap_err();
    assert_eq!(err, WebhookError::MissingSignature);
    for bad in [
        "garbage",
        &format!("v1={good_v1}"),
        &format!("t=soon,v1={good_v1}"),
        "",
        &format!("t={t},t={},v1={good_v1}", t + 1),
    ] {
        assert_eq!(verify(bad.to_string(), body.clone()).await, Err(WebhookError::MalformedSignature), "{bad:?}");
    }

    // Signed but not an event.
    let junk = b"{\"hello\": 1}".to_vec();
    let sig = sign_webhook(fake.webhook_secret(), t, &junk);
    assert!(matches!(verify(sig, junk).await, Err(WebhookError::BadPayload(_))));
}

#[tokio::test]
async fn webhook_secrets_rotate() {
    let fake = FakeStripe::start().await;
    let mut cfg = config(&fake, Duration::from_secs(5));
    cfg.webhook_secrets = vec!["whsec_new_secret".to_string(), fake.webhook_secret().to_string()];
    let conn = StripeConnector::new(cfg).unwrap();
    let t = now().as_second();
    let old = fake.event_signed("customer.updated", json!({"id": "cus_x"}), t, fake.webhook_secret());
    let new = fake.event_signed("customer.updated", json!({"id": "cus_x"}), t, "whsec_new_secret");
    let retired = fake.event_signed("customer.updated", json!({"id": "cus_x"}), t, "whsec_retired");
    assert!(conn.verify_webhook(&old.headers, &old.body, now()).await.is_ok());
    assert!(conn.verify_webhook(&new.headers, &new.body, now()).await.is_ok());
    assert_eq!(
        conn.verify_webhook(&retired.headers, &retired.body, now()).await.unwrap_err(),
        WebhookError::BadSignature
    );
    // During rotation Stripe signs with both: one header, two v1 entries.
    let both = format!(
        "{},v1={}",
        sign_webhook("whsec_retired", t, &old.body),
        sign_webhook("whsec_new_secret", t, &old.body).split_once(",v1=").unwrap().1
    );
    assert!(conn.verify_webhook(&hook_headers(&both), &old.body, now()).await.is_ok());
    // No secret configured: nothing verifies.
    let mut cfg = config(&fake, Duration::from_secs(5));
    cfg.webhook_secrets.clear();
    let none = StripeConnector::new(cfg).unwrap();
    assert_eq!(none.verify_webhook(&old.headers, &old.body, now()).await.unwrap_err(), WebhookError::BadSignature);
}

#[tokio::test]
async fn webhook_events_map_onto_bursar_events() {
    let (fake, conn) = setup().await;
    let verify = |hook: bursar_providers::testkit::stripe::SignedWebhook| {
        let conn = &conn;
        async move { conn.verify_webhook(&hook.headers, &hook.body, now()).await.expect("verified").kind }
    };
    let (cus, pm) = saved_card(&fake, &conn).await;

    // payment_intent.succeeded, unexpanded as Stripe sends it.
    let ChargeOutcome::Succeeded { provider_payment_id: pi, .. } =
        conn.charge(&charge("pay_hook", eur(4900), &pm, Some(cus.clone()))).await.unwrap()
    else {
        panic!()
    };
    let kind = verify(fake.intent_event("payment_intent.succeeded", &pi)).await;
    assert_eq!(
        kind,
        WebhookKind::PaymentSucceeded {
            payment_id: Some("pay_hook".to_string()),
            provider_payment_id: pi.clone(),
            amount: eur(4900),
            method: None,
            provider_customer: Some(cus.clone()),
        }
    );

    // With the payment method expanded: its card details.
    let mut obj = fake.object(&pi).unwrap();
    obj["payment_method"] = fake.object(&pm).unwrap();
    let WebhookKind::PaymentSucceeded { method, .. } = verify(fake.event("payment_intent.succeeded", obj)).await else {
        panic!()
    };
    let method = method.expect("details");
    assert_eq!(
        (method.token.as_str(), method.brand.as_deref(), method.last4.as_deref()),
        (pm.as_str(), Some("visa"), Some("4242"))
    );

    // With the latest charge expanded: the charge's card details.
    let mut obj = fake.object(&pi).unwrap();
    obj["setup_future_usage"] = json!("off_session");
    obj["latest_charge"] = fake.object(obj["latest_charge"].as_str().unwrap()).unwrap();
    let WebhookKind::PaymentSucceeded { method, .. } = verify(fake.event("payment_intent.succeeded", obj)).await else {
        panic!()
    };
    assert_eq!(method.unwrap().exp_year, Some(TEST_CARD_EXP.1));

    // checkout.session.completed: paid → success, payment id from the reference.
    let session = conn.create_checkout(&checkout("pay_cs_hook", eur(1900), false, None)).await.unwrap();
    let unpaid = verify(fake.session_event("checkout.session.completed", &session.provider_ref)).await;
    assert_eq!(unpaid, WebhookKind::Other, "not paid yet");
    let cs_pi = fake.pay_checkout(&session.provider_ref, "pm_card_visa").unwrap();
    let kind = verify(fake.session_event("checkout.session.completed", &session.provider_ref)).await;
    let WebhookKind::PaymentSucceeded { payment_id, provider_payment_id, amount, .. } = kind else {
        panic!("{kind:?}")
    };
    assert_eq!(payment_id.as_deref(), Some("pay_cs_hook"));
    assert_eq!(provider_payment_id, cs_pi);
    assert_eq!(amount, eur(1900));

    // payment_intent.payment_failed.
    let ChargeOutcome::Declined { provider_payment_id: Some(failed), .. } =
        conn.charge(&charge("pay_hook_fail", eur(900), "pm_card_chargeDeclinedInsufficientFunds", None)).await.unwrap()
    else {
        panic!()
    };
    let kind = verify(fake.intent_event("payment_intent.payment_failed", &failed)).await;
    let WebhookKind::PaymentFailed { payment_id, provider_payment_id, code, message } = kind else {
        panic!("{kind:?}")
    };
    assert_eq!(payment_id.as_deref(), Some("pay_hook_fail"));
    assert_eq!(provider_payment_id, failed);
    assert_eq!(code, "insufficient_funds");
    assert_eq!(message, "Your card has insufficient funds.");

    // Refunds: refund.created / refund.updated / charge.refunded.
    let RefundOutcome::Succeeded { provider_refund_id: re } = conn
        .refund(&RefundRequest {
            refund_id: "rf_hook".to_string(),
            provider_payment_id: pi.clone(),
            amount: eur(900),
            reason: None,
        })
        .await
        .unwrap()
    else {
        panic!()
    };
    let expected = WebhookKind::RefundSucceeded {
        refund_id: Some("rf_hook".to_string()),
        provider_payment_id: pi.clone(),
        provider_refund_id: re.clone(),
        amount: eur(900),
    };
    for t in ["refund.created", "refund.updated", "charge.refunded"] {
        assert_eq!(verify(fake.refund_event(t, &re)).await, expected, "{t}");
    }
    let mut pending = fake.object(&re).unwrap();
    pending["status"] = json!("pending");
    assert_eq!(verify(fake.event("refund.updated", pending)).await, WebhookKind::Other);

    // charge.dispute.created.
    let kind = verify(fake.dispute_event(&pi, "fraudulent")).await;
    assert_eq!(
        kind,
        WebhookKind::DisputeOpened {
            provider_payment_id: pi.clone(),
            amount: eur(4900),
            reason: "fraudulent".to_string()
        }
    );

    // Anything else.
    assert_eq!(verify(fake.intent_event("payment_intent.created", &pi)).await, WebhookKind::Other);
    assert_eq!(
        verify(fake.event("invoice.paid", json!({"id": "in_1", "object": "invoice"}))).await,
        WebhookKind::Other
    );
    assert_clean(&fake);
}

#[tokio::test]
async fn webhooks_can_be_delivered_over_http() {
    use std::sync::{Arc, Mutex};
    let fake = FakeStripe::start().await;
    type Seen = Arc<Mutex<Vec<(String, Vec<u8>)>>>;
    let seen: Seen = Arc::default();
    let sink = seen.clone();
    let router = axum::Router::new().route(
        "/hooks/stripe",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
            let sink = sink.clone();
            async move {
                let sig = headers.get("stripe-signature").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
                sink.lock().unwrap().push((sig, body.to_vec()));
                "ok"
            }
        }),
    );
    let base = bursar_providers::testkit::serve(router).await;
    let conn = StripeConnector::new(config(&fake, Duration::from_secs(5))).unwrap();
    let hook = fake.event("payment_intent.created", json!({"id": "pi_x", "object": "payment_intent"}));
    assert_eq!(fake.deliver(&format!("{base}/hooks/stripe"), &hook).await, Ok(200));
    let (sig, body) = seen.lock().unwrap().pop().expect("delivered");
    let event = conn.verify_webhook(&hook_headers(&sig), &body, now()).await.expect("verifies");
    assert_eq!(event.event_id, hook.event_id);
}
