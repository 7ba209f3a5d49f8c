//! The daemon's watch over the audit chain: every [`WATCH_EVERY`] it asks the audit check for
//! the chain's verdict (the first time by a walk of the whole chain; then by checking what was
//! added, a whole walk starting in the background when one is due; see [`super::audit_check`]),
//! and a break not notified before enqueues `audit_broken`. A break is so notified at the first
//! check after the whole walk that sees it ends, whether or not anything scrapes `/metrics`.
//! Never on a sweep's path.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::error;

use super::context::Context;
use crate::store::{AuditBreak, NewEvent, ts};

/// How often the watch asks for the chain's verdict.
pub const WATCH_EVERY: Duration = Duration::from_secs(30);

/// Starts the watch; it ends when `stop` turns true.
pub(super) fn spawn(ctx: &Arc<Context>, stop: &watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(watch(Arc::clone(ctx), stop.clone()))
}

async fn watch(ctx: Arc<Context>, mut stop: watch::Receiver<bool>) {
    let mut reported = None;
    loop {
        // A walk at start (seconds at a million records) does not hold up a shutdown.
        tokio::select! {
            () = check_at(&ctx, Instant::now(), &mut reported) => {}
            _ = stop.changed() => return,
        }
        tokio::select! {
            () = tokio::time::sleep(WATCH_EVERY) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Asks for the chain's verdict as of `now`; a break other than the one `reported` enqueues
/// `audit_broken`.
async fn check_at(ctx: &Context, now: Instant, reported: &mut Option<i64>) {
    let verdict = async {
        let version = ctx.db_version.current(&ctx.store).await?;
        ctx.audit_check.verdict_at(&ctx.store, version, now).await
    }
    .await;
    match verdict {
        Ok(Ok(_)) => *reported = None,
        Ok(Err(broken)) if *reported == Some(broken.id) => {}
        Ok(Err(broken)) => {
            if report_break(ctx, &broken).await {
                *reported = Some(broken.id);
            }
        }
        Err(e) => {
            error!(error.message = %e, error.cause_chain = ?e, "cannot verify the audit chain");
        }
    }
}

/// Enqueues `audit_broken` for a break not notified before, logs it and wakes the dispatcher;
/// whether the outbox holds it. The event's subject names the record and a digest of what it
/// holds (and the problem): the same break seen again (after a restart) is logged, not sent
/// again, while a record put back and edited anew is a break of its own.
async fn report_break(ctx: &Context, broken: &AuditBreak) -> bool {
    let digest = match ctx
        .store
        .audit_break_digest(broken.id, &broken.problem)
        .await
    {
        Ok(digest) => digest,
        Err(e) => {
            error!(error.message = %e, "cannot record the audit chain break");
            return false;
        }
    };
    let mut event = NewEvent::audit_broken(broken.id, &broken.problem, &ts(Utc::now()));
    event.subject = format!("audit:{}:{digest}", broken.id);
    match ctx.store.enqueue_event(&event).await {
        Ok(fresh) => {
            error!(audit.broken_id = broken.id, audit.problem = %broken.problem, notified_before = !fresh, "the audit chain is broken");
            if fresh {
                ctx.notify_wake.notify_one();
            }
            true
        }
        Err(e) => {
            error!(error.message = %e, "cannot record the audit chain break");
            false
        }
    }
}

#[cfg(test)]
#[path = "tests_audit_watch.rs"]
mod tests;
