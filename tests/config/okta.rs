//! `[okta]`: its ranges, the org URL's scheme, and the credentials each auth mode needs.

use super::*;

#[test]
fn okta_ranges_are_enforced_naming_the_key() {
    let cases: &[(&str, &str)] = &[
        ("REVOKD_OKTA__PAGE_SIZE", "0"),
        ("REVOKD_OKTA__PAGE_SIZE", "201"),
        ("REVOKD_OKTA__CONCURRENCY", "76"),
        ("REVOKD_OKTA__MAX_RETRIES", "21"),
        ("REVOKD_OKTA__MIN_BACKOFF", "2m"),
        ("REVOKD_OKTA__RATE_LIMIT__MAX_SHARE", "0"),
        ("REVOKD_OKTA__RATE_LIMIT__MAX_SHARE", "1.01"),
        ("REVOKD_OKTA__RATE_LIMIT__REQUESTS_PER_MINUTE", "0"),
    ];
    each_is_refused_naming_its_key(cases);
    jail(|jail| {
        jail.set_env("REVOKD_OKTA__PAGE_SIZE", "1");
        jail.set_env("REVOKD_OKTA__CONCURRENCY", "75");
        jail.set_env("REVOKD_OKTA__RATE_LIMIT__MAX_SHARE", "1.0");
        load_toml(jail, &minimal()).unwrap();
        Ok(())
    });
}

#[test]
fn org_url_must_be_https_unless_loopback() {
    for (url, ok) in [
        ("https://example.okta.com", true),
        ("https://example.okta.com/", true),
        ("http://127.0.0.1:8080", true),
        ("http://127.3.4.5", true),
        ("http://localhost:9000/", true),
        ("http://[::1]:9000", true),
        ("http://example.okta.com", false),
        ("http://10.0.0.1", false),
        ("ftp://127.0.0.1", false),
        ("https://example.okta.com/api/v1", false),
        ("https://example.okta.com/?x=1", false),
        ("https://user:pw@example.okta.com", false),
        ("example.okta.com", false),
    ] {
        let result = Jail::try_with(|jail| {
            jail.clear_env();
            jail.set_env("REVOKD_OKTA__ORG_URL", url);
            load_toml(jail, &minimal())
                .map(drop)
                .map_err(|e| e.to_string().into())
        });
        match result {
            Ok(()) => assert!(ok, "{url} accepted"),
            Err(e) => {
                assert!(!ok, "{url} refused: {e}");
                assert!(e.to_string().starts_with("okta.org_url: "), "{e}");
            }
        }
    }
    let err = error_of("", &[("REVOKD_OKTA__ORG_URL", "http://example.okta.com")]);
    assert!(err.contains("must use https"), "{err}");
}

#[test]
fn an_org_url_with_credentials_is_refused_without_showing_them() {
    let password = "pw-Hunter2";
    for url in [
        format!("http://admin:{password}@x.okta.com"),
        format!("https://admin:{password}@x.okta.com"),
        format!("https://admin:{password}@x.okta.com/api/v1?x=1"),
        format!("ftp://admin:{password}@127.0.0.1"),
        format!("https://{password}@x.okta.com"),
        format!("https://admin:{password}@"),
        format!("https://admin:{password}@x.okta.com:99999"),
    ] {
        let err = error_of("", &[("REVOKD_OKTA__ORG_URL", &url)]);
        assert!(err.starts_with("okta.org_url: "), "{url}: {err}");
        assert!(!err.contains(password), "{url}: {err}");
        assert!(!err.contains("admin"), "{url}: {err}");
    }
}

#[test]
fn the_credentials_auth_needs_are_required_by_name() {
    jail(|jail| {
        let err = load_toml(jail, "[okta]\norg_url = \"https://example.okta.com\"\n").unwrap_err();
        assert!(err.to_string().starts_with("okta.api_token: "), "{err}");
        let oauth = "[okta]\norg_url = \"https://example.okta.com\"\nauth = \"oauth\"\n";
        let err = load_toml(jail, oauth).unwrap_err();
        assert!(err.to_string().starts_with("okta.client_id: "), "{err}");
        let err = load_toml(jail, &format!("{oauth}client_id = \"0oa1\"\n")).unwrap_err();
        assert!(
            err.to_string().starts_with("okta.private_key_file: "),
            "{err}"
        );
        let full = format!("{oauth}client_id = \"0oa1\"\nprivate_key_file = \"key.pem\"\n");
        load_toml(jail, &full).unwrap();
        let err = load_toml(jail, &format!("{full}scopes = []\n")).unwrap_err();
        assert!(err.to_string().starts_with("okta.scopes: "), "{err}");
        let err = load_toml(
            jail,
            &format!("{full}scopes = [\"okta.users.read okta.users.manage\"]\n"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("not an OAuth scope name"), "{err}");
        let with_log = format!("{full}[offboarding]\nsystem_log = true\n");
        let err = load_toml(jail, &with_log).unwrap_err();
        assert!(
            err.to_string().starts_with("okta.scopes: ")
                && err.to_string().contains("okta.logs.read"),
            "{err}"
        );
        let scoped = with_log.replace(
            "[offboarding]",
            "scopes = [\"okta.users.read\", \"okta.users.manage\", \"okta.logs.read\"]\n[offboarding]",
        );
        load_toml(jail, &scoped).unwrap();
        let err = load_toml(jail, "").unwrap_err();
        assert!(
            err.to_string().starts_with("okta.org_url: is required"),
            "{err}"
        );
        Ok(())
    });
}

/// A secret set where its file's path belongs (`api_token_file = "00…"`) names no file; the
/// error names the key and never echoes the value. A path that names something (here a
/// directory) is still shown, since it helps and cannot be a secret.
#[test]
fn a_secret_set_in_place_of_its_path_is_never_echoed() {
    let pasted = "00PASTEDtoken-in-place-of-a-path";
    let pem = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC/x+y=\n";
    let oauth = "[okta]\norg_url = \"https://example.okta.com\"\nauth = \"oauth\"\n\
                 client_id = \"0oa1\"\n";
    jail(|jail| {
        for var in [
            "REVOKD_OKTA__API_TOKEN_FILE",
            "REVOKD_SERVER__HOOK_SECRET_FILE",
        ] {
            jail.set_env(var, pasted);
            let err = load_toml(jail, "[okta]\norg_url = \"https://example.okta.com\"\n")
                .unwrap_err()
                .to_string();
            assert!(err.contains("_file: ") && err.contains("no file"), "{err}");
            assert!(!err.contains(pasted) && !err.contains("00PASTED"), "{err}");
            jail.clear_env();
        }
        jail.create_dir("a-directory")?;
        jail.set_env("REVOKD_OKTA__API_TOKEN_FILE", "a-directory");
        let err = load_toml(jail, "[okta]\norg_url = \"https://example.okta.com\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("okta.api_token_file: cannot read a-directory: "),
            "{err}"
        );
        jail.clear_env();
        for key in [pasted, pem] {
            let toml = format!("{oauth}private_key_file = {}\n", serde_json::json!(key));
            let config = load_toml(jail, &toml).expect("the key file is read later");
            let err = revokd::okta::OktaClient::from_config(&config.okta)
                .map(drop)
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("okta.private_key_file: "), "{err}");
            assert!(err.contains("no file"), "{err}");
            assert!(!err.contains("PASTED") && !err.contains("MIIEvQ"), "{err}");
        }
        Ok(())
    });
}
