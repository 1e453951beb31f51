//! Tax summaries per jurisdiction and period, as JSON or CSV.

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiQuery, Caller};
use crate::state::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use bursar_domain::tax::TaxAmount;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

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

#[derive(Debug, Serialize, ToSchema, PartialEq, Eq)]
pub struct SummaryRow {
    pub jurisdiction: String,
    /// VAT, GST, IGST, CGST, SGST, Sales tax, or `reverse_charge`.
    pub tax: String,
    pub rate_bps: i64,
    pub currency: String,
    pub invoices: i64,
    /// Net amount taxed, minor units.
    pub taxable: i64,
    /// Tax collected, minor units.
    pub tax_amount: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Summary {
    /// Always `tax_summary`.
    pub object: &'static str,
    pub from: i64,
    pub to: i64,
    pub data: Vec<SummaryRow>,
}

fn secs_param(name: &str, v: &str) -> ApiResult<i64> {
    v.parse::<i64>()
        .ok()
        .filter(|t| (0..=253_402_214_400).contains(t))
        .ok_or_else(|| ApiError::invalid(name, format!("`{name}` must be Unix seconds")))
}

/// A CSV cell, quoted, with formula-looking text neutralised so a
/// spreadsheet never executes it.
pub fn csv_cell(s: &str) -> String {
    let guarded = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{s}") } else { s.to_string() };
    format!("\"{}\"", guarded.replace('"', "\"\""))
}

#[utoipa::path(get, path = "/v1/tax/summary", tag = "invoices", params(SummaryParams),
    responses((status = 200, body = Summary), (status = 400, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
async fn tax_summary(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<SummaryParams>,
) -> ApiResult<Response> {
    let from = secs_param("from", &q.from)?;
    let to = secs_param("to", &q.to)?;
    if to <= from {
        return Err(ApiError::invalid("to", "`to` must be after `from`"));
    }
    let csv = match q.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(_) => return Err(ApiError::invalid("format", "format must be `json` or `csv`")),
    };
    let rows = sqlx::query(
        "SELECT currency, subtotal, tax_details FROM invoices WHERE livemode = $1 AND finalized_at >= $2 \
         AND finalized_at < $3 AND status IN ('open', 'paid')",
    )
    .bind(i64::from(caller.livemode))
    .bind(from * 1000)
    .bind(to * 1000)
    .fetch_all(state.db.reader())
    .await?;
    // (jurisdiction, tax, rate, currency) → (invoices, taxable, tax)
    type Key = (String, String, i64, String);
    let mut agg: BTreeMap<Key, (i64, i64, i64)> = BTreeMap::new();
    for r in rows {
        let currency: String = r.get(0);
        let subtotal: i64 = r.get(1);
        let details: serde_json::Value = serde_json::from_str(&r.get::<String, _>(2)).unwrap_or_default();
        let taxes: Vec<TaxAmount> = serde_json::from_value(details["taxes"].clone()).unwrap_or_default();
        if details["reverse_charge"] == true {
            let j = details["jurisdiction"].as_str().unwrap_or("").to_string();
            let e = agg.entry((j, "reverse_charge".into(), 0, currency.clone())).or_default();
            e.0 += 1;
            e.1 += subtotal;
        }
        for t in taxes {
            let e = agg.entry((t.jurisdiction, t.name, t.rate_bps, currency.clone())).or_default();
            e.0 += 1;
            e.1 += t.taxable_minor;
            e.2 += t.amount_minor;
        }
    }
    let data: Vec<SummaryRow> = agg
        .into_iter()
        .map(|((jurisdiction, tax, rate_bps, currency), (invoices, taxable, tax_amount))| SummaryRow {
            jurisdiction,
            tax,
            rate_bps,
            currency,
            invoices,
            taxable,
            tax_amount,
        })
        .collect();
    if csv {
        let mut out = String::from("jurisdiction,tax,rate_bps,currency,invoices,taxable_minor,tax_minor\n");
        for r in &data {
            out.push_str(&format!(
                "{},{},{},{},{},{},{}\n",
                csv_cell(&r.jurisdiction),
                csv_cell(&r.tax),
                r.rate_bps,
                csv_cell(&r.currency),
                r.invoices,
                r.taxable,
                r.tax_amount
            ));
        }
        return Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], out).into_response());
    }
    Ok(Json(Summary { object: "tax_summary", from, to, data }).into_response())
}

#[cfg(test)]
mod tests {
    #[test]
    fn csv_cells_are_quoted_and_defused() {
        assert_eq!(super::csv_cell("DE"), "\"DE\"");
        assert_eq!(super::csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(super::csv_cell("-1"), "\"'-1\"");
    }
}
