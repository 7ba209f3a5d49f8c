//! `okta.auth = "oauth"` end to end against the simulated org: a sweep whose access token
//! expires mid-way, a replayed assertion, DPoP, and the ways a service app is commonly
//! misconfigured (wrong key, wrong client id, scope not granted, an app listed without
//! `okta.apps.read`) — each named in the error, with no key, assertion or access token anywhere
//! in the output or the database.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use revokd::config::{AuthMode, Config, Mode};
use revokd::sim::{ServiceApp, SimConfig, SimOrg};
use revokd::store::SweepStatus;

use crate::apps::{apps, biggest_app, sweep};

use crate::helpers::{
    admin_policy, all_output, run_revokd, small_org, spawn_app_with, write_config,
};
use crate::secrets::occurrences_in_database;

const CLIENT_ID: &str = "0oaRevokdService";
const BOTH: [&str; 2] = ["okta.users.read", "okta.users.manage"];

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/oauth")
        .join(name)
}

fn service_app(public_key: &str, scopes: &[&str], require_dpop: bool) -> ServiceApp {
    ServiceApp {
        client_id: CLIENT_ID.into(),
        public_key: std::fs::read_to_string(fixture(public_key)).expect("fixture"),
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        require_dpop,
    }
}

/// The test config switched to OAuth with `private_key` (a fixture) and no API token.
fn use_oauth(config: &mut Config, private_key: &str) {
    config.okta.auth = AuthMode::Oauth;
    config.okta.api_token = None;
    config.okta.client_id = Some(CLIENT_ID.into());
    config.okta.private_key_file = Some(fixture(private_key));
    config.okta.key_id = Some("revokd-test".into());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sweep_in_oauth_mode_renews_the_access_token_that_expires_mid_sweep() {
    let sim = SimConfig {
        service_apps: vec![service_app("test-only-rsa.pub.pem", &BOTH, false)],
        access_token_lifetime: Duration::from_secs(1),
        latency: Duration::from_millis(100),
        ..small_org()
    };
    let app = spawn_app_with(sim, |c| {
        use_oauth(c, "test-only-rsa.pkcs8.pem");
        c.okta.concurrency = 1;
        c.policies = vec![admin_policy()];
    })
    .await;
    let started = Instant::now();
    let report = app.sweep(Mode::Enforce).await;
    let took = started.elapsed();

    assert_eq!(report.status, SweepStatus::Ok, "{:?}", report.failures);
    assert_eq!(report.counts.targets_failed, 0);
    assert!(
        took > Duration::from_millis(1500),
        "the sweep outlasted a token ({took:?})"
    );
    let stats = app.org.oauth_stats();
    assert!(stats.tokens_issued >= 2, "the token was renewed: {stats:?}");
    assert!(stats.refused.is_empty(), "{stats:?}");
    assert!(
        !app.org.revoked().is_empty(),
        "revocations were sent with OAuth tokens"
    );
    assert_eq!(report.counts.revocations_failed, 0);
    app.assert_pairs_stored(None).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replayed_assertion_is_refused_and_revokd_recovers_with_a_fresh_one() {
    let sim = SimConfig {
        service_apps: vec![service_app("test-only-ec.pub.pem", &BOTH, false)],
        ..small_org()
    };
    let app = spawn_app_with(sim, |c| use_oauth(c, "test-only-ec.sec1.pem")).await;
    app.org.treat_next_assertions_as_replayed(1);
    let report = app.sweep(Mode::DryRun).await;
    assert_eq!(report.status, SweepStatus::Ok, "{:?}", report.failures);
    let stats = app.org.oauth_stats();
    assert_eq!(stats.refused_for("jti already used"), 1, "{stats:?}");
    assert_eq!(
        stats.tokens_issued, 1,
        "one fresh assertion got the token the sweep shared"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sweep_with_dpop_bound_tokens_answers_the_nonce_challenge_and_sends_proofs() {
    let sim = SimConfig {
        service_apps: vec![service_app("test-only-ec.pub.pem", &BOTH, true)],
        ..small_org()
    };
    let app = spawn_app_with(sim, |c| {
        use_oauth(c, "test-only-ec.jwk.json");
        c.okta.dpop = true;
    })
    .await;
    let report = app.sweep(Mode::DryRun).await;
    assert_eq!(report.status, SweepStatus::Ok, "{:?}", report.failures);
    let stats = app.org.oauth_stats();
    assert_eq!(
        (
            stats.nonce_challenges,
            stats.tokens_issued,
            stats.api_unauthorized
        ),
        (1, 1, 0),
        "{stats:?}"
    );
}

/// A misconfiguration, how the org is set up, what the error must say, and the exit code:
/// 77 when Okta refuses the credentials (the sweep stops after the first few targets), 3
/// when every target fails for another reason.
struct Case {
    registered: ServiceApp,
    config: String,
    expect: &'static [&'static str],
    exit: i32,
}

fn oauth_lines(client_id: &str, key: &str) -> String {
    format!(
        "auth = \"oauth\"\nclient_id = \"{client_id}\"\nprivate_key_file = \"{}\"\nkey_id = \"revokd-test\"",
        fixture(key).display()
    )
}

async fn assert_named_and_secret(case: Case) {
    let org = SimOrg::start(SimConfig {
        service_apps: vec![case.registered],
        ..small_org()
    })
    .await
    .expect("org starts");
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("revokd.db");
    let pairs = org.pairs();
    let config = write_config(
        dir.path(),
        org.base_url().as_str(),
        &case.config,
        &db,
        &pairs,
        "",
    );
    let out = run_revokd(
        &["--config", config.to_str().expect("utf-8"), "sweep"],
        &[("REVOKD_LOG", "trace")],
    )
    .await;
    let text = all_output(&out);
    let tail: String = text
        .chars()
        .rev()
        .take(3000)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    assert_eq!(out.status.code(), Some(case.exit), "…{tail}");
    assert!(text.contains("TRACE"), "trace logging was on");
    for needle in case.expect {
        assert!(text.contains(needle), "the output names `{needle}`: {text}");
    }
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .expect("db");
    let errors: Vec<Option<String>> = sqlx::query_scalar("SELECT last_error FROM targets")
        .fetch_all(&pool)
        .await
        .expect("targets");
    pool.close().await;
    if case.exit == 77 {
        assert!(!errors.is_empty() && errors.len() <= pairs.len());
    } else {
        assert_eq!(errors.len(), pairs.len());
    }
    for error in &errors {
        let error = error.as_deref().unwrap_or_default();
        assert!(
            case.expect.iter().all(|n| error.contains(n)),
            "the target's error names the cause: {error}"
        );
    }

    let mut secrets = org.credentials_seen();
    assert!(!secrets.is_empty(), "assertions were sent");
    if case.exit == 77 {
        // One token request for the run, and one resend with a fresh assertion after
        // invalid_client: not one per target the run had in flight.
        assert!(secrets.len() <= 2, "{} token requests", secrets.len());
    }
    for key in [
        "test-only-rsa.pkcs8.pem",
        "test-only-rsa-other.pkcs8.pem",
        "test-only-ec.pkcs8.pem",
    ] {
        let pem = std::fs::read_to_string(fixture(key)).expect("fixture");
        secrets.extend(
            pem.lines()
                .filter(|l| !l.starts_with("-----"))
                .map(str::to_owned),
        );
    }
    for secret in &secrets {
        assert!(
            !text.contains(secret.as_str()),
            "a credential or key line is in the output"
        );
        let (hits, rows) = occurrences_in_database(&db, secret).await;
        assert!(rows > 0);
        assert_eq!(hits, 0, "a credential or key line is in the database");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_key_is_named_without_leaking_the_key_or_the_assertion() {
    assert_named_and_secret(Case {
        registered: service_app("test-only-rsa.pub.pem", &BOTH, false),
        config: oauth_lines(CLIENT_ID, "test-only-rsa-other.pkcs8.pem"),
        expect: &[
            "invalid_client",
            "signature",
            "okta.private_key_file",
            "this host's clock",
        ],
        exit: 77,
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_client_id_is_named_without_leaking_the_key_or_the_assertion() {
    assert_named_and_secret(Case {
        registered: service_app("test-only-rsa.pub.pem", &BOTH, false),
        config: oauth_lines("0oaSomeoneElse", "test-only-rsa.pkcs8.pem"),
        expect: &["invalid_client", "client_id", "okta.client_id"],
        exit: 77,
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scope_not_granted_to_the_app_is_named_without_leaking_credentials() {
    assert_named_and_secret(Case {
        registered: service_app("test-only-ec.pub.pem", &["okta.users.read"], false),
        config: oauth_lines(CLIENT_ID, "test-only-ec.pkcs8.pem"),
        expect: &["invalid_scope", "okta.users.manage", "okta.scopes"],
        exit: 77,
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_app_listed_with_a_token_that_lacks_okta_apps_read_names_that_scope() {
    let sim = SimConfig {
        service_apps: vec![service_app("test-only-ec.pub.pem", &BOTH, false)],
        ..small_org()
    };
    let app = spawn_app_with(sim, |c| use_oauth(c, "test-only-ec.pkcs8.pem")).await;
    let (client, _) = biggest_app(&app.org);

    let report = sweep(&app, Mode::DryRun, Vec::new(), apps(&[&client])).await;

    assert_eq!(report.status, SweepStatus::Failed);
    assert_eq!(report.failures.len(), 1);
    let error = &report.failures[0].error;
    assert!(
        error.contains("lack okta.apps.read") && error.contains("okta.scopes"),
        "{error}"
    );
    assert_eq!(app.org.oauth_stats().api_forbidden, 1);
}
