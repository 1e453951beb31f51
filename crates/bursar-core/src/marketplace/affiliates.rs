//! Affiliates: applications and their review, the clicks their links
//! bring, and the commissions they earn.

use crate::actor::Actor;
use crate::common::{check_len, secs};
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::idempotency::Reply;
use bursar_domain::id::{new_id, IdKind};
use bursar_store::marketplace::{self as store, AffiliateRow, ClickRow};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct Affiliate {
    pub id: String,
    /// Always `affiliate`.
    pub object: &'static str,
    pub external_id: String,
    pub name: String,
    pub email: Option<String>,
    /// `pending`, `approved`, `suspended`, `rejected`.
    pub status: String,
    /// The referral code; links carry it as `?ref=CODE`.
    pub code: String,
    pub commission_bps: i64,
    pub payout_method: String,
    pub clicks: i64,
    /// Commission totals per status and currency.
    pub commissions: BTreeMap<String, BTreeMap<String, i64>>,
    pub created: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AffiliateApply {
    /// The platform's user id.
    pub external_id: String,
    pub name: String,
    pub email: Option<String>,
    /// A wished-for code (4 to 32 letters, digits, `-`); default: generated.
    pub code: Option<String>,
    /// `sandbox` (test mode), `bank_transfer`, `stripe_connect` or `paypal`.
    pub payout_method: Option<String>,
    /// For `stripe_connect`: `{"account": "acct_…"}`; for `paypal`:
    /// `{"email": "…"}`.
    #[schema(value_type = Option<Object>)]
    pub payout_details: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AffiliateStatus {
    /// `approved`, `rejected` or `suspended`.
    pub status: String,
    /// A rate for this affiliate, basis points.
    pub commission_bps: Option<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClickCreate {
    /// The affiliate's code from the link.
    pub code: String,
    /// The visitor's IP (stored only as a keyed hash).
    pub ip: String,
    pub user_agent: Option<String>,
    pub referer: Option<String>,
    pub landing_url: Option<String>,
    /// The learner, when known (signed in): purchases in the window are
    /// credited to their latest click.
    pub customer: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Click {
    pub id: String,
    /// Always `affiliate_click`.
    pub object: &'static str,
    pub affiliate: String,
    pub customer: Option<String>,
    /// Purchases until then are credited to this click (last click wins).
    pub attribution_expires_at: i64,
    pub created: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Commission {
    pub id: String,
    /// Always `commission`.
    pub object: &'static str,
    pub affiliate: String,
    pub order: String,
    pub click: String,
    pub currency: String,
    pub amount: i64,
    /// `pending`, `approved`, `paid`, `cancelled`.
    pub status: String,
    /// When it is approved (the order's refund window closes).
    pub approve_at: i64,
    pub payout: Option<String>,
    pub created: i64,
}

/// An affiliate with its clicks and commission totals, read through `conn`.
async fn render_in(conn: &mut sqlx::AnyConnection, livemode: bool, a: AffiliateRow) -> Result<Affiliate> {
    let clicks = store::click_count(&mut *conn, &a.id).await?;
    let mut commissions: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
    for c in store::commissions(&mut *conn, livemode, Some(&a.id), None).await? {
        *commissions.entry(c.status).or_default().entry(c.currency).or_default() += c.amount;
    }
    Ok(Affiliate {
        id: a.id,
        object: "affiliate",
        external_id: a.external_id,
        name: a.name,
        email: a.email,
        status: a.status,
        code: a.code,
        commission_bps: a.commission_bps,
        payout_method: a.payout_method,
        clicks,
        commissions,
        created: secs(a.created_at),
    })
}

async fn render(ctx: &Ctx, livemode: bool, a: AffiliateRow) -> Result<Affiliate> {
    let mut conn = ctx.db.reader().acquire().await?;
    render_in(&mut conn, livemode, a).await
}

/// Records an application (`pending` until reviewed). The answer is stored
/// for the idempotency key in the same transaction.
pub async fn apply(ctx: &Ctx, actor: &Actor, b: AffiliateApply, reply: &Reply) -> Result<Affiliate> {
    let livemode = actor.livemode;
    if b.external_id.trim().is_empty() || b.external_id.len() > 255 {
        return Err(Error::invalid("external_id", "external_id is 1 to 255 characters"));
    }
    if b.name.trim().is_empty() || b.name.chars().count() > 200 {
        return Err(Error::invalid("name", "name is 1 to 200 characters"));
    }
    check_len("email", &b.email, 320)?;
    let code = match b.code {
        Some(c) => {
            let ok = (4..=32).contains(&c.len()) && c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-');
            if !ok {
                return Err(Error::invalid("code", "code is 4 to 32 letters, digits or `-`"));
            }
            c.to_ascii_uppercase()
        }
        None => {
            use rand::distr::{Alphanumeric, SampleString};
            Alphanumeric.sample_string(&mut rand::rng(), 8).to_ascii_uppercase()
        }
    };
    let method = b.payout_method.unwrap_or_else(|| "sandbox".into());
    let details = b.payout_details.unwrap_or_else(|| serde_json::json!({}));
    match method.as_str() {
        "sandbox" if !livemode => {}
        "bank_transfer" => crate::payouts::check_iban(&details)?,
        "stripe_connect" | "paypal" => crate::payouts::check_method(&ctx.providers, &method, &details, livemode)?,
        _ => {
            return Err(Error::invalid(
                "payout_method",
                "payout_method is bank_transfer, stripe_connect or paypal (or sandbox in test mode)",
            ))
        }
    }
    let now = ctx.now_ms();
    let row = AffiliateRow {
        id: new_id(IdKind::Affiliate),
        external_id: b.external_id,
        name: b.name,
        email: b.email,
        status: "pending".into(),
        code,
        commission_bps: ctx.config.affiliate_commission_bps,
        payout_method: method,
        payout_details: details.to_string(),
        created_at: now,
        updated_at: now,
    };
    let mut tx = ctx.db.begin().await?;
    if store::affiliate(&mut *tx, livemode, &row.external_id).await?.is_some() {
        return Err(Error::conflict("affiliate_exists", "this user already applied"));
    }
    if store::affiliate(&mut *tx, livemode, &row.code).await?.is_some() {
        return Err(Error::conflict("code_taken", "this code is taken"));
    }
    store::insert_affiliate(&mut tx, livemode, &row).await?;
    let out = render_in(&mut tx, livemode, row).await?;
    reply.commit(tx, &out).await?;
    Ok(out)
}

/// Every affiliate of the mode, or those of one status.
pub async fn list(ctx: &Ctx, actor: &Actor, status: Option<&str>) -> Result<Vec<Affiliate>> {
    let rows = store::affiliates(ctx.db.reader(), actor.livemode, status).await?;
    let mut data = Vec::new();
    for r in rows {
        data.push(render(ctx, actor.livemode, r).await?);
    }
    Ok(data)
}

/// An affiliate by id, the platform's user id, or code.
pub async fn get(ctx: &Ctx, actor: &Actor, id: &str) -> Result<Affiliate> {
    let a = store::affiliate(ctx.db.reader(), actor.livemode, id)
        .await?
        .ok_or_else(|| Error::not_found("id", "affiliate", id))?;
    render(ctx, actor.livemode, a).await
}

/// Reviews an affiliate: `pending` → `approved` or `rejected`, `approved`
/// ⇄ `suspended`, optionally with a rate of its own.
pub async fn set_status(ctx: &Ctx, actor: &Actor, id: &str, b: AffiliateStatus, reply: &Reply) -> Result<Affiliate> {
    let livemode = actor.livemode;
    let mut tx = ctx.db.begin().await?;
    let mut a =
        store::affiliate(&mut *tx, livemode, id).await?.ok_or_else(|| Error::not_found("id", "affiliate", id))?;
    let allowed = match (a.status.as_str(), b.status.as_str()) {
        ("pending", "approved" | "rejected") => true,
        ("approved", "suspended") | ("suspended", "approved") => true,
        (from, to) => from == to,
    };
    if !allowed {
        return Err(Error::invalid("status", format!("an affiliate {} cannot become {}", a.status, b.status)));
    }
    if let Some(bps) = b.commission_bps {
        if !(0..=10_000).contains(&bps) {
            return Err(Error::invalid("commission_bps", "commission_bps is 0 to 10000"));
        }
        a.commission_bps = bps;
    }
    let now = ctx.now_ms();
    let changed = a.status != b.status;
    a.status = b.status;
    a.updated_at = now;
    store::save_affiliate(&mut tx, &a).await?;
    if changed {
        bursar_store::events::emit(
            &mut tx,
            livemode,
            &format!("affiliate.{}", a.status),
            &a.id,
            &serde_json::json!({"id": a.id, "external_id": a.external_id, "code": a.code}),
            now,
        )
        .await?;
    }
    let out = render_in(&mut tx, livemode, a).await?;
    reply.commit(tx, &out).await?;
    Ok(out)
}

/// The visitor IP's hash: keyed with the configured salt, so it links
/// clicks from one address without storing or exposing the address.
pub fn ip_hash(ctx: &Ctx, ip: &str) -> String {
    static SALT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let salt = SALT.get_or_init(|| {
        ctx.config.click_ip_salt.clone().unwrap_or_else(|| {
            use rand::distr::{Alphanumeric, SampleString};
            Alphanumeric.sample_string(&mut rand::rng(), 32)
        })
    });
    crate::auth::sha256_hex(format!("{salt}:{ip}").as_bytes())
}

/// The approved affiliate of a code (any case), if any.
async fn approved(ctx: &Ctx, livemode: bool, code: &str) -> Result<Option<AffiliateRow>> {
    let code = code.to_ascii_uppercase();
    Ok(store::affiliate(ctx.db.reader(), livemode, &code).await?.filter(|a| a.code == code && a.status == "approved"))
}

/// Records a click the platform reports. The answer is stored for the
/// idempotency key in the same transaction.
pub async fn click(ctx: &Ctx, actor: &Actor, b: ClickCreate, reply: &Reply) -> Result<Click> {
    let livemode = actor.livemode;
    if b.ip.parse::<std::net::IpAddr>().is_err() {
        return Err(Error::invalid("ip", "ip is an IPv4 or IPv6 address"));
    }
    check_len("user_agent", &b.user_agent, 1_000)?;
    check_len("referer", &b.referer, 2_048)?;
    check_len("landing_url", &b.landing_url, 2_048)?;
    let a = approved(ctx, livemode, &b.code)
        .await?
        .ok_or_else(|| Error::not_found("code", "approved affiliate code", &b.code))?;
    let customer = match &b.customer {
        Some(c) => Some(super::carts::live_customer(ctx, livemode, c, "customer").await?),
        None => None,
    };
    let mut tx = ctx.db.begin().await?;
    // A click for a customer on a test clock happens at the clock's time, so
    // attribution windows can be simulated.
    let now = match &customer {
        Some(c) => crate::time::instant_of(&mut *tx, c, ctx.now_ms()).await?,
        None => ctx.now_ms(),
    };
    let row = ClickRow {
        id: new_id(IdKind::AffiliateClick),
        affiliate_id: a.id.clone(),
        ip_hash: ip_hash(ctx, &b.ip),
        user_agent: b.user_agent.unwrap_or_default(),
        referer: b.referer.unwrap_or_default(),
        landing_url: b.landing_url.unwrap_or_default(),
        customer_id: b.customer,
        created_at: now,
    };
    store::insert_click(&mut tx, livemode, &row).await?;
    let out = Click {
        attribution_expires_at: secs(now + ctx.config.affiliate_attribution_days * 86_400_000),
        id: row.id,
        object: "affiliate_click",
        affiliate: a.id,
        customer: row.customer_id,
        created: secs(now),
    };
    reply.commit(tx, &out).await?;
    Ok(out)
}

/// A visit through an affiliate's own link.
pub struct Visit<'a> {
    pub code: &'a str,
    /// The visitor's address, when known (stored only as a keyed hash).
    pub ip: Option<&'a str>,
    pub user_agent: String,
    pub referer: String,
    pub landing_url: String,
}

/// Records the click of a visit through an affiliate link, when the code
/// is an approved affiliate's (at most 64 characters); returns its id.
pub async fn record_visit(ctx: &Ctx, livemode: bool, v: Visit<'_>) -> Result<Option<String>> {
    if v.code.len() > 64 {
        return Ok(None);
    }
    let Some(a) = approved(ctx, livemode, v.code).await? else { return Ok(None) };
    let row = ClickRow {
        id: new_id(IdKind::AffiliateClick),
        affiliate_id: a.id,
        ip_hash: v.ip.map(|ip| ip_hash(ctx, ip)).unwrap_or_default(),
        user_agent: v.user_agent,
        referer: v.referer,
        landing_url: v.landing_url,
        customer_id: None,
        created_at: ctx.now_ms(),
    };
    let mut tx = ctx.db.begin().await?;
    store::insert_click(&mut tx, livemode, &row).await?;
    tx.commit().await?;
    Ok(Some(row.id))
}

/// Commissions of the mode, of one affiliate or status or all.
pub async fn commissions(
    ctx: &Ctx,
    actor: &Actor,
    affiliate: Option<&str>,
    status: Option<&str>,
) -> Result<Vec<Commission>> {
    let rows = store::commissions(ctx.db.reader(), actor.livemode, affiliate, status).await?;
    Ok(rows
        .into_iter()
        .map(|c| Commission {
            id: c.id,
            object: "commission",
            affiliate: c.affiliate_id,
            order: c.order_id,
            click: c.click_id,
            currency: c.currency,
            amount: c.amount,
            status: c.status,
            approve_at: secs(c.approve_at),
            payout: c.payout_id,
            created: secs(c.created_at),
        })
        .collect())
}
