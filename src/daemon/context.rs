//! What every job run and HTTP handler shares: the store, the configuration in force (swapped
//! whole by a SIGHUP reload, so a run keeps the one it started with), one overlap guard per
//! job, the flags `/readyz` reads, and the signal that cuts in-flight runs at shutdown.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use metrics_exporter_prometheus::PrometheusHandle;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};

use super::jobs::JobKind;
use crate::config::{self, Config};
use crate::notify::Receiver;
use crate::store::Store;
use crate::sweep::{Deps, Target, WideTargets};

/// The configuration in force and what is built from it.
#[derive(Debug)]
pub struct Current {
    pub config: Config,
    pub deps: Deps,
    pub targets: Vec<Target>,
    /// Apps and whole users the targets name.
    pub wide: WideTargets,
    /// `[[notify]]`, ready to send to.
    pub receivers: Vec<Receiver>,
}

impl Current {
    /// Builds the sweep dependencies over `store`; a configuration the daemon cannot run
    /// (nothing to do: no targets and no offboarding; a bad policy, an unusable Okta setting)
    /// is refused naming the key. A daemon without targets that offboards (event hook, System
    /// Log) runs its sweeps over no target: they reconcile interrupted revocations, and the
    /// schedule's health reads as for any other.
    pub fn from_config(config: Config, store: Store) -> Result<Current, config::Error> {
        let targets = Target::from_config(&config)?;
        let wide = WideTargets::from_config(&config)?;
        let offboards = config.server.names_hook_secret() || config.offboarding.system_log;
        if targets.is_empty() && wide.is_empty() && !offboards {
            return Err(config::Error::invalid(
                "targets",
                "no targets and no offboarding: add [[targets]] for the daemon to sweep, or \
                 server.hook_secret (or offboarding.system_log = true) for a daemon that only \
                 offboards",
            ));
        }
        let deps = Deps::from_config(&config, store)?;
        let receivers = config
            .notify
            .iter()
            .enumerate()
            .map(|(i, n)| {
                Receiver::from_config(n).ok_or_else(|| {
                    config::Error::invalid(format!("notify[{i}].url"), "is not a URL")
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Current {
            config,
            deps,
            targets,
            wide,
            receivers,
        })
    }
}

/// Keeps a job from overlapping itself: one permit, taken without waiting by a tick (a tick
/// that finds it taken is skipped) and waited for at shutdown.
#[derive(Debug, Clone)]
pub struct RunGuard {
    permit: Arc<Semaphore>,
}

impl Default for RunGuard {
    fn default() -> Self {
        RunGuard {
            permit: Arc::new(Semaphore::new(1)),
        }
    }
}

impl RunGuard {
    /// Whether a run is going now.
    pub fn busy(&self) -> bool {
        self.permit.available_permits() == 0
    }

    /// The permit to run now, or `None` while a run is going.
    pub fn try_start(&self) -> Option<OwnedSemaphorePermit> {
        Arc::clone(&self.permit).try_acquire_owned().ok()
    }

    /// Waits until no run is going and holds the permit, so none starts.
    pub async fn wait_idle(&self) -> Option<OwnedSemaphorePermit> {
        Arc::clone(&self.permit).acquire_owned().await.ok()
    }
}

/// Shared by the scheduler's job runs and the HTTP handlers.
#[derive(Debug)]
pub struct Context {
    pub store: Store,
    pub config_path: Option<PathBuf>,
    /// What the command line put over the file (`--db`), put over it again at each reload.
    pub overrides: config::Overrides,
    pub metrics: PrometheusHandle,
    current: RwLock<Arc<Current>>,
    guards: [RunGuard; JobKind::ALL.len()],
    scheduler_running: AtomicBool,
    stopping: AtomicBool,
    cut: watch::Sender<bool>,
    /// Wakes the offboarding worker when a job is enqueued (a stored permit if it is busy).
    pub offboard_wake: Notify,
    /// Wakes the notification dispatcher when this process may have enqueued an event.
    pub notify_wake: Notify,
    /// The audit chain's verdict, for `/metrics` and the audit watch.
    pub audit_check: super::audit_check::AuditCheck,
    /// The database's `data_version`, which tells `/metrics`, the audit watch and the offboarding
    /// worker whether anything was committed.
    pub db_version: crate::store::DataVersion,
    /// The database's gauges for `/metrics`, read again only after a commit.
    pub gauges: super::version_cache::VersionCache<crate::store::DbGauges>,
    /// The open revocation intents for the offboarding worker's retries, read again only after
    /// a commit.
    pub open_intents: super::version_cache::VersionCache<Vec<crate::store::AuditRow>>,
}

impl Context {
    /// A context over an open store, with `current` in force.
    pub fn new(
        store: Store,
        current: Current,
        config_path: Option<PathBuf>,
        overrides: config::Overrides,
        metrics: PrometheusHandle,
    ) -> Self {
        Context {
            store,
            config_path,
            overrides,
            metrics,
            current: RwLock::new(Arc::new(current)),
            guards: std::array::from_fn(|_| RunGuard::default()),
            scheduler_running: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
            cut: watch::Sender::new(false),
            offboard_wake: Notify::new(),
            notify_wake: Notify::new(),
            audit_check: super::audit_check::AuditCheck::default(),
            db_version: crate::store::DataVersion::default(),
            gauges: super::version_cache::VersionCache::default(),
            open_intents: super::version_cache::VersionCache::default(),
        }
    }

    /// A context over `store` for a configuration given as TOML, the metrics recorder installed.
    #[cfg(test)]
    pub fn for_test(store: Store, toml: &str) -> Self {
        use figment::providers::{Format, Toml};
        let config: Config = figment::Figment::from(Toml::string(toml))
            .extract()
            .unwrap();
        let current = Current::from_config(config, store.clone()).unwrap();
        let handle = super::metrics::install().unwrap();
        Context::new(store, current, None, config::Overrides::default(), handle)
    }

    /// The configuration in force now.
    pub fn current(&self) -> Arc<Current> {
        let current = self
            .current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(&current)
    }

    /// Puts `next` in force for the runs that start from now on.
    pub fn replace(&self, next: Current) {
        let mut current = self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *current = Arc::new(next);
    }

    /// The overlap guard of a job.
    pub fn guard(&self, job: JobKind) -> RunGuard {
        self.guards[job as usize].clone()
    }

    /// Whether the scheduler is ticking.
    pub fn scheduler_running(&self) -> bool {
        self.scheduler_running.load(Ordering::SeqCst)
    }

    pub(super) fn set_scheduler_running(&self, running: bool) {
        self.scheduler_running.store(running, Ordering::SeqCst);
    }

    /// Whether shutdown has begun (no new run starts).
    pub fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    pub(super) fn begin_stopping(&self) {
        self.stopping.store(true, Ordering::SeqCst);
    }

    /// Tells in-flight runs to stop where they are.
    pub(super) fn cut_runs(&self) {
        self.cut.send_replace(true);
    }

    /// Resolves once `cut_runs` has been called.
    pub async fn cut_requested(&self) {
        let mut rx = self.cut.subscribe();
        // The sender lives as long as `self`, so this only ends when the flag is set.
        let _ = rx.wait_for(|cut| *cut).await;
    }
}
