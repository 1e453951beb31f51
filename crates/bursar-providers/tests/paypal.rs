//! The PayPal connector against the local PayPal double.

use std::collections::BTreeMap;
use std::time::Duration;

use bursar_providers::paypal::{paypal_amount, PaypalConfig, PaypalConnector};
use bursar_providers::testkit::paypal::{
    return_params, FakePaypal, SignedWebhook, CAPTURE_DECLINED_VAULT_ID, DECLINING_VAULT_ID, PAYER_ACTION_VAULT_ID,
};
use bursar_providers::{
    ChargeOutcome, ChargeRequest, CheckoutRequest, CheckoutSession, Connector, CustomerInfo, Money, PaymentStatus,
    ProviderError, RefundOutcome, RefundRequest, WebhookError, WebhookEvent, WebhookKind,
};
use serde_json::Value;

fn customer() -> CustomerInfo {
    CustomerInfo {
        customer_id: "cus_01".into(),
        email: Some("learner@example.com".into()),
        name: Some("Ada Learner".into()),
        country: Some("US".into()),
        phone: None,
    }
}

fn checkout(payment_id: &str, amount: Money, save_method: bool) -> CheckoutRequest {
    CheckoutRequest {
        payment_id: payment_id.into(),
        amount,
        description: "Course: Rust for educators".into(),
        customer: customer(),
        provider_customer: None,
        save_method,
        success_url: "https://school.example/pay/done".into(),
        cancel_url: "https://school.example/pay/cancel".into(),
        metadata: BTreeMap::new(),
    }
}

fn charge(payment_id: &str, amount: Money, vault_id: &str) -> ChargeRequest {
    ChargeRequest {
        payment_id: payment_id.into(),
        amount,
        description: "Renewal".into(),
        customer: customer(),
        provider_customer: None,
        method_token: vault_id.into(),
        metadata: BTreeMap::new(),
    }
}

fn refund(refund_id: &str, order_id: &str, amount: Money) -> RefundRequest {
    RefundRequest {
        refund_id: refund_id.into(),
        provider_payment_id: order_id.into(),
        amount,
        reason: Some("requested_by_customer".into()),
    }
}

async fn setup() -> (FakePaypal, PaypalConnector) {
    let fake = FakePaypal::start().await;
    let connector = PaypalConnector::new(fake.config()).expect("connector");
    (fake, connector)
}

/// A checkout the buyer approved and Bursar captured.
async fn paid_order(fake: &FakePaypal, paypal: &PaypalConnector, payment_id: &str, amount: Money) -> String {
    let session = paypal.create_checkout(&checkout(payment_id, amount, false)).await.expect("checkout");
    assert!(fake.approve(&session.provider_ref, false));
    let (outcome, _) =
        paypal.complete_checkout(&session, &return_params(&session.provider_ref)).await.expect("capture");
    assert!(matches!(outcome, ChargeOutcome::Succeeded { .. }), "{outcome:?}");
    session.provider_ref
}

fn usd(minor: i64) -> Money {
    Money::new(minor, "USD")
}

#[tokio::test]
async fn the_token_is_fetched_once_and_reused() {
    let (fake, paypal) = setup().await;
    paypal.create_checkout(&checkout("pay_tok1", usd(1000), false)).await.unwrap();
    paypal.create_checkout(&checkout("pay_tok2", usd(1000), false)).await.unwrap();
    paypal.retrieve("pay_tok1", None).await.unwrap();
    assert_eq!(fake.token_requests(), 1);
}

#[tokio::test]
async fn a_refused_token_is_refreshed_once() {
    let (fake, paypal) = setup().await;
    paypal.create_checkout(&checkout("pay_ref1", usd(1000), false)).await.unwrap();
    fake.revoke_tokens();
    let session = paypal.create_checkout(&checkout("pay_ref2", usd(1000), false)).await.unwrap();
    assert!(!session.provider_ref.is_empty());
    assert_eq!(fake.token_requests(), 2);
    assert_eq!(fake.orders_created(), 2);
}

#[tokio::test]
async fn a_token_is_refreshed_shortly_before_it_expires() {
    let (fake, paypal) = setup().await;
    fake.set_token_lifetime(2);
    paypal.create_checkout(&checkout("pay_exp1", usd(1000), false)).await.unwrap();
    paypal.create_checkout(&checkout("pay_exp2", usd(1000), false)).await.unwrap();
    assert_eq!(fake.token_requests(), 1);
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    paypal.create_checkout(&checkout("pay_exp3", usd(1000), false)).await.unwrap();
    assert_eq!(fake.token_requests(), 2);
}

#[tokio::test]
async fn a_second_401_is_an_auth_error() {
    let (fake, paypal) = setup().await;
    fake.refuse_tokens(true);
    let err = paypal.create_checkout(&checkout("pay_auth", usd(1000), false)).await.unwrap_err();
    assert!(matches!(err, ProviderError::Auth { .. }), "{err:?}");
    assert_eq!(fake.token_requests(), 2, "one refresh, then give up");
    assert_eq!(fake.orders_created(), 0);
}

#[tokio::test]
async fn wrong_client_credentials_are_an_auth_error() {
    let fake = FakePaypal::start().await;
    let paypal = PaypalConnector::new(PaypalConfig { client_secret: "wrong".into(), ..fake.config() }).unwrap();
    let err = paypal.create_checkout(&checkout("pay_cred", usd(1000), false)).await.unwrap_err();
    assert!(matches!(err, ProviderError::Auth { .. }), "{err:?}");
}

#[tokio::test]
async fn checkout_approve_capture() {
    let (fake, paypal) = setup().await;
    let session = paypal.create_checkout(&checkout("pay_chk", usd(1999), false)).await.unwrap();
    assert!(
        session.redirect_url.ends_with(&format!("/checkoutnow?token={}", session.provider_ref)),
        "{}",
        session.redirect_url
    );
    assert_eq!(session.client_params.get("order_id"), Some(&session.provider_ref));
    let sent = fake.last_order_request().unwrap();
    let unit = &sent["purchase_units"][0];
    assert_eq!(unit["reference_id"], "pay_chk");
    assert_eq!(unit["custom_id"], "pay_chk");
    assert_eq!(unit["invoice_id"], "pay_chk");
    assert_eq!(unit["amount"]["value"], "19.99");
    assert_eq!(sent["intent"], "CAPTURE");
    let context = &sent["payment_source"]["paypal"]["experience_context"];
    assert_eq!(context["return_url"], "https://school.example/pay/done");
    assert_eq!(context["cancel_url"], "https://school.example/pay/cancel");
    assert!(sent["payment_source"]["paypal"]["attributes"].is_null(), "no vaulting without save_method");
    assert_eq!(fake.order(&session.provider_ref).unwrap()["status"], "PAYER_ACTION_REQUIRED");

    assert!(fake.approve(&session.provider_ref, false));
    let (outcome, method) = paypal.complete_checkout(&session, &return_params(&session.provider_ref)).await.unwrap();
    // 3.49 % of 19.99 is 0.69 (in cents, truncated) plus 0.49.
    assert_eq!(
        outcome,
        ChargeOutcome::Succeeded { provider_payment_id: session.provider_ref.clone(), fee_minor: Some(118) }
    );
    assert_eq!(method, None);
    assert_eq!(fake.captures_created(), 1);

    // The buyer reloads the return page: the same answer, no second capture.
    let (again, _) = paypal.complete_checkout(&session, &return_params(&session.provider_ref)).await.unwrap();
    assert_eq!(again, outcome);
    assert_eq!(fake.captures_created(), 1);
    let status = paypal.retrieve("pay_chk", Some(&session.provider_ref)).await.unwrap();
    assert_eq!(
        status,
        PaymentStatus::Succeeded { provider_payment_id: session.provider_ref.clone(), amount: usd(1999) }
    );
}

#[tokio::test]
async fn completing_an_unapproved_order_sends_the_buyer_back() {
    let (fake, paypal) = setup().await;
    let session = paypal.create_checkout(&checkout("pay_unapproved", usd(500), false)).await.unwrap();
    let (outcome, _) = paypal.complete_checkout(&session, &BTreeMap::new()).await.unwrap();
    assert_eq!(
        outcome,
        ChargeOutcome::RequiresAction {
            provider_payment_id: session.provider_ref.clone(),
            redirect_url: Some(session.redirect_url.clone()),
        }
    );
    assert_eq!(fake.captures_created(), 0);
}

#[tokio::test]
async fn a_return_for_another_order_is_refused() {
    let (fake, paypal) = setup().await;
    let session = paypal.create_checkout(&checkout("pay_other", usd(500), false)).await.unwrap();
    fake.approve(&session.provider_ref, false);
    let err = paypal.complete_checkout(&session, &return_params("5O190127TN364715T")).await.unwrap_err();
    assert!(matches!(err, ProviderError::InvalidRequest { .. }), "{err:?}");
    assert_eq!(fake.captures_created(), 0);
}

#[tokio::test]
async fn declined_funding_at_capture_is_a_decline() {
    let (fake, paypal) = setup().await;
    let session = paypal.create_checkout(&checkout("pay_funds", usd(500), false)).await.unwrap();
    assert!(fake.approve_with_declining_funds(&session.provider_ref));
    let (outcome, method) = paypal.complete_checkout(&session, &return_params(&session.provider_ref)).await.unwrap();
    match outcome {
        ChargeOutcome::Declined { provider_payment_id, code, message } => {
            assert_eq!(provider_payment_id.as_deref(), Some(session.provider_ref.as_str()));
            assert_eq!(code, "card_declined");
            assert!(message.contains("INSTRUMENT_DECLINED"), "{message}");
        }
        other => panic!("expected a decline, got {other:?}"),
    }
    assert_eq!(method, None);
}

#[tokio::test]
async fn a_saved_wallet_is_charged_off_session() {
    let (fake, paypal) = setup().await;
    let session = paypal.create_checkout(&checkout("pay_first", usd(2500), true)).await.unwrap();
    let sent = fake.last_order_request().unwrap();
    let vault = &sent["payment_source"]["paypal"]["attributes"]["vault"];
    assert_eq!(vault["store_in_vault"], "ON_SUCCESS");
    assert!(fake.approve(&session.provider_ref, true));
    let (outcome, method) = paypal.complete_checkout(&session, &return_params(&session.provider_ref)).await.unwrap();
    assert!(matches!(outcome, ChargeOutcome::Succeeded { .. }), "{outcome:?}");
    let method = method.expect("the wallet was vaulted");
    assert_eq!(method.brand.as_deref(), Some("paypal"));
    let captured = fake.order(&session.provider_ref).unwrap();
    let vault_customer = captured["payment_source"]["paypal"]["attributes"]["vault"]["customer"]["id"].as_str();
    assert!(vault_customer.is_some());
    assert_eq!(method.provider_customer.as_deref(), vault_customer, "the vault customer PayPal named");

    let renewal = paypal.charge(&charge("pay_renewal", usd(2500), &method.token)).await.unwrap();
    let ChargeOutcome::Succeeded { provider_payment_id, fee_minor } = renewal else { panic!("{renewal:?}") };
    assert_ne!(provider_payment_id, session.provider_ref);
    assert!(fee_minor.is_some_and(|f| f > 0));
    let order = fake.order(&provider_payment_id).unwrap();
    assert_eq!(order["status"], "COMPLETED");
    assert_eq!(fake.last_order_request().unwrap()["payment_source"]["paypal"]["vault_id"], method.token.as_str());
    assert_eq!(fake.orders_created(), 2);
    assert_eq!(fake.captures_created(), 2);
}

#[tokio::test]
async fn a_wallet_saved_for_a_known_vault_customer_names_that_customer() {
    let (fake, paypal) = setup().await;
    let request =
        CheckoutRequest { provider_customer: Some("VaultCust0001".into()), ..checkout("pay_known", usd(2500), true) };
    let session = paypal.create_checkout(&request).await.unwrap();
    let sent = fake.last_order_request().unwrap();
    assert_eq!(sent["payment_source"]["paypal"]["attributes"]["customer"]["id"], "VaultCust0001");
    assert!(fake.approve(&session.provider_ref, true));
    let (_, method) = paypal.complete_checkout(&session, &return_params(&session.provider_ref)).await.unwrap();
    let method = method.expect("the wallet was vaulted");
    assert_eq!(method.provider_customer.as_deref(), Some("VaultCust0001"));
    let renewal = ChargeRequest {
        provider_customer: method.provider_customer.clone(),
        ..charge("pay_known_renewal", usd(2500), &method.token)
    };
    assert!(matches!(paypal.charge(&renewal).await.unwrap(), ChargeOutcome::Succeeded { .. }));
}

#[tokio::test]
async fn declines_of_saved_wallets() {
    let (fake, paypal) = setup().await;
    let refused = paypal.charge(&charge("pay_d1", usd(1000), DECLINING_VAULT_ID)).await.unwrap();
    let ChargeOutcome::Declined { provider_payment_id: None, code, .. } = refused else { panic!("{refused:?}") };
    assert_eq!(code, "card_declined");
    assert_eq!(fake.orders_created(), 0);

    let declined_capture = paypal.charge(&charge("pay_d2", usd(1000), CAPTURE_DECLINED_VAULT_ID)).await.unwrap();
    let ChargeOutcome::Declined { provider_payment_id: Some(order), code, message } = declined_capture else {
        panic!("{declined_capture:?}")
    };
    assert_eq!(code, "card_declined");
    assert!(message.contains("DECLINED_BY_RISK"), "{message}");
    assert_eq!(
        paypal.retrieve("pay_d2", Some(&order)).await.unwrap(),
        PaymentStatus::Failed { provider_payment_id: order.clone(), code: "card_declined".into() }
    );

    let action = paypal.charge(&charge("pay_d3", usd(1000), PAYER_ACTION_VAULT_ID)).await.unwrap();
    let ChargeOutcome::RequiresAction { redirect_url: Some(url), provider_payment_id } = action else {
        panic!("{action:?}")
    };
    assert!(url.contains(&provider_payment_id));
}

#[tokio::test]
async fn a_retried_charge_creates_nothing_new() {
    let (fake, paypal) = setup().await;
    let wallet = fake.add_vaulted_wallet();
    let first = paypal.charge(&charge("pay_retry", usd(4200), &wallet)).await.unwrap();
    let second = paypal.charge(&charge("pay_retry", usd(4200), &wallet)).await.unwrap();
    assert_eq!(first, second);
    assert_eq!(fake.orders_created(), 1);
    assert_eq!(fake.captures_created(), 1);
    // A fresh connector (after a restart) is deduplicated by PayPal too.
    let restarted = PaypalConnector::new(fake.config()).unwrap();
    assert_eq!(restarted.charge(&charge("pay_retry", usd(4200), &wallet)).await.unwrap(), first);
    assert_eq!(fake.orders_created(), 1);
}

#[tokio::test]
async fn a_retried_checkout_creates_nothing_new() {
    let (fake, paypal) = setup().await;
    let first = paypal.create_checkout(&checkout("pay_twice", usd(1000), false)).await.unwrap();
    let second: CheckoutSession = paypal.create_checkout(&checkout("pay_twice", usd(1000), false)).await.unwrap();
    assert_eq!(first, second);
    assert_eq!(fake.orders_created(), 1);
}

#[tokio::test]
async fn a_server_error_on_a_charge_is_indeterminate_and_recovered_by_retrieve() {
    let (fake, paypal) = setup().await;
    let wallet = fake.add_vaulted_wallet();
    paypal.retrieve("warm", Some("WARMUPTOKEN0")).await.unwrap();

    // 500 before PayPal acted: retrieve repeats the request under the same
    // PayPal-Request-Id, which PayPal carries out now.
    fake.fail_next(1);
    let err = paypal.charge(&charge("pay_5xx", usd(1000), &wallet)).await.unwrap_err();
    assert!(matches!(err, ProviderError::Indeterminate { .. }), "{err:?}");
    assert!(err.outcome_unknown() && !err.may_fall_back());
    assert_eq!(fake.orders_created(), 0);
    let status = paypal.retrieve("pay_5xx", None).await.unwrap();
    let PaymentStatus::Succeeded { provider_payment_id, amount } = status else { panic!("{status:?}") };
    assert_eq!(amount, usd(1000));
    assert_eq!(fake.orders_created(), 1);
    let again = paypal.charge(&charge("pay_5xx", usd(1000), &wallet)).await.unwrap();
    assert!(matches!(&again, ChargeOutcome::Succeeded { provider_payment_id: id, .. } if *id == provider_payment_id));
    assert_eq!(fake.orders_created(), 1, "the retry was answered with the stored order");

    // 500 after PayPal acted: retrieve is answered with the stored order.
    fake.fail_after_acting_on("/v2/checkout/orders");
    let err = paypal.charge(&charge("pay_5xx_done", usd(2000), &wallet)).await.unwrap_err();
    assert!(matches!(err, ProviderError::Indeterminate { .. }), "{err:?}");
    assert_eq!(fake.orders_created(), 2, "PayPal did charge");
    let status = paypal.retrieve("pay_5xx_done", None).await.unwrap();
    assert!(matches!(status, PaymentStatus::Succeeded { amount, .. } if amount == usd(2000)), "{status:?}");
    assert_eq!(fake.orders_created(), 2);
    assert_eq!(fake.captures_created(), 2);
}

#[tokio::test]
async fn a_server_error_on_a_capture_or_refund_is_indeterminate() {
    let (fake, paypal) = setup().await;
    let session = paypal.create_checkout(&checkout("pay_cap5xx", usd(3000), false)).await.unwrap();
    assert!(fake.approve(&session.provider_ref, false));
    fake.fail_after_acting_on(&format!("/v2/checkout/orders/{}/capture", session.provider_ref));
    let params = return_params(&session.provider_ref);
    let err = paypal.complete_checkout(&session, &params).await.unwrap_err();
    assert!(matches!(err, ProviderError::Indeterminate { .. }), "{err:?}");
    assert_eq!(fake.captures_created(), 1, "PayPal did capture");
    let (outcome, _) = paypal.complete_checkout(&session, &params).await.unwrap();
    assert!(matches!(outcome, ChargeOutcome::Succeeded { .. }), "{outcome:?}");
    assert_eq!(fake.captures_created(), 1);

    fake.fail_after_acting_on("/v2/payments/captures/");
    let request = refund("ref_5xx", &session.provider_ref, usd(1000));
    let err = paypal.refund(&request).await.unwrap_err();
    assert!(matches!(err, ProviderError::Indeterminate { .. }), "{err:?}");
    assert_eq!(fake.refunds_created(), 1);
    let again = paypal.refund(&request).await.unwrap();
    assert!(matches!(again, RefundOutcome::Succeeded { .. }), "{again:?}");
    assert_eq!(fake.refunds_created(), 1, "the retry was answered with the stored refund");
}

#[tokio::test]
async fn unavailable_and_failures_that_move_no_money_may_fall_back() {
    let (fake, paypal) = setup().await;
    let wallet = fake.add_vaulted_wallet();
    paypal.retrieve("warm", Some("WARMUPTOKEN0")).await.unwrap();
    fake.unavailable_next(1);
    let err = paypal.charge(&charge("pay_503", usd(1000), &wallet)).await.unwrap_err();
    assert!(matches!(err, ProviderError::Unavailable { .. }), "{err:?}");
    assert!(err.may_fall_back() && !err.outcome_unknown());
    assert_eq!(fake.orders_created(), 0);

    // An order the buyer still has to approve moves no money.
    fake.fail_next(1);
    let err = paypal.create_checkout(&checkout("pay_chk5xx", usd(1000), false)).await.unwrap_err();
    assert!(matches!(err, ProviderError::Unavailable { .. }), "{err:?}");

    // Nor does a read.
    let order = paid_order(&fake, &paypal, "pay_read5xx", usd(1000)).await;
    fake.fail_next(1);
    let err = paypal.retrieve("pay_read5xx", Some(&order)).await.unwrap_err();
    assert!(matches!(err, ProviderError::Unavailable { .. }), "{err:?}");

    let ok = paypal.charge(&charge("pay_503", usd(1000), &wallet)).await.unwrap();
    assert!(matches!(ok, ChargeOutcome::Succeeded { .. }));
}

#[tokio::test]
async fn an_unreachable_api_is_unavailable() {
    let fake = FakePaypal::start().await;
    let paypal = PaypalConnector::new(PaypalConfig { api_base: "http://127.0.0.1:9".into(), ..fake.config() }).unwrap();
    let err = paypal.create_checkout(&checkout("pay_down", usd(1000), false)).await.unwrap_err();
    assert!(matches!(err, ProviderError::Unavailable { .. }), "{err:?}");
}

#[tokio::test]
async fn a_timed_out_charge_is_found_by_retrieve() {
    let (fake, paypal) = setup().await;
    let wallet = fake.add_vaulted_wallet();
    paypal.retrieve("warm", Some("WARMUPTOKEN0")).await.unwrap();
    fake.hang_next_on("/v2/checkout/orders", Duration::from_secs(3));
    let err = paypal.charge(&charge("pay_slow", usd(7700), &wallet)).await.unwrap_err();
    assert!(matches!(err, ProviderError::Timeout { .. }), "{err:?}");
    assert!(err.outcome_unknown() && !err.may_fall_back());
    assert_eq!(fake.orders_created(), 1, "PayPal did charge");

    let status = paypal.retrieve("pay_slow", None).await.unwrap();
    let PaymentStatus::Succeeded { provider_payment_id, amount } = status else { panic!("{status:?}") };
    assert_eq!(amount, usd(7700));
    assert_eq!(fake.order(&provider_payment_id).unwrap()["purchase_units"][0]["invoice_id"], "pay_slow");
    assert_eq!(fake.orders_created(), 1, "retrieve repeated the request; PayPal answered the stored result");
    assert_eq!(fake.captures_created(), 1);
}

#[tokio::test]
async fn retrieve_by_order_id() {
    let (fake, paypal) = setup().await;
    let session = paypal.create_checkout(&checkout("pay_look", usd(300), false)).await.unwrap();
    assert_eq!(
        paypal.retrieve("pay_look", Some(&session.provider_ref)).await.unwrap(),
        PaymentStatus::Pending { provider_payment_id: session.provider_ref.clone() }
    );
    assert_eq!(paypal.retrieve("pay_nope", Some("NOSUCHORDER00001")).await.unwrap(), PaymentStatus::NotFound);
    // Without the order id and without having sent anything, PayPal offers
    // no lookup.
    let other = PaypalConnector::new(fake.config()).unwrap();
    let err = other.retrieve("pay_look", None).await.unwrap_err();
    assert!(matches!(err, ProviderError::Unsupported { .. }), "{err:?}");
    // The connector that created it remembers the order id.
    assert!(matches!(paypal.retrieve("pay_look", None).await.unwrap(), PaymentStatus::Pending { .. }));
}

#[tokio::test]
async fn full_and_partial_refunds() {
    let (fake, paypal) = setup().await;
    let order = paid_order(&fake, &paypal, "pay_refunded", usd(1000)).await;
    let partial = paypal.refund(&refund("ref_1", &order, usd(300))).await.unwrap();
    let RefundOutcome::Succeeded { provider_refund_id } = partial else { panic!("{partial:?}") };
    let stored = fake.refund(&provider_refund_id).unwrap();
    assert_eq!(stored["amount"]["value"], "3.00");
    assert_eq!(stored["custom_id"], "ref_1");

    // A retry of the same refund is deduplicated.
    let again = paypal.refund(&refund("ref_1", &order, usd(300))).await.unwrap();
    assert_eq!(again, RefundOutcome::Succeeded { provider_refund_id: provider_refund_id.clone() });
    assert_eq!(fake.refunds_created(), 1);

    let rest = paypal.refund(&refund("ref_2", &order, usd(700))).await.unwrap();
    assert!(matches!(rest, RefundOutcome::Succeeded { .. }), "{rest:?}");
    let capture = fake.capture_of(&order).unwrap();
    assert_eq!(capture["status"], "REFUNDED");

    let too_much = paypal.refund(&refund("ref_3", &order, usd(1))).await.unwrap();
    let RefundOutcome::Failed { provider_refund_id: None, message } = too_much else { panic!("{too_much:?}") };
    assert!(message.contains("CAPTURE_FULLY_REFUNDED"), "{message}");
    assert_eq!(fake.refunds_created(), 2);
}

#[tokio::test]
async fn refund_more_than_captured_fails() {
    let (fake, paypal) = setup().await;
    let order = paid_order(&fake, &paypal, "pay_small", usd(1000)).await;
    let outcome = paypal.refund(&refund("ref_big", &order, usd(1001))).await.unwrap();
    let RefundOutcome::Failed { message, .. } = outcome else { panic!("{outcome:?}") };
    assert!(message.contains("REFUND_AMOUNT_EXCEEDED"), "{message}");
    assert_eq!(fake.refunds_created(), 0);
}

#[test]
fn amounts_use_paypal_decimals() {
    assert_eq!(paypal_amount(usd(1000)).unwrap(), "10.00");
    assert_eq!(paypal_amount(usd(5)).unwrap(), "0.05");
    assert_eq!(paypal_amount(Money::new(1000, "JPY")).unwrap(), "1000");
    assert_eq!(paypal_amount(Money::new(123_456, "INR")).unwrap(), "1234.56");
    // HUF is whole at PayPal although ISO gives it two decimals.
    assert_eq!(paypal_amount(Money::new(150_000, "HUF")).unwrap(), "1500");
    assert!(matches!(paypal_amount(Money::new(150_050, "HUF")), Err(ProviderError::InvalidRequest { .. })));
    // Three-decimal currencies are not offered by PayPal.
    assert!(matches!(paypal_amount(Money::new(12_345, "BHD")), Err(ProviderError::InvalidRequest { .. })));
    assert!(matches!(paypal_amount(usd(-1)), Err(ProviderError::InvalidRequest { .. })));
}

#[tokio::test]
async fn amounts_per_currency_pass_the_double() {
    let (fake, paypal) = setup().await;
    for (id, amount, expected) in [
        ("pay_jpy", Money::new(1000, "JPY"), "1000"),
        ("pay_inr", Money::new(49_900, "INR"), "499.00"),
        ("pay_usd", usd(12_345), "123.45"),
    ] {
        paypal.create_checkout(&checkout(id, amount, false)).await.unwrap();
        let sent = fake.last_order_request().unwrap();
        assert_eq!(sent["purchase_units"][0]["amount"]["value"], expected);
        assert_eq!(sent["purchase_units"][0]["amount"]["currency_code"], amount.currency());
    }
    let err = paypal.create_checkout(&checkout("pay_bhd", Money::new(12_340, "BHD"), false)).await.unwrap_err();
    assert!(matches!(err, ProviderError::InvalidRequest { .. }), "{err:?}");
    assert_eq!(fake.orders_created(), 3);
}

fn now() -> jiff::Timestamp {
    jiff::Timestamp::now()
}

#[tokio::test]
async fn a_capture_webhook_is_verified_and_mapped() {
    let (fake, paypal) = setup().await;
    let order = paid_order(&fake, &paypal, "pay_hook", usd(2000)).await;
    let hook = fake.webhook("PAYMENT.CAPTURE.COMPLETED", fake.capture_of(&order).unwrap(), now());
    let event = paypal.verify_webhook(&hook.headers, &hook.body, now()).await.unwrap();
    let body: Value = serde_json::from_slice(&hook.body).unwrap();
    assert_eq!(event.event_id, body["id"].as_str().unwrap());
    assert_eq!(event.event_type, "PAYMENT.CAPTURE.COMPLETED");
    assert_eq!(
        event.kind,
        WebhookKind::PaymentSucceeded {
            payment_id: Some("pay_hook".into()),
            provider_payment_id: order,
            amount: usd(2000),
            method: None,
            provider_customer: None,
        }
    );
}

#[tokio::test]
async fn forged_tampered_stale_and_incomplete_webhooks_are_refused() {
    let (fake, paypal) = setup().await;
    let order = paid_order(&fake, &paypal, "pay_forge", usd(2000)).await;
    let hook = fake.webhook("PAYMENT.CAPTURE.COMPLETED", fake.capture_of(&order).unwrap(), now());

    let mut forged = hook.headers.clone();
    forged.insert("paypal-transmission-sig".into(), "Zm9yZ2VkIHNpZ25hdHVyZQ==".into());
    assert_eq!(paypal.verify_webhook(&forged, &hook.body, now()).await.unwrap_err(), WebhookError::BadSignature);

    let tampered = String::from_utf8(hook.body.clone()).unwrap().replace("\"20.00\"", "\"2000.00\"");
    assert_ne!(tampered.as_bytes(), hook.body.as_slice());
    assert_eq!(
        paypal.verify_webhook(&hook.headers, tampered.as_bytes(), now()).await.unwrap_err(),
        WebhookError::BadSignature
    );

    let old = fake.webhook(
        "PAYMENT.CAPTURE.COMPLETED",
        fake.capture_of(&order).unwrap(),
        now() - jiff::SignedDuration::from_hours(1),
    );
    assert_eq!(paypal.verify_webhook(&old.headers, &old.body, now()).await.unwrap_err(), WebhookError::Stale);

    for name in ["paypal-transmission-sig", "paypal-transmission-id", "paypal-cert-url"] {
        let mut missing = hook.headers.clone();
        missing.remove(name);
        assert_eq!(
            paypal.verify_webhook(&missing, &hook.body, now()).await.unwrap_err(),
            WebhookError::MissingSignature,
            "{name}"
        );
    }
    let mut bad_time = hook.headers.clone();
    bad_time.insert("paypal-transmission-time".into(), "yesterday".into());
    assert_eq!(
        paypal.verify_webhook(&bad_time, &hook.body, now()).await.unwrap_err(),
        WebhookError::MalformedSignature
    );

    assert!(matches!(
        paypal.verify_webhook(&hook.headers, b"not json", now()).await.unwrap_err(),
        WebhookError::BadPayload(_)
    ));
    // The untouched delivery still verifies.
    assert!(paypal.verify_webhook(&hook.headers, &hook.body, now()).await.is_ok());
}

#[tokio::test]
async fn refund_dispute_denial_and_other_events_are_mapped() {
    let (fake, paypal) = setup().await;
    let order = paid_order(&fake, &paypal, "pay_events", usd(5000)).await;
    let RefundOutcome::Succeeded { provider_refund_id } =
        paypal.refund(&refund("ref_ev", &order, usd(1500))).await.unwrap()
    else {
        panic!("refund failed")
    };
    let hook = fake.webhook("PAYMENT.CAPTURE.REFUNDED", fake.refund(&provider_refund_id).unwrap(), now());
    let event = paypal.verify_webhook(&hook.headers, &hook.body, now()).await.unwrap();
    assert_eq!(
        event.kind,
        WebhookKind::RefundSucceeded {
            refund_id: Some("ref_ev".into()),
            provider_payment_id: order.clone(),
            provider_refund_id,
            amount: usd(1500),
        }
    );

    let capture = fake.capture_of(&order).unwrap();
    let dispute = serde_json::json!({
        "dispute_id": "PP-D-27803",
        "reason": "MERCHANDISE_OR_SERVICE_NOT_RECEIVED",
        "status": "OPEN",
        "dispute_amount": { "currency_code": "USD", "value": "50.00" },
        "disputed_transactions": [{ "seller_transaction_id": capture["id"] }],
    });
    let hook = fake.webhook("CUSTOMER.DISPUTE.CREATED", dispute, now());
    let event = paypal.verify_webhook(&hook.headers, &hook.body, now()).await.unwrap();
    assert_eq!(
        event.kind,
        WebhookKind::DisputeOpened {
            provider_payment_id: order.clone(),
            amount: usd(5000),
            reason: "MERCHANDISE_OR_SERVICE_NOT_RECEIVED".into(),
        }
    );

    let mut denied = capture.clone();
    denied["status"] = "DECLINED".into();
    let hook = fake.webhook("PAYMENT.CAPTURE.DENIED", denied, now());
    let event = paypal.verify_webhook(&hook.headers, &hook.body, now()).await.unwrap();
    let WebhookKind::PaymentFailed { payment_id, provider_payment_id, code, .. } = event.kind else {
        panic!("{:?}", event.kind)
    };
    assert_eq!(
        (payment_id.as_deref(), provider_payment_id.as_str(), code.as_str()),
        (Some("pay_events"), order.as_str(), "card_declined")
    );

    let approved = serde_json::json!({ "id": "ORDER1", "purchase_units": [{ "custom_id": "pay_approved" }] });
    let hook = fake.webhook("CHECKOUT.ORDER.APPROVED", approved, now());
    let event = paypal.verify_webhook(&hook.headers, &hook.body, now()).await.unwrap();
    assert_eq!(
        event.kind,
        WebhookKind::CheckoutApproved { payment_id: Some("pay_approved".into()), provider_ref: "ORDER1".into() }
    );
    let hook = fake.webhook("BILLING.SUBSCRIPTION.CREATED", serde_json::json!({ "id": "X" }), now());
    let event = paypal.verify_webhook(&hook.headers, &hook.body, now()).await.unwrap();
    assert_eq!(event.kind, WebhookKind::Other);
    assert_eq!(event.event_type, "BILLING.SUBSCRIPTION.CREATED");
}

/// Verifies a delivery, then replays its body alone: both give the same event.
async fn verified_then_replayed(paypal: &PaypalConnector, hook: &SignedWebhook) -> WebhookEvent {
    let verified = paypal.verify_webhook(&hook.headers, &hook.body, now()).await.expect("verified");
    let replayed = paypal.parse_webhook(&hook.body).await.expect("replayed");
    assert_eq!(replayed, verified, "{}", verified.event_type);
    verified
}

#[tokio::test]
async fn a_stored_webhook_replays_as_the_event_it_was_verified_as() {
    let (fake, paypal) = setup().await;
    let order = paid_order(&fake, &paypal, "pay_replay", usd(5000)).await;
    let capture = fake.capture_of(&order).unwrap();

    let event =
        verified_then_replayed(&paypal, &fake.webhook("PAYMENT.CAPTURE.COMPLETED", capture.clone(), now())).await;
    assert_eq!(
        event.kind,
        WebhookKind::PaymentSucceeded {
            payment_id: Some("pay_replay".into()),
            provider_payment_id: order.clone(),
            amount: usd(5000),
            method: None,
            provider_customer: None,
        }
    );

    let mut denied = capture.clone();
    denied["status"] = "DECLINED".into();
    let event = verified_then_replayed(&paypal, &fake.webhook("PAYMENT.CAPTURE.DENIED", denied, now())).await;
    assert!(matches!(event.kind, WebhookKind::PaymentFailed { .. }), "{event:?}");

    // Refunds and disputes name a capture: the replay looks its order up at
    // PayPal, as on receipt.
    let RefundOutcome::Succeeded { provider_refund_id } =
        paypal.refund(&refund("ref_replay", &order, usd(1500))).await.unwrap()
    else {
        panic!("refund failed")
    };
    let hook = fake.webhook("PAYMENT.CAPTURE.REFUNDED", fake.refund(&provider_refund_id).unwrap(), now());
    let event = verified_then_replayed(&paypal, &hook).await;
    assert_eq!(
        event.kind,
        WebhookKind::RefundSucceeded {
            refund_id: Some("ref_replay".into()),
            provider_payment_id: order.clone(),
            provider_refund_id,
            amount: usd(1500),
        }
    );

    let dispute = serde_json::json!({
        "dispute_id": "PP-D-31337",
        "reason": "UNAUTHORISED",
        "status": "OPEN",
        "dispute_amount": { "currency_code": "USD", "value": "50.00" },
        "disputed_transactions": [{ "seller_transaction_id": capture["id"] }],
    });
    let event = verified_then_replayed(&paypal, &fake.webhook("CUSTOMER.DISPUTE.CREATED", dispute, now())).await;
    assert_eq!(
        event.kind,
        WebhookKind::DisputeOpened { provider_payment_id: order, amount: usd(5000), reason: "UNAUTHORISED".into() }
    );

    let hook = fake.webhook("CHECKOUT.ORDER.APPROVED", serde_json::json!({ "id": "X" }), now());
    assert_eq!(
        verified_then_replayed(&paypal, &hook).await.kind,
        WebhookKind::CheckoutApproved { payment_id: None, provider_ref: "X".into() }
    );
}

#[tokio::test]
async fn a_replay_whose_lookup_fails_is_a_verification_error_and_can_be_retried() {
    let (fake, paypal) = setup().await;
    let order = paid_order(&fake, &paypal, "pay_replay_lookup", usd(2000)).await;
    let RefundOutcome::Succeeded { provider_refund_id } =
        paypal.refund(&refund("ref_replay_lookup", &order, usd(500))).await.unwrap()
    else {
        panic!("refund failed")
    };
    let hook = fake.webhook("PAYMENT.CAPTURE.REFUNDED", fake.refund(&provider_refund_id).unwrap(), now());
    fake.fail_next_on("/v2/payments/captures/");
    assert!(matches!(paypal.parse_webhook(&hook.body).await.unwrap_err(), WebhookError::Verification(_)));
    let event = paypal.parse_webhook(&hook.body).await.expect("replayed once PayPal answers");
    let WebhookKind::RefundSucceeded { provider_payment_id, .. } = event.kind else { panic!("{event:?}") };
    assert_eq!(provider_payment_id, order);
}

#[tokio::test]
async fn replaying_a_body_that_is_no_event_is_a_bad_payload() {
    let (_fake, paypal) = setup().await;
    let bodies: [&[u8]; 8] = [
        b"",
        b"not json",
        b"\xff\xfe\x00",
        b"[1, 2]",
        b"{\"hello\": 1}",
        // An event without its creation time.
        br#"{"id": "WH-1", "event_type": "CHECKOUT.ORDER.APPROVED", "resource": {}}"#,
        // A capture event whose resource names no capture.
        br#"{"id": "WH-1", "event_type": "PAYMENT.CAPTURE.COMPLETED", "create_time": "2024-05-01T10:00:00Z",
            "resource": {}}"#,
        // A refund event without the link to its capture.
        br#"{"id": "WH-1", "event_type": "PAYMENT.CAPTURE.REFUNDED", "create_time": "2024-05-01T10:00:00Z",
            "resource": {"id": "1RF", "amount": {"currency_code": "USD", "value": "1.00"}}}"#,
    ];
    for body in bodies {
        let err = paypal.parse_webhook(body).await.unwrap_err();
        assert!(matches!(err, WebhookError::BadPayload(_)), "{:?}: {err:?}", String::from_utf8_lossy(body));
    }
}

#[tokio::test]
async fn a_stale_delivery_that_once_verified_still_replays() {
    let (fake, paypal) = setup().await;
    let order = paid_order(&fake, &paypal, "pay_replay_old", usd(2000)).await;
    let sent = now() - jiff::SignedDuration::from_hours(24 * 40);
    let hook = fake.webhook("PAYMENT.CAPTURE.COMPLETED", fake.capture_of(&order).unwrap(), sent);
    let on_receipt = paypal.verify_webhook(&hook.headers, &hook.body, sent).await.expect("valid when it arrived");
    assert_eq!(paypal.verify_webhook(&hook.headers, &hook.body, now()).await.unwrap_err(), WebhookError::Stale);

    let replayed = paypal.parse_webhook(&hook.body).await.expect("replays");
    assert_eq!(replayed, on_receipt);
    let body: Value = serde_json::from_slice(&hook.body).unwrap();
    assert_eq!(replayed.event_id, body["id"].as_str().unwrap());
    assert_eq!(replayed.created, sent);
    assert!(
        matches!(&replayed.kind, WebhookKind::PaymentSucceeded { provider_payment_id, .. } if *provider_payment_id == order)
    );
}
