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

/// What a sign-in attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignIn {
    /// Signed in: the new session's token.
    Opened(String),
    /// Wrong email or password (which of the two is not said).
    Refused,
    /// Too many failures for this account or address: try again after
    /// this many seconds. No password was checked.
    Locked { retry_after_secs: i64 },
}

/// A hash of no one's password, verified when the email is unknown so that
/// an unknown email takes as long to refuse as a wrong password.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password(&random_token()).unwrap_or_default())
}

/// Signs a staff member in from a network `address`: refused at once while
/// the account or the address is locked by earlier failures
/// ([`bursar_domain::throttle`]); otherwise the password is checked (Argon2,
/// off the async threads; against a decoy hash for an unknown email). A
/// failure is counted for both and audited (`staff.sign_in_failed`); a
/// success clears the account's count and opens a session, audited too.
pub async fn staff_sign_in(ctx: &Ctx, email: &str, password: &str, address: &str) -> Result<SignIn> {
    use bursar_domain::throttle::{State, ACCOUNT, ADDRESS};
    let email = email.trim().to_lowercase();
    let subjects = [(format!("account:{email}"), ACCOUNT), (format!("address:{address}"), ADDRESS)];
    let now = ctx.now_ms();
    let load = |row: Option<(i64, i64, i64)>| {
        row.map_or_else(State::default, |(f, w, l)| State {
            failures: u32::try_from(f).unwrap_or(u32::MAX),
            window_start: w,
            locked_until: l,
        })
    };
    let mut tx = ctx.db.begin().await?;
    let mut wait = None;
    for (subject, _) in &subjects {
        if let Some(ms) = load(store::throttle(&mut tx, subject, "").await?).retry_after(now) {
            wait = wait.max(Some(ms));
        }
    }
    drop(tx);
    let audit_failure =
        |reason: &'static str| serde_json::json!({"email": email, "address": address, "reason": reason});
    if let Some(ms) = wait {
        let mut tx = ctx.db.begin().await?;
        bursar_store::events::audit(
            &mut tx,
            "address",
            address,
            "staff.sign_in_failed",
            None,
            &audit_failure("locked"),
            now,
        )
        .await?;
        tx.commit().await?;
        return Ok(SignIn::Locked { retry_after_secs: (ms + 999) / 1000 });
    }
    let staff = store::staff_by_email(ctx.db.reader(), &email).await?;
    let hash = staff.as_ref().map_or_else(|| decoy_hash().to_string(), |s| s.password_hash.clone());
    let given = password.to_string();
    let matched = tokio::task::spawn_blocking(move || verify_password(&given, &hash)).await.unwrap_or(false);
    let mut tx = ctx.db.begin().await?;
    let Some(staff) = staff.filter(|_| matched) else {
        for (subject, policy) in &subjects {
            let state = load(store::throttle(&mut tx, subject, ctx.db.for_update()).await?).after_failure(now, policy);
            let failures = i64::from(state.failures);
            store::set_throttle(&mut tx, subject, failures, state.window_start, state.locked_until).await?;
        }
        bursar_store::events::audit(
            &mut tx,
            "address",
            address,
            "staff.sign_in_failed",
            None,
            &audit_failure("wrong"),
            now,
        )
        .await?;
        tx.commit().await?;
        return Ok(SignIn::Refused);
    };
    store::clear_throttle(&mut tx, &subjects[0].0).await?;
    let token = random_token();
    store::insert_session(
        &mut tx,
        &sha256_hex(token.as_bytes()),
        &staff.id,
        &random_token(),
        now,
        now + STAFF_SESSION_HOURS * 3_600_000,
    )
    .await?;
    bursar_store::events::audit(
        &mut tx,
        "staff",
        &staff.id,
        "staff.sign_in",
        None,
        &serde_json::json!({"address": address}),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(SignIn::Opened(token))
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
