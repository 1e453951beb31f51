//! End-to-end tests through the public HTTP API, against a real database:
//! SQLite by default, PostgreSQL when `BURSAR_TEST_DB=postgres`.

mod common;

mod affiliate_clocks;
mod auth;
mod authorization;
mod browser;
mod cart_pages;
mod cart_subscriptions;
mod catalog;
mod checkout;
mod coupons;
mod customers;
mod documents;
mod dunning;
mod emails;
mod fx;
mod idempotency;
mod invoices;
mod learning;
mod learning_instructors;
mod learning_staff;
mod ledger;
mod limits;
mod marketplace;
mod marketplace_refunds;
mod marketplace_search;
mod nul;
mod operations;
mod pages;
mod payments;
mod payouts;
mod portal;
mod refunds;
mod staff;
mod staff_billing;
mod subscriptions;
mod tax;
mod test_clocks;
mod usage;
mod webhooks_out;
