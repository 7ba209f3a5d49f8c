//! Compiling `[[policies]]` and `[[exemptions]]` into the form [`super::decide`] evaluates:
//! validation of names and conditions, durations converted once, long id lists hashed.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use super::TokenFacts;
use crate::config::{Action, Error, ExemptionConfig, PolicyConfig, check_id};
use crate::ids::{ClientId, InvalidId, TokenId, UserId};

/// Lists longer than this are hashed; shorter ones are scanned (faster for a handful of ids).
const HASH_THRESHOLD: usize = 8;

/// A set of ids, scanned when short and hashed when long.
#[derive(Debug, Clone)]
pub(super) enum IdSet {
    Small(Vec<String>),
    Large(HashSet<String>),
}

impl IdSet {
    fn new(ids: &[String]) -> Self {
        if ids.len() > HASH_THRESHOLD {
            IdSet::Large(ids.iter().cloned().collect())
        } else {
            IdSet::Small(ids.to_vec())
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        match self {
            IdSet::Small(v) => v.is_empty(),
            IdSet::Large(s) => s.is_empty(),
        }
    }

    pub(super) fn contains(&self, id: &str) -> bool {
        match self {
            IdSet::Small(v) => v.iter().any(|x| x == id),
            IdSet::Large(s) => s.contains(id),
        }
    }
}

/// One compiled rule. A `None` / empty condition is unset and always holds.
#[derive(Debug, Clone)]
pub(super) struct Rule {
    pub(super) name: String,
    pub(super) action: Action,
    pub(super) older_than: Option<(TimeDelta, Duration)>,
    pub(super) idle_for: Option<(TimeDelta, Duration)>,
    pub(super) expires_after: Option<(TimeDelta, Duration)>,
    pub(super) scopes_any: IdSet,
    pub(super) scopes_all: Vec<String>,
    pub(super) clients: IdSet,
    pub(super) users: IdSet,
}

impl Rule {
    /// Whether every condition this rule sets holds for `t` at `now`.
    pub(super) fn matches(&self, t: &TokenFacts<'_>, now: DateTime<Utc>) -> bool {
        self.holds_but_for_time(t)
            && self.older_than.is_none_or(|(d, _)| older_than(t, now, d))
            && self.idle_for.is_none_or(|(d, _)| idle_for(t, now, d))
            && self
                .expires_after
                .is_none_or(|(d, _)| expires_after(t, now, d))
    }

    /// Whether every condition this rule sets that time does not move holds for `t`: its
    /// clients, users and scopes.
    pub(super) fn holds_but_for_time(&self, t: &TokenFacts<'_>) -> bool {
        // Cheap id checks first: they reject most tokens in real configs.
        (self.clients.is_empty() || self.clients.contains(t.client_id))
            && (self.users.is_empty() || self.users.contains(t.user_id))
            && (self.scopes_any.is_empty() || t.scopes.iter().any(|s| self.scopes_any.contains(s)))
            && self.scopes_all.iter().all(|s| t.scopes.contains(s))
    }
}

/// `created` is strictly more than `d` before `now`.
pub(super) fn older_than(t: &TokenFacts<'_>, now: DateTime<Utc>, d: TimeDelta) -> bool {
    t.created.is_some_and(|c| now.signed_duration_since(c) > d)
}

/// `now − last_updated ≥ d`.
pub(super) fn idle_for(t: &TokenFacts<'_>, now: DateTime<Utc>, d: TimeDelta) -> bool {
    t.last_updated
        .is_some_and(|u| now.signed_duration_since(u) >= d)
}

/// `expires_at` is absent (never expires) or strictly later than `now + d`.
pub(super) fn expires_after(t: &TokenFacts<'_>, now: DateTime<Utc>, d: TimeDelta) -> bool {
    t.expires_at
        .is_none_or(|e| e.signed_duration_since(now) > d)
}

/// One compiled exemption.
#[derive(Debug, Clone)]
struct Exemption {
    name: Option<String>,
    users: IdSet,
    clients: IdSet,
    tokens: IdSet,
}

/// The reading of a configuration [`super::decide`] applies, in the policy fingerprint: a
/// change to it (the same rules deciding some token otherwise) is a new version, so every
/// listing fingerprinted under the old reading (`pair_listings`) is read token by token again
/// and its standing records follow. 2: a token only `flag` rules match is flagged, exempt or
/// not.
const DECISIONS: &str = "decisions 2";

/// Compiled `[[policies]]` and `[[exemptions]]`, ready for [`super::decide`].
///
/// Conditions of a rule (all that are set must hold):
/// * `older_than d` — `created` is strictly more than `d` before `now` (exactly `d` old does not
///   match); a token without `created` does not match.
/// * `idle_for d` — `now − last_updated ≥ d`; a token without `last_updated` does not match.
/// * `expires_after h` — `expires_at` is absent (never expires) or strictly later than `now + h`.
/// * `scopes_any` — at least one listed scope is granted; `scopes_all` — every listed scope is.
/// * `clients` / `users` — the token's client / user id is listed.
///
/// An exemption matches when any of its `users`, `clients` or `tokens` lists holds the token's
/// value.
#[derive(Debug, Clone, Default)]
pub struct PolicySet {
    pub(super) rules: Vec<Rule>,
    exemptions: Vec<Exemption>,
    /// A hash of the configuration compiled (see [`PolicySet::fingerprint`]).
    fingerprint: u128,
    /// The rules as a sweep records them (see [`PolicySet::recorded_rules`]).
    recorded: String,
}

impl PolicySet {
    /// Validates and compiles rules and exemptions. Errors name the key, e.g.
    /// `policies[1].name`: names must be non-empty and unique, every rule must set at least one
    /// condition (a rule without one would match every token), and list entries must be
    /// non-empty; each exemption must list something.
    pub fn from_config(
        policies: &[PolicyConfig],
        exemptions: &[ExemptionConfig],
    ) -> Result<Self, Error> {
        let mut names = HashSet::new();
        let rules = policies
            .iter()
            .enumerate()
            .map(|(i, p)| rule(&format!("policies[{i}]"), p, &mut names))
            .collect::<Result<Vec<_>, _>>()?;
        let compiled = exemptions
            .iter()
            .enumerate()
            .map(|(i, e)| exemption(&format!("exemptions[{i}]"), e))
            .collect::<Result<Vec<_>, _>>()?;
        // Debug output of the config structs: every list in config order, no hashed set; after
        // the reading of them `decide` applies, so a set read anew decides anew.
        let text = format!("{DECISIONS}\n{policies:?}\n{exemptions:?}");
        Ok(PolicySet {
            rules,
            exemptions: compiled,
            fingerprint: xxhash_rust::xxh3::xxh3_128(text.as_bytes()),
            recorded: super::recorded::rules_json(policies),
        })
    }

    /// A 128-bit hash of the `[[policies]]` and `[[exemptions]]` this set was compiled from,
    /// and of the version of how [`super::decide`] reads them: two sets with the same
    /// fingerprint decide every token alike.
    pub fn fingerprint(&self) -> u128 {
        self.fingerprint
    }

    /// The rules as the database records them for each sweep that decides by them
    /// (`policy_sets.rules`): a JSON array, one object per rule in config order, durations in
    /// seconds.
    pub fn recorded_rules(&self) -> &str {
        if self.recorded.is_empty() {
            "[]"
        } else {
            &self.recorded
        }
    }

    /// The rule names, in config order.
    pub fn rule_names(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().map(|r| r.name.as_str())
    }

    /// The rules with `older_than`, in config order: each one's name (as sweeps record it,
    /// trimmed) and its threshold.
    pub fn age_rules(&self) -> impl Iterator<Item = (&str, TimeDelta)> {
        self.rules
            .iter()
            .filter_map(|r| r.older_than.map(|(d, _)| (r.name.as_str(), d)))
    }

    /// True when there are no rules (nothing will ever be flagged or revoked).
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Whether any exemption lists token ids: then a revoke-all could take an exempt token,
    /// and the gate revokes the pair token by token instead.
    pub fn has_token_exemptions(&self) -> bool {
        self.exemptions.iter().any(|e| !e.tokens.is_empty())
    }

    /// The first exemption (config order) that covers `t`, as its name or what it matched.
    pub fn exemption_for(&self, t: &TokenFacts<'_>) -> Option<String> {
        self.exemptions.iter().find_map(|e| {
            let what = if e.users.contains(t.user_id) {
                format!("user {}", t.user_id)
            } else if e.clients.contains(t.client_id) {
                format!("client {}", t.client_id)
            } else if e.tokens.contains(t.token_id) {
                format!("token {}", t.token_id)
            } else {
                return None;
            };
            Some(e.name.clone().unwrap_or(what))
        })
    }
}

fn check_entries(key: &str, list: &[String]) -> Result<(), Error> {
    match list.iter().position(|s| s.trim().is_empty()) {
        Some(j) => Err(Error::invalid(format!("{key}[{j}]"), "must not be empty")),
        None => Ok(()),
    }
}

/// Ids are compared exactly: one no token can carry (` 00u1`, `john.doe`) would match (or
/// exempt) nothing, silently. They are refused as the Okta client would refuse them.
fn check_ids<T>(
    key: &str,
    ids: &[String],
    parse: impl Fn(&str) -> Result<T, InvalidId>,
) -> Result<(), Error> {
    for (j, id) in ids.iter().enumerate() {
        check_id(&format!("{key}[{j}]"), parse(id))?;
    }
    Ok(())
}

fn delta(key: &str, d: Option<Duration>) -> Result<Option<(TimeDelta, Duration)>, Error> {
    d.map(|d| {
        TimeDelta::from_std(d)
            .map(|td| (td, d))
            .map_err(|_| Error::invalid(key, "duration is too large"))
    })
    .transpose()
}

/// The rule compiled from policy `p` at config `key`; its name joins `names`.
fn rule<'a>(key: &str, p: &'a PolicyConfig, names: &mut HashSet<&'a str>) -> Result<Rule, Error> {
    let name = p.name.trim();
    check_rule_name(key, name, names)?;
    let no_condition = p.older_than.is_none()
        && p.idle_for.is_none()
        && p.expires_after.is_none()
        && p.scopes_any.is_empty()
        && p.scopes_all.is_empty()
        && p.clients.is_empty()
        && p.users.is_empty();
    if no_condition {
        return Err(Error::invalid(
            key,
            format!(
                "policy `{name}` sets no condition and would match every token; set at \
                 least one of older_than, idle_for, expires_after, scopes_any, \
                 scopes_all, clients, users"
            ),
        ));
    }
    for (field, list) in [("scopes_any", &p.scopes_any), ("scopes_all", &p.scopes_all)] {
        check_entries(&format!("{key}.{field}"), list)?;
    }
    check_ids(&format!("{key}.clients"), &p.clients, |c| ClientId::new(c))?;
    check_ids(&format!("{key}.users"), &p.users, |u| UserId::new(u))?;
    Ok(Rule {
        name: name.to_owned(),
        action: p.action,
        older_than: delta(&format!("{key}.older_than"), p.older_than)?,
        idle_for: delta(&format!("{key}.idle_for"), p.idle_for)?,
        expires_after: delta(&format!("{key}.expires_after"), p.expires_after)?,
        scopes_any: IdSet::new(&p.scopes_any),
        scopes_all: p.scopes_all.clone(),
        clients: IdSet::new(&p.clients),
        users: IdSet::new(&p.users),
    })
}

/// A policy name must be set, free of commas and not taken by an earlier policy.
fn check_rule_name<'a>(
    key: &str,
    name: &'a str,
    names: &mut HashSet<&'a str>,
) -> Result<(), Error> {
    if name.is_empty() {
        return Err(Error::invalid(
            format!("{key}.name"),
            "every policy needs a name",
        ));
    }
    if name.contains(',') {
        return Err(Error::invalid(
            format!("{key}.name"),
            format!(
                "`{name}` contains a comma, which separates rule names in \
                 revocations.policy; use another character"
            ),
        ));
    }
    if !names.insert(name) {
        return Err(Error::invalid(
            format!("{key}.name"),
            format!("duplicate policy name `{name}`; names must be unique"),
        ));
    }
    Ok(())
}

/// The exemption compiled from `e` at config `key`: named sensibly and exempting something,
/// by ids Okta could have sent.
fn exemption(key: &str, e: &ExemptionConfig) -> Result<Exemption, Error> {
    if e.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
        return Err(Error::invalid(
            format!("{key}.name"),
            "must not be empty if set",
        ));
    }
    if e.users.is_empty() && e.clients.is_empty() && e.tokens.is_empty() {
        return Err(Error::invalid(
            key,
            "exempts nothing; list at least one of users, clients, tokens",
        ));
    }
    check_ids(&format!("{key}.users"), &e.users, |u| UserId::new(u))?;
    check_ids(&format!("{key}.clients"), &e.clients, |c| ClientId::new(c))?;
    check_ids(&format!("{key}.tokens"), &e.tokens, |t| TokenId::new(t))?;
    Ok(Exemption {
        name: e.name.as_ref().map(|n| n.trim().to_owned()),
        users: IdSet::new(&e.users),
        clients: IdSet::new(&e.clients),
        tokens: IdSet::new(&e.tokens),
    })
}

#[cfg(test)]
#[path = "tests_compile.rs"]
mod tests;
