//! How long a decision holds: the first instant at which a token's decision could change
//! with time alone. Every time condition of a rule flips once (`older_than` and `idle_for`
//! from false to true, `expires_after` from true to false), so between flips every decision
//! stands as it is.

use chrono::{DateTime, Utc};

use super::{PolicySet, TokenFacts};

/// The earliest instant at or after `now` at which some time condition of some rule flips
/// for `token`, whatever the rule's other conditions say; `None` when none ever will (an
/// inactive token is kept whatever the time). The decision taken at `now` stands for every
/// instant from `now` up to (not including) the one returned.
pub fn stable_until(
    set: &PolicySet,
    token: &TokenFacts<'_>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    if !token.active {
        return None;
    }
    let mut first: Option<DateTime<Utc>> = None;
    let mut flip = |at: Option<DateTime<Utc>>| {
        // An instant past the calendar's end never comes; one before `now` has passed.
        if let Some(at) = at.filter(|&at| at >= now) {
            first = Some(first.map_or(at, |f| f.min(at)));
        }
    };
    for rule in &set.rules {
        if let (Some((d, _)), Some(c)) = (rule.older_than, token.created) {
            flip(c.checked_add_signed(d));
        }
        if let (Some((d, _)), Some(u)) = (rule.idle_for, token.last_updated) {
            flip(u.checked_add_signed(d));
        }
        if let (Some((d, _)), Some(e)) = (rule.expires_after, token.expires_at) {
            flip(e.checked_sub_signed(d));
        }
    }
    first
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
        // Created day 0 (old on day 90), updated day 10 (idle on day 40), expires day 500
        // (`expires_after 365d` false from day 135).
        let t = facts(0, 10, Some(500));
        assert_eq!(stable_until(&set, &t, at(20)), Some(at(40)));
        assert_eq!(stable_until(&set, &t, at(40)), Some(at(40)));
        assert_eq!(stable_until(&set, &t, at(41)), Some(at(90)));
        assert_eq!(stable_until(&set, &t, at(91)), Some(at(135)));
        assert_eq!(stable_until(&set, &t, at(136)), None);
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
