//! Alerting as code against the real daemon: every metric name that
//! `contrib/prometheus/revokd.rules.yml` and `contrib/grafana/revokd.json` use is one that
//! `/metrics` exposes, scraped from `revokd run` after an enforce sweep; and the gauges the
//! alerts read carry the values the database and the schedule give.

use std::collections::BTreeSet;
use std::path::Path;

use super::harness::wait_for_sweeps;
use super::{ADMIN_POLICY, finished, prom, setup, start_sweeping_once, stop};

/// Every `revokd_…` name in `text`.
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("revokd_") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        let before = rest[..i].chars().next_back();
        if !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            names.insert(tail[..end].to_owned());
        }
        rest = &tail[end..];
    }
    names
}

#[test]
fn the_name_scanner_finds_whole_names_only() {
    let names = metric_names("rate(revokd_a_total[5m]) / x_revokd_b + revokd_c{job=\"revokd\"}");
    assert_eq!(
        names,
        BTreeSet::from(["revokd_a_total".into(), "revokd_c".into()])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_metric_the_alert_rules_and_the_dashboard_use_is_exposed() {
    let (org, dir) = setup().await;
    let mut daemon = start_sweeping_once(&org, dir.path(), "enforce", ADMIN_POLICY).await;
    daemon.wait_for_log("sweep finished").await;
    daemon.wait_for_log("job run ended").await;
    wait_for_sweeps(&daemon.pool, "the start-up sweep", |r| finished(r) == 1).await;
    let (status, text) = daemon.get("/metrics").await;
    assert_eq!(status, 200, "{text}");
    let scrape = prom::parse(&text);
    let exposed: BTreeSet<&str> = scrape
        .samples
        .iter()
        .map(|s| s.name.as_str())
        .chain(scrape.types.keys().map(String::as_str))
        .collect();

    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib");
    for file in ["prometheus/revokd.rules.yml", "grafana/revokd.json"] {
        let used = metric_names(&std::fs::read_to_string(root.join(file)).expect(file));
        assert!(used.len() >= 8, "{file} names few metrics: {used:?}");
        let missing: Vec<&String> = used
            .iter()
            .filter(|n| !exposed.contains(n.as_str()))
            .collect();
        assert!(
            missing.is_empty(),
            "{file} uses metrics /metrics lacks: {missing:?}"
        );
    }

    // The values the alerts read.
    assert_eq!(scrape.value("revokd_audit_chain_valid", &[]), 1.0);
    assert_eq!(
        scrape.value("revokd_notification_last_given_up_timestamp_seconds", &[]),
        0.0,
        "no delivery given up"
    );
    let records: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM revocations")
        .fetch_one(&daemon.pool)
        .await
        .unwrap();
    assert!(records > 0);
    assert_eq!(
        scrape.value("revokd_audit_chain_records", &[]),
        records as f64
    );
    assert_eq!(
        scrape.value("revokd_last_sweep_status", &[("status", "ok")]),
        1.0
    );
    assert_eq!(
        scrape.value("revokd_last_sweep_status", &[("status", "failed")]),
        0.0
    );
    // A yearly schedule: its longest gap over the coming runs is a leap year.
    assert_eq!(
        scrape.value("revokd_sweep_schedule_interval_seconds", &[]),
        366.0 * 86_400.0
    );
    assert_eq!(
        scrape.value("revokd_offboarding_oldest_waiting_timestamp_seconds", &[]),
        0.0,
        "no offboarding job waits"
    );
    for state in ["queued", "running", "held", "done", "failed"] {
        assert_eq!(
            scrape.value("revokd_offboarding_jobs", &[("state", state)]),
            0.0
        );
    }
    let limits: Vec<f64> = scrape
        .find("revokd_okta_rate_limit_limit", &[])
        .map(|s| s.value)
        .collect();
    assert!(
        !limits.is_empty() && limits.iter().all(|l| *l > 0.0),
        "{limits:?}"
    );
    assert!(scrape.value("revokd_start_time_seconds", &[]) > 1.7e9);
    stop(&mut daemon).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn okta_429s_are_counted_as_they_come_on_every_path_not_per_scheduled_sweep() {
    use crate::offboard::{DEACTIVATE, SECRET, hook_daemon, the_one_job_done};
    let (org, dir) = setup().await;
    let (user, client) = org.pairs()[0].clone();
    // No scheduled sweep runs: the 429s come to an offboarding job alone.
    let mut daemon = hook_daemon(&org, dir.path(), "").await;
    org.inject(revokd::sim::Fault {
        user: Some(user.clone()),
        client: Some(client),
        kind: revokd::sim::FaultKind::RateLimited {
            reset_in: std::time::Duration::from_millis(10),
        },
        times: Some(2),
    });
    let url = format!("{}/hooks/okta", daemon.base);
    let event = org.emit_event(DEACTIVATE, &user);
    let once = revokd::sim::Delivery::Once;
    let statuses = org.deliver_hook(&url, SECRET, &[event], once).await;
    assert_eq!(statuses.expect("delivered"), vec![200]);
    the_one_job_done(&daemon.pool, "event_hook").await;
    // The job's end is logged after its requests' metrics were recorded.
    daemon.wait_for_log("offboarding finished").await;

    let scrape = prom::parse(&daemon.get("/metrics").await.1);

    assert_eq!(
        scrape.value("revokd_okta_429_total", &[("kind", "rate")]),
        2.0
    );
    let sweeps: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sweeps")
        .fetch_one(&daemon.pool)
        .await
        .expect("sweeps");
    assert_eq!(sweeps, 0);
    stop(&mut daemon).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scheduled_sweep_that_ends_failed_is_counted_as_a_failed_run() {
    let (org, dir) = setup().await;
    org.inject(revokd::sim::Fault::always(revokd::sim::FaultKind::Status(
        500,
    )));
    let mut daemon = start_sweeping_once(&org, dir.path(), "dry-run", "").await;
    daemon.wait_for_log("job run ended").await;

    let scrape = prom::parse(&daemon.get("/metrics").await.1);

    let statuses: Vec<String> = sqlx::query_scalar("SELECT status FROM sweeps")
        .fetch_all(&daemon.pool)
        .await
        .expect("sweeps");
    assert_eq!(statuses, ["failed"], "every target failed");
    let sweep_runs = [("job", "sweep"), ("outcome", "failed")];
    assert_eq!(scrape.value("revokd_job_runs_total", &sweep_runs), 1.0);
    assert_eq!(
        scrape.sum("revokd_job_runs_total"),
        1.0,
        "no run counted ok"
    );
    stop(&mut daemon).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_offboarding_job_okta_keeps_failing_shows_when_it_was_enqueued() {
    use crate::offboard::{DEACTIVATE, SECRET, hook_daemon};
    let (org, dir) = setup().await;
    let (user, _) = org.pairs()[0].clone();
    let mut daemon = hook_daemon(&org, dir.path(), "").await;
    org.inject(revokd::sim::Fault::always(revokd::sim::FaultKind::Status(
        500,
    )));
    let url = format!("{}/hooks/okta", daemon.base);
    let event = org.emit_event(DEACTIVATE, &user);
    let once = revokd::sim::Delivery::Once;
    let statuses = org.deliver_hook(&url, SECRET, &[event], once).await;
    assert_eq!(statuses.expect("delivered"), vec![200]);
    daemon
        .wait_for_log("offboarding job failed; will be retried")
        .await;

    let scrape = prom::parse(&daemon.get("/metrics").await.1);

    let (state, created_at): (String, String) =
        sqlx::query_as("SELECT state, created_at FROM offboarding_jobs")
            .fetch_one(&daemon.pool)
            .await
            .expect("the job");
    assert!(["queued", "running"].contains(&state.as_str()), "{state}");
    let enqueued: chrono::DateTime<chrono::Utc> = created_at.parse().expect("a time");
    assert_eq!(
        scrape.value("revokd_offboarding_oldest_waiting_timestamp_seconds", &[]),
        enqueued.timestamp_millis() as f64 / 1000.0
    );
    assert_eq!(scrape.value("revokd_offboarding_queue_depth", &[]), 1.0);
    stop(&mut daemon).await;
}
