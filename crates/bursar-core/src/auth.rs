//! Credentials: API keys, instructor sessions, staff passwords and
//! sessions, and the hashes every secret is stored as.

use crate::ctx::Ctx;
use crate::error::{Error, Result};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use bursar_store::auth as store;
use rand::distr::{Alphanumeric, SampleString};
use sha2::{Digest, Sha256};

pub use bursar_store::auth::{StaffRow, StaffSession};

/// Hex SHA-256, the form API keys and session tokens are stored in.
pub fn sha256_hex(s: &[u8]) -> String {
    hex::encode(Sha256::digest(s))
}

/// Hashes a staff password with Argon2id and a random salt.
pub fn hash_password(password: &str) -> std::result::Result<String, String> {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>()).map_err(|e| e.to_string())?;
    Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|e| e.to_string())
}

/// Whether `password` matches an Argon2 hash.
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// Who presented an API key: the key and its mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyHolder {
    pub key_id: String,
    pub livemode: bool,
}

/// The holder of a secret API key (`bsk_…`); unknown and revoked keys are
/// refused. Records the key's use (at most once a minute, in the
/// background).
pub async fn api_key(ctx: &Ctx, secret: &str) -> Result<KeyHolder> {
    let hash = sha256_hex(secret.as_bytes());
    let row = store::api_key_by_hash(ctx.db.reader(), &hash).await?;
    let Some(row) = row.filter(|r| r.revoked_at.is_none()) else {
        return Err(Error::unauthenticated("invalid API key provided"));
    };
    let now = ctx.now_ms();
    if row.last_used_at.is_none_or(|t| t < now - 60_000) {
        let db = ctx.db.clone();
        let id = row.id.clone();
        tokio::spawn(async move {
            if let Err(e) = store::touch_api_key(db.writer(), &id, now).await {
                tracing::warn!(error = %e, "could not record API key use");
            }
        });
    }
    Ok(KeyHolder { key_id: row.id, livemode: row.livemode })
}

/// The instructor an instructor session's bearer token (`bis_…`) signs in,
/// with the session's mode; unknown and expired sessions are refused.
pub async fn instructor_session(ctx: &Ctx, token: &str) -> Result<(String, bool)> {
    let hash = sha256_hex(token.as_bytes());
    bursar_store::marketplace::instructor_session(ctx.db.reader(), &hash, ctx.now_ms())
        .await?
        .ok_or_else(|| Error::unauthenticated("invalid or expired instructor session"))
}

/// How long a staff session lasts.
pub const STAFF_SESSION_HOURS: i64 = 12;

/// A random token of 40 letters and digits (session tokens, CSRF tokens).
pub fn random_token() -> String {
    Alphanumeric.sample_string(&mut rand::rng(), 40)
}

/// The staff session a console cookie's token opens, if it is current.
pub async fn staff_session(ctx: &Ctx, token: &str) -> Result<Option<StaffSession>> {
    Ok(store::session(ctx.db.reader(), &sha256_hex(token.as_bytes()), ctx.now_ms()).await?)
}

/// Signs a staff member in: checks the password (Argon2, off the async
/// threads) and opens a session, written to the audit log. Returns the
/// session's token, or `None` for a wrong email or password.
pub async fn staff_sign_in(ctx: &Ctx, email: &str, password: &str) -> Result<Option<String>> {
    let email = email.trim().to_lowercase();
    let Some(staff) = store::staff_by_email(ctx.db.reader(), &email).await? else { return Ok(None) };
    let hash = staff.password_hash.clone();
    let password = password.to_string();
    let ok = tokio::task::spawn_blocking(move || verify_password(&password, &hash)).await.unwrap_or(false);
    if !ok {
        return Ok(None);
    }
    let token = random_token();
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    store::insert_session(
        &mut tx,
        &sha256_hex(token.as_bytes()),
        &staff.id,
        &random_token(),
        now,
        now + STAFF_SESSION_HOURS * 3_600_000,
    )
    .await?;
    bursar_store::events::audit(&mut tx, "staff", &staff.id, "staff.sign_in", None, &serde_json::json!({}), now)
        .await?;
    tx.commit().await?;
    Ok(Some(token))
}

/// Ends the staff session a token opened.
pub async fn staff_sign_out(ctx: &Ctx, token: &str) -> Result<()> {
    let mut tx = ctx.db.begin().await?;
    store::delete_session(&mut tx, &sha256_hex(token.as_bytes())).await?;
    tx.commit().await?;
    Ok(())
}

/// Whether a form's CSRF token is the session's (in constant time).
pub fn csrf_ok(s: &StaffSession, given: &str) -> bool {
    bool::from(subtle::ConstantTimeEq::ct_eq(s.csrf_token.as_bytes(), given.as_bytes()))
}
