//! Online VAT id checks, after the offline format and check-digit test.
//!
//! [`VatChecker`] is the seam: [`Vies`] asks the European Commission's VIES
//! REST service (`POST {base}/check-vat-number` with `countryCode` and
//! `vatNumber`; the answer's `valid` decides), and others (a national
//! service, a commercial one) can sit behind the same trait. A registry
//! that is down never blocks a customer: the id is kept as `unavailable`
//! and can be checked again later; only a definite "not registered" is
//! refused.

use async_trait::async_trait;
use bursar_domain::vat_id::VatId;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// What the registry said about an id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Verification {
    /// `verified` (registered), `invalid` (not registered), `unavailable`
    /// (the registry could not answer) or `unchecked` (no registry covers
    /// this id, e.g. UK ids with VIES).
    pub status: String,
    /// The registry that answered, e.g. `vies`.
    pub source: String,
    /// When it was checked (seconds).
    pub checked_at: i64,
    /// The registered name and address, when the registry shares them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// The registry's reference for the consultation, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Registered {
        name: Option<String>,
        address: Option<String>,
        request_id: Option<String>,
    },
    NotRegistered,
    /// The registry does not cover this id.
    NotCovered,
}

#[derive(Debug, thiserror::Error)]
#[error("the VAT registry is unavailable: {0}")]
pub struct Unavailable(pub String);

#[async_trait]
pub trait VatChecker: Send + Sync {
    /// Short name stored with each result.
    fn source(&self) -> &'static str;
    async fn check(&self, id: &VatId) -> Result<Outcome, Unavailable>;
}

/// The European Commission's VIES REST service.
pub struct Vies {
    base: String,
    http: reqwest::Client,
}

impl Vies {
    pub fn new(base: &str) -> Vies {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(5))
            .build()
            .expect("an HTTP client with timeouts");
        Vies { base: base.trim_end_matches('/').to_string(), http }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ViesAnswer {
    valid: Option<bool>,
    name: Option<String>,
    address: Option<String>,
    request_identifier: Option<String>,
    #[serde(default)]
    error_wrappers: Vec<ViesError>,
}

#[derive(Deserialize)]
struct ViesError {
    error: Option<String>,
}

/// VIES marks withheld details with dashes.
fn shared(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty() && s.chars().any(|c| c != '-'))
}

#[async_trait]
impl VatChecker for Vies {
    fn source(&self) -> &'static str {
        "vies"
    }

    async fn check(&self, id: &VatId) -> Result<Outcome, Unavailable> {
        if !id.is_eu() {
            return Ok(Outcome::NotCovered);
        }
        let resp = self
            .http
            .post(format!("{}/check-vat-number", self.base))
            .json(&serde_json::json!({"countryCode": id.country, "vatNumber": id.number}))
            .send()
            .await
            .map_err(|e| Unavailable(e.to_string()))?;
        let status = resp.status();
        let body = resp.text().await.map_err(|e| Unavailable(e.to_string()))?;
        if !status.is_success() {
            return Err(Unavailable(format!("HTTP {status}")));
        }
        let answer: ViesAnswer =
            serde_json::from_str(&body).map_err(|e| Unavailable(format!("unexpected answer: {e}")))?;
        if let Some(e) = answer.error_wrappers.iter().find_map(|w| w.error.clone()) {
            // MS_UNAVAILABLE, MS_MAX_CONCURRENT_REQ, TIMEOUT, SERVICE_UNAVAILABLE, …
            return Err(Unavailable(e));
        }
        match answer.valid {
            Some(true) => Ok(Outcome::Registered {
                name: shared(answer.name),
                address: shared(answer.address),
                request_id: answer.request_identifier.filter(|r| !r.is_empty()),
            }),
            Some(false) => Ok(Outcome::NotRegistered),
            None => Err(Unavailable("the answer has no `valid`".into())),
        }
    }
}

/// Checks one id and turns the outcome into what is stored.
pub async fn verify(checker: &dyn VatChecker, id: &VatId, now_secs: i64) -> Verification {
    let (status, name, address, request_id) = match checker.check(id).await {
        Ok(Outcome::Registered { name, address, request_id }) => ("verified", name, address, request_id),
        Ok(Outcome::NotRegistered) => ("invalid", None, None, None),
        Ok(Outcome::NotCovered) => ("unchecked", None, None, None),
        Err(e) => {
            tracing::warn!(vat_id = %id.as_string(), error = %e, "VAT registry unavailable");
            ("unavailable", None, None, None)
        }
    };
    Verification {
        status: status.into(),
        source: checker.source().into(),
        checked_at: now_secs,
        name,
        address,
        request_id,
    }
}
