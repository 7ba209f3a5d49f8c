//! One user/client pair of an offboarding: list, ask the revocation gate, intend, revoke,
//! re-list until nothing revocable is left. The gate decides per token (an exempt token stays,
//! recorded with why) and whether the pair may be revoked whole (revoke-all) or must be
//! revoked token by token. A retry of the same job reuses the intents it left open. Each
//! token's outcome carries the status and request id of the DELETE that removed it.

use std::collections::{BTreeMap, BTreeSet};

use chrono::Utc;
use tracing::{Instrument, info_span, warn};

use super::send::{Answer, send};
use super::{ClientOutcome, Offboarding, VerifySettings};
use crate::config::Mode;
use crate::gate::Verdict;
use crate::okta::{self, Cleared, OktaClient};
use crate::store::{self, NewRevocation, RevocationState, RevocationTrigger, TargetOutcome, ts};
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
        let mut outcome = ClientOutcome::new(target);
        let started = Utc::now();
        let mut active = match list_pair(deps, &deps.okta, target).await? {
            Ok(ids) => ids,
            Err(e) => return fail_listing(deps, target, outcome, &e).await,
        };
        if job.dry_run {
            dry_run(deps, job, target, &active, &mut outcome).await?;
            return Ok(outcome);
        }
        let (user, client) = (target.user.as_str(), target.client.as_str());
        let mut intents: BTreeMap<String, (i64, i64)> = deps
            .store
            .open_job_intents(job.job_id, user, client)
            .await?;
        // Intents a failed earlier attempt of this job left open whose token is no longer
        // listed: that attempt's DELETE took effect (or someone else's did).
        let listed: BTreeSet<&String> = active.iter().collect();
        let absent: Vec<(String, (i64, i64))> = intents
            .iter()
            .filter(|(t, _)| !listed.contains(t))
            .map(|(t, i)| (t.clone(), *i))
            .collect();
        let absent_rows: Vec<_> = absent
            .iter()
            .map(|(t, open)| {
                closing_row(
                    job,
                    target,
                    t,
                    RevocationState::AlreadyGone,
                    *open,
                    "absent when the job was tried again",
                )
            })
            .collect();
        deps.store.append_revocations(&absent_rows).await?;
        for (t, _) in &absent {
            intents.remove(t);
        }
        let mut stayed: BTreeMap<String, String> = BTreeMap::new();
        let mut answers: BTreeMap<String, Answer> = BTreeMap::new();
        let mut last_sent: BTreeMap<String, Answer> = BTreeMap::new();
        let (mut rounds, mut last_error, mut wait) = (0, None, verify.backoff);
        // Tokens the gate would still revoke when the rounds ran out (none when verified).
        let unrevoked: Vec<String>;
        loop {
            let plan = deps.gate.check_pair(user, client, &active).await?;
            let mut cleared: Vec<(String, Cleared)> = Vec::new();
            let mut withdrawn = Vec::new();
            for (token, verdict) in plan.tokens {
                match verdict {
                    Verdict::Cleared(c) => cleared.push((token, c)),
                    Verdict::Withdrawn(why) | Verdict::Gone(why)
                        if !stayed.contains_key(&token) =>
                    {
                        withdrawn.push(stay_row(job, target, &token, &why, intents.remove(&token)));
                        stayed.insert(token, why);
                    }
                    Verdict::Withdrawn(_) | Verdict::Gone(_) => {}
                }
            }
            deps.store.append_revocations(&withdrawn).await?;
            if cleared.is_empty() || rounds >= verify.rounds.max(1) {
                unrevoked = cleared.into_iter().map(|(t, _)| t).collect();
                break;
            }
            if rounds > 0 {
                tokio::time::sleep(wait).await;
                wait = wait.saturating_mul(2);
            }
            rounds += 1;
            let fresh: Vec<&String> = cleared
                .iter()
                .map(|(t, _)| t)
                .filter(|t| !intents.contains_key(*t))
                .collect();
            let rows: Vec<_> = fresh
                .iter()
                .map(|t| audit_row(job, target, t, Mode::Enforce, RevocationState::Pending))
                .collect();
            let ids = deps.store.append_revocations(&rows).await?;
            intents.extend(
                fresh
                    .into_iter()
                    .cloned()
                    .zip(ids.into_iter().map(|id| (id, 0))),
            );
            let sent = send(&deps.okta, plan.whole_pair.as_ref(), &cleared).await;
            last_sent.clone_from(&sent);
            match list_pair(deps, &deps.okta, target).await? {
                Ok(left) => {
                    let still: BTreeSet<&String> = left.iter().collect();
                    for (token, _) in &cleared {
                        if !still.contains(token) && !answers.contains_key(token) {
                            let answer = sent
                                .get(token)
                                .or_else(|| sent.get(""))
                                .cloned()
                                .unwrap_or_default();
                            answers.insert(token.clone(), answer);
                        }
                    }
                    last_error = sent.values().find_map(|a| a.error.clone());
                    active = left;
                }
                Err(e) => last_error = Some(format!("re-listing after revocation: {e}")),
            }
        }
        let now = Utc::now();
        let mut rows = Vec::with_capacity(intents.len());
        for (token, (intent, before)) in &intents {
            let gone = answers.get(token);
            let state = match gone {
                Some(a) if a.already_gone => RevocationState::AlreadyGone,
                Some(_) => RevocationState::Done,
                None => RevocationState::Failed,
            };
            let mut row = audit_row(job, target, token, Mode::Enforce, state);
            row.intent_id = Some(*intent);
            row.completed_at = Some(ts(now));
            row.attempts = before + i64::from(rounds);
            if let Some(answer) = gone {
                row.http_status = answer.status;
                row.okta_request_id.clone_from(&answer.request_id);
                row.verified_at = Some(ts(now));
            } else {
                let last = last_sent
                    .get(token)
                    .or_else(|| last_sent.get(""))
                    .cloned()
                    .unwrap_or_default();
                row.http_status = last.status;
                row.okta_request_id = last.request_id;
                row.okta_error_id = last.error_id;
                row.error = Some(
                    last.error
                        .or_else(|| last_error.clone())
                        .unwrap_or_else(|| {
                            format!("still listed after {rounds} revocation rounds")
                        }),
                );
                row.next_attempt_at = Some(ts(now + chrono::Duration::minutes(5)));
            }
            rows.push(row);
        }
        deps.store.append_revocations(&rows).await?;
        for token in answers.keys() {
            deps.store.mark_revoked(token, now).await?;
        }
        outcome.tokens = (intents.len() + stayed.len()) as u64;
        outcome.verified = intents.keys().all(|t| answers.contains_key(t))
            && unrevoked.iter().all(|t| answers.contains_key(t));
        outcome.stayed = stayed.into_iter().collect();
        if outcome.verified {
            if outcome.stayed.is_empty() {
                deps.store.mark_gone(user, client, started, now).await?;
            }
            let result = if outcome.stayed.is_empty() {
                TargetOutcome::Ok
            } else {
                TargetOutcome::Failed
            };
            let note = (!outcome.stayed.is_empty()).then(|| "exempt tokens stayed".to_owned());
            record(deps, target, result, note.as_deref()).await?;
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

/// A dry run: `planned` for what the gate would clear, `skipped_exempt` for what stays.
async fn dry_run(
    deps: &Deps,
    job: &Offboarding,
    target: &Target,
    active: &[String],
    outcome: &mut ClientOutcome,
) -> Result<(), store::Error> {
    let preview = deps
        .gate
        .preview_pair(target.user.as_str(), target.client.as_str(), active);
    let rows: Vec<_> = preview
        .iter()
        .map(|(t, why)| match why {
            None => audit_row(job, target, t, Mode::DryRun, RevocationState::Planned),
            Some(why) => NewRevocation {
                error: Some(why.clone()),
                ..audit_row(job, target, t, Mode::DryRun, RevocationState::SkippedExempt)
            },
        })
        .collect();
    deps.store.append_revocations(&rows).await?;
    outcome.tokens = active.len() as u64;
    outcome.stayed = preview
        .into_iter()
        .filter_map(|(t, why)| why.map(|w| (t, w)))
        .collect();
    record(deps, target, TargetOutcome::Ok, None).await
}

/// The row of a token the gate kept: it closes the token's open intent as `withdrawn`, or
/// records the exemption once as `skipped_exempt`.
fn stay_row(
    job: &Offboarding,
    target: &Target,
    token: &str,
    why: &str,
    open: Option<(i64, i64)>,
) -> NewRevocation {
    match open {
        Some(open) => closing_row(job, target, token, RevocationState::Withdrawn, open, why),
        None => NewRevocation {
            error: Some(why.to_owned()),
            ..audit_row(
                job,
                target,
                token,
                Mode::Enforce,
                RevocationState::SkippedExempt,
            )
        },
    }
}

/// The row that closes the open intent `(id, attempts)` of `token` in `state`, saying why.
fn closing_row(
    job: &Offboarding,
    target: &Target,
    token: &str,
    state: RevocationState,
    (id, attempts): (i64, i64),
    why: &str,
) -> NewRevocation {
    let now = ts(Utc::now());
    NewRevocation {
        intent_id: Some(id),
        attempts,
        completed_at: Some(now.clone()),
        verified_at: (state == RevocationState::AlreadyGone).then_some(now),
        error: Some(why.to_owned()),
        ..audit_row(job, target, token, Mode::Enforce, state)
    }
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
            RevocationTrigger::Offboard,
            mode,
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
