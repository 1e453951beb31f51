//! Enrollments: the courses a customer was granted by their orders.

use crate::actor::Actor;
use crate::common::{secs, List, Page};
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::idempotency::Reply;
use bursar_store::marketplace::{self as store, EnrollmentRow};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct Enrollment {
    pub id: String,
    /// Always `enrollment`.
    pub object: &'static str,
    pub customer: String,
    pub course: String,
    pub order: Option<String>,
    /// `active` or `revoked` (the order was refunded).
    pub status: String,
    pub completed_at: Option<i64>,
    pub created: i64,
}

fn render(e: EnrollmentRow) -> Enrollment {
    Enrollment {
        id: e.id,
        object: "enrollment",
        customer: e.customer_id,
        course: e.course_id,
        order: e.order_id,
        status: e.status,
        completed_at: e.completed_at.map(secs),
        created: secs(e.created_at),
    }
}

/// A page of enrollments, of one customer or course or all.
pub async fn list(
    ctx: &Ctx,
    actor: &Actor,
    customer: Option<&str>,
    course: Option<&str>,
    page: &Page,
) -> Result<List<Enrollment>> {
    let rows = store::enrollments(
        ctx.db.reader(),
        actor.livemode,
        customer,
        course,
        page.starting_after.as_deref(),
        page.limit + 1,
    )
    .await?;
    Ok(List::from_rows(rows, page.limit).map(render))
}

/// Marks an active enrollment completed (once: completing it again
/// changes nothing), with `enrollment.completed`.
pub async fn complete(ctx: &Ctx, actor: &Actor, id: &str, reply: &Reply) -> Result<Enrollment> {
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let n = bursar_store::marketplace::complete_enrollment(&mut tx, actor.livemode, id, now).await?;
    let row = bursar_store::order_refunds::enrollment_by_id(&mut tx, actor.livemode, id)
        .await?
        .ok_or_else(|| Error::not_found("id", "enrollment", id))?;
    if row.status != "active" {
        return Err(Error::invalid("id", "a revoked enrollment cannot be completed"));
    }
    if n == 1 {
        bursar_store::events::emit(
            &mut tx,
            actor.livemode,
            "enrollment.completed",
            &row.id,
            &serde_json::json!({"id": row.id, "customer": row.customer_id, "course": row.course_id}),
            now,
        )
        .await?;
    }
    let out = render(row);
    reply.commit(tx, &out).await?;
    Ok(out)
}
