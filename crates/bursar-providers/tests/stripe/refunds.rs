//! Refunds.

use super::*;

#[tokio::test]
async fn refunds_partial_then_full_remainder() {
    let (fake, conn) = setup().await;
    let ChargeOutcome::Succeeded { provider_payment_id: pi, .. } =
        conn.charge(&charge("pay_refundme", eur(1000), "pm_card_visa", None)).await.unwrap()
    else {
        panic!()
    };
    let refund = |id: &str, minor: i64, reason: Option<&str>| RefundRequest {
        refund_id: id.to_string(),
        provider_payment_id: pi.clone(),
        amount: eur(minor),
        reason: reason.map(str::to_string),
    };
    let RefundOutcome::Succeeded { provider_refund_id: r1 } =
        conn.refund(&refund("rf_1", 300, Some("requested_by_customer"))).await.unwrap()
    else {
        panic!()
    };
    let re = fake.object(&r1).unwrap();
    assert_eq!(re["object"], "refund");
    assert_eq!(re["amount"], 300);
    assert_eq!(re["metadata"]["refund_id"], "rf_1");
    assert_eq!(re["reason"], "requested_by_customer");
    assert_eq!(re["payment_intent"], pi.as_str());

    // The same refund id again: the same refund.
    let again = conn.refund(&refund("rf_1", 300, Some("requested_by_customer"))).await.unwrap();
    assert_eq!(again, RefundOutcome::Succeeded { provider_refund_id: r1.clone() });
    assert_eq!(fake.objects("refund").len(), 1);

    let RefundOutcome::Succeeded { provider_refund_id: r2 } =
        conn.refund(&refund("rf_2", 700, Some("course withdrawn"))).await.unwrap()
    else {
        panic!()
    };
    assert_ne!(r1, r2);
    let re2 = fake.object(&r2).unwrap();
    assert_eq!(re2["reason"], Value::Null);
    assert_eq!(re2["metadata"]["reason"], "course withdrawn");
    let charge = fake.object(re2["charge"].as_str().unwrap()).unwrap();
    assert_eq!(charge["amount_refunded"], 1000);
    assert_eq!(charge["refunded"], true);

    let err = conn.refund(&refund("rf_3", 100, None)).await.unwrap_err();
    assert!(
        matches!(&err, ProviderError::Rejected { status: 400, message, .. } if message.contains("charge_already_refunded")),
        "{err:?}"
    );
    assert_clean(&fake);
}
