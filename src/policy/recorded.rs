//! The rules as a sweep records them in the database (`policy_sets.rules`): one JSON object per
//! `[[policies]]` entry, in config order, each condition as configured (durations in whole
//! seconds, lists as given, unset conditions `null` or empty), so SQL can tell which rules a
//! token's `policy_matches` name and what each of them asks.

use serde_json::{Value, json};

use crate::config::{Action, PolicyConfig};

/// The JSON array of `policies` as recorded: names trimmed as the rules are compiled.
pub(super) fn rules_json(policies: &[PolicyConfig]) -> String {
    let secs = |d: Option<std::time::Duration>| d.map(|d| d.as_secs());
    let rules: Vec<Value> = policies
        .iter()
        .map(|p| {
            json!({
                "name": p.name.trim(),
                "action": match p.action {
                    Action::Revoke => "revoke",
                    Action::Flag => "flag",
                },
                "older_than_seconds": secs(p.older_than),
                "idle_for_seconds": secs(p.idle_for),
                "expires_after_seconds": secs(p.expires_after),
                "scopes_any": p.scopes_any,
                "scopes_all": p.scopes_all,
                "clients": p.clients,
                "users": p.users,
            })
        })
        .collect();
    Value::Array(rules).to_string()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn each_rule_is_recorded_in_config_order_with_its_conditions_as_configured() {
        let policies = [
            PolicyConfig {
                name: " old-admin ".into(),
                older_than: Some(Duration::from_secs(180 * 86_400)),
                scopes_any: vec!["admin:write".into()],
                ..PolicyConfig::default()
            },
            PolicyConfig {
                name: "idle".into(),
                idle_for: Some(Duration::from_secs(30 * 86_400 + 1)),
                clients: vec!["0oa2".into(), "0oa1".into()],
                action: Action::Flag,
                ..PolicyConfig::default()
            },
        ];
        let recorded: Value = serde_json::from_str(&rules_json(&policies)).unwrap();
        assert_eq!(
            recorded,
            json!([
                {"name": "old-admin", "action": "revoke", "older_than_seconds": 15_552_000,
                 "idle_for_seconds": null, "expires_after_seconds": null,
                 "scopes_any": ["admin:write"], "scopes_all": [], "clients": [], "users": []},
                {"name": "idle", "action": "flag", "older_than_seconds": null,
                 "idle_for_seconds": 2_592_001, "expires_after_seconds": null,
                 "scopes_any": [], "scopes_all": [], "clients": ["0oa2", "0oa1"], "users": []},
            ])
        );
        assert_eq!(rules_json(&[]), "[]");
    }
}
