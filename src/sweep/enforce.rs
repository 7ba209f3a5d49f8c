//! Enforce: what an enforce sweep attempts once the guard passed (each planned token without
//! an open intent, and the due retries of the pairs and apps it listed whole), and the
//! attempts themselves, as many at once as the sweep's concurrency allows.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use futures::StreamExt;

use super::{Deps, Planned, Scope, SweepReport, Target, Work, retry_work, revoke};
use crate::okta::ClientId;
use crate::store::{self, RevocationState, RevocationTrigger, ts};

/// Enforce: attempts every planned token without an open intent, and the due retries.
pub(super) async fn revoke_all(
    deps: &Deps,
    scope: &Scope<'_>,
    planned: Vec<Planned>,
    report: &mut SweepReport,
) -> Result<(), store::Error> {
    let listed = Listed::of(scope, report);
    let work = enforce_work(deps, &listed, planned, scope.now).await?;
    let attempts: Vec<_> = work
        .iter()
        .map(|w| async move {
            let outcome = revoke::attempt(deps, scope.okta, Some(scope.sweep_id), w).await;
            (w, outcome)
        })
        .collect();
    let outcomes: Vec<_> = futures::stream::iter(attempts)
        .buffer_unordered(deps.concurrency.max(1))
        .collect()
        .await;
    for (w, outcome) in outcomes {
        report.revocation(w, outcome?);
    }
    Ok(())
}

/// The pairs and apps this sweep listed whole: a pair whose listing failed, or an app whose
/// listing failed or was left for the next sweep, is not among them. (A user's clients that
/// could not be discovered fail as `(user, *)`, but the pairs of that user the sweep did list,
/// configured or stored, were listed whole and keep their retries.)
struct Listed<'a> {
    pairs: HashSet<(&'a str, &'a str)>,
    apps: HashSet<&'a str>,
}

impl<'a> Listed<'a> {
    fn of(scope: &'a Scope<'_>, report: &'a SweepReport) -> Listed<'a> {
        let failed: HashSet<(&str, &str)> = (report.failures.iter())
            .map(|f| (f.user_id.as_str(), f.client_id.as_str()))
            .collect();
        let complete: HashSet<&str> = (report.apps.iter())
            .filter(|a| a.complete)
            .map(|a| a.app_id.as_str())
            .collect();
        Listed {
            pairs: (scope.targets.iter())
                .map(|t: &Target| (t.user.as_str(), t.client.as_str()))
                .filter(|pair| !failed.contains(pair))
                .collect(),
            apps: (scope.apps.iter())
                .map(ClientId::as_str)
                .filter(|a| complete.contains(a))
                .collect(),
        }
    }
}

/// What an enforce sweep attempts: each planned token that has no open intent (as a new
/// intent), plus every open `failed` or `irrevocable` intent whose `next_attempt_at` has come,
/// of the pairs and apps the sweep `listed` whole. A retry of a pair this sweep could not list
/// waits: its token was not seen again, so the guard, which counts what the listings plan,
/// did not count it, and the gate would decide it from an old record. A planned token whose
/// open intent is not yet due waits for it.
async fn enforce_work(
    deps: &Deps,
    listed: &Listed<'_>,
    planned: Vec<Planned>,
    now: DateTime<Utc>,
) -> Result<Vec<Work>, store::Error> {
    let (pairs, apps) = (&listed.pairs, &listed.apps);
    let open = deps.store.open_intents().await?;
    let open_tokens: HashSet<&str> = open.iter().filter_map(|r| r.token_id.as_deref()).collect();
    let due_by = ts(now);
    let mut work: Vec<Work> = open
        .iter()
        .filter(|r| {
            r.state().is_some_and(|s| s != RevocationState::Pending) && r.token_id.is_some()
        })
        // Offboarding intents are the offboarding worker's to retry, never two at once.
        .filter(|r| r.trigger() != Some(RevocationTrigger::Offboard))
        .filter(|r| {
            pairs.contains(&(r.user_id.as_str(), r.client_id.as_str()))
                || apps.contains(r.client_id.as_str())
        })
        .filter(|r| {
            r.next_attempt_at
                .as_deref()
                .is_none_or(|at| at <= due_by.as_str())
        })
        .map(retry_work)
        .collect();
    work.extend(
        planned
            .into_iter()
            .filter(|p| !open_tokens.contains(p.token_id.as_str()))
            .map(|planned| Work {
                planned,
                intent: None,
                trigger: RevocationTrigger::Policy,
                job_id: None,
            }),
    );
    Ok(work)
}
