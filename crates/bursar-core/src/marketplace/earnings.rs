//! What instructors earn: their signed earnings and totals, monthly
//! statements (CSV or PDF) and per-course analytics. An instructor acting
//! for themselves reaches only their own.

use super::csv::{date, decimal, field, month_bounds};
use super::shared::instructor_of;
use crate::actor::Actor;
use crate::common::secs;
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use bursar_store::marketplace::{self as store, InstructorRow};
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct EarningEntry {
    pub id: String,
    /// `sale` or `clawback`.
    pub kind: String,
    pub currency: String,
    /// Signed: a claw-back is negative.
    pub amount: i64,
    pub order_item: String,
    /// When it becomes payable (end of the refund window; claw-backs at once).
    pub available_at: i64,
    pub payout: Option<String>,
    pub created: i64,
}

#[derive(Debug, Default, Serialize, ToSchema)]
pub struct EarningTotals {
    /// Inside the refund window.
    pub held: i64,
    /// Payable at the next payout run.
    pub available: i64,
    /// In a payout not confirmed yet (a bank transfer, a provider payout).
    pub in_transit: i64,
    /// Paid out.
    pub paid: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Earnings {
    /// Always `earnings`.
    pub object: &'static str,
    pub instructor: String,
    /// Per currency.
    pub totals: BTreeMap<String, EarningTotals>,
    pub entries: Vec<EarningEntry>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CourseStats {
    pub course: String,
    pub title: String,
    /// Learners with an active enrollment.
    pub students: i64,
    pub completions: i64,
    /// Completions per 10,000 students (basis points).
    pub completion_rate_bps: i64,
    /// Net sales per currency (after discounts and refunds, before tax).
    pub revenue: BTreeMap<String, i64>,
    /// The instructor's share per currency, after claw-backs.
    pub earnings: BTreeMap<String, i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InstructorAnalytics {
    /// Always `instructor_analytics`.
    pub object: &'static str,
    pub instructor: String,
    pub students: i64,
    pub completion_rate_bps: i64,
    pub courses: Vec<CourseStats>,
}

/// An instructor by id or the platform's user id, if the actor may reach it.
async fn reach_instructor(ctx: &Ctx, actor: &Actor, key: &str) -> Result<InstructorRow> {
    let not_found = || Error::not_found("id", "instructor", key);
    let row = store::instructor(ctx.db.reader(), actor.livemode, key).await?.ok_or_else(not_found)?;
    if instructor_of(actor).is_some_and(|me| me != row.id) {
        return Err(not_found());
    }
    Ok(row)
}

/// An instructor's earnings and their totals per currency as of `as_of`
/// (Unix seconds as text; default now).
pub async fn earnings(ctx: &Ctx, actor: &Actor, id: &str, as_of: Option<&str>) -> Result<Earnings> {
    let ins = reach_instructor(ctx, actor, id).await?;
    let at = match as_of {
        Some(s) => {
            s.parse::<i64>()
                .ok()
                .filter(|t| (0..=100_000_000_000).contains(t))
                .ok_or_else(|| Error::invalid("as_of", "as_of is Unix seconds"))?
                * 1000
        }
        None => ctx.now_ms(),
    };
    let rows = store::earnings_of(ctx.db.reader(), actor.livemode, &ins.id).await?;
    let paid: HashSet<String> = store::payouts(ctx.db.reader(), actor.livemode, Some(&ins.id), None)
        .await?
        .into_iter()
        .filter(|p| p.status == "paid")
        .map(|p| p.id)
        .collect();
    let mut totals: BTreeMap<String, EarningTotals> = BTreeMap::new();
    for e in &rows {
        let t = totals.entry(e.currency.clone()).or_default();
        if let Some(p) = &e.payout_id {
            if paid.contains(p) {
                t.paid += e.amount;
            } else {
                t.in_transit += e.amount;
            }
        } else if e.available_at <= at {
            t.available += e.amount;
        } else {
            t.held += e.amount;
        }
    }
    let entries = rows
        .into_iter()
        .map(|e| EarningEntry {
            id: e.id,
            kind: e.kind,
            currency: e.currency,
            amount: e.amount,
            order_item: e.order_item_id,
            available_at: secs(e.available_at),
            payout: e.payout_id,
            created: secs(e.created_at),
        })
        .collect();
    Ok(Earnings { object: "earnings", instructor: ins.id, totals, entries })
}

/// A document to download.
pub struct Download {
    /// The file name offered.
    pub name: String,
    /// `text/csv; charset=utf-8` or `application/pdf`.
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

/// A CSV file to download.
pub(super) fn csv_download(name: String, body: String) -> Download {
    Download { name, content_type: "text/csv; charset=utf-8", body: body.into_bytes() }
}

/// An instructor's statement for a month (`YYYY-MM`): sales, claw-backs
/// and payouts, as CSV (`format` absent or `csv`) or PDF (`pdf`).
pub async fn statement(ctx: &Ctx, actor: &Actor, id: &str, period: &str, format: Option<&str>) -> Result<Download> {
    let pdf = match format {
        None | Some("csv") => false,
        Some("pdf") => true,
        Some(_) => return Err(Error::invalid("format", "format is csv or pdf")),
    };
    let ins = reach_instructor(ctx, actor, id).await?;
    let (from, to) = month_bounds(period)?;
    let mut out = String::from("date,type,reference,course,currency,amount,available_at,payout\n");
    let mut entries = Vec::new();
    for e in store::earnings_of(ctx.db.reader(), actor.livemode, &ins.id).await? {
        if !(from..to).contains(&e.created_at) {
            continue;
        }
        let title = store::item_title(ctx.db.reader(), &e.order_item_id).await?;
        let title = title.unwrap_or_default();
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{}",
            date(e.created_at),
            e.kind,
            e.order_item_id,
            field(&title),
            e.currency,
            decimal(e.amount, &e.currency),
            date(e.available_at),
            e.payout_id.clone().unwrap_or_default()
        );
        entries.push(crate::documents::StatementEntry {
            at: e.created_at,
            kind: e.kind,
            description: title,
            currency: e.currency,
            amount: e.amount,
        });
    }
    for p in store::payouts(ctx.db.reader(), actor.livemode, Some(&ins.id), Some(period)).await? {
        if p.status == "failed" {
            // Paid nothing: its earnings were given back.
            continue;
        }
        let _ = writeln!(
            out,
            "{},payout,{},,{},{},,{}",
            date(p.created_at),
            p.reference.clone().unwrap_or_default(),
            p.currency,
            decimal(-p.amount, &p.currency),
            p.id
        );
        entries.push(crate::documents::StatementEntry {
            at: p.created_at,
            kind: "payout".into(),
            description: format!("Payout {}", p.reference.unwrap_or(p.id)),
            currency: p.currency,
            amount: -p.amount,
        });
    }
    if !pdf {
        return Ok(csv_download(format!("statement-{}-{}.csv", ins.id, period), out));
    }
    let payee = bursar_pdf::Party {
        name: ins.name.clone(),
        address_lines: vec![ins.external_id.clone()],
        tax_id: None,
        email: ins.email.clone(),
    };
    let dctx = crate::documents::Context { config: &ctx.config, locale: None };
    let number = format!("STM-{}-{}", period.replace('-', ""), &ins.id[4..16]);
    let doc = crate::documents::statement_document(&dctx, payee, &number, period, &entries)?;
    let bytes = crate::documents::rendered(&ctx.storage, None, || Ok(doc)).await?;
    Ok(Download { name: format!("statement-{}-{}.pdf", ins.id, period), content_type: "application/pdf", body: bytes })
}

/// Students, completions, revenue and earnings of each of an instructor's
/// courses.
pub async fn analytics(ctx: &Ctx, actor: &Actor, id: &str) -> Result<InstructorAnalytics> {
    let ins = reach_instructor(ctx, actor, id).await?;
    let r = ctx.db.reader();
    let courses = store::courses(r, actor.livemode, Some(&ins.id), None, None, 10_000).await?;
    let enrolled = store::enrollment_counts(r, &ins.id).await?;
    let sales = store::sales_by_course(r, &ins.id).await?;
    let rate = |done: i64, all: i64| if all == 0 { 0 } else { done * 10_000 / all };
    let (mut students, mut done) = (0, 0);
    let stats = courses
        .into_iter()
        .map(|c| {
            let (n, k) = enrolled.iter().find(|e| e.0 == c.id).map_or((0, 0), |e| (e.1, e.2));
            students += n;
            done += k;
            let mine = sales.iter().filter(|s| s.0 == c.id);
            CourseStats {
                completion_rate_bps: rate(k, n),
                revenue: mine.clone().map(|s| (s.1.clone(), s.2)).collect(),
                earnings: mine.map(|s| (s.1.clone(), s.3)).collect(),
                course: c.id,
                title: c.title,
                students: n,
                completions: k,
            }
        })
        .collect();
    Ok(InstructorAnalytics {
        object: "instructor_analytics",
        instructor: ins.id,
        students,
        completion_rate_bps: rate(done, students),
        courses: stats,
    })
}
