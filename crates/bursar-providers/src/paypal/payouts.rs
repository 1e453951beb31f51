//! PayPal Payouts: one batch of one item per Bursar payout.
//!
//! * `POST /v1/payments/payouts` with `sender_batch_header`
//!   (`sender_batch_id` = Bursar's payout id, `email_subject`,
//!   `recipient_type: EMAIL`) and one item (`recipient_type: EMAIL`,
//!   `amount: {value, currency}` with PayPal's decimals for the currency,
//!   `receiver`, `sender_item_id` = the payout id, `note`), and the
//!   `PayPal-Request-Id` `bursar-{payout_id}-payout`. PayPal answers `201`
//!   with `batch_header.payout_batch_id` and a `batch_status` (`PENDING` when
//!   the batch passed its first checks, `DENIED` when not).
//! * PayPal processes a `sender_batch_id` once in 30 days: a repeated one is
//!   refused (`400 USER_BUSINESS_ERROR`, a detail on field
//!   `SENDER_BATCH_ID`) with a link to the first batch, which is then read.
//!   Sending again is therefore how a batch whose `201` was lost is found
//!   (PayPal offers no lookup by `sender_batch_id`), and PayPal documents a
//!   retry with the same `sender_batch_id` after a `5xx` as safe.
//! * `GET /v1/payments/payouts/{payout_batch_id}` reads the batch and its
//!   item. The item decides once it has a status: `SUCCESS` is paid;
//!   `FAILED`, `RETURNED`, `BLOCKED`, `REFUNDED`, `REVERSED` failed (with the
//!   item's `errors.name`); `PENDING`, `UNCLAIMED` (the receiver has 30 days
//!   to claim before PayPal returns the money) and `ONHOLD` still in
//!   progress. A batch `DENIED` or `CANCELED` failed; `PENDING` or
//!   `PROCESSING` without a settled item is in progress.
//! * Other refusals (`400 VALIDATION_ERROR`, `422 INSUFFICIENT_FUNDS`, …)
//!   are [`PayoutStatus::Failed`] with PayPal's error `name`; a `5xx`, a
//!   timeout or a lost connection leaves the outcome unknown.

use async_trait::async_trait;
use reqwest::Method;
use serde_json::{json, Value};

use super::{describe, parse_paypal_amount, path_segment, paypal_amount, protocol, Failure, PaypalConnector, PROVIDER};
use crate::payouts::{PayoutConnector, PayoutRequest, PayoutStatus};
use crate::{idempotency_key, Effect, Money, ProviderError};

/// Item statuses after which no money reached the payee (or it came back).
const ITEM_FAILED: [&str; 5] = ["FAILED", "RETURNED", "BLOCKED", "REFUNDED", "REVERSED"];
/// Item statuses that may still end either way.
const ITEM_WAITING: [&str; 3] = ["PENDING", "UNCLAIMED", "ONHOLD"];

/// A Payouts amount: `{"value": "…", "currency": "…"}`.
fn amount_of(v: &Value) -> Option<Money> {
    parse_paypal_amount(v["value"].as_str()?, v["currency"].as_str()?)
}

/// Whether a refusal says the `sender_batch_id` was used before.
fn is_duplicate(body: &Value) -> bool {
    body["details"].as_array().is_some_and(|details| {
        details.iter().any(|d| d["field"].as_str().is_some_and(|f| f.eq_ignore_ascii_case("sender_batch_id")))
    })
}

/// The batch a duplicate refusal points at: the last path segment of a
/// link of the `SENDER_BATCH_ID` detail (or of the error itself).
fn existing_batch(body: &Value) -> Option<String> {
    let detail_links = body["details"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|d| d["field"].as_str().is_some_and(|f| f.eq_ignore_ascii_case("sender_batch_id")))
        .flat_map(|d| d["link"].as_array().into_iter().flatten().chain(d["links"].as_array().into_iter().flatten()));
    let links = detail_links.chain(body["links"].as_array().into_iter().flatten());
    links
        .filter_map(|l| l["href"].as_str())
        .filter(|href| href.contains("/v1/payments/payouts/"))
        .filter_map(|href| href.split(['?', '#']).next()?.trim_end_matches('/').rsplit('/').next())
        .find(|id| path_segment(id).is_ok())
        .map(str::to_owned)
}

/// A batch (create or get answer) as the status of payout `payout_id`.
fn batch_status(batch: &Value, payout_id: &str) -> Result<PayoutStatus, ProviderError> {
    let header = &batch["batch_header"];
    let id = header["payout_batch_id"].as_str().ok_or_else(|| protocol("payout batch without payout_batch_id"))?;
    if let Some(sender) = header["sender_batch_header"]["sender_batch_id"].as_str() {
        if sender != payout_id {
            return Err(protocol(format!("batch {id} is sender_batch_id {sender}, not {payout_id}")));
        }
    }
    let provider_ref = id.to_owned();
    let item = batch["items"].as_array().and_then(|items| {
        items.iter().find(|i| i["payout_item"]["sender_item_id"] == payout_id).or_else(|| items.first())
    });
    let item_error = |item: &Value| {
        let errors = &item["errors"];
        errors["name"].as_str().map(|name| (name.to_owned(), errors["message"].as_str().unwrap_or(name).to_owned()))
    };
    let batch_state = header["batch_status"].as_str().unwrap_or("");
    if matches!(batch_state, "DENIED" | "CANCELED") {
        let (code, message) = item.and_then(item_error).unwrap_or_else(|| {
            (batch_state.to_owned(), format!("PayPal {} the payout batch", batch_state.to_ascii_lowercase()))
        });
        return Ok(PayoutStatus::Failed { provider_ref: Some(provider_ref), code, message });
    }
    if let Some(item) = item {
        match item["transaction_status"].as_str().unwrap_or("") {
            "SUCCESS" => {
                let amount = amount_of(&item["payout_item"]["amount"])
                    .ok_or_else(|| protocol(format!("batch {id}: item without a readable amount")))?;
                return Ok(PayoutStatus::Paid { provider_ref, amount });
            }
            s if ITEM_FAILED.contains(&s) => {
                let (code, message) =
                    item_error(item).unwrap_or_else(|| (s.to_owned(), format!("the payout item is {s}")));
                return Ok(PayoutStatus::Failed { provider_ref: Some(provider_ref), code, message });
            }
            s if ITEM_WAITING.contains(&s) => return Ok(PayoutStatus::InProgress { provider_ref }),
            "" => {}
            other => return Err(protocol(format!("batch {id}: unknown item status {other:?}"))),
        }
    }
    match batch_state {
        "PENDING" | "PROCESSING" => Ok(PayoutStatus::InProgress { provider_ref }),
        "SUCCESS" => Err(protocol(format!("batch {id} completed, but its item is missing"))),
        other => Err(protocol(format!("batch {id}: unknown batch status {other:?}"))),
    }
}

#[async_trait]
impl PayoutConnector for PaypalConnector {
    async fn send_payout(&self, req: &PayoutRequest) -> Result<PayoutStatus, ProviderError> {
        let invalid = |message: String| ProviderError::InvalidRequest { provider: PROVIDER, message };
        if req.amount.minor <= 0 {
            return Err(invalid(format!("payouts are positive (got {})", req.amount.minor)));
        }
        let value = paypal_amount(req.amount)?;
        let receiver = req.destination.trim();
        if receiver.is_empty() || !receiver.contains('@') || receiver.len() > 127 {
            return Err(invalid(format!("{receiver:?} is not a PayPal account email")));
        }
        if req.payout_id.is_empty() || req.payout_id.len() > 63 {
            return Err(invalid(format!("payout id {:?} does not fit sender_item_id", req.payout_id)));
        }
        let text: String = req.description.chars().take(255).collect();
        let body = json!({
            "sender_batch_header": {
                "sender_batch_id": req.payout_id,
                "email_subject": text,
                "recipient_type": "EMAIL",
            },
            "items": [{
                "recipient_type": "EMAIL",
                "amount": { "value": value, "currency": req.amount.currency() },
                "receiver": receiver,
                "sender_item_id": req.payout_id,
                "note": text,
            }],
        });
        let request_id = idempotency_key(&req.payout_id, "payout");
        let body = body.to_string();
        match self.call(Method::POST, "/v1/payments/payouts", Some(&body), Some(&request_id), Effect::Acts).await {
            Ok(batch) => batch_status(&batch, &req.payout_id),
            Err(Failure::Api { body, .. }) if is_duplicate(&body) => match existing_batch(&body) {
                Some(batch_id) => self.retrieve_payout(&req.payout_id, Some(&batch_id)).await,
                // PayPal has this batch but did not say which one it is.
                None => Err(ProviderError::Indeterminate {
                    provider: PROVIDER,
                    detail: format!("sender_batch_id {} was used before: {}", req.payout_id, describe(&body)),
                }),
            },
            Err(Failure::Api { body, .. }) => Ok(PayoutStatus::Failed {
                provider_ref: None,
                code: body["name"].as_str().unwrap_or("REFUSED").to_owned(),
                message: describe(&body),
            }),
            Err(Failure::Provider(e)) => Err(e),
        }
    }

    /// Reads the batch by its `payout_batch_id`. Without it the answer is
    /// [`PayoutStatus::NotFound`]: PayPal has no lookup by
    /// `sender_batch_id`, and sending again finds the batch.
    async fn retrieve_payout(
        &self,
        payout_id: &str,
        provider_ref: Option<&str>,
    ) -> Result<PayoutStatus, ProviderError> {
        let Some(batch_id) = provider_ref else { return Ok(PayoutStatus::NotFound) };
        let path = format!("/v1/payments/payouts/{}", path_segment(batch_id)?);
        match self.call(Method::GET, &path, None, None, Effect::Inert).await {
            Ok(batch) => batch_status(&batch, payout_id),
            Err(Failure::Api { status: 404, .. }) => Ok(PayoutStatus::NotFound),
            Err(f) => Err(f.into_error()),
        }
    }
}
