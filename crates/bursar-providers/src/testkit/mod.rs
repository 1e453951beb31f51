//! Local HTTP doubles of the providers, for tests and benchmarks. Each one
//! validates the requests it gets the way the provider does and answers
//! with the documented shapes, and lets a test steer outcomes (declines,
//! outages, delays) and send signed webhooks.

use std::net::SocketAddr;

pub mod alipay;
pub mod mercadopago;
pub mod paypal;
pub mod razorpay;
pub mod stripe;

/// Serves `router` on an ephemeral loopback port until the runtime ends;
/// returns the base URL (`http://127.0.0.1:PORT`).
pub async fn serve(router: axum::Router) -> String {
    let listener =
        tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await.expect("bind a loopback port");
    let addr = listener.local_addr().expect("local address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{addr}")
}
