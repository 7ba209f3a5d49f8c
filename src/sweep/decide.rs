//! Deciding a listed token: policy's decision noted in the listing's counts and plan, and the
//! row that records the token with the rules it matched.

use chrono::{DateTime, Utc};

use super::list::Listed;
use super::{Deps, Target};
use crate::okta::ObservedToken;
use crate::policy::{Decision, TokenFacts, decide, explain, stable_until};
use crate::store::{ObservedRecord, StagedEntry, TokenObservation, TokenRow, ts};

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
        active: t.may_be_active(),
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
    facts.active = crate::okta::model::status_may_be_active(row.status.as_deref());
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
    if let Some(at) = stable_until(&deps.policies, facts, now) {
        listed.stable_until = Some(listed.stable_until.map_or(at, |s| s.min(at)));
    }
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
            listed.to_revoke += 1;
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
