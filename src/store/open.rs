//! Opening the database: the options every connection gets, creating and migrating it for
//! the commands that write, and opening it read-only, its schema checked and left as it is,
//! for the commands that only read.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::SqlitePool;
use sqlx::sqlite::{
    SqliteAutoVacuum, SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};

use super::{Error, Store};
use crate::config::DatabaseConfig;

/// The SQLite page size revokd creates databases with; `max_size` counts in these pages.
pub const PAGE_SIZE: u64 = 4096;

/// How every pooled connection is set up, beyond the URL (`[database]` in the config).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// How long a statement waits for another connection's lock before `SQLITE_BUSY`.
    pub busy_timeout: Duration,
    /// Largest database size in bytes, rounded down to whole pages; reaching it fails writes
    /// with `SQLITE_FULL`, exactly as a full disk does. `None`: unlimited.
    pub max_size: Option<u64>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            busy_timeout: Duration::from_secs(10),
            max_size: None,
        }
    }
}

impl From<&DatabaseConfig> for StoreOptions {
    fn from(config: &DatabaseConfig) -> Self {
        StoreOptions {
            busy_timeout: config.busy_timeout,
            max_size: config.max_size,
        }
    }
}

/// The migrations embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// How a command opens the database: creating it and migrating (`run`, `sweep`, `offboard`,
/// `demo`, `db migrate`), an existing one to write to, migrating (`offboard release`), or an
/// existing one to read, its schema left as it is ([`Store::check_schema`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Opening {
    Create,
    Write,
    Read,
}

impl Store {
    /// Opens (creating if missing) the database at a sqlx SQLite URL and applies migrations,
    /// with default [`StoreOptions`].
    pub async fn connect(url: &str) -> Result<Store, Error> {
        Store::connect_with(url, &StoreOptions::default()).await
    }

    /// Opens an existing database without changing its schema, for commands that read it: a
    /// missing file is an error, so a mistyped path is not answered from a new, empty
    /// database, and so is a schema other than this binary's ([`Store::check_schema`]).
    pub async fn connect_existing(url: &str) -> Result<Store, Error> {
        Store::connect_existing_with(url, &StoreOptions::default()).await
    }

    /// Opens (creating if missing) the database `[database]` describes, with its settings
    /// (`busy_timeout`, `max_size`): how `revokd run` and every command open it.
    pub async fn connect_configured(config: &DatabaseConfig) -> Result<Store, Error> {
        Store::connect_with(&config.url, &StoreOptions::from(config)).await
    }

    /// [`Store::connect_configured`] for a database that must exist (see
    /// [`Store::connect_existing`]).
    pub async fn connect_existing_configured(config: &DatabaseConfig) -> Result<Store, Error> {
        Store::connect_existing_with(&config.url, &StoreOptions::from(config)).await
    }

    /// [`Store::connect`] with explicit options.
    pub async fn connect_with(url: &str, options: &StoreOptions) -> Result<Store, Error> {
        Store::open(url, Opening::Create, options).await
    }

    /// [`Store::connect_existing`] with explicit options.
    pub async fn connect_existing_with(url: &str, options: &StoreOptions) -> Result<Store, Error> {
        Store::open(url, Opening::Read, options).await
    }

    /// Opens the existing database `[database]` describes, applying pending migrations: for a
    /// command that writes to a database it must not create (`revokd offboard release`).
    pub async fn connect_existing_to_write(config: &DatabaseConfig) -> Result<Store, Error> {
        Store::open(&config.url, Opening::Write, &StoreOptions::from(config)).await
    }

    async fn open(url: &str, opening: Opening, opts: &StoreOptions) -> Result<Store, Error> {
        if opening == Opening::Read {
            return Store::open_to_read(url, opts).await;
        }
        // Read first, read-only: the writer's pragmas would change another program's file.
        let existing = SqliteConnectOptions::from_str(url)?;
        if std::fs::metadata(existing.get_filename()).is_ok_and(|m| m.len() > 0) {
            Store::open_to_read_any(url, opts).await?.close().await;
        }
        let create = opening == Opening::Create;
        let mut options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(create)
            .page_size(PAGE_SIZE as u32)
            // Effective for new databases; older ones switch at their first prune.
            .auto_vacuum(SqliteAutoVacuum::Incremental)
            .journal_mode(SqliteJournalMode::Wal)
            // The audit trail must survive power loss, not only process crashes.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(opts.busy_timeout);
        if let Some(max) = opts.max_size {
            // SQLite answers SQLITE_FULL past this many pages, as it would on a full disk.
            options = options.pragma("max_page_count", (max / PAGE_SIZE).max(1).to_string());
        }
        check_path(options.get_filename(), create)?;
        let store = Store::pool_of(options).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// The pool every opening uses, over connections set up by `options`.
    async fn pool_of(options: SqliteConnectOptions) -> Result<Store, Error> {
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            // No idle timeout and no lifetime: connections to a local file need neither, and
            // either starts sqlx 0.8's pool maintenance task, which a rare race between
            // returning and taking a connection can leave spinning at 100% CPU for good (a
            // process that never finishes, or never exits; launchbadge/sqlx#3645).
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await?;
        Ok(Store { pool })
    }

    /// Opens an existing database read-only, setting nothing that writes (journal mode, page
    /// size, auto-vacuum): a reading command changes no byte of it, and works on a file it
    /// may not write (`?mode=ro`, an auditor's copy) when SQLite can read its WAL.
    async fn open_to_read(url: &str, opts: &StoreOptions) -> Result<Store, Error> {
        let store = Store::open_to_read_any(url, opts).await?;
        store.check_schema().await?;
        Ok(store)
    }

    /// Opens an existing database read-only to inspect it, whatever revokd schema it has
    /// (an older demo's, say), refusing only a database that is not revokd's.
    pub async fn connect_to_inspect(url: &str) -> Result<Store, Error> {
        Store::open_to_read_any(url, &StoreOptions::default()).await
    }

    /// [`Store::open_to_read`] whatever revokd schema the database has, refusing only a
    /// database that is not revokd's: tables, and no record of revokd's migrations.
    async fn open_to_read_any(url: &str, opts: &StoreOptions) -> Result<Store, Error> {
        let options = SqliteConnectOptions::from_str(url)?
            .read_only(true)
            .foreign_keys(true)
            .busy_timeout(opts.busy_timeout);
        check_path(options.get_filename(), false)?;
        let store = Store::pool_of(options).await?;
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'
             ORDER BY name",
        )
        .fetch_all(&store.pool)
        .await?;
        if !tables.is_empty() && !tables.iter().any(|t| t == "_sqlx_migrations") {
            store.close().await;
            return Err(Error::OtherSchema(format!(
                "this is not a revokd database: it holds tables ({}) but no record of revokd's \
                 migrations; check --db or database.url",
                tables.join(", ")
            )));
        }
        Ok(store)
    }

    /// Refuses a database whose schema is not this binary's, changing nothing: migrations
    /// pending (an older daemon may still run on it, and would not start on an upgraded one),
    /// or applied migrations this binary does not know (a newer revokd wrote it).
    pub async fn check_schema(&self) -> Result<(), Error> {
        let applied: Vec<i64> = match sqlx::query_scalar(
            "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version",
        )
        .fetch_all(&self.pool)
        .await
        {
            Ok(applied) => applied,
            // Not a database any revokd migrated.
            Err(sqlx::Error::Database(e)) if e.message().contains("no such table") => Vec::new(),
            Err(e) => return Err(e.into()),
        };
        let known: std::collections::BTreeSet<i64> = MIGRATOR.iter().map(|m| m.version).collect();
        if let Some(v) = applied.iter().find(|v| !known.contains(v)) {
            return Err(Error::OtherSchema(format!(
                "the database holds migration {v}, which this revokd does not know: a newer \
                 revokd wrote it (use that version)"
            )));
        }
        let pending = known.len().saturating_sub(applied.len());
        if pending > 0 {
            return Err(Error::OtherSchema(format!(
                "the database's schema is {pending} migration(s) behind this revokd: upgrade it \
                 with `revokd db migrate` (`revokd run` does so as it starts; stop an older \
                 daemon still using it first)"
            )));
        }
        Ok(())
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

    /// Closes every connection; the last to close checkpoints the WAL into the file. sqlx's
    /// `Pool::close` may return with a connection still open: one whose return to the pool
    /// was under way, or one put back in the idle queue after its last look
    /// (launchbadge/sqlx#3217). So it is run again, each pass closing what came back, until
    /// none is open (for at most five seconds, past which the WAL is left to the next
    /// opening, which loses nothing).
    pub async fn close(&self) {
        let deadline = tokio::time::Instant::now() + CLOSE_PATIENCE;
        loop {
            self.pool.close().await;
            if self.pool.size() == 0 || tokio::time::Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}

/// How long [`Store::close`] waits for connections still on their way back to the pool.
const CLOSE_PATIENCE: Duration = Duration::from_secs(5);

/// Names the open failures SQLite reports only as "unable to open database file": a missing
/// directory (when creating), a missing file (when it must exist), and a path that cannot be
/// looked at (a permission error on the way is not "missing").
fn check_path(file: &Path, create: bool) -> Result<(), Error> {
    let exists = |p: &Path| {
        p.try_exists()
            .map_err(|e| Error::Unreachable(p.to_owned(), e))
    };
    if file.as_os_str() == ":memory:" || exists(file)? {
        return Ok(());
    }
    match file.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) if !exists(dir)? || !dir.is_dir() => Err(Error::MissingDirectory(dir.to_owned())),
        _ if !create => Err(Error::MissingFile(file.to_owned())),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A path that cannot be looked at is said to be so, with the system's reason, not called
    /// missing; a missing file or directory still is.
    #[test]
    fn an_unreachable_path_is_not_called_missing() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("plain");
        std::fs::write(&plain, "").unwrap();
        let under_a_file = plain.join("revokd.db");
        for create in [false, true] {
            let err = check_path(&under_a_file, create).unwrap_err();
            let text = err.to_string();
            assert!(matches!(err, Error::Unreachable(..)), "{text}");
            assert!(
                text.starts_with(&format!(
                    "cannot look at the database path {}: ",
                    under_a_file.display()
                )) && !text.contains("does not exist"),
                "{text}"
            );
        }
        let absent = dir.path().join("absent.db");
        assert!(matches!(
            check_path(&absent, false),
            Err(Error::MissingFile(_))
        ));
        assert!(check_path(&absent, true).is_ok());
        let nowhere = dir.path().join("nowhere/revokd.db");
        assert!(matches!(
            check_path(&nowhere, true),
            Err(Error::MissingDirectory(_))
        ));
    }

    /// Closing leaves no connection open, so nothing writes to the file once it returns (the
    /// last connection to close checkpoints the WAL into it), even right after reads whose
    /// connections are still on their way back to the pool: sqlx's `Pool::close` alone may
    /// return before they close.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn closing_leaves_no_connection_open() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("revokd.db").display());
        for round in 0..150 {
            let store = Store::connect(&url).await.unwrap();
            let reads =
                (0..4).map(|_| sqlx::query("SELECT COUNT(*) FROM sweeps").execute(&store.pool));
            futures::future::try_join_all(reads).await.unwrap();
            store.close().await;
            let open = store.pool.size();
            assert_eq!(open, 0, "round {round}: {open} connection(s) still open");
        }
    }
}
