//! Listing one target: page by page, each token decided as it arrives and each page handed to
//! the sweep's observation writer ([`Ingest`]), so memory holds a few pages and the plan,
//! never the whole org. A target's listing is complete, for the sweep, once its closing write
//! is committed.

use chrono::{DateTime, Utc};
use tracing::{Instrument, debug, error, info_span, warn};

use super::halt::Breaker;
use super::{Deps, Target};
use crate::config::Mode;
use crate::okta::{self, ObservedToken, OktaClient};
use crate::policy::{Decision, TokenFacts, decide, explain};
use crate::store::{
    self, Ingest, NewRevocation, ObservedRecord, Pending, RevocationState, RevocationTrigger,
    TargetOutcome, TargetResult, TokenObservation, TokenRow, ts,
};

/// A revocation the policy selected, waiting for the guard and the mode to say what happens.
#[derive(Debug, Clone)]
pub struct Planned {
    pub token_id: String,
    pub user_id: String,
    pub client_id: String,
    /// The matching rule names, in config order.
    pub rules: Vec<String>,
    pub reason: String,
}

impl Planned {
    /// The audit row recording this plan entry in `state`.
    pub fn audit_row(
        &self,
        sweep_id: Option<i64>,
        mode: Mode,
        state: RevocationState,
        now: &str,
    ) -> NewRevocation {
        NewRevocation {
            policy: Some(self.rules.join(",")),
            reason: Some(self.reason.clone()),
            sweep_id,
            ..NewRevocation::new(
                Some(self.token_id.clone()),
                self.user_id.clone(),
                self.client_id.clone(),
                RevocationTrigger::Policy,
                mode,
                state,
                now,
            )
        }
    }
}

/// What a complete listing of one target found.
#[derive(Debug, Default)]
pub struct Listed {
    pub tokens_seen: u64,
    pub active_seen: u64,
    pub pages: u64,
    pub planned: Vec<Planned>,
    /// Tokens an exemption saved; `reason` names the exemption.
    pub exempt: Vec<Planned>,
    /// Rule names of every flag-only match.
    pub flagged: Vec<Vec<String>>,
    /// Tokens revokd had revoked that Okta lists as ACTIVE again.
    pub reappeared: u64,
}

impl Target {
    /// Its `targets` row after a listing that ended `outcome` at `at`.
    pub(crate) fn result(
        &self,
        outcome: TargetOutcome,
        error: Option<String>,
        at: DateTime<Utc>,
    ) -> TargetResult {
        TargetResult {
            user_id: self.user.to_string(),
            client_id: self.client.to_string(),
            source: self.source,
            outcome,
            error,
            polled_at: at,
        }
    }
}

/// Every pair listing of a sweep, under way.
pub(super) type Listings<'f, 't> = std::pin::Pin<
    Box<dyn std::future::Future<Output = Vec<Result<Fetched<'t>, store::Error>>> + Send + 'f>,
>;

/// A target as listed, its writes possibly still on their way to the database.
pub(super) struct Fetched<'t> {
    target: &'t Target,
    /// Okta's part: a failure here fails only this target (and is recorded in `targets`).
    outcome: Result<Listed, okta::Error>,
    writes: Vec<Pending>,
}

impl<'t> Fetched<'t> {
    /// Waits until every write of the target is committed; notes the tokens revokd had
    /// revoked that the listing showed ACTIVE again.
    pub async fn committed(
        self,
    ) -> Result<(&'t Target, Result<Listed, okta::Error>), store::Error> {
        let mut reappeared = 0;
        for write in self.writes {
            for token_id in write.committed().await? {
                error!(
                    okta.user_id = %self.target.user,
                    okta.client_id = %self.target.client,
                    okta.token_id = %token_id,
                    "a token revokd revoked is ACTIVE again in Okta; policy decides it anew"
                );
                reappeared += 1;
            }
        }
        let outcome = self.outcome.map(|mut listed| {
            listed.reappeared = reappeared;
            listed
        });
        Ok((self.target, outcome))
    }
}

/// Lists a target completely, handing every page and the target's closing row to `ingest`.
/// Fails only when the database writer has failed.
pub(super) async fn list_target<'t>(
    deps: &Deps,
    okta: &OktaClient,
    ingest: &Ingest,
    sweep_id: i64,
    target: &'t Target,
    now: DateTime<Utc>,
    breaker: &Breaker,
) -> Result<Fetched<'t>, store::Error> {
    if breaker.skips() {
        deps.progress.target_done(0);
        return Ok(Fetched {
            target,
            outcome: Err(okta::Error::Refused {
                reason: "not listed: the sweep stopped early".into(),
                request_id: None,
            }),
            writes: Vec::new(),
        });
    }
    let span = info_span!("target", okta.user_id = %target.user, okta.client_id = %target.client);
    async {
        let started = Utc::now();
        let mut writes = Vec::new();
        let outcome = list_pages(deps, okta, ingest, sweep_id, target, now, &mut writes).await?;
        deps.progress.target_done(outcome.as_ref().map_or(0, |l| l.tokens_seen));
        let finished = Utc::now();
        let (gone_before, result) = match &outcome {
            Ok(_) => (Some(started), target.result(TargetOutcome::Ok, None, finished)),
            // A halt is told once, by the sweep; other failures here, per target.
            Err(e) if breaker.observe(e) => {
                debug!(error.message = %e, "target failed; the sweep stops early");
                (None, target.result(TargetOutcome::Failed, Some(e.to_string()), finished))
            }
            Err(e) => {
                warn!(error.message = %e, okta.request_id = e.request_id(), "target failed; the sweep goes on");
                (None, target.result(TargetOutcome::Failed, Some(e.to_string()), finished))
            }
        };
        writes.push(ingest.finish_target(gone_before, result).await?);
        Ok(Fetched { target, outcome, writes })
    }
    .instrument(span)
    .await
}

async fn list_pages(
    deps: &Deps,
    okta: &OktaClient,
    ingest: &Ingest,
    sweep_id: i64,
    target: &Target,
    now: DateTime<Utc>,
    writes: &mut Vec<Pending>,
) -> Result<Result<Listed, okta::Error>, store::Error> {
    let mut listed = Listed::default();
    let mut pages = okta.list_tokens(&target.user, &target.client);
    loop {
        let page = match pages.next_page().await {
            Ok(Some(page)) => page,
            Ok(None) => return Ok(Ok(listed)),
            Err(e) => return Ok(Err(e)),
        };
        listed.pages += 1;
        if let Some(i) = page.tokens.iter().position(|t| t.token.id.is_none()) {
            return Ok(Err(okta::Error::Refused {
                reason: format!("token {i} of a page has no id"),
                request_id: page.request_id,
            }));
        }
        let rows = page
            .tokens
            .into_iter()
            .map(|mut observed| {
                let scopes = observed.token.take_scope_names();
                let matched = decide_one(deps, target, &observed, &scopes, now, &mut listed);
                observation(target, observed, &scopes, matched)
            })
            .collect();
        writes.push(ingest.page(Some(sweep_id), rows, Utc::now()).await?);
    }
}

/// Decides one token and notes the decision in `listed`; returns the rules it matched as a
/// JSON array (`tokens.policy_matches`).
pub(super) fn decide_one(
    deps: &Deps,
    target: &Target,
    observed: &ObservedToken,
    scopes: &[String],
    now: DateTime<Utc>,
    listed: &mut Listed,
) -> String {
    let t = &observed.token;
    let facts = TokenFacts {
        token_id: t.id.as_deref().unwrap_or_default(),
        user_id: target.user.as_str(),
        client_id: target.client.as_str(),
        active: t.is_active(),
        scopes,
        created: t.created,
        last_updated: t.last_updated,
        expires_at: t.expires_at,
    };
    decide_facts(deps, &facts, now, listed)
}

/// Decides a token from its recorded row (one an earlier process listed in a listing this
/// sweep completes) and notes the decision in `listed`.
pub(super) fn decide_recorded(
    deps: &Deps,
    row: &TokenRow,
    now: DateTime<Utc>,
    listed: &mut Listed,
) {
    let (scopes, mut facts) = crate::gate::row_facts(row);
    facts.scopes = &scopes;
    facts.active = row.status.as_deref() == Some("ACTIVE");
    decide_facts(deps, &facts, now, listed);
}

fn decide_facts(
    deps: &Deps,
    facts: &TokenFacts<'_>,
    now: DateTime<Utc>,
    listed: &mut Listed,
) -> String {
    listed.tokens_seen += 1;
    listed.active_seen += u64::from(facts.active);
    let decision = decide(&deps.policies, facts, now);
    let owned = |rules: &[&str]| rules.iter().map(|r| (*r).to_owned()).collect::<Vec<_>>();
    let planned = |rules: Vec<String>, reason: String| Planned {
        token_id: facts.token_id.to_owned(),
        user_id: facts.user_id.to_owned(),
        client_id: facts.client_id.to_owned(),
        rules,
        reason,
    };
    match &decision {
        Decision::Keep => {}
        Decision::Flag { rules } => listed.flagged.push(owned(rules)),
        Decision::Exempt { rules, exemption } => {
            listed
                .exempt
                .push(planned(owned(rules), format!("exempt: {exemption}")));
        }
        Decision::Revoke { rules } => {
            let reason = explain(&deps.policies, facts, now);
            listed.planned.push(planned(owned(rules), reason));
        }
    }
    serde_json::to_string(decision.rules()).unwrap_or_else(|_| "[]".into())
}

/// The row that records one listed token of `target`: its scope names and the JSON array of
/// the rules it matched, and Okta's record as sent (split for storage by the writer, only if
/// it changed).
pub(crate) fn observation(
    target: &Target,
    observed: ObservedToken,
    scopes: &[String],
    policy_matches: String,
) -> TokenObservation {
    let t = observed.token;
    TokenObservation {
        scopes_json: serde_json::to_string(scopes).unwrap_or_else(|_| "[]".into()),
        created_at: t.created.map(ts),
        last_updated_at: t.last_updated.map(ts),
        expires_at: t.expires_at.map(ts),
        status: t.status.as_ref().map(|s| s.as_str().to_owned()),
        token_id: t.id.unwrap_or_default(),
        user_id: target.user.to_string(),
        client_id: target.client.to_string(),
        issuer: t.issuer,
        record: ObservedRecord::Sent(observed.raw_json),
        policy_matches,
    }
}
