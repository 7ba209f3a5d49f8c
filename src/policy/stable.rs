//! How long a decision holds: the first instant at which a token's decision changes with
//! time alone. A decision is the set of rules that match (with the exemption, which time does
//! not move), so it changes exactly when one rule starts or stops matching. Each time
//! condition flips once (`older_than` and `idle_for` from false to true, `expires_after` from
//! true to false), so a rule whose other conditions hold matches over one span of time, and
//! one whose other conditions fail never does: its flips change nothing.

use chrono::{DateTime, Utc};

use super::compile::{Rule, idle_for, older_than};
use super::{PolicySet, TokenFacts};

/// The earliest instant at or after `now` at which some rule starts or stops matching
/// `token`; `None` when none ever will (an inactive token is kept whatever the time). The
/// decision taken at `now` stands for every instant from `now` up to (not including) the
/// one returned, and changes at it (`idle_for`, `expires_after`) or just after it
/// (`older_than`, which holds once strictly more than its duration has passed).
pub fn stable_until(
    set: &PolicySet,
    token: &TokenFacts<'_>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    if !token.active {
        return None;
    }
    (set.rules.iter())
        .filter_map(|rule| next_change(rule, token, now))
        .min()
}

/// When `rule` next starts or stops matching `t`, as of `now` (`older_than` starts to hold
/// just after the instant returned, the others at it).
fn next_change(rule: &Rule, t: &TokenFacts<'_>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if !rule.holds_but_for_time(t) {
        return None;
    }
    // The latest instant at which a condition that turns true does so, and whether all of
    // them hold already. One that never holds (no date to judge, or an instant past the
    // calendar's end) keeps the rule from ever matching.
    let (mut rising, mut risen) = (None::<DateTime<Utc>>, true);
    if let Some((d, _)) = rule.older_than {
        let at = t.created?.checked_add_signed(d)?;
        rising = Some(rising.map_or(at, |r| r.max(at)));
        risen &= older_than(t, now, d);
    }
    if let Some((d, _)) = rule.idle_for {
        let at = t.last_updated?.checked_add_signed(d)?;
        rising = Some(rising.map_or(at, |r| r.max(at)));
        risen &= idle_for(t, now, d);
    }
    // The instant `expires_after` turns false (before the calendar's start: false already);
    // it holds for ever without an expiry.
    let falling = match (rule.expires_after, t.expires_at) {
        (Some((d, _)), Some(e)) => {
            Some(e.checked_sub_signed(d).unwrap_or(DateTime::<Utc>::MIN_UTC))
        }
        _ => None,
    };
    if falling.is_some_and(|f| f <= now) {
        return None;
    }
    if risen {
        // It matches now, until it expires.
        return falling;
    }
    // It starts to match once every rising condition holds, if that comes before it expires.
    let rising = rising?;
    match falling {
        Some(f) if rising >= f => None,
        _ => Some(rising),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::TimeZone;

    use super::*;
    use crate::config::PolicyConfig;
    use crate::policy::decide;

    const DAY: i64 = 86_400;

    fn at(days: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + days * DAY, 0).unwrap()
    }

    fn set() -> PolicySet {
        let policies = vec![
            PolicyConfig {
                name: "old".into(),
                older_than: Some(Duration::from_secs(90 * DAY as u64)),
                ..PolicyConfig::default()
            },
            PolicyConfig {
                name: "idle".into(),
                idle_for: Some(Duration::from_secs(30 * DAY as u64)),
                ..PolicyConfig::default()
            },
            PolicyConfig {
                name: "long".into(),
                expires_after: Some(Duration::from_secs(365 * DAY as u64)),
                scopes_any: vec!["x".into()],
                ..PolicyConfig::default()
            },
        ];
        PolicySet::from_config(&policies, &[]).unwrap()
    }

    fn facts(created: i64, updated: i64, expires: Option<i64>) -> TokenFacts<'static> {
        static SCOPES: [String; 0] = [];
        TokenFacts {
            token_id: "oar1",
            user_id: "00u1",
            client_id: "0oa1",
            active: true,
            scopes: &SCOPES,
            created: Some(at(created)),
            last_updated: Some(at(updated)),
            expires_at: expires.map(at),
        }
    }

    #[test]
    fn the_first_flip_to_come_bounds_the_decision() {
        let set = set();
        // Created day 0 (old after day 90), updated day 10 (idle from day 40), expires day
        // 500; without scope `x`, `long` never matches, and its `expires_after 365d` turning
        // false on day 135 changes nothing.
        let t = facts(0, 10, Some(500));
        assert_eq!(stable_until(&set, &t, at(20)), Some(at(40)));
        assert_eq!(stable_until(&set, &t, at(39)), Some(at(40)));
        assert_eq!(stable_until(&set, &t, at(40)), Some(at(90)));
        assert_eq!(stable_until(&set, &t, at(90)), Some(at(90)));
        assert_eq!(stable_until(&set, &t, at(91)), None);
        // With it, `long` matches until day 135.
        let x = ["x".to_owned()];
        let t = TokenFacts { scopes: &x, ..t };
        assert_eq!(stable_until(&set, &t, at(91)), Some(at(135)));
        assert_eq!(stable_until(&set, &t, at(135)), None);
    }

    #[test]
    fn a_rule_whose_time_conditions_never_hold_at_once_bounds_nothing() {
        // `window` (idle 10d, expires after 20d): idle from day 10, but `expires_after` false
        // from day 5. `idle` (30d) bounds the decision.
        let t = facts(0, 0, Some(25));
        assert_eq!(stable_until(&mixed(), &t, at(1)), Some(at(30)));
        // Expiring on day 35, `window` matches from day 10 to day 15.
        let t = facts(0, 0, Some(35));
        assert_eq!(stable_until(&mixed(), &t, at(1)), Some(at(10)));
        assert_eq!(stable_until(&mixed(), &t, at(10)), Some(at(15)));
    }

    #[test]
    fn the_decision_stands_until_the_instant_returned() {
        let set = set();
        let t = facts(0, 10, Some(500));
        let mut now = at(0);
        while now < at(200) {
            let until = stable_until(&set, &t, now).unwrap_or(at(10_000));
            let decided = decide(&set, &t, now);
            let before = until - chrono::TimeDelta::nanoseconds(1);
            assert_eq!(decide(&set, &t, before), decided, "at {now}, until {until}");
            now += chrono::TimeDelta::hours(7);
        }
    }

    /// Rules whose time conditions combine with each other and with conditions time does
    /// not move, as a real configuration's do; a `flag` rule of one user, and an exemption.
    fn mixed() -> PolicySet {
        let days = |n: u64| Some(Duration::from_secs(n * DAY as u64));
        let rule = |name: &str| PolicyConfig {
            name: name.into(),
            ..PolicyConfig::default()
        };
        let policies = vec![
            PolicyConfig {
                older_than: days(90),
                ..rule("old")
            },
            PolicyConfig {
                idle_for: days(30),
                ..rule("idle")
            },
            PolicyConfig {
                expires_after: days(365),
                scopes_any: vec!["x".into()],
                ..rule("long")
            },
            PolicyConfig {
                older_than: days(7),
                idle_for: days(14),
                scopes_all: vec!["admin".into()],
                ..rule("stale-admin")
            },
            PolicyConfig {
                idle_for: days(10),
                expires_after: days(20),
                ..rule("window")
            },
            PolicyConfig {
                older_than: days(1),
                clients: vec!["0oa2".into()],
                ..rule("client")
            },
            PolicyConfig {
                idle_for: days(60),
                users: vec!["00u2".into()],
                action: crate::config::Action::Flag,
                ..rule("user-flag")
            },
        ];
        let exemptions = vec![crate::config::ExemptionConfig {
            clients: vec!["0oa3".into()],
            ..Default::default()
        }];
        PolicySet::from_config(&policies, &exemptions).unwrap()
    }

    /// The instants at which one of [`mixed`]'s time conditions flips for `t`.
    fn thresholds(t: &TokenFacts<'_>) -> Vec<DateTime<Utc>> {
        let days = chrono::TimeDelta::days;
        let after = |from: Option<DateTime<Utc>>, n: &[i64]| -> Vec<DateTime<Utc>> {
            n.iter()
                .filter_map(|&n| from.map(|f| f + days(n)))
                .collect()
        };
        let mut out = after(t.created, &[1, 7, 90]);
        out.extend(after(t.last_updated, &[10, 14, 30, 60]));
        out.extend(after(t.expires_at, &[-20, -365]));
        out
    }

    /// For tokens and instants drawn at random (a fifth of the instants on a threshold of
    /// the token's, some dates missing): the decision stands up to the instant returned, and
    /// changes right after it; where none is returned, it never changes (a rule whose other
    /// conditions keep it from ever matching, or whose time conditions can no longer all hold,
    /// bounds nothing).
    #[test]
    fn the_instant_returned_is_the_first_at_which_the_decision_changes() {
        use rand::{Rng, SeedableRng};
        let set = mixed();
        let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
        let hours = |rng: &mut rand::rngs::SmallRng, lo: i64, hi: i64| {
            at(0) + chrono::TimeDelta::hours(rng.random_range(lo * 24..hi * 24))
        };
        let scopes_of = [vec![], vec!["x".to_owned()], vec!["admin".to_owned()]];
        let (users, clients) = (["00u1", "00u2"], ["0oa1", "0oa2", "0oa3"]);
        let (mut bounded, mut unbounded, mut on_threshold) = (0, 0, 0);
        for _ in 0..20_000 {
            let created = hours(&mut rng, 0, 400);
            let t = TokenFacts {
                user_id: users[rng.random_range(0..2)],
                client_id: clients[rng.random_range(0..3)],
                active: rng.random_bool(0.95),
                scopes: &scopes_of[rng.random_range(0..3)],
                created: rng.random_bool(0.95).then_some(created),
                last_updated: (rng.random_bool(0.95))
                    .then(|| created + (hours(&mut rng, 0, 200) - at(0))),
                expires_at: rng.random_bool(0.7).then(|| hours(&mut rng, 0, 900)),
                ..facts(0, 0, None)
            };
            // Some expire about when `window` (idle 10 days, expiring after 20) could begin
            // to match: its span is then short or empty.
            let near = t.last_updated.filter(|_| rng.random_bool(0.2));
            let t = TokenFacts {
                expires_at: (near.map(|u| u + (hours(&mut rng, 29, 32) - at(0)))).or(t.expires_at),
                ..t
            };
            let flips = thresholds(&t);
            let now = if !flips.is_empty() && rng.random_bool(0.2) {
                on_threshold += 1;
                flips[rng.random_range(0..flips.len())]
            } else {
                hours(&mut rng, 0, 1_000)
            };
            let decided = decide(&set, &t, now);
            let Some(until) = stable_until(&set, &t, now) else {
                unbounded += 1;
                for _ in 0..4 {
                    let later = now + (hours(&mut rng, 0, 3_000) - at(0));
                    assert_eq!(decide(&set, &t, later), decided, "{t:?} at {later}");
                }
                continue;
            };
            bounded += 1;
            let ns = chrono::TimeDelta::nanoseconds(1);
            assert!(until >= now, "{t:?} at {now}: {until}");
            if until > now {
                for _ in 0..4 {
                    let within = now + (until - now) * rng.random_range(0..1_000) / 1_000;
                    assert_eq!(decide(&set, &t, within), decided, "{t:?} at {within}");
                }
                assert_eq!(decide(&set, &t, until - ns), decided, "{t:?} at {now}");
            }
            assert_ne!(
                decide(&set, &t, until + ns),
                decided,
                "{t:?} at {now}: {until}"
            );
        }
        assert!(
            bounded > 1_000 && unbounded > 1_000,
            "{bounded} {unbounded}"
        );
        assert!(on_threshold > 1_000, "{on_threshold}");
    }

    #[test]
    fn an_inactive_token_or_a_rule_without_time_never_changes() {
        let set = set();
        let mut t = facts(0, 10, None);
        t.active = false;
        assert_eq!(stable_until(&set, &t, at(1)), None);
        let only_ids = vec![PolicyConfig {
            name: "c".into(),
            clients: vec!["0oa1".into()],
            ..PolicyConfig::default()
        }];
        let set = PolicySet::from_config(&only_ids, &[]).unwrap();
        assert_eq!(stable_until(&set, &facts(0, 10, Some(20)), at(1)), None);
    }

    #[test]
    fn the_fingerprint_follows_the_configuration() {
        let a = set();
        assert_eq!(a.fingerprint(), set().fingerprint());
        let other = vec![PolicyConfig {
            name: "old".into(),
            older_than: Some(Duration::from_secs(91 * DAY as u64)),
            ..PolicyConfig::default()
        }];
        let b = PolicySet::from_config(&other, &[]).unwrap();
        assert_ne!(a.fingerprint(), b.fingerprint());
    }
}
