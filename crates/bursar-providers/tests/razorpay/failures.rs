//! Failures: wrong keys, server errors, unavailability and timeouts, and
//! recovery by retrieve.

use super::*;

#[tokio::test]
async fn wrong_keys_are_an_auth_error() {
    let fake = FakeRazorpay::start().await;
    let razorpay = RazorpayConnector::new(RazorpayConfig { key_secret: "wrong".into(), ..fake.config() }).unwrap();
    let err = razorpay.create_checkout(&checkout("pay_auth", inr(10_000))).await.unwrap_err();
    assert!(matches!(err, ProviderError::Auth { .. }), "{err:?}");
}

#[tokio::test]
async fn server_errors_are_unavailable() {
    let (fake, razorpay) = setup().await;
    fake.fail_next(1);
    let err = razorpay.create_checkout(&checkout("pay_5xx", inr(10_000))).await.unwrap_err();
    assert!(matches!(err, ProviderError::Unavailable { .. }), "{err:?}");
    assert!(err.may_fall_back());
    fake.fail_next_on("/v1/orders");
    fake.fail_next_on("/v1/orders");
    assert!(razorpay.create_checkout(&checkout("pay_5xx", inr(10_000))).await.is_err());
    assert!(razorpay.create_checkout(&checkout("pay_5xx", inr(10_000))).await.is_err());
    assert_eq!(fake.orders_created(), 0);
    assert!(razorpay.create_checkout(&checkout("pay_5xx", inr(10_000))).await.is_ok());
}

#[tokio::test]
async fn a_server_error_on_a_recurring_charge_is_indeterminate_and_recovered_by_retrieve() {
    let (fake, razorpay) = setup().await;
    let customer_id = fake.add_customer("Ada Learner", "learner@example.com", "+919876543210");
    let token = fake.add_token(&customer_id, false);

    // 500 before Razorpay acted: the order exists, no payment was made.
    fake.fail_next_on("/v1/payments/create/recurring");
    let err = razorpay.charge(&charge("pay_500", inr(10_000), &customer_id, &token)).await.unwrap_err();
    assert!(matches!(err, ProviderError::Indeterminate { .. }), "{err:?}");
    assert!(err.outcome_unknown() && !err.may_fall_back());
    assert_eq!(fake.payments_created(), 0);
    let status = razorpay.retrieve("pay_500", None).await.unwrap();
    assert!(
        matches!(&status, PaymentStatus::Pending { provider_payment_id } if provider_payment_id.starts_with("order_"))
    );
    let ok = razorpay.charge(&charge("pay_500", inr(10_000), &customer_id, &token)).await.unwrap();
    assert!(matches!(ok, ChargeOutcome::Succeeded { .. }), "{ok:?}");
    assert_eq!(fake.payments_created(), 1);

    // 500 after Razorpay acted: retrieve finds the payment, a retry reports it.
    fake.fail_after_acting_on("/v1/payments/create/recurring");
    let err = razorpay.charge(&charge("pay_500_done", inr(20_000), &customer_id, &token)).await.unwrap_err();
    assert!(matches!(err, ProviderError::Indeterminate { .. }), "{err:?}");
    assert_eq!(fake.payments_created(), 2, "Razorpay did charge");
    let status = razorpay.retrieve("pay_500_done", None).await.unwrap();
    let PaymentStatus::Succeeded { provider_payment_id, amount } = status else { panic!("{status:?}") };
    assert_eq!(amount, inr(20_000));
    let again = razorpay.charge(&charge("pay_500_done", inr(20_000), &customer_id, &token)).await.unwrap();
    assert!(
        matches!(again, ChargeOutcome::Succeeded { provider_payment_id: ref id, .. } if *id == provider_payment_id)
    );
    assert_eq!(fake.recurring_requests(), 2);
    assert_eq!(fake.payments_created(), 2);
}

#[tokio::test]
async fn a_server_error_on_a_capture_or_refund_is_indeterminate() {
    let (fake, razorpay) = setup().await;
    let session = razorpay.create_checkout(&checkout("pay_cap500", inr(10_000))).await.unwrap();
    let params = fake.pay_order(&session.provider_ref, TestCard::VISA);
    let payment_id = params["razorpay_payment_id"].clone();
    fake.fail_after_acting_on(&format!("/v1/payments/{payment_id}/capture"));
    let err = razorpay.complete_checkout(&session, &params).await.unwrap_err();
    assert!(matches!(err, ProviderError::Indeterminate { .. }), "{err:?}");
    assert_eq!(fake.payment(&payment_id).unwrap()["status"], "captured", "Razorpay did capture");
    let (outcome, _) = razorpay.complete_checkout(&session, &params).await.unwrap();
    assert!(matches!(outcome, ChargeOutcome::Succeeded { .. }), "{outcome:?}");

    fake.fail_after_acting_on(&format!("/v1/payments/{payment_id}/refund"));
    let err = razorpay.refund(&refund("ref_500", &payment_id, inr(4_000))).await.unwrap_err();
    assert!(matches!(err, ProviderError::Indeterminate { .. }), "{err:?}");
    let again = razorpay.refund(&refund("ref_500", &payment_id, inr(4_000))).await.unwrap();
    assert!(matches!(again, RefundOutcome::Succeeded { .. }), "{again:?}");
    assert_eq!(fake.refunds_created(), 1, "the idempotency key answered the first refund");
}

#[tokio::test]
async fn unavailable_and_unreachable_may_fall_back() {
    let (fake, razorpay) = setup().await;
    let customer_id = fake.add_customer("Ada Learner", "learner@example.com", "+919876543210");
    let token = fake.add_token(&customer_id, false);
    fake.unavailable_next(1);
    let err = razorpay.charge(&charge("pay_503", inr(10_000), &customer_id, &token)).await.unwrap_err();
    assert!(matches!(err, ProviderError::Unavailable { .. }), "{err:?}");
    assert!(err.may_fall_back() && !err.outcome_unknown());
    assert_eq!(fake.payments_created(), 0);

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let api_base = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let offline = RazorpayConnector::new(RazorpayConfig { api_base, ..fake.config() }).unwrap();
    let err = offline.charge(&charge("pay_down", inr(10_000), &customer_id, &token)).await.unwrap_err();
    assert!(matches!(err, ProviderError::Unavailable { .. }), "{err:?}");
    assert!(err.may_fall_back());
}

#[tokio::test]
async fn a_timed_out_recurring_charge_is_found_by_retrieve() {
    let (fake, razorpay) = setup().await;
    let customer_id = fake.add_customer("Ada Learner", "learner@example.com", "+919876543210");
    let token = fake.add_token(&customer_id, false);
    fake.hang_next_on("/v1/payments/create/recurring", Duration::from_secs(3));
    let err = razorpay.charge(&charge("pay_slow", inr(77_700), &customer_id, &token)).await.unwrap_err();
    assert!(matches!(err, ProviderError::Timeout { .. }), "{err:?}");
    assert!(err.outcome_unknown());
    assert_eq!(fake.payments_created(), 1, "Razorpay did charge");

    let status = razorpay.retrieve("pay_slow", None).await.unwrap();
    let PaymentStatus::Succeeded { provider_payment_id, amount } = status else { panic!("{status:?}") };
    assert_eq!(amount, inr(77_700));
    let again = razorpay.charge(&charge("pay_slow", inr(77_700), &customer_id, &token)).await.unwrap();
    assert_eq!(again, ChargeOutcome::Succeeded { provider_payment_id, fee_minor: Some(1554) });
    assert_eq!(fake.recurring_requests(), 1);
    assert_eq!(fake.payments_created(), 1);
}
