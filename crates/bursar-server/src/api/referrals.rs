//! The learner referral program: "give X, get Y". A learner shares their
//! code; a new learner who signs up with it gets X as credit at once, and
//! the referrer gets Y as credit when the new learner's first order is
//! paid. Amounts are per currency; each side is credited in their own
//! billing currency (no credit when the program has no amount in it).

use super::{commit_json, secs};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, Caller};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use bursar_domain::id::{new_id, IdKind};
use bursar_domain::money::Currency;
use bursar_store::referrals::{self as store, ProgramRow, ReferralRow};
use bursar_store::{customers, events};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(set_program, get_program))
        .routes(routes!(create_code, get_referral))
        .routes(routes!(create_referral))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Program {
    /// Credit for the new learner, per currency, minor units.
    pub give: BTreeMap<String, i64>,
    /// Credit for the referrer once the new learner's first order is paid.
    pub reward: BTreeMap<String, i64>,
    pub active: bool,
}

fn check_amounts(param: &str, m: &BTreeMap<String, i64>) -> ApiResult<BTreeMap<String, i64>> {
    let mut out = BTreeMap::new();
    for (c, a) in m {
        let cur = Currency::from_code(c).map_err(|_| ApiError::invalid(&format!("{param}.{c}"), "unknown currency"))?;
        if !(0..=100_000_000).contains(a) {
            return Err(ApiError::invalid(&format!("{param}.{c}"), "an amount is 0 to 100000000 minor units"));
        }
        out.insert(cur.code().to_string(), *a);
    }
    Ok(out)
}

fn parse(p: &ProgramRow) -> Program {
    Program {
        give: serde_json::from_str(&p.give).unwrap_or_default(),
        reward: serde_json::from_str(&p.reward).unwrap_or_default(),
        active: p.active != 0,
    }
}

#[utoipa::path(post, path = "/v1/referral_program", tag = "marketplace", request_body = Program,
    responses((status = 200, body = Program), (status = 400, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn set_program(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(b): ApiJson<Program>,
) -> ApiResult<Response> {
    let give = check_amounts("give", &b.give)?;
    let reward = check_amounts("reward", &b.reward)?;
    let row = ProgramRow {
        give: serde_json::to_string(&give).map_err(|_| ApiError::internal())?,
        reward: serde_json::to_string(&reward).map_err(|_| ApiError::internal())?,
        active: i64::from(b.active),
        updated_at: state.now_ms(),
    };
    let mut tx = state.db.begin().await?;
    store::set_program(&mut tx, caller.livemode, &row).await?;
    commit_json(tx, None, StatusCode::OK, &parse(&row)).await
}

#[utoipa::path(get, path = "/v1/referral_program", tag = "marketplace",
    responses((status = 200, body = Program)), security(("api_key" = [])))]
async fn get_program(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Program>> {
    let p = store::program(state.db.reader(), caller.livemode).await?;
    Ok(Json(p.as_ref().map(parse).unwrap_or(Program { give: BTreeMap::new(), reward: BTreeMap::new(), active: false })))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReferralInfo {
    /// Always `referral_summary`.
    pub object: &'static str,
    pub customer: String,
    /// The learner's code to share; null until created.
    pub code: Option<String>,
    pub referrals: Vec<Referral>,
    /// Credit earned by referring, per currency.
    pub rewarded: BTreeMap<String, i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Referral {
    pub id: String,
    /// Always `referral`.
    pub object: &'static str,
    pub referrer: String,
    pub referee: String,
    /// `pending` (no paid order yet), `rewarded`, or `reversed` (the
    /// order that earned the reward was refunded in full).
    pub status: String,
    pub give_currency: Option<String>,
    pub give_amount: i64,
    pub reward_currency: Option<String>,
    pub reward_amount: i64,
    pub created: i64,
    pub rewarded_at: Option<i64>,
}

fn render(r: ReferralRow) -> Referral {
    Referral {
        id: r.id,
        object: "referral",
        referrer: r.referrer_id,
        referee: r.referee_id,
        status: r.status,
        give_currency: r.give_currency,
        give_amount: r.give_amount,
        reward_currency: r.reward_currency,
        reward_amount: r.reward_amount,
        created: secs(r.created_at),
        rewarded_at: r.rewarded_at.map(secs),
    }
}

async fn summary(state: &AppState, livemode: bool, customer: &str) -> ApiResult<ReferralInfo> {
    let code = store::code_of(state.db.reader(), customer).await?;
    let rows = store::referred_by(state.db.reader(), livemode, customer).await?;
    let mut rewarded = BTreeMap::new();
    for r in rows.iter().filter(|r| r.status == "rewarded") {
        if let Some(c) = &r.reward_currency {
            *rewarded.entry(c.clone()).or_default() += r.reward_amount;
        }
    }
    Ok(ReferralInfo {
        object: "referral_summary",
        customer: customer.to_string(),
        code,
        referrals: rows.into_iter().map(render).collect(),
        rewarded,
    })
}

#[utoipa::path(post, path = "/v1/customers/{id}/referral_code", tag = "marketplace",
    params(("id" = String, Path, description = "Customer id")),
    responses((status = 200, body = ReferralInfo), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn create_code(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ReferralInfo>> {
    let c = super::customers::load_live(&state, &caller, &id).await?;
    if store::code_of(state.db.reader(), &c.id).await?.is_none() {
        let mut tx = state.db.begin().await?;
        // A readable code; drawn again on the rare collision.
        for _ in 0..5 {
            use rand::distr::{Alphanumeric, SampleString};
            let code = Alphanumeric.sample_string(&mut rand::rng(), 8).to_ascii_uppercase();
            if store::insert_code(&mut tx, caller.livemode, &c.id, &code, state.now_ms()).await? {
                break;
            }
        }
        tx.commit().await?;
    }
    Ok(Json(summary(&state, caller.livemode, &c.id).await?))
}

#[utoipa::path(get, path = "/v1/customers/{id}/referral_code", tag = "marketplace",
    params(("id" = String, Path, description = "Customer id")),
    responses((status = 200, body = ReferralInfo), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn get_referral(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ReferralInfo>> {
    let c = super::customers::load_live(&state, &caller, &id).await?;
    Ok(Json(summary(&state, caller.livemode, &c.id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReferralCreate {
    /// The new learner.
    pub customer: String,
    /// The code they signed up with.
    pub code: String,
}

#[utoipa::path(post, path = "/v1/referrals", tag = "marketplace", request_body = ReferralCreate,
    responses((status = 201, body = Referral), (status = 400, body = crate::error::ErrorEnvelope),
              (status = 404, body = crate::error::ErrorEnvelope), (status = 409, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn create_referral(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(b): ApiJson<ReferralCreate>,
) -> ApiResult<Response> {
    let referee =
        super::customers::load_live(&state, &caller, &b.customer).await.map_err(|e| e.with_param("customer"))?;
    let program = store::program(state.db.reader(), caller.livemode)
        .await?
        .filter(|p| p.active != 0)
        .ok_or_else(|| ApiError::invalid("code", "there is no active referral program"))?;
    let code = b.code.trim().to_ascii_uppercase();
    let referrer = store::owner_of(state.db.reader(), caller.livemode, &code)
        .await?
        .ok_or_else(|| ApiError::not_found("code", "referral code", &b.code))?;
    if referrer == referee.id {
        return Err(ApiError::invalid("code", "a learner cannot refer themselves"));
    }
    let referrer_row =
        customers::get(state.db.reader(), caller.livemode, &referrer).await?.ok_or_else(ApiError::internal)?;
    let program = parse(&program);
    let give_cur = super::customers::billing_currency_of(&referee).code().to_string();
    let reward_cur = super::customers::billing_currency_of(&referrer_row).code().to_string();
    let give = program.give.get(&give_cur).copied().unwrap_or(0);
    let reward = program.reward.get(&reward_cur).copied().unwrap_or(0);
    let now = state.now_ms();
    let mut tx = state.db.begin().await?;
    if bursar_store::billing::has_purchased(&mut tx, &referee.id).await? {
        return Err(ApiError::invalid("customer", "only a learner who has not bought anything yet can be referred"));
    }
    let row = ReferralRow {
        id: new_id(IdKind::Referral),
        referrer_id: referrer,
        referee_id: referee.id.clone(),
        code,
        status: "pending".into(),
        give_currency: (give > 0).then(|| give_cur.clone()),
        give_amount: give,
        reward_currency: (reward > 0).then(|| reward_cur.clone()),
        reward_amount: reward,
        created_at: now,
        rewarded_at: None,
    };
    if !store::insert(&mut tx, caller.livemode, &row).await? {
        return Err(ApiError::conflict("already_referred", "this learner was already referred"));
    }
    if give > 0 {
        bursar_core::referrals::credit(
            &mut tx,
            caller.livemode,
            &referee.id,
            &give_cur,
            give,
            "Referral welcome credit",
            &row.id,
            now,
        )
        .await?;
    }
    events::emit(
        &mut tx,
        caller.livemode,
        "referral.created",
        &row.id,
        &serde_json::json!({"id": row.id, "referrer": row.referrer_id, "referee": row.referee_id, "give": give,
            "currency": row.give_currency}),
        now,
    )
    .await?;
    commit_json(tx, None, StatusCode::CREATED, &render(row)).await
}
