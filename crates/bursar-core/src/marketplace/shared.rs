//! What the marketplace's operations share.

use crate::actor::Actor;
use crate::error::Error;

/// Logs an unexpected failure and returns an internal error.
pub(super) fn internal<E: std::fmt::Display>(e: E) -> Error {
    tracing::error!(error = %e, "marketplace");
    Error::internal()
}

/// The instructor an actor is, when it is one: an instructor acting for
/// themselves reaches only what is theirs.
pub(super) fn instructor_of(actor: &Actor) -> Option<&str> {
    (actor.kind == "instructor").then_some(actor.id.as_str())
}
