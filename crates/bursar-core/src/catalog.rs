//! The catalog service: importing a catalog document (idempotently, by
//! codes) and adding price versions. A changed amount never edits a price:
//! it supersedes it with a new version, and subscribers keep the old one.

use bursar_domain::catalog::{CatalogDoc, PriceSpec};
use bursar_domain::id::{new_id, IdKind};
use bursar_store::catalog::{self, PlanRow, PriceRow, ProductRow};
use bursar_store::{events, DbError, Tx};
use serde::Serialize;
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
