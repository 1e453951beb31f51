//! The content team's console pages: forms, a form's calibration runs with
//! their progress, Calibrate and Activate (with CSRF and the audit log),
//! item statistics with flags, and cohort comparisons.

use crate::common::*;
use crate::staff_billing::{audited, page, sign_in, submit};
use bursar_psychometrics as psy;
use serde_json::{json, Value};

const LSAT7: &str = include_str!("../../../bursar-psychometrics/tests/data/lsat7.csv");
pub(crate) const COUNTRIES: [&str; 3] = ["DE", "FR", "IN"];

/// LSAT7's 1000 persons as completed attempts at a five-item form `code`
/// (of `course`, if given), learners `{code}-{p}` in three countries, the
/// even ones in one organization. Returns the matrix.
pub(crate) async fn lsat7_form(app: &TestApp, code: &str, title: &str, course: Option<&str>) -> psy::ResponseMatrix {
    let m = psy::ResponseMatrix::from_csv(LSAT7).unwrap();
    let ids: Vec<String> = m.item_ids().iter().map(|i| format!("{code}-{i}")).collect();
    let items: Vec<Value> = ids.iter().map(|i| json!({"id": i, "topic": "Logic", "difficulty": 3})).collect();
    let mut form = json!({"id": code, "exam": "lsat", "title": title, "items": ids});
    if let Some(c) = course {
        form["course"] = json!(c);
    }
    let (s, b) = app.post("/v1/learning/content", json!({"items": items, "assessments": [form]})).await;
    assert_eq!(s, 200, "{b}");
    for chunk in (0..m.n_persons()).collect::<Vec<_>>().chunks(500) {
        let attempts: Vec<Value> = chunk
            .iter()
            .map(|&p| {
                let responses: Vec<Value> =
                    (0..m.n_items()).map(|j| json!({"item": ids[j], "correct": m.get(p, j) == Some(1)})).collect();
                let mut a = json!({"id": format!("{code}-a{p}"), "learner": format!("{code}-{p}"), "assessment": code,
                       "country": COUNTRIES[p % 3], "started_at": 1_796_000_000 + p as i64,
                       "ended_at": 1_796_000_600 + p as i64, "responses": responses});
                if p % 2 == 0 {
                    a["organization"] = json!("org-even");
                }
                a
            })
            .collect();
        let (s, b) = app.post("/v1/attempts/batch", json!({ "attempts": attempts })).await;
        assert_eq!(s, 200, "{b}");
    }
    m
}

async fn run_calibrations(app: &TestApp) -> u32 {
    bursar_core::learning::calibration::run_pending(&app.state).await.unwrap()
}

#[tokio::test]
async fn the_content_team_calibrates_a_form_follows_it_and_reads_its_items_and_cohorts() {
    let app = TestApp::spawn().await;
    let (session, csrf) = sign_in(&app).await;
    lsat7_form(&app, "lsat7", "LSAT section 7", None).await;
    let (s, list) = page(&app, &session, "/staff/forms?mode=test").await;
    assert_eq!(s, 200);
    assert!(list.contains("href=\"/staff/forms?mode=test\">Forms</a>"), "the console's navigation links the forms");
    assert!(list.contains("data-form=\"lsat7\"") && list.contains("LSAT section 7"));
    let (s, live) = page(&app, &session, "/staff/forms?mode=live").await;
    assert_eq!(s, 200);
    assert!(!live.contains("data-form=\"lsat7\""), "a test-mode form is not listed in live mode");

    let (s, html) = page(&app, &session, "/staff/forms/lsat7?mode=test").await;
    assert_eq!(s, 200);
    assert!(html.contains("Not calibrated yet") && html.contains("No succeeded calibration yet"));
    assert!(html.contains("data-cohort=\"global:all\"") && html.contains("data-cohort=\"country:IN\""));
    assert!(html.contains("data-cohort=\"organization:org-even\""), "organization cohorts are compared too");

    // Without the session's CSRF token nothing is requested.
    let form = [("csrf", "forged"), ("mode", "test"), ("model", "2pl"), ("activate", "1")];
    let (s, _) = submit(&app, &session, "/staff/forms/lsat7/calibrate", &form).await;
    assert_eq!(s, 403);
    assert_eq!(app.count("calibrations").await, 0);
    let form = [("csrf", csrf.as_str()), ("mode", "test"), ("model", "2pl"), ("activate", "1")];
    let (s, to) = submit(&app, &session, "/staff/forms/lsat7/calibrate", &form).await;
    assert_eq!((s, to.as_str()), (303, "/staff/forms/lsat7?mode=test&done=requested"));
    assert_eq!(audited(&app, "calibration.request").await, 1);
    let (_, html) = page(&app, &session, &to).await;
    assert!(html.contains("The calibration is queued"));
    assert!(html.contains("<meta http-equiv=\"refresh\""), "the page follows a queued run");
    let (_, runs) = app.get("/v1/assessments/lsat7/calibrations").await;
    let id = runs["data"][0]["id"].as_str().unwrap().to_string();
    assert_eq!((runs["data"][0]["status"].as_str(), runs["data"][0]["phase"].as_str()), (Some("queued"), None));

    // While a node runs it, the row carries its phase and cycle, which the
    // API and the console show (as a runner mid-way would have left it).
    sqlx::query("UPDATE calibrations SET status = 'running', phase = 'em', iteration = 12, progress = 47, lease_until = $2 WHERE id = $1")
        .bind(&id)
        .bind(i64::MAX / 2)
        .execute(app.tdb.db.writer())
        .await
        .unwrap();
    let (_, c) = app.get(&format!("/v1/calibrations/{id}")).await;
    assert_eq!(
        (c["phase"].as_str(), c["iteration"].as_i64(), c["progress"].as_i64()),
        (Some("em"), Some(12), Some(47))
    );
    let (_, html) = page(&app, &session, "/staff/forms/lsat7?mode=test").await;
    assert!(html.contains("<td data-doing>em, cycle 12</td>"), "the console shows the phase and cycle");
    assert!(html.contains("value=\"47\""));
    sqlx::query("UPDATE calibrations SET status = 'queued' WHERE id = $1")
        .bind(&id)
        .execute(app.tdb.db.writer())
        .await
        .unwrap();

    assert_eq!(run_calibrations(&app).await, 1);
    let (_, c) = app.get(&format!("/v1/calibrations/{id}")).await;
    let (_, report) = app.get(&format!("/v1/calibrations/{id}/report")).await;
    assert_eq!(
        (c["status"].as_str(), c["progress"].as_i64(), c["phase"].as_str()),
        (Some("succeeded"), Some(100), Some("done"))
    );
    assert_eq!(c["iteration"], report["irt"]["2pl"]["em_cycles"], "the cycles the fit took are recorded");
    assert!(c["progress_at"].as_i64().is_some());

    let (_, html) = page(&app, &session, "/staff/forms/lsat7?mode=test").await;
    let cycles = report["irt"]["2pl"]["em_cycles"].as_i64().unwrap();
    assert!(html.contains(&format!("done after {cycles} cycles")));
    assert!(html.contains("<strong>active</strong>"));
    assert!(!html.contains("<meta http-equiv=\"refresh\""), "nothing left to follow");
    let (_, stats) = app.get("/v1/assessments/lsat7/item_statistics").await;
    for item in stats["items"].as_array().unwrap() {
        let code = item["item"].as_str().unwrap();
        assert!(html.contains(&format!("data-item=\"{code}\"")), "{code} is listed");
        let p = format!("<td class=\"num\">{:.3}</td>", item["p_value"].as_f64().unwrap());
        assert!(html.contains(&p), "{code}'s p-value {p}");
    }
    let flagged =
        stats["items"].as_array().unwrap().iter().filter(|i| !i["flags"].as_array().unwrap().is_empty()).count();
    assert!(html.contains(&format!("<strong>{flagged}</strong> of 5 items flagged")));
    let (s, csv) = page(&app, &session, "/staff/forms/lsat7/item_statistics.csv?mode=test").await;
    assert_eq!(s, 200);
    assert_eq!(csv.lines().count(), 6, "a header and five items");

    // A Rasch run kept inactive: Activate makes it the one learners are scored against.
    let form = [("csrf", csrf.as_str()), ("mode", "test"), ("model", "rasch")];
    let (s, _) = submit(&app, &session, "/staff/forms/lsat7/calibrate", &form).await;
    assert_eq!(s, 303);
    run_calibrations(&app).await;
    let (_, runs) = app.get("/v1/assessments/lsat7/calibrations").await;
    let rasch = runs["data"][0]["id"].as_str().unwrap().to_string();
    assert_eq!((runs["data"][0]["model"].as_str(), runs["data"][0]["active"].as_bool()), (Some("rasch"), Some(false)));
    let (_, html) = page(&app, &session, "/staff/forms/lsat7?mode=test").await;
    assert!(html.contains(&format!("action=\"/staff/calibrations/{rasch}/activate\"")));
    let form_id = runs["data"][0]["assessment"].as_str().unwrap().to_string();
    let act = [("csrf", csrf.as_str()), ("mode", "test"), ("form", form_id.as_str())];
    let (s, _) =
        submit(&app, &session, &format!("/staff/calibrations/{rasch}/activate"), &[("csrf", "x"), act[1], act[2]])
            .await;
    assert_eq!(s, 403);
    let (s, to) = submit(&app, &session, &format!("/staff/calibrations/{rasch}/activate"), &act).await;
    assert_eq!((s, to), (303, format!("/staff/forms/{form_id}?mode=test&done=activated")));
    assert_eq!(audited(&app, "calibration.activate").await, 1);
    let (_, f) = app.get("/v1/assessments/lsat7").await;
    assert_eq!(f["active_calibration"].as_str(), Some(rasch.as_str()));

    // A run that has not succeeded cannot be activated: the page says why.
    let form = [("csrf", csrf.as_str()), ("mode", "test"), ("model", "2pl")];
    submit(&app, &session, "/staff/forms/lsat7/calibrate", &form).await;
    let (_, runs) = app.get("/v1/assessments/lsat7/calibrations").await;
    let queued = runs["data"][0]["id"].as_str().unwrap().to_string();
    let (s, html) = submit(&app, &session, &format!("/staff/calibrations/{queued}/activate"), &act).await;
    assert_eq!(s, 400);
    assert!(html.contains("role=\"alert\"") && html.contains("only a succeeded calibration can be active"), "{html}");
    let (_, f) = app.get("/v1/assessments/lsat7").await;
    assert_eq!(f["active_calibration"].as_str(), Some(rasch.as_str()));
    let bad = [("csrf", csrf.as_str()), ("mode", "test"), ("model", "3pl")];
    let (s, html) = submit(&app, &session, "/staff/forms/lsat7/calibrate", &bad).await;
    assert_eq!(s, 400);
    assert!(html.contains("model is 2pl, rasch or 1pl_a1_var1"));

    let (s, _) = page(&app, &session, "/staff/forms/nope?mode=test").await;
    assert_eq!(s, 404);
    let anon = app.client.get(app.url("/staff/forms")).send().await.unwrap();
    assert_eq!(anon.status(), 303, "signed out: to the sign-in page");
}
