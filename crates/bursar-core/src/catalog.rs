//! The catalog service: importing a catalog document (idempotently, by
//! codes), reading products and plans with their prices, and adding price
//! versions. A changed amount never edits a price: it supersedes it with a
//! new version, and subscribers keep the old one.

use crate::actor::Actor;
use crate::common::secs;
use crate::ctx::Ctx;
use crate::error::{Error, Result as OpResult};
use crate::idempotency::Reply;
use bursar_domain::catalog::{CatalogDoc, Interval, Limit, PriceSpec, TaxBehavior};
use bursar_domain::id::{is_valid, new_id, IdKind};
use bursar_domain::money::MAX_AMOUNT_MINOR;
use bursar_store::catalog::{self, ProductRow};
pub use bursar_store::catalog::{PlanRow, PriceRow};
use bursar_store::{events, DbError, Tx};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// What an import changed.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ImportSummary {
    /// Always `catalog_import`.
    pub object: &'static str,
    pub products_created: u32,
    pub products_updated: u32,
    pub plans_created: u32,
    pub plans_updated: u32,
    pub prices_created: u32,
    pub prices_superseded: u32,
    pub prices_unchanged: u32,
}

/// Writes a validated catalog inside the caller's transaction.
pub async fn import(tx: &mut Tx, livemode: bool, doc: &CatalogDoc, now: i64) -> Result<ImportSummary, DbError> {
    let mut s = ImportSummary { object: "catalog_import", ..Default::default() };
    for p in &doc.products {
        let existing = catalog::product_by_code(&mut **tx, livemode, &p.code).await?;
        let row = ProductRow {
            id: existing.as_ref().map(|e| e.id.clone()).unwrap_or_else(|| new_id(IdKind::Product)),
            livemode,
            code: p.code.clone(),
            name: p.name.clone(),
            description: p.description.clone(),
            active: true,
            created_at: existing.as_ref().map(|e| e.created_at).unwrap_or(now),
            updated_at: now,
        };
        match &existing {
            None => s.products_created += 1,
            Some(e) if e.name != row.name || e.description != row.description || !e.active => s.products_updated += 1,
            Some(_) => {}
        }
        catalog::upsert_product(tx, &row).await?;
        for plan in &p.plans {
            let existing = catalog::plan_by_code(&mut **tx, livemode, &plan.code).await?;
            let row = PlanRow {
                id: existing.as_ref().map(|e| e.id.clone()).unwrap_or_else(|| new_id(IdKind::Plan)),
                livemode,
                product_id: row.id.clone(),
                code: plan.code.clone(),
                name: plan.name.clone(),
                description: plan.description.clone(),
                rank: plan.rank,
                trial_days: i64::from(plan.trial_days),
                trial_card_required: plan.trial_card_required,
                features: serde_json::to_string(&plan.features).unwrap_or_else(|_| "[]".into()),
                limits: serde_json::to_string(&plan.limits).unwrap_or_else(|_| "{}".into()),
                flags: serde_json::to_string(&plan.flags).unwrap_or_else(|_| "{}".into()),
                metered: serde_json::to_string(&plan.metered).unwrap_or_else(|_| "[]".into()),
                active: true,
                created_at: existing.as_ref().map(|e| e.created_at).unwrap_or(now),
                updated_at: now,
            };
            match &existing {
                None => s.plans_created += 1,
                Some(e) if PlanRow { updated_at: e.updated_at, ..row.clone() } != *e => s.plans_updated += 1,
                Some(_) => {}
            }
            catalog::upsert_plan(tx, &row).await?;
            let current = catalog::prices_of(&mut **tx, livemode, Some(&row.id), false).await?;
            for spec in &plan.prices {
                match set_price(tx, livemode, &row.id, spec, &current, now).await? {
                    PriceChange::Created => s.prices_created += 1,
                    PriceChange::Superseded => {
                        s.prices_created += 1;
                        s.prices_superseded += 1;
                    }
                    PriceChange::Unchanged => s.prices_unchanged += 1,
                }
            }
            // Prices the document no longer lists stop being offered.
            for old in &current {
                let listed = plan
                    .prices
                    .iter()
                    .any(|p| p.currency.code() == old.currency && p.interval.as_str() == old.interval);
                if !listed {
                    catalog::supersede_price(tx, &old.id, now).await?;
                    s.prices_superseded += 1;
                }
            }
        }
    }
    events::emit(tx, livemode, "catalog.imported", "catalog", &serde_json::to_value(&s).unwrap_or_default(), now)
        .await?;
    Ok(s)
}

pub enum PriceChange {
    Created,
    Superseded,
    Unchanged,
}

/// Makes `spec` the active price of its (plan, currency, interval): nothing
/// when the active one already matches, else a new version.
pub async fn set_price(
    tx: &mut Tx,
    livemode: bool,
    plan_id: &str,
    spec: &PriceSpec,
    current: &[PriceRow],
    now: i64,
) -> Result<PriceChange, DbError> {
    let active = current.iter().find(|p| p.currency == spec.currency.code() && p.interval == spec.interval.as_str());
    if let Some(a) = active {
        if a.amount == spec.amount && a.tax_behavior == spec.tax_behavior.as_str() {
            return Ok(PriceChange::Unchanged);
        }
        catalog::supersede_price(tx, &a.id, now).await?;
    }
    let version = catalog::latest_version(tx, plan_id, spec.currency.code(), spec.interval.as_str()).await? + 1;
    catalog::insert_price(
        tx,
        &PriceRow {
            id: new_id(IdKind::Price),
            livemode,
            plan_id: plan_id.to_string(),
            currency: spec.currency.code().to_string(),
            interval: spec.interval.as_str().to_string(),
            amount: spec.amount,
            tax_behavior: spec.tax_behavior.as_str().to_string(),
            version,
            active: true,
            created_at: now,
            superseded_at: None,
        },
    )
    .await?;
    Ok(if active.is_some() { PriceChange::Superseded } else { PriceChange::Created })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Price {
    pub id: String,
    /// Always `price`.
    pub object: &'static str,
    pub livemode: bool,
    pub plan: String,
    pub currency: String,
    /// `month` or `year`.
    pub interval: String,
    /// Minor units per interval.
    pub amount: i64,
    /// `exclusive` or `inclusive`.
    pub tax_behavior: String,
    /// 1 for the first price of this plan, currency and interval; each change adds one.
    pub version: i64,
    /// Offered to new subscriptions.
    pub active: bool,
    pub created: i64,
    pub superseded: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Trial {
    pub days: i64,
    pub card_required: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Plan {
    pub id: String,
    /// Always `plan`.
    pub object: &'static str,
    pub livemode: bool,
    pub product: String,
    pub code: String,
    pub name: String,
    pub description: String,
    pub rank: i64,
    pub trial: Trial,
    pub features: Vec<String>,
    /// Each a non-negative integer or `"unlimited"`.
    #[schema(value_type = Object)]
    pub limits: BTreeMap<String, Limit>,
    pub flags: BTreeMap<String, bool>,
    pub active: bool,
    pub prices: Vec<Price>,
    pub created: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Product {
    pub id: String,
    /// Always `product`.
    pub object: &'static str,
    pub livemode: bool,
    pub code: String,
    pub name: String,
    pub description: String,
    pub active: bool,
    pub created: i64,
}

pub fn render_price(p: PriceRow) -> Price {
    Price {
        id: p.id,
        object: "price",
        livemode: p.livemode,
        plan: p.plan_id,
        currency: p.currency,
        interval: p.interval,
        amount: p.amount,
        tax_behavior: p.tax_behavior,
        version: p.version,
        active: p.active,
        created: secs(p.created_at),
        superseded: p.superseded_at.map(secs),
    }
}

pub fn render_plan(p: PlanRow, prices: Vec<Price>) -> Plan {
    Plan {
        object: "plan",
        livemode: p.livemode,
        product: p.product_id,
        code: p.code,
        name: p.name,
        description: p.description,
        rank: p.rank,
        trial: Trial { days: p.trial_days, card_required: p.trial_card_required },
        features: serde_json::from_str(&p.features).unwrap_or_default(),
        limits: serde_json::from_str(&p.limits).unwrap_or_default(),
        flags: serde_json::from_str(&p.flags).unwrap_or_default(),
        active: p.active,
        prices,
        created: secs(p.created_at),
        id: p.id,
    }
}

/// Validates a catalog document and imports it into the actor's mode.
pub async fn import_doc(ctx: &Ctx, actor: &Actor, doc: &CatalogDoc, reply: &Reply) -> OpResult<ImportSummary> {
    doc.validate().map_err(|e| Error::invalid(&e.path, e.message))?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let summary = import(&mut tx, actor.livemode, doc, now).await?;
    reply.commit(tx, &summary).await?;
    Ok(summary)
}

/// Every product of the actor's mode.
pub async fn products(ctx: &Ctx, actor: &Actor) -> OpResult<Vec<Product>> {
    let rows = catalog::products(ctx.db.reader(), actor.livemode).await?;
    Ok(rows
        .into_iter()
        .map(|p| Product {
            id: p.id,
            object: "product",
            livemode: p.livemode,
            code: p.code,
            name: p.name,
            description: p.description,
            active: p.active,
            created: secs(p.created_at),
        })
        .collect())
}

/// Parses a `true`/`false` query flag (absent: false).
pub fn flag(param: &str, v: Option<&str>) -> OpResult<bool> {
    match v {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(Error::invalid(param, format!("`{param}` must be true or false"))),
    }
}

/// What is on sale in a mode: the active plans and their active prices, as
/// rows (the pricing page lays them out itself).
pub async fn offered(ctx: &Ctx, livemode: bool) -> OpResult<(Vec<PlanRow>, Vec<PriceRow>)> {
    let r = ctx.db.reader();
    Ok((catalog::plans(r, livemode, None, false).await?, catalog::prices_of(r, livemode, None, false).await?))
}

/// Plans of the actor's mode with their prices, optionally of one product;
/// retired plans and prices only when `include_inactive` is `true`.
pub async fn plans(
    ctx: &Ctx,
    actor: &Actor,
    product: Option<&str>,
    include_inactive: Option<&str>,
) -> OpResult<Vec<Plan>> {
    let inactive = flag("include_inactive", include_inactive)?;
    let plans = catalog::plans(ctx.db.reader(), actor.livemode, product, inactive).await?;
    let prices = catalog::prices_of(ctx.db.reader(), actor.livemode, None, inactive).await?;
    let mut by_plan: BTreeMap<String, Vec<Price>> = BTreeMap::new();
    for p in prices {
        by_plan.entry(p.plan_id.clone()).or_default().push(render_price(p));
    }
    Ok(plans
        .into_iter()
        .map(|p| {
            let prices = by_plan.remove(&p.id).unwrap_or_default();
            render_plan(p, prices)
        })
        .collect())
}

async fn load_plan(ctx: &Ctx, actor: &Actor, id: &str) -> OpResult<PlanRow> {
    let row = if is_valid(IdKind::Plan, id) {
        catalog::plan_by_id(ctx.db.reader(), actor.livemode, id).await?
    } else {
        catalog::plan_by_code(ctx.db.reader(), actor.livemode, id).await?
    };
    row.ok_or_else(|| Error::not_found("id", "plan", id))
}

/// A plan (by id or code) with all its prices, retired ones included.
pub async fn plan(ctx: &Ctx, actor: &Actor, id: &str) -> OpResult<Plan> {
    let plan = load_plan(ctx, actor, id).await?;
    let prices = catalog::prices_of(ctx.db.reader(), actor.livemode, Some(&plan.id), true).await?;
    Ok(render_plan(plan, prices.into_iter().map(render_price).collect()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceCreate {
    /// ISO 4217 code.
    pub currency: String,
    /// `month` or `year`.
    pub interval: String,
    /// Minor units per interval.
    pub amount: i64,
    /// `exclusive` (default) or `inclusive`.
    pub tax_behavior: Option<String>,
}

/// Sets a plan's price for a currency and interval: a new version when it
/// differs from the active one. Emits `price.created`.
pub async fn create_price(ctx: &Ctx, actor: &Actor, id: &str, body: PriceCreate, reply: &Reply) -> OpResult<Price> {
    let currency = crate::common::new_currency("currency", &body.currency)?;
    let interval = Interval::parse(&body.interval)
        .ok_or_else(|| Error::invalid("interval", "interval must be `month` or `year`"))?;
    if !(0..=MAX_AMOUNT_MINOR).contains(&body.amount) {
        return Err(Error::invalid("amount", format!("amount must be 0 to {MAX_AMOUNT_MINOR} minor units")));
    }
    let tax_behavior = match body.tax_behavior.as_deref() {
        None => TaxBehavior::Exclusive,
        Some(t) => TaxBehavior::parse(t)
            .ok_or_else(|| Error::invalid("tax_behavior", "tax_behavior must be `exclusive` or `inclusive`"))?,
    };
    let plan = load_plan(ctx, actor, id).await?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let current = catalog::prices_of(&mut *tx, actor.livemode, Some(&plan.id), false).await?;
    let spec = PriceSpec { currency, interval, amount: body.amount, tax_behavior };
    set_price(&mut tx, actor.livemode, &plan.id, &spec, &current, now).await?;
    let after = catalog::prices_of(&mut *tx, actor.livemode, Some(&plan.id), false).await?;
    let price = after
        .into_iter()
        .find(|p| p.currency == currency.code() && p.interval == interval.as_str())
        .ok_or_else(Error::internal)?;
    let out = render_price(price);
    events::emit(
        &mut tx,
        actor.livemode,
        "price.created",
        &out.id,
        &serde_json::to_value(&out).unwrap_or_default(),
        now,
    )
    .await?;
    reply.commit(tx, &out).await?;
    Ok(out)
}

pub async fn price(ctx: &Ctx, actor: &Actor, id: &str) -> OpResult<Price> {
    if !is_valid(IdKind::Price, id) {
        return Err(Error::not_found("id", "price", id));
    }
    let p = catalog::price_by_id(ctx.db.reader(), actor.livemode, id)
        .await?
        .ok_or_else(|| Error::not_found("id", "price", id))?;
    Ok(render_price(p))
}
