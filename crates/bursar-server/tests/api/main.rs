//! End-to-end tests through the public HTTP API, against a real database:
//! SQLite by default, PostgreSQL when `BURSAR_TEST_DB=postgres`.

mod common;

mod auth;
mod catalog;
mod customers;
mod idempotency;
mod ledger;
mod operations;
mod staff;
mod subscriptions;
mod test_clocks;
