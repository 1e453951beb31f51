use crate::common::*;
use serde_json::{json, Value};
use std::collections::HashSet;

async fn instructor(app: &TestApp, external: &str) -> String {
    let (s, i) =
        app.post("/v1/instructors", json!({"external_id": external, "name": format!("Instructor {external}")})).await;
    assert_eq!(s, 201, "{i}");
    i["id"].as_str().unwrap().to_string()
}

/// Creates a course from `fields` (defaults for what they leave out) and
/// publishes it unless `fields` says `"draft": true`.
async fn course(app: &TestApp, owner: &str, fields: Value) -> String {
    let mut body = json!({"instructor": owner, "description": "A course.", "topics": ["general"],
                          "level": "beginner", "language": "en", "prices": {"EUR": 1_000}});
    let publish = fields.get("draft").is_none_or(|d| d != true);
    for (k, v) in fields.as_object().unwrap() {
        if k != "draft" {
            body[k] = v.clone();
        }
    }
    let (s, c) = app.post("/v1/courses", body).await;
    assert_eq!(s, 201, "{c}");
    let id = c["id"].as_str().unwrap().to_string();
    if publish {
        let (s, p) = app.post(&format!("/v1/courses/{id}/publish"), json!({})).await;
        assert_eq!((s, p["status"].as_str()), (200, Some("published")), "{p}");
    }
    id
}

/// Sets what sales, reviews and time would have set.
async fn set_counters(app: &TestApp, id: &str, rating_sum: i64, rating_count: i64, sales: i64, published_at: i64) {
    sqlx::query(
        "UPDATE courses SET rating_sum = $1, rating_count = $2, sales_count = $3, published_at = $4 WHERE id = $5",
    )
    .bind(rating_sum)
    .bind(rating_count)
    .bind(sales)
    .bind(published_at)
    .bind(id)
    .execute(app.tdb.db.writer())
    .await
    .unwrap();
}

fn path(params: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        s.append_pair(k, v);
    }
    format!("/v1/courses/search?{}", s.finish())
}

async fn search(app: &TestApp, params: &[(&str, &str)]) -> Value {
    let (s, page) = app.get(&path(params)).await;
    assert_eq!(s, 200, "{params:?}: {page}");
    assert_eq!(page["object"], "list");
    page
}

fn ids(page: &Value) -> Vec<String> {
    page["data"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_string()).collect()
}

async fn found(app: &TestApp, params: &[(&str, &str)]) -> Vec<String> {
    ids(&search(app, params).await)
}

/// Walks every page of a search `limit` at a time.
async fn walk(app: &TestApp, params: &[(&str, &str)], limit: usize) -> Vec<String> {
    let limit = limit.to_string();
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..100 {
        let mut p: Vec<(&str, &str)> = params.to_vec();
        p.push(("limit", &limit));
        if let Some(c) = &cursor {
            p.push(("cursor", c));
        }
        let page = search(app, &p).await;
        let got = ids(&page);
        assert!(got.len() <= limit.parse().unwrap());
        all.extend(got);
        match page["next_cursor"].as_str() {
            Some(c) => {
                assert_eq!(page["has_more"], true);
                cursor = Some(c.to_string());
            }
            None => {
                assert_eq!(page["has_more"], false);
                return all;
            }
        }
    }
    panic!("more than 100 pages");
}

#[tokio::test]
async fn a_title_match_ranks_above_a_description_match_and_user_text_is_only_words() {
    let app = TestApp::spawn().await;
    let ana = instructor(&app, "u-ana").await;
    let in_desc = course(
        &app,
        &ana,
        json!({"title": "Systems Programming", "subtitle": "Memory and speed",
               "description": "Memory safety with Rust, Rust and more Rust, compared with C."}),
    )
    .await;
    let in_title = course(
        &app,
        &ana,
        json!({"title": "Rust for Beginners", "subtitle": "Your first steps", "description": "Ownership, borrowing."}),
    )
    .await;
    let gardening = course(
        &app,
        &ana,
        json!({"title": "Gardening Basics", "description": "Soil, seeds and patience.", "topics": ["garden"]}),
    )
    .await;
    let draft = course(&app, &ana, json!({"title": "Rust Draft", "description": "Rust.", "draft": true})).await;

    let page = search(&app, &[("q", "rust")]).await;
    assert_eq!(ids(&page), [in_title.clone(), in_desc.clone()], "the title match first: {page}");
    assert_eq!(page["data"][0]["title"], "Rust for Beginners");
    assert_eq!(page["data"][0]["prices"]["EUR"], 1_000);
    assert!(!ids(&page).contains(&draft));
    // Every word must match; case and punctuation do not matter.
    assert_eq!(found(&app, &[("q", "RUST, beginners!")]).await, std::slice::from_ref(&in_title));
    assert_eq!(found(&app, &[("q", "rust gardening")]).await, Vec::<String>::new());
    // The last word matches as a prefix while it is being typed, not once finished.
    assert_eq!(found(&app, &[("q", "gard")]).await, std::slice::from_ref(&gardening));
    assert_eq!(found(&app, &[("q", "gard ")]).await, Vec::<String>::new());
    assert_eq!(found(&app, &[("q", "seed")]).await, std::slice::from_ref(&gardening));
    // Topics are searched too.
    assert_eq!(found(&app, &[("q", "garden ")]).await, std::slice::from_ref(&gardening));
    // Search syntax in the text is taken as plain words, never as syntax.
    for q in [
        "rust\" OR \"gardening",
        "NEAR(rust gardening)",
        "title:rust",
        "rust AND NOT",
        "rust*",
        "-rust",
        "rust & !gardening | (x",
        "'rust'",
        "rust\\",
        "^rust",
        "rust:*",
    ] {
        let (s, page) = app.get(&path(&[("q", q)])).await;
        assert_eq!(s, 200, "{q}: {page}");
        let got = ids(&page);
        assert!(!got.contains(&gardening) || q.contains("gardening"), "{q}: {page}");
        assert!(!got.contains(&draft), "{q}");
    }
    assert_eq!(found(&app, &[("q", "rust\" OR \"gardening")]).await, Vec::<String>::new(), "OR is a word here");
    assert_eq!(found(&app, &[("q", "title:rust")]).await, Vec::<String>::new(), "no column filters");
    // Text without words lists everything, newest first.
    let all = found(&app, &[("q", " \"*( ")]).await;
    assert_eq!(all.len(), 3);
    // An edited title is found under its new words only.
    let (s, _) = app.post(&format!("/v1/courses/{gardening}"), json!({"title": "Vegetable Growing"})).await;
    assert_eq!(s, 200);
    assert_eq!(found(&app, &[("q", "vegetable")]).await, std::slice::from_ref(&gardening));
    assert_eq!(found(&app, &[("q", "gardening ")]).await, Vec::<String>::new());
    // Relevance needs words; the explicit sort is otherwise refused.
    let (s, e) = app.get(&path(&[("sort", "relevance")])).await;
    assert_error(s, &e, 400, Some("sort"));
    // A text search can be sorted otherwise.
    set_counters(&app, &in_desc, 0, 0, 50, 1_000).await;
    set_counters(&app, &in_title, 0, 0, 5, 2_000).await;
    assert_eq!(found(&app, &[("q", "rust"), ("sort", "best_selling")]).await, [in_desc.clone(), in_title.clone()]);
    assert_eq!(found(&app, &[("q", "rust"), ("sort", "newest")]).await, [in_title, in_desc]);
}

#[tokio::test]
async fn every_filter_narrows_the_published_courses() {
    let app = TestApp::spawn().await;
    let ana = instructor(&app, "u-ana").await;
    let py = course(
        &app,
        &ana,
        json!({"title": "Python Data Analysis", "topics": ["data", "python"], "level": "intermediate",
               "language": "en", "prices": {"EUR": 4_999, "USD": 5_499}}),
    )
    .await;
    let sql = course(
        &app,
        &ana,
        json!({"title": "SQL Grundlagen", "topics": ["data", "sql"], "level": "beginner",
               "language": "de", "prices": {"EUR": 1_999}}),
    )
    .await;
    let ml = course(
        &app,
        &ana,
        json!({"title": "Machine Learning", "topics": ["ml", "python"], "level": "advanced",
               "language": "en", "prices": {"EUR": 9_999, "USD": 10_999}}),
    )
    .await;
    let bundle = course(
        &app,
        &ana,
        json!({"kind": "bundle", "title": "Data Bundle", "courses": [py, sql], "topics": ["data"],
               "level": "all", "language": "en", "prices": {"EUR": 5_999}}),
    )
    .await;
    let _draft = course(
        &app,
        &ana,
        json!({"title": "Python Draft", "topics": ["data", "python"], "level": "intermediate", "draft": true}),
    )
    .await;
    set_counters(&app, &py, 45, 10, 0, 1_000).await; // 4.50
    set_counters(&app, &sql, 449, 100, 0, 2_000).await; // 4.49
    set_counters(&app, &ml, 5, 1, 0, 3_000).await; // 5.00
    set_counters(&app, &bundle, 0, 0, 0, 4_000).await; // unrated

    // Each course is rendered exactly as the course endpoint renders it.
    let page = search(&app, &[]).await;
    for c in page["data"].as_array().unwrap() {
        let (s, one) = app.get(&format!("/v1/courses/{}", c["id"].as_str().unwrap())).await;
        assert_eq!((s, &one), (200, c));
    }
    assert_eq!(page["data"].as_array().unwrap().iter().filter(|c| c["object"] == "bundle").count(), 1);

    let set = |v: Vec<String>| v.into_iter().collect::<HashSet<_>>();
    let of = |v: &[&String]| v.iter().map(|s| s.to_string()).collect::<HashSet<_>>();
    assert_eq!(set(found(&app, &[]).await), of(&[&py, &sql, &ml, &bundle]));
    // Topic: exact, one of the course's topics.
    assert_eq!(set(found(&app, &[("topic", "python")]).await), of(&[&py, &ml]));
    assert_eq!(set(found(&app, &[("topic", "data")]).await), of(&[&py, &sql, &bundle]));
    assert_eq!(found(&app, &[("topic", "pyth")]).await, Vec::<String>::new());
    assert_eq!(found(&app, &[("topic", "Python")]).await, Vec::<String>::new());
    // Level, language, kind.
    assert_eq!(found(&app, &[("level", "advanced")]).await, std::slice::from_ref(&ml));
    assert_eq!(found(&app, &[("language", "de")]).await, std::slice::from_ref(&sql));
    assert_eq!(found(&app, &[("kind", "bundle")]).await, std::slice::from_ref(&bundle));
    assert_eq!(set(found(&app, &[("kind", "course")]).await), of(&[&py, &sql, &ml]));
    // A currency keeps the courses sold in it; prices are inclusive bounds in it.
    assert_eq!(set(found(&app, &[("currency", "usd")]).await), of(&[&py, &ml]));
    let eur = |lo: &'static str, hi: &'static str| [("currency", "EUR"), ("min_price", lo), ("max_price", hi)];
    assert_eq!(set(found(&app, &eur("1999", "5999")).await), of(&[&py, &sql, &bundle]));
    assert_eq!(set(found(&app, &eur("2000", "5998")).await), of(&[&py]));
    assert_eq!(set(found(&app, &[("currency", "EUR"), ("min_price", "5000")]).await), of(&[&ml, &bundle]));
    assert_eq!(set(found(&app, &[("currency", "USD"), ("max_price", "5499")]).await), of(&[&py]));
    // Minimum rating in hundredths, exact: 4.49 is below 4.50; unrated never passes.
    assert_eq!(set(found(&app, &[("min_rating", "450")]).await), of(&[&py, &ml]));
    assert_eq!(set(found(&app, &[("min_rating", "449")]).await), of(&[&py, &sql, &ml]));
    assert_eq!(set(found(&app, &[("min_rating", "0")]).await), of(&[&py, &sql, &ml]));
    assert_eq!(found(&app, &[("min_rating", "500")]).await, std::slice::from_ref(&ml));
    // Filters combine, with text too.
    assert_eq!(
        found(&app, &[("topic", "python"), ("language", "en"), ("currency", "EUR"), ("max_price", "5000")]).await,
        std::slice::from_ref(&py)
    );
    assert_eq!(
        found(&app, &[("q", "python"), ("level", "advanced")]).await,
        std::slice::from_ref(&ml),
        "topics are searched"
    );
    assert_eq!(found(&app, &[("q", "python"), ("level", "beginner")]).await, Vec::<String>::new());
    assert_eq!(found(&app, &[("q", "machine"), ("topic", "ml")]).await, std::slice::from_ref(&ml));
    // Changed topics are filtered by their new values.
    let (s, _) = app.post(&format!("/v1/courses/{ml}"), json!({"topics": ["ai"]})).await;
    assert_eq!(s, 200);
    assert_eq!(found(&app, &[("topic", "python")]).await, std::slice::from_ref(&py));
    assert_eq!(found(&app, &[("topic", "ai")]).await, std::slice::from_ref(&ml));
    // The total counts every page.
    let page = search(&app, &[("topic", "data"), ("limit", "1"), ("include_total", "true")]).await;
    assert_eq!((page["total"].as_i64(), ids(&page).len(), page["has_more"].as_bool()), (Some(3), 1, Some(true)));
    assert!(search(&app, &[]).await.get("total").is_none());
}

#[derive(Clone)]
struct Row {
    id: String,
    eur: i64,
    sum: i64,
    count: i64,
    sales: i64,
    published: i64,
}

impl Row {
    /// The average to nine decimals, -1 when unrated.
    fn avg(&self) -> i64 {
        if self.count > 0 {
            self.sum * 1_000_000_000 / self.count
        } else {
            -1
        }
    }
}

#[tokio::test]
async fn every_sort_orders_with_the_id_breaking_ties() {
    let app = TestApp::spawn().await;
    let ana = instructor(&app, "u-ana").await;
    // (EUR price, rating sum, rating count, sales, published_at)
    let specs: [(i64, i64, i64, i64, i64); 6] = [
        (3_000, 9, 2, 10, 5_000),   // 4.50 avg, 2 ratings
        (1_000, 45, 10, 40, 1_000), // 4.50 avg, 10 ratings
        (3_000, 0, 0, 40, 3_000),   // unrated
        (2_000, 5, 1, 5, 4_000),    // 5.00
        (5_000, 7, 2, 0, 3_000),    // 3.50
        (2_000, 0, 0, 40, 2_000),   // unrated
    ];
    let mut courses = Vec::new();
    for (i, &(eur, sum, count, sales, published)) in specs.iter().enumerate() {
        let id = course(&app, &ana, json!({"title": format!("Course {i}"), "prices": {"EUR": eur}})).await;
        set_counters(&app, &id, sum, count, sales, published).await;
        courses.push(Row { id, eur, sum, count, sales, published });
    }
    let sorted = |cmp: fn(&Row, &Row) -> std::cmp::Ordering| {
        let mut v = courses.clone();
        v.sort_by(cmp);
        v.into_iter().map(|c| c.id).collect::<Vec<_>>()
    };
    // Newest: published_at descending, then id descending.
    let want = sorted(|a, b| b.published.cmp(&a.published).then(b.id.cmp(&a.id)));
    assert_eq!(found(&app, &[]).await, want, "newest is the default without q");
    assert_eq!(found(&app, &[("sort", "newest")]).await, want);
    // Rating: exact average descending, then more ratings; unrated last.
    let want = sorted(|a, b| b.avg().cmp(&a.avg()).then(b.count.cmp(&a.count)).then(b.id.cmp(&a.id)));
    assert_eq!(found(&app, &[("sort", "rating")]).await, want);
    assert_eq!(want[0], courses[3].id, "5.00 first");
    assert_eq!(want[1], courses[1].id, "4.50 with 10 ratings before 4.50 with 2");
    // Price in the given currency: cheapest first (ties by id ascending), or dearest first.
    let want = sorted(|a, b| a.eur.cmp(&b.eur).then(a.id.cmp(&b.id)));
    assert_eq!(found(&app, &[("sort", "price_asc"), ("currency", "EUR")]).await, want);
    let want = sorted(|a, b| b.eur.cmp(&a.eur).then(b.id.cmp(&a.id)));
    assert_eq!(found(&app, &[("sort", "price_desc"), ("currency", "EUR")]).await, want);
    // Best selling: sales descending, ties by id.
    let want = sorted(|a, b| b.sales.cmp(&a.sales).then(b.id.cmp(&a.id)));
    assert_eq!(found(&app, &[("sort", "best_selling")]).await, want);
    // Price sorts need their currency.
    let (s, e) = app.get(&path(&[("sort", "price_asc")])).await;
    assert_error(s, &e, 400, Some("currency"));
}

#[tokio::test]
async fn walking_the_pages_returns_the_full_order_once() {
    let app = TestApp::spawn().await;
    let ana = instructor(&app, "u-ana").await;
    let words = ["alpha", "beta", "gamma"];
    for i in 0..23i64 {
        // Repeated words give relevance ties and differences; few distinct
        // prices, sales and ratings give ties for the id to break.
        let desc = format!("Common words. {}", vec!["apple"; 1 + (i % 4) as usize].join(" "));
        let id = course(
            &app,
            &ana,
            json!({"title": format!("Course {} {}", words[(i % 3) as usize], i), "description": desc,
                   "topics": [words[(i % 3) as usize]], "prices": {"EUR": 1_000 + (i % 5) * 500}}),
        )
        .await;
        set_counters(&app, &id, (i % 4) * 4, i % 3, i % 4, 1_000 + (i % 6)).await;
    }
    let _draft = course(&app, &ana, json!({"title": "Course apple draft", "draft": true})).await;
    let searches: Vec<Vec<(&str, &str)>> = vec![
        vec![],
        vec![("sort", "rating")],
        vec![("sort", "best_selling")],
        vec![("sort", "price_asc"), ("currency", "EUR")],
        vec![("sort", "price_desc"), ("currency", "EUR")],
        vec![("q", "apple")],
        vec![("q", "course"), ("sort", "relevance")],
        vec![("q", "common"), ("sort", "best_selling"), ("topic", "alpha")],
        vec![("currency", "EUR"), ("min_price", "1500"), ("sort", "rating")],
    ];
    for params in searches {
        let mut full = params.clone();
        full.push(("limit", "100"));
        let full = found(&app, &full).await;
        assert!(full.len() >= 5, "{params:?}");
        for limit in [1, 4, 7] {
            let walked = walk(&app, &params, limit).await;
            assert_eq!(walked, full, "{params:?} by {limit}");
            let unique: HashSet<&String> = walked.iter().collect();
            assert_eq!(unique.len(), walked.len(), "{params:?}: duplicates");
        }
    }
    assert_eq!(found(&app, &[("q", "apple"), ("limit", "100")]).await.len(), 23);
    // A cursor continues only the search it came from.
    let page = search(&app, &[("sort", "best_selling"), ("limit", "2")]).await;
    let cursor = page["next_cursor"].as_str().unwrap();
    let (s, e) = app.get(&path(&[("sort", "rating"), ("limit", "2"), ("cursor", cursor)])).await;
    assert_error(s, &e, 400, Some("cursor"));
    let (s, e) = app.get(&path(&[("sort", "best_selling"), ("topic", "alpha"), ("cursor", cursor)])).await;
    assert_error(s, &e, 400, Some("cursor"));
    // The limit may change between pages.
    let (s, _) = app.get(&path(&[("sort", "best_selling"), ("limit", "5"), ("cursor", cursor)])).await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn drafts_archived_courses_and_the_other_mode_never_appear() {
    let app = TestApp::spawn().await;
    let ana = instructor(&app, "u-ana").await;
    let shown = course(&app, &ana, json!({"title": "Visible Course", "topics": ["t"]})).await;
    let _draft = course(&app, &ana, json!({"title": "Visible Draft", "topics": ["t"], "draft": true})).await;
    let archived = course(&app, &ana, json!({"title": "Visible Archived", "topics": ["t"]})).await;
    let (s, _) = app.post(&format!("/v1/courses/{archived}/unpublish"), json!({})).await;
    assert_eq!(s, 200);
    for params in [vec![], vec![("q", "visible")], vec![("topic", "t")], vec![("sort", "rating")]] {
        assert_eq!(found(&app, &params).await, std::slice::from_ref(&shown), "{params:?}");
    }
    // Live mode has its own catalog: none of the test-mode courses.
    let r = app.client.get(app.url("/v1/courses/search?q=visible")).bearer_auth(&app.live_key).send().await.unwrap();
    let (s, page) = json(r).await;
    assert_eq!((s, page["data"].as_array().map(Vec::len)), (200, Some(0)), "{page}");
    // An instructor session searches the whole marketplace (published only).
    let ben = instructor(&app, "u-ben").await;
    let (s, sess) = app.post(&format!("/v1/instructors/{ben}/sessions"), json!({})).await;
    assert_eq!(s, 201, "{sess}");
    let r = app
        .client
        .get(app.url("/v1/courses/search?q=visible"))
        .bearer_auth(sess["token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let (s, page) = json(r).await;
    assert_eq!((s, ids(&page)), (200, vec![shown.clone()]), "{page}");
    // Without a key, nothing.
    let r = app.client.get(app.url("/v1/courses/search")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    // The literal route does not shadow the course route, nor the reverse.
    let (s, c) = app.get(&format!("/v1/courses/{shown}")).await;
    assert_eq!((s, c["id"].as_str()), (200, Some(shown.as_str())));
    let (s, e) = app.post("/v1/courses/search", json!({})).await;
    assert_eq!(s, 405, "{e}");
}

#[tokio::test]
async fn bad_search_input_is_refused_naming_the_parameter() {
    let app = TestApp::spawn().await;
    let long = "x".repeat(201);
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![("sort", "popular")], "sort"),
        (vec![("sort", "relevance")], "sort"),
        (vec![("sort", "price_desc")], "currency"),
        (vec![("min_price", "100")], "currency"),
        (vec![("max_price", "100")], "currency"),
        (vec![("currency", "EUR"), ("min_price", "abc")], "min_price"),
        (vec![("currency", "EUR"), ("max_price", "-1")], "max_price"),
        (vec![("currency", "EUR"), ("min_price", "500"), ("max_price", "100")], "max_price"),
        (vec![("currency", "EUR"), ("min_price", "1.5")], "min_price"),
        (vec![("currency", "XYZ")], "currency"),
        (vec![("min_rating", "501")], "min_rating"),
        (vec![("min_rating", "4.5")], "min_rating"),
        (vec![("limit", "0")], "limit"),
        (vec![("limit", "101")], "limit"),
        (vec![("limit", "ten")], "limit"),
        (vec![("cursor", "not-a-cursor")], "cursor"),
        (vec![("cursor", "WzEsIngiLDEsMiwiY3JzX3giXQ")], "cursor"),
        (vec![("level", "expert")], "level"),
        (vec![("kind", "webinar")], "kind"),
        (vec![("language", "english language")], "language"),
        (vec![("topic", "")], "topic"),
        (vec![("q", &long)], "q"),
        (vec![("include_total", "yes")], "include_total"),
        (vec![("colour", "red")], "colour"),
    ];
    for (params, param) in cases {
        let (s, e) = app.get(&path(&params)).await;
        assert_error(s, &e, 400, Some(param));
    }
    let (s, e) = app.get("/v1/courses/search?sort=newest&sort=rating").await;
    assert_error(s, &e, 400, Some("sort"));
}
