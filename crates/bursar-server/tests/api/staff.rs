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

/// One sign-in attempt with a fresh form: (status, Retry-After, page).
async fn sign_in(app: &TestApp, email: &str, password: &str) -> (u16, Option<i64>, String) {
    let page = app.client.get(app.url("/staff/login")).send().await.unwrap();
    let csrf = cookie_value(&page, "bursar_login_csrf").unwrap();
    let resp = app
        .client
        .post(app.url("/staff/login"))
        .header("cookie", format!("bursar_login_csrf={csrf}"))
        .form(&[("csrf", csrf.as_str()), ("email", email), ("password", password)])
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let retry = resp.headers().get("retry-after").map(|v| v.to_str().unwrap().parse::<i64>().unwrap());
    (status, retry, resp.text().await.unwrap())
}

async fn audited(app: &TestApp, action: &str) -> Vec<serde_json::Value> {
    let rows: Vec<String> = sqlx::query_scalar("SELECT details FROM audit_log WHERE action = $1 ORDER BY id")
        .bind(action)
        .fetch_all(app.tdb.db.reader())
        .await
        .unwrap();
    rows.iter().map(|d| serde_json::from_str(d).unwrap()).collect()
}

#[tokio::test]
async fn an_account_is_locked_after_five_wrong_passwords_even_against_the_right_one() {
    let app = TestApp::spawn().await;
    app.add_staff().await;
    for _ in 0..5 {
        let (s, retry, _) = sign_in(&app, "ops@example.com", "a guess").await;
        assert_eq!((s, retry), (401, None));
    }
    // The sixth wrong password locks the account for 30 seconds.
    let (s, retry, _) = sign_in(&app, "ops@example.com", "another guess").await;
    assert_eq!((s, retry), (401, None));
    let (s, retry, page) = sign_in(&app, "ops@example.com", "correct horse battery").await;
    assert_eq!(s, 429, "the right password does not open a locked account");
    assert!(retry.is_some_and(|r| (1..=30).contains(&r)), "{retry:?}");
    assert!(page.contains("Too many failed sign-ins"), "{page}");
    assert_eq!(app.count("staff_sessions").await, 0);
    let failed = audited(&app, "staff.sign_in_failed").await;
    assert_eq!(failed.len(), 7);
    assert_eq!(failed.iter().filter(|d| d["reason"] == "wrong").count(), 6);
    assert_eq!(failed[6]["reason"], "locked");
    assert!(failed.iter().all(|d| d["email"] == "ops@example.com"));
    // Another account is not locked by this one's failures.
    let (s, _, _) = sign_in(&app, "someone@example.com", "x").await;
    assert_eq!(s, 401);
}

#[tokio::test]
async fn an_address_trying_many_accounts_is_locked_and_unknown_emails_are_audited() {
    let app = TestApp::spawn().await;
    app.add_staff().await;
    for i in 0..21 {
        let (s, _, page) = sign_in(&app, &format!("nobody{i}@example.com"), "guess").await;
        assert_eq!(s, 401);
        assert!(page.contains("Wrong email or password"), "an unknown email reads like a wrong password");
    }
    let (s, retry, _) = sign_in(&app, "ops@example.com", "correct horse battery").await;
    assert_eq!(s, 429, "the address is locked for every account");
    assert!(retry.is_some());
    let failed = audited(&app, "staff.sign_in_failed").await;
    assert_eq!(failed.iter().filter(|d| d["reason"] == "wrong").count(), 21);
    assert!(failed.iter().any(|d| d["email"] == "nobody0@example.com"));
}

#[tokio::test]
async fn a_success_forgets_the_accounts_earlier_failures() {
    let app = TestApp::spawn().await;
    app.add_staff().await;
    for _ in 0..4 {
        assert_eq!(sign_in(&app, "ops@example.com", "guess").await.0, 401);
    }
    assert_eq!(sign_in(&app, "ops@example.com", "correct horse battery").await.0, 303);
    // Four more failures do not lock it: the count started again.
    for _ in 0..5 {
        assert_eq!(sign_in(&app, "ops@example.com", "guess").await.0, 401);
    }
    assert_eq!(sign_in(&app, "ops@example.com", "correct horse battery").await.0, 303);
}
