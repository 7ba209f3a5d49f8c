//! `[[notify]]`: defaults, the secret from its file, errors naming `notify[i].key`, and no
//! secret (nor a Slack webhook path) in `Debug` or the effective config.

use super::*;
use revokd::config::{EventKind, Format};

const HOOK: &str = "https://hooks.slack.com/services/T000/B000/XXXXsecretpath";

fn receiver(extra: &str) -> String {
    format!("[[notify]]\nname = \"ops\"\nurl = \"{HOOK}\"\n{extra}\n")
}

#[test]
fn a_receiver_defaults_to_json_and_every_event_and_reads_its_secret_file() {
    jail(|jail| {
        jail.create_file("hook-secret", "webhook-secret-value\n")?;
        let text = format!("{}{}", minimal(), receiver("secret_file = \"hook-secret\""));
        let c = load_toml(jail, &text).unwrap();
        let n = &c.notify[0];
        assert_eq!((n.name.as_str(), n.format), ("ops", Format::Json));
        assert!(EventKind::ALL.iter().all(|k| n.wants(*k)));
        assert_eq!(
            n.secret.as_ref().unwrap().expose_secret(),
            "webhook-secret-value"
        );
        assert_eq!(n.timeout, Duration::from_secs(10));
        assert_eq!(n.max_attempts, 20);

        let debug = format!("{c:?}");
        let effective = effective_toml(&c);
        for shown in [&debug, &effective] {
            assert!(!shown.contains("webhook-secret-value"), "{shown}");
            assert!(!shown.contains("XXXXsecretpath"), "{shown}");
            assert!(shown.contains("https://hooks.slack.com"), "{shown}");
        }
        // An inline secret is printed as a comment only: give the API token again.
        let effective = effective.replacen("[okta]\n", "[okta]\napi_token = \"t\"\n", 1);
        // So is the webhook's URL: fed back as it is, the output fails naming the key, and
        // never loads with a URL that notifies elsewhere.
        let err = load_toml(jail, &effective).unwrap_err().to_string();
        assert!(err.starts_with("notify[0].url: missing"), "{err}");
        let given = format!("[[notify]]\nurl = \"{HOOK}\"\n");
        let effective = effective.replacen("[[notify]]\n", &given, 1);
        let again = load_toml(jail, &effective).unwrap();
        assert_eq!(again.notify[0].url.as_str(), HOOK);
        assert_eq!(again.notify[0].events.as_ref().unwrap().len(), 6);
        assert_eq!(
            again.notify[0].secret.as_ref().unwrap().expose_secret(),
            "webhook-secret-value"
        );
        Ok(())
    });
}

#[test]
fn a_receiver_can_pick_its_events_and_the_slack_format() {
    jail(|jail| {
        let text = format!(
            "{}{}",
            minimal(),
            receiver("format = \"slack\"\nevents = [\"irrevocable\", \"audit_broken\"]")
        );
        let c = load_toml(jail, &text).unwrap();
        let n = &c.notify[0];
        assert_eq!(n.format, Format::Slack);
        assert!(n.wants(EventKind::Irrevocable) && n.wants(EventKind::AuditBroken));
        assert!(!n.wants(EventKind::GuardTripped));
        Ok(())
    });
}

#[test]
fn bad_receivers_are_refused_naming_the_key() {
    let cases: [(String, &str); 11] = [
        (
            receiver("format = \"teams\""),
            "notify[0].format: unknown value `teams`",
        ),
        (
            receiver("events = [\"oops\"]"),
            "notify[0].events[0]: unknown value `oops`",
        ),
        (receiver("events = []"), "notify[0].events: is empty"),
        (
            receiver("secret = \"inline\""),
            "notify[0].secret: unknown key",
        ),
        (
            receiver("max_attempts = 0"),
            "notify[0].max_attempts: must be at least 1",
        ),
        (
            receiver("timeout = \"1h\""),
            "notify[0].timeout: must be at most 5m",
        ),
        (
            receiver("min_backoff = \"2h\""),
            "notify[0].min_backoff: must not exceed notify[0].max_backoff",
        ),
        (
            "[[notify]]\nname = \"ops\"\nurl = \"http://hooks.example.com/x\"\n".into(),
            "notify[0].url: must use https (http only for loopback hosts)",
        ),
        (
            "[[notify]]\nname = \"ops\"\nurl = \"https://user:pw@hooks.example.com/x\"\n".into(),
            "notify[0].url: must not contain credentials",
        ),
        (
            "[[notify]]\nname = \"ops\"\n".into(),
            "notify[0].url: missing: set url, or url_file",
        ),
        (
            format!("{}{}", receiver(""), receiver("")),
            "notify[1].name: `ops` names another receiver too",
        ),
    ];
    for (extra, expected) in cases {
        let err = error_of(&extra, &[]);
        assert!(err.starts_with(expected), "{extra}\n→ {err}");
    }
    let err = error_of(&receiver("secret_file = \"missing\""), &[]);
    assert!(
        err.starts_with("notify[0].secret_file: cannot read it: no file by that name"),
        "{err}"
    );
}

#[test]
fn http_to_loopback_is_allowed() {
    jail(|jail| {
        let text = format!(
            "{}[[notify]]\nname = \"local\"\nurl = \"http://127.0.0.1:9000/hook\"\n",
            minimal()
        );
        assert!(load_toml(jail, &text).is_ok());
        Ok(())
    });
}

/// A Slack webhook URL is a credential: `url_file` keeps it out of the configuration, is read
/// as the configuration loads (the URL alone, as every secret file), and is what `config
/// check` shows; `url` and `url_file` together, or neither, are refused naming the key.
#[test]
fn a_receivers_url_can_come_from_a_file() {
    jail(|jail| {
        jail.create_file("webhook-url", &format!("{HOOK}\n"))?;
        let text = format!(
            "{}[[notify]]\nname = \"ops\"\nurl_file = \"webhook-url\"\n",
            minimal()
        );
        let c = load_toml(jail, &text).unwrap();
        assert_eq!(c.notify[0].url, HOOK);
        let effective = effective_toml(&c);
        assert!(
            effective.contains("url_file = \"webhook-url\""),
            "{effective}"
        );
        assert!(!effective.contains("XXXXsecretpath"), "{effective}");
        assert!(!format!("{c:?}").contains("XXXXsecretpath"));
        // Fed back (the API token given again), the output loads the same URL.
        let effective =
            effective.replacen("[okta]\n", &format!("[okta]\napi_token = \"{TOKEN}\"\n"), 1);
        assert_eq!(load_toml(jail, &effective).unwrap().notify[0].url, HOOK);

        jail.create_file("two-lines", &format!("# ops channel\n{HOOK}\n"))?;
        let both = format!("{}url = \"{HOOK}\"\n", text);
        let refused = [
            (
                both,
                "notify[0].url: set either notify[0].url or notify[0].url_file",
            ),
            (
                text.replace("webhook-url", "two-lines"),
                "notify[0].url_file: two-lines holds a line break",
            ),
            (
                text.replace("webhook-url", "missing"),
                "notify[0].url_file: cannot read it",
            ),
        ];
        for (toml, expected) in refused {
            let err = load_toml(jail, &toml).unwrap_err().to_string();
            assert!(err.starts_with(expected), "{err}");
            assert!(!err.contains("XXXXsecretpath"), "{err}");
        }
        Ok(())
    });
}
