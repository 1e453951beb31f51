//! The operations: orders, payments, captures, recurring charges, refunds
//! and customers.

use super::*;

/// Validates notes: an object of at most 15 string values of 256
/// characters (Razorpay shows empty notes as `[]`).
pub(super) fn check_notes(notes: &Value) -> Result<Value, (StatusCode, Value)> {
    match notes {
        Value::Null => Ok(json!([])),
        Value::Object(map) if map.is_empty() => Ok(json!([])),
        Value::Object(map) => {
            if map.len() > 15 {
                return Err(bad_request("Number of fields in notes should be less than or equal to 15", Some("notes")));
            }
            if map.values().any(|v| v.as_str().is_none_or(|v| v.chars().count() > 256)) {
                return Err(bad_request("notes values must be strings of at most 256 characters", Some("notes")));
            }
            Ok(notes.clone())
        }
        _ => Err(bad_request("notes must be an object", Some("notes"))),
    }
}

pub(super) fn check_amount(amount: &Value, currency: &Value) -> Result<(i64, String), (StatusCode, Value)> {
    let Some(currency) = currency.as_str() else {
        return Err(bad_request("The currency field is required.", Some("currency")));
    };
    let Ok(known) = Currency::from_code(currency).map(|c| c.exponent()) else {
        return Err(bad_request("The currency provided is invalid", Some("currency")));
    };
    let Some(amount) = amount.as_i64() else {
        return Err(bad_request("The amount must be an integer.", Some("amount")));
    };
    let minimum = if known == 0 { 1 } else { 100 };
    if amount < minimum {
        return Err(bad_request(&format!("The amount must be at least {currency} {minimum} subunits"), Some("amount")));
    }
    if known == 3 && amount % 10 != 0 {
        return Err(bad_request("For three decimal currencies the last digit of the amount must be 0", Some("amount")));
    }
    if known > 3 {
        return Err(bad_request("The currency provided is not supported", Some("currency")));
    }
    Ok((amount, currency.to_owned()))
}

pub(super) fn create_order(s: &mut Inner, body: &Value) -> (StatusCode, Value) {
    let (amount, currency) = match check_amount(&body["amount"], &body["currency"]) {
        Ok(v) => v,
        Err(e) => return e,
    };
    if let Some(receipt) = body.get("receipt") {
        match receipt.as_str() {
            Some(r) if r.chars().count() <= 40 => {}
            _ => return bad_request("receipt: The receipt may not be greater than 40 characters.", Some("receipt")),
        }
    }
    let notes = match check_notes(&body["notes"]) {
        Ok(n) => n,
        Err(e) => return e,
    };
    let payment_capture = match &body["payment_capture"] {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) if n.as_i64() == Some(0) || n.as_i64() == Some(1) => n.as_i64() == Some(1),
        _ => return bad_request("payment_capture must be a boolean", Some("payment_capture")),
    };
    let customer_id = body["customer_id"].as_str().map(str::to_owned);
    if customer_id.as_ref().is_some_and(|c| !s.customers.contains_key(c)) {
        return bad_request("The customer_id provided does not exist", Some("customer_id"));
    }
    let wants_token = body["token"].is_object();
    if wants_token && (customer_id.is_none() || body["token"]["max_amount"].as_i64().is_none_or(|m| m < amount)) {
        return bad_request("token requires customer_id and a max_amount of at least the order amount", Some("token"));
    }
    let id = format!("order_{}", random_id(14));
    let mut json = json!({
        "id": id,
        "entity": "order",
        "amount": amount,
        "amount_paid": 0,
        "amount_due": amount,
        "currency": currency,
        "receipt": body["receipt"],
        "offer_id": null,
        "status": "created",
        "attempts": 0,
        "notes": notes,
        "created_at": now(),
    });
    if let Some(c) = &customer_id {
        json["customer_id"] = json!(c);
    }
    for field in ["method", "token"] {
        if !body[field].is_null() {
            json[field] = body[field].clone();
        }
    }
    s.orders.insert(
        id.clone(),
        OrderState { json: json.clone(), payment_capture, customer_id, wants_token, payments: Vec::new() },
    );
    s.order_ids.push(id);
    s.orders_created += 1;
    (StatusCode::OK, json)
}

pub(super) fn capture(s: &mut Inner, id: &str, body: &Value) -> (StatusCode, Value) {
    let Some(payment) = s.payments.get(id).cloned() else { return no_such_id() };
    if body["amount"].as_i64() != payment["amount"].as_i64() {
        return bad_request("Capture amount must be equal to the amount authorized", Some("amount"));
    }
    if body["currency"] != payment["currency"] {
        return bad_request("The currency should be the same as the payment currency", Some("currency"));
    }
    match payment["status"].as_str() {
        Some("authorized") => {}
        Some("captured") | Some("refunded") => return bad_request("This payment has already been captured", None),
        _ => return bad_request("Only payments which have been authorized and not yet captured can be captured", None),
    }
    let amount = payment["amount"].as_i64().unwrap_or(0);
    let fee = amount * 2 / 100;
    let order_id = payment["order_id"].as_str().unwrap_or_default().to_owned();
    let p = s.payments.get_mut(id).expect("payment present");
    p["status"] = json!("captured");
    p["captured"] = json!(true);
    p["fee"] = json!(fee);
    p["tax"] = json!(fee * 18 / 118);
    let answer = p.clone();
    if let Some(order) = s.orders.get_mut(&order_id) {
        mark_paid(&mut order.json, amount);
    }
    (StatusCode::OK, answer)
}

pub(super) fn recurring(s: &mut Inner, body: &Value) -> (StatusCode, Value) {
    for field in ["email", "contact", "order_id", "customer_id", "token"] {
        if body[field].as_str().is_none_or(str::is_empty) {
            return bad_request(&format!("The {field} field is required."), Some(field));
        }
    }
    let recurring_on = matches!(&body["recurring"], Value::String(r) if r == "1")
        || body["recurring"] == json!(1)
        || body["recurring"] == json!(true);
    if !recurring_on {
        return bad_request("The recurring field must be 1 for recurring payments.", Some("recurring"));
    }
    let (amount, currency) = match check_amount(&body["amount"], &body["currency"]) {
        Ok(v) => v,
        Err(e) => return e,
    };
    let order_id = body["order_id"].as_str().unwrap_or_default();
    let customer_id = body["customer_id"].as_str().unwrap_or_default();
    let token_id = body["token"].as_str().unwrap_or_default();
    let Some(order) = s.orders.get(order_id) else { return no_such_id() };
    if order.json["amount"] != amount || order.json["currency"] != currency.as_str() {
        return bad_request("The amount and currency must match the order", Some("amount"));
    }
    if order.json["status"] == "paid" {
        return bad_request("Order has already been paid", Some("order_id"));
    }
    if !s.customers.contains_key(customer_id) {
        return bad_request("The customer_id provided does not exist", Some("customer_id"));
    }
    let Some(token) = s.tokens.get(token_id) else {
        return bad_request("The token id provided does not exist", Some("token"));
    };
    if token.customer_id != customer_id {
        return bad_request("The token does not belong to the customer", Some("token"));
    }
    s.recurring_requests += 1;
    let (card, declines) = (token.card.clone(), token.declines);
    if let Some(order) = s.orders.get_mut(order_id) {
        order.customer_id = Some(customer_id.to_owned());
        if let Some(notes) = body["notes"].as_object().filter(|n| !n.is_empty()) {
            order.json["notes"] = Value::Object(notes.clone());
        }
    }
    let payment = create_payment(s, order_id, card, Some(token_id), declines, "insufficient_funds");
    let payment_id = payment["id"].as_str().unwrap_or_default().to_owned();
    if declines {
        let mut answer = error(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST_ERROR",
            "Payment failed because the card has insufficient funds",
            None,
            json!({ "payment_id": payment_id, "order_id": order_id }),
        );
        answer.1["error"]["source"] = json!("bank");
        answer.1["error"]["step"] = json!("payment_authorization");
        answer.1["error"]["reason"] = json!("insufficient_funds");
        return answer;
    }
    (
        StatusCode::OK,
        json!({
            "razorpay_signature": sign_checkout(order_id, &payment_id),
            "razorpay_payment_id": payment_id,
            "razorpay_order_id": order_id,
        }),
    )
}

pub(super) fn refund(s: &mut Inner, payment_id: &str, body: &Value, key: Option<&str>) -> (StatusCode, Value) {
    if let Some(key) = key {
        let valid = key.len() >= 10 && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid {
            return bad_request("The idempotency key must be at least 10 characters of letters, digits, - and _", None);
        }
        if let Some((first_body, answer)) = s.refund_keys.get(key) {
            return if first_body == body {
                (StatusCode::OK, answer.clone())
            } else {
                bad_request("Different request with the same idempotency key has already been processed.", None)
            };
        }
    }
    let Some(payment) = s.payments.get(payment_id).cloned() else { return no_such_id() };
    if !matches!(payment["status"].as_str(), Some("captured")) {
        return bad_request("The payment has not been captured or is fully refunded", None);
    }
    let captured = payment["amount"].as_i64().unwrap_or(0);
    let refunded = payment["amount_refunded"].as_i64().unwrap_or(0);
    let amount = match &body["amount"] {
        Value::Null => captured - refunded,
        v => match v.as_i64() {
            Some(a) if a > 0 => a,
            _ => return bad_request("The amount must be a positive integer.", Some("amount")),
        },
    };
    if amount > captured - refunded {
        return bad_request("The refund amount provided is greater than amount captured", Some("amount"));
    }
    let notes = match check_notes(&body["notes"]) {
        Ok(n) => n,
        Err(e) => return e,
    };
    if body["receipt"].as_str().is_some_and(|r| r.chars().count() > 40) {
        return bad_request("receipt: The receipt may not be greater than 40 characters.", Some("receipt"));
    }
    let speed = body["speed"].as_str().unwrap_or("normal");
    if speed != "normal" && speed != "optimum" {
        return bad_request("speed must be normal or optimum", Some("speed"));
    }
    let id = format!("rfnd_{}", random_id(14));
    let refund = json!({
        "id": id,
        "entity": "refund",
        "amount": amount,
        "currency": payment["currency"],
        "payment_id": payment_id,
        "notes": notes,
        "receipt": body["receipt"],
        "acquirer_data": { "arn": null },
        "created_at": now(),
        "batch_id": null,
        "status": "processed",
        "speed_processed": "normal",
        "speed_requested": speed,
    });
    let total = refunded + amount;
    let p = s.payments.get_mut(payment_id).expect("payment present");
    p["amount_refunded"] = json!(total);
    p["refund_status"] = json!(if total == captured { "full" } else { "partial" });
    if total == captured {
        p["status"] = json!("refunded");
    }
    s.refunds.insert(id, refund.clone());
    s.refunds_created += 1;
    if let Some(key) = key {
        s.refund_keys.insert(key.to_owned(), (body.clone(), refund.clone()));
    }
    (StatusCode::OK, refund)
}

pub(super) fn create_customer(s: &mut Inner, body: &Value) -> (StatusCode, Value) {
    let name = body["name"].as_str();
    if name.is_some_and(|n| !(3..=50).contains(&n.chars().count())) {
        return bad_request("The name must be between 3 and 50 characters", Some("name"));
    }
    if body["email"].as_str().is_some_and(|e| e.len() > 64 || !e.contains('@')) {
        return bad_request("The email must be a valid email address.", Some("email"));
    }
    if body["contact"].as_str().is_some_and(|c| c.len() > 15) {
        return bad_request("Contact number should be at most 15 characters", Some("contact"));
    }
    let fail_existing = body["fail_existing"].as_str() != Some("0") && body["fail_existing"] != json!(0);
    let existing = s.customers.values().find(|c| {
        c["email"] == body["email"]
            && c["name"] == body["name"]
            && c["contact"] == body["contact"].as_str().map_or(Value::Null, |c| json!(c))
    });
    if let Some(existing) = existing {
        return if fail_existing {
            bad_request("Customer already exists for the merchant", None)
        } else {
            (StatusCode::OK, existing.clone())
        };
    }
    let id = format!("cust_{}", random_id(14));
    let notes = match check_notes(&body["notes"]) {
        Ok(n) => n,
        Err(e) => return e,
    };
    let customer = json!({
        "id": id, "entity": "customer", "name": body["name"], "email": body["email"],
        "contact": body["contact"], "gstin": null, "notes": notes, "created_at": now(),
    });
    s.customers.insert(id, customer.clone());
    (StatusCode::OK, customer)
}
