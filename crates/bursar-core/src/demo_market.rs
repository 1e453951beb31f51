//! Marketplace demo data: instructors, 200+ courses and some bundles in
//! six currencies, purchases (real orders: invoice, sandbox payment, split,
//! earnings), completions, reviews, and affiliates with clicks and a
//! commission.

use crate::error::Error;
use crate::settings::Settings;
use bursar_domain::catalog::TaxBehavior;
use bursar_domain::id::{new_id, IdKind};
use bursar_domain::money::Currency;
use bursar_store::checkout::SessionRow;
use bursar_store::customers::CustomerRow;
use bursar_store::marketplace::{self as store, AffiliateRow, CartRow, ClickRow, CourseRow, InstructorRow, ReviewRow};
use bursar_store::{DbError, Tx};

const INSTRUCTORS: &[(&str, &str)] = &[
    ("Maria Hernández", "standard"),
    ("Kenji Watanabe", "standard"),
    ("Priya Nair", "enterprise"),
    ("Tom Becker", "standard"),
    ("Aisha Bello", "standard"),
    ("Lukas Novak", "enterprise"),
    ("Camila Reyes", "standard"),
    ("Samuel Okafor", "standard"),
    ("Elena Volkova", "standard"),
    ("Hannah Schulz", "standard"),
    ("Rahul Verma", "standard"),
    ("Grace Liu", "standard"),
];

/// (subject, topics)
const SUBJECTS: &[(&str, &[&str])] = &[
    ("Python", &["programming", "data"]),
    ("SQL", &["data", "databases"]),
    ("Statistics", &["data", "mathematics"]),
    ("Calculus", &["mathematics"]),
    ("Linear Algebra", &["mathematics", "machine learning"]),
    ("Machine Learning", &["machine learning", "data"]),
    ("Rust", &["programming", "systems"]),
    ("Web Design", &["design", "web"]),
    ("UX Research", &["design"]),
    ("Public Speaking", &["communication"]),
    ("Business English", &["languages", "communication"]),
    ("Spanish", &["languages"]),
    ("Accounting", &["business", "finance"]),
    ("Project Management", &["business"]),
    ("Photography", &["creative"]),
    ("Organic Chemistry", &["science"]),
    ("Physics", &["science", "mathematics"]),
    ("GMAT Quant", &["test prep", "mathematics"]),
    ("IELTS Writing", &["test prep", "languages"]),
];

const SHAPES: &[(&str, &str, i64)] = &[
    ("{s} for Beginners", "beginner", 120),
    ("{s} in 30 Days", "beginner", 600),
    ("Practical {s}", "intermediate", 480),
    ("{s}: Exam Preparation", "intermediate", 360),
    ("Advanced {s}", "advanced", 900),
    ("{s} Masterclass", "all", 1_200),
    ("{s} Crash Course", "all", 90),
    ("Applied {s} Projects", "advanced", 720),
    ("The Complete {s} Bootcamp", "all", 2_400),
    ("{s} Fundamentals", "beginner", 240),
    ("{s} Workshop", "intermediate", 180),
    ("{s} Case Studies", "advanced", 300),
];

/// A USD price in cents, and the same course's price in the other demo
/// currencies (rounded to a tidy price point).
fn prices(k: usize) -> Vec<(String, i64)> {
    let usd = [1_999, 2_999, 4_999, 8_999, 12_999, 19_999][k % 6];
    vec![
        ("USD".into(), usd),
        ("EUR".into(), usd / 100 * 92 + 99),
        ("GBP".into(), usd / 100 * 79 + 99),
        ("INR".into(), usd / 100 * 8_300 / 100 * 100 + 99_00 - 100),
        ("BRL".into(), usd / 100 * 500 + 90),
        ("RUB".into(), usd / 100 * 9_000),
    ]
}

fn err(e: Error) -> DbError {
    DbError::Other(format!("demo marketplace: {}", e.message))
}

/// A purchase the way a paid checkout makes it: a cart, an invoice paid by
/// the sandbox, a completed session, and the order recorded from it.
async fn purchase(
    tx: &mut Tx,
    settings: &Settings,
    customer: &CustomerRow,
    courses: &[(CourseRow, i64)],
    currency: Currency,
    click: Option<String>,
    now: i64,
) -> Result<(), DbError> {
    let cart = CartRow {
        id: new_id(IdKind::Cart),
        customer_id: customer.id.clone(),
        currency: currency.code().into(),
        coupon: None,
        click_id: click,
        status: "checked_out".into(),
        checkout_session_id: None,
        created_at: now,
        updated_at: now,
        plan_id: None,
        billing_interval: None,
        quantity: 1,
    };
    store::insert_cart(tx, false, &cart).await?;
    for (c, _) in courses {
        store::add_cart_item(tx, &cart.id, &c.id, now).await?;
    }
    let items: Vec<crate::basket::Item> = courses
        .iter()
        .map(|(c, amount)| crate::basket::Item {
            description: c.title.clone(),
            quantity: 1,
            unit_amount: *amount,
            course: Some(c.id.clone()),
        })
        .collect();
    let draft = crate::invoicing::create_draft(
        tx,
        settings,
        customer,
        crate::invoicing::DraftInput {
            currency,
            behavior: TaxBehavior::Exclusive,
            description: Some("Checkout".into()),
            collection_method: "charge_automatically",
            due_at: None,
            lines: items
                .iter()
                .map(|i| crate::invoicing::NewLine {
                    description: i.description.clone(),
                    quantity: 1,
                    unit_amount: i.unit_amount,
                })
                .collect(),
        },
        now,
    )
    .await
    .map_err(err)?;
    let (inv, _) = crate::invoicing::finalize(tx, settings, "", false, &draft.id, now).await.map_err(err)?;
    let s = SessionRow {
        id: new_id(IdKind::CheckoutSession),
        livemode: false,
        customer_id: customer.id.clone(),
        mode: "payment".into(),
        plan_id: None,
        price_id: None,
        quantity: 1,
        items: serde_json::to_string(&items).map_err(|e| DbError::Other(e.to_string()))?,
        currency: currency.code().into(),
        coupon: None,
        success_url: "https://learn.example/thanks".into(),
        cancel_url: "https://learn.example/cart".into(),
        status: "complete".into(),
        form_token: crate::basket::form_token(),
        provider: Some("sandbox".into()),
        subscription_id: None,
        invoice_id: Some(inv.id.clone()),
        payment_id: None,
        last_error: None,
        expires_at: now,
        created_at: now,
        completed_at: Some(now),
        credit_grant: None,
    };
    bursar_store::checkout::insert(tx, &s).await?;
    bursar_store::order_refunds::link_session(tx, &s.id, &cart.id).await?;
    let mut cart = cart;
    cart.checkout_session_id = Some(s.id.clone());
    store::save_cart(tx, &cart).await?;
    crate::marketplace::record_order(tx, settings, &s, now).await.map_err(err)?;
    Ok(())
}

/// Seeds the marketplace for the demo customers (inside the demo's
/// transaction). Returns the number of courses.
pub async fn seed(tx: &mut Tx, settings: &Settings, people: &[CustomerRow], now: i64) -> Result<usize, DbError> {
    let mut instructors = Vec::new();
    for (i, (name, tier)) in INSTRUCTORS.iter().enumerate() {
        let row = InstructorRow {
            id: new_id(IdKind::Instructor),
            external_id: format!("instructor_{:03}", i + 1),
            name: name.to_string(),
            email: Some(format!("{}@teach.example.com", name.split(' ').next().unwrap_or("x").to_lowercase())),
            tier: tier.to_string(),
            share_bps: (i == 3).then_some(8_000),
            payout_method: if i % 4 == 1 { "bank_transfer" } else { "sandbox" }.into(),
            payout_details: if i % 4 == 1 {
                serde_json::json!({"iban": "DE89370400440532013000", "account_name": name}).to_string()
            } else {
                "{}".into()
            },
            created_at: now - 400 * 86_400_000,
            updated_at: now - 400 * 86_400_000,
        };
        store::insert_instructor(tx, false, &row).await?;
        instructors.push(row);
    }
    let mut courses: Vec<CourseRow> = Vec::new();
    let mut k = 0;
    for (s, (subject, topics)) in SUBJECTS.iter().enumerate() {
        for (shape, level, minutes) in SHAPES {
            k += 1;
            let owner = &instructors[(s * 7 + k) % instructors.len()];
            let title = shape.replace("{s}", subject);
            let published_at = now - ((k * 37) % 380) as i64 * 86_400_000;
            let c = CourseRow {
                id: new_id(IdKind::Course),
                instructor_id: owner.id.clone(),
                kind: "course".into(),
                subtitle: format!("{} {} with {}", level_word(level), subject, owner.name),
                description: format!(
                    "{title} takes you through {subject} step by step: short lessons, worked examples, \
                     quizzes after every section and a final project. Topics: {}.",
                    topics.join(", ")
                ),
                title,
                topics: serde_json::to_string(topics).map_err(|e| DbError::Other(e.to_string()))?,
                level: level.to_string(),
                language: ["en", "en", "en", "es", "pt-BR", "de"][k % 6].into(),
                duration_minutes: *minutes,
                thumbnail_key: Some(format!("courses/{k:03}/thumbnail.jpg")),
                materials: serde_json::json!([{"title": "Workbook", "key": format!("courses/{k:03}/workbook.pdf")}])
                    .to_string(),
                // A few drafts, as instructors keep them.
                status: if k % 23 == 0 { "draft" } else { "published" }.into(),
                published_at: (k % 23 != 0).then_some(published_at),
                rating_sum: 0,
                rating_count: 0,
                sales_count: 0,
                created_at: published_at - 30 * 86_400_000,
                updated_at: published_at,
            };
            store::insert_course(tx, false, &c).await?;
            store::set_prices(tx, &c.id, &prices(k)).await?;
            courses.push(c);
        }
    }
    // Bundles: an instructor's first three published courses.
    for ins in instructors.iter().take(8) {
        let mine: Vec<&CourseRow> =
            courses.iter().filter(|c| c.instructor_id == ins.id && c.status == "published").take(3).collect();
        if mine.len() < 2 {
            continue;
        }
        let b = CourseRow {
            id: new_id(IdKind::Bundle),
            kind: "bundle".into(),
            title: format!("{}'s essentials bundle", ins.name),
            subtitle: format!("{} courses for the price of two", mine.len()),
            description: format!("Everything you need from {}: {}.", ins.name, {
                let t: Vec<&str> = mine.iter().map(|c| c.title.as_str()).collect();
                t.join(", ")
            }),
            ..mine[0].clone()
        };
        store::insert_course(tx, false, &b).await?;
        store::set_prices(tx, &b.id, &prices(4)).await?;
        store::set_bundle_items(tx, &b.id, &mine.iter().map(|c| c.id.clone()).collect::<Vec<_>>()).await?;
        courses.push(b);
    }
    // Affiliates: one approved with clicks, one waiting, one suspended.
    let mut approved = None;
    for (i, (name, status)) in
        [("Study Tips Blog", "approved"), ("Campus Deals", "pending"), ("Coupon Farm", "suspended")].iter().enumerate()
    {
        let a = AffiliateRow {
            id: new_id(IdKind::Affiliate),
            external_id: format!("affiliate_{:03}", i + 1),
            name: name.to_string(),
            email: Some(format!("partner{}@example.com", i + 1)),
            status: status.to_string(),
            code: ["STUDYTIPS", "CAMPUS", "FARM"][i].into(),
            commission_bps: 2_000,
            payout_method: "sandbox".into(),
            payout_details: "{}".into(),
            created_at: now - 90 * 86_400_000,
            updated_at: now - 60 * 86_400_000,
        };
        store::insert_affiliate(tx, false, &a).await?;
        if *status == "approved" {
            approved = Some(a);
        }
    }
    // Purchases: each customer buys a few courses over the last 60 days
    // (some still inside the refund window, some past it); the learners
    // of the approved affiliate came through its link.
    let published: Vec<&CourseRow> = courses.iter().filter(|c| c.status == "published").collect();
    let all_prices = store::prices_of(&mut **tx, &published.iter().map(|c| c.id.clone()).collect::<Vec<_>>()).await?;
    for (p, person) in people.iter().enumerate().filter(|(_, p)| p.test_clock_id.is_none()) {
        let mut currency = crate::customers::billing_currency_of(person);
        if !all_prices.iter().any(|(_, c, _)| c == currency.code()) {
            currency = Currency::from_code("USD").map_err(|e| DbError::Other(e.to_string()))?;
        }
        for basket in 0..(1 + p % 3) {
            // Between the customer's sign-up and now.
            let span = ((now - person.created_at) / 86_400_000).max(1);
            let at = person.created_at + ((p as i64 * 11 + basket as i64 * 17) % span) * 86_400_000 + 3_600_000;
            let picks: Vec<(CourseRow, i64)> = (0..(1 + (p + basket) % 3))
                .map(|j| published[(p * 13 + basket * 7 + j * 29) % published.len()])
                .filter(|c| c.kind == "course")
                .filter_map(|c| {
                    all_prices
                        .iter()
                        .find(|(id, cur, _)| id == &c.id && cur == currency.code())
                        .map(|(_, _, a)| ((*c).clone(), *a))
                })
                .collect();
            let mut unique = Vec::new();
            for pick in picks {
                let owned = store::is_enrolled(&mut **tx, &person.id, &pick.0.id).await?;
                if !owned && !unique.iter().any(|(c, _): &(CourseRow, i64)| c.id == pick.0.id) {
                    unique.push(pick);
                }
            }
            if unique.is_empty() {
                continue;
            }
            let click = match (&approved, p % 4) {
                (Some(a), 0) => {
                    let c = ClickRow {
                        id: new_id(IdKind::AffiliateClick),
                        affiliate_id: a.id.clone(),
                        ip_hash: crate::auth::sha256_hex(format!("demo-visitor-{p}").as_bytes()),
                        user_agent: "Mozilla/5.0 (demo)".into(),
                        referer: "https://studytips.example/best-courses".into(),
                        landing_url: "https://learn.example/courses?ref=STUDYTIPS".into(),
                        customer_id: Some(person.id.clone()),
                        created_at: at - 86_400_000,
                    };
                    store::insert_click(tx, false, &c).await?;
                    Some(c.id)
                }
                _ => None,
            };
            purchase(tx, settings, person, &unique, currency, click, at).await?;
            // Reviews from about half the buyers, and completions.
            for (j, (c, _)) in unique.iter().enumerate() {
                if (p + j) % 2 == 0 {
                    let r = ReviewRow {
                        id: new_id(IdKind::Review),
                        course_id: c.id.clone(),
                        customer_id: person.id.clone(),
                        rating: [5, 4, 5, 3, 4][(p + j) % 5],
                        title: ["Excellent", "Very useful", "Clear and practical", "Good but slow", "Recommended"]
                            [(p + j) % 5]
                            .into(),
                        body: "The exercises made the difference.".into(),
                        status: "visible".into(),
                        reply: (j == 0).then(|| "Thanks for the kind words!".to_string()),
                        replied_at: (j == 0).then_some(at + 86_400_000),
                        created_at: at + 3_600_000,
                        updated_at: at + 3_600_000,
                    };
                    if store::insert_review(tx, false, &r).await? {
                        store::adjust_rating(tx, &c.id, r.rating, 1).await?;
                    }
                }
                if (p + j) % 3 == 0 {
                    bursar_store::marketplace::set_enrollment_completed_at(tx, &person.id, &c.id, at + 20 * 86_400_000)
                        .await?;
                }
            }
        }
    }
    Ok(courses.len())
}

fn level_word(level: &str) -> &'static str {
    match level {
        "beginner" => "Start",
        "intermediate" => "Build on",
        "advanced" => "Master",
        _ => "Learn",
    }
}
