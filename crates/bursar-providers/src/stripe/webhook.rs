//! Webhooks: the `Stripe-Signature` HMAC and the mapping of Stripe events
//! onto [`WebhookKind`]s.

use super::*;

type HmacSha256 = Hmac<Sha256>;

fn signature(secret: &str, timestamp: i64, body: &[u8]) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().into()
}

/// The `Stripe-Signature` header value Stripe would send for `body` signed
/// at `timestamp` (Unix seconds) with the endpoint secret: `t=…,v1=…`.
pub fn sign_webhook(secret: &str, timestamp: i64, body: &[u8]) -> String {
    format!("t={timestamp},v1={}", hex::encode(signature(secret, timestamp, body)))
}

/// Checks a `Stripe-Signature` header (`t=…,v1=…[,v1=…][,v0=…]`): one of the
/// `v1` signatures must be the HMAC-SHA256 of `"{t}.{body}"` under one of the
/// secrets (compared in constant time), and `t` must be within `tolerance` of
/// `now` in either direction. Other schemes (`v0`) are ignored.
pub fn verify_signature(
    header: &str,
    body: &[u8],
    secrets: &[String],
    tolerance: Duration,
    now: jiff::Timestamp,
) -> Result<(), WebhookError> {
    let mut timestamp: Option<i64> = None;
    let mut candidates: Vec<Vec<u8>> = Vec::new();
    for item in header.split(',') {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let (key, value) = item.split_once('=').ok_or(WebhookError::MalformedSignature)?;
        match key.trim() {
            "t" => {
                let t = value.trim().parse::<i64>().map_err(|_| WebhookError::MalformedSignature)?;
                if timestamp.replace(t).is_some_and(|previous| previous != t) {
                    return Err(WebhookError::MalformedSignature);
                }
            }
            // A value that is not 32 hex bytes can never match.
            "v1" => candidates.extend(hex::decode(value.trim()).ok().filter(|s| s.len() == 32)),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(WebhookError::MalformedSignature)?;
    let mut matched = false;
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        let expected = signature(secret, timestamp, body);
        for candidate in &candidates {
            matched |= bool::from(expected.as_slice().ct_eq(candidate.as_slice()));
        }
    }
    if !matched {
        return Err(WebhookError::BadSignature);
    }
    let age = now.as_second().saturating_sub(timestamp).unsigned_abs();
    if age > tolerance.as_secs() {
        return Err(WebhookError::Stale);
    }
    Ok(())
}

#[derive(Deserialize)]
struct RawEvent {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    created: i64,
    data: RawEventData,
}

#[derive(Deserialize)]
struct RawEventData {
    object: Value,
}

/// Maps a (verified) Stripe Event onto Bursar's vocabulary: what both
/// [`Connector::verify_webhook`] (after the signature check) and
/// [`Connector::parse_webhook`] return. The event id, type and creation time
/// all come from the body.
pub fn parse_event(body: &[u8]) -> Result<WebhookEvent, WebhookError> {
    let raw: RawEvent = serde_json::from_slice(body).map_err(|e| WebhookError::BadPayload(e.to_string()))?;
    let created = jiff::Timestamp::from_second(raw.created).map_err(|e| WebhookError::BadPayload(e.to_string()))?;
    let kind = map_event(&raw.kind, &raw.data.object).map_err(WebhookError::BadPayload)?;
    Ok(WebhookEvent { event_id: raw.id, event_type: raw.kind, created, kind })
}

fn need_str(v: &Value, key: &str) -> Result<String, String> {
    str_at(v, key).map(str::to_string).ok_or_else(|| format!("the event object has no `{key}`"))
}

fn need_money(v: &Value, key: &str) -> Result<Money, String> {
    money_of(v, key).ok_or_else(|| format!("the event object has no readable `{key}` / `currency`"))
}

fn metadata_str(v: &Value, key: &str) -> Option<String> {
    v.get("metadata").and_then(|m| m.get(key)).and_then(Value::as_str).map(str::to_string)
}

fn map_event(kind: &str, obj: &Value) -> Result<WebhookKind, String> {
    Ok(match kind {
        "payment_intent.succeeded" => WebhookKind::PaymentSucceeded {
            payment_id: metadata_str(obj, "payment_id"),
            provider_payment_id: need_str(obj, "id")?,
            amount: money_of(obj, "amount_received")
                .filter(|m| m.minor > 0)
                .map(Ok)
                .unwrap_or_else(|| need_money(obj, "amount"))?,
            method: if method_saved(obj) || obj.get("payment_method").is_some_and(Value::is_object) {
                intent_method(obj)
            } else {
                None
            },
            provider_customer: id_of(obj.get("customer")),
        },
        "checkout.session.completed" | "checkout.session.async_payment_succeeded" => {
            if str_at(obj, "payment_status") != Some("paid") {
                return Ok(WebhookKind::Other);
            }
            WebhookKind::PaymentSucceeded {
                payment_id: str_at(obj, "client_reference_id")
                    .map(str::to_string)
                    .or_else(|| metadata_str(obj, "payment_id")),
                provider_payment_id: id_of(obj.get("payment_intent")).map(Ok).unwrap_or_else(|| need_str(obj, "id"))?,
                amount: need_money(obj, "amount_total")?,
                method: session_method(obj),
                provider_customer: id_of(obj.get("customer")),
            }
        }
        "payment_intent.payment_failed" => {
            let err = obj.get("last_payment_error").filter(|e| e.is_object());
            WebhookKind::PaymentFailed {
                payment_id: metadata_str(obj, "payment_id"),
                provider_payment_id: need_str(obj, "id")?,
                code: decline_code(err.and_then(|e| str_at(e, "code")), err.and_then(|e| str_at(e, "decline_code"))),
                message: err.and_then(|e| str_at(e, "message")).unwrap_or("the payment failed").to_string(),
            }
        }
        "checkout.session.async_payment_failed" => WebhookKind::PaymentFailed {
            payment_id: str_at(obj, "client_reference_id")
                .map(str::to_string)
                .or_else(|| metadata_str(obj, "payment_id")),
            provider_payment_id: id_of(obj.get("payment_intent")).map(Ok).unwrap_or_else(|| need_str(obj, "id"))?,
            code: "async_payment_failed".to_string(),
            message: "the delayed payment failed".to_string(),
        },
        "refund.created" | "refund.updated" | "charge.refund.updated" => {
            if str_at(obj, "status") != Some("succeeded") {
                return Ok(WebhookKind::Other);
            }
            refund_succeeded(obj, None)?
        }
        "charge.refunded" => {
            // The charge lists its refunds only when they are included; the
            // newest succeeded one is the refund that triggered the event.
            let refunds = obj.get("refunds").and_then(|r| r.get("data")).and_then(Value::as_array);
            let newest = refunds.and_then(|list| {
                list.iter()
                    .filter(|r| str_at(r, "status") == Some("succeeded"))
                    .max_by_key(|r| r.get("created").and_then(Value::as_i64))
            });
            match newest {
                Some(refund) => refund_succeeded(refund, Some(obj))?,
                None => WebhookKind::Other,
            }
        }
        "charge.dispute.created" => WebhookKind::DisputeOpened {
            provider_payment_id: id_of(obj.get("payment_intent"))
                .or_else(|| id_of(obj.get("charge")))
                .ok_or_else(|| "the dispute names no payment".to_string())?,
            amount: need_money(obj, "amount")?,
            reason: str_at(obj, "reason").unwrap_or("general").to_string(),
        },
        _ => WebhookKind::Other,
    })
}

fn refund_succeeded(refund: &Value, charge: Option<&Value>) -> Result<WebhookKind, String> {
    Ok(WebhookKind::RefundSucceeded {
        refund_id: metadata_str(refund, "refund_id"),
        provider_payment_id: id_of(refund.get("payment_intent"))
            .or_else(|| charge.and_then(|c| id_of(c.get("payment_intent"))))
            .or_else(|| id_of(refund.get("charge")))
            .ok_or_else(|| "the refund names no payment".to_string())?,
        provider_refund_id: need_str(refund, "id")?,
        amount: need_money(refund, "amount")?,
    })
}
