//! The rounds of one pair's offboarding in enforce mode: the gate's verdicts, an intent per
//! cleared token (and the pair's revoke-all intent, see [`super::whole`]), the DELETEs (one
//! revoke-all or token by token), a re-listing to see which are gone, and at the end a row
//! closing every open intent and the pair's outcome.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use super::pair::{list_pair, record};
use super::rows::{audit_row, closing_row, stay_row};
use super::send::{Answer, send};
use super::whole::RevokeAll;
use super::{ClientOutcome, Offboarding, VerifySettings};
use crate::config::Mode;
use crate::gate::Kept;
use crate::okta::Cleared;
use crate::store::{self, NewRevocation, RevocationState, TargetOutcome, ts};
use crate::sweep::{Deps, Target};

/// One pair's revocation in rounds, and what the rounds have learnt. A token has at most one
/// open intent in `intents` until the end closes it; a token in `stayed` has none (keeping it
/// closed its intent); `answers` holds, for each token seen gone, the answer of the DELETE
/// after which it was first missing from a listing, until a later listing shows it again.
pub(super) struct PairRevocation<'a> {
    deps: &'a Deps,
    job: &'a Offboarding,
    target: &'a Target,
    /// The ACTIVE tokens of the last listing.
    active: Vec<String>,
    /// Open intents: token → (intent id, attempts made before this try of the job).
    intents: BTreeMap<String, (i64, i64)>,
    /// Tokens whose open intent an earlier try left and this one has not sent again yet.
    carried: BTreeSet<String>,
    /// The pair's revoke-all intent.
    whole: RevokeAll<'a>,
    /// Tokens the gate kept, with why.
    stayed: BTreeMap<String, Kept>,
    answers: BTreeMap<String, Answer>,
    /// The answers of the last round's DELETEs (a revoke-all's under "").
    last_sent: BTreeMap<String, Answer>,
    /// Rounds of DELETEs sent.
    rounds: u32,
    /// The last round's error, or the re-listing's.
    last_error: Option<String>,
}

impl<'a> PairRevocation<'a> {
    /// Picks up the intents an earlier try of this job left open, closing those whose token
    /// is no longer listed, and the pair's open revoke-all intents (see [`RevokeAll::start`]).
    pub(super) async fn start(
        deps: &'a Deps,
        job: &'a Offboarding,
        target: &'a Target,
        active: Vec<String>,
    ) -> Result<PairRevocation<'a>, store::Error> {
        let (user, client) = (target.user.as_str(), target.client.as_str());
        let intents = deps
            .store
            .open_job_intents(job.job_id, user, client)
            .await?;
        let found = (deps.store)
            .open_pair_intents(job.job_id, user, client)
            .await?;
        let (whole, settled) = RevokeAll::start(job, target, found, active.is_empty());
        deps.store.append_revocations(&settled).await?;
        let mut pair = PairRevocation {
            deps,
            job,
            target,
            active,
            carried: intents.keys().cloned().collect(),
            intents,
            whole,
            stayed: BTreeMap::new(),
            answers: BTreeMap::new(),
            last_sent: BTreeMap::new(),
            rounds: 0,
            last_error: None,
        };
        pair.close_absent_intents().await?;
        Ok(pair)
    }

    /// Intents a failed earlier attempt of this job left open whose token is no longer
    /// listed: that attempt's DELETE took effect (or someone else's did).
    async fn close_absent_intents(&mut self) -> Result<(), store::Error> {
        let listed: BTreeSet<&String> = self.active.iter().collect();
        let absent: Vec<(String, (i64, i64))> = self
            .intents
            .iter()
            .filter(|(t, _)| !listed.contains(t))
            .map(|(t, i)| (t.clone(), *i))
            .collect();
        let rows: Vec<_> = absent
            .iter()
            .map(|(t, open)| {
                closing_row(
                    self.job,
                    self.target,
                    Some(t),
                    RevocationState::AlreadyGone,
                    *open,
                    "absent when the job was tried again",
                )
            })
            .collect();
        self.deps.store.append_revocations(&rows).await?;
        for (t, _) in &absent {
            self.intents.remove(t);
            self.carried.remove(t);
        }
        Ok(())
    }

    /// Rounds of gate check, intents, DELETEs and a re-listing, with a doubling pause between
    /// rounds, until the gate clears nothing or the rounds run out. Returns the tokens the gate
    /// would still revoke (none when verified).
    pub(super) async fn revoke_in_rounds(
        &mut self,
        verify: VerifySettings,
    ) -> Result<Vec<String>, store::Error> {
        let mut wait = verify.backoff;
        loop {
            let (user, client) = (self.target.user.as_str(), self.target.client.as_str());
            let plan = self
                .deps
                .gate
                .check_pair(user, client, &self.active)
                .await?;
            let cleared = self.keep_what_the_gate_keeps(plan.tokens).await?;
            if cleared.is_empty() || self.rounds >= verify.rounds.max(1) {
                return Ok(cleared.into_iter().map(|(t, _)| t).collect());
            }
            if self.rounds > 0 {
                tokio::time::sleep(wait).await;
                wait = wait.saturating_mul(2);
            }
            self.rounds += 1;
            self.intend(&cleared, plan.whole_pair.is_some()).await?;
            let sent = send(&self.deps.okta, plan.whole_pair.as_ref(), &cleared).await;
            let answer = answer_for(&sent, "");
            let listing = self.relist_after(&cleared, sent).await?;
            let closing = self.whole.answered(&answer, listing);
            self.deps
                .store
                .append_revocations(&Vec::from_iter(closing))
                .await?;
        }
    }

    /// Returns the tokens the gate cleared. A token it keeps closes its open intent as
    /// `withdrawn` (or is recorded as exempt), once.
    async fn keep_what_the_gate_keeps(
        &mut self,
        verdicts: Vec<(String, Result<Cleared, Kept>)>,
    ) -> Result<Vec<(String, Cleared)>, store::Error> {
        let mut cleared = Vec::new();
        let mut withdrawn = Vec::new();
        for (token, verdict) in verdicts {
            match verdict {
                Ok(c) => cleared.push((token, c)),
                Err(kept) if !self.stayed.contains_key(&token) => {
                    let open = self.intents.remove(&token);
                    withdrawn.push(stay_row(self.job, self.target, &token, &kept, open));
                    self.stayed.insert(token, kept);
                }
                Err(_) => {}
            }
        }
        self.deps.store.append_revocations(&withdrawn).await?;
        Ok(cleared)
    }

    /// Writes a `pending` intent for each cleared token that has none open yet, a `pending`
    /// retry of each one an earlier try left open (an attempt of its own, recorded before its
    /// DELETE, so an interruption leaves it for reconciliation), and the revoke-all intent's
    /// row of the round (see [`RevokeAll::round`]).
    async fn intend(
        &mut self,
        cleared: &[(String, Cleared)],
        whole: bool,
    ) -> Result<(), store::Error> {
        let fresh: Vec<&String> = cleared
            .iter()
            .map(|(t, _)| t)
            .filter(|t| !self.intents.contains_key(*t))
            .collect();
        let pending = RevocationState::Pending;
        let mut rows: Vec<_> = (fresh.iter())
            .map(|t| audit_row(self.job, self.target, t, Mode::Enforce, pending))
            .collect();
        for (token, _) in cleared {
            if let (true, Some(&(id, before))) =
                (self.carried.remove(token), self.intents.get(token))
            {
                rows.push(NewRevocation {
                    intent_id: Some(id),
                    attempts: before,
                    ..audit_row(self.job, self.target, token, Mode::Enforce, pending)
                });
            }
        }
        // After the tokens' rows: a new intent's id is the last.
        let pair = self.whole.round(whole);
        let new_pair = pair.as_ref().is_some_and(|r| r.intent_id.is_none());
        rows.extend(pair);
        let ids = self.deps.store.append_revocations(&rows).await?;
        if let (true, Some(&id)) = (new_pair, ids.last()) {
            self.whole.intended(id);
        }
        let intents = ids.iter().map(|&id| (id, 0));
        self.intents.extend(fresh.into_iter().cloned().zip(intents));
        Ok(())
    }

    /// Lists the pair again after a round's DELETEs: a cleared token no longer listed is gone,
    /// with the answer its DELETE (or the revoke-all) got, and one seen gone before that is
    /// listed again is not. Returns whether it showed every cleared token gone and none listed
    /// again, or why the pair could not be listed.
    async fn relist_after(
        &mut self,
        cleared: &[(String, Cleared)],
        sent: BTreeMap<String, Answer>,
    ) -> Result<Result<bool, String>, store::Error> {
        self.last_sent.clone_from(&sent);
        match list_pair(self.deps, &self.deps.okta, self.target).await? {
            Ok(left) => {
                let still: BTreeSet<&String> = left.iter().collect();
                // Listed again after a listing left it out (a lagging read): not gone, and
                // the round did not empty the pair.
                let relisted = self.answers.keys().any(|token| still.contains(token));
                self.answers.retain(|token, _| !still.contains(token));
                for (token, _) in cleared {
                    if !still.contains(token) && !self.answers.contains_key(token) {
                        self.answers.insert(token.clone(), answer_for(&sent, token));
                    }
                }
                self.last_error = sent.values().find_map(|a| a.error.clone());
                let gone = !relisted && cleared.iter().all(|(t, _)| !still.contains(t));
                self.active = left;
                Ok(Ok(gone))
            }
            Err(e) => {
                self.last_error = Some(format!("re-listing after revocation: {e}"));
                Ok(Err(e.to_string()))
            }
        }
    }

    /// Closes the open intents, then records the pair's outcome: verified when every intended
    /// or still-cleared token was seen gone, and the pair marked gone when nothing stayed.
    pub(super) async fn finish(
        mut self,
        mut outcome: ClientOutcome,
        unrevoked: &[String],
        started: DateTime<Utc>,
    ) -> Result<ClientOutcome, store::Error> {
        let (deps, target) = (self.deps, self.target);
        let now = Utc::now();
        let superseded = self.whole.finish(unrevoked.is_empty());
        let rows: Vec<_> = (self.intents.iter())
            .map(|(token, open)| self.closing_row(token, *open, now))
            .chain(superseded)
            .collect();
        deps.store.append_revocations(&rows).await?;
        for token in self.answers.keys() {
            deps.store.mark_revoked(token, now).await?;
        }
        outcome.tokens = (self.intents.len() + self.stayed.len()) as u64;
        outcome.verified = self.intents.keys().all(|t| self.answers.contains_key(t))
            && unrevoked.iter().all(|t| self.answers.contains_key(t));
        let refused = refused_note(&self.stayed);
        outcome.stayed = (self.stayed.into_iter())
            .map(|(t, kept)| (t, kept.why().to_owned()))
            .collect();
        if let Some(text) = refused {
            // Not an exemption: the user still holds tokens the offboarding must revoke.
            record(deps, target, TargetOutcome::Failed, Some(&text)).await?;
            outcome.error = Some(text);
        } else if outcome.verified {
            if outcome.stayed.is_empty() {
                let (user, client) = (target.user.as_str(), target.client.as_str());
                deps.store.mark_gone(user, client, started, now).await?;
            }
            let result = if outcome.stayed.is_empty() {
                TargetOutcome::Ok
            } else {
                TargetOutcome::Failed
            };
            let note = stayed_note(&outcome.stayed);
            record(deps, target, result, note.as_deref()).await?;
        } else {
            let text =
                (self.last_error).unwrap_or_else(|| "tokens still listed after revocation".into());
            record(deps, target, TargetOutcome::Failed, Some(&text)).await?;
            outcome.error = Some(text);
        }
        Ok(outcome)
    }

    /// The row closing `token`'s intent `(id, attempts before)`: `done` (or `already_gone`)
    /// with the answer of the DELETE that removed it, else `failed` with the last answer or
    /// error and a retry in five minutes.
    fn closing_row(
        &self,
        token: &str,
        (intent, before): (i64, i64),
        now: DateTime<Utc>,
    ) -> NewRevocation {
        let gone = self.answers.get(token);
        let state = match gone {
            Some(a) if a.already_gone => RevocationState::AlreadyGone,
            Some(_) => RevocationState::Done,
            None => RevocationState::Failed,
        };
        let mut row = audit_row(self.job, self.target, token, Mode::Enforce, state);
        row.intent_id = Some(intent);
        row.completed_at = Some(ts(now));
        row.attempts = before + i64::from(self.rounds);
        if let Some(answer) = gone {
            row.http_status = answer.status;
            row.okta_request_id.clone_from(&answer.request_id);
            row.verified_at = Some(ts(now));
        } else {
            let last = answer_for(&self.last_sent, token);
            let rounds = self.rounds;
            row.http_status = last.status;
            row.okta_request_id = last.request_id;
            row.okta_error_id = last.error_id;
            row.error = Some(
                last.error
                    .or_else(|| self.last_error.clone())
                    .unwrap_or_else(|| format!("still listed after {rounds} revocation rounds")),
            );
            row.next_attempt_at = Some(ts(now + chrono::Duration::minutes(5)));
        }
        row
    }
}

/// The answer the DELETE of `token` got: its own, or the revoke-all's (keyed "").
fn answer_for(sent: &BTreeMap<String, Answer>, token: &str) -> Answer {
    sent.get(token)
        .or_else(|| sent.get(""))
        .cloned()
        .unwrap_or_default()
}

/// Why the offboarding of a pair is not complete when the gate kept tokens for a reason other
/// than an exemption (the configuration in force turned dry-run, an id Okta could not have
/// sent): `None` when every token kept is exempt.
fn refused_note(stayed: &BTreeMap<String, Kept>) -> Option<String> {
    let refused = stayed.values().filter_map(|kept| match kept {
        Kept::Refused(why) => Some(why.as_str()),
        Kept::Exempt(_) => None,
    });
    count_note("not revoked", refused)
}

/// What `targets.last_error` notes of the tokens an offboarding left: how many stayed, and
/// why (each reason once).
fn stayed_note(stayed: &[(String, String)]) -> Option<String> {
    count_note("stayed", stayed.iter().map(|(_, why)| why.as_str()))
}

/// `N token(s) <what>: <reasons, each once>`, or `None` for no token.
fn count_note<'a>(what: &str, whys: impl Iterator<Item = &'a str>) -> Option<String> {
    let whys: Vec<&str> = whys.collect();
    let reasons: BTreeSet<&str> = whys.iter().copied().collect();
    (!whys.is_empty()).then(|| {
        let reasons: Vec<&str> = reasons.into_iter().collect();
        format!("{} token(s) {what}: {}", whys.len(), reasons.join("; "))
    })
}
