//! The rate-limit budget against the simulated org: with other integrations taking a quarter
//! of every bucket and `max_share` 0.5, a multi-window sweep is served no 429 and never takes a
//! window below the half it leaves to others; revokd never has more requests in flight than
//! `okta.concurrency`, counted as the org saw them arrive; and an org whose concurrency limit
//! is below revokd's makes revokd back off (AIMD) instead of hammering it.

use std::time::Duration;

use revokd::config::Mode;
use revokd::sim::SimConfig;

use crate::helpers::{small_org, spawn_app_with};

#[tokio::test]
async fn with_others_using_a_quarter_of_each_bucket_a_sweep_leaves_them_half_and_gets_no_429() {
    let sim = SimConfig {
        users: 10,
        clients: 5,
        pairs: 40,
        big_pairs: 0,
        rate_limit_per_window: 40,
        window: Duration::from_secs(1),
        ..small_org()
    };
    let app = spawn_app_with(sim, |c| c.okta.rate_limit.max_share = 0.5).await;
    app.org.set_background_load(0.25);
    let started = std::time::Instant::now();
    let report = app.sweep(Mode::DryRun).await;
    let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let stats = app.org.stats();
    assert_eq!(report.counts.targets_failed, 0);
    assert_eq!(
        (stats.rate_limited, stats.concurrency_limited),
        (0, 0),
        "{stats:?}"
    );
    let windows = app.org.windows();
    assert!(
        windows.iter().filter(|w| w.received() > 0).count() >= 3,
        "the sweep spans several windows: {windows:?}"
    );
    for w in &windows {
        assert!(
            w.background + w.received() <= w.limit / 2,
            "a window went below the half left to others: {w:?}"
        );
    }
    assert!(
        report.counts.budget_wait_ms > 0,
        "revokd waited for the next window instead"
    );
    // Held-back time is the sweep's wall time spent waiting, never more than the sweep took,
    // while the sum over requests held back together exceeds it.
    let wall = report.counts.budget_wall_ms;
    assert!(
        wall > 0 && wall <= elapsed_ms,
        "{wall} ms of {elapsed_ms} ms"
    );
    assert!(report.counts.budget_wait_ms > wall, "{:?}", report.counts);
    let row = app.store.sweep(report.sweep_id).await.unwrap().unwrap();
    assert_eq!(row.budget_wall_ms, i64::try_from(wall).unwrap());
    app.assert_pairs_stored(None).await;
}

#[tokio::test]
async fn revokd_never_has_more_requests_in_flight_than_okta_concurrency() {
    let sim = SimConfig {
        users: 10,
        clients: 5,
        pairs: 40,
        big_pairs: 0,
        latency: Duration::from_millis(20),
        rate_limit_per_window: 0,
        ..small_org()
    };
    let app = spawn_app_with(sim, |c| c.okta.concurrency = 3).await;
    let report = app.sweep(Mode::DryRun).await;
    let stats = app.org.stats();
    assert_eq!(report.counts.targets_failed, 0);
    assert_eq!(
        stats.concurrency_limited, 0,
        "the org's limit is far above 3"
    );
    assert_eq!(
        stats.peak_arrivals, 3,
        "in flight at once, as the org saw requests arrive"
    );
}

#[tokio::test]
async fn a_concurrency_limit_below_ours_lowers_what_we_keep_in_flight_and_the_sweep_completes() {
    let sim = SimConfig {
        users: 10,
        clients: 5,
        pairs: 40,
        big_pairs: 0,
        concurrency_limit: 2,
        latency: Duration::from_millis(30),
        // No time-based limit: only the concurrency limit constrains the sweep.
        rate_limit_per_window: 0,
        ..small_org()
    };
    let app = spawn_app_with(sim, |c| {
        c.okta.concurrency = 8;
        c.okta.max_retries = 10;
    })
    .await;
    let report = app.sweep(Mode::DryRun).await;
    let stats = app.org.stats();
    assert_eq!(
        report.counts.targets_failed,
        0,
        "{:?}",
        report.failures.first()
    );
    assert!(stats.concurrency_limited > 0, "the org pushed back");
    // What arrived, refused or not: never more than revokd's own limit.
    assert!(stats.peak_arrivals <= 8, "{stats:?}");
    // Eight workers against a limit of two would see most attempts refused; halving the
    // in-flight limit on each burst keeps refusals to a small share of the requests.
    let admitted = stats.requests - stats.concurrency_limited;
    assert!(
        stats.concurrency_limited < admitted,
        "refused {} of {} requests",
        stats.concurrency_limited,
        stats.requests
    );
    assert_eq!(
        report.counts.http_429_concurrency,
        stats.concurrency_limited
    );
    app.assert_pairs_stored(None).await;
}
