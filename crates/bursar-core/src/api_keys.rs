//! Secret API keys. The secret is shown once, at creation; only its SHA-256
//! is stored.

use crate::actor::Actor;
use crate::auth::sha256_hex;
use crate::common::{check_len, secs, List, Page};
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::idempotency::Reply;
use bursar_domain::id::{is_valid, new_id, IdKind};
use bursar_store::auth::{self, ApiKeyRow};
use bursar_store::{events, Tx};
use rand::distr::{Alphanumeric, SampleString};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyCreate {
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKey {
    pub id: String,
    /// Always `api_key`.
    pub object: &'static str,
    pub livemode: bool,
    pub name: String,
    /// The secret; only present in the response that created the key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// The key with its middle hidden, for display.
    pub redacted: String,
    pub created: i64,
    pub last_used: Option<i64>,
    pub revoked: Option<i64>,
}

fn render(r: ApiKeyRow, secret: Option<String>) -> ApiKey {
    ApiKey {
        id: r.id,
        object: "api_key",
        livemode: r.livemode,
        name: r.name,
        secret,
        redacted: r.redacted,
        created: secs(r.created_at),
        last_used: r.last_used_at.map(secs),
        revoked: r.revoked_at.map(secs),
    }
}

/// Generates a key of the given mode and writes its hash.
pub async fn issue_key(
    tx: &mut Tx,
    livemode: bool,
    name: &str,
    now: i64,
) -> Result<(ApiKeyRow, String), bursar_store::DbError> {
    let secret =
        format!("bsk_{}_{}", if livemode { "live" } else { "test" }, Alphanumeric.sample_string(&mut rand::rng(), 32));
    let row = ApiKeyRow {
        id: new_id(IdKind::ApiKey),
        livemode,
        name: name.to_string(),
        key_hash: sha256_hex(secret.as_bytes()),
        redacted: format!("{}…{}", &secret[..13], &secret[secret.len() - 4..]),
        created_at: now,
        last_used_at: None,
        revoked_at: None,
    };
    auth::insert_api_key(tx, &row).await?;
    Ok((row, secret))
}

/// Creates a key in the actor's mode; the answer holds its secret, once.
pub async fn create(ctx: &Ctx, actor: &Actor, body: ApiKeyCreate, reply: &Reply) -> Result<ApiKey> {
    let name = body.name.trim().to_string();
    if name.is_empty() {
        return Err(Error::missing("name"));
    }
    check_len("name", &Some(name.clone()), 100)?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let (row, secret) = issue_key(&mut tx, actor.livemode, &name, now).await?;
    events::audit(
        &mut tx,
        actor.kind,
        &actor.id,
        "api_key.create",
        Some(&row.id),
        &serde_json::json!({"name": name}),
        now,
    )
    .await?;
    let out = render(row, Some(secret));
    reply.commit(tx, &out).await?;
    Ok(out)
}

pub async fn list(ctx: &Ctx, actor: &Actor, page: &Page) -> Result<List<ApiKey>> {
    let rows =
        auth::list_api_keys(ctx.db.reader(), actor.livemode, page.starting_after.as_deref(), page.limit + 1).await?;
    Ok(List::from_rows(rows, page.limit).map(|r| render(r, None)))
}

async fn load(ctx: &Ctx, actor: &Actor, id: &str) -> Result<ApiKeyRow> {
    if !is_valid(IdKind::ApiKey, id) {
        return Err(Error::not_found("id", "api key", id));
    }
    auth::api_key(ctx.db.reader(), actor.livemode, id).await?.ok_or_else(|| Error::not_found("id", "api key", id))
}

pub async fn get(ctx: &Ctx, actor: &Actor, id: &str) -> Result<ApiKey> {
    Ok(render(load(ctx, actor, id).await?, None))
}

/// Revokes a key: it stops authenticating at once.
pub async fn revoke(ctx: &Ctx, actor: &Actor, id: &str, reply: &Reply) -> Result<ApiKey> {
    load(ctx, actor, id).await?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    auth::revoke_api_key(&mut tx, id, now).await?;
    events::audit(&mut tx, actor.kind, &actor.id, "api_key.revoke", Some(id), &serde_json::json!({}), now).await?;
    let row =
        auth::api_key(&mut *tx, actor.livemode, id).await?.ok_or_else(|| Error::not_found("id", "api key", id))?;
    let out = render(row, None);
    reply.commit(tx, &out).await?;
    Ok(out)
}
