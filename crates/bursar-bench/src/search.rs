//! `bursar bench search`: course search over HTTP on loopback against a
//! seeded marketplace of published courses.
//!
//! The catalog is generated (deterministically) from a vocabulary of
//! subjects, title patterns, levels, languages and prices, and bulk-inserted
//! with multi-row statements; the search index is filled by the same
//! triggers that keep it in step in production. Then each class of search
//! request runs on its own at `--clients` concurrent clients, and finally
//! all classes mixed.

use super::{bench_server, drop_bench_schema, load, report};
use anyhow::Result;
use bursar_domain::id::{new_id, IdKind};
use bursar_server::Config;
use bursar_store::db::placeholders;
use bursar_store::Db;
use std::sync::Arc;
use std::time::Instant;

/// Subjects: the words in titles and descriptions, and the course topics.
const SUBJECTS: &[(&str, &[&str])] = &[
    ("Python", &["python", "programming"]),
    ("JavaScript", &["javascript", "web"]),
    ("Rust", &["rust", "systems"]),
    ("SQL", &["sql", "databases"]),
    ("Machine Learning", &["machine-learning", "ai"]),
    ("Data Analysis", &["data", "analytics"]),
    ("Excel", &["excel", "office"]),
    ("Photography", &["photography", "art"]),
    ("Guitar", &["music", "guitar"]),
    ("Spanish", &["languages", "spanish"]),
    ("Calculus", &["math"]),
    ("Statistics", &["math", "statistics"]),
    ("Digital Marketing", &["marketing", "business"]),
    ("Accounting", &["finance", "business"]),
    ("Public Speaking", &["communication"]),
    ("Kubernetes", &["devops", "cloud"]),
    ("Docker", &["devops", "containers"]),
    ("React", &["web", "javascript"]),
    ("UX Design", &["design"]),
    ("Drawing", &["art", "drawing"]),
    ("Yoga", &["health", "fitness"]),
    ("Nutrition", &["health"]),
    ("Organic Chemistry", &["science", "chemistry"]),
    ("Physics", &["science", "physics"]),
    ("Project Management", &["business", "management"]),
    ("Go", &["go", "programming"]),
    ("Java", &["java", "programming"]),
    ("Swift", &["ios", "mobile"]),
    ("Android Development", &["android", "mobile"]),
    ("Cybersecurity", &["security"]),
    ("Blender 3D", &["3d", "art"]),
    ("Piano", &["music", "piano"]),
    ("French", &["languages", "french"]),
    ("Japanese", &["languages", "japanese"]),
    ("Creative Writing", &["writing"]),
    ("Negotiation", &["business", "communication"]),
    ("Linear Algebra", &["math"]),
    ("Cell Biology", &["science", "biology"]),
    ("Microeconomics", &["economics"]),
    ("Italian Cooking", &["cooking"]),
];
const ADJECTIVES: &[&str] = &[
    "Practical",
    "Modern",
    "Complete",
    "Essential",
    "Advanced",
    "Hands-on",
    "Applied",
    "Professional",
    "Beginner's",
    "Ultimate",
];
const AUDIENCES: &[&str] =
    &["Beginners", "Data Scientists", "Kids", "Professionals", "Busy People", "Engineers", "Managers", "Students"];
const NOUNS: &[&str] = &["Bootcamp", "Masterclass", "Course", "Guide", "Workshop", "Crash Course"];
const SKILLS: &[&str] = &[
    "core concepts",
    "real projects",
    "best practices",
    "problem solving",
    "exam preparation",
    "interview questions",
    "daily exercises",
    "case studies",
    "quizzes",
    "certificates",
];
const LEVELS: &[&str] = &["beginner", "beginner", "intermediate", "intermediate", "advanced", "all"];
const LANGUAGES: &[&str] = &["en", "en", "en", "en", "en", "en", "es", "de", "fr", "pt-BR", "ja", "hi"];

/// A seeded generator, so every run seeds the same catalog.
struct Rng(rand::rngs::StdRng);

impl Rng {
    fn seeded(seed: u64) -> Rng {
        Rng(rand::SeedableRng::seed_from_u64(seed))
    }
    fn next(&mut self) -> u64 {
        rand::RngCore::next_u64(&mut self.0)
    }
    fn below(&mut self, n: usize) -> usize {
        rand::Rng::random_range(&mut self.0, 0..n)
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len())]
    }
}

struct Generated {
    title: String,
    subtitle: String,
    description: String,
    topics: String,
}

fn generate(r: &mut Rng) -> Generated {
    let (subject, topics) = *r.pick(SUBJECTS);
    let (other, other_topics) = *r.pick(SUBJECTS);
    let title = match r.below(7) {
        0 => format!("{} {subject}", r.pick(ADJECTIVES)),
        1 => format!("{subject} for {}", r.pick(AUDIENCES)),
        2 => format!("The Complete {subject} {}", r.pick(NOUNS)),
        3 => format!("{subject}: From Zero to Expert"),
        4 => format!("Mastering {subject}"),
        5 => format!("{subject} in {} Days", 7 + r.below(60)),
        _ => format!("{} {subject} with {other}", r.pick(ADJECTIVES)),
    };
    let subtitle =
        format!("Learn {} and {} through {} hands-on lessons", r.pick(SKILLS), r.pick(SKILLS), 10 + r.below(140));
    let description = format!(
        "This {} course covers {subject} step by step. You will practise {} with {} and build {} projects. \
         Along the way we touch on {other} where it helps. Suitable for {}; includes {} and lifetime access.",
        r.pick(&["short", "in-depth", "project-based", "self-paced", "intensive"]),
        r.pick(SKILLS),
        r.pick(SKILLS),
        2 + r.below(10),
        r.pick(AUDIENCES).to_lowercase(),
        r.pick(SKILLS),
    );
    let mut t: Vec<&str> = topics.to_vec();
    if r.below(3) == 0 {
        t.push(other_topics[0]);
    }
    t.dedup();
    Generated { title, subtitle, description, topics: serde_json::to_string(&t).unwrap_or_else(|_| "[]".into()) }
}

/// Seeds `n` published courses (5 % bundles) of 2,000 instructors, with
/// USD prices for all and EUR, GBP and INR for some.
async fn seed(db: &Db, n: usize, now: i64) -> Result<()> {
    let backend = db.backend();
    let mut r = Rng::seeded(0x5eed);
    let instructors: Vec<String> = (0..2_000).map(|_| new_id(IdKind::Instructor)).collect();
    let mut tx = db.begin().await?;
    for (k, chunk) in instructors.chunks(500).enumerate() {
        let sql = format!(
            "INSERT INTO instructors (id, livemode, external_id, name, email, tier, share_bps, payout_method, \
             payout_details, created_at, updated_at) VALUES {}",
            placeholders(backend, chunk.len(), 11)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (i, id) in chunk.iter().enumerate() {
            let no = k * 500 + i;
            q = q
                .bind(id.clone())
                .bind(0i64)
                .bind(format!("bench-instructor-{no}"))
                .bind(format!("Instructor {no}"))
                .bind(None::<String>)
                .bind("standard")
                .bind(None::<i64>)
                .bind("sandbox")
                .bind("{}")
                .bind(now)
                .bind(now);
        }
        q.execute(&mut *tx).await?;
    }
    tx.commit().await?;
    const YEAR_MS: i64 = 365 * 86_400_000;
    for start in (0..n).step_by(5_000) {
        let mut tx = db.begin().await?;
        for chunk_start in (start..n.min(start + 5_000)).step_by(500) {
            let rows = 500.min(n - chunk_start);
            let mut prices: Vec<(String, &str, i64)> = Vec::with_capacity(rows * 3);
            let sql = format!(
                "INSERT INTO courses (id, livemode, instructor_id, kind, title, subtitle, description, topics, \
                 level, language, duration_minutes, thumbnail_key, materials, status, published_at, rating_sum, \
                 rating_count, sales_count, created_at, updated_at) VALUES {}",
                placeholders(backend, rows, 20)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for _ in 0..rows {
                let g = generate(&mut r);
                let bundle = r.below(20) == 0;
                let id = new_id(if bundle { IdKind::Bundle } else { IdKind::Course });
                let published = now - (r.next() % (3 * YEAR_MS as u64)) as i64;
                let rating_count = match r.below(4) {
                    0 => 0,
                    1 => r.below(20) as i64,
                    2 => r.below(500) as i64,
                    _ => r.below(20_000) as i64,
                };
                // Averages mostly between 3.5 and 5.0.
                let rating_sum = rating_count * 350 / 100 + (r.next() % (rating_count as u64 * 3 / 2 + 1)) as i64;
                let sales = rating_count * (2 + r.below(8) as i64) + r.below(50) as i64;
                let usd = 999 + 500 * r.below(40) as i64 + if r.below(2) == 0 { 0 } else { 99 * r.below(10) as i64 };
                prices.push((id.clone(), "USD", usd));
                if r.below(5) != 0 {
                    prices.push((id.clone(), "EUR", usd * 92 / 100));
                }
                if r.below(5) < 2 {
                    prices.push((id.clone(), "GBP", usd * 79 / 100));
                }
                if r.below(10) < 3 {
                    prices.push((id.clone(), "INR", usd * 8_300));
                }
                q = q
                    .bind(id)
                    .bind(0i64)
                    .bind(r.pick(&instructors).clone())
                    .bind(if bundle { "bundle" } else { "course" })
                    .bind(g.title)
                    .bind(g.subtitle)
                    .bind(g.description)
                    .bind(g.topics)
                    .bind(*r.pick(LEVELS))
                    .bind(*r.pick(LANGUAGES))
                    .bind(30 + r.below(3_000) as i64)
                    .bind(None::<String>)
                    .bind("[]")
                    .bind("published")
                    .bind(published)
                    .bind(rating_sum)
                    .bind(rating_count)
                    .bind(sales)
                    .bind(published - r.below(30) as i64 * 86_400_000)
                    .bind(published);
            }
            q.execute(&mut *tx).await?;
            for chunk in prices.chunks(1_000) {
                let sql = format!(
                    "INSERT INTO course_prices (course_id, currency, amount) VALUES {}",
                    placeholders(backend, chunk.len(), 3)
                );
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for (id, cur, amount) in chunk {
                    q = q.bind(id.clone()).bind(*cur).bind(*amount);
                }
                q.execute(&mut *tx).await?;
            }
        }
        tx.commit().await?;
    }
    if backend == bursar_store::Backend::Postgres {
        sqlx::query("ANALYZE").execute(db.writer()).await?;
    }
    Ok(())
}

/// The request classes: a name and the query strings it cycles through.
fn classes() -> Vec<(&'static str, Vec<String>)> {
    let words = [
        "python",
        "machine learning",
        "excel",
        "guitar",
        "kubernetes",
        "spanish",
        "data analysis",
        "photography",
        "negotiation",
        "organic chemistry",
        "react",
        "statistics",
    ];
    let prefixes = ["pyth", "kube", "photo", "machine lear", "negot", "guit", "java", "stat", "blend", "spa"];
    let topics = ["python", "web", "math", "business", "languages", "art", "devops", "science", "music", "health"];
    let text: Vec<String> = words.iter().map(|w| format!("q={}", w.replace(' ', "+"))).collect();
    let prefix: Vec<String> = prefixes.iter().map(|w| format!("q={}", w.replace(' ', "+"))).collect();
    let text_filtered: Vec<String> = words
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let w = w.replace(' ', "+");
            match i % 4 {
                0 => format!("q={w}&level=beginner&language=en"),
                1 => format!("q={w}&currency=EUR&max_price=5000&sort=rating"),
                2 => format!("q={w}&min_rating=450&sort=best_selling"),
                _ => format!("q={w}&kind=course&currency=USD&sort=price_asc"),
            }
        })
        .collect();
    let newest: Vec<String> = topics
        .iter()
        .enumerate()
        .map(|(i, t)| if i % 2 == 0 { "sort=newest".to_string() } else { format!("topic={t}") })
        .collect();
    let best: Vec<String> = topics.iter().map(|t| format!("topic={t}&sort=best_selling")).collect();
    let price: Vec<String> = ["EUR", "USD", "GBP", "INR"]
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let (lo, hi) = if *c == "INR" { (1_000_000, 20_000_000) } else { (1_000 + 500 * i, 4_000 + 1_000 * i) };
            format!("currency={c}&min_price={lo}&max_price={hi}&sort=price_asc")
        })
        .chain(["currency=USD&sort=price_desc".to_string()])
        .collect();
    let rating: Vec<String> = ["min_rating=450&sort=rating", "sort=rating&language=de", "min_rating=480&topic=math"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    vec![
        ("text, relevance", text),
        ("text prefix (typing)", prefix),
        ("text + filters/sort", text_filtered),
        ("browse newest/topic", newest),
        ("topic, best selling", best),
        ("price range, price sort", price),
        ("rating sort/min rating", rating),
    ]
}

pub async fn search_bench(config: &Config, n: usize, requests: usize, clients: usize) -> Result<()> {
    let b = bench_server(config, clients).await?;
    println!(
        "database: {}  courses: {n}  requests per class: {requests}  concurrent clients: {clients}",
        b.db.backend().name()
    );
    let t = Instant::now();
    seed(&b.db, n, bursar_domain::clock::to_millis(jiff::Timestamp::now())).await?;
    let secs = t.elapsed().as_secs_f64();
    let published: i64 = sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM courses WHERE status = 'published'")
        .fetch_one(b.db.reader())
        .await?;
    anyhow::ensure!(published as usize == n, "{published} of {n} courses seeded");
    println!(
        "seeded {n} courses (with prices, topics and the search index) in {secs:.1}s = {:.0} courses/s",
        n as f64 / secs
    );

    let mut classes = classes();
    // Deep pages: the cursors of pages 2 to 6 of a few searches, fetched
    // before timing.
    let mut deep = Vec::new();
    for base in ["q=python", "sort=best_selling", "currency=EUR&sort=price_asc", "topic=math&sort=rating"] {
        let mut cursor: Option<String> = None;
        for _ in 0..5 {
            let url = match &cursor {
                None => format!("{}/v1/courses/search?{base}", b.base),
                Some(c) => format!("{}/v1/courses/search?{base}&cursor={c}", b.base),
            };
            let page: serde_json::Value = b.client.get(url).bearer_auth(&b.key).send().await?.json().await?;
            match page["next_cursor"].as_str() {
                Some(c) => {
                    deep.push(format!("{base}&cursor={c}"));
                    cursor = Some(c.to_string());
                }
                None => break,
            }
        }
    }
    anyhow::ensure!(!deep.is_empty(), "no second pages");
    classes.push(("pages 2-6 by cursor", deep));

    let empty = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let run = |queries: Arc<Vec<String>>, total: usize| {
        let (c, base, key, empty) = (b.client.clone(), b.base.clone(), b.key.clone(), empty.clone());
        load(total, clients, move |i| {
            let (c, base, key, queries, empty) = (c.clone(), base.clone(), key.clone(), queries.clone(), empty.clone());
            async move {
                let query = &queries[i % queries.len()];
                let r = c.get(format!("{base}/v1/courses/search?{query}")).bearer_auth(&key).send().await?;
                anyhow::ensure!(r.status().is_success(), "search answered {} to {query}", r.status());
                let body = r.bytes().await?;
                if body.windows(9).any(|w| w == b"\"data\":[]") {
                    empty.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                Ok(())
            }
        })
    };
    // Warm up caches and connections.
    let all: Vec<String> = classes.iter().flat_map(|(_, q)| q.iter().cloned()).collect();
    run(Arc::new(all.clone()), all.len() * 2).await?;
    empty.store(0, std::sync::atomic::Ordering::Relaxed);
    for (name, queries) in &classes {
        let (secs, lat) = run(Arc::new(queries.clone()), requests).await?;
        report(name, requests, secs, &lat);
    }
    // Every class interleaved.
    let mixed: Vec<String> = (0..all.len())
        .map(|i| {
            let (_, q) = &classes[i % classes.len()];
            q[(i / classes.len()) % q.len()].clone()
        })
        .collect();
    let total = requests * 2;
    let (secs, lat) = run(Arc::new(mixed), total).await?;
    report("mixed", total, secs, &lat);
    let empty = empty.load(std::sync::atomic::Ordering::Relaxed);
    println!("requests with no results: {empty} of {}", requests * classes.len() + total);
    b.server.shutdown().await?;
    b.db.close().await;
    drop_bench_schema(config).await?;
    Ok(())
}
