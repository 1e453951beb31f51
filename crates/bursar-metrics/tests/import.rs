//! The import format: typed lines, errors naming line and field, all or
//! nothing unless bad lines are skipped.

mod common;

use bursar_metrics::import::EventBody;
use bursar_metrics::{import, parse_events, FactKind, ImportError, ImportOptions, LineError};
use common::*;
use serde_json::json;

fn good_lines() -> Vec<String> {
    vec![
        signup("2024-01-05T10:00:00Z", "c1", "DE", "USD").to_string(),
        active("2024-01-10T00:00:00Z", "c1", "s1", "pro_m", "USD", 1999, 1, "2024-02-10T00:00:00Z").to_string(),
        paid("2024-01-10T00:00:00Z", "c1", "s1", "in1", "USD", 1999, 380).to_string(),
    ]
}

fn refused(text: &str) -> (Vec<LineError>, usize) {
    match parse_events(text, ImportOptions::default()) {
        Err(ImportError::Lines { errors, total }) => (errors, total),
        other => panic!("expected the file to be refused, got {other:?}"),
    }
}

#[test]
fn a_malformed_line_refuses_the_file_naming_line_and_field() {
    let mut lines = good_lines();
    // Line 2 of the file: a period end that is a number.
    lines[1] = lines[1].replace(r#""current_period_end":"2024-02-10T00:00:00Z""#, r#""current_period_end":12"#);
    assert!(lines[1].contains(r#""current_period_end":12"#));
    let (errors, total) = refused(&lines.join("\n"));
    assert_eq!(total, 1);
    assert_eq!(errors[0].line, 2);
    assert_eq!(errors[0].field.as_deref(), Some("current_period_end"));
    let text = errors[0].to_string();
    assert!(text.starts_with("line 2: field `current_period_end`: "), "{text}");
    assert!(text.contains("expected"), "{text}");
}

#[test]
fn every_kind_of_bad_line_is_reported_with_its_number() {
    let lines = [
        good_lines()[0].clone(),
        // 2: not JSON.
        "{\"ts\": \"2024-01-01T00:00:00Z\", \"type\": ".to_string(),
        // 3: a missing required field.
        json!({"ts": "2024-01-02T00:00:00Z", "type": "subscription.renewed", "customer_id": "c1", "current_period_start": "2024-01-02T00:00:00Z"}).to_string(),
        // 4: a bad timestamp.
        json!({"ts": "2024-13-01T00:00:00Z", "type": "user.signed_up", "customer_id": "c2"}).to_string(),
        // 5: a nested field of the wrong type.
        json!({"ts": "2024-01-03T00:00:00Z", "type": "invoice.paid", "customer_id": "c1", "invoice_id": "i", "currency": "USD",
               "lines": [{"kind": "subscription", "amount_minor": "ten"}], "tax_minor": 0, "total_minor": 10}).to_string(),
        // 6: a customer event without a customer.
        json!({"ts": "2024-01-03T00:00:00Z", "type": "checkout.started", "customer_id": null, "page": "/checkout"}).to_string(),
        // 7: an unknown enum value.
        json!({"ts": "2024-01-03T00:00:00Z", "type": "subscription.trial_ended", "customer_id": "c1", "subscription_id": "s", "outcome": "maybe"}).to_string(),
        // 8: a negative quantity.
        active("2024-01-10T00:00:00Z", "c1", "s1", "pro_m", "USD", 1999, -2, "2024-02-10T00:00:00Z").to_string(),
        // 9: not an object.
        "[1, 2, 3]".to_string(),
        // 10: an unknown currency.
        spend("2024-01-31T00:00:00Z", "2024-01", "XXX", 5).to_string(),
        // 11: a bad month.
        spend("2024-01-31T00:00:00Z", "2024-1", "USD", 5).to_string(),
        // 12: something after the object.
        format!("{} x", good_lines()[0]),
    ];
    let (errors, total) = refused(&lines.join("\n"));
    assert_eq!(total, 11);
    let got: Vec<(usize, Option<&str>)> = errors.iter().map(|e| (e.line, e.field.as_deref())).collect();
    assert_eq!(
        got,
        vec![
            (2, None),
            (3, Some("subscription_id")),
            (4, Some("ts")),
            (5, Some("lines[0].amount_minor")),
            (6, Some("customer_id")),
            (7, Some("outcome")),
            (8, Some("quantity")),
            (9, None),
            (10, Some("currency")),
            (11, Some("month")),
            (12, None),
        ]
    );
    assert_eq!(errors[1].message, "missing");
    assert!(errors[0].message.starts_with("not valid JSON"), "{}", errors[0].message);
    assert!(!errors[0].message.contains("column"), "positions inside the line are noise: {}", errors[0].message);
    // Skipping bad lines keeps the good one and lists the others.
    let parsed = parse_events(&lines.join("\n"), ImportOptions { skip_bad_lines: true }).unwrap();
    assert_eq!(parsed.events.len(), 1);
    assert_eq!(parsed.skipped.len(), 11);
}

#[test]
fn unknown_types_are_kept_blank_lines_skipped_line_numbers_kept() {
    let text = format!(
        "{}\n\n{}\n   \n{}\n",
        good_lines()[0],
        json!({"ts": "2024-01-06T00:00:00Z", "type": "course.completed", "customer_id": "c1", "course": "rust-101"}),
        json!({"ts": "2024-01-07T00:00:00Z", "type": "partner.synced", "customer_id": null})
    );
    let parsed = parse_events(&text, ImportOptions::default()).unwrap();
    assert_eq!(parsed.events.iter().map(|e| e.line).collect::<Vec<_>>(), vec![1, 3, 5]);
    match &parsed.events[1].body {
        EventBody::Unknown(name, fields) => {
            assert_eq!(name, "course.completed");
            assert_eq!(fields.get("course"), Some(&json!("rust-101")));
            assert!(!fields.contains_key("ts"));
        }
        other => panic!("{other:?}"),
    }
    let imp = import(CATALOG, &text, ImportOptions::default()).unwrap();
    let facts = imp.facts().unwrap();
    assert!(matches!(&facts[1].kind, FactKind::Unknown { name } if name == "course.completed"));
}

#[test]
fn events_are_checked_against_the_catalog() {
    let lines = [
        good_lines()[1].clone(),
        with_discount(
            active("2024-01-10T00:00:00Z", "c2", "s2", "pro_m", "USD", 1999, 1, "2024-02-10T00:00:00Z"),
            "nope",
            "2024-01-10T00:00:00Z",
        )
        .to_string(),
        active("2024-01-10T00:00:00Z", "c3", "s3", "pro_m", "CHF", 1999, 1, "2024-02-10T00:00:00Z").to_string(),
        ev(
            "2024-01-11T00:00:00Z",
            "subscription.discount_applied",
            "c1",
            json!({"subscription_id": "s1", "coupon_id": "ghost", "start": "2024-02-10T00:00:00Z"}),
        )
        .to_string(),
    ];
    let e = import(CATALOG, &lines.join("\n"), ImportOptions::default()).unwrap_err();
    let ImportError::Lines { errors, total } = e else { panic!("{e:?}") };
    assert_eq!(total, 3);
    assert_eq!(errors[0].to_string(), "line 2: field `discount.coupon_id`: unknown coupon `nope`");
    assert_eq!(errors[1].line, 3);
    assert_eq!(errors[1].field.as_deref(), Some("currency"));
    assert_eq!(errors[2].to_string(), "line 4: field `coupon_id`: unknown coupon `ghost`");
    let imp = import(CATALOG, &lines.join("\n"), ImportOptions { skip_bad_lines: true }).unwrap();
    assert_eq!((imp.events.len(), imp.skipped.len()), (1, 3));
    // A malformed catalog names its field.
    let bad = CATALOG.replace(r#""duration_in_months": 3"#, r#""duration_in_months": -3"#);
    let e = import(&bad, &lines[0], ImportOptions::default()).unwrap_err();
    assert!(e.to_string().contains("coupons.half3.duration_in_months"), "{e}");
}

#[test]
fn an_import_event_written_back_reads_the_same() {
    let text = [
        good_lines().join("\n"),
        with_discount(
            trialing("2024-01-01T00:00:00Z", "c2", "s2", "pro_m", 1999, "2024-01-15T00:00:00Z"),
            "off20",
            "2024-01-15T00:00:00Z",
        )
        .to_string(),
        trial_ended("2024-01-15T00:00:00Z", "c2", "s2", "expired", None).to_string(),
        spend("2024-01-31T00:00:00Z", "2024-01", "EUR", 5000).to_string(),
        ev("2024-01-07T00:00:00Z", "partner.synced", "", json!({"x": 1})).to_string(),
    ]
    .join("\n");
    let a = parse_events(&text, ImportOptions::default()).unwrap().events;
    let again: Vec<String> = a.iter().map(|e| e.to_json_line()).collect();
    let b = parse_events(&again.join("\n"), ImportOptions::default()).unwrap().events;
    assert_eq!(a, b);
}
