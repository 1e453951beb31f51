//! Carts, orders and enrollments; instructor earnings, statements and
//! analytics; affiliates, clicks and commissions; payout runs. Each handler
//! parses, calls one operation of `bursar_core::marketplace` and renders.

mod affiliates;
mod carts;
mod earnings;
mod orders;
mod payouts;
mod shared;

use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(carts::create_cart))
        .routes(routes!(carts::get_cart))
        .routes(routes!(carts::add_cart_item))
        .routes(routes!(carts::remove_cart_item))
        .routes(routes!(carts::set_cart_coupon))
        .routes(routes!(carts::set_cart_subscription, carts::remove_cart_subscription))
        .routes(routes!(carts::checkout_cart))
        .routes(routes!(orders::list_orders))
        .routes(routes!(orders::get_order))
        .routes(routes!(orders::refund_order))
        .routes(routes!(orders::list_enrollments))
        .routes(routes!(orders::complete_enrollment))
        .routes(routes!(earnings::instructor_earnings))
        .routes(routes!(earnings::instructor_statement))
        .routes(routes!(earnings::instructor_analytics))
        .routes(routes!(affiliates::create_affiliate, affiliates::list_affiliates))
        .routes(routes!(affiliates::get_affiliate))
        .routes(routes!(affiliates::set_affiliate_status))
        .routes(routes!(affiliates::create_click))
        .routes(routes!(affiliates::list_commissions))
        .routes(routes!(payouts::run_payouts))
        .routes(routes!(payouts::list_payouts))
        .routes(routes!(payouts::export_payouts))
        .routes(routes!(payouts::confirm_payout))
        .routes(routes!(payouts::fail_payout))
}
