//! The billing portal's payment methods over HTTP: the learner picks the
//! card renewals charge and removes cards, never the last one a renewing
//! subscription needs.

use crate::common::*;
use serde_json::json;

async fn post(app: &TestApp, cookie: &str, path: &str, csrf: &str) -> (u16, String) {
    let r = app.client.post(app.url(path)).header("cookie", cookie).form(&[("csrf", csrf)]).send().await.unwrap();
    let status = r.status().as_u16();
    match r.headers().get("location") {
        Some(l) => (status, l.to_str().unwrap().to_string()),
        None => (status, r.text().await.unwrap()),
    }
}

async fn methods(app: &TestApp, customer: &str) -> Vec<(String, bool)> {
    let (_, m) = app.get(&format!("/v1/customers/{customer}/payment_methods")).await;
    m.as_array().unwrap().iter().map(|m| (m["last4"].as_str().unwrap().to_string(), m["default"] == true)).collect()
}

#[tokio::test]
async fn in_the_portal_a_learner_picks_the_card_renewals_charge_and_removes_cards() {
    let app = TestApp::spawn_with(|c| c.background_jobs = false).await;
    app.import_demo_catalog().await;
    let (_, cus) = app.post("/v1/customers", json!({"email": "sam@example.com", "country": "US"})).await;
    let cus = cus["id"].as_str().unwrap().to_string();
    let mut ids = Vec::new();
    for token in ["pm_card_visa", "pm_card_mastercard"] {
        let (s, m) = app.post(&format!("/v1/customers/{cus}/payment_methods"), json!({"token": token})).await;
        assert_eq!(s, 200, "{m}");
        ids.push(m["id"].as_str().unwrap().to_string());
    }
    let (visa, mastercard) = (ids[0].clone(), ids[1].clone());
    let (s, _) = app.post("/v1/subscriptions", json!({"customer": cus, "plan": "grow", "trial": false})).await;
    assert_eq!(s, 200);
    assert_eq!(methods(&app, &cus).await, vec![("4444".to_string(), true), ("4242".to_string(), false)]);

    let cookie = app.portal_cookie(&cus).await;
    let html = app.client.get(app.url("/portal")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    let csrf = hidden_value(&html, "csrf");
    assert!(html.contains(&format!("action=\"/portal/methods/{visa}/default\"")), "{html}");

    // A forged form changes nothing.
    let (s, _) = post(&app, &cookie, &format!("/portal/methods/{visa}/default"), "forged").await;
    assert_eq!(s, 403);
    let (s, to) = post(&app, &cookie, &format!("/portal/methods/{visa}/default"), &csrf).await;
    assert_eq!((s, to.as_str()), (303, "/portal?done=method_default"));
    assert_eq!(methods(&app, &cus).await, vec![("4444".to_string(), false), ("4242".to_string(), true)]);
    let (s, _) = post(&app, &cookie, &format!("/portal/methods/{mastercard}/remove"), &csrf).await;
    assert_eq!(s, 303);
    assert_eq!(methods(&app, &cus).await, vec![("4242".to_string(), true)]);
    // The last card, while the subscription renews on it: kept, and why.
    let (s, html) = post(&app, &cookie, &format!("/portal/methods/{visa}/remove"), &csrf).await;
    assert_eq!(s, 400);
    assert!(html.contains("role=\"alert\"") && html.contains("stays until another card is saved"), "{html}");
    assert_eq!(methods(&app, &cus).await.len(), 1);
    // Another learner's card is not found here.
    let (_, other) = app.post("/v1/customers", json!({"email": "bo@example.com", "country": "US"})).await;
    let other = other["id"].as_str().unwrap();
    let (_, theirs) =
        app.post(&format!("/v1/customers/{other}/payment_methods"), json!({"token": "pm_card_visa"})).await;
    let (s, _) =
        post(&app, &cookie, &format!("/portal/methods/{}/remove", theirs["id"].as_str().unwrap()), &csrf).await;
    assert_eq!(s, 404);
    assert_eq!(methods(&app, other).await.len(), 1);
    // Once nothing renews, the last card can go.
    let (_, subs) = app.get(&format!("/v1/subscriptions?customer={cus}")).await;
    let sub = subs["data"][0]["id"].as_str().unwrap();
    let (s, _) = app.post(&format!("/v1/subscriptions/{sub}/cancel"), json!({"at_period_end": false})).await;
    assert_eq!(s, 200);
    let (s, _) = post(&app, &cookie, &format!("/portal/methods/{visa}/remove"), &csrf).await;
    assert_eq!(s, 303);
    assert!(methods(&app, &cus).await.is_empty());
    let (_, evs) = app.get("/v1/events?type=payment_method.detached").await;
    assert_eq!(evs["data"].as_array().unwrap().len(), 2);
}
