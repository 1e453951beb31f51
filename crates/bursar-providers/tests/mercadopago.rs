//! The Mercado Pago connector against the local Mercado Pago double.

use std::collections::BTreeMap;
use std::time::Duration;

use bursar_providers::mercadopago::{
    mercadopago_amount, parse_mercadopago_amount, sign_manifest, verify_signature, webhook_manifest, MercadoPagoConfig,
    MercadoPagoConnector,
};
use bursar_providers::testkit::mercadopago::{FakeMercadoPago, TestCard, ACCESS_TOKEN, WEBHOOK_SECRET};
use bursar_providers::{
    ChargeOutcome, ChargeRequest, CheckoutRequest, Connector, CustomerInfo, Money, PaymentStatus, ProviderError,
    ProviderKind, RefundOutcome, RefundRequest, WebhookError, WebhookKind,
};
use serde_json::json;

fn customer() -> CustomerInfo {
    CustomerInfo {
        customer_id: "cus_01".into(),
        email: Some("aluna@example.com".into()),
        name: Some("Ana Aluna".into()),
        country: Some("BR".into()),
        phone: None,
    }
}

fn brl(minor: i64) -> Money {
    Money::new(minor, "BRL")
}

fn checkout(payment_id: &str, amount: Money) -> CheckoutRequest {
    CheckoutRequest {
        payment_id: payment_id.into(),
        amount,
        description: "Curso: Rust para educadores".into(),
        customer: customer(),
        provider_customer: None,
        save_method: false,
        success_url: "https://school.example/pay/done".into(),
        cancel_url: "https://school.example/pay/cancel".into(),
        metadata: BTreeMap::from([("plan".to_owned(), "annual".to_owned())]),
    }
}

fn refund(refund_id: &str, payment_id: &str, amount: Money) -> RefundRequest {
    RefundRequest { refund_id: refund_id.into(), provider_payment_id: payment_id.into(), amount, reason: None }
}

async fn setup() -> (FakeMercadoPago, MercadoPagoConnector) {
    let fake = FakeMercadoPago::start().await;
    let connector = MercadoPagoConnector::new(fake.config()).expect("connector");
    (fake, connector)
}

/// A checkout paid with `card`: the preference id and the return query.
async fn paid(
    fake: &FakeMercadoPago,
    mp: &MercadoPagoConnector,
    payment_id: &str,
    amount: Money,
    card: TestCard,
) -> (String, BTreeMap<String, String>) {
    let session = mp.create_checkout(&checkout(payment_id, amount)).await.unwrap();
    let query = fake.pay_preference(&session.provider_ref, card);
    (session.provider_ref, query)
}

fn now() -> jiff::Timestamp {
    jiff::Timestamp::now()
}

#[test]
fn amounts_take_mercado_pagos_decimals() {
    assert_eq!(mercadopago_amount(brl(1_999)).unwrap(), "19.99");
    assert_eq!(mercadopago_amount(brl(5)).unwrap(), "0.05");
    assert_eq!(mercadopago_amount(Money::new(1_000, "MXN")).unwrap(), "10.00");
    assert_eq!(mercadopago_amount(Money::new(12_345, "ARS")).unwrap(), "123.45");
    // CLP has no minor unit: 5,000 pesos.
    assert_eq!(mercadopago_amount(Money::new(5_000, "CLP")).unwrap(), "5000");
    // COP has two decimals in ISO 4217 but Mercado Pago takes whole pesos.
    assert_eq!(mercadopago_amount(Money::new(5_000_000, "COP")).unwrap(), "50000");
    let fraction = mercadopago_amount(Money::new(5_000_050, "COP")).unwrap_err();
    assert!(matches!(fraction, ProviderError::InvalidRequest { .. }), "{fraction:?}");
    for refused in [brl(0), brl(-100), Money::new(1_000, "INR"), Money::new(1_000, "CNY")] {
        assert!(matches!(mercadopago_amount(refused), Err(ProviderError::InvalidRequest { .. })), "{refused:?}");
    }

    assert_eq!(parse_mercadopago_amount("19.99", "BRL"), Some(brl(1_999)));
    assert_eq!(parse_mercadopago_amount("19.9", "BRL"), Some(brl(1_990)));
    assert_eq!(parse_mercadopago_amount("100.0", "BRL"), Some(brl(10_000)));
    assert_eq!(parse_mercadopago_amount("5000", "CLP"), Some(Money::new(5_000, "CLP")));
    assert_eq!(parse_mercadopago_amount("50000.0", "COP"), Some(Money::new(5_000_000, "COP")));
    for bad in ["1e3", "-1", "0.001", "", ".5", "1.2.3", "12a"] {
        assert_eq!(parse_mercadopago_amount(bad, "BRL"), None, "{bad}");
    }
    assert_eq!(parse_mercadopago_amount("10.5", "CLP"), None);
}

#[test]
fn the_signature_scheme_matches_independently_computed_values() {
    // Computed with `openssl dgst -sha256 -hmac mp-webhook-secret` over the
    // manifest text.
    let header = "ts=1742505638683,v1=9308bb68e84fd309cffdaa95cad6d4c7f31803408ad2cb83fac2bf8b6b8414ff";
    let request_id = "bb56a2f1-6aae-46ac-982e-9dcd3581d08e";
    assert_eq!(
        webhook_manifest(Some("123456789"), Some(request_id), Some("1742505638683")),
        format!("id:123456789;request-id:{request_id};ts:1742505638683;")
    );
    assert_eq!(
        verify_signature("mp-webhook-secret", header, Some("123456789"), Some(request_id)).unwrap(),
        "1742505638683"
    );
    assert_eq!(
        verify_signature("another-secret", header, Some("123456789"), Some(request_id)).unwrap_err(),
        WebhookError::BadSignature
    );
    assert_eq!(
        verify_signature("mp-webhook-secret", header, Some("123456780"), Some(request_id)).unwrap_err(),
        WebhookError::BadSignature
    );
    // Spaces and order of the parts do not matter.
    let reordered = "v1=9308bb68e84fd309cffdaa95cad6d4c7f31803408ad2cb83fac2bf8b6b8414ff, ts=1742505638683";
    assert!(verify_signature("mp-webhook-secret", reordered, Some("123456789"), Some(request_id)).is_ok());

    // An alphanumeric data.id is signed lower-cased, and a notification
    // without x-request-id signs `id:…;ts:…;` only (same openssl check).
    let expected = "9c0ed7057305bebdb9c5f2a978bef1d2cc5457a2696f01d7bab7083d833a979f";
    assert_eq!(
        sign_manifest("mp-webhook-secret", &webhook_manifest(Some("ABC123XYZ"), None, Some("1742505638683"))),
        expected
    );
    let header = format!("ts=1742505638683,v1={expected}");
    assert!(verify_signature("mp-webhook-secret", &header, Some("ABC123XYZ"), None).is_ok());
    assert!(verify_signature("mp-webhook-secret", &header, Some("ABC123XYZ"), Some("r-1")).is_err());

    for malformed in [
        "",
        "ts=1",
        "v1=abcd",
        "ts=x,v1=9308",
        "ts=1,v1=zz08bb68e84fd309cffdaa95cad6d4c7f31803408ad2cb83fac2bf8b6b8414ff",
    ] {
        assert_eq!(
            verify_signature("s", malformed, Some("1"), None).unwrap_err(),
            WebhookError::MalformedSignature,
            "{malformed}"
        );
    }
}

#[tokio::test]
async fn checkout_is_a_preference_whose_payment_is_read_back() {
    let (fake, mp) = setup().await;
    assert_eq!(mp.kind(), ProviderKind::MercadoPago);
    let session = mp.create_checkout(&checkout("pay_chk", brl(4_990))).await.unwrap();
    assert!(session.redirect_url.contains(&session.provider_ref), "{}", session.redirect_url);
    assert_eq!(session.client_params["external_reference"], "pay_chk");
    let preference = fake.preference(&session.provider_ref).unwrap();
    assert_eq!(preference["external_reference"], "pay_chk");
    assert_eq!(preference["items"][0]["unit_price"].to_string(), "49.9");
    assert_eq!(preference["items"][0]["currency_id"], "BRL");
    assert_eq!(preference["items"][0]["quantity"], 1);
    assert_eq!(preference["auto_return"], "approved");
    assert_eq!(preference["back_urls"]["success"], "https://school.example/pay/done");
    assert_eq!(preference["back_urls"]["failure"], "https://school.example/pay/cancel");
    assert_eq!(preference["notification_url"], "https://school.example/webhooks/mercadopago");
    assert_eq!(preference["metadata"]["payment_id"], "pay_chk");
    assert_eq!(preference["metadata"]["plan"], "annual");
    assert_eq!(preference["payer"]["email"], "aluna@example.com");

    let query = fake.pay_preference(&session.provider_ref, TestCard::Approves);
    let payment_id = query["payment_id"].clone();
    let (outcome, method) = mp.complete_checkout(&session, &query).await.unwrap();
    // 4.99 % of R$ 49.90 is R$ 2.49 (rounded down by the double).
    assert_eq!(outcome, ChargeOutcome::Succeeded { provider_payment_id: payment_id.clone(), fee_minor: Some(249) });
    assert_eq!(method, None, "Checkout Pro keeps no card for the merchant");

    // Without the return's parameters the payment is found by reference,
    // and by its own id.
    let (again, _) = mp.complete_checkout(&session, &BTreeMap::new()).await.unwrap();
    assert_eq!(again, outcome);
    let by_id = bursar_providers::CheckoutSession { provider_ref: payment_id.clone(), ..session.clone() };
    assert_eq!(mp.complete_checkout(&by_id, &BTreeMap::new()).await.unwrap().0, outcome);
    let succeeded = PaymentStatus::Succeeded { provider_payment_id: payment_id.clone(), amount: brl(4_990) };
    assert_eq!(mp.retrieve("pay_chk", None).await.unwrap(), succeeded);
    assert_eq!(mp.retrieve("pay_chk", Some(&payment_id)).await.unwrap(), succeeded);
    assert_eq!(mp.retrieve("pay_chk", Some(&session.provider_ref)).await.unwrap(), succeeded);
    assert_eq!(fake.writes_without_key(), 0);
}

#[tokio::test]
async fn whole_peso_currencies_go_out_without_decimals() {
    let (fake, mp) = setup().await;
    for (id, amount, text) in [
        ("pay_clp", Money::new(15_000, "CLP"), "15000"),
        ("pay_cop", Money::new(4_500_000, "COP"), "45000"),
        ("pay_mxn", Money::new(29_950, "MXN"), "299.5"),
    ] {
        let session = mp.create_checkout(&checkout(id, amount)).await.unwrap();
        let preference = fake.preference(&session.provider_ref).unwrap();
        assert_eq!(preference["items"][0]["unit_price"].to_string(), text, "{id}");
        let query = fake.pay_preference(&session.provider_ref, TestCard::Approves);
        let status = mp.retrieve(id, None).await.unwrap();
        assert_eq!(status, PaymentStatus::Succeeded { provider_payment_id: query["payment_id"].clone(), amount });
    }
    let err = mp.create_checkout(&checkout("pay_cop_cents", Money::new(4_500_050, "COP"))).await.unwrap_err();
    assert!(matches!(err, ProviderError::InvalidRequest { .. }), "{err:?}");
    assert_eq!(fake.preferences_created(), 3);

    // The double refuses what Mercado Pago refuses: decimals on a CLP price,
    // and any write without an idempotency key.
    let http = reqwest::Client::new();
    let body = json!({ "items": [{ "title": "x", "quantity": 1, "currency_id": "CLP", "unit_price": 10.5 }] });
    let url = format!("{}/checkout/preferences", fake.base_url());
    let resp = http
        .post(&url)
        .bearer_auth(ACCESS_TOKEN)
        .header("X-Idempotency-Key", "k-clp")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let resp = http.post(&url).bearer_auth(ACCESS_TOKEN).json(&body).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(fake.writes_without_key(), 1);
    assert_eq!(fake.preferences_created(), 3);
}

#[tokio::test]
async fn forged_or_foreign_returns_are_refused() {
    let (fake, mp) = setup().await;
    let (mine, _) = paid(&fake, &mp, "pay_mine", brl(1_000), TestCard::Insufficient).await;
    let (_, theirs) = paid(&fake, &mp, "pay_theirs", brl(1_000), TestCard::Approves).await;
    let session = bursar_providers::CheckoutSession {
        provider_ref: mine.clone(),
        redirect_url: String::new(),
        client_params: BTreeMap::new(),
    };
    // Another reference's approved payment does not complete this checkout.
    let mut forged = theirs.clone();
    forged.insert("preference_id".into(), mine.clone());
    let err = mp.complete_checkout(&session, &forged).await.unwrap_err();
    assert!(matches!(err, ProviderError::InvalidRequest { .. }), "{err:?}");
    // Nor does a return that names another preference, or a payment id
    // that is not one.
    assert!(mp.complete_checkout(&session, &theirs).await.is_err());
    let bad = BTreeMap::from([("payment_id".to_owned(), "1/../2".to_owned())]);
    assert!(matches!(mp.complete_checkout(&session, &bad).await, Err(ProviderError::InvalidRequest { .. })));
    // The declined payment of this checkout stays declined.
    let (outcome, _) = mp.complete_checkout(&session, &BTreeMap::new()).await.unwrap();
    let ChargeOutcome::Declined { code, .. } = outcome else { panic!("{outcome:?}") };
    assert_eq!(code, "insufficient_funds");
}

#[tokio::test]
async fn unpaid_declined_and_in_process_checkouts() {
    let (fake, mp) = setup().await;
    let session = mp.create_checkout(&checkout("pay_open", brl(1_000))).await.unwrap();
    let (outcome, _) = mp.complete_checkout(&session, &BTreeMap::new()).await.unwrap();
    assert_eq!(
        outcome,
        ChargeOutcome::RequiresAction {
            provider_payment_id: session.provider_ref.clone(),
            redirect_url: Some(session.redirect_url.clone())
        }
    );
    assert_eq!(
        mp.retrieve("pay_open", Some(&session.provider_ref)).await.unwrap(),
        PaymentStatus::Pending { provider_payment_id: session.provider_ref.clone() }
    );
    assert_eq!(mp.retrieve("pay_never", None).await.unwrap(), PaymentStatus::NotFound);
    assert_eq!(mp.retrieve("pay_never", Some("999999999")).await.unwrap(), PaymentStatus::NotFound);

    let (_, declined) = paid(&fake, &mp, "pay_decl", brl(1_000), TestCard::Insufficient).await;
    assert_eq!(
        mp.retrieve("pay_decl", None).await.unwrap(),
        PaymentStatus::Failed {
            provider_payment_id: declined["payment_id"].clone(),
            code: "insufficient_funds".into()
        }
    );

    let (preference, slow) = paid(&fake, &mp, "pay_slow", brl(1_000), TestCard::InProcess).await;
    let session = bursar_providers::CheckoutSession {
        provider_ref: preference,
        redirect_url: String::new(),
        client_params: BTreeMap::new(),
    };
    let (outcome, _) = mp.complete_checkout(&session, &slow).await.unwrap();
    assert_eq!(outcome, ChargeOutcome::Processing { provider_payment_id: slow["payment_id"].clone() });
    // A second attempt that succeeds speaks for the checkout.
    let retry = fake.pay_preference(&session.provider_ref, TestCard::Approves);
    let (outcome, _) = mp.complete_checkout(&session, &slow).await.unwrap();
    assert!(
        matches!(&outcome, ChargeOutcome::Succeeded { provider_payment_id, .. } if *provider_payment_id == retry["payment_id"]),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn renewals_are_not_offered_and_nothing_is_sent() {
    let fake = FakeMercadoPago::start().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let api_base = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let offline = MercadoPagoConnector::new(MercadoPagoConfig { api_base, ..fake.config() }).unwrap();
    assert!(!offline.off_session_charges());
    let request = ChargeRequest {
        payment_id: "pay_renew".into(),
        amount: brl(4_990),
        description: "Renewal".into(),
        customer: customer(),
        provider_customer: Some("123-cust".into()),
        method_token: "card_1".into(),
        metadata: BTreeMap::new(),
    };
    // Unsupported, not Unavailable: the connector never tried to reach the API.
    let err = offline.charge(&request).await.unwrap_err();
    assert!(matches!(err, ProviderError::Unsupported { .. }), "{err:?}");
    assert!(!err.may_fall_back() && !err.outcome_unknown());
    // A checkout asked to save the card still works; it saves nothing.
    let mp = MercadoPagoConnector::new(fake.config()).unwrap();
    let session =
        mp.create_checkout(&CheckoutRequest { save_method: true, ..checkout("pay_save", brl(4_990)) }).await.unwrap();
    let query = fake.pay_preference(&session.provider_ref, TestCard::Approves);
    assert_eq!(mp.complete_checkout(&session, &query).await.unwrap().1, None);
}

#[tokio::test]
async fn full_and_partial_refunds_once_each() {
    let (fake, mp) = setup().await;
    let (preference, query) = paid(&fake, &mp, "pay_refund", brl(10_000), TestCard::Approves).await;
    let payment = query["payment_id"].clone();

    let partial = mp.refund(&refund("ref_1", &payment, brl(3_050))).await.unwrap();
    let RefundOutcome::Succeeded { provider_refund_id } = partial.clone() else { panic!("{partial:?}") };
    let stored = fake.payment(&payment).unwrap();
    assert_eq!(stored["refunds"][0]["amount"].to_string(), "30.5");
    assert_eq!(stored["status_detail"], "partially_refunded");
    assert_eq!(mp.refund(&refund("ref_1", &payment, brl(3_050))).await.unwrap(), partial, "same key, same refund");
    assert_eq!(fake.refunds_created(), 1);

    let too_much = mp.refund(&refund("ref_2", &payment, brl(6_951))).await.unwrap();
    assert!(matches!(too_much, RefundOutcome::Failed { provider_refund_id: None, .. }), "{too_much:?}");
    // The rest, addressed by the preference id Bursar kept for the checkout.
    let rest = mp.refund(&refund("ref_3", &preference, brl(6_950))).await.unwrap();
    let RefundOutcome::Succeeded { provider_refund_id: rest_id } = rest else { panic!("{rest:?}") };
    assert_ne!(rest_id, provider_refund_id);
    assert_eq!(fake.payment(&payment).unwrap()["status"], "refunded");
    assert_eq!(fake.refunds_created(), 2);
    let nothing_left = mp.refund(&refund("ref_4", &payment, brl(1))).await.unwrap();
    assert!(matches!(nothing_left, RefundOutcome::Failed { .. }), "{nothing_left:?}");
    let wrong_currency = mp.refund(&refund("ref_5", &payment, Money::new(100, "ARS"))).await.unwrap_err();
    assert!(matches!(wrong_currency, ProviderError::InvalidRequest { .. }), "{wrong_currency:?}");
    assert_eq!(fake.writes_without_key(), 0);
}

#[tokio::test]
async fn a_refund_retried_after_a_timeout_refunds_once() {
    let (fake, mp) = setup().await;
    let (_, query) = paid(&fake, &mp, "pay_slowref", brl(10_000), TestCard::Approves).await;
    let payment = query["payment_id"].clone();
    fake.hang_next_on(&format!("/v1/payments/{payment}/refunds"), Duration::from_secs(3));
    let err = mp.refund(&refund("ref_slow", &payment, brl(2_500))).await.unwrap_err();
    assert!(matches!(err, ProviderError::Timeout { .. }), "{err:?}");
    assert!(err.outcome_unknown());
    assert_eq!(fake.refunds_created(), 1, "Mercado Pago did refund");
    let again = mp.refund(&refund("ref_slow", &payment, brl(2_500))).await.unwrap();
    assert!(matches!(again, RefundOutcome::Succeeded { .. }), "{again:?}");
    assert_eq!(fake.refunds_created(), 1, "the retry under the same key refunded nothing more");
    assert_eq!(fake.payment(&payment).unwrap()["transaction_amount_refunded"].to_string(), "25.0");

    fake.fail_after_acting_on(&format!("/v1/payments/{payment}/refunds"));
    let err = mp.refund(&refund("ref_500", &payment, brl(1_000))).await.unwrap_err();
    assert!(matches!(err, ProviderError::Indeterminate { .. }), "{err:?}");
    assert!(!err.may_fall_back());
    let again = mp.refund(&refund("ref_500", &payment, brl(1_000))).await.unwrap();
    assert!(matches!(again, RefundOutcome::Succeeded { .. }), "{again:?}");
    assert_eq!(fake.refunds_created(), 2);
}

#[tokio::test]
async fn a_preference_retried_after_a_lost_answer_is_the_same_preference() {
    let (fake, mp) = setup().await;
    fake.fail_after_acting_on("/checkout/preferences");
    let err = mp.create_checkout(&checkout("pay_lost", brl(1_000))).await.unwrap_err();
    assert!(matches!(err, ProviderError::Unavailable { .. }), "a preference moves no money: {err:?}");
    assert_eq!(fake.preferences_created(), 1);
    let session = mp.create_checkout(&checkout("pay_lost", brl(1_000))).await.unwrap();
    assert_eq!(fake.preferences_created(), 1, "the key answered the first preference");
    assert!(fake.preference(&session.provider_ref).is_some());

    fake.unavailable_next(1);
    let err = mp.create_checkout(&checkout("pay_503", brl(1_000))).await.unwrap_err();
    assert!(err.may_fall_back(), "{err:?}");
    let other =
        MercadoPagoConnector::new(MercadoPagoConfig { access_token: "TEST-wrong".into(), ..fake.config() }).unwrap();
    assert!(matches!(other.create_checkout(&checkout("pay_auth", brl(1_000))).await, Err(ProviderError::Auth { .. })));
}

#[tokio::test]
async fn a_verified_notification_is_mapped_from_the_fetched_payment() {
    let (fake, mp) = setup().await;
    let (_, query) = paid(&fake, &mp, "pay_hook", brl(2_500), TestCard::Approves).await;
    let payment = query["payment_id"].clone();
    let hook = fake.notification(&payment, "payment.created");
    let body: serde_json::Value = serde_json::from_slice(&hook.body).unwrap();
    let event = mp.verify_webhook(&hook.headers, &hook.body, now()).await.unwrap();
    assert_eq!(event.event_id, body["id"].to_string());
    assert_eq!(event.event_type, "payment.created");
    assert_eq!(
        event.kind,
        WebhookKind::PaymentSucceeded {
            payment_id: Some("pay_hook".into()),
            provider_payment_id: payment.clone(),
            amount: brl(2_500),
            method: None,
            provider_customer: None,
        }
    );
    assert_eq!(mp.parse_webhook(&hook.body).await.unwrap(), event);
    assert_eq!(mp.webhook_ack(), None);

    let (_, declined) = paid(&fake, &mp, "pay_hook_no", brl(2_500), TestCard::Insufficient).await;
    let hook = fake.notification(&declined["payment_id"], "payment.created");
    let event = mp.verify_webhook(&hook.headers, &hook.body, now()).await.unwrap();
    assert!(
        matches!(&event.kind, WebhookKind::PaymentFailed { code, .. } if code == "insufficient_funds"),
        "{event:?}"
    );

    fake.set_status(&payment, "charged_back", "settled");
    let hook = fake.notification(&payment, "payment.updated");
    let event = mp.verify_webhook(&hook.headers, &hook.body, now()).await.unwrap();
    assert_eq!(
        event.kind,
        WebhookKind::DisputeOpened { provider_payment_id: payment, amount: brl(2_500), reason: "settled".into() }
    );
}

#[tokio::test]
async fn forged_tampered_and_incomplete_notifications_are_refused() {
    let (fake, mp) = setup().await;
    let (_, query) = paid(&fake, &mp, "pay_forge", brl(2_500), TestCard::Approves).await;
    let (_, other) = paid(&fake, &mp, "pay_other", brl(9_900), TestCard::Approves).await;
    let payment = query["payment_id"].clone();
    let hook = fake.notification(&payment, "payment.updated");

    let forged = fake.notification_at(&payment, "payment.updated", now(), "guessed-secret");
    assert_eq!(mp.verify_webhook(&forged.headers, &forged.body, now()).await.unwrap_err(), WebhookError::BadSignature);

    // The signature binds the payment id: pointing the body at another
    // payment breaks it.
    let retargeted = String::from_utf8(hook.body.clone()).unwrap().replace(&payment, &other["payment_id"]);
    assert_eq!(
        mp.verify_webhook(&hook.headers, retargeted.as_bytes(), now()).await.unwrap_err(),
        WebhookError::BadSignature
    );
    // A ts other than the one signed.
    let mut wrong_ts = hook.headers.clone();
    let sig = wrong_ts["x-signature"].clone();
    let (ts, rest) = sig.split_once(',').unwrap();
    let bumped: i64 = ts.trim_start_matches("ts=").parse::<i64>().unwrap() + 1;
    wrong_ts.insert("x-signature".into(), format!("ts={bumped},{rest}"));
    assert_eq!(mp.verify_webhook(&wrong_ts, &hook.body, now()).await.unwrap_err(), WebhookError::BadSignature);
    // Another request id than the one signed.
    let mut wrong_request = hook.headers.clone();
    wrong_request.insert("x-request-id".into(), "another-request".into());
    assert_eq!(mp.verify_webhook(&wrong_request, &hook.body, now()).await.unwrap_err(), WebhookError::BadSignature);

    let mut missing = hook.headers.clone();
    missing.remove("x-signature");
    assert_eq!(mp.verify_webhook(&missing, &hook.body, now()).await.unwrap_err(), WebhookError::MissingSignature);
    let mut malformed = hook.headers.clone();
    malformed.insert("x-signature".into(), "v1=only".into());
    assert_eq!(mp.verify_webhook(&malformed, &hook.body, now()).await.unwrap_err(), WebhookError::MalformedSignature);
    assert!(matches!(mp.verify_webhook(&hook.headers, b"not json", now()).await, Err(WebhookError::BadPayload(_))));

    assert!(mp.verify_webhook(&hook.headers, &hook.body, now()).await.is_ok());
}

#[tokio::test]
async fn an_optional_tolerance_refuses_old_notifications() {
    let fake = FakeMercadoPago::start().await;
    let strict = MercadoPagoConnector::new(MercadoPagoConfig {
        webhook_tolerance: Some(Duration::from_secs(300)),
        ..fake.config()
    })
    .unwrap();
    let lenient = MercadoPagoConnector::new(fake.config()).unwrap();
    let (_, query) = paid(&fake, &lenient, "pay_old", brl(2_500), TestCard::Approves).await;
    let payment = query["payment_id"].clone();
    let old =
        fake.notification_at(&payment, "payment.updated", now() - jiff::SignedDuration::from_hours(1), WEBHOOK_SECRET);
    assert_eq!(strict.verify_webhook(&old.headers, &old.body, now()).await.unwrap_err(), WebhookError::Stale);
    assert!(lenient.verify_webhook(&old.headers, &old.body, now()).await.is_ok(), "no tolerance by default");
    let recent =
        fake.notification_at(&payment, "payment.updated", now() - jiff::SignedDuration::from_mins(4), WEBHOOK_SECRET);
    assert!(strict.verify_webhook(&recent.headers, &recent.body, now()).await.is_ok());
}

#[tokio::test]
async fn a_late_notification_maps_to_what_the_payment_is_now() {
    let (fake, mp) = setup().await;
    let (_, query) = paid(&fake, &mp, "pay_late", brl(5_000), TestCard::InProcess).await;
    let payment = query["payment_id"].clone();
    // Sent while the payment was in process: nothing to apply yet.
    let early = fake.notification(&payment, "payment.created");
    assert_eq!(mp.verify_webhook(&early.headers, &early.body, now()).await.unwrap().kind, WebhookKind::Other);

    fake.set_status(&payment, "approved", "accredited");
    let RefundOutcome::Succeeded { provider_refund_id } =
        mp.refund(&refund("ref_late", &payment, brl(5_000))).await.unwrap()
    else {
        panic!("refund failed")
    };
    // The creation notice arrives late, after approval and a full refund:
    // the connector reports the refund the API shows, never a stale success.
    let event = mp.verify_webhook(&early.headers, &early.body, now()).await.unwrap();
    assert_eq!(
        event.kind,
        WebhookKind::RefundSucceeded {
            refund_id: None,
            provider_payment_id: payment,
            provider_refund_id,
            amount: brl(5_000),
        }
    );
}

#[tokio::test]
async fn a_notification_whose_payment_cannot_be_fetched_is_not_accepted() {
    let (fake, mp) = setup().await;
    let (_, query) = paid(&fake, &mp, "pay_fetch", brl(5_000), TestCard::Approves).await;
    let hook = fake.notification(&query["payment_id"], "payment.updated");
    fake.unavailable_next(1);
    let err = mp.verify_webhook(&hook.headers, &hook.body, now()).await.unwrap_err();
    assert!(matches!(err, WebhookError::Verification(_)), "{err:?}");
    // Mercado Pago delivers it again; then it goes through.
    assert!(matches!(
        mp.verify_webhook(&hook.headers, &hook.body, now()).await.unwrap().kind,
        WebhookKind::PaymentSucceeded { .. }
    ));
    let unknown = fake.notification("424242", "payment.updated");
    assert!(matches!(
        mp.verify_webhook(&unknown.headers, &unknown.body, now()).await,
        Err(WebhookError::Verification(_))
    ));
}

#[tokio::test]
async fn customers_are_found_by_email_before_one_is_created() {
    let (_fake, mp) = setup().await;
    let first = mp.ensure_customer(&customer()).await.unwrap();
    let second = mp.ensure_customer(&customer()).await.unwrap();
    assert_eq!(first, second);
    let no_email = CustomerInfo { email: None, ..customer() };
    assert!(matches!(mp.ensure_customer(&no_email).await, Err(ProviderError::InvalidRequest { .. })));
}
