//! Instructors (the payees of course sales) and their sessions: bearer
//! tokens the platform creates so an instructor can act on their own
//! courses.

use super::{check_text, may_reach};
use crate::common::{check_len, secs};
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::providers::Providers;
use crate::{Actor, List, Page, Reply};
use bursar_domain::id::{new_id, IdKind};
use bursar_store::marketplace::{self as store, InstructorRow};
use rand::distr::{Alphanumeric, SampleString};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct Instructor {
    pub id: String,
    /// Always `instructor`.
    pub object: &'static str,
    /// The platform's user id.
    pub external_id: String,
    pub name: String,
    pub email: Option<String>,
    /// `standard` or `enterprise`.
    pub tier: String,
    /// The share of each sale's net the instructor earns, basis points
    /// (agreed, else the tier's: 7000 standard, 7500 enterprise).
    pub share_bps: i64,
    /// Whether `share_bps` was agreed with this instructor.
    pub share_agreed: bool,
    /// `sandbox`, `bank_transfer`, `stripe_connect` or `paypal`.
    pub payout_method: String,
    #[schema(value_type = Object)]
    pub payout_details: serde_json::Value,
    pub created: i64,
}

fn render(r: InstructorRow) -> Instructor {
    Instructor {
        share_bps: bursar_domain::marketplace::share_bps(&r.tier, r.share_bps),
        share_agreed: r.share_bps.is_some(),
        id: r.id,
        object: "instructor",
        external_id: r.external_id,
        name: r.name,
        email: r.email,
        tier: r.tier,
        payout_method: r.payout_method,
        payout_details: serde_json::from_str(&r.payout_details).unwrap_or_default(),
        created: secs(r.created_at),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstructorCreate {
    /// The platform's user id (unique).
    pub external_id: String,
    pub name: String,
    pub email: Option<String>,
    /// `standard` (default) or `enterprise`.
    pub tier: Option<String>,
    /// A share agreed with this instructor, basis points (0 to 10000).
    pub share_bps: Option<i64>,
    /// `sandbox` (default in test mode), `bank_transfer`, `stripe_connect` or
    /// `paypal`.
    pub payout_method: Option<String>,
    /// For `bank_transfer`: `{"iban": "…", "account_name": "…"}`; for
    /// `stripe_connect`: `{"account": "acct_…"}`; for `paypal`:
    /// `{"email": "…"}`.
    #[schema(value_type = Option<Object>)]
    pub payout_details: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstructorUpdate {
    pub name: Option<String>,
    pub email: Option<String>,
    pub tier: Option<String>,
    /// A new agreed share; `null` keeps the current one.
    pub share_bps: Option<i64>,
    /// `true`: forget the agreed share, use the tier's.
    pub clear_share: Option<bool>,
    pub payout_method: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub payout_details: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionCreate {
    /// Lifetime in seconds: 60 to 86400 (default 3600).
    pub ttl_seconds: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InstructorSession {
    /// Always `instructor_session`.
    pub object: &'static str,
    pub instructor: String,
    /// The bearer token (`bis_…`); shown once.
    pub token: String,
    pub expires_at: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionsRevoked {
    /// Always `instructor_sessions_revoked`.
    pub object: &'static str,
    pub instructor: String,
    /// Sessions ended.
    pub revoked: u64,
}

/// Checks a payout method and its details for a payee of this mode.
pub fn check_payout(providers: &Providers, method: &str, details: &serde_json::Value, livemode: bool) -> Result<()> {
    match method {
        "sandbox" if livemode => Err(Error::invalid("payout_method", "the sandbox pays test-mode payees only")),
        "sandbox" => Ok(()),
        "bank_transfer" => {
            let iban = details.get("iban").and_then(|v| v.as_str()).unwrap_or_default();
            let ok = (15..=34).contains(&iban.len())
                && iban.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
                && iban[..2].chars().all(|c| c.is_ascii_uppercase());
            if !ok {
                return Err(Error::invalid("payout_details.iban", "an IBAN of 15 to 34 upper-case letters and digits"));
            }
            Ok(())
        }
        "stripe_connect" | "paypal" => crate::payouts::check_method(providers, method, details, livemode),
        _ => Err(Error::invalid("payout_method", "payout_method is sandbox, bank_transfer, stripe_connect or paypal")),
    }
}

fn check_tier(tier: &str) -> Result<()> {
    if !matches!(tier, "standard" | "enterprise") {
        return Err(Error::invalid("tier", "tier is standard or enterprise"));
    }
    Ok(())
}

fn check_share(share: i64) -> Result<()> {
    if !(0..=10_000).contains(&share) {
        return Err(Error::invalid("share_bps", "share_bps is 0 to 10000"));
    }
    Ok(())
}

/// Creates an instructor; `external_id` is unique per mode.
pub async fn create(ctx: &Ctx, actor: &Actor, b: InstructorCreate, reply: &Reply) -> Result<Instructor> {
    check_text("external_id", &b.external_id, 255)?;
    check_text("name", &b.name, 200)?;
    check_len("email", &b.email, 320)?;
    let tier = b.tier.unwrap_or_else(|| "standard".into());
    check_tier(&tier)?;
    if let Some(s) = b.share_bps {
        check_share(s)?;
    }
    let method = b.payout_method.unwrap_or_else(|| "sandbox".into());
    let details = b.payout_details.unwrap_or_else(|| serde_json::json!({}));
    check_payout(&ctx.providers, &method, &details, actor.livemode)?;
    let now = ctx.now_ms();
    let row = InstructorRow {
        id: new_id(IdKind::Instructor),
        external_id: b.external_id,
        name: b.name,
        email: b.email,
        tier,
        share_bps: b.share_bps,
        payout_method: method,
        payout_details: details.to_string(),
        created_at: now,
        updated_at: now,
    };
    let mut tx = ctx.db.begin().await?;
    if store::instructor(&mut *tx, actor.livemode, &row.external_id).await?.is_some() {
        return Err(Error::conflict("instructor_exists", "an instructor with this external_id exists"));
    }
    store::insert_instructor(&mut tx, actor.livemode, &row).await?;
    let out = render(row);
    reply.commit(tx, &out).await?;
    Ok(out)
}

/// A page of instructors.
pub async fn list(ctx: &Ctx, actor: &Actor, page: &Page) -> Result<List<Instructor>> {
    let rows =
        store::instructors(ctx.db.reader(), actor.livemode, page.starting_after.as_deref(), page.limit + 1).await?;
    Ok(List::from_rows(rows, page.limit).map(render))
}

/// An instructor the actor may reach: the platform any, an instructor
/// themself only (others are not found). `key` is the id or the
/// platform's user id.
pub(crate) async fn load(ctx: &Ctx, actor: &Actor, key: &str) -> Result<InstructorRow> {
    let not_found = || Error::not_found("id", "instructor", key);
    let row = store::instructor(ctx.db.reader(), actor.livemode, key).await?.ok_or_else(not_found)?;
    if !may_reach(actor, &row.id) {
        return Err(not_found());
    }
    Ok(row)
}

/// One instructor, by id or the platform's user id.
pub async fn get(ctx: &Ctx, actor: &Actor, key: &str) -> Result<Instructor> {
    Ok(render(load(ctx, actor, key).await?))
}

/// Changes an instructor's profile, share or payout method.
pub async fn update(ctx: &Ctx, actor: &Actor, key: &str, b: InstructorUpdate, reply: &Reply) -> Result<Instructor> {
    let mut row = load(ctx, actor, key).await?;
    if let Some(n) = b.name {
        check_text("name", &n, 200)?;
        row.name = n;
    }
    if b.email.is_some() {
        check_len("email", &b.email, 320)?;
        row.email = b.email;
    }
    if let Some(t) = b.tier {
        check_tier(&t)?;
        row.tier = t;
    }
    if let Some(s) = b.share_bps {
        check_share(s)?;
        row.share_bps = Some(s);
    }
    if b.clear_share == Some(true) {
        row.share_bps = None;
    }
    if b.payout_method.is_some() || b.payout_details.is_some() {
        let method = b.payout_method.unwrap_or(row.payout_method.clone());
        let details = b.payout_details.unwrap_or_else(|| serde_json::from_str(&row.payout_details).unwrap_or_default());
        check_payout(&ctx.providers, &method, &details, actor.livemode)?;
        row.payout_method = method;
        row.payout_details = details.to_string();
    }
    row.updated_at = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    store::save_instructor(&mut tx, &row).await?;
    let out = render(row);
    reply.commit(tx, &out).await?;
    Ok(out)
}

/// Opens a session for an instructor: a bearer token, stored hashed. A
/// retry with the same idempotency key answers with the same session.
pub async fn create_session(
    ctx: &Ctx,
    actor: &Actor,
    key: &str,
    b: SessionCreate,
    reply: &Reply,
) -> Result<InstructorSession> {
    let ins = load(ctx, actor, key).await?;
    let ttl = b.ttl_seconds.unwrap_or(3600);
    if !(60..=86_400).contains(&ttl) {
        return Err(Error::invalid("ttl_seconds", "ttl_seconds is 60 to 86400"));
    }
    let token = format!("bis_{}", Alphanumeric.sample_string(&mut rand::rng(), 40));
    let now = ctx.now_ms();
    let expires = now + ttl * 1000;
    let mut tx = ctx.db.begin().await?;
    store::insert_instructor_session(
        &mut tx,
        actor.livemode,
        &crate::auth::sha256_hex(token.as_bytes()),
        &ins.id,
        expires,
        now,
    )
    .await?;
    let out = InstructorSession { object: "instructor_session", instructor: ins.id, token, expires_at: secs(expires) };
    reply.commit(tx, &out).await?;
    Ok(out)
}

/// Ends every session of an instructor.
pub async fn revoke_sessions(ctx: &Ctx, actor: &Actor, key: &str) -> Result<SessionsRevoked> {
    let ins = load(ctx, actor, key).await?;
    let mut tx = ctx.db.begin().await?;
    let revoked = bursar_store::order_refunds::revoke_instructor_sessions(&mut tx, &ins.id).await?;
    tx.commit().await?;
    Ok(SessionsRevoked { object: "instructor_sessions_revoked", instructor: ins.id, revoked })
}
