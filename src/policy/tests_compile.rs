//! Policy and exemption configurations refused, each naming its key.

use super::*;
use crate::policy::tests::{rule, strings};

#[test]
fn invalid_rules_are_refused_naming_the_key() {
    let cases: [(Vec<PolicyConfig>, Vec<ExemptionConfig>, &str); 8] = [
        (
            vec![PolicyConfig {
                users: strings(&["u"]),
                ..rule("")
            }],
            vec![],
            "policies[0].name",
        ),
        (
            vec![
                PolicyConfig {
                    users: strings(&["u"]),
                    ..rule("a")
                },
                PolicyConfig {
                    users: strings(&["u"]),
                    ..rule("a")
                },
            ],
            vec![],
            "policies[1].name: duplicate",
        ),
        (
            vec![rule("everything")],
            vec![],
            "policies[0]: policy `everything` sets no condition",
        ),
        (
            vec![PolicyConfig {
                scopes_any: strings(&["a", " "]),
                ..rule("a")
            }],
            vec![],
            "policies[0].scopes_any[1]",
        ),
        // An id no token can carry would match nothing, silently.
        (
            vec![PolicyConfig {
                clients: strings(&["0oa3legacyreports00 "]),
                ..rule("retired-app")
            }],
            vec![],
            "policies[0].clients[0]",
        ),
        (
            vec![PolicyConfig {
                users: strings(&["00u1", "alice@example.com"]),
                ..rule("a")
            }],
            vec![],
            "policies[0].users[1]",
        ),
        (
            vec![],
            vec![ExemptionConfig::default()],
            "exemptions[0]: exempts nothing",
        ),
        (
            vec![],
            vec![ExemptionConfig {
                name: Some(String::new()),
                ..Default::default()
            }],
            "exemptions[0].name",
        ),
    ];
    for (p, e, expected) in cases {
        let err = PolicySet::from_config(&p, &e).unwrap_err().to_string();
        assert!(err.starts_with(expected), "{err}");
    }
}
