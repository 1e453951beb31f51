//! The course pages' cart over HTTP: a cookie cart that prices afresh on
//! every view, refuses other sites' forms, and checks out through Bursar for
//! a signed-in learner or through the platform for anyone else.

use crate::common::*;
use crate::marketplace::{course, instructor, pay};
use serde_json::json;

/// What a form post answered: status, Location, and the cart cookie set.
struct Answer {
    status: u16,
    location: String,
    cart: Option<String>,
    body: String,
}

async fn post(app: &TestApp, path: &str, cookie: &str, form: &[(&str, &str)]) -> Answer {
    let r = app
        .client
        .post(app.url(path))
        .header("cookie", cookie)
        .header("sec-fetch-site", "same-origin")
        .header("accept-language", "en-US")
        .form(form)
        .send()
        .await
        .unwrap();
    let cart = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok()?.split(';').next()?.strip_prefix("bursar_cart=").map(str::to_string))
        .next();
    Answer {
        status: r.status().as_u16(),
        location: r.headers().get("location").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default(),
        cart,
        body: r.text().await.unwrap(),
    }
}

async fn get(app: &TestApp, path: &str, cookie: &str) -> (u16, String) {
    let r = app.client.get(app.url(path)).header("cookie", cookie).header("accept-language", "en-US").send().await;
    let r = r.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn a_visitor_fills_a_cart_and_a_signed_in_learner_buys_it() {
    let app = TestApp::spawn_with(|c| c.background_jobs = false).await;
    let ana = instructor(&app, "u-ana", "standard").await;
    let rust = course(&app, &ana, "Rust for Data", 4_999).await;
    let sql = course(&app, &ana, "SQL Mastery", 2_999).await;
    let (_, draft) =
        app.post("/v1/courses", json!({"instructor": ana, "title": "Unfinished", "prices": {"EUR": 100}})).await;
    let draft = draft["id"].as_str().unwrap().to_string();
    let (_, usd_only) = app
        .post(
            "/v1/courses",
            json!({"instructor": ana, "title": "Dollars", "description": "Sold in dollars only.", "topics": ["data"],
                   "level": "beginner", "language": "en", "duration_minutes": 60, "prices": {"USD": 900}}),
        )
        .await;
    let usd_only = usd_only["id"].as_str().unwrap().to_string();
    let (s, p) = app.post(&format!("/v1/courses/{usd_only}/publish"), json!({})).await;
    assert_eq!(s, 200, "{p}");

    // The course page offers the cart in the currency it shows.
    let r =
        app.client.get(app.url(&format!("/courses/{rust}?mode=test"))).header("accept-language", "fr-FR").send().await;
    let html = r.unwrap().text().await.unwrap();
    let form =
        html.split("action=\"/cart/items\"").nth(1).expect("an add-to-cart form").split("</form>").next().unwrap();
    assert!(form.contains(&format!("value=\"{rust}\"")) && form.contains("name=\"currency\" value=\"EUR\""), "{form}");

    let add = |cookie: String, id: String| {
        let app = &app;
        async move { post(app, "/cart/items", &cookie, &[("course", &id), ("currency", "EUR"), ("mode", "test")]).await }
    };
    let a = add(String::new(), rust.clone()).await;
    assert_eq!((a.status, a.location.as_str()), (303, "/cart?notice=added"));
    let cart = format!("bursar_cart={}", a.cart.expect("the cart cookie"));
    assert_eq!(cart, format!("bursar_cart=t.EUR.{rust}"));
    let a = add(cart.clone(), rust.clone()).await;
    assert_eq!(a.location, "/cart?notice=already");
    let a = add(cart.clone(), draft.clone()).await;
    assert_eq!((a.location.as_str(), a.cart), ("/cart?notice=unavailable", None));
    let a = add(cart.clone(), usd_only.clone()).await;
    assert_eq!((a.location.as_str(), a.cart), ("/cart?notice=currency", None));
    let (_, html) = get(&app, "/cart?notice=currency", &cart).await;
    assert!(html.contains("role=\"alert\"") && html.contains("not sold in your cart"), "{html}");
    let a = add(cart.clone(), sql.clone()).await;
    let cart = format!("bursar_cart={}", a.cart.unwrap());
    // Another site's form changes nothing.
    let r = app
        .client
        .post(app.url("/cart/items"))
        .header("cookie", &cart)
        .header("sec-fetch-site", "cross-site")
        .form(&[("course", sql.as_str()), ("currency", "EUR"), ("mode", "test")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let r = app
        .client
        .post(app.url("/cart/checkout"))
        .header("cookie", &cart)
        .header("origin", "https://evil.example")
        .send();
    assert_eq!(r.await.unwrap().status().as_u16(), 403);

    // The cart prices afresh: both courses, the total in euros.
    let (s, html) = get(&app, "/cart", &cart).await;
    assert_eq!(s, 200);
    assert!(html.contains("Rust for Data") && html.contains("SQL Mastery") && html.contains("€79.98"), "{html}");
    // A price the cookie does not keep: a course off sale is marked, not charged.
    assert_eq!(app.post(&format!("/v1/courses/{sql}/unpublish"), json!({})).await.0, 200);
    let (_, html) = get(&app, "/cart", &cart).await;
    assert!(html.contains("no longer on sale") && html.contains("€49.99"), "{html}");
    assert_eq!(app.post(&format!("/v1/courses/{sql}/publish"), json!({})).await.0, 200);
    let a = post(&app, &format!("/cart/items/{sql}/remove"), &cart, &[]).await;
    assert_eq!(a.cart.as_deref(), Some(format!("t.EUR.{rust}").as_str()));
    let cart = format!("bursar_cart=t.EUR.{rust}~{sql}");

    // Not signed in, and no platform checkout configured: told how to buy.
    let a = post(&app, "/cart/checkout", &cart, &[]).await;
    assert_eq!(a.status, 401);
    assert!(a.body.contains("sign in from your account"), "{}", a.body);

    // Signed in through the portal: a real cart, Bursar's checkout.
    let (_, lea) = app.post("/v1/customers", json!({"country": "FR", "email": "lea@example.fr"})).await;
    let lea = lea["id"].as_str().unwrap().to_string();
    let portal = app.portal_cookie(&lea).await;
    let both = format!("{cart}; {portal}");
    let (_, html) = get(&app, "/cart", &both).await;
    assert!(html.contains("Buying as lea@example.fr"), "{html}");
    let a = post(&app, "/cart/checkout", &both, &[]).await;
    assert_eq!(a.status, 303, "{}", a.body);
    let session = a.location.strip_prefix("/checkout/").expect("Bursar's checkout").to_string();
    let (_, cs) = app.get(&format!("/v1/checkout/sessions/{session}")).await;
    assert_eq!((cs["customer"].as_str(), cs["currency"].as_str()), (Some(lea.as_str()), Some("EUR")));
    assert_eq!(cs["cancel_url"], app.url("/cart"), "leaving comes back to the cart");
    pay(&app, &session).await;
    let (_, orders) = app.get(&format!("/v1/orders?customer={lea}")).await;
    let items: Vec<&str> =
        orders["data"][0]["items"].as_array().unwrap().iter().map(|i| i["course"].as_str().unwrap()).collect();
    assert_eq!(items.len(), 2);
    assert!(items.contains(&rust.as_str()) && items.contains(&sql.as_str()));
    // Bought: out of the cart.
    let r = app.client.get(app.url("/cart")).header("cookie", &both).send().await.unwrap();
    let kept = r.headers().get("set-cookie").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    assert!(kept.starts_with("bursar_cart=t.EUR.;"), "{kept}");
    let html = r.text().await.unwrap();
    assert!(html.contains("Already yours") && html.contains("Your cart is empty"), "{html}");
    app.verify_ledger().await;
}

#[tokio::test]
async fn a_visitor_who_is_not_signed_in_goes_to_the_platform_with_the_cart() {
    let app = TestApp::spawn_with(|c| {
        c.background_jobs = false;
        c.courses_checkout_url = Some("https://learn.example/buy?from=cart".into());
    })
    .await;
    let ana = instructor(&app, "u-ana", "standard").await;
    let rust = course(&app, &ana, "Rust for Data", 4_999).await;
    let a = post(&app, "/cart/items", "", &[("course", &rust), ("currency", "USD"), ("mode", "test")]).await;
    let cart = format!("bursar_cart={}", a.cart.unwrap());
    let (_, html) = get(&app, "/cart", &cart).await;
    assert!(html.contains("$54.99"), "the course's dollar price: {html}");
    let a = post(&app, "/cart/checkout", &cart, &[]).await;
    assert_eq!(
        (a.status, a.location),
        (303, format!("https://learn.example/buy?from=cart&courses={rust}&currency=USD&mode=test"))
    );
    // An empty cart has nothing to buy.
    let a = post(&app, "/cart/checkout", "bursar_cart=t.USD.", &[]).await;
    assert_eq!(a.location, "/cart?notice=empty");
    // A tampered cookie is no cart at all.
    let (s, html) = get(&app, "/cart", "bursar_cart=t.USD.<script>").await;
    assert_eq!(s, 200);
    assert!(html.contains("Your cart is empty") && !html.contains("<script>"));
}
