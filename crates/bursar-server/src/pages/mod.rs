//! The hosted pages learners and visitors see: pricing, checkout, the
//! billing portal, course pages with their cart, and affiliate links.

pub mod affiliate_links;
pub mod cart;
pub mod checkout;
pub mod courses;
pub mod dashboard;
pub mod portal;
pub mod pricing;

use crate::state::AppState;
use axum::Router;

/// Every hosted page's routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(checkout::router())
        .merge(affiliate_links::router())
        .merge(pricing::router())
        .merge(portal::router())
        .merge(courses::router())
        .merge(cart::router())
        .merge(dashboard::router())
}
