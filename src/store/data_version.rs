//! SQLite's `data_version`, for what the daemon keeps between `/metrics` scrapes: a number that
//! moves whenever any other connection, of this process or another, commits to the database
//! (or a checkpoint restarts the WAL), and stays put otherwise. A value read while it has not
//! moved is still the database's. Read on a connection of its own, taken out of the pool at the
//! first read and never used to write, so every commit revokd makes counts. Its values compare
//! only on one connection: a [`Version`] names the connection it was read on, and one read on
//! a connection opened after an error never equals one read before. Read-only.

use sqlx::{Connection, SqliteConnection};
use tokio::sync::Mutex;

use super::{Error, Store};

/// The database's `data_version` as one connection read it: equal versions mean nothing was
/// committed in between.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Version {
    /// Which connection of the [`DataVersion`] read it, counting from 1.
    connection: u64,
    value: i64,
}

/// The connection `data_version` is read on (and how many were opened); one read at a time.
#[derive(Debug, Default)]
pub struct DataVersion {
    conn: Mutex<(u64, Option<SqliteConnection>)>,
}

impl DataVersion {
    /// The database's `data_version` now. After an error the connection is dropped, and the
    /// next call opens another.
    pub async fn current(&self, store: &Store) -> Result<Version, Error> {
        let mut guard = self.conn.lock().await;
        let (opened, slot) = &mut *guard;
        let conn = match slot.as_mut() {
            Some(conn) => conn,
            None => {
                let conn = store.pool().acquire().await?.detach();
                *opened += 1;
                slot.insert(conn)
            }
        };
        let read = sqlx::query_scalar("PRAGMA data_version")
            .fetch_one(&mut *conn)
            .await;
        if read.is_err() {
            *slot = None;
        }
        Ok(Version {
            connection: *opened,
            value: read?,
        })
    }

    /// Drops the connection, as an error does.
    #[cfg(test)]
    async fn drop_connection(&self) {
        self.conn.lock().await.1 = None;
    }

    /// Closes the connection, if one is open, so that closing the pool closes the database's
    /// last connection (SQLite then checkpoints and removes the WAL).
    pub async fn close(&self) {
        if let Some(conn) = self.conn.lock().await.1.take() {
            let _ = conn.close().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[sqlx::test(migrations = "./migrations")]
    async fn it_moves_with_a_commit_from_the_pool_or_outside_it_and_only_then(
        pool: sqlx::SqlitePool,
    ) {
        let store = Store::from_pool(pool).await.unwrap();
        sqlx::query("PRAGMA journal_mode = WAL")
            .execute(store.pool())
            .await
            .unwrap();
        let version = DataVersion::default();
        let v0 = version.current(&store).await.unwrap();
        assert_eq!(version.current(&store).await.unwrap(), v0);
        let read: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sweeps")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(read, 0);
        assert_eq!(
            version.current(&store).await.unwrap(),
            v0,
            "a read is no commit"
        );

        let sweep = "INSERT INTO sweeps (started_at, trigger, mode, status, runner)
                     VALUES ('2026-12-01T00:00:00.000Z', 'cli', 'dry-run', 'running', 'test')";
        sqlx::query(sweep).execute(store.pool()).await.unwrap();
        let v1 = version.current(&store).await.unwrap();
        assert_ne!(v1, v0, "a commit through the pool");

        let file = store.pool().connect_options().get_filename().to_owned();
        let mut other = SqliteConnection::connect_with(
            &sqlx::sqlite::SqliteConnectOptions::new().filename(&file),
        )
        .await
        .unwrap();
        sqlx::query(sweep).execute(&mut other).await.unwrap();
        let v2 = version.current(&store).await.unwrap();
        assert_ne!(v2, v1, "a commit outside the pool");
        assert_eq!(version.current(&store).await.unwrap(), v2);
    }

    #[tokio::test]
    async fn closed_it_lets_the_pool_close_the_database_and_remove_the_wal() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("v.db");
        let store = Store::connect(&format!("sqlite://{}", db.display()))
            .await
            .unwrap();
        let version = DataVersion::default();
        version.current(&store).await.unwrap();
        version.close().await;
        store.close().await;
        assert!(db.exists());
        assert!(
            !dir.path().join("v.db-wal").exists(),
            "the WAL is left behind"
        );
    }

    #[sqlx::test(migrations = "./migrations")]
    async fn a_version_read_on_a_new_connection_never_equals_one_read_before(
        pool: sqlx::SqlitePool,
    ) {
        let store = Store::from_pool(pool).await.unwrap();
        let version = DataVersion::default();
        let before = version.current(&store).await.unwrap();
        version.drop_connection().await;
        let after = version.current(&store).await.unwrap();
        assert_eq!(
            after.value, before.value,
            "the same number on each connection"
        );
        assert_ne!(after, before);
        assert_eq!(version.current(&store).await.unwrap(), after);
    }
}
