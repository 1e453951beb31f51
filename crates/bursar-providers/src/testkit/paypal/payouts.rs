//! Payouts batches and webhook signature verification.

use super::*;

/// A Payouts amount (`{"value", "currency"}`) in PayPal units.
pub(super) fn payout_units(amount: &Value, field: &str) -> Result<(String, u32, i64), (StatusCode, Value)> {
    let (Some(currency), Some(value)) = (amount["currency"].as_str(), amount["value"].as_str()) else {
        return Err(validation_error(field, "Required field is missing"));
    };
    let Some(places) = decimals(currency) else {
        return Err(validation_error(&format!("{field}.currency"), "Currency is not supported"));
    };
    let (int, frac) = value.split_once('.').unwrap_or((value, ""));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || (value.contains('.') && !digits(frac)) || frac.len() as u32 != places {
        return Err(validation_error(&format!("{field}.value"), "Value is invalid or has the wrong precision"));
    }
    let units: i64 = format!("{int}{frac}")
        .parse()
        .map_err(|_| validation_error(&format!("{field}.value"), "Value is too large"))?;
    if units <= 0 {
        return Err(validation_error(&format!("{field}.value"), "Value must be greater than zero"));
    }
    Ok((currency.to_owned(), places, units))
}

pub(super) fn create_payout(s: &mut Inner, body: Value) -> (StatusCode, Value) {
    let header = &body["sender_batch_header"];
    if !header.is_object() {
        return validation_error("sender_batch_header", "Required field is missing");
    }
    let sender_batch_id = header["sender_batch_id"].as_str().map(str::to_owned);
    if sender_batch_id.as_ref().is_some_and(|id| id.chars().count() > 256) {
        return validation_error("sender_batch_header.sender_batch_id", "Length must be at most 256");
    }
    if header["email_subject"].as_str().is_some_and(|v| v.chars().count() > 255) {
        return validation_error("sender_batch_header.email_subject", "Length must be at most 255");
    }
    let Some(items) = body["items"].as_array().filter(|i| !i.is_empty()) else {
        return validation_error("items", "Required field is missing");
    };
    if items.len() > 15_000 {
        return validation_error("items", "Number of items must be at most 15000");
    }
    let mut parsed = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let field = |f: &str| format!("items[{i}].{f}");
        let kind = item["recipient_type"].as_str().or_else(|| header["recipient_type"].as_str());
        if !matches!(kind, Some("EMAIL" | "PHONE" | "PAYPAL_ID")) {
            return validation_error(&field("recipient_type"), "Recipient type is missing or invalid");
        }
        let receiver = item["receiver"].as_str().unwrap_or_default();
        let email_ok = receiver.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !receiver.contains(char::is_whitespace)
        });
        if receiver.is_empty() || receiver.len() > 127 || (kind == Some("EMAIL") && !email_ok) {
            return validation_error(&field("receiver"), "Receiver is invalid or does not match with type");
        }
        let units = match payout_units(&item["amount"], &field("amount")) {
            Ok(u) => u,
            Err(e) => return e,
        };
        if item["sender_item_id"].as_str().is_some_and(|v| v.chars().count() > 63) {
            return validation_error(&field("sender_item_id"), "Length must be at most 63");
        }
        if item["note"].as_str().is_some_and(|v| v.chars().count() > 4000) {
            return validation_error(&field("note"), "Length must be at most 4000");
        }
        parsed.push((item.clone(), units));
    }
    let base = s.base_url.clone();
    if let Some(sender) = &sender_batch_id {
        let first = s.payouts.iter().find(|(_, b)| b.sender_batch_id.as_ref() == Some(sender)).map(|(id, _)| id);
        if let Some(first) = first {
            let mut refused = error(StatusCode::BAD_REQUEST, "USER_BUSINESS_ERROR", "User business error.", None);
            refused.1["details"] = json!([{
                "field": "SENDER_BATCH_ID",
                "location": "body",
                "issue": "Batch with given sender_batch_id already exists",
                "link": [{ "href": format!("{base}/v1/payments/payouts/{first}"), "rel": "self", "method": "GET",
                           "encType": "application/json" }],
            }]);
            refused.1["information_link"] =
                json!("https://developer.paypal.com/docs/api/payments.payouts-batch/#errors");
            return refused;
        }
    }
    if s.payout_refusals > 0 {
        s.payout_refusals -= 1;
        return unprocessable_named(
            "INSUFFICIENT_FUNDS",
            "Sender does not have sufficient funds. Please add funds and retry.",
        );
    }
    s.last_payout_request = Some(body.clone());
    let id = random_id(13);
    let denied = parsed.iter().any(|(item, _)| item["receiver"] == DENIED_RECEIVER);
    let (currency, places, _) = parsed[0].1.clone();
    let total: i64 = parsed.iter().map(|(_, (_, _, u))| *u).sum();
    let fee_per_item = if places == 0 { 1 } else { 25 };
    let mut stored_header = header.clone();
    if stored_header["recipient_type"].is_null() {
        stored_header.as_object_mut().expect("object").remove("recipient_type");
    }
    let self_link = json!({ "href": format!("{base}/v1/payments/payouts/{id}"), "rel": "self", "method": "GET",
                            "encType": "application/json" });
    let batch_items: Vec<Value> = parsed
        .iter()
        .map(|(item, (cur, pl, units))| {
            let item_id = random_id(13);
            let mut payout_item = json!({
                "recipient_type": item["recipient_type"].as_str().or_else(|| header["recipient_type"].as_str()),
                "amount": { "currency": cur, "value": format_units(*units, *pl) },
                "receiver": item["receiver"],
                "recipient_wallet": "PAYPAL",
            });
            for f in ["note", "sender_item_id"] {
                if let Some(v) = item[f].as_str() {
                    payout_item[f] = json!(v);
                }
            }
            let mut out = json!({
                "payout_item_id": item_id,
                "transaction_status": if denied { "FAILED" } else { "PENDING" },
                "payout_item_fee": { "currency": cur, "value": format_units(fee_per_item, *pl) },
                "payout_batch_id": id,
                "payout_item": payout_item,
                "links": [{ "href": format!("{base}/v1/payments/payouts-item/{item_id}"), "rel": "item",
                            "method": "GET", "encType": "application/json" }],
            });
            if denied {
                out["errors"] = json!({ "name": "RECEIVER_ACCOUNT_LOCKED",
                                        "message": "Receiver's account is locked or inactive" });
            }
            out
        })
        .collect();
    let status = if denied { "DENIED" } else { "PENDING" };
    let created = now_string();
    let batch = json!({
        "batch_header": {
            "payout_batch_id": id,
            "batch_status": status,
            "time_created": created,
            "sender_batch_header": stored_header,
            "amount": { "currency": currency, "value": format_units(total, places) },
            "fees": { "currency": currency, "value": format_units(fee_per_item * parsed.len() as i64, places) },
        },
        "items": batch_items,
        "total_items": parsed.len(),
        "total_pages": 1,
        "links": [self_link.clone()],
    });
    let answer = json!({
        "batch_header": {
            "payout_batch_id": id,
            "batch_status": status,
            "sender_batch_header": batch["batch_header"]["sender_batch_header"],
        },
        "links": [self_link],
    });
    s.payouts.insert(id, PayoutBatch { json: batch, sender_batch_id, stage: if denied { 2 } else { 0 } });
    s.payouts_created += 1;
    (StatusCode::CREATED, answer)
}

pub(super) fn unprocessable_named(name: &str, message: &str) -> (StatusCode, Value) {
    let (status, mut body) = error(StatusCode::UNPROCESSABLE_ENTITY, name, message, None);
    body["information_link"] = json!("https://developer.paypal.com/docs/api/payments.payouts-batch/#errors");
    (status, body)
}

/// One step of PayPal's processing: `PENDING` → `PROCESSING` → `SUCCESS`,
/// the items paid (or, to [`RETURNED_RECEIVER`], returned).
pub(super) fn advance_payout(batch: &mut PayoutBatch) {
    batch.stage += 1;
    let header = &mut batch.json["batch_header"];
    if batch.stage == 1 {
        header["batch_status"] = json!("PROCESSING");
        return;
    }
    header["batch_status"] = json!("SUCCESS");
    header["time_completed"] = json!(now_string());
    for item in batch.json["items"].as_array_mut().into_iter().flatten() {
        item["time_processed"] = json!(now_string());
        if item["payout_item"]["receiver"] == RETURNED_RECEIVER {
            item["transaction_status"] = json!("RETURNED");
            item["errors"] = json!({ "name": "RECEIVER_UNREGISTERED", "message": "Receiver is unregistered" });
        } else {
            item["transaction_status"] = json!("SUCCESS");
            item["transaction_id"] = json!(random_id(17));
            item["activity_id"] = json!(random_id(17));
        }
    }
}

pub(super) fn verify(s: &mut Inner, body: &Value) -> (StatusCode, Value) {
    let fields = ["auth_algo", "cert_url", "transmission_id", "transmission_sig", "transmission_time", "webhook_id"];
    if fields.iter().any(|f| body[*f].as_str().is_none_or(str::is_empty)) || !body["webhook_event"].is_object() {
        return error(
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
            "Invalid request - see details",
            Some(("MISSING_REQUIRED_PARAMETER", "A required field is missing.")),
        );
    }
    let genuine = body["webhook_id"] == WEBHOOK_ID
        && body["auth_algo"] == "SHA256withRSA"
        && body["transmission_id"].as_str().and_then(|id| s.transmissions.get(id)).is_some_and(|t| {
            body["transmission_sig"] == t.sig.as_str()
                && body["transmission_time"] == t.time.as_str()
                && body["cert_url"] == t.cert_url.as_str()
                && body["webhook_event"] == t.event
        });
    (StatusCode::OK, json!({ "verification_status": if genuine { "SUCCESS" } else { "FAILURE" } }))
}
