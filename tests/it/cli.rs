//! The real `revokd` binary: exit codes (0 / 3 / 64 / 78), what it prints (and that a closed
//! stdout ends it quietly), and what it leaves in the database. The sim runs in the test's
//! multi-thread runtime while the binary is a child.

use std::path::Path;

use revokd::config::Mode;
use revokd::sim::{Fault, FaultKind, SimOrg};
use tempfile::TempDir;

use crate::helpers::{
    admin_policy, all_output, assert_quiet_on_a_closed_stdout, run_revokd, sim_config, small_org,
    spawn_app_with, write_config,
};

const ADMIN_POLICY: &str =
    "[[policies]]\nname = \"old-admin\"\nolder_than = \"180d\"\nscopes_any = [\"admin:write\"]\n";

async fn org_and_dir() -> (SimOrg, TempDir) {
    let org = SimOrg::start(small_org()).await.expect("org starts");
    (org, tempfile::tempdir().expect("temp dir"))
}

fn config_for(org: &SimOrg, dir: &Path, extra: &str) -> String {
    sim_config(org, dir, &org.pairs(), extra).0
}

#[tokio::test(flavor = "multi_thread")]
async fn sweep_exits_3_when_a_target_fails() {
    let (org, dir) = org_and_dir().await;
    let (user, client) = org.pairs()[0].clone();
    org.inject(Fault {
        user: Some(user.clone()),
        client: Some(client.clone()),
        kind: FaultKind::Status(500),
        times: None,
    });
    let config = config_for(&org, dir.path(), "");

    let out = run_revokd(&["--config", &config, "sweep"], &[]).await;

    let text = all_output(&out);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(
        text.contains(&format!("target {user}:{client} failed")),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sweep_exits_0_when_everything_worked() {
    let (org, dir) = org_and_dir().await;
    let config = config_for(&org, dir.path(), "");

    let out = run_revokd(&["--config", &config, "sweep", "--dry-run"], &[]).await;

    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tripped_guard_exits_3_says_why_and_revokes_nothing() {
    let limits = [
        (
            "max_revocations_per_sweep = 1",
            "safety.max_revocations_per_sweep = 1",
        ),
        (
            "max_revocation_fraction = 0.01",
            "safety.max_revocation_fraction = 0.01",
        ),
    ];
    for (limit, reason) in limits {
        let (org, dir) = org_and_dir().await;
        let extra = format!("[safety]\n{limit}\n{ADMIN_POLICY}");
        let config = config_for(&org, dir.path(), &extra);

        let out = run_revokd(&["--config", &config, "sweep", "--enforce"], &[]).await;

        let text = all_output(&out);
        assert_eq!(out.status.code(), Some(3), "{text}");
        assert!(text.contains("SAFETY GUARD TRIPPED"), "{text}");
        assert!(text.contains(reason), "{text}");
        assert!(org.revoked().is_empty());
    }
}

/// Runs `revokd config check` on `toml` and returns the exit code and stderr.
async fn config_check(toml: &str) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("revokd.toml");
    std::fs::write(&path, toml).expect("written");
    let out = run_revokd(
        &["--config", &path.display().to_string(), "config", "check"],
        &[],
    )
    .await;
    (out.status.code(), all_output(&out))
}

const VALID: &str =
    "[okta]\norg_url = \"https://example.okta.com\"\napi_token = \"00VALIDtoken\"\n";

#[tokio::test]
async fn config_mistakes_exit_78_and_name_the_key() {
    let cases = [
        (format!("{VALID}bogus = 1\n"), "okta.bogus"),
        (
            format!("{VALID}[schedule]\nsweep = \"* * *\"\n"),
            "schedule.sweep",
        ),
        (format!("{VALID}timeout = \"soon\"\n"), "okta.timeout"),
        (
            "[okta]\norg_url = \"http://example.com\"\napi_token = \"t\"\n".to_owned(),
            "okta.org_url",
        ),
        (
            "[okta]\norg_url = \"https://example.okta.com\"\n".to_owned(),
            "okta.api_token",
        ),
        (
            format!("{VALID}[[targets]]\nuser = \"john.doe\"\nclient = \"0oa1\"\n"),
            "targets[0].user",
        ),
        (
            format!("{VALID}[[exemptions]]\nusers = [\"00u1 \"]\n"),
            "exemptions[0].users[0]",
        ),
    ];
    for (toml, key) in cases {
        let (code, text) = config_check(&toml).await;
        assert_eq!(code, Some(78), "{toml}\n{text}");
        assert!(text.contains(key), "`{key}` not named for\n{toml}\n{text}");
    }
}

#[tokio::test]
async fn config_check_accepts_a_valid_file_and_redacts_the_token() {
    let (code, text) = config_check(VALID).await;
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("[redacted]"), "{text}");
    assert!(!text.contains("00VALIDtoken"), "{text}");
    // No targets: fine for reports and offboarding, refused by `run` and `sweep`, so said.
    assert!(
        text.contains("no targets: revokd sweep without --target refuses this configuration"),
        "{text}"
    );
    let targets = "[[targets]]\nuser = \"00u1\"\nclient = \"0oa1\"\n\
                   [[targets]]\napps = [\"0oa2\", \"0oa3\"]\n[[targets]]\nuser = \"00u4\"\n";
    let (code, text) = config_check(&format!("{VALID}{targets}")).await;
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("configuration OK: 1 target pair(s), 2 app(s), 1 user(s), "),
        "{text}"
    );
    assert!(!text.contains("no targets"), "{text}");
    assert!(!text.contains("does not use it"), "{text}");
    // Settings the chosen okta.auth ignores are named, the file still valid.
    let oauth_keys = "client_id = \"0oa9\"\ndpop = true\n";
    let (code, text) = config_check(&VALID.replacen("\n", &format!("\n{oauth_keys}"), 1)).await;
    assert_eq!(code, Some(0), "{text}");
    for key in ["okta.client_id", "okta.dpop"] {
        let said = format!("warning: {key} is set, but okta.auth = \"ssws\" does not use it");
        assert!(text.contains(&said), "{text}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn audit_verify_passes_an_intact_chain_and_names_a_tampered_record() {
    let app = spawn_app_with(small_org(), |c| c.policies = vec![admin_policy()]).await;
    app.sweep(Mode::Enforce).await;
    let rows = app.store.revocations().await.expect("rows");
    assert!(rows.len() >= 4, "the sweep left an audit trail");
    app.store.close().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let config = write_config(
        dir.path(),
        "https://example.okta.com",
        "api_token = \"t\"",
        &app.db_path,
        &[],
        "",
    );
    let args = [
        "--config",
        config.to_str().expect("utf-8"),
        "audit",
        "verify",
    ];
    let verify = || run_revokd(&args, &[]);

    let out = verify().await;
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    assert!(all_output(&out).contains("intact"));

    let victim = rows[2].id;
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", app.db_path.display()))
        .await
        .expect("raw pool");
    for sql in [
        "DROP TRIGGER revocations_are_append_only_update",
        "DROP TRIGGER revocations_are_append_only_delete",
    ] {
        sqlx::query(sql).execute(&pool).await.expect(sql);
    }
    sqlx::query("UPDATE revocations SET reason = 'nothing to see here' WHERE id = ?")
        .bind(victim)
        .execute(&pool)
        .await
        .expect("tampered");
    pool.close().await;

    let out = verify().await;
    let text = all_output(&out);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(text.contains(&format!("record {victim}")), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_closed_stdout_pipe_ends_config_check_sweep_and_offboard_quietly_with_0() {
    let (org, dir) = org_and_dir().await;
    let config = config_for(&org, dir.path(), ADMIN_POLICY);
    let (user, _) = org.pairs()[0].clone();
    let commands: [&[&str]; 3] = [
        &["config", "check"],
        &["sweep", "--dry-run"],
        &["offboard", "--user", &user, "--dry-run"],
    ];
    for command in commands {
        let mut args = vec!["--config", config.as_str()];
        args.extend_from_slice(command);
        assert_quiet_on_a_closed_stdout(&args, &[]).await;
    }
    assert!(org.revoked().is_empty(), "dry runs revoke nothing");
}

#[tokio::test]
async fn db_migrate_creates_a_fresh_database() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("fresh.db");
    let config = write_config(
        dir.path(),
        "https://example.okta.com",
        "api_token = \"t\"",
        &db,
        &[],
        "",
    );

    let out = run_revokd(
        &["--config", &config.display().to_string(), "db", "migrate"],
        &[],
    )
    .await;

    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    assert!(db.exists());
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .expect("opens");
    let tables: Vec<String> =
        // `token_snapshots` is a view over `token_history`; both read alike.
        sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') ORDER BY name",
        )
            .fetch_all(&pool)
            .await
            .expect("tables");
    for table in [
        "revocations",
        "sweeps",
        "targets",
        "token_snapshots",
        "tokens",
    ] {
        assert!(
            tables.iter().any(|t| t == table),
            "{table} missing: {tables:?}"
        );
    }
}

#[tokio::test]
async fn command_line_mistakes_exit_64_and_help_and_version_exit_0() {
    let window = ["--since", "2026-10-01", "--until"];
    let mistakes: [&[&str]; 16] = [
        &["--bogus"],
        &[
            "report",
            "revocations",
            window[0],
            window[1],
            window[2],
            "2026-09-01",
        ],
        &[
            "report",
            "sweeps",
            window[0],
            window[1],
            window[2],
            "2026-10-01",
        ],
        &["report", "inventory", "--at", "garbage"],
        &["report", "revocations", "--at", "2026-07-01"],
        &["report", "inventory", "--since", "30d"],
        &["report"],
        &["--log-format", "xml", "status"],
        &["sweep", "--dry-run", "--enforce"],
        &["sweep", "--target", "00u1-no-client"],
        &["sweep", "--target", "00u1:bad/client"],
        &["offboard", "--user", "john.doe"],
        &["offboard", "--user", "00u1", "--client", "a b"],
        &["audit", "verify", "--anchor", "not-an-anchor"],
        &["audit", "verify", "--anchor", "6454:abc"],
        &["report", "inventory", "--at", "2099-01-01"],
    ];
    for args in mistakes {
        let out = run_revokd(args, &[]).await;
        let text = all_output(&out);
        assert_eq!(out.status.code(), Some(64), "{args:?}: {text}");
        assert!(out.stdout.is_empty(), "{args:?}: {text}");
        assert!(text.contains("error:"), "{args:?}: {text}");
    }
    for args in [["--help"], ["--version"]] {
        let out = run_revokd(&args, &[]).await;
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", all_output(&out));
        assert!(!out.stdout.is_empty(), "{args:?}");
    }
    assert_quiet_on_a_closed_stdout(&["--help"], &[]).await;
}

#[tokio::test]
async fn config_check_ends_quietly_when_stdout_and_stderr_are_one_closed_pipe() {
    // `revokd config check 2>&1 | head -0`: the reader has gone before revokd writes either.
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("revokd.toml");
    std::fs::write(&path, VALID).expect("written");
    let path = path.display().to_string();
    let mut child =
        crate::helpers::spawn_with_stdout_gone(&["--config", &path, "config", "check"], &[]);
    drop(child.stderr.take());

    let status = child.wait().await.expect("revokd ends");

    assert_eq!(status.code(), Some(0), "a panic exits 101");
}
