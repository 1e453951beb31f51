//! The reconciliation report: for each of Bursar's payments through a
//! provider in a window, what the provider says about it (asked with
//! `retrieve`), and the ledger entry it should have; plus the provider
//! events that named a payment Bursar does not know or were flagged.
//! Every difference is listed; an empty list means the three agree.

use super::secs;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiQuery, Caller};
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use bursar_providers::PaymentStatus;
use bursar_store::payments::{self as store};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(reconciliation))
        .routes(routes!(list_provider_events))
        .routes(routes!(replay_provider_event))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReconciliationParams {
    /// `stripe`, `paypal`, `razorpay` or `sandbox`.
    pub provider: String,
    /// Unix seconds; payments created from then (default: 7 days ago).
    pub from: Option<String>,
    /// Unix seconds; payments created before then (default: now).
    pub to: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Difference {
    /// missing_at_provider, status_mismatch, amount_mismatch, missing_ledger_entry, ledger_amount_mismatch,
    /// unsettled_payment, paid_closed_invoice, provider_unreachable, unknown_provider_payment,
    /// flagged_provider_event.
    pub kind: &'static str,
    pub payment: Option<String>,
    pub provider_payment_id: Option<String>,
    pub detail: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Reconciliation {
    /// Always `reconciliation_report`.
    pub object: &'static str,
    pub provider: String,
    pub from: i64,
    pub to: i64,
    /// Payments compared.
    pub payments_checked: usize,
    /// Completed payments' total per currency, as Bursar recorded it.
    pub recorded: std::collections::BTreeMap<String, i64>,
    pub differences: Vec<Difference>,
}

#[utoipa::path(get, path = "/v1/reports/reconciliation", tag = "payments", params(ReconciliationParams),
    responses((status = 200, body = Reconciliation), (status = 400, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn reconciliation(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ReconciliationParams>,
) -> ApiResult<Json<Reconciliation>> {
    if !matches!(q.provider.as_str(), "stripe" | "paypal" | "razorpay" | "sandbox") {
        return Err(ApiError::invalid("provider", "provider is stripe, paypal, razorpay or sandbox"));
    }
    let secs_param = |name: &str, v: &Option<String>| -> ApiResult<Option<i64>> {
        v.as_deref()
            .map(|s| s.parse::<i64>().map_err(|_| ApiError::invalid(name, format!("`{name}` is unix seconds"))))
            .transpose()
    };
    let now = state.now_ms();
    // The default end includes everything up to this instant.
    let to = secs_param("to", &q.to)?.map_or(now + 1, |t| t.saturating_mul(1000));
    let from = secs_param("from", &q.from)?.map_or(to - 7 * 86_400_000, |f| f.saturating_mul(1000));
    if from >= to {
        return Err(ApiError::invalid("from", "from must be before to"));
    }
    let conn = state.providers.get(&q.provider);
    if conn.is_none() && q.provider != "sandbox" {
        return Err(ApiError::invalid("provider", format!("{} is not configured", q.provider)));
    }
    let payments = store::of_provider_between(state.db.reader(), caller.livemode, &q.provider, from, to).await?;
    let mut differences = Vec::new();
    let mut recorded = std::collections::BTreeMap::new();
    let mut diff = |kind, p: &store::PaymentRow, detail: String| {
        differences.push(Difference {
            kind,
            payment: Some(p.id.clone()),
            provider_payment_id: p.provider_payment_id.clone(),
            detail,
        })
    };
    for p in &payments {
        let settled_ok = matches!(p.status.as_str(), "completed" | "refunded");
        if settled_ok {
            *recorded.entry(p.currency.clone()).or_insert(0) += p.amount;
        }
        if p.unsettled() {
            diff("unsettled_payment", p, format!("{} since {}", p.status, secs(p.created_at)));
        }
        // The ledger: a completed payment has exactly its amount in the
        // provider's clearing account.
        let entries: Vec<(String, i64)> = sqlx::query_as(
            "SELECT e.id, CAST(COALESCE(SUM(CASE WHEN p.account = $2 THEN p.amount_minor ELSE 0 END), 0) AS BIGINT) \
             FROM ledger_entries e JOIN ledger_postings p ON p.entry_id = e.id \
             WHERE e.source_type = 'payment' AND e.source_id = $1 GROUP BY e.id",
        )
        .bind(&p.id)
        .bind(format!("provider_clearing:{}", p.provider))
        .fetch_all(state.db.reader())
        .await
        .map_err(bursar_store::DbError::from)?;
        let in_ledger: i64 = entries.iter().map(|e| e.1).sum();
        match (settled_ok, entries.is_empty()) {
            (true, true) => {
                diff("missing_ledger_entry", p, format!("{} {} completed without an entry", p.amount, p.currency))
            }
            (false, false) => diff("ledger_amount_mismatch", p, format!("a {} payment has ledger entries", p.status)),
            (true, false) if in_ledger != p.amount => diff(
                "ledger_amount_mismatch",
                p,
                format!("ledger has {in_ledger}, payment is {} {}", p.amount, p.currency),
            ),
            _ => {}
        }
        // Money taken for an invoice already voided or written off (a buyer
        // who paid on the provider's page after the checkout expired): it
        // waits in receivables for staff to give it back.
        if settled_ok && p.amount_refunded < p.amount {
            if let Some(inv_id) = &p.invoice_id {
                let inv = bursar_store::billing::invoice(state.db.reader(), caller.livemode, inv_id).await?;
                if let Some(inv) = inv.filter(|i| matches!(i.status.as_str(), "void" | "uncollectible")) {
                    diff(
                        "paid_closed_invoice",
                        p,
                        format!(
                            "{} {} taken for invoice {} after it was {}; refund it at the provider",
                            p.amount - p.amount_refunded,
                            p.currency,
                            inv.number.unwrap_or(inv.id),
                            inv.status
                        ),
                    );
                }
            }
        }
        // The provider's view (the sandbox is Bursar itself).
        let Some(conn) = &conn else { continue };
        if p.checkout_session_id.is_some() && p.status == "cancelled" {
            continue;
        }
        match conn.retrieve(&p.id, p.provider_payment_id.as_deref()).await {
            Ok(PaymentStatus::NotFound) if settled_ok => {
                diff("missing_at_provider", p, "the provider has no such payment".into())
            }
            Ok(PaymentStatus::Succeeded { amount, .. }) => {
                if !settled_ok {
                    diff("status_mismatch", p, format!("the provider took it; Bursar has it {}", p.status));
                } else if amount.minor != p.amount || !amount.currency().eq_ignore_ascii_case(&p.currency) {
                    diff(
                        "amount_mismatch",
                        p,
                        format!("provider {} {}, Bursar {} {}", amount.minor, amount.currency(), p.amount, p.currency),
                    );
                }
            }
            Ok(PaymentStatus::Failed { code, .. }) if settled_ok => {
                diff("status_mismatch", p, format!("the provider says failed ({code}); Bursar has it {}", p.status))
            }
            Ok(PaymentStatus::Canceled { .. }) if settled_ok => {
                diff("status_mismatch", p, format!("the provider says canceled; Bursar has it {}", p.status))
            }
            Ok(PaymentStatus::Pending { .. }) if settled_ok => {
                diff("status_mismatch", p, format!("the provider says pending; Bursar has it {}", p.status))
            }
            Ok(_) => {}
            Err(e) => diff("provider_unreachable", p, e.to_string()),
        }
    }
    // Events from the provider that Bursar could not match or flagged.
    let events = store::list_events(state.db.reader(), caller.livemode, Some(&q.provider), None, 1000).await?;
    for e in events.iter().filter(|e| e.received_at >= from && e.received_at < to) {
        let kind = match (e.status.as_str(), e.payment_id.is_some()) {
            ("flagged", _) => "flagged_provider_event",
            ("ignored", false) if e.note.as_deref().is_some_and(|n| n.contains("no payment")) => {
                "unknown_provider_payment"
            }
            _ => continue,
        };
        differences.push(Difference {
            kind,
            payment: e.payment_id.clone(),
            provider_payment_id: None,
            detail: format!("{} {}: {}", e.event_type, e.event_id, e.note.clone().unwrap_or_default()),
        });
    }
    Ok(Json(Reconciliation {
        object: "reconciliation_report",
        provider: q.provider,
        from: secs(from),
        to: secs(to),
        payments_checked: payments.len(),
        recorded,
        differences,
    }))
}

/// A webhook a provider sent, as stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderEvent {
    pub id: String,
    /// Always `provider_event`.
    pub object: &'static str,
    pub provider: String,
    /// The provider's event id.
    pub event_id: String,
    pub event_type: String,
    /// `applied`, `ignored` or `flagged`.
    pub status: String,
    pub note: Option<String>,
    pub payment: Option<String>,
    /// The raw body as received.
    pub payload: String,
    pub received: i64,
    pub processed_at: Option<i64>,
}

fn render_event(e: store::ProviderEventRow) -> ProviderEvent {
    ProviderEvent {
        id: e.id,
        object: "provider_event",
        provider: e.provider,
        event_id: e.event_id,
        event_type: e.event_type,
        status: e.status,
        note: e.note,
        payment: e.payment_id,
        payload: e.payload,
        received: secs(e.received_at),
        processed_at: e.processed_at.map(secs),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ProviderEventParams {
    pub limit: Option<String>,
    pub starting_after: Option<String>,
    pub provider: Option<String>,
}

#[utoipa::path(get, path = "/v1/provider_events", tag = "payments", params(ProviderEventParams),
    responses((status = 200, body = super::ListResponse<ProviderEvent>), (status = 400, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn list_provider_events(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ProviderEventParams>,
) -> ApiResult<Json<super::ListResponse<ProviderEvent>>> {
    let page = crate::extract::ListParams { limit: q.limit, starting_after: q.starting_after };
    let limit = page.limit()?;
    let rows = store::list_events(
        state.db.reader(),
        caller.livemode,
        q.provider.as_deref(),
        page.starting_after.as_deref(),
        limit + 1,
    )
    .await?;
    Ok(Json(super::ListResponse::from_rows(rows.into_iter().map(render_event).collect(), limit, "/v1/provider_events")))
}

#[utoipa::path(post, path = "/v1/provider_events/{id}/replay", tag = "payments",
    params(("id" = String, Path, description = "Stored provider event id")),
    responses((status = 200, body = ProviderEvent), (status = 400, body = crate::error::ErrorEnvelope),
              (status = 404, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn replay_provider_event(
    State(state): State<AppState>,
    caller: Caller,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> ApiResult<Json<ProviderEvent>> {
    if !bursar_domain::id::is_valid(bursar_domain::id::IdKind::ProviderEvent, &id) {
        return Err(ApiError::not_found("id", "provider event", &id));
    }
    Ok(Json(render_event(bursar_core::provider_events::replay(&state, caller.livemode, &id).await?)))
}
