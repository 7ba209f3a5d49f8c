//! Listing one target: page by page, each token decided as it arrives, each page handed to
//! the sweep's observation writer ([`Ingest`]) and its decisions to the sweep's plan stage
//! ([`PlanStage`]), so memory holds a few pages, never the plan or the whole org. A target's
//! listing is complete, for the sweep, once its closing write is committed.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use tracing::{Instrument, debug, error, info_span, warn};

use super::halt::Breaker;
use super::report::PolicyTally;
use super::{Deps, Target};
use crate::config::Mode;
use crate::okta::{self, ObservedToken, OktaClient};
use crate::policy::{Decision, TokenFacts, decide, explain};
use crate::store::{
    self, Ingest, NewRevocation, ObservedRecord, Pending, PlanStage, RevocationState,
    RevocationTrigger, StagedEntry, TargetOutcome, TargetResult, TokenObservation, TokenRow, ts,
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
        let entry = StagedEntry {
            token_id: self.token_id.clone(),
            user_id: self.user_id.clone(),
            client_id: self.client_id.clone(),
            policy: self.rules.join(","),
            reason: self.reason.clone(),
        };
        entry_row(entry, sweep_id, mode, state, now)
    }
}

/// The audit row recording a plan entry of a sweep in `state`.
pub(super) fn entry_row(
    e: StagedEntry,
    sweep_id: Option<i64>,
    mode: Mode,
    state: RevocationState,
    now: &str,
) -> NewRevocation {
    NewRevocation {
        policy: Some(e.policy),
        reason: Some(e.reason),
        sweep_id,
        ..NewRevocation::new(
            Some(e.token_id),
            e.user_id,
            e.client_id,
            RevocationTrigger::Policy,
            mode,
            state,
            now,
        )
    }
}

impl Planned {
    /// A staged entry read back: its rules are the comma-separated `policy`.
    pub fn from_entry(e: StagedEntry) -> Planned {
        Planned {
            rules: rules_of(&e.policy),
            token_id: e.token_id,
            user_id: e.user_id,
            client_id: e.client_id,
            reason: e.reason,
        }
    }
}

/// The rule names of a comma-separated `policy` (as recorded in `revocations.policy`).
pub(super) fn rules_of(policy: &str) -> Vec<String> {
    policy
        .split(',')
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
        .collect()
}

/// What a complete listing of one target found. Its plan goes to the sweep's [`PlanStage`]
/// page by page; the listing keeps counts.
#[derive(Debug, Default)]
pub struct Listed {
    pub tokens_seen: u64,
    pub active_seen: u64,
    pub pages: u64,
    /// What each rule planned, exempted and flagged.
    pub policies: BTreeMap<String, PolicyTally>,
    /// Tokens revokd had revoked that Okta lists as ACTIVE again.
    pub reappeared: u64,
    /// Decisions not staged yet: the planned ones, and the exempt ones (whose `reason` names
    /// the exemption).
    unstaged: (Vec<StagedEntry>, Vec<StagedEntry>),
}

impl Listed {
    /// Stages the decisions taken since the last call; `via_app` when an app's listing took
    /// them.
    pub(super) async fn stage(
        &mut self,
        stage: &PlanStage,
        via_app: bool,
    ) -> Result<(), store::Error> {
        let (planned, exempt) = std::mem::take(&mut self.unstaged);
        stage.add(via_app, planned, exempt).await
    }

    fn tally(&mut self, rules: &[&str], bump: impl Fn(&mut PolicyTally)) {
        for rule in rules {
            // Looked up before inserting: a rule's name is cloned once, not per token.
            match self.policies.get_mut(*rule) {
                Some(tally) => bump(tally),
                None => bump(self.policies.entry((*rule).to_owned()).or_default()),
            }
        }
    }
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

/// One pair's listing, under way.
pub(super) type Listing<'f, 't> = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<Fetched<'t>, store::Error>> + Send + 'f>,
>;

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
#[allow(clippy::too_many_arguments)]
pub(super) async fn list_target<'t>(
    deps: &Deps,
    okta: &OktaClient,
    ingest: &Ingest,
    stage: &PlanStage,
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
        let outcome =
            list_pages(deps, okta, ingest, stage, sweep_id, target, now, &mut writes).await?;
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

#[allow(clippy::too_many_arguments)]
async fn list_pages(
    deps: &Deps,
    okta: &OktaClient,
    ingest: &Ingest,
    stage: &PlanStage,
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
        listed.stage(stage, false).await?;
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
    let entry = |rules: &[&str], reason: String| StagedEntry {
        token_id: facts.token_id.to_owned(),
        user_id: facts.user_id.to_owned(),
        client_id: facts.client_id.to_owned(),
        policy: rules.join(","),
        reason,
    };
    match &decision {
        Decision::Keep => {}
        Decision::Flag { rules } => listed.tally(rules, |t| t.flagged += 1),
        Decision::Exempt { rules, exemption } => {
            listed.tally(rules, |t| t.exempted += 1);
            let e = entry(rules, format!("exempt: {exemption}"));
            listed.unstaged.1.push(e);
        }
        Decision::Revoke { rules } => {
            listed.tally(rules, |t| t.planned += 1);
            let e = entry(rules, explain(&deps.policies, facts, now));
            listed.unstaged.0.push(e);
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
