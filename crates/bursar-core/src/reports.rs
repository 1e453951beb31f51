//! Reports over the books: revenue in a base currency (converted with the
//! day's FX reference rates) and tax collected per jurisdiction and period,
//! as rows or CSV.

use crate::actor::Actor;
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use bursar_domain::fx::convert;
use bursar_domain::ledger::{natural_balance, AccountKind};
use bursar_domain::money::Currency;
use bursar_domain::tax::TaxAmount;
use bursar_store::{fx as fx_store, ledger};
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct RevenueLine {
    pub currency: String,
    /// Revenue net of refunds and discounts, minor units of `currency`.
    pub amount: i64,
    /// The same in the base currency, minor units.
    pub amount_in_base: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RevenueReport {
    /// Always `revenue_report`.
    pub object: &'static str,
    pub base: String,
    /// The date of the rates used.
    pub rates_date: String,
    pub by_currency: Vec<RevenueLine>,
    pub total_in_base: i64,
}

/// Revenue net of refunds and discounts per currency, and in `base`
/// (default EUR) with the latest rates.
pub async fn revenue(ctx: &Ctx, actor: &Actor, base: Option<String>) -> Result<RevenueReport> {
    let base_s = base.unwrap_or_else(|| "EUR".into());
    let base = crate::common::new_currency("base", &base_s)?;
    let (date, rates) = fx_store::rates_as_of(ctx.db.reader(), None)
        .await?
        .ok_or_else(|| Error::not_found("base", "FX rates", "latest"))?;
    let mut per: BTreeMap<String, i64> = BTreeMap::new();
    for root in ["revenue", "refunds", "discounts"] {
        for b in ledger::balances(&ctx.db, actor.livemode, Some(root), None, None).await? {
            // Revenue is credit-normal; refunds and discounts reduce it.
            *per.entry(b.currency).or_default() += natural_balance(AccountKind::Revenue, b.balance_minor);
        }
    }
    let mut lines = Vec::new();
    let mut total: i64 = 0;
    for (cur, amount) in per {
        let c = Currency::from_code(&cur).map_err(|_| Error::internal())?;
        let in_base = convert(amount, c, base, &rates)
            .map_err(|e| Error::invalid("base", format!("cannot convert {cur}: {e}")))?;
        total = total.checked_add(in_base).ok_or_else(Error::internal)?;
        lines.push(RevenueLine { currency: cur, amount, amount_in_base: in_base });
    }
    Ok(RevenueReport {
        object: "revenue_report",
        base: base.code().to_string(),
        rates_date: date,
        by_currency: lines,
        total_in_base: total,
    })
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

fn secs_param(name: &str, v: &str) -> Result<i64> {
    v.parse::<i64>()
        .ok()
        .filter(|t| (0..=253_402_214_400).contains(t))
        .ok_or_else(|| Error::invalid(name, format!("`{name}` must be Unix seconds")))
}

/// A CSV cell, quoted, with formula-looking text neutralised so a
/// spreadsheet never executes it.
pub fn csv_cell(s: &str) -> String {
    let guarded = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{s}") } else { s.to_string() };
    format!("\"{}\"", guarded.replace('"', "\"\""))
}

/// The form a tax summary is given in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
}

/// Parses `format`: `json` (default) or `csv`.
pub fn format(v: Option<&str>) -> Result<Format> {
    match v {
        None | Some("json") => Ok(Format::Json),
        Some("csv") => Ok(Format::Csv),
        Some(_) => Err(Error::invalid("format", "format must be `json` or `csv`")),
    }
}

/// Tax on the invoices of the actor's mode finalized from `from` (Unix
/// seconds, inclusive) to `to` (exclusive), per jurisdiction, tax, rate and
/// currency; reverse-charged invoices count as `reverse_charge`. With the
/// form asked for (`format`).
pub async fn tax_summary(
    ctx: &Ctx,
    actor: &Actor,
    from: &str,
    to: &str,
    format_asked: Option<&str>,
) -> Result<(Summary, Format)> {
    let from = secs_param("from", from)?;
    let to = secs_param("to", to)?;
    if to <= from {
        return Err(Error::invalid("to", "`to` must be after `from`"));
    }
    let form = format(format_asked)?;
    let rows = bursar_store::billing::taxed_between(ctx.db.reader(), actor.livemode, from * 1000, to * 1000).await?;
    // (jurisdiction, tax, rate, currency) → (invoices, taxable, tax)
    type Key = (String, String, i64, String);
    let mut agg: BTreeMap<Key, (i64, i64, i64)> = BTreeMap::new();
    for (currency, subtotal, details) in rows {
        let details: serde_json::Value = serde_json::from_str(&details).unwrap_or_default();
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
    Ok((Summary { object: "tax_summary", from, to, data }, form))
}

/// A tax summary as CSV, one line per row.
pub fn tax_summary_csv(s: &Summary) -> String {
    let mut out = String::from("jurisdiction,tax,rate_bps,currency,invoices,taxable_minor,tax_minor\n");
    for r in &s.data {
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
    out
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
