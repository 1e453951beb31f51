//! The HTTP application: routes, layers, and a server with graceful
//! shutdown.

use crate::error::{ApiError, ErrorType};
use crate::state::AppState;
use crate::{api, middleware as mw, telemetry};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::middleware::{from_fn, from_fn_with_state, map_response};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::future::IntoFuture;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;
use utoipa::openapi::OpenApi;

/// The OpenAPI document of every documented route.
pub fn openapi() -> OpenApi {
    let (_, mut doc) = api::v1_router().split_for_parts();
    doc.merge(api::health::router().split_for_parts().1);
    api::document_refusals(&mut doc);
    doc
}

/// The router and the OpenAPI document generated from the same routes.
pub fn build_router(state: AppState) -> (Router, OpenApi) {
    // Install the recorder before the first request is counted.
    telemetry::prometheus();
    let (v1, mut doc) = api::v1_router().split_for_parts();
    let limits = crate::limits::Limits::new(&state.config);
    let v1 = v1
        .layer(from_fn_with_state(state.clone(), mw::idempotency))
        .layer(from_fn_with_state(limits.clone(), crate::limits::per_key))
        .layer(from_fn_with_state(state.clone(), mw::authenticate))
        .layer(from_fn_with_state(state.clone(), mw::buffer_body));
    let (health, health_doc) = api::health::router().split_for_parts();
    doc.merge(health_doc);
    api::document_refusals(&mut doc);
    let doc_json: Arc<String> = Arc::new(doc.to_json().expect("the OpenAPI document serializes"));
    let timeout = Duration::from_secs(state.config.request_timeout_secs);
    let router = Router::new()
        .route(
            "/v1/openapi.json",
            get(move || {
                let d = doc_json.clone();
                async move { ([(header::CONTENT_TYPE, "application/json")], d.as_str().to_owned()) }
            }),
        )
        .route("/metrics", get(metrics))
        .merge(v1)
        .merge(health)
        .merge(crate::console::router())
        .merge(crate::webhooks::router())
        .merge(crate::pages::router())
        .fallback(not_found)
        .layer(from_fn_with_state(state.clone(), mw::refuse_nul))
        .layer(from_fn_with_state(limits, crate::limits::per_address))
        .layer(map_response(envelope_bare_errors))
        .layer(from_fn(mw::track_metrics))
        .layer(TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, timeout))
        .layer(CatchPanicLayer::custom(|_| ApiError::internal().into_response()))
        .with_state(state);
    (router, doc)
}

async fn metrics(State(state): State<AppState>) -> Response {
    let h = telemetry::prometheus();
    let (size, idle) = (state.db.writer().size(), state.db.writer().num_idle());
    metrics::gauge!("bursar_db_pool_connections").set(f64::from(size));
    metrics::gauge!("bursar_db_pool_idle_connections").set(idle as f64);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], h.render()).into_response()
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, ErrorType::InvalidRequestError, "route_not_found", "no such route")
}

/// Rejections produced by the framework itself (method not allowed, timeout)
/// get the JSON envelope too.
async fn envelope_bare_errors(resp: Response) -> Response {
    let s = resp.status();
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.starts_with("text/html"));
    if (s.is_client_error() || s.is_server_error()) && !is_json {
        let (code, msg) = match s {
            StatusCode::METHOD_NOT_ALLOWED => ("method_not_allowed", "this route does not accept this method"),
            StatusCode::SERVICE_UNAVAILABLE => {
                ("request_timeout", "the request took too long; retry with the same Idempotency-Key")
            }
            StatusCode::PAYLOAD_TOO_LARGE => ("body_too_large", "the request body is larger than the configured limit"),
            _ => ("request_invalid", "the request could not be processed"),
        };
        let t = if s.is_server_error() { ErrorType::ApiError } else { ErrorType::InvalidRequestError };
        let mut out = ApiError::new(s, t, code, msg).into_response();
        for (k, v) in resp.headers() {
            if k == header::ALLOW || k == header::RETRY_AFTER {
                out.headers_mut().insert(k.clone(), v.clone());
            }
        }
        return out;
    }
    resp
}

/// A running server: its address and a way to stop it gracefully.
pub struct ServerHandle {
    pub addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl ServerHandle {
    /// Stops accepting connections and waits for in-flight requests.
    pub async fn shutdown(self) -> std::io::Result<()> {
        let _ = self.shutdown.send(true);
        self.task.await.map_err(std::io::Error::other)?
    }

    /// Waits until the server stops (after a signal).
    pub async fn wait(self) -> std::io::Result<()> {
        self.task.await.map_err(std::io::Error::other)?
    }
}

/// Binds and serves in the background. On Ctrl-C or SIGTERM (when
/// `handle_signals`) or [`ServerHandle::shutdown`], stops accepting and
/// gives in-flight requests the configured grace period.
pub async fn serve(state: AppState, listener: TcpListener, handle_signals: bool) -> std::io::Result<ServerHandle> {
    let addr = listener.local_addr()?;
    let grace = Duration::from_secs(state.config.shutdown_grace_secs);
    let (router, _) = build_router(state.clone());
    let (over_tx, over_rx) = watch::channel(false);
    let drain = crate::drain::Drain::new(state.clone(), over_rx);
    let router = router.layer(from_fn_with_state(drain.clone(), crate::drain::cut_off));
    let (tx, mut rx) = watch::channel(false);
    let (draining_tx, mut draining_rx) = watch::channel(false);
    let jobs = if state.config.background_jobs {
        crate::jobs::spawn(state.clone(), tx.subscribe())
    } else {
        tokio::spawn(async {})
    };
    let task = tokio::spawn(async move {
        let signal = async move {
            tokio::select! {
                _ = rx.wait_for(|v| *v) => {},
                _ = os_signal(handle_signals) => {},
            }
            tracing::info!("shutting down: no new connections, finishing in-flight requests");
            let _ = draining_tx.send(true);
        };
        let server = axum::serve(listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>())
            .with_graceful_shutdown(signal);
        let deadline = async move {
            let _ = draining_rx.wait_for(|v| *v).await;
            tokio::time::sleep(grace).await;
        };
        let res = tokio::select! {
            r = server.into_future() => r,
            _ = deadline => {
                tracing::warn!("shutdown grace period over; stopping the requests still running");
                // Each stopped request releases its key before the server
                // returns and the pool closes; bounded, in case the database
                // does not answer.
                let _ = over_tx.send(true);
                let _ = tokio::time::timeout(Duration::from_secs(5), drain.idle()).await;
                Ok(())
            }
        };
        jobs.abort();
        res
    });
    tracing::info!(%addr, database = state.db.backend().name(), "bursar listening");
    Ok(ServerHandle { addr, shutdown: tx, task })
}

async fn os_signal(enabled: bool) {
    if !enabled {
        std::future::pending::<()>().await;
    }
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
