//! Test clocks: stored instants that test-mode customers live by.

use crate::db::{DbError, Tx};
use sqlx::{Any, Executor, Row};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestClockRow {
    pub id: String,
    pub name: Option<String>,
    pub frozen_time: i64,
    pub created_at: i64,
    pub deleted_at: Option<i64>,
}

pub async fn insert(tx: &mut Tx, c: &TestClockRow) -> Result<(), DbError> {
    sqlx::query("INSERT INTO test_clocks (id, name, frozen_time, created_at, deleted_at) VALUES ($1,$2,$3,$4,$5)")
        .bind(c.id.clone())
        .bind(c.name.clone())
        .bind(c.frozen_time)
        .bind(c.created_at)
        .bind(c.deleted_at)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn get<'e, E: Executor<'e, Database = Any>>(ex: E, id: &str) -> Result<Option<TestClockRow>, DbError> {
    let r = sqlx::query("SELECT id, name, frozen_time, created_at, deleted_at FROM test_clocks WHERE id = $1")
        .bind(id)
        .fetch_optional(ex)
        .await?;
    Ok(r.map(|r| TestClockRow {
        id: r.get(0),
        name: r.get(1),
        frozen_time: r.get(2),
        created_at: r.get(3),
        deleted_at: r.get(4),
    }))
}

pub async fn set_time(tx: &mut Tx, id: &str, frozen_time: i64) -> Result<(), DbError> {
    sqlx::query("UPDATE test_clocks SET frozen_time = $2 WHERE id = $1")
        .bind(id)
        .bind(frozen_time)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn delete(tx: &mut Tx, id: &str, now: i64) -> Result<(), DbError> {
    sqlx::query("UPDATE test_clocks SET deleted_at = $2 WHERE id = $1").bind(id).bind(now).execute(&mut **tx).await?;
    Ok(())
}
