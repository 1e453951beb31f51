//! Purchases that cross areas: a cart's checkout (a hosted checkout
//! session of the marketplace's cart) and an order's refund (a credit note,
//! the claw-back of the split, the provider's refund). They sit above
//! `marketplace`, `sessions`, `refunds` and `settlement`, which call back
//! into the marketplace's money (recording an order, clawing back a split)
//! and so must not be called from it.

pub mod cart_checkout;
pub mod order_refunds;
