//! The daemon's jobs: what each scheduled tick does. Every job is a [`JobKind`] with a name, a
//! schedule taken from `[schedule]`, and a `run` that only calls into the library (a sweep is
//! `sweep::run_once`, as `revokd sweep` does). [`tick`] wraps a run with the overlap guard,
//! the shutdown cut and the log line and metrics of its outcome. No scheduling here (see
//! `schedule.rs`), no SQL beyond the store's methods.

use std::sync::Arc;

use chrono::{TimeDelta, Utc};
use tokio::time::Instant;
use tracing::{Instrument, error, info, info_span, warn};

use super::context::Context;
use super::{Error, metrics};
use crate::config::ScheduleConfig;
use crate::report;
use crate::store::{SweepStatus, Trigger};
use crate::sweep::{self, SweepPlan};

/// One of the daemon's scheduled jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobKind {
    /// A sweep of the configured targets (`[schedule] sweep`).
    Sweep = 0,
    /// Pruning token snapshots older than `database.snapshot_retention` (`[schedule] prune`).
    Prune = 1,
    /// Writing every report kind as CSV, and the overview page, into `reports.dir`
    /// (`[schedule] report`, optional).
    Report = 2,
}

impl JobKind {
    /// Every job.
    pub const ALL: [JobKind; 3] = [JobKind::Sweep, JobKind::Prune, JobKind::Report];

    /// The name in logs and metrics.
    pub fn name(self) -> &'static str {
        match self {
            JobKind::Sweep => "sweep",
            JobKind::Prune => "prune",
            JobKind::Report => "report",
        }
    }

    /// Its cron expression (six fields, seconds first, UTC), or `None` when not scheduled.
    pub fn schedule(self, schedule: &ScheduleConfig) -> Option<&str> {
        match self {
            JobKind::Sweep => Some(&schedule.sweep),
            JobKind::Prune => Some(&schedule.prune),
            JobKind::Report => schedule.report.as_deref(),
        }
    }

    /// Does the job once, with the configuration in force when it starts: `None` when
    /// shutdown cut it short.
    async fn run(self, ctx: &Arc<Context>) -> Option<Result<(), Error>> {
        let cut = ctx.cut_requested();
        match self {
            JobKind::Sweep => sweep_job(Arc::clone(ctx)).await,
            JobKind::Prune => tokio::select! {
                result = prune(ctx) => Some(result),
                () = cut => None,
            },
            JobKind::Report => tokio::select! {
                result = write_reports(ctx) => Some(result),
                () = cut => None,
            },
        }
    }
}

/// Prunes token snapshots older than `database.snapshot_retention` (never audit records) and
/// gives free pages back to the file system.
async fn prune(ctx: &Context) -> Result<(), Error> {
    let retention = TimeDelta::from_std(ctx.current().config.database.snapshot_retention)
        .unwrap_or(TimeDelta::MAX);
    let Some(cutoff) = Utc::now().checked_sub_signed(retention) else {
        return Ok(());
    };
    let pruned = ctx.store.prune(cutoff).await?;
    info!(
        deleted = pruned.snapshots,
        absences = pruned.absences,
        pages_freed = pruned.pages_freed,
        "token snapshots pruned, free pages given back"
    );
    ctx.notify_wake.notify_one();
    Ok(())
}

/// Writes every report kind as CSV, and the overview page, into `reports.dir`.
async fn write_reports(ctx: &Context) -> Result<(), Error> {
    let current = ctx.current();
    let now = Utc::now();
    let mut written =
        report::write_scheduled(&ctx.store, &current.config, report::SCHEDULED_KINDS, now).await?;
    written
        .push(report::overview::write_scheduled_overview(&ctx.store, &current.config, now).await?);
    info!(
        files = written.len(),
        dir = %current.config.reports.dir.display(),
        "reports written"
    );
    Ok(())
}

/// One scheduled tick of `job`: skipped (logged and counted) while the previous run is still
/// going or once shutdown has begun; otherwise runs it until it ends or shutdown cuts it. A
/// sweep that is cut, or that dies on an error, has its `running` row closed as `aborted` or
/// `failed`.
pub async fn tick(ctx: Arc<Context>, job: JobKind) {
    if ctx.stopping() {
        return;
    }
    let Some(permit) = ctx.guard(job).try_start() else {
        warn!(
            job = job.name(),
            "the previous run is still going: this tick is skipped"
        );
        metrics::run_skipped(job.name());
        return;
    };
    let span = info_span!("job", job = job.name());
    async move {
        let started_at = Utc::now();
        let outcome = job.run(&ctx).await;
        let (status, why, label) = match &outcome {
            Some(Ok(())) => (None, String::new(), "ok"),
            Some(Err(e)) => {
                error!(error.message = %e, error.cause_chain = ?e, "job failed");
                (Some(SweepStatus::Failed), e.to_string(), "failed")
            }
            None => {
                warn!("run cut short by shutdown");
                let why = "cut short by shutdown (server.shutdown_timeout)".to_owned();
                (Some(SweepStatus::Aborted), why, "aborted")
            }
        };
        if let (JobKind::Sweep, Some(status)) = (job, status) {
            let closed = ctx
                .store
                .close_running_sweeps(Trigger::Schedule, started_at, status, &why, Utc::now())
                .await;
            if let Err(e) = closed {
                error!(error.message = %e, error.cause_chain = ?e, "could not close the sweep row");
            }
        }
        metrics::run_finished(job.name(), label);
        // Logged after the run's metrics are recorded: a scrape after this line counts it.
        info!(outcome = label, "job run ended");
        // A sweep may have enqueued notifications (a tripped guard, a failure).
        ctx.notify_wake.notify_one();
        drop(permit);
    }
    .instrument(span)
    .await;
}

/// A scheduled sweep with the configuration in force: `None` when shutdown cut it.
async fn sweep_job(ctx: Arc<Context>) -> Option<Result<(), Error>> {
    let current = ctx.current();
    let plan = SweepPlan {
        named_targets: false,
        trigger: Trigger::Schedule,
        mode: current.config.mode,
        targets: current.targets.clone(),
        wide: current.wide.clone(),
    };
    let started = Instant::now();
    tokio::select! {
        result = sweep::run_once(&current.deps, &plan, Utc::now()) => Some(
            result.map_err(Error::from).and_then(|report| {
                metrics::record_sweep_duration(started.elapsed());
                // Counted as the run it was: a pass whose every target failed is no `ok` run.
                match report.status {
                    SweepStatus::Failed => Err(Error::SweepEnded(report.status.as_str())),
                    _ => Ok(()),
                }
            }),
        ),
        () = ctx.cut_requested() => None,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::sync::Notify;
    use tokio_cron_scheduler::{Job, JobScheduler};

    use super::super::context::RunGuard;
    use super::*;
    use crate::config::EXAMPLE;
    use figment::Figment;
    use figment::providers::{Format, Toml};

    fn parses(schedule: &str) -> bool {
        Job::new_async(schedule, |_, _| Box::pin(async {})).is_ok()
    }

    #[test]
    fn jobs_defined() {
        let names: HashSet<_> = JobKind::ALL.iter().map(|j| j.name()).collect();
        assert_eq!(names.len(), JobKind::ALL.len(), "job names are unique");
        for (i, job) in JobKind::ALL.iter().enumerate() {
            assert_eq!(*job as usize, i, "ALL is in discriminant order");
        }
        let example: ScheduleConfig = Figment::from(Toml::string(EXAMPLE))
            .focus("schedule")
            .extract()
            .expect("the example's [schedule] parses");
        let with_report = ScheduleConfig {
            report: Some("0 0 6 * * Mon".into()),
            ..ScheduleConfig::default()
        };
        for schedule in [ScheduleConfig::default(), example, with_report] {
            for job in JobKind::ALL {
                if let Some(cron) = job.schedule(&schedule) {
                    assert!(parses(cron), "{}: `{cron}` parses", job.name());
                }
            }
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_tick_finding_the_previous_run_still_going_is_skipped() {
        let guard = RunGuard::default();
        let (entered, skipped, release) = (
            Arc::new(Notify::new()),
            Arc::new(Notify::new()),
            Arc::new(Notify::new()),
        );
        let runs = Arc::new(AtomicUsize::new(0));
        let sched = JobScheduler::new().await.unwrap();
        let job = {
            let (guard, entered, skipped, release, runs) = (
                guard.clone(),
                entered.clone(),
                skipped.clone(),
                release.clone(),
                runs.clone(),
            );
            Job::new_async("* * * * * *", move |_, _| {
                let (guard, entered, skipped, release, runs) = (
                    guard.clone(),
                    entered.clone(),
                    skipped.clone(),
                    release.clone(),
                    runs.clone(),
                );
                Box::pin(async move {
                    let Some(_permit) = guard.try_start() else {
                        skipped.notify_one();
                        return;
                    };
                    runs.fetch_add(1, Ordering::SeqCst);
                    entered.notify_one();
                    release.notified().await;
                })
            })
            .unwrap()
        };
        sched.add(job).await.unwrap();
        sched.start().await.unwrap();

        entered.notified().await;
        skipped.notified().await;
        assert_eq!(
            runs.load(Ordering::SeqCst),
            1,
            "no second run while the first goes on"
        );
        release.notify_one();
        assert!(guard.wait_idle().await.is_some());
        let mut sched = sched;
        sched.shutdown().await.unwrap();
    }
}
