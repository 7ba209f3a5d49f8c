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
    let mut reported = Reported::default();
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

/// The break this watch last notified, and whether the chain was seen to verify after it (a
/// repair): a break found after that is another one, though at the same record.
#[derive(Debug, Default)]
pub(super) struct Reported {
    broken: Option<i64>,
    repaired: bool,
}

/// Asks for the chain's verdict as of `now`; a break other than the one `reported` enqueues
/// `audit_broken`.
async fn check_at(ctx: &Context, now: Instant, reported: &mut Reported) {
    let verdict = async {
        let version = ctx.db_version.current(&ctx.store).await?;
        ctx.audit_check.verdict_at(&ctx.store, version, now).await
    }
    .await;
    match verdict {
        Ok(Ok(_)) => {
            reported.repaired |= reported.broken.is_some();
            reported.broken = None;
        }
        Ok(Err(broken)) if reported.broken == Some(broken.id) => {}
        Ok(Err(broken)) => {
            if report_break(ctx, &broken, reported.repaired).await {
                *reported = Reported {
                    broken: Some(broken.id),
                    repaired: false,
                };
            }
        }
        Err(e) => {
            error!(error.message = %e, error.cause_chain = ?e, "cannot verify the audit chain");
        }
    }
}

/// Enqueues `audit_broken` for a break not notified before (`again`: one found after the chain
/// verified since an earlier break), logs it, and wakes the dispatcher; whether the outbox
/// holds it. A break the outbox already holds (seen again after a restart) is logged only.
async fn report_break(ctx: &Context, broken: &AuditBreak, again: bool) -> bool {
    let at = ts(Utc::now());
    let event = if again {
        NewEvent::audit_broken_again(broken.id, &broken.problem, &at)
    } else {
        NewEvent::audit_broken(broken.id, &broken.problem, &at)
    };
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
