//! Connection pools for the two supported databases behind one type.
//!
//! Queries go through `sqlx::Any` so each statement is written once, with
//! `$1…$n` placeholders and a portable column set (TEXT, BIGINT, no native
//! date or numeric types: timestamps are epoch milliseconds, money is integer
//! minor units). Where the dialects differ (row locks, `SKIP LOCKED`), the
//! caller asks [`Db::backend`].
//!
//! SQLite runs in WAL mode with a single writer connection, so business
//! transactions never meet `SQLITE_BUSY` from lock upgrades inside one
//! process, and a pool of reader connections for queries. Several processes
//! sharing one file are serialised by `BEGIN IMMEDIATE` and the busy timeout.

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyPool, ConnectOptions, Connection, Executor, Transaction};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

pub type Tx = Transaction<'static, Any>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// How to reach the database.
#[derive(Debug, Clone)]
pub enum DbConfig {
    /// An SQLite file; created with its directory if missing.
    Sqlite {
        path: PathBuf,
        /// `FULL` (default) survives power loss; `NORMAL` survives process
        /// crashes only.
        synchronous_full: bool,
    },
    /// A `postgres://` URL, optionally confined to one schema (created if
    /// missing), which keeps test runs and benchmarks apart.
    Postgres { url: String, max_connections: u32, schema: Option<String> },
}

impl DbConfig {
    /// `DATABASE_URL`-style selection: a `postgres://` or `postgresql://` URL
    /// means PostgreSQL; anything else falls back to the SQLite file.
    pub fn from_url_or_path(url: Option<&str>, sqlite_path: &Path) -> DbConfig {
        match url {
            Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => {
                DbConfig::Postgres { url: u.to_string(), max_connections: 20, schema: None }
            }
            Some(u) if u.starts_with("sqlite:") => DbConfig::Sqlite {
                path: PathBuf::from(u.trim_start_matches("sqlite://").trim_start_matches("sqlite:")),
                synchronous_full: true,
            },
            _ => DbConfig::Sqlite { path: sqlite_path.to_path_buf(), synchronous_full: true },
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Other(String),
    /// A posting would take the balance of `account` in `currency` beyond
    /// ±[`bursar_domain::ledger::MAX_BALANCE_MINOR`]. Nothing of the batch
    /// is applied once the caller rolls its transaction back (as every
    /// error from a posting requires); the request that caused it is the
    /// client's to change (a 400, not a 500).
    #[error("ledger balance limit: the balance of `{account}` in {currency} would exceed {limit} minor units", limit = bursar_domain::ledger::MAX_BALANCE_MINOR)]
    BalanceLimit { account: String, currency: String },
}

/// The database handle shared by every service.
#[derive(Clone, Debug)]
pub struct Db {
    write: AnyPool,
    read: AnyPool,
    backend: Backend,
    sqlite_path: Option<PathBuf>,
}

static MIGRATOR_SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static MIGRATOR_POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl Db {
    pub async fn connect(config: &DbConfig) -> Result<Db, DbError> {
        sqlx::any::install_default_drivers();
        match config {
            DbConfig::Sqlite { path, synchronous_full } => {
                if let Some(dir) = path.parent() {
                    if !dir.as_os_str().is_empty() {
                        std::fs::create_dir_all(dir)?;
                    }
                }
                let url = format!("sqlite://{}?mode=rwc", path.display());
                let opts = AnyConnectOptions::from_str(&url)?
                    .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_secs(1));
                let sync = if *synchronous_full { "FULL" } else { "NORMAL" };
                let pragmas: &'static str = if *synchronous_full {
                    "PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;"
                } else {
                    "PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;"
                };
                tracing::debug!(synchronous = sync, "opening sqlite");
                // WAL is a property of the file: set it once, before the pools.
                {
                    let mut c = sqlx::AnyConnection::connect_with(&opts).await?;
                    c.execute("PRAGMA journal_mode = WAL;").await?;
                }
                let write = AnyPoolOptions::new()
                    .max_connections(1)
                    .acquire_timeout(Duration::from_secs(30))
                    .after_connect(move |c, _| Box::pin(async move { c.execute(pragmas).await.map(|_| ()) }))
                    .connect_with(opts.clone())
                    .await?;
                let read = AnyPoolOptions::new()
                    .max_connections(8)
                    .acquire_timeout(Duration::from_secs(30))
                    .after_connect(move |c, _| {
                        Box::pin(async move {
                            c.execute("PRAGMA busy_timeout = 10000; PRAGMA query_only = ON;").await.map(|_| ())
                        })
                    })
                    .connect_with(opts)
                    .await?;
                Ok(Db { write, read, backend: Backend::Sqlite, sqlite_path: Some(path.clone()) })
            }
            DbConfig::Postgres { url, max_connections, schema } => {
                let opts = AnyConnectOptions::from_str(url)?
                    .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_secs(1));
                let set_path: Option<std::sync::Arc<str>> = match schema {
                    None => None,
                    Some(s) => {
                        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                        {
                            return Err(DbError::Other(format!("invalid schema name `{s}`")));
                        }
                        let mut c = sqlx::AnyConnection::connect_with(&opts).await?;
                        c.execute(sqlx::AssertSqlSafe(format!("CREATE SCHEMA IF NOT EXISTS {s}"))).await?;
                        Some(format!("SET search_path TO {s}").into())
                    }
                };
                let pool = AnyPoolOptions::new()
                    .max_connections(*max_connections)
                    .acquire_timeout(Duration::from_secs(30))
                    .after_connect(move |c, _| {
                        let set_path = set_path.clone();
                        Box::pin(async move {
                            if let Some(sql) = set_path {
                                sqlx::query(sqlx::AssertSqlSafe(sql.to_string())).execute(&mut *c).await?;
                            }
                            Ok(())
                        })
                    })
                    .connect_with(opts)
                    .await?;
                Ok(Db { write: pool.clone(), read: pool, backend: Backend::Postgres, sqlite_path: None })
            }
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The SQLite file, when that is the backend.
    pub fn sqlite_path(&self) -> Option<&Path> {
        self.sqlite_path.as_deref()
    }

    /// Pool for statements that change data.
    pub fn writer(&self) -> &AnyPool {
        &self.write
    }

    /// Pool for queries. On SQLite these connections are read-only.
    pub fn reader(&self) -> &AnyPool {
        &self.read
    }

    /// Applies every pending migration of this backend.
    pub async fn migrate(&self) -> Result<(), DbError> {
        match self.backend {
            Backend::Sqlite => MIGRATOR_SQLITE.run(&self.write).await?,
            Backend::Postgres => MIGRATOR_POSTGRES.run(&self.write).await?,
        }
        Ok(())
    }

    /// Whether every migration this binary knows has been applied.
    pub async fn migrations_current(&self) -> Result<bool, DbError> {
        let migrator = match self.backend {
            Backend::Sqlite => &MIGRATOR_SQLITE,
            Backend::Postgres => &MIGRATOR_POSTGRES,
        };
        let latest = migrator.iter().map(|m| m.version).max().unwrap_or(0);
        let applied: Option<i64> =
            sqlx::query_scalar("SELECT CAST(MAX(version) AS BIGINT) FROM _sqlx_migrations WHERE success = TRUE")
                .fetch_one(&self.read)
                .await
                .ok()
                .flatten();
        Ok(applied == Some(latest))
    }

    /// Starts one business transaction on the writer.
    pub async fn begin(&self) -> Result<Tx, DbError> {
        Ok(match self.backend {
            Backend::Sqlite => self.write.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.write.begin().await?,
        })
    }

    /// A cheap liveness query.
    pub async fn ping(&self) -> Result<(), DbError> {
        sqlx::query("SELECT 1").execute(&self.read).await?;
        Ok(())
    }

    /// ` FOR UPDATE` on PostgreSQL; nothing on SQLite, whose single writer
    /// already serialises transactions.
    pub fn for_update(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE",
        }
    }

    /// The same as [`Db::for_update`], for code that holds only a
    /// connection (a transaction) and not the handle.
    pub fn for_update_on(conn: &sqlx::AnyConnection) -> &'static str {
        if conn.backend_name() == <sqlx::Postgres as sqlx::Database>::NAME {
            " FOR UPDATE"
        } else {
            ""
        }
    }

    /// ` FOR UPDATE SKIP LOCKED` on PostgreSQL, so workers on several nodes
    /// take different rows; nothing on SQLite.
    pub fn for_update_skip_locked(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        }
    }

    pub async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
    }
}

/// Whether an error is a unique-constraint violation.
pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error().is_some_and(|d| d.is_unique_violation())
}

/// Drops the scratch schemas that tests (`t_…`) and benchmarks (`bench_…`)
/// create on PostgreSQL, those whose names start with one of `prefixes`.
/// Returns how many were dropped.
pub async fn drop_scratch_schemas(db: &Db, prefixes: &[&str]) -> Result<usize, DbError> {
    if db.backend() != Backend::Postgres {
        return Ok(0);
    }
    let all: Vec<String> =
        sqlx::query_scalar("SELECT CAST(nspname AS TEXT) FROM pg_namespace").fetch_all(&db.write).await?;
    let names: Vec<&String> = all.iter().filter(|n| prefixes.iter().any(|p| n.starts_with(p))).collect();
    for n in &names {
        if n.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') {
            sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA IF EXISTS {n} CASCADE"))).execute(&db.write).await?;
        }
    }
    Ok(names.len())
}

/// The backend a transaction runs on.
pub fn tx_backend(tx: &Tx) -> Backend {
    if tx.backend_name() == "PostgreSQL" {
        Backend::Postgres
    } else {
        Backend::Sqlite
    }
}

/// `rows` groups of `cols` placeholders for a multi-row INSERT: `($1,$2),($3,$4)`
/// on PostgreSQL; anonymous `(?,?),(?,?)` on SQLite, where numbered or named
/// parameters cost a linear name lookup per bind (quadratic per statement).
pub fn placeholders(backend: Backend, rows: usize, cols: usize) -> String {
    let mut s = String::with_capacity(rows * cols * 5);
    for r in 0..rows {
        if r > 0 {
            s.push(',');
        }
        s.push('(');
        for c in 0..cols {
            if c > 0 {
                s.push(',');
            }
            match backend {
                Backend::Sqlite => s.push('?'),
                Backend::Postgres => {
                    s.push('$');
                    s.push_str(&(r * cols + c + 1).to_string());
                }
            }
        }
        s.push(')');
    }
    s
}
