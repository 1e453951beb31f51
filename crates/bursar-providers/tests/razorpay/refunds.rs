//! Retrieval, refunds and amounts per currency.

use super::*;

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
