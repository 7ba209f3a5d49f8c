//! Configuration tests in `figment::Jail`: defaults, precedence (env beats file), `__`
//! nesting, unknown keys, bad values, and secrets read from files but never shown. The
//! helpers here serve the topic files beside it. They run in a process of their own (see
//! [`jail`]).

// figment::Jail's closures return figment's (large) error type; that is its API, not ours.
#![allow(clippy::result_large_err)]

use std::path::Path;
use std::time::Duration;

use figment::Jail;
use secrecy::ExposeSecret;

use revokd::config::*;

/// `figment::Jail::expect_with`. A jail makes its temporary directory the process's working
/// directory and sets environment variables for the whole process, so these tests run in a
/// process of their own: the library's tests open their databases by relative paths. Each
/// starts from an empty environment.
fn jail(f: impl FnOnce(&mut Jail) -> figment::error::Result<()>) {
    Jail::expect_with(|jail| {
        // The caller's own `REVOKD_*` (an exported token file, say) would change what loads.
        jail.clear_env();
        f(jail)
    });
}

const TOKEN: &str = "00SECRETsecret-token-value";

fn minimal() -> String {
    format!("[okta]\norg_url = \"https://example.okta.com\"\napi_token = \"{TOKEN}\"\n")
}

/// Writes `toml` as `revokd.toml` in the jail and loads it.
fn load_toml(jail: &mut Jail, toml: &str) -> Result<Config, Error> {
    jail.create_file("revokd.toml", toml)
        .expect("the jail takes the file");
    load(Some(Path::new("revokd.toml")))
}

/// The error text of loading `toml` (with the minimal keys prepended) plus `env`.
fn error_of(extra: &str, env: &[(&str, &str)]) -> String {
    let mut text = String::new();
    jail(|jail| {
        for (k, v) in env {
            jail.set_env(k, v);
        }
        text = load_toml(jail, &format!("{extra}\n{}", minimal()))
            .expect_err("the config is refused")
            .to_string();
        Ok(())
    });
    assert!(!text.contains(TOKEN), "{text}");
    text
}

#[test]
fn defaults_fill_every_key_the_file_leaves_out() {
    jail(|jail| {
        let c = load_toml(jail, &minimal()).unwrap();
        assert_eq!(c.mode, Mode::DryRun);
        assert_eq!(c.okta.page_size, 200);
        assert_eq!(c.okta.rate_limit.max_share, 0.5);
        assert_eq!(c.schedule.sweep, "0 0 * * * *");
        assert_eq!(c.safety.max_revocations_per_sweep, 500);
        assert_eq!(c.server.listen.to_string(), "127.0.0.1:9464");
        assert_eq!(c.server.shutdown_timeout, Duration::from_secs(30));
        assert!(!c.schedule.sweep_on_start);
        assert!(c.targets.is_empty() && c.policies.is_empty());
        Ok(())
    });
}

#[test]
fn env_beats_file_and_double_underscore_nests() {
    jail(|jail| {
        jail.set_env("REVOKD_MODE", "enforce");
        jail.set_env("REVOKD_OKTA__ORG_URL", "https://env.okta.com");
        jail.set_env("REVOKD_OKTA__RATE_LIMIT__MAX_SHARE", "0.25");
        jail.set_env("REVOKD_CONFIG", "/somewhere/else.toml");
        jail.set_env("REVOKD_LOG", "debug");
        let toml = format!(
            "mode = \"dry-run\"\n{}[okta.rate_limit]\nmax_share = 0.9\n",
            minimal()
        );
        let c = load_toml(jail, &toml).unwrap();
        assert_eq!(c.mode, Mode::Enforce);
        assert_eq!(c.okta.org_url.as_deref(), Some("https://env.okta.com"));
        assert_eq!(c.okta.rate_limit.max_share, 0.25);
        Ok(())
    });
}

#[test]
fn a_missing_config_file_is_an_error_naming_its_path() {
    jail(|_| {
        let err = load(Some(Path::new("nowhere/revokd.toml")))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("--config: cannot read nowhere/revokd.toml"),
            "{err}"
        );
        Ok(())
    });
}

#[test]
fn unknown_keys_in_file_or_env_are_refused_naming_the_key() {
    let err = error_of("mode = \"dry-run\"\n[okta.rate_limit]\nbogus = 1", &[]);
    assert!(
        err.starts_with("okta.rate_limit.bogus: unknown key"),
        "{err}"
    );
    assert!(err.contains("revokd.toml"), "{err}");
    let err = error_of("", &[("REVOKD_OKTA__BOGUS", "1")]);
    assert!(err.starts_with("okta.bogus: unknown key"), "{err}");
    assert!(err.ends_with("(from REVOKD_OKTA__BOGUS)"), "{err}");
    let err = error_of("colour = \"blue\"", &[]);
    assert!(err.starts_with("colour: unknown key"), "{err}");
}

#[test]
fn bad_values_are_refused_naming_the_key() {
    let cases: &[(&str, &str)] = &[
        (
            "[database]\nsnapshot_retention = \"forever\"",
            "database.snapshot_retention: ",
        ),
        (
            "[revocation]\nmax_attempts = \"six\"",
            "revocation.max_attempts: ",
        ),
        ("mode = \"yolo\"", "mode: "),
        (
            "[schedule]\nsweep = \"0 * * * *\"",
            "schedule.sweep: `0 * * * *` has 5 fields; expected six fields, seconds first (UTC), e.g. \"0 0 * * * *\"",
        ),
        (
            "[schedule]\nprune = \"0 0 25 * * *\"",
            "schedule.prune: `0 0 25 * * *` does not parse",
        ),
        (
            "[schedule]\nsweep = \"0 0 3 31 4 *\"",
            "schedule.sweep: `0 0 3 31 4 *` never fires",
        ),
        ("[database]\nurl = \"sqlite::memory:\"", "database.url: "),
        (
            "[database]\nurl = \"sqlite://audit.db?mode=memory\"",
            "database.url: ",
        ),
        ("[database]\nurl = \"sqlite://\"", "database.url: "),
        // SQLite's own in-memory forms, as sqlx opens them (URI filenames, percent-decoded).
        (
            "[database]\nurl = \"sqlite:///audit.db?vfs=memdb\"",
            "database.url: ",
        ),
        (
            "[database]\nurl = \"sqlite:file::memory:?cache=shared\"",
            "database.url: ",
        ),
        ("[database]\nurl = \"sqlite:file:\"", "database.url: "),
        (
            "[database]\nurl = \"sqlite:%3Amemory%3A\"",
            "database.url: ",
        ),
        (
            "[database]\nurl = \"sqlite:x.db?mode=%6Demory\"",
            "database.url: ",
        ),
        ("[schedule]\nreport = \"daily\"", "schedule.report: "),
        (
            "[safety]\nmax_revocation_fraction = 0.0",
            "safety.max_revocation_fraction: ",
        ),
        (
            "[safety]\nmax_revocation_fraction = 1.5",
            "safety.max_revocation_fraction: ",
        ),
        (
            "[safety]\nmax_revocations_per_sweep = 0",
            "safety.max_revocations_per_sweep: ",
        ),
        (
            "[revocation]\nmax_attempts = 0",
            "revocation.max_attempts: ",
        ),
        (
            "[server]\nshutdown_timeout = \"0s\"",
            "server.shutdown_timeout: ",
        ),
        (
            "[schedule]\nsweep_on_start = \"soon\"",
            "schedule.sweep_on_start: ",
        ),
    ];
    for (toml, expected) in cases {
        let err = error_of(toml, &[]);
        assert!(err.starts_with(expected), "{toml}\n=> {err}");
    }
}

#[test]
fn secrets_are_read_from_their_files_with_the_newline_trimmed() {
    jail(|jail| {
        jail.create_file("okta-token", &format!("{TOKEN}\n"))?;
        jail.create_file("hook", "hook-secret-value\r\n")?;
        jail.set_env("REVOKD_OKTA__API_TOKEN_FILE", "okta-token");
        jail.set_env("REVOKD_SERVER__HOOK_SECRET_FILE", "hook");
        let c = load_toml(jail, "[okta]\norg_url = \"https://example.okta.com\"\n").unwrap();
        assert_eq!(c.okta.api_token.as_ref().unwrap().expose_secret(), TOKEN);
        assert_eq!(
            c.server.hook_secret.as_ref().unwrap().expose_secret(),
            "hook-secret-value"
        );
        Ok(())
    });
}

#[test]
fn secret_file_problems_name_the_key_and_path_but_never_the_value() {
    let err = error_of("", &[("REVOKD_OKTA__API_TOKEN_FILE", "missing-token")]);
    assert!(err.starts_with("okta.api_token: set either okta.api_token or okta.api_token_file"));
    jail(|jail| {
        jail.set_env("REVOKD_OKTA__API_TOKEN_FILE", "missing-token");
        let err = load_toml(jail, "[okta]\norg_url = \"https://example.okta.com\"\n").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("okta.api_token_file: cannot read it: no file by that name")
        );
        jail.create_file("empty", "\n")?;
        jail.set_env("REVOKD_SERVER__HOOK_SECRET_FILE", "empty");
        jail.create_file("missing-token", TOKEN)?;
        let err = load_toml(jail, "[okta]\norg_url = \"https://example.okta.com\"\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "server.hook_secret_file: empty is empty (from REVOKD_SERVER__HOOK_SECRET_FILE)"
        );
        Ok(())
    });
    let err = error_of("", &[("REVOKD_SERVER__HOOK_SECRET", "12345")]);
    assert!(
        err.starts_with("server.hook_secret: must be a string (value not shown)"),
        "{err}"
    );
    assert!(!err.contains("12345"), "{err}");
    assert!(err.contains("reads as a number or true/false"), "{err}");
}

#[test]
fn neither_debug_nor_the_effective_config_show_secrets() {
    jail(|jail| {
        jail.set_env("REVOKD_SERVER__HOOK_SECRET", "hook-secret-value");
        jail.set_env("REVOKD_SERVER__HOOK_SECRET_PREVIOUS", "hook-previous-value");
        let c = load_toml(jail, &minimal()).unwrap();
        let debug = format!("{c:?}");
        let effective = effective_toml(&c);
        for text in [&debug, &effective] {
            for secret in [TOKEN, "hook-secret-value", "hook-previous-value"] {
                assert!(!text.contains(secret), "{text}");
            }
        }
        assert!(
            effective.contains("\n# api_token = \"[redacted]\" (set inline"),
            "{effective}"
        );
        assert!(
            effective.contains("\n# hook_secret = \"[redacted]\" (set inline"),
            "{effective}"
        );
        let previous = "\n# hook_secret_previous = \"[redacted]\" (set inline";
        assert!(effective.contains(previous), "{effective}");
        Ok(())
    });
}

mod notify;
mod okta;
mod parse_errors;
mod secret_files;
mod shape;

#[test]
fn database_limits_come_from_env_and_show_in_the_effective_config() {
    jail(|jail| {
        jail.set_env("REVOKD_DATABASE__BUSY_TIMEOUT", "200ms");
        jail.set_env("REVOKD_DATABASE__MAX_SIZE", "300KiB");
        let c = load_toml(jail, &minimal()).unwrap();
        assert_eq!(c.database.busy_timeout, Duration::from_millis(200));
        assert_eq!(c.database.max_size, Some(300 << 10));
        let text = effective_toml(&c);
        assert!(
            text.contains("busy_timeout = \"200ms\"\nmax_size = \"300KiB\"\n"),
            "{text}"
        );
        Ok(())
    });
    jail(|jail| {
        let text = effective_toml(&load_toml(jail, &minimal()).unwrap());
        assert!(
            text.contains("busy_timeout = \"10s\"\n# max_size is unset\n"),
            "{text}"
        );
        Ok(())
    });
}

#[test]
fn bad_database_limits_are_refused_naming_the_key() {
    let cases = [
        ("REVOKD_DATABASE__BUSY_TIMEOUT", "0s"),
        ("REVOKD_DATABASE__BUSY_TIMEOUT", "2h"),
        ("REVOKD_DATABASE__MAX_SIZE", "512MB"),
        ("REVOKD_DATABASE__MAX_SIZE", "lots"),
        ("REVOKD_DATABASE__MAX_SIZE", "0MiB"),
        ("REVOKD_DATABASE__MAX_SIZE", "60KiB"),
    ];
    each_is_refused_naming_its_key(&cases);
}

/// Each `(variable, value)` alone is refused with an error that opens with its key.
fn each_is_refused_naming_its_key(cases: &[(&str, &str)]) {
    for &(var, value) in cases {
        let key = var
            .trim_start_matches("REVOKD_")
            .replace("__", ".")
            .to_lowercase();
        let err = error_of("", &[(var, value)]);
        assert!(
            err.starts_with(&format!("{key}: ")),
            "{var}={value} => {err}"
        );
    }
}

#[test]
fn a_database_in_a_file_is_accepted_however_its_url_is_spelled() {
    for url in [
        "sqlite:revokd.db",
        "sqlite://./revokd.db",
        "sqlite:///tmp/revokd.db",
        "sqlite://revokd.db?mode=rwc",
        "revokd.db",
        "backup:2026.db",
    ] {
        jail(|jail| {
            let toml = format!("{}[database]\nurl = \"{url}\"\n", minimal());
            let config = load_toml(jail, &toml).unwrap_or_else(|e| panic!("{url}: {e}"));
            // A plain path is the URL sqlx reads as that file.
            let expected = match url.starts_with("sqlite:") {
                true => url.to_owned(),
                false => format!("sqlite://{url}"),
            };
            assert_eq!(config.database.url, expected);
            Ok(())
        });
    }
}

#[test]
fn database_urls_revokd_cannot_write_and_lock_are_refused_naming_the_key() {
    for url in [
        // sqlx would open these as relative file names or refuse them only when opened.
        "postgres://db.example.com/revokd",
        "sqlite://revokd.db?mode=bogus",
        "sqlite://revokd.db?colour=red",
        "sqlite://revokd.db?vfs=unix-none",
    ] {
        let err = error_of("", &[("REVOKD_DATABASE__URL", url)]);
        assert!(err.starts_with("database.url: "), "{url} => {err}");
    }
}

#[test]
fn offboarding_event_types_that_match_no_event_are_refused_naming_the_key() {
    for (list, key) in [
        ("[]", "offboarding.event_types: "),
        (
            "[\"user.lifecycle.deactivate \"]",
            "offboarding.event_types[0]: ",
        ),
        (
            "[\"user.lifecycle.suspend\", \"user\\\"lifecycle\"]",
            "offboarding.event_types[1]: ",
        ),
        ("[\"\"]", "offboarding.event_types[0]: "),
        ("[\"deactivate\"]", "offboarding.event_types[0]: "),
    ] {
        let err = error_of(&format!("[offboarding]\nevent_types = {list}"), &[]);
        assert!(err.starts_with(key), "{list} => {err}");
    }
}
