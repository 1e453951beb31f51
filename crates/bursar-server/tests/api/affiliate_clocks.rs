//! Affiliate clicks on a customer's test clock: attribution windows run on
//! the clock the purchase is made on, and a click later than the purchase
//! earns nothing.

use crate::common::*;
use crate::marketplace::{buy, course, instructor, learner, DAY, T0};
use serde_json::{json, Value};

async fn approved_affiliate(app: &TestApp) -> String {
    let (s, aff) = app.post("/v1/affiliates", json!({"external_id": "u-cara", "name": "Cara", "code": "CARA-1"})).await;
    assert_eq!(s, 201, "{aff}");
    let id = aff["id"].as_str().unwrap().to_string();
    let (s, aff) =
        app.post(&format!("/v1/affiliates/{id}/status"), json!({"status": "approved", "commission_bps": 1000})).await;
    assert_eq!(s, 200, "{aff}");
    id
}

async fn cart(app: &TestApp, customer: &str, course: &str, click: Option<&str>) -> Value {
    let (s, cart) = app
        .post(
            "/v1/carts",
            json!({"customer": customer, "currency": "EUR", "items": [course], "affiliate_click": click}),
        )
        .await;
    assert_eq!(s, 201, "{cart}");
    cart
}

async fn click_time_ms(app: &TestApp, id: &str) -> i64 {
    sqlx::query_scalar("SELECT created_at FROM affiliate_clicks WHERE id = $1")
        .bind(id)
        .fetch_one(app.tdb.db.reader())
        .await
        .unwrap()
}

#[tokio::test]
async fn clicks_of_a_customer_on_a_test_clock_happen_at_the_clocks_time() {
    let app = TestApp::spawn().await;
    let ana = instructor(&app, "u-ana", "standard").await;
    let rust = course(&app, &ana, "Rust for Data", 4_999).await;
    let sql = course(&app, &ana, "SQL Mastery", 2_999).await;
    let aff = approved_affiliate(&app).await;
    let (_, clock) = app.post("/v1/test_clocks", json!({"frozen_time": T0})).await;
    let clock = clock["id"].as_str().unwrap().to_string();
    let lea = learner(&app, &clock, "lea@example.fr").await;

    // A click naming the customer is stamped with the clock's time.
    let (s, click) =
        app.post("/v1/affiliate_clicks", json!({"code": "CARA-1", "ip": "203.0.113.9", "customer": lea})).await;
    assert_eq!(s, 201, "{click}");
    assert_eq!((click["created"].as_i64(), click["attribution_expires_at"].as_i64()), (Some(T0), Some(T0 + 30 * DAY)));

    // 31 days later on the clock, the window has passed: no commission.
    let (s, _) = app.post(&format!("/v1/test_clocks/{clock}/advance"), json!({"frozen_time": T0 + 31 * DAY})).await;
    assert_eq!(s, 200);
    let order = buy(&app, &cart(&app, &lea, &rust, None).await).await;
    assert!(order["affiliate"].is_null(), "{order}");

    // A visit's click (naming no one) that a cart names for her happens at
    // her clock's time too, and credits the purchase.
    let (s, visit) = app.post("/v1/affiliate_clicks", json!({"code": "CARA-1", "ip": "203.0.113.9"})).await;
    assert_eq!(s, 201, "{visit}");
    let visit = visit["id"].as_str().unwrap();
    let c = cart(&app, &lea, &sql, Some(visit)).await;
    assert_eq!(click_time_ms(&app, visit).await, (T0 + 31 * DAY) * 1000);
    let order = buy(&app, &c).await;
    assert_eq!(order["affiliate"], aff.as_str(), "{order}");
}

#[tokio::test]
async fn a_click_later_than_the_purchase_earns_no_commission() {
    let app = TestApp::spawn().await;
    let ana = instructor(&app, "u-ana", "standard").await;
    let rust = course(&app, &ana, "Rust for Data", 4_999).await;
    let sql = course(&app, &ana, "SQL Mastery", 2_999).await;
    approved_affiliate(&app).await;
    let (_, clock) = app.post("/v1/test_clocks", json!({"frozen_time": T0})).await;
    let lea = learner(&app, clock["id"].as_str().unwrap(), "lea@example.fr").await;
    let (s, click) =
        app.post("/v1/affiliate_clicks", json!({"code": "CARA-1", "ip": "203.0.113.9", "customer": lea})).await;
    assert_eq!(s, 201, "{click}");
    let click = click["id"].as_str().unwrap();
    // The click is stamped a day after the purchase that follows.
    sqlx::query("UPDATE affiliate_clicks SET created_at = $1 WHERE id = $2")
        .bind((T0 + DAY) * 1000)
        .bind(click)
        .execute(app.tdb.db.writer())
        .await
        .unwrap();
    // Named by the cart, or found as her latest click: no commission.
    let order = buy(&app, &cart(&app, &lea, &rust, Some(click)).await).await;
    assert!(order["affiliate"].is_null(), "{order}");
    let order = buy(&app, &cart(&app, &lea, &sql, None).await).await;
    assert!(order["affiliate"].is_null(), "{order}");
    let (_, commissions) = app.get("/v1/commissions").await;
    assert_eq!(commissions["data"].as_array().map(Vec::len), Some(0), "{commissions}");
}
