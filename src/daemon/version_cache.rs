//! Readings of the database kept while nothing is committed. Two readings grow with the org
//! and would otherwise run while the daemon sits idle between sweeps: `/metrics`' database
//! gauges (every active token counted, each one's latest record parsed: about half a second of
//! CPU at 100k tokens, at every scrape), and the offboarding worker's open intents (the latest
//! row of every revocation, a `GROUP BY` over the whole audit trail, every 30 s). A reading is
//! kept with the database's `data_version` read before it
//! ([`DataVersion`](crate::store::DataVersion)) and reused while that has not moved, or, when
//! the caller allows it ([`VersionCache::get_within`]), while it is younger than a bound: a
//! sweep commits every second or so, and `/metrics` recounting a million tokens at each
//! scrape meanwhile would cost more than the figures are worth.

use std::future::Future;
#[cfg(test)]
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::store::{Error, Version};

/// The last reading, the `data_version` read just before it and when; one reading at a time.
#[derive(Debug)]
pub struct VersionCache<T> {
    last: Mutex<Option<(Version, Instant, T)>>,
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
        self.get_within(version, Duration::ZERO, Instant::now(), read)
            .await
    }

    /// [`VersionCache::get`], but a reading younger than `bound` at `now` is reused even
    /// though the version moved.
    pub async fn get_within<F>(
        &self,
        version: Version,
        bound: Duration,
        now: Instant,
        read: impl FnOnce() -> F,
    ) -> Result<T, Error>
    where
        F: Future<Output = Result<T, Error>>,
    {
        let mut last = self.last.lock().await;
        if let Some((seen, at, reading)) = last.as_ref()
            && (*seen == version || now.saturating_duration_since(*at) < bound)
        {
            return Ok(reading.clone());
        }
        // Read after the version: a commit between the two leaves a newer reading under an
        // older version, which the next call reads again.
        let reading = read().await?;
        #[cfg(test)]
        self.reads.fetch_add(1, Ordering::Relaxed);
        *last = Some((version, now, reading.clone()));
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

    /// Within the bound, a reading stands though commits moved the version; past it, or
    /// without one, the next call reads anew.
    #[sqlx::test(migrations = "./migrations")]
    async fn a_reading_younger_than_the_bound_is_reused_though_the_version_moved(
        pool: sqlx::SqlitePool,
    ) {
        let store = Store::from_pool(pool).await.unwrap();
        let (version, cache) = (DataVersion::default(), VersionCache::default());
        let bound = Duration::from_secs(30);
        let t0 = Instant::now();
        let (version, cache, store) = (&version, &cache, &store);
        let scrape = |at: Instant| async move {
            let now = version.current(store).await.unwrap();
            cache
                .get_within(now, bound, at, || store.gauges())
                .await
                .unwrap()
        };
        assert_eq!(scrape(t0).await, DbGauges::default());
        let at = chrono::Utc::now();
        store
            .begin_sweep(Trigger::Cli, Mode::DryRun, at, "test")
            .await
            .unwrap();
        assert_eq!(
            scrape(t0 + Duration::from_secs(10)).await,
            DbGauges::default()
        );
        assert_eq!(cache.reads(), 1, "younger than the bound: reused");
        let later = scrape(t0 + Duration::from_secs(31)).await;
        assert_eq!(later.sweeps_by_status, vec![("running".to_owned(), 1)]);
        assert_eq!(cache.reads(), 2);
    }
}
