//! A secret file must hold the secret alone: each of these secrets travels in an HTTP header
//! (the SSWS token, the notification receiver's secret, the event hook's Authorization), so a
//! comment line or a second line left in its file is refused when the configuration loads,
//! naming the key and the file, never the value, rather than failing every delivery later.

use super::{TOKEN, error_of, jail, load_toml};

#[test]
fn a_secret_file_with_more_than_the_secret_is_refused_naming_key_and_file() {
    let text = "# the hook secret for revokd\nHOOKSECRETVALUE\n";
    let notify = "[[notify]]\nname = \"ops\"\nurl = \"https://hooks.example.com/x\"\n\
                  format = \"json\"\nevents = [\"sweep_failed\"]\nsecret_file = \"with-comment\"\n";
    let cases = [
        (
            "",
            "REVOKD_SERVER__HOOK_SECRET_FILE",
            "server.hook_secret_file: ",
        ),
        ("", "REVOKD_OKTA__API_TOKEN_FILE", "okta.api_token_file: "),
        (notify, "UNUSED", "notify[0].secret_file: "),
    ];
    for (toml, var, key) in cases {
        let mut err = String::new();
        jail(|jail| {
            jail.create_file("with-comment", text)?;
            jail.set_env(var, "with-comment");
            let org = "[okta]\norg_url = \"https://example.okta.com\"\n";
            let token = if var.starts_with("REVOKD_OKTA") {
                String::new()
            } else {
                format!("api_token = \"{TOKEN}\"\n")
            };
            err = load_toml(jail, &format!("{toml}{org}{token}"))
                .expect_err("refused")
                .to_string();
            Ok(())
        });
        assert!(err.starts_with(key), "{err}");
        assert!(err.contains("with-comment holds a line break"), "{err}");
        assert!(!err.contains("HOOKSECRETVALUE"), "{err}");
    }
    let err = error_of("[server]\nhook_secret = \"HOOK\\nSECRET\"\n", &[]);
    assert!(
        err.starts_with("server.hook_secret: holds a line break"),
        "{err}"
    );
    assert!(!err.contains("SECRET\""), "{err}");
}

#[test]
fn a_previous_hook_secret_needs_a_current_one_and_is_checked_as_one() {
    let err = error_of("[server]\nhook_secret_previous = \"OLDHOOKSECRET\"\n", &[]);
    assert!(
        err.starts_with("server.hook_secret_previous: is accepted beside server.hook_secret"),
        "{err}"
    );
    assert!(!err.contains("OLDHOOKSECRET"), "{err}");
    let both = "[server]\nhook_secret = \"NEWHOOKSECRET\"\nhook_secret_previous = \"  \"\n";
    let err = error_of(both, &[]);
    assert!(
        err.starts_with("server.hook_secret_previous: the event hook secret must not be empty"),
        "{err}"
    );
    let env = [("REVOKD_SERVER__HOOK_SECRET_PREVIOUS", "OLD\u{7}HOOK")];
    let err = error_of("[server]\nhook_secret = \"NEWHOOKSECRET\"\n", &env);
    assert!(
        err.starts_with("server.hook_secret_previous: holds a line break"),
        "{err}"
    );
    assert!(
        !err.contains("OLD") && !err.contains("NEWHOOKSECRET"),
        "{err}"
    );
}

#[test]
fn commands_that_read_only_the_database_accept_a_previous_secret_beside_a_secret_file() {
    use revokd::config::{Needs, Overrides, load_for};
    jail(|jail| {
        let toml = "[okta]\norg_url = \"https://example.okta.com\"\n\
                    [server]\nhook_secret_file = \"hook\"\n";
        jail.create_file("revokd.toml", toml)?;
        jail.create_file("hook", "NEWHOOKSECRET")?;
        jail.set_env("REVOKD_SERVER__HOOK_SECRET_PREVIOUS", "OLDHOOKSECRET");
        let path = std::path::Path::new("revokd.toml");
        let loaded = load_for(Some(path), &Overrides::default(), Needs::Database);
        assert!(loaded.is_ok(), "{:?}", loaded.err());
        Ok(())
    });
}
