//! The `/v1` HTTP API. Handlers parse, authorize, call a service and render;
//! every route is registered through `utoipa_axum`, so the OpenAPI document
//! served at `/v1/openapi.json` is generated from the same code.

pub mod api_keys;
pub mod catalog;
pub mod checkout;
pub mod coupons;
pub mod courses;
pub mod customers;
pub mod events;
pub mod experiments;
pub mod fx;
pub mod health;
pub mod instructor_learning;
pub mod invoices;
pub mod learning;
pub mod ledger;
pub mod marketplace;
pub mod payments;
pub mod portal;
pub mod recommendations;
pub mod reconciliation;
pub mod referrals;
pub mod search;
pub mod subscriptions;
pub mod tax;
pub mod test_clocks;
pub mod usage;
pub mod webhook_endpoints;

use crate::error::{ApiError, ErrorEnvelope};
use crate::state::AppState;
use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Bursar API",
        description = "Monetization and learning-analytics engine for education platforms. \
                       JSON bodies, amounts in integer minor units, `Idempotency-Key` on every POST, \
                       cursor pagination with `limit` and `starting_after`.",
        license(name = "Apache-2.0")
    ),
    modifiers(&SecurityAddon),
    components(schemas(ErrorEnvelope)),
    tags(
        (name = "customers", description = "Billed parties: learners, instructors, organizations"),
        (name = "catalog", description = "Products, plans (tiers as data) and versioned prices"),
        (name = "subscriptions", description = "Subscriptions through their state machine, proration, cancellation"),
        (name = "invoices", description = "Invoices with gapless numbers and their lines"),
        (name = "coupons", description = "Coupons and promotion codes"),
        (name = "payments", description = "Payments, payment methods, refunds and reconciliation"),
        (name = "checkout", description = "Hosted checkout sessions"),
        (name = "marketplace", description = "Instructors, courses and bundles, carts, orders, enrollments, reviews, wishlists"),
        (name = "payouts", description = "Instructor earnings, affiliates and commissions, payout runs"),
        (name = "usage", description = "Usage metering, quotas, entitlement checks and feature gating"),
        (name = "webhook_endpoints", description = "Outgoing webhooks to the platform: endpoints and deliveries"),
        (name = "fx", description = "FX reference rates and reporting in a base currency"),
        (name = "api_keys", description = "Secret keys for the platform's backend"),
        (name = "test_clocks", description = "Simulated time for test-mode customers"),
        (name = "ledger", description = "The double-entry journal behind every money movement"),
        (name = "events", description = "The event outbox"),
        (name = "experiments", description = "Experiments: conversions and results per variant"),
        (name = "learning", description = "Learning analytics: forms, items, attempts, dashboards, calibrations, item statistics, cohorts"),
        (name = "health", description = "Liveness and readiness")
    )
)]
pub struct ApiDoc;

struct SecurityAddon;

impl Modify for SecurityAddon {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("bsk_test_… or bsk_live_…").build(),
            ),
        );
    }
}

/// Documents the refusals every operation can give that its own annotation
/// may leave out: 401 wherever a key is required, 400 wherever a body or a
/// parameter is read (the envelope names the field).
pub fn document_refusals(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
    let envelope = |what: &str| {
        RefOr::T(
            ResponseBuilder::new()
                .description(what)
                .content(
                    "application/json",
                    ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorEnvelope"))).build(),
                )
                .build(),
        )
    };
    for item in doc.paths.paths.values_mut() {
        let ops = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
            &mut item.head,
            &mut item.options,
            &mut item.trace,
        ];
        for op in ops.into_iter().flatten() {
            let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
            let reads_input = op.request_body.is_some() || op.parameters.as_ref().is_some_and(|p| !p.is_empty());
            let responses = &mut op.responses.responses;
            if secured {
                responses
                    .entry("401".into())
                    .or_insert_with(|| envelope("No key, or an unknown, revoked or malformed one"));
            }
            if reads_input {
                responses
                    .entry("400".into())
                    .or_insert_with(|| envelope("A field is missing or invalid: `param` names it"));
            }
        }
    }
}

/// The authenticated `/v1` routes with their documentation.
pub fn v1_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(customers::router())
        .merge(catalog::router())
        .merge(checkout::router())
        .merge(subscriptions::router())
        .merge(invoices::router())
        .merge(payments::router())
        .merge(portal::router())
        .merge(reconciliation::router())
        .merge(coupons::router())
        .merge(courses::router())
        .merge(search::router())
        .merge(marketplace::router())
        .merge(recommendations::router())
        .merge(referrals::router())
        .merge(fx::router())
        .merge(tax::router())
        .merge(api_keys::router())
        .merge(test_clocks::router())
        .merge(usage::router())
        .merge(webhook_endpoints::router())
        .merge(ledger::router())
        .merge(events::router())
        .merge(experiments::router())
        .merge(learning::router())
        .merge(instructor_learning::router())
}

/// A page of objects.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListResponse<T> {
    /// Always `list`.
    pub object: &'static str,
    pub data: Vec<T>,
    /// Whether more objects follow the last one returned.
    pub has_more: bool,
    pub url: String,
}

impl<T> ListResponse<T> {
    /// Builds a page from up to `limit + 1` fetched rows.
    pub fn from_rows(mut rows: Vec<T>, limit: i64, url: &str) -> Self {
        let has_more = rows.len() as i64 > limit;
        rows.truncate(limit as usize);
        ListResponse { object: "list", data: rows, has_more, url: url.to_string() }
    }
}

/// Unix seconds, as the API shows instants.
pub fn secs(ms: i64) -> i64 {
    ms.div_euclid(1000)
}

/// Metadata: at most 50 keys of up to 40 characters, values up to 500.
pub fn validate_metadata(m: &std::collections::BTreeMap<String, String>) -> Result<(), ApiError> {
    if m.len() > 50 {
        return Err(ApiError::invalid("metadata", "metadata can have at most 50 keys"));
    }
    for (k, v) in m {
        if k.is_empty() || k.chars().count() > 40 {
            return Err(ApiError::invalid(&format!("metadata.{k}"), "metadata keys must be 1 to 40 characters"));
        }
        if v.chars().count() > 500 {
            return Err(ApiError::invalid(&format!("metadata.{k}"), "metadata values must be at most 500 characters"));
        }
    }
    Ok(())
}

/// Checks an optional free-text field's length.
pub fn check_len(param: &str, v: &Option<String>, max: usize) -> Result<(), ApiError> {
    if let Some(s) = v {
        if s.chars().count() > max {
            return Err(ApiError::invalid(param, format!("`{param}` must be at most {max} characters")));
        }
    }
    Ok(())
}
