//! Saved cards and recurring charges.

use super::*;

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
