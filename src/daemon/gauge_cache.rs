//! `/metrics`' database gauges, read again only when the database has changed. A reading counts
//! every active token (each one's latest record parsed) and every revocation intent: about half
//! a second of CPU at 100k tokens, at every scrape of a daemon that may sit idle for the hour
//! between sweeps. The last reading is kept with the database's `data_version` read before it
//! ([`DataVersion`](crate::store::DataVersion)), and reused while that has not moved. Read-only.

#[cfg(test)]
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::Mutex;

use crate::store::{DbGauges, Error, Store, Version};

/// The last reading and the `data_version` read just before it; one reading at a time.
#[derive(Debug, Default)]
pub struct GaugeCache {
    last: Mutex<Option<(Version, DbGauges)>>,
    /// How many times the database was read (a reading reused is not counted).
    #[cfg(test)]
    reads: AtomicU64,
}

impl GaugeCache {
    /// The gauges as the database holds them, given its `data_version` read just now: the last
    /// reading if it was taken at the same version, else a new one.
    pub async fn gauges(&self, store: &Store, version: Version) -> Result<DbGauges, Error> {
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
    use crate::store::{DataVersion, SweepCounts, SweepStatus, Trigger};

    #[sqlx::test(migrations = "./migrations")]
    async fn a_reading_is_reused_until_the_version_moves_and_then_read_anew(
        pool: sqlx::SqlitePool,
    ) {
        let store = Store::from_pool(pool).await.unwrap();
        let (version, cache) = (DataVersion::default(), GaugeCache::default());
        let scrape = || async {
            let now = version.current(&store).await.unwrap();
            cache.gauges(&store, now).await.unwrap()
        };
        assert_eq!(scrape().await, DbGauges::default());
        assert_eq!(scrape().await, DbGauges::default());
        assert_eq!(
            cache.reads(),
            1,
            "nothing committed: the first reading stands"
        );

        let at = chrono::Utc::now();
        let id = store
            .begin_sweep(Trigger::Cli, Mode::DryRun, at, "test")
            .await
            .unwrap();
        let running = scrape().await;
        assert_eq!(running.sweeps_by_status, vec![("running".to_owned(), 1)]);
        assert_eq!(running, store.gauges().await.unwrap());
        assert_eq!(scrape().await, running);
        assert_eq!(cache.reads(), 2);

        let counts = SweepCounts::default();
        store
            .finish_sweep(id, SweepStatus::Failed, &counts, Some("boom"), at)
            .await
            .unwrap();
        let failed = scrape().await;
        assert_eq!(cache.reads(), 3);
        assert_eq!(failed.last_finished_status.as_deref(), Some("failed"));
        assert_eq!(failed, store.gauges().await.unwrap());
    }
}
