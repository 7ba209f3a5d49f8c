//! The SQLite store (sqlx): connection set-up (WAL, busy timeout, foreign keys), migrations,
//! and one method per query, grouped by table. SQL only: no HTTP, no policy. Times are written
//! as ISO-8601 UTC text with milliseconds so `sqlite3` users can read and compare them.

mod audit;
mod daemon;
mod intents;
mod offboarding;
mod snapshots;
mod sweeps;
mod tokens;

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

pub use audit::{AuditBreak, AuditRow, GENESIS, NewRevocation, RevocationState};
pub use daemon::DbGauges;
pub use offboarding::{JobRow, NewJob};
pub use sweeps::{SweepCounts, SweepRow, SweepStatus, Trigger};
pub use tokens::{TargetOutcome, TokenObservation, TokenRow};

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// The migrations embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// The database. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pool: SqlitePool,
}

impl Store {
    /// Opens (creating if missing) the database at a sqlx SQLite URL and applies migrations.
    pub async fn connect(url: &str) -> Result<Store, Error> {
        Store::open(url, true).await
    }

    /// Opens an existing database (applying migrations); a missing file is an error, so a
    /// mistyped path is not answered from a new, empty database.
    pub async fn connect_existing(url: &str) -> Result<Store, Error> {
        Store::open(url, false).await
    }

    async fn open(url: &str, create: bool) -> Result<Store, Error> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(create)
            .journal_mode(SqliteJournalMode::Wal)
            // The audit trail must survive power loss, not only process crashes.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        let store = Store { pool };
        store.migrate().await?;
        Ok(store)
    }

    /// Wraps an existing pool (used by `#[sqlx::test]`), applying migrations.
    pub async fn from_pool(pool: SqlitePool) -> Result<Store, Error> {
        let store = Store { pool };
        store.migrate().await?;
        Ok(store)
    }

    /// Applies pending migrations.
    pub async fn migrate(&self) -> Result<(), Error> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    /// The underlying pool, for read-only ad-hoc queries (reports, tests).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Closes every connection, flushing the WAL.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Formats an instant the way every column stores it: `2026-11-29T22:00:00.000Z`.
pub fn ts(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}
