//! Hosted dashboards the platform opens for a signed-in learner or
//! instructor, like the billing portal: the platform asks for a session and
//! sends the person to its one-time link; opening the link exchanges it for
//! a session cookie holding a different secret, so a link seen in history,
//! logs or a Referer cannot be replayed.

use crate::actor::Actor;
use crate::auth::sha256_hex;
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::idempotency::Reply;
use bursar_store::learning::sessions::{self as store, DashboardSessionRow};
use rand::distr::{Alphanumeric, SampleString};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// How long the link may wait to be opened.
pub const LINK_MINUTES: i64 = 60;
/// How long a dashboard stays open once the link was used.
pub const SESSION_HOURS: i64 = 8;

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DashboardSessionCreate {
    /// A learner's dashboard: the platform's user id.
    pub learner: Option<String>,
    /// An instructor's dashboard: `ins_…` or the platform's id of the instructor.
    pub instructor: Option<String>,
    /// The exam a learner's dashboard opens on (default: their latest).
    pub exam: Option<String>,
    /// Where the page's "back" link leads (an http(s) URL).
    pub return_url: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DashboardSession {
    /// Always `dashboard_session`.
    pub object: &'static str,
    pub livemode: bool,
    /// `learner` or `instructor`.
    pub kind: String,
    pub learner: Option<String>,
    pub instructor: Option<String>,
    /// The one-time link to send the person to.
    pub url: String,
    /// Unix seconds: the link is refused after this.
    pub expires_at: i64,
}

/// Who a dashboard session is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Viewer {
    pub livemode: bool,
    /// `learner` or `instructor`.
    pub kind: String,
    pub subject: String,
    pub exam: Option<String>,
    pub return_url: Option<String>,
}

fn viewer(r: &DashboardSessionRow) -> Viewer {
    Viewer {
        livemode: r.livemode,
        kind: r.kind.clone(),
        subject: r.subject.clone(),
        exam: r.exam.clone(),
        return_url: r.return_url.clone(),
    }
}

fn secret() -> String {
    Alphanumeric.sample_string(&mut rand::rng(), 40)
}

/// Opens a dashboard session; its link is in the answer (once).
pub async fn create(ctx: &Ctx, actor: &Actor, body: DashboardSessionCreate, reply: &Reply) -> Result<DashboardSession> {
    let (kind, subject) = match (&body.learner, &body.instructor) {
        (Some(l), None) => {
            if l.is_empty() || l.chars().count() > 200 || l.chars().any(char::is_control) {
                return Err(Error::invalid("learner", "a learner id is 1 to 200 characters"));
            }
            if bursar_store::learning::attempts::learner(ctx.db.reader(), actor.livemode, l).await?.is_none() {
                return Err(Error::not_found("learner", "learner", l));
            }
            ("learner", l.clone())
        }
        (None, Some(i)) => {
            let row = bursar_store::marketplace::instructor(ctx.db.reader(), actor.livemode, i)
                .await?
                .ok_or_else(|| Error::not_found("instructor", "instructor", i))?;
            ("instructor", row.id)
        }
        _ => return Err(Error::invalid("learner", "give either `learner` or `instructor`")),
    };
    if let Some(u) = &body.return_url {
        crate::sessions::check_url("return_url", u)?;
    }
    if body.exam.as_ref().is_some_and(|e| e.is_empty() || e.chars().count() > 200) {
        return Err(Error::invalid("exam", "an exam is 1 to 200 characters"));
    }
    let now = ctx.now_ms();
    let token = secret();
    let row = DashboardSessionRow {
        token_hash: sha256_hex(token.as_bytes()),
        livemode: actor.livemode,
        link: true,
        used_at: None,
        kind: kind.into(),
        subject: subject.clone(),
        exam: body.exam.clone(),
        return_url: body.return_url.clone(),
        expires_at: now + LINK_MINUTES * 60_000,
        created_at: now,
    };
    let mut tx = ctx.db.begin().await?;
    store::insert(&mut *tx, &row).await?;
    let out = DashboardSession {
        object: "dashboard_session",
        livemode: actor.livemode,
        kind: kind.into(),
        learner: (kind == "learner").then(|| subject.clone()),
        instructor: (kind == "instructor").then(|| subject.clone()),
        url: format!("{}/dashboard/open/{token}", crate::sessions::public_base(ctx)),
        expires_at: row.expires_at / 1000,
    };
    reply.commit(tx, &out).await?;
    Ok(out)
}

/// Exchanges a one-time link for a session: returns the cookie's secret and
/// who it is for. A link opened before, expired or unknown is refused.
pub async fn open_link(ctx: &Ctx, token: &str) -> Result<(String, Viewer)> {
    let now = ctx.now_ms();
    let hash = sha256_hex(token.as_bytes());
    let refused = || Error::forbidden("dashboard_link_invalid", "this link has expired or was already used");
    let link = store::get(ctx.db.reader(), &hash, now).await?.filter(|s| s.link).ok_or_else(refused)?;
    let mut tx = ctx.db.begin().await?;
    if !store::use_link(&mut tx, &hash, now).await? {
        return Err(refused());
    }
    let cookie = secret();
    let session = DashboardSessionRow {
        token_hash: sha256_hex(cookie.as_bytes()),
        link: false,
        used_at: None,
        expires_at: now + SESSION_HOURS * 3_600_000,
        created_at: now,
        ..link.clone()
    };
    store::insert(&mut *tx, &session).await?;
    tx.commit().await?;
    Ok((cookie, viewer(&link)))
}

/// The viewer of a session cookie, if it is a live session.
pub async fn current(ctx: &Ctx, cookie: &str) -> Result<Option<Viewer>> {
    let row = store::get(ctx.db.reader(), &sha256_hex(cookie.as_bytes()), ctx.now_ms()).await?;
    Ok(row.filter(|r| !r.link).as_ref().map(viewer))
}
