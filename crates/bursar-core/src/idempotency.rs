//! Idempotency keys, as the service layer sees them: a request that sent a
//! key hands every write operation a [`Reply`], and the operation stores its
//! answer for the key inside its own business transaction, just before the
//! commit — so "the change committed" and "its answer was stored" are one
//! fact, and a retry after a crash replays the answer instead of repeating
//! the change. Claiming a key, replaying it and releasing it after a failure
//! are [`claim`], [`release`] and [`prune`].

use crate::ctx::Ctx;
use crate::error::{Error, Result};
use bursar_store::{idempotency as store, Tx};
use serde::Serialize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

pub use bursar_store::idempotency::Claim;

/// A key claimed by the current request.
#[derive(Clone, Debug)]
pub struct Claimed {
    pub livemode: bool,
    pub key: String,
    /// The answer's status, as the interface that claimed the key reports it
    /// (the API: an HTTP status code); stored with the answer and replayed.
    pub status: u16,
    completed: Arc<AtomicBool>,
}

impl Claimed {
    pub fn new(livemode: bool, key: String, status: u16) -> Claimed {
        Claimed { livemode, key, status, completed: Arc::default() }
    }

    /// The same claim, answered with `status`.
    pub fn with_status(&self, status: u16) -> Claimed {
        Claimed { status, ..self.clone() }
    }

    /// Whether an operation stored the answer.
    pub fn completed(&self) -> bool {
        self.completed.load(Ordering::SeqCst)
    }
}

/// Where a write operation records its answer: nowhere (no key was sent),
/// or a claimed idempotency key.
#[derive(Clone, Debug, Default)]
pub struct Reply {
    claim: Option<Claimed>,
}

impl Reply {
    /// No key: the answer is not stored.
    pub fn none() -> Reply {
        Reply { claim: None }
    }

    pub fn to(claim: Option<Claimed>) -> Reply {
        Reply { claim }
    }

    /// Stores `out` (as JSON) for the key in the business transaction, then
    /// commits it.
    pub async fn commit<T: Serialize>(&self, mut tx: Tx, out: &T) -> Result<()> {
        self.record(&mut tx, out).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Stores `out` for the key in the transaction without committing (for
    /// an operation that commits itself).
    pub async fn record<T: Serialize>(&self, tx: &mut Tx, out: &T) -> Result<()> {
        let Some(c) = &self.claim else { return Ok(()) };
        let text = serde_json::to_string(out).map_err(|e| Error::internal_from("response serialization", e))?;
        store::complete(tx, c.livemode, &c.key, c.status, &text).await?;
        c.completed.store(true, Ordering::SeqCst);
        Ok(())
    }

    /// Replaces the stored answer after a step that happens after the
    /// business commit (a provider charge): a retry then sees the newer
    /// state. Best effort: if this is lost, the retry replays the answer
    /// the business transaction stored, which was true when it committed.
    pub async fn refresh<T: Serialize>(&self, ctx: &Ctx, out: &T) {
        let Some(c) = &self.claim else { return };
        let Ok(text) = serde_json::to_string(out) else { return };
        let stored = async {
            let mut tx = ctx.db.begin().await?;
            store::complete(&mut tx, c.livemode, &c.key, c.status, &text).await?;
            tx.commit().await?;
            Ok::<_, bursar_store::DbError>(())
        }
        .await;
        if let Err(e) = stored {
            tracing::warn!(error = %e, "could not refresh an idempotent answer");
        }
    }
}

impl Reply {
    /// Forgets the stored answer after a step after the business commit
    /// failed in a way the caller is told about (a provider declined the
    /// charge): a retry with the key runs the operation again, as after
    /// any refused request. Best effort.
    pub async fn forget(&self, ctx: &Ctx) {
        let Some(c) = &self.claim else { return };
        if let Err(e) = store::forget(&ctx.db, c.livemode, &c.key).await {
            tracing::warn!(error = %e, "could not forget an idempotent answer");
        }
    }
}

/// What a request asks to claim.
pub struct ClaimRequest<'a> {
    pub livemode: bool,
    pub key: &'a str,
    /// A digest of everything that makes the request what it is.
    pub fingerprint: &'a str,
    pub method: &'a str,
    pub path: &'a str,
}

/// Claims a key (in its own short transaction, so a concurrent request with
/// the same key sees it).
pub async fn claim(ctx: &Ctx, r: &ClaimRequest<'_>) -> Result<Claim> {
    Ok(store::claim(
        &ctx.db,
        &store::ClaimRequest {
            livemode: r.livemode,
            key: r.key,
            fingerprint: r.fingerprint,
            method: r.method,
            path: r.path,
            now: ctx.now_ms(),
            lease_ms: i64::try_from(ctx.config.idempotency_lease_secs).unwrap_or(60).saturating_mul(1000),
        },
    )
    .await?)
}

/// Gives a claimed key back after the request failed (nothing was committed).
pub async fn release(ctx: &Ctx, livemode: bool, key: &str) -> Result<()> {
    Ok(store::release(&ctx.db, livemode, key).await?)
}

/// Forgets keys older than the retention.
pub async fn prune(ctx: &Ctx) -> Result<u64> {
    let keep = i64::try_from(ctx.config.idempotency_retention_hours).unwrap_or(24).saturating_mul(3_600_000);
    Ok(store::prune(&ctx.db, ctx.now_ms() - keep).await?)
}
