//! Restart reconciliation. A process that dies mid-sweep (or mid-offboarding) leaves its sweep
//! row `running` and maybe revocation intents `pending` (committed before their DELETE, with no
//! outcome). At the start of the next enforce sweep (and of the daemon), sweeps whose process
//! is gone are closed as `aborted`, and each `pending` intent left by a dead sweep or
//! offboarding job is resolved against Okta: absent → `already_gone`
//! (verified; the interrupted DELETE may or may not have been sent), still `ACTIVE` → revoked
//! now as the same intent's next attempt, Okta unreachable → `failed`, retried by the next
//! sweep; an interrupted revoke-all (an offboarding's, no token id) becomes `failed` for the
//! offboarding that picks it up, its tokens' own intents resolved as above. Nothing is revoked
//! twice and nothing is forgotten.

use std::collections::HashSet;

use chrono::Utc;
use tracing::{info, warn};

use super::decide::observation;
use super::retry::{OpenIntent, append_after};
use super::revoke::{self, RevocationOutcome, Work};
use super::{Deps, Planned, Target};
use crate::config::Mode;
use crate::okta::{ClientId, OktaClient, TokenId, UserId};
use crate::runner;
use crate::store::{
    self, AuditRow, JobState, NewRevocation, RevocationState, RevocationTrigger, SweepStatus,
    TargetSource, ts,
};

/// What reconciliation did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reconciled {
    pub sweeps_aborted: u64,
    pub intents_resolved: u64,
    /// How many resolved intents ended in each outcome (see [`Reconciled::count`]).
    pub outcomes: [u64; RevocationOutcome::ALL.len()],
}

impl Reconciled {
    /// How many resolved intents ended so.
    pub fn count(&self, outcome: RevocationOutcome) -> u64 {
        self.outcomes[outcome as usize]
    }
}

/// Closes, as `aborted`, every sweep still `running` whose process is gone; returns their ids.
/// Touches no intent, so it is safe in dry-run mode.
pub async fn abort_dead_sweeps(store: &store::Store) -> Result<HashSet<i64>, store::Error> {
    let mut dead = HashSet::new();
    for (id, who) in store.running_sweeps().await? {
        if !who.as_deref().is_some_and(runner::is_alive) {
            let who = who.as_deref().unwrap_or("unknown");
            let reason = format!("interrupted: the process running it ({who}) is gone");
            store.abort_sweep(id, &reason, Utc::now()).await?;
            dead.insert(id);
        }
    }
    Ok(dead)
}

/// Closes dead sweeps and resolves the `pending` intents they left.
pub async fn reconcile(deps: &Deps, okta: &OktaClient) -> Result<Reconciled, store::Error> {
    let mut done = Reconciled::default();
    let aborted = abort_dead_sweeps(&deps.store).await?;
    done.sweeps_aborted = aborted.len() as u64;
    for row in deps.store.open_intents().await? {
        if row.state() != Some(RevocationState::Pending) {
            continue;
        }
        // Intents of a live sweep or a live offboarding job are in flight: leave them.
        let settled = settled_elsewhere(&row.requested_at);
        let in_flight = match (row.sweep_id, row.job_id) {
            (Some(sweep_id), _) => {
                !aborted.contains(&sweep_id) && sweep_revoking(deps, sweep_id, settled).await
            }
            (None, Some(job_id)) => job_running(deps, job_id, settled).await,
            (None, None) => true,
        };
        // This process sending it now (a retry of the offboarding worker beside this sweep).
        let sending = deps
            .gate
            .in_flight()
            .contains(row.intent_id.unwrap_or(row.id));
        if in_flight || sending {
            continue;
        }
        let stopped = job_stopped(deps, row.job_id).await?;
        let outcome = match (&row.token_id, stopped) {
            (Some(_), _) => resolve(deps, okta, &row, stopped).await?,
            (None, false) => interrupted_revoke_all(deps, &row).await?,
            (None, true) => not_sent_again(deps, &row, INTERRUPTED_REVOKE_ALL, None).await?,
        };
        done.intents_resolved += 1;
        done.outcomes[outcome as usize] += 1;
    }
    if done.sweeps_aborted + done.intents_resolved > 0 {
        info!(
            sweeps.aborted = done.sweeps_aborted,
            intents.resolved = done.intents_resolved,
            "reconciled what an interrupted run left behind"
        );
    }
    Ok(done)
}

/// Whether the intent's offboarding job stopped because its user came back (`skipped`): its
/// interrupted revocations are settled against Okta, never sent again.
async fn job_stopped(deps: &Deps, job_id: Option<i64>) -> Result<bool, store::Error> {
    let Some(job_id) = job_id else {
        return Ok(false);
    };
    let state = deps.store.job(job_id).await?.map(|j| j.state);
    Ok(state == Some(JobState::Skipped))
}

/// Closes an interrupted revocation of a stopped job without sending it again: `withdrawn`,
/// saying what was known of it (`known`) and why it is not sent.
async fn not_sent_again(
    deps: &Deps,
    row: &AuditRow,
    known: &str,
    request_id: Option<String>,
) -> Result<RevocationOutcome, store::Error> {
    let open = retry_intent(row);
    let withdrawn = NewRevocation {
        okta_request_id: request_id,
        ..row.followed_by(
            RevocationState::Withdrawn,
            open.attempts,
            format!("{known}; not sent again: {STOPPED}"),
            ts(Utc::now()),
        )
    };
    Ok(match append_after(deps, &withdrawn, open).await? {
        Some(_) => RevocationOutcome::Withdrawn,
        None => RevocationOutcome::Settled,
    })
}

/// Why a stopped job's revocations are not sent again.
const STOPPED: &str = "its offboarding job stopped, the user being back in Okta";

/// Whether an offboarding job is `running` in a process that may be revoking (`settled`: see
/// [`may_be_revoking`]).
async fn job_running(deps: &Deps, job_id: i64, settled: bool) -> bool {
    match deps.store.job(job_id).await {
        Ok(Some(job)) => {
            job.state == JobState::Running
                && (job.runner.as_deref()).is_some_and(|r| may_be_revoking(r, settled))
        }
        Ok(None) => false,
        // Unknown: never reconcile what may still be in flight.
        Err(_) => true,
    }
}

/// Whether a sweep is `running` in a process that may be revoking (`settled`: see
/// [`may_be_revoking`]).
async fn sweep_revoking(deps: &Deps, sweep_id: i64, settled: bool) -> bool {
    match deps.store.sweep(sweep_id).await {
        Ok(Some(s)) => {
            s.status == SweepStatus::Running.as_str()
                && (s.runner.as_deref()).is_some_and(|r| may_be_revoking(r, settled))
        }
        Ok(None) => false,
        Err(e) => {
            // Unknown: never reconcile what may still be in flight; the next run reads it again.
            warn!(error.message = %e, sweep_id, "cannot read the sweep of a pending intent; left for the next reconciliation");
            true
        }
    }
}

/// Whether the process `runner` names may be sending a revocation of an intent (`settled`:
/// written longer ago than [`runner::ELSEWHERE_QUIET`]). Reconciliation runs under the
/// enforcer lease, and no attempt starts without it (the gate checks it before every attempt):
/// this process, or a live one of this host, may have one in flight; a process of another
/// host, alive or not, whose liveness cannot be told from here, only while the intent is
/// recent (an attempt sent just before its process lost the lease outlives the takeover by
/// `okta.timeout` at most). Its older intents are reconciled.
fn may_be_revoking(runner: &str, settled: bool) -> bool {
    runner::may_be_running(runner, !settled)
}

/// Whether an intent written at `requested_at` is older than [`runner::ELSEWHERE_QUIET`].
fn settled_elsewhere(requested_at: &str) -> bool {
    !runner::heard_from_lately(requested_at, Utc::now())
}

fn planned_of(row: &AuditRow) -> Planned {
    Planned {
        token_id: row.token_id.clone().unwrap_or_default(),
        user_id: row.user_id.clone(),
        client_id: row.client_id.clone(),
        rules: row
            .policy
            .iter()
            .flat_map(|p| p.split(','))
            .map(str::to_owned)
            .collect(),
        reason: row.reason.clone().unwrap_or_default(),
    }
}

/// The open intent as work to retry.
pub fn retry_work(row: &AuditRow) -> Work {
    Work {
        planned: planned_of(row),
        intent: Some(retry_intent(row)),
        trigger: row.trigger().unwrap_or(RevocationTrigger::Policy),
        job_id: row.job_id,
    }
}

/// The intent `row` (its latest record) stands for, as a retry reads it. A `pending` latest
/// record is an attempt that was interrupted after it may have been sent: it counts as made
/// (so interrupted retries, too, bring the intent to `irrevocable`).
fn retry_intent(row: &AuditRow) -> OpenIntent {
    let interrupted = row.state() == Some(RevocationState::Pending);
    OpenIntent {
        id: row.intent_id.unwrap_or(row.id),
        attempts: row.attempts + i64::from(interrupted),
        latest: row.id,
    }
}

/// Why an interrupted revoke-all intent is `failed`.
pub(crate) const INTERRUPTED_REVOKE_ALL: &str =
    "interrupted before Okta's answer was recorded: whether it took effect is not known";

/// An interrupted revoke-all (an offboarding's intent with no token id): whether Okta got it
/// cannot be told afterwards, so it is `failed`, saying so, and stays open: the job's next try
/// (or the user's next offboarding) sends it again or settles it, and each token it was sent
/// for has an intent of its own, resolved against Okta.
async fn interrupted_revoke_all(
    deps: &Deps,
    row: &AuditRow,
) -> Result<RevocationOutcome, store::Error> {
    let failed = row.followed_by(
        RevocationState::Failed,
        row.attempts + 1,
        INTERRUPTED_REVOKE_ALL.to_owned(),
        ts(Utc::now()),
    );
    let open = retry_intent(row);
    Ok(match append_after(deps, &failed, open).await? {
        Some(_) => RevocationOutcome::Failed,
        None => RevocationOutcome::Settled,
    })
}

/// Settles an interrupted token revocation against Okta: gone (or not active) is recorded so;
/// still active, it is attempted again, unless its job `stopped` (then it is closed unsent).
async fn resolve(
    deps: &Deps,
    okta: &OktaClient,
    row: &AuditRow,
    stopped: bool,
) -> Result<RevocationOutcome, store::Error> {
    let work = retry_work(row);
    let open = retry_intent(row);
    let p = &work.planned;
    let ids = (
        UserId::new(&p.user_id),
        ClientId::new(&p.client_id),
        TokenId::new(&p.token_id),
    );
    let (Ok(user), Ok(client), Ok(token)) = ids else {
        return revoke::attempt(deps, okta, row.sweep_id, &work).await;
    };
    let (answer, request_id) = match okta.get_token(&user, &client, &token).await {
        Ok(lookup) => (Ok(lookup.found), lookup.request_id),
        Err(e) => (Err(e), None),
    };
    // The instant of Okta's answer: a GET retried through 429s may end long after it began,
    // and what it found is recorded as of then.
    let now = Utc::now();
    let base = NewRevocation {
        intent_id: Some(open.id),
        policy: row.policy.clone(),
        reason: row.reason.clone(),
        completed_at: Some(ts(now)),
        attempts: open.attempts,
        sweep_id: row.sweep_id,
        job_id: row.job_id,
        ..NewRevocation::new(
            row.token_id.clone(),
            row.user_id.clone(),
            row.client_id.clone(),
            work.trigger,
            Mode::Enforce,
            RevocationState::AlreadyGone,
            row.requested_at.clone(),
        )
    };
    match answer {
        Ok(Some(found)) if found.token.may_be_active() && stopped => {
            let known = format!(
                "Okta lists it {} after an interrupted DELETE",
                found.token.status_text()
            );
            not_sent_again(deps, row, &known, request_id).await
        }
        Ok(Some(found)) if found.token.may_be_active() => {
            // Okta's answer now outweighs what was recorded before (a listing that missed the
            // token, a record since changed): recorded as a listing records it, so the gate
            // decides on what Okta says now.
            let target = Target {
                user,
                client,
                source: TargetSource::Config,
            };
            let mut found = found;
            let scopes = found.token.take_scope_names();
            let fresh = observation(&target, found, &scopes, String::new());
            deps.store
                .record_page_keeping_rules(vec![fresh], now)
                .await?;
            revoke::attempt(deps, okta, row.sweep_id, &work).await
        }
        // Okta still has the token, but not ACTIVE: what it answered is recorded, and the token
        // no longer counts as held (as when the gate finds it so), until a listing says more.
        // Absent (404), or listed but not ACTIVE (200, e.g. `REVOKED`): nothing is sent, what
        // Okta answered is recorded, and the token no longer counts as held (as when the gate
        // finds it so) until a listing says more.
        Ok(found) => {
            let (status, said) = match &found {
                Some(found) => (200, format!("Okta lists it {}", found.token.status_text())),
                None => (404, "absent from Okta".to_owned()),
            };
            let gone = NewRevocation {
                http_status: Some(status),
                okta_request_id: request_id,
                verified_at: Some(ts(now)),
                error: Some(format!(
                    "reconciled after an interruption: {said} (the DELETE may have been sent)"
                )),
                ..base
            };
            if append_after(deps, &gone, open).await?.is_none() {
                return Ok(RevocationOutcome::Settled);
            }
            deps.store.mark_token_gone(&p.token_id, now).await?;
            Ok(RevocationOutcome::AlreadyGone)
        }
        Err(e) => {
            warn!(error.message = %e, "cannot check an interrupted revocation; the next sweep retries it");
            let failed = NewRevocation {
                state: RevocationState::Failed,
                http_status: e.status().map(i64::from),
                okta_request_id: e.request_id().map(str::to_owned),
                error: Some(format!("interrupted; checking it failed: {e}")),
                next_attempt_at: Some(ts(now)),
                ..base
            };
            Ok(match append_after(deps, &failed, open).await? {
                Some(_) => RevocationOutcome::Failed,
                None => RevocationOutcome::Settled,
            })
        }
    }
}
