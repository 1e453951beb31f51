//! `bursar bench orders`: course orders end to end over HTTP on loopback —
//! a cart of two courses by different instructors with a coupon, its
//! checkout, Pay, and the sandbox confirmation that writes the order with
//! its revenue split, enrollments, earnings and the split's ledger entry.

use super::{bench_server, drop_bench_schema, load, report};
use anyhow::Result;
use bursar_domain::id::{new_id, IdKind};
use bursar_server::Config;
use bursar_store::marketplace::{self as store, CourseRow, InstructorRow};
use std::sync::Arc;

/// Instructors and published courses to sell, written directly.
async fn seed_catalog(db: &bursar_store::Db, now: i64) -> Result<Vec<String>> {
    let mut tx = db.begin().await?;
    let mut courses = Vec::new();
    for i in 0..20 {
        let ins = InstructorRow {
            id: new_id(IdKind::Instructor),
            external_id: format!("bench_instructor_{i}"),
            name: format!("Instructor {i}"),
            email: None,
            tier: if i % 5 == 0 { "enterprise" } else { "standard" }.into(),
            share_bps: None,
            payout_method: "sandbox".into(),
            payout_details: "{}".into(),
            created_at: now,
            updated_at: now,
        };
        store::insert_instructor(&mut tx, false, &ins).await?;
        for j in 0..10 {
            let c = CourseRow {
                id: new_id(IdKind::Course),
                instructor_id: ins.id.clone(),
                kind: "course".into(),
                title: format!("Course {i}-{j}"),
                subtitle: String::new(),
                description: "A course.".into(),
                topics: "[]".into(),
                level: "all".into(),
                language: "en".into(),
                duration_minutes: 60,
                thumbnail_key: None,
                materials: "[]".into(),
                status: "published".into(),
                published_at: Some(now),
                rating_sum: 0,
                rating_count: 0,
                sales_count: 0,
                created_at: now,
                updated_at: now,
            };
            store::insert_course(&mut tx, false, &c).await?;
            store::set_prices(&mut tx, &c.id, &[("USD".into(), 1_999 + 1_000 * j as i64)]).await?;
            courses.push(c.id);
        }
    }
    tx.commit().await?;
    Ok(courses)
}

pub async fn orders_bench(config: &Config, n: usize, clients: usize) -> Result<()> {
    let b = bench_server(config, clients).await?;
    println!("database: {}  orders: {n}  concurrent clients: {clients}", b.db.backend().name());
    let now = jiff::Timestamp::now().as_millisecond();
    let courses = Arc::new(seed_catalog(&b.db, now).await?);
    let r = b
        .client
        .post(format!("{}/v1/coupons", b.base))
        .bearer_auth(&b.key)
        .json(&serde_json::json!({"code": "BENCH10", "percent_off_bps": 1000, "duration": "once", "applies_to": "courses"}))
        .send()
        .await?;
    anyhow::ensure!(r.status().is_success(), "coupon answered {}", r.status());
    let customers = Arc::new(b.customers(n).await?);
    let sessions = Arc::new(std::sync::Mutex::new(vec![String::new(); n]));
    let (c, base, key, cus, ss, cs) =
        (b.client.clone(), b.base.clone(), b.key.clone(), customers.clone(), sessions.clone(), courses.clone());
    let (secs, lat) = load(n, clients, move |i| {
        let (c, base, key, cus, ss, cs) = (c.clone(), base.clone(), key.clone(), cus.clone(), ss.clone(), cs.clone());
        async move {
            // Two courses of different instructors.
            let items = [&cs[i % cs.len()], &cs[(i * 7 + 13) % cs.len()]];
            let items: Vec<&String> = if items[0] == items[1] { vec![items[0]] } else { items.to_vec() };
            let r = c
                .post(format!("{base}/v1/carts"))
                .bearer_auth(&key)
                .json(&serde_json::json!({"customer": cus[i], "currency": "USD", "items": items, "coupon": "BENCH10"}))
                .send()
                .await?;
            anyhow::ensure!(r.status().as_u16() == 201, "cart answered {}", r.status());
            let cart: serde_json::Value = r.json().await?;
            let r = c
                .post(format!("{base}/v1/carts/{}/checkout", cart["id"].as_str().unwrap_or_default()))
                .bearer_auth(&key)
                .json(&serde_json::json!({"success_url": "https://platform.example/ok",
                    "cancel_url": "https://platform.example/no"}))
                .send()
                .await?;
            anyhow::ensure!(r.status().as_u16() == 201, "checkout answered {}", r.status());
            let v: serde_json::Value = r.json().await?;
            ss.lock().expect("not poisoned")[i] = v["id"].as_str().unwrap_or_default().to_string();
            Ok(())
        }
    })
    .await?;
    report("cart + checkout", n, secs, &lat);
    let ids: Vec<String> = sessions.lock().expect("not poisoned").clone();
    let total = secs + b.pay_and_confirm(ids, clients, "confirm + order with split").await?;
    println!("{:<26} {n} orders in {total:.2}s = {:>7.0} orders/s (three steps, end to end)", "all", n as f64 / total);
    // Every order is there and every split adds up.
    let orders: i64 =
        sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM orders").fetch_one(b.db.reader()).await?;
    anyhow::ensure!(orders as usize == n, "{orders} of {n} orders");
    let bad: i64 = sqlx::query_scalar(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM order_items WHERE instructor_share + commission + platform_share <> net",
    )
    .fetch_one(b.db.reader())
    .await?;
    anyhow::ensure!(bad == 0, "{bad} items whose split does not add up");
    let v = bursar_store::ledger::verify(&b.db).await?;
    anyhow::ensure!(v.ok(), "ledger verification failed: {:?}", v.problems);
    println!("all {n} orders recorded, every split adds up; ledger verify: {} entries OK", v.entries);
    b.server.shutdown().await?;
    b.db.close().await;
    drop_bench_schema(config).await?;
    Ok(())
}
