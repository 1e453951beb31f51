//! Catalog SQL: products, plans and versioned prices.

use crate::db::{DbError, Tx};
use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductRow {
    pub id: String,
    pub livemode: bool,
    pub code: String,
    pub name: String,
    pub description: String,
    pub active: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanRow {
    pub id: String,
    pub livemode: bool,
    pub product_id: String,
    pub code: String,
    pub name: String,
    pub description: String,
    pub rank: i64,
    pub trial_days: i64,
    pub trial_card_required: bool,
    /// JSON array of strings.
    pub features: String,
    /// JSON object of limits.
    pub limits: String,
    /// JSON object of flags.
    pub flags: String,
    /// JSON array of metered usage prices.
    pub metered: String,
    pub active: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceRow {
    pub id: String,
    pub livemode: bool,
    pub plan_id: String,
    pub currency: String,
    pub interval: String,
    pub amount: i64,
    pub tax_behavior: String,
    pub version: i64,
    pub active: bool,
    pub created_at: i64,
    pub superseded_at: Option<i64>,
}

const PRODUCT_COLS: &str = "id, livemode, code, name, description, active, created_at, updated_at";
const PLAN_COLS: &str =
    "id, livemode, product_id, code, name, description, tier_rank, trial_days, trial_card_required, \
                         features, limits, flags, active, created_at, updated_at, metered";
const PRICE_COLS: &str = "id, livemode, plan_id, currency, billing_interval, amount, tax_behavior, version, active, \
                          created_at, superseded_at";

fn product(r: &AnyRow) -> ProductRow {
    ProductRow {
        id: r.get(0),
        livemode: r.get::<i64, _>(1) != 0,
        code: r.get(2),
        name: r.get(3),
        description: r.get(4),
        active: r.get::<i64, _>(5) != 0,
        created_at: r.get(6),
        updated_at: r.get(7),
    }
}

fn plan(r: &AnyRow) -> PlanRow {
    PlanRow {
        id: r.get(0),
        livemode: r.get::<i64, _>(1) != 0,
        product_id: r.get(2),
        code: r.get(3),
        name: r.get(4),
        description: r.get(5),
        rank: r.get(6),
        trial_days: r.get(7),
        trial_card_required: r.get::<i64, _>(8) != 0,
        features: r.get(9),
        limits: r.get(10),
        flags: r.get(11),
        active: r.get::<i64, _>(12) != 0,
        created_at: r.get(13),
        updated_at: r.get(14),
        metered: r.get(15),
    }
}

fn price(r: &AnyRow) -> PriceRow {
    PriceRow {
        id: r.get(0),
        livemode: r.get::<i64, _>(1) != 0,
        plan_id: r.get(2),
        currency: r.get(3),
        interval: r.get(4),
        amount: r.get(5),
        tax_behavior: r.get(6),
        version: r.get(7),
        active: r.get::<i64, _>(8) != 0,
        created_at: r.get(9),
        superseded_at: r.get(10),
    }
}

pub async fn product_by_code<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    livemode: bool,
    code: &str,
) -> Result<Option<ProductRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {PRODUCT_COLS} FROM products WHERE livemode = $1 AND code = $2"));
    Ok(sqlx::query(sql).bind(i64::from(livemode)).bind(code).fetch_optional(ex).await?.as_ref().map(product))
}

pub async fn products<'e, E: Executor<'e, Database = Any>>(ex: E, livemode: bool) -> Result<Vec<ProductRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {PRODUCT_COLS} FROM products WHERE livemode = $1 ORDER BY code"));
    Ok(sqlx::query(sql).bind(i64::from(livemode)).fetch_all(ex).await?.iter().map(product).collect())
}

pub async fn upsert_product(tx: &mut Tx, p: &ProductRow) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO products (id, livemode, code, name, description, active, created_at, updated_at) \
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8) ON CONFLICT (id) DO UPDATE SET name = excluded.name, \
         description = excluded.description, active = excluded.active, updated_at = excluded.updated_at",
    )
    .bind(p.id.clone())
    .bind(i64::from(p.livemode))
    .bind(p.code.clone())
    .bind(p.name.clone())
    .bind(p.description.clone())
    .bind(i64::from(p.active))
    .bind(p.created_at)
    .bind(p.updated_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn plan_by_code<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    livemode: bool,
    code: &str,
) -> Result<Option<PlanRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {PLAN_COLS} FROM plans WHERE livemode = $1 AND code = $2"));
    Ok(sqlx::query(sql).bind(i64::from(livemode)).bind(code).fetch_optional(ex).await?.as_ref().map(plan))
}

pub async fn plan_by_id<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    livemode: bool,
    id: &str,
) -> Result<Option<PlanRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {PLAN_COLS} FROM plans WHERE livemode = $1 AND id = $2"));
    Ok(sqlx::query(sql).bind(i64::from(livemode)).bind(id).fetch_optional(ex).await?.as_ref().map(plan))
}

/// Plans ordered by product and rank; inactive ones only when asked.
pub async fn plans<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    livemode: bool,
    product_id: Option<&str>,
    include_inactive: bool,
) -> Result<Vec<PlanRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {PLAN_COLS} FROM plans WHERE livemode = $1 AND ($2 = '' OR product_id = $2) AND (active = 1 OR $3 = 1) \
         ORDER BY product_id, tier_rank, code"
    ));
    Ok(sqlx::query(sql)
        .bind(i64::from(livemode))
        .bind(product_id.unwrap_or("").to_string())
        .bind(i64::from(include_inactive))
        .fetch_all(ex)
        .await?
        .iter()
        .map(plan)
        .collect())
}

pub async fn upsert_plan(tx: &mut Tx, p: &PlanRow) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO plans (id, livemode, product_id, code, name, description, tier_rank, trial_days, trial_card_required, \
         features, limits, flags, active, created_at, updated_at, metered) \
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16) \
         ON CONFLICT (id) DO UPDATE SET product_id = excluded.product_id, name = excluded.name, \
         description = excluded.description, tier_rank = excluded.tier_rank, trial_days = excluded.trial_days, \
         trial_card_required = excluded.trial_card_required, features = excluded.features, limits = excluded.limits, \
         flags = excluded.flags, active = excluded.active, updated_at = excluded.updated_at, metered = excluded.metered",
    )
    .bind(p.id.clone())
    .bind(i64::from(p.livemode))
    .bind(p.product_id.clone())
    .bind(p.code.clone())
    .bind(p.name.clone())
    .bind(p.description.clone())
    .bind(p.rank)
    .bind(p.trial_days)
    .bind(i64::from(p.trial_card_required))
    .bind(p.features.clone())
    .bind(p.limits.clone())
    .bind(p.flags.clone())
    .bind(i64::from(p.active))
    .bind(p.created_at)
    .bind(p.updated_at)
    .bind(p.metered.clone())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Prices of plans, active ones only unless asked, ordered for display.
pub async fn prices_of<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    livemode: bool,
    plan_id: Option<&str>,
    include_inactive: bool,
) -> Result<Vec<PriceRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {PRICE_COLS} FROM prices WHERE livemode = $1 AND ($2 = '' OR plan_id = $2) AND (active = 1 OR $3 = 1) \
         ORDER BY plan_id, billing_interval, currency, version"
    ));
    Ok(sqlx::query(sql)
        .bind(i64::from(livemode))
        .bind(plan_id.unwrap_or("").to_string())
        .bind(i64::from(include_inactive))
        .fetch_all(ex)
        .await?
        .iter()
        .map(price)
        .collect())
}

pub async fn price_by_id<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    livemode: bool,
    id: &str,
) -> Result<Option<PriceRow>, DbError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {PRICE_COLS} FROM prices WHERE livemode = $1 AND id = $2"));
    Ok(sqlx::query(sql).bind(i64::from(livemode)).bind(id).fetch_optional(ex).await?.as_ref().map(price))
}

/// The highest version ever used for a (plan, currency, interval).
pub async fn latest_version(tx: &mut Tx, plan_id: &str, currency: &str, interval: &str) -> Result<i64, DbError> {
    let v: Option<i64> = sqlx::query_scalar(
        "SELECT CAST(MAX(version) AS BIGINT) FROM prices WHERE plan_id = $1 AND currency = $2 AND billing_interval = $3",
    )
    .bind(plan_id)
    .bind(currency)
    .bind(interval)
    .fetch_one(&mut **tx)
    .await?;
    Ok(v.unwrap_or(0))
}

pub async fn insert_price(tx: &mut Tx, p: &PriceRow) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO prices (id, livemode, plan_id, currency, billing_interval, amount, tax_behavior, version, active, \
         created_at, superseded_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)",
    )
    .bind(p.id.clone())
    .bind(i64::from(p.livemode))
    .bind(p.plan_id.clone())
    .bind(p.currency.clone())
    .bind(p.interval.clone())
    .bind(p.amount)
    .bind(p.tax_behavior.clone())
    .bind(p.version)
    .bind(i64::from(p.active))
    .bind(p.created_at)
    .bind(p.superseded_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Retires a price for new subscriptions; subscribers keep it.
pub async fn supersede_price(tx: &mut Tx, id: &str, now: i64) -> Result<(), DbError> {
    sqlx::query("UPDATE prices SET active = 0, superseded_at = $2 WHERE id = $1 AND active = 1")
        .bind(id)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
