//! `/metrics`' database gauges, read again only when the database has changed. A reading counts
//! every active token (each one's latest record parsed) and every revocation intent: about half
//! a second of CPU at 100k tokens, at every scrape of a daemon that may sit idle for the hour
//! between sweeps. The last reading is kept with the database's `data_version` read before it
//! ([`DataVersion`](crate::store::DataVersion)), and reused while that has not moved. Read-only.

#[cfg(test)]
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::Mutex;

use crate::store::{DbGauges, Error, Store};

/// The last reading and the `data_version` read just before it; one reading at a time.
#[derive(Debug, Default)]
pub struct GaugeCache {
    last: Mutex<Option<(i64, DbGauges)>>,
    /// How many times the database was read (a reading reused is not counted).
    #[cfg(test)]
    reads: AtomicU64,
}

impl GaugeCache {
    /// The gauges as the database holds them, given its `data_version` read just now: the last
    /// reading if it was taken at the same version, else a new one.
    pub async fn gauges(&self, store: &Store, version: i64) -> Result<DbGauges, Error> {
        let mut last = self.last.lock().await;
        if let Some((seen, gauges)) = last.as_ref()
            && *seen == version
        {
            return Ok(gauges.clone());
        }
        // Read after the version: a commit between the two leaves a newer reading under an
        // older version, which the next scrape reads again.
        let gauges = store.gauges().await?;
        #[cfg(test)]
        self.reads.fetch_add(1, Ordering::Relaxed);
        *last = Some((version, gauges.clone()));
        Ok(gauges)
    }

    /// How many times [`GaugeCache::gauges`] read the database rather than reuse a reading.
    #[cfg(test)]
    fn reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Mode;
    use crate::store::{DataVersion, SweepStatus, Trigger};
    use sqlx::Connection;

    #[sqlx::test(migrations = "./migrations")]
    async fn a_reading_is_reused_until_another_connection_commits(pool: sqlx::SqlitePool) {
        let store = Store::from_pool(pool).await.unwrap();
        sqlx::query("PRAGMA journal_mode = WAL")
            .execute(store.pool())
            .await
            .unwrap();
        let version = DataVersion::default();
        let cache = GaugeCache::default();
        let scrape = || async {
            cache
                .gauges(&store, version.current(&store).await.unwrap())
                .await
        };
        assert_eq!(scrape().await.unwrap(), DbGauges::default());
        assert_eq!(scrape().await.unwrap(), DbGauges::default());
        assert_eq!(
            cache.reads(),
            1,
            "nothing committed: the first reading stands"
        );

        // A commit through the pool: read again, and the reading is the pool's own.
        let at = chrono::Utc::now();
        let id = store
            .begin_sweep(Trigger::Cli, Mode::DryRun, at, "test")
            .await
            .unwrap();
        let running = scrape().await.unwrap();
        assert_eq!(cache.reads(), 2);
        assert_eq!(running.sweeps_by_status, vec![("running".to_owned(), 1)]);
        assert_eq!(running, store.gauges().await.unwrap());
        assert_eq!(scrape().await.unwrap(), running);
        assert_eq!(cache.reads(), 2);

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
        let failed = scrape().await.unwrap();
        assert_eq!(cache.reads(), 3);
        assert_eq!(failed.sweeps_by_status, vec![("failed".to_owned(), 1)]);
        assert_eq!(failed.last_finished_status.as_deref(), Some("failed"));
        assert_eq!(failed, store.gauges().await.unwrap());
    }
}
