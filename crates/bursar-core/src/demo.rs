//! Demo data for `bursar demo`: a staff account, test and live keys, a test
//! clock, the demo catalog, customers across the supported countries and
//! locales, subscriptions and usage, the course marketplace
//! (`demo_market`), and ledger entries (credit grants, an opening balance,
//! a reversal).

use crate::api_keys::issue_key;
use crate::auth::hash_password;
use crate::ctx::Ctx;
use bursar_domain::id::{new_id, IdKind};
use bursar_domain::ledger::EntryDraft;
use bursar_domain::money::Currency;
use bursar_store::auth::{self, StaffRow};
use bursar_store::customers::{self, CustomerRow};
use bursar_store::{clocks, events, ledger, DbError};
use rand::distr::{Alphanumeric, SampleString};

/// The demo catalog: Starter (free), Grow and Scale with the limits in
/// PRODUCT.md, priced in USD, EUR, GBP, INR, BRL and RUB.
pub const DEMO_CATALOG: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../catalogs/demo.json"));

/// What the operator needs to try the demo.
#[derive(Debug, Clone)]
pub struct DemoInfo {
    pub staff_email: String,
    pub staff_password: String,
    pub test_key: String,
    pub customers: usize,
    pub courses: usize,
    /// A signed-in billing portal for the first demo learner (a day long).
    pub portal_path: String,
}

/// (name, email local part, country, locale, currency credit in minor units)
const PEOPLE: &[(&str, &str, &str, &str, i64)] = &[
    ("Ava Thompson", "ava", "US", "en-US", 2500),
    ("Noah Williams", "noah", "US", "en-US", 0),
    ("Oliver Smith", "oliver", "GB", "en-GB", 1000),
    ("Amelia Jones", "amelia", "GB", "en-GB", 0),
    ("Lena Müller", "lena", "DE", "de-DE", 1500),
    ("Jonas Schmidt", "jonas", "DE", "de-DE", 0),
    ("Chloé Martin", "chloe", "FR", "fr-FR", 500),
    ("Lucas Bernard", "lucas", "FR", "fr-FR", 0),
    ("Lucía García", "lucia", "ES", "es-ES", 0),
    ("Mateo Fernández", "mateo", "ES", "es-ES", 750),
    ("Beatriz Souza", "beatriz", "BR", "pt-BR", 5000),
    ("Gabriel Oliveira", "gabriel", "BR", "pt-BR", 0),
    ("Aarav Sharma", "aarav", "IN", "en-IN", 49900),
    ("Diya Patel", "diya", "IN", "hi-IN", 0),
    ("Ananya Iyer", "ananya", "IN", "en-IN", 0),
    ("Ivan Petrov", "ivan", "RU", "ru-RU", 100000),
    ("Olga Smirnova", "olga", "RU", "ru-RU", 0),
    ("Yui Tanaka", "yui", "JP", "en-US", 1200),
    ("Fatima Al Khalifa", "fatima", "BH", "en-GB", 2500),
    ("Sofia Rossi", "sofia", "IT", "en-GB", 0),
    ("Daan de Vries", "daan", "NL", "en-GB", 0),
    ("Maya Cohen", "maya", "US", "en-US", 0),
    ("Ethan Brown", "ethan", "CA", "en-US", 0),
    ("Zara Khan", "zara", "GB", "en-GB", 0),
];

pub async fn seed(state: &Ctx, staff_email: &str) -> Result<DemoInfo, DbError> {
    let now = state.now_ms();
    let password = Alphanumeric.sample_string(&mut rand::rng(), 16);
    let hash = hash_password(&password).map_err(DbError::Other)?;
    let mut tx = state.db.begin().await?;
    auth::upsert_staff(
        &mut tx,
        &StaffRow {
            id: new_id(IdKind::StaffUser),
            email: staff_email.to_string(),
            name: "Demo Staff".into(),
            password_hash: hash,
            created_at: now,
        },
    )
    .await?;
    let (_, test_key) = issue_key(&mut tx, false, "Demo test key", now).await?;
    issue_key(&mut tx, true, "Demo live key", now).await?;

    let clock_id = new_id(IdKind::TestClock);
    let clock_time = 1_767_225_600_000; // 2026-01-01T00:00:00Z
    clocks::insert(
        &mut tx,
        &clocks::TestClockRow {
            id: clock_id.clone(),
            name: Some("Demo clock: January 2026".into()),
            frozen_time: clock_time,
            created_at: now,
            deleted_at: None,
        },
    )
    .await?;

    let mut people = Vec::new();
    for (i, (name, local, country, locale, _)) in PEOPLE.iter().enumerate() {
        let on_clock = i % 8 == 7;
        let created = if on_clock { clock_time } else { now - (PEOPLE.len() - i) as i64 * 86_400_000 };
        let row = CustomerRow {
            id: new_id(IdKind::Customer),
            livemode: false,
            external_id: Some(format!("user_{:04}", i + 1)),
            email: Some(format!("{local}@example.com")),
            name: Some(name.to_string()),
            phone: None,
            country: Some(country.to_string()),
            locale: Some(locale.to_string()),
            preferred_currency: None,
            address: Some(serde_json::json!({"line1": null, "line2": null, "city": null, "state": null, "postal_code": null, "country": country}).to_string()),
            tax_ids: "[]".into(),
            metadata: serde_json::json!({"source": "demo"}).to_string(),
            test_clock_id: on_clock.then(|| clock_id.clone()),
            created_at: created,
            updated_at: created,
            deleted_at: None,
        };
        customers::insert(&mut tx, &row).await?;
        people.push(row.clone());
        events::emit(
            &mut tx,
            false,
            "customer.created",
            &row.id,
            &serde_json::json!({"id": row.id, "name": name}),
            created,
        )
        .await?;
    }

    let catalog: bursar_domain::catalog::CatalogDoc =
        serde_json::from_str(DEMO_CATALOG).map_err(|e| DbError::Other(format!("demo catalog: {e}")))?;
    catalog.validate().map_err(|e| DbError::Other(format!("demo catalog: {e}")))?;
    for livemode in [false, true] {
        crate::catalog::import(&mut tx, livemode, &catalog, now).await?;
    }
    // Coupons: a launch offer with a redemption cap, and 20 % off Scale
    // for three months.
    use bursar_domain::coupon::{AppliesTo, Discount, Duration, Rules};
    for (code, name, rules, max) in [
        (
            "LAUNCH50",
            "Launch offer: 50 % off the first month",
            Rules {
                discount: Discount::Percent { bps: 5000 },
                duration: Duration::Once,
                applies_to: AppliesTo::All,
                min_purchase: Default::default(),
                valid_from: None,
                valid_until: None,
                max_redemptions: Some(100),
                max_per_customer: Some(1),
                first_purchase_only: true,
            },
            Some(100),
        ),
        (
            "SCALE20",
            "20 % off Scale for three months",
            Rules {
                discount: Discount::Percent { bps: 2000 },
                duration: Duration::Repeating { months: 3 },
                applies_to: AppliesTo::Plans { codes: vec!["scale".into()] },
                min_purchase: Default::default(),
                valid_from: None,
                valid_until: None,
                max_redemptions: None,
                max_per_customer: None,
                first_purchase_only: false,
            },
            None,
        ),
    ] {
        bursar_store::billing::insert_coupon(
            &mut tx,
            &bursar_store::billing::CouponRow {
                id: new_id(IdKind::Coupon),
                livemode: false,
                code: code.into(),
                name: name.into(),
                rules: serde_json::to_string(&rules).map_err(|e| DbError::Other(e.to_string()))?,
                active: true,
                redemptions: 0,
                max_redemptions: max,
                created_at: now,
            },
        )
        .await?;
    }

    // Subscriptions: every fourth customer on each of Grow, Scale and
    // Starter, some of them trialing.
    let tax = state.billing_settings();
    let mut subs = Vec::new();
    for (i, c) in people.iter().enumerate() {
        let code = match i % 4 {
            0 => "grow",
            1 => "scale",
            2 => "starter",
            _ => continue,
        };
        let plan = bursar_store::catalog::plan_by_code(&mut *tx, false, code)
            .await?
            .ok_or_else(|| DbError::Other(format!("demo plan {code}")))?;
        let currency = crate::customers::billing_currency_of(c);
        // Trials start today so the demo shows some; the rest started when
        // their customer joined (the billing run catches them up).
        let trial = i % 8 == 1;
        let start = if trial { now } else { c.created_at };
        // Customers in currencies the catalog does not price in pay in USD.
        let prices = bursar_store::catalog::prices_of(&mut *tx, false, Some(&plan.id), false).await?;
        let monthly = |cur: &str| prices.iter().find(|p| p.currency == cur && p.interval == "month").cloned();
        let price = monthly(currency.code())
            .or_else(|| monthly("USD"))
            .ok_or_else(|| DbError::Other(format!("demo price {code}")))?;
        let sub = crate::billing::create(&mut tx, &tax, c, &plan, &price, 1, trial, None, start)
            .await
            .map_err(|e| DbError::Other(format!("demo subscription: {}", e.message)))?;
        subs.push((c.id.clone(), sub));
    }

    // Metrics for the plans' limits, and some use this period so the
    // entitlement checks have something to show.
    let mut metrics = Vec::new();
    for (code, name, aggregation, limit) in [
        ("tests", "Tests taken", "count", "tests_per_month"),
        ("questions", "Questions answered", "count", "questions_per_month"),
        ("ai_credits", "AI credits", "sum", "ai_queries_per_month"),
        ("question_generations", "Questions generated", "count", "question_generations_per_month"),
    ] {
        let m = bursar_store::usage::MetricRow {
            id: new_id(IdKind::Metric),
            livemode: false,
            code: code.into(),
            name: name.into(),
            aggregation: aggregation.into(),
            property: None,
            window: "billing_period".into(),
            limit_key: Some(limit.into()),
            created_at: now,
            updated_at: now,
        };
        bursar_store::usage::upsert_metric(&mut tx, &m).await?;
        metrics.push(m);
    }
    let mut deltas = Vec::new();
    for (k, (customer, sub)) in subs.iter().enumerate() {
        for (m, used) in metrics.iter().zip([2 + (k as i64 % 2), 30 + 3 * k as i64, 40 + 5 * k as i64, 0]) {
            let Ok((period_start, _)) = crate::usage::period_of(m, Some(sub), now) else { continue };
            if used > 0 {
                deltas.push(bursar_store::usage::CounterDelta {
                    livemode: false,
                    customer_id: customer.clone(),
                    metric: m.code.clone(),
                    period_start,
                    delta: used,
                });
            }
        }
    }
    bursar_store::usage::add_to_counters(&mut tx, &deltas).await?;
    let courses = crate::demo_market::seed(&mut tx, &tax, &people, now).await?;
    // Welcome credit, granted after the course purchases so it is still
    // there to see (and to be used by the next invoice).
    for (row, (_, _, country, _, credit)) in people.iter().zip(PEOPLE) {
        if *credit > 0 {
            let currency = bursar_domain::geo::currency_for_country(country);
            let entry = EntryDraft::new(currency, "Welcome credit")
                .debit("credit_grants", *credit)
                .credit(format!("customer_credit:{}", row.id), *credit)
                .validate()
                .map_err(|e| DbError::Other(e.to_string()))?;
            ledger::post(&mut tx, ledger::NewEntry::at(false, &entry, now).source("customer_balance", &row.id)).await?;
        }
    }

    let usd = Currency::from_code("USD").map_err(|e| DbError::Other(e.to_string()))?;
    let opening = EntryDraft::new(usd, "Opening balance carried from the previous system")
        .debit("cash", 1_250_000)
        .credit("opening_balance", 1_250_000)
        .validate()
        .map_err(|e| DbError::Other(e.to_string()))?;
    for livemode in [false, true] {
        ledger::post(&mut tx, ledger::NewEntry::at(livemode, &opening, now).source("manual", "demo")).await?;
    }
    let mistaken = EntryDraft::new(usd, "Goodwill credit posted to the wrong account")
        .debit("credit_grants", 999)
        .credit("cash", 999)
        .validate()
        .map_err(|e| DbError::Other(e.to_string()))?;
    let wrong = ledger::post(&mut tx, ledger::NewEntry::at(false, &mistaken, now).source("manual", "demo")).await?;
    ledger::reverse(&mut tx, false, &wrong, "Reversal: wrong account", now)
        .await
        .map_err(|e| DbError::Other(e.to_string()))?;
    seed_webhooks(&mut tx, now).await?;
    // The first learner's billing portal, open for a day.
    let portal_token = {
        use rand::distr::{Alphanumeric, SampleString};
        format!("bps_{}", Alphanumeric.sample_string(&mut rand::rng(), 40))
    };
    bursar_store::portal::insert_session(
        &mut tx,
        &bursar_store::portal::PortalSessionRow {
            token_hash: crate::auth::sha256_hex(portal_token.as_bytes()),
            livemode: false,
            customer_id: people[0].id.clone(),
            return_url: None,
            csrf: {
                use rand::distr::{Alphanumeric, SampleString};
                Alphanumeric.sample_string(&mut rand::rng(), 32)
            },
            expires_at: now + 86_400_000,
            created_at: now,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(DemoInfo {
        portal_path: format!("/portal/enter/{portal_token}"),
        staff_email: staff_email.to_string(),
        staff_password: password,
        test_key,
        customers: PEOPLE.len(),
        courses,
    })
}

/// The platform's webhook endpoint with a delivery history to look at in
/// the console: customer events it took (200), and one its receiver kept
/// refusing (500 three times, then given up). It is disabled, since a demo
/// has no receiver: nothing new is queued for it, and a replay shows the
/// connection error.
async fn seed_webhooks(tx: &mut bursar_store::Tx, now: i64) -> Result<(), DbError> {
    use bursar_store::webhooks::{self, AttemptRow, DeliveryRow, EndpointRow};
    let endpoint = EndpointRow {
        id: new_id(IdKind::WebhookEndpoint),
        livemode: false,
        url: "https://learn.example/hooks/bursar".into(),
        description: Some("The platform's receiver (disabled: the demo has none)".into()),
        secret: format!("whsec_{}", Alphanumeric.sample_string(&mut rand::rng(), 32)),
        previous_secret: None,
        previous_secret_expires_at: None,
        enabled_events: r#"["customer.*","invoice.*","subscription.*"]"#.into(),
        status: "disabled".into(),
        created_at: now,
        updated_at: now,
    };
    webhooks::insert_endpoint(tx, &endpoint).await?;
    let sent = events::list(&mut **tx, false, Some("customer.created"), None, 6).await?;
    for (i, e) in sent.iter().enumerate() {
        let refused = i == 0;
        let mut d = DeliveryRow {
            id: new_id(IdKind::WebhookDelivery),
            endpoint_id: endpoint.id.clone(),
            event_id: e.id.clone(),
            event_type: e.event_type.clone(),
            livemode: false,
            status: "pending".into(),
            attempts: 0,
            next_attempt_at: None,
            first_attempt_at: None,
            last_attempt_at: None,
            last_status_code: None,
            last_error: None,
            last_response_snippet: None,
            last_duration_ms: None,
            created_at: e.created_at,
            delivered_at: None,
        };
        webhooks::insert_deliveries(tx, std::slice::from_ref(&d)).await?;
        let tries: i64 = if refused { 3 } else { 1 };
        for k in 1..=tries {
            // Minutes apart, as the retry schedule spaces them.
            let at = e.created_at + 1_000 + (k - 1) * 300_000;
            let (code, body) = if refused { (500, "Internal Server Error") } else { (200, "ok") };
            d.attempts = k;
            d.first_attempt_at = d.first_attempt_at.or(Some(at));
            d.last_attempt_at = Some(at);
            d.last_status_code = Some(code);
            d.last_response_snippet = Some(body.into());
            d.last_duration_ms = Some(40 + k);
            d.status = match (refused, k == tries) {
                (false, _) => "succeeded",
                (true, true) => "failed",
                (true, false) => "pending",
            }
            .into();
            d.delivered_at = (!refused).then_some(at);
            let attempt = AttemptRow {
                delivery_id: d.id.clone(),
                attempt: k,
                manual: false,
                attempted_at: at,
                status_code: Some(code),
                error: None,
                response_snippet: Some(body.into()),
                duration_ms: 40 + k,
            };
            webhooks::record_attempt(tx, &d, &attempt).await?;
        }
    }
    Ok(())
}
