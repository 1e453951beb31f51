use crate::common::*;
use bursar_store::Backend;
use serde_json::{json, Value};

#[tokio::test]
async fn health_and_readiness() {
    let app = TestApp::spawn().await;
    let (s, h) = json(app.client.get(app.url("/healthz")).send().await.unwrap()).await;
    assert_eq!(s, 200);
    assert_eq!(h["status"], "ok");
    let (s, r) = json(app.client.get(app.url("/readyz")).send().await.unwrap()).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["database"], backend().name());
}

#[tokio::test]
async fn metrics_count_requests_by_route() {
    let app = TestApp::spawn().await;
    let _ = app.get("/v1/customers").await;
    let text = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(
        text.lines().any(|l| l.starts_with("bursar_http_requests_total{") && l.contains("route=\"/v1/customers\"")),
        "{text}"
    );
    assert!(text.contains("bursar_http_request_duration_seconds_bucket"));
}

/// Strangers cannot grow `/metrics`: made-up methods collapse into
/// `other` and paths that match no route into `unmatched`.
#[tokio::test]
async fn metrics_labels_stay_bounded_whatever_strangers_send() {
    let app = TestApp::spawn().await;
    let size = || async { app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap().len() };
    let before = size().await;
    let paths = ["/v1/customers", "/v1/customers/cus_x", "/portal/nope", "/webhooks/stripe"];
    for i in 0..600 {
        let method = reqwest::Method::from_bytes(format!("ODD{i}").as_bytes()).unwrap();
        let r = app.client.request(method, app.url(paths[i % paths.len()])).send().await.unwrap();
        assert!(r.status().is_client_error(), "{}", r.status());
        let path = format!("/stray{i}/x%20{i}");
        let method = if i % 2 == 0 { reqwest::Method::GET } else { reqwest::Method::from_bytes(b"PROPFIND").unwrap() };
        let r = app.client.request(method, app.url(&path)).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 404);
    }
    let text = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(
        !text.contains("ODD") && !text.contains("PROPFIND") && !text.contains("stray"),
        "a request's own words became labels"
    );
    let standard = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE", "other"];
    for line in text.lines().filter(|l| l.starts_with("bursar_http_")) {
        let method = line.split("method=\"").nth(1).and_then(|m| m.split('"').next());
        assert!(method.is_none_or(|m| standard.contains(&m)), "{line}");
    }
    let series = |route: &str| {
        text.lines().any(|l| {
            l.starts_with("bursar_http_requests_total{") && l.contains("method=\"other\"") && l.contains(route)
        })
    };
    assert!(series("route=\"/v1/customers\"") && series("route=\"unmatched\""), "{text}");
    // 1,200 requests with made-up methods and paths added a few series, not
    // one per request (which would be well over a megabyte).
    let grown = text.len().saturating_sub(before);
    assert!(grown < 256 * 1024, "/metrics grew by {grown} bytes");
}

/// Every documented operation is served (never "no such route" or "method
/// not allowed"), and no `/v1` route is added outside the documented
/// routers.
#[tokio::test]
async fn openapi_documents_every_route() {
    let app = TestApp::spawn().await;
    let (s, doc) = json(app.client.get(app.url("/v1/openapi.json")).send().await.unwrap()).await;
    assert_eq!(s, 200);
    assert_eq!(doc["openapi"].as_str().map(|v| v.starts_with("3.")), Some(true));
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 12, "{:?}", paths.keys());
    let mut ops = 0;
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            let concrete = path.replace("{id}", "cus_0192f0c1e4b87c3a9d1f2b3c4d5e6f70");
            let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let body = if m == reqwest::Method::POST { Some(json!({})) } else { None };
            let mut req = app.req(m.clone(), &concrete);
            if let Some(b) = body {
                req = req.json(&b);
            }
            let (status, resp) = json(req.send().await.unwrap()).await;
            assert_ne!(status, 405, "{method} {path} is documented but not served");
            if status == 404 {
                assert_ne!(resp["error"]["code"], "route_not_found", "{method} {path} is documented but not served");
            }
            assert!(op["responses"].as_object().is_some_and(|r| !r.is_empty()), "{method} {path} has no responses");
            ops += 1;
        }
    }
    assert!(ops >= 18, "only {ops} operations documented");
    // Source check: API routes are only added through `routes!` (which
    // documents them), never with a bare `.route(`.
    let mut dirs = vec![std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/api")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            let src = std::fs::read_to_string(&path).unwrap();
            assert!(!src.contains(".route("), "{} adds an undocumented route", path.display());
        }
    }
    let app_src = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/app.rs")).unwrap();
    let v1_literals: Vec<&str> = app_src.matches("\"/v1/").collect();
    assert_eq!(v1_literals.len(), 1, "app.rs may only add /v1/openapi.json by hand");
    assert!(app_src.contains("\"/v1/openapi.json\""));
}

#[tokio::test]
async fn backup_and_restore() {
    let app = TestApp::spawn().await;
    let (s, c) = app.post("/v1/customers", json!({"email": "kept@example.com"})).await;
    assert_eq!(s, 200);
    let dest = app.tdb.dir.path().join("backups/b1.db");
    let res = bursar_store::backup::backup_sqlite(&app.tdb.db, &dest).await;
    match backend() {
        Backend::Postgres => {
            let e = res.unwrap_err().to_string();
            assert!(e.contains("pg_dump"), "{e}");
        }
        Backend::Sqlite => {
            assert!(res.unwrap() > 0);
            bursar_store::backup::check_sqlite_file(&dest).await.unwrap();
            // A second backup to the same path is refused rather than overwritten.
            assert!(bursar_store::backup::backup_sqlite(&app.tdb.db, &dest).await.is_err());
            // Restore into a new location and find the customer there.
            let target = app.tdb.dir.path().join("restored/bursar.db");
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            bursar_store::backup::restore_sqlite(&dest, &target).await.unwrap();
            let db = bursar_store::Db::connect(&bursar_store::DbConfig::Sqlite {
                path: target.clone(),
                synchronous_full: false,
            })
            .await
            .unwrap();
            let row = bursar_store::customers::get(db.reader(), false, c["id"].as_str().unwrap()).await.unwrap();
            assert_eq!(row.unwrap().email.as_deref(), Some("kept@example.com"));
            // A running server's lock blocks restore.
            let _lock = bursar_store::backup::lock_database(&target).unwrap();
            assert!(bursar_store::backup::restore_sqlite(&dest, &target).await.is_err());
            // Garbage is refused before anything is touched.
            let junk = app.tdb.dir.path().join("junk.db");
            std::fs::write(&junk, b"not a database").unwrap();
            assert!(bursar_store::backup::check_sqlite_file(&junk).await.is_err());
        }
    }
}

#[tokio::test]
async fn graceful_shutdown_stops_accepting() {
    let mut app = TestApp::spawn().await;
    let (s, _) = app.get("/v1/customers").await;
    assert_eq!(s, 200);
    app.server.take().unwrap().shutdown().await.unwrap();
    assert!(app.client.get(app.url("/healthz")).send().await.is_err());
}

#[tokio::test]
async fn a_request_still_running_when_the_grace_period_ends_is_stopped_and_releases_its_key() {
    // A VAT registry that takes the connection and never answers keeps a
    // keyed customer creation running.
    let registry = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", registry.local_addr().unwrap());
    let (asked, called) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let (socket, _) = registry.accept().await.unwrap();
        let _ = asked.send(());
        let _held = socket;
        std::future::pending::<()>().await;
    });
    let mut app = TestApp::spawn_with(move |c| {
        c.vat_check = "vies".into();
        c.vies_url = url;
        c.tax_origin_country = Some("FR".into());
        c.shutdown_grace_secs = 0;
    })
    .await;
    let request = app
        .req(reqwest::Method::POST, "/v1/customers")
        .header("Idempotency-Key", "running-at-shutdown")
        .json(&json!({"country": "DE", "tax_ids": [{"type": "eu_vat", "value": "DE123456788"}]}));
    let running = tokio::spawn(request.send());
    called.await.unwrap();
    let keys = |db: bursar_store::Db| async move {
        let n: i64 = sqlx::query_scalar(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM idempotency_keys WHERE idem_key = 'running-at-shutdown'",
        )
        .fetch_one(db.reader())
        .await
        .unwrap();
        n
    };
    assert_eq!(keys(app.tdb.db.clone()).await, 1, "the request holds its key");
    app.server.take().unwrap().shutdown().await.unwrap();
    // By the time the server has stopped, the request was stopped and its key
    // released: a retry runs it, as after any failed request.
    assert_eq!(keys(app.tdb.db.clone()).await, 0, "the key was released");
    assert_eq!(app.count("customers").await, 0, "nothing was written");
    if let Ok(answer) = running.await.unwrap() {
        let (s, e) = json(answer).await;
        assert_eq!((s, e["error"]["code"].as_str()), (503, Some("shutting_down")), "{e}");
    }
}

#[tokio::test]
async fn demo_data_is_consistent() {
    let app = TestApp::spawn().await;
    let info = bursar_core::demo::seed(&app.state, "demo@example.com").await.unwrap();
    assert!(info.test_key.starts_with("bsk_test_"));
    assert_eq!(info.staff_password.len(), 16);
    let resp = app.client.get(app.url("/v1/customers?limit=100")).bearer_auth(&info.test_key).send().await.unwrap();
    let (s, list) = json(resp).await;
    assert_eq!(s, 200);
    let data = list["data"].as_array().unwrap();
    assert_eq!(data.len(), info.customers);
    let currencies: std::collections::BTreeSet<&str> = data.iter().filter_map(|c| c["currency"].as_str()).collect();
    for c in ["USD", "EUR", "GBP", "INR", "BRL", "RUB", "JPY", "BHD"] {
        assert!(currencies.contains(c), "demo lacks a {c} customer");
    }
    let with_credit = data.iter().filter(|c| c["credit_balances"].as_array().is_some_and(|a| !a.is_empty())).count();
    assert!(with_credit >= 8);
    let get = |path: &'static str| {
        let req = app.client.get(app.url(path)).bearer_auth(&info.test_key);
        async move { json(req.send().await.unwrap()).await.1 }
    };
    let subs = get("/v1/subscriptions?limit=100").await;
    let statuses: Vec<&str> = subs["data"].as_array().unwrap().iter().map(|s| s["status"].as_str().unwrap()).collect();
    assert_eq!(statuses.len(), 18);
    assert!(statuses.contains(&"trialing") && statuses.contains(&"active"));
    let invoices = get("/v1/invoices?limit=100").await;
    assert!(invoices["data"].as_array().unwrap().len() >= 12);
    assert_eq!(get("/v1/coupons").await["data"].as_array().unwrap().len(), 2);
    assert_eq!(get("/v1/plans").await["data"].as_array().unwrap().len(), 3);
    // Metrics and this period's use, so entitlement checks show something.
    let metrics = get("/v1/metrics").await;
    assert_eq!(metrics.as_array().unwrap().len(), 4);
    let sub = &subs["data"].as_array().unwrap().iter().find(|s| s["status"] == "active").unwrap().clone();
    let path = format!("/v1/entitlements/check?customer={}&metric=questions", sub["customer"].as_str().unwrap());
    let req = app.client.get(app.url(&path)).bearer_auth(&info.test_key);
    let (s, ch) = json(req.send().await.unwrap()).await;
    assert_eq!(s, 200, "{ch}");
    assert!(ch["used"].as_i64().unwrap() >= 30, "{ch}");
    let payments = get("/v1/payments?limit=100").await;
    assert!(!payments["data"].as_array().unwrap().is_empty());
    // The demo's learner portal opens on a learner with a plan, usage and invoices.
    let r = app.client.get(app.url(&info.portal_path)).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 303);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    let portal = app.client.get(app.url("/portal")).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(portal.status().as_u16(), 200);
    let html = portal.text().await.unwrap();
    for want in ["Ava Thompson", "Grow", "Usage this period", "INV-"] {
        assert!(html.contains(want), "{want} missing from the demo portal");
    }
    // The demo learner, signed in by the portal link, buys a demo course
    // from the course pages' cart.
    let (_, courses) = json(
        app.client
            .get(app.url("/v1/courses?limit=1&status=published"))
            .bearer_auth(&info.test_key)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let course = courses["data"][0]["id"].as_str().unwrap().to_string();
    let page = app.client.get(app.url(&format!("/courses/{course}?mode=test"))).send().await.unwrap();
    let page = page.text().await.unwrap();
    let currency = page.split("name=\"currency\" value=\"").nth(1).expect("an add-to-cart form")[..3].to_string();
    let add = app
        .client
        .post(app.url("/cart/items"))
        .form(&[("course", course.as_str()), ("currency", currency.as_str()), ("mode", "test")])
        .send()
        .await
        .unwrap();
    let cart = add.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    let buy = app.client.post(app.url("/cart/checkout")).header("cookie", format!("{cart}; {cookie}")).send().await;
    let buy = buy.unwrap();
    assert_eq!(buy.status().as_u16(), 303, "{}", buy.text().await.unwrap());
    assert!(buy.headers()["location"].to_str().unwrap().starts_with("/checkout/cs_"));
    // A webhook endpoint with a delivery history, one of them refused.
    let eps = get("/v1/webhook_endpoints").await;
    let ep = eps["data"][0]["id"].as_str().expect("the demo's endpoint").to_string();
    assert_eq!(eps["data"][0]["status"], "disabled", "a demo has no receiver");
    let req = app.client.get(app.url(&format!("/v1/webhook_endpoints/{ep}/deliveries"))).bearer_auth(&info.test_key);
    let (_, ds) = json(req.send().await.unwrap()).await;
    let statuses: Vec<&str> = ds["data"].as_array().unwrap().iter().map(|d| d["status"].as_str().unwrap()).collect();
    assert!(statuses.contains(&"failed") && statuses.contains(&"succeeded"), "{statuses:?}");
    // The pricing page shows the demo catalog.
    let pricing =
        app.client.get(app.url("/pricing?mode=test&interval=month")).send().await.unwrap().text().await.unwrap();
    assert!(pricing.contains("Scale") && pricing.contains("$49.00"), "the demo pricing page");
    // The marketplace: 200+ courses, real orders with their split, reviews, affiliates.
    assert!(info.courses >= 200, "{}", info.courses);
    let instructors = get("/v1/instructors?limit=100").await;
    assert_eq!(instructors["data"].as_array().unwrap().len(), 12);
    let orders = get("/v1/orders?limit=100").await;
    let orders = orders["data"].as_array().unwrap();
    assert!(orders.len() >= 20, "{}", orders.len());
    for o in orders {
        let items = o["items"].as_array().unwrap();
        assert!(!items.is_empty());
        for i in items {
            let parts = ["instructor_share", "affiliate_commission", "platform_share"];
            let sum: i64 = parts.iter().map(|p| i[p].as_i64().unwrap()).sum();
            assert_eq!(sum, i["net"].as_i64().unwrap(), "{i}");
        }
    }
    assert!(orders.iter().any(|o| o["affiliate"].is_string()), "some sales came through the affiliate");
    assert_eq!(get("/v1/affiliates").await["data"].as_array().unwrap().len(), 3);
    let reviewed = get("/v1/courses?limit=100&status=published").await;
    assert!(reviewed["data"].as_array().unwrap().iter().any(|c| c["rating_count"].as_i64().unwrap() > 0));
    app.verify_ledger().await;
    let _: Value = list;
}

/// Every operation that needs a key documents its 401, and every one that
/// reads a body or parameters its 400, both with the error envelope.
#[tokio::test]
async fn openapi_documents_the_refusals_of_every_operation() {
    let app = TestApp::spawn().await;
    let (_, doc) = json(app.client.get(app.url("/v1/openapi.json")).send().await.unwrap()).await;
    let mut secured = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let responses = &op["responses"];
            let envelope = |code: &str| {
                responses[code]["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/ErrorEnvelope"
            };
            if op["security"].as_array().is_some_and(|s| !s.is_empty()) {
                secured += 1;
                assert!(envelope("401"), "{method} {path} does not document its 401");
            }
            if op.get("requestBody").is_some() || op["parameters"].as_array().is_some_and(|p| !p.is_empty()) {
                assert!(envelope("400"), "{method} {path} does not document its 400");
            }
        }
    }
    assert!(secured > 100, "{secured} secured operations");
    // And the server does answer 401 on a secured operation without a key.
    let (s, e) = json(app.client.get(app.url("/v1/customers")).send().await.unwrap()).await;
    assert_eq!(s, 401);
    assert_eq!(e["error"]["type"], "authentication_error", "{e}");
}

/// A limit is a whole number, `unlimited` or null, and the schema says so
/// (it used to say "object", which no answer ever was).
#[tokio::test]
async fn the_entitlement_limit_schema_matches_what_is_sent() {
    let app = TestApp::spawn().await;
    let (_, doc) = json(app.client.get(app.url("/v1/openapi.json")).send().await.unwrap()).await;
    for schema in ["Entitlement", "UpgradeTier"] {
        let limit = &doc["components"]["schemas"][schema]["properties"]["limit"];
        let types: Vec<&str> = limit["oneOf"].as_array().unwrap().iter().map(|s| s["type"].as_str().unwrap()).collect();
        assert_eq!(types, ["integer", "string", "null"], "{schema}: {limit}");
        assert_eq!(limit["oneOf"][1]["enum"], json!(["unlimited"]));
    }
}
