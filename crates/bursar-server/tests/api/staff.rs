use crate::common::*;

fn cookie_value(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

#[tokio::test]
async fn staff_sign_in_with_csrf_and_see_the_home_page() {
    let app = TestApp::spawn().await;
    app.add_staff().await;
    let (s, _) =
        app.post("/v1/customers", serde_json::json!({"name": "Visible Customer", "email": "v@example.com"})).await;
    assert_eq!(s, 200);

    let resp = app.client.get(app.url("/staff")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 303);
    assert_eq!(resp.headers()["location"], "/staff/login");

    let page = app.client.get(app.url("/staff/login")).send().await.unwrap();
    let csrf = cookie_value(&page, "bursar_login_csrf").unwrap();
    let html = page.text().await.unwrap();
    assert!(html.contains(&format!("value=\"{csrf}\"")));
    assert!(html.contains("<label for=\"password\">"));

    // Without the CSRF cookie the form is refused.
    let resp = app
        .client
        .post(app.url("/staff/login"))
        .form(&[("csrf", csrf.as_str()), ("email", "ops@example.com"), ("password", "correct horse battery")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403);

    let cookie = format!("bursar_login_csrf={csrf}");
    let resp = app
        .client
        .post(app.url("/staff/login"))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf.as_str()), ("email", "ops@example.com"), ("password", "wrong password")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    assert!(resp.text().await.unwrap().contains("Wrong email or password"));

    let resp = app
        .client
        .post(app.url("/staff/login"))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf.as_str()), ("email", "OPS@example.com"), ("password", "correct horse battery")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 303);
    let session = cookie_value(&resp, "bursar_staff").unwrap();
    let stored: Vec<String> =
        sqlx::query_scalar("SELECT token_hash FROM staff_sessions").fetch_all(app.tdb.db.reader()).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0], session, "only the token's hash is stored");

    let home =
        app.client.get(app.url("/staff")).header("cookie", format!("bursar_staff={session}")).send().await.unwrap();
    assert_eq!(home.status().as_u16(), 200);
    let html = home.text().await.unwrap();
    assert!(html.contains("Visible Customer"));
    assert!(html.contains("Ops Person"));

    // Sign-out needs the session's CSRF token.
    let resp = app
        .client
        .post(app.url("/staff/logout"))
        .header("cookie", format!("bursar_staff={session}"))
        .form(&[("csrf", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403);
    let audit: i64 =
        sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM audit_log WHERE action = 'staff.sign_in'")
            .fetch_one(app.tdb.db.reader())
            .await
            .unwrap();
    assert_eq!(audit, 1);
}
