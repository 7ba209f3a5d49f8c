//! `revokd status` keeps a failing schedule in sight: an ad-hoc `revokd sweep` that finishes
//! after a failed scheduled sweep does not hide it, the next scheduled sweep that ends well
//! settles it, and a schedule that ran no sweep for over a week (its daemon retired) is not
//! judged. Given the daemon's configuration, no sweep succeeded for over twice the schedule's
//! interval needs attention, as does a notification given up in the last day.

use chrono::{TimeDelta, Utc};
use revokd::config::EventKind;
use revokd::config::Mode;
use revokd::sim::{Fault, FaultKind};
use revokd::store::{NewEvent, SweepCounts, SweepStatus, Trigger};
use revokd::sweep::{SweepPlan, run_once};

use crate::helpers::{TestApp, all_output, run_revokd, small_org, spawn_app};
use crate::status::{aborted_scheduled_sweep, json_of, status};

/// A scheduled sweep (as the daemon runs it) over every pair; returns its status.
async fn scheduled_sweep(app: &TestApp) -> String {
    let plan = SweepPlan {
        named_targets: false,
        trigger: Trigger::Schedule,
        ..app.plan(Mode::DryRun)
    };
    let report = run_once(&app.deps, &plan, Utc::now())
        .await
        .expect("the database does not fail");
    report.status.as_str().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_ad_hoc_sweep_after_a_failed_scheduled_one_does_not_hide_it() {
    let app = spawn_app(small_org()).await;
    app.org.inject(Fault::always(FaultKind::Status(500)));
    assert_eq!(scheduled_sweep(&app).await, "failed");
    app.org.clear_faults();
    assert_eq!(app.sweep(Mode::DryRun).await.status.as_str(), "ok");

    let out = status(&app, &["--format", "json"]).await;

    assert_eq!(out.status.code(), Some(3), "{}", all_output(&out));
    let json = json_of(&out);
    assert_eq!(json["last_finished_sweep_status"], "ok");
    assert_eq!(json["last_finished_scheduled_sweep_status"], "failed");
    let attention = json["attention"].to_string();
    assert!(
        attention.contains("the last finished scheduled sweep failed"),
        "{attention}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scheduled_sweep_that_ends_well_settles_the_failed_one() {
    let app = spawn_app(small_org()).await;
    app.org.inject(Fault::always(FaultKind::Status(500)));
    assert_eq!(scheduled_sweep(&app).await, "failed");
    app.org.clear_faults();
    assert_eq!(scheduled_sweep(&app).await, "ok");
    assert_eq!(app.sweep(Mode::DryRun).await.status.as_str(), "ok");

    let out = status(&app, &[]).await;

    let text = all_output(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("nothing needs attention"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_schedule_that_ran_no_sweep_for_over_a_week_is_not_judged() {
    let app = spawn_app(small_org()).await;
    // The daemon's last scheduled sweep was cut short nine days ago, and it never ran again.
    let started = Utc::now() - chrono::TimeDelta::days(9);
    aborted_scheduled_sweep(&app, started, started).await;
    assert_eq!(app.sweep(Mode::DryRun).await.status.as_str(), "ok");

    let out = status(&app, &["--format", "json"]).await;

    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    let json = json_of(&out);
    assert_eq!(json["last_finished_scheduled_sweep_status"], "aborted");
}

/// `revokd --config <hourly schedule over the app's database> status --format json`.
async fn status_with_hourly_schedule(app: &TestApp) -> std::process::Output {
    app.store.close().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("revokd.toml");
    let toml = format!(
        "[database]\nurl = \"sqlite://{}\"\n[schedule]\nsweep = \"0 0 * * * *\"\n",
        app.db_path.display()
    );
    std::fs::write(&config, toml).expect("config written");
    let config = config.display().to_string();
    run_revokd(&["--config", &config, "status", "--format", "json"], &[]).await
}

/// A scheduled sweep that started at `at` and finished a minute later with `status`.
async fn past_sweep(app: &TestApp, at: chrono::DateTime<Utc>, status: SweepStatus) {
    past_sweep_of(app, Trigger::Schedule, at, status).await;
}

/// A sweep of `trigger` that started at `at` and finished a minute later with `status`.
async fn past_sweep_of(
    app: &TestApp,
    trigger: Trigger,
    at: chrono::DateTime<Utc>,
    status: SweepStatus,
) {
    let id = app.store.begin_sweep(trigger, Mode::DryRun, at, "h:1:0");
    let id = id.await.expect("a sweep row");
    let finished = at + TimeDelta::minutes(1);
    let counts = SweepCounts::default();
    let done = app.store.finish_sweep(id, status, &counts, None, finished);
    done.await.expect("closed");
}

#[tokio::test(flavor = "multi_thread")]
async fn given_its_schedule_status_says_when_no_sweep_succeeded_for_two_intervals() {
    let app = spawn_app(small_org()).await;
    // Hourly: a good sweep three hours ago and another thirty minutes ago.
    past_sweep(&app, Utc::now() - TimeDelta::hours(3), SweepStatus::Ok).await;
    past_sweep(&app, Utc::now() - TimeDelta::minutes(30), SweepStatus::Ok).await;
    let out = status_with_hourly_schedule(&app).await;
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));

    let app = spawn_app(small_org()).await;
    past_sweep(&app, Utc::now() - TimeDelta::hours(3), SweepStatus::Ok).await;
    let out = status_with_hourly_schedule(&app).await;
    assert_eq!(out.status.code(), Some(3), "{}", all_output(&out));
    let attention = json_of(&out)["attention"].to_string();
    assert!(
        attention.contains("no sweep has succeeded since")
            && attention.contains("the sweep schedule's interval is 1h"),
        "{attention}"
    );
    // Without the configuration, the schedule is unknown and not judged.
    let out = status(&app, &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));

    // No daemon ever swept this database (a demo's, or sweeps by hand): no schedule to judge.
    let app = spawn_app(small_org()).await;
    past_sweep_of(
        &app,
        Trigger::Cli,
        Utc::now() - TimeDelta::hours(3),
        SweepStatus::Ok,
    )
    .await;
    let out = status_with_hourly_schedule(&app).await;
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));

    // Sweeps that never succeeded count from the first one.
    let app = spawn_app(small_org()).await;
    past_sweep(&app, Utc::now() - TimeDelta::hours(5), SweepStatus::Partial).await;
    let out = status_with_hourly_schedule(&app).await;
    let attention = json_of(&out)["attention"].to_string();
    assert!(attention.contains("no sweep has succeeded"), "{attention}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_notification_given_up_in_the_last_day_needs_attention() {
    let app = spawn_app(small_org()).await;
    give_up_at(&app, Utc::now() - TimeDelta::days(2)).await;
    assert_eq!(app.sweep(Mode::DryRun).await.status.as_str(), "ok");
    let out = status(&app, &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));

    let app = spawn_app(small_org()).await;
    give_up_at(&app, Utc::now() - TimeDelta::hours(2)).await;
    assert_eq!(app.sweep(Mode::DryRun).await.status.as_str(), "ok");
    let out = status(&app, &["--format", "json"]).await;
    assert_eq!(out.status.code(), Some(3), "{}", all_output(&out));
    let attention = json_of(&out)["attention"].to_string();
    assert!(
        attention.contains("1 notification delivery(ies) given up in the last day"),
        "{attention}"
    );
}

/// A notification routed to a receiver at `at` and given up at once, as when the receiver is
/// removed from the configuration.
async fn give_up_at(app: &TestApp, at: chrono::DateTime<Utc>) {
    let event = NewEvent::audit_broken(1, "edited", &at.to_rfc3339());
    assert!(app.store.enqueue_event(&event).await.expect("enqueued"));
    let kinds = [EventKind::AuditBroken];
    let receivers = [("ops", &kinds[..])];
    let routed = app.store.route_events(&receivers, at);
    assert_eq!(routed.await.expect("routed"), 1);
    let given_up = app.store.fail_unconfigured_deliveries(&[], at);
    assert_eq!(
        given_up.await.expect("given up"),
        vec![("ops".to_owned(), 1)]
    );
}
