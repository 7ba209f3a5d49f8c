//! Listing one target: page by page, each page recorded in one transaction and each token
//! decided as it arrives, so memory holds one page and the plan, never the whole org.

use chrono::{DateTime, Utc};
use tracing::{Instrument, error, info_span, warn};

use super::{Deps, Target};
use crate::config::Mode;
use crate::okta::{self, ObservedToken, OktaClient};
use crate::policy::{Decision, TokenFacts, decide, explain};
use crate::store::{self, NewRevocation, RevocationState, TargetOutcome, TokenObservation, ts};

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
    fn new(target: &Target, token_id: &str, rules: Vec<String>, reason: String) -> Self {
        Planned {
            token_id: token_id.to_owned(),
            user_id: target.user.to_string(),
            client_id: target.client.to_string(),
            rules,
            reason,
        }
    }

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
                "policy",
                mode.as_str(),
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

/// Lists a target completely. The outer `Result` is the database (fatal for the sweep); the
/// inner one is Okta (fatal only for this target, and already recorded in `targets`).
pub(super) async fn list_target<'t>(
    deps: &Deps,
    okta: &OktaClient,
    sweep_id: i64,
    target: &'t Target,
    now: DateTime<Utc>,
) -> (
    &'t Target,
    Result<Result<Listed, okta::Error>, store::Error>,
) {
    let span = info_span!("target", okta.user_id = %target.user, okta.client_id = %target.client);
    let result = async {
        let started = Utc::now();
        let outcome = list_pages(deps, okta, sweep_id, target, now).await?;
        deps.progress.target_done(outcome.as_ref().map_or(0, |l| l.tokens_seen));
        let finished = Utc::now();
        let (user, client) = (target.user.as_str(), target.client.as_str());
        match &outcome {
            Ok(_) => {
                deps.store.mark_gone(user, client, started, finished).await?;
                deps.store.record_target(user, client, target.source, TargetOutcome::Ok, None, finished).await?;
            }
            Err(e) => {
                warn!(error.message = %e, okta.request_id = e.request_id(), "target failed; the sweep goes on");
                let text = e.to_string();
                deps.store
                    .record_target(user, client, target.source, TargetOutcome::Failed, Some(&text), finished)
                    .await?;
            }
        }
        Ok(outcome)
    }
    .instrument(span)
    .await;
    (target, result)
}

async fn list_pages(
    deps: &Deps,
    okta: &OktaClient,
    sweep_id: i64,
    target: &Target,
    now: DateTime<Utc>,
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
        let mut rows = Vec::with_capacity(page.tokens.len());
        for observed in &page.tokens {
            rows.push(observe(deps, target, observed, now, &mut listed));
        }
        let back = deps
            .store
            .record_page(Some(sweep_id), &rows, Utc::now())
            .await?;
        for token_id in &back {
            error!(
                okta.token_id = %token_id,
                "a token revokd revoked is ACTIVE again in Okta; policy decides it anew"
            );
        }
        listed.reappeared += back.len() as u64;
    }
}

/// Decides one token, notes the decision in `listed`, and returns the row to store.
fn observe<'a>(
    deps: &Deps,
    target: &'a Target,
    observed: &'a ObservedToken,
    now: DateTime<Utc>,
    listed: &mut Listed,
) -> TokenObservation<'a> {
    let t = &observed.token;
    let token_id = t.id.as_deref().unwrap_or_default();
    let scopes = t.scope_names();
    let facts = TokenFacts {
        token_id,
        user_id: target.user.as_str(),
        client_id: target.client.as_str(),
        active: t.is_active(),
        scopes: &scopes,
        created: t.created,
        last_updated: t.last_updated,
        expires_at: t.expires_at,
    };
    listed.tokens_seen += 1;
    listed.active_seen += u64::from(facts.active);
    let decision = decide(&deps.policies, &facts, now);
    let owned = |rules: &[&str]| rules.iter().map(|r| (*r).to_owned()).collect::<Vec<_>>();
    match &decision {
        Decision::Keep => {}
        Decision::Flag { rules } => listed.flagged.push(owned(rules)),
        Decision::Exempt { rules, exemption } => {
            listed.exempt.push(Planned::new(
                target,
                token_id,
                owned(rules),
                format!("exempt: {exemption}"),
            ));
        }
        Decision::Revoke { rules } => {
            let reason = explain(&deps.policies, &facts, now);
            listed
                .planned
                .push(Planned::new(target, token_id, owned(rules), reason));
        }
    }
    TokenObservation {
        token_id,
        user_id: target.user.as_str(),
        client_id: target.client.as_str(),
        issuer: t.issuer.as_deref(),
        status: t.status.as_ref().map(|s| s.as_str()),
        scopes_json: serde_json::to_string(&scopes).unwrap_or_else(|_| "[]".into()),
        created_at: t.created.map(ts),
        last_updated_at: t.last_updated.map(ts),
        expires_at: t.expires_at.map(ts),
        raw_json: &observed.raw_json,
        policy_matches: serde_json::to_string(decision.rules()).unwrap_or_else(|_| "[]".into()),
    }
}
