//! The example config, targets, policies and the effective-config view.

use super::*;

#[test]
fn the_example_config_loads_and_validates() {
    jail(|jail| {
        jail.create_file("token", &format!("{TOKEN}\n"))?;
        jail.set_env("REVOKD_OKTA__API_TOKEN_FILE", "token");
        // The example leaves the org unset: it refuses to start until one is named.
        let unset = load_toml(jail, EXAMPLE).unwrap_err().to_string();
        assert!(unset.contains("okta.org_url"), "{unset}");
        jail.set_env("REVOKD_OKTA__ORG_URL", "https://your-org.okta.com");
        let c = load_toml(jail, EXAMPLE).unwrap();
        assert_eq!(c.okta.api_token.as_ref().unwrap().expose_secret(), TOKEN);
        let names: Vec<_> = c.policies.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "admin-scopes-7d",
                "idle-30d",
                "retired-app",
                "never-expires"
            ]
        );
        assert_eq!(c.target_pairs().len(), 5);
        Ok(())
    });
}

#[test]
fn the_example_shows_every_default() {
    jail(|jail| {
        jail.create_file("token", TOKEN)?;
        jail.set_env("REVOKD_OKTA__API_TOKEN_FILE", "token");
        jail.set_env("REVOKD_OKTA__ORG_URL", "https://example.okta.com");
        let example = load_toml(jail, EXAMPLE).unwrap();
        let defaults = load_toml(jail, "[okta]\norg_url = \"https://example.okta.com\"").unwrap();
        let strip = |c: &Config| {
            let text = effective_toml(c);
            let end = text.find("\n[[").unwrap_or(text.len());
            text[..end]
                .lines()
                .filter(|l| !l.contains("api_token"))
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert_eq!(strip(&example), strip(&defaults));
        Ok(())
    });
}

#[test]
fn the_effective_config_reads_back_to_the_same_config() {
    jail(|jail| {
        jail.create_file("token", TOKEN)?;
        jail.set_env("REVOKD_OKTA__API_TOKEN_FILE", "token");
        jail.set_env("REVOKD_OKTA__ORG_URL", "https://your-org.okta.com");
        let c = load_toml(jail, EXAMPLE).unwrap();
        let text = effective_toml(&c);
        assert!(text.contains("\napi_token_file = \"token\"\n"), "{text}");
        assert!(!text.contains("\napi_token ="), "{text}");
        assert!(text.contains("# requests_per_minute is unset\n"), "{text}");
        jail.clear_env();
        let back = load_toml(jail, &text).unwrap();
        assert_eq!(effective_toml(&back), text);
        assert_eq!(format!("{back:?}"), format!("{c:?}"));
        Ok(())
    });
}

/// A configuration in which every key differs from its default.
const EVERY_KEY: &str = r#"
mode = "enforce"
[okta]
org_url = "https://acme.okta.com"
auth = "oauth"
client_id = "0oaSERVICE"
private_key_file = "key.pem"
key_id = "kid-1"
scopes = ["okta.users.read", "okta.users.manage", "okta.logs.read"]
dpop = true
page_size = 150
concurrency = 5
timeout = "20s"
max_retries = 3
min_backoff = "250ms"
max_backoff = "45s"
[okta.rate_limit]
max_share = 0.25
requests_per_minute = 300
[database]
url = "sqlite:///var/lib/revokd/other.db"
snapshot_retention = "200d"
busy_timeout = "5s"
max_size = "1GiB"
[schedule]
sweep = "0 */15 * * * *"
prune = "0 0 4 * * *"
report = "0 0 6 * * 1"
sweep_on_start = true
[safety]
max_revocations_per_sweep = 40
max_revocation_fraction = 0.2
[server]
listen = "127.0.0.1:9999"
hook_secret_file = "hook"
hook_secret_previous_file = "hook-old"
shutdown_timeout = "10s"
[revocation]
max_attempts = 3
[offboarding]
event_types = ["user.lifecycle.deactivate"]
system_log = true
poll_interval = "2m"
lookback = "6h"
max_attempts = 9
[reports]
dir = "/var/lib/revokd/reports"
[[targets]]
user = "00uA"
client = "0oaA"
[[targets]]
users = ["00uB", "00uC"]
clients = ["0oaB"]
[[policies]]
name = "old-admin"
action = "flag"
older_than = "90d"
idle_for = "30d"
expires_after = "365d"
scopes_any = ["admin:write"]
scopes_all = ["openid"]
clients = ["0oaA"]
users = ["00uA"]
[[exemptions]]
name = "break-glass"
users = ["00uZ"]
clients = ["0oaZ"]
tokens = ["oar123"]
"#;

#[test]
fn every_key_set_survives_a_round_trip_through_the_effective_config() {
    jail(|jail| {
        jail.create_file("hook", "hook-secret-value")?;
        jail.create_file("hook-old", "hook-old-secret-value")?;
        let c = load_toml(jail, EVERY_KEY).unwrap();
        let text = effective_toml(&c);
        assert!(!text.contains("hook-secret-value"), "{text}");
        assert!(!text.contains("hook-old-secret-value"), "{text}");
        for line in [
            "poll_interval = \"2m\"",
            "lookback = \"6h\"",
            "max_attempts = 9",
            "hook_secret_file = \"hook\"",
            "hook_secret_previous_file = \"hook-old\"",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
        let back = load_toml(jail, &text).unwrap();
        assert_eq!(format!("{back:?}"), format!("{c:?}"));
        assert_eq!(effective_toml(&back), text);
        Ok(())
    });
}

#[test]
fn target_pairs_expand_cross_products_without_duplicates_in_config_order() {
    let t =
        |user: Option<&str>, client: Option<&str>, users: &[&str], clients: &[&str]| TargetConfig {
            user: user.map(Into::into),
            client: client.map(Into::into),
            users: users.iter().map(|s| (*s).into()).collect(),
            clients: clients.iter().map(|s| (*s).into()).collect(),
            ..TargetConfig::default()
        };
    let c = Config {
        targets: vec![
            t(Some("u2"), Some("c1"), &[], &[]),
            t(None, None, &["u1", "u2"], &["c1", "c2"]),
            t(Some("u1"), Some("c2"), &[], &[]),
        ],
        ..Config::default()
    };
    let pairs = c.target_pairs();
    let pairs: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(u, c)| (u.as_str(), c.as_str()))
        .collect();
    assert_eq!(
        pairs,
        [("u2", "c1"), ("u1", "c1"), ("u1", "c2"), ("u2", "c2")]
    );
}

#[test]
fn malformed_targets_are_refused_naming_the_key() {
    let cases: &[(&str, &str)] = &[
        ("[[targets]]\nclient = \"0oa1\"", "targets[0].user: missing"),
        (
            "[[targets]]\nclients = [\"0oa1\"]",
            "targets[0].users: empty",
        ),
        (
            "[[targets]]\napp = \"0oa1\"\nuser = \"00u1\"",
            "targets[0]: set app (or apps) alone",
        ),
        (
            "[[targets]]\napps = [\"0oa1\", \"../x\"]",
            "targets[0].apps[1]: invalid client id `../x`",
        ),
        (
            "[[targets]]\nusers = [\"00u1\", \"a b\"]",
            "targets[0].users[1]: invalid user id `a b`",
        ),
        ("[[targets]]", "targets[0].users: empty"),
        (
            "[[targets]]\nuser = \"a\"\nclient = \"b\"\nusers = [\"c\"]\nclients = [\"d\"]",
            "targets[0]: set either user + client, or users + clients, not both",
        ),
        (
            "[[targets]]\nuser = \"a\"\nclient = \"b\"\n[[targets]]\nusers = [\"a\", \"b/../x\"]\nclients = [\"c\"]",
            "targets[1].users[1]: invalid user id `b/../x`",
        ),
        (
            "[[targets]]\nuser = \"\"\nclient = \"b\"",
            "targets[0].user: ",
        ),
        // The id rules are the Okta client's: user ids are letters and digits only.
        (
            "[[targets]]\nuser = \"john.doe\"\nclient = \"0oa1\"",
            "targets[0].user: invalid user id `john.doe`",
        ),
        (
            "[[targets]]\nusers = [\"00u1\", \"a_b\"]",
            "targets[0].users[1]: invalid user id `a_b`",
        ),
        (
            "[[targets]]\nuser = \"00u1\"\nclient = \"..\"",
            "targets[0].client: invalid client id `..`",
        ),
        (
            "[[targets]]\nuser = \"a\"\nclient = \"b\"\nbogus = 1",
            "targets[0].bogus: unknown key",
        ),
    ];
    for (toml, expected) in cases {
        let err = error_of(toml, &[]);
        assert!(err.starts_with(expected), "{toml}\n=> {err}");
    }
    jail(|jail| {
        let dotted = "[[targets]]\nusers = [\"00u1\"]\nclients = [\"my-app.prod_1\"]\n\
                      [[targets]]\napp = \"my-app.prod_1\"\n";
        load_toml(jail, &format!("{}{dotted}", minimal())).unwrap();
        Ok(())
    });
}

/// The error loading `extra` then compiling its policies gives, as every command does.
fn policy_error_of(extra: &str) -> String {
    let mut text = String::new();
    jail(|jail| {
        text = match load_toml(jail, &format!("{extra}\n{}", minimal())) {
            Ok(c) => revokd::policy::PolicySet::from_config(&c.policies, &c.exemptions)
                .map(drop)
                .expect_err("the policies are refused"),
            Err(e) => e,
        }
        .to_string();
        Ok(())
    });
    text
}

#[test]
fn policy_and_exemption_errors_name_their_entry() {
    let cases: &[(&str, &str)] = &[
        (
            "[[policies]]\nname = \"a\"\nidle_for = \"30d\"\n[[policies]]\nname = \"a\"\nidle_for = \"1d\"",
            "policies[1].name: duplicate policy name `a`",
        ),
        (
            "[[policies]]\nname = \"all\"",
            "policies[0]: policy `all` sets no condition",
        ),
        (
            "[[policies]]\nname = \"old,admin\"\nidle_for = \"1d\"",
            "policies[0].name: `old,admin` contains a comma",
        ),
        (
            "[[policies]]\nname = \"x\"\nolder_than = \"0s\"",
            "policies[0].older_than: `0s` must be",
        ),
        (
            "[[policies]]\nname = \"x\"\nidle_for = \"1d\"\naction = \"nuke\"",
            "policies[0].action: unknown value `nuke`; expected one of: revoke, flag",
        ),
        (
            "[[exemptions]]\nname = \"nobody\"",
            "exemptions[0]: exempts nothing",
        ),
        // An id that no token can carry would exempt nothing, silently.
        (
            "[[exemptions]]\nusers = [\"00u1 \"]",
            "exemptions[0].users[0]: invalid user id `00u1 `",
        ),
        (
            "[[exemptions]]\nusers = [\"00u1\"]\n[[exemptions]]\nclients = [\"0oa1\", \" 0oa2\"]",
            "exemptions[1].clients[1]: invalid client id ` 0oa2`",
        ),
        (
            "[[exemptions]]\ntokens = [\"oar1\", \"oar.2\"]",
            "exemptions[0].tokens[1]: invalid token id `oar.2`",
        ),
    ];
    for (toml, expected) in cases {
        let err = policy_error_of(toml);
        assert!(err.starts_with(expected), "{toml}\n=> {err}");
    }
}

#[test]
fn an_app_target_under_oauth_needs_okta_apps_read_and_the_error_names_the_target() {
    jail(|jail| {
        let oauth = "[okta]\norg_url = \"https://example.okta.com\"\nauth = \"oauth\"\n\
                     client_id = \"0oa1\"\nprivate_key_file = \"key.pem\"\n\
                     scopes = [\"okta.users.read\", \"okta.users.manage\"]\n";
        let pair = "[[targets]]\nuser = \"00u1\"\nclient = \"0oa2\"\n";
        load_toml(jail, &format!("{oauth}{pair}")).unwrap();
        let app = "[[targets]]\napp = \"0oa9\"\n";
        let err = load_toml(jail, &format!("{oauth}{pair}{app}"))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("okta.scopes: ")
                && err.contains("okta.apps.read")
                && err.contains("targets[1].app (`0oa9`)"),
            "{err}"
        );
        let granted = oauth.replace(
            "\"okta.users.manage\"]",
            "\"okta.users.manage\", \"okta.apps.read\"]",
        );
        let c = load_toml(jail, &format!("{granted}{pair}{app}")).unwrap();
        assert_eq!(c.target_apps(), ["0oa9"]);
        Ok(())
    });
}

#[test]
fn apps_and_whole_users_are_collected_once_in_config_order() {
    let c = Config {
        targets: vec![
            TargetConfig {
                apps: vec!["0oaB".into(), "0oaA".into()],
                ..TargetConfig::default()
            },
            TargetConfig {
                app: Some("0oaB".into()),
                ..TargetConfig::default()
            },
            TargetConfig {
                user: Some("00u2".into()),
                users: vec!["00u1".into(), "00u2".into()],
                ..TargetConfig::default()
            },
            TargetConfig {
                user: Some("00u3".into()),
                client: Some("0oaC".into()),
                ..TargetConfig::default()
            },
        ],
        ..Config::default()
    };
    assert_eq!(c.target_apps(), ["0oaB", "0oaA"]);
    assert_eq!(c.target_users(), ["00u2", "00u1"]);
    assert_eq!(c.target_pairs(), [("00u3".to_owned(), "0oaC".to_owned())]);
}
