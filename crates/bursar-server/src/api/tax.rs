//! Tax summaries per jurisdiction and period, as JSON or CSV. The handler
//! parses, calls `bursar_core::reports::tax_summary` and renders.

use crate::error::ApiResult;
use crate::extract::{ApiQuery, Caller};
use crate::state::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use bursar_core::reports::{self, Format, Summary};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use bursar_core::reports::{csv_cell, SummaryRow};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(tax_summary))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SummaryParams {
    /// Unix seconds, inclusive: invoices finalized at or after.
    pub from: String,
    /// Unix seconds, exclusive.
    pub to: String,
    /// `json` (default) or `csv`.
    pub format: Option<String>,
}

#[utoipa::path(get, path = "/v1/tax/summary", tag = "invoices", params(SummaryParams),
    responses((status = 200, body = Summary), (status = 400, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn tax_summary(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<SummaryParams>,
) -> ApiResult<Response> {
    let (summary, format) = reports::tax_summary(&state, &caller.actor(), &q.from, &q.to, q.format.as_deref()).await?;
    Ok(match format {
        Format::Csv => {
            ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], reports::tax_summary_csv(&summary)).into_response()
        }
        Format::Json => Json::<Summary>(summary).into_response(),
    })
}
