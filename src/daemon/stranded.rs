//! Offboarding jobs left `running` that no process is carrying out: what the worker does
//! with each, before every claim (not only at start). A job stays `running` after its process
//! died (a crash, a SIGKILL, a shutdown that cut it), and also when this worker could not
//! record its outcome (the database refused the write): either way no one would finish it.
//! The decision ([`judge`]) is pure; [`release_stranded_jobs`] reads the jobs and acts.

use chrono::{DateTime, Utc};
use tracing::{error, warn};

use super::context::Context;
use crate::runner;
use crate::store::{JobRow, JobSource};

/// The process a job's runner id names, as far as this process can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runner {
    /// This process: its worker runs one job at a time, and none while it looks.
    Me,
    /// A process of this host, alive or not.
    Here { alive: bool },
    /// A process of another host (or a runner id this version cannot read): taken for gone
    /// once the job started longer ago than [`runner::ELSEWHERE_QUIET`].
    Elsewhere,
}

/// What to do with a `running` job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stranded {
    /// Its process may still be carrying it out.
    Leave,
    /// Queue it again, due at once.
    Requeue,
    /// Fail it: a `revokd offboard`'s `--dry-run` and `--client` lived in its process alone,
    /// and the daemon's own mode must not turn a preview into revocations.
    Fail,
}

/// What to do with a job found `running` under `runner` (`None`: no runner recorded), started
/// at `started_at`, while this process's worker runs no job.
pub fn judge(
    runner: Option<Runner>,
    source: JobSource,
    started_at: Option<&str>,
    now: DateTime<Utc>,
) -> Stranded {
    let dead = match runner {
        None | Some(Runner::Me | Runner::Here { alive: false }) => true,
        Some(Runner::Here { alive: true }) => false,
        // Its process cannot be asked: a try takes minutes, never an hour.
        Some(Runner::Elsewhere) => started_at.is_none_or(|at| !runner::heard_from_lately(at, now)),
    };
    match (dead, source) {
        (false, _) => Stranded::Leave,
        (true, JobSource::Cli) => Stranded::Fail,
        (true, JobSource::EventHook | JobSource::SystemLog) => Stranded::Requeue,
    }
}

/// The process `runner` names, asking this host's kernel.
fn runner_of(runner: &str) -> Runner {
    if runner == runner::current() {
        Runner::Me
    } else if runner::on_this_host(runner) {
        Runner::Here {
            alive: runner::is_alive(runner),
        }
    } else {
        Runner::Elsewhere
    }
}

/// Hands each stranded job back to the queue, or fails it (see [`judge`]). Called by the
/// worker only between jobs.
pub(super) async fn release_stranded_jobs(ctx: &Context) {
    let running = match ctx.store.running_jobs().await {
        Ok(rows) => rows,
        Err(e) => {
            error!(error.message = %e, error.cause_chain = ?e, "cannot read running offboarding jobs");
            return;
        }
    };
    for job in running {
        let JobRow { id, runner, .. } = &job;
        let who = runner.as_deref().map(runner_of);
        match judge(who, job.source, job.started_at.as_deref(), Utc::now()) {
            Stranded::Leave => {}
            Stranded::Fail => {
                let why = "the `revokd offboard` that ran this job stopped before it finished; \
                           run it again";
                match (ctx.store)
                    .fail_dead_job(*id, runner.as_deref(), why, Utc::now())
                    .await
                {
                    Ok(true) => warn!(
                        job_id = id,
                        "an offboarding job left running by a dead `revokd offboard` is failed, not carried out"
                    ),
                    // That process finished it after all, between the read and now.
                    Ok(false) => {}
                    Err(e) => {
                        error!(job_id = id, error.message = %e, "cannot fail an offboarding job")
                    }
                }
            }
            Stranded::Requeue => match ctx.store.release_job(*id, runner.as_deref()).await {
                Ok(true) => warn!(
                    job_id = id,
                    runner = runner.as_deref().unwrap_or(""),
                    "an offboarding job left running by no live process is queued again"
                ),
                Ok(false) => {}
                Err(e) => {
                    error!(job_id = id, error.message = %e, "cannot re-queue an offboarding job")
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_is_left_only_while_its_process_may_still_carry_it_out() {
        let now = Utc::now();
        let ago = |m: i64| crate::store::ts(now - chrono::Duration::minutes(m));
        let (recent, old) = (ago(5), ago(61));
        let hook = JobSource::EventHook;
        let cases = [
            (
                Some(Runner::Here { alive: true }),
                Some(old.as_str()),
                Stranded::Leave,
            ),
            (
                Some(Runner::Here { alive: false }),
                Some(recent.as_str()),
                Stranded::Requeue,
            ),
            // This worker runs no job while it looks: one of its own is stranded.
            (Some(Runner::Me), Some(recent.as_str()), Stranded::Requeue),
            (None, Some(recent.as_str()), Stranded::Requeue),
            (
                Some(Runner::Elsewhere),
                Some(recent.as_str()),
                Stranded::Leave,
            ),
            (
                Some(Runner::Elsewhere),
                Some(old.as_str()),
                Stranded::Requeue,
            ),
            (Some(Runner::Elsewhere), None, Stranded::Requeue),
            (Some(Runner::Elsewhere), Some("not a time"), Stranded::Leave),
        ];
        for (runner, started, expected) in cases {
            assert_eq!(
                judge(runner, hook, started, now),
                expected,
                "{runner:?} {started:?}"
            );
            assert_eq!(
                judge(runner, JobSource::SystemLog, started, now),
                expected,
                "{runner:?} {started:?}"
            );
        }
        // A dead `revokd offboard`'s job is failed, never carried out in the daemon's mode.
        let cli = JobSource::Cli;
        assert_eq!(judge(None, cli, Some(&recent), now), Stranded::Fail);
        let dead = Some(Runner::Here { alive: false });
        assert_eq!(judge(dead, cli, Some(&recent), now), Stranded::Fail);
        let far = Some(Runner::Elsewhere);
        assert_eq!(judge(far, cli, Some(&old), now), Stranded::Fail);
        let alive = Some(Runner::Here { alive: true });
        assert_eq!(judge(alive, cli, Some(&old), now), Stranded::Leave);
    }
}
