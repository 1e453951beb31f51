//! Customers and Checkout Sessions.

use super::*;

#[tokio::test]
async fn customer_is_created_once_and_found_again() {
    let (fake, conn) = setup().await;
    let first = conn.ensure_customer(&customer("cus_01ada")).await.expect("created");
    let second = conn.ensure_customer(&customer("cus_01ada")).await.expect("found");
    assert!(first.starts_with("cus_"), "{first}");
    assert_eq!(first, second);
    assert_eq!(fake.request_count("POST", "/v1/customers"), 1, "the second call finds the first customer");
    let stored = fake.object(&first).expect("stored");
    assert_eq!(stored["metadata"]["customer_id"], "cus_01ada");
    assert_eq!(stored["email"], "cus_01ada@example.edu");
    assert_eq!(stored["address"]["country"], "GB");
    assert_eq!(stored["phone"], "+44 20 7946 0000");
    let other = conn.ensure_customer(&customer("cus_02grace")).await.expect("created");
    assert_ne!(other, first);
    assert_clean(&fake);
}

#[tokio::test]
async fn checkout_session_is_created_and_completed_with_a_saved_card() {
    let (fake, conn) = setup().await;
    let cus = conn.ensure_customer(&customer("cus_01ada")).await.unwrap();
    let session = conn.create_checkout(&checkout("pay_checkout1", eur(4900), true, Some(cus.clone()))).await.unwrap();
    assert!(session.provider_ref.starts_with("cs_test_"), "{}", session.provider_ref);
    assert!(session.redirect_url.ends_with(&session.provider_ref), "{}", session.redirect_url);
    assert_eq!(session.client_params.get("session_id"), Some(&session.provider_ref));

    let cs = fake.object(&session.provider_ref).unwrap();
    assert_eq!(cs["object"], "checkout.session");
    assert_eq!(cs["mode"], "payment");
    assert_eq!(cs["amount_total"], 4900);
    assert_eq!(cs["currency"], "eur");
    assert_eq!(cs["customer"], cus.as_str());
    assert_eq!(cs["client_reference_id"], "pay_checkout1");
    assert_eq!(cs["metadata"]["payment_id"], "pay_checkout1");
    assert_eq!(cs["metadata"]["course"], "analytical-engines-101");
    assert_eq!(cs["livemode"], false);

    let sent = fake.requests().into_iter().find(|r| r.path == "/v1/checkout/sessions").unwrap();
    let has = |k: &str, v: &str| sent.params.iter().any(|(a, b)| a == k && b == v);
    assert!(has("line_items[0][price_data][currency]", "eur"));
    assert!(has("line_items[0][price_data][unit_amount]", "4900"));
    assert!(has("payment_intent_data[metadata][payment_id]", "pay_checkout1"));
    assert!(has("payment_intent_data[setup_future_usage]", "off_session"));
    assert!(has("payment_method_types[]", "card"));
    assert_eq!(sent.idempotency_key.as_deref(), Some("bursar-pay_checkout1-checkout"));

    let pi_id = fake.pay_checkout(&session.provider_ref, "pm_card_visa").unwrap();
    let mut params = BTreeMap::new();
    params.insert("session_id".to_string(), session.provider_ref.clone());
    let (outcome, method) = conn.complete_checkout(&session, &params).await.unwrap();
    assert_eq!(outcome, ChargeOutcome::Succeeded { provider_payment_id: pi_id.clone(), fee_minor: None });
    let method = method.expect("the card was saved");
    assert!(method.token.starts_with("pm_"), "{}", method.token);
    assert_eq!(method.brand.as_deref(), Some("visa"));
    assert_eq!(method.last4.as_deref(), Some("4242"));
    assert_eq!(method.exp_month, Some(TEST_CARD_EXP.0));
    assert_eq!(method.exp_year, Some(TEST_CARD_EXP.1));
    assert_eq!(fake.object(&method.token).unwrap()["customer"], cus.as_str(), "attached to the customer");
    assert_eq!(method.provider_customer.as_deref(), Some(cus.as_str()));
    let pi = fake.object(&pi_id).unwrap();
    assert_eq!(pi["metadata"]["payment_id"], "pay_checkout1");
    assert_eq!(pi["setup_future_usage"], "off_session");
    assert_clean(&fake);
}

#[tokio::test]
async fn checkout_without_saving_open_declined_and_mismatched_sessions() {
    let (fake, conn) = setup().await;
    // Not saved: no method details.
    let s1 = conn.create_checkout(&checkout("pay_nosave", eur(1500), false, None)).await.unwrap();
    let cs = fake.object(&s1.provider_ref).unwrap();
    assert_eq!(cs["customer_email"], "cus_01ada@example.edu");
    fake.pay_checkout(&s1.provider_ref, "pm_card_mastercard").unwrap();
    let (outcome, method) = conn.complete_checkout(&s1, &BTreeMap::new()).await.unwrap();
    assert!(matches!(outcome, ChargeOutcome::Succeeded { .. }), "{outcome:?}");
    assert_eq!(method, None);

    // Still open: the buyer must go back to the hosted page.
    let s2 = conn.create_checkout(&checkout("pay_open", eur(1500), false, None)).await.unwrap();
    let (outcome, _) = conn.complete_checkout(&s2, &BTreeMap::new()).await.unwrap();
    assert_eq!(
        outcome,
        ChargeOutcome::RequiresAction {
            provider_payment_id: s2.provider_ref.clone(),
            redirect_url: Some(s2.redirect_url.clone())
        }
    );

    // Declined on the hosted page.
    fake.pay_checkout(&s2.provider_ref, "pm_card_chargeDeclinedInsufficientFunds").unwrap();
    let (outcome, method) = conn.complete_checkout(&s2, &BTreeMap::new()).await.unwrap();
    match outcome {
        ChargeOutcome::Declined { code, provider_payment_id, .. } => {
            assert_eq!(code, "insufficient_funds");
            assert!(provider_payment_id.unwrap().starts_with("pi_"));
        }
        other => panic!("expected a decline, got {other:?}"),
    }
    assert_eq!(method, None);

    // Expired.
    let s3 = conn.create_checkout(&checkout("pay_expired", eur(1500), false, None)).await.unwrap();
    assert!(fake.expire_checkout(&s3.provider_ref));
    let (outcome, _) = conn.complete_checkout(&s3, &BTreeMap::new()).await.unwrap();
    assert!(matches!(&outcome, ChargeOutcome::Declined { code, .. } if code == "expired"), "{outcome:?}");

    // Processing (delayed method): complete, unpaid.
    let s4 = conn.create_checkout(&checkout("pay_slow", eur(1500), true, None)).await.unwrap();
    fake.pay_checkout(&s4.provider_ref, "pm_card_processing").unwrap();
    let (outcome, _) = conn.complete_checkout(&s4, &BTreeMap::new()).await.unwrap();
    assert!(matches!(outcome, ChargeOutcome::Processing { .. }), "{outcome:?}");
    let cs4 = fake.object(&s4.provider_ref).unwrap();
    assert!(cs4["customer"].as_str().unwrap().starts_with("cus_"), "Checkout created a customer for the saved card");

    // A return from another session is refused.
    let mut params = BTreeMap::new();
    params.insert("session_id".to_string(), "cs_test_someoneelse".to_string());
    let err = conn.complete_checkout(&s1, &params).await.unwrap_err();
    assert!(matches!(err, ProviderError::InvalidRequest { .. }), "{err:?}");
    assert_clean(&fake);
}

#[tokio::test]
async fn a_card_saved_without_a_prior_customer_names_the_customer_checkout_created() {
    let (fake, conn) = setup().await;
    let session = conn.create_checkout(&checkout("pay_newcus", eur(4900), true, None)).await.unwrap();
    let sent = fake.requests().into_iter().find(|r| r.path == "/v1/checkout/sessions").unwrap();
    assert!(sent.params.iter().any(|(k, v)| k == "customer_creation" && v == "always"));
    assert!(fake.objects("customer").is_empty(), "Checkout creates the customer when the buyer pays");

    fake.pay_checkout(&session.provider_ref, "pm_card_visa").unwrap();
    let (outcome, method) = conn.complete_checkout(&session, &BTreeMap::new()).await.unwrap();
    assert!(matches!(outcome, ChargeOutcome::Succeeded { .. }), "{outcome:?}");
    let method = method.expect("the card was saved");
    let created = fake.objects("customer");
    assert_eq!(created.len(), 1);
    let cus = created[0]["id"].as_str().unwrap().to_string();
    assert_eq!(method.provider_customer.as_deref(), Some(cus.as_str()));
    assert_eq!(fake.object(&session.provider_ref).unwrap()["customer"], cus.as_str());
    assert_eq!(fake.object(&method.token).unwrap()["customer"], cus.as_str());

    // The returned ids are what an off-session charge needs.
    let renewal =
        conn.charge(&charge("pay_newcus_renewal", eur(4900), &method.token, method.provider_customer.clone())).await;
    let ChargeOutcome::Succeeded { provider_payment_id, .. } = renewal.unwrap() else { panic!("not charged") };
    let pi = fake.object(&provider_payment_id).unwrap();
    assert_eq!(pi["customer"], cus.as_str());
    assert_eq!(pi["payment_method"], method.token.as_str());

    // Without the customer, Stripe refuses a method attached to one.
    let err = conn.charge(&charge("pay_newcus_nocus", eur(4900), &method.token, None)).await.unwrap_err();
    assert!(matches!(&err, ProviderError::Rejected { status: 400, .. }), "{err:?}");
    assert_clean(&fake);
}
