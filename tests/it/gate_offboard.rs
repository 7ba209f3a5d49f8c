//! The revocation gate on offboarding's paths: an exempt user offboarded by CLI and by event
//! hook, the offboarding breaker, and the hook secret. Each test counts what the simulated
//! org RECEIVED (its request log), not what it kept.

use std::collections::BTreeMap;
use std::time::Duration;

use revokd::config::Mode;
use revokd::sim::{Delivery, SimOrg};
use sqlx::SqlitePool;

use crate::daemon::harness::{PATIENCE, Running, daemon_config};
use crate::gate::deletes;
use crate::helpers::{
    SIM_TOKEN, all_output, run_revokd, sim_config, small_org, spawn_app, write_config,
};

/// A user holding tokens for at least two clients.
fn user_with_tokens(org: &SimOrg) -> String {
    let mut by_user: BTreeMap<String, usize> = BTreeMap::new();
    for (u, c) in org.pairs() {
        if !org.tokens(&u, &c).is_empty() {
            *by_user.entry(u).or_default() += 1;
        }
    }
    by_user
        .into_iter()
        .find(|(_, n)| *n >= 2)
        .map(|(u, _)| u)
        .expect("a user with two clients")
}

fn tokens_of(org: &SimOrg, user: &str) -> usize {
    org.all_tokens()
        .iter()
        .filter(|t| t.user_id == user)
        .count()
}

const EXEMPT: &str = "[[exemptions]]\nname = \"break-glass\"\nusers = [\"{user}\"]\n";

#[tokio::test(flavor = "multi_thread")]
async fn an_exempt_users_cli_offboarding_sends_no_delete_and_says_which_tokens_stayed() {
    let org = SimOrg::start(small_org()).await.expect("org starts");
    let dir = tempfile::tempdir().expect("temp dir");
    let user = user_with_tokens(&org);
    let before = tokens_of(&org, &user);
    let extra = EXEMPT.replace("{user}", &user);
    let (config, db) = sim_config(&org, dir.path(), &[], &extra);

    let out = run_revokd(&["--config", &config, "offboard", "--user", &user], &[]).await;

    assert_eq!(out.status.code(), Some(3), "{}", all_output(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.matches("stayed: token").count(), before, "{stdout}");
    assert!(stdout.contains("break-glass"), "{stdout}");
    assert_eq!(deletes(&org), vec![], "no DELETE reached Okta");
    assert_eq!(tokens_of(&org, &user), before);
    let pool = SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let states: Vec<String> =
        sqlx::query_scalar("SELECT state FROM v_revocation_state WHERE user_id = ?")
            .bind(&user)
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(states.len(), before);
    assert!(states.iter().all(|s| s == "skipped_exempt"), "{states:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_exempt_users_hook_offboarding_sends_no_delete() {
    let org = SimOrg::start(small_org()).await.expect("org starts");
    let dir = tempfile::tempdir().expect("temp dir");
    let user = user_with_tokens(&org);
    let before = tokens_of(&org, &user);
    let extra = EXEMPT.replace("{user}", &user);
    let config = dir.path().join("revokd.toml");
    std::fs::write(
        &config,
        daemon_config(
            &org,
            dir.path(),
            "enforce",
            "hook_secret = \"s3cret\"",
            &extra,
        ),
    )
    .unwrap();
    let mut daemon = Running::start(&config).await;
    let event = org.emit_event("user.lifecycle.deactivate", &user);
    let url = format!("{}/hooks/okta", daemon.base);
    let statuses = org
        .deliver_hook(&url, "s3cret", &[event], Delivery::Once)
        .await
        .unwrap();
    assert_eq!(statuses, vec![200]);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let state = loop {
        let state: Option<String> = sqlx::query_scalar("SELECT state FROM offboarding_jobs")
            .fetch_optional(&daemon.pool)
            .await
            .unwrap();
        if let Some(s) = state.filter(|s| s != "queued" && s != "running") {
            break s;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the job did not finish"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(state, "done", "an exemption is not a failure of the job");
    assert_eq!(deletes(&org), vec![], "no DELETE reached Okta");
    assert_eq!(tokens_of(&org, &user), before);
    daemon.signal("TERM").await;
    assert_eq!(daemon.wait_exit(PATIENCE).await.code(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_burst_of_sixty_deactivations_runs_fifty_and_holds_ten_until_released() {
    let org = SimOrg::start(small_org()).await.expect("org starts");
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("revokd.toml");
    std::fs::write(
        &config,
        daemon_config(&org, dir.path(), "enforce", "hook_secret = \"s3cret\"", ""),
    )
    .unwrap();
    let mut daemon = Running::start(&config).await;
    let events: Vec<_> = (0..60)
        .map(|i| org.emit_event("user.lifecycle.deactivate", &format!("00uburst{i:04}")))
        .collect();
    let url = format!("{}/hooks/okta", daemon.base);
    assert_eq!(
        org.deliver_hook(&url, "s3cret", &events, Delivery::Once)
            .await
            .unwrap(),
        vec![200]
    );

    let deadline = tokio::time::Instant::now() + PATIENCE;
    let by_state = loop {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT state, COUNT(*) FROM offboarding_jobs GROUP BY state ORDER BY state",
        )
        .fetch_all(&daemon.pool)
        .await
        .unwrap();
        if rows.iter().map(|(_, n)| n).sum::<i64>() == 60
            && rows.iter().all(|(s, _)| s == "done" || s == "held")
        {
            break rows;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "jobs did not settle: {rows:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        by_state,
        vec![("done".to_owned(), 50), ("held".to_owned(), 10)]
    );
    let (_, metrics) = daemon.get("/metrics").await;
    assert!(
        metrics.contains("revokd_offboarding_jobs{state=\"held\"} 10"),
        "{metrics}"
    );
    let alerts: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM notify_outbox WHERE kind = 'offboarding_held'")
            .fetch_one(&daemon.pool)
            .await
            .unwrap();
    assert_eq!(alerts, 10, "each held job is alerted once");

    let config_arg = config.to_string_lossy().into_owned();
    let out = run_revokd(
        &["--config", &config_arg, "offboard", "release", "--all"],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("10 job(s) released"));
    let released: (i64, i64) =
        sqlx::query_as("SELECT COUNT(released_at), SUM(state = 'held') FROM offboarding_jobs")
            .fetch_one(&daemon.pool)
            .await
            .unwrap();
    assert_eq!(released, (10, 0), "(released, still held)");
    // A job released already, and one that does not exist, are each named for what they are.
    let args = [
        "--config",
        &config_arg,
        "offboard",
        "release",
        "--job",
        "1",
        "--job",
        "999",
    ];
    let out = run_revokd(&args, &[]).await;
    let text = all_output(&out);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(
        text.contains("offboarding job 1 is not held (it is "),
        "{text}"
    );
    assert!(text.contains("there is no offboarding job 999"), "{text}");
    daemon.signal("TERM").await;
    assert_eq!(daemon.wait_exit(PATIENCE).await.code(), Some(0));
}

#[tokio::test]
async fn an_empty_or_blank_hook_secret_is_a_configuration_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("revokd.db");
    for secret in ["", "   "] {
        let extra = format!("[server]\nhook_secret = \"{secret}\"\n");
        let config = write_config(
            dir.path(),
            "https://example.okta.com",
            &format!("api_token = \"{SIM_TOKEN}\""),
            &db,
            &[],
            &extra,
        );
        let config = config.to_string_lossy().into_owned();
        let out = run_revokd(&["--config", &config, "config", "check"], &[]).await;
        assert_eq!(
            out.status.code(),
            Some(78),
            "{secret:?}: {}",
            all_output(&out)
        );
        assert!(
            all_output(&out).contains("server.hook_secret"),
            "{}",
            all_output(&out)
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_offboarding_job_that_waits_for_the_enforcer_lease_loses_no_attempt() {
    let org = SimOrg::start(small_org()).await.expect("org starts");
    let dir = tempfile::tempdir().expect("temp dir");
    let user = user_with_tokens(&org);
    // One attempt only: a wait for the lease counted as one would fail the job for good.
    let extra = "[safety]\nenforcer_wait = \"1s\"\n[offboarding]\nmax_attempts = 1\n";
    let config = dir.path().join("revokd.toml");
    let text = daemon_config(
        &org,
        dir.path(),
        "enforce",
        "hook_secret = \"s3cret\"",
        extra,
    );
    std::fs::write(&config, text).unwrap();
    let mut daemon = Running::start(&config).await;
    // Another enforcer (here: this test) holds the lease.
    let store = revokd::store::Store::from_pool(daemon.pool.clone())
        .await
        .unwrap();
    let other = revokd::gate::Lease::new(store, Duration::ZERO);
    let held = other.hold("a manual enforce sweep").await.unwrap();

    let event = org.emit_event("user.lifecycle.deactivate", &user);
    let url = format!("{}/hooks/okta", daemon.base);
    let statuses = org
        .deliver_hook(&url, "s3cret", &[event], Delivery::Once)
        .await
        .unwrap();
    assert_eq!(statuses, vec![200]);
    daemon
        .wait_for_log("offboarding job waits for the enforcer lease")
        .await;
    assert_eq!(deletes(&org), vec![], "nothing sent without the lease");
    held.release().await;

    let deadline = tokio::time::Instant::now() + PATIENCE;
    let (state, attempts) = loop {
        let row: (String, i64) = sqlx::query_as("SELECT state, attempts FROM offboarding_jobs")
            .fetch_one(&daemon.pool)
            .await
            .unwrap();
        if row.0 != "queued" && row.0 != "running" {
            break row;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the job did not end"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!((state.as_str(), attempts), ("done", 1));
    assert_eq!(tokens_of(&org, &user), 0);
    daemon.signal("TERM").await;
    assert_eq!(daemon.wait_exit(PATIENCE).await.code(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_offboarding_the_configuration_turned_dry_run_during_is_not_complete() {
    let app = spawn_app(small_org()).await;
    let user = user_with_tokens(&app.org);
    let before = tokens_of(&app.org, &user);
    // A reload to dry-run while the job runs: the gate the job shares keeps every token.
    app.deps.gate.put_mode_in_force(Mode::DryRun);

    let (job_id, report) = app.offboard(&user).await;

    assert!(!report.succeeded(), "{report:?}");
    let error = report.error().expect("why it is not complete");
    assert!(
        error.contains("not revoked") && error.contains("dry-run"),
        "{error}"
    );
    assert_eq!(deletes(&app.org), vec![], "no DELETE reached Okta");
    assert_eq!(tokens_of(&app.org, &user), before);
    let (failed, targets): (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*) FILTER (WHERE last_result = 'failed'), COUNT(*) FROM targets
         WHERE user_id = ?",
    )
    .bind(&user)
    .fetch_one(app.store.pool())
    .await
    .unwrap();
    assert!(targets >= 2, "the user holds two clients");
    assert_eq!(failed, targets, "every pair is failed");
    // Each token the job kept is recorded, once, as not revoked and why.
    let kept: Vec<String> = sqlx::query_scalar(
        "SELECT error FROM revocations WHERE job_id = ? AND state = 'withdrawn'",
    )
    .bind(job_id)
    .fetch_all(app.store.pool())
    .await
    .unwrap();
    assert_eq!(kept.len(), before);
    assert!(kept.iter().all(|e| e.contains("dry-run now")), "{kept:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cli_offboarding_that_cannot_take_the_enforcer_lease_fails_its_job_saying_why() {
    let org = SimOrg::start(small_org()).await.expect("org starts");
    let dir = tempfile::tempdir().expect("temp dir");
    let user = user_with_tokens(&org);
    let before = tokens_of(&org, &user);
    let (config, db) = sim_config(&org, dir.path(), &[], "[safety]\nenforcer_wait = \"1s\"\n");
    // Another enforcer (here: this test) holds the lease for longer than the command waits.
    let url = format!("sqlite://{}", db.display());
    let store = revokd::store::Store::connect(&url).await.unwrap();
    let other = revokd::gate::Lease::new(store.clone(), Duration::ZERO);
    let held = other.hold("a manual enforce sweep").await.unwrap();

    let env = [("REVOKD_MODE", "enforce")];
    let out = run_revokd(&["--config", &config, "offboard", "--user", &user], &env).await;

    assert_eq!(out.status.code(), Some(1), "{}", all_output(&out));
    assert!(all_output(&out).contains("a manual enforce sweep"));
    assert_eq!(deletes(&org), vec![], "nothing sent without the lease");
    assert_eq!(tokens_of(&org, &user), before);
    let (state, error): (String, Option<String>) =
        sqlx::query_as("SELECT state, error FROM offboarding_jobs")
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert_eq!(
        state, "failed",
        "not left running for another process to guess at"
    );
    let error = error.unwrap_or_default();
    assert!(error.contains("a manual enforce sweep"), "{error}");
    held.release().await;
}
