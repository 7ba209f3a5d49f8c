//! Readings of the database kept while nothing is committed. Two readings grow with the org
//! and would otherwise run while the daemon sits idle between sweeps: `/metrics`' database
//! gauges (every active token counted, each one's latest record parsed: about half a second of
//! CPU at 100k tokens, at every scrape), and the offboarding worker's open intents (the latest
//! row of every revocation, a `GROUP BY` over the whole audit trail, every 30 s). A reading is
//! kept with the database's `data_version` read before it
//! ([`DataVersion`](crate::store::DataVersion)) and reused while that has not moved.

use std::future::Future;
#[cfg(test)]
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::Mutex;

use crate::store::{Error, Version};

/// The last reading and the `data_version` read just before it; one reading at a time.
#[derive(Debug)]
pub struct VersionCache<T> {
    last: Mutex<Option<(Version, T)>>,
    /// How many times the database was read (a reading reused is not counted).
    #[cfg(test)]
    reads: AtomicU64,
}

impl<T> Default for VersionCache<T> {
    fn default() -> Self {
        VersionCache {
            last: Mutex::new(None),
            #[cfg(test)]
            reads: AtomicU64::new(0),
        }
    }
}

impl<T: Clone> VersionCache<T> {
    /// The reading as the database holds it, given its `data_version` read just now: the last
    /// reading if it was taken at the same version, else a new one by `read`.
    pub async fn get<F>(&self, version: Version, read: impl FnOnce() -> F) -> Result<T, Error>
    where
        F: Future<Output = Result<T, Error>>,
    {
        let mut last = self.last.lock().await;
        if let Some((seen, reading)) = last.as_ref()
            && *seen == version
        {
            return Ok(reading.clone());
        }
        // Read after the version: a commit between the two leaves a newer reading under an
        // older version, which the next call reads again.
        let reading = read().await?;
        #[cfg(test)]
        self.reads.fetch_add(1, Ordering::Relaxed);
        *last = Some((version, reading.clone()));
        Ok(reading)
    }

    /// How many times [`VersionCache::get`] read the database rather than reuse a reading.
    #[cfg(test)]
    pub fn reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Mode;
    use crate::store::{DataVersion, DbGauges, Store, SweepCounts, SweepStatus, Trigger};

    #[sqlx::test(migrations = "./migrations")]
    async fn a_reading_is_reused_until_the_version_moves_and_then_read_anew(
        pool: sqlx::SqlitePool,
    ) {
        let store = Store::from_pool(pool).await.unwrap();
        let (version, cache) = (DataVersion::default(), VersionCache::default());
        let scrape = || async {
            let now = version.current(&store).await.unwrap();
            cache.get(now, || store.gauges()).await.unwrap()
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
