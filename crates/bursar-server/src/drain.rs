//! The end of the shutdown grace period. Requests still running then are
//! stopped before the server returns (and the database pool closes), so none
//! fails half-way on a closed pool: the work is dropped (an open transaction
//! rolls back), the idempotency key it claimed is released (an answer stored
//! with a commit stays, and a retry replays it), and it answers `503
//! shutting_down` with `Connection: close`.

use crate::error::{ApiError, ErrorType};
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// The idempotency key a request claimed, if any (set by the idempotency
/// middleware), so it can be released when the request is stopped.
#[derive(Clone, Default)]
pub struct ClaimSlot(Arc<Mutex<Option<(bool, String)>>>);

impl ClaimSlot {
    pub fn set(&self, livemode: bool, key: String) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some((livemode, key));
        }
    }

    fn take(&self) -> Option<(bool, String)> {
        self.0.lock().ok().and_then(|mut slot| slot.take())
    }
}

/// What the layer shares with the server: whether the grace period is over,
/// and how many requests are running.
#[derive(Clone)]
pub struct Drain {
    state: AppState,
    over: watch::Receiver<bool>,
    running: Arc<watch::Sender<usize>>,
}

impl Drain {
    pub fn new(state: AppState, over: watch::Receiver<bool>) -> Drain {
        Drain { state, over, running: Arc::new(watch::channel(0).0) }
    }

    /// Waits until no request is running.
    pub async fn idle(&self) {
        let mut running = self.running.subscribe();
        let _ = running.wait_for(|n| *n == 0).await;
    }
}

/// Counts a request as running until dropped.
struct Running(Arc<watch::Sender<usize>>);

impl Running {
    fn start(counter: &Arc<watch::Sender<usize>>) -> Running {
        counter.send_modify(|n| *n += 1);
        Running(counter.clone())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// Runs a request until it answers or the grace period ends.
pub async fn cut_off(State(d): State<Drain>, mut req: Request, next: Next) -> Response {
    let _running = Running::start(&d.running);
    let slot = ClaimSlot::default();
    req.extensions_mut().insert(slot.clone());
    let mut over = d.over.clone();
    // Never fires if the server ended without a grace period running out.
    let ended = async move { over.wait_for(|v| *v).await.is_ok() };
    tokio::select! {
        resp = next.run(req) => resp,
        true = ended => {
            if let Some((livemode, key)) = slot.take() {
                if let Err(e) = bursar_core::idempotency::release(&d.state, livemode, &key).await {
                    tracing::error!(error = %e, "could not release the idempotency key of a stopped request");
                }
            }
            tracing::warn!("request stopped at the end of the shutdown grace period");
            let mut resp = ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorType::ApiError,
                "shutting_down",
                "the server shut down before this request finished; nothing was changed, retry",
            )
            .into_response();
            resp.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
            resp
        }
    }
}
