//! The operations: customers, Checkout Sessions, PaymentIntents, transfers,
//! refunds, retrieval, expansion and search.

use super::*;

/// Checks an amount the way Stripe does for the currency (lower-case code).
pub(super) fn check_amount(amount: i64, currency: &str, param: &str) -> Result<(), Answer> {
    if amount < 1 {
        return Err(error(
            400,
            "invalid_request_error",
            "This value must be greater than or equal to 1.",
            Some("parameter_invalid_integer"),
            Some(param),
        ));
    }
    if ["bhd", "jod", "kwd", "omr", "tnd"].contains(&currency) && amount % 10 != 0 {
        return Err(error(
            400,
            "invalid_request_error",
            format!("Invalid amount. Amounts in {} must end in 0.", currency.to_uppercase()),
            Some("amount_invalid"),
            Some(param),
        ));
    }
    if ["isk", "ugx"].contains(&currency) && amount % 100 != 0 {
        return Err(error(
            400,
            "invalid_request_error",
            format!(
                "Invalid amount. Currency {} has become effectively zero-decimal and charged amounts must be evenly \
                 divisible by 100. See https://stripe.com/docs/currencies#special-cases for more information.",
                currency.to_uppercase()
            ),
            Some("invalid_charge_amount_no_decimal_compatible"),
            Some(param),
        ));
    }
    Ok(())
}

pub(super) fn check_currency(currency: &str) -> Result<(), Answer> {
    if currency.len() == 3 && currency.bytes().all(|b| b.is_ascii_lowercase()) {
        Ok(())
    } else {
        Err(invalid(
            format!("Invalid currency: {currency}. Stripe currently supports these currencies: usd, eur, …"),
            Some("currency"),
        ))
    }
}

pub(super) fn int(tree: &Node, key: &str) -> Option<i64> {
    tree.str(key).and_then(|s| s.parse().ok())
}

pub(super) fn ok(body: Value) -> Answer {
    Answer { status: 200, body }
}

pub(super) fn create_customer(d: &mut Data, t: &Node) -> Answer {
    let mut c = skeleton("customer");
    c["id"] = json!(new_id("cus"));
    c["email"] = json!(t.str("email"));
    c["name"] = json!(t.str("name"));
    c["phone"] = json!(t.str("phone"));
    if let Some(Node::Map(_)) = t.get("address") {
        let field = |k: &str| {
            json!(t.path(&["address", k]).and_then(|n| if let Node::Leaf(s) = n { Some(s.clone()) } else { None }))
        };
        c["address"] = json!({"city": field("city"), "country": field("country"), "line1": field("line1"),
                              "line2": field("line2"), "postal_code": field("postal_code"), "state": field("state")});
    }
    c["balance"] = json!(0);
    c["delinquent"] = json!(false);
    c["invoice_prefix"] = json!(Alphanumeric.sample_string(&mut rand::rng(), 8).to_uppercase());
    c["invoice_settings"] =
        json!({"custom_fields": null, "default_payment_method": null, "footer": null, "rendering_options": null});
    c["metadata"] = Value::Object(t.string_map("metadata"));
    c["next_invoice_sequence"] = json!(1);
    c["preferred_locales"] = json!([]);
    c["tax_exempt"] = json!("none");
    ok(finish(d, c))
}

pub(super) fn create_session(d: &mut Data, t: &Node, base: &str) -> Answer {
    let mode = t.str("mode").unwrap_or_default();
    if mode != "payment" {
        return invalid(format!("The double implements Checkout in payment mode only, not `{mode}`."), Some("mode"));
    }
    let customer = t.str("customer");
    if let Some(c) = customer {
        if !d.objects.contains_key(c) {
            return missing("customer", c, Some("customer"));
        }
        if t.get("customer_email").is_some() {
            return invalid(
                "You may only specify one of these parameters: customer, customer_email.",
                Some("customer_email"),
            );
        }
        if t.get("customer_creation").is_some() {
            return invalid(
                "`customer_creation` can only be used when `customer` is not set.",
                Some("customer_creation"),
            );
        }
    }
    let items = t.get("line_items").map(Node::items).unwrap_or_default();
    if items.is_empty() {
        return invalid("You must specify `line_items` in `payment` mode.", Some("line_items"));
    }
    let mut total = 0i64;
    let mut currency: Option<String> = None;
    for (i, item) in items.iter().enumerate() {
        let Some(price) = item.get("price_data") else {
            return invalid(
                "The double supports `price_data` line items only.",
                Some(&format!("line_items[{i}][price]")),
            );
        };
        let cur = price.str("currency").unwrap_or_default().to_string();
        if let Err(a) = check_currency(&cur) {
            return a;
        }
        let Some(unit) = price.str("unit_amount").and_then(|s| s.parse::<i64>().ok()) else {
            return invalid(
                "You must specify either `unit_amount` or `unit_amount_decimal`.",
                Some(&format!("line_items[{i}][price_data][unit_amount]")),
            );
        };
        if price.get("product").is_none() && price.get("product_data").is_none() {
            return invalid(
                "You must specify either `product` or `product_data`.",
                Some(&format!("line_items[{i}][price_data]")),
            );
        }
        let quantity = item.str("quantity").and_then(|s| s.parse::<i64>().ok()).unwrap_or(0);
        if quantity < 1 {
            return invalid(
                "Quantity is required. Add `quantity` to `line_items`.",
                Some(&format!("line_items[{i}][quantity]")),
            );
        }
        if currency.as_ref().is_some_and(|c| *c != cur) {
            return invalid("All line items must use the same currency.", Some("line_items"));
        }
        total += unit * quantity;
        currency = Some(cur);
    }
    let currency = currency.unwrap_or_default();
    if let Err(a) = check_amount(total, &currency, "line_items[0][price_data][unit_amount]") {
        return a;
    }
    let id = new_id("cs");
    let mut cs = skeleton("checkout.session");
    cs["id"] = json!(id);
    cs["amount_subtotal"] = json!(total);
    cs["amount_total"] = json!(total);
    cs["automatic_tax"] = json!({"enabled": false, "status": null});
    cs["cancel_url"] = json!(t.str("cancel_url"));
    cs["client_reference_id"] = json!(t.str("client_reference_id"));
    cs["currency"] = json!(currency);
    cs["custom_fields"] = json!([]);
    cs["custom_text"] = json!({"shipping_address": null, "submit": null});
    cs["customer"] = json!(customer);
    cs["customer_creation"] =
        json!(t.str("customer_creation").or(customer.map(|_| "if_required")).unwrap_or("if_required"));
    cs["customer_email"] = json!(t.str("customer_email"));
    cs["expires_at"] = json!(now() + 86_400);
    cs["metadata"] = Value::Object(t.string_map("metadata"));
    cs["mode"] = json!("payment");
    cs["payment_method_collection"] = json!("always");
    let types = t.strings("payment_method_types");
    cs["payment_method_types"] = json!(if types.is_empty() { vec!["card".to_string()] } else { types });
    cs["payment_status"] = json!("unpaid");
    cs["phone_number_collection"] = json!({"enabled": false});
    cs["shipping_options"] = json!([]);
    cs["status"] = json!("open");
    cs["success_url"] = json!(t.str("success_url"));
    cs["total_details"] = json!({"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0});
    cs["url"] = json!(format!("{base}/c/pay/{id}"));
    let pid = t.get("payment_intent_data");
    d.session_intent.insert(
        id.clone(),
        SessionIntentData {
            metadata: pid.map(|p| p.string_map("metadata")).unwrap_or_default(),
            description: pid.and_then(|p| p.str("description")).map(str::to_string),
            setup_future_usage: pid.and_then(|p| p.str("setup_future_usage")).map(str::to_string),
        },
    );
    ok(finish(d, cs))
}

pub(super) fn create_intent(d: &mut Data, t: &Node, base: &str) -> Answer {
    let currency = t.str("currency").unwrap_or_default().to_string();
    if let Err(a) = check_currency(&currency) {
        return a;
    }
    let amount = int(t, "amount").unwrap_or_default();
    if let Err(a) = check_amount(amount, &currency, "amount") {
        return a;
    }
    let customer = t.str("customer").map(str::to_string);
    if let Some(c) = &customer {
        if !d.objects.contains_key(c) {
            return missing("customer", c, Some("customer"));
        }
    }
    let confirm = t.str("confirm") == Some("true");
    let off_session = matches!(t.str("off_session"), Some("true" | "one_off" | "recurring"));
    if off_session && !confirm {
        return invalid("`off_session` can only be used when `confirm` is true.", Some("off_session"));
    }
    let types = t.strings("payment_method_types");
    let apm = t.path(&["automatic_payment_methods", "enabled"]) == Some(&Node::Leaf("true".into())) || types.is_empty();
    let no_redirects = t.path(&["automatic_payment_methods", "allow_redirects"]) == Some(&Node::Leaf("never".into()));
    if confirm && apm && !no_redirects && t.get("return_url").is_none() {
        return invalid(
            "This PaymentIntent is configured to accept payment methods enabled in your Dashboard, some of which may \
             require a full page redirect to succeed. If you do not want to accept redirect-based payment methods, set \
             `automatic_payment_methods[enabled]` to `true` and `automatic_payment_methods[allow_redirects]` to \
             `never` when creating Setup Intents and Payment Intents.",
            None,
        );
    }
    // The payment method: a stored one, or a test token that creates one.
    let mut pm_id = None;
    let mut behaviour = None;
    if let Some(pm) = t.str("payment_method") {
        if let Some(b) = d.behaviours.get(pm) {
            let owner = d.objects.get(pm).and_then(|o| o["customer"].as_str().map(str::to_string));
            if owner.is_some() && owner != customer {
                return invalid(
                    format!("The provided PaymentMethod {pm} belongs to another Customer."),
                    Some("payment_method"),
                );
            }
            behaviour = Some(*b);
            pm_id = Some(pm.to_string());
        } else if let Some(b) = behaviour_of(pm) {
            behaviour = Some(b);
            pm_id = Some(create_payment_method(d, pm, b));
        } else {
            return missing("PaymentMethod", pm, Some("payment_method"));
        }
    }
    if confirm && pm_id.is_none() {
        return invalid(
            "You cannot confirm this PaymentIntent because it's missing a payment method.",
            Some("payment_method"),
        );
    }
    let id = new_id("pi");
    let mut pi = skeleton("payment_intent");
    pi["id"] = json!(id);
    pi["amount"] = json!(amount);
    pi["amount_capturable"] = json!(0);
    pi["amount_details"] = json!({"tip": {}});
    pi["amount_received"] = json!(0);
    pi["automatic_payment_methods"] = if apm {
        json!({"allow_redirects": if no_redirects { "never" } else { "always" }, "enabled": true})
    } else {
        Value::Null
    };
    pi["capture_method"] = json!(t.str("capture_method").unwrap_or("automatic"));
    pi["client_secret"] = json!(format!("{id}_secret_{}", Alphanumeric.sample_string(&mut rand::rng(), 24)));
    pi["confirmation_method"] = json!(t.str("confirmation_method").unwrap_or("automatic"));
    pi["currency"] = json!(currency);
    pi["customer"] = json!(customer);
    pi["description"] = json!(t.str("description"));
    pi["metadata"] = Value::Object(t.string_map("metadata"));
    pi["payment_method"] = json!(pm_id);
    pi["payment_method_types"] = json!(if types.is_empty() { vec!["card".to_string()] } else { types });
    pi["setup_future_usage"] = json!(t.str("setup_future_usage"));
    pi["status"] = json!(if pm_id.is_some() { "requires_confirmation" } else { "requires_payment_method" });
    finish(d, pi);
    let (Some(behaviour), true) = (behaviour, confirm) else {
        return ok(public(d.objects[&id].clone()));
    };
    let requires_action = |d: &mut Data| {
        let pi = d.objects.get_mut(&id).expect("stored");
        pi["status"] = json!("requires_action");
        pi["next_action"] = json!({
            "type": "redirect_to_url",
            "redirect_to_url": {"return_url": t.str("return_url"), "url": format!("{base}/3ds/{id}")},
        });
    };
    match behaviour {
        Behaviour::Succeeds => succeed_intent(d, &id),
        Behaviour::Processing => {
            d.objects.get_mut(&id).expect("stored")["status"] = json!("processing");
        }
        Behaviour::AuthenticationRequired if !off_session || d.auth_off_session_requires_action => requires_action(d),
        Behaviour::AuthenticationRequired => {
            let message = "Your card was declined. This transaction requires authentication.";
            let mut err = fail_intent(d, &id, "authentication_required", "authentication_required", message);
            err["payment_intent"] = public(d.objects[&id].clone());
            return Answer { status: 402, body: json!({ "error": err }) };
        }
        Behaviour::Declines { code, decline_code, message } => {
            let mut err = fail_intent(d, &id, code, decline_code, message);
            err["payment_intent"] = public(d.objects[&id].clone());
            return Answer { status: 402, body: json!({ "error": err }) };
        }
    }
    ok(public(d.objects[&id].clone()))
}

pub(super) fn create_transfer(d: &mut Data, t: &Node) -> Answer {
    let currency = t.str("currency").unwrap_or_default().to_string();
    if let Err(a) = check_currency(&currency) {
        return a;
    }
    let Some(amount) = int(t, "amount") else {
        return invalid("Missing required param: amount.", Some("amount"));
    };
    if let Err(a) = check_amount(amount, &currency, "amount") {
        return a;
    }
    let destination = t.str("destination").unwrap_or_default().to_string();
    if !d.accounts.contains(&destination) {
        return error(
            400,
            "invalid_request_error",
            format!("No such destination: '{destination}'"),
            Some("resource_missing"),
            Some("destination"),
        );
    }
    if let Some(available) = d.balances.get_mut(&currency) {
        if *available < amount {
            return error(
                400,
                "invalid_request_error",
                "You have insufficient available funds in your Stripe account. Try adding funds directly to your \
                 available balance by creating Charges using the 4000000000000077 test card. See: \
                 https://stripe.com/docs/testing#available-balance",
                Some("balance_insufficient"),
                None,
            );
        }
        *available -= amount;
    }
    let id = new_id("tr");
    let mut tr = skeleton("transfer");
    tr["id"] = json!(id);
    tr["amount"] = json!(amount);
    tr["amount_reversed"] = json!(0);
    tr["balance_transaction"] = json!(new_id("txn"));
    tr["currency"] = json!(currency);
    tr["description"] = json!(t.str("description"));
    tr["destination"] = json!(destination);
    tr["destination_payment"] = json!(new_id("py"));
    tr["metadata"] = Value::Object(t.string_map("metadata"));
    tr["reversals"] =
        json!({"object": "list", "data": [], "has_more": false, "url": format!("/v1/transfers/{id}/reversals")});
    tr["reversed"] = json!(false);
    tr["source_type"] = json!("card");
    tr["transfer_group"] = json!(t.str("transfer_group"));
    ok(finish(d, tr))
}

/// `GET /v1/transfers`, newest first, filtered by `transfer_group` and
/// `destination`.
pub(super) fn list_transfers(d: &Data, t: &Node) -> Answer {
    let group = t.str("transfer_group");
    let destination = t.str("destination");
    let limit = int(t, "limit").unwrap_or(10).clamp(1, 100) as usize;
    let mut hits: Vec<Value> = d
        .objects
        .values()
        .filter(|o| o["object"] == "transfer")
        .filter(|o| group.is_none_or(|g| o["transfer_group"] == g))
        .filter(|o| destination.is_none_or(|a| o["destination"] == a))
        .cloned()
        .collect();
    hits.sort_by_key(|o| std::cmp::Reverse((o["created"].as_i64(), o["_seq"].as_u64())));
    let has_more = hits.len() > limit;
    hits.truncate(limit);
    ok(json!({
        "object": "list",
        "data": hits.into_iter().map(public).collect::<Vec<_>>(),
        "has_more": has_more,
        "url": "/v1/transfers",
    }))
}

pub(super) fn create_refund(d: &mut Data, t: &Node) -> Answer {
    let charge_id = match (t.str("payment_intent"), t.str("charge")) {
        (Some(pi), None) => {
            let Some(intent) = d.objects.get(pi).filter(|o| o["object"] == "payment_intent") else {
                return missing("payment_intent", pi, Some("payment_intent"));
            };
            if intent["status"] != "succeeded" {
                return error(
                    400,
                    "invalid_request_error",
                    format!("This PaymentIntent ({pi}) does not have a successful charge to refund."),
                    Some("charge_not_refundable"),
                    Some("payment_intent"),
                );
            }
            intent["latest_charge"].as_str().unwrap_or_default().to_string()
        }
        (None, Some(ch)) => {
            if !d.objects.contains_key(ch) {
                return missing("charge", ch, Some("charge"));
            }
            ch.to_string()
        }
        _ => return invalid("You must pass exactly one of `charge` or `payment_intent`.", None),
    };
    let charge = d.objects[&charge_id].clone();
    let captured = charge["amount_captured"].as_i64().unwrap_or_default();
    let refunded = charge["amount_refunded"].as_i64().unwrap_or_default();
    let remaining = captured - refunded;
    let currency = charge["currency"].as_str().unwrap_or_default().to_string();
    if remaining <= 0 {
        return error(
            400,
            "invalid_request_error",
            format!("Charge {charge_id} has already been refunded."),
            Some("charge_already_refunded"),
            None,
        );
    }
    let amount = int(t, "amount").unwrap_or(remaining);
    if let Err(a) = check_amount(amount, &currency, "amount") {
        return a;
    }
    if amount > remaining {
        return error(
            400,
            "invalid_request_error",
            format!("Refund amount ({amount}) is greater than unrefunded amount on charge ({remaining})"),
            Some("amount_too_large"),
            Some("amount"),
        );
    }
    let id = new_id("re");
    let mut re = skeleton("refund");
    re["id"] = json!(id);
    re["amount"] = json!(amount);
    re["charge"] = json!(charge_id);
    re["currency"] = json!(currency);
    re["metadata"] = Value::Object(t.string_map("metadata"));
    re["payment_intent"] = charge["payment_intent"].clone();
    re["reason"] = json!(t.str("reason"));
    re["status"] = json!("succeeded");
    let body = finish(d, re);
    let ch = d.objects.get_mut(&charge_id).expect("exists");
    ch["amount_refunded"] = json!(refunded + amount);
    ch["refunded"] = json!(refunded + amount == captured);
    d.charge_refunds.entry(charge_id).or_default().push(id);
    ok(body)
}

pub(super) fn retrieve(d: &Data, id: &str, object: &str, t: &Node) -> Answer {
    let Some(found) = d.objects.get(id).filter(|o| o["object"] == object) else {
        return missing(object, id, None);
    };
    let mut value = public(found.clone());
    for path in t.strings("expand") {
        if let Err(e) = expand(d, &mut value, &path.split('.').collect::<Vec<_>>()) {
            return invalid(e, Some("expand"));
        }
    }
    ok(value)
}

/// Replaces the id at `path` with the object it names.
pub(super) fn expand(d: &Data, value: &mut Value, path: &[&str]) -> Result<(), String> {
    let Some((first, rest)) = path.split_first() else { return Ok(()) };
    let Some(slot) = value.get_mut(*first) else {
        return Err(format!("This property cannot be expanded ({first})."));
    };
    if let Some(id) = slot.as_str() {
        let obj = d.objects.get(id).ok_or_else(|| format!("This property cannot be expanded ({first})."))?;
        *slot = public(obj.clone());
    } else if slot.is_array() && *first == "data" {
        for item in slot.as_array_mut().expect("array") {
            expand(d, item, rest)?;
        }
        return Ok(());
    } else if !slot.is_object() && !slot.is_null() {
        return Err(format!("This property cannot be expanded ({first})."));
    }
    if slot.is_object() {
        expand(d, slot, rest)?;
    }
    Ok(())
}

/// One clause of Stripe's search query language: `field:'value'` or
/// `metadata['key']:'value'`.
pub(super) fn parse_clause(clause: &str) -> Option<(Vec<String>, String)> {
    let (field, value) = if let Some(rest) = clause.strip_prefix("metadata[") {
        let quote = rest.chars().next()?;
        let rest = &rest[1..];
        let end = rest.find(quote)?;
        let key = rest[..end].to_string();
        let value = rest[end + 1..].strip_prefix(']')?.strip_prefix(':')?;
        (vec!["metadata".to_string(), key], value)
    } else {
        let (f, v) = clause.split_once(':')?;
        (vec![f.to_string()], v)
    };
    let quote = value.chars().next()?;
    if quote != '\'' && quote != '"' {
        return Some((field, value.to_string()));
    }
    let mut out = String::new();
    let mut chars = value[1..].chars();
    loop {
        match chars.next()? {
            '\\' => out.push(chars.next()?),
            c if c == quote => break,
            c => out.push(c),
        }
    }
    chars.next().is_none().then_some((field, out))
}

pub(super) fn search(d: &Data, t: &Node, object: &str, url: &str) -> Answer {
    let query = t.str("query").unwrap_or_default();
    let mut clauses = Vec::new();
    for c in query.split(" AND ") {
        match parse_clause(c.trim()) {
            Some(p) => clauses.push(p),
            None => return invalid(format!("Invalid search query: {query}"), Some("query")),
        }
    }
    let limit = int(t, "limit").unwrap_or(10).clamp(1, 100) as usize;
    let mut hits: Vec<Value> = d
        .objects
        .values()
        .filter(|o| o["object"] == object)
        .filter(|o| {
            clauses.iter().all(|(field, value)| {
                let found = field.iter().try_fold(*o, |v, k| v.get(k.as_str()));
                match found {
                    Some(Value::String(s)) => s == value,
                    Some(Value::Number(n)) => n.to_string() == *value,
                    _ => false,
                }
            })
        })
        .cloned()
        .collect();
    hits.sort_by_key(|o| std::cmp::Reverse((o["created"].as_i64(), o["_seq"].as_u64())));
    let has_more = hits.len() > limit;
    hits.truncate(limit);
    let mut body = json!({
        "object": "search_result",
        "data": hits.into_iter().map(public).collect::<Vec<_>>(),
        "has_more": has_more,
        "next_page": null,
        "url": url,
    });
    for path in t.strings("expand") {
        if let Err(e) = expand(d, &mut body, &path.split('.').collect::<Vec<_>>()) {
            return invalid(e, Some("expand"));
        }
    }
    ok(body)
}
