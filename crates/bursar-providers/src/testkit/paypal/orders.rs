//! Orders: creation, capture and refunds.

use super::*;

pub(super) const DECLINED: &str =
    "The instrument presented was either declined by the processor or bank, or it can't be used for this payment.";

pub(super) fn create_order(s: &mut Inner, body: Value) -> (StatusCode, Value) {
    if body["intent"] != "CAPTURE" {
        return invalid_request("INVALID_PARAMETER_VALUE", "intent must be CAPTURE (the double supports no other).");
    }
    let Some(units) = body["purchase_units"].as_array().filter(|u| !u.is_empty()) else {
        return invalid_request("MISSING_REQUIRED_PARAMETER", "purchase_units is required.");
    };
    let unit = units[0].clone();
    let (currency, places, amount) = match amount_units(&unit["amount"]) {
        Ok(parsed) => parsed,
        Err(e) => return e,
    };
    for (field, max) in [("reference_id", 256), ("custom_id", 127), ("invoice_id", 127), ("description", 127)] {
        if unit[field].as_str().is_some_and(|v| v.chars().count() > max) {
            return invalid_request("INVALID_STRING_MAX_LENGTH", &format!("{field} is too long."));
        }
    }
    if let Some(invoice) = unit["invoice_id"].as_str() {
        let duplicate = s.orders.values().any(|o| {
            o.json["purchase_units"][0]["invoice_id"] == invoice && o.json["purchase_units"][0]["payments"].is_object()
        });
        if duplicate {
            return unprocessable("DUPLICATE_INVOICE_ID", "Duplicate Invoice ID detected.");
        }
    }
    let paypal = &body["payment_source"]["paypal"];
    let vault_id = paypal["vault_id"].as_str();
    let behaviour = match vault_id {
        Some(id) => match s.vaults.get(id) {
            Some(b) => Some(*b),
            None => return unprocessable("INVALID_RESOURCE_ID", "The vault_id is not valid for this merchant."),
        },
        None => None,
    };
    if behaviour.is_none() && paypal.is_object() {
        let context = &paypal["experience_context"];
        if context["return_url"].as_str().is_none_or(str::is_empty)
            || context["cancel_url"].as_str().is_none_or(str::is_empty)
        {
            return invalid_request(
                "MISSING_REQUIRED_PARAMETER",
                "experience_context.return_url and cancel_url are required.",
            );
        }
    }
    let store = &paypal["attributes"]["vault"]["store_in_vault"];
    if !store.is_null() && store != "ON_SUCCESS" {
        return invalid_request("INVALID_PARAMETER_VALUE", "store_in_vault must be ON_SUCCESS.");
    }
    if behaviour == Some(VaultBehaviour::Declines) {
        return unprocessable("INSTRUMENT_DECLINED", DECLINED);
    }
    s.last_order_request = Some(body.clone());
    let id = random_id(17);
    let base = s.base_url.clone();
    let mut stored_unit = json!({
        "reference_id": unit["reference_id"].as_str().unwrap_or("default"),
        "amount": money(&currency, places, amount),
        "payee": { "email_address": "merchant@example.com", "merchant_id": "FAKEMERCHANT1" },
    });
    for field in ["custom_id", "invoice_id", "description"] {
        if let Some(v) = unit[field].as_str() {
            stored_unit[field] = json!(v);
        }
    }
    let self_link = link(format!("{base}/v2/checkout/orders/{id}"), "self", "GET");
    let mut order = json!({
        "id": id,
        "intent": "CAPTURE",
        "purchase_units": [stored_unit],
        "create_time": now_string(),
    });
    let (status, links) = match behaviour {
        Some(VaultBehaviour::PayerAction) => (
            "PAYER_ACTION_REQUIRED",
            vec![self_link, link(format!("{base}/checkoutnow?token={id}"), "payer-action", "GET")],
        ),
        Some(_) => ("COMPLETED", vec![self_link]),
        None if paypal.is_object() => (
            "PAYER_ACTION_REQUIRED",
            vec![self_link, link(format!("{base}/checkoutnow?token={id}"), "payer-action", "GET")],
        ),
        None => (
            "CREATED",
            vec![
                self_link,
                link(format!("{base}/checkoutnow?token={id}"), "approve", "GET"),
                link(format!("{base}/v2/checkout/orders/{id}"), "update", "PATCH"),
                link(format!("{base}/v2/checkout/orders/{id}/capture"), "capture", "POST"),
            ],
        ),
    };
    order["status"] = json!(status);
    order["links"] = json!(links);
    order["payment_source"] = json!({ "paypal": {} });
    if let Some(vault) = vault_id {
        order["payment_source"]["paypal"] = json!({
            "email_address": "buyer@example.com",
            "account_id": "TESTPAYER01",
            "attributes": { "vault": { "id": vault, "status": "VAULTED" } },
        });
    }
    let wants_vault = store == "ON_SUCCESS";
    let vault_customer = paypal["attributes"]["customer"]["id"].as_str().map(str::to_owned);
    let mut record =
        Order { json: order, buyer: None, vault_on_approval: false, wants_vault, vault_customer, refunded_units: 0 };
    s.orders_created += 1;
    if let Some(b @ (VaultBehaviour::Pays | VaultBehaviour::CaptureDeclined)) = behaviour {
        add_capture(s, &mut record, b == VaultBehaviour::Pays);
    }
    let answer = record.json.clone();
    s.orders.insert(id, record);
    (StatusCode::CREATED, answer)
}

/// Records a capture on the order and marks it `COMPLETED`.
pub(super) fn add_capture(s: &mut Inner, order: &mut Order, completed: bool) {
    let id = random_id(17);
    let order_id = order.json["id"].as_str().unwrap_or_default().to_owned();
    let amount = order.json["purchase_units"][0]["amount"].clone();
    let (currency, places, units) = amount_units(&amount).expect("stored amounts are valid");
    let fee = units * 349 / 10_000 + if places == 0 { 40 } else { 49 };
    let base = s.base_url.clone();
    let mut capture = json!({
        "id": id,
        "status": if completed { "COMPLETED" } else { "DECLINED" },
        "amount": amount,
        "final_capture": true,
        "create_time": now_string(),
        "update_time": now_string(),
        "links": [
            link(format!("{base}/v2/payments/captures/{id}"), "self", "GET"),
            link(format!("{base}/v2/payments/captures/{id}/refund"), "refund", "POST"),
            link(format!("{base}/v2/checkout/orders/{order_id}"), "up", "GET"),
        ],
    });
    for field in ["custom_id", "invoice_id"] {
        if let Some(v) = order.json["purchase_units"][0][field].as_str() {
            capture[field] = json!(v);
        }
    }
    if completed {
        capture["seller_protection"] =
            json!({ "status": "ELIGIBLE", "dispute_categories": ["ITEM_NOT_RECEIVED", "UNAUTHORIZED_TRANSACTION"] });
        capture["seller_receivable_breakdown"] = json!({
            "gross_amount": money(&currency, places, units),
            "paypal_fee": money(&currency, places, fee),
            "net_amount": money(&currency, places, units - fee),
        });
    } else {
        capture["processor_response"] = json!({ "response_code": "5400", "avs_code": "G", "cvv_code": "P" });
        capture["status_details"] = json!({ "reason": "DECLINED_BY_RISK_FRAUD_FILTERS" });
    }
    order.json["purchase_units"][0]["payments"] = json!({ "captures": [capture] });
    order.json["status"] = json!("COMPLETED");
    order.json["update_time"] = json!(now_string());
    s.captures.insert(id, order_id);
    s.captures_created += 1;
}

pub(super) fn capture(s: &mut Inner, order_id: &str) -> (StatusCode, Value) {
    let Some(mut order) = s.orders.remove(order_id) else { return not_found() };
    let answer = match order.json["status"].as_str() {
        Some("COMPLETED") => unprocessable(
            "ORDER_ALREADY_CAPTURED",
            "Order already captured. If 'intent=CAPTURE' only one capture per order is allowed.",
        ),
        Some("APPROVED") => match order.buyer {
            Some(Buyer::Declines) => unprocessable("INSTRUMENT_DECLINED", DECLINED),
            _ => {
                add_capture(s, &mut order, true);
                let mut paypal = json!({
                    "email_address": "buyer@example.com",
                    "account_id": "TESTPAYER01",
                    "name": { "given_name": "Test", "surname": "Buyer" },
                });
                if order.wants_vault && order.vault_on_approval {
                    let vault_id = random_id(8).to_ascii_lowercase();
                    s.vaults.insert(vault_id.clone(), VaultBehaviour::Pays);
                    // The wallet joins the customer the order named, else a
                    // new vault customer.
                    let customer = order.vault_customer.clone().unwrap_or_else(|| random_id(10));
                    paypal["attributes"] = json!({
                        "vault": { "id": vault_id, "status": "VAULTED", "customer": { "id": customer } }
                    });
                }
                order.json["payment_source"]["paypal"] = paypal;
                (StatusCode::CREATED, order.json.clone())
            }
        },
        _ => unprocessable("ORDER_NOT_APPROVED", "Payer has not yet approved the Order for payment."),
    };
    s.orders.insert(order_id.to_owned(), order);
    answer
}

pub(super) fn refund(s: &mut Inner, capture_id: &str, body: &Value) -> (StatusCode, Value) {
    let Some(order_id) = s.captures.get(capture_id).cloned() else { return not_found() };
    let base = s.base_url.clone();
    let Some(order) = s.orders.get_mut(&order_id) else { return not_found() };
    let capture = &order.json["purchase_units"][0]["payments"]["captures"][0];
    if !matches!(capture["status"].as_str(), Some("COMPLETED" | "PARTIALLY_REFUNDED")) {
        let issue = if capture["status"] == "REFUNDED" { "CAPTURE_FULLY_REFUNDED" } else { "REFUND_NOT_ALLOWED" };
        return unprocessable(issue, "The capture cannot be refunded.");
    }
    let (currency, places, captured) = amount_units(&capture["amount"]).expect("stored amounts are valid");
    let remaining = captured - order.refunded_units;
    let units = if body["amount"].is_null() {
        remaining
    } else {
        match amount_units(&body["amount"]) {
            Ok((c, _, _)) if c != currency => {
                return unprocessable("CURRENCY_MISMATCH", "Refund must be in the same currency as the capture.")
            }
            Ok((_, _, u)) => u,
            Err(e) => return e,
        }
    };
    if units <= 0 || units > remaining {
        return unprocessable(
            "REFUND_AMOUNT_EXCEEDED",
            "The refund amount must be less than or equal to the capture amount that has not yet been refunded.",
        );
    }
    order.refunded_units += units;
    let fully = order.refunded_units == captured;
    let capture = &mut order.json["purchase_units"][0]["payments"]["captures"][0];
    capture["status"] = json!(if fully { "REFUNDED" } else { "PARTIALLY_REFUNDED" });
    let id = random_id(17);
    let mut refund = json!({
        "id": id,
        "status": "COMPLETED",
        "amount": money(&currency, places, units),
        "create_time": now_string(),
        "update_time": now_string(),
        "links": [
            link(format!("{base}/v2/payments/refunds/{id}"), "self", "GET"),
            link(format!("{base}/v2/payments/captures/{capture_id}"), "up", "GET"),
        ],
    });
    for field in ["custom_id", "invoice_id", "note_to_payer"] {
        if let Some(v) = body[field].as_str() {
            refund[field] = json!(v);
        }
    }
    if let Some(v) = capture["invoice_id"].as_str().filter(|_| refund["invoice_id"].is_null()) {
        refund["invoice_id"] = json!(v);
    }
    s.refunds.insert(id, refund.clone());
    s.refunds_created += 1;
    (StatusCode::CREATED, refund)
}

pub(super) fn validation_error(field: &str, issue: &str) -> (StatusCode, Value) {
    let (status, mut body) = error(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", "Invalid request - see details", None);
    body["details"] = json!([{ "field": field, "location": "body", "issue": issue }]);
    body["information_link"] = json!("https://developer.paypal.com/docs/api/payments.payouts-batch/#errors");
    (status, body)
}
