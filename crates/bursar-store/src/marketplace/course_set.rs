//! Course sets keyed by an owner: a cart's items, a learner's wishlist.

use crate::db::{DbError, Tx};
use sqlx::{Any, Executor};

/// A set of courses someone keeps: a cart's items, a learner's wishlist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CourseSet {
    Cart,
    Wishlist,
}

impl CourseSet {
    /// (table, owner column, time column)
    pub(super) fn names(self) -> (&'static str, &'static str, &'static str) {
        match self {
            CourseSet::Cart => ("cart_items", "cart_id", "added_at"),
            CourseSet::Wishlist => ("wishlist_items", "customer_id", "created_at"),
        }
    }

    /// Adds a course; false when it was already there.
    pub(super) async fn add(self, tx: &mut Tx, owner: &str, course_id: &str, now: i64) -> Result<bool, DbError> {
        let (table, col, at) = self.names();
        let sql = sqlx::AssertSqlSafe(format!(
            "INSERT INTO {table} ({col}, course_id, {at}) VALUES ($1,$2,$3) ON CONFLICT ({col}, course_id) DO NOTHING"
        ));
        let r = sqlx::query(sql).bind(owner).bind(course_id).bind(now).execute(&mut **tx).await?;
        Ok(r.rows_affected() == 1)
    }

    /// Removes a course; false when it was not there.
    pub(super) async fn remove(self, tx: &mut Tx, owner: &str, course_id: &str) -> Result<bool, DbError> {
        let (table, col, _) = self.names();
        let sql = sqlx::AssertSqlSafe(format!("DELETE FROM {table} WHERE {col} = $1 AND course_id = $2"));
        let r = sqlx::query(sql).bind(owner).bind(course_id).execute(&mut **tx).await?;
        Ok(r.rows_affected() == 1)
    }

    /// The course ids, oldest first.
    pub(super) async fn list<'e, E: Executor<'e, Database = Any>>(
        self,
        ex: E,
        owner: &str,
    ) -> Result<Vec<String>, DbError> {
        let (table, col, at) = self.names();
        let sql =
            sqlx::AssertSqlSafe(format!("SELECT course_id FROM {table} WHERE {col} = $1 ORDER BY {at}, course_id"));
        Ok(sqlx::query_scalar(sql).bind(owner).fetch_all(ex).await?)
    }
}
