//! The course pages' cart before it is a cart: courses a visitor picked,
//! priced again on every view, with what a signed-in learner already owns
//! taken out.

use crate::ctx::Ctx;
use crate::error::Result;
use bursar_store::marketplace as store;
use std::collections::BTreeMap;

/// Whether a course can be put in a cart of a currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offer {
    /// Published and priced in the currency.
    OnSale,
    /// Not published, or no such course.
    Unavailable,
    /// Published, not priced in the currency.
    OtherCurrency,
}

/// Whether `course` is on sale in `currency`.
pub async fn offer(ctx: &Ctx, livemode: bool, course: &str, currency: &str) -> Result<Offer> {
    let r = ctx.db.reader();
    let found = store::course(r, livemode, course).await?.filter(|c| c.status == "published");
    if found.is_none() {
        return Ok(Offer::Unavailable);
    }
    let prices = store::prices_of(r, &[course.to_string()]).await?;
    Ok(if prices.iter().any(|(_, cur, _)| cur == currency) { Offer::OnSale } else { Offer::OtherCurrency })
}

/// One course of the cart as priced now.
#[derive(Debug, Clone)]
pub struct Line {
    pub id: String,
    pub title: String,
    /// The instructor's name.
    pub instructor: String,
    /// The price in the cart's currency, minor units, when it has one.
    pub amount: Option<i64>,
    /// Why it cannot be bought now, if so.
    pub unavailable: Option<String>,
}

/// What the cart holds now.
#[derive(Debug, Clone, Default)]
pub struct Preview {
    pub lines: Vec<Line>,
    /// The ids that can be bought now.
    pub buyable: Vec<String>,
    /// What they cost together, minor units.
    pub total: i64,
    /// Titles the customer already owns (left out of `lines`).
    pub owned: Vec<String>,
}

/// Prices `items` in `currency`: each line's current price, those that
/// cannot be bought marked, and what `customer` already owns taken out.
pub async fn preview(
    ctx: &Ctx,
    livemode: bool,
    currency: &str,
    items: &[String],
    customer: Option<&str>,
) -> Result<Preview> {
    let r = ctx.db.reader();
    let courses = store::courses_by_ids(r, livemode, items).await?;
    let prices = store::prices_of(r, items).await?;
    let mut out = Preview::default();
    // Each instructor's name once, however many of their courses are here.
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    for id in items {
        let Some(c) = courses.iter().find(|c| c.id == *id) else { continue };
        if let Some(cus) = customer {
            if store::is_enrolled(r, cus, id).await? {
                out.owned.push(c.title.clone());
                continue;
            }
        }
        let price = prices.iter().find(|(pid, cur, _)| pid == id && cur == currency).map(|(_, _, a)| *a);
        if !names.contains_key(&c.instructor_id) {
            let name = store::instructor(r, livemode, &c.instructor_id).await?.map(|i| i.name);
            names.insert(c.instructor_id.clone(), name.unwrap_or_default());
        }
        let unavailable = match (c.status.as_str(), price) {
            ("published", Some(_)) => None,
            ("published", None) => Some(format!("not sold in {currency}")),
            _ => Some("no longer on sale".to_string()),
        };
        if unavailable.is_none() {
            out.buyable.push(id.clone());
            out.total += price.unwrap_or(0);
        }
        out.lines.push(Line {
            id: id.clone(),
            title: c.title.clone(),
            instructor: names.get(&c.instructor_id).cloned().unwrap_or_default(),
            amount: price,
            unavailable,
        });
    }
    Ok(out)
}

/// How the page names the buyer: their email, else their name.
pub async fn buyer_label(ctx: &Ctx, livemode: bool, customer: &str) -> Result<Option<String>> {
    Ok(bursar_store::customers::get(ctx.db.reader(), livemode, customer).await?.and_then(|c| c.email.or(c.name)))
}
