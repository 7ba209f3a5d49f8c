//! The token reports: `inventory` (active tokens now or at a past instant, with what the
//! current policies say of them) and `exposure` (scope × age, tokens of offboarded users,
//! tokens older than the policies allow). Decisions come from [`crate::policy::decide`] with
//! the configured policies at the report instant; nothing here re-implements a rule.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, TimeDelta, Utc};
use sqlx::SqlitePool;

use super::Error;
use super::query::{self, TokenLine};
use super::table::{Cell, Table};
use crate::config::Config;
use crate::policy::{Decision, PolicySet, TokenFacts, decide};

/// Columns of `revokd report inventory`.
pub const INVENTORY_COLUMNS: &[&str] = &[
    "user_id",
    "client_id",
    "token_id",
    "age_days",
    "idle_days",
    "scopes",
    "expires_at",
    "created_at",
    "last_updated_at",
    "first_seen_at",
    "last_seen_at",
    "decision",
    "policies",
];

/// Columns of `revokd report exposure`.
pub const EXPOSURE_COLUMNS: &[&str] = &[
    "finding",
    "scope",
    "age_bucket",
    "tokens",
    "user_id",
    "client_id",
    "token_id",
    "age_days",
    "detail",
];

/// Age buckets of the exposure report, in order, with their upper bounds in days.
pub const AGE_BUCKETS: &[(&str, i64)] = &[
    ("<7d", 7),
    ("7-30d", 30),
    ("30-90d", 90),
    ("90-365d", 365),
    (">365d", i64::MAX),
];

/// A token line with what the report derives from it at the report instant.
#[derive(Debug)]
pub(super) struct Assessed {
    pub(super) line: TokenLine,
    scopes: Vec<String>,
    age: Option<TimeDelta>,
    idle: Option<TimeDelta>,
    pub(super) decision: &'static str,
    rules: Vec<String>,
}

fn parse_ts(text: Option<&str>) -> Option<DateTime<Utc>> {
    text.and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

fn assess(lines: Vec<TokenLine>, policies: &PolicySet, at: DateTime<Utc>) -> Vec<Assessed> {
    lines
        .into_iter()
        .map(|line| {
            let scopes: Vec<String> = serde_json::from_str(&line.scopes).unwrap_or_default();
            let created = parse_ts(line.created_at.as_deref());
            let last_updated = parse_ts(line.last_updated_at.as_deref());
            let facts = TokenFacts {
                token_id: &line.token_id,
                user_id: &line.user_id,
                client_id: &line.client_id,
                active: true,
                scopes: &scopes,
                created,
                last_updated,
                expires_at: parse_ts(line.expires_at.as_deref()),
            };
            let decision = decide(policies, &facts, at);
            let rules = decision.rules().iter().map(|r| (*r).to_owned()).collect();
            let decision = match decision {
                Decision::Keep => "keep",
                Decision::Flag { .. } => "flag",
                Decision::Revoke { .. } => "revoke",
                Decision::Exempt { .. } => "exempt",
            };
            Assessed {
                age: created.map(|c| at - c),
                idle: last_updated.map(|u| at - u),
                line,
                scopes,
                decision,
                rules,
            }
        })
        .collect()
}

/// The active tokens at `at` (now when `past` is false), decided with the configured policies.
pub(super) async fn tokens(
    pool: &SqlitePool,
    policies: &PolicySet,
    at: DateTime<Utc>,
    past: bool,
) -> Result<Vec<Assessed>, Error> {
    let lines = if past {
        query::tokens_at(pool, at).await?
    } else {
        query::active_tokens(pool).await?
    };
    Ok(assess(lines, policies, at))
}

/// The rules with `older_than` as compiled (names trimmed, as sweeps record them), and the
/// tokens active now (`v_active_tokens`), each with its age at `at` and the rules of the
/// configured policies that match it then (whatever the decision: exempt and flag included).
pub(super) async fn ages_and_rules(
    pool: &SqlitePool,
    config: &Config,
    at: DateTime<Utc>,
) -> Result<AgesAndRules, Error> {
    let policies = PolicySet::from_config(&config.policies, &config.exemptions)?;
    let tokens = tokens(pool, &policies, at, false).await?;
    let age_rules = policies.age_rules().map(|(n, d)| (n.to_owned(), d));
    Ok((
        age_rules.collect(),
        tokens.into_iter().map(|t| (t.age, t.rules)).collect(),
    ))
}

/// The rules with `older_than` (name, threshold), and each active token's age and rules.
pub(super) type AgesAndRules = (
    Vec<(String, TimeDelta)>,
    Vec<(Option<TimeDelta>, Vec<String>)>,
);

fn days(d: Option<TimeDelta>) -> Cell {
    d.map_or(Cell::Null, |d| Cell::Int(d.num_days()))
}

/// `inventory`: one row per active token at `at`; `past` answers from snapshots.
pub(super) async fn inventory(
    pool: &SqlitePool,
    config: &Config,
    at: DateTime<Utc>,
    past: bool,
) -> Result<Table, Error> {
    let policies = PolicySet::from_config(&config.policies, &config.exemptions)?;
    let mut table = Table::new(INVENTORY_COLUMNS);
    for t in tokens(pool, &policies, at, past).await? {
        let l = t.line;
        table.push(vec![
            l.user_id.into(),
            l.client_id.into(),
            l.token_id.into(),
            days(t.age),
            days(t.idle),
            t.scopes.into(),
            l.expires_at.into(),
            l.created_at.into(),
            l.last_updated_at.into(),
            l.first_seen_at.into(),
            l.last_seen_at.into(),
            t.decision.into(),
            t.rules.into(),
        ]);
    }
    Ok(table)
}

/// The bucket label of an age (`unknown` without one).
pub fn age_bucket(age: Option<TimeDelta>) -> &'static str {
    let Some(age) = age else { return "unknown" };
    AGE_BUCKETS
        .iter()
        .find(|(_, upper)| *upper == i64::MAX || age < TimeDelta::days(*upper))
        .map_or("unknown", |(label, _)| label)
}

fn bucket_rank(label: &str) -> usize {
    AGE_BUCKETS
        .iter()
        .position(|(l, _)| *l == label)
        .unwrap_or(AGE_BUCKETS.len())
}

/// `exposure` at `at`: three findings, in this order —
/// `scope_age` (active tokens per scope and age bucket; a token counts under each scope),
/// `offboarded_user_token` (active tokens of users offboarded by then, from
/// `v_offboarded_users`), and `older_than_policy` (tokens a configured rule with `older_than`
/// matches, whatever the decision).
pub(super) async fn exposure(
    pool: &SqlitePool,
    config: &Config,
    at: DateTime<Utc>,
    past: bool,
) -> Result<Table, Error> {
    let policies = PolicySet::from_config(&config.policies, &config.exemptions)?;
    let tokens = tokens(pool, &policies, at, past).await?;
    let mut table = Table::new(EXPOSURE_COLUMNS);

    let mut counts: BTreeMap<(String, usize, &str), i64> = BTreeMap::new();
    for t in &tokens {
        let bucket = age_bucket(t.age);
        for scope in &t.scopes {
            *counts
                .entry((scope.clone(), bucket_rank(bucket), bucket))
                .or_default() += 1;
        }
    }
    for ((scope, _, bucket), n) in counts {
        table.push(vec![
            "scope_age".into(),
            scope.into(),
            bucket.into(),
            n.into(),
            Cell::Null,
            Cell::Null,
            Cell::Null,
            Cell::Null,
            Cell::Null,
        ]);
    }

    let stamp = crate::store::ts(at);
    let mut offboarded: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for o in query::offboarded_users(pool).await? {
        if o.since.as_deref().is_none_or(|s| s <= stamp.as_str()) {
            let since = o.since.unwrap_or_default();
            offboarded
                .entry(o.user_id)
                .or_default()
                .insert(format!("{} since {since}", o.source));
        }
    }
    let finding = |table: &mut Table, name: &str, t: &Assessed, detail: Cell| {
        table.push(vec![
            name.into(),
            Cell::Null,
            age_bucket(t.age).into(),
            Cell::Null,
            t.line.user_id.as_str().into(),
            t.line.client_id.as_str().into(),
            t.line.token_id.as_str().into(),
            days(t.age),
            detail,
        ]);
    };
    for t in &tokens {
        if let Some(sources) = offboarded.get(&t.line.user_id) {
            let detail = format!(
                "offboarded: {}",
                sources.iter().cloned().collect::<Vec<_>>().join("; ")
            );
            finding(&mut table, "offboarded_user_token", t, detail.into());
        }
    }
    let age_rules: BTreeSet<&str> = policies.age_rules().map(|(name, _)| name).collect();
    for t in &tokens {
        let over: Vec<&str> = t
            .rules
            .iter()
            .map(String::as_str)
            .filter(|r| age_rules.contains(r))
            .collect();
        if !over.is_empty() {
            let names = over.into_iter().map(str::to_owned).collect();
            let detail = Cell::Labelled(t.decision.to_string(), names);
            finding(&mut table, "older_than_policy", t, detail);
        }
    }
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_fall_into_half_open_buckets() {
        let cases = [
            (None, "unknown"),
            (Some(TimeDelta::days(6) + TimeDelta::hours(23)), "<7d"),
            (Some(TimeDelta::days(7)), "7-30d"),
            (Some(TimeDelta::days(89)), "30-90d"),
            (Some(TimeDelta::days(364)), "90-365d"),
            (Some(TimeDelta::days(365)), ">365d"),
        ];
        for (age, want) in cases {
            assert_eq!(age_bucket(age), want, "{age:?}");
        }
    }
}
