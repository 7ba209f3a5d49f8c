//! A daemon that only offboards: with no `[[targets]]` but the event hook configured, `revokd
//! run` starts, its sweeps cover no target and end `ok`, and a delivered deactivation
//! offboards the user; with neither targets nor offboarding it has nothing to do and is
//! refused, naming `targets`.

use revokd::sim::{Delivery, SimOrg};

use crate::daemon::harness::{PATIENCE, Running, daemon_config, wait_for_sweeps, yearly};
use crate::helpers::{all_output, run_revokd, small_org};
use crate::offboard::{DEACTIVATE, SECRET, tokens_left, wait_for_jobs};

/// The daemon's configuration on `org` without its `[[targets]]`, with `server` lines.
fn without_targets(org: &SimOrg, dir: &std::path::Path, server: &str) -> std::path::PathBuf {
    let schedule = format!(
        "[schedule]\nsweep = \"{}\"\nsweep_on_start = true\n",
        yearly()
    );
    let text = daemon_config(org, dir, "enforce", server, &schedule);
    let text = &text[..text.find("[[targets]]").expect("the harness adds targets")];
    let path = dir.join("revokd.toml");
    std::fs::write(&path, text).expect("config written");
    path
}

#[tokio::test(flavor = "multi_thread")]
async fn a_daemon_without_targets_offboards_through_the_event_hook() {
    let org = SimOrg::start(small_org()).await.expect("org starts");
    let dir = tempfile::tempdir().expect("temp dir");
    let user = org.all_tokens()[0].user_id.clone();
    let config = without_targets(&org, dir.path(), &format!("hook_secret = \"{SECRET}\""));
    let mut daemon = Running::start(&config).await;

    let rows = wait_for_sweeps(&daemon.pool, "the start-up sweep", |r| {
        r.iter().any(|s| s.finished_at.is_some())
    })
    .await;
    assert_eq!(rows[0].status, "ok", "{rows:?}");
    let listed: i64 = sqlx::query_scalar("SELECT targets_total FROM sweeps")
        .fetch_one(&daemon.pool)
        .await
        .expect("the sweep's count");
    assert_eq!(listed, 0);

    let url = format!("{}/hooks/okta", daemon.base);
    let events = [org.emit_event(DEACTIVATE, &user)];
    let delivered = org.deliver_hook(&url, SECRET, &events, Delivery::Once);
    assert_eq!(delivered.await.expect("delivered"), vec![200]);
    wait_for_jobs(&daemon.pool, "the job done", |r| {
        r.iter().any(|j| j.2 == "done")
    })
    .await;
    assert_eq!(tokens_left(&org, &user), 0);
    daemon.signal("TERM").await;
    assert_eq!(daemon.wait_exit(PATIENCE).await.code(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_daemon_with_neither_targets_nor_offboarding_is_refused_naming_targets() {
    let org = SimOrg::start(small_org()).await.expect("org starts");
    let dir = tempfile::tempdir().expect("temp dir");
    let config = without_targets(&org, dir.path(), "");
    let out = run_revokd(&["--config", config.to_str().expect("utf-8"), "run"], &[]).await;
    let text = all_output(&out);
    assert_eq!(out.status.code(), Some(78), "{text}");
    assert!(
        text.contains("targets") && text.contains("no targets and no offboarding"),
        "{text}"
    );
}
