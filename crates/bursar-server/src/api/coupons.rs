//! Coupons and promotion codes.

use super::{commit_json, secs, ListResponse};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, Caller};
use crate::middleware::Idem;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use bursar_domain::catalog::valid_code;
use bursar_domain::coupon::{AppliesTo, Discount, Duration, Rules};
use bursar_domain::id::{new_id, IdKind};
use bursar_domain::money::{Currency, MAX_AMOUNT_MINOR};
use bursar_store::billing::{self, CouponRow};
use bursar_store::db::Tx;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_coupon, list_coupons))
        .routes(routes!(get_coupon))
        .routes(routes!(deactivate_coupon))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
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

#[derive(Debug, Serialize, ToSchema)]
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

fn render(c: CouponRow) -> Coupon {
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

fn money_map(param: &str, m: BTreeMap<String, i64>, min: i64) -> ApiResult<BTreeMap<String, i64>> {
    let mut out = BTreeMap::new();
    for (k, v) in m {
        let c = Currency::from_code(&k)
            .map_err(|_| ApiError::invalid(&format!("{param}.{k}"), format!("unknown currency `{k}`")))?;
        if !(min..=MAX_AMOUNT_MINOR).contains(&v) {
            return Err(ApiError::invalid(
                &format!("{param}.{k}"),
                format!("amounts are {min} to {MAX_AMOUNT_MINOR} minor units"),
            ));
        }
        out.insert(c.code().to_string(), v);
    }
    Ok(out)
}

fn time(param: &str, v: Option<i64>) -> ApiResult<Option<i64>> {
    match v {
        None => Ok(None),
        Some(t) if (0..=253_402_214_400).contains(&t) => Ok(Some(t * 1000)),
        Some(_) => Err(ApiError::invalid(param, format!("`{param}` must be Unix seconds"))),
    }
}

#[utoipa::path(post, path = "/v1/coupons", tag = "coupons", request_body = CouponCreate,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = Coupon), (status = 400, body = crate::error::ErrorEnvelope), (status = 409, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn create_coupon(
    State(state): State<AppState>,
    caller: Caller,
    Idem(idem): Idem,
    ApiJson(b): ApiJson<CouponCreate>,
) -> ApiResult<Response> {
    let (tx, out) = create_for(&state, &caller, b).await?;
    commit_json(tx, idem.as_ref(), StatusCode::OK, &out).await
}

/// Checks and stores a new coupon; returns the transaction to commit in.
pub(crate) async fn create_for(state: &AppState, caller: &Caller, b: CouponCreate) -> ApiResult<(Tx, Coupon)> {
    let code = b.code.trim().to_uppercase();
    if code.is_empty() || !valid_code(&code.to_lowercase()) {
        return Err(ApiError::invalid("code", "codes are 1 to 64 letters, digits, `_` and `-`"));
    }
    let discount = match (b.percent_off_bps, b.amount_off) {
        (Some(p), None) if (1..=10_000).contains(&p) => Discount::Percent { bps: p },
        (Some(_), None) => return Err(ApiError::invalid("percent_off_bps", "percent_off_bps is 1 to 10000")),
        (None, Some(m)) if !m.is_empty() => Discount::Amount { amounts: money_map("amount_off", m, 1)? },
        (None, Some(_)) => return Err(ApiError::invalid("amount_off", "give at least one currency")),
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid("amount_off", "give percent_off_bps or amount_off, not both"))
        }
        (None, None) => return Err(ApiError::missing("percent_off_bps")),
    };
    let duration = match (b.duration.as_str(), b.duration_in_months) {
        ("once", None) => Duration::Once,
        ("forever", None) => Duration::Forever,
        ("repeating", Some(m)) if (1..=120).contains(&m) => Duration::Repeating { months: m },
        ("repeating", _) => {
            return Err(ApiError::invalid("duration_in_months", "repeating coupons need 1 to 120 months"))
        }
        ("once" | "forever", Some(_)) => {
            return Err(ApiError::invalid("duration_in_months", "only repeating coupons take duration_in_months"))
        }
        _ => return Err(ApiError::invalid("duration", "duration is once, repeating or forever")),
    };
    let ids = b.applies_to_ids.unwrap_or_default();
    let applies_to = match b.applies_to.as_deref().unwrap_or("all") {
        "all" => AppliesTo::All,
        "courses" => AppliesTo::Courses,
        "bundles" => AppliesTo::Bundles,
        "plans" if !ids.is_empty() => AppliesTo::Plans { codes: ids },
        "items" if !ids.is_empty() => AppliesTo::Items { ids },
        "plans" | "items" => {
            return Err(ApiError::invalid("applies_to_ids", "list the plans or items the coupon applies to"))
        }
        _ => return Err(ApiError::invalid("applies_to", "applies_to is all, plans, courses, bundles or items")),
    };
    for (param, v) in
        [("max_redemptions", b.max_redemptions), ("max_redemptions_per_customer", b.max_redemptions_per_customer)]
    {
        if v.is_some_and(|n| n < 1) {
            return Err(ApiError::invalid(param, format!("{param} must be at least 1")));
        }
    }
    let (from, until) = (time("valid_from", b.valid_from)?, time("valid_until", b.valid_until)?);
    if let (Some(f), Some(u)) = (from, until) {
        if u <= f {
            return Err(ApiError::invalid("valid_until", "valid_until must be after valid_from"));
        }
    }
    super::check_len("name", &b.name, 200)?;
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
        livemode: caller.livemode,
        name: b.name.unwrap_or_else(|| code.clone()),
        code,
        rules: serde_json::to_string(&rules).map_err(|_| ApiError::internal())?,
        active: true,
        redemptions: 0,
        max_redemptions: b.max_redemptions,
        created_at: state.now_ms(),
    };
    let mut tx = state.db.begin().await?;
    billing::insert_coupon(&mut tx, &row).await.map_err(|e| match &e {
        bursar_store::DbError::Sqlx(s) if bursar_store::db::is_unique_violation(s) => {
            ApiError::conflict("resource_already_exists", "a coupon with this code exists").with_param("code")
        }
        _ => e.into(),
    })?;
    Ok((tx, render(row)))
}

#[utoipa::path(get, path = "/v1/coupons", tag = "coupons",
    responses((status = 200, body = ListResponse<Coupon>)), security(("api_key" = [])))]
async fn list_coupons(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<ListResponse<Coupon>>> {
    let rows = billing::list_coupons(state.db.reader(), caller.livemode).await?;
    let n = rows.len() as i64;
    Ok(Json(ListResponse::from_rows(rows.into_iter().map(render).collect(), n.max(1), "/v1/coupons")))
}

#[utoipa::path(get, path = "/v1/coupons/{code}", tag = "coupons",
    params(("code" = String, Path, description = "Coupon code or id")),
    responses((status = 200, body = Coupon), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn get_coupon(
    State(state): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
) -> ApiResult<Json<Coupon>> {
    let c = billing::coupon_by_key(state.db.reader(), caller.livemode, &coupon_key(&code))
        .await?
        .ok_or_else(|| ApiError::not_found("code", "coupon", &code))?;
    Ok(Json(render(c)))
}

/// A coupon's id as given, or its code in capitals.
fn coupon_key(code: &str) -> String {
    if code.starts_with("coupon_") {
        code.to_string()
    } else {
        code.to_uppercase()
    }
}

#[utoipa::path(post, path = "/v1/coupons/{code}/deactivate", tag = "coupons",
    params(("code" = String, Path, description = "Coupon code or id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = Coupon), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn deactivate_coupon(
    State(state): State<AppState>,
    caller: Caller,
    Idem(idem): Idem,
    Path(code): Path<String>,
) -> ApiResult<Response> {
    let (tx, out) = deactivate_for(&state, &caller, &code).await?;
    commit_json(tx, idem.as_ref(), StatusCode::OK, &out).await
}

/// Stops a coupon from being redeemed from now on; discounts it already
/// gave, and subscriptions it still discounts, keep it. Deactivating twice is
/// harmless. Returns the transaction to commit in.
pub(crate) async fn deactivate_for(state: &AppState, caller: &Caller, code: &str) -> ApiResult<(Tx, Coupon)> {
    let mut tx = state.db.begin().await?;
    let mut c = billing::coupon_by_key(&mut *tx, caller.livemode, &coupon_key(code))
        .await?
        .ok_or_else(|| ApiError::not_found("code", "coupon", code))?;
    billing::set_coupon_active(&mut tx, &c.id, false).await?;
    c.active = false;
    Ok((tx, render(c)))
}
