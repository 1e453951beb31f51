//! Operations of the `bursar` command that run outside a server: opening
//! and migrating the database, the SQLite lock, backups and restores, the
//! ledger's self-check, staff accounts, API keys, catalog files, the billing
//! run and the cleanup of scratch schemas. Storage failures keep their own
//! message ([`DbError`]), which the command prints.

use crate::config::Config;
use bursar_domain::catalog::CatalogDoc;
use bursar_store::auth::{self, ApiKeyRow, StaffRow};
use bursar_store::{backup, db as store_db, ledger};
use std::path::Path;
use std::sync::Arc;

pub use bursar_store::ledger::VerifyReport;
pub use bursar_store::{Db, DbConfig, DbError};

/// Connects to the configured database.
pub async fn connect(config: &Config) -> Result<Db, DbError> {
    Db::connect(&config.db_config()).await
}

/// Applies pending migrations.
pub async fn migrate(db: &Db) -> Result<(), DbError> {
    db.migrate().await
}

/// Connects to a PostgreSQL server with one connection.
pub async fn connect_postgres(database_url: &str) -> Result<Db, DbError> {
    Db::connect(&DbConfig::Postgres { url: database_url.to_string(), max_connections: 1, schema: None }).await
}

/// Takes the exclusive lock on a SQLite database file; held while the
/// returned file is open.
pub fn lock_database(path: &Path) -> Result<std::fs::File, DbError> {
    backup::lock_database(path)
}

/// Proves that every entry balances and every balance equals its postings.
pub async fn verify_ledger(db: &Db) -> Result<VerifyReport, DbError> {
    ledger::verify(db).await
}

/// Writes a consistent copy of the running SQLite database; its size.
pub async fn backup(db: &Db, dest: &Path) -> Result<u64, DbError> {
    backup::backup_sqlite(db, dest).await
}

/// Replaces the SQLite database with a backup (the server must be stopped).
pub async fn restore(source: &Path, target: &Path) -> Result<(), DbError> {
    backup::restore_sqlite(source, target).await
}

/// Imports a validated catalog document into one mode.
pub async fn import_catalog(
    db: &Db,
    livemode: bool,
    doc: &CatalogDoc,
    now: i64,
) -> Result<crate::catalog::ImportSummary, DbError> {
    let mut tx = db.begin().await?;
    let s = crate::catalog::import(&mut tx, livemode, doc, now).await?;
    tx.commit().await?;
    Ok(s)
}

/// Creates an API key; its secret is returned once.
pub async fn create_api_key(db: &Db, livemode: bool, name: &str, now: i64) -> Result<(ApiKeyRow, String), DbError> {
    let mut tx = db.begin().await?;
    let issued = crate::api_keys::issue_key(&mut tx, livemode, name, now).await?;
    tx.commit().await?;
    Ok(issued)
}

/// The shortest staff password accepted.
pub const MIN_STAFF_PASSWORD_CHARS: usize = 12;

/// Creates a staff account, or sets its name and password when the email
/// has one.
pub async fn save_staff(db: &Db, email: &str, name: &str, password: &str, now: i64) -> anyhow::Result<()> {
    if password.chars().count() < MIN_STAFF_PASSWORD_CHARS {
        anyhow::bail!("staff passwords must be at least {MIN_STAFF_PASSWORD_CHARS} characters");
    }
    let hash = crate::auth::hash_password(password).map_err(anyhow::Error::msg)?;
    let mut tx = db.begin().await?;
    auth::upsert_staff(
        &mut tx,
        &StaffRow {
            id: bursar_domain::id::new_id(bursar_domain::id::IdKind::StaffUser),
            email: email.trim().to_lowercase(),
            name: name.to_string(),
            password_hash: hash,
            created_at: now,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Renews everything due now with the configured providers; how many
/// period boundaries were processed.
pub async fn run_billing(db: &Db, config: &Config, now: i64) -> anyhow::Result<u32> {
    let providers =
        crate::providers::Providers::from_config(config).map_err(|e| anyhow::anyhow!("payment providers: {e}"))?;
    let settings =
        crate::settings::Settings { providers: Arc::new(providers), ..crate::settings::Settings::from_config(config) };
    crate::billing_run::run_due(db, &settings, now, None, 1_000)
        .await
        .map_err(|e| anyhow::anyhow!("billing run failed: {}", e.message))
}

/// Drops the PostgreSQL schemas whose names start with one of `prefixes`.
pub async fn drop_scratch_schemas(db: &Db, prefixes: &[&str]) -> Result<usize, DbError> {
    store_db::drop_scratch_schemas(db, prefixes).await
}

/// Which database the server runs on: `sqlite` or `postgres`.
pub fn database_name(ctx: &crate::ctx::Ctx) -> &'static str {
    ctx.db.backend().name()
}

/// Why the server is not ready to serve, if it is not: the database does
/// not answer, or a migration is not applied.
pub async fn not_ready(ctx: &crate::ctx::Ctx) -> Option<String> {
    match ctx.db.ping().await {
        Err(e) => Some(format!("database unreachable: {e}")),
        Ok(()) => match ctx.db.migrations_current().await {
            Ok(true) => None,
            Ok(false) => Some("migrations pending".to_string()),
            Err(e) => Some(format!("could not read migrations: {e}")),
        },
    }
}
