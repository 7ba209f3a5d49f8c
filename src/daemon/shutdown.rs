//! Shutdown's clock. Once a stop is asked, every wait shares one deadline: the in-flight runs
//! get `server.shutdown_timeout`, then are cut and get [`CUT_GRACE`] to record that, and the
//! offboarding worker, the System Log poller, the notifier and the audit watch end by the same
//! instant, together rather than one after another. systemd is told the whole budget
//! ([`budget`]), so a unit whose `TimeoutStopSec=` is shorter than a long
//! `server.shutdown_timeout` does not kill a daemon still inside it.

use std::time::Duration;

use tokio::sync::OwnedSemaphorePermit;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::warn;

use super::context::Context;
use super::jobs::JobKind;

/// How long a cut run may take to record that it was cut before shutdown stops waiting.
pub(super) const CUT_GRACE: Duration = Duration::from_secs(15);

/// How long the HTTP server gets to stop, once everything else has.
pub(super) const HTTP_GRACE: Duration = Duration::from_secs(5);

/// The longest a stop takes with `timeout` (`server.shutdown_timeout`): the runs' wait and
/// their cut, the HTTP server, and a margin for closing the database.
pub(super) fn budget(timeout: Duration) -> Duration {
    timeout + CUT_GRACE + HTTP_GRACE + Duration::from_secs(10)
}

/// Waits for every job's in-flight run, up to `timeout`; then cuts what is still running and
/// waits (at most [`CUT_GRACE`]) for it to record that. Returns the held permits, so nothing
/// starts after.
pub(super) async fn drain(ctx: &Context, timeout: Duration) -> Vec<OwnedSemaphorePermit> {
    let deadline = Instant::now() + timeout;
    let mut held = Vec::new();
    let mut cut = false;
    for job in JobKind::ALL {
        let guard = ctx.guard(job);
        let permit = match tokio::time::timeout_at(deadline, guard.wait_idle()).await {
            Ok(permit) => permit,
            Err(_) => {
                if !cut {
                    warn!(
                        timeout_ms = timeout.as_millis(),
                        "in-flight runs did not finish within server.shutdown_timeout: cutting them short"
                    );
                    ctx.cut_runs();
                    cut = true;
                }
                tokio::time::timeout_at(deadline + CUT_GRACE, guard.wait_idle())
                    .await
                    .ok()
                    .flatten()
            }
        };
        held.extend(permit);
    }
    held
}

/// Waits for `tasks` together until `until`, then aborts those still running; returns how many
/// it aborted.
pub(super) async fn join_until(mut tasks: Vec<JoinHandle<()>>, until: Instant) -> usize {
    let all = futures::future::join_all(tasks.iter_mut());
    if tokio::time::timeout_at(until, all).await.is_ok() {
        return 0;
    }
    let left: Vec<&JoinHandle<()>> = tasks.iter().filter(|t| !t.is_finished()).collect();
    for task in &left {
        task.abort();
    }
    left.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn tasks_that_never_end_are_waited_for_together_and_aborted_at_the_deadline() {
        let start = Instant::now();
        let hung: Vec<JoinHandle<()>> = (0..4)
            .map(|_| tokio::spawn(std::future::pending::<()>()))
            .collect();
        let watch: Vec<_> = hung.iter().map(JoinHandle::abort_handle).collect();

        let aborted = join_until(hung, start + Duration::from_secs(30)).await;

        assert_eq!(aborted, 4);
        assert_eq!(
            start.elapsed(),
            Duration::from_secs(30),
            "one deadline, not four"
        );
        tokio::task::yield_now().await;
        assert!(watch.iter().all(tokio::task::AbortHandle::is_finished));
    }

    #[tokio::test(start_paused = true)]
    async fn tasks_that_end_are_joined_without_waiting_for_the_deadline() {
        let start = Instant::now();
        let quick: Vec<JoinHandle<()>> = (1..=3)
            .map(|s| tokio::spawn(tokio::time::sleep(Duration::from_secs(s))))
            .collect();

        let aborted = join_until(quick, start + Duration::from_secs(30)).await;

        assert_eq!(aborted, 0);
        assert_eq!(start.elapsed(), Duration::from_secs(3));
    }

    #[test]
    fn the_budget_told_to_systemd_covers_every_wait() {
        let timeout = Duration::from_secs(120);
        assert!(budget(timeout) > timeout + CUT_GRACE + HTTP_GRACE);
        // The unit's own TimeoutStopSec= covers the default.
        assert!(budget(Duration::from_secs(30)) <= Duration::from_secs(60));
    }
}
