//! The Stripe double itself: what it refuses, and that its traffic matches
//! the spec.

use super::*;

async fn raw_post(fake: &FakeStripe, path: &str, body: &str, key: &str) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(format!("{}{path}", fake.base_url()))
        .bearer_auth(fake.secret_key())
        .header("Stripe-Version", "2023-08-16")
        .header("Idempotency-Key", key)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

#[tokio::test]
async fn the_double_refuses_requests_stripe_would_refuse() {
    let fake = FakeStripe::start().await;
    let cases = [
        ("amount=100&currency=eur&bogus=1", "Received unknown parameter: bogus"),
        ("amount=100&currency=eur&metadata[a][b]=1", "metadata[a]"),
        ("amount=100", "Missing required param: currency."),
        ("amount=ten&currency=eur", "Invalid integer: ten"),
        ("amount=100&currency=eur&confirm=maybe", "Invalid boolean: maybe"),
        ("amount=100&currency=eur&capture_method=later", "Invalid capture_method"),
        (
            "amount=100&currency=eur&automatic_payment_methods[allow_redirects]=never",
            "automatic_payment_methods[enabled]",
        ),
    ];
    for (i, (body, expected)) in cases.iter().enumerate() {
        let (status, json) = raw_post(&fake, "/v1/payment_intents", body, &format!("k{i}")).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(json["error"]["type"], "invalid_request_error", "{body}");
        let message = json["error"]["message"].as_str().unwrap();
        assert!(message.contains(expected), "{body}: {message}");
    }
    let specs = if fake.full_spec_loaded() { 2 } else { 1 };
    assert_eq!(fake.validation_failures().len(), cases.len() * specs, "{:#?}", fake.validation_failures());
    assert!(fake.objects("payment_intent").is_empty());

    // Nested checkout parameters and enums.
    let (status, json) = raw_post(
        &fake,
        "/v1/checkout/sessions",
        "mode=payment&success_url=https://x&payment_intent_data[setup_future_usage]=sometimes",
        "k-cs",
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(json["error"]["param"], "payment_intent_data[setup_future_usage]");

    // JSON bodies are not Stripe's format.
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/customers", fake.base_url()))
        .bearer_auth(fake.secret_key())
        .header("Stripe-Version", "2023-08-16")
        .json(&json!({"email": "a@b.c"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    assert!(fake.objects("customer").is_empty());

    // Authentication.
    let resp = reqwest::Client::new().get(format!("{}/v1/payment_intents/pi_1", fake.base_url())).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert!(body["error"]["message"].as_str().unwrap().contains("API key"));

    // Unknown URL.
    let resp = reqwest::Client::new()
        .get(format!("{}/v1/nothing_here", fake.base_url()))
        .bearer_auth(fake.secret_key())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404);
}

#[tokio::test]
async fn every_request_of_a_full_run_matches_the_spec() {
    let (fake, conn) = setup().await;
    let (cus, pm) = saved_card(&fake, &conn).await;
    conn.charge(&charge("pay_run1", eur(4900), &pm, Some(cus.clone()))).await.unwrap();
    conn.charge(&charge("pay_run2", eur(4900), "pm_card_chargeDeclined", Some(cus.clone()))).await.unwrap();
    let ChargeOutcome::Succeeded { provider_payment_id, .. } =
        conn.charge(&charge("pay_run3", eur(2000), "pm_card_visa", None)).await.unwrap()
    else {
        panic!()
    };
    conn.retrieve("pay_run3", None).await.unwrap();
    conn.retrieve("pay_run3", Some(&provider_payment_id)).await.unwrap();
    let session = CheckoutSession {
        provider_ref: fake.objects("checkout.session")[0]["id"].as_str().unwrap().to_string(),
        redirect_url: String::new(),
        client_params: BTreeMap::new(),
    };
    conn.retrieve("pay_first", Some(&session.provider_ref)).await.unwrap();
    conn.refund(&RefundRequest {
        refund_id: "rf_run".to_string(),
        provider_payment_id,
        amount: eur(500),
        reason: Some("duplicate".to_string()),
    })
    .await
    .unwrap();

    let requests = fake.requests();
    assert!(requests.len() >= 10, "{}", requests.len());
    let operations: std::collections::BTreeSet<(String, String)> = requests
        .iter()
        .map(|r| {
            (
                r.method.clone(),
                if r.path.starts_with("/v1/payment_intents/pi_") {
                    "/v1/payment_intents/{id}".into()
                } else if r.path.starts_with("/v1/checkout/sessions/cs_") {
                    "/v1/checkout/sessions/{id}".into()
                } else {
                    r.path.clone()
                },
            )
        })
        .collect();
    for op in [
        ("POST", "/v1/customers"),
        ("GET", "/v1/customers/search"),
        ("POST", "/v1/checkout/sessions"),
        ("GET", "/v1/checkout/sessions/{id}"),
        ("POST", "/v1/payment_intents"),
        ("GET", "/v1/payment_intents/{id}"),
        ("GET", "/v1/payment_intents/search"),
        ("POST", "/v1/refunds"),
    ] {
        assert!(operations.contains(&(op.0.to_string(), op.1.to_string())), "{op:?} not exercised");
    }
    for r in &requests {
        assert_eq!(r.stripe_version.as_deref(), Some("2023-08-16"), "{} {}", r.method, r.path);
        assert!(r.status < 500, "{} {} → {}", r.method, r.path, r.status);
        if r.method == "POST" {
            assert!(r.idempotency_key.as_deref().is_some_and(|k| k.starts_with("bursar-")), "{} {}", r.method, r.path);
        }
    }
    assert_clean(&fake);
    if fake.full_spec_loaded() {
        eprintln!("validated against the full spec from {SPEC_ENV} as well");
    }
}

#[test]
fn the_spec_extract_matches_the_official_spec() {
    let subset: Value = serde_json::from_str(SPEC_SUBSET).unwrap();
    assert_eq!(subset["info"]["version"], "2023-08-16");
    let paths = subset["paths"].as_object().unwrap();
    for (path, method) in [
        ("/v1/customers", "post"),
        ("/v1/customers/search", "get"),
        ("/v1/checkout/sessions", "post"),
        ("/v1/checkout/sessions/{session}", "get"),
        ("/v1/payment_intents", "post"),
        ("/v1/payment_intents/{intent}", "get"),
        ("/v1/payment_intents/search", "get"),
        ("/v1/refunds", "post"),
        ("/v1/transfers", "post"),
        ("/v1/transfers", "get"),
        ("/v1/transfers/{transfer}", "get"),
    ] {
        assert!(paths.get(path).and_then(|p| p.get(method)).is_some(), "{method} {path} missing from the extract");
    }
    let Some(full_path) = std::env::var_os(SPEC_ENV) else {
        eprintln!("{SPEC_ENV} not set: the extract is not compared with the full spec");
        return;
    };
    let full: Value = serde_json::from_str(&std::fs::read_to_string(full_path).unwrap()).unwrap();
    assert_eq!(full["info"]["version"], subset["info"]["version"]);
    for (path, ops) in paths {
        for (method, op) in ops.as_object().unwrap() {
            assert_eq!(&full["paths"][path][method], op, "{method} {path} differs from the full spec");
        }
    }
    for (name, schema) in subset["components"]["schemas"].as_object().unwrap() {
        assert_eq!(&full["components"]["schemas"][name], schema, "schema {name} differs from the full spec");
    }
}
