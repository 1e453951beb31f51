//! Learning analytics through the API: content imports with item versions,
//! attempt batches (idempotent, all-or-nothing), the learner dashboard
//! against hand-computed figures, calibrations of LSAT7 against its
//! published values, abilities, item statistics, cohorts and exports.

use crate::common::{assert_error, TestApp};
use bursar_psychometrics as psy;
use serde_json::{json, Value};

const LSAT7: &str = include_str!("../../../bursar-psychometrics/tests/data/lsat7.csv");

/// Five items on three topics, one form with a 60 s target per question.
async fn content(app: &TestApp) {
    let (s, b) = app
        .post(
            "/v1/learning/content",
            json!({
                "items": [
                    {"id": "Q1", "topic": "Algebra", "difficulty": 1},
                    {"id": "Q2", "topic": "Algebra", "skill": "linear", "difficulty": 2},
                    {"id": "Q3", "topic": "Geometry", "difficulty": 3},
                    {"id": "Q4", "topic": "Geometry", "difficulty": 4}
                ],
                "items_csv": "id,topic,difficulty\nQ5,Data,5\n",
                "assessments": [{"id": "form-a", "exam": "gmat", "title": "GMAT practice A",
                    "target_seconds_per_item": 60, "items": ["Q1", "Q2", "Q3", "Q4", "Q5"]}]
            }),
        )
        .await;
    assert_eq!(s, 200, "{b}");
}

fn resp(item: &str, score: f64, time_s: Option<i64>) -> Value {
    let mut r = json!({"item": item, "score": score});
    if let Some(t) = time_s {
        r["time_ms"] = json!(t * 1000);
    }
    r
}

#[tokio::test]
async fn content_imports_are_idempotent_and_changed_items_get_a_new_version() {
    let app = TestApp::spawn().await;
    content(&app).await;
    let (s, again) = app
        .post(
            "/v1/learning/content",
            json!({"items": [{"id": "Q1", "topic": "Algebra", "difficulty": 1},
                             {"id": "Q2", "topic": "Algebra", "skill": "linear", "difficulty": 3}]}),
        )
        .await;
    assert_eq!(s, 200, "{again}");
    assert_eq!(again["items_unchanged"], 1);
    assert_eq!(again["items_versioned"], 1);
    assert_eq!(again["items_created"], 0);
    let (s, versions) = app.get("/v1/items/Q2/versions").await;
    assert_eq!(s, 200, "{versions}");
    let v = versions["data"].as_array().unwrap();
    assert_eq!(v.len(), 2);
    assert_eq!((v[0]["difficulty"].as_i64(), v[0]["current"].as_bool()), (Some(2), Some(false)));
    assert_eq!(
        (v[1]["difficulty"].as_i64(), v[1]["current"].as_bool(), v[1]["version"].as_i64()),
        (Some(3), Some(true), Some(2))
    );
    assert_eq!(v[1]["exam"], "gmat", "a new version keeps its exam");

    let (s, form) = app.get("/v1/assessments/form-a").await;
    assert_eq!(s, 200, "{form}");
    assert_eq!(form["items"], json!(["Q1", "Q2", "Q3", "Q4", "Q5"]));
    assert_eq!(form["target_seconds_per_item"], 60);
    assert!(form["id"].as_str().unwrap().starts_with("asm_"));
    let (s, by_id) = app.get(&format!("/v1/assessments/{}", form["id"].as_str().unwrap())).await;
    assert_eq!((s, by_id["code"].as_str()), (200, Some("form-a")));
    let (s, list) = app.get("/v1/assessments?exam=gmat").await;
    assert_eq!((s, list["data"].as_array().map(Vec::len)), (200, Some(1)));

    // Bad content is refused whole, naming the field.
    let (s, b) = app
        .post(
            "/v1/learning/content",
            json!({"assessments": [{"id": "form-b", "exam": "gmat", "title": "B", "items": ["Q1", "Q2", "Q9"]}]}),
        )
        .await;
    assert_error(s, &b, 400, Some("assessments[0].items[2]"));
    let (s, b) =
        app.post("/v1/learning/content", json!({"items": [{"id": "Q6", "topic": "Data", "difficulty": 7}]})).await;
    assert_error(s, &b, 400, Some("items[0].difficulty"));
    let (s, b) =
        app.post("/v1/learning/content", json!({"items_csv": "id,topic,difficulty\nQ7,Data,1\nQ8,Data,hard\n"})).await;
    assert_error(s, &b, 400, Some("items_csv[line 3]"));
    let (s, b) = app.get("/v1/items/Q7/versions").await;
    assert_error(s, &b, 404, Some("id"));
    let (s, b) = app.get("/v1/assessments/form-b").await;
    assert_error(s, &b, 404, Some("id"));
}

#[tokio::test]
async fn batches_are_idempotent_and_a_bad_row_writes_nothing() {
    let app = TestApp::spawn().await;
    content(&app).await;
    let batch = json!({"attempts": [
        {"id": "a1", "learner": "u1", "assessment": "form-a", "started_at": 1_796_600_000, "ended_at": 1_796_600_600,
         "responses": [resp("Q1", 1.0, Some(30)), resp("Q2", 0.0, Some(40))]},
        {"id": "a2", "learner": "u2", "assessment": "form-a", "started_at": 1_796_600_000,
         "responses": [{"item": "Q3", "correct": true, "flags": ["reviewed"]}]}
    ]});
    let (s, first) = app.post("/v1/attempts/batch", batch.clone()).await;
    assert_eq!(s, 200, "{first}");
    assert_eq!((first["attempts_created"].as_i64(), first["responses_recorded"].as_i64()), (Some(2), Some(3)));
    let (s, again) = app.post("/v1/attempts/batch", batch).await;
    assert_eq!(s, 200, "{again}");
    assert_eq!(
        (again["attempts_updated"].as_i64(), again["responses_recorded"].as_i64(), again["duplicates"].as_i64()),
        (Some(2), Some(0), Some(3))
    );
    // A later batch completes a2 and adds an answer.
    let (s, more) = app
        .post(
            "/v1/attempts/batch",
            json!({"attempts": [{"id": "a2", "learner": "u2", "assessment": "form-a",
            "started_at": 1_796_600_000, "status": "completed", "responses": [resp("Q4", 0.5, None)]}]}),
        )
        .await;
    assert_eq!((s, more["responses_recorded"].as_i64()), (200, Some(1)), "{more}");
    let (_, d) = app.get("/v1/learners/u2/dashboard").await;
    assert_eq!(d["summary"]["tests_completed"], 1, "{d}");
    assert_eq!(d["summary"]["average_score"], 75.0, "(1 + 0.5) / 2");

    let (attempts, responses) = (app.count("attempts").await, app.count("responses").await);
    // A bad row refuses the batch, naming it; nothing of it is written.
    let bad = json!({"attempts": [
        {"id": "a3", "learner": "u3", "assessment": "form-a", "started_at": 1_796_600_000, "responses": [resp("Q1", 1.0, None)]},
        {"id": "a4", "learner": "u4", "assessment": "form-a", "started_at": 1_796_600_000, "responses": [resp("Q1", 1.5, None)]}
    ]});
    let (s, b) = app.post("/v1/attempts/batch", bad).await;
    assert_error(s, &b, 400, Some("attempts[1].responses[0].score"));
    let (s, b) = app
        .post(
            "/v1/attempts/batch",
            json!({"attempts": [{"id": "a5", "learner": "u5", "assessment": "form-a",
            "started_at": 1_796_600_000, "responses": [resp("Q1", 1.0, None), resp("Q9", 1.0, None)]}]}),
        )
        .await;
    assert_error(s, &b, 400, Some("attempts[0].responses[1].item"));
    let (s, b) = app
        .post(
            "/v1/attempts/batch",
            json!({"attempts": [{"id": "a6", "learner": "u6", "assessment": "nope",
            "started_at": 1_796_600_000}]}),
        )
        .await;
    assert_error(s, &b, 404, Some("attempts[0].assessment"));
    let (s, b) = app
        .post(
            "/v1/attempts/batch",
            json!({"attempts": [{"id": "a1", "learner": "someone-else", "assessment": "form-a",
            "started_at": 1_796_600_000}]}),
        )
        .await;
    assert_error(s, &b, 409, Some("attempts[0].id"));
    let (s, b) = app
        .post(
            "/v1/attempts/batch",
            json!({"attempts": [{"id": "a7", "learner": "u7", "assessment": "form-a",
            "started_at": 1_796_600_000, "time_zone": "Mars/Olympus"}]}),
        )
        .await;
    assert_error(s, &b, 400, Some("attempts[0].time_zone"));
    let big: Vec<Value> = (0..10_001).map(|i| json!({"id": format!("r{i}"), "item": "Q1", "correct": true})).collect();
    let (s, b) = app
        .post(
            "/v1/attempts/batch",
            json!({"attempts": [{"id": "a8", "learner": "u8", "assessment": "form-a",
            "started_at": 1_796_600_000, "responses": big}]}),
        )
        .await;
    assert_error(s, &b, 400, Some("attempts"));
    assert_eq!((app.count("attempts").await, app.count("responses").await), (attempts, responses));

    // The same key replays the first answer.
    let body = json!({"attempts": [{"id": "a9", "learner": "u9", "assessment": "form-a", "started_at": 1_796_600_000,
        "responses": [resp("Q1", 1.0, None)]}]});
    let send =
        || app.req(reqwest::Method::POST, "/v1/attempts/batch").header("Idempotency-Key", "batch-9").json(&body).send();
    let r1 = send().await.unwrap();
    let t1 = r1.text().await.unwrap();
    let r2 = send().await.unwrap();
    assert_eq!(r2.headers().get("idempotent-replayed").map(|v| v.to_str().unwrap()), Some("true"));
    assert_eq!(r2.text().await.unwrap(), t1);
}

#[tokio::test]
async fn the_dashboard_shows_what_the_learner_answered() {
    let app = TestApp::spawn().await;
    content(&app).await;
    let now = app.state.now_ms() / 1000;
    let (d1, d2) = (now - 26 * 3600, now - 2 * 3600);
    let lena = json!([
        {"id": "l1", "learner": "lena", "assessment": "form-a", "started_at": d1, "ended_at": d1 + 600,
         "country": "DE", "organization": "acme", "time_zone": "Europe/Berlin",
         "responses": [resp("Q1", 1.0, Some(30)), resp("Q2", 1.0, Some(20)), resp("Q3", 0.0, Some(100)),
                       resp("Q4", 1.0, Some(60)), resp("Q5", 0.0, None)]},
        {"id": "l2", "learner": "lena", "assessment": "form-a", "started_at": d2, "ended_at": d2 + 600,
         "responses": [resp("Q1", 1.0, Some(40)), resp("Q2", 0.0, Some(50)), resp("Q3", 1.0, Some(45)),
                       resp("Q4", 0.5, Some(70)), resp("Q5", 1.0, Some(80))]}
    ]);
    let others = json!([
        {"id": "n1", "learner": "noah", "assessment": "form-a", "started_at": d1, "ended_at": d1 + 600, "country": "US",
         "responses": [resp("Q1", 1.0, None), resp("Q2", 0.0, None), resp("Q3", 0.0, None), resp("Q4", 0.0, None), resp("Q5", 0.0, None)]},
        {"id": "v1", "learner": "ava", "assessment": "form-a", "started_at": d1, "ended_at": d1 + 600, "country": "DE", "organization": "acme",
         "responses": [resp("Q1", 1.0, None), resp("Q2", 1.0, None), resp("Q3", 1.0, None), resp("Q4", 1.0, None), resp("Q5", 1.0, None)]}
    ]);
    for b in [lena, others] {
        let (s, r) = app.post("/v1/attempts/batch", json!({ "attempts": b })).await;
        assert_eq!(s, 200, "{r}");
    }
    let (s, d) = app.get("/v1/learners/lena/dashboard?exam=gmat").await;
    assert_eq!(s, 200, "{d}");
    let sum = &d["summary"];
    assert_eq!(sum["tests_completed"], 2);
    assert_eq!(sum["average_score"], 65.0, "(3 + 3.5) / 10");
    assert_eq!(sum["responses"], 10);
    assert_eq!(sum["accuracy"], 65.0);
    assert_eq!(sum["total_time_ms"], 495_000);
    assert_eq!((sum["study_streak_days"].as_i64(), sum["best_streak_days"].as_i64()), (Some(2), Some(2)));
    // Averages 20 % (noah), 65 % (lena), 100 % (ava): lena is above one, equal to herself.
    assert_eq!(sum["percentile"], 50.0);
    let cohort = |kind: &str| d["cohorts"].as_array().unwrap().iter().find(|c| c["kind"] == kind).cloned().unwrap();
    assert_eq!((cohort("global")["learners"].as_i64(), cohort("global")["percentile"].as_f64()), (Some(3), Some(50.0)));
    assert_eq!(
        (cohort("country")["cohort"].as_str(), cohort("country")["percentile"].as_f64()),
        (Some("DE"), Some(25.0))
    );
    assert_eq!(
        (cohort("organization")["cohort"].as_str(), cohort("organization")["learners"].as_i64()),
        (Some("acme"), Some(2))
    );

    let topics: Vec<(String, f64)> = d["topics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["topic"].as_str().unwrap().to_string(), t["accuracy"].as_f64().unwrap()))
        .collect();
    assert_eq!(
        topics,
        vec![("Data".into(), 50.0), ("Geometry".into(), 62.5), ("Algebra".into(), 75.0)],
        "weakest first"
    );
    assert_eq!(d["topics"][2]["average_time_ms"], 35_000, "(30 + 20 + 40 + 50) / 4 s");
    let band_total = |band: &str| -> (i64, f64) {
        let (mut n, mut right) = (0, 0.0);
        for f in d["difficulty_progress"].as_array().unwrap() {
            let b = &f[band];
            let k = b["responses"].as_i64().unwrap();
            n += k;
            right += b["accuracy"].as_f64().unwrap_or(0.0) * k as f64 / 100.0;
        }
        (n, right)
    };
    assert_eq!(band_total("easy"), (4, 3.0));
    assert_eq!(band_total("medium"), (2, 1.0));
    assert_eq!(band_total("hard"), (4, 2.5));
    for f in d["difficulty_progress"].as_array().unwrap() {
        let start = jiff::civil::Date::strptime("%Y-%m-%d", f["start"].as_str().unwrap()).unwrap();
        assert_eq!(start.weekday(), jiff::civil::Weekday::Monday, "fortnights start on Mondays");
    }
    let tm = &d["time_management"];
    assert_eq!(
        (tm["timed"].as_i64(), tm["rushed"].as_i64(), tm["overtime"].as_i64(), tm["on_pace"].as_i64()),
        (Some(9), Some(1), Some(1), Some(7))
    );
    assert_eq!(tm["average_pace"], 0.917, "495 s over 9 answers of a 60 s target");
    let sessions = d["recent_sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    assert_eq!(
        (sessions[0]["attempt"].as_str(), sessions[0]["score"].as_f64()),
        (Some("l2"), Some(70.0)),
        "newest first"
    );
    assert_eq!(sessions[1]["title"], "GMAT practice A");
    let advice: Vec<&str> =
        d["recommendations"]["topics"].as_array().unwrap().iter().map(|t| t["topic"].as_str().unwrap()).collect();
    assert_eq!(advice, vec!["Geometry", "Algebra"], "Data has two answers: too few to advise on");
    assert!(d["abilities"].as_array().unwrap().is_empty(), "no calibration yet");

    let (s, b) = app.get("/v1/learners/nobody/dashboard").await;
    assert_error(s, &b, 404, Some("learner"));

    // Cohort benchmarks from the same data.
    let (s, c) = app.get("/v1/exams/gmat/cohorts?kind=country").await;
    assert_eq!(s, 200, "{c}");
    let de = c["cohorts"].as_array().unwrap().iter().find(|x| x["cohort"] == "DE").unwrap().clone();
    assert_eq!((de["learners"].as_i64(), de["mean_score"].as_f64()), (Some(2), Some(82.5)));
    assert_eq!(c["cohorts"][0]["kind"], "global");
    assert_eq!(c["cohorts"][0]["mean_score"], 61.7, "(20 + 65 + 100) / 3");
    let (s, b) = app.get("/v1/exams/gmat/cohorts?kind=planet").await;
    assert_error(s, &b, 400, Some("kind"));
}

/// LSAT7's 1000 persons as attempts on a five-item form.
async fn lsat7(app: &TestApp) -> psy::ResponseMatrix {
    let m = psy::ResponseMatrix::from_csv(LSAT7).unwrap();
    let ids = m.item_ids().to_vec();
    let items: Vec<Value> = ids.iter().map(|i| json!({"id": i, "topic": "Logic", "difficulty": 3})).collect();
    let (s, b) = app
        .post("/v1/learning/content", json!({"items": items, "assessments": [{"id": "lsat7", "exam": "lsat", "title": "LSAT section 7", "items": ids}]}))
        .await;
    assert_eq!(s, 200, "{b}");
    for chunk in (0..m.n_persons()).collect::<Vec<_>>().chunks(500) {
        let attempts: Vec<Value> = chunk
            .iter()
            .map(|&p| {
                let responses: Vec<Value> =
                    (0..m.n_items()).map(|j| json!({"item": ids[j], "correct": m.get(p, j) == Some(1)})).collect();
                json!({"id": format!("p{p}"), "learner": format!("person-{p}"), "assessment": "lsat7",
                       "started_at": 1_796_000_000 + p as i64, "ended_at": 1_796_000_600 + p as i64, "responses": responses})
            })
            .collect();
        let (s, b) = app.post("/v1/attempts/batch", json!({ "attempts": attempts })).await;
        assert_eq!(s, 200, "{b}");
    }
    m
}

#[tokio::test]
async fn lsat7_calibrated_through_the_api_matches_its_published_values() {
    let app = TestApp::spawn().await;
    let m = lsat7(&app).await;
    let (s, c) = app.post("/v1/assessments/lsat7/calibrations", json!({})).await;
    assert_eq!(s, 201, "{c}");
    assert_eq!(
        (c["status"].as_str(), c["model"].as_str(), c["version"].as_i64()),
        (Some("queued"), Some("2pl"), Some(1))
    );
    let (s, r) = app.get(&format!("/v1/calibrations/{}/report", c["id"].as_str().unwrap())).await;
    assert_error(s, &r, 409, None);
    assert_eq!(bursar_core::learning::calibration::run_pending(&app.state).await.unwrap(), 1);
    let (_, c) = app.get(&format!("/v1/calibrations/{}", c["id"].as_str().unwrap())).await;
    assert_eq!(
        (c["status"].as_str(), c["active"].as_bool(), c["progress"].as_i64()),
        (Some("succeeded"), Some(true), Some(100)),
        "{c}"
    );
    assert_eq!((c["persons"].as_i64(), c["items"].as_i64()), (Some(1000), Some(5)));
    let (s, report) = app.get(&format!("/v1/calibrations/{}/report", c["id"].as_str().unwrap())).await;
    assert_eq!(s, 200);
    assert_eq!(report["schema"], "bursar-psychometrics/1");
    // mirt's own test suite (LSAT7, 2PL): slopes and intercepts, tolerance 1e-2.
    let published = [(0.988, 1.8561), (1.081, 0.808), (1.706, 1.8043), (0.7651, 0.486), (0.7358, 1.8545)];
    let fit = &report["irt"]["2pl"];
    for (j, (a, d)) in published.iter().enumerate() {
        assert!((fit["a"][j].as_f64().unwrap() - a).abs() < 1e-2, "a[{j}] = {}", fit["a"][j]);
        assert!((fit["d"][j].as_f64().unwrap() - d).abs() < 1e-2, "d[{j}] = {}", fit["d"][j]);
    }
    assert!((fit["loglik"].as_f64().unwrap() + 2658.805).abs() < 1e-2);
    assert!((report["classical"]["kr20"].as_f64().unwrap() - 0.4534).abs() < 5e-5);

    let (s, stats) = app.get("/v1/assessments/lsat7/item_statistics").await;
    assert_eq!(s, 200, "{stats}");
    assert_eq!(stats["persons"], 1000);
    for j in 0..5 {
        let right = (0..1000).filter(|&p| m.get(p, j) == Some(1)).count() as f64 / 1000.0;
        assert!((stats["items"][j]["p_value"].as_f64().unwrap() - right).abs() < 1e-12, "item {j}");
        assert!(stats["items"][j]["b"].as_f64().is_some());
    }

    // A learner's ability is their pattern scored against the active calibration.
    let params = psy::Calibration {
        item_ids: m.item_ids().to_vec(),
        a: fit["a"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect(),
        d: fit["d"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect(),
        latent_var: 1.0,
    };
    let person = 777;
    let pattern: Vec<Option<u8>> = (0..5).map(|j| m.get(person, j)).collect();
    let want = params.score(&pattern).unwrap();
    let (s, d) = app.get(&format!("/v1/learners/person-{person}/dashboard")).await;
    assert_eq!(s, 200, "{d}");
    let ab = &d["abilities"][0];
    assert_eq!(ab["calibration"], c["id"]);
    assert!((ab["theta"].as_f64().unwrap() - want.eap).abs() < 1e-4, "{ab} vs {}", want.eap);
    assert!((ab["standard_error"].as_f64().unwrap() - want.eap_psd).abs() < 1e-4);
    assert_eq!(ab["items"], 5);

    // A Rasch calibration kept inactive changes nothing until it is activated.
    let (s, rasch) = app.post("/v1/assessments/lsat7/calibrations", json!({"model": "rasch", "activate": false})).await;
    assert_eq!((s, rasch["version"].as_i64()), (201, Some(2)), "{rasch}");
    bursar_core::learning::calibration::run_pending(&app.state).await.unwrap();
    let (_, d2) = app.get(&format!("/v1/learners/person-{person}/dashboard")).await;
    assert_eq!(d2["abilities"][0]["calibration"], c["id"]);
    let (s, act) = app.post(&format!("/v1/calibrations/{}/activate", rasch["id"].as_str().unwrap()), json!({})).await;
    assert_eq!((s, act["active"].as_bool()), (200, Some(true)), "{act}");
    let (_, d3) = app.get(&format!("/v1/learners/person-{person}/dashboard")).await;
    assert_eq!(d3["abilities"][0]["calibration"], rasch["id"]);
    assert_eq!(d3["abilities"][0]["model"], "rasch");
    assert_ne!(d3["abilities"][0]["theta"], d["abilities"][0]["theta"]);
    let (_, list) = app.get("/v1/assessments/lsat7/calibrations").await;
    let active: Vec<bool> = list["data"].as_array().unwrap().iter().map(|c| c["active"].as_bool().unwrap()).collect();
    assert_eq!(active, vec![true, false], "newest first, one active");

    let (s, b) = app.post("/v1/assessments/lsat7/calibrations", json!({"model": "3pl"})).await;
    assert_error(s, &b, 400, Some("model"));
}

#[tokio::test]
async fn exports_are_csv_that_spreadsheets_cannot_run() {
    let app = TestApp::spawn().await;
    content(&app).await;
    let (s, b) = app
        .post("/v1/attempts/batch", json!({"attempts": [{"id": "=HYPERLINK(\"x\")", "learner": "@evil", "assessment": "form-a",
            "started_at": 1_796_600_000, "ended_at": 1_796_600_100, "responses": [resp("Q1", 1.0, Some(12)), resp("Q2", 0.25, None)]}]}))
        .await;
    assert_eq!(s, 200, "{b}");
    let r = app.req(reqwest::Method::GET, "/v1/assessments/form-a/attempts.csv").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let text = r.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "attempt,learner,status,started_at,ended_at,item,response,score,time_ms,answered_at,flags");
    assert_eq!(lines.len(), 3);
    assert!(
        lines[1].starts_with("\"'=HYPERLINK(\"\"x\"\")\",'@evil,completed,1796600000,1796600100,Q1,Q1,1,12000,"),
        "{}",
        lines[1]
    );
    assert!(lines[2].contains(",Q2,Q2,0.25,,"), "{}", lines[2]);
    let r = app.req(reqwest::Method::GET, "/v1/assessments/form-a/item_statistics.csv").send().await.unwrap();
    assert_eq!(r.status(), 409, "no calibration yet");
}

#[tokio::test]
async fn dashboard_sessions_open_once() {
    let app = TestApp::spawn().await;
    content(&app).await;
    let (s, b) = app.post("/v1/dashboard_sessions", json!({"learner": "lena"})).await;
    assert_error(s, &b, 404, Some("learner"));
    let (s, _) = app
        .post(
            "/v1/attempts/batch",
            json!({"attempts": [{"id": "x", "learner": "lena", "assessment": "form-a", "started_at": 1_796_600_000}]}),
        )
        .await;
    assert_eq!(s, 200);
    let (s, b) =
        app.post("/v1/dashboard_sessions", json!({"learner": "lena", "return_url": "javascript:alert(1)"})).await;
    assert_error(s, &b, 400, Some("return_url"));
    let (s, ds) = app.post("/v1/dashboard_sessions", json!({"learner": "lena", "exam": "gmat"})).await;
    assert_eq!(s, 201, "{ds}");
    let url = ds["url"].as_str().unwrap();
    let token = url.rsplit('/').next().unwrap();
    let (cookie, viewer) = bursar_core::learning::sessions::open_link(&app.state, token).await.unwrap();
    assert_eq!(
        (viewer.kind.as_str(), viewer.subject.as_str(), viewer.exam.as_deref()),
        ("learner", "lena", Some("gmat"))
    );
    assert_ne!(cookie, token, "the cookie is another secret");
    assert!(bursar_core::learning::sessions::open_link(&app.state, token).await.is_err(), "a link opens once");
    assert_eq!(bursar_core::learning::sessions::current(&app.state, &cookie).await.unwrap(), Some(viewer));
    assert_eq!(
        bursar_core::learning::sessions::current(&app.state, token).await.unwrap(),
        None,
        "the link is no session"
    );
}

#[tokio::test]
async fn the_hosted_dashboard_opens_once_and_serves_its_reports() {
    let app = TestApp::spawn().await;
    content(&app).await;
    let now = app.state.now_ms() / 1000;
    let batch = json!({"attempts": [
        {"id": "s1", "learner": "lena", "assessment": "form-a", "started_at": now - 3600, "ended_at": now - 3000,
         "responses": [resp("Q1", 1.0, Some(30)), resp("Q3", 0.0, Some(70)), resp("Q5", 1.0, Some(50))]},
        {"id": "s2", "learner": "noah", "assessment": "form-a", "started_at": now - 3600, "ended_at": now - 3000,
         "responses": [resp("Q1", 0.0, Some(30))]}
    ]});
    let (s, _) = app.post("/v1/attempts/batch", batch).await;
    assert_eq!(s, 200);
    let (s, ds) = app
        .post("/v1/dashboard_sessions", json!({"learner": "lena", "return_url": "https://learn.example/home"}))
        .await;
    assert_eq!(s, 201, "{ds}");
    let link = ds["url"].as_str().unwrap().split_once("/dashboard/").map(|(_, t)| format!("/dashboard/{t}")).unwrap();
    let r = app.client.get(app.url(&link)).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/dashboard");
    let cookie = r.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    assert!(!cookie.contains(link.rsplit('/').next().unwrap()), "the cookie is not the link's secret");
    let again = app.client.get(app.url(&link)).send().await.unwrap();
    assert_eq!(again.status(), 403);
    assert!(again.text().await.unwrap().contains("open your dashboard again"));

    let page = app.client.get(app.url("/dashboard")).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Your progress in gmat"));
    assert!(html.contains("role=\"img\""), "charts are images with text alternatives");
    assert!(
        html.contains("Accuracy by topic (gmat · weakest first): Geometry 0 %, Algebra 100 %, Data 100 %"),
        "the text alternative states the data"
    );
    assert!(html.contains("<caption>"), "with the numbers as a table");
    assert!(html.contains("66.7 %"), "two of three right");
    assert!(html.contains("https://learn.example/home"));
    assert!(html.contains("/dashboard/sessions/s1/report.pdf"));

    let pdf =
        app.client.get(app.url("/dashboard/sessions/s1/report.pdf")).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(pdf.status(), 200);
    assert_eq!(pdf.headers()["content-type"], "application/pdf");
    let bytes = pdf.bytes().await.unwrap();
    let text = pdf_extract::extract_text_from_mem(&bytes).unwrap();
    assert!(text.contains("Session report") && text.contains("GMAT practice A"), "{text}");
    assert!(text.contains("Algebra") && text.contains("Geometry") && text.contains("Data"));
    let other =
        app.client.get(app.url("/dashboard/sessions/s2/report.pdf")).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(other.status(), 404, "another learner's session is not theirs to read");
    let anon = app.client.get(app.url("/dashboard")).send().await.unwrap();
    assert_eq!(anon.status(), 401);

    let r = app.req(reqwest::Method::GET, "/v1/attempts/s2/report.pdf").send().await.unwrap();
    assert_eq!((r.status().as_u16(), r.headers()["content-type"].to_str().unwrap()), (200, "application/pdf"));
    let r = app.req(reqwest::Method::GET, "/v1/exams/gmat/cohorts.pdf?kind=country").send().await.unwrap();
    assert_eq!(r.status(), 200);
    let text = pdf_extract::extract_text_from_mem(&r.bytes().await.unwrap()).unwrap();
    assert!(text.contains("Cohort report") && text.contains("global"), "{text}");
}
