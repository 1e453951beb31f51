//! Stripe Connect payouts: transfers from the platform's balance to a
//! connected account.
//!
//! * `POST /v1/transfers` with `amount` (Stripe's unit, see
//!   [`super::to_stripe_amount`]), `currency`, `destination=acct_…`,
//!   `transfer_group` and `metadata[payout_id]` (both Bursar's payout id),
//!   `description`, and the `Idempotency-Key` `bursar-{payout_id}-transfer`.
//! * A transfer is created whole or not at all: its existence means paid.
//! * Refusals are answered with Stripe's error object and are a
//!   [`PayoutStatus::Failed`] with Stripe's code: `balance_insufficient` (the
//!   platform's available balance is too low), `resource_missing` (no such
//!   destination), `insufficient_capabilities_for_transfer`, … An
//!   `idempotency_error` (the key was used with other parameters) means an
//!   earlier request under this payout id exists: the outcome is unknown,
//!   never a failure.
//! * Recovery reads `GET /v1/transfers/{id}`, or without the id lists
//!   `GET /v1/transfers?transfer_group=po_…`, which finds the transfer
//!   whatever its age (idempotency keys expire after 24 hours).

use async_trait::async_trait;
use serde_json::Value;

use super::{
    from_stripe_amount, protocol, segment, str_at, to_stripe_amount, ErrorBody, Failure, Form, StripeConnector,
    PROVIDER,
};
use crate::payouts::{PayoutConnector, PayoutRequest, PayoutStatus};
use crate::{idempotency_key, server_error, transport_error, Effect, ProviderError};

/// The transfer object as a payout status.
fn transfer_status(transfer: &Value, payout_id: &str) -> Result<PayoutStatus, ProviderError> {
    let id = str_at(transfer, "id").ok_or_else(|| protocol("transfer without `id`"))?.to_string();
    let amount = transfer
        .get("amount")
        .and_then(Value::as_i64)
        .zip(str_at(transfer, "currency"))
        .and_then(|(a, c)| from_stripe_amount(a, c))
        .ok_or_else(|| protocol(format!("transfer {id} without a readable amount")))?;
    let ours = transfer.get("metadata").and_then(|m| m.get("payout_id")).and_then(Value::as_str);
    if ours.is_some_and(|o| o != payout_id) {
        return Err(protocol(format!("transfer {id} belongs to payout {}", ours.unwrap_or_default())));
    }
    Ok(PayoutStatus::Paid { provider_ref: id, amount })
}

impl StripeConnector {
    /// `POST /v1/transfers`. Like [`StripeConnector::post`], but a refusal
    /// comes back as Stripe's error object so that its type and code decide.
    async fn post_transfer(&self, form: &Form, key: String) -> Result<Result<Value, (u16, super::ApiError)>, Failure> {
        let req = self
            .client
            .post(self.url("/v1/transfers"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("Idempotency-Key", key)
            .header("Authorization", format!("Bearer {}", self.config.secret_key))
            .header("Stripe-Version", &self.config.api_version)
            .body(form.encode());
        let resp = req.send().await.map_err(|e| transport_error(PROVIDER, &e, Effect::Acts))?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.map_err(|e| transport_error(PROVIDER, &e, Effect::Acts))?;
        if (200..300).contains(&status) {
            return serde_json::from_slice(&bytes)
                .map(Ok)
                .map_err(|e| protocol(format!("{status} body is not JSON: {e}")).into());
        }
        let error = serde_json::from_slice::<ErrorBody>(&bytes).map(|b| b.error);
        match status {
            401 | 403 => Err(ProviderError::Auth { provider: PROVIDER }.into()),
            // The same key is still being processed: the first attempt may
            // still create the transfer.
            409 => Err(ProviderError::Timeout { provider: PROVIDER }.into()),
            429 | 500..=599 => {
                let detail = match &error {
                    Ok(e) => format!("{status}: {}", e.describe()),
                    Err(_) => format!("HTTP {status}"),
                };
                Err(server_error(PROVIDER, status, detail, Effect::Acts).into())
            }
            _ => {
                let error = error.map_err(|e| protocol(format!("{status} without a Stripe error object: {e}")))?;
                Ok(Err((status, error)))
            }
        }
    }
}

#[async_trait]
impl PayoutConnector for StripeConnector {
    async fn send_payout(&self, req: &PayoutRequest) -> Result<PayoutStatus, ProviderError> {
        if !req.destination.starts_with("acct_") {
            return Err(ProviderError::InvalidRequest {
                provider: PROVIDER,
                message: format!("{:?} is not a connected account (acct_…)", req.destination),
            });
        }
        let amount = to_stripe_amount(req.amount)?;
        let mut form = Form::default();
        form.push("amount", amount.to_string())
            .push("currency", req.amount.currency().to_ascii_lowercase())
            .push("destination", &req.destination)
            .push("transfer_group", &req.payout_id)
            .push("metadata[payout_id]", &req.payout_id);
        let description: String = req.description.chars().take(500).collect();
        if !description.is_empty() {
            form.push("description", description);
        }
        let key = idempotency_key(&req.payout_id, "transfer");
        match self.post_transfer(&form, key).await.map_err(Failure::into_error)? {
            Ok(transfer) => transfer_status(&transfer, &req.payout_id),
            Err((status, e)) if e.kind == "idempotency_error" => {
                Err(ProviderError::Indeterminate { provider: PROVIDER, detail: format!("{status}: {}", e.describe()) })
            }
            Err((_, e)) => Ok(PayoutStatus::Failed {
                provider_ref: None,
                code: e.code.clone().unwrap_or_else(|| e.kind.clone()),
                message: e.describe(),
            }),
        }
    }

    async fn retrieve_payout(
        &self,
        payout_id: &str,
        provider_ref: Option<&str>,
    ) -> Result<PayoutStatus, ProviderError> {
        if let Some(id) = provider_ref {
            return match self.get(&format!("/v1/transfers/{}", segment(id)), &Form::default()).await {
                Ok(transfer) => transfer_status(&transfer, payout_id),
                Err(Failure::Missing(_)) => Ok(PayoutStatus::NotFound),
                Err(e) => Err(e.into_error()),
            };
        }
        let mut query = Form::default();
        query.push("transfer_group", payout_id).push("limit", "10");
        let list = self.get("/v1/transfers", &query).await.map_err(Failure::into_error)?;
        let data = list.get("data").and_then(Value::as_array).ok_or_else(|| protocol("list without `data`"))?;
        // The group is ours alone; a transfer of it names the payout in its
        // metadata (one created elsewhere in the group would not).
        let found = data
            .iter()
            .find(|t| t.get("metadata").and_then(|m| m.get("payout_id")).and_then(Value::as_str) == Some(payout_id));
        match found {
            Some(transfer) => transfer_status(transfer, payout_id),
            None => Ok(PayoutStatus::NotFound),
        }
    }
}
