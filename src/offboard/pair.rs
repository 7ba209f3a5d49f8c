//! One user/client pair of an offboarding: list, intend, revoke all, re-list until empty.

use std::collections::BTreeSet;

use chrono::Utc;
use tracing::{Instrument, info_span, warn};

use super::{ClientOutcome, Offboarding, VerifySettings};
use crate::config::Mode;
use crate::okta::{self, OktaClient};
use crate::store::{self, NewRevocation, RevocationState, TargetOutcome, ts};
use crate::sweep::{Deps, Target, observation};

/// Lists, revokes and verifies one pair; appends every audit row of it.
pub(super) async fn offboard_pair(
    deps: &Deps,
    job: &Offboarding,
    target: &Target,
    verify: VerifySettings,
) -> Result<ClientOutcome, store::Error> {
    let span = info_span!("pair", okta.client_id = %target.client);
    async {
        let mut outcome = ClientOutcome {
            client_id: target.client.to_string(),
            source: target.source,
            tokens: 0,
            verified: false,
            error: None,
        };
        let started = Utc::now();
        let mut active = match list_pair(deps, &deps.okta, target).await? {
            Ok(ids) => ids,
            Err(e) => return fail_listing(deps, target, outcome, &e).await,
        };
        let mode = if job.dry_run { Mode::DryRun } else { Mode::Enforce };
        if job.dry_run {
            outcome.tokens = active.len() as u64;
            let rows: Vec<_> = active
                .iter()
                .map(|t| audit_row(job, target, t, mode, RevocationState::Planned))
                .collect();
            deps.store.append_revocations(&rows).await?;
            record(deps, target, TargetOutcome::Ok, None).await?;
            return Ok(outcome);
        }
        let mut intents: Vec<(String, i64)> = Vec::new();
        let (mut status, mut request_id, mut last_error) = (None, None, None);
        let mut rounds = 0;
        let mut wait = verify.backoff;
        while !active.is_empty() && rounds < verify.rounds.max(1) {
            if rounds > 0 {
                tokio::time::sleep(wait).await;
                wait = wait.saturating_mul(2);
            }
            rounds += 1;
            let known: BTreeSet<&str> = intents.iter().map(|(t, _)| t.as_str()).collect();
            let fresh: Vec<String> = active
                .iter()
                .filter(|t| !known.contains(t.as_str()))
                .cloned()
                .collect();
            let rows: Vec<_> = fresh
                .iter()
                .map(|t| audit_row(job, target, t, mode, RevocationState::Pending))
                .collect();
            let ids = deps.store.append_revocations(&rows).await?;
            intents.extend(fresh.into_iter().zip(ids));
            match deps.okta.revoke_all(&target.user, &target.client).await {
                Ok(r) => {
                    status = Some(i64::from(r.status));
                    request_id = r.request_id;
                }
                Err(e) => {
                    warn!(error.message = %e, okta.request_id = e.request_id(), "revoke-all failed; verifying anyway");
                    status = e.status().map(i64::from);
                    request_id = e.request_id().map(str::to_owned);
                    last_error = Some(e.to_string());
                }
            }
            match list_pair(deps, &deps.okta, target).await? {
                Ok(left) => active = left,
                Err(e) => last_error = Some(format!("re-listing after revocation: {e}")),
            }
        }
        let now = Utc::now();
        outcome.tokens = intents.len() as u64;
        outcome.verified = active.is_empty();
        let mut rows = Vec::with_capacity(intents.len());
        for (token, intent) in &intents {
            let gone = !active.contains(token);
            let mut row = audit_row(job, target, token, mode, if gone { RevocationState::Done } else { RevocationState::Failed });
            row.intent_id = Some(*intent);
            row.completed_at = Some(ts(now));
            row.attempts = i64::from(rounds);
            row.http_status = status;
            row.okta_request_id.clone_from(&request_id);
            if gone {
                row.verified_at = Some(ts(now));
            } else {
                row.error = Some(last_error.clone().unwrap_or_else(|| {
                    format!("still listed after {rounds} revoke-all rounds")
                }));
                row.next_attempt_at = Some(ts(now + chrono::Duration::minutes(5)));
            }
            rows.push(row);
        }
        deps.store.append_revocations(&rows).await?;
        for (token, _) in intents.iter().filter(|(t, _)| !active.contains(t)) {
            deps.store.mark_revoked(token, now).await?;
        }
        if outcome.verified {
            deps.store
                .mark_gone(target.user.as_str(), target.client.as_str(), started, now)
                .await?;
            record(deps, target, TargetOutcome::Ok, None).await?;
        } else {
            let text = last_error.unwrap_or_else(|| "tokens still listed after revocation".into());
            record(deps, target, TargetOutcome::Failed, Some(&text)).await?;
            outcome.error = Some(text);
        }
        Ok(outcome)
    }
    .instrument(span)
    .await
}

async fn fail_listing(
    deps: &Deps,
    target: &Target,
    mut outcome: ClientOutcome,
    e: &okta::Error,
) -> Result<ClientOutcome, store::Error> {
    warn!(error.message = %e, okta.request_id = e.request_id(), "cannot list the pair's tokens");
    let text = e.to_string();
    record(deps, target, TargetOutcome::Failed, Some(&text)).await?;
    outcome.error = Some(text);
    Ok(outcome)
}

async fn record(
    deps: &Deps,
    target: &Target,
    result: TargetOutcome,
    error: Option<&str>,
) -> Result<(), store::Error> {
    deps.store
        .record_target(&target.result(result, error.map(str::to_owned), Utc::now()))
        .await
}

/// The audit row of one token of this offboarding, in `state`.
fn audit_row(
    job: &Offboarding,
    target: &Target,
    token: &str,
    mode: Mode,
    state: RevocationState,
) -> NewRevocation {
    NewRevocation {
        reason: Some(job.reason.clone()),
        job_id: Some(job.job_id),
        ..NewRevocation::new(
            Some(token.to_owned()),
            target.user.to_string(),
            target.client.to_string(),
            "offboard",
            mode.as_str(),
            state,
            ts(Utc::now()),
        )
    }
}

/// Lists the pair completely, recording every page; returns the ids of its ACTIVE tokens.
/// A 404 (user or client gone) is an empty pair.
async fn list_pair(
    deps: &Deps,
    okta: &OktaClient,
    target: &Target,
) -> Result<Result<Vec<String>, okta::Error>, store::Error> {
    let mut active = Vec::new();
    let mut pages = okta.list_tokens(&target.user, &target.client);
    loop {
        let page = match pages.next_page().await {
            Ok(Some(page)) => page,
            Ok(None) => return Ok(Ok(active)),
            Err(e) if e.is_not_found() => return Ok(Ok(Vec::new())),
            Err(e) => return Ok(Err(e)),
        };
        let rows: Vec<_> = page
            .tokens
            .into_iter()
            .filter(|o| o.token.id.is_some())
            .map(|o| {
                if o.token.is_active() {
                    active.extend(o.token.id.clone());
                }
                let scopes = o.token.scope_names();
                observation(target, o, &scopes, "[]".into())
            })
            .collect();
        deps.store.record_page(None, &rows, Utc::now()).await?;
    }
}
