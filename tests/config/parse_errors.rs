//! Where an error comes from: a file TOML cannot parse is refused with where and why, never
//! with the offending line (it may hold a secret pasted without its quotes); a value refused
//! after loading names the file or the variable that set it.

use std::path::Path;

use revokd::config::load;

use super::{TOKEN, jail};

#[test]
fn a_toml_syntax_error_names_line_and_column_but_never_quotes_the_line() {
    let cases = [
        // A token pasted without quotes.
        format!("[okta]\norg_url = \"https://example.okta.com\"\napi_token = {TOKEN}\n"),
        // A hook secret with a bad escape.
        format!("[server]\nhook_secret = \"{TOKEN}\\q\"\n"),
        // A quote left open.
        format!("[okta]\napi_token = \"{TOKEN}\n"),
    ];
    for toml in cases {
        jail(|jail| {
            jail.create_file("revokd.toml", &toml)?;
            let err = load(Some(Path::new("revokd.toml")))
                .unwrap_err()
                .to_string();
            assert!(!err.contains(TOKEN), "{toml:?} → {err}");
            assert!(!err.contains("00SECRET"), "{toml:?} → {err}");
            assert!(
                err.starts_with("config: TOML parse error at line "),
                "{err}"
            );
            assert!(err.contains("column"), "{err}");
            assert!(err.contains("revokd.toml"), "the file is named: {err}");
            Ok(())
        });
    }
}

#[test]
fn a_value_refused_after_loading_says_whether_the_file_or_the_environment_set_it() {
    jail(|jail| {
        let file = format!(
            "[okta]\norg_url = \"https://example.okta.com\"\napi_token = \"{TOKEN}\"\n\
             [safety]\nmax_revocation_fraction = 1.5\n"
        );
        jail.create_file("revokd.toml", &file)?;
        let err = load(Some(Path::new("revokd.toml")))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("safety.max_revocation_fraction: "), "{err}");
        assert!(
            err.contains("(from TOML file ") && err.ends_with("revokd.toml)"),
            "{err}"
        );
        // A drop-in's variable overrides the file: the error says so.
        jail.set_env("REVOKD_SAFETY__MAX_REVOCATION_FRACTION", "0.5");
        jail.set_env("REVOKD_OKTA__ORG_URL", "http://example.okta.com");
        let err = load(Some(Path::new("revokd.toml")))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("okta.org_url: "), "{err}");
        assert!(err.ends_with("(from REVOKD_OKTA__ORG_URL)"), "{err}");
        Ok(())
    });
}

/// A value of the wrong type is not quoted where it may be a secret: at a secret's key, at a
/// `*_file` key (a secret pasted in place of its path), at a receiver's `url` (a Slack
/// webhook URL is a credential), or at a table that holds secrets set whole from one
/// variable.
#[test]
fn a_value_of_the_wrong_type_is_not_quoted_where_it_may_be_a_secret() {
    let secret = "8675309123456";
    let slack = "https://hooks.slack.com/services/T000/B000/XXXXSECRET";
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);
    let cases: [Case; 5] = [
        (
            &format!("[server]\nhook_secret_file = {secret}\n"),
            &[],
            "server.hook_secret_file: ",
        ),
        (
            "",
            &[("REVOKD_SERVER__HOOK_SECRET_FILE", secret)],
            "server.hook_secret_file: ",
        ),
        ("", &[("REVOKD_OKTA", secret)], "okta: "),
        ("", &[("REVOKD_NOTIFY", slack)], "notify: "),
        (
            &format!("[[notify]]\nname = \"ops\"\nurl = {secret}\n"),
            &[],
            "notify[0].url: ",
        ),
    ];
    for (toml, env, key) in cases {
        let err = super::error_of(toml, env);
        assert!(err.starts_with(key), "{toml:?} {env:?} → {err}");
        assert!(err.contains("value not shown"), "{err}");
        assert!(
            !err.contains(secret) && !err.contains("XXXXSECRET"),
            "{err}"
        );
        // Only a variable figment read as a number or a boolean gets that hint.
        let scalar = env.iter().any(|(_, v)| v.parse::<f64>().is_ok());
        assert_eq!(err.contains("reads as a number"), scalar, "{err}");
    }
}

/// `__` nests; an empty segment (`REVOKD_MODE__`, `REVOKD_OKTA____PAGE_SIZE`) names no key,
/// and is refused naming the variable rather than dropped without a word.
#[test]
fn a_variable_with_an_empty_segment_is_refused_naming_it() {
    for var in [
        "REVOKD_MODE__",
        "REVOKD_OKTA____PAGE_SIZE",
        "REVOKD___MODE",
        "revokd_mode__",
    ] {
        let err = super::error_of("", &[(var, "enforce")]);
        assert!(err.contains(var), "{var} → {err}");
    }
}
