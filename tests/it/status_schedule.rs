//! `revokd status` keeps a failing schedule in sight: an ad-hoc `revokd sweep` that finishes
//! after a failed scheduled sweep does not hide it, the next scheduled sweep that ends well
//! settles it, and a schedule that ran no sweep for over a week (its daemon retired) is not
//! judged.

use chrono::Utc;
use revokd::config::Mode;
use revokd::sim::{Fault, FaultKind};
use revokd::store::Trigger;
use revokd::sweep::{SweepPlan, run_once};

use crate::helpers::{TestApp, all_output, small_org, spawn_app};
use crate::status::{aborted_scheduled_sweep, json_of, status};

/// A scheduled sweep (as the daemon runs it) over every pair; returns its status.
async fn scheduled_sweep(app: &TestApp) -> String {
    let plan = SweepPlan {
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
