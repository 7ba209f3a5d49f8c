//! The offboarding breaker and the retry of failed offboarding revocations, both run by the
//! daemon's offboarding worker. The breaker: an automatic job (event hook, System Log) that
//! would offboard more than `safety.max_offboarded_users_per_hour` distinct users in the
//! last hour is `held` (logged at error, counted), until `revokd offboard release`; a CLI job
//! is an explicit request and is never held. The retry (enforce mode only): open
//! `failed`/`irrevocable` offboarding intents of ended jobs whose `next_attempt_at` has come are
//! attempted again through the revocation gate, whether or not their pair is a sweep target;
//! sweeps leave offboarding intents to it, and a job not ended carries its own.

use chrono::Utc;
use tracing::{error, info, warn};

use super::context::Context;
use super::metrics;
use crate::config::Mode;
use crate::store::{self, JobRow, JobSource, JobState, RevocationState, RevocationTrigger};
use crate::sweep::{attempt_revocation, retry_work};

/// Whether the breaker holds `job` (and, if so, holds it). Errors hold nothing.
pub(super) async fn held(ctx: &Context, job: &JobRow) -> Result<bool, store::Error> {
    if job.source == JobSource::Cli || ctx.store.job_released(job.id).await? {
        return Ok(false);
    }
    let limit = ctx.current().config.safety.max_offboarded_users_per_hour;
    let since = Utc::now() - chrono::Duration::hours(1);
    let (users, known) = ctx
        .store
        .automatic_users_since(since, job.id, &job.user_id)
        .await?;
    if known || users < limit {
        return Ok(false);
    }
    let why = format!(
        "held by the offboarding breaker: {users} users were offboarded automatically in the last hour (safety.max_offboarded_users_per_hour = {limit}); `revokd offboard release` lets it run"
    );
    error!(job_id = job.id, okta.user_id = %job.user_id, source = %job.source, users, limit, "offboarding job held by the breaker");
    metrics::offboarding_job(job.source.as_str(), JobState::Held.as_str(), None);
    ctx.store.hold_job(job.id, &why).await?;
    Ok(true)
}

/// Attempts again every offboarding revocation that failed and is due; returns how many.
pub(super) async fn retry_due_intents(ctx: &Context) -> Result<u64, store::Error> {
    retry_due_at(ctx, Utc::now()).await
}

/// [`retry_due_intents`] as of `now`: the intents whose next attempt has come by then.
pub(super) async fn retry_due_at(
    ctx: &Context,
    now: chrono::DateTime<Utc>,
) -> Result<u64, store::Error> {
    let current = ctx.current();
    // A dry-run daemon sends no DELETE, whatever an earlier enforce run left open.
    if current.config.mode != Mode::Enforce {
        return Ok(0);
    }
    let deps = &current.deps;
    let due_by = store::ts(now);
    // Read again only after a commit: idle, the trail's latest rows do not change, and which
    // of them are due is decided here, by the clock.
    let version = ctx.db_version.current(&ctx.store).await?;
    let open = ctx
        .open_intents
        .get(version, || ctx.store.open_intents())
        .await?;
    let candidates = open
        .into_iter()
        .filter(|r| r.trigger() == Some(RevocationTrigger::Offboard) && r.token_id.is_some())
        .filter(|r| r.state().is_some_and(|s| s != RevocationState::Pending))
        .filter(|r| {
            r.next_attempt_at
                .as_deref()
                .is_none_or(|at| at <= due_by.as_str())
        });
    let mut due = Vec::new();
    for row in candidates {
        if retried_here(ctx, row.job_id).await? {
            due.push(row);
        }
    }
    if due.is_empty() {
        return Ok(0);
    }
    let lease = deps
        .gate
        .hold("retrying failed offboarding revocations")
        .await?;
    let mut tried = 0;
    for row in &due {
        match attempt_revocation(deps, &deps.okta, None, &retry_work(row)).await {
            Ok(outcome) => {
                tried += 1;
                info!(okta.token_id = row.token_id.as_deref().unwrap_or_default(), outcome = ?outcome, "offboarding revocation retried");
            }
            Err(e) => {
                warn!(error.message = %e, "retrying an offboarding revocation failed");
                break;
            }
        }
    }
    lease.release().await;
    Ok(tried)
}

/// Whether the intents of job `job_id` are this retry's: those of an ended job (`done`,
/// `failed`) or of none. A job not ended (`queued`, `running`, `held`) carries its open
/// intents into its next try, after asking whether its event still stands; a job that stopped
/// because its user came back (`skipped`) has none sent again.
async fn retried_here(ctx: &Context, job_id: Option<i64>) -> Result<bool, store::Error> {
    let Some(job_id) = job_id else {
        return Ok(true);
    };
    let state = ctx.store.job(job_id).await?.map(|j| j.state);
    Ok(matches!(
        state,
        None | Some(JobState::Done | JobState::Failed)
    ))
}

#[cfg(test)]
#[path = "tests_retry.rs"]
mod tests;
