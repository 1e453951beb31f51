//! Online backup and offline restore of the SQLite database.
//!
//! Backup uses `VACUUM INTO`, which writes a consistent, compacted copy while
//! the server keeps running. Restore checks the copy (`PRAGMA
//! integrity_check` and the migrations table), refuses while a server holds
//! the database lock, then swaps the file in atomically and removes the old
//! WAL files. PostgreSQL is backed up with `pg_dump` (see docs/operations.md).

use crate::db::{Backend, Db, DbError};
use sqlx::{ConnectOptions, Connection};
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// The lock file a running server holds next to its SQLite database.
pub fn lock_path(db_path: &Path) -> PathBuf {
    let mut p = db_path.as_os_str().to_owned();
    p.push(".lock");
    PathBuf::from(p)
}

/// Takes the server's exclusive lock on the database; held while the
/// returned file is open. Fails if another server (or a restore) holds it.
pub fn lock_database(db_path: &Path) -> Result<File, DbError> {
    if let Some(dir) = db_path.parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir)?;
        }
    }
    let f = OpenOptions::new().create(true).truncate(false).write(true).open(lock_path(db_path))?;
    match f.try_lock() {
        Ok(()) => Ok(f),
        Err(std::fs::TryLockError::WouldBlock) => {
            Err(DbError::Other(format!("{} is in use by another bursar process", db_path.display())))
        }
        Err(std::fs::TryLockError::Error(e)) => Err(e.into()),
    }
}

/// Writes a consistent copy of the live SQLite database to `dest`.
pub async fn backup_sqlite(db: &Db, dest: &Path) -> Result<u64, DbError> {
    if db.backend() != Backend::Sqlite {
        return Err(DbError::Other("bursar backup is for SQLite; back PostgreSQL up with pg_dump".into()));
    }
    if dest.exists() {
        return Err(DbError::Other(format!("{} already exists", dest.display())));
    }
    if let Some(dir) = dest.parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir)?;
        }
    }
    let dest_str = dest.to_str().ok_or_else(|| DbError::Other("backup path is not valid UTF-8".into()))?.to_string();
    sqlx::query("VACUUM INTO $1").bind(dest_str).execute(db.writer()).await?;
    Ok(std::fs::metadata(dest)?.len())
}

/// Checks that `path` is an intact Bursar SQLite database.
pub async fn check_sqlite_file(path: &Path) -> Result<(), DbError> {
    if !path.is_file() {
        return Err(DbError::Other(format!("{} is not a file", path.display())));
    }
    let url = format!("sqlite://{}?mode=ro", path.display());
    let mut conn = sqlx::sqlite::SqliteConnectOptions::from_str(&url)?.connect().await?;
    let verdict: String = sqlx::query_scalar("PRAGMA integrity_check").fetch_one(&mut conn).await?;
    if verdict != "ok" {
        return Err(DbError::Other(format!("integrity check failed: {verdict}")));
    }
    let migrated: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name IN ('_sqlx_migrations', 'ledger_entries')",
    )
    .fetch_one(&mut conn)
    .await?;
    conn.close().await?;
    if migrated != 2 {
        return Err(DbError::Other(format!("{} is not a Bursar database", path.display())));
    }
    Ok(())
}

/// Replaces the database at `target` with the backup at `source`. The server
/// must be stopped: the database lock is taken for the duration.
pub async fn restore_sqlite(source: &Path, target: &Path) -> Result<(), DbError> {
    check_sqlite_file(source).await?;
    let _lock = lock_database(target)?;
    let tmp = target.with_extension("restore-tmp");
    std::fs::copy(source, &tmp)?;
    File::open(&tmp)?.sync_all()?;
    for suffix in ["-wal", "-shm"] {
        let mut p = target.as_os_str().to_owned();
        p.push(suffix);
        let p = PathBuf::from(p);
        if p.exists() {
            std::fs::remove_file(p)?;
        }
    }
    std::fs::rename(&tmp, target)?;
    Ok(())
}
