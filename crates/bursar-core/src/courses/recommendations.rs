//! "Learners who bought this also bought" and personal suggestions, by
//! item-based collaborative filtering over purchases (active enrollments)
//! and completions.
//!
//! Two courses are similar by the cosine of their buyer sets:
//! `both / sqrt(buyers(x) × buyers(y))`. A learner's suggestions score each
//! course they do not hold by the sum of its similarities to the courses
//! they hold, a completed course counting double (finishing is a stronger
//! signal than buying). Only published courses are suggested; with no
//! signal at all, the best sellers are.

use super::course::{render, Course};
use super::live_customer;
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::Actor;
use bursar_store::marketplace as market;
use bursar_store::recommend as store;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use utoipa::ToSchema;

/// Neighbours considered per held course.
const NEIGHBOURS: i64 = 200;

/// The cosine similarity of two buyer sets from their sizes and overlap.
pub fn similarity(both: i64, buyers_x: i64, buyers_y: i64) -> f64 {
    if both <= 0 || buyers_x <= 0 || buyers_y <= 0 {
        return 0.0;
    }
    both as f64 / ((buyers_x as f64) * (buyers_y as f64)).sqrt()
}

/// Orders scored courses, best first, ties by id (stable, deterministic).
pub fn ranked(scores: BTreeMap<String, f64>, limit: usize) -> Vec<(String, f64)> {
    let mut v: Vec<(String, f64)> = scores.into_iter().filter(|(_, s)| *s > 0.0).collect();
    v.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v.truncate(limit);
    v
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Suggestion {
    /// Similarity score (higher is closer); 0 for best-seller fallbacks.
    pub score: f64,
    pub course: Course,
}

/// The number of suggestions asked for: 1 to 50 (10 when absent).
pub fn limit_of(limit: Option<&str>) -> Result<usize> {
    match limit {
        None => Ok(10),
        Some(s) => s
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=50).contains(n))
            .ok_or_else(|| Error::invalid("limit", "limit is 1 to 50")),
    }
}

/// Similarities of every neighbour of `course` (co-bought at least once).
async fn neighbours(ctx: &Ctx, course: &str) -> Result<BTreeMap<String, f64>> {
    let r = ctx.db.reader();
    let co = store::co_enrolled(r, course, NEIGHBOURS).await?;
    let mut ids: Vec<String> = co.iter().map(|(c, _)| c.clone()).collect();
    ids.push(course.to_string());
    let sizes: BTreeMap<String, i64> = store::holders(r, &ids).await?.into_iter().collect();
    let n_x = sizes.get(course).copied().unwrap_or(0);
    Ok(co
        .into_iter()
        .map(|(c, both)| {
            let s = similarity(both, n_x, sizes.get(&c).copied().unwrap_or(0));
            (c, s)
        })
        .collect())
}

/// Keeps published courses, renders them in score order.
async fn suggestions(ctx: &Ctx, livemode: bool, scored: Vec<(String, f64)>) -> Result<Vec<Suggestion>> {
    let ids: Vec<String> = scored.iter().map(|(c, _)| c.clone()).collect();
    let rows = market::courses_by_ids(ctx.db.reader(), livemode, &ids).await?;
    let mut data = Vec::new();
    for (id, score) in scored {
        if let Some(c) = rows.iter().find(|c| c.id == id && c.status == "published") {
            data.push(Suggestion { score, course: render(ctx, c.clone()).await? });
        }
    }
    Ok(data)
}

/// The courses most often bought with `id` (a bundle stands for its
/// courses). Co-purchases are the platform's data.
pub async fn also_bought(ctx: &Ctx, actor: &Actor, id: &str, limit: usize) -> Result<Vec<Suggestion>> {
    let c = market::course(ctx.db.reader(), actor.livemode, id)
        .await?
        .ok_or_else(|| Error::not_found("id", "course", id))?;
    // A bundle stands for its courses.
    let members =
        if c.kind == "bundle" { market::bundle_items(ctx.db.reader(), &c.id).await? } else { vec![c.id.clone()] };
    let mut scores: BTreeMap<String, f64> = BTreeMap::new();
    for m in &members {
        for (other, s) in neighbours(ctx, m).await? {
            *scores.entry(other).or_default() += s;
        }
    }
    for m in members.iter().chain(std::iter::once(&c.id)) {
        scores.remove(m);
    }
    let top = ranked(scores, limit);
    suggestions(ctx, actor.livemode, top).await
}

/// A learner's suggestions, topped up with best sellers they do not hold.
/// Returns the customer's id with them.
pub async fn for_customer(ctx: &Ctx, actor: &Actor, id: &str, limit: usize) -> Result<(String, Vec<Suggestion>)> {
    let customer = live_customer(ctx, actor.livemode, id).await?;
    let held = store::held_by(ctx.db.reader(), &customer.id).await?;
    let owned: BTreeSet<String> = held.iter().map(|(c, _)| c.clone()).collect();
    let mut scores: BTreeMap<String, f64> = BTreeMap::new();
    for (course, completed) in &held {
        let weight = if *completed { 2.0 } else { 1.0 };
        for (other, s) in neighbours(ctx, course).await? {
            if !owned.contains(&other) {
                *scores.entry(other).or_default() += weight * s;
            }
        }
    }
    let mut top = ranked(scores, limit);
    if top.len() < limit {
        // Not enough signal: best sellers the learner does not hold.
        let have: BTreeSet<String> = top.iter().map(|(c, _)| c.clone()).collect();
        for c in store::best_selling(ctx.db.reader(), actor.livemode, (limit * 3) as i64).await? {
            if top.len() == limit {
                break;
            }
            if !owned.contains(&c) && !have.contains(&c) {
                top.push((c, 0.0));
            }
        }
    }
    Ok((customer.id.clone(), suggestions(ctx, actor.livemode, top).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_of_buyer_sets() {
        assert_eq!(similarity(0, 10, 10), 0.0);
        assert!((similarity(5, 10, 10) - 0.5).abs() < 1e-12);
        // The same overlap means more between two niche courses than two hits.
        assert!(similarity(5, 10, 10) > similarity(5, 100, 100));
    }

    #[test]
    fn ranking_is_by_score_then_id() {
        let s =
            BTreeMap::from([("b".to_string(), 0.5), ("a".to_string(), 0.5), ("c".to_string(), 0.9), ("d".into(), 0.0)]);
        let r: Vec<String> = ranked(s, 10).into_iter().map(|x| x.0).collect();
        assert_eq!(r, vec!["c", "a", "b"]);
    }
}
