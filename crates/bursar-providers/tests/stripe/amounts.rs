//! Amounts in Stripe's unit of each currency.

use super::*;

#[test]
fn stripe_amounts_follow_the_currency_rules() {
    let amount = |minor: i64, c: &str| to_stripe_amount(Money::new(minor, c));
    assert_eq!(amount(1050, "USD").unwrap(), 1050);
    assert_eq!(amount(500, "JPY").unwrap(), 500, "zero-decimal: whole yen");
    assert_eq!(amount(3000, "KRW").unwrap(), 3000);
    assert_eq!(amount(5120, "KWD").unwrap(), 5120, "three-decimal");
    assert!(matches!(amount(5125, "KWD"), Err(ProviderError::InvalidRequest { .. })), "last digit must be 0");
    assert!(matches!(amount(1001, "BHD"), Err(ProviderError::InvalidRequest { .. })));
    assert_eq!(amount(5, "ISK").unwrap(), 500, "ISK written with two decimals");
    assert_eq!(amount(60_000, "UGX").unwrap(), 6_000_000, "UGX written with two decimals");
    assert_eq!(amount(12_300, "MGA").unwrap(), 123, "MGA: ISO two decimals, Stripe zero-decimal");
    assert!(matches!(amount(12_345, "MGA"), Err(ProviderError::InvalidRequest { .. })));
    assert_eq!(amount(12_345, "HUF").unwrap(), 12_345, "HUF charges keep two decimals");
    assert_eq!(amount(12_345, "TWD").unwrap(), 12_345);
    assert!(matches!(amount(0, "EUR"), Err(ProviderError::InvalidRequest { .. })));
    assert!(matches!(amount(-5, "EUR"), Err(ProviderError::InvalidRequest { .. })));
    assert!(matches!(amount(100, "XYZ"), Err(ProviderError::InvalidRequest { .. })));

    assert_eq!(from_stripe_amount(500, "isk"), Some(Money::new(5, "ISK")));
    assert_eq!(from_stripe_amount(550, "isk"), None, "not representable in ISO units");
    assert_eq!(from_stripe_amount(123, "mga"), Some(Money::new(12_300, "MGA")));
    assert_eq!(from_stripe_amount(5120, "kwd"), Some(Money::new(5120, "KWD")));
    assert_eq!(from_stripe_amount(500, "jpy"), Some(Money::new(500, "JPY")));
    assert_eq!(from_stripe_amount(1050, "usd"), Some(Money::new(1050, "USD")));
}

#[tokio::test]
async fn amounts_reach_stripe_in_its_unit_and_bad_ones_are_not_sent() {
    let (fake, conn) = setup().await;
    let err = conn.charge(&charge("pay_kwd", Money::new(5125, "KWD"), "pm_card_visa", None)).await.unwrap_err();
    assert!(matches!(err, ProviderError::InvalidRequest { .. }), "{err:?}");
    assert!(!err.may_fall_back() && !err.outcome_unknown());
    let err = conn.create_checkout(&checkout("pay_kwd", Money::new(5125, "KWD"), false, None)).await.unwrap_err();
    assert!(matches!(err, ProviderError::InvalidRequest { .. }), "{err:?}");
    assert!(fake.requests().is_empty(), "refused before sending");

    let ChargeOutcome::Succeeded { provider_payment_id: isk, .. } =
        conn.charge(&charge("pay_isk", Money::new(5, "ISK"), "pm_card_visa", None)).await.unwrap()
    else {
        panic!()
    };
    let pi = fake.object(&isk).unwrap();
    assert_eq!((pi["amount"].as_i64(), pi["currency"].as_str()), (Some(500), Some("isk")));
    assert_eq!(
        conn.retrieve("pay_isk", Some(&isk)).await.unwrap(),
        PaymentStatus::Succeeded { provider_payment_id: isk, amount: Money::new(5, "ISK") }
    );

    let ChargeOutcome::Succeeded { provider_payment_id: jpy, .. } =
        conn.charge(&charge("pay_jpy", Money::new(500, "JPY"), "pm_card_visa", None)).await.unwrap()
    else {
        panic!()
    };
    assert_eq!(fake.object(&jpy).unwrap()["amount"], 500);

    let ChargeOutcome::Succeeded { provider_payment_id: kwd, .. } =
        conn.charge(&charge("pay_kwd_ok", Money::new(5120, "KWD"), "pm_card_visa", None)).await.unwrap()
    else {
        panic!()
    };
    assert_eq!(fake.object(&kwd).unwrap()["amount"], 5120);
    assert_clean(&fake);
}
