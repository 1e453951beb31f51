//! The HTTP handler: fault injection, authentication and routing.

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
            "SERVER_ERROR",
            "The server encountered an error. The incident has been reported to admins.",
            None,
            json!({}),
        );
        (status, Json(body)).into_response()
    };
    match fault {
        Some(Fault::Fail) => return server_error(),
        Some(Fault::Unavailable) => {
            let (status, body) = error(
                StatusCode::SERVICE_UNAVAILABLE,
                "SERVER_ERROR",
                "The service is temporarily unavailable. Please try again later.",
                None,
                json!({}),
            );
            return (status, Json(body)).into_response();
        }
        _ => {}
    }
    let (status, body) = {
        let mut s = state.lock().expect("state");
        route(&mut s, &method, &uri, &headers, &body)
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
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> (StatusCode, Value) {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let expected =
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{KEY_ID}:{KEY_SECRET}")));
    if header("authorization").as_deref() != Some(expected.as_str()) {
        return error(StatusCode::UNAUTHORIZED, "BAD_REQUEST_ERROR", "Authentication failed", None, json!({}));
    }
    let json_body = if method == Method::POST {
        if !header("content-type").is_some_and(|c| c.starts_with("application/json")) {
            return bad_request("The request body must be JSON", None);
        }
        match serde_json::from_slice::<Value>(body) {
            Ok(v) if v.is_object() => v,
            _ => return bad_request("The request body is not a valid JSON object", None),
        }
    } else {
        json!({})
    };
    let segments: Vec<&str> = uri.path().trim_matches('/').split('/').collect();
    match (method.clone(), segments.as_slice()) {
        (Method::POST, ["v1", "orders"]) => create_order(s, &json_body),
        (Method::GET, ["v1", "orders"]) => {
            let query: HashMap<String, String> =
                form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()).into_owned().collect();
            let items: Vec<Value> = s
                .order_ids
                .iter()
                .rev()
                .filter_map(|id| s.orders.get(id))
                .filter(|o| query.get("receipt").is_none_or(|r| o.json["receipt"] == r.as_str()))
                .map(|o| o.json.clone())
                .collect();
            (StatusCode::OK, json!({ "entity": "collection", "count": items.len(), "items": items }))
        }
        (Method::GET, ["v1", "orders", id]) => match s.orders.get(*id) {
            Some(o) => (StatusCode::OK, o.json.clone()),
            None => no_such_id(),
        },
        (Method::GET, ["v1", "orders", id, "payments"]) => match s.orders.get(*id) {
            Some(o) => {
                let items: Vec<Value> = o.payments.iter().filter_map(|p| s.payments.get(p).cloned()).collect();
                (StatusCode::OK, json!({ "entity": "collection", "count": items.len(), "items": items }))
            }
            None => no_such_id(),
        },
        (Method::POST, ["v1", "payments", "create", "recurring"]) => recurring(s, &json_body),
        (Method::GET, ["v1", "payments", id]) => match s.payments.get(*id) {
            Some(p) => (StatusCode::OK, p.clone()),
            None => no_such_id(),
        },
        (Method::POST, ["v1", "payments", id, "capture"]) => capture(s, id, &json_body),
        (Method::POST, ["v1", "payments", id, "refund"]) => {
            refund(s, id, &json_body, header("x-refund-idempotency").as_deref())
        }
        (Method::POST, ["v1", "customers"]) => create_customer(s, &json_body),
        (Method::GET, ["v1", "customers", id]) => match s.customers.get(*id) {
            Some(c) => (StatusCode::OK, c.clone()),
            None => no_such_id(),
        },
        _ => bad_request("The requested URL was not found on the server.", None),
    }
}
