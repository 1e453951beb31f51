//! Forms (assessments) and items, by the platform's codes: imported as a
//! document (JSON, or items as CSV) or created one form at a time. A changed
//! item becomes a new version; responses keep the version they answered.

use crate::actor::Actor;
use crate::common::{secs, validate_metadata, List, Page};
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::idempotency::Reply;
use bursar_domain::id::{is_valid, new_id, IdKind};
use bursar_store::learning::calibrations as cal_store;
use bursar_store::learning::content::{self as store, AssessmentRow, ItemRow};
use bursar_store::{events, Tx};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use utoipa::ToSchema;

/// An item as the platform describes it.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ItemInput {
    /// The platform's id of the item.
    pub id: String,
    pub topic: String,
    pub skill: Option<String>,
    /// 1 (easiest) to 5.
    pub difficulty: i64,
    /// A digest of the item's content: a different one makes a new version.
    pub content_hash: Option<String>,
}

/// A form as the platform describes it.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AssessmentInput {
    /// The platform's id of the form.
    pub id: String,
    /// The exam the form prepares for (dashboards are per exam).
    pub exam: String,
    pub title: String,
    /// A course (`crs_…`) the form belongs to: its instructor sees the form's analysis.
    pub course: Option<String>,
    /// How long one question should take, in seconds (time management).
    pub target_seconds_per_item: Option<i64>,
    /// The items in order, by the platform's ids.
    pub items: Vec<String>,
    /// `active` (default) or `archived`.
    pub status: Option<String>,
    pub metadata: Option<BTreeMap<String, String>>,
}

/// Items and forms to create or update, idempotent by the platform's ids.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContentImport {
    #[serde(default)]
    pub items: Vec<ItemInput>,
    /// Items as CSV (`id,topic,skill,difficulty[,content_hash]` with a header row), besides `items`.
    pub items_csv: Option<String>,
    #[serde(default)]
    pub assessments: Vec<AssessmentInput>,
}

/// What an import changed.
#[derive(Debug, Clone, Default, Serialize, ToSchema, PartialEq, Eq)]
pub struct ContentImportResult {
    /// Always `content_import`.
    pub object: &'static str,
    pub items_created: i64,
    /// Items whose topic, skill, difficulty or content changed: a new version each.
    pub items_versioned: i64,
    pub items_unchanged: i64,
    pub assessments_created: i64,
    pub assessments_updated: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Assessment {
    pub id: String,
    /// Always `assessment`.
    pub object: &'static str,
    pub livemode: bool,
    /// The platform's id of the form.
    pub code: String,
    pub exam: String,
    pub title: String,
    pub course: Option<String>,
    pub target_seconds_per_item: Option<i64>,
    pub status: String,
    /// Item ids in order.
    pub items: Vec<String>,
    /// The calibration learners are scored against.
    pub active_calibration: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub created: i64,
    pub updated: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct Item {
    pub id: String,
    /// Always `item`.
    pub object: &'static str,
    /// The platform's id.
    pub code: String,
    pub version: i64,
    pub exam: String,
    pub topic: String,
    pub skill: Option<String>,
    pub difficulty: i64,
    pub current: bool,
    pub created: i64,
}

pub(crate) fn item_view(r: ItemRow) -> Item {
    Item {
        id: r.id,
        object: "item",
        code: r.code,
        version: r.version,
        exam: r.exam,
        topic: r.topic,
        skill: r.skill,
        difficulty: r.difficulty,
        current: r.current,
        created: secs(r.created_at),
    }
}

fn check_code(param: &str, v: &str) -> Result<()> {
    if v.is_empty() || v.chars().count() > 200 || v.chars().any(char::is_control) {
        return Err(Error::invalid(param, format!("`{param}` must be 1 to 200 characters without control characters")));
    }
    Ok(())
}

fn check_text(param: &str, v: &str, max: usize) -> Result<()> {
    if v.trim().is_empty() || v.chars().count() > max || v.chars().any(char::is_control) {
        return Err(Error::invalid(
            param,
            format!("`{param}` must be 1 to {max} characters without control characters"),
        ));
    }
    Ok(())
}

fn check_item(param: &str, i: &ItemInput) -> Result<()> {
    check_code(&format!("{param}.id"), &i.id)?;
    check_text(&format!("{param}.topic"), &i.topic, 200)?;
    if let Some(s) = &i.skill {
        check_text(&format!("{param}.skill"), s, 200)?;
    }
    if !(1..=5).contains(&i.difficulty) {
        return Err(Error::invalid(&format!("{param}.difficulty"), "difficulty is 1 (easiest) to 5"));
    }
    if let Some(h) = &i.content_hash {
        check_code(&format!("{param}.content_hash"), h)?;
    }
    Ok(())
}

/// Items from CSV text: a header naming `id`, `topic`, `difficulty` and
/// optionally `skill` and `content_hash`; errors name the line.
pub fn items_from_csv(text: &str) -> Result<Vec<ItemInput>> {
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
    let Some((_, header)) = lines.next() else { return Ok(Vec::new()) };
    let cols: Vec<String> = split_csv_line(header).into_iter().map(|c| c.trim().to_ascii_lowercase()).collect();
    let find = |name: &str| cols.iter().position(|c| c == name);
    let (Some(id), Some(topic), Some(diff)) = (find("id"), find("topic"), find("difficulty")) else {
        return Err(Error::invalid("items_csv", "the header must name the columns id, topic and difficulty"));
    };
    let (skill, hash) = (find("skill"), find("content_hash"));
    let mut out = Vec::new();
    for (n, line) in lines {
        let f = split_csv_line(line);
        let get = |i: usize| f.get(i).map(|s| s.trim().to_string()).unwrap_or_default();
        let param = format!("items_csv[line {}]", n + 1);
        let difficulty = get(diff)
            .parse::<i64>()
            .map_err(|_| Error::invalid(&param, format!("line {}: difficulty must be 1 to 5", n + 1)))?;
        let opt = |i: Option<usize>| i.map(get).filter(|s| !s.is_empty());
        let item = ItemInput { id: get(id), topic: get(topic), skill: opt(skill), difficulty, content_hash: opt(hash) };
        check_item(&param, &item)?;
        out.push(item);
    }
    Ok(out)
}

/// One CSV line's fields (RFC 4180 quoting, within one line).
fn split_csv_line(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

fn check_assessment(param: &str, a: &AssessmentInput) -> Result<()> {
    check_code(&format!("{param}.id"), &a.id)?;
    check_code(&format!("{param}.exam"), &a.exam)?;
    check_text(&format!("{param}.title"), &a.title, 300)?;
    if let Some(c) = &a.course {
        if !is_valid(IdKind::Course, c) {
            return Err(Error::invalid(&format!("{param}.course"), "course must be a course id (crs_…)"));
        }
    }
    if a.target_seconds_per_item.is_some_and(|t| !(1..=86_400).contains(&t)) {
        return Err(Error::invalid(&format!("{param}.target_seconds_per_item"), "1 to 86400 seconds"));
    }
    if a.items.is_empty() || a.items.len() > 5_000 {
        return Err(Error::invalid(&format!("{param}.items"), "a form has 1 to 5000 items"));
    }
    let mut seen = BTreeSet::new();
    for (j, code) in a.items.iter().enumerate() {
        check_code(&format!("{param}.items[{j}]"), code)?;
        if !seen.insert(code) {
            return Err(Error::invalid(&format!("{param}.items[{j}]"), format!("item `{code}` is listed twice")));
        }
    }
    if !matches!(a.status.as_deref(), None | Some("active") | Some("archived")) {
        return Err(Error::invalid(&format!("{param}.status"), "status is active or archived"));
    }
    if let Some(m) = &a.metadata {
        validate_metadata(m).map_err(|e| e.with_param(format!("{param}.metadata")))?;
    }
    Ok(())
}

/// Creates or updates items and forms. Nothing is written when any part is
/// invalid. The answer is stored for the idempotency key with the change.
pub async fn import(ctx: &Ctx, actor: &Actor, body: ContentImport, reply: &Reply) -> Result<ContentImportResult> {
    let mut items = body.items;
    for (i, it) in items.iter().enumerate() {
        check_item(&format!("items[{i}]"), it)?;
    }
    if let Some(csv) = &body.items_csv {
        items.extend(items_from_csv(csv)?);
    }
    let mut seen = BTreeSet::new();
    for (i, it) in items.iter().enumerate() {
        if !seen.insert(it.id.clone()) {
            return Err(Error::invalid(&format!("items[{i}].id"), format!("item `{}` is given twice", it.id)));
        }
    }
    for (i, a) in body.assessments.iter().enumerate() {
        check_assessment(&format!("assessments[{i}]"), a)?;
    }
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let out = write_content(&mut tx, actor, &items, &body.assessments, now).await?;
    events::audit(
        &mut tx,
        actor.kind,
        &actor.id,
        "learning.content_import",
        None,
        &serde_json::json!({"items": items.len(), "assessments": body.assessments.len()}),
        now,
    )
    .await?;
    reply.commit(tx, &out).await?;
    Ok(out)
}

async fn write_content(
    tx: &mut Tx,
    actor: &Actor,
    items: &[ItemInput],
    assessments: &[AssessmentInput],
    now: i64,
) -> Result<ContentImportResult> {
    let livemode = actor.livemode;
    let mut out = ContentImportResult { object: "content_import", ..Default::default() };
    // The exam of each item is its form's (an item listed by no form keeps "").
    let mut exam_of: BTreeMap<&str, &str> = BTreeMap::new();
    for a in assessments {
        for code in &a.items {
            exam_of.entry(code.as_str()).or_insert(a.exam.as_str());
        }
    }
    let codes: Vec<String> = items.iter().map(|i| i.id.clone()).collect();
    let current: BTreeMap<String, ItemRow> =
        store::current_items(tx, livemode, &codes).await?.into_iter().map(|r| (r.code.clone(), r)).collect();
    for it in items {
        let exam = exam_of.get(it.id.as_str()).copied().map(str::to_string);
        let version = match current.get(&it.id) {
            Some(c)
                if c.topic == it.topic
                    && c.skill == it.skill
                    && c.difficulty == it.difficulty
                    && c.content_hash == it.content_hash
                    && exam.as_ref().is_none_or(|e| *e == c.exam) =>
            {
                out.items_unchanged += 1;
                continue;
            }
            Some(c) => {
                out.items_versioned += 1;
                c.version + 1
            }
            None => {
                out.items_created += 1;
                1
            }
        };
        let exam = exam.or_else(|| current.get(&it.id).map(|c| c.exam.clone())).unwrap_or_default();
        let row = ItemRow {
            id: new_id(IdKind::Item),
            livemode,
            code: it.id.clone(),
            version,
            exam,
            topic: it.topic.clone(),
            skill: it.skill.clone(),
            difficulty: it.difficulty,
            content_hash: it.content_hash.clone(),
            current: true,
            created_at: now,
        };
        store::insert_item_version(tx, &row).await?;
    }
    for (i, a) in assessments.iter().enumerate() {
        let known: BTreeSet<String> =
            store::current_items(tx, livemode, &a.items).await?.into_iter().map(|r| r.code).collect();
        if let Some((j, code)) = a.items.iter().enumerate().find(|(_, c)| !known.contains(*c)) {
            return Err(Error::invalid(
                &format!("assessments[{i}].items[{j}]"),
                format!("no item `{code}`: import it first or with the form"),
            ));
        }
        let metadata = serde_json::to_string(&a.metadata.clone().unwrap_or_default()).unwrap_or_else(|_| "{}".into());
        match store::assessment_by_code(&mut **tx, livemode, &a.id).await? {
            Some(mut row) => {
                row.exam = a.exam.clone();
                row.title = a.title.clone();
                row.course_id = a.course.clone();
                row.target_ms_per_item = a.target_seconds_per_item.map(|s| s * 1000);
                row.status = a.status.clone().unwrap_or_else(|| row.status.clone());
                row.metadata = metadata;
                row.updated_at = now;
                store::update_assessment(tx, &row).await?;
                store::set_assessment_items(tx, &row.id, &a.items).await?;
                out.assessments_updated += 1;
            }
            None => {
                let row = AssessmentRow {
                    id: new_id(IdKind::Assessment),
                    livemode,
                    code: a.id.clone(),
                    exam: a.exam.clone(),
                    title: a.title.clone(),
                    course_id: a.course.clone(),
                    target_ms_per_item: a.target_seconds_per_item.map(|s| s * 1000),
                    status: a.status.clone().unwrap_or_else(|| "active".into()),
                    metadata,
                    created_at: now,
                    updated_at: now,
                };
                store::insert_assessment(tx, &row).await?;
                store::set_assessment_items(tx, &row.id, &a.items).await?;
                out.assessments_created += 1;
            }
        }
    }
    Ok(out)
}

/// A form by its id (`asm_…`) or the platform's code.
pub(crate) async fn load(ctx: &Ctx, livemode: bool, key: &str) -> Result<AssessmentRow> {
    let row = if is_valid(IdKind::Assessment, key) {
        store::assessment(ctx.db.reader(), livemode, key).await?
    } else {
        store::assessment_by_code(ctx.db.reader(), livemode, key).await?
    };
    row.ok_or_else(|| Error::not_found("id", "assessment", key))
}

pub(crate) async fn view(ctx: &Ctx, r: AssessmentRow) -> Result<Assessment> {
    let items = store::assessment_item_codes(ctx.db.reader(), &r.id).await?;
    let active = cal_store::active(ctx.db.reader(), &r.id).await?.map(|c| c.id);
    Ok(Assessment {
        object: "assessment",
        livemode: r.livemode,
        code: r.code,
        exam: r.exam,
        title: r.title,
        course: r.course_id,
        target_seconds_per_item: r.target_ms_per_item.map(|ms| ms / 1000),
        status: r.status,
        items,
        active_calibration: active,
        metadata: serde_json::from_str(&r.metadata).unwrap_or_default(),
        created: secs(r.created_at),
        updated: secs(r.updated_at),
        id: r.id,
    })
}

pub async fn get(ctx: &Ctx, actor: &Actor, key: &str) -> Result<Assessment> {
    let r = load(ctx, actor.livemode, key).await?;
    view(ctx, r).await
}

/// A page of forms, newest first; optionally one exam's.
pub async fn list(ctx: &Ctx, actor: &Actor, exam: Option<&str>, page: &Page) -> Result<List<Assessment>> {
    if let Some(s) = &page.starting_after {
        if !is_valid(IdKind::Assessment, s) {
            return Err(Error::invalid("starting_after", "starting_after must be an assessment id"));
        }
    }
    let rows = store::list_assessments(
        ctx.db.reader(),
        actor.livemode,
        exam,
        None,
        page.starting_after.as_deref(),
        page.limit + 1,
    )
    .await?;
    let page_rows = List::from_rows(rows, page.limit);
    let mut data = Vec::with_capacity(page_rows.data.len());
    for r in page_rows.data {
        data.push(view(ctx, r).await?);
    }
    Ok(List { data, has_more: page_rows.has_more })
}

/// Every version of an item, oldest first.
pub async fn item_versions(ctx: &Ctx, actor: &Actor, code: &str) -> Result<Vec<Item>> {
    let rows = store::item_versions(ctx.db.reader(), actor.livemode, code).await?;
    if rows.is_empty() {
        return Err(Error::not_found("id", "item", code));
    }
    Ok(rows.into_iter().map(item_view).collect())
}
