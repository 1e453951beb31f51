//! Exports: a form's attempts and responses, and its item statistics, as
//! CSV safe against formula injection.

use super::{content, statistics};
use crate::actor::Actor;
use crate::ctx::Ctx;
use crate::error::Result;
use bursar_store::learning::attempts as store;

/// A CSV field: quoted when needed, and a leading `=`, `+`, `-`, `@`, tab or
/// carriage return neutralised with a `'` so spreadsheets never run it.
pub fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{s}") } else { s.to_string() };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

fn row(fields: &[String]) -> String {
    let mut line = fields.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(",");
    line.push_str("\r\n");
    line
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

/// Every response of a form's attempts, one line each.
pub async fn attempts_csv(ctx: &Ctx, actor: &Actor, assessment: &str) -> Result<String> {
    let form = content::load(ctx, actor.livemode, assessment).await?;
    let mut out = row(&[
        "attempt",
        "learner",
        "status",
        "started_at",
        "ended_at",
        "item",
        "response",
        "score",
        "time_ms",
        "answered_at",
        "flags",
    ]
    .map(String::from));
    let mut after = String::new();
    loop {
        let rows = store::export_rows(ctx.db.reader(), &form.id, &after, 500).await?;
        let Some(last) = rows.last() else { break };
        after = last.0.id.clone();
        for (a, r) in &rows {
            let mut flags = Vec::new();
            for (bit, name) in [(1, "skipped"), (2, "reviewed"), (4, "flagged")] {
                if r.flags & bit != 0 {
                    flags.push(name);
                }
            }
            out.push_str(&row(&[
                a.external_id.clone(),
                a.learner.clone(),
                a.status.clone(),
                (a.started_at / 1000).to_string(),
                opt(a.ended_at.map(|e| e / 1000)),
                r.item_code.clone(),
                r.external_id.clone(),
                format!("{}", r.score_milli as f64 / 1000.0),
                opt(r.time_ms),
                (r.answered_at / 1000).to_string(),
                flags.join(" "),
            ]));
        }
    }
    Ok(out)
}

/// A form's item statistics and flags.
pub async fn item_statistics_csv(ctx: &Ctx, actor: &Actor, assessment: &str) -> Result<String> {
    let s = statistics::item_statistics(ctx, actor, assessment).await?;
    let mut out = row(&[
        "item",
        "topic",
        "difficulty",
        "p_value",
        "point_biserial",
        "corrected_item_total",
        "discrimination_27",
        "alpha_if_deleted",
        "a",
        "d",
        "b",
        "median_time_ms",
        "flags",
    ]
    .map(String::from));
    for i in s.items {
        out.push_str(&row(&[
            i.item,
            opt(i.topic),
            opt(i.difficulty),
            opt(i.p_value),
            opt(i.point_biserial),
            opt(i.corrected_item_total),
            opt(i.discrimination_27),
            opt(i.alpha_if_deleted),
            opt(i.a),
            opt(i.d),
            opt(i.b),
            opt(i.median_time_ms),
            i.flags.join(" "),
        ]));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::csv_field;

    #[test]
    fn formulas_are_neutralised_and_fields_quoted() {
        assert_eq!(csv_field("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(csv_field("-1+2"), "'-1+2");
        assert_eq!(csv_field("@cmd"), "'@cmd");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("plain"), "plain");
    }
}
