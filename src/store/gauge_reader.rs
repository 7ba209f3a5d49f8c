//! `/metrics`' database gauges, read again only when the database has changed. Reading them
//! counts every active token (each one's latest record parsed) and every revocation intent:
//! about half a second of SQLite's time at 100k tokens, at every scrape of a daemon that may
//! sit idle for the hour between sweeps. A connection of the reader's own asks SQLite's
//! `data_version`, which moves with every commit made on any other connection (of this
//! process or another) and with a checkpoint that restarts the WAL; while it has not moved
//! since the last reading began, that reading is still the database's. Read-only.

use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::SqliteConnection;
use tokio::sync::Mutex;

use super::daemon::read_gauges;
use super::{DbGauges, Error, Store};

/// The reader's connection and its last reading, with the `data_version` read just before it.
#[derive(Debug)]
struct Reading {
    conn: SqliteConnection,
    last: Option<(i64, DbGauges)>,
}

/// Reads [`DbGauges`] for `/metrics`; one reading at a time. Its connection is taken out of
/// the pool at the first reading and kept.
#[derive(Debug, Default)]
pub struct GaugeReader {
    reading: Mutex<Option<Reading>>,
    /// How many times the database was read (a reading reused is not counted).
    reads: AtomicU64,
}

impl GaugeReader {
    /// The gauges as the database holds them now: read again unless nothing was committed
    /// since the last reading began. After an error the connection is dropped, and the next
    /// call starts on a fresh one.
    pub async fn gauges(&self, store: &Store) -> Result<DbGauges, Error> {
        let mut reading = self.reading.lock().await;
        let current = match reading.as_mut() {
            Some(current) => current,
            None => {
                let conn = store.pool().acquire().await?.detach();
                reading.insert(Reading { conn, last: None })
            }
        };
        let read = self.read(current).await;
        if read.is_err() {
            *reading = None;
        }
        read
    }

    async fn read(&self, Reading { conn, last }: &mut Reading) -> Result<DbGauges, Error> {
        // Read before the gauges: a commit between the two leaves a newer reading under an
        // older version, which the next call reads again.
        let version: i64 = sqlx::query_scalar("PRAGMA data_version")
            .fetch_one(&mut *conn)
            .await?;
        if let Some((seen, gauges)) = last.as_ref()
            && *seen == version
        {
            return Ok(gauges.clone());
        }
        let gauges = read_gauges(conn).await?;
        self.reads.fetch_add(1, Ordering::Relaxed);
        *last = Some((version, gauges.clone()));
        Ok(gauges)
    }

    /// How many times [`GaugeReader::gauges`] read the database rather than reuse a reading.
    pub fn reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Mode;
    use crate::store::{SweepStatus, Trigger};
    use sqlx::Connection;

    #[sqlx::test(migrations = "./migrations")]
    async fn a_reading_is_reused_until_another_connection_commits(pool: sqlx::SqlitePool) {
        let store = Store::from_pool(pool).await.unwrap();
        let reader = GaugeReader::default();
        assert_eq!(reader.gauges(&store).await.unwrap(), DbGauges::default());
        assert_eq!(reader.gauges(&store).await.unwrap(), DbGauges::default());
        assert_eq!(
            reader.reads(),
            1,
            "nothing committed: the first reading stands"
        );

        // A commit through the pool: read again, and the reading is the pool's own.
        let at = chrono::Utc::now();
        let id = store
            .begin_sweep(Trigger::Cli, Mode::DryRun, at, "test")
            .await
            .unwrap();
        let running = reader.gauges(&store).await.unwrap();
        assert_eq!(reader.reads(), 2);
        assert_eq!(running.sweeps_by_status, vec![("running".to_owned(), 1)]);
        assert_eq!(running, store.gauges().await.unwrap());
        assert_eq!(reader.gauges(&store).await.unwrap(), running);
        assert_eq!(reader.reads(), 2);

        // A commit on a connection outside the pool, as another process makes it.
        let file = store.pool().connect_options().get_filename().to_owned();
        let mut other = sqlx::SqliteConnection::connect_with(
            &sqlx::sqlite::SqliteConnectOptions::new().filename(&file),
        )
        .await
        .unwrap();
        sqlx::query("UPDATE sweeps SET status = ?, finished_at = ? WHERE id = ?")
            .bind(SweepStatus::Failed)
            .bind(crate::store::ts(at))
            .bind(id)
            .execute(&mut other)
            .await
            .unwrap();
        let failed = reader.gauges(&store).await.unwrap();
        assert_eq!(reader.reads(), 3);
        assert_eq!(failed.sweeps_by_status, vec![("failed".to_owned(), 1)]);
        assert_eq!(failed.last_finished_status.as_deref(), Some("failed"));
        assert_eq!(failed, store.gauges().await.unwrap());
    }

    #[sqlx::test(migrations = "./migrations")]
    async fn a_failed_reading_is_an_error_and_the_next_one_reads_afresh(pool: sqlx::SqlitePool) {
        let store = Store::from_pool(pool).await.unwrap();
        let reader = GaugeReader::default();
        reader.gauges(&store).await.unwrap();
        let rename = |from: &str, to: &str| format!("ALTER TABLE {from} RENAME TO {to}");
        sqlx::query(&rename("offboarding_jobs", "offboarding_jobs_away"))
            .execute(store.pool())
            .await
            .unwrap();
        let err = reader.gauges(&store).await.unwrap_err();
        assert!(err.to_string().contains("offboarding_jobs"), "{err}");
        sqlx::query(&rename("offboarding_jobs_away", "offboarding_jobs"))
            .execute(store.pool())
            .await
            .unwrap();
        assert_eq!(
            reader.gauges(&store).await.unwrap(),
            store.gauges().await.unwrap()
        );
        assert_eq!(reader.reads(), 2);
    }
}
