//! The HTTP handler: authentication, idempotency, request validation against
//! the spec, and dispatch to the operations.

use super::*;

pub(super) async fn handle(
    State(inner): State<Arc<Inner>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let key = header("idempotency-key");
    let version = header("stripe-version");
    let is_post = method == Method::POST;
    let params: Vec<(String, String)> = if is_post {
        form_urlencoded::parse(&body).into_owned().collect()
    } else {
        form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes()).into_owned().collect()
    };
    let mut record = RecordedRequest {
        method: method.to_string(),
        path: path.clone(),
        params: params.clone(),
        idempotency_key: key.clone(),
        stripe_version: version.clone(),
        status: 0,
        replayed: false,
    };
    let fault = inner.data.lock().unwrap_or_else(|e| e.into_inner()).faults.pop_front();
    let server_error =
        || error(500, "api_error", "An unknown error occurred while processing your request.", None, None);
    let (answer, replayed) = match fault {
        Some(Fault::ServerError) => (server_error(), false),
        Some(Fault::ServiceUnavailable) => {
            (error(503, "api_error", "Stripe is temporarily unavailable. Please try again later.", None, None), false)
        }
        Some(Fault::RateLimited) => (
            error(
                429,
                "invalid_request_error",
                "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.",
                Some("rate_limit"),
                None,
            ),
            false,
        ),
        _ => process(&inner, &method, &path, &headers, &body, &params, key.as_deref(), version.as_deref()),
    };
    let answer = if fault == Some(Fault::ServerErrorAfterExecuting) { server_error() } else { answer };
    record.status = answer.status;
    record.replayed = replayed;
    inner.data.lock().unwrap_or_else(|e| e.into_inner()).requests.push(record);
    if let Some(Fault::Stall(d)) = fault {
        tokio::time::sleep(d).await;
    }
    respond(&answer, replayed)
}

#[allow(clippy::too_many_arguments)]
pub(super) fn process(
    inner: &Inner,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
    params: &[(String, String)],
    key: Option<&str>,
    version: Option<&str>,
) -> (Answer, bool) {
    let mut d = inner.data.lock().unwrap_or_else(|e| e.into_inner());
    let context = format!("{method} {path}");

    // Authentication.
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let presented = if let Some(k) = auth.strip_prefix("Bearer ") {
        Some(k.trim().to_string())
    } else if let Some(b) = auth.strip_prefix("Basic ") {
        base64::engine::general_purpose::STANDARD
            .decode(b.trim())
            .ok()
            .and_then(|raw| String::from_utf8(raw).ok())
            .map(|s| s.split(':').next().unwrap_or_default().to_string())
    } else {
        None
    };
    match presented.as_deref() {
        None | Some("") => {
            return (
                error(
                    401,
                    "invalid_request_error",
                    "You did not provide an API key. You need to provide your API key in the Authorization header, \
                     using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See \
                     https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.",
                    None,
                    None,
                ),
                false,
            )
        }
        Some(k) if k != SECRET_KEY => {
            let tail: String = k.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
            return (
                error(401, "invalid_request_error", format!("Invalid API Key provided: sk_test_****{tail}"), None, None),
                false,
            );
        }
        Some(_) => {}
    }

    // The integration's own rules.
    let spec_version = inner.specs[0].1.version();
    match version {
        None => d.failures.push(format!("{context}: no Stripe-Version header")),
        Some(v) if v != spec_version => {
            d.failures.push(format!("{context}: Stripe-Version {v}, the spec describes {spec_version}"))
        }
        Some(_) => {}
    }

    // The operation, by the spec.
    let Some((template, _)) = inner.specs[0].1.operation(method.as_str(), path) else {
        return (
            error(
                404,
                "invalid_request_error",
                format!(
                    "Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs or we can help \
                     at https://support.stripe.com/."
                ),
                None,
                None,
            ),
            false,
        );
    };
    if *method == Method::POST {
        let ct = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
        if !ct.starts_with("application/x-www-form-urlencoded") {
            d.failures.push(format!("{context}: Content-Type `{ct}`"));
            return (
                invalid(
                    format!(
                        "Invalid request: unsupported Content-Type {ct}. If error persists and you need assistance, \
                         please contact support@stripe.com."
                    ),
                    None,
                ),
                false,
            );
        }
        if std::str::from_utf8(body).is_err() {
            return (invalid("Invalid request: the body is not UTF-8.", None), false);
        }
        if key.is_none() {
            d.failures.push(format!("{context}: POST without an Idempotency-Key"));
        }
    }

    // Parameters, by every loaded spec.
    let mut first: Option<SpecError> = None;
    for (label, spec) in &inner.specs {
        for e in spec.check_request(method.as_str(), path, params) {
            d.failures.push(format!("{context} ({label}): {}", e.message));
            first.get_or_insert(e);
        }
    }
    if let Some(e) = first {
        return (invalid(e.message, e.param.as_deref()), false);
    }

    // Idempotency.
    let fingerprint = {
        let mut sorted = params.to_vec();
        sorted.sort();
        format!("{method} {path} {sorted:?}")
    };
    if let (true, Some(k)) = (*method == Method::POST, key) {
        if let Some(stored) = d.idempotency.get(k) {
            if stored.fingerprint == fingerprint {
                return (Answer { status: stored.status, body: stored.body.clone() }, true);
            }
            return (
                error(
                    400,
                    "idempotency_error",
                    format!(
                        "Keys for idempotent requests can only be used with the same parameters they were first used \
                         with. Try using a key other than '{k}' if you meant to execute a different request."
                    ),
                    None,
                    None,
                ),
                false,
            );
        }
    }

    let tree = match Node::parse(params) {
        Ok(t) => t,
        Err(e) => return (invalid(e, None), false),
    };
    let base = inner.base_url.get().cloned().unwrap_or_default();
    let id = path.rsplit('/').next().unwrap_or_default().to_string();
    let answer = match (method.as_str(), template.as_str()) {
        ("POST", "/v1/customers") => create_customer(&mut d, &tree),
        ("GET", "/v1/customers/search") => search(&d, &tree, "customer", "/v1/customers/search"),
        ("POST", "/v1/checkout/sessions") => create_session(&mut d, &tree, &base),
        ("GET", "/v1/checkout/sessions/{session}") => retrieve(&d, &id, "checkout.session", &tree),
        ("POST", "/v1/payment_intents") => create_intent(&mut d, &tree, &base),
        ("GET", "/v1/payment_intents/{intent}") => retrieve(&d, &id, "payment_intent", &tree),
        ("GET", "/v1/payment_intents/search") => search(&d, &tree, "payment_intent", "/v1/payment_intents/search"),
        ("POST", "/v1/refunds") => create_refund(&mut d, &tree),
        ("POST", "/v1/transfers") => create_transfer(&mut d, &tree),
        ("GET", "/v1/transfers") => list_transfers(&d, &tree),
        ("GET", "/v1/transfers/{transfer}") => retrieve(&d, &id, "transfer", &tree),
        _ => error(404, "invalid_request_error", format!("The double does not implement {method} {path}."), None, None),
    };
    if let (true, Some(k)) = (*method == Method::POST, key) {
        // Stripe stores the result once the endpoint started executing,
        // errors (declines included) as well.
        d.idempotency.insert(
            k.to_string(),
            Stored { status: answer.status, body: answer.body.clone(), fingerprint: fingerprint.clone() },
        );
    }
    drop(d);

    // The answer's shape.
    let mut shape_errors = Vec::new();
    for (label, spec) in &inner.specs {
        let errs = if (200..300).contains(&answer.status) {
            spec.check_response(method.as_str(), path, &answer.body)
        } else {
            spec.check_object("error", &answer.body)
        };
        shape_errors.extend(errs.into_iter().map(|e| format!("{context}: answer ({label}): {e}")));
    }
    if !shape_errors.is_empty() {
        inner.data.lock().unwrap_or_else(|e| e.into_inner()).failures.extend(shape_errors);
    }
    (answer, false)
}
