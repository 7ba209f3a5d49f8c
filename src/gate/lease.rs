//! The enforcer lease as a process holds it: one process at a time revokes per database.
//! The first [`Lease::hold`] of a process takes the row in `enforcer_lease` (waiting, up to
//! `safety.enforcer_wait`, for another live holder to finish) and starts a heartbeat that
//! renews it every third of [`TTL`]; further holds in the same process share it; when the last
//! [`LeaseGuard`] is dropped the heartbeat stops and the row is deleted. A holder whose
//! heartbeat is older than [`TTL`], or whose process is gone (same host), is stale and taken
//! over. A holder that learns it lost the lease (its heartbeat found another owner) stops
//! clearing revocations at once: [`Lease::is_held`] is false from then on, and so it is when no
//! renewal has succeeded for two thirds of [`TTL`] (before anyone may take the lease over).
//! Each `Lease` is an owner of its own (`host:pid:start/n`), so two `Lease` values in one
//! process never both hold it; the daemon keeps one gate, and so one `Lease`, across reloads.
//!
//! State invariants: `holders > 0` exactly while `heartbeat` is `Some`; `lost` is reset only
//! when the lease is taken anew.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex as SyncMutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::sync::Mutex;
use tokio::task::JoinHandle;
use tracing::{error, info, warn};

use crate::runner;
use crate::store::{self, LeaseAttempt, LeaseHolder, Store};

/// A holder whose heartbeat is older than this is stale.
pub const TTL: Duration = Duration::from_secs(30);

/// How often a waiting enforcer asks again.
const POLL: Duration = Duration::from_millis(250);

#[derive(Debug, Default)]
struct State {
    holders: usize,
    heartbeat: Option<JoinHandle<()>>,
}

/// This process's hold on the enforcer lease. Cheap to clone; clones share the hold.
#[derive(Debug, Clone)]
pub struct Lease {
    store: Store,
    wait: Duration,
    /// `host:pid:start/n`: this process, and which of its `Lease` values.
    owner: Arc<str>,
    state: Arc<Mutex<State>>,
    lost: Arc<AtomicBool>,
    /// When the row was last taken or renewed.
    renewed: Arc<SyncMutex<Instant>>,
}

/// One use of the lease; the lease is given up when the last guard is dropped.
#[derive(Debug)]
pub struct LeaseGuard {
    lease: Lease,
}

impl Lease {
    /// A lease over `store`; [`Lease::hold`] waits at most `wait` for another holder.
    pub fn new(store: Store, wait: Duration) -> Lease {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        Lease {
            store,
            wait,
            owner: format!("{}/{n}", runner::current()).into(),
            state: Arc::default(),
            lost: Arc::default(),
            renewed: Arc::new(SyncMutex::new(Instant::now())),
        }
    }

    /// Takes (or shares) the lease for `purpose`. Fails with [`store::Error::EnforcerBusy`]
    /// when another live process still holds it after `safety.enforcer_wait`.
    pub async fn hold(&self, purpose: &str) -> Result<LeaseGuard, store::Error> {
        let deadline = tokio::time::Instant::now() + self.wait;
        let mut told = false;
        loop {
            // The state is locked for one try, never across the wait between tries: the
            // gate's checks and other holds of this process go on meanwhile.
            let holder = {
                let mut state = self.state.lock().await;
                if state.holders > 0 && !self.lost.load(Ordering::SeqCst) {
                    state.holders += 1;
                    return Ok(self.guard());
                }
                let stamped = Instant::now();
                match self.try_take(purpose).await? {
                    LeaseAttempt::Held { took_over } => {
                        if let Some(old) = took_over {
                            warn!(lease.previous_owner = %old.owner, lease.previous_heartbeat = %old.heartbeat_at, "took over a stale enforcer lease");
                        }
                        self.lost.store(false, Ordering::SeqCst);
                        self.mark_renewed(stamped);
                        if let Some(old) = state.heartbeat.take() {
                            old.abort();
                        }
                        state.heartbeat = Some(self.spawn_heartbeat());
                        state.holders += 1;
                        return Ok(self.guard());
                    }
                    LeaseAttempt::Busy(holder) => holder,
                }
            };
            if tokio::time::Instant::now() >= deadline {
                return Err(store::Error::EnforcerBusy(describe(&holder)));
            }
            if !told {
                told = true;
                info!(lease.holder = %describe(&holder), lease.purpose = purpose, safety.enforcer_wait = ?self.wait, "waiting for the enforcer lease");
            }
            tokio::time::sleep(POLL).await;
        }
    }

    fn guard(&self) -> LeaseGuard {
        LeaseGuard {
            lease: self.clone(),
        }
    }

    /// One try at the row: taken when free, stale, or its holder's process is gone.
    async fn try_take(&self, purpose: &str) -> Result<LeaseAttempt, store::Error> {
        let now = Utc::now();
        let stale_before = now - chrono::Duration::from_std(TTL).unwrap_or_default();
        self.store
            .take_lease(&self.owner, purpose, now, stale_before, |o| {
                !runner::is_alive(o.split('/').next().unwrap_or(o))
            })
            .await
    }

    /// Whether this process holds the lease now: some guard alive, not lost, and renewed
    /// recently enough that nobody may have taken it over as stale.
    pub async fn is_held(&self) -> bool {
        let fresh = self
            .renewed
            .lock()
            .map(|at| at.elapsed() < TTL * 2 / 3)
            .unwrap_or(false);
        self.state.lock().await.holders > 0 && !self.lost.load(Ordering::SeqCst) && fresh
    }

    /// Records a heartbeat written as of `stamped`. Freshness counts from when the row's
    /// heartbeat was stamped, not from when the write got through: a write that waited for
    /// SQLite's lock (up to `database.busy_timeout`) wrote a time that others already read
    /// as that old, and may take the lease over on it.
    fn mark_renewed(&self, stamped: Instant) {
        if let Ok(mut at) = self.renewed.lock() {
            *at = (*at).max(stamped);
        }
    }

    /// One renewal of the row: `Ok(false)` when another owner holds it now.
    async fn renew(&self) -> Result<bool, store::Error> {
        let stamped = Instant::now();
        let renewed = self.store.renew_lease(&self.owner, Utc::now()).await?;
        if renewed {
            self.mark_renewed(stamped);
        }
        Ok(renewed)
    }

    fn spawn_heartbeat(&self) -> JoinHandle<()> {
        let lease = self.clone();
        let lost = Arc::clone(&self.lost);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(TTL / 3);
            tick.tick().await;
            loop {
                tick.tick().await;
                match lease.renew().await {
                    Ok(true) => {}
                    Ok(false) => {
                        error!(
                            "the enforcer lease was taken over by another process; no further revocation is sent"
                        );
                        lost.store(true, Ordering::SeqCst);
                        return;
                    }
                    Err(e) => {
                        warn!(error.message = %e, "cannot renew the enforcer lease; trying again")
                    }
                }
            }
        })
    }

    async fn release(&self) {
        let mut state = self.state.lock().await;
        state.holders = state.holders.saturating_sub(1);
        if state.holders > 0 {
            return;
        }
        if let Some(beat) = state.heartbeat.take() {
            beat.abort();
        }
        if let Err(e) = self.store.release_lease(&self.owner).await {
            warn!(error.message = %e, "cannot release the enforcer lease; it goes stale on its own");
        } else {
            info!("enforcer lease released");
        }
    }
}

impl LeaseGuard {
    /// Gives this use of the lease up now (dropping the guard does the same in the background).
    pub async fn release(self) {
        let lease = self.lease.clone();
        std::mem::forget(self);
        lease.release().await;
    }
}

impl Drop for LeaseGuard {
    fn drop(&mut self) {
        let lease = self.lease.clone();
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move { lease.release().await });
        }
    }
}

/// The holder, in words, for the message a waiting enforcer gives up with.
fn describe(holder: &LeaseHolder) -> String {
    format!(
        "another revokd process ({}) is revoking with this database ({}, since {}, last heartbeat {})",
        holder.owner, holder.purpose, holder.acquired_at, holder.heartbeat_at
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[sqlx::test(migrations = "./migrations")]
    async fn a_renewal_that_waited_for_the_write_lock_is_as_old_as_the_time_it_wrote(
        pool: sqlx::SqlitePool,
    ) {
        let store = Store::from_pool(pool.clone()).await.unwrap();
        let lease = Lease::new(store, Duration::ZERO);
        let guard = lease.hold("test").await.unwrap();
        // Another writer holds SQLite's write lock while the renewal stamps its heartbeat.
        let mut writer = pool.acquire().await.unwrap();
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut *writer)
            .await
            .unwrap();
        let renewal = tokio::spawn({
            let lease = lease.clone();
            async move { lease.renew().await }
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        let committed = Instant::now();
        sqlx::query("COMMIT").execute(&mut *writer).await.unwrap();
        assert!(renewal.await.unwrap().unwrap(), "renewed");
        let renewed = *lease.renewed.lock().unwrap();
        assert!(
            renewed < committed,
            "fresh from the stamp, {:?} before the write got through",
            committed.saturating_duration_since(renewed)
        );
        guard.release().await;
    }
}
