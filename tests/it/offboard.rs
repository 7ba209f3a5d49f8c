//! Offboarding end to end: `revokd offboard` against the simulated org, and `revokd run`
//! fed by the sim's event hook deliverer (duplicates, refusals, a crash between enqueue and
//! processing) and by the System Log catch-up when a delivery is dropped.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use revokd::sim::{Delivery, Fault, FaultKind, RouteKind, SimOrg};
use sqlx::SqlitePool;

use crate::daemon::harness::{PATIENCE, Running, daemon_config, db_path};
use crate::helpers::{all_output, run_revokd, sim_config, small_org};

pub(crate) const SECRET: &str = "hook-s3cret";
pub(crate) const DEACTIVATE: &str = "user.lifecycle.deactivate";

/// A user holding tokens for at least two clients, with those clients.
pub(crate) fn user_with_two_clients(org: &SimOrg) -> (String, Vec<String>) {
    let mut by_user: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (u, c) in org.pairs() {
        if !org.tokens(&u, &c).is_empty() {
            by_user.entry(u).or_default().push(c);
        }
    }
    by_user
        .into_iter()
        .find(|(_, clients)| clients.len() >= 2)
        .expect("the seed gives a user with two clients")
}

pub(crate) fn tokens_left(org: &SimOrg, user: &str) -> usize {
    org.all_tokens()
        .iter()
        .filter(|t| t.user_id == user)
        .count()
}

/// `(trigger, job_id, reason, state, verified)` of the latest state of every intent of `user`.
async fn audit_of(
    pool: &SqlitePool,
    user: &str,
) -> Vec<(String, Option<i64>, Option<String>, String, bool)> {
    sqlx::query_as(
        "SELECT trigger, job_id, reason, state, verified_at IS NOT NULL FROM v_revocation_state
         WHERE user_id = ? ORDER BY id",
    )
    .bind(user)
    .fetch_all(pool)
    .await
    .expect("audit rows")
}

/// `(id, source, state, attempts)` of every job.
pub(crate) async fn jobs(pool: &SqlitePool) -> Vec<(i64, String, String, i64)> {
    sqlx::query_as("SELECT id, source, state, attempts FROM offboarding_jobs ORDER BY id")
        .fetch_all(pool)
        .await
        .unwrap_or_default()
}

/// Polls `offboarding_jobs` every 50 ms until `done` holds (bounded by [`PATIENCE`]): the
/// daemon's worker causes the rows, so this waits on an event, not on time.
pub(crate) async fn wait_for_jobs(
    pool: &SqlitePool,
    what: &str,
    done: impl Fn(&[(i64, String, String, i64)]) -> bool,
) -> Vec<(i64, String, String, i64)> {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let rows = jobs(pool).await;
        if done(&rows) {
            return rows;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no {what} within {PATIENCE:?}: {rows:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits for a job `done`, asserts it is the only job, from `source`, and returns its row.
pub(crate) async fn the_one_job_done(
    pool: &SqlitePool,
    source: &str,
) -> (i64, String, String, i64) {
    let what = format!("a {source} job done");
    let rows = wait_for_jobs(pool, &what, |r| r.iter().any(|j| j.2 == "done")).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].1, source);
    rows[0].clone()
}

fn write(dir: &Path, text: &str) -> std::path::PathBuf {
    let path = dir.join("revokd.toml");
    std::fs::write(&path, text).expect("config written");
    path
}

pub(crate) async fn hook_daemon(org: &SimOrg, dir: &Path, extra: &str) -> Running {
    let server = format!("hook_secret = \"{SECRET}\"");
    let config = write(dir, &daemon_config(org, dir, "enforce", &server, extra));
    Running::start(&config).await
}

#[tokio::test(flavor = "multi_thread")]
async fn offboard_discovers_clients_the_config_did_not_list_and_verifies_them_empty() {
    let org = SimOrg::start(small_org()).await.expect("org starts");
    let dir = tempfile::tempdir().expect("temp dir");
    let (user, clients) = user_with_two_clients(&org);
    let listed = vec![(user.clone(), clients[0].clone())];
    let (config, db) = sim_config(&org, dir.path(), &listed, "");

    let out = run_revokd(
        &[
            "--config",
            &config,
            "offboard",
            "--user",
            &user,
            "--reason",
            "left the company",
        ],
        &[],
    )
    .await;

    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    assert_eq!(tokens_left(&org, &user), 0);
    let pool = SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let sources: Vec<(String, String)> = sqlx::query_as(
        "SELECT client_id, source FROM targets WHERE user_id = ? ORDER BY client_id",
    )
    .bind(&user)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(
        sources.contains(&(clients[1].clone(), "discovered".to_owned())),
        "{sources:?}"
    );
    assert!(
        sources.contains(&(clients[0].clone(), "config".to_owned())),
        "{sources:?}"
    );
    let job = jobs(&pool).await;
    assert_eq!(job.len(), 1);
    assert_eq!((job[0].1.as_str(), job[0].2.as_str()), ("cli", "done"));
    let audit = audit_of(&pool, &user).await;
    assert!(!audit.is_empty());
    for (trigger, job_id, reason, state, verified) in &audit {
        assert_eq!(trigger, "offboard");
        assert_eq!(*job_id, Some(job[0].0));
        assert_eq!(reason.as_deref(), Some("left the company"));
        assert_eq!(state, "done");
        assert!(verified);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_offboard_dry_run_records_the_plan_and_revokes_nothing() {
    let org = SimOrg::start(small_org()).await.expect("org starts");
    let dir = tempfile::tempdir().expect("temp dir");
    let (user, _) = user_with_two_clients(&org);
    let before = tokens_left(&org, &user);
    let (config, db) = sim_config(&org, dir.path(), &[], "");

    let out = run_revokd(
        &[
            "--config",
            &config,
            "offboard",
            "--user",
            &user,
            "--dry-run",
        ],
        &[],
    )
    .await;

    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    assert_eq!(tokens_left(&org, &user), before);
    assert!(org.revoked().is_empty());
    let pool = SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let audit = audit_of(&pool, &user).await;
    assert_eq!(audit.len(), before);
    assert!(audit.iter().all(|r| r.3 == "planned"));
    // A preview offboards no one: the user is not among the offboarded users of the reports.
    let offboarded: Vec<(String, String)> =
        sqlx::query_as("SELECT user_id, source FROM v_offboarded_users")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(offboarded, vec![]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_delivered_deactivate_event_leaves_the_users_tokens_gone_and_a_duplicate_makes_one_job() {
    let org = SimOrg::start(small_org()).await.expect("org starts");
    let dir = tempfile::tempdir().expect("temp dir");
    let (user, _) = user_with_two_clients(&org);
    let mut daemon = hook_daemon(&org, dir.path(), "").await;
    let event = org.emit_event(DEACTIVATE, &user);

    let url = format!("{}/hooks/okta", daemon.base);
    let statuses = org
        .deliver_hook(&url, SECRET, &[event], Delivery::Twice)
        .await
        .unwrap();

    assert_eq!(statuses, vec![200, 200]);
    let job = the_one_job_done(&daemon.pool, "event_hook").await;
    assert_eq!(tokens_left(&org, &user), 0);
    let audit = audit_of(&daemon.pool, &user).await;
    assert!(!audit.is_empty());
    assert!(audit.iter().all(|(t, j, reason, s, v)| t == "offboard"
        && *j == Some(job.0)
        && reason.as_deref().is_some_and(|r| r.contains(DEACTIVATE))
        && s == "done"
        && *v));
    let (_, metrics) = daemon.get("/metrics").await;
    assert!(
        metrics.contains("revokd_offboarding_latency_seconds_count 1"),
        "{metrics}"
    );
    daemon.signal("TERM").await;
    assert_eq!(daemon.wait_exit(PATIENCE).await.code(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_secret_and_malformed_deliveries_are_refused_without_any_okta_request() {
    let org = SimOrg::start(small_org()).await.expect("org starts");
    let dir = tempfile::tempdir().expect("temp dir");
    let (user, _) = user_with_two_clients(&org);
    let daemon = hook_daemon(&org, dir.path(), "").await;
    let url = format!("{}/hooks/okta", daemon.base);
    let event = org.emit_event(DEACTIVATE, &user);
    // No kept connections: the server may close one after refusing a body unread (413), and
    // a request sent on it then fails before reaching the server.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("client");
    let post = |auth: &'static str, body: Vec<u8>| {
        client
            .post(&url)
            .header("Authorization", auth)
            .header("Content-Type", "application/json")
            .body(body)
            .send()
    };

    let wrong = org
        .deliver_hook(&url, "not-the-secret", &[event], Delivery::Once)
        .await
        .unwrap();
    let malformed = post(SECRET, b"{\"data\": {\"events\": [".to_vec())
        .await
        .unwrap()
        .status()
        .as_u16();
    let missing = client
        .post(&url)
        .body("{}")
        .send()
        .await
        .unwrap()
        .status()
        .as_u16();
    let verify = client
        .get(&url)
        .header("X-Okta-Verification-Challenge", "abc123")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();

    assert_eq!(wrong, vec![401]);
    assert_eq!((malformed, missing), (400, 401));
    assert_eq!(verify, r#"{"verification":"abc123"}"#);
    assert!(jobs(&daemon.pool).await.is_empty());
    assert!(org.requests().is_empty(), "{:?}", org.requests());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_cut_by_a_kill_between_enqueue_and_processing_completes_after_restart() {
    let org = SimOrg::start(small_org()).await.expect("org starts");
    let dir = tempfile::tempdir().expect("temp dir");
    let (user, _) = user_with_two_clients(&org);
    org.inject(Fault {
        user: Some(user.clone()),
        client: None,
        kind: FaultKind::HangBefore(RouteKind::ListTokens),
        times: Some(1),
    });
    let mut daemon = hook_daemon(&org, dir.path(), "").await;
    let event = org.emit_event(DEACTIVATE, &user);
    let url = format!("{}/hooks/okta", daemon.base);
    assert_eq!(
        org.deliver_hook(&url, SECRET, &[event], Delivery::Once)
            .await
            .unwrap(),
        vec![200]
    );
    org.until_hung(1).await;
    daemon.signal("KILL").await;
    daemon.wait_exit(PATIENCE).await;
    assert_eq!(jobs(&daemon.pool).await[0].2, "running");
    org.clear_faults();

    let config = dir.path().join("revokd.toml");
    let restarted = Running::start(&config).await;

    let rows = wait_for_jobs(&restarted.pool, "the job done after restart", |r| {
        r.iter().any(|j| j.2 == "done")
    })
    .await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].3, 2, "attempts: {rows:?}");
    assert_eq!(tokens_left(&org, &user), 0);
    assert!(db_path(dir.path()).exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_event_whose_delivery_was_dropped_is_found_in_the_system_log_and_processed() {
    let org = SimOrg::start(small_org()).await.expect("org starts");
    let dir = tempfile::tempdir().expect("temp dir");
    let (user, _) = user_with_two_clients(&org);
    org.emit_event("user.session.start", &user);
    let event = org.emit_event(DEACTIVATE, &user);
    let extra = "[offboarding]\nsystem_log = true\npoll_interval = \"100ms\"\n";
    let daemon = hook_daemon(&org, dir.path(), extra).await;
    let url = format!("{}/hooks/okta", daemon.base);

    let sent = org
        .deliver_hook(&url, SECRET, &[event], Delivery::Drop)
        .await
        .unwrap();

    assert!(sent.is_empty());
    the_one_job_done(&daemon.pool, "system_log").await;
    assert_eq!(tokens_left(&org, &user), 0);
    // The poller keeps going: wait (bounded) for its second poll, which follows the cursor.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let polls = loop {
        let polls: Vec<_> = org
            .requests()
            .into_iter()
            .filter(|r| r.route == RouteKind::Logs)
            .collect();
        if polls.len() >= 2 {
            break polls;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no second poll: {polls:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(polls[0].path_and_query.contains("since="));
    assert!(polls[1].path_and_query.contains("after="));
}
