//! The authorization table: every documented operation against every kind
//! of caller. The operations come from the OpenAPI document the router
//! generates, so a new route is checked the day it is added, and a route
//! an instructor session may use must be listed in `INSTRUCTOR_MAY` (or the
//! test fails). The database is empty of the callers' objects: what is
//! checked is who is let in at all, never what they find.

use crate::common::*;
use reqwest::Method;
use serde_json::{json, Value};

/// Operations an instructor session is let into (each then reaches only
/// that instructor's own objects, which other tests check).
const INSTRUCTOR_MAY: &[&str] = &[
    "GET /v1/courses",
    "POST /v1/courses",
    "GET /v1/courses/{id}",
    "GET /v1/courses/{id}/reviews",
    "POST /v1/courses/{id}",
    "POST /v1/courses/{id}/publish",
    "POST /v1/courses/{id}/unpublish",
    "GET /v1/courses/search",
    "GET /v1/instructors/{id}",
    "GET /v1/instructors/{id}/earnings",
    "GET /v1/instructors/{id}/statement",
    "GET /v1/instructors/{id}/analytics",
    "GET /v1/instructors/{id}/learning",
    "GET /v1/instructors/{id}/assessments/{form}/item_statistics",
    "GET /v1/payouts",
    "POST /v1/reviews/{id}/reply",
];

enum Who<'a> {
    Nobody,
    Bearer(&'a str),
    Cookie(&'a str),
}

async fn call(app: &TestApp, method: &str, path: &str, who: &Who<'_>) -> (u16, Value) {
    let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
    let concrete = path
        .split('/')
        .map(|seg| if seg.starts_with('{') { "x0192f0c1e4b87c3a" } else { seg })
        .collect::<Vec<_>>()
        .join("/");
    let mut req = app.client.request(m.clone(), app.url(&concrete));
    req = match who {
        Who::Nobody => req,
        Who::Bearer(t) => req.bearer_auth(t),
        Who::Cookie(c) => req.header("cookie", *c),
    };
    if m == Method::POST {
        req = req.json(&json!({}));
    }
    json(req.send().await.unwrap()).await
}

#[tokio::test]
async fn every_operation_refuses_callers_without_the_right_credentials() {
    let app = TestApp::spawn_with(|c| c.rate_limit_api_per_sec = 0).await;
    // A revoked key, a learner's portal cookie, an instructor's session.
    let (_, key) = app.post("/v1/api_keys", json!({"name": "soon revoked"})).await;
    let revoked = key["secret"].as_str().unwrap_or_default().to_string();
    let (s, _) =
        call(&app, "DELETE", &format!("/v1/api_keys/{}", key["id"].as_str().unwrap()), &Who::Bearer(&app.test_key))
            .await;
    assert_eq!(s, 200);
    let (_, cus) = app.post("/v1/customers", json!({"email": "learner@example.com"})).await;
    let portal = app.portal_cookie(cus["id"].as_str().unwrap()).await;
    let (_, ins) = app.post("/v1/instructors", json!({"external_id": "u-1", "name": "Ina", "tier": "standard"})).await;
    let (_, sess) = app.post(&format!("/v1/instructors/{}/sessions", ins["id"].as_str().unwrap()), json!({})).await;
    let instructor = sess["token"].as_str().unwrap().to_string();

    let (_, doc) = json(app.client.get(app.url("/v1/openapi.json")).send().await.unwrap()).await;
    let mut listed_and_seen = Vec::new();
    let mut wrong = Vec::new();
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if op["security"].as_array().is_none_or(|s| s.is_empty()) {
                continue; // health, readiness
            }
            let name = format!("{} {path}", method.to_uppercase());
            for (who, label) in [
                (Who::Nobody, "no key"),
                (Who::Bearer("bsk_test_notakey"), "an unknown key"),
                (Who::Bearer(&revoked), "a revoked key"),
                (Who::Bearer("garbage"), "a malformed key"),
                (Who::Cookie(&portal), "a learner's portal cookie"),
            ] {
                let (s, body) = call(&app, method, path, &who).await;
                if s != 401 || body["error"]["type"] != "authentication_error" {
                    wrong.push(format!("{name} with {label}: {s} {body}"));
                }
            }
            let (s, body) = call(&app, method, path, &Who::Bearer(&instructor)).await;
            if INSTRUCTOR_MAY.contains(&name.as_str()) {
                listed_and_seen.push(name.clone());
                if s == 401 || s == 403 {
                    wrong.push(format!("{name} with an instructor session: refused ({s}) though listed"));
                }
            } else if s != 403 || body["error"]["code"] != "instructor_session_not_allowed" {
                wrong.push(format!("{name} with an instructor session: {s} {body}"));
            }
            checked += 1;
        }
    }
    assert!(wrong.is_empty(), "{} wrong answers:\n{}", wrong.len(), wrong.join("\n"));
    assert!(checked > 100, "{checked} operations");
    let stale: Vec<&&str> = INSTRUCTOR_MAY.iter().filter(|n| !listed_and_seen.contains(&n.to_string())).collect();
    assert!(stale.is_empty(), "listed but not documented: {stale:?}");
}
