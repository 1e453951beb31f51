//! Checkout: payment, signatures, declines and retried orders.

use super::*;

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
