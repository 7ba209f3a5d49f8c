//! The daemon's offboarding tasks. The worker drains `offboarding_jobs` (`queued` →
//! `running` → `done|failed|skipped`; `skipped` when an automatic job finds its event no
//! longer stands, see [`crate::offboard::standing`]): it wakes
//! when the hook or the poller enqueues (a `Notify`), when a retried job comes due, and every
//! [`IDLE_RECHECK`] in any case. A failed attempt is re-queued with backoff until
//! `offboarding.max_attempts`. Before each claim, `running` jobs no process is carrying out
//! are handed back to the queue (see [`super::stranded`]) and failed offboarding revocations
//! that are due are retried; a claimed automatic job may be held by the breaker (see
//! [`super::breaker`]). The poller runs the System Log catch-up every
//! `offboarding.poll_interval` when `offboarding.system_log` is on. Both stop between jobs
//! when told to; a job cut by shutdown stays `running` and is picked up at the next start.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{error, info, warn};

use super::breaker;
use super::context::{Context, Current};
use super::metrics;
use super::stranded;
use crate::config::Mode;
use crate::offboard::{
    Offboarding, Standing, VerifySettings, configured_clients, offboard_user, standing, stop_begun,
    syslog,
};
use crate::okta::UserId;
use crate::runner;
use crate::store::{self, JobRow, JobState};

/// The longest the worker sleeps without looking at the queue.
pub const IDLE_RECHECK: Duration = Duration::from_secs(30);

/// Starts the worker and the poller; they end when `stop` turns true.
pub(super) fn spawn(ctx: &Arc<Context>, stop: &watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
    vec![
        tokio::spawn(worker(Arc::clone(ctx), stop.clone())),
        tokio::spawn(poller(Arc::clone(ctx), stop.clone())),
    ]
}

/// How soon a job that found the enforcer lease held (after `safety.enforcer_wait`) asks
/// again; the attempt is not counted.
const LEASE_RECHECK: Duration = Duration::from_secs(5);

/// How long a job may wait for the enforcer lease without its waits counting as attempts;
/// after that each wait is a failed attempt, so a lease held for good fails the job (and
/// notifies) instead of deferring it for ever.
const LEASE_PATIENCE: Duration = Duration::from_secs(3600);

/// Whether the job was queued longer ago than [`LEASE_PATIENCE`].
fn waited_long(job: &JobRow) -> bool {
    job.created_at
        .parse::<DateTime<Utc>>()
        .ok()
        .and_then(|at| (Utc::now() - at).to_std().ok())
        .is_some_and(|waited| waited > LEASE_PATIENCE)
}

/// The wait before attempt `attempts + 1` of a job: 5 s doubling, capped at 5 minutes.
pub fn job_backoff(attempts: i64) -> Duration {
    let exp = u32::try_from(attempts.saturating_sub(1).clamp(0, 10)).unwrap_or(10);
    Duration::from_secs(5)
        .saturating_mul(2u32.saturating_pow(exp))
        .min(Duration::from_secs(300))
}

async fn worker(ctx: Arc<Context>, mut stop: watch::Receiver<bool>) {
    loop {
        if *stop.borrow() {
            return;
        }
        // Between jobs: none is running here, so a job left `running` under this process is
        // one whose outcome could not be recorded.
        stranded::release_stranded_jobs(&ctx).await;
        if let Err(e) = breaker::retry_due_intents(&ctx).await {
            error!(error.message = %e, error.cause_chain = ?e, "cannot retry failed offboarding revocations");
        }
        let wait = match ctx.store.claim_job(runner::current(), Utc::now()).await {
            Ok(Some(job)) => {
                match breaker::held(&ctx, &job).await {
                    Ok(true) => {}
                    Ok(false) => run_job(&ctx, job).await,
                    Err(e) => {
                        error!(job_id = job.id, error.message = %e, "cannot check the offboarding breaker; the job is held");
                        let _ = ctx
                            .store
                            .hold_job(job.id, &format!("the breaker could not be checked: {e}"))
                            .await;
                    }
                }
                continue;
            }
            Ok(None) => until_next_due(&ctx).await,
            Err(e) => {
                error!(error.message = %e, error.cause_chain = ?e, "cannot read the offboarding queue");
                Duration::from_secs(5)
            }
        };
        tokio::select! {
            () = ctx.offboard_wake.notified() => {}
            () = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
        }
    }
}

/// How long until a backed-off job comes due (at most [`IDLE_RECHECK`]).
async fn until_next_due(ctx: &Context) -> Duration {
    let due = ctx.store.next_job_due().await.ok().flatten();
    due.and_then(|at| at.parse::<DateTime<Utc>>().ok())
        .map_or(IDLE_RECHECK, |at| {
            (at - Utc::now())
                .to_std()
                .unwrap_or(Duration::ZERO)
                .min(IDLE_RECHECK)
        })
}

async fn run_job(ctx: &Context, job: JobRow) {
    let current = ctx.current();
    let outcome = match UserId::new(&job.user_id) {
        Err(e) => Err(format!("invalid user id `{}`: {e}", job.user_id)),
        Ok(user) => match standing(&ctx.store, &current.deps.okta, &user, &job).await {
            Err(e) => Err(e),
            Ok(Standing::Undone(why)) => return skip_job(ctx, &job, &why).await,
            Ok(Standing::UndoneAfterBegun(why)) => match stop_begun(&ctx.store, job.id, &why).await
            {
                Ok(ended) => return skip_job(ctx, &job, &ended).await,
                Err(e) => Err(format!("database: {e}")),
            },
            Ok(Standing::GoAhead) => match offboard(ctx, &current, &job, user).await {
                Some(outcome) => outcome,
                None => return,
            },
        },
    };
    let now = Utc::now();
    let latency = job
        .created_at
        .parse::<DateTime<Utc>>()
        .ok()
        .and_then(|at| (now - at).to_std().ok());
    let recorded = match outcome {
        Ok(()) => {
            info!(job_id = job.id, okta.user_id = %job.user_id, latency_ms = latency.map(|l| l.as_millis() as u64), "offboarding job done");
            let verified = (current.config.mode == Mode::Enforce)
                .then_some(latency)
                .flatten();
            metrics::offboarding_job(job.source.as_str(), JobState::Done.as_str(), verified);
            ctx.store
                .finish_job(job.id, JobState::Done, None, now)
                .await
        }
        Err(e) if job.attempts >= i64::from(current.config.offboarding.max_attempts) => {
            error!(job_id = job.id, okta.user_id = %job.user_id, attempts = job.attempts, error.message = %e, "offboarding job failed for good");
            metrics::offboarding_job(job.source.as_str(), JobState::Failed.as_str(), None);
            ctx.store
                .finish_job(job.id, JobState::Failed, Some(&e), now)
                .await
        }
        Err(e) => {
            let wait = job_backoff(job.attempts);
            warn!(job_id = job.id, okta.user_id = %job.user_id, attempts = job.attempts, retry_in_ms = wait.as_millis() as u64, error.message = %e, "offboarding job failed; will be retried");
            metrics::offboarding_job(job.source.as_str(), "retry", None);
            let due = now + chrono::Duration::from_std(wait).unwrap_or_default();
            ctx.store.requeue_job(job.id, &e, due).await
        }
    };
    if let Err(e) = recorded {
        error!(job_id = job.id, error.message = %e, "cannot record an offboarding job's outcome");
    }
    ctx.notify_wake.notify_one();
}

/// Offboards the job's user: `None` when the job was deferred (the enforcer lease is held
/// elsewhere), the attempt's outcome otherwise.
async fn offboard(
    ctx: &Context,
    current: &Current,
    job: &JobRow,
    user: UserId,
) -> Option<Result<(), String>> {
    let offboarding = Offboarding {
        clients: configured_clients(&current.targets, &current.wide.apps, &user),
        user,
        reason: job
            .reason
            .clone()
            .unwrap_or_else(|| format!("offboarding job {}", job.id)),
        job_id: job.id,
        dry_run: current.config.mode == Mode::DryRun,
    };
    let outcome = match offboard_user(&current.deps, &offboarding, VerifySettings::default()).await
    {
        Ok(report) if report.succeeded() => Ok(()),
        Ok(report) => Err(report.error().unwrap_or_else(|| "not verified".into())),
        Err(store::Error::EnforcerBusy(holder)) if waited_long(job) => Err(format!(
            "waited over {} for the enforcer lease: {holder}",
            humantime::format_duration(LEASE_PATIENCE)
        )),
        Err(store::Error::EnforcerBusy(holder)) => {
            // Not an attempt: nothing was tried. The wait is in the lease itself.
            warn!(job_id = job.id, okta.user_id = %job.user_id, holder = %holder, "offboarding job waits for the enforcer lease");
            let due = Utc::now() + chrono::Duration::from_std(LEASE_RECHECK).unwrap_or_default();
            if let Err(e) = ctx.store.defer_job(job.id, &holder, due).await {
                error!(job_id = job.id, error.message = %e, "cannot re-queue an offboarding job");
            }
            return None;
        }
        Err(e) => Err(format!("database: {e}")),
    };
    Some(outcome)
}

/// Ends a job whose event no longer stands (`why` says what it revoked: nothing, or nothing
/// more once its earlier attempt had begun).
async fn skip_job(ctx: &Context, job: &JobRow, why: &str) {
    warn!(job_id = job.id, okta.user_id = %job.user_id, event_type = job.event_type.as_deref().unwrap_or_default(), reason = why, "offboarding job skipped: its event no longer stands");
    metrics::offboarding_job(job.source.as_str(), JobState::Skipped.as_str(), None);
    if let Err(e) = ctx
        .store
        .finish_job(job.id, JobState::Skipped, Some(why), Utc::now())
        .await
    {
        error!(job_id = job.id, error.message = %e, "cannot record an offboarding job's outcome");
    }
}

async fn poller(ctx: Arc<Context>, mut stop: watch::Receiver<bool>) {
    loop {
        let current = ctx.current();
        let settings = &current.config.offboarding;
        if settings.system_log {
            match syslog::poll_once(
                &current.deps.okta,
                &ctx.store,
                &settings.event_types,
                settings.lookback,
            )
            .await
            {
                Ok(polled) if polled.enqueued > 0 => {
                    info!(
                        pages = polled.pages,
                        events = polled.events,
                        jobs_created = polled.enqueued,
                        "System Log catch-up enqueued offboarding jobs"
                    );
                    ctx.offboard_wake.notify_one();
                }
                Ok(_) => {}
                Err(e) => {
                    warn!(error.message = %e, "System Log poll failed; retried at the next interval")
                }
            }
        }
        let interval = settings.poll_interval;
        drop(current);
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            _ = stop.changed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_retries_back_off_from_five_seconds_to_five_minutes() {
        assert_eq!(job_backoff(1), Duration::from_secs(5));
        assert_eq!(job_backoff(2), Duration::from_secs(10));
        assert_eq!(job_backoff(50), Duration::from_secs(300));
    }

    #[test]
    fn waits_for_the_lease_count_as_attempts_only_after_an_hour_in_the_queue() {
        let queued = |ago: chrono::Duration| JobRow {
            id: 1,
            user_id: "00u1".into(),
            source: store::JobSource::EventHook,
            event_id: None,
            event_type: None,
            reason: None,
            state: store::JobState::Running,
            created_at: crate::store::ts(Utc::now() - ago),
            started_at: None,
            finished_at: None,
            next_attempt_at: None,
            attempts: 1,
            runner: None,
            error: None,
        };
        assert!(!waited_long(&queued(chrono::Duration::minutes(59))));
        assert!(waited_long(&queued(chrono::Duration::minutes(61))));
    }
}
