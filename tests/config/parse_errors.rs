//! A file TOML cannot parse is refused with where and why, never with the offending line:
//! that line may hold a secret pasted without its quotes.

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
