//! Policy: decides, for one refresh token at one instant, whether to keep, flag or revoke it,
//! and whether a sweep's plan is small enough to apply (the blast-radius guard).
//!
//! Pure: no IO, no clock, no logging. The caller supplies `now`, so every rule is table-tested
//! at its boundaries. [`PolicySet::from_config`] compiles `[[policies]]` and `[[exemptions]]`
//! once (durations converted, long id lists hashed) so that [`decide`] allocates nothing for a
//! token that no rule matches.

mod compile;
mod guard;
mod reason;
mod recorded;
mod stable;
#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};

use crate::config::Action;

pub use compile::PolicySet;
pub use guard::{GuardTrip, check_guard};
pub use stable::stable_until;

/// What policy needs to know about one refresh token, borrowed from wherever it is held.
#[derive(Debug, Clone, Copy)]
pub struct TokenFacts<'a> {
    /// Okta's token id (`oar…`).
    pub token_id: &'a str,
    /// The user the token was issued to (`00u…`).
    pub user_id: &'a str,
    /// The OAuth client the token was issued to (`0oa…`).
    pub client_id: &'a str,
    /// Whether Okta still reports the token as `ACTIVE`.
    pub active: bool,
    /// The token's granted scopes.
    pub scopes: &'a [String],
    /// Okta's `created`.
    pub created: Option<DateTime<Utc>>,
    /// Okta's `lastUpdated`, used as the last time the token was used or refreshed.
    pub last_updated: Option<DateTime<Utc>>,
    /// Okta's `expiresAt`; `None` means the token never expires.
    pub expires_at: Option<DateTime<Utc>>,
}

/// The outcome of [`decide`] for one token. Rule names borrow from the [`PolicySet`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision<'p> {
    /// No rule matches, or the token is not active.
    Keep,
    /// Only `action = "flag"` rules match: record, never revoke.
    Flag {
        /// Every matching rule, in config order.
        rules: Vec<&'p str>,
    },
    /// At least one `action = "revoke"` rule matches.
    /// [`explain`] says why, in words, when a caller needs it.
    Revoke {
        /// Every matching rule (revoke and flag), in config order.
        rules: Vec<&'p str>,
    },
    /// Some rule matches but an exemption applies; exemptions always win.
    Exempt {
        /// Every matching rule, in config order.
        rules: Vec<&'p str>,
        /// The exemption's name, or what it matched (`user 00u…`, `client 0oa…`, `token oar…`).
        exemption: String,
    },
}

impl Decision<'_> {
    /// The matching rule names (empty for [`Decision::Keep`]).
    pub fn rules(&self) -> &[&str] {
        match self {
            Decision::Keep => &[],
            Decision::Flag { rules }
            | Decision::Revoke { rules, .. }
            | Decision::Exempt { rules, .. } => rules,
        }
    }
}

/// Decides what to do with `token` at `now`.
///
/// * A non-active token is [`Decision::Keep`].
/// * A rule matches when every condition it sets holds (AND); see [`PolicySet`] for each
///   condition's exact boundary.
/// * No matching rule: [`Decision::Keep`] (exemptions are not consulted).
/// * Only `action = "flag"` rules match: [`Decision::Flag`], exempt or not (an exemption
///   keeps a token from revocation, and none is asked for).
/// * Some matching rule has `action = "revoke"` and an exemption lists the token's user,
///   client or id: [`Decision::Exempt`] naming the first such exemption in config order.
/// * Otherwise [`Decision::Revoke`].
///
/// Allocates only when some rule matches (the list of rule names), never for the reason.
pub fn decide<'p>(set: &'p PolicySet, token: &TokenFacts<'_>, now: DateTime<Utc>) -> Decision<'p> {
    if !token.active {
        return Decision::Keep;
    }
    let Some(first) = set.rules.iter().position(|r| r.matches(token, now)) else {
        return Decision::Keep;
    };
    let mut rules: Vec<&'p str> = Vec::with_capacity(set.rules.len() - first);
    let mut revoke = false;
    for (i, rule) in set.rules.iter().enumerate().skip(first) {
        if i == first || rule.matches(token, now) {
            rules.push(rule.name.as_str());
            revoke |= rule.action == Action::Revoke;
        }
    }
    if !revoke {
        return Decision::Flag { rules };
    }
    match set.exemption_for(token) {
        Some(exemption) => Decision::Exempt { rules, exemption },
        None => Decision::Revoke { rules },
    }
}

/// Why `token` matches at `now`, in words: each matching rule with the conditions that hold,
/// e.g. `admin-scopes-7d: older_than 7d (created 2026-01-02T00:00:00Z, 331d ago); scopes_any
/// admin:write`; several rules are joined by ` | `. Empty when nothing matches.
pub fn explain(set: &PolicySet, token: &TokenFacts<'_>, now: DateTime<Utc>) -> String {
    let matching: Vec<&compile::Rule> =
        set.rules.iter().filter(|r| r.matches(token, now)).collect();
    reason::describe(&matching, token, now)
}
