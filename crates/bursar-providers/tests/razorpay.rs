//! The Razorpay connector against the local Razorpay double.

use std::collections::BTreeMap;
use std::time::Duration;

use bursar_providers::razorpay::{
    checkout_signature, razorpay_amount, verify_checkout_signature, RazorpayConfig, RazorpayConnector,
};
use bursar_providers::testkit::razorpay::{
    payment_payload, sign, FakeRazorpay, SignedWebhook, TestCard, KEY_ID, KEY_SECRET,
};
use bursar_providers::{
    ChargeOutcome, ChargeRequest, CheckoutRequest, Connector, CustomerInfo, MethodDetails, Money, PaymentStatus,
    ProviderError, RefundOutcome, RefundRequest, WebhookError, WebhookEvent, WebhookKind,
};
use serde_json::{json, Value};

fn customer() -> CustomerInfo {
    CustomerInfo {
        customer_id: "cus_01".into(),
        email: Some("learner@example.com".into()),
        name: Some("Ada Learner".into()),
        country: Some("IN".into()),
        phone: Some("+919876543210".into()),
    }
}

fn inr(minor: i64) -> Money {
    Money::new(minor, "INR")
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
        metadata: BTreeMap::from([("plan".to_owned(), "annual".to_owned())]),
    }
}

fn charge(payment_id: &str, amount: Money, customer_id: &str, token: &str) -> ChargeRequest {
    ChargeRequest {
        payment_id: payment_id.into(),
        amount,
        description: "Renewal".into(),
        customer: customer(),
        provider_customer: Some(customer_id.into()),
        method_token: token.into(),
        metadata: BTreeMap::new(),
    }
}

fn refund(refund_id: &str, payment_id: &str, amount: Money) -> RefundRequest {
    RefundRequest { refund_id: refund_id.into(), provider_payment_id: payment_id.into(), amount, reason: None }
}

async fn setup() -> (FakeRazorpay, RazorpayConnector) {
    let fake = FakeRazorpay::start().await;
    let connector = RazorpayConnector::new(fake.config()).expect("connector");
    (fake, connector)
}

/// A checkout paid and completed: the Razorpay payment id.
async fn paid(fake: &FakeRazorpay, razorpay: &RazorpayConnector, payment_id: &str, amount: Money) -> String {
    let session = razorpay.create_checkout(&checkout(payment_id, amount)).await.unwrap();
    let params = fake.pay_order(&session.provider_ref, TestCard::VISA);
    let (outcome, _) = razorpay.complete_checkout(&session, &params).await.unwrap();
    let ChargeOutcome::Succeeded { provider_payment_id, .. } = outcome else { panic!("{outcome:?}") };
    provider_payment_id
}

#[tokio::test]
async fn checkout_pay_complete() {
    let (fake, razorpay) = setup().await;
    let session = razorpay.create_checkout(&checkout("pay_chk", inr(49_900))).await.unwrap();
    assert!(session.provider_ref.starts_with("order_"));
    assert_eq!(session.redirect_url, "");
    let p = &session.client_params;
    assert_eq!(p["key"], KEY_ID);
    assert_eq!(p["order_id"], session.provider_ref);
    assert_eq!(p["amount"], "49900");
    assert_eq!(p["currency"], "INR");
    assert_eq!(p["notes.payment_id"], "pay_chk");
    assert_eq!(p["callback_url"], "https://school.example/pay/done");
    let order = fake.order(&session.provider_ref).unwrap();
    assert_eq!(order["receipt"], "pay_chk");
    assert_eq!(order["notes"]["payment_id"], "pay_chk");
    assert_eq!(order["notes"]["plan"], "annual");
    assert_eq!(order["amount"], 49_900);

    let params = fake.pay_order(&session.provider_ref, TestCard::VISA);
    let payment_id = params["razorpay_payment_id"].clone();
    assert_eq!(fake.payment(&payment_id).unwrap()["status"], "authorized");
    let (outcome, method) = razorpay.complete_checkout(&session, &params).await.unwrap();
    assert_eq!(outcome, ChargeOutcome::Succeeded { provider_payment_id: payment_id.clone(), fee_minor: Some(998) });
    assert_eq!(method, None);
    assert_eq!(fake.payment(&payment_id).unwrap()["status"], "captured");
    assert_eq!(fake.order(&session.provider_ref).unwrap()["status"], "paid");

    // Completing again reads the captured payment back.
    let (again, _) = razorpay.complete_checkout(&session, &params).await.unwrap();
    assert_eq!(again, outcome);
    assert_eq!(
        razorpay.retrieve("pay_chk", None).await.unwrap(),
        PaymentStatus::Succeeded { provider_payment_id: payment_id, amount: inr(49_900) }
    );
}

#[tokio::test]
async fn forged_checkout_returns_are_refused() {
    let (fake, razorpay) = setup().await;
    let session = razorpay.create_checkout(&checkout("pay_forged", inr(10_000))).await.unwrap();
    let params = fake.pay_order(&session.provider_ref, TestCard::VISA);
    let payment_id = params["razorpay_payment_id"].clone();

    let mut forged = params.clone();
    forged.insert(
        "razorpay_signature".into(),
        sign("not-the-key-secret", format!("{}|{payment_id}", session.provider_ref).as_bytes()),
    );
    let err = razorpay.complete_checkout(&session, &forged).await.unwrap_err();
    assert!(matches!(err, ProviderError::InvalidRequest { .. }), "{err:?}");

    // A genuine signature of another order does not complete this one.
    let other = razorpay.create_checkout(&checkout("pay_other", inr(10_000))).await.unwrap();
    let other_params = fake.pay_order(&other.provider_ref, TestCard::VISA);
    assert!(razorpay.complete_checkout(&session, &other_params).await.is_err());
    let mut swapped = other_params.clone();
    swapped.remove("razorpay_order_id");
    assert!(razorpay.complete_checkout(&session, &swapped).await.is_err());

    let mut unsigned = params.clone();
    unsigned.remove("razorpay_signature");
    assert!(razorpay.complete_checkout(&session, &unsigned).await.is_err());
    assert_eq!(fake.payment(&payment_id).unwrap()["status"], "authorized", "nothing was captured");
}

#[test]
fn checkout_signatures() {
    let signature = checkout_signature(KEY_SECRET, "order_A", "pay_B");
    assert_eq!(signature.len(), 64);
    assert_eq!(signature, sign(KEY_SECRET, b"order_A|pay_B"));
    assert!(verify_checkout_signature(KEY_SECRET, "order_A", "pay_B", &signature));
    assert!(!verify_checkout_signature(KEY_SECRET, "order_A", "pay_C", &signature));
    assert!(!verify_checkout_signature("other", "order_A", "pay_B", &signature));
    let mut flipped = signature.clone().into_bytes();
    flipped[0] = if flipped[0] == b'0' { b'1' } else { b'0' };
    assert!(!verify_checkout_signature(KEY_SECRET, "order_A", "pay_B", std::str::from_utf8(&flipped).unwrap()));
    assert!(!verify_checkout_signature(KEY_SECRET, "order_A", "pay_B", "zz"));
    assert!(!verify_checkout_signature(KEY_SECRET, "order_A", "pay_B", ""));
}

#[tokio::test]
async fn a_declined_checkout_payment_cannot_be_completed() {
    let (fake, razorpay) = setup().await;
    let session = razorpay.create_checkout(&checkout("pay_decl", inr(10_000))).await.unwrap();
    let failure = fake.pay_order(&session.provider_ref, TestCard::DECLINED);
    assert_eq!(failure["error.reason"], "insufficient_funds");
    assert!(razorpay.complete_checkout(&session, &failure).await.is_err());
    let status = razorpay.retrieve("pay_decl", None).await.unwrap();
    assert_eq!(
        status,
        PaymentStatus::Failed {
            provider_payment_id: failure["error.metadata.payment_id"].clone(),
            code: "insufficient_funds".into()
        }
    );
}

#[tokio::test]
async fn a_saved_card_is_returned_and_charged_later() {
    let (fake, razorpay) = setup().await;
    let customer_id = fake.add_customer("Ada Learner", "learner@example.com", "+919876543210");
    let request = CheckoutRequest {
        save_method: true,
        provider_customer: Some(customer_id.clone()),
        ..checkout("pay_save", inr(99_900))
    };
    let session = razorpay.create_checkout(&request).await.unwrap();
    assert_eq!(session.client_params["customer_id"], customer_id);
    assert_eq!(session.client_params["recurring"], "1");
    let order = fake.order(&session.provider_ref).unwrap();
    assert_eq!(order["customer_id"], customer_id.as_str());
    assert_eq!(order["method"], "card");
    assert!(order["token"]["max_amount"].as_i64().unwrap() >= 99_900);

    let params = fake.pay_order(&session.provider_ref, TestCard::VISA.saved());
    let (outcome, method) = razorpay.complete_checkout(&session, &params).await.unwrap();
    assert!(matches!(outcome, ChargeOutcome::Succeeded { .. }), "{outcome:?}");
    let method: MethodDetails = method.expect("the card was saved");
    assert!(method.token.starts_with("token_"));
    assert_eq!(method.provider_customer.as_deref(), Some(customer_id.as_str()));
    assert_eq!(method.brand.as_deref(), Some("Visa"));
    assert_eq!(method.last4.as_deref(), Some("1111"));

    let renewal = razorpay.charge(&charge("pay_renew", inr(99_900), &customer_id, &method.token)).await.unwrap();
    let ChargeOutcome::Succeeded { provider_payment_id, fee_minor } = renewal else { panic!("{renewal:?}") };
    assert!(fee_minor.is_some());
    let payment = fake.payment(&provider_payment_id).unwrap();
    assert_eq!(payment["token_id"], method.token.as_str());
    assert_eq!(payment["status"], "captured");
    assert_eq!(payment["notes"]["payment_id"], "pay_renew");
    assert_eq!(fake.recurring_requests(), 1);
}

#[tokio::test]
async fn a_card_saved_without_a_prior_customer_names_the_customer_created() {
    let (fake, razorpay) = setup().await;
    let request = CheckoutRequest { save_method: true, ..checkout("pay_newcust", inr(99_900)) };
    let session = razorpay.create_checkout(&request).await.unwrap();
    let customer_id = session.client_params["customer_id"].clone();
    assert!(customer_id.starts_with("cust_"), "{customer_id}");
    assert_eq!(session.client_params["prefill.contact"], "+919876543210");
    assert_eq!(fake.order(&session.provider_ref).unwrap()["customer_id"], customer_id.as_str());

    let params = fake.pay_order(&session.provider_ref, TestCard::VISA.saved());
    let (outcome, method) = razorpay.complete_checkout(&session, &params).await.unwrap();
    assert!(matches!(outcome, ChargeOutcome::Succeeded { .. }), "{outcome:?}");
    let method = method.expect("the card was saved");
    assert_eq!(method.provider_customer.as_deref(), Some(customer_id.as_str()));

    // The returned ids charge the card; the contact comes from the Razorpay
    // customer, created with our customer's phone number.
    let renewal = ChargeRequest {
        provider_customer: method.provider_customer.clone(),
        customer: CustomerInfo { phone: None, ..customer() },
        ..charge("pay_newcust_renewal", inr(99_900), "unused", &method.token)
    };
    let outcome = razorpay.charge(&renewal).await.unwrap();
    let ChargeOutcome::Succeeded { provider_payment_id, .. } = outcome else { panic!("{outcome:?}") };
    let payment = fake.payment(&provider_payment_id).unwrap();
    assert_eq!(payment["customer_id"], customer_id.as_str());
    assert_eq!(payment["token_id"], method.token.as_str());
    assert_eq!(payment["contact"], "+919876543210");
    assert_eq!(fake.recurring_requests(), 1);
}

#[tokio::test]
async fn a_charge_takes_the_contact_from_our_phone_when_razorpay_lacks_one() {
    let (fake, razorpay) = setup().await;
    let customer_id = fake.add_customer("Ada Learner", "learner@example.com", "");
    let token = fake.add_token(&customer_id, false);
    let without_phone = ChargeRequest {
        customer: CustomerInfo { phone: None, ..customer() },
        ..charge("pay_nophone", inr(50_000), &customer_id, &token)
    };
    let err = razorpay.charge(&without_phone).await.unwrap_err();
    assert!(matches!(err, ProviderError::InvalidRequest { .. }), "{err:?}");
    assert!(!err.may_fall_back() && !err.outcome_unknown());
    assert_eq!(fake.orders_created(), 0, "refused before anything was created");

    let with_phone = ChargeRequest {
        customer: CustomerInfo { phone: Some("+91 98765-43210".into()), ..customer() },
        ..charge("pay_nophone", inr(50_000), &customer_id, &token)
    };
    let outcome = razorpay.charge(&with_phone).await.unwrap();
    assert!(matches!(outcome, ChargeOutcome::Succeeded { .. }), "{outcome:?}");
    assert_eq!(fake.recurring_requests(), 1);

    // Written with spaces and hyphens the number is 15 characters long,
    // more than Razorpay takes; it is sent without them.
    let spaced = CustomerInfo { phone: Some("+91 98765-43210".into()), ..customer() };
    assert!(razorpay.ensure_customer(&spaced).await.unwrap().starts_with("cust_"));
}

#[tokio::test]
async fn a_retried_recurring_charge_creates_nothing_new() {
    let (fake, razorpay) = setup().await;
    let customer_id = fake.add_customer("Ada Learner", "learner@example.com", "+919876543210");
    let token = fake.add_token(&customer_id, false);
    let first = razorpay.charge(&charge("pay_rec", inr(50_000), &customer_id, &token)).await.unwrap();
    assert!(matches!(first, ChargeOutcome::Succeeded { .. }), "{first:?}");
    let second = razorpay.charge(&charge("pay_rec", inr(50_000), &customer_id, &token)).await.unwrap();
    assert_eq!(first, second);
    assert_eq!(fake.orders_created(), 1);
    assert_eq!(fake.payments_created(), 1);
    assert_eq!(fake.recurring_requests(), 1);
}

#[tokio::test]
async fn a_declining_token_is_a_decline_and_stays_one() {
    let (fake, razorpay) = setup().await;
    let customer_id = fake.add_customer("Ada Learner", "learner@example.com", "+919876543210");
    let token = fake.add_token(&customer_id, true);
    let outcome = razorpay.charge(&charge("pay_broke", inr(50_000), &customer_id, &token)).await.unwrap();
    let ChargeOutcome::Declined { provider_payment_id: Some(payment_id), code, message } = outcome.clone() else {
        panic!("{outcome:?}")
    };
    assert_eq!(code, "insufficient_funds");
    assert!(message.contains("insufficient funds"), "{message}");
    assert_eq!(fake.payment(&payment_id).unwrap()["status"], "failed");
    let again = razorpay.charge(&charge("pay_broke", inr(50_000), &customer_id, &token)).await.unwrap();
    assert_eq!(again, outcome);
    assert_eq!(fake.recurring_requests(), 1);
}

#[tokio::test]
async fn a_charge_needs_the_razorpay_customer() {
    let (fake, razorpay) = setup().await;
    let request = ChargeRequest { provider_customer: None, ..charge("pay_nocust", inr(50_000), "x", "token_x") };
    let err = razorpay.charge(&request).await.unwrap_err();
    assert!(matches!(err, ProviderError::InvalidRequest { .. }), "{err:?}");
    assert_eq!(fake.orders_created(), 0);
}

#[tokio::test]
async fn a_retried_checkout_reuses_the_order() {
    let (fake, razorpay) = setup().await;
    let first = razorpay.create_checkout(&checkout("pay_twice", inr(10_000))).await.unwrap();
    let second = razorpay.create_checkout(&checkout("pay_twice", inr(10_000))).await.unwrap();
    assert_eq!(first.provider_ref, second.provider_ref);
    assert_eq!(fake.orders_created(), 1);
    let changed = razorpay.create_checkout(&checkout("pay_twice", inr(20_000))).await.unwrap_err();
    assert!(matches!(changed, ProviderError::InvalidRequest { .. }), "{changed:?}");
    assert_eq!(fake.orders_created(), 1);
}

#[tokio::test]
async fn long_payment_ids_do_not_fit_the_receipt() {
    let (fake, razorpay) = setup().await;
    let long = format!("pay_{}", "x".repeat(37));
    let err = razorpay.create_checkout(&checkout(&long, inr(10_000))).await.unwrap_err();
    assert!(matches!(err, ProviderError::InvalidRequest { .. }), "{err:?}");
    assert_eq!(fake.orders_created(), 0);
    let fits = format!("pay_{}", "x".repeat(36));
    razorpay.create_checkout(&checkout(&fits, inr(10_000))).await.unwrap();
    assert_eq!(fake.orders_created(), 1);
}

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

#[tokio::test]
async fn retrieve_by_ids() {
    let (fake, razorpay) = setup().await;
    assert_eq!(razorpay.retrieve("pay_never", None).await.unwrap(), PaymentStatus::NotFound);
    let session = razorpay.create_checkout(&checkout("pay_open", inr(10_000))).await.unwrap();
    let pending = PaymentStatus::Pending { provider_payment_id: session.provider_ref.clone() };
    assert_eq!(razorpay.retrieve("pay_open", None).await.unwrap(), pending);
    assert_eq!(razorpay.retrieve("pay_open", Some(&session.provider_ref)).await.unwrap(), pending);
    let payment = paid(&fake, &razorpay, "pay_done", inr(10_000)).await;
    assert_eq!(
        razorpay.retrieve("pay_done", Some(&payment)).await.unwrap(),
        PaymentStatus::Succeeded { provider_payment_id: payment, amount: inr(10_000) }
    );
    assert_eq!(razorpay.retrieve("pay_x", Some("pay_Nonexistent0001")).await.unwrap(), PaymentStatus::NotFound);
}

#[tokio::test]
async fn full_and_partial_refunds() {
    let (fake, razorpay) = setup().await;
    let payment = paid(&fake, &razorpay, "pay_refund", inr(10_000)).await;
    let partial = razorpay.refund(&refund("ref_1", &payment, inr(3_000))).await.unwrap();
    let RefundOutcome::Succeeded { provider_refund_id } = partial else { panic!("{partial:?}") };
    let stored = fake.refund(&provider_refund_id).unwrap();
    assert_eq!(stored["amount"], 3_000);
    assert_eq!(stored["notes"]["refund_id"], "ref_1");
    assert_eq!(stored["receipt"], "ref_1");

    let again = razorpay.refund(&refund("ref_1", &payment, inr(3_000))).await.unwrap();
    assert_eq!(again, RefundOutcome::Succeeded { provider_refund_id });
    assert_eq!(fake.refunds_created(), 1);

    let too_much = razorpay.refund(&refund("ref_2", &payment, inr(7_001))).await.unwrap();
    assert!(matches!(too_much, RefundOutcome::Failed { provider_refund_id: None, .. }), "{too_much:?}");
    let rest = razorpay.refund(&refund("ref_3", &payment, inr(7_000))).await.unwrap();
    assert!(matches!(rest, RefundOutcome::Succeeded { .. }), "{rest:?}");
    let stored = fake.payment(&payment).unwrap();
    assert_eq!((stored["status"].as_str(), stored["refund_status"].as_str()), (Some("refunded"), Some("full")));
    assert_eq!(fake.refunds_created(), 2);
}

#[test]
fn amounts_in_the_smallest_unit() {
    assert_eq!(razorpay_amount(inr(12_345)).unwrap(), 12_345);
    assert_eq!(razorpay_amount(Money::new(1_000, "JPY")).unwrap(), 1_000);
    assert_eq!(razorpay_amount(Money::new(1_999, "USD")).unwrap(), 1_999);
    assert_eq!(razorpay_amount(Money::new(12_340, "BHD")).unwrap(), 12_340);
    assert!(matches!(razorpay_amount(Money::new(12_345, "BHD")), Err(ProviderError::InvalidRequest { .. })));
    assert!(matches!(razorpay_amount(inr(-1)), Err(ProviderError::InvalidRequest { .. })));
}

#[tokio::test]
async fn amounts_per_currency_pass_the_double() {
    let (fake, razorpay) = setup().await;
    for (id, amount) in [
        ("pay_inr", inr(49_900)),
        ("pay_jpy", Money::new(500, "JPY")),
        ("pay_usd", Money::new(1_999, "USD")),
        ("pay_kwd", Money::new(12_340, "KWD")),
    ] {
        let session = razorpay.create_checkout(&checkout(id, amount)).await.unwrap();
        let order = fake.order(&session.provider_ref).unwrap();
        assert_eq!(order["amount"], amount.minor, "{id}");
        assert_eq!(order["currency"], amount.currency(), "{id}");
    }
    let err = razorpay.create_checkout(&checkout("pay_kwd2", Money::new(12_345, "KWD"))).await.unwrap_err();
    assert!(matches!(err, ProviderError::InvalidRequest { .. }), "{err:?}");
    assert_eq!(fake.orders_created(), 4);
}

fn now() -> jiff::Timestamp {
    jiff::Timestamp::now()
}

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
async fn forged_tampered_stale_and_incomplete_webhooks_are_refused() {
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

    let old = fake.webhook(
        "payment.captured",
        payment_payload(fake.payment(&payment).unwrap()),
        now() - jiff::SignedDuration::from_hours(1),
    );
    assert_eq!(razorpay.verify_webhook(&old.headers, &old.body, now()).await.unwrap_err(), WebhookError::Stale);

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
async fn a_stale_delivery_that_once_verified_still_replays() {
    let (fake, razorpay) = setup().await;
    let payment = paid(&fake, &razorpay, "pay_replay_old", inr(10_000)).await;
    let sent = jiff::Timestamp::from_second((now() - jiff::SignedDuration::from_hours(24 * 40)).as_second()).unwrap();
    let hook = fake.webhook("payment.captured", payment_payload(fake.payment(&payment).unwrap()), sent);
    let on_receipt = razorpay.verify_webhook(&hook.headers, &hook.body, sent).await.expect("valid when it arrived");
    assert_eq!(razorpay.verify_webhook(&hook.headers, &hook.body, now()).await.unwrap_err(), WebhookError::Stale);

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
