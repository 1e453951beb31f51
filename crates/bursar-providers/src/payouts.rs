//! Payouts: money sent from the platform's balance at a provider to a
//! payee (an instructor, an affiliate).
//!
//! * Stripe Connect: a transfer to the payee's connected account
//!   (`POST /v1/transfers` with `destination=acct_…`). A transfer moves the
//!   money between Stripe balances at once, so a created transfer is paid.
//! * PayPal Payouts: a batch of one item to the payee's PayPal email
//!   (`POST /v1/payments/payouts`). PayPal processes batches
//!   asynchronously: a batch is `PENDING` or `PROCESSING` first, then its item
//!   settles (`SUCCESS`, or `FAILED`, `RETURNED`, `BLOCKED`, …).
//!
//! Sending a payout moves money, so it is never repeated blindly. Bursar's
//! payout id travels with the request in a form the provider deduplicates
//! on: Stripe's `Idempotency-Key` (from [`crate::idempotency_key`]; Stripe
//! keeps keys for at least 24 hours) plus `transfer_group` and
//! `metadata[payout_id]`, by which a transfer can be found again at any
//! time; PayPal's `sender_batch_id`, which PayPal refuses to process twice
//! within 30 days (pointing at the first batch instead), and a
//! `PayPal-Request-Id`.
//!
//! After an unknown outcome ([`ProviderError::outcome_unknown`]) the caller
//! asks [`PayoutConnector::retrieve_payout`] first and sends again only when
//! the answer is [`PayoutStatus::NotFound`]; sending again is then answered
//! with the first attempt's result if there was one.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{Money, ProviderError};

/// One payout to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayoutRequest {
    /// Bursar's payout id (`po_…`): the idempotency key and the reference
    /// the provider keeps (Stripe `transfer_group` and metadata, PayPal
    /// `sender_batch_id` and `sender_item_id`).
    pub payout_id: String,
    /// Positive.
    pub amount: Money,
    /// Where the money goes: a Stripe connected account (`acct_…`) or a
    /// PayPal account's email.
    pub destination: String,
    /// A short text the payee sees (Stripe `description`, PayPal email
    /// subject and note).
    pub description: String,
}

/// What became of a payout at the provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum PayoutStatus {
    /// The provider has no payout under this id (retrieval only). PayPal
    /// cannot be asked by Bursar's id: without the batch id its answer is
    /// always this, and sending again is how the first batch is found.
    NotFound,
    /// Accepted, not settled yet (PayPal `PENDING`, `PROCESSING`, an item
    /// `UNCLAIMED` or `ONHOLD`): ask again later.
    InProgress { provider_ref: String },
    /// The money reached the payee's account.
    Paid {
        /// Stripe `tr_…`, PayPal `payout_batch_id`.
        provider_ref: String,
        amount: Money,
    },
    /// The provider refused or gave up: no money left the platform (or it
    /// came back).
    Failed {
        provider_ref: Option<String>,
        /// The provider's code (`balance_insufficient`, `INSUFFICIENT_FUNDS`,
        /// `DENIED`, `RECEIVER_UNREGISTERED`, …).
        code: String,
        message: String,
    },
}

impl PayoutStatus {
    /// The provider's id of the payout, when it named one.
    pub fn provider_ref(&self) -> Option<&str> {
        match self {
            PayoutStatus::NotFound => None,
            PayoutStatus::InProgress { provider_ref } | PayoutStatus::Paid { provider_ref, .. } => Some(provider_ref),
            PayoutStatus::Failed { provider_ref, .. } => provider_ref.as_deref(),
        }
    }
}

/// A provider that can pay payees. [`crate::Connector::payouts`] gives a
/// connector's.
///
/// Errors follow [`ProviderError`]'s rules: a timeout, a 500 or a connection
/// lost after sending leaves the outcome unknown (recover with
/// [`PayoutConnector::retrieve_payout`]); [`ProviderError::Unavailable`]
/// means nothing was sent or nothing happened. A refusal by the provider is
/// not an error but [`PayoutStatus::Failed`].
#[async_trait]
pub trait PayoutConnector: Send + Sync {
    /// Sends the payout, or answers with the payout already sent under the
    /// same id. Never [`PayoutStatus::NotFound`].
    async fn send_payout(&self, req: &PayoutRequest) -> Result<PayoutStatus, ProviderError>;

    /// Reads a payout by the provider's id when known, else by Bursar's
    /// payout id. Reads only: never sends.
    async fn retrieve_payout(&self, payout_id: &str, provider_ref: Option<&str>)
        -> Result<PayoutStatus, ProviderError>;
}
