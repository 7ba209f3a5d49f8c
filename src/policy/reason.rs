//! The human text of a revoke decision: each matching rule and the conditions that held.

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};

use super::TokenFacts;
use super::compile::Rule;
use crate::config::duration;

/// `rule: cond; cond | rule2: cond`, naming each condition a matching rule sets, with the
/// token's value that satisfied it.
pub(super) fn describe(rules: &[&Rule], t: &TokenFacts<'_>, now: DateTime<Utc>) -> String {
    let mut out = String::new();
    for (i, rule) in rules.iter().enumerate() {
        if i > 0 {
            out.push_str(" | ");
        }
        out.push_str(&rule.name);
        out.push_str(": ");
        let conds = conditions(rule, t, now);
        out.push_str(&conds.join("; "));
    }
    out
}

fn conditions(rule: &Rule, t: &TokenFacts<'_>, now: DateTime<Utc>) -> Vec<String> {
    let mut conds = Vec::new();
    if let (Some((_, d)), Some(c)) = (rule.older_than, t.created) {
        conds.push(format!(
            "older_than {} (created {}, {} ago)",
            duration::format(d),
            stamp(c),
            coarse(now.signed_duration_since(c))
        ));
    }
    if let (Some((_, d)), Some(u)) = (rule.idle_for, t.last_updated) {
        conds.push(format!(
            "idle_for {} (last updated {}, {} ago)",
            duration::format(d),
            stamp(u),
            coarse(now.signed_duration_since(u))
        ));
    }
    if let Some((_, d)) = rule.expires_after {
        let when = match t.expires_at {
            None => "never expires".to_owned(),
            Some(e) => format!(
                "expires {}, in {}",
                stamp(e),
                coarse(e.signed_duration_since(now))
            ),
        };
        conds.push(format!("expires_after {} ({when})", duration::format(d)));
    }
    if !rule.scopes_any.is_empty() {
        let granted: Vec<&str> = t
            .scopes
            .iter()
            .filter(|s| rule.scopes_any.contains(s))
            .map(String::as_str)
            .collect();
        conds.push(format!("scopes_any {}", granted.join(" ")));
    }
    if !rule.scopes_all.is_empty() {
        conds.push(format!("scopes_all {}", rule.scopes_all.join(" ")));
    }
    if !rule.clients.is_empty() {
        conds.push(format!("client {}", t.client_id));
    }
    if !rule.users.is_empty() {
        conds.push(format!("user {}", t.user_id));
    }
    conds
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The largest whole unit of `d`: `331d`, `5h`, `12m`, `40s`, `250ms`.
fn coarse(d: TimeDelta) -> String {
    let ms = d.num_milliseconds();
    let (n, unit) = match ms {
        _ if ms >= 86_400_000 => (ms / 86_400_000, "d"),
        _ if ms >= 3_600_000 => (ms / 3_600_000, "h"),
        _ if ms >= 60_000 => (ms / 60_000, "m"),
        _ if ms >= 1_000 => (ms / 1_000, "s"),
        _ => (ms, "ms"),
    };
    format!("{n}{unit}")
}
