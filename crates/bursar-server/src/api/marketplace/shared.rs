//! What the marketplace's handlers share: who acts, and downloads.

use crate::extract::Caller;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use bursar_core::marketplace::earnings::Download;

/// The platform's key acting.
pub(super) fn actor(c: &Caller) -> bursar_core::Actor {
    bursar_core::Actor::api_key(c.livemode, &c.key_id)
}

/// The platform or one instructor acting (an instructor reaches only what
/// is theirs).
pub(super) fn market_actor(a: &crate::extract::Actor) -> bursar_core::Actor {
    match a {
        crate::extract::Actor::Platform { livemode } => {
            bursar_core::Actor { livemode: *livemode, kind: "api_key", id: String::new() }
        }
        crate::extract::Actor::Instructor { livemode, id } => {
            bursar_core::Actor { livemode: *livemode, kind: "instructor", id: id.clone() }
        }
    }
}

/// A document as a download.
pub(super) fn download(d: Download) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, d.content_type.to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{}\"", d.name)),
        ],
        d.body,
    )
        .into_response()
}
