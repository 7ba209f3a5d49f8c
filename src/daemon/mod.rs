//! `revokd run`: the long-running service. [`Daemon::build`] binds `server.listen`, opens the
//! database (migrations) and builds the sweep dependencies; [`Daemon::run`] starts the HTTP
//! endpoints and the cron schedules, tells systemd it is ready, reloads the configuration on
//! SIGHUP, and on the shutdown future stops scheduling, lets in-flight runs finish within
//! `server.shutdown_timeout` (cutting them after it), and returns. The jobs only call the
//! library (`sweep::run_once`, `Store::prune_snapshots`, `report::write_scheduled`). The
//! offboarding worker and System Log poller run beside them (`offboarding`), fed by the
//! event hook at `/hooks/okta` (`hook`), and so does the notification dispatcher (`notifier`).

mod audit_check;
mod audit_watch;
mod breaker;
mod context;
mod hook;
mod http;
mod jobs;
mod log_pace;
pub mod metrics;
mod notifier;
mod notify;
mod offboarding;
mod schedule;
mod serve;
mod shutdown;
mod stranded;
mod version_cache;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::signal::unix::{Signal, SignalKind, signal};
use tracing::{error, info, warn};

use context::{Context, Current};
pub use jobs::JobKind;

use crate::config::{self, Config};
use crate::store::{self, Store};
use crate::sweep;
use schedule::Schedules;

/// Why the daemon could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot listen on {addr} (server.listen): {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Config(#[from] config::Error),
    #[error(transparent)]
    Store(#[from] store::Error),
    #[error(transparent)]
    Report(#[from] crate::report::Error),
    #[error("{context}: {source}")]
    Scheduler {
        context: &'static str,
        source: tokio_cron_scheduler::JobSchedulerError,
    },
    #[error("a job's task failed: {0}")]
    Task(String),
    /// A sweep that ran to its end with this status (`failed`: every target failed); its
    /// row is closed already.
    #[error("the sweep ended {0}: every target failed (see its row in sweeps)")]
    SweepEnded(&'static str),
    #[error("cannot set up metrics: {0}")]
    Metrics(String),
    #[error("cannot handle {signal}: {source}")]
    Signal {
        signal: &'static str,
        source: std::io::Error,
    },
}

/// A daemon that is set up but not yet running.
pub struct Daemon {
    ctx: Arc<Context>,
    listener: TcpListener,
    schedules: Schedules,
}

impl Daemon {
    /// Binds `server.listen` (first, so a busy port fails fast), opens the database and
    /// applies migrations, and builds what the jobs need. `config_path` is re-read on SIGHUP,
    /// with the command line's `overrides` (`--db`) put over it again.
    pub async fn build(
        config: Config,
        config_path: Option<PathBuf>,
        overrides: config::Overrides,
    ) -> Result<Daemon, Error> {
        let addr = config.server.listen;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| Error::Bind { addr, source })?;
        let store = Store::connect_configured(&config.database).await?;
        let current = Current::from_config(config, store.clone())?;
        // What a dead process left: its sweeps are closed as aborted and, in enforce mode,
        // its `pending` revocation intents are resolved against Okta before anything new runs.
        if current.config.mode == config::Mode::Enforce {
            match current.deps.gate.hold("reconciliation at start").await {
                Ok(lease) => {
                    let done = sweep::reconcile(&current.deps, &current.deps.okta).await;
                    lease.release().await;
                    let done = done?;
                    if done.sweeps_aborted + done.intents_resolved > 0 {
                        warn!(
                            sweeps.aborted = done.sweeps_aborted,
                            intents.resolved = done.intents_resolved,
                            "an earlier run was interrupted; reconciled"
                        );
                    }
                }
                // Another process is revoking: the first enforce sweep reconciles instead.
                Err(store::Error::EnforcerBusy(holder)) => {
                    warn!(lease.holder = %holder, "reconciliation at start skipped: another process is revoking");
                }
                Err(e) => return Err(e.into()),
            }
        } else {
            let aborted = sweep::abort_dead_sweeps(&store).await?;
            if !aborted.is_empty() {
                warn!(
                    sweeps = aborted.len(),
                    "sweeps left running by a dead process are marked aborted"
                );
            }
        }
        let handle = metrics::install().map_err(Error::Metrics)?;
        metrics::register_jobs(JobKind::ALL.map(JobKind::name));
        let ctx = Arc::new(Context::new(store, current, config_path, overrides, handle));
        Ok(Daemon {
            ctx,
            listener,
            schedules: Schedules::new().await?,
        })
    }

    /// The address the HTTP endpoints listen on.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.local_addr().ok()
    }

    /// Runs until `shutdown` resolves, then shuts down gracefully (see the module docs),
    /// reloading the configuration at each of `hangups` ([`hangup_signal`]).
    pub async fn run(
        mut self,
        shutdown: impl Future<Output = ()>,
        mut hangups: Signal,
    ) -> Result<(), Error> {
        let ctx = Arc::clone(&self.ctx);
        let (stop_http, http_stopped) = tokio::sync::oneshot::channel::<()>();
        let addr = self.local_addr();
        let server = tokio::spawn(serve::serve(
            self.listener,
            http::router(Arc::clone(&ctx)),
            serve::Limits::default(),
            async move {
                let _ = http_stopped.await;
            },
        ));

        let current = ctx.current();
        self.schedules.sync(&ctx, &current.config.schedule).await?;
        self.schedules.start().await?;
        ctx.set_scheduler_running(true);
        notify::ready();
        let watchdog = notify::spawn_watchdog();
        info!(
            http.addr = %addr.map_or_else(|| "?".to_owned(), |a| a.to_string()),
            mode = current.config.mode.as_str(),
            targets = current.targets.len(),
            "revokd is running"
        );
        hook::note_rotation(&current.config);
        let (stop_offboarding, offboarding_stop) = tokio::sync::watch::channel(false);
        let mut offboarding = offboarding::spawn(&ctx, &offboarding_stop);
        offboarding.push(notifier::spawn(&ctx, &offboarding_stop));
        let audit_watch = audit_watch::spawn(&ctx, &offboarding_stop);
        if current.config.schedule.sweep_on_start {
            tokio::spawn(jobs::tick(Arc::clone(&ctx), JobKind::Sweep));
        }
        drop(current);

        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                Some(()) = hangups.recv() => reload(&ctx, &mut self.schedules).await,
            }
        }

        info!("shutting down: no new runs; waiting for in-flight runs");
        let timeout = ctx.current().config.server.shutdown_timeout;
        notify::stopping_within(shutdown::budget(timeout));
        // One deadline for every wait from here: the runs', then the workers' together.
        let until = tokio::time::Instant::now() + timeout + shutdown::CUT_GRACE;
        ctx.begin_stopping();
        if let Err(e) = self.schedules.shutdown().await {
            warn!(error.message = %e, "the scheduler did not stop cleanly");
        }
        ctx.set_scheduler_running(false);
        let _ = stop_offboarding.send(true);
        let held = shutdown::drain(&ctx, timeout).await;
        // The audit watch stops at once, whatever it was doing: it only reads, and enqueues
        // in a transaction. An offboarding job cut here is picked up at the next start.
        let mut workers = offboarding;
        workers.push(audit_watch);
        let cut = shutdown::join_until(workers, until).await;
        if cut > 0 {
            warn!(
                tasks = cut,
                "the offboarding worker, poller or notifier did not finish in time: an offboarding job cut here is picked up at the next start"
            );
        }
        let _ = stop_http.send(());
        match tokio::time::timeout(shutdown::HTTP_GRACE, server).await {
            Ok(Err(e)) => warn!(error.message = %e, "the HTTP server ended with an error"),
            Ok(Ok(())) => {}
            Err(_) => warn!("the HTTP server did not stop within 5s"),
        }
        if let Some(watchdog) = watchdog {
            watchdog.abort();
        }
        drop(held);
        ctx.audit_check.stop().await;
        ctx.db_version.close().await;
        ctx.store.close().await;
        info!("revokd stopped");
        Ok(())
    }
}

/// Re-reads the configuration file, with the command line's overrides over it as at start: a
/// valid one is put in force for the next runs (schedules re-registered where they changed);
/// an invalid one is logged and the old one kept.
async fn reload(ctx: &Arc<Context>, schedules: &mut Schedules) {
    info!("SIGHUP: reloading the configuration");
    let loaded = config::load_for(
        ctx.config_path.as_deref(),
        &ctx.overrides,
        config::Needs::Everything,
    )
    .and_then(|config| Current::from_config(config, ctx.store.clone()));
    let mut next = match loaded {
        Ok(next) => next,
        Err(e) => {
            error!(
                error.message = %e,
                error.cause_chain = ?e,
                "configuration reload failed: keeping the previous configuration"
            );
            metrics::reloaded(false);
            return;
        }
    };
    let old = ctx.current();
    // One gate per process: runs already going see the new policies and exemptions at their
    // next DELETE, and old and new runs share one hold on the enforcer lease.
    next.deps.gate = old.deps.gate.clone();
    next.deps.gate.put_in_force(Arc::clone(&next.deps.policies));
    next.deps.gate.put_mode_in_force(next.config.mode);
    // One view of Okta's rate-limit buckets per process: runs on the old and the new
    // configuration together take no more than one share.
    next.deps.okta.carry_pacing_from(&old.deps.okta);
    for (key, changed) in [
        (
            "server.listen",
            old.config.server.listen != next.config.server.listen,
        ),
        (
            "database.url",
            old.config.database.url != next.config.database.url,
        ),
        (
            "database.busy_timeout",
            old.config.database.busy_timeout != next.config.database.busy_timeout,
        ),
        (
            "database.max_size",
            old.config.database.max_size != next.config.database.max_size,
        ),
        (
            "safety.enforcer_wait",
            old.config.safety.enforcer_wait != next.config.safety.enforcer_wait,
        ),
    ] {
        if changed {
            warn!(key, "changed in the file: takes effect at the next restart");
        }
    }
    let schedule = next.config.schedule.clone();
    let mode = next.config.mode;
    ctx.replace(next);
    if let Err(e) = schedules.sync(ctx, &schedule).await {
        error!(error.message = %e, error.cause_chain = ?e, "cannot re-register the schedules");
    }
    metrics::reloaded(true);
    info!(mode = mode.as_str(), "configuration reloaded");
    hook::note_rotation(&ctx.current().config);
}

/// The SIGHUPs [`Daemon::run`] reloads at. Installed before the daemon is built, since the
/// signal's default action ends the process: one sent during start-up (which may wait for
/// the enforcer lease for minutes) is a reload once the daemon runs.
pub fn hangup_signal() -> Result<Signal, Error> {
    signal(SignalKind::hangup()).map_err(|source| Error::Signal {
        signal: "SIGHUP",
        source,
    })
}

/// Resolves on SIGTERM or SIGINT. The handlers are installed now, not when first polled, so
/// a signal arriving during start-up is not lost (or fatal).
pub fn shutdown_signal() -> Result<impl Future<Output = ()>, Error> {
    let handler = |kind, name| {
        signal(kind).map_err(|source| Error::Signal {
            signal: name,
            source,
        })
    };
    let mut term = handler(SignalKind::terminate(), "SIGTERM")?;
    let mut int = handler(SignalKind::interrupt(), "SIGINT")?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => info!("SIGTERM received"),
            _ = int.recv() => info!("SIGINT received"),
        }
    })
}
