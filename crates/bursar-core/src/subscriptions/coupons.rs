//! Coupons and promotion codes: their rules checked and stored, listed,
//! read and deactivated.

use crate::actor::Actor;
use crate::common::{check_len, secs};
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::idempotency::Reply;
use bursar_domain::catalog::valid_code;
use bursar_domain::coupon::{AppliesTo, Discount, Duration, Rules};
use bursar_domain::id::{new_id, IdKind};
use bursar_domain::money::MAX_AMOUNT_MINOR;
use bursar_store::billing::{self, CouponRow};
use bursar_store::events;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CouponCreate {
    /// The promotion code customers type, e.g. `SPRING20` (letters, digits, `_`, `-`).
    pub code: String,
    pub name: Option<String>,
    /// Percentage off in basis points (2000 = 20 %); or give `amount_off`.
    pub percent_off_bps: Option<i64>,
    /// Fixed amount off per currency, minor units: `{"USD": 500, "EUR": 450}`.
    pub amount_off: Option<BTreeMap<String, i64>>,
    /// `once`, `repeating` or `forever`.
    pub duration: String,
    /// With `repeating`: how many months.
    pub duration_in_months: Option<u32>,
    /// `all` (default), `plans`, `courses`, `bundles` or `items`.
    pub applies_to: Option<String>,
    /// Plan codes (for `plans`) or item ids (for `items`).
    pub applies_to_ids: Option<Vec<String>>,
    /// Minimum purchase per currency, minor units.
    pub min_purchase: Option<BTreeMap<String, i64>>,
    /// Unix seconds.
    pub valid_from: Option<i64>,
    pub valid_until: Option<i64>,
    pub max_redemptions: Option<i64>,
    pub max_redemptions_per_customer: Option<i64>,
    pub first_purchase_only: Option<bool>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Coupon {
    pub id: String,
    /// Always `coupon`.
    pub object: &'static str,
    pub livemode: bool,
    pub code: String,
    pub name: String,
    #[schema(value_type = Object)]
    pub rules: serde_json::Value,
    pub active: bool,
    pub times_redeemed: i64,
    pub max_redemptions: Option<i64>,
    pub created: i64,
}

pub fn render(c: CouponRow) -> Coupon {
    Coupon {
        id: c.id,
        object: "coupon",
        livemode: c.livemode,
        code: c.code,
        name: c.name,
        rules: serde_json::from_str(&c.rules).unwrap_or_default(),
        active: c.active,
        times_redeemed: c.redemptions,
        max_redemptions: c.max_redemptions,
        created: secs(c.created_at),
    }
}

fn money_map(param: &str, m: BTreeMap<String, i64>, min: i64) -> Result<BTreeMap<String, i64>> {
    let mut out = BTreeMap::new();
    for (k, v) in m {
        let c = crate::common::new_currency(&format!("{param}.{k}"), &k)?;
        if !(min..=MAX_AMOUNT_MINOR).contains(&v) {
            return Err(Error::invalid(
                &format!("{param}.{k}"),
                format!("amounts are {min} to {MAX_AMOUNT_MINOR} minor units"),
            ));
        }
        out.insert(c.code().to_string(), v);
    }
    Ok(out)
}

fn time(param: &str, v: Option<i64>) -> Result<Option<i64>> {
    match v {
        None => Ok(None),
        Some(t) if (0..=253_402_214_400).contains(&t) => Ok(Some(t * 1000)),
        Some(_) => Err(Error::invalid(param, format!("`{param}` must be Unix seconds"))),
    }
}

/// Checks and stores a new coupon; returns the transaction to commit in.
/// Creates a coupon. Staff creations are written to the audit log.
pub async fn create(ctx: &Ctx, actor: &Actor, b: CouponCreate, reply: &Reply) -> Result<Coupon> {
    let code = b.code.trim().to_uppercase();
    if code.is_empty() || !valid_code(&code.to_lowercase()) {
        return Err(Error::invalid("code", "codes are 1 to 64 letters, digits, `_` and `-`"));
    }
    let discount = match (b.percent_off_bps, b.amount_off) {
        (Some(p), None) if (1..=10_000).contains(&p) => Discount::Percent { bps: p },
        (Some(_), None) => return Err(Error::invalid("percent_off_bps", "percent_off_bps is 1 to 10000")),
        (None, Some(m)) if !m.is_empty() => Discount::Amount { amounts: money_map("amount_off", m, 1)? },
        (None, Some(_)) => return Err(Error::invalid("amount_off", "give at least one currency")),
        (Some(_), Some(_)) => return Err(Error::invalid("amount_off", "give percent_off_bps or amount_off, not both")),
        (None, None) => return Err(Error::missing("percent_off_bps")),
    };
    let duration = match (b.duration.as_str(), b.duration_in_months) {
        ("once", None) => Duration::Once,
        ("forever", None) => Duration::Forever,
        ("repeating", Some(m)) if (1..=120).contains(&m) => Duration::Repeating { months: m },
        ("repeating", _) => return Err(Error::invalid("duration_in_months", "repeating coupons need 1 to 120 months")),
        ("once" | "forever", Some(_)) => {
            return Err(Error::invalid("duration_in_months", "only repeating coupons take duration_in_months"))
        }
        _ => return Err(Error::invalid("duration", "duration is once, repeating or forever")),
    };
    let ids = b.applies_to_ids.unwrap_or_default();
    let applies_to = match b.applies_to.as_deref().unwrap_or("all") {
        "all" => AppliesTo::All,
        "courses" => AppliesTo::Courses,
        "bundles" => AppliesTo::Bundles,
        "plans" if !ids.is_empty() => AppliesTo::Plans { codes: ids },
        "items" if !ids.is_empty() => AppliesTo::Items { ids },
        "plans" | "items" => {
            return Err(Error::invalid("applies_to_ids", "list the plans or items the coupon applies to"))
        }
        _ => return Err(Error::invalid("applies_to", "applies_to is all, plans, courses, bundles or items")),
    };
    for (param, v) in
        [("max_redemptions", b.max_redemptions), ("max_redemptions_per_customer", b.max_redemptions_per_customer)]
    {
        if v.is_some_and(|n| n < 1) {
            return Err(Error::invalid(param, format!("{param} must be at least 1")));
        }
    }
    let (from, until) = (time("valid_from", b.valid_from)?, time("valid_until", b.valid_until)?);
    if let (Some(f), Some(u)) = (from, until) {
        if u <= f {
            return Err(Error::invalid("valid_until", "valid_until must be after valid_from"));
        }
    }
    check_len("name", &b.name, 200)?;
    let rules = Rules {
        discount,
        duration,
        applies_to,
        min_purchase: money_map("min_purchase", b.min_purchase.unwrap_or_default(), 0)?,
        valid_from: from,
        valid_until: until,
        max_redemptions: b.max_redemptions,
        max_per_customer: b.max_redemptions_per_customer,
        first_purchase_only: b.first_purchase_only.unwrap_or(false),
    };
    let row = CouponRow {
        id: new_id(IdKind::Coupon),
        livemode: actor.livemode,
        name: b.name.unwrap_or_else(|| code.clone()),
        code,
        rules: serde_json::to_string(&rules).map_err(|_| Error::internal())?,
        active: true,
        redemptions: 0,
        max_redemptions: b.max_redemptions,
        created_at: ctx.now_ms(),
    };
    let mut tx = ctx.db.begin().await?;
    billing::insert_coupon(&mut tx, &row).await.map_err(|e| match &e {
        bursar_store::DbError::Sqlx(s) if bursar_store::db::is_unique_violation(s) => {
            Error::conflict("resource_already_exists", "a coupon with this code exists").with_param("code")
        }
        _ => e.into(),
    })?;
    let out = render(row);
    if actor.kind == "staff" {
        let details = serde_json::json!({"code": out.code, "rules": out.rules});
        events::audit(&mut tx, "staff", &actor.id, "coupon.created", Some(&out.id), &details, ctx.now_ms()).await?;
    }
    reply.commit(tx, &out).await?;
    Ok(out)
}

/// A coupon's id as given, or its code in capitals.
fn coupon_key(code: &str) -> String {
    if code.starts_with("coupon_") {
        code.to_string()
    } else {
        code.to_uppercase()
    }
}

/// Stops a coupon from being redeemed from now on; discounts it already
/// gave, and subscriptions it still discounts, keep it. Deactivating twice is
/// harmless. Returns the transaction to commit in.
/// Deactivates a coupon (by code or id). Staff deactivations are written to
/// the audit log.
pub async fn deactivate(ctx: &Ctx, actor: &Actor, code: &str, reply: &Reply) -> Result<Coupon> {
    let mut tx = ctx.db.begin().await?;
    let mut c = billing::coupon_by_key(&mut *tx, actor.livemode, &coupon_key(code))
        .await?
        .ok_or_else(|| Error::not_found("code", "coupon", code))?;
    billing::set_coupon_active(&mut tx, &c.id, false).await?;
    c.active = false;
    let out = render(c);
    if actor.kind == "staff" {
        let details = serde_json::json!({"code": out.code});
        events::audit(&mut tx, "staff", &actor.id, "coupon.deactivated", Some(&out.id), &details, ctx.now_ms()).await?;
    }
    reply.commit(tx, &out).await?;
    Ok(out)
}

/// Every coupon of the mode.
pub async fn list(ctx: &Ctx, actor: &Actor) -> Result<Vec<Coupon>> {
    Ok(billing::list_coupons(ctx.db.reader(), actor.livemode).await?.into_iter().map(render).collect())
}

/// One coupon, by code or id.
pub async fn get(ctx: &Ctx, actor: &Actor, code: &str) -> Result<Coupon> {
    let c = billing::coupon_by_key(ctx.db.reader(), actor.livemode, &coupon_key(code))
        .await?
        .ok_or_else(|| Error::not_found("code", "coupon", code))?;
    Ok(render(c))
}
