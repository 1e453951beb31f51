//! The instructor's dashboard, as data and as the hosted page: their
//! courses' students, completion, average score and revenue from the
//! marketplace's books, and the item analysis of their own forms; never
//! another instructor's.

use crate::common::*;
use crate::learning_staff::lsat7_form;
use crate::marketplace::{buy, course, instructor};
use serde_json::{json, Value};

/// A dashboard session's cookie, through its one-time link.
async fn dashboard_cookie(app: &TestApp, body: Value) -> String {
    let (s, ds) = app.post("/v1/dashboard_sessions", body).await;
    assert_eq!(s, 201, "{ds}");
    let link = ds["url"].as_str().unwrap().split_once("/dashboard/").map(|(_, t)| format!("/dashboard/{t}")).unwrap();
    let r = app.client.get(app.url(&link)).send().await.unwrap();
    assert_eq!(r.status(), 303);
    r.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string()
}

async fn get_html(app: &TestApp, cookie: &str, path: &str) -> (u16, String) {
    let r = app.client.get(app.url(path)).header("cookie", cookie).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn an_instructor_sees_their_courses_and_their_forms_item_analysis_and_nothing_of_another() {
    let app = TestApp::spawn().await;
    let ana = instructor(&app, "u-ana", "standard").await;
    let ben = instructor(&app, "u-ben", "standard").await;
    let anas = course(&app, &ana, "Logic for the LSAT", 4_000).await;
    let bens = course(&app, &ben, "Secret Reasoning", 2_000).await;
    // Ana's course sells once; Ben's twice.
    for (email, c) in [("lea@example.fr", &anas), ("max@example.fr", &bens), ("noe@example.fr", &bens)] {
        let (_, cus) = app.post("/v1/customers", json!({"country": "FR", "email": email})).await;
        let (s, cart) = app.post("/v1/carts", json!({"customer": cus["id"], "currency": "EUR", "items": [c]})).await;
        assert_eq!(s, 201, "{cart}");
        buy(&app, &cart).await;
    }
    let m = lsat7_form(&app, "ana-form", "Logic test of Ana", Some(&anas)).await;
    let (s, b) = app
        .post(
            "/v1/learning/content",
            json!({"items": [{"id": "B1", "topic": "Secrets", "difficulty": 2}],
                   "assessments": [{"id": "ben-form", "exam": "lsat", "title": "Hidden test of Ben", "course": bens, "items": ["B1"]}]}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = app
        .post(
            "/v1/attempts/batch",
            json!({"attempts": [{"id": "b1", "learner": "zoe", "assessment": "ben-form",
            "started_at": 1_796_000_000, "ended_at": 1_796_000_060, "responses": [{"item": "B1", "correct": true}]}]}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let (s, c) = app.post("/v1/assessments/ana-form/calibrations", json!({})).await;
    assert_eq!(s, 201, "{c}");
    bursar_core::learning::calibration::run_pending(&app.state).await.unwrap();

    // The data, as the platform reads it.
    let (s, l) = app.get(&format!("/v1/instructors/{ana}/learning")).await;
    assert_eq!(s, 200, "{l}");
    let (_, market) = app.get(&format!("/v1/instructors/{ana}/analytics")).await;
    assert_eq!(l["courses"].as_array().unwrap().len(), 1);
    let c = &l["courses"][0];
    assert_eq!((c["course"].as_str(), c["students"].as_i64()), (Some(anas.as_str()), Some(1)));
    assert_eq!(c["revenue"], market["courses"][0]["revenue"], "revenue from the marketplace's books");
    assert_eq!(c["earnings"], market["courses"][0]["earnings"]);
    let revenue = c["revenue"]["EUR"].as_i64().unwrap();
    assert!(revenue > 0 && c["earnings"]["EUR"].as_i64().unwrap() < revenue, "{c}");
    let right: usize = (0..m.n_persons()).map(|p| (0..m.n_items()).filter(|&j| m.get(p, j) == Some(1)).count()).sum();
    let want = (right as f64 * 1000.0 / (m.n_persons() * m.n_items()) as f64).round() / 10.0;
    assert_eq!(c["average_score"].as_f64(), Some(want), "{c}");
    assert_eq!((c["attempts_completed"].as_i64(), c["learners_tested"].as_i64()), (Some(1000), Some(1000)));
    assert_eq!(l["forms"].as_array().unwrap().len(), 1, "{l}");
    assert_eq!((l["forms"][0]["code"].as_str(), l["forms"][0]["persons"].as_i64()), (Some("ana-form"), Some(1000)));
    let (s, stats) = app.get(&format!("/v1/instructors/{ana}/assessments/ana-form/item_statistics")).await;
    assert_eq!((s, stats["persons"].as_i64()), (200, Some(1000)), "{stats}");
    let flagged =
        stats["items"].as_array().unwrap().iter().filter(|i| !i["flags"].as_array().unwrap().is_empty()).count();
    assert_eq!(l["forms"][0]["flagged_items"].as_u64(), Some(flagged as u64));
    // Ben's form belongs to Ben: the platform may read it for him (not calibrated yet), not for Ana.
    let (s, e) = app.get(&format!("/v1/instructors/{ben}/assessments/ben-form/item_statistics")).await;
    assert_error(s, &e, 409, None);
    let (s, e) = app.get(&format!("/v1/instructors/{ana}/assessments/ben-form/item_statistics")).await;
    assert_error(s, &e, 404, Some("form"));
    let (s, e) = app.get("/v1/instructors/ins_nobody/learning").await;
    assert_error(s, &e, 404, Some("id"));

    // Ana's own session reaches her data only.
    let (_, sess) = app.post(&format!("/v1/instructors/{ana}/sessions"), json!({})).await;
    let token = sess["token"].as_str().unwrap().to_string();
    let as_ana = |p: &str| app.client.get(app.url(p)).bearer_auth(&token).send();
    let (s, mine) = json(as_ana(&format!("/v1/instructors/{ana}/learning")).await.unwrap()).await;
    assert_eq!((s, &mine), (200, &l));
    for path in [
        format!("/v1/instructors/{ben}/learning"),
        format!("/v1/instructors/{ben}/assessments/ben-form/item_statistics"),
    ] {
        let (s, e) = json(as_ana(&path).await.unwrap()).await;
        assert_error(s, &e, 404, Some("id"));
    }
    let (s, e) =
        json(as_ana(&format!("/v1/instructors/{ana}/assessments/ben-form/item_statistics")).await.unwrap()).await;
    assert_error(s, &e, 404, Some("form"));

    // The hosted dashboard the platform opens for her.
    let cookie =
        dashboard_cookie(&app, json!({"instructor": "u-ana", "return_url": "https://teach.example/home"})).await;
    let (s, html) = get_html(&app, &cookie, "/dashboard").await;
    assert_eq!(s, 200);
    assert!(html.contains("Your courses") && html.contains("Logic for the LSAT") && html.contains("Logic test of Ana"));
    assert!(!html.contains("Secret Reasoning") && !html.contains("Hidden test of Ben"), "nothing of Ben's");
    assert!(html.contains("role=\"img\""), "the chart is an image with a text alternative");
    assert!(
        html.contains(&format!(
            "Completion rate: Logic for the LSAT 0 %; Average score: Logic for the LSAT {want:.0} %"
        )),
        "the text alternative states the data"
    );
    assert!(html.contains("<caption>"), "with the numbers as a table");
    assert!(html.contains(&format!("{want:.1} %")), "the average score");
    let euros = format!("€{}.{:02}", revenue / 100, revenue % 100);
    assert!(html.contains(&euros), "revenue {euros} in {html}");
    assert!(html.contains("https://teach.example/home"));
    let form_id = l["forms"][0]["id"].as_str().unwrap();
    assert!(html.contains(&format!("/dashboard/forms/{form_id}")));

    let (s, html) = get_html(&app, &cookie, &format!("/dashboard/forms/{form_id}")).await;
    assert_eq!(s, 200);
    assert!(html.contains("Item analysis of Logic test of Ana") && html.contains("role=\"img\""));
    assert!(html.contains("Share answering right, by item"));
    for item in stats["items"].as_array().unwrap() {
        let code = item["item"].as_str().unwrap();
        let right = format!("{:.0} %", item["p_value"].as_f64().unwrap() * 100.0);
        assert!(html.contains(&format!("<th scope=\"row\" data-label=\"Item\">{code}</th>")), "{code}");
        assert!(html.contains(&right), "{code} right {right}");
    }
    assert!(html.contains(&format!("{flagged} of 5 items flagged")));
    let (_, ben_form) = app.get("/v1/assessments/ben-form").await;
    for path in
        ["/dashboard/forms/ben-form".to_string(), format!("/dashboard/forms/{}", ben_form["id"].as_str().unwrap())]
    {
        let (s, html) = get_html(&app, &cookie, &path).await;
        assert_eq!(s, 404, "{path}");
        assert!(!html.contains("Secrets") && !html.contains("B1"));
    }

    // A learner's session has no instructor pages, and no session none at all.
    let learner = dashboard_cookie(&app, json!({"learner": "ana-form-1"})).await;
    let (s, _) = get_html(&app, &learner, &format!("/dashboard/forms/{form_id}")).await;
    assert_eq!(s, 404);
    let (s, html) = get_html(&app, &learner, "/dashboard").await;
    assert_eq!(s, 200);
    assert!(html.contains("Your progress in lsat") && !html.contains("Logic for the LSAT"));
    let r = app.client.get(app.url(&format!("/dashboard/forms/{form_id}"))).send().await.unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn an_instructor_without_courses_or_calibrations_sees_empty_states() {
    let app = TestApp::spawn().await;
    let ana = instructor(&app, "u-ana", "standard").await;
    let (s, l) = app.get(&format!("/v1/instructors/{ana}/learning")).await;
    assert_eq!(s, 200, "{l}");
    assert_eq!((l["courses"].as_array().unwrap().len(), l["forms"].as_array().unwrap().len()), (0, 0));
    let cookie = dashboard_cookie(&app, json!({"instructor": ana})).await;
    let (s, html) = get_html(&app, &cookie, "/dashboard").await;
    assert_eq!(s, 200);
    assert!(html.contains("No courses yet.") && html.contains("None of your courses has a test yet."));
    let anas = course(&app, &ana, "Logic", 1_000).await;
    let (s, b) = app
        .post(
            "/v1/learning/content",
            json!({"items": [{"id": "Q1", "topic": "Logic", "difficulty": 2}],
                   "assessments": [{"id": "f1", "exam": "lsat", "title": "First test", "course": anas, "items": ["Q1"]}]}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let (_, l) = app.get(&format!("/v1/instructors/{ana}/learning")).await;
    assert_eq!(
        (l["courses"][0]["average_score"].clone(), l["forms"][0]["calibration"].clone()),
        (Value::Null, Value::Null)
    );
    let (s, html) = get_html(&app, &cookie, "/dashboard").await;
    assert_eq!(s, 200);
    assert!(html.contains("not calibrated yet"));
    let (s, html) = get_html(&app, &cookie, "/dashboard/forms/f1").await;
    assert_eq!(s, 200);
    assert!(html.contains("No item analysis yet"));
}
