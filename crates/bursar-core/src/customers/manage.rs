//! Creating, listing, reading, changing and deleting customers.

use super::fields::{
    check_address, check_email, check_fields, check_tax_ids, conflict_external_id, norm, verify_tax_ids,
};
use super::model::{credit_account, render, Customer, CustomerCreate, CustomerUpdate, DeletedCustomer};
use crate::actor::Actor;
use crate::common::{check_len, validate_metadata, List, Page};
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::idempotency::Reply;
use bursar_domain::id::{is_valid, new_id, IdKind};
use bursar_store::customers::{self, CustomerRow};
use bursar_store::{clocks, events, ledger};
use std::collections::BTreeMap;

pub use bursar_store::customers::ListFilter;

/// Creates a customer in the actor's mode (on a test clock's time when it
/// names one) and emits `customer.created`.
pub async fn create(ctx: &Ctx, actor: &Actor, body: CustomerCreate, reply: &Reply) -> Result<Customer> {
    let f = check_fields(body.country, body.locale, body.preferred_currency)?;
    let external_id = norm(body.external_id);
    check_len("external_id", &external_id, 200)?;
    let email = norm(body.email);
    check_email(&email)?;
    check_len("name", &body.name, 200)?;
    check_len("phone", &body.phone, 40)?;
    let address = body.address.as_ref().map(check_address).transpose()?;
    let mut tax_ids = body.tax_ids.unwrap_or_default();
    check_tax_ids(&tax_ids)?;
    verify_tax_ids(ctx, &mut tax_ids).await?;
    let metadata = body.metadata.unwrap_or_default();
    validate_metadata(&metadata)?;

    let mut tx = ctx.db.begin().await?;
    let mut now = ctx.now_ms();
    let test_clock = match norm(body.test_clock) {
        None => None,
        Some(id) => {
            if actor.livemode {
                return Err(Error::invalid("test_clock", "test clocks can only be used in test mode"));
            }
            let clock = clocks::get(&mut *tx, &id)
                .await?
                .filter(|c| c.deleted_at.is_none())
                .ok_or_else(|| Error::not_found("test_clock", "test clock", &id))?;
            now = clock.frozen_time;
            Some(clock.id)
        }
    };
    let row = CustomerRow {
        id: new_id(IdKind::Customer),
        livemode: actor.livemode,
        external_id,
        email,
        name: norm(body.name),
        phone: norm(body.phone),
        country: f.country.or_else(|| address.as_ref().and_then(|a| a.country.clone())),
        locale: f.locale,
        preferred_currency: f.preferred_currency,
        address: address.map(|a| serde_json::to_string(&a).unwrap_or_default()),
        tax_ids: serde_json::to_string(&tax_ids).unwrap_or_else(|_| "[]".into()),
        metadata: serde_json::to_string(&metadata).unwrap_or_else(|_| "{}".into()),
        test_clock_id: test_clock,
        created_at: now,
        updated_at: now,
        deleted_at: None,
    };
    customers::insert(&mut tx, &row).await.map_err(conflict_external_id)?;
    let out = render(row, &[]);
    events::emit(
        &mut tx,
        actor.livemode,
        "customer.created",
        &out.id,
        &serde_json::to_value(&out).unwrap_or_default(),
        now,
    )
    .await?;
    reply.commit(tx, &out).await?;
    Ok(out)
}

/// Customers of the actor's mode, newest first, optionally filtered.
pub async fn list(ctx: &Ctx, actor: &Actor, filter: &ListFilter, page: &Page) -> Result<List<Customer>> {
    if let Some(s) = &page.starting_after {
        if !is_valid(IdKind::Customer, s) {
            return Err(Error::invalid("starting_after", "starting_after must be a customer id"));
        }
    }
    let rows = customers::list(ctx.db.reader(), actor.livemode, filter, page.starting_after.as_deref(), page.limit + 1)
        .await?;
    let accounts: Vec<String> = rows.iter().map(|r| credit_account(&r.id)).collect();
    let balances = ledger::balances_of(&ctx.db, actor.livemode, &accounts).await?;
    Ok(List::from_rows(rows, page.limit).map(|r| render(r, &balances)))
}

/// A customer of the actor's mode that is not deleted; otherwise not found
/// (`param` `id`).
pub async fn live(ctx: &Ctx, livemode: bool, id: &str) -> Result<CustomerRow> {
    if !is_valid(IdKind::Customer, id) {
        return Err(Error::not_found("id", "customer", id));
    }
    customers::get(ctx.db.reader(), livemode, id)
        .await?
        .filter(|c| c.deleted_at.is_none())
        .ok_or_else(|| Error::not_found("id", "customer", id))
}

pub async fn get(ctx: &Ctx, actor: &Actor, id: &str) -> Result<Customer> {
    let row = live(ctx, actor.livemode, id).await?;
    let b = ledger::balances_of(&ctx.db, row.livemode, &[credit_account(&row.id)]).await?;
    Ok(render(row, &b))
}

/// Changes the fields the update names (`null` clears one) and emits
/// `customer.updated`.
pub async fn update(ctx: &Ctx, actor: &Actor, id: &str, body: CustomerUpdate, reply: &Reply) -> Result<Customer> {
    if !is_valid(IdKind::Customer, id) {
        return Err(Error::not_found("id", "customer", id));
    }
    let f = check_fields(
        body.country.clone().flatten(),
        body.locale.clone().flatten(),
        body.preferred_currency.clone().flatten(),
    )?;
    // Tax ids are checked (online, when configured) before the transaction.
    let mut body = body;
    let tax_ids = match body.tax_ids.take() {
        Some(mut t) => {
            check_tax_ids(&t)?;
            verify_tax_ids(ctx, &mut t).await?;
            Some(t)
        }
        None => None,
    };
    let mut tx = ctx.db.begin().await?;
    customers::lock(&mut tx, ctx.db.for_update(), actor.livemode, id).await?;
    let mut row = customers::get(&mut *tx, actor.livemode, id)
        .await?
        .filter(|c| c.deleted_at.is_none())
        .ok_or_else(|| Error::not_found("id", "customer", id))?;
    if let Some(v) = body.external_id {
        let v = norm(v);
        check_len("external_id", &v, 200)?;
        row.external_id = v;
    }
    if let Some(v) = body.email {
        let v = norm(v);
        check_email(&v)?;
        row.email = v;
    }
    if let Some(v) = body.name {
        check_len("name", &v, 200)?;
        row.name = norm(v);
    }
    if let Some(v) = body.phone {
        check_len("phone", &v, 40)?;
        row.phone = norm(v);
    }
    if body.country.is_some() {
        row.country = f.country;
    }
    if body.locale.is_some() {
        row.locale = f.locale;
    }
    if body.preferred_currency.is_some() {
        row.preferred_currency = f.preferred_currency;
    }
    if let Some(a) = body.address {
        row.address = match a {
            None => None,
            Some(a) => Some(serde_json::to_string(&check_address(&a)?).unwrap_or_default()),
        };
    }
    if let Some(t) = tax_ids {
        row.tax_ids = serde_json::to_string(&t).unwrap_or_else(|_| "[]".into());
    }
    if let Some(m) = body.metadata {
        let mut cur: BTreeMap<String, String> = serde_json::from_str(&row.metadata).unwrap_or_default();
        for (k, v) in m {
            if v.is_empty() {
                cur.remove(&k);
            } else {
                cur.insert(k, v);
            }
        }
        validate_metadata(&cur)?;
        row.metadata = serde_json::to_string(&cur).unwrap_or_else(|_| "{}".into());
    }
    let now = crate::time::customer_now(ctx, &mut tx, &row).await?;
    row.updated_at = now.max(row.created_at);
    customers::update(&mut tx, &row).await.map_err(conflict_external_id)?;
    let balances = ledger::balances_of(&ctx.db, actor.livemode, &[credit_account(&row.id)]).await?;
    let out = render(row, &balances);
    events::emit(
        &mut tx,
        actor.livemode,
        "customer.updated",
        &out.id,
        &serde_json::to_value(&out).unwrap_or_default(),
        now,
    )
    .await?;
    reply.commit(tx, &out).await?;
    Ok(out)
}

/// Marks a customer deleted and emits `customer.deleted`.
pub async fn delete(ctx: &Ctx, actor: &Actor, id: &str, reply: &Reply) -> Result<DeletedCustomer> {
    if !is_valid(IdKind::Customer, id) {
        return Err(Error::not_found("id", "customer", id));
    }
    let mut tx = ctx.db.begin().await?;
    customers::lock(&mut tx, ctx.db.for_update(), actor.livemode, id).await?;
    let mut row = customers::get(&mut *tx, actor.livemode, id)
        .await?
        .filter(|c| c.deleted_at.is_none())
        .ok_or_else(|| Error::not_found("id", "customer", id))?;
    let now = crate::time::customer_now(ctx, &mut tx, &row).await?;
    row.deleted_at = Some(now);
    row.updated_at = now.max(row.created_at);
    customers::update(&mut tx, &row).await?;
    let out = DeletedCustomer { id: row.id.clone(), object: "customer", deleted: true };
    events::emit(
        &mut tx,
        actor.livemode,
        "customer.deleted",
        &row.id,
        &serde_json::to_value(&out).unwrap_or_default(),
        now,
    )
    .await?;
    reply.commit(tx, &out).await?;
    Ok(out)
}
