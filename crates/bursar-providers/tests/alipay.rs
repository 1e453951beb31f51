//! The Alipay (Antom) connector against the local Antom double.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use bursar_providers::alipay::{
    alipay_amount, content_to_sign, parse_alipay_amount, parse_private_key, parse_public_key, parse_signature_header,
    parse_time, sign, signature_header, verify, AlipayConfig, AlipayConnector, NOTIFICATION_ACK,
};
use bursar_providers::testkit::alipay::{
    FakeAlipay, WalletOutcome, ALIPAY_PRIVATE_KEY_PEM, ALIPAY_PUBLIC_KEY_PEM, MERCHANT_PRIVATE_KEY_PEM,
    MERCHANT_PUBLIC_KEY_PEM, NOTIFY_URL,
};
use bursar_providers::{
    ChargeOutcome, ChargeRequest, CheckoutRequest, CheckoutSession, Connector, CustomerInfo, Money, PaymentStatus,
    ProviderError, ProviderKind, RefundOutcome, RefundRequest, WebhookAck, WebhookError, WebhookKind,
};
use serde_json::json;

/// A 1024-bit key made with `openssl genpkey` for this test only.
const SMALL_KEY_PEM: &str = "-----BEGIN PRIVATE KEY-----\nMIICdgIBADANBgkqhkiG9w0BAQEFAASCAmAwggJcAgEAAoGBAKnC+qbRlyjZJDzG\nQo4c/n/Uy+zWMSzm2cw7pabjT2ge96Df7icCj1UF8DPPZFDWOsNMxA3xxWqK5mxi\nV37UQ6Tz+RUtv2nmsPwrCqOr0b0gmlCciq+y6D2b8RQYXLUC/5MCsd0V+/n3Y0E9\nALLW4/g7nHMdUDYVekoVcCIsAicXAgMBAAECgYAqlmB9Iw1R0Q+XM4GU1089UGwM\nMTvK8OroonoPIO1VyJcEw8ih/rFoegHlbXzUDrpVLlfsy59j+A6QWCdtCOEjAsiT\nKIuj7Squ5WhFqN8NlhYjwyHMaZpL/1UYdX6na0MRWCS/w8cXpvoD5esMUH24SQ1N\nrGbzqFA8G7OT1uwo8QJBAN3nenHxBMy7XWqMbqaXqrHPZz61hZUMWWm6y+Jn4ThV\nTr+E7zP1NJoO97W+e3P9RlVsEYSHu8WqCtEqBpJyTV8CQQDD2H3VELQoUmPgkPgK\n9h0gtYz/A17JWFL5CNWFvVGS+erl65xseArDPtkforiBvxYR4xuEYCb89neKaOZy\n5klJAkAKGMxDfvn+7s+TV4x5XBFSQeOqwMuxOnyfCPbZ+GwRCiCpKj1QGeoo0GGJ\nDX/EiVO381DgvORYXCJd3hGqfDT1AkEAh933XgtakOant7GbAy+/AWQyTvBtn82Q\nsog4abHvl8Gd/qg4OuAEx3MgelwPGKQSkZI3Et0J71ClmfYweeHdUQJAH1FbiSC/\nEFDuTFfkjPZNWkDHwo7EFmaAk9L6CN85RSnJ24glrQDogWIr9aheaTPvxCZ3Ut1q\nu8p1V9Wj6r1FCg==\n-----END PRIVATE KEY-----";

fn customer() -> CustomerInfo {
    CustomerInfo {
        customer_id: "cus_01".into(),
        email: Some("xuesheng@example.com".into()),
        name: Some("Li Xuesheng".into()),
        country: Some("CN".into()),
        phone: None,
    }
}

fn cny(minor: i64) -> Money {
    Money::new(minor, "CNY")
}

fn checkout(payment_id: &str, amount: Money) -> CheckoutRequest {
    CheckoutRequest {
        payment_id: payment_id.into(),
        amount,
        description: "Course: Rust for educators".into(),
        customer: customer(),
        provider_customer: None,
        save_method: false,
        success_url: "https://school.example/pay/done".into(),
        cancel_url: "https://school.example/pay/cancel".into(),
        metadata: BTreeMap::new(),
    }
}

fn refund(refund_id: &str, payment_id: &str, amount: Money) -> RefundRequest {
    RefundRequest { refund_id: refund_id.into(), provider_payment_id: payment_id.into(), amount, reason: None }
}

async fn setup() -> (FakeAlipay, AlipayConnector) {
    let fake = FakeAlipay::start().await;
    let connector = AlipayConnector::new(fake.config()).expect("connector");
    (fake, connector)
}

/// A paid checkout: Antom's paymentId.
async fn paid(fake: &FakeAlipay, alipay: &AlipayConnector, payment_id: &str, amount: Money) -> String {
    let session = alipay.create_checkout(&checkout(payment_id, amount)).await.unwrap();
    fake.buyer_pays(payment_id, WalletOutcome::Pays);
    session.provider_ref
}

fn now() -> jiff::Timestamp {
    jiff::Timestamp::now()
}

#[test]
fn signatures_match_openssl() {
    // `openssl dgst -sha256 -sign merchant-private.pem` over this content,
    // base64: PKCS#1 v1.5 signatures are deterministic, so ours must be
    // byte for byte the same.
    let content = content_to_sign(
        "POST",
        "/ams/api/v1/payments/pay",
        "SANDBOX_5YBZ0G2Z4ABC01234",
        "1685599933871",
        br#"{"paymentRequestId":"pay_01","paymentAmount":{"currency":"CNY","value":"1999"}}"#,
    );
    let expected = "D5V5WE0rrKuYPEiomH2iydxqJ8+fGVeAwDiCR6hyMURKB7TpWVTTgGo0Qg4Hn599Vmp2/DdsDBUY/TaClf3UTgBe/4MK/22DBFI5B+wMJFnJAyXgPiFdZRZE+IXRKF7qcUFYnf4ddtx61KT1aKTjzOYm+x7d65aiHeqAekwuIzyxQXADZXzePeVtRcCbkyJA9HtOLgN/pFyAOz5w01ezgfcjshkNhFtICOW3KpApxJdfBRC2krz99booVgjCqjKVmp8s3y1obH+WJhUtlOe0cbVnyKm+7KuSgtOxknw0YmmYHjkZO8pkyZVeIPzaKDvO2O7aQ5LDejKTD7jPcbuIfA==";
    let merchant = parse_private_key(MERCHANT_PRIVATE_KEY_PEM).unwrap();
    assert_eq!(sign(&merchant, &content).unwrap(), expected);

    // A notification signature made by openssl with Alipay's key verifies
    // with Alipay's public key, and not once a byte changes.
    let content = content_to_sign(
        "POST",
        "/webhooks/alipay",
        "2ZE5X1S2YS0001234",
        "2024-01-02T03:04:05+08:00",
        br#"{"notifyType":"PAYMENT_RESULT"}"#,
    );
    let by_openssl = base64::engine::general_purpose::STANDARD
        .decode("jR4Ng8QzDq7ziK3r9ClINBaXfHoMnmfUEIL10Rc7f2FQHXydNrQEjk81G/Ca+UzM7rlQvwl1uUN15ZURXLeR/bxKStnqGRRfOpZ+r2xNGDUnLMju9h0ZnBML3sc36dLGwNQh8EPGZ7NEr9mMtRrffI7WWHd/lvdencgyfeob15JZV7SeStY5lKEdvuosOJy0+30njtTEJ/ljZbqY/0wD6EIZpA5JdB4Y/KWvpKJGn0YsJRPVFggVWeiVQUE08tD/bwFbxAaPW32GXfrrhqrmhBe0/3WIGBfvK5Qr2nN/vlgC+Ly1NhiHFpo2elGCtis3vtsRqzOaYr4lGkvopahOpQ==")
        .unwrap();
    let alipay = parse_public_key(ALIPAY_PUBLIC_KEY_PEM).unwrap();
    assert!(verify(&alipay, &content, &by_openssl));
    let mut changed = content.clone();
    *changed.last_mut().unwrap() = b']';
    assert!(!verify(&alipay, &changed, &by_openssl));
    assert!(!verify(&parse_public_key(MERCHANT_PUBLIC_KEY_PEM).unwrap(), &content, &by_openssl));

    // The header carries the base64 URL-encoded; reading it back gives the
    // signature bytes, whether or not the sender encoded it.
    let header = signature_header("1", expected);
    assert!(header.starts_with("algorithm=RSA256,keyVersion=1,signature="), "{header}");
    let encoded = header.rsplit_once("signature=").unwrap().1;
    assert!(!encoded.contains('+') && !encoded.contains('/') && !encoded.contains('='), "{encoded}");
    assert!(encoded.ends_with("%3D%3D"), "{encoded}");
    let raw = base64::engine::general_purpose::STANDARD.decode(expected).unwrap();
    assert_eq!(parse_signature_header(&header).unwrap(), raw);
    assert_eq!(parse_signature_header(&format!("algorithm=RSA256, keyVersion=1, signature={expected}")).unwrap(), raw);
    for malformed in ["", "algorithm=RSA256", "algorithm=HMAC,signature=abcd", "signature=%zz", "signature=@@@"] {
        assert_eq!(parse_signature_header(malformed).unwrap_err(), WebhookError::MalformedSignature, "{malformed}");
    }
}

#[test]
fn keys_in_every_documented_form_are_read() {
    use rsa::pkcs1::{EncodeRsaPrivateKey, EncodeRsaPublicKey};
    let pkcs8 = parse_private_key(MERCHANT_PRIVATE_KEY_PEM).unwrap();
    let pkcs1_pem = pkcs8.to_pkcs1_pem(rsa::pkcs1::LineEnding::LF).unwrap();
    assert!(pkcs1_pem.contains("BEGIN RSA PRIVATE KEY"));
    assert_eq!(parse_private_key(&pkcs1_pem).unwrap(), pkcs8);
    // The Antom Dashboard shows keys as bare base64 without PEM lines.
    let bare: String = MERCHANT_PRIVATE_KEY_PEM.lines().filter(|l| !l.starts_with("-----")).collect();
    assert_eq!(parse_private_key(&bare).unwrap(), pkcs8);

    let public = parse_public_key(ALIPAY_PUBLIC_KEY_PEM).unwrap();
    let pkcs1_public = public.to_pkcs1_pem(rsa::pkcs1::LineEnding::LF).unwrap();
    assert_eq!(parse_public_key(&pkcs1_public).unwrap(), public);
    let bare: String = ALIPAY_PUBLIC_KEY_PEM.lines().filter(|l| !l.starts_with("-----")).collect();
    assert_eq!(parse_public_key(&bare).unwrap(), public);

    assert!(parse_private_key("not a key").is_err());
    assert!(parse_public_key("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----").is_err());
    let config = AlipayConfig {
        client_id: "x".into(),
        private_key_pem: "garbage".into(),
        alipay_public_key_pem: ALIPAY_PUBLIC_KEY_PEM.into(),
        key_version: "1".into(),
        api_base: "http://127.0.0.1:9".into(),
        notify_url: NOTIFY_URL.into(),
        payment_method_type: "ALIPAY_CN".into(),
        terminal_type: "WEB".into(),
        settlement_currency: None,
        http: Default::default(),
        webhook_tolerance: Duration::from_secs(300),
    };
    assert!(matches!(AlipayConnector::new(config.clone()), Err(ProviderError::InvalidRequest { .. })));
    // A 1024-bit key is refused: Antom's keys are 2048 bits.
    let small = AlipayConfig { private_key_pem: SMALL_KEY_PEM.into(), ..config.clone() };
    assert!(matches!(AlipayConnector::new(small), Err(ProviderError::InvalidRequest { .. })));
    let bad_url =
        AlipayConfig { private_key_pem: MERCHANT_PRIVATE_KEY_PEM.into(), notify_url: "/relative".into(), ..config };
    assert!(matches!(AlipayConnector::new(bad_url), Err(ProviderError::InvalidRequest { .. })));
}

#[test]
fn amounts_are_minor_units_as_strings() {
    assert_eq!(alipay_amount(cny(1_999)).unwrap(), json!({ "currency": "CNY", "value": "1999" }));
    assert_eq!(alipay_amount(Money::new(1_000, "JPY")).unwrap(), json!({ "currency": "JPY", "value": "1000" }));
    assert_eq!(alipay_amount(Money::new(12_345, "KWD")).unwrap(), json!({ "currency": "KWD", "value": "12345" }));
    assert!(matches!(alipay_amount(cny(0)), Err(ProviderError::InvalidRequest { .. })));
    assert!(matches!(alipay_amount(Money::new(100, "XYZ")), Err(ProviderError::InvalidRequest { .. })));
    assert_eq!(parse_alipay_amount(&json!({ "currency": "USD", "value": "1050" })), Some(Money::new(1_050, "USD")));
    for bad in [
        json!({ "currency": "USD", "value": 1050 }),
        json!({ "currency": "USD", "value": "10.50" }),
        json!({ "currency": "usd", "value": "1050" }),
        json!({ "currency": "USD", "value": "-5" }),
        json!({ "value": "5" }),
    ] {
        assert_eq!(parse_alipay_amount(&bad), None, "{bad}");
    }
    assert_eq!(parse_time("1685599933871"), jiff::Timestamp::from_millisecond(1_685_599_933_871).ok());
    assert_eq!(parse_time("2019-11-27T12:01:01+08:00"), "2019-11-27T04:01:01Z".parse().ok());
    assert_eq!(parse_time("yesterday"), None);
}

#[tokio::test]
async fn checkout_redirects_to_the_cashier_and_completes_after_payment() {
    let (fake, alipay) = setup().await;
    assert_eq!(alipay.kind(), ProviderKind::Alipay);
    let session = alipay.create_checkout(&checkout("pay_chk", cny(1_999))).await.unwrap();
    assert!(session.redirect_url.starts_with("https://"), "{}", session.redirect_url);
    assert!(session.redirect_url.contains(&session.provider_ref));
    let p = &session.client_params;
    assert_eq!(p["payment_request_id"], "pay_chk");
    assert!(p["qr_code"].starts_with("https://qr.alipay.com/"), "{p:?}");
    assert!(p["scheme_url"].starts_with("alipays://"), "{p:?}");
    let sent = fake.pay_request("pay_chk").unwrap();
    assert_eq!(sent["productCode"], "CASHIER_PAYMENT");
    assert_eq!(sent["paymentAmount"], json!({ "currency": "CNY", "value": "1999" }));
    assert_eq!(sent["order"]["orderAmount"], sent["paymentAmount"]);
    assert_eq!(sent["order"]["referenceOrderId"], "pay_chk");
    assert_eq!(sent["paymentMethod"]["paymentMethodType"], "ALIPAY_CN");
    assert_eq!(sent["paymentNotifyUrl"], NOTIFY_URL);
    assert_eq!(sent["paymentRedirectUrl"], "https://school.example/pay/done");
    assert_eq!(sent["env"]["terminalType"], "WEB");

    // Back before paying: the buyer still has to act.
    let (outcome, _) = alipay.complete_checkout(&session, &BTreeMap::new()).await.unwrap();
    assert_eq!(
        outcome,
        ChargeOutcome::RequiresAction { provider_payment_id: session.provider_ref.clone(), redirect_url: None }
    );
    assert_eq!(
        alipay.retrieve("pay_chk", None).await.unwrap(),
        PaymentStatus::Pending { provider_payment_id: session.provider_ref.clone() }
    );

    fake.buyer_pays("pay_chk", WalletOutcome::Pays);
    let (outcome, method) = alipay.complete_checkout(&session, &BTreeMap::new()).await.unwrap();
    assert_eq!(
        outcome,
        ChargeOutcome::Succeeded { provider_payment_id: session.provider_ref.clone(), fee_minor: None }
    );
    assert_eq!(method, None);
    let succeeded = PaymentStatus::Succeeded { provider_payment_id: session.provider_ref.clone(), amount: cny(1_999) };
    assert_eq!(alipay.retrieve("pay_chk", None).await.unwrap(), succeeded);
    assert_eq!(alipay.retrieve("pay_chk", Some(&session.provider_ref)).await.unwrap(), succeeded);
    assert_eq!(alipay.retrieve("pay_never", None).await.unwrap(), PaymentStatus::NotFound);
    assert_eq!(fake.bad_signatures(), 0);
}

#[tokio::test]
async fn the_sandbox_client_calls_the_sandbox_paths() {
    let fake = FakeAlipay::start_for("SANDBOX_5YBZ0G2Z4ABC01234").await;
    let alipay = AlipayConnector::new(fake.config()).unwrap();
    let session = alipay.create_checkout(&checkout("pay_sbx", cny(500))).await.unwrap();
    assert_eq!(
        alipay.retrieve("pay_sbx", None).await.unwrap(),
        PaymentStatus::Pending { provider_payment_id: session.provider_ref }
    );
    // The double refuses production paths for a sandbox client, so the
    // checkout above could only pass on /ams/sandbox/api.
    let production = FakeAlipay::start().await;
    let mixed = AlipayConnector::new(AlipayConfig { api_base: production.base_url().into(), ..fake.config() }).unwrap();
    assert!(mixed.create_checkout(&checkout("pay_mixed", cny(500))).await.is_err());
}

#[tokio::test]
async fn a_repeated_pay_is_the_same_payment() {
    let (fake, alipay) = setup().await;
    let first = alipay.create_checkout(&checkout("pay_twice", cny(1_000))).await.unwrap();
    let second = alipay.create_checkout(&checkout("pay_twice", cny(1_000))).await.unwrap();
    assert_eq!(first.provider_ref, second.provider_ref);
    assert_eq!(fake.payments_created(), 1);
    let changed = alipay.create_checkout(&checkout("pay_twice", cny(2_000))).await.unwrap_err();
    assert!(
        matches!(&changed, ProviderError::Rejected { message, .. } if message.contains("REPEAT_REQ_INCONSISTENT")),
        "{changed:?}"
    );
    assert_eq!(fake.payments_created(), 1);

    // A pay whose answer was lost is found again under the same id.
    fake.hang_next_on("/v1/payments/pay", Duration::from_secs(3));
    let err = alipay.create_checkout(&checkout("pay_slow", cny(1_000))).await.unwrap_err();
    assert!(matches!(err, ProviderError::Timeout { .. }), "{err:?}");
    assert_eq!(fake.payments_created(), 2);
    let again = alipay.create_checkout(&checkout("pay_slow", cny(1_000))).await.unwrap();
    assert_eq!(fake.payments_created(), 2);
    assert_eq!(
        alipay.retrieve("pay_slow", None).await.unwrap(),
        PaymentStatus::Pending { provider_payment_id: again.provider_ref }
    );
    let too_long = "p".repeat(65);
    assert!(matches!(
        alipay.create_checkout(&checkout(&too_long, cny(1))).await,
        Err(ProviderError::InvalidRequest { .. })
    ));
}

#[tokio::test]
async fn declined_expired_and_cancelled_payments() {
    let (fake, alipay) = setup().await;
    let session = alipay.create_checkout(&checkout("pay_poor", cny(1_000))).await.unwrap();
    fake.buyer_pays("pay_poor", WalletOutcome::InsufficientBalance);
    let (outcome, _) = alipay.complete_checkout(&session, &BTreeMap::new()).await.unwrap();
    let ChargeOutcome::Declined { code, message, .. } = outcome else { panic!("{outcome:?}") };
    assert_eq!(code, "insufficient_funds");
    assert!(message.starts_with("USER_BALANCE_NOT_ENOUGH"), "{message}");
    assert_eq!(
        alipay.retrieve("pay_poor", None).await.unwrap(),
        PaymentStatus::Failed { provider_payment_id: session.provider_ref.clone(), code: "insufficient_funds".into() }
    );

    let session = alipay.create_checkout(&checkout("pay_late", cny(1_000))).await.unwrap();
    fake.expire("pay_late");
    let (outcome, _) = alipay.complete_checkout(&session, &BTreeMap::new()).await.unwrap();
    assert!(matches!(&outcome, ChargeOutcome::Declined { code, .. } if code == "canceled"), "{outcome:?}");

    let session = alipay.create_checkout(&checkout("pay_gone", cny(1_000))).await.unwrap();
    let canceled = PaymentStatus::Canceled { provider_payment_id: session.provider_ref.clone() };
    assert_eq!(alipay.cancel("pay_gone", None).await.unwrap(), canceled);
    assert_eq!(alipay.cancel("pay_gone", Some(&session.provider_ref)).await.unwrap(), canceled);
    assert_eq!(alipay.retrieve("pay_gone", None).await.unwrap(), canceled);
    assert_eq!(alipay.cancel("pay_nobody", None).await.unwrap(), PaymentStatus::NotFound);
    // A paid payment is not cancelled: its status says so.
    let paid_id = paid(&fake, &alipay, "pay_kept", cny(1_000)).await;
    assert_eq!(
        alipay.cancel("pay_kept", Some(&paid_id)).await.unwrap(),
        PaymentStatus::Succeeded { provider_payment_id: paid_id, amount: cny(1_000) }
    );
}

#[tokio::test]
async fn renewals_and_customers_are_not_offered() {
    let (fake, alipay) = setup().await;
    assert!(!alipay.off_session_charges());
    let request = ChargeRequest {
        payment_id: "pay_renew".into(),
        amount: cny(1_000),
        description: "Renewal".into(),
        customer: customer(),
        provider_customer: None,
        method_token: "token".into(),
        metadata: BTreeMap::new(),
    };
    assert!(matches!(alipay.charge(&request).await, Err(ProviderError::Unsupported { .. })));
    assert!(matches!(alipay.ensure_customer(&customer()).await, Err(ProviderError::Unsupported { .. })));
    assert_eq!(fake.pay_requests(), 0, "nothing was sent");
}

#[tokio::test]
async fn full_and_partial_refunds_once_each() {
    let (fake, alipay) = setup().await;
    let payment = paid(&fake, &alipay, "pay_refund", cny(10_000)).await;
    let partial = alipay.refund(&refund("ref_1", &payment, cny(3_000))).await.unwrap();
    assert!(matches!(partial, RefundOutcome::Succeeded { .. }), "{partial:?}");
    assert_eq!(alipay.refund(&refund("ref_1", &payment, cny(3_000))).await.unwrap(), partial);
    assert_eq!(fake.refunds_created(), 1);
    assert_eq!(fake.payment_state("pay_refund"), Some(("SUCCESS".into(), 3_000)));

    let too_much = alipay.refund(&refund("ref_2", &payment, cny(7_001))).await.unwrap();
    assert!(
        matches!(&too_much, RefundOutcome::Failed { message, .. } if message.starts_with("REFUND_AMOUNT_EXCEED")),
        "{too_much:?}"
    );
    let rest = alipay.refund(&refund("ref_3", &payment, cny(7_000))).await.unwrap();
    assert!(matches!(rest, RefundOutcome::Succeeded { .. }), "{rest:?}");
    assert_eq!(fake.payment_state("pay_refund"), Some(("SUCCESS".into(), 10_000)));
    assert_eq!(fake.refunds_created(), 2);

    let other = paid(&fake, &alipay, "pay_refund2", cny(10_000)).await;
    fake.refund_in_process_next();
    let pending = alipay.refund(&refund("ref_slowbank", &other, cny(1_000))).await.unwrap();
    assert!(matches!(pending, RefundOutcome::Pending { .. }), "{pending:?}");
    let unpaid = alipay.create_checkout(&checkout("pay_unpaid", cny(1_000))).await.unwrap();
    let refused = alipay.refund(&refund("ref_unpaid", &unpaid.provider_ref, cny(1_000))).await.unwrap();
    assert!(matches!(&refused, RefundOutcome::Failed { message, .. } if message.starts_with("ORDER_STATUS_INVALID")));
}

#[tokio::test]
async fn a_refund_retried_after_a_timeout_refunds_once() {
    let (fake, alipay) = setup().await;
    let payment = paid(&fake, &alipay, "pay_timeout", cny(10_000)).await;
    fake.hang_next_on("/v1/payments/refund", Duration::from_secs(3));
    let err = alipay.refund(&refund("ref_slow", &payment, cny(4_000))).await.unwrap_err();
    assert!(matches!(err, ProviderError::Timeout { .. }), "{err:?}");
    assert_eq!(fake.refunds_created(), 1, "Antom did refund");
    let again = alipay.refund(&refund("ref_slow", &payment, cny(4_000))).await.unwrap();
    assert!(matches!(again, RefundOutcome::Succeeded { .. }), "{again:?}");
    assert_eq!(fake.refunds_created(), 1);
    assert_eq!(fake.payment_state("pay_timeout"), Some(("SUCCESS".into(), 4_000)));

    fake.fail_after_acting_on("/v1/payments/refund");
    let err = alipay.refund(&refund("ref_500", &payment, cny(1_000))).await.unwrap_err();
    assert!(matches!(err, ProviderError::Indeterminate { .. }), "{err:?}");
    assert!(!err.may_fall_back() && err.outcome_unknown());
    let again = alipay.refund(&refund("ref_500", &payment, cny(1_000))).await.unwrap();
    assert!(matches!(again, RefundOutcome::Succeeded { .. }), "{again:?}");
    assert_eq!(fake.refunds_created(), 2);
    assert_eq!(fake.payment_state("pay_timeout"), Some(("SUCCESS".into(), 5_000)));
}

#[tokio::test]
async fn unsigned_wrongly_signed_and_failed_answers() {
    let (fake, alipay) = setup().await;
    fake.forge_next_answer_on("/v1/payments/pay");
    let err = alipay.create_checkout(&checkout("pay_forged", cny(1_000))).await.unwrap_err();
    assert!(matches!(err, ProviderError::Protocol { .. }), "{err:?}");
    assert!(err.outcome_unknown());

    fake.unavailable_next(1);
    let err = alipay.create_checkout(&checkout("pay_503", cny(1_000))).await.unwrap_err();
    assert!(err.may_fall_back(), "{err:?}");
    fake.fail_next_on("/v1/payments/pay");
    let err = alipay.create_checkout(&checkout("pay_500", cny(1_000))).await.unwrap_err();
    assert!(matches!(err, ProviderError::Unavailable { .. }), "a pay moves no money by itself: {err:?}");

    // Signed with a key Antom does not know for this client.
    let wrong =
        AlipayConnector::new(AlipayConfig { private_key_pem: ALIPAY_PRIVATE_KEY_PEM.into(), ..fake.config() }).unwrap();
    let err = wrong.create_checkout(&checkout("pay_wrongkey", cny(1_000))).await.unwrap_err();
    assert!(matches!(err, ProviderError::Auth { .. }), "{err:?}");
    assert_eq!(fake.bad_signatures(), 1);
    let other_client = AlipayConnector::new(AlipayConfig { client_id: "OTHER".into(), ..fake.config() }).unwrap();
    // Antom's answer names its own client, not the one asked for: the
    // connector refuses an answer meant for another client.
    assert!(matches!(other_client.retrieve("pay_x", None).await, Err(ProviderError::Protocol { .. })));
    assert_eq!(fake.payments_created(), 1, "only the payment whose answer was forged was made");
}

#[tokio::test]
async fn payment_and_refund_notifications_are_verified_and_mapped() {
    let (fake, alipay) = setup().await;
    let payment = paid(&fake, &alipay, "pay_hook", cny(2_500)).await;
    let hook = fake.payment_notification("pay_hook", now());
    let event = alipay.verify_webhook(&hook.headers, &hook.body, now()).await.unwrap();
    assert_eq!(event.event_type, "PAYMENT_RESULT");
    assert_eq!(event.event_id, format!("PAYMENT_RESULT:{payment}:S"));
    assert_eq!(
        event.kind,
        WebhookKind::PaymentSucceeded {
            payment_id: Some("pay_hook".into()),
            provider_payment_id: payment.clone(),
            amount: cny(2_500),
            method: None,
            provider_customer: None,
        }
    );
    assert_eq!(alipay.parse_webhook(&hook.body).await.unwrap(), event, "the body carries its payment time");
    let ack = alipay.webhook_ack().unwrap();
    assert_eq!(ack, WebhookAck { content_type: "application/json", body: NOTIFICATION_ACK.into() });
    let ack: serde_json::Value = serde_json::from_str(&ack.body).unwrap();
    assert_eq!(ack, json!({ "result": { "resultCode": "SUCCESS", "resultStatus": "S", "resultMessage": "success" } }));

    let RefundOutcome::Succeeded { provider_refund_id } =
        alipay.refund(&refund("ref_hook", &payment, cny(1_000))).await.unwrap()
    else {
        panic!("refund failed")
    };
    let hook = fake.refund_notification("ref_hook", now());
    let event = alipay.verify_webhook(&hook.headers, &hook.body, now()).await.unwrap();
    assert_eq!(event.event_type, "REFUND_RESULT");
    assert_eq!(
        event.kind,
        WebhookKind::RefundSucceeded {
            refund_id: Some("ref_hook".into()),
            provider_payment_id: String::new(),
            provider_refund_id,
            amount: cny(1_000),
        }
    );

    alipay.create_checkout(&checkout("pay_hook_poor", cny(2_500))).await.unwrap();
    fake.buyer_pays("pay_hook_poor", WalletOutcome::InsufficientBalance);
    let hook = fake.payment_notification("pay_hook_poor", now());
    let event = alipay.verify_webhook(&hook.headers, &hook.body, now()).await.unwrap();
    assert!(
        matches!(&event.kind, WebhookKind::PaymentFailed { code, payment_id: Some(p), .. } if code == "insufficient_funds" && p == "pay_hook_poor"),
        "{event:?}"
    );
}

#[tokio::test]
async fn forged_tampered_and_stale_notifications_are_refused() {
    let (fake, alipay) = setup().await;
    paid(&fake, &alipay, "pay_forge", cny(2_500)).await;
    let hook = fake.payment_notification("pay_forge", now());

    // Signed with another key than Alipay's.
    let body: serde_json::Value = serde_json::from_slice(&hook.body).unwrap();
    let forged = fake.notification(body.clone(), now(), MERCHANT_PRIVATE_KEY_PEM);
    assert_eq!(
        alipay.verify_webhook(&forged.headers, &forged.body, now()).await.unwrap_err(),
        WebhookError::BadSignature
    );

    let tampered = String::from_utf8(hook.body.clone()).unwrap().replace("\"2500\"", "\"25000\"");
    assert_ne!(tampered.as_bytes(), hook.body.as_slice());
    assert_eq!(
        alipay.verify_webhook(&hook.headers, tampered.as_bytes(), now()).await.unwrap_err(),
        WebhookError::BadSignature
    );
    // The request time is signed: changing it breaks the signature.
    let mut moved = hook.headers.clone();
    let time: i64 = moved["request-time"].parse().unwrap();
    moved.insert("request-time".into(), (time + 1).to_string());
    assert_eq!(alipay.verify_webhook(&moved, &hook.body, now()).await.unwrap_err(), WebhookError::BadSignature);
    let mut other_client = hook.headers.clone();
    other_client.insert("client-id".into(), "SOMEONE_ELSE".into());
    assert_eq!(alipay.verify_webhook(&other_client, &hook.body, now()).await.unwrap_err(), WebhookError::BadSignature);

    // A genuine notification replayed an hour later, or dated in the future.
    let old = fake.payment_notification("pay_forge", now() - jiff::SignedDuration::from_hours(1));
    assert_eq!(alipay.verify_webhook(&old.headers, &old.body, now()).await.unwrap_err(), WebhookError::Stale);
    let ahead = fake.payment_notification("pay_forge", now() + jiff::SignedDuration::from_mins(10));
    assert_eq!(alipay.verify_webhook(&ahead.headers, &ahead.body, now()).await.unwrap_err(), WebhookError::Stale);
    let late_but_fine = fake.payment_notification("pay_forge", now() - jiff::SignedDuration::from_mins(4));
    assert!(alipay.verify_webhook(&late_but_fine.headers, &late_but_fine.body, now()).await.is_ok());
    // Valid when it arrived, stale now; the stored body still replays.
    let sent = now() - jiff::SignedDuration::from_hours(30);
    let stored = fake.payment_notification("pay_forge", sent);
    assert!(alipay.verify_webhook(&stored.headers, &stored.body, sent).await.is_ok());
    assert!(matches!(alipay.parse_webhook(&stored.body).await.unwrap().kind, WebhookKind::PaymentSucceeded { .. }));

    for name in ["signature", "client-id", "request-time"] {
        let mut missing = hook.headers.clone();
        missing.remove(name);
        assert_eq!(
            alipay.verify_webhook(&missing, &hook.body, now()).await.unwrap_err(),
            WebhookError::MissingSignature,
            "{name}"
        );
    }
    let mut malformed = hook.headers.clone();
    malformed.insert("signature".into(), "algorithm=RSA256,keyVersion=1".into());
    assert_eq!(
        alipay.verify_webhook(&malformed, &hook.body, now()).await.unwrap_err(),
        WebhookError::MalformedSignature
    );
    assert!(alipay.verify_webhook(&hook.headers, &hook.body, now()).await.is_ok());
}

#[tokio::test]
async fn notifications_dated_in_iso_8601_verify_too() {
    let (fake, alipay) = setup().await;
    paid(&fake, &alipay, "pay_iso", cny(700)).await;
    let hook = fake.payment_notification("pay_iso", now());
    let body = hook.body.clone();
    let time =
        now().to_zoned(jiff::tz::TimeZone::fixed(jiff::tz::offset(8))).strftime("%Y-%m-%dT%H:%M:%S%:z").to_string();
    let key = parse_private_key(ALIPAY_PRIVATE_KEY_PEM).unwrap();
    let content = content_to_sign("POST", "/webhooks/alipay", &hook.headers["client-id"], &time, &body);
    let mut headers = hook.headers.clone();
    headers.insert("request-time".into(), time);
    headers.insert("signature".into(), signature_header("1", &sign(&key, &content).unwrap()));
    assert!(alipay.verify_webhook(&headers, &body, now()).await.is_ok());
    // Another path than the notify URL's is another signed content.
    let content =
        content_to_sign("POST", "/webhooks/other", &hook.headers["client-id"], &headers["request-time"], &body);
    headers.insert("signature".into(), signature_header("1", &sign(&key, &content).unwrap()));
    assert_eq!(alipay.verify_webhook(&headers, &body, now()).await.unwrap_err(), WebhookError::BadSignature);
}

#[tokio::test]
async fn a_stored_notification_of_an_unknown_shape_is_a_bad_payload() {
    let (_fake, alipay) = setup().await;
    for body in [&b""[..], b"not json", b"[]", br#"{"result": {}}"#, br#"{"notifyType": "PAYMENT_RESULT"}"#] {
        assert!(matches!(alipay.parse_webhook(body).await, Err(WebhookError::BadPayload(_))), "{body:?}");
    }
    let other = alipay.parse_webhook(br#"{"notifyType":"CAPTURE_RESULT","captureId":"1"}"#).await.unwrap();
    assert_eq!(other.kind, WebhookKind::Other);
    let session =
        CheckoutSession { provider_ref: String::new(), redirect_url: String::new(), client_params: BTreeMap::new() };
    assert!(matches!(
        alipay.complete_checkout(&session, &BTreeMap::new()).await,
        Err(ProviderError::InvalidRequest { .. })
    ));
}
