//! Commands that only read or maintain the database (`report`, `status`, `audit verify`,
//! `db migrate`) run with nothing but a database: no Okta settings, no configuration file,
//! the database named by `--db` (a URL or a bare path) or `REVOKD_DATABASE__URL`.

use revokd::config::Mode;

use crate::helpers::{
    admin_policy, all_output, assert_quiet_on_a_closed_stdout, run_revokd, small_org,
    spawn_app_with,
};

/// A database left by one enforce sweep of a small org, and its path.
async fn swept_database() -> (crate::helpers::TestApp, String) {
    let app = spawn_app_with(small_org(), |c| c.policies = vec![admin_policy()]).await;
    app.sweep(Mode::Enforce).await;
    app.store.close().await;
    let path = app.db_path.display().to_string();
    (app, path)
}

#[tokio::test(flavor = "multi_thread")]
async fn database_commands_need_no_okta_settings_given_db_as_a_path_or_a_url() {
    let (_app, path) = swept_database().await;
    let url = format!("sqlite://{path}");
    let runs: [&[&str]; 5] = [
        &["--db", &path, "report", "inventory"],
        &["--db", &url, "report", "sweeps", "--format", "json"],
        &["--db", &path, "audit", "verify"],
        &["audit", "verify", "--db", &url],
        &["--db", &path, "db", "migrate"],
    ];
    for args in runs {
        let out = run_revokd(args, &[]).await;
        let text = all_output(&out);
        assert_eq!(out.status.code(), Some(0), "{args:?}\n{text}");
        assert!(!text.contains("okta.org_url"), "{args:?}\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_database_url_from_the_environment_is_enough_for_a_report() {
    let (_app, path) = swept_database().await;
    let url = format!("sqlite://{path}");

    let out = run_revokd(
        &["report", "inventory", "--format", "csv"],
        &[("REVOKD_DATABASE__URL", &url)],
    )
    .await;

    let text = all_output(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.starts_with("user_id,client_id,token_id"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn db_overrides_the_configured_database() {
    let (_app, path) = swept_database().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("revokd.toml");
    std::fs::write(
        &config,
        format!(
            "[database]\nurl = \"sqlite://{}\"\n",
            dir.path().join("absent.db").display()
        ),
    )
    .expect("config written");
    let config = config.display().to_string();

    let without = run_revokd(&["--config", &config, "audit", "verify"], &[]).await;
    let with = run_revokd(
        &["--config", &config, "--db", &path, "audit", "verify"],
        &[],
    )
    .await;

    let text = all_output(&without);
    assert_eq!(without.status.code(), Some(1), "{text}");
    assert!(text.contains("absent.db does not exist (fix"), "{text}");
    assert!(!text.contains("  "), "no runs of spaces: {text}");
    assert_eq!(with.status.code(), Some(0), "{}", all_output(&with));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sweep_still_needs_the_okta_settings() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("revokd.db").display().to_string();

    let out = run_revokd(&["--db", &db, "sweep"], &[]).await;

    let text = all_output(&out);
    assert_eq!(out.status.code(), Some(78), "{text}");
    assert!(text.contains("okta.org_url"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_closed_stdout_pipe_ends_every_database_command_quietly_with_0() {
    let (_app, path) = swept_database().await;
    let commands: [&[&str]; 5] = [
        &["report", "inventory"],
        &["status"],
        &["audit", "verify"],
        &["offboard", "release", "--all"],
        &["db", "migrate"],
    ];
    for command in commands {
        let mut args = vec!["--db", path.as_str()];
        args.extend_from_slice(command);
        assert_quiet_on_a_closed_stdout(&args, &[]).await;
    }
}
