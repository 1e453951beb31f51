//! Stripe objects as the fake builds them: skeletons from the spec, payment
//! methods, charges and intent transitions.

use super::*;

/// An object of a spec schema with every nullable property null, the
/// object tag, `created` and `livemode` set.
pub(super) fn skeleton(schema: &str) -> Value {
    let spec = subset_spec();
    let mut obj = Map::new();
    if let Some(props) = spec.schema(schema).and_then(|s| s.get("properties")).and_then(Value::as_object) {
        for (k, p) in props {
            if p.get("nullable") == Some(&Value::Bool(true)) {
                obj.insert(k.clone(), Value::Null);
            }
        }
    }
    let has = |k: &str| spec.schema(schema).and_then(|s| s["properties"].get(k)).is_some();
    obj.insert("object".into(), json!(schema));
    if has("created") {
        obj.insert("created".into(), json!(now()));
    }
    if has("livemode") {
        obj.insert("livemode".into(), json!(false));
    }
    Value::Object(obj)
}

/// Stores `obj` (with a hidden insertion sequence stripped from answers).
pub(super) fn finish(d: &mut Data, mut obj: Value) -> Value {
    let id = obj["id"].as_str().expect("objects have ids").to_string();
    obj["_seq"] = json!(d.objects.len());
    d.objects.insert(id, obj.clone());
    public(obj)
}

pub(super) fn public(mut obj: Value) -> Value {
    if let Some(o) = obj.as_object_mut() {
        o.remove("_seq");
    }
    obj
}

pub(super) fn card_of(token: &str) -> (&'static str, &'static str) {
    TEST_METHODS.iter().find(|(t, _, _)| *t == token).map(|(_, b, l)| (*b, *l)).unwrap_or(("visa", "4242"))
}

pub(super) fn create_payment_method(d: &mut Data, token: &str, behaviour: Behaviour) -> String {
    let (brand, last4) = card_of(token);
    let id = new_id("pm");
    let mut pm = skeleton("payment_method");
    pm["id"] = json!(id);
    pm["type"] = json!("card");
    pm["billing_details"] = json!({"address": {"city": null, "country": null, "line1": null, "line2": null, "postal_code": null, "state": null},
               "email": null, "name": null, "phone": null});
    pm["card"] = json!({
        "brand": brand, "checks": {"address_line1_check": null, "address_postal_code_check": null, "cvc_check": "pass"},
        "country": "US", "exp_month": TEST_CARD_EXP.0, "exp_year": TEST_CARD_EXP.1,
        "fingerprint": Alphanumeric.sample_string(&mut rand::rng(), 16), "funding": "credit",
        "generated_from": null, "last4": last4,
        "networks": {"available": [brand], "preferred": null},
        "three_d_secure_usage": {"supported": true}, "wallet": null,
    });
    pm["metadata"] = json!({});
    d.behaviours.insert(id.clone(), behaviour);
    finish(d, pm);
    id
}

pub(super) fn create_charge(d: &mut Data, pi: &Value, status: &str, failure: Option<(&str, &str)>) -> String {
    let id = new_id("ch");
    let pm_id = pi["payment_method"].as_str().unwrap_or_default().to_string();
    let card = d.objects.get(&pm_id).map(|pm| pm["card"].clone()).unwrap_or(Value::Null);
    let mut ch = skeleton("charge");
    let amount = pi["amount"].clone();
    ch["id"] = json!(id);
    ch["amount"] = amount.clone();
    ch["amount_captured"] = if status == "succeeded" { amount } else { json!(0) };
    ch["amount_refunded"] = json!(0);
    ch["billing_details"] = json!({"address": null, "email": null, "name": null, "phone": null});
    ch["captured"] = json!(status == "succeeded");
    ch["currency"] = pi["currency"].clone();
    ch["customer"] = pi["customer"].clone();
    ch["disputed"] = json!(false);
    ch["metadata"] = pi["metadata"].clone();
    ch["paid"] = json!(status == "succeeded");
    ch["payment_intent"] = pi["id"].clone();
    ch["payment_method"] = json!(pm_id);
    ch["payment_method_details"] = json!({
        "type": "card",
        "card": {
            "brand": card["brand"], "checks": card["checks"], "country": card["country"],
            "exp_month": card["exp_month"], "exp_year": card["exp_year"], "fingerprint": card["fingerprint"],
            "funding": card["funding"], "installments": null, "last4": card["last4"], "mandate": null,
            "network": card["brand"], "network_token": null, "three_d_secure": null, "wallet": null,
        }
    });
    ch["refunded"] = json!(false);
    ch["status"] = json!(status);
    if let Some((code, message)) = failure {
        ch["failure_code"] = json!(code);
        ch["failure_message"] = json!(message);
        ch["outcome"] = json!({"network_status": "declined_by_network", "reason": code, "risk_level": "normal",
                               "seller_message": "The bank did not return any further details with this decline.",
                               "type": "issuer_declined"});
    } else {
        ch["outcome"] = json!({"network_status": "approved_by_network", "reason": null, "risk_level": "normal",
                               "seller_message": "Payment complete.", "type": "authorized"});
    }
    finish(d, ch);
    id
}

pub(super) fn succeed_intent(d: &mut Data, pi_id: &str) {
    let pi = d.objects.get(pi_id).cloned().expect("intent exists");
    let charge = create_charge(d, &pi, "succeeded", None);
    let pi = d.objects.get_mut(pi_id).expect("intent exists");
    pi["status"] = json!("succeeded");
    pi["amount_received"] = pi["amount"].clone();
    pi["latest_charge"] = json!(charge);
    pi["last_payment_error"] = Value::Null;
    pi["next_action"] = Value::Null;
}

/// Records a decline on the intent and returns Stripe's error object.
pub(super) fn fail_intent(d: &mut Data, pi_id: &str, code: &str, decline_code: &str, message: &str) -> Value {
    let pi = d.objects.get(pi_id).cloned().expect("intent exists");
    let charge = create_charge(d, &pi, "failed", Some((decline_code, message)));
    let pm = d.objects.get(pi["payment_method"].as_str().unwrap_or_default()).cloned().map(public);
    let error = json!({
        "charge": charge,
        "code": code,
        "decline_code": decline_code,
        "doc_url": format!("https://stripe.com/docs/error-codes/{code}"),
        "message": message,
        "payment_method": pm,
        "type": "card_error",
    });
    let pi = d.objects.get_mut(pi_id).expect("intent exists");
    pi["status"] = json!("requires_payment_method");
    pi["latest_charge"] = json!(charge);
    pi["last_payment_error"] = error.clone();
    pi["payment_method"] = Value::Null;
    error
}
