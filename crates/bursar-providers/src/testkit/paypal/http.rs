//! The HTTP handler: fault injection, routing and the OAuth token endpoint.

use super::*;

pub(super) async fn handle(
    State(state): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fault = {
        let mut s = state.lock().expect("state");
        let path = uri.path();
        let position = s.faults.iter().position(|(prefix, _)| prefix.as_deref().is_none_or(|p| path.starts_with(p)));
        position.and_then(|i| s.faults.remove(i)).map(|(_, fault)| fault)
    };
    let server_error = || {
        let (status, body) = error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_SERVER_ERROR",
            "An internal server error occurred.",
            None,
        );
        (status, Json(body)).into_response()
    };
    match fault {
        Some(Fault::Fail) => return server_error(),
        Some(Fault::Unavailable) => {
            let (status, body) =
                error(StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE", "Service Unavailable.", None);
            return (status, Json(body)).into_response();
        }
        _ => {}
    }
    let (status, body) = {
        let mut s = state.lock().expect("state");
        route(&mut s, &method, uri.path(), &headers, &body)
    };
    match fault {
        Some(Fault::FailAfterActing) => server_error(),
        Some(Fault::Hang(delay)) => {
            tokio::time::sleep(delay).await;
            (status, Json(body)).into_response()
        }
        _ => (status, Json(body)).into_response(),
    }
}

pub(super) fn route(
    s: &mut Inner,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> (StatusCode, Value) {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    if path == "/v1/oauth2/token" && method == Method::POST {
        return token(s, header("authorization").as_deref(), header("content-type").as_deref(), body);
    }
    let authorized = header("authorization")
        .and_then(|a| a.strip_prefix("Bearer ").map(str::to_owned))
        .is_some_and(|t| s.tokens.contains(&t) && !s.refuse_tokens);
    if !authorized {
        return (
            StatusCode::UNAUTHORIZED,
            json!({ "error": "invalid_token", "error_description": "Token signature verification failed" }),
        );
    }
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let request_id = header("paypal-request-id");
    if method == Method::POST {
        if !header("content-type").is_some_and(|c| c.starts_with("application/json")) {
            return error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UNSUPPORTED_MEDIA_TYPE",
                "Content-Type must be application/json.",
                None,
            );
        }
        if let Some(id) = &request_id {
            if let Some(stored) = s.stored.get(&(path.to_owned(), id.clone())) {
                return stored.clone();
            }
        }
    }
    let parsed: Option<Value> = if body.is_empty() { Some(json!({})) } else { serde_json::from_slice(body).ok() };
    let Some(json_body) = parsed.filter(Value::is_object).or_else(|| (method == Method::GET).then(|| json!({}))) else {
        return invalid_request("MALFORMED_REQUEST_JSON", "The request JSON is not well formed.");
    };
    let answer = match (method.clone(), segments.as_slice()) {
        (Method::POST, ["v2", "checkout", "orders"]) => create_order(s, json_body),
        (Method::GET, ["v2", "checkout", "orders", id]) => match s.orders.get(*id) {
            Some(order) => (StatusCode::OK, order.json.clone()),
            None => not_found(),
        },
        (Method::POST, ["v2", "checkout", "orders", id, "capture"]) => capture(s, id),
        (Method::GET, ["v2", "payments", "captures", id]) => {
            match s.captures.get(*id).and_then(|order| s.orders.get(order)) {
                Some(order) => (StatusCode::OK, capture_resource(order)),
                None => not_found(),
            }
        }
        (Method::POST, ["v2", "payments", "captures", id, "refund"]) => refund(s, id, &json_body),
        (Method::POST, ["v1", "notifications", "verify-webhook-signature"]) => verify(s, &json_body),
        (Method::POST, ["v1", "payments", "payouts"]) => create_payout(s, json_body),
        (Method::GET, ["v1", "payments", "payouts", id]) => match s.payouts.get_mut(*id) {
            Some(batch) => {
                // Each look moves the batch one step on, as time would.
                if batch.stage < 2 {
                    advance_payout(batch);
                }
                (StatusCode::OK, batch.json.clone())
            }
            None => not_found(),
        },
        _ => error(StatusCode::NOT_FOUND, "NOT_FOUND", "The requested resource was not found.", None),
    };
    if method == Method::POST && !answer.0.is_server_error() {
        if let Some(id) = request_id {
            s.stored.insert((path.to_owned(), id), answer.clone());
        }
    }
    answer
}

pub(super) fn token(
    s: &mut Inner,
    authorization: Option<&str>,
    content_type: Option<&str>,
    body: &[u8],
) -> (StatusCode, Value) {
    let expected =
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}")));
    if authorization != Some(expected.as_str()) {
        return (
            StatusCode::UNAUTHORIZED,
            json!({ "error": "invalid_client", "error_description": "Client Authentication failed" }),
        );
    }
    let form: HashMap<String, String> = form_urlencoded::parse(body).into_owned().collect();
    if !content_type.is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"))
        || form.get("grant_type").map(String::as_str) != Some("client_credentials")
    {
        return (
            StatusCode::BAD_REQUEST,
            json!({ "error": "unsupported_grant_type", "error_description": "Grant Type is NULL" }),
        );
    }
    let access_token = format!("A21AA{}", random_id(40));
    s.tokens.insert(access_token.clone());
    s.token_requests += 1;
    (
        StatusCode::OK,
        json!({
            "scope": SCOPE,
            "access_token": access_token,
            "token_type": "Bearer",
            "app_id": "APP-80W284485P519543T",
            "expires_in": s.token_lifetime,
            "nonce": format!("{}{}", now_string(), random_id(10)),
        }),
    )
}

pub(super) const SCOPE: &str = "https://uri.paypal.com/services/payments/payment \
     https://uri.paypal.com/services/vault/payment-tokens/readwrite https://uri.paypal.com/payments/payouts";
