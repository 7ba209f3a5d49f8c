//! `revokd run`, the real binary against the simulated org: scheduled sweeps that never
//! overlap, `/metrics` in Prometheus text agreeing with the database, `/readyz`, SIGTERM
//! during a sweep (in `daemon/shutdown.rs`), SIGHUP reloads, a busy listen port, and the
//! metrics the alerting files use; the database it opens, and keeps across reloads (in
//! `daemon/database.rs`); offboarding jobs no process carries out (in `daemon/stranded.rs`).

mod alerting;
mod database;
pub mod harness;
pub mod prom;
mod reload;
mod shutdown;
mod stranded;

use std::path::Path;
use std::time::Duration;

use revokd::sim::{Fault, FaultKind, SimOrg};
use tempfile::TempDir;

use crate::helpers::{all_output, run_revokd, small_org};
use harness::{PATIENCE, Running, Sweep, daemon_config, db_path, message, wait_for_sweeps, yearly};

const ADMIN_POLICY: &str =
    "[[policies]]\nname = \"old-admin\"\nolder_than = \"180d\"\nscopes_any = [\"admin:write\"]\n";

async fn setup() -> (SimOrg, TempDir) {
    let org = SimOrg::start(small_org()).await.expect("org starts");
    (org, tempfile::tempdir().expect("temp dir"))
}

fn write(dir: &Path, text: &str) -> std::path::PathBuf {
    let path = dir.join("revokd.toml");
    std::fs::write(&path, text).expect("config written");
    path
}

/// `revokd run` on `org` in `mode`, its sweep scheduled yearly and run once at start-up,
/// with `extra` (policies) after the schedule.
async fn start_sweeping_once(org: &SimOrg, dir: &Path, mode: &str, extra: &str) -> Running {
    let schedule = format!(
        "[schedule]\nsweep = \"{}\"\nsweep_on_start = true\n{extra}",
        yearly()
    );
    let config = write(dir, &daemon_config(org, dir, mode, "", &schedule));
    Running::start(&config).await
}

fn slow(org: &SimOrg, latency: Duration) {
    let (user, client) = org.pairs()[0].clone();
    org.inject(Fault {
        user: Some(user),
        client: Some(client),
        kind: FaultKind::Latency(latency),
        times: None,
    });
}

fn finished(rows: &[Sweep]) -> usize {
    rows.iter().filter(|s| s.finished_at.is_some()).count()
}

async fn stop(daemon: &mut Running) {
    daemon.signal("TERM").await;
    let status = daemon.wait_exit(PATIENCE).await;
    assert_eq!(status.code(), Some(0), "{}", daemon.dump());
}

#[tokio::test(flavor = "multi_thread")]
async fn scheduled_sweeps_run_every_second_and_a_slow_one_is_never_overlapped() {
    let (org, dir) = setup().await;
    slow(&org, Duration::from_millis(1500));
    let schedule = "[schedule]\nsweep = \"* * * * * *\"\n";
    let config = write(
        dir.path(),
        &daemon_config(&org, dir.path(), "dry-run", "", schedule),
    );
    let mut daemon = Running::start(&config).await;

    daemon.wait_for_log("this tick is skipped").await;
    let rows = wait_for_sweeps(&daemon.pool, "two finished sweeps", |r| finished(r) >= 2).await;

    for pair in rows.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        let end = a
            .finished_at
            .as_deref()
            .expect("an earlier sweep has finished");
        assert!(end <= b.started_at.as_str(), "overlap: {a:?} and {b:?}");
    }
    assert!(rows.iter().all(|s| s.mode == "dry-run"));
    let scrape = prom::parse(&daemon.get("/metrics").await.1);
    assert!(scrape.value("revokd_job_runs_skipped_total", &[("job", "sweep")]) >= 1.0);
    stop(&mut daemon).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_parse_as_prometheus_text_and_agree_with_the_database() {
    let (org, dir) = setup().await;
    let mut daemon = start_sweeping_once(&org, dir.path(), "enforce", ADMIN_POLICY).await;
    let finished_line = daemon.wait_for_log("sweep finished").await;
    daemon.wait_for_log("job run ended").await;
    wait_for_sweeps(&daemon.pool, "the start-up sweep", |r| finished(r) == 1).await;

    let (status, text) = daemon.get("/metrics").await;
    assert_eq!(status, 200, "{text}");
    let scrape = prom::parse(&text);
    let pool = &daemon.pool;

    let by_status: Vec<(String, i64)> =
        sqlx::query_as("SELECT status, COUNT(*) FROM sweeps GROUP BY status")
            .fetch_all(pool)
            .await
            .unwrap();
    assert_eq!(by_status, vec![("ok".to_owned(), 1)]);
    for (status, n) in &by_status {
        assert_eq!(
            scrape.value("revokd_sweeps_total", &[("status", status)]),
            *n as f64
        );
    }
    assert_eq!(scrape.sum("revokd_sweeps_total"), 1.0);
    let by_state: Vec<(String, i64)> =
        sqlx::query_as("SELECT state, COUNT(*) FROM v_revocation_state GROUP BY state")
            .fetch_all(pool)
            .await
            .unwrap();
    assert!(
        by_state.iter().any(|(s, n)| s == "done" && *n > 0),
        "{by_state:?}"
    );
    for (state, n) in &by_state {
        assert_eq!(
            scrape.value("revokd_revocations", &[("state", state)]),
            *n as f64
        );
    }
    let all: i64 = by_state.iter().map(|(_, n)| n).sum();
    assert_eq!(scrape.sum("revokd_revocations"), all as f64);
    assert_eq!(
        scrape.value("revokd_revocations", &[("state", "pending")]),
        0.0
    );
    assert_eq!(
        scrape.value("revokd_revocations", &[("state", "irrevocable")]),
        0.0
    );
    let active: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM v_active_tokens")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(scrape.value("revokd_active_tokens", &[]), active as f64);
    // The daemon reads its database gauges again only after a commit; one made by another
    // process (this test's) shows at the next scrape.
    assert!(active > 0, "the org keeps tokens no policy revokes");
    sqlx::query(
        "UPDATE tokens SET gone_at = '2026-12-01T00:00:00.000Z'
         WHERE token_id = (SELECT token_id FROM v_active_tokens ORDER BY token_id LIMIT 1)",
    )
    .execute(pool)
    .await
    .unwrap();
    let rescrape = prom::parse(&daemon.get("/metrics").await.1);
    assert_eq!(
        rescrape.value("revokd_active_tokens", &[]),
        (active - 1) as f64
    );
    let requests: i64 = sqlx::query_scalar("SELECT SUM(http_requests) FROM sweeps")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(scrape.sum("revokd_okta_requests_total"), requests as f64);
    assert!(scrape.find("revokd_okta_rate_limit_remaining", &[]).count() > 0);
    assert_eq!(
        scrape.value("revokd_sweep_duration_seconds_count", &[]),
        1.0
    );
    assert_eq!(scrape.types["revokd_sweep_duration_seconds"], "histogram");
    assert!(scrape.value("revokd_last_successful_sweep_timestamp_seconds", &[]) > 0.0);
    assert!(
        scrape.value(
            "revokd_policy_revocations",
            &[("policy", "old-admin"), ("state", "done")]
        ) > 0.0
    );

    assert_eq!(daemon.get("/healthz").await.0, 200);
    let (ready, body) = daemon.get("/readyz").await;
    assert_eq!((ready, body.contains("\"ready\"")), (200, true), "{body}");

    // JSON log lines carry the fields of the spans they were logged in.
    let spans = finished_line["spans"].as_array().expect("a span list");
    assert!(
        spans
            .iter()
            .any(|s| s["name"] == "job" && s["job"] == "sweep"),
        "{finished_line}"
    );
    assert!(
        spans
            .iter()
            .any(|s| s["name"] == "revocation_run" && s["run_id"].is_number())
    );
    stop(&mut daemon).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_last_sweep_shows_in_metrics_while_readyz_answers_for_the_process() {
    let (org, dir) = setup().await;
    org.inject(Fault::always(FaultKind::Status(500)));
    let schedule = format!(
        "[schedule]\nsweep = \"{}\"\nsweep_on_start = true\n",
        yearly()
    );
    let config = write(
        dir.path(),
        &daemon_config(&org, dir.path(), "dry-run", "", &schedule),
    );
    let mut daemon = Running::start(&config).await;
    wait_for_sweeps(&daemon.pool, "a failed sweep", |r| {
        r.iter().any(|s| s.status == "failed")
    })
    .await;

    let (status, body) = daemon.get("/readyz").await;
    assert_eq!(status, 200, "{body}");
    let scrape = prom::parse(&daemon.get("/metrics").await.1);
    assert_eq!(
        scrape.value("revokd_last_sweep_status", &[("status", "failed")]),
        1.0
    );
    assert_eq!(
        scrape.value("revokd_last_sweep_status", &[("status", "ok")]),
        0.0
    );
    assert_eq!(daemon.get("/healthz").await.0, 200);
    stop(&mut daemon).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sighup_applies_a_valid_config_and_keeps_the_old_one_when_the_new_is_invalid() {
    let (org, dir) = setup().await;
    let schedule = "[schedule]\nsweep = \"* * * * * *\"\n";
    let config = write(
        dir.path(),
        &daemon_config(&org, dir.path(), "dry-run", "", schedule),
    );
    let mut daemon = Running::start(&config).await;
    wait_for_sweeps(&daemon.pool, "a dry-run sweep", |r| finished(r) >= 1).await;

    write(
        dir.path(),
        &daemon_config(&org, dir.path(), "enforce", "", schedule),
    );
    daemon.signal("HUP").await;
    daemon.wait_for_log("configuration reloaded").await;
    let rows = wait_for_sweeps(&daemon.pool, "an enforce sweep", |r| {
        r.iter()
            .any(|s| s.mode == "enforce" && s.finished_at.is_some())
    })
    .await;
    let first_enforce = rows.iter().position(|s| s.mode == "enforce").expect("one");
    assert!(
        rows[first_enforce..].iter().all(|s| s.mode == "enforce"),
        "{rows:?}"
    );

    std::fs::write(&config, "bogus = 1\n").expect("written");
    daemon.signal("HUP").await;
    let failed = daemon.wait_for_log("configuration reload failed").await;
    assert!(failed.to_string().contains("bogus"), "{failed}");
    let last = harness::sweeps(&daemon.pool)
        .await
        .last()
        .map_or(0, |s| s.id);
    let rows = wait_for_sweeps(&daemon.pool, "a sweep after the failed reload", |r| {
        r.iter().any(|s| s.id > last && s.finished_at.is_some())
    })
    .await;
    assert!(
        rows.iter()
            .filter(|s| s.id > last)
            .all(|s| s.mode == "enforce"),
        "{rows:?}"
    );
    assert!(
        !daemon
            .seen
            .iter()
            .any(|l| message(l).contains("revokd stopped"))
    );
    stop(&mut daemon).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_busy_listen_port_is_a_clear_error_and_a_nonzero_exit() {
    let (org, dir) = setup().await;
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr");
    let text = daemon_config(&org, dir.path(), "dry-run", "", "")
        .replace("listen = \"127.0.0.1:0\"", &format!("listen = \"{addr}\""));
    let config = write(dir.path(), &text);

    let out = tokio::time::timeout(
        PATIENCE,
        run_revokd(&["--config", config.to_str().expect("utf-8"), "run"], &[]),
    )
    .await
    .expect("revokd exits");

    let text = all_output(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains(&format!("cannot listen on {addr} (server.listen)")),
        "{text}"
    );
    assert!(
        !db_path(dir.path()).exists(),
        "nothing was set up before the bind failed"
    );
}
