//! Hosted checkout's business: the platform creates a session for a plan
//! (`subscription`) or a cart of one-off items (`payment`); the buyer's
//! "Pay" issues the invoice (once) and starts the payment with the provider
//! chosen by routing (the sandbox's own test card in test mode); the
//! provider's answer — from the buyer's return, a webhook or the checks job
//! — settles the payment, and a paid session is fulfilled: the subscription
//! starts, the method the buyer paid with becomes the default, a cart's
//! order is recorded.
//!
//! Every state change is a transaction; provider calls happen between
//! them. A subscription bought through a checkout is `incomplete` until its
//! first payment succeeds and `incomplete_expired` if the session expires
//! unpaid (its invoice is then voided).

mod fulfil;
mod pay;
mod sessions;

pub use fulfil::{expire_due, fulfil, keep_method, payment_settled};
pub use pay::{
    authenticate, complete_approved, pay, provider_return, sandbox_card, sandbox_target, Next, SandboxTarget,
};
pub use sessions::{
    check_url, choose_plan, create, get, public_base, render, return_urls, set_coupon, view, CreditGrantSpec,
    PlanFields, Session, SessionCreate, SessionView,
};

pub use bursar_store::checkout::SessionRow;
