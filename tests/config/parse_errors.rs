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
