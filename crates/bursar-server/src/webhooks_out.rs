//! Outgoing webhooks: events from the outbox delivered to the platform's
//! endpoints.

use crate::state::AppState;

/// One pass of the delivery job.
pub async fn run(_state: &AppState) -> Result<u32, bursar_store::DbError> {
    Ok(0)
}
