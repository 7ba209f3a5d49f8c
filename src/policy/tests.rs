use std::time::Duration;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};

use super::*;
use crate::config::{ExemptionConfig, PolicyConfig};

const DAY: u64 = 86_400;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 29, 12, 0, 0).unwrap()
}

fn days(n: u64) -> Option<Duration> {
    Some(Duration::from_secs(n * DAY))
}

fn ms(n: i64) -> TimeDelta {
    TimeDelta::milliseconds(n)
}

pub(super) fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

pub(super) fn rule(name: &str) -> PolicyConfig {
    PolicyConfig {
        name: name.into(),
        ..PolicyConfig::default()
    }
}

struct Tok {
    token_id: &'static str,
    user_id: &'static str,
    client_id: &'static str,
    active: bool,
    scopes: Vec<String>,
    created: Option<DateTime<Utc>>,
    last_updated: Option<DateTime<Utc>>,
    expires_at: Option<DateTime<Utc>>,
}

impl Tok {
    fn new() -> Self {
        Tok {
            token_id: "oar1",
            user_id: "00u1",
            client_id: "0oa1",
            active: true,
            scopes: strings(&["offline_access", "openid"]),
            created: Some(now() - TimeDelta::days(1)),
            last_updated: Some(now() - TimeDelta::hours(1)),
            expires_at: Some(now() + TimeDelta::days(30)),
        }
    }

    fn facts(&self) -> TokenFacts<'_> {
        TokenFacts {
            token_id: self.token_id,
            user_id: self.user_id,
            client_id: self.client_id,
            active: self.active,
            scopes: &self.scopes,
            created: self.created,
            last_updated: self.last_updated,
            expires_at: self.expires_at,
        }
    }
}

fn set(policies: &[PolicyConfig], exemptions: &[ExemptionConfig]) -> PolicySet {
    PolicySet::from_config(policies, exemptions).unwrap()
}

fn matches(p: PolicyConfig, tok: &Tok) -> bool {
    let s = set(&[p], &[]);
    !matches!(decide(&s, &tok.facts(), now()), Decision::Keep)
}

#[test]
fn every_condition_holds_exactly_at_its_documented_boundary() {
    let d = TimeDelta::days(7);
    type Case = (&'static str, fn(&mut Tok, TimeDelta), TimeDelta, bool);
    let set_created: fn(&mut Tok, TimeDelta) = |t, age| t.created = Some(now() - age);
    let set_updated: fn(&mut Tok, TimeDelta) = |t, age| t.last_updated = Some(now() - age);
    let set_expires: fn(&mut Tok, TimeDelta) = |t, left| t.expires_at = Some(now() + left);
    let cases: [Case; 9] = [
        ("older_than", set_created, d - ms(1), false),
        ("older_than", set_created, d, false),
        ("older_than", set_created, d + ms(1), true),
        ("idle_for", set_updated, d - ms(1), false),
        ("idle_for", set_updated, d, true),
        ("idle_for", set_updated, d + ms(1), true),
        ("expires_after", set_expires, d - ms(1), false),
        ("expires_after", set_expires, d, false),
        ("expires_after", set_expires, d + ms(1), true),
    ];
    for (kind, apply, offset, expected) in cases {
        let mut p = rule("r");
        match kind {
            "older_than" => p.older_than = days(7),
            "idle_for" => p.idle_for = days(7),
            _ => p.expires_after = days(7),
        }
        let mut tok = Tok::new();
        apply(&mut tok, offset);
        assert_eq!(matches(p, &tok), expected, "{kind} at 7d {offset}");
    }
}

#[test]
fn missing_timestamps_fail_age_conditions_and_satisfy_expires_after() {
    let mut tok = Tok::new();
    tok.created = None;
    tok.last_updated = None;
    tok.expires_at = None;
    assert!(!matches(
        PolicyConfig {
            older_than: days(1),
            ..rule("r")
        },
        &tok
    ));
    assert!(!matches(
        PolicyConfig {
            idle_for: days(1),
            ..rule("r")
        },
        &tok
    ));
    assert!(matches(
        PolicyConfig {
            expires_after: days(365),
            ..rule("r")
        },
        &tok
    ));
}

#[test]
fn list_conditions_match_on_membership() {
    let tok = Tok::new();
    let many: Vec<String> = (0..20).map(|i| format!("0oa{i}")).collect();
    let cases: [(PolicyConfig, bool); 10] = [
        (
            PolicyConfig {
                scopes_any: strings(&["admin", "openid"]),
                ..rule("r")
            },
            true,
        ),
        (
            PolicyConfig {
                scopes_any: strings(&["admin"]),
                ..rule("r")
            },
            false,
        ),
        (
            PolicyConfig {
                scopes_all: strings(&["openid", "offline_access"]),
                ..rule("r")
            },
            true,
        ),
        (
            PolicyConfig {
                scopes_all: strings(&["openid", "admin"]),
                ..rule("r")
            },
            false,
        ),
        (
            PolicyConfig {
                clients: strings(&["0oa9", "0oa1"]),
                ..rule("r")
            },
            true,
        ),
        (
            PolicyConfig {
                clients: strings(&["0oa9"]),
                ..rule("r")
            },
            false,
        ),
        (
            PolicyConfig {
                clients: many.clone(),
                ..rule("r")
            },
            true,
        ),
        (
            PolicyConfig {
                users: many,
                ..rule("r")
            },
            false,
        ),
        (
            PolicyConfig {
                users: strings(&["00u1"]),
                ..rule("r")
            },
            true,
        ),
        (
            PolicyConfig {
                users: strings(&["00u1"]),
                older_than: days(2),
                ..rule("r")
            },
            false,
        ),
    ];
    for (i, (p, expected)) in cases.into_iter().enumerate() {
        assert_eq!(matches(p, &tok), expected, "case {i}");
    }
}

#[test]
fn all_matching_rules_are_recorded_in_config_order_with_a_reason() {
    let s = set(
        &[
            PolicyConfig {
                expires_after: days(1),
                action: Action::Flag,
                ..rule("flagged")
            },
            PolicyConfig {
                idle_for: days(365),
                ..rule("idle-365d")
            },
            PolicyConfig {
                older_than: Some(Duration::from_secs(3600)),
                scopes_any: strings(&["admin:write", "openid"]),
                ..rule("admin-1h")
            },
        ],
        &[],
    );
    let tok = Tok::new();
    let Decision::Revoke { rules } = decide(&s, &tok.facts(), now()) else {
        panic!("expected revoke");
    };
    let reason = explain(&s, &tok.facts(), now());
    assert_eq!(rules, ["flagged", "admin-1h"]);
    assert!(reason.starts_with("flagged: expires_after 1d (expires 2026-12-29T12:00:00Z, in 30d)"));
    assert!(reason.contains(
        " | admin-1h: older_than 1h (created 2026-11-28T12:00:00Z, 1d ago); scopes_any openid"
    ));
}

#[test]
fn flag_only_matches_are_flagged_and_never_revoked() {
    let rules = [
        PolicyConfig {
            users: strings(&["00u1"]),
            action: Action::Flag,
            ..rule("a")
        },
        PolicyConfig {
            users: strings(&["00u2"]),
            ..rule("b")
        },
        PolicyConfig {
            clients: strings(&["0oa1"]),
            action: Action::Flag,
            ..rule("c")
        },
    ];
    let s = set(&rules, &[]);
    assert_eq!(
        decide(&s, &Tok::new().facts(), now()),
        Decision::Flag {
            rules: vec!["a", "c"]
        }
    );
    // An exemption keeps a token from revocation; a flag asks for none, so it stays flagged.
    let exempt = ExemptionConfig {
        users: strings(&["00u1"]),
        ..Default::default()
    };
    let flag_a = set(&rules[..1], &[exempt]);
    let flagged = decide(&flag_a, &Tok::new().facts(), now());
    assert_eq!(flagged, Decision::Flag { rules: vec!["a"] });
}

#[test]
fn exemptions_by_user_client_or_token_win_over_rules() {
    let revoke_all = PolicyConfig {
        older_than: Some(Duration::from_secs(1)),
        ..rule("r")
    };
    let cases = [
        (
            ExemptionConfig {
                users: strings(&["00u1"]),
                ..Default::default()
            },
            "user 00u1",
        ),
        (
            ExemptionConfig {
                clients: strings(&["0oa1"]),
                ..Default::default()
            },
            "client 0oa1",
        ),
        (
            ExemptionConfig {
                tokens: strings(&["oar1"]),
                ..Default::default()
            },
            "token oar1",
        ),
        (
            ExemptionConfig {
                name: Some("break-glass".into()),
                users: strings(&["00u9"]),
                tokens: strings(&["oar1"]),
                ..Default::default()
            },
            "break-glass",
        ),
    ];
    for (e, expected) in cases {
        let s = set(std::slice::from_ref(&revoke_all), &[e]);
        assert_eq!(
            decide(&s, &Tok::new().facts(), now()),
            Decision::Exempt {
                rules: vec!["r"],
                exemption: expected.into()
            }
        );
    }
    let other = ExemptionConfig {
        users: strings(&["00u9"]),
        ..Default::default()
    };
    let s = set(&[revoke_all], &[other]);
    assert!(matches!(
        decide(&s, &Tok::new().facts(), now()),
        Decision::Revoke { .. }
    ));
}

#[test]
fn inactive_tokens_and_unmatched_tokens_are_kept() {
    let s = set(
        &[PolicyConfig {
            users: strings(&["00u1"]),
            ..rule("r")
        }],
        &[ExemptionConfig {
            users: strings(&["00u2"]),
            ..Default::default()
        }],
    );
    let mut tok = Tok::new();
    tok.active = false;
    assert_eq!(decide(&s, &tok.facts(), now()), Decision::Keep);
    tok.active = true;
    tok.user_id = "00u2";
    assert_eq!(decide(&s, &tok.facts(), now()), Decision::Keep);
    assert_eq!(
        decide(&PolicySet::default(), &Tok::new().facts(), now()),
        Decision::Keep
    );
}

#[test]
fn rule_names_are_listed_in_config_order() {
    let s = set(
        &[
            PolicyConfig {
                users: strings(&["u"]),
                ..rule("b")
            },
            PolicyConfig {
                users: strings(&["u"]),
                ..rule("a")
            },
        ],
        &[],
    );
    assert_eq!(s.rule_names().collect::<Vec<_>>(), ["b", "a"]);
    assert!(!s.is_empty());
    assert!(PolicySet::default().is_empty());
}
